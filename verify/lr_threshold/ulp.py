"""Stepping on the floating-point grid: ordinals, ulp offsets, exact binary values.

Every finite IEEE-754 binary32/binary64 number has an *ordinal*: its bit
pattern read as a signed integer, folded so that the order of ordinals is the
order of the numbers and adjacent numbers differ by exactly one (``-0.0`` and
``+0.0`` share ordinal 0). Offsets in ulps are differences of ordinals, a step
of ``n`` ulps is ``from_ordinal(ordinal(x) + n)``, and a grid between two
numbers is a set of integer ordinals, so a scan can never ask for a spacing
below one ulp. ``np.nextafter`` gives the same single steps; the tests check
that the two agree.

The exact value of a number of any of the three precisions (``np.longdouble``
included, which has no integer view) is recovered with ``np.frexp`` as an
integer mantissa times a power of two (:func:`exact_fraction`, :func:`hex_exact`).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Final

import numpy as np

__all__ = [
    "ordinal", "from_ordinal", "ulps_between", "add_ulps", "spacing", "ordinal_grid",
    "grid", "midpoint", "exact_fraction", "hex_exact", "decimal_exact", "GRID_DTYPES",
]

_INT: Final[dict[str, tuple[type[np.signedinteger[Any]], int]]] = {
    "float32": (np.int32, 0x7FFFFFFF),
    "float64": (np.int64, 0x7FFFFFFFFFFFFFFF),
}
GRID_DTYPES: Final = tuple(_INT)
"""Precisions with an integer view (the grid-stepping functions accept these)."""


def _kind(dtype: str) -> tuple[np.dtype[np.floating[Any]], type[np.signedinteger[Any]], int]:
    if dtype not in _INT:
        raise ValueError(f"dtype: expected one of {GRID_DTYPES}, got {dtype!r}")
    int_type, mask = _INT[dtype]
    return np.dtype(dtype), int_type, mask


def ordinal(x: float | np.floating[Any], dtype: str = "float64") -> int:
    """The integer position of ``x`` (rounded once to ``dtype``) on that precision's grid.

    Raises ``ValueError`` for NaN or infinity.
    """
    fdt, int_type, mask = _kind(dtype)
    value = np.asarray(x, dtype=fdt)
    if not np.isfinite(value):
        raise ValueError(f"x: expected a finite number, got {x!r}")
    bits = int(value.reshape(1).view(int_type)[0])
    return bits if bits >= 0 else -(bits & mask)


def from_ordinal(n: int, dtype: str = "float64") -> float:
    """The number at ordinal ``n`` (inverse of :func:`ordinal`), as a Python float.

    A float32 result is exactly representable as a Python float.
    """
    fdt, int_type, mask = _kind(dtype)
    n = int(n)
    if abs(n) > mask:
        raise ValueError(f"n: ordinal {n} is outside the {dtype} range")
    bits = n if n >= 0 else (-n) | (mask + 1)
    raw = np.array([bits], dtype=np.uint64 if dtype == "float64" else np.uint32)
    value = float(raw.view(fdt)[0])
    if not np.isfinite(value):
        raise ValueError(f"n: ordinal {n} is not a finite {dtype}")
    return value


def ulps_between(a: float, b: float, dtype: str = "float64") -> int:
    """Signed number of ``dtype`` grid steps from ``a`` to ``b`` (each rounded to ``dtype``)."""
    return ordinal(b, dtype) - ordinal(a, dtype)


def add_ulps(x: float, n: int, dtype: str = "float64") -> float:
    """``x`` moved by ``n`` grid steps (``n = 1`` is ``np.nextafter(x, inf)``)."""
    return from_ordinal(ordinal(x, dtype) + int(n), dtype)


def spacing(x: float, dtype: str = "float64") -> float:
    """Distance from ``x`` to the next larger number of ``dtype`` (one ulp above ``x``)."""
    return add_ulps(x, 1, dtype) - from_ordinal(ordinal(x, dtype), dtype)


def ordinal_grid(lo: int, hi: int, count: int) -> list[int]:
    """Up to ``count`` distinct integers spread evenly over ``[lo, hi]`` (both ends included).

    When the interval holds fewer than ``count`` integers, all of them are
    returned: the grid is never finer than one step.
    """
    if count < 2:
        raise ValueError(f"count: expected at least 2, got {count}")
    if hi < lo:
        raise ValueError(f"hi: expected >= lo ({lo}), got {hi}")
    width = hi - lo
    if width + 1 <= count:
        return list(range(lo, hi + 1))
    out = [lo + (width * i) // (count - 1) for i in range(count)]
    return sorted(set(out))


def grid(lo: float, hi: float, count: int, dtype: str = "float64") -> list[float]:
    """Numbers evenly spaced in ulps from ``lo`` to ``hi`` (see :func:`ordinal_grid`)."""
    return [from_ordinal(n, dtype) for n in ordinal_grid(ordinal(lo, dtype), ordinal(hi, dtype), count)]


def midpoint(a: float, b: float, dtype: str = "float64") -> float:
    """The number halfway between ``a`` and ``b`` in ulps (rounded towards ``a``)."""
    oa, ob = ordinal(a, dtype), ordinal(b, dtype)
    return from_ordinal(oa + (ob - oa) // 2, dtype)


def exact_fraction(x: float | np.floating[Any]) -> Fraction:
    """The exact rational value of a finite float32/float64/longdouble number."""
    value = np.asarray(x)
    if value.dtype.kind != "f":
        value = np.asarray(x, dtype=np.float64)
    if not np.isfinite(value):
        raise ValueError(f"x: expected a finite number, got {x!r}")
    mant, exp = np.frexp(value)  # value = mant * 2**exp, 0.5 <= |mant| < 1
    digits = int(np.finfo(value.dtype).nmant) + 1
    scaled = np.ldexp(mant, digits)  # an integer, exactly (no bits are lost)
    as_int = int(scaled) if value.dtype.itemsize <= 8 else int(str(np.format_float_positional(np.longdouble(scaled), unique=True)).rstrip("."))
    return Fraction(as_int) * Fraction(2) ** (int(exp) - digits)


def hex_exact(x: float | np.floating[Any]) -> str:
    """An exact hexadecimal spelling of ``x``.

    float32/float64 values use Python's ``float.hex`` (exact, since float32
    is a subset of float64); a longdouble with bits beyond float64 is spelt
    ``0x<integer mantissa>p<exponent>``.
    """
    frac = exact_fraction(x)
    if frac == Fraction(float(frac)):
        return float(frac).hex()
    num, den = frac.numerator, frac.denominator
    exp = den.bit_length() - 1  # den is a power of two
    sign = "-" if num < 0 else ""
    return f"{sign}0x{abs(num):x}p-{exp}"


def decimal_exact(x: float | np.floating[Any]) -> str:
    """The exact decimal expansion of ``x`` (finite, since the denominator is a power of two)."""
    frac = exact_fraction(x)
    num, den = frac.numerator, frac.denominator
    sign = "-" if num < 0 else ""
    num = abs(num)
    exp = den.bit_length() - 1
    whole, rest = divmod(num * 5**exp, 10**exp)
    if rest == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}." + f"{rest:0{exp}d}".rstrip("0")
