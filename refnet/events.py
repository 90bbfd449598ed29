"""What the overflow guard reports: events, the exceptions that carry them, and
the per-member finiteness checks they are built from (see :mod:`refnet.guard`).

Every event is a frozen dataclass that serialises to JSON; :meth:`Event.message`
is the one-line text a person reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from .observe import Site
from .precision import FloatArray

__all__ = [
    "Event", "NonFiniteEvent", "FlagEvent", "EarlyWarning", "NumericalError",
    "NonFiniteInputError", "NumericalWarning", "nonfinite_members", "input_event", "describe",
    "input_site", "member_view", "dtype_max",
]

BoolArray = npt.NDArray[np.bool_]


# -- events -------------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    """Where and when: fields shared by every event (all JSON-serialisable)."""

    kind: ClassVar[str] = "event"

    epoch: int | None
    """Training epoch (``None`` outside :func:`refnet.train.train`)."""
    step: int | None
    """Global step (batch counter) within the run."""
    batch: tuple[int, int] | None
    """Rows ``[start, stop)`` of the training data in this step."""
    phase: str
    """``input``, ``forward``, ``loss``, ``backward`` or ``update``."""
    layer_index: int | None
    layer_name: str
    layer_type: str
    operation: str
    role: str
    dtype: str
    shape: tuple[int, ...]

    def to_dict(self) -> dict[str, object]:
        """Plain dict with a ``kind`` key; tuples become lists."""
        out: dict[str, object] = {"kind": self.kind}
        for key, value in asdict(self).items():
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def message(self) -> str:
        """One line of text describing the event."""
        return f"{self.kind} at {self.where()}"

    def where(self) -> str:
        """``epoch 3, step 6 (rows 0:20), forward linear_2 (Linear) x @ W + b -> pre-activation``."""
        when = "outside training" if self.epoch is None else f"epoch {self.epoch}, step {self.step}"
        if self.batch is not None:
            when += f" (rows {self.batch[0]}:{self.batch[1]})"
        layer = self.layer_name if self.layer_index is None else f"[{self.layer_index}] {self.layer_name}"
        return f"{when}, {self.phase} {layer} ({self.layer_type}) {self.operation} -> {self.role}"


@dataclass(frozen=True)
class NonFiniteEvent(Event):
    """The report of an array that holds NaN or infinities."""

    kind: ClassVar[str] = "non-finite"

    nan: int
    pos_inf: int
    neg_inf: int
    first_index: tuple[int, ...]
    """Index of the first bad element in C order, member axis first."""
    members: tuple[int, ...]
    """Members (leading axis) reported by this event (an input with a leading axis
    of 1 is shared by every member and reports member 0)."""
    finite_min: float | None
    finite_max: float | None
    headroom: float | None
    """Largest finite magnitude over the dtype's largest finite value."""
    origin: str
    """``producer`` (inputs finite), ``propagator`` (an input already bad), ``data``."""
    bad_inputs: tuple[int, ...]
    """Positions of the operation's inputs that were already non-finite."""
    flags: tuple[str, ...]
    """NumPy floating-point flags raised while this array was computed."""

    def message(self) -> str:
        counts = f"{self.nan} NaN, {self.pos_inf} +inf, {self.neg_inf} -inf"
        rng = ("no finite values" if self.finite_min is None else
               f"finite range [{self.finite_min:.6g}, {self.finite_max:.6g}], headroom {self.headroom:.3g}")
        flags = f"; flags: {', '.join(self.flags)}" if self.flags else ""
        return (f"non-finite {self.role} at {self.where()}: {counts} in {self.dtype}{list(self.shape)}, "
                f"first at {list(self.first_index)}, members {list(self.members)}; {rng}; "
                f"{self.origin}{'' if not self.bad_inputs else f' (bad inputs {list(self.bad_inputs)})'}"
                f"{flags}")


@dataclass(frozen=True)
class FlagEvent(Event):
    """A NumPy floating-point flag whose result ended finite (never an error)."""

    kind: ClassVar[str] = "flag"

    flags: tuple[str, ...]
    status: str = "ended finite"

    def message(self) -> str:
        return f"flag {', '.join(self.flags)} at {self.where()}: {self.status}"


@dataclass(frozen=True)
class EarlyWarning(Event):
    """A watched array reached ``max ** level`` of its dtype for the first time."""

    kind: ClassVar[str] = "early-warning"

    level: float
    threshold: float
    largest: float
    """Largest finite magnitude in the members reported."""
    headroom: float
    first_index: tuple[int, ...]
    members: tuple[int, ...]

    def message(self) -> str:
        return (f"early warning: {self.role} reached {self.largest:.6g} >= max**{self.level:g} "
                f"= {self.threshold:.6g} (headroom {self.headroom:.3g}) at {self.where()}, "
                f"members {list(self.members)}")


# -- errors -------------------------------------------------------------------
class NumericalError(FloatingPointError):
    """Raised by a guard in ``raise`` mode; ``event`` is the first bad array."""

    def __init__(self, event: NonFiniteEvent) -> None:
        super().__init__(event.message())
        self.event = event


class NonFiniteInputError(NumericalError, ValueError):
    """Training data holds NaN or inf: a ``ValueError`` naming the argument, and a
    :class:`NumericalError` whose event has phase ``input``."""

    def __init__(self, event: NonFiniteEvent) -> None:
        FloatingPointError.__init__(
            self,
            f"{event.layer_name}: contains NaN or inf (first at index {list(event.first_index[1:])}); "
            f"{event.nan} NaN, {event.pos_inf} +inf, {event.neg_inf} -inf, reported as phase 'input'",
        )
        self.event = event


class NumericalWarning(UserWarning):
    """Emitted once per event by a guard in ``warn`` mode."""


# -- cheap per-member checks ------------------------------------------------------
def nonfinite_members(array: FloatArray) -> BoolArray:
    """``(K,)`` mask: which members (leading axis) hold any NaN or inf."""
    if array.ndim == 0:
        out: BoolArray = np.array([not bool(np.isfinite(array))], dtype=np.bool_)
        return out
    flat = np.isfinite(array).reshape(array.shape[0], -1)
    mask: BoolArray = np.logical_not(np.all(flat, axis=1))
    return mask


def dtype_max(dtype: np.dtype[np.floating[npt.NBitBase]]) -> np.floating[npt.NBitBase]:
    return np.finfo(dtype).max


def member_view(array: FloatArray, members: Sequence[int]) -> FloatArray:
    if array.ndim == 0 or len(members) == array.shape[0]:
        return array
    out: FloatArray = array[np.asarray(members)]
    return out


def _bad_inputs(inputs: Sequence[FloatArray], members: Sequence[int], k: int) -> tuple[int, ...]:
    bad = []
    for i, a in enumerate(inputs):
        view = member_view(a, members) if a.ndim and a.shape[0] == k else a
        if not np.isfinite(view).all():
            bad.append(i)
    return tuple(bad)


def describe(where: tuple[int | None, int | None, tuple[int, int] | None], site: Site,
              array: FloatArray, members: Sequence[int], inputs: Sequence[FloatArray],
              flags: tuple[str, ...], origin: str | None) -> NonFiniteEvent:
    """Full report of ``array`` restricted to ``members`` (slow path only)."""
    sub = member_view(array, members)
    bad = ~np.isfinite(array)
    if array.ndim and len(members) != array.shape[0]:
        keep = np.zeros(array.shape[0], dtype=bool)
        keep[np.asarray(members)] = True
        bad &= keep.reshape((-1,) + (1,) * (array.ndim - 1))
    first = tuple(int(i) for i in np.argwhere(bad)[0]) if array.ndim else ()
    finite = sub[np.isfinite(sub)]
    if finite.size:
        fmin: float | None = float(finite.min())
        fmax: float | None = float(finite.max())
        headroom: float | None = float(np.abs(finite).max() / dtype_max(array.dtype))
    else:
        fmin = fmax = headroom = None
    bad_in = _bad_inputs(inputs, members, array.shape[0] if array.ndim else 1)
    return NonFiniteEvent(
        *where, site.phase, site.layer_index, site.layer_name, site.layer_type, site.operation,
        site.role, str(array.dtype), tuple(int(s) for s in array.shape),
        int(np.isnan(sub).sum()), int(np.isposinf(sub).sum()), int(np.isneginf(sub).sum()),
        first, tuple(int(m) for m in members), fmin, fmax, headroom,
        origin if origin is not None else ("propagator" if bad_in else "producer"), bad_in, flags,
    )


def input_site(name: str) -> Site:
    return Site("input", None, name, "data", "given", "targets" if name in ("t", "y") else "input data")


def input_event(array: FloatArray, name: str = "x", *, epoch: int | None = None,
                step: int | None = None, batch: tuple[int, int] | None = None) -> NonFiniteEvent | None:
    """The ``input`` event for data ``array`` (``(K or 1, N, f)``), or ``None`` if it is finite."""
    bad = nonfinite_members(array)
    if not bad.any():
        return None
    members = tuple(int(m) for m in np.flatnonzero(bad))
    return describe((epoch, step, batch), input_site(name), array, members, (), (), "data")


