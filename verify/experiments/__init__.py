"""The experiments study: every figure of the lab report, rerun as the lab's code ran it.

Built on :mod:`refnet.lab` (the lab's program reproduced byte for byte). ``plan`` lists
what runs (each figure as run, as meant, and the matched reruns of pages 14 and 15) at
three sizes; ``pages`` holds the numbers read from the report's pages; ``measure`` reads
the same features from a logged curve; ``study`` runs everything through
``refnet.lab.sweep`` and compares; ``claims`` judges the lab's conclusions; ``figures``
and ``report`` write it up; ``cli`` is ``python -m verify.experiments``.
"""

from .cli import main

__all__ = ["main"]
