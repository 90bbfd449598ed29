"""Classification accuracy with the lab's 0.5 threshold, made explicit."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .precision import FloatArray

__all__ = ["accuracy", "classify"]


def classify(p: FloatArray) -> npt.NDArray[np.float64]:
    """1 where ``p > 0.5``, 0 where ``p < 0.5``, NaN where undecided.

    Exactly 0.5 and NaN are *undecided* (the lab's two masks leave them
    unchanged), and an undecided point counts as wrong in :func:`accuracy`.
    """
    with np.errstate(invalid="ignore"):
        out = np.where(p > 0.5, 1.0, np.where(p < 0.5, 0.0, np.nan))
    return out.astype(np.float64)


def accuracy(p: FloatArray, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Percentage of points classified correctly, per member: ``p`` is
    ``(K, N, 1)`` (or ``(N, 1)``), ``t`` the 0/1 labels ``(N, 1)``."""
    labels = np.asarray(t, dtype=np.float64)
    hits = classify(p) == labels
    out: npt.NDArray[np.float64] = 100.0 * hits.mean(axis=(-2, -1))
    return out
