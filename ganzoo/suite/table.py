"""A suite folder's table: one row per (model [settings], dataset), mean ± sd (and standard error) over its finished
seeds, the cost of every row, the published rows the suite names, convergence curves, and the protocol of every
number. Writes DIR/table.md and DIR/table.json (which `ganzoo report` reads: quality and modes rows as ``results``
with their convergence curves, speed as a ``ganzoo bench --all`` file)."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
from typing import Any, Optional

from ganzoo.suite.runner import FLOORS_FILE, SuiteFolder
from ganzoo.suite.spec import SuiteRun
from ganzoo.version import __version__, source_commit

QUALITY = ("fid", "kid_mean", "is_mean", "precision", "recall", "density", "coverage", "class_share_min",
           "class_share_max", "label_accuracy")
MODES = ("modes_captured", "high_quality_fraction", "reverse_kl")


def mean_sd_se(values: list[Any]) -> dict[str, Optional[float]]:
    """Mean, sample standard deviation and standard error of the finite values (None where undefined)."""
    xs = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    if not xs:
        return {"mean": None, "sd": None, "se": None, "n": 0}
    sd = statistics.stdev(xs) if len(xs) > 1 else None
    return {"mean": statistics.fmean(xs), "sd": sd, "se": sd / math.sqrt(len(xs)) if sd is not None else None,
            "n": len(xs)}


def fmt(stat: Optional[dict], digits: int = 3, scale: float = 1.0) -> str:
    """mean ± sd, the mean to `digits` significant digits and the sd to 2 ('-' where there is no value)."""
    if not stat or stat.get("mean") is None:
        return "-"
    m, sd = stat["mean"] * scale, stat.get("sd")
    text = f"{m:.0f}" if abs(m) >= 10 ** digits else f"{m:.{digits}g}"
    if sd is None:
        return text
    sd *= scale
    return text + (f" ± {sd:.0f}" if abs(sd) >= 100 else f" ± {sd:.2g}")


def _runs(saved: dict) -> list[SuiteRun]:
    return [SuiteRun.from_dict(r) for r in saved["runs"]]


def summarize(folder: SuiteFolder, wall_seconds: Optional[float] = None) -> dict[str, Any]:
    saved = folder.saved() or {"runs": []}
    kind = saved.get("kind", "quality")
    groups: dict[tuple[str, str], list[tuple[SuiteRun, list[dict]]]] = {}
    for run in _runs(saved):
        groups.setdefault((run.group, run.dataset), []).append((run, folder.lines(run)))
    rows = []
    for (group, dataset), runs in groups.items():
        done = [(r, lines) for r, lines in runs if any("done" in x for x in lines)]
        failed = {str(r.seed): next(x["failed"] for x in lines if "failed" in x)
                  for r, lines in runs if any("failed" in x for x in lines)}
        row: dict[str, Any] = {"model": runs[0][0].model, "group": group, "dataset": dataset,
                               "seeds": [r.seed for r, _ in done], "seeds_total": len(runs), "errors": failed}
        ends = [next(x for x in lines if "done" in x) for _, lines in done]
        if kind == "speed":
            row["benches"] = [e["bench"] for e in ends]
            row["bench_seconds"] = [e.get("wall_seconds") for e in ends]  # one bench at a time, on every core
        else:
            row.update(trained_in(lines for _, lines in done))
            finals = [[x for x in lines if "metrics" in x][-1] for _, lines in done]
            row["steps"] = finals[0]["step"] if finals else None
            row["train_seconds"] = mean_sd_se([e.get("train_seconds") for e in ends])
            row["core_seconds"] = sum((e.get("train_seconds") or 0) + (e.get("eval_seconds") or 0) for e in ends)
            if kind == "quality":
                for key in QUALITY:
                    row[key] = mean_sd_se([f["metrics"].get(key) for f in finals])
                shares = [f["metrics"]["class_shares"] for f in finals if f["metrics"].get("class_shares")]
                row["class_shares"] = [statistics.fmean(s) for s in zip(*shares)] if shares else []
                row["conditional"] = bool(finals and finals[0]["metrics"].get("conditional"))
                row["weights"] = finals[0]["metrics"].get("weights") if finals else None
                headline = ("metrics", "fid")
            else:
                for which in ("raw", "ema"):
                    for key in MODES:
                        row[f"{which}_{key}"] = mean_sd_se([f["metrics"].get(which, {}).get(key) for f in finals])
                headline = ("metrics", "raw", "high_quality_fraction")
            row["curve"] = _curve([lines for _, lines in done], headline)
        row["published"] = [p for p in saved.get("table", {}).get("published", [])
                            if p.get("model") == row["model"] and p.get("dataset", dataset) == dataset]
        rows.append(row)
    floors_path = folder.path / FLOORS_FILE
    return {"suite": saved.get("name"), "description": saved.get("description", ""), "kind": kind,
            "source": saved.get("source"), "evaluation": saved.get("evaluation", {}),
            "table": saved.get("table", {}), "rows": rows,
            "floors": json.loads(floors_path.read_text()) if floors_path.exists() else {},
            "commands": sorted({c for run in _runs(saved) for x in folder.lines(run) if "header" in x
                                for c in x.get("commands", [])}),
            "ganzoo": __version__, "commit": source_commit(), "machine": f"{platform.machine()} {os.cpu_count()} cores",
            "wall_seconds": wall_seconds}


def trained_in(runs) -> dict[str, Any]:
    """The precisions and machines the row's finished runs trained on (every part of a continued run), from their
    results headers: a suite's "auto" precision is bf16 on machines with bf16 units and fp32 (CPU) or fp16 (older
    GPUs) elsewhere, so this is part of every number's protocol. Runs whose results predate that record count in
    ``unrecorded``."""
    precisions, machines, unrecorded = set(), set(), 0
    for lines in runs:
        parts = next((x.get("parts") for x in lines if "header" in x), None)
        if not parts:
            unrecorded += 1
            continue
        precisions.update(p["precision"] for p in parts)
        machines.update((p["machine"], p["precision"]) for p in parts)
    return {"train_precisions": sorted(precisions), "machines": [list(m) for m in sorted(machines)],
            "unrecorded": unrecorded}


def _trained_cell(row: dict) -> str:
    """'bf16'; 'bf16, fp32' when the seeds (or the parts of one run) differ; '?' marks seeds that did not record
    it."""
    text = ", ".join(row.get("train_precisions") or [])
    return (text + (" + ?" if text else "?")) if row.get("unrecorded") else text or "-"


def _machines(summary: dict) -> list[str]:
    """One line per machine and precision the rows trained in, naming the rows (and the rows that did not record
    one)."""
    by_machine: dict[str, list[str]] = {}
    for r in summary["rows"]:
        for machine, precision in r.get("machines") or []:
            by_machine.setdefault(f"{precision} on {machine}", []).append(r["group"])
        if r.get("unrecorded"):
            by_machine.setdefault("not recorded (results written before ganzoo recorded it)", []).append(r["group"])
    if not by_machine:
        return []
    return ["", "Trained in (the precision and machine of every part of every run, from the results headers):", "",
            *[f"- {m}: {', '.join(dict.fromkeys(groups))}" for m, groups in by_machine.items()]]


def _curve(runs: list[list[dict]], path: tuple[str, ...]) -> dict[str, float]:
    """step -> mean over seeds of the headline metric at each evaluation point all seeds reached."""
    per_step: dict[int, list[float]] = {}
    for lines in runs:
        for x in lines:
            if "metrics" in x:
                value: Any = x
                for key in path:
                    value = value.get(key, {}) if isinstance(value, dict) else None
                if isinstance(value, (int, float)):
                    per_step.setdefault(int(x["step"]), []).append(float(value))
    return {str(s): statistics.fmean(v) for s, v in sorted(per_step.items()) if len(v) == len(runs)}


def _protocol(summary: dict) -> str:
    ev = summary["evaluation"]
    if summary["kind"] == "quality":
        extractors = sorted({f.get("extractor", "") for f in summary["floors"].values()}) or [ev.get(
            "feature_extractor")]
        against = (f"the {ev['reference']} images" if ev.get("reference") else "every real image of the dataset") \
            + (f" (at most {ev['max_real']}, a seeded draw)" if ev.get("max_real") else "")
        when = f"; measured every {ev['every']} steps and at the end" if ev.get("every") else ""
        return (f"Protocol: {ev['samples']} samples from the final generator (EMA when the recipe keeps one), latents "
                f"seeded with {ev['noise_seed']} + the run's seed (conditional runs: balanced labels), against "
                f"{against}; features: {'; '.join(map(str, extractors))}; KID subsets seeded with {ev['kid_seed']}; "
                f"the floor is the same metrics between two disjoint random halves of those real images{when}"
                + (f"; the train-vs-reference floor compares a draw (seeded {ev['floor_seed']}) of as many training "
                   f"images with them" if ev.get("reference") else "") + ".")
    if summary["kind"] == "modes":
        return (f"Protocol (PacGAN, Lin et al. 2018): {ev['samples']} points from the generator, latents seeded with "
                f"{ev['noise_seed']} + the run's seed; high quality = within 3 std of the nearest centre; a mode is "
                f"captured when it is the nearest centre of >= 1 high-quality point; reverse KL = KL(generated mode "
                f"histogram || uniform). Raw = the generator itself (as the paper), EMA beside it.")
    return (f"Protocol: `ganzoo bench` per model, {ev['rounds']} interleaved rounds of {ev['steps']} steps, batch "
            f"{ev['batch_size']}, samples of shape {tuple(ev['shape'])}, compile {ev['compile']}; one run at a time.")


def markdown(summary: dict) -> str:
    kind = summary["kind"]
    lines = [f"# Suite {summary['suite']}: {summary['description']}".rstrip(": "), ""]
    if summary["commands"]:
        lines.append("Made by: " + "; ".join(f"`{c}`" for c in summary["commands"]) + "  ")
    wall = summary.get("wall_seconds")
    lines += [f"ganzoo {summary['ganzoo']}" + (f", commit {summary['commit']}" if summary["commit"] else "")
              + f"; machine {summary['machine']}" + (f"; wall time of the last `suite run` {wall:.0f} s" if wall
                                                       else "") + ".", "", _protocol(summary), ""]
    if kind == "quality":
        lines += ["Mean ± sd over seeds (the standard error of FID in brackets); cost: mean training seconds per run "
                  "and the row's total core-seconds (training and measuring, one thread per run).", "",
                  "| model | dataset | seeds | steps | trained in | FID | KID | IS | precision | recall | density | "
                  "coverage | class share min–max | label acc. | train s | core-s |", "|---" * 16 + "|"]
        for dataset, floor in summary["floors"].items():
            versus = floor.get("train_vs_reference")
            for label, values in (("real vs real (floor)", floor), ("train vs reference (floor)", versus)):
                if not values:
                    continue
                f = {k: {"mean": values.get(k)} for k in QUALITY}
                lines.append(f"| **{label}** | {dataset} | - | - | - | {fmt(f['fid'])} | {fmt(f['kid_mean'])} | "
                             f"{fmt(f['is_mean'])} | {fmt(f['precision'])} | {fmt(f['recall'])} | "
                             f"{fmt(f['density'])} | {fmt(f['coverage'])} | {fmt(f['class_share_min'])} – "
                             f"{fmt(f['class_share_max'])} | - | - | - |")
        for r in summary["rows"]:
            if not r["seeds"]:
                lines.append(f"| {r['group']} | {r['dataset']} | 0/{r['seeds_total']} | - | "
                             + "- | " + (f"failed: {next(iter(r['errors'].values()))}" if r["errors"]
                                         else "not finished") + " |||||||||||")
                continue
            se = r["fid"].get("se")
            lines.append(
                f"| {r['group']}{' (cond.)' if r.get('conditional') else ''} | {r['dataset']} | "
                f"{len(r['seeds'])}/{r['seeds_total']} | {r['steps']} | {_trained_cell(r)} | {fmt(r['fid'])}"
                f"{f' ({se:.2g})' if se is not None else ''} | {fmt(r['kid_mean'])} | {fmt(r['is_mean'])} | "
                f"{fmt(r['precision'])} | {fmt(r['recall'])} | {fmt(r['density'])} | {fmt(r['coverage'])} | "
                f"{fmt(r['class_share_min'])} – {fmt(r['class_share_max'])} | {fmt(r['label_accuracy'])} | "
                f"{fmt(r['train_seconds'], 2)} | {r['core_seconds']:.0f} |")
    elif kind == "modes":
        lines += ["Mean ± sd over seeds; HQ = high-quality share in %.", "",
                  "| dataset | model | seeds | steps | trained in | modes (raw) | HQ % (raw) | reverse KL (raw) | "
                  "modes (EMA) | HQ % (EMA) | reverse KL (EMA) | train s | core-s | "
                  "published: modes / HQ % / rKL (iterations) |",
                  "|---" * 14 + "|"]
        for r in sorted(summary["rows"], key=lambda r: (r["dataset"], r["group"])):
            pub = "<br>".join(f"{p.get('source')} {p.get('row')}: {p.get('modes')} / {p.get('high_quality')}"
                              + (f" / {p['reverse_kl']}" if p.get("reverse_kl") is not None else "")
                              + f" ({p.get('steps', '-')})" for p in r["published"]) or "-"
            if not r["seeds"]:
                lines.append(f"| {r['dataset']} | {r['group']} | 0/{r['seeds_total']} | - | "
                             + "- | " + (f"failed: {next(iter(r['errors'].values()))}" if r["errors"]
                                         else "not finished") + f" |||||||| {pub} |")
                continue
            lines.append(
                f"| {r['dataset']} | {r['group']} | {len(r['seeds'])}/{r['seeds_total']} | {r['steps']} | "
                f"{_trained_cell(r)} | {fmt(r['raw_modes_captured'], 2)} | "
                f"{fmt(r['raw_high_quality_fraction'], 3, 100)} | "
                f"{fmt(r['raw_reverse_kl'], 2)} | {fmt(r['ema_modes_captured'], 2)} | "
                f"{fmt(r['ema_high_quality_fraction'], 3, 100)} | {fmt(r['ema_reverse_kl'], 2)} | "
                f"{fmt(r['train_seconds'], 2)} | {r['core_seconds']:.0f} | {pub} |")
        context = summary["table"].get("context") or []
        if context:
            lines += ["", "Published rows with no ganzoo model, for context:", "", "| source | row | values |",
                      "|---|---|---|"]
            lines += [f"| {c.get('source')} | {c.get('row')} | {c.get('values')} |" for c in context]
    else:
        lines += ["Cost: the seconds each model's bench took (one at a time, on every core).", "",
                  "| model | setting | img/s | vs eager fp32 | vs tuned eager | MFU | bench s |",
                  "|---|---|---|---|---|---|---|"]
        for r in summary["rows"]:
            for b, took in zip(r.get("benches", []), r.get("bench_seconds") or []):
                for x in b.get("results", []):
                    if x.get("kind") == "reference":
                        continue
                    lines.append(f"| {r['group']} | {x.get('setting')} | {_num(x.get('img_per_s'))} | "
                                 f"{_num(x.get('speedup_vs_eager'))} | {_num(x.get('speedup_vs_tuned'))} | "
                                 f"{_num(x.get('mfu'))} | {_num(took)} |")
            if not r.get("benches"):
                lines.append(f"| {r['group']} | " + (f"failed: {next(iter(r['errors'].values()))}" if r["errors"]
                                                     else "not finished") + " ||||||")
    if kind != "speed":
        lines += _machines(summary)
    curves = [(r["group"], r["dataset"], r.get("curve")) for r in summary["rows"] if r.get("curve")
              and len(r["curve"]) > 1]
    if curves:
        metric = "FID" if kind == "quality" else "raw high-quality fraction"
        lines += ["", f"Convergence ({metric}, mean over seeds, at each evaluation point):", ""]
        lines += [f"- {g} on {d}: " + ", ".join(f"{s}: {v:.3g}" for s, v in c.items()) for g, d, c in curves]
    sources = summary["table"].get("sources")
    if sources:
        lines += ["", f"Sources: {sources}"]
    failed = [(r["group"], r["dataset"], s, e) for r in summary["rows"] for s, e in r["errors"].items()]
    if failed:
        lines += ["", "Failed runs (`ganzoo suite status DIR`; `suite run --retry-failed` runs them again):", ""]
        lines += [f"- {g} on {d} seed {s}: {e}" for g, d, s, e in failed]
    return "\n".join(lines) + "\n"


def _num(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("median")
    return "-" if not isinstance(value, (int, float)) else f"{value:.3g}"


def _curve_fields(row: dict, metric: str) -> dict:
    """A row's convergence curve for `ganzoo report`'s charts: step -> mean over seeds of `metric`."""
    return {"curve": row["curve"], "curve_metric": metric} if row.get("curve") else {}


def _precision_field(row: dict) -> dict:
    """`ganzoo report` pairs a quality row with the bench rows of the precision it trained in (one, recorded)."""
    precisions = row.get("train_precisions") or []
    return {"train_precision": precisions[0]} if len(precisions) == 1 and not row.get("unrecorded") else {}


def report_json(summary: dict) -> dict:
    """table.json: the summary, plus what `ganzoo report` reads (quality and modes ``results`` rows, speed
    ``benches``)."""
    out = dict(summary)
    done = [r for r in summary["rows"] if r["seeds"]]
    if summary["kind"] == "quality":
        out["results"] = [{"model": r["group"], "dataset": r["dataset"],
                           **{k: r[k]["mean"] for k in QUALITY if isinstance(r.get(k), dict)},
                           **{f"{k}_sd": r[k]["sd"] for k in QUALITY if isinstance(r.get(k), dict)},
                           **_precision_field(r), "seeds": r["seeds"], **_curve_fields(r, "fid")} for r in done]
    if summary["kind"] == "modes":  # the raw generator's numbers, as the papers report them; EMA as `ema_*`
        out["results"] = [{"model": r["group"], "dataset": r["dataset"],
                           **{k: r[f"raw_{k}"]["mean"] for k in MODES},
                           **{f"{k}_sd": r[f"raw_{k}"]["sd"] for k in MODES},
                           **{f"ema_{k}": r[f"ema_{k}"]["mean"] for k in MODES},
                           **_precision_field(r), "seeds": r["seeds"], **_curve_fields(r, "high_quality_fraction")}
                          for r in done]
    if summary["kind"] == "speed":
        benches = [b for r in summary["rows"] for b in r.get("benches", [])]
        out.update(zoo=True, benches=benches, skipped=[], peak_flops=benches[0].get("peak_flops", {}) if benches
                   else {})
    return out


def write_table(folder: SuiteFolder, wall_seconds: Optional[float] = None) -> dict[str, Any]:
    summary = summarize(folder, wall_seconds)
    folder.path.mkdir(parents=True, exist_ok=True)
    for name, text in (("table.json", json.dumps(report_json(summary), indent=1, default=str) + "\n"),
                       ("table.md", markdown(summary))):
        tmp = folder.path / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder.path / name)
    return summary
