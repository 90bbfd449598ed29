"""Arithmetic conventions: refnet's default, the lab's published program, and readings.

``default``: the mean-reduced loss; all gradients are computed from the
current parameters, then every parameter is updated once.

``lab`` (:class:`Published`) is the arithmetic of the lab's published code
(``shared/LAB_SOURCE.md``, section 1), operation for operation, so that it
can be equal bit for bit:

* each Linear layer is updated inside the backward pass *before* the gradient
  is sent on, so the layer below receives ``dy @ W_new^T``;
* MSE is reported as the batch mean of ``(y - t)^2``; its gradient is
  ``(2 / B) (y - t)`` with the scalar ``2 / B`` rounded first (``B`` the
  batch's rows): the gradient of the mean;
* BCE (``delta`` inside both logs) is reported as the batch mean in **bits**,
  ``(-1 / B) sum(t log2(y + delta) + (1 - t) log2((1 - y) + delta))``; its
  gradient is ``-(t / (y + delta) - (1 - t) / ((1 - y) + delta))``, **not**
  divided by ``B`` and the natural-log derivative: training follows the
  gradient of the batch *sum in nats*;
* every Sigmoid is the naive ``1 / (1 + exp(-x))`` and every ReLU zeroes
  where ``x <= 0`` (``mlp(sigmoid="naive", relu="mask")``, see
  :func:`network_options`).

``lab-page14`` is the same program with the older BCE of the report's page
14: reported ``-sum(...) / B`` in bits, gradient ``(y - t) / (y (1 - y) B)``
(divided by ``B``, no ``delta``).

:func:`refnet.train.train` runs this arithmetic on consecutive batches;
:mod:`refnet.lab` runs the lab's whole program (its random stream, batches
drawn with replacement, its logging).

A :class:`Reading` is one of the readings of the lab's arithmetic that were
chosen from its report before its code was found; they stay for the
sensitivity sections. Each keeps the update inside the backward pass; each
field is one choice:

``gradient``
    how the loss gradient is reduced over the batch: ``mean`` (divided by the
    batch's ``N`` rows times outputs) or ``sum``.
``mse_derivative``
    ``2(y-t)`` or ``(y-t)`` (the derivative of half the squared error).
``log_base``
    the base of the *reported* BCE loss: ``e`` or ``2`` (the natural-log loss
    times ``1 / ln 2`` rounded once to the network's dtype). Training is
    unchanged.
``sigmoid``
    the formula of every Sigmoid layer, ``naive`` or ``stable``; bits only.
``batch_size``
    ``None`` for the full batch, or consecutive mini-batches of this size.
    Used when ``train`` is given no ``batch_size``.

Named readings: ``lab-evidence`` is the reading that reproduced the most of
the report's observations (mean gradient, consecutive batches of 20; see
``docs/conventions.md`` for what the source later showed); ``lab-sum`` is
refnet's first lab convention, summed gradient and stable sigmoid. Every other
reading is reachable by its :attr:`Reading.label`, e.g.
``lab[gradient=sum,mse=(y-t),log=2,sigmoid=naive,batch=20]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar, Final, Literal

import numpy as np

from .layers import ReLUFormula, SigmoidFormula
from .losses import BCE, Reduction
from .network import Network, mean_terms
from .precision import FloatArray
from .validation import check_int, check_text

__all__ = ["Convention", "ConventionLike", "CONVENTIONS", "Published", "PUBLISHED", "BCEForm", "Reading",
           "READINGS", "Arithmetic", "MSEDerivative", "LogBase", "resolve", "reading", "sigmoid_of",
           "network_options"]

Convention = Literal["default", "lab", "lab-page14", "lab-evidence", "lab-sum"]
"""Named conventions; any :class:`Reading` or :class:`Published` is accepted where a convention is."""

MSEDerivative = Literal["2(y-t)", "(y-t)"]
LogBase = Literal["e", "2"]
BCEForm = Literal["published", "page14"]
"""The lab's BCE: ``published`` (the code behind every BCE figure from commit 68fc7f4 on) or
``page14`` (the older form behind the report's page-14 figure, commit 80a9728)."""


@dataclass(frozen=True)
class Published:
    """The lab's published arithmetic (see the module docstring), operation for operation.

    ``loss_and_grad`` is the one place where its reported loss and its loss
    gradient are written; :func:`refnet.train.step` and :mod:`refnet.lab` call it.
    """

    bce: BCEForm = "published"
    sigmoid: SigmoidFormula = "naive"
    """The lab's is naive; ``stable`` is a variant for studying the last bits (``lab[sigmoid=stable]``)."""

    relu: ClassVar[ReLUFormula] = "mask"
    batch_size: ClassVar[None] = None
    """The lab draws its batches itself (:mod:`refnet.lab`); ``train`` uses the full batch unless told."""

    def __post_init__(self) -> None:
        for name, value in (("bce", self.bce), ("sigmoid", self.sigmoid)):
            check_text(name, value)
        if self.bce not in ("published", "page14"):
            raise ValueError(f"bce: expected 'published' or 'page14', got {self.bce!r}")
        if self.sigmoid not in ("naive", "stable"):
            raise ValueError(f"sigmoid: expected 'naive' or 'stable', got {self.sigmoid!r}")

    @property
    def label(self) -> str:
        """``lab`` or ``lab-page14`` (with ``[sigmoid=stable]`` for the stable-sigmoid variant)."""
        return ("lab" if self.bce == "published" else "lab-page14") + (
            "" if self.sigmoid == "naive" else "[sigmoid=stable]")

    def __str__(self) -> str:
        return self.label

    def loss_and_grad(self, net: Network, y: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        """The reported loss per member ``(K,)`` and ``dL/dy`` of the batch ``(y, t)``.

        Notes
        -----
        ``B`` is the batch's rows. MSE: ``mean((y - t)^2)`` and ``(2 / B) (y - t)``.
        BCE: ``(-1 / B) sum(t log2(y + d) + (1 - t) log2((1 - y) + d))`` and
        ``-(t / (y + d) - (1 - t) / ((1 - y) + d))``; page 14: ``-sum(...) / B`` and
        ``(y - t) / ((y (1 - y)) B)``. Every scalar (``2 / B``, ``-1 / B``, ``d``) is
        computed in float64 and rounded once to the network's dtype, as the lab's
        Python floats are. Sums run over each member's contiguous ``B x out`` terms,
        NumPy's pairwise order, as the lab's ``np.sum`` and ``np.mean`` do.
        """
        dt = y.dtype.type
        rows = y.shape[-2]
        diff = y - t
        name = net.loss.name
        if name == "mse":
            terms: FloatArray = diff * diff
            grad: FloatArray = dt(2 / rows) * diff
            reported = mean_terms(terms)
        elif name == "bce" and isinstance(net.loss, BCE):
            one, delta = dt(1), dt(net.loss.delta)
            a, b = y + delta, (one - y) + delta
            c = one - t
            terms = t * np.log2(a) + c * np.log2(b)
            total: FloatArray = np.add.reduce(np.ascontiguousarray(terms), axis=(-2, -1))
            if self.bce == "published":
                reported = dt(-1 / rows) * total
                grad = -(t / a - c / b)
            else:
                reported = -total / dt(rows)
                grad = diff / ((y * (one - y)) * dt(rows))
        else:
            raise ValueError(f"convention: {self.label} defines MSE and BCE (with delta), "
                             f"not {type(net.loss).__name__}")
        net.observe_loss(terms, grad, (y, t))
        return reported, grad


PUBLISHED: Final[dict[str, Published]] = {"lab": Published(), "lab-page14": Published(bce="page14")}


@dataclass(frozen=True)
class Reading:
    """One reading of the lab's arithmetic made before its code was found (see the module docstring)."""

    gradient: Reduction = "mean"
    mse_derivative: MSEDerivative = "2(y-t)"
    log_base: LogBase = "e"
    sigmoid: SigmoidFormula = "naive"
    batch_size: int | None = None

    relu: ClassVar[ReLUFormula] = "max"

    def __post_init__(self) -> None:
        for name, value, allowed in (("gradient", self.gradient, ("mean", "sum")),
                                     ("mse_derivative", self.mse_derivative, ("2(y-t)", "(y-t)")),
                                     ("log_base", self.log_base, ("e", "2")),
                                     ("sigmoid", self.sigmoid, ("naive", "stable"))):
            if check_text(name, value) not in allowed:
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

    def loss_and_grad(self, net: Network, y: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        """The mean loss per member ``(K,)`` in the reading's units and ``dL/dy`` (its reduction)."""
        half = self.mse_derivative == "(y-t)" and net.loss.name == "mse"
        terms, dy = net.loss_grad(y, t, reduction=self.gradient, halve=half)
        loss = mean_terms(terms)
        if self.log_base == "2" and net.loss.name in ("bce", "bce-logits"):
            loss = loss * loss.dtype.type(1 / math.log(2))
        return loss, dy


Arithmetic = Published | Reading
"""A convention other than ``default``: each layer updated inside the backward pass."""

READINGS: Final[dict[str, Reading]] = {
    # chosen by scoring the report's observations before the code was found (docs/conventions.md):
    # the mean loss gradient over consecutive mini-batches of 20
    "lab-evidence": Reading(gradient="mean", mse_derivative="2(y-t)", log_base="e", sigmoid="naive",
                            batch_size=20),
    "lab-sum": Reading(gradient="sum", mse_derivative="2(y-t)", log_base="e", sigmoid="stable"),
}
CONVENTIONS: Final[tuple[Convention, ...]] = ("default", "lab", "lab-page14", "lab-evidence", "lab-sum")

ConventionLike = Convention | Published | Reading

_FIELDS: Final = {"gradient": "gradient", "mse": "mse_derivative", "log": "log_base",
                  "sigmoid": "sigmoid", "batch": "batch_size"}


def reading(label: str) -> Arithmetic:
    """The convention named ``lab``, ``lab-page14``, ``lab-evidence`` or ``lab-sum``, or the
    reading given by its :attr:`Reading.label` (fields not named are ``lab-evidence``'s).

    Labels are read strictly: ASCII digits only, each key at most once, every
    error names ``convention`` and the key.
    """
    check_text("convention", label)
    if label in PUBLISHED:
        return PUBLISHED[label]
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
        if _FIELDS[key] in fields:
            raise ValueError(f"convention: key {key!r} given twice in {label!r}")
        if key == "batch":
            fields["batch_size"] = None if value == "full" else _batch(value, label)
        else:
            fields[_FIELDS[key]] = value
    try:
        return READINGS["lab-evidence"].but(**fields)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"convention: {exc} (in {label!r})") from None


def _batch(value: str, label: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise ValueError(f"convention: batch must be 'full' or a positive integer (ASCII digits) in {label!r}, "
                         f"got {value!r}")
    return int(value)


def resolve(convention: object) -> Arithmetic | None:
    """``None`` for ``default``, else the :class:`Published` or :class:`Reading` meant
    (validated; errors name ``convention``)."""
    if isinstance(convention, (Reading, Published)):
        return convention
    if not isinstance(convention, str):
        raise TypeError(f"convention: expected a name, a Published or a Reading, got {convention!r}")
    if convention == "default":
        return None
    return reading(convention)


def sigmoid_of(convention: ConventionLike) -> SigmoidFormula:
    """The sigmoid formula a network trained under ``convention`` must be built with
    (``mlp(..., sigmoid=sigmoid_of(c))``): the convention's, ``stable`` for ``default``."""
    r = resolve(convention)
    return "stable" if r is None else r.sigmoid


def network_options(convention: ConventionLike) -> tuple[SigmoidFormula, ReLUFormula]:
    """``(sigmoid, relu)``: the formulas a network trained under ``convention`` is built with
    (``mlp(..., sigmoid=s, relu=r)``); ``default``: the stable sigmoid and ``max``."""
    r = resolve(convention)
    return ("stable", "max") if r is None else (r.sigmoid, r.relu)
