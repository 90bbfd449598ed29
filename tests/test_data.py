"""The lab course's data sets and the accuracy rule."""

from __future__ import annotations

import numpy as np
import pytest

from refnet.data import linear, xor_easy
from refnet.metrics import accuracy, classify


def test_xor_easy_has_21_points_with_the_lab_layout() -> None:
    x, y = xor_easy()
    assert x.shape == (21, 2) and y.shape == (21, 1)
    diagonal = x[y[:, 0] == 0]
    anti = x[y[:, 0] == 1]
    assert len(diagonal) == 11 and len(anti) == 10
    assert np.allclose(diagonal[:, 0], diagonal[:, 1])
    assert np.allclose(anti[:, 0] + anti[:, 1], 1.0)
    assert not np.any(np.isclose(anti[:, 0], 0.5))


def test_linear_labels_and_determinism() -> None:
    x, y = linear(100, np.random.default_rng(7))
    assert x.shape == (100, 2) and np.all((x >= 0) & (x <= 1))
    assert np.array_equal(y[:, 0], (x[:, 0] <= x[:, 1]).astype(float))
    x2, _ = linear(100, np.random.default_rng(7))
    assert np.array_equal(x, x2)
    with pytest.raises(ValueError, match="n"):
        linear(0)


def test_accuracy_treats_exactly_half_and_nan_as_wrong() -> None:
    p = np.array([[[0.9], [0.1], [0.5], [np.nan]]])
    t = np.array([[1.0], [0.0], [1.0], [0.0]])
    assert accuracy(p, t)[0] == 50.0
    assert np.isnan(classify(p)[0, 2, 0]) and np.isnan(classify(p)[0, 3, 0])


@pytest.mark.parametrize("p,exc", [([0.7, "a"], TypeError), (np.array([True]), TypeError), (np.array([1j]), TypeError),
                                   (None, TypeError)])
def test_classify_names_p(p: object, exc: type[Exception]) -> None:
    # found by tests/test_entry_points.py: "can't multiply sequence", a ufunc's loop error, a comparison with None
    with pytest.raises(exc, match=r"^p: "):
        classify(p)  # type: ignore[arg-type]
