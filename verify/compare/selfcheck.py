"""Check 1: every student layer's backward against finite differences of its own forward.

No reference is needed. Each layer is wrapped as a refnet layer (a subclass of
the refnet class it was recognised as, so :mod:`refnet.gradcheck` applies that
layer's step and error model) whose ``forward`` runs a deep copy of the
student's layer and whose gradients come from the student's ``backward``:

* the returned gradient with ``lr = 0`` (the lab updates inside backward; with a
  zero rate the weights do not move, so the gradient is that of the forward);
* the weight and bias gradients from the change of ``w`` and ``b`` at
  ``lr = 2^-4`` (exact division): ``(w - w_new) / lr``, whose recovery error
  ``eps (|w| + |w_new|) / (2 lr)`` is added to the analytic error bound.

:func:`refnet.gradcheck.check_drawn` compares with Richardson-extrapolated
central differences (step ``cbrt(eps) max(|x|, 1)``, tolerance from the
truncation and rounding bounds, redraws across ReLU kinks). The loss is
checked the same way against its own ``forward``, where the gradient of the
mean and the gradient of the sum of the terms (``N x`` the mean's) are both
accepted and named. Every call also checks that the student's code leaves
its ``x`` and ``prev_grad`` arguments unchanged.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from refnet import gradcheck as gc
from refnet.layers import Identity, Linear, ReLU, Sigmoid, Tanh
from refnet.precision import FloatArray

from . import diagnose
from .adapter import BCE_DELTA, LayerInfo, Student, StudentError, call, get_b, get_w, set_b, set_w
from .report import CheckResult, Finding

__all__ = ["run", "GradientIntent", "RECOVERY_LR"]

Arr = npt.NDArray[np.float64]
GradientIntent = Literal["detect", "mean", "sum", "summed"]
"""The loss gradient the student meant: ``mean``, ``sum`` (``summed`` is the older spelling), or ``detect``."""
RECOVERY_LR = 2.0 ** -4
_EPS = float(np.finfo(np.float64).eps)


class _Mutation(Exception):
    def __init__(self, site: str, arg: str, changed: int, size: int) -> None:
        super().__init__(f"{site} changes its {arg} argument in place ({changed} of {size} elements)")
        self.site, self.arg = site, arg


def _checked(site: str, arg: str, fn: object, value: Arr, *rest: object, hazards: list[str] | None = None,
             relu: bool = False) -> Arr:
    """Run ``fn(copy of value, *rest)``; a change of that copy raises :class:`_Mutation`, or, when
    ``hazards`` is given (a backward's ``prev_grad``), is named there (see :func:`diagnose.in_place`)."""
    given = value.copy()
    raw = call(site, fn, given, *rest)  # type: ignore[arg-type]
    out = np.asarray(raw, dtype=np.float64)
    if given.shape != value.shape or given.tobytes() != value.tobytes():
        if hazards is None:
            changed = int(np.sum(given != value)) if given.shape == value.shape else value.size
            raise _Mutation(site, arg, changed, value.size)
        text = diagnose.in_place(site, value, given, raw is given, relu)
        if text not in hazards:
            hazards.append(text)
    return np.array(out, copy=True)


class _Student:
    """Shared behaviour: hold a student layer, run it on copies, record the cache."""

    student: object
    info: LayerInfo
    after: object | None
    hazards: list[str]
    """In-place writes into ``prev_grad`` seen so far (shared by the views of one layer's check)."""

    def _forward(self, x: FloatArray) -> FloatArray:
        s = copy.deepcopy(self.student)
        self._write(s)
        out = _checked(f"{self.info.name}.forward", "x", getattr(s, "forward"), np.asarray(x[0], dtype=np.float64))
        self.after = s
        return out[None]

    def _hold(self, student: object, info: LayerInfo) -> None:
        self.student, self.info, self.after = student, info, None
        self.hazards = []

    def _write(self, s: object) -> None:
        pass

    def _backward(self, dy: FloatArray, lr: float) -> tuple[object, Arr]:
        if self.after is None:
            raise RuntimeError(f"{self.info.name}: backward called before forward")
        s = copy.deepcopy(self.after)
        out = _checked(f"{self.info.name}.backward", "prev_grad", getattr(s, "backward"),
                       np.asarray(dy[0], dtype=np.float64), lr, hazards=self.hazards,
                       relu=self.info.kind == "relu")
        return s, out

    def _grad_input(self, dy: FloatArray) -> FloatArray:
        _, out = self._backward(dy, 0.0)
        return out[None]


class _LinearView(_Student, Linear):
    def __init__(self, student: object, info: LayerInfo) -> None:
        w = get_w(student)[None].copy()
        b = get_b(student).reshape(1, 1, -1).copy() if info.has_bias else None
        Linear.__init__(self, w, b, name=info.name)
        self._hold(student, info)
        self.recovery: dict[str, Arr] = {}

    def _write(self, s: object) -> None:
        set_w(s, self.params["W"][0])
        if self.info.has_bias:
            set_b(s, self.params["b"][0], self.info.bias_shape)

    def forward(self, x: FloatArray) -> FloatArray:
        return self._forward(x)

    def grad_input(self, dy: FloatArray) -> FloatArray:
        return self._grad_input(dy)

    def grad_params(self, dy: FloatArray) -> dict[str, FloatArray]:
        if self.after is None:
            raise RuntimeError(f"{self.info.name}: backward called before forward")
        w0 = get_w(self.after).copy()
        b0 = get_b(self.after).copy() if self.info.has_bias else None
        s, _ = self._backward(dy, RECOVERY_LR)
        w1 = get_w(s)
        out: dict[str, FloatArray] = {}
        dw = (w0 - w1) / RECOVERY_LR if w1.shape == w0.shape else w1
        out["W"] = dw.reshape(1, *dw.shape)
        self.recovery["W"] = _EPS * (np.abs(w0) + np.abs(w1 if w1.shape == w0.shape else w0)) / (2 * RECOVERY_LR)
        if b0 is not None:
            b1 = get_b(s)
            try:
                db = (np.broadcast_to(b0, b1.shape) - b1) / RECOVERY_LR
            except ValueError:
                db = b1
            out["b"] = db.reshape(1, 1, -1) if db.size == b0.size else db.reshape(1, *db.shape[-2:])
            self.recovery["b"] = _EPS * np.abs(b0) / RECOVERY_LR * 1.5
        return out


class _ActivationView(_Student):
    """An activation view: the student's forward and backward, refnet's cache and error model."""

    def forward(self, x: FloatArray) -> FloatArray:
        out = self._forward(x)
        # keep refnet's own cache too: gradcheck's kink detection reads the ReLU input
        self._refnet_forward(x)
        return out

    def grad_input(self, dy: FloatArray) -> FloatArray:
        return self._grad_input(dy)

    def _refnet_forward(self, x: FloatArray) -> None:
        raise NotImplementedError


class _SigmoidView(_ActivationView, Sigmoid):
    def __init__(self, student: object, info: LayerInfo) -> None:
        Sigmoid.__init__(self, info.name, info.formula or "stable")
        self._hold(student, info)

    def _refnet_forward(self, x: FloatArray) -> None:
        Sigmoid.forward(self, x)


class _ReLUView(_ActivationView, ReLU):
    def __init__(self, student: object, info: LayerInfo) -> None:
        ReLU.__init__(self, info.name)
        self._hold(student, info)

    def _refnet_forward(self, x: FloatArray) -> None:
        ReLU.forward(self, x)


class _TanhView(_ActivationView, Tanh):
    def __init__(self, student: object, info: LayerInfo) -> None:
        Tanh.__init__(self, info.name)
        self._hold(student, info)

    def _refnet_forward(self, x: FloatArray) -> None:
        Tanh.forward(self, x)


class _IdentityView(_ActivationView, Identity):
    def __init__(self, student: object, info: LayerInfo) -> None:
        Identity.__init__(self, info.name)
        self._hold(student, info)

    def _refnet_forward(self, x: FloatArray) -> None:
        Identity.forward(self, x)


_VIEWS: dict[str, type[_SigmoidView | _ReLUView | _TanhView | _IdentityView]] = {
    "sigmoid": _SigmoidView, "relu": _ReLUView, "tanh": _TanhView, "identity": _IdentityView}


def _activation_view(student: object, info: LayerInfo) -> _SigmoidView | _ReLUView | _TanhView | _IdentityView:
    return _VIEWS[info.kind](student, info)


def _with_recovery(p: gc.Problem, recovery: Arr | None) -> gc.Problem:
    """Add the error of recovering a parameter gradient from the change of the parameter."""
    if recovery is None or recovery.size != p.x.size:
        return p
    return replace(p, analytic_error=p.analytic_error + gc.SAFETY * recovery.reshape(p.x.shape))


def _probe_rows(student: Student) -> int:
    widths = {i.width_in for i in student.layers} | {i.width_out for i in student.layers}
    return next(n for n in (5, 7, 9, 11, 13) if n not in widths)


def _layer_check(student: Student, index: int, seed: int, hazards: list[str]) -> str:
    """The layer's verdict line; in-place writes into ``prev_grad`` are added to ``hazards``."""
    info = student.layers[index]
    layer = student.layer_objects(student.net)[index][1]
    n = _probe_rows(student)

    def draw(rng: np.random.Generator) -> list[gc.Problem]:
        x = rng.standard_normal((1, n, info.width_in))
        if info.kind != "linear":
            x = x * 2.0
        dy = rng.standard_normal((1, n, info.width_out))
        view = _LinearView(layer, info) if info.kind == "linear" else _activation_view(layer, info)
        view.hazards = hazards
        problems = gc.layer_problems(view, x, dy, component=info.name)
        if isinstance(view, _LinearView):
            problems = [_with_recovery(p, view.recovery.get(p.wrt)) for p in problems]
        return problems

    try:
        results = gc.check_drawn(draw, seed=seed, taylor=False)
    except _Mutation as exc:
        return f"{exc}"
    except StudentError as exc:
        return str(exc)
    for r in results:
        if r.status == "FAIL":
            faults = "; ".join(r.faults)
            return (f"{info.name}: FAIL {r.wrt} (observed/expected {r.ratio:.3g} at {r.worst}"
                    + (f"; {faults}" if faults else "") + ")")
    status = "KINK" if any(r.status == "KINK" for r in results) else "PASS"
    worst = max(results, key=lambda r: r.ratio)
    return (f"{info.name}: {status} (worst {worst.wrt} observed/expected {worst.ratio:.3g}, "
            f"{', '.join(r.wrt for r in results)} checked)")


def _rerun(student: Student, index: int, seed: int) -> str:
    """Run the failing layer once on a fixed probe and compare with the right formulas."""
    info = student.layers[index]
    layer = student.layer_objects(student.net)[index][1]
    n = _probe_rows(student)
    rng = np.random.default_rng([seed, 99])
    x = rng.standard_normal((n, info.width_in)) * (1.0 if info.kind == "linear" else 2.0)
    g = rng.standard_normal((n, info.width_out))
    s = copy.deepcopy(layer)
    y = np.asarray(call(f"{info.name}.forward", getattr(s, "forward"), x.copy()), dtype=np.float64)
    if info.kind != "linear":
        got = np.asarray(call(f"{info.name}.backward", getattr(copy.deepcopy(s), "backward"), g.copy(), 0.0),
                         dtype=np.float64)
        want = {"sigmoid": g * y * (1.0 - y), "relu": g * (x > 0), "tanh": g * (1.0 - y * y),
                "identity": g}[info.kind]
        if diagnose.matches(got, want):
            return ""
        return diagnose.activation(f"{info.name}.backward", info.kind, x, y, g, got, want)
    w0 = get_w(s).copy()
    dx = np.asarray(call(f"{info.name}.backward", getattr(copy.deepcopy(s), "backward"), g.copy(), 0.0),
                    dtype=np.float64)
    if not diagnose.matches(dx, g @ w0.T):
        return diagnose.input_gradient(f"{info.name}.backward (at lr = 0)", g, w0, dx)
    s2 = copy.deepcopy(s)
    b0 = get_b(s2).copy() if info.has_bias else None
    call(f"{info.name}.backward", getattr(s2, "backward"), g.copy(), RECOVERY_LR)
    w1 = get_w(s2)
    dw = (w0 - w1) / RECOVERY_LR if w1.shape == w0.shape else w1
    if not diagnose.matches(dw, x.T @ g):
        if w1.shape != w0.shape:
            return f"{info.name}.backward changes w from shape {w0.shape} to {w1.shape}"
        return diagnose.weight(info.name, x, g, dw, x.T @ g)
    if b0 is not None:
        b1 = get_b(s2)
        db = (np.broadcast_to(b0, b1.shape) - b1) / RECOVERY_LR if b1.ndim <= 2 else b1
        want_b = np.sum(g, axis=0).reshape(b0.shape)
        if not diagnose.matches(db, want_b):
            return diagnose.bias(info.name, g, db, b0.shape, want_b)
    return ""


def _loss_check(student: Student, intent: GradientIntent, seed: int) -> tuple[str, str | None, str]:
    """Returns (line, failure or None, detected gradient reading)."""
    width = student.layers[-1].width_out
    rng = np.random.default_rng([seed, 5])
    n = _probe_rows(student)
    y = rng.uniform(0.05, 0.95, (n, width))
    t = (rng.uniform(0.0, 1.0, (n, width)) > 0.5).astype(np.float64)
    loss = getattr(student.net, "loss_func")
    count = n * width
    work = copy.deepcopy(loss)
    try:
        call("loss_func.forward", getattr(work, "forward"), y.copy(), t.copy())
        g = np.asarray(call("loss_func.backward", getattr(work, "backward")), dtype=np.float64).reshape(y.shape)
    except (StudentError, ValueError) as exc:
        return "loss_func: error", str(exc), "unknown"
    kind = student.loss.kind
    reduction = student.loss.reduction
    want = "summed" if intent == "sum" else intent
    # forward = sum of the natural-log terms / (c ln(base)): the mean or the sum, in nats or in bits
    c = (float(count) if reduction == "mean" else 1.0) * student.loss.log_scale

    def evaluate(z: FloatArray) -> gc.Evaluation:
        zz = np.asarray(z[0], dtype=np.float64)
        v = float(np.asarray(call("loss_func.forward", getattr(copy.deepcopy(loss), "forward"), zz.copy(), t.copy())))
        if kind == "mse":
            terms = (zz - t) ** 2
            own = 3.0 * terms
        else:
            a, b = zz + 1e-7, (1.0 - zz) + 1e-7
            terms = np.abs(t * np.log(a) + (1.0 - t) * np.log(b))
            own = 3.0 * (np.abs(t) * (np.abs(np.log(a)) + 1.0) + np.abs(1.0 - t) * (np.abs(np.log(b)) + 1.0))
        noise = gc.SAFETY * _EPS * float(np.sum(own) + (zz.size + 2) * np.sum(np.abs(terms))) / c
        return gc.Evaluation(np.longdouble(v), (), b"", (), noise)

    if kind == "mse":
        gabs = 2.0 * (np.abs(y) + np.abs(t))
    else:
        gabs = np.abs(t) / (y + 1e-7) + np.abs(1.0 - t) / ((1.0 - y) + 1e-7)
    readings = {"mean": 1.0 / count, "summed": 1.0}
    scale_forward = 1.0 / c  # d(forward)/dy = scale_forward * d(sum of terms)/dy
    problem = gc.Problem(component="loss_func", wrt="y", x=y[None].copy(), gradient=g[None],
                         evaluate=evaluate, analytic_error=gc.SAFETY * 8.0 * _EPS * gabs[None] / c,
                         lower=0.0 if kind == "bce" else None, upper=1.0 if kind == "bce" else None)
    try:
        num, bound = gc.numeric_gradient(problem)
    except StudentError as exc:
        return "loss_func: error", str(exc), "unknown"
    num_sum = num[0] / scale_forward      # d(sum of terms)/dy, numerically
    bound_sum = bound[0] / scale_forward
    found = "unknown"
    for name, factor in readings.items():
        extra = gc.SAFETY * 8.0 * _EPS * gabs * factor
        if np.all(np.abs(g - factor * num_sum) <= factor * bound_sum + extra):
            found = name
            break
    forward_reading = "mean" if reduction == "mean" else "summed"
    bits = student.loss.base == "2"
    if found == "unknown" and kind == "bce" and bits and reduction == "mean" and diagnose.matches(
            g, (y - t) / (y * (1.0 - y) * count)):
        page14 = diagnose.loss_formula(kind, "page14")
        if want == "summed":
            return "loss_func: FAIL", (f"loss_func.backward computes {page14} (the mean's gradient, without the "
                                       f"delta); expected {diagnose.loss_formula(kind, 'summed')}, as "
                                       f"--gradient {intent} was asked for"), "page14"
        return (f"loss_func: PASS ({page14}: the gradient of the mean in nats without the delta "
                f"{BCE_DELTA:g} that forward puts in the logs; forward is the mean in bits)"), None, "page14"
    if found == "unknown":
        mean_g = num_sum / count
        return "loss_func: FAIL", diagnose.loss_gradient(kind, y, t, g, mean_g, count), found
    nats = " in nats" if bits else ""
    forward = f"forward is the {reduction}" + (" in bits" if bits else "")
    what = "gradient of the mean" + nats if found == "mean" else \
        f"gradient of the summed loss{nats}, N x the mean's on an N = {count} probe"
    line = f"loss_func: PASS ({what}; {forward})"
    if want != "detect" and found != want:
        if found == "summed":
            return line, (f"loss_func.backward computes {diagnose.loss_formula(kind, 'summed')}, the gradient of "
                          f"the summed loss{nats}; expected {diagnose.loss_formula(kind, 'mean')}: the division by "
                          f"the batch size N is missing, but --gradient {intent} was asked for"), found
        return line, (f"loss_func.backward computes {diagnose.loss_formula(kind, 'mean')}, the gradient of the "
                      f"mean loss{nats}; expected {diagnose.loss_formula(kind, 'summed')} (N x that), as "
                      f"--gradient {intent} was asked for"), found
    if want == "detect" and (found != forward_reading or bits):
        line += (f"; note: forward returns the {reduction}" + (" in bits" if bits else "")
                 + f" but backward the gradient of the {'sum' if found == 'summed' else 'mean'}{nats}")
    return line, None, found


def run(student: Student, *, intent: GradientIntent = "detect", seed: int = 0) -> tuple[CheckResult, str]:
    """Check every layer and the loss; returns the verdict and the detected gradient reading."""
    lines: list[str] = []
    failure: Finding | None = None
    hazards: list[str] = []
    for i, info in enumerate(student.layers):
        text = _layer_check(student, i, seed, hazards)
        if text.startswith(f"{info.name}: PASS") or text.startswith(f"{info.name}: KINK"):
            lines.append(text)
            continue
        detail = text
        if "changes its" not in text and "raised" not in text:
            try:
                named = _rerun(student, i, seed)
            except StudentError as exc:
                named = str(exc)
            detail = named or text
        lines.append(f"{info.name}: FAIL")
        if failure is None:
            failure = Finding(f"{info.name}.backward", "gradient", detail, {"layer": info.name, "kind": info.kind,
                                                                              "gradcheck": text})
    loss_line, loss_fail, reading = _loss_check(student, intent, seed)
    lines.append(loss_line)
    if loss_fail is not None and failure is None:
        failure = Finding("loss_func.backward", "loss gradient", loss_fail, {"reading": reading})
    if failure is None:
        summary = f"every layer and the loss match their own forward ({len(student.layers) + 1} components)"
        return CheckResult("self-consistency", "PASS", summary, tuple(lines), None,
                           {"gradient": reading, "hazards": hazards}), reading
    return CheckResult("self-consistency", "FAIL", failure.message, tuple(lines), failure,
                       {"gradient": reading, "hazards": hazards}), reading
