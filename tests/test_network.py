"""Network: a tiny case by hand, dtype kept end to end, parameters by name and flat, save/load."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from refnet import load, mlp, save
from refnet.observe import Site
from refnet.conventions import resolve
from refnet.optim import SGD
from refnet.precision import FloatArray, precision
from refnet.train import prepare_data, step
from tests.tolerances import ALL_DTYPES, DTYPES


class DTypeProbe:
    """Records the dtype of every array the network produces."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, np.dtype]] = []

    def at(self, epoch: int, step: int, batch: slice) -> None:
        pass

    def observe(self, site: Site, array: FloatArray, inputs: Sequence[FloatArray]) -> None:
        self.seen.append((site.phase, site.role, array.dtype))


def test_tiny_network_by_hand() -> None:
    # 1-1-1 network: x = 1, W1 = 0.5, b1 = 0, sigmoid, W2 = 2 (no bias), sigmoid, MSE, t = 1.
    net = mlp(1, (1,), 1, seed=0)
    net.set_params({"linear_1.W": [[[0.5]]], "linear_1.b": [[[0.0]]], "output.W": [[[2.0]]]})
    h = 1 / (1 + math.exp(-0.5))          # 0.6224593...
    y = 1 / (1 + math.exp(-2 * h))        # 0.7756...
    dy = 2 * (y - 1)                      # dL/dy, N = 1
    dz2 = dy * y * (1 - y)                # through the output sigmoid
    dW2 = h * dz2
    dh = dz2 * 2.0
    dz1 = dh * h * (1 - h)
    x, t = prepare_data(net, [[1.0]], [[1.0]])
    loss, grads = net.gradients(x, t)
    assert loss[0] == pytest.approx((y - 1) ** 2, rel=1e-15)
    assert grads[2]["W"][0, 0, 0] == pytest.approx(dW2, rel=1e-14)
    assert grads[0]["W"][0, 0, 0] == pytest.approx(dz1 * 1.0, rel=1e-14)
    assert grads[0]["b"][0, 0, 0] == pytest.approx(dz1, rel=1e-14)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("activation,loss", [("sigmoid", "mse"), ("relu", "bce"), ("tanh", "bce-logits")])
@pytest.mark.parametrize("convention", ["default", "lab-evidence", "lab-sum"])
def test_every_array_keeps_the_network_dtype(dtype: str, activation: str, loss: str, convention: str) -> None:
    probe = DTypeProbe()
    reading = resolve(convention)
    net = mlp(activation=activation, loss=loss, dtype=dtype, seed=[1, 2], observer=probe,
              sigmoid=reading.sigmoid if reading else "stable")
    x, t = prepare_data(net, np.random.default_rng(0).uniform(size=(5, 2)), [[0], [1], [1], [0], [1]])
    assert x.dtype == t.dtype == precision(dtype).dtype
    opt = SGD(0.1)
    loss_value = step(net, opt, x, t, reading)
    assert loss_value.dtype == precision(dtype).dtype
    phases = {p for p, _, _ in probe.seen}
    assert phases == {"forward", "loss", "backward", "update"}
    assert all(d == precision(dtype).dtype for _, _, d in probe.seen), probe.seen
    assert all(p.dtype == precision(dtype).dtype for p in net.named_params().values())
    assert opt.rates_for(precision(dtype).dtype)[0].dtype == precision(dtype).dtype


def test_params_by_name_and_flat_round_trip() -> None:
    net = mlp(seed=[3, 4])
    names = list(net.named_params())
    assert names == ["linear_1.W", "linear_1.b", "linear_2.W", "linear_2.b", "output.W"]
    assert net.n_params == 2 * 4 + 4 + 4 * 4 + 4 + 4 == 36
    flat = net.get_flat()
    assert flat.shape == (2, 36)
    other = mlp(seed=[5, 6])
    other.set_flat(flat)
    assert all(np.array_equal(a, b) for a, b in zip(other.get_params().values(), net.get_params().values()))
    with pytest.raises(ValueError, match="flat"):
        other.set_flat(flat[:, :-1])


def test_set_params_is_all_or_nothing() -> None:
    net = mlp(seed=0)
    before = net.get_params()
    with pytest.raises(ValueError, match="output.W"):
        net.set_params({"linear_1.W": np.zeros((1, 2, 4)), "output.W": np.zeros((1, 3, 1))})
    with pytest.raises(KeyError, match="nope"):
        net.set_params({"nope": 1.0})
    assert all(np.array_equal(a, b) for a, b in zip(net.get_params().values(), before.values()))


def test_member_k_equals_the_network_built_alone() -> None:
    ens = mlp(seed=[7, 8, 9], init="xavier")
    for k, s in enumerate([7, 8, 9]):
        alone = mlp(seed=s, init="xavier")
        for name, v in alone.named_params().items():
            assert np.array_equal(ens.named_params()[name][k], v[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_save_load_round_trip(tmp_path: Path, dtype: str) -> None:
    net = mlp(dtype=dtype, seed=1)
    path = tmp_path / "net.npz"
    save(net, path)
    other = mlp(dtype=dtype, seed=2)
    load(other, path)
    assert all(np.array_equal(a, b) for a, b in zip(other.get_params().values(), net.get_params().values()))


@pytest.mark.parametrize("corruption", ["garbage", "truncated", "other_dtype", "other_shape", "no_header"])
def test_corrupt_or_mismatched_file_leaves_network_unchanged(tmp_path: Path, corruption: str) -> None:
    path = tmp_path / "net.npz"
    save(mlp(seed=1), path)
    if corruption == "garbage":
        path.write_bytes(b"not a zip file at all")
    elif corruption == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif corruption == "other_dtype":
        save(mlp(seed=1, dtype="float32"), path)
    elif corruption == "other_shape":
        save(mlp(2, (5, 4), 1, seed=1), path)
    else:
        np.savez(path, **{"linear_1.W": np.zeros((1, 2, 4))})
    net = mlp(seed=3)
    before = net.get_params()
    with pytest.raises(ValueError, match="path"):
        load(net, path)
    assert all(np.array_equal(a, b) for a, b in zip(net.get_params().values(), before.values()))


def test_bad_construction_arguments() -> None:
    with pytest.raises(ValueError, match="dtype"):
        mlp(dtype="float16")
    with pytest.raises(ValueError, match="activation"):
        mlp(activation="swish")
    with pytest.raises(ValueError, match="init"):
        mlp(init="orthogonal")
    with pytest.raises(ValueError, match="bias"):
        mlp(bias=[True])
    with pytest.raises(ValueError, match=r"hidden\[1\]"):
        mlp(hidden=(4, 0))
    with pytest.raises(TypeError, match="hidden"):
        mlp(hidden=(4, 2.5))  # type: ignore[arg-type]


def test_bce_logits_fuses_the_output_sigmoid() -> None:
    net = mlp(loss="bce-logits", seed=0)
    assert [type(layer).__name__ for layer in net.layers][-1] == "Linear"
    p = net.predict([[0.2, 0.3]])
    assert 0 < p[0, 0, 0] < 1


@pytest.mark.parametrize("method", ["param_grads", "input_grad"])
def test_a_backward_step_names_a_dy_of_the_wrong_width_or_dtype(method: str) -> None:
    # found by tests/test_entry_points.py: a raw matmul error ("mismatch in its core dimension")
    net = mlp(hidden=(3,), seed=0, dtype="float32")
    net.forward(net.as_input([[0.1, 0.2]]))
    for dy, exc in ((np.ones((1, 1, 2), np.float32), ValueError), (np.ones((1, 1, 3)), TypeError),
                    ([[[1.0, 1.0, 1.0]]], TypeError)):
        with pytest.raises(exc, match=r"^dy: "):
            getattr(net, method)(0, dy)
    getattr(net, method)(0, np.ones((1, 1, 3), np.float32))  # the width of layer 0's output
