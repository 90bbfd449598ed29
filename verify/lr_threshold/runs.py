"""The study's runs: the lab's pair configuration, its variants, outcome labels and multisection.

Every run is :func:`refnet.lab.run_many` on the lab's pair configuration
(``lab.EXPERIMENTS["pair-625"]``: seed 0, XOR, ReLU + BCE, 4-4 units, batch
21 drawn with replacement, 50,000 epochs, logged every 200), changed only by
a :class:`Variant` (kernel, dtype, sigmoid formula, and the environment of
the process that runs it).

**Outcome rule** (:func:`outcome`), from the run's final parameters on the 21
points and its log:

* ``diverged``: some point's output is saturated the wrong way, within
  ``delta = 1e-7`` of the wrong label (``1 - y < delta`` with ``t = 0``, or
  ``y < delta`` with ``t = 1``): each draw of it costs at least
  ``-log2(2 delta) = 22.25`` bits, and ``y (1 - y)`` (exactly 0 once the logit
  passes 36.7, where ``1 + exp(-z)`` rounds to 1) all but blocks its gradient;
* ``converged``: otherwise, when every point is classified right (the lab's
  rule) and the last logged loss is below 0.05 bits;
* ``stalled``: anything else (a network dead from the start, or not yet done).

:func:`multisection` locates the first converge-to-diverge boundary of an
interval: each step trains ``members`` rates spread evenly in ulps over the
current bracket as one ensemble and keeps the bracket around the lowest
diverging rate; it stops at adjacent numbers of the rate's grid.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np

from refnet import lab
from refnet.layers import SigmoidFormula
from refnet.kernels import KernelName
from refnet.precision import DTypeName
from refnet.reproducible import PIN_VARIABLE, THREAD_VARS, simd_targets

from .ulp import from_ordinal, ordinal, ordinal_grid

__all__ = ["PAIR", "BASE", "Outcome", "Variant", "VARIANTS", "RunRecord", "outcome", "record", "hash_params",
           "hash_log", "dead_at_start", "multisection", "locate", "Step", "Section", "CONVERGED_BITS", "DELTA", "grid_dtype",
           "run_records", "SCAN"]

PAIR: Final = (0.001490625, 0.001490626)
"""The lab's two rates (pages 17 and 18)."""

BASE: Final = lab.EXPERIMENTS["pair-625"]
"""The lab's configuration of the pair (its seed is 0)."""

DELTA: Final = 1e-7
"""The lab's BCE delta."""

CONVERGED_BITS: Final = 0.05
"""A converged run's last logged loss is below this (bits per point; the lab's 625 ends at 0.0003)."""

Outcome = Literal["converged", "diverged", "stalled"]


@dataclass(frozen=True)
class Variant:
    """One way of computing the same run: kernel, dtype, sigmoid formula, process environment."""

    name: str
    what: str
    kernel: KernelName = "blas"
    dtype: DTypeName = "float64"
    sigmoid: SigmoidFormula = "naive"
    env: tuple[tuple[str, str], ...] = ()
    """Variables set in the fresh process that runs it (empty: any process will do)."""

    def config(self, base: lab.Config = BASE, **changes: Any) -> lab.Config:
        return base.but(kernel=self.kernel, dtype=self.dtype, sigmoid=self.sigmoid, **changes)

    @property
    def grid(self) -> str:
        """The float grid its rates live on (rates are rounded to the run's dtype)."""
        return grid_dtype(self.dtype)


def grid_dtype(dtype: str) -> str:
    """``float32`` for float32 runs, else ``float64`` (a longdouble run takes float64 rates exactly)."""
    return "float32" if dtype == "float32" else "float64"


def _disabled(targets: Sequence[str]) -> tuple[tuple[str, str], ...]:
    return ((PIN_VARIABLE, ",".join(targets)),)


def _variants() -> dict[str, Variant]:
    targets = list(simd_targets())
    avx512 = [t for t in targets if t.startswith(("AVX512", "X86_V4"))]
    out = [Variant("blas", "this machine's BLAS products and NumPy's dispatched exp (the lab's setting)")]
    out.append(Variant("portable", "refnet's portable kernel: products and sums in a fixed order", kernel="portable"))
    for t in targets:
        out.append(Variant(f"no-{t}", f"NumPy's dispatch target {t} disabled", env=_disabled([t])))
    if avx512:
        out.append(Variant("no-avx512", "NumPy's AVX-512 dispatch targets disabled (" + ", ".join(avx512) + ")",
                           env=_disabled(avx512)))
    if targets:
        out.append(Variant("no-dispatch", "every NumPy dispatch target disabled (" + ", ".join(targets) + ")",
                           env=_disabled(targets)))
    out.append(Variant("threads-1", "BLAS on 1 thread", env=tuple((v, "1") for v in THREAD_VARS)))
    out.append(Variant("threads-2", "BLAS on 2 threads", env=tuple((v, "2") for v in THREAD_VARS)))
    out.append(Variant("stable-sigmoid", "the stable sigmoid instead of the lab's naive 1 / (1 + exp(-x))",
                       sigmoid="stable"))
    out.append(Variant("float32", "the whole run in float32, rates rounded to float32", dtype="float32"))
    out.append(Variant("longdouble", "the whole run in long double (x87 80-bit here)", dtype="longdouble"))
    out.append(Variant("pinned", "the portable kernel with every NumPy dispatch target disabled (E0's pin)",
                       kernel="portable", env=_disabled(targets)))
    if importlib.util.find_spec("numba") is not None:  # without importing it (the workers start faster)
        out.append(Variant("twin", "the compiled twin of the portable kernel (numba): the pinned bits, compiled",
                           kernel="compiled", env=_disabled(targets)))
    return {v.name: v for v in out}


VARIANTS: Final[dict[str, Variant]] = _variants()
"""Every variant by name; ``pinned`` is E0's bit-reproducible configuration; ``twin`` (with numba
only) computes the same bits as ``pinned`` in any process, compiled."""

SCAN: Final = "twin" if "twin" in VARIANTS else "pinned"
"""The variant the study's scans run on: the compiled twin, or without numba the NumPy ``pinned``
configuration, whose bits the twin's equal (so a boundary located by either is the same)."""


def hash_params(params: dict[str, Any]) -> str:
    """SHA-256 of the final parameters (sorted by name, float64 bytes)."""
    h = hashlib.sha256()
    for name in sorted(params):
        h.update(name.encode())
        h.update(np.ascontiguousarray(params[name], dtype=np.float64).tobytes())
    return h.hexdigest()


def hash_log(logged: np.ndarray) -> str:
    """SHA-256 of the logged ``(epoch, loss)`` array (float64 bytes)."""
    return hashlib.sha256(np.ascontiguousarray(logged, dtype=np.float64).tobytes()).hexdigest()


def outcome(predictions: np.ndarray, t: np.ndarray, accuracy: float, final_loss: float) -> Outcome:
    """The study's label (see the module docstring)."""
    y = np.asarray(predictions, dtype=np.float64)
    wrong_saturated = bool(np.any(((1.0 - y < DELTA) & (t == 0.0)) | ((y < DELTA) & (t == 1.0))))
    if wrong_saturated:
        return "diverged"
    if accuracy == 100.0 and final_loss < CONVERGED_BITS:
        return "converged"
    return "stalled"


def dead_at_start(config: lab.Config, seed: int) -> bool:
    """Whether the initial network of ``seed`` is dead: every second-layer ReLU is 0 on every point,
    so the output is constant and no gradient reaches a weight, ever."""
    rs = np.random.RandomState(seed)
    x, _ = lab.draw_data(config, rs)
    p = lab.draw_params(config, rs)
    h1 = x @ p["linear_1.W"][0] + p["linear_1.b"][0, 0]
    h1 = np.where(h1 <= 0, 0.0, h1)
    h2 = h1 @ p["linear_2.W"][0] + p["linear_2.b"][0, 0]
    return bool(np.all(h2 <= 0))


@dataclass(frozen=True)
class RunRecord:
    """What the study keeps of one run."""

    seed: int
    lr: float
    outcome: Outcome
    final_loss: float
    accuracy: float
    params_sha256: str
    log_sha256: str
    jump_epoch: int | None
    """First logged epoch whose loss exceeds 2 bits (where a diverging run blows up), if any."""
    curve: list[float] | None = None
    """The logged losses (bits), when asked for."""

    def json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def record(r: lab.Result, *, curve: bool = False) -> RunRecord:
    """A :class:`RunRecord` of a lab result."""
    loss = r.logged[:, 1]
    above = np.flatnonzero(loss > 2.0)
    jump = int(r.logged[above[0], 0]) if above.size else None
    return RunRecord(int(r.seed or 0), float(r.lr), outcome(r.predictions, r.t, r.accuracy, r.final_loss),
                     r.final_loss, r.accuracy, hash_params(r.params), hash_log(r.logged), jump,
                     [float(v) for v in loss] if curve else None)


def run_records(config: lab.Config, runs: Sequence[tuple[int, float]], *, curve: bool = False,
                trace: lab.Trace | None = None, trace_every: int = 1) -> list[RunRecord]:
    """Records of ``runs`` trained as one ensemble."""
    res = lab.run_many(config, [s for s, _ in runs], [r for _, r in runs], trace=trace, trace_every=trace_every)
    return [record(r, curve=curve) for r in res]


@dataclass(frozen=True)
class Step:
    """One multisection step: the rates tried and their outcomes."""

    rates: list[float]
    outcomes: list[str]

    @property
    def changes(self) -> int:
        """Label changes along the step's rates (1 when the outcome is monotone across it)."""
        d = [o == "diverged" for o in self.outcomes]
        return sum(a != b for a, b in zip(d[:-1], d[1:]))


@dataclass
class Section:
    """A multisection's result: the bracket ``[lo, hi]`` (lo not diverged, hi diverged) and its steps."""

    lo: float
    hi: float
    grid: str
    steps: list[Step] = field(default_factory=list)
    ends: list[str] = field(default_factory=list)
    """Outcomes of the starting ends (``lo``, ``hi``)."""
    stop: str = ""

    @property
    def ulps(self) -> int:
        return ordinal(self.hi, self.grid) - ordinal(self.lo, self.grid)

    def json(self) -> dict[str, Any]:
        return {"lo": self.lo, "hi": self.hi, "grid": self.grid, "ulps": self.ulps, "stop": self.stop,
                "ends": self.ends, "steps": [{"rates": s.rates, "outcomes": s.outcomes, "changes": s.changes}
                                             for s in self.steps]}


def multisection(variant: Variant, lo: float, hi: float, *, epochs: int, members: int, steps: int,
                 seed: int = 0, on_step: Callable[[int], None] | None = None,
                 known: tuple[str, str] | None = None) -> Section:
    """The first converge-to-diverge boundary in ``[lo, hi]`` under ``variant`` (see the module docstring).

    The ends are run first (unless ``known`` gives their outcomes); when ``hi`` does not diverge or
    ``lo`` does, there is no boundary to locate and the section stops there (``stop`` says why)."""
    cfg = variant.config(epochs=epochs)
    g = variant.grid
    a, b = ordinal(lo, g), ordinal(hi, g)
    lo_g, hi_g = from_ordinal(a, g), from_ordinal(b, g)
    end_labels: list[str] = list(known) if known is not None else [
        e.outcome for e in run_records(cfg, [(seed, lo_g), (seed, hi_g)])]
    sec = Section(lo_g, hi_g, g, ends=end_labels)
    if end_labels[1] != "diverged" or end_labels[0] == "diverged":
        sec.stop = (f"no boundary: {lo_g!r} is {end_labels[0]} and {hi_g!r} is {end_labels[1]}")
        return sec
    for k in range(steps):
        if b - a <= 1:
            break
        inner = [n for n in ordinal_grid(a, b, members + 2) if a < n < b]
        rates = [from_ordinal(n, g) for n in inner]
        got = run_records(cfg, [(seed, r) for r in rates])
        outs: list[str] = [r.outcome for r in got]
        sec.steps.append(Step(rates, outs))
        ords = [a, *inner, b]
        labels = [end_labels[0], *outs, "diverged"]
        first = next(i for i, o in enumerate(labels) if o == "diverged")
        a, b = ords[first - 1], ords[first]
        sec.lo, sec.hi = from_ordinal(a, g), from_ordinal(b, g)
        if on_step is not None:
            on_step(k + 1)
    sec.stop = ("adjacent numbers" if b - a <= 1 else f"after {len(sec.steps)} steps (the step budget)")
    return sec


def locate(variant: Variant, center: float, *, epochs: int, members: int, steps: int, max_power: int,
           seed: int = 0, on_step: Callable[[int], None] | None = None) -> Section:
    """The first converge-to-diverge boundary of ``variant`` near ``center`` (another variant's boundary).

    One ensemble probes the rates ``center +- 4**k`` ulps of the variant's grid (``k`` = 0 ..
    ``max_power``) and the lab's two rates; the lowest diverging probe and the probe below it
    bracket the boundary, which :func:`multisection` then narrows in ``steps`` steps. The probe
    is kept in the section's first step."""
    g = variant.grid
    c = ordinal(center, g)
    offsets = sorted({0, *(4 ** k for k in range(max_power + 1)), *(-(4 ** k) for k in range(max_power + 1))})
    ords = sorted({c + o for o in offsets} | {ordinal(PAIR[0], g), ordinal(PAIR[1], g)})
    rates = [from_ordinal(n, g) for n in ords]
    got = run_records(variant.config(epochs=epochs), [(seed, r) for r in rates])
    outs: list[str] = [r.outcome for r in got]
    probe = Step(rates, outs)
    if on_step is not None:
        on_step(0)
    if "diverged" not in outs or outs[0] == "diverged":
        sec = Section(rates[0], rates[-1], g, [probe], [outs[0], outs[-1]],
                      f"no boundary: the probe from {rates[0]!r} to {rates[-1]!r} is "
                      + ("all diverged" if "diverged" in outs else "never diverged"))
        return sec
    first = outs.index("diverged")
    sec = multisection(variant, rates[first - 1], rates[first], epochs=epochs, members=members, steps=steps,
                       seed=seed, on_step=on_step, known=(outs[first - 1], outs[first]))
    sec.steps.insert(0, probe)
    return sec
