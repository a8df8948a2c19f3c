"""The CI plugin: a skip is a failure under CI=true, a skip locally, and GPU tests may skip."""

from __future__ import annotations

import pytest

BODY = """
import pytest

def test_needs_gxx():
    pytest.skip("no g++ on this machine")

@pytest.mark.gpu
def test_on_gpu():
    pytest.skip("needs a CUDA GPU")

@pytest.mark.xfail(reason="known", strict=True)
def test_known():
    assert False
"""

MODULE_SKIP = """
import pytest
pytest.importorskip("a_module_that_is_not_installed_here")

def test_never_runs():
    pass
"""


@pytest.mark.parametrize("ci", ["true", ""])
def test_skip_fails_only_in_ci(pytester, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    pytester.makepyfile(test_inner=BODY)
    result = pytester.runpytest_inprocess("-p", "ci_strict", "-p", "no:cacheprovider")
    if ci:
        result.assert_outcomes(failed=1, skipped=1, xfailed=1)
        result.stdout.fnmatch_lines(["*skipped under CI=true*no g++ on this machine*"])
    else:
        result.assert_outcomes(skipped=2, xfailed=1)


@pytest.mark.parametrize("ci", ["true", ""])
def test_module_skip_fails_only_in_ci(pytester, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    pytester.makepyfile(test_inner=MODULE_SKIP)
    result = pytester.runpytest_inprocess("-p", "ci_strict", "-p", "no:cacheprovider")
    if ci:
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*skipped at collection under CI=true*"])
    else:
        result.assert_outcomes(skipped=1)
