"""Mistake: the sigmoid derivative taken as y (1 + y) instead of y (1 - y)."""

from lab_correct import Net, Sigmoid


class WrongSigmoid(Sigmoid):
    def backward(self, prev_grad, lr=0.1):
        return prev_grad * self.y * (1.0 + self.y)


class Net(Net):
    activation = WrongSigmoid
