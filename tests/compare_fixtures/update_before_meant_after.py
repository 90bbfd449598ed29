"""Mistake when the textbook order was meant: w is updated before the gradient is sent
down, so the layer below gets prev_grad @ w_new^T.

The code is the lab's order, which is legitimate, so the tool names it and passes
unless ``--update after`` states the intent."""

from textbook_correct import MeanMSE
from lab_correct import Net


class Net(Net):
    loss = MeanMSE
