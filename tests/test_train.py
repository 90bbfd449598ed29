"""Training: determinism, the documented runs reach 100%, the lab convention re-derived, bad input."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest

from refnet import mlp, train
from refnet.data import linear, xor_easy
from refnet.layers import sigmoid
from refnet.progress import Progress
from refnet.train import prepare_data


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_gives_bitwise_identical_runs(dtype: str) -> None:
    x, y = xor_easy()
    runs = []
    for _ in range(2):
        net = mlp(activation="relu", loss="bce", dtype=dtype, seed=11)
        h = train(net, x, y, lr=0.01, epochs=300, batch_size=5)
        runs.append(_digest(h.loss, net.get_flat()))
    assert runs[0] == runs[1]
    other = mlp(activation="relu", loss="bce", dtype=dtype, seed=12)
    assert _digest(train(other, x, y, lr=0.01, epochs=300, batch_size=5).loss, other.get_flat()) != runs[0]


def test_documented_xor_run_reaches_100_percent() -> None:
    # docs/design.md: the lab's 2-4-4-1 sigmoid/MSE network, lr 1.0, 20,000 full-batch epochs.
    x, y = xor_easy()
    net = mlp(seed=0)
    h = train(net, x, y, lr=1.0, epochs=20000)
    assert h.accuracy[0] == 100.0
    assert h.final_loss[0] < 1e-3


@pytest.mark.parametrize("convention,lr", [("default", 1.0), ("lab-sum", 0.1)])
def test_documented_linear_runs_reach_100_percent(convention: str, lr: float) -> None:
    x, y = linear(100, np.random.default_rng(0))
    net = mlp(seed=[0, 1, 2])
    h = train(net, x, y, lr=lr, epochs=3000, convention=convention)
    assert np.all(h.accuracy == 100.0)


def _lab_rederivation(params: dict[str, np.ndarray], x: np.ndarray, t: np.ndarray,
                      lr: float, epochs: int) -> tuple[list[float], dict[str, np.ndarray]]:
    """The lab's update order written out in plain 2-D NumPy, independent of refnet's loop.

    Forward through Linear/Sigmoid/Linear/Sigmoid/Linear(no bias)/Sigmoid; the MSE
    gradient is that of the sum, 2 (y - t); then from the top: each Linear computes
    dW = x^T dy, updates W, computes db, updates b, and returns dy @ W^T with the
    *updated* W.
    """
    w1, b1, w2, b2, w3 = (params[k][0].copy() for k in
                          ["linear_1.W", "linear_1.b", "linear_2.W", "linear_2.b", "output.W"])
    losses = []
    for _ in range(epochs):
        a1 = x @ w1 + b1
        h1 = sigmoid(a1)
        a2 = h1 @ w2 + b2
        h2 = sigmoid(a2)
        a3 = h2 @ w3
        y = sigmoid(a3)
        diff = y - t
        losses.append(float(np.sum(diff * diff) / diff.size))
        d = 2.0 * (y - t)
        d = d * ((1.0 - y) * y)
        w3 = w3 - lr * (h2.T @ d)
        d = d @ w3.T
        d = d * ((1.0 - h2) * h2)
        w2 = w2 - lr * (h1.T @ d)
        b2 = b2 - lr * np.sum(d, axis=0, keepdims=True)
        d = d @ w2.T
        d = d * ((1.0 - h1) * h1)
        w1 = w1 - lr * (x.T @ d)
        b1 = b1 - lr * np.sum(d, axis=0, keepdims=True)
    return losses, {"linear_1.W": w1, "linear_1.b": b1, "linear_2.W": w2, "linear_2.b": b2, "output.W": w3}


def test_lab_convention_matches_a_plain_rederivation_bit_for_bit() -> None:
    x, y = xor_easy()
    net = mlp(seed=4)
    ref_losses, ref_params = _lab_rederivation(net.get_params(), x, y, 0.1, 200)
    h = train(net, x, y, lr=0.1, epochs=200, convention="lab-sum")
    assert h.loss[:, 0].tolist() == ref_losses
    for name, value in net.get_params().items():
        assert np.array_equal(value[0], ref_params[name]), name


def test_default_convention_is_gradient_then_update() -> None:
    # One default step equals p - lr * (gradient of the mean loss at the old parameters).
    x, y = xor_easy()
    net = mlp(seed=5)
    xa, ya = prepare_data(net, x, y)
    _, grads = net.gradients(xa, ya)
    before = net.get_params()
    train(net, x, y, lr=0.5, epochs=1)
    for i, layer in enumerate(net.layers):
        for p, g in grads[i].items():
            assert np.array_equal(layer.params[p], before[f"{layer.name}.{p}"] - 0.5 * g)


def test_lab_convention_is_not_a_rescaled_learning_rate() -> None:
    # Summed gradients alone would make lab(lr) equal default(lr * N) in exact arithmetic; the
    # update-inside-backward order makes the runs differ by far more than rounding.
    x, y = xor_easy()
    lab, default = mlp(seed=6), mlp(seed=6)
    h_lab = train(lab, x, y, lr=0.1, epochs=50, convention="lab-sum")
    h_def = train(default, x, y, lr=0.1 * x.shape[0], epochs=50)
    assert np.max(np.abs(h_lab.loss - h_def.loss)) > 1e-6


def test_momentum_zero_is_plain_sgd_and_momentum_changes_the_run() -> None:
    x, y = xor_easy()
    a, b, c = mlp(seed=1), mlp(seed=1), mlp(seed=1)
    ha = train(a, x, y, lr=0.5, epochs=100)
    hb = train(b, x, y, lr=0.5, epochs=100, momentum=0.0)
    hc = train(c, x, y, lr=0.5, epochs=100, momentum=0.9)
    assert np.array_equal(ha.loss, hb.loss)
    assert not np.array_equal(ha.loss, hc.loss)


def test_minibatch_epoch_loss_is_the_weighted_mean_of_batch_losses() -> None:
    x, y = xor_easy()
    net = mlp(seed=2)
    ref = mlp(seed=2)
    h = train(net, x, y, lr=0.1, epochs=1, batch_size=8)  # batches of 8, 8, 5
    xa, ya = prepare_data(ref, x, y)
    from refnet.optim import SGD
    from refnet.train import step
    opt = SGD(0.1)
    parts = [step(ref, opt, xa[:, s], ya[:, s], None)[0] for s in (slice(0, 8), slice(8, 16), slice(16, 21))]
    expected = 8 / 21 * parts[0] + 8 / 21 * parts[1] + 5 / 21 * parts[2]
    assert h.loss[0, 0] == pytest.approx(expected, rel=1e-15)
    assert np.array_equal(net.get_flat(), ref.get_flat())


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"x": [[0.0, np.nan]]}, ValueError, "x"),
        ({"x": [[0.0, 1.0, 2.0]]}, ValueError, "x"),
        ({"x": [["a", "b"]]}, TypeError, "x"),
        ({"y": [[2.0]]}, ValueError, "y"),
        ({"y": [[-0.5]]}, ValueError, "y"),
        ({"y": [[0.0], [1.0]]}, ValueError, "y"),
        ({"y": [[np.inf]]}, ValueError, "y"),
        ({"lr": -0.1}, ValueError, "lr"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": np.nan}, ValueError, "lr"),
        ({"lr": [0.1, 0.2]}, ValueError, "lr"),
        ({"epochs": -1}, ValueError, "epochs"),
        ({"epochs": 2.5}, TypeError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"convention": "torch"}, ValueError, "convention"),
        ({"momentum": 1.0}, ValueError, "momentum"),
    ],
)
def test_bad_input_is_named_and_nothing_changes(kwargs: dict[str, object], exc: type[Exception], match: str) -> None:
    net = mlp(seed=0)
    before = net.get_flat().copy()
    args: dict[str, object] = {"x": [[0.1, 0.2]], "y": [[1.0]], "lr": 0.1, "epochs": 3}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        train(net, args.pop("x"), args.pop("y"), **args)  # type: ignore[arg-type]
    assert np.array_equal(net.get_flat(), before)


def test_per_member_learning_rates_equal_separate_runs() -> None:
    x, y = xor_easy()
    ens = mlp(activation="relu", loss="bce", seed=[3, 3, 9])
    h = train(ens, x, y, lr=np.array([0.01, 0.02, 0.01]), epochs=200, convention="lab-sum")
    for k, (s, lr) in enumerate([(3, 0.01), (3, 0.02), (9, 0.01)]):
        alone = mlp(activation="relu", loss="bce", seed=s)
        ha = train(alone, x, y, lr=lr, epochs=200, convention="lab-sum")
        assert np.array_equal(h.loss[:, k], ha.loss[:, 0])
        assert np.array_equal(ens.get_flat()[k], alone.get_flat()[0])


def test_progress_reports_on_stderr_and_is_silent_when_quiet() -> None:
    out = io.StringIO()
    p = Progress(10, "job", stream=out, every=0.0)
    p.update(5)
    p.update(10)
    assert "job: 5/10 epochs" in out.getvalue() and out.getvalue().endswith("\n")
    quiet = io.StringIO()
    q = Progress(10, "job", stream=quiet, quiet=True, every=0.0)
    q.update(10)
    assert quiet.getvalue() == ""


def test_single_network_numbers_refuse_an_ensemble_by_name() -> None:
    x, y = xor_easy()
    history = train(mlp(seed=[0, 1]), x, y, lr=0.1, epochs=2)
    for name in ("final_loss_value", "accuracy_value"):
        with pytest.raises(ValueError, match=rf"^{name}: this run trained 2 members; use final_loss / accuracy, "
                                             "which keep the member axis$"):
            getattr(history, name)
    one = train(mlp(seed=0), x, y, lr=0.1, epochs=2)
    assert one.final_loss_value == float(one.loss[-1, 0]) and one.accuracy_value == float(one.accuracy[0])


def test_step_takes_a_convention_by_name_and_computes_no_gradient_below_the_first_layer() -> None:
    """``step`` (public) resolves a convention's name itself, to the same bits as the resolved
    reading; and, like the default path, it sends no gradient down from the first layer (an
    observer would see that wasted array)."""
    from refnet.conventions import resolve
    from refnet.optim import SGD
    from refnet.train import step

    class Sites:
        def __init__(self) -> None:
            self.seen: list[tuple[str, int | None, str]] = []

        def at(self, epoch: int, step: int, batch: slice) -> None:
            pass

        def observe(self, site: object, array: object, inputs: object) -> None:
            self.seen.append((site.phase, site.layer_index, site.role))  # type: ignore[attr-defined]

    x, y = xor_easy()
    named, resolved, default = (mlp(seed=0, sigmoid="naive", observer=Sites()) for _ in range(3))
    xa, ya = prepare_data(named, x, y)
    step(named, SGD(0.1), xa, ya, "lab-sum")
    step(resolved, SGD(0.1), xa, ya, resolve("lab-sum"))
    step(default, SGD(0.1), xa, ya, "default")
    assert named.get_flat().tobytes() == resolved.get_flat().tobytes() != default.get_flat().tobytes()
    seen = named.observer.seen  # type: ignore[union-attr]
    assert ("backward", 1, "input gradient") in seen and ("backward", 0, "input gradient") not in seen


def test_train_is_quiet_by_default_and_labels_its_progress_train(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = xor_easy()
    train(mlp(seed=0), x, y, lr=0.1, epochs=2)
    assert capsys.readouterr().err == ""
    train(mlp(seed=0), x, y, lr=0.1, epochs=2, quiet=False)
    assert capsys.readouterr().err.lstrip("\r").startswith("train")


def test_train_names_what_it_was_given_instead_of_a_network_or_an_optimizer() -> None:
    x, y = xor_easy()
    with pytest.raises(TypeError) as info:
        train("net", x, y, lr=0.5, epochs=1)  # type: ignore[arg-type]
    assert str(info.value) == "net: expected a Network, got str"
    with pytest.raises(TypeError) as info:
        train(mlp(), x, y, optimizer="sgd", epochs=1)  # type: ignore[arg-type]
    assert str(info.value) == "optimizer: expected an SGD, got str"


def test_the_loss_history_bound_is_inclusive_and_said_in_gib() -> None:
    """epochs x members x itemsize bytes of history: at exactly HISTORY_BYTES training goes on
    (here to the data's check, which refuses ``x``), one epoch more is refused first."""
    from refnet.train import HISTORY_BYTES
    x, y = xor_easy()
    limit = HISTORY_BYTES // 8  # float64 epochs of one member
    with pytest.raises(ValueError, match="^x: "):
        train(mlp(), x[:, :1], y, lr=0.5, epochs=limit)
    with pytest.raises(ValueError) as info:
        train(mlp(), x[:, :1], y, lr=0.5, epochs=limit + 1)
    gib = HISTORY_BYTES / 1024**3
    assert str(info.value) == (f"epochs: {limit + 1} epochs x 1 members need {gib:.1f} GiB of loss history "
                               f"(limit {gib:.0f} GiB); train in several calls with one optimizer, or use "
                               "refnet.sweep with keep_every")
    with pytest.raises(ValueError, match=r"^epochs: \d+ epochs x 2 members need "):
        train(mlp(seed=[0, 1]), x, y, lr=0.5, epochs=limit // 2 + 1)
    with pytest.raises(ValueError) as info:  # 256 GiB: a slip in the unit shows in the first digits
        train(mlp(seed=list(range(64))), x, y, lr=0.5, epochs=limit)
    assert f"epochs x 64 members need {64 * gib:.1f} GiB of loss history" in str(info.value)


def test_progress_is_updated_every_1000_epochs_unless_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loss is read for the progress line after epochs 1, 1001, 2001, ... (reading it is a
    sync with the training loop, so not every epoch), and never when quiet."""
    import sys
    train_module = sys.modules["refnet.train"]  # the module (refnet.train is also the function's name)
    updates: list[tuple[int, bool]] = []

    class Recorded(Progress):
        def update(self, done: int, extra: str = "") -> None:
            updates.append((done, extra.startswith("loss ")))

    monkeypatch.setattr(train_module, "Progress", Recorded)
    x, y = xor_easy()
    train(mlp(), x, y, lr=0.5, epochs=2001, quiet=False)
    assert [done for done, with_loss in updates if with_loss] == [1, 1001, 2001]
    updates.clear()
    train(mlp(), x, y, lr=0.5, epochs=2001, quiet=True)
    assert not any(with_loss for _, with_loss in updates)


def test_the_words_of_train_s_other_refusals_and_its_history_s_fields() -> None:
    """The rate that rounds to zero in float32 (its smallest normal number is accepted); y of
    the wrong length, with x's row count; an unknown guard mode and a guard attached elsewhere.
    A run's History names the default convention and its wall time in seconds."""
    import time

    from refnet import SGD, Guard
    tiny32 = float(np.finfo(np.float32).tiny)
    SGD(tiny32).check(np.dtype(np.float32), 1)
    with pytest.raises(ValueError) as info:
        SGD(1e-50).check(np.dtype(np.float32), 1)
    assert str(info.value) == (f"lr: 1e-50 rounds to [0.0] in float32; expected a positive normal number there "
                               f"(>= {tiny32}, finite)")
    x, y = xor_easy()
    for kwargs, words in [({"y": y[:5]}, "y: expected shape (21, 1) to match x, got (5, 1)"),
                          ({"guard": "loud"}, "guard: expected one of raise, warn, record, off or a Guard, got 'loud'"),
                          ({"guard": Guard(mlp(), "raise")}, "guard: this Guard is attached to another network")]:
        with pytest.raises(ValueError) as info:
            train(mlp(), x, kwargs.pop("y", y), lr=0.5, epochs=1, **kwargs)  # type: ignore[arg-type]
        assert str(info.value) == words
    start = time.perf_counter()
    history = train(mlp(), x, y, lr=0.5, epochs=50)
    assert history.convention == "default" and 0 < history.seconds <= time.perf_counter() - start


def test_one_dimensional_labels_train_a_one_output_network_only() -> None:
    """``y`` of shape (N,) is read as (N, 1) for a network with one output (the same bits as
    giving (N, 1)), and refused, naming y, for a network with two."""
    x, y = xor_easy()
    flat, column = mlp(seed=0), mlp(seed=0)
    train(flat, x, y.ravel(), lr=0.1, epochs=3)
    train(column, x, y.reshape(-1, 1), lr=0.1, epochs=3)
    assert np.array_equal(flat.get_flat(), column.get_flat())
    with pytest.raises(ValueError) as info:
        train(mlp(seed=0, outputs=2), x, y.ravel(), lr=0.1, epochs=3)
    assert str(info.value) == f"y: expected shape ({len(x)}, 2) to match x, got ({len(x)},)"
