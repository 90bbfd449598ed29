"""``python -m verify.conventions``: how much the lab's arithmetic changes a run.

Trains the lab's 2-4-4-1 sigmoid/MSE network (seeds 0-4 as one ensemble) under
the lab convention at lr, the default convention at the same lr, and the
default convention at lr x N (the rate that equalises summed and mean
gradients), on XOR and on the linear data, and prints final losses,
accuracies, epochs to a loss threshold and the gap between the curves.
Exit 0 when, for every data set and seed, the lab's run ends nearer the
default convention at lr x N than at lr (most of the difference is the sum).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from refnet import mlp, train
from refnet.data import linear, xor_easy
from refnet.conventions import Convention
from refnet.outcomes import first_below

from .common.report import Cell, Report, to_json

__all__ = ["main"]


def _fmt(values: npt.NDArray[np.float64]) -> str:
    return "[" + " ".join(f"{v:.3g}" for v in values) + "]"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verify.conventions", description=__doc__)
    parser.add_argument("--lr", type=float, default=0.1, help="the lab-convention learning rate (default 0.1)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="initialisation seeds")
    parser.add_argument("--epochs-xor", type=int, default=20000, help="epochs on XOR (default 20000)")
    parser.add_argument("--epochs-linear", type=int, default=3000, help="epochs on linear data (default 3000)")
    parser.add_argument("--threshold", type=float, default=0.01, help="loss threshold for 'epochs to' (default 0.01)")
    parser.add_argument("--report", metavar="DIR", type=Path, default=None,
                        help="write DIR/report.md and DIR/report.json (for python -m verify)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    lines: list[str] = []
    rows: list[list[Cell]] = []
    closer: list[bool] = []
    for name, (x, y), epochs in (("xor", xor_easy(), args.epochs_xor),
                                 ("linear", linear(100, np.random.default_rng(0)), args.epochs_linear)):
        n = x.shape[0]
        curves = {}
        runs: tuple[tuple[str, Convention, float], ...] = (
            ("lab", "lab-sum", args.lr), ("default", "default", args.lr), ("default x N", "default", args.lr * n))
        for label, convention, lr in runs:
            net = mlp(seed=args.seeds)
            h = train(net, x, y, lr=lr, epochs=epochs, convention=convention, quiet=args.quiet,
                      label=f"{name} {label}")
            curves[label] = np.asarray(h.loss, dtype=np.float64)
            reached = first_below(curves[label], args.threshold).tolist()
            lines.append(f"{name:6s} {label:11s} lr={lr:<8g} final loss {_fmt(curves[label][-1])}"
                         f" accuracy {np.array2string(h.accuracy, precision=1)}"
                         f" epochs to <{args.threshold:g}: {reached}")
            rows.append([name, label, lr, _fmt(curves[label][-1]), np.array2string(h.accuracy, precision=1),
                         str(reached)])
        a, b = curves["lab"], curves["default x N"]
        rel = np.abs(a - b) / np.abs(a)
        lines.append(f"{name:6s} lab(lr) vs default(lr x N): relative gap after 10 epochs "
                     f"{_fmt(rel[min(9, epochs - 1)])}, largest {_fmt(rel.max(axis=0))}")
        # the claim: most of the difference is the summed loss, so lab(lr) ends nearer default(lr x N)
        closer += (np.abs(a[-1] - b[-1]) < np.abs(a[-1] - curves["default"][-1])).tolist()
    ok = all(closer)
    summary = (f"lab(lr) ends nearer default(lr x N) than default(lr) for {sum(closer)} of {len(closer)} "
               "(data set, seed) runs")
    print("\n".join(lines))
    print(f"{'PASS' if ok else 'FAIL'}: {summary}")
    if args.report is not None:
        rep = Report("conventions", "The lab's arithmetic vs refnet's default", args.report)
        rep.section("Runs")
        rep.text(f"Lab network (2-4-4-1, sigmoid, MSE), seeds {args.seeds}, full batch, float64; XOR for "
                 f"{args.epochs_xor} epochs, linear data (100 points) for {args.epochs_linear}. See "
                 "docs/conventions.md.")
        rep.table(["data", "setting", "lr", "final loss per seed", "accuracy %", f"epochs to < {args.threshold:g}"],
                  rows)
        rep.text(*(f"`{line.strip()}`" for line in lines if "relative gap" in line))
        rep.data.update({"seeds": list(args.seeds), "lr": args.lr, "closer_to_rescaled": to_json(closer)})
        rep.write(ok, summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
