"""First-order rounding bounds for comparing two implementations of the same step.

Both the student's code and refnet compute the same exact quantities from the
same float64 inputs (data, weights, learning rate), each with its own order of
operations. For every produced array ``o`` a bound ``E(o)`` on ``|o_computed -
o_exact|`` is carried through the pass, per element, from the operands'
bounds and one rounding per operation (unit ``eps``, twice the unit roundoff,
so a reordered sum or a naive sigmoid is covered too):

* Linear ``x @ w + b``: ``E_x @ |w| + (in + 1) eps (|x| @ |w| + |b|)``;
* sigmoid / tanh: ``|f'| E_x + 4 eps |y|``; ReLU, identity: ``E_x`` (exact);
* loss gradient: ``|curvature| E_y + 4 eps |g|_abs`` (``|g|_abs`` the gradient
  formula on absolute values), over the count for the mean;
* activation backward ``g y (1 - y)``: ``E_g y|1-y| + |g| |1-2y| E_y + 3 eps |g y (1-y)|``;
* Linear backward: ``dw = x^T g``: ``|x|^T E_g + E_x^T |g| + (N + 1) eps |x|^T |g|``;
  ``db``: ``sum E_g + (N + 1) eps sum |g|``; returned ``g @ w^T``:
  ``E_g @ |w|^T + |g| @ E_w^T + (out + 1) eps |g| @ |w|^T`` (``E_w`` nonzero when
  the gradient goes through the updated weights);
* update ``w - lr dw``: ``lr E_dw + 2 eps (lr |dw| + |w_new|)``; the change
  ``w_new - w``: that plus ``eps |change|``.

Two results each within ``E`` of the exact value differ by at most ``2 E``;
the comparison allows ``2 E`` times :data:`refnet.gradcheck.SAFETY`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .adapter import Kind

__all__ = ["EPS", "forward_bound", "activation_backward_bound", "loss_grad_bound", "loss_value_bound",
           "linear_backward_bounds", "update_bound", "ulps"]

Arr = npt.NDArray[np.float64]
EPS = float(np.finfo(np.float64).eps)


def forward_bound(kind: Kind, x: Arr, y: Arr, e_x: Arr, w: Arr | None = None, b: Arr | None = None) -> Arr:
    """Bound on the error of the layer's output, given the bound ``e_x`` of its input."""
    if kind == "linear":
        aw = np.abs(w) if w is not None else np.zeros((x.shape[-1], y.shape[-1]))
        m = np.abs(x) @ aw + (np.abs(b).reshape(1, -1) if b is not None else 0.0)
        out: Arr = e_x @ aw + (x.shape[-1] + 1) * EPS * m
        return out
    if kind == "sigmoid":
        return np.asarray(y * (1.0 - y) * e_x + 4.0 * EPS * np.abs(y), dtype=np.float64)
    if kind == "tanh":
        return np.asarray((1.0 - y * y) * e_x + 4.0 * EPS * np.abs(y), dtype=np.float64)
    return np.asarray(e_x, dtype=np.float64)


def activation_backward_bound(kind: Kind, x: Arr, y: Arr, e_y: Arr, g: Arr, e_g: Arr) -> Arr:
    """Bound on the returned gradient of an activation, given upstream ``g`` and bounds."""
    ag = np.abs(g)
    if kind == "sigmoid":
        d = y * np.abs(1.0 - y)
        return np.asarray(e_g * d + ag * np.abs(1.0 - 2.0 * y) * e_y + 3.0 * EPS * ag * d, dtype=np.float64)
    if kind == "tanh":
        d = np.abs(1.0 - y * y)
        return np.asarray(e_g * d + ag * 2.0 * np.abs(y) * e_y + 3.0 * EPS * ag * d, dtype=np.float64)
    if kind == "relu":
        return np.asarray(e_g * (x > 0), dtype=np.float64)
    return np.asarray(e_g, dtype=np.float64)


def _count(y: Arr) -> float:
    return float(y.shape[0] * y.shape[1])


def loss_grad_bound(loss: str, y: Arr, t: Arr, e_y: Arr, summed: bool) -> Arr:
    """Bound on ``dL/dy`` (of the sum when ``summed``, else of the mean)."""
    c = 1.0 if summed else _count(y)
    if loss == "mse":
        curv, gabs = np.full(y.shape, 2.0), 2.0 * (np.abs(y) + np.abs(t))
    else:
        a, b = y + 1e-7, (1.0 - y) + 1e-7
        curv = np.abs(t) / a ** 2 + np.abs(1.0 - t) / b ** 2
        gabs = np.abs(t) / a + np.abs(1.0 - t) / b
    return np.asarray((curv * e_y + 4.0 * EPS * gabs) / c + EPS * gabs / c, dtype=np.float64)


def loss_value_bound(loss: str, y: Arr, t: Arr, e_y: Arr, summed: bool) -> float:
    """Bound on the loss value (``summed``: the sum of the terms, else their mean)."""
    c = 1.0 if summed else _count(y)
    n = y.size
    if loss == "mse":
        terms = (y - t) ** 2
        first = 2.0 * np.abs(y - t) * e_y
        own = 3.0 * terms
    else:
        a, b = y + 1e-7, (1.0 - y) + 1e-7
        terms = -(t * np.log(a) + (1.0 - t) * np.log(b))
        first = (np.abs(t) / a + np.abs(1.0 - t) / b) * e_y
        own = 3.0 * (np.abs(t) * (np.abs(np.log(a)) + 1.0) + np.abs(1.0 - t) * (np.abs(np.log(b)) + 1.0))
    return float((np.sum(first) + EPS * (np.sum(own) + (n + 2) * np.sum(np.abs(terms)))) / c)


def linear_backward_bounds(x: Arr, e_x: Arr, w_used: Arr, e_w: Arr, g: Arr, e_g: Arr,
                           bias: bool) -> dict[str, Arr]:
    """Bounds on ``dw``, ``db`` (when ``bias``) and the returned gradient ``g @ w_used^T``."""
    ax, ag, aw = np.abs(x), np.abs(g), np.abs(w_used)
    n = x.shape[0]
    out = {"dw": np.asarray(ax.T @ e_g + e_x.T @ ag + (n + 1) * EPS * (ax.T @ ag), dtype=np.float64),
           "dx": np.asarray(e_g @ aw.T + ag @ e_w.T + (w_used.shape[1] + 1) * EPS * (ag @ aw.T), dtype=np.float64)}
    if bias:
        out["db"] = np.asarray(np.sum(e_g, axis=0) + (n + 1) * EPS * np.sum(ag, axis=0), dtype=np.float64)
    return out


def update_bound(lr: float, grad: Arr, e_grad: Arr, new: Arr, change: Arr) -> tuple[Arr, Arr]:
    """Bounds on the updated parameter and on its change ``new - old``."""
    e_new = lr * e_grad + 2.0 * EPS * (lr * np.abs(grad) + np.abs(new))
    return np.asarray(e_new, dtype=np.float64), np.asarray(e_new + EPS * np.abs(change), dtype=np.float64)


def ulps(a: Arr, ref: Arr) -> Arr:
    """``|a - ref|`` in units of the float64 spacing at ``ref``."""
    with np.errstate(all="ignore"):
        return np.asarray(np.abs(a - ref) / np.spacing(np.maximum(np.abs(ref), np.finfo(np.float64).tiny)),
                          dtype=np.float64)
