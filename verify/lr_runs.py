"""Training runs of the lab's learning-rate experiment, many at once, with hashes.

The lab's configuration is fixed here (XOR easy, 21 points; 2-4-4-1; ReLU
hidden layers; sigmoid output; BCE with delta 1e-7; the lab's arithmetic
convention; full batch). A :class:`RunSpec` varies only what the study
varies: seed, initialisation scheme, learning rate, precision, kernel and an
optional perturbation of one initial weight by a number of ulps.

Runs that share ``(init, dtype, kernel)`` train together as the members of
one ensemble (refnet builds member ``k`` exactly as the network built alone
from ``seed[k]``, and every operation is per member, so an ensemble member's
bits equal the run alone: :func:`run_specs` is checked against single runs in
the study). Outcomes are judged at checkpoints (``labels``) so the study can
measure whether a shorter horizon would give the same label.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from refnet.data import xor_easy
from refnet.network import Network, mlp
from refnet.outcomes import Criteria, Readout, judge
from refnet.precision import FloatArray
from refnet.train import prepare_data, train

from .ulp import add_ulps, hex_exact

__all__ = ["LAB", "RunSpec", "RunRecord", "build", "run_specs", "run_group", "sha256",
           "CRITERIA", "LAB_EPOCHS", "Progress"]

LAB_EPOCHS = 500_000
"""The lab trained XOR for 500,000 epochs."""

CRITERIA = Criteria(loss_threshold=0.01, blowup_factor=10.0, window=100)
"""Outcome criteria used throughout the study (see :mod:`refnet.outcomes`)."""

LAB: dict[str, object] = {
    "data": "xor (21 points)", "layers": "2-4-4-1", "activation": "relu",
    "output_activation": "sigmoid", "loss": "bce", "bce_delta": 1e-7,
    "bias": "hidden layers only (lab)", "convention": "lab", "batch": "full",
}

Progress = Callable[[int, int], None]
"""``progress(done, total)`` callback in member-epochs."""


@dataclass(frozen=True)
class RunSpec:
    """One training run of the lab's network."""

    seed: int
    lr: float
    init: str = "normal"
    dtype: str = "float64"
    kernel: str = "blas"
    epochs: int = LAB_EPOCHS
    perturb_index: int = -1
    """Flat parameter index nudged before training (-1: none)."""
    perturb_ulps: int = 0

    def group(self) -> tuple[str, str, str, int]:
        return (self.init, self.dtype, self.kernel, self.epochs)


@dataclass
class RunRecord:
    """What one run produced."""

    spec: RunSpec
    outcome: str
    readout: dict[str, float | int | str | None]
    labels: dict[int, str]
    """Outcome judged at each checkpoint epoch (the last is ``spec.epochs``)."""
    weights_sha256: str
    loss_sha256: str
    lr_hex: str
    loss_samples: list[tuple[int, float]] = field(default_factory=list)
    """``(epoch, loss)`` on log-spaced plus evenly spaced epochs, for figures."""

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["labels"] = {str(k): v for k, v in self.labels.items()}
        return out


def sha256(array: npt.NDArray[np.generic]) -> str:
    """SHA-256 of an array's bytes in C order (dtype and shape are the caller's to record)."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def build(specs: Sequence[RunSpec]) -> Network:
    """The lab network with one member per spec (all specs share init, dtype and kernel)."""
    groups = {s.group()[:3] for s in specs}
    if len(groups) != 1:
        raise ValueError(f"specs: members of one ensemble must share init, dtype and kernel, got {sorted(groups)}")
    first = specs[0]
    net = mlp(2, (4, 4), 1, activation="relu", output_activation="sigmoid", loss="bce",
              init=first.init, dtype=first.dtype, seed=[s.seed for s in specs], kernel=first.kernel,
              bce_delta=1e-7)
    if any(s.perturb_ulps for s in specs):
        flat = net.get_flat().copy()
        for k, s in enumerate(specs):
            if s.perturb_ulps:
                if not 0 <= s.perturb_index < flat.shape[1]:
                    raise ValueError(f"perturb_index: expected 0..{flat.shape[1] - 1}, got {s.perturb_index}")
                flat[k, s.perturb_index] = add_ulps(float(flat[k, s.perturb_index]), s.perturb_ulps,
                                                    "float32" if s.dtype == "float32" else "float64")
        net.set_flat(flat)
    return net


def _log_epochs(epochs: int, count: int = 160, linear: int = 400) -> npt.NDArray[np.int64]:
    """0-based indices: ``count`` log-spaced epochs plus ``linear`` evenly spaced ones."""
    top = max(epochs, 1)
    raw = np.concatenate([np.round(np.geomspace(1, top, count)), np.round(np.linspace(1, top, linear))])
    idx = np.unique(raw.astype(np.int64))
    return np.asarray(idx[idx <= epochs] - 1, dtype=np.int64)


def _readout_dict(r: Readout) -> dict[str, float | int | str | None]:
    return {k: v for k, v in asdict(r).items()}


def settled_epoch(loss: npt.NDArray[np.floating[Any]], threshold: float) -> int | None:
    """First epoch (1-based) from which the loss stays below ``threshold`` to the end; None if it ends above.

    The loss of this network oscillates near the threshold, so the first
    crossing (``steps_to_threshold``) and the settling epoch can differ.
    """
    below = np.asarray(loss, dtype=np.float64) < threshold
    if below.size == 0 or not below[-1]:
        return None
    above = np.flatnonzero(~below)
    return int(above[-1]) + 2 if above.size else 1


def run_group(specs: Sequence[RunSpec], checkpoints: Sequence[int] = (),
              trajectories: bool = False) -> list[RunRecord] | tuple[list[RunRecord], FloatArray, FloatArray]:
    """Train ``specs`` (one ensemble) for their common epoch count; judge at each checkpoint.

    With ``trajectories`` also return the full ``(epochs, K)`` loss history
    and the final ``(K, n_params)`` parameters.
    """
    if not specs:
        raise ValueError("specs: nothing to run")
    epochs = specs[0].epochs
    if any(s.epochs != epochs for s in specs):
        raise ValueError("specs: members of one ensemble must share the epoch count")
    net = build(specs)
    x, y = xor_easy()
    xa, ya = prepare_data(net, x, y)
    lrs = np.array([s.lr for s in specs], dtype=np.float64)
    stops = sorted({int(c) for c in checkpoints if 0 < int(c) < epochs} | {epochs})
    history = np.empty((epochs, len(specs)), dtype=net.precision.dtype)
    labels: list[dict[int, str]] = [{} for _ in specs]
    done = 0
    readouts: list[Readout] = []
    for stop in stops:
        if stop > done:
            h = train(net, x, y, lr=lrs, epochs=stop - done, convention="lab")
            history[done:stop] = h.loss
            done = stop
        readouts = judge(net, xa, ya, history[:done], CRITERIA)
        for k, r in enumerate(readouts):
            labels[k][done] = r.outcome
    flat = net.get_flat()
    samples = _log_epochs(epochs)
    records = []
    for k, s in enumerate(specs):
        lr_value = net.precision.scalar(s.lr)
        readout = _readout_dict(readouts[k])
        readout["settled_epoch"] = settled_epoch(history[:, k], CRITERIA.loss_threshold)
        records.append(RunRecord(
            spec=s, outcome=readouts[k].outcome, readout=readout, labels=labels[k],
            weights_sha256=sha256(flat[k]), loss_sha256=sha256(history[:, k]),
            lr_hex=hex_exact(lr_value),
            loss_samples=[(int(e) + 1, float(history[e, k])) for e in samples],
        ))
    if trajectories:
        return records, history, flat
    return records


def _run_chunk(args: tuple[list[RunSpec], tuple[int, ...]]) -> list[RunRecord]:
    specs, checkpoints = args
    out = run_group(specs, checkpoints)
    if isinstance(out, tuple):  # pragma: no cover - trajectories is False here
        raise TypeError("run_group: unexpected trajectories")
    return out


def _chunks(specs: Sequence[RunSpec], size: int) -> list[list[RunSpec]]:
    groups: dict[tuple[str, str, str, int], list[RunSpec]] = {}
    for s in specs:
        groups.setdefault(s.group(), []).append(s)
    out = []
    for members in groups.values():
        for i in range(0, len(members), size):
            out.append(members[i:i + size])
    return out


def _context() -> BaseContext:
    """``forkserver`` where available (no fork of a multi-threaded parent), else ``spawn``."""
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["verify.lr_runs"])
        return ctx
    return mp.get_context("spawn")


def run_specs(specs: Sequence[RunSpec], *, checkpoints: Sequence[int] = (), workers: int = 2,
              chunk: int = 32, progress: Progress | None = None) -> list[RunRecord]:
    """Run every spec (in ensembles of up to ``chunk`` members over ``workers`` processes).

    Records come back in the order of ``specs``. Results do not depend on
    ``workers`` or ``chunk``: each member's arithmetic is its own.
    """
    if not specs:
        return []
    index = {id(s): i for i, s in enumerate(specs)}
    per = max(1, min(chunk, -(-len(specs) // max(1, workers))))
    jobs = _chunks(specs, per)
    total = sum(s.epochs for s in specs)
    results: dict[int, RunRecord] = {}
    done = 0
    if workers <= 1 or len(jobs) == 1:
        outs = (_run_chunk((job, tuple(checkpoints))) for job in jobs)
        for job, out in zip(jobs, outs):
            for s, r in zip(job, out):
                results[index[id(s)]] = r
            done += sum(s.epochs for s in job)
            if progress is not None:
                progress(done, total)
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
            futures = [(job, pool.submit(_run_chunk, (job, tuple(checkpoints)))) for job in jobs]
            for job, fut in futures:
                for s, r in zip(job, fut.result()):
                    results[index[id(s)]] = r
                done += sum(s.epochs for s in job)
                if progress is not None:
                    progress(done, total)
    return [results[i] for i in range(len(specs))]


def default_workers() -> int:
    """Worker processes: ``REFNET_WORKERS`` if set, else 2 (this machine has 2 cores)."""
    raw = os.environ.get("REFNET_WORKERS", "2")
    try:
        return max(1, int(raw))
    except ValueError:
        raise ValueError(f"REFNET_WORKERS: expected an integer, got {raw!r}") from None


def with_epochs(specs: Sequence[RunSpec], epochs: int) -> list[RunSpec]:
    """The same specs with another epoch count."""
    return [replace(s, epochs=epochs) for s in specs]
