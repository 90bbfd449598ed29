"""Environment fingerprint and fresh-process runs for the learning-rate study.

A result that depends on the last bits of ``np.matmul`` or ``np.exp`` is a
result about a machine, so the study records what the bits may depend on:
Python, NumPy and BLAS versions (``np.show_config``), the CPU features NumPy
dispatches to at run time (``numpy._core._multiarray_umath.__cpu_features__``),
thread settings, the platform, and a hash of refnet's source.

:func:`run_fresh` reruns the E0 pair in a new Python process with a chosen
environment (thread counts, ``NPY_DISABLE_CPU_FEATURES``) and kernel; the
child writes its records as JSON (``python -m verify.lr_threshold --worker``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["fingerprint", "cpu_features", "dispatch_features", "THREAD_VARS", "run_fresh",
           "source_hash", "fresh_env"]

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Variables that set BLAS/OpenMP thread counts (read when NumPy is imported)."""


def _umath() -> Any:
    import importlib

    try:
        return importlib.import_module("numpy._core._multiarray_umath")  # NumPy >= 2
    except ImportError:  # pragma: no cover - NumPy 1.x
        return importlib.import_module("numpy.core._multiarray_umath")


def cpu_features() -> dict[str, list[str]]:
    """Baseline, dispatch targets, and the features this CPU enables (read at run time)."""
    mod = _umath()
    feats: dict[str, bool] = dict(getattr(mod, "__cpu_features__", {}))
    return {
        "baseline": list(getattr(mod, "__cpu_baseline__", [])),
        "dispatch": list(getattr(mod, "__cpu_dispatch__", [])),
        "enabled": sorted(k for k, v in feats.items() if v),
        "dispatch_in_use": [k for k in getattr(mod, "__cpu_dispatch__", []) if feats.get(k)],
    }


def dispatch_features() -> list[str]:
    """Dispatch targets in use here: the names ``NPY_DISABLE_CPU_FEATURES`` may switch off."""
    return cpu_features()["dispatch_in_use"]


def _blas() -> dict[str, object]:
    try:
        cfg: Any = np.show_config(mode="dicts")
    except TypeError:  # pragma: no cover - NumPy < 1.25
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            np.show_config()
        return {"text": buf.getvalue()}
    deps = cfg.get("Build Dependencies", {}) if isinstance(cfg, dict) else {}
    out: dict[str, object] = {}
    for key in ("blas", "lapack"):
        info = deps.get(key, {})
        out[key] = {k: info.get(k) for k in ("name", "version", "openblas configuration") if k in info}
    simd = cfg.get("SIMD Extensions", {}) if isinstance(cfg, dict) else {}
    out["simd"] = simd
    return out


def source_hash() -> str:
    """SHA-256 over refnet's ``.py`` files (sorted by name): which core produced the bits."""
    import refnet

    root = Path(refnet.__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent.parent, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def fingerprint() -> dict[str, object]:
    """What the study's bits may depend on (see the module docstring)."""
    return {
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "blas": _blas(),
        "cpu_features": cpu_features(),
        "threads": {v: os.environ.get(v) for v in (*THREAD_VARS, "NPY_DISABLE_CPU_FEATURES")},
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "longdouble": {"nmant": int(np.finfo(np.longdouble).nmant), "itemsize": np.dtype(np.longdouble).itemsize},
        "refnet_source_sha256": source_hash(),
        "git_commit": _git_commit(),
    }


def fresh_env(overrides: Mapping[str, str | None]) -> dict[str, str]:
    """This process's environment with ``overrides`` applied (``None`` removes a variable)."""
    env = dict(os.environ)
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_fresh(args: Sequence[str], env: Mapping[str, str | None], out: Path,
              timeout: float = 3600.0) -> subprocess.Popen[bytes]:
    """Start ``python -m verify.lr_threshold --worker OUT ARGS`` in a new process (not waited for)."""
    cmd = [sys.executable, "-m", "verify.lr_threshold", "--worker", str(out), *args]
    del timeout
    return subprocess.Popen(cmd, env=fresh_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def read_worker(out: Path) -> dict[str, Any]:
    """The JSON a worker wrote."""
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data
