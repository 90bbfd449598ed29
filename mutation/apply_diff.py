"""Apply one ``mutmut show`` diff (its hunks are numbered from the mutated function's first line)
to a file by exact text: the hunk's old lines must occur exactly once. Exit 1 when they do not
(the code changed since the mutation run). A method's diff is shown dedented to the class's level:
it is tried as it is, then indented by four spaces."""

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
for indent in ("", "    "):
    before, after = ("\n".join(indent + line if line else line for line in lines) + "\n" for lines in (old, new))
    if text.count(before) == 1:
        target.write_text(text.replace(before, after))
        sys.exit(0)
sys.exit(1)
