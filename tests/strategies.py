"""Hypothesis strategies shared by the tests: arrays, layers and losses with their inputs."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refnet.layers import Identity, Layer, Linear, ReLU, Sigmoid, Tanh
from refnet.losses import BCE, MSE, BCEWithLogits, Loss
from refnet.network import Network
from refnet.precision import FloatArray
from tests.tolerances import DTYPES

__all__ = ["values", "layer_case", "loss_case", "mlp_arguments", "train_arguments", "load_case", "ANYTHING", "EDGES",
           "replace_some", "succeeds_or_names", "param_bits", "file_tree", "scratch_cwd"]


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


# -- valid and invalid arguments: (value, None) is valid, (value, name) names the argument it breaks --
Choice = tuple[object, str | None]


class _Picker:
    """Draws each argument from its valid options, or from its invalid ones for the few
    arguments (none, one or two per example) chosen to be broken."""

    def __init__(self, draw: st.DrawFn, names: list[str]) -> None:
        self.draw = draw
        self.broken = draw(st.sets(st.sampled_from(names), max_size=2))
        self.bad: set[str] = set()

    def __call__(self, arg: str, options: list[Choice]) -> Any:
        wanted = [o for o in options if (o[1] is not None) == (arg in self.broken)] or options
        value, name = self.draw(st.sampled_from(wanted))
        if name is not None:
            self.bad.add(name)
        return value


@st.composite
def mlp_arguments(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    """Keyword arguments of :func:`refnet.mlp` and the names of those that are invalid."""
    pick = _Picker(draw, ["inputs", "hidden", "outputs", "activation", "output_activation", "loss", "dtype",
                          "seed", "bias", "init", "sigmoid", "bce_delta", "kernel"])
    bad = pick.bad
    kw: dict[str, Any] = {}
    kw["inputs"] = pick("inputs", [(2, None), (1, None), (0, "inputs"), (-1, "inputs"), (True, "inputs"),
                                (2.0, "inputs"), ("2", "inputs")])
    kw["hidden"] = hidden = pick("hidden", [((4, 4), None), ((3,), None), ((), None), ([np.int64(3)], None),
                                         (4, "hidden"), ("44", "hidden"), ((4, 0), "hidden"),
                                         ((4, True), "hidden"), ((2.5,), "hidden")])
    kw["outputs"] = pick("outputs", [(1, None), (2, None), (0, "outputs")])
    kw["activation"] = pick("activation", [("sigmoid", None), ("relu", None), ("tanh", None), ("swish", "activation"),
                                    (3, "activation")])
    kw["output_activation"] = out_act = pick("output_activation", [("sigmoid", None), ("identity", None),
                                                     ("softmax", "output_activation")])
    kw["loss"] = loss = pick("loss", [("mse", None), ("bce", None), ("bce-logits", None), ("hinge", "loss"),
                                     (None, "loss")])
    if loss == "bce-logits" and out_act != "sigmoid":
        bad.add("output_activation")
    kw["dtype"] = pick("dtype", [("float32", None), ("float64", None), ("float16", "dtype"), (3, "dtype")])
    seeds: list[Choice] = [(0, None), ([1, 2], None), ("generator", None), ("12", "seed"), (-1, "seed"),
                           (1.5, "seed"), (True, "seed"), ([], "seed"), ([0, -1], "seed")]
    seed = pick("seed", seeds)
    kw["seed"] = np.random.default_rng(draw(st.integers(0, 3))) if seed == "generator" else seed
    n_linear = len(hidden) + 1 if "hidden" not in bad else 3
    kind = draw(st.sampled_from(["short", "ints", "text"] if "bias" in pick.broken else ["none", "right"]))
    if kind == "right":
        kw["bias"] = [True] * (n_linear - 1) + [False]
        if "hidden" in bad:
            bad.add("bias")
    elif kind == "short":
        kw["bias"] = [True]
        if n_linear != 1 or "hidden" in bad:
            bad.add("bias")
    elif kind == "ints":
        kw["bias"] = [1] * n_linear
        bad.add("bias")
    elif kind == "text":
        kw["bias"] = "yes"
        bad.add("bias")
    kw["init"] = pick("init", [("normal", None), ("he", None), ("orthogonal", "init"), (None, "init")])
    kw["sigmoid"] = pick("sigmoid", [("stable", None), ("naive", None), ("fast", "sigmoid")])
    kw["bce_delta"] = pick("bce_delta", [(1e-7, None), (0.0, None), (-1.0, "bce_delta"), (math.nan, "bce_delta"),
                                   ("a", "bce_delta"), (True, "bce_delta")])
    kw["kernel"] = pick("kernel", [("blas", None), ("portable", None), ("gpu", "kernel"), (3, "kernel")])
    return kw, bad


_X = [[0.1, 0.2], [0.9, 0.1], [0.5, 0.5]]
_Y = [[1.0], [0.0], [1.0]]


@st.composite
def train_arguments(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    """Arguments of :func:`refnet.train` for a 2-member ``mlp(hidden=(3,))`` of ``dtype``
    (returned under the key ``dtype``), and the names of the invalid ones."""
    pick = _Picker(draw, ["x", "y", "lr", "epochs", "batch_size", "momentum", "convention"])
    bad = pick.bad
    kw: dict[str, Any] = {"dtype": draw(st.sampled_from(["float32", "float64"]))}
    kw["x"] = pick("x", [(_X, None), ([[0.1, np.nan], [0.9, 0.1], [0.5, 0.5]], "x"),
                           ([[0.1, 0.2, 0.3]] * 3, "x"), ([["a", "b"]] * 3, "x"), (np.zeros((0, 2)), "x")])
    kw["y"] = pick("y", [(_Y, None), ([[2.0], [0.0], [1.0]], "y"), ([[1.0]], "y"),
                           ([[np.nan], [0.0], [1.0]], "y")])
    tiny_or_huge = None if kw["dtype"] == "float64" else "lr"
    kw["lr"] = pick("lr", [(0.1, None), ([0.1, 0.2], None), (0.0, "lr"), (-1.0, "lr"), (math.nan, "lr"),
                            (True, "lr"), ("0.1", "lr"), ([0.1], "lr"), (1e-50, tiny_or_huge),
                            (1e300, tiny_or_huge)])
    kw["epochs"] = pick("epochs", [(0, None), (2, None), (-1, "epochs"), (2.5, "epochs"), (True, "epochs"),
                                ("2", "epochs"), (10**12, "epochs")])
    kw["batch_size"] = pick("batch_size", [(None, None), (2, None), (0, "batch_size"), (True, "batch_size"),
                                    (1.5, "batch_size")])
    kw["momentum"] = pick("momentum", [(0.0, None), (0.5, None), (1.0, "momentum"), (-0.1, "momentum"),
                                  ("0.5", "momentum"), (True, "momentum"), (math.nan, "momentum")])
    kw["convention"] = pick("convention", [("default", None), ("lab-sum", None), ("lab-evidence", "convention"),
                                    ("torch", "convention"), (3, "convention"),
                                    ("lab[gradient=bogus]", "convention")])
    kw["guard"] = pick("guard", [("off", None), ("record", None), (None, None)])
    return kw, bad


@st.composite
def load_case(draw: st.DrawFn) -> tuple[object, object, set[str]]:
    """A kind of weight file (a key of the test's file table, or a bad path value itself),
    an ``allow_nonfinite`` value, and the names of the invalid arguments."""
    pick = _Picker(draw, ["path", "allow_nonfinite"])
    bad = pick.bad
    kind = pick("path", [("same", None), ("legacy", None), ("nan", None), ("relu", "path"), ("logits", "path"),
                        ("shape", "path"), ("float32", "path"), ("npy", "path"), ("garbage", "path"),
                        ("missing", "path"), (3, "path"), (None, "path"), ("", "path")])
    allow = pick("allow_nonfinite", [(False, None), (True, None), (1, "allow_nonfinite"), ("yes", "allow_nonfinite")])
    if kind == "nan" and allow is not True:
        bad.add("path")
    return kind, allow, bad


# -- arbitrary values for any argument, and the property every entry point keeps -----------
_DTYPES = [np.bool_, np.int8, np.int64, np.uint8, np.float16, np.float32, np.float64, np.longdouble,
           np.complex64, np.complex128]
ARRAYS = st.one_of(
    hnp.arrays(st.sampled_from(_DTYPES).map(np.dtype), hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)),
    st.sampled_from([np.array([[0.5, 0.25]], dtype=object), np.array([1, "a", None], dtype=object)]))
ANYTHING: st.SearchStrategy[object] = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 6), st.sampled_from([2**63, -(2**70), 10**400]),
    st.floats(allow_nan=True, allow_infinity=True, width=64), st.complex_numbers(max_magnitude=4),
    st.text(max_size=4), st.binary(max_size=3), st.lists(st.floats(-2, 2), max_size=3),
    st.lists(st.lists(st.floats(-2, 2), min_size=2, max_size=2), min_size=1, max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(0, 3), max_size=2), st.just(object()), ARRAYS,
    st.sampled_from(["mean", "sum", "float32", "raise", "xor", "relu", "blas", "default", "lab"]),
)
"""Arbitrary values: some valid for some arguments (a property only asks for a clean answer)."""
EDGES: st.SearchStrategy[object] = st.sampled_from(
    [0, -1, 1, 2, True, False, 0.5, -0.5, math.nan, math.inf, 1e300, "", "x", None, (), [], (2,), (0, 2)])
"""Values at the edge of most arguments' ranges, drawn often: a check that is missing lets one of
them through, and the call that uses it then fails (or a property's follow-up call does)."""

_NAME = re.compile(r"^([A-Za-z_]+)(\[\d*\])?(\.[A-Za-z_]+)?(\[\d*\])?: ")


def replace_some(data: st.DataObject, valid: Mapping[str, object],
                 values: st.SearchStrategy[object] | None = None) -> tuple[dict[str, object], set[str]]:
    """``valid`` with one to three arguments replaced by arbitrary ``values`` (default: half
    :data:`EDGES`, half :data:`ANYTHING`), and their names."""
    values = st.one_of(EDGES, ANYTHING) if values is None else values
    names = data.draw(st.sets(st.sampled_from(sorted(valid)), min_size=1, max_size=min(3, len(valid))))
    kwargs = dict(valid)
    for name in sorted(names):
        kwargs[name] = data.draw(values, label=name)
    return kwargs, set(names)


def succeeds_or_names(call: Callable[[], object], replaced: set[str]) -> bool:
    """Whether ``call`` succeeded; a refusal must be a ``ValueError``/``TypeError`` whose
    message starts with a replaced argument's name (``hidden[1]: ``, ``setup.x: `` name
    ``hidden`` and ``setup``)."""
    try:
        call()
    except (ValueError, TypeError) as exc:
        match = _NAME.match(str(exc))
        assert match, f"message does not start with an argument name: {exc!r}"
        assert match.group(1) in replaced, (str(exc), replaced)
        return False
    return True


def param_bits(net: Network) -> bytes:
    """Every parameter's bytes, in order: equal before and after means unchanged."""
    return b"".join(np.ascontiguousarray(v).tobytes() for v in net.get_params().values())


def file_tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(autouse=True, scope="module")
def scratch_cwd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Work in a scratch folder: arbitrary text drawn as a path never lands in the checkout
    (a module uses it by binding it to a name of its own)."""
    before = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(before)
