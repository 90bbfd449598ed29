"""Ensemble training speed against the lab's own program structure, in one run.

Run by hand (not part of the tests)::

    python benchmarks/ensemble.py            # full run, about two minutes here
    python benchmarks/ensemble.py --quick    # a smoke run of a few seconds

All runs train the lab's XOR network (2-4-4-1, ReLU hidden units, sigmoid
output, BCE with delta 1e-7, float64, full batch, lab update order, the loss
recorded every epoch):

1. ``baseline``: :mod:`benchmarks.lab_baseline`, one network at a time;
2. ``refnet single``: ``refnet.train`` on one network (blas kernel);
3. ``sweep blas`` / ``sweep portable``: :func:`refnet.sweep.sweep` of 1024
   networks, each with its own seed and learning rate, on local worker
   processes (end to end, including starting the workers, and again on a
   pool that is already running), plus the same sweep in this process.

It prints a table of rates and their ratios to the baseline measured in the
same run, the targets (single >= 4x, sweep blas >= 50x, sweep portable >=
25x), peak memory, the machine and the load average.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import refnet  # noqa: E402
from benchmarks import lab_baseline  # noqa: E402
from refnet.data import xor_easy  # noqa: E402
from refnet.sweep import Setup, default_chunk_size, grid, sweep  # noqa: E402

TARGETS = {"refnet single": 4.0, "sweep blas, 2 workers, warm pool": 50.0,
           "sweep portable, 2 workers, warm pool": 25.0}
"""Targets apply to the sustained rate (workers already running): start-up is a
fixed cost of about a second per sweep, printed separately."""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _best(f: Callable[[], float], repeats: int) -> float:
    return max(f() for _ in range(repeats))


def _peak_mib() -> float:
    """Peak resident size of the calling process, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warm(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start every worker and import refnet in it."""
    futures = [pool.submit(default_chunk_size, Setup(np.zeros((1, 2)), np.zeros((1, 1)), 1))
               for _ in range(4 * workers)]
    for f in futures:
        f.result()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", type=int, default=1024, help="networks in each sweep (default 1024)")
    parser.add_argument("--sweep-epochs", type=int, default=10000,
                        help="epochs per network in the sweeps (default 10000)")
    parser.add_argument("--single-epochs", type=int, default=20000,
                        help="epochs for the one-network runs (default 20000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for the sweeps (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="one-network runs repeated, best kept (default 3)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test of the script")
    args = parser.parse_args(argv)
    if args.quick:
        args.networks, args.sweep_epochs, args.single_epochs, args.repeats = 64, 100, 2000, 1

    x, y = xor_easy()
    lr0 = 0.001
    load_before = os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    rates: dict[str, float] = {}
    notes: dict[str, str] = {}
    worker_peaks: dict[str, float] = {}

    def baseline() -> float:
        t = time.perf_counter()
        lab_baseline.run(x, y, args.single_epochs, lr=lr0, seed=0)
        return args.single_epochs / (time.perf_counter() - t)

    def single() -> float:
        net = refnet.mlp(activation="relu", loss="bce", seed=0)
        t = time.perf_counter()
        refnet.train(net, x, y, lr=lr0, epochs=args.single_epochs, convention="lab-sum")
        return args.single_epochs / (time.perf_counter() - t)

    print(f"baseline and single network: {args.single_epochs} epochs, best of {args.repeats}", file=sys.stderr)
    # interleave the two so that a change of machine load hits both
    base_runs, single_runs = [], []
    for _ in range(args.repeats):
        base_runs.append(baseline())
        single_runs.append(single())
    rates["baseline (lab structure)"] = max(base_runs)
    rates["refnet single"] = max(single_runs)

    setup = Setup(x, y, epochs=args.sweep_epochs, activation="relu", loss="bce")
    seeds = range(args.networks)
    lrs = np.geomspace(2e-4, 5e-3, args.networks)
    work = args.networks * args.sweep_epochs
    chunk = default_chunk_size(setup)
    print(f"sweeps: {args.networks} networks x {args.sweep_epochs} epochs, chunks of {chunk}", file=sys.stderr)
    for kernel in ("blas", "portable"):
        members = [m for s, r in zip(seeds, lrs) for m in grid([s], [r], convention="lab-sum", kernel=kernel)]
        t = time.perf_counter()
        res = sweep(setup, members, workers=args.workers, quiet=False)
        e2e_seconds = time.perf_counter() - t
        rates[f"sweep {kernel}, {args.workers} workers"] = work / e2e_seconds
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
            _warm(pool, args.workers)
            t = time.perf_counter()
            warm = sweep(setup, members, executor=pool, in_flight=2 * args.workers)
            warm_seconds = time.perf_counter() - t
            rates[f"sweep {kernel}, {args.workers} workers, warm pool"] = work / warm_seconds
            notes[f"sweep {kernel}, {args.workers} workers"] = (
                f"end to end {e2e_seconds:.1f} s including starting the workers; "
                f"{warm_seconds:.1f} s on a running pool")
            worker_peaks[kernel] = max(pool.submit(_peak_mib).result() for _ in range(4 * args.workers))
        t = time.perf_counter()
        here = sweep(setup, members[: max(1, args.networks // 4)], workers=0)
        rates[f"sweep {kernel}, in this process"] = len(here) * args.sweep_epochs / (time.perf_counter() - t)
        same = all(np.array_equal(a.loss, b.loss, equal_nan=True) for a, b in zip(res, warm))
        same = same and all(np.array_equal(a.loss, b.loss, equal_nan=True) for a, b in zip(res, here))
        outcomes = {o: sum(r.readout.outcome == o for r in res) for o in ("converged", "stalled", "diverged")}
        notes[f"sweep {kernel}, in this process"] = (
            f"{len(here)} networks; runs agree: {same}; outcomes {outcomes}")

    peak_main = _peak_mib()
    load_after = os.getloadavg()
    base = rates["baseline (lab structure)"]

    print()
    print(f"date      {started:%Y-%m-%d %H:%M} UTC")
    print(f"machine   {_cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}")
    print(f"software  Python {platform.python_version()}, NumPy {np.__version__}, refnet {refnet.__version__}")
    print(f"load avg  {load_before[0]:.2f} before, {load_after[0]:.2f} after (1-minute)")
    print()
    print(f"| {'run':<38} | {'epochs/s (net-epochs/s)':>24} | {'x baseline':>10} | {'target':>7} | {'met':>4} |")
    print(f"|{'-' * 40}|{'-' * 26}|{'-' * 12}|{'-' * 9}|{'-' * 6}|")
    ok = True
    for name, rate in rates.items():
        ratio = rate / base
        target = TARGETS.get(name)
        met = "" if target is None else ("yes" if ratio >= target else "no")
        ok = ok and (target is None or ratio >= target)
        tgt = "" if target is None else f">= {target:g}"
        print(f"| {name:<38} | {rate:>24,.0f} | {ratio:>10.1f} | {tgt:>7} | {met:>4} |")
    print()
    for name, note in notes.items():
        print(f"{name}: {note}")
    held = (2 * args.networks + args.networks // 4) * args.sweep_epochs * 8 / 2**20
    print(f"peak memory: {peak_main:.0f} MiB this process (it holds every loss of three sweeps, "
          f"{held:.0f} MiB); workers (one chunk of {chunk} in flight each, all losses kept): "
          + ", ".join(f"{k} {v:.0f} MiB" for k, v in worker_peaks.items()))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
