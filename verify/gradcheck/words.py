"""Plain text for the gradcheck study: fixed-width tables, legends, ratios in words."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

__all__ = ["allowed", "text_table", "legend"]


def allowed(ratio: float) -> str:
    """An error over its bound in words: ``2.9% of allowed``, ``102 times allowed``.

    The bound is the error that rounding and the finite step can explain; a right
    gradient stays under 100% of it.
    """
    if math.isnan(ratio):
        return "undefined"
    if math.isinf(ratio):
        return "infinitely over allowed"
    if ratio < 1.0:
        pct = 100.0 * ratio
        return f"{pct:.2g}% of allowed" if pct < 10 else f"{pct:.0f}% of allowed"
    return f"{ratio:.3g} times allowed" if ratio < 1e4 else f"{ratio:.2g} times allowed"


def text_table(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """A fixed-width text table: a header line, a rule, one line per row."""
    grid = [list(headers)] + [list(c) for c in cells]
    widths = [max(len(c[i]) for c in grid) for i in range(len(headers))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(headers))).rstrip() for c in grid]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def legend(entries: Sequence[tuple[str, str]], width: int = 100) -> str:
    """``column  meaning`` lines, each meaning wrapped under itself within ``width`` characters."""
    pad = max(len(name) for name, _ in entries) + 2
    lines: list[str] = []
    for name, meaning in entries:
        wrapped = textwrap.wrap(meaning, width=max(width - pad, 30)) or [""]
        lines.append(name.ljust(pad) + wrapped[0])
        lines += [" " * pad + w for w in wrapped[1:]]
    return "\n".join(lines)
