"""``python -m verify.overflow``: the command line of the overflow study (see :mod:`verify.overflow.study`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from refnet.validation import output_dir_argument

from ..common.console import Console
from .report import console, write_doc, write_report
from .study import QUICK_CONFIG, Config, run_study, verdict, workers_default

__all__ = ["main"]


def _seeds(text: str) -> tuple[int, ...]:
    """``0-29`` or ``0,3,7``."""
    try:
        if "-" in text:
            lo, hi = (int(v) for v in text.split("-", 1))
            seeds = tuple(range(lo, hi + 1))
        else:
            seeds = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a range such as 0-29 or a list such as 0,3,7, got {text!r}")
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"expected seeds >= 0, got {text!r}")
    return seeds


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected batch sizes such as 1,5,20,21, got {text!r}")
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected batch sizes >= 1, got {text!r}")
    return sizes


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verify.overflow",
        description="Run the lab's first no-activation network (XOR, units 6-4, batch 5, lr 0.01) as its code "
                    "ran it, seed by seed, with the overflow guard: where the first non-finite value appears, "
                    "the weight growth and the stability bound before it, other batch sizes, and the second "
                    "try (output sigmoid kept). Exit 0 when every run went non-finite as the lab's did, and "
                    "every second-try run stayed finite.")
    parser.add_argument("--report", metavar="DIR", type=output_dir_argument,
                        help="write DIR/report.md, DIR/report.json (with 'claims') and PNG figures")
    parser.add_argument("--doc", metavar="FILE", type=Path,
                        help="also write the docs page (docs/overflow.md) from the report written by --report")
    parser.add_argument("--quick", action="store_true",
                        help="seeds 0-5, 2,000 updates per batch size, 1,000 epochs of the second try on 4 seeds "
                             "(about 30 s; verdicts 'undecided')")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--seeds", type=_seeds, default=None,
                        help="seeds of the first try and the batch sizes, e.g. 0-29 (default) or 0,3,7")
    parser.add_argument("--batch-sizes", type=_sizes, default=None,
                        help="batch sizes to compare, e.g. 1,5,20,21 (default)")
    parser.add_argument("--sweep-updates", type=_positive, default=None,
                        help="update limit of each run at a batch size other than 5 (default 20,000)")
    parser.add_argument("--second-epochs", type=_positive, default=None,
                        help="epochs of the second try (default 20,000; the lab ran 500,000)")
    parser.add_argument("--workers", type=_workers, default=None,
                        help="worker processes (0: run in this process; default: 2, or 1 core if only one)")
    args = parser.parse_args(argv)
    if args.doc is not None and args.report is None:
        parser.error("--doc: needs --report (the page is written from the report)")
    cfg = QUICK_CONFIG if args.quick else Config()
    changes: dict[str, object] = {"workers": workers_default() if args.workers is None else args.workers}
    if args.seeds is not None:
        changes["seeds"] = args.seeds
        changes["second_seeds"] = args.seeds
    for name in ("batch_sizes", "sweep_updates", "second_epochs"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    cfg = replace(cfg, **changes)  # type: ignore[arg-type]
    study = run_study(cfg, quiet=args.quiet)
    ok, summary = verdict(study)
    print(console(study, ok, summary))
    if args.report is not None:
        path = write_report(study, args.report, ok, summary)
        Console("overflow", quiet=args.quiet)(f"report written to {path}")
        if args.doc is not None:
            write_doc(path, args.doc)
            Console("overflow", quiet=args.quiet)(f"docs page written to {args.doc}")
    if not ok:
        print(f"overflow: exit 1: {summary}", file=sys.stderr)
    return 0 if ok else 1
