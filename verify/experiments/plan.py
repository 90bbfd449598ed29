"""What the study runs: every figure of the report as run, as meant, and matched, at a size.

One :class:`Row` per item of ``refnet.lab.EXPERIMENTS`` (LAB_SOURCE section 3). Each row has
the configuration as the lab's code ran it, the run the lab meant (its labelled rate), and for
the two confounded comparisons of pages 14 and 15 a matched rerun. :func:`runs_of` lists every
distinct configuration with the rates to run on each seed, so that all rates of one
configuration share one ensemble (members of a seed share its draws).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from refnet import lab

__all__ = ["Mode", "Sizes", "SIZES", "Row", "ROWS", "MATCHED", "configs", "runs_of", "Variant"]

Mode = Literal["quick", "default", "full"]
Variant = Literal["as run", "meant", "matched"]


@dataclass(frozen=True)
class Sizes:
    """Seeds and epochs of one mode. ``epochs`` caps an experiment's epochs by name (the lab's
    when absent)."""

    seeds: int
    epochs: dict[str, int]
    note: str

    def cap(self, name: str, config: lab.Config) -> lab.Config:
        """``config`` with the epochs of this size."""
        return config.but(epochs=min(config.epochs, self.epochs.get(name, config.epochs)))


_REDUCED = {"linear": 1_000, "linear-snippet": 1_000, "xor": 5_000, "xor-snippet": 5_000,
            **{n: 400 for n in lab.EXPERIMENTS if n.startswith("lr-")},
            **{n: 500 for n in lab.EXPERIMENTS if n.startswith("units-")},
            "no-activation": 200, "output-sigmoid-only": 1_000, "bce-page14": 1_000,
            "sigmoid-mse": 1_000, "relu-mse": 1_000,
            "relu-bce-0.01": 6_000, "relu-bce-0.001": 6_000, "pair-625": 6_000, "pair-626": 6_000}

SIZES: Final[dict[Mode, Sizes]] = {
    "quick": Sizes(2, _REDUCED, "2 seeds; a few hundred to 6,000 epochs per figure (the tests' size)"),
    "default": Sizes(10, _REDUCED, "seeds 0-9; a few hundred to 6,000 epochs per figure"),
    "full": Sizes(30, {"no-activation": 2_000, "output-sigmoid-only": 20_000, "bce-page14": 100_000,
                       "relu-mse": 50_000},
                  "seeds 0-29; the lab's epochs, except where 4 updates per epoch make a run costly: "
                  "2,000 of 500,000 epochs for the first no-activation run (a run non-finite by then stays so: "
                  "NaN weights stay NaN), 20,000 of 500,000 for the output-sigmoid-only run (its "
                  "output is a sigmoid of a linear function of x: no epoch count separates XOR), 100,000 of "
                  "500,000 for the page-14 BCE run and its matched MSE (page 14's claim is about the first "
                  "100,000), 50,000 of 100,000 for the page-15 ReLU run and its matched sigmoid (the page's "
                  "ReLU curve is flat from about 12,000)"),
}


@dataclass(frozen=True)
class Row:
    """One figure of the report (an item of LAB_SOURCE section 3)."""

    name: str
    """The name in ``lab.EXPERIMENTS``."""
    page: int
    title: str
    figure: str
    """The file of this row's figure (rows of one report figure share it)."""
    matched: tuple[str, ...] = ()
    """Keys of :data:`MATCHED` beside this row."""

    @property
    def seeded(self) -> bool:
        return self.name in lab.SEEDED

    @property
    def config(self) -> lab.Config:
        return lab.EXPERIMENTS[self.name]

    @property
    def labelled(self) -> float:
        return lab.LABELLED[self.name]

    @property
    def mislabelled(self) -> bool:
        return self.labelled != self.config.lr


ROWS: Final[tuple[Row, ...]] = (
    Row("linear", 9, "linear data (script's lr 0.1)", "linear.png"),
    Row("linear-snippet", 9, "linear data (snippet's lr 0.05)", "linear.png"),
    Row("xor", 10, "XOR data (script's lr 0.025)", "xor.png"),
    Row("xor-snippet", 10, "XOR data (snippet's lr 0.05)", "xor.png"),
    *(Row(f"lr-{v:g}", 10, f"learning-rate panel \"{v:g}\"", "learning_rates.png") for v in (1, 0.75, 0.5, 0.1, 0.05, 0.01)),
    *(Row(f"units-{u}", 11, f"hidden units {u}-{u}", "hidden_units.png") for u in (4, 6, 8, 10)),
    Row("no-activation", 12, "no activation, first try", "no_activation.png"),
    Row("output-sigmoid-only", 12, "no hidden activation, second try", "no_activation.png"),
    Row("bce-page14", 14, "MSE vs BCE: the BCE panel", "mse_vs_bce.png", ("mse-b5",)),
    Row("sigmoid-mse", 15, "sigmoid vs ReLU: the sigmoid panel", "sigmoid_vs_relu.png", ("sigmoid-b5",)),
    Row("relu-mse", 15, "sigmoid vs ReLU: the ReLU panel", "sigmoid_vs_relu.png", ("relu-b21",)),
    Row("relu-bce-0.01", 16, "ReLU + BCE at lr 0.01", "relu_bce.png"),
    Row("relu-bce-0.001", 16, "ReLU + BCE at lr 0.001", "relu_bce.png"),
    Row("pair-625", 17, "the pair: lr 0.001490625", "pair.png"),
    Row("pair-626", 18, "the pair: lr 0.001490626", "pair.png"),
)
"""Every item of ``lab.EXPERIMENTS``, in the report's order."""

MATCHED: Final[dict[str, tuple[str, str, lab.Config]]] = {
    # page 14: the BCE panel ran batch 5 (4 updates per epoch) at lr 0.01; MSE in the same setting
    "mse-b5": ("bce-page14", "MSE with the BCE panel's batch 5, 4 updates per epoch, lr 0.01",
               lab.EXPERIMENTS["bce-page14"].but(loss="mse")),
    # page 15: sigmoid ran batch 21 (1 update per epoch), ReLU batch 5 (4); each in the other's setting
    "sigmoid-b5": ("relu-mse", "sigmoid with the ReLU panel's batch 5, 4 updates per epoch",
                   lab.EXPERIMENTS["relu-mse"].but(activation="sigmoid")),
    "relu-b21": ("sigmoid-mse", "ReLU with the sigmoid panel's batch 21, 1 update per epoch",
                 lab.EXPERIMENTS["sigmoid-mse"].but(activation="relu")),
}
"""Matched reruns: key -> (the experiment whose epochs cap it, what it is, its configuration)."""


def configs(sizes: Sizes) -> dict[tuple[str, Variant], lab.Config]:
    """Every configuration the study runs, by (row or matched key, variant), capped to ``sizes``."""
    out: dict[tuple[str, Variant], lab.Config] = {}
    for row in ROWS:
        cfg = sizes.cap(row.name, row.config)
        out[(row.name, "as run")] = cfg
        out[(row.name, "meant")] = cfg.but(lr=row.labelled)
    for key, (like, _, cfg) in MATCHED.items():
        out[(key, "matched")] = sizes.cap(like, cfg)
    return out


def runs_of(sizes: Sizes) -> dict[lab.Config, tuple[float, ...]]:
    """The distinct configurations (rate set to a placeholder) and the rates each runs on every seed."""
    out: dict[lab.Config, list[float]] = {}
    for cfg in configs(sizes).values():
        rates = out.setdefault(cfg.but(lr=_PLACEHOLDER_LR), [])
        if cfg.lr not in rates:
            rates.append(cfg.lr)
    return {cfg: tuple(rates) for cfg, rates in out.items()}


_PLACEHOLDER_LR = 1.0
"""The rate stored in a grouped configuration (each run carries its own)."""
