"""Layers: each caches in ``forward`` what its ``backward`` needs, and returns
gradients without ever touching its parameters (an optimizer applies them).

All arrays carry a leading member axis (see :mod:`refnet.kernels`):
inputs ``(K, N, in)``, weights ``(K, in, out)``, biases ``(K, 1, out)``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .kernels import MEMBER_LAST, Kernel, kernel
from .precision import FloatArray

__all__ = ["Layer", "Linear", "Sigmoid", "ReLU", "Tanh", "Identity", "sigmoid", "ACTIVATIONS"]


class Layer(Protocol):
    """What the network needs from a layer."""

    name: str
    params: dict[str, FloatArray]

    def forward(self, x: FloatArray) -> FloatArray:
        """Output for input ``x``; caches what the backward pass needs."""
        ...

    def grad_input(self, dy: FloatArray) -> FloatArray:
        """Gradient with respect to the cached input, given ``dy`` = dL/d(output)."""
        ...

    def grad_params(self, dy: FloatArray) -> dict[str, FloatArray]:
        """Gradients of the parameters (same names, shapes and dtype as ``params``)."""
        ...


def _cached(value: FloatArray | None, layer: str) -> FloatArray:
    if value is None:
        raise RuntimeError(f"{layer}: backward called before forward")
    return value


class Linear:
    """Affine map ``y = x @ W + b`` (``b`` optional).

    ``W`` has shape ``(K, in, out)`` and ``b`` ``(K, 1, out)``; the parameter
    gradients sum over the batch rows (the loss gradient already carries the
    mean's ``1/N`` when the loss is mean-reduced).
    """

    def __init__(self, weight: FloatArray, bias: FloatArray | None = None, *,
                 kernel_name: str | Kernel = "blas", name: str = "linear") -> None:
        if weight.ndim != 3:
            raise ValueError(f"weight: expected shape (K, in, out), got {weight.shape}")
        if bias is not None and bias.shape != (weight.shape[0], 1, weight.shape[2]):
            raise ValueError(
                f"bias: expected shape {(weight.shape[0], 1, weight.shape[2])}, got {bias.shape}"
            )
        self.name = name
        self.kernel = kernel(kernel_name)
        self.params: dict[str, FloatArray] = {"W": weight}
        if bias is not None:
            self.params["b"] = bias
        self._x: FloatArray | None = None

    @property
    def in_features(self) -> int:
        return int(self.params["W"].shape[1])

    @property
    def out_features(self) -> int:
        return int(self.params["W"].shape[2])

    @property
    def has_bias(self) -> bool:
        return "b" in self.params

    def forward(self, x: FloatArray) -> FloatArray:
        self._x = x
        y: FloatArray = self.kernel.matmul(x, self.params["W"])
        if "b" in self.params:
            b = self.params["b"]
            # The same additions, laid out for long inner loops over an ensemble (kernels.MEMBER_LAST).
            if not y.flags.c_contiguous:  # a kernel's member-innermost view: add in its layout
                like = np.empty_like(y[:, :1])
                np.copyto(like, b)
                return np.add(y, like, out=np.empty_like(y))
            if b.shape[0] >= MEMBER_LAST:
                b = np.repeat(b, y.shape[-2], axis=-2)
            y = y + b
        return y

    def grad_input(self, dy: FloatArray) -> FloatArray:
        _cached(self._x, self.name)
        return self.kernel.matmul_nt(dy, self.params["W"])

    def grad_params(self, dy: FloatArray) -> dict[str, FloatArray]:
        x = _cached(self._x, self.name)
        grads = {"W": self.kernel.matmul_tn(x, dy)}
        if "b" in self.params:
            grads["b"] = self.kernel.sum_rows(dy)
        return grads


def sigmoid(x: FloatArray) -> FloatArray:
    """Logistic function, stable for every finite input.

    Notes
    -----
    With ``z = exp(-|x|)`` (in (0, 1], never overflows) and
    ``s = z / (1 + z) = sigma(-|x|)`` (in (0, 1/2]):
    ``sigma(x) = 1 - s`` for ``x >= 0`` and ``s`` for ``x < 0``.
    ``s`` is within two ulps of its exact value; it is 0 only where
    ``exp(-|x|)`` underflows, i.e. where the true value rounds to 0. For
    ``x >= 0`` the result is one correctly rounded subtraction from 1, so it
    is exactly 1 only where the true value rounds to 1 (``s`` below a quarter
    of eps), and ``sigma(-x) + sigma(x) == 1`` up to that one rounding.
    The naive ``1 / (1 + exp(-x))`` overflows ``exp`` for ``x`` below about
    -88.7 (float32) or -709.8 (float64), and rounds to exactly 1 too early
    (from ``exp(-x) <= eps/2``, where the true value is still below 1).
    """
    z = np.exp(-np.abs(x))
    one = x.dtype.type(1)
    s = z / (one + z)
    out: FloatArray = np.where(x >= 0, one - s, s)
    return out


class _Activation:
    """Base for parameter-free elementwise layers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.params: dict[str, FloatArray] = {}

    def forward(self, x: FloatArray) -> FloatArray:
        raise NotImplementedError

    def grad_input(self, dy: FloatArray) -> FloatArray:
        raise NotImplementedError

    def grad_params(self, dy: FloatArray) -> dict[str, FloatArray]:
        return {}


class Sigmoid(_Activation):
    """Stable logistic activation; caches its output ``y``, derivative ``y (1 - y)``."""

    def __init__(self, name: str = "sigmoid") -> None:
        super().__init__(name)
        self._y: FloatArray | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        self._y = sigmoid(x)
        return self._y

    def grad_input(self, dy: FloatArray) -> FloatArray:
        y = _cached(self._y, self.name)
        out: FloatArray = dy * ((y.dtype.type(1) - y) * y)
        return out


class ReLU(_Activation):
    """``max(x, 0)``; the subgradient at exactly 0 is taken as 0 (as in the lab).

    Caches the mask ``x > 0``; never writes into ``x`` or ``dy``. A NaN input
    stays NaN in the output (``np.maximum`` propagates it).
    """

    def __init__(self, name: str = "relu") -> None:
        super().__init__(name)
        self._mask: np.ndarray[tuple[int, ...], np.dtype[np.bool_]] | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        self._mask = x > 0
        out: FloatArray = np.maximum(x, x.dtype.type(0))
        return out

    def grad_input(self, dy: FloatArray) -> FloatArray:
        if self._mask is None:
            raise RuntimeError(f"{self.name}: backward called before forward")
        out: FloatArray = np.where(self._mask, dy, dy.dtype.type(0))
        return out


class Tanh(_Activation):
    """Hyperbolic tangent; caches its output ``y``, derivative ``1 - y^2``."""

    def __init__(self, name: str = "tanh") -> None:
        super().__init__(name)
        self._y: FloatArray | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        self._y = np.tanh(x)
        return self._y

    def grad_input(self, dy: FloatArray) -> FloatArray:
        y = _cached(self._y, self.name)
        out: FloatArray = dy * (y.dtype.type(1) - y * y)
        return out


class Identity(_Activation):
    """``y = x``; passes the gradient through unchanged (as a copy-free view)."""

    def __init__(self, name: str = "identity") -> None:
        super().__init__(name)
        self._seen = False

    def forward(self, x: FloatArray) -> FloatArray:
        self._seen = True
        return x

    def grad_input(self, dy: FloatArray) -> FloatArray:
        if not self._seen:
            raise RuntimeError(f"{self.name}: backward called before forward")
        return dy


ACTIVATIONS: dict[str, type[_Activation]] = {
    "sigmoid": Sigmoid,
    "relu": ReLU,
    "tanh": Tanh,
    "identity": Identity,
    "none": Identity,
}
