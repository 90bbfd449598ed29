"""The overflow guard: which array first went non-finite, where, when, and why.

A :class:`Guard` is an :class:`~refnet.observe.Observer`. The network hands it
every array it produces (Linear outputs before the activation, activations,
loss terms and gradient, parameter and input gradients, updated parameters),
in program order. The guard answers by *value*, not by NumPy's flags:

* hot path: the arrays of one training step are kept by reference (refnet
  never mutates an array it produced) and checked together when the next
  step starts: their bytes joined into one buffer, one sum of squares
  (arrays whose finiteness another array of the step implies are left out);
* on failure only, the step is replayed in program order to build the report
  of the first bad array: a :class:`NonFiniteEvent` naming epoch, step,
  batch, phase, layer, operation and role, with NaN/+inf/-inf counts, first
  bad index (member axis first), finite range, headroom, the members
  concerned and whether the operation's inputs were already non-finite
  (``origin``: ``producer``, ``propagator`` or ``data``).

NumPy's floating-point flags are a secondary signal: while the guard is
active they are routed to it (``np.errstate(call=...)``) and attributed to the
array being computed, i.e. to the operation that produced it. A flag whose
result ended finite (the naive sigmoid's ``exp`` overflow, a BLAS build's
spurious flag) is recorded as a :class:`FlagEvent` with status
``ended finite`` and never aborts.

An early-warning monitor reports (:class:`EarlyWarning`) when a weight or
activation first reaches ``max ** level`` of its dtype (``level=0.5``: its
square would overflow), before anything is non-finite.

Modes: ``raise`` (:class:`NumericalError` carrying the first event),
``warn`` (one :class:`NumericalWarning` per event), ``record`` (ordered log,
training continues), ``off`` (the guard does not attach: no cost).

The events and exceptions live beside it, in :mod:`refnet.events`.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from types import TracebackType
from typing import TYPE_CHECKING, Literal, cast, get_args

import numpy as np
import numpy.typing as npt

from .events import (EarlyWarning, Event, FlagEvent, NonFiniteEvent, NumericalError, NumericalWarning,
                     describe, dtype_max, input_site, member_view, nonfinite_members)
from .observe import Observer, Phase, Site
from .precision import FloatArray
from .validation import check_bool, check_choice, check_items, check_real

if TYPE_CHECKING:
    from .network import Network

__all__ = ["Mode", "MODES", "Guard", "as_guard", "DEFAULT_LEVELS"]

Mode = Literal["raise", "warn", "record", "off"]
MODES: tuple[Mode, ...] = ("raise", "warn", "record", "off")

DEFAULT_LEVELS: tuple[float, ...] = (0.5,)
"""Early-warning levels: ``|a| >= max ** 0.5``, i.e. squaring ``a`` would overflow."""

BoolArray = npt.NDArray[np.bool_]

_PARAM_ROLE = {"W": "weight", "b": "bias"}

_first = itemgetter(0)

_NONE: list[FloatArray] = []  # shared empty list (never appended to)

_LARGE = 4096
"""Arrays with more values are reduced one by one in the hot path instead of joined."""

UNTHREADED_DOT = 8192
"""The longest dot product :func:`sum_of_squares` hands to BLAS at once. OpenBLAS computes a dot
product of up to 10,000 values on one thread and splits a longer one over its threads; on a
machine whose cores are busy (a sweep on every core, a parallel test run) the split waits for a
core and costs milliseconds instead of microseconds (``python benchmarks/guard_overhead.py
--sizes``; docs/benchmarks.md)."""


def sum_of_squares(flat: FloatArray) -> np.floating[npt.NBitBase]:
    """``flat . flat`` for a 1-D array, as dot products of at most :data:`UNTHREADED_DOT` values.

    The guard compares it with the square of its limit: any inf or NaN makes it inf or NaN, and
    any value at or above the limit makes it at least the limit's square, whatever the
    rounding. Its splitting can only move a sum of many values just below the limit's square
    across it, which makes the guard look closer (a replay or a scan that finds nothing),
    never changes a result.
    """
    n = flat.shape[0]
    if n <= UNTHREADED_DOT:  # the hot path of one network: its arrays are short
        return cast("np.floating[npt.NBitBase]", flat.dot(flat))
    total = flat[:UNTHREADED_DOT].dot(flat[:UNTHREADED_DOT])
    for start in range(UNTHREADED_DOT, n, UNTHREADED_DOT):
        part = flat[start:start + UNTHREADED_DOT]
        total = total + part.dot(part)
    return cast("np.floating[npt.NBitBase]", total)

_FLAG_NAMES = {"overflow": "overflow", "invalid value": "invalid", "divide by zero": "divide",
               "underflow": "underflow"}


# -- the guard ------------------------------------------------------------------
class Guard:
    """Detects non-finite values in everything a network produces.

    Use it as a context around any forward/backward computation::

        with Guard(net, mode="raise"):
            loss, grads = net.gradients(x, t)

    or give it to :func:`refnet.train.train` (``guard=``). Inside the context
    the guard is the network's observer (an observer already set is kept and
    still called) and NumPy's floating-point flags are routed to it.

    Parameters
    ----------
    net:
        The network to attach to on entry (``None``: the caller attaches the
        guard as an observer itself).
    mode:
        ``raise``, ``warn``, ``record`` or ``off``.
    levels:
        Early-warning levels ``f`` in (0, 1]: a watched array whose magnitude
        reaches ``max ** f`` of its dtype is reported once per site, level
        and member. Empty to disable.
    watch:
        Phases the early warning watches (default: activations and updated
        parameters).
    eager:
        Check every array as soon as it is produced (an exception then leaves
        the network at the failing operation) instead of once per step.

    Attributes
    ----------
    log:
        Every event in program order (non-finite, flag, early-warning).
    events, flags, early:
        The same log filtered by kind.
    """

    def __init__(self, net: Network | None = None, mode: Mode = "raise", *,
                 levels: Iterable[float] = DEFAULT_LEVELS,
                 watch: Iterable[str] = ("forward", "update"), eager: bool = False) -> None:
        from .network import Network  # at call time: refnet.network imports this module's users
        if net is not None and not isinstance(net, Network):
            raise TypeError(f"net: expected a Network or None, got {type(net).__name__}")
        self.mode: Mode = check_choice("mode", mode, MODES)
        lv = check_items("levels", levels, lambda name, v: check_real(
            name, v, minimum=0.0, maximum=1.0, open_minimum=True))
        self.levels = tuple(sorted(set(lv)))
        self.watch: frozenset[Phase] = frozenset(check_items("watch", watch, lambda name, v: check_choice(
            name, v, get_args(Phase))))
        self.eager = check_bool("eager", eager)
        self.net = net
        self.log: list[Event] = []
        # the current window (one training step): (site, array, inputs), by reference
        self._records: list[tuple[Site, FloatArray, Sequence[FloatArray]]] = []
        self._push = self._records.append
        self._pattern_sites: list[Site] = []
        self._pattern: list[int] = []  # small arrays: their bytes are joined
        self._pattern_large: list[int] = []  # large arrays: a dot product each
        self._flags_at: dict[int, set[str]] = {}  # flags by index of the array being computed
        self._checking = False
        self._when: tuple[int | None, int | None, slice | None] = (None, None, None)
        self._reported: set[int] = set()
        self._early_done: dict[tuple[Site, float], set[int]] = {}
        self._limit_sq: dict[np.dtype[np.floating[npt.NBitBase]], np.floating[npt.NBitBase]] = {}
        self._depth = 0
        self._attached: Observer | None = None
        self._errstate: np.errstate | None = None

    # -- results ------------------------------------------------------------------
    @property
    def events(self) -> list[NonFiniteEvent]:
        return [e for e in self.log if isinstance(e, NonFiniteEvent)]

    @property
    def flags(self) -> list[FlagEvent]:
        return [e for e in self.log if isinstance(e, FlagEvent)]

    @property
    def early(self) -> list[EarlyWarning]:
        return [e for e in self.log if isinstance(e, EarlyWarning)]

    @property
    def first(self) -> NonFiniteEvent | None:
        """The first non-finite event (what ``raise`` mode reports)."""
        for e in self.log:
            if isinstance(e, NonFiniteEvent):
                return e
        return None

    def to_json(self) -> str:
        return json.dumps([e.to_dict() for e in self.log])

    def record_input(self, event: NonFiniteEvent) -> None:
        """Log an ``input`` event found by data validation (the caller raises: no warning besides)."""
        if self.mode == "off":
            return
        self.log.append(event)

    # -- context --------------------------------------------------------------------
    def __enter__(self) -> Guard:
        if self.mode == "off":
            return self
        if self._depth == 0:
            self._when = (None, None, None)
            self._check_params()  # before attaching: raising here leaves nothing behind
        self._depth += 1
        if self._depth == 1:
            if self.net is not None and self.net.observer is not self:
                previous = self.net.observer
                self._attached = (self if previous is None and not self.eager
                                  else _Relay(self, previous))
                self.net.observer = self._attached
            self._errstate = np.errstate(all="call", under="ignore", call=self._on_flag)
            self._errstate.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.mode == "off":
            return
        self._depth -= 1
        if self._depth:
            return
        try:
            if exc_type is None:
                self.check()
            else:
                self._discard()
        finally:
            if self._errstate is not None:
                self._errstate.__exit__(None, None, None)
                self._errstate = None
            attached = self._attached
            if self.net is not None and attached is not None and self.net.observer is attached:
                self.net.observer = attached.previous if isinstance(attached, _Relay) else None
            self._attached = None
            self._when = (None, None, None)

    # -- observer protocol ------------------------------------------------------------
    def at(self, epoch: int, step: int, batch: slice) -> None:
        """A new training step starts: check the previous one first."""
        if self._records:
            self.check()
        elif self._flags_at:  # raised outside any observed operation: not attributable
            self._flags_at.clear()
        self._when = (epoch, step, batch)

    def observe(self, site: Site, array: FloatArray, inputs: Sequence[FloatArray]) -> None:
        """Keep ``array`` by reference (refnet never mutates what it produced); no check here."""
        self._push((site, array, inputs))

    def check(self) -> None:
        """Check the arrays observed since the last check (raises in ``raise`` mode).

        Notes
        -----
        Hot path: the bytes of the arrays observed since the last check,
        less those whose finiteness another one implies (see
        :meth:`_make_pattern`), joined into one buffer, and ``s = sum(a * a)``
        over it. ``s`` is NaN or inf when any
        value is (or when the sum itself overflows), and ``s >= L^2`` when
        any ``|a| >= L``, the lowest early-warning threshold. Only then is
        the window replayed in program order (:meth:`_scan`), every array
        examined, so a false alarm costs time, never a wrong report.
        """
        records = self._records
        if not records:
            self._flags_at.clear()
            return
        self._checking = True
        dtype = records[0][1].dtype
        limit = self.square_limit(dtype)
        if list(map(_first, records)) != self._pattern_sites:
            self._make_pattern()
        chosen = [records[i][1] for i in self._pattern]
        large = [records[i][1] for i in self._pattern_large] if self._pattern_large else _NONE
        if self._reported:  # members already reported: look only at the others
            members = max((a.shape[0] for _, a, _ in records if a.ndim), default=1)  # shared arrays have 1
            good = [m for m in range(members) if m not in self._reported]
            if not good:  # every member reported: nothing new can be found
                self._discard()
                return
            rows = np.asarray(good)
            chosen = [a[rows] if a.ndim and a.shape[0] == members else a for a in chosen]
            large = [a[rows] if a.ndim and a.shape[0] == members else a for a in large]
        for a in chosen:
            if a.dtype is not dtype:
                buf = self._concatenated(chosen)
                limit = self.square_limit(buf.dtype)
                break
        else:
            try:  # ndarrays are bytes-like (buffer protocol); NumPy's stubs do not say so
                buf = np.frombuffer(b"".join(cast("list[bytes]", chosen)), dtype)
            except (BufferError, TypeError, ValueError):  # not C-contiguous
                buf = self._concatenated(chosen)
        total = sum_of_squares(buf)
        if large:
            for a in large:  # large arrays: one read each, no copy
                total = total + sum_of_squares(a.ravel())
        clean = total < limit  # NaN compares False
        self._checking = False
        if clean and not self._flags_at:
            records.clear()
            return
        try:
            if self.mode == "off":
                pass
            elif not clean:
                self._scan()
            else:
                self._ended_finite()  # every array is finite: each flag's result ended finite
        finally:
            self._discard()

    # -- internals ----------------------------------------------------------------------
    @staticmethod
    def _concatenated(arrays: list[FloatArray]) -> FloatArray:
        """All values of ``arrays`` in one 1-D array, mixed dtypes promoted to the widest.

        The hot path joins the raw bytes of C-contiguous arrays of one dtype
        instead (``bytes.join`` reads their buffers directly, a few times
        cheaper than raveling and concatenating many small arrays).
        """
        if not arrays:
            return np.zeros(0)
        out: FloatArray = np.concatenate([a.ravel() for a in arrays])
        return out

    @property
    def _where(self) -> tuple[int | None, int | None, tuple[int, int] | None]:
        epoch, step, batch = self._when
        rows = None if batch is None or batch.stop is None else (int(batch.start or 0), int(batch.stop))
        return epoch, step, rows

    def _discard(self) -> None:
        self._checking = False
        self._records.clear()
        if self._flags_at:
            self._flags_at.clear()

    def _square_limit(self, dtype: np.dtype[np.floating[npt.NBitBase]]) -> np.floating[npt.NBitBase]:
        """``L^2`` for the lowest level, in ``dtype`` (``inf`` when it would overflow)."""
        exponent = 2.0 * self.levels[0] if self.levels else 1.0
        limit: np.floating[npt.NBitBase] = (
            dtype.type(np.inf) if exponent >= 1.0 else np.power(dtype_max(dtype), dtype.type(exponent)))
        self._limit_sq[dtype] = limit
        return limit

    def _make_pattern(self) -> list[int]:
        """Positions of the window's arrays that the hot path must examine.

        An array is left out only when another array of the same window is
        non-finite whenever it is (the replay on failure still examines all):

        * the output or input gradient of a layer whose ``finiteness`` is
          ``contracting`` (ReLU, Identity) or ``bounded`` (Sigmoid, Tanh; only
          when the early-warning threshold exceeds 1), whose input is an
          earlier array of the window: these map finite values to finite
          values, with magnitudes at most those of their input (or at most 1);
        * a parameter gradient ``g`` whose update later in the window takes
          it as an input: ``p - lr * g`` (lr finite and positive, with or
          without momentum) is non-finite whenever ``g`` is.

        The pattern is cached with the window's sequence of sites and reused
        while the sequence is identical (every step of a training run).
        """
        sites = [r[0] for r in self._records]
        arrays = [r[1] for r in self._records]
        inputs = [r[2] for r in self._records]
        keep = [True] * len(arrays)
        net = self.net
        if net is not None and not self.eager:
            first: dict[int, int] = {}
            for i, a in enumerate(arrays):
                first.setdefault(id(a), i)
            bounded_ok = self._limit_sq[arrays[0].dtype] > 1.0
            for i, (site, ins) in enumerate(zip(sites, inputs)):
                index = site.layer_index
                if index is None or not ins or not 0 <= index < len(net.layers):
                    continue
                layer = net.layers[index]
                hint = getattr(layer, "finiteness", None)
                if site.phase in ("forward", "backward") and (
                        hint == "contracting" or (bounded_ok and hint == "bounded")):
                    if first.get(id(ins[0]), i) < i:
                        keep[i] = False
                elif site.phase == "backward" and layer.params and site.role != "input gradient":
                    for j in range(i + 1, len(arrays)):
                        if (sites[j].phase == "update" and sites[j].layer_index == index
                                and any(x is arrays[i] for x in inputs[j])):
                            keep[i] = False
                            break
        self._pattern_sites = list(sites)
        self._pattern = [i for i, k in enumerate(keep) if k and arrays[i].size <= _LARGE]
        self._pattern_large = [i for i, k in enumerate(keep) if k and arrays[i].size > _LARGE]
        return self._pattern

    def square_limit(self, dtype: np.dtype[np.floating[npt.NBitBase]]) -> np.floating[npt.NBitBase]:
        """What :meth:`check`'s sum of squares must stay below for a window to be clean
        (a planned step checks its buffers against it the same way)."""
        limit = self._limit_sq.get(dtype)
        return self._square_limit(dtype) if limit is None else limit

    @property
    def flag_handler(self) -> Callable[[str, int], None]:
        """The callback NumPy's floating-point flags go to while the guard is active."""
        return self._on_flag

    def _check_params(self) -> None:
        """Parameters given non-finite to the guard are reported as ``input``."""
        if self.net is None:
            return
        for index, layer in enumerate(self.net.layers):
            for name, value in layer.params.items():
                new = self._new_members(value)
                if new:
                    self._reported.update(new)
                    site = Site("input", index, layer.name, type(layer).__name__, "given",
                                _PARAM_ROLE.get(name, name))
                    self._emit(describe(self._where, site, value, new, (), (), "data"))

    def _on_flag(self, err: str, flag: int) -> None:
        """NumPy's error callback: the flag belongs to the array being computed."""
        if not self._checking:
            self._flags_at.setdefault(len(self._records), set()).add(_FLAG_NAMES.get(err, err))

    def _flag_event(self, site: Site, array: FloatArray, flags: set[str]) -> FlagEvent:
        return FlagEvent(*self._where, site.phase, site.layer_index, site.layer_name,
                         site.layer_type, site.operation, site.role, str(array.dtype),
                         tuple(int(s) for s in array.shape), tuple(sorted(flags)))

    def _ended_finite(self) -> None:
        records = self._records
        for index in sorted(self._flags_at):
            if index < len(records):  # later flags came after the last observed array
                site, array, _ = records[index]
                self._emit(self._flag_event(site, array, self._flags_at[index]))

    def _new_members(self, array: FloatArray) -> list[int]:
        bad = nonfinite_members(array)
        return [int(m) for m in np.flatnonzero(bad) if int(m) not in self._reported]

    def _scan(self) -> None:
        """Replay the step in program order; report what is new."""
        for index, (site, array, inputs) in enumerate(self._records):
            k = array.shape[0] if array.ndim else 1
            checks: list[tuple[str, int]] = []
            if site.phase == "forward" and site.layer_index == 0 and inputs:
                checks.append(("x", 0))
            elif site.phase == "loss" and site.role == "loss terms" and len(inputs) > 1:
                checks.append(("t", 1))
            for name, pos in checks:
                self._check_input(name, inputs[pos], k)
            bad = nonfinite_members(array)
            flags = self._flags_at.get(index)
            if bad.any():
                new = [int(m) for m in np.flatnonzero(bad) if int(m) not in self._reported]
                if new:
                    self._reported.update(new)
                    self._emit(describe(self._where, site, array, new, inputs,
                                         tuple(sorted(flags or ())), None))
            elif flags:
                self._emit(self._flag_event(site, array, flags))
            if self.levels and site.phase in self.watch:
                self._check_early(site, array)

    def _check_input(self, name: str, data: FloatArray, k: int) -> None:
        bad = nonfinite_members(data)
        if not bad.any():
            return
        shared = data.shape[0] == 1
        members = list(range(k)) if shared else [int(m) for m in np.flatnonzero(bad)]
        new = [m for m in members if m not in self._reported]
        if not new:
            return
        self._reported.update(new)
        report = [0] if shared else new
        self._emit(describe(self._where, input_site(name), data, report, (), (), "data"))

    def _check_early(self, site: Site, array: FloatArray) -> None:
        if not array.size:
            return
        shape = tuple(int(s) for s in array.shape)
        if not shape:  # a scalar: one member of one element
            array = array.reshape(1)
        mags = np.abs(array)
        finite_mags = np.where(np.isfinite(mags), mags, mags.dtype.type(0))
        per_member = finite_mags.reshape(array.shape[0], -1).max(axis=1)
        top = dtype_max(array.dtype)
        for level in self.levels:
            threshold = np.power(top, array.dtype.type(level))
            done = self._early_done.setdefault((site, level), set())
            new = [int(m) for m in np.flatnonzero(per_member >= threshold) if int(m) not in done]
            if not new:
                continue
            done.update(new)
            view = member_view(finite_mags, new)
            over = np.zeros(finite_mags.shape, dtype=bool)
            over[np.asarray(new)] = finite_mags[np.asarray(new)] >= threshold
            first = tuple(int(i) for i in np.argwhere(over)[0])[:len(shape)]
            largest = view.max()
            self._emit(EarlyWarning(
                *self._where, site.phase, site.layer_index, site.layer_name, site.layer_type,
                site.operation, site.role, str(array.dtype), shape,
                level, float(threshold), float(largest), float(largest / top), first, tuple(new)))

    def _emit(self, event: Event) -> None:
        if self.mode == "raise" and isinstance(event, NonFiniteEvent):
            self.log.append(event)
            raise NumericalError(event)
        self.log.append(event)
        if self.mode == "warn":
            warnings.warn(event.message(), NumericalWarning, stacklevel=_outside_refnet())


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _outside_refnet() -> int:
    """The stack level, for :func:`warnings.warn` called by this function's caller, of the first
    frame outside refnet: a warning points at the user's line, whatever path led to it."""
    level, frame = 1, sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back
    return level


class _Relay:
    """Stands between a network and its guard when the guard checks every array
    (``eager``) or when another observer was already attached (it keeps being called)."""

    def __init__(self, guard: Guard, previous: Observer | None) -> None:
        self.guard = guard
        self.previous = previous

    def at(self, epoch: int, step: int, batch: slice) -> None:
        self.guard.at(epoch, step, batch)
        if self.previous is not None:
            self.previous.at(epoch, step, batch)

    def observe(self, site: Site, array: FloatArray, inputs: Sequence[FloatArray]) -> None:
        self.guard.observe(site, array, inputs)
        if self.guard.eager:
            self.guard.check()
        if self.previous is not None:
            self.previous.observe(site, array, inputs)


def as_guard(net: Network, guard: Mode | Guard | None) -> Guard:
    """A guard for ``net`` from a mode name (or ``None`` for ``off``) or a Guard."""
    if isinstance(guard, Guard):
        if guard.net is None:
            guard.net = net
        elif guard.net is not net:
            raise ValueError("guard: this Guard is attached to another network")
        return guard
    if guard is None:
        return Guard(net, "off")
    if not isinstance(guard, str):
        raise TypeError(f"guard: expected a mode name or a Guard, got {guard!r}")
    if guard not in MODES:
        raise ValueError(f"guard: expected one of {', '.join(MODES)} or a Guard, got {guard!r}")
    return Guard(net, guard)
