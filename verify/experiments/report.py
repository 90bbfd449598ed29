"""The experiments report: answer first, the claims, one row per figure, a section per figure.

Every sentence is built from the :class:`verify.experiments.study.Study` it describes.
``report.json`` carries the shared report fields and, at the top level, ``"claims"`` (the
contract of ``python -m verify``) and ``"rows"`` (one object per experiment).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from refnet import lab

from ..common.report import JSON, Cell, Report, fmt_number, to_json
from .claims import Claim, epoch_text
from .figures import row_figure
from .measure import as_number
from .pages import FEATURES, READ_X, READ_Y
from .plan import ROWS
from .study import Curves, FeatureRow, RowResult, Study

__all__ = ["write_report", "console", "ok_of", "summary_of", "row_json"]

TITLE = "The lab's figures, rerun as its code ran them"

_FIGURE_TITLES = {
    "linear.png": "Linear data (pages 8-9)", "xor.png": "XOR data (pages 8, 10; page 14 left)",
    "learning_rates.png": "Learning rates (page 10)", "hidden_units.png": "Hidden units (page 11)",
    "no_activation.png": "Without activation (page 12)", "mse_vs_bce.png": "MSE vs BCE (page 14)",
    "sigmoid_vs_relu.png": "Sigmoid vs ReLU (page 15)", "relu_bce.png": "ReLU + BCE at lr 0.01 and 0.001 (page 16)",
    "pair.png": "The pair 0.001490625 / 0.001490626 (pages 17-18)",
}


def _setting(c: lab.Config) -> str:
    act = {"sigmoid": "sigmoid", "relu": "ReLU", "none": "none"}[c.activation]
    if c.activation == "none":
        act += ", output sigmoid" if c.output_sigmoid else ", no output sigmoid"
    return (f"{c.data}, {act}, {c.loss}, {c.hidden[0]}-{c.hidden[1]} units, batch {c.batch_size} "
            f"({c.iterations} per epoch), {c.epochs:,} epochs")


def _num(v: float | None, feature: str) -> str:
    if v is None or not np.isfinite(v):
        return "never" if feature in ("drop", "settle") or v is not None else "-"
    return epoch_text(v) if feature in ("high_until", "drop", "settle") else fmt_number(v, 3)


def _spread(f: FeatureRow) -> str:
    if f.feature == "peak" and all(x is None for x in f.values):
        return "no drop"
    v = [as_number(f.feature, x) for x in f.values if not (f.feature == "peak" and x is None)]
    med = float(np.median(v))
    never = sum(x is None for x in f.values)
    text = f"{_num(med, f.feature)} ({_num(min(v), f.feature)} to {_num(max(v), f.feature)})"
    return text + (f", never in {never}" if never and f.feature in ("drop", "settle") else "")


def _outcomes(c: Curves) -> str:
    outs = c.outcomes()
    return ", ".join(f"{outs.count(o)} {o}" for o in ("learned", "stuck", "above chance", "non-finite") if outs.count(o))


def ok_of(study: Study, rows: Sequence[RowResult]) -> bool:
    """Every row ran on every seed, and seed 0 of each seeded figure matches the page on every
    feature its epochs reach."""
    complete = len(rows) == len(ROWS) and all(r.as_run.loss.shape[0] == study.sizes.seeds for r in rows)
    seeded = all(bool(f.seed0_matches) for r in rows if r.row.seeded
                 for f in r.required(study.mode == "full"))
    return complete and seeded


def summary_of(study: Study, rows: Sequence[RowResult], claims: Sequence[Claim]) -> str:
    seeded = [r for r in rows if r.row.seeded]
    checks = [f for r in seeded for f in r.checks(study.mode == "full")]
    same = sum(bool(f.seed0_matches) for f in checks)
    known = sum(not f.seed0_matches and f.feature in r.page.differs for r in seeded
                for f in r.checks(study.mode == "full"))
    verdicts = {v: sum(c.verdict == v for c in claims) for v in dict.fromkeys(c.verdict for c in claims)}
    return (f"All {len(rows)} experiments behind the report's figures rerun as the lab's code ran them ({study.sizes.seeds} seeds, "
            f"{study.mode} size): the four seeded figures match their pages on {same} of {len(checks)} features"
            + (f" ({known} a known difference of page 18's transient)" if known else "") + ", "
            "the learning-rate and hidden-units figures ran at lr 10 in every panel, and of "
            f"{len(claims)} conclusions " + ", ".join(f"{k} {v}" for v, k in verdicts.items()) + ".")


def row_json(res: RowResult) -> dict[str, JSON]:
    c = res.as_run
    doc: dict[str, JSON] = {
        "name": res.row.name, "page": res.row.page, "title": res.row.title, "figure": res.row.figure,
        "seeded": res.row.seeded, "lr_run": c.config.lr, "lr_labelled": res.row.labelled,
        "mislabelled": res.row.mislabelled, "setting": _setting(c.config), "epochs": c.config.epochs,
        "lab_epochs": res.row.config.epochs, "seeds": list(c.seeds),
        "outcomes": to_json(c.outcomes()), "accuracy": to_json(c.accuracy.tolist()),
        "meant_outcomes": to_json(res.meant.outcomes()),
        "features": [{"feature": f.feature, "page": f.page, "page_never": f.page_never, "tolerance": f.tolerance,
                      "values": to_json(list(f.values)), "seed0": f.seed0, "seed0_matches": f.seed0_matches,
                      "percentile": f.placement.percentile if f.placement else None,
                      "inside": f.placement.inside if f.placement else None} for f in res.features],
        "matched": [{"key": k, "what": what, "setting": _setting(m.config), "lr": m.config.lr,
                     "outcomes": to_json(m.outcomes())} for k, what, m in res.matched],
        "quantized_after_10000": res.quantized_after,
    }
    return doc


def _lab_numbers(res: RowResult) -> str:
    p = res.page
    parts = [f"{name.replace('_', ' ')} {_num(p.value(name), name)}" for name in FEATURES if p.value(name) is not None]
    parts += [f"never {' or '.join(p.never)}"] if p.never else []
    if p.accuracy is not None:
        parts.append(f"accuracy {fmt_number(p.accuracy, 3)} %")
    return "; ".join(parts)


def _reproduction(res: RowResult, full: bool) -> str:
    if res.row.seeded:
        checks = res.checks(full)
        same = sum(bool(f.seed0_matches) for f in checks)
        return f"seed 0: {same} of {len(checks)} features equal to the page's"
    k, n = res.inside
    text = f"{k} of {n} page numbers inside the seeds' range" if n else "no curve on the page"
    if res.page.accuracy is not None:
        same = int(np.count_nonzero(res.as_run.accuracy == res.page.accuracy))
        text += f"; the page's {fmt_number(res.page.accuracy, 3)} % in {same} of {len(res.as_run.seeds)} seeds"
    return text


def _claims_table(rep: Report, claims: Sequence[Claim]) -> None:
    rep.table(["conclusion of the lab", "measured", "verdict", "evidence"],
              [[c.claim, c.measured, c.verdict, c.evidence] for c in claims])


def _rows_table(rep: Report, rows: Sequence[RowResult], full: bool) -> None:
    table: list[list[Cell]] = []
    for r in rows:
        c = r.as_run
        meant = "same as run" if not r.row.mislabelled else f"lr {r.meant.config.lr:g}: {_outcomes(r.meant)}"
        for _, what, m in r.matched:
            meant += f"; matched ({what}): {_outcomes(m)}"
        table.append([r.row.name, r.row.page, _setting(c.config), f"{c.config.lr:.10g}", f"{r.row.labelled:.10g}",
                      "0" if r.row.seeded else f"0-{max(c.seeds)}", _lab_numbers(r), _outcomes(c),
                      _reproduction(r, full), meant])
    rep.table(["experiment", "page", "as run", "lr run", "lr labelled", "seed", "the page shows", "outcomes as run",
               "page vs runs", "the run the lab meant / matched"], table,
              caption="One row per figure of the report (LAB_SOURCE section 3):")


def _feature_table(rep: Report, res: RowResult) -> None:
    rows: list[list[Cell]] = []
    for f in res.features:
        if not f.compared:
            continue
        page = "never" if f.page_never else _num(f.page, f.feature)
        if res.row.seeded:
            where = "-" if f.seed0_matches is None else ("equal" if f.seed0_matches else
                                                         "differs (known)" if f.feature in res.page.differs
                                                         else "differs")
            rows.append([f.feature.replace("_", " "), page, _num(f.seed0, f.feature), where, _spread(f)])
        else:
            pl = f.placement
            rows.append([f.feature.replace("_", " "), page, _spread(f),
                         "-" if pl is None else fmt_number(pl.percentile, 3),
                         "beyond this run" if pl is None else ("inside" if pl.inside else "outside")])
    acc = res.as_run.accuracy
    if res.page.accuracy is not None:
        same = int(np.count_nonzero(acc == res.page.accuracy))
        cells: list[Cell] = ["accuracy %", fmt_number(res.page.accuracy, 3)]
        if res.row.seeded:
            cells += [fmt_number(float(acc[res.as_run.of_seed(0)]), 3), "-"]
        else:
            cells += [f"{fmt_number(float(np.median(acc)), 3)} ({fmt_number(float(acc.min()), 3)} to "
                      f"{fmt_number(float(acc.max()), 3)})", "-", f"equal in {same} of {acc.size} seeds"]
        if res.row.seeded:
            cells.append(f"{fmt_number(float(np.median(acc)), 3)} ({fmt_number(float(acc.min()), 3)} to "
                         f"{fmt_number(float(acc.max()), 3)})")
        rows.append(cells)
    if res.row.seeded:
        rep.table(["feature", "page", "seed 0", "seed 0 vs page", f"all {len(res.as_run.seeds)} seeds: median (range)"],
                  rows, caption=f"{res.row.name} (seed 0, the script's):")
    else:
        rep.table(["feature", "page", f"{len(res.as_run.seeds)} seeds: median (range)", "page's percentile",
                   "page in range"], rows, caption=f"{res.row.name} (unseeded: the page is one draw):")


def _answer(study: Study, rows: dict[str, RowResult], claims: Sequence[Claim]) -> list[str]:
    by = {c.id: c for c in claims}
    size = "" if study.mode == "full" else (" These are the numbers of a reduced run (" + study.sizes.note
                                            + "): every verdict is undecided; the committed full report decides them.")
    return [
        "**The learning-rate figure (page 10) and the hidden-units figure (page 11) ran at lr 10 in every panel.** "
        "The notebook passed the rate positionally into `print_freq`, so the learning rate used was the "
        "`plot_loss_freq` argument, 10. The panels labelled 1, 0.75, 0.5, 0.1, 0.05 and 0.01 are six draws of one "
        "setting, and the hidden units were 4, 6, 8 and 10, all at lr 10 (the 0.05 of the call went to "
        "`print_freq`). Measured: " + by["lr-figure-ran-at-10"].measured + ".",
        f"**The seeded figures (pages 16-18) come back point for point**: {by['pair-seed-0'].measured}. "
        f"ReLU + BCE at lr 0.01: {by['relu-bce-lr-0.01'].measured}.",
        "**The unseeded figures are one draw each**; below, each page's numbers are placed among the same "
        f"setting's seeds 0-{study.sizes.seeds - 1}, and beside each runs the setting the lab meant (its labelled "
        "rate) and, for pages 14 and 15, a matched rerun that changes only the compared part.",
        "**What that does to the conclusions**: " + "; ".join(f"{c.claim} **{c.verdict}**" for c in claims) + "." + size,
    ]


def write_report(study: Study, rows: Sequence[RowResult], claims: Sequence[Claim], directory: Path,
                 ok: bool, summary: str) -> Path:
    """Write report.md, report.json and the figures into ``directory``."""
    full = study.mode == "full"
    by_name = {r.row.name: r for r in rows}
    rep = Report("experiments", TITLE, directory)
    rep.section("Answer")
    rep.text(*_answer(study, by_name, claims))
    rep.section("Conclusions of the lab, judged")
    rep.text("A verdict per conclusion of the report. Shares over seeds decide: at least 80 % of the seeds "
             "\"holds\", at most 20 % \"does not hold\", between \"partly holds\". The conclusions on the cause of "
             "the no-activation overflow and on floating-point limits are judged by `verify.overflow` and "
             "`verify.lr_threshold`.")
    _claims_table(rep, claims)
    rep.section("Every figure, as run, as meant, matched")
    rep.text("Features of a curve, read the same way from a page and from a run (`verify/experiments/pages.py` "
             "holds the numbers read from the pages): *level* the first logged loss; *high until* the last epoch "
             "above the high line (MSE 0.2, BCE 0.8 bits; chance is 0.25 and 1 bit); *drop* the first epoch below the "
             "low line (0.05; 0.2 bits); *settle* the first epoch from which the loss stays below the settled line "
             "(0.01; 0.05 bits); *peak* the largest loss after the drop; *final* the last logged loss. A page's "
             f"number equals a run's within the reading tolerance, {READ_X * 100:g} % of the plot's epoch range and "
             f"{READ_Y * 100:g} % of its loss range. Outcomes: *learned* (final loss below the low line), *stuck*, "
             "*above chance* (final loss above 1.5 times chance), *non-finite*.")
    _rows_table(rep, rows, full)
    for figure, title in _FIGURE_TITLES.items():
        group = [r for r in rows if r.row.figure == figure]
        rep.section(title)
        first = group[0]
        mis = [r for r in group if r.row.mislabelled]
        if mis:
            rep.text(f"As run: {_setting(first.as_run.config)}, **lr {first.as_run.config.lr:g}**; labelled "
                     + ", ".join(f"{r.row.labelled:g}" for r in mis) + ". The dashed curves are the labelled rates.")
        else:
            rep.text("As run: " + "; ".join(f"{r.row.name}: {_setting(r.as_run.config)}, lr {r.as_run.config.lr:.10g}"
                                            for r in group) + ".")
        for r in group:
            if r.page.note:
                rep.text(f"Page {r.page.page} ({r.row.name}): {r.page.note}.")
            _feature_table(rep, r)
            for feature, why in r.page.differs.items():
                rep.text(f"{r.row.name}, {feature.replace('_', ' ')}: a known difference: {why}.")
            if r.quantized_after is not None:
                rep.text(f"{r.row.name}, seed 0: every logged value from epoch 10,000 on is a multiple of 23.2535/21 "
                         f"bits: **{'yes' if r.quantized_after else 'no'}** (a saturated output sigmoid: each wrongly "
                         "saturated draw costs -log2(1e-7) bits and no gradient passes).")
            for _, what, m in r.matched:
                rep.text(f"Matched rerun beside {r.row.name}: {what} ({_setting(m.config)}): {_outcomes(m)}.")
        rep.figure(row_figure(group), figure, f"{title}: loss per epoch, {len(first.as_run.seeds)} seeds as run (grey), "
                   "median (blue), labelled rate (orange, dashed), matched rerun (green, dotted), seed 0 (black) for "
                   "seeded figures; red crosses and band: numbers read from the page")
    rep.section("How it ran")
    rep.text(f"Mode {study.mode}: {study.sizes.note}. {study.runs:,} runs ({study.steps:,} training steps summed over the runs) through "
             + (f"`refnet.lab.sweep` on {study.workers} worker processes sharing one pool" if study.workers else
                "`refnet.lab.sweep` in this process") + "; wall time "
             f"{study.seconds:,.0f} s. Every run is `refnet.lab`'s reproduction of the lab's program "
             "(its RandomState stream, batches drawn with replacement, updates inside backward, the published "
             "arithmetic), proven byte for byte in tests/test_lab.py.")
    rep.text(kernels_sentence(study))
    rep.data["mode"] = study.mode
    rep.data["kernels"] = dict(study.kernels)
    rep.data["seconds"] = study.seconds
    rep.data["workers"] = study.workers
    rep.data["runs"] = study.runs
    rep.data["steps"] = study.steps
    rep.data["sizes"] = {"seeds": study.sizes.seeds, "epochs": to_json(dict(study.sizes.epochs)), "note": study.sizes.note}
    path = rep.write(ok, summary)
    doc = json.loads((path / "report.json").read_text(encoding="utf-8"))
    doc["claims"] = [c.to_json() for c in claims]
    doc["rows"] = [row_json(r) for r in rows]
    doc["lr10"] = {"figures": ["learning_rates.png", "hidden_units.png"], "lr_run": 10.0,
                   "statement": "The learning-rate figure (page 10) and the hidden-units figure (page 11) ran at "
                                "lr 10 in every panel."}
    (path / "report.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def kernels_sentence(study: Study) -> str:
    """Which kernel trained which runs, in words."""
    blas, fast = study.kernels.get("blas", 0), study.kernels.get("compiled", 0)
    if not fast:
        return f"Kernel: all {blas:,} runs on NumPy's BLAS (`kernel=\"blas\"`), as the lab ran."
    return (f"Kernel: {fast:,} runs of the unseeded figures' seed distributions on the compiled twin "
            "(`kernel=\"compiled\"`, numba: the `portable` kernel's arithmetic, whose runs differ from BLAS's in "
            f"the last bits only), {blas:,} runs on NumPy's BLAS, as the lab ran: the seeded figures (their seed 0 "
            "is compared with the page) and the figures run at lr 10 (chaotic: the last bits change a seed's outcome). "
            "tests/test_compiled.py checks that the compiled kernel gives seeds 0-3 of every figure it runs the "
            "same outcome labels as BLAS.")


def console(study: Study, rows: Sequence[RowResult], claims: Sequence[Claim], ok: bool, summary: str) -> str:
    """The stdout summary: one line per conclusion."""
    lines = [f"experiments: {'PASS' if ok else 'FAIL'}: {summary}",
             f"  {study.runs:,} runs, {study.steps:,} steps, {study.seconds:,.0f} s on "
             + (f"{study.workers} worker processes" if study.workers else "this process")
             + ", " + ", ".join(f"{n:,} on {k}" for k, n in sorted(study.kernels.items()))]
    lines += [f"  [{c.verdict}] {c.claim}" for c in claims]
    return "\n".join(lines)


