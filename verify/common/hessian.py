"""The loss Hessian of a small network, by central differences of exact gradients.

refnet's networks are tiny (tens of parameters), so the full Hessian is
cheap: perturb every parameter up and down by ``h`` and difference the
backpropagated gradients. All ``2 n`` perturbed copies are evaluated in one
forward/backward pass by putting them on the member axis.

Notes
-----
``H[:, j] ~ (g(theta + h e_j) - g(theta - h e_j)) / (2 h)`` with
``h = cbrt(eps) * max(1, |theta_j|)``: the truncation error is
``O(h^2 g''')`` and the rounding error ``O(eps |g| / h)``; ``cbrt(eps)``
balances them (about 6e-6 in float64, 5e-7 in longdouble on x86). The
result is symmetrised, and ``asymmetry`` reports how far the raw estimate
was from symmetric (an error estimate). Use float64 or longdouble: the
network is rebuilt in that precision from the given parameters.

Gradient descent on a loss with Hessian ``H`` is linearly stable near a
point only when ``lr * lambda_max(H) < 2``: the component of the error
along the top eigenvector is multiplied by ``1 - lr * lambda_max`` each
step. :func:`stability_bound` returns ``2 / lambda_max``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from refnet.layers import Layer, Linear
from refnet.network import Network
from refnet.precision import DTypeLike, FloatArray, Precision, precision

__all__ = [
    "Hessian", "replicate", "flat_gradients", "hessian", "sharpness", "point_hessians", "top_eigenvalue",
    "stability_bound", "curvature_along",
]


def replicate(net: Network, flat: npt.ArrayLike, dtype: DTypeLike | None = None) -> Network:
    """A network with ``net``'s layers and loss whose members have the parameters ``flat``.

    ``flat`` is ``(K, n_params)`` in :meth:`Network.get_flat` order; the copy
    is built in ``dtype`` (default: ``net``'s) and has no observer.
    """
    rows = np.asarray(flat)
    if rows.ndim != 2 or rows.shape[1] != net.n_params:
        raise ValueError(f"flat: expected shape (K, {net.n_params}), got {rows.shape}")
    prec = precision(dtype if dtype is not None else net.precision)
    k = rows.shape[0]
    layers: list[Layer] = []
    for layer in net.layers:
        if isinstance(layer, Linear):
            w = np.zeros((k, layer.in_features, layer.out_features), dtype=prec.dtype)
            b = np.zeros((k, 1, layer.out_features), dtype=prec.dtype) if layer.has_bias else None
            layers.append(Linear(w, b, kernel_name=layer.kernel, name=layer.name))
        elif layer.params:
            raise TypeError(f"net: cannot replicate layer {layer.name!r} of type {type(layer).__name__}")
        else:
            layers.append(type(layer)(layer.name))  # type: ignore[call-arg]
    copy = Network(layers, net.loss, prec)
    copy.set_flat(prec.asarray(rows, name="flat"))
    return copy


def flat_gradients(net: Network, x: FloatArray, t: FloatArray) -> FloatArray:
    """Gradient of each member's mean loss on ``(x, t)`` as ``(K, n_params)``."""
    _, grads = net.gradients(x, t)
    parts = [grads[i][p].reshape(net.members, -1)
             for i, layer in enumerate(net.layers) for p in layer.params]
    out: FloatArray = np.concatenate(parts, axis=1)
    return out


@dataclass(frozen=True)
class Hessian:
    """A symmetrised Hessian of the mean loss and its spectrum."""

    matrix: npt.NDArray[np.float64]
    eigenvalues: npt.NDArray[np.float64]
    """Ascending."""
    top_vector: npt.NDArray[np.float64]
    """Unit eigenvector of the largest eigenvalue."""
    asymmetry: float
    """``max |H - H^T| / max |H|`` of the raw difference quotient."""
    dtype: str

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def lambda_min(self) -> float:
        return float(self.eigenvalues[0])


def _perturbations(theta: FloatArray, prec: Precision) -> tuple[FloatArray, FloatArray]:
    """Rows ``theta + h_j e_j`` then ``theta - h_j e_j``, and the steps actually taken."""
    n = theta.shape[0]
    h = prec.dtype.type(np.cbrt(prec.eps)) * np.maximum(prec.dtype.type(1), np.abs(theta))
    plus = np.tile(theta, (n, 1))
    minus = plus.copy()
    idx = np.arange(n)
    plus[idx, idx] += h
    minus[idx, idx] -= h
    span: FloatArray = plus[idx, idx] - minus[idx, idx]  # after rounding theta +- h
    rows: FloatArray = np.concatenate([plus, minus])
    return rows, span


def _check(net: Network, member: int, dtype: DTypeLike) -> Precision:
    prec = precision(dtype)
    if prec.name == "float32":
        raise ValueError("dtype: use float64 or longdouble; float32 differences are too coarse")
    if not 0 <= member < net.members:
        raise ValueError(f"member: expected 0 <= member < {net.members}, got {member}")
    return prec


def _targets(t: npt.ArrayLike, prec: Precision) -> FloatArray:
    ta = prec.asarray(t, name="t")
    if ta.ndim == 1:
        ta = ta[:, None]
    if ta.ndim != 2:
        raise ValueError(f"t: expected shape (N, out), got {ta.shape}")
    return ta


def hessian(net: Network, x: npt.ArrayLike, t: npt.ArrayLike, *, member: int = 0,
            dtype: DTypeLike = "float64") -> Hessian:
    """Hessian of member ``member``'s mean loss on ``(x, t)`` at its current parameters.

    ``x`` is ``(N, in)``, ``t`` ``(N, out)``. Computed in ``dtype`` (float64
    or longdouble); eigenvalues are returned in float64.
    """
    prec = _check(net, member, dtype)
    return _finish(_raw(net, x, t, member, prec), prec)


def sharpness(net: Network, x: npt.ArrayLike, t: npt.ArrayLike, *, member: int = 0) -> float:
    """The largest eigenvalue of :func:`hessian` (float64), without its eigenvectors.

    Eigenvalues alone take a fraction of the time of the full decomposition
    (LAPACK's ``syevd`` with vectors is slow on a busy machine), which matters
    when the sharpness is tracked along a run.
    """
    prec = _check(net, member, "float64")
    raw = _raw(net, x, t, member, prec)
    return float(np.linalg.eigvalsh(np.asarray((raw + raw.T) / 2, dtype=np.float64))[-1])


def _raw(net: Network, x: npt.ArrayLike, t: npt.ArrayLike, member: int, prec: Precision) -> FloatArray:
    """The unsymmetrised difference quotient: column ``j`` is ``d grad / d theta_j``."""
    theta = net.get_flat()[member].astype(prec.dtype)
    n = theta.shape[0]
    rows, span = _perturbations(theta, prec)
    copy = replicate(net, rows, prec)
    with np.errstate(all="raise"):
        g = flat_gradients(copy, copy.as_input(x), _targets(t, prec)[None])
    raw: FloatArray = ((g[:n] - g[n:]) / span[:, None]).T
    return raw


def point_hessians(net: Network, x: npt.ArrayLike, t: npt.ArrayLike, *, member: int = 0,
                   dtype: DTypeLike = "float64") -> npt.NDArray[np.float64]:
    """``(N, n, n)``: the symmetrised Hessian of each point's own loss term.

    The Hessian of the loss summed over any batch is the sum of its points'
    matrices (the mean: their mean), so one call serves every batching.
    All ``2 n N`` perturbed networks run as members of one network.
    """
    prec = _check(net, member, dtype)
    theta = net.get_flat()[member].astype(prec.dtype)
    n = theta.shape[0]
    rows, span = _perturbations(theta, prec)
    xa = prec.asarray(x, name="x")
    ta = _targets(t, prec)
    if xa.ndim != 2 or xa.shape[0] != ta.shape[0]:
        raise ValueError(f"x: expected shape (N, in) matching t, got {xa.shape} and {ta.shape}")
    count = xa.shape[0]
    copy = replicate(net, np.tile(rows, (count, 1)), prec)
    xs = np.repeat(xa, 2 * n, axis=0)[:, None, :]
    ts = np.repeat(ta, 2 * n, axis=0)[:, None, :]
    with np.errstate(all="raise"):
        g = flat_gradients(copy, copy.as_input(xs), ts).reshape(count, 2 * n, n)
    raw = ((g[:, :n] - g[:, n:]) / span[None, :, None]).transpose(0, 2, 1)
    out: npt.NDArray[np.float64] = np.asarray((raw + raw.transpose(0, 2, 1)) / 2, dtype=np.float64)
    return out


def _finish(raw: FloatArray, prec: Precision) -> Hessian:
    scale = float(np.max(np.abs(raw))) or 1.0
    asym = float(np.max(np.abs(raw - raw.T))) / scale
    sym = np.asarray((raw + raw.T) / 2, dtype=np.float64)
    vals, vecs = np.linalg.eigh(sym)
    return Hessian(sym, vals, vecs[:, -1], asym, prec.name)


def top_eigenvalue(matrix: npt.ArrayLike) -> float:
    """Largest eigenvalue of a symmetric matrix (dense solver)."""
    return float(np.linalg.eigvalsh(np.asarray(matrix, dtype=np.float64))[-1])


def stability_bound(lambda_max: float) -> float:
    """Largest stable gradient-descent learning rate ``2 / lambda_max`` (inf if <= 0)."""
    return 2.0 / lambda_max if lambda_max > 0 else float("inf")


def curvature_along(net: Network, x: npt.ArrayLike, t: npt.ArrayLike, v: npt.ArrayLike, *,
                    member: int = 0, h: float = 1e-4) -> float:
    """``v^T H v / v^T v`` from loss values only: ``(L(+h v) + L(-h v) - 2 L) / h^2``.

    An independent check of :func:`hessian` along one direction (float64).
    """
    vec = np.asarray(v, dtype=np.float64)
    vec = vec / np.linalg.norm(vec)
    theta = net.get_flat()[member].astype(np.float64)
    copy = replicate(net, np.stack([theta + h * vec, theta - h * vec, theta]), "float64")
    xa = copy.as_input(x)
    ta = np.asarray(t, dtype=np.float64)
    if ta.ndim == 2:
        ta = ta[None]
    loss, _ = copy.gradients(xa, ta)
    return float((loss[0] + loss[1] - 2 * loss[2]) / (h * h))
