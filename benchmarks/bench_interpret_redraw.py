"""Interpretability explorer: the Python side of a control change, redrawn from cached arrays.

Issue 13 asks that every control of :class:`InterpretabilityExplorer` redraw from cached
arrays. This times each control change on the served app's example: the explorer is built on
``gaussian_classifier_example(**DEFAULT)`` (the app's default settings: 1e5 training events,
1000 explained events, background 100), drawn once with ``view.__panel__().get_root()`` so the
Bokeh models exist and every change also updates them (as a served session does; the browser's
share is measured by ``browser_latency.py --app interpret``), then each knob is changed
``--repeat`` times (>= 5) and the median wall time is reported in ms:

* ``feature`` ("Dependence on"): cycles through the other features (redraws the dependence plot);
* ``color_by`` ("Coloured by"): likewise (dependence plot);
* ``event`` ("Waterfall of event"): event 1, 2, ... (waterfall and summary table);
* ``projection_colour``: alternates "class" / "score" (the 2-D projection);
* ``model``: a second explanation is given, the same arrays under another model name (a renamed
  copy: nothing extra is computed), and the model is switched back and forth. The first visit to
  each model draws all its panes (``model_first_visit_ms``); every later switch shows that
  model's own panes again and redraws only those whose knobs changed since
  (``model_cached_ms``, median).

Also recorded: the example's build time (the expensive part, once per server process), the first
draw, ``os.getloadavg()`` before and after, and the torch threads. Target (issue 13 tests):
0.2 s per change.

Run: ``python benchmarks/bench_interpret_redraw.py`` (writes
benchmarks/results/interpret_redraw.json). Numbers from a shared machine are indicative only.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from _common import median_seconds, write

from precml_widgets.apps.interpretability_explorer import DEFAULT
from precml_widgets.interpret.examples import gaussian_classifier_example
from precml_widgets.interpret.explorer import InterpretabilityExplorer

TARGET_MS = 200.0


def cycle_values(values: list[Any], current: Any) -> Iterator[Any]:
    """Every value but ``current``, round and round (each set is then a change)."""
    others = [v for v in values if v != current]
    return itertools.cycle(others)


def time_knob(view: InterpretabilityExplorer, knob: str, values: Iterator[Any], repeat: int):
    """Median and all wall times (ms) of ``repeat`` changes of ``knob`` to successive values."""
    med, times = median_seconds(lambda: setattr(view, knob, next(values)), repeat)
    return {"median_ms": 1e3 * med, "times_ms": [1e3 * t for t in times], "repeat": repeat}


def alternating(view: InterpretabilityExplorer, knob: str, a: Any, b: Any) -> Callable[[], None]:
    """A change of ``knob`` to whichever of ``a``, ``b`` it is not now."""

    def change() -> None:
        setattr(view, knob, b if getattr(view, knob) == a else a)

    return change


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=9, help="changes per knob (>= 5)")
    args = parser.parse_args()
    if args.repeat < 5:
        parser.error(f"--repeat must be >= 5 (the median of at least 5 changes), got {args.repeat}")
    torch.set_num_threads(min(2, len(os.sched_getaffinity(0))))
    load_before = os.getloadavg()

    t0 = time.perf_counter()
    example = gaussian_classifier_example(**DEFAULT)
    build_s = time.perf_counter() - t0
    second = dataclasses.replace(example, model=f"{example.model} (renamed copy)")
    print(f"example built in {build_s:.1f} s ({DEFAULT})")

    t0 = time.perf_counter()
    view = InterpretabilityExplorer([example, second])
    view.model = example.model
    construct_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    view.__panel__().get_root()  # the Bokeh models exist: each change also updates them
    first_draw_s = time.perf_counter() - t0

    names = list(example.shap.feature_names)
    n_events = example.shap.values.shape[0]
    changes: dict[str, dict[str, Any]] = {}
    changes["feature"] = time_knob(view, "feature", cycle_values(names, view.feature), args.repeat)
    changes["color_by"] = time_knob(
        view, "color_by", cycle_values(names, view.color_by), args.repeat
    )
    changes["event"] = time_knob(
        view, "event", iter(range(1, n_events)), min(args.repeat, n_events - 1)
    )
    med, times = median_seconds(
        alternating(view, "projection_colour", "class", "score"), args.repeat
    )
    changes["projection_colour"] = {
        "median_ms": 1e3 * med,
        "times_ms": [1e3 * t for t in times],
        "repeat": args.repeat,
    }
    # model switch: the first visit of the second model draws its fixed figures once
    t0 = time.perf_counter()
    view.model = second.model
    first_visit_ms = 1e3 * (time.perf_counter() - t0)
    med, times = median_seconds(
        alternating(view, "model", example.model, second.model), args.repeat
    )
    changes["model"] = {
        "median_ms": 1e3 * med,
        "times_ms": [1e3 * t for t in times],
        "repeat": args.repeat,
        "model_first_visit_ms": first_visit_ms,
        "note": "second explanation = the same arrays renamed; cached switch median",
    }
    for knob, entry in changes.items():
        print(f"{knob:>18}: median {entry['median_ms']:.1f} ms over {entry['repeat']} changes")
    print(f"{'model (1st visit)':>18}: {first_visit_ms:.1f} ms")
    targets = {f"{k}_le_{TARGET_MS:.0f}ms": v["median_ms"] <= TARGET_MS for k, v in changes.items()}
    print("targets:", targets)
    write(
        "interpret_redraw",
        {
            "example": "gaussian_classifier_example",
            "config": DEFAULT,
            "events": n_events,
            "features": len(names),
            "torch_threads": torch.get_num_threads(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "example_build_s": build_s,
            "explorer_construct_s": construct_s,
            "first_draw_get_root_s": first_draw_s,
            "changes": changes,
            "target_ms": TARGET_MS,
            "targets_met": targets,
        },
    )


if __name__ == "__main__":
    main()
