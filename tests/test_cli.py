"""The command line: the default XOR run reaches 100%, plots are written, errors are clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from refnet.cli import main


def test_default_xor_run_prints_100_percent(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "run.png"
    saved = tmp_path / "net.npz"
    assert main(["train", "--data", "xor", "--quiet", "--plot", str(png), "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "accuracy: 100.0%" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert saved.exists()


def test_lab_flags_run(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--data", "xor", "--hidden", "4", "4", "--activation", "relu", "--loss", "bce",
            "--lr", "0.001", "--epochs", "200", "--dtype", "float32", "--seed", "0",
            "--convention", "lab", "--quiet"]
    assert main(argv) == 0
    assert "final loss:" in capsys.readouterr().out


def test_bad_values_exit_2_with_the_argument_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--lr", "-1", "--quiet"]) == 2
    assert "lr" in capsys.readouterr().err
    assert main(["train", "--epochs", "-3", "--quiet"]) == 2
    assert "epochs" in capsys.readouterr().err
