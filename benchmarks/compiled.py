"""The compiled twin (``kernel="compiled"``) against the lab-style code, the einsum peer and refnet's NumPy path.

Interleaved rounds in one process, medians, ratios within the run; the 1-minute load
average before and after is printed with the table (the machine is shared). Rows:

* one network, 2-4-4-1 on the 21 XOR points, full batch, sigmoid+MSE and ReLU+BCE, under
  ``default`` and ``lab-sum``: ``benchmarks.lab_baseline`` (target: compiled >= 10x), refnet's
  NumPy path (``blas`` and ``portable``) planned and unplanned (does :mod:`refnet.plan` still
  earn its place?);
* a sweep of ``--networks`` ReLU+BCE networks (``lab-sum``): ``benchmarks.peer_sweep`` (einsum,
  members innermost; target >= 1.25x), refnet's ``portable`` sweep on ``--workers`` processes
  (target >= 2x), the compiled ensemble (numba prange over the cores, this process);
* first-call compile time and cached load time, each in a fresh process with its own cache.

Every refnet run passes ``guard="off"`` (the lab-style code checks nothing); one row per
configuration gives the compiled run under ``guard="warn"``, whose loop then checks every
value it computes.

``python -m benchmarks.compiled [--quick]``; exit 0 when every target is met.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

import refnet
from benchmarks import lab_baseline, peer_sweep
from refnet.conventions import sigmoid_of
from refnet.data import xor_easy
from refnet.plan import Plan
from refnet.sweep import Setup, grid, sweep

SINGLES = [("default", "sigmoid", "mse"), ("default", "relu", "bce"), ("lab-sum", "sigmoid", "mse"),
           ("lab-sum", "relu", "bce")]


def _rate(work: float, f: Callable[[], object]) -> float:
    start = time.perf_counter()
    f()
    return work / (time.perf_counter() - start)


def _never(net: object, arith: object) -> bool:
    return False


def _first_call(cache: str) -> float:
    code = ("import time, numpy as np, refnet; from refnet.data import xor_easy; x, y = xor_easy(); t = time.perf_counter();"
            "refnet.train(refnet.mlp(seed=0, kernel='compiled'), x, y, lr=0.1, epochs=1);"
            "refnet.train(refnet.mlp(seed=[0, 1], kernel='compiled'), x, y, lr=0.1, epochs=1);"
            "refnet.train(refnet.mlp(seed=list(range(8)), kernel='compiled'), x, y, lr=0.1, epochs=1);"
            "print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "NUMBA_CACHE_DIR": cache},
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--single-epochs", type=int, default=10_000, help="epochs of a single-network run")
    p.add_argument("--networks", type=int, default=1024, help="networks in a sweep")
    p.add_argument("--sweep-epochs", type=int, default=2000, help="epochs of each network in a sweep")
    p.add_argument("--workers", type=int, default=2, help="worker processes of refnet's portable sweep")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.single_epochs, args.networks, args.sweep_epochs = 1, 300, 32, 50
    x, y = xor_easy()
    lr0 = 0.001
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as cache:
        compile_s, cached_s = _first_call(cache), _first_call(cache)
    for seeds in ([0, 1], list(range(8))):  # load this process's compiled code from the cache
        refnet.train(refnet.mlp(seed=seeds, kernel="compiled"), x, y, lr=0.1, epochs=1)
    refnet.train(refnet.mlp(seed=0, kernel="compiled"), x, y, lr=0.1, epochs=1)
    rates: dict[str, list[float]] = {}
    lrs = np.geomspace(2e-4, 5e-3, args.networks)
    setup = Setup(x, y, epochs=args.sweep_epochs, activation="relu", loss="bce")
    members = [m for s, r in zip(range(args.networks), lrs) for m in grid([s], [r], convention="lab-sum",
                                                                             kernel="portable")]
    sweep_work = args.networks * args.sweep_epochs
    for r in range(args.rounds):
        print(f"round {r + 1} of {args.rounds}", file=sys.stderr)
        for conv, act, loss in SINGLES:
            name = f"{conv}, {act} + {loss}"

            def ours(kernel: str, conv: str = conv, act: str = act, loss: str = loss, guard: str = "off") -> None:
                net = refnet.mlp(activation=act, loss=loss, seed=0, kernel=kernel,  # type: ignore[arg-type]
                                 sigmoid=sigmoid_of(conv))  # type: ignore[arg-type]
                refnet.train(net, x, y, lr=lr0, epochs=args.single_epochs, convention=conv,  # type: ignore[arg-type]
                             guard=guard)  # type: ignore[arg-type]

            def unplanned(kernel: str, conv: str = conv, act: str = act, loss: str = loss) -> None:
                keep = Plan.__dict__["supports"]
                setattr(Plan, "supports", staticmethod(_never))  # the unplanned step, same bits
                try:
                    ours(kernel, conv, act, loss)
                finally:
                    setattr(Plan, "supports", keep)

            def lab_style(act: str = act, loss: str = loss, conv: str = conv) -> None:
                lab_baseline.run(x, y, args.single_epochs, lr=lr0, activation=act, loss=loss, mean=conv == "default")

            e = args.single_epochs
            rates.setdefault(f"lab-style: {name}", []).append(_rate(e, lab_style))
            rates.setdefault(f"compiled: {name}", []).append(_rate(e, lambda: ours("compiled")))
            rates.setdefault(f"compiled, guard warn: {name}", []).append(_rate(e, lambda: ours("compiled", guard="warn")))
            for kernel in ("blas", "portable"):
                rates.setdefault(f"{kernel} planned: {name}", []).append(_rate(e, partial(ours, kernel)))
                rates.setdefault(f"{kernel} unplanned: {name}", []).append(_rate(e, partial(unplanned, kernel)))
        rates.setdefault("sweep: einsum peer, this process", []).append(
            _rate(sweep_work, lambda: peer_sweep.run(x, y, args.sweep_epochs, lrs)))
        rates.setdefault(f"sweep: portable, {args.workers} workers", []).append(
            _rate(sweep_work, lambda: sweep(setup, members, workers=args.workers)))

        def ensemble() -> None:
            net = refnet.mlp(activation="relu", loss="bce", seed=list(range(args.networks)), kernel="compiled")
            refnet.train(net, x, y, lr=lrs, epochs=args.sweep_epochs, convention="lab-sum", guard="off")

        rates.setdefault("sweep: compiled ensemble, prange, this process", []).append(_rate(sweep_work, ensemble))
    load.append(os.getloadavg()[0])
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"load avg (1 min) {load[0]:.2f} before, {load[1]:.2f} after; {os.cpu_count()} cores; "
          f"numba first call (compile: one network, 2 and 8 members, float64) {compile_s:.1f} s, from cache {cached_s:.2f} s")
    print(f"sizes: single {args.single_epochs} epochs; sweep {args.networks} x {args.sweep_epochs}; "
          f"{args.rounds} rounds")
    print("| run | epochs/s (network-epochs/s), median | spread | ratio | target | met |")
    print("| --- | ---: | --- | ---: | --- | --- |")
    ok = True
    for name, values in rates.items():
        ratio, target = "", ""
        if name.startswith(("compiled", "portable", "blas")):
            kind, rest = name.split(": ", 1)
            base = med[f"lab-style: {rest}"]
            ratio = f"{med[name] / base:.2f}x lab-style"
            if kind == "compiled":  # (the guard's watch is measured, not targeted)
                target = ">= 10x"
                met = med[name] / base >= 10
                ok = ok and met
                target += " yes" if met else " no"
        elif name.startswith("sweep: compiled"):
            peer = med[name] / med["sweep: einsum peer, this process"]
            port = med[name] / med[f"sweep: portable, {args.workers} workers"]
            ratio = f"{peer:.2f}x peer, {port:.2f}x portable sweep"
            met = peer >= 1.25 and port >= 2
            ok = ok and met
            target = f">= 1.25x peer, >= 2x portable {'yes' if met else 'no'}"
        print(f"| {name} | {med[name]:,.0f} | {min(values):,.0f}-{max(values):,.0f} | {ratio} | {target} |")
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    raise SystemExit(main())
