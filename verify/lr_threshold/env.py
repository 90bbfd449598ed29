"""The learning-rate study's environment record and its fresh-process runs.

A result that depends on the last bits of ``np.matmul`` or ``np.exp`` is a
result about a machine, so the study records what the bits may depend on
(:func:`refnet.reproducible.environment`) plus the git commit of this
checkout.

:func:`run_fresh` reruns the E0 pair in a new Python process with a chosen
environment (thread counts, ``NPY_DISABLE_CPU_FEATURES``) and kernel; the
child writes its records as JSON (``python -m verify.lr_threshold --worker``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from refnet.reproducible import environment

__all__ = ["fingerprint", "run_fresh", "fresh_env", "read_worker", "ROOT"]

ROOT = Path(__file__).resolve().parents[2]
"""The checkout that holds ``refnet`` and ``verify`` (put first on a fresh process's path)."""


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=ROOT, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def fingerprint() -> dict[str, object]:
    """:func:`refnet.reproducible.environment` and the git commit: the report's ``environment``."""
    return {**environment(), "git_commit": _git_commit()}


def fresh_env(overrides: Mapping[str, str | None]) -> dict[str, str]:
    """This process's environment with ``overrides`` applied (``None`` removes a variable)."""
    env = dict(os.environ)
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    root = str(ROOT)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_fresh(args: Sequence[str], env: Mapping[str, str | None], out: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m verify.lr_threshold --worker OUT ARGS`` in a new process (not waited for)."""
    cmd = [sys.executable, "-m", "verify.lr_threshold", "--worker", str(out), *args]
    return subprocess.Popen(cmd, env=fresh_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def read_worker(out: Path) -> dict[str, Any]:
    """The JSON a worker wrote."""
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data
