"""The suite's report as a reader sees it: a real run of two studies, opened in headless Chromium.

``python -m verify --only lab_reading gradcheck`` builds a small but real report (about 25 s on
2 busy cores); selenium drives Debian's ``chromium`` through ``chromedriver`` at 1280 px and
checks what a reader would stumble on: images that do not decode, a page wider than the window,
findings that are not first, internal links that lead nowhere, raw Python values in the text.

The test skips, saying why, only when selenium, a Chromium binary or a chromedriver cannot be
found (``REFNET_CHROMIUM`` and ``REFNET_CHROMEDRIVER`` name them when they are elsewhere);
with ``REFNET_REQUIRE_BROWSER=1`` (for CI, which installs them) a missing one fails instead.
Set ``REFNET_SCREENSHOT=path.png`` to keep a screenshot of the first screen.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from verify.common.report import prose_problems

WIDTH = 1280
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run")
ROOT = Path(__file__).resolve().parents[1]


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


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real suite report of two studies (the lab-reading study in quick mode and the gradient check)."""
    out = tmp_path_factory.mktemp("suite") / "report"
    proc = subprocess.run([sys.executable, "-m", "verify", "--only", "lab_reading", "gradcheck", "--out", str(out),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    index = out / "index.html"
    assert index.is_file(), f"no index.html; exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return index


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


def test_the_claims_table_comes_first(page: Any) -> None:
    first = page.execute_script(
        "const t = document.querySelector('table'); return t && [t.querySelector('th').textContent,"
        " t.querySelectorAll('tbody tr').length, document.querySelector('h2').textContent,"
        " t.getBoundingClientRect().top]")
    assert first is not None, "the page has no table"
    header, rows, heading, top = first
    assert header == "claim (what the lab said)" and rows >= 10  # one per observation of the lab-reading study
    assert heading == "What the lab claimed and what refnet measured"
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
