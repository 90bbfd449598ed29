"""Cost of the overflow guard on the lab's XOR training, measured in one run.

Three variants of the same training (refnet's 2-4-4-1 sigmoid network, MSE,
the lab convention, lr 0.1, full batch of the 21-point XOR set, float64,
seed 0) are timed in interleaved rounds, so that load from other processes
hits all of them alike:

* ``none``: ``train`` called without the ``guard`` argument (no observer),
* ``off``: ``guard="off"``,
* ``raise``: ``guard="raise"`` (every produced array checked, once per step).

The reported figure is the median over rounds of each variant's training
loop time (``History.seconds``) and its overhead relative to ``none``.

Run: ``python benchmarks/guard_overhead.py [--epochs 3000] [--rounds 9] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Sequence

import numpy as np

from refnet.data import xor_easy
from refnet.network import mlp
from refnet.train import train

VARIANTS = ("none", "off", "raise")


def run_once(variant: str, epochs: int, dtype: str, batch_size: int | None) -> float:
    """Seconds of one training loop of ``variant``."""
    x, y = xor_easy()
    net = mlp(dtype=dtype, seed=0)
    if variant == "none":
        history = train(net, x, y, lr=0.1, epochs=epochs, convention="lab", batch_size=batch_size)
    else:
        history = train(net, x, y, lr=0.1, epochs=epochs, convention="lab", batch_size=batch_size,
                        guard=variant)
    return history.seconds


def measure(epochs: int, rounds: int, dtype: str, batch_size: int | None) -> dict[str, object]:
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    run_once("raise", min(epochs, 200), dtype, batch_size)  # warm-up, not timed
    for r in range(rounds):
        order = VARIANTS if r % 2 == 0 else tuple(reversed(VARIANTS))
        for variant in order:
            times[variant].append(run_once(variant, epochs, dtype, batch_size))
    median = {v: statistics.median(t) for v, t in times.items()}
    base = median["none"]
    return {
        "dtype": dtype,
        "batch_size": batch_size,
        "epochs": epochs,
        "rounds": rounds,
        "median_seconds": median,
        "microseconds_per_epoch": {v: 1e6 * s / epochs for v, s in median.items()},
        "overhead_percent": {v: 100.0 * (median[v] / base - 1.0) for v in VARIANTS if v != "none"},
        "all_seconds": times,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3000, help="epochs per timed training run")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds per variant (median reported)")
    parser.add_argument("--dtype", default="float64", help="float32 or float64")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="mini-batch size (default: full batch, as the lab's XOR run)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    result = measure(args.epochs, args.rounds, args.dtype, args.batch_size)
    result["date_utc"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    result["machine"] = f"{platform.machine()}, {platform.processor() or 'unknown cpu'}, {platform.system()}"
    result["python"] = platform.python_version()
    result["numpy"] = np.__version__
    us = result["microseconds_per_epoch"]
    over = result["overhead_percent"]
    assert isinstance(us, dict) and isinstance(over, dict)
    print(f"guard overhead, lab XOR training ({args.dtype}, batch {args.batch_size or 'full'}, "
          f"{args.epochs} epochs x {args.rounds} rounds, median)")
    for v in VARIANTS:
        extra = "" if v == "none" else f"  overhead {over[v]:+.1f}%"
        print(f"  {v:6s} {us[v]:8.1f} us/epoch{extra}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    ok = over["raise"] <= 25.0 and over["off"] <= 2.0
    print("targets (raise <= 25%, off <= 2%):", "met" if ok else "NOT met", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
