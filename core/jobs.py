"""Progress and cancellation, passed explicitly to every long computation.

The same object serves a QgsTask (setProgress / isCanceled), a Processing feedback
and a terminal progress bar, so core code never knows which front end runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .errors import CancelledError

ProgressCallback = Callable[[float, str], None]
CancelCheck = Callable[[], bool]
LogCallback = Callable[[str], None]


def _ignore_progress(fraction: float, message: str) -> None:
    """Default progress sink: nobody is listening."""


def _never_cancelled() -> bool:
    return False


def _ignore_log(message: str) -> None:
    """Default log sink: messages are dropped."""


@dataclass
class JobControl:
    """Where to report progress (fraction 0..1 and a message), log notes, and how to ask for cancel."""

    progress: ProgressCallback = field(default=_ignore_progress)
    is_cancelled: CancelCheck = field(default=_never_cancelled)
    log: LogCallback = field(default=_ignore_log)
    start: float = 0.0
    end: float = 1.0

    def report(self, fraction: float, message: str = "") -> None:
        """Report progress within this job's share of the whole."""
        fraction = min(max(fraction, 0.0), 1.0)
        self.progress(self.start + (self.end - self.start) * fraction, message)

    def check(self, what: str = "The job") -> None:
        """Raise ``CancelledError`` when the user asked to cancel."""
        if self.is_cancelled():
            raise CancelledError(what)

    def part(self, start: float, end: float) -> "JobControl":
        """A control for a sub-step covering [start, end] of this job's range."""
        span = self.end - self.start
        return JobControl(self.progress, self.is_cancelled, self.log, self.start + span * start, self.start + span * end)
