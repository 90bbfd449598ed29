"""Argument checks shared by the public functions: clear errors that name the argument.

Every check raises ``TypeError`` for a value of the wrong kind and
``ValueError`` for a value of the right kind outside its range; the message
starts with the argument's name and says what was expected. Booleans are not
numbers here: ``True`` is refused where an integer or a real is expected.
Each check returns the value in its plain form (``int``, ``float``, ``Path``),
so a caller validates once and then uses what it was given back.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np

__all__ = ["check_int", "check_real", "check_bool", "check_choice", "check_path",
           "check_output_file", "check_output_dir", "argument_type", "int_argument", "real_argument",
           "output_file_argument", "output_dir_argument"]

S = TypeVar("S", bound=str)
T = TypeVar("T")
R = TypeVar("R")


def check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) in ``[minimum, maximum]``.

    Raises ``TypeError`` for a non-integer and ``ValueError`` out of range,
    both naming ``name``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: expected an integer <= {maximum}, got {value}")
    return int(value)


def check_real(name: str, value: object, *, minimum: float | None = None, maximum: float | None = None,
               open_minimum: bool = False, open_maximum: bool = False) -> float:
    """``value`` as a finite ``float`` if it is a real number (not a bool, not a string) in range.

    ``minimum``/``maximum`` are inclusive unless ``open_minimum``/``open_maximum``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a real number, got {value!r}")
    out = float(value)
    lo = "" if minimum is None else f"{'>' if open_minimum else '>='} {minimum:g}"
    hi = "" if maximum is None else f"{'<' if open_maximum else '<='} {maximum:g}"
    wanted = " and ".join(p for p in (lo, hi) if p)
    if (not math.isfinite(out)
            or (minimum is not None and (out < minimum or (open_minimum and out == minimum)))
            or (maximum is not None and (out > maximum or (open_maximum and out == maximum)))):
        raise ValueError(f"{name}: expected a finite number{' ' + wanted if wanted else ''}, got {value!r}")
    return out


def check_bool(name: str, value: object) -> bool:
    """``value`` if it is a bool (``True``/``False`` or a NumPy bool); ``0`` and ``"yes"`` are not."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def check_choice(name: str, value: object, choices: Iterable[S]) -> S:
    """``value`` if it is one of the strings ``choices`` (``TypeError`` for a non-string)."""
    allowed = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {', '.join(map(repr, allowed))}, got {value!r}")
    for choice in allowed:
        if value == choice:
            return choice
    raise ValueError(f"{name}: unknown name {value!r}; choose one of {', '.join(allowed)}")


def check_path(name: str, value: object) -> Path:
    """``value`` as a :class:`~pathlib.Path` if it is a ``str`` or ``os.PathLike`` of ``str``.

    Integers are refused (``open(3)`` would write to file descriptor 3), and so
    are bytes and the empty string.
    """
    if isinstance(value, (bool, int, np.integer)) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a file path (str or os.PathLike), got {value!r}")
    raw = os.fspath(value)
    if not isinstance(raw, str):
        raise TypeError(f"{name}: expected a str path, got {raw!r}")
    if not raw:
        raise ValueError(f"{name}: expected a file path, got an empty string")
    return Path(raw)


def _writable_dir(name: str, folder: Path, context: str) -> None:
    if not folder.is_dir():
        raise ValueError(f"{name}: {context}{str(folder)!r} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: {context}{str(folder)!r} is not writable")


def check_output_file(name: str, value: object) -> Path:
    """A path a file can be written to now: its folder exists and is writable, and it
    is not itself a folder. Checked before any work, so a long run cannot end in a
    write error."""
    path = check_path(name, value)
    if path.is_dir():
        raise ValueError(f"{name}: {str(path)!r} is a directory; expected a file path")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise ValueError(f"{name}: folder {str(parent)!r} does not exist (create it first)")
    _writable_dir(name, parent, "folder ")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{name}: {str(path)!r} exists and is not writable")
    return path


def check_output_dir(name: str, value: object) -> Path:
    """A folder that exists and is writable, or can be created: its nearest existing
    ancestor is a writable folder (``/dev/null/x`` cannot be)."""
    path = check_path(name, value)
    if path.exists():
        _writable_dir(name, path, "")
        return path
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    _writable_dir(name, ancestor, f"cannot create {str(path)!r}: ")
    return path


# -- command lines: the same checks as argparse ``type=`` functions ---------------
def argument_type(what: str, parse: Callable[[str], T], check: Callable[[T], R]) -> Callable[[str], R]:
    """An argparse ``type``: ``parse`` the text (``ValueError``: "expected ``what``"),
    then ``check`` the value with a check of this module called with the name
    ``value``. Both errors become argparse's own line,
    ``prog: error: argument --flag: expected ...``, exit status 2."""
    def convert(text: str) -> R:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        try:
            return check(value)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("value: ")) from None
    return convert


def int_argument(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """argparse ``type`` for an integer in ``[minimum, maximum]``."""
    return argument_type("an integer", int, lambda v: check_int("value", v, minimum, maximum))


def real_argument(minimum: float | None = None, maximum: float | None = None, *, open_minimum: bool = False,
                  open_maximum: bool = False) -> Callable[[str], float]:
    """argparse ``type`` for a finite real number in range (see :func:`check_real`)."""
    return argument_type("a number", float, lambda v: check_real(
        "value", v, minimum=minimum, maximum=maximum, open_minimum=open_minimum, open_maximum=open_maximum))


def output_file_argument(text: str) -> Path:
    """argparse ``type`` for a file to be written (see :func:`check_output_file`)."""
    return argument_type("a path", str, lambda v: check_output_file("value", v))(text)


def check_input_file(name: str, value: object) -> Path:
    """``value`` as the path of an existing regular file (``ValueError`` naming ``name`` otherwise)."""
    path = check_path(name, value)
    if not path.is_file():
        raise ValueError(f"{name}: {str(path)!r} is not an existing file")
    return path


def input_file_argument(text: str) -> Path:
    """argparse ``type`` for a file to be read (see :func:`check_input_file`)."""
    return argument_type("a path", str, lambda v: check_input_file("value", v))(text)


def output_dir_argument(text: str) -> Path:
    """argparse ``type`` for a folder to be written into (see :func:`check_output_dir`)."""
    return argument_type("a path", str, lambda v: check_output_dir("value", v))(text)
