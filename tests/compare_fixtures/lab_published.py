"""The lab's published arithmetic, written for the refnet tests from shared/LAB_SOURCE.md section 1.

Our own code in the lab's structure (an ``OrderedDict`` of layers, Linear layers
holding ``w``, ``b`` and ``has_bias`` and updating inside ``backward``, a
``loss_func`` with ``forward``/``backward``, a network class built without
arguments), not the lab's. The facts it follows:

* Linear: ``x @ w + b`` (``x @ w`` without bias); every Linear holds a ``b`` of shape
  ``(out,)``, drawn even when unused; backward computes ``dw = x^T g``, updates ``w``,
  then ``b`` by the column sums of ``g``, and returns ``g @ w^T`` through the updated ``w``;
* sigmoid: the naive ``1 / (1 + exp(-x))``, backward ``g * ((1 - y) * y)``;
* ReLU: mask ``x <= 0``; backward zeroes the masked entries of the incoming gradient
  **in place** and returns that array (a hazard ``verify.compare`` names, not a mistake here);
* MSE: reported ``mean((y - t)^2)``, gradient ``(2 / B) (y - t)`` (of the mean);
* BCE, ``delta = 1e-7``: reported as the batch mean **in bits**, gradient
  ``-(t / (y + delta) - (1 - t) / (1 - y + delta))`` (of the sum, in nats);
* weights from a ``RandomState``: ``randn(in, out)`` then ``randn(out)`` per Linear.
"""

from collections import OrderedDict

import numpy as np

DELTA = 1e-7


class Dense:
    def __init__(self, rs, fan_in, fan_out, has_bias):
        self.w = rs.randn(fan_in, fan_out)
        self.b = rs.randn(fan_out)
        self.has_bias = has_bias
        self.x = None

    def forward(self, x):
        self.x = x
        z = x @ self.w
        return z + self.b if self.has_bias else z

    def backward(self, prev_grad, lr=0.1):
        self.w -= lr * (self.x.T @ prev_grad)
        if self.has_bias:
            self.b -= lr * prev_grad.sum(axis=0)
        return prev_grad @ self.w.T


class Logistic:
    def forward(self, x):
        self.y = 1.0 / (1.0 + np.exp(-x))
        return self.y

    def backward(self, prev_grad, lr=0.1):
        return prev_grad * ((1.0 - self.y) * self.y)


class Rectifier:
    def forward(self, x):
        self.off = x <= 0
        out = np.array(x, copy=True)
        out[self.off] = 0.0
        return out

    def backward(self, prev_grad, lr=0.1):
        prev_grad[self.off] = 0.0      # in place, as the lab's code does
        return prev_grad


class SquaredError:
    def forward(self, y, ground_truth):
        self.y, self.t = y, ground_truth
        return np.mean((y - ground_truth) ** 2)

    def backward(self):
        return (2 / self.y.shape[0]) * (self.y - self.t)


class CrossEntropyBits:
    def forward(self, y, ground_truth):
        self.y, self.t = y, ground_truth
        per_point = ground_truth * np.log2(y + DELTA) + (1 - ground_truth) * np.log2(1 - y + DELTA)
        return (-1 / y.shape[0]) * np.sum(per_point)

    def backward(self):
        y, t = self.y, self.t
        return -(t / (y + DELTA) - (1 - t) / (1 - y + DELTA))


class PublishedNet:
    """2-4-4-1, the hidden activation and the loss chosen by the subclass."""

    hidden = Logistic
    loss = SquaredError
    seed = 0

    def __init__(self):
        rs = np.random.RandomState(self.seed)
        act = self.hidden.__name__.lower()
        self.layers = OrderedDict()
        self.layers["linear_1"] = Dense(rs, 2, 4, True)
        self.layers[f"{act}_1"] = self.hidden()
        self.layers["linear_2"] = Dense(rs, 4, 4, True)
        self.layers[f"{act}_2"] = self.hidden()
        self.layers["output"] = Dense(rs, 4, 1, False)
        self.layers["out_sigmoid"] = Logistic()
        self.loss_func = self.loss()

    def forward(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def cal_loss(self, y, ground_truth):
        return self.loss_func.forward(y, ground_truth)

    def backward(self, lr=0.05):
        grad = self.loss_func.backward()
        for layer in reversed(self.layers.values()):
            grad = layer.backward(grad, lr=lr)


class SigmoidMse(PublishedNet):
    """The lab's first configuration: sigmoid hidden layers, MSE."""


class ReluBce(PublishedNet):
    """The lab's ReLU + BCE configuration (run at lr 0.001490625)."""

    hidden = Rectifier
    loss = CrossEntropyBits
