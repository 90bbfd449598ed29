"""Gradient descent with optional momentum: parameters and gradients in, new parameters out.

The optimizer knows no model. It is given an array and its gradient under a
key and hands back the updated array (a new one: nothing it is given is
written into); :func:`refnet.train.train` puts the result in place. Its only
state is the momentum velocity per key, which lives as long as the optimizer:
pass the same :class:`SGD` to several ``train`` calls to carry it over.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from .precision import FloatArray, FloatDType
from .validation import check_float_array, check_real, check_state

__all__ = ["SGD", "check_lr", "check_momentum"]


def _is_number_array(value: object) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    try:
        kind = np.asarray(value).dtype.kind
    except (TypeError, ValueError):
        return False
    return kind in "iuf"


def check_lr(lr: npt.ArrayLike, members: int | None = None) -> npt.NDArray[np.float64]:
    """Validate a learning rate: a positive finite scalar or one per member (``members`` of them;
    ``None``: any number), as float64."""
    if not _is_number_array(lr):
        raise TypeError(f"lr: expected a number or an array of numbers, got {lr!r}")
    arr = np.asarray(lr, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == 0:
        raise ValueError("lr: expected a number or one rate per member, got an empty list")
    if arr.ndim > 1 or (arr.ndim == 1 and members is not None and arr.shape[0] != members):
        expected = "a scalar or one rate per member" if members is None else f"a scalar or shape ({members},)"
        raise ValueError(f"lr: expected {expected}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"lr: expected finite values > 0, got {lr!r}")
    return arr


def check_momentum(momentum: object) -> float:
    """Validate a momentum coefficient: a real number in [0, 1)."""
    return check_real("momentum", momentum, minimum=0.0, maximum=1.0, open_maximum=True)


class SGD:
    """``p <- p - lr * g``, or with momentum ``s <- lr g + mu s; p <- p - s``.

    ``lr`` is a scalar or one rate per member (shape ``(K,)``), rounded once to
    the dtype of the parameters it updates; :meth:`check` confirms, before
    training starts, that the rounded rate is a positive normal number there
    (``1e-50`` is 0 in float32, ``1e300`` is inf). With ``momentum == 0`` the
    update is exactly ``p - lr * g`` (the lab's ``w -= lr * dw``, bit for bit).
    The first momentum step is ``s = lr g`` (no velocity yet).
    """

    def __init__(self, lr: npt.ArrayLike, momentum: float = 0.0) -> None:
        rates = check_lr(lr)
        self.rates: npt.NDArray[np.float64] = rates
        self.momentum = check_momentum(momentum)
        self._lr: dict[np.dtype[Any], tuple[FloatArray, np.floating[Any]]] = {}
        self._velocity: dict[Hashable, FloatArray] = {}

    @property
    def members(self) -> int | None:
        """Members the rates are for (``None``: one rate for all)."""
        return None if self.rates.ndim == 0 else int(self.rates.shape[0])

    def check(self, dtype: FloatDType, members: int) -> None:
        """Refuse (``ValueError`` naming ``lr``) rates that do not fit ``members`` or ``dtype``."""
        if self.rates.ndim == 1 and self.rates.shape[0] != members:
            raise ValueError(f"lr: expected a scalar or shape ({members},), got shape {self.rates.shape}")
        rounded = self.rates_for(dtype)[0]
        tiny = np.finfo(dtype).tiny
        if not np.all(np.isfinite(rounded)) or np.any(rounded < tiny):
            raise ValueError(f"lr: {self.rates.tolist()} rounds to {np.asarray(rounded).ravel().tolist()} in "
                             f"{dtype}; expected a positive normal number there (>= {tiny}, finite)")

    def check_state(self, params: Mapping[Hashable, FloatArray]) -> None:
        """Refuse (``ValueError`` naming ``optimizer``) a momentum velocity that does not fit
        ``params``, the parameters about to be updated under the same keys: an SGD carried
        over to a network of another architecture (or dtype) would fail mid-step or
        apply another network's velocity. Reuse is fine after :meth:`reset`."""
        check_state("optimizer", self._velocity, params)

    def rates_for(self, dtype: np.dtype[Any]) -> tuple[FloatArray, np.floating[Any]]:
        """The rates rounded to ``dtype`` (shape ``()`` or ``(K, 1, 1)``) and the momentum coefficient."""
        cached = self._lr.get(dtype)
        if cached is None:
            with np.errstate(over="ignore", under="ignore"):
                lr = np.asarray(self.rates, dtype=dtype)
            if lr.ndim == 1:
                lr = lr.reshape(-1, 1, 1)
            cached = (lr, dtype.type(self.momentum))
            self._lr[dtype] = cached
        return cached

    def velocity(self, key: Hashable) -> FloatArray | None:
        """The momentum velocity kept under ``key`` (``None`` before its first update)."""
        return self._velocity.get(key)

    def set_velocity(self, key: Hashable, value: FloatArray) -> None:
        """Keep ``value`` as the velocity under ``key`` (a planned step hands its state back)."""
        self._velocity[key] = value

    def update(self, key: Hashable, param: FloatArray, grad: FloatArray) -> FloatArray:
        """The updated ``param`` (a new array); ``key`` names its momentum velocity.

        Every argument is checked first. :func:`refnet.train.step`, whose network holds
        arrays already checked, calls the unchecked :meth:`_update` at every step."""
        check_float_array("param", param)
        given: object = grad  # callers without a type checker may pass anything
        if not isinstance(given, np.ndarray) or given.dtype != param.dtype or given.shape != param.shape:
            got = f"{given.dtype} {given.shape}" if isinstance(given, np.ndarray) else type(given).__name__
            raise TypeError(f"grad: expected a {param.dtype} array of param's shape {param.shape}, got {got}")
        if not isinstance(key, Hashable):
            raise TypeError(f"key: expected a hashable name, got {key!r}")
        lr, _ = self.rates_for(param.dtype)
        if lr.ndim and (param.ndim != 3 or lr.shape[0] != param.shape[0]):
            raise ValueError(f"param: expected {lr.shape[0]} members (one per rate), got shape {param.shape}")
        v = self._velocity.get(key)
        if self.momentum and v is not None:
            check_state("param", {key: v}, {key: param})
        return self._update(key, param, grad)

    def _update(self, key: Hashable, param: FloatArray, grad: FloatArray) -> FloatArray:
        lr, mu = self.rates_for(param.dtype)
        step: FloatArray = lr * grad
        if self.momentum:
            v = self._velocity.get(key)
            step = step if v is None else step + mu * v
            self._velocity[key] = step
        new: FloatArray = param - step
        return new

    def reset(self) -> None:
        """Forget the momentum velocity."""
        self._velocity.clear()
