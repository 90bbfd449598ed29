"""Layers: formulas, stability at extreme inputs, caching, no mutation, no updates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refnet.layers import Identity, Linear, ReLU, Sigmoid, Tanh, sigmoid
from refnet.kernels import kernel
from tests.tolerances import DTYPES, ulp_tol


def _exact_sigmoid(v: float) -> float:
    """Reference sigma(v) in double precision from math (values used for float32)."""
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_extreme_inputs_are_finite_and_silent(dtype: str) -> None:
    big = float(np.finfo(dtype).max)
    tiny = float(np.finfo(dtype).smallest_subnormal)
    x = np.array([-big, -1e9, -800.0, -100.0, -tiny, 0.0, tiny, 100.0, 800.0, 1e9, big], dtype=dtype)
    y = sigmoid(x)  # filterwarnings=error: any overflow warning fails the test
    assert y.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(y))
    assert y[0] == 0 and y[-1] == 1 and y[5] == 0.5
    assert np.all(np.diff(y) >= 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_exact_zero_and_one_only_where_true_value_rounds_there(dtype: str) -> None:
    # float32 values are checked against a float64 reference; float64 against longdouble.
    ref_type = np.float64 if dtype == "float32" else np.longdouble
    low = -120.0 if dtype == "float32" else -760.0  # past where exp(-|x|) underflows to 0
    x = np.linspace(low, 60, 400001).astype(dtype)
    y = sigmoid(x)
    xr = x.astype(ref_type)
    one = ref_type(1)
    s_ref = np.exp(-np.abs(xr)) / (one + np.exp(-np.abs(xr)))  # sigma(-|x|), relative error ~1e-19
    # 1 - s rounds to 1 exactly when s is at most half the spacing below 1 (eps/4; ties to even).
    # Comparing s with that threshold avoids the double rounding of (1 - s_ref).astype(dtype).
    rounds_to_one = (xr >= 0) & (s_ref <= ref_type(np.finfo(dtype).eps) / 4)
    rounds_to_zero = (xr < 0) & (s_ref.astype(dtype) == 0)
    assert np.array_equal(y == 1, rounds_to_one)
    assert np.array_equal(y == 0, rounds_to_zero)
    assert rounds_to_one.any() and rounds_to_zero.any()


@pytest.mark.parametrize("dtype", DTYPES)
@given(v=st.floats(-200, 200, allow_nan=False, width=32))
def test_sigmoid_symmetry_within_an_ulp(dtype: str, v: float) -> None:
    x = np.array([v, -v], dtype=dtype)
    y = sigmoid(x)
    # sigma(-x) = s and sigma(x) = 1 - s with one rounding: the sum is 1 to half an ulp of 1.
    assert abs(float(y[0]) + float(y[1]) - 1.0) <= ulp_tol(dtype, 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@given(v=st.floats(-80, 80, allow_nan=False, width=32))
def test_sigmoid_accuracy(dtype: str, v: float) -> None:
    y = float(sigmoid(np.array([v], dtype=dtype))[0])
    exact = _exact_sigmoid(float(np.array(v, dtype=dtype)))
    # s = z / (1 + z) carries at most ~3 roundings (exp, add, divide): 4 ulps of the result,
    # or of 1 for x >= 0 after the subtraction.
    scale = max(exact if v < 0 else 1.0, float(np.finfo(dtype).tiny))
    assert abs(y - exact) <= ulp_tol(dtype, 4.0) * scale


def test_relu_gradient_at_zero_is_zero_and_inputs_are_not_mutated() -> None:
    relu = ReLU()
    x = np.array([[[-1.0, 0.0, 2.0]]])
    x_before = x.copy()
    y = relu.forward(x)
    assert np.array_equal(y, [[[0.0, 0.0, 2.0]]])
    dy = np.array([[[5.0, 6.0, 7.0]]])
    dy_before = dy.copy()
    dx = relu.grad_input(dy)
    assert np.array_equal(dx, [[[0.0, 0.0, 7.0]]])
    assert np.array_equal(x, x_before) and np.array_equal(dy, dy_before)
    assert dx is not dy


def test_the_lab_relu_zeroes_where_x_is_at_most_zero_and_passes_nan_gradients() -> None:
    """``formula="mask"``: the lab's copy with ``+0`` where ``x <= 0``; its gradient zeroed there only,
    so a NaN input passes its gradient (``max`` drops it), and ``-0`` gives ``+0``."""
    x = np.array([[[-0.0, -1.0, 0.0, 2.0, np.nan]]])
    dy = np.array([[[1.0, 2.0, 3.0, 4.0, 5.0]]])
    lab, mx = ReLU(formula="mask"), ReLU()
    y = lab.forward(x)
    assert np.array_equal(y, [[[0.0, 0.0, 0.0, 2.0, np.nan]]], equal_nan=True)
    assert not np.signbit(y[0, 0, 0])
    mx.forward(x)
    assert np.array_equal(lab.grad_input(dy), [[[0.0, 0.0, 0.0, 4.0, 5.0]]])
    assert np.array_equal(mx.grad_input(dy), [[[0.0, 0.0, 0.0, 4.0, 0.0]]])
    assert np.array_equal(dy, [[[1.0, 2.0, 3.0, 4.0, 5.0]]])  # never written into
    with pytest.raises(ValueError, match="^formula"):
        ReLU(formula="lab")  # type: ignore[arg-type]


def test_relu_hides_neither_nan_nor_produces_warnings() -> None:
    y = ReLU().forward(np.array([[[np.nan, -np.inf, np.inf]]]))
    assert np.isnan(y[0, 0, 0]) and y[0, 0, 1] == 0 and y[0, 0, 2] == np.inf


@pytest.mark.parametrize("layer", [Sigmoid(), ReLU(), Tanh(), Identity()])
def test_backward_before_forward_is_a_clear_error(layer: Sigmoid | ReLU | Tanh | Identity) -> None:
    with pytest.raises(RuntimeError, match="before forward"):
        layer.grad_input(np.ones((1, 2, 3)))


def test_linear_backward_before_forward_is_a_clear_error() -> None:
    lin = Linear(np.ones((1, 2, 3)), np.zeros((1, 1, 3)))
    with pytest.raises(RuntimeError, match="before forward"):
        lin.grad_params(np.ones((1, 4, 3)))


@pytest.mark.parametrize("kernel_name", ["blas", "portable"])
def test_linear_by_hand(kernel_name: str) -> None:
    # W = [[1, 2], [3, 4]], b = [10, 20]; x rows (1, 0) and (1, 1):
    # y = x @ W + b = [[11, 22], [14, 26]].
    w = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    b = np.array([[[10.0, 20.0]]])
    lin = Linear(w, b, kernel_name=kernel_name)
    x = np.array([[[1.0, 0.0], [1.0, 1.0]]])
    assert np.array_equal(lin.forward(x), [[[11.0, 22.0], [14.0, 26.0]]])
    dy = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    dy_before, w_before = dy.copy(), w.copy()
    # dW = x^T dy = [[1, 1], [0, 1]]; db = column sums of dy = [1, 1]; dx = dy W^T = [[1, 3], [2, 4]].
    grads = lin.grad_params(dy)
    assert np.array_equal(grads["W"], [[[1.0, 1.0], [0.0, 1.0]]])
    assert np.array_equal(grads["b"], [[[1.0, 1.0]]])
    assert np.array_equal(lin.grad_input(dy), [[[1.0, 3.0], [2.0, 4.0]]])
    # computing gradients never changes parameters, nor the upstream gradient
    assert np.array_equal(lin.params["W"], w_before) and np.array_equal(dy, dy_before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_agree_to_rounding(dtype: str) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 7, 5)).astype(dtype)
    w = rng.standard_normal((3, 5, 4)).astype(dtype)
    d = rng.standard_normal((3, 7, 4)).astype(dtype)
    blas, port = Linear(w, kernel_name="blas"), Linear(w, kernel_name="portable")
    # Any summation order of n products is within n * eps * sum|a_j b_j| of the exact value
    # (first-order bound), so two orders differ by at most twice that, element by element.
    eps = ulp_tol(dtype, 1.0)
    pairs = [
        (port.forward(x), blas.forward(x), np.abs(x) @ np.abs(w), 5),
        (port.grad_input(d), blas.grad_input(d), np.abs(d) @ np.abs(w).transpose(0, 2, 1), 4),
        (port.grad_params(d)["W"], blas.grad_params(d)["W"], np.abs(x).transpose(0, 2, 1) @ np.abs(d), 7),
    ]
    for got, ref, magnitude, n in pairs:
        assert np.all(np.abs(got - ref) <= 2 * n * eps * magnitude)
        assert not np.array_equal(magnitude, 0 * magnitude)


def test_linear_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="weight"):
        Linear(np.ones((2, 3)))
    with pytest.raises(ValueError, match="bias"):
        Linear(np.ones((1, 2, 3)), np.ones((1, 3)))


# -- the error models' carrying formulas (gradcheck's bounds), against differences of the layer itself
_RNG = np.random.default_rng(7)
_X = _RNG.uniform(0.2, 1.5, (1, 2, 3)) * np.array([1.0, -1.0, 1.0])  # |x| >= 0.2: off ReLU's kink
_W = _RNG.normal(size=(1, 3, 2))


def _carry_layers() -> list[Linear | Sigmoid | ReLU | Tanh | Identity]:
    return [Linear(_W.copy(), _RNG.normal(size=(1, 1, 2))), Sigmoid(), ReLU(), Tanh(), Identity()]


def _backward(layer: Linear | Sigmoid | ReLU | Tanh | Identity, x: np.ndarray,
              dy: np.ndarray) -> dict[str, np.ndarray]:
    layer.forward(x)
    return {"x": layer.grad_input(dy), **layer.grad_params(dy)}


def _units(shape: tuple[int, ...]) -> list[np.ndarray]:
    out = []
    for k in range(int(np.prod(shape))):
        u = np.zeros(int(np.prod(shape)))
        u[k] = 1.0
        out.append(u.reshape(shape))
    return out


@pytest.mark.parametrize("layer", _carry_layers(), ids=lambda layer: type(layer).__name__)
def test_each_carry_formula_is_the_layers_own_jacobian_in_absolute_value(
        layer: Linear | Sigmoid | ReLU | Tanh | Identity) -> None:
    """``carry_backward``/``carry_forward``/``carry_cached`` must be ``|J| e`` of the map they carry
    an error through (gradcheck's bounds are only as tight as this), J measured on the layer:
    by unit vectors where the map is linear (the backward in ``dy``, Linear's weight gradient in
    ``x``: exact up to one rounding, hence rtol 1e-12), by central differences (h = 1e-6, error
    ~h^2 and eps/h, hence rtol 1e-6) where it is not. Each key's absence means a zero bound."""
    x = _X.copy()
    y = layer.forward(x).copy()
    dy = _RNG.normal(size=y.shape)
    # an error e in dy, carried through the backward formulas (linear in dy); also at x = 0 exactly,
    # where ReLU passes no gradient (its subgradient 0), so no error either
    e = _RNG.uniform(0.5, 2.0, y.shape)
    x0 = x.copy()
    x0[0, 0, 0] = 0.0
    for xs in (x, x0):
        ys = layer.forward(xs).copy()
        want: dict[str, np.ndarray] = {}
        for u, ek in zip(_units(y.shape), e.ravel()):
            for key, col in _backward(layer, xs, u).items():
                want[key] = want.get(key, 0) + ek * np.abs(col)
        got = layer.carry_backward(xs, ys, e)
        for key in want:
            np.testing.assert_allclose(got.get(key, 0 * want[key]), want[key], rtol=1e-12, atol=1e-15, err_msg=key)
    # an error e in x, carried through the forward pass
    ex = _RNG.uniform(0.5, 2.0, x.shape)
    h = 1e-6
    fwd = sum(ek * np.abs(layer.forward(x + h * u) - layer.forward(x - h * u)) / (2 * h)
              for u, ek in zip(_units(x.shape), ex.ravel()))
    np.testing.assert_allclose(layer.carry_forward(x, y, ex), fwd, rtol=1e-6, atol=1e-12)
    # errors in the cached input (ex) and output (ey), carried into the backward formulas
    base = _backward(layer, x, dy)
    cached: dict[str, np.ndarray] = {}
    ey = np.zeros(y.shape)
    for u, ek in zip(_units(x.shape), ex.ravel()):
        moved = _backward(layer, x + h * u, dy)
        y_moved = layer.forward(x + h * u)
        if isinstance(layer, Linear):  # caches x: the weight gradient moves with it
            for key in base:
                cached[key] = cached.get(key, 0) + ek * np.abs(moved[key] - base[key]) / h
        else:  # elementwise layers cache y (or a mask): one x element moves one y element
            ey += ek * np.abs(y_moved - y) / h
    if not isinstance(layer, Linear):
        moved = _backward(layer, x + h * ex, dy)  # every element moved by its own ex (diagonal J)
        cached = {key: np.abs(moved[key] - base[key]) / h for key in base}
    got = layer.carry_cached(x, y, dy, ex, ey)
    for key in cached:
        np.testing.assert_allclose(got.get(key, 0 * cached[key]), cached[key], rtol=1e-5, atol=1e-9, err_msg=key)


def test_the_rounding_models_are_the_documented_bounds() -> None:
    """Each layer's first-order rounding bound (units of eps; eta = the smallest subnormal in eps,
    the underflow allowance per rounding), written out here from the models' comments:
    Linear, a dot product of n terms within (n + 1)(sum |a_j b_j| + eta); Sigmoid and Tanh
    within 4 (|y| + eta) forward; their backward three roundings of ``y (1 - y) dy`` or
    ``(1 - y^2) dy`` plus the forward's error carried; ReLU and Identity exact. The gradient
    check's expected errors (and the numbers of its report in docs/gradcheck.md) are these
    formulas, so a changed constant is a changed report. Inputs include exact zeros (y = 0,
    dy = 0) where only the eta terms remain. Float32 inputs; the bounds are float64 (rtol 1e-12)."""
    from refnet.rounding import eta

    f32 = np.float32
    e = eta(f32)
    x = np.array([[[0.0, -200.0, 0.75], [1.5, 0.0, -0.25], [0.0, 0.0, 0.0], [0.5, 3.0, -1.0]]], dtype=f32)  # N=4 rows, 3 inputs
    w = np.array([[[0.5, -1.0], [0.0, 2.0], [-0.25, 0.125]]], dtype=f32)
    b = np.array([[[0.0, -0.5]]], dtype=f32)
    ax, aw, ab = (np.abs(a.astype(np.float64)) for a in (x, w, b))

    lin = Linear(w, b)
    y = lin.forward(x)
    dy = np.array([[[0.0, 1.0], [-2.0, 0.5], [0.0, 0.0], [1.0, -1.0]]], dtype=f32)
    ady = np.abs(dy.astype(np.float64))
    np.testing.assert_allclose(lin.rounding_forward(x, y), 4 * (ax @ aw + ab + e), rtol=1e-12, atol=0)
    back = lin.rounding_backward(x, y, dy, lin.grad_params(dy))
    np.testing.assert_allclose(back["x"], 3 * (ady @ np.swapaxes(aw, -1, -2) + e), rtol=1e-12, atol=0)
    np.testing.assert_allclose(back["W"], 5 * (np.swapaxes(ax, -1, -2) @ ady + e), rtol=1e-12, atol=0)  # N + 1
    np.testing.assert_allclose(back["b"], 5 * (ady.sum(axis=-2, keepdims=True) + e), rtol=1e-12, atol=0)
    assert set(back) == {"x", "W", "b"}
    quiet = lin.rounding_backward(x, y, 0 * dy, {})  # a zero gradient: eta alone, everywhere
    assert all(np.all(quiet[key] == bound * e) for key, bound in (("x", 3), ("W", 5), ("b", 5))) and e > 0

    dz = np.array([[[0.0, 1.0, -3.0], [0.5, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, -1.0, 2.0]]], dtype=f32)
    adz = np.abs(dz.astype(np.float64))
    sig = Sigmoid()
    s = sig.forward(x)
    assert s[0, 0, 1] == 0  # sigmoid(-200) rounds to 0 in float32: only eta is left
    assert lin.rounding_forward(x, y)[0, 2, 0] == 4 * e > 0  # a zero row and a zero bias: eta alone
    a = np.abs(s.astype(np.float64))
    np.testing.assert_allclose(sig.rounding_forward(x, s), 4 * (a + e), rtol=1e-12, atol=0)
    np.testing.assert_allclose(sig.rounding_backward(x, s, dz, {})["x"],
                               adz * (3 * a * np.abs(1 - a) + 4 * np.abs(1 - 2 * a) * a) + 3 * e, rtol=1e-12, atol=0)
    tanh = Tanh()
    t = tanh.forward(x)
    a = np.abs(t.astype(np.float64))
    np.testing.assert_allclose(tanh.rounding_forward(x, t), 4 * (a + e), rtol=1e-12, atol=0)
    np.testing.assert_allclose(tanh.rounding_backward(x, t, dz, {})["x"],
                               adz * (3 * np.abs(1 - a * a) + 8 * a * a) + 3 * e, rtol=1e-12, atol=0)
    for exact in (ReLU(), Identity()):
        r = exact.forward(x)
        assert not np.any(exact.rounding_forward(x, r)) and exact.rounding_forward(x, r).shape == r.shape
        assert not np.any(exact.rounding_backward(x, r, dz, {})["x"])


def test_each_layer_is_named_by_its_kind_by_default() -> None:
    """The default names appear in every message about a layer ("tanh: backward called before forward")."""
    w = np.zeros((1, 2, 2))
    assert [layer.name for layer in (Linear(w), Sigmoid(), ReLU(), Tanh(), Identity())] == [
        "linear", "sigmoid", "relu", "tanh", "identity"]
    for layer in (Sigmoid(), ReLU(), Tanh(), Identity()):  # each activation's backward needs its forward first
        with pytest.raises(RuntimeError, match=f"^{layer.name}: backward called before forward$"):
            layer.grad_input(w)


def test_linear_names_its_refusals_in_full() -> None:
    """A bias of the wrong shape or dtype is refused with the shape and dtype the weight asks for;
    a kernel name is refused with the kernels there are, whatever the name holds."""
    w = np.ones((2, 3, 4))
    for bias in (np.ones((2, 1, 5)), np.ones((2, 1, 4), dtype=np.float32)):
        with pytest.raises(ValueError) as info:
            Linear(w, bias)
        assert str(info.value) == f"bias: expected a float64 array of shape (2, 1, 4), got {bias.dtype} {bias.shape}"
    with pytest.raises(ValueError) as info:
        Linear(w, kernel_name="a: b")  # type: ignore[arg-type]
    assert str(info.value) == "kernel_name: unknown name 'a: b'; choose one of blas, portable, compiled"


class _Methods:
    """An object with some of a Kernel's methods (each does what the portable kernel does)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        for name in names:
            setattr(self, name, getattr(kernel("portable"), name))


KERNEL_METHODS = ("matmul", "matmul_nt", "matmul_tn", "sum_rows")


def test_a_kernel_object_needs_all_four_methods() -> None:
    """Any object with the four methods is a kernel (duck-typed, like the Kernel protocol); one
    missing, or not callable, is refused with a TypeError naming kernel_name."""
    w = np.ones((1, 2, 3))
    whole = _Methods(KERNEL_METHODS)
    assert Linear(w, kernel_name=whole).kernel is whole  # type: ignore[arg-type]
    for missing in KERNEL_METHODS:
        partial = _Methods(tuple(m for m in KERNEL_METHODS if m != missing))
        with pytest.raises(TypeError, match=r"^kernel_name: expected a kernel name or a Kernel, got "):
            Linear(w, kernel_name=partial)  # type: ignore[arg-type]
        setattr(partial, missing, "not callable")
        with pytest.raises(TypeError, match=r"^kernel_name: "):
            Linear(w, kernel_name=partial)  # type: ignore[arg-type]
