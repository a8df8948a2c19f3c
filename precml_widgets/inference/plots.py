"""HoloViews figures of the SMEFT inference: ratio maps, expected regions and toy posteriors.

Pure functions of finished core results (:func:`~precml_widgets.inference.ratio_map`'s arrays,
:func:`~precml_widgets.inference.q_grid`'s grids, a
:class:`~precml_widgets.inference.PosteriorStudy`): no Panel, no computation beyond a
subtraction, a luminosity scale and contour lines of what the results hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_real
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.study import PosteriorStudy
from precml_widgets.live import PartUpdate

if TYPE_CHECKING:
    import holoviews as hv

__all__ = [
    "LIKELIHOOD_COLOURS",
    "MARK_PART",
    "RATIO_PARTS",
    "SQRT_S_LABEL",
    "QGrid",
    "posterior_plot",
    "ratio_marks",
    "ratio_panels",
    "ratio_plot",
    "region_marks",
    "region_plot",
]

Array = npt.NDArray[np.float64]
#: A likelihood's ``q`` on a grid: ``((x_axis, y_axis), values)`` as :func:`q_grid` returns it.
QGrid = tuple[tuple[Array, Array], Array]
#: Axis label of the centre-of-mass energy.
SQRT_S_LABEL = "√s [GeV]"
#: Line colour per likelihood label; other labels cycle through :data:`_EXTRA`.
LIKELIHOOD_COLOURS: dict[str, str] = {
    "exact": "#000000",
    "binned": "#1f77b4",
    "quadratic": "#d62728",
    "plain": "#2ca02c",
}
_EXTRA = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
#: Dash per confidence level: 68 % solid, 95 % dashed.
_DASH = {0.68: "solid", 0.95: "dashed"}
_SIZE = {"width": 310, "height": 260}
_POSTERIOR_SIZE = {"width": 240, "height": 250}
#: Live-part names of :func:`ratio_panels`' three images, in its order.
RATIO_PARTS = ("ratio:exact", "ratio:learned", "ratio:difference")
#: Live-part name of :func:`region_plot`'s mark of the shown coefficients.
MARK_PART = "region:mark"


def _untagged(element: Any, name: str) -> Any:
    return element


def _hv() -> Any:
    hv = require("holoviews", "widgets", "inference plots")
    require("holoviews.plotting.bokeh", "widgets", "inference plots")
    return hv


def _grid(name: str, values: npt.ArrayLike, shape: tuple[int, int]) -> Array:
    v = np.asarray(values, dtype=np.float64)
    if v.shape != shape:
        raise InvalidInputError(
            f"{name} must have shape {shape} (one value per sqrt s and cos theta), got "
            f"{v.shape}; pass the arrays ratio_map returns for the same axes."
        )
    return v


def ratio_plot(
    sqrt_s: npt.ArrayLike,
    cos_theta: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    title: str,
    energies: Sequence[float] = (),
    clim: tuple[float, float] | None = None,
    cmap: str = "viridis",
    tag: Callable[[Any, str], Any] = _untagged,
    name: str = "",
) -> hv.Overlay:
    """One map over (sqrt s, cos theta) with the training energies as vertical lines.

    Args:
        sqrt_s: energies in GeV, shape (n_s,).
        cos_theta: cosines, shape (n_c,).
        values: the map, shape (n_s, n_c) (as :func:`ratio_map` returns it).
        title: the panel's title.
        energies: energies to mark, GeV (the measurement's, where the ratios were trained).
        clim: colour range; ``None``: the values' own.
        cmap: a Bokeh/Colorcet colour map name.
        tag: ``tag(image, name)`` marks the image as a live part
            (:meth:`~precml_widgets.live.LiveParts.tag`); by default nothing.
        name: the image's live-part name.
    """
    hv = _hv()
    s = np.asarray(sqrt_s, dtype=np.float64)
    c = np.asarray(cos_theta, dtype=np.float64)
    v = _grid("values", values, (s.size, c.size))
    image = hv.Image((s, c, v.T), kdims=[SQRT_S_LABEL, "cos θ"], vdims=["r"]).opts(
        title=title,
        cmap=cmap,
        colorbar=True,
        clim=clim or (None, None),
        tools=["hover"],
        xticks=4,  # the difference's wide colour-bar labels leave little room
        **_SIZE,
    )
    lines = hv.VLines(list(energies), kdims=[SQRT_S_LABEL]).opts(
        color="white", line_dash="dotted", line_width=1.5
    )
    return tag(image, name) * lines


def _ratio_maps(exact: Array, learned: Array) -> tuple[tuple[Array, ...], tuple[tuple, ...]]:
    """The three maps (exact, learned, learned - exact) and their colour ranges."""
    both = np.concatenate([exact.ravel(), learned.ravel()])
    clim = (float(np.nanmin(both)), float(np.nanmax(both)))
    diff = learned - exact
    span = float(np.nanmax(np.abs(diff))) or 1e-12
    return (exact, learned, diff), (clim, clim, (-span, span))


def ratio_panels(
    sqrt_s: npt.ArrayLike,
    cos_theta: npt.ArrayLike,
    exact: npt.ArrayLike,
    learned: npt.ArrayLike,
    *,
    label: str,
    energies: Sequence[float] = (),
    tag: Callable[[Any, str], Any] = _untagged,
) -> tuple[hv.Overlay, hv.Overlay, hv.Overlay]:
    """The exact and the learned ratio on a shared colour range, and learned minus exact.

    Args:
        sqrt_s: energies in GeV, shape (n_s,).
        cos_theta: cosines, shape (n_c,).
        exact: the exact ratio r(sqrt s, cos theta; C), shape (n_s, n_c).
        learned: the learned one, same shape.
        label: the learned model's name (titles).
        energies: training energies to mark, GeV.
        tag: ``tag(image, name)`` marks each image as a live part named as in
            :data:`RATIO_PARTS` (moved by :func:`ratio_marks`); by default nothing.

    Returns:
        ``(exact map, learned map, difference map)``; the difference on a symmetric range.
    """
    s, c = np.asarray(sqrt_s, dtype=np.float64), np.asarray(cos_theta, dtype=np.float64)
    e = _grid("exact", exact, (s.size, c.size))
    m = _grid("learned", learned, (s.size, c.size))
    maps, ranges = _ratio_maps(e, m)
    titles = ("exact r", f"learned r ({label})", f"{label} − exact")
    cmaps = ("viridis", "viridis", "RdBu_r")
    panels = [
        ratio_plot(s, c, v, title=t, energies=energies, clim=r, cmap=cm, tag=tag, name=part)
        for v, t, r, cm, part in zip(maps, titles, ranges, cmaps, RATIO_PARTS, strict=True)
    ]
    return panels[0], panels[1], panels[2]


def ratio_marks(exact: npt.ArrayLike, learned: npt.ArrayLike) -> dict[str, PartUpdate]:
    """The changes that move :func:`ratio_panels`' drawn images to new maps (same axes).

    Args:
        exact: the exact ratio, shape (n_s, n_c).
        learned: the learned one, same shape.

    Returns:
        ``{part name: PartUpdate}`` (names of :data:`RATIO_PARTS`): each image's values and
        colour range.
    """
    e = np.asarray(exact, dtype=np.float64)
    m = _grid("learned", learned, e.shape)
    maps, ranges = _ratio_maps(e, m)
    return {
        part: PartUpdate(columns={"image": [np.ascontiguousarray(v.T)]}, color_range=r)
        for part, v, r in zip(RATIO_PARTS, maps, ranges, strict=True)
    }


def region_plot(
    grids: Mapping[str, QGrid],
    thresholds: Mapping[float, float],
    *,
    luminosity: float = 1.0,
    current: Sequence[float] | None = None,
    names: Sequence[str] = ("C1", "C2"),
    tag: Callable[[Any, str], Any] = _untagged,
) -> hv.Overlay:
    """Expected regions at a luminosity factor: contours of ``luminosity * q`` at each threshold.

    The expected ``q`` grows linearly with a common luminosity factor, so the region at factor
    ``f`` is where ``f * q`` stays below the chi2 quantile of its confidence level.

    Args:
        grids: ``{likelihood label: q_grid(...)}`` at luminosity factor 1.
        thresholds: ``{confidence level: q on the boundary}`` (e.g. 0.68 -> 2.279, 0.95 ->
            5.991 for two coefficients).
        luminosity: the common factor on every measurement's integrated luminosity, > 0.
        current: the shown coefficients, marked with a cross (``None``: no mark).
        names: the two coefficients' names (axis labels).
        tag: ``tag(points, MARK_PART)`` marks the cross as a live part (moved by
            :func:`region_marks`); by default nothing.

    Returns:
        An overlay of one ``Contours`` per (label, level), labelled ``"<label> <cl> %"``.
    """
    hv = _hv()
    f = require_real(
        "luminosity", luminosity, low=0.0, low_open=True, hint="use e.g. 1 (as stated)."
    )
    kdims = [str(names[0]), str(names[1])]
    layers = []
    for k, (label, ((x, y), q)) in enumerate(grids.items()):
        scaled = f * np.asarray(q, dtype=np.float64)
        finite = np.isfinite(scaled)
        top = float(np.max(scaled[finite])) if finite.any() else 1.0
        scaled = np.where(finite, scaled, 10.0 * max(top, max(thresholds.values())))
        image = hv.Image((x, y, scaled.T), kdims=kdims, vdims=["q"])
        colour = LIKELIHOOD_COLOURS.get(label, _EXTRA[k % len(_EXTRA)])
        for cl, level in sorted(thresholds.items()):
            lines = hv.operation.contours(image, levels=[float(level)], overlaid=False)
            layers.append(
                lines.relabel(f"{label} {cl:.0%}").opts(
                    color=colour,
                    line_dash=_DASH.get(cl, "dotdash"),
                    line_width=4 if label == "exact" else 2,  # shows under a close binned one
                )
            )
    mark = [tuple(current)] if current is not None else []
    points = hv.Points(mark, kdims=kdims, label="shown C").opts(
        marker="x", size=14, color="#ff7f0e", line_width=3
    )
    layers.append(tag(points, MARK_PART))
    return hv.Overlay(layers).opts(
        title=f"expected regions, luminosity × {f:g}",
        legend_position="right",
        width=440,
        height=330,
        show_grid=True,
    )


def region_marks(current: Sequence[float], names: Sequence[str]) -> dict[str, PartUpdate]:
    """The change that moves :func:`region_plot`'s drawn cross to ``current`` (the two
    coefficients named ``names``).

    Example:
        >>> region_marks((0.1, -0.2), ("C_ll_1122", "C_le_1122"))[MARK_PART].columns
        {'C_ll_1122': [0.1], 'C_le_1122': [-0.2]}
    """
    return {
        MARK_PART: PartUpdate(
            columns={str(n): [float(v)] for n, v in zip(names, current, strict=True)}
        )
    }


def posterior_plot(study: PosteriorStudy, label: str) -> tuple[hv.Overlay, hv.Overlay]:
    """The exact and one learned posterior of the study's toy, truth marked.

    Args:
        study: a :class:`PosteriorStudy` of a two-coefficient problem.
        label: a learned likelihood's label in ``study.posteriors``.

    Returns:
        ``(exact, learned)``: images of the posterior mass per grid cell; the learned one's
        title carries its C2ST accuracy against the exact one.
    """
    hv = _hv()
    if label not in study.comparisons:
        raise InvalidInputError(
            f"label must name a learned posterior of the study {sorted(study.comparisons)}, got "
            f"{label!r}."
        )
    exact = study.posteriors["exact"]
    names = list(exact.problem.free)
    if len(names) != 2:
        raise InvalidInputError(
            f"posterior_plot draws two free coefficients, got {len(names)}; fix the others."
        )
    accuracy = study.comparisons[label].c2st_accuracy
    panels = []
    for key, title in (("exact", "exact posterior"), (label, f"{label}: C2ST {accuracy:.3f}")):
        grid = study.posteriors[key]
        image = hv.Image(
            (grid.axes[0], grid.axes[1], grid.probability.T), kdims=names, vdims=["mass"]
        ).opts(title=title, cmap="Blues", tools=["hover"], **_POSTERIOR_SIZE)
        truth = hv.Points([tuple(study.truth)], kdims=names).opts(
            marker="x", size=14, color="#ff7f0e", line_width=3
        )
        panels.append(image * truth)
    return panels[0], panels[1]
