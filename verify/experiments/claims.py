"""The lab's conclusions, one :class:`Claim` each, judged from the rows of the study.

Shares over seeds decide most verdicts (:func:`share_verdict`: at least 80 % of the seeds
"holds", at most 20 % "does not hold", "partly holds" between). Runs shorter than the full
size decide nothing: every verdict of a reduced run is "undecided" (its numbers are still
reported). The lab's conclusions on the cause of the no-activation overflow ("batch size")
and on the pair ("floating-point limits") are judged by ``verify.overflow`` and
``verify.lr_threshold``, not here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..common.claims import VERDICTS, ClaimRow, Verdict
from ..common.report import fmt_number
from .measure import as_number
from .study import Curves, RowResult, Study

__all__ = ["Claim", "Verdict", "VERDICTS", "claims", "share_verdict", "epoch_text"]

Claim = ClaimRow
"""A claim as the contract states it (:class:`verify.common.claims.ClaimRow`)."""


def share_verdict(k: int, n: int) -> Verdict:
    """``holds`` when at least 80 % of ``n`` seeds show it, ``does not hold`` at most 20 %."""
    if n <= 0:
        return "not testable"
    share = k / n
    return "holds" if share >= 0.8 else "does not hold" if share <= 0.2 else "partly holds"


def epoch_text(v: float | None) -> str:
    """An epoch, or "never" (``None`` or infinite)."""
    if v is None or not np.isfinite(v):
        return "never"
    return f"{v:,.0f}"


def _median(c: Curves, feature: str) -> float:
    return float(np.median([as_number(feature, f.value(feature)) for f in c.features()]))


def _count(c: Curves, test: Callable[[int], bool]) -> int:
    return sum(test(i) for i in range(len(c.seeds)))


def _seeds(c: Curves) -> str:
    return f"{len(c.seeds)} seeds"


def _rate(x: float) -> str:
    return f"lr {x:g}"


class _Builder:
    def __init__(self, study: Study, rows: Sequence[RowResult]) -> None:
        self.full = study.mode == "full"
        self.rows = {r.row.name: r for r in rows}
        self.out: list[Claim] = []

    def add(self, id: str, claim: str, measured: str, verdict: Verdict, evidence: str) -> None:
        self.out.append(Claim(id, claim, measured, verdict if self.full else "undecided", evidence, self.full))

    def acc100(self, name: str) -> tuple[int, int]:
        c = self.rows[name].as_run
        return int(np.count_nonzero(c.accuracy == 100.0)), len(c.seeds)


def claims(study: Study, rows: Sequence[RowResult]) -> list[Claim]:
    """Every conclusion of the report this study judges, in the report's order."""
    b = _Builder(study, rows)
    r = b.rows

    # pages 8-9: 100 % on both data sets
    counts = {n: b.acc100(n) for n in ("linear", "linear-snippet", "xor", "xor-snippet")}
    shares = [k / n for k, n in counts.values()]
    low = min(counts.values(), key=lambda kn: kn[0] / kn[1])
    b.add("accuracy-100", "The network reaches 100 % accuracy on the linear data and on XOR.",
          "; ".join(f"{n} ({_rate(r[n].as_run.config.lr)}, {r[n].as_run.config.epochs:,} epochs): 100 % in "
                    f"{k} of {m} seeds" for n, (k, m) in counts.items()),
          share_verdict(*low) if min(shares) < 0.8 else "holds", "linear.png")

    # page 10: XOR needs more epochs than linear data
    lin, xor = r["linear"].as_run, r["xor"].as_run
    dl, dx = _median(lin, "drop"), _median(xor, "drop")
    ul, ux = dl * lin.config.iterations, dx * xor.config.iterations
    b.add("xor-needs-more-epochs", "XOR needs more epochs than the linear data for the loss to converge.",
          f"median epoch the loss first falls below 0.05 over {_seeds(lin)}: linear {epoch_text(dl)} "
          f"({epoch_text(ul)} updates), XOR {epoch_text(dx)} ({epoch_text(ux)} updates)",
          "holds" if dx > dl and ux > ul else "does not hold", "xor.png")

    # page 10: the labels of the learning-rate figure, and lr 0.01 too slow
    panel = r["lr-0.01"]
    lr10 = panel.as_run
    inside = sum(r[f"lr-{v:g}"].inside[0] for v in (1, 0.75, 0.5, 0.1, 0.05, 0.01))
    placed = sum(r[f"lr-{v:g}"].inside[1] for v in (1, 0.75, 0.5, 0.1, 0.05, 0.01))
    b.add("lr-figure-ran-at-10", "Page 10 shows training at lr 1, 0.75, 0.5, 0.1, 0.05 and 0.01.",
          f"every panel ran at lr 10 (each label went into print_freq); {inside} of {placed} numbers read from "
          f"the six panels lie inside the spread of {_seeds(lr10)} at lr 10",
          "does not hold", "learning_rates.png")
    plateau = next(f for f in panel.features if f.feature == "high_until")
    page_plateau = panel.page.high_until or 0.0
    long_plateaus = sum(as_number("high_until", v) >= page_plateau - plateau.tolerance for v in plateau.values)
    longest = max(as_number("high_until", v) for v in plateau.values)
    real = panel.meant
    no_drop = _count(real, lambda i: real.features()[i].drop is None)
    b.add("lr-0.01-too-slow", "At lr 0.01 the loss converges too slowly (page 10).",
          f"the \"0.01\" panel ran at lr 10: its plateau until ~{epoch_text(panel.page.high_until)} epochs happens "
          f"in {long_plateaus} of {len(lr10.seeds)} lr-10 seeds (the longest ends at epoch {epoch_text(longest)}). "
          f"At a real "
          f"lr 0.01 the loss never falls below 0.05 in 2,000 epochs for {no_drop} of {len(real.seeds)} seeds "
          f"(median final {fmt_number(float(np.median(real.loss[:, -1])), 3)})",
          "partly holds" if share_verdict(no_drop, len(real.seeds)) == "holds" else "does not hold",
          "learning_rates.png")

    # page 11: 6 or 8 hidden units converge faster, more is not better
    units = (4, 6, 8, 10)
    run10 = {u: _median(r[f"units-{u}"].as_run, "settle") for u in units}
    meant = {u: _median(r[f"units-{u}"].meant, "drop") for u in units}
    spread = {u: np.percentile([as_number("settle", f.settle) for f in r[f"units-{u}"].as_run.features()], [25, 75],
                                 method="nearest")
              for u in units}

    def ranking_holds(m: dict[int, float]) -> bool:
        return min(m[6], m[8]) < m[4] and m[10] > min(m[6], m[8])

    h10, h05 = ranking_holds(run10), ranking_holds(meant)
    b.add("units-6-8-faster", "6 or 8 hidden units converge faster than 4, and more units are not better (page 11).",
          "the figure ran at lr 10 (0.05 went into print_freq). At lr 10, median epoch the loss settles below "
          "0.01: " + ", ".join(f"{u} units {epoch_text(run10[u])} (middle half {epoch_text(spread[u][0])}-"
                               f"{epoch_text(spread[u][1])})" for u in units)
          + f" over {_seeds(r['units-4'].as_run)}; at the meant lr 0.05, median epoch below 0.05: "
          + ", ".join(f"{u} units {epoch_text(meant[u])}" for u in units),
          "holds" if h10 and h05 else "partly holds" if h10 or h05 else "does not hold", "hidden_units.png")

    # page 12: no activation
    na = r["no-activation"].as_run
    nonfinite = _count(na, lambda i: na.features()[i].nonfinite is not None)
    zero = int(np.count_nonzero(na.accuracy == 0.0))
    firsts = [f.nonfinite for f in na.features() if f.nonfinite is not None]
    b.add("no-activation-overflows", "With no activation at all, training overflows and prints 0.0 % (page 12, first try).",
          f"the loss is non-finite by the logged epoch {epoch_text(max(firsts) if firsts else None)} in {nonfinite} of "
          f"{len(na.seeds)} seeds (batch 5, units 6-4, lr 0.01); accuracy 0.0 % in {zero}",
          share_verdict(min(nonfinite, zero), len(na.seeds)), "no_activation.png")
    osg = r["output-sigmoid-only"].as_run
    learned = _count(osg, lambda i: osg.accuracy[i] == 100.0)
    b.add("no-hidden-activation-learns-nothing",
          "With only the output sigmoid, training learns nothing, even in 500,000 epochs (page 12, second try).",
          f"in {osg.config.epochs:,} epochs, accuracy median {fmt_number(float(np.median(osg.accuracy)), 3)} %, "
          f"best {fmt_number(float(osg.accuracy.max()), 3)} % over {_seeds(osg)}; 100 % in {learned}; median final "
          f"loss {fmt_number(float(np.median(osg.loss[:, -1])), 3)} (chance 0.25). Without a hidden activation the "
          "output is a sigmoid of a linear function of x, and no line separates XOR",
          share_verdict(len(osg.seeds) - learned, len(osg.seeds)), "no_activation.png")

    # page 14: MSE and BCE both settle around 100,000 epochs
    mse, bce = r["xor"].as_run, r["bce-page14"].as_run
    (_, _, mse5), = r["bce-page14"].matched
    sm, sb, s5 = _median(mse, "settle"), _median(bce, "settle"), _median(mse5, "settle")
    dm, db, d5 = _median(mse, "drop"), _median(bce, "drop"), _median(mse5, "drop")
    near = all(50_000 <= s <= 200_000 for s in (sm, sb))  # "about 100,000": within a factor 2
    # a BCE run cut before 200,000 epochs that has not settled cannot refute "about 100,000"
    b.add("mse-bce-both-100k", "MSE and BCE both settle after about 100,000 epochs (page 14).",
          f"median epoch settled (MSE below 0.01, BCE below 0.05 bits) over {_seeds(mse)}: MSE as run "
          f"(batch 20, 1 update per epoch, lr 0.025) {epoch_text(sm)}, page-14 BCE as run (batch 5, 4 updates, "
          f"lr 0.01, {bce.config.epochs:,} epochs) {epoch_text(sb)}. Matched (MSE at batch 5, 4 updates, lr 0.01): "
          f"{epoch_text(s5)}; median first epoch below the low line: MSE as run {epoch_text(dm)}, BCE {epoch_text(db)}, "
          f"matched MSE {epoch_text(d5)}. The two panels differ in batch, updates per epoch and rate",
          "holds" if near else "undecided" if not np.isfinite(sb) and bce.config.epochs < 200_000
          else "does not hold", "mse_vs_bce.png")

    # page 15: ReLU faster than sigmoid
    sig, rel = r["sigmoid-mse"], r["relu-mse"]
    (_, _, sig5), = sig.matched  # beside each panel: its network in the other panel's setting
    (_, _, rel21), = rel.matched
    d = {k: _median(c, "drop") for k, c in (("sig21", sig.as_run), ("rel5", rel.as_run), ("sig5", sig5),
                                            ("rel21", rel21))}
    faster = [d["rel5"] < d["sig5"], d["rel21"] < d["sig21"]]
    dead = _count(rel.as_run, lambda i: rel.as_run.features()[i].drop is None)
    b.add("relu-faster-than-sigmoid", "With MSE, ReLU converges faster than sigmoid (page 15).",
          f"median first epoch below 0.05 over {_seeds(sig.as_run)}: as run, sigmoid (batch 21, 1 update per epoch) "
          f"{epoch_text(d['sig21'])}, ReLU (batch 5, 4 updates) {epoch_text(d['rel5'])}; matched at batch 5: sigmoid "
          f"{epoch_text(d['sig5'])}, ReLU {epoch_text(d['rel5'])}; matched at batch 21: sigmoid {epoch_text(d['sig21'])}, "
          f"ReLU {epoch_text(d['rel21'])}; ReLU never below 0.05 in {dead} seeds (batch 5)",
          "holds" if all(faster) else "partly holds" if any(faster) else "does not hold", "sigmoid_vs_relu.png")

    # page 16: ReLU + BCE at 0.01 fails, at 0.001 succeeds (seed 0)
    for name, says, ok_if_learned in (("relu-bce-0.01", "At lr 0.01, ReLU + BCE does not converge (page 16).", False),
                                      ("relu-bce-0.001", "At lr 0.001, ReLU + BCE trains very well (page 16).", True)):
        row = r[name]
        c = row.as_run
        outs = c.outcomes()
        i0 = c.of_seed(0)
        checks = row.required(b.full)
        k, n = sum(bool(f.seed0_matches) for f in checks), len(checks)
        tally = {o: outs.count(o) for o in ("learned", "stuck", "above chance", "non-finite") if outs.count(o)}
        reproduced = (outs[i0] == "learned") == ok_if_learned and k == n
        b.add(name.replace("relu-bce-", "relu-bce-lr-"), says,
              f"seed 0 (the script's): {outs[i0]}, final {fmt_number(c.loss[i0, -1], 4)} bits, {k} of {n} features "
              f"equal to the page's" + (", every logged value from epoch 10,000 on a multiple of 23.2535/21 bits"
                                         if row.quantized_after else "")
              + f". Over {_seeds(c)}: " + ", ".join(f"{v} {o}" for o, v in tally.items())
              + ("; a step at lr a on the summed BCE equals a mean-loss step at 21a" if not ok_if_learned else ""),
              "holds" if reproduced else "does not hold", "relu_bce.png")

    # pages 17-18: the pair, seed 0, and other seeds
    p5, p6 = r["pair-625"], r["pair-626"]
    o5, o6 = p5.as_run.outcomes(), p6.as_run.outcomes()
    i5 = p5.as_run.of_seed(0)
    c5, c6 = p5.required(b.full), p6.required(b.full)
    (k5, n5), (k6, n6) = [(sum(bool(f.seed0_matches) for f in c), len(c)) for c in (c5, c6)]
    known = [f for f in p6.checks(b.full) if f.feature in p6.page.differs and not f.seed0_matches]
    pair_ok = o5[i5] == "learned" and o6[i5] != "learned" and k5 == n5 and k6 == n6
    b.add("pair-seed-0", "lr 0.001490625 converges and lr 0.001490626 does not (pages 17-18).",
          f"seed 0: 0.001490625 {o5[i5]} (final {fmt_number(p5.as_run.loss[i5, -1], 3)} bits, "
          f"{fmt_number(p5.as_run.accuracy[i5], 3)} %), 0.001490626 {o6[i5]} (final "
          f"{fmt_number(p6.as_run.loss[i5, -1], 4)} bits, {fmt_number(p6.as_run.accuracy[i5], 3)} %); features equal "
          f"to the page's: {k5} of {n5} and {k6} of {n6}"
          + "".join(f"; {f.feature} of 0.001490626 {fmt_number(f.seed0, 3)} bits against the page's "
                    f"{fmt_number(f.page, 3)}: page 18's 5,000-9,000 transient is not this machine's"
                    for f in known if f.seed0 is not None and f.page is not None),
          "holds" if pair_ok else "does not hold", "pair.png")
    others = [i for i, s in enumerate(p5.as_run.seeds) if s != 0]
    differ = sum((o5[i] == "learned") != (o6[i] == "learned") for i in others)
    b.add("pair-other-seeds", "Changing the random seed still gives different results for the two rates (page 18).",
          f"the script hard-codes seed 0; over seed{'s 1-' if len(others) > 1 else ' '}{max(p5.as_run.seeds)} the two "
          f"rates end differently in "
          f"{differ} of {len(others)} (both learn in {sum(o5[i] == o6[i] == 'learned' for i in others)}, both fail in "
          f"{sum(o5[i] != 'learned' and o6[i] != 'learned' for i in others)})",
          share_verdict(differ, len(others)), "pair.png")
    return b.out

