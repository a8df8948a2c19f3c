"""Move the small parts of a drawn HoloViews plot in place, without a HoloViews redraw.

A slider that moves one line on a plot should cost the server a millisecond. Through a
HoloViews ``DynamicMap`` it costs 10-60 ms: every stream event re-evaluates the whole overlay,
recomputes its ranges and options and re-applies every layer. On a shared ``panel serve``
that is the whole story (Bokeh runs every session's callbacks on one thread): 20 students at
one move each per 2 s then queue for seconds.

:class:`LiveParts` keeps the figures HoloViews drew and changes only what moves. The figure
module tags an element (:meth:`LiveParts.tag`, HoloViews' public ``hooks`` option); when
HoloViews draws it, the hook records the element's plot. A view then sets the new values on
the recorded Bokeh models (:meth:`LiveParts.update`): a line's position, a glyph's data
columns or marker, a figure's title, a colour range. Panel sends the changed properties; in
a notebook, HoloViews' ``push`` sends them through the plot's comm.

The last update of each part is kept and re-applied to every later drawing of it (the same
pane displayed again, a page reloaded from a cached figure), so a drawing never shows a stale
state. Plots are held weakly: a closed session's figures are not kept alive.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LiveParts", "PartUpdate"]


@dataclass(frozen=True)
class PartUpdate:
    """What to change on a drawn element (``None``: leave as drawn).

    Attributes:
        location: position of a ``VLine`` / ``HLine`` (a Bokeh ``Span``), in data units.
        columns: new columns of the element's data source, ``{name: (n,) values}``; every
            column of the source keeps the same length (give them all when ``n`` changes).
        glyph: glyph properties, e.g. ``{"marker": "triangle"}``.
        title: the figure's title.
        axis_labels: ``(x, y)`` axis labels of the figure.
        color_range: ``(low, high)`` of the element's colour mapper.
    """

    location: float | None = None
    columns: dict[str, Any] | None = None
    glyph: dict[str, Any] | None = None
    title: str | None = None
    axis_labels: tuple[str, str] | None = None
    color_range: tuple[float, float] | None = None


@dataclass
class _Part:
    plots: weakref.WeakSet = field(default_factory=weakref.WeakSet)
    last: PartUpdate | None = None


class LiveParts:
    """Named elements of drawn HoloViews plots whose Bokeh models are changed in place.

    One instance per view (a session): its names are the view's own.

    Example:
        >>> import holoviews as hv
        >>> hv.extension("bokeh", logo=False)
        >>> live = LiveParts()
        >>> line = live.tag(hv.VLine(0.5), "cut")
        >>> figure = hv.render(hv.Curve([0, 1]) * line)
        >>> live.update("cut", PartUpdate(location=0.8))
        1
        >>> [r.location for r in figure.renderers if hasattr(r, "location")]
        [0.8]
    """

    def __init__(self) -> None:
        self._parts: dict[str, _Part] = {}
        self._lock = threading.Lock()

    def tag(self, element: Any, name: str) -> Any:
        """``element`` with a hook that records its plot under ``name`` when it is drawn.

        Args:
            element: a HoloViews element (not an overlay: tag its layers).
            name: the part's name; several elements (or drawings) may share one.

        Returns:
            A clone of ``element`` with the hook added to its own hooks.
        """
        hooks = list(element.opts.get("plot").kwargs.get("hooks", []))
        return element.opts(hooks=[*hooks, self._recorder(name)], clone=True)

    def update(self, name: str, change: PartUpdate) -> int:
        """Apply ``change`` to every live drawing of part ``name``, and keep it for later ones.

        Returns:
            The number of drawings changed (0 before the part is drawn).
        """
        with self._lock:
            part = self._parts.setdefault(name, _Part())
            part.last = change
            plots = list(part.plots)
        for plot in plots:
            _apply(plot, change)
            plot.push()  # a notebook's comm; nothing to do on a server (Panel sends)
        return len(plots)

    def drawings(self, name: str) -> int:
        """How many live drawings part ``name`` has."""
        with self._lock:
            part = self._parts.get(name)
            return 0 if part is None else len(part.plots)

    def forget(self, prefix: str = "") -> None:
        """Drop the parts whose names start with ``prefix`` (default: all) and their last
        updates: the view is about to draw new figures of them."""
        with self._lock:
            for name in [n for n in self._parts if n.startswith(prefix)]:
                del self._parts[name]

    def _recorder(self, name: str) -> Any:
        def record(plot: Any, element: Any) -> None:
            with self._lock:
                part = self._parts.setdefault(name, _Part())
                part.plots.add(plot)
                last = part.last
            if last is not None:  # a new drawing of a part that has moved since
                _apply(plot, last)

        return record


def _apply(plot: Any, change: PartUpdate) -> None:
    """Set ``change`` on the Bokeh models of one HoloViews element plot."""
    handles = plot.handles
    if change.location is not None:
        handles["glyph"].location = float(change.location)
    if change.columns is not None:
        source = handles["source"]
        source.data = {**source.data, **change.columns}
    if change.glyph is not None:
        handles["glyph"].update(**change.glyph)
    if change.title is not None:
        handles["plot"].title.text = change.title
    if change.axis_labels is not None:
        handles["xaxis"].axis_label, handles["yaxis"].axis_label = change.axis_labels
    if change.color_range is not None:
        low, high = change.color_range
        handles["color_mapper"].update(low=float(low), high=float(high))
