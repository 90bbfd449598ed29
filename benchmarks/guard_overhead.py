"""Cost of the overflow guard on the lab's XOR training, measured in one run.

Three variants of the same training (refnet's 2-4-4-1 sigmoid network, MSE,
the lab convention, lr 0.1, full batch of the 21-point XOR set, float64,
seed 0) are timed in interleaved rounds, so that load from other processes
hits all of them alike:

* ``none``: ``train`` called without the ``guard`` argument (no observer),
* ``off``: ``guard="off"``,
* ``raise``: ``guard="raise"`` (every produced array checked, once per step).

Two clocks: the wall time of the training loop (``History.seconds``) and
the CPU time of the ``train`` call (``time.thread_time``, less disturbed by
other processes on a shared machine). Per variant the median and the minimum
over rounds are printed, and the overhead relative to ``none`` two ways: the
median of the per-round ratios (the runs of one round share the machine's
load) and the ratio of the minima (the least disturbed runs). The targets of
issue 3 are judged as follows: ``raise`` <= 25% on the paired CPU-time
overhead; ``off`` <= 2% on its directly measured fixed cost per ``train``
call, since per epoch ``off`` runs exactly the code of ``none`` and its
ratio only shows the measurement noise (printed too). The exit status is 0
when both are met.

Run: ``python benchmarks/guard_overhead.py [--epochs 1500] [--rounds 31] [--json FILE]``.

``--sizes`` instead times the guard's sum of squares (:func:`refnet.guard.sum_of_squares`, dot
products of at most 8,192 values) against one ``a.dot(a)`` over the whole array, for arrays of
1,000 to 100,000 values, first on an idle machine and then with a busy-looping process on every
core (what a sweep or a parallel test run does): OpenBLAS splits a longer dot over its threads.

"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext

import numpy as np

from refnet.data import xor_easy
from refnet.network import Network, mlp
from refnet.guard import Guard, as_guard
from refnet.observe import Observer, Site
from refnet.optim import SGD
from refnet.precision import FloatArray
from refnet.train import prepare_data, step, train

VARIANTS = ("none", "off", "raise")


def run_once(variant: str, epochs: int, dtype: str, batch_size: int | None) -> tuple[float, float]:
    """Wall seconds of the training loop and CPU seconds of the whole ``train`` call."""
    x, y = xor_easy()
    net = mlp(dtype=dtype, seed=0)
    cpu = time.thread_time()
    if variant == "none":
        history = train(net, x, y, lr=0.1, epochs=epochs, convention="lab-sum", batch_size=batch_size)
    else:
        history = train(net, x, y, lr=0.1, epochs=epochs, convention="lab-sum", batch_size=batch_size,
                        guard=variant)
    cpu = time.thread_time() - cpu
    if not np.isfinite(history.loss).all() or history.accuracy[0] < 50.0:
        raise RuntimeError(f"{variant}: the benchmark run did not train normally")
    return history.seconds, cpu


def _summary(times: dict[str, list[float]], epochs: int) -> dict[str, object]:
    """Per variant: median and minimum time; overheads as the median of the
    per-round ratios to ``none`` (the three runs of a round share the machine's
    load) and as the ratio of the minima (the least disturbed runs)."""
    median = {v: statistics.median(t) for v, t in times.items()}
    least = {v: min(t) for v, t in times.items()}
    paired = {v: statistics.median(a / b for a, b in zip(times[v], times["none"]))
              for v in VARIANTS if v != "none"}
    return {
        "median_seconds": median,
        "min_seconds": least,
        "microseconds_per_epoch": {v: 1e6 * s / epochs for v, s in median.items()},
        "min_microseconds_per_epoch": {v: 1e6 * s / epochs for v, s in least.items()},
        "overhead_percent": {v: 100.0 * (r - 1.0) for v, r in paired.items()},
        "overhead_percent_of_minima": {v: 100.0 * (least[v] / least["none"] - 1.0)
                                       for v in VARIANTS if v != "none"},
        "all_seconds": times,
    }


def off_fixed_cost(repeats: int = 20000) -> float:
    """Microseconds per ``train`` call that ``guard="off"`` adds: building the
    (inactive) guard, entering and leaving it, and its final check. Nothing
    is added per epoch: an ``off`` guard never attaches to the network."""
    net = mlp(seed=0)
    start = time.thread_time()
    for _ in range(repeats):
        guard = as_guard(net, "off")
        with guard:
            guard.check()
    return 1e6 * (time.thread_time() - start) / repeats


class _Idle:
    """An observer that does nothing: the cost of the network handing arrays over."""

    def at(self, epoch: int, step: int, batch: slice) -> None:
        pass

    def observe(self, site: Site, array: FloatArray, inputs: Sequence[FloatArray]) -> None:
        pass


class _Store(_Idle):
    """An observer that keeps each array of the step, as the guard does, and checks nothing."""

    def __init__(self) -> None:
        self.records: list[tuple[Site, FloatArray, Sequence[FloatArray]]] = []

    def at(self, epoch: int, step: int, batch: slice) -> None:
        self.records.clear()

    def observe(self, site: Site, array: FloatArray, inputs: Sequence[FloatArray]) -> None:
        self.records.append((site, array, inputs))


def breakdown(steps: int = 200, rounds: int = 100, dtype: str = "float64") -> dict[str, float]:
    """Minimum CPU microseconds per ``step`` of the lab's XOR training with no
    observer, an idle one, a storing one and the guard, in alternated runs."""
    x, y = xor_easy()
    makers: dict[str, Callable[[Network], Observer | Guard | None]] = {
        "none": lambda net: None, "idle observer": lambda net: _Idle(),
        "storing observer": lambda net: _Store(), "guard (raise)": lambda net: Guard(net, "raise")}
    best = {name: float("inf") for name in makers}
    for _ in range(rounds):
        for name, make in makers.items():
            net = mlp(dtype=dtype, seed=0)
            xa, ya = prepare_data(net, x, y)
            opt = SGD(0.1)
            watcher = make(net)
            rows = slice(0, xa.shape[1])
            with np.errstate(all="ignore"), (watcher if isinstance(watcher, Guard) else nullcontext()):
                if watcher is not None and not isinstance(watcher, Guard):
                    net.observer = watcher
                obs = net.observer
                start = time.thread_time()
                for i in range(steps):
                    if obs is not None:
                        obs.at(i, i, rows)
                    step(net, opt, xa, ya, "lab-sum")
                best[name] = min(best[name], 1e6 * (time.thread_time() - start) / steps)
    return best


def measure(epochs: int, rounds: int, dtype: str, batch_size: int | None) -> dict[str, object]:
    wall: dict[str, list[float]] = {v: [] for v in VARIANTS}
    cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    run_once("raise", min(epochs, 200), dtype, batch_size)  # warm-up, not timed
    for r in range(rounds):
        order = VARIANTS if r % 2 == 0 else tuple(reversed(VARIANTS))
        for variant in order:
            w, c = run_once(variant, epochs, dtype, batch_size)
            wall[variant].append(w)
            cpu[variant].append(c)
    cpu_summary = _summary(cpu, epochs)
    fixed = off_fixed_cost()
    none_seconds = cpu_summary["median_seconds"]
    assert isinstance(none_seconds, dict)
    return {"dtype": dtype, "batch_size": batch_size, "epochs": epochs, "rounds": rounds,
            "wall": _summary(wall, epochs), "cpu": cpu_summary,
            "off_fixed_microseconds_per_call": fixed,
            "off_fixed_percent_of_run": 100.0 * fixed * 1e-6 / none_seconds["none"]}


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def sizes(rounds: int = 200) -> None:
    """Mean wall time of ``a.dot(a)`` against ``sum_of_squares(a)``, and of a guarded ensemble's
    training with either as the plan's check, idle and with every core busy (means, not medians:
    a split dot costs little most times and milliseconds when it waits for a core)."""
    import multiprocessing
    import os

    import refnet.plan
    from refnet.data import linear
    from refnet.guard import sum_of_squares

    arrays = [np.random.default_rng(0).standard_normal(n) for n in (1_000, 8_192, 20_000, 100_000)]
    x, y = linear(100, np.random.default_rng(0))

    def mean_us(f: Callable[[], object], repeats: int) -> float:
        start = time.perf_counter()
        for _ in range(repeats):
            f()
        return 1e6 * (time.perf_counter() - start) / repeats

    def ensemble() -> None:  # 3 members x 100 points: the plan's buffers hold 20,000+ values
        train(mlp(seed=[0, 1, 2]), x, y, lr=1.0, epochs=300, guard="warn")

    for busy in (False, True):
        spinners = [multiprocessing.Process(target=_spin, args=(3600.0,)) for _ in range(os.cpu_count() or 1)] if busy else []
        for p in spinners:
            p.start()
        try:
            print(f"{'every core busy' if busy else 'no spinners'} (1-minute load {os.getloadavg()[0]:.2f}), mean wall time:")
            for a in arrays:
                print(f"  {a.size:7,d} values: a.dot(a) {mean_us(lambda: a.dot(a), rounds):9.1f} us, "
                      f"sum_of_squares {mean_us(lambda: sum_of_squares(a), rounds):7.1f} us")
            split = mean_us(ensemble, 3)
            setattr(refnet.plan, "sum_of_squares", lambda a: a.dot(a))  # the check: one dot per buffer
            whole = mean_us(ensemble, 3)
            setattr(refnet.plan, "sum_of_squares", sum_of_squares)
            print(f"  guarded ensemble (3 members, 100 points, 300 epochs): one dot {whole / 1e6:.2f} s, "
                  f"split dots {split / 1e6:.2f} s")
        finally:
            for p in spinners:
                p.terminate()
                p.join()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1500, help="epochs per timed training run")
    parser.add_argument("--rounds", type=int, default=31, help="interleaved rounds (each runs every variant once)")
    parser.add_argument("--dtype", default="float64", help="float32 or float64")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="mini-batch size (default: full batch, as the lab's XOR run)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--breakdown", action="store_true",
                        help="only print where the time of one step goes (minimum CPU time per "
                             "step with no observer, an idle one, a storing one, the guard)")
    parser.add_argument("--sizes", action="store_true",
                        help="only time the guard's sum of squares against one dot product, idle and "
                             "with every core busy")
    args = parser.parse_args(argv)
    if args.sizes:
        sizes()
        return 0
    if args.breakdown:
        costs = breakdown(dtype=args.dtype)
        base = costs["none"]
        for name, us in costs.items():
            print(f"  {name:18s} {us:6.1f} us/step  {us - base:+5.1f} ({100 * (us / base - 1):+.1f}%)")
        return 0
    result = measure(args.epochs, args.rounds, args.dtype, args.batch_size)
    result["date_utc"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    result["machine"] = f"{platform.machine()}, {platform.processor() or 'unknown cpu'}, {platform.system()}"
    result["python"] = platform.python_version()
    result["numpy"] = np.__version__
    print(f"guard overhead, lab XOR training ({args.dtype}, batch {args.batch_size or 'full'}, "
          f"{args.epochs} epochs x {args.rounds} interleaved rounds, medians)")
    verdicts = {}
    for clock in ("wall", "cpu"):
        part = result[clock]
        assert isinstance(part, dict)
        us, low = part["microseconds_per_epoch"], part["min_microseconds_per_epoch"]
        over, over_min = part["overhead_percent"], part["overhead_percent_of_minima"]
        for v in VARIANTS:
            extra = "" if v == "none" else (f"  overhead {over[v]:+6.1f}% (paired median), "
                                            f"{over_min[v]:+6.1f}% (minima)")
            print(f"  {clock:4s} {v:6s} median {us[v]:7.1f}, min {low[v]:7.1f} us/epoch{extra}")
        verdicts[clock] = over["raise"] <= 25.0
    print(f"  off: fixed cost {result['off_fixed_microseconds_per_call']:.1f} us per train call "
          f"({result['off_fixed_percent_of_run']:.4f}% of one run), nothing per epoch")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    off_fixed = result["off_fixed_percent_of_run"]
    assert isinstance(off_fixed, float)
    ok = verdicts["cpu"] and off_fixed <= 2.0
    print(f"targets: raise <= 25% (paired CPU time) {'met' if verdicts['cpu'] else 'NOT met'} "
          f"(wall: {'met' if verdicts['wall'] else 'not met'}); off <= 2% (its fixed cost per "
          f"call; per epoch it runs the same code as none) {'met' if off_fixed <= 2.0 else 'NOT met'}",
          file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
