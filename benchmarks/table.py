"""Print a pytest-benchmark JSON file as a table with the extra_info it carries (img/s, MFU).

    pytest benchmarks/ --benchmark-only --benchmark-json=bench.json && python benchmarks/table.py bench.json
"""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def main(path: str) -> None:
    data = json.loads(open(path).read())
    table = Table(title=f"{path}: {data['machine_info'].get('cpu', {}).get('brand_raw', '')}", title_justify="left")
    for col in ("benchmark", "median ms", "img/s", "GFLOP/step", "MFU", "train precision", "loop"):
        table.add_column(col, justify="left" if col == "benchmark" else "right")
    for b in data["benchmarks"]:
        x = b.get("extra_info", {})
        name = b["name"] if "[" in b["name"] or not b.get("param") else f"{b['name']}[{b['param']}]"
        table.add_row(escape(name), f"{b['stats']['median'] * 1e3:.2f}",
                      f"{x['img_per_s']:,.0f}" if "img_per_s" in x else "-",
                      f"{x['flops_per_step'] / 1e9:.2f}" if "flops_per_step" in x else "-",
                      f"{x['mfu']:.1%}" if "mfu" in x else "-", x.get("precision", "-"), x.get("kind", "-"))
    Console(width=120).print(table)


if __name__ == "__main__":
    main(sys.argv[1])
