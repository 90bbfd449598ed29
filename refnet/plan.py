"""The planned training step: what :func:`refnet.train.train` runs when nothing observes the network.

A :class:`Plan` is built once per ``train`` call, for one network, one
convention, the batch lengths of an epoch and one optimizer:

* every parameter lives in one arena (and so do its gradient, the update step
  and the momentum velocity), so that updating all parameters is two NumPy
  calls (momentum: four), or two per layer under a reading of the lab, which
  updates each layer inside the backward pass;
* every array the step produces has a buffer allocated here, per batch
  length; the layers and the loss write into them (``out=``). Their formulas
  stay in :mod:`refnet.layers` and :mod:`refnet.losses`: ``out`` only says
  where a result goes, never how it is computed;
* the layout is chosen once, for the whole run: the member axis first (each
  member's matrices contiguous, what BLAS is called on) for the ``blas``
  kernel and for ensembles smaller than :data:`refnet.kernels.MEMBER_LAST`,
  the member axis innermost for a ``portable`` ensemble (the layout its
  ordered sums run over), so that no product copies its operands in or out.

The results are those of :func:`refnet.train.step` bit for bit (pinned by
``tests/test_plan.py``): the same operations in the same order on the same
values. After a planned run the network's parameters are views into the
plan's arena; the optimizer's velocity is handed back to it
(:meth:`Plan.finish`), so a later ``train`` call, planned or not, continues.

Under a guard (:meth:`Plan.guarded_step`) the step stays planned: its buffers
and the parameter arena are checked with the guard's own sum-of-squares test,
and a doubtful step is undone and replayed unplanned with the guard observing.
A step is clean only when its sum of squares is strictly below the guard's
limit ``L^2``: a sum *equal* to the limit is doubtful and replayed, because the
guard's early warning fires at ``|a| >= L`` (one value exactly ``L``, the others
0, sums to exactly ``L^2``). Same rule as :meth:`refnet.guard.Guard.check`
(``clean = total < limit``); pinned at equality by ``tests/test_plan_guard_limit.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from .conventions import Arithmetic, Published, Reading
from .guard import Guard, sum_of_squares
from .kernels import KERNELS, MEMBER_LAST, Op
from .layers import Identity, Linear, PlannableLayer, ReLU, Sigmoid, Tanh
from .losses import BCE, MSE, BCEWithLogits, PlannableLoss
from .network import Network
from .optim import SGD
from .precision import FloatArray

__all__ = ["Plan", "Layout", "Replay"]

_LAYERS = (Linear, Sigmoid, ReLU, Tanh, Identity)
_LOSSES = (MSE, BCE, BCEWithLogits)

Layout = Literal["members-first", "members-last"]
"""Where the member axis of every ``(K, rows, cols)`` buffer and parameter lies in memory:
``(K, rows, cols)`` (BLAS is called on each member's contiguous matrices) or
``(rows, cols, K)`` (elementwise loops run over the members). A third layout,
``(rows, K, cols)``, was tried for ``blas`` ensembles (bias additions with long inner
loops) and dropped: BLAS on matrices with a longer leading dimension was slower and
gave other bits."""

Replay = Callable[[FloatArray, FloatArray], FloatArray]
"""The unplanned step on a batch ``(x, t)``, returning its loss: what a guarded plan replays."""

Span = tuple[int, int]
"""Parameters ``[start, stop)`` of every member, counted in one member's values."""


def _members_first(memory: FloatArray, k: int, rows: int, cols: int) -> FloatArray:
    return memory.reshape(k, rows, cols)


def _members_last(memory: FloatArray, k: int, rows: int, cols: int) -> FloatArray:
    out: FloatArray = memory.reshape(rows, cols, k).transpose(2, 0, 1)
    return out


_LAYOUTS = {"members-first": _members_first, "members-last": _members_last}


class _Arena:
    """Every parameter of the network in one flat array, and beside it (same layout) their
    gradients, the update step, the momentum velocity and a copy for undoing a step."""

    def __init__(self, net: Network, opt: SGD, layout: Layout) -> None:
        dtype, k = net.precision.dtype, net.members
        self.k, self.layout = k, layout
        entries = [(i, name, p) for i, layer in enumerate(net.layers) for name, p in layer.params.items()]
        sizes = [int(np.prod(p.shape[1:])) for _, _, p in entries]
        n = k * sum(sizes)
        # parameters and gradients side by side: a guard checks both with one dot product
        self.checked = np.empty(2 * n, dtype=dtype)
        self.params, self.grad = self.checked[:n], self.checked[n:]
        self.step = np.empty(n, dtype=dtype)
        self.velocity: FloatArray | None = np.empty(n, dtype=dtype) if opt.momentum else None
        self.saved = np.empty(n, dtype=dtype)
        self.saved_velocity: FloatArray | None = np.empty(n, dtype=dtype) if opt.momentum else None
        self.spans: list[Span | None] = [None] * len(net.layers)
        self.grads: list[dict[str, FloatArray]] = [{} for _ in net.layers]
        self.views: dict[tuple[int, str], FloatArray] = {}
        self.velocities: dict[tuple[int, str], FloatArray] = {}
        rates, self.mu = opt.rates_for(dtype)
        self.lr: FloatArray = rates if not rates.ndim else np.empty(n, dtype=dtype)
        have = []
        off = 0
        for (i, name, p), size in zip(entries, sizes):
            view = self.view(self.params, off, size, p.shape)
            np.copyto(view, p)
            net.layers[i].params[name] = view
            self.views[(i, name)] = view
            self.grads[i][name] = self.view(self.grad, off, size, p.shape)
            if rates.ndim:  # one rate per member, laid out like the parameters it multiplies
                np.copyto(self.view(self.lr, off, size, p.shape), rates.reshape((k,) + (1,) * (p.ndim - 1)))
            span = self.spans[i]
            self.spans[i] = (off if span is None else span[0], off + size)
            if self.velocity is not None:
                v_view = self.view(self.velocity, off, size, p.shape)
                self.velocities[(i, name)] = v_view
                old = opt.velocity((i, name))
                have.append(old is not None)
                if old is not None:
                    np.copyto(v_view, old)
            off += size
        if len(set(have)) > 1:
            raise ValueError("optimizer: its momentum velocity covers only some parameters")
        self.has_velocity = bool(have) and have[0]

    def view(self, arena: FloatArray, off: int, size: int, shape: tuple[int, ...]) -> FloatArray:
        """The ``(K, rows, cols)`` parameter whose ``size`` values per member start at ``off``."""
        k = self.k
        return _LAYOUTS[self.layout](arena[k * off : k * (off + size)], k, shape[-2], shape[-1])

    def region(self, arena: FloatArray, span: Span | None) -> FloatArray:
        """The values of the parameters in ``span`` (``None``: all) of every member."""
        if span is None:
            return arena
        out: FloatArray = arena[self.k * span[0] : self.k * span[1]]
        return out

    def update_ops(self, span: Span | None, first_step: bool) -> list[Op]:
        """:meth:`refnet.optim.SGD.update`'s operations, elementwise over a region of the arena:
        ``s = lr g``, with momentum ``s = s + mu v`` (not at the first step) and ``v = s``; ``p - s``."""
        p, g, s = (self.region(a, span) for a in (self.params, self.grad, self.step))
        rate = self.region(self.lr, span) if self.lr.ndim else self.lr
        ops: list[Op] = [partial(np.multiply, rate, g, s)]
        if self.velocity is None:
            return [*ops, partial(np.subtract, p, s, p)]
        v = self.region(self.velocity, span)
        if first_step:
            ops.append(partial(np.copyto, v, s))
        else:
            ops += [partial(np.multiply, self.mu, v, v), partial(np.add, s, v, v)]
        return [*ops, partial(np.subtract, p, v, p)]

    def save(self) -> None:
        np.copyto(self.saved, self.params)
        if self.velocity is not None and self.saved_velocity is not None:
            np.copyto(self.saved_velocity, self.velocity)

    def restore(self) -> None:
        np.copyto(self.params, self.saved)
        if self.velocity is not None and self.saved_velocity is not None:
            np.copyto(self.velocity, self.saved_velocity)


@dataclass
class _Batch:
    """The bound calls of one step on one batch, and where its loss terms are."""

    ops: list[Op]
    """Forward, loss, backward and updates, in program order."""
    first_ops: list[Op]
    """The same for the first step of a momentum run (no velocity yet)."""
    terms: FloatArray
    contiguous: FloatArray | None
    """Member-first copy of the terms (members-last layout: the mean sums each member's terms pairwise)."""
    count: np.floating[Any]
    """``N x out`` of the batch, in the network's dtype."""
    work: FloatArray
    """One flat array behind the outputs, their gradients and the loss terms: what a guard checks."""


class Plan:
    """One network's training step with its buffers, for :func:`refnet.train.train`.

    ``parts`` are the prepared ``(x, t)`` of each batch of an epoch, in order.
    With a ``guard``, :meth:`guarded_step` replays a doubtful step by ``replay``.
    """

    def __init__(self, net: Network, reading: Reading | None, opt: SGD,
                 parts: Sequence[tuple[FloatArray, FloatArray]], guard: Guard | None = None,
                 replay: Replay | None = None) -> None:
        self.net, self.opt, self.guard, self.replay = net, opt, guard, replay
        dtype = net.precision.dtype
        self.dtype = dtype
        kernels = {layer.kernel.name for layer in net.linears}
        self.layout: Layout = ("members-last" if net.members >= MEMBER_LAST and kernels <= {"portable", "compiled"}
                               else "members-first")
        self.single = net.members == 1 and kernels == {"blas"}
        self.arena = _Arena(net, opt, self.layout)
        if reading is None:
            self.mean, self.halve, self.scale = net.loss.reduction == "mean", False, None
        else:
            self.mean = reading.gradient == "mean"
            self.halve = reading.mse_derivative == "(y-t)" and net.loss.name == "mse"
            self.scale = dtype.type(1 / math.log(2)) if (
                reading.log_base == "2" and net.loss.name in ("bce", "bce-logits")) else None
        self.inside = reading is not None
        """Update each layer inside the backward pass (a reading of the lab), else all at the end."""
        self.limit = dtype.type(np.inf) if guard is None else \
            guard.square_limit(cast("np.dtype[np.floating[npt.NBitBase]]", dtype))
        self._flagged = False
        self._previous_handler: tuple[Any] | None = None  # NumPy's errcall before the plan took it
        buffers: dict[int, tuple[list[FloatArray], list[FloatArray], FloatArray, FloatArray]] = {}
        self.batches: list[_Batch] = []
        for x, t in parts:
            rows = x.shape[1]
            if rows not in buffers:
                buffers[rows] = self._buffers(rows)
            self.batches.append(self._batch(x, t, *buffers[rows]))

    @staticmethod
    def supports(net: Network, convention: Arithmetic | None = None) -> bool:
        """Whether every layer, the loss and the kernels are refnet's own (a plan knows their buffers)
        and the convention is ``default`` or a :class:`Reading`. The lab's published arithmetic
        (:class:`Published`) is not planned: it runs as :func:`refnet.train.step` writes it."""
        return (not isinstance(convention, Published)
                and all(type(layer) in _LAYERS for layer in net.layers) and type(net.loss) in _LOSSES
                and all(layer.kernel is KERNELS[layer.kernel.name] for layer in net.linears))

    # -- building ------------------------------------------------------------------
    def _flat(self, a: FloatArray) -> FloatArray:
        """``a`` without its member axis for a single blas network (one loop level less in
        every NumPy call), else ``a``."""
        if self.single:
            out: FloatArray = a[0]
            return out
        return a

    def _buffers(self, rows: int) -> tuple[list[FloatArray], list[FloatArray], FloatArray, FloatArray]:
        """Outputs and output gradients of every layer, and the loss terms, in one flat array."""
        widths = []
        width = self.net.in_features
        for layer in self.net.layers:
            if isinstance(layer, Linear):
                width = layer.out_features
            widths.append(width)
        shapes = [*widths, *widths, widths[-1]]
        k = self.net.members
        work = np.empty(rows * k * sum(shapes), dtype=self.dtype)
        starts = np.cumsum([0, *shapes]) * rows * k
        arrays = [_LAYOUTS[self.layout](work[a:b], k, rows, f) for a, b, f in zip(starts[:-1], starts[1:], shapes)]
        n = len(widths)
        return arrays[:n], arrays[n : 2 * n], arrays[-1], work

    def _batch(self, x: FloatArray, t: FloatArray, outputs: list[FloatArray], douts: list[FloatArray],
               terms: FloatArray, work: FloatArray) -> _Batch:
        """The step on one batch as bound calls: the layers', the loss's, the optimizer's."""
        net, arena, flat = self.net, self.arena, self._flat
        layers = cast(list[PlannableLayer], net.layers)  # Plan.supports: refnet's own layers
        ins, outs, ds = [flat(x), *map(flat, outputs[:-1])], [*map(flat, outputs)], [*map(flat, douts)]
        parts = [layer.plan(ins[i], outs[i], ds[i], ds[i - 1] if i else None,
                            {name: flat(g) for name, g in arena.grads[i].items()})
                 for i, layer in enumerate(layers)]
        forward: list[Op] = [op for part in parts for op in part.forward]
        forward += cast(PlannableLoss, net.loss).plan(outs[-1], flat(t), flat(terms), ds[-1])
        count = self.dtype.type(x.shape[1] * net.out_features)
        if self.halve:
            forward.append(partial(np.multiply, ds[-1], self.dtype.type(0.5), ds[-1]))
        if self.mean:
            forward.append(partial(np.divide, ds[-1], count, ds[-1]))
        steady, first = list(forward), list(forward)
        for i in range(len(layers) - 1, -1, -1):
            span = arena.spans[i]
            for ops, first_step in ((steady, False), (first, True)):
                ops += parts[i].grad_params
                if self.inside and span is not None:
                    ops += arena.update_ops(span, first_step)
                ops += parts[i].grad_input
        if not self.inside:
            steady += arena.update_ops(None, first_step=False)
            first += arena.update_ops(None, first_step=True)
        contiguous = None if self.layout == "members-first" else \
            np.empty((net.members, x.shape[1], net.out_features), dtype=self.dtype)
        return _Batch(steady, first, terms, contiguous, count, work)

    # -- running -------------------------------------------------------------------
    def step(self, index: int, out: FloatArray) -> None:
        """Run batch ``index`` of the epoch; write the mean loss per member before the step into ``out``."""
        batch = self.batches[index]
        self._run(batch)
        self._loss(batch, out)

    def _run(self, batch: _Batch) -> None:
        arena = self.arena
        for op in (batch.ops if arena.has_velocity or arena.velocity is None else batch.first_ops):
            op()
        arena.has_velocity = arena.velocity is not None

    def _loss(self, batch: _Batch, out: FloatArray) -> None:
        terms = batch.terms
        if batch.contiguous is not None:
            np.copyto(batch.contiguous, terms)
            terms = batch.contiguous
        np.add.reduce(terms, axis=(-2, -1), out=out)
        np.divide(out, batch.count, out=out)
        if self.scale is not None:
            np.multiply(out, self.scale, out=out)

    def guarded_step(self, index: int, out: FloatArray, epoch: int, step: int, rows: slice,
                     x: FloatArray, t: FloatArray) -> None:
        """:meth:`step` under the guard: the step's buffers and the parameter arena checked at
        once (one sum of squares against the guard's limit, its own hot-path test); on any
        doubt, a raised floating-point flag included, the step is undone and replayed
        unplanned with the guard observing, which reports exactly what it would have
        reported without the plan (the same operations give the same bits)."""
        guard, replay, arena = self.guard, self.replay, self.arena
        if guard is None or replay is None:
            raise RuntimeError("guarded_step: this plan was built without a guard and a replay")
        batch = self.batches[index]
        arena.save()
        had_velocity = arena.has_velocity
        self._flagged = False
        if self._previous_handler is None:  # NumPy's flags come to the plan until finish()
            self._previous_handler = (np.seterrcall(self._on_flag),)
        self._run(batch)
        work, checked = batch.work, arena.checked
        if sum_of_squares(work) + sum_of_squares(checked) < self.limit and not self._flagged:  # NaN compares False
            self._loss(batch, out)
            return
        arena.restore()
        arena.has_velocity = had_velocity
        self.opt.reset()
        if had_velocity:
            for key, view in arena.velocities.items():
                self.opt.set_velocity(key, view.copy())
        np.seterrcall(guard.flag_handler)
        try:
            guard.at(epoch, step, rows)
            out[...] = replay(x, t)
            guard.check()
        finally:
            np.seterrcall(self._on_flag)
            self._adopt()

    def _on_flag(self, err: str, flag: int) -> None:
        self._flagged = True

    def _adopt(self) -> None:
        """Take the parameters and velocity back from a replayed (unplanned) step."""
        arena = self.arena
        for i, layer in enumerate(self.net.layers):
            for name, p in list(layer.params.items()):
                view = arena.views[(i, name)]
                np.copyto(view, p)
                layer.params[name] = view
        for key, view in arena.velocities.items():
            v = self.opt.velocity(key)
            if v is not None:
                np.copyto(view, v)
        arena.has_velocity = arena.velocity is not None and all(
            self.opt.velocity(key) is not None for key in arena.velocities)

    def finish(self) -> None:
        """Hand the momentum velocity back to the optimizer, and NumPy's flags back to
        whoever had them (after the last step, or when a step raised)."""
        if self._previous_handler is not None:
            np.seterrcall(self._previous_handler[0])
            self._previous_handler = None
        if self.arena.velocity is not None and self.arena.has_velocity:
            for key, view in self.arena.velocities.items():
                self.opt.set_velocity(key, view)
