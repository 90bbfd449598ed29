"""How a training run ended: converged, diverged or stalled, with readouts.

A run is judged per member from its loss history and final parameters, by
criteria stated in :class:`Criteria` (so a study can print them):

- ``converged``: final loss below ``loss_threshold`` and 100% accuracy;
- ``diverged``: a non-finite loss or parameter, or a loss that rose above
  ``blowup_factor`` times the initial loss;
- ``stalled``: anything else (a plateau, dead ReLU units, saturated outputs).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from .layers import Linear
from .metrics import accuracy
from .network import Network
from .precision import FloatArray

__all__ = ["Outcome", "Criteria", "Readout", "judge", "dead_units"]

Outcome = Literal["converged", "diverged", "stalled"]


@dataclass(frozen=True)
class Criteria:
    """Thresholds that decide an outcome (see the module docstring)."""

    loss_threshold: float = 0.01
    blowup_factor: float = 10.0
    window: int = 100
    """Epochs averaged at each end for the plateau ratio (last over first)."""


@dataclass(frozen=True)
class Readout:
    """One member's outcome and the numbers behind it."""

    outcome: Outcome
    final_loss: float
    accuracy: float
    steps_to_threshold: int | None
    """First epoch (1-based count of completed epochs) with loss below the threshold."""
    decided_epoch: int
    """Epoch at which the outcome became final (the run length for ``stalled``)."""
    dead_units: int
    """Hidden units whose pre-activation is <= 0 on every training point."""
    saturated_outputs: int
    """Training points whose output probability rounds to exactly 0 or 1."""
    plateau_ratio: float
    """Mean of the last ``window`` losses over the mean of the first ``window``."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def dead_units(net: Network, x: FloatArray) -> npt.NDArray[np.int64]:
    """Per member, hidden units (all Linear layers but the last) that never fire on ``x``."""
    count = np.zeros(net.members, dtype=np.int64)
    last = net.linears[-1]
    with np.errstate(all="ignore"):
        h = x
        for layer in net.layers:
            h = layer.forward(h)
            if isinstance(layer, Linear) and layer is not last:
                count += np.sum(np.all(~(h > 0), axis=-2), axis=-1)
    return count


def judge(net: Network, x: FloatArray, t: FloatArray, loss: FloatArray,
          criteria: Criteria = Criteria()) -> list[Readout]:
    """Readouts for every member of ``net`` after training on ``(x, t)``.

    ``x``, ``t`` are prepared arrays (see :func:`refnet.train.prepare_data`),
    ``loss`` the ``(epochs, K)`` history.
    """
    with np.errstate(all="ignore"):
        p = net.loss.link(net.forward(x))
    acc = accuracy(p, t[0] if t.shape[0] == 1 else t)
    dead = dead_units(net, x)
    saturated = np.sum((p == 0) | (p == 1), axis=(-2, -1))
    params_finite = np.all(np.isfinite(net.get_flat()), axis=1)
    hist = np.asarray(loss, dtype=np.float64)
    epochs = hist.shape[0]
    w = max(1, min(criteria.window, epochs))
    readouts: list[Readout] = []
    for k in range(net.members):
        h = hist[:, k]
        finite = np.isfinite(h)
        final = float(h[-1]) if epochs else float("nan")
        below = np.flatnonzero(finite & (h < criteria.loss_threshold))
        steps = int(below[0]) + 1 if below.size else None
        first = float(np.mean(h[:w])) if epochs else float("nan")
        with np.errstate(all="ignore"):
            ratio = float(np.mean(h[-w:]) / first) if epochs and first != 0 else float("nan")
        blown = np.flatnonzero(~finite | (h > criteria.blowup_factor * h[0])) if epochs else np.array([])
        outcome: Outcome
        if blown.size or not params_finite[k]:
            outcome, decided = "diverged", int(blown[0]) + 1 if blown.size else epochs
        elif epochs and final < criteria.loss_threshold and acc[k] == 100.0:
            outcome, decided = "converged", steps if steps is not None else epochs
        else:
            outcome, decided = "stalled", epochs
        readouts.append(Readout(outcome, final, float(acc[k]), steps, decided,
                                int(dead[k]), int(saturated[k]), ratio))
    return readouts
