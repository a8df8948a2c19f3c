"""Shared helpers of the benchmarks: timing medians and JSON output with versions."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from precml_widgets.record import record_results

RESULTS = Path(__file__).parent / "results"


def median_seconds(func: Callable[[], Any], repeat: int) -> tuple[float, list[float]]:
    """Run ``func`` ``repeat`` times; return the median and all wall times in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def write(name: str, results: dict[str, Any]) -> Path:
    """Write ``results`` (plus versions and machine) to ``benchmarks/results/<name>.json``."""
    results = {"machine": {"cpus": _cpus(), "platform": platform.platform()}, **results}
    path = RESULTS / f"{name}.json"
    RESULTS.mkdir(exist_ok=True)
    record_results(path, results)
    print(f"wrote {path}")
    return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))
