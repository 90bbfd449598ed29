"""Units for first-order rounding-error bounds, shared by the error models.

Each layer and loss states how its own formulas round (see the ``rounding_*``
and ``carry_*`` methods in :mod:`refnet.layers` and :mod:`refnet.losses`);
:mod:`refnet.gradcheck` combines them. Bounds are in units of the dtype's
``eps`` and computed in float64 on magnitudes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .precision import FloatArray

__all__ = ["Bound", "abs64", "eps", "eta"]

Bound = npt.NDArray[np.float64]
"""A per-element error bound in units of eps (float64)."""


def eps(dtype: npt.DTypeLike) -> float:
    """Machine epsilon of ``dtype``."""
    return float(np.finfo(dtype).eps)


def eta(dtype: npt.DTypeLike) -> float:
    """Absolute underflow allowance per rounding (the smallest subnormal), in eps units."""
    info = np.finfo(dtype)
    return float(info.smallest_subnormal) / float(info.eps)


def abs64(a: FloatArray) -> Bound:
    """``|a|`` in float64."""
    return np.abs(np.asarray(a, dtype=np.float64))
