"""Training speed against the lab's program structure and a members-innermost NumPy peer, in one run.

Run by hand (not part of the tests)::

    python benchmarks/speed.py             # three rounds, about three minutes here
    python benchmarks/speed.py --quick     # a smoke run of a few seconds

Every run trains the lab's XOR network (2-4-4-1, float64, the 21-point XOR set,
the loss of every epoch kept):

* single network, four configurations: the ``default`` and ``lab`` conventions,
  each with sigmoid + MSE and ReLU + BCE. Each is timed beside
  :mod:`benchmarks.lab_baseline` doing the same work (same model, the same
  batching: full batch for ``default``, mini-batches of 20 for ``lab``; the
  mean gradient), so the ratio is refnet over the lab's own structure.
* sweeps of 1,024 networks, ReLU + BCE, 2,000 epochs, each with its own seed
  and learning rate, under ``lab-sum`` (full batch, summed gradient, the lab's
  update order): :func:`refnet.sweep.sweep` with the ``blas`` and the
  ``portable`` kernel, on two worker processes that are already running and in
  this process, and :mod:`benchmarks.peer_sweep`, a plain NumPy program with the
  member axis innermost from start to end (the peer to beat), in this process.
  Ratios are to the lab-style baseline of one ReLU + BCE network (full batch,
  summed gradient) and to the peer, both measured in the same round.

The rounds are interleaved so that a change in the machine's load hits every
run; the table gives the median of the rounds and their spread (min-max).
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import refnet  # noqa: E402
from benchmarks import lab_baseline, peer_sweep  # noqa: E402
from refnet.conventions import sigmoid_of  # noqa: E402
from refnet.data import xor_easy  # noqa: E402
from refnet.sweep import Setup, default_chunk_size, grid, sweep  # noqa: E402

SINGLES = [("default", "sigmoid", "mse"), ("default", "relu", "bce"), ("lab-evidence", "sigmoid", "mse"),
           ("lab-evidence", "relu", "bce")]
TARGETS = {"single": 4.0, "sweep blas, 2 workers": 65.0, "sweep portable, 2 workers": 40.0}
PEER_TARGETS = {"sweep blas, 2 workers": 1.5, "sweep blas, this process": 1.0}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _rate(work: float, f: Callable[[], object]) -> float:
    t = time.perf_counter()
    f()
    return work / (time.perf_counter() - t)


def _warm(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start every worker and import refnet in it."""
    futures = [pool.submit(default_chunk_size, Setup(np.zeros((1, 2)), np.zeros((1, 1)), 1))
               for _ in range(4 * workers)]
    for f in futures:
        f.result()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--single-epochs", type=int, default=10000, help="epochs of a single-network run")
    parser.add_argument("--networks", type=int, default=1024, help="networks in a sweep")
    parser.add_argument("--sweep-epochs", type=int, default=2000, help="epochs of each network in a sweep")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the sweeps")
    parser.add_argument("--json", type=Path, help="write every measured rate to this file")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of the script")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.single_epochs, args.networks, args.sweep_epochs = 1, 500, 64, 50

    x, y = xor_easy()
    lr0 = 0.001
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    rates: dict[str, list[float]] = {}
    notes: list[str] = []

    def record(name: str, value: float) -> None:
        rates.setdefault(name, []).append(value)

    setup = Setup(x, y, epochs=args.sweep_epochs, activation="relu", loss="bce")
    lrs = np.geomspace(2e-4, 5e-3, args.networks)
    members = {k: [m for s, r in zip(range(args.networks), lrs)
                   for m in grid([s], [r], convention="lab-sum", kernel=k)] for k in ("blas", "portable")}
    sweep_work = args.networks * args.sweep_epochs
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
        _warm(pool, args.workers)
        for r in range(args.rounds):
            print(f"round {r + 1} of {args.rounds}", file=sys.stderr)
            for convention, activation, loss in SINGLES:
                name = f"{convention}, {activation} + {loss}"
                batch = refnet.conventions.reading(convention).batch_size if convention != "default" else None

                def base() -> None:
                    lab_baseline.run(x, y, args.single_epochs, lr=lr0, activation=activation, loss=loss,
                                     mean=True, batch_size=batch)

                def ours() -> None:
                    net = refnet.mlp(activation=activation, loss=loss, seed=0,  # type: ignore[arg-type]
                                     sigmoid=sigmoid_of(convention))  # type: ignore[arg-type]
                    refnet.train(net, x, y, lr=lr0, epochs=args.single_epochs, convention=convention)  # type: ignore[arg-type]

                record(f"baseline: {name}", _rate(args.single_epochs, base))
                record(f"single: {name}", _rate(args.single_epochs, ours))
            record("baseline: lab-sum, relu + bce", _rate(args.single_epochs, lambda: lab_baseline.run(
                x, y, args.single_epochs, lr=lr0)))
            record("peer, this process", _rate(sweep_work, lambda: peer_sweep.run(x, y, args.sweep_epochs, lrs)))
            for kernel in ("blas", "portable"):
                runs: list[list[refnet.sweep.MemberResult]] = []

                def pooled() -> None:
                    runs.append(sweep(setup, members[kernel], executor=pool, in_flight=2 * args.workers))

                def here() -> None:
                    runs.append(sweep(setup, members[kernel], workers=0))

                record(f"sweep {kernel}, {args.workers} workers", _rate(sweep_work, pooled))
                record(f"sweep {kernel}, this process", _rate(sweep_work, here))
                same = all(np.array_equal(a.loss, b.loss, equal_nan=True) for a, b in zip(*runs))
                if r == 0:
                    notes.append(f"sweep {kernel}: workers and this process agree bit for bit: {same}")

    load_after = os.getloadavg()
    med = {k: statistics.median(v) for k, v in rates.items()}
    print()
    print(f"date      {started:%Y-%m-%d %H:%M} UTC")
    print(f"machine   {_cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}")
    print(f"software  Python {platform.python_version()}, NumPy {np.__version__}, refnet {refnet.__version__}")
    print(f"load avg  {load_before[0]:.2f} before, {load_after[0]:.2f} after (1-minute)")
    print(f"sizes     single {args.single_epochs} epochs; sweeps {args.networks} networks x "
          f"{args.sweep_epochs} epochs, chunks of {default_chunk_size(setup)}; {args.rounds} rounds")
    print()
    print("| run | epochs/s (network-epochs/s), median | spread | x baseline | x peer | target | met |")
    print("| --- | ---: | --- | ---: | ---: | --- | --- |")
    ok = True
    for name, values in rates.items():
        if name.startswith("baseline") or name.startswith("peer"):
            base_ratio = ""
            if name.startswith("peer"):
                base_ratio = f"{med[name] / med['baseline: lab-sum, relu + bce']:.1f}"
            print(f"| {name} | {med[name]:,.0f} | {min(values):,.0f}-{max(values):,.0f} | {base_ratio} | | | |")
            continue
        if name.startswith("single"):
            base = med["baseline" + name[len("single"):]]
            target, ratio = TARGETS["single"], med[name] / base
            peer_txt, met = "", ratio >= TARGETS["single"]
            tgt = f">= {target:g}x"
        else:
            base = med["baseline: lab-sum, relu + bce"]
            ratio = med[name] / base
            peer = med[name] / med["peer, this process"]
            peer_txt = f"{peer:.2f}"
            goals = []
            met = True
            if name in TARGETS:
                goals.append(f">= {TARGETS[name]:g}x")
                met = met and ratio >= TARGETS[name]
            if name in PEER_TARGETS:
                goals.append(f">= {PEER_TARGETS[name]:g}x peer")
                met = met and peer >= PEER_TARGETS[name]
            tgt = ", ".join(goals)
        ok = ok and met
        print(f"| {name} | {med[name]:,.0f} | {min(values):,.0f}-{max(values):,.0f} | {ratio:.2f} | {peer_txt} "
              f"| {tgt} | {('yes' if met else 'no') if tgt else ''} |")
    print()
    for note in notes:
        print(note)
    if args.json:
        args.json.write_text(json.dumps({"rates": rates, "load": [load_before, load_after],
                                         "date": started.isoformat()}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
