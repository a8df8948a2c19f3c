"""HoloViews figures of the FPGA estimator dashboard (pure HoloViews, no Panel).

* :func:`interval_plot`: each resource as % of the part (bar and point) with its 68 % interval
  and the part's total (100 %) as a dashed line; the latency in ns with its interval against
  the budget; latency and II as % of their budgets (the budget and the 25 ns bunch spacing).
* :func:`metric_plot` / :func:`physics_plot`: emulated physics against the width W, the
  current W marked.

Every element carries its numbers as data (``element.data`` / ``element.iloc``), so a test
reads what is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from precml_widgets._optional import require
from precml_widgets.fpga.dashboard import BUNCH_SPACING_NS, RESOURCES
from precml_widgets.fpga.estimator import ResourceEstimate
from precml_widgets.fpga.report_text import BLUE, RED, ns_text

__all__ = ["interval_plot", "metric_plot", "physics_plot", "resource_rows", "timing_rows"]

#: Widths the metric plots span, bits.
W_RANGE = (4, 24)


def _hv() -> Any:
    hv = require("holoviews", "widgets", "the FPGA estimator plot")
    require("holoviews.plotting.bokeh", "widgets", "the FPGA estimator plot")
    return hv


def resource_rows(est: ResourceEstimate) -> list[tuple[str, float, float, float]]:
    """``(label, % of part, value - lower end, upper end - value)`` per resource, in % of the
    part's total (the 68 % interval of ``est``; no interval: zero-length bars)."""
    rows = []
    for key, label in RESOURCES:
        total = getattr(est.device, key)
        lo, hi = est.interval.get(key, (getattr(est, key),) * 2)
        value = 100.0 * getattr(est, key) / total
        rows.append((label, value, value - 100.0 * lo / total, 100.0 * hi / total - value))
    return rows


def timing_rows(est: ResourceEstimate, latency_budget_ns: float) -> list[tuple[str, float]]:
    """``(label, %)``: the latency as % of ``latency_budget_ns`` (ns) and the II as % of the
    25 ns bunch spacing (over 100: too slow)."""
    return [
        ("latency / budget", 100.0 * est.latency_ns / latency_budget_ns),
        ("II / bunch spacing", 100.0 * est.ii_ns / BUNCH_SPACING_NS),
    ]


def interval_plot(est: ResourceEstimate, latency_budget_ns: float) -> Any:
    """Resources (% of the part, 68 % intervals, part total dashed) + latency vs budget.

    Args:
        est: the estimate to draw.
        latency_budget_ns: the latency budget, ns (dashed line).

    Returns:
        ``hv.Layout`` of three overlays: resources in % of the part (``hv.Bars``, ``hv.Scatter``
        and ``hv.ErrorBars``, ``"lower"`` / ``"upper"``: distances to the interval ends), the
        latency in ns (``hv.ErrorBars``) and the timing shares (``hv.Bars``,
        :func:`timing_rows`), each with its 100 % or budget line (``hv.HLine``).
    """
    hv = _hv()
    rows = resource_rows(est)
    flagged = " (widened: flagged)" if est.extrapolations else ""
    shares = hv.Bars([r[:2] for r in rows], "resource", "% of part").opts(alpha=0.3, color=BLUE)
    res = hv.Scatter([r[:2] for r in rows], "resource", "% of part").opts(size=8, color=BLUE)
    res_err = hv.ErrorBars(rows, "resource", ["% of part", "lower", "upper"])
    total_line = hv.HLine(100.0).opts(color=RED, line_dash="dashed")
    resources = (shares * res * res_err * total_line).opts(
        title=f"resources, {est.interval_level:.0%} intervals{flagged}", width=300, height=220
    )
    lo_ns, hi_ns = est.latency_ns_interval
    lat = [("latency", est.latency_ns, est.latency_ns - lo_ns, hi_ns - est.latency_ns)]
    latency = (
        hv.Scatter([lat[0][:2]], "quantity", "ns").opts(size=8, color=BLUE)
        * hv.ErrorBars(lat, "quantity", ["ns", "lower", "upper"])
        * hv.HLine(latency_budget_ns).opts(color=RED, line_dash="dashed")
    ).opts(title=f"latency vs budget {ns_text(latency_budget_ns)}", width=180, height=220)
    timing = (
        hv.Bars(timing_rows(est, latency_budget_ns), "quantity", "% of budget").opts(
            alpha=0.3, color=BLUE
        )
        * hv.HLine(100.0).opts(color=RED, line_dash="dashed")
    ).opts(title="timing, % of budget", width=220, height=220)
    return (resources + latency + timing).opts(shared_axes=False)


def metric_plot(metric: str, metrics: Mapping[int, Mapping[str, float]], width: int) -> Any:
    """``metric`` against W (finite values), the current ``width`` marked by a dashed line and
    a larger red point.

    Returns:
        ``hv.Overlay``: ``Curve`` and ``Scatter`` of ``(W, value)``, ``Scatter`` of the current
        W's point (empty when it was not emulated) and ``VLine`` at ``width``.
    """
    hv = _hv()
    points = [
        (w, v[metric])
        for w, v in sorted(metrics.items())
        if metric in v and math.isfinite(v[metric])
    ]
    current = [(w, v) for w, v in points if w == width]
    return (
        hv.Curve(points, "W", metric).opts(color=BLUE, line_width=1.5)
        * hv.Scatter(points, "W", metric).opts(color=BLUE, size=5)
        * hv.Scatter(current, "W", metric).opts(color=RED, size=9)
        * hv.VLine(float(width)).opts(color=RED, line_dash="dashed", line_width=1)
    ).opts(
        title=f"{metric} against W",
        xlim=(W_RANGE[0] - 0.5, W_RANGE[1] + 0.5),
        xlabel="W [bits]",
        width=350,
        height=180,
    )


def physics_plot(metrics: Mapping[int, Mapping[str, float]] | None, width: int) -> Any:
    """One :func:`metric_plot` per metric (``hv.Layout``, two columns), or ``None`` without
    metrics."""
    if not metrics:
        return None
    hv = _hv()
    names = list(dict.fromkeys(k for w in sorted(metrics) for k in metrics[w]))
    return (
        hv.Layout([metric_plot(k, metrics, width) for k in names]).opts(shared_axes=False).cols(2)
    )
