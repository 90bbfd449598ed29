"""Shared report writer for the studies: ``report.md``, ``report.json``, PNG figures, HTML.

A study builds a :class:`Report` bound to its output directory, adds text,
tables and figures in reading order, and calls :meth:`Report.write`::

    rep = Report("overflow", "Overflow study", directory)
    rep.section("Setup")
    rep.text("Settings ...")
    rep.table(["lr", "accuracy (%)"], [[0.1, 100.0]])
    rep.figure(fig, "curves.png", "Loss per epoch")   # saved at once, figure closed
    rep.data["threshold"] = 0.0015
    rep.write(ok=True, summary="threshold reproduced")

``report.json`` holds ``name, title, ok, summary, figures, tables, data``.
:func:`html_page` turns the Markdown this module writes (headings, paragraphs,
lists, pipe tables, images, fenced code, ``<a id="name"></a>`` anchors) into one self-contained HTML page
with every image embedded as base64 PNG. matplotlib is imported lazily, only
by :func:`save_figure` (and so :meth:`Report.figure`).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "JSON", "Cell", "Report", "Table", "markdown_table", "format_cell", "save_figure",
    "html_page", "write_html", "png_size", "to_json",
]

JSON = Union[None, bool, int, float, str, list["JSON"], dict[str, "JSON"]]
Cell = Union[str, int, float, bool, None]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def format_cell(value: Cell, digits: int = 4) -> str:
    """A table cell as text: floats with ``digits`` significant digits, ``None`` as a dash."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.{digits}g}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], digits: int = 4) -> str:
    """A GitHub pipe table; every row must have one cell per header."""
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f"rows[{i}]: expected {len(headers)} cells, got {len(row)}")

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [line(list(headers)), "|" + "|".join("---" for _ in headers) + "|"]
    out += [line([format_cell(c, digits) for c in row]) for row in rows]
    return "\n".join(out)


def to_json(value: object) -> JSON:
    """Convert NumPy scalars/arrays, tuples and paths into plain JSON values (NaN/inf as strings)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # NumPy scalar or array
        return to_json(tolist())
    raise TypeError(f"value: cannot store {type(value).__name__} in JSON")


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 100) -> Path:
    """Save a matplotlib figure as PNG at ``path`` (parents created) and close it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not callable(getattr(fig, "savefig", None)):
        raise TypeError(f"fig: expected a matplotlib Figure, got {type(fig).__name__}")
    fig.savefig(str(target), dpi=dpi, format="png")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return target


def png_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` from a PNG's IHDR; raises ValueError if it is not a PNG."""
    data = Path(path).read_bytes()[:33]
    if len(data) < 33 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError(f"path: {path} is not a PNG file (bad signature or IHDR)")
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        raise ValueError(f"path: {path} has an empty image ({width}x{height})")
    return int(width), int(height)


@dataclass
class Table:
    """A table kept both as Markdown and as data in ``report.json``."""

    headers: list[str]
    rows: list[list[Cell]]
    caption: str = ""


@dataclass
class Report:
    """One study's report, written into ``directory``."""

    name: str
    title: str
    directory: Path
    lines: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    data: dict[str, JSON] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)

    def section(self, title: str, level: int = 2) -> None:
        """Start a section (``level`` 2 or 3)."""
        if level not in (2, 3):
            raise ValueError(f"level: expected 2 or 3, got {level}")
        self.lines += ["#" * level + " " + title, ""]

    def text(self, *paragraphs: str) -> None:
        """Add Markdown paragraphs (or lists) as they are."""
        for p in paragraphs:
            self.lines += [p.rstrip(), ""]

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Cell]], caption: str = "",
              digits: int = 4) -> None:
        """Add a table; it is stored in ``report.json`` too."""
        md = markdown_table(headers, rows, digits)
        self.tables.append(Table(list(headers), [list(r) for r in rows], caption))
        if caption:
            self.lines += [caption, ""]
        self.lines += [md, ""]

    def figure(self, fig: Figure, filename: str, caption: str, dpi: int = 100) -> Path:
        """Save ``fig`` as ``directory/filename`` (a .png name) and reference it."""
        if not filename.endswith(".png") or "/" in filename or "\\" in filename:
            raise ValueError(f"filename: expected a plain name ending in .png, got {filename!r}")
        path = save_figure(fig, self.directory / filename, dpi=dpi)
        self.figures.append(filename)
        self.lines += [f"![{caption}]({filename})", "", f"*{caption}*", ""]
        return path

    def markdown(self, ok: bool, summary: str) -> str:
        status = "PASS" if ok else "FAIL"
        head = [f"# {self.title}", "", f"**{status}**: {summary}", ""]
        return "\n".join(head + self.lines).rstrip() + "\n"

    def write(self, ok: bool, summary: str) -> Path:
        """Write ``report.md`` and ``report.json``; return the directory."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "report.md").write_text(self.markdown(ok, summary), encoding="utf-8")
        doc: dict[str, JSON] = {
            "name": self.name, "title": self.title, "ok": bool(ok), "summary": summary,
            "figures": list(self.figures),
            "tables": [{"caption": t.caption, "headers": list(t.headers), "rows": to_json(t.rows)}
                       for t in self.tables],
            "data": self.data,
        }
        (self.directory / "report.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        return self.directory


# ---------------------------------------------------------------- HTML

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![*\w])")  # CommonMark flanking: no space inside

_STYLE = """body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;
line-height:1.45;color:#222}table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #bbb;padding:.2rem .5rem;text-align:right}th{background:#eee}
td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #ddd}
pre{background:#f4f4f4;padding:.5rem;overflow-x:auto}code{background:#f4f4f4}
.pass{color:#075}.fail{color:#b00}"""


def _embed(src: str, base: Path) -> str:
    if src.startswith(("data:", "http://", "https://")):
        return src
    path = base / src
    try:
        payload = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        return src
    return "data:image/png;base64," + payload


def _inline(text: str, base: Path) -> str:
    out = html.escape(text, quote=False)
    out = _IMAGE.sub(lambda m: f'<img alt="{html.escape(m.group(1))}" src="{_embed(html.unescape(m.group(2)), base)}">', out)
    # Code spans are literal: emphasis and links apply only between them.
    parts = _CODE.split(out)
    for i in range(0, len(parts), 2):
        text_part = _BOLD.sub(r"<strong>\1</strong>", parts[i])
        text_part = _ITALIC.sub(r"<em>\1</em>", text_part)
        parts[i] = _LINK.sub(r'<a href="\2">\1</a>', text_part)
    for i in range(1, len(parts), 2):
        parts[i] = f"<code>{parts[i]}</code>"
    out = "".join(parts)
    out = out.replace("<strong>PASS</strong>", '<strong class="pass">PASS</strong>')
    return out.replace("<strong>FAIL</strong>", '<strong class="fail">FAIL</strong>')


def _split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip().replace("\\|", "|") for c in cells]


def html_page(markdown: str, base: str | Path, title: str) -> str:
    """Render this module's Markdown subset as one HTML page; images under ``base`` are embedded."""
    root = Path(base)
    body: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            body.append("<pre>" + html.escape("\n".join(lines[i + 1:j])) + "</pre>")
            i = j + 1
        elif re.fullmatch(r'<a id="[\w-]+"></a>', line.strip()):  # an anchor, kept as is
            body.append(line.strip())
            i += 1
        elif m := re.match(r"(#{1,6}) (.*)", line):
            n = len(m.group(1))
            anchor = re.sub(r"[^a-z0-9]+", "-", m.group(2).lower()).strip("-")
            body.append(f'<h{n} id="{anchor}">{_inline(m.group(2), root)}</h{n}>')
            i += 1
        elif line.startswith("|") and i + 1 < len(lines) and re.match(r"^\|[-:| ]+\|$", lines[i + 1].strip()):
            rows = [_split_row(line)]
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                rows.append(_split_row(lines[j]))
                j += 1
            head = "".join(f"<th>{_inline(c, root)}</th>" for c in rows[0])
            trs = "".join("<tr>" + "".join(f"<td>{_inline(c, root)}</td>" for c in r) + "</tr>" for r in rows[1:])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>")
            i = j
        elif re.match(r"^\s*([-*]|\d+\.) ", line):
            ordered = bool(re.match(r"^\s*\d+\.", line))
            items = []
            while i < len(lines) and re.match(r"^\s*([-*]|\d+\.) ", lines[i]):
                items.append("<li>" + _inline(re.sub(r"^\s*([-*]|\d+\.) ", "", lines[i]), root) + "</li>")
                i += 1
            tag = "ol" if ordered else "ul"
            body.append(f"<{tag}>" + "".join(items) + f"</{tag}>")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not re.match(r"^(#|\||```|\s*[-*] |\s*\d+\. )", lines[i]):
                para.append(lines[i])
                i += 1
            if not para:  # a line no other rule took: keep it as a paragraph of its own
                para.append(lines[i])
                i += 1
            body.append("<p>" + _inline(" ".join(para), root) + "</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_html(markdown: str, path: str | Path, title: str, base: str | Path | None = None) -> Path:
    """Write :func:`html_page` to ``path``; images resolve against ``base`` (default: its folder)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html_page(markdown, base if base is not None else target.parent, title), encoding="utf-8")
    return target
