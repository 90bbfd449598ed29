"""A correct network in the textbook convention: mean loss gradient, and each Linear
layer sends the gradient down through its old weights before updating them."""

import numpy as np

from lab_correct import MSE, Linear, Net


class MeanMSE(MSE):
    def backward(self):
        return 2.0 * (self.y - self.t) / self.y.size


class UpdateAfterLinear(Linear):
    def backward(self, prev_grad, lr=0.1):
        dx = prev_grad @ self.w.T          # through the weights the forward pass used
        self.w -= lr * (self.x.T @ prev_grad)
        if self.has_bias:
            self.b -= lr * prev_grad.sum(axis=0, keepdims=True)
        return dx


class Net(Net):
    linear = UpdateAfterLinear
    loss = MeanMSE


_ = np
