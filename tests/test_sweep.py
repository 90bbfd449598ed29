"""Sweeps: every member bitwise equal to the network trained alone, whatever the
chunking, worker count or executor; per-member isolation; streaming; readouts."""

from __future__ import annotations

import hashlib
import io
import itertools
import multiprocessing
import re
from collections.abc import Iterator
from typing import Any
from concurrent.futures import Executor, ProcessPoolExecutor

import numpy as np
import pytest

import refnet
import refnet.sweep
import refnet.sweep as sw
from refnet import reproducible
from refnet.data import linear, xor_easy
from refnet.kernels import MEMBER_LAST, kernel
from refnet.outcomes import Criteria, LossTracker, judge, summarize
from refnet.sweep import (Member, MemberResult, Setup, default_chunk_size, grid, iter_sweep,
                          kept_epochs, sweep)
from refnet.train import prepare_data, train

X, Y = xor_easy()
EPOCHS = 40
LAB = Setup(X, Y, epochs=EPOCHS, activation="relu", loss="bce")
SIGMOID = Setup(X, Y, epochs=EPOCHS)
HUGE = {"float32": 1e30, "float64": 1e300}
"""Learning rates that overflow the weights to inf/NaN within two epochs."""
# Learning rates per convention: stall or converge, blow up (then overflow per dtype).
LRS = {"lab-sum": (0.001, 0.3), "default": (0.5, 1e3)}


def bits(a: np.ndarray) -> bytes:
    """The bytes of ``a`` with every NaN made the canonical quiet NaN.

    Every non-NaN value (signed zeros, infinities, subnormals) is compared bit
    for bit; a NaN's sign and payload are not: x86 SIMD and BLAS code paths
    make NaNs of either sign for the same invalid operation (seen with the
    float32 BLAS kernel), and IEEE 754 leaves them unspecified.
    """
    out = np.array(a, copy=True)
    if out.dtype.kind == "f":
        out[np.isnan(out)] = np.nan
    return out.tobytes()


def alone(setup: Setup, m: Member) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The member trained by itself: the reference every sweep result must equal."""
    net = setup.build([m.seed], m.dtype, m.kernel)
    hist = train(net, setup.x, setup.y, lr=m.lr, epochs=setup.epochs, convention=m.convention, guard="off")
    return hist.loss[:, 0], net.get_params()


def assert_same_as_alone(setup: Setup, results: list[MemberResult]) -> None:
    for r in results:
        loss, params = alone(setup, r.member)
        assert r.loss.dtype == loss.dtype
        assert bits(r.loss) == bits(loss[r.loss_epochs]), r.member
        assert params.keys() == r.params.keys()
        for name, value in params.items():
            assert r.params[name].dtype == value.dtype
            assert bits(r.params[name]) == bits(value), (r.member, name)


def assert_same_results(a: list[MemberResult], b: list[MemberResult]) -> None:
    assert [r.index for r in a] == [r.index for r in b]
    for r, s in zip(a, b):
        assert r.member == s.member
        assert bits(r.loss) == bits(s.loss)
        for name in r.params:
            assert bits(r.params[name]) == bits(s.params[name])
        assert r.readout == s.readout or np.isnan(r.readout.final_loss)
        assert r.nonfinite == s.nonfinite


@pytest.mark.parametrize("kernel", ["blas", "portable"])
@pytest.mark.parametrize("convention", ["default", "lab-sum"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_member_bitwise_equals_its_run_alone(dtype: str, convention: str, kernel: str) -> None:
    setup = LAB
    members = grid(range(5), (*LRS[convention], HUGE[dtype]), dtype=dtype, convention=convention, kernel=kernel)
    whole = sweep(setup, members, workers=0, chunk_size=len(members))  # one ensemble of 15
    assert_same_as_alone(setup, whole)
    for size in (1, 4):  # other chunkings give the same bits
        assert_same_results(whole, sweep(setup, members, workers=0, chunk_size=size))
    outcomes = {r.readout.outcome for r in whole}
    assert "diverged" in outcomes and outcomes - {"diverged"}, outcomes
    assert any(not r.nonfinite.params_finite for r in whole)  # NaN/inf members were in the chunk


def test_minibatches_and_momentum_bitwise_equal_alone() -> None:
    xl, yl = linear(30, 4)
    setup = Setup(xl, yl, epochs=12, hidden=(5, 3), activation="tanh", loss="bce-logits",
                  bias=(True, True, True), batch_size=8, momentum=0.5)
    members = grid(range(3), (0.1, 2.0), kernel="portable") + grid(range(3), (0.1,), dtype="float32")
    res = sweep(setup, members, workers=0, chunk_size=6, check_every=5)
    for r in res:
        net = setup.build([r.member.seed], r.member.dtype, r.member.kernel)
        hist = train(net, xl, yl, lr=r.member.lr, epochs=12, batch_size=8, momentum=0.5)
        assert bits(r.loss) == bits(hist.loss[:, 0])
        assert bits(net.get_flat()) == bits(np.concatenate([v.reshape(1, -1) for v in r.params.values()], axis=1))


def test_large_ensemble_bitwise_equals_alone() -> None:
    """A chunk wide enough for the kernels' member-axis fast paths."""
    for name in ("blas", "portable"):
        members = grid(range(40), (0.001, 2.0), convention="lab-sum", kernel=name)
        res = sweep(Setup(X, Y, epochs=15, activation="relu", loss="bce"), members, workers=0,
                    chunk_size=80)
        picked = [res[i] for i in (0, 1, 37, 78, 79)]
        assert_same_as_alone(Setup(X, Y, epochs=15, activation="relu", loss="bce"), picked)


@pytest.mark.parametrize("workers", [1, 2])
def test_worker_processes_give_the_in_process_bits(workers: int) -> None:
    members = (grid(range(3), LRS["lab-sum"], convention="lab-sum", dtype="float32")
               + grid(range(3), LRS["lab-sum"], convention="lab-sum", kernel="portable"))
    here = sweep(LAB, members, workers=0, chunk_size=4)
    there = sweep(LAB, members, workers=workers, chunk_size=2)
    assert_same_results(here, there)
    assert_same_as_alone(LAB, there[:3])


def test_any_executor_and_input_order() -> None:
    # groups interleave: each run of one dtype becomes its own chunk, order is kept
    members = [Member(s, 0.5, dtype) for s in range(4) for dtype in ("float32", "float64")]
    with ProcessPoolExecutor(2) as pool:
        res = sweep(SIGMOID, members, executor=pool, chunk_size=3)
    assert [r.index for r in res] == list(range(len(members)))
    assert [r.member for r in res] == members
    assert [r.loss.dtype for r in res] == [np.dtype(m.dtype) for m in members]
    assert_same_as_alone(SIGMOID, res)


def test_dask_local_cluster_matches_in_process() -> None:
    distributed = pytest.importorskip("distributed")
    members = grid(range(4), LRS["lab-sum"], convention="lab-sum")
    here = sweep(LAB, members, workers=0, chunk_size=5)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        there = sweep(LAB, members, executor=client.get_executor(), chunk_size=3)
    assert_same_results(here, there)


def test_one_members_nan_never_touches_another() -> None:
    members = [Member(0, 0.5), Member(0, HUGE["float64"]), Member(2, 0.5)]
    res = sweep(LAB, members, workers=0, chunk_size=3)
    bad = res[1]
    assert bad.nonfinite.first_loss_epoch is not None and bad.nonfinite.loss_epochs > 0
    assert not bad.nonfinite.params_finite and bad.readout.outcome == "diverged"
    assert not np.all(np.isfinite(bad.loss))
    for good in (res[0], res[2]):
        assert good.nonfinite.first_loss_epoch is None and good.nonfinite.loss_epochs == 0
        assert good.nonfinite.params_finite and np.all(np.isfinite(good.loss))
    assert_same_as_alone(LAB, res)


def test_nan_planted_in_one_member_stays_there() -> None:
    net = refnet.mlp(seed=[0, 1, 2], kernel="portable")
    w = net.layers[0].params["W"].copy()
    w[1, 0, 0] = np.nan
    net.layers[0].params["W"] = w
    train(net, X, Y, lr=0.5, epochs=5, guard="off")
    flat = net.get_flat()
    assert np.all(np.isfinite(flat[[0, 2]])) and not np.all(np.isfinite(flat[1]))
    ref = refnet.mlp(seed=[0, 2], kernel="portable")
    train(ref, X, Y, lr=0.5, epochs=5, guard="off")
    assert bits(ref.get_flat()) == bits(flat[[0, 2]])


def test_stop_diverged_freezes_only_the_dead_and_keeps_bits() -> None:
    members = [Member(s, lr) for s in range(3) for lr in (0.5, HUGE["float64"])]
    full = sweep(LAB, members, workers=0, chunk_size=6)
    stopped = sweep(LAB, members, workers=0, chunk_size=6, stop_diverged=True, check_every=7)
    for r, s in zip(full, stopped):
        if r.nonfinite.params_finite:
            assert s.nonfinite.stopped_epoch is None
            assert bits(r.loss) == bits(s.loss) and s.readout == r.readout
            for name in r.params:
                assert bits(r.params[name]) == bits(s.params[name])
        else:
            stop = s.nonfinite.stopped_epoch
            assert stop is not None and stop % 7 == 0 and stop < EPOCHS
            assert bits(s.loss[:stop]) == bits(r.loss[:stop])
            assert np.all(np.isnan(s.loss[stop:]))
            assert s.readout.outcome == "diverged" and not s.nonfinite.params_finite


def test_stop_diverged_when_every_member_dies() -> None:
    members = [Member(s, HUGE["float64"], convention="lab-sum") for s in range(3)]
    full = sweep(LAB, members, workers=0)
    res = sweep(LAB, members, workers=0, stop_diverged=True, check_every=5, keep_every=3)
    for r, s in zip(full, res):
        assert s.nonfinite.stopped_epoch == 5 and s.readout.outcome == "diverged"
        assert r.readout.decided_epoch == s.readout.decided_epoch
        early = s.loss_epochs < 5
        assert bits(s.loss[early]) == bits(r.loss[s.loss_epochs[early]])
        assert np.all(np.isnan(s.loss[~early])) and not s.nonfinite.params_finite
        assert {k: v.shape for k, v in s.params.items()} == {k: v.shape for k, v in r.params.items()}


def test_keep_every_keeps_exact_bits_and_the_last_epoch() -> None:
    setup = Setup(X, Y, epochs=23, activation="relu", loss="bce")
    members = grid(range(3), (0.001, 0.01), convention="lab-sum")
    res = sweep(setup, members, workers=0, keep_every=5, check_every=4)
    assert list(res[0].loss_epochs) == [0, 5, 10, 15, 20, 22]
    assert_same_as_alone(setup, res)


def test_readouts_equal_judge_of_the_run_alone() -> None:
    setup = Setup(X, Y, epochs=250, criteria=Criteria(window=30))
    members = [Member(0, 1.0), Member(1, 8.0), Member(2, 1e8), Member(3, HUGE["float64"], convention="lab-sum")]
    res = sweep(setup, members, workers=0, check_every=60, keep_every=50)
    for r in res:
        net = setup.build([r.member.seed])
        hist = train(net, X, Y, lr=r.member.lr, epochs=setup.epochs, convention=r.member.convention, guard="off")
        xa, ya = prepare_data(net, X, Y)
        assert r.readout == judge(net, xa, ya, hist.loss, setup.criteria)[0] or (
            np.isnan(r.readout.plateau_ratio))


def test_loss_tracker_equals_summarize_in_any_blocks() -> None:
    rng = np.random.default_rng(5)
    hist = rng.standard_normal((300, 4)) ** 2
    hist[120:, 1] = np.nan
    hist[200, 2] = 1e9
    hist[250:, 3] = 1e-4
    crit = Criteria(window=37)
    ref = summarize(hist, crit)
    for cuts in ([300], [1, 299], [36, 1, 100, 163], [7] * 42 + [6]):
        tracker = LossTracker(4, 300, crit)
        start = 0
        for n in cuts:
            tracker.update(hist[start : start + n])
            start += n
        got = tracker.summary()
        for field in ("final", "first_below", "first_blown", "first_mean", "last_mean"):
            assert bits(getattr(got, field)) == bits(getattr(ref, field)), (cuts, field)


def test_stream_is_lazy_and_in_order() -> None:
    """An endless member stream: results arrive without reading it all (bounded memory)."""
    drawn = 0

    def endless() -> Iterator[Member]:
        nonlocal drawn
        for s in itertools.count():
            drawn += 1
            yield Member(s % 7, 0.5)

    setup = Setup(X, Y, epochs=3)
    first = list(itertools.islice(iter_sweep(setup, endless(), workers=0, chunk_size=4), 10))
    assert [r.index for r in first] == list(range(10))
    assert drawn <= 16


def test_progress_on_stream_and_quiet() -> None:
    members = grid(range(4), (0.5,))
    out = io.StringIO()
    sweep(SIGMOID, members, workers=0, chunk_size=2, quiet=False, stream=out)
    text = out.getvalue()
    assert "4/4 networks" in text and "net-epochs/s" in text and "s left" in text
    quiet = io.StringIO()
    sweep(SIGMOID, members, workers=0, chunk_size=2, stream=quiet)
    assert quiet.getvalue() == ""


def test_default_chunk_stays_in_cache() -> None:
    size = default_chunk_size(LAB)
    assert 16 <= size <= 4096 and size & (size - 1) == 0
    assert size * LAB.bytes_per_member() <= refnet.sweep.CACHE_BYTES
    assert size == 256  # the lab network: 21 points x (2+4+4+1) + 45 parameters, float64
    big = Setup(*linear(2000, 0), epochs=1, hidden=(64, 64))
    assert default_chunk_size(big) < size


def test_kept_epochs() -> None:
    assert list(kept_epochs(10, 1)) == list(range(10))
    assert list(kept_epochs(10, 3)) == [0, 3, 6, 9]
    assert list(kept_epochs(11, 3)) == [0, 3, 6, 9, 10]
    assert kept_epochs(0, 3).size == 0


@pytest.mark.parametrize("bad, error", [
    (Member(-1, 0.1), ValueError), (Member(0, -0.1), ValueError), (Member(0, float("nan")), ValueError),
    (Member(0, 0.1, dtype="float16"), ValueError), (Member(0, 0.1, convention="fast"), ValueError),
    (Member(0, 0.1, kernel="gpu"), ValueError), ("not a member", TypeError),
])
def test_bad_members_raise_naming_the_member(bad: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"members\[1\]"):
        sweep(SIGMOID, [Member(0, 0.1), bad], workers=0)  # type: ignore[list-item]


def test_bad_options_raise() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        sweep(SIGMOID, [Member(0, 0.1)], workers=0, chunk_size=0)
    with pytest.raises(ValueError, match="keep_every"):
        sweep(SIGMOID, [Member(0, 0.1)], workers=0, keep_every=0)
    with pytest.raises(TypeError, match="setup"):
        sweep("xor", [Member(0, 0.1)], workers=0)  # type: ignore[arg-type]


# -- hot-path pin: these digests were recorded before the kernels' member-axis fast paths ----
# (the bce-logits "minibatch" digests re-recorded when its gradient took the exact hard-label
# forms -sigmoid(-z) / sigmoid(z); with the old sigmoid(z) - t they are the earlier ones)
_PIN_ENV = ("2.4.6", "AVX512_ICL")
_PINS = {
    ("float32", "blas", "lab-evidence"): "b73e4fdba11fcedc", ("float32", "blas", "default"): "d5f6c5a4a0eb9672",
    ("float32", "blas", "minibatch"): "7535630c59c76a2f",
    ("float32", "portable", "lab-evidence"): "15be2c1c792e1da0", ("float32", "portable", "default"): "3e2b1d050b560aab",
    ("float32", "portable", "minibatch"): "666044f628cb42d4",
    ("float64", "blas", "lab-evidence"): "346e8bc58149cfcc", ("float64", "blas", "default"): "f5ff72d368ad35da",
    ("float64", "blas", "minibatch"): "d9ca8c4fdb712558",
    ("float64", "portable", "lab-evidence"): "b832125ec3930e4a", ("float64", "portable", "default"): "6d2f497db2a1336f",
    ("float64", "portable", "minibatch"): "b0f44d69c49d4e60",
}


def _pin_env_matches() -> bool:
    from numpy._core._multiarray_umath import __cpu_features__ as features

    return np.__version__ == _PIN_ENV[0] and bool(features.get(_PIN_ENV[1]))


@pytest.mark.skipif(not _pin_env_matches(), reason="digests recorded on numpy 2.4.6 with AVX512_ICL")
@pytest.mark.parametrize("key", sorted(_PINS))
def test_default_path_bits_are_pinned(key: tuple[str, str, str]) -> None:
    dtype, kernel, case = key
    if case == "lab-evidence":
        net = refnet.mlp(dtype=dtype, kernel=kernel, activation="relu", loss="bce", seed=2)
        hist = train(net, X, Y, lr=0.001, epochs=300, convention="lab-sum")
    elif case == "default":
        net = refnet.mlp(dtype=dtype, kernel=kernel, seed=[0, 1, 2])
        hist = train(net, X, Y, lr=1.0, epochs=300)
    else:
        xl, yl = linear(40, 3)
        net = refnet.mlp(dtype=dtype, kernel=kernel, seed=1, bias=[True, True, True],
                         loss="bce-logits", activation="tanh")
        hist = train(net, xl, yl, lr=0.5, epochs=100, batch_size=8)
    digest = hashlib.sha256(hist.loss.tobytes())
    digest.update(net.get_flat().tobytes())
    assert digest.hexdigest()[:16] == _PINS[key]


# -- kernels: the member-axis fast paths compute each member's own bits ---------------
def _awkward(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Normal values over many magnitudes, with signed zeros, infinities, NaN, subnormals."""
    a = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, shape)
    pick = rng.random(shape)
    a[pick < 0.05] = -0.0
    a[(pick >= 0.05) & (pick < 0.07)] = np.inf
    a[(pick >= 0.07) & (pick < 0.08)] = np.nan
    a[(pick >= 0.08) & (pick < 0.1)] = np.finfo(dtype).smallest_subnormal * 3
    return a.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["blas", "portable"])
def test_kernel_fast_paths_equal_each_member_alone(name: str, dtype: str) -> None:
    kern = kernel(name)
    rng = np.random.default_rng(11)
    k, n = 3 * MEMBER_LAST, 21
    for n_in, n_out in ((2, 4), (4, 4), (4, 1), (3, 2)):
        x = _awkward(rng, (k, n, n_in), dtype)
        w = _awkward(rng, (k, n_in, n_out), dtype)
        d = _awkward(rng, (k, n, n_out), dtype)
        shared = _awkward(rng, (1, n, n_in), dtype)
        ops = {
            "matmul": (lambda s: kern.matmul(x[s], w[s])),
            "matmul shared x": (lambda s: kern.matmul(shared, w[s])),
            "matmul_nt": (lambda s: kern.matmul_nt(d[s], w[s])),
            "matmul_tn": (lambda s: kern.matmul_tn(x[s], d[s])),
            "matmul_tn shared x": (lambda s: kern.matmul_tn(shared, d[s])),
            "sum_rows": (lambda s: kern.sum_rows(d[s])),
        }
        with np.errstate(all="ignore"):
            for op, f in ops.items():
                whole = f(slice(None))
                assert whole.dtype == np.dtype(dtype)
                for m in range(k):
                    assert bits(whole[m : m + 1]) == bits(f(slice(m, m + 1))), (op, n_in, n_out, m)


def test_member_last_views_give_the_same_bits() -> None:
    """A portable layer hands on member-last views; every consumer must not care."""
    rng = np.random.default_rng(3)
    k = 2 * MEMBER_LAST
    x = _awkward(rng, (k, 21, 4), "float64")
    w = _awkward(rng, (k, 4, 4), "float64")
    x_last = np.ascontiguousarray(np.moveaxis(x, 0, -1))
    view = np.moveaxis(x_last, -1, 0)  # same values, member axis innermost in memory
    assert not view.flags.c_contiguous
    with np.errstate(all="ignore"):
        for name in ("blas", "portable"):
            kern = kernel(name)
            assert bits(kern.matmul(view, w)) == bits(kern.matmul(x, w))
            assert bits(kern.matmul_tn(view, x)) == bits(kern.matmul_tn(x, x))
            assert bits(kern.sum_rows(view)) == bits(kern.sum_rows(x))
        terms = view[..., :1]
        assert bits(refnet.network.mean_terms(terms)) == bits(refnet.network.mean_terms(x[..., :1]))


# -- machines: fingerprints of the math that decides the bits --------------------------
class _Alternating(Executor):
    """Sends chunks in turn to two pools: a cluster of two unlike machines."""

    def __init__(self, first: Executor, second: Executor) -> None:
        self.pools = (first, second)
        self.count = 0

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        self.count += 1
        return self.pools[self.count % 2].submit(fn, *args, **kwargs)


def test_pinned_environment_names_every_dispatch_target() -> None:
    env = reproducible.pinned_environment()
    assert env[reproducible.PIN_VARIABLE].split(",") == list(reproducible.simd_targets())
    assert env["OPENBLAS_NUM_THREADS"] == "1"
    fp = reproducible.fingerprint()
    assert len(fp) == 16 and int(fp, 16) >= 0 and fp == reproducible.fingerprint()
    assert reproducible.kernel_fingerprint("portable") == fp
    assert reproducible.kernel_fingerprint("blas").startswith(fp + "/")


@pytest.mark.skipif(not any(reproducible.simd_targets().values()),
                    reason="NumPy uses no dispatch target here: pinning changes nothing")
def test_unlike_workers_are_caught_and_pinned_workers_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    members = grid(range(4), (0.001,), convention="lab-sum", kernel="portable")
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as plain:
        plain.submit(int).result()  # started before the variable is set
        monkeypatch.setenv(reproducible.PIN_VARIABLE, reproducible.pinned_environment()[reproducible.PIN_VARIABLE])
        with ProcessPoolExecutor(1, mp_context=ctx) as pinned:
            pinned_fp = pinned.submit(reproducible.fingerprint).result()
            mixed = _Alternating(plain, pinned)
            if pinned_fp != reproducible.fingerprint():
                with pytest.raises(RuntimeError, match="fingerprint"):
                    sweep(LAB, members, executor=mixed, chunk_size=1)
            res = sweep(LAB, members, executor=mixed, chunk_size=1, same_math=False)
            assert {r.fingerprint for r in res} == {reproducible.fingerprint(), pinned_fp}
            both_pinned = _Alternating(pinned, pinned)
            res = sweep(LAB, members, executor=both_pinned, chunk_size=1)
            assert {r.fingerprint for r in res} == {pinned_fp}


@pytest.mark.parametrize("convention", ["lab-evidence", "lab-sum", "default"])
def test_members_with_their_own_init_and_reading_equal_their_runs_alone(convention: str) -> None:
    setup = Setup(X, Y, epochs=150, activation="relu", loss="bce")
    members = [Member(s, lr, convention=convention, init=init)
               for s in range(3) for init in (None, "xavier", "he") for lr in (0.001, 0.01)]
    results = sweep(setup, members, workers=0, chunk_size=len(members))
    for r in results:
        alone = setup.build_for([r.member])
        assert alone.get_flat().tobytes() == setup.build_for(members).get_flat()[r.index:r.index + 1].tobytes()
        hist = train(alone, X, Y, lr=r.member.lr, epochs=150, convention=convention, guard="off")
        assert hist.loss[:, 0].tobytes() == r.loss.tobytes()
        for name, value in alone.get_params().items():
            assert value.tobytes() == r.params[name].tobytes(), name
    with pytest.raises(ValueError, match=r"^members\[0\]\.init"):
        sweep(setup, [Member(0, 0.1, init="glorot")], workers=0)  # type: ignore[arg-type]


# -- the sizing helpers, on their own (the mutation run of issue 23 found them untested) -------------
def test_a_members_measure_counts_every_layers_weights_and_biases() -> None:
    """2-4-4-1 on 4 rows: activations 4 x (2 + 4 + 4 + 1) = 44 values, parameters (2*4 + 4) +
    (4*4 + 4) + (4*1 + 1) = 37, 8 bytes each in float64, 4 in float32; a batch of 2 counts 2 rows."""
    x, y = np.zeros((4, 2)), np.zeros((4, 1))
    assert Setup(x=x, y=y, epochs=1).bytes_per_member() == 8 * (44 + 37)
    assert Setup(x=x, y=y, epochs=1).bytes_per_member("float32") == 4 * (44 + 37)
    assert Setup(x=x, y=y, epochs=1, batch_size=2).bytes_per_member() == 8 * (22 + 37)


def test_default_chunk_size_bounds() -> None:
    """A power of two at most 4096 members; a member bigger than the cache budget alone in its chunk;
    below 16 members the quotient itself."""
    from refnet.sweep import CACHE_BYTES

    tiny = Setup(x=np.zeros((1, 1)), y=np.zeros((1, 1)), epochs=1, hidden=())
    assert default_chunk_size(tiny) == 4096
    huge = Setup(x=np.zeros((64, 2)), y=np.zeros((64, 1)), epochs=1, hidden=(CACHE_BYTES // 8 // 64,))
    assert huge.bytes_per_member() > CACHE_BYTES and default_chunk_size(huge) == 1
    some = Setup(x=np.zeros((64, 2)), y=np.zeros((64, 1)), epochs=1, hidden=(CACHE_BYTES // 8 // 64 // 11,))
    per = some.bytes_per_member()
    assert CACHE_BYTES // per == 10 and default_chunk_size(some) == 10


def test_default_workers_is_the_usable_cores_and_at_least_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5}, raising=False)
    assert refnet.sweep.default_workers() == 1
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # not Linux: the CPU count
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert refnet.sweep.default_workers() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # unknown: one
    assert refnet.sweep.default_workers() == 1


def test_process_pool_spawns_the_workers_asked_for() -> None:
    """Checked without starting a process (a pool starts its workers on the first task)."""
    pool = refnet.sweep.process_pool(3)
    try:
        assert pool._max_workers == 3  # the pool keeps both as given (CPython's attributes)
        assert pool._mp_context.get_start_method() == "spawn"
    finally:
        pool.shutdown()
    pool = refnet.sweep.process_pool()
    try:
        assert pool._max_workers == refnet.sweep.default_workers()
    finally:
        pool.shutdown()
    with pytest.raises(ValueError, match="^workers: expected an integer >= 1, got 0$"):
        refnet.sweep.process_pool(0)


def test_grid_passes_every_field_on() -> None:
    members = grid([3, 1], [0.5, 0.25], dtype="float32", convention="lab-sum", kernel="portable")
    assert [(m.seed, m.lr) for m in members] == [(3, 0.5), (3, 0.25), (1, 0.5), (1, 0.25)]
    assert {(m.dtype, str(m.convention), m.kernel) for m in members} == {("float32", "lab-sum", "portable")}


def test_build_for_is_mlp_with_every_field_of_the_setup_and_member() -> None:
    """An independent oracle (mlp called directly) for what a member's network is: the sweep's own
    checks compare build_for with itself, so a field it dropped would pass them."""
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    y = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    setup = Setup(x=x, y=y, epochs=1, hidden=(3,), activation="relu", output_activation="sigmoid", loss="bce",
                  bias=(True, False), init="xavier", bce_delta=1e-3)
    plain, own = Member(5, 0.1, "float32", "lab", "portable"), Member(6, 0.1, "float32", "lab", "portable", "he")
    net = setup.build_for([plain, own])

    def alone(seed: int, init: str) -> refnet.Network:
        return refnet.mlp(2, (3,), 2, activation="relu", output_activation="sigmoid", loss="bce", bias=(True, False),
                          init=init, dtype="float32", seed=[seed], kernel="portable", bce_delta=1e-3,  # type: ignore[arg-type]
                          sigmoid="naive", relu="mask")

    for k, ref in enumerate((alone(5, "xavier"), alone(6, "he"))):
        assert net.get_flat()[k:k + 1].tobytes() == ref.get_flat().tobytes()
    assert (net.out_features, net.loss.delta) == (2, 1e-3)  # type: ignore[attr-defined]
    assert [getattr(layer, "formula", None) for layer in net.layers] == [
        None, "mask", None, "naive"]


def test_check_every_one_freezes_a_member_after_the_epoch_its_parameters_went_non_finite() -> None:
    """stop_diverged with check_every=1: each member is frozen after exactly the epoch that made a
    parameter non-finite, as training it alone one epoch at a time shows (5 and 6 here)."""
    x, y = xor_easy()
    setup = Setup(x, y, epochs=12, activation="identity", output_activation="identity")
    members = [Member(0, 5.0), Member(0, 3.0)]
    stopped = [r.nonfinite.stopped_epoch for r in sweep(setup, members, workers=0, stop_diverged=True,
                                                         check_every=1)]
    alone = []
    for m in members:
        net = setup.build_for([m])
        epochs = 0
        while np.isfinite(net.get_flat()).all():
            train(net, x, y, lr=m.lr, epochs=1, guard="off")
            epochs += 1
        alone.append(epochs)
    assert stopped == alone == [5, 6]


def test_iter_sweep_checks_its_arguments_when_called() -> None:
    # found by tests/test_entry_points.py: the checks ran at the first next(), not at the call
    x, y = xor_easy()
    with pytest.raises(ValueError, match=r"^check_every: "):
        sw.iter_sweep(sw.Setup(x, y, epochs=1), [sw.Member(0, 0.5)], workers=0, check_every=0)
    with pytest.raises(TypeError, match=r"^quiet: "):
        sw.iter_sweep(sw.Setup(x, y, epochs=1), [sw.Member(0, 0.5)], workers=0, quiet=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("call,name", [
    (lambda: sw.grid([0, 1], "a"), "lrs"), (lambda: sw.grid(None, [0.5]), "seeds"),  # type: ignore[arg-type]
    (lambda: sw.grid([0, 1.5], [0.5]), "seeds[1]"),  # type: ignore[list-item]
    (lambda: sw.kept_epochs(10, 0), "every"), (lambda: sw.kept_epochs("10", 1), "epochs"),  # type: ignore[arg-type]
    (lambda: sw.kept_epochs(2**63, 1), "epochs"), (lambda: sw.default_chunk_size("setup"), "setup"),  # type: ignore[arg-type]
])
def test_sweep_helpers_name_their_arguments(call: Any, name: str) -> None:
    # were "could not convert string to float", "divide by zero", "array is too big", AttributeError
    with pytest.raises((TypeError, ValueError), match=rf"^{re.escape(name)}: "):
        call()


def test_a_pool_of_too_many_workers_is_named() -> None:
    # found by tests/test_entry_points.py: process_pool(2**63) was "OverflowError: Python int too large"
    with pytest.raises(ValueError, match=r"^workers: expected an integer <= 1024"):
        sw.process_pool(2**63)
    x, y = xor_easy()
    with pytest.raises(ValueError, match=r"^workers: "):
        sw.iter_sweep(sw.Setup(x, y, epochs=1), [sw.Member(0, 0.5)], workers=sw.MAX_WORKERS + 1)


# ----------------------------------------- the API's defaults and argument words (mutation survivors)
def test_sweep_and_iter_sweep_have_the_documented_defaults() -> None:
    """Every loss kept, nothing stopped, a divergence check every 1000 epochs, unlike workers
    refused, no checkpoint, quiet, progress labelled "sweep": the same for both functions."""
    import inspect
    expected = {"chunk_size": None, "workers": None, "executor": None, "keep_every": 1, "stop_diverged": False,
                "check_every": 1000, "in_flight": None, "same_math": True, "checkpoints": (), "quiet": True,
                "label": "sweep", "stream": None}
    for function in (refnet.sweep.sweep, iter_sweep):
        params = inspect.signature(function).parameters
        assert {name: p.default for name, p in params.items() if name not in ("setup", "members")} == expected


def test_the_defaults_are_what_a_call_without_them_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same defaults by behaviour (a signature can be read from a wrapper): ``sweep`` hands them
    to ``iter_sweep``, and ``iter_sweep`` turns them into the options its work receives."""
    seen: dict[str, object] = {}

    def recorder(setup: Setup, members: object, **kwargs: object) -> Iterator[MemberResult]:
        seen.update(kwargs)
        return iter(())

    with monkeypatch.context() as patched:
        patched.setattr(refnet.sweep, "iter_sweep", recorder)
        refnet.sweep.sweep(SIGMOID, [Member(0, 1.0)])
    assert seen == {"chunk_size": None, "workers": None, "executor": None, "keep_every": 1, "stop_diverged": False,
                    "check_every": 1000, "in_flight": None, "same_math": True, "checkpoints": (), "quiet": True,
                    "label": "sweep", "stream": None}
    handed: list[tuple[object, ...]] = []
    monkeypatch.setattr(refnet.sweep, "_results", lambda *args: handed.append(args) or iter(()))
    monkeypatch.setattr(refnet.sweep, "default_workers", lambda: 3)
    iter_sweep(SIGMOID, [Member(0, 1.0)])
    _, _, opts, total, chunk_size, n_workers, executor, depth, same_math, label, quiet, stream = handed[0]
    assert opts == refnet.sweep._Options(keep_every=1, stop_diverged=False, check_every=1000, checkpoints=())
    assert (total, chunk_size, n_workers, executor, depth, same_math, label, quiet, stream) == (
        1, None, 3, None, 6, True, "sweep", True, None)


def test_sweep_hands_every_argument_to_iter_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def recorder(setup: Setup, members: object, **kwargs: object) -> Iterator[MemberResult]:
        seen.update(kwargs, setup=setup, members=members)
        return iter(())

    monkeypatch.setattr(refnet.sweep, "iter_sweep", recorder)
    stream = io.StringIO()
    given = {"chunk_size": 3, "workers": 0, "executor": None, "keep_every": 7, "stop_diverged": True,
             "check_every": 11, "in_flight": 5, "same_math": False, "checkpoints": (4,), "quiet": False,
             "label": "mine", "stream": stream}
    assert refnet.sweep.sweep(SIGMOID, [Member(0, 1.0)], **given) == []  # type: ignore[arg-type]
    assert seen == {**given, "setup": SIGMOID, "members": [Member(0, 1.0)]}


def test_a_chunks_loss_history_is_bounded_in_words() -> None:
    """A chunk keeps (epochs // keep_every + 1) losses per member: 8 bytes each in float64, 4 in
    float32. At exactly HISTORY_BYTES it is accepted (the limit is inclusive); one member more
    is refused before any training, naming setup.epochs and the GiB needed and allowed."""
    from refnet.train import HISTORY_BYTES
    per_member_f64 = HISTORY_BYTES // 8  # losses that fill the limit with one float64 member
    epochs = per_member_f64 - 1  # epochs // 1 + 1 losses
    big = Setup(X, Y, epochs=epochs)
    chunks = list(refnet.sweep._chunks([Member(0, 1.0)], 1, big, 1))
    assert [len(c) for _, c in chunks] == [1]
    chunks32 = list(refnet.sweep._chunks([Member(0, 1.0, dtype="float32")] * 2, 2, big, 1))
    assert [len(c) for _, c in chunks32] == [2]  # two float32 members fill the same bytes
    with pytest.raises(ValueError) as info:
        list(refnet.sweep._chunks([Member(0, 1.0)] * 2, 2, big, 1))
    gib = HISTORY_BYTES / 1024**3
    assert str(info.value) == (f"setup.epochs: {epochs} epochs, one loss kept every 1, for chunks of 2 members "
                               f"need {2 * gib:.1f} GiB of loss history (limit {gib:.0f} GiB); raise keep_every "
                               "or lower chunk_size")
    with pytest.raises(ValueError) as info:  # 64 GiB: a slip in the unit would show in the first digits
        list(refnet.sweep._chunks([Member(0, 1.0)] * 64, 64, big, 1))
    assert f"need {64 * gib:.1f} GiB of loss history" in str(info.value)
    assert [len(c) for _, c in refnet.sweep._chunks([Member(0, 1.0)] * 2, 2, big, 2)] == [2]  # half kept
    with pytest.raises(ValueError, match="^setup.epochs: "):  # one loss more than the limit holds
        list(refnet.sweep._chunks([Member(0, 1.0)], 1, Setup(X, Y, epochs=per_member_f64), 1))


def test_members_of_the_default_chunk_size_fill_chunks_by_their_own_dtype() -> None:
    """Without a chunk_size, a chunk holds default_chunk_size(setup, dtype) members of its
    dtype: float32 members take half the bytes, so twice as many fit."""
    setup = Setup(X, Y, epochs=3, hidden=(64, 64))
    n32, n64 = default_chunk_size(setup, "float32"), default_chunk_size(setup, "float64")
    assert n32 == 2 * n64
    for dtype, n in (("float32", n32), ("float64", n64)):
        members = [Member(0, 1.0, dtype=dtype)] * (n + 1)  # type: ignore[arg-type]
        assert [len(c) for _, c in refnet.sweep._chunks(members, None, setup, 1)] == [n, 1]


def test_the_setup_and_member_checks_say_what_they_refuse() -> None:
    with pytest.raises(TypeError) as info:
        sweep(None, [Member(0, 1.0)], workers=0)  # type: ignore[arg-type]
    assert str(info.value) == "setup: expected a Setup, got NoneType"
    with pytest.raises(ValueError) as info2:
        sweep(Setup(X, Y[:, :, None] if Y.ndim == 2 else Y[:, None, None], epochs=3), [Member(0, 1.0)], workers=0)
    assert str(info2.value).startswith("setup.y: expected shape (N,) or (N, outputs), got (")
    with pytest.raises(ValueError, match=r"^setup\.x: expected shape \(N, inputs\), got \(21,\)$"):  # the 21 points of xor_easy
        sweep(Setup(X[:, 0], Y, epochs=3), [Member(0, 1.0)], workers=0)
    with pytest.raises(TypeError) as info3:
        list(refnet.sweep._chunks([Member(0, 1.0), "m"], 2, SIGMOID, 1))  # type: ignore[list-item]
    assert str(info3.value) == "members[1]: expected a Member, got str"
    with pytest.raises(ValueError, match=r"^member\.seed: "):
        Member(-1, 1.0).check()
    # the smallest values each field takes
    one_row = sweep(Setup(X, Y, epochs=0, batch_size=1), [Member(0, 1.0)], workers=0)[0]
    assert one_row.loss.shape == (0,)
    assert sweep(Setup(X, Y.ravel(), epochs=2), [Member(0, 1.0)], workers=0)[0].loss.shape == (2,)


def test_setup_build_gives_the_setups_output_width() -> None:
    two = Setup(X, np.column_stack([Y.ravel(), 1 - Y.ravel()]), epochs=3, hidden=(3,))
    net = two.build([0, 1])
    assert net.out_features == 2 and net.members == 2 and net.in_features == X.shape[1]
    assert sweep(two, [Member(0, 0.5)], workers=0)[0].params["output.W"].shape == (1, 3, 2)


def test_a_diverging_member_warns_nothing_in_process() -> None:
    """In-process chunks (workers=0) compute overflowing losses under errstate: no RuntimeWarning
    escapes into the caller (warnings are errors in this suite)."""
    res = sweep(Setup(X, Y, epochs=30, activation="identity", output_activation="identity"),
                [Member(0, 1e3)], workers=0)
    assert res[0].nonfinite.first_loss_epoch is not None


class _Recorder(Executor):
    """An executor that runs nothing: it records each submitted chunk, answers with no results,
    and notes how many chunks had been submitted each time a result is read."""

    def __init__(self) -> None:
        self.chunks: list[list[Member]] = []
        self.read_after: list[int] = []
        self.shut = False

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        from concurrent.futures import Future
        recorder = self
        self.chunks.append(args[1])

        class Done(Future):  # type: ignore[type-arg]
            def result(self, timeout: float | None = None) -> list[MemberResult]:
                recorder.read_after.append(len(recorder.chunks))
                return []

        done = Done()
        done.set_result([])
        return done

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.shut = True
        self.waited = wait


def test_iter_sweep_names_each_refused_argument() -> None:
    member = [Member(0, 1.0)]
    for kwargs, words in [({"chunk_size": 0}, "chunk_size: "), ({"workers": -1}, "workers: "),
                          ({"in_flight": 0}, "in_flight: "), ({"checkpoints": (0,)}, r"checkpoints\[0\]: "),
                          ({"checkpoints": 3}, "checkpoints: ")]:
        with pytest.raises((TypeError, ValueError), match="^" + words):
            iter_sweep(SIGMOID, member, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError) as info:
        iter_sweep(Setup(X, Y, epochs=4, momentum=0.9), member, checkpoints=(2,))
    assert str(info.value) == "checkpoints: not with momentum (the velocity lives in one train call)"
    assert len(list(iter_sweep(SIGMOID, member, workers=0, in_flight=1, chunk_size=1))) == 1


def test_a_sweep_with_workers_makes_its_own_pool_and_shuts_it_down(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int | None] = []
    made: list[_Recorder] = []

    def pool(workers: int | None = None) -> _Recorder:
        asked.append(workers)
        made.append(_Recorder())
        return made[-1]

    monkeypatch.setattr(refnet.sweep, "process_pool", pool)
    members = [Member(k, 1.0) for k in range(5)]
    assert refnet.sweep.sweep(SIGMOID, members, workers=1, chunk_size=2) == []
    assert asked == [1] and made[0].shut and [len(c) for c in made[0].chunks] == [2, 2, 1]
    assert made[0].waited  # its workers are gone when the sweep returns
    refnet.sweep.sweep(SIGMOID, members, workers=0, chunk_size=2)  # in this process: no pool
    assert asked == [1]


@pytest.mark.parametrize("workers, in_flight, ahead", [(3, None, 6), (1, None, 2), (0, None, 2), (3, 4, 4)])
def test_chunks_in_flight_are_twice_the_workers_unless_given(workers: int, in_flight: int | None,
                                                            ahead: int) -> None:
    """Before the first result is read, ``in_flight`` chunks are submitted (default: two per
    worker, at least two); then one more each time one is read. Nothing is submitted before the
    first result is asked for."""
    given = _Recorder()
    stream = iter_sweep(SIGMOID, [Member(k, 1.0) for k in range(20)], chunk_size=1, workers=workers,
                        executor=given, in_flight=in_flight)
    assert given.chunks == []
    assert list(stream) == []
    assert given.read_after[:3] == [ahead, ahead + 1, ahead + 2] and len(given.chunks) == 20


def test_the_kept_loss_history_bound_uses_keep_every() -> None:
    """A run too long to keep every loss of a chunk passes the bound when only every 1000th
    loss is kept (the recorder trains nothing)."""
    from refnet.train import HISTORY_BYTES
    long = Setup(X, Y, epochs=HISTORY_BYTES // 8 * 4)
    given = _Recorder()
    assert refnet.sweep.sweep(long, [Member(0, 1.0)], executor=given, chunk_size=1, keep_every=1000) == []
    with pytest.raises(ValueError, match="^setup.epochs: "):
        refnet.sweep.sweep(long, [Member(0, 1.0)], executor=given, chunk_size=1)


@pytest.mark.parametrize("lr, words", [(0.0, "expected a finite number > 0, got 0.0"),
                                       (-0.5, "expected a finite number > 0, got -0.5"),
                                       (float("inf"), "expected a finite number > 0, got inf")])
def test_grid_refuses_a_rate_that_is_not_positive_by_its_position(lr: float, words: str) -> None:
    with pytest.raises(ValueError) as info:
        grid([0], [0.1, lr])
    assert str(info.value) == f"lrs[1]: {words}"
    assert [m.lr for m in grid([0], [5e-324])] == [5e-324]  # the smallest positive double is a rate


def test_kept_epochs_bound_is_on_the_losses_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most HISTORY_BYTES // 8 losses kept (checked on epochs // every, as integers), refused
    in words naming the limit in GiB. A 800-byte limit (100 losses) keeps the arrays small."""
    monkeypatch.setattr(refnet.sweep, "HISTORY_BYTES", 800)
    assert len(refnet.sweep.kept_epochs(100, 1)) == 100  # epochs // every == the limit: kept
    assert refnet.sweep.kept_epochs(201, 2)[-1] == 200  # 100.5 losses by true division: still 100 kept
    with pytest.raises(ValueError) as info:
        refnet.sweep.kept_epochs(101, 1)
    assert str(info.value) == f"epochs: 101 epochs kept every 1 exceed {800 / 1024**3:g} GiB"


class _Clock:
    """time.monotonic for refnet.sweep: 100 s at the start, then the elapsed times given."""

    def __init__(self, *elapsed: float) -> None:
        self.times = iter([100.0, *(100.0 + e for e in elapsed)])

    def monotonic(self) -> float:
        return next(self.times)


@pytest.mark.parametrize("elapsed, rate", [(2.0, "2"), (0.5, "8")])
def test_the_progress_line_shows_net_epochs_per_second(monkeypatch: pytest.MonkeyPatch, elapsed: float,
                                                       rate: str) -> None:
    """One member of 4 epochs read after ``elapsed`` seconds: 4 / elapsed net-epochs/s (the
    elapsed time is the clock's difference, however short)."""
    import types
    monkeypatch.setattr(refnet.sweep, "time", types.SimpleNamespace(monotonic=_Clock(elapsed).monotonic))
    out = io.StringIO()
    refnet.sweep.sweep(Setup(X, Y, epochs=4), [Member(0, 1.0)], workers=0, quiet=False, stream=out)
    assert f" {rate} net-epochs/s" in out.getvalue()


def test_the_progress_total_is_the_members_count_or_grows_with_the_results() -> None:
    """A list of 2 members counts to 2/2; a generator's total is what has come so far, 2/2 at the end."""
    setup = Setup(X, Y, epochs=2)
    for members in ([Member(0, 1.0), Member(1, 1.0)], (Member(k, 1.0) for k in range(2))):
        out = io.StringIO()
        refnet.sweep.sweep(setup, members, workers=0, chunk_size=1, quiet=False, stream=out)
        assert re.findall(r"\b(\d+/\d+) networks", out.getvalue())[-1] == "2/2", out.getvalue()


def test_unlike_kernel_math_between_chunks_is_refused_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks whose kernel fingerprints differ stop the sweep, naming the first member of the
    chunk that differs, the kernel, both fingerprints and the two ways out."""
    prints = iter(["A", "B"])
    monkeypatch.setattr(refnet.sweep, "kernel_fingerprint", lambda kernel: next(prints))
    with pytest.raises(RuntimeError) as info:
        refnet.sweep.sweep(Setup(X, Y, epochs=2), [Member(k, 1.0) for k in range(4)], workers=0, chunk_size=2)
    assert str(info.value) == ("sweep: members 2.. ran where the blas kernel's math differs (fingerprint B vs A); "
                               "pin the workers with refnet.reproducible.pinned_environment() or pass same_math=False")


def test_iter_sweep_names_a_bad_setup_and_label() -> None:
    with pytest.raises(TypeError) as info:
        iter_sweep(5, [Member(0, 1.0)])  # type: ignore[arg-type]
    assert str(info.value) == "setup: expected a Setup, got int"
    for label in (5, None):
        with pytest.raises(TypeError, match=r"^label: "):
            iter_sweep(SIGMOID, [Member(0, 1.0)], label=label)  # type: ignore[arg-type]
