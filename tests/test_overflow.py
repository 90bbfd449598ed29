"""The overflow study: Hessian, reproduction in both dtypes, the lab's symptom, report fields."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from refnet import mlp, train
from refnet.conventions import READINGS, sigmoid_of
from refnet.data import xor_easy
from verify.overflow import cli
from verify.overflow import study as overflow
from verify.common.hessian import curvature_along, hessian, point_hessians
from verify.overflow.grid import (GridSpec, batch_factor, boundaries, first_nonfinite, lab_linear, run_grid,
                                  sharpness, step_scale)
from verify.overflow.runs import best_linear_accuracy, lab_symptom
from verify.common.report import png_size

X, Y = xor_easy()


# -- the Hessian ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "longdouble"])
def test_hessian_of_a_linear_layer_is_two_xtx_over_n(dtype: str) -> None:
    # y = x @ w + b with MSE (no 1/2): L = mean (x.w + b - t)^2, so H = 2 [x 1]^T [x 1] / N
    # whatever the parameters; the parameter order is W (2 entries) then b.
    net = mlp(2, (), 1, activation="none", output_activation="none", bias=[True], seed=3)
    design = np.column_stack([X, np.ones(len(X))])
    exact = 2.0 * design.T @ design / len(X)
    h = hessian(net, X, Y, dtype=dtype)
    assert h.matrix.shape == (3, 3)
    np.testing.assert_allclose(h.matrix, exact, rtol=0, atol=1e-8)
    assert h.lambda_max == pytest.approx(float(np.linalg.eigvalsh(exact)[-1]), rel=1e-9)


def test_point_hessians_average_to_the_batch_hessian_and_match_second_differences() -> None:
    net = lab_linear(6, seed=1)
    per_point = point_hessians(net, X, Y)
    whole = hessian(net, X, Y)
    assert per_point.shape == (21, net.n_params, net.n_params)
    np.testing.assert_allclose(per_point.mean(axis=0), whole.matrix, rtol=0,
                               atol=1e-7 * np.abs(whole.matrix).max())
    # independent check from loss values only, along the top eigenvector
    along = curvature_along(net, X, Y, whole.top_vector)
    assert along == pytest.approx(whole.lambda_max, rel=1e-5)
    assert whole.lambda_min < 0 < whole.lambda_max  # a product of weights is not convex


def test_step_sharpness_follows_the_convention_fields() -> None:
    s = sharpness(X, Y, 6, 0, (20, 21))
    # full batch: the summed loss is N times the mean loss
    assert s.step["lab-sum"][21] == pytest.approx(21 * s.full, rel=1e-9)
    assert s.step["default"][21] == pytest.approx(s.full, rel=1e-9)
    assert s.step["lab-sum"][20] > 10 * s.step["default"][20]
    # "lab-evidence" is whatever READINGS["lab-evidence"] is: its step scale is read from its fields
    summed, factor = step_scale("lab-evidence")
    assert summed == (READINGS["lab-evidence"].gradient == "sum")
    for size in (20, 21):
        base = s.step["lab-sum" if summed else "default"][size]
        assert s.step["lab-evidence"][size] == pytest.approx(factor * base, rel=1e-12)
    assert step_scale("default") == (False, 1.0) and step_scale("lab-sum") == (True, 1.0)
    assert batch_factor(READINGS["lab-evidence"].but(gradient="sum", mse_derivative="(y-t)"), 20) == 10.0


# -- reproduction, both dtypes ----------------------------------------------------------------
CFG = overflow.QUICK_CONFIG


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("convention", ["lab-evidence", "lab-sum", "default"])
def test_first_try_overflows_and_the_guard_catches_it_where_the_trace_saw_it(dtype: str, convention: str) -> None:
    run = overflow.reproduce(CFG, convention, dtype, "none")  # type: ignore[arg-type]
    event = run["event"]
    assert isinstance(event, dict)
    assert run["guard_agrees_with_trace"] is True
    assert event["dtype"] == dtype
    assert event["origin"] == "producer"
    assert event["nan"] + event["pos_inf"] + event["neg_inf"] >= 1
    assert event["epoch"] <= 3  # lr 0.1 is far beyond the bound: a few steps suffice
    json.dumps(event)
    trace = run["trace_first"]
    assert isinstance(trace, dict)
    # every input of the failing operation was finite, and big
    assert np.isfinite(trace["input_absmax"]) and trace["input_absmax"] > 1e10


def test_summed_reading_float64_first_event_is_the_squared_error_the_lab_saw() -> None:
    event = overflow.reproduce(CFG, "lab-sum", "float64", "none")["event"]
    assert isinstance(event, dict)
    assert (event["epoch"], event["step"], event["phase"], event["layer_name"], event["role"]) == \
        (1, 2, "loss", "mse", "loss terms")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("convention", ["lab-evidence", "lab-sum"])
def test_second_try_with_output_sigmoid_stays_finite(dtype: str, convention: str) -> None:
    run = overflow.reproduce(dataclasses.replace(CFG, second_epochs=100), convention, dtype,  # type: ignore[arg-type]
                             "sigmoid")
    assert run["event"] is None
    assert isinstance(run["accuracy"], float) and run["accuracy"] < 100.0


def test_second_try_network_is_built_with_the_readings_sigmoid() -> None:
    # train() refuses a network whose sigmoid formula is not the reading's
    net = lab_linear(6, output="sigmoid", seed=0, sigmoid="stable" if READINGS["lab-evidence"].sigmoid == "naive" else "naive")
    with pytest.raises(ValueError, match="sigmoid"):
        train(net, X, Y, lr=0.1, epochs=1, batch_size=20, convention="lab-evidence")
    run = overflow.reproduce(dataclasses.replace(CFG, second_epochs=5), "lab-evidence", "float64", "sigmoid")
    assert run["event"] is None


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("convention", ["lab-evidence", "lab-sum"])
def test_guard_off_shows_the_lab_symptom_and_no_warning_escapes(dtype: str, convention: str) -> None:
    # pytest turns any escaping warning into an error (filterwarnings = error)
    net = lab_linear(6, dtype=dtype, seed=0, sigmoid=sigmoid_of(convention))  # type: ignore[arg-type]
    s = lab_symptom(net, X, Y, lr=0.1, epochs=4, batch_size=20, convention=convention)  # type: ignore[arg-type]
    assert s.convention == convention
    assert s.predictions_nan == s.predictions == 21
    assert s.accuracy == 0.0
    assert any(not np.isfinite(v) for v in s.loss)
    if dtype == "float64" and convention == "lab-sum":
        assert {w["message"] for w in s.warnings} >= {"overflow encountered in square"}


def test_trained_ensemble_member_equals_the_network_trained_alone() -> None:
    lrs = np.array([1e-4, 1e-1])
    net = lab_linear(6, seed=[4, 4])
    hist = train(net, X, Y, lr=lrs, epochs=5, batch_size=20, convention="lab-sum")
    alone = lab_linear(6, seed=4)
    hist1 = train(alone, X, Y, lr=0.1, epochs=5, batch_size=20, convention="lab-sum")
    np.testing.assert_array_equal(hist.loss[:, 1], hist1.loss[:, 0])
    assert first_nonfinite(hist.loss, net)[1] == first_nonfinite(hist1.loss, alone)[0] is not None
    assert first_nonfinite(hist.loss, net)[0] is None


def test_grid_thresholds_scale_with_batch_size_only_under_the_lab_convention() -> None:
    spec = GridSpec(lrs=(1e-4, 1e-3, 1e-2, 1e-1), batch_sizes=(1, 21), conventions=("lab-sum", "default"),
                    dtypes=("float64",), hidden=(6,), seeds=(0,), epochs=60)
    sharp = {(6, 0): sharpness(X, Y, 6, 0, spec.batch_sizes)}
    rows = {(r["convention"], r["batch_size"]): r for r in boundaries(run_grid(spec, X, Y, sharp))}
    assert rows[("lab-sum", 21)]["lr_diverged"] < rows[("lab-sum", 1)]["lr_diverged"]  # type: ignore[operator]
    assert rows[("lab-sum", 21)]["lr_diverged"] < rows[("default", 21)]["lr_diverged"]  # type: ignore[operator]


def test_best_linear_accuracy_is_exact() -> None:
    assert best_linear_accuracy([[0, 0], [1, 1], [0, 1], [1, 0]], [0, 0, 1, 1]) == 75.0
    assert best_linear_accuracy([[0, 0], [1, 0], [0, 1], [1, 1]], [0, 1, 0, 1]) == 100.0
    assert best_linear_accuracy(X, Y) == pytest.approx(100 * 16 / 21)


# -- the command and its report ---------------------------------------------------------------
@pytest.fixture(scope="module")
def quick_study() -> overflow.Study:
    return overflow.run_study(overflow.QUICK_CONFIG)


def _serve(monkeypatch: pytest.MonkeyPatch, study: overflow.Study, seen: list[overflow.Config]) -> None:
    def fake(cfg: overflow.Config, quiet: bool = True) -> overflow.Study:
        seen.append(cfg)
        return study

    monkeypatch.setattr(cli, "run_study", fake)


def test_quick_run_exits_zero_and_writes_the_report(
        quick_study: overflow.Study, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[overflow.Config] = []
    _serve(monkeypatch, quick_study, seen)
    out = tmp_path / "report"
    assert cli.main(["--quick", "--quiet", "--report", str(out)]) == 0
    assert seen == [overflow.QUICK_CONFIG]
    assert "overflow: PASS" in capsys.readouterr().out
    doc = json.loads((out / "report.json").read_text())
    assert doc["ok"] is True
    data = doc["data"]
    for key in ("config", "environment", "first_event", "table", "bound", "thresholds",
                "predictors", "linear_limit", "reproduction", "symptom", "drift", "seconds"):
        assert key in data, key
    ev = data["first_event"]
    for key in ("epoch", "step", "phase", "layer_name", "operation", "role", "nan", "pos_inf",
                "first_index", "headroom", "origin"):
        assert key in ev, key
    assert data["config"]["quick"] is True and data["environment"]["numpy"] == np.__version__
    for conv in ("lab-evidence", "lab-sum", "default"):
        assert data["bound"][f"{conv}: lr_over_bound"] > 1.0
    assert data["main_reading"] == "lab-evidence" and data["readings"]["lab-evidence"] == READINGS["lab-evidence"].label
    assert set(data["first_events"]) == {f"{c} {d}" for c in ("lab-evidence", "lab-sum", "default")
                                         for d in ("float64", "float32")}
    assert set(data["linear_limit"]["second_try"]) == {"lab-evidence", "lab-sum"}
    spec = overflow.QUICK_CONFIG.grid
    assert len(data["table"]["rows"]) == (len(spec.conventions) * len(spec.dtypes) * len(spec.hidden)
                                          * len(spec.batch_sizes))
    assert len(data["table"]["headers"]) == 4 + len(spec.lrs)
    runs = data["runs_csv"].splitlines()
    assert runs[0].startswith("convention,dtype,hidden,batch_size,lr,seed,first_nonfinite")
    assert len(runs) - 1 == len(data["table"]["rows"]) * len(spec.lrs) * len(spec.seeds)
    assert data["linear_limit"]["best_linear_accuracy_exact"] == pytest.approx(100 * 16 / 21)
    for name in ("magnitudes.png", "outcome_map.png", "threshold.png", "drift.png",
                 "decision_boundaries.png"):
        assert name in doc["figures"]
        w, h = png_size(out / name)
        assert w > 300 and h > 200
    md = (out / "report.md").read_text()
    assert "**PASS**" in md and "Verdict" in md and "Run time" in md


def test_quick_study_facts(quick_study: overflow.Study) -> None:
    assert quick_study.seconds < 30.0
    lab_path, sum_path, default_path = quick_study.drift
    assert [p.convention for p in quick_study.drift] == ["lab-evidence", "lab-sum", "default"]
    # same lr and batch size 1: the lab's update order raises the sharpness, descent lowers it
    assert lab_path.lambda_max[-1] > lab_path.lambda_max[1]
    assert sum_path.lambda_max[-1] > sum_path.lambda_max[1]
    assert default_path.lambda_max[-1] < default_path.lambda_max[1]
    assert default_path.nonfinite_epoch is None
    limit = quick_study.limit
    assert limit["linear_affine_residual"] < 1e-9  # type: ignore[operator]
    assert max(limit["linear_accuracy"]) <= limit["best_linear_accuracy_exact"]  # type: ignore[call-overload, operator]


def test_main_exits_one_with_the_reason_when_nothing_overflows(
        quick_study: overflow.Study, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    broken = dataclasses.replace(quick_study, reproduction=[
        dict(r, event=None) if r["output"] == "none" else r for r in quick_study.reproduction])
    _serve(monkeypatch, broken, [])
    assert cli.main(["--quick", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "no non-finite value" in captured.err and "FAIL" in captured.out


def test_the_linear_limit_tables_hold_numbers_not_lists() -> None:
    from verify.overflow.report import limit_tables

    limit: dict[str, object] = {"best_linear_accuracy_exact": 76.19047619047619, "linear_seeds": [0, 1],
                                "linear_lr": 0.1, "linear_accuracy": [71.42857142857143, 76.19047619047619],
                                "linear_final_loss": [0.28381938117512623, 0.23971266367537314],
                                "second_try": {"lab-evidence": {}}, "sigmoid_net_accuracy": 100.0}
    scalars, headers, rows = limit_tables(limit)
    assert headers == ["seed", "accuracy (%)", "final loss"]
    assert rows == [[0, 71.42857142857143, 0.28381938117512623], [1, 76.19047619047619, 0.23971266367537314]]
    assert [r[0] for r in scalars] == ["best accuracy of any straight line on the 21 points (exact, %)",
                                       "linear network: learning rate", "lab's sigmoid network: accuracy (%)"]
    assert all(not isinstance(v, (list, dict, str)) for _, v in scalars)
    from verify.common.report import markdown_table

    md = markdown_table(headers, rows) + "\n" + markdown_table(["quantity", "value"], scalars)
    assert "| 0 | 71.43 | 0.2838 |" in md and "|---:|---:|---:|" in md and "|:---|---:|" in md
