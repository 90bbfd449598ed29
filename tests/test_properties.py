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
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refnet
import refnet.cli as cli
from refnet import BCE, MSE, SGD, BCEWithLogits, Guard, Linear, accuracy, mlp, save
from refnet import sweep as sw
from refnet.data import dataset, linear, xor_easy
from refnet.gradcheck import layer_problems
from refnet.io import read_network
from refnet.layers import Identity, ReLU, Sigmoid, Tanh
from tests.strategies import ANYTHING, file_tree, param_bits, replace_some, scratch_cwd, succeeds_or_names

_in_a_scratch_folder = scratch_cwd  # arbitrary text drawn as a path lands in a scratch folder

X, Y = xor_easy()
EXAMPLES = settings(max_examples=30)

# -- building blocks -------------------------------------------------------------------
@EXAMPLES
@given(st.data())
def test_sgd(data: st.DataObject) -> None:
    kwargs, replaced = replace_some(data, {"lr": 0.5, "momentum": 0.0})
    succeeds_or_names(lambda: SGD(**kwargs), replaced)  # type: ignore[arg-type]


@EXAMPLES
@given(st.data(), st.sampled_from(["MSE", "BCE", "BCEWithLogits"]))
def test_losses(data: st.DataObject, kind: str) -> None:
    valid: dict[str, object] = {"reduction": "mean"}
    if kind == "BCE":
        valid["delta"] = 1e-7
    kwargs, replaced = replace_some(data, valid)
    cls = {"MSE": MSE, "BCE": BCE, "BCEWithLogits": BCEWithLogits}[kind]
    succeeds_or_names(lambda: cls(**kwargs), replaced)


@EXAMPLES
@given(st.data(), st.sampled_from(["Sigmoid", "ReLU", "Tanh", "Identity"]))
def test_activation_layers(data: st.DataObject, kind: str) -> None:
    valid: dict[str, object] = {"name": "act"}
    if kind == "Sigmoid":
        valid["formula"] = "stable"
    kwargs, replaced = replace_some(data, valid)
    cls = {"Sigmoid": Sigmoid, "ReLU": ReLU, "Tanh": Tanh, "Identity": Identity}[kind]
    succeeds_or_names(lambda: cls(**kwargs), replaced)


@EXAMPLES
@given(st.data())
def test_linear_layer(data: st.DataObject) -> None:
    kwargs, replaced = replace_some(data, {"weight": np.ones((1, 2, 3)), "bias": np.zeros((1, 1, 3)),
                                       "kernel_name": "blas", "name": "lin"})
    if "weight" in replaced:  # the bias is checked against the weight's shape and dtype
        replaced.add("bias")
    succeeds_or_names(lambda: Linear(**kwargs), replaced)  # type: ignore[arg-type]


@EXAMPLES
@given(st.data())
def test_guard(data: st.DataObject) -> None:
    net = mlp(seed=0)
    before = param_bits(net)
    kwargs, replaced = replace_some(data, {"net": net, "mode": "record", "levels": (0.5,),
                                       "watch": ("forward", "update"), "eager": False})
    succeeds_or_names(lambda: Guard(**kwargs), replaced)  # type: ignore[arg-type]
    assert param_bits(net) == before


@EXAMPLES
@given(st.data())
def test_accuracy(data: st.DataObject) -> None:
    kwargs, replaced = replace_some(data, {"p": np.full((1, 3, 1), 0.7), "t": [[1.0], [0.0], [1.0]]})
    if "p" in replaced:  # t is checked against p's shape: a p of another shape is reported as t's mismatch
        replaced.add("t")
    succeeds_or_names(lambda: accuracy(**kwargs), replaced)  # type: ignore[arg-type]


@EXAMPLES
@given(st.data())
def test_data_sets(data: st.DataObject) -> None:
    kwargs, replaced = replace_some(data, {"name": "linear", "n": 5, "rng": 0})
    succeeds_or_names(lambda: dataset(**kwargs), replaced)  # type: ignore[arg-type]
    kwargs, replaced = replace_some(data, {"n": 5, "rng": 0})
    succeeds_or_names(lambda: linear(**kwargs), replaced)  # type: ignore[arg-type]


# -- a network in use ------------------------------------------------------------------
@EXAMPLES
@given(st.data(), st.sampled_from(["predict", "predict_one", "as_input"]))
def test_network_inputs(data: st.DataObject, method: str) -> None:
    net = mlp(seed=0)
    before = param_bits(net)
    kwargs, replaced = replace_some(data, {"x": X})
    ok = succeeds_or_names(lambda: getattr(net, method)(**kwargs), replaced)
    assert param_bits(net) == before
    if ok:  # what was accepted is real numbers of the network's width
        assert np.asarray(net.as_input(kwargs["x"])).dtype == np.float64  # type: ignore[arg-type]


@EXAMPLES
@given(st.data())
def test_set_params(data: st.DataObject) -> None:
    net = mlp(seed=0)
    before = param_bits(net)
    value = data.draw(ANYTHING)
    name = data.draw(st.sampled_from(["output.W", "linear_1.b", "nope"]))
    try:
        net.set_params({name: value})  # type: ignore[dict-item]
    except (ValueError, TypeError, KeyError) as exc:
        assert str(exc).lstrip("'\"").startswith(f"{name}: ") or name == "nope", str(exc)
        assert param_bits(net) == before


# -- files -------------------------------------------------------------------------------
@EXAMPLES
@given(data=st.data())
def test_save(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("save")
    (folder / "old.npz").write_bytes(b"an old file")
    net = mlp(seed=0)
    before = param_bits(net)
    places = [folder / "w.npz", str(folder / "old.npz"), folder, folder / "missing" / "w.npz", "/proc/w.npz",
              "/dev/null", ""]
    valid = {"net": net, "path": folder / "w.npz"}
    kwargs, replaced = replace_some(data, valid)
    if "path" in replaced and data.draw(st.booleans(), label="a real place"):
        kwargs["path"] = data.draw(st.sampled_from(places), label="path")
    files = file_tree(folder)
    if succeeds_or_names(lambda: save(**kwargs), replaced):  # type: ignore[arg-type]
        again = mlp(seed=5)
        refnet.load(again, kwargs["path"])  # type: ignore[arg-type]
        assert param_bits(again) == before
    else:
        assert file_tree(folder) == files
    assert param_bits(net) == before


@EXAMPLES
@given(data=st.data())
def test_read_network(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("read")
    save(mlp(seed=0), folder / "w.npz")
    (folder / "junk.npz").write_bytes(b"PK\x03\x04junk")
    kwargs, replaced = replace_some(data, {"path": folder / "w.npz", "allow_nonfinite": False})
    if "path" in replaced and data.draw(st.booleans(), label="a real place"):
        kwargs["path"] = data.draw(st.sampled_from([folder / "junk.npz", folder, folder / "none.npz"]))
    files = file_tree(folder)
    succeeds_or_names(lambda: read_network(**kwargs), replaced)  # type: ignore[arg-type]
    assert file_tree(folder) == files


# -- gradient checks and sweeps -------------------------------------------------------------
@EXAMPLES
@given(st.data())
def test_layer_problems(data: st.DataObject) -> None:
    layer = mlp(seed=0).layers[0]
    params = {k: v.copy() for k, v in layer.params.items()}
    kwargs, replaced = replace_some(data, {"layer": layer, "x": np.full((1, 3, 2), 0.25), "dy": np.ones((1, 3, 4)),
                                       "component": None, "reference": None})
    succeeds_or_names(lambda: layer_problems(**kwargs), replaced)  # type: ignore[arg-type]
    assert all(np.array_equal(v, layer.params[k]) for k, v in params.items())


@settings(max_examples=20)
@given(st.data())
def test_sweep(data: st.DataObject) -> None:
    setup_kwargs, setup_replaced = replace_some(data, {"x": X, "y": Y, "epochs": 2, "hidden": (3,), "loss": "mse",
                                                   "batch_size": None, "momentum": 0.0, "bce_delta": 1e-7})
    member_kwargs, member_replaced = replace_some(data, {"seed": 0, "lr": 0.5, "dtype": "float64",
                                                     "convention": "default", "kernel": "blas", "init": None})
    call_kwargs, call_replaced = replace_some(data, {"chunk_size": None, "keep_every": 1, "stop_diverged": False,
                                                 "check_every": 1000, "checkpoints": ()})
    replaced = call_replaced | {"setup"} if setup_replaced else call_replaced
    if member_replaced:
        replaced |= {"members"}
    setup = sw.Setup(**setup_kwargs)  # type: ignore[arg-type]
    members = [sw.Member(0, 0.5), sw.Member(**member_kwargs)]  # type: ignore[arg-type]
    succeeds_or_names(lambda: sw.sweep(setup, members, workers=0, **call_kwargs), replaced)  # type: ignore[arg-type]


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
