"""Mistake: the ReLU backward zeroes the gradient where x > 0 instead of where x <= 0."""

from lab_correct import Net, ReLU


class WrongReLU(ReLU):
    def backward(self, prev_grad, lr=0.1):
        grad = prev_grad.copy()
        grad[~self.mask] = 0.0
        return grad


class Net(Net):
    activation = WrongReLU
    act_name = "relu"
