"""The overflow study and the two options of ``refnet.lab.run`` it stands on (``observer``, ``stop``).

Equalities between runs are exact (``array_equal``, NaNs equal): stopping or watching a run must
not change one bit of it. The lab's first try is deterministic for a given seed on this
machine's BLAS (``tests/test_lab.py`` pins it byte for byte), so a few of its events are pinned.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from refnet import lab
from refnet.data import xor_easy
from verify.common.hessian import hessian, sharpness
from verify.common.report import png_size, prose_problems
from verify.overflow import cli
from verify.overflow import study as overflow
from verify.overflow.report import doc_page, write_doc, write_report
from verify.overflow.runs import (SeedRun, Tracer, best_linear_accuracy, category, frobenius, trace_run)

FIRST = lab.EXPERIMENTS["no-activation"]
VERDICTS = {"holds", "does not hold", "partly holds", "not testable", "undecided"}


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


# -- refnet.lab: stop and observer -------------------------------------------------------------
def test_stop_at_the_first_event_changes_no_bit_of_the_epochs_that_ran() -> None:
    cfg = FIRST.but(epochs=400, log_every=1)
    stopped = lab.run(cfg, 2, guard="record", stop="first-event")
    assert stopped.events and stopped.stopped_at == stopped.events[0].epoch == 83
    assert stopped.logged.shape == (84, 2)
    plain = lab.run(cfg.but(epochs=84), 2)
    assert plain.stopped_at is None
    assert _equal(stopped.logged, plain.logged)
    for name, value in plain.params.items():
        assert _equal(stopped.params[name], value), name


def test_stop_at_non_finite_parameters_is_the_first_epoch_that_leaves_one() -> None:
    cfg = FIRST.but(epochs=1000, log_every=1)
    r = lab.run(cfg, 0, stop="non-finite")
    assert r.stopped_at is not None
    assert not all(np.isfinite(v).all() for v in r.params.values())
    before = lab.run(cfg.but(epochs=r.stopped_at), 0)  # one epoch fewer: every parameter finite
    assert all(np.isfinite(v).all() for v in before.params.values())
    assert r.accuracy == 0.0 and np.isnan(r.predictions).all()


def test_a_run_the_stop_rule_never_meets_runs_every_epoch() -> None:
    cfg = lab.EXPERIMENTS["output-sigmoid-only"].but(epochs=50, log_every=5)
    r = lab.run(cfg, 1, stop="non-finite")
    assert r.stopped_at is None and r.logged.shape == (10, 2)
    assert _equal(r.logged, lab.run(cfg, 1).logged)


def test_an_observer_sees_every_step_and_changes_nothing() -> None:
    cfg = FIRST.but(epochs=30, log_every=1)
    rs = np.random.RandomState(4)
    lab.draw_data(cfg, rs)
    tracer = Tracer(lab.draw_params(cfg, rs), cfg.iterations, snapshots=True)
    watched = lab.run(cfg, 4, observer=tracer, guard="record")
    tracer.finish()
    assert len(tracer.norms) == 30 * cfg.iterations and len(tracer.params_at_epoch) == 30
    assert [row[0] for row in tracer.norms] == list(range(30 * cfg.iterations))
    plain = lab.run(cfg, 4)
    assert _equal(watched.logged, plain.logged)
    # the tracer's last weights are the run's final ones
    assert _equal(np.asarray(tracer.current["output.W"]), plain.params["output.W"])
    assert tracer.norms[-1][3] == pytest.approx(float(np.linalg.norm(plain.params["output.W"])), rel=1e-14)


@pytest.mark.parametrize("kwargs, match", [
    ({"stop": "first-event"}, "^stop: 'first-event' needs a guard"),
    ({"stop": "soon"}, "^stop"),
])
def test_bad_stop_values_name_the_argument(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        lab.run(FIRST.but(epochs=2), 0, **kwargs)  # type: ignore[arg-type]


def test_a_bad_observer_names_the_argument() -> None:
    with pytest.raises(TypeError, match="^observer"):
        lab.run(FIRST.but(epochs=2), 0, observer=object())  # type: ignore[arg-type]


# -- the pieces of the study ---------------------------------------------------------------------
def test_frobenius_stays_finite_where_the_sum_of_squares_overflows() -> None:
    big = np.array([[3e200, 4e200]])
    assert frobenius(big) == pytest.approx(5e200, rel=1e-15)
    with np.errstate(over="ignore"):
        assert math.isinf(float(np.linalg.norm(big.ravel())))  # what the plain formula gives
    assert math.isnan(frobenius(np.array([1.0, np.nan, np.inf])))
    assert frobenius(np.array([1.0, -np.inf])) == math.inf
    assert frobenius(np.zeros(3)) == 0.0


@pytest.mark.parametrize("operation, role, kind", [
    ("x @ W + b", "pre-activation", "matrix product"), ("dy @ W^T", "input gradient", "matrix product"),
    ("x^T @ dy", "weight gradient", "matrix product"), ("terms", "loss terms", "square of the MSE"),
    ("W - lr * dW", "weight", "other"), ("sum(dy)", "bias gradient", "other"),
])
def test_operations_are_grouped_by_kind(operation: str, role: str, kind: str) -> None:
    assert category(operation, role) == kind


def test_best_line_on_the_lab_xor_is_16_of_21() -> None:
    x, t = xor_easy()
    assert best_linear_accuracy(x, t) == pytest.approx(100 * 16 / 21, abs=1e-12)
    # linearly separable points: a line gets them all
    pts = np.array([[0.0, 0.0], [0.1, 0.2], [1.0, 1.0], [0.9, 0.8]])
    assert best_linear_accuracy(pts, np.array([0, 0, 1, 1])) == 100.0


@pytest.mark.parametrize("seed", [0, 2, 7])
def test_sharpness_is_the_top_eigenvalue_and_the_first_block_bounds_it_from_below(seed: int) -> None:
    x, t = xor_easy()
    rs = np.random.RandomState(seed)
    lab.draw_data(FIRST, rs)
    params = lab.draw_params(FIRST, rs)
    net = FIRST.build()
    net.set_params(dict(params))
    top = sharpness(net, x, t)
    # the same difference quotient: the eigenvalue solvers agree to rounding
    assert top == pytest.approx(hessian(net, x, t).lambda_max, rel=1e-10)
    bound = overflow._init_bound(seed)
    assert bound["sharpness"] == top
    assert 0 < bound["block_bound"] <= top * (1 + 1e-6)  # a block's top eigenvalue never exceeds the whole's


def test_the_lab_first_try_seed_0_and_seed_5() -> None:
    """Two seeds of the lab's program: a product goes non-finite first (seed 0) or the square (seed 5)."""
    zero = trace_run(FIRST, 0, detail=True)
    assert zero.event is not None and zero.event.category == "matrix product"
    assert (zero.event.epoch, zero.event.phase, zero.event.layer) == (163, "backward", "linear_2")
    assert zero.square_steps == ()
    assert zero.stopped_at == 163 and zero.params_all_nan and zero.predictions_nan == 21
    # the sharpness crosses 2 / lr a couple of epochs before the event and the weights explode
    crossing = zero.sharpness_crossing(overflow.BOUND)
    assert crossing is not None and 0 < zero.event.epoch - crossing <= 5
    before = zero.norms[zero.norms[:, 0] < zero.event.step]
    assert before[-1, 1] > 1e30 > 1e2 > before[0, 1]
    five = trace_run(FIRST, 5)
    assert five.event is not None and five.event.category == "square of the MSE" and five.event.epoch == 300
    assert five.square_steps and five.square_steps[0] == five.event.step


# -- the study, its report and claims ---------------------------------------------------------------
SMALL = overflow.Config(seeds=(0, 1, 5), batch_sizes=(1, 5, 20), sweep_updates=300, second_epochs=400,
                        second_seeds=(0, 1), workers=0, quick=True)


@pytest.fixture(scope="module")
def small_study() -> overflow.Study:
    return overflow.run_study(SMALL)


def test_small_study_reproduces_and_reports(small_study: overflow.Study, tmp_path: Path) -> None:
    ok, summary = overflow.verdict(small_study)
    assert ok, summary
    assert [r.seed for r in small_study.main] == [0, 1, 5]
    assert all(r.accuracy == 0.0 and r.predictions_nan == 21 for r in small_study.main)
    assert sorted(small_study.by_batch) == [1, 5, 20]
    assert small_study.horizon() == 300
    assert all(s.params_finite for s in small_study.second)
    out = write_report(small_study, tmp_path / "rep", ok, summary)
    doc = json.loads((out / "report.json").read_text())
    assert doc["ok"] is True and doc["summary"] == summary
    assert [c["id"] for c in doc["claims"]] == ["overflow-batch-size", "overflow-in-mse-square",
                                              "overflow-accuracy-zero", "overflow-second-try-learns-nothing"]
    for c in doc["claims"]:
        assert set(c) == {"id", "claim", "measured", "verdict", "evidence", "full"}
        assert c["verdict"] == "undecided" and c["full"] is False  # a quick run never decides
    md = (out / "report.md").read_text()
    assert prose_problems(md) == []
    for anchor in ("where-it-overflows", "batch-size", "second-try", "the-printed-0-0"):
        assert f'<a id="{anchor}"></a>' in md
    for name in doc["figures"]:
        width, height = png_size(out / name)
        assert 300 < width <= 1600 and height > 200


def test_claims_decide_in_a_full_run_and_can_go_either_way(small_study: overflow.Study) -> None:
    full = dataclasses.replace(small_study, config=dataclasses.replace(SMALL, quick=False))
    verdicts = {c["id"]: c["verdict"] for c in overflow.claims(full)}
    assert verdicts["overflow-accuracy-zero"] == "holds"
    assert verdicts["overflow-in-mse-square"] == "partly holds"  # seed 5's square overflows
    assert verdicts["overflow-second-try-learns-nothing"] == "holds"
    # a second try beating the best straight line would refute "learned nothing"
    better = dataclasses.replace(small_study.second[0], accuracy=100.0)
    refuted = dataclasses.replace(full, second=[better, *full.second[1:]])
    assert {c["id"]: c["verdict"] for c in overflow.claims(refuted)}[
        "overflow-second-try-learns-nothing"] == "does not hold"
    # without a square overflow anywhere, the lab's "in the MSE" does not hold
    no_square = dataclasses.replace(full, main=[dataclasses.replace(r, square_steps=()) for r in full.main])
    assert {c["id"]: c["verdict"] for c in overflow.claims(no_square)}["overflow-in-mse-square"] == "does not hold"
    # if the largest batch diverged sooner than the smallest, the batch claim is left undecided
    flipped = dict(full.by_batch)
    flipped[1], flipped[20] = ([dataclasses.replace(r, batch_size=1) for r in full.by_batch[20]],
                               [dataclasses.replace(r, batch_size=20) for r in full.by_batch[1]])
    swapped = dataclasses.replace(full, by_batch=flipped)
    if not swapped.smaller_diverges_sooner():
        assert {c["id"]: c["verdict"] for c in overflow.claims(swapped)}["overflow-batch-size"] == "undecided"


def test_verdict_fails_when_a_run_stays_finite(small_study: overflow.Study) -> None:
    finite = dataclasses.replace(small_study.main[0], event=None)
    study = dataclasses.replace(small_study, main=[finite, *small_study.main[1:]])
    ok, summary = overflow.verdict(study)
    assert not ok and "seed 0: no non-finite value" in summary


def test_main_passes_the_config_and_writes_the_report(small_study: overflow.Study, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[overflow.Config] = []

    def fake(cfg: overflow.Config, quiet: bool = True) -> overflow.Study:
        seen.append(cfg)
        return small_study

    monkeypatch.setattr(cli, "run_study", fake)
    assert cli.main(["--quick", "--quiet", "--workers", "0", "--report", str(tmp_path / "r")]) == 0
    assert seen == [dataclasses.replace(overflow.QUICK_CONFIG, workers=0)]
    assert (tmp_path / "r" / "report.json").exists()
    assert "overflow: PASS" in capsys.readouterr().out
    assert cli.main(["--quiet", "--seeds", "3-4", "--batch-sizes", "1,21", "--second-epochs", "10",
                     "--workers", "0"]) == 0
    assert seen[-1].seeds == (3, 4) and seen[-1].batch_sizes == (1, 21) and seen[-1].second_epochs == 10


@pytest.mark.parametrize("argv", [["--seeds", "abc"], ["--seeds", "-3"], ["--batch-sizes", "0,5"],
                                  ["--sweep-updates", "0"], ["--workers", "-1"], ["--second-epochs", "x"]])
def test_bad_arguments_give_one_error_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("python -m verify.overflow: error:")
    assert "Traceback" not in "\n".join(err)


def test_seed_run_counts_updates_before_the_event() -> None:
    r = trace_run(FIRST, 1)
    assert isinstance(r, SeedRun)
    assert r.event is not None
    assert r.updates_to_event == r.event.step == r.event.epoch * FIRST.iterations + r.event.iteration


def test_doc_needs_a_report(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--doc", "x.md"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("python -m verify.overflow: error: --doc")


def test_the_docs_page_is_made_from_its_report(small_study: overflow.Study, tmp_path: Path) -> None:
    ok, summary = overflow.verdict(small_study)
    out = write_report(small_study, tmp_path / "figures" / "overflow", ok, summary)
    page = write_doc(out, tmp_path / "overflow.md").read_text()
    assert "[figures/overflow/report.md](figures/overflow/report.md)" in page
    assert "quick report" in page and prose_problems(page) == []
    for c in json.loads((out / "report.json").read_text())["claims"]:
        assert c["measured"] in page


ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_docs_page_matches_the_committed_full_report() -> None:
    """docs/overflow.md is exactly what the committed report gives: no number typed by hand."""
    doc = json.loads((ROOT / "docs/figures/overflow/report.json").read_text())
    assert doc["data"]["quick"] is False and all(c["full"] for c in doc["claims"])
    assert (ROOT / "docs/overflow.md").read_text() == doc_page(doc)
    for name in doc["figures"]:
        assert (ROOT / "docs/figures/overflow" / name).exists()
