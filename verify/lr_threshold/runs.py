"""Training runs of the lab's learning-rate experiment, many at once through :mod:`refnet.sweep`.

The lab's configuration is fixed here (XOR easy, 21 points; 2-4-4-1; ReLU
hidden layers; sigmoid output; BCE with delta 1e-7; full batch unless the
reading batches): :func:`lab_setup` is the :class:`refnet.sweep.Setup` for an
init scheme and an epoch count. A :class:`LabRun` is one
:class:`refnet.sweep.Member` (seed, learning rate, precision, kernel, reading
of the lab's arithmetic) of such a setup. The study runs under
:data:`CONVENTION` (``"lab-evidence"``: whatever ``refnet.conventions.READINGS["lab-evidence"]``
is when it runs, recorded by :func:`reading_label`); :data:`SENSITIVITY` is the
summed reading the study ran under before, kept for comparison. Networks are
always built with the reading's sigmoid (:func:`lab_network`).

:func:`run_specs` hands the runs to :func:`refnet.sweep.iter_sweep`, which
trains runs that share a setup, dtype and kernel as the members of one
ensemble; each member's bits are those of the network trained alone (refnet
builds member ``k`` exactly as the network built from ``seed[k]``, and every
operation is per member). Outcomes are also judged at checkpoints
(``labels``) so the study can measure whether a shorter horizon would give
the same label.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from refnet.conventions import ConventionLike, resolve
from refnet.data import xor_easy
from refnet.network import Network
from refnet.outcomes import Criteria, first_below
from refnet.precision import precision
from refnet.sweep import Member, MemberResult, Setup, iter_sweep
from refnet.precision import DTypeName
from refnet.init import InitName
from refnet.kernels import KernelName

from .ulp import hex_exact

__all__ = ["LAB", "LAB_EPOCHS", "CRITERIA", "CONVENTION", "SENSITIVITY", "LabRun", "RunRecord", "lab_setup",
           "lab_run", "lab_network", "reading_label", "lab_config", "run_specs", "sha256", "settled_epoch"]

CONVENTION: ConventionLike = "lab-evidence"
"""The reading every run of the study uses unless told otherwise (resolved when it runs)."""
SENSITIVITY: ConventionLike = "lab-sum"
"""The summed reading (the study's convention before the lab's arithmetic was reconstructed)."""


def reading_label(convention: ConventionLike = CONVENTION) -> str:
    """The full label of the reading ``convention`` names now (e.g. ``lab[gradient=mean,...]``)."""
    r = resolve(convention)
    return "default" if r is None else r.label

LAB_EPOCHS = 500_000
"""The lab trained XOR for 500,000 epochs."""

CRITERIA = Criteria(loss_threshold=0.01, blowup_factor=10.0, window=100)
"""Outcome criteria used throughout the study (see :mod:`refnet.outcomes`)."""

LAB: dict[str, object] = {
    "data": "xor (21 points)", "layers": "2-4-4-1", "activation": "relu",
    "output_activation": "sigmoid", "loss": "bce", "bce_delta": 1e-7,
    "bias": "hidden layers only (lab)",
}
"""The lab's configuration; :func:`lab_config` adds the reading."""


def lab_config(convention: ConventionLike = CONVENTION) -> dict[str, object]:
    """:data:`LAB` with the reading's name, label and batching, as the report states them."""
    r = resolve(convention)
    batch = "full" if r is None or r.batch_size is None else f"mini-batches of {r.batch_size}"
    return {**LAB, "convention": str(convention) if isinstance(convention, str) else "reading",
            "reading": reading_label(convention), "batch": batch}


def lab_setup(init: InitName = "normal", epochs: int = LAB_EPOCHS) -> Setup:
    """The lab's network, data and training length as a sweep :class:`~refnet.sweep.Setup`."""
    x, y = xor_easy()
    return Setup(x, y, epochs, hidden=(4, 4), activation="relu", output_activation="sigmoid", loss="bce",
                 init=init, bce_delta=1e-7, criteria=CRITERIA)


@dataclass(frozen=True)
class LabRun:
    """One training run of the lab's network: a sweep member of ``lab_setup(init, epochs)``."""

    member: Member
    init: InitName = "normal"
    epochs: int = LAB_EPOCHS

    def as_dict(self) -> dict[str, object]:
        m = self.member
        return {"seed": m.seed, "lr": m.lr, "init": self.init, "dtype": m.dtype, "kernel": m.kernel,
                "epochs": self.epochs, "convention": str(m.convention)}


def lab_run(seed: int, lr: float, init: InitName = "normal", *, dtype: DTypeName = "float64", kernel: KernelName = "blas",
            epochs: int = LAB_EPOCHS, convention: ConventionLike = CONVENTION) -> LabRun:
    """A :class:`LabRun` under ``convention`` (default: the study's reading of the lab)."""
    return LabRun(Member(seed, lr, dtype, convention, kernel, init), init, epochs)


def lab_network(seeds: Sequence[int], init: InitName = "normal", *, dtype: DTypeName = "float64",
                kernel: KernelName = "blas", convention: ConventionLike = CONVENTION) -> Network:
    """The lab's network for ``seeds`` (one member each), built as a sweep builds it: with the
    reading's sigmoid formula (:meth:`refnet.sweep.Setup.build_for`)."""
    return lab_setup(init, 1).build_for([Member(int(s), PAIR_LOW, dtype, convention, kernel, init) for s in seeds])


PAIR_LOW = 0.001490625
"""A valid learning rate for members that are only built, never trained."""


@dataclass
class RunRecord:
    """What one run produced."""

    spec: LabRun
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
        out["spec"] = self.spec.as_dict()
        out["labels"] = {str(k): v for k, v in self.labels.items()}
        return out


def sha256(array: npt.NDArray[np.generic]) -> str:
    """SHA-256 of an array's value bytes in C order (dtype and shape are the caller's to record).

    An x87 ``longdouble`` holds 10 value bytes in 16 (or 12); the rest is
    padding whose content is whatever memory held, so it is left out: two
    runs with equal values hash alike.
    """
    a = np.ascontiguousarray(array)
    if a.dtype == np.longdouble and a.dtype.itemsize > 10 and np.finfo(np.longdouble).nmant == 63:
        a = np.ascontiguousarray(a.reshape(-1).view(np.uint8).reshape(-1, a.dtype.itemsize)[:, :10])
    return hashlib.sha256(a.tobytes()).hexdigest()


def _log_epochs(epochs: int, count: int = 160, linear: int = 400) -> npt.NDArray[np.int64]:
    """0-based indices: ``count`` log-spaced epochs plus ``linear`` evenly spaced ones."""
    top = max(epochs, 1)
    raw = np.concatenate([np.round(np.geomspace(1, top, count)), np.round(np.linspace(1, top, linear))])
    idx = np.unique(raw.astype(np.int64))
    return np.asarray(idx[idx <= epochs] - 1, dtype=np.int64)


def settled_epoch(loss: npt.NDArray[np.floating[Any]], threshold: float) -> int | None:
    """First epoch (1-based) from which the loss stays below ``threshold`` to the end; None if it ends above.

    The loss of this network oscillates near the threshold, so the first
    crossing (``steps_to_threshold``) and the settling epoch can differ
    (:func:`refnet.outcomes.first_below` with ``settled=True``).
    """
    at = int(first_below(loss, threshold, settled=True))
    return at if at >= 0 else None


def _record(run: LabRun, result: MemberResult) -> RunRecord:
    history = result.loss
    readout: dict[str, float | int | str | None] = dict(asdict(result.readout))
    readout["settled_epoch"] = settled_epoch(history, CRITERIA.loss_threshold)
    labels: dict[int, str] = {epoch: r.outcome for epoch, r in result.checkpoints.items()}
    labels[run.epochs] = result.readout.outcome
    samples = _log_epochs(run.epochs)
    return RunRecord(
        spec=run, outcome=result.readout.outcome, readout=readout, labels=labels,
        weights_sha256=sha256(result.flat), loss_sha256=sha256(history),
        lr_hex=hex_exact(precision(run.member.dtype).scalar(run.member.lr)),
        loss_samples=[(int(e) + 1, float(history[e])) for e in samples],
    )


def run_specs(specs: Sequence[LabRun], *, checkpoints: Sequence[int] = (), workers: int = 2,
              chunk: int = 128, executor: Executor | None = None, quiet: bool = True,
              label: str = "runs") -> list[RunRecord]:
    """Run every spec through :func:`refnet.sweep.iter_sweep`; records in the order of ``specs``.

    Runs sharing ``(init, epochs)`` form one sweep; within it, chunks of up
    to ``chunk`` members (spread over ``workers`` processes, or ``executor``)
    train as ensembles. Results do not depend on ``workers``, ``chunk`` or
    the executor: each member's arithmetic is its own. The full loss history
    of every run is kept (its hash is part of the record).
    """
    groups: dict[tuple[InitName, int, str], list[int]] = {}
    for i, s in enumerate(specs):
        groups.setdefault((s.init, s.epochs, str(s.member.convention)), []).append(i)
    out: dict[int, RunRecord] = {}
    for (init, epochs, _conv), index in groups.items():
        # one chunk per worker at most (never more than ``chunk`` members), same dtype and kernel together
        order = sorted(index, key=lambda i: (str(precision(specs[i].member.dtype)), specs[i].member.kernel))
        per = max(1, min(chunk, -(-len(order) // max(1, workers))))
        parallel = len(order) > per and (executor is not None or workers > 1)
        results = iter_sweep(lab_setup(init, epochs), [specs[i].member for i in order], chunk_size=per,
                             workers=workers if parallel and executor is None else 0,
                             executor=executor if parallel else None,
                             checkpoints=[c for c in checkpoints if 0 < c < epochs], quiet=quiet, label=label)
        for i, result in zip(order, results):
            out[i] = _record(specs[i], result)
    return [out[i] for i in range(len(specs))]
