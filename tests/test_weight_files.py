"""What a weight file must be before a single parameter is written: the promises of
``refnet.load`` and ``refnet.io.read_network`` that no other test holds.

Each test is written so that the plausible slip named in its docstring fails it
(issue 23's mutants): dropping the format-version check, dropping the per-array
dtype check, letting a zip or numpy error escape. Every refusal is a ``ValueError``
that starts with ``path:`` and names the file, and leaves the network bit for bit
as it was.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refnet import load, mlp, save
from refnet.io import FORMAT, FORMAT_V1, read_network
from refnet.layers import ReLU
from refnet.network import Network


def _bits(net: Network) -> bytes:
    return b"".join(v.tobytes() for v in net.get_params().values())


def _arrays(path: Path) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    with np.load(path) as data:
        arrays = {k: np.array(data[k]) for k in data.files}
    header = json.loads(arrays.pop("__refnet__").tobytes().decode())
    return header, arrays


def _write(path: Path, header: dict[str, object], arrays: dict[str, np.ndarray]) -> Path:
    payload = dict(arrays)
    payload["__refnet__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **payload)  # type: ignore[arg-type]
    return path


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "w.npz"
    save(mlp(seed=1), path)
    return path


def _refused(path: Path, match: str) -> None:
    """``load`` refuses ``path`` naming it and saying ``match``, the network untouched;
    ``read_network`` refuses it naming it (it may stop earlier, building the layers)."""
    net = mlp(seed=3)
    before = _bits(net)
    with pytest.raises(ValueError, match=rf"^path: '{path}'.*{match}"):
        load(net, path)
    assert _bits(net) == before
    with pytest.raises(ValueError, match=rf"^path: '{path}'"):
        read_network(path)


@pytest.mark.parametrize("fmt", ["refnet-params/9", "refnet-params/3", "refnet-params/", "", None, 2])
def test_an_unknown_format_version_is_refused(saved: Path, fmt: object) -> None:
    """Mutant: the format-version check removed (a ``refnet-params/9`` file then loads)."""
    header, arrays = _arrays(saved)
    header["format"] = fmt
    _refused(_write(saved, header, arrays), "format")


def test_both_known_formats_still_load(saved: Path) -> None:
    header, arrays = _arrays(saved)
    assert header["format"] == FORMAT
    net = mlp(seed=3)
    load(net, saved)
    assert _bits(net) == _bits(mlp(seed=1))
    legacy = {"format": FORMAT_V1, "dtype": header["dtype"], "params": header["params"]}
    with pytest.warns(UserWarning, match="old format"):
        load(mlp(seed=3), _write(saved, legacy, arrays))


@pytest.mark.parametrize("kind", ["float32", "longdouble", "int64", "float16"])
@pytest.mark.parametrize("which", ["linear_1.W", "output.W"])
def test_an_array_of_another_dtype_than_the_header_is_refused(saved: Path, kind: str, which: str) -> None:
    """Mutant: the per-array dtype check removed (a float32 array in a float64 file is then
    silently upcast by ``set_params``). The header still says float64."""
    header, arrays = _arrays(saved)
    assert header["dtype"] == "float64"
    arrays[which] = arrays[which].astype(kind)
    _refused(_write(saved, header, arrays), rf"{which} has dtype {np.dtype(kind).name}, network is float64")


def test_a_float32_file_into_a_float64_network_is_refused_by_its_header(tmp_path: Path) -> None:
    path = tmp_path / "w32.npz"
    save(mlp(seed=1, dtype="float32"), path)
    net = mlp(seed=3)
    before = _bits(net)
    with pytest.raises(ValueError, match=r"^path: .* holds float32 parameters, network is float64"):
        load(net, path)
    assert _bits(net) == before


def test_a_missing_array_is_named(saved: Path) -> None:
    header, arrays = _arrays(saved)
    del arrays["linear_2.b"]
    path = _write(saved, header, arrays)
    net = mlp(seed=3)
    with pytest.raises(ValueError, match=r"^path: .*missing \['linear_2.b'\]"):
        load(net, path)
    with pytest.raises(ValueError, match=r"^path: "):
        read_network(path)


def test_a_missing_header_and_a_broken_header(saved: Path) -> None:
    _, arrays = _arrays(saved)
    np.savez(saved, **arrays)  # type: ignore[arg-type]
    _refused(saved, "no refnet header")
    bad = dict(arrays)
    bad["__refnet__"] = np.frombuffer(b"{not json", dtype=np.uint8)
    np.savez(saved, **bad)  # type: ignore[arg-type]
    _refused(saved, "corrupt refnet header")


@pytest.mark.parametrize("cut", [10, 100, 1000, -22, -1])
def test_a_truncated_file_is_refused(saved: Path, cut: int) -> None:
    raw = saved.read_bytes()
    saved.write_bytes(raw[:cut])
    _refused(saved, "")


def test_a_damaged_member_is_refused(saved: Path) -> None:
    """A byte changed inside an array: the zip's CRC (BadZipFile) answers, as a ValueError naming the file."""
    raw = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as z:
        info = z.getinfo("linear_1.W.npy")
    raw[info.header_offset + 30 + len(info.filename) + info.file_size - 1] ^= 0xFF  # the array's last byte
    saved.write_bytes(bytes(raw))
    _refused(saved, "not a readable refnet .npz")


def test_a_compressed_member_with_a_damaged_stream(tmp_path: Path) -> None:
    """``np.savez_compressed`` files load; a damaged deflate stream (``zlib.error``) is a ValueError."""
    path = tmp_path / "c.npz"
    save(mlp(seed=1), tmp_path / "w.npz")
    header, arrays = _arrays(tmp_path / "w.npz")
    payload = dict(arrays)
    payload["__refnet__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez_compressed(path, **payload)  # type: ignore[arg-type]
    net = mlp(seed=3)
    load(net, path)
    assert _bits(net) == _bits(mlp(seed=1))
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("linear_1.W.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start, start + info.compress_size):
        raw[i] = 0xFF
    path.write_bytes(bytes(raw))
    _refused(path, "not a readable refnet .npz")


@settings(max_examples=60)
@given(st.data())
def test_any_damaged_file_loads_whole_or_is_refused_by_name(tmp_path_factory: pytest.TempPathFactory,
                                                           data: st.DataObject) -> None:
    """Flip, overwrite or cut bytes anywhere: ``load`` either loads the saved parameters
    exactly or raises a ValueError naming the file, never another exception, and a
    refused file leaves the network unchanged."""
    folder = tmp_path_factory.mktemp("damaged")
    path = folder / "w.npz"
    source = mlp(seed=1)
    save(source, path)
    raw = bytearray(path.read_bytes())
    how = data.draw(st.sampled_from(["flip", "set", "cut"]))
    at = data.draw(st.integers(0, len(raw) - 1))
    if how == "flip":
        raw[at] ^= 1 << data.draw(st.integers(0, 7))
    elif how == "set":
        raw[at] = data.draw(st.integers(0, 255))
    else:
        raw = raw[:at]
    path.write_bytes(bytes(raw))
    net = mlp(seed=3)
    before = _bits(net)
    try:
        load(net, path)
    except ValueError as exc:
        assert str(exc).startswith(f"path: '{path}'"), str(exc)
        assert _bits(net) == before
    else:
        assert _bits(net) == _bits(source)
    try:
        read_network(path)
    except ValueError as exc:
        assert str(exc).startswith(f"path: '{path}'"), str(exc)


# -- what read_network rebuilds, and the words of each refusal -------------------------------
def test_read_network_rebuilds_reduction_delta_and_formula(tmp_path: Path) -> None:
    from refnet.losses import BCE, MSE
    for loss, sigmoid in ((MSE("sum"), "stable"), (BCE("sum", delta=0.25), "naive"), (BCE("mean", delta=0.0), "stable")):
        base = mlp(seed=1, sigmoid=sigmoid)  # type: ignore[arg-type]
        net = Network(base.layers, loss, base.precision)
        save(net, tmp_path / "w.npz")
        again = read_network(tmp_path / "w.npz")
        assert again.loss.reduction == loss.reduction and type(again.loss) is type(loss)
        assert getattr(again.loss, "delta", None) == getattr(loss, "delta", None)
        assert [getattr(layer, "formula", None) for layer in again.layers] == \
               [getattr(layer, "formula", None) for layer in net.layers]
        assert _bits(again) == _bits(net)


@pytest.mark.parametrize("formula", ["max", "mask"])
def test_read_network_rebuilds_the_relu_formula(tmp_path: Path, formula: str) -> None:
    net = mlp(seed=1, activation="relu", relu=formula)  # type: ignore[arg-type]
    save(net, tmp_path / "w.npz")
    again = read_network(tmp_path / "w.npz")
    assert [type(layer).__name__ for layer in again.layers] == [type(layer).__name__ for layer in net.layers]
    assert [getattr(layer, "formula", None) for layer in again.layers] == \
           [getattr(layer, "formula", None) for layer in net.layers] and "ReLU" in repr(again.layers)
    x = np.array([[0.5, -0.25], [0.0, 0.0]])
    assert np.array_equal(again.predict(x), net.predict(x))


def test_a_relu_layer_saved_before_relu_had_a_formula_is_max(tmp_path: Path) -> None:
    """Files written before ReLU layers recorded a formula (the same format, refnet-params/2) hold
    the only ReLU there was, ``max``: they load into a ``max`` network, are rebuilt as one, and a
    ``mask`` network refuses them."""
    path = tmp_path / "w.npz"
    save(mlp(seed=1, activation="relu"), path)
    header, arrays = _arrays(path)
    for entry in cast(dict[str, Any], header["architecture"])["layers"]:
        if entry["kind"] == "ReLU":
            del entry["formula"]
    _write(path, header, arrays)
    net = mlp(seed=3, activation="relu")
    load(net, path)
    assert _bits(net) == _bits(mlp(seed=1, activation="relu"))
    assert [getattr(layer, "formula", None) for layer in read_network(path).layers if isinstance(layer, ReLU)] == \
           ["max", "max"]
    with pytest.raises(ValueError) as info:
        load(mlp(seed=3, activation="relu", relu="mask"), path)
    assert str(info.value) == (f"path: '{path}' was saved from another architecture: layer 1: file ReLU 'relu_1' "
                               "(formula=max), network ReLU 'relu_1' (formula=mask); layer 3: file ReLU 'relu_2' "
                               "(formula=max), network ReLU 'relu_2' (formula=mask)")


def test_read_network_refuses_nonfinite_parameters_unless_asked(tmp_path: Path) -> None:
    net = mlp(seed=1)
    net.set_params({"output.W": np.full((1, 4, 1), np.nan)})
    save(net, tmp_path / "nan.npz")
    with pytest.raises(ValueError, match=r"^path: .* holds NaN or infinite parameters: output.W \(4\)"):
        read_network(tmp_path / "nan.npz")
    again = read_network(tmp_path / "nan.npz", allow_nonfinite=True)
    assert np.isnan(again.get_params()["output.W"]).all()


@pytest.mark.parametrize("edit, words", [
    (lambda a: a["layers"].pop(), "the file has 5 layers, the network 6"),
    (lambda a: a.update(layers="all"), "the file records no layer list"),
    (lambda a: a["layers"][1].update(kind="ReLU", name="relu_1"),
     "layer 1: file ReLU 'relu_1' (formula=stable), network Sigmoid 'sigmoid_1' (formula=stable)"),
    (lambda a: a["layers"].__setitem__(0, "Linear"), "layer 0: file 'Linear', network Linear 'linear_1' (bias=True)"),
    (lambda a: a["layers"].__setitem__(1, {"kind": "Tanh", "name": "tanh_1"}),
     "layer 1: file Tanh 'tanh_1', network Sigmoid 'sigmoid_1' (formula=stable)"),
    (lambda a: a["layers"][0].update(formula="odd"),
     "layer 0: file Linear 'linear_1' (bias=True, formula=odd), network Linear 'linear_1' (bias=True)"),
    (lambda a: a["loss"].update(reduction="sum"),
     "loss: file {'name': 'mse', 'reduction': 'sum'}, network {'name': 'mse', 'reduction': 'mean'}"),
])
def test_an_architecture_difference_is_said_in_words(saved: Path, edit: Callable[[dict[str, Any]], object],
                                                     words: str) -> None:
    header, arrays = _arrays(saved)
    arch = cast(dict[str, Any], header["architecture"])
    edit(arch)
    path = _write(saved, header, arrays)
    with pytest.raises(ValueError) as info:
        load(mlp(seed=3), path)
    assert str(info.value) == f"path: '{path}' was saved from another architecture: {words}"


def test_an_architecture_record_that_is_not_a_mapping(saved: Path) -> None:
    header, arrays = _arrays(saved)
    header["architecture"] = ["layers"]
    path = _write(saved, header, arrays)
    with pytest.raises(ValueError) as info:
        load(mlp(seed=3), path)
    assert str(info.value).endswith("the file's architecture record is ['layers'], not a mapping")


def test_the_words_for_files_that_are_not_npz(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", np.zeros(3))
    (tmp_path / "t.npz").write_bytes(b"hello")
    for name, words in (("w.npy", "it is a .npy array"), ("t.npz", "not a zip archive")):
        with pytest.raises(ValueError) as info:
            load(mlp(seed=3), tmp_path / name)
        assert str(info.value) == f"path: '{tmp_path / name}' is not an .npz file ({words})"


@pytest.mark.parametrize("edit, words", [
    (lambda a: a["layers"][1].update(kind="Conv"), "unknown layer kind 'Conv'"),
    (lambda a: a["layers"][1].pop("formula"), "'formula'"),
    (lambda a: a["layers"][1].update(formula="fast"), "formula: unknown name 'fast'"),
    (lambda a: a["loss"].update(name="hinge"), "loss: unknown name 'hinge'"),
    (lambda a: a["loss"].update(name=["mse"]), "unhashable type"),
    (lambda a: a["loss"].update(reduction="max"), "reduction: unknown name 'max'"),
    (lambda a: a["loss"].update(name="bce"), "'delta'"),
    (lambda a: a["loss"].update(name="bce", delta="0.1"), "delta: expected a real number, got '0.1'"),
])
def test_read_network_names_what_it_cannot_build(saved: Path, edit: Callable[[dict[str, Any]], object],
                                                 words: str) -> None:
    header, arrays = _arrays(saved)
    edit(cast(dict[str, Any], header["architecture"]))
    path = _write(saved, header, arrays)
    with pytest.raises(ValueError) as info:
        read_network(path)
    assert str(info.value).startswith(f"path: '{path}' records an architecture refnet cannot build (")
    assert words in str(info.value)


def test_read_network_sends_an_old_file_to_load(saved: Path) -> None:
    header, arrays = _arrays(saved)
    path = _write(saved, {"format": FORMAT_V1, "dtype": header["dtype"], "params": header["params"]}, arrays)
    with pytest.raises(ValueError) as info:
        read_network(path)
    assert str(info.value) == (f"path: '{path}' has format 'refnet-params/1', which records no architecture; "
                               "build the network with mlp(...) and use load()")


class _Planted:
    """Unpickling this runs ``os.makedirs(marker)``: proof that a pickle in a weight file was executed."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os
        return os.makedirs, (self.marker,)


def test_a_pickle_in_a_weight_file_is_never_run(saved: Path, tmp_path: Path) -> None:
    header, arrays = _arrays(saved)
    marker = tmp_path / "pickle-ran"
    arrays["linear_1.W"] = np.array([_Planted(str(marker))], dtype=object)
    path = _write(saved, header, arrays)
    with pytest.raises(ValueError, match=r"^path: .* is not a readable refnet .npz file \(Object arrays cannot"):
        load(mlp(seed=3), path)
    with pytest.raises(ValueError, match=r"^path: "):
        read_network(path)
    assert not marker.exists()


def _legacy_file(saved: Path) -> Path:
    header, arrays = _arrays(saved)
    return _write(saved, {"format": FORMAT_V1, "dtype": header["dtype"], "params": header["params"]}, arrays)


def _legacy_load(saved: Path) -> tuple[Path, list[warnings.WarningMessage]]:
    path = _legacy_file(saved)
    with pytest.warns(UserWarning) as caught:
        load(mlp(seed=3), path)
    assert len(caught) == 1
    return path, caught.list


@pytest.mark.skipif("MUTANT_UNDER_TEST" in os.environ, reason="mutmut's trampoline adds a frame outside refnet")
def test_the_legacy_warning_points_at_the_callers_line(saved: Path) -> None:
    path = _legacy_file(saved)
    with pytest.warns(UserWarning) as caught:
        line = sys._getframe().f_lineno + 1
        load(mlp(seed=3), path)
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]


def test_the_legacy_warning_says_what_was_not_checked(saved: Path) -> None:
    path, caught = _legacy_load(saved)
    assert str(caught[0].message) == (
        f"path: '{path}' has the old format refnet-params/1, which records no architecture; loaded by dtype, "
        "names and shapes only (layer kinds, activations, sigmoid formula, loss and bias layout were not "
        "checked); save it again to record them")


def test_nonfinite_and_architecture_words_in_full(tmp_path: Path) -> None:
    net = mlp(seed=1)
    net.set_params({"output.W": np.full((1, 4, 1), np.inf), "linear_1.b": np.array([[[np.nan, 0.0, 0.0, 0.0]]])})
    save(net, tmp_path / "w.npz")
    with pytest.raises(ValueError) as info:
        load(mlp(seed=3), tmp_path / "w.npz")
    assert str(info.value) == (f"path: '{tmp_path / 'w.npz'}' holds NaN or infinite parameters: linear_1.b (1), "
                               "output.W (4); pass allow_nonfinite=True to load them anyway")
    save(mlp(activation="relu", seed=1), tmp_path / "r.npz")
    with pytest.raises(ValueError) as info:
        load(mlp(seed=3), tmp_path / "r.npz")
    assert "; layer 3: file ReLU 'relu_2' (formula=max), network Sigmoid" in str(info.value)


def test_save_and_load_name_a_network_of_the_wrong_type(tmp_path: Path) -> None:
    with pytest.raises(TypeError) as info:
        save("net", tmp_path / "w.npz")  # type: ignore[arg-type]
    assert str(info.value) == "net: expected a Network, got str"
    with pytest.raises(TypeError) as info:
        load([1], tmp_path / "w.npz")  # type: ignore[arg-type]
    assert str(info.value) == "net: expected a Network, got list"


def test_save_writes_a_hidden_temporary_file_beside_the_target(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Beside it: the rename is then atomic (one file system); hidden and ``.tmp``: never taken for a result."""
    import os
    renamed: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        renamed.append((str(src), str(dst)))
        real_replace(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    save(mlp(seed=1), tmp_path / "w.npz")
    (src, dst), = renamed
    assert Path(src).parent == tmp_path and dst == str(tmp_path / "w.npz")
    assert Path(src).name.startswith(".w.npz.") and src.endswith(".tmp")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "w.npz").write_bytes(b"old")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(OSError, match="No space left"):
        save(mlp(seed=1), tmp_path / "w.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]
    assert (tmp_path / "w.npz").read_bytes() == b"old"


@pytest.mark.parametrize("record", [[1, 2], "refnet-params/2", 7, None])
def test_a_header_that_is_not_a_mapping_is_refused(saved: Path, record: object) -> None:
    _, arrays = _arrays(saved)
    payload = dict(arrays)
    payload["__refnet__"] = np.frombuffer(json.dumps(record).encode(), dtype=np.uint8)
    np.savez(saved, **payload)  # type: ignore[arg-type]
    with pytest.raises(ValueError) as info:
        load(mlp(seed=3), saved)
    assert str(info.value).startswith(f"path: '{saved}' has unsupported format {record!r}")
    with pytest.raises(ValueError) as info:
        read_network(saved)
    assert str(info.value).startswith(f"path: '{saved}' has format {record!r}, which records no architecture")
