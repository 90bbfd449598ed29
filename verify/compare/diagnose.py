"""Name a wrong gradient: which classic mistake explains the student's numbers.

Each function gets the student's gradient and what it should be (computed from
the student's own cached values, so only the formula differs) and returns a
sentence for the first hypothesis that reproduces the student's numbers to
``1e-9`` relative, or a description of the mismatch (a constant factor, the
opposite sign, where it differs) when none does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from .adapter import Kind

__all__ = ["matches", "describe_mismatch", "activation", "weight", "bias", "loss_gradient", "in_place"]

Arr = npt.NDArray[np.float64]
_RTOL = 1e-9


def matches(got: Arr, candidate: Arr) -> bool:
    """``got`` reproduces ``candidate`` up to ``1e-9`` of the largest element."""
    if got.shape != candidate.shape:
        return False
    scale = float(np.max(np.abs(candidate), initial=0.0))
    return bool(np.all(np.abs(got - candidate) <= _RTOL * scale + 1e-300))


def describe_mismatch(got: Arr, want: Arr) -> str:
    """A constant factor, the opposite sign, or where and how much the values differ."""
    if got.shape != want.shape:
        return f"has shape {got.shape}, expected {want.shape}"
    with np.errstate(all="ignore"):
        ratio = got / want
    live = np.abs(want) > 1e-12 * float(np.max(np.abs(want), initial=0.0))
    if np.any(live):
        r = ratio[live]
        c = float(np.median(r))
        if abs(c - 1.0) > 1e-9 and np.all(np.abs(r - c) <= 1e-9 * abs(c)) and np.all(np.abs(got[~live]) <= 1e-12):
            if abs(c + 1.0) <= 1e-6:
                return "has the opposite sign at every element"
            return f"is {c:.6g} times the right value at every element"
    diff = np.abs(got - want)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    where = ",".join(str(int(i)) for i in worst)
    wrong = int(np.sum(diff > 1e-9 * float(np.max(np.abs(want), initial=1.0))))
    return (f"differs at {wrong} of {want.size} elements, most at [{where}] "
            f"({float(got[worst]):.10g} instead of {float(want[worst]):.10g})")


Candidate = tuple[str, Callable[[Arr, Arr, Arr], Arr]]

_ACTIVATION_CANDIDATES: dict[Kind, tuple[Candidate, ...]] = {
    "sigmoid": (
        ("differs from d(forward)/dx by a factor y / (y (1 - y)) at every element: "
         "the derivative is taken as y instead of y (1 - y)", lambda x, y, g: g * y),
        ("differs from d(forward)/dx by a factor (1 - y) / (y (1 - y)) at every element: "
         "the derivative is taken as 1 - y instead of y (1 - y)", lambda x, y, g: g * (1.0 - y)),
        ("applies the sigmoid derivative to the output a second time: "
         "sigma(y) (1 - sigma(y)) instead of y (1 - y)",
         lambda x, y, g: g * (1.0 / (1.0 + np.exp(-y))) * (1.0 - 1.0 / (1.0 + np.exp(-y)))),
        ("passes prev_grad through unchanged: the factor y (1 - y) is missing", lambda x, y, g: g),
    ),
    "relu": (
        ("has its mask on the wrong side: it passes the gradient where x <= 0 "
         "and blocks it where x > 0", lambda x, y, g: g * (x <= 0)),
        ("passes prev_grad through unchanged: the mask x > 0 is missing", lambda x, y, g: g),
    ),
    "tanh": (
        ("takes the derivative as 1 - y instead of 1 - y^2", lambda x, y, g: g * (1.0 - y)),
        ("passes prev_grad through unchanged: the factor 1 - y^2 is missing", lambda x, y, g: g),
    ),
    "identity": (),
}


def activation(kind: Kind, x: Arr, y: Arr, g: Arr, got: Arr, want: Arr) -> str:
    """Why an activation's returned gradient ``got`` is not ``want``."""
    for text, fn in _ACTIVATION_CANDIDATES[kind]:
        with np.errstate(all="ignore"):
            cand = fn(x, y, g)
        if matches(got, cand):
            return "returns a gradient that " + text if text.startswith("differs") else text
    return "returns a gradient that " + describe_mismatch(got, want)


def weight(x: Arr, g: Arr, got: Arr, want: Arr) -> str:
    """Why a Linear layer's weight gradient ``got`` (from the change of ``w``) is not ``want``."""
    gt = g.T @ x
    if gt.shape == got.shape and matches(got, gt) and not matches(got, want):
        return "computes the weight gradient transposed: prev_grad^T x instead of x^T prev_grad"
    if gt.size == got.size and matches(got, gt.reshape(got.shape)) and not matches(got, want):
        return ("computes the weight gradient as prev_grad^T x reshaped to w's shape; "
                "the gradient is x^T prev_grad (a transpose, not a reshape)")
    return "changes w by -lr times a gradient that " + describe_mismatch(got, want)


def bias(g: Arr, got: Arr, want_shape: tuple[int, ...], want: Arr) -> str:
    """Why a Linear layer's bias gradient ``got`` is not ``want`` (``g`` = prev_grad)."""
    n = g.shape[0]
    if got.shape == g.shape and matches(got, g):
        return (f"does not sum the bias gradient over the batch: b grows from {want_shape} to "
                f"{got.shape} on an {n}-row probe batch, one row per sample; sum prev_grad over axis 0")
    feats = np.broadcast_to(np.sum(g, axis=1, keepdims=True), g.shape)
    if got.shape == g.shape and matches(got, np.asarray(feats)):
        return "sums the bias gradient over features, not over the batch (axis 1 instead of axis 0)"
    if got.size == want.size and matches(got.reshape(want.shape), want / n):
        return f"averages the bias gradient over the batch (divides by N = {n}) where the sum is needed"
    return "changes b by -lr times a gradient that " + describe_mismatch(got.reshape(-1), want.reshape(-1)) \
        if got.size == want.size else f"changes b to shape {got.shape}, expected {want_shape}"


def loss_gradient(kind: str, y: Arr, t: Arr, got: Arr, mean: Arr, count: int) -> str:
    """Why ``loss_func.backward`` is neither ``mean`` (d mean / dy) nor ``count * mean``."""
    d = 1e-7
    with np.errstate(all="ignore"):
        if kind == "mse":
            cands = [((y - t), "computes y - t where d/dy (y - t)^2 = 2 (y - t): the factor 2 is missing"),
                     ((t - y) * 2.0, "has the opposite sign: 2 (t - y) instead of 2 (y - t)")]
        else:
            cands = [(-(t / y - (1.0 - t) / (1.0 - y)),
                      f"leaves out the delta {d:g} that forward puts inside log(y + delta): "
                      "t / y instead of t / (y + delta)")]
    for raw, text in cands:
        for scale, which in ((1.0, "summed"), (1.0 / count, "mean")):
            if matches(got, raw * scale):
                return f"loss_func.backward {text} ({which} reading)"
    return "loss_func.backward returns a gradient that " + describe_mismatch(got, mean)


def in_place(site: str, before: Arr, after: Arr, returned_same: bool, relu: bool) -> str:
    """The hazard of a ``backward`` that writes into its ``prev_grad`` argument (``site``: ``name.backward``).

    Not a failure: in the lab's structure each layer receives a fresh array that
    nothing reads again (the lab's own ReLU does exactly this), and checks 2 and
    3 run the student's own ``backward`` chain, so if it harmed the numbers they
    would show it. It is still named: a caller that keeps its gradient sees it change.
    """
    same_shape = before.shape == after.shape
    changed = int(np.sum(~((before == after) | (np.isnan(before) & np.isnan(after))))) if same_shape else before.size
    zeroed = same_shape and changed > 0 and bool(np.all(after[before != after] == 0.0))
    what = f"{changed} of {before.size} elements" + (" set to 0" if zeroed else "")
    fix = " (for a ReLU: np.where(self.mask, 0.0, prev_grad))" if relu else ""
    return (f"{site} writes into its prev_grad argument in place ({what})"
            + (" and returns that same array" if returned_same else "")
            + ": harmless where each gradient is a fresh array nothing reads again, as in the lab's network, "
            + f"but a caller that keeps the array it passed sees it change; compute into a new array{fix}")
