"""HoloViews figures of a power study: power curves, null against alternative, time per toy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from precml_widgets._optional import require
from precml_widgets.twosample.power import PowerStudy

if TYPE_CHECKING:
    import holoviews as hv

__all__ = ["power_plot", "timing_plot", "toys_plot"]

#: One colour per statistic, in the order of the study (cycled).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


def _hv() -> Any:
    hv = require("holoviews", "widgets", "two-sample plots")
    require("holoviews.plotting.bokeh", "widgets", "two-sample plots")
    return hv


def power_plot(study: PowerStudy) -> hv.Overlay:
    """Power against the deformation size ε for every statistic, with 68 % intervals; the
    dotted line is the false-alarm rate ``1 - cl`` that the power at ε = 0 estimates."""
    hv = _hv()
    config = study.config
    eps = np.asarray(config.epsilons, dtype=float)
    layers = [hv.HLine(1 - config.cl).opts(color="#777777", line_dash="dotted")]
    for i, (name, result) in enumerate(study.results.items()):
        color = PALETTE[i % len(PALETTE)]
        value = np.array([p.value for p in result.power])
        low = value - np.array([p.lower for p in result.power])
        high = np.array([p.upper for p in result.power]) - value
        layers.append(
            hv.Curve((eps, value), "epsilon", "power", label=name).opts(color=color, line_width=2)
        )
        layers.append(
            hv.ErrorBars((eps, value, low, high), "epsilon", ["power", "low", "high"]).opts(
                color=color
            )
        )
    return hv.Overlay(layers).opts(
        title=f"power at {config.cl:.0%} CL ({config.kind} of {config.family}, d = {config.dim})",
        xlabel="deformation size ε",
        ylabel="power",
        ylim=(-0.02, 1.05),
        legend_position="bottom_right",
        width=520,
        height=340,
    )


def toys_plot(study: PowerStudy, statistic: str, eps_index: int) -> hv.Overlay:
    """The statistic's null toys and its toys at ``epsilons[eps_index]`` on one binning, with
    the rejection threshold."""
    hv = _hv()
    result = study.results[statistic]
    null, alt = result.null.values, result.alternatives[eps_index]
    edges = np.histogram_bin_edges(np.concatenate([null, alt]), bins=40)
    eps = study.config.epsilons[eps_index]
    dim = hv.Dimension("value", label=statistic)
    density = hv.Dimension("density", label="toys (density)")
    return (
        hv.Histogram(
            np.histogram(null, edges, density=True), kdims=[dim], vdims=[density], label="null"
        ).opts(fill_color="#bbbbbb", line_color="#888888", fill_alpha=0.7)
        * hv.Histogram(
            np.histogram(alt, edges, density=True),
            kdims=[dim],
            vdims=[density],
            label=f"ε = {eps:g}",
        ).opts(fill_color="#d62728", line_color="#d62728", fill_alpha=0.3)
        * hv.VLine(result.threshold).opts(color="black", line_dash="dashed")
    ).opts(
        title=f"{statistic}: null and ε = {eps:g} (dashed: {study.config.cl:.0%} threshold)",
        legend_position="top_right",
        width=900,
        height=300,
    )


def timing_plot(study: PowerStudy) -> hv.Bars:
    """Milliseconds per toy of every statistic (sampling included), on a log axis."""
    hv = _hv()
    rows = [(name, 1e3 * r.seconds_per_toy) for name, r in study.results.items()]
    times = [t for _, t in rows]
    return hv.Bars(rows, "statistic", "ms per toy").opts(
        title=f"compute time per toy (n = {study.config.n}, d = {study.config.dim})",
        logy=True,
        ylim=(min(times) / 3, max(times) * 3),
        width=380,
        height=340,
        xrotation=30,
    )
