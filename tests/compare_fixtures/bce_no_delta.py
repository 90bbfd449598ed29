"""Mistake: the BCE derivative leaves out the delta that forward puts in the logs."""

from lab_correct import BCE, ReluBceNet


class WrongBCE(BCE):
    def backward(self):
        n = self.y.shape[0]
        return -(self.t / self.y - (1.0 - self.t) / (1.0 - self.y)) / n


class Net(ReluBceNet):
    loss = WrongBCE
