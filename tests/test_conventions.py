"""Readings of the lab's arithmetic: each equals a plain 2-D transcription bit for bit."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from refnet import Reading, mlp, train
from refnet.conventions import READINGS, Published, network_options, reading, resolve
from refnet.data import linear, xor_easy
from refnet.layers import naive_sigmoid, sigmoid

Arrays = dict[str, np.ndarray]


def _transcription(params: Arrays, x: np.ndarray, t: np.ndarray, lr: float, epochs: int, r: Reading,
                   activation: str, loss: str, dtype: str) -> tuple[np.ndarray, Arrays]:
    """The lab's network written out in 2-D NumPy, one reading's formulas spelled literally.

    Forward Linear/act/Linear/act/Linear(no bias)/Sigmoid; from the top each
    Linear computes ``dW = x^T dy``, updates ``W``, then ``b``, and returns
    ``dy @ W^T`` with the updated ``W`` (the lab's order). The loss gradient is
    written as a student would: ``2 * (y - t) / N`` or ``(y - t) / N`` (MSE),
    ``-(t / (y + d) - (1 - t) / ((1 - y) + d)) / N`` (BCE), without ``/ N`` for
    the summed reading.
    """
    dt = np.dtype(dtype).type
    one, two = dt(1), dt(2)
    delta = dt(1e-7)
    rate = dt(lr)
    out_sig = naive_sigmoid if r.sigmoid == "naive" else sigmoid

    def act(a: np.ndarray) -> np.ndarray:
        return out_sig(a) if activation == "sigmoid" else np.maximum(a, dt(0))

    def act_grad(d: np.ndarray, a: np.ndarray, h: np.ndarray) -> np.ndarray:
        return d * ((one - h) * h) if activation == "sigmoid" else np.where(a > 0, d, dt(0))

    w1, b1, w2, b2, w3 = (params[k][0].copy() for k in
                          ["linear_1.W", "linear_1.b", "linear_2.W", "linear_2.b", "output.W"])
    x, t = x.astype(dtype), t.astype(dtype)
    n = x.shape[0]
    size = n if r.batch_size is None else r.batch_size
    history = np.empty(epochs, dtype=dtype)
    for epoch in range(epochs):
        total = np.zeros(1, dtype=dtype)
        for start in range(0, n, size):
            xb, tb = x[start:start + size], t[start:start + size]
            rows = xb.shape[0]
            a1 = xb @ w1 + b1
            h1 = act(a1)
            a2 = h1 @ w2 + b2
            h2 = act(a2)
            y = out_sig(h2 @ w3)
            if loss == "mse":
                terms = (y - tb) * (y - tb)
                d = two * (y - tb) if r.mse_derivative == "2(y-t)" else (y - tb)
            else:
                terms = -(tb * np.log(y + delta) + (one - tb) * np.log((one - y) + delta))
                d = -(tb / (y + delta) - (one - tb) / ((one - y) + delta))
            if r.gradient == "mean":
                d = d / dt(rows)
            batch_loss = np.sum(terms) / dt(terms.size)
            if r.log_base == "2" and loss == "bce":
                batch_loss = batch_loss * dt(1 / math.log(2))
            total = total + dt(rows / n) * batch_loss
            d = d * ((one - y) * y)
            w3 = w3 - rate * (h2.T @ d)
            d = act_grad(d @ w3.T, a2, h2)
            w2 = w2 - rate * (h1.T @ d)
            b2 = b2 - rate * np.sum(d, axis=0, keepdims=True)
            d = act_grad(d @ w2.T, a1, h1)
            w1 = w1 - rate * (xb.T @ d)
            b1 = b1 - rate * np.sum(d, axis=0, keepdims=True)
        history[epoch] = total[0]
    return history, {"linear_1.W": w1, "linear_1.b": b1, "linear_2.W": w2, "linear_2.b": b2, "output.W": w3}


READING_GRID = [Reading(g, m, lb, s, b) for g, m, lb, s, b in itertools.product(
    ("mean", "sum"), ("2(y-t)", "(y-t)"), ("e", "2"), ("naive", "stable"), (None, 20))]


@pytest.mark.parametrize("r", READING_GRID, ids=lambda r: r.label)
@pytest.mark.parametrize("activation,loss", [("sigmoid", "mse"), ("relu", "bce")])
def test_every_reading_equals_its_plain_transcription(r: Reading, activation: str, loss: str) -> None:
    x, y = xor_easy()
    for dtype in ("float32", "float64"):
        lr = (1.0 if r.gradient == "mean" else 0.05) if activation == "sigmoid" else 0.01
        net = mlp(activation=activation, loss=loss, dtype=dtype, seed=3, sigmoid=r.sigmoid)
        ref_loss, ref_params = _transcription(net.get_params(), x, y, lr, 60, r, activation, loss, dtype)
        h = train(net, x, y, lr=lr, epochs=60, convention=r)
        assert h.loss.dtype == np.dtype(dtype)
        assert h.loss[:, 0].tobytes() == ref_loss.tobytes(), (dtype, r.label)
        for name, value in net.get_params().items():
            assert value[0].tobytes() == ref_params[name].tobytes(), (dtype, name)
        assert h.convention == r.label


def test_lab_sum_is_the_earlier_lab_convention() -> None:
    assert READINGS["lab-sum"] == Reading(gradient="sum", mse_derivative="2(y-t)", log_base="e",
                                          sigmoid="stable", batch_size=None)


def test_mean_reading_is_the_summed_reading_at_lr_over_n_up_to_rounding() -> None:
    # In exact arithmetic mean(lr) == sum(lr / N); in float64 they agree to rounding, not bitwise.
    x, y = linear(40, np.random.default_rng(1))
    mean_net, sum_net = mlp(seed=2, sigmoid="stable"), mlp(seed=2, sigmoid="stable")
    h_mean = train(mean_net, x, y, lr=0.5, epochs=300, convention=Reading("mean", sigmoid="stable"))
    h_sum = train(sum_net, x, y, lr=0.5 / 40, epochs=300, convention=Reading("sum", sigmoid="stable"))
    np.testing.assert_allclose(h_mean.loss, h_sum.loss, rtol=1e-10)
    assert h_mean.loss.tobytes() != h_sum.loss.tobytes() or mean_net.get_flat().tobytes() != sum_net.get_flat().tobytes()


def test_log2_reading_rescales_only_the_reported_loss() -> None:
    x, y = xor_easy()
    nets = [mlp(activation="relu", loss="bce", seed=5, sigmoid="naive") for _ in range(2)]
    h_e = train(nets[0], x, y, lr=0.01, epochs=50, convention="lab-evidence")
    h_2 = train(nets[1], x, y, lr=0.01, epochs=50, convention=READINGS["lab-evidence"].but(log_base="2"))
    assert np.array_equal(nets[0].get_flat(), nets[1].get_flat())  # training unchanged
    np.testing.assert_allclose(h_2.loss, h_e.loss / math.log(2), rtol=4e-16)


def test_reading_batch_size_is_the_default_batching_and_an_explicit_one_wins() -> None:
    x, y = xor_easy()
    r20 = READINGS["lab-evidence"].but(batch_size=20)
    a, b, c = (mlp(seed=1, sigmoid="naive") for _ in range(3))
    ha = train(a, x, y, lr=0.5, epochs=5, convention=r20)
    hb = train(b, x, y, lr=0.5, epochs=5, convention="lab-evidence", batch_size=20)
    hc = train(c, x, y, lr=0.5, epochs=5, convention=r20, batch_size=21)
    assert ha.loss.tobytes() == hb.loss.tobytes()
    assert ha.loss.tobytes() != hc.loss.tobytes()


@pytest.mark.parametrize("r", [READINGS["lab-evidence"], READINGS["lab-sum"], *READING_GRID[::5]], ids=str)
def test_labels_name_their_readings(r: Reading) -> None:
    assert reading(r.label) == r
    assert resolve(r.label) == r and resolve(r) == r
    assert resolve("default") is None


@pytest.mark.parametrize("bad,exc", [
    ("lab[gradient=avg]", ValueError), ("lab[batch=0]", ValueError), ("lab[batch=x]", ValueError),
    ("lab[speed=1]", ValueError), ("lba", ValueError), ("lab[gradient]", ValueError), (3, TypeError),
    ("lab[batch=\u00b2]", ValueError), ("lab[batch=\u0663]", ValueError), ("lab[batch=+3]", ValueError),
    ("lab[gradient=sum,gradient=mean]", ValueError), ("lab[batch=5,batch=5]", ValueError),
])
def test_bad_conventions_are_named(bad: object, exc: type[Exception]) -> None:
    with pytest.raises(exc, match="^convention"):
        resolve(bad)


def test_label_errors_name_the_key_and_refuse_non_ascii_digits() -> None:
    with pytest.raises(ValueError, match="key 'gradient' given twice"):
        resolve("lab[gradient=sum,gradient=mean]")
    with pytest.raises(ValueError, match="ASCII digits.*'\u0663'"):
        resolve("lab[batch=\u0663]")  # an Arabic-Indic three: int() would read it as 3
    assert resolve("lab[batch=3]") == READINGS["lab-evidence"].but(batch_size=3)


def test_the_published_convention_and_its_network_formulas() -> None:
    lab = resolve("lab")
    assert isinstance(lab, Published) and lab.label == "lab" and resolve("lab-page14") == Published(bce="page14")
    assert network_options("lab") == ("naive", "mask") and network_options("default") == ("stable", "max")
    assert network_options("lab-evidence") == ("naive", "max")
    x, y = xor_easy()
    for kwargs, option in (({"sigmoid": "stable", "relu": "mask"}, "sigmoid='naive'"),
                           ({"sigmoid": "naive", "activation": "relu"}, "relu='mask'")):
        net = mlp(seed=0, **kwargs)  # type: ignore[arg-type]
        before = net.get_flat()
        with pytest.raises(ValueError, match=f"^convention: lab .*{option}"):
            train(net, x, y, lr=0.1, epochs=3, convention="lab")
        assert np.array_equal(net.get_flat(), before)
    with pytest.raises(ValueError, match="^bce"):
        Published(bce="new")  # type: ignore[arg-type]


def test_published_mse_rounds_two_over_b_first_and_bce_is_summed_in_nats_reported_in_bits() -> None:
    """Worked by hand on one 3-row batch: the lab's formulas, not refnet's default ones."""
    net = mlp(seed=0, sigmoid="naive", relu="mask")
    y = np.array([[[0.2], [0.7], [0.9]]])
    t = np.array([[[0.0], [1.0], [1.0]]])
    loss, g = resolve("lab").loss_and_grad(net, y, t)  # type: ignore[union-attr]
    d = y - t
    assert np.array_equal(g, (2 / 3) * d)  # the scalar 2/3 rounded first, then multiplied
    assert loss[0] == np.mean(d * d)
    # the other order, 2 (y - t) / 3, differs in the last bit for 0.7 - 1: the test can tell them apart
    assert not np.array_equal(g, 2 * d / 3)
    bce = mlp(seed=0, sigmoid="naive", loss="bce")
    loss, g = resolve("lab").loss_and_grad(bce, y, t)  # type: ignore[union-attr]
    a, b = y + 1e-7, (1 - y) + 1e-7
    assert loss[0] == (-1 / 3) * np.sum(t * np.log2(a) + (1 - t) * np.log2(b))
    assert np.array_equal(g, -(t / a - (1 - t) / b))  # not divided by the batch
    old_loss, old_g = resolve("lab-page14").loss_and_grad(bce, y, t)  # type: ignore[union-attr]
    assert old_loss[0] == -np.sum(t * np.log2(a) + (1 - t) * np.log2(b)) / 3
    assert np.array_equal(old_g, d / (y * (1 - y) * 3))


def test_a_reading_refuses_a_network_with_the_other_sigmoid_before_any_change() -> None:
    x, y = xor_easy()
    net = mlp(seed=0, sigmoid="stable")
    before = net.get_flat()
    with pytest.raises(ValueError, match="^convention: .*sigmoid='naive'"):
        train(net, x, y, lr=0.1, epochs=3, convention=READINGS["lab-evidence"].but(sigmoid="naive"))
    assert np.array_equal(net.get_flat(), before)


def test_reading_fields_are_validated_by_name() -> None:
    with pytest.raises(ValueError, match="^gradient"):
        Reading(gradient="avg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^batch_size"):
        Reading(batch_size=0)


def test_a_batch_of_one_row_is_a_reading() -> None:
    assert reading("lab[batch=1]").batch_size == 1
    with pytest.raises(ValueError, match=r"^convention: batch must be 'full' or a positive integer"):
        reading("lab[batch=0]")


def test_the_published_arithmetic_names_a_loss_it_does_not_define() -> None:
    net = mlp(loss="bce-logits", sigmoid="naive", relu="mask")
    x, y = xor_easy()
    with pytest.raises(ValueError, match=r"^convention: lab defines MSE and BCE \(with delta\), not BCEWithLogits$"):
        train(net, x, y, lr=0.1, epochs=1, convention="lab")


@pytest.mark.parametrize("field", ["gradient", "mse_derivative", "log_base", "sigmoid"])
def test_a_reading_names_the_field_it_refuses(field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: expected one of \("):
        Reading(**{field: "10"})  # type: ignore[arg-type]


def test_a_reading_of_one_row_batches() -> None:
    assert Reading(batch_size=1).batch_size == 1
    with pytest.raises(ValueError, match=r"^batch_size: expected an integer >= 1, got 0$"):
        Reading(batch_size=0)


def test_the_published_arithmetic_takes_either_sigmoid() -> None:
    assert Published(sigmoid="stable").sigmoid == "stable"
    with pytest.raises(ValueError, match=r"^sigmoid: expected 'naive' or 'stable', got 'fast'$"):
        Published(sigmoid="fast")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, b"lab-sum", ["lab-sum"], np.array(["mean", "sum"]), 3])
def test_a_label_or_field_that_is_not_text_is_named(value: object) -> None:
    # found by tests/test_entry_points.py: these were AttributeError, "unhashable type: 'list'" or
    # "The truth value of an array ... is ambiguous"
    with pytest.raises(TypeError, match=r"^convention: expected a string"):
        reading(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^gradient: expected a string"):
        Reading(gradient=value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^bce: expected a string"):
        Published(bce=value)  # type: ignore[arg-type]


def test_the_words_of_each_label_refusal() -> None:
    """Unknown names list every convention; a label must both open with ``lab[`` and close with
    ``]``; a part's key is what comes before its first ``=`` (so ``batch=2=3`` is a batch of
    '2=3'); an unknown key lists the keys."""
    from refnet.conventions import reading
    unknown = ("; choose one of default, lab, lab-page14, lab-evidence, lab-sum "
               "or a label like 'lab[gradient=sum,batch=20]'")
    for label in ("nope", "lab[gradient=sum", "gradient=sum]"):
        with pytest.raises(ValueError) as info:
            reading(label)
        assert str(info.value) == f"convention: unknown name {label!r}{unknown}"
    with pytest.raises(ValueError) as info:
        reading("lab[batch=2=3]")
    assert str(info.value) == ("convention: batch must be 'full' or a positive integer (ASCII digits) in "
                               "'lab[batch=2=3]', got '2=3'")
    with pytest.raises(ValueError) as info:
        reading("lab[colour=red]")
    assert str(info.value) == ("convention: cannot read 'colour=red' in 'lab[colour=red]'; "
                               "keys are gradient, mse, log, sigmoid, batch")
