"""``python -m verify.conventions``: how much the lab's arithmetic changes a run.

Trains the lab's 2-4-4-1 sigmoid/MSE network (seeds 0-4 as one ensemble) under
the lab convention at lr, the default convention at the same lr, and the
default convention at lr x N (the rate that equalises summed and mean
gradients), on XOR and on the linear data, and prints final losses,
accuracies, epochs to a loss threshold and the gap between the curves.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from refnet import linear, mlp, train, xor_easy
from refnet.outcomes import first_below

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
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    for name, (x, y), epochs in (("xor", xor_easy(), args.epochs_xor),
                                 ("linear", linear(100, np.random.default_rng(0)), args.epochs_linear)):
        n = x.shape[0]
        curves = {}
        for label, convention, lr in (("lab", "lab", args.lr), ("default", "default", args.lr),
                                      ("default x N", "default", args.lr * n)):
            net = mlp(seed=args.seeds)
            h = train(net, x, y, lr=lr, epochs=epochs, convention=convention, quiet=args.quiet,
                      label=f"{name} {label}")
            curves[label] = np.asarray(h.loss, dtype=np.float64)
            print(f"{name:6s} {label:11s} lr={lr:<8g} final loss {_fmt(curves[label][-1])}"
                  f" accuracy {np.array2string(h.accuracy, precision=1)}"
                  f" epochs to <{args.threshold:g}: {first_below(curves[label], args.threshold).tolist()}")
        a, b = curves["lab"], curves["default x N"]
        rel = np.abs(a - b) / np.abs(a)
        print(f"{name:6s} lab(lr) vs default(lr x N): relative gap after 10 epochs "
              f"{_fmt(rel[min(9, epochs - 1)])}, largest {_fmt(rel.max(axis=0))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
