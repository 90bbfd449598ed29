"""What the report's figures show, read by eye from its pages (``seed/lab-report-pages/page-NN.png``).

Each :class:`PageRead` holds the numbers of one curve of the report, in the lab's units
(MSE; BCE in bits) and its 0-based epochs, with the page it was read from and the axis
ranges of its plot (the reading tolerance is a share of them, :data:`READ_X` and
:data:`READ_Y`). The features are those :func:`verify.experiments.measure.features` computes
from a run's logged curve, so a page and a run are compared feature by feature:

``level``       the first logged loss;
``high_until``  the last epoch with the loss above the "high" line (near chance);
``drop``        the first epoch with the loss below the "low" line;
``settle``      the first epoch from which the loss stays below the "settled" line;
``peak``        the largest loss after ``drop`` (spikes);
``final``       the last logged loss; ``accuracy`` the printed accuracy, percent.

``None`` means the page does not show it (or the curve never does it, see ``never``).
Pages 16 (bottom) and 17 were read again from a 3x enlargement of the plot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = ["PageRead", "PAGES", "READ_X", "READ_Y", "FEATURES"]

READ_X: Final = 0.02
"""Reading tolerance along the epoch axis: 2 % of the plotted epoch range (about 4 px on the page)."""
READ_Y: Final = 0.04
"""Reading tolerance along the loss axis: 4 % of the plotted loss range (the curves are a few px thick)."""

FEATURES: Final = ("level", "high_until", "drop", "settle", "peak", "final")
"""The curve features compared between page and run, in the order of the tables."""


@dataclass(frozen=True)
class PageRead:
    """One curve of the report as printed."""

    page: int
    x_range: float
    """Epoch span of the plot's axis."""
    y_range: float
    """Loss span of the plot's axis."""
    level: float | None = None
    high_until: float | None = None
    drop: float | None = None
    settle: float | None = None
    peak: float | None = None
    final: float | None = None
    accuracy: float | None = None
    band: tuple[float, float] | None = None
    """The range the loss fills after ``drop`` (or over the whole run when it never drops)."""
    never: tuple[str, ...] = ()
    """Features the curve visibly never reaches (``drop``, ``settle``): "never" on the page."""
    note: str = ""
    differs: dict[str, str] = field(default_factory=dict)
    """Seeded figures: features known to differ from the rerun, and why (kept visible, not required)."""

    def value(self, feature: str) -> float | None:
        """The page's number for ``feature`` (one of :data:`FEATURES`)."""
        if feature not in FEATURES:
            raise ValueError(f"feature: expected one of {', '.join(FEATURES)}, got {feature!r}")
        v: float | None = getattr(self, feature)
        return v

    def tolerance(self, feature: str) -> float:
        """How far a run's value may be from the page's and still be the same reading."""
        return READ_Y * self.y_range if feature in ("level", "peak", "final") else READ_X * self.x_range


PAGES: Final[dict[str, PageRead]] = {
    # page 9: linear data, loss axis 0-0.26, epochs 0-10,000; accuracy 100 % printed on page 9
    "linear": PageRead(9, 10_000, 0.27, level=0.26, high_until=600, drop=1_000, peak=0.05, final=0.005,
                       accuracy=100.0, band=(0.0, 0.03)),
    # page 10 top (and page 14 left): XOR, 0-0.27, 0-500,000; a band up to 0.27 until ~35,000
    "xor": PageRead(10, 500_000, 0.28, level=0.25, high_until=35_000, drop=50_000, settle=80_000, final=0.0005,
                    accuracy=100.0, band=(0.2, 0.27)),
    # page 10: six panels, each 0-2,000 epochs; loss axes differ per panel
    "lr-1": PageRead(10, 2_000, 0.37, level=0.36, high_until=10, drop=40, peak=0.12, final=0.02,
                     band=(0.0, 0.12), never=("settle",)),
    "lr-0.75": PageRead(10, 2_000, 0.31, level=0.31, high_until=10, drop=40, peak=0.10, final=0.01,
                        band=(0.0, 0.10), never=("settle",)),
    "lr-0.5": PageRead(10, 2_000, 0.175, level=0.17, drop=60, peak=0.09, final=0.04,
                       band=(0.0, 0.09), never=("settle",)),
    "lr-0.1": PageRead(10, 2_000, 0.35, level=0.34, high_until=10, drop=40, peak=0.12, final=0.02,
                       band=(0.0, 0.12), never=("settle",)),
    "lr-0.05": PageRead(10, 2_000, 0.6, level=0.57, high_until=10, drop=60, peak=0.11, final=0.01,
                        band=(0.0, 0.11), never=("settle",)),
    "lr-0.01": PageRead(10, 2_000, 0.6, level=0.35, high_until=800, drop=850, peak=0.12, final=0.02,
                        band=(0.3, 0.55), note="a plateau at 0.3-0.55 until ~800 epochs, then 0-0.12", never=("settle",)),
    # page 11: four panels, 0-5,000 epochs; every curve flat at 0 once settled
    "units-4": PageRead(11, 5_000, 0.48, level=0.41, high_until=150, drop=250, settle=1_800, peak=0.15,
                        final=0.0),
    "units-6": PageRead(11, 5_000, 0.45, level=0.45, high_until=20, drop=60, settle=1_850, peak=0.13,
                        final=0.0),
    "units-8": PageRead(11, 5_000, 0.5, level=0.48, high_until=40, drop=100, settle=1_550, peak=0.12,
                        final=0.0),
    "units-10": PageRead(11, 5_000, 0.63, level=0.5, high_until=1_650, drop=1_700, settle=2_550, peak=0.2,
                         final=0.0, band=(0.35, 0.62), note="a plateau at 0.35-0.62 until ~1,650 epochs"),
    # page 12, first try: a terminal, not a curve: overflow in the square, then "Accuracy = 0.0 %"
    "no-activation": PageRead(12, 500_000, 1.0, accuracy=0.0, never=("drop", "settle"),
                              note="overflow warning in the MSE square; NaN predictions; 0.0 % printed"),
    # page 12, second try: 0-500,000 epochs, loss axis 0.1-0.9; a noisy band, no learning
    "output-sigmoid-only": PageRead(12, 500_000, 0.8, level=0.3, band=(0.15, 0.9), final=0.55,
                                    never=("drop", "settle"), note="a band 0.15-0.9 around 0.55 for all 500,000"),
    # page 14 right: BCE (page-14 form), bits, 0-1.05, 0-500,000
    "bce-page14": PageRead(14, 500_000, 1.05, level=1.0, high_until=40_000, drop=55_000, settle=100_000,
                           final=0.0, band=(0.95, 1.05)),
    # page 15: sigmoid (top) and ReLU (bottom) with MSE, 0-100,000
    "sigmoid-mse": PageRead(15, 100_000, 0.31, level=0.31, high_until=65_000, drop=75_000, settle=90_000,
                            final=0.005, band=(0.23, 0.26), note="a plateau at 0.25 until ~45,000 epochs"),
    "relu-mse": PageRead(15, 100_000, 0.25, level=0.24, high_until=7_000, drop=9_000, settle=12_000, final=0.0,
                         band=(0.1, 0.24)),
    # page 16: ReLU + BCE (bits), 0-50,000; top lr 0.01 never learns, bottom lr 0.001 learns
    "relu-bce-0.01": PageRead(16, 50_000, 12.6, level=8.86, high_until=49_800, final=12.2,
                              band=(4.4, 16.6), never=("drop", "settle")),
    "relu-bce-0.001": PageRead(16, 50_000, 1.1, level=1.0, high_until=7_800, drop=9_200, settle=12_000,
                               final=0.0, band=(0.9, 1.1)),
    # page 17: lr 0.001490625: a spike to 1.24 at ~3,600, then down
    "pair-625": PageRead(17, 50_000, 1.3, level=1.0, high_until=3_600, drop=4_400, settle=5_800, peak=0.17,
                         final=0.0003, band=(0.0, 0.17),
                         note="a spike to 1.24 bits at ~3,600 epochs, 0.63 at ~4,000, then down"),
    # page 18: lr 0.001490626: 1 bit until ~4,800 (down to ~0.07), a jump at ~5,000, a band 4.4-16.6
    "pair-626": PageRead(18, 50_000, 16.6, level=1.0, high_until=49_800, drop=4_800, peak=16.6, final=12.18,
                         band=(4.4, 16.6), never=("settle",), note="a jump at ~5,000 epochs",
                         differs={"peak": "the page's 5,000-9,000 transient is not this machine's (LAB_SOURCE "
                                          "section 4: equal up to 4,800 and from 10,000 on); its peak falls in it"}),
}
"""The report's curves by experiment name (the names of :data:`refnet.lab.EXPERIMENTS`).

``linear-snippet`` and ``xor-snippet`` share the page of ``linear`` and ``xor`` (the same figure,
whichever rate made it)."""
