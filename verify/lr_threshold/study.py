"""``python -m verify.lr_threshold``: the lab's 0.001490625 vs 0.001490626, measured.

The lab (XOR, 2-4-4-1, ReLU hidden layers, sigmoid output, BCE with delta
1e-7, 500,000 epochs) saw lr = 0.001490625 train and lr = 0.001490626 give a
"very different result", "also with other random seeds", and blamed
floating-point limits. Every run here uses the reading of the lab's
arithmetic named ``lab`` (:data:`verify.lr_threshold.runs.CONVENTION`,
whatever ``refnet.conventions.READINGS["lab-evidence"]`` is when the study runs); the
summed reading ``lab-sum`` is kept beside it (``sensitivity``). The study runs:

- **search** the pair for seeds 0..255 x the three init schemes at the lab's
  500,000 epochs (also judged at shorter checkpoints), counting the pairs whose
  outcomes are *very different* (one converged, the other not, final losses
  at least 10x apart), and pins the best (or the closest, with its horizon);
- **E0** the pinned pair twice in fresh processes with the ``portable`` kernel
  and NumPy's CPU dispatch disabled (the configuration whose bits do not depend
  on the machine: these hashes are pinned), and once with ``blas`` (this
  machine's bits, recorded beside them);
- **E1** the pair with 1 and 2 BLAS threads, with NumPy's dispatch disabled
  under ``blas``, and the portable kernel with dispatch on, each in a fresh process;
- **E2** multisection on the float64 grid between the pair to adjacent doubles;
- **E3** zoom scans centred on that bracket, relative widths 1e-1 .. 1e-12,
  then consecutive doubles: label changes and box-counting dimension;
- **E4** float32 / float64 / longdouble at the pair and at the bracket;
- **E5** separation of trajectories and a finite-time Lyapunov exponent;
- **E6** the top eigenvalue of the descended loss's Hessian along both runs vs 2/lr;
- **E7** E2 for other seeds;
- **sensitivity** the pinned pair under the summed reading, and the summed
  reading's committed report beside this one;

then states a verdict on each hypothesis H1-H5 citing the experiments.

Horizons: E0, E1 and the scans (E2, E3, E4, E7) use the pinned epochs
(``--horizon`` overrides the scans'); the horizon check reruns the pair and
the bracket beyond them.

Exit status 0 only when E0 is deterministic: the pinned runs give bitwise
identical hashes in fresh processes, the blas run gives the same labels, and
(when the configuration was searched) the labels the search saw.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from collections.abc import Mapping

from refnet.conventions import ConventionLike
from refnet.kernels import KernelName
from refnet.reproducible import PIN_VARIABLE, THREAD_VARS, pinned_environment, simd_targets
from refnet.sweep import process_pool

from ..common.console import Console
from ..common.report import fmt_list, fmt_value
from ..common.report import fmt_number as _fmt_number
from .dynamics import mechanism, separations, sharpness_trace
from .env import ROOT, fingerprint, read_worker, run_fresh
from .boxcount import describe_fit
from .experiments import (PAIR, Pinned, Study, classify_pair, decimal_value, horizon_check, multisection,
                          per_seed_boundaries, precision_ladder, search, zoom_scan)
from .runs import (CONVENTION, CRITERIA, LAB_EPOCHS, SENSITIVITY, RunRecord, lab_config, lab_run, reading_label,
                   run_specs)
from .ulp import exact_fraction, spacing, ulps_between

__all__ = ["PINNED", "PINNED_EXPECTED", "QUICK_PINNED", "SCHEMA", "SEARCH_SUMMARY", "SENSITIVITY_REPORT",
           "PIN_KERNEL", "HASH_FIELDS", "e0_pair", "e0_checkpoints", "compare", "is_label", "record_json",
           "run_study", "summary_lines", "sensitivity_rows", "fmt_number"]

SCHEMA = "refnet.verify.lr_threshold/2"

PINNED = Pinned('he', 100, 500000)
"""The E0 configuration ``--search`` found (see ``SEARCH_SUMMARY``); set from the committed full run."""

PINNED_EXPECTED: tuple[str, str] | None = ('stalled', 'stalled')
"""The labels the search saw for ``PINNED`` (E0 must give them), or None when not yet searched."""

SEARCH_SUMMARY: dict[str, Any] = {'inits': ['normal', 'xavier', 'he'],
     'seeds': [0, 255],
     'epochs': 500000,
     'horizons': [20000, 50000, 100000, 200000, 300000, 400000, 500000],
     'convention': 'lab-evidence',
     'reading': 'lab[gradient=mean,mse=2(y-t),log=e,sigmoid=naive,batch=20]',
     'criterion': {'ratio': 10.0,
                   'rule': 'one converged, the other stalled or diverged, final losses at least 10x apart'},
     'pairs_tried': 768,
     'very_different': 0,
     'very_different_lab_direction': 0,
     'pairs_differing': 0,
     'fraction_differing': 0.0,
     'per_horizon': {'500000': {'normal': {'seeds': 256,
                                           'converged_a': 89,
                                           'converged_b': 89,
                                           'diverged': 0,
                                           'differ': 0,
                                           'lab_direction': 0,
                                           'very_different': 0,
                                           'very_different_lab_direction': 0,
                                           'ratio_at_least_10': 0,
                                           'max_ratio': 1.004986638181004},
                                'xavier': {'seeds': 256,
                                           'converged_a': 68,
                                           'converged_b': 68,
                                           'diverged': 0,
                                           'differ': 0,
                                           'lab_direction': 0,
                                           'very_different': 0,
                                           'very_different_lab_direction': 0,
                                           'ratio_at_least_10': 0,
                                           'max_ratio': 1.000224240463607},
                                'he': {'seeds': 256,
                                       'converged_a': 89,
                                       'converged_b': 89,
                                       'diverged': 0,
                                       'differ': 0,
                                       'lab_direction': 0,
                                       'very_different': 0,
                                       'very_different_lab_direction': 0,
                                       'ratio_at_least_10': 0,
                                       'max_ratio': 1.1250098971065292}}},
     'pinned': {'init': 'he',
                'seed': 100,
                'epochs': 500000,
                'kind': 'labels agree',
                'outcomes': ['stalled', 'stalled'],
                'losses': [0.04644845093025238, 0.0522549670018009],
                'lab_horizon': True,
                'ratio': 1.1250098971065292,
                'why': 'labels agree at 500000 epochs (stalled vs stalled, final losses 0.0464485 and 0.052255, '
                       'ratio 1.125)'},
     'runs': 1536,
     'keep_every': 500,
     'seconds': 854.1896912929997,
     'top_differing': [],
     'closest_at_lab_horizon': [{'outcome_a': 'stalled',
                                 'outcome_b': 'stalled',
                                 'loss_a': 0.04644845093025238,
                                 'loss_b': 0.0522549670018009,
                                 'ratio': 1.1250098971065292,
                                 'differ': False,
                                 'lab_direction': False,
                                 'very_different': False,
                                 'init': 'he',
                                 'seed': 100,
                                 'horizon': 500000,
                                 'epochs': 500000,
                                 'steps_a': None,
                                 'steps_b': None,
                                 'accuracy_a': 100.0,
                                 'accuracy_b': 100.0},
                                {'outcome_a': 'stalled',
                                 'outcome_b': 'stalled',
                                 'loss_a': 0.012385706584489413,
                                 'loss_b': 0.01244746962184234,
                                 'ratio': 1.004986638181004,
                                 'differ': False,
                                 'lab_direction': False,
                                 'very_different': False,
                                 'init': 'normal',
                                 'seed': 72,
                                 'horizon': 500000,
                                 'epochs': 500000,
                                 'steps_a': None,
                                 'steps_b': None,
                                 'accuracy_a': 100.0,
                                 'accuracy_b': 100.0},
                                {'outcome_a': 'converged',
                                 'outcome_b': 'converged',
                                 'loss_a': 0.0005626233175764244,
                                 'loss_b': 0.0005622850881066262,
                                 'ratio': 1.0006015266578332,
                                 'differ': False,
                                 'lab_direction': False,
                                 'very_different': False,
                                 'init': 'normal',
                                 'seed': 166,
                                 'horizon': 500000,
                                 'epochs': 500000,
                                 'steps_a': 81479,
                                 'steps_b': 81477,
                                 'accuracy_a': 100.0,
                                 'accuracy_b': 100.0},
                                {'outcome_a': 'stalled',
                                 'outcome_b': 'stalled',
                                 'loss_a': 0.1756161632152895,
                                 'loss_b': 0.1755321104635732,
                                 'ratio': 1.000478845445966,
                                 'differ': False,
                                 'lab_direction': False,
                                 'very_different': False,
                                 'init': 'normal',
                                 'seed': 228,
                                 'horizon': 500000,
                                 'epochs': 500000,
                                 'steps_a': None,
                                 'steps_b': None,
                                 'accuracy_a': 95.23809523809523,
                                 'accuracy_b': 95.23809523809523},
                                {'outcome_a': 'stalled',
                                 'outcome_b': 'stalled',
                                 'loss_a': 0.17516159281529714,
                                 'loss_b': 0.17509021130004754,
                                 'ratio': 1.0004076842144378,
                                 'differ': False,
                                 'lab_direction': False,
                                 'very_different': False,
                                 'init': 'normal',
                                 'seed': 110,
                                 'horizon': 500000,
                                 'epochs': 500000,
                                 'steps_a': None,
                                 'steps_b': None,
                                 'accuracy_a': 95.23809523809523,
                                 'accuracy_b': 95.23809523809523}],
     'stored_from': 'docs/figures/lr_threshold/report.json (the committed full run; per-horizon tables there)'}
"""Statistics of the search that chose ``PINNED`` (``--search`` reruns it)."""

QUICK_PINNED = Pinned("normal", 0, 2_000)
"""``--quick``: a short run of the pair (a test of the machinery, not of the lab's claim)."""

SENSITIVITY_REPORT = ROOT / "docs" / "figures" / "lr_threshold" / "lab-sum" / "report.json"
"""The committed report of this study under the summed reading (``lab-sum``), kept for comparison."""


# ------------------------------------------------------------------ E0 / E1

PIN_KERNEL: KernelName = "portable"
"""E0's hashes are pinned with the fixed-order kernel in a process whose NumPy dispatch is disabled
(:func:`refnet.reproducible.pinned_environment`): bits that depend on the inputs only."""


def e0_pair(pinned: Pinned, *, kernel: KernelName = "blas", epochs: int | None = None,
            checkpoints: Sequence[int] = (), convention: ConventionLike = CONVENTION) -> list[RunRecord]:
    """The pair under ``pinned`` as one two-member ensemble (each member's bits are its own)."""
    e = pinned.epochs if epochs is None else epochs
    return run_specs([lab_run(pinned.seed, lr, pinned.init, kernel=kernel, epochs=e, convention=convention)
                      for lr in PAIR], checkpoints=checkpoints, workers=1)


def record_json(r: RunRecord, samples: bool = False) -> dict[str, Any]:
    d = r.as_dict()
    if not samples:
        d.pop("loss_samples", None)
    d["readout"] = {k: v for k, v in r.readout.items()}
    fl = r.readout.get("final_loss")
    d["final_loss_hex"] = float(fl).hex() if isinstance(fl, float) else None
    return d


Job = tuple[str, Pinned, str, Mapping[str, str | None]]


def _fresh_runs(jobs: Sequence[Job], log: Console, checkpoints: Sequence[int] = (), parallel: int = 2,
                convention: str = "lab-evidence") -> dict[str, dict[str, Any]]:
    """Run the E0 pair in fresh processes, ``parallel`` at a time; name -> worker JSON."""
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="lr_threshold_") as tmp:
        pending = list(jobs)
        running: list[tuple[str, Any, Path, float]] = []
        started = 0
        while pending or running:
            while pending and len(running) < parallel:
                name, pin, kernel, env = pending.pop(0)
                out = Path(tmp) / f"job{started}.json"
                started += 1
                args = ["--w-init", pin.init, "--w-seed", str(pin.seed), "--w-epochs", str(pin.epochs),
                        "--w-kernel", kernel, "--w-convention", convention]
                for c in checkpoints:
                    args += ["--w-checkpoint", str(c)]
                running.append((name, run_fresh(args, env, out), out, time.perf_counter()))
                log(f"  fresh process started: {name}")
            time.sleep(0.2)
            for item in list(running):
                name, proc, out, t0 = item
                if proc.poll() is None:
                    continue
                running.remove(item)
                _, err_bytes = proc.communicate()  # also closes the pipe
                err = err_bytes.decode(errors="replace") if err_bytes else ""
                if proc.returncode != 0 or not out.exists():
                    results[name] = {"error": f"exit {proc.returncode}: {err[-2000:]}"}
                else:
                    results[name] = read_worker(out)
                    results[name]["seconds"] = time.perf_counter() - t0
                log(f"  fresh process done: {name} ({time.perf_counter() - t0:.0f} s)")
    return results


FIELDS = ("outcome", "weights_sha256", "loss_sha256", "lr_hex", "final_loss_hex")
HASH_FIELDS = ("weights_sha256", "loss_sha256", "final_loss_hex")
"""The fields whose bits may follow the machine (for the ``blas`` kernel)."""


def compare(reference: Sequence[dict[str, Any]], other: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Field-by-field bitwise comparison of two lists of run records (same order)."""
    rows = []
    for i, (a, b) in enumerate(zip(reference, other)):
        for f in FIELDS:
            rows.append({"run": i, "lr": a["spec"]["lr"], "field": f, "reference": a.get(f), "here": b.get(f),
                         "match": a.get(f) == b.get(f)})
        for f in ("final_loss", "steps_to_threshold", "dead_units", "saturated_outputs", "accuracy"):
            ra, rb = a["readout"].get(f), b["readout"].get(f)
            rows.append({"run": i, "lr": a["spec"]["lr"], "field": f"readout.{f}", "reference": ra, "here": rb,
                         "match": ra == rb})
        la, lb = a.get("labels", {}), b.get("labels", {})
        for k in sorted(set(la) | set(lb), key=int):
            rows.append({"run": i, "lr": a["spec"]["lr"], "field": f"label at {k}", "reference": la.get(k),
                         "here": lb.get(k), "match": la.get(k) == lb.get(k)})
    if len(reference) != len(other):
        rows.append({"run": -1, "lr": None, "field": "count", "reference": len(reference), "here": len(other),
                     "match": False})
    return rows


def is_label(field: str) -> bool:
    """Whether a :func:`compare` row is an outcome label (which must match on every machine)."""
    return field == "outcome" or field.startswith("label at")


def e0_checkpoints(pinned: Pinned, horizon: int) -> list[int]:
    """Epochs at which E0's runs are judged besides the last."""
    return sorted({c for c in (horizon, 20_000, 100_000, 200_000) if 0 < c < pinned.epochs})


def run_e0(pinned: Pinned, horizon: int, log: Console, fresh: int = 2,
           expected: Sequence[str] | None = None) -> dict[str, Any]:
    """E0: the pair ``fresh`` times in new processes in the pinned configuration (portable kernel,
    NumPy dispatch disabled) and once with ``blas`` in this process's environment (this machine's)."""
    t0 = time.perf_counter()
    checkpoints = e0_checkpoints(pinned, horizon)
    env = pinned_environment()
    log(f"E0: pair, {pinned.init} seed {pinned.seed}, {pinned.epochs} epochs ({fresh} pinned fresh processes, "
        "1 blas)")
    jobs: list[Job] = [(f"pinned {i + 1}", pinned, PIN_KERNEL, env) for i in range(max(1, fresh))]
    jobs.append(("blas, this machine", pinned, "blas", {}))
    res = _fresh_runs(jobs, log, checkpoints, convention=str(CONVENTION))
    first = res["pinned 1"]
    if "error" in first:
        raise RuntimeError(f"E0: the pinned run failed: {first['error']}")
    runs = first["records"]
    comparisons: dict[str, Any] = {}
    identical = True
    for name in [j[0] for j in jobs[1:-1]]:
        r = res[name]
        if "error" in r:
            comparisons[name] = {"error": r["error"], "all_match": False}
            identical = False
            continue
        rows = compare(runs, r["records"])
        ok = all(x["match"] for x in rows)
        identical &= ok
        comparisons[name] = {"all_match": ok, "mismatches": [x for x in rows if not x["match"]]}
    machine = res["blas, this machine"]
    if "error" in machine:
        raise RuntimeError(f"E0: the blas run failed: {machine['error']}")
    outcomes = [r["outcome"] for r in runs]
    machine_outcomes = [r["outcome"] for r in machine["records"]]
    fa, fb = (float(r["readout"]["final_loss"]) for r in runs)
    pair = classify_pair(outcomes[0], outcomes[1], fa, fb)
    exp = list(expected) if expected is not None else None
    return {"pinned": asdict(pinned), "kernel": PIN_KERNEL, "pinned_environment": env,
            "pinned_dispatch_in_use": first["cpu_features"]["dispatch_in_use"],
            "runs": runs, "machine_runs": machine["records"], "machine_kernel": "blas",
            "machine_dispatch_in_use": machine["cpu_features"]["dispatch_in_use"],
            "fresh": comparisons, "fresh_processes": len(jobs) - 1,
            "identical_in_fresh_processes": identical if len(jobs) > 2 else None,
            "outcomes": outcomes, "machine_outcomes": machine_outcomes,
            "kernels_agree_on_labels": outcomes == machine_outcomes,
            "pair": pair, "lab_claim_reproduced": bool(pair["very_different"] and pair["lab_direction"]),
            "expected_outcomes": exp, "reproduced": (exp is None or outcomes == exp) and outcomes == machine_outcomes,
            "checkpoints": checkpoints,
            "labels_at_checkpoints": [r["labels"] for r in runs],
            "seconds": time.perf_counter() - t0}


def run_e1(pinned: Pinned, horizon: int, e0: dict[str, Any], log: Console) -> dict[str, Any]:
    """E1: threads, CPU features, kernel, each in a fresh process; do labels or bits change?"""
    t0 = time.perf_counter()
    feats = list(simd_targets())
    off = ",".join(feats)
    one: dict[str, str | None] = {v: "1" for v in THREAD_VARS}
    two: dict[str, str | None] = {v: "2" for v in THREAD_VARS}
    jobs: list[Job] = [
        ("blas, 1 thread", pinned, "blas", {**one, PIN_VARIABLE: None}),
        ("blas, 2 threads", pinned, "blas", {**two, PIN_VARIABLE: None}),
        (f"blas, {PIN_VARIABLE}={off}", pinned, "blas", {PIN_VARIABLE: off}),
        ("portable kernel, CPU dispatch on", pinned, "portable", {PIN_VARIABLE: None}),
    ]
    log(f"E1: {len(jobs)} variants in fresh processes (dispatch targets: {feats})")
    res = _fresh_runs(jobs, log, convention=str(CONVENTION))
    pinned_runs, machine_runs = e0["runs"], e0["machine_runs"]
    ref_labels = [x["outcome"] for x in pinned_runs]
    rows = []
    for name, pin, kernel, env in jobs:
        r = res.get(name, {"error": "missing"})
        if "error" in r:
            rows.append({"variant": name, "error": r["error"]})
            continue
        recs = r["records"]
        rows.append({
            "variant": name, "kernel": kernel, "epochs": pin.epochs, "env": dict(env),
            "dispatch_in_use": r["cpu_features"]["dispatch_in_use"],
            "outcomes": [x["outcome"] for x in recs], "reference_outcomes": ref_labels,
            "labels_change": [x["outcome"] for x in recs] != ref_labels,
            "weights_identical_to_pinned": [x["weights_sha256"] == y["weights_sha256"]
                                            for x, y in zip(recs, pinned_runs)],
            "weights_identical_to_blas": [x["weights_sha256"] == y["weights_sha256"]
                                          for x, y in zip(recs, machine_runs)],
            "loss_identical_to_pinned": [x["loss_sha256"] == y["loss_sha256"] for x, y in zip(recs, pinned_runs)],
            "final_loss": [x["readout"]["final_loss"] for x in recs],
            "final_loss_hex": [x["final_loss_hex"] for x in recs],
            "steps_to_threshold": [x["readout"]["steps_to_threshold"] for x in recs],
            "seconds": r.get("seconds"),
        })
    return {"dispatch_features": feats, "variants": rows, "seconds": time.perf_counter() - t0,
            "any_label_change": any(r.get("labels_change") for r in rows)}


def run_sensitivity(pinned: Pinned, log: Console, path: Path | None) -> dict[str, Any]:
    """The summed reading beside the chosen one: the stored ``lab-sum`` report, and the pinned pair
    rerun under ``lab-sum`` (blas, this process) at the pinned epochs."""
    t0 = time.perf_counter()
    log(f"sensitivity: the pinned pair under {SENSITIVITY} ({pinned.epochs} epochs)")
    recs = e0_pair(pinned, convention=SENSITIVITY, checkpoints=e0_checkpoints(pinned, pinned.epochs))
    runs = [record_json(r) for r in recs]
    fa, fb = (float(r["readout"]["final_loss"]) for r in runs)
    out: dict[str, Any] = {"convention": str(SENSITIVITY), "reading": reading_label(SENSITIVITY),
                           "pinned_pair": runs,
                           "pinned_pair_class": classify_pair(runs[0]["outcome"], runs[1]["outcome"], fa, fb)}
    if path is not None and path.exists():
        doc = json.loads(path.read_text(encoding="utf-8"))
        d = doc.get("data", doc)
        out["stored"] = {"path": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
                         "schema": d.get("schema"), "pinned": d.get("pinned"),
                         "search": {k: d["experiments"].get("search", {}).get(k) for k in
                                    ("inits", "seeds", "epochs", "pairs_tried", "pairs_differing")},
                         "e0": [{"lr": r["spec"]["lr"], "outcome": r["outcome"],
                                 "final_loss": r["readout"]["final_loss"],
                                 "steps_to_threshold": r["readout"]["steps_to_threshold"]}
                                for r in d["experiments"]["E0"]["runs"]],
                         "e3_changes": [[w["window"], w["changes"]] for w in d["experiments"].get("E3", {}).get(
                             "windows", [])],
                         "e7": [[e["seed"], e.get("lo")] for e in d["experiments"].get("E7", {}).get("per_seed", [])],
                         "verdicts": {h: v["verdict"] for h, v in d["experiments"]["verdicts"].items()},
                         "seconds": d.get("seconds")}
    else:
        out["stored"] = None
    out["seconds"] = time.perf_counter() - t0
    return out


def sensitivity_rows(data: dict[str, Any]) -> list[list[Any]]:
    """Quantity, summed reading (stored), chosen reading (this run), changed?"""
    ex = data["experiments"]
    sens = ex.get("sensitivity") or {}
    st = sens.get("stored")
    if not st:
        return []
    rows: list[list[Any]] = []
    s_new = ex.get("search", {})
    rows.append(["search", f"{st['search']['pairs_differing']} of {st['search']['pairs_tried']} pairs' labels differ at "
                 f"{st['search']['epochs']} epochs",
                 f"{s_new.get('pairs_differing')} of {s_new.get('pairs_tried')} differ, "
                 f"{s_new.get('very_different')} very different at {s_new.get('epochs')} epochs", "yes"])
    p_old, p_new = st["pinned"], data["pinned"]
    rows.append(["E0 pinned", f"{p_old['init']} seed {p_old['seed']}, {p_old['epochs']} epochs",
                 f"{p_new['init']} seed {p_new['seed']}, {p_new['epochs']} epochs",
                 "yes" if p_old != p_new else "no"])
    old = " vs ".join(f"{r['outcome']} {r['final_loss']:.6g}" for r in st["e0"])
    new = " vs ".join(f"{r['outcome']} {r['readout']['final_loss']:.6g}" for r in ex["E0"]["runs"])
    rows.append(["E0 outcomes, final losses", old, new, "yes" if old != new else "no"])
    pp = sens["pinned_pair"]
    rows.append(["new E0 pair under the summed reading",
                 " vs ".join(f"{r['outcome']} {r['readout']['final_loss']:.6g}" for r in pp), new,
                 "yes" if [r["outcome"] for r in pp] != ex["E0"]["outcomes"] else "labels agree"])
    old3 = ", ".join(f"{w}: {c}" for w, c in st["e3_changes"])
    new3 = ", ".join(f"{w['window']}: {w['changes']}" for w in ex.get("E3", {}).get("windows", []))
    rows.append(["E3 changes per window", old3, new3, "yes" if old3 != new3 else "no"])
    old7 = sum(lo is not None for _, lo in st["e7"])
    new7 = sum("lo" in e for e in ex.get("E7", {}).get("per_seed", []))
    rows.append(["E7 seeds with a boundary in the scan", f"{old7} of {len(st['e7'])}",
                 f"{new7} of {len(ex.get('E7', {}).get('per_seed', []))}", "yes" if old7 != new7 else "no"])
    for h, v in ex["verdicts"].items():
        o = st["verdicts"].get(h)
        rows.append([f"{h} ({v['hypothesis']})", o, v["verdict"], "no" if o == v["verdict"] else "yes"])
    return rows


# ------------------------------------------------------------------ E5 / E6

def run_e5(pinned: Pinned, epochs: int, every: int, log: Console) -> dict[str, Any]:
    """E5: separations from the lower rate's run; Lyapunov fits; O(1) times vs the horizon."""
    t0 = time.perf_counter()
    log(f"E5: separation growth over {epochs} epochs (sampled every {every})")
    seps = separations(pinned.seed, PAIR[0], PAIR[1], init=pinned.init, epochs=epochs, sample_every=every)
    out = []
    for s in seps:
        out.append({"label": s.label, "epochs": s.epochs, "distance": s.distance, "fit": asdict(s.fit),
                    "first_nonzero": s.first_nonzero, "reaches_0.1": s.reaches_01, "reaches_1": s.reaches_1})
    return {"epochs": epochs, "sample_every": every, "separations": out, "lab_horizon": LAB_EPOCHS,
            "seconds": time.perf_counter() - t0}


def run_e6(pinned: Pinned, epochs: int, every: int, log: Console) -> dict[str, Any]:
    """E6: top eigenvalue of the summed-loss Hessian along both runs of the pair."""
    t0 = time.perf_counter()
    log(f"E6: Hessian every {every} epochs over {epochs} epochs, both rates")
    traces = []
    for lr in PAIR:
        s = sharpness_trace(pinned.seed, lr, init=pinned.init, epochs=epochs, every=every)
        traces.append(asdict(s))
    return {"epochs": epochs, "every": every, "traces": traces, "seconds": time.perf_counter() - t0}


# ------------------------------------------------------------------ verdicts

def _relabel(readout: dict[str, Any], loss_threshold: float, need_accuracy: bool) -> str:
    fl = readout["final_loss"]
    ok = isinstance(fl, float) and math.isfinite(fl) and fl < loss_threshold
    if need_accuracy:
        ok = ok and readout["accuracy"] == 100.0
    return "trains" if ok else "fails"


def criteria_sensitivity(e0: dict[str, Any]) -> list[dict[str, Any]]:
    """The pair relabelled under other criteria (loss thresholds, with/without 100% accuracy)."""
    rows: list[dict[str, Any]] = []
    for thr in (1e-4, 1e-3, 1e-2, 1e-1, 0.3):
        for acc in (True, False):
            labels = [_relabel(r["readout"], thr, acc) for r in e0["runs"]]
            rows.append({"loss_threshold": thr, "requires_100pct": acc, "labels": labels,
                         "differ": labels[0] != labels[1]})
    rows.append({"loss_threshold": None, "requires_100pct": True,
                 "labels": ["trains" if r["readout"]["accuracy"] == 100.0 else "fails" for r in e0["runs"]],
                 "differ": e0["runs"][0]["readout"]["accuracy"] != e0["runs"][1]["readout"]["accuracy"]})
    return rows


def _finest_multi(e3: dict[str, Any]) -> tuple[str | None, list[tuple[str, int]]]:
    """The narrowest window with more than one label change, and the changes per window."""
    changes = [(w["window"], w["changes"]) for w in e3["windows"]]
    multi = [w for w, c in changes if c > 1]
    return (multi[-1] if multi else None), changes


def verdicts(ex: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A verdict per hypothesis, each with the measured facts it rests on (see the docstring rules)."""
    out: dict[str, dict[str, Any]] = {}
    a, b = PAIR
    e0, e1, e2, e3, e4, e5, e6 = (ex.get(k) for k in ("E0", "E1", "E2", "E3", "E4", "E5", "E6"))
    hz = ex.get("horizon")
    assert_e0 = e0 if e0 is not None else {}
    ulps64, ulps32 = ulps_between(a, b), ulps_between(a, b, "float32")
    err_a = abs(float(exact_fraction(a) - decimal_value(a)))
    facts = [f"Neither decimal is a double, but each is stored within {err_a:.2e} of its decimal (half an ulp "
             f"is {spacing(a) / 2:.2e}); the stored rates {a.hex()} and {b.hex()} are {ulps64} float64 ulps "
             f"apart ({ulps32} in float32)."]
    if e2 and "lo" in e2:
        facts.append(f"E2 finds the label change between the adjacent doubles {e2['lo_hex']} ({e2['label_lo']}) and "
                     f"{e2['hi_hex']} ({e2['label_hi']}), so every rate on the grid has a definite label.")
    out["H1"] = {"hypothesis": "the two rates are not representable", "verdict": "rejected",
                 "evidence": " ".join(facts), "cites": ["E2", "E4"]}

    # H2: rounding plus chaos
    facts, for_, against = [], 0, 0
    if e1:
        changed = [v["variant"] for v in e1["variants"] if v.get("labels_change")]
        same_blas = [v["variant"] for v in e1["variants"] if v.get("weights_identical_to_blas")
                     and all(v["weights_identical_to_blas"])]
        same_pin = [v["variant"] for v in e1["variants"] if v.get("weights_identical_to_pinned")
                    and all(v["weights_identical_to_pinned"])]
        facts.append(f"E1 (fresh processes, {assert_e0['pinned']['epochs']} epochs): weights bitwise identical to "
                     f"this machine's blas run under {', '.join(same_blas) or 'no variant'}, to the pinned portable "
                     f"run under {', '.join(same_pin) or 'no variant'}; the labels changed under "
                     f"{len(changed)} of {len(e1['variants'])} variants.")
        for_ += bool(changed)
        against += not changed
    if e3:
        last = e3["windows"][-1]
        fine = [w for w in e3["windows"] if w["relative_width"] is not None and w["relative_width"] <= 1e-6]
        facts.append(f"E3: {last['changes']} label change(s) among {last['points']} consecutive doubles; "
                     f"windows of relative width <= 1e-6 hold {fmt_list(sorted({w['changes'] for w in fine}), sep=' or ')} "
                     "change(s).")
        if last["changes"] > 1:
            for_ += 1
        else:
            against += 1
    if e5:
        rounding = [sp for sp in e5["separations"] if sp["label"] != f"lr -> {b!r}"]
        reached = [sp["label"] for sp in rounding if sp["reaches_0.1"] is not None]
        pair = next((sp for sp in e5["separations"] if sp["label"] == f"lr -> {b!r}"), None)
        facts.append("E5: rounding-sized perturbations (" + "; ".join(
            f"{sp['label']}: max distance {max(sp['distance']):.2e}, lambda {sp['fit']['exponent']:.2e}/epoch"
            for sp in rounding) + f") over {e5['epochs']} epochs" + (
            f"; the pair itself separates to 0.1 at epoch {pair['reaches_0.1']}." if pair else "."))
        for_ += bool(reached)
        against += not reached
    if e6:
        facts.append(f"E6 ({e6['traces'][0].get('loss_kind', 'summed')} loss): smooth-sample sharpness peaks at " + ", ".join(
            f"{t['smooth_max']:.1f} ({t['max_ratio']:.3f} of 2/lr = {t['threshold']:.0f}) for lr={t['lr']!r}"
            for t in e6["traces"]) + "; gradient descent runs far below the edge of stability.")
    m = e2.get("mechanism") if e2 else None
    if m and m["first_pattern_epoch"] is not None:
        facts.append(f"E2 mechanism: the runs at the bracket's adjacent doubles are {m['distance_before']:.2g} apart "
                     f"when, at epoch {m['first_pattern_epoch']}, one pre-activation (hidden layer, point, unit) "
                     f"{m['pattern_sites'][0]} is on one side of the ReLU kink in one run and on the other side in the "
                     f"other; 100 epochs later they are {m['distance_after_100']:.2g} apart. Rounding decides which "
                     "adjacent double is the last to converge, but the jump itself is the ReLU kink, a discontinuity "
                     "of the exact map, not an exponential amplification.")
    verdict = "supported" if for_ > against else ("rejected" if against and not for_ else "inconclusive")
    out["H2"] = {"hypothesis": "rounding plus chaos decides", "verdict": verdict, "evidence": " ".join(facts),
                 "cites": ["E1", "E2", "E3", "E5", "E6"]}

    # H3: fractal boundary
    facts = []
    verdict = "inconclusive"
    if e3:
        finest, changes = _finest_multi(e3)
        pdim = e3["pooled_dimension"]
        facts.append(f"E3 label changes per window of {e3['count']} rates: " + ", ".join(f"{w}: {c}" for w, c in changes)
                     + f"; pooled box-counting {describe_fit(pdim)}.")
        fine_single = all(c <= 1 for w, c in changes[-8:])
        if finest is not None and fine_single:
            verdict = "not supported at the pair's scale"
            facts.append(f"Structure with many changes exists down to relative width {finest}; below it (the pair "
                         f"is {(b - a) / a:.1e} apart in relative terms) every window holds a single change, down "
                         "to consecutive doubles: locally the boundary is one point (dimension 0), not a fractal.")
        elif finest is None:
            verdict = "not supported"
        else:
            verdict = "partly supported"
    if e4:
        rows = {(r["rate"], r["dtype"]): r["outcome"] for r in e4["rows"]}
        if ("E2 hi", "longdouble") in rows:
            facts.append(f"E4: at the E2 bracket, float64 gives {rows[('E2 lo', 'float64')]} | "
                         f"{rows[('E2 hi', 'float64')]} and longdouble {rows[('E2 lo', 'longdouble')]} | "
                         f"{rows[('E2 hi', 'longdouble')]}: the boundary's last ulps depend on the precision.")
    m = e2.get("mechanism") if e2 else None
    if m and m["first_pattern_epoch"] is not None:
        facts.append(f"E2 mechanism: the single boundary point is where one ReLU pre-activation changes side at "
                     f"epoch {m['first_pattern_epoch']}; the loss at the end jumps from {m['final_loss'][0]:.6f} to "
                     f"{m['final_loss'][1]:.6f} across one ulp, a discontinuity of the piecewise-smooth map.")
    out["H3"] = {"hypothesis": "a genuine fractal boundary of the exact map", "verdict": verdict,
                 "evidence": " ".join(facts), "cites": ["E2", "E3", "E4"]}

    # H4: classification threshold
    rows_c = criteria_sensitivity(assert_e0)
    n_diff = sum(r["differ"] for r in rows_c)
    ra, rb = (r["readout"] for r in assert_e0["runs"])
    acc_only = rows_c[-1]["differ"]
    thr_diff = sorted({r["loss_threshold"] for r in rows_c if r["differ"] and r["loss_threshold"] is not None})
    out["H4"] = {
        "hypothesis": "an artefact of the classification threshold",
        "verdict": "no difference to explain: the labels agree under every criterion" if n_diff == 0 else (
            "supported" if not acc_only and n_diff < len(rows_c) // 2 else (
                "rejected" if n_diff == len(rows_c) else "partly supported")),
        "evidence": (f"E0 readouts at {assert_e0['pinned']['epochs']} epochs: lr={a!r} final loss {ra['final_loss']:.5f}, "
                     f"accuracy {ra['accuracy']:.1f}%, {ra['dead_units']} dead units; lr={b!r} final loss "
                     f"{rb['final_loss']:.5f}, accuracy {rb['accuracy']:.1f}%, {rb['dead_units']} dead units. "
                     f"The labels differ under {n_diff} of {len(rows_c)} criteria (loss thresholds "
                     f"{fmt_list(thr_diff, sep=' and ') if thr_diff else 'none'} differ; accuracy alone {'differs' if acc_only else 'does not'})."),
        "criteria": rows_c, "cites": ["E0"],
    }

    # H5: implementation
    facts = []
    verdict = "inconclusive"
    late = False
    if hz:
        conv_by = {}
        for r in hz["rows"]:
            items = [(int(k), v) for k, v in r["labels"].items()]
            stays = [k for i, (k, _) in enumerate(items) if all(v == "converged" for _, v in items[i:])]
            conv_by[r["lr"]] = stays[0] if stays else None
        late = all(v is not None for v in conv_by.values())
        facts.append(f"Horizon check: all {hz['runs']} rates rerun to {hz['epochs']} epochs (the pair, the E2 "
                     f"bracket, rates beside E3 changes) are "
                     + ("converged at every checkpoint from " + str(max(v for v in conv_by.values() if v)) + " epochs on"
                        if late else "not all converged") + ".")
    s_ = ex.get("search", {})
    if s_.get("pairs_tried"):
        facts.append(f"Search at {s_['epochs']} epochs: the pair is very different (one converged, the other not, "
                     f"final losses >= 10x apart) for {s_['very_different']} of {s_['pairs_tried']} (seed, init); "
                     f"its labels differ for {s_['pairs_differing']}.")
    if e4:
        f32 = [r for r in e4["rows"] if r["dtype"] == "float32" and r["rate"].startswith("0.00149")]
        facts.append("E4 float32 (rates 9 ulps apart): " + ", ".join(f"{r['rate']} {r['outcome']}" for r in f32)
                     + "; float64 and longdouble give the E0 labels at the pair.")
    facts.append("Every run uses the lab's loss log(y + 1e-7) (a naive log is not needed to get the "
                 "difference; the fused stable loss was not tried here).")
    if late:
        verdict = "supported: too few epochs"
    out["H5"] = {"hypothesis": "an implementation artefact (float32, naive log, too few epochs)",
                 "verdict": verdict, "evidence": " ".join(facts), "cites": ["horizon", "search", "E4", "E0"]}
    return out


# ------------------------------------------------------------------ the study

def search_checkpoints(epochs: int) -> tuple[int, ...]:
    """Horizons at which the search also judges every run (besides ``epochs``)."""
    return tuple(c for c in (20_000, 50_000, 100_000, 200_000, 300_000, 400_000) if c < epochs)


def _plan(args: argparse.Namespace, pinned: Pinned) -> dict[str, Any]:
    """Sizes of every experiment (``--quick`` shrinks them)."""
    h = args.horizon if args.horizon else pinned.epochs
    if args.quick:
        return {"horizon": h, "e2_per_round": 3, "e2_min_ulps": 1 << 27, "e3_count": 16,
                "e3_widths": (1e-1, 1e-6, 1e-12), "e4": False, "e5": False, "e6": False, "e7_seeds": (),
                "e1": False, "fresh": 2, "horizon_check": False}
    skip = set(getattr(args, "skip", None) or ())
    return {"horizon": h, "e2_per_round": args.per_round, "e2_min_ulps": 1, "e3_count": args.points,
            "e3_widths": tuple(10.0 ** -k for k in range(1, 13)), "e4": "E4" not in skip, "e5": "E5" not in skip,
            "e6": "E6" not in skip, "e7_seeds": () if "E7" in skip else tuple(args.e7_seeds), "e1": True, "fresh": 2,
            "horizon_check": "horizon" not in skip, "skipped": sorted(skip)}


def run_study(args: argparse.Namespace, log: Console) -> dict[str, Any]:
    """Every experiment the plan asks for; returns the report's data.

    The ensembles of every experiment share one pool of ``args.workers``
    processes (:func:`refnet.sweep.process_pool`).
    """
    pool = process_pool(args.workers) if args.workers > 1 else None
    try:
        return _run_study(args, log, pool)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _run_study(args: argparse.Namespace, log: Console, pool: Executor | None) -> dict[str, Any]:
    t_start = time.perf_counter()
    ex: dict[str, Any] = {}
    expected: Sequence[str] | None = None
    if args.search:
        seeds = range(args.search_seeds)
        inits = tuple(args.search_inits.split(","))
        log(f"search: pair x seeds 0..{args.search_seeds - 1} x {', '.join(inits)} to {args.search_epochs} epochs "
            f"under {reading_label(CONVENTION)}")
        t0 = time.perf_counter()
        ex["search"] = search(seeds, inits, args.search_epochs, args.workers, log,
                              checkpoints=search_checkpoints(args.search_epochs), executor=pool, quiet=log.quiet)
        ex["search"]["seconds"] = time.perf_counter() - t0
        log(f"search: {ex['search']['very_different']} very different, {ex['search']['pairs_differing']} differing "
            f"of {ex['search']['pairs_tried']} ({ex['search']['seconds']:.0f} s); pinned {ex['search']['pinned']}")
        found = ex["search"]["pinned"]
        pinned = Pinned(found["init"], found["seed"], found["epochs"]) if found else PINNED
        expected = found["outcomes"] if found else None
    else:
        ex["search"] = dict(SEARCH_SUMMARY, stored=True)
        pinned = QUICK_PINNED if args.quick else PINNED
        expected = None if args.quick else PINNED_EXPECTED
    if args.seed is not None or args.init is not None or args.epochs is not None:
        pinned = Pinned(args.init or pinned.init, pinned.seed if args.seed is None else args.seed,
                        pinned.epochs if args.epochs is None else args.epochs)
        expected = None
    plan = _plan(args, pinned)
    h = plan["horizon"]
    ex["E0"] = run_e0(pinned, h, log, plan["fresh"], expected)
    e0 = ex["E0"]
    log(f"E0: {e0['outcomes']} (blas {e0['machine_outcomes']}), final losses "
        f"{[r['readout']['final_loss'] for r in e0['runs']]}, reproduced={e0['reproduced']}, identical in fresh "
        f"processes={e0['identical_in_fresh_processes']}")
    ex["sensitivity"] = run_sensitivity(pinned, log, args.sensitivity)
    study = Study(pinned, h, args.workers, log, pool, quiet=log.quiet)
    if plan["e1"]:
        ex["E1"] = run_e1(pinned, h, e0, log)
    a, b = PAIR
    la, lb = e0["outcomes"]
    if la != lb:
        t0 = time.perf_counter()
        log("E2: multisection between the pair on the float64 grid")
        e2 = multisection(study, a, b, la, lb, seed=pinned.seed, per_round=plan["e2_per_round"], tag="E2",
                          min_ulps=plan["e2_min_ulps"])
        if e2["ulps"] == 1:
            log("E2 mechanism: the bracket's two runs side by side, ReLU patterns compared every epoch")
            t1 = time.perf_counter()
            mech = asdict(mechanism(pinned.seed, pinned.init, e2["lo"], e2["hi"], h))
            mech["seconds"] = time.perf_counter() - t1
            e2["mechanism"] = mech
        e2["seconds"] = time.perf_counter() - t0
        ex["E2"] = e2
        center = e2["lo"]
    else:
        ex["E2"] = {"skipped": "the pair has the same label"}
        center = a
    t0 = time.perf_counter()
    log(f"E3: zoom scans, {plan['e3_count']} rates per window, {len(plan['e3_widths'])} widths + consecutive doubles")
    ex["E3"] = zoom_scan(study, center, plan["e3_count"], plan["e3_widths"])
    ex["E3"]["seconds"] = time.perf_counter() - t0
    if plan["e4"]:
        t0 = time.perf_counter()
        rates = {"0.001490625": a, "0.001490626": b}
        if "lo" in ex["E2"]:
            rates.update({"E2 lo": ex["E2"]["lo"], "E2 hi": ex["E2"]["hi"]})
        log("E4: precision ladder")
        ex["E4"] = precision_ladder(study, rates)
        ex["E4"]["seconds"] = time.perf_counter() - t0
    if plan["e5"]:
        e5_epochs = args.e5_epochs or pinned.epochs
        ex["E5"] = run_e5(pinned, e5_epochs, args.e5_every or max(10, e5_epochs // 5000), log)
    if plan["e6"]:
        every = max(1, pinned.epochs // 200)
        ex["E6"] = run_e6(pinned, pinned.epochs, every, log)
    if plan["e7_seeds"]:
        t0 = time.perf_counter()
        log(f"E7: boundaries for seeds {list(plan['e7_seeds'])}")
        ex["E7"] = per_seed_boundaries(study, plan["e7_seeds"], scan_points=args.e7_points, rel_width=args.e7_width,
                                       per_round=args.e7_per_round)
        ex["E7"]["seconds"] = time.perf_counter() - t0
    if plan["horizon_check"]:
        rates_h = [a, b]
        if "lo" in ex["E2"]:
            rates_h += [ex["E2"]["lo"], ex["E2"]["hi"]]
        for w in (ex["E3"]["windows"][-1], ex["E3"]["windows"][len(ex["E3"]["windows"]) // 2]):
            lab = w["labels"]
            for i in [i for i in range(len(lab) - 1) if lab[i] != lab[i + 1]][:2]:
                rates_h += [w["rates"][i], w["rates"][i + 1]]
        rates_h = list(dict.fromkeys(rates_h))
        t0 = time.perf_counter()
        far = args.horizon_epochs if args.horizon_epochs > pinned.epochs else 2 * pinned.epochs
        log(f"horizon: {len(rates_h)} rates to {far} epochs")
        ex["horizon"] = horizon_check(study, rates_h, far, sorted(
            c for c in {pinned.epochs, h, 20_000, 100_000, 200_000, 500_000} if c < far))
        ex["horizon"]["seconds"] = time.perf_counter() - t0
    ex["verdicts"] = verdicts(ex)
    runs = [record_json(r) for r in study.records]
    return {"schema": SCHEMA, "environment": fingerprint(), "pinned": asdict(pinned), "plan": {
        k: list(v) if isinstance(v, tuple) else v for k, v in plan.items()},
        "inputs": {"pair": list(PAIR), "pair_hex": [x.hex() for x in PAIR], "lab-evidence": lab_config(CONVENTION),
                   "convention": str(CONVENTION), "reading": reading_label(CONVENTION),
                   "sensitivity_reading": reading_label(SENSITIVITY),
                   "criteria": asdict(CRITERIA), "quick": bool(args.quick), "workers": args.workers},
        "experiments": ex, "runs": runs, "seconds": time.perf_counter() - t_start}


# ------------------------------------------------------------------ summary

def fmt_number(x: object, digits: int = 4) -> str:
    """:func:`verify.common.report.fmt_number` for any value of the study's data, also as read back
    from ``report.json`` (where NaN and infinities are the strings ``"nan"``, ``"inf"``)."""
    if isinstance(x, str) and x in ("nan", "inf", "-inf"):
        x = float(x)
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return _fmt_number(x, digits)
    return fmt_value(x, digits)


def _yes(flag: object) -> str:
    return fmt_value(bool(flag)) if isinstance(flag, bool) else fmt_value(flag)


def summary_lines(data: dict[str, Any]) -> list[str]:
    """The console summary (also the report's opening)."""
    ex = data["experiments"]
    e0 = ex["E0"]
    p = data["pinned"]
    fl = [r["readout"]["final_loss"] for r in e0["runs"]]
    lines = [f"reading: {data['inputs']['reading']} (convention {data['inputs']['convention']})"]
    s = ex.get("search", {})
    if s.get("pairs_tried"):
        lines.append(f"search: {s['pairs_tried']} (seed, init) pairs to {s['epochs']} epochs: very different (one "
                     f"converged, the other not, final losses >= 10x apart) for {s['very_different']} "
                     f"({s['very_different_lab_direction']} with the lower rate converged); labels differ for "
                     f"{s['pairs_differing']} ({s['fraction_differing']:.3%})"
                     + (f"; {s['seconds']:.0f} s" if isinstance(s.get("seconds"), (int, float)) else ""))
        if s.get("pinned"):
            lines.append(f"search pinned: {s['pinned']['why']}")
    lines += [f"pinned: init={p['init']} seed={p['seed']} epochs={p['epochs']}",
              f"E0 (pinned: {e0['kernel']} kernel, NumPy dispatch disabled): lr={PAIR[0]!r} -> {e0['outcomes'][0]} "
              f"({fmt_number(fl[0], 6)}), lr={PAIR[1]!r} -> {e0['outcomes'][1]} ({fmt_number(fl[1], 6)}); loss ratio "
              f"{fmt_number(e0['pair']['ratio'])}; very different: {_yes(e0['pair']['very_different'])}; labels as "
              f"searched: {_yes(e0['reproduced'])}; bitwise identical in fresh processes: "
              f"{_yes(e0['identical_in_fresh_processes'])}",
              f"E0 blas (this machine): {' and '.join(map(str, e0['machine_outcomes']))}, final losses "
              + " and ".join(fmt_number(r['readout']['final_loss'], 6) for r in e0['machine_runs'])]
    if "E1" in ex:
        for v in ex["E1"]["variants"]:
            lines.append(f"E1 {v['variant']}: {fmt_value(v.get('outcomes', v.get('error')))}"
                         + (f"; labels change: {_yes(v['labels_change'])}, bits as blas: "
                            f"{_yes(all(v['weights_identical_to_blas']))}, as pinned: "
                            f"{_yes(all(v['weights_identical_to_pinned']))}"
                            if "labels_change" in v else ""))
    e2 = ex.get("E2", {})
    if "lo" in e2:
        lines.append(f"E2: boundary in [{e2['lo_hex']}, {e2['hi_hex']}] ({e2['ulps']} ulp), "
                     f"{e2['label_lo']} | {e2['label_hi']}, {e2['runs']} runs")
    elif e2.get("skipped"):
        lines.append(f"E2: skipped ({e2['skipped']})")
    if "E3" in ex:
        lines.append("E3 changes per window: " + ", ".join(f"{w['window']}: {w['changes']}" for w in ex["E3"]["windows"]))
        pd = ex["E3"]["pooled_dimension"]
        lines.append(f"E3 pooled box-counting {describe_fit(pd)}")
    if "E4" in ex:
        lines.append("E4: " + "; ".join(f"{r['rate']} {r['dtype']} {r['outcome']}" for r in ex["E4"]["rows"]))
    if "E5" in ex:
        for sp in ex["E5"]["separations"]:
            lines.append(f"E5 {sp['label']}: lambda={fmt_number(sp['fit']['exponent'])}/epoch, reaches 0.1 at "
                         f"{sp['reaches_0.1']}")
    if "E6" in ex:
        for t in ex["E6"]["traces"]:
            lines.append(f"E6 lr={t['lr']!r}: smooth max lambda_max ({t.get('loss_kind', 'summed')} loss) = "
                         f"{fmt_number(t['smooth_max'])} = {fmt_number(t['max_ratio'])} x 2/lr "
                         f"({t['kink_samples']} kink samples set aside)")
    if "E7" in ex:
        for e in ex["E7"]["per_seed"]:
            lines.append(f"E7 seed {e['seed']}: " + (f"boundary at {e['lo']!r} ({e['relative_offset']:+.3e} rel. to "
                         f"0.001490625), {e['label_lo']} | {e['label_hi']}" if "lo" in e else
                         f"no change within the scan ({e['scan_changes']} changes)"))
    sens = ex.get("sensitivity")
    if sens:
        pp = sens["pinned_pair"]
        lines.append(f"summed reading ({sens['convention']}), same pinned pair: "
                     + " vs ".join(f"{r['outcome']} ({fmt_number(r['readout']['final_loss'], 6)})" for r in pp))
        st = sens.get("stored")
        if st:
            changed = [h for h, v in ex["verdicts"].items() if st["verdicts"].get(h) != v["verdict"]]
            lines.append(f"verdicts changed from the summed reading's report: {', '.join(changed) or 'none'}")
    for h, v in ex["verdicts"].items():
        lines.append(f"{h} ({v['hypothesis']}): {v['verdict']}")
    lines.append(f"run time {data['seconds']:.0f} s")
    return lines
