"""Gradient checker: real components pass, wrong ones fail, and the checker itself is honest.

Hypothesis draws the values of the real-component checks directly (including
adversarial ones: zeros, cancellations, saturation), because a correct
gradient must pass for every input. Mutant checks draw a seed and shapes:
a wrong gradient is only detectable where it differs measurably from the
right one, which holds with probability 1 for random values but not for
every value (a sign flip of a zero element changes nothing).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refnet import gradcheck as gc
from refnet.layers import Layer, Linear, ReLU, Sigmoid, Tanh
from refnet.losses import Loss
from refnet.network import mlp
from refnet.precision import FloatArray
from tests.strategies import layer_case, loss_case, values
from tests.tolerances import DTYPES
from verify.gradcheck import cli as vgc_cli
from verify.gradcheck import study as vgc
from verify.gradcheck import mutants as mt
from verify.common.report import prose_problems

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_T = np.array([[0.0], [1.0], [1.0], [0.0]])


@given(case=layer_case())
def test_every_real_layer_passes(case: tuple[Layer, FloatArray, FloatArray]) -> None:
    layer, x, dy = case
    ref = "float64" if x.dtype == np.float32 else "longdouble"
    for p in gc.layer_problems(layer, x, dy, reference=ref):
        r = gc.check(p, seed=0)
        # a ReLU input within the step of 0 is a kink: inconclusive, never pass or fail
        allowed = ("PASS", "KINK") if isinstance(layer, ReLU) else ("PASS",)
        assert r.status in allowed, r
        assert r.ratio <= 1.0 and not r.faults
        assert r.reference is not None and r.reference <= 1.0


@given(case=loss_case())
def test_every_real_loss_passes(case: tuple[Loss, FloatArray, FloatArray, float | None, float | None]) -> None:
    loss, y, t, lower, upper = case
    ref = "float64" if y.dtype == np.float32 else "longdouble"
    r = gc.check(gc.loss_problem(loss, y, t, lower=lower, upper=upper, reference=ref), seed=0)
    assert r.status == "PASS", r
    assert r.reference is not None and r.reference <= 1.0


@settings(max_examples=12)
@given(dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16), members=st.integers(1, 2),
       activation=st.sampled_from(["sigmoid", "tanh", "relu"]), loss=st.sampled_from(["mse", "bce-logits"]))
def test_whole_networks_pass(dtype: str, seed: int, members: int, activation: str, loss: str) -> None:
    def draw(rng: np.random.Generator) -> list[gc.Problem]:
        seeds = [int(s) for s in rng.integers(0, 2**31, members)]
        net = mlp(2, (4, 3), 1, activation=activation, loss=loss, dtype=dtype, seed=seeds)
        return [gc.network_problem(net, XOR_X, XOR_T)]
    (r,) = gc.check_drawn(draw, seed=seed)
    assert r.status == "PASS", r
    assert r.shape == (members, 2 * 4 + 4 + 4 * 3 + 3 + 3)


@settings(max_examples=30)
@given(dtype=st.sampled_from(DTYPES), mutant=st.sampled_from(mt.MUTANTS), seed=st.integers(0, 2**16),
       n=st.integers(2, 5), size=st.integers(2, 4))
def test_every_mutant_fails(dtype: str, mutant: mt.Mutant, seed: int, n: int, size: int) -> None:
    results = gc.check_drawn(mt.mutant_draw(mutant, dtype, n, size), seed=seed, taylor=False)
    assert any(r.status == "FAIL" for r in results), results


@pytest.mark.parametrize("dtype", DTYPES)
def test_mutants_command_catches_all_alone_and_in_the_network(dtype: str) -> None:
    results = mt.check_mutants([dtype], seed=0)
    assert {r.mutant for r in results} == {m.name for m in mt.MUTANTS}
    assert all(r.caught for r in results)
    if dtype == "float32":
        # float32 differences alone miss the 5% scaling inside the network; float64 ones catch it
        scaled = next(r for r in results if r.mutant == "scaled" and r.level == "network")
        assert "vs-f64" in scaled.by


def test_non_square_transposed_weight_gradient_is_a_shape_fault() -> None:
    rng = np.random.default_rng(1)
    w = rng.standard_normal((1, 3, 2))
    layer = mt.TransposedLinear(w, rng.standard_normal((1, 1, 2)))
    ps = gc.layer_problems(layer, rng.standard_normal((1, 4, 3)), rng.standard_normal((1, 4, 2)))
    r = gc.check(next(p for p in ps if p.wrt == "W"))
    assert r.status == "FAIL" and any("shape (1, 2, 3) != (1, 3, 2)" in f for f in r.faults)


# ----------------------------------------------------------------- structure

class _WritesIntoDy(ReLU):
    """The dlfs bug: zeroes the upstream gradient in place."""

    def grad_input(self, dy: FloatArray) -> FloatArray:
        out = super().grad_input(dy)
        dy[...] = 0
        return out


class _Float64Gradient(Linear):
    def grad_params(self, dy: FloatArray) -> dict[str, FloatArray]:
        return {k: v.astype(np.float64) for k, v in super().grad_params(dy).items()}


class _Offset(Tanh):
    """Returns a nonzero gradient for a zero upstream gradient."""

    def grad_input(self, dy: FloatArray) -> FloatArray:
        out: FloatArray = super().grad_input(dy) + dy.dtype.type(1e-3)
        return out


class _Drifting(Sigmoid):
    """Each backward call differs a little from the previous one."""

    calls = 0

    def grad_input(self, dy: FloatArray) -> FloatArray:
        self.calls += 1
        out: FloatArray = super().grad_input(dy) * dy.dtype.type(1 + 1e-9 * self.calls)
        return out


def _faults(layer: Layer, dtype: str = "float64") -> tuple[str, ...]:
    rng = np.random.default_rng(3)
    fin = layer.params["W"].shape[1] if "W" in layer.params else 3
    fout = layer.params["W"].shape[2] if "W" in layer.params else 3
    x = rng.standard_normal((1, 4, fin)).astype(dtype) + 0.5
    dy = rng.standard_normal((1, 4, fout)).astype(dtype)
    return tuple(f for p in gc.layer_problems(layer, x, dy) for f in gc.check(p).faults)


def test_structural_faults_are_reported() -> None:
    w = np.random.default_rng(0).standard_normal((1, 3, 2)).astype(np.float32)
    assert any("dtype float64 != float32" in f for f in _faults(_Float64Gradient(w), "float32"))
    assert any("zero upstream" in f for f in _faults(_Offset()))
    assert any("two backward calls differ" in f for f in _faults(_Drifting()))
    assert any("dy changed by the check" in f for f in _faults(_WritesIntoDy()))
    assert _faults(Tanh()) == () and _faults(Linear(w.astype(np.float64))) == ()


@pytest.mark.parametrize("dtype", DTYPES)
def test_check_leaves_inputs_and_params_bit_identical(dtype: str) -> None:
    rng = np.random.default_rng(5)
    w, b = rng.standard_normal((1, 3, 3)).astype(dtype), rng.standard_normal((1, 1, 3)).astype(dtype)
    layer = Linear(w, b)
    x, dy = rng.standard_normal((1, 4, 3)).astype(dtype), rng.standard_normal((1, 4, 3)).astype(dtype)
    before = [a.tobytes() for a in (w, b, x, dy)]
    for p in gc.layer_problems(layer, x, dy):
        assert gc.check(p).status == "PASS"
    assert [a.tobytes() for a in (w, b, x, dy)] == before
    assert layer.params["W"] is w and layer.params["b"] is b
    net = mlp(dtype=dtype, seed=2)
    flat = net.get_flat()
    assert gc.check(gc.network_problem(net, XOR_X, XOR_T)).status == "PASS"
    assert net.get_flat().tobytes() == flat.tobytes()


def test_zero_upstream_gives_zero_and_gradient_shapes_match() -> None:
    rng = np.random.default_rng(0)
    layer = Linear(rng.standard_normal((1, 2, 5)), rng.standard_normal((1, 1, 5)))
    ps = gc.layer_problems(layer, rng.standard_normal((1, 3, 2)), np.zeros((1, 3, 5)))
    for p in ps:
        assert p.gradient.shape == p.x.shape and p.gradient.dtype == p.x.dtype
        assert np.all(p.gradient == 0)
        assert gc.check(p).status == "PASS"


# ----------------------------------------------------------------- method

@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_steps_are_exactly_representable_and_near_cbrt_eps(dtype: str, data: st.DataObject) -> None:
    x = data.draw(values(dtype, (16,), -1e6, 1e6))
    h = gc.steps(x)
    assert h.dtype == x.dtype
    assert np.array_equal((x + h) - x, h)
    ideal = np.cbrt(np.finfo(dtype).eps) * np.maximum(np.abs(x.astype(np.float64)), 1.0)
    assert np.all(h > 0.5 * ideal) and np.all(h < 2.0 * ideal)


def test_steps_stay_inside_the_domain() -> None:
    y = np.array([0.001, 0.5, 0.999], dtype=np.float32)
    h = gc.steps(y, 0.0, 1.0)
    assert np.all(y - h > 0) and np.all(y + h < 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_at_zero_is_a_kink_not_a_verdict(dtype: str) -> None:
    x = np.array([[[0.0, 1.0, -1.0]]], dtype=dtype)
    (p,) = gc.layer_problems(ReLU(), x, np.ones((1, 1, 3), dtype=dtype))
    r = gc.check(p)
    assert r.status == "KINK" and r.kinks == 1
    near = np.array([[[float(gc.steps(x)[0, 0, 1]) / 2, 1.0, -1.0]]], dtype=dtype)
    (p,) = gc.layer_problems(ReLU(), near, np.ones((1, 1, 3), dtype=dtype))
    assert gc.check(p).status == "KINK"


def test_kink_redraws_with_fixed_seeds_and_budget() -> None:
    seen: list[float] = []

    def draw(rng: np.random.Generator) -> list[gc.Problem]:
        x = rng.standard_normal((1, 2, 2))
        if len(seen) < 2:
            x[0, 0, 0] = 0.0  # the first two draws sit on the kink
        seen.append(float(x[0, 1, 1]))
        return gc.layer_problems(ReLU(), x, np.ones((1, 2, 2)))

    (r,) = gc.check_drawn(draw, seed=9)
    assert r.status == "PASS" and r.kinks == 2
    assert seen[2] == float(np.random.default_rng([9, 2]).standard_normal((1, 2, 2))[0, 1, 1])

    def always(rng: np.random.Generator) -> list[gc.Problem]:
        return gc.layer_problems(ReLU(), np.zeros((1, 1, 2)), np.ones((1, 1, 2)))

    (r,) = gc.check_drawn(always, seed=0, budget=3)
    assert r.status == "KINK" and r.kinks == 4


@pytest.mark.parametrize("dtype", DTYPES)
def test_projected_mode_localises_a_single_wrong_element(dtype: str) -> None:
    rng = np.random.default_rng(11)
    w = rng.standard_normal((1, 24, 16)).astype(dtype)
    layer = mt.SignFlipLinear(w, rng.standard_normal((1, 1, 16)).astype(dtype))
    x, dy = rng.standard_normal((1, 8, 24)).astype(dtype), rng.standard_normal((1, 8, 16)).astype(dtype)
    p = next(q for q in gc.layer_problems(layer, x, dy) if q.wrt == "W")
    real = Linear(w)
    real.forward(x)
    flipped = int(np.argmax(np.abs(real.grad_params(dy)["W"])))
    r = gc.check(p, seed=4, mode="projected")
    assert r.status == "FAIL" and r.mode == "projected"
    assert r.worst.startswith(p.name(flipped)), (r.worst, p.name(flipped))
    assert "u[4," in r.worst  # the seed of the projection that exposed it
    assert gc.check(gc.layer_problems(Linear(w), x, dy)[1], mode="projected").status == "PASS"


@pytest.mark.parametrize("dtype", DTYPES)
def test_taylor_order_two_for_right_gradients_one_for_wrong(dtype: str) -> None:
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((1, 4, 3)) * 2).astype(dtype)
    dy = rng.standard_normal((1, 4, 3)).astype(dtype)
    right = gc.taylor_order(gc.layer_problems(Sigmoid(), x, dy)[0], seed=0)
    wrong = gc.taylor_order(gc.layer_problems(mt.SigmoidY(), x, dy)[0], seed=0)
    assert right is not None and right > 1.7
    assert wrong is not None and abs(wrong - 1.0) < 0.2
    linear = gc.layer_problems(Linear(rng.standard_normal((1, 3, 3)).astype(dtype)), x, dy)[0]
    assert gc.taylor_order(linear, seed=0) is None  # affine in x: remainder at rounding level


def test_member_axis_is_independent() -> None:
    rng = np.random.default_rng(8)
    w, b = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 1, 2))
    x, dy = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 2))
    ps = gc.layer_problems(Linear(w, b), x, dy)
    for p in ps:
        assert gc.check(p).status == "PASS"
    pw = ps[1]
    base = pw.evaluate(pw.x.copy())
    moved = pw.x.copy()
    moved[0] += 0.5  # member 0 only
    out = pw.evaluate(moved).trace[0]
    assert np.array_equal(out[1], base.trace[0][1]) and not np.array_equal(out[0], base.trace[0][0])
    # each member of the K=2 gradient equals the K=1 gradient of that member alone
    for k in range(2):
        alone = gc.layer_problems(Linear(w[k:k + 1], b[k:k + 1]), x[k:k + 1], dy[k:k + 1])[1]
        assert np.array_equal(alone.gradient[0], pw.gradient[k])


# ----------------------------------------------------------------- the command

def test_command_passes_lists_every_component_and_is_deterministic(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gc.json"
    # --quick: every component in both dtypes, one seed and the two small shapes (the full
    # run is the same code over more cases; it is exercised by `python -m verify`)
    assert vgc_cli.main(["--quick", "--json", str(path), "--quiet"]) == vgc.EXIT_PASS
    doc = json.loads(path.read_text())
    assert doc["passed"] is True
    seen = {(r["component"], r["dtype"], r["wrt"]) for r in doc["rows"]}
    for dt in DTYPES:
        for comp, wrts in (("Linear", "xWb"), ("Linear (no bias)", "xW"), ("Sigmoid", "x"), ("ReLU", "x"),
                           ("Tanh", "x"), ("Identity", "x")):
            assert {(comp, dt, w) for w in wrts} <= seen
        for comp in ("MSE", "BCE", "BCEWithLogits"):
            assert (comp, dt, "y") in seen
        assert ("network (lab)", dt, "params") in seen
    assert all(r["status"] == "PASS" for r in doc["rows"])
    assert all(m["caught"] for m in doc["mutants"]) and len(doc["mutants"]) == 24
    capsys.readouterr()
    assert vgc_cli.main(["--quick", "--dtype", "float32", "--seed", "3"]) == 0
    first = capsys.readouterr().out
    assert vgc_cli.main(["--quick", "--dtype", "float32", "--seed", "3"]) == 0
    assert capsys.readouterr().out == first and "PASS" in first


def test_report_and_exit_codes(tmp_path: Path) -> None:
    assert vgc_cli.main(["--quick", "--quiet", "--dtype", "float64", "--report", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["ok"] is True and doc["data"]["passed"] is True
    assert (tmp_path / "report.md").read_text().startswith("# Finite-difference gradient check")
    assert (tmp_path / "taylor.png").stat().st_size > 1000
    ok = gc.Result("c", "float64", "x", "PASS", 0.0, 1.0, 0.0, "-", 1e-6, 0, "exhaustive")
    row = vgc.Row(ok, "s", 1, 0)
    caught = mt.MutantResult("m", "float64", "layer", True, "", 2.0)
    escaped = mt.MutantResult("m", "float64", "layer", False, "", 0.5)
    assert vgc.exit_code([row], [caught]) == vgc.EXIT_PASS
    assert vgc.exit_code([row], [escaped]) == vgc.EXIT_FAIL
    assert vgc.exit_code([vgc.Row(gc.replace(ok, status="FAIL"), "s", 1, 0)], [caught]) == vgc.EXIT_FAIL
    assert vgc.exit_code([vgc.Row(gc.replace(ok, status="KINK"), "s", 1, 0)], [caught]) == vgc.EXIT_INCONCLUSIVE


@pytest.mark.parametrize("dtype", DTYPES)
def test_numeric_gradient_matches_a_hand_derivative_within_its_bound(dtype: str) -> None:
    # f(x) = sum(v * tanh(x)); df/dx = v (1 - tanh(x)^2), computed here in float64 from the formula
    x = np.array([[[-1.5, -0.25, 0.0, 0.5, 2.0]]], dtype=dtype)
    v = np.array([[[1.0, -2.0, 0.5, 3.0, -1.0]]], dtype=dtype)
    (p,) = gc.layer_problems(Tanh(), x, v)
    value, bound = gc.numeric_gradient(p)
    exact = v.astype(np.float64) * (1.0 - np.tanh(x.astype(np.float64)) ** 2)
    assert np.all(np.abs(value - exact) <= bound)
    # and not a wild over-estimate: within 100x of eps^(2/3), the best a central difference does
    ideal = np.cbrt(np.finfo(dtype).eps) ** 2
    assert np.all(bound < 100 * ideal)


def test_float64_reference_of_a_relu_network_on_the_other_side_of_a_kink_is_a_kink() -> None:
    # z = x W + b with x = W = 1 + 2^-23, b = -(1 + 2^-22): x W = 1 + 2^-22 + 2^-46 exactly,
    # which float32 rounds to 1 + 2^-22 (z = 0, ReLU off) and float64 keeps (z = 2^-46, on).
    # The two precisions differentiate different pieces, so comparing them proves nothing.
    one = 1.0 + 2.0**-23
    net = mlp(1, (1,), 1, activation="relu", dtype="float32", seed=0, bias=[True, False])
    net.set_params({"linear_1.W": [[[one]]], "linear_1.b": [[[-(1.0 + 2.0**-22)]]]})
    t = np.array([[0.0], [1.0]])
    p = gc.network_problem(net, np.array([[one], [2.0]]), t, reference="float64")
    assert p.reference_kink and p.reference is None
    assert gc.check(p).status == "KINK"
    q = gc.network_problem(net, np.array([[3.0], [2.0]]), t, reference="float64")
    assert not q.reference_kink and q.reference is not None


def test_projected_direction_with_a_vanishing_component_stays_finite() -> None:
    # seed 16, projection 3 draws a direction with an element so small that x + d/2 == x
    # in float32 (found by running the command with --seed 14); 0/0 once made it inf
    results = gc.check_drawn(vgc.layer_draw("Linear", "float32", 16, 24, 16), seed=16)
    for r in results:
        assert r.status == "PASS" and np.isfinite(r.expected), r
    assert {r.mode for r in results} == {"projected", "exhaustive"}


def test_the_mode_column_is_not_truncated() -> None:
    base = gc.Result("c", "float64", "x", "PASS", 0.0, 1.0, 0.0, "-", 1e-6, 0, "exhaustive")
    for mode in ("exhaustive", "projected"):
        cells = vgc.row_cells(vgc.Row(gc.replace(base, mode=mode), "s", 1, 0))
        assert cells[vgc.HEADERS.index("mode")] == mode
        assert mode in vgc.table([vgc.Row(gc.replace(base, mode=mode), "s", 1, 0)])


# ----------------------------------------------------------------- what a student reads

def _quick_float64(capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = vgc_cli.main(["--quick", "--dtype", "float64", *flags])
    out, err = capsys.readouterr()
    return code, out, err


def test_progress_is_one_line_rewritten_in_place_and_quiet_is_silent(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _quick_float64(capsys)
    assert code == vgc.EXIT_PASS
    # one line: every update starts with \r and only the last one ends it
    assert err.startswith("\r") and err.endswith("\n") and err.count("\n") == 1, repr(err[-300:])
    updates = err[1:-1].split("\r")
    assert all(u.startswith("gradcheck: ") for u in updates), updates
    total = len(vgc.cases(["float64"], 0, quick=True)) + len(mt.MUTANTS)
    assert f"{total}/{total} checks" in updates[-1] and "s left" in updates[-1]
    # under 80 characters: a terminal never wraps it, so \r really returns to its start
    assert max(len(u) for u in updates) < 80, max(updates, key=len)
    code, out, err = _quick_float64(capsys, "--quiet")
    assert code == vgc.EXIT_PASS and out == "" and err == ""


def _legend_names(out: str, after: str) -> list[str]:
    """The column names a legend explains: the first word(s) of each unindented line after ``after``."""
    lines = out[out.index(after):].splitlines()[1:]
    lines = lines[:next((i for i, line in enumerate(lines) if not line.strip()), len(lines))]
    return [line.split("  ")[0] for line in lines if not line.startswith(" ")]


def test_default_output_is_a_short_table_then_a_legend_of_every_column(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _quick_float64(capsys)
    assert code == vgc.EXIT_PASS
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("checked"))
    assert lines[head].split("  ")[0] == "checked" and "worst error" in lines[head]
    assert [ln.split()[0] for ln in lines[head + 2:head + 4]] == ["Linear", "Linear"]
    assert "PASS" in lines[head + 2] and "% of allowed" in lines[head + 2]
    # each table is followed by a legend naming every one of its columns, in order
    assert [n for n, _ in vgc.SHORT_LEGEND] == list(vgc.SHORT_HEADERS)
    assert [n for n, _ in mt.SHORT_LEGEND] == list(mt.SHORT_HEADERS)
    first = out.index("Columns:")
    assert _legend_names(out, "Columns:") == list(vgc.SHORT_HEADERS)
    assert _legend_names(out[first + 1:], "Columns:") == list(mt.SHORT_HEADERS)
    # one row per mutant, all caught in both levels
    for m in mt.MUTANTS:
        assert any(ln.startswith(m.name + " ") and "2 of 2" in ln for ln in lines), m.name
    # the detailed columns stay behind --verbose, and the last line is the verdict
    assert "redraws" not in out and "vs-f64" not in out and not any(ln.startswith("component") for ln in lines)
    assert "--verbose" in out and lines[-1].startswith("PASS: ")
    assert max(len(ln) for ln in lines if not ln.startswith(("unsummed-bias", "-"))) <= 100


def test_verbose_adds_the_detailed_tables_with_their_legends(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _quick_float64(capsys, "--verbose")
    assert code == vgc.EXIT_PASS
    lines = out.splitlines()
    detail = next(ln for ln in lines if ln.startswith("component"))
    assert detail.split() == list(vgc.HEADERS)
    assert [n for n, _ in vgc.LEGEND] == list(vgc.HEADERS)
    assert [n for n, _ in mt.LEGEND] == ["mutant", "dtype", "level", "caught", "by"]
    names = out[out.index(detail):]
    assert _legend_names(names, "Columns:") == list(vgc.HEADERS)
    assert _legend_names(names[names.index("Every mutant check"):], "Columns:") == [n for n, _ in mt.LEGEND]
    # the short tables still come first
    assert out.index("checked ") < out.index(detail)
    assert len([ln for ln in lines if ln.split()[:1] in (["dropped-bias"], ["unsummed-bias"])]) == 1 + 1 + 2 + 2


def test_mutant_reasons_name_their_tensor_once(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    results = mt.check_mutants(["float64"], seed=0)
    by = {(r.mutant, r.level): r.by for r in results}
    assert by[("dropped-bias", "layer")] == "b: gradient missing"
    assert by[("dropped-bias", "network")] == "linear_2.b: gradient missing"
    assert by[("unsummed-bias", "layer")] == "b: gradient shape (1, 4, 3) != (1, 1, 3)"
    assert all(r.fault == r.mutant.endswith("bias") for r in results)
    repeated = re.compile(r"(^|\s)([\w.]+): \2: ")
    assert not [r.by for r in results if repeated.search(r.by)]
    # a fault that names no tensor gets the tensor in front, once
    ok = gc.Result("c", "float64", "x", "FAIL", 0.0, 1.0, 0.0, "-", 1e-6, 0, "exhaustive",
                   faults=("two backward calls differ",))
    assert mt._verdict(mt.MUTANTS[0], "float64", "layer", [ok]).by == "x: two backward calls differ"
    _, out, _ = _quick_float64(capsys, "--verbose")
    assert not repeated.search(out) and "b: b:" not in out


def test_report_puts_the_short_tables_and_legends_before_the_details(tmp_path: Path) -> None:
    assert vgc_cli.main(["--quick", "--quiet", "--dtype", "float64", "--report", str(tmp_path)]) == 0
    md = (tmp_path / "report.md").read_text()
    order = ["## Results", "| " + " | ".join(vgc.SHORT_HEADERS) + " |", "- **worst error**:",
             "| " + " | ".join(mt.SHORT_HEADERS) + " |", "- **largest error**:", "## Details",
             "| " + " | ".join(vgc.HEADERS) + " |", "- **vs-f64**:", "## Method"]
    at = [md.index(s) for s in order]
    assert at == sorted(at), list(zip(order, at))
    assert prose_problems(md) == [] and "b: b:" not in md
    doc = json.loads((tmp_path / "report.json").read_text())
    # the JSON keeps every detail of every row
    assert set(vgc.Row(gc.Result("c", "float64", "x", "PASS", 0.0, 1.0, 0.0, "-", 1e-6, 0, "exhaustive"),
                       "s", 1, 0).as_dict()) <= set(doc["data"]["rows"][0])


def test_loss_problem_names_y_when_y_is_the_odd_one() -> None:
    """A 0-d or float16 ``y`` is ``y``'s fault, not ``t``'s (found by the entry-point property)."""
    from refnet.losses import BCEWithLogits
    t = np.ones((1, 2, 1))
    with pytest.raises(ValueError, match=r"^y: expected a 3-d \(K, N, f\) array, got shape \(\)$"):
        gc.loss_problem(BCEWithLogits(), np.array(0.0), t)
    with pytest.raises(TypeError, match="^y: expected a float32, float64 or longdouble array, got dtype float16$"):
        gc.loss_problem(BCEWithLogits(), np.zeros((1, 2, 1), dtype=np.float16), t)
    with pytest.raises(ValueError, match="^t: expected a float64 array of y's shape"):
        gc.loss_problem(BCEWithLogits(), np.zeros((1, 2, 1)), t[:, :1])
