"""Do two runs of the same `ganzoo bench` command agree? Each setting's median speedup of one run must lie inside
the other run's min-max range over rounds, both ways, for both references.

    python benchmarks/agreement.py A.json B.json     # exit 1 when a setting disagrees
"""

from __future__ import annotations

import json
import sys

from ganzoo.tools.bench import format_spread


def disagreements(a: dict, b: dict) -> list[str]:
    rows_b = {r["setting"]: r for r in b["results"]}
    out = []
    for ra in a["results"]:
        rb = rows_b.get(ra["setting"])
        if rb is None:
            continue
        for key in ("speedup_vs_eager", "speedup_vs_tuned_eager"):
            sa, sb = ra[f"{key}_spread"], rb[f"{key}_spread"]
            ok = sb["min"] <= ra[key] <= sb["max"] and sa["min"] <= rb[key] <= sa["max"]
            line = (f"{ra['setting']:>24} {key:>24}: {format_spread(ra[key], sa['min'], sa['max'])} vs "
                    f"{format_spread(rb[key], sb['min'], sb['max'])}  {'agree' if ok else 'DISAGREE'}")
            print(line)
            if not ok:
                out.append(line)
    return out


if __name__ == "__main__":
    first, second = (json.load(open(p)) for p in sys.argv[1:3])
    bad = disagreements(first, second)
    print(f"{len(bad)} disagreement(s)")
    raise SystemExit(1 if bad else 0)
