"""Mistake: the bias gradient is prev_grad itself, not summed over the batch."""

from lab_correct import Linear, Net


class WrongLinear(Linear):
    def backward(self, prev_grad, lr=0.1):
        self.w -= lr * (self.x.T @ prev_grad)
        if self.has_bias:
            self.b = self.b - lr * prev_grad
        return prev_grad @ self.w.T


class Net(Net):
    linear = WrongLinear
