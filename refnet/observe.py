"""Where every array refnet produces can be inspected while it is produced.

The network and the training loop describe each array they make with a
:class:`Site` (phase, layer, operation, role) and hand it to an optional
:class:`Observer`. The overflow guard (:mod:`refnet.guard`) is one; a
test probe recording dtypes is another. Sites are built once per network,
so observing costs nothing when no observer is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from .precision import FloatArray

__all__ = ["Phase", "Site", "Observer"]

Phase = Literal["input", "forward", "loss", "backward", "update"]


@dataclass(frozen=True)
class Site:
    """A place in the program where an array is produced."""

    phase: Phase
    layer_index: int | None
    layer_name: str
    layer_type: str
    operation: str
    role: str


class Observer(Protocol):
    """Receives every produced array, in program order."""

    def at(self, epoch: int, step: int, batch: slice) -> None:
        """Training has reached ``epoch``/``step`` on rows ``batch``."""
        ...

    def observe(self, site: Site, array: FloatArray, inputs: Sequence[FloatArray]) -> None:
        """``array`` was just produced at ``site`` from ``inputs``."""
        ...
