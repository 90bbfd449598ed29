"""The lab course's two data sets: a linearly separable cloud and an easy XOR."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from .validation import check_choice, check_int

__all__ = ["linear", "xor_easy", "DATASETS", "DatasetName", "dataset"]

Pair = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]


MAX_POINTS = 10**7
"""Largest ``n`` of :func:`linear` (160 MB of points)."""


def linear(n: int = 100, rng: np.random.Generator | int = 0) -> Pair:
    """``n`` points uniform in the unit square; label 0 when ``x0 > x1``, else 1.

    Returns ``x`` of shape ``(n, 2)`` and ``y`` of shape ``(n, 1)``, float64.
    """
    n = check_int("n", n, 1, MAX_POINTS)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(check_int("rng", rng, 0))
    x = gen.uniform(0.0, 1.0, (n, 2))
    y = (x[:, 0] <= x[:, 1]).astype(np.float64)[:, None]
    return x, y


def xor_easy() -> Pair:
    """The 21-point XOR set: ``(0.1 i, 0.1 i)`` labelled 0 for i = 0..10, and
    ``(0.1 i, 1 - 0.1 i)`` labelled 1 except where it repeats the centre (i = 5)."""
    xs: list[tuple[float, float]] = []
    ys: list[float] = []
    for i in range(11):
        xs.append((0.1 * i, 0.1 * i))
        ys.append(0.0)
        if 0.1 * i == 0.5:
            continue
        xs.append((0.1 * i, 1 - 0.1 * i))
        ys.append(1.0)
    return np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64)[:, None]


DatasetName = Literal["linear", "xor"]
DATASETS: tuple[DatasetName, ...] = ("linear", "xor")


def dataset(name: DatasetName, n: int = 100, rng: np.random.Generator | int = 0) -> Pair:
    """A data set by name: ``linear`` (uses ``n`` and ``rng``) or ``xor``."""
    if check_choice("name", name, DATASETS) == "linear":
        return linear(n, rng)
    return xor_easy()
