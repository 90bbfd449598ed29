"""``python -m verify.lr_threshold``: the lab's 0.001490625 vs 0.001490626, measured.

Runs the experiments of :mod:`verify.lr_threshold.study` and writes the
report (:mod:`verify.lr_threshold.report`); ``--check`` reruns E0 from a
stored report and compares it bitwise; ``--worker`` (hidden) is the fresh
process of E0 and E1 (:mod:`verify.lr_threshold.env`).

Every bad argument is an ``error:`` line with exit status 2, found before
any run starts (report paths included).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from refnet.conventions import reading
from refnet.init import INITIALISERS
from refnet.reproducible import pinned_environment
from refnet.sweep import default_workers

from ..common.console import Console
from .env import fingerprint
from .experiments import SEARCH_INITS, SEARCH_SEEDS, Pinned
from .report import write_report
from .runs import CONVENTION, LAB_EPOCHS, reading_label
from .study import (HASH_FIELDS, PIN_KERNEL, SCHEMA, SENSITIVITY_REPORT, Job, _fresh_runs, compare, e0_pair,
                    is_label, record_json, run_study, summary_lines, verdicts)

__all__ = ["main", "check", "load_report"]

ENV_KEYS = ("python", "numpy", "platform", "machine", "refnet_source_sha256", "cpu_features", "threads", "blas",
            "longdouble")
"""Environment fields ``--check`` compares (and names when they differ)."""


def _worker(out: Path, args: argparse.Namespace) -> int:
    pinned = Pinned(args.w_init, args.w_seed, args.w_epochs)
    recs = e0_pair(pinned, kernel=args.w_kernel, checkpoints=args.w_checkpoints or (),
                   convention=args.w_convention)
    env = fingerprint()
    out.write_text(json.dumps({"records": [record_json(r, samples=True) for r in recs],
                               "cpu_features": env["cpu_features"], "threads": env["threads"]}),
                   encoding="utf-8")
    return 0

# ------------------------------------------------------------------ check


def load_report(path: Path) -> dict[str, Any]:
    """The ``data`` of a stored report.json, with the fields ``--check`` needs (``ValueError`` otherwise)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, expected a report.json") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    data = doc.get("data", doc) if isinstance(doc, dict) else None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: schema {data.get('schema')!r}, expected {SCHEMA!r}")
    try:
        p = data["pinned"]
        Pinned(str(p["init"]), int(p["seed"]), int(p["epochs"]))  # type: ignore[arg-type]
        e0 = data["experiments"]["E0"]
        if len(e0["runs"]) != 2 or len(e0["machine_runs"]) != 2:
            raise ValueError("E0 needs two runs of each kernel")
        data["environment"]["python"], data["inputs"]["reading"]  # noqa: B018 - presence check
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: incomplete report ({type(exc).__name__}: {exc})") from None
    return data


def _short(value: object, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check(data: dict[str, Any], log: Console) -> tuple[bool, list[str]]:
    """Rerun E0 of a stored report (see :func:`load_report`): the pinned configuration in a fresh
    process with NumPy's dispatch disabled, and the ``blas`` run in this process's environment.

    Returns whether every pinned field and every label matches, and the lines to print: pinned
    fields as ``match``/``DIFFERS``, the ``blas`` hash fields as machine-specific, and the
    environment fields that differ from the report's.
    """
    p = data["pinned"]
    pinned = Pinned(p["init"], int(p["seed"]), int(p["epochs"]))
    e0 = data["experiments"]["E0"]
    checkpoints = [int(c) for c in e0.get("checkpoints", [])]
    stored_reading, now_reading = data["inputs"]["reading"], reading_label(CONVENTION)
    lines = [f"reading: stored {stored_reading}, here {now_reading}: "
             + ("same" if stored_reading == now_reading else "DIFFERS (READINGS['lab-evidence'] changed; hashes will differ)")]
    log(f"check: rerunning E0 ({pinned}) pinned ({PIN_KERNEL}, dispatch disabled) and blas, in fresh processes")
    jobs: list[Job] = [("pinned", pinned, PIN_KERNEL, pinned_environment()), ("blas", pinned, "blas", {})]
    res = _fresh_runs(jobs, log, checkpoints, convention=str(CONVENTION))
    ok = stored_reading == now_reading
    for name, stored in (("pinned", e0["runs"]), ("blas", e0["machine_runs"])):
        r = res[name]
        if "error" in r:
            lines.append(f"DIFFERS  {name}: the run failed: {r['error'].strip().splitlines()[-1:]}")
            ok = False
            continue
        for row in compare(stored, r["records"]):
            tag = f"{name} lr={row['lr']!r} {row['field']}: stored {row['reference']!r} here {row['here']!r}"
            if name == "pinned" or is_label(row["field"]):
                lines.append(f"{'match' if row['match'] else 'DIFFERS'}  {tag}")
                ok &= bool(row["match"])
            elif row["field"] in HASH_FIELDS or row["field"].startswith("readout."):
                lines.append(f"{'same' if row['match'] else 'machine-specific, differs'}  {tag}")
            else:
                lines.append(f"{'match' if row['match'] else 'DIFFERS'}  {tag}")
                ok &= bool(row["match"])
        if name == "pinned":
            lines.append(f"pinned run: dispatch in use {r['cpu_features']['dispatch_in_use']} (stored "
                         f"{e0.get('pinned_dispatch_in_use')})")
    env_then, env_now = data["environment"], fingerprint()
    differ = [k for k in ENV_KEYS if env_then.get(k) != env_now.get(k)]
    for key in differ:
        lines.append(f"environment {key} differs: stored {_short(env_then.get(key))} here {_short(env_now.get(key))}")
    lines.append(f"environment: {len(ENV_KEYS) - len(differ)} of {len(ENV_KEYS)} fields the same"
                 + (f"; {', '.join(differ)} differ: the blas hashes are this machine's, not checked" if differ
                    else ""))
    return ok, lines


# ------------------------------------------------------------------ CLI


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _inits(text: str) -> str:
    names = [t.strip() for t in text.split(",")]
    bad = [n for n in names if n not in INITIALISERS]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"expected comma-separated init schemes from {', '.join(INITIALISERS)}, "
                                         f"got {text!r}")
    return ",".join(names)


SKIPPABLE = ("E4", "E5", "E6", "E7", "horizon")


def _skip(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [n for n in names if n not in SKIPPABLE]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"expected comma-separated names from {', '.join(SKIPPABLE)}, got {text!r}")
    return names


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m verify.lr_threshold", description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    count = _int_at_least(1)
    p.add_argument("--report", metavar="DIR", type=Path, help="write report.md, report.json and PNG figures to DIR")
    p.add_argument("--check", metavar="REPORT_JSON", type=Path,
                   help="rerun E0 from a stored report.json in fresh processes: the pinned (portable, dispatch "
                        "disabled) hashes must match bit for bit, the blas ones are reported as this machine's; "
                        "nothing else runs")
    p.add_argument("--render", metavar="REPORT_JSON", type=Path,
                   help="rewrite report.md and the figures in --report DIR from a stored report.json (no runs)")
    p.add_argument("--quick", action="store_true", help="a short E0 plus a reduced E2 and E3 (for tests)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--search", action="store_true",
                   help=f"rerun the search for E0's configuration first: the pair for seeds 0..N-1 "
                        f"(--search-seeds) and init schemes {', '.join(SEARCH_INITS)}, to --search-epochs")
    p.add_argument("--search-seeds", type=count, default=SEARCH_SEEDS, help="seeds per init scheme in --search")
    p.add_argument("--search-epochs", type=count, default=LAB_EPOCHS,
                   help="epochs per search run (default: the lab's 500,000; shorter horizons are judged on the way)")
    p.add_argument("--search-inits", type=_inits, default=",".join(SEARCH_INITS),
                   help="comma-separated init schemes to search")
    p.add_argument("--seed", type=_int_at_least(0), default=None, help="override the pinned seed")
    p.add_argument("--init", choices=tuple(INITIALISERS), default=None, help="override the pinned init")
    p.add_argument("--epochs", type=count, default=None, help="override the pinned epoch count")
    p.add_argument("--horizon", type=count, default=None, help="epochs of the scans (default: the pinned epochs)")
    p.add_argument("--per-round", type=count, default=63,
                   help="rates per E2 round (1 = plain bisection, about 33 runs between the pair; 63 trains "
                        "each round as ensembles on every core, about 6 rounds)")
    p.add_argument("--points", type=_int_at_least(2), default=64, help="rates per E3 zoom window")
    p.add_argument("--e5-epochs", type=count, default=None, help="epochs of E5 (default: the pinned epochs)")
    p.add_argument("--e5-every", type=count, default=None,
                   help="E5 sampling interval in epochs (default: epochs / 5000, at least 10)")
    p.add_argument("--e7-seeds", type=_int_at_least(0), nargs="*", default=[1, 2, 3], help="seeds for E7")
    p.add_argument("--e7-per-round", type=count, default=63, help="rates per E7 multisection round")
    p.add_argument("--e7-points", type=_int_at_least(2), default=32, help="E7 coarse scan points per seed")
    p.add_argument("--e7-width", type=_positive_float, default=1.0,
                   help="E7 coarse scan: relative width around 0.001490625 (1.0 = 0.5x to 1.5x)")
    p.add_argument("--horizon-epochs", type=count, default=LAB_EPOCHS,
                   help="epochs of the horizon check (default: the lab's 500,000, or twice the pinned epochs "
                        "when those are not shorter)")
    p.add_argument("--sensitivity", metavar="REPORT_JSON", type=Path, default=SENSITIVITY_REPORT,
                   help="the summed reading's stored report.json, compared in the sensitivity section "
                        "(default: the committed docs/figures/lr_threshold/lab-sum/report.json)")
    p.add_argument("--skip", type=_skip, default=(), metavar="LIST",
                   help=f"experiments not to run (comma-separated from {', '.join(SKIPPABLE)}); the report "
                        "lists them as skipped")
    p.add_argument("--workers", type=count, default=default_workers(),
                   help="worker processes for ensembles (default: the cores this process may use)")
    p.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--w-init", choices=tuple(INITIALISERS), default="normal", help=argparse.SUPPRESS)
    p.add_argument("--w-seed", type=_int_at_least(0), default=0, help=argparse.SUPPRESS)
    p.add_argument("--w-epochs", type=count, default=LAB_EPOCHS, help=argparse.SUPPRESS)
    p.add_argument("--w-kernel", choices=("blas", "portable"), default="blas", help=argparse.SUPPRESS)
    p.add_argument("--w-convention", default=str(CONVENTION), help=argparse.SUPPRESS)
    p.add_argument("--w-checkpoint", dest="w_checkpoints", type=count, action="append", help=argparse.SUPPRESS)
    return p


def _writable_dir(path: Path) -> str | None:
    """Why ``path`` cannot be (made) a writable directory, or None."""
    if path.exists():
        if not path.is_dir():
            return f"{path} exists and is not a directory"
        return None if os.access(path, os.W_OK | os.X_OK) else f"{path} is not writable"
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    return None if os.access(parent, os.W_OK | os.X_OK) else f"cannot create {path}: {parent} is not writable"


def _validate(p: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any] | None:
    """Every check that needs more than one flag or the file system, before any work; the stored
    report of ``--check``/``--render`` when one is given."""
    if args.worker is not None:
        if (why := _writable_dir(args.worker.parent)) is not None:
            p.error(f"--worker: {why}")
        try:
            reading(args.w_convention)
        except ValueError as exc:
            p.error(f"--w-convention: {exc}")
        return None
    if args.check is not None and args.render is not None:
        p.error("--check and --render: choose one")
    if args.render is not None and args.report is None:
        p.error("--render: needs --report DIR")
    if args.report is not None and (why := _writable_dir(args.report)) is not None:
        p.error(f"--report: {why}")
    stored: dict[str, Any] | None = None
    for flag, path in (("--check", args.check), ("--render", args.render)):
        if path is not None:
            try:
                stored = load_report(path)
            except ValueError as exc:
                p.error(f"{flag}: {exc}")
    if args.check is None and args.render is None and args.sensitivity != SENSITIVITY_REPORT:
        if not args.sensitivity.is_file():
            p.error(f"--sensitivity: {args.sensitivity}: no such file")
    return stored


def _reworded(stored: dict[str, Any]) -> dict[str, Any]:
    """``stored`` with its verdicts' evidence written by this version's :func:`verdicts` from the stored
    measurements, when they give the same verdict for every hypothesis (the wording changes, not a
    number); otherwise, or for a report this version cannot read that far, ``stored`` unchanged."""
    ex = stored.get("experiments", {})
    old = ex.get("verdicts", {})
    try:
        new = verdicts(ex)
    except (KeyError, TypeError, ValueError, IndexError):
        return stored
    if set(new) != set(old) or any(new[h]["verdict"] != old[h].get("verdict") for h in new):
        return stored
    return {**stored, "experiments": {**ex, "verdicts": new}}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    stored = _validate(parser, args)
    if args.worker is not None:
        return _worker(args.worker, args)
    log = Console("lr_threshold", quiet=args.quiet, clock=True)
    if args.check is not None and stored is not None:
        ok, lines = check(stored, log)
        print("\n".join(lines))
        print(f"E0 {'matches bitwise (pinned hashes and every label)' if ok else 'DIFFERS'} on this machine")
        return 0 if ok else 1
    if args.render is not None and stored is not None:
        stored = _reworded(stored)
        e0 = stored["experiments"]["E0"]
        ok = bool(e0["reproduced"] and e0["identical_in_fresh_processes"])
        print("\n".join(summary_lines(stored)))
        print(f"report: {write_report(stored, args.report, ok)}")
        return 0 if ok else 1
    data = run_study(args, log)
    e0 = data["experiments"]["E0"]
    ok = bool(e0["reproduced"] and e0["identical_in_fresh_processes"])
    print("\n".join(summary_lines(data)))
    if args.report is not None:
        path = write_report(data, args.report, ok)
        print(f"report: {path}")
    return 0 if ok else 1
