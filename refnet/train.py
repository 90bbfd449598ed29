"""Gradient-descent training under two arithmetic conventions.

``default``: mean-reduced loss; all gradients are computed from the current
parameters, then every parameter is updated once.

``lab``: the lab's order of operations, on purpose. Parameter gradients are
those of the *summed* loss (no ``1/N``), and each layer is updated inside the
backward pass before the gradient is sent on, so the layer below receives
``dy @ W_new^T``, a gradient through the already-updated weights.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from .metrics import accuracy
from .network import Network, mean_terms
from .numerics import Guard, NonFiniteInputError, as_guard, input_event
from .optim import SGD
from .precision import FloatArray
from .progress import Progress
from .validation import check_int

__all__ = ["Convention", "History", "train", "step", "prepare_data", "check_epochs", "batch_slices"]

Convention = Literal["default", "lab"]
CONVENTIONS: tuple[Convention, ...] = ("default", "lab")


@dataclass
class History:
    """What a run produced: loss per epoch and member, final accuracy."""

    loss: FloatArray
    """``(epochs, K)`` mean loss of each epoch's forward passes, in the network's precision."""
    accuracy: npt.NDArray[np.float64]
    """``(K,)`` final accuracy in percent (see :func:`refnet.metrics.accuracy`)."""
    convention: str
    seconds: float
    epochs_run: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def final_loss(self) -> FloatArray:
        """``(K,)`` loss of the last epoch."""
        out: FloatArray = self.loss[-1]
        return out


def check_epochs(epochs: int) -> int:
    """Validate an epoch count (an integer >= 0)."""
    return check_int("epochs", epochs, 0)


def prepare_data(net: Network, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Check and convert training data once: ``x (N, in)``, ``y (N, out)`` labels in [0, 1]."""
    xa = net.as_input(x, "x")
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


def step(net: Network, opt: SGD, x: FloatArray, t: FloatArray, convention: Convention) -> FloatArray:
    """One gradient-descent step on a batch; returns the mean loss per member before it."""
    if convention == "lab":
        y = net.forward(x)
        terms, dy = net.loss_grad(y, t, summed=True)
        for i in range(len(net.layers) - 1, -1, -1):
            grads = net.param_grads(i, dy)
            if grads:
                opt.update(i, grads)
            if i > 0:
                dy = net.input_grad(i, dy)
        return mean_terms(terms)
    loss, all_grads = net.gradients(x, t)
    for i, grads in enumerate(all_grads):
        if grads:
            opt.update(i, grads)
    return loss


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
    lr: float | Sequence[float] | npt.NDArray[np.float64],
    epochs: int,
    batch_size: int | None = None,
    convention: str = "default",
    momentum: float = 0.0,
    quiet: bool = True,
    label: str = "train",
    guard: str | Guard | None = "off",
) -> History:
    """Train ``net`` in place by gradient descent; return the loss history.

    Mini-batches are consecutive slices of the data in the given order
    (``batch_size=None`` is full batch). The epoch loss is the mean of the
    batch losses weighted by batch size, each computed before its update.
    Everything is validated before the first parameter changes. Floating
    point flags are silenced inside the loop: detecting non-finite values is
    the observer's job (see :mod:`refnet.numerics`), by value.

    ``guard`` is a mode (``"off"`` by default, ``"raise"``, ``"warn"``,
    ``"record"``) or a :class:`refnet.numerics.Guard`; non-finite training
    data raises :class:`refnet.numerics.NonFiniteInputError` (a ``ValueError``
    carrying the ``input`` event) whatever the mode.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention: expected one of {CONVENTIONS}, got {convention!r}")
    conv: Convention = "lab" if convention == "lab" else "default"
    n_epochs = check_epochs(epochs)
    watch = as_guard(net, guard)
    try:
        xa, ya = prepare_data(net, x, y)
    except NonFiniteInputError as exc:
        watch.record_input(exc.event)
        raise
    n = xa.shape[1]
    batches = batch_slices(n, batch_size)
    opt = SGD(net, lr, momentum)
    dtype = net.precision.dtype
    weights = [net.precision.scalar((b.stop - b.start) / n) for b in batches]
    history = np.empty((n_epochs, net.members), dtype=dtype)
    progress = Progress(n_epochs, label, quiet=quiet)
    start = time.perf_counter()
    with np.errstate(all="ignore"), watch:
        obs = net.observer
        for epoch in range(n_epochs):
            if len(batches) == 1:
                if obs is not None:
                    obs.at(epoch, epoch, batches[0])
                history[epoch] = step(net, opt, xa, ya, conv)
            else:
                total = np.zeros(net.members, dtype=dtype)
                for j, (b, w) in enumerate(zip(batches, weights)):
                    if obs is not None:
                        obs.at(epoch, epoch * len(batches) + j, b)
                    total = total + w * step(net, opt, xa[:, b], ya[:, b], conv)
                history[epoch] = total
            if not quiet and epoch % 1000 == 0:
                progress.update(epoch + 1, f"loss {float(history[epoch].mean()):.6g}")
        watch.check()  # the last step, before the evaluation pass
        acc = accuracy(net.loss.link(net.forward(xa)), ya[0] if ya.shape[0] == 1 else ya)
    progress.update(n_epochs)
    return History(history, acc, conv, time.perf_counter() - start, n_epochs)
