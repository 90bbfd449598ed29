"""The overflow study's report: findings in sentences, tables, figures, console summary.

Every sentence of :func:`findings` is built from a measured number of the
:class:`verify.overflow.study.Study` it describes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from refnet.data import xor_easy
from refnet.conventions import resolve
from refnet.precision import DTypeName

from ..common.report import Cell, Report, fmt_number, to_json
from .figures import (Curve, boundary_figure, drift_figure, magnitudes_figure, outcome_map,
                      threshold_figure)
from .grid import CONVENTIONS_STUDIED, GridSpec, Run
from .study import MAIN, Study

__all__ = ["findings", "write_report", "console", "threshold_summary", "cell_table", "first_crossings"]


def threshold_summary(rows: Sequence[dict[str, object]]) -> list[list[object]]:
    """Median over seeds of the threshold rows, per (convention, dtype, hidden, batch)."""
    keys = sorted({(str(r["convention"]), str(r["dtype"]), int(str(r["hidden"])), int(str(r["batch_size"])))
                   for r in rows}, key=lambda k: (_order(k[0]), k[1], k[2], k[3]))
    out: list[list[object]] = []
    for conv, dtype, hidden, b in keys:
        sel = [r for r in rows if (r["convention"], r["dtype"], r["hidden"], r["batch_size"]) == (conv, dtype, hidden, b)]

        def med(key: str) -> float | None:
            vals = [float(str(r[key])) for r in sel if r[key] is not None]
            return float(np.median(vals)) if vals else None

        div = sum(r["lr_diverged"] is not None for r in sel)
        out.append([conv, dtype, hidden, b, med("bound"), med("lr_stable"), med("lr_diverged"),
                    med("ratio_stable"), med("ratio_diverged"), f"{div}/{len(sel)}"])
    return out


def cell_table(runs: Sequence[Run], spec: GridSpec) -> tuple[list[str], list[list[object]]]:
    """Rows (convention, dtype, hidden, batch), columns lr: median first non-finite epoch
    and the number of seeds that diverged, or "none" within the epoch budget."""
    headers = ["convention", "dtype", "hidden", "batch"] + [f"lr {v:g}" for v in spec.lrs]
    index: dict[tuple[str, str, int, int, float], list[Run]] = {}
    for r in runs:
        index.setdefault((r.convention, r.dtype, r.hidden, r.batch_size, r.lr), []).append(r)
    rows: list[list[object]] = []
    for conv in spec.conventions:
        for dtype in spec.dtypes:
            for hidden in spec.hidden:
                for b in spec.batch_sizes:
                    row: list[object] = [conv, dtype, hidden, b]
                    for lr in spec.lrs:
                        cell = index.get((conv, dtype, hidden, b, lr), [])
                        div = [r.first_nonfinite for r in cell if r.first_nonfinite is not None]
                        row.append("none" if not div else
                                   f"{int(np.median(div))} ({len(div)}/{len(cell)})")
                    rows.append(row)
    return headers, rows


# -- report -------------------------------------------------------------------------------
def _cell(v: object) -> Cell:
    """A table cell from any value (containers as text)."""
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def _row(*values: object) -> list[Cell]:
    return [_cell(v) for v in values]


def _floats(v: object) -> list[float]:
    return [float(str(i)) for i in v] if isinstance(v, list) else []


def _fmt(v: object, digits: int = 3) -> str:
    """A float to ``digits`` significant digits; a computed NaN (a loss that overflowed) reads ``NaN``."""
    if isinstance(v, float):
        return fmt_number(v, digits, undefined="NaN")
    return str(v)


LIMIT_LABELS: dict[str, str] = {
    "best_linear_accuracy_exact": "best accuracy of any straight line on the 21 points (exact, %)",
    "linear_lr": "linear network: learning rate",
    "linear_batch_size": "linear network: batch size",
    "linear_epochs": "linear network: epochs",
    "linear_best_seed": "linear network: best seed",
    "linear_affine_residual": "linear network: deviation of its pre-sigmoid output from affine (share of range)",
    "sigmoid_net_epochs": "lab's sigmoid network: epochs",
    "sigmoid_net_accuracy": "lab's sigmoid network: accuracy (%)",
    "sigmoid_net_final_loss": "lab's sigmoid network: final loss",
}
"""The linear-limit quantities as the report names them (others keep their key, underscores as spaces)."""

PER_SEED_LABELS: dict[str, str] = {"linear_accuracy": "accuracy (%)", "linear_final_loss": "final loss"}


def limit_tables(limit: dict[str, object]) -> tuple[list[list[Cell]], list[str], list[list[Cell]]]:
    """The linear limit as two tables: ``(quantity, value)`` rows of its single numbers, and the headers
    and rows of its per-seed lists (one row per seed of ``linear_seeds``), so that no cell holds a list."""
    seeds = limit.get("linear_seeds")
    seeds = seeds if isinstance(seeds, list) else []
    lists: dict[str, list[object]] = {k: v for k, v in limit.items()
                                      if isinstance(v, list) and k != "linear_seeds" and len(v) == len(seeds)}
    scalars: list[list[Cell]] = [
        [LIMIT_LABELS.get(k, k.replace("_", " ")), _cell(v)] for k, v in limit.items()
        if k not in lists and k not in ("linear_seeds", "second_try") and not isinstance(v, dict)]
    headers = ["seed", *(PER_SEED_LABELS.get(k, k.replace("_", " ")) for k in lists)]
    rows: list[list[Cell]] = [[_cell(seed), *(_cell(v[i]) for v in lists.values())]
                              for i, seed in enumerate(seeds)]
    return scalars, headers, rows


def first_crossings(run: dict[str, object]) -> list[list[object]]:
    """First early-warning crossing per level and kind (weights: update; activations: forward)."""
    rows: list[list[object]] = []
    early = run["early_warnings"]
    if not isinstance(early, list):
        return rows
    seen: set[tuple[float, str]] = set()
    for e in early:
        kind = "weight" if e["phase"] == "update" else "activation"
        key = (float(e["level"]), kind)
        if key in seen:
            continue
        seen.add(key)
        rows.append([run["convention"], run["dtype"], kind, f"max**{e['level']:g}", e["threshold"],
                     e["epoch"], e["step"], f"{e['layer']} {e['role']}", e["largest"]])
    return rows


def _order(conv: str) -> int:
    """Report order: the main reading, the summed reading, the default."""
    return CONVENTIONS_STUDIED.index(conv) if conv in CONVENTIONS_STUDIED else len(CONVENTIONS_STUDIED)


def _what(conv: str) -> str:
    """A convention's step in words, read from its fields."""
    r = resolve(conv)
    if r is None:
        return "refnet's default: mean-loss gradient, applied after backward"
    grad = "mean-loss" if r.gradient == "mean" else "summed-loss"
    return f"{r.label}: {grad} gradient, layers updated inside backward, {r.sigmoid} sigmoid"


def findings(study: Study) -> list[str]:
    """The verdict on the lab's explanation, each sentence carrying its number; the main
    reading first, the summed reading and the default beside it."""
    b = study.bound
    rows = threshold_summary(study.thresholds)
    cfg = study.config
    spec = cfg.grid
    convs = sorted(spec.conventions, key=_order)

    def row(conv: str, dtype: DTypeName, hidden: int, size: int) -> list[object] | None:
        for r in rows:
            if r[:4] == [conv, dtype, hidden, size]:
                return r
        return None

    out = [
        f"At initialisation (seed {b['seed']}, hidden {b['hidden']}) the largest Hessian eigenvalue of the "
        f"full-batch mean loss is {_fmt(b['lambda_max_full_batch_mean'], 4)}, so plain gradient descent is "
        f"stable only for lr < {_fmt(b['bound_full_batch'])}.",
        f"A step on a batch of {b['batch_size']} descends the batch's mean loss under a mean-gradient convention "
        f"and its summed loss under a summed one. The lab's lr = {_fmt(cfg.lr)} against each convention's bound: "
        + "; ".join(f"`{c}` ({_what(c)}): largest eigenvalue {_fmt(b[f'{c}: step_sharpness'], 4)}, bound "
                    f"{_fmt(b[f'{c}: step_bound'])}, lr {_fmt(b[f'{c}: lr_over_bound'])} times it"
                    for c in convs if f"{c}: step_sharpness" in b) + ".",
    ]
    h = cfg.hidden if cfg.hidden in spec.hidden else spec.hidden[0]
    d = "float64" if "float64" in spec.dtypes else spec.dtypes[0]
    sizes = sorted(spec.batch_sizes)
    if len(sizes) > 1:
        def thr(r: list[object] | None) -> str:
            return "none" if r is None or r[6] is None else _fmt(r[6])

        parts = []
        for c in convs:
            sel = [row(c, d, h, s) for s in sizes]
            vals = [float(str(r[6])) for r in sel if r is not None and r[6] is not None]
            parts.append(f"`{c}` from {thr(sel[0])} at batch size {sizes[0]} to {thr(sel[-1])} at {sizes[-1]}"
                         + (f" (between {_fmt(min(vals))} and {_fmt(max(vals))})" if vals else ""))
        out.append(
            f"Measured over {len(spec.seeds)} seeds (hidden {h}, {d}, {spec.epochs} epochs), the median smallest "
            "diverging lr goes " + "; ".join(parts) + ": batch size matters through a summed gradient, which "
            "scales the step with the batch.")
        frac_parts = []
        for c in convs:
            sel_runs = [r for r in study.runs if r.convention == c and r.lr >= cfg.lr]
            if sel_runs:
                frac = sum(r.diverged for r in sel_runs) / len(sel_runs)
                frac_parts.append(f"`{c}` {100 * frac:.0f}% of {len(sel_runs)}")
        if frac_parts:
            out.append(
                f"At lr >= {_fmt(cfg.lr)} the share of grid runs that reached a non-finite value, at every batch "
                f"size from {sizes[0]} to {sizes[-1]}: " + ", ".join(frac_parts) + ".")
    de = study.dtype_effect
    if de["pairs"]:
        out.append(
            f"float32 and float64 agreed on whether a run diverged in {100 * de['same_outcome']:.1f}% of "
            f"{de['pairs']:.0f} paired runs; of the {de['both_diverged']:.0f} pairs where both diverged, float32 "
            f"reached a non-finite value earlier in {de['float32_earlier']:.0f} (by at most "
            f"{_fmt(de['max_epochs_float32_earlier'])} epochs) and in the same epoch in {de['same_epoch']:.0f}: "
            "the dtype decides when the overflow shows, not whether the run diverges.")
    he = study.hidden_effect
    if len(he) > 1:
        out.append("Median full-batch lambda_max at initialisation by hidden width: " + ", ".join(
            f"{h} units {_fmt(v['lambda_max_median'], 4)} (bound {_fmt(v['bound_median'])})" for h, v in he.items())
            + ": wider layers start sharper and diverge at smaller lr.")
    for path in study.drift:
        if len(path.lambda_max) > 1:
            end = (f", and a non-finite value by epoch {path.nonfinite_epoch}" if path.nonfinite_epoch is not None
                   else f", and stayed finite for {path.epochs[-1]} epochs")
            out.append(
                f"At batch size 1 and lr {_fmt(path.lr)} under `{path.convention}`, the loss went "
                f"from {_fmt(path.loss[1])} (epoch {path.epochs[1]}) to {_fmt(path.loss[-1])} (epoch "
                f"{path.epochs[-1]}) and lambda_max from {_fmt(path.lambda_max[1], 4)} to "
                f"{_fmt(path.lambda_max[-1], 4)}{end}.")
    p = study.predictors
    names = list(p)
    out.append(
        "Share of the grid's runs whose divergence each rule predicts (factor 1): " + "; ".join(
            f"{n}: {100 * p[n]['agreement_at_1']:.1f}%" for n in names) + ".")
    firsts = sorted(study.first_try(), key=lambda r: _order(str(r["convention"])))
    where = ", ".join(
        f"`{r['convention']}`/{r['dtype']}: epoch {ev['epoch']} step {ev['step']} {ev['phase']} "
        f"{ev['layer_name']} {ev['operation']}"
        for r in firsts if isinstance(ev := r["event"], dict))
    out.append(f"The first non-finite values (guard, raise mode) were: {where}. Wherever it shows, the growth "
               "started earlier: the squared error is at most where it became visible, not its cause.")
    lim = study.limit
    out.append(
        f"With the output sigmoid kept (default convention, lr {_fmt(cfg.lr)}, batch {cfg.batch_size}), "
        f"the linear network reaches at best "
        f"{_fmt(max(_floats(lim['linear_accuracy'])), 4)}% (the exact optimum of any straight line on these 21 "
        f"points is {_fmt(lim['best_linear_accuracy_exact'], 4)}%), its pre-sigmoid output deviates from an "
        f"affine function by {_fmt(lim['linear_affine_residual'], 2)} of its range, and the lab's network "
        f"with sigmoid activations reaches {_fmt(lim['sigmoid_net_accuracy'], 4)}%.")
    tries = lim.get("second_try")
    if isinstance(tries, dict):
        for conv in sorted(tries, key=_order):
            t = tries[conv]
            slope = float(str(t["largest_sigmoid_slope"]))
            why = (f"its output sigmoid saturated: the logits over the 21 points lie between "
                   f"{_fmt(t['logit_min'], 4)} and {_fmt(t['logit_max'], 4)}, so every gradient passes through a "
                   f"sigmoid slope of at most {_fmt(slope, 2)}" if slope < 1e-3 else
                   f"an affine map cannot separate XOR (largest sigmoid slope {_fmt(slope, 2)}, not saturated)")
            out.append(
                f"The lab's second try under `{conv}` (lr {_fmt(cfg.lr)}, batch {cfg.batch_size}) stayed finite and "
                f"ended at {_fmt(t['accuracy'], 4)}% (final loss {_fmt(t['final_loss'])}) after {t['epochs']} "
                f"epochs: {why}.")
    return out


def write_report(study: Study, directory: Path, ok: bool, summary: str) -> Path:
    """``report.md``, ``report.json`` and the figures in ``directory``."""
    cfg = study.config
    spec = cfg.grid
    rep = Report("overflow", "The lab's no-activation overflow: reproduced and explained", directory)
    rep.section("Setup")
    rep.text(
        f"Lab network without hidden activations: Linear(2,{cfg.hidden}) -> Linear({cfg.hidden},{cfg.hidden}) "
        f"-> Linear({cfg.hidden},1), all biases, N(0,1) initial weights (seed {cfg.seed}), MSE, the 21-point "
        f"XOR set, mini-batches of {cfg.batch_size} (so {cfg.batch_size} + 1 points), lr {cfg.lr:g} (the lab "
        "Linear.backward default). First try: no activation at all; second try: output sigmoid kept. "
        f"Main result under `{MAIN}`; beside it " + ", ".join(f"`{c}`" for c in sorted(spec.conventions, key=_order)
                                                       if c != MAIN)
        + "; each network built with its convention's sigmoid; float64 and float32. Conventions: "
        + "; ".join(f"`{c}` = {_what(c)}" for c in sorted(spec.conventions, key=_order))
        + f". Run time {study.seconds:.1f} s{' (--quick)' if cfg.quick else ''}.",
        "Environment: " + ", ".join(f"{k} {v}" for k, v in study.environment.items()) + ".")
    rep.section("First try: the first non-finite value (guard in raise mode)")
    ev_rows: list[list[Cell]] = []
    for r in sorted(study.first_try(), key=lambda r: _order(str(r["convention"]))):
        ev = r["event"]
        if isinstance(ev, dict):
            ev_rows.append(_row(r["convention"], r["dtype"], ev["epoch"], ev["step"], ev["phase"],
                                ev["layer_name"], ev["operation"], ev["role"],
                                f"{ev['nan']}/{ev['pos_inf']}/{ev['neg_inf']}", ev["first_index"],
                                ev["headroom"], ev["origin"], r["guard_agrees_with_trace"]))
        else:
            ev_rows.append(_row(r["convention"], r["dtype"], *(["none"] * 10), False))
    rep.table(["convention", "dtype", "epoch", "step", "phase", "layer", "operation", "role",
               "NaN/+inf/-inf", "first index", "headroom", "origin", "trace agrees"], ev_rows)
    cross = [_row(*row) for r in study.first_try() for row in first_crossings(r)]
    rep.text("Early-warning crossings (first time a weight or a layer output reached the level; "
             "`max**0.5` means its square overflows):")
    rep.table(["convention", "dtype", "kind", "level", "threshold", "epoch", "step", "where", "largest"],
              cross)
    curves = [Curve(f"{r['convention']} {r['dtype']}", str(r["dtype"]), int(str(r["steps_per_epoch"])),
                    _floats(r["weight"]), _floats(r["activation"]),
                    int(str(r["event"]["step"])) if isinstance(r["event"], dict) else None)
              for r in study.first_try()]
    rep.figure(magnitudes_figure(curves), "magnitudes.png",
               "log10 of the largest |weight| and |layer output| per step until the guard stopped the run")
    rep.section("The lab's symptom, guard off")
    for s in study.symptom:
        msgs = sorted({str(w["message"]) for w in s.warnings})
        first_warn = (f", the first at epoch {s.warnings[0]['epoch']} step {s.warnings[0]['step']}"
                      if s.warnings else "")
        rep.text(f"- `{s.convention}` {s.dtype}: {len(s.warnings)} warnings from the lab's loss line "
                 f"`np.mean((y - t) ** 2)` over {s.epochs} epochs ({'; '.join(msgs) or 'none'}{first_warn}); "
                 f"loss line at steps 0-2: {', '.join(_fmt(v) for v in s.loss[:3])}; "
                 f"{s.predictions_nan}/{s.predictions} predictions NaN, accuracy {s.accuracy:.1f}%; "
                 f"the lab's thresholding `pred[pred > 0.5] = 1` raised "
                 f"{len(s.thresholding_warnings)} warnings under NumPy {np.__version__}.")
    rep.section("Second try: output sigmoid kept")
    rep.table(["convention", "dtype", "epochs", "non-finite", "accuracy (%)", "final loss"],
              [_row(r["convention"], r["dtype"], r["epochs_limit"], "none" if r["event"] is None else "yes",
                    r["accuracy"], r["final_loss"])
               for r in sorted(study.second_try(), key=lambda r: _order(str(r["convention"])))])
    rep.section("The stability bound at initialisation")
    v = study.hessian_validation
    rep.text(
        f"Hessian by central differences of backpropagated gradients ({v['parameters']} parameters). "
        f"Check on a single linear layer with MSE, where H = 2 X^T X / N exactly: largest entry error "
        f"{_fmt(v['linear_layer_max_abs_error'], 2)}. Lab network: lambda_max {_fmt(v['lab_lambda_max_float64'], 8)} "
        f"in float64 vs {_fmt(v['lab_lambda_max_longdouble'], 8)} in longdouble (relative difference "
        f"{_fmt(v['float64_vs_longdouble_relative'], 2)}); the second difference of the loss along the top "
        f"eigenvector gives {_fmt(v['second_difference_along_top_vector'], 8)}; lambda_min "
        f"{_fmt(v['lab_lambda_min'], 4)} (the loss is not convex).")
    rep.table(["quantity", "value"], [_row(k, val) for k, val in study.bound.items()])
    rep.section("Epochs to the first non-finite value")
    rep.text(f"Grid: lr {', '.join(f'{v:g}' for v in spec.lrs)}; batch sizes {list(spec.batch_sizes)}; "
             f"hidden {list(spec.hidden)}; seeds {list(spec.seeds)}; {spec.epochs} epochs. Cell: median "
             "epoch (0-based) of the first non-finite loss or parameter over the seeds that diverged "
             "(count/seeds), or none.")
    headers, cells = cell_table(study.runs, spec)
    rep.table(headers, [_row(*c) for c in cells])
    rep.text("Threshold per setting (medians over seeds): s is the step sharpness, the largest "
             "Hessian eigenvalue of the loss a step descends (the batch sum under a summed-gradient reading, "
             "the batch mean under a mean-gradient one and the default), bound = 2 / s.")
    rep.table(["convention", "dtype", "hidden", "batch", "bound 2/s", "largest stable lr",
               "smallest diverging lr", "stable lr / bound", "diverging lr / bound", "seeds diverged"],
              [_row(*r) for r in threshold_summary(study.thresholds)])
    rep.table(["rule: diverges iff value > factor", "right at factor 1", "best", "best factor"],
              [[n, d["agreement_at_1"], d["best_agreement"], d["best_factor"]]
               for n, d in study.predictors.items()])
    h = cfg.hidden if cfg.hidden in spec.hidden else spec.hidden[0]
    dt = "float64" if "float64" in spec.dtypes else spec.dtypes[0]
    bounds: dict[tuple[str, int], float] = {}
    for conv in spec.conventions:
        for size in spec.batch_sizes:
            vals = [2.0 / s.step[conv][size] for s in study.sharpness if s.hidden == h and size in s.step[conv]]
            bounds[(conv, size)] = float(np.median(vals))
    rep.figure(outcome_map(study.runs, h, dt, bounds), "outcome_map.png",
               f"Share of seeds reaching a non-finite value over lr x batch size (hidden {h}, {dt})")
    rep.figure(threshold_figure(study.thresholds, h, dt), "threshold.png",
               "Smallest diverging lr and the Hessian bound against batch size")
    rep.section("Below the bound: the lab's update order drifts")
    rep.text(f"Batch size 1 (so the summed and the mean loss coincide, and so do `lab` and `lab-sum` when their "
             f"other fields agree on a network without sigmoid), lr {cfg.drift_lr:g}, which is "
             f"{_fmt(cfg.drift_lr / float(str(study.bound['batch1_step_bound'])))} of the per-step bound "
             f"{_fmt(study.bound['batch1_step_bound'])} at initialisation. The only difference left is the "
             "lab's order: each layer is updated inside backward and the layer below receives its "
             "gradient through the already-updated weights.")
    rep.table(["convention", "epoch", "loss", "largest |param|", "lambda_max (full batch)"],
              [_row(p.convention, e, lo, w, lm) for p in study.drift
               for e, lo, w, lm in zip(p.epochs, p.loss, p.weight, p.lambda_max)]
              + [_row(p.convention, p.nonfinite_epoch, "non-finite", None, None)
                 for p in study.drift if p.nonfinite_epoch is not None])
    rep.figure(drift_figure(study.drift), "drift.png",
               "Loss and sharpness along training at batch size 1: lab order vs gradient descent")
    rep.section("The limit of a linear network")
    lim = study.limit
    scalars, seed_headers, seed_rows = limit_tables(lim)
    rep.table(["quantity", "value"], scalars)
    if seed_rows:
        rep.table(seed_headers, seed_rows, caption="The linear network (output sigmoid kept) by seed")
    tries = lim.get("second_try")
    if isinstance(tries, dict):
        keys = ["accuracy", "final_loss", "epochs", "saturated_outputs", "logit_min", "logit_max",
                "largest_sigmoid_slope", "affine_residual"]
        rep.text("The lab's second try (output sigmoid kept, guard in raise mode) under each reading:")
        rep.table(["reading", *keys], [_row(c, *(tries[c].get(k) for k in keys)) for c in sorted(tries, key=_order)])
    x, y = xor_easy()
    rep.figure(boundary_figure(study.panels, x, y), "decision_boundaries.png",
               "Decision regions: the linear network's boundary is a straight line")
    rep.section("Verdict on the lab's explanation")
    rep.text(*(f"- {s}" for s in findings(study)))
    # the main result first: the lab reading, float64 (NumPy's default)
    order = sorted(study.first_try(), key=lambda r: (_order(str(r["convention"])), r["dtype"] != "float64"))
    first = next((r["event"] for r in order if r["event"] is not None), None)
    first_events = {f"{r['convention']} {r['dtype']}": r["event"] for r in order}
    rep.data.update({
        "config": to_json({**asdict(cfg), "grid": asdict(spec)}),
        "environment": to_json(study.environment),
        "main_reading": MAIN,
        "readings": {c: (None if (rd := resolve(c)) is None else rd.label) for c in spec.conventions},
        "first_event": to_json(first),
        "first_events": to_json(first_events),
        "reproduction": to_json(study.reproduction),
        "symptom": to_json([asdict(s) for s in study.symptom]),
        "hessian_validation": to_json(study.hessian_validation),
        "bound": to_json(study.bound),
        "thresholds": to_json(study.thresholds),
        "predictors": to_json(study.predictors),
        "linear_limit": to_json(study.limit),
        "table": {"headers": to_json(headers), "rows": to_json(cells)},
        "runs_csv": _csv(study.runs),
        "drift": to_json([asdict(p) for p in study.drift]),
        "dtype_effect": to_json(study.dtype_effect),
        "hidden_effect": to_json(study.hidden_effect),
        "findings": to_json(findings(study)),
        "seconds": study.seconds,
    })
    return rep.write(ok, summary)


def _csv(runs: Sequence[Run]) -> str:
    """Every grid run as CSV text (one JSON string keeps report.json small)."""
    cols = list(Run.__dataclass_fields__) + ["ratio"]
    lines = [",".join(cols)]
    for r in runs:
        d = r.to_dict()
        lines.append(",".join("" if d[c] is None else (f"{d[c]:.6g}" if isinstance(d[c], float) else str(d[c]))
                              for c in cols))
    return "\n".join(lines) + "\n"


def console(study: Study, ok: bool, summary: str) -> str:
    """The summary printed on stdout."""
    lines = [f"overflow: {'PASS' if ok else 'FAIL'}: {summary}"]
    for r in study.first_try():
        ev = r["event"]
        what = (f"epoch {ev['epoch']} step {ev['step']} {ev['phase']} {ev['layer_name']} {ev['operation']} "
                f"-> {ev['role']}" if isinstance(ev, dict) else "no event")
        lines.append(f"  first try {r['convention']:7s} {r['dtype']}: {what}")
    for r in study.second_try():
        lines.append(f"  second try {r['convention']:7s} {r['dtype']}: "
                     f"{'finite' if r['event'] is None else 'NON-FINITE'}, accuracy {r['accuracy']}%")
    lines += [f"  - {s}" for s in findings(study)]
    lines.append(f"  run time {study.seconds:.1f} s")
    return "\n".join(lines)


