"""Named, seeded weight initialisation schemes.

Every draw is made in float64 from a ``numpy.random.Generator`` the caller
passes in, then rounded once to the network's precision, so float32 and
float64 networks built from the same seed start from the same weights
(up to that rounding).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["INITIALISERS", "InitName", "draw_layer"]

InitName = Literal["normal", "xavier", "he"]

Draw = Callable[[np.random.Generator, int, int, bool], tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]]


def _normal(rng: np.random.Generator, n_in: int, n_out: int, bias: bool) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """Lab style: weights and biases from the standard normal N(0, 1)."""
    w = rng.standard_normal((n_in, n_out))
    b = rng.standard_normal((1, n_out)) if bias else None
    return w, b


def _xavier(rng: np.random.Generator, n_in: int, n_out: int, bias: bool) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (in + out)); zero biases."""
    limit = np.sqrt(6.0 / (n_in + n_out))
    w = rng.uniform(-limit, limit, (n_in, n_out))
    return w, (np.zeros((1, n_out)) if bias else None)


def _he(rng: np.random.Generator, n_in: int, n_out: int, bias: bool) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """He/Kaiming normal: N(0, 2 / in); zero biases."""
    w = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
    return w, (np.zeros((1, n_out)) if bias else None)


INITIALISERS: dict[InitName, Draw] = {"normal": _normal, "xavier": _xavier, "he": _he}


def draw_layer(
    scheme: InitName, rng: np.random.Generator, n_in: int, n_out: int, bias: bool
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """Draw one layer's ``(W, b)`` in float64 with the named scheme."""
    try:
        draw = INITIALISERS[scheme]
    except KeyError:
        raise ValueError(
            f"init: unknown scheme {scheme!r}; choose one of {', '.join(INITIALISERS)}"
        ) from None
    return draw(rng, n_in, n_out, bias)
