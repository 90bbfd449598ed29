"""Test tolerances, keyed by dtype, in one place (never scattered literals)."""

from __future__ import annotations

import numpy as np


def ulp_tol(dtype: np.dtype | type, ulps: float) -> float:
    """``ulps`` units in the last place of 1.0 for ``dtype``."""
    return ulps * float(np.finfo(dtype).eps)


DTYPES = ("float32", "float64")
ALL_DTYPES = ("float32", "float64", "longdouble")
