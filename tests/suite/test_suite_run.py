"""Running suites: the same numbers as training and measuring by hand, resumable after SIGKILL at any moment,
idempotent, refusing a changed suite, and a failing or killed run reported without losing the others."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from suite_runs import TINY, measurements, run_cli, write_suite

import ganzoo
from ganzoo.metrics import image_metrics
from ganzoo.suite.executors import run_local
from ganzoo.suite.runner import SuiteFolder, jobs_for, resolve_suite, run_suite, suite_status, write_suite_file
from ganzoo.suite.table import write_table
from ganzoo.suite.worker import read_results


def test_a_suite_run_measures_what_training_and_measuring_by_hand_gives(tiny_reference, shared_cache, tmp_path):
    """benchmarks/quality.py's protocol written out directly: ganzoo.train with the suite's settings, then the
    loaded generator's 100 samples from latents seeded 1,000,003 + seed against all digits, KID subsets seeded 0."""
    _, out, found = tiny_reference
    run = next(r for r in resolve_suite(str(tiny_reference[0])).runs if r.seed == 1)
    ganzoo.train(model="vanilla", dataset="digits", seed=1, steps=30, batch_size=32, precision="fp32", device="cpu",
                 out=str(tmp_path / "by-hand"))
    gan = ganzoo.load(tmp_path / "by-hand")
    fake = gan.sample(100, generator=torch.Generator().manual_seed(1_000_003 + 1))
    from ganzoo.suite.protocol import extractor_for

    dataset = ganzoo.load_dataset("digits")
    expected = image_metrics(dataset.float_data(), fake, extractor_for(dataset, "classifier"), seed=0)
    step, metrics = found[run.name][-1]
    assert step == 30
    for key in ("fid", "kid_mean", "is_mean", "precision", "recall", "density", "coverage"):
        assert metrics[key] == expected[key], key  # bit for bit: the same run, the same evaluation
    assert [s for s, _ in found[run.name]] == [10, 20, 30]  # every 10 steps and at the end


def test_the_table_has_a_row_per_model_with_mean_sd_and_cost(tiny_reference):
    _, out, found = tiny_reference
    table = json.loads((out / "table.json").read_text())
    (row,) = table["rows"]
    finals = [m[-1][1]["fid"] for m in found.values()]
    assert row["fid"]["n"] == 2 and row["fid"]["mean"] == pytest.approx(sum(finals) / 2)
    assert row["fid"]["sd"] == pytest.approx(abs(finals[0] - finals[1]) / 2 ** 0.5)
    assert row["train_seconds"]["mean"] > 0 and row["core_seconds"] > 0 and set(row["curve"]) == {"10", "20", "30"}
    assert table["results"][0]["model"] == "vanilla"  # what `ganzoo report` reads, with the curve it charts
    assert table["results"][0]["curve"] == row["curve"] and table["results"][0]["curve_metric"] == "fid"
    text = (out / "table.md").read_text()
    assert "| vanilla | digits | 2/2 | 30 | fp32 |" in text and "real vs real (floor)" in text and "Made by:" in text
    from ganzoo.engine.precision import device_label

    assert f"- fp32 on {device_label(torch.device('cpu'))}: vanilla" in text  # every part's precision and machine
    assert row["train_precisions"] == ["fp32"] and row["unrecorded"] == 0


def test_the_results_say_how_every_part_of_a_continued_run_trained_and_the_table_shows_mixed_rows(tmp_path):
    """A suite's "auto" precision is bf16 on machines with bf16 units and fp32 elsewhere: each part of a run
    (continued from a checkpoint) is recorded, parts whose steps were thrown away drop, and a row whose seeds trained
    otherwise says so, as does a row whose results predate the record."""
    from types import SimpleNamespace

    from ganzoo.suite.table import _trained_cell, trained_in
    from ganzoo.suite.worker import parts_so_far

    trainer = SimpleNamespace(precision=SimpleNamespace(name="fp32"), device=torch.device("cpu"),
                              config=SimpleNamespace(steps=2000))
    first = parts_so_far([], 0, trainer)
    assert [(p["from_step"], p["precision"], p["device"]) for p in first] == [(0, "fp32", "cpu")]
    header = {"header": {}, "parts": [{**first[0], "precision": "bf16", "machine": "A"},
                                      {"from_step": 500, "precision": "bf16", "machine": "B"},
                                      {"from_step": 1000, "precision": "bf16", "machine": "C"}]}
    # continued from the checkpoint at 1000 again: the part that started there and was killed is replaced
    parts = parts_so_far([header, {"step": 500}], 1000, trainer)
    assert [(p["from_step"], p["precision"], p.get("machine")) for p in parts][:2] == [(0, "bf16", "A"),
                                                                                      (500, "bf16", "B")]
    assert parts[2]["from_step"] == 1000 and parts[2]["precision"] == "fp32"
    # reopened at its last step (killed after training, before its end was written): no part that trained nothing
    assert parts_so_far([{"header": {}, "parts": parts}], 2000, trainer) == parts
    mixed = trained_in([[{"header": {}, "parts": parts}], [{"header": {}, "parts": first}]])
    assert mixed["train_precisions"] == ["bf16", "fp32"] and mixed["unrecorded"] == 0
    assert _trained_cell(mixed) == "bf16, fp32"
    old = trained_in([[{"header": {}}], [{"header": {}, "parts": first}]])
    assert _trained_cell(old) == "fp32 + ?" and _trained_cell(trained_in([[{"header": {}}]])) == "?"


def test_a_second_run_on_a_finished_folder_does_nothing_and_says_so(tiny_reference, shared_cache):
    file, out, found = tiny_reference
    before = {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()}
    result = run_cli("suite", "run", file, "--out", out, cache=shared_cache)
    assert result.returncode == 0 and "nothing to do: all 2 runs of tiny" in result.stdout
    assert {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()} == before


def test_a_changed_suite_is_refused_naming_the_difference(tiny_reference, shared_cache, tmp_path):
    _, out, _ = tiny_reference
    changed = write_suite(tmp_path / "tiny.toml", TINY.replace("steps = 30", "steps = 31"))
    result = run_cli("suite", "run", changed, "--out", out, cache=shared_cache)
    assert result.returncode == 2 and "steps 30 -> 31" in result.stderr and "Traceback" not in result.stderr
    other = write_suite(tmp_path / "other.toml", TINY.replace('name = "tiny"', 'name = "other"'))
    result = run_cli("suite", "run", other, "--out", out, cache=shared_cache)
    assert result.returncode == 2 and "holds suite 'tiny'" in result.stderr


def test_a_run_whose_recipe_now_resolves_otherwise_is_refused_or_made_again_when_asked(tiny_reference, shared_cache,
                                                                                        tmp_path):
    """The id hashes the suite's settings; the header keeps the spec the recipe resolved to, so a plugin upgrade
    that changes a default (here: the recorded lr differs from what vanilla's recipe gives now) is caught."""
    import shutil

    file, reference, expected = tiny_reference
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    path = sorted((out / "results").glob("*.jsonl"))[0]
    lines = read_results(path)
    header = lines[0]
    config_spec = json.loads((out / "runs" / path.stem / "config.json").read_text())["spec"]
    assert header["spec"] == {k: v for k, v in config_spec.items() if k != "citation"}, "the spec it trained under"
    assert header["spec"]["optimizer_g"]["options"]["lr"] == 0.0002
    header["spec"]["optimizer_g"]["options"]["lr"] = 0.0001  # made by an older recipe
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run_cli("suite", "run", file, "--out", out, "--quiet", cache=shared_cache)
    assert result.returncode == 2 and "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert "the recipe of vanilla changed" in result.stderr and "optimizer_g.options.lr 0.0001 -> 0.0002" in \
        result.stderr and "--rerun-changed" in result.stderr
    assert read_results(path) == lines, "nothing is touched when refused"
    result = run_cli("suite", "run", file, "--out", out, "--quiet", "--rerun-changed", cache=shared_cache)
    assert result.returncode == 0, result.stderr
    assert "its recipe changed (optimizer_g.options.lr 0.0001 -> 0.0002); made again" in result.stderr
    assert read_results(path)[0]["spec"]["optimizer_g"]["options"]["lr"] == 0.0002
    assert measurements(out) == expected, "made again: the same numbers as the uninterrupted suite"


def test_runs_measured_on_other_extractor_weights_are_not_mixed_into_a_folder(tiny_reference, shared_cache, tmp_path):
    """A classifier trained on another machine has other weights: its FIDs must not join the folder's table."""
    import re
    import shutil

    file, reference, _ = tiny_reference
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    first, second = sorted((out / "results").glob("*.jsonl"))
    second.unlink()  # one run to make, so the suite gets as far as its extractor
    lines = read_results(first)
    info = next(line for line in lines if "metrics" in line)["metrics"]["feature_extractor_info"]
    mine = re.search(r"weights sha256 ([0-9a-f]{12})", info).group(1)
    other = "0123456789ab" if mine != "0123456789ab" else "ba9876543210"
    first.write_text(first.read_text().replace(mine, other))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    result = run_cli("suite", "run", file, "--out", out, "--quiet", cache=shared_cache)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"measured on feature extractor weights {other}, and the extractor here has {mine}" in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before, "suite.json, floors untouched"
    assert not second.exists()


def test_rerun_changed_discards_nothing_when_another_check_refuses_the_folder(tiny_reference, shared_cache, tmp_path):
    import re
    import shutil

    file, reference, _ = tiny_reference
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    path = sorted((out / "results").glob("*.jsonl"))[0]
    lines = read_results(path)
    lines[0]["spec"]["optimizer_g"]["options"]["lr"] = 0.0001  # a recipe change, to be made again
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    floors = (out / "floors.json").read_text()
    mine = re.search(r"weights sha256 ([0-9a-f]{12})", floors).group(1)
    (out / "floors.json").write_text(floors.replace(mine, "0123456789ab" if mine != "0123456789ab" else "ba98"))
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = run_cli("suite", "run", file, "--out", out, "--quiet", "--rerun-changed", cache=shared_cache)
    assert result.returncode == 2 and "measured on feature extractor weights" in result.stderr, result.stderr
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before, "nothing discarded"


def test_sigkill_at_random_moments_then_finishing_gives_the_uninterrupted_results(tiny_reference, shared_cache,
                                                                                   tmp_path):
    file, _, expected = tiny_reference
    out = tmp_path / "killed"
    env = {**os.environ, "GANZOO_CACHE": str(shared_cache), "OMP_NUM_THREADS": "1"}
    rng = random.Random(7)
    kills = 0
    for _ in range(3):
        process = subprocess.Popen([sys.executable, "-c", "from ganzoo.cli import main; raise SystemExit(main())",
                                    "suite", "run", str(file), "--out", str(out), "--quiet"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(4.0, 9.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    assert kills >= 2
    result = run_cli("suite", "run", file, "--out", out, "--quiet", cache=shared_cache)
    assert result.returncode == 0, result.stderr
    assert measurements(out) == expected
    assert all(r["status"] == "done" for r in suite_status(SuiteFolder(out)))


def test_a_suite_run_in_parts_gives_the_results_of_one_run_and_status_shows_the_rest(tiny_reference, shared_cache,
                                                                                   tmp_path):
    """A suite longer than one session: `--only seed=1` now, the rest later, into one folder."""
    file, _, expected = tiny_reference
    out = tmp_path / "parts"
    first = run_cli("suite", "run", file, "--out", out, "--quiet", "--only", "seed=1", cache=shared_cache)
    assert first.returncode == 0, first.stderr
    status = {r["seed"]: r["status"] for r in suite_status(SuiteFolder(out))}
    assert status == {0: "queued", 1: "done"}  # suite.json describes the whole suite, the part not run is queued
    (done,) = [p.stem for p in (out / "results").glob("*.jsonl")]
    assert "seed1" in done and measurements(out) == {done: expected[done]}
    table = json.loads((out / "table.json").read_text())
    assert table["rows"][0]["fid"]["n"] == 1  # the table covers what has finished
    again = run_cli("suite", "run", file, "--out", out, "--quiet", "--only", "seed=1", cache=shared_cache)
    assert again.returncode == 0 and "nothing to do: all 1 runs of tiny that --only seed=1 selects" in again.stdout
    rest = run_cli("suite", "run", file, "--out", out, "--quiet", cache=shared_cache)
    assert rest.returncode == 0, rest.stderr
    assert measurements(out) == expected  # bit for bit the uninterrupted suite's
    header = next(x for x in read_results(out / "results" / f"{done}.jsonl") if "header" in x)
    assert any(c.endswith("--only seed=1") for c in header["commands"])  # how that run was made


def test_only_refuses_a_selection_that_names_nothing_in_one_line(shared_cache, tmp_path):
    file = write_suite(tmp_path / "s.toml")
    for only, message in (("seed=7", "has no run with that seed; its seeds: 0, 1"),
                          ("colour=red", "KEY one of model, dataset, seed, label, id"),
                          ("model=", "names no value"),
                          ("seed", "write KEY=VALUE")):
        for action in (("run", "--out", tmp_path / "o"), ("show", "--timed-steps", "0")):
            result = run_cli("suite", action[0], file, *action[1:], "--only", only, cache=shared_cache)
            assert result.returncode == 2 and message in result.stderr, (only, action, result.stderr)
            assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()  # refused before anything was written
    result = run_cli("suite", "show", file, "--timed-steps", "0", "--json", "--only", "seed=0,1", "--only",
                     "model=vanilla", cache=shared_cache)
    assert result.returncode == 0 and len(json.loads(result.stdout)["suite"]["runs"]) == 2
    result = run_cli("suite", "show", file, "--timed-steps", "0", "--json", "--only", "seed=1", cache=shared_cache)
    assert [r["seed"] for r in json.loads(result.stdout)["suite"]["runs"]] == [1]


def test_a_failing_run_is_reported_and_retried_only_when_asked(shared_cache, tmp_path):
    text = TINY.replace('models = ["vanilla"]', 'models = ["vanilla"]\nsettings = { lr = [0.0002, 1e12] }')
    text = text.replace("seeds = 2", "seeds = 1")
    file = write_suite(tmp_path / "s.toml", text)
    suite = resolve_suite(str(file))
    out = tmp_path / "out"
    run_suite(suite, out, workers=2)
    rows = {r["group"]: r for r in suite_status(SuiteFolder(out))}
    assert rows["vanilla [lr=0.0002]"]["status"] == "done"
    bad = rows["vanilla [lr=1000000000000.0]"]
    assert bad["status"] == "failed" and "diverged" in bad["failed"]
    assert "failed: DivergenceError" in (out / "table.md").read_text()
    assert jobs_for(SuiteFolder(out), suite)[0] == []  # not retried unless asked
    assert [j["run"]["label"] for j in jobs_for(SuiteFolder(out), suite, retry_failed=True)[0]] == [
        "lr=1000000000000.0"]


def test_a_worker_killed_mid_run_is_a_failed_row_and_the_others_finish(shared_cache, tmp_path):
    file = write_suite(tmp_path / "s.toml", TINY.replace("steps = 30", "steps = 80"))
    suite = resolve_suite(str(file))
    folder = SuiteFolder(tmp_path / "out")
    write_suite_file(folder, suite)
    folder.results.mkdir(parents=True)
    jobs, _ = jobs_for(folder, suite)
    victim = jobs[0]["run"]["id"]
    killed = []

    def tick_kill(running):
        if victim in running and not killed and any(folder.runs.glob(f"*{victim}/checkpoint.pt")):
            for child in _children():
                if child[1] == victim:
                    os.kill(child[0], signal.SIGKILL)
                    killed.append(child[0])

    run_local(jobs, 2, tick=tick_kill, poll=0.2)
    assert killed
    lines = {r["id"]: r for r in suite_status(folder)}
    assert lines[victim]["status"] == "failed" and "SIGKILL" in lines[victim]["failed"]
    others = [r for r in lines.values() if r["id"] != victim]
    assert others and all(r["status"] == "done" for r in others)
    write_table(folder)


def _children():
    """(pid, process name) of this process's children (multiprocessing names each worker after its run id)."""
    import multiprocessing

    return [(p.pid, p.name) for p in multiprocessing.active_children()]


def test_a_modes_suite_reports_raw_and_ema_beside_the_published_rows(shared_cache, tmp_path):
    file = write_suite(tmp_path / "m.toml", """
name = "m"
kind = "modes"
seeds = 1
[defaults]
device = "cpu"
precision = "fp32"
ema_decay = 0.999
steps = 20
batch_size = 64
[[runs]]
models = ["vanilla"]
datasets = ["ring8"]
[evaluate]
samples = 500
every = 10
[[table.published]]
model = "vanilla"
dataset = "ring8"
source = "PacGAN T1"
row = "GAN"
modes = 6.3
high_quality = 98.2
steps = "400k"
""")
    out = tmp_path / "out"
    run_suite(resolve_suite(str(file)), out, workers=1)
    (run,) = resolve_suite(str(file)).runs
    lines = read_results(out / "results" / f"{run.name}.jsonl")
    final = [x for x in lines if "metrics" in x][-1]["metrics"]
    # the protocol written out: 500 points from the raw generator, latents seeded 1,000,003 + seed
    gan = ganzoo.load(out / "runs" / run.name, ema=False)
    with torch.no_grad():
        points = gan.generator(torch.randn(500, gan.latent_dim, generator=torch.Generator().manual_seed(1_000_003)))
    from ganzoo.metrics.modes import mode_metrics

    data = ganzoo.load_dataset("ring8")
    assert final["raw"] == mode_metrics(points.float(), data.centers, data.std)
    assert "ema" in final
    text = (out / "table.md").read_text()
    assert "PacGAN T1 GAN: 6.3 / 98.2 (400k)" in text and "| ring8 | vanilla | 1/1 | 20 |" in text
    (summary_row,) = json.loads((out / "table.json").read_text())["rows"]
    done = next(x for x in lines if "done" in x)  # the row's cost: training and measuring, in core-seconds
    assert summary_row["core_seconds"] == pytest.approx(done["train_seconds"] + done["eval_seconds"])
    assert f"| {summary_row['core_seconds']:.0f} | PacGAN T1" in text
    # `ganzoo report` reads the table: the raw generator's numbers, and its high-quality share over training
    from ganzoo.tools.report import build_report

    md, page, tables = build_report([out / "table.json"])
    ((title, header, (row,)),) = tables
    assert row[:3] == ["vanilla", "ring8", "fp32"] and row[header.index("modes captured")] == str(
        final["raw"]["modes_captured"])
    assert row[header.index("high-quality samples")] == f"{final['raw']['high_quality_fraction']:.1%}"
    evals = {str(x["step"]): x["metrics"]["raw"]["high_quality_fraction"] for x in lines if "metrics" in x}
    (result,) = json.loads((out / "table.json").read_text())["results"]
    assert result["curve"] == evals and list(evals) == ["10", "20"]  # the raw generator's, at every evaluation
    assert result["ema_high_quality_fraction"] == final["ema"]["high_quality_fraction"]
    chart = page.split("<h2>convergence</h2>")[1]
    assert "ring8: high-quality samples over training" in chart and "vanilla" in chart
    assert "Convergence curves" in md


def test_suite_show_lists_the_runs_and_estimates_their_cost(shared_cache, tmp_path):
    file = write_suite(tmp_path / "s.toml")
    result = run_cli("suite", "show", file, "--timed-steps", "2", "--json", cache=shared_cache)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["suite"]["runs"]) == 2
    est = data["estimate"]
    assert est["wall_seconds"] > 0 and set(est["seconds"]) == {r["id"] for r in data["suite"]["runs"]}
    # two equal runs on two workers: the wall time is one run's
    assert est["wall_seconds"] == pytest.approx(max(est["seconds"].values()))


def test_the_estimate_times_a_fast_step_for_at_least_its_minimum_duration(tmp_path, monkeypatch):
    """A 2-D MLP's step is ~15 ms: five of them after one warm-up step misread it by 40% (17 min predicted for a
    12-min run)."""
    from ganzoo.run.trainer import Trainer
    from ganzoo.suite.cost import time_setting

    run = resolve_suite(str(write_suite(tmp_path / "s.toml"))).runs[0]  # 30 steps of a small MLP
    long = time_setting(run, 3, warmup_seconds=0.2, timed_seconds=0.5)
    assert long["timed_seconds"] >= 0.5 and long["timed"] > 3 and long["warmup"] > 1
    indices = []
    step = Trainer.step
    monkeypatch.setattr(Trainer, "step", lambda self, i=None: (indices.append(i), step(self, i)))
    exact = time_setting(run, 70, warmup_seconds=0, timed_seconds=0)  # a slow step: `timed_steps` after one
    assert (exact["timed"], exact["warmup"]) == (70, 1)
    assert indices == [i % 30 + 1 for i in range(71)]  # past the run's last step the index wraps to 1


def test_suite_commands_refuse_bad_input_in_one_line(shared_cache, tmp_path):
    for args, message in ((("suite", "run", "digits-quality"), "needs --out"),
                          (("suite", "show"), "needs a suite name"),
                          (("suite", "status", tmp_path), "holds no suite"),
                          (("suite", "run", "nosuch", "--out", tmp_path / "o"), "nosuch")):
        result = run_cli(*args, cache=shared_cache)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, args


def test_a_speed_suite_benches_each_model_one_at_a_time(tmp_path):
    file = write_suite(tmp_path / "b.toml", """
name = "b"
kind = "speed"
[defaults]
device = "cpu"
[[runs]]
models = ["vanilla"]
[evaluate]
shape = [2]
batch_size = 16
rounds = 1
steps = 1
warmup = 1
precisions = ["fp32"]
""")
    out = tmp_path / "out"
    run_suite(resolve_suite(str(file)), out, workers=4)
    table = json.loads((out / "table.json").read_text())
    (bench,) = table["benches"]  # a `ganzoo bench --all` file for `ganzoo report`
    settings = [r["setting"] for r in bench["results"]]
    assert "eager-fp32-reference" in settings and any(s.startswith("fp32") for s in settings)
    text = (out / "table.md").read_text()
    assert "| vanilla | fp32" in text
    (row,) = json.loads((out / "table.json").read_text())["rows"]
    (took,) = row["bench_seconds"]  # the row's cost: the seconds its bench took
    assert took > 0 and all(line.endswith(f"| {took:.3g} |") for line in text.splitlines() if "| vanilla |" in line)


def test_suite_show_says_which_runs_cannot_be_built_and_estimates_the_rest(shared_cache, tmp_path):
    text = TINY.replace('models = ["vanilla"]', 'models = ["vanilla", "sngan"]').replace(
        'batch_size = 32', 'batch_size = 32\nimage_size = 12')  # SNGAN's networks need a multiple of 8
    file = write_suite(tmp_path / "s.toml", text.replace("seeds = 2", "seeds = 1"))
    result = run_cli("suite", "show", file, "--timed-steps", "1", "--json", cache=shared_cache)
    assert result.returncode == 0, result.stderr
    est = json.loads(result.stdout)["estimate"]
    runs = {r["model"]: r["id"] for r in json.loads(result.stdout)["suite"]["runs"]}
    assert runs["vanilla"] in est["seconds"] and "multiple of 8" in est["problems"][runs["sngan"]]


@pytest.mark.parametrize("kind", ["quality", "modes", "speed"])
def test_unfinished_and_failed_rows_have_as_many_cells_as_the_header(kind):
    from ganzoo.suite.table import markdown

    rows = [{"group": "vanilla", "dataset": "ring8", "seeds": [], "seeds_total": 1, "errors": errors, "published": []}
            for errors in ({}, {"0": "DivergenceError: loss is nan"})]
    text = markdown({"suite": "s", "description": "", "kind": kind, "rows": rows, "floors": {}, "commands": [],
                     "table": {}, "ganzoo": "0", "commit": None, "machine": "m", "wall_seconds": None,
                     "evaluation": {"samples": 10, "noise_seed": 1, "kid_seed": 0, "feature_extractor": "x",
                                    "every": 0, "rounds": 1, "steps": 1, "batch_size": 8, "shape": [2],
                                    "compile": "off"}})
    table = [line for line in text.splitlines() if line.startswith("|")]
    header, body = table[0], table[2:]
    assert len(body) == 2 and "not finished" in body[0] and "failed: DivergenceError" in body[1]
    assert all(line.count("|") == header.count("|") for line in body), table
