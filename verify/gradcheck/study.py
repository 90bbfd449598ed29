"""Finite-difference proof of every refnet gradient (the gradcheck study's cases and report).

Checks Linear (with and without bias), Sigmoid, ReLU, Tanh, Identity, MSE,
BCE (with delta), BCE from logits, and the lab's whole 2-4-4-1 network (alone,
as a 2-member ensemble, and its ReLU/BCE-from-logits variant), in float32 and
float64, over several seeds and shapes, with :mod:`refnet.gradcheck`. Then it
runs the deliberately wrong backward passes of :mod:`verify.gradcheck.mutants` and
requires each to be caught, alone and inside the lab network. Float32 results
are also compared with float64 finite differences of the same component
(``vs-f64``). One row per (component, dtype, wrt): the worst case over seeds
and shapes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from refnet import gradcheck as gc
from refnet.layers import Identity, Layer, Linear, ReLU, Sigmoid, Tanh
from refnet.losses import BCE, MSE, BCEWithLogits, Loss
from refnet.network import mlp
from refnet.precision import DTypeName

from ..common import style
from ..common.report import Report, to_json
from . import mutants as mt
from .words import allowed, text_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "Case", "Row", "cases", "run", "aggregate", "table", "short_table", "short_cells", "row_cells",
    "layer_draw", "loss_draw", "network_draw", "exit_code", "write_report",
    "HEADERS", "LEGEND", "SHORT_HEADERS", "SHORT_LEGEND", "EXIT_PASS", "EXIT_FAIL", "EXIT_INCONCLUSIVE",
]

EXIT_PASS, EXIT_FAIL, EXIT_INCONCLUSIVE = 0, 1, 2
SEEDS_PER_SHAPE = 3
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_T = np.array([[0.0], [1.0], [1.0], [0.0]])

Draw = Callable[[np.random.Generator], list[gc.Problem]]


@dataclass(frozen=True)
class Case:
    """One component in one dtype and shape, drawn from one seed."""

    component: str
    dtype: DTypeName
    shape: str
    seed: int
    draw: Draw


def _reference(dtype: DTypeName) -> DTypeName | None:
    return "float64" if dtype == "float32" else None


def layer_draw(kind: str, dtype: DTypeName, n: int, fin: int, fout: int) -> Draw:
    """Draw a layer of ``kind`` (``Linear``, ``Linear (no bias)`` or an activation), its
    input ``(1, n, fin)`` and upstream gradient; weights, inputs and ``dy`` standard normal."""
    def draw(rng: np.random.Generator) -> list[gc.Problem]:
        x = rng.standard_normal((1, n, fin)).astype(dtype)
        layer: Layer
        if kind.startswith("Linear"):
            w = rng.standard_normal((1, fin, fout)).astype(dtype)
            b = rng.standard_normal((1, 1, fout)).astype(dtype) if kind == "Linear" else None
            layer = Linear(w, b, name=kind)
            out = fout
        else:
            layer = {"Sigmoid": Sigmoid, "ReLU": ReLU, "Tanh": Tanh, "Identity": Identity}[kind](kind)
            x = x * x.dtype.type(2)  # spread pre-activations over [-6, 6]: saturation and both signs
            out = fin
        dy = rng.standard_normal((1, n, out)).astype(dtype)
        return gc.layer_problems(layer, x, dy, component=kind, reference=_reference(dtype))
    return draw


def loss_draw(kind: str, dtype: DTypeName, n: int, f: int) -> Draw:
    """Draw 0/1 targets and predictions ``(1, n, f)``: probabilities in [0.02, 0.98] for
    BCE, ``3 * N(0, 1)`` values (logits) otherwise."""
    def draw(rng: np.random.Generator) -> list[gc.Problem]:
        t = rng.integers(0, 2, (1, n, f)).astype(dtype)
        loss: Loss
        lower = upper = None
        if kind == "BCE":
            loss, lower, upper = BCE(), 0.0, 1.0
            y = rng.uniform(0.02, 0.98, (1, n, f)).astype(dtype)
        else:
            loss = MSE() if kind == "MSE" else BCEWithLogits()
            y = (rng.standard_normal((1, n, f)) * 3.0).astype(dtype)
        return [gc.loss_problem(loss, y, t, component=kind, reference=_reference(dtype),
                                lower=lower, upper=upper)]
    return draw


def network_draw(kind: str, dtype: DTypeName, members: int) -> Draw:
    """Draw the lab's 2-4-4-1 network (or its ReLU/BCE-from-logits variant) with ``members``
    members, seeds taken from the generator, on the four XOR points."""
    def draw(rng: np.random.Generator) -> list[gc.Problem]:
        seeds = [int(s) for s in rng.integers(0, 2**31, members)]
        if kind == "network relu/bce-logits":
            net = mlp(2, (4, 4), 1, activation="relu", loss="bce-logits", dtype=dtype, seed=seeds)
        else:
            net = mlp(2, (4, 4), 1, dtype=dtype, seed=seeds)
        return [gc.network_problem(net, XOR_X, XOR_T, component=kind, reference=_reference(dtype))]
    return draw


LAYER_SHAPES = ((4, 3, 2), (1, 4, 4), (16, 24, 16))
ACTIVATION_SHAPES = ((4, 3), (1, 6), (24, 16))
LOSS_SHAPES = ((4, 1), (8, 3), (32, 12))


def cases(dtypes: Sequence[DTypeName], seed: int, quick: bool = False) -> list[Case]:
    """Every case the command checks: components x dtypes x shapes x seeds."""
    seeds = [seed] if quick else [seed + i for i in range(SEEDS_PER_SHAPE)]
    out: list[Case] = []
    for dt in dtypes:
        for kind in ("Linear", "Linear (no bias)"):
            for n, fi, fo in LAYER_SHAPES[:2] if quick else LAYER_SHAPES:
                out += [Case(kind, dt, f"N={n} {fi}->{fo}", s, layer_draw(kind, dt, n, fi, fo)) for s in seeds]
        for kind in ("Sigmoid", "ReLU", "Tanh", "Identity"):
            for n, f in ACTIVATION_SHAPES[:2] if quick else ACTIVATION_SHAPES:
                out += [Case(kind, dt, f"N={n} f={f}", s, layer_draw(kind, dt, n, f, f)) for s in seeds]
        for kind in ("MSE", "BCE", "BCEWithLogits"):
            for n, f in LOSS_SHAPES[:2] if quick else LOSS_SHAPES:
                out += [Case(kind, dt, f"N={n} f={f}", s, loss_draw(kind, dt, n, f)) for s in seeds]
        for kind, members in (("network (lab)", 1), ("network (lab, K=2)", 2),
                              ("network relu/bce-logits", 1)):
            out += [Case(kind, dt, f"2-4-4-1 K={members}", s, network_draw(kind, dt, members)) for s in seeds]
    return out


@dataclass(frozen=True)
class Row:
    """The worst case of one (component, dtype, wrt) over seeds and shapes."""

    result: gc.Result
    shape: str
    cases: int
    redraws: int

    def as_dict(self) -> dict[str, object]:
        out = self.result.as_dict()
        out.update(case_shape=self.shape, cases=self.cases, redraws=self.redraws)
        return out


_RANK = {"FAIL": 2, "KINK": 1, "PASS": 0}


def run(all_cases: Sequence[Case], progress: Callable[[int, str], None] | None = None,
        ) -> list[tuple[Case, gc.Result]]:
    """Check every case (with kink redraws); results in case order.

    ``progress(done, what)`` is called before each case with the number of cases done and a
    short name of the one starting (``"Sigmoid float32"``).
    """
    out: list[tuple[Case, gc.Result]] = []
    for done, case in enumerate(all_cases):
        if progress is not None:
            progress(done, f"{case.component} {case.dtype}")
        for r in gc.check_drawn(case.draw, seed=case.seed):
            out.append((case, r))
    return out


def aggregate(results: Sequence[tuple[Case, gc.Result]]) -> list[Row]:
    """One row per (component, dtype, wrt): the worst status, then the largest ratio."""
    groups: dict[tuple[str, str, str], list[tuple[Case, gc.Result]]] = {}
    for case, r in results:
        groups.setdefault((r.component, r.dtype, r.wrt), []).append((case, r))
    rows = []
    for items in groups.values():
        case, worst = max(items, key=lambda cr: (_RANK[cr[1].status], cr[1].ratio))
        refs = [r.reference for _, r in items if r.reference is not None]
        worst_ref = max(refs) if refs else None
        rows.append(Row(_with_reference(worst, worst_ref), case.shape, len(items),
                        sum(r.kinks for _, r in items)))
    return rows


def _with_reference(r: gc.Result, ref: float | None) -> gc.Result:
    return replace(r, reference=ref)


def _e(v: float) -> str:
    return f"{v:.2e}" if math.isfinite(v) else str(v)


HEADERS = ("component", "dtype", "wrt", "status", "observed", "expected", "ratio", "worst",
           "step", "seed", "mode", "redraws", "taylor", "vs-f64")

LEGEND: tuple[tuple[str, str], ...] = (
    ("component", "the layer, loss or network checked"),
    ("dtype", "the precision of its arithmetic"),
    ("wrt", "what the gradient is taken with respect to: x (input), W, b, y (prediction) or params "
            "(every parameter of the network)"),
    ("status", "PASS, FAIL or KINK (no verdict: a ReLU input at 0)"),
    ("observed", "largest |finite-difference gradient - backprop gradient| over the elements"),
    ("expected", "the error that rounding and the finite step can explain at that element (the bound)"),
    ("ratio", "observed / expected, the largest over all elements; the row passes when it is at most 1"),
    ("worst", "the element with that ratio: [member,row,column] of the tensor, or layer.parameter[...] "
              "in a network; 'via u[seed,j]' when found by bisecting a random projection"),
    ("step", "the finite-difference step h at that element (about cbrt(eps) times max(|x|, 1))"),
    ("seed", "the seed of the worst case (cases use seeds N, N+1, N+2)"),
    ("mode", "exhaustive: every element perturbed on its own; projected: 4 random directions "
             "(tensors over 256 elements)"),
    ("redraws", "how many times the inputs were drawn again because a ReLU input sat at a kink"),
    ("taylor", "the observed order of the Taylor remainder: about 2 for a right gradient, 1 for a wrong "
               "one; 'lin' when the remainder stays at rounding level (f is linear in what is checked)"),
    ("vs-f64", "float32 only: the error against float64 finite differences of the same component, "
               "over its bound; '-' for float64 rows"),
)
"""What each column of the detailed table (``--verbose``, the report's details) means."""

SHORT_HEADERS = ("checked", "dtype", "gradient of", "result", "worst error")

SHORT_LEGEND: tuple[tuple[str, str], ...] = (
    ("checked", "the layer, loss or whole network whose backward pass is checked; 'network (lab)' is the "
                "lab's 2-4-4-1 sigmoid network, K=2 two such networks trained side by side"),
    ("dtype", "the precision: float32 keeps about 7 significant digits, float64 about 16"),
    ("gradient of", "what the gradient is taken with respect to: the input x, the weights W, the bias b, "
                    "the prediction y fed to a loss, or every parameter of the network"),
    ("result", "PASS: the backprop gradient agrees with finite differences for every element; FAIL: it "
               "does not, or the gradient is missing or has the wrong shape or dtype; KINK: no verdict, "
               "a ReLU input sat at 0 where the derivative jumps"),
    ("worst error", "the largest gap between the backprop gradient and the finite-difference one, as a "
                    "share of the gap that rounding and the finite step can explain (the allowed error); "
                    "worst over seeds, shapes and elements; float32 rows also compare with float64 "
                    "finite differences and show the larger share; under 100% passes"),
)
"""What each column of the short table (the default output, the report's first table) means."""

_WRT_WORDS = {"x": "input x", "W": "weights W", "b": "bias b", "y": "prediction y", "params": "all parameters"}


def short_cells(row: Row) -> list[str]:
    """One row of the short table (see :data:`SHORT_LEGEND`)."""
    r = row.result
    words = {"PASS": "PASS", "FAIL": "FAIL", "KINK": "KINK (no verdict)"}[r.status]
    if r.faults:
        worst = f"fault: {r.faults[0]}"
    else:
        worst = allowed(max(r.ratio, r.reference or 0.0))
    return [r.component, r.dtype, _WRT_WORDS.get(r.wrt, r.wrt), words, worst]


def row_cells(row: Row) -> list[str]:
    r = row.result
    return [r.component, r.dtype, r.wrt, r.status, _e(r.observed), _e(r.expected),
            f"{r.ratio:.3f}" if math.isfinite(r.ratio) else "inf", r.worst, _e(r.step), str(r.seed),
            r.mode, str(row.redraws), "lin" if r.taylor is None else f"{r.taylor:.2f}",
            "-" if r.reference is None else f"{r.reference:.3f}"]


def table(rows: Sequence[Row]) -> str:
    """The detailed fixed-width text table (no timings: two runs print the same bytes)."""
    return text_table(HEADERS, [row_cells(r) for r in rows])


def short_table(rows: Sequence[Row]) -> str:
    """The short table a student reads first (columns explained by :data:`SHORT_LEGEND`)."""
    return text_table(SHORT_HEADERS, [short_cells(r) for r in rows])


def exit_code(rows: Sequence[Row], mutants: Sequence[mt.MutantResult]) -> int:
    if any(r.result.status == "FAIL" for r in rows) or not all(m.caught for m in mutants):
        return EXIT_FAIL
    if any(r.result.status == "KINK" for r in rows):
        return EXIT_INCONCLUSIVE
    return EXIT_PASS


@style.style()
def _taylor_figure(seed: int) -> tuple[Figure, list[list[object]]]:
    """Taylor remainders of Sigmoid (real and sigmoid-y mutant) in both dtypes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 5.0), sharey=False, layout="constrained")
    rows: list[list[object]] = []
    for ax, dt in zip(axes, ("float32", "float64")):
        rng = np.random.default_rng([seed, 0])
        x = (rng.standard_normal((1, 4, 3)) * 2).astype(dt)
        dy = rng.standard_normal((1, 4, 3)).astype(dt)
        for label, layer in (("Sigmoid", Sigmoid()), ("mutant sigmoid-y", mt.SigmoidY())):
            p = gc.layer_problems(layer, x, dy, component=label)[0]
            pts = gc.taylor_sweep(p, seed)
            s = [q.step for q in pts if math.isfinite(q.remainder) and q.remainder > 0]
            rem = [q.remainder for q in pts if math.isfinite(q.remainder) and q.remainder > 0]
            order = gc.taylor_order(p, seed)
            ax.loglog(s, rem, "o-" if label == "Sigmoid" else "s--",
                      label=f"{label} (order {'undefined' if order is None else f'{order:.2f}'})")
            if label == "Sigmoid":
                ax.loglog([q.step for q in pts], [10 * q.floor for q in pts], "k:", label="10x rounding bound")
            rows += [[label, dt, q.step, q.remainder, q.floor, q.valid] for q in pts]
        ax.set_xlabel("step multiple s (dimensionless)")
        ax.set_ylabel("Taylor remainder |f(x+sd)-f(x)-s g.d| (objective units)")
        ax.set_title(f"{dt}")
        style.legend_below(ax, ncol=2, fontsize=9, bbox_to_anchor=(0.5, -0.16))
    fig.suptitle("Taylor remainder: slope 2 = correct gradient, slope 1 = wrong")
    return fig, rows


def _legend_list(entries: Sequence[tuple[str, str]]) -> str:
    """A legend as a Markdown list: ``- **column**: meaning``."""
    return "\n".join(f"- **{name}**: {meaning}" for name, meaning in entries)


def write_report(directory: Path, rows: Sequence[Row], mutants: Sequence[mt.MutantResult],
                 code: int, seed: int, dtypes: Sequence[str]) -> None:
    rep = Report("gradcheck", "Finite-difference gradient check", directory)
    rep.section("Results")
    rep.text(
        "Every gradient refnet computes by backpropagation, compared with finite differences (the "
        "slope measured by nudging each input a little). One row per component, precision and "
        "gradient; each row is the worst case over seeds, shapes and elements.")
    rep.table(list(SHORT_HEADERS), [short_cells(r) for r in rows])
    rep.text("What the columns mean:", _legend_list(SHORT_LEGEND))
    rep.section("Proof that the check can fail", level=3)
    rep.text(
        f"{len(mt.MUTANTS)} copies of real layers, each with one deliberate mistake in its backward "
        "pass, checked in every precision, alone and inside the lab's 2-4-4-1 network. Every check "
        "must catch the mistake.")
    rep.table(list(mt.SHORT_HEADERS), mt.short_cells(mutants))
    rep.text("What the columns mean:", _legend_list(mt.SHORT_LEGEND))
    rep.section("Details")
    rep.section("Every component", level=3)
    rep.table(list(HEADERS), [row_cells(r) for r in rows])
    rep.text("What the columns mean:", _legend_list(LEGEND))
    rep.section("Every mutant check", level=3)
    rep.table(["mutant", "dtype", "level", "caught", "by"],
              [[m.mutant, m.dtype, m.level, m.caught, m.by] for m in mutants])
    rep.text("What the columns mean:", _legend_list(mt.LEGEND))
    rep.section("Method")
    rep.text(
        "Central differences with step `h = cbrt(eps) * max(|x|, 1)`, rounded to `(x + h) - x`; "
        "Richardson extrapolation over h and h/2 gives the numeric gradient and a truncation "
        "estimate; the expected error adds a first-order rounding bound of the forward pass "
        "(`3 * noise / h`) and of the analytic gradient. A row passes when observed / expected <= 1 "
        "for every element (or projection). `taylor` is the observed order of the Taylor "
        "remainder (2 = consistent, `lin` = remainder at rounding level). `vs-f64` is the float32 "
        "gradient's error against the same component in float64 (its analytic gradient and its "
        "finite differences), over the float32 rounding bound plus the float64 difference bound. "
        "See docs/gradcheck.md.")
    try:
        fig, trows = _taylor_figure(seed)
        rep.figure(fig, "taylor.png", "Taylor remainder of Sigmoid and of the sigmoid-y mutant")
        rep.data["taylor_sweep"] = to_json(trows)
    except ImportError:
        rep.text("(matplotlib missing: no figure)")
    rep.data.update({"passed": code == EXIT_PASS, "exit_code": code, "seed": seed, "dtypes": list(dtypes),
                     "rows": to_json([r.as_dict() for r in rows]),
                     "mutants": to_json([m.as_dict() for m in mutants])})
    passed = sum(r.result.status == "PASS" for r in rows)
    caught = sum(m.caught for m in mutants)
    rep.write(code == EXIT_PASS, f"{passed} of {len(rows)} gradients agree with finite differences; "
                                 f"{caught} of {len(mutants)} checks of deliberately wrong backward passes "
                                 "caught the mistake")
