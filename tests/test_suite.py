"""The suite runner ``python -m verify`` with stub studies (independent of the real ones)."""

from __future__ import annotations

import json
import re
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import verify.__main__ as suite  # noqa: E402
from verify.common.claims import read_claims  # noqa: E402
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
    assert list(studies) == ["gradcheck", "overflow", "lr_threshold", "experiments", "conventions"]
    assert studies["lr_threshold"].default_args == ("--quick",) and studies["lr_threshold"].full_args == ()
    assert studies["overflow"].default_args == ("--quick",) and studies["gradcheck"].default_args == ()
    assert studies["experiments"].full_args == ("--full",)


def test_markdown_table_and_html_rendering(tmp_path: Path) -> None:
    table = markdown_table(["a", "b|c"], [[1.234567, None], [True, float("nan")]])
    assert table.splitlines() == ["| a | b\\|c |", "|:---|:---|", "| 1.235 | - |", "| yes | n/a |"]
    with pytest.raises(ValueError, match="rows\\[0\\]"):
        markdown_table(["a"], [[1, 2]])
    page = html_page("# T\n\n" + table + "\n\n- x\n- y\n\n```\n<b>\n```\n", tmp_path, "T & co")
    assert "<title>T &amp; co</title>" in page
    assert "<th>b|c</th>" in page and "<td>1.235</td>" in page and '<div class="scroll"><table>' in page
    assert "<ul><li>x</li><li>y</li></ul>" in page and "<pre>&lt;b&gt;</pre>" in page


def test_png_size_rejects_non_png(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"GIF89a" + b"\0" * 40)
    with pytest.raises(ValueError, match="not a PNG"):
        png_size(bad)


def test_progress_reports_a_long_study_with_time_left_unless_quiet() -> None:
    import io
    import time

    studies = [suite.Study("overflow"), suite.Study("gradcheck")]
    stream = io.StringIO()
    progress = suite.SuiteProgress(studies, "default", stream=stream, tty=False, every=0.02)
    progress.start(studies[0], "--quick")
    time.sleep(0.15)
    slow = 2 * suite.TYPICAL_SECONDS["default"]["overflow"]
    progress.finish(suite.Part("overflow", [], ok=True, seconds=slow))
    progress.start(studies[1])
    progress.finish(suite.Part("gradcheck", [], ok=False, seconds=1.0, summary="broke"))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[1/2] overflow --quick ..."
    assert any(line.startswith("[1/2] overflow: still running") and "left" in line for line in lines)
    assert f"[1/2] overflow: PASS in {slow:.1f} s" in lines
    assert "\r" not in stream.getvalue()  # plain lines when not on a terminal
    # overflow took twice its typical time: the estimate for gradcheck doubles too
    assert progress.speed() == pytest.approx((slow + 1.0) / (suite.TYPICAL_SECONDS["default"]["overflow"]
                                                            + suite.TYPICAL_SECONDS["default"]["gradcheck"]))
    left = suite.fmt_duration(2 * suite.TYPICAL_SECONDS["default"]["gradcheck"])
    assert any(line.startswith(f"[2/2] gradcheck ... (about {left} left)") for line in lines), lines
    assert lines[-1] == "[2/2] gradcheck: FAIL in 1.0 s (broke)"

    quiet = io.StringIO()
    silent = suite.SuiteProgress(studies, "default", stream=quiet, quiet=True, every=0.02)
    silent.start(studies[0])
    time.sleep(0.06)
    silent.finish(suite.Part("overflow", [], ok=True, seconds=0.06))
    assert quiet.getvalue() == ""


def test_progress_on_a_terminal_is_one_live_line() -> None:
    import io
    import time

    studies = [suite.Study("overflow"), suite.Study("lr_threshold")]
    stream = io.StringIO()
    progress = suite.SuiteProgress(studies, "full", stream=stream, tty=True, every=0.02)
    progress.start(studies[0])
    time.sleep(0.1)
    progress.finish(suite.Part("overflow", [], ok=True, seconds=0.1))
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("[1/2] overflow: PASS in 0.1 s\n")
    assert "\r\x1b[K[1/2] overflow: running" in text and "min left" in text  # lr_threshold full: minutes
    assert suite.fmt_duration(42) == "42 s" and suite.fmt_duration(300) == "5 min"
    assert suite.fmt_duration(3900) == "1 h 5 min"


def test_html_keeps_code_spans_literal(tmp_path: Path) -> None:
    from verify.common.report import html_page

    page = html_page("step `h = cbrt(eps) * max(|x|, 1)` is *the* step, see [docs](a.md)", tmp_path, "t")
    assert "<code>h = cbrt(eps) * max(|x|, 1)</code>" in page
    assert "<em>the</em>" in page and '<a href="a.md">docs</a>' in page


def test_html_does_not_read_arithmetic_as_emphasis(tmp_path: Path) -> None:
    from verify.common.report import html_page

    page = html_page("| rule |\n| --- |\n| lr * lambda / 2, lr_eff = lr * B |\n", tmp_path, "t")
    assert "lr * lambda / 2, lr_eff = lr * B" in page and "<em>" not in page


# ---------------------------------------------------------------- findings first

def _claim(cid: str, verdict: str, full: bool, measured: str = "measured") -> dict[str, object]:
    return {"id": cid, "claim": f"the lab said {cid}", "measured": measured, "verdict": verdict,
            "evidence": "curves.png", "full": full}


def _experiments_main(argv: Sequence[str] | None = None) -> int:
    rep = Report("experiments", "Experiments", _report_dir(argv))
    rep.section("Curves")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    rep.figure(fig, "curves.png", "Loss curves")
    rep.data["claims"] = [_claim("lr-slow", "undecided", False), _claim("xor-100", "holds", False),
                          _claim("units", "holds", False), _claim("only-now", "does not hold", False)]
    rep.write(True, "quick experiments")
    return 0


def _overflow_main(argv: Sequence[str] | None = None) -> int:
    rep = Report("overflow", "Overflow", _report_dir(argv))
    rep.section("Verdict on the lab's explanation")
    rep.data["claims"] = [_claim("batch-cause", "does not hold", True, "batch 5 ran; the product overflows first")]
    rep.write(True, "overflow reproduced")
    return 0


def _lr_threshold_main(argv: Sequence[str] | None = None) -> int:
    rep = Report("lr_threshold", "Learning-rate threshold", _report_dir(argv))
    rep.section("Summary")
    rep.write(True, "E0 reproduced")  # no claims: one row saying so
    return 0


COMMITTED = {"experiments": [_claim("lr-slow", "does not hold", True, "lr 10 in every panel"),
                             _claim("xor-100", "holds", True), _claim("units", "partly holds", True)]}


@pytest.fixture
def claim_studies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, fn in {"experiments": _experiments_main, "overflow": _overflow_main,
                     "lr_threshold": _lr_threshold_main}.items():
        monkeypatch.setitem(sys.modules, f"verify.{name}", _module(name, fn))
    monkeypatch.setattr(suite, "STUDIES", (suite.Study("overflow"), suite.Study("lr_threshold"),
                                           suite.Study("experiments")))
    monkeypatch.setattr(suite, "committed_claims",
                        lambda name: read_claims({"claims": COMMITTED.get(name, [])}))  # type: ignore[arg-type]


def test_the_page_opens_with_findings_then_one_row_per_claim(claim_studies: None, tmp_path: Path) -> None:
    from verify.common.report import prose_problems

    assert suite.main(["--out", str(tmp_path), "--quiet"]) == 0
    md = (tmp_path / "index.md").read_text()
    assert md.index("**Findings.**") < md.index("## What the lab claimed") < md.index("## The software's own checks")
    assert md.index("## What the lab claimed") < md.index("**PASS**")
    first_table = md.index("\n| ")
    assert md[first_table:].startswith(
        "\n| claim (what the lab said) | what refnet measured | verdict | re-checked now | evidence |")
    claims = json.loads((tmp_path / "report.json").read_text())["claims"]
    ids = [c["id"] for c in claims]
    assert len(ids) == len(set(ids)), "one row per claim, never two verdicts"
    rows = {c["id"]: c for c in claims}
    # committed verdicts stand; the quick run only re-checks them
    assert rows["lr-slow"]["verdict"] == "does not hold" and rows["lr-slow"]["rechecked"] == "too short to decide"
    assert rows["xor-100"]["verdict"] == "holds" and rows["xor-100"]["rechecked"] == "agrees"
    assert rows["units"]["verdict"] == "partly holds" and rows["units"]["rechecked"] == "differs (now: holds)"
    # a claim only this quick run states is undecided, never refuted by it
    assert rows["only-now"]["verdict"].startswith("undecided")
    # a full run's claim without a committed report keeps its verdict
    assert rows["batch-cause"]["verdict"] == "does not hold" and rows["batch-cause"]["source"] == "this run"
    assert rows["lr_threshold-none"]["verdict"].startswith("undecided")
    findings = md.split("**Findings.** ", 1)[1].split("\n", 1)[0]
    assert findings.startswith(f"Of the lab's {len(rows)} claims tested here, 1 holds, 1 partly holds, "
                               "2 do not hold (verdicts from the committed full runs; 2 undecided).")
    assert "Not so: \u201cthe lab said lr-slow\u201d: lr 10 in every panel." in findings
    assert "(#experiments--fig-curves)" in md and '<a id="experiments--fig-curves"></a>' in md
    page = (tmp_path / "index.html").read_text()
    for target in re.findall(r'href="#([^"]+)"', page):
        assert f'id="{target}"' in page, target
    assert prose_problems(re.sub(r"<[^>]+>", " ", page)) == []


def test_a_claim_two_studies_state_is_listed_once_from_its_owner() -> None:
    from verify.common.claims import SAME_CLAIM, Claim, once

    (dup, owner), *_ = SAME_CLAIM.items()
    rows = [Claim(dup[0], dup[1], "c", "m", "holds", "", "committed", "agrees"),
            Claim(owner[0], owner[1], "c", "m", "holds", "", "committed", "agrees"),
            Claim("experiments", "other", "c", "m", "holds", "", "committed", "agrees")]
    assert [(r.study, r.id) for r in once(rows)] == [owner, ("experiments", "other")]
    assert once(rows[:1]) == rows[:1]  # without its owner the row stays


def test_claims_that_break_the_contract_are_skipped() -> None:
    doc = {"claims": [_claim("ok", "holds", True), {"id": "no-verdict", "claim": "c", "measured": "m"},
                      _claim("bad", "holds for 3 of 5", True), _claim("ok", "does not hold", True), "text"]}
    rows = read_claims(doc)  # type: ignore[arg-type]
    assert [(r.id, r.verdict, r.full) for r in rows] == [("ok", "holds", True)]
    assert read_claims({"claims": "x"}) == [] and read_claims(None) == []


def test_numbers_lists_and_mappings_read_as_prose() -> None:
    import numpy as np

    from verify.common.report import fmt_count, fmt_list, fmt_mapping, fmt_number, fmt_range, fmt_spread, fmt_value

    assert fmt_number(np.float64(0.006423456)) == "0.006423" and fmt_number(8.881784197001252e-16, 2) == "8.9e-16"
    assert fmt_number(float("nan")) == "n/a" and fmt_number(float("nan"), undefined="never") == "never"
    assert fmt_number(-0.0) == "0" and fmt_number(float("-inf")) == "-inf"
    assert fmt_number(np.int64(14110), thousands=True) == "14,110" and fmt_number(61) == "61"
    with pytest.raises(TypeError, match="value"):
        fmt_number("1")  # type: ignore[arg-type]
    assert fmt_list([0.0, np.float32(0.5), 1]) == "0, 0.5, 1" and fmt_list([]) == "none"
    assert fmt_list(range(20), limit=3) == "0, 1, 2, ... (17 more)"
    assert fmt_mapping({"data": "xor", "criteria": {"loss": 0.01, "window": 100}}) == \
        "data: xor, criteria: (loss: 0.01, window: 100)"
    assert fmt_value(np.array([1.5, 2.5])) == "1.5, 2.5" and fmt_value(None) == "-" and fmt_value(True) == "yes"
    assert fmt_range(0.1, 0.1) == "0.1" and fmt_range(0.1, 0.25) == "0.1 to 0.25"
    assert fmt_spread([0.2, 0.1, 0.3, float("nan")]) == "median 0.2 (0.1 to 0.3 over 4 seeds), 1 of 4 not finite"
    assert fmt_spread([float("nan")] * 2) == "n/a: no finite value (2 seeds)"
    assert fmt_count(3, 8, "seeds") == "3 of 8 seeds"


def test_tables_align_numbers_right_and_text_left(tmp_path: Path) -> None:
    from verify.common.report import is_numeric_text

    for text in ("1.5e-03", "14,110", "-0.25", "52.38%", "3.2 s", "0.0155-0.0315", "21 of 30", "inf"):
        assert is_numeric_text(text), text
    for text in ("lab-evidence", "float64", "0/20/0", "[0, 0, 0]", "1e-3 rule", "x @ W + b"):
        assert not is_numeric_text(text), text
    table = markdown_table(["reading", "epochs", "loss", "note"],
                           [["lab-evidence", 14110, 6.42e-03, "never"], ["default", "never", float("nan"), "n/a"]])
    assert table.splitlines()[1] == "|:---|---:|---:|:---|"
    page = html_page(table, tmp_path, "t")
    assert '<td class="num">0.00642</td>' in page and "<td>lab-evidence</td>" in page
    assert "td.num{text-align:right;white-space:nowrap" in page.replace("th.num,", "")
    # a hand-written table without markers: the cells decide
    page = html_page("| a | b |\n|---|---|\n| x | 1e-05 |\n", tmp_path, "t")
    assert '<th class="num">b</th>' in page and '<span class="nw">1e-05</span>' in page


def test_docs_references_become_links_when_they_exist(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "docs" / "figures" / "x").mkdir(parents=True)
    (repo / "docs" / "gradcheck.md").write_text("# g\n")
    (repo / "docs" / "figures" / "x" / "report.md").write_text("# x\n")
    out = repo / "report"
    out.mkdir()
    page = html_page("See docs/gradcheck.md. Full: `docs/figures/x/report.md`; [it](docs/gradcheck.md#a); "
                     "docs/missing.md stays text.", out, "t", repo=repo)
    assert '<a href="../docs/gradcheck.md">docs/gradcheck.md</a>.' in page
    assert '<a href="../docs/figures/x/report.md"><code>docs/figures/x/report.md</code></a>' in page
    assert '<a href="../docs/gradcheck.md#a">it</a>' in page and "docs/missing.md stays text" in page
    outside = html_page("See docs/gradcheck.md", tmp_path / "elsewhere", "t", repo=repo)
    assert f'href="{(repo / "docs" / "gradcheck.md").as_uri()}"' in outside


def test_prose_problems_finds_raw_values() -> None:
    from verify.common.report import prose_problems

    assert prose_problems("Lab configuration: data: xor, layers: 2-4-4-1; 0.00642 and NaN predictions") == []
    found = prose_problems("Lab configuration: {'data': 'xor'}; np.float64(0.5); 0 +- nan; "
                           "[0.0, 0.0]; 8.881784197001252e-16")
    assert len(found) == 5


def test_heading_ids_are_unique(tmp_path: Path) -> None:
    page = html_page("## Summary\n\nx\n\n## Summary\n\ny\n", tmp_path, "t")
    assert 'id="summary"' in page and 'id="summary-2"' in page


# ---------------------------------------------------------------- shared figure style

def test_style_applies_and_keeps_figures_legible(tmp_path: Path) -> None:
    import matplotlib as mpl

    from verify.common import style

    with style.style():
        assert mpl.rcParams["font.size"] == 11 and mpl.rcParams["savefig.dpi"] == style.DPI
        cycle = mpl.rcParams["axes.prop_cycle"].by_key()
        assert len(set(cycle["linestyle"])) == len(cycle["linestyle"]) == len(cycle["marker"])
    before = mpl.rcParams["font.size"]
    try:
        style.apply()
        assert mpl.rcParams["font.size"] == 11 and mpl.rcParams["legend.fontsize"] == 9.5
    finally:
        mpl.rcParams["font.size"] = before
        mpl.rcdefaults()

    fig, ax = style.subplots(width=22.5, height=4.8)  # the 2250 px figure of the issue
    assert style.width_px(fig) <= style.MAX_WIDTH_PX
    x = list(range(200))
    ax.plot(x, [v / 200 for v in x], label="lab-evidence")
    ax.plot(x, [v / 200 for v in x], label="default")  # exactly under the first: still visible
    lines = ax.get_lines()
    assert lines[0].get_linestyle() != lines[1].get_linestyle() and lines[0].get_marker() != lines[1].get_marker()
    style.spread_markers(ax)
    assert lines[0].get_markevery() != lines[1].get_markevery()
    style.legend_outside(ax)
    assert style.legend_overlaps(fig) == 0
    path = tmp_path / "wide.png"
    from verify.common.report import save_figure

    save_figure(fig, path, dpi=style.DPI)
    assert png_size(path)[0] <= style.MAX_WIDTH_PX

    big = plt.figure(figsize=(30, 5))
    style.fit_width(big)
    assert style.width_px(big) == style.MAX_WIDTH_PX
    plt.close(big)


def test_a_study_package_may_keep_its_main_in_dunder_main(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = types.ModuleType("verify.stub_pkg")
    package.__path__ = []  # a package without main()
    monkeypatch.setitem(sys.modules, "verify.stub_pkg", package)
    monkeypatch.setitem(sys.modules, "verify.stub_pkg.__main__", _module("stub_pkg.__main__", _ok_main))
    CALLS.clear()
    part = suite.run_study(suite.Study("stub_pkg"), tmp_path, False, lambda msg: None)
    assert part.ok and CALLS and CALLS[0][0] == "stub_ok"


def test_verdicts_and_statuses_are_coloured(tmp_path: Path) -> None:
    page = html_page("**PASS**, **FAIL**, **holds**, **holds\u00a0for 2 of 6**, **does\u00a0not\u00a0hold**, **QUICK**",
                     tmp_path, "t")
    for cls, word in (("pass", "PASS"), ("fail", "FAIL"), ("pass", "holds<"), ("partly", "holds\u00a0for"),
                      ("fail", "does\u00a0not"), ("quick", "QUICK")):
        assert f'<strong class="{cls}">{word}' in page, (cls, word)


def test_an_image_whose_alt_text_quotes_code_is_still_an_image(tmp_path: Path) -> None:
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    from verify.common.report import save_figure

    save_figure(fig, tmp_path / "f.png")
    page = html_page("![curves under `lab` and `lab-sum`](f.png)\n\nthe `lab` reading", tmp_path, "t")
    assert page.count("<img ") == 1 and 'alt="curves under `lab` and `lab-sum`"' in page
    assert 'src="data:image/png;base64,' in page and "<code>lab</code> reading" in page
