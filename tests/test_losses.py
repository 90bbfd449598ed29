"""Losses: values and derivatives by hand, reductions, stability of the logits form."""

from __future__ import annotations

import numpy as np
import pytest

from refnet.losses import BCE, MSE, BCEWithLogits, make_loss
from tests.tolerances import DTYPES, ulp_tol


def _col(*v: float, dtype: str = "float64") -> np.ndarray:
    return np.array(v, dtype=dtype).reshape(1, -1, 1)


def test_mse_by_hand() -> None:
    # y = (0.5, 1), t = (0, 1): terms (0.25, 0), mean 0.125, sum 0.25;
    # derivative 2 (y - t) = (1, 0), divided by N = 2 for the mean.
    y, t = _col(0.5, 1.0), _col(0.0, 1.0)
    assert MSE().value(y, t)[0] == 0.125
    assert MSE("sum").value(y, t)[0] == 0.25
    assert np.array_equal(MSE().grad(y, t), _col(0.5, 0.0))
    assert np.array_equal(MSE("sum").grad(y, t), _col(1.0, 0.0))
    assert np.array_equal(MSE().term_grad(y, t), _col(1.0, 0.0))


def test_bce_by_hand_with_delta() -> None:
    # t = 1, y = 0.5: term -log(0.5 + delta); derivative -1 / (0.5 + delta).
    delta = 1e-7
    y, t = _col(0.5), _col(1.0)
    assert BCE().value(y, t)[0] == -np.log(0.5 + delta)
    assert BCE().grad(y, t)[0, 0, 0] == -(1.0 / (0.5 + delta))
    # t = 0, y = 1 (saturated, wrong): finite thanks to delta, = -log(delta)
    assert BCE().value(_col(1.0), _col(0.0))[0] == -np.log(delta)


def test_bce_without_delta_is_infinite_when_saturated_but_silent_under_errstate() -> None:
    with np.errstate(divide="ignore"):
        assert BCE(delta=0.0).value(_col(1.0), _col(0.0))[0] == np.inf


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_logits_matches_bce_of_sigmoid(dtype: str) -> None:
    z = np.linspace(-8, 8, 33).astype(dtype).reshape(1, -1, 1)
    t = (np.arange(33) % 2).astype(dtype).reshape(1, -1, 1)
    p = BCEWithLogits().link(z)
    # Reference in a wider type from the same (exactly widened) logits: the terms are
    # positive, each within a few ulps, and their mean adds about log2(33) roundings.
    wide = np.float64 if dtype == "float32" else np.longdouble
    ref = BCE(delta=0.0).value(BCEWithLogits().link(z.astype(wide)), t.astype(wide))
    got = BCEWithLogits().value(z, t)
    assert got.dtype == np.dtype(dtype)
    assert abs(float(got[0]) - float(ref[0])) <= ulp_tol(dtype, 8.0) * float(ref[0])
    np.testing.assert_allclose(BCEWithLogits().term_grad(z, t), p - t, rtol=0, atol=ulp_tol(dtype, 2.0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_logits_is_finite_for_extreme_logits(dtype: str) -> None:
    big = 3e38 if dtype == "float32" else 1e308
    z = np.array([-big, -1e9, 1e9, big], dtype=dtype).reshape(1, -1, 1)
    t = np.array([0.0, 1.0, 0.0, 1.0], dtype=dtype).reshape(1, -1, 1)
    terms = BCEWithLogits().terms(z, t)
    assert np.all(np.isfinite(terms))
    # correct class at huge confidence costs 0; wrong class costs |z|
    assert terms[0, 0, 0] == 0 and terms[0, 3, 0] == 0
    assert terms[0, 1, 0] == np.float32(1e9) if dtype == "float32" else terms[0, 1, 0] == 1e9


@pytest.mark.parametrize("name", ["mse", "bce", "bce-logits"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_losses_keep_dtype_and_do_not_mutate(name: str, dtype: str) -> None:
    loss = make_loss(name)
    y = np.array([[[0.2], [0.7]]], dtype=dtype)
    t = np.array([[[0.0], [1.0]]], dtype=dtype)
    y0, t0 = y.copy(), t.copy()
    for out in (loss.terms(y, t), loss.value(y, t), loss.grad(y, t), loss.link(y)):
        assert out.dtype == np.dtype(dtype)
    assert np.array_equal(y, y0) and np.array_equal(t, t0)


def test_bad_loss_arguments() -> None:
    with pytest.raises(ValueError, match="loss"):
        make_loss("hinge")
    with pytest.raises(ValueError, match="reduction"):
        MSE("avg")
    with pytest.raises(ValueError, match="delta"):
        BCE(delta=-1.0)


def test_the_losses_say_what_they_are() -> None:
    from refnet.losses import BCE, MSE, BCEWithLogits
    assert repr(MSE("sum")) == "MSE(reduction='sum')"
    assert repr(BCEWithLogits()) == "BCEWithLogits(reduction='mean')"
    assert repr(BCE("sum", 0.5)) == "BCE(reduction='sum', delta=0.5)"
