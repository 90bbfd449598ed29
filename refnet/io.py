"""Save and load a network's parameters as ``.npz``, all-or-nothing.

The file holds each parameter under its ``layer.param`` name plus a small
JSON header: the format version, the dtype, the parameter names and shapes,
and the architecture (see :func:`architecture`): every layer's kind and name,
each Linear layer's bias, each Sigmoid and ReLU layer's formula, and the loss (name,
reduction, BCE's ``delta``). Loading checks the whole file against the
network before writing any parameter, so a file that is not an ``.npz``, is
corrupt, was saved from another architecture or holds NaN or infinite
parameters leaves the network exactly as it was (``ValueError`` naming
``path`` and the file: a damaged zip archive, a missing array, a header of
an unknown format version, an array of another dtype than the header's).

Files of the first format (``refnet-params/1``) recorded only dtype, names
and shapes; they still load when those match, with a
:class:`LegacyFileWarning` saying that the architecture could not be checked.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile
import zlib
from typing import Final, cast

import numpy as np

from .layers import Identity, Layer, Linear, ReLU, ReLUFormula, Sigmoid, SigmoidFormula, Tanh
from .losses import LossName, Reduction, make_loss
from .network import Network
from .precision import DTypeName, precision
from .validation import check_bool, check_output_file, check_path

__all__ = ["save", "load", "read_network", "architecture", "FORMAT", "FORMAT_V1", "LegacyFileWarning"]

_ACTIVATION_KINDS: Final = {"Tanh": Tanh, "Identity": Identity}

FORMAT: Final = "refnet-params/2"
"""The format :func:`save` writes: header with the architecture."""
FORMAT_V1: Final = "refnet-params/1"
"""The first format (dtype, names and shapes only); still read, with a warning."""
_HEADER: Final = "__refnet__"
_ZIP_MAGIC: Final = b"PK\x03\x04"

Architecture = dict[str, object]


class LegacyFileWarning(UserWarning):
    """A weight file of an older format was loaded; the message says what could not be checked."""


def architecture(net: Network) -> Architecture:
    """What a weight file records about the network beyond its parameter shapes.

    ``layers``: one entry per layer, in order, with its ``kind`` (class name)
    and ``name``; a Linear layer adds ``bias`` (whether it has one), a Sigmoid
    or ReLU layer its ``formula``. ``loss``: ``name``, ``reduction`` and, for BCE,
    ``delta``.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net: expected a Network, got {type(net).__name__}")
    layers: list[dict[str, object]] = []
    for layer in net.layers:
        entry: dict[str, object] = {"kind": type(layer).__name__, "name": layer.name}
        if type(layer).__name__ == "Linear":
            entry["bias"] = "b" in layer.params
        formula = getattr(layer, "formula", None)
        if isinstance(formula, str):
            entry["formula"] = formula
        layers.append(entry)
    loss: dict[str, object] = {"name": net.loss.name, "reduction": net.loss.reduction}
    delta = getattr(net.loss, "delta", None)
    if isinstance(delta, float):
        loss["delta"] = delta
    return {"layers": layers, "loss": loss}


def save(net: Network, path: str | os.PathLike[str]) -> None:
    """Write ``net``'s parameters and architecture to ``path`` (an ``.npz`` file).

    ``path`` is proven writable before anything is written (see
    :func:`refnet.validation.check_output_file`: its folder must exist and take
    new files; ``ValueError`` naming ``path`` otherwise, ``/proc/x.npz``
    included). The file is written under a temporary name and renamed, so an
    existing file is replaced whole or not at all.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net: expected a Network, got {type(net).__name__}")
    target = check_output_file("path", path)
    params = net.get_params()
    header = {
        "format": FORMAT,
        "dtype": net.precision.name,
        "params": {k: list(v.shape) for k, v in params.items()},
        "architecture": architecture(net),
    }
    arrays = dict(params)
    arrays[_HEADER] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def _as_recorded_now(entry: object) -> object:
    """A file's layer entry as :func:`architecture` records it today: a ReLU layer saved before
    ReLU had a choice of formula (``refnet-params/2`` files written before 2026-12-06) has the
    only formula there was, ``max``."""
    if isinstance(entry, dict) and entry.get("kind") == "ReLU" and "formula" not in entry:
        return {**entry, "formula": "max"}
    return entry


def _differences(found: object, expected: Architecture) -> list[str]:
    """What differs between a file's architecture and the network's, in words."""
    if not isinstance(found, dict):
        return [f"the file's architecture record is {found!r}, not a mapping"]
    out: list[str] = []
    f_layers, e_layers = found.get("layers"), cast(list[object], expected["layers"])
    if not isinstance(f_layers, list):
        out.append("the file records no layer list")
    else:
        if len(f_layers) != len(e_layers):
            out.append(f"the file has {len(f_layers)} layers, the network {len(e_layers)}")
        for i, (f, e) in enumerate(zip(map(_as_recorded_now, f_layers), e_layers)):
            if f != e:
                out.append(f"layer {i}: file {_layer_words(f)}, network {_layer_words(e)}")
    if found.get("loss") != expected["loss"]:
        out.append(f"loss: file {found.get('loss')}, network {expected['loss']}")
    return out


def _layer_words(entry: object) -> str:
    if not isinstance(entry, dict):
        return repr(entry)
    extra = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("kind", "name"))
    return f"{entry.get('kind')} {entry.get('name')!r}" + (f" ({extra})" if extra else "")


def _read(source: os.PathLike[str] | str, shown: str) -> tuple[object, dict[str, np.ndarray]]:
    """The header and the arrays of a refnet ``.npz`` file (``ValueError`` naming ``path``)."""
    try:
        with open(source, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ValueError(f"path: {shown} cannot be read ({exc})") from exc
    if magic != _ZIP_MAGIC:
        kind = "it is a .npy array" if magic == b"\x93NUM" else "not a zip archive"
        raise ValueError(f"path: {shown} is not an .npz file ({kind})")
    try:
        with open(source, "rb") as fh, np.load(fh, allow_pickle=False) as data:
            files = {k: np.array(data[k]) for k in data.files}
    # zipfile answers damaged metadata with NotImplementedError ("compression method", "zip file version")
    # or RuntimeError ("encrypted"); an .npy header claiming a huge shape with MemoryError
    except (OSError, ValueError, zipfile.BadZipFile, zlib.error, EOFError, KeyError, NotImplementedError,
            RuntimeError, MemoryError) as exc:
        raise ValueError(f"path: {shown} is not a readable refnet .npz file ({exc})") from exc
    if _HEADER not in files:
        raise ValueError(f"path: {shown} has no refnet header")
    try:
        header = json.loads(files.pop(_HEADER).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"path: {shown} has a corrupt refnet header ({exc})") from exc
    return header, files


def read_network(path: str | os.PathLike[str], *, allow_nonfinite: bool = False) -> Network:
    """A network built from the architecture a weight file records, its parameters loaded.

    The file must be of the current format (an older one records no
    architecture: build the network with :func:`refnet.network.mlp` and use
    :func:`load`). Every check of :func:`load` applies.
    """
    source = check_path("path", path)
    shown = repr(str(source))
    header, files = _read(source, shown)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        fmt = header.get("format") if isinstance(header, dict) else header
        raise ValueError(f"path: {shown} has format {fmt!r}, which records no architecture; "
                         "build the network with mlp(...) and use load()")
    arch = header.get("architecture")
    try:
        layers: list[Layer] = []
        for entry in map(_as_recorded_now, cast(list[dict[str, object]], cast(dict[str, object], arch)["layers"])):
            entry = cast(dict[str, object], entry)
            kind, name = str(entry["kind"]), str(entry["name"])
            if kind == "Linear":  # a bias the header does not record is refused by load's architecture check
                layers.append(Linear(files[f"{name}.W"], files.get(f"{name}.b"), name=name))
            elif kind == "Sigmoid":
                layers.append(Sigmoid(name, cast(SigmoidFormula, entry["formula"])))
            elif kind == "ReLU":
                layers.append(ReLU(name, cast(ReLUFormula, entry["formula"])))
            elif kind in _ACTIVATION_KINDS:
                layers.append(_ACTIVATION_KINDS[kind](name))
            else:
                raise ValueError(f"unknown layer kind {kind!r}")
        loss_spec = cast(dict[str, object], cast(dict[str, object], arch)["loss"])
        loss_name, reduction = cast(LossName, loss_spec["name"]), cast(Reduction, loss_spec["reduction"])
        # make_loss checks the name, the reduction and BCE's delta
        loss = (make_loss(loss_name, reduction, cast(float, loss_spec["delta"])) if loss_name == "bce"
                else make_loss(loss_name, reduction))
        net = Network(layers, loss, precision(cast(DTypeName, str(header.get("dtype")))))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"path: {shown} records an architecture refnet cannot build ({exc})") from exc
    load(net, source, allow_nonfinite=allow_nonfinite)
    return net


def load(net: Network, path: str | os.PathLike[str], *, allow_nonfinite: bool = False) -> None:
    """Read parameters from ``path`` into ``net``, all or nothing.

    Raises ``ValueError`` naming ``path`` and leaves ``net`` unchanged when the
    file is missing or not an ``.npz`` archive (a ``.npy`` array is refused), is
    corrupt, has another format, dtype, parameter names or shapes, records
    another architecture (see :func:`architecture`), or holds a NaN or infinite
    parameter (unless ``allow_nonfinite=True``: a diverged network saved for
    inspection). A ``refnet-params/1`` file, which records no architecture,
    loads when dtype, names and shapes match, with a :class:`LegacyFileWarning`.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net: expected a Network, got {type(net).__name__}")
    source = check_path("path", path)
    nonfinite_ok = check_bool("allow_nonfinite", allow_nonfinite)
    shown = repr(str(source))
    header, files = _read(source, shown)
    fmt = header.get("format") if isinstance(header, dict) else header
    if not isinstance(header, dict) or fmt not in (FORMAT, FORMAT_V1):
        raise ValueError(f"path: {shown} has unsupported format {fmt!r} (this refnet reads {FORMAT} and {FORMAT_V1})")
    if header.get("dtype") != net.precision.name:
        raise ValueError(f"path: {shown} holds {header.get('dtype')} parameters, network is {net.precision.name}")
    expected = {k: v.shape for k, v in net.named_params().items()}
    got = {k: v.shape for k, v in files.items()}
    if set(got) != set(expected):
        raise ValueError(
            f"path: {shown}: parameter names differ: missing {sorted(set(expected) - set(got))}, "
            f"unexpected {sorted(set(got) - set(expected))}"
        )
    for name, shape in expected.items():
        if got[name] != shape:
            raise ValueError(f"path: {shown}: {name} has shape {got[name]}, network expects {shape}")
        if files[name].dtype != net.precision.dtype:
            raise ValueError(f"path: {shown}: {name} has dtype {files[name].dtype}, network is {net.precision}")
    legacy = fmt == FORMAT_V1
    if not legacy:
        differ = _differences(header.get("architecture"), architecture(net))
        if differ:
            raise ValueError(f"path: {shown} was saved from another architecture: {'; '.join(differ)}")
    if not nonfinite_ok:
        bad = {name: int(np.count_nonzero(~np.isfinite(a))) for name, a in files.items()}
        bad = {name: n for name, n in bad.items() if n}
        if bad:
            where = ", ".join(f"{name} ({n})" for name, n in bad.items())
            raise ValueError(f"path: {shown} holds NaN or infinite parameters: {where}; "
                             "pass allow_nonfinite=True to load them anyway")
    if legacy:  # before writing: with warnings as errors the network stays unchanged
        warnings.warn(f"path: {shown} has the old format {FORMAT_V1}, which records no architecture; "
                      "loaded by dtype, names and shapes only (layer kinds, activations, sigmoid formula, "
                      "loss and bias layout were not checked); save it again to record them",
                      LegacyFileWarning, stacklevel=2)
    net.set_params(dict(files.items()))
