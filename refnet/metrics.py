"""Classification accuracy with the lab's 0.5 threshold, made explicit."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .precision import FloatArray
from .validation import real_array

__all__ = ["accuracy", "classify"]


def classify(p: FloatArray) -> npt.NDArray[np.float64]:
    """1 where ``p > 0.5``, 0 where ``p < 0.5``, NaN where undecided.

    Exactly 0.5 and NaN are *undecided* (the lab's two masks leave them
    unchanged), and an undecided point counts as wrong in :func:`accuracy`.
    """
    p = real_array("p", p)
    with np.errstate(invalid="ignore"):
        out = np.where(p > 0.5, 1.0, np.where(p < 0.5, 0.0, np.nan))
    return out.astype(np.float64)


def accuracy(p: FloatArray, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Percentage of points classified correctly, per member: ``p`` is
    ``(K, N, 1)`` (or ``(N, 1)``), ``t`` the 0/1 labels ``(N, 1)``."""
    probs = real_array("p", p)
    labels = real_array("t", t, bools=True).astype(np.float64)
    if probs.ndim not in (2, 3) or probs.size == 0:
        raise ValueError(f"p: expected shape (K, N, out) or (N, out), got {probs.shape}")
    if labels.shape not in (probs.shape, probs.shape[-2:]):
        raise ValueError(f"t: expected shape {probs.shape[-2:]} (or {probs.shape}) to match p, got {labels.shape}")
    hits = classify(probs) == labels
    out: npt.NDArray[np.float64] = 100.0 * hits.mean(axis=(-2, -1))
    return out
