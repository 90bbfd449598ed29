"""Mistake when the mean's gradient was meant: the BCE derivative is not divided by N.

The numbers are those of the summed-gradient convention, which is legitimate, so
the tool names it and passes unless ``--gradient mean`` states the intent."""

from lab_correct import BCE, ReluBceNet


class WrongBCE(BCE):
    def backward(self):
        d = self.delta
        return -(self.t / (self.y + d) - (1.0 - self.t) / (1.0 - self.y + d))


class Net(ReluBceNet):
    loss = WrongBCE
