"""Every command written in README.md and docs/ parses: a documented command cannot break silently.

Each ``python -m verify...`` / ``python -m refnet`` / ``refnet ...`` command found in the text is
run in-process as its ``main(argv + ["--help"])``: argparse converts and checks every flag given
before ``--help`` (a bad value exits 2 there, as ``--e7-points -`` once did), then prints the
help and exits 0 without doing the work. A module that does not exist fails the import.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"(?:^|[`\s(])(?:\.venv/bin/)?(?:python3? -m (?P<module>(?:verify|refnet)[\w.]*)|"
                     r"(?P<script>refnet)(?= (?:train|eval|predict)\b))(?P<args>[^`\n|&;)]*)")


def _commands() -> list[tuple[str, str, str]]:
    found: dict[tuple[str, str], str] = {}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in COMMAND.finditer(text):
            module = m.group("module") or "refnet"
            args = m.group("args").split(" #")[0].strip()
            if "<" in args or "..." in args or "{" in args:  # a placeholder or a choice list, not a command
                continue
            found.setdefault((module, args), page.name)
    return [(page, module, args) for (module, args), page in sorted(found.items())]


COMMANDS = _commands()


def _main(module: str) -> Callable[[list[str]], object]:
    if module == "refnet":  # its __main__ runs the command line on import
        return importlib.import_module("refnet.cli").main  # type: ignore[no-any-return]
    mod = importlib.import_module(module)
    entry = getattr(mod, "main", None)
    if entry is None and getattr(mod, "__path__", None) is not None:
        entry = getattr(importlib.import_module(f"{module}.__main__"), "main", None)
    assert callable(entry), f"{module} has no main(argv)"
    return entry  # type: ignore[no-any-return]


def test_the_pages_document_commands() -> None:
    modules = {m for _, m, _ in COMMANDS}
    assert {"verify", "verify.compare", "verify.lr_threshold", "refnet"} <= modules, modules


@pytest.mark.parametrize(("page", "module", "args"), COMMANDS, ids=[f"{p}: {m} {a}" for p, m, a in COMMANDS])
def test_a_documented_command_parses(page: str, module: str, args: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    argv = shlex.split(args)
    monkeypatch.chdir(tmp_path)
    for token in argv:  # the input files a command names exist in the folder it runs in
        if re.fullmatch(r"[\w-]+\.(npz|csv)", token):
            (tmp_path / token).touch()
    entry = _main(module)
    takes_argv = bool(inspect.signature(entry).parameters)  # refnet.reproducible takes none: it only prints
    out, err = io.StringIO(), io.StringIO()
    code: object = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = entry([*argv, "--help"]) if takes_argv else entry()  # type: ignore[call-arg]
        except SystemExit as exc:
            code = exc.code
    assert code in (0, None), f"{page}: `python -m {module} {args}` does not parse:\n{err.getvalue()}"
    assert "usage:" in out.getvalue() or not takes_argv
