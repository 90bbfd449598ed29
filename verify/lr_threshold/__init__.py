"""The learning-rate threshold study: the lab's 0.001490625 vs 0.001490626, on the lab's own run.

``runs`` holds the configuration, its variants, the outcome rule and the
multisection; ``jobs`` runs the work in fresh processes; ``mechanism`` traces
the two runs beside the boundary (E3); ``study`` runs E0-E5 and draws the
verdicts; ``report`` writes them up; ``cli`` is ``python -m verify.lr_threshold``.
``ulp`` and ``boxcount`` are its float-grid and box-counting tools.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m verify.lr_threshold`` (see :mod:`verify.lr_threshold.cli`)."""
    from .cli import main as cli_main

    return cli_main(argv)
