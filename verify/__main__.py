"""``python -m verify``: run every study and write one report.

Runs, in order, ``verify.lab_reading --quick``, ``verify.gradcheck``,
``verify.overflow --quick``, ``verify.lr_threshold --quick``,
``verify.experiments`` and ``verify.conventions`` (``--full``: the lab-reading,
overflow and lr-threshold studies at their full size and ``experiments
--full``, the lab's epochs; much longer) by importing each
module and calling its ``main(["--report", "<out>/<name>", "--quiet", ...])``.
A study that is missing, raises, or exits non-zero is recorded as failed and
the suite goes on. Then it writes ``<out>/index.md``, a self-contained
``<out>/index.html`` (figures embedded), ``<out>/report.json`` and keeps each
study's own folder with its figures (what a study prints on stdout is kept in
its folder as ``stdout.txt``), prints a one-screen summary on stdout (progress
goes to stderr) and exits 1 if any part failed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
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

import numpy as np

from refnet import __version__ as refnet_version
from refnet.validation import output_dir_argument

from .common.report import JSON, markdown_table, write_html

__all__ = ["main", "Study", "STUDIES", "Part", "run_study"]


@dataclass(frozen=True)
class Study:
    """A study module of ``verify`` and the extra flags it gets in each mode."""

    name: str
    default_args: tuple[str, ...] = ()
    full_args: tuple[str, ...] = ()


STUDIES: tuple[Study, ...] = (
    Study("lab_reading", ("--quick",), ()),  # full mode: about 25 minutes on 2 cores
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


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1


def run_study(study: Study, out: Path, full: bool, log: Callable[[str], None]) -> Part:
    """Import ``verify.<name>``, call its ``main`` and collect its report; never raises."""
    directory = out / study.name
    argv = ["--report", str(directory), "--quiet", *(study.full_args if full else study.default_args)]
    part = Part(study.name, argv)
    if directory.exists():
        shutil.rmtree(directory)
    start = time.perf_counter()
    module_name = f"verify.{study.name}"
    console = io.StringIO()
    try:
        module = importlib.import_module(module_name)
        entry = getattr(module, "main", None)
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


_HEADING = re.compile(r"^(#{1,5}) ", re.MULTILINE)
_IMAGE_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s:#]+)(\))")


def _embed_part(part: Part) -> str:
    """A study's report.md demoted one heading level, its relative links pointing into its folder."""
    text = _HEADING.sub(lambda m: "#" + m.group(1) + " ", part.markdown)
    text = _IMAGE_LINK.sub(lambda m: f"{m.group(1)}{part.name}/{m.group(2)}{m.group(3)}", text)
    if not text.lstrip().startswith("## "):
        text = f"## {part.name}\n\n" + text
    return text.rstrip() + "\n"


def _versions() -> dict[str, JSON]:
    return {"python": platform.python_version(), "numpy": np.__version__, "refnet": refnet_version,
            "platform": platform.platform()}


def write_index(parts: Sequence[Part], out: Path, mode: str, seconds: float, command: str) -> tuple[Path, Path, Path]:
    """Write ``index.md``, ``index.html`` and ``report.json`` for the whole suite."""
    out.mkdir(parents=True, exist_ok=True)
    ok = all(p.ok for p in parts)
    passed = sum(p.ok for p in parts)
    versions = _versions()
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# refnet verification report", "",
        f"**{'PASS' if ok else 'FAIL'}**: {passed} of {len(parts)} parts passed in {seconds:.0f} s ({mode} mode).", "",
        f"Command: `{command}`. Created {created} with Python {versions['python']}, NumPy {versions['numpy']}, "
        f"refnet {versions['refnet']} on {versions['platform']}.", "",
        markdown_table(["part", "status", "time (s)", "summary"],
                       [[f"[{p.name}](#{p.name})", "PASS" if p.ok else "FAIL", round(p.seconds, 1), p.summary]
                        for p in parts]), "",
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
        "parts": [{"name": p.name, "ok": p.ok, "rc": p.rc, "seconds": p.seconds, "argv": list(p.argv),
                   "summary": p.summary, "error": p.error,
                   "figures": [f"{p.name}/{f}" for f in p.figures], "report": p.report} for p in parts],
    }
    report_json = out / "report.json"
    report_json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return index_md, index_html, report_json


class _Heartbeat:
    """While a study runs (it was told ``--quiet``), say every ``every`` seconds that it still does."""

    def __init__(self, label: str, *, quiet: bool, every: float = 30.0) -> None:
        self.label = label
        self.quiet = quiet
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.perf_counter()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            print(f"{self.label}: still running, {time.perf_counter() - self._start:.0f} s",
                  file=sys.stderr, flush=True)

    def __enter__(self) -> _Heartbeat:
        if not self.quiet:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
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
    for i, study in enumerate(studies, 1):
        log(f"[{i}/{len(studies)}] {study.name} {' '.join(study.full_args if args.full else study.default_args)}".rstrip()
            + " ...")
        with _Heartbeat(f"[{i}/{len(studies)}] {study.name}", quiet=args.quiet):
            part = run_study(study, out, args.full, log)
        parts.append(part)
        log(f"[{i}/{len(studies)}] {study.name}: {'PASS' if part.ok else 'FAIL'} in {part.seconds:.1f} s"
            + ("" if part.ok else f" ({part.summary})"))
    seconds = time.perf_counter() - start
    command = "python -m verify" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    index_md, index_html, report_json = write_index(parts, out, mode, seconds, command)
    ok = all(p.ok for p in parts)
    width = max((len(p.name) for p in parts), default=4)
    print(f"refnet verification ({mode} mode): {'PASS' if ok else 'FAIL'}, "
          f"{sum(p.ok for p in parts)} of {len(parts)} parts passed in {seconds:.0f} s")
    for p in parts:
        line = f"  {'PASS' if p.ok else 'FAIL'}  {p.name:<{width}}  {p.seconds:6.1f} s  {p.summary}"
        print(line if len(line) <= 160 else line[:157] + "...")
    print(f"report: {index_html} (also {index_md.name}, {report_json.name}, one folder per study in {out})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
