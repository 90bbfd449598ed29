"""Verdicts of the three checks and their human and JSON forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CheckName", "Status", "Finding", "CheckResult", "Report", "render", "as_json", "CHECK_TITLES"]

CheckName = Literal["self-consistency", "one-step", "run"]
Status = Literal["PASS", "FAIL", "SKIP"]

CHECK_TITLES: dict[CheckName, str] = {
    "self-consistency": "1. self-consistency (backward vs finite differences of forward)",
    "one-step": "2. one step against refnet",
    "run": "3. a run against refnet",
}


@dataclass(frozen=True)
class Finding:
    """The first failure of a check: where, which quantity, what is wrong."""

    site: str
    quantity: str
    message: str
    fields: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"site": self.site, "quantity": self.quantity, "message": self.message, **self.fields}


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict, its summary line, detail lines and first failure."""

    name: CheckName
    status: Status
    summary: str
    lines: tuple[str, ...] = ()
    failure: Finding | None = None
    data: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"check": self.name, "status": self.status, "summary": self.summary,
                "lines": list(self.lines),
                "failure": None if self.failure is None else self.failure.as_dict(), **self.data}


@dataclass(frozen=True)
class Report:
    """Everything one ``python -m verify.compare`` run found."""

    spec: str
    recognised: tuple[str, ...]
    settings: dict[str, object]
    convention: dict[str, str]
    checks: tuple[CheckResult, ...]
    notes: tuple[str, ...] = ()
    hazards: tuple[str, ...] = ()
    """Code that gives right numbers here but is fragile (an in-place write into prev_grad): named, not failed."""

    @property
    def passed(self) -> bool:
        return all(c.status == "PASS" for c in self.checks)

    @property
    def first_failure(self) -> CheckResult | None:
        return next((c for c in self.checks if c.status == "FAIL"), None)


def render(report: Report, quiet: bool = False) -> str:
    """The human report (``quiet``: hazards, verdict lines and the first failure only)."""
    out: list[str] = []
    if not quiet:
        out.append(f"student: {report.spec}")
        out.append("recognised:")
        out += [f"  {line}" for line in report.recognised]
        out.append("settings: " + ", ".join(f"{k} {v}" for k, v in report.settings.items()))
        out.append("convention: " + "; ".join(f"{k}: {v}" for k, v in report.convention.items()))
        out += [f"note: {n}" for n in report.notes]
    out += [f"hazard: {h}" for h in report.hazards]
    if not quiet or report.hazards:
        out.append("")
    for c in report.checks:
        out.append(f"{c.status}  {CHECK_TITLES[c.name]}: {c.summary}")
        if not quiet:
            out += [f"      {line}" for line in c.lines]
    first = report.first_failure
    out.append("")
    if first is None:
        out.append("PASS: all three checks agree with refnet")
    else:
        msg = first.failure.message if first.failure is not None else first.summary
        out.append(f"FAIL ({first.name}): {msg}")
    return "\n".join(out) + "\n"


def as_json(report: Report) -> dict[str, object]:
    first = report.first_failure
    return {
        "student": report.spec, "recognised": list(report.recognised), "settings": report.settings,
        "convention": report.convention, "notes": list(report.notes), "hazards": list(report.hazards),
        "status": "PASS" if report.passed else "FAIL",
        "first_failure": None if first is None else {
            "check": first.name, **(first.failure.as_dict() if first.failure else {"message": first.summary})},
        "checks": [c.as_dict() for c in report.checks],
    }
