"""The lab's program, run as it was published: its data, random stream, batches, arithmetic and log.

Facts from ``shared/LAB_SOURCE.md`` (sections 1-3), written as refnet code:

* **Random stream.** Everything comes from one ``numpy.random.RandomState(seed)``
  in this order: the data (``linear``: ``uniform(0, 1, (n, 2))``; ``xor``: no
  draws), then for every Linear layer ``randn(in, out)`` for ``W`` and
  ``randn(out)`` for ``b``, the output layer's unused ``b`` included, then the
  batches.
* **Batches.** ``max(round(N / B), 1)`` iterations per epoch (Python's
  ``round``, ties to even), each on ``B`` row indices drawn with replacement
  (``choice(N, B)``, the same draws as ``randint(0, N, B)``); one step per
  iteration, each Linear updated inside the backward pass.
* **Arithmetic.** :class:`refnet.conventions.Published` (``convention="lab"``),
  float64 on the default BLAS; the page-14 BCE for ``loss="bce-page14"``.
* **Log.** The mean of an epoch's iteration losses, kept when
  ``(epoch + 1) % log_every == 0`` and plotted at the 0-based ``epoch``.
* **Prediction.** One forward pass on all ``N`` points; accuracy counts
  ``p > 0.5`` as 1 and ``p < 0.5`` as 0, so 0.5 and NaN are never right.

:func:`run` trains one network; :func:`run_many` trains runs of one
configuration as one ensemble (members that share a seed share its data and
batch draws, so a learning-rate scan costs one stream); :func:`sweep` spreads
chunks of runs over worker processes (:func:`refnet.sweep.process_pool`).
Each run is bit for bit the same whichever way it is run
(``tests/test_lab.py`` proves it against a plain transcription of the facts).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from .conventions import Published
from .data import xor_easy
from .events import NonFiniteEvent
from .guard import Guard, Mode, as_guard
from .kernels import KERNELS, KernelName, kernel
from .layers import SigmoidFormula
from .metrics import accuracy
from .network import Network, check_observer, mlp
from .observe import Observer
from .optim import SGD
from .precision import DTypeName, FloatArray, precision
from .progress import Progress
from .train import HISTORY_BYTES, check_network, step
from .validation import check_bool, check_choice, check_int

__all__ = ["Config", "Result", "run", "run_many", "sweep", "draw_data", "draw_params", "draw_batches",
           "EXPERIMENTS", "LABELLED", "SEEDED", "LabData", "LabActivation", "LabLoss", "Run", "Stop", "Trace"]

LabData = Literal["xor", "linear"]
LabActivation = Literal["sigmoid", "relu", "none"]
LabLoss = Literal["mse", "bce", "bce-page14"]
"""``bce``: the lab's BCE from commit 68fc7f4 on; ``bce-page14``: the older one of the report's page 14."""

Run = tuple[int, float]
"""One run of a sweep: ``(seed, lr)``."""

Stop = Literal["never", "first-event", "non-finite"]
"""When :func:`run` may end before ``epochs``: ``never``; ``first-event``: after the epoch in
which the guard recorded its first non-finite event; ``non-finite``: after the epoch that left
a parameter NaN or infinite (``W - lr dW`` never turns a non-finite value finite again)."""

F64 = npt.NDArray[np.float64]

_BLOCK: Final = 4096
"""Epochs of batch indices drawn at once (the draws are the same whatever the block)."""


@dataclass(frozen=True)
class Config:
    """One of the lab's training runs, as its code passes it (defaults: ``run_Net``'s own).

    ``hidden`` are the two hidden widths; ``activation`` is that of both hidden
    layers (``none``: no hidden activation); ``output_sigmoid=False`` drops the
    output sigmoid too (the lab's first no-activation network). ``n`` is the
    number of points of ``linear`` data (``xor`` has 21). ``dtype`` and
    ``kernel`` are refnet's: the lab ran float64 on BLAS; so is ``sigmoid``
    (the lab's is ``naive``; ``stable`` is a variant for studying the last bits).
    ``kernel="compiled"`` runs the epochs through :mod:`refnet.compiled` (numba,
    ``pip install refnet[fast]``): the same draws and, in the pinned environment, the bits
    of ``portable``; its ensembles (:func:`run_many`) already use every core, so give
    :func:`sweep` ``workers=0`` or few large chunks. :func:`run_many`'s ``trace`` is called at the
    same epochs (the compiled loop runs in pieces between them); :func:`run` with an ``observer``
    or a ``stop`` rule runs the NumPy path of the same kernel (same bits, NumPy's speed).
    """

    data: LabData = "xor"
    activation: LabActivation = "sigmoid"
    loss: LabLoss = "mse"
    hidden: tuple[int, int] = (4, 4)
    lr: float = 0.05
    epochs: int = 10_000
    batch_size: int = 20
    log_every: int = 10
    n: int = 100
    output_sigmoid: bool = True
    dtype: DTypeName = "float64"
    kernel: KernelName = "blas"
    sigmoid: SigmoidFormula = "naive"

    def __post_init__(self) -> None:
        check_choice("data", self.data, ("xor", "linear"))
        check_choice("activation", self.activation, ("sigmoid", "relu", "none"))
        check_choice("loss", self.loss, ("mse", "bce", "bce-page14"))
        hidden: object = self.hidden  # callers without a type checker may pass anything
        if not isinstance(hidden, tuple) or len(hidden) != 2:
            raise TypeError(f"hidden: expected a tuple of two widths such as (4, 4), got {self.hidden!r}")
        for i, h in enumerate(self.hidden):
            check_int(f"hidden[{i}]", h, 1)
        SGD(self.lr).check(precision(self.dtype).dtype, 1)
        if np.ndim(self.lr) != 0:
            raise TypeError(f"lr: expected one number, got {self.lr!r}")
        check_int("epochs", self.epochs, 0)
        check_int("batch_size", self.batch_size, 1)
        check_int("log_every", self.log_every, 1)
        check_int("n", self.n, 1)
        check_bool("output_sigmoid", self.output_sigmoid)
        check_choice("kernel", self.kernel, KERNELS)
        check_choice("sigmoid", self.sigmoid, ("naive", "stable"))
        if self.kernel == "compiled":
            kernel(self.kernel)  # without numba: an error naming the extra
        if self.loss != "mse" and not self.output_sigmoid:
            raise ValueError(f"output_sigmoid: the lab's {self.loss} needs the output sigmoid")

    @property
    def points(self) -> int:
        """Rows of the data set: 21 for ``xor``, ``n`` for ``linear``."""
        return 21 if self.data == "xor" else self.n

    @property
    def iterations(self) -> int:
        """Steps per epoch: ``max(round(points / batch_size), 1)`` (ties to even)."""
        return max(round(self.points / self.batch_size), 1)

    @property
    def convention(self) -> Published:
        """The arithmetic: ``lab``, or ``lab-page14`` for the old BCE."""
        return Published(bce="page14" if self.loss == "bce-page14" else "published", sigmoid=self.sigmoid)

    @property
    def logged_epochs(self) -> npt.NDArray[np.int64]:
        """The 0-based epochs whose loss the lab kept."""
        return np.arange(self.log_every - 1, self.epochs, self.log_every, dtype=np.int64)

    def but(self, **changes: object) -> Config:
        """A copy with some fields changed (validated)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def build(self, members: int = 1) -> Network:
        """The lab's network with ``members`` members (weights to be set from :func:`draw_params`)."""
        check_int("members", members, 1)
        return mlp(2, self.hidden, 1, activation="identity" if self.activation == "none" else self.activation,
                   output_activation="sigmoid" if self.output_sigmoid else "identity",
                   loss="mse" if self.loss == "mse" else "bce", dtype=self.dtype, seed=[0] * members,
                   kernel=self.kernel, sigmoid=self.sigmoid, relu="mask")


@dataclass(frozen=True)
class Result:
    """What one lab run produced."""

    config: Config
    seed: int | None
    lr: float
    params: dict[str, FloatArray]
    """Final parameters by name, each ``(1, ...)`` (ready for ``Network.set_params``)."""
    logged: F64
    """``(k, 2)``: 0-based epoch index, logged loss in the lab's units (BCE: bits)."""
    predictions: F64
    """``(N, 1)`` network output on every point after training."""
    accuracy: float
    """Percent, the lab's rule (0.5 and NaN never right)."""
    x: F64
    t: F64
    """The run's data, ``(N, 2)`` and ``(N, 1)``."""
    events: tuple[NonFiniteEvent, ...] = field(default=())
    """Non-finite events the guard logged (empty with ``guard="off"``)."""
    stopped_at: int | None = None
    """The 0-based epoch after which the ``stop`` rule ended the run (``None``: every epoch ran)."""

    @property
    def network(self) -> Network:
        """A refnet network holding the final parameters."""
        net = self.config.build()
        net.set_params(dict(self.params))
        return net

    @property
    def final_loss(self) -> float:
        """The last logged loss (NaN when nothing was logged)."""
        return float(self.logged[-1, 1]) if self.logged.shape[0] else float("nan")


def _check_draw(config: Config, rs: np.random.RandomState) -> None:
    """The arguments every draw takes (``TypeError`` naming them)."""
    if not isinstance(config, Config):
        raise TypeError(f"config: expected a refnet.lab.Config, got {type(config).__name__}")
    if not isinstance(rs, np.random.RandomState):
        raise TypeError(f"rs: expected a numpy.random.RandomState, got {type(rs).__name__}")


def draw_data(config: Config, rs: np.random.RandomState) -> tuple[F64, F64]:
    """The data set, drawn first from the lab's stream: ``(N, 2)`` points and ``(N, 1)`` 0/1 labels."""
    _check_draw(config, rs)
    if config.data == "xor":
        return xor_easy()
    x = rs.uniform(0, 1, (config.n, 2))
    t = np.where(x[:, 0] > x[:, 1], 0.0, 1.0)[:, None]
    return x, t


def draw_params(config: Config, rs: np.random.RandomState) -> dict[str, F64]:
    """The initial weights, drawn after the data: ``randn(in, out)`` then ``randn(out)`` for
    every Linear, the output's unused bias included. Names and ``(1, ...)`` shapes are the
    network's."""
    _check_draw(config, rs)
    widths = [2, *config.hidden, 1]
    names = ["linear_1", "linear_2", "output"]
    out: dict[str, F64] = {}
    for name, n_in, n_out in zip(names, widths[:-1], widths[1:]):
        w = rs.randn(n_in, n_out)
        b = rs.randn(n_out)
        out[f"{name}.W"] = w[None]
        if name != "output":
            out[f"{name}.b"] = b[None, None, :]
    return out


def draw_batches(config: Config, rs: np.random.RandomState, epochs: int) -> npt.NDArray[np.int64]:
    """The next ``epochs`` epochs of batch indices, ``(epochs, iterations, batch_size)``: the draws of
    ``choice(N, B)`` per iteration (one ``randint(0, N, ...)`` call gives the same stream)."""
    _check_draw(config, rs)
    check_int("epochs", epochs, 0, HISTORY_BYTES // (8 * config.iterations * config.batch_size))
    size = (epochs, config.iterations, config.batch_size)
    out: npt.NDArray[np.int64] = rs.randint(0, config.points, size=size).astype(np.int64, copy=False)
    return out


def _stream(seed: int | None) -> np.random.RandomState:
    return np.random.RandomState() if seed is None else np.random.RandomState(seed)


def run(config: Config, seed: int | None = None, *, guard: Mode | Guard | None = "off",
        quiet: bool = True, observer: Observer | None = None, stop: Stop = "never") -> Result:
    """Run the lab's program once: ``seed`` seeds its ``RandomState`` (``None``: unseeded, as most
    lab scripts were). ``guard`` watches for non-finite values (see :mod:`refnet.guard`).
    ``observer`` sees every array the network produces (:class:`refnet.observe.Observer`, told
    each step by ``at``; kept beside the guard). ``stop`` may end the run early (:data:`Stop`;
    ``first-event`` needs the guard on): the result then holds the epochs that ran."""
    if not isinstance(config, Config):
        raise TypeError(f"config: expected a lab.Config, got {type(config).__name__}")
    if seed is not None:
        check_int("seed", seed, 0)
    check_observer(observer)
    check_choice("stop", stop, ("never", "first-event", "non-finite"))
    if stop == "first-event" and (guard is None or guard == "off"
                                  or (isinstance(guard, Guard) and guard.mode == "off")):
        raise ValueError("stop: 'first-event' needs a guard (guard='record', 'warn' or a Guard)")
    return _train(config, [seed], [float(config.lr)], guard=guard, quiet=quiet, observer=observer,
                  stop=stop)[0]


Trace = Callable[[int, Network], None]
"""``trace(epochs_done, network)``: sees the ensemble's network (read only) between epochs."""


def run_many(config: Config, seeds: Sequence[int], lrs: Sequence[float] | None = None, *,
             quiet: bool = True, trace: Trace | None = None, trace_every: int = 1) -> list[Result]:
    """Runs of ``config``, one per ``(seeds[k], lrs[k])`` (``lrs`` ``None``: ``config.lr``), trained
    as one ensemble in this process; each result is bit for bit :func:`run` of its seed and rate.
    ``trace`` (if given) is called before the first epoch and after every ``trace_every``-th."""
    if not isinstance(config, Config):
        raise TypeError(f"config: expected a lab.Config, got {type(config).__name__}")
    given: object = seeds  # callers without a type checker may pass anything
    if isinstance(given, (str, bytes)) or not isinstance(given, Sequence) or not given:
        raise TypeError(f"seeds: expected a non-empty sequence of integers >= 0, got {seeds!r}")
    for i, s in enumerate(seeds):
        check_int(f"seeds[{i}]", s, 0)
    rates = [float(config.lr)] * len(seeds) if lrs is None else [float(r) for r in lrs]
    if len(rates) != len(seeds):
        raise ValueError(f"lrs: expected {len(seeds)} rates (one per seed), got {len(rates)}")
    for i, r in enumerate(rates):
        try:
            SGD(r).check(precision(config.dtype).dtype, 1)
        except ValueError as exc:
            raise ValueError(f"lrs[{i}]: {exc}") from None
    check_int("trace_every", trace_every, 1)
    return _train(config, [int(s) for s in seeds], rates, guard="off", quiet=quiet, trace=trace,
                  trace_every=trace_every)


def _train(config: Config, seeds: Sequence[int | None], rates: Sequence[float], *,
           guard: Mode | Guard | None, quiet: bool, observer: Observer | None = None,
           stop: Stop = "never", trace: Trace | None = None, trace_every: int = 1) -> list[Result]:
    k = len(seeds)
    # one stream per distinct seed (an unseeded run has its own): members sharing it share its draws
    keys: list[object] = [s if s is not None else object() for s in seeds]
    streams: dict[object, np.random.RandomState] = {}
    for key, seed in zip(keys, seeds):
        if key not in streams:
            streams[key] = _stream(seed)
    order = list(streams)
    member_stream = np.array([order.index(key) for key in keys], dtype=np.intp)
    drawn = [draw_data(config, streams[key]) for key in order]
    inits = [draw_params(config, streams[key]) for key in order]
    net = config.build(k)
    net.set_params({name: np.concatenate([inits[s][name] for s in member_stream]) for name in inits[0]})
    conv = config.convention
    check_network(net, conv)
    net.observer = observer
    prec = net.precision
    xs = prec.asarray(np.stack([d[0] for d in drawn]), name="x")
    ts = prec.asarray(np.stack([d[1] for d in drawn]), name="t")
    opt = SGD(np.asarray(rates, dtype=np.float64))
    opt.check(prec.dtype, k)
    watch = as_guard(net, guard)
    iterations, epochs = config.iterations, config.epochs
    logged_at = config.logged_epochs
    logged = np.empty((logged_at.size, k), dtype=prec.dtype)
    losses = np.empty((k, iterations), dtype=prec.dtype)
    count = prec.dtype.type(iterations)
    rows_of = member_stream[:, None]
    progress = Progress(epochs, "lab", quiet=quiet)
    kept = 0
    stopped: int | None = None
    if trace is not None:
        trace(0, net)
    with np.errstate(all="ignore"), watch:
        obs = net.observer  # the guard, a relay to it and ``observer``, ``observer`` alone, or None
        done = config.kernel == "compiled" and stop == "never" and _compiled(
            config, net, opt, streams, order, member_stream, xs, ts, logged, watch, progress, trace, trace_every)
        for start in range(0, 0 if done else epochs, _BLOCK):
            block = min(_BLOCK, epochs - start)
            idx = np.stack([draw_batches(config, streams[key], block) for key in order])
            for e in range(block):
                epoch = start + e
                for j in range(iterations):
                    rows = idx[member_stream, e, j]
                    if obs is not None:
                        obs.at(epoch, epoch * iterations + j, slice(None))
                    losses[:, j] = step(net, opt, xs[rows_of, rows], ts[rows_of, rows], conv)
                if (epoch + 1) % config.log_every == 0:
                    # np.mean of the epoch's losses: each member's row summed as one contiguous run
                    logged[kept] = np.add.reduce(losses, axis=1) / count
                    kept += 1
                if trace is not None and (epoch + 1) % trace_every == 0:
                    trace(epoch + 1, net)
                if not quiet and epoch % 1000 == 0:
                    progress.update(epoch + 1)
                if stop != "never" and _should_stop(stop, net, watch):
                    stopped = epoch
                    break
            if stopped is not None:
                break
        watch.check()
        y = net.forward(xs[member_stream])
    progress.update(epochs)
    if stopped is not None:
        logged, logged_at = logged[:kept], logged_at[:kept]
    acc = accuracy(y, ts[member_stream])
    params = net.get_params()
    events = tuple(e for e in watch.log if isinstance(e, NonFiniteEvent))
    results = []
    for m in range(k):
        s = member_stream[m]
        results.append(Result(config.but(lr=rates[m]), seeds[m], rates[m],
                              {name: v[m:m + 1].copy() for name, v in params.items()},
                              np.column_stack([logged_at.astype(np.float64), logged[:, m].astype(np.float64)]),
                              y[m].astype(np.float64), float(acc[m]), drawn[s][0], drawn[s][1], events,
                              stopped))
    return results


def _compiled(config: Config, net: Network, opt: SGD, streams: dict[object, np.random.RandomState],
              order: list[object], member_stream: npt.NDArray[np.intp], xs: FloatArray, ts: FloatArray,
              logged: FloatArray, watch: Guard, progress: Progress, trace: Trace | None = None,
              trace_every: int = 1) -> bool:
    """The epochs of :func:`_train` through :mod:`refnet.compiled` (``kernel="compiled"``): the same
    draws, the same bits as ``portable``. ``False`` with nothing changed (the batch streams rewound)
    when the guard has something to report: the NumPy path then runs with the guard observing.
    ``trace`` is called at the same epochs as on the NumPy path, the network holding the parameters
    of that epoch (the loop runs in pieces that end at the traced epochs)."""
    from . import compiled
    from .compiled import Batches

    conv = config.convention
    if net.observer not in (None, watch) or not compiled.supports(net, conv):
        return False
    if trace is not None and watch.mode != "off":  # a hand-back would replay epochs already traced
        return False
    dtype = net.precision.dtype
    states = {key: streams[key].get_state() for key in order}
    session = compiled.Session(net, opt, conv, watch_limit=compiled.guard_limit(watch, net),
                               iterations=config.iterations)
    sizes = np.full(config.iterations, config.batch_size, dtype=np.int64)
    scalars = compiled.lab_scalars(dtype, sizes.tolist(), 1, config.points)
    of = member_stream.astype(np.int64)
    unused = np.empty((0, net.members), dtype=dtype)
    for start in range(0, config.epochs, _BLOCK):
        block = min(_BLOCK, config.epochs - start)
        idx = np.stack([draw_batches(config, streams[key], block) for key in order])
        cuts = [start, *(e for e in range(start + 1, start + block) if trace is not None and e % trace_every == 0),
                start + block]
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            piece = Batches(np.ascontiguousarray(idx[:, lo - start:hi - start]), sizes, of)
            if not session.run(xs, ts, of, of, piece, scalars, lo, hi - lo, unused, logged, config.log_every):
                for key in order:
                    streams[key].set_state(states[key])
                return False
            if trace is not None and hi % trace_every == 0:
                session.finish()
                trace(hi, net)
        progress.update(start + block)
    session.finish()
    return True


def _should_stop(stop: Stop, net: Network, watch: Guard) -> bool:
    """Whether the epoch just ended meets ``stop`` (the guard checks the epoch's last step first)."""
    if stop == "first-event":
        watch.check()
        return any(isinstance(e, NonFiniteEvent) for e in watch.log)
    return not all(bool(np.isfinite(v).all()) for v in net.named_params().values())


def _chunks(runs: Sequence[Run], size: int) -> Iterator[tuple[list[int], list[Run]]]:
    """Runs grouped by seed (a seed's draws are made once per chunk), at most ``size`` a chunk."""
    by_seed = sorted(range(len(runs)), key=lambda i: (runs[i][0], i))
    for lo in range(0, len(by_seed), size):
        idx = by_seed[lo:lo + size]
        yield idx, [runs[i] for i in idx]


def _chunk_task(config: Config, runs: list[Run]) -> list[Result]:
    return run_many(config, [s for s, _ in runs], [r for _, r in runs])


def sweep(config: Config, runs: Sequence[Run], *, workers: int | None = None, executor: Executor | None = None,
          chunk_size: int = 64, quiet: bool = True, label: str = "lab sweep") -> list[Result]:
    """Every ``(seed, lr)`` run of ``config``, in input order, as chunks of :func:`run_many` on worker
    processes (``workers=0``: in this process). Results do not depend on the chunking."""
    from .sweep import MAX_WORKERS, default_workers, process_pool  # the one process pool of refnet

    given: object = runs  # callers without a type checker may pass anything
    if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
        raise TypeError(f"runs: expected a sequence of (seed, lr) pairs, got {runs!r}")
    for i, r in enumerate(given):
        if not (isinstance(r, tuple) and len(r) == 2):
            raise TypeError(f"runs[{i}]: expected a (seed, lr) pair, got {r!r}")
        check_int(f"runs[{i}] seed", r[0], 0)
    size = check_int("chunk_size", chunk_size, 1)
    n_workers = default_workers() if workers is None else check_int("workers", workers, 0, MAX_WORKERS)
    out: list[Result | None] = [None] * len(runs)
    progress = Progress(len(runs), label, quiet=quiet, unit="runs")
    chunks = list(_chunks(runs, size))
    started = time.monotonic()
    done = 0
    if n_workers == 0 and executor is None:
        for idx, chunk in chunks:
            for i, res in zip(idx, _chunk_task(config, chunk)):
                out[i] = res
            done += len(idx)
            progress.update(done, f"{time.monotonic() - started:,.0f} s")
    else:
        pool = executor if executor is not None else process_pool(n_workers)
        try:
            futures = [(idx, pool.submit(_chunk_task, config, chunk)) for idx, chunk in chunks]
            for idx, fut in futures:
                for i, res in zip(idx, fut.result()):
                    out[i] = res
                done += len(idx)
                progress.update(done, f"{time.monotonic() - started:,.0f} s")
        finally:
            if executor is None:
                pool.shutdown(wait=True, cancel_futures=True)
    return [r for r in out if r is not None]


EXPERIMENTS: Final[dict[str, Config]] = {
    # report pages 8-9: the linear result and curve (run_Net's defaults in the report's snippet;
    # train_linear.py passes lr 0.1)
    "linear": Config(data="linear", lr=0.1, epochs=10_000, batch_size=20, log_every=10),
    "linear-snippet": Config(data="linear", lr=0.05, epochs=10_000, batch_size=20, log_every=10),
    # pages 8, 10 and 14 left: the XOR result and curve (train_XOR.py passes lr 0.025)
    "xor": Config(data="xor", lr=0.025, epochs=500_000, batch_size=20, log_every=200),
    "xor-snippet": Config(data="xor", lr=0.05, epochs=500_000, batch_size=20, log_every=200),
    # page 10: six panels labelled 1 ... 0.01; the label went to print_freq, every panel ran at lr 10
    **{f"lr-{label:g}": Config(data="linear", lr=10.0, epochs=2_000, batch_size=20, log_every=10)
       for label in (1, 0.75, 0.5, 0.1, 0.05, 0.01)},
    # page 11: hidden units 4, 6, 8, 10, all at lr 10 (0.05 went to print_freq)
    **{f"units-{u}": Config(data="linear", hidden=(u, u), lr=10.0, epochs=5_000, batch_size=20, log_every=10)
       for u in (4, 6, 8, 10)},
    # page 12: no activation at all (first try), then the output sigmoid only; batch 5, units 6-4
    "no-activation": Config(data="xor", activation="none", output_sigmoid=False, hidden=(6, 4), lr=0.01,
                            epochs=500_000, batch_size=5, log_every=200),
    "output-sigmoid-only": Config(data="xor", activation="none", hidden=(6, 4), lr=0.01, epochs=500_000,
                                  batch_size=5, log_every=200),
    # page 14 right: BCE in its old form (divided by B, no delta), batch 5
    "bce-page14": Config(data="xor", loss="bce-page14", lr=0.01, epochs=500_000, batch_size=5, log_every=200),
    # page 15: sigmoid (batch 21) against ReLU (batch 5) with MSE
    "sigmoid-mse": Config(data="xor", lr=0.01, epochs=100_000, batch_size=21, log_every=200),
    "relu-mse": Config(data="xor", activation="relu", lr=0.01, epochs=100_000, batch_size=5, log_every=200),
    # page 16: ReLU + BCE at 0.01, then 0.001 (seed 0)
    "relu-bce-0.01": Config(data="xor", activation="relu", loss="bce", lr=0.01, epochs=50_000, batch_size=21,
                            log_every=200),
    "relu-bce-0.001": Config(data="xor", activation="relu", loss="bce", lr=0.001, epochs=50_000,
                             batch_size=21, log_every=200),
    # pages 17-18: the pair (seed 0)
    "pair-625": Config(data="xor", activation="relu", loss="bce", lr=0.001490625, epochs=50_000,
                       batch_size=21, log_every=200),
    "pair-626": Config(data="xor", activation="relu", loss="bce", lr=0.001490626, epochs=50_000,
                       batch_size=21, log_every=200),
}
"""Every figure of the report (LAB_SOURCE section 3), as its code ran it."""

LABELLED: Final[dict[str, float]] = {
    **{name: cfg.lr for name, cfg in EXPERIMENTS.items()},
    **{f"lr-{label:g}": float(label) for label in (1, 0.75, 0.5, 0.1, 0.05, 0.01)},
    **{f"units-{u}": 0.05 for u in (4, 6, 8, 10)},
}
"""The learning rate each figure's label or script states (differs from the run's for lr-* and units-*)."""

SEEDED: Final[frozenset[str]] = frozenset({"relu-bce-0.01", "relu-bce-0.001", "pair-625", "pair-626"})
"""The experiments whose script set ``seed(0)``; every other one ran unseeded."""
