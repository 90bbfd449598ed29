"""One-dimensional box-counting dimension, with the fit's residuals.

A set of points on an integer lattice ``[0, length)`` is covered by boxes of
``size`` lattice steps; ``N(size)`` counts the boxes that hold at least one
point. For a set of box-counting dimension ``D``, ``N ~ size**-D``, so ``D`` is
minus the slope of ``log N`` against ``log size`` (fitted by least squares).
Integers keep the counting exact: a scan's points are integer ulp ordinals,
and a middle-thirds Cantor set at level ``m`` is the integers below ``3**m``
whose base-3 digits are all 0 or 2.

For a scan of outcome labels on an evenly spaced grid, the boundary is the
set of *edges* ``i`` (between grid points ``i`` and ``i + 1``) where the label
changes; :func:`label_boundary_fit` counts boxes of ``s`` consecutive edges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["BoxFit", "box_counts", "fit_dimension", "box_dimension", "boundary_edges",
           "label_boundary_fit", "cantor_points", "dyadic_sizes", "describe_fit"]


@dataclass(frozen=True)
class BoxFit:
    """A least-squares fit of ``log N = c - D log size``."""

    dimension: float
    """``D``; NaN when fewer than two scales have a nonzero count."""
    intercept: float
    sizes: list[int]
    counts: list[int]
    residuals: list[float]
    """``log N - fit`` at each scale used (natural log)."""
    rms_residual: float
    stderr: float
    """Standard error of ``D`` (NaN with fewer than three scales)."""

    def as_dict(self) -> dict[str, float | list[int] | list[float]]:
        return {"dimension": self.dimension, "intercept": self.intercept, "sizes": self.sizes,
                "counts": self.counts, "residuals": self.residuals,
                "rms_residual": self.rms_residual, "stderr": self.stderr}


def _real(value: object) -> float:
    """A float from a fit's field, as held in memory or as ``report.json`` stores it (NaN as ``"nan"``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return math.nan
    try:
        return float(value)
    except ValueError:
        return math.nan


def describe_fit(fit: BoxFit | Mapping[str, object], digits: int = 3) -> str:
    """A fit as prose: ``dimension 0.25 (standard error 0.01, RMS residual 0.002 over 5 box sizes)``.

    Where a value is undefined it says why instead of printing NaN: no box holds a boundary point
    (no label change), a single box size holds one (a slope needs two), or two sizes leave no
    residual degree of freedom for a standard error. ``fit`` is a :class:`BoxFit` or its
    :meth:`BoxFit.as_dict` (also as read back from ``report.json``).
    """
    d = fit.as_dict() if isinstance(fit, BoxFit) else fit
    sizes = d.get("sizes")
    n = len(sizes) if isinstance(sizes, (list, tuple)) else 0
    dim, err, rms = _real(d.get("dimension")), _real(d.get("stderr")), _real(d.get("rms_residual"))

    def num(x: float) -> str:
        return "0" if x == 0 else f"{x:.{digits}g}"

    if not math.isfinite(dim):
        why = ("no box of any size holds a boundary point (no label change)" if n == 0 else
               f"only {n} box size holds a boundary point and a slope needs two")
        return f"dimension undefined: {why}"
    scales = f"{n} box sizes"
    if not math.isfinite(err):
        return (f"dimension {num(dim)} (from {scales}, an exact line: no residual degree of freedom "
                "for a standard error)")
    return f"dimension {num(dim)} (standard error {num(err)}, RMS residual {num(rms)} over {scales})"


def box_counts(points: Sequence[int] | npt.NDArray[np.int64], sizes: Sequence[int]) -> list[int]:
    """``N(size)`` for each size: distinct boxes ``floor(p / size)`` hit by the points."""
    arr = np.asarray(points, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"points: expected a 1-D array, got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValueError("points: expected lattice positions >= 0")
    out = []
    for s in sizes:
        if int(s) < 1:
            raise ValueError(f"sizes: expected integers >= 1, got {s}")
        out.append(int(np.unique(arr // int(s)).size))
    return out


def fit_dimension(sizes: Sequence[int], counts: Sequence[int]) -> BoxFit:
    """Fit ``log N`` against ``log size`` over the scales with ``N > 0``."""
    if len(sizes) != len(counts):
        raise ValueError(f"counts: expected {len(sizes)} values, got {len(counts)}")
    keep = [(int(s), int(c)) for s, c in zip(sizes, counts) if c > 0]
    nan = float("nan")
    if len(keep) < 2:
        return BoxFit(nan, nan, [s for s, _ in keep], [c for _, c in keep], [], nan, nan)
    xs = np.log(np.array([s for s, _ in keep], dtype=np.float64))
    ys = np.log(np.array([c for _, c in keep], dtype=np.float64))
    design = np.stack([np.ones_like(xs), xs], axis=1)
    coef, *_ = np.linalg.lstsq(design, ys, rcond=None)
    resid = ys - design @ coef
    dof = len(keep) - 2
    if dof > 0:
        sigma2 = float(resid @ resid) / dof
        var = sigma2 / float(np.sum((xs - xs.mean()) ** 2))
        stderr = math.sqrt(var)
    else:
        stderr = nan
    dim = float(-coef[1])
    dim = 0.0 if abs(dim) < 1e-12 else dim  # exact counts of a point give -0.0 or 1e-16
    return BoxFit(dim, float(coef[0]), [s for s, _ in keep], [c for _, c in keep],
                  [float(r) for r in resid], float(np.sqrt(np.mean(resid**2))), stderr)


def dyadic_sizes(length: int, smallest: int = 1, min_boxes: int = 4) -> list[int]:
    """Box sizes ``smallest * 2**j`` that leave at least ``min_boxes`` boxes in ``length``."""
    sizes = []
    s = max(1, int(smallest))
    while length // s >= min_boxes:
        sizes.append(s)
        s *= 2
    return sizes


def box_dimension(points: Sequence[int] | npt.NDArray[np.int64], sizes: Sequence[int]) -> BoxFit:
    """Count boxes at ``sizes`` and fit the dimension."""
    return fit_dimension(sizes, box_counts(points, sizes))


def boundary_edges(labels: Sequence[str]) -> list[int]:
    """Edges ``i`` where ``labels[i] != labels[i + 1]``."""
    return [i for i in range(len(labels) - 1) if labels[i] != labels[i + 1]]


def label_boundary_fit(labels: Sequence[str], min_boxes: int = 4) -> BoxFit:
    """Box-counting dimension of the label changes along one evenly spaced scan."""
    n_edges = len(labels) - 1
    if n_edges < 1:
        raise ValueError("labels: need at least two points")
    sizes = dyadic_sizes(n_edges, 1, min_boxes)
    return box_dimension(boundary_edges(labels), sizes)


def cantor_points(level: int) -> npt.NDArray[np.int64]:
    """Integers in ``[0, 3**level)`` whose base-3 digits are 0 or 2 (middle-thirds Cantor set)."""
    if level < 0 or level > 30:
        raise ValueError(f"level: expected 0..30, got {level}")
    pts = np.zeros(1, dtype=np.int64)
    for _ in range(level):
        pts = np.concatenate([3 * pts, 3 * pts + 2])
    return np.sort(pts)
