"""Training every experiment under every reading, each distinct run once.

Two readings that differ only in a field an experiment cannot see train
identically there (the MSE derivative in a BCE run, the log base anywhere: it
changes only the reported loss, the sigmoid formula in a network without a
sigmoid, the batching where the lab states it): :func:`training_reading` maps
a reading to the one that is actually trained, so each distinct run is made
once and shared. Runs go through :mod:`refnet.sweep` (each member bit for bit
its network trained alone); independent sweeps share one process pool.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from refnet.conventions import Reading, reading
from refnet.data import linear, xor_easy
from refnet.kernels import KernelName
from refnet.progress import Progress
from refnet.sweep import Member, MemberResult, Setup, iter_sweep

from .observations import (EXPERIMENTS, FAST_FRACTION, INITS, STABLE_FRACTION, Experiment, Horizon, Outcomes,
                           stable_epoch)

__all__ = ["training_reading", "Plan", "plan", "run_plan", "reported", "save_outcomes", "load_outcomes"]

Job = tuple[str, Reading]
"""An experiment key and the reading it is trained under."""


def training_reading(reading: Reading, exp: Experiment) -> Reading:
    """The reading whose run ``reading`` shares on ``exp`` (fields ``exp`` cannot see made canonical)."""
    fields: dict[str, object] = {"log_base": "e"}
    if exp.loss != "mse":
        fields["mse_derivative"] = "2(y-t)"
    if not exp.has_sigmoid:
        fields["sigmoid"] = "naive"
    if exp.batch_size is not None:
        fields["batch_size"] = exp.batch_size
    return reading.but(**fields)


def reported(outcomes: Outcomes, reading: Reading, exp: Experiment) -> Outcomes:
    """``outcomes`` (trained with natural logs) in ``reading``'s reported units."""
    if reading.log_base == "e" or exp.loss == "mse":
        return outcomes
    scale = 1.0 / math.log(2.0)
    return Outcomes(outcomes.final_loss * scale, outcomes.initial_loss * scale, outcomes.accuracy,
                    outcomes.stable_epoch, outcomes.fast_epoch, outcomes.nonfinite_epoch)


@dataclass(frozen=True)
class Plan:
    """The distinct runs a set of readings needs."""

    jobs: tuple[Job, ...]
    seeds: tuple[int, ...]
    mode: Horizon
    kernel: KernelName = "blas"

    def network_epochs(self, job: Job) -> int:
        exp = EXPERIMENTS[job[0]]
        return len(self.seeds) * len(INITS) * len(exp.lrs) * exp.horizon(self.mode)

    @property
    def total(self) -> int:
        return sum(self.network_epochs(j) for j in self.jobs)


def plan(readings: Iterable[Reading], seeds: Sequence[int], mode: Horizon, kernel: KernelName = "blas") -> Plan:
    """Every (experiment, training reading) the readings need, longest first."""
    jobs: dict[Job, None] = {}
    for r in readings:
        for key, exp in EXPERIMENTS.items():
            jobs[(key, training_reading(r, exp))] = None
    p = Plan(tuple(jobs), tuple(seeds), mode, kernel)
    return Plan(tuple(sorted(p.jobs, key=p.network_epochs, reverse=True)), p.seeds, mode, kernel)


def _data(exp: Experiment) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    return linear(100, np.random.default_rng(0)) if exp.data == "linear" else xor_easy()


def _setup(exp: Experiment, mode: Horizon) -> Setup:
    x, y = _data(exp)
    return Setup(x, y, exp.horizon(mode), hidden=exp.hidden, activation=exp.activation,
                 output_activation=exp.output_activation, loss=exp.loss)


def _members(exp: Experiment, reading: Reading, seeds: Sequence[int], kernel: KernelName) -> list[Member]:
    return [Member(s, lr, "float64", reading, kernel, init)
            for s in seeds for init in INITS for lr in exp.lrs]


def _outcomes(results: Sequence[MemberResult], shape: tuple[int, int, int]) -> Outcomes:
    def grid(values: Iterable[float]) -> npt.NDArray[np.float64]:
        return np.array(list(values), dtype=np.float64).reshape(shape)

    loss = [np.asarray(r.loss, dtype=np.float64) for r in results]
    return Outcomes(
        final_loss=grid(r.readout.final_loss for r in results),
        initial_loss=grid(float(h[0]) if h.size else math.nan for h in loss),
        accuracy=grid(r.readout.accuracy for r in results),
        stable_epoch=grid(stable_epoch(h, r.loss_epochs, STABLE_FRACTION) for h, r in zip(loss, results)),
        fast_epoch=grid(stable_epoch(h, r.loss_epochs, FAST_FRACTION) for h, r in zip(loss, results)),
        nonfinite_epoch=grid(math.inf if r.nonfinite.first_loss_epoch is None else float(r.nonfinite.first_loss_epoch)
                             for r in results),
    )


def _run_job(job: Job, p: Plan, pool: Executor | None) -> Outcomes:
    key, reading = job
    exp = EXPERIMENTS[key]
    setup = _setup(exp, p.mode)
    members = _members(exp, reading, p.seeds, p.kernel)
    every = max(1, setup.epochs // 10_000)
    results = list(iter_sweep(setup, members, executor=pool, workers=0 if pool is None else None,
                              keep_every=every, stop_diverged=True, chunk_size=len(members)))
    return _outcomes(results, (len(p.seeds), len(INITS), len(exp.lrs)))


def run_plan(p: Plan, *, workers: int, quiet: bool = False) -> tuple[dict[Job, Outcomes], float]:
    """Train every job of ``p`` on ``workers`` processes (0: this one); outcomes and wall seconds."""
    progress = Progress(p.total, "lab reading", quiet=quiet, unit="network-epochs", stream=sys.stderr)
    start = time.monotonic()
    out: dict[Job, Outcomes] = {}
    done = 0
    if workers == 0:
        for job in p.jobs:
            out[job] = _run_job(job, p, None)
            done += p.network_epochs(job)
            progress.update(done)
        return out, time.monotonic() - start
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool, \
            ThreadPoolExecutor(workers) as drivers:
        futures = {drivers.submit(_run_job, job, p, pool): job for job in p.jobs}
        for fut, job in futures.items():
            out[job] = fut.result()
            done += p.network_epochs(job)
            progress.update(done)
    return out, time.monotonic() - start


_FIELDS = tuple(Outcomes.__dataclass_fields__)


def save_outcomes(path: Path, p: Plan, outcomes: dict[Job, Outcomes], seconds: float) -> None:
    """Every run's outcomes in one ``.npz`` (with the plan), so a report can be rescored without training."""
    arrays: dict[str, npt.NDArray[np.float64]] = {}
    for i, job in enumerate(p.jobs):
        for f in _FIELDS:
            arrays[f"{i}.{f}"] = getattr(outcomes[job], f)
    meta = {"jobs": [[key, r.label] for key, r in p.jobs], "seeds": list(p.seeds), "mode": p.mode,
            "kernel": p.kernel, "seconds": seconds}
    stored: dict[str, npt.NDArray[np.generic]] = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    stored.update(arrays)
    np.savez_compressed(path, **stored)  # type: ignore[arg-type]  # NumPy's stub reads ** as allow_pickle


def load_outcomes(path: Path) -> tuple[Plan, dict[Job, Outcomes], float]:
    """The plan, outcomes and training seconds :func:`save_outcomes` wrote (``ValueError`` naming ``path``)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            jobs = tuple((str(key), reading(str(label))) for key, label in meta["jobs"])
            outcomes = {job: Outcomes(*(np.array(data[f"{i}.{f}"]) for f in _FIELDS)) for i, job in enumerate(jobs)}
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"path: {path} is not a lab-reading outcomes file ({exc})") from None
    mode: Horizon = "quick" if meta["mode"] == "quick" else "full"
    kernel: KernelName = "portable" if meta["kernel"] == "portable" else "blas"
    return Plan(jobs, tuple(int(s) for s in meta["seeds"]), mode, kernel), outcomes, float(meta["seconds"])
