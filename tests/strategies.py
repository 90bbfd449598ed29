"""Hypothesis strategies shared by the tests: arrays, layers and losses with their inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refnet.layers import Identity, Layer, Linear, ReLU, Sigmoid, Tanh
from refnet.losses import BCE, MSE, BCEWithLogits, Loss
from refnet.precision import FloatArray
from tests.tolerances import DTYPES

__all__ = ["values", "layer_case", "loss_case"]


def values(dtype: str, shape: tuple[int, ...], lo: float, hi: float) -> st.SearchStrategy[FloatArray]:
    """Arrays of ``dtype`` with elements in [lo, hi] (bounds representable in float32)."""
    width = 32 if dtype == "float32" else 64
    return hnp.arrays(np.dtype(dtype), shape,
                      elements=st.floats(lo, hi, allow_nan=False, allow_subnormal=False, width=width))


@st.composite
def layer_case(draw: st.DrawFn) -> tuple[Layer, FloatArray, FloatArray]:
    """A real layer with hypothesis-chosen shape, dtype, input, upstream gradient and weights."""
    dtype = draw(st.sampled_from(DTYPES))
    kind = draw(st.sampled_from(["Linear", "Linear (no bias)", "Sigmoid", "ReLU", "Tanh", "Identity"]))
    n, fin, fout = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    layer: Layer
    if kind.startswith("Linear"):
        w = draw(values(dtype, (1, fin, fout), -4.0, 4.0))
        b = draw(values(dtype, (1, 1, fout), -4.0, 4.0)) if kind == "Linear" else None
        layer = Linear(w, b)
    else:
        layer = {"Sigmoid": Sigmoid, "ReLU": ReLU, "Tanh": Tanh, "Identity": Identity}[kind]()
        fout = fin
    x = draw(values(dtype, (1, n, fin), -8.0, 8.0))
    dy = draw(values(dtype, (1, n, fout), -4.0, 4.0))
    return layer, x, dy


@st.composite
def loss_case(draw: st.DrawFn) -> tuple[Loss, FloatArray, FloatArray, float | None, float | None]:
    """A real loss with predictions, targets and the prediction bounds its check must respect."""
    dtype = draw(st.sampled_from(DTYPES))
    kind = draw(st.sampled_from(["MSE", "BCE", "BCEWithLogits"]))
    reduction = draw(st.sampled_from(["mean", "sum"]))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 3)))
    t = draw(values(dtype, shape, 0.0, 1.0))
    if kind == "BCE":
        return BCE(reduction), draw(values(dtype, shape, 0.0625, 0.9375)), t, 0.0, 1.0
    loss = MSE(reduction) if kind == "MSE" else BCEWithLogits(reduction)
    return loss, draw(values(dtype, shape, -8.0, 8.0)), t, None, None
