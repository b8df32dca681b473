"""Terminal progress for command-line jobs: a tqdm bar driven by a JobControl, log lines on stderr."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from ..core.jobs import JobControl


class TerminalProgress:
    """A tqdm bar driven by a JobControl's fractions (0..1)."""

    def __init__(self, label: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=1000, desc=label, unit="‰", leave=False, disable=not sys.stderr.isatty())

    def __call__(self, fraction: float, message: str) -> None:
        self.bar.n = int(fraction * 1000)
        if message:
            self.bar.set_postfix_str(message, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


@contextmanager
def terminal_job(label: str) -> Iterator[JobControl]:
    """A JobControl drawing a terminal progress bar (closed however the job ends) and logging to stderr."""
    bar = TerminalProgress(label)
    try:
        yield JobControl(progress=bar, log=lambda message: print(f"  {message}", file=sys.stderr))
    finally:
        bar.close()
