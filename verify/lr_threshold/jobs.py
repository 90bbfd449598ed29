"""The study's work as jobs, each run in a fresh Python process, two (or ``workers``) at a time.

A job is a JSON object (``kind`` ``runs``, ``section`` or ``trace``, a
variant name, epochs, ...). :func:`execute` starts each one as
``python -m verify.lr_threshold --worker JOB.json OUT.json`` with its
variant's environment (NumPy reads ``NPY_DISABLE_CPU_FEATURES`` and the BLAS
its thread count only at import, hence fresh processes), keeps ``workers`` of
them busy, and reports progress with time left. :func:`work` is the worker's
side: it runs the job and writes the result, plus a progress file the parent
reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from refnet.progress import Progress
from refnet.reproducible import THREAD_VARS, fingerprint, simd_targets

from .env import fresh_env
from .mechanism import horizon_outcomes, trace_pair
from .runs import VARIANTS, locate, multisection, run_records
from .seeds import seed_boundary

__all__ = ["Job", "execute", "work", "cost"]

Job = dict[str, Any]

_MEMBER_WEIGHT = 0.01
"""Cost of one more ensemble member relative to a run alone (measured: 64 members take about 1.5x
and 256 about 5x one run's time: the per-step overhead dominates); used only for time left."""


_KERNEL_COST: dict[str, float] = {"blas": 1.0, "portable": 2.0, "compiled": 0.15}
"""Cost of a run alone relative to ``blas`` (measured on 2 busy cores; for time left only)."""


def cost(job: Job) -> float:
    """Estimated cost in run-alone ``blas`` epochs (for progress only)."""
    kind = str(job["kind"])
    kernel = _KERNEL_COST[VARIANTS[job["variant"]].kernel] * (3.0 if VARIANTS[job["variant"]].dtype == "longdouble"
                                                               else 1.0)
    if kind == "seeds":
        members = len(job["grid"]) + 2 + int(job["rounds"]) * int(job["members"])
        return float(job["epochs"]) * len(job["seeds"]) * kernel * members * 0.35
    if kind == "horizon":
        return float(sum(job["horizons"])) * kernel * len(job["rates"]) * 0.5
    sizes: dict[str, int] = {"runs": len(job.get("runs", [])), "trace": 2}
    members = sizes.get(kind, int(job.get("members", 64)))
    steps = 2 if kind == "locate" else int(job.get("steps", 1)) + (kind == "section")  # a probe and a step, usually
    if kind == "trace":
        kernel *= 3.0  # it looks at the network after every epoch
    return float(job["epochs"]) * steps * kernel * (1 + _MEMBER_WEIGHT * max(members - 1, 0))


def _write_progress(path: Path | None, fraction: float) -> None:
    if path is not None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"{fraction:.4f}", encoding="utf-8")
        os.replace(tmp, path)


def work(job: Job, out: Path) -> None:
    """Run ``job`` in this process and write its result to ``out`` (JSON)."""
    started = time.monotonic()
    variant = VARIANTS[job["variant"]]
    prog = out.with_suffix(".progress")
    epochs = int(job["epochs"])
    result: dict[str, Any]
    if job["kind"] == "runs":
        def tick(done: int, _net: object) -> None:
            _write_progress(prog, done / max(epochs, 1))
        recs = run_records(variant.config(epochs=epochs), [(int(s), float(r)) for s, r in job["runs"]],
                           curve=bool(job.get("curve")), trace=tick, trace_every=max(epochs // 50, 1))
        result = {"records": [r.json() for r in recs], "network_epochs": len(recs) * epochs}
    elif job["kind"] == "seeds":
        done: list[dict[str, Any]] = []
        for s in job["seeds"]:
            done.append(seed_boundary(variant, int(s), [float(r) for r in job["grid"]], epochs=epochs,
                                      rounds=int(job["rounds"]), members=int(job["members"])))
            _write_progress(prog, len(done) / len(job["seeds"]))
        result = {"seeds": done, "network_epochs": sum(d["network_epochs"] for d in done)}
    elif job["kind"] == "section":
        steps = int(job["steps"])
        sec = multisection(variant, float(job["lo"]), float(job["hi"]), epochs=epochs, members=int(job["members"]),
                           steps=steps, seed=int(job.get("seed", 0)),
                           on_step=lambda k: _write_progress(prog, (k + 1) / (steps + 1)))
        result = {"section": sec.json(), "network_epochs": _section_work(sec.json(), epochs)}
    elif job["kind"] == "locate":
        steps = int(job["steps"])
        sec = locate(variant, float(job["center"]), epochs=epochs, members=int(job["members"]), steps=steps,
                     max_power=int(job["max_power"]), on_step=lambda k: _write_progress(prog, (k + 1) / (steps + 2)))
        result = {"section": sec.json(), "network_epochs": _section_work(sec.json(), epochs, ends=False)}
    elif job["kind"] == "trace":
        result = {"trace": trace_pair(variant.config(epochs=epochs), float(job["lo"]), float(job["hi"]),
                                      every=int(job["every"]), hessian_every=int(job["hessian_every"]))}
    elif job["kind"] == "horizon":
        result = {"horizon": horizon_outcomes(variant.config(), [float(r) for r in job["rates"]],
                                              [int(h) for h in job["horizons"]])}
        result["network_epochs"] = len(job["rates"]) * sum(int(h) for h in job["horizons"])
    else:
        raise ValueError(f"job: unknown kind {job['kind']!r}")
    result["process"] = {"dispatch_in_use": [k for k, v in simd_targets().items() if v],
                         "threads": {v: os.environ.get(v) for v in (*THREAD_VARS, "NUMBA_NUM_THREADS")},
                         "fingerprint": fingerprint(), "kernel": variant.kernel}
    result["seconds"] = time.monotonic() - started
    out.write_text(json.dumps(result), encoding="utf-8")


def _section_work(sec: dict[str, Any], epochs: int, ends: bool = True) -> int:
    """Network-epochs a section trained: its two ends (unless a probe gave them) and every step's rates."""
    return (len(sec["ends"]) * ends + sum(len(s["rates"]) for s in sec["steps"])) * epochs


def execute(jobs: Sequence[Job], *, workers: int, label: str, quiet: bool) -> list[dict[str, Any]]:
    """Every job in a fresh process (``workers`` at a time, longest first); results in input order.

    Raises ``RuntimeError`` with the worker's last error line when a job fails."""
    order = sorted(range(len(jobs)), key=lambda i: -cost(jobs[i]))
    costs = [cost(j) for j in jobs]
    total = sum(costs)
    progress = Progress(max(int(total / 1000), 1), label, quiet=quiet, unit="k run-epochs")
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    running: dict[int, tuple[subprocess.Popen[bytes], Path]] = {}
    with tempfile.TemporaryDirectory(prefix="lr_threshold-") as tmp:
        try:
            _loop(jobs, order, costs, results, running, Path(tmp), workers, progress)
        finally:  # interrupted or failed: no worker outlives this call
            for proc, _ in running.values():
                proc.kill()
                proc.wait()
    return [r if r is not None else {} for r in results]


def _loop(jobs: Sequence[Job], order: list[int], costs: list[float], results: list[dict[str, Any] | None],
          running: dict[int, tuple[subprocess.Popen[bytes], Path]], base: Path, workers: int,
          progress: Progress) -> None:
    done_cost = 0.0
    pending = list(order)
    while pending or running:
        while pending and len(running) < max(workers, 1):
            i = pending.pop(0)
            jpath, opath = base / f"job{i}.json", base / f"out{i}.json"
            jpath.write_text(json.dumps(jobs[i]), encoding="utf-8")
            variant = VARIANTS[jobs[i]["variant"]]
            env = dict(variant.env)
            if variant.kernel == "compiled":  # one numba thread per worker: the workers share the cores
                env["NUMBA_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // max(workers, 1)))
            cmd = [sys.executable, "-m", "verify.lr_threshold", "--worker", str(jpath), str(opath)]
            running[i] = (subprocess.Popen(cmd, env=fresh_env(env), stdout=subprocess.DEVNULL,
                                           stderr=subprocess.PIPE), opath)
        time.sleep(0.5)
        partial = 0.0
        for i, (proc, opath) in list(running.items()):
            if proc.poll() is None:
                try:
                    partial += costs[i] * float(opath.with_suffix(".progress").read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    pass
                continue
            _, err = proc.communicate()
            del running[i]
            if proc.returncode != 0 or not opath.exists():
                lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
                raise RuntimeError(f"a {jobs[i]['kind']} job ({jobs[i]['variant']}) failed: "
                                   + (lines[-1] if lines else f"exit status {proc.returncode}"))
            results[i] = json.loads(opath.read_text(encoding="utf-8"))
            done_cost += costs[i]
        now = int((done_cost + partial) / 1000)
        progress.update(min(now, progress.total - 1) if pending or running else progress.total)
