"""A pytest plugin: under ``CI=true`` a skipped test or module is a failure.

CI exists to check what the suite is meant to check; a missing g++, data file, calibration
table, Playwright or Chromium must not turn into a silent "s". Only tests marked ``gpu`` may
skip (CI has no GPU), and ``xfail`` keeps its meaning. Locally (``CI`` unset or false) skips
stay skips, with their message. Loaded by ``tests/conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Generator
from types import ModuleType
from typing import NoReturn

import pytest

__all__ = ["in_ci", "missing", "require_chromium", "require_module", "require_tool"]

#: How to get the browser the browser tests drive (Debian's; never Playwright's download).
CHROMIUM_HINT = (
    "install it with `sudo apt-get install --no-install-recommends chromium` "
    "(never `playwright install`)"
)


def in_ci() -> bool:
    """Whether the ``CI`` environment variable says this is a CI run (``true``/``1``/``yes``)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(message: str) -> NoReturn:
    """A component the test needs is absent: fail under CI (:func:`in_ci`), skip locally.

    The one place tests decide this, so it holds even where this plugin is not loaded (a
    single file run with ``-p no:ci_strict``) and for every spelling of ``CI``.
    """
    if in_ci():
        pytest.fail(f"{message} (CI=true: a missing component fails, never skips)", pytrace=False)
    pytest.skip(message)


def require_module(name: str, hint: str) -> ModuleType:
    """``import name``, or :func:`missing` naming the module, the error and ``hint`` (the fix)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(f"{name} cannot be imported ({exc}); {hint}")


def require_tool(name: str, hint: str) -> str:
    """The path of the program ``name`` on ``PATH``, or :func:`missing` with ``hint``."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} not found on PATH; {hint}")
    return path


def require_chromium() -> str:
    """Debian's ``chromium`` and Playwright's Python API, or :func:`missing` with the fix."""
    path = require_tool("chromium", f"Debian chromium: {CHROMIUM_HINT}")
    require_module(
        "playwright.sync_api", "pip install the project's test extra (playwright, Python only)"
    )
    return path


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
