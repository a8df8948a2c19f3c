"""Interactive FPGA cost of a network: resources, latency and interval next to the physics.

:class:`FPGAEstimator`: a thin Panel view over :class:`~precml_widgets.fpga.dashboard.Dashboard`
(the cached estimates). A slider move is a cache look-up and a few Markdown strings
(:mod:`~precml_widgets.fpga.report_text`); the figures are HoloViews
(:mod:`~precml_widgets.fpga.plots`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from precml_widgets._optional import require
from precml_widgets.fpga import report_text as text
from precml_widgets.fpga.dashboard import (
    BUNCH_SPACING_NS,
    DEFAULT_DEVICE,
    LATENCY_PRESETS,
    REUSE_FACTORS,
    Dashboard,
    Settings,
    calibration_label,
)
from precml_widgets.fpga.defaults import BACKENDS, STRATEGIES, hls4ml_strategy
from precml_widgets.fpga.device_view import device_form
from precml_widgets.fpga.devices import Device
from precml_widgets.fpga.estimator import BudgetCheck, ResourceEstimate
from precml_widgets.fpga.layers import Layer
from precml_widgets.fpga.models import default_models
from precml_widgets.fpga.plots import interval_plot, physics_plot
from precml_widgets.panel_compat import color_kwargs, label_kwargs

pn = require("panel", "widgets", "the FPGA estimator")
param = require("param", "widgets", "the FPGA estimator")

if TYPE_CHECKING:
    import torch

__all__ = [
    "BUNCH_SPACING_NS",
    "LATENCY_PRESETS",
    "REUSE_FACTORS",
    "FPGAEstimator",
    "calibration_label",
    "default_models",
    "interval_plot",
]

_KNOBS = tuple(Settings.__dataclass_fields__)
_START = Settings(model="")  # the knobs' defaults: the core's (fpga.defaults), not the view's


def _markdown(css: str, **kwargs: Any) -> Any:
    """A persistent Markdown pane of the report (attribute spans on, report stylesheet)."""
    style = {"plugins": [text.attrs_markup], "stylesheets": [text.REPORT_CSS], "margin": (0, 10)}
    return pn.pane.Markdown("", css_classes=[css], **style, **kwargs)


class FPGAEstimator(pn.viewable.Viewer):
    """What a network costs on an FPGA at a given precision, and what that precision gives.

    Shows the estimated resources against the part's totals (estimate ± measured error, share,
    68 % interval), the latency against :attr:`latency_budget_ns`, the initiation interval
    against the 25 ns bunch spacing, whether it fits (red when it does not), why the estimate
    is an extrapolation, the reuse factors hls4ml substitutes, the intervals as a plot, a
    per-layer table and, where given, the emulated physics at the same width.

    Args:
        models: display name → traceable torch network (``nn.Linear`` layers, softmax and
            element-wise merges are estimated; :func:`~precml_widgets.fpga.stacks.estimator_stack`).
        metrics: optional physics per model name, per width W, e.g.
            ``{"jet tagger": {8: {"accuracy": 0.74}, 16: {"accuracy": 0.76}}}`` (emulated).
        devices: your own parts, listed under their ``name`` beside
            :data:`~precml_widgets.fpga.devices.DEVICES`.
        **params: initial values of the parameters below.

    Raises:
        InvalidInputError: no models, a model that is not a traceable module with dense layers,
            an unknown ``model`` / ``device``, malformed metrics or a device name clash.

    Example:
        >>> w = FPGAEstimator.default(width=8, reuse_factor=4)
        >>> est = w.current_estimate()
        >>> est.dsp  # 8-bit weights: multiplications in LUTs (hls4ml's DSP rule)
        0.0
        >>> w.width = 16
        >>> w.current_estimate().dsp > 0
        True
        >>> "no emulation result for W=16" in w.summary()
        True
    """

    model = param.Selector(
        objects=[], check_on_set=True, doc="The network whose firmware is estimated."
    )
    device = param.Selector(
        objects=[],
        check_on_set=True,
        doc="FPGA part (catalogue part number, or the name of your own Device).",
    )
    backend = param.Selector(
        objects=list(BACKENDS), default=_START.backend, doc="hls4ml backend: Vitis or Vivado HLS."
    )
    strategy = param.Selector(
        objects=[hls4ml_strategy(s) for s in STRATEGIES],
        default=_START.strategy,
        doc="hls4ml Strategy: 'Latency' unrolls with constant weights; 'Resource' keeps "
        "weights in memory and shares multipliers (outside the calibration).",
    )
    width = param.Integer(
        default=_START.width,
        bounds=(4, 24),
        label="ap_fixed<W,I>: W [bits]",
        doc="Total bits W of every tensor; weights take their integer bits I from their range, "
        "accumulators get the integer bits of the largest possible sum and 4 guard bits "
        "(as a precision scan types the firmware).",
    )
    reuse_factor = param.Selector(
        objects=list(REUSE_FACTORS),
        default=_START.reuse_factor,
        doc="hls4ml ReuseFactor of every dense layer; where a layer cannot take it, hls4ml's "
        "nearest valid one is used and shown.",
    )
    clock_ns = param.Number(
        default=_START.clock_ns,
        bounds=(1.0, 25.0),
        step=0.05,
        doc="Clock period in ns (5 ns = 200 MHz).",
    )
    latency_budget_ns = param.Number(
        default=_START.latency_budget_ns,
        bounds=(1.0, 100_000.0),
        doc="Latency allowed to the algorithm, ns: 50 ns for one Global-Trigger algorithm, "
        "12.5 µs for the whole Phase-2 Level-1 trigger.",
    )
    require_every_bunch = param.Boolean(
        default=_START.require_every_bunch,
        doc="Require II × clock ≤ 25 ns: the firmware accepts an event every bunch crossing.",
    )

    def __init__(
        self,
        models: Mapping[str, torch.nn.Module],
        *,
        metrics: Mapping[str, Mapping[int, Mapping[str, float]]] | None = None,
        devices: Sequence[Device] = (),
        **params: Any,
    ) -> None:
        self._board = Dashboard(models, metrics=metrics, devices=devices)
        self._physics_key: tuple[str, int] | None = None  # (model, width) the physics shows
        self._calibration = pn.pane.Alert(
            calibration_label(), alert_type="warning", css_classes=["precml-estimate-label"]
        )
        # persistent panes, updated in place (the report's Markdown update costs ~3 ms; the
        # plots and per-layer details only while their card is open)
        self._report = _markdown("precml-fpga-report", width=720)
        self._physics = _markdown("precml-fpga-physics", width=720)
        self._physics_plot = pn.pane.HoloViews(None, css_classes=["precml-metric-plots"])
        self._layers = _markdown("precml-fpga-layers", width=700)
        card = {"collapsed": True, "width": 720, "margin": (10, 5)}
        self._layers_card = pn.Card(self._layers, title="Per layer", **card)
        self._interval_pane = pn.pane.HoloViews(None, width=710, height=230)
        self._interval_card = pn.Card(self._interval_pane, title="68 % intervals (plot)", **card)
        model = self._board.listed("model", params.pop("model", next(iter(self._board.models))))
        device = self._board.listed("device", params.pop("device", DEFAULT_DEVICE))
        super().__init__(**params)
        self.param.model.objects = list(self._board.models)
        self.param.device.objects = self._board.device_choices()
        with param.parameterized.discard_events(self):
            self.model, self.device = model, device
        self._board.warm_up(self.width, self.param.backend.objects)
        for opened in (self._layers_card, self._interval_card):  # draw what a card shows
            opened.param.watch(lambda event: event.new or self._refresh(), "collapsed")
        self._refresh()

    @classmethod
    def default(
        cls,
        *,
        metrics: Mapping[str, Mapping[int, Mapping[str, float]]] | None = None,
        **params: Any,
    ) -> FPGAEstimator:
        """The estimator of :func:`default_models` (trigger autoencoder and jet tagger).

        Nothing is emulated or compiled; pass ``metrics`` to show physics numbers.
        """
        return cls(default_models(), metrics=metrics, **params)

    # ------------------------------------------------------------------ core (delegated)
    def settings(self) -> Settings:
        """The current knobs as a :class:`~precml_widgets.fpga.dashboard.Settings`."""
        return Settings(**{k: getattr(self, k) for k in _KNOBS})

    def add_device(self, device: Device, *, select: bool = True) -> str:
        """List your own part under its ``name`` (returned) and, by default, select it.

        Raises:
            InvalidInputError: not a Device, or its name is taken by another part.
        """
        key = self._board.add_device(device)
        self.param.device.objects = self._board.device_choices()
        if select:
            self.device = key
        return key

    def current_device(self) -> Device:
        """The :class:`Device` selected by :attr:`device`."""
        return self._board.devices[self.device]

    def stack(self) -> tuple[Layer, ...]:
        """The estimator's layers for the current settings (invalid reuse factors replaced by
        hls4ml's nearest valid one, :func:`~precml_widgets.fpga.stacks.nearest_valid_reuse`)."""
        return self._board.stack(self.settings())

    def current_estimate(self) -> ResourceEstimate:
        """:func:`~precml_widgets.fpga.estimator.estimate` of :meth:`stack` (cached)."""
        return self._board.estimate(self.settings())

    def budget(self) -> BudgetCheck:
        """:func:`~precml_widgets.fpga.estimator.check_budget` of the current estimate."""
        return self._board.budget(self.settings())

    def reuse_substitutions(self) -> dict[str, tuple[int, int, int]]:
        """``{layer: (n_in, n_out, reuse factor used)}`` where it differs from the requested one."""
        return self._board.reuse_substitutions(self.settings())

    def physics(self) -> dict[str, float] | None:
        """The emulated metrics of the current model at the current width, or ``None``."""
        return self._board.physics(self.model, self.width)

    def summary(self) -> str:
        """Plain-text summary: settings, :meth:`ResourceEstimate.summary`, budget, physics."""
        return self._board.summary(self.settings())

    # ------------------------------------------------------------------ updates
    @param.depends(*_KNOBS, watch=True)
    def _refresh(self) -> None:
        """Write the current numbers into the persistent panes (only those that changed)."""
        s = self.settings()
        est, check = self._board.estimate(s), self._board.budget(s)
        subs, skipped = self._board.reuse_substitutions(s), self._board.unmodelled(s.model)
        report = text.report_text(s, est, check, self._board.overflow(est), subs, skipped)
        self._set(self._report, report)  # one pane: one update per move
        if self._physics_key != (s.model, s.width):  # a HoloViews redraw costs ~100 ms
            self._physics_key = (s.model, s.width)
            metrics = self._board.metrics.get(s.model)
            self._set(self._physics, text.physics_text(s.model, s.width, metrics))
            self._physics_plot.object = physics_plot(metrics, s.width)
            self._physics_plot.visible = bool(metrics)
        if not self._interval_card.collapsed:
            self._interval_pane.object = interval_plot(est, check.latency_budget_ns)
        if not self._layers_card.collapsed:
            self._set(self._layers, text.layers_text(self._board.stack(s), est))

    @staticmethod
    def _set(pane: Any, value: str) -> None:
        if pane.object != value:
            pane.object = value

    # ------------------------------------------------------------------ layout
    def _controls(self) -> Any:
        w = pn.widgets
        presets = []
        for label, value in LATENCY_PRESETS.items():
            button = w.Button(**label_kwargs(w.Button, label), width=128)
            button.on_click(lambda _e, v=value: setattr(self, "latency_budget_ns", v))
            presets.append(button)
        radio = color_kwargs(w.RadioButtonGroup)
        return pn.Column(
            "### FPGA firmware",
            w.Select.from_param(self.param.model, name="Network", width=280),
            w.Select.from_param(self.param.device, name="FPGA part", width=280),
            w.RadioButtonGroup.from_param(self.param.backend, name="Backend", width=280, **radio),
            w.RadioButtonGroup.from_param(self.param.strategy, name="Strategy", width=280, **radio),
            w.IntSlider.from_param(self.param.width, css_classes=["precml-width"], width=280),
            w.DiscreteSlider.from_param(
                self.param.reuse_factor,
                name="Reuse factor",
                css_classes=["precml-reuse"],
                width=280,
            ),
            w.EditableFloatSlider.from_param(
                self.param.clock_ns, name="Clock period [ns]", width=280
            ),
            w.FloatInput.from_param(
                self.param.latency_budget_ns, name="Latency budget [ns]", step=10.0, width=280
            ),
            pn.Row(*presets, width=290),
            w.Checkbox.from_param(
                self.param.require_every_bunch,
                name="Take an event every bunch crossing (II·clock ≤ 25 ns)",
            ),
            device_form(self.add_device, self._board.devices[DEFAULT_DEVICE]),
            width=300,
        )

    def __panel__(self) -> Any:
        """Controls on the left; the estimate, budget, caveats, plots and physics on the right."""
        return pn.Row(
            self._controls(),
            pn.Column(
                self._calibration,
                self._report,
                self._interval_card,
                self._physics,
                self._physics_plot,
                self._layers_card,
                width=740,
            ),
        )
