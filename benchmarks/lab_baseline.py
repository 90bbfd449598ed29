"""The lab's own program structure, rewritten by us as the benchmark baseline.

One network at a time: an ``OrderedDict`` of layer objects, each ``Linear``
updating its own weights inside ``backward`` (``w -= lr * dw``) before it
returns the gradient for the layer below, ReLU or sigmoid hidden units, a
(naive) sigmoid output, and binary cross-entropy with ``delta = 1e-7`` in the
logs or the squared error, float64, the loss recorded every epoch, over the
full batch or consecutive mini-batches. This is what refnet's speed is
measured against (see ``benchmarks/speed.py``); it is not part of the library.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

DELTA = 1e-7


class Linear:
    """``y = x w (+ b)``; ``backward`` updates ``w`` and ``b`` in place, then
    returns the input gradient through the updated weights (the lab's order)."""

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator, bias: bool = True) -> None:
        self.w: Array = rng.standard_normal((n_in, n_out))
        self.has_bias = bias
        self.b: Array = rng.standard_normal((1, n_out)) if bias else np.zeros((1, n_out))
        self.x: Array = np.zeros((0, n_in))

    def forward(self, x: Array) -> Array:
        self.x = x
        if self.has_bias:
            out: Array = np.dot(x, self.w) + self.b
            return out
        out = np.dot(x, self.w)
        return out

    def backward(self, grad: Array, lr: float) -> Array:
        dw = np.dot(self.x.T, grad)
        self.w -= lr * dw
        if self.has_bias:
            db = np.sum(grad, axis=0)
            self.b -= lr * db
        out: Array = np.dot(grad, self.w.T)
        return out


class ReLU:
    """Zeroes non-positive inputs; its backward masks the incoming gradient in place."""

    def __init__(self) -> None:
        self.mask: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)

    def forward(self, x: Array) -> Array:
        self.mask = x <= 0
        y = x.copy()
        y[self.mask] = 0
        return y

    def backward(self, grad: Array, lr: float) -> Array:
        grad[self.mask] = 0
        return grad


class Sigmoid:
    """``1 / (1 + exp(-x))`` (the naive form, as in the lab); caches its output."""

    def __init__(self) -> None:
        self.y: Array = np.zeros(0)

    def forward(self, x: Array) -> Array:
        self.y = 1.0 / (1.0 + np.exp(-x))
        return self.y

    def backward(self, grad: Array, lr: float) -> Array:
        out: Array = grad * np.multiply(1.0 - self.y, self.y)
        return out


class _Loss:
    """What both losses keep: the last prediction and target, and whether the gradient is of the mean."""

    def __init__(self, mean: bool = False) -> None:
        self.y: Array = np.zeros(0)
        self.t: Array = np.zeros(0)
        self.mean = mean

    def _reduced(self, grad: Array) -> Array:
        return grad / self.y.size if self.mean else grad


class BinaryCrossEntropy(_Loss):
    """Mean BCE for the value; the backward is the gradient of the *sum* (no 1/N),
    or of the mean with ``mean=True``."""

    def forward(self, y: Array, t: Array) -> float:
        self.y, self.t = y, t
        n = y.shape[0]
        total = np.sum(t * np.log(y + DELTA) + (1 - t) * np.log(1 - y + DELTA))
        return float(-total / n)

    def backward(self) -> Array:
        return self._reduced(-(np.divide(self.t, self.y + DELTA) - np.divide(1 - self.t, 1 - self.y + DELTA)))


class MeanSquaredError(_Loss):
    """``mean((y - t)**2)``; the backward is ``2 (y - t)``, of the sum or (``mean=True``) the mean."""

    def forward(self, y: Array, t: Array) -> float:
        self.y, self.t = y, t
        return float(np.mean((y - t) ** 2))

    def backward(self) -> Array:
        return self._reduced(2 * (self.y - self.t))


class LabNet:
    """The lab's 2-4-4-1 network (ReLU or sigmoid hidden layers, a bias-free output)."""

    def __init__(self, seed: int = 0, activation: str = "relu", loss: str = "bce", mean: bool = False) -> None:
        rng = np.random.default_rng(seed)
        hidden = ReLU if activation == "relu" else Sigmoid
        self.layers: OrderedDict[str, Linear | ReLU | Sigmoid] = OrderedDict()
        self.layers["linear_1"] = Linear(2, 4, rng, bias=True)
        self.layers[f"{activation}_1"] = hidden()
        self.layers["linear_2"] = Linear(4, 4, rng, bias=True)
        self.layers[f"{activation}_2"] = hidden()
        self.layers["output"] = Linear(4, 1, rng, bias=False)
        self.layers["sigmoid_3"] = Sigmoid()
        self.loss_func: BinaryCrossEntropy | MeanSquaredError = (
            BinaryCrossEntropy(mean) if loss == "bce" else MeanSquaredError(mean))

    def forward(self, x: Array) -> Array:
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def backward(self, lr: float) -> None:
        dy = self.loss_func.backward()
        for layer in reversed(list(self.layers.values())):
            dy = layer.backward(dy, lr)


def run(x: Array, y: Array, epochs: int, lr: float = 0.001, seed: int = 0, *, activation: str = "relu",
        loss: str = "bce", mean: bool = False, batch_size: int | None = None) -> list[float]:
    """Train one network for ``epochs`` (full batch, or consecutive mini-batches of ``batch_size``);
    the loss of every epoch (the batch losses weighted by batch size)."""
    net = LabNet(seed, activation, loss, mean)
    n = x.shape[0]
    size = n if batch_size is None else batch_size
    batches = [(x[s : s + size], y[s : s + size]) for s in range(0, n, size)]
    losses: list[float] = []
    with np.errstate(all="ignore"):
        for _ in range(epochs):
            total = 0.0
            for xb, yb in batches:
                pred = net.forward(xb)
                total += net.loss_func.forward(pred, yb) * xb.shape[0] / n
                net.backward(lr)
            losses.append(total)
    return losses
