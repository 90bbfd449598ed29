"""``python -m verify.lab_reading``: which reading of the lab's elided arithmetic reproduces the lab.

Trains the lab's experiments (linear data, learning rates, hidden units, XOR,
MSE vs BCE, ReLU vs sigmoid, ReLU + BCE learning rates, no activation, the lr
pair) under every reading of the formulas the lab does not show (loss-gradient
reduction, MSE derivative, log base of the reported BCE loss, sigmoid formula,
batching), for seeds 0-9 and the three init schemes, and scores each reading
by the fraction of (seed, init) pairs for which each observation the lab
reports holds. Exit 0 when the best-scoring reading is refnet's
``convention="lab-evidence"``.

Full mode trains about a billion network-epochs (the lab's own horizons, up to
500,000 epochs): tens of minutes on two cores. ``--quick`` compares four
readings on two seeds with short horizons, for tests and the suite.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from refnet.conventions import READINGS
from refnet.sweep import default_workers

import numpy as np

from .observations import EXPERIMENTS, INITS, SEEDS, Horizon
from .report import write_report
from .runs import load_outcomes, plan, run_plan, save_outcomes, training_reading
from .scoring import all_readings, choose, quick_readings, score

__all__ = ["main"]

QUICK_SEEDS = (0, 1)
OUTCOMES = "outcomes.npz"
"""Every run's outcomes, saved beside the report (``--rescore`` reads them)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m verify.lab_reading", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="4 readings, seeds 0-1, short horizons (seconds; for tests and the suite)")
    p.add_argument("--report", default="out/lab_reading", help="report directory (default out/lab_reading)")
    p.add_argument("--workers", type=int, default=default_workers(),
                   help="worker processes (default: the cores available; 0 trains in this process)")
    p.add_argument("--rescore", default=None, metavar="DIR",
                   help="score and report again from DIR/outcomes.npz of an earlier run, without training "
                        "(after a change of refnet's named readings or of the report)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.workers < 0:
        parser.error(f"--workers: expected an integer >= 0, got {args.workers}")
    out = Path(args.report)
    if out.exists() and not out.is_dir():
        parser.error(f"--report: {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"--report: cannot create {out}: {exc.strerror}")
    if args.rescore is not None:
        saved = Path(args.rescore) / OUTCOMES
        if not saved.is_file():
            parser.error(f"--rescore: {saved} does not exist")
        try:
            p, outcomes, seconds = load_outcomes(saved)
        except ValueError as exc:
            parser.error(f"--rescore: {exc}")
        mode: Horizon = p.mode
        readings = quick_readings() if mode == "quick" else all_readings()
        seeds = p.seeds
    else:
        mode = "quick" if args.quick else "full"
        readings = quick_readings() if args.quick else all_readings()
        seeds = QUICK_SEEDS if args.quick else SEEDS
        p = plan(readings, seeds, mode)
        outcomes, seconds = run_plan(p, workers=args.workers, quiet=args.quiet)
    if args.rescore is None or Path(args.rescore).resolve() != out.resolve():
        save_outcomes(out / OUTCOMES, p, outcomes, seconds)
    scores = score(readings, outcomes)
    choice = choose(scores)
    lab = READINGS["lab-evidence"]
    complete = all(np.all((0.0 <= v) & (v <= 1.0)) for s in scores for v in s.fractions.values()) and \
        all(o.final_loss.shape == (len(seeds), len(INITS), len(EXPERIMENTS[k].lrs)) for (k, _), o in outcomes.items()) \
        and all((key, training_reading(r, exp)) in outcomes for r in readings for key, exp in EXPERIMENTS.items())
    # quick horizons are far shorter than the lab's: quick mode checks the pipeline, it does not choose
    ok = complete if mode == "quick" else complete and lab in choice.tied
    write_report(out, mode, p, outcomes, scores, choice, seconds, ok)
    best = choice.best
    print(f"lab reading ({mode}): {len(readings)} readings, {len(p.jobs)} distinct runs, "
          f"{p.total:,} network-epochs in {seconds:.0f} s")
    print(f"best: {best.reading.label} scores {best.total:.2f} of {len(best.fractions)}"
          + (f"; runner-up {choice.runner_up.reading.label} {choice.runner_up.total:.2f}"
             if choice.runner_up else ""))
    if mode == "quick":
        print("quick mode: horizons too short to choose a reading; the full report decides")
    else:
        print(f"refnet's convention='lab-evidence' is {lab.label}: "
              f"{'the best-supported reading' if ok else 'NOT the best-supported reading'}")
    print(f"report: {out / 'report.md'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
