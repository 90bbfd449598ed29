"""A correct lab-structured network: summed loss gradient, update inside backward.

Written for the refnet tests in the lab's structure (an OrderedDict of layers,
``backward(prev_grad, lr)`` updating the weights, MSE as the loss), in the lab's
order: each Linear layer updates ``w`` and ``b`` and then sends the gradient down
through the updated weights. The mistake fixtures subclass these classes and
change one method each.
"""

from collections import OrderedDict

import numpy as np


class Linear:
    def __init__(self, n_in, n_out, bias=True, rng=None):
        rng = np.random.default_rng(0) if rng is None else rng
        self.w = rng.standard_normal((n_in, n_out))
        self.has_bias = bias
        if bias:
            self.b = rng.standard_normal((1, n_out))
        self.x = None

    def forward(self, x):
        self.x = x
        out = x @ self.w
        if self.has_bias:
            out = out + self.b
        return out

    def backward(self, prev_grad, lr=0.1):
        dw = self.x.T @ prev_grad
        self.w -= lr * dw
        if self.has_bias:
            db = prev_grad.sum(axis=0, keepdims=True)
            self.b -= lr * db
        return prev_grad @ self.w.T


class Sigmoid:
    def __init__(self):
        self.y = None

    def forward(self, x):
        self.y = 1.0 / (1.0 + np.exp(-x))
        return self.y

    def backward(self, prev_grad, lr=0.1):
        return prev_grad * self.y * (1.0 - self.y)


class ReLU:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0.0
        return out

    def backward(self, prev_grad, lr=0.1):
        grad = prev_grad.copy()
        grad[self.mask] = 0.0
        return grad


class MSE:
    """mean((y - t)^2); backward returns the gradient of the sum, 2 (y - t) (the lab's)."""

    def forward(self, y, ground_truth):
        self.y, self.t = y, ground_truth
        return np.mean((y - ground_truth) ** 2)

    def backward(self):
        return 2.0 * (self.y - self.t)


class BCE:
    """Mean binary cross-entropy with delta 1e-7; backward returns the mean's gradient."""

    delta = 1e-7

    def forward(self, y, ground_truth):
        self.y, self.t = y, ground_truth
        d = self.delta
        return -np.mean(ground_truth * np.log(y + d) + (1.0 - ground_truth) * np.log(1.0 - y + d))

    def backward(self):
        d = self.delta
        n = self.y.shape[0]
        return -(self.t / (self.y + d) - (1.0 - self.t) / (1.0 - self.y + d)) / n


class Net:
    """2-4-4-1, sigmoid activations, no bias on the output layer, MSE."""

    linear = Linear
    activation = Sigmoid
    act_name = "sigmoid"
    loss = MSE

    def __init__(self):
        rng = np.random.default_rng(0)
        act, name = self.activation, self.act_name
        self.layers = OrderedDict()
        self.layers["linear_1"] = self.linear(2, 4, bias=True, rng=rng)
        self.layers[f"{name}_1"] = act()
        self.layers["linear_2"] = self.linear(4, 4, bias=True, rng=rng)
        self.layers[f"{name}_2"] = act()
        self.layers["output"] = self.linear(4, 1, bias=False, rng=rng)
        self.layers["sigmoid_3"] = Sigmoid()
        self.loss_func = self.loss()

    def forward(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def cal_loss(self, y, ground_truth):
        return self.loss_func.forward(y, ground_truth)

    def backward(self, lr=0.1):
        grad = self.loss_func.backward()
        for layer in reversed(list(self.layers.values())):
            grad = layer.backward(grad, lr=lr)


class ReluBceNet(Net):
    """ReLU hidden layers, sigmoid output, binary cross-entropy (mean gradient)."""

    activation = ReLU
    act_name = "relu"
    loss = BCE
