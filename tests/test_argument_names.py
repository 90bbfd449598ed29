"""Errors that used to come from deep inside NumPy or Python now name the argument at its root.

Issue 23's cases: ``BCE(delta='0.1')`` (was "ufunc 'isfinite' not supported"), a sweep
member or setup field given a list (was "unhashable type: 'list'"), ``layer_problems``
with ``dy`` of the wrong width (was a raw matmul error).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

from refnet import BCE, mlp
from refnet import sweep as sw
from refnet.data import xor_easy
from refnet.gradcheck import layer_problems
from refnet.layers import Linear, Sigmoid
from refnet.losses import make_loss

X, Y = xor_easy()


@pytest.mark.parametrize("delta, exc", [("0.1", TypeError), ([0.1], TypeError), (None, TypeError), (True, TypeError),
                                        (1j, TypeError), (-0.1, ValueError), (math.nan, ValueError),
                                        (math.inf, ValueError)])
def test_bce_delta_is_named(delta: object, exc: type[Exception]) -> None:
    with pytest.raises(exc, match=r"^delta: "):
        BCE(delta=delta)  # type: ignore[arg-type]
    with pytest.raises(exc, match=r"^delta: "):
        make_loss("bce", "mean", delta)  # type: ignore[arg-type]


@pytest.mark.parametrize("delta", [0, 0.0, 1e-7, np.float32(1e-3), np.int64(0)])
def test_bce_delta_accepts_real_numbers(delta: object) -> None:
    loss = BCE(delta=delta)  # type: ignore[arg-type]
    assert type(loss.delta) is float
    assert loss.delta == float(delta)  # type: ignore[arg-type]


MEMBER_FIELDS: list[tuple[str, object, type[Exception]]] = [
    ("seed", [1], TypeError), ("lr", [0.1], TypeError), ("dtype", ["float64"], TypeError),
    ("convention", ["default"], TypeError), ("kernel", ["blas"], TypeError), ("init", ["normal"], TypeError),
    ("kernel", "gpu", ValueError), ("init", "glorot", ValueError), ("kernel", {"blas": 1}, TypeError),
]


@pytest.mark.parametrize("field, value, exc", MEMBER_FIELDS)
def test_a_member_field_of_the_wrong_kind_is_named(field: str, value: object, exc: type[Exception]) -> None:
    kwargs: dict[str, Any] = {"seed": 0, "lr": 0.1, field: value}
    members = [sw.Member(0, 0.1), sw.Member(**kwargs)]
    with pytest.raises(exc, match=rf"^members\[1\]\.{field}: "):
        sw.sweep(sw.Setup(X, Y, epochs=1), members, workers=0)


SETUP_FIELDS: list[tuple[str, object, type[Exception]]] = [
    ("x", [[np.nan, 0.0]] * 21, ValueError), ("x", np.ones((21, 2), dtype=bool), TypeError),
    ("y", [["a"]] * 21, TypeError), ("y", np.ones((21, 1), dtype=bool), TypeError), ("y", [[2.0]] * 21, ValueError),
    ("epochs", [2], TypeError), ("hidden", [[4]], TypeError), ("activation", ["relu"], TypeError),
    ("loss", ["mse"], TypeError), ("init", ["normal"], TypeError), ("bce_delta", [0.1], TypeError),
    ("batch_size", [2], TypeError), ("batch_size", 0, ValueError), ("momentum", [0.5], TypeError),
    ("momentum", 1.0, ValueError), ("criteria", [1], TypeError),
]


@pytest.mark.parametrize("field, value, exc", SETUP_FIELDS)
def test_a_setup_field_of_the_wrong_kind_is_named(field: str, value: object, exc: type[Exception]) -> None:
    kwargs: dict[str, Any] = {"x": X, "y": Y, "epochs": 1, field: value}
    with pytest.raises(exc, match=rf"^setup\.{field}(\[\d+\])?: "):
        sw.sweep(sw.Setup(**kwargs), [sw.Member(0, 0.1)], workers=0)


def _linear() -> Linear:
    return mlp(seed=0).layers[0]  # type: ignore[return-value]


@pytest.mark.parametrize("layer, x_shape, dy_shape, name", [
    (_linear(), (1, 5, 2), (1, 5, 3), "dy"), (_linear(), (1, 5, 2), (1, 5, 5), "dy"),
    (_linear(), (1, 5, 2), (1, 4, 4), "dy"), (Sigmoid(), (1, 5, 3), (1, 5, 2), "dy"),
    (_linear(), (1, 5, 3), (1, 5, 4), "x"),
])
def test_layer_problems_names_dy_or_x_of_the_wrong_shape(layer: Any, x_shape: tuple[int, ...],
                                                        dy_shape: tuple[int, ...], name: str) -> None:
    params = {k: v.copy() for k, v in layer.params.items()}
    x, dy = np.zeros(x_shape), np.ones(dy_shape)
    with pytest.raises(ValueError, match=rf"^{name}: ") as info:
        layer_problems(layer, x, dy)
    if name == "dy" and x_shape[:2] == dy_shape[:2]:  # the width: checked against the layer's output
        wanted = x_shape[:2] + ((4,) if isinstance(layer, Linear) else x_shape[2:])
        assert re.search(rf"expected shape {re.escape(str(wanted))}", str(info.value))
    assert all(np.array_equal(params[k], v) for k, v in layer.params.items())
    assert getattr(layer, "_x", None) is None and getattr(layer, "_y", None) is None  # its cache untouched
