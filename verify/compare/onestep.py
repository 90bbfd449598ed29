"""Check 2: one forward and backward step of the student's network against refnet's.

The student's initial weights are copied into a refnet network of the same
layers. The student's network runs its own ``forward``, ``cal_loss`` and
``backward(lr)`` on a deep copy, with every layer's ``forward`` and ``backward``
and the loss's ``backward`` recorded. Then refnet walks the same step with
:class:`refnet.network.Network`'s methods under the convention the student's
numbers show (or the one asked for):

* loss gradient: *mean* (``d mean / dy``, refnet's default) or *summed*
  (``N x`` that, the lab's), read from ``loss_func.backward``'s output;
* update: *inside* (each Linear layer updates, then sends ``prev_grad @ w_new^T``
  down: the lab's order) or *after* (the gradient goes down through the old
  weights), read per Linear layer from whether its returned gradient is
  ``prev_grad @ w^T`` of the old or of the new weights.

Every layer's output, the loss, the loss gradient, every returned gradient and
every weight and bias change is compared element by element, in ulps of
refnet's value, against the rounding bound of :mod:`verify.compare.bounds`. The
first failure names one element (the one furthest beyond its bound) with its
expected and found values, the relative error in words and its ulps, and, when
a known slip (:mod:`verify.compare.diagnose`) reproduces the student's numbers
at that site from the student's own inputs, the formula found and the one
expected.
refnet's sigmoid layers use the student's formula when its bits show it (see
:mod:`verify.compare.adapter`), refnet's stable one otherwise. The walk equals
``refnet.train.train(epochs=1)`` bit for bit for the three conventions refnet
implements: summed or mean gradient with the update inside (a
:class:`refnet.conventions.Reading`), mean gradient with the update after
(``default``) (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from refnet import gradcheck as gc
from refnet.conventions import Published
from refnet.layers import Identity, Layer, Linear, ReLU, ReLUFormula, Sigmoid, Tanh
from refnet.losses import BCE, MSE, Loss
from refnet.network import Network
from refnet.optim import SGD

from . import bounds as bd
from . import diagnose
from .diagnose import in_place, loss_formula, matches, relative_words
from .adapter import BCE_DELTA, LossInfo, Student, StudentError, call, get_b, get_w
from .report import CheckResult, Finding
from .setting import GradientReading, Setting, UpdateOrder, loss_factor, refnet_setting

__all__ = ["GradientReading", "UpdateOrder", "UpdateIntent", "Trace", "Walk", "build_refnet",
           "record_student", "walk", "run", "OneStep"]

Arr = npt.NDArray[np.float64]
UpdateIntent = Literal["detect", "inside", "after"]


def build_refnet(student: Student, net: object, members: int = 1, relu: ReLUFormula = "max") -> Network:
    """A refnet network with the student's layers, names and current weights (``members`` copies).

    Every sigmoid layer computes :attr:`Student.sigmoid`'s formula, every ReLU ``relu``
    (``mask`` under ``convention="lab"``, which requires it; the two differ only on ``-0`` and NaN).
    """
    layers: list[Layer] = []
    for info, (_, layer) in zip(student.layers, student.layer_objects(net)):
        if info.kind == "linear":
            w = np.repeat(get_w(layer)[None], members, axis=0)
            b = np.repeat(get_b(layer).reshape(1, 1, -1), members, axis=0) if info.has_bias else None
            layers.append(Linear(w.copy(), None if b is None else b.copy(), name=info.name))
        else:
            if info.kind == "sigmoid":
                layers.append(Sigmoid(info.name, student.sigmoid))
            elif info.kind == "relu":
                layers.append(ReLU(info.name, relu))
            else:
                cls = {"tanh": Tanh, "identity": Identity}[info.kind]
                layers.append(cls(info.name))
    loss: Loss = MSE("mean") if student.loss.kind == "mse" else BCE("mean", BCE_DELTA)
    return Network(layers, loss, "float64")


@dataclass
class Trace:
    """What one step produced, per layer in network order (student's or refnet's)."""

    outputs: list[Arr] = field(default_factory=list)
    loss: float = float("nan")
    loss_grad: Arr = field(default_factory=lambda: np.zeros(0))
    prev_grads: list[Arr] = field(default_factory=list)
    returned: list[Arr] = field(default_factory=list)
    w_before: list[dict[str, Arr]] = field(default_factory=list)
    w_after: list[dict[str, Arr]] = field(default_factory=list)
    mutated: list[str] = field(default_factory=list)
    """Forward passes that wrote into their input ``x`` (a failure)."""
    hazards: list[str] = field(default_factory=list)
    """Backward passes that wrote into their ``prev_grad`` (named, not failed: see :func:`diagnose.in_place`)."""


def _params(student: Student, net: object) -> list[dict[str, Arr]]:
    out: list[dict[str, Arr]] = []
    for info, (_, layer) in zip(student.layers, student.layer_objects(net)):
        d: dict[str, Arr] = {}
        if info.kind == "linear":
            d["w"] = get_w(layer).copy()
            if info.has_bias:
                d["b"] = get_b(layer).copy()
        out.append(d)
    return out


def record_student(student: Student, net: object, x: Arr, t: Arr, lr: float) -> Trace:
    """Run the student's own forward, cal_loss and backward(lr) on ``net``, recording each layer.

    The student's arrays pass between the layers as their own code passes them (no copies),
    so an in-place write that harms a later computation shows in the numbers compared.
    """
    tr = Trace()
    objs = student.layer_objects(net)
    kinds = [info.kind for info in student.layers]
    L = len(objs)
    tr.outputs = [np.zeros(0)] * L
    tr.prev_grads = [np.zeros(0)] * L
    tr.returned = [np.zeros(0)] * L
    for i, (name, layer) in enumerate(objs):
        fwd, bwd = getattr(layer, "forward"), getattr(layer, "backward")

        def forward(xin: object, _i: int = i, _f: Callable[..., object] = fwd, _n: str = name) -> object:
            before = np.array(xin, copy=True)
            out = _f(xin)
            if not np.array_equal(np.asarray(xin), before):
                tr.mutated.append(f"{_n}.forward changes its x argument in place")
            tr.outputs[_i] = np.array(out, dtype=np.float64, copy=True)
            return out

        def backward(g: object, *args: object, _i: int = i, _f: Callable[..., object] = bwd, _n: str = name,
                     **kw: object) -> object:
            before = np.array(g, copy=True)
            tr.prev_grads[_i] = before
            out = _f(g, *args, **kw)
            after = np.asarray(g)
            if after.shape != before.shape or after.tobytes() != before.tobytes():
                tr.hazards.append(in_place(f"{_n}.backward", before, np.array(after, copy=True), out is g,
                                           kinds[_i] == "relu"))
            tr.returned[_i] = np.array(out, dtype=np.float64, copy=True)
            return out

        setattr(layer, "forward", forward)
        setattr(layer, "backward", backward)
    loss = getattr(net, "loss_func")
    lb = getattr(loss, "backward")

    def loss_backward(*args: object, **kw: object) -> object:
        out = lb(*args, **kw)
        tr.loss_grad = np.array(out, dtype=np.float64, copy=True).reshape(t.shape)
        return out

    setattr(loss, "backward", loss_backward)
    y = call("net.forward", getattr(net, "forward"), x.copy())
    tr.loss = float(np.asarray(call("net.cal_loss", getattr(net, "cal_loss"), y, t.copy())))
    tr.w_before = _params(student, net)
    call("net.backward", getattr(net, "backward"), lr)
    tr.w_after = _params(student, net)
    return tr


@dataclass
class Walk:
    """refnet's step and the rounding bound of each array it produced."""

    trace: Trace
    bound_outputs: list[Arr]
    bound_loss: float
    bound_loss_grad: Arr
    bound_returned: list[Arr]
    bound_change: list[dict[str, Arr]]


def walk(student: Student, net: Network, x: Arr, t: Arr, lr: float, gradient: GradientReading,
         update: UpdateOrder, published: Published | None = None) -> Walk:
    """refnet's step under the given convention, with the rounding bound of each array.

    ``published``: the loss and its gradient come from the lab's published arithmetic
    (:meth:`refnet.conventions.Published.loss_and_grad`, whose gradient is the mean's for
    MSE and the sum's for BCE: ``gradient`` must say the same), so the walk is
    ``train(convention="lab")``'s step bit for bit.
    """
    tr = Trace()
    x3, t3 = net.as_input(x), net.precision.asarray(t, name="t")[None]
    kinds = [i.kind for i in student.layers]
    ins: list[Arr] = []
    e_ins: list[Arr] = []
    e_outs: list[Arr] = []
    a, e = x3, np.zeros(x.shape)
    with np.errstate(all="ignore"):
        for layer, kind in zip(net.layers, kinds):
            ins.append(np.asarray(a[0], dtype=np.float64))
            e_ins.append(e)
            w = np.asarray(layer.params["W"][0]) if "W" in layer.params else None
            b = np.asarray(layer.params["b"][0]) if "b" in layer.params else None
            a = layer.forward(a)
            e = bd.forward_bound(kind, ins[-1], np.asarray(a[0], dtype=np.float64), e, w, b)
            tr.outputs.append(np.asarray(a[0], dtype=np.float64).copy())
            e_outs.append(e)
        summed = gradient == "summed"
        y_out = tr.outputs[-1]
        count = int(y_out.size)
        if published is not None:
            reported, dy = published.loss_and_grad(net, a, t3)
            tr.loss = float(reported[0]) * loss_factor(published, student.loss, count)
        else:
            _, dy = net.loss_grad(a, t3, reduction="sum" if summed else "mean")
            tr.loss = float(net.loss.value(a, t3)[0]) * loss_factor("default", student.loss, count)
        tr.loss_grad = np.asarray(dy[0], dtype=np.float64).copy()
        # in the student's units (a sum, bits), plus one rounding of the conversion and three of a log2 form
        e_loss = (bd.loss_value_bound(student.loss.kind, y_out, t, e, student.loss.reduction == "sum")
                  / student.loss.log_scale + 4.0 * bd.EPS * abs(tr.loss))
        e_g = bd.loss_grad_bound(student.loss.kind, y_out, t, e, summed)
        bound_loss_grad = e_g
        L = len(net.layers)
        tr.prev_grads = [np.zeros(0)] * L
        tr.returned = [np.zeros(0)] * L
        bound_returned: list[Arr] = [np.zeros(0)] * L
        bound_change: list[dict[str, Arr]] = [{} for _ in range(L)]
        tr.w_before = [{("w" if k == "W" else k): np.asarray(v[0]).copy() for k, v in layer.params.items()}
                       for layer in net.layers]
        pending: list[tuple[int, dict[str, npt.NDArray[np.floating[npt.NBitBase]]]]] = []
        lr_t = net.precision.scalar(lr)
        opt = SGD(lr)  # refnet's own update, so the walk is train()'s step bit for bit
        for i in range(L - 1, -1, -1):
            layer, kind = net.layers[i], kinds[i]
            g = np.asarray(dy[0], dtype=np.float64)
            tr.prev_grads[i] = g.copy()
            grads = net.param_grads(i, dy)
            if kind == "linear":
                old = {k: np.asarray(v[0]).copy() for k, v in layer.params.items()}
                if update == "inside":
                    for p, gp in grads.items():
                        layer.params[p] = opt.update((i, p), layer.params[p], gp)
                else:
                    pending.append((i, grads))
                w_used = np.asarray(layer.params["W"][0], dtype=np.float64)
                lb = bd.linear_backward_bounds(ins[i], e_ins[i], w_used, np.zeros(w_used.shape), g, e_g, "b" in grads)
                changes: dict[str, Arr] = {}
                for p, gp in grads.items():
                    key = "dw" if p == "W" else "db"
                    g64 = np.asarray(gp[0], dtype=np.float64).reshape(old[p].shape)
                    new = old[p] - float(lr_t) * g64
                    e_new, e_change = bd.update_bound(lr, g64, lb[key].reshape(old[p].shape), new, new - old[p])
                    changes["w" if p == "W" else "b"] = e_change
                    if p == "W" and update == "inside":
                        lb = bd.linear_backward_bounds(ins[i], e_ins[i], w_used, e_new, g, e_g, "b" in grads)
                bound_change[i] = changes
                e_next = lb["dx"]
            else:
                e_next = bd.activation_backward_bound(kind, ins[i], tr.outputs[i], e_outs[i], g, e_g)
            dy = net.input_grad(i, dy)
            tr.returned[i] = np.asarray(dy[0], dtype=np.float64).copy()
            bound_returned[i] = e_next
            e_g = e_next
        for i, grads in pending:
            for p, gp in grads.items():
                net.layers[i].params[p] = opt.update((i, p), net.layers[i].params[p], gp)
        tr.w_after = [{("w" if k == "W" else k): np.asarray(v[0]).copy() for k, v in layer.params.items()}
                      for layer in net.layers]
    return Walk(tr, e_outs, e_loss, bound_loss_grad, bound_returned, bound_change)


# ----------------------------------------------------------------- detection

def detect_gradient(student_grad: Arr, mean: Arr, count: int, page14: Arr | None = None) -> GradientReading | None:
    """``mean`` or ``summed`` from the loss gradient's size (None: neither within 1e-6).

    ``page14``: the lab's page-14 BCE gradient on the student's output, when its
    loss is a BCE reported as the mean in bits; matched first (to ``1e-9``),
    since it differs from the mean's only by the left-out ``delta``.
    """
    if page14 is not None and matches(student_grad, page14) and not matches(student_grad, mean):
        return "page14"
    for name, ref in (("mean", mean), ("summed", mean * count)):
        scale = float(np.max(np.abs(ref), initial=0.0))
        if student_grad.shape == ref.shape and np.all(np.abs(student_grad - ref) <= 1e-6 * scale + 1e-300):
            return "mean" if name == "mean" else "summed"
    return None


def detect_update(st: Trace, student: Student) -> dict[str, UpdateOrder | None]:
    """Per Linear layer: did the returned gradient go through the new (inside) or old (after) weights."""
    out: dict[str, UpdateOrder | None] = {}
    for i, info in enumerate(student.layers):
        if info.kind != "linear":
            continue
        g, r = st.prev_grads[i], st.returned[i]
        w0, w1 = st.w_before[i]["w"], st.w_after[i]["w"]
        if g.size == 0 or r.size == 0 or w0.shape != w1.shape:
            out[info.name] = None
            continue
        with np.errstate(all="ignore"):
            d_old = float(np.max(np.abs(r - g @ w0.T), initial=0.0))
            d_new = float(np.max(np.abs(r - g @ w1.T), initial=0.0))
            scale = float(np.max(np.abs(r), initial=0.0))
        # neither close (a wrong input gradient, named by the comparison): no order can be read
        unreadable = not min(d_old, d_new) <= 1e-6 * scale
        out[info.name] = None if d_old == d_new or unreadable else ("after" if d_old < d_new else "inside")
    return out


# ----------------------------------------------------------------- the check

@dataclass(frozen=True)
class OneStep:
    """Check 2's verdict with the convention it settled on (for check 3)."""

    result: CheckResult
    gradient: GradientReading
    update: UpdateOrder
    change_bounds: dict[str, Arr]
    loss_bound: float
    setting: Setting
    """refnet's convention, learning rate and ReLU formula for the student's conventions."""
    hazards: tuple[str, ...] = ()
    """In-place writes into ``prev_grad`` seen in the student's step (named, not failed)."""


def _compare(site: str, quantity: str, got: Arr, ref: Arr, bound: Arr) -> tuple[str, Finding | None, float]:
    """The detail line, the finding (or None) and the largest difference in ulps.

    A failing comparison names one element, the one furthest beyond its bound, in
    the finding and in the detail line alike: its expected and found values, the
    relative error in words and the ulps beside the rounding bound there. At an
    exact expected 0 no relative error or ulp count means anything (an ulp of 0 is
    the smallest subnormal): it says ``expected exactly 0, got X``.
    """
    tol = 2.0 * gc.SAFETY * np.broadcast_to(bound, ref.shape)
    if got.size != ref.size:
        return (f"{site} {quantity}: shape {got.shape}, refnet {ref.shape}",
                Finding(site, quantity, f"{site} {quantity} has shape {got.shape}, refnet's has {ref.shape}",
                        {"shape": list(got.shape), "refnet_shape": list(ref.shape)}), float("inf"))
    got = got.reshape(ref.shape)
    diff = np.abs(got - ref)
    u = bd.ulps(got, ref)
    ubound = bd.ulps(ref + tol, ref)
    max_u = float(np.max(u, initial=0.0))
    # the bound in ulps of refnet's nonzero values (at an exact 0 an ulp is the smallest subnormal)
    shown = float(np.max(ubound[ref != 0], initial=0.0))
    bad = ~(diff <= tol)
    if not np.any(bad):
        return f"{site} {quantity}: {max_u:.3g} ulps (bound {shown:.3g})", None, max_u
    with np.errstate(all="ignore"):
        ratio = np.where(bad, diff / np.maximum(tol, 1e-300), 0.0)
    worst = np.unravel_index(int(np.argmax(np.where(np.isnan(ratio), np.inf, ratio))), ratio.shape)
    idx = ",".join(str(int(k)) for k in worst)
    g, r = float(got[worst]), float(ref[worst])
    off = int(np.sum(bad))
    where = f"{off} of {ref.size} elements" if ref.size > 1 else "the value"
    if r == 0.0:
        size = f"expected exactly 0, got {g:.10g}"
        ulp_text = ("rounding allows no difference there" if float(tol[worst]) == 0.0
                    else f"rounding allows {float(tol[worst]):.3g} in absolute value")
        line = f"{site} {quantity}: FAIL at [{idx}]: expected exactly 0, got {g:.4g}"
        fields: dict[str, object] = {"ulps": None, "bound_ulps": None}
    else:
        size = f"expected {r:.10g}, got {g:.10g} ({relative_words(g, r)})"
        ulp_text = f"{float(u[worst]):.3g} ulps where rounding allows {float(ubound[worst]):.3g}"
        line = (f"{site} {quantity}: FAIL at [{idx}]: {float(u[worst]):.3g} ulps (bound "
                f"{float(ubound[worst]):.3g}), {relative_words(g, r)}")
        fields = {"ulps": float(u[worst]), "bound_ulps": float(ubound[worst])}
    msg = f"{site} {quantity} differs from refnet's at [{idx}]: {size}; {ulp_text}; {where} beyond rounding"
    return line, Finding(site, quantity, msg, {**fields, "expected": r, "got": g,
                                               "relative_error": relative_words(g, r),
                                               "index": [int(k) for k in worst], "elements_off": off}), max_u


def _explain(student: Student, st: Trace, x: Arr, t: Arr, lr: float, site: str, quantity: str,
             update: UpdateOrder) -> str:
    """The known slip that reproduces the student's numbers at a failing site, from its own inputs ('' if none).

    The student's own incoming gradient, input and output are used, so a site
    whose formula is right but whose inputs are already wrong is not blamed.
    """
    if site == "loss_func.backward":
        y = st.outputs[-1]
        if y.shape != t.shape or st.loss_grad.shape != t.shape:
            return ""
        return diagnose.loss_slip(student.loss.kind, y, t, st.loss_grad, int(t.size)) or ""
    name = site.removesuffix(".backward")
    i = next((k for k, info in enumerate(student.layers) if info.name == name), None)
    if i is None or not site.endswith(".backward"):
        return ""
    info = student.layers[i]
    x_in = st.outputs[i - 1] if i > 0 else x
    g, got = st.prev_grads[i], st.returned[i]
    try:
        with np.errstate(all="ignore"):
            if info.kind != "linear":
                if quantity != "returned gradient" or got.shape != g.shape:
                    return ""
                return diagnose.activation_slip(site, info.kind, x_in, st.outputs[i], g, got) or ""
            before, after = st.w_before[i], st.w_after[i]
            if quantity == "w change" and after["w"].shape == before["w"].shape:
                return diagnose.weight_slip(name, x_in, g, (before["w"] - after["w"]) / lr) or ""
            if quantity == "b change" and "b" in before:
                b0, b1 = before["b"], after["b"]
                db = (np.broadcast_to(b0, b1.shape) - b1) / lr if b1.ndim <= 2 else b1
                return diagnose.bias_slip(name, g, db, b0.shape) or ""
            if quantity == "returned gradient":
                w_used = after["w"] if update == "inside" else before["w"]
                return diagnose.input_slip(site, g, w_used, got) or ""
    except ValueError:   # shapes the student's slip made incompatible
        return ""
    return ""


def run(student: Student, x: Arr, t: Arr, lr: float, *, gradient_intent: str = "detect",
        update_intent: UpdateIntent = "detect") -> OneStep:
    """Check 2. ``gradient_intent``: ``detect``, ``mean``, ``sum`` (or its older spelling ``summed``)."""
    count = int(t.size)
    asked = gradient_intent
    gradient_intent = "summed" if gradient_intent == "sum" else gradient_intent
    net_s = student.fresh()
    ref = build_refnet(student, net_s)
    try:
        st = record_student(student, net_s, x, t, lr)
    except StudentError as exc:
        f = Finding(exc.site, "exception", str(exc))
        return OneStep(CheckResult("one-step", "FAIL", str(exc), (), f), "summed", "inside", {}, 0.0,
                       refnet_setting("summed", "inside", lr, count, student.sigmoid, student.loss))
    lines: list[str] = []
    failure: Finding | None = None
    # conventions, from the numbers
    with np.errstate(all="ignore"):
        mean_ref = np.asarray(ref.loss.grad(ref.forward(ref.as_input(x)),
                                            ref.precision.asarray(t, name="t")[None])[0], dtype=np.float64)
    y_out = st.outputs[-1] if st.outputs and st.outputs[-1].shape == t.shape else None
    page14 = None
    if y_out is not None and student.loss == LossInfo("bce", "mean", "2"):
        with np.errstate(all="ignore"):
            page14 = (y_out - t) / (y_out * (1.0 - y_out) * count)
    found_g = detect_gradient(st.loss_grad, mean_ref, count, page14) if st.loss_grad.size == t.size else None
    if found_g == "page14" and gradient_intent == "summed":
        found_g = None   # the page-14 form is a mean's gradient: --gradient sum fails it below
    per_layer = detect_update(st, student)
    orders = {o for o in per_layer.values() if o is not None}
    changed = any(not np.array_equal(b, a) for wb, wa in zip(st.w_before, st.w_after)
                  for b, a in zip(wb.values(), wa.values()) if b.shape == a.shape)
    # neither reading: a known slip's scale (mean or sum) if one reproduces the numbers, else the sum's (the lab's)
    slip_scale = None
    if found_g is None and gradient_intent == "detect" and y_out is not None and st.loss_grad.shape == t.shape:
        slip_scale = diagnose.loss_slip_reading(student.loss.kind, y_out, t, st.loss_grad, count)
    gradient: GradientReading
    if found_g == "page14":
        gradient = "page14"
    elif gradient_intent == "mean" or (gradient_intent == "detect" and (found_g or slip_scale) == "mean"):
        gradient = "mean"
    else:
        gradient = "summed"
    if update_intent != "detect":
        update: UpdateOrder = update_intent
    else:
        update = "after" if orders == {"after"} else "inside"
    g_text = {"mean": "mean loss gradient (refnet default)",
              "summed": f"summed loss gradient (N = {count} x the mean's, the lab's)",
              "page14": f"the lab's page-14 BCE gradient {loss_formula('bce', 'page14').split(',')[0]}"}
    fallback = ""
    if found_g is None and gradient_intent == "detect":
        which = {"mean": "the mean's", "summed": "the sum's"}[gradient]
        fallback = (f"your loss gradient is neither the mean's nor the sum's, so check 2 compares it, and everything "
                    f"after it, with {which}, {loss_formula(student.loss.kind, gradient)}"
                    + (" (the scale of the slip named)" if slip_scale else " (the lab's scale)"))
    lines.append("loss gradient: " + (g_text[found_g] if found_g else fallback or f"the {gradient} one, as asked"))
    lines.append("update: " + ", ".join(f"{k} {v or 'undetermined'}" for k, v in per_layer.items()))
    if st.mutated:
        failure = Finding(st.mutated[0].split(" ")[0], "argument", st.mutated[0])
    elif not changed:
        failure = Finding("net.backward", "update", f"net.backward({lr:g}) left every weight unchanged")
    elif len(orders) > 1:
        inside = [k for k, v in per_layer.items() if v == "inside"]
        after = [k for k, v in per_layer.items() if v == "after"]
        failure = Finding("net.backward", "update order",
                          f"the layers disagree on the update order: {', '.join(inside)} update before sending "
                          f"the gradient down, {', '.join(after)} after", {"per_layer": dict(per_layer)})
    elif update_intent != "detect" and orders and orders != {update_intent}:
        name = next(k for k, v in reversed(list(per_layer.items())) if v is not None)  # first in backward order
        if update_intent == "after":
            msg = (f"{name}.backward sends the gradient down through the updated weights "
                   "(returns prev_grad @ (w - lr dw)^T): the update is applied before the gradient is "
                   "computed, but --update after was asked for")
        else:
            msg = (f"{name}.backward sends the gradient down through the old weights "
                   "(prev_grad @ w^T before the update), but --update inside was asked for")
        failure = Finding(f"{name}.backward", "update order", msg, {"per_layer": dict(per_layer)})
    elif gradient_intent != "detect" and found_g in ("mean", "summed") and found_g != gradient_intent:
        kind = student.loss.kind
        msg = (f"loss_func.backward computes {loss_formula(kind, found_g)}, the {found_g} loss gradient"
               + (f" ({count} x the mean's)" if found_g == "summed" else "")
               + f"; expected {loss_formula(kind, gradient_intent)}"
               + (f": the division by the batch size N = {count} is missing" if found_g == "summed" else "")
               + f", but --gradient {asked} was asked for")
        failure = Finding("loss_func.backward", "loss gradient", msg)
    setting = refnet_setting(gradient, update, lr, count, student.sigmoid, student.loss)
    walker = build_refnet(student, student.net, relu=setting.relu)  # the pristine weights, as net_s had them
    published = setting.convention if isinstance(setting.convention, Published) else None
    wk = walk(student, walker, x, t, lr, gradient, update, published)
    rt = wk.trace
    change_bounds: dict[str, Arr] = {}
    checks: list[tuple[str, str, Arr, Arr, Arr]] = []
    for i, info in enumerate(student.layers):
        checks.append((f"{info.name}.forward", "output", st.outputs[i], rt.outputs[i], wk.bound_outputs[i]))
    checks.append(("loss_func.forward", "loss", np.array([st.loss]), np.array([rt.loss]), np.array([wk.bound_loss])))
    checks.append(("loss_func.backward", "loss gradient", st.loss_grad, rt.loss_grad, wk.bound_loss_grad))
    for i in range(len(student.layers) - 1, -1, -1):
        info = student.layers[i]
        for p in ("w", "b"):
            if p in rt.w_before[i]:
                ch_s = st.w_after[i][p] - st.w_before[i][p] if st.w_after[i][p].shape == st.w_before[i][p].shape \
                    else st.w_after[i][p]
                ch_r = (rt.w_after[i][p] - rt.w_before[i][p]).reshape(st.w_before[i][p].shape)
                bound = wk.bound_change[i][p].reshape(ch_r.shape)
                change_bounds[f"{info.name}.{'W' if p == 'w' else 'b'}"] = bound
                checks.append((f"{info.name}.backward", f"{p} change", ch_s, ch_r, bound))
        checks.append((f"{info.name}.backward", "returned gradient", st.returned[i], rt.returned[i],
                       wk.bound_returned[i]))
    worst_ulps = 0.0
    for site, quantity, got, want, bound in checks:
        line, found, u = _compare(site, quantity, got, want, bound)
        lines.append(line)
        worst_ulps = max(worst_ulps, u)
        if found is not None and failure is None:
            why = _explain(student, st, x, t, lr, site, quantity, update)
            if site == "loss_func.backward" and fallback:
                why = (why + "; " if why else "") + fallback
            failure = found if not why else Finding(found.site, found.quantity, f"{why}. In numbers: {found.message}",
                                                    {**found.fields, "explanation": why})
    g_short = "the lab's page-14" if gradient == "page14" else gradient
    conv = f"{g_short} loss gradient, update {update} backward" if update == "inside" else \
        f"{g_short} loss gradient, update after the gradient is sent down"
    data: dict[str, object] = {"gradient": gradient, "update": update, "per_layer_update": dict(per_layer),
                               "refnet_convention": setting.name, "hazards": list(st.hazards)}
    if failure is None:
        summary = (f"every output, gradient and weight change within the rounding bound (worst {worst_ulps:.3g} "
                   f"ulps); {conv}; refnet {setting.describe()}")
        res = CheckResult("one-step", "PASS", summary, tuple(lines), None, {**data, "worst_ulps": worst_ulps})
    else:
        res = CheckResult("one-step", "FAIL", failure.message, tuple(lines), failure, data)
    return OneStep(res, gradient, update, change_bounds, wk.bound_loss, setting, tuple(st.hazards))
