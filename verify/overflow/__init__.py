"""The overflow study: the lab's no-activation overflow, reproduced and explained.

``study`` runs it (reproduction, symptom, Hessian bound, grid, linear limit),
``grid`` and ``runs`` hold its training runs, ``figures`` and ``report`` write
it up, ``cli`` is ``python -m verify.overflow``.
"""

from .cli import main

__all__ = ["main"]
