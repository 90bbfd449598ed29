"""The reviewed equivalent mutants: a survivor judged equivalent is not run again while its code stands.

    python mutation/equivalents.py list equivalent mutation/equivalent.txt   (from the project root)
    python mutation/equivalents.py list numba mutation/equivalent.txt
    python mutation/equivalents.py list outside mutation/equivalent.txt
    python mutation/equivalents.py key NAME [NAME ...]
    python mutation/equivalents.py reasons mutation/equivalent.txt

A mutant that no behaviour can tell from the original survives every run and runs every test of
its function each time: the costliest mutants of a run are its equivalents. Once reviewed, each
is listed in mutation/equivalent.txt with a key and the reason (the reasons are in
docs/mutation.md, "Equivalent mutants"). The key is a hash of the original function's source and
the mutant's, as mutmut wrote them in mutants/: when either changes (the function was edited, or
mutmut renumbered its mutants), the entry no longer matches, the mutant is run again and has to
be reviewed again.

``list CATEGORY`` prints the names of that category whose key still matches, one a line (run.sh
leaves them out of the run; summarize.py counts them); entries that no longer match go to stderr.
The category is read from the reason: ``numba:`` (not equivalent, but only tests that need numba
can kill it), ``outside:`` (killed by a test mutmut cannot run), anything else ``equivalent``.
``key`` prints ``NAME KEY`` lines to add to the file. ``reasons`` prints the entries grouped by
reason as a Markdown table (docs/mutation.md shows it).
"""

from __future__ import annotations

import ast
import hashlib
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path


NUMBA = "numba:"
"""A reason starting so marks a mutant that only the tests needing numba can kill (they skip without
it): run.sh leaves it out on a Python without numba and counts it as "needs numba"."""
OUTSIDE = "outside:"
"""A reason starting so marks a mutant killed by a test that cannot run under mutmut (a warning's
source line: mutmut's trampoline adds a stack frame), as retest_survivors.sh showed: run.sh leaves
it out and counts it as "killed outside the run"."""


@cache
def _sources(module: str) -> dict[str, str]:
    """{function name: its source text} for every function mutmut wrote into mutants/refnet/<module>.py."""
    path = Path(f"mutants/refnet/{module}.py")
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found: dict[str, str] = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and "__mutmut_" in node.name:
            found[node.name] = "\n".join(lines[node.lineno - 1:node.end_lineno])
    return found


def key(name: str) -> str | None:
    """The mutant's key (12 hex digits), or None when mutants/ holds no such mutant."""
    _, module, function = name.split(".", 2)
    original = function.rsplit("__mutmut_", 1)[0] + "__mutmut_orig"
    sources = _sources(module)
    if function not in sources or original not in sources:
        return None
    both = sources[original] + "\n\0\n" + sources[function]
    return hashlib.sha256(both.encode("utf-8")).hexdigest()[:12]


def entries(path: str) -> list[tuple[str, str, str]]:
    """(name, key, reason) for each line of the file; '#' starts a comment line."""
    found = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, recorded, *reason = line.split(maxsplit=2)
            found.append((name, recorded, reason[0] if reason else ""))
    return found


def reasons(listed: list[tuple[str, str, str]]) -> str:
    """A Markdown table: each reason, how many mutants it covers and which (module.function)."""
    grouped: dict[str, list[str]] = {}
    for name, _, reason in listed:
        _, module, function = name.split(".", 2)
        short = function.rsplit("__mutmut_", 1)[0].replace("xǁ", "").replace("ǁ", ".").removeprefix("x_")
        grouped.setdefault(reason, []).append(f"{module}.{short}")
    rows = ["| reason | mutants | where |", "|---|---|---|"]
    for reason, where in sorted(grouped.items(), key=lambda item: (-len(item[1]), item[0])):
        counted = sorted(set(where))
        places = ", ".join(f"`{w}` ({where.count(w)})" if where.count(w) > 1 else f"`{w}`" for w in counted)
        rows.append(f"| {reason} | {len(where)} | {places} |")
    return "\n".join(rows)


def category(reason: str) -> str:
    """``numba`` or ``outside`` when the reason starts so (see the module's docstring), else ``equivalent``."""
    for prefix in (NUMBA, OUTSIDE):
        if reason.startswith(prefix):
            return prefix.rstrip(":")
    return "equivalent"


def main(argv: Sequence[str]) -> int:
    if len(argv) == 3 and argv[0] == "list" and argv[1] in ("equivalent", "numba", "outside"):
        stale = 0
        for name, recorded, reason in entries(argv[2]):
            if key(name) != recorded:
                stale += 1
                print(f"{argv[2]}: {name} changed since its review; it is run again", file=sys.stderr)
            elif category(reason) == argv[1]:
                print(name)
        if stale:
            print(f"{argv[2]}: {stale} entries to review again", file=sys.stderr)
        return 0
    if len(argv) == 2 and argv[0] == "reasons":
        print(reasons(entries(argv[1])))
        return 0
    if len(argv) >= 2 and argv[0] == "key":
        for name in argv[1:]:
            print(name, key(name) or "missing")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
