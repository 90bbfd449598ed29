"""``verify.experiments`` on ``refnet.lab``: the quick run, its report, the features, the verdict rules, the flags."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from refnet import lab
from verify.common.report import png_size, prose_problems
from verify.common.style import MAX_WIDTH_PX
from verify.experiments import cli, main
from verify.experiments.claims import VERDICTS, claims, share_verdict
from verify.experiments.measure import BCE_QUANTUM, LINES, as_number, features, place, quantized
from verify.experiments.pages import FEATURES, PAGES
from verify.experiments.plan import ROWS, SIZES, runs_of
from verify.experiments.study import Study, analyse, execute, kernel_of

FIGURES = {"linear.png", "xor.png", "learning_rates.png", "hidden_units.png", "no_activation.png",
           "mse_vs_bce.png", "sigmoid_vs_relu.png", "relu_bce.png", "pair.png"}
SEEDS = 2


@dataclass(frozen=True)
class Quick:
    rc: int
    out: Path
    doc: dict[str, Any]
    md: str
    study: Study


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quick]:
    """``python -m verify.experiments --quick --seeds 2``, once, keeping the study it ran."""
    out = tmp_path_factory.mktemp("experiments")
    seen: list[Study] = []
    real = execute

    def spy(*args: Any, **kwargs: Any) -> Study:
        study = real(*args, **kwargs)
        seen.append(study)
        return study

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(f"{cli.__name__}.execute", spy)
        rc = main(["--quick", "--seeds", str(SEEDS), "--quiet", "--report", str(out)])
    yield Quick(rc, out, json.loads((out / "report.json").read_text()), (out / "report.md").read_text(), seen[0])


def test_quick_run_passes_and_writes_the_report(quick: Quick) -> None:
    assert quick.rc == 0
    doc = quick.doc
    assert doc["name"] == "experiments" and doc["ok"] is True
    assert set(doc) >= {"title", "summary", "figures", "tables", "data", "claims", "rows"}
    assert isinstance(doc["summary"], str) and doc["summary"].count(". ") == 0  # one sentence
    assert set(doc["figures"]) == FIGURES == {p.name for p in quick.out.glob("*.png")}
    for name in FIGURES:
        assert f"]({name})" in quick.md
    assert doc["data"]["mode"] == "quick" and doc["data"]["runs"] == quick.study.runs > 0
    assert quick.study.seconds < 120  # the quick size must stay quick (about 40 s on 2 busy cores)
    assert prose_problems(quick.md) == []
    for name in FIGURES:
        assert png_size(quick.out / name)[0] <= MAX_WIDTH_PX


def test_one_row_per_experiment_with_run_and_labelled_rates(quick: Quick) -> None:
    rows = quick.doc["rows"]
    assert [r["name"] for r in rows] == [row.name for row in ROWS]
    assert {r["name"] for r in rows} == set(lab.EXPERIMENTS)
    for r in rows:
        cfg = lab.EXPERIMENTS[r["name"]]
        assert r["lr_run"] == cfg.lr and r["lr_labelled"] == lab.LABELLED[r["name"]]
        assert r["seeded"] == (r["name"] in lab.SEEDED)
        assert r["seeds"] == list(range(SEEDS)) and len(r["outcomes"]) == SEEDS
        assert r["epochs"] == min(cfg.epochs, SIZES["quick"].epochs.get(r["name"], cfg.epochs))
        assert [f["feature"] for f in r["features"]] == list(FEATURES)
        for f in r["features"]:
            assert len(f["values"]) == SEEDS
            # unseeded figures place the page's number among the seeds when the run reaches it; seeded
            # ones compare seed 0
            reached = f["page_never"] or (f["page"] is not None and (
                f["feature"] not in ("high_until", "drop", "settle") or f["page"] <= r["epochs"] + f["tolerance"]))
            assert (f["percentile"] is not None) == (not r["seeded"] and reached)
            assert (f["seed0_matches"] is not None) == (r["seeded"] and (f["page"] is not None or f["page_never"]))
    table = next(t for t in quick.doc["tables"] if t["caption"].startswith("One row per figure"))
    assert [row[0] for row in table["rows"]] == [row.name for row in ROWS]
    # pages 14 and 15 carry their matched reruns: each panel's network in the other panel's setting
    matched = {r["name"]: [m["key"] for m in r["matched"]] for r in rows if r["matched"]}
    assert matched == {"bce-page14": ["mse-b5"], "sigmoid-mse": ["sigmoid-b5"], "relu-mse": ["relu-b21"]}
    assert "batch 5 (4 per epoch)" in rows[ROWS.index(next(x for x in ROWS if x.name == "sigmoid-mse"))][
        "matched"][0]["setting"]


def test_the_lr_10_finding_is_stated(quick: Quick) -> None:
    rows = {r["name"]: r for r in quick.doc["rows"]}
    for name in [n for n in lab.EXPERIMENTS if n.startswith(("lr-", "units-"))]:
        assert rows[name]["lr_run"] == 10.0 and rows[name]["mislabelled"] is True
        assert rows[name]["lr_labelled"] != 10.0
    assert "ran at lr 10 in every panel" in quick.md and "ran at lr 10 in every panel" in quick.doc["summary"]
    claim = next(c for c in quick.doc["claims"] if c["id"] == "lr-figure-ran-at-10")
    assert "every panel ran at lr 10" in claim["measured"]
    assert quick.doc["lr10"]["lr_run"] == 10.0


def test_quick_verdicts_are_undecided_never_refuted(quick: Quick) -> None:
    cl = quick.doc["claims"]
    assert len(cl) >= 12 and len({c["id"] for c in cl}) == len(cl)
    for c in cl:
        assert set(c) == {"id", "claim", "measured", "verdict", "evidence", "full"}
        assert all(isinstance(c[k], str) and c[k] for k in ("id", "claim", "measured", "evidence"))
        assert c["verdict"] == "undecided" and c["full"] is False
        assert c["evidence"] in FIGURES


def test_seed_0_prefix_of_the_seeded_figures_matches_the_pages(quick: Quick) -> None:
    """The quick run reaches 6,000 epochs: seed 0's first level, and the pair's drops (~4,600 and ~4,800
    epochs on pages 17-18), equal the pages within the reading tolerance."""
    rows = {r["name"]: r for r in quick.doc["rows"]}
    for name in lab.SEEDED:
        level = next(f for f in rows[name]["features"] if f["feature"] == "level")
        assert level["seed0_matches"] is True, name
    for name in ("pair-625", "pair-626"):
        drop = next(f for f in rows[name]["features"] if f["feature"] == "drop")
        assert drop["seed0_matches"] is True and abs(drop["seed0"] - drop["page"]) <= 1_000
    # 626 has jumped by 6,000 epochs, 625 has not
    assert rows["pair-626"]["outcomes"][0] == "above chance" and rows["pair-625"]["outcomes"][0] == "learned"


def test_full_mode_decides_verdicts(quick: Quick) -> None:
    """The same runs judged as if full: verdicts are decided, and the lr-10 panels refute the labels."""
    study = replace(quick.study, mode="full")
    found = claims(study, analyse(study))
    assert all(c.full and c.verdict in VERDICTS for c in found)
    # only a claim whose run was cut before it could settle stays open
    assert {c.id for c in found if c.verdict == "undecided"} <= {"mse-bce-both-100k"}
    assert next(c for c in found if c.id == "lr-figure-ran-at-10").verdict == "does not hold"


def test_features_of_a_worked_curve() -> None:
    epochs = np.array([9.0, 19.0, 29.0, 39.0, 49.0, 59.0])
    loss = np.array([0.26, 0.21, 0.04, 0.08, 0.005, 0.002])
    f = features(epochs, loss, 100.0, LINES["mse"])
    # above 0.2 last at 19; first below 0.05 at 29; below 0.01 from 49 on; the largest loss after the drop 0.08
    assert (f.level, f.high_until, f.drop, f.settle, f.peak, f.final) == (0.26, 19.0, 29.0, 49.0, 0.08, 0.002)
    assert f.nonfinite is None
    g = features(epochs, np.array([0.3, 0.3, np.nan, np.nan, np.nan, np.nan]), 0.0, LINES["mse"])
    assert g.nonfinite == 29.0 and g.drop is None and g.settle is None and g.peak is None
    # a last point above the settled line means never settled
    h = features(epochs, np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.02]), 100.0, LINES["mse"])
    assert h.settle is None and h.drop == 9.0
    with pytest.raises(ValueError, match="^loss"):
        features(epochs, loss[:3], 1.0, LINES["mse"])


def test_placement_and_never() -> None:
    assert as_number("drop", None) == float("inf") and as_number("high_until", None) == -1.0
    p = place("drop", 500.0, [100.0, 200.0, 800.0, None], tolerance=10.0)
    assert p.percentile == 50.0 and p.inside and (p.lo, p.hi) == (100.0, float("inf"))
    q = place("drop", 50.0, [100.0, 200.0], tolerance=10.0)
    assert q.percentile == 0.0 and not q.inside
    tie = place("level", 0.25, [0.25, 0.3], tolerance=0.01)
    assert tie.percentile == 25.0
    never = place("settle", as_number("settle", None), [100.0, None, None, 300.0], tolerance=10.0)
    assert never.percentile == 75.0 and never.inside  # two seeds never settle either


def test_quantized_bce() -> None:
    assert abs(BCE_QUANTUM * 21 - 23.2535) < 1e-4
    assert quantized(np.array([11, 7, 15]) * BCE_QUANTUM)
    assert quantized(np.array([11 - 3.2e-4, 7 + 1.4e-7]) * BCE_QUANTUM)  # near-saturated and right-saturated draws
    assert not quantized(np.array([11.0, 7.5]) * BCE_QUANTUM)
    assert not quantized(np.array([11.0, 0.0]) * BCE_QUANTUM)  # a converged value is no multiple of a blow-up
    assert not quantized(np.array([np.nan]))


def test_share_verdict() -> None:
    assert share_verdict(8, 10) == "holds" and share_verdict(2, 10) == "does not hold"
    assert share_verdict(5, 10) == "partly holds" and share_verdict(0, 0) == "not testable"


def test_pages_cover_every_experiment() -> None:
    for name in lab.EXPERIMENTS:
        page = PAGES[name.replace("-snippet", "")]
        assert 8 <= page.page <= 18
        for feature in FEATURES:
            v = page.value(feature)
            if v is not None:
                # a loss is at most -log2(1e-7) = 23.25 bits (the lab's BCE); an epoch within the plot
                bound = 23.26 if feature in ("level", "peak", "final") else page.x_range
                assert 0.0 <= v <= bound, (name, feature)
            assert not (v is not None and feature in page.never)
            assert page.tolerance(feature) > 0


def test_plan_groups_rates_of_one_configuration() -> None:
    groups = runs_of(SIZES["full"])
    # the six learning-rate panels are one configuration at lr 10, beside their six labelled rates
    lr_group = next(rates for cfg, rates in groups.items() if cfg.data == "linear" and cfg.epochs == 2_000)
    assert sorted(lr_group) == sorted([10.0, 1.0, 0.75, 0.5, 0.1, 0.05, 0.01])
    pair_group = next(rates for cfg, rates in groups.items() if cfg.loss == "bce" and cfg.activation == "relu")
    assert sorted(pair_group) == sorted([0.01, 0.001, 0.001490625, 0.001490626])
    assert SIZES["full"].seeds == 30


def test_seed_distributions_go_to_the_compiled_kernel_and_seeded_figures_stay_on_blas(quick: Quick) -> None:
    """``kernel_of``: with ``compiled`` every configuration of a seeded figure (pages 16-18, compared
    with the page at seed 0) or of a figure run at lr 10 (pages 10-11) stays on blas, every other
    goes to compiled; ``blas`` keeps all on blas.
    The quick run (``--kernel auto`` with ``--quick``: compiled only with ``--full``) ran on blas and says so."""
    for sizes in (SIZES["quick"], SIZES["full"]):
        groups = runs_of(sizes)
        on = {cfg: kernel_of(cfg, sizes, "compiled") for cfg in groups}
        seeded = {cfg for cfg in groups if cfg.activation == "relu" and cfg.loss == "bce"}
        at_10 = {cfg for cfg in groups if cfg.data == "linear" and 10.0 in groups[cfg]}
        assert len(seeded) == 1 and len(at_10) == 5  # the lr panel and four hidden-units panels
        seeded |= at_10
        assert {on[c] for c in seeded} == {"blas"}
        assert {on[c] for c in groups if c not in seeded} == {"compiled"}
        assert {kernel_of(cfg, sizes, "blas") for cfg in groups} == {"blas"}
    assert quick.study.kernels == {"blas": quick.study.runs}
    assert quick.doc["data"]["kernels"] == {"blas": quick.study.runs}
    assert "all " + f"{quick.study.runs:,} runs on NumPy's BLAS" in quick.md


def test_the_compiled_kernel_without_numba_is_one_error_line() -> None:
    code = ("import sys; sys.modules['numba'] = None\n"
            "from verify.experiments import main\n"
            "main(['--kernel', 'compiled', '--quick', '--quiet'])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("python -m verify.experiments: error:")]
    assert len(errors) == 1 and "--kernel: 'compiled' needs numba" in errors[0] and "Traceback" not in done.stderr


@pytest.mark.parametrize("argv, message", [
    (["--kernel", "numba"], "invalid choice"),
    (["--quick", "--full"], "not allowed with"),
    (["--seeds", "0"], "--seeds: expected"),
    (["--workers", "-1"], "--workers: expected"),
    (["--seeds", "two"], "invalid int value"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_flags_exit_2_with_one_error_line(argv: list[str], message: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--quiet", "--report", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("python -m verify.experiments: error:")]
    assert len(errors) == 1 and message in errors[0]
    assert not (tmp_path / "report.json").exists()
