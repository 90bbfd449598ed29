"""Mistake behind a hazard: the ReLU backward keeps a copy of prev_grad, zeroes the masked
entries of prev_grad itself in place, and returns the unmasked copy. The in-place write is
named as a hazard; the wrong numbers fail check 1."""

from lab_correct import Net, ReLU


class CopyThenMaskReLU(ReLU):
    def backward(self, prev_grad, lr=0.1):
        kept = prev_grad.copy()
        prev_grad[self.mask] = 0.0
        return kept


class Net(Net):
    activation = CopyThenMaskReLU
    act_name = "relu"
