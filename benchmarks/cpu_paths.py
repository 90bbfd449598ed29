"""What changes the bits across machines: NumPy SIMD paths and the BLAS kernel.

Run by hand::

    python benchmarks/cpu_paths.py

Each configuration runs in a fresh subprocess (the variables only act when
NumPy is imported): NumPy's dispatch targets switched off one level at a
time with ``NPY_DISABLE_CPU_FEATURES`` (names read at run time from
``__cpu_dispatch__``), and OpenBLAS forced to another core type. For each it
reports how many of 200,000 values of exp/log/log1p/tanh differ from the
default process, whether training runs (both kernels, float32/float64,
sigmoid+MSE and ReLU+BCE) give the same bits, and the portable-kernel speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import hashlib, json, time, sys
import numpy as np
sys.path.insert(0, %r)
import refnet
from refnet.data import xor_easy
from refnet.reproducible import simd_targets, fingerprint
rng = np.random.default_rng(0)
out = {"targets": [k for k, v in simd_targets().items() if v], "fingerprint": fingerprint(), "funcs": {}, "runs": {}}
for dt in ("float32", "float64"):
    x = (rng.standard_normal(200000) * 10).astype(dt)
    for name, f in (("exp", lambda a: np.exp(-np.abs(a))), ("log", lambda a: np.log(np.abs(a) + np.finfo(dt).tiny)),
                    ("log1p", lambda a: np.log1p(np.abs(a))), ("tanh", np.tanh)):
        out["funcs"][f"{name} {dt}"] = f(x).tobytes().hex()
X, Y = xor_easy()
for kernel in ("blas", "portable"):
    for dt in ("float32", "float64"):
        for act, loss, conv, lr in (("sigmoid", "mse", "default", 1.0), ("relu", "bce", "lab-sum", 0.001)):
            net = refnet.mlp(activation=act, loss=loss, dtype=dt, kernel=kernel, seed=list(range(8)))
            h = refnet.train(net, X, Y, lr=lr, epochs=2000, convention=conv)
            d = hashlib.sha256(h.loss.tobytes()); d.update(net.get_flat().tobytes())
            out["runs"][f"{kernel} {dt} {act}+{loss}"] = d.hexdigest()[:16]
rates = []
for _ in range(5):
    net = refnet.mlp(activation="relu", loss="bce", kernel="portable", seed=list(range(256)))
    t = time.process_time(); refnet.train(net, X, Y, lr=0.001, epochs=300, convention="lab-sum")
    rates.append(256 * 300 / (time.process_time() - t))
out["portable_rate"] = max(rates)
print(json.dumps(out))
"""


def run(env_extra: dict[str, str]) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE")}
    env.update(env_extra)
    proc = subprocess.run([sys.executable, "-c", CHILD % str(ROOT)], env=env, capture_output=True,
                          text=True, check=True)
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def main() -> int:
    import numpy as np

    from refnet.reproducible import simd_targets

    targets = [t for t, on in simd_targets().items() if on]
    configs: list[tuple[str, dict[str, str]]] = [("default", {})]
    for i in range(len(targets) - 1, -1, -1):  # switch off the highest levels first
        off = targets[i:]
        configs.append((f"without {','.join(off)}", {"NPY_DISABLE_CPU_FEATURES": ",".join(off)}))
    configs.append(("OPENBLAS_CORETYPE=Haswell", {"OPENBLAS_CORETYPE": "Haswell"}))
    results = [(name, run(env)) for name, env in configs]
    ref = results[0][1]
    print(f"NumPy {np.__version__}; dispatch targets in use by default: {targets}\n")
    for name, res in results:
        funcs: dict[str, str] = res["funcs"]  # type: ignore[assignment]
        runs: dict[str, str] = res["runs"]  # type: ignore[assignment]
        ref_funcs: dict[str, str] = ref["funcs"]  # type: ignore[assignment]
        ref_runs: dict[str, str] = ref["runs"]  # type: ignore[assignment]
        print(f"== {name}: targets in use {res['targets']}, fingerprint {res['fingerprint']}, "
              f"portable chunk of 256: {float(res['portable_rate']):,.0f} net-epochs/s (CPU time, best of 5)")
        for key, hexa in funcs.items():
            dt = np.float32 if key.endswith("float32") else np.float64
            a = np.frombuffer(bytes.fromhex(hexa), dtype=dt)
            b = np.frombuffer(bytes.fromhex(ref_funcs[key]), dtype=dt)
            differ = int(np.sum(a.view(np.uint8).reshape(len(a), -1) != b.view(np.uint8).reshape(len(b), -1),
                                axis=1).astype(bool).sum())
            print(f"   {key:<14} values differing from default: {differ:>6} / {len(a)}")
        same = [k for k in runs if runs[k] == ref_runs[k]]
        diff = [k for k in runs if runs[k] != ref_runs[k]]
        print(f"   training bits same as default: {same or 'none'}")
        print(f"   training bits differ:          {diff or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
