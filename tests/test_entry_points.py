"""The public entry points not held by ``tests/test_properties.py`` or ``tests/test_validation.py``.

The same property as there: a valid call with one to three arguments replaced by arbitrary
values (``tests.strategies.ANYTHING``) either succeeds or raises ``ValueError``/``TypeError``
whose message starts with the name of a replaced argument; after a refusal every network's
parameters, an optimizer's state, a random generator's state and every file in reach are
unchanged. Commands answer bad argv with exit status 2 and one ``error:`` line, never a
traceback, and before any work: the work itself is replaced by a tripwire here, so an
argument accepted by mistake fails the property at once instead of running a study.
The calls are tiny and the examples few, to keep the file fast.

Where each public entry point's property lives (P = tests/test_properties.py,
V = tests/test_validation.py, E = this file):

- ``mlp`` V; ``train`` V (and E with an ``optimizer``); ``load`` V; ``save``, ``read_network`` P;
  ``accuracy`` P; ``SGD`` P, ``SGD.update`` E; ``Guard`` P; ``Linear``, activations, losses P;
  ``Network`` E; ``predict``/``predict_one``/``as_input``/``set_params`` P; ``forward``,
  ``gradients``, ``loss_grad``, ``param_grads``, ``input_grad``, ``set_flat``, ``observe_*`` E;
- ``refnet.data`` P; ``refnet.io.architecture``, ``refnet.metrics.classify`` E;
- ``refnet.conventions``: ``Published``, ``Reading``, ``reading``, ``resolve``, ``sigmoid_of``,
  ``network_options`` E;
- ``refnet.gradcheck``: ``layer_problems`` P; ``loss_problem``, ``network_problem``, ``check``,
  ``check_drawn``, ``steps``, ``taylor_order``, ``taylor_sweep``, ``numeric_gradient`` E;
- ``refnet.sweep``: ``sweep`` (``Setup``, ``Member``) P; ``iter_sweep``, ``grid``, ``kept_epochs``,
  ``default_chunk_size``, ``process_pool``, ``Member.check`` E;
- ``refnet.lab``: ``Config`` (and ``build``), ``run``, ``run_many``, ``sweep``, ``draw_*`` E;
- ``python -m refnet train``/``predict`` P, ``eval`` E; every ``python -m verify[.<study>]`` E.

Not held by a property: methods without arguments (``History``'s, ``get_params``, ``get_flat``),
and the per-step methods of components (``Layer.forward``/``grad_*``, ``Loss.terms``/``grad``),
which receive only arrays a ``Network`` has checked.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refnet.cli as cli
from refnet import SGD, BCEWithLogits, Linear, Published, Reading, mlp, save, train
from refnet import conventions as cv
from refnet import gradcheck as gc
from refnet import lab
from refnet import sweep as sw
from refnet.data import xor_easy
from refnet.io import architecture
from refnet.metrics import classify
from refnet.network import Network
from tests.strategies import ANYTHING, EDGES, file_tree, param_bits, replace_some, scratch_cwd, succeeds_or_names

_in_a_scratch_folder = scratch_cwd  # arbitrary text drawn as a path lands in a scratch folder

X, Y = xor_easy()
FEW = settings(max_examples=25)


def _velocity(opt: SGD) -> dict[str, bytes]:
    return {str(k): v.tobytes() for k, v in opt._velocity.items()}  # noqa: SLF001 - the state itself


# -- Network: its constructor and methods ------------------------------------------------------
@FEW
@given(st.data())
def test_network_constructor(data: st.DataObject) -> None:
    w = np.full((1, 2, 1), 0.5)
    kwargs, replaced = replace_some(data, {"layers": [Linear(w)], "loss": BCEWithLogits(), "dtype": "float64",
                                           "observer": None})
    succeeds_or_names(lambda: Network(**kwargs), replaced)  # type: ignore[arg-type]
    assert np.all(w == 0.5)


@FEW
@given(st.data(), st.sampled_from(["forward", "gradients", "loss_grad", "param_grads", "input_grad", "set_flat",
                                   "observe_update", "observe_loss"]))
def test_network_methods(data: st.DataObject, method: str) -> None:
    net = mlp(hidden=(3,), seed=0, dtype="float32")
    x = net.as_input(X[:3])
    t = net.precision.asarray(Y[None, :3], name="t")
    y = net.forward(x)
    dy = np.ones((1, 3, 3), np.float32)
    valid: dict[str, object] = {
        "forward": {"x": x}, "gradients": {"x": x, "t": t}, "loss_grad": {"y": y, "t": t, "reduction": "sum",
                                                                         "halve": False},
        "param_grads": {"index": 0, "dy": dy}, "input_grad": {"index": 0, "dy": dy},
        "set_flat": {"flat": net.get_flat()}, "observe_update": {"index": 0, "name": "W", "value": net.linears[0].params["W"],
                                                                 "inputs": ()},
        "observe_loss": {"terms": y, "grad": y, "inputs": ()},
    }[method]  # type: ignore[assignment]
    before = param_bits(net)
    kwargs, replaced = replace_some(data, valid)
    if not succeeds_or_names(lambda: getattr(net, method)(**kwargs), replaced):
        assert param_bits(net) == before


# -- training with an optimizer of one's own ----------------------------------------------
@FEW
@given(st.data())
def test_train_with_an_optimizer(data: st.DataObject) -> None:
    """An optimizer used on another architecture, or of another dtype, is named, and neither
    the network nor the optimizer's velocity changes."""
    used = SGD(0.5, momentum=0.5)
    train(mlp(hidden=(4,), seed=1), X, Y, epochs=1, optimizer=used)
    choices = st.one_of(st.sampled_from([used, SGD(0.5), SGD([0.5, 0.5]), SGD(1e-50, momentum=0.5)]), ANYTHING)
    net = mlp(hidden=(3,), seed=0, dtype=data.draw(st.sampled_from(["float32", "float64"]), label="dtype"))
    kwargs, replaced = replace_some(data, {"optimizer": SGD(0.5, momentum=0.5), "lr": None, "epochs": 2,
                                           "momentum": 0.0}, choices)
    if replaced & {"lr", "momentum"}:  # given with an optimizer, they are refused under its name
        replaced.add("optimizer")
    before, state = param_bits(net), _velocity(used)
    if not succeeds_or_names(lambda: train(net, X, Y, **kwargs, guard="off"), replaced):  # type: ignore[arg-type]
        assert param_bits(net) == before and _velocity(used) == state


@FEW
@given(st.data(), st.sampled_from([0.5, [0.5, 0.25]]))
def test_sgd_update(data: st.DataObject, lr: float | list[float]) -> None:
    opt = SGD(lr, momentum=0.5)
    param, grad = np.ones((np.size(lr), 2, 3)), np.full((np.size(lr), 2, 3), 0.25)
    opt.update("W", param, grad)
    state = _velocity(opt)
    kwargs, replaced = replace_some(data, {"key": "W", "param": param, "grad": grad})
    if "param" in replaced:  # grad is checked against param
        replaced.add("grad")
    if not succeeds_or_names(lambda: opt.update(**kwargs), replaced):  # type: ignore[arg-type]
        assert _velocity(opt) == state
    assert np.all(param == 1) and np.all(grad == 0.25)


# -- small functions of the public modules --------------------------------------------------
@FEW
@given(st.data())
def test_architecture_and_classify(data: st.DataObject) -> None:
    kwargs, replaced = replace_some(data, {"net": mlp(seed=0)})
    succeeds_or_names(lambda: architecture(**kwargs), replaced)  # type: ignore[arg-type]
    kwargs, replaced = replace_some(data, {"p": np.full((1, 3, 1), 0.7)})
    succeeds_or_names(lambda: classify(**kwargs), replaced)  # type: ignore[arg-type]


_LABELS = st.one_of(ANYTHING, st.text(alphabet="lab[]=,-0123456789²٣fulgradientmsyoe()", max_size=24),
                    st.sampled_from(["lab[batch=²]", "lab[batch=٣]", "lab[batch=2,batch=3]", "lab[gradient=sum]",
                                     "lab[mse=(y-t),log=2,sigmoid=stable,batch=full]", "lab-page14", "lab[=]"]))


@settings(max_examples=60)
@given(st.data())
def test_conventions(data: st.DataObject) -> None:
    """Readings, published conventions and labels: every error names its field, and
    ``convention`` for a label (the name the label has in every caller)."""
    kwargs, replaced = replace_some(data, {"label": "lab-sum"}, _LABELS)
    succeeds_or_names(lambda: cv.reading(**kwargs), replaced | {"convention"})  # type: ignore[arg-type]
    kwargs, replaced = replace_some(data, {"convention": "lab-evidence"}, _LABELS)
    for call in (cv.resolve, cv.sigmoid_of, cv.network_options):
        succeeds_or_names(lambda: call(**kwargs), replaced)  # type: ignore[arg-type]
    kwargs, replaced = replace_some(data, {"gradient": "mean", "mse_derivative": "2(y-t)", "log_base": "e",
                                           "sigmoid": "naive", "batch_size": None})
    succeeds_or_names(lambda: Reading(**kwargs), replaced)  # type: ignore[arg-type]
    kwargs, replaced = replace_some(data, {"bce": "published", "sigmoid": "naive"})
    succeeds_or_names(lambda: Published(**kwargs), replaced)  # type: ignore[arg-type]


# -- gradient checks ---------------------------------------------------------------------------
def _problem() -> gc.Problem:
    return gc.loss_problem(BCEWithLogits(), np.full((1, 2, 1), 0.5), np.ones((1, 2, 1)))


@FEW
@given(st.data())
def test_gradcheck_problems(data: st.DataObject) -> None:
    kwargs, replaced = replace_some(data, {"loss": BCEWithLogits(), "y": np.full((1, 2, 1), 0.5),
                                           "t": np.ones((1, 2, 1)), "component": None, "reference": None,
                                           "lower": None, "upper": None})
    succeeds_or_names(lambda: gc.loss_problem(**kwargs), replaced)  # type: ignore[arg-type]
    net = mlp(hidden=(2,), seed=0)
    before = param_bits(net)
    kwargs, replaced = replace_some(data, {"net": net, "x": X[:2], "t": Y[:2], "component": "network",
                                           "reference": None})
    succeeds_or_names(lambda: gc.network_problem(**kwargs), replaced)  # type: ignore[arg-type]
    assert param_bits(net) == before


@FEW
@given(st.data(), st.sampled_from(["check", "check_drawn", "steps", "taylor_order", "taylor_sweep",
                                   "numeric_gradient"]))
def test_gradcheck_checks(data: st.DataObject, function: str) -> None:
    p = _problem()
    valid: dict[str, object] = {
        "check": {"p": p, "seed": 0, "mode": "auto", "projections": 1, "taylor": False},
        "check_drawn": {"draw": lambda g: [p], "seed": 0, "budget": 1, "mode": "auto", "projections": 1,
                        "taylor": False},
        "steps": {"x": np.full((1, 2, 1), 0.5), "lower": None, "upper": None},
        "taylor_order": {"p": p, "seed": 0}, "taylor_sweep": {"p": p, "seed": 0}, "numeric_gradient": {"p": p},
    }[function]  # type: ignore[assignment]
    kwargs, replaced = replace_some(data, valid)
    succeeds_or_names(lambda: getattr(gc, function)(**kwargs), replaced)


# -- sweeps ------------------------------------------------------------------------------------
@FEW
@given(st.data())
def test_sweep_helpers(data: st.DataObject) -> None:
    setup = sw.Setup(X, Y, epochs=2, hidden=(3,))
    kwargs, replaced = replace_some(data, {"seeds": [0, 1], "lrs": [0.5], "dtype": "float64",
                                           "convention": "default", "kernel": "blas"})
    succeeds_or_names(lambda: sw.grid(**kwargs), replaced)  # type: ignore[arg-type]
    kwargs, replaced = replace_some(data, {"epochs": 10, "every": 3})
    succeeds_or_names(lambda: sw.kept_epochs(**kwargs), replaced)  # type: ignore[arg-type]
    kwargs, replaced = replace_some(data, {"setup": setup, "dtype": "float32"})
    succeeds_or_names(lambda: sw.default_chunk_size(**kwargs), replaced)  # type: ignore[arg-type]
    kwargs, replaced = replace_some(data, {"seed": 0, "lr": 0.5, "dtype": "float64", "convention": "default",
                                           "kernel": "blas", "init": None})
    succeeds_or_names(lambda: sw.Member(**kwargs).check("members[0]"), {"members"} if replaced else set())  # type: ignore[arg-type]
    kwargs, replaced = replace_some(data, {"workers": 1})
    try:
        pool = sw.process_pool(**kwargs)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        succeeds_or_names(lambda: sw.process_pool(**kwargs), replaced)  # type: ignore[arg-type]
    else:  # no worker starts before the first task
        pool.shutdown()


@FEW
@given(st.data())
def test_iter_sweep_refuses_before_the_first_member(data: st.DataObject) -> None:
    """``iter_sweep`` checks every argument when it is called, not when the first result is asked for."""
    setup = sw.Setup(X[:4], Y[:4], epochs=2, hidden=(2,))
    kwargs, replaced = replace_some(data, {"chunk_size": None, "keep_every": 1, "stop_diverged": False,
                                           "check_every": 1000, "in_flight": None, "same_math": True,
                                           "checkpoints": (), "quiet": True, "label": "sweep"})
    members = [sw.Member(0, 0.5)]
    if succeeds_or_names(lambda: sw.iter_sweep(setup, members, workers=0, **kwargs), replaced):  # type: ignore[arg-type]
        succeeds_or_names(lambda: list(sw.iter_sweep(setup, members, workers=0, **kwargs)), set())  # type: ignore[arg-type]


# -- the lab's program ---------------------------------------------------------------------------
_CONFIG = {"data": "xor", "activation": "sigmoid", "loss": "mse", "hidden": (2, 2), "lr": 0.05, "epochs": 4,
           "batch_size": 7, "log_every": 2, "n": 14, "output_sigmoid": True, "dtype": "float64", "kernel": "blas",
           "sigmoid": "naive"}


@settings(max_examples=100)
@given(st.data())
def test_lab_config(data: st.DataObject) -> None:
    """A config accepted is one that runs: a value let through by mistake fails in the run."""
    kwargs, replaced = replace_some(data, _CONFIG)
    if succeeds_or_names(lambda: lab.Config(**kwargs), replaced):  # type: ignore[arg-type]
        config = lab.Config(**kwargs)  # type: ignore[arg-type]
        if config.epochs * config.n * max(config.hidden) <= 10_000:  # small enough to run here
            succeeds_or_names(lambda: lab.run(config, 0), set())
        members = data.draw(st.one_of(EDGES, ANYTHING), label="members")
        succeeds_or_names(lambda: config.build(members), {"members"})  # type: ignore[arg-type]


@FEW
@given(st.data(), st.sampled_from(["draw_data", "draw_params", "draw_batches"]))
def test_lab_draws(data: st.DataObject, function: str) -> None:
    """A refused draw leaves the caller's RandomState where it was."""
    rs = np.random.RandomState(0)
    valid: dict[str, object] = {"config": lab.Config(**_CONFIG), "rs": rs}  # type: ignore[arg-type]
    if function == "draw_batches":
        valid["epochs"] = 2
    kwargs, replaced = replace_some(data, valid)
    state = copy.deepcopy(rs.get_state())
    if not succeeds_or_names(lambda: getattr(lab, function)(**kwargs), replaced):
        after = rs.get_state()
        assert all(np.array_equal(a, b) for a, b in zip(state, after, strict=True))


@settings(max_examples=20)
@given(st.data(), st.sampled_from(["run", "run_many", "sweep"]))
def test_lab_runs(data: st.DataObject, function: str) -> None:
    config = lab.Config(**_CONFIG)  # type: ignore[arg-type]
    valid: dict[str, object] = {
        "run": {"config": config, "seed": 0, "guard": "off", "quiet": True, "observer": None, "stop": "never"},
        "run_many": {"config": config, "seeds": [0, 1], "lrs": None, "quiet": True, "trace": None,
                     "trace_every": 1},
        "sweep": {"config": config, "runs": [(0, 0.05)], "workers": 0, "chunk_size": 64, "quiet": True,
                  "label": "lab sweep"},
    }[function]
    kwargs, replaced = replace_some(data, valid)
    succeeds_or_names(lambda: getattr(lab, function)(**kwargs), replaced)


# -- command lines ---------------------------------------------------------------------------------
def _run(main: Callable[[Sequence[str]], int], argv: list[str]) -> tuple[int, str, str]:
    """A command's ``main`` in this process: exit status (argparse's ``SystemExit`` too), stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def _refused(code: int, out: str, err: str, argv: list[str]) -> None:
    assert code == 2, (argv, code, err)
    assert "Traceback" not in err and out == "", (argv, err)
    errors = [line for line in err.splitlines() if "error: " in line]
    assert len(errors) == 1, (argv, err)


_EVAL_FLAGS: dict[str, list[str]] = {
    "--weights": ["{tmp}/w.npz", "{tmp}/none.npz", "{tmp}", "{tmp}/junk.npz", ""],
    "--data": ["xor", "linear", "circles", ""], "--n": ["10", "0", "-3", "x", "1e3"],
    "--plot": ["{tmp}/p.png", "/proc/p.png", "{tmp}/no/p.png", "{tmp}"],
    "--convention": ["default", "lab-sum", "lab[batch=²]", "torch"], "--guard": ["off", "maybe"],
}


@settings(max_examples=25)
@given(data=st.data())
def test_cli_eval(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    tmp = tmp_path_factory.mktemp("eval")
    save(mlp(seed=0), tmp / "w.npz")
    (tmp / "junk.npz").write_bytes(b"PK\x03\x04junk")
    files = file_tree(tmp)
    flags = data.draw(st.lists(st.sampled_from(sorted(_EVAL_FLAGS)), max_size=3, unique=True))
    argv = ["eval", "--weights", str(tmp / "w.npz")]
    for flag in flags:
        argv += [flag, data.draw(st.sampled_from(_EVAL_FLAGS[flag]), label=flag).format(tmp=tmp)]
    code, out, err = _run(cli.main, argv)
    assert code in (cli.EXIT_OK, cli.EXIT_NONFINITE, cli.EXIT_USAGE) and "Traceback" not in err, (argv, err)
    if code == cli.EXIT_USAGE:
        _refused(code, out, err, argv)
        assert file_tree(tmp) == files


class _WorkStarted(Exception):
    """Raised by the tripwire put in place of a study's work."""


# Each study: its module, the function its main calls to do the work (replaced by a tripwire), and
# per flag the values refused before work ("{tmp}" is a scratch folder; "{file}" a file in it).
_STUDIES: dict[str, tuple[str, str, dict[str, list[str]]]] = {
    "gradcheck": ("verify.gradcheck.cli", "cases", {
        "--dtype": ["float16", ""], "--seed": ["-1", "x", "1.5"], "--json": ["/proc/g.json", "{file}/g.json"],
        "--report": ["/proc/r", "{file}/r"]}),
    "overflow": ("verify.overflow.cli", "run_study", {
        "--seeds": ["-1", "x", "3-1", ""], "--batch-sizes": ["0", "a"], "--sweep-updates": ["0", "-2", "x"],
        "--second-epochs": ["0", "1.5"], "--workers": ["-1", "x"], "--report": ["/proc/r", "{file}/r"],
        "--doc": ["/proc/d.md", "{tmp}/no/d.md"]}),
    "experiments": ("verify.experiments.cli", "execute", {
        "--seeds": ["0", "-1", "x"], "--workers": ["-1", "x"], "--kernel": ["gpu"],
        "--report": ["/proc/r", "{file}/r"]}),
    "lr_threshold": ("verify.lr_threshold.cli", "run_study", {
        "--workers": ["0", "-1", "x"], "--variant-steps": ["-1", "x"], "--e4-seeds": ["0", "x"],
        "--e4-grid": ["-1"], "--e4-rounds": ["-1", "1.5"], "--report": ["/proc/r", "{file}/r"],
        "--check": ["{tmp}/none.json", "{file}"], "--render": ["{tmp}/none"]}),
    "conventions": ("verify.conventions", "train", {
        "--lr": ["nan", "-1", "0", "inf", "x"], "--seeds": ["-1", "x"], "--epochs-xor": ["0", "-5", "x"],
        "--epochs-linear": ["0", "1.5"], "--threshold": ["nan", "-1", "x"], "--report": ["/proc/r", "{file}/r"]}),
    "compare": ("verify.compare.cli", "check", {
        "--data": ["circles"], "--epochs": ["0", "x"], "--lr": ["0", "nan", "-1"], "--gradient": ["median"],
        "--update": ["never"], "--json": ["/proc/c.json", "{tmp}/no/c.json", "{tmp}"]}),
    "suite": ("verify.__main__", "run_study", {
        "--out": ["/proc/r", "{file}/r"], "--only": ["nothing"]}),
}


def _study_call(study: str, tmp: Path, flags: list[tuple[str, str]]) -> None:
    """Run ``study`` with ``flags`` (each refused), its work replaced by a tripwire; check the refusal."""
    module_name, work, _ = _STUDIES[study]
    (tmp / "file").write_text("not a folder")
    files = file_tree(tmp)
    argv = ["student.py:Net"] if study == "compare" else []
    for flag, value in flags:
        argv += [flag, value.format(tmp=tmp, file=tmp / "file")]
    module = importlib.import_module(module_name)

    def tripwire(*args: Any, **kwargs: Any) -> Any:
        raise _WorkStarted(f"{study}: work started with {argv}")

    with mock.patch.object(module, work, tripwire):
        code, out, err = _run(module.main, argv)
    _refused(code, out, err, argv)
    assert any(flag in err for flag, _ in flags), (argv, err)
    assert file_tree(tmp) == files


@pytest.mark.parametrize("study,flag,value", [(study, flag, value) for study, (_, _, flags) in _STUDIES.items()
                                              for flag, values in flags.items() for value in values])
def test_each_refused_flag_alone(tmp_path: Path, study: str, flag: str, value: str) -> None:
    """Every value of the table alone: a combination can hide one flag's missing check behind another's."""
    _study_call(study, tmp_path, [(flag, value)])


@settings(max_examples=60)
@given(data=st.data(), study=st.sampled_from(sorted(_STUDIES)))
def test_study_argv_is_refused_before_any_work(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject,
                                                study: str) -> None:
    """One to three flags, at least one of them refused: exit 2, one ``error:`` line naming
    a flag, nothing written, and the study's work never started."""
    flags = _STUDIES[study][2]
    chosen = data.draw(st.lists(st.sampled_from(sorted(flags)), min_size=1, max_size=3, unique=True))
    _study_call(study, tmp_path_factory.mktemp(study),
                [(flag, data.draw(st.sampled_from(flags[flag]), label=flag)) for flag in chosen])
