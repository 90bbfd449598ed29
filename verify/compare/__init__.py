"""``python -m verify.compare``: check a student's hand-written backprop against refnet.

The student's network, in the lab's structure (see :mod:`verify.compare.adapter`),
is checked three ways: each layer's backward against finite differences of its
own forward (:mod:`~verify.compare.selfcheck`), one step against refnet in ulps
(:mod:`~verify.compare.onestep`), and a run of N epochs against refnet
(:mod:`~verify.compare.run`), refnet in the arithmetic the student's numbers show
(:mod:`~verify.compare.setting`: the lab's published ``convention="lab"`` when they are
its conventions). The report names the first failure and any hazard
(:mod:`~verify.compare.report`), explained by :mod:`~verify.compare.diagnose`: the formula
found and the one expected when a known slip reproduces the numbers, else
``expected X, got Y`` with the relative error in words. Importing the student's file runs their code.
"""

from .cli import main

__all__ = ["main"]
