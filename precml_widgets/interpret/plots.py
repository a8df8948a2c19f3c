"""HoloViews figures of an explanation: SHAP beeswarm, dependence and waterfall; the active
subspace's eigenvalue spectrum with bootstrap bands, its loadings (standardised or physics
features), its activity scores beside mean ``|φ|``, and the 2-D projection.

Pure functions of finished results (:class:`~precml_widgets.interpret.ShapResult`,
:class:`~precml_widgets.interpret.ActiveSubspace`): no Panel, no computation beyond slicing and
ordering what the results hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_choice, require_int
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.interpret.active_subspace import ActiveSubspace
from precml_widgets.interpret.shap_values import ShapResult

if TYPE_CHECKING:
    import holoviews as hv

__all__ = [
    "JITTER",
    "activity_plot",
    "beeswarm_plot",
    "dependence_plot",
    "loadings_plot",
    "projection_plot",
    "spectrum_plot",
    "waterfall_plot",
]

#: Half-height of a beeswarm row's vertical jitter (rows are one unit apart).
JITTER = 0.3
#: Positive contributions red, negative blue (shap's convention).
_POSITIVE, _NEGATIVE = "#d62728", "#1f77b4"


def _hv() -> Any:
    hv = require("holoviews", "widgets", "interpretability plots")
    require("holoviews.plotting.bokeh", "widgets", "interpretability plots")
    return hv


def _feature(result: ShapResult, feature: int, name: str) -> int:
    return require_int(name, feature, low=0, high=len(result.feature_names) - 1)


def _label(names: tuple[str, ...], units: tuple[str, ...], i: int) -> str:
    return f"{names[i]} [{units[i]}]" if units[i] else names[i]


def _value_rank(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Each column's values as ranks in [0, 1] (a colour scale robust to outliers), (n, d)."""
    ranks = np.argsort(np.argsort(x, axis=0, kind="stable"), axis=0, kind="stable")
    return ranks / max(x.shape[0] - 1, 1)


def beeswarm_plot(result: ShapResult, *, seed: int = 0) -> hv.Points:
    """φ of every event and feature, one row per feature ordered by mean ``|φ|`` (largest on top),
    with a seeded vertical jitter, coloured by the feature's value (rank within the events).

    The points' ``phi`` column is ``result.values[:, result.order()]`` flattened row by row
    (event-major), so a test can compare them with the result.
    """
    hv = _hv()
    order = result.order()
    n, d = result.values.shape
    phi = result.values[:, order]
    rows = np.broadcast_to(np.arange(d)[::-1], (n, d)).astype(float)
    jitter = np.random.default_rng(seed).uniform(-JITTER, JITTER, size=(n, d))
    value = _value_rank(result.data)[:, order]
    names = [result.feature_names[i] for i in order]
    feature = np.broadcast_to(np.array(names, dtype=object), (n, d))
    table = {
        "phi": phi.ravel(),
        "row": (rows + jitter).ravel(),
        "value": value.ravel(),
        "feature": feature.ravel(),
    }
    ticks = [(d - 1 - k, name) for k, name in enumerate(names)]
    return hv.Points(table, ["phi", "row"], ["value", "feature"]).opts(
        color="value",
        cmap="coolwarm",
        colorbar=True,
        clim=(0.0, 1.0),
        size=3,
        alpha=0.6,
        yticks=ticks,
        ylim=(-0.6, d - 0.4),
        xlabel=f"SHAP value φ of {result.model_name} (colour: feature value, low → high)",
        ylabel="",
        title=f"SHAP per feature, ordered by mean |φ| ({result.explainer}, {n} events)",
        tools=["hover"],
        width=540,
        height=360,
    )


def dependence_plot(result: ShapResult, feature: int, color_by: int) -> hv.Points:
    """φ of ``feature`` against that feature's value for every event, coloured by the value of
    ``color_by`` (0-based indices)."""
    hv = _hv()
    i, j = _feature(result, feature, "feature"), _feature(result, color_by, "color_by")
    names, units = result.feature_names, result.units
    x_dim = hv.Dimension("x", label=_label(names, units, i))
    phi_dim = hv.Dimension("phi", label=f"φ of {names[i]}")
    c_dim = hv.Dimension("c", label=_label(names, units, j))
    table = {"x": result.data[:, i], "phi": result.values[:, i], "c": result.data[:, j]}
    return hv.Points(table, [x_dim, phi_dim], [c_dim]).opts(
        color="c",
        cmap="viridis",
        colorbar=True,
        size=4,
        alpha=0.7,
        title=f"dependence of φ({names[i]}) on {names[i]}, colour: {names[j]}",
        tools=["hover"],
        width=540,
        height=330,
    )


def waterfall_plot(result: ShapResult, event: int) -> hv.Overlay:
    """One event's explanation: from the base value, each feature's φ as a horizontal bar
    (largest ``|φ|`` on top, red up, blue down) ending at the model output f(x).

    The bars' signed widths ``x1 - x0`` are the event's φ in the drawn order, so they add up
    to f(x) - base within the result's additivity error (times its output scale).
    """
    hv = _hv()
    k = require_int("event", event, low=0, high=result.values.shape[0] - 1)
    phi = result.values[k]
    order = np.argsort(-np.abs(phi), kind="stable")
    base = float(result.base_values[k])
    ends = base + np.cumsum(phi[order])
    starts = np.concatenate([[base], ends[:-1]])
    d = phi.size
    y = np.arange(d)[::-1].astype(float)
    sign = np.where(phi[order] >= 0, "up", "down")
    bars = hv.Rectangles(
        {
            "x0": starts,
            "y0": y - 0.4,
            "x1": ends,
            "y1": y + 0.4,
            "phi": phi[order],
            "sign": sign,
        },
        vdims=["phi", "sign"],
    ).opts(
        color="sign",
        cmap={"up": _POSITIVE, "down": _NEGATIVE},
        line_color=None,
        tools=["hover"],
    )
    f = float(result.model_output[k])
    ticks = [(d - 1 - r, f"{result.feature_names[i]} = {result.data[k, i]:.3g}")
             for r, i in enumerate(order)]  # fmt: skip
    total = float(phi.sum())
    # Σφ = f(x) - base only as far as the explainer is additive: the gap is shown when it
    # exceeds float64 rounding of the terms (e.g. an approximate gradient explainer)
    gap = total - (f - base)
    rounding = 64 * np.finfo(float).eps * (abs(f) + abs(base) + float(np.abs(phi).sum()))
    title = f"event {k}: f(x) - base = {f - base:.4g}, Σφ = {total:.4g}"
    if abs(gap) > rounding:
        title += f" (gap {gap:.2g})"
    return (
        bars
        * hv.VLine(base).opts(color="#777777", line_dash="dotted")
        * hv.VLine(f).opts(color="black", line_dash="dashed")
    ).opts(
        yticks=ticks,
        ylim=(-0.6, d - 0.4),
        xlabel=f"score (dotted: base {base:.4g}, dashed: f(x) = {f:.4g})",
        ylabel="",
        title=title,
        show_legend=False,
        width=540,
        height=330,
    )


def spectrum_plot(subspace: ActiveSubspace) -> hv.Overlay:
    """The eigenvalues of C = E[∇f ∇fᵀ] (standardised features) with their bootstrap bands,
    on a log axis (values below 1e-12 of the largest are drawn at that floor)."""
    hv = _hv()
    values = subspace.eigenvalues
    floor = max(float(values[0]), 1e-300) * 1e-12
    shown = np.maximum(values, floor)
    low, high = np.maximum(subspace.eigenvalue_bands, floor)
    k = np.arange(1, values.size + 1)
    kdim = hv.Dimension("k", label="eigenvalue index")
    vdim = hv.Dimension("lambda", label="eigenvalue λ (score² per σ²)")
    return (
        hv.ErrorBars((k, shown, shown - low, high - shown), kdim, [vdim, "minus", "plus"]).opts(
            color="#d62728", line_width=2
        )
        * hv.Curve((k, shown), kdim, vdim).opts(color="#1f77b4")
        * hv.Scatter((k, shown), kdim, vdim).opts(color="#1f77b4", size=6)
    ).opts(
        logy=True,
        title=(
            f"active-subspace spectrum, {subspace.band_level:.0%} bootstrap bands "
            f"({subspace.n_bootstrap} resamples)"
        ),
        width=400,
        height=330,
    )


def loadings_plot(
    subspace: ActiveSubspace, n_directions: int = 2, *, basis: str = "standardised"
) -> hv.Bars:
    """The loadings of the first ``n_directions`` eigenvectors on each feature: in the
    standardised features z (``subspace.eigenvectors``) or, with ``basis="physics"``, in the
    physics features x (``subspace.directions_physical``, each column of unit norm; its
    components are per unit of each feature, so their relative sizes depend on the units)."""
    hv = _hv()
    n_directions = require_int("n_directions", n_directions, low=1, high=len(subspace.eigenvalues))
    basis = require_choice("basis", basis, ("standardised", "physics"))
    w = subspace.eigenvectors if basis == "standardised" else subspace.directions_physical
    rows = [
        (name, f"w{j + 1}", float(w[i, j]))
        for i, name in enumerate(subspace.feature_names)
        for j in range(n_directions)
    ]
    return hv.Bars(rows, ["feature", "direction"], "loading").opts(
        title=(
            f"loadings of the first {n_directions} directions ({basis} features)"
            if basis == "standardised"
            else f"first {n_directions} directions per unit of each feature (unit-dependent)"
        ),
        multi_level=False,
        color="direction",
        cmap=["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"],
        tools=["hover"],
        width=400,
        height=330,
    )


def activity_plot(result: ShapResult, subspace: ActiveSubspace) -> hv.Bars:
    """Per feature, the active subspace's activity score beside the mean ``|φ|``, each divided
    by its largest value so both share one axis, features in decreasing mean ``|φ|`` order.

    Two global importances from different principles: mean ``|φ|`` averages each feature's
    attribution from a background; the activity score sums the first ``n_active`` eigenvalues
    weighted by the feature's squared loadings (a gradient-based importance).

    References:
        Constantine & Diaz, arXiv:1510.04361 (activity scores); Lundberg & Lee,
        arXiv:1705.07874 (SHAP).
    """
    hv = _hv()
    order, mean_abs = result.order(), result.mean_abs()
    shap_share = mean_abs / max(float(mean_abs.max()), 1e-300)
    activity = subspace.activity_scores / max(float(subspace.activity_scores.max()), 1e-300)
    rows = [
        (result.feature_names[i], measure, float(values[i]))
        for i in order
        for measure, values in (("mean |φ|", shap_share), ("activity", activity))
    ]
    return hv.Bars(rows, ["feature", "measure"], "relative").opts(
        title=f"mean |φ| beside activity score (k = {subspace.n_active}), each / its max",
        multi_level=False,
        color="measure",
        cmap=["#7f7f7f", "#9467bd"],
        ylabel="relative importance",
        tools=["hover"],
        width=540,
        height=330,
    )


def projection_plot(
    subspace: ActiveSubspace, colour: npt.ArrayLike, *, by: str = "score"
) -> hv.Points:
    """The events projected on the first two active directions, coloured by ``colour`` (n,):
    the class of each event (``by="class"``) or its score (``by="score"``)."""
    hv = _hv()
    require_choice("by", by, ("class", "score"))
    z = subspace.projection
    c = np.asarray(colour)
    if c.shape != (z.shape[0],):
        raise InvalidInputError(
            f"colour must have shape ({z.shape[0]},) (one value per projected event), got "
            f"{c.shape}; pass the events' classes or scores."
        )
    if by == "class":
        c = np.array([f"class {int(v)}" for v in c], dtype=object)
        style: dict[str, Any] = {"cmap": ["#1f77b4", "#d62728", "#2ca02c"], "show_legend": True}
    else:
        c = c.astype(float)
        style = {"cmap": "viridis", "colorbar": True}
    return hv.Points({"u1": z[:, 0], "u2": z[:, 1], by: c}, ["u1", "u2"], [by]).opts(
        color=by,
        size=3,
        alpha=0.6,
        xlabel="w1 · z (first active direction)",
        ylabel="w2 · z (second)",
        title=f"events on the first two active directions, colour: {by}",
        width=400,
        height=330,
        **style,
    )
