"""Run a curated notebook under papermill once per session and measure what it costs.

Shared by every notebook test module (``tests/test_notebook*.py``). Three configurations:

- ``"ci"`` (the default): the *teaching-default code path* -- shipped weights, the default
  operating point, widths, backend and flow size -- with only event counts and iteration
  counts cut, so that each notebook takes <= 2 min on 2 cores. This is what ``make test`` and
  CI run and what the numeric tests assert on.
- ``"teaching"``: the notebook's own defaults, untouched (``make test-teaching``), which must
  fit Binder: <= 5 min wall time and <= 2 GB of proportional memory (PSS) summed over the
  kernel and every process it starts (Dask workers, g++).

Memory is sampled by a thread in the test process every :data:`SAMPLE_INTERVAL_S` seconds:
the PSS of every descendant of this process (the kernel and its children), summed. PSS
(proportional set size) divides shared pages among the processes that share them, so the sum
over a process tree is the tree's real footprint, not an overcount as RSS would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL_NAME = "precml-notebook-tests"
SAMPLE_INTERVAL_S = 0.2

#: Binder's limits, which the teaching defaults must fit.
TEACHING_MAX_WALL_S = 300.0
TEACHING_MAX_PSS_MB = 2048.0
#: The CI configuration of each notebook must stay within this.
CI_MAX_WALL_S = 120.0

#: Notebook 02, teaching-default code path: the shipped autoencoder (no retraining), the
#: default 1 kHz operating point, the default precision scan (6-18 bits), device, clock and
#: backend. Cut: 300 000 background events resolve 28.6 MHz / 3e5 = 95 Hz, so ~10 events pass
#: the 1 kHz cut; fewer signal events, permutations and jet-tagger events.
CI_DAQ: dict[str, Any] = {
    "n_background": 300_000,
    "n_signal": 10_000,
    "n_permutations": 100,
    "n_tagger_events": 5_000,
}
#: Notebook 01, teaching-default code path: the 4D Camel, the medium flow; fewer calls and
#: iterations.
CI_THEORY: dict[str, Any] = {
    "calls_per_iteration": 2_000,
    "training_iterations": 12,
    "final_iterations": 6,
    "diagnostic_events": 20_000,
}
#: Parameters injected per notebook (stem) in the CI configuration; missing stems run with
#: their defaults. The seed is always given explicitly.
CI_PARAMETERS: dict[str, dict[str, Any]] = {
    "00_index": {},
    "01_theory_predictions": {**CI_THEORY, "seed": 0},
    "02_data_acquisition": {**CI_DAQ, "seed": 0},
    "03a_interpretability": {
        "seed": 0,
        "n_explain": 300,
        "n_background": 300_000,
        "n_signal": 5_000,
        "n_trigger_events": 40,
        "n_tagger_events": 200,
        "n_tagger_firmware_events": 5,
    },
    "03b_smeft_inference": {
        "seed": 0,
        "n_heldout": 5_000,
        "n_directions": 64,
        "n_grid": 25,
        "n_c2st_draws": 2_000,
        "calibration_toys": 16,
    },
    "04_likelihood_preservation": {"seed": 0},
    "05_ml_tools": {
        "seed": 0,
        "n_events": 1_000,
        "toys": 80,
        "nplm_reference_events": 2_000,
        "nplm_data_events": 200,
        "nplm_toys": 20,
        "flow_training_iterations": 8,
        "flow_events": 5_000,
        "cms_reference_events": 4_000,
        "cms_toys": 20,
    },
}


def notebook_defaults(stem: str) -> dict[str, Any]:
    """The values of the notebook's ``parameters`` cell (its teaching defaults)."""
    import ast

    import nbformat

    nb = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    values: dict[str, Any] = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def ci_parameters(stem: str) -> dict[str, Any]:
    """The notebook's teaching defaults with the CI cuts applied (what the tests assert on)."""
    return {**notebook_defaults(stem), **CI_PARAMETERS.get(stem, {})}


@dataclass(frozen=True)
class Run:
    """One executed notebook: its record and what it cost."""

    stem: str
    mode: str
    parameters: dict[str, Any]
    record: dict[str, Any]
    wall_s: float
    peak_pss_mb: float | None
    output: Path


def _pss_mb_of_descendants() -> float | None:
    """Summed PSS (MiB) of every descendant of this process; ``None`` where unreadable."""
    try:
        import psutil
    except ImportError:
        return None
    total = 0
    for child in psutil.Process().children(recursive=True):
        try:
            total += child.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied, AttributeError):
            continue
    return total / 2**20


class _PeakSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak: float | None = None
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            value = _pss_mb_of_descendants()
            if value is not None:
                self.peak = value if self.peak is None else max(self.peak, value)
            self._done.wait(SAMPLE_INTERVAL_S)

    def stop(self) -> float | None:
        self._done.set()
        self.join()
        return self.peak


_RUNS: dict[tuple[str, str], Run] = {}
#: Every run of this session, for the terminal summary (conftest prints it).
TIMINGS: list[Run] = []


def install_kernel(prefix: Path) -> str:
    """Install a kernelspec for *this* interpreter under ``prefix``; put it first on the path.

    The plain ``python3`` spec may resolve to another Python (a user-level kernelspec takes
    precedence over the environment's), so the tests install their own, for
    ``sys.executable``, outside the environment.
    """
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix),
         "--name", KERNEL_NAME, "--display-name", "precml tests"],
        check=True, capture_output=True,
    )  # fmt: skip
    old = os.environ.get("JUPYTER_PATH")
    share = str(prefix / "share" / "jupyter")
    os.environ["JUPYTER_PATH"] = share + (os.pathsep + old if old else "")
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()
    return KERNEL_NAME


def execute(stem: str, out_dir: Path, kernel: str, mode: str = "ci") -> Run:
    """Run notebook ``stem`` once per session and mode; return its record and its cost."""
    key = (stem, mode)
    if key in _RUNS:
        return _RUNS[key]
    import papermill

    if mode == "ci":
        parameters = dict(CI_PARAMETERS.get(stem, {}))
    elif mode == "teaching":
        parameters = {}
    else:
        raise ValueError(f"mode must be 'ci' or 'teaching', got {mode!r}")
    results_path = out_dir / f"{stem}.json"
    sampler = _PeakSampler()
    sampler.start()
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(NOTEBOOK_DIR / f"{stem}.ipynb"),
            str(out_dir / f"{stem}.ipynb"),
            parameters={**parameters, "results_path": str(results_path)},
            kernel_name=kernel,
            cwd=str(NOTEBOOK_DIR),
            progress_bar=False,
            execution_timeout=900,
        )
    finally:
        wall = time.perf_counter() - start
        peak = sampler.stop()
    record = json.loads(results_path.read_text())
    run = Run(
        stem=stem,
        mode=mode,
        parameters={**notebook_defaults(stem), **parameters},
        record=record,
        wall_s=wall,
        peak_pss_mb=peak,
        output=out_dir / f"{stem}.ipynb",
    )
    _RUNS[key] = run
    TIMINGS.append(run)
    return run
