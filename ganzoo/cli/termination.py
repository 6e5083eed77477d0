"""SIGTERM under torchrun: a survivor says why it stops before it stops.

When one process of a torchrun job dies, the launcher sends SIGTERM to every survivor within a tenth of a second.
A survivor's own collective fails at the same moment, and it is on its way to printing the one line that names the
lost peer and the resume command. Under Python's default disposition SIGTERM kills it mid-way (exit -15, no line),
so the user is left with torchrun's traceback only. The guard makes SIGTERM, in a multi-process job only:

- a KeyboardInterrupt while the command works and nothing is failing (a prompt stop, reported as `interrupted`);
- deferred while an error is already on its way out, or once the command has finished: it is exiting anyway. Only
  the first is deferred (the default disposition comes back), so a second SIGTERM still kills a process stuck in a
  C call; torchrun itself sends SIGKILL 30 s after its SIGTERM.

The trainer's loop installs its own handler (checkpoint at the next agreed step) and restores this one after.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any, Optional

from ganzoo.errors import in_torchrun_job

__all__ = ["TorchrunTermination"]


class TorchrunTermination:
    """SIGTERM's handler for one CLI command in a torchrun job; a no-op elsewhere or off the main thread."""

    def __init__(self) -> None:
        self.exiting = False
        self._previous: Any = None
        self._installed = False

    def install(self) -> TorchrunTermination:
        if in_torchrun_job() and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
            self._installed = True
        return self

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        if self.exiting or sys.exc_info()[1] is not None:  # an error is being reported, or the command is done:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # let it finish its line; a second SIGTERM kills
            return
        raise KeyboardInterrupt

    def restore(self) -> None:
        if self._installed:  # None: the earlier handler was installed from C, which Python cannot put back
            if self._previous is not None:
                signal.signal(signal.SIGTERM, self._previous)
            self._installed = False
