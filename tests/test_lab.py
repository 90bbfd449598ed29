"""refnet.lab runs the lab's published program byte for byte.

The oracle is ``tests/lab_transcription.py``: the facts of ``shared/LAB_SOURCE.md`` written
as plain 2-D NumPy, one statement per operation. Equality is exact (``array_equal`` with
NaNs equal): the same operations in the same order on the same values give the same bits.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import refnet
from refnet import lab
from refnet.conventions import Published, resolve
from refnet.optim import SGD
from refnet.train import step

from tests.lab_transcription import CASES, transcribed_run



def _config(case: tuple) -> lab.Config:  # type: ignore[type-arg]
    data, act, loss, hidden, lr, epochs, batch, every, _, out = case
    return lab.Config(data=data, activation=act, loss=loss, hidden=hidden, lr=lr, epochs=epochs,
                      batch_size=batch, log_every=every, output_sigmoid=out)


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-B{c[6]}-seed{c[8]}")
def test_run_equals_the_transcription_byte_for_byte(case: tuple) -> None:  # type: ignore[type-arg]
    data, act, loss, hidden, lr, epochs, batch, every, seed, out = case
    with np.errstate(all="ignore"):
        params, log, pred = transcribed_run(data, act, loss, hidden, lr, epochs, batch, every, seed,
                                            output_sigmoid=out)
    r = lab.run(_config(case), seed)
    for name, value in params.items():
        assert _equal(r.params[name].reshape(value.shape), value), name
    assert _equal(r.logged, np.array(log, dtype=np.float64).reshape(-1, 2))
    assert _equal(r.predictions, pred)
    hits = np.sum(np.where(pred > 0.5, 1.0, np.where(pred < 0.5, 0.0, np.nan)) == r.t)
    assert r.accuracy == 100 * (hits / r.t.shape[0])


def test_the_transcription_can_tell_a_slip() -> None:
    """The oracle is sharp: the mean BCE gradient (the evidence-chosen reading's) gives other bits."""
    params, log, _ = transcribed_run("xor", "relu", "bce", (4, 4), 0.01, 30, 21, 10, 1)
    net = lab.EXPERIMENTS["relu-bce-0.01"].build()
    rs = np.random.RandomState(1)
    lab.draw_data(lab.EXPERIMENTS["relu-bce-0.01"], rs)
    net.set_params(dict(lab.draw_params(lab.EXPERIMENTS["relu-bce-0.01"], rs)))
    x, t = refnet.data.xor_easy()
    idx = lab.draw_batches(lab.EXPERIMENTS["relu-bce-0.01"], rs, 30)
    opt = SGD(0.01)
    reading = resolve("lab[gradient=mean,log=2]")
    for e in range(30):
        rows = idx[e, 0]
        step(net, opt, x[rows][None], t[rows][None], reading)
    assert not np.array_equal(net.named_params()["output.W"][0], params["output.W"])


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[5], CASES[8]], ids=["xor-mse", "xor-bce-B5",
                                                                                "linear-bce", "page14"])
def test_members_of_one_ensemble_equal_their_runs_alone(case: tuple) -> None:  # type: ignore[type-arg]
    cfg = _config(case)
    seed = case[8]
    seeds, rates = [seed, seed + 1, seed, seed + 2], [cfg.lr, cfg.lr, cfg.lr * 1.5, cfg.lr * 0.5]
    many = lab.run_many(cfg, seeds, rates)
    for s, r, got in zip(seeds, rates, many):
        alone = lab.run(cfg.but(lr=r), s)
        assert got.seed == s and got.lr == r
        assert _equal(got.logged, alone.logged)
        assert _equal(got.predictions, alone.predictions)
        for name in alone.params:
            assert _equal(got.params[name], alone.params[name]), name
        assert got.accuracy == alone.accuracy


def test_a_big_ensemble_equals_runs_alone() -> None:
    """Nine members or more take the kernels' member-innermost layouts: the bits stay."""
    cfg = _config(CASES[3])
    seeds = list(range(10))
    many = lab.run_many(cfg, seeds, [0.05 + 0.01 * s for s in seeds])
    for k in (0, 9):
        alone = lab.run(cfg.but(lr=0.05 + 0.01 * k), k)
        assert _equal(many[k].logged, alone.logged)
        assert _equal(many[k].params["linear_1.W"], alone.params["linear_1.W"])


def test_sweep_over_processes_equals_runs_alone() -> None:
    cfg = _config(CASES[2])
    runs = [(3, 0.01), (1, 0.02), (3, 0.03), (1, 0.01)]
    out = lab.sweep(cfg, runs, workers=2, chunk_size=2)
    inline = lab.sweep(cfg, runs, workers=0, chunk_size=3)
    for (seed, lr), a, b in zip(runs, out, inline):
        alone = lab.run(cfg.but(lr=lr), seed)
        assert (a.seed, a.lr) == (seed, lr)
        assert _equal(a.logged, alone.logged) and _equal(b.logged, alone.logged)
        assert _equal(a.params["output.W"], alone.params["output.W"])


def test_the_lab_pair_reproduces_at_seed_0() -> None:
    """The lab's own result: seed 0, 50,000 epochs, ReLU + BCE, one batch of 21 per epoch.

    0.001490625 converges (final logged loss below 0.001 bits, every point right) and
    0.001490626 blows up: from epoch 10,000 on, every logged value is a whole number of
    wrongly saturated draws, each costing ``-log2(1e-7)`` bits, divided by 21.
    """
    cfg = lab.EXPERIMENTS["pair-625"]
    low, high = lab.run_many(cfg, [0, 0], [0.001490625, 0.001490626])
    assert low.final_loss < 1e-3 and low.accuracy == 100.0
    assert high.final_loss > 10 and high.accuracy < 60
    unit = -math.log2(1e-7) / 21
    late = high.logged[high.logged[:, 0] >= 10_000, 1] / unit
    # a correctly saturated draw costs log2(1 + 1e-7) = 1.4e-7 bits; an output a hair short of
    # saturation costs a little less than a unit (measured: at most 3.2e-4 units, epochs 45,799
    # and 45,999); a 1e-3 slack still tells a multiple from anything in the converged band
    assert np.all(np.abs(late - np.round(late)) < 1e-3)
    assert np.all(np.round(late) >= 1)
    # page 17: ~1.0 bit at first, a spike to about 1.24 near epoch 3,600
    assert abs(low.logged[0, 1] - 1.0) < 0.01
    assert abs(low.logged[low.logged[:, 0] == 3599, 1][0] - 1.24) < 0.01


def test_batch_draws_are_the_lab_choice_calls() -> None:
    cfg = lab.Config(data="xor", batch_size=5, epochs=10)
    a, b = np.random.RandomState(4), np.random.RandomState(4)
    blocks = np.concatenate([lab.draw_batches(cfg, a, 3), lab.draw_batches(cfg, a, 7)])
    calls = np.array([[b.choice(21, 5) for _ in range(cfg.iterations)] for _ in range(10)])
    assert np.array_equal(blocks, calls)
    assert a.randn() == b.randn()  # both streams are at the same place afterwards


def test_stream_order_data_then_every_linear_then_batches() -> None:
    cfg = lab.Config(data="linear", n=7, hidden=(3, 2))
    rs = np.random.RandomState(9)
    x, t = lab.draw_data(cfg, rs)
    p = lab.draw_params(cfg, rs)
    ref = np.random.RandomState(9)
    assert np.array_equal(x, ref.uniform(0, 1, (7, 2)))
    assert np.array_equal(t[:, 0], np.where(x[:, 0] > x[:, 1], 0.0, 1.0))
    for name, shape in (("linear_1", (2, 3)), ("linear_2", (3, 2))):
        assert np.array_equal(p[f"{name}.W"][0], ref.randn(*shape))
        assert np.array_equal(p[f"{name}.b"][0, 0], ref.randn(shape[1]))
    assert np.array_equal(p["output.W"][0], ref.randn(2, 1))
    ref.randn(1)  # the output's bias: drawn, never used
    assert "output.b" not in p
    assert np.array_equal(lab.draw_batches(cfg, rs, 1), ref.randint(0, 7, (1, cfg.iterations, 20)))


@pytest.mark.parametrize(("points", "batch", "iterations"), [(21, 20, 1), (21, 5, 4), (100, 20, 5), (21, 21, 1),
                                                               (21, 100, 1), (10, 4, 2), (14, 4, 4)])
def test_iterations_round_half_to_even(points: int, batch: int, iterations: int) -> None:
    data = "xor" if points == 21 else "linear"
    assert lab.Config(data=data, n=points, batch_size=batch).iterations == iterations


def test_experiments_are_as_the_code_ran_them() -> None:
    ex = lab.EXPERIMENTS
    for label in (1, 0.75, 0.5, 0.1, 0.05, 0.01):
        cfg = ex[f"lr-{label:g}"]
        assert (cfg.lr, cfg.epochs, cfg.batch_size, cfg.data) == (10.0, 2_000, 20, "linear")
        assert lab.LABELLED[f"lr-{label:g}"] == label
    assert [ex[f"units-{u}"].hidden for u in (4, 6, 8, 10)] == [(4, 4), (6, 6), (8, 8), (10, 10)]
    assert all(ex[f"units-{u}"].lr == 10.0 and lab.LABELLED[f"units-{u}"] == 0.05 for u in (4, 6, 8, 10))
    no_act = ex["no-activation"]
    assert (no_act.batch_size, no_act.hidden, no_act.activation, no_act.output_sigmoid) == (5, (6, 4), "none", False)
    assert ex["output-sigmoid-only"].output_sigmoid and ex["relu-mse"].batch_size == 5
    assert ex["pair-625"].epochs == 50_000 and ex["pair-626"].lr == 0.001490626
    assert lab.SEEDED == {"relu-bce-0.01", "relu-bce-0.001", "pair-625", "pair-626"}


def test_the_run_that_overflowed_is_named_by_the_guard() -> None:
    r = lab.run(lab.EXPERIMENTS["no-activation"].but(epochs=3_000), 0, guard="record")
    assert r.events, "the lab's no-activation run goes non-finite within a few hundred epochs"
    first = r.events[0]
    assert first.epoch is not None and first.epoch < 3_000
    assert first.phase in ("forward", "loss", "backward", "update")
    assert r.accuracy == 0.0  # NaN predictions are never right, as the lab printed


@pytest.mark.parametrize(("field", "value", "error", "start"), [
    ("data", "spiral", ValueError, "data"), ("activation", "tanh", ValueError, "activation"),
    ("loss", "bce-logits", ValueError, "loss"), ("hidden", (4,), TypeError, "hidden"),
    ("hidden", (4, 0), ValueError, "hidden[1]"), ("lr", 0.0, ValueError, "lr"), ("lr", "0.1", TypeError, "lr"),
    ("epochs", -1, ValueError, "epochs"), ("batch_size", 0, ValueError, "batch_size"),
    ("log_every", 1.5, TypeError, "log_every"), ("n", 0, ValueError, "n"),
    ("output_sigmoid", 1, TypeError, "output_sigmoid"), ("kernel", "gpu", ValueError, "kernel"),
])
def test_bad_config_values_are_named(field: str, value: object, error: type[Exception], start: str) -> None:
    with pytest.raises(error) as info:
        lab.Config(**{field: value})  # type: ignore[arg-type]
    assert str(info.value).startswith(start)


def test_bad_run_arguments_are_named() -> None:
    cfg = lab.Config(epochs=1)
    with pytest.raises(TypeError, match="^config"):
        lab.run("xor", 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^lrs: expected 2"):
        lab.run_many(cfg, [0, 1], [0.1])
    with pytest.raises(ValueError, match=r"^lrs\[1\]"):
        lab.run_many(cfg, [0, 1], [0.1, -1.0])
    with pytest.raises(TypeError, match=r"^runs\[0\]"):
        lab.sweep(cfg, [0.1], workers=0)  # type: ignore[list-item]


def test_unseeded_runs_differ_and_seeded_ones_repeat() -> None:
    cfg = lab.Config(data="linear", epochs=5, log_every=1)
    assert not np.array_equal(lab.run(cfg).x, lab.run(cfg).x)
    assert np.array_equal(lab.run(cfg, 3).logged, lab.run(cfg, 3).logged)


def test_result_network_holds_the_final_parameters() -> None:
    r = lab.run(lab.Config(epochs=20), 0)
    net = r.network
    assert np.array_equal(net.predict_one(r.x), r.predictions)
    assert isinstance(resolve("lab"), Published)


def test_draws_name_config_rs_and_epochs_and_leave_the_stream() -> None:
    # found by tests/test_entry_points.py: AttributeError on None, "Maximum allowed size exceeded"
    rs = np.random.RandomState(0)
    state = rs.get_state()[1].copy()
    for call, name in ((lambda: lab.draw_data(None, rs), "config"),  # type: ignore[arg-type]
                       (lambda: lab.draw_params(lab.Config(), None), "rs"),  # type: ignore[arg-type]
                       (lambda: lab.draw_batches(lab.Config(), rs, 2**63), "epochs")):
        with pytest.raises((TypeError, ValueError), match=rf"^{name}: "):
            call()
    assert np.array_equal(rs.get_state()[1], state)
