"""``python -m verify.overflow``: the command line of the overflow study (see :mod:`verify.overflow`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..common.console import Console
from .grid import LAB_LR
from .report import console, write_report
from .study import QUICK_CONFIG, Config, run_study, verdict

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verify.overflow",
        description="Reproduce the lab's no-activation overflow, catch it with the guard, and "
                    "test the explanations against the Hessian stability bound.")
    parser.add_argument("--report", metavar="DIR", type=Path,
                        help="write DIR/report.md, DIR/report.json and PNG figures")
    parser.add_argument("--quick", action="store_true",
                        help="reduced grid and shorter runs (under 30 s, for tests)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the reproduced network (default 0)")
    parser.add_argument("--lr", type=float, default=LAB_LR,
                        help=f"learning rate of the reproduction (default {LAB_LR}, the lab's)")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error("--seed: expected an integer >= 0")
    if not np.isfinite(args.lr) or args.lr <= 0:
        parser.error("--lr: expected a finite value > 0")
    base = QUICK_CONFIG if args.quick else Config()
    cfg = Config(**{**{k: getattr(base, k) for k in Config.__dataclass_fields__},
                    "seed": args.seed, "lr": args.lr})
    study = run_study(cfg, quiet=args.quiet)
    ok, summary = verdict(study)
    print(console(study, ok, summary))
    if args.report is not None:
        path = write_report(study, args.report, ok, summary)
        Console("overflow", quiet=args.quiet)(f"report written to {path}")
    if not ok:
        print(f"overflow: exit 1: {summary}", file=sys.stderr)
    return 0 if ok else 1
