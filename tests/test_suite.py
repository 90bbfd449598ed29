"""The suite runner ``python -m verify`` with stub studies (independent of the real ones)."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import verify.__main__ as suite  # noqa: E402
from verify.common.report import Report, html_page, markdown_table, png_size  # noqa: E402

CALLS: list[tuple[str, list[str]]] = []


def _module(name: str, main: Callable[[Sequence[str] | None], int]) -> types.ModuleType:
    mod = types.ModuleType(f"verify.{name}")
    mod.main = main  # type: ignore[attr-defined]
    return mod


def _report_dir(argv: Sequence[str] | None) -> Path:
    args = list(argv or [])
    return Path(args[args.index("--report") + 1])


def _ok_main(argv: Sequence[str] | None = None) -> int:
    CALLS.append(("stub_ok", list(argv or [])))
    print("a table the study prints on stdout")
    rep = Report("stub_ok", "Stub that passes", _report_dir(argv))
    rep.section("Numbers")
    rep.table(["x", "y"], [[1, 0.5]])
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    ax.set_xlabel("x (units)")
    rep.figure(fig, "line.png", "A line")
    rep.write(True, "stub passed")
    return 0


def _fail_main(argv: Sequence[str] | None = None) -> int:
    CALLS.append(("stub_fail", list(argv or [])))
    Report("stub_fail", "Stub that fails", _report_dir(argv)).write(False, "stub failed on purpose")
    return 1


def _raise_main(argv: Sequence[str] | None = None) -> int:
    CALLS.append(("stub_raise", list(argv or [])))
    raise RuntimeError("boom inside the study")


def _exit_main(argv: Sequence[str] | None = None) -> int:
    CALLS.append(("stub_exit", list(argv or [])))
    raise SystemExit(3)


def _liar_main(argv: Sequence[str] | None = None) -> int:
    CALLS.append(("stub_liar", list(argv or [])))
    Report("stub_liar", "Stub whose report disagrees", _report_dir(argv)).write(False, "it failed")
    return 0


def _silent_main(argv: Sequence[str] | None = None) -> int:
    CALLS.append(("stub_silent", list(argv or [])))
    return 0


STUBS = {"stub_ok": _ok_main, "stub_fail": _fail_main, "stub_raise": _raise_main,
         "stub_exit": _exit_main, "stub_silent": _silent_main, "stub_liar": _liar_main}


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> None:
    CALLS.clear()
    for name, fn in STUBS.items():
        monkeypatch.setitem(sys.modules, f"verify.{name}", _module(name, fn))
    monkeypatch.setitem(sys.modules, "verify.stub_missing", None)  # import fails as for a missing module
    monkeypatch.setattr(suite, "STUDIES", (
        suite.Study("stub_ok", ("--quick",), ("--full",)),
        suite.Study("stub_fail"),
        suite.Study("stub_missing"),
        suite.Study("stub_raise"),
        suite.Study("stub_exit"),
        suite.Study("stub_silent"),
        suite.Study("stub_liar"),
    ))


def test_suite_records_every_failure_and_writes_the_report(stubs: None, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    rc = suite.main(["--out", str(out), "--quiet"])
    assert rc == 1
    # Each stub ran once, in order, with the contract's arguments.
    assert [c[0] for c in CALLS] == ["stub_ok", "stub_fail", "stub_raise", "stub_exit", "stub_silent", "stub_liar"]
    assert CALLS[0][1] == ["--report", str(out / "stub_ok"), "--quiet", "--quick"]
    assert CALLS[1][1] == ["--report", str(out / "stub_fail"), "--quiet"]

    doc = json.loads((out / "report.json").read_text())
    parts = {p["name"]: p for p in doc["parts"]}
    assert list(parts) == ["stub_ok", "stub_fail", "stub_missing", "stub_raise", "stub_exit", "stub_silent",
                           "stub_liar"]
    assert doc["ok"] is False and doc["mode"] == "default"
    assert parts["stub_ok"]["ok"] is True and parts["stub_ok"]["summary"] == "stub passed"
    assert parts["stub_ok"]["figures"] == ["stub_ok/line.png"]
    assert parts["stub_fail"]["ok"] is False and parts["stub_fail"]["rc"] == 1
    assert parts["stub_fail"]["summary"] == "stub failed on purpose"
    assert parts["stub_missing"]["ok"] is False and parts["stub_missing"]["rc"] is None
    assert "does not exist" in parts["stub_missing"]["error"]
    assert parts["stub_raise"]["ok"] is False and "boom inside the study" in parts["stub_raise"]["error"]
    assert parts["stub_exit"]["rc"] == 3 and parts["stub_exit"]["ok"] is False
    assert parts["stub_silent"]["rc"] == 0 and parts["stub_silent"]["ok"] is False
    assert "no" in parts["stub_silent"]["error"] and "report.json" in parts["stub_silent"]["error"]
    assert parts["stub_liar"]["rc"] == 0 and parts["stub_liar"]["ok"] is False
    assert "ok: false" in parts["stub_liar"]["error"]

    md = (out / "index.md").read_text()
    assert md.startswith("# refnet verification report")
    assert "**FAIL**: 1 of 7 parts passed" in md
    assert "![A line](stub_ok/line.png)" in md  # the study's figure, linked into its folder
    assert "### Numbers" in md  # the study's headings are demoted one level
    assert "boom inside the study" in md

    page = (out / "index.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert 'src="data:image/png;base64,' in page and 'src="stub_ok/line.png"' not in page
    assert png_size(out / "stub_ok" / "line.png")[0] > 0

    printed = capsys.readouterr().out
    assert "a table the study prints" not in printed  # kept in the study's folder instead
    assert (out / "stub_ok" / "stdout.txt").read_text() == "a table the study prints on stdout\n"
    assert f"report: {out / 'index.html'}" in printed
    assert "FAIL  stub_missing" in printed and "PASS  stub_ok" in printed
    assert len(printed.splitlines()) <= 24  # one screen


def test_only_runs_the_named_studies_and_passes_when_they_pass(stubs: None, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    rc = suite.main(["--out", str(tmp_path), "--only", "stub_ok", "--full"])
    assert rc == 0
    assert CALLS == [("stub_ok", ["--report", str(tmp_path / "stub_ok"), "--quiet", "--full"])]
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["ok"] is True and doc["mode"] == "full" and [p["name"] for p in doc["parts"]] == ["stub_ok"]
    err = capsys.readouterr().err
    assert "[1/1] stub_ok --full ..." in err and "PASS" in err  # progress on stderr


def test_only_rejects_unknown_names(stubs: None, tmp_path: Path) -> None:
    assert suite.main(["--out", str(tmp_path), "--only", "nope", "--quiet"]) == 2
    assert CALLS == []


def test_stale_reports_are_removed_before_a_study_runs(stubs: None, tmp_path: Path) -> None:
    stale = tmp_path / "stub_missing"
    stale.mkdir(parents=True)
    (stale / "report.json").write_text(json.dumps({"ok": True, "summary": "old"}))
    assert suite.main(["--out", str(tmp_path), "--only", "stub_missing", "--quiet"]) == 1
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["parts"][0]["ok"] is False and doc["parts"][0]["report"] is None


def test_default_studies_and_their_modes() -> None:
    studies = {s.name: s for s in suite.STUDIES}
    assert list(studies) == ["lab_reading", "gradcheck", "overflow", "lr_threshold", "experiments", "conventions"]
    assert studies["lab_reading"].default_args == ("--quick",) and studies["lab_reading"].full_args == ()
    assert studies["lr_threshold"].default_args == ("--quick",) and studies["lr_threshold"].full_args == ()
    assert studies["overflow"].default_args == ("--quick",) and studies["gradcheck"].default_args == ()
    assert studies["experiments"].full_args == ("--full",)


def test_markdown_table_and_html_rendering(tmp_path: Path) -> None:
    table = markdown_table(["a", "b|c"], [[1.234567, None], [True, float("nan")]])
    assert table.splitlines() == ["| a | b\\|c |", "|---|---|", "| 1.235 | - |", "| yes | nan |"]
    with pytest.raises(ValueError, match="rows\\[0\\]"):
        markdown_table(["a"], [[1, 2]])
    page = html_page("# T\n\n" + table + "\n\n- x\n- y\n\n```\n<b>\n```\n", tmp_path, "T & co")
    assert "<title>T &amp; co</title>" in page
    assert "<th>b|c</th>" in page and "<td>1.235</td>" in page
    assert "<ul><li>x</li><li>y</li></ul>" in page and "<pre>&lt;b&gt;</pre>" in page


def test_png_size_rejects_non_png(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"GIF89a" + b"\0" * 40)
    with pytest.raises(ValueError, match="not a PNG"):
        png_size(bad)


def test_heartbeat_reports_a_long_study_unless_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    import time

    with suite._Heartbeat("[1/1] slow", quiet=False, every=0.02):
        time.sleep(0.15)
    assert "[1/1] slow: still running" in capsys.readouterr().err
    with suite._Heartbeat("[1/1] slow", quiet=True, every=0.02):
        time.sleep(0.06)
    assert capsys.readouterr().err == ""


def test_html_keeps_code_spans_literal(tmp_path: Path) -> None:
    from verify.common.report import html_page

    page = html_page("step `h = cbrt(eps) * max(|x|, 1)` is *the* step, see [docs](a.md)", tmp_path, "t")
    assert "<code>h = cbrt(eps) * max(|x|, 1)</code>" in page
    assert "<em>the</em>" in page and '<a href="a.md">docs</a>' in page


def test_html_does_not_read_arithmetic_as_emphasis(tmp_path: Path) -> None:
    from verify.common.report import html_page

    page = html_page("| rule |\n| --- |\n| lr * lambda / 2, lr_eff = lr * B |\n", tmp_path, "t")
    assert "lr * lambda / 2, lr_eff = lr * B" in page and "<em>" not in page
