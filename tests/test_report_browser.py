"""The suite's report as a reader sees it: a real run of all six studies, opened in headless Chromium.

The session's :func:`quick_suite` (``tests/conftest.py``) runs every study of ``python -m verify``
once at its quick size through the suite's own runner and writes the suite's page; selenium drives
Debian's ``chromium`` through ``chromedriver`` at 1280 px and checks what a reader would stumble on:
images that do not decode, a page wider than the window, findings that are not first, internal
links that lead nowhere, raw Python values in the text. The checks of each study's own prose and
figure files need no browser and run everywhere.

The test skips, saying why, only when selenium, a Chromium binary or a chromedriver cannot be
found (``REFNET_CHROMIUM`` and ``REFNET_CHROMEDRIVER`` name them when they are elsewhere);
with ``REFNET_REQUIRE_BROWSER=1`` (for CI, which installs them) a missing one fails instead.
Set ``REFNET_SCREENSHOT=path.png`` to keep a screenshot of the first screen.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from verify.__main__ import STUDIES
from verify.common.report import png_size, prose_problems
from verify.common.style import MAX_WIDTH_PX

from .conftest import QuickSuite

WIDTH = 1280
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run")


def _find(env: str, names: tuple[str, ...]) -> str | None:
    given = os.environ.get(env)
    if given:
        return given if Path(given).is_file() else None
    for name in names:
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file() else None)
        if found:
            return found
    return None


def _missing(reason: str) -> None:
    if os.environ.get("REFNET_REQUIRE_BROWSER") == "1":
        pytest.fail(f"REFNET_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


NAMES = [s.name for s in STUDIES]
RAW = re.compile(r"\{'|\{\"|\bnp\.(?:float|int|uint|bool|str|complex|longdouble)\w*\(|array\(\[|dtype\(|\[(?:True|False|None)\b|\['|(?<![\w/.-])nan(?![\w/.-])")
"""Repr text a reader should never see: dicts, NumPy reprs, Python lists of bools/None/strings, ``nan``."""


@pytest.fixture(scope="module")
def report(quick_suite: QuickSuite) -> Path:
    """The suite's page of every study (all six passed)."""
    failed = {n: p.error or p.summary for n, p in quick_suite.parts.items() if not p.ok}
    assert not failed, f"studies failed: {failed}"
    assert list(quick_suite.parts) == NAMES
    assert quick_suite.index.is_file()
    return quick_suite.index


@pytest.mark.parametrize("name", NAMES)
def test_each_study_reads_as_prose(quick_suite: QuickSuite, name: str) -> None:
    """No repr, JSON, ``nan`` or 16-digit float in any study's report, and figures fit the page."""
    folder = quick_suite.folder(name)
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert prose_problems(md) == []
    assert RAW.findall(md) == []
    for figure in quick_suite.parts[name].figures:
        width, _ = png_size(folder / figure)
        assert width <= MAX_WIDTH_PX, f"{name}/{figure} is {width} px wide"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install selenium; it is in the test extras)")
    chromium = _find("REFNET_CHROMIUM", ("chromium", "chromium-browser", "google-chrome"))
    driver_path = _find("REFNET_CHROMEDRIVER", ("chromedriver",))
    if chromium is None:
        _missing("no Chromium binary found (Debian: apt-get install chromium; or set REFNET_CHROMIUM)")
    if driver_path is None:
        _missing("no chromedriver found (Debian: apt-get install chromium-driver; or set REFNET_CHROMEDRIVER)")
    profile = tempfile.mkdtemp(prefix="refnet-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(driver_path)))
    try:
        driver.set_window_size(WIDTH, 900)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(browser: Any, report: Path) -> Any:  # the browser first: a skip costs no suite run
    browser.get(report.as_uri())
    browser.execute_script("return document.fonts ? document.fonts.ready.then(() => true) : true")
    browser.execute_script(
        "return Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)))")
    shot = os.environ.get("REFNET_SCREENSHOT")
    if shot:
        browser.save_screenshot(shot)
    return browser


def test_every_image_decodes_and_is_displayed(page: Any) -> None:
    images = page.execute_script(
        "return Array.from(document.images).map(i => {const r = i.getBoundingClientRect();"
        " return [i.alt, i.complete, i.naturalWidth, r.width, r.height, getComputedStyle(i).display]})")
    assert images, "the report has no figure"
    for alt, complete, natural, width, height, display in images:
        assert complete and natural > 0, f"image {alt!r} did not decode"
        assert width > 0 and height > 0 and display != "none", f"image {alt!r} is not displayed"
    assert all(e.is_displayed() for e in page.find_elements("tag name", "img"))


def test_nothing_is_wider_than_the_window(page: Any) -> None:
    inner, scroll = page.execute_script(
        "return [window.innerWidth, document.scrollingElement.scrollWidth]")
    assert inner == WIDTH or inner >= WIDTH - 20  # a classic scrollbar may take its width
    assert scroll <= inner, f"the page is {scroll} px wide in a {inner} px window"
    # no element sticks out of the window (wide tables scroll inside their own box instead)
    wide = page.execute_script(
        "const w = document.documentElement.clientWidth; return Array.from(document.querySelectorAll('body *'))"
        ".filter(e => !e.closest('.scroll, pre') && e.getBoundingClientRect().right > w + 1)"
        ".map(e => e.tagName + ' ' + (e.textContent || '').slice(0, 60))")
    assert wide == []


def test_every_study_is_on_the_page_with_all_its_figures(page: Any, quick_suite: QuickSuite) -> None:
    present = page.execute_script(
        "return arguments[0].filter(n => document.getElementById(n) !== null)", NAMES)
    assert present == NAMES
    expected = sum(len(p.figures) for p in quick_suite.parts.values())
    shown = page.execute_script("return Array.from(document.images).filter(i => i.naturalWidth > 0).length")
    drawn = {n for n, p in quick_suite.parts.items() if p.figures}
    assert drawn == set(NAMES) - {"conventions"}  # the conventions study reports tables only
    assert shown == expected


def test_the_findings_and_the_claims_table_come_first(page: Any) -> None:
    first = page.execute_script(
        "const t = document.querySelector('table'); return t && [t.querySelector('th').textContent,"
        " Array.from(t.querySelectorAll('tbody tr')).map(r => r.cells[0].textContent),"
        " Array.from(t.querySelectorAll('tbody tr')).map(r => r.cells[2].textContent),"
        " document.querySelector('h2').textContent, t.getBoundingClientRect().top,"
        " document.querySelector('p').textContent]")
    assert first is not None, "the page has no table"
    header, claims, verdicts, heading, top, opening = first
    assert header == "claim (what the lab said)" and len(claims) >= 3
    assert len(claims) == len(set(claims)), "a claim is listed twice"
    assert all(v.split("\u00a0(")[0].replace("\u00a0", " ").split(" (")[0] in
               ("holds", "partly holds", "does not hold", "not testable", "undecided") for v in verdicts), verdicts
    assert heading == "What the lab claimed and what refnet measured"
    assert opening.startswith("Findings.") and "claims tested here" in opening
    assert top < 900, "the claims table does not start in the first screen"


def test_every_internal_link_resolves(page: Any) -> None:
    broken = page.execute_script(
        "return Array.from(document.querySelectorAll('a[href^=\"#\"]')).map(a => a.getAttribute('href'))"
        ".filter(h => !document.getElementById(decodeURIComponent(h.slice(1))))")
    count = page.execute_script("return document.querySelectorAll('a[href^=\"#\"]').length")
    assert count > 0 and broken == []


def test_no_raw_python_values_in_the_text(page: Any) -> None:
    text = page.execute_script("return document.body.innerText")
    for raw in ("{'", '{"', "np.float64(", " nan ", "array(["):
        assert raw not in text, f"the page shows {raw!r}"
    assert prose_problems(text) == []
    assert RAW.findall(text) == []
