"""Weight files: the header records the architecture; load refuses what does not fit, all or nothing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from refnet import load, mlp, save
from refnet.io import FORMAT, FORMAT_V1, LegacyFileWarning, architecture
from refnet.network import Network


def _same(a: Network, b: dict[str, np.ndarray]) -> bool:
    return all(v.dtype == b[k].dtype and v.tobytes() == b[k].tobytes() for k, v in a.get_params().items())


def _header(path: Path) -> dict[str, object]:
    with np.load(path) as data:
        doc = json.loads(data["__refnet__"].tobytes().decode())
    assert isinstance(doc, dict)
    return doc


def _rewrite(path: Path, header: dict[str, object], **arrays: np.ndarray) -> None:
    """Rewrite ``path`` with another header (and optionally replaced arrays), as another refnet might."""
    with np.load(path) as data:
        files = {k: np.array(data[k]) for k in data.files if k != "__refnet__"}
    files.update(arrays)
    files["__refnet__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **files)  # type: ignore[arg-type]


def test_header_records_the_architecture(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    save(mlp(activation="relu", loss="bce", bias=[True, False, True], sigmoid="naive", seed=1), path)
    header = _header(path)
    assert header["format"] == FORMAT and header["dtype"] == "float64"
    arch = header["architecture"]
    assert isinstance(arch, dict)
    assert arch["loss"] == {"name": "bce", "reduction": "mean", "delta": 1e-7}
    assert arch["layers"] == [
        {"kind": "Linear", "name": "linear_1", "bias": True}, {"kind": "ReLU", "name": "relu_1", "formula": "max"},
        {"kind": "Linear", "name": "linear_2", "bias": False}, {"kind": "ReLU", "name": "relu_2", "formula": "max"},
        {"kind": "Linear", "name": "output", "bias": True},
        {"kind": "Sigmoid", "name": "sigmoid_3", "formula": "naive"},
    ]


@pytest.mark.parametrize("other,what", [
    ({"activation": "relu"}, "layer 1"),                   # same shapes, ReLU instead of sigmoid
    ({"loss": "bce-logits"}, "layers"),                    # output sigmoid fused into the loss
    ({"loss": "bce"}, "loss"),                             # same layers, another loss
    ({"sigmoid": "naive"}, "formula"),                     # same layers, the lab's sigmoid
    ({"loss": "bce", "bce_delta": 0.0}, "delta"),
])
def test_a_file_from_another_architecture_is_refused(tmp_path: Path, other: dict[str, object], what: str) -> None:
    path = tmp_path / "net.npz"
    save(mlp(seed=1, **other), path)  # type: ignore[arg-type]
    net = mlp(seed=3)
    before = net.get_params()
    with pytest.raises(ValueError, match=rf"^path: .*another architecture.*{what}"):
        load(net, path)
    assert _same(net, before)
    assert architecture(net) != architecture(mlp(seed=1, **other))  # type: ignore[arg-type]


def test_a_relu_formula_is_part_of_the_architecture(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    save(mlp(seed=1, activation="relu", relu="mask"), path)
    net = mlp(seed=3, activation="relu")
    with pytest.raises(ValueError, match=r"^path: .*another architecture.*formula"):
        load(net, path)
    again = mlp(seed=3, activation="relu", relu="mask")
    load(again, path)
    assert _same(again, mlp(seed=1, activation="relu", relu="mask").get_params())


def test_same_architecture_loads_bit_for_bit(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    src = mlp(activation="tanh", loss="bce-logits", dtype="float32", seed=[1, 2])
    save(src, path)
    dst = mlp(activation="tanh", loss="bce-logits", dtype="float32", seed=[5, 6])
    load(dst, path)
    assert _same(dst, src.get_params())


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_parameters_are_refused_unless_asked_for(tmp_path: Path, bad: float) -> None:
    path = tmp_path / "net.npz"
    src = mlp(seed=1)
    w = src.get_params()["linear_2.W"]
    w[0, 1, 2] = bad
    src.set_params({"linear_2.W": w})
    save(src, path)  # a diverged network may be saved for inspection
    net = mlp(seed=3)
    before = net.get_params()
    with pytest.raises(ValueError, match=r"^path: .*NaN or infinite.*linear_2\.W \(1\).*allow_nonfinite"):
        load(net, path)
    assert _same(net, before)
    load(net, path, allow_nonfinite=True)
    assert _same(net, src.get_params())


def test_a_npy_file_and_other_non_npz_files_are_value_errors(tmp_path: Path) -> None:
    net = mlp(seed=3)
    before = net.get_params()
    npy = tmp_path / "w.npy"
    np.save(npy, np.zeros(36))
    with pytest.raises(ValueError, match=r"^path: .*not an \.npz file \(it is a \.npy array\)"):
        load(net, npy)
    text = tmp_path / "w.txt"
    text.write_text("weights", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^path: .*not an \.npz file"):
        load(net, text)
    with pytest.raises(ValueError, match=r"^path: .*cannot be read"):
        load(net, tmp_path / "missing.npz")
    with pytest.raises(ValueError, match=r"^path: .*cannot be read"):
        load(net, tmp_path)  # a folder
    other_zip = tmp_path / "other.npz"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("readme.txt", "not numpy")
    with pytest.raises(ValueError, match=r"^path: "):
        load(net, other_zip)
    assert _same(net, before)


def test_old_format_loads_when_shapes_match_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "old.npz"
    src = mlp(seed=1)
    save(src, path)
    header = _header(path)
    _rewrite(path, {"format": FORMAT_V1, "dtype": header["dtype"], "params": header["params"]})
    net = mlp(seed=3)
    with pytest.warns(LegacyFileWarning, match=r"^path: .*refnet-params/1.*not checked"):
        load(net, path)
    assert _same(net, src.get_params())
    # an old file whose shapes differ is still refused, without a warning
    save(mlp(2, (5, 4), 1, seed=1), path)
    header = _header(path)
    _rewrite(path, {"format": FORMAT_V1, "dtype": header["dtype"], "params": header["params"]})
    before = net.get_params()
    with pytest.raises(ValueError, match=r"^path: .*shape"):
        load(net, path)
    assert _same(net, before)


def test_old_format_with_warnings_as_errors_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "old.npz"
    save(mlp(seed=1), path)
    header = _header(path)
    _rewrite(path, {"format": FORMAT_V1, "dtype": header["dtype"], "params": header["params"]})
    net = mlp(seed=3)
    before = net.get_params()
    with pytest.raises(LegacyFileWarning):  # pytest runs with filterwarnings = error
        load(net, path)
    assert _same(net, before)


@pytest.mark.parametrize("header", [
    {"format": "refnet-params/99", "dtype": "float64"},
    {"format": FORMAT, "dtype": "float64", "architecture": "sigmoid, I promise"},
    {"format": FORMAT, "dtype": "float64"},  # the new format without its architecture
])
def test_unknown_or_incomplete_headers_are_refused(tmp_path: Path, header: dict[str, object]) -> None:
    path = tmp_path / "net.npz"
    save(mlp(seed=1), path)
    _rewrite(path, header)
    net = mlp(seed=3)
    before = net.get_params()
    with pytest.raises(ValueError, match=r"^path: "):
        load(net, path)
    assert _same(net, before)


def test_save_checks_its_path_and_network_before_writing(tmp_path: Path) -> None:
    net = mlp(seed=1)
    with pytest.raises(ValueError, match=r"^path: folder .* does not exist"):
        save(net, tmp_path / "missing" / "net.npz")
    with pytest.raises(ValueError, match=r"^path: .* is a directory"):
        save(net, tmp_path)
    with pytest.raises(TypeError, match=r"^path: "):
        save(net, 3)  # type: ignore[arg-type]  # would otherwise write to file descriptor 3
    with pytest.raises(TypeError, match=r"^net: "):
        save("net", tmp_path / "x.npz")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^net: "):
        load("net", tmp_path / "x.npz")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^allow_nonfinite: "):
        load(net, tmp_path / "x.npz", allow_nonfinite=1)  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_save_replaces_a_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    save(mlp(seed=1), path)
    save(mlp(seed=2), path)
    net = mlp(seed=3)
    load(net, path)
    assert _same(net, mlp(seed=2).get_params())
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]  # no temporary file left


@pytest.mark.parametrize("kwargs", [
    {"activation": "relu", "loss": "bce", "sigmoid": "naive"},
    {"activation": "tanh", "loss": "bce-logits", "dtype": "float32", "bias": [True, False, True]},
    {"hidden": (3,), "activation": "identity", "output_activation": "sigmoid"},
])
def test_read_network_rebuilds_the_saved_architecture(tmp_path: Path, kwargs: dict[str, object]) -> None:
    from refnet.io import architecture, read_network

    net = mlp(seed=[5], **kwargs)  # type: ignore[arg-type]
    path = tmp_path / "w.npz"
    save(net, path)
    again = read_network(path)
    assert architecture(again) == architecture(net)
    assert again.precision == net.precision
    assert again.get_flat().tobytes() == net.get_flat().tobytes()
    x = np.array([[0.1, 0.9], [0.7, 0.2]])
    assert again.predict(x).tobytes() == net.predict(x).tobytes()


def test_read_network_refuses_a_file_without_architecture(tmp_path: Path) -> None:
    from refnet.io import read_network

    path = tmp_path / "a.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match="^path: "):
        read_network(path)


def test_architecture_names_a_net_that_is_not_a_network() -> None:
    with pytest.raises(TypeError, match=r"^net: expected a Network, got NoneType$"):  # was an AttributeError
        architecture(None)  # type: ignore[arg-type]


def test_architecture_names_what_it_was_given() -> None:
    for given, kind in ((5, "int"), (None, "NoneType"), ("net", "str")):
        with pytest.raises(TypeError) as info:
            architecture(given)  # type: ignore[arg-type]
        assert str(info.value) == f"net: expected a Network, got {kind}"
