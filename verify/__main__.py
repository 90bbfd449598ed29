"""``python -m verify``: run every study and write one report.

Runs, in order, ``verify.gradcheck``, ``verify.overflow --quick``,
``verify.lr_threshold --quick``, ``verify.experiments`` and
``verify.conventions`` (``--full``: the overflow and lr-threshold studies at
their full size and ``experiments --full``, the lab's epochs; much longer) by importing each
module and calling its ``main(["--report", "<out>/<name>", "--quiet", ...])``.
A study that is missing, raises, or exits non-zero is recorded as failed and
the suite goes on. Then it writes ``<out>/index.md``, a self-contained
``<out>/index.html`` (figures embedded), ``<out>/report.json`` and keeps each
study's own folder with its figures (what a study prints on stdout is kept in
its folder as ``stdout.txt``), prints a one-screen summary on stdout and exits
1 if any part failed.

The page opens with the findings: a few plain sentences, then one table with
one row per claim of the lab: what refnet measured, the verdict of the study's
committed full report, what this run re-checked, and links to the evidence
(:func:`claims`, :mod:`verify.common.claims`); then the software's own checks,
then one section per study. Results of a ``--quick`` run are labelled as such,
with a pointer to the committed full report ``docs/figures/<study>/report.md``.

Progress goes to stderr: on a terminal one line that updates every second with
the time left (each study's typical duration, :data:`TYPICAL_SECONDS`, scaled by
how fast the studies already finished ran on this machine); otherwise plain
lines, one when a study starts and ends and one every 30 s while it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import math
import platform
import re
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import numpy as np

from refnet import __version__ as refnet_version
from refnet.validation import output_dir_argument

from .common.claims import CLAIM_STUDIES, Claim, committed_claims, findings, merge, once, read_claims
from .common.report import JSON, markdown_table, repository_root, write_html

__all__ = ["main", "Study", "STUDIES", "Part", "run_study", "Claim", "claims", "TYPICAL_SECONDS", "SuiteProgress"]


@dataclass(frozen=True)
class Study:
    """A study module of ``verify`` and the extra flags it gets in each mode."""

    name: str
    default_args: tuple[str, ...] = ()
    full_args: tuple[str, ...] = ()


STUDIES: tuple[Study, ...] = (
    Study("gradcheck"),
    Study("overflow", ("--quick",), ()),  # its default grid alone takes about 5 minutes on 2 busy cores
    Study("lr_threshold", ("--quick",), ()),
    Study("experiments", (), ("--full",)),
    Study("conventions"),
)


@dataclass
class Part:
    """What one study produced."""

    name: str
    argv: list[str]
    ok: bool = False
    rc: int | None = None
    seconds: float = 0.0
    summary: str = ""
    error: str = ""
    report: dict[str, JSON] | None = None
    markdown: str = ""
    figures: list[str] = field(default_factory=list)
    reduced: bool = False  # ran smaller than its full mode (``--quick``, or without ``--full``)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1


def run_study(study: Study, out: Path, full: bool, log: Callable[[str], None]) -> Part:
    """Import ``verify.<name>``, call its ``main`` and collect its report; never raises.

    ``main`` is taken from the module, or for a package without one from its ``__main__``.
    """
    directory = out / study.name
    argv = ["--report", str(directory), "--quiet", *(study.full_args if full else study.default_args)]
    part = Part(study.name, argv, reduced=not full and tuple(study.default_args) != tuple(study.full_args))
    if directory.exists():
        shutil.rmtree(directory)
    start = time.perf_counter()
    module_name = f"verify.{study.name}"
    console = io.StringIO()
    try:
        module = importlib.import_module(module_name)
        entry = getattr(module, "main", None)
        if not callable(entry) and getattr(module, "__path__", None) is not None:
            # a study package whose main lives in its __main__ (what ``python -m`` runs)
            entry = getattr(importlib.import_module(f"{module_name}.__main__"), "main", None)
        if not callable(entry):
            raise TypeError(f"{module_name} has no main(argv) function")
        with contextlib.redirect_stdout(console):  # keep the suite's screen to its summary
            part.rc = _exit_code(entry(argv))
    except ModuleNotFoundError as exc:
        part.error = (f"module {module_name} does not exist (yet)" if exc.name == module_name
                      else f"{module_name} could not be imported: {exc}")
    except SystemExit as exc:
        part.rc = _exit_code(exc.code)
    except Exception as exc:  # a study's bug must not stop the suite
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        part.error = f"{type(exc).__name__}: {exc}\n" + "".join(tb[-6:])
    part.seconds = time.perf_counter() - start
    if console.getvalue():
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "stdout.txt").write_text(console.getvalue(), encoding="utf-8")
    _collect(part, directory)
    if part.rc is not None and part.rc != 0 and not part.error:
        part.error = f"exit code {part.rc}"
    if part.rc == 0 and part.report is None:
        part.error = f"exit code 0 but no {directory / 'report.json'} was written"
    elif part.rc == 0 and part.report is not None and part.report.get("ok") is False:
        part.error = "exit code 0 but its report.json says ok: false"
    part.ok = part.rc == 0 and part.report is not None and not part.error
    if not part.summary:
        part.summary = part.error.splitlines()[0] if part.error else "no summary"
    return part


def _collect(part: Part, directory: Path) -> None:
    path = directory / "report.json"
    if path.is_file():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            part.error = f"unreadable report.json: {exc}"
            part.rc = part.rc if part.rc else 1
        else:
            if isinstance(doc, dict):
                part.report = doc
                summary = doc.get("summary")
                part.summary = summary if isinstance(summary, str) else ""
                figures = doc.get("figures")
                if isinstance(figures, list):
                    part.figures = [f for f in figures if isinstance(f, str)]
    md = directory / "report.md"
    if md.is_file():
        part.markdown = md.read_text(encoding="utf-8")
    elif directory.is_dir():
        part.figures = part.figures or sorted(p.name for p in directory.glob("*.png"))


_HEADING = re.compile(r"^(#{1,5}) (.*)$")
_IMAGE_LINE = re.compile(r"^!\[[^\]]*\]\(([^)\s]+)\)")
_IMAGE_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s:#]+)(\))")
_STATUS = re.compile(r"^\*\*(PASS|FAIL)\*\*")


def slug(text: str) -> str:
    """An anchor name from a heading or file name: lower case, runs of other characters as ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def section_anchor(part: str, heading: str) -> str:
    """The anchor :func:`_embed_part` puts before a study's heading."""
    return f"{part}--{slug(heading)}"


def figure_anchor(part: str, filename: str) -> str:
    """The anchor :func:`_embed_part` puts before a study's figure."""
    return f"{part}--fig-{slug(Path(filename).stem)}"


def is_quick(part: Part) -> bool:
    """Whether the study ran smaller than its full mode (``--quick``, or a study's default size)."""
    return part.reduced or "--quick" in part.argv


def _how_reduced(part: Part) -> str:
    return "`--quick`" if "--quick" in part.argv else "the default size; `--full` runs the lab's"


def full_report(name: str) -> str:
    """Where the committed full report of a study is, as a sentence fragment."""
    path = f"docs/figures/{name}/report.md"
    root = repository_root()
    if root is not None and (root / path).is_file():
        return f"the committed full report is {path}"
    return f"no full report is committed yet ({path}); `python -m verify --full` runs one"


def _target(part: Part, target: str) -> str:
    """A relative link of a study's report.md, as seen from the suite's folder."""
    if target.startswith("docs/"):  # a reference into the repository: html_page resolves it
        return target
    return f"{part.name}/{target}"


def _embed_part(part: Part) -> str:
    """A study's report.md demoted one heading level, its relative links pointing into its folder.

    Each heading and figure gets an anchor (:func:`section_anchor`, :func:`figure_anchor`) that
    the claims table links to, and a quick run says so under the study's status line.
    """
    out: list[str] = []
    fenced = False
    status_seen = False
    used: set[str] = set()

    def anchor(name: str) -> None:
        k, unique = 2, name
        while unique in used:
            unique, k = f"{name}-{k}", k + 1
        used.add(unique)
        out.extend(["", f'<a id="{unique}"></a>', ""])

    for line in part.markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if fenced or line.startswith("```"):
            out.append(line)
            continue
        if m := _HEADING.match(line):
            if len(m.group(1)) > 1:
                anchor(section_anchor(part.name, m.group(2)))
            out.append("#" + line)
            continue
        if m := _IMAGE_LINE.match(line):
            anchor(figure_anchor(part.name, m.group(1)))
        out.append(_IMAGE_LINK.sub(lambda m: f"{m.group(1)}{_target(part, m.group(2))}{m.group(3)}", line))
        if not status_seen and _STATUS.match(line):
            status_seen = True
            if is_quick(part):
                out += ["", f"**QUICK** run ({_how_reduced(part)}): its numbers come from a reduced run and differ "
                            f"from the full one; {full_report(part.name)}."]
    text = "\n".join(out)
    if not text.lstrip().startswith("## "):
        text = f"## {part.name}\n\n" + text
    return text.rstrip() + "\n"


# ---------------------------------------------------------------- the claims table

def _headings(part: Part) -> list[str]:
    return [m.group(2) for line in part.markdown.splitlines() if (m := _HEADING.match(line)) and len(m.group(1)) > 1]


def _evidence_link(part: Part | None, study: str, evidence: str) -> str:
    """A link to the figure or section a claim cites, in this page when the study ran, and to the
    committed full report."""
    links: list[str] = []
    if part is not None and part.markdown:
        if evidence.endswith(".png") and evidence in part.figures:
            links.append(f"[figure](#{figure_anchor(part.name, evidence)})")
        else:
            heading = next((h for h in _headings(part) if evidence and evidence.lower() in h.lower()), None)
            links.append(f"[section](#{section_anchor(part.name, heading)})" if heading is not None
                         else f"[{study}](#{study})")
    path = f"docs/figures/{study}/report.md"
    root = repository_root()
    if root is not None and (root / path).is_file():
        links.append(f"[full report]({path})")
    return ", ".join(links) or study


def claims(parts: Sequence[Part]) -> list[Claim]:
    """One row per claim of the lab (:mod:`verify.common.claims`), in :data:`CLAIM_STUDIES` order, a
    claim two studies state listed once, from the study that owns it; never raises. A study that ran
    but states no claims gives one row saying so."""
    rows: list[Claim] = []
    for name in CLAIM_STUDIES:
        part = next((p for p in parts if p.name == name), None)
        now = read_claims(part.report) if part is not None and part.report is not None else []
        merged = merge(name, now, committed_claims(name), ran=part is not None and part.ok)
        if not merged and part is not None:
            merged = [Claim(name, f"{name}-none", f"(the {name} study's claims)", part.summary,
                            "undecided (the study stated no claims)" if part.ok else
                            "undecided (the study failed)", "", "this run", "this run")]
        rows.extend(Claim(c.study, c.id, c.claim, c.measured, c.verdict, _evidence_link(part, name, c.evidence),
                          c.source, c.rechecked) for c in merged)
    return once(rows)


def _claims_section(parts: Sequence[Part]) -> list[str]:
    rows = claims(parts)
    lines = ["## What the lab claimed and what refnet measured", ""]
    if not rows:
        return lines + ["No study that tests the lab's claims ran (" + ", ".join(CLAIM_STUDIES) + ").", ""]
    lines += ["One row per claim. The verdict comes from the study's committed full run "
              "(`docs/figures/<study>/report.json`); \"re-checked now\" is what this run found at its own size: "
              "a quick run too short to decide a claim says so and never overrules the full run.", ""]
    lines.append(markdown_table(
        ["claim (what the lab said)", "what refnet measured", "verdict", "re-checked now", "evidence"],
        [[r.claim, r.measured, "**" + r.verdict.replace(" ", "\u00a0", 2) + "**", r.rechecked, r.evidence]
         for r in rows],
        align=["left", "left", "left", "left", "left"]))
    return lines + [""]


def _versions() -> dict[str, JSON]:
    return {"python": platform.python_version(), "numpy": np.__version__, "refnet": refnet_version,
            "platform": platform.platform()}


def write_index(parts: Sequence[Part], out: Path, mode: str, seconds: float, command: str) -> tuple[Path, Path, Path]:
    """Write ``index.md``, ``index.html`` and ``report.json`` for the whole suite.

    The page opens with the claims table (:func:`claims`), then the parts, then each study.
    """
    out.mkdir(parents=True, exist_ok=True)
    ok = all(p.ok for p in parts)
    passed = sum(p.ok for p in parts)
    versions = _versions()
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    quick = [p.name for p in parts if is_quick(p)]
    lines = [
        "# refnet verification report", "",
        "**Findings.** " + " ".join(findings(claims(parts))), "",
        *_claims_section(parts),
        "## The software's own checks", "",
        f"**{'PASS' if ok else 'FAIL'}**: {passed} of {len(parts)} parts passed in {seconds:.0f} s ({mode} mode"
        + (f"; quick runs of {', '.join(quick)}" if quick else "") + ").", "",
        markdown_table(["part", "status", "time (s)", "summary"],
                       [[f"[{p.name}](#{p.name})",
                         ("PASS" if p.ok else "FAIL") + ("\u00a0(quick)" if is_quick(p) else ""),
                         f"{p.seconds:.1f}", p.summary] for p in parts],
                       align=["left", "left", "right", "left"]), "",
        f"Command: `{command}`. Created {created} with Python {versions['python']}, NumPy {versions['numpy']}, "
        f"refnet {versions['refnet']} on {versions['platform']}.", "",
    ]
    for p in parts:
        lines += [f'<a id="{p.name}"></a>', ""]
        if p.markdown:
            lines += [_embed_part(p)]
        else:
            lines += [f"## {p.name}", "", f"**FAIL**: {p.summary}", ""]
        if p.error:
            lines += [f"Error in `{p.name}`:", "", "```", p.error.rstrip(), "```", ""]
    md = "\n".join(lines).rstrip() + "\n"
    index_md = out / "index.md"
    index_md.write_text(md, encoding="utf-8")
    index_html = write_html(md, out / "index.html", "refnet verification report", base=out)
    doc: dict[str, JSON] = {
        "ok": ok, "mode": mode, "seconds": seconds, "command": command, "created": created,
        "versions": versions,
        "claims": [{"study": c.study, "id": c.id, "claim": c.claim, "measured": c.measured, "verdict": c.verdict,
                    "source": c.source, "rechecked": c.rechecked} for c in claims(parts)],
        "parts": [{"name": p.name, "ok": p.ok, "rc": p.rc, "seconds": p.seconds, "argv": list(p.argv),
                   "quick": is_quick(p), "summary": p.summary, "error": p.error,
                   "figures": [f"{p.name}/{f}" for f in p.figures], "report": p.report} for p in parts],
    }
    report_json = out / "report.json"
    report_json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return index_md, index_html, report_json


# ---------------------------------------------------------------- progress

TYPICAL_SECONDS: dict[str, dict[str, float]] = {
    "default": {"gradcheck": 10, "overflow": 35, "lr_threshold": 50, "experiments": 65, "conventions": 6},
    "full": {"gradcheck": 10, "overflow": 345, "lr_threshold": 870, "experiments": 1730, "conventions": 6},
}
"""Seconds each study typically takes on 2 busy cores, by mode (measured here, 2026-12-06; the full
figures are the committed reports' wall times, lr_threshold's from 2 idle cores on 2026-12-07);
unknown studies count 30 s."""


def fmt_duration(seconds: float) -> str:
    """``40 s``, ``3 min``, ``1 h 5 min``."""
    s = max(0.0, seconds)
    if s < 90:
        return f"{math.ceil(s):.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"


class SuiteProgress:
    """Progress of the suite on ``stream``: a live line with the time left on a terminal, plain lines otherwise.

    The time left is each remaining study's typical duration (:data:`TYPICAL_SECONDS`) times the
    ratio of measured to typical duration of the studies already finished in this run.
    """

    def __init__(self, studies: Sequence[Study], mode: str, *, quiet: bool = False, stream: TextIO | None = None,
                 tty: bool | None = None, every: float | None = None) -> None:
        self.studies = list(studies)
        self.typical = TYPICAL_SECONDS.get(mode, TYPICAL_SECONDS["default"])
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.tty = tty if tty is not None else bool(callable(isatty) and isatty())
        self.every = every if every is not None else (1.0 if self.tty else 30.0)
        self.done: list[tuple[Study, float]] = []
        self._index = 0
        self._started = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _typical(self, study: Study) -> float:
        return float(self.typical.get(study.name, 30.0))

    def speed(self) -> float:
        """Measured over typical time of the finished studies (1 before any finished), within 0.2..5."""
        typical = sum(self._typical(s) for s, _ in self.done)
        if not typical:
            return 1.0
        return min(5.0, max(0.2, sum(t for _, t in self.done) / typical))

    def left(self, elapsed: float) -> float:
        """Seconds left in the suite with the current study running for ``elapsed`` s."""
        speed = self.speed()
        later = sum(self._typical(s) for s in self.studies[self._index:]) * speed
        current = self._typical(self.studies[self._index - 1]) * speed if self._index else 0.0
        return later + max(current - elapsed, 0.1 * elapsed if current else 0.0)

    def _tag(self) -> str:
        return f"[{self._index}/{len(self.studies)}] {self.studies[self._index - 1].name}"

    def _write(self, text: str, *, live: bool = False) -> None:
        with self._lock:
            if self.tty:
                width = shutil.get_terminal_size((100, 24)).columns - 1
                self.stream.write("\r\x1b[K" + (text[:width] if live else text + "\n"))
            else:
                self.stream.write(text + "\n")
            self.stream.flush()

    def line(self) -> str:
        """The progress line of the running study."""
        elapsed = time.perf_counter() - self._started
        return (f"{self._tag()}: {'running' if self.tty else 'still running'}, {elapsed:.0f} s; "
                f"about {fmt_duration(self.left(elapsed))} left")

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._write(self.line(), live=self.tty)

    def start(self, study: Study, flags: str = "") -> None:
        """A study starts: say so and tick until :meth:`finish`."""
        self._index = self.studies.index(study) + 1
        self._started = time.perf_counter()
        if self.quiet:
            return
        first = f"{self._tag()} {flags}".rstrip() + " ..."
        if len(self.done) or self._index > 1:
            first += f" (about {fmt_duration(self.left(0.0))} left)"
        self._write(first, live=self.tty)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def finish(self, part: Part) -> None:
        """The running study ended with ``part``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.done.append((self.studies[self._index - 1], part.seconds))
        if not self.quiet:
            self._write(f"{self._tag()}: {'PASS' if part.ok else 'FAIL'} in {part.seconds:.1f} s"
                        + ("" if part.ok else f" ({part.summary})"))

    def __enter__(self) -> SuiteProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _parser() -> argparse.ArgumentParser:
    names = [s.name for s in STUDIES]
    p = argparse.ArgumentParser(prog="python -m verify", description=(
        "Run refnet's verification studies (" + ", ".join(names) + ") and write one report."))
    p.add_argument("--out", type=output_dir_argument, default=Path("report"), help="output folder for index.md, index.html, report.json and "
                   "one folder per study (default: report); checked before any study runs")
    p.add_argument("--full", action="store_true", help="run every study at full size (the lab's epochs; "
                   "much longer) instead of the quick default of a few minutes")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr (the summary still prints)")
    p.add_argument("--only", nargs="+", metavar="NAME", default=None,
                   help=f"run only these studies, in suite order (choose from: {', '.join(names)})")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed its usage and error line (or the help)
        return exc.code if isinstance(exc.code, int) else 2
    names = [s.name for s in STUDIES]
    if args.only:
        unknown = [n for n in args.only if n not in names]
        if unknown:
            parser.print_usage(sys.stderr)
            print(f"{parser.prog}: error: argument --only: unknown study {', '.join(unknown)}; "
                  f"choose from {', '.join(names)}", file=sys.stderr)
            return 2
    studies = [s for s in STUDIES if not args.only or s.name in args.only]
    out = Path(args.out)
    mode = "full" if args.full else "default"

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    start = time.perf_counter()
    parts: list[Part] = []
    with SuiteProgress(studies, mode, quiet=args.quiet) as progress:
        for study in studies:
            progress.start(study, " ".join(study.full_args if args.full else study.default_args))
            part = run_study(study, out, args.full, log)
            parts.append(part)
            progress.finish(part)
    seconds = time.perf_counter() - start
    command = "python -m verify" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    index_md, index_html, report_json = write_index(parts, out, mode, seconds, command)
    ok = all(p.ok for p in parts)
    width = max((len(p.name) for p in parts), default=4)
    print(f"refnet verification ({mode} mode): {'PASS' if ok else 'FAIL'}, "
          f"{sum(p.ok for p in parts)} of {len(parts)} parts passed in {seconds:.0f} s")
    for p in parts:
        print(f"  {'PASS' if p.ok else 'FAIL'}  {p.name:<{width}}  {p.seconds:6.1f} s  {p.summary}")
    print(f"report: {index_html} (also {index_md.name}, {report_json.name}, one folder per study in {out})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
