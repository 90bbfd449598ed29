"""The learning-rate study's report: ``report.md``, ``report.json`` and figures from the study's data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..common.report import Cell, Report, fmt_list, fmt_value, to_json
from .boxcount import describe_fit
from .experiments import PAIR
from .figures import outcome_strips, pair_losses, separation_growth, sharpness_plot
from .runs import CRITERIA
from .study import fmt_number, sensitivity_rows, summary_lines

__all__ = ["write_report", "settings_text", "environment_text", "plan_text", "variables_text"]

_PLAN = {"horizon": "epochs of E0 and the scans", "e2_per_round": "E2 rates per round",
         "e2_min_ulps": "E2 stops at a bracket of (ulps)", "e3_count": "E3 rates per window",
         "e3_widths": "E3 relative widths", "e1": "E1", "e4": "E4", "e5": "E5", "e6": "E6",
         "e7_seeds": "E7 seeds", "fresh": "fresh processes per E0 rate", "horizon_check": "horizon check",
         "skipped": "skipped (--skip)"}


def _plain(value: object) -> str:
    """A setting's value as prose (integers with thousands separators, lists as ``a, b``)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}"
    if isinstance(value, (list, tuple)) and not value:
        return "none"
    return fmt_value(value)


def settings_text(settings: Mapping[str, object]) -> str:
    """``data xor (21 points), layers 2-4-4-1, bce delta 1e-07``: a flat mapping of settings as prose."""
    return ", ".join(f"{str(k).replace('_', ' ')} {_plain(v)}" for k, v in settings.items()) or "none"


def variables_text(variables: Mapping[str, object]) -> str:
    """Environment variables as ``NAME=value``; unset ones (``None``) named together."""
    set_ = [f"`{k}={v}`" for k, v in variables.items() if v is not None]
    unset = [str(k) for k, v in variables.items() if v is None]
    parts = ([", ".join(set_)] if set_ else []) + ([f"unset: {', '.join(unset)}"] if unset else [])
    return "; ".join(parts) or "none"


def environment_text(env: Mapping[str, Any]) -> str:
    """The machine a run measured, as one sentence."""
    blas = env.get("blas", {}).get("blas") if isinstance(env.get("blas"), Mapping) else None
    blas_text = (f"{blas.get('name', '?')} {blas.get('version', '')}".rstrip()
                 + (f" ({' '.join(str(blas['openblas configuration']).split())})"
                    if blas.get("openblas configuration") else "")) if isinstance(blas, Mapping) else "unknown"
    dispatch = env.get("cpu_features", {}).get("dispatch_in_use", [])
    return (f"Python {env['python']}, NumPy {env['numpy']}, BLAS {blas_text}, platform {env['platform']}; "
            f"CPU dispatch features in use: {fmt_list(dispatch)}; thread variables: "
            f"{variables_text(env.get('threads', {}))}; refnet source sha256 `{env['refnet_source_sha256'][:16]}`, "
            f"commit `{env['git_commit']}`.")


def plan_text(plan: Mapping[str, object]) -> str:
    """The sizes of each experiment (:func:`verify.lr_threshold.study._plan`) as prose."""
    items = []
    for key, value in plan.items():
        label = _PLAN.get(key, key.replace("_", " "))
        if isinstance(value, bool):
            items.append(f"{label} {'runs' if value else 'not run'}")
        elif key == "skipped" and not value:
            continue
        else:
            items.append(f"{label}: {_plain(value)}")
    return "; ".join(items) or "none"


def _defined(value: object) -> Cell:
    """A table cell from a float that ``report.json`` may hold as ``"nan"``: NaN again, which tables show as n/a."""
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    return value if value is None or isinstance(value, (str, int, float, bool)) else fmt_value(value)


def _checkpoints(labels: Sequence[Mapping[str, object]]) -> str:
    """``lr=a stalled at 20,000, 100,000 epochs; lr=b ...``: each run's label at each checkpoint."""
    parts = []
    for lr, per in zip(PAIR, labels):
        by: dict[str, list[str]] = {}
        for epoch, label in per.items():
            by.setdefault(str(label), []).append(f"{int(epoch):,}")
        parts.append(f"lr={lr!r} " + ", ".join(f"{label} at {fmt_list(e, limit=None)} epochs"
                                               for label, e in by.items()))
    return "; ".join(parts) or "none"


def write_report(data: dict[str, Any], directory: Path, ok: bool) -> Path:
    """``report.md``, ``report.json`` and figures in ``directory``."""
    ex = data["experiments"]
    rep = Report("lr_threshold", "Learning-rate threshold: 0.001490625 vs 0.001490626", directory)
    rep.section("Summary")
    rep.text("\n".join(f"- {line}" for line in summary_lines(data)))
    rep.section("Inputs and environment")
    env = data["environment"]
    lab = {k: v for k, v in data["inputs"]["lab-evidence"].items() if k not in ("convention", "reading")}
    rep.text(f"Lab configuration: {settings_text(lab)}. Criteria: {settings_text(data['inputs']['criteria'])}. "
             f"Reading: `{data['inputs']['reading']}` (convention `{data['inputs']['convention']}`); sensitivity "
             f"reading `{data['inputs']['sensitivity_reading']}`.",
             environment_text(env),
             f"Plan: {plan_text(data['plan'])}.")
    s = ex.get("search", {})
    rep.section("Search (E0's configuration)")
    if s.get("pairs_tried"):
        rep.text(f"The pair for seeds {s['seeds'][0]}..{s['seeds'][1]} x init schemes {', '.join(s['inits'])} "
                 f"({s['pairs_tried']} (seed, init), {s['runs']} runs) to {s['epochs']} epochs under "
                 f"`{s['reading']}`, each run also judged at {fmt_list([f'{h:,}' for h in s['horizons'][:-1]], limit=None)} "
                 "epochs"
                 + (f", in {s['seconds']:.0f} s on {data['inputs']['workers']} worker processes"
                    if isinstance(s.get("seconds"), (int, float)) else "")
                 + (" (stored result of `--search`)" if s.get("stored") else "") + ". Very different: "
                 f"{s['criterion']['rule']}.")
        rows = [[h, init, v["seeds"], v["converged_a"], v["converged_b"], v["differ"], v["lab_direction"],
                 v["very_different"], v["very_different_lab_direction"], v["ratio_at_least_10"], v["max_ratio"]]
                for h, per in s["per_horizon"].items() for init, v in per.items()]
        rep.table(["horizon", "init", "seeds", "lower converged", "upper converged", "labels differ",
                   "lower converged, upper not", "very different", "very different, lower converged",
                   "losses >= 10x apart", "max loss ratio"], rows,
                  caption="Per horizon and init scheme (the last horizon is the search's)")
        if s.get("top_differing"):
            rep.table(["horizon", "init", "seed", "outcomes", "final losses", "ratio", "very different"],
                      [[r["horizon"], r["init"], r["seed"], f"{r['outcome_a']} | {r['outcome_b']}",
                        f"{r['loss_a']:.6g}, {r['loss_b']:.6g}", r["ratio"], r["very_different"]]
                       for r in s["top_differing"][:12]],
                      caption="Pairs whose labels differ, best first (the pinned pair is the first)")
        rep.table(["init", "seed", "outcomes", "final losses", "ratio"],
                  [[r["init"], r["seed"], f"{r['outcome_a']} | {r['outcome_b']}",
                    f"{r['loss_a']:.6g}, {r['loss_b']:.6g}", r["ratio"]] for r in s["closest_at_lab_horizon"][:10]],
                  caption=f"Closest pairs at the search's own horizon ({s['epochs']} epochs)")
        pin = s.get("pinned")
        rep.text(f"Pinned for E0: init {pin['init']}, seed {pin['seed']}, {pin['epochs']:,} epochs ({pin['kind']}): "
                 f"{pin['why']}." if isinstance(pin, Mapping) else "Pinned for E0: nothing (no pair found).")
    e0 = ex["E0"]
    rep.section("E0 reproduce")
    rep.text(f"Pinned configuration: the `{e0['kernel']}` kernel in fresh processes with "
             f"{variables_text(e0['pinned_environment'])} (dispatch in use there: "
             f"{fmt_list(e0['pinned_dispatch_in_use'])}); these hashes are the ones `--check` requires bit for bit. "
             f"The `blas` run (dispatch in use: {fmt_list(e0['machine_dispatch_in_use'])}) is this machine's: its "
             "last bits follow the CPU and the BLAS build.")
    rep.table(["kernel", "lr", "lr (hex)", "outcome", "final loss", "final loss (hex)", "accuracy %",
               "steps to threshold", "dead units", "plateau ratio", "weights sha256", "loss sha256"],
              [[kern, repr(r["spec"]["lr"]), r["lr_hex"], r["outcome"], r["readout"]["final_loss"],
                r["final_loss_hex"], r["readout"]["accuracy"], r["readout"]["steps_to_threshold"],
                r["readout"]["dead_units"], r["readout"]["plateau_ratio"], r["weights_sha256"][:16],
                r["loss_sha256"][:16]]
               for kern, runs in ((f"{e0['kernel']} (pinned)", e0["runs"]), ("blas (this machine)",
                                                                          e0["machine_runs"])) for r in runs])
    pc = e0["pair"]
    fresh = [f"{k}: {'every hash matches' if v['all_match'] else fmt_list(v.get('mismatches', []))}"
             for k, v in e0["fresh"].items()]
    rep.text(f"Loss ratio {fmt_number(pc['ratio'])}; very different: {fmt_value(pc['very_different'])}; lower rate "
             f"converged and upper not: {fmt_value(pc['lab_direction'])}; labels as the search saw them: "
             f"{fmt_value(e0['reproduced'])}; kernels agree on the labels: {fmt_value(e0['kernels_agree_on_labels'])}.",
             f"Fresh processes (runs of each rate compared bit for bit): {'; '.join(fresh) or 'none'}. Labels at the "
             f"checkpoints: {_checkpoints(e0['labels_at_checkpoints'])}.")
    curves = [(f"lr={r['spec']['lr']!r} ({r['outcome']})", r["loss_samples"]) for r in e0["runs"]]
    rep.figure(pair_losses(curves, CRITERIA.loss_threshold), "pair_losses.png",
               "E0: loss per epoch of the pair (left log-log; right the last quarter and the threshold)")
    if "E1" in ex:
        rep.section("E1 environment")
        rep.table(["variant", "epochs", "dispatch in use", "outcomes", "labels change", "bits as blas E0",
                   "bits as pinned E0", "final loss (hex)", "steps"],
                  [[v["variant"], v.get("epochs"), fmt_value(v.get("dispatch_in_use")),
                    fmt_value(v.get("outcomes", v.get("error"))), v.get("labels_change"),
                    fmt_value(v.get("weights_identical_to_blas")), fmt_value(v.get("weights_identical_to_pinned")),
                    fmt_value(v.get("final_loss_hex")), fmt_value(v.get("steps_to_threshold"))]
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
                     f"epoch {m['first_pattern_epoch']} (sites (hidden layer, point, unit): "
                     f"{fmt_list(m['pattern_sites'])}), "
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
                    _defined(w["dimension"]["dimension"]), _defined(w["dimension"]["rms_residual"])]
                   for w in e3["windows"]],
                  caption=f"Centre {e3['center_hex']}; never below {e3['min_spacing_ulps']} ulp spacing. "
                          "Dimension n/a: fewer than two box sizes hold a label change in the window")
        pd = e3["pooled_dimension"]
        counts = ", ".join(f"{c} at size {z}" for z, c in zip(pd["sizes"], pd["counts"]))
        rep.text(f"Pooled box counts over every window (boxes holding a label change, by box size in edges): "
                 f"{counts or 'none'}; {describe_fit(pd)}"
                 + (f"; residuals {fmt_list(pd['residuals'], 3)}" if pd["residuals"] else "") + ".")
        rep.figure(outcome_strips(e3["windows"]), "outcome_strips.png",
                   "E3: outcome per rate in each zoom window (left) and final loss (right)")
    if "E4" in ex:
        e4 = ex["E4"]
        rep.section("E4 precision ladder")
        rep.table(["rate", "dtype", "value (exact hex)", "outcome", "final loss", "steps"],
                  [[r["rate"], r["dtype"], r["value_hex"], r["outcome"], r["final_loss"], r["steps_to_threshold"]]
                   for r in e4["rows"]])
        rep.text(f"ulps between consecutive rates: float64 {fmt_value(e4['ulps_float64'])}; "
                 f"float32 {fmt_value(e4['ulps_float32'])}.")
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
                   f"E6: top eigenvalue of the {ex['E6']['traces'][0].get('loss_kind', 'summed')}-loss Hessian vs 2/lr")
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
    sens = ex.get("sensitivity")
    if sens:
        rep.section("Sensitivity: the summed reading")
        pp = sens["pinned_pair"]
        rep.text(f"The summed reading `{sens['reading']}` (convention `{sens['convention']}`) is the arithmetic "
                 "this study used before the lab's was reconstructed; its committed report is kept, unchanged, "
                 + (f"at `{sens['stored']['path']}`." if sens.get("stored") else "(not found).")
                 + f" The pinned pair rerun under it ({data['pinned']['epochs']} epochs, blas): "
                 + "; ".join(f"lr={r['spec']['lr']!r} {r['outcome']}, final loss {r['readout']['final_loss']:.6g}"
                             for r in pp) + f" (loss ratio {fmt_number(sens['pinned_pair_class']['ratio'])}).")
        rows = sensitivity_rows(data)
        if rows:
            rep.table(["quantity", f"summed reading ({sens['convention']}, stored report)",
                       f"chosen reading ({data['inputs']['convention']}, this report)", "changed"], rows,
                      caption="What changes between the readings")
    if data["plan"].get("skipped"):
        rep.section("Not run")
        rep.text(f"Skipped in this run (`--skip`): {', '.join(data['plan']['skipped'])}; the verdicts below rest "
                 "on the experiments that ran (each cites them).")
    rep.section("Verdicts")
    for h, v in ex["verdicts"].items():
        rep.text(f"**{h}: {v['hypothesis']}: {v['verdict']}.** {v['evidence']} (cites {', '.join(v['cites'])})")
    rep.data.update({k: to_json(v) for k, v in data.items()})
    return rep.write(ok, "E0 reproduced deterministically" if ok else "E0 did not reproduce deterministically")
