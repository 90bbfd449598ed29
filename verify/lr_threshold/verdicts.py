"""Every number the report states, derived from the raw results of :func:`.study.run_study`.

:func:`derive` is a pure function of the raw results, so a stored report can be
re-rendered (``--render``) and re-judged without rerunning anything.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np

from ..common.report import fmt_number
from .boxcount import label_boundary_fit
from .mechanism import growth_rate
from .runs import BASE, PAIR
from .ulp import hex_exact, ordinal, ulps_between

__all__ = ["derive", "LAB_PAGES", "claims", "fmt_rate", "PAIR_CATEGORIES", "GRID_CATEGORIES", "pair_category",
           "event_text", "pair_tally"]

LAB_PAGES: Final[dict[str, dict[str, Any]]] = {
    "625": {"plateau_bits": 1.0, "spike_epoch": 3600, "spike_bits": 1.24, "low_by": 10_000},
    "626": {"plateau_until": 4800, "at_4800_bits": 0.07, "jump_epoch": 5000, "band": (4.4, 16.6), "final": 12.18},
}
"""What the report's pages 17-18 show, read from the page images (LAB_SOURCE section 3)."""


def fmt_rate(r: float) -> str:
    """A rate with every digit that tells it apart (the shortest round-trip repr), the decimals
    past the ninth grouped in threes by thin spaces for the eye (``0.001490625 925 910 982 6``)."""
    text = repr(float(r))
    head, dot, frac = text.partition(".")
    if not dot or "e" in frac or len(frac) <= 11:
        return text
    rest = frac[9:]
    return head + "." + frac[:9] + "".join("\u2009" + rest[i:i + 3] for i in range(0, len(rest), 3))


def _curve_facts(curve: list[float], every: int) -> dict[str, float | int | None]:
    c = np.asarray(curve, dtype=np.float64)
    ep = np.arange(every - 1, every * len(c), every)

    def at(e: int) -> float:
        i = int(np.searchsorted(ep, e))
        return float(c[min(i, len(c) - 1)]) if len(c) else math.nan

    win = (ep >= 3000) & (ep <= 4400)
    spike = int(np.argmax(np.where(win, c, -np.inf))) if win.any() else 0
    above = np.flatnonzero(c > 2.0)
    late = c[ep >= 10_000]
    return {"at_3399": at(3399), "spike_epoch": int(ep[spike]) if win.any() else None,
            "spike_bits": float(c[spike]) if win.any() else math.nan, "at_4799": at(4799), "at_9999": at(9999),
            "jump_epoch": int(ep[above[0]]) if above.size else None,
            "band_min": float(late.min()) if late.size else math.nan,
            "band_max": float(late.max()) if late.size else math.nan,
            "final": float(c[-1]) if len(c) else math.nan}


def _changes(outcomes: list[str]) -> int:
    d = [o == "diverged" for o in outcomes]
    return sum(a != b for a, b in zip(d[:-1], d[1:]))


def derive(raw: dict[str, Any]) -> dict[str, Any]:
    """The study's findings (JSON-ready): E0-E5, verdicts and claims."""
    plan = raw["plan"]
    quick = bool(plan["quick"])
    epochs = int(plan["epochs"])
    out: dict[str, Any] = {"quick": quick, "epochs": epochs}
    # ---------------------------------------------------------------- E0
    p1, p2, bl = raw["E0"]["e0-pinned-1"], raw["E0"]["e0-pinned-2"], raw["E0"]["e0-blas"]
    same = all(a["params_sha256"] == b["params_sha256"] and a["log_sha256"] == b["log_sha256"]
               for a, b in zip(p1, p2))
    outcomes = [r["outcome"] for r in p1]
    blas_out = [r["outcome"] for r in bl]
    reproduced = outcomes == ["converged", "diverged"] and blas_out == outcomes
    every = int(BASE.log_every)
    out["E0"] = {"outcomes": outcomes, "blas_outcomes": blas_out, "identical_in_fresh_processes": same,
                 "reproduced": reproduced,
                 "pinned": [{k: r[k] for k in ("lr", "outcome", "final_loss", "accuracy", "params_sha256",
                                               "log_sha256", "jump_epoch")} for r in p1],
                 "blas": [{k: r[k] for k in ("lr", "outcome", "final_loss", "accuracy", "params_sha256",
                                             "log_sha256", "jump_epoch")} for r in bl],
                 "facts": {"625": _curve_facts(bl[0]["curve"], every), "626": _curve_facts(bl[1]["curve"], every)},
                 "blas_equals_pinned": [a["params_sha256"] == b["params_sha256"] for a, b in zip(bl, p1)]}
    # ---------------------------------------------------------------- E1
    scan = str(raw.get("scan", "blas"))
    secs = raw["E1"]["sections"]
    procs = raw["E1"].get("process", {})
    base = secs[scan]
    base_hi = float(base["hi"])
    rows = []
    for v, sec in secs.items():
        g = sec["grid"]
        if v == scan:
            pair_out = list(sec["ends"])
            how = "multisection of the pair"
        else:  # the probe (first step) holds the lab's two rates, rounded to the variant's grid
            probe = sec["steps"][0]
            at = {ordinal(float(r), g): o for r, o in zip(probe["rates"], probe["outcomes"])}
            pair_out = [at.get(ordinal(PAIR[0], g), "not run"), at.get(ordinal(PAIR[1], g), "not run")]
            how = "probe at +-4^k ulps, then multisection"
        has = not sec["stop"].startswith("no boundary")
        changes = max([s["changes"] for s in sec["steps"]], default=0)
        shift = ordinal(float(sec["hi"])) - ordinal(base_hi) if has else None
        proc = procs.get(v, {})
        rows.append({"variant": v, "pair_outcomes": pair_out,
                     "pair_splits": pair_out[0] != "diverged" and pair_out[1] == "diverged", "found": has,
                     "searched": how, "lo": sec["lo"], "hi": sec["hi"], "grid": g,
                     "bracket_ulps": sec["ulps"] if has else None, "steps": len(sec["steps"]),
                     "max_changes_per_step": changes, "shift_ulps": shift,
                     "shift_relative": (float(sec["hi"]) - base_hi) / base_hi if has else None,
                     "stop": sec["stop"], "kernel": proc.get("kernel"),
                     "dispatch_in_use": proc.get("dispatch_in_use"), "fingerprint": proc.get("fingerprint")})
    below = raw["E1"]["below"]
    conf = raw["E1"].get("confirm", [])
    confirmed = (len(conf) == 2 and float(conf[0]["lr"]) == float(base["lo"]) and float(conf[1]["lr"]) == base_hi
                 and conf[0]["outcome"] != "diverged" and conf[1]["outcome"] == "diverged")
    f64 = [r for r in rows if r["grid"] == "float64"]
    shifts = [abs(r["shift_ulps"]) for r in f64 if r["shift_ulps"] is not None and r["variant"] != scan]
    f32 = next((r for r in rows if r["grid"] == "float32"), None)
    out["E1"] = {"rows": rows, "scan": scan, "confirm": {"ok": confirmed, "outcomes": [r["outcome"] for r in conf],
                                                         "rates": [r["lr"] for r in conf]},
                 "boundary": {"lo": base["lo"], "hi": base["hi"], "ulps": base["ulps"], "stop": base["stop"],
                              "lo_hex": hex_exact(float(base["lo"])), "hi_hex": hex_exact(float(base["hi"])),
                              "monotone": max([s["changes"] for s in base["steps"]], default=0) <= 1,
                              "steps": len(base["steps"])},
                 "below": {"rates": len(below), "from": below[0]["lr"] if below else None,
                           "to": below[-1]["lr"] if below else None,
                           "diverged": sum(r["outcome"] == "diverged" for r in below),
                           "converged": sum(r["outcome"] == "converged" for r in below)},
                 "pair_ulps": ulps_between(*PAIR), "pair_ulps_float32": ulps_between(*PAIR, "float32"),
                 "max_shift_ulps": max(shifts) if shifts else None,
                 "splits": sum(r["pair_splits"] for r in rows), "variants": len(rows),
                 "f64": {"variants": len(f64), "splits": sum(r["pair_splits"] for r in f64),
                         "found": sum(r["found"] for r in f64), "max_shift_ulps": max(shifts) if shifts else 0,
                         "names": [r["variant"] for r in f64],
                         "same_boundary": [r["variant"] for r in f64 if r["shift_ulps"] == 0]},
                 "f32": None if f32 is None else {
                     "pair_outcomes": f32["pair_outcomes"], "splits": f32["pair_splits"],
                     "reversed": f32["pair_outcomes"] == ["diverged", "converged"],
                     "lo": f32["lo"], "hi": f32["hi"], "max_changes": f32["max_changes_per_step"],
                     "interleaved": f32["max_changes_per_step"] > 1}}
    # ---------------------------------------------------------------- E2
    win: list[dict[str, Any]] = []
    for k, recs in raw["E2"]["windows"].items():
        labels = [r["outcome"] for r in recs]
        ch = _changes(labels)
        fit = label_boundary_fit(labels).as_dict() if ch > 1 and len(labels) >= 8 else None
        rates = [r["lr"] for r in recs]
        win.append({"width": 10.0 ** -int(k), "k": int(k), "rates": len(recs), "diverged": labels.count("diverged"),
                    "changes": ch, "ulps": ordinal(rates[-1]) - ordinal(rates[0]) if rates else 0,
                    "labels": labels, "fit": fit})
    below_pair = sorted(float(r["lr"]) for recs in raw["E2"]["windows"].values() for r in recs
                        if r["outcome"] == "diverged" and float(r["lr"]) < PAIR[0])
    out["E2"] = {"center": raw["E2"]["center"], "windows": win, "diverged_below_pair": below_pair,
                 "interleaved": [w["k"] for w in win if w["changes"] > 1]}
    # ---------------------------------------------------------------- E3
    tr = raw["E3"]
    rws = tr["rows"]
    ep = [r["epoch"] for r in rws]
    dist = [r["distance"] for r in rws]
    g = growth_rate(ep, dist)
    big = next((i for i, x in enumerate(dist) if x > 1e-3), None)
    small = None if big is None else max((i for i in range(big) if dist[i] < 1e-12), default=None)
    jump = {"last_below_1e-12": ep[small] if small is not None else None,
            "distance_before": dist[small] if small is not None else None,
            "first_above_1e-3": ep[big] if big is not None else None,
            "distance_after": dist[big] if big is not None else None}
    sat = {}
    for key in ("lo", "hi"):
        first = next((r["epoch"] for r in rws if r[key]["wrong_saturated"] > 0), None)
        last_ok = next((r["epoch"] for r in reversed(rws) if r[key]["wrong_saturated"] == 0), None) if first else None
        sat[key] = {"first_wrong_saturated": first,
                    "min_margin": min(r[key]["margin"] for r in rws),
                    "max_logit": max(r[key]["max_logit"] for r in rws),
                    "dead_final": rws[-1][key]["dead"], "dead_start": rws[0][key]["dead"],
                    "saturated_final": rws[-1][key]["saturated"],
                    "wrong_saturated_final": rws[-1][key]["wrong_saturated"], "last_unsaturated": last_ok}
    hs = tr["hessian"]
    bound = {k: 2.0 / float(tr[k]) for k in ("lo", "hi")}
    over = {k: [h["epoch"] for h in hs if np.isfinite(h[k]) and h[k] > bound[k]] for k in ("lo", "hi")}
    split_epoch = next((r["epoch"] for r in rws if abs(r["lo"]["loss"] - r["hi"]["loss"]) > 0.1), None)
    lo_peak = max((h for h in hs if np.isfinite(h["lo"])), key=lambda h: h["lo"], default=None)
    out["E3"] = {"lo": tr["lo"], "hi": tr["hi"], "growth": g, "jump": jump, "saturation": sat,
                 "lo_peak_epoch": lo_peak["epoch"] if lo_peak else None,
                 "hi_min_margin_final": rws[-1]["hi"]["margin"], "hi_logit_final": rws[-1]["hi"]["max_logit"],
                 "lo_wrong_checkpoints": sum(r["lo"]["wrong_saturated"] > 0 for r in rws), "bound": bound,
                 "lambda_max_peak": {k: max((h[k] for h in hs if np.isfinite(h[k])), default=math.nan)
                                     for k in ("lo", "hi")},
                 "epochs_above_bound": {k: over[k][:40] for k in over},
                 "first_above_bound": {k: (over[k][0] if over[k] else None) for k in over},
                 "split_epoch": split_epoch, "final": tr["final"], "event": tr.get("event"),
                 "kernel": tr.get("kernel")}
    # ---------------------------------------------------------------- E4
    out["E4"] = _e4(raw)
    # ---------------------------------------------------------------- E5
    e5 = raw["E5"]
    out["E5"] = {"rates": e5["rates"], "horizons": e5["horizons"], "outcomes": e5["outcomes"], "losses": e5["losses"]}
    out["speed"] = _speed(raw)
    out["seconds"] = raw.get("seconds")
    out["verdicts"] = _verdicts(out)
    out["claims"] = claims(out)
    return out


PAIR_CATEGORIES: Final = {
    "split-lab": "the pair splits the lab's way (lower rate converged, upper diverged)",
    "split-other": "the pair's labels differ otherwise",
    "both-converged": "both rates converged",
    "both-diverged": "both rates diverged",
    "dead": "both stalled: dead from the start (every second-layer ReLU zero on every point)",
    "both-stalled-right": "both stalled, alive, every point classified right (loss not yet below 0.05 bits)",
    "both-stalled-wrong": "both stalled, alive, some point classified wrong (a network stuck short of XOR)",
}
"""E4's pair categories, in the order a seed is labelled: every seed gets exactly one."""

GRID_CATEGORIES: Final = {
    "boundary": "a first converge-to-diverge bracket on the grid, refined",
    "diverged-at-lowest": "already diverged at the grid's lowest rate (the boundary lies below it)",
    "no-divergence": "no grid rate diverged (the boundary, if any, lies above it)",
    "dead": "dead from the start (nothing ever trains)",
}
"""E4's grid categories (:mod:`.seeds`): every seed gets exactly one."""


def pair_category(lower: dict[str, Any], upper: dict[str, Any], dead: bool) -> str:
    """The seed's pair category (:data:`PAIR_CATEGORIES`), from the records of its two runs."""
    a, b = lower["outcome"], upper["outcome"]
    if (a, b) == ("converged", "diverged"):
        return "split-lab"
    if a != b:
        return "split-other"
    if a in ("converged", "diverged"):
        return f"both-{a}"
    if dead:
        return "dead"
    return "both-stalled-right" if lower["accuracy"] == 100.0 and upper["accuracy"] == 100.0 else "both-stalled-wrong"


def _e4(raw: dict[str, Any]) -> dict[str, Any]:
    e4 = raw["E4"]
    per = sorted(e4["per_seed"], key=lambda r: int(r["seed"]))
    seeds = [int(r["seed"]) for r in per]
    pcat = {int(r["seed"]): pair_category(r["pair"][0], r["pair"][1], bool(r["dead"])) for r in per}
    gcat = {int(r["seed"]): str(r["category"]) for r in per}
    pair_counts = {c: sum(v == c for v in pcat.values()) for c in PAIR_CATEGORIES}
    grid_counts = {c: sum(v == c for v in gcat.values()) for c in GRID_CATEGORIES}
    if sum(pair_counts.values()) != len(seeds) or sum(grid_counts.values()) != len(seeds):
        raise ValueError("raw: an E4 seed fell outside every category")
    bnds = {int(r["seed"]): [float(r["bracket"][0]), float(r["bracket"][1])] for r in per if r["bracket"]}
    est = sorted(math.sqrt(lo * hi) for lo, hi in bnds.values())
    ratios = [hi / lo for lo, hi in bnds.values()]
    differ = [s for s in seeds if pcat[s] in ("split-lab", "split-other")]
    in_pair = [s for s, (lo, hi) in bnds.items() if lo <= PAIR[0] and PAIR[1] <= hi]
    near = [s for s, (lo, hi) in bnds.items() if lo <= 0.00149 * 1.1 and hi >= 0.00149 / 1.1]
    return {"seeds": len(seeds), "differ": differ, "lab_direction": [s for s in seeds if pcat[s] == "split-lab"],
            "pair_counts": pair_counts, "grid_counts": grid_counts,
            "both": {o: pair_counts[f"both-{o}"] for o in ("converged", "diverged")},
            "dead_at_start": [s for s in seeds if gcat[s] == "dead"], "grid": [float(g) for g in raw["grid"]],
            "boundaries": {str(s): b for s, b in bnds.items()}, "rounds": int(raw["plan"].get("e4_rounds", 0)),
            "boundary_quartiles": [float(np.percentile(est, q)) for q in (0, 25, 50, 75, 100)] if est else [],
            "max_ratio": max(ratios) if ratios else None, "seed0_boundary": bnds.get(0),
            "seed0_pair": [per[0]["pair"][0]["outcome"], per[0]["pair"][1]["outcome"]] if per and seeds[0] == 0
            else None, "pair_inside_bracket": in_pair, "within_10_percent": near,
            "pair_category": {str(s): c for s, c in pcat.items()}}


def _speed(raw: dict[str, Any]) -> dict[str, Any]:
    """Network-epochs per second of worker time, per part of the study (one process each)."""
    out: dict[str, Any] = {}
    for name, w in raw.get("work", {}).items():
        if w["seconds"] > 0 and w["network_epochs"] > 0:
            out[name] = {**w, "per_second": w["network_epochs"] / w["seconds"]}
    return out


def event_text(e3: dict[str, Any]) -> str:
    """The E3 event in one clause (empty when the trace found none)."""
    ev = e3.get("event")
    if not ev:
        return ""
    return (f"at the step after epoch {ev['epoch']:,} the ReLU mask of unit {ev['unit'] + 1} of hidden layer "
            f"{ev['layer']} on the point ({fmt_number(ev['x'][0], 3)}, {fmt_number(ev['x'][1], 3)}) differs "
            f"between the two runs: its pre-activation is {fmt_number(ev['lo_value'], 2)} in the run below and "
            f"{fmt_number(ev['hi_value'], 2)} in the run above, so the step passes that unit's gradient in one run "
            f"and not in the other; the parameter distance goes from {fmt_number(ev['before'], 2)} to "
            f"{fmt_number(ev['after'], 2)} in that one step")


def _verdicts(d: dict[str, Any]) -> list[dict[str, str]]:
    e0, e1, e2, e3, e4 = d["E0"], d["E1"], d["E2"], d["E3"], d["E4"]
    b = e1["boundary"]
    v: list[dict[str, str]] = []
    v.append({"id": "representability", "hypothesis": "the two rates are not representable",
              "verdict": "rejected",
              "why": (f"both are doubles {e1['pair_ulps']:,} ulps apart ({e1['pair_ulps_float32']} in float32); "
                      f"the boundary lies between two doubles {b['ulps']:,} ulp(s) apart, "
                      f"{fmt_rate(b['lo'])} and {fmt_rate(b['hi'])}, far inside the pair")})
    f64, f32 = e1["f64"], e1["f32"]
    f32_text = ("" if f32 is None else
                f"; in float32 (one ulp here is 1.2e-10, a ninth of the gap between the rates) the outcomes "
                f"{'interleave near the cliff' if f32['interleaved'] else 'do not interleave'} and the pair gives "
                f"{' / '.join(f32['pair_outcomes'])}")
    ev = event_text(e3)
    v.append({"id": "rounding-chaos", "hypothesis": "rounding plus chaos decides the split",
              "verdict": ("rejected in float64" if f64["splits"] == f64["variants"] else "partly"),
              "why": ((f"the float64 boundary is a cliff between two adjacent doubles; " if b["ulps"] == 1 else
                       f"the float64 boundary lies in a bracket of {b['ulps']:,} ulps; ")
                      + f"under {f64['variants']} float64 "
                      f"arithmetics ({', '.join(f64['names'])}) it moves by at most "
                      f"{fmt_number(f64['max_shift_ulps'], thousands=True)} ulp and the pair splits under "
                      f"{f64['splits']} of them, although their final bits differ (E0)"
                      + (f"; the runs at the bracket's ends do not drift apart: {ev}" if ev else "")
                      + "; so rounding decides only which of two neighbouring doubles lies on which side" + f32_text)})
    inter = e2["interleaved"]
    v.append({"id": "fractal", "hypothesis": "a fractal boundary (interleaved islands)",
              "verdict": "not seen" if not inter else (
                  "islands at coarse scales, a clean threshold at fine ones"
                  if max(inter) < max(w["k"] for w in e2["windows"]) else "islands down to the finest window"),
              "why": ("; ".join(f"window 1e-{w['k']}: {w['changes']} label change(s) among {w['rates']} rates"
                                + (f" (box-counting dimension {fmt_number(w['fit']['dimension'], 2)})"
                                   if w["fit"] else "") for w in e2["windows"]))})
    f = e0["facts"]
    v.append({"id": "threshold", "hypothesis": "an artefact of the classification threshold",
              "verdict": "rejected",
              "why": (f"the two outcomes differ by orders of magnitude: final logged losses "
                      f"{fmt_number(e0['blas'][0]['final_loss'], 3)} and {fmt_number(e0['blas'][1]['final_loss'], 4)} "
                      f"bits, accuracy {fmt_number(e0['blas'][0]['accuracy'], 3)} % and "
                      f"{fmt_number(e0['blas'][1]['accuracy'], 3)} %; the diverged run has outputs saturated "
                      f"exactly at the wrong end (band {fmt_number(f['626']['band_min'], 3)}-"
                      f"{fmt_number(f['626']['band_max'], 3)} bits after epoch 10,000)")})
    impl = [f"{r['variant']}: pair {' / '.join(r['pair_outcomes'])}, boundary shift "
            + ("none found" if r["shift_ulps"] is None else f"{r['shift_ulps']:,} ulp")
            for r in e1["rows"] if r["variant"] != e1["scan"]]
    v.append({"id": "implementation", "hypothesis": "an implementation artefact (BLAS, NumPy's exp, naive sigmoid, "
              "float32)", "verdict": ("rejected for float64 and long double; float32 changes the outcome"
                                      if f32 is not None and not f32["splits"] and f64["splits"] == f64["variants"]
                                      else "rejected" if f64["splits"] == f64["variants"] else "partly"),
              "why": "; ".join(impl) or "no variant ran"})
    frac = len(e4["differ"]) / max(e4["seeds"], 1)
    pc = e4["pair_counts"]
    v.append({"id": "seed-0", "hypothesis": "a property of seed 0's trajectory, not of the learning rate",
              "verdict": "supported" if frac < 0.05 else "not supported",
              "why": (f"the pair's outcomes differ for {len(e4['differ'])} of {e4['seeds']} seeds "
                      f"({pc['split-lab']} the lab's way); per seed the first boundary on "
                      f"{fmt_number(e4['grid'][0], 3) if e4['grid'] else 'n/a'} to "
                      f"{fmt_number(e4['grid'][-1], 3) if e4['grid'] else 'n/a'} has min, quartiles, max "
                      + (", ".join(fmt_number(q, 3) for q in e4["boundary_quartiles"]) or "n/a")
                      + f" ({e4['grid_counts']['boundary']} seeds with a bracket); "
                      f"{len(e4['dead_at_start'])} seeds are dead from the start")})
    return v


def pair_tally(e4: dict[str, Any]) -> str:
    """E4's pair categories as one clause, every seed counted once."""
    pc = e4["pair_counts"]
    return (f"{pc['split-lab']} split the lab's way, {pc['split-other']} differ otherwise, both converge for "
            f"{pc['both-converged']}, both diverge for {pc['both-diverged']}, both stall for "
            f"{pc['both-stalled-right'] + pc['both-stalled-wrong'] + pc['dead']} ({pc['dead']} dead from the start, "
            f"{pc['both-stalled-wrong']} alive with a point still wrong, {pc['both-stalled-right']} alive with every "
            f"point right but the loss above 0.05 bits)")


def claims(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The lab's claims, in the main job's contract (``undecided`` in quick runs)."""
    quick = d["quick"]
    e0, e1, e4, e3 = d["E0"], d["E1"], d["E4"], d["E3"]
    b = e1["boundary"]
    out = []
    m0 = (f"seed 0, {d['epochs']:,} epochs: lr {fmt_rate(PAIR[0])} {e0['blas_outcomes'][0]} "
          f"(final {fmt_number(e0['blas'][0]['final_loss'], 3)} bits, {fmt_number(e0['blas'][0]['accuracy'], 3)} %), "
          f"{fmt_rate(PAIR[1])} {e0['blas_outcomes'][1]} (final {fmt_number(e0['blas'][1]['final_loss'], 4)} bits, "
          f"{fmt_number(e0['blas'][1]['accuracy'], 3)} %); the same labels bit for bit in fresh processes "
          f"with the portable kernel and NumPy dispatch disabled: {'yes' if e0['identical_in_fresh_processes'] else 'no'}")
    out.append({"id": "lr-pair-split", "claim": "With the lab's settings, lr 0.001490625 trains and 0.001490626 "
                "gives a very different result.", "measured": m0,
                "verdict": "undecided" if quick else ("holds" if e0["reproduced"] else "does not hold"),
                "evidence": "pair_losses.png", "full": not quick})
    n, k = e4["seeds"], len(e4["differ"])
    m4 = (f"over seeds 0-{n - 1} at {d['epochs']:,} epochs the two rates give different outcomes for {k} "
          f"(seeds " + (", ".join(str(s) for s in e4["differ"][:10]) or "none") + f"): {pair_tally(e4)}")
    out.append({"id": "lr-pair-other-seeds", "claim": "The lab changed the random seed and still saw the difference.",
                "measured": m4,
                "verdict": "undecided" if quick else ("holds" if k / max(n, 1) > 0.5 else
                                                      "partly holds" if k / max(n, 1) > 0.05 else "does not hold"),
                "evidence": "seed_boundaries.png", "full": not quick})
    f64, f32 = e1["f64"], e1["f32"]
    mf = (f"seed 0's boundary lies between the adjacent doubles {fmt_rate(b['lo'])} and {fmt_rate(b['hi'])}"
          if b["ulps"] == 1 else f"seed 0's boundary lies between {fmt_rate(b['lo'])} and {fmt_rate(b['hi'])} "
          f"({b['ulps']:,} ulps)")
    above = ordinal(float(b["hi"])) - ordinal(PAIR[0])
    mf += (f", {above:,} of the {e1['pair_ulps']:,} ulps from 0.001490625 to 0.001490626; under {f64['variants']} "
           f"float64 arithmetics it moves by at most {fmt_number(f64['max_shift_ulps'], thousands=True)} ulp and the "
           f"pair splits under {f64['splits']}")
    ev = event_text(e3)
    if ev:
        mf += f"; what decides the split is a kink of the lab's ReLU mask, not accumulated rounding: {ev}"
    if f32 is not None:
        mf += (f"; only in float32 does the arithmetic decide: outcomes "
               f"{'interleave' if f32['interleaved'] else 'change'} near the cliff and the pair gives "
               f"{' / '.join(f32['pair_outcomes'])}")
    ok = f64["splits"] == f64["variants"]
    out.append({"id": "lr-pair-float-limits", "claim": "The difference comes from floating-point limits.",
                "measured": mf,
                "verdict": "undecided" if quick else ("does not hold" if ok else "partly holds"),
                "evidence": "boundary_variants.png", "full": not quick})
    return out
