"""``python -m verify.gradcheck``: finite-difference proof of every refnet gradient.

Runs every case of :mod:`verify.gradcheck.study` and the mutants of
:mod:`verify.gradcheck.mutants`; prints one row per (component, dtype, wrt).
Exit 0 when everything passes and every mutant is caught, 1 on any failure or
escaped mutant, 2 when inconclusive (a kink redraw budget ran out) or for a bad
argument (an argparse ``error:`` line, checked before any work starts).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from refnet.precision import DTypeName
from refnet.validation import int_argument, output_dir_argument

from ..common.console import Console
from . import mutants as mt
from .study import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, aggregate, cases, exit_code, run, table, write_report

__all__ = ["main"]


def _json_path(text: str) -> Path:
    """``--json``: a file path whose folder exists or can be created (checked before the study runs)."""
    path = Path(text)
    output_dir_argument(str(path.parent))
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; expected a file path")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verify.gradcheck", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--dtype", choices=("float32", "float64", "all"), default="all",
                        help="precision(s) to check (default: all = float32 and float64)")
    parser.add_argument("--seed", type=int_argument(0), default=0,
                        help="base seed: cases use seeds N, N+1, N+2 (inputs drawn from default_rng([seed, attempt]))")
    parser.add_argument("--json", type=_json_path, default=None, metavar="PATH",
                        help="write the rows, the mutants and an overall `passed` to this JSON file "
                             "(missing folders are created)")
    parser.add_argument("--report", type=output_dir_argument, default=None, metavar="DIR",
                        help="write DIR/report.md, DIR/report.json and DIR/taylor.png (for python -m verify)")
    parser.add_argument("--quick", action="store_true",
                        help="one seed and the two small shapes per component (for tests)")
    parser.add_argument("--quiet", action="store_true", help="no table on stdout and no progress on stderr")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed its usage and error line (or the help)
        return exc.code if isinstance(exc.code, int) else EXIT_INCONCLUSIVE
    dtypes: tuple[DTypeName, ...] = ("float32", "float64") if args.dtype == "all" else (args.dtype,)

    progress = Console("gradcheck", quiet=args.quiet)
    results = run(cases(dtypes, args.seed, args.quick), progress if not args.quiet else None)
    rows = aggregate(results)
    progress("mutants")
    mutants = mt.check_mutants(dtypes, args.seed)
    code = exit_code(rows, mutants)
    if not args.quiet:
        print(table(rows))
        print()
        print(mt.table(mutants))
        print()
        verdict = {EXIT_PASS: "PASS", EXIT_FAIL: "FAIL", EXIT_INCONCLUSIVE: "INCONCLUSIVE"}[code]
        print(f"{verdict}: {sum(r.result.status == 'PASS' for r in rows)}/{len(rows)} rows pass, "
              f"{sum(m.caught for m in mutants)}/{len(mutants)} mutant checks caught "
              f"({len(mt.MUTANTS)} mutants x {len(dtypes)} dtypes x layer and network)")
    if args.json is not None:
        doc = {"passed": code == EXIT_PASS, "exit_code": code, "seed": args.seed, "dtypes": list(dtypes),
               "rows": [r.as_dict() for r in rows], "mutants": [m.as_dict() for m in mutants],
               "cases": [dict(r.as_dict(), case_shape=c.shape) for c, r in results]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    if args.report is not None:
        write_report(args.report, rows, mutants, code, args.seed, dtypes)
    return code
