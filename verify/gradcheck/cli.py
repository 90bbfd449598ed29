"""``python -m verify.gradcheck``: finite-difference proof of every refnet gradient.

Runs every case of :mod:`verify.gradcheck.study` and the mutants of
:mod:`verify.gradcheck.mutants`. Prints a short table (one row per component,
dtype and gradient) and one row per mutant, each followed by a legend of its
columns, then one verdict line; ``--verbose`` adds the detailed tables. While it
runs, one progress line on stderr is rewritten in place.
Exit 0 when everything passes and every mutant is caught, 1 on any failure or
escaped mutant, 2 when inconclusive (a kink redraw budget ran out) or for a bad
argument (an argparse ``error:`` line, checked before any work starts).
"""

from __future__ import annotations

import argparse
import json
from textwrap import fill
from collections.abc import Sequence
from pathlib import Path

from refnet.precision import DTypeName
from refnet.progress import Progress
from refnet.validation import int_argument, output_dir_argument

from . import mutants as mt
from .study import (
    EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, LEGEND, SHORT_LEGEND, Row, aggregate, cases, exit_code, run,
    short_table, table, write_report,
)
from .words import legend

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
    parser.add_argument("--verbose", action="store_true",
                        help="also print the detailed tables (observed and allowed error, worst element, step, "
                             "seed, mode, kink redraws, Taylor order, float64 comparison; every mutant check) "
                             "with a legend of their columns")
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing (no tables on stdout, no progress on stderr); the exit code tells")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed its usage and error line (or the help)
        return exc.code if isinstance(exc.code, int) else EXIT_INCONCLUSIVE
    dtypes: tuple[DTypeName, ...] = ("float32", "float64") if args.dtype == "all" else (args.dtype,)

    all_cases = cases(dtypes, args.seed, args.quick)
    n_mutants = len(mt.MUTANTS) * len(dtypes)
    progress = Progress(len(all_cases) + n_mutants, "gradcheck", quiet=args.quiet, unit="checks")
    # pad what runs to one width, so a shorter name overwrites a longer one; the whole line
    # stays under 80 characters, so a terminal never wraps it (\r would then leave lines behind)
    width = max(len(f"{c.component} {c.dtype}") for c in all_cases) + 4
    done = len(all_cases)

    def mutant_started(what: str) -> None:
        nonlocal done
        progress.update(done, what.ljust(width))
        done += 1

    results = run(all_cases, lambda k, what: progress.update(k, what.ljust(width)))
    rows = aggregate(results)
    mutants = mt.check_mutants(dtypes, args.seed, mutant_started)
    progress.update(done, "done".ljust(width))
    code = exit_code(rows, mutants)
    if not args.quiet:
        print(_text(rows, mutants, code, dtypes, verbose=args.verbose))
    if args.json is not None:
        doc = {"passed": code == EXIT_PASS, "exit_code": code, "seed": args.seed, "dtypes": list(dtypes),
               "rows": [r.as_dict() for r in rows], "mutants": [m.as_dict() for m in mutants],
               "cases": [dict(r.as_dict(), case_shape=c.shape) for c, r in results]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    if args.report is not None:
        write_report(args.report, rows, mutants, code, args.seed, dtypes)
    return code


def _text(rows: list[Row], mutants: list[mt.MutantResult], code: int, dtypes: tuple[DTypeName, ...], *,
          verbose: bool) -> str:
    """What the command prints: short tables with legends, the details if ``verbose``, the verdict."""
    n_pass = sum(r.result.status == "PASS" for r in rows)
    n_caught = sum(m.caught for m in mutants)
    parts = [
        fill("Every gradient refnet computes by backpropagation, compared with finite differences "
             "(the slope measured by nudging each input a little):", 100),
        "",
        short_table(rows),
        "",
        "Columns:",
        legend(SHORT_LEGEND),
        "",
        fill(f"Proof that the check can fail: {len(mt.MUTANTS)} layers with a deliberate mistake in their "
             "backward pass, each checked in every dtype, alone and inside the lab's network:", 100),
        "",
        mt.short_table(mutants),
        "",
        "Columns:",
        legend(mt.SHORT_LEGEND),
        "",
    ]
    if verbose:
        parts += ["Details: the worst case of each row over seeds and shapes.", "", table(rows), "",
                  "Columns:", legend(LEGEND), "", "Every mutant check:", "", mt.table(mutants), "",
                  "Columns:", legend(mt.LEGEND), ""]
    else:
        parts += [fill("(--verbose shows the detailed tables: observed and allowed error, worst element, step, "
                       "seed, Taylor order, float64 comparison, every mutant check.)", 100), ""]
    verdict = {EXIT_PASS: "PASS", EXIT_FAIL: "FAIL", EXIT_INCONCLUSIVE: "INCONCLUSIVE"}[code]
    parts.append(f"{verdict}: {n_pass}/{len(rows)} rows pass, {n_caught}/{len(mutants)} mutant checks caught "
                 f"({len(mt.MUTANTS)} mutants x {len(dtypes)} dtypes x layer and network)")
    return "\n".join(parts)
