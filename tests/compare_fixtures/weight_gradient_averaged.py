"""Mistake: the weight gradient divided by the batch size (x^T prev_grad / N) where the loss gradient
already carries the scale: the sum over the batch is needed."""

from lab_correct import Linear, Net


class Averaging(Linear):
    def backward(self, prev_grad, lr=0.1):
        n = self.x.shape[0]
        self.w -= lr * (self.x.T @ prev_grad) / n
        if self.has_bias:
            self.b -= lr * prev_grad.sum(axis=0, keepdims=True)
        return prev_grad @ self.w.T


class Net(Net):
    linear = Averaging
