"""Pins the public signatures: checked by ``mypy --strict`` (tox env ``type``), and run by pytest."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from typing_extensions import assert_type

from refnet import History, Network, mlp, train
from refnet.data import xor_easy
from refnet.layers import sigmoid
from refnet.precision import Precision, precision
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


def test_misspelled_choices_are_type_errors_and_value_errors() -> None:
    """Each call below is an ``arg-type`` error for mypy --strict: ``warn_unused_ignores``
    (part of strict) fails the type check if any of these ignores stops being needed.
    At run time the same calls raise a ValueError naming the argument."""
    import pytest

    x, y = xor_easy()
    net = mlp(seed=0)
    with pytest.raises(ValueError, match="^convention"):
        train(net, x, y, lr=0.1, epochs=1, convention="lba")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^guard|^mode"):
        train(net, x, y, lr=0.1, epochs=1, guard="rase")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^activation"):
        mlp(activation="sigmod")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^loss"):
        mlp(loss="mse2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^init"):
        mlp(init="glorot")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^dtype"):
        mlp(dtype="float16")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^kernel"):
        mlp(kernel="mkl")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^sigmoid"):
        mlp(sigmoid="fast")  # type: ignore[arg-type]
