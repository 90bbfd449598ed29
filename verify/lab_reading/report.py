"""The lab-reading study's report: the evidence table, the choice, the numbers behind it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from refnet.conventions import READINGS, Reading

from verify.common.report import JSON, Cell, Report

from .observations import ASSUMPTIONS, EXPERIMENTS, INITS, OBSERVATIONS, Horizon, Outcomes
from .runs import Job, Plan, reported, training_reading
from .scoring import Choice, Score

__all__ = ["write_report"]

_SHORT = {"gradient": "gradient", "mse_derivative": "MSE derivative", "log_base": "log base",
          "sigmoid": "sigmoid", "batch_size": "batch"}


def _fields(r: Reading) -> list[Cell]:
    return [r.gradient, r.mse_derivative, r.log_base, r.sigmoid, "full" if r.batch_size is None else r.batch_size]


def _span(values: np.ndarray) -> str:
    v = values[np.isfinite(values)]
    never = int(values.size - v.size)
    if not v.size:
        return f"never ({never} of {values.size})"
    text = f"{v.min():,.0f}-{v.max():,.0f}" if v.min() != v.max() else f"{v.min():,.0f}"
    return text + (f" ({never} of {values.size} never)" if never else "")


def _heatmap(scores: Sequence[Score], path_name: str, rep: Report) -> None:
    import matplotlib.pyplot as plt

    keys = [o.key for o in OBSERVATIONS]
    grid = np.array([[s.fractions[k] for k in keys] for s in scores])
    height = 1.6 + 0.28 * len(scores)
    fig, ax = plt.subplots(figsize=(11, height))
    im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(keys)), keys, rotation=40, ha="right", fontsize=9)
    ax.set_yticks(range(len(scores)), [f"{s.total:5.2f}  {s.reading.label[4:-1]}" for s in scores], fontsize=8)
    ax.set_xlabel("observation reported by the lab")
    ax.set_ylabel("reading (total score)")
    fig.colorbar(im, ax=ax, label="fraction of (seed, init) pairs", shrink=0.9)
    fig.tight_layout()
    rep.figure(fig, path_name, "Agreement of each reading with each observation (best first)", dpi=110)


def write_report(out: Path, mode: Horizon, p: Plan, outcomes: Mapping[Job, Outcomes], scores: Sequence[Score],
                 choice: Choice, seconds: float, ok: bool) -> Path:
    """Write ``report.md``/``report.json`` and the figure into ``out``."""
    rep = Report("lab_reading", "Which reading of the lab's arithmetic reproduces the lab", out)
    best, lab, summed = choice.best, READINGS["lab-evidence"], READINGS["lab-sum"]
    n_obs = len(OBSERVATIONS)
    pairs = len(p.seeds) * len(INITS)
    rep.text(
        f"Mode: **{mode}**" + (" (4 readings, seeds 0-1, short horizons: the committed full report is "
                               "docs/figures/lab_reading/report.md)" if mode == "quick" else "")
        + f". {len(scores)} readings, {len(p.jobs)} distinct runs, {p.total:,} network-epochs, "
        f"{seconds:,.0f} s on {len(p.seeds)} seeds x {len(INITS)} inits ({pairs} pairs per observation).",
        f"Best reading: `{best.reading.label}`, {best.total:.2f} of {n_obs} observations "
        f"(sum of the fractions of pairs for which each holds)."
        + (f" Runner-up: `{choice.runner_up.reading.label}`, {choice.runner_up.total:.2f}."
           if choice.runner_up else "")
        + (f" {len(choice.tied)} readings tie at the top; the tie goes to the lab's shown code "
           "(naive sigmoid, full batch, `2(y-t)`, natural log)." if len(choice.tied) > 1 else ""),
        f"refnet's `convention=\"lab\"` is `{lab.label}`"
        + (": quick horizons are far shorter than the lab's, so this run does not choose; the full "
           "report does." if mode == "quick" else
           ", the best-supported reading." if ok else ", which is **not** the best-supported reading."),
    )
    rep.section("What each choice is worth")
    rep.text("The best reading's total minus that of the same reading with one choice changed "
             "(0: the observations cannot tell the two apart).")
    rep.table(["choice", "best", "total change if flipped"],
              [[_SHORT[f], str(_fields(best.reading)[i]), choice.flips.get(f)]
               for i, f in enumerate(_SHORT)], digits=3)
    rep.section("Experiments")
    rep.table(["experiment", "data", "hidden", "activation", "output", "loss", "learning rates", "epochs", "batch"],
              [[e.key, e.data, " x ".join(map(str, e.hidden)), e.activation, e.output_activation, e.loss,
                ", ".join(f"{lr:g}" for lr in e.lrs), f"{e.horizon(mode):,}",
                "reading's" if e.batch_size is None else e.batch_size] for e in EXPERIMENTS.values()],
              caption=f"Runs in {mode} mode (full mode uses the lab's horizons).")
    rep.section("Observations")
    rep.table(["key", "the lab reports", "predicate (per seed and init)"],
              [[o.key, o.lab, o.predicate] for o in OBSERVATIONS])
    rep.text("Choices the study makes where the lab states nothing:", *(f"- {a}" for a in ASSUMPTIONS))
    rep.section("Evidence: every reading against every observation")
    rep.table(["gradient", "MSE d/dy", "log", "sigmoid", "batch", *(o.key for o in OBSERVATIONS), "total"],
              [[*_fields(s.reading), *(s.fractions[o.key] for o in OBSERVATIONS), s.total] for s in scores],
              digits=2)
    try:
        _heatmap(scores, "scores.png", rep)
    except ImportError:
        rep.text("(matplotlib is not installed: no figure)")
    rep.section("The numbers behind the main observations")
    shown = [r for r in (best.reading, lab, summed) if any(s.reading == r for s in scores)]
    shown = list(dict.fromkeys(shown))
    rows: list[list[Cell]] = []
    for r in shown:
        runs = {key: reported(outcomes[(key, training_reading(r, exp))], r, exp) for key, exp in EXPERIMENTS.items()}
        lin = runs["linear-lr"]
        rows.append([r.label,
                     f"{int(np.sum(lin.accuracy[:, :, :5] == 100.0))} of {lin.accuracy[:, :, :5].size}",
                     f"{np.nanmin(lin.final_loss[:, :, 5]):.3g}-{np.nanmax(lin.final_loss[:, :, 5]):.3g}",
                     _span(runs["xor-sigmoid-mse"].stable_epoch[:, :, 0]),
                     _span(runs["xor-sigmoid-bce"].stable_epoch[:, :, 0]),
                     _span(runs["xor-relu-mse"].stable_epoch[:, :, 0])])
    rep.table(["reading", "linear runs at lr 1-0.05 reaching 100%", "final loss at lr 0.01",
               "XOR MSE: epochs to 1% of start", "XOR BCE: epochs to 1% of start", "XOR ReLU MSE: epochs to 1%"],
              rows)
    rep.data["mode"] = mode
    rep.data["seconds"] = seconds
    rep.data["network_epochs"] = p.total
    rep.data["seeds"] = list(p.seeds)
    rep.data["inits"] = list(INITS)
    rep.data["best"] = best.reading.label
    rep.data["tied"] = [r.label for r in choice.tied]
    rep.data["lab-evidence"] = lab.label
    rep.data["flips"] = {k: v for k, v in choice.flips.items()}
    rep.data["scores"] = [{"reading": s.reading.label, "total": s.total, "fractions": dict(s.fractions)}
                          for s in scores]
    raw: dict[str, JSON] = {}
    for (key, r), o in outcomes.items():
        raw[f"{key} {r.label}"] = {f: [None if not math.isfinite(v) else v for v in getattr(o, f).ravel().tolist()]
                                   for f in ("final_loss", "accuracy", "stable_epoch", "nonfinite_epoch")}
    rep.data["runs"] = raw
    summary = (f"best reading {best.reading.label} ({best.total:.2f} of {n_obs}); "
               + ("quick run: no choice made" if mode == "quick" else
                  f"convention='lab-evidence' {'is' if ok else 'is not'} that reading"))
    return rep.write(ok, summary)
