"""The CLI's progress bar, as a callback the run loop calls at its start, at log points and at its end."""

from __future__ import annotations

from typing import Any

from rich.markup import escape


class RichProgress:
    """A rich progress bar showing the step, losses and img/s of the last log point."""

    def __init__(self, name: str, total: int, console: Any = None):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.name, self.total = name, total
        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[stats]}"),
                            console=console)
        self.task = None

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "start":
            self.bar.start()
            # the name is user text (a plugin or run name): escaped, so "[/x]" is shown, never parsed as markup
            self.task = self.bar.add_task(escape(self.name), total=event["total"], completed=event["step"], stats="")
        elif kind == "log" and self.task is not None:
            r = event["record"]
            stats = f"D {r.get('loss_d', float('nan')):.3f}  G {r.get('loss_g', float('nan')):.3f}  " \
                    f"{r.get('img_per_s') or 0:,.0f} img/s"
            self.bar.update(self.task, completed=event["step"], stats=stats)
        elif kind == "stop":
            self.bar.stop()
