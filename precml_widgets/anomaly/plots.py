"""HoloViews plots of an anomaly-score trigger: score histograms with the cut, ROC curves.

Pure HoloViews (Bokeh backend options); every number drawn is passed in, computed by the
cores (:mod:`~precml_widgets.anomaly.score_set`, :mod:`~precml_widgets.anomaly.roc`).

Each plot comes in two parts: a base that does not depend on the threshold
(:func:`histogram_base`, :func:`roc_base`) and the part that does (:func:`cut_line`,
:func:`operating_point_marker`). A live view draws both once and, when the threshold moves,
changes only the small part in place (:func:`cut_line_mark`, :func:`operating_point_mark`:
:class:`~precml_widgets.live.PartUpdate` s for :class:`~precml_widgets.live.LiveParts`);
:func:`histogram_overlay` and :func:`roc_overlay` put the two together for a static picture.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from precml_widgets._optional import require
from precml_widgets.anomaly.roc import RocCurve, roc_points_for_plot
from precml_widgets.live import PartUpdate
from precml_widgets.stats.binomial import BinomialEstimate

__all__ = [
    "PLOT_WIDTHS",
    "compose",
    "cut_line",
    "cut_line_mark",
    "histogram_base",
    "histogram_overlay",
    "load_holoviews",
    "operating_point_mark",
    "operating_point_marker",
    "roc_base",
    "roc_overlay",
]


#: Widths in px of the histogram and the ROC plot: beside a 300 px column of controls they
#: fit a 1280 px window.
PLOT_WIDTHS = (520, 420)


def load_holoviews() -> Any:
    """HoloViews with its Bokeh backend registered (options only, no notebook output)."""
    hv = require("holoviews", "widgets", "the anomaly-score explorer")
    require("holoviews.plotting.bokeh", "widgets", "the anomaly-score explorer")
    return hv


def compose(base: Any, live: Any) -> Any:
    """``base * live`` with the base's overlay options (title, size, axes, legend).

    Args:
        base: an ``hv.Overlay`` from :func:`histogram_base` or :func:`roc_base`.
        live: an element or an ``hv.DynamicMap`` of the threshold-dependent part.

    Returns:
        An ``hv.Overlay`` (or an ``hv.DynamicMap`` of them when ``live`` is one).
    """
    return (base * live).opts(**base.opts.get().kwargs)


def histogram_base(
    edges: npt.NDArray[np.float64],
    background: npt.NDArray[np.float64],
    signal: npt.NDArray[np.float64],
    *,
    score: str,
    signal_name: str,
    log_x: bool,
    log_y: bool,
) -> Any:
    """Density histograms of the background and one signal (no cut).

    Args:
        edges: bin edges, shape ``(B + 1,)``.
        background, signal: probability densities per bin, shape ``(B,)``.
        score: the score's name (axis label and title).
        signal_name: the signal's name (legend).
        log_x: log-spaced edges (log x-axis).
        log_y: log y-axis; empty bins are then left out.

    Returns:
        An ``hv.Overlay`` of two ``hv.Histogram``.
    """
    hv = load_holoviews()
    bkg, sig = background, signal
    if log_y:  # empty bins cannot be drawn on a log axis
        bkg = np.where(bkg > 0, bkg, np.nan)
        sig = np.where(sig > 0, sig, np.nan)
    kdims = [hv.Dimension("score", label=f"{score} score")]
    vdims = [hv.Dimension("density", label="probability density")]
    h_bkg = hv.Histogram((edges, bkg), kdims=kdims, vdims=vdims, label="background").opts(
        fill_color="#bbbbbb", line_color="#888888", fill_alpha=0.8
    )
    h_sig = hv.Histogram((edges, sig), kdims=kdims, vdims=vdims, label=f"signal: {signal_name}")
    h_sig = h_sig.opts(fill_color="#d62728", line_color="#d62728", fill_alpha=0.25)
    axes: dict[str, Any] = {"logx": log_x, "logy": log_y}
    if log_y:  # an explicit lower bound: Bokeh cannot start a log axis at 0
        finite = np.concatenate([bkg[np.isfinite(bkg)], sig[np.isfinite(sig)]])
        if finite.size:
            # headroom above the tallest bin keeps the legend off the data
            axes["ylim"] = (float(finite.min()) / 2.0, float(finite.max()) * 30.0)
    else:
        axes["ylim"] = (0.0, 1.35 * float(np.nanmax(np.concatenate([bkg, sig]))))
    return (h_bkg.opts(**axes) * h_sig.opts(**axes)).opts(
        title=f"{score} score: background and {signal_name}",
        width=PLOT_WIDTHS[0],
        height=360,
        legend_position="top_right",
        toolbar="above",
        **axes,
    )


def cut_line(threshold: float) -> Any:
    """The cut ``score > threshold`` as a dashed vertical line (an ``hv.VLine``)."""
    hv = load_holoviews()
    return hv.VLine(threshold, label="cut").opts(color="black", line_dash="dashed", line_width=2)


def cut_line_mark(threshold: float) -> PartUpdate:
    """The change that moves a drawn :func:`cut_line` to ``threshold``."""
    return PartUpdate(location=float(threshold))


def histogram_overlay(
    edges: npt.NDArray[np.float64],
    background: npt.NDArray[np.float64],
    signal: npt.NDArray[np.float64],
    threshold: float,
    *,
    score: str,
    signal_name: str,
    log_x: bool,
    log_y: bool,
) -> Any:
    """:func:`histogram_base` with the :func:`cut_line` at ``threshold``.

    Returns:
        An ``hv.Overlay`` of two ``hv.Histogram`` and an ``hv.VLine``.
    """
    base = histogram_base(
        edges, background, signal, score=score, signal_name=signal_name, log_x=log_x, log_y=log_y
    )
    return compose(base, cut_line(threshold))


def roc_base(
    curve: RocCurve,
    *,
    signal_name: str,
    log_x: bool,
    points: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
) -> Any:
    """ROC curve with the random-guess diagonal.

    Args:
        curve: the ROC curve (title: its AUC; axis: from its ``1/N``).
        signal_name: the signal's name (title).
        log_x: log FPR axis from 1/N.
        points: the ``(fpr, tpr)`` vertices to draw (e.g. thinned by
            :meth:`~precml_widgets.anomaly.score_set.ScoreSet.roc_plot_points`); default:
            every point with FPR >= 1/N (:func:`roc_points_for_plot`).

    Returns:
        An ``hv.Overlay`` of two ``hv.Curve``.
    """
    hv = load_holoviews()
    x, y = points if points is not None else roc_points_for_plot(curve, curve.min_resolvable_fpr)
    kd, vd = _roc_dims(hv)
    grid = np.geomspace(curve.min_resolvable_fpr, 1.0, 50) if log_x else np.linspace(0, 1, 50)
    roc = hv.Curve((x, y), kd, vd, label="ROC curve").opts(color="#d62728", line_width=2)
    diag = hv.Curve((grid, grid), kd, vd, label="random").opts(color="#999999", line_dash="dotted")
    axes = _roc_axes(curve, log_x)
    return (roc.opts(**axes) * diag.opts(**axes)).opts(
        title=f"ROC: {signal_name}, AUC = {curve.auc:.3f}",
        width=PLOT_WIDTHS[1],
        height=360,
        legend_position="bottom_right",
        toolbar="above",
        **axes,
    )


def operating_point_marker(
    curve: RocCurve, fpr: float, efficiency: BinomialEstimate, *, log_x: bool, passes: bool = True
) -> Any:
    """The operating point on a ROC plot (an ``hv.Points`` with the interval on hover).

    Args:
        curve: the ROC curve the marker sits on (its axis ranges).
        fpr: x of the marker: the background FPR at the cut (1/N when nothing passes).
        efficiency: the signal efficiency at the cut with its interval (hover values).
        log_x: log FPR axis from 1/N.
        passes: whether any background event passes; if not, the marker is a triangle (an
            upper bound on the FPR, as the legend says).
    """
    hv = load_holoviews()
    e = efficiency
    return hv.Points(
        [(fpr, e.value, e.lower, e.upper)],
        list(_roc_dims(hv)),
        [
            hv.Dimension("eff_lo", label="eff. CP lower"),
            hv.Dimension("eff_hi", label="eff. CP upper"),
        ],
        # one label for both shapes: a changed label makes Bokeh build a new renderer
        label="operating point (▲: FPR < 1/N)",
    ).opts(
        color="black",
        size=10,
        marker="circle" if passes else "triangle",
        tools=["hover"],
        **_roc_axes(curve, log_x),
    )


def operating_point_mark(fpr: float, efficiency: BinomialEstimate, passes: bool) -> PartUpdate:
    """The change that moves a drawn :func:`operating_point_marker` (same arguments): its
    one data row (position and hover interval) and its shape."""
    e = efficiency
    return PartUpdate(
        columns={"fpr": [fpr], "tpr": [e.value], "eff_lo": [e.lower], "eff_hi": [e.upper]},
        glyph={"marker": "circle" if passes else "triangle"},
    )


def roc_overlay(
    curve: RocCurve,
    fpr: float,
    efficiency: BinomialEstimate,
    *,
    signal_name: str,
    log_x: bool,
    passes: bool = True,
) -> Any:
    """:func:`roc_base` with the :func:`operating_point_marker` (same arguments).

    Returns:
        An ``hv.Overlay`` of two ``hv.Curve`` and an ``hv.Points``.
    """
    base = roc_base(curve, signal_name=signal_name, log_x=log_x)
    return compose(base, operating_point_marker(curve, fpr, efficiency, log_x=log_x, passes=passes))


def _roc_dims(hv: Any) -> tuple[Any, Any]:
    kd = hv.Dimension("fpr", label="background FPR")
    return kd, hv.Dimension("tpr", label="signal efficiency", range=(0.0, 1.02))


def _roc_axes(curve: RocCurve, log_x: bool) -> dict[str, Any]:
    xlim = (curve.min_resolvable_fpr, 1.0) if log_x else (0.0, 1.0)
    return {"logx": log_x, "xlim": xlim, "ylim": (0.0, 1.02)}
