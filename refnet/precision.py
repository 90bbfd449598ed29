"""The one place where a network's floating-point type is decided.

A :class:`Precision` is a small frozen object: every array a network owns is
created through it, and every constant (one, zero, eps, the largest finite
value) is taken from it, so a float32 network never meets a float64 literal
and silently promotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar, Union

import numpy as np
import numpy.typing as npt

from .validation import real_array

__all__ = ["F", "FloatArray", "FloatDType", "Precision", "DTypeLike", "DTypeName", "precision", "SUPPORTED"]

F = TypeVar("F", np.float32, np.float64, np.longdouble)
"""The float types a network may be built for."""

FloatArray = npt.NDArray[np.floating[Any]]
"""An array of one of the supported float types (which one is fixed per network
by its Precision and checked at run time: NumPy's stubs lose dtypes through
ufuncs, so a static type cannot carry it)."""

FloatDType = Union[np.dtype[np.float32], np.dtype[np.float64], np.dtype[np.longdouble]]
"""The dtype of a supported float type."""

DTypeName = Literal["float32", "float64", "longdouble"]
"""Canonical dtype names (``single``, ``double``, ``f4``, ``f8`` are accepted at run time too)."""

DTypeLike = Union[DTypeName, type, FloatDType, "Precision"]

SUPPORTED: Final[dict[DTypeName, FloatDType]] = {
    "float32": np.float32(0).dtype,
    "float64": np.float64(0).dtype,
    "longdouble": np.longdouble(0).dtype,
}
_ALIASES: Final = {"single": "float32", "double": "float64", "f4": "float32",
                   "f8": "float64", "float128": "longdouble", "float96": "longdouble"}


@dataclass(frozen=True)
class Precision:
    """A floating-point type and the constants derived from it."""

    dtype: FloatDType

    @property
    def name(self) -> DTypeName:
        """Canonical name: ``float32``, ``float64`` or ``longdouble``."""
        for key, value in SUPPORTED.items():
            if value == self.dtype:
                return key
        raise AssertionError("unreachable: Precision built with an unsupported dtype")

    @property
    def eps(self) -> float:
        """Machine epsilon (spacing of the floats just above 1)."""
        return float(np.finfo(self.dtype).eps)

    @property
    def max(self) -> float:
        """Largest finite value."""
        return float(np.finfo(self.dtype).max)

    def scalar(self, value: float) -> np.float32 | np.float64 | np.longdouble:
        """``value`` rounded once to this precision."""
        return self.dtype.type(value)

    def asarray(self, values: npt.ArrayLike, *, name: str) -> FloatArray:
        """Convert ``values`` to this precision, once and explicitly.

        Raises ``TypeError`` naming ``name`` when the values are not real numbers
        (booleans and complex numbers included: ``True`` is not a feature value).
        """
        raw = real_array(name, values)
        return np.array(raw, dtype=self.dtype, copy=True)

    def __str__(self) -> str:
        return self.name


def precision(spec: DTypeLike) -> Precision:
    """Resolve ``spec`` (a name, a NumPy type or dtype, or a Precision) to a Precision.

    Raises ``ValueError`` for a float type refnet does not support
    (float16, complex, integers).
    """
    if isinstance(spec, Precision):
        return spec
    if isinstance(spec, str):
        key = _ALIASES.get(spec.lower(), spec.lower())
        if key not in SUPPORTED:
            raise ValueError(
                f"dtype: unknown name {spec!r}; choose one of {', '.join(SUPPORTED)}"
            )
        return Precision(SUPPORTED[key])
    try:
        dtype = np.dtype(spec)
    except TypeError as exc:
        raise TypeError(f"dtype: cannot interpret {spec!r} as a dtype") from exc
    for value in SUPPORTED.values():
        if dtype == value:
            return Precision(value)
    raise ValueError(f"dtype: {dtype} is not supported; choose one of {', '.join(SUPPORTED)}")
