"""One hypothesis property per public entry point: arbitrary wrong types, shapes and values.

Each example replaces a few arguments of a valid call by arbitrary values (``None``,
booleans, integers, NaN and infinities, complex numbers, strings, bytes, lists, dicts,
NumPy arrays of any dtype and a small shape). The call then either succeeds or raises
``ValueError``/``TypeError`` whose message starts with the name of one of the replaced
arguments (``setup.x``, ``members[2].lr`` and ``hidden[1]`` name ``setup``, ``members`` and
``hidden``); every network passed in and every file in reach is unchanged after a refusal.
``mlp``, ``train`` and ``load`` have their own properties in ``tests/test_validation.py``.
Examples are few (``max_examples`` 30) and the calls tiny, to keep the suite fast.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import refnet
import refnet.cli as cli
from refnet import BCE, MSE, SGD, BCEWithLogits, Guard, Linear, accuracy, mlp, save
from refnet import sweep as sw
from refnet.data import dataset, linear, xor_easy
from refnet.gradcheck import layer_problems
from refnet.io import read_network
from refnet.layers import Identity, ReLU, Sigmoid, Tanh
from refnet.network import Network

X, Y = xor_easy()
EXAMPLES = settings(max_examples=30)

_DTYPES = [np.bool_, np.int8, np.int64, np.uint8, np.float16, np.float32, np.float64, np.longdouble,
           np.complex64, np.complex128]
ARRAYS = hnp.arrays(st.sampled_from(_DTYPES).map(np.dtype), hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
ANYTHING: st.SearchStrategy[object] = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 6), st.sampled_from([2**63, -(2**70), 10**400]),
    st.floats(allow_nan=True, allow_infinity=True, width=64), st.complex_numbers(max_magnitude=4),
    st.text(max_size=4), st.binary(max_size=3), st.lists(st.floats(-2, 2), max_size=3),
    st.lists(st.lists(st.floats(-2, 2), min_size=2, max_size=2), min_size=1, max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(0, 3), max_size=2), st.just(object()), ARRAYS,
    st.sampled_from(["mean", "sum", "float32", "raise", "xor", "relu", "blas", "default", "lab"]),
)
"""Arbitrary values: some valid for some arguments (a property only asks for a clean answer)."""

_NAME = re.compile(r"^([A-Za-z_]+)(\[\d*\])?(\.[A-Za-z_]+)?(\[\d*\])?: ")


def _bits(net: Network) -> bytes:
    return b"".join(np.ascontiguousarray(v).tobytes() for v in net.get_params().values())


@pytest.fixture(autouse=True, scope="module")
def _in_a_scratch_folder(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Arbitrary text drawn as a path names a file in a scratch folder, never in the checkout."""
    before = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(before)


def _replace(data: st.DataObject, valid: Mapping[str, object]) -> tuple[dict[str, object], set[str]]:
    """``valid`` with one to three arguments replaced by arbitrary values, and their names."""
    names = data.draw(st.sets(st.sampled_from(sorted(valid)), min_size=1, max_size=min(3, len(valid))))
    kwargs = dict(valid)
    for name in sorted(names):
        kwargs[name] = data.draw(ANYTHING, label=name)
    return kwargs, set(names)


def _succeeds_or_names(call: Callable[[], object], replaced: set[str]) -> bool:
    """Whether ``call`` succeeded; a refusal must name a replaced argument."""
    try:
        call()
    except (ValueError, TypeError) as exc:
        match = _NAME.match(str(exc))
        assert match, f"message does not start with an argument name: {exc!r}"
        assert match.group(1) in replaced, (str(exc), replaced)
        return False
    return True


# -- building blocks -------------------------------------------------------------------
@EXAMPLES
@given(st.data())
def test_sgd(data: st.DataObject) -> None:
    kwargs, replaced = _replace(data, {"lr": 0.5, "momentum": 0.0})
    _succeeds_or_names(lambda: SGD(**kwargs), replaced)  # type: ignore[arg-type]


@EXAMPLES
@given(st.data(), st.sampled_from(["MSE", "BCE", "BCEWithLogits"]))
def test_losses(data: st.DataObject, kind: str) -> None:
    valid: dict[str, object] = {"reduction": "mean"}
    if kind == "BCE":
        valid["delta"] = 1e-7
    kwargs, replaced = _replace(data, valid)
    cls = {"MSE": MSE, "BCE": BCE, "BCEWithLogits": BCEWithLogits}[kind]
    _succeeds_or_names(lambda: cls(**kwargs), replaced)


@EXAMPLES
@given(st.data(), st.sampled_from(["Sigmoid", "ReLU", "Tanh", "Identity"]))
def test_activation_layers(data: st.DataObject, kind: str) -> None:
    valid: dict[str, object] = {"name": "act"}
    if kind == "Sigmoid":
        valid["formula"] = "stable"
    kwargs, replaced = _replace(data, valid)
    cls = {"Sigmoid": Sigmoid, "ReLU": ReLU, "Tanh": Tanh, "Identity": Identity}[kind]
    _succeeds_or_names(lambda: cls(**kwargs), replaced)


@EXAMPLES
@given(st.data())
def test_linear_layer(data: st.DataObject) -> None:
    kwargs, replaced = _replace(data, {"weight": np.ones((1, 2, 3)), "bias": np.zeros((1, 1, 3)),
                                       "kernel_name": "blas", "name": "lin"})
    if "weight" in replaced:  # the bias is checked against the weight's shape and dtype
        replaced.add("bias")
    _succeeds_or_names(lambda: Linear(**kwargs), replaced)  # type: ignore[arg-type]


@EXAMPLES
@given(st.data())
def test_guard(data: st.DataObject) -> None:
    net = mlp(seed=0)
    before = _bits(net)
    kwargs, replaced = _replace(data, {"net": net, "mode": "record", "levels": (0.5,),
                                       "watch": ("forward", "update"), "eager": False})
    _succeeds_or_names(lambda: Guard(**kwargs), replaced)  # type: ignore[arg-type]
    assert _bits(net) == before


@EXAMPLES
@given(st.data())
def test_accuracy(data: st.DataObject) -> None:
    kwargs, replaced = _replace(data, {"p": np.full((1, 3, 1), 0.7), "t": [[1.0], [0.0], [1.0]]})
    if "p" in replaced:  # t is checked against p's shape: a p of another shape is reported as t's mismatch
        replaced.add("t")
    _succeeds_or_names(lambda: accuracy(**kwargs), replaced)  # type: ignore[arg-type]


@EXAMPLES
@given(st.data())
def test_data_sets(data: st.DataObject) -> None:
    kwargs, replaced = _replace(data, {"name": "linear", "n": 5, "rng": 0})
    _succeeds_or_names(lambda: dataset(**kwargs), replaced)  # type: ignore[arg-type]
    kwargs, replaced = _replace(data, {"n": 5, "rng": 0})
    _succeeds_or_names(lambda: linear(**kwargs), replaced)  # type: ignore[arg-type]


# -- a network in use ------------------------------------------------------------------
@EXAMPLES
@given(st.data(), st.sampled_from(["predict", "predict_one", "as_input"]))
def test_network_inputs(data: st.DataObject, method: str) -> None:
    net = mlp(seed=0)
    before = _bits(net)
    kwargs, replaced = _replace(data, {"x": X})
    ok = _succeeds_or_names(lambda: getattr(net, method)(**kwargs), replaced)
    assert _bits(net) == before
    if ok:  # what was accepted is real numbers of the network's width
        assert np.asarray(net.as_input(kwargs["x"])).dtype == np.float64  # type: ignore[arg-type]


@EXAMPLES
@given(st.data())
def test_set_params(data: st.DataObject) -> None:
    net = mlp(seed=0)
    before = _bits(net)
    value = data.draw(ANYTHING)
    name = data.draw(st.sampled_from(["output.W", "linear_1.b", "nope"]))
    try:
        net.set_params({name: value})  # type: ignore[dict-item]
    except (ValueError, TypeError, KeyError) as exc:
        assert str(exc).lstrip("'\"").startswith(f"{name}: ") or name == "nope", str(exc)
        assert _bits(net) == before


# -- files -------------------------------------------------------------------------------
def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@EXAMPLES
@given(data=st.data())
def test_save(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("save")
    (folder / "old.npz").write_bytes(b"an old file")
    net = mlp(seed=0)
    before = _bits(net)
    places = [folder / "w.npz", str(folder / "old.npz"), folder, folder / "missing" / "w.npz", "/proc/w.npz",
              "/dev/null", ""]
    valid = {"net": net, "path": folder / "w.npz"}
    kwargs, replaced = _replace(data, valid)
    if "path" in replaced and data.draw(st.booleans(), label="a real place"):
        kwargs["path"] = data.draw(st.sampled_from(places), label="path")
    files = _tree(folder)
    if _succeeds_or_names(lambda: save(**kwargs), replaced):  # type: ignore[arg-type]
        again = mlp(seed=5)
        refnet.load(again, kwargs["path"])  # type: ignore[arg-type]
        assert _bits(again) == before
    else:
        assert _tree(folder) == files
    assert _bits(net) == before


@EXAMPLES
@given(data=st.data())
def test_read_network(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("read")
    save(mlp(seed=0), folder / "w.npz")
    (folder / "junk.npz").write_bytes(b"PK\x03\x04junk")
    kwargs, replaced = _replace(data, {"path": folder / "w.npz", "allow_nonfinite": False})
    if "path" in replaced and data.draw(st.booleans(), label="a real place"):
        kwargs["path"] = data.draw(st.sampled_from([folder / "junk.npz", folder, folder / "none.npz"]))
    files = _tree(folder)
    _succeeds_or_names(lambda: read_network(**kwargs), replaced)  # type: ignore[arg-type]
    assert _tree(folder) == files


# -- gradient checks and sweeps -------------------------------------------------------------
@EXAMPLES
@given(st.data())
def test_layer_problems(data: st.DataObject) -> None:
    layer = mlp(seed=0).layers[0]
    params = {k: v.copy() for k, v in layer.params.items()}
    kwargs, replaced = _replace(data, {"layer": layer, "x": np.full((1, 3, 2), 0.25), "dy": np.ones((1, 3, 4)),
                                       "component": None, "reference": None})
    _succeeds_or_names(lambda: layer_problems(**kwargs), replaced)  # type: ignore[arg-type]
    assert all(np.array_equal(v, layer.params[k]) for k, v in params.items())


@settings(max_examples=20)
@given(st.data())
def test_sweep(data: st.DataObject) -> None:
    setup_kwargs, setup_replaced = _replace(data, {"x": X, "y": Y, "epochs": 2, "hidden": (3,), "loss": "mse",
                                                   "batch_size": None, "momentum": 0.0, "bce_delta": 1e-7})
    member_kwargs, member_replaced = _replace(data, {"seed": 0, "lr": 0.5, "dtype": "float64",
                                                     "convention": "default", "kernel": "blas", "init": None})
    call_kwargs, call_replaced = _replace(data, {"chunk_size": None, "keep_every": 1, "stop_diverged": False,
                                                 "check_every": 1000, "checkpoints": ()})
    replaced = call_replaced | {"setup"} if setup_replaced else call_replaced
    if member_replaced:
        replaced |= {"members"}
    setup = sw.Setup(**setup_kwargs)  # type: ignore[arg-type]
    members = [sw.Member(0, 0.5), sw.Member(**member_kwargs)]  # type: ignore[arg-type]
    _succeeds_or_names(lambda: sw.sweep(setup, members, workers=0, **call_kwargs), replaced)  # type: ignore[arg-type]


# -- the command line -------------------------------------------------------------------------
_FLAG_VALUES: dict[str, list[str]] = {
    "--epochs": ["0", "3", "-1", "x", "2.5", ""], "--lr": ["0.5", "0", "-1", "nan", "inf", "1e-50", "abc"],
    "--hidden": ["3", "0", "a"], "--momentum": ["0", "0.5", "1", "nan"], "--dtype": ["float32", "float16"],
    "--seed": ["0", "-1", "1.5"], "--batch-size": ["5", "0"], "--guard": ["off", "raise", "maybe"],
    "--convention": ["default", "lab-sum", "torch", "lab[batch=x]"], "--data": ["xor", "linear", "circles"],
    "--n": ["10", "0"], "--save": ["/proc/w.npz", "{tmp}/w.npz", "{tmp}", "{tmp}/no/w.npz"],
    "--activation": ["relu", "swish"], "--loss": ["bce", "hinge"], "--init": ["he", "lecun"],
}


def _main(argv: list[str]) -> tuple[int, str, str]:
    """``python -m refnet`` in this process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=30)
@given(data=st.data())
def test_cli_train(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    """Any combination of flags: exit 0, 1 (non-finite) or 2 with an ``error:`` line, never a
    traceback; a refused command leaves no file behind."""
    tmp = tmp_path_factory.mktemp("cli")
    flags = data.draw(st.lists(st.sampled_from(sorted(_FLAG_VALUES)), max_size=4, unique=True))
    argv = ["train", "--quiet", "--epochs", "3"]
    for flag in flags:
        argv += [flag, data.draw(st.sampled_from(_FLAG_VALUES[flag]), label=flag).format(tmp=tmp)]
    code, out, err = _main(argv)
    assert code in (cli.EXIT_OK, cli.EXIT_NONFINITE, cli.EXIT_USAGE), (argv, code)
    assert "Traceback" not in err
    if code == cli.EXIT_USAGE:
        assert "error: " in err and out == ""
        assert list(tmp.iterdir()) == []
    if code == cli.EXIT_OK:
        assert "nan" not in out.split("final loss:")[-1].split("\n")[0]


@settings(max_examples=20)
@given(data=st.data())
def test_cli_predict(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    tmp = tmp_path_factory.mktemp("predict")
    save(mlp(seed=0), tmp / "w.npz")
    cells = data.draw(st.lists(st.lists(st.sampled_from(["0", "1", "0.5", "-2", "nan", "inf", "", "x", "1e400",
                                                         "True", "1j"]), min_size=1, max_size=3),
                               min_size=0, max_size=3))
    (tmp / "p.csv").write_text("".join(",".join(row) + "\n" for row in cells))
    code, out, err = _main(["predict", "--weights", str(tmp / "w.npz"), str(tmp / "p.csv")])
    assert "Traceback" not in err
    if code == cli.EXIT_OK:
        values = [float(v) for v in out.split()]
        assert values and all(np.isfinite(values))
    else:
        assert code == cli.EXIT_USAGE and out == "" and "error: points: " in err
