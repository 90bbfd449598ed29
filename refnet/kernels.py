"""Matrix products over a leading member axis, in two interchangeable kernels.

Every array here has a leading *member* axis ``K`` (a single network is an
ensemble of one): activations are ``(K, N, features)`` and weights are
``(K, in, out)``. The four contractions backpropagation needs live here and
nowhere else:

``matmul(x, w)``      ``x @ w``                    (K,N,in)  x (K,in,out) -> (K,N,out)
``matmul_nt(d, w)``   ``d @ w^T``                  (K,N,out) x (K,in,out) -> (K,N,in)
``matmul_tn(x, d)``   ``x^T @ d`` (sum over N)     (K,N,in)  x (K,N,out)  -> (K,in,out)
``sum_rows(d)``       ``sum over N``               (K,N,out)              -> (K,1,out)

``blas`` calls ``np.matmul``/``np.sum``: fastest, but the summation order is
the BLAS library's and can change with its kernel or thread count.
``portable`` accumulates term by term in a fixed order using only elementwise
IEEE-754 multiply and add, which are correctly rounded on every machine, so
its results depend on nothing but the inputs.
"""

from __future__ import annotations

from typing import Final, Literal, Protocol

import numpy as np
import numpy.typing as npt

from .precision import F

__all__ = ["Kernel", "BlasKernel", "PortableKernel", "KernelName", "kernel", "KERNELS"]

KernelName = Literal["blas", "portable"]


class Kernel(Protocol):
    """The contractions of a layer's forward and backward pass."""

    name: str

    def matmul(self, x: npt.NDArray[F], w: npt.NDArray[F]) -> npt.NDArray[F]: ...

    def matmul_nt(self, d: npt.NDArray[F], w: npt.NDArray[F]) -> npt.NDArray[F]: ...

    def matmul_tn(self, x: npt.NDArray[F], d: npt.NDArray[F]) -> npt.NDArray[F]: ...

    def sum_rows(self, d: npt.NDArray[F]) -> npt.NDArray[F]: ...


class BlasKernel:
    """Products through ``np.matmul`` (the BLAS library NumPy was built with)."""

    name = "blas"

    def matmul(self, x: npt.NDArray[F], w: npt.NDArray[F]) -> npt.NDArray[F]:
        out: npt.NDArray[F] = np.matmul(x, w)
        return out

    def matmul_nt(self, d: npt.NDArray[F], w: npt.NDArray[F]) -> npt.NDArray[F]:
        out: npt.NDArray[F] = np.matmul(d, np.swapaxes(w, -1, -2))
        return out

    def matmul_tn(self, x: npt.NDArray[F], d: npt.NDArray[F]) -> npt.NDArray[F]:
        out: npt.NDArray[F] = np.matmul(np.swapaxes(x, -1, -2), d)
        return out

    def sum_rows(self, d: npt.NDArray[F]) -> npt.NDArray[F]:
        out: npt.NDArray[F] = np.sum(d, axis=-2, keepdims=True)
        return out


class PortableKernel:
    """Products in a fixed left-to-right order from elementwise multiply and add.

    Notes
    -----
    ``sum_j a_j b_j`` is evaluated as ``((a_0 b_0 + a_1 b_1) + a_2 b_2) + ...``
    with each product and each sum rounded once (IEEE-754 round to nearest).
    No fused multiply-add and no reassociation is possible through NumPy's
    elementwise ufuncs, so the bits are the same on any conforming machine.
    """

    name = "portable"

    def matmul(self, x: npt.NDArray[F], w: npt.NDArray[F]) -> npt.NDArray[F]:
        acc: npt.NDArray[F] = x[..., :, 0:1] * w[..., 0:1, :]
        for j in range(1, x.shape[-1]):
            acc = acc + x[..., :, j : j + 1] * w[..., j : j + 1, :]
        return acc

    def matmul_nt(self, d: npt.NDArray[F], w: npt.NDArray[F]) -> npt.NDArray[F]:
        wt = np.swapaxes(w, -1, -2)  # (K, out, in)
        acc: npt.NDArray[F] = d[..., :, 0:1] * wt[..., 0:1, :]
        for j in range(1, d.shape[-1]):
            acc = acc + d[..., :, j : j + 1] * wt[..., j : j + 1, :]
        return acc

    def matmul_tn(self, x: npt.NDArray[F], d: npt.NDArray[F]) -> npt.NDArray[F]:
        acc: npt.NDArray[F] = x[..., 0, :, None] * d[..., 0, None, :]
        for n in range(1, x.shape[-2]):
            acc = acc + x[..., n, :, None] * d[..., n, None, :]
        return acc

    def sum_rows(self, d: npt.NDArray[F]) -> npt.NDArray[F]:
        acc: npt.NDArray[F] = d[..., 0:1, :].copy()
        for n in range(1, d.shape[-2]):
            acc = acc + d[..., n : n + 1, :]
        return acc


KERNELS: Final[dict[str, Kernel]] = {"blas": BlasKernel(), "portable": PortableKernel()}


def kernel(spec: str | Kernel) -> Kernel:
    """Resolve a kernel name (``blas`` or ``portable``) or pass a Kernel through."""
    if isinstance(spec, str):
        try:
            return KERNELS[spec]
        except KeyError:
            raise ValueError(
                f"kernel: unknown name {spec!r}; choose one of {', '.join(KERNELS)}"
            ) from None
    return spec
