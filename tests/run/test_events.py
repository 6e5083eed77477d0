"""The run's one event stream: what a subscriber sees, in which order, and that the loggers and notices ride on it."""

import json

import pytest

import ganzoo
from ganzoo.errors import DivergenceError
from ganzoo.run.events import KINDS, EventStream
from ganzoo.run.trainer import Trainer
from ganzoo.spec.config import TrainConfig

TINY = dict(model="vanilla", dataset="ring8", steps=6, batch_size=16, device="cpu", precision="fp32", seed=3,
            log_every=2, checkpoint_every=3, sample_every=4)


def test_a_run_emits_start_logs_samples_checkpoints_and_stop_in_order(tmp_path):
    events = []
    ganzoo.train(out=str(tmp_path / "r"), progress=events.append, **TINY)
    kinds = [(e["event"], e.get("step")) for e in events]
    # the last grid is drawn after the loop, so at the final step it follows the checkpoint
    assert kinds == [("start", 0), ("log", 2), ("log", 3), ("checkpoint", 3), ("log", 4), ("sample", 4),
                     ("log", 6), ("checkpoint", 6), ("sample", 6), ("stop", 6)]
    start, stop = events[0], events[-1]
    assert start["new"] is True and start["total"] == 6 and start["config"]["model"] == "vanilla"
    assert stop["ok"] is True
    for e in events:
        if e["event"] == "checkpoint":  # emitted after the file is on disk
            assert e["path"].is_file()
        if e["event"] == "sample":
            assert e["path"].is_file() and e["image"].dtype.is_floating_point is False
    # the jsonl logger is a subscriber too: every log event is one line of metrics.jsonl
    lines = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [e["step"] for e in events if e["event"] == "log"]


def test_the_events_appear_in_the_documented_order_of_kinds():
    assert KINDS[0] == "start" and KINDS[-1] == "stop"
    with pytest.raises(ValueError, match="unknown event"):
        EventStream().emit("nonsense")


def test_a_resumed_run_starts_at_its_checkpoint_and_is_not_new(tmp_path):
    ganzoo.train(out=str(tmp_path / "r"), **TINY)
    events = []
    ganzoo.resume(tmp_path / "r", steps=8, progress=events.append)
    assert events[0]["event"] == "start" and events[0]["step"] == 6 and events[0]["new"] is False
    assert [e["step"] for e in events if e["event"] == "log"] == [8]


def test_notices_reach_subscribers_and_the_printer(tmp_path):
    said, events = [], []
    trainer = Trainer(TrainConfig(out=str(tmp_path / "r"), **TINY), progress=events.append, notice=said.append)
    trainer.notice("hello")
    trainer.close()
    assert said == ["hello"] and events == [{"event": "notice", "text": "hello"}]


def test_stop_says_not_ok_when_the_run_fails(tmp_path):
    events = []

    def explode(event):
        events.append(event)
        if event["event"] == "log" and event["step"] == 4:
            raise DivergenceError("stop here")

    with pytest.raises(DivergenceError):
        ganzoo.train(out=str(tmp_path / "r"), progress=explode, **TINY)
    assert events[-1]["event"] == "stop" and events[-1]["ok"] is False and events[-1]["step"] == 4
    # the checkpoint of step 3 is kept, so the run continues from there
    assert ganzoo.resume(tmp_path / "r").step == 6


def test_an_extra_subscriber_can_be_added_to_a_trainer(tmp_path):
    trainer = Trainer(TrainConfig(out=str(tmp_path / "r"), **TINY), progress=False)
    seen = []
    trainer.events.subscribe(lambda e: seen.append(e["event"]))
    trainer.fit()
    assert seen[0] == "start" and seen[-1] == "stop" and seen.count("checkpoint") == 2
