"""Which refnet arithmetic reproduces the student's: convention, learning rate, layer formulas, loss units.

Checks 2 and 3 run refnet in the arithmetic the student's numbers show
(detected by :mod:`verify.compare.onestep`, or stated with ``--gradient`` and
``--update``):

* update **inside** backward (the lab's order) with the conventions of the lab's
  published code (``shared/LAB_SOURCE.md`` section 1) is ``convention="lab"``,
  :class:`refnet.conventions.Published`: MSE reported as the mean with the
  mean's gradient; BCE reported as the batch mean **in bits** with the gradient
  of the batch **sum in nats**; the naive sigmoid (read from the student's
  bits); refnet's ReLU then masks ``x <= 0`` as the lab's does;
* the lab's page-14 BCE (its gradient ``(y - t) / (y (1 - y) B)``, the mean's
  without the ``delta``, with the loss reported as the mean in bits; commit
  ``80a9728``) with the rest of those conventions is ``convention="lab-page14"``,
  ``Published(bce="page14")``; with any other conventions it is read as the
  mean's gradient, and the missing ``delta`` shows in check 2;
* any other update-inside arithmetic is a :class:`refnet.conventions.Reading`
  with the student's loss gradient (``sum`` or ``mean``), sigmoid formula and
  BCE unit (``lab-sum`` is the summed one with the stable sigmoid; others are
  named by their label);
* mean gradient, update **after** is ``default`` at ``lr``; summed and after,
  which refnet has no convention for, is ``default`` at ``lr x N`` (equal in
  exact arithmetic, so compared within rounding bounds, not bit for bit).

refnet reports its loss as the batch mean, in bits for ``lab``'s BCE and a
reading's ``log=2``, in nats otherwise; :meth:`Setting.loss_factor` converts
it to the student's units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from refnet.conventions import PUBLISHED, READINGS, ConventionLike, Published, Reading
from refnet.layers import ReLUFormula, SigmoidFormula

from .adapter import LossInfo

__all__ = ["GradientReading", "UpdateOrder", "Setting", "refnet_setting", "convention_name", "matches_published",
           "loss_factor"]

GradientReading = Literal["mean", "summed", "page14"]
"""The student's loss gradient: of the mean, of the sum (``N x``), or the lab's page-14 BCE gradient
``(y - t) / (y (1 - y) N)`` (the mean's, without the ``delta``: ``convention="lab-page14"``)."""
UpdateOrder = Literal["inside", "after"]


def convention_name(convention: ConventionLike) -> str:
    """``default``, ``lab``, a reading's name (``lab-sum``) or its label."""
    if isinstance(convention, str):
        return convention
    if isinstance(convention, Published):
        return convention.label
    return next((name for name, r in READINGS.items() if r == convention), convention.label)


def matches_published(gradient: GradientReading, update: UpdateOrder, sigmoid: SigmoidFormula,
                      loss: LossInfo) -> bool:
    """The student's conventions are the lab's published ones (``convention="lab"``, or ``"lab-page14"``
    for the page-14 gradient)."""
    if update != "inside" or sigmoid != "naive" or loss.reduction != "mean":
        return False
    if gradient == "page14":
        return loss.kind == "bce" and loss.base == "2"
    if loss.kind == "mse":
        return gradient == "mean"
    return gradient == "summed" and loss.base == "2"


@dataclass(frozen=True)
class Setting:
    """refnet's side of the comparison."""

    convention: ConventionLike
    lr: float
    relu: ReLUFormula
    """The formula of refnet's ReLU layers (``mask`` under ``lab``, as the convention requires)."""
    published: bool
    """The student's conventions are the lab's published arithmetic."""

    @property
    def name(self) -> str:
        return convention_name(self.convention)

    def describe(self) -> str:
        """``convention='lab', lr 0.001490625``."""
        return f"convention={self.name!r}, lr {self.lr:.10g}"

    def loss_factor(self, loss: LossInfo, count: int) -> float:
        """refnet's reported loss (a batch mean) times this is in the student's units."""
        return loss_factor(self.convention, loss, count)


def loss_factor(convention: ConventionLike, loss: LossInfo, count: int) -> float:
    """refnet's loss reported under ``convention`` (a batch mean, in bits for ``lab``'s BCE and a
    reading's ``log=2``, else in nats) times this is in the student's units (``count`` terms)."""
    summed = float(count) if loss.reduction == "sum" else 1.0
    bits = loss.kind == "bce" and (isinstance(convention, Published)
                                   or (isinstance(convention, Reading) and convention.log_base == "2"))
    return summed * (math.log(2.0) if bits else 1.0) / loss.log_scale


def refnet_setting(gradient: GradientReading, update: UpdateOrder, lr: float, count: int,
                   sigmoid: SigmoidFormula = "stable", loss: LossInfo | None = None) -> Setting:
    """refnet's convention, learning rate and ReLU formula for the student's conventions.

    ``loss`` (default: mean squared error) decides whether the lab's published
    arithmetic matches, and the unit of a reading's reported BCE.
    """
    info = LossInfo("mse", "mean") if loss is None else loss
    if update == "inside":
        if matches_published(gradient, update, sigmoid, info):
            return Setting(PUBLISHED["lab-page14" if gradient == "page14" else "lab"], lr, Published.relu, True)
        r = Reading(gradient="sum" if gradient == "summed" else "mean", sigmoid=sigmoid,
                    log_base="2" if info.kind == "bce" and info.base == "2" else "e")
        return Setting(r, lr, Reading.relu, False)
    return Setting("default", lr if gradient != "summed" else lr * count, "max", False)
