"""``verify.experiments`` at reduced size: the report's structure, its numbers and its figures."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from refnet.conventions import READINGS
from verify import experiments
from verify.experiments import HIDDEN_SWEEP, LR_SWEEP, SIZES, convergence_epoch

from .conftest import QuickSuite

FIGURES = {
    "linear_truth_prediction.png", "xor_truth_prediction.png", "boundaries_baseline.png", "lr_curves.png",
    "hidden_units.png", "mse_vs_bce.png", "sigmoid_vs_relu.png", "relu_bce_lr.png", "boundaries_xor.png",
    "conventions.png",
}
SEEDS = 2


@pytest.fixture(scope="module")
def quick_report(quick_suite: QuickSuite) -> tuple[int, Path, dict[str, Any]]:
    """``experiments --quick --seeds 2``, the run of the session's quick suite (tests/conftest.py)."""
    part = quick_suite.parts["experiments"]
    assert part.argv[-3:] == ["--quick", "--seeds", str(SEEDS)] and part.rc is not None
    out = quick_suite.folder("experiments")
    return part.rc, out, json.loads((out / "report.json").read_text())


def _check_png(path: Path) -> tuple[int, int]:
    """Signature, IHDR (with its CRC) and a full decode by matplotlib."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    (crc,) = struct.unpack(">I", data[29:33])
    assert zlib.crc32(data[12:29]) == crc
    width, height = struct.unpack(">II", data[16:24])
    assert data.rstrip(b"\0")[-8:-4] == b"IEND"
    import matplotlib.image

    pixels = matplotlib.image.imread(str(path))
    assert pixels.shape[:2] == (height, width)
    assert float(np.ptp(pixels[..., :3])) > 0.0  # not a blank image
    return width, height


def test_quick_run_passes_and_writes_every_file(quick_report: tuple[int, Path, dict[str, Any]]) -> None:
    rc, out, doc = quick_report
    assert rc == 0
    assert doc["name"] == "experiments" and doc["ok"] is True
    assert set(doc) >= {"title", "summary", "figures", "tables", "data"}
    assert set(doc["figures"]) == FIGURES
    assert {p.name for p in out.glob("*.png")} == FIGURES
    for name in FIGURES:
        w, h = _check_png(out / name)
        assert w >= 400 and h >= 300


def test_report_lists_every_experiment(quick_report: tuple[int, Path, dict[str, Any]]) -> None:
    _, out, doc = quick_report
    md = (out / "report.md").read_text()
    assert md.startswith("# The lab's experiments, rerun\n\n**PASS**")
    for heading in ("1. Linear and XOR data", "2. Learning rates on linear data", "3. Hidden units on linear data",
                    "4. MSE vs BCE on XOR", "5. Sigmoid vs ReLU on XOR", "6. ReLU + BCE at lr 0.01 vs 0.001",
                    "7. Decision boundaries on XOR", "8. The readings against refnet's default",
                    "9. Sensitivity: the verdicts under `lab` and under `lab-sum`", "All runs"):
        assert f"## {heading}" in md
    for name in FIGURES:
        assert f"]({name})" in md
    # every table row of the Markdown has as many cells as its header
    for block in re.findall(r"(?:^\|.*\|\n)+", md, flags=re.MULTILINE):
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in block.splitlines()}
        assert len(widths) == 1


def test_one_row_per_run_with_the_settings(quick_report: tuple[int, Path, dict[str, Any]]) -> None:
    _, _, doc = quick_report
    runs = doc["data"]["runs"]
    # per reading (lab, lab-sum): baseline 2 + lr sweep 6 + hidden 5 + XOR variants 4, less the baseline's
    # linear setting recurring in the lr and hidden sweeps; the default convention: lr sweep 6 + the
    # convention comparison (3 settings x lr and lr x N x each reading's batching), less the default at
    # lr 0.05 on full-batch linear data (in the lr sweep too); each for every seed.
    batchings = {READINGS[c].batch_size for c in ("lab-evidence", "lab-sum")}
    comparison = 3 * 2 * len(batchings) - (1 if None in batchings else 0)
    assert len(runs) == SEEDS * (2 * (2 + len(LR_SWEEP) + len(HIDDEN_SWEEP) + 4 - 2) + len(LR_SWEEP) + comparison)
    sizes = SIZES["quick"]
    for r in runs:
        assert r["epochs"] == (sizes.linear_epochs if r["data"] == "linear" else sizes.xor_epochs)
        assert r["seed"] in range(SEEDS) and 0.0 <= r["accuracy"] <= 100.0
        assert r["seconds"] > 0 and r["outcome"] in ("converged", "stalled", "diverged")
    for conv in ("lab-evidence", "lab-sum"):
        lab_lrs = sorted({r["lr"] for r in runs if r["data"] == "linear" and r["convention"] == conv
                          and r["hidden"] == [4, 4]})
        assert lab_lrs == sorted(LR_SWEEP)
    assert sorted({r["hidden"][0] for r in runs}) == sorted(HIDDEN_SWEEP)
    all_runs = next(t for t in doc["tables"] if t["caption"] == "One row per run:")
    assert len(all_runs["rows"]) == len(runs)
    assert all_runs["headers"][-5:] == ["final loss", "accuracy %", "outcome", "converged at", "time (s)"]
    # The summed reading's baseline: sigmoid/MSE reaches 100% on linear data for every seed.
    base = [r for r in runs if r["data"] == "linear" and r["convention"] == "lab-sum" and r["lr"] == 0.05
            and r["hidden"] == [4, 4]]
    assert len(base) == SEEDS and all(r["accuracy"] == 100.0 for r in base)


def test_findings_checks_and_convention_gaps(quick_report: tuple[int, Path, dict[str, Any]]) -> None:
    _, _, doc = quick_report
    data = doc["data"]
    assert data["main_reading"] == "lab-evidence" and data["sensitivity_reading"] == "lab-sum"
    assert data["readings"] == {"lab-evidence": READINGS["lab-evidence"].label, "lab-sum": READINGS["lab-sum"].label}
    for key in ("findings", "findings_sensitivity"):
        assert len(data[key]) == 11
        for f in data[key]:
            assert f["seeds"] == SEEDS and 0 <= f["holds"] <= SEEDS and f["verdict"] and f["measured"]
    assert {f["reading"] for f in data["findings"]} == {"lab-evidence"}
    assert {f["reading"] for f in data["findings_sensitivity"]} == {"lab-sum"}
    assert {c["name"] for c in data["checks"]} == {"baseline", "lr sweep", "members lab", "members lab-sum"}
    assert all(c["passed"] for c in data["checks"])
    # A mean-gradient reading is matched by the default at the same lr, a summed one at lr x N; the
    # matched XOR curves nearly coincide (only the order of the updates differs), the others are far.
    for c in data["conventions"]:
        if c["setting"] == "XOR sigmoid/MSE":
            factor = 21.0 if READINGS[c["reading"]].gradient == "sum" else 1.0
            assert c["matched"] == (c["factor"] == factor)
            if c["matched"]:
                assert max(c["gap_decades"]) < 0.1
            else:
                assert min(c["gap_decades"]) > 1.0


def test_sensitivity_lists_every_conclusion_under_both_readings(
        quick_report: tuple[int, Path, dict[str, Any]]) -> None:
    _, out, doc = quick_report
    sens = doc["data"]["sensitivity"]
    keys = [f["key"] for f in doc["data"]["findings"]]
    assert [s["key"] for s in sens] == keys and len(set(keys)) == len(keys)
    for s in sens:
        a, b = s["lab-evidence"], s["lab-sum"]
        assert s["verdict_changed"] == (a["verdict"] != b["verdict"])
        assert s["delta_holds"] == a["holds"] - b["holds"]
        assert s["seeds_changed"] == [k for k, (x, y) in enumerate(zip(a["per_seed"], b["per_seed"])) if x != y]
    md = (out / "report.md").read_text()
    changed = sum(s["verdict_changed"] for s in sens)
    assert f"**{changed} of {len(sens)} verdicts change**" in md
    table = next(t for t in doc["tables"] if t["headers"][:3] == ["lab conclusion", "holds under lab",
                                                                    "holds under lab-sum"])
    assert len(table["rows"]) == len(sens)


def test_step_factor_and_description_follow_the_reading_fields() -> None:
    assert experiments.step_factor("default", 21, "mse") == 1.0
    assert experiments.step_factor(READINGS["lab-sum"], 21, "mse") == 21.0
    half = READINGS["lab-evidence"].but(gradient="mean", mse_derivative="(y-t)")
    assert experiments.step_factor(half, 100, "mse") == 0.5
    assert experiments.step_factor(half, 100, "bce") == 1.0
    text = experiments.describe("lab-evidence")
    assert READINGS["lab-evidence"].label in text and ("*mean*" in text) == (READINGS["lab-evidence"].gradient == "mean")


def test_convergence_epoch() -> None:
    assert convergence_epoch(np.array([1.0, 0.5, 0.02, 0.009, 0.001])) == 4
    assert convergence_epoch(np.array([1.0, 0.5, 0.02, 0.01, 0.001])) == 5  # exactly 1% is not below
    assert convergence_epoch(np.array([1.0, 0.5, 0.2])) is None
    assert convergence_epoch(np.array([np.nan, 0.0])) is None
    assert convergence_epoch(np.array([], dtype=np.float64)) is None


def test_flags(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        experiments.main(["--quick", "--full"])
    assert experiments.main(["--seeds", "0", "--quiet", "--report", str(tmp_path)]) == 2
    assert not (tmp_path / "report.json").exists()


def test_full_mode_runs_the_lab_sizes() -> None:
    full = SIZES["full"]
    assert (full.linear_epochs, full.xor_epochs, full.n_linear) == (10000, 500000, 100)
    assert SIZES["default"].linear_epochs == 10000 and SIZES["default"].seeds >= 5
    assert experiments.LAB_LR == 0.05
