"""Shared pytest set-up: every random source seeded, GPU tests skipped without a GPU."""

from __future__ import annotations

import importlib.util
import os
import random
from collections.abc import Callable, Iterator

import numpy as np
import pytest

SEED = 20261123

#: Under CI=true a skip (other than a GPU test) is a failure: tests/ci_strict.py.
pytest_plugins = ["pytester", "ci_strict"]


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    """Seed Python, NumPy's legacy global RNG and torch (when installed) before every test."""
    random.seed(SEED)
    np.random.seed(SEED)  # noqa: NPY002 - some libraries still draw from the global RNG
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.manual_seed(SEED)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Run a test on one torch thread, restored afterwards: small fits (NPLM, tiny networks)
    run many times slower on two threads of a loaded 2-core CI machine."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
    """Report each notebook's wall time and peak memory (PSS of the kernel and its children)."""
    from notebook_runner import TIMINGS

    if not TIMINGS:
        return
    terminalreporter.section("notebooks under papermill")
    terminalreporter.write_line(f"{'notebook':32s} {'mode':9s} {'wall s':>8s} {'peak PSS MB':>12s}")
    for run in sorted(TIMINGS, key=lambda r: (r.mode, r.stem)):
        peak = "n/a" if run.peak_pss_mb is None else f"{run.peak_pss_mb:.0f}"
        terminalreporter.write_line(f"{run.stem:32s} {run.mode:9s} {run.wall_s:8.1f} {peak:>12s}")
    report = os.environ.get("PRECML_TEACHING_REPORT")
    if report:
        from precml_widgets.record import record_results

        rows = [
            {"notebook": r.stem, "mode": r.mode, "wall_s": r.wall_s, "peak_pss_mb": r.peak_pss_mb,
             "parameters": r.parameters}
            for r in TIMINGS
        ]  # fmt: skip
        record_results(report, {"cores": os.cpu_count(), "runs": rows})
        terminalreporter.write_line(f"written: {report}")


@pytest.fixture(scope="session")
def notebook_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A kernelspec that runs *this* interpreter, first on ``JUPYTER_PATH`` for the session."""
    from notebook_runner import install_kernel

    old = os.environ.get("JUPYTER_PATH")
    yield install_kernel(tmp_path_factory.mktemp("jupyter"))
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


@pytest.fixture(scope="session")
def run_notebook(
    notebook_kernel: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., object]:
    """``run_notebook(stem, mode="ci")`` executes a notebook once per session and mode and
    returns its :class:`notebook_runner.Run` (record, wall time, peak PSS)."""
    from notebook_runner import execute

    def run(stem: str, mode: str = "ci") -> object:
        return execute(stem, tmp_path_factory.mktemp(f"{stem}-{mode}"), notebook_kernel, mode)

    return run


@pytest.fixture(autouse=True, scope="session")
def _private_emulation_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Emulation results of the test run (and of notebook kernels it starts) go to a temp dir."""
    import os

    os.environ["PRECML_CACHE"] = str(tmp_path_factory.mktemp("precml_cache"))
