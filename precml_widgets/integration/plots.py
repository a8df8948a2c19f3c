"""HoloViews figures of an integration comparison: convergence, weight tails, projections.

The ``*_marks`` functions give the changes that move a drawn figure to a new quantile or
projection (:class:`~precml_widgets.live.PartUpdate`): a live view draws each figure once
and moves only its lines and images (:class:`~precml_widgets.live.LiveParts`).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.integration.study import Comparison
from precml_widgets.live import PartUpdate

if TYPE_CHECKING:
    import holoviews as hv

__all__ = [
    "COLORS",
    "PROJECTION_CACHE_SIZE",
    "SHARED_PROJECTIONS",
    "Projection",
    "WeightHistograms",
    "convergence_plot",
    "projection_image",
    "projection_marks",
    "projection_plot",
    "projections",
    "shared_projections",
    "w_max_positions",
    "weight_histogram",
    "weight_histograms",
    "weight_marks",
]

#: One colour per method, the same in every figure.
COLORS = {"flow": "#d62728", "VEGAS+": "#1f77b4", "VEGAS": "#7f7f7f", "exact": "#2ca02c"}


def _hv() -> Any:
    """HoloViews with its Bokeh backend registered (options only, no notebook output)."""
    hv = require("holoviews", "widgets", "integration plots")
    require("holoviews.plotting.bokeh", "widgets", "integration plots")
    return hv


def convergence_plot(comparison: Comparison) -> hv.Overlay:
    """Per-iteration estimates (relative to the exact value) against integrand calls.

    Each method's iterations are drawn with their errors; the final estimates sit at the
    right-hand end with theirs. Without an exact value, the reference is VEGAS+'s estimate.
    """
    hv = _hv()
    exact = comparison.integrand.exact
    reference = "exact"
    if exact is None:  # a user's integrand: relative to VEGAS+'s final estimate
        exact, reference = comparison.results["VEGAS+"].estimate, "VEGAS+"
    ylabel = f"estimate / {reference} - 1"
    layers = [hv.HLine(0.0).opts(color=COLORS["exact"], line_dash="dashed")]
    for method, result in comparison.results.items():
        calls = np.array([r.calls for r in result.history], dtype=float)
        rel = np.array([r.estimate / exact - 1 for r in result.history])
        err = np.array([r.error / exact for r in result.history])
        label = f"{method} iterations"
        layers.append(
            hv.Curve((calls, rel), "integrand calls", ylabel, label=label).opts(
                color=COLORS[method], alpha=0.6
            )
        )
        layers.append(
            hv.ErrorBars((calls, rel, err), "integrand calls", [ylabel, "error"]).opts(
                color=COLORS[method], alpha=0.6
            )
        )
        final = (result.calls, result.estimate / exact - 1, result.error / exact)
        layers.append(
            hv.Scatter([final[:2]], "integrand calls", ylabel, label=f"{method}").opts(
                color=COLORS[method], size=9, marker="diamond"
            )
        )
        layers.append(
            hv.ErrorBars([final], "integrand calls", [ylabel, "error"]).opts(
                color=COLORS[method], line_width=2
            )
        )
    overlay = hv.Overlay(layers).opts(
        title=f"{comparison.integrand.name}: convergence ({reference} = {exact:.6g})",
        xlabel="integrand calls",
        ylabel=ylabel,
        legend_position="top_right",
        responsive=True,
        height=320,
        logx=True,
    )
    return overlay


@dataclass(frozen=True)
class WeightHistograms:
    """The binned ``w / <w>`` of every method: what :func:`weight_histogram` draws.

    Computed once per comparison (:func:`weight_histograms`); a quantile slider then only moves
    the ``w_max`` lines (the histograms do not depend on the quantile).

    Attributes:
        edges: ``(61,)`` log-spaced bin edges of ``w / <w>`` (dimensionless), shared by all.
        counts: per method, ``(60,)`` events per bin.
    """

    edges: np.ndarray
    counts: dict[str, np.ndarray]

    @property
    def centres(self) -> np.ndarray:
        """``(60,)`` geometric bin centres (the steps are drawn at these)."""
        return np.sqrt(self.edges[1:] * self.edges[:-1])


def weight_histograms(comparison: Comparison, bins: int = 60) -> WeightHistograms:
    """Histogram ``w / <w>`` of each method's diagnostic events on one log-spaced binning.

    Args:
        comparison: a finished comparison (its ``diagnostics``: ``N`` events per method).
        bins: number of bins between the smallest positive and the largest ``w / <w>``.

    Example:
        >>> import numpy as np
        >>> from types import SimpleNamespace
        >>> from precml_widgets.integration.result import WeightedEvents
        >>> ev = WeightedEvents(np.zeros((4, 1)), np.array([1.0, 1.0, 2.0, 4.0]))
        >>> h = weight_histograms(SimpleNamespace(diagnostics={"flow": ev}), bins=3)
        >>> h.counts["flow"].tolist(), len(h.edges)
        ([2, 1, 1], 4)
    """
    all_w = {m: ev.weights / ev.weights.mean() for m, ev in comparison.diagnostics.items()}
    positive = np.concatenate([w[w > 0] for w in all_w.values()])
    edges = np.logspace(np.log10(positive.min()), np.log10(positive.max()) + 1e-9, bins + 1)
    counts = {m: np.histogram(w, bins=edges)[0] for m, w in all_w.items()}
    return WeightHistograms(edges=edges, counts=counts)


def w_max_positions(comparison: Comparison, quantile: float) -> dict[str, float]:
    """Where each method's ``w_max`` line sits: its ``quantile`` of ``w``, over ``<w>``.

    Args:
        comparison: a finished comparison (its diagnostic events).
        quantile: the quantile of the weights used as ``w_max`` (0.9 to 1).

    Returns:
        ``{method: w_max / <w>}`` (dimensionless, the x axis of :func:`weight_histogram`).
    """
    return {
        method: float(events.w_max(quantile) / events.weights.mean())
        for method, events in comparison.diagnostics.items()
    }


def _weights_title(quantile: float) -> str:
    return f"weights (dotted: {quantile:.1%} quantile)"


def _untagged(element: Any, name: str) -> Any:
    return element


def weight_histogram(
    comparison: Comparison,
    quantile: float = 0.999,
    histograms: WeightHistograms | None = None,
    tag: Callable[[Any, str], Any] = _untagged,
) -> hv.Overlay:
    """Distribution of ``w / <w>`` on log axes per method; the tail is where samplers fail.

    Vertical lines mark each method's ``w_max`` at the chosen quantile.

    Args:
        comparison: a finished comparison.
        quantile: the quantile of the weights drawn as ``w_max`` (0.9 to 1).
        histograms: :func:`weight_histograms` of ``comparison``, when already computed.
        tag: called as ``tag(line, "w_max:<method>")`` on each ``w_max`` line (e.g.
            :meth:`~precml_widgets.live.LiveParts.tag`, so that :func:`weight_marks` can
            move it in place); returns the element to draw.
    """
    hv = _hv()
    if histograms is None:
        histograms = weight_histograms(comparison)
    centres = histograms.centres
    positions = w_max_positions(comparison, quantile)
    layers = []
    for method in comparison.diagnostics:
        counts = histograms.counts[method]
        # steps on log axes: empty bins drawn at 0.5 so that the line stays on the plot
        layers.append(
            hv.Curve((centres, np.maximum(counts, 0.5)), "w / <w>", "events", label=method).opts(
                interpolation="steps-mid", color=COLORS[method], line_width=2
            )
        )
        line = hv.VLine(positions[method]).opts(color=COLORS[method], line_dash="dotted")
        layers.append(tag(line, f"w_max:{method}"))
    return hv.Overlay(layers).opts(
        title=_weights_title(quantile),
        xlabel="w / <w>",
        ylabel="events",
        ylim=(0.5, None),
        logx=True,
        logy=True,
        responsive=True,
        height=320,
        legend_position="top_left",
    )


def weight_marks(comparison: Comparison, quantile: float) -> dict[str, PartUpdate]:
    """The changes that move a drawn :func:`weight_histogram` to ``quantile``.

    Returns:
        ``{"w_max:<method>": PartUpdate}``: each line's position, and the title (on the
        figure the lines share).
    """
    return {
        f"w_max:{method}": PartUpdate(location=x, title=_weights_title(quantile))
        for method, x in w_max_positions(comparison, quantile).items()
    }


@dataclass(frozen=True)
class Projection:
    """A 2D histogram of unweighted events: what one image of :func:`projection_plot` draws.

    Attributes:
        label: the method (or ``"exact"`` for the integrand's own sampler).
        dims: the two projected coordinates ``(x, y)``.
        counts: ``(bins, bins)`` events per bin, indexed ``[y bin, x bin]`` (read-only).
        events: number of events histogrammed.
    """

    label: str
    dims: tuple[int, int]
    counts: np.ndarray
    events: int

    @property
    def title(self) -> str:
        """The image's title: the label and the number of events."""
        return f"{self.label} ({self.events} events)"

    @property
    def axis_labels(self) -> tuple[str, str]:
        """``("x<i>", "x<j>")`` for the projected coordinates."""
        return f"x{self.dims[0]}", f"x{self.dims[1]}"

    @property
    def color_range(self) -> tuple[float, float]:
        """``(min, max)`` of the counts: each image's own colour scale."""
        return float(self.counts.min()), float(self.counts.max())


def projections(
    comparison: Comparison,
    dims: tuple[int, int] = (0, 1),
    quantile: float | None = None,
    bins: int = 40,
) -> tuple[Projection, ...]:
    """Histogram the unweighted events of each method (and exact samples when available).

    Args:
        comparison: a finished comparison.
        dims: two different coordinates in ``0..dim-1``.
        quantile: the quantile of the weights used as ``w_max`` (``None``: the maximum).
        bins: bins per axis on ``[0, 1]``.

    Raises:
        InvalidInputError: if ``dims`` are not two different coordinates of the integrand.
    """
    dim = comparison.integrand.dim
    if len(set(dims)) != 2 or not all(0 <= d < dim for d in dims):
        raise InvalidInputError(
            f"dims must be two different coordinates in 0..{dim - 1}, got {dims}."
        )
    edges = np.linspace(0.0, 1.0, bins + 1)
    samples = {m: comparison.unweighted(m, quantile).x for m in comparison.results}
    if comparison.integrand.sampler is not None:
        n = max(len(x) for x in samples.values())
        rng = np.random.default_rng(comparison.config.seed)
        samples["exact"] = comparison.integrand.sampler(n, rng)
    drawn = []
    for label, x in samples.items():
        counts, _, _ = np.histogram2d(x[:, dims[0]], x[:, dims[1]], bins=[edges, edges])
        counts = np.ascontiguousarray(counts.T)
        counts.flags.writeable = False  # shared by every session (SHARED_PROJECTIONS)
        drawn.append(Projection(label, (int(dims[0]), int(dims[1])), counts, len(x)))
    return tuple(drawn)


def projection_image(
    projection: Projection, name: str = "", tag: Callable[[Any, str], Any] = _untagged
) -> hv.Image:
    """One image of :func:`projection_plot`; ``tag(image, name)`` as in :func:`weight_histogram`."""
    hv = _hv()
    bins = projection.counts.shape[0]
    centres = (np.arange(bins) + 0.5) / bins
    image = hv.Image(
        (centres, centres, projection.counts), list(projection.axis_labels), "events"
    ).opts(
        title=projection.title,
        cmap="viridis",
        width=230,
        height=230,
        framewise=True,  # the colour range of this image's counts
        xlim=(0, 1),
        ylim=(0, 1),
    )
    return tag(image, name)


def projection_plot(
    comparison: Comparison,
    dims: tuple[int, int] = (0, 1),
    quantile: float | None = None,
    bins: int = 40,
) -> hv.Layout:
    """2D histograms of unweighted events per method, beside exact samples when available
    (:func:`projections`)."""
    hv = _hv()
    return hv.Layout(
        [projection_image(p) for p in projections(comparison, dims, quantile, bins)]
    ).cols(4)


def projection_marks(
    comparison: Comparison, quantile: float, dims: tuple[int, int]
) -> dict[str, PartUpdate]:
    """The changes that move drawn projection images (named ``"projection:<i>"``, in the
    order of :func:`projections`) to ``quantile`` and ``dims``: counts, title, axis labels
    and colour range of each."""
    return {
        f"projection:{i}": PartUpdate(
            columns={"image": [p.counts]},
            title=p.title,
            axis_labels=p.axis_labels,
            color_range=p.color_range,
        )
        for i, p in enumerate(shared_projections(comparison, quantile, dims))
    }


#: Projections by ``(id(comparison), quantile, dims)``, shared by every session of a
#: server (the served sessions share one starter comparison): a slider value that any session
#: drew is a look-up for the others. An entry holds a weak reference to its comparison: it
#: never keeps a comparison alive, and a new comparison that reuses an id is not a hit.
#: Read and written under a lock: sessions may run on Panel's thread pool (``nthreads``).
SHARED_PROJECTIONS: OrderedDict[tuple, tuple[weakref.ref, tuple[Projection, ...]]] = OrderedDict()
PROJECTION_CACHE_SIZE = 256
_PROJECTIONS_LOCK = threading.Lock()


def shared_projections(
    comparison: Comparison, quantile: float, dims: tuple[int, int]
) -> tuple[Projection, ...]:
    """:func:`projections` of a comparison, cached in :data:`SHARED_PROJECTIONS`.

    Args:
        comparison: a finished comparison.
        quantile: the quantile of the weights used as ``w_max`` (0.9 to 1).
        dims: the two projected coordinates.

    Returns:
        The same (read-only) projections for the same arguments while cached.
    """
    key = (id(comparison), float(quantile), tuple(dims))
    with _PROJECTIONS_LOCK:
        hit = SHARED_PROJECTIONS.get(key)
        if hit is not None and hit[0]() is comparison:
            SHARED_PROJECTIONS.move_to_end(key)
            return hit[1]
    # computed outside the lock (other sessions' look-ups do not wait); two sessions computing
    # the same key at once both compute it and the last one's result is kept
    hit = (weakref.ref(comparison), projections(comparison, dims, quantile=quantile))
    with _PROJECTIONS_LOCK:
        SHARED_PROJECTIONS[key] = hit
        SHARED_PROJECTIONS.move_to_end(key)
        while len(SHARED_PROJECTIONS) > PROJECTION_CACHE_SIZE:
            SHARED_PROJECTIONS.popitem(last=False)
    return hit[1]
