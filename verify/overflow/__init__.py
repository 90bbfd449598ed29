"""The overflow study: the lab's no-activation run that overflowed, as its code ran it.

``runs`` watches and stops each lab run (guard, tracer), ``study`` runs the seeds,
batch sizes and the second try and judges the lab's claims, ``report`` writes it
up, ``cli`` is ``python -m verify.overflow``.
"""

from .cli import main

__all__ = ["main"]
