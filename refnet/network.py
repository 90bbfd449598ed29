"""A sequential network of layers with a loss, and the lab's 2-4-4-1 builder.

The network owns the order of computation: it runs each layer forward,
the loss, and each layer backward, describing every array it produces to an
optional observer (see :mod:`refnet.observe`). It computes gradients; it
never applies them (see :mod:`refnet.optim`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .init import INITIALISERS, InitName, draw_layer
from .kernels import KERNELS, Kernel, KernelName
from .kernels import kernel as kernel_named
from .layers import ACTIVATIONS, ActivationName, Layer, Linear, ReLU, ReLUFormula, Sigmoid, SigmoidFormula
from .losses import LOSSES, Loss, LossName, Reduction, make_loss
from .observe import Observer, Site
from .validation import check_bool, check_choice, check_int, check_real, real_array
from .precision import DTypeLike, FloatArray, Precision, precision

__all__ = ["Network", "Gradients", "mlp", "SeedLike", "UnknownParameterError", "PARAMS_BYTES", "check_observer"]

SeedLike = int | np.random.Generator | Sequence[int] | Sequence[np.random.Generator]

Gradients = list[dict[str, FloatArray]]
"""Parameter gradients, one dict per layer (empty for activations)."""

_ROLE = {"W": "weight", "b": "bias"}

PARAMS_BYTES = 4 * 1024**3
"""Largest parameter set :func:`mlp` allocates (``members x n_params x itemsize``)."""

_LAYER_METHODS = ("forward", "grad_input", "grad_params")
_LOSS_METHODS = ("terms", "value", "grad", "term_grad", "link")
_KERNEL_METHODS = ("matmul", "matmul_nt", "matmul_tn", "sum_rows")


class UnknownParameterError(KeyError, ValueError):
    """A parameter name the network does not have: a ``KeyError`` (a lookup by name
    failed) and a ``ValueError`` (a bad argument), its message naming ``params``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _check_protocol(name: str, value: object, what: str, methods: Sequence[str]) -> None:
    missing = [m for m in methods if not callable(getattr(value, m, None))]
    if missing:
        raise TypeError(f"{name}: expected {what} (with {', '.join(methods)}), got {value!r} "
                        f"(no {', '.join(missing)})")


def check_observer(observer: object, name: str = "observer") -> None:
    """``None`` or an object with ``at`` and ``observe`` (see :class:`refnet.observe.Observer`)."""
    if observer is not None:
        _check_protocol(name, observer, "an Observer or None", ("at", "observe"))


@dataclass(frozen=True)
class _LayerSites:
    forward: Site
    grad_input: Site
    grads: dict[str, Site]
    updates: dict[str, Site]


def _sites(index: int, layer: Layer) -> _LayerSites:
    kind = type(layer).__name__
    is_linear = isinstance(layer, Linear)
    op = ("x @ W + b" if "b" in layer.params else "x @ W") if is_linear else kind.lower()
    return _LayerSites(
        forward=Site("forward", index, layer.name, kind, op,
                     "pre-activation" if is_linear else "activation"),
        grad_input=Site("backward", index, layer.name, kind,
                        "dy @ W^T" if is_linear else f"d{kind.lower()}", "input gradient"),
        grads={
            p: Site("backward", index, layer.name, kind,
                    "x^T @ dy" if p == "W" else "sum(dy)", f"{_ROLE.get(p, p)} gradient")
            for p in layer.params
        },
        updates={
            p: Site("update", index, layer.name, kind, f"{p} - lr * d{p}", _ROLE.get(p, p))
            for p in layer.params
        },
    )


class Network:
    """Layers applied in order, then a loss; all arrays in one precision.

    Parameters carry a leading member axis ``K``: a single network has
    ``K = 1``, an ensemble trains ``K`` networks with the same formulas.
    """

    def __init__(self, layers: Sequence[Layer], loss: Loss, dtype: DTypeLike,
                 observer: Observer | None = None) -> None:
        given: object = layers  # callers without a type checker may pass anything
        if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
            raise TypeError(f"layers: expected a sequence of layers, got {layers!r}")
        if not layers:
            raise ValueError("layers: a network needs at least one layer")
        for i, layer in enumerate(layers):
            _check_protocol(f"layers[{i}]", layer, "a Layer", _LAYER_METHODS)
            if not isinstance(getattr(layer, "params", None), dict) or not isinstance(getattr(layer, "name", None), str):
                raise TypeError(f"layers[{i}]: expected a Layer with a name (str) and params (dict), got {layer!r}")
        if not any(isinstance(layer, Linear) for layer in layers):
            raise ValueError("layers: a network needs at least one Linear layer")
        _check_protocol("loss", loss, "a Loss", _LOSS_METHODS)
        check_observer(observer)
        self.layers = list(layers)
        self.loss = loss
        self.precision: Precision = precision(dtype)
        self.observer = observer
        members = {p.shape[0] for layer in self.layers for p in layer.params.values()}
        if len(members) != 1:
            raise ValueError(f"layers: parameters disagree on the member axis: {sorted(members)}")
        self.members: int = members.pop()
        for name, p in self.named_params().items():
            if p.dtype != self.precision.dtype:
                raise TypeError(f"{name}: dtype {p.dtype}, network is {self.precision}")
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"layers: names must be unique, got {names}")
        self._sites = [_sites(i, layer) for i, layer in enumerate(self.layers)]
        width, self._widths = self.in_features, []
        for layer in self.layers:  # each layer's output width: what its dy must have
            width = layer.out_features if isinstance(layer, Linear) else width
            self._widths.append(width)
        self._loss_terms = Site("loss", None, loss.name, type(loss).__name__, "terms", "loss terms")
        self._loss_grad = Site("loss", None, loss.name, type(loss).__name__, "dL/dy", "loss gradient")

    # -- shape information ---------------------------------------------------
    @property
    def linears(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    @property
    def in_features(self) -> int:
        return self.linears[0].in_features

    @property
    def out_features(self) -> int:
        return self.linears[-1].out_features

    # -- parameters ----------------------------------------------------------
    def named_params(self) -> dict[str, FloatArray]:
        """Parameters by ``layer.param`` name, in network order (no copies)."""
        return {f"{layer.name}.{p}": v for layer in self.layers for p, v in layer.params.items()}

    def get_params(self) -> dict[str, FloatArray]:
        """Copies of the parameters by name, each ``(K, ...)``."""
        return {k: v.copy() for k, v in self.named_params().items()}

    def set_params(self, values: dict[str, npt.ArrayLike]) -> None:
        """Replace parameters by name; all are checked before any is written."""
        if not isinstance(values, Mapping):
            raise TypeError(f"params: expected a dict of arrays by parameter name, got {type(values).__name__}")
        current = self.named_params()
        unknown = sorted(map(repr, set(values) - set(current)))
        if unknown:
            raise UnknownParameterError(f"params: unknown names [{', '.join(unknown)}]; known: {sorted(current)}")
        staged: dict[str, FloatArray] = {}
        for name, value in values.items():
            arr = np.asarray(value)
            if arr.shape != current[name].shape:
                raise ValueError(f"{name}: expected shape {current[name].shape}, got {arr.shape}")
            if arr.dtype.kind != "f" and arr.dtype.kind not in "iu":
                raise TypeError(f"{name}: expected real numbers, got dtype {arr.dtype}")
            staged[name] = self.precision.asarray(arr, name=name)
        for layer in self.layers:
            for p in layer.params:
                key = f"{layer.name}.{p}"
                if key in staged:
                    layer.params[p] = staged[key]

    @property
    def n_params(self) -> int:
        """Parameters per member."""
        return sum(int(np.prod(v.shape[1:])) for v in self.named_params().values())

    def get_flat(self) -> FloatArray:
        """All parameters as one ``(K, n_params)`` array, in :meth:`named_params` order."""
        parts = [v.reshape(self.members, -1) for v in self.named_params().values()]
        out: FloatArray = np.concatenate(parts, axis=1)
        return out

    def set_flat(self, flat: npt.ArrayLike) -> None:
        """Inverse of :meth:`get_flat`; accepts ``(n_params,)`` when ``K = 1``."""
        arr = real_array("flat", flat)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.shape != (self.members, self.n_params):
            raise ValueError(f"flat: expected shape {(self.members, self.n_params)}, got {arr.shape}")
        staged: dict[str, npt.ArrayLike] = {}
        start = 0
        for name, v in self.named_params().items():
            size = int(np.prod(v.shape[1:]))
            staged[name] = arr[:, start : start + size].reshape(v.shape)
            start += size
        self.set_params(staged)

    # -- computation ---------------------------------------------------------
    def as_input(self, x: npt.ArrayLike, name: str = "x") -> FloatArray:
        """Validate and convert inputs to ``(1 or K, N, in)`` in this precision."""
        if not isinstance(name, str):
            raise TypeError(f"name: expected the argument's name (str), got {name!r}")
        arr = self.precision.asarray(x, name=name)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3 or arr.shape[-1] != self.in_features or arr.shape[0] not in (1, self.members):
            raise ValueError(
                f"{name}: expected shape (N, {self.in_features}) or (K, N, {self.in_features}) "
                f"with K = {self.members}, got {np.shape(x)}"
            )
        return arr

    def forward(self, x: FloatArray) -> FloatArray:
        """Raw network output ``(K, N, out)`` for prepared input (see :meth:`as_input`)."""
        self._check_prepared("x", x, self.in_features)
        obs = self.observer
        for layer, sites in zip(self.layers, self._sites):
            y = layer.forward(x)
            if obs is not None:
                obs.observe(sites.forward, y, (x,))
            x = y
        return x

    def predict(self, x: npt.ArrayLike) -> FloatArray:
        """Output probabilities ``(K, N, out)`` (the loss's link applied)."""
        with np.errstate(all="ignore"):
            return self.loss.link(self.forward(self.as_input(x)))

    def predict_one(self, x: npt.ArrayLike) -> FloatArray:
        """Output probabilities ``(N, out)`` of a single network (``ValueError`` for an ensemble)."""
        if self.members != 1:
            raise ValueError(f"predict_one: this network has {self.members} members; use predict, "
                             "which keeps the member axis")
        out: FloatArray = self.predict(x)[0]
        return out

    def loss_grad(self, y: FloatArray, t: FloatArray, *, reduction: Reduction | None = None,
                  halve: bool = False) -> tuple[FloatArray, FloatArray]:
        """Elementwise loss terms and ``dL/dy``.

        ``reduction`` overrides the loss's own (``sum``: the gradient of the
        summed terms; ``mean``: divided by the batch's ``N x out`` terms);
        ``halve`` multiplies the gradient by 1/2, exactly (a reading's
        ``(y-t)`` MSE derivative).
        """
        if reduction is not None:
            check_choice("reduction", reduction, ("mean", "sum"))
        check_bool("halve", halve)
        self._check_prepared("y", y, self.out_features)
        self._check_prepared("t", t, self.out_features, rows=y.shape[-2])
        terms = self.loss.terms(y, t)
        if self.observer is not None:  # before the gradient: flags are attributed per operation
            self.observer.observe(self._loss_terms, terms, (y, t))
        grad = self.loss.term_grad(y, t)
        if halve:
            grad = grad * grad.dtype.type(0.5)
        if (reduction or self.loss.reduction) == "mean":
            grad = grad / grad.dtype.type(y.shape[-2] * y.shape[-1])
        if self.observer is not None:
            self.observer.observe(self._loss_grad, grad, (y, t))
        return terms, grad

    def observe_loss(self, terms: FloatArray, grad: FloatArray, inputs: Sequence[FloatArray]) -> None:
        """Tell the observer the loss terms and ``dL/dy`` a convention computed itself
        (as :meth:`loss_grad` does for the loss's own), terms first."""
        if self.observer is not None:
            self.observer.observe(self._loss_terms, terms, inputs)
            self.observer.observe(self._loss_grad, grad, inputs)

    def param_grads(self, index: int, dy: FloatArray) -> dict[str, FloatArray]:
        """Parameter gradients of layer ``index`` given ``dy`` = dL/d(its output)."""
        self._check_index(index)
        self._check_prepared("dy", dy, self._widths[index])
        return self._param_grads(index, dy)

    def input_grad(self, index: int, dy: FloatArray) -> FloatArray:
        """Gradient with respect to the input of layer ``index``."""
        self._check_index(index)
        self._check_prepared("dy", dy, self._widths[index])
        return self._input_grad(index, dy)

    # The backward steps unchecked: for the network's own backward passes (here and in
    # refnet.train.step), whose dy come from its own forward and loss, at every step.
    def _param_grads(self, index: int, dy: FloatArray) -> dict[str, FloatArray]:
        grads = self.layers[index].grad_params(dy)
        if self.observer is not None:
            sites = self._sites[index].grads
            for p, g in grads.items():
                self.observer.observe(sites[p], g, (dy,))
        return grads

    def _input_grad(self, index: int, dy: FloatArray) -> FloatArray:
        dx = self.layers[index].grad_input(dy)
        if self.observer is not None:
            self.observer.observe(self._sites[index].grad_input, dx, (dy,))
        return dx

    def observe_update(self, index: int, name: str, value: FloatArray, inputs: Sequence[FloatArray]) -> None:
        """Tell the observer that parameter ``name`` of layer ``index`` was updated."""
        self._check_index(index)
        if name not in self.layers[index].params:
            raise ValueError(f"name: layer {index} ({self.layers[index].name}) has no parameter {name!r}; "
                             f"it has {sorted(self.layers[index].params)}")
        if self.observer is not None:
            self.observer.observe(self._sites[index].updates[name], value, inputs)

    def gradients(self, x: FloatArray, t: FloatArray) -> tuple[FloatArray, Gradients]:
        """Mean loss per member ``(K,)`` and all parameter gradients (default convention).

        ``x`` and ``t`` are prepared arrays (see :meth:`as_input`), ``(1 or K, N, in)``
        and ``(1 or K, N, out)``."""
        self._check_prepared("x", x, self.in_features)
        self._check_prepared("t", t, self.out_features, rows=x.shape[-2])
        y = self.forward(x)
        terms, dy = self.loss_grad(y, t)
        grads: Gradients = [{} for _ in self.layers]
        for i in range(len(self.layers) - 1, -1, -1):
            grads[i] = self._param_grads(i, dy)
            if i > 0:
                dy = self._input_grad(i, dy)
        return mean_terms(terms), grads

    # -- argument checks of the methods above (cheap: they run every step) ---------
    def _check_prepared(self, name: str, a: object, features: int, rows: int | None = None) -> None:
        if not isinstance(a, np.ndarray) or a.dtype != self.precision.dtype or a.ndim != 3:
            got = (type(a).__name__ if not isinstance(a, np.ndarray) else f"a {a.ndim}-d {a.dtype} array")
            raise TypeError(f"{name}: expected a prepared 3-d {self.precision} array (see Network.as_input), "
                            f"got {got}")
        if a.shape[-1] != features or a.shape[0] not in (1, self.members) or (rows is not None and a.shape[1] != rows):
            n = "N" if rows is None else str(rows)
            raise ValueError(f"{name}: expected shape (1 or {self.members}, {n}, {features}), got {a.shape}")

    def _check_index(self, index: object) -> None:
        check_int("index", index, 0, len(self.layers) - 1)

    def __repr__(self) -> str:
        inner = ", ".join(f"{layer.name}:{type(layer).__name__}" for layer in self.layers)
        return f"Network([{inner}], loss={self.loss!r}, dtype={self.precision}, members={self.members})"


def mean_terms(terms: FloatArray) -> FloatArray:
    """Mean of the loss terms per member, ``(K,)``, in their precision."""
    # C order first: the order of NumPy's pairwise sum depends on the memory layout.
    out: FloatArray = np.add.reduce(np.ascontiguousarray(terms), axis=(-2, -1)) / terms.dtype.type(terms.shape[-2] * terms.shape[-1])
    return out


def _generator(seed: object, name: str) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_int(name, seed, 0))


def _count_members(seed: object) -> int:
    """Members ``seed`` gives (validated like :func:`_generators`, without creating any generator)."""
    if isinstance(seed, np.random.Generator):
        return 1
    if isinstance(seed, (bool, np.bool_, int, np.integer)):
        check_int("seed", seed, 0)
        return 1
    if isinstance(seed, (str, bytes)) or not isinstance(seed, Sequence):
        raise TypeError(f"seed: expected an integer >= 0, a Generator, or a sequence of them, got {seed!r}")
    if not seed:
        raise ValueError("seed: an empty sequence gives no members")
    for i, s in enumerate(seed):
        if not isinstance(s, np.random.Generator):
            check_int(f"seed[{i}]", s, 0)
    return len(seed)


def _generators(seed: SeedLike) -> list[np.random.Generator]:
    """One generator per member; a string or any other non-sequence is refused by name."""
    if isinstance(seed, (np.random.Generator, int, np.integer)) or isinstance(seed, (bool, np.bool_)):
        return [_generator(seed, "seed")]
    if isinstance(seed, (str, bytes)) or not isinstance(seed, Sequence):
        raise TypeError(f"seed: expected an integer >= 0, a Generator, or a sequence of them, got {seed!r}")
    gens = [_generator(s, f"seed[{i}]") for i, s in enumerate(seed)]
    if not gens:
        raise ValueError("seed: an empty sequence gives no members")
    return gens


def mlp(
    inputs: int = 2,
    hidden: Sequence[int] = (4, 4),
    outputs: int = 1,
    *,
    activation: ActivationName = "sigmoid",
    output_activation: ActivationName = "sigmoid",
    loss: LossName | Loss = "mse",
    bias: Sequence[bool] | None = None,
    init: InitName = "normal",
    dtype: DTypeLike = "float64",
    seed: SeedLike = 0,
    kernel: KernelName | Kernel = "blas",
    bce_delta: float = 1e-7,
    sigmoid: SigmoidFormula = "stable",
    relu: ReLUFormula = "max",
    observer: Observer | None = None,
) -> Network:
    """Build the lab's perceptron (defaults: 2-4-4-1, sigmoid, MSE, float64).

    ``bias`` lists, per Linear layer, whether it has a bias; the default is the
    lab's: every hidden layer has one, the output layer has none. Layers are
    named as in the lab: ``linear_1``, ``<activation>_1``, ..., ``output``.
    ``seed`` gives one member per seed or generator; each member's weights
    are drawn from its own generator, so member ``k`` of an ensemble equals
    the network built alone from ``seed[k]``. With ``loss="bce-logits"`` the
    output sigmoid is fused into the loss. ``sigmoid`` picks the formula of
    every Sigmoid layer (``naive``: the lab's ``1 / (1 + exp(-x))``), ``relu``
    that of every ReLU layer (``mask``: the lab's, see :class:`refnet.layers.ReLU`).
    """
    # Every argument is checked here, before a generator given as seed is drawn from.
    prec = precision(dtype)
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden: expected a sequence of layer widths such as (4, 4), got {hidden!r}")
    sigmoid = check_choice("sigmoid", sigmoid, ("stable", "naive"))
    relu = check_choice("relu", relu, ("max", "mask"))
    for name, value in (("inputs", inputs), ("outputs", outputs), *((f"hidden[{i}]", h) for i, h in enumerate(hidden))):
        check_int(name, value, 1)
    for name, act in (("activation", activation), ("output_activation", output_activation)):
        check_choice(name, act, ACTIVATIONS)
    check_choice("init", init, INITIALISERS)
    if isinstance(kernel, str):
        check_choice("kernel", kernel, KERNELS)
        kernel_named(kernel)  # "compiled" without numba: refused here, naming kernel
    else:
        _check_protocol("kernel", kernel, "a kernel name or a Kernel", _KERNEL_METHODS)
    delta = check_real("bce_delta", bce_delta, minimum=0.0)
    check_observer(observer)
    if isinstance(loss, str):
        loss_obj = make_loss(check_choice("loss", loss, LOSSES), delta=delta)
    else:
        _check_protocol("loss", loss, "a loss name or a Loss", _LOSS_METHODS)
        loss_obj = loss
    if loss_obj.name == "bce-logits" and output_activation != "sigmoid":
        raise ValueError("output_activation: bce-logits fuses a sigmoid output; use 'sigmoid'")
    sizes = [int(inputs), *(int(h) for h in hidden), int(outputs)]
    n_linear = len(sizes) - 1
    if bias is not None and (isinstance(bias, (str, bytes)) or not isinstance(bias, Sequence)):
        raise TypeError(f"bias: expected a sequence of {n_linear} flags (True/False), got {bias!r}")
    biases = [check_bool(f"bias[{i}]", b) for i, b in enumerate(bias)] if bias is not None \
        else [True] * (n_linear - 1) + [False]
    if len(biases) != n_linear:
        raise ValueError(f"bias: expected {n_linear} flags, got {len(biases)}")
    n_members = _count_members(seed)
    need = n_members * prec.dtype.itemsize * sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    if need > PARAMS_BYTES:
        widest = max(range(len(sizes)), key=lambda i: sizes[i])
        arg = "inputs" if widest == 0 else "outputs" if widest == len(sizes) - 1 else f"hidden[{widest - 1}]"
        raise ValueError(f"{arg}: layer widths {sizes} x {n_members} members need {need / 1024**3:.1f} GiB of "
                         f"parameters (limit {PARAMS_BYTES / 1024**3:.0f} GiB)")
    gens = _generators(seed)
    layers: list[Layer] = []
    for i in range(n_linear):
        draws = [draw_layer(init, g, sizes[i], sizes[i + 1], biases[i]) for g in gens]
        w = prec.asarray(np.stack([d[0] for d in draws]), name="W")
        b = prec.asarray(np.stack([d[1] for d in draws if d[1] is not None]), name="b") if biases[i] else None
        last = i == n_linear - 1
        layers.append(Linear(w, b, kernel_name=kernel, name="output" if last else f"linear_{i + 1}"))
        act = output_activation if last else activation
        if last and loss_obj.name == "bce-logits":
            continue
        if act == "sigmoid":
            layers.append(Sigmoid(f"sigmoid_{i + 1}", sigmoid))
        elif act == "relu":
            layers.append(ReLU(f"relu_{i + 1}", relu))
        elif act not in ("none", "identity") or last:
            layers.append(ACTIVATIONS[act](f"{act}_{i + 1}"))
    return Network(layers, loss_obj, prec, observer)
