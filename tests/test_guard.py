"""The overflow guard: injected faults (a)-(h) in float32 and float64, every report field.

Each fault is built so that exactly one array goes non-finite first, at a place
worked out by hand in the comments; the test compares the whole event (a frozen
dataclass) with the expected one, so a wrong field of any kind fails.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Sequence

import numpy as np
import pytest

from refnet import mlp, train
from refnet.data import linear, xor_easy
from refnet.layers import Layer, Linear, ReLU, Sigmoid
from refnet.losses import BCE, MSE
from refnet.network import Network
from refnet.events import (
    EarlyWarning, FlagEvent, NonFiniteEvent, NonFiniteInputError, NumericalError, NumericalWarning,
    nonfinite_members,
)
from refnet.guard import Guard, as_guard
from refnet.observe import Site
from refnet.precision import FloatArray
from tests.tolerances import ALL_DTYPES, DTYPES


def _max(dtype: str) -> np.floating:
    return np.finfo(dtype).max


def _half_range(dtype: str) -> np.floating:
    """``h = 2**(maxexp - 1)``: finite, and ``h + h`` overflows to inf."""
    dt = np.dtype(dtype)
    return dt.type(2.0) ** dt.type(np.finfo(dt).maxexp - 1)


def _arr(values: object, dtype: str) -> FloatArray:
    return np.asarray(values, dtype=dtype)


def _event(**fields: object) -> NonFiniteEvent:
    base: dict[str, object] = dict(epoch=None, step=None, batch=None, layer_index=None,
                                   members=(0,), bad_inputs=(), flags=(), origin="producer",
                                   finite_min=None, finite_max=None, headroom=None,
                                   nan=0, pos_inf=0, neg_inf=0)
    base.update(fields)
    return NonFiniteEvent(**base)  # type: ignore[arg-type]


def _raised(guard: Guard, run: object) -> NonFiniteEvent:
    with pytest.raises(NumericalError) as info:
        with guard:
            run()  # type: ignore[operator]
    assert isinstance(info.value, FloatingPointError)
    return info.value.event


class Probe:
    """An independent oracle: the first observed non-finite array, by plain isfinite."""

    def __init__(self) -> None:
        self.when: tuple[int, int] | None = None
        self.first: tuple[tuple[int, int] | None, Site] | None = None
        self.calls = 0

    def at(self, epoch: int, step: int, batch: slice) -> None:
        self.when = (epoch, step)

    def observe(self, site: Site, array: FloatArray, inputs: Sequence[FloatArray]) -> None:
        self.calls += 1
        if self.first is None and not np.isfinite(array).all():
            self.first = (self.when, site)


# -- (a) overflow in a forward matmul -----------------------------------------------------
def _two_layer(dtype: str, w1: FloatArray, hidden: Layer, w2: FloatArray) -> Network:
    return Network([Linear(w1, name="linear_1"), hidden, Linear(w2, name="output"),
                    Sigmoid("sigmoid_2")], MSE(), dtype)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_a_forward_matmul_overflow(dtype: str) -> None:
    h = _half_range(dtype)
    # x @ W1 = [[1, 1], [1, -1]] @ [[h, h/2], [h, -h/2]] = [[h + h, 0], [0, h]] = [[inf, 0], [0, h]]
    w1 = _arr([[[h, h / 2], [h, -h / 2]]], dtype)
    net = _two_layer(dtype, w1, Sigmoid("sigmoid_1"), _arr([[[1.0], [1.0]]], dtype))
    x, t = net.as_input([[1.0, 1.0], [1.0, -1.0]]), _arr([[[1.0], [0.0]]], dtype)
    event = _raised(Guard(net, "raise"), lambda: net.gradients(x, t))
    assert event == _event(
        phase="forward", layer_index=0, layer_name="linear_1", layer_type="Linear",
        operation="x @ W", role="pre-activation", dtype=str(np.dtype(dtype)), shape=(1, 2, 2),
        pos_inf=1, first_index=(0, 0, 0), finite_min=0.0, finite_max=float(h),
        headroom=float(h / _max(dtype)), flags=("overflow",))
    assert net.observer is None  # detached on the way out


# -- (b) inf - inf in backward ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_b_backward_inf_minus_inf(dtype: str) -> None:
    c = _max(dtype) * np.dtype(dtype).type(0.75)
    # h = x @ W1 = [1, 0] @ [[0, 1], [0, 1]] = [0, 1]; y = h @ W2 = [0 c + 1, 0 c + 1] = [1, 1]
    # (finite); with t = [0, 2] and a summed MSE, dy = 2 (y - t) = [2, -2], so the input
    # gradient dh_0 = dy @ W2[0]^T = 2 c + (-2) c = inf + (-inf) = NaN, dh_1 = 2 - 2 = 0.
    # The portable kernel accumulates in this fixed order; BLAS may fuse the second
    # product into the sum (FMA) and return -inf instead (float64 here does).
    net = Network([Linear(_arr([[[0.0, 1.0], [0.0, 1.0]]], dtype), name="linear_1"),
                   Linear(_arr([[[c, c], [1.0, 1.0]]], dtype), kernel_name="portable", name="output")],
                  MSE("sum"), dtype)
    x, t = net.as_input([[1.0, 0.0]]), _arr([[[0.0, 2.0]]], dtype)
    event = _raised(Guard(net, "raise"), lambda: net.gradients(x, t))
    assert event == _event(
        phase="backward", layer_index=1, layer_name="output", layer_type="Linear",
        operation="dy @ W^T", role="input gradient", dtype=dtype, shape=(1, 1, 2),
        nan=1, first_index=(0, 0, 0), finite_min=0.0, finite_max=0.0, headroom=0.0,
        flags=("invalid", "overflow"))


# -- (c) log(0) in BCE with delta 0 -------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_c_bce_log_zero(dtype: str) -> None:
    # y = sigmoid([100, -100]) = [1 exactly, ~4e-44]; t = 0: the term of row 0 is
    # -log(1 - 1 + 0) = -log(0) = +inf, that of row 1 is -log(1 - 4e-44) = -0.0.
    net = Network([Linear(_arr([[[100.0]]], dtype), name="output"), Sigmoid("sigmoid_1")],
                  BCE(delta=0.0), dtype)
    x, t = net.as_input([[1.0], [-1.0]]), _arr([[[0.0], [0.0]]], dtype)
    event = _raised(Guard(net, "raise"), lambda: net.gradients(x, t))
    assert event == _event(
        phase="loss", layer_name="bce", layer_type="BCE", operation="terms", role="loss terms",
        dtype=dtype, shape=(1, 2, 1), pos_inf=1, first_index=(0, 0, 0),
        finite_min=0.0, finite_max=0.0, headroom=0.0, flags=("divide",))


# -- (d) an update with a huge learning rate ---------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_d_update_with_huge_learning_rate(dtype: str) -> None:
    # y = x W = 1, t = 0: dL/dW = 2 (y - t) x = 2; lr = max: W - lr * 2 = 1 - inf = -inf.
    net = Network([Linear(_arr([[[1.0]]], dtype), name="output")], MSE(), dtype)
    with pytest.raises(NumericalError) as info:
        train(net, [[1.0]], [[0.0]], lr=float(_max(dtype)), epochs=3, guard="raise")
    assert info.value.event == _event(
        epoch=0, step=0, batch=(0, 1), phase="update", layer_index=0, layer_name="output",
        layer_type="Linear", operation="W - lr * dW", role="weight", dtype=dtype,
        shape=(1, 1, 1), neg_inf=1, first_index=(0, 0, 0), flags=("overflow",))
    assert net.observer is None


# -- (e) NaN in the input data ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_e_nan_in_input_data(dtype: str) -> None:
    x, y = xor_easy()
    x[3, 1] = np.nan
    expected = _event(
        phase="input", layer_name="x", layer_type="data", operation="given", role="input data",
        dtype=dtype, shape=(1, 21, 2), nan=1, first_index=(0, 3, 1), finite_min=0.0,
        finite_max=1.0, headroom=float(np.dtype(dtype).type(1) / _max(dtype)), origin="data")
    # used directly: the guard's input check runs inside the observed forward pass
    net = mlp(dtype=dtype, seed=0)
    direct = _raised(Guard(net, "raise"), lambda: net.gradients(net.as_input(x), _arr(y[None], dtype)))
    assert direct == expected
    # given to training: the ValueError naming x is the same input event, and nothing changed
    before = net.get_flat()
    guard = Guard(net, "record")
    with pytest.raises(ValueError, match=r"^x: contains NaN or inf \(first at index \[3, 1\]\)") as info:
        train(net, x, y, lr=0.1, epochs=5, guard=guard)
    assert isinstance(info.value, NonFiniteInputError) and isinstance(info.value, NumericalError)
    assert info.value.event == expected
    assert guard.log == [expected]
    np.testing.assert_array_equal(net.get_flat(), before)


# -- (f) a -inf pre-activation hidden by ReLU -----------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_f_relu_hides_minus_inf_reported_at_the_linear_layer(dtype: str) -> None:
    h = _half_range(dtype)
    # x @ W1 = [[1, 1], [1, -1]] @ [[-h, h/2], [-h, -h/2]] = [[-inf, 0], [0, h]];
    # ReLU turns it into [[0, 0], [0, h]]: finite, the -inf is gone downstream.
    w1 = _arr([[[-h, h / 2], [-h, -h / 2]]], dtype)
    net = _two_layer(dtype, w1, ReLU("relu_1"), _arr([[[1.0], [1.0]]], dtype))
    x, t = net.as_input([[1.0, 1.0], [1.0, -1.0]]), _arr([[[1.0], [0.0]]], dtype)
    expected = _event(
        phase="forward", layer_index=0, layer_name="linear_1", layer_type="Linear",
        operation="x @ W", role="pre-activation", dtype=dtype, shape=(1, 2, 2),
        neg_inf=1, first_index=(0, 0, 0), finite_min=0.0, finite_max=float(h),
        headroom=float(h / _max(dtype)), flags=("overflow",))
    probe = Probe()
    net.observer = probe
    guard = Guard(net, "record", levels=())
    with guard:
        loss, grads = net.gradients(x, t)
    assert guard.log == [expected]  # nothing downstream is blamed, no other flag
    assert net.observer is probe and probe.calls > 0  # the previous observer kept being called
    with np.errstate(over="ignore"):
        relu_out = net.layers[1].forward(net.layers[0].forward(x))
    assert np.isfinite(relu_out).all() and np.isfinite(loss).all()
    assert all(np.isfinite(g).all() for layer in grads for g in layer.values())
    net.observer = None
    assert _raised(Guard(net, "raise"), lambda: net.gradients(x, t)) == expected


# -- (g) the naive sigmoid's exp overflow that ends finite -----------------------------------------
class NaiveSigmoid:
    """The textbook ``1 / (1 + exp(-x))``: ``exp`` overflows for very negative x."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.params: dict[str, FloatArray] = {}
        self._y: FloatArray | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        one = x.dtype.type(1)
        y: FloatArray = one / (one + np.exp(-x))
        self._y = y
        return y

    def grad_input(self, dy: FloatArray) -> FloatArray:
        assert self._y is not None
        out: FloatArray = dy * (self._y * (self._y.dtype.type(1) - self._y))
        return out

    def grad_params(self, dy: FloatArray) -> dict[str, FloatArray]:
        return {}


@pytest.mark.parametrize("dtype", DTYPES)
def test_g_naive_sigmoid_overflow_recorded_as_ended_finite(dtype: str) -> None:
    net = Network([Linear(_arr([[[1.0]]], dtype), name="linear_1"), NaiveSigmoid("naive_sigmoid")],
                  MSE(), dtype)
    x, t = net.as_input([[-1000.0]]), _arr([[[0.0]]], dtype)
    with pytest.warns(RuntimeWarning, match="overflow"):  # the fault is real without a guard
        assert net.layers[1].forward(x)[0, 0, 0] == 0.0
    guard = Guard(net, "raise")
    with guard:  # no exception, no warning (warnings are errors in the test suite)
        loss, _ = net.gradients(x, t)
    assert loss[0] == 0.0
    assert guard.log == [FlagEvent(None, None, None, "forward", 1, "naive_sigmoid", "NaiveSigmoid",
                                   "naivesigmoid", "activation", dtype, (1, 1, 1), ("overflow",))]
    assert guard.log[0].to_dict()["status"] == "ended finite"


# -- (h) the lab's network without hidden activations, caught at its first non-finite epoch ---------
LAB_LINEAR_LR = 4e-4
"""The smallest of the rates 1e-4, 2e-4, 3e-4, 3.5e-4, 4e-4 at which this run (seed 0,
lab convention, batches of 20) diverges within 3000 epochs, in both dtypes (measured)."""

# measured: (step, rows, +inf count); the loss terms overflow first, the MSE's square
H_FIRST = {"float32": (16, (0, 20), 20), "float64": (17, (20, 21), 1)}
H_EPOCH = 8
H_EARLY = {"float32": "output", "float64": "linear_2"}  # first layer past max ** 0.5 (measured)


def _lab_linear(dtype: str, observer: Probe | None = None) -> Network:
    return mlp(2, (6, 6), 1, activation="none", output_activation="none", loss="mse",
               bias=[True, True, True], dtype=dtype, seed=0, observer=observer)


@pytest.mark.parametrize("dtype", DTYPES)
def test_h_lab_linear_network_caught_at_first_nonfinite_epoch(dtype: str) -> None:
    x, y = xor_easy()
    kwargs: dict[str, object] = dict(lr=LAB_LINEAR_LR, epochs=50, batch_size=20, convention="lab-sum")
    probe = Probe()  # independent measurement of the first non-finite array
    history = train(_lab_linear(dtype, probe), x, y, guard="off", **kwargs)  # type: ignore[arg-type]
    assert not np.isfinite(history.loss).all()  # the lab's symptom: training goes non-finite
    step, rows, count = H_FIRST[dtype]
    assert probe.first is not None
    (epoch, probe_step), site = probe.first
    assert (epoch, probe_step, site.phase, site.operation) == (H_EPOCH, step, "loss", "terms")

    net = _lab_linear(dtype)
    with pytest.raises(NumericalError) as info:
        train(net, x, y, guard="raise", **kwargs)  # type: ignore[arg-type]
    assert info.value.event == _event(
        epoch=H_EPOCH, step=step, batch=rows, phase="loss", layer_name="mse", layer_type="MSE",
        operation="terms", role="loss terms", dtype=dtype, shape=(1, rows[1] - rows[0], 1),
        pos_inf=count, first_index=(0, 0, 0), flags=("overflow",))
    # record mode: training goes on, the first recorded event is what raise reported, and
    # the early warning (a value whose square overflows) comes before it in program order:
    # the growth is so fast that it is the same step (measured)
    guard = Guard(_lab_linear(dtype), "record")
    train(guard.net, x, y, guard=guard, **kwargs)  # type: ignore[arg-type]
    assert guard.first == info.value.event
    assert guard.events == [info.value.event]  # one member, reported once
    early = guard.early[0]
    assert (early.epoch, early.step, early.phase, early.layer_name, early.role) == (
        H_EPOCH, step, "forward", H_EARLY[dtype], "pre-activation")
    assert guard.log.index(early) < guard.log.index(info.value.event)
    assert early.largest >= early.threshold == pytest.approx(float(_max(dtype)) ** 0.5)
    assert early.level == 0.5 and early.members == (0,)


# -- modes, per-member events, serialisation --------------------------------------------------------
def _two_member_run(mode: str | Guard, dtype: str = "float64") -> Network:
    """Member 1 of two gets a learning rate that diverges; member 0 trains normally."""
    x, y = xor_easy()
    net = mlp(2, (6, 6), 1, activation="none", output_activation="none", loss="mse",
              bias=[True, True, True], dtype=dtype, seed=[0, 0])
    train(net, x, y, lr=[1e-4, LAB_LINEAR_LR], epochs=30, batch_size=20, convention="lab-sum", guard=mode)
    return net


def test_record_mode_reports_each_member_once_and_names_it() -> None:
    guard = Guard(None, "record")
    _two_member_run(guard)
    assert [e.members for e in guard.events] == [(1,)]
    event = guard.events[0]
    assert event.epoch == H_EPOCH and event.first_index[0] == 1
    with pytest.raises(NumericalError) as info:
        _two_member_run("raise")
    assert info.value.event == event


def test_warn_mode_warns_once_per_event() -> None:
    with pytest.warns(NumericalWarning) as record:
        _two_member_run("warn")
    texts = [str(w.message) for w in record]
    nonfinite = [t for t in texts if t.startswith("non-finite")]
    assert len(nonfinite) == 1 and "epoch 8" in nonfinite[0] and "members [1]" in nonfinite[0]
    assert any(t.startswith("early warning") for t in texts)


def test_off_mode_attaches_nothing_and_leaks_no_warning() -> None:
    x, y = xor_easy()
    net = _lab_linear("float64")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = train(net, x, y, lr=0.1, epochs=5, batch_size=20, convention="lab-sum", guard="off")
    assert not np.isfinite(history.loss).all() and net.observer is None
    guard = as_guard(net, None)
    with guard:
        assert net.observer is None
    assert guard.mode == "off" and guard.log == []


def test_context_restores_numpy_error_state_and_rejects_bad_arguments() -> None:
    before = np.geterr()
    net = mlp(seed=0)
    with Guard(net, "raise"):
        assert np.geterr()["over"] == "call"
    assert np.geterr() == before
    with pytest.raises(ValueError, match="mode"):
        Guard(net, "loud")
    with pytest.raises(ValueError, match="levels"):
        Guard(net, levels=(1.5,))
    with pytest.raises(ValueError, match="guard"):
        as_guard(mlp(seed=1), Guard(net))
    with pytest.raises(TypeError, match="guard"):
        as_guard(net, 3)  # type: ignore[arg-type]


def test_nonfinite_parameters_given_to_the_guard_are_input_events() -> None:
    net = mlp(seed=[0, 1])
    w = net.get_params()["linear_2.W"]
    w[1, 2, 3] = -np.inf
    net.set_params({"linear_2.W": w})
    guard = Guard(net, "record")
    with guard:
        pass
    assert guard.log == [_event(
        phase="input", layer_index=2, layer_name="linear_2", layer_type="Linear",
        operation="given", role="weight", dtype="float64", shape=(2, 4, 4), neg_inf=1,
        members=(1,), first_index=(1, 2, 3), finite_min=float(w[1][np.isfinite(w[1])].min()),
        finite_max=float(w[1][np.isfinite(w[1])].max()),
        headroom=float(np.abs(w[1][np.isfinite(w[1])]).max() / _max("float64")), origin="data")]


def test_events_serialise_to_json() -> None:
    guard = Guard(None, "record", levels=(0.25, 0.5))
    _two_member_run(guard, "float32")
    kinds = {e.kind for e in guard.log}
    assert {"non-finite", "early-warning"} <= kinds
    decoded = json.loads(guard.to_json())
    assert decoded == [e.to_dict() for e in guard.log]
    for item, event in zip(decoded, guard.log):
        assert item["kind"] == event.kind and item["epoch"] == event.epoch
    levels = [e.level for e in guard.early if isinstance(e, EarlyWarning)]
    assert 0.25 in levels and 0.5 in levels


def test_eager_mode_reports_the_same_event() -> None:
    x, y = xor_easy()
    reports = []
    for eager in (False, True):
        net = _lab_linear("float32")
        with pytest.raises(NumericalError) as info:
            train(net, x, y, lr=LAB_LINEAR_LR, epochs=50, batch_size=20, convention="lab-sum",
                  guard=Guard(net, "raise", eager=eager))
        reports.append(info.value.event)
    assert reports[0] == reports[1]


def test_nonfinite_members_mask() -> None:
    a = np.zeros((3, 2, 2))
    a[1, 0, 1] = np.nan
    a[2, 1, 0] = -np.inf
    np.testing.assert_array_equal(nonfinite_members(a), [False, True, True])
    np.testing.assert_array_equal(nonfinite_members(np.float64(np.inf)), [True])


# -- the hot path misses nothing: differential test against a per-array oracle ----------------------
@pytest.mark.parametrize("activation,convention,dtype,lr", [
    ("none", "lab-sum", "float32", 0.05),     # first bad array: a weight gradient (left out of the hot path)
    ("relu", "lab-sum", "float32", 0.05),     # a weight gradient below a ReLU
    ("relu", "lab-sum", "float64", 0.05),     # an input gradient
    ("tanh", "lab-sum", "float32", 3.0),      # an input gradient through tanh
    ("tanh", "default", "float32", 3.0),  # the loss terms, epoch 6
    ("relu", "default", "float64", 3.0),  # the loss terms, epoch 95
])
def test_guard_agrees_with_a_per_array_oracle(activation: str, convention: str, dtype: str, lr: float) -> None:
    x, y = xor_easy()
    spec: dict[str, object] = dict(activation=activation, output_activation="none", loss="mse",
                                   bias=[True, True, True], dtype=dtype, seed=[0, 1])
    run: dict[str, object] = dict(lr=lr, epochs=200, batch_size=20, convention=convention)
    probe = Probe()
    train(mlp(2, (6, 6), 1, observer=probe, **spec), x, y, guard="off", **run)  # type: ignore[arg-type]
    assert probe.first is not None
    (when, site) = probe.first
    reports = []
    for eager in (False, True):
        net = mlp(2, (6, 6), 1, **spec)  # type: ignore[arg-type]
        with pytest.raises(NumericalError) as info:
            train(net, x, y, guard=Guard(net, "raise", eager=eager), **run)  # type: ignore[arg-type]
        reports.append(info.value.event)
    event = reports[0]
    assert reports[1] == event
    assert ((event.epoch, event.step), event.phase, event.layer_name, event.operation, event.role) == (
        when, site.phase, site.layer_name, site.operation, site.role)


def test_large_arrays_and_one_bad_member_of_four() -> None:
    # pre-activations of 4 members x 100 rows x 64 units = 25,600 values, above the 4096
    # at which the hot path reduces an array by its own dot product instead of joining it
    x, y = linear(100, 0)
    spec: dict[str, object] = dict(activation="none", output_activation="none", loss="mse",
                                   bias=[True, True, True], seed=[0, 1, 2, 3])
    rates = [1e-4, 1e-4, 1e-4, 0.05]  # member 3 diverges (measured: epoch 4)
    probe = Probe()
    train(mlp(2, (64, 64), 1, observer=probe, **spec), x, y, lr=rates, epochs=50, guard="off")  # type: ignore[arg-type]
    assert probe.first is not None
    (when, site) = probe.first
    guard = Guard(None, "record")
    train(mlp(2, (64, 64), 1, **spec), x, y, lr=rates, epochs=50, guard=guard)  # type: ignore[arg-type]
    assert guard._pattern_large  # the large-array path was taken
    [event] = guard.events
    assert ((event.epoch, event.step), event.phase, event.layer_name, event.role) == (
        when, site.phase, site.layer_name, site.role) == ((4, 4), "forward", "linear_2", "pre-activation")
    assert event.members == (3,) and event.first_index[0] == 3 and event.shape == (4, 100, 64)
    assert event.origin == "producer" and event.bad_inputs == ()
    with pytest.raises(NumericalError) as info:
        train(mlp(2, (64, 64), 1, **spec), x, y, lr=rates, epochs=50, guard="raise")  # type: ignore[arg-type]
    assert info.value.event == event


@pytest.mark.parametrize("n", [1, 8_191, 8_192, 8_193, 3 * 8_192 + 5])
def test_sum_of_squares_sees_every_value_of_a_long_array(n: int) -> None:
    # The plan's and the guard's check splits long arrays into dots of at most UNTHREADED_DOT
    # values; a value anywhere, the last one included, must reach the sum.
    from refnet.guard import UNTHREADED_DOT, sum_of_squares
    assert UNTHREADED_DOT == 8_192
    a = np.full(n, 0.5)
    # every partial sum is a multiple of 0.25 below 2**51, so each dot and their sum are exact
    assert sum_of_squares(a) == 0.25 * n
    for bad in (np.inf, np.nan, 1e200):
        b = a.copy()
        b[-1] = bad
        with np.errstate(all="ignore"):  # as under the guard, whose handler notes NumPy's flags
            total = sum_of_squares(b)
        assert not total < 1e300, (n, bad, total)  # inf or NaN: the guard's "not below its limit"


# -- the guard's replay, driven as an observer by hand (small arrays: each rule on its own) ---------
_FWD1 = Site("forward", 1, "sigmoid_1", "Sigmoid", "sigmoid", "activation")


def _observed(guard: Guard, *steps: Sequence[tuple[Site, FloatArray, Sequence[FloatArray]]]) -> Guard:
    with guard:
        for i, step in enumerate(steps):
            guard.at(0, i, slice(0, 2))
            for site, array, inputs in step:
                guard.observe(site, array, inputs)
    return guard


def test_early_warnings_by_hand_thresholds_members_and_fields() -> None:
    """Levels 0.25 and 0.5 on three members: member 0 exactly at max**0.25 (a threshold is reached
    at equality), member 1 beyond max**0.5 beside an inf (non-finite values are left out of the
    magnitudes, not allowed to hide the finite ones), member 2 quiet. A second step raises member 0
    to max**0.5: the 0.25 level has nothing new, the 0.5 level still reports it."""
    top = np.finfo(np.float64).max
    t25, t50 = np.power(top, np.float64(0.25)), np.power(top, np.float64(0.5))
    a = np.ones((3, 2, 2))
    a[0, 1, 0] = t25
    a[1, 0, 1], a[1, 1, 1] = np.inf, 2 * t50
    b = a.copy()
    b[0, 1, 0] = t50
    guard = _observed(Guard(None, "record", levels=(0.5, 0.25)), [(_FWD1, a, ())], [(_FWD1, b, ())])
    assert [e.members for e in guard.events] == [(1,)]
    where = dict(epoch=0, batch=(0, 2), phase="forward", layer_index=1, layer_name="sigmoid_1",
                 layer_type="Sigmoid", operation="sigmoid", role="activation", dtype="float64", shape=(3, 2, 2))
    assert guard.early == [
        EarlyWarning(**where, step=0, level=0.25, threshold=float(t25), largest=float(2 * t50),
                     headroom=float(2 * t50 / top), first_index=(0, 1, 0), members=(0, 1)),
        EarlyWarning(**where, step=0, level=0.5, threshold=float(t50), largest=float(2 * t50),
                     headroom=float(2 * t50 / top), first_index=(1, 1, 1), members=(1,)),
        EarlyWarning(**where, step=1, level=0.5, threshold=float(t50), largest=float(t50),
                     headroom=float(t50 / top), first_index=(0, 1, 0), members=(0,))]


def test_an_early_warning_on_a_zero_dimensional_array() -> None:
    """A scalar is one member of one element (an observer may be handed one; this crashed with an
    IndexError before the mutation run of issue 23 showed the branch untested)."""
    top = np.finfo(np.float64).max
    guard = _observed(Guard(None, "record", levels=(0.5,)), [(_FWD1, np.array(-top), ())])
    (early,) = guard.early
    assert (early.members, early.first_index, early.largest, early.shape) == ((0,), (), float(top), ())


def test_inputs_are_checked_as_data_only_where_data_enters() -> None:
    """x at the first layer's forward (shared by all members when it has one row of members: all
    are then reported, once), t at the loss terms (y, t); an input elsewhere is not data."""
    x = np.zeros((1, 2, 2))
    x[0, 1, 0] = np.nan
    out = np.full((3, 2, 4), np.nan)
    first = Site("forward", 0, "linear_0", "Linear", "matmul", "output")
    guard = _observed(Guard(None, "record", levels=()), [(first, out, (x,))])
    assert [(e.phase, e.layer_name, e.origin, e.members) for e in guard.events] == [("input", "x", "data", (0,))]
    # an input of a later layer is the previous layer's output, not data: the array itself is reported
    guard = _observed(Guard(None, "record", levels=()), [(_FWD1, out, (out,))])
    assert [(e.phase, e.layer_name, e.members) for e in guard.events] == [("forward", "sigmoid_1", (0, 1, 2))]
    # the targets t of the loss terms (y, t); not those of another loss site, nor a lone y
    y, t = np.zeros((3, 2, 1)), np.zeros((3, 2, 1))
    t[2, 0, 0] = np.inf
    terms = np.zeros((3, 2, 1))
    terms[2, 0, 0] = np.inf  # what a non-finite target makes of the terms (the replay starts there)
    loss_terms = Site("loss", None, "loss", "MSE", "terms", "loss terms")
    guard = _observed(Guard(None, "record", levels=()), [(loss_terms, terms, (y, t))])
    assert [(e.phase, e.layer_name, e.members) for e in guard.events] == [("input", "t", (2,))]
    other = Site("loss", None, "loss", "MSE", "gradient", "loss gradient")
    for site, inputs in ((other, (y, t)), (loss_terms, (t,)), (first, ())):
        events = _observed(Guard(None, "record", levels=()), [(site, terms, inputs)]).events
        assert [(e.phase, e.layer_name, e.members) for e in events] == [(site.phase, site.layer_name, (2,))]


def test_a_flag_raised_after_the_last_observed_array_is_not_attributed() -> None:
    """A floating-point flag raised after the step's last observed array (by code the guard does
    not watch) belongs to no array: nothing is reported, nothing fails."""
    guard = Guard(None, "record", levels=())
    with guard:
        guard.at(0, 0, slice(0, 2))
        guard.observe(_FWD1, np.ones((1, 2, 2)), ())
        np.float64(1e308) * np.float64(10)  # overflow flag, routed to the guard
        guard.check()
    assert guard.log == []


@pytest.mark.skipif("MUTANT_UNDER_TEST" in os.environ, reason="mutmut's trampoline adds frames outside refnet")
def test_the_guards_warnings_point_at_the_callers_line() -> None:
    """Whatever path inside refnet raised it (an early warning from the replay, a non-finite event,
    through train or a guard's own context), the warning names the user's line. Stack level 4 was
    right for none of them (the mutation run of issue 23: 5 or none passed every test)."""
    x, y = xor_easy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        train(mlp(seed=0), x, y, lr=1e300, epochs=3, guard="warn")
    assert caught and {str(w.message).split(":")[0] for w in caught} == {"early warning"}
    assert {(w.filename, w.lineno) for w in caught} == {(__file__, line)}
    net = mlp(seed=0)
    w = net.get_params()["linear_2.W"]
    w[0, 0, 0] = np.inf
    net.set_params({"linear_2.W": w})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        with Guard(net, "warn"):  # the parameters are checked on entry
            pass
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]


def test_non_contiguous_and_mixed_precision_arrays_are_checked_too() -> None:
    """The hot path joins the raw bytes of C-contiguous arrays of one dtype; a transposed view
    or a float32 array beside float64 ones takes the other path, which must see their values."""
    bad = np.zeros((2, 3, 1))
    bad[1, 2, 0] = np.inf
    for arrays in ([np.zeros((1, 2, 2)), np.swapaxes(bad, 0, 2)], [np.zeros((1, 2, 2)), bad.astype(np.float32)]):
        steps = [(_FWD1, a, ()) for a in arrays]
        events = _observed(Guard(None, "record", levels=()), steps).events
        assert [e.shape for e in events] == [arrays[1].shape]


@pytest.mark.parametrize("activation, loss, momentum, levels", [
    ("sigmoid", "mse", 0.0, (0.5,)), ("relu", "bce", 0.9, (0.5,)),
    ("sigmoid", "mse", 0.0, (1e-4,)),  # L² = max ** 2e-4 = 1.15: still above a sigmoid's 1
    ("sigmoid", "mse", 0.0, (1e-310,)),  # L² rounds to 1: a sigmoid's output can reach it, so it is examined
])
def test_the_hot_path_examines_every_array_but_those_another_array_vouches_for(
        monkeypatch: pytest.MonkeyPatch, activation: str, loss: str, momentum: float,
        levels: tuple[float, ...]) -> None:
    """The unplanned step's window (the lab's published arithmetic is never planned): every array
    is examined except an activation's output or input gradient (bounded or contracting maps of
    an earlier array of the window: finite in, finite out) and a parameter gradient that its own
    update takes in later (``p - lr * g`` is non-finite whenever ``g`` is), with or without
    momentum. Examining more would cost time; examining fewer could miss the first event."""
    windows: list[tuple[list[object], list[int]]] = []
    make = Guard._make_pattern

    def recorded(self: Guard) -> list[int]:
        pattern = make(self)
        windows.append((list(self._pattern_sites), list(pattern + self._pattern_large)))
        return pattern

    monkeypatch.setattr(Guard, "_make_pattern", recorded)
    x, y = xor_easy()
    net = mlp(seed=0, activation=activation, loss=loss, sigmoid="naive", relu="mask")  # type: ignore[arg-type]
    train(net, x, y, lr=0.05, epochs=2, momentum=momentum, convention="lab", guard=Guard(None, "record", levels=levels))
    sites, kept = max(windows, key=lambda w: len(w[0]))
    examined = [(s.phase, s.layer_name, s.role) for i, s in enumerate(sites) if i in kept]  # type: ignore[attr-defined]
    act = "sigmoid" if activation == "sigmoid" else "relu"
    if levels == (1e-310,):
        assert len(sites) == 23 and len(examined) == 18  # the 5 parameter gradients alone are left out
        return
    assert len(sites) == 23 and examined == [
        ("forward", "linear_1", "pre-activation"), ("forward", "linear_2", "pre-activation"),
        ("forward", "output", "pre-activation"), ("loss", loss, "loss terms"), ("loss", loss, "loss gradient"),
        ("update", "output", "weight"), ("backward", "output", "input gradient"),
        ("update", "linear_2", "weight"), ("update", "linear_2", "bias"), ("backward", "linear_2", "input gradient"),
        ("update", "linear_1", "weight"), ("update", "linear_1", "bias")]
    skipped = [(s.phase, s.layer_name) for i, s in enumerate(sites) if i not in kept]  # type: ignore[attr-defined]
    assert (("forward", f"{act}_1") in skipped and ("backward", f"{act}_2") in skipped
            and ("backward", "linear_1") in skipped)


def test_the_square_limit_is_the_square_of_the_lowest_level() -> None:
    """A window is clean while its sum of squares stays below L², L = max ** (lowest level):
    max ** (2 level), computed in the dtype; from level 0.5 up, L² would overflow, so the limit
    is inf (only non-finite values fail the hot path), as with no levels at all. No warning."""
    for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
        big = np.finfo(dtype).max
        assert Guard(None, "record", levels=(0.5, 0.25)).square_limit(dtype) == np.power(big, dtype.type(0.5))
        assert Guard(None, "record", levels=(0.1,)).square_limit(dtype) == np.power(big, dtype.type(0.2))
        for levels in ((0.5,), (0.75,), ()):
            assert Guard(None, "record", levels=levels).square_limit(dtype) == np.inf


def test_a_guard_entered_twice_stays_attached_until_the_outer_exit() -> None:
    net = mlp(seed=0)
    guard = Guard(net, "record")
    with guard:
        with guard:
            assert net.observer is guard
        assert net.observer is guard  # the inner exit does not detach it
    assert net.observer is None


def test_a_guards_levels_lie_in_zero_one_and_its_net_is_a_network() -> None:
    for bad in ((0.0,), (-0.5,), (0.5, 0.0), (1.5,)):
        with pytest.raises(ValueError, match=r"^levels\[\d\]: "):
            Guard(None, "record", levels=bad)
    assert Guard(None, "record", levels=(1.0, 1e-300)).levels == (1e-300, 1.0)
    with pytest.raises(TypeError) as info:
        Guard("net", "record")  # type: ignore[arg-type]
    assert str(info.value) == "net: expected a Network or None, got str"


# -- the hot path's rules, each on a window built by hand ----------------------------------------
# A window is the arrays one step observed; the hot path sums the squares of those it must examine
# and replays the window only when that sum is not clean. Each test below holds one non-finite
# array that only the rule under test can find: examining too little misses it.
def _one_event(guard: Guard, *steps: Sequence[tuple[Site, FloatArray, Sequence[FloatArray]]]) -> NonFiniteEvent:
    events = _observed(guard, *steps).events
    assert len(events) == 1, events
    return events[0]


@pytest.mark.parametrize("size", [4095, 4096, 4097, 8193])
def test_arrays_around_the_large_size_are_examined(size: int) -> None:
    """Arrays of at most 4,096 values are joined, larger ones summed one by one: the sizes at and
    around the boundary (and one past the sum's split) are each examined by one of the two."""
    bad = np.zeros((1, size))
    bad[0, -1] = np.nan
    assert _one_event(Guard(None, "record", levels=()), [(_FWD1, bad, ())]).shape == (1, size)


@pytest.mark.parametrize("dtype", DTYPES)
def test_joined_bytes_keep_every_array_whole(dtype: str) -> None:
    """The small arrays' bytes are joined with nothing between them: a separator would shift the
    later arrays by its length, and a NaN read across two values becomes two finite numbers."""
    arrays = [np.zeros((1, 2, 2), dtype=dtype) for _ in range(3)]
    arrays[1][0, 1, 0] = np.nan
    event = _one_event(Guard(None, "record", levels=()), [(_FWD1, a, ()) for a in arrays])
    assert (event.nan, event.first_index) == (1, (0, 1, 0))


def test_a_window_of_one_array_under_a_network() -> None:
    """The pattern reads the window's dtype from its first array: a window may hold one array."""
    net = mlp(seed=0)
    bad = np.full((1, 4, 4), np.inf)
    assert _one_event(Guard(net, "record"), [(_FWD1, bad, (np.ones((1, 4, 4)),))]).layer_name == "sigmoid_1"


def test_an_activation_is_vouched_for_only_by_an_input_of_the_same_window() -> None:
    """A bounded or contracting layer's output is left out only when its input is an earlier array
    of the window. Observed without its input, without inputs at all, or at a layer index the
    network does not have, it is examined."""
    net = mlp(seed=0)
    bad = np.full((1, 4, 4), np.nan)
    beyond = Site("forward", len(net.layers), "extra", "Sigmoid", "sigmoid", "activation")
    for site, inputs in ((_FWD1, (np.ones((1, 4, 4)),)), (_FWD1, ()), (beyond, (np.ones((1, 4, 4)),))):
        assert _one_event(Guard(net, "record"), [(site, bad, inputs)]).layer_index == site.layer_index


def test_only_a_parameter_gradient_taken_by_its_own_update_is_vouched_for() -> None:
    """``p - lr * g`` is non-finite whenever ``g`` is, so a parameter gradient is left out when an
    update of the same layer later in the window takes it in. An update of another layer, an
    update of the same layer that takes other arrays, or a forward output that an update takes
    vouch for nothing."""
    net = mlp(seed=0)
    grad = Site("backward", 0, "linear_1", "Linear", "x^T @ dy", "weight gradient")
    out = Site("forward", 0, "linear_1", "Linear", "x @ W + b", "pre-activation")
    update_0 = Site("update", 0, "linear_1", "Linear", "W - lr * dW", "weight")
    update_2 = Site("update", 2, "linear_2", "Linear", "W - lr * dW", "weight")
    grad_in = Site("backward", 0, "linear_1", "Linear", "dy @ W^T", "input gradient")
    w = np.ones((1, 2, 4))
    bad = np.full((1, 2, 4), np.nan)
    ins = (np.ones((1, 2, 4)),)  # what the bad array was computed from (finite)
    windows = [
        [(grad, bad, ins), (update_2, w, (w, bad)), (update_0, w, (w, np.ones((1, 2, 4))))],  # not its update
        [(update_0, w, (w, bad)), (grad, bad, ins)],  # an update before the gradient cannot have taken it
        [(out, bad, ins), (update_0, w, (w, bad))],  # a forward output
        [(grad_in, bad, ins), (update_0, w, (w, bad))],  # an input gradient
    ]
    for window in windows:
        nan_site = next(site for site, array, _ in window if array is bad)
        assert _one_event(Guard(net, "record"), window).role == nan_site.role
    bad = np.full((1, 2, 4), np.nan)  # taken by its own update: that update is non-finite too
    taken = _one_event(Guard(net, "record"), [(grad, bad, ins), (update_0, bad - 1.0, (w, bad))])
    assert taken.role == "weight gradient"  # the replay reports the first non-finite array


def test_members_already_reported_are_left_out_of_every_kind_of_array() -> None:
    """After member 0 is reported, the hot path looks at the other members only: arrays with a
    member axis lose member 0's row, and arrays without one (0-d, or one row shared by every
    member, small or large) are examined whole."""
    first = np.zeros((2, 2, 2))
    first[0, 0, 0] = np.nan
    later = np.zeros((2, 2, 2))
    later[0, 0, 0] = np.nan  # member 0 again: not new
    later[1, 1, 1] = np.inf
    shared_large = np.zeros((1, 5000))
    for window in ([(_FWD1, later, ()), (_FWD1, np.zeros(()), ()), (_FWD1, shared_large, ())],
                   [(_FWD1, np.zeros(()), ()), (_FWD1, shared_large, ()), (_FWD1, later, ())]):
        guard = _observed(Guard(None, "record", levels=()), [(_FWD1, first, ())], window)
        assert [e.members for e in guard.events] == [(0,), (1,)]  # the member count from `later`


def test_early_warnings_watch_only_the_phases_named() -> None:
    """``watch`` limits the early warning to its phases: a huge backward array is not reported
    when only updates are watched, and is when backward is."""
    huge = np.full((1, 2, 2), 1e200)
    back = Site("backward", 0, "linear_1", "Linear", "dy @ W^T", "input gradient")
    assert _observed(Guard(None, "record", watch=("update",)), [(back, huge, ())]).early == []
    assert len(_observed(Guard(None, "record", watch=("backward",)), [(back, huge, ())]).early) == 1


def test_non_finite_values_never_count_as_magnitudes_even_at_the_lowest_threshold() -> None:
    """At level 1e-310, ``max ** level`` rounds to 1: a member whose only nonzero value is inf
    is reported as non-finite, and no early warning claims a finite magnitude of 1 for it."""
    a = np.zeros((2, 2, 2))
    a[0, 1, 1] = np.inf
    guard = _observed(Guard(None, "record", levels=(1e-310,)), [(_FWD1, a, ())])
    assert [e.members for e in guard.events] == [(0,)] and guard.early == []


def test_as_guard_names_its_refusals_in_full_and_turns_none_into_off_for_the_network() -> None:
    net, other = mlp(seed=0), mlp(seed=1)
    with pytest.raises(ValueError) as info:
        as_guard(net, Guard(other, "record"))
    assert str(info.value) == "guard: this Guard is attached to another network"
    with pytest.raises(ValueError) as info:
        as_guard(net, "loud")  # type: ignore[arg-type]
    assert str(info.value) == "guard: expected one of raise, warn, record, off or a Guard, got 'loud'"
    off = as_guard(net, None)
    assert off.mode == "off" and off.net is net


@pytest.mark.parametrize("size", [16, 5000])
def test_a_finite_value_past_the_lowest_level_fails_the_hot_path_in_small_and_large_arrays(size: int) -> None:
    """With a level below 0.5 the limit L is finite: a finite value at or above L makes the sum of
    squares reach L², small array or large, and the replay reports the early warning."""
    threshold = np.power(np.finfo(np.float64).max, 0.1)
    a = np.zeros((1, size))
    a[0, -1] = 2 * threshold
    early = _observed(Guard(None, "record", levels=(0.1,)), [(_FWD1, np.ones((1, 4)), ()), (_FWD1, a, ())]).early
    assert [(e.shape, e.first_index) for e in early] == [((1, size), (0, size - 1))]


def test_a_window_of_zero_dimensional_arrays_after_a_report() -> None:
    """A 0-d array is one member's: after member 0 is reported, a window holding only a 0-d NaN
    has nothing new to report (and is not an error)."""
    first = np.zeros((2, 2, 2))
    first[0, 0, 0] = np.nan
    guard = _observed(Guard(None, "record", levels=()), [(_FWD1, first, ())], [(_FWD1, np.array(np.nan), ())])
    assert [e.members for e in guard.events] == [(0,)]
