"""The one console helper of the studies: a progress line on stderr, silent when quiet.

Long loops inside refnet report through :class:`refnet.progress.Progress`; a
study's own milestones ("E3: zoom scans", "grid 3/12") go through
:class:`Console`, so every study's stderr reads alike and ``--quiet`` means
the same everywhere. The summary a study prints on stdout is not progress
and does not go through here.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Console"]


class Console:
    """``console(msg)`` prints ``label: msg`` (with the seconds since start if ``clock``) on stderr."""

    def __init__(self, label: str, *, quiet: bool = False, clock: bool = False,
                 stream: TextIO | None = None) -> None:
        self.label = label
        self.quiet = quiet
        self.clock = clock
        self.stream = stream
        self.start = time.perf_counter()

    def __call__(self, msg: str) -> None:
        if self.quiet:
            return
        prefix = f"[{self.label} {time.perf_counter() - self.start:6.0f} s]" if self.clock else f"{self.label}:"
        print(f"{prefix} {msg}", file=self.stream if self.stream is not None else sys.stderr, flush=True)
