"""Finite-difference gradient checks whose step and tolerance come from error analysis.

A check compares a component's analytic gradient with central differences of
a scalar objective: ``f(x) = sum(v * layer(x))`` for a layer (``v`` a seeded
upstream gradient), ``sum_k loss.value(y, t)_k`` for a loss, and the summed
mean loss for a whole network as a function of all its parameters.

Notes
-----
Step. For an element ``x`` the step is ``h = cbrt(eps) * max(|x|, 1)`` (about
5e-3 in float32, 6e-6 in float64), rounded to ``(x + h) - x`` so that ``x + h``
is exact; the difference quotient divides by the realised spacing
``(x + h) - (x - h)`` taken in long double. ``cbrt(eps)`` balances the
``h^2`` truncation of a central difference against its ``eps / h`` rounding.

Estimate. With ``D(h) = (f(x+h) - f(x-h)) / 2h``, Richardson extrapolation
``(4 D(h/2) - D(h)) / 3`` removes the ``h^2`` term; it is the numeric value.
Its expected error is the sum of

* truncation: ``|D(h) - D(h/2)| / 3`` (the ``h^2`` error of ``D(h/2)``, an
  over-estimate of what extrapolation leaves);
* rounding: ``3 * noise / h``, where ``noise`` bounds the error of one
  evaluation of ``f``: a first-order bound, per produced element ``o``,
  ``|df/do| * c * eps * |o|_abs`` (``c`` and ``|o|_abs`` from the operation:
  ``(in + 1) |x| @ |W| + |b|`` for a matmul, ``4 |y|`` for sigmoid and tanh,
  0 for ReLU and identity, plus an underflow term), taken at every evaluated
  point and counted only for elements that depend on the perturbed ones (found
  by setting those to NaN), plus the reduction's own rounding;
* analytic: a bound of the same kind on the rounding of the analytic gradient;
* off-centre: when ``x + h/2`` and ``x - h/2`` are not both exact (crossing a
  binade), ``|f''| |a - b| / 2`` with ``f''`` from the second difference.

All bounds are multiplied by :data:`SAFETY`. A row passes when the observed
error over the expected error is at most 1 for every element.

Kinks. Each evaluation also returns which ReLU inputs are positive; if the
pattern at any perturbed point differs from the base point, the difference
quotient straddles a kink and the check is classified ``KINK`` (neither pass
nor fail). :func:`check_drawn` then redraws the inputs from ``[seed, attempt]``
up to a fixed budget.

Modes. ``exhaustive`` checks every element; ``projected`` checks ``v^T J u``
for seeded random directions ``u`` and, on failure, bisects ``u``'s support
to localise the worst element. The Taylor remainder
``|f(x + s d) - f(x) - s g.d|`` over ``s = 2^-1 ... cbrt(eps)`` must fall with
order 2; its observed order is reported beside the verdict (``None`` when the
remainder stays at rounding level, as for a function linear in ``x``).

Reference. With ``reference="float64"`` (or ``"longdouble"``) the builders also make
the same problem in that precision; :func:`check` then compares the gradient with the
reference's analytic gradient and with its finite differences (tensors up to
:data:`REFERENCE_MAX` elements), over this precision's analytic rounding bound plus the
reference's difference bound. For float32 this resolves errors near 1e-6 relative where
float32 differences alone resolve about 1e-3.

A check never writes into the arrays it is given: it perturbs copies and
evaluates a deep copy of the component, then confirms that inputs and
parameters are bit-identical to what it found.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, cast

import numpy as np
import numpy.typing as npt

from .layers import ErrorModel, Layer
from .losses import Loss
from .network import Network
from .precision import DTypeName, FloatArray, precision
from .rounding import abs64
from .rounding import eps as eps_of
from .validation import check_bool, check_choice, check_int, check_real

__all__ = [
    "SAFETY", "KINK_BUDGET", "Evaluation", "Problem", "Result", "Status", "Mode",
    "layer_problems", "loss_problem", "network_problem", "check", "check_drawn",
    "steps", "taylor_order", "taylor_sweep", "TaylorPoint", "numeric_gradient",
]

LDArray = npt.NDArray[np.longdouble]
Status = Literal["PASS", "FAIL", "KINK"]
Mode = Literal["auto", "exhaustive", "projected"]
_MODES: tuple[Mode, ...] = ("auto", "exhaustive", "projected")
_REFERENCES: tuple[DTypeName, ...] = ("float32", "float64", "longdouble")


# -- argument checks of the entry points (errors name the argument) -----------------
def _check_float_array(name: str, value: object, ndim: int | None = None) -> None:
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        got = type(value).__name__ if not isinstance(value, np.ndarray) else f"dtype {value.dtype}"
        raise TypeError(f"{name}: expected a floating-point NumPy array, got {got}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d (K, N, f) array, got shape {value.shape}")


def _check_reference(reference: object) -> None:
    if reference is not None:
        check_choice("reference", reference, _REFERENCES)


def _check_component(component: object) -> None:
    if component is not None and not isinstance(component, str):
        raise TypeError(f"component: expected a name (str) or None, got {component!r}")


def _check_problem(p: object) -> None:
    if not isinstance(p, Problem):
        raise TypeError(f"p: expected a Problem (from layer_problems, loss_problem or network_problem), "
                        f"got {type(p).__name__}")


def _check_bounds(lower: object, upper: object) -> None:
    lo = None if lower is None else check_real("lower", lower)
    hi = None if upper is None else check_real("upper", upper)
    if lo is not None and hi is not None and not lo < hi:
        raise ValueError(f"upper: expected a bound above lower = {lo}, got {hi}")

SAFETY = 2.0
"""Factor on every rounding bound (the bounds are first order)."""
KINK_BUDGET = 8
"""Redraws :func:`check_drawn` makes before declaring a check inconclusive."""
EXHAUSTIVE_MAX = 256
"""``auto`` mode checks every element of tensors up to this size."""
REFERENCE_MAX = 256
"""Largest tensor whose reference-precision numeric gradient is computed element by element."""
_TAYLOR_FLOOR = 10.0


def _ld(a: npt.ArrayLike) -> LDArray:
    return np.asarray(a, dtype=np.longdouble)


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of an objective: its value, what it produced, its kink pattern."""

    value: np.longdouble
    trace: tuple[FloatArray, ...]
    signature: bytes
    bounds: tuple[npt.NDArray[np.float64], ...] = ()
    """Per element of each ``trace`` array: a bound on the error it adds to ``value``."""
    noise: float = 0.0
    """A bound on the error every evaluation has (the final reductions)."""

    @property
    def total_noise(self) -> float:
        return self.noise + sum(float(np.sum(b)) for b in self.bounds)


@dataclass(frozen=True)
class Problem:
    """A scalar objective of one array ``x``, its claimed gradient and error model.

    ``evaluate`` returns the objective with its rounding bounds at that point;
    ``analytic_error`` bounds the rounding of ``gradient``.
    """

    component: str
    wrt: str
    x: FloatArray
    gradient: FloatArray
    evaluate: Callable[[FloatArray], Evaluation]
    analytic_error: npt.NDArray[np.float64]
    lower: float | None = None
    upper: float | None = None
    label: Callable[[int], str] | None = None
    faults: tuple[str, ...] = ()
    reference: FloatArray | None = None
    untouched: Callable[[], tuple[str, ...]] | None = None
    reference_kink: bool = False
    """The reference precision took another side of a ReLU kink than ``x``'s precision."""
    reference_problem: Problem | None = None
    """The same problem in the reference precision: its finite differences give a numeric
    gradient far more accurate than this precision's own."""

    @property
    def dtype(self) -> str:
        return str(self.x.dtype)

    def name(self, index: int) -> str:
        """Human name of flat element ``index`` of ``x``."""
        if self.label is not None:
            return self.label(index)
        return "[" + ",".join(str(int(i)) for i in np.unravel_index(index, self.x.shape)) + "]"


@dataclass(frozen=True)
class Result:
    """The verdict on one (component, dtype, with-respect-to)."""

    component: str
    dtype: str
    wrt: str
    status: Status
    observed: float
    expected: float
    ratio: float
    worst: str
    step: float
    seed: int
    mode: str
    kinks: int = 0
    taylor: float | None = None
    reference: float | None = None
    faults: tuple[str, ...] = field(default_factory=tuple)
    shape: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """Plain values for JSON (non-finite floats as strings)."""
        out: dict[str, object] = {}
        for key in ("component", "dtype", "wrt", "status", "observed", "expected", "ratio",
                    "worst", "step", "seed", "mode", "kinks", "taylor", "reference"):
            value = getattr(self, key)
            if isinstance(value, float) and not math.isfinite(value):
                value = str(value)
            out[key] = value
        out["faults"] = list(self.faults)
        out["shape"] = list(self.shape)
        return out


# ----------------------------------------------------------------- error models
# Each layer and loss carries its own (refnet.layers.ErrorModel, Loss.rounding/curvature);
# bounds are in units of eps (callers multiply by eps * SAFETY), first order.

_LAYER_MODEL = ("finiteness", "kinked", "rounding_forward", "rounding_backward", "carry_backward",
                "carry_forward", "carry_cached")
_LOSS_MODEL = ("rounding", "curvature")


def _model(layer: Layer) -> ErrorModel:
    """``layer`` as an error model, or a ``TypeError`` naming what it lacks (never a generic bound)."""
    missing = [m for m in _LAYER_MODEL if not hasattr(layer, m)]
    if missing:
        raise TypeError(f"layer: {type(layer).__name__} has no rounding-error model (missing "
                        f"{', '.join(missing)}; see refnet.layers.ErrorModel), so no bound can be derived")
    return cast(ErrorModel, layer)


def _check_loss_model(loss: Loss) -> None:
    missing = [m for m in _LOSS_MODEL if not hasattr(loss, m)]
    if missing:
        raise TypeError(f"loss: {type(loss).__name__} has no rounding-error model (missing "
                        f"{', '.join(missing)}; see refnet.losses.Loss), so no bound can be derived")


def _count(loss: Loss, y: FloatArray) -> float:
    return float(y.shape[-2] * y.shape[-1]) if loss.reduction == "mean" else 1.0


def _reduction_noise(loss: Loss, terms: FloatArray) -> float:
    """Bound on the rounding of summing (and dividing) the terms, all members, in eps units."""
    n = int(terms.shape[-2] * terms.shape[-1])
    total = float(np.sum(abs64(terms)))
    return float((n + 2) * total / _count(loss, terms))


# ----------------------------------------------------------------- structure

def _snapshot(arrays: dict[str, FloatArray]) -> dict[str, bytes]:
    return {k: v.tobytes() + str(v.dtype).encode() + str(v.shape).encode() for k, v in arrays.items()}


def _untouched(read: Callable[[], dict[str, FloatArray]]) -> Callable[[], tuple[str, ...]]:
    before = _snapshot(read())

    def compare() -> tuple[str, ...]:
        after = _snapshot(read())
        return tuple(f"{k} changed by the check" for k in before if after.get(k) != before[k])
    return compare


def _conform(name: str, g: FloatArray | None, like: FloatArray) -> tuple[FloatArray, list[str]]:
    """``g`` if its shape and dtype equal ``like``'s, else a NaN stand-in and the fault."""
    if g is None:
        return np.full(like.shape, np.nan, dtype=like.dtype), [f"{name}: gradient missing"]
    faults = []
    if g.shape != like.shape:
        faults.append(f"{name}: gradient shape {g.shape} != {like.shape}")
    if g.dtype != like.dtype:
        faults.append(f"{name}: gradient dtype {g.dtype} != {like.dtype}")
    if faults:
        return np.full(like.shape, np.nan, dtype=like.dtype), faults
    return g, []


def _same(a: dict[str, FloatArray], b: dict[str, FloatArray]) -> bool:
    return a.keys() == b.keys() and all(
        a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes() for k in a)


def _layer_structure(layer: Layer, x: FloatArray, dy: FloatArray) -> list[str]:
    """Repeatability, zero upstream gives zero, no extra gradients."""
    faults = []
    layer.forward(x)
    first = {"x": layer.grad_input(dy), **layer.grad_params(dy)}
    second = {"x": layer.grad_input(dy), **layer.grad_params(dy)}
    if not _same(first, second):
        faults.append("two backward calls differ")
    zero = np.zeros_like(dy)
    zeros = {"x": layer.grad_input(zero), **layer.grad_params(zero)}
    for k, v in zeros.items():
        if not np.all(v == 0):
            faults.append(f"{k}: zero upstream gradient gives a nonzero gradient")
    extra = sorted(set(first) - {"x"} - set(layer.params))
    if extra:
        faults.append(f"gradients for unknown parameters {extra}")
    return faults


# ----------------------------------------------------------------- problems

def _signature(arrays: Sequence[FloatArray]) -> bytes:
    return b"".join(np.packbits(np.asarray(a) > 0).tobytes() for a in arrays)


def _cast_layer(layer: Layer, dtype: DTypeName) -> Layer:
    clone = copy.deepcopy(layer)
    clone.params = {k: v.astype(precision(dtype).dtype) for k, v in layer.params.items()}
    return clone


def _bind(objective: Callable[[FloatArray, dict[str, FloatArray]], Evaluation], x: FloatArray,
          params: dict[str, FloatArray], key: str | None) -> Callable[[FloatArray], Evaluation]:
    """The objective as a function of the input (``key`` None) or of one parameter."""
    if key is None:
        return lambda z: objective(z, params)
    return lambda z: objective(x, {**params, key: z})


def layer_problems(layer: Layer, x: FloatArray, dy: FloatArray, *, component: str | None = None,
                   reference: DTypeName | None = None) -> list[Problem]:
    """Problems for ``layer`` w.r.t. its input (``wrt="x"``) and each named parameter.

    The objective is ``sum(dy * layer(x))`` accumulated in long double. ``reference``
    (``"float64"`` or ``"longdouble"``) also computes the analytic gradients of a
    copy of the layer in that precision.
    """
    for method in ("forward", "grad_input", "grad_params"):
        if not callable(getattr(layer, method, None)):
            raise TypeError(f"layer: expected a Layer (with forward, grad_input, grad_params), got {layer!r}")
    _check_float_array("x", x, 3)
    _check_float_array("dy", dy, 3)
    if dy.dtype != x.dtype or dy.shape[:2] != x.shape[:2]:
        raise ValueError(f"dy: expected a {x.dtype} array of shape {x.shape[:2]} + (out,), like x's, "
                         f"got {dy.dtype} {dy.shape}")
    _check_component(component)
    _check_reference(reference)
    clone = copy.deepcopy(layer)  # the layer's output shape, without touching the layer's own cache
    try:
        with np.errstate(all="ignore"):
            out_shape = clone.forward(x).shape
    except ValueError as exc:  # e.g. a Linear layer given x of another width
        raise ValueError(f"x: the layer cannot take x of shape {x.shape} ({exc})") from None
    if dy.shape != out_shape:
        raise ValueError(f"dy: expected shape {out_shape} (the layer's output for x), got {dy.shape}")
    name = component or type(layer).__name__
    dtype = x.dtype
    eps = eps_of(dtype) * SAFETY
    untouched = _untouched(lambda: {"x": x, "dy": dy, **{f"params.{k}": v for k, v in layer.params.items()}})
    with np.errstate(all="ignore"):
        y = layer.forward(x)
        gx = layer.grad_input(dy)
        grads = layer.grad_params(dy)
        faults = _layer_structure(layer, x, dy)
        bounds = _model(layer).rounding_backward(x, y, dy, {"x": gx, **grads})
    v = _ld(dy)
    ld_eps = eps_of(np.longdouble)
    base_params = {k: p.copy() for k, p in layer.params.items()}
    x_eval = x.copy()
    refs: dict[str, Problem] = {}
    if reference is not None:
        rdt = precision(reference).dtype
        refs = {rp.wrt: rp for rp in layer_problems(_cast_layer(layer, reference), x.astype(rdt),
                                                    dy.astype(rdt), component=name)}

    def objective(inp: FloatArray, params: dict[str, FloatArray]) -> Evaluation:
        clone.params = params
        with np.errstate(all="ignore"):
            out = clone.forward(inp)
            bound = eps * abs64(dy) * _model(clone).rounding_forward(inp, out)
        sig = _signature([inp]) if _model(clone).kinked else b""
        products = v * _ld(out)
        noise = ld_eps * float(np.sum(np.abs(products))) * (out.size + 1)
        return Evaluation(np.sum(products), (out,), sig, (bound,), noise)

    problems = []
    wrts: list[tuple[str, FloatArray, FloatArray | None]] = [("x", x, gx)]
    wrts += [(k, p, grads.get(k)) for k, p in layer.params.items()]
    for wrt, at, g in wrts:
        g_ok, gf = _conform(wrt, g, at)
        evaluate = _bind(objective, x_eval, base_params, None if wrt == "x" else wrt)
        problems.append(Problem(
            component=name, wrt=wrt, x=at.copy(), gradient=g_ok, evaluate=evaluate,
            analytic_error=eps * bounds[wrt],
            faults=tuple(faults + gf), untouched=untouched,
            reference=refs[wrt].gradient if wrt in refs else None, reference_problem=refs.get(wrt)))
    return problems


def loss_problem(loss: Loss, y: FloatArray, t: FloatArray, *, component: str | None = None,
                 reference: DTypeName | None = None, lower: float | None = None,
                 upper: float | None = None) -> Problem:
    """Problem for ``loss`` w.r.t. its prediction ``y``: objective ``sum_k value(y, t)_k``.

    ``lower``/``upper`` bound the domain (``BCE`` needs ``y`` in [0, 1]); steps shrink
    to stay inside it.
    """
    for method in ("value", "terms", "grad", "rounding"):
        if not callable(getattr(loss, method, None)):
            raise TypeError(f"loss: expected a Loss (with value, terms, grad, rounding), got {loss!r}")
    _check_float_array("y", y, 3)
    if y.dtype not in (np.float32, np.float64, np.longdouble):  # a loss computes in these (longdouble: a reference)
        raise TypeError(f"y: expected a float32, float64 or longdouble array, got dtype {y.dtype}")
    _check_float_array("t", t)
    if t.dtype != y.dtype or t.shape != y.shape:
        raise ValueError(f"t: expected a {y.dtype} array of y's shape {y.shape}, got {t.dtype} {t.shape}")
    _check_component(component)
    _check_reference(reference)
    _check_bounds(lower, upper)
    name = component or type(loss).__name__
    eps = eps_of(y.dtype) * SAFETY
    untouched = _untouched(lambda: {"y": y, "t": t})
    with np.errstate(all="ignore"):
        g1 = loss.grad(y, t)
        g2 = loss.grad(y, t)
    faults = [] if g1.tobytes() == g2.tobytes() else ["two gradient calls differ"]
    g, gf = _conform("y", g1, y)
    _check_loss_model(loss)
    _, gb = loss.rounding(y, t)
    t_copy = t.copy()
    refp = None
    if reference is not None:
        rdt = precision(reference).dtype
        refp = loss_problem(loss, y.astype(rdt), t.astype(rdt), component=name, lower=lower, upper=upper)

    def evaluate(z: FloatArray) -> Evaluation:
        with np.errstate(all="ignore"):
            value = loss.value(z, t_copy)
            out = loss.terms(z, t_copy)
            tb, _ = loss.rounding(z, t_copy)
        return Evaluation(np.sum(_ld(value)), (out,), b"", (eps * tb / _count(loss, z),),
                          eps * _reduction_noise(loss, out))

    return Problem(
        component=name, wrt="y", x=y.copy(), gradient=g, evaluate=evaluate,
        analytic_error=eps * gb,
        lower=lower, upper=upper, faults=tuple(faults + gf), untouched=untouched,
        reference=None if refp is None else refp.gradient, reference_problem=refp)


def _flat_label(net: Network) -> Callable[[int], str]:
    spans: list[tuple[int, str, tuple[int, ...]]] = []
    start = 0
    for key, p in net.named_params().items():
        spans.append((start, key, p.shape[1:]))
        start += int(np.prod(p.shape[1:]))
    total = start

    def label(index: int) -> str:
        k, rest = divmod(index, total)
        for begin, key, shape in reversed(spans):
            if rest >= begin:
                local = [int(i) for i in np.unravel_index(rest - begin, shape)]
                return f"{key}[{','.join(str(i) for i in (k, *local))}]"
        return str(index)
    return label


def _detached(net: Network) -> Network:
    shallow = copy.copy(net)
    shallow.observer = None
    return copy.deepcopy(shallow)


@dataclass(frozen=True)
class _Pass:
    """A forward and backward pass through a network copy, kept for the error model."""

    ins: list[FloatArray]
    outs: list[FloatArray]
    terms: FloatArray
    value: FloatArray
    dys: list[FloatArray]   # dL/d(output of layer i)


def _net_pass(work: Network, x3: FloatArray, t3: FloatArray) -> _Pass:
    ins, outs = [], []
    a = x3
    with np.errstate(all="ignore"):
        for layer in work.layers:
            ins.append(a)
            a = layer.forward(a)
            outs.append(a)
        terms = work.loss.terms(a, t3)
        value = work.loss.value(a, t3)
        dys: list[FloatArray] = [work.loss.grad(a, t3)]
        for i in range(len(work.layers) - 1, 0, -1):
            dys.insert(0, work.layers[i].grad_input(dys[0]))
    return _Pass(ins, outs, terms, value, dys)


def _net_bounds(work: Network, ps: _Pass, t3: FloatArray, eps: float) -> tuple[npt.NDArray[np.float64], ...]:
    with np.errstate(all="ignore"):
        tb, _ = work.loss.rounding(ps.outs[-1], t3)
        weights = [eps * abs64(ps.dys[i]) * _model(layer).rounding_forward(ps.ins[i], ps.outs[i])
                   for i, layer in enumerate(work.layers)]
    weights.append(eps * tb / _count(work.loss, ps.outs[-1]))
    return tuple(weights)


def network_problem(net: Network, x: npt.ArrayLike, t: npt.ArrayLike, *, component: str = "network",
                    reference: DTypeName | None = None) -> Problem:
    """Problem for a whole network w.r.t. all its parameters, flattened ``(K, n_params)``.

    The objective is the mean loss summed over members; the analytic gradient is
    :meth:`Network.gradients` flattened in :meth:`Network.named_params` order. The
    network itself is only read; evaluations run on a deep copy.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net: expected a Network, got {type(net).__name__}")
    if not isinstance(component, str):
        raise TypeError(f"component: expected a name (str), got {component!r}")
    _check_reference(reference)
    x3 = net.as_input(x)
    t3 = net.precision.asarray(t, name="t")
    if t3.ndim == 2:
        t3 = t3[None]
    if t3.ndim != 3 or t3.shape[1:] != (x3.shape[1], net.out_features) or t3.shape[0] not in (1, net.members):
        raise ValueError(f"t: expected shape ({x3.shape[1]}, {net.out_features}) to match x, got {np.shape(t)}")
    eps = eps_of(net.precision.dtype) * SAFETY
    untouched = _untouched(lambda: {"x": x3, "t": t3, **net.named_params()})
    flat0 = net.get_flat()
    work = _detached(net)
    with np.errstate(all="ignore"):
        _, grads = net.gradients(x3, t3)
        _, again = net.gradients(x3, t3)
        # forward and backward on the copy, keeping what the error model needs
        base = _net_pass(work, x3, t3)
        ins, outs, dys, a = base.ins, base.outs, base.dys, base.outs[-1]
        zero_faults = []
        for i, layer in enumerate(work.layers):
            z = np.zeros_like(dys[i])
            for k, v in {"x": layer.grad_input(z), **layer.grad_params(z)}.items():
                if not np.all(v == 0):
                    zero_faults.append(f"{layer.name}.{k}: zero upstream gradient gives nonzero")
    faults: list[str] = list(zero_faults)
    if not all(_same(a1, a2) for a1, a2 in zip(grads, again)):
        faults.append("two gradient calls differ")
    _check_loss_model(work.loss)
    _, gb = work.loss.rounding(a, t3)
    # forward rounding errors of every activation, then the backward pass's own errors
    # plus what the forward errors of the cached activations do to it
    fe: list[npt.NDArray[np.float64]] = []
    e_in: npt.NDArray[np.float64] = np.zeros(x3.shape)
    for i, layer in enumerate(work.layers):
        model = _model(layer)
        e_in = eps * model.rounding_forward(ins[i], outs[i]) + model.carry_forward(ins[i], outs[i], e_in)
        fe.append(e_in)
    e = eps * gb + work.loss.curvature(a, t3) * fe[-1]
    errors: dict[str, npt.NDArray[np.float64]] = {}
    for i in range(len(work.layers) - 1, -1, -1):
        layer = work.layers[i]
        model = _model(layer)
        own = model.rounding_backward(ins[i], outs[i], dys[i], grads[i] if i < len(grads) else {})
        prop = model.carry_backward(ins[i], outs[i], e)
        held = model.carry_cached(ins[i], outs[i], dys[i], fe[i - 1] if i > 0 else np.zeros(x3.shape), fe[i])
        for p in layer.params:
            errors[f"{layer.name}.{p}"] = (eps * own.get(p, np.zeros(layer.params[p].shape))
                                           + prop.get(p, 0.0) + held.get(p, 0.0))
        e = eps * own["x"] + prop["x"] + held.get("x", 0.0)
    parts, aerr = [], []
    k_members = net.members
    for i, layer in enumerate(net.layers):
        for p, value in layer.params.items():
            g, gf = _conform(f"{layer.name}.{p}", grads[i].get(p) if i < len(grads) else None, value)
            faults += gf
            parts.append(g.reshape(k_members, -1))
            aerr.append(np.broadcast_to(errors[f"{layer.name}.{p}"], value.shape).reshape(k_members, -1))
        if i < len(grads):
            extra = sorted(set(grads[i]) - set(layer.params))
            if extra:
                faults.append(f"{layer.name}: gradients for unknown parameters {extra}")
    gradient = np.concatenate(parts, axis=1)
    refg = None
    refp = None
    ref_kink = False
    if reference is not None:
        rnet = _detached(net)
        rnet.precision = precision(reference)
        for layer in rnet.layers:
            layer.params = {k: v.astype(rnet.precision.dtype) for k, v in layer.params.items()}
        rx = rnet.precision.asarray(x3, name="x")
        rt = rnet.precision.asarray(t3, name="t")
        with np.errstate(all="ignore"):
            _, rgrads = rnet.gradients(rx, rt)
        relus = [i for i, layer in enumerate(work.layers) if _model(layer).kinked]
        rpass = _net_pass(rnet, rx, rt)
        ref_kink = _signature([rpass.ins[i] for i in relus]) != _signature([ins[i] for i in relus])
        refg = np.concatenate([rgrads[i][p].reshape(k_members, -1) for i, layer in enumerate(rnet.layers)
                               for p in layer.params if p in rgrads[i]], axis=1)
        if refg.shape != gradient.shape:
            refg = None
        refp = network_problem(rnet, rx, rt, component=component)

    kinked = [i for i, layer in enumerate(work.layers) if _model(layer).kinked]

    def evaluate(flat: FloatArray) -> Evaluation:
        work.set_flat(flat)
        ps = _net_pass(work, x3, t3)
        relu_in = [ps.ins[i] for i in kinked]
        return Evaluation(np.sum(_ld(ps.value)), (*ps.outs, ps.terms), _signature(relu_in),
                          _net_bounds(work, ps, t3, eps), eps * _reduction_noise(work.loss, ps.terms))

    return Problem(
        component=component, wrt="params", x=flat0, gradient=gradient, evaluate=evaluate,
        analytic_error=np.concatenate(aerr, axis=1), label=_flat_label(net),
        faults=tuple(faults), reference=None if ref_kink else refg, untouched=untouched,
        reference_kink=ref_kink, reference_problem=None if ref_kink else refp)


# ----------------------------------------------------------------- the check

def steps(x: FloatArray, lower: float | None = None, upper: float | None = None) -> FloatArray:
    """Per-element step ``cbrt(eps) * max(|x|, 1)``, exactly representable: ``(x + h) - x``.

    Inside a domain ``[lower, upper]`` the step is at most a quarter of the distance
    to its edge.
    """
    _check_float_array("x", x)
    _check_bounds(lower, upper)
    dt = x.dtype.type
    h0 = dt(np.cbrt(eps_of(x.dtype))) * np.maximum(np.abs(x), dt(1))
    if lower is not None:
        h0 = np.minimum(h0, (x - dt(lower)) / dt(4))
    if upper is not None:
        h0 = np.minimum(h0, (dt(upper) - x) / dt(4))
    h: FloatArray = (x + h0) - x
    return h


@dataclass(frozen=True)
class _Directional:
    error: float       # Richardson-extrapolated error of the directional derivative
    expected: float
    kink: bool


def _directional(p: Problem, d: FloatArray, base: Evaluation, g: LDArray) -> _Directional:
    """Compare ``(f(x + s d) - f(x - s d)) / 2s`` at ``s = 1, 1/2`` with ``g . d``."""
    # Elements that depend on the perturbed ones: NaN there propagates through every
    # arithmetic dependency, even where a step is too small to change the rounded value.
    poisoned = p.x.copy()
    poisoned[d != 0] = np.nan
    en = p.evaluate(poisoned)
    touched = [np.isnan(t) for t in en.trace]
    errs: list[np.longdouble] = []
    asym: list[float] = []
    support = d != 0
    kink = False
    noise = base.noise
    bounds = list(base.bounds)
    for s in (1, 2):
        step = d / d.dtype.type(s)
        xp, xm = p.x + step, p.x - step
        ep, em = p.evaluate(xp), p.evaluate(xm)
        kink = kink or ep.signature != base.signature or em.signature != base.signature
        for i, tb in enumerate(base.trace):
            touched[i] |= (ep.trace[i] != tb) | (em.trace[i] != tb)
        noise = max(noise, ep.noise, em.noise)
        bounds = [np.fmax(np.fmax(b, bp), bm) for b, bp, bm in zip(bounds, ep.bounds, em.bounds)]
        delta = _ld(xp) - _ld(xm)
        half = np.longdouble(2) / np.longdouble(s)
        errs.append((ep.value - em.value) / half - np.sum(g * delta) / half)
        # x +- step need not both be exact (crossing a binade): the quotient is then off
        # centre by (a - b)/2 times the curvature, estimated from the second difference.
        up, down = (_ld(xp) - _ld(p.x))[support], (_ld(p.x) - _ld(xm))[support]
        span = up + down  # 0 where a tiny step vanished in rounding: no quotient, no asymmetry
        rel = float(np.max(np.abs(up - down)[span > 0] / span[span > 0], initial=0.0))
        asym.append(float(abs(ep.value - 2 * base.value + em.value)) * s * rel)
    e1, e2 = errs
    noise += sum(float(np.sum(b[m])) for b, m in zip(bounds, touched))
    analytic = float(np.sum(abs64(d) * p.analytic_error))
    trunc = float(abs(e1 - e2)) / 3.0
    centre = (4.0 * asym[1] + asym[0]) / 3.0
    return _Directional(float((4 * e2 - e1) / 3), trunc + 3.0 * noise + analytic + centre, kink)


def _ratio(observed: float, expected: float) -> float:
    if math.isnan(observed):
        return math.inf
    if observed == 0.0:
        return 0.0
    return observed / expected if expected > 0 else math.inf


@dataclass(frozen=True)
class TaylorPoint:
    """One point of the Taylor-remainder sweep."""

    step: float        # s, the multiple of the direction d
    remainder: float   # |f(x + s d) - f(x) - g.(realised s d)|
    floor: float       # rounding bound of the remainder
    valid: bool        # above 10x floor, no kink crossed, inside the domain


def taylor_sweep(p: Problem, seed: int) -> list[TaylorPoint]:
    """Remainders ``|f(x + s d) - f(x) - s g.d|`` for ``s = 2^-1 ... cbrt(eps)``.

    ``d = max(|x|, 1) * u / max|u|`` with ``u`` standard normal from
    ``default_rng([seed, 7919])``. A correct gradient gives remainders falling as
    ``s^2``; a wrong one leaves an ``s`` term.
    """
    _check_problem(p)
    check_int("seed", seed, 0)
    rng = np.random.default_rng([seed, 7919])
    u = rng.standard_normal(p.x.shape)
    u = u / max(float(np.max(np.abs(u))), 1e-300)
    dt = p.x.dtype.type
    d = (np.maximum(np.abs(p.x), dt(1)) * u.astype(p.x.dtype)).astype(p.x.dtype)
    g = _ld(p.gradient)
    base = p.evaluate(p.x.copy())
    last = int(math.ceil(-math.log2(float(np.cbrt(eps_of(p.x.dtype))))))
    points = []
    for k in range(1, last + 1):
        s = 2.0 ** -k
        xp = p.x + d * dt(s)
        outside = ((p.lower is not None and bool(np.any(xp < dt(p.lower))))
                   or (p.upper is not None and bool(np.any(xp > dt(p.upper)))))
        if outside:
            points.append(TaylorPoint(s, math.nan, math.nan, False))
            continue
        ev = p.evaluate(xp)
        delta = _ld(xp) - _ld(p.x)
        rem = float(abs(ev.value - base.value - np.sum(g * delta)))
        floor = base.total_noise + ev.total_noise + float(np.sum(np.abs(np.asarray(delta, dtype=np.float64)) * p.analytic_error))
        ok = ev.signature == base.signature and math.isfinite(rem) and rem > _TAYLOR_FLOOR * floor
        points.append(TaylorPoint(s, rem, floor, ok))
    return points


def taylor_order(p: Problem, seed: int) -> float | None:
    """Observed order of the Taylor remainder at the smallest two consecutive valid steps.

    ``None`` when no two consecutive points rise above rounding (the objective is
    linear along ``d`` to working precision, or every point crossed a kink).
    """
    _check_problem(p)
    check_int("seed", seed, 0)
    pts = taylor_sweep(p, seed)
    for k in range(len(pts) - 2, -1, -1):
        a, b = pts[k], pts[k + 1]
        if a.valid and b.valid and b.remainder > 0:
            return math.log2(a.remainder / b.remainder)
    return None


def _localise(p: Problem, d: FloatArray, base: Evaluation, g: LDArray) -> int:
    """Bisect the support of ``d`` towards the part with the larger error ratio."""
    idx = np.flatnonzero(d.reshape(-1))
    while idx.size > 1:
        halves = (idx[: idx.size // 2], idx[idx.size // 2:])
        ratios = []
        for part in halves:
            dm = np.zeros_like(d).reshape(-1)
            dm[part] = d.reshape(-1)[part]
            r = _directional(p, dm.reshape(d.shape), base, g)
            ratios.append(_ratio(abs(r.error), r.expected))
        idx = halves[0] if ratios[0] >= ratios[1] else halves[1]
    return int(idx[0]) if idx.size else 0


def numeric_gradient(p: Problem) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Richardson-extrapolated central differences of every element and their error bounds.

    Returns ``(value, bound)`` shaped like ``p.x``: ``value`` is the numeric gradient,
    ``bound`` the expected error of :func:`check` (truncation estimate + rounding +
    the analytic term); kinked elements are NaN.
    """
    _check_problem(p)
    g = _ld(p.gradient)
    h = steps(p.x, p.lower, p.upper)
    base = p.evaluate(p.x.copy())
    value = np.full(p.x.shape, np.nan)
    bound = np.full(p.x.shape, np.nan)
    for i in range(p.x.size):
        d = np.zeros_like(p.x)
        d.flat[i] = h.flat[i]
        r = _directional(p, d, base, g)
        hi = float(h.flat[i])
        if not r.kink and hi > 0:
            value.flat[i] = float(g.flat[i]) + r.error / hi
            bound.flat[i] = r.expected / hi
    return value, bound


def check(p: Problem, *, seed: int = 0, mode: Mode = "auto", projections: int = 4,
          taylor: bool = True) -> Result:
    """Check one problem; see the module notes for the method."""
    _check_problem(p)
    check_int("seed", seed, 0)
    check_choice("mode", mode, _MODES)
    check_int("projections", projections, 1)
    check_bool("taylor", taylor)
    chosen = mode if mode != "auto" else ("exhaustive" if p.x.size <= EXHAUSTIVE_MAX else "projected")
    g = _ld(p.gradient)
    h = steps(p.x, p.lower, p.upper)
    base = p.evaluate(p.x.copy())
    faults = list(p.faults)
    if np.any(h <= 0):
        faults.append("a step is zero (element at the domain edge)")
    worst = (-1.0, 0.0, 0.0, "-", 0.0)   # ratio, observed, expected, where, step
    kinks = 0
    if chosen == "exhaustive":
        for i in range(p.x.size):
            d = np.zeros_like(p.x)
            d.flat[i] = h.flat[i]
            r = _directional(p, d, base, g)
            hi = float(h.flat[i]) or math.inf
            kinks += r.kink
            obs, exp = abs(r.error) / hi, r.expected / hi
            ratio = _ratio(obs, exp)
            if not r.kink and ratio > worst[0]:
                worst = (ratio, obs, exp, p.name(i), float(h.flat[i]))
    else:
        for j in range(projections):
            u = np.random.default_rng([seed, j]).standard_normal(p.x.shape)
            d = (h * (u / np.max(np.abs(u))).astype(p.x.dtype)).astype(p.x.dtype)
            r = _directional(p, d, base, g)
            kinks += r.kink
            ratio = _ratio(abs(r.error), r.expected)
            if not r.kink and ratio > worst[0]:
                where = f"u[{seed},{j}]"
                if ratio > 1:
                    where = p.name(_localise(p, d, base, g)) + f" via u[{seed},{j}]"
                worst = (ratio, abs(r.error), r.expected, where, float(np.max(h)))
    kinks += p.reference_kink
    ref_ratio = None
    if p.reference is not None:
        diff = np.abs(np.asarray(p.gradient, dtype=np.float64) - np.asarray(p.reference, dtype=np.float64))
        tiny = float(np.finfo(p.x.dtype).tiny)
        ref_ratio = float(np.max(np.where(diff == 0, 0.0, diff / (p.analytic_error + tiny)), initial=0.0))
        rp = p.reference_problem
        if rp is not None and rp.x.size <= REFERENCE_MAX:
            num, bound = numeric_gradient(rp)
            if np.any(np.isnan(num)):
                kinks += 1   # the reference's differences straddle a kink: no verdict
            else:
                gap = np.abs(np.asarray(p.gradient, dtype=np.float64) - num)
                tol = p.analytic_error + bound + tiny
                ref_ratio = max(ref_ratio, float(np.max(np.where(gap == 0, 0.0, gap / tol), initial=0.0)))
        if not math.isfinite(ref_ratio):
            ref_ratio = math.inf
    order = taylor_order(p, seed) if taylor and not kinks else None
    if p.untouched is not None:
        faults += p.untouched()
    if faults or worst[0] > 1 or (ref_ratio is not None and ref_ratio > 1):
        status: Status = "FAIL"
    elif kinks:
        status = "KINK"
    else:
        status = "PASS"
    ratio, obs, exp, where, step = worst
    return Result(p.component, p.dtype, p.wrt, status, obs, exp, max(ratio, 0.0), where, step,
                  seed, chosen, kinks, order, ref_ratio, tuple(faults), tuple(p.x.shape))


def check_drawn(draw: Callable[[np.random.Generator], Sequence[Problem]], *, seed: int,
                budget: int = KINK_BUDGET, mode: Mode = "auto", projections: int = 4,
                taylor: bool = True) -> list[Result]:
    """Check the problems ``draw`` builds from ``default_rng([seed, attempt])``.

    While any result is ``KINK`` the inputs are redrawn with the next attempt, at
    most ``budget`` times; ``kinks`` in each result counts the redraws. If the
    budget runs out the kinked results stay ``KINK`` (inconclusive).
    """
    if not callable(draw):
        raise TypeError(f"draw: expected a function of a Generator returning problems, got {draw!r}")
    check_int("seed", seed, 0)
    check_int("budget", budget, 0)
    check_choice("mode", mode, _MODES)
    check_int("projections", projections, 1)
    check_bool("taylor", taylor)
    results: list[Result] = []
    for attempt in range(budget + 1):
        problems = draw(np.random.default_rng([seed, attempt]))
        results = [check(p, seed=seed, mode=mode, projections=projections, taylor=taylor)
                   for p in problems]
        if not any(r.status == "KINK" for r in results):
            return [replace(r, kinks=attempt) for r in results]
    return [replace(r, kinks=budget + 1) for r in results]
