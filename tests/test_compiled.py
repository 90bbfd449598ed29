"""``kernel="compiled"`` equals ``kernel="portable"`` byte for byte (refnet.compiled).

The comparison runs in a fresh process in the pinned environment of
:func:`refnet.reproducible.pinned_environment` (NumPy's CPU dispatch disabled, so NumPy's
``exp``/``log``/``tanh`` are the C library's, which the compiled loop calls too): see
``tests/compiled_cases.py`` for the cases (every layer, loss, convention and dtype,
momentum carried over calls, mini-batches, ensembles on both sides of the member-last
layout, runs that go to inf/NaN, guard events, the lab's program alone and as ensembles,
``run_many``'s trace, ``run``'s observer and early stop) and a hypothesis search over random
small networks. Both dtypes run at once, one process each (see the ``differing`` fixture). There is no tolerance: any differing
byte fails, except NaN sign and payload (a NaN must be in the same place; LLVM leaves which
NaN unspecified, see refnet.compiled). Skipped without numba (the ``fast`` extra); tox's ``py311`` installs it and runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from refnet.reproducible import pinned_environment

ROOT = Path(__file__).resolve().parent.parent


def _pinned(*args: str, block_numba: bool = False, cache: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, **pinned_environment(), "PYTHONPATH": str(ROOT)}
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = cache
    cmd = [sys.executable, "-m", "tests.compiled_cases", *args] if not block_numba else [sys.executable, "-c", args[0]]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=3600)
    return proc.returncode, out, err


# under pytest-xdist every test here runs on one worker: the module's fixture (two processes, both
# cores) then runs once per session, not once per worker
pytestmark = pytest.mark.xdist_group("compiled")

needs_numba = pytest.mark.skipif(not __import__("refnet.compiled").compiled.available(),
                                 reason="numba not installed (pip install refnet[fast])")


@pytest.fixture(scope="module")
def differing() -> dict[str, list[object]]:
    """Every case's comparison, once: two pinned processes at once, one per dtype (each compiles its
    own loops, numba's first compile being most of the time; both cores busy); group -> differing cases.
    Each process has a numba cache of its own (two processes writing one cache index at once could
    lose or mix entries), kept between runs under ``NUMBA_CACHE_DIR`` or the temporary directory."""
    base = Path(os.environ.get("NUMBA_CACHE_DIR") or Path(tempfile.gettempdir()) / "refnet-numba-cache")
    procs = [_pinned("--dtype", dtype, cache=str(base / dtype)) for dtype in ("float64", "float32")]
    merged: dict[str, list[object]] = {}
    for proc in procs:
        rc, out, err = _finish(proc)
        assert rc == 0, err[-3000:]
        for group, failures in json.loads(out.strip().splitlines()[-1]).items():
            merged.setdefault(group, []).extend(failures)
    return merged


@needs_numba
@pytest.mark.parametrize("group", ["lab", "train", "hypothesis"])
def test_compiled_equals_portable_byte_for_byte(group: str, differing: dict[str, list[object]]) -> None:
    failures = differing[group]
    assert failures == [], failures[:5]


@needs_numba
def test_the_experiments_seed_labels_are_the_same_on_the_compiled_kernel_as_on_blas(
        differing: dict[str, list[object]]) -> None:
    """verify.experiments trains its seed distributions on ``compiled`` (``--kernel auto --full``): each seed's
    outcome label (learned, stuck, above chance, non-finite) must be BLAS's on seeds 0-3 of every
    figure it sends there, at the quick size (tests/compiled_cases.py, ``label_cases``). The lr-10
    figures stay on blas: there two of four labels of the 10-10 hidden-units panel changed."""
    assert differing["labels"] == [], differing["labels"]


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
    rc, out, err = _finish(_pinned(code, block_numba=True))
    assert rc == 0, out + err


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


@needs_numba
def test_train_hands_a_compiled_network_to_the_compiled_loop_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    """Equal bytes cannot show which loop ran (that is their point): the compiled loop is called
    once for a network built with ``kernel="compiled"``, and not at all for a portable network or
    for what it does not compute (a long double network), which trains on the NumPy path to the
    portable network's bytes."""
    from refnet import compiled, mlp, train
    from refnet.data import xor_easy

    calls: list[object] = []
    real = compiled.train_run
    monkeypatch.setattr(compiled, "train_run", lambda *args: calls.append(args) or real(*args))
    x, y = xor_easy()
    train(mlp(seed=0, kernel="compiled"), x, y, lr=0.5, epochs=3)
    assert len(calls) == 1
    train(mlp(seed=0, kernel="portable"), x, y, lr=0.5, epochs=3)
    assert len(calls) == 1
    runs = [train(mlp(seed=0, kernel=kernel, dtype="longdouble"), x, y, lr=0.5, epochs=3).loss
            for kernel in ("compiled", "portable")]
    assert len(calls) == 1 and runs[0].tobytes() == runs[1].tobytes()
