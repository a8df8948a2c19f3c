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
from precml_widgets.panel_compat import color_kwargs, label_kwargs

#: An :class:`~precml_widgets.anomaly.explorer.AnomalyScoreExplorer` (typed loosely: this
#: module must not import the explorer module, which imports it).
ExplorerLike: TypeAlias = Any

pn = require("panel", "widgets", "the anomaly-score explorer")
param = require("param", "widgets", "the anomaly-score explorer")

__all__ = ["ThresholdSliders", "controls", "dashboard", "plot_pane"]


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
        slider = pn.widgets.EditableFloatSlider(
            **label_kwargs(pn.widgets.EditableFloatSlider, "Threshold"),
            value=ex.threshold,
            start=start,
            end=end,
            fixed_start=start,
            fixed_end=end,
            step=step,
            disabled=ex.mode == "target rate",
            width=280,
        )

        def to_param(event: Any) -> None:
            if ex.mode == "threshold" and ex.score == score and event.new != ex.threshold:
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


def plot_pane(explorer: ExplorerLike, overlay: Any, dynamic: list[str]) -> Any:
    """A live pane of ``overlay`` (a bound view method of ``explorer``).

    Re-rendered on score / log-scale changes (Bokeh cannot change axis types in place);
    updated in place (the existing plot's data) on the ``dynamic`` parameters.
    """
    hv = plots.load_holoviews()

    @param.depends(explorer.param.score, explorer.param.log_scale)
    def view(score: str, log_scale: bool) -> Any:
        return hv.DynamicMap(lambda **_: overlay(), streams=[hv.streams.Params(explorer, dynamic)])

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
            width=88,
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
    status = pn.pane.HTML(ex.status_html, css_classes=["precml-rate"], width=600, min_height=170)
    table = pn.pane.DataFrame(
        ex.efficiency_frame, index=False, float_format="{:.2f}".format, width=520
    )
    note = "*lower / upper: Clopper–Pearson interval at the chosen confidence level.*"
    views = pn.Column(
        pn.Row(
            plot_pane(ex, ex.histogram_overlay, ["signal", "threshold"]),
            plot_pane(ex, ex.roc_overlay, ["signal", "threshold", "cl"]),
        ),
        pn.Row(
            pn.Column("#### Operating point", status, width=610),
            pn.Column("#### Signal efficiencies at the cut", table, note, width=520),
        ),
    )
    return pn.Row(controls(ex), views)
