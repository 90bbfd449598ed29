"""``python -m verify.experiments``: the command line of the experiments study (see :mod:`verify.experiments`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from refnet.sweep import default_workers
from refnet.validation import output_dir_argument

from ..common.console import Console
from .claims import claims as judge
from .plan import SIZES, Mode
from .report import console, ok_of, summary_of, write_report
from .study import Kernel, Study, analyse, compiled_available, execute

__all__ = ["main", "conclude"]


def conclude(study: Study, report: Path | None, say: Console) -> bool:
    """Compare, judge, print the summary and write the report of a finished study; True when it passed."""
    rows = analyse(study)
    found = judge(study, rows)
    ok = ok_of(study, rows)
    summary = summary_of(study, rows, found)
    print(console(study, rows, found, ok, summary))
    if report is not None:
        path = write_report(study, rows, found, report, ok, summary)
        say(f"report written to {path}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verify.experiments",
        description="Rerun every figure of the lab report as the lab's code ran it (refnet.lab), place the "
                    "page's numbers among seeds, run what the lab meant and matched comparisons, and judge "
                    "each conclusion.")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help=f"the tests' size: {SIZES['quick'].note} (under a minute)")
    size.add_argument("--full", action="store_true",
                      help=f"the full size: {SIZES['full'].note} (about half an hour on 2 cores)")
    parser.add_argument("--seeds", type=int, metavar="N",
                        help="run seeds 0..N-1 (default: 2 with --quick, 10 without a size flag, 30 with --full)")
    parser.add_argument("--workers", type=int, metavar="K",
                        help="worker processes (default: the cores this process may use; 0 runs in this process)")
    parser.add_argument("--report", metavar="DIR", type=output_dir_argument,
                        help="write DIR/report.md, DIR/report.json and one PNG per report figure")
    parser.add_argument("--kernel", choices=("auto", "compiled", "blas"), default="auto",
                        help="what trains the seed distributions of the unseeded figures: 'compiled' "
                             "(refnet.compiled, needs numba: pip install refnet[fast]), 'blas' (NumPy, as the "
                             "lab ran), 'auto' (compiled with --full when numba can be imported; the quick "
                             "and default sizes stay on blas: their runs take less time than numba's first "
                             "compile, about 80 s, see docs/benchmarks.md); seeded figures and figures run at "
                             "lr 10 always run on blas")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    mode: Mode = "full" if args.full else "quick" if args.quick else "default"
    kernel: Kernel = "blas" if args.kernel == "auto" and mode != "full" else args.kernel
    if kernel == "compiled" and not compiled_available():
        parser.error("--kernel: 'compiled' needs numba, which is not installed (pip install refnet[fast])")
    sizes = SIZES[mode]
    if args.seeds is not None:
        if args.seeds < 1:
            parser.error("--seeds: expected an integer >= 1")
        sizes = replace(sizes, seeds=args.seeds,
                        note=sizes.note.replace(f"seeds 0-{sizes.seeds - 1}", f"seeds 0-{args.seeds - 1}")
                        .replace(f"{sizes.seeds} seeds", f"{args.seeds} seeds"))
    workers = default_workers() if args.workers is None else args.workers
    if workers < 0:
        parser.error("--workers: expected an integer >= 0")
    say = Console("experiments", quiet=args.quiet)
    say(f"{mode} size: {sizes.note}")
    study = execute(mode, sizes, workers=workers, quiet=args.quiet, kernel=kernel)
    ok = conclude(study, args.report, say)
    if not ok:
        print("experiments: exit 1: a seeded figure differs from its page, or a row is missing", file=sys.stderr)
    return 0 if ok else 1
