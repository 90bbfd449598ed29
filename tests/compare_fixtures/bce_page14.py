"""The lab's page-14 BCE (commit 80a9728), written for the refnet tests from shared/LAB_SOURCE.md.

Not a mistake: the loss is reported as the batch mean in bits, ``-sum(...) / B``, and
its gradient is ``(y - t) / (y (1 - y) B)``: the mean's, in nats, without the ``delta``
that forward puts in the logs. With the lab's other conventions (sigmoid hidden layers,
naive sigmoid, update inside backward) ``verify.compare`` runs refnet under
``convention="lab-page14"`` (``refnet.conventions.Published(bce="page14")``).
``NatsNet`` reports the same loss in nats: no convention has that, and the missing
``delta`` is a failure.
"""

import numpy as np

from lab_published import DELTA, SigmoidMse


class CrossEntropyPage14:
    def forward(self, y, ground_truth):
        self.y, self.t = y, ground_truth
        per_point = ground_truth * np.log2(y + DELTA) + (1 - ground_truth) * np.log2(1 - y + DELTA)
        return -np.sum(per_point) / y.shape[0]

    def backward(self):
        y, t = self.y, self.t
        return (y - t) / ((y * (1 - y)) * y.shape[0])


class CrossEntropyPage14Nats(CrossEntropyPage14):
    def forward(self, y, ground_truth):
        self.y, self.t = y, ground_truth
        per_point = ground_truth * np.log(y + DELTA) + (1 - ground_truth) * np.log(1 - y + DELTA)
        return -np.sum(per_point) / y.shape[0]


class Net(SigmoidMse):
    loss = CrossEntropyPage14


class NatsNet(SigmoidMse):
    loss = CrossEntropyPage14Nats
