"""The compiled twin (``kernel="compiled"``) against the lab-style code, the einsum peer and refnet's NumPy path.

Interleaved rounds in one process, medians, ratios within the run; the 1-minute load
average before and after is printed with the table (the machine is shared). Rows:

* one network, 2-4-4-1 on the 21 XOR points, full batch, sigmoid+MSE and ReLU+BCE, under
  ``default`` and ``lab-sum``: ``benchmarks.lab_baseline`` (target: compiled >= 10x), refnet's
  NumPy path (``blas`` and ``portable``) planned and unplanned (does :mod:`refnet.plan` still
  earn its place?);
  and ``benchmarks.handwritten`` (a plain NumPy MLP, about 50 NumPy operations an epoch);
* a sweep of ``--networks`` ReLU+BCE networks (``lab-sum``): ``benchmarks.peer_sweep`` (einsum,
  members innermost; target >= 1.25x), refnet's ``portable`` (target >= 2x) and ``blas`` sweeps
  on ``--workers`` processes, the compiled ensemble (numba prange over the cores, this process);
* a sweep of ``--big-networks`` (100,000) networks for ``--big-epochs`` epochs, each program in
  a fresh process of its own (wall time and peak resident memory, the process and its workers);
* first-call compile time and cached load time, each in a fresh process with its own cache;
* the fraction of the floating-point limit: the operations of one network-epoch
  (:func:`flops_per_epoch`) times the measured rate, against a large float64 matrix product
  (BLAS, both cores) measured in the same run and the per-core figure from ``lscpu``.

Every refnet run passes ``guard="off"`` (the lab-style code checks nothing); one row per
configuration gives the compiled run under ``guard="warn"``, whose loop then checks every
value it computes.

``python -m benchmarks.compiled [--quick]``; exit 0 when every target is met.
"""

from __future__ import annotations

import argparse
import json
import os
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

import numpy as np

import refnet
from benchmarks import handwritten, lab_baseline, peer_sweep
from refnet.conventions import sigmoid_of
from refnet.data import xor_easy
from refnet.plan import Plan
from refnet.sweep import Setup, grid, iter_sweep, sweep

SINGLES = [("default", "sigmoid", "mse"), ("default", "relu", "bce"), ("lab-sum", "sigmoid", "mse"),
           ("lab-sum", "relu", "bce")]


def _rate(work: float, f: Callable[[], object]) -> float:
    start = time.perf_counter()
    f()
    return work / (time.perf_counter() - start)


def _never(net: object, arith: object) -> bool:
    return False


def flops_per_epoch(activation: str, loss: str, n: int = 21, widths: Sequence[int] = (2, 4, 4, 1)) -> int:
    """Floating-point operations of one full-batch epoch of one network on ``n`` points (every
    Linear with a bias, a sigmoid output).

    Counted as the reference computes them, each add, multiply, divide, ``exp`` and ``log`` one
    operation (a multiply-add two; comparisons and masks one): a Linear ``a -> b`` costs
    ``2 n a b`` forward (products, sums, bias), ``a b (2n - 1)`` for ``dW``, ``b (n - 1)`` for
    ``db``, ``n a (2b - 1)`` for the input gradient (not below the first layer) and 2 per
    parameter for ``p - lr g``; a sigmoid 4 per value forward (negate, exp, add, divide) and 3
    back (``y (1 - y) dy``), a ReLU 1 and 1; MSE 5 per output (difference, square, sum, the
    ``2/B`` gradient), BCE 11 (two logs, two offsets, products and sums, the gradient's two
    quotients and difference).
    """
    total = 0
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        total += 2 * n * a * b + a * b * (2 * n - 1) + b * (n - 1) + 2 * (a * b + b)
        if i > 0:
            total += n * a * (2 * b - 1)
    for i, b in enumerate(widths[1:]):
        sigmoid = activation == "sigmoid" or i == len(widths) - 2
        total += n * b * (7 if sigmoid else 2)
    total += n * widths[-1] * (5 if loss == "mse" else 11)
    return total


def peak_gflops(size: int = 2048, repeats: int = 3) -> float:
    """The best float64 matrix-product rate of NumPy's BLAS on this machine (all its threads)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((size, size)), rng.standard_normal((size, size))
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.dot(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def core_peak_gflops() -> tuple[float, str]:
    """The theoretical float64 rate of one core from ``lscpu`` (0 when unknown), and how it was got:
    AMD family 25 (Zen 3) and Intel cores with AVX2 and FMA retire two 4-wide FMAs a cycle (16
    operations); the clock is half of BogoMIPS (the base clock: no boost is assumed)."""
    try:
        info = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return 0.0, "lscpu unavailable"
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    bogo = float(fields.get("BogoMIPS", "0").strip() or 0)
    per_cycle = 16 if "avx2" in flags and "fma" in flags else 8 if "avx" in flags else 4
    ghz = bogo / 2000
    return ghz * per_cycle, (f"{fields.get('Model name', '?').strip()}, {ghz:.3f} GHz (BogoMIPS / 2), "
                             f"{per_cycle} float64 operations a cycle")


BIG = ("compiled", "einsum", "blas", "portable")


def big_one(variant: str, networks: int, epochs: int, workers: int) -> dict[str, float]:
    """One program of the large sweep in this process: its seconds (after imports and the data)."""
    x, y = xor_easy()
    lrs = np.geomspace(2e-4, 5e-3, networks)
    if variant == "compiled":  # load the compiled loops from numba's cache before the clock starts
        refnet.train(refnet.mlp(activation="relu", loss="bce", seed=list(range(8)), kernel="compiled"), x, y,
                     lr=0.1, epochs=1, convention="lab-sum", guard="off")
    start = time.perf_counter()
    if variant == "compiled":
        net = refnet.mlp(activation="relu", loss="bce", seed=list(range(networks)), kernel="compiled")
        refnet.train(net, x, y, lr=lrs, epochs=epochs, convention="lab-sum", guard="off")
    elif variant == "einsum":
        peer_sweep.run(x, y, epochs, lrs)
    else:
        setup = Setup(x, y, epochs=epochs, activation="relu", loss="bce")
        members = [m for s, r in zip(range(networks), lrs) for m in grid([s], [r], convention="lab-sum",
                                                                        kernel=variant)]  # type: ignore[arg-type]
        for _ in iter_sweep(setup, members, workers=workers):
            pass
    return {"seconds": time.perf_counter() - start}


def _big(variant: str, networks: int, epochs: int, workers: int) -> dict[str, float]:
    """:func:`big_one` in a fresh process: its seconds, wall time and peak resident memory (MiB: the
    process's ``VmHWM``, which restarts at exec unlike ``ru_maxrss``; the largest worker's ``ru_maxrss``)."""
    start = time.perf_counter()
    code = ("import json, resource, sys; from benchmarks.compiled import big_one; "
            f"out = big_one({variant!r}, {networks}, {epochs}, {workers}); "
            "out['rss'] = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0] / 1024; "
            "out['children_rss'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024; "
            "print(json.dumps(out))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    out["wall"] = time.perf_counter() - start
    return out


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
    p.add_argument("--big-networks", type=int, default=100_000, help="networks in the large sweep (0: none)")
    p.add_argument("--big-epochs", type=int, default=50, help="epochs of each network in the large sweep")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.single_epochs, args.networks, args.sweep_epochs = 1, 300, 32, 50
        args.big_networks, args.big_epochs = 64, 5
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    x, y = xor_easy()
    lr0 = 0.001
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as cache:
        compile_s, cached_s = _first_call(cache), _first_call(cache)
    for seeds in ([0, 1], list(range(8))):  # load this process's compiled code from the cache
        refnet.train(refnet.mlp(seed=seeds, kernel="compiled"), x, y, lr=0.1, epochs=1)
    refnet.train(refnet.mlp(seed=0, kernel="compiled"), x, y, lr=0.1, epochs=1)
    rates: dict[str, list[float]] = {}
    big: dict[str, list[dict[str, float]]] = {}
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
            rates.setdefault(f"hand-written: {name}", []).append(_rate(e, partial(
                handwritten.run, x, y, e, lr=lr0, activation=act, loss=loss)))
            rates.setdefault(f"compiled: {name}", []).append(_rate(e, lambda: ours("compiled")))
            rates.setdefault(f"compiled, guard warn: {name}", []).append(_rate(e, lambda: ours("compiled", guard="warn")))
            for kernel in ("blas", "portable"):
                rates.setdefault(f"{kernel} planned: {name}", []).append(_rate(e, partial(ours, kernel)))
                rates.setdefault(f"{kernel} unplanned: {name}", []).append(_rate(e, partial(unplanned, kernel)))
        rates.setdefault("sweep: einsum peer, this process", []).append(
            _rate(sweep_work, lambda: peer_sweep.run(x, y, args.sweep_epochs, lrs)))
        for kern in ("portable", "blas"):
            kern_members = [m if kern == "portable" else replace(m, kernel="blas") for m in members]
            rates.setdefault(f"sweep: {kern}, {args.workers} workers", []).append(
                _rate(sweep_work, lambda: sweep(setup, kern_members, workers=args.workers)))

        def ensemble() -> None:
            net = refnet.mlp(activation="relu", loss="bce", seed=list(range(args.networks)), kernel="compiled")
            refnet.train(net, x, y, lr=lrs, epochs=args.sweep_epochs, convention="lab-sum", guard="off")

        rates.setdefault("sweep: compiled ensemble, prange, this process", []).append(_rate(sweep_work, ensemble))
        if args.big_networks:
            for variant in BIG:
                out = _big(variant, args.big_networks, args.big_epochs, args.workers)
                big.setdefault(variant, []).append(out)
    load.append(os.getloadavg()[0])
    peak = peak_gflops(512 if args.quick else 2048)
    core_peak, core_how = core_peak_gflops()
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"started {started}; load avg (1 min) {load[0]:.2f} before, {load[1]:.2f} after; {os.cpu_count()} cores; "
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
            if kind == "compiled":
                ratio += f", {med[name] / med[f'hand-written: {rest}']:.2f}x hand-written"
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
        elif name.startswith("hand-written"):
            ratio = f"{med[name] / med['lab-style: ' + name.split(': ', 1)[1]]:.2f}x lab-style"
        print(f"| {name} | {med[name]:,.0f} | {min(values):,.0f}-{max(values):,.0f} | {ratio} | {target} |")
    if big:
        work = args.big_networks * args.big_epochs
        print(f"\nlarge sweep: {args.big_networks:,} networks x {args.big_epochs} epochs, each program in a fresh "
              f"process, {len(big['compiled'])} rounds (medians); refnet sweeps on {args.workers} workers")
        print("| program | network-epochs/s | seconds (timed part) | wall s (with start-up) | peak RSS MiB "
              "(process / largest worker) | ratio |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        bmed = {v: {k: statistics.median(o[k] for o in outs) for k in outs[0]} for v, outs in big.items()}
        for variant, m in bmed.items():
            ratio = "" if variant == "compiled" else f"compiled {m['seconds'] / bmed['compiled']['seconds']:.2f}x"
            print(f"| {variant} | {work / m['seconds']:,.0f} | {m['seconds']:.1f} | {m['wall']:.1f} | "
                  f"{m['rss']:,.0f} / {m['children_rss']:,.0f} | {ratio} |")
    print(f"\nfloating-point limit: BLAS float64 {peak:.1f} GFLOP/s measured ({os.cpu_count()} cores, "
          f"{512 if args.quick else 2048}^3 product); theoretical one core {core_peak:.1f} GFLOP/s ({core_how})")
    print("| run | operations / network-epoch | GFLOP/s | of measured BLAS (all cores) | of one core's "
          "measured share | of one core's theoretical |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    cores = os.cpu_count() or 1
    rows = [(f"compiled: {conv}, {act} + {loss}", act, loss) for conv, act, loss in SINGLES]
    rows += [("sweep: compiled ensemble, prange, this process", "relu", "bce"),
             ("sweep: einsum peer, this process", "relu", "bce")]
    for name, act, loss in rows:
        ops = flops_per_epoch(act, loss)
        g = med[name] * ops / 1e9
        print(f"| {name} | {ops:,} | {g:.3f} | {g / peak:.2%} | {g / (peak / cores):.2%} | "
              f"{g / core_peak if core_peak else math.nan:.2%} |")
    if big:
        ops = flops_per_epoch("relu", "bce")
        g = args.big_networks * args.big_epochs / bmed["compiled"]["seconds"] * ops / 1e9
        print(f"| large sweep: compiled | {ops:,} | {g:.3f} | {g / peak:.2%} | {g / (peak / cores):.2%} | "
              f"{g / core_peak if core_peak else math.nan:.2%} |")
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    raise SystemExit(main())
