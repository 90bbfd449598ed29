"""verify.lr_threshold: ulp stepping, box counting, the outcome rule, multisection, the trace hook,
the quick study's report and claims, the --check round trip, bad arguments."""

from __future__ import annotations

import importlib.util
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refnet import lab
from refnet.conventions import Published
from refnet.reproducible import simd_targets
from verify import lr_threshold
from verify.lr_threshold import cli, runs, seeds
from verify.lr_threshold.boxcount import (box_counts, box_dimension, boundary_edges, cantor_points, dyadic_sizes,
                                          label_boundary_fit)
from verify.lr_threshold.mechanism import growth_rate, trace_pair
from verify.lr_threshold.runs import BASE, PAIR, VARIANTS, dead_at_start, multisection, outcome
from verify.lr_threshold.study import SECTION_VARIANTS
from verify.lr_threshold.verdicts import PAIR_CATEGORIES, pair_category
from verify.lr_threshold.ulp import (add_ulps, decimal_exact, exact_fraction, from_ordinal, grid, hex_exact, midpoint,
                                     ordinal, ordinal_grid, spacing, ulps_between)

from .conftest import QuickSuite

finite64 = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


# ------------------------------------------------------------------ ulp stepping

def test_pair_is_4_6e9_float64_ulps_and_9_float32_ulps_apart() -> None:
    a, b = PAIR
    assert ulps_between(a, b) == 4611686019
    assert ulps_between(a, b, "float32") == 9
    # spacing near 0.0015 is 2**-62 (the binade [2**-10, 2**-9) has 52 fraction bits)
    assert spacing(a) == 2.0**-62


@given(finite64, st.integers(-3, 3))
def test_add_ulps_agrees_with_nextafter(x: float, n: int) -> None:
    expected = x
    for _ in range(abs(n)):
        expected = float(np.nextafter(expected, math.inf if n > 0 else -math.inf))
    got = add_ulps(x, n)
    assert got == expected or (got == 0.0 and expected == 0.0)
    assert ulps_between(x, got) == n or (x == 0.0 and abs(ulps_between(x, got)) == abs(n))


@given(finite64, finite64)
def test_ordinal_preserves_order_and_round_trips(x: float, y: float) -> None:
    assert (ordinal(x) < ordinal(y)) == (x < y)
    assert from_ordinal(ordinal(x)) == x


@given(st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_float32_ordinals_step_like_nextafter(x: float) -> None:
    up = add_ulps(x, 1, "float32")
    assert up == float(np.nextafter(np.float32(x), np.float32(np.inf)))


def test_signed_zero_and_crossing_zero() -> None:
    assert ordinal(-0.0) == ordinal(0.0) == 0
    assert add_ulps(0.0, -1) == -5e-324
    assert ulps_between(-5e-324, 5e-324) == 2


def test_grid_is_never_finer_than_one_ulp() -> None:
    a = PAIR[0]
    pts = grid(a, add_ulps(a, 5), 64)
    assert pts == [add_ulps(a, k) for k in range(6)]
    assert ordinal_grid(0, 100, 11) == list(range(0, 101, 10))
    assert midpoint(a, add_ulps(a, 10)) == add_ulps(a, 5)
    with pytest.raises(ValueError, match="count"):
        ordinal_grid(0, 10, 1)
    with pytest.raises(ValueError, match="x"):
        ordinal(math.inf)


def test_exact_values_of_the_rates() -> None:
    a = PAIR[0]
    assert hex_exact(a) == a.hex() == "0x1.86c226809d495p-10"
    assert exact_fraction(a) == Fraction(a)
    assert Fraction(decimal_exact(a)) == Fraction(a)
    assert decimal_exact(0.5) == "0.5"
    f32 = np.float32(a)
    assert exact_fraction(f32) == Fraction(float(f32))
    ld = np.longdouble(1) / np.longdouble(3)
    frac = exact_fraction(ld)
    assert frac.denominator & (frac.denominator - 1) == 0  # a power of two
    assert abs(frac - Fraction(1, 3)) <= Fraction(1, 3) * Fraction(float(np.finfo(np.longdouble).eps))
    if np.finfo(np.longdouble).nmant > 52:
        assert frac != Fraction(float(ld))
        assert hex_exact(ld).startswith("0x") and "." not in hex_exact(ld)


# ------------------------------------------------------------------ box counting

def test_cantor_set_has_dimension_log2_over_log3() -> None:
    pts = cantor_points(10)
    assert pts.size == 2**10
    fit = box_dimension(pts, [3**k for k in range(9)])
    assert fit.counts == [2 ** (10 - k) for k in range(9)]
    assert fit.dimension == pytest.approx(math.log(2) / math.log(3), abs=1e-12)
    assert fit.rms_residual < 1e-12


def test_single_point_has_dimension_zero_and_an_interval_one() -> None:
    assert box_dimension([12345], dyadic_sizes(1 << 16)).dimension == 0.0
    line = box_dimension(np.arange(1 << 12), dyadic_sizes(1 << 12))
    assert line.dimension == pytest.approx(1.0, abs=1e-12)


def test_label_boundary_counts_edges() -> None:
    labels = ["c"] * 10 + ["s"] * 5 + ["c"] * 17
    assert boundary_edges(labels) == [9, 14]
    fit = label_boundary_fit(labels)
    assert fit.counts[0] == 2
    assert box_counts([9, 14], [4]) == [2]  # boxes 2 and 3
    assert box_counts([9, 14], [8, 16]) == [1, 1]  # both in box 1, then box 0
    with pytest.raises(ValueError, match="points"):
        box_counts([-1], [1])


# ------------------------------------------------------------------ the outcome rule

def test_outcome_rule_reads_saturation_against_delta() -> None:
    t = np.array([[0.0], [1.0], [1.0]])
    good = np.array([[0.001], [0.999], [0.99]])
    assert outcome(good, t, 100.0, 0.001) == "converged"
    assert outcome(good, t, 100.0, 0.2) == "stalled"  # right but the loss is not down yet
    # exactly 1 with label 0: y (1 - y) = 0, the gradient of that point is gone
    assert outcome(np.array([[1.0], [0.999], [0.99]]), t, 66.7, 12.0) == "diverged"
    # within delta of 0 with label 1 (not exactly 0: the naive sigmoid only reaches 0 below logit -745)
    assert outcome(np.array([[0.001], [5e-8], [0.99]]), t, 66.7, 8.0) == "diverged"
    assert outcome(np.array([[0.001], [2e-7], [0.99]]), t, 66.7, 8.0) == "stalled"


def test_of_the_first_ten_seeds_only_seed_2_is_dead_from_the_start() -> None:
    """Seed 2's second ReLU layer is zero on every point: the output is sigmoid(0) = 0.5 for ever (1 bit).
    Seed 7, which LAB_SOURCE counts as dead too, keeps one of four second-layer units alive (it sticks
    near 0.9 bits at lr 0.01): not dead by this exact rule."""
    assert [s for s in range(10) if dead_at_start(BASE, s)] == [2]


def test_each_dispatch_target_is_a_variant_and_the_scan_is_the_twin_with_numba() -> None:
    for target in simd_targets():
        env = dict(VARIANTS[f"no-{target}"].env)
        assert env == {"NPY_DISABLE_CPU_FEATURES": target}
    assert dict(VARIANTS["no-dispatch"].env)["NPY_DISABLE_CPU_FEATURES"] == ",".join(simd_targets())
    has_numba = importlib.util.find_spec("numba") is not None
    assert runs.SCAN == ("twin" if has_numba else "pinned")
    if has_numba:  # the twin runs in the pinned environment, so even its NumPy forward passes are pinned's
        assert VARIANTS["twin"].kernel == "compiled" and VARIANTS["twin"].env == VARIANTS["pinned"].env
    assert "pinned" not in SECTION_VARIANTS and "twin" not in SECTION_VARIANTS
    assert {"blas", "portable", "threads-1", "threads-2", "float32", "longdouble"} <= set(SECTION_VARIANTS)


def test_variants_change_only_what_they_name() -> None:
    assert BASE.lr == PAIR[0] and BASE.epochs == 50_000 and BASE.batch_size == 21 and BASE.activation == "relu"
    cfg = VARIANTS["float32"].config(epochs=10)
    assert (cfg.dtype, cfg.kernel, cfg.sigmoid, cfg.epochs) == ("float32", "blas", "naive", 10)
    assert VARIANTS["float32"].grid == "float32" and VARIANTS["longdouble"].grid == "float64"
    pinned = VARIANTS["pinned"]
    assert pinned.kernel == "portable" and dict(pinned.env).get("NPY_DISABLE_CPU_FEATURES") is not None
    assert VARIANTS["stable-sigmoid"].config().convention == Published(sigmoid="stable")
    assert str(VARIANTS["stable-sigmoid"].config().convention) == "lab[sigmoid=stable]"


# ------------------------------------------------------------------ lab.Config(sigmoid=...), run_many(trace=...)

def test_stable_sigmoid_is_a_variant_of_the_lab_run() -> None:
    cfg = BASE.but(epochs=300)
    naive = lab.run(cfg, 0)
    stable = lab.run(cfg.but(sigmoid="stable"), 0)
    assert naive.config.sigmoid == "naive" and stable.config.sigmoid == "stable"
    # same run up to rounding: close, and (the point of the variant) not the same bits
    assert abs(naive.final_loss - stable.final_loss) < 1e-6
    assert not np.array_equal(naive.params["linear_1.W"], stable.params["linear_1.W"])
    with pytest.raises(ValueError, match="^sigmoid"):
        BASE.but(sigmoid="fast")


def test_trace_sees_the_network_without_changing_a_bit() -> None:
    cfg = BASE.but(epochs=50)
    seen: list[tuple[int, int]] = []
    traced = lab.run_many(cfg, [0, 0], list(PAIR), trace=lambda e, net: seen.append((e, net.members)),
                          trace_every=20)
    plain = lab.run_many(cfg, [0, 0], list(PAIR))
    assert seen == [(0, 2), (20, 2), (40, 2)]
    for a, b in zip(traced, plain):
        assert np.array_equal(a.logged, b.logged) and np.array_equal(a.params["output.W"], b.params["output.W"])
    with pytest.raises(ValueError, match="^trace_every"):
        lab.run_many(cfg, [0], trace_every=0)


# ------------------------------------------------------------------ multisection on a synthetic map

def _fake_records(boundary: float, islands: tuple[float, ...] = ()) -> Any:
    calls: list[int] = []

    def fake(config: lab.Config, todo: list[tuple[int, float]], **_: Any) -> list[runs.RunRecord]:
        calls.append(len(todo))
        return [runs.RunRecord(s, r, "diverged" if r >= boundary or r in islands else "converged", 0.0, 100.0,
                               "", "", None) for s, r in todo]
    return fake, calls


@pytest.mark.parametrize("members", [1, 8, 64])
def test_multisection_brackets_to_adjacent_doubles(members: int, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = PAIR
    boundary = add_ulps(a, 1234567891)
    fake, calls = _fake_records(boundary)
    monkeypatch.setattr(runs, "run_records", fake)
    sec = multisection(VARIANTS["blas"], a, b, epochs=10, members=members, steps=200)
    assert sec.hi == boundary and sec.ulps == 1 and sec.stop == "adjacent numbers"
    assert all(s.changes <= 1 for s in sec.steps)
    # each step divides the bracket by members + 1: about log(4.6e9) / log(members + 1) steps
    assert len(sec.steps) <= math.ceil(math.log(ulps_between(a, b)) / math.log(members + 1)) + 1
    assert calls[0] == 2 and max(calls[1:]) <= members


def test_multisection_keeps_the_lowest_divergence_and_counts_islands(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = PAIR
    boundary = add_ulps(a, 4_000_000_000)
    island = from_ordinal(ordinal_grid(ordinal(a), ordinal(b), 10)[3])  # a diverging island below the cliff
    fake, _ = _fake_records(boundary, (island,))
    monkeypatch.setattr(runs, "run_records", fake)
    sec = multisection(VARIANTS["blas"], a, b, epochs=10, members=8, steps=1)
    assert sec.hi == island and sec.steps[0].changes == 3
    assert sec.stop == "after 1 steps (the step budget)"


def test_multisection_says_when_there_is_no_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    fake, _ = _fake_records(1.0)
    monkeypatch.setattr(runs, "run_records", fake)
    sec = multisection(VARIANTS["float32"], *PAIR, epochs=10, members=8, steps=5)
    assert sec.steps == [] and sec.stop.startswith("no boundary") and sec.grid == "float32"


# ------------------------------------------------------------------ E4: one seed's boundary, categories

def test_seed_boundary_refines_the_first_bracket_in_log_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    boundary = 0.00321
    fake, calls = _fake_records(boundary, (0.0006,))  # an island below the grid's second rate: not on the grid
    monkeypatch.setattr(seeds, "run_records", fake)
    grid = seeds.log_grid(0.0005, 0.01, 8)
    got = seeds.seed_boundary(VARIANTS["blas"], 0, grid, epochs=10, rounds=2, members=8)
    assert got["category"] == "boundary" and calls == [10, 8, 8]  # the pair and grid together, then 2 rounds
    lo, hi = got["bracket"]
    assert lo < boundary <= hi
    step = (0.01 / 0.0005) ** (1 / 7)  # the grid's ratio; each round takes its 9th root
    assert hi / lo == pytest.approx(step ** (1 / 81), rel=1e-12)
    assert got["network_epochs"] == (10 + 16) * 10
    # seed 2 is dead from the start: counted as such, never searched
    assert seeds.seed_boundary(VARIANTS["blas"], 2, grid, epochs=10, rounds=2, members=8)["category"] == "dead"
    low, _ = _fake_records(0.0001)
    monkeypatch.setattr(seeds, "run_records", low)
    assert seeds.seed_boundary(VARIANTS["blas"], 0, grid, epochs=10, rounds=2,
                               members=8)["category"] == "diverged-at-lowest"
    high, _ = _fake_records(1.0)
    monkeypatch.setattr(seeds, "run_records", high)
    assert seeds.seed_boundary(VARIANTS["blas"], 0, grid, epochs=10, rounds=2,
                               members=8)["category"] == "no-divergence"


def test_every_seed_gets_exactly_one_pair_category() -> None:
    def rec(o: str, acc: float = 100.0) -> dict[str, Any]:
        return {"outcome": o, "accuracy": acc}
    assert pair_category(rec("converged"), rec("diverged"), False) == "split-lab"
    assert pair_category(rec("diverged"), rec("converged"), False) == "split-other"
    assert pair_category(rec("stalled"), rec("diverged"), False) == "split-other"
    assert pair_category(rec("diverged"), rec("diverged"), False) == "both-diverged"
    assert pair_category(rec("stalled", 50.0), rec("stalled", 50.0), True) == "dead"
    assert pair_category(rec("stalled", 75.0), rec("stalled", 100.0), False) == "both-stalled-wrong"
    assert pair_category(rec("stalled"), rec("stalled"), False) == "both-stalled-right"
    outcomes = ("converged", "diverged", "stalled")
    seen = {pair_category(rec(a), rec(b), False) for a in outcomes for b in outcomes}
    assert seen <= set(PAIR_CATEGORIES)


# ------------------------------------------------------------------ E3: the mask check

def test_the_mask_check_finds_no_kink_between_equal_runs_and_one_between_far_rates() -> None:
    cfg = BASE.but(epochs=120)
    same = trace_pair(cfg, PAIR[0], PAIR[0], every=60, hessian_every=1000)
    assert same["event"] is None  # one formula, the same bits: no step sees different masks
    far = trace_pair(cfg, 0.0005, 0.01, every=60, hessian_every=1000)
    ev = far["event"]
    assert ev is not None and 0 <= ev["epoch"] < 120 and ev["lo_value"] * ev["hi_value"] <= 0
    assert (ev["lo_value"] <= 0) != (ev["hi_value"] <= 0)  # one side of the mask rule each


def test_growth_rate_recovers_an_exponential() -> None:
    epochs = list(range(0, 5000, 10))
    dist = [1e-15 * math.exp(0.004 * e) for e in epochs]
    g = growth_rate(epochs, dist)
    assert g["rate"] == pytest.approx(0.004, rel=1e-9)  # exact data: only rounding error
    assert g["efold_epochs"] == pytest.approx(250, rel=1e-9)
    assert math.isnan(growth_rate([0, 1], [1.0, 2.0])["rate"])


# ------------------------------------------------------------------ the quick study, its report and --check

@pytest.fixture(scope="module")
def quick(quick_suite: QuickSuite) -> tuple[Path, dict[str, Any]]:
    part = quick_suite.parts["lr_threshold"]
    assert part.ok, part.summary
    folder = quick_suite.folder("lr_threshold")
    return folder, json.loads((folder / "report.json").read_text(encoding="utf-8"))


def test_quick_report_reproduces_the_pair_and_decides_no_claim(quick: tuple[Path, dict[str, Any]]) -> None:
    folder, doc = quick
    data = doc["data"]
    e0 = data["derived"]["E0"]
    # at 6,000 epochs the lab's pair already splits: 625 is down, 626 blew up at about epoch 5,000
    assert e0["blas_outcomes"] == ["converged", "diverged"]
    assert e0["identical_in_fresh_processes"] is True
    assert 4_800 <= e0["facts"]["626"]["jump_epoch"] <= 5_200
    assert [c["id"] for c in doc["claims"]] == ["lr-pair-split", "lr-pair-other-seeds", "lr-pair-float-limits"]
    for c in doc["claims"]:
        assert c["verdict"] == "undecided" and c["full"] is False and c["measured"] and c["evidence"]
    for name in ("pair_losses.png", "mechanism.png", "windows.png", "boundary_variants.png"):
        assert (folder / name).is_file()
    assert "Quick run" in doc["summary"]
    # the event that parts the pair: a hidden unit's mask on the point (0.9, 0.1) at the step after epoch 3,813
    ev = data["derived"]["E3"]["event"]
    assert ev["epoch"] == 3813 and ev["layer"] == 1 and ev["x"] == pytest.approx([0.9, 0.1])
    e4 = data["derived"]["E4"]
    assert sum(e4["pair_counts"].values()) == e4["seeds"] == sum(e4["grid_counts"].values())


def test_render_rewrites_the_same_report(quick: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    folder, doc = quick
    (tmp_path / "report.json").write_text(json.dumps(doc), encoding="utf-8")
    assert lr_threshold.main(["--render", str(tmp_path)]) == 0
    again = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert again["claims"] == doc["claims"] and again["summary"] == doc["summary"]


def test_check_reproduces_the_pinned_pair_in_plain_sentences(quick: tuple[Path, dict[str, Any]],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = quick
    assert lr_threshold.main(["--check", str(folder / "report.json"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("identical to the stored run, bit for bit") == 4
    assert "Reproduced: the pinned pair matches" in out
    for repr_like in ("None", "Pinned(", "{", "[", "True", "False"):
        assert repr_like not in out


def test_check_fails_on_a_tampered_hash(quick: tuple[Path, dict[str, Any]], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison, without rerunning: the fresh processes are replaced by the stored records
    (the test above proves the reruns reproduce them), and one stored hash is tampered with."""
    _, doc = quick
    doc = json.loads(json.dumps(doc))
    raw = doc["data"]["raw"]["E0"]
    reruns = json.loads(json.dumps([{"records": raw[k]} for k in ("e0-pinned-1", "e0-pinned-2", "e0-blas")]))
    monkeypatch.setattr(cli, "execute", lambda jobs, **_: [json.loads(json.dumps(r)) for r in reruns])
    path = tmp_path / "report.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert lr_threshold.main(["--check", str(path), "--quiet"]) == 0
    raw["e0-pinned-1"][1]["params_sha256"] = "0" * 64
    path.write_text(json.dumps(doc), encoding="utf-8")
    capsys.readouterr()
    assert lr_threshold.main(["--check", str(path), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert out.count("DIFFERENT from the stored run") == 2 and "Not reproduced" in out


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0"], "--workers: expected an integer >= 1, got 0"),
    (["--e4-seeds", "0"], "--e4-seeds: expected an integer >= 1, got 0"),
    (["--check", "/nonexistent/report.json"], "no such file"),
    (["--check", "x.json", "--quick"], "choose one"),
    (["--full", "--quick"], "choose one"),
    (["--e4-rounds", "-1"], "--e4-rounds: expected an integer >= 0, got -1"),
    (["--render", "/nonexistent"], "no such file"),
])
def test_bad_arguments_get_one_error_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        lr_threshold.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert sum(line.startswith("python -m verify.lr_threshold: error:") for line in err.splitlines()) == 1
