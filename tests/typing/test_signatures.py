"""Pins the public signatures: checked by ``mypy --strict`` (tox env ``type``), and run by pytest."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from typing_extensions import assert_type

from refnet import History, Network, Precision, mlp, precision, sigmoid, train, xor_easy
from refnet.outcomes import Readout, judge
from refnet.precision import FloatArray
from refnet.train import prepare_data


def test_public_signatures() -> None:
    x, y = xor_easy()
    assert_type(x, npt.NDArray[np.float64])
    p = precision("float32")
    assert_type(p, Precision)
    net = mlp(dtype=p, seed=0)
    assert_type(net, Network)
    h = train(net, x, y, lr=0.1, epochs=2)
    assert_type(h, History)
    assert_type(h.loss, FloatArray)
    assert_type(h.accuracy, npt.NDArray[np.float64])
    assert_type(sigmoid(h.loss), FloatArray)
    xa, ya = prepare_data(net, x, y)
    readouts = judge(net, xa, ya, h.loss)
    assert_type(readouts, list[Readout])
    assert h.loss.dtype == np.float32 and readouts[0].outcome in ("converged", "diverged", "stalled")
