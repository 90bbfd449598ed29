"""Mistake: the ReLU forward zeroes the negative entries of its input array in place."""

from lab_correct import Net, ReLU


class MutatingReLU(ReLU):
    def forward(self, x):
        self.mask = x <= 0
        x[self.mask] = 0.0
        return x


class Net(Net):
    activation = MutatingReLU
    act_name = "relu"
