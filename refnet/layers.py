"""Layers: each caches in ``forward`` what its ``backward`` needs, and returns
gradients without ever touching its parameters (an optimizer applies them).

All arrays carry a leading member axis (see :mod:`refnet.kernels`):
inputs ``(K, N, in)``, weights ``(K, in, out)``, biases ``(K, 1, out)``.

Each layer also carries its own facts for the tools that reason about it:
``finiteness`` for the overflow guard's fast path (:mod:`refnet.guard`) and
its first-order rounding-error model for :mod:`refnet.gradcheck`
(``rounding_forward``, ``rounding_backward``, ``carry_backward``,
``carry_forward``, ``carry_cached``; all bounds in units of eps, see
:mod:`refnet.rounding`). A new layer is one class in this file.
"""

from __future__ import annotations

from functools import partial
from typing import Literal, NamedTuple, Protocol, cast

import numpy as np

from .kernels import MEMBER_LAST, Kernel, KernelName, Op, PlannableKernel, kernel
from .precision import FloatArray
from .rounding import Bound, abs64, eta
from .validation import check_choice, check_float_array, check_text

__all__ = ["Layer", "PlannableLayer", "LayerOps", "sigmoid_ops", "naive_sigmoid_ops", "Linear", "Sigmoid", "ReLU", "Tanh", "Identity", "sigmoid", "naive_sigmoid",
           "ACTIVATIONS", "ActivationName", "SigmoidFormula", "ReLUFormula", "Finiteness", "ErrorModel"]

ActivationName = Literal["sigmoid", "relu", "tanh", "identity", "none"]
"""Activation names :func:`refnet.network.mlp` accepts (``none`` = ``identity``)."""

ReLUFormula = Literal["max", "mask"]
"""``max``: ``max(x, 0)``, gradient passed where ``x > 0``; ``mask``: the lab's, zero (``+0``)
where ``x <= 0`` in the forward and the backward (a NaN input passes its gradient)."""

SigmoidFormula = Literal["stable", "naive"]
"""``stable``: :func:`sigmoid`; ``naive``: the lab's ``1 / (1 + exp(-x))`` (:func:`naive_sigmoid`)."""

Finiteness = Literal["contracting", "bounded", "unbounded"]
"""What a layer's forward and input gradient do to finite values: ``contracting``
(finite in, finite out, magnitudes at most the input's), ``bounded`` (finite
out, magnitudes at most 1 or the upstream gradient's), ``unbounded`` (no promise)."""


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


class LayerOps(NamedTuple):
    """A layer's part of a planned step (see :mod:`refnet.plan`): bound NumPy calls on fixed buffers."""

    forward: list[Op]
    """Write the output buffer from the input buffer."""
    grad_params: list[Op]
    """Write the parameter-gradient buffers from the output-gradient buffer."""
    grad_input: list[Op]
    """Write the input-gradient buffer (empty for the first layer)."""


class PlannableLayer(Layer, Protocol):
    """A layer that also hands its part of a training step to a plan (see :mod:`refnet.plan`)."""

    def plan(self, x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray | None,
             grads: dict[str, FloatArray]) -> LayerOps:
        """Bound calls reading the input buffer ``x`` and writing the output ``y``, the parameter
        gradients ``grads`` from ``dy``, and the input gradient ``dx`` (``None``: not needed)."""
        ...


class ErrorModel(Protocol):
    """A layer's first-order rounding-error model, in units of eps (for gradcheck)."""

    finiteness: Finiteness
    kinked: bool
    """Whether the derivative jumps where the input crosses 0 (finite differences may straddle it)."""

    def rounding_forward(self, x: FloatArray, y: FloatArray) -> Bound:
        """Bound on the rounding of ``forward(x) = y``, per output element."""
        ...

    def rounding_backward(self, x: FloatArray, y: FloatArray, dy: FloatArray,
                          grads: dict[str, FloatArray]) -> dict[str, Bound]:
        """Bound on the rounding of the backward formulas (key ``x``: the input gradient)."""
        ...

    def carry_backward(self, x: FloatArray, y: FloatArray, e: Bound) -> dict[str, Bound]:
        """An error ``e`` in the upstream gradient, carried through the backward formulas."""
        ...

    def carry_forward(self, x: FloatArray, y: FloatArray, e: Bound) -> Bound:
        """An error ``e`` in the input, carried through the forward pass (``|J| e``)."""
        ...

    def carry_cached(self, x: FloatArray, y: FloatArray, dy: FloatArray,
                     ex: Bound, ey: Bound) -> dict[str, Bound]:
        """Error of the backward formulas caused by errors ``ex``/``ey`` in the cached input/output."""
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

    finiteness: Finiteness = "unbounded"
    kinked = False

    def __init__(self, weight: FloatArray, bias: FloatArray | None = None, *,
                 kernel_name: KernelName | Kernel = "blas", name: str = "linear") -> None:
        check_float_array("weight", weight, 3)
        if bias is not None:
            check_float_array("bias", bias)
            if bias.shape != (weight.shape[0], 1, weight.shape[2]) or bias.dtype != weight.dtype:
                raise ValueError(f"bias: expected a {weight.dtype} array of shape "
                                 f"{(weight.shape[0], 1, weight.shape[2])}, got {bias.dtype} {bias.shape}")
        if not isinstance(kernel_name, str) and not all(
                callable(getattr(kernel_name, m, None)) for m in ("matmul", "matmul_nt", "matmul_tn", "sum_rows")):
            raise TypeError(f"kernel_name: expected a kernel name or a Kernel, got {kernel_name!r}")
        try:
            self.kernel = kernel(kernel_name)
        except ValueError as exc:
            raise ValueError(f"kernel_name: {str(exc).partition(': ')[2]}") from None
        self.name = check_text("name", name)
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

    def plan(self, x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray | None,
             grads: dict[str, FloatArray]) -> LayerOps:
        """:meth:`forward`, :meth:`grad_params` and :meth:`grad_input` as bound calls on these buffers
        (the parameters are read when the calls run: an optimizer updates them in place).
        Buffers without the member axis (2-D) stand for a single network's: its own
        parameters are then bound without it too."""
        w, b = self.params["W"], self.params.get("b")
        if y.ndim == 2:
            w, b = w[0], None if b is None else b[0]
        k = cast(PlannableKernel, self.kernel)  # a plan runs only on refnet's kernels (Plan.supports)
        ops = k.ops_matmul(x, w, y)
        back = k.ops_matmul_tn(x, dy, grads["W"])
        if b is not None:
            ops.append(partial(np.add, y, b, y))
            back += k.ops_sum_rows(dy, grads["b"])
        down = [] if dx is None else k.ops_matmul_nt(dy, w, dx)
        return LayerOps(ops, back, down)

    # -- error model: a dot product of n terms rounds within (n + 1) eps sum|a_j b_j|
    def rounding_forward(self, x: FloatArray, y: FloatArray) -> Bound:
        m = np.matmul(abs64(x), abs64(self.params["W"]))
        if "b" in self.params:
            m = m + abs64(self.params["b"])
        out: Bound = (self.in_features + 1) * (m + eta(y.dtype))
        return out

    def rounding_backward(self, x: FloatArray, y: FloatArray, dy: FloatArray,
                          grads: dict[str, FloatArray]) -> dict[str, Bound]:
        ady, aw, ax = abs64(dy), abs64(self.params["W"]), abs64(x)
        tiny = eta(dy.dtype)
        n = x.shape[-2]
        out = {"x": (self.out_features + 1) * (np.matmul(ady, np.swapaxes(aw, -1, -2)) + tiny),
               "W": (n + 1) * (np.matmul(np.swapaxes(ax, -1, -2), ady) + tiny)}
        if "b" in self.params:
            out["b"] = (n + 1) * (np.sum(ady, axis=-2, keepdims=True) + tiny)
        return out

    def carry_backward(self, x: FloatArray, y: FloatArray, e: Bound) -> dict[str, Bound]:
        aw = abs64(self.params["W"])
        out = {"x": np.matmul(e, np.swapaxes(aw, -1, -2)), "W": np.matmul(np.swapaxes(abs64(x), -1, -2), e)}
        if "b" in self.params:
            out["b"] = np.sum(e, axis=-2, keepdims=True)
        return out

    def carry_forward(self, x: FloatArray, y: FloatArray, e: Bound) -> Bound:
        out: Bound = np.matmul(e, abs64(self.params["W"]))
        return out

    def carry_cached(self, x: FloatArray, y: FloatArray, dy: FloatArray,
                     ex: Bound, ey: Bound) -> dict[str, Bound]:
        ady = abs64(dy)
        return {"W": np.matmul(np.swapaxes(np.broadcast_to(ex, ady.shape[:-1] + ex.shape[-1:]), -1, -2), ady)}


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


def sigmoid_ops(x: FloatArray, out: FloatArray) -> list[Op]:
    """:func:`sigmoid` of the buffer ``x`` into ``out``, as bound calls (``-|x|`` by
    ``copysign``, which is ``-abs(x)`` bit for bit, NaN payloads and zeros included)."""
    one = x.dtype.type(1)
    work = np.empty_like(out)
    mask = np.empty_like(x, dtype=np.bool_)
    return [partial(np.greater_equal, x, x.dtype.type(0), mask), partial(np.copysign, x, -one, out),
            partial(np.exp, out, out), partial(np.add, out, one, work),
            partial(np.divide, out, work, out), partial(np.subtract, one, out, work),
            partial(np.copyto, out, work, where=mask)]


def naive_sigmoid_ops(x: FloatArray, out: FloatArray) -> list[Op]:
    """:func:`naive_sigmoid` of the buffer ``x`` into ``out``, as bound calls (the caller
    silences the ``exp`` overflow: a planned step runs under ``np.errstate``)."""
    one = x.dtype.type(1)
    return [partial(np.negative, x, out), partial(np.exp, out, out),
            partial(np.add, one, out, out), partial(np.divide, one, out, out)]


def naive_sigmoid(x: FloatArray) -> FloatArray:
    """The lab's logistic function ``1 / (1 + exp(-x))``, kept to reproduce its bits.

    Notes
    -----
    ``exp(-x)`` overflows to ``inf`` for ``x`` below about -88.7 (float32) or
    -709.8 (float64); the result is then ``1 / inf = 0``, the correctly
    rounded value, and the overflow is silenced here rather than leaked as a
    warning. It rounds to exactly 1 as soon as ``exp(-x) <= eps / 2``, a factor
    2 earlier than :func:`sigmoid`. Relative error within 3 ulps elsewhere.
    """
    one = x.dtype.type(1)
    with np.errstate(over="ignore"):
        out: FloatArray = one / (one + np.exp(-x))
    return out


class _Activation:
    """Base for parameter-free elementwise layers (the error model of one that is exact)."""

    finiteness: Finiteness = "contracting"
    kinked = False

    def __init__(self, name: str) -> None:
        self.name = check_text("name", name)
        self.params: dict[str, FloatArray] = {}

    def rounding_forward(self, x: FloatArray, y: FloatArray) -> Bound:
        return np.zeros(y.shape)

    def rounding_backward(self, x: FloatArray, y: FloatArray, dy: FloatArray,
                          grads: dict[str, FloatArray]) -> dict[str, Bound]:
        return {"x": np.zeros(x.shape)}

    def carry_backward(self, x: FloatArray, y: FloatArray, e: Bound) -> dict[str, Bound]:
        return {"x": e}

    def carry_forward(self, x: FloatArray, y: FloatArray, e: Bound) -> Bound:
        return self.carry_backward(x, y, e)["x"]

    def carry_cached(self, x: FloatArray, y: FloatArray, dy: FloatArray,
                     ex: Bound, ey: Bound) -> dict[str, Bound]:
        return {}

    def forward(self, x: FloatArray) -> FloatArray:
        raise NotImplementedError

    def grad_input(self, dy: FloatArray) -> FloatArray:
        raise NotImplementedError

    def grad_params(self, dy: FloatArray) -> dict[str, FloatArray]:
        return {}

    def plan(self, x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray | None,
             grads: dict[str, FloatArray]) -> LayerOps:
        """:meth:`forward` and :meth:`grad_input` as bound calls on these buffers."""
        return LayerOps(self._forward_ops(x, y), [], [] if dx is None else self._input_ops(y, dy, dx))

    def _forward_ops(self, x: FloatArray, y: FloatArray) -> list[Op]:
        raise NotImplementedError

    def _input_ops(self, y: FloatArray, dy: FloatArray, dx: FloatArray) -> list[Op]:
        raise NotImplementedError


class Sigmoid(_Activation):
    """Logistic activation; caches its output ``y``, derivative ``y (1 - y)``.

    ``formula`` picks the forward: ``stable`` (:func:`sigmoid`, the default) or
    ``naive`` (the lab's, :func:`naive_sigmoid`); the backward is the same.
    """

    finiteness: Finiteness = "bounded"

    def __init__(self, name: str = "sigmoid", formula: SigmoidFormula = "stable") -> None:
        super().__init__(name)
        self.formula: SigmoidFormula = check_choice("formula", formula, ("stable", "naive"))
        self._function = sigmoid if formula == "stable" else naive_sigmoid
        self._y: FloatArray | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        self._y = self._function(x)
        return self._y

    def grad_input(self, dy: FloatArray) -> FloatArray:
        y = _cached(self._y, self.name)
        out: FloatArray = dy * ((y.dtype.type(1) - y) * y)
        return out

    def _forward_ops(self, x: FloatArray, y: FloatArray) -> list[Op]:
        return sigmoid_ops(x, y) if self.formula == "stable" else naive_sigmoid_ops(x, y)

    def _input_ops(self, y: FloatArray, dy: FloatArray, dx: FloatArray) -> list[Op]:
        d = np.empty_like(y)
        one = y.dtype.type(1)
        return [partial(np.subtract, one, y, d), partial(np.multiply, d, y, d),
                partial(np.multiply, dy, d, dx)]

    # -- error model: sigmoid within 2-3 ulps; y (1 - y) dy three roundings
    def rounding_forward(self, x: FloatArray, y: FloatArray) -> Bound:
        out: Bound = 4.0 * (abs64(y) + eta(y.dtype))
        return out

    def rounding_backward(self, x: FloatArray, y: FloatArray, dy: FloatArray,
                          grads: dict[str, FloatArray]) -> dict[str, Bound]:
        ay = abs64(y)
        return {"x": abs64(dy) * (3.0 * ay * np.abs(1.0 - ay) + 4.0 * np.abs(1.0 - 2.0 * ay) * ay)
                + 3.0 * eta(dy.dtype)}

    def carry_backward(self, x: FloatArray, y: FloatArray, e: Bound) -> dict[str, Bound]:
        ay = abs64(y)
        return {"x": e * ay * np.abs(1.0 - ay)}

    def carry_cached(self, x: FloatArray, y: FloatArray, dy: FloatArray,
                     ex: Bound, ey: Bound) -> dict[str, Bound]:
        return {"x": abs64(dy) * np.abs(1.0 - 2.0 * abs64(y)) * ey}


class ReLU(_Activation):
    """``max(x, 0)``; the subgradient at exactly 0 is taken as 0 (as in the lab).

    ``formula`` ``max`` (the default) caches the mask ``x > 0`` and computes
    ``np.maximum(x, 0)``: a NaN input stays NaN, its gradient is 0. ``mask`` is
    the lab's: ``+0`` where ``x <= 0``, ``x`` elsewhere, and the gradient zeroed
    where ``x <= 0`` (a NaN input passes its gradient; ``-0`` becomes ``+0``).
    Neither writes into ``x`` or ``dy`` (the lab zeroes ``dy`` in place).
    """

    kinked = True

    def __init__(self, name: str = "relu", formula: ReLUFormula = "max") -> None:
        super().__init__(name)
        if formula not in ("max", "mask"):
            raise ValueError(f"formula: expected 'max' or 'mask', got {formula!r}")
        self.formula: ReLUFormula = formula
        self._mask: np.ndarray[tuple[int, ...], np.dtype[np.bool_]] | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        zero = x.dtype.type(0)
        if self.formula == "mask":
            self._mask = ~(x <= zero)  # where the gradient passes: not (x <= 0), NaN included
            out: FloatArray = np.where(self._mask, x, zero)
            return out
        self._mask = x > zero
        out = np.maximum(x, zero)
        return out

    def grad_input(self, dy: FloatArray) -> FloatArray:
        if self._mask is None:
            raise RuntimeError(f"{self.name}: backward called before forward")
        out: FloatArray = np.where(self._mask, dy, dy.dtype.type(0))
        return out

    def plan(self, x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray | None,
             grads: dict[str, FloatArray]) -> LayerOps:
        # The select ``where(mask, dy, +0)`` as a bitwise AND with a mask of all ones or
        # all zeros (``-mask`` in unsigned integers): the same bits, NaN and -0 included,
        # without the branch per element that np.where and np.copyto(where=) take.
        bits = np.dtype(f"u{x.dtype.itemsize}")
        mask = np.empty_like(x, dtype=bits)
        zero = x.dtype.type(0)
        if self.formula == "mask":  # pass where not (x <= 0); the output is x AND that mask
            forward: list[Op] = [partial(np.less_equal, x, zero, mask),
                                 partial(np.subtract, mask, 1, mask),
                                 partial(np.bitwise_and, x.view(bits), mask, y.view(bits))]
        else:
            forward = [partial(np.greater, x, zero, mask),
                       partial(np.negative, mask, mask), partial(np.maximum, x, zero, out=y)]
        down: list[Op] = [] if dx is None else [
            partial(np.bitwise_and, dy.view(bits), mask, dx.view(bits))]
        return LayerOps(forward, [], down)

    def carry_backward(self, x: FloatArray, y: FloatArray, e: Bound) -> dict[str, Bound]:
        return {"x": e * (np.asarray(x) > 0)}


class Tanh(_Activation):
    """Hyperbolic tangent; caches its output ``y``, derivative ``1 - y^2``."""

    finiteness: Finiteness = "bounded"

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

    def _forward_ops(self, x: FloatArray, y: FloatArray) -> list[Op]:
        return [partial(np.tanh, x, y)]

    def _input_ops(self, y: FloatArray, dy: FloatArray, dx: FloatArray) -> list[Op]:
        d = np.empty_like(y)
        return [partial(np.multiply, y, y, d), partial(np.subtract, y.dtype.type(1), d, d),
                partial(np.multiply, dy, d, dx)]

    # -- error model: tanh within a few ulps; (1 - y^2) dy three roundings
    def rounding_forward(self, x: FloatArray, y: FloatArray) -> Bound:
        out: Bound = 4.0 * (abs64(y) + eta(y.dtype))
        return out

    def rounding_backward(self, x: FloatArray, y: FloatArray, dy: FloatArray,
                          grads: dict[str, FloatArray]) -> dict[str, Bound]:
        ay = abs64(y)
        return {"x": abs64(dy) * (3.0 * np.abs(1.0 - ay * ay) + 8.0 * ay * ay) + 3.0 * eta(dy.dtype)}

    def carry_backward(self, x: FloatArray, y: FloatArray, e: Bound) -> dict[str, Bound]:
        ay = abs64(y)
        return {"x": e * np.abs(1.0 - ay * ay)}

    def carry_cached(self, x: FloatArray, y: FloatArray, dy: FloatArray,
                     ex: Bound, ey: Bound) -> dict[str, Bound]:
        return {"x": abs64(dy) * 2.0 * abs64(y) * ey}


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

    def _forward_ops(self, x: FloatArray, y: FloatArray) -> list[Op]:
        return [partial(np.copyto, y, x)]

    def _input_ops(self, y: FloatArray, dy: FloatArray, dx: FloatArray) -> list[Op]:
        return [partial(np.copyto, dx, dy)]


ACTIVATIONS: dict[ActivationName, type[_Activation]] = {
    "sigmoid": Sigmoid,
    "relu": ReLU,
    "tanh": Tanh,
    "identity": Identity,
    "none": Identity,
}
