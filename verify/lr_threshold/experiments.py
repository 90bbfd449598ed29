"""Experiments E0-E7 of the learning-rate threshold study (see :mod:`verify.lr_threshold`).

Each experiment is a function of a :class:`Study` (the pinned configuration,
the horizons and the runner) that returns a plain summary dict for
``report.json`` plus the run records it made. Outcome labels are the classes
of :mod:`refnet.outcomes` (``converged``, ``stalled``, ``diverged``); "trains"
means ``converged``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from refnet.conventions import ConventionLike
from refnet.init import InitName
from refnet.sweep import Member, MemberResult, iter_sweep

from .boxcount import BoxFit, boundary_edges, dyadic_sizes, fit_dimension, box_counts, label_boundary_fit
from .runs import CONVENTION, LabRun, RunRecord, lab_run, lab_setup, reading_label, run_specs
from .ulp import (exact_fraction, from_ordinal, hex_exact, ordinal, ordinal_grid, ulps_between,
                  decimal_exact)

__all__ = ["PAIR", "Pinned", "Study", "SEARCH_SEEDS", "SEARCH_INITS",
           "search", "multisection", "zoom_scan", "precision_ladder", "per_seed_boundaries",
           "horizon_check", "ZOOM_WIDTHS", "decimal_value", "trains", "VERY_DIFFERENT_RATIO", "loss_ratio",
           "classify_pair"]

PAIR = (0.001490625, 0.001490626)
"""The lab's two learning rates."""

ZOOM_WIDTHS = tuple(10.0 ** -k for k in range(1, 13))
"""Relative window widths of E3 (then one window of consecutive doubles)."""

SEARCH_INITS: tuple[InitName, ...] = ("normal", "xavier", "he")
"""``normal`` (N(0, 1) weights and biases, the lab's ``np.random.randn``) is preferred."""
SEARCH_SEEDS = 256
"""``--search`` tries seeds ``0 .. SEARCH_SEEDS - 1`` for each init scheme."""


@dataclass(frozen=True)
class Pinned:
    """The E0 configuration: init scheme, seed and epoch count."""

    init: InitName
    seed: int
    epochs: int

    def spec(self, lr: float, **kw: Any) -> LabRun:
        return lab_run(self.seed, lr, self.init, epochs=kw.pop("epochs", self.epochs), **kw)




Log = Callable[[str], None]


@dataclass
class Study:
    """Everything the experiments share."""

    pinned: Pinned
    horizon: int
    """Epochs of the scans (E2, E3, E4, E7); E0 uses ``pinned.epochs``."""
    workers: int = 2
    log: Log = field(default=lambda _m: None)
    executor: Executor | None = None
    """Worker processes shared by every run of the study (:func:`refnet.sweep.process_pool`)."""
    quiet: bool = True
    """No progress lines from the sweeps."""
    records: list[RunRecord] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, specs: Sequence[LabRun], tag: str, checkpoints: Sequence[int] = ()) -> list[RunRecord]:
        recs = run_specs(specs, checkpoints=checkpoints, workers=self.workers, executor=self.executor,
                         quiet=self.quiet, label=f"  {tag}")
        for r in recs:
            r.readout["tag"] = tag
        self.records.extend(recs)
        return recs

    def labels(self, rates: Sequence[float], tag: str, seed: int | None = None,
               epochs: int | None = None) -> list[RunRecord]:
        s = self.pinned.seed if seed is None else seed
        e = self.horizon if epochs is None else epochs
        return self.run([lab_run(s, r, self.pinned.init, epochs=e) for r in rates], tag)


def trains(outcome: str) -> bool:
    return outcome == "converged"


# ------------------------------------------------------------------ search

VERY_DIFFERENT_RATIO = 10.0
"""The lab's "very different result": one run converged, the other stalled or diverged, and their
final losses at least this factor apart (not merely two sides of the loss threshold)."""


def loss_ratio(fa: float, fb: float) -> float:
    """``max / min`` of two final losses; ``inf`` when one is non-finite or zero (and the other is not)."""
    if not (math.isfinite(fa) and math.isfinite(fb)):
        return math.inf if math.isfinite(fa) or math.isfinite(fb) else math.nan
    lo, hi = min(fa, fb), max(fa, fb)
    return hi / lo if lo > 0 else (math.inf if hi > 0 else 1.0)


def classify_pair(la: str, lb: str, fa: float, fb: float) -> dict[str, Any]:
    """How the pair's two runs compare at one horizon (see :data:`VERY_DIFFERENT_RATIO`)."""
    ratio = loss_ratio(fa, fb)
    one_converged = trains(la) != trains(lb)
    return {"outcome_a": la, "outcome_b": lb, "loss_a": fa, "loss_b": fb, "ratio": ratio,
            "differ": la != lb, "lab_direction": trains(la) and not trains(lb),
            "very_different": one_converged and ratio >= VERY_DIFFERENT_RATIO}


def _rank(row: dict[str, Any]) -> tuple[float, ...]:
    """Order of preference for the pinned pair: very different in the lab's direction, then labels
    differing in the lab's direction; the lab's horizon before shorter ones; then the loss ratio."""
    r = row["ratio"] if math.isfinite(row["ratio"]) else 1e300
    return (float(row["very_different"] and row["lab_direction"]), float(row["lab_direction"]),
            float(row["horizon"] == row["epochs"]), float(row["horizon"]), r, -float(row["seed"]))


def search(seeds: Sequence[int], inits: Sequence[InitName], epochs: int, workers: int, log: Log,
           checkpoints: Sequence[int] = (), executor: Executor | None = None,
           quiet: bool = True, convention: ConventionLike = CONVENTION) -> dict[str, Any]:
    """Run the pair for every (init, seed) to ``epochs``; how often are the outcomes very different?

    One :func:`refnet.sweep.iter_sweep` over every run (members carry their own init, so the whole
    search is one stream of full-size chunks on ``executor`` or ``workers`` processes); each run is
    also judged at ``checkpoints``. Per horizon (each checkpoint and ``epochs``) and init scheme it
    counts the (seed, init) whose pair is *very different* (:func:`classify_pair`), whose labels
    merely differ, and in which direction. The pinned configuration is the best row by
    :func:`_rank`: a very different pair in the lab's direction (lower rate converged) at the lab's
    horizon if there is one, else the closest pair found, with its horizon.
    """
    horizons = sorted({c for c in checkpoints if 0 < c < epochs} | {epochs})
    members = [Member(int(s), lr, "float64", convention, "blas", init) for init in inits for s in seeds
               for lr in PAIR]
    keep = max(1, epochs // 1000)
    results = iter_sweep(lab_setup(inits[0], epochs), members, workers=workers if executor is None else 0,
                         executor=executor, keep_every=keep, checkpoints=horizons[:-1], quiet=quiet,
                         in_flight=2 * max(1, workers), label="  search")
    rows: list[dict[str, Any]] = []
    pending: MemberResult | None = None
    for res in results:
        if pending is None:
            pending = res
            continue
        a, b = pending, res
        pending = None
        for h in horizons:
            ra = a.readout if h == epochs else a.checkpoints[h]
            rb = b.readout if h == epochs else b.checkpoints[h]
            row = classify_pair(ra.outcome, rb.outcome, ra.final_loss, rb.final_loss)
            row.update({"init": a.member.init, "seed": a.member.seed, "horizon": h, "epochs": epochs,
                        "steps_a": ra.steps_to_threshold, "steps_b": rb.steps_to_threshold,
                        "accuracy_a": ra.accuracy, "accuracy_b": rb.accuracy})
            rows.append(row)
    per: dict[str, dict[str, dict[str, Any]]] = {}
    for h in horizons:
        for init in inits:
            sel = [r for r in rows if r["horizon"] == h and r["init"] == init]
            finite = [r["ratio"] for r in sel if not math.isnan(r["ratio"])]
            per.setdefault(str(h), {})[init] = {
                "seeds": len(sel), "converged_a": sum(trains(r["outcome_a"]) for r in sel),
                "converged_b": sum(trains(r["outcome_b"]) for r in sel),
                "diverged": sum((r["outcome_a"] == "diverged") + (r["outcome_b"] == "diverged") for r in sel),
                "differ": sum(r["differ"] for r in sel), "lab_direction": sum(r["lab_direction"] for r in sel),
                "very_different": sum(r["very_different"] for r in sel),
                "very_different_lab_direction": sum(r["very_different"] and r["lab_direction"] for r in sel),
                "ratio_at_least_10": sum(x >= VERY_DIFFERENT_RATIO for x in finite),
                "max_ratio": max(finite, default=math.nan)}
    at_lab = [r for r in rows if r["horizon"] == epochs]
    best = max(rows, key=_rank) if rows else None
    pinned: dict[str, Any] | None = None
    if best is not None:
        kind = ("very different" if best["very_different"] else
                "labels differ, not very different" if best["differ"] else "labels agree")
        pinned = {"init": best["init"], "seed": best["seed"], "epochs": best["horizon"], "kind": kind,
                  "outcomes": [best["outcome_a"], best["outcome_b"]], "losses": [best["loss_a"], best["loss_b"]],
                  "lab_horizon": best["horizon"] == epochs, "ratio": best["ratio"],
                  "why": (f"{kind} at {best['horizon']} epochs ({best['outcome_a']} vs {best['outcome_b']}, "
                          f"final losses {best['loss_a']:.6g} and {best['loss_b']:.6g}, ratio {best['ratio']:.4g})")}
    top = sorted((r for r in rows if r["differ"]), key=_rank, reverse=True)[:20]
    closest_at_lab = sorted(at_lab, key=_rank, reverse=True)[:10]
    n_vd = sum(r["very_different"] for r in at_lab)
    return {"inits": list(inits), "seeds": [int(seeds[0]), int(seeds[-1])], "epochs": epochs,
            "horizons": horizons, "convention": str(convention), "reading": reading_label(convention),
            "criterion": {"ratio": VERY_DIFFERENT_RATIO, "rule": "one converged, the other stalled or "
                          "diverged, final losses at least 10x apart"},
            "pairs_tried": len(at_lab), "very_different": n_vd,
            "very_different_lab_direction": sum(r["very_different"] and r["lab_direction"] for r in at_lab),
            "pairs_differing": sum(r["differ"] for r in at_lab),
            "fraction_differing": sum(r["differ"] for r in at_lab) / len(at_lab) if at_lab else math.nan,
            "per_horizon": per, "top_differing": top, "closest_at_lab_horizon": closest_at_lab,
            "pinned": pinned, "runs": len(members), "keep_every": keep}


# ------------------------------------------------------------------ E2 / E7 bisection

def multisection(study: Study, lo: float, hi: float, label_lo: str, label_hi: str, *, seed: int,
                 per_round: int, tag: str, min_ulps: int = 1) -> dict[str, Any]:
    """Shrink ``[lo, hi]`` (labels differ at the ends) to adjacent doubles.

    Each round runs ``per_round`` rates evenly spaced in ulps inside the
    bracket and keeps the first sub-interval (from ``lo``) whose end labels
    differ: ``per_round = 1`` is plain bisection (about ``log2`` of the ulp
    count runs). ``min_ulps > 1`` stops early (a reduced run for tests).
    """
    if label_lo == label_hi:
        raise ValueError(f"label_lo: the bracket ends must differ, both are {label_lo!r}")
    olo, ohi = ordinal(lo), ordinal(hi)
    rounds = []
    runs = 0
    while ohi - olo > max(1, min_ulps):
        pts = ordinal_grid(olo, ohi, per_round + 2)[1:-1]
        recs = study.labels([from_ordinal(p) for p in pts], tag, seed=seed)
        runs += len(recs)
        seq = [(olo, label_lo), *[(p, r.outcome) for p, r in zip(pts, recs)], (ohi, label_hi)]
        for (p0, l0), (p1, l1) in zip(seq, seq[1:]):
            if l0 != l1:
                olo, label_lo, ohi, label_hi = p0, l0, p1, l1
                break
        rounds.append({"lo": from_ordinal(olo), "hi": from_ordinal(ohi), "ulps": ohi - olo,
                       "labels": [r.outcome for r in recs]})
        study.log(f"  {tag}: bracket {ohi - olo} ulps after {runs} runs")
    lo_v, hi_v = from_ordinal(olo), from_ordinal(ohi)
    return {"seed": seed, "lo": lo_v, "hi": hi_v, "lo_hex": lo_v.hex(), "hi_hex": hi_v.hex(),
            "lo_decimal": decimal_exact(lo_v), "hi_decimal": decimal_exact(hi_v),
            "label_lo": label_lo, "label_hi": label_hi, "ulps": ohi - olo, "runs": runs,
            "rounds": len(rounds), "trace": rounds, "per_round": per_round}


# ------------------------------------------------------------------ E3 zoom

def _window(center: float, width: float | None, count: int) -> list[int]:
    oc = ordinal(center)
    if width is None:  # consecutive doubles
        return list(range(oc - count // 2 + 1, oc + count - count // 2 + 1))
    half = center * width / 2
    return ordinal_grid(ordinal(center - half), ordinal(center + half), count)


def zoom_scan(study: Study, center: float, count: int, widths: Sequence[float] = ZOOM_WIDTHS) -> dict[str, Any]:
    """E3: ``count`` rates per window centred on ``center``; changes and box-counting dimension."""
    windows: list[tuple[str, float | None, list[int]]] = [(f"{w:.0e}", w, _window(center, w, count)) for w in widths]
    windows.append(("consecutive doubles", None, _window(center, None, count)))
    specs = [lab_run(study.pinned.seed, from_ordinal(o), study.pinned.init, epochs=study.horizon)
             for _, _, ords in windows for o in ords]
    recs = study.run(specs, "E3")
    out: list[dict[str, Any]] = []
    pos = 0
    pooled_sizes = dyadic_sizes(count - 1, 1, 4)
    pooled = np.zeros(len(pooled_sizes), dtype=np.int64)
    for name, width, ords in windows:
        rs = recs[pos:pos + len(ords)]
        pos += len(ords)
        labels = [r.outcome for r in rs]
        fit: BoxFit = label_boundary_fit(labels) if len(labels) > 4 else fit_dimension([], [])
        edges = boundary_edges(labels)
        if len(ords) - 1 == count - 1:
            pooled += np.array(box_counts(edges, pooled_sizes), dtype=np.int64)
        steps = np.diff(ords)
        out.append({
            "window": name, "relative_width": width, "points": len(ords),
            "lo": from_ordinal(ords[0]), "hi": from_ordinal(ords[-1]),
            "rates": [from_ordinal(o) for o in ords],
            "spacing_ulps_min": int(steps.min()) if steps.size else 0,
            "spacing_ulps_max": int(steps.max()) if steps.size else 0,
            "changes": len(edges),
            "counts": {k: labels.count(k) for k in ("converged", "stalled", "diverged")},
            "labels": labels,
            "final_loss": [r.readout["final_loss"] for r in rs],
            "dimension": fit.as_dict(),
        })
    pooled_fit = fit_dimension(pooled_sizes, [int(c) for c in pooled])
    return {"center": center, "center_hex": center.hex(), "count": count, "windows": out,
            "pooled_dimension": pooled_fit.as_dict(),
            "min_spacing_ulps": min(w["spacing_ulps_min"] for w in out)}


# ------------------------------------------------------------------ E4 ladder

def precision_ladder(study: Study, rates: dict[str, float]) -> dict[str, Any]:
    """E4: each named rate in float32, float64 and longdouble at the scan horizon."""
    dtypes = ("float32", "float64", "longdouble")
    specs = [study.pinned.spec(r, epochs=study.horizon, dtype=d) for d in dtypes for r in rates.values()]
    recs = study.run(specs, "E4")
    rows = []
    for rec in recs:
        name = next(k for k, v in rates.items() if v == rec.spec.member.lr)
        dt = np.dtype(rec.spec.member.dtype)
        value = dt.type(np.float64(rec.spec.member.lr))  # what SGD uses: the double, rounded once
        rows.append({"rate": name, "decimal": repr(rec.spec.member.lr), "dtype": rec.spec.member.dtype,
                     "value_hex": hex_exact(value), "value_decimal": decimal_exact(value),
                     "error_vs_decimal": float(exact_fraction(value) - decimal_value(rec.spec.member.lr)),
                     "outcome": rec.outcome, "final_loss": rec.readout["final_loss"],
                     "steps_to_threshold": rec.readout["steps_to_threshold"],
                     "weights_sha256": rec.weights_sha256})
    names = list(rates)
    f32 = {n: hex_exact(np.float32(rates[n])) for n in names}
    return {"rates": rates, "rows": rows, "epochs": study.horizon,
            "ulps_float64": {f"{a}->{b}": ulps_between(rates[a], rates[b]) for a, b in zip(names, names[1:])},
            "ulps_float32": {f"{a}->{b}": ulps_between(rates[a], rates[b], "float32") for a, b in zip(names, names[1:])},
            "float32_hex": f32}


def decimal_value(x: float) -> Fraction:
    """The shortest decimal literal of ``x`` (``repr``) as an exact fraction: what the lab typed."""
    return Fraction(repr(x))


# ------------------------------------------------------------------ E7 per seed

def per_seed_boundaries(study: Study, seeds: Sequence[int], *, scan_points: int, rel_width: float,
                        per_round: int) -> dict[str, Any]:
    """E7: for each seed, the label change nearest the lab's lower rate, bracketed to one ulp."""
    a = PAIR[0]
    rates = [from_ordinal(o) for o in _window(a, rel_width, scan_points)]
    specs = [lab_run(s, r, study.pinned.init, epochs=study.horizon) for s in seeds for r in rates]
    recs = study.run(specs, "E7 scan")
    out = []
    for i, s in enumerate(seeds):
        rs = recs[i * len(rates):(i + 1) * len(rates)]
        labels = [r.outcome for r in rs]
        edges: list[int] = boundary_edges(labels)
        entry: dict[str, Any] = {"seed": s, "scan_labels": labels, "scan_changes": len(edges)}
        if edges:
            oa = ordinal(a)
            j = min(edges, key=lambda e: min(abs(ordinal(rates[e]) - oa), abs(ordinal(rates[e + 1]) - oa)))
            res = multisection(study, rates[j], rates[j + 1], labels[j], labels[j + 1], seed=s,
                               per_round=per_round, tag=f"E7 seed {s}")
            entry.update(res)
            entry["offset_from_a_ulps"] = ulps_between(a, res["lo"])
            entry["relative_offset"] = (res["lo"] - a) / a
        out.append(entry)
    return {"seeds": list(seeds), "rel_width": rel_width, "scan_points": scan_points, "rates": rates,
            "per_seed": out}


# ------------------------------------------------------------------ horizon

def horizon_check(study: Study, rates: Sequence[float], epochs: int, checkpoints: Sequence[int]) -> dict[str, Any]:
    """Rerun ``rates`` (pinned seed) for ``epochs`` and compare the label at each checkpoint."""
    specs = [study.pinned.spec(r, epochs=epochs) for r in rates]
    recs = study.run(specs, "horizon", checkpoints)
    rows = [{"lr": r.spec.member.lr, "lr_hex": r.spec.member.lr.hex(),
             "labels": {str(k): v for k, v in r.labels.items()}, "final": r.outcome} for r in recs]
    agree = {str(c): sum(1 for r in recs if r.labels.get(c) == r.outcome) for c in checkpoints}
    return {"epochs": epochs, "runs": len(recs), "rows": rows, "agree_with_final": agree}


