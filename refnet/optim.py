"""The one place where parameters change: gradient descent with optional momentum."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .network import Network
from .precision import FloatArray

__all__ = ["SGD", "check_lr"]


def check_lr(lr: npt.ArrayLike, members: int) -> npt.NDArray[np.float64]:
    """Validate a learning rate: a positive finite scalar or one per member."""
    arr = np.asarray(lr, dtype=np.float64) if np.asarray(lr).dtype.kind in "biuf" else None
    if arr is None:
        raise TypeError(f"lr: expected a number or an array of numbers, got {lr!r}")
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != members):
        raise ValueError(f"lr: expected a scalar or shape ({members},), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"lr: expected finite values > 0, got {lr!r}")
    return arr


class SGD:
    """``p <- p - lr * g``, or with momentum ``s <- lr g + mu s; p <- p - s``.

    ``lr`` is rounded once to the network's precision; an array gives each
    member its own rate (shape ``(K,)``). With ``momentum == 0`` the update is
    exactly ``p - lr * g`` (the lab's ``w -= lr * dw``, bit for bit).
    """

    def __init__(self, net: Network, lr: npt.ArrayLike, momentum: float = 0.0) -> None:
        rates = check_lr(lr, net.members)
        if not np.isfinite(momentum) or not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum: expected a value in [0, 1), got {momentum!r}")
        self.net = net
        dtype = net.precision.dtype
        self.lr: FloatArray = np.asarray(rates, dtype=dtype)
        if rates.ndim == 1:
            self.lr = self.lr.reshape(-1, 1, 1)
        self.momentum = net.precision.scalar(momentum)
        self._with_momentum = bool(momentum)
        self._velocity: dict[tuple[int, str], FloatArray] = {}

    def update(self, index: int, grads: dict[str, FloatArray]) -> None:
        """Apply ``grads`` to layer ``index`` (each parameter replaced, not mutated)."""
        params = self.net.layers[index].params
        observed = self.net.observer is not None
        for name, g in grads.items():
            old = params[name]
            step: FloatArray = self.lr * g
            if self._with_momentum:
                v = self._velocity.get((index, name))
                step = step if v is None else step + self.momentum * v
                self._velocity[(index, name)] = step
            new: FloatArray = old - step
            params[name] = new
            if observed:
                self.net.observe_update(index, name, new, (old, g))
