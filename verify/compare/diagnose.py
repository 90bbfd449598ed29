"""Explain a wrong gradient: which known slip reproduces the student's numbers, in words.

Each ``*_slip`` function gets the student's numbers and the values they were
computed from (the student's own input, output and incoming gradient, so only
the formula can differ) and returns a sentence naming the formula found and
the formula expected (``sigmoid_1.backward computes the derivative y (1 + y);
expected y (1 - y)``) for the first known slip that reproduces the numbers to
``1e-9`` relative, or ``None``. The slips are the ones of
``tests/compare_fixtures/`` and their neighbours: a sigmoid derivative ``y``,
``1 - y``, ``y (1 + y)``, ``-y (1 - y)``, ``x (1 - x)`` (the input for the
output), applied twice or missing; a ReLU mask on the wrong side or missing; a
weight gradient transposed, reshaped or averaged; a bias gradient not summed,
summed over features or averaged; an input gradient through ``w`` instead of
``w^T``; a loss gradient without the factor 2, without the BCE's ``delta``, in
bits, or of the wrong sign. When none reproduces the numbers,
:func:`mismatch` says ``expected X, got Y (off by Z %)`` at one element.

:func:`relative_words` puts a relative error in words a student reads
(``off by 5,100 %``, ``wrong sign``, ``expected exactly 0``); check 2 shows
it beside the ulps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import SupportsInt

import numpy as np
import numpy.typing as npt

from .adapter import BCE_DELTA, Kind

__all__ = ["matches", "relative_words", "mismatch", "ACTIVATION_DERIVATIVE", "loss_formula",
           "activation_slip", "activation", "weight_slip", "weight", "bias_slip", "bias",
           "input_slip", "input_gradient", "loss_slip", "loss_slip_reading", "loss_gradient", "in_place", "Reading"]

Arr = npt.NDArray[np.float64]
_RTOL = 1e-9
Reading = str
"""A loss-gradient reading: ``mean``, ``summed`` or ``page14`` (see :mod:`verify.compare.setting`)."""


def matches(got: Arr, candidate: Arr) -> bool:
    """``got`` reproduces ``candidate`` up to ``1e-9`` of the largest element."""
    if got.shape != candidate.shape:
        return False
    scale = float(np.max(np.abs(candidate), initial=0.0))
    with np.errstate(all="ignore"):
        return bool(np.all(np.abs(got - candidate) <= _RTOL * scale + 1e-300))


def _percent(p: float) -> str:
    if p >= 99.5:
        return f"{p:,.0f} %"
    if p >= 0.01:
        return f"{p:.2g} %"
    return f"{p:.1e} %"


def relative_words(got: float, want: float) -> str:
    """How far ``got`` is from ``want``, in words: ``off by 343 % (too large)``, ``wrong sign``, ...

    ``want == 0`` (no relative error exists) is ``expected exactly 0``; a NaN or an
    infinity is named as such.
    """
    if not np.isfinite(got):
        return "not a finite number"
    if want == 0.0:
        return "expected exactly 0" if got != 0.0 else "equal"
    if got == 0.0:
        return "0 instead of a nonzero value"
    if (got > 0) != (want > 0):
        r = abs(got / want)
        size = "same size" if abs(r - 1.0) < 1e-9 else f"size off by {_percent(abs(r - 1.0) * 100.0)}"
        return f"wrong sign, {size}"
    rel = got / want - 1.0
    if rel == 0.0:
        return "equal"
    return f"off by {_percent(abs(rel) * 100.0)}, too {'large' if rel > 0 else 'small'}"


def _idx(k: tuple[SupportsInt, ...]) -> str:
    return ",".join(str(int(i)) for i in k)


def mismatch(got: Arr, want: Arr) -> str:
    """``expected X, got Y (off by Z %) at [i,j]``, and how many elements differ (or the constant factor)."""
    if got.shape != want.shape:
        return f"has shape {got.shape}, expected {want.shape}"
    scale = float(np.max(np.abs(want), initial=0.0))
    with np.errstate(all="ignore"):
        diff = np.abs(got - want)
        live = np.abs(want) > 1e-12 * scale
        ratio = got / want
    if np.any(live):
        r = ratio[live]
        c = float(np.median(r))
        if abs(c - 1.0) > 1e-9 and np.all(np.abs(r - c) <= 1e-9 * abs(c)) and np.all(np.abs(got[~live]) <= 1e-12):
            k = np.unravel_index(int(np.argmax(np.where(live, np.abs(want), -1.0))), want.shape)
            what = "has the wrong sign" if abs(c + 1.0) <= 1e-6 else f"is {c:.6g} times the expected value"
            return (f"{what} at every element: expected {float(want[k]):.10g}, got {float(got[k]):.10g} at "
                    f"[{_idx(k)}] ({relative_words(float(got[k]), float(want[k]))})")
    k = np.unravel_index(int(np.argmax(np.where(np.isnan(diff), np.inf, diff))), diff.shape)
    wrong = int(np.sum(~(diff <= 1e-9 * max(scale, 1e-300))))
    return (f"expected {float(want[k]):.10g}, got {float(got[k]):.10g} at [{_idx(k)}] "
            f"({relative_words(float(got[k]), float(want[k]))}); {wrong} of {want.size} elements differ")


def _slip(site: str, what: str, found: str, expected: str, why: str = "") -> str:
    return f"{site} computes {what}{found}; expected {expected}" + (f" ({why})" if why else "")


# ----------------------------------------------------------------- activations

ACTIVATION_DERIVATIVE: dict[Kind, str] = {
    "sigmoid": "the derivative y (1 - y)", "relu": "the mask x > 0", "tanh": "the derivative 1 - y^2",
    "identity": "the derivative 1"}
"""What each activation's backward multiplies ``prev_grad`` by (``y`` its output, ``x`` its input)."""

Candidate = tuple[str, str, Callable[[Arr, Arr, Arr], Arr]]
"""(what is found, why it is wrong, prev_grad times it from (x, y, prev_grad))."""


def _sig(v: Arr) -> Arr:
    return np.asarray(1.0 / (1.0 + np.exp(-v)), dtype=np.float64)


_ACTIVATION_SLIPS: dict[Kind, tuple[Candidate, ...]] = {
    "sigmoid": (
        ("the derivative y", "the factor 1 - y is missing", lambda x, y, g: g * y),
        ("the derivative 1 - y", "the factor y is missing", lambda x, y, g: g * (1.0 - y)),
        ("the derivative y (1 + y)", "a + where the derivative has a -", lambda x, y, g: g * y * (1.0 + y)),
        ("the derivative -y (1 - y)", "wrong sign", lambda x, y, g: -g * y * (1.0 - y)),
        ("the derivative x (1 - x)", "from the input x; the formula holds for the output y = sigmoid(x)",
         lambda x, y, g: g * x * (1.0 - x)),
        ("the derivative sigmoid(y) (1 - sigmoid(y))", "the sigmoid is applied to its output a second time",
         lambda x, y, g: g * _sig(y) * (1.0 - _sig(y))),
        ("no derivative (prev_grad passes through unchanged)", "the factor y (1 - y) is missing", lambda x, y, g: g),
    ),
    "relu": (
        ("the mask x <= 0", "the mask is on the wrong side: it passes the gradient where x <= 0 "
         "and blocks it where x > 0", lambda x, y, g: g * (x <= 0)),
        ("no mask (prev_grad passes through unchanged)", "the mask x > 0 is missing", lambda x, y, g: g),
    ),
    "tanh": (
        ("the derivative 1 - y", "y is not squared", lambda x, y, g: g * (1.0 - y)),
        ("the derivative 1 + y^2", "a + where the derivative has a -", lambda x, y, g: g * (1.0 + y * y)),
        ("the derivative 1 - x^2", "from the input x; the formula holds for the output y = tanh(x)",
         lambda x, y, g: g * (1.0 - x * x)),
        ("no derivative (prev_grad passes through unchanged)", "the factor 1 - y^2 is missing", lambda x, y, g: g),
    ),
    "identity": (),
}


def activation_slip(site: str, kind: Kind, x: Arr, y: Arr, g: Arr, got: Arr) -> str | None:
    """The known slip of an activation's backward that reproduces ``got`` from ``(x, y, prev_grad g)``."""
    for found, why, fn in _ACTIVATION_SLIPS[kind]:
        with np.errstate(all="ignore"):
            cand = fn(x, y, g)
        if matches(got, cand):
            return _slip(site, "", found, ACTIVATION_DERIVATIVE[kind], why)
    return None


def activation(site: str, kind: Kind, x: Arr, y: Arr, g: Arr, got: Arr, want: Arr) -> str:
    """Why an activation's returned gradient ``got`` is not ``want`` (``site``: ``name.backward``)."""
    named = activation_slip(site, kind, x, y, g, got)
    if named is not None:
        return named
    return (f"{site} returns a gradient that is not prev_grad times {ACTIVATION_DERIVATIVE[kind]}; "
            + mismatch(got, want))


# ----------------------------------------------------------------- Linear layers

def weight_slip(name: str, x: Arr, g: Arr, got: Arr) -> str | None:
    """The known slip that reproduces the weight gradient ``got`` (from the change of ``w``) of layer ``name``."""
    want = x.T @ g
    if matches(got, want):
        return None
    gt = g.T @ x
    if gt.shape == got.shape and matches(got, gt):
        return _slip(name, "the weight gradient as ", "prev_grad^T x", "x^T prev_grad", "transposed")
    if gt.size == got.size and matches(got, gt.reshape(got.shape)):
        return _slip(name, "the weight gradient as ", "prev_grad^T x reshaped to w's shape", "x^T prev_grad",
                     "a transpose, not a reshape")
    n = x.shape[0]
    if got.shape == want.shape and matches(got, want / n):
        return _slip(name, "the weight gradient as ", f"x^T prev_grad / N (N = {n})", "x^T prev_grad",
                     "the batch average where the sum is needed")
    if got.shape == want.shape and matches(got, -want):
        return _slip(name, "the update ", "w + lr x^T prev_grad", "w - lr x^T prev_grad", "wrong sign: a step uphill")
    return None


def weight(name: str, x: Arr, g: Arr, got: Arr, want: Arr) -> str:
    """Why a Linear layer's weight gradient ``got`` (from the change of ``w``) is not ``want``."""
    named = weight_slip(name, x, g, got)
    if named is not None:
        return named
    return f"{name} changes w by -lr times a gradient that is not x^T prev_grad; " + mismatch(got, want)


def bias_slip(name: str, g: Arr, got: Arr, want_shape: tuple[int, ...]) -> str | None:
    """The known slip that reproduces the bias gradient ``got`` (``g`` = prev_grad) of layer ``name``."""
    n = g.shape[0]
    want = np.sum(g, axis=0)
    if got.size == want.size and matches(got.reshape(want.shape), want):
        return None
    if got.shape == g.shape and matches(got, g):
        return _slip(name, "the bias gradient as ", "prev_grad, one row per sample", "the sum of prev_grad over "
                     "the batch (axis 0)", f"it is not summed over the batch: b grows from {want_shape} to "
                     f"{got.shape}, one row per sample of the {n} in the batch")
    feats = np.broadcast_to(np.sum(g, axis=1, keepdims=True), g.shape)
    if got.shape == g.shape and matches(got, np.asarray(feats)):
        return _slip(name, "the bias gradient as ", "the sum of prev_grad over features (axis 1)",
                     "the sum over the batch (axis 0)", "summed over features, not over the batch")
    if got.size == want.size and matches(got.reshape(want.shape), want / n):
        return _slip(name, "the bias gradient as ", f"the mean of prev_grad over the batch (/ N, N = {n})",
                     "the sum over the batch (axis 0)", "the batch average where the sum is needed")
    if got.size == want.size and matches(got.reshape(want.shape), -want):
        return _slip(name, "the update ", "b + lr sum(prev_grad)", "b - lr sum(prev_grad)",
                     "wrong sign: a step uphill")
    return None


def bias(name: str, g: Arr, got: Arr, want_shape: tuple[int, ...], want: Arr) -> str:
    """Why a Linear layer's bias gradient ``got`` is not ``want`` (``g`` = prev_grad)."""
    named = bias_slip(name, g, got, want_shape)
    if named is not None:
        return named
    if got.size != want.size:
        return f"{name} changes b to shape {got.shape}, expected {want_shape}"
    return (f"{name} changes b by -lr times a gradient that is not the sum of prev_grad over the batch; "
            + mismatch(got.reshape(-1), want.reshape(-1)))


def input_slip(site: str, g: Arr, w: Arr, got: Arr) -> str | None:
    """The known slip that reproduces a Linear layer's returned gradient ``got`` (``w`` the weights it used)."""
    if w.shape[0] == w.shape[1] and not matches(got, g @ w.T) and matches(got, g @ w):
        return _slip(site, "the input gradient as ", "prev_grad @ w", "prev_grad @ w^T", "w is not transposed")
    return None


def input_gradient(site: str, g: Arr, w: Arr, got: Arr) -> str:
    """Why a Linear layer's returned gradient ``got`` is not ``prev_grad @ w^T``."""
    named = input_slip(site, g, w, got)
    if named is not None:
        return named
    return f"{site} returns an input gradient that is not prev_grad @ w^T; " + mismatch(got, g @ w.T)


# ----------------------------------------------------------------- the loss

_D = f"d = {BCE_DELTA:g}"


def loss_formula(kind: str, reading: Reading) -> str:
    """``dL/dy`` as the reading spells it (``N`` the number of terms, ``d`` the BCE's delta)."""
    if reading == "page14":
        return "(y - t) / (y (1 - y) N), the lab's page-14 form"
    if kind == "mse":
        return "2 (y - t) / N" if reading == "mean" else "2 (y - t)"
    core = "-(t / (y + d) - (1 - t) / (1 - y + d))"
    return (f"{core} / N" if reading == "mean" else core) + f" with {_D}"


def _loss_candidates(kind: str, y: Arr, t: Arr) -> list[tuple[str, str, Arr]]:
    """(formula of the sum's gradient found, why, its values)."""
    with np.errstate(all="ignore"):
        if kind == "mse":
            return [("y - t", "d/dy (y - t)^2 = 2 (y - t): the factor 2 is missing", y - t),
                    ("2 (t - y)", "wrong sign: a step uphill", (t - y) * 2.0)]
        d = BCE_DELTA
        nats = -(t / (y + d) - (1.0 - t) / (1.0 - y + d))
        return [("-(t / y - (1 - t) / (1 - y))",
                 f"the delta {d:g} that forward puts inside log(y + delta) is left out", -(t / y - (1.0 - t) / (1.0 - y))),
                ("t / (y + d) - (1 - t) / (1 - y + d)", "wrong sign: a step uphill", -nats),
                ("-(t / (y + d) - (1 - t) / (1 - y + d)) / ln 2",
                 "the derivative of the loss in bits (log2), 1.4427 times the one in nats; the gradient is "
                 "taken in nats, as the lab's is", nats / np.log(2.0))]


def loss_slip_reading(kind: str, y: Arr, t: Arr, got: Arr, count: int) -> Reading | None:
    """The scale (``mean`` or ``summed``) of the known slip that reproduces ``got``, or None."""
    for _, _, raw in _loss_candidates(kind, y, t):
        for scale, reading in ((1.0, "summed"), (1.0 / count, "mean")):
            if matches(got, raw * scale):
                return reading
    return None


def loss_slip(kind: str, y: Arr, t: Arr, got: Arr, count: int) -> str | None:
    """The known slip that reproduces ``loss_func.backward``'s ``got``, at the mean's or the sum's scale."""
    for found, why, raw in _loss_candidates(kind, y, t):
        for scale, reading in ((1.0, "summed"), (1.0 / count, "mean")):
            if matches(got, raw * scale):
                text = f"{found} / N" if reading == "mean" else found
                if kind == "bce" and "left out" in why and reading == "mean":
                    why += ("; this is the lab's page-14 form, accepted as convention 'lab-page14' only with a "
                            "forward in bits and the lab's other conventions")
                return _slip("loss_func.backward", "", text, loss_formula(kind, reading), why)
    return None


def loss_gradient(kind: str, y: Arr, t: Arr, got: Arr, mean: Arr, count: int) -> str:
    """Why ``loss_func.backward`` is neither ``mean`` (d mean / dy) nor ``count * mean``."""
    named = loss_slip(kind, y, t, got, count)
    if named is not None:
        return named
    return (f"loss_func.backward computes neither the mean's gradient {loss_formula(kind, 'mean')} nor the "
            f"sum's {loss_formula(kind, 'summed')}; against the mean's, " + mismatch(got, mean))


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
