"""Check 3: N epochs of the student's network and of refnet from the same weights.

The convention settled by check 2 picks refnet's (:mod:`verify.compare.setting`):
the lab's published arithmetic ``convention="lab"`` when the student's conventions
are the lab's, else a :class:`refnet.conventions.Reading` (update inside) or
``default`` (update after; summed and after is ``default`` at ``lr x N``, equal in
exact arithmetic, so compared within rounding bounds, not bit for bit).

The rounding bound grows over a run as the dynamics amplify or damp small
differences. It is measured, not guessed: refnet trains the reference and
:data:`TWINS` twin members (one ensemble, each member bit for bit its own run)
whose weights are pushed, after every epoch, by twice check 2's one-step
bound on each weight change: with all signs +, all -, two fixed random sign
patterns and two patterns redrawn every epoch. The largest spread between a
twin and the reference is how far a difference of one rounding bound per step
travels; the student departs at the first epoch where its loss or any weight
is further from refnet's than ``SAFETY x`` that spread plus the one-step
bound, per tensor.

When the spread reaches :data:`HORIZON` of the values themselves (the run is
chaotic at this rate: rounding alone changes the trajectory), later epochs
cannot tell a mistake from rounding; the check stops there and says so. It
stops the same way when refnet's own run (or a twin) goes non-finite: the
rate diverges from these weights (the lab's network without activations does
at ``lr = 0.01``), and nothing after can be compared.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from refnet import gradcheck as gc
from refnet.train import train

from . import bounds as bd
from .adapter import Student, StudentError, call, get_b, get_w
from .diagnose import relative_words
from .onestep import build_refnet
from .report import CheckResult, Finding
from .setting import Setting

__all__ = ["run", "TWINS", "HORIZON"]

TWINS = 6
HORIZON = 1e-3
"""Relative size of the grown bound beyond which a run gives no verdict."""

Arr = npt.NDArray[np.float64]


def _student_params(student: Student, net: object) -> dict[str, Arr]:
    out: dict[str, Arr] = {}
    for info, (_, layer) in zip(student.layers, student.layer_objects(net)):
        if info.kind == "linear":
            out[f"{info.name}.W"] = get_w(layer).copy()
            if info.has_bias:
                out[f"{info.name}.b"] = get_b(layer).copy()
    return out


def run(student: Student, x: Arr, t: Arr, lr: float, epochs: int, setting: Setting,
        change_bounds: dict[str, Arr], loss_bound: float) -> CheckResult:
    count = int(t.size)
    convention, lr_ref, name = setting.convention, setting.lr, setting.name
    net_s = student.fresh()
    ref = build_refnet(student, net_s, members=1 + TWINS, relu=setting.relu)
    fixed = [np.random.default_rng([0, j]) for j in range(2)]
    patterns = {k: [np.ones(b.shape), -np.ones(b.shape)]
                + [np.where(g.uniform(size=b.shape) < 0.5, -1.0, 1.0) for g in fixed]
                for k, b in change_bounds.items()}
    redraw = np.random.default_rng([0, 2])
    loss_scale = setting.loss_factor(student.loss, count)
    worst = 0.0
    worst_bound = 0.0
    described = f"refnet {setting.describe()}"
    for epoch in range(1, epochs + 1):
        try:
            y = call("net.forward", getattr(net_s, "forward"), x.copy())
            s_loss = float(np.asarray(call("net.cal_loss", getattr(net_s, "cal_loss"), y, t.copy())))
            call("net.backward", getattr(net_s, "backward"), lr)
        except StudentError as exc:
            f = Finding(exc.site, "exception", f"epoch {epoch}: {exc}", {"epoch": epoch})
            return CheckResult("run", "FAIL", f.message, (described,), f, {"epoch": epoch})
        # guard off: this check looks for non-finite values itself and stops without a verdict (_diverged)
        h = train(ref, x, t, lr=lr_ref, epochs=1, convention=convention, guard="off")
        r_losses = np.asarray(h.loss[0], dtype=np.float64) * loss_scale
        params = ref.named_params()
        if not (np.all(np.isfinite(r_losses)) and all(np.all(np.isfinite(v)) for v in params.values())):
            return _diverged(epoch, epochs, worst, described, name, lr_ref, bool(np.isfinite(s_loss)))
        gap = abs(s_loss - float(r_losses[0]))
        loss_spread = float(np.max(np.abs(r_losses[1:] - r_losses[0])))
        tol = gc.SAFETY * loss_spread + 2.0 * gc.SAFETY * loss_bound
        if loss_spread > HORIZON * abs(float(r_losses[0])):
            return _horizon(epoch, epochs, worst, described, name, lr_ref)
        if not gap <= tol:
            r_loss = float(r_losses[0])
            msg = (f"the loss departs from refnet's at epoch {epoch}: expected {r_loss!r}, got {s_loss!r} "
                   f"({relative_words(s_loss, r_loss)}; "
                   f"{float(bd.ulps(np.array([s_loss]), r_losses[:1])[0]):.3g} ulps where the bound grown by then "
                   f"allows {float(bd.ulps(r_losses[:1] + tol, r_losses[:1])[0]):.3g})")
            f = Finding("loss_func.forward", "loss", msg, {"epoch": epoch})
            return CheckResult("run", "FAIL", msg, (described,), f, {"epoch": epoch})
        s_params = _student_params(student, net_s)
        for key, value in params.items():
            r0 = np.asarray(value[0], dtype=np.float64)
            twins = np.asarray(value[1:], dtype=np.float64)
            s = s_params[key]
            if s.size != r0.size:
                msg = f"{key} changes shape to {s.shape} at epoch {epoch} (refnet {r0.shape})"
                f = Finding(key, "shape", msg, {"epoch": epoch})
                return CheckResult("run", "FAIL", msg, (described,), f, {"epoch": epoch})
            s = s.reshape(r0.shape)
            spread = float(np.max(np.abs(twins - r0), initial=0.0))
            if spread > HORIZON * float(np.max(np.abs(r0), initial=0.0)):
                return _horizon(epoch, epochs, worst, described, name, lr_ref)
            one = 2.0 * gc.SAFETY * change_bounds.get(key, np.zeros(r0.shape)).reshape(r0.shape)
            tol_p = gc.SAFETY * spread + one
            diff = np.abs(s - r0)
            u = bd.ulps(s, r0)
            worst = max(worst, float(np.max(u, initial=0.0)))
            worst_bound = max(worst_bound, float(np.max(bd.ulps(r0 + tol_p, r0), initial=0.0)))
            if np.any(~(diff <= tol_p)):
                k = np.unravel_index(int(np.argmax(diff - tol_p)), diff.shape)
                idx = ",".join(str(int(i)) for i in k)
                got, want = float(s[k]), float(r0[k])
                sizes = (f"{float(u[k]):.3g} ulps where the bound grown by then allows "
                         f"{float(bd.ulps(r0 + tol_p, r0)[k]):.3g}" if want != 0.0 else
                         f"the bound grown by then allows {float(tol_p[k]):.3g} in absolute value")
                msg = (f"{key}[{idx}] departs from refnet's at epoch {epoch}: expected {want!r}, got {got!r} "
                       f"({relative_words(got, want)}; {sizes})")
                f = Finding(key, "weight", msg, {"epoch": epoch, "ulps": float(u[k])})
                return CheckResult("run", "FAIL", msg, (described,), f, {"epoch": epoch})
            bound = change_bounds.get(key)
            if bound is not None:
                signs = patterns[key] + [np.where(redraw.uniform(size=bound.shape) < 0.5, -1.0, 1.0)
                                         for _ in range(TWINS - len(patterns[key]))]
                new = value.copy()
                for j, sign in enumerate(signs):
                    new[1 + j] = new[1 + j] + (2.0 * sign * bound).reshape(new[1 + j].shape)
                ref.set_params({key: new})
    summary = (f"agrees to within {worst:.3g} ulps over {epochs} epochs "
               f"(bound grown to {worst_bound:.3g} ulps); {described}")
    return CheckResult("run", "PASS", summary, (described,), None,
                       {"epochs": epochs, "worst_ulps": worst, "bound_ulps": worst_bound,
                        "refnet_convention": name, "refnet_lr": lr_ref})


def _diverged(epoch: int, epochs: int, worst: float, setting: str, convention: str, lr_ref: float,
              student_finite: bool) -> CheckResult:
    """refnet's own run (or a twin) went non-finite: nothing later can be compared."""
    yours = "" if student_finite else ", and so does yours"
    summary = (f"agrees to within {worst:.3g} ulps for {epoch - 1} of {epochs} epochs; at epoch {epoch} refnet's own "
               f"run goes non-finite (the rate diverges from these weights){yours}; later epochs give no "
               f"verdict; {setting}")
    return CheckResult("run", "PASS", summary, (setting,), None,
                       {"epochs": epoch - 1, "diverged": epoch, "worst_ulps": worst,
                        "refnet_convention": convention, "refnet_lr": lr_ref})


def _horizon(epoch: int, epochs: int, worst: float, setting: str, convention: str, lr_ref: float) -> CheckResult:
    summary = (f"agrees to within {worst:.3g} ulps for {epoch - 1} of {epochs} epochs; from epoch {epoch} "
               f"rounding alone moves refnet's own twins by more than {HORIZON:g} of the values (the run is "
               f"chaotic at this rate), so later epochs give no verdict; {setting}")
    return CheckResult("run", "PASS", summary, (setting,), None,
                       {"epochs": epoch - 1, "horizon": epoch, "worst_ulps": worst,
                        "refnet_convention": convention, "refnet_lr": lr_ref})
