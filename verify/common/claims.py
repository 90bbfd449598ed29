"""The lab's claims, once each: the verdict of the committed full report, re-checked by this run.

Every study that tests a claim of the lab writes a ``"claims"`` list in its
``report.json``, at the top or in its ``data`` (the contract, checked by
:func:`read_claims`)::

    {"id": "lr-pair", "claim": "...", "measured": "...", "verdict": "holds",
     "evidence": "pair.png", "full": true}

``verdict`` is one of :data:`VERDICTS`; ``full`` says whether the run was big
enough to decide. :func:`merge` makes one row per claim: the verdict of the
committed full report (``docs/figures/<study>/report.json``) when there is
one, with this run's own verdict as a column "re-checked now" (agrees,
differs, too short to decide), never as a second verdict. Without a committed
report a verdict comes from this run only when the run was full; otherwise the
cell says "undecided" and why.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final, Literal

from .report import JSON, repository_root

__all__ = ["Verdict", "VERDICTS", "ClaimRow", "Claim", "read_claims", "committed_claims", "merge", "findings",
           "once", "CLAIM_STUDIES", "SAME_CLAIM"]

Verdict = Literal["holds", "partly holds", "does not hold", "not testable", "undecided"]
VERDICTS: Final[tuple[Verdict, ...]] = ("holds", "partly holds", "does not hold", "not testable", "undecided")

CLAIM_STUDIES: Final[tuple[str, ...]] = ("experiments", "overflow", "lr_threshold")
"""The studies whose report.json holds claims of the lab, in the order the table lists them."""

SAME_CLAIM: Final[dict[tuple[str, str], tuple[str, str]]] = {
    ("experiments", "pair-seed-0"): ("lr_threshold", "lr-pair-split"),
    ("experiments", "pair-other-seeds"): ("lr_threshold", "lr-pair-other-seeds"),
    ("experiments", "no-activation-overflows"): ("overflow", "overflow-accuracy-zero"),
    ("experiments", "no-hidden-activation-learns-nothing"): ("overflow", "overflow-second-try-learns-nothing"),
}
"""Claims two studies state: ``(study, id)`` -> the ``(study, id)`` of the study that owns the claim.
The table lists such a claim once, from its owner, when the owner's row is there."""


@dataclass(frozen=True)
class ClaimRow:
    """One claim as a study's report.json states it."""

    id: str
    claim: str
    measured: str
    verdict: Verdict
    evidence: str
    full: bool

    def to_json(self) -> dict[str, JSON]:
        """The row as report.json holds it."""
        out: dict[str, JSON] = dict(asdict(self))
        return out


@dataclass(frozen=True)
class Claim:
    """One row of the claims table."""

    study: str
    id: str
    claim: str
    measured: str
    verdict: str
    """A verdict of :data:`VERDICTS`, or ``undecided (...)`` saying why."""
    evidence: str
    source: Literal["committed", "this run"]
    """Where the verdict comes from: the committed full report, or this (full) run."""
    rechecked: str
    """``agrees``, ``differs (now: ...)``, ``too short to decide``, or ``not re-run``."""


def read_claims(doc: JSON) -> list[ClaimRow]:
    """The ``"claims"`` of a report.json; rows that break the contract are skipped (never raises)."""
    rows: list[ClaimRow] = []
    items = doc.get("claims") if isinstance(doc, dict) else None
    if items is None and isinstance(doc, dict) and isinstance(doc.get("data"), dict):
        items = doc["data"].get("claims")  # type: ignore[union-attr]  # a Report's data
    if not isinstance(items, list):
        return rows
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        fields = [item.get(k) for k in ("id", "claim", "measured", "verdict", "evidence")]
        if not all(isinstance(f, str) for f in fields) or item.get("verdict") not in VERDICTS:
            continue
        cid, claim, measured, verdict, evidence = (str(f) for f in fields)
        if cid in seen:
            continue
        seen.add(cid)
        rows.append(ClaimRow(cid, claim, measured, verdict, evidence,  # type: ignore[arg-type]
                             item.get("full") is True))
    return rows


def committed_claims(study: str, root: Path | None = None) -> list[ClaimRow]:
    """The claims of the committed full report ``docs/figures/<study>/report.json`` (its full rows only)."""
    base = root if root is not None else repository_root()
    if base is None:
        return []
    path = base / "docs" / "figures" / study / "report.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [r for r in read_claims(doc) if r.full]


def _recheck(committed: ClaimRow, now: ClaimRow | None) -> str:
    if now is None:
        return "not re-run"
    if now.verdict == "undecided":
        return "too short to decide"
    if now.verdict == committed.verdict:
        return "agrees"
    return f"differs (now: {now.verdict})"


def merge(study: str, now: Sequence[ClaimRow], committed: Sequence[ClaimRow], *, ran: bool) -> list[Claim]:
    """One row per claim of ``study``: committed verdicts first, re-checked by ``now`` (this run's rows).

    Claims this run states that the committed report lacks get their verdict from this run only
    when it was full; otherwise ``undecided (a quick run cannot decide it)``.
    """
    by_id = {r.id: r for r in now}
    rows = [Claim(study, c.id, c.claim, c.measured, c.verdict, c.evidence, "committed",
                  _recheck(c, by_id.get(c.id)) if ran else "not re-run") for c in committed]
    known = {c.id for c in committed}
    for r in now:
        if r.id in known:
            continue
        verdict = r.verdict if r.full else "undecided (a quick run cannot decide it; no full report is committed)"
        rows.append(Claim(study, r.id, r.claim, r.measured, verdict, r.evidence, "this run", "this run"))
    return rows


def once(rows: Sequence[Claim]) -> list[Claim]:
    """``rows`` without the duplicates :data:`SAME_CLAIM` names whose owner's row is present."""
    present = {(r.study, r.id) for r in rows}
    return [r for r in rows if SAME_CLAIM.get((r.study, r.id)) not in present]


def findings(rows: Sequence[Claim]) -> list[str]:
    """Three to six plain sentences: the tally, then what the lab got wrong, then what holds."""
    if not rows:
        return ["No study that tests the lab's claims ran."]
    decided = [r for r in rows if r.verdict in VERDICTS and r.verdict != "undecided"]
    tally = {v: sum(r.verdict == v for r in decided) for v in VERDICTS[:4]}
    parts = [f"{n} {_agree(v, n)}" for v, n in tally.items() if n]
    out = [f"Of the lab's {len(rows)} claims tested here, " + (", ".join(parts) if parts else "none is decided")
           + " (verdicts from the committed full runs" + (
               f"; {len(rows) - len(decided)} undecided" if len(rows) > len(decided) else "") + ")."]
    wrong = [r for r in decided if r.verdict == "does not hold"]
    for r in wrong[:3]:
        out.append(f"Not so: \u201c{_clean(r.claim)}\u201d: {_clean(r.measured)}.")
    right = [r for r in decided if r.verdict == "holds"]
    if right:
        out.append("Reproduced: " + "; ".join(_clean(r.claim) for r in right[:3])
                   + ("; and more (table below)." if len(right) > 3 else "."))
    return out[:6]


def _agree(verdict: str, n: int) -> str:
    """``holds`` for one claim, ``hold`` for several (``does not hold``: ``do not hold``)."""
    if n == 1:
        return verdict
    return {"holds": "hold", "partly holds": "partly hold", "does not hold": "do not hold"}.get(verdict, verdict)


def _clean(text: str) -> str:
    return text.strip().rstrip(".")
