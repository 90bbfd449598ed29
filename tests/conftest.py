"""Shared test settings: a deterministic hypothesis profile, and one real quick report of every study.

:func:`quick_suite` runs each study of ``python -m verify`` once per test session, through the
suite's own :func:`verify.__main__.run_study` and :func:`verify.__main__.write_index`, at its quick
size; the experiments and conventions studies at the reduced size their own tests already use
(their default sizes take about 75 s and 15 s on 2 busy cores). The browser test renders the page;
the studies' tests read their folder instead of running the study again.

Under pytest-xdist (tox runs ``pytest -n auto --dist loadgroup``) every test that uses
:func:`quick_suite` is sent to one worker, so the suite still runs once per session.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")  # the studies draw their figures without a display

from verify.__main__ import STUDIES, Part, run_study, write_index  # noqa: E402

settings.register_profile(
    "refnet", max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("refnet")

QUICK_ARGS: Mapping[str, tuple[str, ...]] = {
    "experiments": ("--quick", "--seeds", "2"),
    "conventions": ("--seeds", "0", "1", "--epochs-xor", "200", "--epochs-linear", "100"),
}
"""Arguments of the studies whose suite default is larger than a test can afford (the others run as
``python -m verify`` runs them: lab_reading, overflow and lr_threshold with ``--quick``)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group the tests of the shared quick suite on one xdist worker (a no-op without xdist)."""
    for item in items:
        if "quick_suite" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("quick_suite"))


@dataclass(frozen=True)
class QuickSuite:
    """The suite's output folder (``index.html`` and one folder per study) and what each study did."""

    out: Path
    index: Path
    parts: Mapping[str, Part]
    seconds: float

    def folder(self, name: str) -> Path:
        return self.out / name


@pytest.fixture(scope="session")
def quick_suite(tmp_path_factory: pytest.TempPathFactory) -> QuickSuite:
    """Every study of ``python -m verify`` once, quick, and the suite's page of them (about 40 s)."""
    out = tmp_path_factory.mktemp("quick_suite") / "report"
    start = time.perf_counter()
    parts = []
    for study in STUDIES:
        if study.name in QUICK_ARGS:
            study = replace(study, default_args=QUICK_ARGS[study.name])
        parts.append(run_study(study, out, False, lambda _msg: None))
    seconds = time.perf_counter() - start
    _, index, _ = write_index(parts, out, "default", seconds, "python -m verify (quick sizes of tests/conftest.py)")
    return QuickSuite(out, index, {p.name: p for p in parts}, seconds)
