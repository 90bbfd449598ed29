"""verify.conventions: the one epochs-to-threshold rule, a small run and its report for the suite."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import verify.__main__ as suite
from refnet.outcomes import first_below
from refnet.conventions import READINGS, resolve
from verify.conventions import READINGS_COMPARED, main, matched_factor


def test_first_below_counts_completed_epochs() -> None:
    loss = np.array([[0.5, 0.5], [0.2, 0.5], [0.05, 0.4]])
    assert first_below(loss, 0.1).tolist() == [3, -1]
    assert first_below(loss[:, 0], 0.1) == 3


def test_first_below_settled_and_non_finite() -> None:
    loss = np.array([[0.05, 0.05, np.nan], [0.5, 0.05, 0.05], [0.05, 0.05, 0.05]])
    assert first_below(loss, 0.1).tolist() == [1, 1, 2]
    assert first_below(loss, 0.1, settled=True).tolist() == [3, 1, 2]
    assert first_below(np.array([0.05, 0.5]), 0.1, settled=True) == -1
    assert first_below(np.empty((0, 2)), 0.1).tolist() == [-1, -1]


def test_small_run_prints_both_data_sets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seeds", "0", "--epochs-xor", "20", "--epochs-linear", "20", "--quiet"]) == 0
    out = capsys.readouterr().out
    # one comparison per reading and data set, each against its matched default run
    assert out.count("(lr) vs default") == 2 * len(READINGS_COMPARED)


def test_report_for_the_suite(tmp_path: Path) -> None:
    assert main(["--seeds", "0", "1", "--epochs-xor", "200", "--epochs-linear", "100", "--quiet",
                 "--report", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert doc["ok"] is True
    assert doc["data"]["closer_to_matched"] == {c: [True] * 4 for c in READINGS_COMPARED}
    assert doc["data"]["readings"] == {c: resolve(c).label for c in READINGS_COMPARED}  # type: ignore[union-attr]
    assert (tmp_path / "report.md").read_text(encoding="utf-8").startswith("# The lab's arithmetic")


def test_the_suite_runs_conventions() -> None:
    assert "conventions" in [s.name for s in suite.STUDIES]


def test_matched_factor_reads_the_reading() -> None:
    assert matched_factor("default", 21) == 1.0
    assert matched_factor("lab-sum", 21) == 21.0
    assert matched_factor("lab-evidence", 21) == (21.0 if READINGS["lab-evidence"].gradient == "sum" else 1.0) / (
        2.0 if READINGS["lab-evidence"].mse_derivative == "(y-t)" else 1.0)
    assert matched_factor("lab", 21) == 1.0  # the published MSE gradient is the mean's
    assert READINGS_COMPARED == ("lab", "lab-evidence", "lab-sum")
