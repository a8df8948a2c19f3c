"""A pytest plugin: under ``CI=true`` a skipped test or module is a failure.

CI exists to check what the suite is meant to check; a missing g++, data file, calibration
table, Playwright or Chromium must not turn into a silent "s". Only tests marked ``gpu`` may
skip (CI has no GPU), and ``xfail`` keeps its meaning. Locally (``CI`` unset or false) skips
stay skips, with their message. Loaded by ``tests/conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

__all__ = ["in_ci"]


def in_ci() -> bool:
    """Whether the ``CI`` environment variable says this is a CI run (``true``/``1``/``yes``)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _reason(longrepr: object) -> str:
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """Turn a skipped test into a failure under CI (``gpu`` tests and xfails excepted)."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (in_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    if "gpu" in item.keywords:
        return
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, where nothing may skip: {_reason(report.longrepr)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, None]:
    """Turn a module-level skip (``pytest.importorskip`` at import) into an error under CI."""
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if in_ci() and report.skipped:
        report.outcome = "failed"
        report.longrepr = (
            f"{collector.nodeid}: skipped at collection under CI=true, where nothing may "
            f"skip: {_reason(report.longrepr)}"
        )
