"""One event stream per run: the progress bar, the loggers, notices and user callbacks all subscribe to it.

The run loop emits plain dicts, each with an ``"event"`` key, at the points where it already holds the values (so a
subscriber never adds a device sync to training):

- ``start``: the run folder is open, before the first step; ``step`` (0 or the checkpoint's), ``total``,
  ``run_dir``, ``new`` (a fresh run), ``config`` (config.json's dict).
- ``log``: every log point (and before each checkpoint); ``step``, ``total``, ``record`` (losses, img/s, learning
  rates, regularisers).
- ``sample``: a sample grid was written; ``step``, ``path``, ``image`` ((C, H, W) uint8).
- ``checkpoint``: checkpoint.pt was written and synced; ``step``, ``path``.
- ``eval``: the run evaluated itself (``eval_every``); ``step``, ``metrics``.
- ``notice``: a one-line notice (a moved-aside file, a dropped damaged line); ``text``.
- ``stop``: the loop ended, also after an error or a signal; ``step``, ``total``, ``ok`` (finished without error).

Subscribers are called in the order they subscribed; an exception in one propagates (a broken callback fails the run
loudly, with the checkpoint of the last checkpoint point kept). ``ganzoo.train(..., progress=callback)`` and
``Trainer(..., progress=callback)`` subscribe `callback`; ``Trainer.events.subscribe`` adds more.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional

Event = dict
Subscriber = Callable[[Event], None]

#: every kind of event the run loop emits, in the order a run emits them
KINDS = ("start", "log", "sample", "checkpoint", "eval", "notice", "stop")


class EventStream:
    """Subscribers of one run, called with each event dict in turn."""

    def __init__(self, subscribers: tuple[Subscriber, ...] = ()):
        self.subscribers: list[Subscriber] = [s for s in subscribers if s is not None]

    def subscribe(self, subscriber: Subscriber) -> Subscriber:
        self.subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers = [s for s in self.subscribers if s is not subscriber]

    def emit(self, kind: str, **fields: Any) -> Event:
        if kind not in KINDS:
            raise ValueError(f"unknown event {kind!r}; the kinds are {', '.join(KINDS)}")
        event = {"event": kind, **fields}
        for subscriber in list(self.subscribers):
            subscriber(event)
        return event


class LoggerSubscriber:
    """The run's loggers (metrics.jsonl always; TensorBoard, MLflow, ... as plugins) fed from the stream."""

    def __init__(self, loggers: Any):
        self.loggers = loggers

    def __call__(self, event: Event) -> None:
        kind = event["event"]
        if kind == "start" and event.get("new"):
            self.loggers.log_config(event["config"])
        elif kind == "log":
            self.loggers.log_scalars(event["step"], {k: v for k, v in event["record"].items() if k != "step"})
        elif kind == "sample":
            self.loggers.log_images(event["step"], "samples", event["image"])
        elif kind == "eval":
            self.loggers.log_eval(event["step"], event["metrics"])


def stderr_notice(line: str) -> None:
    """Where a run's one-line notices go when no console is given (moved-aside files, dropped damaged lines)."""
    print(f"ganzoo: notice: {line}", file=sys.stderr, flush=True)


class NoticeSubscriber:
    """Notice events handed to a one-line printer (the CLI's console, or stderr)."""

    def __init__(self, say: Optional[Callable[[str], None]] = None):
        self.say = say or stderr_notice

    def __call__(self, event: Event) -> None:
        if event["event"] == "notice":
            self.say(event["text"])
