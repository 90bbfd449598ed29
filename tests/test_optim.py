"""The optimizer: its update rule worked by hand, its state, and what train accumulates."""

from __future__ import annotations

import numpy as np
import pytest

from refnet import SGD, mlp, train
from refnet.data import xor_easy
from refnet.network import mean_terms
from refnet.train import prepare_data


def test_momentum_by_hand_three_steps() -> None:
    # lr = 0.5, mu = 0.25 (powers of two: every value below is exact in binary)
    # p0 = 1, gradients 2, 4, -8:
    #   s1 = 0.5*2              = 1        p1 = 1 - 1      = 0
    #   s2 = 0.5*4 + 0.25*1     = 2.25     p2 = 0 - 2.25   = -2.25
    #   s3 = 0.5*(-8) + 0.25*2.25 = -3.4375  p3 = -2.25 + 3.4375 = 1.1875
    opt = SGD(0.5, momentum=0.25)
    p = np.array([[[1.0]]])
    seen = []
    for g in (2.0, 4.0, -8.0):
        grad = np.array([[[g]]])
        new = opt.update("w", p, grad)
        assert new is not p and grad[0, 0, 0] == g  # nothing given is written into
        p = new
        seen.append(float(p[0, 0, 0]))
    assert seen == [0.0, -2.25, 1.1875]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_momentum_follows_the_documented_formula_over_many_steps(dtype: str) -> None:
    rng = np.random.default_rng(0)
    dt = np.dtype(dtype).type
    lr, mu = 0.1, 0.9
    opt = SGD(lr, momentum=mu)
    p = rng.standard_normal((1, 3, 2)).astype(dtype)
    s = None
    expected = p.copy()
    for _ in range(200):
        g = rng.standard_normal((1, 3, 2)).astype(dtype)
        p = opt.update(("layer", "W"), p, g)
        step = dt(lr) * g if s is None else dt(lr) * g + dt(mu) * s
        s = step
        expected = expected - step
        assert p.dtype == np.dtype(dtype)
    assert p.tobytes() == expected.tobytes()


def test_velocities_are_kept_per_key_and_reset() -> None:
    opt = SGD(1.0, momentum=0.5)
    one = np.ones((1, 1, 1))
    opt.update("a", one, one)
    assert opt.update("b", one, one)[0, 0, 0] == 0.0  # first step of "b": no velocity from "a"
    assert opt.update("a", one, one)[0, 0, 0] == -0.5  # 1 - (1 + 0.5 * 1)
    opt.reset()
    assert opt.update("a", one, one)[0, 0, 0] == 0.0


def test_one_optimizer_over_two_calls_equals_one_long_call() -> None:
    x, y = xor_easy()
    whole, split = mlp(seed=3), mlp(seed=3)
    h = train(whole, x, y, lr=0.3, momentum=0.9, epochs=80)
    opt = SGD(0.3, momentum=0.9)
    h1 = train(split, x, y, optimizer=opt, epochs=30)
    h2 = train(split, x, y, optimizer=opt, epochs=50)
    assert np.concatenate([h1.loss, h2.loss]).tobytes() == h.loss.tobytes()
    assert whole.get_flat().tobytes() == split.get_flat().tobytes()
    fresh = mlp(seed=3)
    train(fresh, x, y, lr=0.3, momentum=0.9, epochs=30)
    train(fresh, x, y, lr=0.3, momentum=0.9, epochs=50)  # velocity restarts: a different run
    assert fresh.get_flat().tobytes() != whole.get_flat().tobytes()


def test_optimizer_and_lr_are_exclusive() -> None:
    x, y = xor_easy()
    net = mlp(seed=0)
    with pytest.raises(ValueError, match="^optimizer"):
        train(net, x, y, lr=0.1, optimizer=SGD(0.1), epochs=1)
    with pytest.raises(TypeError, match="^lr"):
        train(net, x, y, epochs=1)
    with pytest.raises(TypeError, match="^optimizer"):
        train(net, x, y, optimizer="sgd", epochs=1)  # type: ignore[arg-type]


def test_float32_epoch_loss_is_accumulated_in_float32() -> None:
    x, y = xor_easy()
    net, ref = mlp(seed=4, dtype="float32"), mlp(seed=4, dtype="float32")
    h = train(net, x, y, lr=0.5, epochs=40, batch_size=1)
    xa, ya = prepare_data(ref, x, y)
    in32, in64 = [], []
    opt = SGD(0.5)
    from refnet.train import step
    for _ in range(40):
        total32, total64 = np.zeros(1, np.float32), np.zeros(1, np.float64)
        for i in range(21):
            part = step(ref, opt, xa[:, i:i + 1], ya[:, i:i + 1], None)
            total32 = total32 + np.float32(1 / 21) * part
            total64 = total64 + (1 / 21) * part.astype(np.float64)
        in32.append(total32[0])
        in64.append(np.float32(total64[0]))
    assert h.loss[:, 0].tobytes() == np.array(in32, np.float32).tobytes()
    assert h.loss[:, 0].tobytes() != np.array(in64, np.float32).tobytes()  # the test can tell them apart


def test_the_mean_loss_divides_by_rows_times_outputs() -> None:
    x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    t = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    net = mlp(2, (3,), 2, seed=1)
    y0 = net.predict(x)
    h = train(net, x, t, lr=0.1, epochs=1)
    expected = np.sum((y0[0] - t) ** 2) / 6
    assert h.loss[0, 0] == pytest.approx(expected, rel=1e-15)
    xa, ta = prepare_data(net, x, t)
    terms = net.loss.terms(net.forward(xa), ta)
    assert mean_terms(terms).shape == (1,)
    assert float(mean_terms(terms)[0]) == pytest.approx(float(np.sum(terms)) / 6, rel=1e-15)


def test_update_names_a_param_grad_or_key_that_does_not_fit() -> None:
    # found by tests/test_entry_points.py: "operands could not be broadcast", "unhashable type: 'list'",
    # a ufunc's loop error; two rates on a one-member param silently made a two-member result
    opt = SGD(0.5, momentum=0.5)
    w = np.ones((1, 2, 3))
    opt.update("W", w, np.zeros((1, 2, 3)))
    for args, exc, name in [(("W", w, np.zeros((1, 2))), TypeError, "grad"), (("W", w, "g"), TypeError, "grad"),
                            (("W", [1.0], [1.0]), TypeError, "param"), ((["W"], w, w), TypeError, "key"),
                            (("W", np.ones((1, 3, 3)), np.ones((1, 3, 3))), ValueError, "param")]:
        with pytest.raises(exc, match=rf"^{name}: "):
            opt.update(*args)
    with pytest.raises(ValueError, match=r"^param: expected 2 members"):
        SGD([0.5, 0.5]).update("W", w, w)


@pytest.mark.parametrize("lr, words", [
    (float("nan"), "expected finite values > 0, got nan"),
    (float("inf"), "expected finite values > 0, got inf"),
    (0.0, "expected finite values > 0, got 0.0"),
    (-0.1, "expected finite values > 0, got -0.1"),
    ([0.1, float("nan")], "expected finite values > 0, got [0.1, nan]"),
    ([[0.1]], "expected a scalar or one rate per member, got shape (1, 1)"),
    ([[0.1, 0.2]], "expected a scalar or one rate per member, got shape (1, 2)"),
    ([], "expected a number or one rate per member, got an empty list"),
])
def test_sgd_refuses_each_bad_learning_rate_in_full(lr: object, words: str) -> None:
    """A rate must be finite and positive (NaN alone, or a non-positive value alone, is enough to
    refuse it), a scalar or one per member (a 2-d array is neither)."""
    with pytest.raises(ValueError) as info:
        SGD(lr=lr)  # type: ignore[arg-type]
    assert str(info.value) == f"lr: {words}"


def test_check_lr_wants_one_rate_per_member_and_gives_float64() -> None:
    from refnet.optim import check_lr
    with pytest.raises(ValueError) as info:
        check_lr([0.1, 0.2], 3)
    assert str(info.value) == "lr: expected a scalar or shape (3,), got shape (2,)"
    for lr in (1, [1, 2], np.float32(0.5)):
        assert check_lr(lr).dtype == np.float64  # an int or float32 rate is read as float64
    assert SGD(lr=1).rates.dtype == np.float64


@pytest.mark.parametrize("momentum", [-0.1, -1e-300, 1.0, 1.5])
def test_momentum_lies_in_zero_one(momentum: float) -> None:
    with pytest.raises(ValueError, match=r"^momentum: "):
        SGD(lr=0.1, momentum=momentum)
    assert SGD(lr=0.1, momentum=0.0).momentum == 0.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_rate_may_be_the_smallest_normal_number_of_its_dtype(dtype: str) -> None:
    """:meth:`SGD.check` accepts a rate that rounds to the smallest normal number (>= tiny) and
    refuses one that rounds below it, naming the rate, its rounding and the bound."""
    tiny = np.finfo(dtype).tiny
    SGD(lr=float(tiny)).check(np.dtype(dtype), 1)
    below = float(tiny) / 2
    with pytest.raises(ValueError) as info:
        SGD(lr=below).check(np.dtype(dtype), 1)
    rounded = np.asarray(below, dtype=dtype).item()
    assert str(info.value) == (f"lr: {below} rounds to [{rounded}] in {dtype}; expected a positive normal number "
                               f"there (>= {tiny}, finite)")


@pytest.mark.parametrize("lr", [True, np.True_, "0.1", None, [0.1, "x"], [[0.1], [0.1, 0.2]]])
def test_a_rate_must_be_a_number(lr: object) -> None:
    with pytest.raises(TypeError) as info:
        SGD(lr=lr)  # type: ignore[arg-type]
    assert str(info.value) == f"lr: expected a number or an array of numbers, got {lr!r}"


def test_update_names_a_grad_that_is_not_an_array_by_its_type() -> None:
    for grad, kind in (([1.0, 2.0], "list"), (None, "NoneType"), (np.ones(2, dtype=np.float32), "float32 (2,)")):
        with pytest.raises(TypeError) as info:
            SGD(lr=0.1).update("W", np.ones(2), grad)  # type: ignore[arg-type]
        assert str(info.value) == f"grad: expected a float64 array of param's shape (2,), got {kind}"
