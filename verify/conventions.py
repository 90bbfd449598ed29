"""``python -m verify.conventions``: how much each reading of the lab's arithmetic changes a run.

Trains the lab's 2-4-4-1 sigmoid/MSE network (seeds 0-4 as one ensemble, built
with each convention's sigmoid) under the lab's published arithmetic ``lab``, the
earlier readings ``lab-evidence`` and ``lab-sum`` (the summed reading) at lr, and under the default
convention at lr and at lr x N (the rate that equalises a summed and a mean
gradient), with each reading's batching, on XOR and on the linear data, and prints final losses, accuracies,
epochs to a loss threshold and the gap between the curves.

In exact arithmetic a reading whose step is f default steps (f = N for a
summed gradient, 1 for a mean one such as the lab's published MSE, halved for the ``(y - t)``
MSE derivative)
follows the default run at lr x f except for its update order. Exit 0 when,
for every reading, data set and seed, the reading's run ends nearer that
*matched* default run than the other one (most of the difference between the
readings is the reduction of the gradient, not the order of the updates).
The experiments study (``verify.experiments``, section 8) makes the same
comparison on every setting of the lab, with its verdicts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from refnet import mlp, train
from refnet.conventions import Convention, Published, network_options, resolve
from refnet.data import linear, xor_easy
from refnet.outcomes import first_below
from refnet.validation import int_argument, output_dir_argument, real_argument

from .common.report import Cell, Report, to_json

__all__ = ["main", "READINGS_COMPARED", "matched_factor"]

READINGS_COMPARED: tuple[Convention, ...] = ("lab", "lab-evidence", "lab-sum")


def matched_factor(convention: Convention, n: int) -> float:
    """The multiple of lr at which the default convention takes the same step as ``convention``
    on ``n`` points (MSE), in exact arithmetic."""
    r = resolve(convention)
    if r is None or isinstance(r, Published):  # the lab's published MSE gradient is the mean's
        return 1.0
    f = float(n) if r.gradient == "sum" else 1.0
    return f / 2.0 if r.mse_derivative == "(y-t)" else f


def _batching(convention: Convention) -> int | None:
    r = resolve(convention)
    return None if r is None else r.batch_size


def _default_label(factor: float, batch: int | None) -> str:
    return ("default" if factor == 1.0 else f"default x {factor:g}") + ("" if batch is None else f" batch {batch}")


def _fmt(values: npt.NDArray[np.float64]) -> str:
    return "[" + " ".join(f"{v:.3g}" for v in values) + "]"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verify.conventions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lr", type=real_argument(0.0, open_minimum=True), default=0.1, help="the readings' learning rate (default 0.1)")
    parser.add_argument("--seeds", type=int_argument(0), nargs="+", default=[0, 1, 2, 3, 4], help="initialisation seeds")
    parser.add_argument("--epochs-xor", type=int_argument(1), default=20000, help="epochs on XOR (default 20000)")
    parser.add_argument("--epochs-linear", type=int_argument(1), default=3000, help="epochs on linear data (default 3000)")
    parser.add_argument("--threshold", type=real_argument(0.0, open_minimum=True), default=0.01, help="loss threshold for 'epochs to' (default 0.01)")
    parser.add_argument("--report", metavar="DIR", type=output_dir_argument, default=None,
                        help="write DIR/report.md and DIR/report.json (for python -m verify)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    lines: list[str] = []
    rows: list[list[Cell]] = []
    closer: dict[str, list[bool]] = {c: [] for c in READINGS_COMPARED}
    for name, (x, y), epochs in (("xor", xor_easy(), args.epochs_xor),
                                 ("linear", linear(100, np.random.default_rng(0)), args.epochs_linear)):
        n = x.shape[0]
        curves: dict[str, npt.NDArray[np.float64]] = {}
        batchings = {_batching(c) for c in READINGS_COMPARED}
        keys = sorted({(f, b) for b in batchings for f in {1.0, float(n)} | {matched_factor(c, n)
                                                                          for c in READINGS_COMPARED}},
                      key=lambda k: (k[1] or 0, k[0]))
        runs: list[tuple[str, Convention, float, int | None]] = [(c, c, args.lr, None) for c in READINGS_COMPARED]
        runs += [(_default_label(f, b), "default", args.lr * f, b) for f, b in keys]
        for label, convention, lr, batch in runs:
            sigmoid, relu = network_options(convention)
            net = mlp(seed=args.seeds, sigmoid=sigmoid, relu=relu)
            h = train(net, x, y, lr=lr, epochs=epochs, convention=convention, batch_size=batch, quiet=args.quiet,
                      label=f"{name} {label}")
            curves[label] = np.asarray(h.loss, dtype=np.float64)
            reached = first_below(curves[label], args.threshold).tolist()
            lines.append(f"{name:6s} {label:22s} lr={lr:<8g} final loss {_fmt(curves[label][-1])}"
                         f" accuracy {np.array2string(h.accuracy, precision=1)}"
                         f" epochs to <{args.threshold:g}: {reached}")
            rows.append([name, label, lr, _fmt(curves[label][-1]), np.array2string(h.accuracy, precision=1),
                         str(reached)])
        for c in READINGS_COMPARED:
            f, b = matched_factor(c, n), _batching(c)
            match = _default_label(f, b)
            other = _default_label(float(n) if f == 1.0 else 1.0, b)
            a, m, o = curves[c], curves[match], curves[other]
            with np.errstate(all="ignore"):
                rel = np.abs(a - m) / np.abs(a)
            lines.append(f"{name:6s} {c}(lr) vs {match}: relative gap after 10 epochs "
                         f"{_fmt(rel[min(9, epochs - 1)])}, largest {_fmt(rel.max(axis=0))}")
            closer[c] += (np.abs(a[-1] - m[-1]) < np.abs(a[-1] - o[-1])).tolist()
    ok = all(all(v) for v in closer.values())
    summary = "; ".join(f"{c}(lr) ends nearer its matched default run for {sum(v)} of {len(v)} (data set, seed) runs"
                        for c, v in closer.items())
    print("\n".join(lines))
    print(f"{'PASS' if ok else 'FAIL'}: {summary}")
    if args.report is not None:
        rep = Report("conventions", "The lab's arithmetic: readings vs refnet's default", args.report)
        rep.section("Runs")
        rep.text(f"Lab network (2-4-4-1, sigmoid, MSE), seeds {args.seeds}, each reading's batching, float64; XOR for "
                 f"{args.epochs_xor} epochs, linear data (100 points) for {args.epochs_linear}. Readings: "
                 + "; ".join(f"`{c}` = `{resolve(c)}`" for c in READINGS_COMPARED)
                 + ". See docs/conventions.md and docs/experiments.md (section 8).")
        rep.table(["data", "setting", "lr", "final loss per seed", "accuracy %", f"epochs to < {args.threshold:g}"],
                  rows)
        rep.text(*(f"`{line.strip()}`" for line in lines if "relative gap" in line))
        rep.data.update({"seeds": list(args.seeds), "lr": args.lr,
                         "readings": {c: str(resolve(c)) for c in READINGS_COMPARED},
                         "closer_to_matched": to_json(closer)})
        rep.write(ok, summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
