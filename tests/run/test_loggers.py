"""Loggers: the register_loggers hook, the jsonl and TensorBoard built-ins, the conformance check."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

import ganzoo
from ganzoo.errors import GanzooError, UnknownNameError
from ganzoo.run.loggers import Logger, LoggerSet, as_uint8, build_loggers, check_logger, parse_names, picture_tensor
from ganzoo.store.folder import RunFolder
from ganzoo.store.images import image_grid

HAVE_TB = importlib.util.find_spec("tensorboard") is not None

RECORDING_PLUGIN = '''
    import ganzoo

    CALLS = []


    class Recording(ganzoo.Logger):
        def __init__(self, run_dir, start_step=0):
            self.run_dir, self.start_step = run_dir, start_step

        def log_scalars(self, step, values):
            CALLS.append(("scalars", step, dict(values)))

        def log_images(self, step, tag, image):
            CALLS.append(("images", step, tag, tuple(image.shape), str(image.dtype)))

        def close(self):
            CALLS.append(("close",))


    @ganzoo.hookimpl
    def register_loggers(register):
        register("recording", Recording, "remembers every call")
'''


def trainer_like_session(loggers: Logger, steps=(50, 100, 150), start=0):
    """What the trainer sends at its log, sample and eval points (see ganzoo/loggers.py)."""
    for step in steps:
        if step <= start:
            continue
        loggers.log_scalars(step, {"loss_d": 1.0 + step / 1000, "loss_g": 0.7, "img_per_s": 1234.5, "time": 1.7e9,
                                   "lr_g": 2e-4, "lr_d": 2e-4})
        loggers.log_images(step, "samples", picture_tensor(image_grid(torch.zeros(4, 1, 8, 8))))
    loggers.log_eval(steps[-1], {"step": steps[-1], "fid": 31.5, "kid_mean": 0.01, "feature_extractor": "classifier"})


def test_hook_register_loggers(plugin_dist, tmp_path):
    plugin_dist("ganzoo-recording", "ganzoo_recording", RECORDING_PLUGIN)
    entry = ganzoo.get_registry().get("logger", "recording")
    assert entry.distribution == "ganzoo-recording" and entry.description == "remembers every call"
    import ganzoo_recording

    loggers = build_loggers("recording", tmp_path, start_step=7)
    assert [type(x).__name__ for x in loggers.loggers] == ["JsonlLogger", "Recording"]
    assert loggers.loggers[1].start_step == 7
    trainer_like_session(loggers, steps=(50,))
    loggers.close()
    calls = ganzoo_recording.CALLS
    assert calls[0][:2] == ("scalars", 50) and calls[0][2]["loss_d"] == 1.05
    assert calls[1][:3] == ("images", 50, "samples") and calls[1][4] == "torch.uint8"
    assert calls[2] == ("scalars", 50, {"eval/fid": 31.5, "eval/kid_mean": 0.01})  # the default log_eval
    assert calls[-1] == ("close",)


def test_jsonl_logger_writes_metrics_jsonl_as_the_run_folder_reads_it(tmp_path):
    loggers = build_loggers(None, tmp_path)
    trainer_like_session(loggers)
    loggers.close()
    records = RunFolder(tmp_path).read_metrics()
    assert [r["step"] for r in records] == [50, 100, 150, 150]
    assert records[0] == {"step": 50, "loss_d": 1.05, "loss_g": 0.7, "img_per_s": 1234.5, "time": 1.7e9,
                          "lr_g": 2e-4, "lr_d": 2e-4}
    assert records[-1] == {"step": 150, "eval": {"step": 150, "fid": 31.5, "kid_mean": 0.01,
                                                 "feature_extractor": "classifier"}}


@pytest.mark.skipif(not HAVE_TB, reason="tensorboard not installed (pip install 'ganzoo[tensorboard]')")
def test_tensorboard_events_read_back_with_tensorboards_reader(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    loggers = build_loggers("tensorboard", tmp_path)
    loggers.log_config({"model": "vanilla", "train": {"steps": 150}})
    trainer_like_session(loggers)
    loggers.close()
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0, "scalars": 0}).Reload()
    tags = events.Tags()
    assert set(tags["scalars"]) == {"loss_d", "loss_g", "img_per_s", "lr_g", "lr_d", "eval/fid", "eval/kid_mean"}
    assert [e.step for e in events.Scalars("loss_d")] == [50, 100, 150]
    assert [round(e.value, 4) for e in events.Scalars("loss_d")] == [1.05, 1.1, 1.15]
    assert [(e.step, e.value) for e in events.Scalars("eval/fid")] == [(150, 31.5)]
    assert tags["images"] == ["samples"] and [e.step for e in events.Images("samples")] == [50, 100, 150]
    picture = events.Images("samples")[0]
    assert (picture.width, picture.height) == image_grid(torch.zeros(4, 1, 8, 8)).size
    assert (tmp_path / "metrics.jsonl").exists()  # jsonl stays on beside it


@pytest.mark.skipif(not HAVE_TB, reason="tensorboard not installed (pip install 'ganzoo[tensorboard]')")
def test_tensorboard_after_resume_shows_each_step_once(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    first = build_loggers("tensorboard", tmp_path)
    trainer_like_session(first, steps=(50, 100, 150))  # checkpoint at 100, then killed after logging 150
    first.close()
    again = build_loggers("tensorboard", tmp_path, start_step=100)
    again.log_scalars(150, {"loss_d": 9.0})
    again.log_scalars(200, {"loss_d": 10.0})
    again.close()
    events = EventAccumulator(str(tmp_path / "tensorboard")).Reload()
    assert [(e.step, round(e.value, 4)) for e in events.Scalars("loss_d")] == [(50, 1.05), (100, 1.1), (150, 9.0),
                                                                                (200, 10.0)]


@pytest.mark.parametrize("name", ["jsonl", "tensorboard"])
def test_builtin_loggers_pass_the_conformance_check(name, tmp_path):
    if name == "tensorboard" and not HAVE_TB:
        pytest.skip("tensorboard not installed (pip install 'ganzoo[tensorboard]')")
    factory = ganzoo.get_registry().get("logger", name).obj
    assert isinstance(check_logger(factory, tmp_path), Logger)


def test_conformance_check_catches_a_logger_that_mutates_its_input():
    class Mutating(Logger):
        def log_scalars(self, step, values):
            values.pop("time", None)

    class Scribbler(Logger):
        def log_images(self, step, tag, image):
            image.mul_(0)

    with pytest.raises(AssertionError, match="values dict"):
        check_logger(lambda run_dir: Mutating())
    with pytest.raises(AssertionError, match="image tensor"):
        check_logger(lambda run_dir: Scribbler())
    with pytest.raises(GanzooError, match="not a ganzoo.Logger"):
        check_logger(lambda run_dir: object())


def test_logger_names_and_unknown_names(tmp_path):
    assert parse_names(None) == ["jsonl"]
    assert parse_names("tensorboard, jsonl,tensorboard") == ["jsonl", "tensorboard"]
    with pytest.raises(UnknownNameError, match="unknown logger 'tensorbord'; did you mean 'tensorboard'"):
        build_loggers("tensorbord", tmp_path)


def test_as_uint8_converts_float_and_grey_images():
    grey = torch.tensor([[0.0, 0.5], [1.0, 2.0]])
    out = as_uint8(grey)
    assert out.dtype == torch.uint8 and out.shape == (1, 2, 2)
    assert out.flatten().tolist() == [0, 128, 255, 255]  # round(127.5) = 128; values above 1 clamp
    rgb = torch.randint(0, 256, (3, 4, 5), dtype=torch.uint8)
    assert torch.equal(as_uint8(rgb), rgb)
    with pytest.raises(ValueError, match="images are"):
        as_uint8(torch.zeros(2, 3, 4, 5))


def test_logger_set_closes_every_logger_even_when_one_fails():
    closed = []

    class Good(Logger):
        def close(self):
            closed.append("good")

    class Bad(Logger):
        def close(self):
            raise OSError("disk full")

    with pytest.raises(GanzooError, match="Bad: disk full"):
        LoggerSet([Bad(), Good()]).close()
    assert closed == ["good"]


def test_metrics_jsonl_lines_are_json(tmp_path):
    loggers = build_loggers("jsonl", tmp_path)
    loggers.log_scalars(1, {"loss_d": float("nan"), "loss_g": 0.5})
    loggers.close()
    line = (tmp_path / "metrics.jsonl").read_text().strip()
    assert json.loads(line) == {"step": 1, "loss_d": "nan", "loss_g": 0.5}  # non-finite kept as text, as before
