"""The learning-rate threshold study: the lab's 0.001490625 vs 0.001490626, measured.

``study`` runs the experiments E0-E7 (``experiments`` holds the scans,
``dynamics`` the separation and sharpness runs, ``runs`` the lab's training
runs through :mod:`refnet.sweep`, ``env`` the environment record and the
fresh processes), ``report`` and ``figures`` write it up, ``ulp`` and
``boxcount`` are its float-grid and box-counting tools, ``cli`` is
``python -m verify.lr_threshold``.
"""

from .cli import main

__all__ = ["main"]
