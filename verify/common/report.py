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

One formatting layer for every study: :func:`fmt_number` (significant digits, NaN shown as
the reason it is undefined), :func:`fmt_list` (``1, 2, 3``), :func:`fmt_mapping`
(``a: 1, b: 2``), :func:`fmt_range`, :func:`fmt_spread` (median and range over seeds),
:func:`fmt_count` and :func:`fmt_value` for anything else, so no ``repr`` or JSON reaches
prose; :func:`prose_problems` finds what slipped through. Tables mark numeric columns
right-aligned (``---:``) and text left (``:---``); the HTML keeps numbers on one line.
:func:`html_page` turns the Markdown this module writes (headings, paragraphs,
lists, pipe tables, images, fenced code, ``<a id="name"></a>`` anchors) into one self-contained HTML page
with every image embedded as base64 PNG. matplotlib is imported lazily, only
by :func:`save_figure` (and so :meth:`Report.figure`).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
import os
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "JSON", "Cell", "Align", "Report", "Table", "markdown_table", "format_cell", "save_figure",
    "html_page", "write_html", "png_size", "to_json",
    "UNDEFINED", "fmt_number", "fmt_value", "fmt_list", "fmt_mapping", "fmt_range", "fmt_spread", "fmt_count",
    "is_numeric_text", "column_alignment", "prose_problems", "doc_link", "repository_root",
]

JSON = Union[None, bool, int, float, str, list["JSON"], dict[str, "JSON"]]
Cell = Union[str, int, float, bool, None]
Align = Literal["left", "right"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- formatting

UNDEFINED = "n/a"
"""What :func:`fmt_number` shows for NaN unless told why (``undefined="never"``)."""

_WORDS_UNDEFINED = ("", "-", "\u2013", "\u2014", "n/a", "never", "none", "no run", "not run")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: object) -> bool:
    return isinstance(value, (float, np.floating)) or _is_int(value)


def fmt_number(value: float | int | np.integer[Any] | np.floating[Any], digits: int = 4, *,
               undefined: str = UNDEFINED, thousands: bool = False) -> str:
    """A number as text: ``digits`` significant digits for floats, integers in full.

    NaN shows ``undefined`` (say why: ``"never"``, ``"n/a: no run"``), infinities ``inf``/``-inf``,
    ``-0.0`` shows ``0``. ``thousands`` puts commas in integers (``14,110``). NumPy scalars
    format like Python numbers, never as ``np.float64(...)``.
    """
    if digits < 1:
        raise ValueError(f"digits: expected at least 1, got {digits}")
    if isinstance(value, (bool, np.bool_)) or not _is_real(value):
        raise TypeError(f"value: expected a number, got {type(value).__name__}")
    if _is_int(value):
        return f"{int(value):,}" if thousands else str(int(value))
    x = float(value)
    if math.isnan(x):
        return undefined
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if thousands and abs(x) >= 1000 and x == round(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.{digits}g}"


def fmt_value(value: object, digits: int = 4, *, undefined: str = UNDEFINED) -> str:
    """Any value a study holds as prose: numbers, ``None`` (``-``), bools (yes/no), lists, mappings.

    Never a ``repr``: lists read ``1, 2, 3``, mappings ``a: 1, b: 2``, NumPy arrays like lists,
    nested containers in parentheses.
    """
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if _is_real(value):
        return fmt_number(value, digits, undefined=undefined)  # type: ignore[arg-type]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return fmt_mapping(value, digits, undefined=undefined)
    if isinstance(value, np.ndarray):
        return fmt_list(value.tolist(), digits, undefined=undefined)
    if isinstance(value, (list, tuple, set, frozenset)):
        return fmt_list(sorted(value, key=str) if isinstance(value, (set, frozenset)) else value, digits,
                        undefined=undefined)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return fmt_mapping({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, digits,
                           undefined=undefined)
    return str(value)


def _nested(value: object, digits: int, undefined: str) -> str:
    text = fmt_value(value, digits, undefined=undefined)
    return f"({text})" if isinstance(value, (Mapping, list, tuple, np.ndarray)) and text else text


def fmt_list(values: Sequence[object] | np.ndarray, digits: int = 4, *, undefined: str = UNDEFINED,
             limit: int | None = 12, sep: str = ", ") -> str:
    """``1, 2, 3``; past ``limit`` items ``1, 2, ... (40 more)``; an empty list is ``none``."""
    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if not items:
        return "none"
    shown = items if limit is None or len(items) <= limit else items[:limit]
    text = sep.join(_nested(v, digits, undefined) for v in shown)
    return text + (f"{sep}... ({len(items) - len(shown)} more)" if len(shown) < len(items) else "")


def fmt_mapping(mapping: Mapping[str, object], digits: int = 4, *, undefined: str = UNDEFINED,
                sep: str = ", ") -> str:
    """``a: 1, b: 2`` (nested values in parentheses); an empty mapping is ``none``."""
    if not mapping:
        return "none"
    return sep.join(f"{k}: {_nested(v, digits, undefined)}" for k, v in mapping.items())


def fmt_range(lo: float, hi: float, digits: int = 3, *, undefined: str = UNDEFINED) -> str:
    """``0.4 to 0.6``, or one number when both ends print alike."""
    a, b = fmt_number(lo, digits, undefined=undefined), fmt_number(hi, digits, undefined=undefined)
    return a if a == b else f"{a} to {b}"


def fmt_spread(values: Sequence[float] | np.ndarray, digits: int = 3, *, over: str = "seeds",
               undefined: str = "n/a: no finite value") -> str:
    """A measurement over seeds: ``median 0.5 (0.4 to 0.6 over 8 seeds)``; non-finite ones counted."""
    v = np.asarray(values, dtype=np.float64).ravel()
    finite = v[np.isfinite(v)]
    if not finite.size:
        return f"{undefined} ({v.size} {over})"
    if finite.size == 1 and v.size == 1:
        return fmt_number(float(finite[0]), digits)
    text = (f"median {fmt_number(float(np.median(finite)), digits)} "
            f"({fmt_range(float(finite.min()), float(finite.max()), digits)} over {v.size} {over})")
    missing = v.size - finite.size
    return text + (f", {missing} of {v.size} not finite" if missing else "")


def fmt_count(k: int, n: int, what: str = "") -> str:
    """``3 of 8`` (``3 of 8 seeds`` with ``what``)."""
    return f"{k} of {n}" + (f" {what}" if what else "")


def format_cell(value: Cell, digits: int = 4) -> str:
    """A table cell as text: floats with ``digits`` significant digits, ``None`` as a dash, NaN as ``n/a``."""
    return fmt_value(value, digits)


_NUM = r"[-+\u2212]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:e[-+]?\d+)?|[-+]?inf"
_UNIT = r"(?:\s?(?:%|s|x|ulps?|epochs?))?"
_NUMERIC_TEXT = re.compile(rf"^(?:{_NUM}){_UNIT}(?:\s?(?:-|\u2013|to|of|/|\+-|\u00b1)\s?(?:{_NUM}){_UNIT})?$",
                           re.IGNORECASE)


def is_numeric_text(text: str) -> bool:
    """Whether a cell's text is a number (``1.5e-03``, ``14,110``, ``52.4%``, ``0.4-0.6``, ``3 of 8``)."""
    return bool(_NUMERIC_TEXT.match(text.strip()))


def _is_placeholder(text: str) -> bool:
    t = text.strip().lower()
    return t in _WORDS_UNDEFINED or t.startswith(("n/a", "never"))


def column_alignment(cells: Sequence[str]) -> Align:
    """``"right"`` when every defined cell of a column is numeric text (placeholders such as ``-``,
    ``n/a`` or ``never`` do not count either way), else ``"left"``."""
    defined = [c for c in cells if not _is_placeholder(c)]
    return "right" if defined and all(is_numeric_text(c) for c in defined) else "left"


def prose_problems(text: str) -> list[str]:
    """Raw Python/NumPy values left in text a reader sees: reprs, JSON objects, ``nan``, 16-digit floats.

    Returns one short description per kind found (empty when clean); tests of a study can assert
    ``prose_problems(report_md) == []``.
    """
    checks = [
        (r"\{['\"]", "a dict or JSON object ({' or {\")"),
        (r"\bnp\.(?:float|int|uint|bool|complex|str|longdouble)\w*\(|\barray\(\[|\bdtype\(",
         "a NumPy repr (np.float64(, array([, dtype()"),
        (r"(?<![\w/.-])nan(?![\w/.-])", "nan where a value is undefined"),
        (r"\d\.\d{12,}", "a float printed to 12 or more digits"),
        (r"\[\s*-?\d+\.\d+(?:e[-+]?\d+)?\s*,\s*-?\d+\.\d+", "a Python list of floats"),
    ]
    return [why for pattern, why in checks if re.search(pattern, text)]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], digits: int = 4,
                   align: Sequence[Align] | None = None) -> str:
    """A GitHub pipe table; every row must have one cell per header.

    Columns are marked left (``:---``) or right (``---:``) aligned: numeric columns right,
    text left, found by :func:`column_alignment` unless ``align`` gives one entry per column.
    """
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f"rows[{i}]: expected {len(headers)} cells, got {len(row)}")
    if align is not None and len(align) != len(headers):
        raise ValueError(f"align: expected {len(headers)} entries, got {len(align)}")
    body = [[format_cell(c, digits) for c in row] for row in rows]
    sides = list(align) if align is not None else [column_alignment([r[j] for r in body])
                                                     for j in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [line(list(headers)), "|" + "|".join("---:" if s == "right" else ":---" for s in sides) + "|"]
    out += [line(r) for r in body]
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
_DOC_REF = re.compile(r"(?<![\w/.\-])(docs/[\w.\-/]*[\w])")
_SCIENTIFIC = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?e[-+]\d+)(?![\w.])")
_TAG = re.compile(r"(<[^>]*>)")
_TOKEN = "\x00{}\x00"

_STYLE = """body{font-family:system-ui,sans-serif;max-width:76rem;margin:2rem auto;padding:0 1rem;
line-height:1.45;color:#222}.scroll{max-width:100%;overflow-x:auto;margin:.5rem 0 1rem}
table{border-collapse:collapse;font-size:.9rem}
th,td{border:1px solid #bbb;padding:.2rem .5rem;text-align:left;vertical-align:top}th{background:#eee}
th.num,td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto;border:1px solid #ddd}
p,li{overflow-wrap:anywhere}td{overflow-wrap:break-word}
pre{background:#f4f4f4;padding:.5rem;overflow-x:auto}code{background:#f4f4f4}
.nw{white-space:nowrap}.pass{color:#075}.fail{color:#b00}.partly{color:#a55a00}
.quick{background:#fff4d6;padding:0 .25rem}"""


def repository_root() -> Path | None:
    """The source checkout this package runs from (the folder holding ``docs/`` and ``verify/``), if any."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "docs").is_dir() and (root / "verify").is_dir() else None


def doc_link(path: str, base: str | Path, repo: str | Path | None = None) -> str | None:
    """An ``href`` from a page in ``base`` to ``repo/path`` (``docs/x.md#part``), or None if it does not exist.

    Relative when ``base`` lies inside the repository (the page keeps working when the checkout
    moves), a ``file://`` address otherwise.
    """
    root = Path(repo) if repo is not None else repository_root()
    if root is None:
        return None
    name, _, fragment = path.partition("#")
    target = (root / name).resolve()
    if not name or not target.exists():
        return None
    here = Path(base).resolve()
    root = root.resolve()
    if here == root or root in here.parents:
        href = Path(os.path.relpath(target, here)).as_posix()
    else:
        href = target.as_uri()
    return href + (f"#{fragment}" if fragment else "")


def _embed(src: str, base: Path) -> str:
    if src.startswith(("data:", "http://", "https://")):
        return src
    path = base / src
    try:
        payload = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        return src
    return "data:image/png;base64," + payload


def _outside_tags(text: str, fn: Callable[[str], str]) -> str:
    parts = _TAG.split(text)
    return "".join(p if i % 2 else fn(p) for i, p in enumerate(parts))


def _outside_links(text: str, fn: Callable[[str], str]) -> str:
    """Apply ``fn`` to the text outside tags and outside ``<a>...</a>``."""
    out: list[str] = []
    depth = 0
    for i, p in enumerate(_TAG.split(text)):
        if i % 2:
            if re.match(r"<a[\s>]", p):
                depth += 1
            elif p.startswith("</a"):
                depth = max(depth - 1, 0)
            out.append(p)
        else:
            out.append(p if depth else fn(p))
    return "".join(out)


def _inline(text: str, base: Path, repo: Path | None = None) -> str:
    """Inline Markdown to HTML: code spans (literal), images (embedded), links, emphasis.

    A ``docs/...`` reference that exists in ``repo`` becomes a link, and a number in
    scientific notation never breaks across lines.
    """
    out = html.escape(text, quote=False)
    images: list[str] = []

    def keep_image(m: re.Match[str]) -> str:
        images.append(f'<img alt="{html.escape(html.unescape(m.group(1)))}" '
                      f'src="{_embed(html.unescape(m.group(2)), base)}">')
        return _TOKEN.format(len(images) - 1)

    def href(target: str) -> str:
        raw = html.unescape(target)
        if raw.startswith("docs/") and not (base / raw.partition("#")[0]).exists():
            resolved = doc_link(raw, base, repo) if repo is not None else None
            if resolved is not None:
                return html.escape(resolved)
        return target

    def link_docs(segment: str) -> str:
        if repo is None:
            return segment

        def one(m: re.Match[str]) -> str:
            resolved = doc_link(html.unescape(m.group(1)), base, repo)
            return m.group(0) if resolved is None else f'<a href="{html.escape(resolved)}">{m.group(1)}</a>'
        return _DOC_REF.sub(one, segment)

    # Images first (an alt text may quote code); then code spans are literal: emphasis and links
    # apply only between them.
    parts = _CODE.split(_IMAGE.sub(keep_image, out))
    for i in range(0, len(parts), 2):
        part = _BOLD.sub(r"<strong>\1</strong>", parts[i])
        part = _ITALIC.sub(r"<em>\1</em>", part)
        part = _LINK.sub(lambda m: f'<a href="{href(m.group(2))}">{m.group(1)}</a>', part)
        part = _outside_links(part, link_docs)
        part = _outside_tags(part, lambda t: _SCIENTIFIC.sub(r'<span class="nw">\1</span>', t))
        parts[i] = part
    for i in range(1, len(parts), 2):
        code = f"<code>{parts[i]}</code>"
        target = html.unescape(parts[i]).strip()
        resolved = doc_link(target, base, repo) if repo is not None and _DOC_REF.fullmatch(target) else None
        parts[i] = code if resolved is None else f'<a href="{html.escape(resolved)}">{code}</a>'
    out = "".join(parts)
    out = re.sub("\x00(\\d+)\x00", lambda m: images[int(m.group(1))], out)
    return _STATUS_WORDS.sub(lambda m: f'<strong class="{_status_class(m.group(1))}">', out)


_STATUS_WORDS = re.compile(r"<strong>(?=(PASS|FAIL|QUICK|holds\sfor|holds|does\snot\shold|partly)\b)")


def _status_class(word: str) -> str:
    """The CSS class of a status or verdict word (spaces may be no-break spaces)."""
    return {"PASS": "pass", "holds": "pass", "FAIL": "fail", "does not hold": "fail", "QUICK": "quick"}.get(
        " ".join(word.split()), "partly")


def _split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip().replace("\\|", "|") for c in cells]


def _table_html(rows: list[list[str]], marks: list[str], root: Path, repo: Path | None) -> str:
    width = len(rows[0])
    body = [(r + [""] * width)[:width] for r in rows[1:]]
    sides: list[Align] = []
    for j in range(width):
        mark = marks[j] if j < len(marks) else ""
        if mark.endswith(":") and not mark.startswith(":"):
            sides.append("right")
        elif mark.startswith(":"):
            sides.append("left")
        else:  # no marker: decide from the cells
            sides.append(column_alignment([r[j] for r in body]))

    def cls(j: int) -> str:
        return ' class="num"' if sides[j] == "right" else ""

    head = "".join(f"<th{cls(j)}>{_inline(c, root, repo)}</th>" for j, c in enumerate(rows[0]))
    trs = "".join("<tr>" + "".join(f"<td{cls(j)}>{_inline(c, root, repo)}</td>" for j, c in enumerate(r))
                  + "</tr>" for r in body)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table></div>'


def html_page(markdown: str, base: str | Path, title: str, repo: str | Path | None = None) -> str:
    """Render this module's Markdown subset as one HTML page; images under ``base`` are embedded.

    Table columns follow the ``:---``/``---:`` markers (numeric columns right-aligned and never
    wrapped; without markers the cells decide); heading ids are unique; ``docs/...`` references
    that exist in ``repo`` (default: :func:`repository_root`) become links.
    """
    root = Path(base)
    repository = Path(repo) if repo is not None else repository_root()
    ids: set[str] = set(re.findall(r'<a id="([\w-]+)"></a>', markdown))
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
            slug = re.sub(r"[^a-z0-9]+", "-", m.group(2).lower()).strip("-") or "section"
            anchor, k = slug, 2
            while anchor in ids:
                anchor, k = f"{slug}-{k}", k + 1
            ids.add(anchor)
            body.append(f'<h{n} id="{anchor}">{_inline(m.group(2), root, repository)}</h{n}>')
            i += 1
        elif line.startswith("|") and i + 1 < len(lines) and re.match(r"^\|[-:| ]+\|$", lines[i + 1].strip()):
            marks = [c.strip() for c in lines[i + 1].strip().strip("|").split("|")]
            rows = [_split_row(line)]
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                rows.append(_split_row(lines[j]))
                j += 1
            body.append(_table_html(rows, marks, root, repository))
            i = j
        elif re.match(r"^\s*([-*]|\d+\.) ", line):
            ordered = bool(re.match(r"^\s*\d+\.", line))
            items = []
            while i < len(lines) and re.match(r"^\s*([-*]|\d+\.) ", lines[i]):
                items.append("<li>" + _inline(re.sub(r"^\s*([-*]|\d+\.) ", "", lines[i]), root, repository)
                             + "</li>")
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
            body.append("<p>" + _inline(" ".join(para), root, repository) + "</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_html(markdown: str, path: str | Path, title: str, base: str | Path | None = None,
               repo: str | Path | None = None) -> Path:
    """Write :func:`html_page` to ``path``; images resolve against ``base`` (default: its folder)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    page = html_page(markdown, base if base is not None else target.parent, title, repo=repo)
    target.write_text(page, encoding="utf-8")
    return target
