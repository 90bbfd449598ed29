"""The README's example runs as written, and its commands are the ones CI runs."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_the_library_example_runs_and_prints_what_its_comments_say(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (code,) = _blocks("python")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the README's own example
    lines = out.getvalue().splitlines()
    loss, acc = (float(v) for v in lines[0].split())
    assert f"{loss:.3g}" == "9.36e-05" and acc == 100.0
    probs = [float(v) for v in re.findall(r"[0-9.]+(?:e-?\d+)?", lines[1] + " " + lines[2])]
    assert np.allclose(probs, [0.99993, 0.00058], rtol=1e-2)
    assert lines[-2] == "['PASS', 'PASS', 'PASS']"
    assert lines[-1] == "0.000273 bits, 100 %"
    assert (tmp_path / "xor.npz").is_file()


def test_the_readme_commands_are_the_ones_ci_runs() -> None:
    commands = [b.strip() for b in _blocks("")]
    main_job, tests = commands[0], commands[1]
    assert main_job.startswith("python3 -m venv .venv && ") and main_job.endswith(".venv/bin/python -m verify")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == tests  # .ci/run's last line is exactly the README's test command
    assert os.access(ROOT / ".ci" / "run", os.R_OK)
