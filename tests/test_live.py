"""LiveParts: the Bokeh models of tagged HoloViews elements, changed in place."""

from __future__ import annotations

import gc

import numpy as np
import pytest

hv = pytest.importorskip("holoviews")
pytest.importorskip("holoviews.plotting.bokeh")

from bokeh.models import Span  # noqa: E402

from precml_widgets.live import LiveParts, PartUpdate  # noqa: E402


def _spans(figure) -> list[float]:
    return [r.location for r in figure.renderers if isinstance(r, Span)]


def test_a_tagged_line_moves_in_every_drawing_and_later_drawings_start_moved():
    live = LiveParts()
    line = live.tag(hv.VLine(0.5).opts(color="red"), "cut")
    first = hv.render(hv.Curve([0, 1]) * line)
    second = hv.render(hv.Curve([0, 1]) * line)
    assert live.drawings("cut") == 2
    assert live.update("cut", PartUpdate(location=0.8)) == 2
    assert _spans(first) == _spans(second) == [0.8]
    third = hv.render(hv.Curve([0, 1]) * line)  # drawn after the move: starts moved
    assert _spans(third) == [0.8]
    assert line.opts.get("style").kwargs["color"] == "red"  # its own options are kept


def test_columns_title_axis_labels_and_colour_range_of_an_image():
    live = LiveParts()
    xs, ys = np.linspace(0.125, 0.875, 4), np.linspace(1 / 6, 5 / 6, 3)
    image = hv.Image((xs, ys, np.zeros((3, 4))), ["a", "b"], "z").opts(title="old")
    figure = hv.render(live.tag(image, "img"))
    new = np.arange(12.0).reshape(3, 4)
    live.update(
        "img",
        PartUpdate(
            columns={"image": [new]}, title="new", axis_labels=("u", "v"), color_range=(1, 11)
        ),
    )
    (renderer,) = figure.renderers
    np.testing.assert_array_equal(renderer.data_source.data["image"][0], new)
    assert renderer.data_source.data["dw"] == [1.0]  # the other columns are kept
    assert figure.title.text == "new"
    assert (figure.xaxis[0].axis_label, figure.yaxis[0].axis_label) == ("u", "v")
    mapper = renderer.glyph.color_mapper
    assert (mapper.low, mapper.high) == (1.0, 11.0)


def test_glyph_properties_of_a_marker():
    live = LiveParts()
    figure = hv.render(live.tag(hv.Points([(0.1, 0.2)]).opts(marker="circle"), "m"))
    live.update("m", PartUpdate(columns={"x": [0.3], "y": [0.4]}, glyph={"marker": "triangle"}))
    (renderer,) = figure.renderers
    assert renderer.glyph.marker == "triangle"
    assert list(renderer.data_source.data["x"]) == [0.3]


def test_an_update_pushes_each_plot(monkeypatch):
    from holoviews.plotting.bokeh.element import ElementPlot

    pushed = []
    monkeypatch.setattr(ElementPlot, "push", lambda self: pushed.append(self))
    live = LiveParts()
    figure = hv.render(hv.Curve([0, 1]) * live.tag(hv.VLine(0.5), "cut"))
    assert live.update("cut", PartUpdate(location=0.1)) == 1 and len(pushed) == 1
    assert _spans(figure) == [0.1]


def test_closed_drawings_are_not_kept():
    """Plots are held weakly: a closed session's figures are freed (a fake plot stands in
    for one; ``hv.render`` itself keeps its document alive in a test process)."""

    class FakePlot:
        def __init__(self) -> None:
            self.handles = {"glyph": Span(location=0.0)}
            self.pushes = 0

        def push(self) -> None:
            self.pushes += 1

    live = LiveParts()
    (hook,) = live.tag(hv.VLine(0.5), "cut").opts.get("plot").kwargs["hooks"]
    plot = FakePlot()
    hook(plot, None)
    assert live.update("cut", PartUpdate(location=0.3)) == 1
    assert plot.handles["glyph"].location == 0.3 and plot.pushes == 1
    del plot
    gc.collect()
    assert live.drawings("cut") == 0
    assert live.update("cut", PartUpdate(location=0.2)) == 0


def test_forget_drops_the_named_parts_and_their_last_state():
    live = LiveParts()
    a = live.tag(hv.VLine(0.5), "w:a")
    b = live.tag(hv.VLine(0.5), "p:b")
    keep = [hv.render(hv.Curve([0, 1]) * a), hv.render(hv.Curve([0, 1]) * b)]
    live.update("w:a", PartUpdate(location=0.9))
    live.forget("w:")
    assert live.drawings("w:a") == 0 and live.drawings("p:b") == 1
    again = hv.render(hv.Curve([0, 1]) * a)
    assert _spans(again) == [0.5]  # no stale state replayed
    assert keep


def test_in_a_notebook_a_change_reaches_the_front_end_through_the_comm():
    """A notebook has no server session to send model changes: the update must push them
    through the plot's comm (rendered as Panel renders a notebook cell: document held)."""
    import panel as pn
    from bokeh.document import Document
    from pyviz_comms import Comm

    class RecordingComm(Comm):
        def __init__(self) -> None:
            super().__init__()
            self._comm = True  # open
            self.sent: list = []

        def send(self, data=None, metadata=None, buffers=None) -> None:
            self.sent.append(data)

    live = LiveParts()
    pane = pn.pane.HoloViews(hv.Curve([0, 1]) * live.tag(hv.VLine(0.5), "cut"))
    comm, doc = RecordingComm(), Document()
    root = pane.get_root(doc, comm)
    doc.add_root(root)
    doc.hold()
    (span,) = root.select({"type": Span})
    live.update("cut", PartUpdate(location=0.8125))
    text = " ".join(str(d) for d in comm.sent if d)
    assert span.id in text and '"new":0.8125' in text
