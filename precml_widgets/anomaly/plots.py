"""HoloViews plots of an anomaly-score trigger: score histograms with the cut, ROC curves.

Pure HoloViews (Bokeh backend options); every number drawn is passed in, computed by the
cores (:mod:`~precml_widgets.anomaly.score_set`, :mod:`~precml_widgets.anomaly.roc`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from precml_widgets._optional import require
from precml_widgets.anomaly.roc import RocCurve, roc_points_for_plot
from precml_widgets.stats.binomial import BinomialEstimate

__all__ = ["histogram_overlay", "load_holoviews", "roc_overlay"]


def load_holoviews() -> Any:
    """HoloViews with its Bokeh backend registered (options only, no notebook output)."""
    hv = require("holoviews", "widgets", "the anomaly-score explorer")
    require("holoviews.plotting.bokeh", "widgets", "the anomaly-score explorer")
    return hv


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
    """Density histograms of the background and one signal, with the cut as a dashed line.

    Args:
        edges: bin edges, shape ``(B + 1,)``.
        background, signal: probability densities per bin, shape ``(B,)``.
        threshold: the cut, drawn as an :class:`hv.VLine`.
        score: the score's name (axis label and title).
        signal_name: the signal's name (legend).
        log_x: log-spaced edges (log x-axis).
        log_y: log y-axis; empty bins are then left out.

    Returns:
        An ``hv.Overlay`` of two ``hv.Histogram`` and an ``hv.VLine``.
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
    cut = hv.VLine(threshold, label="cut").opts(color="black", line_dash="dashed", line_width=2)
    axes: dict[str, Any] = {"logx": log_x, "logy": log_y}
    if log_y:  # an explicit lower bound: Bokeh cannot start a log axis at 0
        finite = np.concatenate([bkg[np.isfinite(bkg)], sig[np.isfinite(sig)]])
        if finite.size:
            # headroom above the tallest bin keeps the legend off the data
            axes["ylim"] = (float(finite.min()) / 2.0, float(finite.max()) * 30.0)
    else:
        axes["ylim"] = (0.0, 1.35 * float(np.nanmax(np.concatenate([bkg, sig]))))
    h_bkg = h_bkg.opts(framewise=True, **axes)
    h_sig = h_sig.opts(framewise=True, **axes)
    return (h_bkg * h_sig * cut).opts(
        title=f"{score} score, cut at > {threshold:.4g}",
        width=600,
        height=360,
        legend_position="top_right",
        toolbar="above",
        framewise=True,
        **axes,
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
    """ROC curve with the random-guess diagonal and the operating point marked.

    Args:
        curve: the ROC curve; points with FPR >= 1/N are drawn (:func:`roc_points_for_plot`).
        fpr: x of the marker: the background FPR at the cut (1/N when nothing passes).
        efficiency: the signal efficiency at the cut with its interval (hover values).
        signal_name: the signal's name (title).
        log_x: log FPR axis from 1/N.
        passes: whether any background event passes; if not, the marker is a triangle
            labelled as an upper bound.

    Returns:
        An ``hv.Overlay`` of two ``hv.Curve`` and an ``hv.Points``.
    """
    hv = load_holoviews()
    x, y = roc_points_for_plot(curve, curve.min_resolvable_fpr)
    kd = hv.Dimension("fpr", label="background FPR")
    vd = hv.Dimension("tpr", label="signal efficiency", range=(0.0, 1.02))
    grid = np.geomspace(curve.min_resolvable_fpr, 1.0, 50) if log_x else np.linspace(0, 1, 50)
    roc = hv.Curve((x, y), kd, vd, label="ROC curve").opts(color="#d62728", line_width=2)
    diag = hv.Curve((grid, grid), kd, vd, label="random").opts(color="#999999", line_dash="dotted")
    e = efficiency
    point = hv.Points(
        [(fpr, e.value, e.lower, e.upper)],
        [kd, vd],
        [
            hv.Dimension("eff_lo", label="eff. CP lower"),
            hv.Dimension("eff_hi", label="eff. CP upper"),
        ],
        label="operating point" if passes else "operating point (FPR < 1/N)",
    ).opts(color="black", size=10, marker="circle" if passes else "triangle")
    xlim = (curve.min_resolvable_fpr, 1.0) if log_x else (0.0, 1.0)
    axes = {"logx": log_x, "xlim": xlim, "ylim": (0.0, 1.02)}
    roc = roc.opts(**axes)
    diag = diag.opts(**axes)
    point = point.opts(tools=["hover"], **axes)
    return (roc * diag * point).opts(
        title=f"ROC: {signal_name}, AUC = {curve.auc:.3f}",
        width=480,
        height=360,
        legend_position="bottom_right",
        toolbar="above",
        **axes,
    )
