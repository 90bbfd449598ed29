"""Gradient-descent training under a named convention.

See :mod:`refnet.conventions`: ``default`` computes every gradient of the
mean loss from the current parameters, then updates each parameter once; the
lab's published arithmetic (``lab``, ``lab-page14``) and the earlier readings
(``lab-evidence``, ``lab-sum``, ...) follow the lab's order, each layer updated
inside the backward pass before the gradient is sent on, with the loss and
gradient of the convention (its ``loss_and_grad``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .conventions import CONVENTIONS, Arithmetic, Convention, ConventionLike, Published, Reading, resolve
from .events import NonFiniteInputError, input_event
from .guard import Guard, Mode, as_guard
from .layers import ReLU, Sigmoid
from .metrics import accuracy
from .network import Network
from .optim import SGD, check_momentum
from .plan import Plan
from .precision import FloatArray
from .progress import Progress
from .validation import check_int

__all__ = ["Convention", "CONVENTIONS", "History", "train", "step", "check_network", "prepare_data", "check_epochs",
           "batch_slices", "HISTORY_BYTES"]

HISTORY_BYTES = 4 * 1024**3
"""Largest loss history :func:`train` allocates (``epochs x members x itemsize``)."""


@dataclass
class History:
    """What a run produced: loss per epoch and member, final accuracy."""

    loss: FloatArray
    """``(epochs, K)`` mean loss of each epoch's forward passes, in the network's precision
    (in the reading's reported units: a base-2 BCE reading reports bits)."""
    accuracy: npt.NDArray[np.float64]
    """``(K,)`` final accuracy in percent (see :func:`refnet.metrics.accuracy`)."""
    convention: str
    """``default``, or the label of the reading used."""
    seconds: float

    @property
    def final_loss(self) -> FloatArray:
        """``(K,)`` loss of the last epoch (``ValueError`` when no epoch was run)."""
        if not self.loss.shape[0]:
            raise ValueError("final_loss: no epoch was run (epochs=0), so there is no loss")
        out: FloatArray = self.loss[-1]
        return out

    def _one(self, name: str) -> None:
        if self.loss.shape[1] != 1:
            raise ValueError(f"{name}: this run trained {self.loss.shape[1]} members; "
                             "use final_loss / accuracy, which keep the member axis")

    @property
    def final_loss_value(self) -> float:
        """The last epoch's loss of a single network, as a number (``ValueError`` for an ensemble)."""
        self._one("final_loss_value")
        return float(self.final_loss[0])

    @property
    def accuracy_value(self) -> float:
        """The final accuracy (percent) of a single network, as a number (``ValueError`` for an ensemble)."""
        self._one("accuracy_value")
        return float(self.accuracy[0])


def check_epochs(epochs: int) -> int:
    """Validate an epoch count (an integer >= 0)."""
    return check_int("epochs", epochs, 0)


def prepare_data(net: Network, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Check and convert training data once: ``x (N, in)``, ``y (N, out)`` labels in [0, 1]."""
    xa = net.as_input(x, "x")
    if xa.shape[1] == 0:
        raise ValueError("x: no rows; training needs at least one data point")
    bad_x = input_event(xa, "x")
    if bad_x is not None:  # a ValueError naming x that carries the guard's ``input`` event
        raise NonFiniteInputError(bad_x)
    ya = net.precision.asarray(y, name="y")
    if ya.ndim == 1 and net.out_features == 1:
        ya = ya[:, None]
    if ya.ndim == 2:
        ya = ya[None]
    if ya.ndim != 3 or ya.shape[1:] != (xa.shape[1], net.out_features) or ya.shape[0] not in (1, net.members):
        raise ValueError(
            f"y: expected shape ({xa.shape[1]}, {net.out_features}) to match x, got {np.shape(y)}"
        )
    bad_y = input_event(ya, "y")
    if bad_y is not None:
        raise NonFiniteInputError(bad_y)
    if np.any((ya < 0) | (ya > 1)):
        raise ValueError(f"y: labels must lie in [0, 1], found range [{ya.min()}, {ya.max()}]")
    return xa, ya


def _apply(net: Network, opt: SGD, index: int, grads: dict[str, FloatArray]) -> None:
    """Put the optimizer's update of each parameter of layer ``index`` in place."""
    params = net.layers[index].params
    for name, g in grads.items():
        old = params[name]
        new = opt._update((index, name), old, g)  # the network's own arrays: checked when they entered
        params[name] = new
        net.observe_update(index, name, new, (old, g))


def step(net: Network, opt: SGD, x: FloatArray, t: FloatArray, convention: ConventionLike | None) -> FloatArray:
    """One gradient-descent step on a batch; returns the loss per member before it.

    ``convention`` ``None`` or ``default`` is the default convention (the mean
    loss); any other reports its loss in its units (see :mod:`refnet.conventions`).
    """
    arith = convention if convention is None or isinstance(convention, (Reading, Published)) \
        else resolve(convention)
    if arith is None:
        loss, all_grads = net.gradients(x, t)
        for i, grads in enumerate(all_grads):
            if grads:
                _apply(net, opt, i, grads)
        return loss
    y = net.forward(x)
    loss, dy = arith.loss_and_grad(net, y, t)
    for i in range(len(net.layers) - 1, -1, -1):
        grads = net._param_grads(i, dy)  # the network's own backward pass: nothing to check
        if grads:
            _apply(net, opt, i, grads)
        if i > 0:
            dy = net._input_grad(i, dy)
    return loss


def _compiled_run(net: Network, opt: SGD, xa: FloatArray, ya: FloatArray, batches: list[slice],
                  history: FloatArray, arith: Arithmetic | None, watch: Guard) -> bool:
    """Whether :mod:`refnet.compiled` ran the whole epoch loop (a network built with
    ``kernel="compiled"``, refnet's own layers and losses, no observer but the guard, and
    nothing the guard would report; otherwise the NumPy path runs, from the same state)."""
    if not all(layer.kernel.name == "compiled" for layer in net.linears) or net.observer not in (None, watch):
        return False
    from . import compiled  # numba is imported only for a network that asked for it

    if not compiled.supports(net, arith):
        return False
    return compiled.train_run(net, opt, xa, ya, batches, history, arith, compiled.guard_limit(watch, net))


def check_network(net: Network, arith: Arithmetic) -> None:
    """Refuse (``ValueError`` naming ``convention``) a network whose Sigmoid or ReLU layers
    are not built with the formulas of ``arith`` (see :func:`refnet.conventions.network_options`)."""
    for layer in net.layers:
        option, formula, wanted = (("sigmoid", layer.formula, arith.sigmoid) if isinstance(layer, Sigmoid) else
                                   ("relu", layer.formula, arith.relu) if isinstance(layer, ReLU) else
                                   ("", "", ""))
        if formula != wanted:
            raise ValueError(
                f"convention: {arith.label} computes the {option} the {wanted} way, but "
                f"{layer.name} is {formula}; build the network with mlp(..., {option}={wanted!r})")


def batch_slices(n: int, batch_size: int | None) -> list[slice]:
    """The mini-batches of an epoch: consecutive slices of ``n`` rows (``None``: one full batch)."""
    if batch_size is None:
        return [slice(0, n)]
    size = check_int("batch_size", batch_size, 1)
    return [slice(s, min(s + size, n)) for s in range(0, n, size)]


def train(
    net: Network,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    lr: float | Sequence[float] | npt.NDArray[np.float64] | None = None,
    epochs: int,
    batch_size: int | None = None,
    convention: ConventionLike = "default",
    momentum: float = 0.0,
    optimizer: SGD | None = None,
    quiet: bool = True,
    label: str = "train",
    guard: Mode | Guard | None = "warn",
) -> History:
    """Train ``net`` in place by gradient descent; return the loss history.

    Give either ``lr`` (and ``momentum``) or an ``optimizer``: an :class:`SGD`
    passed to several calls keeps its momentum velocity between them.
    ``convention`` is ``default``, the lab's published arithmetic (``lab``,
    ``lab-page14``: its formulas only; :mod:`refnet.lab` runs its whole program),
    an earlier reading (``lab-evidence``, ``lab-sum``, a reading's label or a
    :class:`~refnet.conventions.Reading`).
    Mini-batches are consecutive slices of the data in the given order
    (``batch_size=None``: the reading's batching, full batch by default). The
    epoch loss is the mean of the batch losses weighted by batch size, each
    computed before its update. Everything is validated before the first
    parameter changes. Floating point flags are silenced inside the loop:
    detecting non-finite values is the guard's job (see :mod:`refnet.guard`),
    by value.

    ``guard`` is a mode (``"warn"`` by default: a run that goes non-finite
    says where with a :class:`refnet.events.NumericalWarning` and finishes;
    ``"raise"``, as the command line does; ``"record"``; ``"off"``, silent, for
    runs meant to diverge) or a :class:`refnet.guard.Guard`; non-finite training
    data raises :class:`refnet.events.NonFiniteInputError` (a ``ValueError``
    carrying the ``input`` event) whatever the mode.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net: expected a Network, got {type(net).__name__}")
    if not isinstance(quiet, (bool, np.bool_)):
        raise TypeError(f"quiet: expected True or False, got {quiet!r}")
    if not isinstance(label, str):
        raise TypeError(f"label: expected a string, got {label!r}")
    reading = resolve(convention)
    if reading is not None:
        check_network(net, reading)
        if batch_size is None:
            batch_size = reading.batch_size
    n_epochs = check_epochs(epochs)
    if optimizer is None:
        if lr is None:
            raise TypeError("lr: give a learning rate (or an optimizer)")
        opt = SGD(lr, check_momentum(momentum))
    else:
        if not isinstance(optimizer, SGD):
            raise TypeError(f"optimizer: expected an SGD, got {type(optimizer).__name__}")
        if lr is not None or momentum:
            raise ValueError("optimizer: give either an optimizer or lr/momentum, not both")
        optimizer.check_state({(i, k): p for i, layer in enumerate(net.layers) for k, p in layer.params.items()})
        opt = optimizer
    dtype = net.precision.dtype
    opt.check(dtype, net.members)
    need = n_epochs * net.members * dtype.itemsize
    if need > HISTORY_BYTES:
        raise ValueError(f"epochs: {n_epochs} epochs x {net.members} members need {need / 1024**3:.1f} GiB "
                         f"of loss history (limit {HISTORY_BYTES / 1024**3:.0f} GiB); train in several calls "
                         "with one optimizer, or use refnet.sweep with keep_every")
    watch = as_guard(net, guard)
    try:
        xa, ya = prepare_data(net, x, y)
    except NonFiniteInputError as exc:
        watch.record_input(exc.event)
        raise
    n = xa.shape[1]
    batches = batch_slices(n, batch_size)
    weights = [net.precision.scalar((b.stop - b.start) / n) for b in batches]
    history = np.empty((n_epochs, net.members), dtype=dtype)
    progress = Progress(n_epochs, label, quiet=quiet)
    start = time.perf_counter()
    with np.errstate(all="ignore"), watch:
        obs = net.observer
        done = _compiled_run(net, opt, xa, ya, batches, history, reading, watch)
        parts = [(xa[:, b], ya[:, b]) for b in batches]
        planned = Plan.supports(net, reading) and (obs is None or (obs is watch and not watch.eager))
        plan = Plan(net, reading, opt, parts, None if obs is None else watch,
                    lambda xb, tb: step(net, opt, xb, tb, reading)) \
            if planned and not done and not isinstance(reading, Published) else None

        def run(j: int, epoch: int, out: FloatArray) -> None:
            """Batch ``j`` of ``epoch``: its loss before the step into ``out``."""
            if plan is None:  # observed: the unplanned step, announced to the observer
                if obs is not None:
                    obs.at(epoch, epoch * len(batches) + j, batches[j])
                out[...] = step(net, opt, *parts[j], reading)
            elif obs is not None:
                plan.guarded_step(j, out, epoch, epoch * len(parts) + j, batches[j], *parts[j])
            else:
                plan.step(j, out)

        scratch = np.empty(net.members, dtype=dtype)
        try:
            for epoch in range(0 if done else n_epochs):
                if len(parts) == 1:
                    run(0, epoch, history[epoch])
                else:
                    total = np.zeros(net.members, dtype=dtype)
                    for j, w in enumerate(weights):
                        run(j, epoch, scratch)
                        total = total + w * scratch
                    history[epoch] = total
                if not quiet and epoch % 1000 == 0:
                    progress.update(epoch + 1, f"loss {float(history[epoch].mean()):.6g}")
        finally:
            if plan is not None:
                plan.finish()
        watch.check()  # the last step, before the evaluation pass
        acc = accuracy(net.loss.link(net.forward(xa)), ya[0] if ya.shape[0] == 1 else ya)
    progress.update(n_epochs)
    return History(history, acc, "default" if reading is None else reading.label,
                   time.perf_counter() - start)
