"""Mistake: the ReLU backward zeroes entries of the prev_grad array it was given."""

from lab_correct import Net, ReLU


class MutatingReLU(ReLU):
    def backward(self, prev_grad, lr=0.1):
        grad = prev_grad
        grad[self.mask] = 0.0
        return grad


class Net(Net):
    activation = MutatingReLU
    act_name = "relu"
