"""A hand-written NumPy MLP, the way one is usually written: the benchmarks' second yardstick.

Written here, by us (not part of the library, not the lab's structure): one network, the
parameters four or six plain arrays, one function that trains. Each epoch is one forward
pass over the full batch (``x @ W + b`` and the activation), the loss, the gradients of all
parameters from the old weights, then one update of every parameter; the loss of every epoch
is kept. No layer objects, no dictionaries, no caches: about 50 NumPy operations an epoch
(sigmoid + MSE: 18 forward, 8 for the loss and its gradient, 8 backward, 18 for the six updates;
the issue's own hand-written program was described as about 25 calls).

Its arithmetic is its own (the mean loss and the gradient of the mean, the textbook forms
``dz = y - t`` for a sigmoid output with binary cross-entropy and ``2 (y - t) / n * y (1 - y)``
for the squared error), so its bits are nobody's reference: it measures what plain NumPy
costs per epoch for the 2-4-4-1 network, nothing more.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def run(x: Array, t: Array, epochs: int, *, lr: float, activation: str = "sigmoid", loss: str = "mse",
        hidden: tuple[int, int] = (4, 4), seed: int = 0) -> Array:
    """Train a ``2-h1-h2-1`` network (``activation`` ``sigmoid`` or ``relu`` in the hidden layers,
    a sigmoid output, ``loss`` ``mse`` or ``bce``) for ``epochs`` full-batch epochs; the losses."""
    if activation not in ("sigmoid", "relu"):
        raise ValueError(f"activation: expected 'sigmoid' or 'relu', got {activation!r}")
    if loss not in ("mse", "bce"):
        raise ValueError(f"loss: expected 'mse' or 'bce', got {loss!r}")
    rng = np.random.default_rng(seed)
    h1, h2 = hidden
    w1, b1 = rng.standard_normal((x.shape[1], h1)), np.zeros(h1)
    w2, b2 = rng.standard_normal((h1, h2)), np.zeros(h2)
    w3, b3 = rng.standard_normal((h2, 1)), np.zeros(1)
    n = x.shape[0]
    relu = activation == "relu"
    history = np.empty(epochs)
    with np.errstate(all="ignore"):
        for e in range(epochs):
            z1 = x @ w1 + b1
            a1 = np.maximum(z1, 0.0) if relu else 1.0 / (1.0 + np.exp(-z1))
            z2 = a1 @ w2 + b2
            a2 = np.maximum(z2, 0.0) if relu else 1.0 / (1.0 + np.exp(-z2))
            y = 1.0 / (1.0 + np.exp(-(a2 @ w3 + b3)))
            if loss == "bce":
                history[e] = -np.mean(t * np.log(y + 1e-12) + (1.0 - t) * np.log(1.0 - y + 1e-12))
                dz3 = (y - t) / n
            else:
                diff = y - t
                history[e] = np.mean(diff * diff)
                dz3 = 2.0 * diff / n * y * (1.0 - y)
            da2 = dz3 @ w3.T
            dz2 = da2 * (z2 > 0) if relu else da2 * a2 * (1.0 - a2)
            da1 = dz2 @ w2.T
            dz1 = da1 * (z1 > 0) if relu else da1 * a1 * (1.0 - a1)
            w3 -= lr * (a2.T @ dz3)
            b3 -= lr * dz3.sum(axis=0)
            w2 -= lr * (a1.T @ dz2)
            b2 -= lr * dz2.sum(axis=0)
            w1 -= lr * (x.T @ dz1)
            b1 -= lr * dz1.sum(axis=0)
    return history
