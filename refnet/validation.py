"""Argument checks shared by the public functions: clear errors that name the argument.

One helper per kind of argument, used wherever that kind enters:

- numbers: :func:`check_int`, :func:`check_real`, :func:`check_bool`;
- strings: :func:`check_choice` (one of a few names), :func:`check_text` (free text);
- arrays: :func:`real_array` (real numbers, optionally finite), :func:`check_float_array`
  (an array of floats given as is, such as a layer's weights);
- collections: :func:`check_items` (each item checked under ``name[i]``);
- paths: :func:`check_path`, :func:`check_input_file`, and for outputs
  :func:`check_output_file` and :func:`check_output_dir`, which prove the path
  writable by creating it (and cleaning up), so no long run ends in a write error;
- state kept between calls against what it will be applied to:
  :func:`check_state` (an optimizer's velocity against the network's parameters).

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
import tempfile
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np

__all__ = ["check_int", "check_real", "check_bool", "check_choice", "check_text", "check_path",
           "check_output_file", "check_output_dir", "argument_type", "int_argument", "real_argument",
           "output_file_argument", "output_dir_argument", "check_input_file", "input_file_argument", "real_array",
           "check_float_array", "check_items", "check_state"]

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
    try:
        out = float(value)
    except OverflowError:  # an int beyond the float range: 10**400
        out = math.inf
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


def check_text(name: str, value: object) -> str:
    """``value`` if it is a ``str`` (free text such as a label; ``TypeError`` naming ``name`` otherwise)."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a string, got {value!r}")
    return value


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


def _not_written(name: str, path: Path, exc: OSError) -> ValueError:
    return ValueError(f"{name}: cannot write {str(path)!r} ({exc.strerror or exc})")


def _probe_folder(name: str, folder: Path) -> None:
    """Create and remove a file in ``folder``: the only proof that it takes new files
    (``os.access`` says yes to root everywhere, ``/proc`` included)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".refnet-probe-", dir=folder)
    except OSError as exc:
        raise ValueError(f"{name}: cannot create files in {str(folder)!r} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def check_output_file(name: str, value: object) -> Path:
    """A path a file can be written to now, proven by writing: a new file is created
    and removed again; an existing regular file is opened for appending (its bytes
    and times unchanged) and a scratch file is created and removed beside it (a save
    writes a temporary file there, then renames it). A folder, a device or another
    special file is refused. Checked before any work, so a long run cannot end in a
    write error."""
    path = check_path(name, value)
    if path.is_dir():
        raise ValueError(f"{name}: {str(path)!r} is a directory; expected a file path")
    parent = path.parent
    if not parent.exists():
        raise ValueError(f"{name}: folder {str(parent)!r} does not exist (create it first)")
    if not parent.is_dir():
        raise ValueError(f"{name}: {str(parent)!r} is not a directory")
    if path.exists():
        if not path.is_file():
            raise ValueError(f"{name}: {str(path)!r} exists and is not a regular file")
        try:
            with open(path, "ab"):
                pass
        except OSError as exc:
            raise _not_written(name, path, exc) from None
        _probe_folder(name, parent)
        return path
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)  # removed at once: its mode does not matter
    except FileExistsError:  # created meanwhile by someone else: theirs, not ours to remove
        raise ValueError(f"{name}: {str(path)!r} appeared while it was being checked") from None
    except OSError as exc:
        raise _not_written(name, path, exc) from None
    os.close(fd)
    os.unlink(path)
    return path


def check_output_dir(name: str, value: object) -> Path:
    """A folder that exists or can be created, proven by writing: missing folders are
    created, a file is created and removed inside, then the folders created here are
    removed again (``/dev/null/x`` and ``/proc/x`` are refused)."""
    path = check_path(name, value)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name}: {str(path)!r} is not a directory")
    missing: list[Path] = []
    ancestor = path.absolute()
    while not ancestor.exists():
        missing.append(ancestor)
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{name}: cannot create {str(path)!r}: {str(ancestor)!r} is not a directory")
    made: list[Path] = []
    try:
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except OSError as exc:
                raise ValueError(f"{name}: cannot create {str(path)!r} ({exc.strerror or exc})") from None
            made.append(folder)
        _probe_folder(name, path)
    finally:
        for folder in reversed(made):
            try:
                folder.rmdir()
            except OSError:  # pragma: no cover - someone put a file in it meanwhile: theirs now
                break
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


def real_array(name: str, values: object, *, bools: bool = False, finite: bool = False) -> np.ndarray:
    """``values`` as a NumPy array of real numbers, else ``TypeError`` naming ``name``.

    Booleans, complex numbers, strings and objects are refused (booleans are
    accepted only with ``bools``). With ``finite``, a NaN or infinite value is a
    ``ValueError`` naming ``name`` and the first position holding one.
    """
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: cannot be read as a numeric array ({exc})") from exc
    if arr.dtype.kind not in ("biuf" if bools else "iuf"):
        raise TypeError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    if finite and arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name}: expected finite numbers, got {arr[where]} at index {where} "
                             f"({int(bad.sum())} non-finite value{'s' if bad.sum() != 1 else ''})")
    return arr


def check_float_array(name: str, value: object, ndim: int | None = None) -> np.ndarray:
    """``value`` if it is a NumPy array of floats (float16 to longdouble) with ``ndim``
    dimensions: ``TypeError`` naming ``name`` for anything else (lists are not converted:
    the caller passes the array it means), ``ValueError`` for another ``ndim``."""
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        kind = f"dtype {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
        raise TypeError(f"{name}: expected a NumPy array of floats, got {kind}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {value.shape}")
    return value


def check_items(name: str, values: object, check: Callable[[str, object], T]) -> tuple[T, ...]:
    """Each item of the collection ``values`` checked by ``check(f"{name}[{i}]", item)``.

    A string, bytes, a mapping or a non-iterable (``None``, a number, a 0-d array) is a
    ``TypeError`` naming ``name``: ``levels="0.5"`` is not three levels.
    """
    if isinstance(values, (str, bytes, Mapping)) or (isinstance(values, np.ndarray) and values.ndim != 1):
        raise TypeError(f"{name}: expected a list or tuple, got {values!r}")
    try:
        items = list(values)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"{name}: expected a list or tuple, got {values!r}") from None
    return tuple(check(f"{name}[{i}]", item) for i, item in enumerate(items))


def check_state(name: str, state: Mapping[Hashable, np.ndarray], params: Mapping[Hashable, np.ndarray]) -> None:
    """State kept per parameter between calls (an optimizer's momentum velocity) against
    the parameters it is about to be applied to: every key must name a parameter of the
    same shape and dtype. ``ValueError`` naming ``name`` otherwise (the state belongs to
    another network: use a new optimizer, or reset it)."""
    for key, value in state.items():
        param = params.get(key)
        if param is None:
            raise ValueError(f"{name}: holds state for parameter {key!r}, which this network does not have "
                             "(it was used on another architecture); use a new optimizer or call reset()")
        if value.shape != param.shape or value.dtype != param.dtype:
            raise ValueError(f"{name}: its state for parameter {key!r} is {value.dtype} {value.shape}, the "
                             f"network's parameter is {param.dtype} {param.shape} (it was used on another "
                             "architecture); use a new optimizer or call reset()")
