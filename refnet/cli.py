"""``python -m refnet train``: train the lab's network from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from .data import DATASETS, dataset
from .layers import ACTIVATIONS
from .losses import LOSSES
from .network import mlp
from .precision import SUPPORTED
from .conventions import CONVENTIONS, resolve
from .train import train

__all__ = ["main", "DEFAULTS"]

DEFAULTS = {
    # Settings under which `python -m refnet train --data xor` reaches 100%
    # (checked by tests/test_cli.py): the lab's 2-4-4-1 sigmoid/MSE network.
    "hidden": [4, 4], "activation": "sigmoid", "loss": "mse", "lr": 1.0,
    "epochs": 20000, "dtype": "float64", "seed": 0, "init": "normal",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m refnet", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the lab's perceptron and report loss and accuracy")
    t.add_argument("--data", choices=DATASETS, default="xor", help="data set (default xor)")
    t.add_argument("--n", type=int, default=100, help="points in the linear data set (default 100)")
    t.add_argument("--hidden", type=int, nargs="+", default=DEFAULTS["hidden"], help="hidden layer sizes (default 4 4)")
    t.add_argument("--activation", choices=sorted(ACTIVATIONS), default=DEFAULTS["activation"], help="hidden activation")
    t.add_argument("--loss", choices=sorted(LOSSES), default=DEFAULTS["loss"], help="loss function")
    t.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="learning rate (> 0)")
    t.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="epochs (>= 0)")
    t.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default: full batch)")
    t.add_argument("--momentum", type=float, default=0.0, help="momentum in [0, 1)")
    t.add_argument("--convention", default="default",
                   help="'default' (mean loss, update after backward), 'lab' (the reading of the lab's "
                        "arithmetic that reproduces it best), 'lab-sum' (summed gradient), or a reading's "
                        "label such as 'lab[gradient=sum,batch=20]' (default: default)")
    t.add_argument("--dtype", choices=sorted(SUPPORTED), default=DEFAULTS["dtype"], help="precision of the network")
    t.add_argument("--init", default=DEFAULTS["init"], help="initialisation scheme: normal, xavier or he")
    t.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="seed for the initial weights (and linear data)")
    t.add_argument("--save", default=None, help="write the trained parameters to this .npz file")
    t.add_argument("--plot", default=None, help="write the comparison figure and learning curve to this PNG")
    t.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    x, y = dataset(args.data, args.n, np.random.default_rng(args.seed))
    try:
        reading = resolve(args.convention)
        net = mlp(2, args.hidden, 1, activation=args.activation, loss=args.loss,
                  init=args.init, dtype=args.dtype, seed=args.seed,
                  sigmoid=reading.sigmoid if reading is not None else "stable")
        history = train(net, x, y, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                        convention=args.convention, momentum=args.momentum, quiet=args.quiet)
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    final = float(history.final_loss[0]) if args.epochs else float("nan")
    print(f"network: {net}")
    print(f"epochs: {args.epochs}  lr: {args.lr}  convention: {history.convention}  time: {history.seconds:.2f} s")
    print(f"final loss: {final:.6g}")
    print(f"accuracy: {history.accuracy[0]:.1f}%")
    if args.save:
        from .io import save
        save(net, args.save)
        print(f"saved parameters to {args.save}")
    if args.plot:
        try:
            from .plotting import plot_run
        except ImportError as exc:
            print(f"error: --plot needs matplotlib (pip install 'refnet[plot]'): {exc}", file=sys.stderr)
            return 2
        plot_run(x, y, net.predict(x)[0], history.loss[:, 0], args.plot,
                 title=f"{args.data}, {args.activation}/{args.loss}, lr {args.lr}")
        print(f"wrote {args.plot}")
    return 0
