"""The command line: the default XOR run reaches 100%, plots are written, errors are clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from refnet.cli import main


def test_default_xor_run_prints_100_percent(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "run.png"
    saved = tmp_path / "net.npz"
    assert main(["train", "--data", "xor", "--quiet", "--plot", str(png), "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "accuracy: 100.0%" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert saved.exists()


def test_lab_flags_run(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--data", "xor", "--hidden", "4", "4", "--activation", "relu", "--loss", "bce",
            "--lr", "0.001", "--epochs", "200", "--dtype", "float32", "--seed", "0",
            "--convention", "lab-evidence", "--quiet"]
    assert main(argv) == 0
    assert "final loss:" in capsys.readouterr().out


def test_bad_values_exit_2_with_the_argument_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--lr", "-1", "--quiet"]) == 2
    assert "lr" in capsys.readouterr().err
    assert main(["train", "--epochs", "-3", "--quiet"]) == 2
    assert "epochs" in capsys.readouterr().err


# -- every bad flag: an argparse error line, exit 2, no traceback, before any work -----------
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402

import numpy as np  # noqa: E402

from refnet.cli import main as refnet_main  # noqa: E402
from verify.__main__ import main as suite_main  # noqa: E402
from verify.gradcheck.cli import main as gradcheck_main  # noqa: E402

_MISSING = "/nonexistent-folder/out"
_BAD: list[tuple[str, Callable[[Sequence[str] | None], int], list[str], str]] = [
    ("refnet", refnet_main, ["train", "--seed", "-1"], "--seed"),
    ("refnet", refnet_main, ["train", "--seed", "x"], "--seed"),
    ("refnet", refnet_main, ["train", "--data", "linear", "--n", "0"], "--n"),
    ("refnet", refnet_main, ["train", "--data", "moons"], "--data"),
    ("refnet", refnet_main, ["train", "--epochs", "1000000000000"], "--epochs"),
    ("refnet", refnet_main, ["train", "--epochs", "-3"], "--epochs"),
    ("refnet", refnet_main, ["train", "--epochs", "2.5"], "--epochs"),
    ("refnet", refnet_main, ["train", "--lr", "-1"], "--lr"),
    ("refnet", refnet_main, ["train", "--lr", "nan"], "--lr"),
    ("refnet", refnet_main, ["train", "--lr", "1e-50", "--dtype", "float32"], "--lr"),
    ("refnet", refnet_main, ["train", "--lr", "1e300", "--dtype", "float32"], "--lr"),
    ("refnet", refnet_main, ["train", "--hidden", "4", "0"], "--hidden"),
    ("refnet", refnet_main, ["train", "--batch-size", "0"], "--batch-size"),
    ("refnet", refnet_main, ["train", "--momentum", "1"], "--momentum"),
    ("refnet", refnet_main, ["train", "--momentum", "0.5x"], "--momentum"),
    ("refnet", refnet_main, ["train", "--convention", "torch"], "--convention"),
    ("refnet", refnet_main, ["train", "--convention", "lab[batch=0]"], "--convention"),
    ("refnet", refnet_main, ["train", "--dtype", "float16"], "--dtype"),
    ("refnet", refnet_main, ["train", "--init", "orthogonal"], "--init"),
    ("refnet", refnet_main, ["train", "--activation", "swish"], "--activation"),
    ("refnet", refnet_main, ["train", "--guard", "loud"], "--guard"),
    ("refnet", refnet_main, ["train", "--save", _MISSING + "/net.npz"], "--save"),
    ("refnet", refnet_main, ["train", "--plot", _MISSING + "/run.png"], "--plot"),
    ("refnet", refnet_main, ["train", "--save", "/"], "--save"),
    ("refnet", refnet_main, ["train", "--bogus"], "unrecognized"),
    ("refnet", refnet_main, ["fly"], "invalid choice"),
    ("verify", suite_main, ["--out", "/dev/null/x"], "--out"),
    ("verify", suite_main, ["--only", "nope"], "--only"),
    ("verify", suite_main, ["--bogus"], "unrecognized"),
    ("verify.gradcheck", gradcheck_main, ["--seed", "-1"], "--seed"),
    ("verify.gradcheck", gradcheck_main, ["--seed", "1.5"], "--seed"),
    ("verify.gradcheck", gradcheck_main, ["--dtype", "float16"], "--dtype"),
    ("verify.gradcheck", gradcheck_main, ["--json", "/dev/null/x.json"], "--json"),
    ("verify.gradcheck", gradcheck_main, ["--json", "/"], "--json"),
    ("verify.gradcheck", gradcheck_main, ["--report", "/dev/null/r"], "--report"),
]


@pytest.mark.parametrize("prog,entry,argv,flag", _BAD, ids=[" ".join([p, *a]) for p, _, a, _ in _BAD])
def test_every_bad_flag_is_an_argparse_error_before_any_work(
        prog: str, entry: Callable[[Sequence[str] | None], int], argv: list[str], flag: str,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import verify.gradcheck.cli

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(sys.modules["refnet.train"], "step", no_work)  # train validates, then steps: no step may run
    monkeypatch.setattr(verify.gradcheck.cli, "run", no_work)
    monkeypatch.setattr("verify.__main__.run_study", no_work)
    assert entry([*argv, "--quiet"] if prog != "refnet" or argv[0] == "train" else argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("usage: python -m " + prog.split(" ")[0]), err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"python -m {prog}") and ": error: " in last and flag in last, last


def test_bad_arguments_of_train_itself_are_checked_before_training(capsys: pytest.CaptureFixture[str]) -> None:
    # the lr check after rounding and the history's memory are train's own: no step is taken first
    assert refnet_main(["train", "--epochs", "1000000000000", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "argument --epochs: " in err and "GiB" in err and "Traceback" not in err


@pytest.mark.parametrize("cmd", [
    [sys.executable, "-m", "refnet", "train", "--seed", "-1"],
    [sys.executable, "-m", "verify", "--out", "/dev/null/x"],
    [sys.executable, "-m", "verify.gradcheck", "--seed", "-1"],
])
def test_python_dash_m_exits_2_at_once_without_traceback(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and ": error: " in done.stderr
    assert done.stdout == ""


_DIVERGE = ["train", "--loss", "bce-logits", "--activation", "identity", "--convention", "lab-evidence", "--lr", "1e300",
            "--epochs", "20", "--quiet"]


def test_a_nonfinite_run_exits_1_with_the_guards_first_event(capsys: pytest.CaptureFixture[str]) -> None:
    assert refnet_main(_DIVERGE) == 1  # --guard raise is the default
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    line = captured.err.strip().splitlines()[-1]
    assert "non-finite" in line and "epoch 0" in line and "update" in line and "linear_2" in line and "W - lr * dW" in line


@pytest.mark.parametrize("mode", ["warn", "record"])
def test_warn_and_record_finish_then_report_the_first_event(mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    if mode == "warn":
        with pytest.warns(Warning):  # NumericalWarning per event (warnings are errors in tests)
            code = refnet_main([*_DIVERGE, "--guard", mode])
    else:
        code = refnet_main([*_DIVERGE, "--guard", mode])
    assert code == 1
    captured = capsys.readouterr()
    assert "final loss: nan" in captured.out
    assert f"({mode} mode" in captured.err and "epoch 0" in captured.err and "linear_2" in captured.err


def test_guard_off_still_exits_1_on_a_nonfinite_final_loss(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "nan.png"
    assert refnet_main([*_DIVERGE, "--guard", "off", "--plot", str(png)]) == 1
    captured = capsys.readouterr()
    assert "final loss: nan" in captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "non-finite run: final loss is nan" in lines[0]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_draws_nan_predictions_as_undecided_and_says_so(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from refnet import plotting

    p = np.array([0.2, 0.7, np.nan, 0.5, np.nan])
    zero, one, undecided = plotting.decisions(p)
    assert zero.tolist() == [True, False, False, False, False]
    assert one.tolist() == [False, True, False, False, False]
    assert undecided.tolist() == [False, False, True, True, True]  # as accuracy counts them
    labels: list[list[str]] = []
    real_close = plt.close

    def keep_legends(fig: object) -> None:
        labels.extend([[t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes[:2]])  # type: ignore[attr-defined]
        real_close(fig)  # type: ignore[arg-type]

    x = np.linspace(0, 1, 10).reshape(5, 2)
    y = np.array([[0.0], [1.0], [0.0], [1.0], [1.0]])
    plt.close = keep_legends  # type: ignore[assignment]
    try:
        plotting.plot_run(x, y, p, np.array([0.5, np.nan]), tmp_path / "p.png")
    finally:
        plt.close = real_close  # type: ignore[assignment]
    assert labels[0] == ["class 0", "class 1"]
    assert labels[1] == ["class 0", "class 1", "undecided: p NaN or 0.5 (3)"]


# -- eval and predict from saved weights, help text --------------------------------------------

def test_eval_and_predict_use_the_saved_network(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from refnet import mlp, save, train
    from refnet.data import xor_easy

    x, y = xor_easy()
    net = mlp(activation="relu", loss="bce", seed=3, sigmoid="naive")
    train(net, x, y, lr=0.05, epochs=300, convention="lab-evidence")
    weights = tmp_path / "w.npz"
    save(net, weights)
    points = tmp_path / "points.csv"
    points.write_text("# x0, x1\n0, 0\n0.2,0.9\n1,1\n")
    capsys.readouterr()
    assert refnet_main(["predict", "--weights", str(weights), str(points)]) == 0
    printed = [float(v) for v in capsys.readouterr().out.split()]
    expected = net.predict(np.array([[0.0, 0.0], [0.2, 0.9], [1.0, 1.0]]))[0, :, 0]
    assert printed == expected.tolist()  # 17 significant digits: the float64 values exactly
    plot = tmp_path / "boundary.png"
    assert refnet_main(["eval", "--weights", str(weights), "--data", "xor", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    with np.errstate(all="ignore"):
        loss = float(net.loss.value(net.forward(net.as_input(x)), net.precision.asarray(y, name="y")[None])[0])
    assert f"loss (of the saved weights): {loss:.6g}" in out and "accuracy:" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv,message", [
    (["eval", "--weights", "/nonexistent.npz"], "--weights"),
    (["predict", "--weights", "/nonexistent.npz", "/nonexistent.csv"], "--weights"),
    (["eval"], "--weights"),
])
def test_eval_and_predict_bad_arguments_exit_2(argv: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert refnet_main(argv) == 2
    err = capsys.readouterr().err
    assert "error:" in err and message in err and "Traceback" not in err


def test_predict_refuses_points_of_the_wrong_width(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from refnet import mlp, save

    weights, points = tmp_path / "w.npz", tmp_path / "p.csv"
    save(mlp(seed=0), weights)
    points.write_text("1,2,3\n")
    assert refnet_main(["predict", "--weights", str(weights), str(points)]) == 2
    assert "points: expected rows of 2" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "eval", "predict"])
def test_help_is_plain_text_with_defaults(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert refnet_main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text and ":class:" not in text
    if command == "train":
        for default in ("(default: 1.0)", "(default: 20000)", "(default: sigmoid)", "(default: mse)"):
            assert default in text, default


def test_the_refnet_console_script_is_declared() -> None:
    """``pip install`` puts a ``refnet`` command on PATH that runs the same ``main``."""
    import importlib.metadata

    (entry,) = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "refnet"]
    from refnet.cli import main

    assert entry.load() is main
