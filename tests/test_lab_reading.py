"""The lab-reading study: shared runs, predicates, scoring, the choice, the command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from refnet.conventions import READINGS, Reading
from verify.lab_reading import __main__ as cli
from verify.lab_reading.observations import (EXPERIMENTS, LOSS_THRESHOLD, OBSERVATIONS, PAIR, SEEDS, Outcomes,
                                             stable_epoch)
from verify.lab_reading.runs import plan, reported, training_reading
from verify.lab_reading.scoring import Score, all_readings, choose, score


def _outcomes(shape: tuple[int, int, int], **fields: np.ndarray) -> Outcomes:
    base = {f: np.full(shape, math.inf if f.endswith("epoch") else 0.5) for f in Outcomes.__dataclass_fields__}
    base["accuracy"] = np.full(shape, 100.0)
    base.update(fields)
    return Outcomes(**base)


def test_a_run_is_shared_by_every_reading_that_trains_the_same_way() -> None:
    r = Reading("mean", "(y-t)", "2", "stable", 20)
    bce, mse, none, fixed = (EXPERIMENTS[k] for k in ("xor-relu-bce", "xor-sigmoid-mse", "xor-none", "xor-none-sigmoid"))
    assert training_reading(r, bce) == Reading("mean", "2(y-t)", "e", "stable", 20)  # BCE: no MSE derivative
    assert training_reading(r, mse) == Reading("mean", "(y-t)", "e", "stable", 20)   # log base: reporting only
    assert training_reading(r.but(batch_size=None), none) == Reading("mean", "(y-t)", "e", "naive", 20)
    assert training_reading(r.but(batch_size=None), fixed).batch_size == 20  # the lab states 20 here
    # 32 readings need 7 MSE experiments x 16 + 2 BCE x 8 + no-sigmoid 4 + output-sigmoid 8 distinct runs
    assert len(all_readings()) == 32 and len(set(all_readings())) == 32
    assert len(plan(all_readings(), SEEDS, "full").jobs) == 7 * 16 + 2 * 8 + 4 + 8


def test_a_base_2_reading_rescales_only_the_reported_bce_loss() -> None:
    o = _outcomes((1, 1, 1), final_loss=np.full((1, 1, 1), 0.01), initial_loss=np.full((1, 1, 1), 0.7))
    r2 = READINGS["lab-evidence"].but(log_base="2")
    b = reported(o, r2, EXPERIMENTS["xor-relu-bce"])
    assert b.final_loss[0, 0, 0] == pytest.approx(0.01 / math.log(2), rel=1e-15)
    assert b.initial_loss[0, 0, 0] == pytest.approx(0.7 / math.log(2), rel=1e-15)
    assert reported(o, r2, EXPERIMENTS["xor-sigmoid-mse"]) is o
    assert b.stable_epoch is o.stable_epoch  # ratios do not depend on the base


def test_stable_epoch_is_the_first_kept_epoch_at_or_below_the_fraction() -> None:
    loss = np.array([1.0, 0.5, 0.02, 0.01, 0.001])
    epochs = np.array([0, 10, 20, 30, 40])
    assert stable_epoch(loss, epochs, 0.01) == 31.0
    assert stable_epoch(loss, epochs, 0.0001) == math.inf
    assert stable_epoch(np.array([math.nan, 0.0]), np.array([0, 1]), 0.5) == math.inf


def _pair_runs(lo_loss: float, lo_acc: float, hi_loss: float, hi_acc: float) -> dict[str, Outcomes]:
    exp = EXPERIMENTS["xor-relu-bce"]
    shape = (1, 1, len(exp.lrs))
    loss, acc = np.full(shape, 0.5), np.full(shape, 50.0)
    loss[..., exp.lrs.index(PAIR[0])], acc[..., exp.lrs.index(PAIR[0])] = lo_loss, lo_acc
    loss[..., exp.lrs.index(PAIR[1])], acc[..., exp.lrs.index(PAIR[1])] = hi_loss, hi_acc
    return {"xor-relu-bce": _outcomes(shape, final_loss=loss, accuracy=acc)}


@pytest.mark.parametrize("lo,hi,holds", [
    ((0.001, 100.0), (0.5, 76.2), True),       # one converged, the other stalled 500x higher
    ((0.001, 100.0), (math.nan, 0.0), True),   # the other diverged
    ((0.00941, 100.0), (0.01065, 100.0), False),  # two sides of the threshold: not "very different"
    ((0.001, 100.0), (0.002, 100.0), False),   # both converged
    ((0.005, 100.0), (0.04, 100.0), False),    # one converged, but the losses are only 8x apart
])
def test_the_lr_pair_must_be_very_different(lo: tuple[float, float], hi: tuple[float, float], holds: bool) -> None:
    pair = next(o for o in OBSERVATIONS if o.key == "lr-pair")
    assert bool(pair.test(_pair_runs(*lo, *hi))[0, 0]) is holds
    assert LOSS_THRESHOLD == 0.01


def test_choose_breaks_ties_towards_the_labs_shown_code_and_prices_each_choice() -> None:
    keys = [o.key for o in OBSERVATIONS]
    best = READINGS["lab-evidence"]

    def s(r: Reading, total: float) -> Score:
        return Score(r, {k: (total / len(keys)) for k in keys})

    other_batch = best.but(batch_size=None if best.batch_size is not None else 20)
    scores = [s(best.but(sigmoid="stable"), 9.0), s(best, 9.0), s(best.but(gradient="sum"), 5.0),
              s(other_batch, 8.5)]
    choice = choose(scores)
    assert choice.best.reading == best  # naive sigmoid wins the tie
    assert set(choice.tied) == {best, best.but(sigmoid="stable")}
    assert choice.runner_up is not None and choice.runner_up.reading == other_batch
    assert choice.flips["gradient"] == pytest.approx(4.0)
    assert choice.flips["sigmoid"] == pytest.approx(0.0)
    assert choice.flips["batch_size"] == pytest.approx(0.5)
    assert "log_base" not in choice.flips  # that neighbour was not scored


def test_score_reads_each_reading_from_its_shared_runs() -> None:
    readings = [READINGS["lab-evidence"], READINGS["lab-evidence"].but(log_base="2")]
    outcomes = {}
    relu_bce = EXPERIMENTS["xor-relu-bce"]
    for job in plan(readings, (0,), "quick").jobs:
        shape = (1, 3, len(EXPERIMENTS[job[0]].lrs))
        loss = np.full(shape, 0.008)
        if job[0] == relu_bce.key:
            loss[..., relu_bce.lrs.index(0.01)] = 0.5  # lr 0.01 stalls
        outcomes[job] = _outcomes(shape, final_loss=loss)
    # both readings share the one trained run (the log base changes only the reported loss)
    assert len({job for job in outcomes if job[0] == relu_bce.key}) == 1
    scores = {sc.reading: sc for sc in score(readings, outcomes)}
    # lr 0.001 ends at 0.008 nats: converged (< 0.01); the same loss in bits is 0.0115: not converged
    e, two = scores[readings[0]].fractions["relu-bce-lr"], scores[readings[1]].fractions["relu-bce-lr"]
    assert (e, two) == (1.0, 0.0)
    assert scores[readings[0]].fractions["linear-100"] == 1.0


def test_quick_command_writes_a_complete_report(tmp_path: Path) -> None:
    out = tmp_path / "lab_reading"
    assert cli.main(["--quick", "--report", str(out), "--workers", "0", "--quiet"]) == 0
    doc = json.loads((out / "report.json").read_text())
    assert doc["ok"] is True and doc["data"]["mode"] == "quick"
    assert len(doc["data"]["scores"]) == 4
    assert all(0.0 <= f <= 1.0 for s in doc["data"]["scores"] for f in s["fractions"].values())
    assert (out / "scores.png").stat().st_size > 0
    assert "quick" in (out / "report.md").read_text()
    again = tmp_path / "rescored"  # the saved outcomes give the same scores without training
    assert cli.main(["--rescore", str(out), "--report", str(again), "--quiet"]) == 0
    redo = json.loads((again / "report.json").read_text())
    assert redo["data"]["scores"] == doc["data"]["scores"] and redo["data"]["mode"] == "quick"


@pytest.mark.parametrize("argv,message", [
    (["--workers", "-1"], "--workers"),
    (["--report", "/dev/null/x"], "--report"),
    (["--frobnicate"], "unrecognized"),
])
def test_bad_arguments_exit_2_with_an_error_line(argv: list[str], message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--quick", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and message in err and "Traceback" not in err
