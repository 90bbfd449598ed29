"""verify.conventions: epochs-to-threshold counting and a small run."""

from __future__ import annotations

import numpy as np
import pytest

from verify.conventions import first_below, main


def test_first_below_counts_completed_epochs() -> None:
    loss = np.array([[0.5, 0.5], [0.2, 0.5], [0.05, 0.4]])
    assert first_below(loss, 0.1).tolist() == [3, -1]


def test_small_run_prints_both_data_sets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seeds", "0", "--epochs-xor", "20", "--epochs-linear", "20", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("lab(lr) vs default(lr x N)") == 2
