"""Load a student's lab-structured network and recognise its layers by behaviour.

The contract (the lab's structure): an instance of the class, built with no
arguments, has ``layers`` (an ordered mapping name -> layer), ``loss_func`` with
``forward(y, ground_truth)`` and ``backward()``, and ``forward(x)``,
``cal_loss(y, ground_truth)``, ``backward(lr)``. Each layer has ``forward(x)`` and
``backward(prev_grad, lr)``. A layer with a 2-D float64 array ``w`` of shape
``(in, out)`` is Linear-like; its bias ``b`` of shape ``(out,)`` or ``(1, out)`` is
used when ``has_bias`` is truthy. A layer without ``w`` is recognised from what
it computes on probe inputs: sigmoid, ReLU, tanh or identity; a sigmoid's formula
(the naive ``1 / (1 + exp(-x))`` or refnet's stable one) is read from its bits on
a probe, so refnet can compute the same one. The loss is
recognised the same way: mean or summed squared error, or binary cross-entropy
with the lab's ``delta = 1e-7`` inside the logs, in nats (``log``) or in bits
(``log2``: the lab's published BCE reports the batch mean in bits).

Nothing here modifies the student's object: every probe runs on a deep copy.
Importing the student's file runs their code.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from refnet.layers import SigmoidFormula, naive_sigmoid, sigmoid

__all__ = [
    "Kind", "LossKind", "Reduction", "LogBase", "AdapterError", "StudentError", "LayerInfo", "LossInfo",
    "Student", "load", "recognise", "call", "get_w", "get_b", "set_w", "set_b", "BCE_DELTA",
]

Arr = npt.NDArray[np.float64]
Kind = Literal["linear", "sigmoid", "relu", "tanh", "identity"]
LossKind = Literal["mse", "bce"]
Reduction = Literal["mean", "sum"]
LogBase = Literal["e", "2"]
"""The base of a BCE's logarithms: ``e`` (nats) or ``2`` (bits, the lab's published report)."""

BCE_DELTA = 1e-7
"""The lab's ``delta`` inside the logarithms of its binary cross-entropy."""
_RECOGNISE_RTOL = 1e-6


class AdapterError(Exception):
    """The object does not fit the lab structure (exit status 2)."""


class StudentError(Exception):
    """The student's code raised while a check ran it (a check failure, exit 1)."""

    def __init__(self, site: str, exc: BaseException) -> None:
        super().__init__(f"{site} raised {type(exc).__name__}: {exc}")
        self.site = site
        self.exc = exc


def call(site: str, fn: Callable[..., object], *args: object, **kwargs: object) -> object:
    """Run student code; any exception becomes a :class:`StudentError` naming ``site``."""
    try:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - student code may raise anything
        raise StudentError(site, exc) from exc


@dataclass(frozen=True)
class LayerInfo:
    """What one layer was recognised as."""

    name: str
    kind: Kind
    width_in: int
    width_out: int
    has_bias: bool = False
    bias_shape: tuple[int, ...] = ()
    formula: SigmoidFormula | None = None
    """A sigmoid's formula when its bits match one of refnet's (``None``: neither, or not a sigmoid)."""

    def describe(self) -> str:
        if self.kind == "linear":
            bias = f"bias {self.bias_shape}" if self.has_bias else "no bias"
            return f"{self.name}: Linear {self.width_in} -> {self.width_out}, {bias}"
        if self.kind == "sigmoid":
            how = _FORMULA_TEXT[self.formula] if self.formula else "neither refnet formula bit for bit"
            return f"{self.name}: sigmoid (width {self.width_in}), {how}"
        return f"{self.name}: {self.kind} (width {self.width_in})"


_FORMULA_TEXT = {"naive": "naive 1 / (1 + exp(-x)) bit for bit", "stable": "refnet's stable formula bit for bit"}


@dataclass(frozen=True)
class LossInfo:
    """What ``loss_func.forward`` was recognised as."""

    kind: LossKind
    reduction: Reduction
    base: LogBase = "e"
    """The base of a BCE's logarithms (``e`` for squared error)."""

    def describe(self) -> str:
        what = "squared error" if self.kind == "mse" else f"binary cross-entropy (delta {BCE_DELTA:g})"
        unit = ", in bits (log2)" if self.base == "2" else ""
        return f"loss_func: {self.reduction} {what}{unit}"

    @property
    def log_scale(self) -> float:
        """``ln(base)``: the forward's value times this is in nats."""
        return math.log(2.0) if self.base == "2" else 1.0


@dataclass(frozen=True)
class Student:
    """A loaded student network (kept pristine) and what the adapter recognised."""

    spec: str
    net: object
    layers: tuple[LayerInfo, ...]
    loss: LossInfo

    def fresh(self) -> object:
        """A deep copy of the network as built (the checks never touch ``net``)."""
        return copy.deepcopy(self.net)

    def layer_objects(self, net: object) -> list[tuple[str, object]]:
        layers = getattr(net, "layers")
        return [(str(k), v) for k, v in layers.items()]

    @property
    def sigmoid(self) -> SigmoidFormula:
        """The formula all the sigmoid layers share bit for bit; ``stable`` when they do not.

        A network without sigmoid layers gets ``naive``: the formula computes nothing there,
        and it lets the lab's published arithmetic (naive) match a network without sigmoids.
        """
        found = {info.formula for info in self.layers if info.kind == "sigmoid"}
        if found <= {"naive"}:
            return "naive"
        return "stable"

    def describe(self) -> list[str]:
        return [info.describe() for info in self.layers] + [self.loss.describe()]


# ----------------------------------------------------------------- parameters

def get_w(layer: object) -> Arr:
    w: Arr = np.asarray(getattr(layer, "w"))
    return w


def get_b(layer: object) -> Arr:
    b: Arr = np.asarray(getattr(layer, "b"))
    return b


def set_w(layer: object, w: Arr) -> None:
    setattr(layer, "w", np.array(w, dtype=np.float64, copy=True))


def set_b(layer: object, b: Arr, shape: tuple[int, ...]) -> None:
    setattr(layer, "b", np.array(b, dtype=np.float64, copy=True).reshape(shape))


# ----------------------------------------------------------------- loading

def load(spec: str) -> object:
    """Import ``path/to/file.py:ClassName`` and build ``ClassName()``."""
    path_text, sep, class_name = spec.rpartition(":")
    if not sep or not path_text or not class_name:
        raise AdapterError(f"expected path/to/student.py:ClassName, got {spec!r}")
    path = Path(path_text)
    if not path.is_file():
        raise AdapterError(f"{path}: no such file")
    name = f"_refnet_compare_student_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise AdapterError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, str(path.resolve().parent))
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the student's module may raise anything
        raise AdapterError(f"importing {path} raised {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.pop(0)
    cls = getattr(module, class_name, None)
    if cls is None or not callable(cls):
        raise AdapterError(f"{path} defines no class {class_name!r}")
    try:
        with np.errstate(all="ignore"):
            return cls()
    except Exception as exc:  # noqa: BLE001
        raise AdapterError(f"{class_name}() raised {type(exc).__name__}: {exc} "
                           "(the class must be buildable without arguments)") from exc


# ----------------------------------------------------------------- recognition

def _sigmoid(x: Arr) -> Arr:
    out: Arr = 1.0 / (1.0 + np.exp(-x))
    return out


_ACTIVATIONS: tuple[tuple[Kind, Callable[[Arr], Arr]], ...] = (
    ("sigmoid", _sigmoid),
    ("relu", lambda x: np.maximum(x, 0.0)),
    ("tanh", np.tanh),
    ("identity", lambda x: x.copy()),
)


def _close(a: Arr, b: Arr) -> bool:
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= _RECOGNISE_RTOL * (np.abs(b) + 1e-12)))


def _require(obj: object, attr: str, what: str) -> object:
    if not hasattr(obj, attr):
        raise AdapterError(f"{what} has no attribute {attr!r}; expected the lab's structure: {_CONTRACT}")
    return getattr(obj, attr)


_CONTRACT = ("net.layers (ordered mapping name -> layer with forward(x) and backward(prev_grad, lr)), "
             "net.loss_func (forward(y, ground_truth), backward()), net.forward(x), "
             "net.cal_loss(y, ground_truth), net.backward(lr)")


def _as_output(site: str, value: object, shape: tuple[int, ...]) -> Arr:
    arr = np.asarray(value)
    if arr.dtype.kind != "f" or arr.shape != shape:
        raise AdapterError(f"{site} returned {type(value).__name__} of shape {getattr(arr, 'shape', '?')} "
                           f"dtype {arr.dtype}; expected a float array of shape {shape}")
    out: Arr = arr.astype(np.float64, copy=False)
    return out


def _linear_info(name: str, layer: object, width: int | None) -> LayerInfo:
    w = np.asarray(getattr(layer, "w"))
    if w.ndim != 2 or w.dtype != np.float64:
        raise AdapterError(f"{name}.w: expected a 2-D float64 array (in, out), got shape {w.shape} dtype {w.dtype}")
    fin, fout = int(w.shape[0]), int(w.shape[1])
    if width is not None and width != fin:
        raise AdapterError(f"{name}.w has {fin} input rows but the layer before gives {width} features")
    has_bias = bool(getattr(layer, "has_bias", False)) and hasattr(layer, "b")
    shape: tuple[int, ...] = ()
    if has_bias:
        b = np.asarray(getattr(layer, "b"))
        if b.shape not in ((fout,), (1, fout)) or b.dtype != np.float64:
            raise AdapterError(f"{name}.b: expected float64 of shape ({fout},) or (1, {fout}), "
                               f"got shape {b.shape} dtype {b.dtype}")
        shape = tuple(int(s) for s in b.shape)
    probe = np.random.default_rng(1).standard_normal((3, fin))
    clone = copy.deepcopy(layer)
    try:
        out = _as_output(f"{name}.forward", call(f"{name}.forward", getattr(clone, "forward"), probe.copy()),
                         (3, fout))
    except StudentError as exc:
        raise AdapterError(str(exc)) from exc
    expect = probe @ w + (np.asarray(getattr(layer, "b")).reshape(1, fout) if has_bias else 0.0)
    if not _close(out, expect):
        raise AdapterError(f"{name} holds w {w.shape} but its forward is not x @ w + b on a probe input "
                           f"(largest difference {float(np.max(np.abs(out - expect))):.3g})")
    return LayerInfo(name, "linear", fin, fout, has_bias, shape)


def _activation_info(name: str, layer: object, width: int) -> LayerInfo:
    probe = np.linspace(-3.0, 3.0, 4 * width).reshape(4, width)
    probe[0, 0] = 0.25  # no exact zero at a probe row: ReLU and identity differ on signs only
    clone = copy.deepcopy(layer)
    try:
        out = _as_output(f"{name}.forward", call(f"{name}.forward", getattr(clone, "forward"), probe.copy()),
                         probe.shape)
    except StudentError as exc:
        raise AdapterError(str(exc)) from exc
    for kind, fn in _ACTIVATIONS:
        if _close(out, fn(probe)):
            return LayerInfo(name, kind, width, width, formula=_sigmoid_formula(name, layer, width)
                             if kind == "sigmoid" else None)
    raise AdapterError(f"{name} has no weights w and computes none of sigmoid, ReLU, tanh, identity "
                       "on probe inputs in [-3, 3]")


def _sigmoid_formula(name: str, layer: object, width: int) -> SigmoidFormula | None:
    """``naive`` or ``stable`` when the layer's output equals that refnet formula bit for bit on a probe.

    The two formulas round differently for about half of the negative inputs,
    so 64 rows of spread-out inputs tell them apart (tested); ``None`` when the
    bits match neither, or both.
    """
    probe = np.random.default_rng(3).standard_normal((64, width)) * 6.0
    try:
        out = _as_output(f"{name}.forward", call(f"{name}.forward", getattr(copy.deepcopy(layer), "forward"),
                                                 probe.copy()), probe.shape)
    except StudentError as exc:
        raise AdapterError(str(exc)) from exc
    with np.errstate(all="ignore"):
        matches = [f for f, fn in (("naive", naive_sigmoid), ("stable", sigmoid))
                   if out.tobytes() == fn(probe).tobytes()]
    if len(matches) != 1:
        return None
    return "naive" if matches[0] == "naive" else "stable"


def _loss_info(net: object, width: int) -> LossInfo:
    loss = _require(net, "loss_func", "the network")
    for attr in ("forward", "backward"):
        _require(loss, attr, "loss_func")
    rng = np.random.default_rng(2)
    y = rng.uniform(0.05, 0.95, (6, width))
    t = (rng.uniform(0.0, 1.0, (6, width)) > 0.5).astype(np.float64)
    try:
        raw = call("loss_func.forward", getattr(copy.deepcopy(loss), "forward"), y.copy(), t.copy())
    except StudentError as exc:
        raise AdapterError(str(exc)) from exc
    value = np.asarray(raw, dtype=np.float64)
    if value.size != 1:
        raise AdapterError(f"loss_func.forward returned shape {value.shape}; expected a scalar")
    v = float(value.reshape(()))
    sq = (y - t) ** 2
    bce = -(t * np.log(y + BCE_DELTA) + (1.0 - t) * np.log((1.0 - y) + BCE_DELTA))
    bits = 1.0 / math.log(2.0)
    candidates: tuple[tuple[LossKind, Reduction, LogBase, float], ...] = (
        ("mse", "mean", "e", float(np.mean(sq))), ("mse", "sum", "e", float(np.sum(sq))),
        ("bce", "mean", "e", float(np.mean(bce))), ("bce", "sum", "e", float(np.sum(bce))),
        ("bce", "mean", "2", float(np.mean(bce)) * bits), ("bce", "sum", "2", float(np.sum(bce)) * bits))
    for kind, reduction, base, expect in candidates:
        if abs(v - expect) <= _RECOGNISE_RTOL * abs(expect):
            return LossInfo(kind, reduction, base)
    c = [f"{e:.10g}" for *_, e in candidates]
    raise AdapterError(f"loss_func.forward gives {v:.10g} on a probe; expected mean or summed squared error "
                       f"({c[0]} / {c[1]}) or binary cross-entropy with delta {BCE_DELTA:g} in nats "
                       f"({c[2]} / {c[3]}) or in bits ({c[4]} / {c[5]})")


def recognise(net: object, spec: str = "") -> Student:
    """Check the lab structure and recognise every layer and the loss (on copies)."""
    for attr in ("layers", "forward", "cal_loss", "backward"):
        _require(net, attr, "the network")
    layers = getattr(net, "layers")
    if not isinstance(layers, Mapping) or not layers:
        raise AdapterError(f"net.layers: expected a non-empty ordered mapping name -> layer, got {type(layers).__name__}")
    infos: list[LayerInfo] = []
    width: int | None = None
    for key, layer in layers.items():
        name = str(key)
        for attr in ("forward", "backward"):
            _require(layer, attr, f"layer {name!r}")
        if hasattr(layer, "w"):
            info = _linear_info(name, layer, width)
        else:
            if width is None:
                raise AdapterError(f"{name}: the first layer must be Linear-like (hold w) so the input width is known")
            info = _activation_info(name, layer, width)
        infos.append(info)
        width = info.width_out
    if width is None or not any(i.kind == "linear" for i in infos):
        raise AdapterError("net.layers holds no Linear-like layer (with w)")
    return Student(spec, net, tuple(infos), _loss_info(net, width))
