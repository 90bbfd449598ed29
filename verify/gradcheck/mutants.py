"""Deliberately wrong backward passes: proof that the gradient checker catches them.

Each mutant subclasses a real layer and changes one thing in its backward
pass; the forward pass is untouched, so only a gradient check can see it.
A mutant is *caught* when at least one of its checks fails, either on the
layer alone or inside the lab's 2-4-4-1 network (where it replaces
``linear_2``, a 4x4 layer with bias, or ``sigmoid_1``).

``python -m verify.gradcheck.mutants`` prints one line per (mutant, dtype, level) and
exits 1 if any mutant escapes at either level.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from refnet import gradcheck as gc
from refnet.layers import Layer, Linear, Sigmoid
from refnet.network import Network, mlp
from refnet.precision import FloatArray
from refnet.precision import DTypeName

from .words import allowed, legend, text_table

__all__ = [
    "MUTANTS", "Mutant", "MutantResult", "scale_for", "mutant_draw", "mutant_network",
    "check_mutant", "check_mutants", "table", "short_table", "SHORT_HEADERS", "SHORT_LEGEND", "LEGEND", "main",
]


def scale_for(dtype: npt.DTypeLike) -> float:
    """The scaling mutant's factor: 1.01 in float64, 1.05 in float32."""
    return 1.05 if np.dtype(dtype) == np.float32 else 1.01


class ScaledLinear(Linear):
    """Every gradient multiplied by :func:`scale_for` its dtype."""

    def grad_input(self, dy: FloatArray) -> FloatArray:
        out: FloatArray = super().grad_input(dy) * dy.dtype.type(scale_for(dy.dtype))
        return out

    def grad_params(self, dy: FloatArray) -> dict[str, FloatArray]:
        s = dy.dtype.type(scale_for(dy.dtype))
        return {k: v * s for k, v in super().grad_params(dy).items()}


class SignFlipLinear(Linear):
    """The weight-gradient element of largest magnitude has its sign flipped."""

    def grad_params(self, dy: FloatArray) -> dict[str, FloatArray]:
        grads = super().grad_params(dy)
        w = grads["W"].copy()
        i = int(np.argmax(np.abs(w)))
        w.flat[i] = -w.flat[i]
        return {**grads, "W": w}


class TransposedLinear(Linear):
    """Weight gradient transposed (``dy^T x`` instead of ``x^T dy``)."""

    def grad_params(self, dy: FloatArray) -> dict[str, FloatArray]:
        grads = super().grad_params(dy)
        return {**grads, "W": np.swapaxes(grads["W"], -1, -2).copy()}


class DroppedBiasLinear(Linear):
    """The bias gradient is never returned."""

    def grad_params(self, dy: FloatArray) -> dict[str, FloatArray]:
        return {k: v for k, v in super().grad_params(dy).items() if k != "b"}


class UnsummedBiasLinear(Linear):
    """The bias gradient is ``dy`` itself, not summed over the batch rows."""

    def grad_params(self, dy: FloatArray) -> dict[str, FloatArray]:
        return {**super().grad_params(dy), "b": dy.copy()}


class SigmoidY(Sigmoid):
    """Sigmoid derivative taken as ``y`` instead of ``y (1 - y)``."""

    def grad_input(self, dy: FloatArray) -> FloatArray:
        y = self._y
        if y is None:
            raise RuntimeError(f"{self.name}: backward called before forward")
        out: FloatArray = dy * y
        return out


@dataclass(frozen=True)
class Mutant:
    """A wrong backward pass and how to build it from a real layer's parameters."""

    name: str
    description: str
    linear: type[Linear] | None   # replaces a Linear with bias
    sigmoid: type[Sigmoid] | None  # replaces a Sigmoid


MUTANTS: tuple[Mutant, ...] = (
    Mutant("scaled", "every gradient x1.01 (float64) or x1.05 (float32)", ScaledLinear, None),
    Mutant("sign-flip", "largest weight-gradient element negated", SignFlipLinear, None),
    Mutant("transposed", "weight gradient transposed", TransposedLinear, None),
    Mutant("dropped-bias", "bias gradient not returned", DroppedBiasLinear, None),
    Mutant("unsummed-bias", "bias gradient not summed over the batch", UnsummedBiasLinear, None),
    Mutant("sigmoid-y", "sigmoid derivative y instead of y(1-y)", None, SigmoidY),
)


@dataclass(frozen=True)
class MutantResult:
    """Whether one mutant was caught in one dtype at one level (layer or network)."""

    mutant: str
    dtype: DTypeName
    level: str
    caught: bool
    by: str        # the failing tensor and why (largest ratio or the fault)
    ratio: float
    fault: bool = False  # caught by a structural fault (missing gradient, wrong shape or dtype)

    def as_dict(self) -> dict[str, object]:
        ratio: object = self.ratio if np.isfinite(self.ratio) else str(self.ratio)
        return {"mutant": self.mutant, "dtype": self.dtype, "level": self.level,
                "caught": self.caught, "by": self.by, "ratio": ratio, "fault": self.fault}


def mutant_draw(m: Mutant, dtype: DTypeName, n: int, size: int, reference: DTypeName | None = None,
                ) -> Callable[[np.random.Generator], list[gc.Problem]]:
    """Draw the mutant layer (square ``size``), its input ``(1, n, size)`` and ``dy``."""
    def draw(rng: np.random.Generator) -> list[gc.Problem]:
        x = rng.standard_normal((1, n, size)).astype(dtype)
        dy = rng.standard_normal((1, n, size)).astype(dtype)
        layer: Layer
        if m.linear is not None:
            w = rng.standard_normal((1, size, size)).astype(dtype)
            b = rng.standard_normal((1, 1, size)).astype(dtype)
            layer = m.linear(w, b, name=m.name)
        elif m.sigmoid is not None:
            layer = m.sigmoid(m.name)
        else:
            raise ValueError(f"mutant {m.name}: replaces nothing")
        return gc.layer_problems(layer, x, dy, component=m.name, reference=reference)
    return draw


def mutant_network(m: Mutant, dtype: DTypeName, seed: int) -> Network:
    """The lab's network with ``linear_2`` or ``sigmoid_1`` replaced by the mutant."""
    net = mlp(2, (4, 4), 1, dtype=dtype, seed=seed)
    layers: list[Layer] = []
    for layer in net.layers:
        if m.linear is not None and layer.name == "linear_2" and isinstance(layer, Linear):
            layers.append(m.linear(layer.params["W"], layer.params.get("b"), name=layer.name))
        elif m.sigmoid is not None and layer.name == "sigmoid_1":
            layers.append(m.sigmoid(layer.name))
        else:
            layers.append(layer)
    return Network(layers, net.loss, net.precision)


def _verdict(m: Mutant, dtype: DTypeName, level: str, results: Sequence[gc.Result]) -> MutantResult:
    def score(r: gc.Result) -> float:
        return max(r.ratio, r.reference or 0.0)

    failed = [r for r in results if r.status == "FAIL"]
    if not failed:
        worst = max(results, key=score)
        return MutantResult(m.name, dtype, level, False, f"{worst.wrt}: ratio {score(worst):.3g}", score(worst))
    r = max(failed, key=score)
    if r.faults:
        # a fault usually names its tensor already ("b: gradient missing", "linear_2.b: ..."):
        # then it is shown as it is, never as "b: b: gradient missing"
        fault = r.faults[0]
        head = fault.split(": ", 1)[0]
        named = ": " in fault and " " not in head
        return MutantResult(m.name, dtype, level, True, fault if named else f"{r.wrt}: {fault}", score(r),
                            fault=True)
    if r.ratio >= (r.reference or 0.0):
        why = f"ratio {r.ratio:.3g} at {r.worst}"
    else:
        why = f"vs-f64 ratio {r.reference:.3g} (own-precision ratio {r.ratio:.3g})"
    return MutantResult(m.name, dtype, level, True, f"{r.wrt}: {why}", score(r))


def check_mutant(m: Mutant, dtype: DTypeName, seed: int, *, n: int = 4, size: int = 3) -> list[MutantResult]:
    """Check one mutant alone (batch ``n``, square ``size``) and inside the lab network.

    The layer level uses the layer's own precision only. The network level also compares
    float32 gradients with float64 finite differences of the same network (``vs-f64``):
    float32 differences alone resolve only about 10% there.
    """
    alone = gc.check_drawn(mutant_draw(m, dtype, n, size), seed=seed, taylor=False)
    x, t = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), np.array([[0], [1], [1], [0]])
    net = mutant_network(m, dtype, seed)
    ref: DTypeName | None = "float64" if dtype == "float32" else None
    inside = [gc.check(gc.network_problem(net, x, t, component=f"network+{m.name}", reference=ref),
                       seed=seed, taylor=False)]
    return [_verdict(m, dtype, "layer", alone), _verdict(m, dtype, "network", inside)]


def check_mutants(dtypes: Sequence[DTypeName], seed: int,
                  progress: Callable[[str], None] | None = None) -> list[MutantResult]:
    """Every mutant in every dtype, at both levels; ``progress(what)`` before each (mutant, dtype)."""
    out: list[MutantResult] = []
    for m in MUTANTS:
        for dt in dtypes:
            if progress is not None:
                progress(f"mutant {m.name} {dt}")
            out += check_mutant(m, dt, seed)
    return out


LEGEND: tuple[tuple[str, str], ...] = (
    ("mutant", "the name of the deliberately wrong backward pass"),
    ("dtype", "the precision it was checked in"),
    ("level", "layer: the mutant layer checked alone; network: inside the lab's 2-4-4-1 network "
              "(replacing linear_2 or sigmoid_1)"),
    ("caught", "yes when at least one check failed, as it must; NO means the mistake escaped"),
    ("by", "what failed: the tensor, then the largest error over its bound (ratio) and the element, "
           "or the structural fault; 'vs-f64' is the float32 gradient against float64 finite "
           "differences, 'own-precision' against float32 ones"),
)
"""What each column of the detailed mutant table means."""

SHORT_HEADERS = ("mutant", "what is wrong in its backward pass", "caught", "largest error")

SHORT_LEGEND: tuple[tuple[str, str], ...] = (
    ("mutant", "a copy of a real layer with one deliberate mistake in its backward pass (the forward "
               "pass is right, so only a gradient check can see it)"),
    ("what is wrong in its backward pass", "the mistake"),
    ("caught", "in how many of its checks the mistake was found (each dtype, checked alone and inside "
               "the lab's network); every check must catch it"),
    ("largest error", "how far the wrong gradient was from the finite-difference one, as a multiple of "
                      "the allowed error (a right gradient stays under 100% of it), or the structural "
                      "fault that gave it away"),
)
"""What each column of the short mutant table means."""


def table(results: Sequence[MutantResult]) -> str:
    """Fixed-width text table, one line per result."""
    head = f"{'mutant':<14} {'dtype':<8} {'level':<8} {'caught':<6} by"
    lines = [head, "-" * len(head)]
    lines += [f"{r.mutant:<14} {r.dtype:<8} {r.level:<8} {'yes' if r.caught else 'NO':<6} {r.by}"
              for r in results]
    return "\n".join(lines)


def _largest(results: Sequence[MutantResult]) -> str:
    faults = [r.by for r in results if r.fault]
    if faults:
        return f"fault: {faults[0]}"
    finite = [r.ratio for r in results if math.isfinite(r.ratio)]
    return allowed(max(finite)) if finite else "-"


def short_cells(results: Sequence[MutantResult]) -> list[list[str]]:
    """One row per mutant (in :data:`MUTANTS` order) summing up its checks."""
    rows = []
    for m in MUTANTS:
        mine = [r for r in results if r.mutant == m.name]
        if not mine:
            continue
        caught = sum(r.caught for r in mine)
        rows.append([m.name, m.description, f"{caught} of {len(mine)}" + ("" if caught == len(mine) else " (ESCAPED)"),
                     _largest(mine)])
    return rows


def short_table(results: Sequence[MutantResult]) -> str:
    """The short mutant table: one line per mutant (columns explained by :data:`SHORT_LEGEND`)."""
    return text_table(SHORT_HEADERS, short_cells(results))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verify.gradcheck.mutants", description=__doc__.split("\n")[0])
    parser.add_argument("--dtype", choices=("float32", "float64", "all"), default="all",
                        help="precision to check the mutants in (default: both)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the drawn inputs and weights")
    parser.add_argument("--quiet", action="store_true", help="print nothing; the exit code tells")
    args = parser.parse_args(argv)
    dtypes: tuple[DTypeName, ...] = ("float32", "float64") if args.dtype == "all" else (args.dtype,)
    results = check_mutants(dtypes, args.seed)
    if not args.quiet:
        print(table(results))
        print("\nColumns:")
        print(legend(LEGEND))
    return 0 if all(r.caught for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
