"""Losses: elementwise terms, their reduction, and the exact derivative.

A loss sees predictions ``y`` and targets ``t`` of shape ``(K, N, out)`` and
returns one value per member ``(K,)``. ``reduction="mean"`` divides by the
``N * out`` terms of a member; ``"sum"`` does not. Conventions pinned here
because libraries differ: MSE has no factor 1/2 (its derivative is
``2 (y - t)``), and BCE uses natural logarithms.

Each loss carries its own first-order rounding-error model for
:mod:`refnet.gradcheck` (``rounding`` and ``curvature``, in units of eps).
"""

from __future__ import annotations

from functools import partial
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from .kernels import Op
from .layers import sigmoid
from .precision import FloatArray
from .rounding import Bound, eta
from .validation import check_choice, check_real

__all__ = ["Loss", "PlannableLoss", "MSE", "BCE", "BCEWithLogits", "Reduction", "LossName", "LOSSES", "make_loss"]

Reduction = Literal["mean", "sum"]
LossName = Literal["mse", "bce", "bce-logits"]


class Loss(Protocol):
    """What training needs from a loss."""

    name: str
    reduction: Reduction

    def terms(self, y: FloatArray, t: FloatArray) -> FloatArray:
        """Elementwise loss terms, shape of ``y``."""
        ...

    def value(self, y: FloatArray, t: FloatArray) -> FloatArray:
        """Reduced loss per member, shape ``(K,)``."""
        ...

    def grad(self, y: FloatArray, t: FloatArray) -> FloatArray:
        """Derivative of :meth:`value` with respect to ``y``."""
        ...

    def term_grad(self, y: FloatArray, t: FloatArray) -> FloatArray:
        """Elementwise derivative of :meth:`terms` (the gradient of the sum)."""
        ...

    def link(self, y: FloatArray) -> FloatArray:
        """Map the network output to a probability (identity unless fused)."""
        ...

    def rounding(self, y: FloatArray, t: FloatArray) -> tuple[Bound, Bound]:
        """Bounds (eps units) on the rounding of :meth:`terms` and of :meth:`grad`."""
        ...

    def curvature(self, y: FloatArray, t: FloatArray) -> Bound:
        """``|d grad / dy|`` elementwise: how an error in ``y`` moves :meth:`grad`."""
        ...


class PlannableLoss(Loss, Protocol):
    """A loss that also hands its terms and their gradient to a plan (see :mod:`refnet.plan`)."""

    def plan(self, y: FloatArray, t: FloatArray, terms: FloatArray, grad: FloatArray) -> list[Op]:
        """Bound calls writing :meth:`terms` and :meth:`term_grad` of the buffer ``y``."""
        ...


class _Reduced:
    """Shared reduction of elementwise terms and scaling of their derivative."""

    name = "loss"

    def __init__(self, reduction: Reduction = "mean") -> None:
        self.reduction: Reduction = check_choice("reduction", reduction, ("mean", "sum"))

    def terms(self, y: FloatArray, t: FloatArray) -> FloatArray:
        raise NotImplementedError

    def term_grad(self, y: FloatArray, t: FloatArray) -> FloatArray:
        """Elementwise derivative of the terms: the gradient of the sum."""
        raise NotImplementedError

    def _count(self, y: FloatArray) -> int:
        return int(y.shape[-2] * y.shape[-1])

    def _divisor(self, y: FloatArray) -> float:
        return float(self._count(y)) if self.reduction == "mean" else 1.0

    def _term_rounding(self, y: npt.NDArray[np.float64], t: npt.NDArray[np.float64]) -> tuple[Bound, Bound]:
        """Bounds of one term and of one term's derivative (float64 inputs)."""
        raise NotImplementedError

    def _term_curvature(self, y: npt.NDArray[np.float64], t: npt.NDArray[np.float64]) -> Bound:
        raise NotImplementedError

    def rounding(self, y: FloatArray, t: FloatArray) -> tuple[Bound, Bound]:
        with np.errstate(all="ignore"):
            terms, grad = self._term_rounding(np.asarray(y, dtype=np.float64), np.asarray(t, dtype=np.float64))
        tiny = eta(y.dtype)
        return terms + 3.0 * tiny, grad / self._divisor(y) + 4.0 * tiny

    def curvature(self, y: FloatArray, t: FloatArray) -> Bound:
        with np.errstate(all="ignore"):
            c = self._term_curvature(np.asarray(y, dtype=np.float64), np.asarray(t, dtype=np.float64))
        out: Bound = c / self._divisor(y)
        return out

    def value(self, y: FloatArray, t: FloatArray) -> FloatArray:
        total: FloatArray = np.sum(self.terms(y, t), axis=(-2, -1))
        if self.reduction == "mean":
            total = total / y.dtype.type(self._count(y))
        return total

    def grad(self, y: FloatArray, t: FloatArray) -> FloatArray:
        g: FloatArray = self.term_grad(y, t)
        if self.reduction == "mean":
            g = g / y.dtype.type(self._count(y))
        return g

    def link(self, y: FloatArray) -> FloatArray:
        return y

    def plan(self, y: FloatArray, t: FloatArray, terms: FloatArray, grad: FloatArray) -> list[Op]:
        """:meth:`terms` and :meth:`term_grad` of the buffer ``y`` into ``terms`` and ``grad``,
        as bound calls (see :mod:`refnet.plan`); here the allocating methods, copied in."""
        return [lambda: np.copyto(terms, self.terms(y, t)), lambda: np.copyto(grad, self.term_grad(y, t))]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class MSE(_Reduced):
    """Squared error ``(y - t)^2``; derivative ``2 (y - t)`` (no factor 1/2)."""

    name = "mse"

    def terms(self, y: FloatArray, t: FloatArray) -> FloatArray:
        diff = y - t
        out: FloatArray = diff * diff
        return out

    def term_grad(self, y: FloatArray, t: FloatArray) -> FloatArray:
        out: FloatArray = y.dtype.type(2) * (y - t)
        return out

    def plan(self, y: FloatArray, t: FloatArray, terms: FloatArray, grad: FloatArray) -> list[Op]:
        # y - t once: the terms square it, the gradient doubles it
        return [partial(np.subtract, y, t, grad), partial(np.multiply, grad, grad, terms),
                partial(np.multiply, y.dtype.type(2), grad, grad)]

    def _term_rounding(self, y: npt.NDArray[np.float64], t: npt.NDArray[np.float64]) -> tuple[Bound, Bound]:
        return 3.0 * (y - t) ** 2, 4.0 * np.abs(2.0 * (y - t))

    def _term_curvature(self, y: npt.NDArray[np.float64], t: npt.NDArray[np.float64]) -> Bound:
        return np.full(y.shape, 2.0)


class BCE(_Reduced):
    """Binary cross-entropy of probabilities with the lab's ``delta`` in the logs.

    Notes
    -----
    ``-(t log(y + delta) + (1 - t) log((1 - y) + delta))`` with exact derivative
    ``-(t / (y + delta) - (1 - t) / ((1 - y) + delta))``. ``delta`` (default
    1e-7, rounded once to the network's precision) keeps the logs finite for
    ``y`` in [0, 1]; it also biases the loss, so the minimum is not at ``y = t``
    exactly. With ``delta = 0`` and a saturated ``y`` the value is infinite.
    """

    name = "bce"

    def __init__(self, reduction: Reduction = "mean", delta: float = 1e-7) -> None:
        delta_ = check_real("delta", delta, minimum=0.0)  # before any state: a str is a TypeError naming delta
        super().__init__(reduction)
        self.delta = delta_

    def terms(self, y: FloatArray, t: FloatArray) -> FloatArray:
        one = y.dtype.type(1)
        delta = y.dtype.type(self.delta)
        out: FloatArray = -(t * np.log(y + delta) + (one - t) * np.log((one - y) + delta))
        return out

    def term_grad(self, y: FloatArray, t: FloatArray) -> FloatArray:
        one = y.dtype.type(1)
        delta = y.dtype.type(self.delta)
        out: FloatArray = -(t / (y + delta) - (one - t) / ((one - y) + delta))
        return out

    def plan(self, y: FloatArray, t: FloatArray, terms: FloatArray, grad: FloatArray) -> list[Op]:
        # the shared parts once: a = y + delta, b = (1 - y) + delta, c = 1 - t (fixed data)
        one = y.dtype.type(1)
        delta = y.dtype.type(self.delta)
        a, b, log_a, log_b, q = (np.empty_like(terms) for _ in range(5))
        c = one - t
        return [partial(np.add, y, delta, a), partial(np.subtract, one, y, b),
                partial(np.add, b, delta, b),
                partial(np.log, a, log_a), partial(np.multiply, t, log_a, log_a),
                partial(np.log, b, log_b), partial(np.multiply, c, log_b, log_b),
                partial(np.add, log_a, log_b, terms), partial(np.negative, terms, terms),
                partial(np.divide, t, a, grad), partial(np.divide, c, b, q),
                partial(np.subtract, grad, q, grad), partial(np.negative, grad, grad)]

    def _term_rounding(self, y: npt.NDArray[np.float64], t: npt.NDArray[np.float64]) -> tuple[Bound, Bound]:
        a, b = y + self.delta, (1.0 - y) + self.delta
        terms = 3.0 * (np.abs(t) * (np.abs(np.log(a)) + 1.0) + np.abs(1.0 - t) * (np.abs(np.log(b)) + 1.0))
        return terms, 4.0 * (np.abs(t / a) + np.abs((1.0 - t) / b))

    def _term_curvature(self, y: npt.NDArray[np.float64], t: npt.NDArray[np.float64]) -> Bound:
        out: Bound = np.abs(t) / (y + self.delta) ** 2 + np.abs(1.0 - t) / ((1.0 - y) + self.delta) ** 2
        return out

    def __repr__(self) -> str:
        return f"BCE(reduction={self.reduction!r}, delta={self.delta!r})"


class BCEWithLogits(_Reduced):
    """Binary cross-entropy of logits ``z``, fused with the output sigmoid.

    Notes
    -----
    ``max(z, 0) - z t + log1p(exp(-|z|))`` equals ``-(t log s + (1-t) log(1-s))``
    with ``s = sigmoid(z)`` and is finite for every finite ``z``: ``exp`` sees
    only non-positive arguments. Its derivative is ``sigmoid(z) - t``, which
    cancels for a confident correct logit with a hard label (float32, z = 30,
    t = 1: ``1 - 1 = 0`` where the exact value is -9.4e-14). For hard labels the
    exact forms are used instead, each one correctly rounded sigmoid:
    ``t = 1``: ``-sigmoid(-z)``; ``t = 0``: ``sigmoid(z)``; soft labels keep
    ``sigmoid(z) - t``.
    """

    name = "bce-logits"

    def terms(self, y: FloatArray, t: FloatArray) -> FloatArray:
        zero = y.dtype.type(0)
        out: FloatArray = np.maximum(y, zero) - y * t + np.log1p(np.exp(-np.abs(y)))
        return out

    def term_grad(self, y: FloatArray, t: FloatArray) -> FloatArray:
        # t = 0 needs no branch of its own: sigmoid(z) - 0 is sigmoid(z), bit for bit
        out: FloatArray = np.where(t == y.dtype.type(1), -sigmoid(-y), sigmoid(y) - t)
        return out

    def _term_rounding(self, y: npt.NDArray[np.float64], t: npt.NDArray[np.float64]) -> tuple[Bound, Bound]:
        s = 1.0 / (1.0 + np.exp(-y))
        terms = 3.0 * (np.maximum(y, 0.0) + np.abs(y * t) + np.log1p(np.exp(-np.abs(y))))
        return terms, 4.0 * (s + np.abs(t))

    def _term_curvature(self, y: npt.NDArray[np.float64], t: npt.NDArray[np.float64]) -> Bound:
        s = 1.0 / (1.0 + np.exp(-y))
        out: Bound = s * (1.0 - s)
        return out

    def link(self, y: FloatArray) -> FloatArray:
        return sigmoid(y)


LOSSES: dict[LossName, type[_Reduced]] = {"mse": MSE, "bce": BCE, "bce-logits": BCEWithLogits}


def make_loss(name: LossName, reduction: Reduction = "mean", delta: float = 1e-7) -> Loss:
    """Build a loss by name: ``mse``, ``bce`` (with ``delta``) or ``bce-logits``."""
    if name == "bce":
        return BCE(reduction, delta)
    try:
        return LOSSES[name](reduction)
    except KeyError:
        raise ValueError(f"loss: unknown name {name!r}; choose one of {', '.join(LOSSES)}") from None
