"""``python -m verify.compare``: every fixture caught and named by the check meant to catch it."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from refnet.conventions import Published
from refnet.data import xor_easy
from refnet.train import train
from verify.compare import main
from verify.compare.adapter import load, recognise
from verify.compare.cli import check
from verify.compare.diagnose import relative_words
from verify.compare.onestep import build_refnet, walk
from verify.compare.setting import convention_name, refnet_setting

FIXTURES = Path(__file__).parent / "compare_fixtures"
EPOCHS = 15


def spec(name: str, cls: str = "Net") -> str:
    return f"{FIXTURES / name}.py:{cls}"


def first_failure(name: str, **kw: object) -> tuple[str, str]:
    report = check(spec(name), epochs=EPOCHS, **kw)  # type: ignore[arg-type]
    first = report.first_failure
    assert first is not None and first.failure is not None, f"{name} passed every check"
    return first.name, first.failure.message


@pytest.mark.parametrize("name, cls", [("lab_correct", "Net"), ("lab_correct", "ReluBceNet"),
                                       ("textbook_correct", "Net")])
def test_correct_implementations_pass_all_three_checks(name: str, cls: str) -> None:
    report = check(spec(name, cls), epochs=EPOCHS)
    assert [c.status for c in report.checks] == ["PASS", "PASS", "PASS"], report.first_failure


def test_conventions_are_detected_and_named() -> None:
    lab = check(spec("lab_correct"), epochs=EPOCHS)
    assert lab.convention["loss gradient"].startswith("summed (N = 21")
    assert lab.convention["update"].startswith("inside backward")
    # the fixture's sigmoid is the lab's naive formula, read from its bits: refnet computes the same one
    assert recognise(load(spec("lab_correct"))).sigmoid == "naive"
    assert "sigmoid_1: sigmoid (width 4), naive 1 / (1 + exp(-x)) bit for bit" in lab.recognised
    assert lab.settings["refnet"] == "convention='lab[gradient=sum,mse=2(y-t),log=e,sigmoid=naive,batch=full]', lr 0.1"
    text = check(spec("textbook_correct"), epochs=EPOCHS)
    assert text.convention["loss gradient"].startswith("mean")
    assert text.convention["update"].startswith("after")
    assert text.settings["refnet"] == "convention='default', lr 0.1"
    mixed = check(spec("update_before_meant_after"), epochs=EPOCHS)   # MSE: mean gradient, update inside
    assert mixed.passed
    # the lab's published MSE conventions with the naive sigmoid: refnet runs its published arithmetic
    assert mixed.settings["refnet"] == "convention='lab', lr 0.1"
    # a BCE in nats with the mean's gradient is not the lab's (bits, gradient of the sum): a reading
    bce = check(spec("lab_correct", "ReluBceNet"), epochs=EPOCHS)
    assert bce.settings["refnet"] == "convention='lab[gradient=mean,mse=2(y-t),log=e,sigmoid=naive,batch=full]', lr 0.1"


SIGMOIDS = {  # a student's sigmoid formula -> what its bits are read as, refnet's convention
    "stable": ("z = np.exp(-np.abs(x)); s = z / (1.0 + z); return np.where(x >= 0, 1.0 - s, s)",
               "stable", "refnet's stable formula bit for bit", "lab-sum"),
    "other": ("return np.exp(np.minimum(x, 0)) / (np.exp(np.minimum(x, 0)) + np.exp(-np.maximum(x, 0)))",
              "stable", "neither refnet formula bit for bit", "lab-sum"),
}


@pytest.mark.parametrize("which", sorted(SIGMOIDS))
def test_the_students_sigmoid_formula_is_read_from_its_bits(
        which: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body, formula, text, convention = SIGMOIDS[which]
    path = tmp_path / f"sigmoid_{which}.py"
    path.write_text("import numpy as np\nfrom lab_correct import Net as Base\n"
                    "class Sigmoid:\n    def forward(self, x):\n        self.y = self._f(x)\n        return self.y\n"
                    f"    def _f(self, x):\n        {body}\n"
                    "    def backward(self, g, lr=0.1):\n        return g * self.y * (1.0 - self.y)\n"
                    "class Net(Base):\n    activation = Sigmoid\n    def __init__(self):\n"
                    "        super().__init__()\n        self.layers['sigmoid_3'] = Sigmoid()\n")
    monkeypatch.syspath_prepend(str(FIXTURES))
    student = recognise(load(f"{path}:Net"))
    assert student.sigmoid == formula
    assert f"sigmoid_1: sigmoid (width 4), {text}" in student.describe()
    report = check(f"{path}:Net", epochs=EPOCHS)
    assert report.passed, report.first_failure
    assert report.settings["refnet"] == f"convention={convention!r}, lr 0.1"


# fixture -> the start of check 1's explanation (the formula found, then the one expected) and what check 2's
# explanation of its first failing site contains (the same slip named from the student's own step)
SLIPS = {
    "sigmoid_y": ("sigmoid_1.backward computes the derivative y; expected the derivative y (1 - y)",
                  "sigmoid_2.backward computes the derivative y; expected the derivative y (1 - y)"),
    "sigmoid_one_plus_y": ("sigmoid_1.backward computes the derivative y (1 + y); expected the derivative y (1 - y)",
                           "sigmoid_2.backward computes the derivative y (1 + y); expected"),
    "sigmoid_one_minus_y": ("sigmoid_1.backward computes the derivative 1 - y; expected the derivative y (1 - y)",
                            "sigmoid_2.backward computes the derivative 1 - y; expected"),
    "relu_mask_wrong_side": ("relu_1.backward computes the mask x <= 0; expected the mask x > 0",
                             "relu_2.backward computes the mask x <= 0; expected the mask x > 0"),
    "relu_in_place_unmasked": ("relu_1.backward computes no mask (prev_grad passes through unchanged); "
                               "expected the mask x > 0", "relu_2.backward computes no mask"),
    "transposed_weight_gradient": ("linear_1 computes the weight gradient as prev_grad^T x reshaped to w's shape; "
                                   "expected x^T prev_grad",
                                   "linear_2 computes the weight gradient as prev_grad^T x; expected x^T prev_grad"),
    "weight_gradient_averaged": ("linear_1 computes the weight gradient as x^T prev_grad / N (N = 5); "
                                 "expected x^T prev_grad", "output computes the weight gradient as x^T prev_grad / N"),
    "input_gradient_not_transposed": ("linear_2.backward (at lr = 0) computes the input gradient as prev_grad @ w; "
                                      "expected prev_grad @ w^T",
                                      "linear_2.backward computes the input gradient as prev_grad @ w; expected"),
    "bias_not_summed": ("linear_1 computes the bias gradient as prev_grad, one row per sample; expected the sum of "
                        "prev_grad over the batch (axis 0)", "linear_2 computes the bias gradient as prev_grad"),
    "bias_summed_over_features": ("linear_1 computes the bias gradient as the sum of prev_grad over features (axis 1); "
                                  "expected the sum over the batch (axis 0)",
                                  "linear_2 computes the bias gradient as the sum of prev_grad over features"),
    "bce_no_delta": ("loss_func.backward computes -(t / y - (1 - t) / (1 - y)) / N; "
                     "expected -(t / (y + d) - (1 - t) / (1 - y + d)) / N with d = 1e-07",
                     "loss_func.backward computes -(t / y - (1 - t) / (1 - y)) / N; expected"),
    "mse_no_factor_2": ("loss_func.backward computes y - t; expected 2 (y - t)",
                        "loss_func.backward computes y - t; expected 2 (y - t)"),
}


@pytest.mark.parametrize("name", sorted(SLIPS))
def test_each_slip_is_named_with_the_formula_found_and_the_one_expected(name: str) -> None:
    report = check(spec(name), epochs=EPOCHS)
    first, second = report.checks[0], report.checks[1]
    assert first.status == "FAIL" and first.failure is not None and second.failure is not None
    assert first.failure.message.startswith(SLIPS[name][0]), first.failure.message
    assert second.failure.message.startswith(SLIPS[name][1]), second.failure.message
    # the explanation comes first, the numbers after it
    assert ". In numbers: " in second.failure.message
    assert second.failure.fields["explanation"] == second.failure.message.split(". In numbers: ")[0]


def test_a_slip_outside_the_known_ones_is_expected_x_got_y(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sigmoid_odd.py"
    path.write_text("from lab_correct import Net as Base, Sigmoid\n"
                    "class Odd(Sigmoid):\n    def backward(self, prev_grad, lr=0.1):\n"
                    "        return prev_grad * self.y * (1.0 - self.y) + 0.01 * self.y\n"
                    "class Net(Base):\n    activation = Odd\n")
    monkeypatch.syspath_prepend(str(FIXTURES))
    report = check(f"{path}:Net", epochs=EPOCHS)
    first, second = report.checks[0].failure, report.checks[1].failure
    assert first is not None and second is not None
    assert re.match(r"sigmoid_1\.backward returns a gradient that is not prev_grad times the derivative y \(1 - y\); "
                    r"expected -?[0-9.e+-]+, got -?[0-9.e+-]+ at \[\d+,\d+\] \((off by [0-9.,e+-]+ %, too "
                    r"(large|small)|wrong sign, size off by [0-9.,e+-]+ %)\); \d+ of \d+ elements differ$",
                    first.message), first.message
    assert "explanation" not in second.fields          # no known slip: the numbers alone
    assert re.match(r"sigmoid_2\.backward returned gradient differs from refnet's at \[\d+,\d+\]: expected "
                    r"-?[0-9.e+-]+, got -?[0-9.e+-]+ \((off by|wrong sign)", second.message), second.message


def test_one_ulp_figure_per_finding_in_the_headline_and_the_detail() -> None:
    """The issue's case: the headline said 1.67e+16 ulps and the detail line 2.08e+16 for one finding."""
    for name in ("sigmoid_y", "transposed_weight_gradient", "weight_gradient_averaged"):
        step = check(spec(name), epochs=EPOCHS).checks[1]
        assert step.failure is not None
        f = step.failure
        idx = ",".join(str(i) for i in f.fields["index"])  # type: ignore[attr-defined]
        shown = f"{float(f.fields['ulps']):.3g} ulps"  # type: ignore[arg-type]
        assert f"at [{idx}]: expected" in f.message and shown in f.message
        detail = [ln for ln in step.lines if ln.startswith(f"{f.site} {f.quantity}:")]
        assert detail == [f"{f.site} {f.quantity}: FAIL at [{idx}]: {shown} (bound "
                          f"{float(f.fields['bound_ulps']):.3g}), {f.fields['relative_error']}"], detail  # type: ignore[arg-type]


def test_an_expected_exact_zero_is_said_in_words_not_in_ulps() -> None:
    step = check(spec("relu_in_place_unmasked"), epochs=EPOCHS).checks[1]
    assert step.failure is not None
    assert "expected exactly 0, got 0.1052895631" in step.failure.message
    assert "inf ulps" not in step.failure.message and "ulps" not in step.failure.message.split("In numbers:")[1]
    assert step.failure.fields["ulps"] is None
    assert "relu_2.backward returned gradient: FAIL at [13,3]: expected exactly 0, got 0.1053" in step.lines


@pytest.mark.parametrize("got, want, words", [
    (52.0, 1.0, "off by 5,100 %, too large"),
    (0.5, 1.0, "off by 50 %, too small"),
    (-1.0, 1.0, "wrong sign, same size"),
    (-0.7, 1.0, "wrong sign, size off by 30 %"),
    (1.0 + 2e-7, 1.0, "off by 2.0e-05 %, too large"),
    (3.0, 0.0, "expected exactly 0"),
    (0.0, 2.0, "0 instead of a nonzero value"),
    (float("nan"), 1.0, "not a finite number"),
])
def test_relative_error_in_words(got: float, want: float, words: str) -> None:
    assert relative_words(got, want) == words


def test_a_loss_gradient_that_matches_neither_reading_says_what_it_is_compared_with() -> None:
    step = check(spec("mse_no_factor_2"), epochs=EPOCHS).checks[1]
    assert step.failure is not None
    assert ("your loss gradient is neither the mean's nor the sum's, so check 2 compares it, and everything after "
            "it, with the sum's, 2 (y - t) (the scale of the slip named)") in step.failure.message
    assert step.lines[0].startswith("loss gradient: your loss gradient is neither the mean's nor the sum's")


def test_the_labs_page14_bce_runs_under_lab_page14() -> None:
    report = check(spec("bce_page14"), epochs=EPOCHS)
    assert [c.status for c in report.checks] == ["PASS", "PASS", "PASS"], report.first_failure
    assert report.settings["refnet"] == "convention='lab-page14', lr 0.1"
    assert report.convention["loss gradient"].startswith("the lab's page-14 form (y - t) / (y (1 - y) N)")
    assert any("convention='lab-page14' (refnet.conventions.Published(bce='page14'))" in n for n in report.notes)
    assert "loss_func: PASS ((y - t) / (y (1 - y) N), the lab's page-14 form" in report.checks[0].lines[-1]
    # the same operations in the same order as Published(bce="page14"): bit for bit
    assert report.checks[1].data["worst_ulps"] == 0.0 and report.checks[2].data["worst_ulps"] == 0.0
    # --gradient sum refuses it; a page-14 gradient beside a loss reported in nats is no convention: the delta is missing
    which, message = first_failure("bce_page14", gradient="sum")
    assert which == "self-consistency" and "expected -(t / (y + d) - (1 - t) / (1 - y + d)) with d = 1e-07" in message
    nats = check(spec("bce_page14", "NatsNet"), epochs=EPOCHS)
    assert nats.checks[0].failure is not None
    assert "the delta 1e-07 that forward puts inside log(y + delta) is left out" in nats.checks[0].failure.message


def test_stale_cache_is_caught_by_the_run_in_words() -> None:
    which, message = first_failure("stale_cache")
    assert which == "run"
    assert re.search(r"departs from refnet's at epoch 2: expected -?[0-9.]+, got -?[0-9.]+ \(off by [0-9.e+-]+ %, "
                     r"too (large|small); [0-9.e+]+ ulps where the bound grown by then allows", message), message


def test_relu_mutating_its_input_is_caught_by_check_1() -> None:
    which, message = first_failure("relu_mutates_input")
    assert which == "self-consistency" and message.startswith("relu_1.forward changes its x argument in place")


def test_transposed_square_layer_is_named_transposed() -> None:
    report = check(spec("transposed_weight_gradient"), epochs=EPOCHS)
    lines = "\n".join(report.checks[0].lines)
    assert "linear_2: FAIL" in lines and "output: PASS" in lines
    from verify.compare.selfcheck import _rerun
    student = recognise(load(spec("transposed_weight_gradient")))
    assert _rerun(student, 2, 0) == ("linear_2 computes the weight gradient as prev_grad^T x; "
                                     "expected x^T prev_grad (transposed)")


def test_intent_turns_a_legitimate_convention_into_a_named_failure() -> None:
    assert check(spec("bce_no_batch_division"), epochs=EPOCHS).passed   # summed gradient: legitimate
    which, message = first_failure("bce_no_batch_division", gradient="mean")
    assert which == "self-consistency"
    assert message == ("loss_func.backward computes -(t / (y + d) - (1 - t) / (1 - y + d)) with d = 1e-07, the "
                       "gradient of the summed loss; expected -(t / (y + d) - (1 - t) / (1 - y + d)) / N with "
                       "d = 1e-07: the division by the batch size N is missing, but --gradient mean was asked for")
    assert check(spec("update_before_meant_after"), epochs=EPOCHS).passed  # the lab's order: legitimate
    which, message = first_failure("update_before_meant_after", update="after")
    assert which == "one-step"
    assert message.startswith("output.backward sends the gradient down through the updated weights")
    which, message = first_failure("textbook_correct", update="inside")
    assert which == "one-step" and "through the old weights" in message


def test_one_step_walk_is_refnets_training_step_bit_for_bit() -> None:
    student = recognise(load(spec("lab_correct")))
    x, t = xor_easy()
    relu_bce = recognise(load(spec("lab_published", "ReluBce")))
    for who, gradient, update, name in (
            (student, "summed", "inside", "lab[gradient=sum,mse=2(y-t),log=e,sigmoid=naive,batch=full]"),
            (student, "mean", "inside", "lab"),            # MSE, mean gradient, naive sigmoid: published
            (student, "mean", "after", "default"),
            (relu_bce, "summed", "inside", "lab"),         # BCE in bits, gradient of the sum: published
            (relu_bce, "mean", "inside", "lab[gradient=mean,mse=2(y-t),log=2,sigmoid=naive,batch=full]")):
        setting = refnet_setting(gradient, update, 0.1, int(t.size), who.sigmoid, who.loss)  # type: ignore[arg-type]
        assert (convention_name(setting.convention), setting.lr) == (name, 0.1)
        assert setting.published == (name == "lab")
        walked = build_refnet(who, who.net, relu=setting.relu)
        published = setting.convention if isinstance(setting.convention, Published) else None
        walk(who, walked, x, t, 0.1, gradient, update, published)  # type: ignore[arg-type]
        trained = build_refnet(who, who.net, relu=setting.relu)
        train(trained, x, t, lr=setting.lr, epochs=1, convention=setting.convention)
        for key, value in trained.named_params().items():
            assert value.tobytes() == walked.named_params()[key].tobytes(), (name, key)


def test_checks_never_touch_the_students_object() -> None:
    student = recognise(load(spec("lab_correct")))
    before = {k: np.array(getattr(v, "w"), copy=True) for k, v in getattr(student.net, "layers").items()
              if hasattr(v, "w")}
    check(spec("lab_correct"), epochs=3)
    report = check(spec("lab_correct"), epochs=3)
    assert report.passed
    for k, w in before.items():
        assert np.array_equal(getattr(getattr(student.net, "layers")[k], "w"), w)


def test_command_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main([spec("lab_correct"), "--epochs", "5", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["status"] == "PASS" and [c["status"] for c in data["checks"]] == ["PASS"] * 3
    assert data["hazards"] == [] and data["convention"]["refnet"] == "convention='lab[gradient=sum,mse=2(y-t),log=e,sigmoid=naive,batch=full]', lr 0.1"
    assert "linear_1: Linear 2 -> 4, bias (1, 4)" in capsys.readouterr().out
    assert main([spec("sigmoid_y"), "--epochs", "5", "--quiet", "--json", str(out)]) == 1
    data = json.loads(out.read_text())
    assert data["first_failure"]["check"] == "self-consistency"
    assert data["first_failure"]["site"] == "sigmoid_1.backward"
    assert "FAIL (self-consistency): sigmoid_1.backward" in capsys.readouterr().out
    assert main([spec("lab_correct"), "--data", "linear", "--epochs", "5", "--quiet"]) == 0


BAD_CLASSES = {
    "no_layers.py": ("class Net:\n    def forward(self, x):\n        return x\n", "has no attribute 'layers'"),
    "raises.py": ("raise RuntimeError('boom')\n", "importing"),
    "odd_layer.py": ("import numpy as np\nfrom collections import OrderedDict\n"
                     "from lab_correct import Net as Base, Linear\n"
                     "class Square:\n    def forward(self, x):\n        return x * x\n"
                     "    def backward(self, g, lr=0.1):\n        return g\n"
                     "class Net(Base):\n    def __init__(self):\n        super().__init__()\n"
                     "        self.layers['sigmoid_1'] = Square()\n",
                     "computes none of sigmoid, ReLU, tanh, identity"),
}


@pytest.mark.parametrize("filename", sorted(BAD_CLASSES))
def test_objects_that_do_not_fit_exit_2_with_an_error_line(
        filename: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    source, expected = BAD_CLASSES[filename]
    path = tmp_path / filename
    path.write_text(source)
    monkeypatch.syspath_prepend(str(FIXTURES))
    assert main([f"{path}:Net", "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "python -m verify.compare: error:" in err and expected in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [[], ["no_colon.py"], ["missing.py:Net"], [f"{FIXTURES}/lab_correct.py:Nope"],
                                  [f"{FIXTURES}/lab_correct.py:Linear"], ["x.py:Net", "--epochs", "0"],
                                  ["x.py:Net", "--lr", "-1"], ["x.py:Net", "--data", "mnist"]])
def test_bad_arguments_exit_2_without_traceback(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:   # argparse's own errors
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_help_warns_that_importing_runs_the_students_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "importing the student's file runs their code" in capsys.readouterr().out


PUBLISHED_LR = 0.001490625   # the rate of the lab's converging ReLU + BCE run


@pytest.mark.parametrize("cls, lr, loss_line, reported, gradient", [
    ("SigmoidMse", 0.1, "loss_func: mean squared error", "the batch mean", "mean (d mean loss / dy)"),
    ("ReluBce", PUBLISHED_LR, "loss_func: mean binary cross-entropy (delta 1e-07), in bits (log2)",
     "the batch mean in bits (log2)", "summed (N = 21 x the mean's) in nats"),
])
def test_the_labs_published_arithmetic_is_recognised_and_run_under_lab(
        cls: str, lr: float, loss_line: str, reported: str, gradient: str) -> None:
    report = check(spec("lab_published", cls), lr=lr, epochs=EPOCHS)
    assert [c.status for c in report.checks] == ["PASS", "PASS", "PASS"], report.first_failure
    assert loss_line in report.recognised
    assert report.convention["loss reported"] == reported
    assert report.convention["loss gradient"] == gradient + " [detected]"
    assert report.convention["update"].startswith("inside backward")
    assert report.settings["refnet"] == f"convention='lab', lr {lr:.10g}"
    assert any("refnet runs under convention='lab' (refnet.conventions.Published)" in n for n in report.notes)
    # the fixture computes the lab's operations in the lab's order, as refnet's `lab` does: every compared
    # array is equal bit for bit (0 ulps, no tolerance), in the step and over the run
    assert report.checks[1].data["worst_ulps"] == 0.0
    assert report.checks[2].data["worst_ulps"] == 0.0


def _sites(hazards: tuple[str, ...]) -> set[str]:
    return {h.split(" writes into ")[0] for h in hazards}


def test_an_in_place_relu_gradient_is_a_named_hazard_not_a_failure() -> None:
    lab = check(spec("lab_published", "ReluBce"), lr=PUBLISHED_LR, epochs=EPOCHS)
    assert lab.passed and _sites(lab.hazards) == {"rectifier_1.backward", "rectifier_2.backward"}
    assert all("in place" in h and "returns that same array" in h for h in lab.hazards)
    assert check(spec("lab_published", "SigmoidMse"), epochs=EPOCHS).hazards == ()
    mutating = check(spec("relu_mutates_prev_grad"), epochs=EPOCHS)
    assert mutating.passed and _sites(mutating.hazards) == {"relu_1.backward", "relu_2.backward"}
    # a hazard never hides wrong numbers: here the returned gradient misses the mask
    unmasked = check(spec("relu_in_place_unmasked"), epochs=EPOCHS)
    assert _sites(unmasked.hazards) == {"relu_1.backward", "relu_2.backward"}
    which, message = first_failure("relu_in_place_unmasked")
    assert which == "self-consistency" and "the mask x > 0 is missing" in message


def test_gradient_intent_is_spelled_sum_or_summed(capsys: pytest.CaptureFixture[str]) -> None:
    relu_bce = [spec("lab_published", "ReluBce"), "--lr", str(PUBLISHED_LR), "--epochs", "5", "--quiet"]
    assert main([*relu_bce, "--gradient", "sum"]) == 0
    assert main([*relu_bce, "--gradient", "summed"]) == 0
    assert main([*relu_bce, "--gradient", "mean"]) == 1
    assert "the division by the batch size N is missing, but --gradient mean was asked for" in capsys.readouterr().out
    which, message = first_failure("textbook_correct", gradient="sum")
    assert which == "self-consistency" and message == (
        "loss_func.backward computes 2 (y - t) / N, the gradient of the mean loss; expected 2 (y - t) (N x that), "
        "as --gradient sum was asked for")


BCE_FORMS = {  # a BCE forward (the backward stays the lab's gradient of the sum in nats) -> recognised, refnet
    "sum_bits": ("return -np.sum(t * np.log2(y + DELTA) + (1 - t) * np.log2(1 - y + DELTA))",
                 "loss_func: sum binary cross-entropy (delta 1e-07), in bits (log2)",
                 "lab[gradient=sum,mse=2(y-t),log=2,sigmoid=naive,batch=full]"),
    "mean_nats": ("return -np.mean(t * np.log(y + DELTA) + (1 - t) * np.log(1 - y + DELTA))",
                  "loss_func: mean binary cross-entropy (delta 1e-07)",
                  "lab[gradient=sum,mse=2(y-t),log=e,sigmoid=naive,batch=full]"),
}


@pytest.mark.parametrize("form", sorted(BCE_FORMS))
def test_a_bce_reported_otherwise_is_a_reading_in_its_units(
        form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body, recognised, convention = BCE_FORMS[form]
    path = tmp_path / f"bce_{form}.py"
    path.write_text("import numpy as np\nfrom lab_published import DELTA, CrossEntropyBits, ReluBce\n"
                    "class Loss(CrossEntropyBits):\n    def forward(self, y, t):\n        self.y, self.t = y, t\n"
                    f"        {body}\n"
                    "class Net(ReluBce):\n    loss = Loss\n")
    monkeypatch.syspath_prepend(str(FIXTURES))
    report = check(f"{path}:Net", lr=PUBLISHED_LR, epochs=EPOCHS)
    assert report.passed, report.first_failure
    assert recognised in report.recognised
    assert report.settings["refnet"] == f"convention={convention!r}, lr {PUBLISHED_LR:.10g}"


ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "docs" / "figures" / "compare").glob("*.txt"))


def _example(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The committed example's command, run now: ``$ command``, its output, ``(exit status N)``."""
    command = path.read_text().splitlines()[0]
    argv = shlex.split(command.removeprefix("$ "))
    assert argv[:3] == ["python", "-m", "verify.compare"], command
    capsys.readouterr()
    code = main(argv[3:])
    return f"{command}\n{capsys.readouterr().out}(exit status {code})\n"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_committed_examples_are_what_the_current_code_prints(
        path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/compare.md shows these files; REFNET_WRITE_EXAMPLES=1 rewrites them from the current code."""
    monkeypatch.chdir(ROOT)
    produced = _example(path, capsys)
    if os.environ.get("REFNET_WRITE_EXAMPLES") == "1":
        path.write_text(produced)
    assert path.read_text() == produced


def test_docs_show_the_committed_examples() -> None:
    doc = (ROOT / "docs" / "compare.md").read_text()
    shown = re.findall(r"<!-- example: (\S+) -->\n```text\n(.*?)```", doc, flags=re.S)
    assert sorted(name for name, _ in shown) == sorted(p.name for p in EXAMPLES)
    for name, block in shown:
        assert block == (ROOT / "docs" / "figures" / "compare" / name).read_text(), name


def test_a_run_that_diverges_in_refnet_too_stops_without_a_verdict(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab's network without activations (no sigmoid at all) goes non-finite at lr 0.01, in refnet too."""
    path = tmp_path / "no_activation.py"
    path.write_text("from lab_published import SigmoidMse\n"
                    "class Identity:\n    def forward(self, x):\n        return x.copy()\n"
                    "    def backward(self, prev_grad, lr=0.1):\n        return prev_grad\n"
                    "class Net(SigmoidMse):\n    hidden = Identity\n    def __init__(self):\n"
                    "        super().__init__()\n        del self.layers['out_sigmoid']\n")
    monkeypatch.syspath_prepend(str(FIXTURES))
    report = check(f"{path}:Net", lr=0.01, epochs=50)
    assert report.passed, report.first_failure
    assert report.settings["refnet"] == "convention='lab', lr 0.01"   # no sigmoid: the published arithmetic fits
    run = report.checks[2]
    assert 1 < int(run.data["diverged"]) < 50 and run.data["worst_ulps"] == 0.0   # type: ignore[call-overload]
    assert "refnet's own run goes non-finite" in run.summary and "and so does yours" in run.summary
