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
