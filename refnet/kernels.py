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

from collections.abc import Callable
from functools import partial
from typing import Final, Literal, Protocol

import numpy as np
import numpy.typing as npt

from .precision import F

__all__ = ["Kernel", "PlannableKernel", "BlasKernel", "PortableKernel", "CompiledKernel", "KernelName", "kernel", "KERNELS", "Op"]

Op = Callable[[], object]
"""One bound NumPy call of a planned training step (see :mod:`refnet.plan`).

The kernels, layers and losses build them (``ops_*`` and ``plan`` methods)
from the same operations as their allocating methods, on buffers the plan
allocated once, so the bits are the same (``tests/test_plan.py``)."""

KernelName = Literal["blas", "portable", "compiled"]
"""``blas``, ``portable``, or ``compiled``: the portable kernel's arithmetic, whose whole
training runs :func:`refnet.train.train` and :mod:`refnet.lab` compile (:mod:`refnet.compiled`,
optional numba: ``pip install refnet[fast]``)."""


MEMBER_LAST: Final = 8
"""Ensembles of at least this many members are computed with the member axis
innermost (a transposed copy in, the result copied back): the same products
and sums in the same order, element by element, so the bits do not change,
but NumPy's inner loops run over the members instead of 1 to 4 features."""


def _member_last(a: npt.NDArray[F]) -> npt.NDArray[F]:
    """``(K, ...)`` -> C-contiguous ``(..., K)`` (no copy if it is one already)."""
    out: npt.NDArray[F] = np.ascontiguousarray(a.transpose((*range(1, a.ndim), 0)))
    return out


def _member_first(a: npt.NDArray[F]) -> npt.NDArray[F]:
    """``(..., K)`` -> a ``(K, ...)`` *view* (no copy): later elementwise steps
    keep the fast layout; layout-sensitive reductions make their input contiguous."""
    out: npt.NDArray[F] = a.transpose((a.ndim - 1, *range(a.ndim - 1)))
    return out


def _ordered_sum(terms: npt.NDArray[F], axis: int) -> npt.NDArray[F]:
    """``((t_0 + t_1) + t_2) + ...`` along ``axis``, in one NumPy call.

    Notes
    -----
    NumPy reduces an axis that is not the innermost one by adding its slices
    to the output one after the other, in index order (pairwise summation is
    only used along the innermost axis, which here is the member axis and is
    not reduced). Starting from ``-0.0`` makes the first step exact for every
    value (``-0 + t = t``, signed zeros included), so the result is the
    left-to-right sum of the loop it replaces, bit for bit.
    """
    out: npt.NDArray[F] = np.add.reduce(terms, axis=axis, initial=terms.dtype.type(-0.0))
    return out


class Kernel(Protocol):
    """The contractions of a layer's forward and backward pass."""

    name: str

    def matmul(self, x: npt.NDArray[F], w: npt.NDArray[F]) -> npt.NDArray[F]: ...

    def matmul_nt(self, d: npt.NDArray[F], w: npt.NDArray[F]) -> npt.NDArray[F]: ...

    def matmul_tn(self, x: npt.NDArray[F], d: npt.NDArray[F]) -> npt.NDArray[F]: ...

    def sum_rows(self, d: npt.NDArray[F]) -> npt.NDArray[F]: ...


class PlannableKernel(Kernel, Protocol):
    """A kernel that also hands its contractions to a planned step as bound calls on buffers."""

    def ops_matmul(self, x: npt.NDArray[F], w: npt.NDArray[F], out: npt.NDArray[F]) -> list[Op]: ...

    def ops_matmul_nt(self, d: npt.NDArray[F], w: npt.NDArray[F], out: npt.NDArray[F]) -> list[Op]: ...

    def ops_matmul_tn(self, x: npt.NDArray[F], d: npt.NDArray[F], out: npt.NDArray[F]) -> list[Op]: ...

    def ops_sum_rows(self, d: npt.NDArray[F], out: npt.NDArray[F]) -> list[Op]: ...


class BlasKernel:
    """Products through ``np.matmul`` (the BLAS library NumPy was built with)."""

    name = "blas"

    # Operands are made C-contiguous first (a no-op unless a portable layer
    # handed over a member-last view): NumPy calls BLAS only on such stacks.
    def matmul(self, x: npt.NDArray[F], w: npt.NDArray[F]) -> npt.NDArray[F]:
        out: npt.NDArray[F] = np.matmul(np.ascontiguousarray(x), np.ascontiguousarray(w))
        return out

    def matmul_nt(self, d: npt.NDArray[F], w: npt.NDArray[F]) -> npt.NDArray[F]:
        out: npt.NDArray[F] = np.matmul(np.ascontiguousarray(d), np.swapaxes(np.ascontiguousarray(w), -1, -2))
        return out

    def matmul_tn(self, x: npt.NDArray[F], d: npt.NDArray[F]) -> npt.NDArray[F]:
        out: npt.NDArray[F] = np.matmul(np.swapaxes(np.ascontiguousarray(x), -1, -2), np.ascontiguousarray(d))
        return out

    def sum_rows(self, d: npt.NDArray[F]) -> npt.NDArray[F]:
        if d.shape[0] >= MEMBER_LAST and d.shape[-1] > 1:
            # NumPy sums a non-innermost axis row by row from +0 in either
            # layout; member-last only makes its inner loops long.
            acc: npt.NDArray[F] = np.add.reduce(_member_last(d), axis=0)
            return _member_first(acc)[:, None, :]
        out: npt.NDArray[F] = np.add.reduce(np.ascontiguousarray(d), axis=-2, keepdims=True)
        return out

    # -- planned steps: the same np.matmul on buffers whose matrices are each
    #    C-contiguous (the stack's own stride is free), written into ``out``
    def ops_matmul(self, x: npt.NDArray[F], w: npt.NDArray[F], out: npt.NDArray[F]) -> list[Op]:
        if not (_blasable(x) and _blasable(w)):
            return [lambda: np.copyto(out, self.matmul(x, w))]
        return [partial(np.matmul, x, w, out)]

    def ops_matmul_nt(self, d: npt.NDArray[F], w: npt.NDArray[F], out: npt.NDArray[F]) -> list[Op]:
        if not (_blasable(d) and _blasable(w)):
            return [lambda: np.copyto(out, self.matmul_nt(d, w))]
        return [partial(np.matmul, d, np.swapaxes(w, -1, -2), out)]

    def ops_matmul_tn(self, x: npt.NDArray[F], d: npt.NDArray[F], out: npt.NDArray[F]) -> list[Op]:
        if not (_blasable(x) and _blasable(d)):
            return [lambda: np.copyto(out, self.matmul_tn(x, d))]
        return [partial(np.matmul, np.swapaxes(x, -1, -2), d, out)]

    def ops_sum_rows(self, d: npt.NDArray[F], out: npt.NDArray[F]) -> list[Op]:
        # a non-innermost axis is summed row by row in any layout; a single
        # column is summed pairwise over contiguous memory, as above
        if d.shape[-1] == 1 and not d.flags.c_contiguous:
            return [lambda: np.copyto(out, self.sum_rows(d))]
        if d.ndim == 3 and d.shape[0] >= MEMBER_LAST and d.shape[-1] > 1:
            # as sum_rows: the same row-by-row sums over a member-last copy, whose inner loops are long
            rows = np.empty((d.shape[1], d.shape[2], d.shape[0]), dtype=d.dtype)
            return [partial(np.copyto, rows, _member_last_memory(d)),
                    partial(np.add.reduce, rows, 0, None, _member_last_memory(out[:, 0, :]))]
        return [partial(np.add.reduce, d, -2, None, out, True)]  # (array, axis, dtype, out, keepdims)


def _blasable(a: npt.NDArray[F]) -> bool:
    """Whether each matrix of the stack ``a`` is C-contiguous, as the allocating methods'
    ``ascontiguousarray`` makes it (the stack's own stride is free). A matrix with a longer
    leading dimension is refused: BLAS may take another path on it (measured: other bits)."""
    rows, cols = a.shape[-2], a.shape[-1]
    return (cols == 1 or a.strides[-1] == a.itemsize) and (rows == 1 or a.strides[-2] == cols * a.itemsize)


def _member_last_memory(a: npt.NDArray[F]) -> npt.NDArray[F]:
    """The ``(..., K)`` view of a ``(K, ...)`` array (no copy; any layout)."""
    out: npt.NDArray[F] = a.transpose((*range(1, a.ndim), 0))
    return out


def _ordered_ops(terms: npt.NDArray[F], axis: int, out: npt.NDArray[F]) -> Op:
    """:func:`_ordered_sum` into the member-last view of ``out``."""
    target = _member_last_memory(out)
    return partial(np.add.reduce, terms, axis=axis, initial=terms.dtype.type(-0.0), out=target)


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
        if w.shape[0] >= MEMBER_LAST:
            xl, wl = _member_last(x), _member_last(w)  # (N, in, K), (in, out, K)
            terms = xl[:, :, None] * wl[None]  # (N, in, out, K)
            return _member_first(_ordered_sum(terms, 1))
        acc: npt.NDArray[F] = x[..., :, 0:1] * w[..., 0:1, :]
        for j in range(1, x.shape[-1]):
            acc = acc + x[..., :, j : j + 1] * w[..., j : j + 1, :]
        return acc

    def matmul_nt(self, d: npt.NDArray[F], w: npt.NDArray[F]) -> npt.NDArray[F]:
        if w.shape[0] >= MEMBER_LAST:
            dl = _member_last(d)  # (N, out, K)
            wtl: npt.NDArray[F] = np.ascontiguousarray(np.transpose(w, (2, 1, 0)))  # (out, in, K)
            terms = dl[:, :, None] * wtl[None]  # (N, out, in, K)
            return _member_first(_ordered_sum(terms, 1))
        wt = np.swapaxes(w, -1, -2)  # (K, out, in)
        acc: npt.NDArray[F] = d[..., :, 0:1] * wt[..., 0:1, :]
        for j in range(1, d.shape[-1]):
            acc = acc + d[..., :, j : j + 1] * wt[..., j : j + 1, :]
        return acc

    def matmul_tn(self, x: npt.NDArray[F], d: npt.NDArray[F]) -> npt.NDArray[F]:
        if d.shape[0] >= MEMBER_LAST:
            xl, dl = _member_last(x), _member_last(d)  # (N, in, K|1), (N, out, K)
            terms = xl[:, :, None] * dl[:, None, :]  # (N, in, out, K)
            return _member_first(_ordered_sum(terms, 0))
        acc: npt.NDArray[F] = x[..., 0, :, None] * d[..., 0, None, :]
        for n in range(1, x.shape[-2]):
            acc = acc + x[..., n, :, None] * d[..., n, None, :]
        return acc

    def sum_rows(self, d: npt.NDArray[F]) -> npt.NDArray[F]:
        if d.shape[0] >= MEMBER_LAST:
            return _member_first(_ordered_sum(_member_last(d), 0))[:, None, :]  # (N, out, K) summed over N
        acc: npt.NDArray[F] = d[..., 0:1, :].copy()
        for n in range(1, d.shape[-2]):
            acc = acc + d[..., n : n + 1, :]
        return acc


    # -- planned steps: the same products and sums in the same order, into buffers
    def ops_matmul(self, x: npt.NDArray[F], w: npt.NDArray[F], out: npt.NDArray[F]) -> list[Op]:
        if w.shape[0] >= MEMBER_LAST:  # one term at a time, each over (N, out, K): a small working set
            xl, wl = _member_last_memory(x), _member_last_memory(w)
            return self._loop_ops([(xl[:, j, None, :], wl[None, j]) for j in range(xl.shape[1])],
                                  _member_last_memory(out))
        return self._loop_ops([(x[..., :, j : j + 1], w[..., j : j + 1, :]) for j in range(x.shape[-1])], out)

    def ops_matmul_nt(self, d: npt.NDArray[F], w: npt.NDArray[F], out: npt.NDArray[F]) -> list[Op]:
        if w.shape[0] >= MEMBER_LAST:
            dl, wl = _member_last_memory(d), _member_last_memory(w)
            return self._loop_ops([(dl[:, j, None, :], wl[None, :, j]) for j in range(dl.shape[1])],
                                  _member_last_memory(out))
        wt = np.swapaxes(w, -1, -2)
        return self._loop_ops([(d[..., :, j : j + 1], wt[..., j : j + 1, :]) for j in range(d.shape[-1])], out)

    def ops_matmul_tn(self, x: npt.NDArray[F], d: npt.NDArray[F], out: npt.NDArray[F]) -> list[Op]:
        if d.shape[0] >= MEMBER_LAST:
            xl, dl = _member_last_memory(x), _member_last_memory(d)
            terms = np.empty(np.broadcast_shapes(xl[:, :, None].shape, dl[:, None, :].shape), dtype=out.dtype)
            return [partial(np.multiply, xl[:, :, None], dl[:, None, :], terms), _ordered_ops(terms, 0, out)]
        return self._loop_ops([(x[..., n, :, None], d[..., n, None, :]) for n in range(x.shape[-2])], out)

    def ops_sum_rows(self, d: npt.NDArray[F], out: npt.NDArray[F]) -> list[Op]:
        if d.shape[0] >= MEMBER_LAST:
            return [_ordered_ops(_member_last_memory(d), 0, out[:, 0, :])]
        ops: list[Op] = [partial(np.copyto, out, d[..., 0:1, :])]
        ops += [partial(np.add, out, d[..., n : n + 1, :], out) for n in range(1, d.shape[-2])]
        return ops

    @staticmethod
    def _loop_ops(pairs: list[tuple[npt.NDArray[F], npt.NDArray[F]]], out: npt.NDArray[F]) -> list[Op]:
        """``acc = a_0 b_0``, then ``acc = acc + a_j b_j``, into ``out``: the small-ensemble loops,
        and the ordered sum term by term (its ``-0 + a_0 b_0`` is ``a_0 b_0`` exactly)."""
        ops: list[Op] = [partial(np.multiply, *pairs[0], out)]
        if len(pairs) > 1:
            tmp = np.empty_like(out)
            for a, b in pairs[1:]:
                ops += [partial(np.multiply, a, b, tmp), partial(np.add, out, tmp, out)]
        return ops


class CompiledKernel(PortableKernel):
    """The portable kernel's products, on a network whose training runs are compiled.

    Each call here is :class:`PortableKernel`'s (a forward pass, a prediction, a step
    replayed for the guard); :func:`refnet.train.train` and :mod:`refnet.lab` hand a
    whole run of such a network to :mod:`refnet.compiled`, which computes the same
    operations in the same order: the same bits in the pinned environment.
    """

    name = "compiled"


KERNELS: Final[dict[str, PlannableKernel]] = {"blas": BlasKernel(), "portable": PortableKernel(),
                                               "compiled": CompiledKernel()}


def kernel(spec: KernelName | Kernel) -> Kernel:
    """Resolve a kernel name (``blas``, ``portable``, ``compiled``) or pass a Kernel through
    (``compiled`` without numba: :class:`refnet.compiled.CompiledUnavailableError`)."""
    if isinstance(spec, str):
        if spec == "compiled":
            from .compiled import require  # lazily: refnet.compiled imports the network

            require()
        try:
            return KERNELS[spec]
        except KeyError:
            raise ValueError(
                f"kernel: unknown name {spec!r}; choose one of {', '.join(KERNELS)}"
            ) from None
    return spec
