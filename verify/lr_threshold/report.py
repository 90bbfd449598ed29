"""The learning-rate study's report: ``report.md``, ``report.json`` and figures from the study's data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..common.report import Report, to_json
from .figures import outcome_strips, pair_losses, separation_growth, sharpness_plot
from .runs import CRITERIA, LAB
from .study import fmt_number, summary_lines

__all__ = ["write_report"]


def write_report(data: dict[str, Any], directory: Path, ok: bool) -> Path:
    """``report.md``, ``report.json`` and figures in ``directory``."""
    ex = data["experiments"]
    rep = Report("lr_threshold", "Learning-rate threshold: 0.001490625 vs 0.001490626", directory)
    rep.section("Summary")
    rep.text("\n".join(f"- {line}" for line in summary_lines(data)))
    rep.section("Inputs and environment")
    env = data["environment"]
    rep.text(f"Lab configuration: {json.dumps(LAB)}; criteria {json.dumps(data['inputs']['criteria'])}.",
             f"Python {env['python']}, NumPy {env['numpy']}, BLAS {json.dumps(env['blas'].get('blas'))}, "
             f"platform {env['platform']}, CPU dispatch features in use {env['cpu_features']['dispatch_in_use']}, "
             f"thread variables {json.dumps(env['threads'])}, refnet source sha256 "
             f"`{env['refnet_source_sha256'][:16]}`, commit `{env['git_commit']}`.",
             f"Plan: {json.dumps(data['plan'])}.")
    s = ex.get("search", {})
    rep.section("Search (E0's configuration)")
    if s.get("pairs_tried"):
        rows = [[init, v["seeds"], v["converged_a"], v["converged_b"], v["differ"], v["fraction_differ"],
                 v["steps_differ"], v["a_first"], v["b_first"]] for init, v in s["per_init"].items()]
        rep.table(["init", "seeds", "lower converged", "upper converged", "labels differ", "fraction",
                   "threshold epoch differs", "lower first", "upper first"], rows,
                  caption=f"The pair for seeds {s['seeds'][0]}..{s['seeds'][1]} to {s['epochs']} epochs"
                          + (" (stored result of `--search`)" if s.get("stored") else ""))
        if s.get("timing_windows"):
            rep.table(["init", "seed", "lower crosses at", "upper crosses at", "window (epochs)"],
                      [[w["init"], w["seed"], w["steps_a"], w["steps_b"], w["width"]] for w in s["timing_windows"][:10]],
                      caption="Widest epoch windows in which the lower rate has converged and the upper has not")
        rep.text(f"Pinned: {json.dumps(s.get('pinned'))}.")
    e0 = ex["E0"]
    rep.section("E0 reproduce")
    rep.table(["lr", "lr (hex)", "outcome", "final loss", "accuracy %", "steps to threshold", "dead units",
               "plateau ratio", "weights sha256", "loss sha256"],
              [[repr(r["spec"]["lr"]), r["lr_hex"], r["outcome"], r["readout"]["final_loss"], r["readout"]["accuracy"],
                r["readout"]["steps_to_threshold"], r["readout"]["dead_units"], r["readout"]["plateau_ratio"],
                r["weights_sha256"][:16], r["loss_sha256"][:16]] for r in e0["runs"]])
    rep.text(f"Fresh processes: {json.dumps({k: v['all_match'] for k, v in e0['fresh'].items()})}; "
             f"labels at checkpoints {json.dumps(e0['labels_at_checkpoints'])}.")
    curves = [(f"lr={r['spec']['lr']!r} ({r['outcome']})", r["loss_samples"]) for r in e0["runs"]]
    rep.figure(pair_losses(curves, CRITERIA.loss_threshold), "pair_losses.png",
               "E0: loss per epoch of the pair (left log-log; right the last quarter and the threshold)")
    if "E1" in ex:
        rep.section("E1 environment")
        rep.table(["variant", "epochs", "outcomes", "reference", "labels change", "weights identical",
                   "final loss", "steps"],
                  [[v["variant"], v.get("epochs"), str(v.get("outcomes", v.get("error"))),
                    str(v.get("reference_outcomes")), v.get("labels_change"), str(v.get("weights_identical")),
                    str([fmt_number(x, 6) for x in v.get("final_loss", [])]), str(v.get("steps_to_threshold"))]
                   for v in ex["E1"]["variants"]])
    e2 = ex.get("E2", {})
    if "lo" in e2:
        rep.section("E2 bisection")
        rep.text(f"Bracket [{e2['lo_hex']}, {e2['hi_hex']}] = [{e2['lo_decimal']}, {e2['hi_decimal']}], "
                 f"{e2['ulps']} ulp wide: {e2['label_lo']} below, {e2['label_hi']} above; {e2['runs']} runs "
                 f"in {e2['rounds']} rounds of {e2['per_round']}.")
        m = e2.get("mechanism")
        if m:
            rep.text(f"Mechanism: trained side by side, the two runs first see a different ReLU on/off pattern at "
                     f"epoch {m['first_pattern_epoch']} (sites (hidden layer, point, unit) {m['pattern_sites']}), "
                     f"when their parameters are {m['distance_before']:.3g} apart; 100 epochs later "
                     f"{m['distance_after_100']:.3g}, at the end {m['final_distance']:.3g}; the patterns differ on "
                     f"{m['pattern_differs_epochs']} of {m['epochs']} epochs. Final losses "
                     f"{m['final_loss'][0]:.10f} and {m['final_loss'][1]:.10f}.")
    if "E3" in ex:
        e3 = ex["E3"]
        rep.section("E3 zoom scans")
        rep.table(["window", "points", "spacing (ulps)", "changes", "converged", "stalled", "diverged",
                   "dimension", "RMS residual"],
                  [[w["window"], w["points"], f"{w['spacing_ulps_min']}..{w['spacing_ulps_max']}", w["changes"],
                    w["counts"]["converged"], w["counts"]["stalled"], w["counts"]["diverged"],
                    w["dimension"]["dimension"], w["dimension"]["rms_residual"]] for w in e3["windows"]],
                  caption=f"Centre {e3['center_hex']}; never below {e3['min_spacing_ulps']} ulp spacing")
        pd = e3["pooled_dimension"]
        rep.text(f"Pooled box counts (sizes {pd['sizes']} edges): {pd['counts']}; dimension {fmt_number(pd['dimension'])}"
                 f" +- {fmt_number(pd['stderr'])}, residuals {[round(r, 3) for r in pd['residuals']]}.")
        rep.figure(outcome_strips(e3["windows"]), "outcome_strips.png",
                   "E3: outcome per rate in each zoom window (left) and final loss (right)")
    if "E4" in ex:
        e4 = ex["E4"]
        rep.section("E4 precision ladder")
        rep.table(["rate", "dtype", "value (exact hex)", "outcome", "final loss", "steps"],
                  [[r["rate"], r["dtype"], r["value_hex"], r["outcome"], r["final_loss"], r["steps_to_threshold"]]
                   for r in e4["rows"]])
        rep.text(f"ulps between consecutive rates: float64 {json.dumps(e4['ulps_float64'])}, "
                 f"float32 {json.dumps(e4['ulps_float32'])}.")
    if "E5" in ex:
        e5 = ex["E5"]
        rep.section("E5 separation")
        rep.table(["perturbation", "lambda (1/epoch)", "doubling (epochs)", "R^2", "fit epochs",
                   "first nonzero", "reaches 0.1", "reaches 1"],
                  [[sp["label"], sp["fit"]["exponent"], sp["fit"]["doubling_epochs"], sp["fit"]["r_squared"],
                    f"{sp['fit']['start']}..{sp['fit']['stop']}", sp["first_nonzero"], sp["reaches_0.1"],
                    sp["reaches_1"]] for sp in e5["separations"]])
        rep.figure(separation_growth(e5["separations"], data["pinned"]["epochs"]), "separation.png",
                   "E5: distance between trajectories (log scale); dotted line: E0's epochs")
    if "E6" in ex:
        rep.section("E6 sharpness")
        rep.table(["lr", "2/lr", "samples", "smooth max lambda_max", "ratio to 2/lr", "first smooth above 2/lr",
                   "kink samples", "max lambda_max incl. kinks"],
                  [[repr(t["lr"]), t["threshold"], len(t["epochs"]), t["smooth_max"], t["max_ratio"], t["first_above"],
                    t["kink_samples"], max(t["top"])] for t in ex["E6"]["traces"]],
                  caption="Kink samples: relative asymmetry of the raw difference quotient above 1e-6 (smooth "
                          "samples are near 1e-11); the finite-difference step crossed a ReLU kink there")
        rep.figure(sharpness_plot(ex["E6"]["traces"]), "sharpness.png",
                   "E6: top eigenvalue of the summed-loss Hessian vs 2/lr")
    if "E7" in ex:
        rep.section("E7 per-seed boundaries")
        rep.table(["seed", "changes in scan", "boundary lo", "boundary (hex)", "rel. offset from 0.001490625",
                   "labels", "runs"],
                  [[e["seed"], e["scan_changes"], repr(e["lo"]) if "lo" in e else None, e.get("lo_hex"), e.get("relative_offset"),
                    f"{e.get('label_lo')} | {e.get('label_hi')}" if "lo" in e else None, e.get("runs")]
                   for e in ex["E7"]["per_seed"]])
    if "horizon" in ex:
        hz = ex["horizon"]
        rep.section("Horizon check")
        rep.table(["lr", "lr (hex)", *[f"label at {k}" for k in hz["rows"][0]["labels"]]],
                  [[repr(r["lr"]), r["lr_hex"], *r["labels"].values()] for r in hz["rows"]])
    rep.section("Verdicts")
    for h, v in ex["verdicts"].items():
        rep.text(f"**{h}: {v['hypothesis']}: {v['verdict']}.** {v['evidence']} (cites {', '.join(v['cites'])})")
    rep.data.update({k: to_json(v) for k, v in data.items()})
    return rep.write(ok, "E0 reproduced deterministically" if ok else "E0 did not reproduce deterministically")
