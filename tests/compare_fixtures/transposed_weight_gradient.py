"""Mistake: the weight gradient computed as prev_grad^T x, reshaped to fit w."""

from lab_correct import Linear, Net


class WrongLinear(Linear):
    def backward(self, prev_grad, lr=0.1):
        dw = (prev_grad.T @ self.x).reshape(self.w.shape)
        self.w -= lr * dw
        if self.has_bias:
            self.b -= lr * prev_grad.sum(axis=0, keepdims=True)
        return prev_grad @ self.w.T


class Net(Net):
    linear = WrongLinear
