"""Periodic progress lines with an ETA for long steps (calibration, rarefaction).

A :class:`Progress` logs ``<label>: <done>/<total> (<pct> %), <elapsed> elapsed, about <eta> left`` at most
once every ``every`` seconds and once more when the work is done, so a short step stays silent and a long one
says, in its log and on the terminal, how far it is. The ETA assumes the remaining units take as long as
the finished ones did on average.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["Progress", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``1 h 02 min``: a duration a person reads at a glance."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


class Progress:
    """Count finished units of work and log how far along it is, with an ETA.

    Parameters
    ----------
    label
        What is counted, e.g. ``"calibration: simulated cohorts"``.
    total
        Units in all.
    logger
        Where the lines go (INFO).
    every
        Least seconds between two lines (the final line is always written when ``total`` > 0 and the
        first line came out, i.e. the step lasted longer than ``every``).
    clock
        Monotonic time source (tests pass a fake one).
    """

    def __init__(
        self,
        label: str,
        total: int,
        logger: logging.Logger,
        *,
        every: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = max(0, int(total))
        self.logger = logger
        self.every = float(every)
        self.clock = clock
        self.start = clock()
        self.last = self.start
        self.done = 0
        self.lines = 0

    def message(self) -> str:
        elapsed = self.clock() - self.start
        pct = 100.0 * self.done / self.total if self.total else 100.0
        text = f"{self.label}: {self.done}/{self.total} ({pct:.0f} %), {format_seconds(elapsed)} elapsed"
        if 0 < self.done < self.total:
            left = elapsed / self.done * (self.total - self.done)
            text += f", about {format_seconds(left)} left"
        elif self.done >= self.total:
            text += ", done"
        return text

    def update(self, units: int = 1) -> None:
        """Record ``units`` more finished units; log when ``every`` seconds have passed (or at the end)."""
        self.done = min(self.total, self.done + int(units))
        now = self.clock()
        finished = self.done >= self.total
        if now - self.last >= self.every or (finished and self.lines):
            self.logger.info("%s", self.message())
            self.last = now
            self.lines += 1
