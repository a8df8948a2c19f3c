"""The dashboard of :class:`~precml_widgets.anomaly.explorer.AnomalyScoreExplorer`.

Controls on the left (score, signal, mode, target rate, a threshold slider per score, input
rate, confidence level, log scale, downloads), the two live plots, the status pane and the
efficiency table. Everything shown comes from the explorer's public methods.
"""

from __future__ import annotations

import io
from typing import Any, TypeAlias

from precml_widgets._optional import require
from precml_widgets.anomaly import plots
from precml_widgets.anomaly.trigger_state import EXPORT_KINDS
from precml_widgets.live import LiveParts
from precml_widgets.panel_compat import color_kwargs, label_kwargs

#: An :class:`~precml_widgets.anomaly.explorer.AnomalyScoreExplorer` (typed loosely: this
#: module must not import the explorer module, which imports it).
ExplorerLike: TypeAlias = Any

pn = require("panel", "widgets", "the anomaly-score explorer")
param = require("param", "widgets", "the anomaly-score explorer")

__all__ = [
    "READOUT_WIDTH",
    "PromptFloatSlider",
    "ReadoutInput",
    "ThresholdSlider",
    "ThresholdSliders",
    "controls",
    "dashboard",
    "plot_pane",
]


class PromptFloatSlider(pn.widgets.FloatSlider):
    """A float slider whose browser changes reach Python at once.

    Panel holds every browser change 50 ms (``_debounce``) to merge a burst; a slider sends
    one value per key press, and Panel still merges the values that arrive while a change
    is being processed, so a drag cannot pile up work. This takes 50 ms off each redraw.
    """

    _debounce = 0


class ReadoutInput(pn.widgets.FloatInput):
    """The typed-in value of :class:`ThresholdSlider`: a number without spin buttons.

    Panel's editable slider draws the spin buttons over the digits of its 70 px readout; the
    readout here has room for the digits and no buttons (the slider and the keys step).
    """

    def __init__(self, **params: Any) -> None:
        params["stylesheets"] = [*params.get("stylesheets", []), _READOUT_CSS]
        super().__init__(**params)


_READOUT_CSS = (
    ":host(.slider-edit) .bk-input-group .bk-spin-wrapper .bk-spin-btn { display: none; }"
)
#: Width in px of the threshold readout (8 significant digits in bold).
READOUT_WIDTH = 120


class ThresholdSlider(pn.widgets.EditableFloatSlider):
    """:class:`~panel.widgets.EditableFloatSlider` on a :class:`PromptFloatSlider`, with a
    :class:`ReadoutInput` of :data:`READOUT_WIDTH` px (Panel's is a quarter of the width)."""

    _slider_widget = PromptFloatSlider
    _input_widget = ReadoutInput

    def _update_layout(self) -> None:
        super()._update_layout()
        self._value_edit.width = READOUT_WIDTH


class ThresholdSliders:
    """The threshold slider of one dashboard, kept in step with the explorer.

    Slider → :attr:`threshold` only in ``"threshold"`` mode and only while the slider's
    score is selected (late events of a replaced slider are ignored); :attr:`threshold` /
    :attr:`mode` → slider. A score switch puts in a new slider with the new score's range
    instead of changing the range: a browser that sees a range change clamps / snaps the old
    value and sends it back, overriding the threshold.

    Args:
        explorer: the explorer the slider drives.
    """

    def __init__(self, explorer: ExplorerLike) -> None:
        self.explorer = explorer
        self.box = pn.Column(self.slider(), margin=0)
        explorer.param.watch(self.sync, ["threshold", "mode"])
        explorer.param.watch(self.replace, "score")

    def slider(self) -> Any:
        """A new slider for the selected score, linked to the explorer's threshold."""
        ex, score = self.explorer, self.explorer.score
        start, end, step = ex.score_set.threshold_range(score)
        slider = ThresholdSlider(
            **label_kwargs(pn.widgets.EditableFloatSlider, "Threshold"),
            value=ex.threshold,
            start=start,
            end=end,
            fixed_start=start,
            fixed_end=end,
            step=step,
            format="0.[000000]",  # the readout: at most 6 decimals (the status pane: all)
            disabled=ex.mode == "target rate",
            width=280,
        )

        def to_param(event: Any) -> None:
            if ex.mode == "threshold" and ex.score == score and event.new != ex.threshold:
                # one batch: the plots, panes and slider updates leave in one message, and
                # Bokeh recomputes the document's model graph once, not once per plot
                with pn.io.hold(freeze=True):
                    ex.threshold = event.new

        slider.param.watch(to_param, "value")
        return slider

    def sync(self, *events: Any) -> None:
        """Show the explorer's threshold and mode on the slider."""
        ex = self.explorer
        for slider in self.box:
            if slider.start <= ex.threshold <= slider.end:
                slider.param.update(value=ex.threshold, disabled=ex.mode == "target rate")

    def replace(self, *events: Any) -> None:
        """Put in a slider for the newly selected score."""
        self.box[:] = [self.slider()]


def plot_pane(
    explorer: ExplorerLike, base: Any, live: Any, mark: Any, params: list[str], name: str
) -> Any:
    """A live plot: ``base`` overlaid with ``live``, moved in place by ``mark``.

    ``base``, ``live`` and ``mark`` are bound methods of ``explorer`` (e.g. ``histogram_base``,
    ``cut_line``, ``cut_mark``). The plot is drawn when the score, the signal or the log scale
    change (Bokeh cannot change axis types in place); on the ``params`` (the threshold...) the
    drawn ``live`` element's Bokeh models are changed by ``mark()``
    (:class:`~precml_widgets.live.LiveParts`): no figure is redrawn and no data resent but
    the live element's own. One watcher per pane serves every drawing.
    """
    parts = LiveParts()

    @param.depends(explorer.param.score, explorer.param.signal, explorer.param.log_scale)
    def view(score: str, signal: str, log_scale: bool) -> Any:
        parts.forget()  # a new figure: the old drawings and their last state go
        return plots.compose(base(), parts.tag(live(), name))

    def move(*_: Any) -> None:
        if parts.drawings(name):  # a closed or never-shown pane costs nothing
            parts.update(name, mark())

    explorer.param.watch(move, params)
    return pn.panel(view)


def controls(explorer: ExplorerLike) -> Any:
    """The settings column: widgets of the explorer's parameters and the download buttons."""
    ex = explorer
    is_threshold = pn.bind(lambda m: m == "threshold", ex.param.mode)
    number = pn.widgets.FloatInput.from_param
    downloads = [
        pn.widgets.FileDownload(
            callback=lambda ext=ext: io.BytesIO(ex.export_bytes(ext)),
            filename=f"precml_operating_point.{ext}",
            label=ext.upper(),
            width=80,  # three buttons with their 10 px margins fill the 300 px column
        )
        for ext in EXPORT_KINDS
    ]
    return pn.Column(
        "### Trigger settings",
        pn.widgets.Select.from_param(ex.param.score, name="Score", width=280),
        pn.widgets.Select.from_param(ex.param.signal, name="Signal (plots)", width=280),
        pn.widgets.RadioButtonGroup.from_param(
            ex.param.mode, name="Mode", width=280, **color_kwargs(pn.widgets.RadioButtonGroup)
        ),
        number(
            ex.param.target_rate_khz,
            name="Target rate [kHz]",
            step=1.0,
            disabled=is_threshold,
            width=280,
        ),
        ThresholdSliders(ex).box,
        number(ex.param.input_rate_mhz, name="Input rate [MHz]", step=0.1, width=280),
        number(ex.param.cl, name="Confidence level", step=0.01, width=280),
        pn.widgets.Checkbox.from_param(ex.param.log_scale, name="Log scale"),
        "**Download the operating point**",
        pn.Row(*downloads),
        width=300,
    )


def dashboard(explorer: ExplorerLike) -> Any:
    """Controls on the left; plots, the status pane and the efficiency table on the right.

    The status pane is a ``pn.pane.HTML`` of :meth:`AnomalyScoreExplorer.status_html` with
    the CSS class ``precml-rate``.
    """
    ex = explorer
    status = pn.pane.HTML(ex.status_html, css_classes=["precml-rate"], width=900, min_height=170)
    table = pn.pane.DataFrame(
        ex.efficiency_frame, index=False, float_format="{:.2f}".format, width=560
    )
    note = "*lower / upper: Clopper–Pearson interval at the chosen confidence level.*"
    # 300 px of controls + 940 px of plots (plots.PLOT_WIDTHS) fit a 1280 px window
    views = pn.Column(
        pn.Row(
            plot_pane(ex, ex.histogram_base, ex.cut_line, ex.cut_mark, ["threshold"], "cut"),
            plot_pane(ex, ex.roc_base, ex.roc_marker, ex.roc_mark, ["threshold", "cl"], "marker"),
        ),
        pn.Column("#### Operating point", status, width=910),
        pn.Column("#### Signal efficiencies at the cut", table, note, width=910),
    )
    return pn.Row(controls(ex), views)
