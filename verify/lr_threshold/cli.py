"""``python -m verify.lr_threshold``: the lab's 0.001490625 vs 0.001490626 on its own run.

Without flags (or with ``--full``) it runs the full study (E0-E5, about 15
minutes on 2 idle cores, the scans on the compiled twin when numba is
installed; 49 minutes when the cores were shared three ways) and writes the report; ``--quick`` runs a short version for tests;
``--check`` reruns E0's pinned pair in fresh processes and compares it with a
stored report bit for bit; ``--render`` rewrites a stored report from its
raw results. ``--worker`` (hidden) is one job's fresh process
(:mod:`verify.lr_threshold.jobs`). Bad arguments get one ``error:`` line and
exit status 2, before anything runs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from refnet.validation import output_dir_argument

from ..common.console import Console
from ..common.report import repository_root
from .env import fingerprint
from .jobs import execute, work
from .report import SCHEMA, write
from .runs import PAIR
from .study import FULL, QUICK, run_study

__all__ = ["main", "check", "load_report"]

DEFAULT_REPORT = Path("lr_threshold-report")


def _committed() -> Path:
    root = repository_root()
    return (root if root is not None else Path(".")) / "docs" / "figures" / "lr_threshold" / "report.json"


def load_report(path: Path) -> dict[str, Any]:
    """The ``data`` of a stored report.json with what ``--check`` needs (``ValueError`` saying what is wrong)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, expected a report.json") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read it ({exc.__class__.__name__})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON (line {exc.lineno})") from None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a report of this study (schema {SCHEMA} expected)")
    try:
        pinned = data["raw"]["E0"]["e0-pinned-1"]
        if len(pinned) != 2 or not all(isinstance(r["params_sha256"], str) for r in pinned):
            raise ValueError
        int(data["raw"]["plan"]["epochs"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path}: its E0 records are missing or incomplete") from None
    return data


def check(path: Path, *, quiet: bool) -> int:
    """Rerun E0 (pinned, twice, in fresh processes; blas once) and compare with the stored report."""
    data = load_report(path)
    say = Console("lr_threshold --check", quiet=quiet)
    epochs = int(data["raw"]["plan"]["epochs"])
    stored = data["raw"]["E0"]["e0-pinned-1"]
    stored_blas = data["raw"]["E0"]["e0-blas"]
    say(f"rerunning seed 0's pair at {epochs:,} epochs: twice pinned (portable kernel, NumPy dispatch disabled), "
        "once on this machine's BLAS, each in a fresh process")
    pair = [[0, PAIR[0]], [0, PAIR[1]]]
    jobs = [{"kind": "runs", "variant": v, "epochs": epochs, "runs": pair} for v in ("pinned", "pinned", "blas")]
    started = time.monotonic()
    res = execute(jobs, workers=2, label="lr_threshold --check", quiet=quiet)
    ok = True
    lines = []
    for n, r in enumerate(res[:2], 1):
        for got, want in zip(r["records"], stored):
            same = got["params_sha256"] == want["params_sha256"] and got["log_sha256"] == want["log_sha256"]
            label = got["outcome"] == want["outcome"]
            ok = ok and same and label
            lines.append(f"Pinned process {n}, lr {got['lr']!r}: {got['outcome']} "
                         f"({'the stored label' if label else 'stored: ' + want['outcome']}); final weights and "
                         f"logged losses {'identical to' if same else 'DIFFERENT from'} the stored run, bit for bit.")
    for got, want in zip(res[2]["records"], stored_blas):
        same = got["params_sha256"] == want["params_sha256"]
        lines.append(f"This machine's BLAS, lr {got['lr']!r}: {got['outcome']} (stored: {want['outcome']}); bits "
                     f"{'identical to' if same else 'different from'} the stored blas run (machine-specific, "
                     "not part of the check).")
    for line in lines:
        print(line)
    took = time.monotonic() - started
    if ok:
        print(f"Reproduced: the pinned pair matches {path} bit for bit ({took:.0f} s).")
        return 0
    print(f"Not reproduced: the pinned pair differs from {path} ({took:.0f} s).")
    return 1


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _command(argv: Sequence[str]) -> str:
    return "python -m verify.lr_threshold" + ("" if not argv else " " + " ".join(shlex.quote(a) for a in argv))


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if len(args_in) == 3 and args_in[0] == "--worker":
        job = json.loads(Path(args_in[1]).read_text(encoding="utf-8"))
        work(job, Path(args_in[2]))
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m verify.lr_threshold",
        description="The lab's pair 0.001490625 / 0.001490626 on its own run (seed 0, 50,000 epochs): E0 the "
                    "pair reproduced and pinned; E1 the boundary between the rates under each arithmetic; E2 "
                    "its structure; E3 the mechanism; E4 seeds 0-255; E5 the horizon. Without flags: the full "
                    "study (about 15 minutes on 2 idle cores with numba).")
    parser.add_argument("--report", metavar="DIR", type=output_dir_argument, default=None,
                        help=f"write DIR/report.md, DIR/report.json and the figures (default: {DEFAULT_REPORT})")
    parser.add_argument("--full", action="store_true",
                        help="the full study (the default; the flag says so explicitly)")
    parser.add_argument("--quick", action="store_true",
                        help="6,000 epochs, one ensemble per experiment, NumPy kernels only: under a minute, for tests; "
                             "cannot decide claims")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="fresh processes running at once (default 2, one per core here)")
    parser.add_argument("--variant-steps", type=int, default=None, metavar="N",
                        help=f"multisection steps per arithmetic variant in E1, after its probe (default: "
                             f"{FULL.variant_steps} full, {QUICK.variant_steps} quick)")
    parser.add_argument("--e4-seeds", type=int, default=None, metavar="N",
                        help=f"seeds 0..N-1 in E4 (default: {FULL.e4_seeds} full, {QUICK.e4_seeds} quick)")
    parser.add_argument("--e4-grid", type=int, default=None, metavar="N",
                        help=f"rates of E4's log grid in [0.0005, 0.01] per seed (default: {FULL.e4_grid} full, "
                             f"{QUICK.e4_grid} quick; below 2: no grid)")
    parser.add_argument("--e4-rounds", type=int, default=None, metavar="N",
                        help=f"refinement rounds of each seed's bracket, {FULL.e4_members} log-spaced rates each "
                             f"(default: {FULL.e4_rounds} full, {QUICK.e4_rounds} quick)")
    parser.add_argument("--numpy", action="store_true",
                        help="run the scans on NumPy's pinned configuration even when numba is installed "
                             "(the compiled twin computes the same bits, faster)")
    parser.add_argument("--check", nargs="?", const=_committed(), default=None, metavar="REPORT_JSON", type=Path,
                        help="rerun E0's pinned pair in fresh processes and compare it bit for bit with a stored "
                             "report (default: the committed docs/figures/lr_threshold/report.json); exit 0 "
                             "when the pinned hashes and labels match")
    parser.add_argument("--render", metavar="DIR", type=Path, default=None,
                        help="rewrite the report in DIR from the raw results in its report.json (no runs)")
    args = parser.parse_args(args_in)
    if threading.current_thread() is threading.main_thread():  # stopped with kill: workers stop too
        signal.signal(signal.SIGTERM, _stop)
    for name in ("workers", "variant_steps", "e4_seeds", "e4_grid", "e4_rounds"):
        value = getattr(args, name)
        low = 1 if name in ("workers", "e4_seeds") else 0
        if value is not None and value < low:
            parser.error(f"--{name.replace('_', '-')}: expected an integer >= {low}, got {value}")
    if sum(x is not None and x is not False for x in (args.check, args.render, args.quick or None,
                                                       args.full or None)) > 1:
        parser.error("--check, --render, --quick and --full: choose one")
    if args.check is not None:
        try:
            load_report(args.check)
        except ValueError as exc:
            parser.error(f"--check: {exc}")
        return check(args.check, quiet=args.quiet)
    if args.render is not None:
        kept = args.render / "raw.json"
        if kept.is_file():  # a run whose report could not be written
            raw_kept = json.loads(kept.read_text(encoding="utf-8"))
            ok, summary, _ = write(raw_kept, args.render, fingerprint(), _command(["--render", str(args.render)]))
            print(summary)
            return 0 if ok else 1
        try:
            data = load_report(args.render / "report.json")
        except ValueError as exc:
            parser.error(f"--render: {exc}")
        ok, summary, _ = write(data["raw"], args.render, data["environment"], data["command"])
        print(summary)
        return 0 if ok else 1
    directory = args.report if args.report is not None else DEFAULT_REPORT
    if directory.exists() and not directory.is_dir():
        parser.error(f"--report: {directory} exists and is not a directory")
    plan = QUICK if args.quick else FULL
    changes: dict[str, Any] = {k: v for k, v in (("variant_steps", args.variant_steps), ("e4_seeds", args.e4_seeds),
                                                 ("e4_grid", args.e4_grid), ("e4_rounds", args.e4_rounds))
                               if v is not None}
    if args.numpy:
        changes["scan"] = "pinned"
    plan = replace(plan, **changes)
    raw = run_study(plan, workers=args.workers, quiet=args.quiet)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "raw.json").write_text(json.dumps(raw), encoding="utf-8")  # kept until the report is written
    ok, summary, d = write(raw, directory, fingerprint(), _command(args_in))
    print(summary)
    for c in d["claims"]:
        print(f"- {c['claim']} {c['verdict'].upper()}: {c['measured']}")
    (directory / "raw.json").unlink()
    Console("lr_threshold", quiet=args.quiet)(f"report written to {directory}")
    if not ok:
        print(f"lr_threshold: exit 1: {summary}", file=sys.stderr)
    return 0 if ok else 1
