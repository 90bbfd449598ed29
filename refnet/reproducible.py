"""What, besides the inputs, decides the bits: NumPy's SIMD paths and the BLAS.

The ``portable`` kernel fixes the order of every product and sum, so its
results depend on nothing but the inputs *and* the elementary functions
(``np.exp``, ``np.log``, ``np.log1p``, ``np.tanh``) used by the sigmoid,
tanh and the losses. NumPy picks an implementation of those at import time
from the CPU's SIMD features (its "dispatch targets", e.g. ``X86_V3`` for
AVX2/FMA3 and ``X86_V4`` for AVX-512 on x86), and the implementations do not
all round the same way. Measured on this project's machine (see
``docs/ensemble.md``): with ``X86_V4`` disabled, 9,246 of 200,000 float64
``exp`` values change, and with ``X86_V3`` disabled too, 78,434 float32 ones.

:func:`pinned_environment` returns environment variables that disable every
dispatch target, so NumPy uses its baseline build everywhere (the same code
on every x86-64 machine that runs the same NumPy wheel). They take effect only
in a process that imports NumPy after they are set: a worker, a subprocess,
or a shell (``env $(python -m refnet.reproducible) python ...``).
:func:`fingerprint` hashes these functions' results on fixed inputs: two
processes with the same fingerprint compute them alike on every probe.
:func:`environment` records, for a report, everything else a result's last
bits may depend on: Python, NumPy and its BLAS build, the CPU features read at
run time, thread variables, the platform and a hash of refnet's source.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import os
import platform
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PIN_VARIABLE", "THREAD_VARS", "simd_targets", "baseline", "cpu_features", "pinned_environment",
           "fingerprint", "blas_fingerprint", "kernel_fingerprint", "describe", "blas_config", "source_hash",
           "environment", "main"]

PIN_VARIABLE = "NPY_DISABLE_CPU_FEATURES"

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Variables that set BLAS/OpenMP thread counts (read when NumPy is imported)."""


def _umath() -> object:
    """NumPy's compiled core, where the CPU feature tables live (NumPy 2 or 1)."""
    for name in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            return importlib.import_module(name)
        except ImportError:  # pragma: no cover - depends on the NumPy version
            continue
    return object()  # pragma: no cover


def simd_targets() -> dict[str, bool]:
    """NumPy's dispatch targets (read at run time) and whether each is in use."""
    umath = _umath()
    dispatch = list(getattr(umath, "__cpu_dispatch__", []))
    features = dict(getattr(umath, "__cpu_features__", {}))
    return {name: bool(features.get(name, False)) for name in dispatch}


def baseline() -> list[str]:
    """The SIMD features NumPy was compiled to require (cannot be disabled)."""
    return [str(f) for f in getattr(_umath(), "__cpu_baseline__", [])]


def cpu_features() -> dict[str, list[str]]:
    """Baseline, dispatch targets, the features this CPU enables and the targets in use (run time)."""
    umath = _umath()
    features: dict[str, bool] = dict(getattr(umath, "__cpu_features__", {}))
    targets = simd_targets()
    return {
        "baseline": baseline(),
        "dispatch": list(targets),
        "enabled": sorted(k for k, v in features.items() if v),
        "dispatch_in_use": [k for k, on in targets.items() if on],
    }


def pinned_environment() -> dict[str, str]:
    """Variables that make elementary functions and BLAS take fixed paths.

    ``NPY_DISABLE_CPU_FEATURES`` lists every dispatch target of this NumPy
    (baseline code only); ``OPENBLAS_NUM_THREADS=1`` (and the OpenMP/MKL
    equivalents) keeps the BLAS on one thread. The BLAS kernel itself still
    depends on the CPU; use the ``portable`` kernel for products.
    """
    return {PIN_VARIABLE: ",".join(simd_targets()), **{name: "1" for name in THREAD_VARS}}


def _probe(dtype: str) -> np.ndarray:
    """Fixed inputs over the range that training meets: +-1e-8 .. +-100 and the tails."""
    grid = np.geomspace(1e-8, 100.0, 4001)
    values = np.concatenate([-grid[::-1], [0.0], grid, [-745.0, -104.0, -87.0, 88.0, 709.0]])
    return values.astype(dtype)


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """16 hex digits hashing exp, log, log1p and tanh on fixed float32/float64 inputs."""
    digest = hashlib.sha256()
    with np.errstate(all="ignore"):
        for dtype in ("float32", "float64"):
            x = _probe(dtype)
            pos = np.abs(x) + np.finfo(dtype).tiny
            for out in (np.exp(-np.abs(x)), np.exp(x), np.log(pos), np.log1p(np.abs(x)), np.tanh(x)):
                digest.update(np.ascontiguousarray(out).tobytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def blas_fingerprint() -> str:
    """16 hex digits hashing ``np.matmul`` on fixed small stacks (the shapes of
    the lab network, float32/float64, plain and transposed operands)."""
    rng = np.random.default_rng(20260101)
    digest = hashlib.sha256()
    for dtype in ("float32", "float64"):
        for n_in, n_out in ((2, 4), (4, 4), (4, 1), (16, 16)):
            x = rng.standard_normal((3, 21, n_in)).astype(dtype)
            w = rng.standard_normal((3, n_in, n_out)).astype(dtype)
            d = rng.standard_normal((3, 21, n_out)).astype(dtype)
            for out in (np.matmul(x, w), np.matmul(d, np.swapaxes(w, -1, -2)),
                        np.matmul(np.swapaxes(x, -1, -2), d)):
                digest.update(np.ascontiguousarray(out).tobytes())
    return digest.hexdigest()[:16]


def kernel_fingerprint(kernel: str) -> str:
    """What decides a kernel's bits beyond its inputs: the elementary
    functions, plus the BLAS for ``blas``."""
    return fingerprint() if kernel in ("portable", "compiled") else f"{fingerprint()}/{blas_fingerprint()}"


def describe() -> dict[str, object]:
    """NumPy version, SIMD baseline and targets in use, and the fingerprint."""
    return {"numpy": np.__version__, "baseline": baseline(), "targets": simd_targets(),
            "fingerprint": fingerprint(), "blas_fingerprint": blas_fingerprint()}


def blas_config() -> dict[str, object]:
    """The BLAS and LAPACK NumPy was built with, and its SIMD extensions (``np.show_config``)."""
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
    out["simd"] = cfg.get("SIMD Extensions", {}) if isinstance(cfg, dict) else {}
    return out


def source_hash() -> str:
    """SHA-256 over refnet's ``.py`` files (sorted by name): which core produced the bits."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def environment() -> dict[str, object]:
    """What a result's bits may depend on besides its inputs, for a report (see the module docstring)."""
    return {
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "blas": blas_config(),
        "cpu_features": cpu_features(),
        "threads": {v: os.environ.get(v) for v in (*THREAD_VARS, PIN_VARIABLE)},
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "longdouble": {"nmant": int(np.finfo(np.longdouble).nmant), "itemsize": np.dtype(np.longdouble).itemsize},
        "refnet_source_sha256": source_hash(),
    }


def main() -> int:
    """Print the pinning variables as ``NAME=value`` lines (for ``env``), the
    current state on stderr."""
    for name, value in pinned_environment().items():
        print(f"{name}={value}")
    print(f"# {describe()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
