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


SLOW_MODULES = frozenset({"test_experiments", "test_lr_threshold", "test_overflow", "test_conventions_study",
                          "test_report_browser", "test_compare"})
"""Test modules that run whole studies (each test a study's command or its report)."""

SLOW_TESTS = frozenset({
    "test_lab.py::test_the_lab_pair_reproduces_at_seed_0", "test_lab.py::test_the_run_that_overflowed_is_named_by_the_guard",
    "test_lab.py::test_sweep_over_processes_equals_runs_alone",
    "test_readme.py::test_the_library_example_runs_and_prints_what_its_comments_say",
    "test_gradcheck.py::test_command_passes_lists_every_component_and_is_deterministic",
    "test_gradcheck.py::test_progress_is_one_line_rewritten_in_place_and_quiet_is_silent",
    "test_gradcheck.py::test_report_and_exit_codes",
    "test_gradcheck.py::test_report_puts_the_short_tables_and_legends_before_the_details",
    "test_gradcheck.py::test_mutant_reasons_name_their_tensor_once",
    "test_gradcheck.py::test_default_output_is_a_short_table_then_a_legend_of_every_column",
    "test_gradcheck.py::test_whole_networks_pass", "test_gradcheck.py::test_verbose_adds_the_detailed_tables_with_their_legends",
    "test_gradcheck.py::test_mutants_command_catches_all_alone_and_in_the_network",
    "test_cli.py::test_default_xor_run_prints_100_percent", "test_cli.py::test_python_dash_m_exits_2_at_once_without_traceback",
    "test_compiled.py::test_without_numba_the_compiled_kernel_is_a_clear_error_naming_the_extra",
    "test_train.py::test_documented_linear_runs_reach_100_percent", "test_train.py::test_documented_xor_run_reaches_100_percent",
    "test_sweep.py::test_dask_local_cluster_matches_in_process", "test_sweep.py::test_worker_processes_give_the_in_process_bits",
    "test_sweep.py::test_unlike_workers_are_caught_and_pinned_workers_agree",
})
"""Single tests of about 2 s or more (measured 2026-12-07): a whole command (a fresh Python
process), the README, a long training or a pool of worker processes."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the slow tests (``-m "not slow"`` leaves them out: tox runs them on py312 only) and group
    the tests of the shared quick suite on one xdist worker (a no-op without xdist)."""
    for item in items:
        module = item.path.stem
        name = getattr(item, "originalname", item.name)  # a test function's name without its parameters
        if module in SLOW_MODULES or f"{item.path.name}::{name}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        if "quick_suite" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
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
