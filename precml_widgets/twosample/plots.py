"""HoloViews figures of a power study (power curves, null against alternative, time per toy,
the paper's ε_CL per statistic) and of an NPLM log-ratio map (learned against exact f(x))."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from precml_widgets._optional import require
from precml_widgets.twosample.log_ratio import LogRatioMap
from precml_widgets.twosample.power import PowerStudy

if TYPE_CHECKING:
    import holoviews as hv

__all__ = [
    "MAX_POINTS",
    "epsilon_cl_plot",
    "log_ratio_plot",
    "power_plot",
    "timing_plot",
    "toys_plot",
]

#: One colour per statistic, in the order of the study (cycled).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
#: At most this many data events are drawn in :func:`log_ratio_plot` (an even thinning).
MAX_POINTS = 2000


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
        width=450,
        height=340,
        xrotation=30,
    )


def epsilon_cl_plot(study: PowerStudy) -> hv.Overlay:
    """The paper's ε_CL of every statistic (the ε at which the mean of its alternative toys
    crosses the null's threshold, interpolated on the grid) with its bootstrap error bar; a
    bound is labelled: ``≤ ε₀`` (above the threshold already at the grid's first ε, drawn to
    it) or ``> ε_max`` (never above on the grid, no bar)."""
    hv = _hv()
    eps = study.config.epsilons
    values = {name: study.epsilon_cl(name) for name in study.results}
    rows = [(name, c.epsilon if c.bound != ">" else np.nan) for name, c in values.items()]
    errors = [(name, c.epsilon, c.error) for name, c in values.items() if c.found]
    labels = [(name, c.epsilon, c.describe()) for name, c in values.items() if not c.found]
    beyond = sum(c.bound == ">" for c in values.values())
    note = f"; {beyond} beyond ε = {eps[-1]:.3g}" if beyond else "; lower sees more"
    layers = [hv.Bars(rows, "statistic", "ε_CL")]
    if errors:
        layers.append(hv.ErrorBars(errors, "statistic", ["ε_CL", "error"]).opts(color="black"))
    if labels:
        layers.append(
            hv.Labels(labels, ["statistic", "ε_CL"], "bound").opts(
                text_font_size="9pt", yoffset=0.04 * eps[-1]
            )
        )
    return hv.Overlay(layers).opts(
        title=f"ε{round(100 * study.config.cl)} per statistic (paper{note})",
        ylim=(0, 1.1 * eps[-1]),
        width=450,
        height=340,
        xrotation=30,
    )


def log_ratio_plot(result: LogRatioMap, feature: int) -> hv.Overlay:
    """The learned NPLM ``f`` on the data events against feature ``x_feature`` (0-based),
    with the exact log-ratio on the same events in a second colour; at most
    :data:`MAX_POINTS` events (an even thinning)."""
    hv = _hv()
    x = result.data[:, feature]
    pick = np.linspace(0, x.size - 1, min(x.size, MAX_POINTS)).astype(int)
    kdim = hv.Dimension("x", label=f"x{feature + 1}")
    vdim = hv.Dimension("f", label="log-ratio f(x)")
    layers = [
        hv.Scatter((x[pick], result.f[pick]), kdim, vdim, label="NPLM f (learned)").opts(
            color="#1f77b4", size=3, alpha=0.5
        )
    ]
    if result.exact is not None:
        layers.append(
            hv.Scatter((x[pick], result.exact[pick]), kdim, vdim, label="exact log p_ε/p_0").opts(
                color="#d62728", size=3, alpha=0.5
            )
        )
    hp = result.hyperparameters
    return hv.Overlay(layers).opts(
        title=(
            f"NPLM f at ε = {result.epsilon:.3g}: t = {result.t:.4g}, M = {hp['M']}, "
            f"σ = {hp['sigma']:.3g}, λ = {hp['lam']:.0e}"
        ),
        legend_position="top_left",
        width=900,
        height=320,
    )
