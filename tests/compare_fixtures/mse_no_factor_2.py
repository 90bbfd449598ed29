"""Mistake: the MSE derivative without the factor 2."""

from lab_correct import MSE, Net


class WrongMSE(MSE):
    def backward(self):
        return self.y - self.t


class Net(Net):
    loss = WrongMSE
