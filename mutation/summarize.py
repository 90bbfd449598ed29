"""The score table of a mutation run, per module, from mutmut's results and the mypy filter.

    python mutation/summarize.py RESULTS.txt MYPY_CAUGHT.json [MODULE ...]
        [--equivalent SKIPPED.txt] [--killed-outside OUTSIDE.txt] [--needs-numba NEEDS_NUMBA.txt]

RESULTS.txt is ``mutmut results --all true`` (one ``name: status`` line per mutant);
MYPY_CAUGHT.json is mutation/mypy_caught.py's output (mutants that mypy --strict rejects, which
mutmut, not running them, lists as "not checked"). SKIPPED.txt, OUTSIDE.txt and NEEDS_NUMBA.txt
list, a name a line, the mutants run.sh did not run (mutation/equivalents.py): reviewed
equivalents, mutants killed by a test mutmut cannot run, and those only numba's tests can kill
on a Python without numba. Prints a Markdown table: per module the mutants, those caught by mypy,
killed (a timeout counts as killed: the mutant made a test hang), killed outside the run,
survived, without tests, equivalent, needing numba, not reached; the score, killed (in the run or
outside it) / (killed + survived + no tests), and the score with mypy, (killed + mypy) /
(killed + survived + no tests + mypy). Equivalents are in neither denominator: no test can kill
them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence

COLUMNS = ("mutants", "caught by mypy", "killed", "killed outside the run", "survived", "no tests", "equivalent",
           "needs numba", "not reached")
LINE = re.compile(r"^\s*refnet\.(\w+)\.(\S+): (.+)$")


def counts(results: str, caught: set[str], equivalent: frozenset[str] = frozenset(),
           needs_numba: frozenset[str] = frozenset(), outside: frozenset[str] = frozenset()) -> dict[str, Counter[str]]:
    """{module: Counter over COLUMNS} from the lines of ``mutmut results --all true``."""
    by_module: dict[str, Counter[str]] = {}
    for line in results.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        module, function, status = match.groups()
        column = {"killed": "killed", "timeout": "killed", "survived": "survived",
                  "no tests": "no tests"}.get(status, "not reached")
        name = f"refnet.{module}.{function}"
        if name in caught:
            column = "caught by mypy"
        elif column == "not reached" and name in equivalent:
            column = "equivalent"
        elif column == "not reached" and name in needs_numba:
            column = "needs numba"
        elif column == "not reached" and name in outside:
            column = "killed outside the run"
        tally = by_module.setdefault(module, Counter())
        tally["mutants"] += 1
        tally[column] += 1
    return by_module


def percent(numerator: int, denominator: int) -> str:
    return f"{100 * numerator / denominator:.1f}%" if denominator else "-"


def table(by_module: dict[str, Counter[str]], modules: Sequence[str]) -> str:
    rows = [f"| module | {' | '.join(COLUMNS)} | score (killed / run) | score with mypy |",
            "|---" * (len(COLUMNS) + 3) + "|"]
    total: Counter[str] = Counter()
    for module in [*modules, "all"]:
        tally = total if module == "all" else by_module.get(module, Counter())
        if module != "all":
            total.update(tally)
        killed = tally["killed"] + tally["killed outside the run"]
        run = killed + tally["survived"] + tally["no tests"]
        cells = [str(tally[c]) for c in COLUMNS]
        name = "**all**" if module == "all" else module
        rows.append(f"| {name} | {' | '.join(cells)} | {percent(killed, run)} | "
                    f"{percent(killed + tally['caught by mypy'], run + tally['caught by mypy'])} |")
    return "\n".join(rows)


def _names(path: str | None) -> frozenset[str]:
    if path is None:
        return frozenset()
    with open(path, encoding="utf-8") as listed:
        return frozenset(listed.read().split())


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results")
    parser.add_argument("caught")
    parser.add_argument("modules", nargs="*")
    parser.add_argument("--equivalent")
    parser.add_argument("--needs-numba")
    parser.add_argument("--killed-outside")
    args = parser.parse_args(argv)
    with open(args.results, encoding="utf-8") as results, open(args.caught, encoding="utf-8") as caught:
        by_module = counts(results.read(), set(json.load(caught)), _names(args.equivalent), _names(args.needs_numba),
                           _names(args.killed_outside))
    modules = args.modules
    print(table(by_module, modules or sorted(by_module)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
