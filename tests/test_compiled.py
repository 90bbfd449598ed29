"""``kernel="compiled"`` equals ``kernel="portable"`` byte for byte (refnet.compiled).

The comparison runs in a fresh process in the pinned environment of
:func:`refnet.reproducible.pinned_environment` (NumPy's CPU dispatch disabled, so NumPy's
``exp``/``log``/``tanh`` are the C library's, which the compiled loop calls too): see
``tests/compiled_cases.py`` for the cases (every layer, loss, convention and dtype,
momentum carried over calls, mini-batches, ensembles on both sides of the member-last
layout, runs that go to inf/NaN, guard events, the lab's program alone and as ensembles)
and a hypothesis search over random small networks. There is no tolerance: any differing
byte fails, except NaN sign and payload (a NaN must be in the same place; LLVM leaves which
NaN unspecified, see refnet.compiled). Skipped without numba (the ``fast`` extra); tox's ``py311-fast`` runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from refnet.reproducible import pinned_environment

ROOT = Path(__file__).resolve().parent.parent


def _pinned(*args: str, block_numba: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **pinned_environment(), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.compiled_cases", *args] if not block_numba else [sys.executable, "-c", args[0]]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)


needs_numba = pytest.mark.skipif(not __import__("refnet.compiled").compiled.available(),
                                 reason="numba not installed (pip install refnet[fast])")


@needs_numba
@pytest.mark.parametrize("group", ["lab", "train", "hypothesis"])
def test_compiled_equals_portable_byte_for_byte(group: str) -> None:
    done = _pinned(group)
    assert done.returncode == 0, done.stderr[-3000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert failures == [], failures[:5]


def test_without_numba_the_compiled_kernel_is_a_clear_error_naming_the_extra() -> None:
    code = (
        "import sys; sys.modules['numba'] = None\n"
        "from refnet import lab, mlp\n"
        "from refnet.compiled import CompiledUnavailableError\n"
        "for make in (lambda: mlp(kernel='compiled'), lambda: lab.Config(kernel='compiled')):\n"
        "    try:\n"
        "        make()\n"
        "    except CompiledUnavailableError as exc:\n"
        "        assert isinstance(exc, ValueError) and isinstance(exc, ImportError)\n"
        "        assert str(exc).startswith('kernel:') and 'refnet[fast]' in str(exc), str(exc)\n"
        "    else:\n"
        "        raise SystemExit('no error')\n"
        "mlp(kernel='portable')  # the other kernels never need numba\n"
    )
    done = _pinned(code, block_numba=True)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_numba
def test_a_network_built_with_the_compiled_kernel_computes_through_numpy_as_portable() -> None:
    import numpy as np

    from refnet import mlp
    from refnet.data import xor_easy

    x, _ = xor_easy()
    a = mlp(seed=3, kernel="portable").predict(x)
    b = mlp(seed=3, kernel="compiled").predict(x)
    assert a.tobytes() == b.tobytes()
    assert np.array_equal(a, b)
