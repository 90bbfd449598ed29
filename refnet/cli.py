"""python -m refnet: train the lab's network, evaluate saved weights, predict from them.

Commands: train (build and train the lab's perceptron), eval (loss and
accuracy of a saved network on a data set), predict (one probability per
line for the points of a CSV file).

Every argument is checked before any work starts: output paths are proven
writable by creating them (and removing them again), points must be finite
real numbers. A bad one is an argparse error line and exit status 2, never a
traceback; predict never prints a NaN (exit 1 instead).
A training run that goes non-finite exits 1: with --guard raise (the
default), warn or record the guard's first event is printed (epoch, phase,
layer, operation); with --guard off a non-finite final loss or parameter is
one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

import numpy as np

from .conventions import network_options
from .data import DATASETS, dataset
from .events import NumericalError
from .guard import MODES, Guard
from .init import INITIALISERS
from .layers import ACTIVATIONS
from .losses import LOSSES
from .io import read_network
from .metrics import accuracy
from .network import mlp
from .precision import SUPPORTED
from .train import prepare_data, train
from .validation import input_file_argument, int_argument, output_file_argument, real_argument, real_array

__all__ = ["main", "DEFAULTS", "EXIT_OK", "EXIT_NONFINITE", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_NONFINITE = 1
"""The run went non-finite (reported by the guard, or a non-finite final loss)."""
EXIT_USAGE = 2
"""A bad argument (argparse's status)."""

DEFAULTS = {
    # Settings under which `python -m refnet train --data xor` reaches 100%
    # (checked by tests/test_cli.py): the lab's 2-4-4-1 sigmoid/MSE network.
    "hidden": [4, 4], "activation": "sigmoid", "loss": "mse", "lr": 1.0,
    "epochs": 20000, "dtype": "float64", "seed": 0, "init": "normal",
}

_FLAGS = {"seed": "--seed", "n": "--n", "hidden": "--hidden", "lr": "--lr", "epochs": "--epochs",
          "batch_size": "--batch-size", "momentum": "--momentum", "convention": "--convention",
          "dtype": "--dtype", "init": "--init", "activation": "--activation", "loss": "--loss",
          "guard": "--guard", "mode": "--guard"}


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help with every default shown and the description's paragraphs kept."""


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    p = argparse.ArgumentParser(prog="python -m refnet", description=__doc__, formatter_class=_Formatter)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the lab's perceptron and report loss and accuracy",
                       description=__doc__, formatter_class=_Formatter)
    t.add_argument("--data", choices=DATASETS, default="xor", help="data set")
    t.add_argument("--n", type=int_argument(1), default=100, help="points in the linear data set (>= 1)")
    t.add_argument("--hidden", type=int_argument(1), nargs="+", default=DEFAULTS["hidden"],
                   help="hidden layer sizes, each >= 1")
    t.add_argument("--activation", choices=sorted(ACTIVATIONS), default=DEFAULTS["activation"], help="hidden activation")
    t.add_argument("--loss", choices=sorted(LOSSES), default=DEFAULTS["loss"], help="loss function")
    t.add_argument("--lr", type=real_argument(0.0, open_minimum=True), default=DEFAULTS["lr"],
                   help="learning rate (> 0, and a positive normal number once rounded to --dtype)")
    t.add_argument("--epochs", type=int_argument(0), default=DEFAULTS["epochs"],
                   help="epochs (>= 0; the loss history must fit in refnet.train.HISTORY_BYTES)")
    t.add_argument("--batch-size", type=int_argument(1), default=None, help="mini-batch size (none: full batch, or the reading's)")
    t.add_argument("--momentum", type=real_argument(0.0, 1.0, open_maximum=True), default=0.0,
                   help="momentum in [0, 1)")
    t.add_argument("--convention", default="default",
                   help="'default' (mean loss, update after backward), 'lab' (the lab's published "
                        "arithmetic; its whole program is refnet.lab), 'lab-page14' (its older BCE), "
                        "'lab-evidence' or 'lab-sum' (earlier readings), or a reading's label such as "
                        "'lab[gradient=sum,batch=20]'")
    t.add_argument("--dtype", choices=sorted(SUPPORTED), default=DEFAULTS["dtype"], help="precision of the network")
    t.add_argument("--init", choices=sorted(INITIALISERS), default=DEFAULTS["init"], help="initialisation scheme")
    t.add_argument("--seed", type=int_argument(0), default=DEFAULTS["seed"],
                   help="seed for the initial weights (and linear data), >= 0")
    t.add_argument("--guard", choices=MODES, default="raise",
                   help="non-finite detection: raise (stop at the first NaN/inf and report where), "
                        "warn or record (finish, then report the first event), off (only the final loss "
                        "is checked); a non-finite run exits 1 in every mode")
    t.add_argument("--save", type=output_file_argument, default=None, metavar="PATH",
                   help="write the trained parameters to this .npz file (its folder must exist)")
    t.add_argument("--plot", type=output_file_argument, default=None, metavar="PATH",
                   help="write the comparison figure and learning curve to this PNG (its folder must exist; "
                        "needs matplotlib)")
    t.add_argument("--quiet", action="store_true", help="no progress on stderr")
    e = sub.add_parser("eval", help="loss and accuracy of saved weights on a data set",
                       description="Loss and accuracy of a network saved with train --save (or refnet.save), "
                                   "built from the architecture its file records.", formatter_class=_Formatter)
    e.add_argument("--weights", type=input_file_argument, required=True, metavar="PATH", help="the .npz file")
    e.add_argument("--data", choices=DATASETS, default="xor", help="data set")
    e.add_argument("--n", type=int_argument(1), default=100, help="points in the linear data set (>= 1)")
    e.add_argument("--seed", type=int_argument(0), default=DEFAULTS["seed"], help="seed of the linear data set")
    e.add_argument("--plot", type=output_file_argument, default=None, metavar="PATH",
                   help="write the decision boundary over the data to this PNG (needs matplotlib)")
    q = sub.add_parser("predict", help="one probability per line for the points of a CSV file",
                       description="Read points (one per line, comma-separated features) and print the saved "
                                   "network's output probability for each.", formatter_class=_Formatter)
    q.add_argument("--weights", type=input_file_argument, required=True, metavar="PATH", help="the .npz file")
    q.add_argument("points", type=input_file_argument, metavar="CSV",
                   help="points, one per line, features separated by commas ('#' starts a comment)")
    return p, t


def _flag_message(exc: BaseException) -> str:
    """A refnet error (``name: what``) in argparse's words (``argument --flag: what``)."""
    text = str(exc)
    name, sep, rest = text.partition(": ")
    flag = _FLAGS.get(name.split("[")[0]) if sep else None
    return f"argument {flag}: {rest}" if flag else text


def _use_saved(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``eval`` and ``predict``: a network read from its weight file, used on data."""
    prog = f"{parser.prog} {args.command}"
    if args.command == "eval" and args.plot is not None:
        try:
            from .plotting import plot_boundary
        except ImportError as exc:
            print(f"{prog}: error: argument --plot: needs matplotlib (pip install 'refnet[plot]'): {exc}",
                  file=sys.stderr)
            return EXIT_USAGE
    try:
        net = read_network(args.weights)
        if args.command == "predict":
            x = _read_points(args.points, net.in_features)
        else:
            x, y = dataset(args.data, args.n, np.random.default_rng(args.seed))
            xa, ya = prepare_data(net, x, y)
    except (ValueError, TypeError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "predict":
        out = net.predict(x)[0]
        rows = np.flatnonzero(~np.isfinite(out).all(axis=1))
        if rows.size:  # finite points, finite weights, and still no number: never printed as one
            print(f"{prog}: error: the network's output is NaN or infinite for {rows.size} point"
                  f"{'s' if rows.size != 1 else ''} of {args.points} (first: data row {int(rows[0]) + 1}); "
                  "nothing printed", file=sys.stderr)
            return EXIT_NONFINITE
        for row in out:
            print(" ".join(f"{float(v):.17g}" for v in row))
        return EXIT_OK
    with np.errstate(all="ignore"):
        out = net.forward(xa)
        loss = float(net.loss.value(out, ya)[0])
        acc = float(accuracy(net.loss.link(out), ya[0])[0])
    print(f"network: {net}")
    print(f"data: {args.data} ({xa.shape[1]} points)")
    print(f"loss (of the saved weights): {loss:.6g}")
    print(f"accuracy: {acc:.1f}%")
    if args.plot is not None:
        try:  # proven writable before any work; this catches a disk that filled up meanwhile
            plot_boundary(net, x, y, args.plot,
                          title=f"{args.weights.name} on {args.data}: decision boundary (p = 0.5)")
        except (OSError, ValueError) as exc:
            print(f"{prog}: error: could not write --plot: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"wrote {args.plot}")
    return EXIT_OK if np.isfinite(loss) else EXIT_NONFINITE


def _read_points(path: str, features: int) -> np.ndarray:
    """The points of a CSV file as an ``(N, features)`` float64 array (``ValueError`` naming ``points``
    for a file that is not numbers, rows of another width, or a NaN or infinite value)."""
    try:
        with warnings.catch_warnings():  # an empty file: loadtxt warns, the shape check below answers
            warnings.filterwarnings("ignore", "loadtxt: input contained no data", UserWarning)
            rows = np.loadtxt(path, delimiter=",", comments="#", dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise ValueError(f"points: {path} is not a CSV of numbers ({exc})") from None
    if rows.shape[0] == 0 or rows.shape[1] != features:
        raise ValueError(f"points: expected rows of {features} comma-separated numbers, got shape {rows.shape}")
    try:
        return real_array("points", rows, finite=True)
    except ValueError as exc:  # name the file too: "points: expected finite numbers, got nan at index (0, 1) ..."
        raise ValueError(f"{exc} in {path} (index: data row, column, from 0)") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser, train_parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage and error line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE

    def usage_error(message: str) -> int:
        train_parser.print_usage(sys.stderr)
        print(f"{train_parser.prog}: error: {message}", file=sys.stderr)
        return EXIT_USAGE

    if args.command in ("eval", "predict"):
        return _use_saved(args, parser)

    if args.plot is not None:
        try:
            from .plotting import plot_run
        except ImportError as exc:
            return usage_error(f"argument --plot: needs matplotlib (pip install 'refnet[plot]'): {exc}")
    try:
        x, y = dataset(args.data, args.n, np.random.default_rng(args.seed))
        sigmoid, relu = network_options(args.convention)
        net = mlp(2, args.hidden, 1, activation=args.activation, loss=args.loss,
                  init=args.init, dtype=args.dtype, seed=args.seed, sigmoid=sigmoid, relu=relu)
        guard = Guard(net, args.guard)
        # train validates every argument (lr in the network's dtype, the history's memory)
        # before the first step: an error here means no work was done
        history = train(net, x, y, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                        convention=args.convention, momentum=args.momentum, quiet=args.quiet,
                        guard=guard)
    except NumericalError as exc:
        print(f"{train_parser.prog}: non-finite values, training stopped: {exc.event.message()}",
              file=sys.stderr)
        return EXIT_NONFINITE
    except (ValueError, TypeError) as exc:
        return usage_error(_flag_message(exc))
    final = float(history.final_loss[0]) if args.epochs else None
    print(f"network: {net}")
    print(f"epochs: {args.epochs}  lr: {args.lr}  convention: {history.convention}  "
          f"guard: {args.guard}  time: {history.seconds:.2f} s")
    print("final loss: " + ("none (0 epochs)" if final is None else f"{final:.6g}"))
    print(f"accuracy: {history.accuracy[0]:.1f}%")
    try:  # both paths were proven writable before training; this catches a disk that filled up meanwhile
        if args.save is not None:
            from .io import save
            save(net, args.save)
            print(f"saved parameters to {args.save}")
        if args.plot is not None:
            plot_run(x, y, net.predict(x)[0], history.loss[:, 0], args.plot,
                     title=f"{args.data}, {args.activation}/{args.loss}, lr {args.lr}")
            print(f"wrote {args.plot}")
    except (OSError, ValueError) as exc:
        print(f"{train_parser.prog}: error: could not write the output after training: {exc}", file=sys.stderr)
        return EXIT_USAGE
    first = guard.first
    if first is not None:
        print(f"{train_parser.prog}: non-finite values ({args.guard} mode, {len(guard.events)} "
              f"event{'s' if len(guard.events) != 1 else ''}), first: {first.message()}", file=sys.stderr)
        return EXIT_NONFINITE
    params_finite = bool(np.all(np.isfinite(net.get_flat())))
    if (final is not None and not np.isfinite(final)) or not params_finite:
        what = f"final loss is {final}" if final is not None and not np.isfinite(final) else "final loss is finite"
        print(f"{train_parser.prog}: non-finite run: {what}"
              f"{'' if params_finite else ', parameters hold NaN or inf'} (--guard {args.guard}; "
              "rerun with --guard raise to see where it started)", file=sys.stderr)
        return EXIT_NONFINITE
    return EXIT_OK
