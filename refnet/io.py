"""Save and load a network's parameters as ``.npz``, all-or-nothing.

The file holds each parameter under its ``layer.param`` name plus a small
header (format version, dtype, parameter names and shapes). Loading checks
the whole file against the network before writing any parameter, so a
corrupt or mismatched file leaves the network exactly as it was.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from .network import Network

__all__ = ["save", "load", "FORMAT"]

FORMAT = "refnet-params/1"
_HEADER = "__refnet__"


def save(net: Network, path: str | os.PathLike[str]) -> None:
    """Write ``net``'s parameters to ``path`` (an ``.npz`` file)."""
    params = net.get_params()
    header = {
        "format": FORMAT,
        "dtype": net.precision.name,
        "params": {k: list(v.shape) for k, v in params.items()},
    }
    arrays = {k: v for k, v in params.items()}
    arrays[_HEADER] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def load(net: Network, path: str | os.PathLike[str]) -> None:
    """Read parameters from ``path`` into ``net``; raises ``ValueError`` naming
    the problem (unreadable file, wrong format, dtype, names or shapes) and
    then leaves ``net`` unchanged."""
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
            files = {k: np.array(data[k]) for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ValueError(f"path: {os.fspath(path)!r} is not a readable refnet .npz file ({exc})") from exc
    if _HEADER not in files:
        raise ValueError(f"path: {os.fspath(path)!r} has no refnet header")
    try:
        header = json.loads(files.pop(_HEADER).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"path: corrupt refnet header ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"path: unsupported format {header.get('format') if isinstance(header, dict) else header!r}")
    if header.get("dtype") != net.precision.name:
        raise ValueError(f"path: file holds {header.get('dtype')} parameters, network is {net.precision.name}")
    expected = {k: v.shape for k, v in net.named_params().items()}
    got = {k: v.shape for k, v in files.items()}
    if set(got) != set(expected):
        raise ValueError(
            f"path: parameter names differ: missing {sorted(set(expected) - set(got))}, "
            f"unexpected {sorted(set(got) - set(expected))}"
        )
    for name, shape in expected.items():
        if got[name] != shape:
            raise ValueError(f"path: {name} has shape {got[name]}, network expects {shape}")
        if files[name].dtype != net.precision.dtype:
            raise ValueError(f"path: {name} has dtype {files[name].dtype}, network is {net.precision}")
    net.set_params(dict(files.items()))
