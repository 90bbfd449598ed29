"""Input data: NaN, infinities, booleans and complex numbers are refused with the argument's name.

In the library (``train``'s ``x`` and ``y``, a network's ``predict``/``forward`` input,
``set_params``) and on the command line (``predict``'s CSV, whose NaN used to be printed
with exit 0). A valid-but-unusual input (float32 into a float64 network, integers,
Fortran order, strided or read-only views) is still accepted with identical bits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import refnet.cli as cli
from refnet import mlp, save, train
from refnet.data import xor_easy
from refnet.network import Network
from refnet.validation import real_array

X, Y = xor_easy()


def _bits(net: Network) -> bytes:
    return b"".join(v.tobytes() for v in net.get_params().values())


BAD_X = {
    "bool": (np.array([[True, False]] * 4), TypeError),
    "complex": (np.array([[1j, 0.0]] * 4), TypeError),
    "string": (np.array([["1", "0"]] * 4), TypeError),
    "object": (np.array([[1.0, None]] * 4, dtype=object), TypeError),
    "nan": (np.array([[np.nan, 0.0]] * 4), ValueError),
    "inf": (np.array([[0.0, -np.inf]] * 4), ValueError),
}


@pytest.mark.parametrize("kind", sorted(BAD_X))
def test_train_refuses_bad_x_by_name_and_changes_nothing(kind: str) -> None:
    x, exc = BAD_X[kind]
    net = mlp(seed=0)
    before = _bits(net)
    with pytest.raises(exc, match=r"^x: "):
        train(net, x, [[1.0]] * 4, lr=0.5, epochs=1)
    assert _bits(net) == before


@pytest.mark.parametrize("y, exc", [(np.ones((4, 1), dtype=bool), TypeError), (np.full((4, 1), 1 + 0j), TypeError),
                                    ([[np.nan]] * 4, ValueError), ([[np.inf]] * 4, ValueError)])
def test_train_refuses_bad_y_by_name(y: object, exc: type[Exception]) -> None:
    net = mlp(seed=0)
    before = _bits(net)
    with pytest.raises(exc, match=r"^y: "):
        train(net, [[0.0, 1.0]] * 4, y, lr=0.5, epochs=1)  # type: ignore[arg-type]
    assert _bits(net) == before


@pytest.mark.parametrize("kind", ["bool", "complex", "string", "object"])
def test_predict_and_set_params_refuse_non_real_values(kind: str) -> None:
    net = mlp(seed=0)
    before = _bits(net)
    with pytest.raises(TypeError, match=r"^x: "):
        net.predict(BAD_X[kind][0])
    with pytest.raises(TypeError, match=r"^x: "):
        net.predict_one(BAD_X[kind][0])
    with pytest.raises(TypeError, match=r"^output\.W: "):
        net.set_params({"output.W": np.ones((1, 4, 1), dtype=bool)})
    assert _bits(net) == before


def test_unusual_but_valid_inputs_give_identical_bits() -> None:
    x = np.asarray(X, dtype=np.float64)
    reference = mlp(seed=0).predict(x)
    x32 = x.astype(np.float32)
    assert mlp(seed=0).predict(x32).tobytes() == mlp(seed=0).predict(x32.astype(np.float64)).tobytes()
    views = {"fortran": np.asfortranarray(x),
             "strided": np.repeat(x, 2, axis=0)[::2], "list": x.tolist()}
    readonly = x.copy()
    readonly.flags.writeable = False
    views["read-only"] = readonly
    for name, value in views.items():
        assert mlp(seed=0).predict(value).tobytes() == reference.tobytes(), name
    ints = np.array([[0, 1], [1, 0]])
    assert mlp(seed=0).predict(ints).tobytes() == mlp(seed=0).predict(ints.astype(float)).tobytes()


def test_real_array_finite_names_the_first_bad_index() -> None:
    with pytest.raises(ValueError, match=r"^points: expected finite numbers, got nan at index \(1, 0\) \(2 non-finite"):
        real_array("points", [[0.0, 1.0], [np.nan, np.inf]], finite=True)
    assert real_array("points", [[1, 2]], finite=True).dtype.kind == "i"
    with pytest.raises(TypeError, match=r"^points: expected real numbers, got dtype bool"):
        real_array("points", [True], finite=True)
    assert real_array("mask", [True], bools=True).dtype == bool


# -- the command line -------------------------------------------------------------
@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "w.npz"
    net = mlp(seed=0)
    train(net, X, Y, lr=1.0, epochs=50)
    save(net, path)
    return path


@pytest.mark.parametrize("text, what", [("0.5,nan\n", "nan"), ("inf,0\n", "inf"), ("0,1\n-inf,1\n", "-inf"),
                                        ("NaN,1\n", "nan")])
def test_predict_refuses_a_csv_holding_nan_or_inf(weights: Path, tmp_path: Path, text: str, what: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    points = tmp_path / "p.csv"
    points.write_text(text)
    assert cli.main(["predict", "--weights", str(weights), str(points)]) == cli.EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""  # nothing printed, least of all a nan
    assert f"error: points: expected finite numbers, got {what}" in err and str(points) in err
    assert "Traceback" not in err


@pytest.mark.parametrize("text", ["True,False\n", "1j,0\n", "a,b\n"])
def test_predict_refuses_text_that_is_not_real_numbers(weights: Path, tmp_path: Path, text: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    points = tmp_path / "p.csv"
    points.write_text(text)
    assert cli.main(["predict", "--weights", str(weights), str(points)]) == cli.EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == "" and "error: points: " in err


def test_predict_never_prints_a_nonfinite_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Finite weights, finite points, and still an overflow: exit 1, nothing printed."""
    net = mlp(2, [2], 1, activation="identity", output_activation="identity", seed=0)
    net.set_params({name: np.full_like(v, 1e300 if name.endswith(".W") else 0.0)
                    for name, v in net.get_params().items()})
    path = tmp_path / "big.npz"
    save(net, path)
    points = tmp_path / "p.csv"
    points.write_text("0,0\n1e300,1e300\n")
    assert cli.main(["predict", "--weights", str(path), str(points)]) == cli.EXIT_NONFINITE
    out, err = capsys.readouterr()
    assert out == ""
    assert "error: the network's output is NaN or infinite for 1 point" in err and "data row 2" in err


def test_predict_prints_finite_points(weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    points = tmp_path / "p.csv"
    points.write_text("# x1,x2\n0,1\n1,1\n")
    assert cli.main(["predict", "--weights", str(weights), str(points)]) == cli.EXIT_OK
    lines = capsys.readouterr().out.split()
    assert len(lines) == 2 and all(0.0 <= float(v) <= 1.0 for v in lines)
