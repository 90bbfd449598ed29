"""Every bad argument is a ValueError or TypeError naming it, raised before anything changes.

A hypothesis property draws the arguments of ``mlp``, ``train`` and ``load`` from a
mix of valid and invalid values; a table covers the Network methods, the
gradient-check entry points, train, SGD, the guard, sweep and the cases of issue 11's
"Why" list.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given

from refnet import SGD, load, mlp, save, train
from refnet import sweep as sw
from refnet.data import xor_easy
from refnet.gradcheck import (Evaluation, Problem, check, check_drawn, layer_problems, loss_problem,
                              network_problem, numeric_gradient, steps, taylor_order)
from refnet.io import FORMAT_V1, LegacyFileWarning
from refnet.layers import Linear, Sigmoid
from refnet.losses import BCEWithLogits
from refnet.network import PARAMS_BYTES, Network, UnknownParameterError
from refnet.train import HISTORY_BYTES
from refnet.validation import check_bool, check_choice, check_int, check_output_dir, check_output_file, check_real
from tests.strategies import load_case, mlp_arguments, train_arguments
from tests.tolerances import DTYPES, ulp_tol


def _names(message: str) -> str:
    """The argument a message starts with (``hidden[1]: ...`` -> ``hidden``)."""
    match = re.match(r"^([A-Za-z_]+)(\[\d+\])?(\.[A-Za-z_]+)?: ", message)
    assert match, f"message does not start with an argument name: {message!r}"
    return match.group(1)


def _bits(net: Network) -> bytes:
    return b"".join(v.tobytes() for v in net.get_params().values())


# ----------------------------------------------------------------- the property
@given(mlp_arguments())
def test_mlp_succeeds_or_names_a_bad_argument(case: tuple[dict[str, Any], set[str]]) -> None:
    kwargs, bad = case
    gen = kwargs.get("seed")
    state = gen.bit_generator.state if isinstance(gen, np.random.Generator) else None
    if not bad:
        net = mlp(**kwargs)
        assert isinstance(net, Network)
        return
    with pytest.raises((ValueError, TypeError)) as info:
        mlp(**kwargs)
    assert _names(str(info.value)) in bad, (str(info.value), bad)
    if state is not None:  # a generator given as seed is not drawn from before the error
        assert isinstance(gen, np.random.Generator) and gen.bit_generator.state == state


@given(train_arguments())
def test_train_succeeds_or_names_a_bad_argument_and_changes_nothing(case: tuple[dict[str, Any], set[str]]) -> None:
    kwargs, bad = case
    net = mlp(hidden=(3,), dtype=kwargs.pop("dtype"), seed=[0, 1])
    before = _bits(net)
    x, y = kwargs.pop("x"), kwargs.pop("y")
    if not bad:
        history = train(net, x, y, **kwargs)
        assert history.loss.shape == (kwargs["epochs"], 2)
        if kwargs["epochs"] == 0:
            assert _bits(net) == before
        return
    with pytest.raises((ValueError, TypeError)) as info:
        train(net, x, y, **kwargs)
    assert _names(str(info.value)) in bad, (str(info.value), bad)
    assert _bits(net) == before


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file per kind of (in)valid weight file, written once for the module."""
    d = tmp_path_factory.mktemp("weights")
    files = {}
    for name, net in {"same": mlp(seed=1), "relu": mlp(activation="relu", seed=1),
                      "logits": mlp(loss="bce-logits", seed=1), "shape": mlp(2, (5, 4), 1, seed=1),
                      "float32": mlp(dtype="float32", seed=1)}.items():
        files[name] = d / f"{name}.npz"
        save(net, files[name])
    bad = mlp(seed=1)
    bad.set_params({"output.W": np.full((1, 4, 1), np.nan)})
    files["nan"] = d / "nan.npz"
    save(bad, files["nan"])
    files["npy"] = d / "w.npy"
    np.save(files["npy"], np.zeros(36))
    files["garbage"] = d / "garbage.npz"
    files["garbage"].write_bytes(b"PK\x03\x04 but no zip")
    files["missing"] = d / "missing.npz"
    import json
    with np.load(files["same"]) as data:
        arrays = {k: np.array(data[k]) for k in data.files}
    header = json.loads(arrays["__refnet__"].tobytes().decode())
    arrays["__refnet__"] = np.frombuffer(json.dumps({"format": FORMAT_V1, "dtype": header["dtype"],
                                                     "params": header["params"]}).encode(), dtype=np.uint8)
    files["legacy"] = d / "legacy.npz"
    np.savez(files["legacy"], **arrays)  # type: ignore[arg-type]
    return files


@given(load_case())
def test_load_succeeds_or_names_path_and_changes_nothing(weight_files: dict[str, Path],
                                                         case: tuple[str, object, set[str]]) -> None:
    kind, allow, bad = case
    net = mlp(seed=3)
    before = _bits(net)
    path: object = weight_files.get(kind, kind)  # kinds not in the table are the path itself (3, None, "")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if not bad:
            load(net, path, allow_nonfinite=allow)  # type: ignore[arg-type]
            assert _bits(net) != before
        else:
            with pytest.raises((ValueError, TypeError)) as info:
                load(net, path, allow_nonfinite=allow)  # type: ignore[arg-type]
            assert _names(str(info.value)) in bad, (str(info.value), bad)
            assert _bits(net) == before
    legacy = [w for w in caught if issubclass(w.category, LegacyFileWarning)]
    assert len(legacy) == (kind == "legacy" and not bad)
    assert len(caught) == len(legacy)


# ----------------------------------------------------------------- the checks themselves
def test_shared_checks_refuse_booleans_and_name_the_argument(tmp_path: Path) -> None:
    for call, exc in [(lambda: check_int("epochs", True, 0), TypeError),
                      (lambda: check_int("epochs", 5, 0, 4), ValueError),
                      (lambda: check_real("lr", True), TypeError),
                      (lambda: check_real("lr", "0.1"), TypeError),
                      (lambda: check_real("lr", np.nan), ValueError),
                      (lambda: check_real("lr", 0.0, minimum=0.0, open_minimum=True), ValueError),
                      (lambda: check_bool("quiet", 1), TypeError),
                      (lambda: check_choice("mode", ["raise"], ("raise",)), TypeError),
                      (lambda: check_choice("mode", "rise", ("raise",)), ValueError),
                      (lambda: check_output_file("path", 3), TypeError),
                      (lambda: check_output_file("path", tmp_path / "no" / "f.npz"), ValueError),
                      (lambda: check_output_dir("out", "/dev/null/x"), ValueError),
                      (lambda: check_output_dir("out", tmp_path / "a" / "b"), None)]:
        if exc is None:
            call()
            continue
        with pytest.raises(exc, match=r"^(epochs|lr|quiet|mode|path|out): "):
            call()
    assert check_real("momentum", np.float32(0.5), minimum=0.0) == 0.5
    assert not (tmp_path / "a").exists()  # checking an output folder creates nothing


# ----------------------------------------------------------------- Network methods
def test_network_methods_name_bad_arguments_and_change_nothing() -> None:
    net = mlp(seed=0, dtype="float32")
    before = _bits(net)
    x = net.as_input([[0.1, 0.2]])
    t = net.precision.asarray([[[1.0]]], name="t")
    cases: list[tuple[Any, type[Exception], str]] = [
        (lambda: net.set_params([1]), TypeError, "params"),
        (lambda: net.set_params({"nope": 1}), ValueError, "params"),
        (lambda: net.set_params({"output.W": np.zeros((1, 4, 2))}), ValueError, "output.W"),
        (lambda: net.set_params({"output.W": np.full((1, 4, 1), True)}), TypeError, "output.W"),
        (lambda: net.set_flat("abc"), TypeError, "flat"),
        (lambda: net.set_flat(np.zeros(3)), ValueError, "flat"),
        (lambda: net.predict([["a", "b"]]), TypeError, "x"),
        (lambda: net.predict([[0.1, 0.2, 0.3]]), ValueError, "x"),
        (lambda: net.as_input([[0.1, 0.2]], name=3), TypeError, "name"),
        (lambda: net.forward(x.astype(np.float64)), TypeError, "x"),
        (lambda: net.forward([[0.1, 0.2]]), TypeError, "x"),
        (lambda: net.gradients(x, t[:, :, :0]), ValueError, "t"),
        (lambda: net.gradients(x, np.zeros((1, 2, 1), np.float32)), ValueError, "t"),
        (lambda: net.loss_grad(net.forward(x), t, reduction="median"), ValueError, "reduction"),
        (lambda: net.loss_grad(net.forward(x), t, halve=1), TypeError, "halve"),
        (lambda: net.param_grads(99, t), ValueError, "index"),
        (lambda: net.input_grad(True, t), TypeError, "index"),
        (lambda: net.observe_update(0, "Q", x, ()), ValueError, "name"),
    ]
    for call, exc, name in cases:
        with pytest.raises(exc) as info:
            call()
        assert str(info.value).startswith(f"{name}: "), str(info.value)
    assert _bits(net) == before
    with pytest.raises(KeyError):  # an unknown name is a lookup error too, as it always was
        net.set_params({"nope": 1})
    assert issubclass(UnknownParameterError, ValueError)


def test_network_constructor_checks_layers_loss_and_observer() -> None:
    w = np.zeros((1, 2, 1))
    for args, exc, name in [(("linear", BCEWithLogits()), TypeError, "layers"),
                            (([], BCEWithLogits()), ValueError, "layers"),
                            (([object()], BCEWithLogits()), TypeError, "layers[0]"),
                            (([Sigmoid()], BCEWithLogits()), ValueError, "layers"),
                            (([Linear(w)], "bce"), TypeError, "loss")]:
        with pytest.raises(exc, match=rf"^{re.escape(name)}: "):
            Network(*args, dtype="float64")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^observer: "):
        Network([Linear(w)], BCEWithLogits(), "float64", observer=print)  # type: ignore[arg-type]


def test_parameter_memory_is_checked_before_allocating() -> None:
    with pytest.raises(ValueError, match=r"^hidden\[0\]: .*GiB of parameters"):
        mlp(2, (10**9,), 1)
    assert PARAMS_BYTES == 4 * 1024**3


# ----------------------------------------------------------------- gradient checks
def test_gradcheck_entry_points_name_bad_arguments() -> None:
    net = mlp(seed=0)
    layer = Linear(np.ones((1, 2, 3)))
    x = np.ones((1, 4, 2))
    [p] = layer_problems(layer, x, np.ones((1, 4, 3)))[:1]
    for call, exc, name in [
        (lambda: check(p, seed=-1), ValueError, "seed"),
        (lambda: check(p, projections=True), TypeError, "projections"),
        (lambda: check(p, mode="fast"), ValueError, "mode"),  # type: ignore[arg-type]
        (lambda: check(p, taylor="yes"), TypeError, "taylor"),  # type: ignore[arg-type]
        (lambda: check("p"), TypeError, "p"),  # type: ignore[arg-type]
        (lambda: check_drawn(lambda g: [p], seed=0, budget=-1), ValueError, "budget"),
        (lambda: check_drawn("draw", seed=0), TypeError, "draw"),  # type: ignore[arg-type]
        (lambda: numeric_gradient(None), TypeError, "p"),  # type: ignore[arg-type]
        (lambda: taylor_order(p, seed=1.5), TypeError, "seed"),  # type: ignore[arg-type]
        (lambda: steps([1.0]), TypeError, "x"),  # type: ignore[arg-type]
        (lambda: steps(x, lower=1.0, upper=0.0), ValueError, "upper"),
        (lambda: layer_problems(layer, x.astype(np.float32), np.ones((1, 4, 3))), ValueError, "dy"),
        (lambda: layer_problems(layer, x[0], np.ones((1, 4, 3))), ValueError, "x"),
        (lambda: layer_problems(layer, x, np.ones((1, 4, 3)), reference="float16"), ValueError, "reference"),  # type: ignore[arg-type]
        (lambda: layer_problems("layer", x, x), TypeError, "layer"),  # type: ignore[arg-type]
        (lambda: loss_problem(BCEWithLogits(), x, x[:, :2]), ValueError, "t"),
        (lambda: loss_problem(BCEWithLogits(), x, x, lower=np.nan), ValueError, "lower"),
        (lambda: network_problem("net", x, x), TypeError, "net"),  # type: ignore[arg-type]
        (lambda: network_problem(net, [[0.1, 0.2]], [[1.0], [0.0]]), ValueError, "t"),
    ]:
        with pytest.raises(exc) as info:
            call()
        assert str(info.value).startswith(f"{name}: "), str(info.value)


def test_richardson_step_changes_the_estimate_and_the_verdict() -> None:
    # f(x) = sum x^3: D(h) = 3x^2 + h^2 exactly, Richardson (4 D(h/2) - D(h)) / 3 = 3x^2.
    x = np.array([[[1.0, -2.0]]], dtype=np.float32)

    def evaluate(z: np.ndarray) -> Evaluation:
        return Evaluation(np.sum(np.asarray(z, dtype=np.longdouble) ** 3), (z,), b"", (), 0.0)

    exact = 3 * x.astype(np.float64) ** 2
    h = steps(x).astype(np.float64)
    problem = Problem("cube", "x", x, (3 * x * x).astype(np.float32), evaluate, np.zeros(x.shape))
    value, bound = numeric_gradient(problem)
    assert np.all(np.abs(value - exact) <= bound)
    # the plain central difference D(h) misses by h^2, about four times that bound
    assert np.all(h**2 > 2 * bound)
    assert check(problem, taylor=False).status == "PASS"
    # a gradient equal to the plain central difference D(h) fails: only extrapolation sees its h^2
    off = Problem("cube", "x", x, (exact + h**2).astype(np.float32), evaluate, np.zeros(x.shape))
    assert check(off, taylor=False).status == "FAIL"


# ----------------------------------------------------------------- issue 11, "Why", case by case
def test_empty_data_epochs_zero_and_huge_histories_are_named() -> None:
    net = mlp(seed=0)
    before = _bits(net)
    with pytest.raises(ValueError, match=r"^x: no rows"):
        train(net, np.zeros((0, 2)), np.zeros((0, 1)), lr=0.1, epochs=1)
    history = train(net, [[0.1, 0.2]], [[1.0]], lr=0.1, epochs=0)
    with pytest.raises(ValueError, match=r"^final_loss: no epoch was run"):
        history.final_loss  # noqa: B018
    epochs = HISTORY_BYTES // 8 + 1
    with pytest.raises(ValueError, match=r"^epochs: .*GiB.*keep_every"):
        train(net, [[0.1, 0.2]], [[1.0]], lr=0.1, epochs=epochs)
    assert _bits(net) == before


@pytest.mark.parametrize("kwargs,exc,name", [
    ({"seed": "12"}, TypeError, "seed"),        # was a 2-member ensemble, one per character
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"seed": True}, TypeError, "seed"),
    ({"seed": [0, -1]}, ValueError, "seed[1]"),
    ({"hidden": 4}, TypeError, "hidden"),
    ({"bias": "yes"}, TypeError, "bias"),
    ({"bias": [1, 0, 0]}, TypeError, "bias[0]"),
    ({"loss": 3}, TypeError, "loss"),
    ({"bce_delta": -1.0}, ValueError, "bce_delta"),
    ({"bce_delta": "a"}, TypeError, "bce_delta"),
    ({"kernel": 3}, TypeError, "kernel"),
    ({"observer": 3}, TypeError, "observer"),
    ({"activation": ["relu"]}, TypeError, "activation"),
])
def test_mlp_arguments_that_used_to_slip_through(kwargs: dict[str, Any], exc: type[Exception], name: str) -> None:
    with pytest.raises(exc) as info:
        mlp(**kwargs)
    assert str(info.value).startswith(f"{name}: "), str(info.value)


@pytest.mark.parametrize("lr", [1e-50, 1e300, 1e-40])
def test_float32_learning_rate_is_checked_after_rounding(lr: float) -> None:
    net = mlp(dtype="float32", seed=0)
    before = _bits(net)
    with pytest.raises(ValueError, match=r"^lr: .*float32"):  # no RuntimeWarning leaks (warnings are errors)
        train(net, [[0.1, 0.2]], [[1.0]], lr=lr, epochs=1)
    with pytest.raises(TypeError, match=r"^momentum: "):
        train(net, [[0.1, 0.2]], [[1.0]], lr=0.1, epochs=1, momentum="0.5")  # type: ignore[arg-type]
    assert _bits(net) == before
    train(mlp(seed=0), [[0.1, 0.2]], [[1.0]], lr=lr, epochs=1, guard="off")  # the same rate is fine in float64 (and diverges)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_logits_hard_label_gradient_against_a_wider_reference(dtype: str) -> None:
    # large logits, where sigmoid(z) - 1 cancels (float32, z = 30: 1 - 1 = 0, exact -9.36e-14)
    big = (10.0, 17.0, 30.0, 60.0, 80.0) if dtype == "float32" else (10.0, 40.0, 100.0, 300.0, 700.0)
    z = np.array([[[v] for v in (*big, *(-v for v in big))]], dtype=dtype)
    ld = z.astype(np.longdouble)
    loss = BCEWithLogits()
    for label, exact in ((1.0, -1 / (1 + np.exp(ld))),      # -sigmoid(-z)
                         (0.0, 1 / (1 + np.exp(-ld)))):     # sigmoid(z)
        got = loss.term_grad(z, np.full_like(z, label)).astype(np.longdouble)
        assert np.all(np.abs(got - exact) <= ulp_tol(np.dtype(dtype), 4) * np.abs(exact)), (label, got, exact)
        assert np.all(got != 0)
    # soft labels keep sigmoid(z) - t
    t = np.full_like(z, 0.25)
    np.testing.assert_allclose(loss.term_grad(z, t).astype(np.float64),
                               (1 / (1 + np.exp(-ld)) - 0.25).astype(np.float64), rtol=0,
                               atol=ulp_tol(np.dtype(dtype), 2))


# ----------------------------------------------------------------- known gaps in modules owned elsewhere

def test_train_names_a_bad_guard() -> None:
    with pytest.raises(ValueError, match=r"^guard: "):
        train(mlp(), [[0.1, 0.2]], [[1.0]], lr=0.1, epochs=1, guard="bogus")  # type: ignore[arg-type]



def test_train_checks_net_quiet_and_label() -> None:
    for kwargs, name in (({"quiet": "no"}, "quiet"), ({"label": 3}, "label")):
        with pytest.raises(TypeError, match=rf"^{name}: "):
            train(mlp(), [[0.1, 0.2]], [[1.0]], lr=0.1, epochs=1, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^net: "):
        train("net", [[0.1, 0.2]], [[1.0]], lr=0.1, epochs=1)  # type: ignore[arg-type]



def test_sgd_refuses_no_rates() -> None:
    with pytest.raises(ValueError, match=r"^lr: "):
        SGD([])


def test_sweep_names_setup_and_member_fields() -> None:
    x, y = xor_easy()
    for setup, members, name in ((sw.Setup(x, y, epochs=1, hidden=4), [sw.Member(0, 0.1)], "setup.hidden"),  # type: ignore[arg-type]
                                 (sw.Setup(x, y, epochs=1), [sw.Member(0, 1e-50, "float32")], "members[0].lr")):
        with pytest.raises((TypeError, ValueError), match=rf"^{re.escape(name)}: "):
            sw.sweep(setup, members, workers=0)
    with pytest.raises(TypeError, match=r"^stop_diverged: "):
        sw.sweep(sw.Setup(x, y, epochs=1), [sw.Member(0, 0.1)], workers=0, stop_diverged="yes")  # type: ignore[arg-type]


# -- the shared checks' words, in full -------------------------------------------------------------
def test_the_shared_checks_words_in_full(tmp_path: Path) -> None:
    """Each shared check's refusal, whole: a slip in any word or value shows here."""
    from refnet.validation import check_float_array, check_items, real_array
    ragged = [[1.0], [1.0, 2.0]]
    with pytest.raises(ValueError) as numpy_refusal:
        np.asarray(ragged)
    numpy_says = str(numpy_refusal.value)  # NumPy's own words, which vary between its versions
    with pytest.raises(OSError) as system_refusal:  # /proc takes no new file, as root or not; the reason varies
        tempfile.mkstemp(dir="/proc")
    system_says = system_refusal.value.strerror
    cases: list[tuple[Any, type[Exception], str]] = [
        (lambda: check_choice("mode", 3, ("raise", "off")), TypeError, "mode: expected one of 'raise', 'off', got 3"),
        (lambda: check_choice("mode", "loud", ("raise", "off")), ValueError,
         "mode: unknown name 'loud'; choose one of raise, off"),
        (lambda: check_items("levels", "0.5", check_real), TypeError, "levels: expected a list or tuple, got '0.5'"),
        (lambda: check_real("momentum", 2.0, maximum=1.0), ValueError, "momentum: expected a finite number <= 1, got 2.0"),
        (lambda: check_real("lr", float("nan")), ValueError, "lr: expected a finite number, got nan"),
        (lambda: check_float_array("w", [1.0]), TypeError, "w: expected a NumPy array of floats, got list"),
        (lambda: check_float_array("w", np.ones(2, dtype=np.int64)), TypeError,
         "w: expected a NumPy array of floats, got dtype int64"),
        (lambda: check_items("levels", np.ones((1, 2)), check_real), TypeError,
         "levels: expected a list or tuple, got array([[1., 1.]])"),
        (lambda: real_array("x", ragged), TypeError, f"x: cannot be read as a numeric array ({numpy_says})"),
        (lambda: real_array("x", [1.0, np.nan], finite=True), ValueError,
         "x: expected finite numbers, got nan at index (1,) (1 non-finite value)"),
        (lambda: real_array("x", [np.inf, np.nan], finite=True), ValueError,
         "x: expected finite numbers, got inf at index (0,) (2 non-finite values)"),
        (lambda: check_output_file("path", tmp_path / "missing" / "w.npz"), ValueError,
         f"path: folder {str(tmp_path / 'missing')!r} does not exist (create it first)"),
        (lambda: check_output_dir("out", "/proc"), ValueError,
         f"out: cannot create files in '/proc' ({system_says})"),
    ]
    for call, kind, words in cases:
        with pytest.raises(kind) as info:
            call()
        assert str(info.value) == words


def test_collections_of_checked_items_may_be_one_dimensional_arrays() -> None:
    from refnet.validation import check_items
    assert check_items("levels", np.array([0.25, 0.5]), check_real) == (0.25, 0.5)


def test_a_maximum_is_included_unless_said_open() -> None:
    assert check_real("momentum", 1.0, maximum=1.0) == 1.0
    assert check_real("momentum", 0.0, minimum=0.0) == 0.0
    with pytest.raises(ValueError, match=r"^momentum: "):
        check_real("momentum", 1.0, maximum=1.0, open_maximum=True)
