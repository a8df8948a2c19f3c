"""Shared pytest set-up: every random source seeded, GPU tests skipped without a GPU."""

from __future__ import annotations

import importlib.util
import random

import numpy as np
import pytest

SEED = 20261123


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    """Seed Python, NumPy's legacy global RNG and torch (when installed) before every test."""
    random.seed(SEED)
    np.random.seed(SEED)  # noqa: NPY002 - some libraries still draw from the global RNG
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.manual_seed(SEED)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu``-marked tests when no CUDA device is present."""
    has_cuda = False
    if importlib.util.find_spec("torch") is not None:
        import torch

        has_cuda = torch.cuda.is_available()
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; none is present on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Report each notebook's wall time and peak memory (collected by tests/test_notebooks.py)."""
    timings = getattr(config, "precml_notebook_timings", None)
    if not timings:
        return
    terminalreporter.section("notebooks under papermill (fast parameters)")
    terminalreporter.write_line(f"{'notebook':32s} {'wall s':>8s} {'peak MB':>8s}")
    for stem, wall, peak in sorted(timings):
        peak_text = "n/a" if peak is None else f"{peak:.0f}"
        terminalreporter.write_line(f"{stem:32s} {wall:8.1f} {peak_text:>8s}")


@pytest.fixture(autouse=True, scope="session")
def _private_emulation_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Emulation results of the test run (and of notebook kernels it starts) go to a temp dir."""
    import os

    os.environ["PRECML_CACHE"] = str(tmp_path_factory.mktemp("precml_cache"))
