"""Progress lines on stderr for long work, at most about one a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Reports ``done/total`` with a rate and time left; silent when ``quiet``."""

    def __init__(self, total: int, label: str, *, quiet: bool = False, unit: str = "epochs",
                 every: float = 1.0, stream: TextIO | None = None) -> None:
        self.total = total
        self.label = label
        self.quiet = quiet
        self.unit = unit
        self.every = every
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self._last = self.start

    def update(self, done: int, extra: str = "") -> None:
        """Print a line if a second has passed since the last one."""
        if self.quiet:
            return
        now = time.monotonic()
        if now - self._last < self.every and done < self.total:
            return
        self._last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        left = (self.total - done) / rate if rate > 0 else float("inf")
        self.stream.write(
            f"\r{self.label}: {done}/{self.total} {self.unit} ({rate:,.0f}/s, {left:,.0f} s left) {extra}"
        )
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()
