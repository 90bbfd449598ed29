"""Hazard, not a mistake: the ReLU backward zeroes entries of the prev_grad array it was given
and returns that array (the lab's own ReLU does this). The numbers are right, so every check
passes and the report names the hazard."""

from lab_correct import Net, ReLU


class MutatingReLU(ReLU):
    def backward(self, prev_grad, lr=0.1):
        grad = prev_grad
        grad[self.mask] = 0.0
        return grad


class Net(Net):
    activation = MutatingReLU
    act_name = "relu"
