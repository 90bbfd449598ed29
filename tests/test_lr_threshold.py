"""verify.lr_threshold: ulp stepping, box counting, multisection, E0, the --check round trip, bad arguments."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refnet.conventions import READINGS
from refnet.reproducible import simd_targets
from verify import lr_threshold
from verify.lr_threshold.env import ROOT
from verify.lr_threshold.study import PINNED, SCHEMA

from .conftest import QuickSuite
from verify.lr_threshold.boxcount import (box_counts, box_dimension, boundary_edges, cantor_points, dyadic_sizes,
                             label_boundary_fit)
from verify.lr_threshold.experiments import PAIR, Study, classify_pair, loss_ratio, multisection
from verify.lr_threshold.runs import RunRecord, lab_run, settled_epoch
from verify.lr_threshold.ulp import (add_ulps, decimal_exact, exact_fraction, from_ordinal, grid, hex_exact, midpoint,
                        ordinal, ordinal_grid, spacing, ulps_between)

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


def test_settled_epoch_sees_oscillation() -> None:
    loss = np.array([0.5, 0.009, 0.011, 0.008, 0.007])
    assert settled_epoch(loss, 0.01) == 4
    assert settled_epoch(loss[:3], 0.01) is None


# ------------------------------------------------------------------ multisection on a synthetic map

class _FakeStudy(Study):
    """Labels from a threshold rate instead of training: converged below it."""

    def __init__(self, boundary: float) -> None:
        super().__init__(PINNED, 1)
        self.boundary = boundary
        self.calls = 0

    def labels(self, rates: Any, tag: str, seed: int | None = None, epochs: int | None = None) -> list[RunRecord]:
        self.calls += len(rates)
        return [RunRecord(lab_run(0, r), "converged" if r < self.boundary else "stalled", {}, {}, "", "", "")
                for r in rates]


@pytest.mark.parametrize("per_round", [1, 5])
def test_multisection_brackets_to_adjacent_doubles(per_round: int) -> None:
    a, b = PAIR
    boundary = add_ulps(a, 1234567891)
    study = _FakeStudy(boundary)
    res = multisection(study, a, b, "converged", "stalled", seed=0, per_round=per_round, tag="t")
    assert res["ulps"] == 1
    assert res["hi"] == boundary and res["lo"] == add_ulps(boundary, -1)
    if per_round == 1:
        assert res["runs"] in (32, 33)  # log2(4.6e9 ulps) = 32.1
    assert study.calls == res["runs"]


# ------------------------------------------------------------------ the study: E0, --quick, --check

@pytest.fixture(scope="module")
def quick_report(quick_suite: QuickSuite) -> Path:
    """``lr_threshold --quick``, the run of the session's quick suite (tests/conftest.py)."""
    part = quick_suite.parts["lr_threshold"]
    assert part.argv[-1] == "--quick" and part.rc == 0, part.error
    return quick_suite.folder("lr_threshold")


def test_quick_study_reproduces_e0_in_fresh_processes(quick_report: Path) -> None:
    data = json.loads((quick_report / "report.json").read_text())["data"]
    assert data["schema"] == SCHEMA
    assert data["inputs"]["reading"] == READINGS["lab-evidence"].label  # the chosen reading, whatever it is
    e0 = data["experiments"]["E0"]
    assert e0["identical_in_fresh_processes"] is True and e0["reproduced"] is True
    assert e0["kernel"] == "portable" and e0["pinned_dispatch_in_use"] == []
    assert e0["pinned_environment"]["NPY_DISABLE_CPU_FEATURES"].split(",") == list(simd_targets())
    assert all(v["all_match"] for v in e0["fresh"].values()) and len(e0["fresh"]) == 1
    for run in e0["runs"] + e0["machine_runs"]:
        assert len(run["weights_sha256"]) == 64 and len(run["loss_sha256"]) == 64
        assert run["spec"]["convention"] == "lab-evidence"
    assert e0["machine_runs"][0]["spec"]["kernel"] == "blas"
    md = (quick_report / "report.md").read_text()
    assert "## E0 reproduce" in md and "## Sensitivity: the summed reading" in md
    sens = data["experiments"]["sensitivity"]
    assert sens["reading"] == READINGS["lab-sum"].label and sens["stored"]["schema"] == "refnet.verify.lr_threshold/1"
    assert (quick_report / "outcome_strips.png").stat().st_size > 1000
    e3 = data["experiments"]["E3"]
    assert e3["min_spacing_ulps"] >= 1
    assert e3["windows"][-1]["spacing_ulps_max"] == 1
    env = data["environment"]
    assert env["numpy"] == np.__version__ and "dispatch_in_use" in env["cpu_features"]


def test_check_round_trip_and_detects_tampering(quick_report: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = quick_report / "report.json"
    assert lr_threshold.main(["--check", str(path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "matches bitwise" in out and "DIFFERS" not in out
    doc = json.loads(path.read_text())
    e0 = doc["data"]["experiments"]["E0"]
    e0["machine_runs"][0]["weights_sha256"] = "1" * 64  # another machine's blas bits: reported, not a failure
    e0["runs"][1]["weights_sha256"] = "0" * 64
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(doc))
    assert lr_threshold.main(["--check", str(bad), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS  pinned lr=0.001490626 weights_sha256" in out
    assert "machine-specific, differs  blas lr=0.001490625 weights_sha256" in out
    e0["runs"][1]["weights_sha256"] = json.loads(path.read_text())["data"]["experiments"]["E0"]["runs"][1][
        "weights_sha256"]
    doc["data"]["environment"]["numpy"] = "0.0.0"
    bad.write_text(json.dumps(doc))
    assert lr_threshold.main(["--check", str(bad), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "environment numpy differs" in out and "machine-specific, differs" in out


# ------------------------------------------------------------------ the command line: bad arguments


def _bad_cases(tmp: Path) -> list[list[str]]:
    not_json = tmp / "not.json"
    not_json.write_text("{")
    old = tmp / "old.json"
    old.write_text(json.dumps({"data": {"schema": "refnet.verify.lr_threshold/1"}}))
    incomplete = tmp / "incomplete.json"
    incomplete.write_text(json.dumps({"data": {"schema": SCHEMA}}))
    a_file = tmp / "a_file"
    a_file.write_text("")
    return [
        ["--check", "/missing.json"], ["--check", str(tmp)], ["--check", str(not_json)], ["--check", str(old)],
        ["--check", str(incomplete)], ["--render", str(old), "--report", str(tmp)], ["--render", str(incomplete)],
        ["--report", "/dev/null/x"], ["--report", str(a_file)], ["--report", str(a_file / "sub")],
        ["--seed", "-1"], ["--seed", "1.5"], ["--epochs", "0"], ["--epochs", "x"], ["--workers", "0"],
        ["--search-seeds", "0"], ["--search-epochs", "-5"], ["--search-inits", "normal,bogus"],
        ["--init", "zeros"], ["--points", "1"], ["--per-round", "0"], ["--e7-width", "0"], ["--e7-width", "nan"],
        ["--e7-seeds", "-2"], ["--horizon", "0"], ["--e5-every", "0"], ["--sensitivity", "/missing.json"],
        ["--skip", "E9"], ["--skip", ""], ["--no-such-flag"],
    ]


def test_every_bad_argument_is_an_error_line_with_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in _bad_cases(tmp_path):
        proc = subprocess.run([sys.executable, "-m", "verify.lr_threshold", *args], capture_output=True,
                              text=True, env=env, timeout=60, check=False)
        assert proc.returncode == 2, (args, proc.returncode, proc.stderr)
        assert "error:" in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
        assert proc.stdout == "", (args, proc.stdout)


def test_loss_ratio_and_very_different() -> None:
    assert loss_ratio(0.001, 0.01) == pytest.approx(10.0)
    assert loss_ratio(0.5, math.inf) == math.inf and math.isnan(loss_ratio(math.nan, math.inf))
    vd = classify_pair("converged", "stalled", 0.001, 0.5)
    assert vd["very_different"] and vd["lab_direction"]
    near = classify_pair("converged", "stalled", 0.0094, 0.0106)  # two sides of the threshold
    assert near["differ"] and not near["very_different"]
    assert not classify_pair("stalled", "stalled", 0.001, 0.5)["very_different"]
    assert classify_pair("diverged", "converged", math.nan, 0.001)["very_different"]


def test_sha256_ignores_longdouble_padding() -> None:
    from verify.lr_threshold.runs import sha256

    a = np.array([1.5, -2.25, 1e-300], dtype=np.longdouble)
    raw = a.view(np.uint8).copy()
    if a.dtype.itemsize > 10 and np.finfo(np.longdouble).nmant == 63:
        raw.reshape(3, -1)[:, 10:] = 0xAB  # other padding, same values
    b = raw.view(np.longdouble)
    assert np.array_equal(a, b) and sha256(a) == sha256(b)
    assert sha256(np.array([1.5])) == sha256(np.array([1.5])) != sha256(np.array([1.25]))


def test_describe_fit_says_why_a_dimension_is_undefined() -> None:
    from verify.lr_threshold.boxcount import describe_fit, fit_dimension

    assert describe_fit(fit_dimension([1, 2, 4], [0, 0, 0])) == (
        "dimension undefined: no box of any size holds a boundary point (no label change)")
    assert describe_fit(fit_dimension([1, 2, 4], [1, 0, 0])).startswith(
        "dimension undefined: only 1 box size holds a boundary point")
    assert "no residual degree of freedom" in describe_fit(fit_dimension([1, 2], [4, 2]))
    cantor = box_dimension(cantor_points(6), [3 ** k for k in range(5)])
    assert describe_fit(cantor).startswith("dimension 0.631 (standard error ")
    stored = {"dimension": "nan", "stderr": "nan", "rms_residual": "nan", "sizes": [], "counts": []}
    assert describe_fit(stored) == describe_fit(fit_dimension([1], [0]))  # as report.json keeps it


def test_quick_report_prose_has_no_raw_values(quick_report: Path) -> None:
    from verify.common.report import prose_problems

    md = (quick_report / "report.md").read_text()
    assert prose_problems(md) == []
    for raw in ("Lab configuration: {", "Plan: {", "Fresh processes: {", "+- nan", "=True", "=False", "['"):
        assert raw not in md
    assert "Lab configuration: data xor (21 points), layers 2-4-4-1" in md
    assert "every hash matches" in md


def test_render_rewords_the_stored_verdicts_without_changing_them(tmp_path: Path) -> None:
    from verify.common.report import prose_problems

    stored = ROOT / "docs" / "figures" / "lr_threshold" / "report.json"
    assert lr_threshold.main(["--render", str(stored), "--report", str(tmp_path), "--quiet"]) == 0
    old = json.loads(stored.read_text())["data"]["experiments"]["verdicts"]
    new = json.loads((tmp_path / "report.json").read_text())["data"]["experiments"]["verdicts"]
    assert {h: v["verdict"] for h, v in new.items()} == {h: v["verdict"] for h, v in old.items()}
    assert prose_problems((tmp_path / "report.md").read_text()) == []
