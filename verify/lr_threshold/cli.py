"""``python -m verify.lr_threshold``: the lab's 0.001490625 vs 0.001490626, measured.

Runs the experiments of :mod:`verify.lr_threshold.study` and writes the
report (:mod:`verify.lr_threshold.report`); ``--check`` reruns E0 from a
stored report and compares it bitwise; ``--worker`` (hidden) is the fresh
process of E0 and E1 (:mod:`verify.lr_threshold.env`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from refnet.sweep import default_workers

from ..common.console import Console
from .env import fingerprint
from .experiments import SEARCH_INITS, SEARCH_SEEDS, Pinned
from .report import write_report
from .runs import LAB_EPOCHS
from .study import SCHEMA, compare, e0_pair, record_json, run_study, summary_lines

__all__ = ["main", "check"]


def _worker(out: Path, args: argparse.Namespace) -> int:
    pinned = Pinned(args.w_init, args.w_seed, args.w_epochs)
    recs = e0_pair(pinned, kernel=args.w_kernel, checkpoints=args.w_checkpoints or ())
    env = fingerprint()
    out.write_text(json.dumps({"records": [record_json(r) for r in recs],
                               "cpu_features": env["cpu_features"], "threads": env["threads"]}),
                   encoding="utf-8")
    return 0

# ------------------------------------------------------------------ check

def check(path: Path, log: Console) -> tuple[bool, list[str]]:
    """Rerun E0 from a stored report; field by field, what matches bitwise here."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    data = doc.get("data", doc)
    if data.get("schema") != SCHEMA:
        raise ValueError(f"check: {path} has schema {data.get('schema')!r}, expected {SCHEMA!r}")
    p = data["pinned"]
    pinned = Pinned(p["init"], int(p["seed"]), int(p["epochs"]))
    stored = data["experiments"]["E0"]["runs"]
    log(f"check: rerunning E0 ({pinned})")
    recs = e0_pair(pinned)
    here = [record_json(r) for r in recs]
    rows = compare(stored, here)
    lines = [f"{'match' if r['match'] else 'DIFFERS'}  lr={r['lr']!r} {r['field']}: "
             f"stored {r['reference']!r} here {r['here']!r}" for r in rows]
    env_then, env_now = data["environment"], fingerprint()
    for key in ("python", "numpy", "platform", "refnet_source_sha256", "cpu_features", "threads", "blas"):
        same = env_then.get(key) == env_now.get(key)
        lines.append(f"environment {key}: {'same' if same else 'differs'}")
    return all(r["match"] for r in rows), lines


# ------------------------------------------------------------------ CLI

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m verify.lr_threshold", description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--report", metavar="DIR", type=Path, help="write report.md, report.json and PNG figures to DIR")
    p.add_argument("--check", metavar="REPORT_JSON", type=Path,
                   help="rerun E0 from a stored report.json and compare every field bitwise; nothing else runs")
    p.add_argument("--render", metavar="REPORT_JSON", type=Path,
                   help="rewrite report.md and the figures in --report DIR from a stored report.json (no runs)")
    p.add_argument("--quick", action="store_true", help="E0 plus a reduced E2 and E3 (for tests, under 60 s)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--search", action="store_true",
                   help=f"rerun the search for E0's configuration first: the pair for seeds 0..N-1 "
                        f"(--search-seeds) and init schemes {', '.join(SEARCH_INITS)}, to --search-epochs")
    p.add_argument("--search-seeds", type=int, default=SEARCH_SEEDS, help="seeds per init scheme in --search")
    p.add_argument("--search-epochs", type=int, default=20_000,
                   help="epochs per search run (the pinned epoch count is chosen inside this horizon)")
    p.add_argument("--search-inits", default=",".join(SEARCH_INITS),
                   help="comma-separated init schemes to search, in order of preference")
    p.add_argument("--seed", type=int, default=None, help="override the pinned seed")
    p.add_argument("--init", choices=("normal", "xavier", "he"), default=None, help="override the pinned init")
    p.add_argument("--epochs", type=int, default=None, help="override the pinned epoch count")
    p.add_argument("--horizon", type=int, default=None, help="epochs of the scans (default: the pinned epochs)")
    p.add_argument("--per-round", type=int, default=1,
                   help="rates per E2/E7 round (1 = plain bisection, about 33 runs between the pair)")
    p.add_argument("--points", type=int, default=64, help="rates per E3 zoom window")
    p.add_argument("--e5-epochs", type=int, default=None, help="epochs of E5 (default: twice the pinned epochs)")
    p.add_argument("--e5-every", type=int, default=10, help="E5 sampling interval in epochs")
    p.add_argument("--e7-seeds", type=int, nargs="*", default=[1, 2, 3, 4, 5, 6], help="seeds for E7")
    p.add_argument("--e7-per-round", type=int, default=4, help="rates per E7 multisection round")
    p.add_argument("--e7-points", type=int, default=32, help="E7 coarse scan points per seed")
    p.add_argument("--e7-width", type=float, default=1.0,
                   help="E7 coarse scan: relative width around 0.001490625 (1.0 = 0.5x to 1.5x)")
    p.add_argument("--horizon-epochs", type=int, default=LAB_EPOCHS,
                   help="epochs of the horizon check (default: the lab's 500,000)")
    p.add_argument("--workers", type=int, default=default_workers(),
                   help="worker processes for ensembles (default: the cores this process may use)")
    p.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--w-init", default="normal", help=argparse.SUPPRESS)
    p.add_argument("--w-seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--w-epochs", type=int, default=LAB_EPOCHS, help=argparse.SUPPRESS)
    p.add_argument("--w-kernel", default="blas", help=argparse.SUPPRESS)
    p.add_argument("--w-checkpoint", dest="w_checkpoints", type=int, action="append", help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker is not None:
        return _worker(args.worker, args)
    log = Console("lr_threshold", quiet=args.quiet, clock=True)
    if args.check is not None:
        ok, lines = check(args.check, log)
        print("\n".join(lines))
        print(f"E0 {'matches bitwise' if ok else 'DIFFERS'} on this machine")
        return 0 if ok else 1
    if args.render is not None:
        if args.report is None:
            raise SystemExit("--render: needs --report DIR")
        doc = json.loads(args.render.read_text(encoding="utf-8"))
        data = doc.get("data", doc)
        if data.get("schema") != SCHEMA:
            raise SystemExit(f"--render: {args.render} has schema {data.get('schema')!r}, expected {SCHEMA!r}")
        e0 = data["experiments"]["E0"]
        ok = bool(e0["reproduced"] and e0["identical_in_fresh_processes"])
        print("\n".join(summary_lines(data)))
        print(f"report: {write_report(data, args.report, ok)}")
        return 0 if ok else 1
    for name in ("search_seeds", "points", "per_round", "workers", "e5_every", "e7_points", "e7_per_round",
                 "horizon_epochs"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')}: expected an integer >= 1")
    data = run_study(args, log)
    e0 = data["experiments"]["E0"]
    ok = bool(e0["reproduced"] and e0["identical_in_fresh_processes"])
    print("\n".join(summary_lines(data)))
    if args.report is not None:
        path = write_report(data, args.report, ok)
        print(f"report: {path}")
    return 0 if ok else 1
