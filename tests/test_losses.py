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


# ------------------------------------------------- the error models gradcheck uses (units of eps)
_LOSSES_BOTH_REDUCTIONS = [MSE("mean"), MSE("sum"), BCE("mean", delta=1e-3), BCE("sum"),
                           BCEWithLogits("mean"), BCEWithLogits("sum")]


@pytest.mark.parametrize("loss", _LOSSES_BOTH_REDUCTIONS, ids=repr)
def test_each_losses_curvature_is_the_second_derivative_of_its_value(loss: MSE | BCE | BCEWithLogits) -> None:
    """``curvature`` bounds the step's truncation error, so it must be |d²L/dy²| of the reduced loss:
    measured here as a central difference of the exact gradient (float64, h = 1e-5). The difference's
    own error is below 1e-8 relative (truncation h² |L'''| / 6 < 2e-6 against curvatures of 1 and
    more for BCE at y >= 0.05; rounding eps |L'| / h < 1e-9), so rtol 1e-6 leaves a wide margin and
    still sees any changed constant, power or sign in the formulas."""
    logits = isinstance(loss, BCEWithLogits)
    y = np.array([[[-3.0, 0.5], [0.0, 2.5], [1.25, -0.75]]]) if logits else \
        np.array([[[0.05, 0.5], [0.3, 0.95], [0.75, 0.125]]])
    t = np.array([[[0.0, 1.0], [1.0, 0.0], [0.1, 0.8]]])
    h = 1e-5
    measured = (loss.grad(y + h, t) - loss.grad(y - h, t)) / (2 * h)
    np.testing.assert_allclose(loss.curvature(y, t), np.abs(measured), rtol=1e-6, atol=0)
    # float32 inputs: the model is still evaluated in float64 (1 - 0.1f is not a float32)
    y32, t32 = y.astype(np.float32), t.astype(np.float32)
    assert np.array_equal(loss.curvature(y32, t32), loss.curvature(y32.astype(np.float64), t32.astype(np.float64)))


def test_the_losses_rounding_models_are_the_documented_bounds() -> None:
    """Each loss's first-order rounding bounds of one term and of the gradient (units of eps),
    written out from the models: MSE 3 (y - t)² and 4 |2 (y - t)|; BCE (a = y + delta,
    b = 1 - y + delta) 3 (|t| (|log a| + 1) + |1 - t| (|log b| + 1)) and 4 (|t / a| + |(1 - t) / b|);
    the logits form 3 (max(z, 0) + |z t| + log1p(exp(-|z|))) and 4 (sigmoid(z) + |t|). The
    gradient's bound is divided by the reduction's divisor (6 terms here for "mean", 1 for "sum");
    then 3 eta is added to the term's and 4 eta to the gradient's (eta: the smallest subnormal in
    units of eps, the underflow allowance), seen alone where y = t makes MSE's terms exact zeros.
    The gradient check's expected errors are these formulas, so a changed constant is a changed
    report. Float32 inputs, float64 bounds (rtol 1e-12: only the bounds' own roundings differ)."""
    from refnet.rounding import eta

    e = eta(np.float32)
    y32 = np.array([[[0.25, 0.0], [0.5, 1.0], [0.9, 0.125]]], dtype=np.float32)
    t32 = np.array([[[0.0, 0.0], [1.0, 1.0], [0.1, 1.0]]], dtype=np.float32)  # 1 - 0.1f is not a float32
    y, t = y32.astype(np.float64), t32.astype(np.float64)
    for reduction, n in (("mean", 6.0), ("sum", 1.0)):
        terms, grad = MSE(reduction).rounding(y32, t32)
        np.testing.assert_allclose(terms, 3 * (y - t) ** 2 + 3 * e, rtol=1e-12, atol=0)
        np.testing.assert_allclose(grad, 4 * np.abs(2 * (y - t)) / n + 4 * e, rtol=1e-12, atol=0)
        assert terms[0, 0, 1] == 3 * e and grad[0, 0, 1] == 4 * e > 0  # y = t: eta alone

        d = 1e-3
        a, b = y + d, (1 - y) + d
        terms, grad = BCE(reduction, delta=d).rounding(y32, t32)
        np.testing.assert_allclose(
            terms, 3 * (np.abs(t) * (np.abs(np.log(a)) + 1) + np.abs(1 - t) * (np.abs(np.log(b)) + 1)) + 3 * e,
            rtol=1e-12, atol=0)
        np.testing.assert_allclose(grad, 4 * (np.abs(t / a) + np.abs((1 - t) / b)) / n + 4 * e, rtol=1e-12, atol=0)

        z32 = np.array([[[-3.0, 0.0], [0.5, 40.0], [-40.0, 2.0]]], dtype=np.float32)
        z = z32.astype(np.float64)
        s = 1 / (1 + np.exp(-z))
        terms, grad = BCEWithLogits(reduction).rounding(z32, t32)
        np.testing.assert_allclose(terms, 3 * (np.maximum(z, 0) + np.abs(z * t) + np.log1p(np.exp(-np.abs(z)))) + 3 * e,
                                   rtol=1e-12, atol=0)
        np.testing.assert_allclose(grad, 4 * (s + np.abs(t)) / n + 4 * e, rtol=1e-12, atol=0)


def test_the_error_models_are_silent_where_they_are_infinite() -> None:
    """At a saturated prediction without delta (log 0, 1/0) and at a huge logit (exp overflows)
    the bounds are infinite, which the gradient check reads as "no verdict"; at a logit of -1000
    the model's sigmoid overflows to 0 and the bounds stay finite. No RuntimeWarning escapes
    (tests run with warnings as errors)."""
    y, t = _col(0.0, 1.0), _col(1.0, 0.0)
    terms, grad = BCE(delta=0.0).rounding(y, t)
    assert np.all(np.isinf(terms)) and np.all(np.isinf(grad))
    assert np.all(np.isinf(BCE(delta=0.0).curvature(y, t)))
    z = _col(-1000.0, 1000.0)
    terms, grad = BCEWithLogits().rounding(z, t)
    assert np.all(np.isfinite(grad)) and np.all(np.isfinite(terms))
    assert np.all(BCEWithLogits().curvature(z, t) == 0)


@pytest.mark.parametrize("name", ["mse", "bce", "bce-logits"])
def test_the_value_is_one_number_per_member(name: str) -> None:
    """Members are the leading axis: three members of 2 points x 2 outputs give three values,
    each the loss of that member alone."""
    rng = np.random.default_rng(3)
    y = rng.uniform(0.1, 0.9, size=(3, 2, 2))
    t = rng.uniform(0.0, 1.0, size=(3, 2, 2))
    loss = make_loss(name)
    values = loss.value(y, t)
    assert values.shape == (3,)
    for k in range(3):
        assert values[k] == loss.value(y[k:k + 1], t[k:k + 1])[0]


def test_an_unknown_loss_name_is_refused_with_the_names_there_are() -> None:
    with pytest.raises(ValueError) as info:
        make_loss("hinge")  # type: ignore[arg-type]
    assert str(info.value) == "loss: unknown name 'hinge'; choose one of mse, bce, bce-logits"


def test_make_loss_gives_bce_the_labs_delta_by_default() -> None:
    bce = make_loss("bce")
    assert isinstance(bce, BCE) and bce.delta == 1e-7 == BCE().delta
    assert make_loss("bce", delta=1e-3).delta == 1e-3  # type: ignore[attr-defined]
