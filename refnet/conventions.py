"""Arithmetic conventions: refnet's default, and readings of the lab's elided code.

``default``: the mean-reduced loss; all gradients are computed from the
current parameters, then every parameter is updated once.

A :class:`Reading` reconstructs the lab's arithmetic. The lab's code shows its
order of operations, which every reading keeps: each layer is updated inside
the backward pass *before* the gradient is sent on, so the layer below
receives ``dy @ W_new^T``. The lab does not show every formula; each field of
a reading is one choice where it does not:

``gradient``
    how the loss gradient is reduced over the batch: ``mean`` (divided by the
    batch's ``N`` rows times outputs, what the lab's BCE backward implies by
    computing ``batch_size`` just before the elided line) or ``sum``.
``mse_derivative``
    ``2(y-t)`` (the derivative of the lab's ``np.mean((y - t)**2)``) or
    ``(y-t)`` (the derivative of half of it, a common hand-written form).
``log_base``
    the base of the *reported* BCE loss: ``e`` or ``2`` (the lab's warning
    names ``np.log2``). Training is unchanged: the lab's hand-written
    derivative is the natural-log one. The base-2 loss is reported as the
    natural-log loss times ``1 / ln 2`` rounded once to the network's dtype,
    which equals a ``log2`` sum up to rounding; it changes the values that
    threshold-based labels see, not the weights.
``sigmoid``
    the formula of every Sigmoid layer, ``naive`` (the lab's
    ``1 / (1 + exp(-x))``) or ``stable``; bits only. A reading's sigmoid
    belongs to the network (``mlp(sigmoid=...)``): :func:`refnet.train.train`
    refuses a network built with the other one.
``batch_size``
    ``None`` for the full batch, or consecutive mini-batches of this size
    (the lab names 20 in its no-activation experiment; 21 XOR points then
    make batches of 20 and 1). Used when ``train`` is given no ``batch_size``.

Named readings: ``lab`` is the reading that reproduces the most of the lab's
reported observations (measured by ``python -m verify.lab_reading``, see
``docs/conventions.md``); ``lab-sum`` is refnet's earlier lab convention,
summed gradient and stable sigmoid, kept bit for bit for comparison. Every
other reading is reachable by its :attr:`Reading.label`, e.g.
``lab[gradient=sum,mse=(y-t),log=2,sigmoid=naive,batch=20]``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

from .layers import SigmoidFormula
from .losses import Reduction
from .validation import check_int

__all__ = ["Convention", "ConventionLike", "CONVENTIONS", "Reading", "READINGS", "MSEDerivative",
           "LogBase", "resolve", "reading", "sigmoid_of"]

Convention = Literal["default", "lab", "lab-sum"]
"""Named conventions; any :class:`Reading` is accepted where a convention is."""

MSEDerivative = Literal["2(y-t)", "(y-t)"]
LogBase = Literal["e", "2"]


@dataclass(frozen=True)
class Reading:
    """One reading of the lab's elided arithmetic (see the module docstring)."""

    gradient: Reduction = "mean"
    mse_derivative: MSEDerivative = "2(y-t)"
    log_base: LogBase = "e"
    sigmoid: SigmoidFormula = "naive"
    batch_size: int | None = None

    def __post_init__(self) -> None:
        for name, value, allowed in (("gradient", self.gradient, ("mean", "sum")),
                                     ("mse_derivative", self.mse_derivative, ("2(y-t)", "(y-t)")),
                                     ("log_base", self.log_base, ("e", "2")),
                                     ("sigmoid", self.sigmoid, ("naive", "stable"))):
            if value not in allowed:
                raise ValueError(f"{name}: expected one of {allowed}, got {value!r}")
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, 1)

    @property
    def label(self) -> str:
        """The reading's name, e.g. ``lab[gradient=mean,mse=2(y-t),log=e,sigmoid=naive,batch=full]``."""
        batch = "full" if self.batch_size is None else str(self.batch_size)
        return (f"lab[gradient={self.gradient},mse={self.mse_derivative},log={self.log_base},"
                f"sigmoid={self.sigmoid},batch={batch}]")

    def but(self, **changes: object) -> Reading:
        """A copy with some fields changed (validated)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.label


READINGS: Final[dict[str, Reading]] = {
    # chosen by python -m verify.lab_reading (docs/figures/lab_reading/report.md): the mean loss
    # gradient over consecutive mini-batches of 20 reproduces the most of the lab's observations;
    # the naive sigmoid and the natural log tie with their alternatives and follow the lab's code
    "lab": Reading(gradient="mean", mse_derivative="2(y-t)", log_base="e", sigmoid="naive", batch_size=20),
    "lab-sum": Reading(gradient="sum", mse_derivative="2(y-t)", log_base="e", sigmoid="stable"),
}
CONVENTIONS: Final[tuple[Convention, ...]] = ("default", "lab", "lab-sum")

ConventionLike = Convention | Reading

_FIELDS: Final = {"gradient": "gradient", "mse": "mse_derivative", "log": "log_base",
                  "sigmoid": "sigmoid", "batch": "batch_size"}


def reading(label: str) -> Reading:
    """The reading named ``lab``/``lab-sum``, or given by its :attr:`Reading.label`."""
    if label in READINGS:
        return READINGS[label]
    if not (label.startswith("lab[") and label.endswith("]")):
        raise ValueError(f"convention: unknown name {label!r}; choose one of {', '.join(CONVENTIONS)} "
                         "or a label like 'lab[gradient=sum,batch=20]'")
    fields: dict[str, object] = {}
    for part in filter(None, label[4:-1].split(",")):
        key, sep, value = part.partition("=")
        if not sep or key not in _FIELDS:
            raise ValueError(f"convention: cannot read {part!r} in {label!r}; keys are {', '.join(_FIELDS)}")
        if key == "batch":
            fields["batch_size"] = None if value == "full" else _batch(value, label)
        else:
            fields[_FIELDS[key]] = value
    try:
        return READINGS["lab"].but(**fields)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"convention: {exc} (in {label!r})") from None


def _batch(value: str, label: str) -> int:
    if not value.isdigit():
        raise ValueError(f"convention: batch must be 'full' or a positive integer in {label!r}")
    return int(value)


def resolve(convention: object) -> Reading | None:
    """``None`` for ``default``, else the :class:`Reading` meant (validated; errors name ``convention``)."""
    if isinstance(convention, Reading):
        return convention
    if not isinstance(convention, str):
        raise TypeError(f"convention: expected a name or a Reading, got {convention!r}")
    if convention == "default":
        return None
    return reading(convention)


def sigmoid_of(convention: ConventionLike) -> SigmoidFormula:
    """The sigmoid formula a network trained under ``convention`` must be built with
    (``mlp(..., sigmoid=sigmoid_of(c))``): the reading's, ``stable`` for ``default``."""
    r = resolve(convention)
    return "stable" if r is None else r.sigmoid
