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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from .conventions import Reading
from .kernels import KERNELS, MEMBER_LAST, Op
from .layers import Identity, Linear, ReLU, Sigmoid, Tanh
from .losses import BCE, MSE, BCEWithLogits
from .network import Network
from .optim import SGD
from .guard import Guard
from .precision import FloatArray

__all__ = ["Plan"]

_LAYERS = (Linear, Sigmoid, ReLU, Tanh, Identity)

Layout = Literal["members-first", "members-last"]
"""Where the member axis of every ``(K, rows, cols)`` buffer and parameter lies in memory:
``(K, rows, cols)`` (BLAS is called on each member's contiguous matrices) or
``(rows, cols, K)`` (elementwise loops run over the members). A third layout,
``(rows, K, cols)``, was tried for ``blas`` ensembles (bias additions with long inner
loops) and dropped: BLAS on matrices with a longer leading dimension was slower and
gave other bits."""


def _members_first(memory: FloatArray, k: int, rows: int, cols: int) -> FloatArray:
    return memory.reshape(k, rows, cols)


def _members_last(memory: FloatArray, k: int, rows: int, cols: int) -> FloatArray:
    out: FloatArray = memory.reshape(rows, cols, k).transpose(2, 0, 1)
    return out


_LAYOUTS = {"members-first": _members_first, "members-last": _members_last}
_LOSSES = (MSE, BCE, BCEWithLogits)


@dataclass
class _Batch:
    """The bound calls of one step on a batch of one length, and where its loss is."""

    ops: list[Op]
    """Forward, loss, backward and updates, in program order."""
    first_ops: list[Op]
    """The same for the first step of a momentum run (no velocity yet)."""
    terms: FloatArray
    contiguous: FloatArray | None
    """Member-first copy of the terms (member-last layout: the mean sums each member's terms pairwise)."""
    count: np.floating[Any]
    """``N x out`` of the batch, in the network's dtype."""
    work: FloatArray
    """One flat array behind the outputs, their gradients and the loss terms: what a guard checks."""


class Plan:
    """One network's training step with its buffers, for :func:`refnet.train.train`.

    ``parts`` are the prepared ``(x, t)`` of each batch of an epoch, in order.
    """

    def __init__(self, net: Network, reading: Reading | None, opt: SGD,
                 parts: Sequence[tuple[FloatArray, FloatArray]], guard: Guard | None = None) -> None:
        self.net = net
        self.opt = opt
        self.reading = reading
        self.guard = guard
        dtype = net.precision.dtype
        self.dtype = dtype
        k = net.members
        kernels = {layer.kernel.name for layer in net.linears}
        self.layout: Layout = "members-last" if k >= MEMBER_LAST and kernels == {"portable"} else "members-first"
        self.single = k == 1 and kernels == {"blas"}
        # -- the parameter arena, in network order: each layer's parameters adjacent
        entries = [(i, name, p) for i, layer in enumerate(net.layers) for name, p in layer.params.items()]
        sizes = [int(np.prod(p.shape[1:])) for _, _, p in entries]
        shape = (k * sum(sizes),)
        # parameters and gradients side by side: a guard checks both with one dot product
        self.checked = np.empty(2 * shape[0], dtype=dtype)
        self.params, self.grad = self.checked[: shape[0]], self.checked[shape[0] :]
        self.step_buf = np.empty(shape, dtype=dtype)
        self.velocity: FloatArray | None = np.empty(shape, dtype=dtype) if opt.momentum else None
        self.saved = (np.empty(shape, dtype=dtype), np.empty(shape, dtype=dtype) if opt.momentum else None)
        """The parameters and velocity before the step (a guarded step may be replayed from them)."""
        spans: list[tuple[int, int] | None] = [None] * len(net.layers)
        grads: list[dict[str, FloatArray]] = [{} for _ in net.layers]
        self.keys: list[tuple[tuple[int, str], FloatArray]] = []
        have = []
        self._views: dict[tuple[int, str], FloatArray] = {}
        self._flagged = False
        self._previous_handler: tuple[Any] | None = None  # NumPy's errcall before the plan took it
        self.limit = guard.square_limit(cast("np.dtype[np.floating[npt.NBitBase]]", dtype)) if guard is not None \
            else dtype.type(np.inf)
        off = 0
        for (i, name, p), size in zip(entries, sizes):
            view = self._view(self.params, off, size, p.shape)
            np.copyto(view, p)
            net.layers[i].params[name] = view
            self._views[(i, name)] = view
            grads[i][name] = self._view(self.grad, off, size, p.shape)
            span = spans[i]
            spans[i] = (off if span is None else span[0], off + size)
            if self.velocity is not None:
                v_view = self._view(self.velocity, off, size, p.shape)
                self.keys.append(((i, name), v_view))
                old = opt.velocity((i, name))
                have.append(old is not None)
                if old is not None:
                    np.copyto(v_view, old)
            off += size
        if len(set(have)) > 1:
            raise ValueError("optimizer: its momentum velocity covers only some parameters")
        self.has_velocity = bool(have) and have[0]
        rates, mu = opt.rates_for(dtype)
        lr: FloatArray = rates
        if rates.ndim:  # one rate per member: laid out like the parameters it multiplies
            lr = np.empty(shape, dtype=dtype)
            off = 0
            for (_, _, p), size in zip(entries, sizes):
                np.copyto(self._view(lr, off, size, p.shape), rates.reshape((k,) + (1,) * (p.ndim - 1)))
                off += size
        # -- the update: over the whole arena (default) or per layer inside the backward pass (a reading)
        everything = (slice(None),)
        if reading is None:
            mean, halve, self.scale = net.loss.reduction == "mean", False, None
        else:
            mean = reading.gradient == "mean"
            halve = reading.mse_derivative == "(y-t)" and net.loss.name == "mse"
            self.scale = dtype.type(1 / math.log(2)) if (
                reading.log_base == "2" and net.loss.name in ("bce", "bce-logits")) else None
        buffers: dict[int, tuple[list[FloatArray], list[FloatArray], FloatArray, FloatArray]] = {}
        self.batches: list[_Batch] = []
        for x, t in parts:
            rows = x.shape[1]
            if rows not in buffers:
                buffers[rows] = self._buffers(rows)
            outputs, douts, terms, work = buffers[rows]
            count = dtype.type(rows * net.out_features)
            steady: list[Op] = []
            first: list[Op] = []
            layer_ops = []
            # a single network on the blas kernel: 2-D views (one loop level less in every call)
            flat = self._flat
            ins, outs, ds = [flat(x), *map(flat, outputs[:-1])], [*map(flat, outputs)], [*map(flat, douts)]
            for i, layer in enumerate(net.layers):
                layer_ops.append(layer.plan(ins[i], outs[i], ds[i], ds[i - 1] if i else None,  # type: ignore[attr-defined]
                                            {name: flat(g) for name, g in grads[i].items()}))
            for ops in layer_ops:
                steady += ops.forward
            steady += net.loss.plan(outs[-1], flat(t), flat(terms), ds[-1])  # type: ignore[attr-defined]
            if halve:
                steady.append(partial(np.multiply, ds[-1], dtype.type(0.5), ds[-1]))
            if mean:
                steady.append(partial(np.divide, ds[-1], count, ds[-1]))
            first = list(steady)
            for i in range(len(net.layers) - 1, -1, -1):
                for ops_list in (steady, first):
                    ops_list += layer_ops[i].grad_params
                span = spans[i]
                if reading is not None and span is not None:
                    where = (slice(*span),)
                    steady += self._update_ops(lr, mu, where, first_step=False)
                    first += self._update_ops(lr, mu, where, first_step=True)
                for ops_list in (steady, first):
                    ops_list += layer_ops[i].grad_input
            if reading is None:
                steady += self._update_ops(lr, mu, everything, first_step=False)
                first += self._update_ops(lr, mu, everything, first_step=True)
            contiguous = (None if self.layout == "members-first" else
                          np.empty((k, rows, net.out_features), dtype=dtype))
            self.batches.append(_Batch(steady, first, terms, contiguous, count, work))

    @staticmethod
    def supports(net: Network) -> bool:
        """Whether every layer, the loss and the kernels are refnet's own (a plan knows their buffers)."""
        return (all(type(layer) in _LAYERS for layer in net.layers) and type(net.loss) in _LOSSES
                and all(layer.kernel is KERNELS[layer.kernel.name] for layer in net.linears))

    # -- layout ------------------------------------------------------------------
    def _flat(self, a: FloatArray) -> FloatArray:
        """``a`` without its member axis for a single blas network (its one member), else ``a``."""
        if self.single:
            out: FloatArray = a[0]
            return out
        return a

    def _view(self, arena: FloatArray, off: int, size: int, shape: tuple[int, ...]) -> FloatArray:
        """The ``(K, rows, cols)`` parameter whose ``size`` values per member start at ``off``
        (in every member's units) of a flat arena, in the plan's layout."""
        k = shape[0]
        return _LAYOUTS[self.layout](arena[k * off : k * (off + size)], k, shape[-2], shape[-1])

    def _region(self, arena: FloatArray, where: tuple[slice]) -> FloatArray:
        """The values of some parameters (a span in every member's units) of every member."""
        span = where[0]
        if span.start is None:
            return arena
        k = self.net.members
        out: FloatArray = arena[k * span.start : k * span.stop]
        return out

    def _array(self, memory: FloatArray, rows: int, features: int) -> FloatArray:
        """A ``(K, rows, features)`` buffer in the plan's layout, carved from ``memory``."""
        return _LAYOUTS[self.layout](memory, self.net.members, rows, features)

    def _buffers(self, rows: int) -> tuple[list[FloatArray], list[FloatArray], FloatArray, FloatArray]:
        """Outputs and output gradients of every layer, and the loss terms, all in one flat array."""
        widths = []
        width = self.net.in_features
        for layer in self.net.layers:
            if isinstance(layer, Linear):
                width = layer.out_features
            widths.append(width)
        shapes = [*widths, *widths, widths[-1]]
        per = rows * self.net.members
        work = np.empty(per * sum(shapes), dtype=self.dtype)
        starts = np.cumsum([0, *shapes]) * per
        arrays = [self._array(work[a:b], rows, f) for a, b, f in zip(starts[:-1], starts[1:], shapes)]
        n = len(widths)
        return arrays[:n], arrays[n : 2 * n], arrays[-1], work

    def _update_ops(self, lr: FloatArray, mu: np.floating[Any], where: tuple[slice],
                    first_step: bool) -> list[Op]:
        """:meth:`refnet.optim.SGD.update`'s operations, elementwise over a region of the arena:
        ``s = lr g``, with momentum ``s = s + mu v`` (not at the first step) and ``v = s``; ``p - s``."""
        p, g, s = (self._region(a, where) for a in (self.params, self.grad, self.step_buf))
        rate = self._region(lr, where) if lr.ndim else lr
        ops: list[Op] = [partial(np.multiply, rate, g, s)]
        if self.velocity is None:
            return [*ops, partial(np.subtract, p, s, p)]
        v = self._region(self.velocity, where)
        if first_step:
            ops.append(partial(np.copyto, v, s))
        else:
            ops += [partial(np.multiply, mu, v, v), partial(np.add, s, v, v)]
        return [*ops, partial(np.subtract, p, v, p)]

    # -- running -----------------------------------------------------------------
    def step(self, index: int, out: FloatArray) -> None:
        """Run batch ``index`` of the epoch; write the mean loss per member before the step into ``out``."""
        batch = self.batches[index]
        for op in (batch.ops if self.has_velocity or self.velocity is None else batch.first_ops):
            op()
        self.has_velocity = self.velocity is not None
        self._loss(batch, out)

    def _loss(self, batch: _Batch, out: FloatArray) -> None:
        terms = batch.terms
        if batch.contiguous is not None:
            np.copyto(batch.contiguous, terms)
            terms = batch.contiguous
        np.add.reduce(terms, axis=(-2, -1), out=out)
        np.divide(out, batch.count, out=out)
        if self.scale is not None:
            np.multiply(out, self.scale, out=out)

    # -- guarded running ------------------------------------------------------------
    def guarded_step(self, index: int, out: FloatArray, epoch: int, step: int, rows: slice,
                     x: FloatArray, t: FloatArray) -> None:
        """:meth:`step` under the guard: the step's buffers and the parameters checked at once
        (one sum of squares, as :meth:`refnet.guard.Guard.check` does); on any doubt, a raised
        floating-point flag included, the step is undone and replayed by
        :func:`refnet.train.step` with the guard observing, which reports exactly what it
        would have reported without the plan (the same operations give the same bits)."""
        guard = self.guard
        assert guard is not None
        batch = self.batches[index]
        saved_p, saved_v = self.saved
        np.copyto(saved_p, self.params)
        had_velocity = self.has_velocity
        if saved_v is not None and self.velocity is not None:
            np.copyto(saved_v, self.velocity)
        self._flagged = False
        if self._previous_handler is None:  # NumPy's flags come to the plan until finish()
            self._previous_handler = (np.seterrcall(self._on_flag),)
        for op in (batch.ops if self.has_velocity or self.velocity is None else batch.first_ops):
            op()
        self.has_velocity = self.velocity is not None
        work, checked = batch.work, self.checked
        if work.dot(work) + checked.dot(checked) < self.limit and not self._flagged:  # NaN compares False
            self._loss(batch, out)
            return
        np.copyto(self.params, saved_p)
        if saved_v is not None and self.velocity is not None:
            np.copyto(self.velocity, saved_v)
        self.has_velocity = had_velocity
        self.opt.reset()
        if had_velocity:
            for key, view in self.keys:
                self.opt.set_velocity(key, view.copy())
        from .train import step as general_step  # noqa: PLC0415 - train imports this module
        np.seterrcall(guard.flag_handler)
        try:
            guard.at(epoch, step, rows)
            out[...] = general_step(self.net, self.opt, x, t, self.reading)
            guard.check()
        finally:
            np.seterrcall(self._on_flag)
            self._adopt()

    def _on_flag(self, err: str, flag: int) -> None:
        self._flagged = True

    def _adopt(self) -> None:
        """Take the parameters and velocity back from a replayed (unplanned) step."""
        for i, layer in enumerate(self.net.layers):
            for name, p in list(layer.params.items()):
                view = self._views[(i, name)]
                np.copyto(view, p)
                layer.params[name] = view
        for key, view in self.keys:
            v = self.opt.velocity(key)
            if v is not None:
                np.copyto(view, v)
        self.has_velocity = self.velocity is not None and all(self.opt.velocity(k) is not None for k, _ in self.keys)

    def finish(self) -> None:
        """Hand the momentum velocity back to the optimizer, and NumPy's flags back to
        whoever had them (after the last step, or when a step raised)."""
        if self._previous_handler is not None:
            np.seterrcall(self._previous_handler[0])
            self._previous_handler = None
        if self.velocity is not None and self.has_velocity:
            for key, view in self.keys:
                self.opt.set_velocity(key, view)
