"""Sweeps: many small networks trained as ensembles, each bitwise its own run.

A sweep is a list of :class:`Member` specs (seed, learning rate, dtype,
convention, kernel) sharing one :class:`Setup` (architecture, data, epochs).
Consecutive members with the same dtype, convention and kernel are cut into
chunks of at most ``chunk_size``; each chunk is built with
``mlp(seed=[...])`` and trained by :func:`refnet.train.train` with one
learning rate per member, i.e. by the same code that trains a network alone.
Every operation in that code acts on each member separately (elementwise
arithmetic, per-member products and sums), so member ``k`` of a chunk is bit
for bit the network trained alone, whatever the chunk size or neighbours.

Chunks run on a :class:`concurrent.futures.Executor`: local worker processes
by default, or any executor passed in (a Dask ``Client.get_executor()``).
Results come back per member, in input order, as a stream
(:func:`iter_sweep`); only a few chunks are in flight at a time, so memory
stays bounded however long the sweep.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import TextIO

import numpy as np
import numpy.typing as npt

from .init import INITIALISERS, InitName
from .kernels import KERNELS, KernelName
from .layers import ActivationName, SigmoidFormula
from .losses import LossName
from .network import Network, mlp
from .events import nonfinite_members
from .optim import SGD, check_momentum
from .outcomes import Criteria, LossTracker, Readout, judge_summary
from .precision import DTypeName, FloatArray, precision
from .progress import Progress
from .reproducible import kernel_fingerprint
from .conventions import ConventionLike, network_options, resolve
from .train import HISTORY_BYTES, prepare_data, train
from .validation import check_bool, check_choice, check_int, check_items, check_real, check_text, real_array

__all__ = ["Member", "Setup", "NonFinite", "MemberResult", "grid", "iter_sweep", "sweep",
           "process_pool", "default_chunk_size", "default_workers"]

MAX_WORKERS = 1024
"""Most local worker processes a pool may be asked for (more is a mistake, and beyond
a C int the pool itself fails with a raw ``OverflowError``)."""

CACHE_BYTES = 1024 * 1024
"""Budget of :meth:`Setup.bytes_per_member` summed over a chunk: the size of a
per-core L2 cache. On the lab's XOR network (float64) this gives chunks of 256
members, the fastest size measured on the reference machine (see
``docs/ensemble.md``)."""


@dataclass(frozen=True)
class Member:
    """One network of a sweep: its seed, learning rate and arithmetic."""

    seed: int
    lr: float
    dtype: DTypeName = "float64"
    convention: ConventionLike = "default"
    kernel: KernelName = "blas"
    init: InitName | None = None
    """Initialisation scheme of this member (``None``: the setup's). Members of one
    group may differ in it: each member's weights are drawn as if it were alone."""

    def check(self, name: str = "member") -> Member:
        """Validate every field (errors name the member); returns ``self``."""
        check_int(f"{name}.seed", self.seed, 0)
        try:
            SGD(self.lr).check(precision(self.dtype).dtype, 1)  # the rate as it rounds in the member's dtype
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}.{exc}") from None
        if np.ndim(self.lr) != 0:
            raise TypeError(f"{name}.lr: expected one number, got {self.lr!r}")
        try:
            resolve(self.convention)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}.{exc}") from None
        if self.init is not None:
            check_choice(f"{name}.init", self.init, INITIALISERS)
        check_choice(f"{name}.kernel", self.kernel, KERNELS)
        return self

    @property
    def group(self) -> tuple[str, str, str]:
        """Members that can share an ensemble have the same group."""
        return (str(precision(self.dtype)), str(self.convention), self.kernel)


@dataclass(frozen=True)
class Setup:
    """What every member of a sweep shares: network shape, data, training length.

    The network fields are those of :func:`refnet.network.mlp`; ``x (N, in)``
    and ``y (N, out)`` are the training data (float64, converted once per
    chunk to the member's precision).
    """

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    epochs: int
    hidden: tuple[int, ...] = (4, 4)
    activation: ActivationName = "sigmoid"
    output_activation: ActivationName = "sigmoid"
    loss: LossName = "mse"
    bias: tuple[bool, ...] | None = None
    init: InitName = "normal"
    bce_delta: float = 1e-7
    batch_size: int | None = None
    momentum: float = 0.0
    criteria: Criteria = field(default_factory=Criteria)

    @property
    def inputs(self) -> int:
        return int(np.shape(self.x)[-1])

    @property
    def outputs(self) -> int:
        return 1 if np.ndim(self.y) == 1 else int(np.shape(self.y)[-1])

    def build(self, seeds: Sequence[int], dtype: DTypeName = "float64", kernel: KernelName = "blas") -> Network:
        """The ensemble of ``seeds`` (one member per seed); one seed gives the network alone."""
        return mlp(self.inputs, self.hidden, self.outputs, activation=self.activation,
                   output_activation=self.output_activation, loss=self.loss, bias=self.bias,
                   init=self.init, dtype=dtype, seed=list(seeds), kernel=kernel,
                   bce_delta=self.bce_delta)

    def build_for(self, members: Sequence[Member]) -> Network:
        """The ensemble of ``members`` (one group): member ``k`` starts from the weights of
        ``build_for([members[k]])``, drawn with its own seed and init; every Sigmoid layer
        uses the formula of the members' convention (the lab readings' ``sigmoid``)."""
        first = members[0]
        sigmoid, relu = network_options(first.convention)

        def make(seeds: Sequence[int], init: InitName) -> Network:
            return mlp(self.inputs, self.hidden, self.outputs, activation=self.activation,
                       output_activation=self.output_activation, loss=self.loss, bias=self.bias,
                       init=init, dtype=first.dtype, seed=list(seeds), kernel=first.kernel,
                       bce_delta=self.bce_delta, sigmoid=sigmoid, relu=relu)

        net = make([m.seed for m in members], self.init)
        others = [(k, m.seed, m.init) for k, m in enumerate(members)
                  if m.init is not None and m.init != self.init]
        if others:
            params = net.get_params()
            for k, seed, init in others:
                for name, value in make([seed], init).get_params().items():
                    params[name][k] = value[0]
            net.set_params(dict(params))
        return net

    def bytes_per_member(self, dtype: DTypeName = "float64") -> int:
        """One member's activations on a batch plus its parameters, in bytes.

        A step touches a few arrays of this size per member (activations,
        their gradients, masks); chunks are sized on this measure.
        """
        rows = int(np.shape(self.x)[0])
        n = rows if self.batch_size is None else min(self.batch_size, rows)
        widths = [self.inputs, *self.hidden, self.outputs]
        params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
        return precision(dtype).dtype.itemsize * (n * sum(widths) + params)


@dataclass(frozen=True)
class NonFinite:
    """One member's non-finite events, seen by cheap per-member checks."""

    first_loss_epoch: int | None
    """0-based epoch of the first NaN or inf loss, None if every loss was finite."""
    loss_epochs: int
    """How many epochs had a non-finite loss (counted on computed epochs only)."""
    params_finite: bool
    """Whether every final parameter is finite."""
    stopped_epoch: int | None
    """With ``stop_diverged``: epochs completed when the member was frozen
    because a parameter was non-finite (later epochs were not computed and
    their losses are NaN); None if it ran to the end."""


@dataclass
class MemberResult:
    """Everything a sweep returns for one member."""

    index: int
    """Position of the member in the sweep's input."""
    member: Member
    loss: FloatArray
    """Kept loss history ``(kept,)`` in the member's precision (see :attr:`loss_epochs`)."""
    loss_epochs: npt.NDArray[np.int64]
    """0-based epochs of the kept losses: every ``keep_every``-th one and the last."""
    params: dict[str, FloatArray]
    """Final parameters by name, each ``(1, ...)``: ready for ``Network.set_params``."""
    readout: Readout
    nonfinite: NonFinite
    fingerprint: str = ""
    """:func:`refnet.reproducible.kernel_fingerprint` of the process that trained it."""
    checkpoints: dict[int, Readout] = field(default_factory=dict)
    """Readouts after each requested checkpoint epoch (see ``checkpoints`` of :func:`iter_sweep`),
    judged on the parameters and losses of the first that many epochs."""

    @property
    def flat(self) -> FloatArray:
        """The final parameters as one ``(n_params,)`` vector, in :meth:`Network.get_flat` order."""
        out: FloatArray = np.concatenate([v.reshape(-1) for v in self.params.values()])
        return out


@dataclass(frozen=True)
class _Options:
    keep_every: int
    stop_diverged: bool
    check_every: int
    checkpoints: tuple[int, ...] = ()


def kept_epochs(epochs: int, every: int) -> npt.NDArray[np.int64]:
    """Epochs kept when subsampling by ``every``: 0, every, 2 every, ... and the last."""
    if check_int("epochs", epochs, 0) // check_int("every", every, 1) > HISTORY_BYTES // 8:
        raise ValueError(f"epochs: {epochs} epochs kept every {every} exceed {HISTORY_BYTES / 1024**3:g} GiB")
    idx = np.arange(0, epochs, every, dtype=np.int64)
    if epochs and idx[-1] != epochs - 1:
        idx = np.append(idx, np.int64(epochs - 1))
    return idx


def _run_chunk(setup: Setup, members: list[Member], opts: _Options, offset: int) -> list[MemberResult]:
    first = members[0]
    convention, kernel = first.convention, first.kernel
    k_all = len(members)
    epochs = setup.epochs
    net = setup.build_for(members)
    xa, ya = prepare_data(net, setup.x, setup.y)
    lr = np.array([m.lr for m in members], dtype=np.float64)
    keep = kept_epochs(epochs, opts.keep_every)
    kept = np.full((keep.size, k_all), np.nan, dtype=net.precision.dtype)
    tracker = LossTracker(k_all, epochs, setup.criteria)
    bad_first = np.full(k_all, -1, dtype=np.int64)
    bad_count = np.zeros(k_all, dtype=np.int64)
    stopped = np.full(k_all, -1, dtype=np.int64)
    frozen: dict[int, dict[str, FloatArray]] = {}
    active = np.arange(k_all)
    block = epochs if setup.momentum else max(1, opts.check_every)
    stops = [c for c in opts.checkpoints if 0 < c < epochs]
    at: list[list[Readout]] = []
    done = 0
    while done < epochs:
        n = min(block, epochs - done, *(c - done for c in stops if c > done))
        hist = train(net, xa[0], ya[0], lr=lr[active], epochs=n, batch_size=setup.batch_size,
                     convention=convention, momentum=setup.momentum, guard="off").loss  # judged by value
        full = np.full((n, k_all), np.nan, dtype=hist.dtype)
        full[:, active] = hist
        tracker.update(full)
        bad = ~np.isfinite(full)
        bad_count += bad.sum(axis=0)
        todo = (bad_first < 0) & bad.any(axis=0)
        bad_first[todo] = done + np.argmax(bad[:, todo], axis=0)
        sel = (keep >= done) & (keep < done + n)
        kept[sel] = full[keep[sel] - done]
        done += n
        if done in stops:
            now = _assemble(setup, members, net, active, frozen)
            at.append(judge_summary(now, xa, ya, tracker.summary(), setup.criteria))
        if opts.stop_diverged and done < epochs:
            dead = nonfinite_members(net.get_flat())
            if dead.any():
                params = net.get_params()
                for j in np.flatnonzero(dead):
                    k = int(active[j])
                    frozen[k] = {name: v[j : j + 1] for name, v in params.items()}
                    stopped[k] = done
                alive = np.flatnonzero(~dead)
                active = active[alive]
                if not active.size:
                    break
                survivors = setup.build_for([members[int(k)] for k in active])
                survivors.set_params({name: v[alive] for name, v in params.items()})
                net = survivors
    while done < epochs:  # every member frozen: the rest of the history was not computed
        n = min(block, epochs - done)
        tracker.update(np.full((n, k_all), np.nan))
        done += n
    final = _assemble(setup, members, net, active, frozen)
    values = final.named_params()
    readouts = judge_summary(final, xa, ya, tracker.summary(), setup.criteria)
    finite = ~nonfinite_members(final.get_flat())
    machine = kernel_fingerprint(kernel)
    results = []
    for k, m in enumerate(members):
        nf = NonFinite(int(bad_first[k]) if bad_first[k] >= 0 else None, int(bad_count[k]),
                       bool(finite[k]), int(stopped[k]) if stopped[k] >= 0 else None)
        results.append(MemberResult(offset + k, m, kept[:, k].copy(), keep,
                                    {name: v[k : k + 1].copy() for name, v in values.items()},
                                    readouts[k], nf, machine,
                                    {c: r[k] for c, r in zip(stops, at)}))
    return results


def _assemble(setup: Setup, members: list[Member], net: Network, active: npt.NDArray[np.intp],
              frozen: dict[int, dict[str, FloatArray]]) -> Network:
    """The whole chunk as one network: the members still training and those frozen."""
    if active.size == len(members):
        return net
    whole = setup.build_for(members)
    values = {name: np.empty_like(v) for name, v in whole.named_params().items()}
    params_now = net.get_params() if active.size else {}
    for name in values:
        if active.size:
            values[name][active] = params_now[name]
        for k_frozen, p in frozen.items():
            values[name][k_frozen] = p[name][0]
    whole.set_params(dict(values))
    return whole


def _chunk_task(setup: Setup, members: list[Member], opts: _Options, offset: int) -> list[MemberResult]:
    with np.errstate(all="ignore"):
        return _run_chunk(setup, members, opts, offset)


def process_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """The local worker processes :func:`iter_sweep` uses when given no executor.

    ``spawn`` processes (no fork of a multi-threaded parent); pass one pool as
    ``executor`` to many sweeps to start the workers once.
    """
    n = default_workers() if workers is None else check_int("workers", workers, 1, MAX_WORKERS)
    return ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))


def default_workers() -> int:
    """Cores this process may use (2 on the reference machine)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def default_chunk_size(setup: Setup, dtype: DTypeName = "float64") -> int:
    """Members per chunk so that a chunk's working set stays near :data:`CACHE_BYTES`."""
    _check_setup(setup)
    per = setup.bytes_per_member(dtype)
    size = max(1, CACHE_BYTES // per)
    return int(min(4096, 2 ** int(math.log2(size)) if size >= 16 else size))


def _chunks(members: Iterable[Member], chunk_size: int | None, setup: Setup, keep_every: int
            ) -> Iterator[tuple[int, list[Member]]]:
    """Consecutive members of one group, at most ``chunk_size`` each, with their offset.

    Each member is checked as it comes, and each chunk's kept loss history against
    :data:`refnet.train.HISTORY_BYTES` before the chunk is handed out."""
    current: list[Member] = []
    start = 0
    limit = 0
    for i, m in enumerate(members):
        if not isinstance(m, Member):
            raise TypeError(f"members[{i}]: expected a Member, got {type(m).__name__}")
        m.check(f"members[{i}]")
        if current and (m.group != current[0].group or len(current) >= limit):
            yield start, current
            current = []
        if not current:
            start = i
            limit = chunk_size if chunk_size is not None else default_chunk_size(setup, m.dtype)
            need = (setup.epochs // keep_every + 1) * limit * precision(m.dtype).dtype.itemsize
            if need > HISTORY_BYTES:
                raise ValueError(f"setup.epochs: {setup.epochs} epochs, one loss kept every {keep_every}, for "
                                 f"chunks of {limit} members need {need / 1024**3:.1f} GiB of loss history "
                                 f"(limit {HISTORY_BYTES / 1024**3:.0f} GiB); raise keep_every or lower chunk_size")
        current.append(m)
    if current:
        yield start, current


def _check_setup(setup: Setup) -> None:
    if not isinstance(setup, Setup):
        raise TypeError(f"setup: expected a Setup, got {type(setup).__name__}")
    check_int("setup.epochs", setup.epochs, 0)
    if real_array("setup.x", setup.x).ndim != 2:
        raise ValueError(f"setup.x: expected shape (N, inputs), got {np.shape(setup.x)}")
    if real_array("setup.y", setup.y).ndim not in (1, 2):
        raise ValueError(f"setup.y: expected shape (N,) or (N, outputs), got {np.shape(setup.y)}")
    if setup.batch_size is not None:
        check_int("setup.batch_size", setup.batch_size, 1)
    if not isinstance(setup.criteria, Criteria):
        raise TypeError(f"setup.criteria: expected a Criteria, got {setup.criteria!r}")
    try:
        check_momentum(setup.momentum)
        net = setup.build([0])  # validates the architecture once, early
        prepare_data(net, setup.x, setup.y)  # and the data (every error names setup.x or setup.y)
    except (TypeError, ValueError) as exc:
        kind = TypeError if isinstance(exc, TypeError) else ValueError  # not the subclass (it may carry more)
        raise kind(f"setup.{exc}") from None


def iter_sweep(
    setup: Setup,
    members: Iterable[Member],
    *,
    chunk_size: int | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    keep_every: int = 1,
    stop_diverged: bool = False,
    check_every: int = 1000,
    in_flight: int | None = None,
    same_math: bool = True,
    checkpoints: Sequence[int] = (),
    quiet: bool = True,
    label: str = "sweep",
    stream: TextIO | None = None,
) -> Iterator[MemberResult]:
    """Train every member; yield its :class:`MemberResult` in input order.

    Parameters
    ----------
    chunk_size
        Members per ensemble (default: :func:`default_chunk_size`, about
        :data:`CACHE_BYTES` of working set). Results do not depend on it.
    workers
        Local worker processes when no ``executor`` is given (default
        :func:`default_workers`); ``0`` trains in this process.
    executor
        Any :class:`concurrent.futures.Executor` (for a Dask cluster,
        ``distributed.Client(...).get_executor()``); not shut down here.
    keep_every
        Keep the loss of every ``keep_every``-th epoch and of the last one
        (the values kept are exact). Readouts always see every epoch.
    stop_diverged
        Freeze a member once a parameter is non-finite (checked every
        ``check_every`` epochs); it is then diverged for good, and the other
        members' bits do not change.
    in_flight
        Chunks submitted ahead of the one being yielded (default 2 per
        worker); bounds memory.
    same_math
        Raise ``RuntimeError`` if two chunks of one kernel ran in processes
        whose elementary functions (and, for ``blas``, BLAS products) differ,
        as on a cluster of unlike machines (see :mod:`refnet.reproducible`).
    checkpoints
        Epochs (strictly between 0 and ``setup.epochs``) after which every
        member is judged too (:attr:`MemberResult.checkpoints`); training is
        cut there, which changes no bit (not with momentum, whose velocity
        lives in one :func:`refnet.train.train` call).
    quiet
        No progress lines on stderr (or ``stream``).
    label
        What the progress lines call the sweep.
    """
    _check_setup(setup)
    if not isinstance(stop_diverged, (bool, np.bool_)):
        raise TypeError(f"stop_diverged: expected True or False, got {stop_diverged!r}")
    every = check_int("keep_every", keep_every, 1)
    check = check_int("check_every", check_every, 1)
    if chunk_size is not None:
        check_int("chunk_size", chunk_size, 1)
    n_workers = default_workers() if workers is None else check_int("workers", workers, 0, MAX_WORKERS)
    stops = tuple(sorted(set(check_items("checkpoints", checkpoints, lambda name, c: check_int(name, c, 1)))))
    if stops and setup.momentum:
        raise ValueError("checkpoints: not with momentum (the velocity lives in one train call)")
    opts = _Options(every, bool(stop_diverged), check, stops)
    total = len(members) if isinstance(members, Sequence) else None
    depth = in_flight if in_flight is not None else 2 * max(1, n_workers)
    check_int("in_flight", depth, 1)
    check_bool("quiet", quiet)
    check_bool("same_math", same_math)
    check_text("label", label)
    # every argument checked now, at the call: the work starts at the first result asked for
    return _results(setup, members, opts, total, chunk_size, n_workers, executor, depth, same_math,
                    label, quiet, stream)


def _results(setup: Setup, members: Iterable[Member], opts: _Options, total: int | None, chunk_size: int | None,
             n_workers: int, executor: Executor | None, depth: int, same_math: bool, label: str, quiet: bool,
             stream: TextIO | None) -> Iterator[MemberResult]:
    """The work of :func:`iter_sweep`, its arguments checked."""
    own: Executor | None = None
    if executor is None and n_workers > 0:
        own = process_pool(n_workers)
        executor = own
    progress = Progress(total or 0, label, quiet=quiet, unit="networks", stream=stream)
    start = time.monotonic()
    done_nets = 0
    chunks = _chunks(members, chunk_size, setup, opts.keep_every)
    pending: deque[Future[list[MemberResult]] | list[MemberResult]] = deque()
    seen: dict[str, str] = {}
    try:
        while True:
            if executor is not None:
                for offset, chunk in islice(chunks, max(0, depth - len(pending))):
                    pending.append(executor.submit(_chunk_task, setup, chunk, opts, offset))
            else:
                nxt = next(chunks, None)
                if nxt is not None:
                    pending.append(_chunk_task(setup, nxt[1], opts, nxt[0]))
            if not pending:
                break
            head = pending.popleft()
            results = head if isinstance(head, list) else head.result()
            if same_math and results:
                kern, machine = results[0].member.kernel, results[0].fingerprint
                if seen.setdefault(kern, machine) != machine:
                    raise RuntimeError(
                        f"sweep: members {results[0].index}.. ran where the {kern} kernel's math "
                        f"differs (fingerprint {machine} vs {seen[kern]}); pin the workers with "
                        "refnet.reproducible.pinned_environment() or pass same_math=False")
            done_nets += len(results)
            rate = done_nets * setup.epochs / max(time.monotonic() - start, 1e-9)
            if total is None:
                progress.total = done_nets
            progress.update(done_nets, f"{rate:,.0f} net-epochs/s")
            yield from results
    finally:
        for f in pending:
            if isinstance(f, Future):
                f.cancel()
        if own is not None:
            own.shutdown(wait=True, cancel_futures=True)


def sweep(
    setup: Setup,
    members: Iterable[Member],
    *,
    chunk_size: int | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    keep_every: int = 1,
    stop_diverged: bool = False,
    check_every: int = 1000,
    in_flight: int | None = None,
    same_math: bool = True,
    checkpoints: Sequence[int] = (),
    quiet: bool = True,
    label: str = "sweep",
    stream: TextIO | None = None,
) -> list[MemberResult]:
    """All results of :func:`iter_sweep` as a list (for sweeps that fit in memory)."""
    return list(iter_sweep(setup, members, chunk_size=chunk_size, workers=workers,
                           executor=executor, keep_every=keep_every, stop_diverged=stop_diverged,
                           check_every=check_every, in_flight=in_flight, same_math=same_math,
                           checkpoints=checkpoints, quiet=quiet, label=label, stream=stream))


def grid(seeds: Iterable[int], lrs: Iterable[float], *, dtype: DTypeName = "float64",
         convention: ConventionLike = "default", kernel: KernelName = "blas") -> list[Member]:
    """Every (seed, lr) pair as a :class:`Member`, seeds outermost."""
    lr_list = check_items("lrs", lrs, lambda name, r: check_real(name, r, minimum=0.0, open_minimum=True))
    seed_list = check_items("seeds", seeds, lambda name, s: check_int(name, s, 0))
    return [Member(s, r, dtype, convention, kernel) for s in seed_list for r in lr_list]
