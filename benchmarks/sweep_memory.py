"""Peak memory of a streamed sweep of many networks: bounded, whatever their number.

Run by hand (not part of the tests)::

    python benchmarks/sweep_memory.py                 # 100,000 networks, about a minute here
    python benchmarks/sweep_memory.py --networks 5000 # a shorter run

The lab's XOR network (ReLU + BCE, ``lab-sum``), 20 epochs each, every 10th loss
kept, each network with its own seed and learning rate, streamed by
:func:`refnet.sweep.iter_sweep` on two local worker processes; each result is
dropped once read. It prints the peak resident size of this process and of the
largest worker after a tenth of the networks and at the end: bounded memory means
the two agree.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from refnet.data import xor_easy  # noqa: E402
from refnet.sweep import Member, Setup, iter_sweep  # noqa: E402


def _peak_mib() -> float:
    """Peak resident size of the calling process, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _members(n: int) -> Iterator[Member]:
    lrs = np.geomspace(2e-4, 5e-3, 97)
    for k in range(n):
        yield Member(seed=k, lr=float(lrs[k % lrs.size]), convention="lab-sum")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    x, y = xor_easy()
    setup = Setup(x, y, epochs=20, activation="relu", loss="bce")
    ctx = multiprocessing.get_context("spawn")
    marks = {max(1, args.networks // 10): "a tenth", args.networks: "the end"}
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
        for i, result in enumerate(iter_sweep(setup, _members(args.networks), executor=pool,
                                              in_flight=2 * args.workers, keep_every=10), 1):
            del result
            if i in marks:
                workers = max(pool.submit(_peak_mib).result() for _ in range(4 * args.workers))
                print(f"after {i:,} networks ({marks[i]}, {time.perf_counter() - start:.0f} s): peak resident "
                      f"{_peak_mib():.0f} MiB in this process, {workers:.0f} MiB in the largest worker")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
