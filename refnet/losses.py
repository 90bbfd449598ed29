"""Losses: elementwise terms, their reduction, and the exact derivative.

A loss sees predictions ``y`` and targets ``t`` of shape ``(K, N, out)`` and
returns one value per member ``(K,)``. ``reduction="mean"`` divides by the
``N * out`` terms of a member; ``"sum"`` does not. Conventions pinned here
because libraries differ: MSE has no factor 1/2 (its derivative is
``2 (y - t)``), and BCE uses natural logarithms.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

from .layers import sigmoid
from .precision import FloatArray

__all__ = ["Loss", "MSE", "BCE", "BCEWithLogits", "Reduction", "LOSSES", "make_loss"]

Reduction = Literal["mean", "sum"]


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


def _check_reduction(reduction: str) -> Reduction:
    if reduction == "mean":
        return "mean"
    if reduction == "sum":
        return "sum"
    raise ValueError(f"reduction: expected 'mean' or 'sum', got {reduction!r}")


class _Reduced:
    """Shared reduction of elementwise terms and scaling of their derivative."""

    name = "loss"

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction: Reduction = _check_reduction(reduction)

    def terms(self, y: FloatArray, t: FloatArray) -> FloatArray:
        raise NotImplementedError

    def term_grad(self, y: FloatArray, t: FloatArray) -> FloatArray:
        """Elementwise derivative of the terms: the gradient of the sum."""
        raise NotImplementedError

    def _count(self, y: FloatArray) -> int:
        return int(y.shape[-2] * y.shape[-1])

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

    def __init__(self, reduction: str = "mean", delta: float = 1e-7) -> None:
        super().__init__(reduction)
        if not np.isfinite(delta) or delta < 0:
            raise ValueError(f"delta: expected a finite value >= 0, got {delta!r}")
        self.delta = float(delta)

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

    def __repr__(self) -> str:
        return f"BCE(reduction={self.reduction!r}, delta={self.delta!r})"


class BCEWithLogits(_Reduced):
    """Binary cross-entropy of logits ``z``, fused with the output sigmoid.

    Notes
    -----
    ``max(z, 0) - z t + log1p(exp(-|z|))`` equals ``-(t log s + (1-t) log(1-s))``
    with ``s = sigmoid(z)`` and is finite for every finite ``z``: ``exp`` sees
    only non-positive arguments. Its derivative is ``sigmoid(z) - t``.
    """

    name = "bce-logits"

    def terms(self, y: FloatArray, t: FloatArray) -> FloatArray:
        zero = y.dtype.type(0)
        out: FloatArray = np.maximum(y, zero) - y * t + np.log1p(np.exp(-np.abs(y)))
        return out

    def term_grad(self, y: FloatArray, t: FloatArray) -> FloatArray:
        out: FloatArray = sigmoid(y) - t
        return out

    def link(self, y: FloatArray) -> FloatArray:
        return sigmoid(y)


LOSSES: dict[str, type[_Reduced]] = {"mse": MSE, "bce": BCE, "bce-logits": BCEWithLogits}


def make_loss(name: str, reduction: str = "mean", delta: float = 1e-7) -> Loss:
    """Build a loss by name: ``mse``, ``bce`` (with ``delta``) or ``bce-logits``."""
    if name == "bce":
        return BCE(reduction, delta)
    try:
        return LOSSES[name](reduction)
    except KeyError:
        raise ValueError(f"loss: unknown name {name!r}; choose one of {', '.join(LOSSES)}") from None
