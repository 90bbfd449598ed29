"""The peer a refnet sweep must beat: a plain NumPy program that trains many
networks at once with the member axis innermost from start to end.

Written here, by us, as the benchmark's yardstick (not part of the library):
the lab's XOR network (2-4-4-1, ReLU hidden units, naive sigmoid output, BCE
with delta 1e-7 in the logs, float64, full batch), the lab's update order
(each layer updated inside the backward pass, the summed loss gradient), one
learning rate per network, the loss of every epoch kept. Products are
``np.einsum`` over arrays shaped ``(..., K)``; every other operation is
elementwise over the same layout, with buffers allocated once. Its bits are
einsum's, not refnet's: it is a speed reference, nothing more.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

DELTA = 1e-7


def run(x: Array, t: Array, epochs: int, lrs: Array, seed: int = 0) -> Array:
    """Train ``len(lrs)`` networks for ``epochs``; the ``(epochs, K)`` loss history."""
    k = lrs.shape[0]
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    w1, b1 = rng.standard_normal((2, 4, k)), rng.standard_normal((1, 4, k))
    w2, b2 = rng.standard_normal((4, 4, k)), rng.standard_normal((1, 4, k))
    w3 = rng.standard_normal((4, 1, k))
    xk = np.ascontiguousarray(np.broadcast_to(x[:, :, None], (n, 2, k)))
    tk = np.ascontiguousarray(np.broadcast_to(t[:, :, None], (n, 1, k)))
    one_minus_t = 1.0 - tk
    h1, h2 = np.empty((n, 4, k)), np.empty((n, 4, k))
    m1, m2 = np.empty((n, 4, k), dtype=bool), np.empty((n, 4, k), dtype=bool)
    z, y, a, b = (np.empty((n, 1, k)) for _ in range(4))
    d3, d2, d1 = np.empty((n, 1, k)), np.empty((n, 4, k)), np.empty((n, 4, k))
    gw1, gw2, gw3 = np.empty_like(w1), np.empty_like(w2), np.empty_like(w3)
    gb1, gb2 = np.empty_like(b1), np.empty_like(b2)
    history = np.empty((epochs, k))
    with np.errstate(all="ignore"):
        for e in range(epochs):
            np.einsum("nik,iok->nok", xk, w1, out=h1)
            h1 += b1
            np.greater(h1, 0.0, out=m1)
            h1 *= m1
            np.einsum("nik,iok->nok", h1, w2, out=h2)
            h2 += b2
            np.greater(h2, 0.0, out=m2)
            h2 *= m2
            np.einsum("nik,iok->nok", h2, w3, out=z)
            np.negative(z, out=y)
            np.exp(y, out=y)
            y += 1.0
            np.divide(1.0, y, out=y)
            np.add(y, DELTA, out=a)
            np.subtract(1.0 + DELTA, y, out=b)
            history[e] = -(np.einsum("nok,nok->k", tk, np.log(a))
                           + np.einsum("nok,nok->k", one_minus_t, np.log(b))) / n
            np.divide(tk, a, out=d3)
            np.divide(one_minus_t, b, out=a)
            np.subtract(a, d3, out=d3)
            d3 *= y * (1.0 - y)
            np.einsum("nik,nok->iok", h2, d3, out=gw3)
            w3 -= lrs * gw3
            np.einsum("nok,iok->nik", d3, w3, out=d2)
            d2 *= m2
            np.einsum("nik,nok->iok", h1, d2, out=gw2)
            np.sum(d2, axis=0, keepdims=True, out=gb2)
            w2 -= lrs * gw2
            b2 -= lrs * gb2
            np.einsum("nok,iok->nik", d2, w2, out=d1)
            d1 *= m1
            np.einsum("nik,nok->iok", xk, d1, out=gw1)
            np.sum(d1, axis=0, keepdims=True, out=gb1)
            w1 -= lrs * gw1
            b1 -= lrs * gb1
    return history
