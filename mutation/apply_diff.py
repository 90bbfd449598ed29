"""Apply one ``mutmut show`` diff (its hunks are numbered from the mutated function's first line)
to a file by exact text: the hunk's old lines must occur exactly once. Exit 1 when they do not
(the code changed since the mutation run)."""

import sys
from pathlib import Path

diff, target = Path(sys.argv[1]).read_text().splitlines(), Path(sys.argv[2])
text = target.read_text()
old: list[str] = []
new: list[str] = []
for line in diff:
    if line.startswith(("---", "+++", "@@")):
        continue
    if line.startswith("-"):
        old.append(line[1:])
    elif line.startswith("+"):
        new.append(line[1:])
    elif line.startswith(" ") or line == "":
        old.append(line[1:])
        new.append(line[1:])
before, after = "\n".join(old) + "\n", "\n".join(new) + "\n"
if text.count(before) != 1:
    sys.exit(1)
target.write_text(text.replace(before, after))
