"""Interactive FPGA cost of a network: resources, latency and interval next to the physics.

:class:`FPGAEstimator` is a thin Panel view over :func:`~precml_widgets.fpga.estimator.estimate`
and :func:`~precml_widgets.fpga.stacks.estimator_stack`: pick a network, an FPGA part, the
fixed-point width ``W``, the reuse factor, the strategy, backend and clock, and read off the
estimated DSP/LUT/FF/BRAM use against the part's totals, the latency against the trigger's
budget and the initiation interval against the 25 ns bunch spacing. Every number it prints is
the core's; the stacks and estimates are cached, so a slider move is a dictionary look-up and a
few HTML strings written into persistent panes (no layout is rebuilt, nothing is compiled).

Physics numbers measured by bit-accurate emulation (e.g. from
:func:`~precml_widgets.fpga.scan.precision_scan`) can be passed per model and width; the view
shows them beside the cost of the same width.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.devices import DEVICES, Device
from precml_widgets.fpga.estimator import (
    COEFFICIENTS_FILE,
    BudgetCheck,
    ResourceEstimate,
    ResourceOverflowError,
    check_budget,
    estimate,
    require_fits,
)
from precml_widgets.fpga.layers import DenseLayer, Layer, MergeLayer, valid_reuse_factors
from precml_widgets.fpga.stacks import estimator_stack, is_activation, unmodelled_nodes
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
]

#: Time between LHC bunch crossings in ns (40 MHz).
BUNCH_SPACING_NS = 25.0
#: Latency budgets offered as presets, ns: one Global-Trigger algorithm, the whole Phase-2 L1.
LATENCY_PRESETS: dict[str, float] = {
    "GT algorithm: 50 ns": 50.0,
    "Phase-2 L1: 12.5 µs": 12_500.0,
}
#: Reuse factors offered by the slider; a layer that cannot take one uses hls4ml's nearest.
REUSE_FACTORS = (1, 2, 3, 4, 5, 6, 8, 10, 16, 20, 32, 64, 128, 256)
_RESOURCES = (("dsp", "DSP"), ("lut", "LUT"), ("ff", "FF"), ("bram18k", "BRAM_18K"))
_KNOBS = (
    "model",
    "device",
    "backend",
    "strategy",
    "width",
    "reuse_factor",
    "clock_ns",
    "latency_budget_ns",
    "require_every_bunch",
)
_RED, _GREEN, _BLUE, _GREY = "#b00020", "#1b7f3b", "#1f77b4", "#888888"
_LAYER_MESSAGE = re.compile(r"^layer (\S+): (.*)$")


@cache
def _calibration_facts() -> dict[str, Any]:
    with open(COEFFICIENTS_FILE, encoding="utf-8") as f:
        calib = json.load(f)
    used = sum(calib["domain"]["rows_per_family"].values())
    return {
        "used": used,
        "total": used + len(calib.get("out_of_domain", [])),
        "smape": dict(calib["cross_validation"]["smape"]),
    }


def calibration_label() -> str:
    """The one-line caveat the view prints above every estimate (from the calibration file).

    Example:
        >>> calibration_label().startswith("ESTIMATE (calibrated on 26 of 57 real syntheses")
        True
    """
    facts = _calibration_facts()
    e = facts["smape"]
    errors = ", ".join(
        f"{label} ±{e[key]:.0%}"
        for key, label in (*_RESOURCES, ("latency", "latency"), ("ii", "II"))
    )
    return (
        f"ESTIMATE (calibrated on {facts['used']} of {facts['total']} real syntheses; the "
        f"others lie outside its domain; leave-one-component-out error, all tool families: "
        f"{errors}; each bar quotes its tool family's, the plot this design's 68 % interval, "
        "widened by flag kind) — not a synthesis."
    )


def default_models() -> dict[str, torch.nn.Module]:
    """The two networks precml deploys, by display name (weights loaded, nothing emulated).

    Returns:
        ``{"trigger autoencoder": <score network>, "jet tagger": <16-64-32-32-5 MLP>}``: the
        anomaly autoencoder wrapped so that its output is the score
        (:func:`~precml_widgets.fpga.models.scored_autoencoder`), and hls4ml's jet tagger with
        its published weights (:func:`~precml_widgets.fpga.models.load_jet_tagger`).
    """
    from precml_widgets.anomaly.model import load_autoencoder
    from precml_widgets.fpga.models import load_jet_tagger, scored_autoencoder

    trained = load_autoencoder()
    return {
        "trigger autoencoder": scored_autoencoder(trained.model, len(trained.mean)),
        "jet tagger": load_jet_tagger(),
    }


def _check_metrics(
    metrics: Mapping[str, Mapping[int, Mapping[str, float]]] | None, models: Sequence[str]
) -> dict[str, dict[int, dict[str, float]]]:
    out: dict[str, dict[int, dict[str, float]]] = {}
    if metrics is None:
        return out
    if not isinstance(metrics, Mapping):
        raise InvalidInputError(
            f"metrics must map model name -> width W -> {{metric: value}}, got "
            f"{type(metrics).__name__}."
        )
    for name, per_width in metrics.items():
        if name not in models:
            raise InvalidInputError(
                f"metrics has model {name!r}, which is not one of the models {list(models)}."
            )
        if not isinstance(per_width, Mapping):
            raise InvalidInputError(f"metrics[{name!r}] must map width W -> {{metric: value}}.")
        out[name] = {}
        for width, values in sorted(per_width.items()):
            if (
                isinstance(width, bool)
                or not isinstance(width, int)
                or not isinstance(values, Mapping)
            ):
                raise InvalidInputError(
                    f"metrics[{name!r}] must map integer widths to {{metric: value}}, got "
                    f"{width!r} -> {type(values).__name__}."
                )
            try:
                out[name][width] = {str(k): float(v) for k, v in values.items()}
            except (TypeError, ValueError):
                raise InvalidInputError(
                    f"metrics[{name!r}][{width}] must hold numbers, got {dict(values)!r:.120}."
                ) from None
    return out


def _device_label(device: Device, custom: bool) -> str:
    if custom:
        return (
            f"{device.name} (own totals: {device.dsp:,} DSP, {device.lut:,} LUT, "
            f"{device.ff:,} FF, {device.bram18k:,} BRAM_18K)"
        )
    return f"{device.part} · {device.name}"


class FPGAEstimator(pn.viewable.Viewer):
    """What a network costs on an FPGA at a given precision, and what that precision gives.

    Shows, for the selected network and settings, the estimated resources as bars of the
    part's totals ("estimate ± measured error"), the latency against :attr:`latency_budget_ns`,
    the initiation interval against the 25 ns bunch spacing, whether it fits (red when it does
    not), the reasons the estimate is an extrapolation, the reuse factors hls4ml would
    substitute, a per-layer breakdown and, where given, the emulated physics at the same width.

    Args:
        models: display name → traceable torch network (its ``nn.Linear`` layers, softmax and
            element-wise merges are estimated; see
            :func:`~precml_widgets.fpga.stacks.estimator_stack`).
        metrics: optional physics per model name, per width W, e.g.
            ``{"jet tagger": {8: {"accuracy": 0.74}, 16: {"accuracy": 0.76}}}``, measured by
            emulating the firmware of that width.
        devices: your own parts (e.g. what is left of a board), listed under their ``name``
            beside the catalogue (:data:`~precml_widgets.fpga.devices.DEVICES`).
        **params: initial values of the parameters below.

    Raises:
        InvalidInputError: no models, a model that is not a traceable module with dense layers,
            an unknown ``model`` / ``device`` name, malformed metrics or a device name clash.

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
        objects=["Vitis", "Vivado"], default="Vitis", doc="hls4ml backend: Vitis or Vivado HLS."
    )
    strategy = param.Selector(
        objects=["Latency", "Resource"],
        default="Latency",
        doc="hls4ml Strategy: 'Latency' unrolls with constant weights; 'Resource' keeps "
        "weights in memory and shares multipliers (outside the calibration).",
    )
    width = param.Integer(
        default=16,
        bounds=(4, 24),
        label="ap_fixed<W,I>: W [bits]",
        doc="Total bits W of every tensor; weights take their integer bits I from their range, "
        "accumulators get the integer bits of the largest possible sum and 4 guard bits "
        "(as a precision scan types the firmware).",
    )
    reuse_factor = param.Selector(
        objects=list(REUSE_FACTORS),
        default=1,
        doc="hls4ml ReuseFactor of every dense layer; where a layer cannot take it, hls4ml's "
        "nearest valid one is used and shown.",
    )
    clock_ns = param.Number(
        default=5.0, bounds=(1.0, 25.0), step=0.05, doc="Clock period in ns (5 ns = 200 MHz)."
    )
    latency_budget_ns = param.Number(
        default=50.0,
        bounds=(1.0, 100_000.0),
        doc="Latency allowed to the algorithm, ns: 50 ns for one Global-Trigger algorithm, "
        "12.5 µs for the whole Phase-2 Level-1 trigger.",
    )
    require_every_bunch = param.Boolean(
        default=True,
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
        if not isinstance(models, Mapping) or not models:
            raise InvalidInputError(
                "models must be a non-empty mapping of display name -> torch module."
            )
        self._models = {str(k): v for k, v in models.items()}
        for name, net in self._models.items():
            try:
                unmodelled_nodes(net)  # traces once: fails now, not on a slider move
            except InvalidInputError as exc:
                raise InvalidInputError(f"models[{name!r}]: {exc}") from None
        self._metrics = _check_metrics(metrics, list(self._models))
        self._devices: dict[str, Device] = dict(DEVICES)
        self._custom: set[str] = set()
        self._estimates: dict[tuple, ResourceEstimate] = {}
        self._physics: dict[tuple[str, int], str] = {}
        self._calibration = pn.pane.HTML(
            f'<div class="precml-estimate-label" style="background:#fff4d6;border:1px solid '
            f'#c9a227;padding:4px 8px;font-weight:600">{html.escape(calibration_label())}</div>',
            sizing_mode="stretch_width",
        )
        # persistent panes, updated in place: one HTML pane per group of numbers that change
        # together (a Panel HTML update costs ~2 ms; per-layer details only while expanded)
        self._report = pn.pane.HTML("", css_classes=["precml-fpga-report"], width=720)
        self._physics_pane = pn.pane.HTML("", css_classes=["precml-fpga-physics"], width=720)
        self._layers = pn.pane.HTML("", css_classes=["precml-fpga-layers"], width=700)
        self._layers_card = pn.Card(
            self._layers, title="Per layer", collapsed=True, width=720, margin=(10, 5)
        )
        self._form_message = pn.pane.HTML("", width=280)
        self._interval_pane = pn.pane.HoloViews(None, width=710, height=230)
        self._interval_card = pn.Card(
            self._interval_pane,
            title="68 % intervals (plot)",
            collapsed=True,
            width=720,
            margin=(10, 5),
        )

        model = params.pop("model", next(iter(self._models)))
        device = params.pop("device", "xcvu9p")
        super().__init__(**params)
        for device_obj in devices:
            self.add_device(device_obj, select=False)
        self.param.model.objects = list(self._models)
        self._set_device_objects()
        for what, value, choices in (
            ("model", model, self._models),
            ("device", device, self._devices),
        ):
            if value not in choices:
                raise InvalidInputError(
                    f"{what}={value!r} is not one of the available {what}s: {list(choices)}."
                )
        with param.parameterized.discard_events(self):
            self.model, self.device = model, device
        for net in self._models.values():  # warm hls4ml's reuse-factor tables
            for layer in estimator_stack(net, width=self.width, invalid_reuse="nearest"):
                if isinstance(layer, DenseLayer):
                    for backend in self.param.backend.objects:
                        valid_reuse_factors(layer.n_in, layer.n_out, backend)
        self._layers_card.param.watch(self._on_layers_card, "collapsed")
        self._interval_card.param.watch(self._on_interval_card, "collapsed")
        self._refresh()

    # ------------------------------------------------------------------ constructors
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

    # ------------------------------------------------------------------ devices
    def _set_device_objects(self) -> None:
        self.param.device.objects = {
            _device_label(d, key in self._custom): key for key, d in self._devices.items()
        }

    def add_device(self, device: Device, *, select: bool = True) -> str:
        """List your own part (its ``name`` is its key) and, by default, select it.

        Args:
            device: a :class:`~precml_widgets.fpga.devices.Device` with your totals.
            select: make it the current :attr:`device`.

        Returns:
            The key under which it is listed (``device.name``).

        Raises:
            InvalidInputError: not a Device, or its name is taken by another part.
        """
        if not isinstance(device, Device):
            raise InvalidInputError(
                f"devices must be Device objects, got {type(device).__name__}; e.g. "
                "Device('my board', 'xcvu13p', 'UltraScale+', dsp=..., lut=..., ff=..., "
                "bram18k=...)."
            )
        key = device.name
        if key in self._devices and self._devices[key] != device:
            raise InvalidInputError(
                f"a part named {key!r} is already listed ({self._devices[key]}); give yours "
                "another name."
            )
        self._devices[key] = device
        self._custom.add(key)
        self._set_device_objects()
        if select:
            self.device = key
        return key

    def current_device(self) -> Device:
        """The :class:`Device` selected by :attr:`device`."""
        return self._devices[self.device]

    # ------------------------------------------------------------------ core
    def stack(self) -> tuple[Layer, ...]:
        """The estimator's layers for the current model, width, reuse factor and strategy.

        Reuse factors a layer cannot take are replaced by hls4ml's nearest valid one
        (:func:`~precml_widgets.fpga.stacks.nearest_valid_reuse`).
        """
        return estimator_stack(
            self._models[self.model],
            width=self.width,
            reuse_factor=self.reuse_factor,
            strategy=self.strategy.lower(),  # type: ignore[arg-type]
            backend=self.backend,
            invalid_reuse="nearest",
        )

    def current_estimate(self) -> ResourceEstimate:
        """:func:`~precml_widgets.fpga.estimator.estimate` of :meth:`stack` (cached)."""
        stack = self.stack()
        key = (stack, self.current_device(), self.backend, float(self.clock_ns))
        est = self._estimates.get(key)
        if est is None:
            if len(self._estimates) > 4096:
                self._estimates.clear()
            est = estimate(
                stack,
                device=self.current_device(),
                clock_ns=float(self.clock_ns),
                backend=self.backend,
            )
            self._estimates[key] = est
        return est

    def budget(self) -> BudgetCheck:
        """:func:`~precml_widgets.fpga.estimator.check_budget` of the current estimate."""
        return check_budget(
            self.current_estimate(),
            latency_budget_ns=float(self.latency_budget_ns),
            bunch_spacing_ns=BUNCH_SPACING_NS,
            require_ii=self.require_every_bunch,
        )

    def reuse_substitutions(self) -> dict[str, tuple[int, int, int]]:
        """``{layer: (n_in, n_out, reuse factor used)}`` where it differs from the requested one."""
        return {
            layer.name: (layer.n_in, layer.n_out, layer.reuse_factor)
            for layer in self.stack()
            if isinstance(layer, DenseLayer) and layer.reuse_factor != self.reuse_factor
        }

    def physics(self) -> dict[str, float] | None:
        """The emulated metrics of the current model at the current width, or ``None``."""
        values = self._metrics.get(self.model, {}).get(self.width)
        return None if values is None else dict(values)

    def summary(self) -> str:
        """Plain-text summary: settings, :meth:`ResourceEstimate.summary`, budget, physics."""
        est, check = self.current_estimate(), self.budget()
        lines = [
            f"{self.model}: ap_fixed<{self.width},I>, reuse factor {self.reuse_factor}, "
            f"{self.strategy} strategy",
            est.summary(),
            f"  fits {est.device.part}: {'yes' if est.fits else 'NO'}",
            f"  latency {est.latency_ns:,.1f} ns vs budget {check.latency_budget_ns:,.1f} ns: "
            f"{'ok' if check.latency_ok else 'OVER'}",
            f"  II {est.ii_ns:,.1f} ns vs {BUNCH_SPACING_NS:g} ns bunch spacing: "
            f"{'ok' if check.ii_ok else 'too slow'}"
            f"{'' if self.require_every_bunch else ' (not required)'}",
        ]
        lines += [
            f"  reuse factor {self.reuse_factor} invalid for {name} ({a}x{b}): hls4ml uses {rf}"
            for name, (a, b, rf) in self.reuse_substitutions().items()
        ]
        values = self.physics()
        if values is None:
            lines.append(f"  physics: no emulation result for W={self.width}")
        else:
            lines += [f"  {k} at W={self.width}: {v:.6g}" for k, v in values.items()]
        return "\n".join(lines)

    # ------------------------------------------------------------------ views
    @param.depends(*_KNOBS, watch=True)
    def _refresh(self) -> None:
        """Write the current numbers into the persistent panes (only those that changed)."""
        est, check = self.current_estimate(), self.budget()
        report = (
            self._status_html(est, check)
            + _warnings_html(est.extrapolations)
            + _resources_html(est)
            + self._timing_html(est, check)
            + self._reuse_html()
            + _unmodelled_html(unmodelled_nodes(self._models[self.model]))
        )
        self._set(self._report, report)
        if not self._interval_card.collapsed:  # a HoloViews redraw costs ~100 ms
            self._interval_pane.object = interval_plot(est, check.latency_budget_ns)
        self._set(self._physics_pane, self._physics_html())
        if not self._layers_card.collapsed:
            self._set(self._layers, self._layers_html(est))

    @staticmethod
    def _set(pane: Any, text: str) -> None:
        if pane.object != text:
            pane.object = text

    def _on_interval_card(self, event: Any) -> None:
        if not event.new:
            self._interval_pane.object = interval_plot(
                self.current_estimate(), self.budget().latency_budget_ns
            )

    def _on_layers_card(self, event: Any) -> None:
        if not event.new:
            self._set(self._layers, self._layers_html(self.current_estimate()))

    def _status_html(self, est: ResourceEstimate, check: BudgetCheck) -> str:
        try:
            require_fits(est)
        except ResourceOverflowError as exc:
            fit = (
                f'<div class="precml-fit no-fit" style="color:{_RED};font-weight:700;'
                f'font-size:1.2em">✘ DOES NOT FIT</div><div style="color:{_RED}">'
                f"{html.escape(str(exc))}</div>"
            )
        else:
            fit = (
                f'<div class="precml-fit fits" style="color:{_GREEN};font-weight:700;'
                f'font-size:1.2em">✔ Fits {html.escape(est.device.part)} '
                f"({html.escape(est.device.name)})</div>"
            )
        problems = []
        if not check.latency_ok:
            problems.append(f"latency over the {_ns(check.latency_budget_ns)} budget")
        if not check.ii_ok and self.require_every_bunch:
            problems.append("cannot take an event every bunch crossing")
        verdict = (
            f'<div class="precml-budget ok" style="color:{_GREEN}">Meets the trigger budget.</div>'
            if check.ok and est.fits
            else f'<div class="precml-budget fail" style="color:{_RED}">Fails the trigger: '
            f"{html.escape('; '.join(problems) or 'does not fit the part')}.</div>"
        )
        return (
            f"{fit}{verdict}<div style='color:#555'>{html.escape(self.model)} · "
            f"ap_fixed&lt;{self.width},I&gt; · reuse factor {self.reuse_factor} · "
            f"{self.strategy} · {self.backend} HLS · {est.clock_ns:g} ns clock "
            f"({1e3 / est.clock_ns:,.0f} MHz) · {html.escape(est.device.part)}</div>"
        )

    def _timing_html(self, est: ResourceEstimate, check: BudgetCheck) -> str:
        e = est.error
        lat_color = _BLUE if check.latency_ok else _RED
        ii_bad = not check.ii_ok
        ii_color = (_RED if self.require_every_bunch else _GREY) if ii_bad else _BLUE
        ii_note = " (not required)" if ii_bad and not self.require_every_bunch else ""
        latency = (
            f'<span class="precml-latency-ns" data-value="{est.latency_ns!r}">'
            f"{est.latency_ns:,.1f}</span> ns ({est.latency_cycles:,.1f} cycles) "
            f"± {e.get('latency', 0.0):.0%} / budget "
            f'<span class="precml-budget-ns">{check.latency_budget_ns:,.1f}</span> ns'
        )
        ii = (
            f'<span class="precml-ii-ns" data-value="{est.ii_ns!r}">{est.ii_ns:,.1f}</span> ns '
            f"({est.ii_cycles:,.1f} cycles) ± {e.get('ii', 0.0):.0%} / bunch spacing "
            f"{BUNCH_SPACING_NS:g} ns{ii_note}"
        )
        lat_fraction = est.latency_ns / check.latency_budget_ns
        return (
            "<div style='margin-top:6px'><b>Timing</b></div>"
            + _bar_row(
                "Latency", lat_fraction, e.get("latency", 0.0), lat_color, latency, "latency"
            )
            + _bar_row("II", est.ii_ns / BUNCH_SPACING_NS, e.get("ii", 0.0), ii_color, ii, "ii")
        )

    def _reuse_html(self) -> str:
        subs = self.reuse_substitutions()
        if not subs:
            return ""
        items = ", ".join(
            f"<b>{html.escape(name)}</b> ({a}×{b}) uses {rf}" for name, (a, b, rf) in subs.items()
        )
        return (
            f'<div class="precml-reuse-note" style="background:#e8f1fb;border:1px solid '
            f'{_BLUE};padding:4px 8px">Reuse factor {self.reuse_factor} is not valid for every '
            f"layer; as hls4ml does, the nearest valid one is used: {items}.</div>"
        )

    def _physics_html(self) -> str:
        key = (self.model, self.width)
        if key not in self._physics:
            self._physics[key] = _physics_block(
                self.model, self.width, self._metrics.get(self.model)
            )
        return self._physics[key]

    def _layers_html(self, est: ResourceEstimate) -> str:
        rows = []
        for layer, part in zip(self.stack(), est.layers, strict=True):
            dense = isinstance(layer, DenseLayer)
            if dense:
                shape = f"{layer.n_in}×{layer.n_out}"
            elif isinstance(layer, MergeLayer):
                shape = f"{layer.op} ×{layer.n}"
            else:
                shape = str(getattr(layer, "n_in", ""))
            rows.append(
                "<tr>"
                f"<td>{html.escape(part.name)}</td><td>{part.kind}</td><td>{shape}</td>"
                f"<td>{layer.reuse_factor if dense else ''}</td>"
                f"<td>{html.escape(layer.weight.to_hls()) if dense else ''}</td>"
                f"<td>{layer.n_zeros if dense else ''}</td>"
                f"<td>{part.dsp:,.0f}</td><td>{part.lut:,.0f}</td><td>{part.ff:,.0f}</td>"
                f"<td>{part.bram18k:,.0f}</td><td>{part.latency_cycles:,.1f}</td>"
                f"<td>{part.ii_cycles:,.1f}</td></tr>"
            )
        return (
            "<table class='precml-fpga-layer-table' "
            "style='font-size:0.85em'><tr><th>layer</th><th>kind</th><th>shape</th><th>RF</th>"
            "<th>weights</th><th>zeros</th><th>DSP</th><th>LUT</th><th>FF</th><th>BRAM</th>"
            f"<th>latency [cycles]</th><th>II</th></tr>{''.join(rows)}</table>"
        )

    # ------------------------------------------------------------------ layout
    def _device_form(self) -> Any:
        """A collapsed card to enter your own part's totals (added and selected on click)."""
        w = pn.widgets
        name = w.TextInput(**label_kwargs(w.TextInput, "Name"), value="my board", width=260)
        part = w.TextInput(
            **label_kwargs(w.TextInput, "Part (sets the calibration check)"),
            value="xcvu9p",
            width=260,
        )
        family = w.Select(
            **label_kwargs(w.Select, "Family"),
            options=["UltraScale+", "UltraScale", "7-series"],
            width=260,
        )
        vu9p = DEVICES["xcvu9p"]  # default: half of a VU9P
        totals = {
            key: w.IntInput(
                **label_kwargs(w.IntInput, label), value=getattr(vu9p, key) // 2, start=1, width=125
            )
            for key, label in _RESOURCES
        }
        button = w.Button(**label_kwargs(w.Button, "Add and select"), **color_kwargs(w.Button))

        def add(_event: object) -> None:
            try:
                device = Device(
                    name.value.strip() or "my board",
                    part.value.strip().lower() or "custom",
                    family.value,
                    **{key: int(box.value or 0) for key, box in totals.items()},
                )
                self.add_device(device)
            except InvalidInputError as exc:
                self._form_message.object = (
                    f"<span style='color:{_RED}'>{html.escape(str(exc))}</span>"
                )
            else:
                self._form_message.object = f"Added {html.escape(device.name)}."

        button.on_click(add)
        return pn.Card(
            name,
            part,
            family,
            pn.GridBox(*totals.values(), ncols=2),
            button,
            self._form_message,
            title="Your own part (data-sheet totals)",
            collapsed=True,
            width=290,
        )

    def _controls(self) -> Any:
        w = pn.widgets
        presets = []
        for label, value in LATENCY_PRESETS.items():
            button = w.Button(**label_kwargs(w.Button, label), width=128)
            button.on_click(lambda _e, v=value: setattr(self, "latency_budget_ns", v))
            presets.append(button)
        return pn.Column(
            "### FPGA firmware",
            w.Select.from_param(self.param.model, name="Network", width=280),
            w.Select.from_param(self.param.device, name="FPGA part", width=280),
            w.RadioButtonGroup.from_param(
                self.param.backend, name="Backend", width=280, **color_kwargs(w.RadioButtonGroup)
            ),
            w.RadioButtonGroup.from_param(
                self.param.strategy, name="Strategy", width=280, **color_kwargs(w.RadioButtonGroup)
            ),
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
            self._device_form(),
            width=300,
        )

    def __panel__(self) -> Any:
        """Controls on the left; the estimate, budget, caveats and physics on the right."""
        return pn.Row(
            self._controls(),
            pn.Column(
                self._calibration,
                self._report,
                self._interval_card,
                self._physics_pane,
                self._layers_card,
                width=740,
            ),
        )


# ---------------------------------------------------------------------- plots
def interval_plot(est: ResourceEstimate, latency_budget_ns: float) -> Any:
    """HoloViews: each resource as % of the part with its 68 % interval (error bars), and the
    latency in ns with its interval against the budget (dashed). Pure drawing of ``est``."""
    hv = require("holoviews", "widgets", "the FPGA estimator plot")
    require("holoviews.plotting.bokeh", "widgets", "the FPGA estimator plot")
    rows = []
    for key, label in _RESOURCES:
        total = getattr(est.device, key)
        lo, hi = est.interval.get(key, (getattr(est, key),) * 2)
        value = 100.0 * getattr(est, key) / total
        rows.append((label, value, value - 100.0 * lo / total, 100.0 * hi / total - value))
    flagged = " (widened: flagged)" if est.extrapolations else ""
    res = hv.Scatter([r[:2] for r in rows], "resource", "% of part").opts(size=8, color=_BLUE)
    res_err = hv.ErrorBars(rows, "resource", ["% of part", "lower", "upper"])
    resources = (res * res_err * hv.HLine(100.0).opts(color=_RED, line_dash="dashed")).opts(
        title=f"resources, {est.interval_level:.0%} intervals{flagged}", width=360, height=220
    )
    lo_ns, hi_ns = est.latency_ns_interval
    lat = [("latency", est.latency_ns, est.latency_ns - lo_ns, hi_ns - est.latency_ns)]
    latency = (
        hv.Scatter([lat[0][:2]], "quantity", "ns").opts(size=8, color=_BLUE)
        * hv.ErrorBars(lat, "quantity", ["ns", "lower", "upper"])
        * hv.HLine(latency_budget_ns).opts(color=_RED, line_dash="dashed")
    ).opts(title=f"latency vs budget {_ns(latency_budget_ns)}", width=340, height=220)
    return (resources + latency).opts(shared_axes=False)


# ---------------------------------------------------------------------- HTML helpers
def _ns(value: float) -> str:
    return f"{value / 1e3:g} µs" if value >= 1e3 else f"{value:g} ns"


def _bar_row(label: str, fraction: float, error: float, color: str, text: str, key: str) -> str:
    """A horizontal bar: filled to ``fraction`` of the total, the ± error as a light band."""
    fill = min(max(fraction, 0.0), 1.0) * 100.0
    lo = min(max(fraction * (1.0 - error), 0.0), 1.0) * 100.0
    hi = min(max(fraction * (1.0 + error), 0.0), 1.0) * 100.0
    return (
        f'<div class="precml-bar-row" data-key="{key}" style="display:flex;align-items:center;'
        f'gap:8px;margin:3px 0"><span style="width:72px;font-weight:600">{label}</span>'
        f'<span style="position:relative;display:inline-block;width:220px;height:14px;'
        f'background:#eee;border:1px solid #ccc">'
        f'<span style="position:absolute;left:{lo:.2f}%;width:{hi - lo:.2f}%;top:0;bottom:0;'
        f'background:{color};opacity:0.25"></span>'
        f'<span style="position:absolute;left:0;width:{fill:.2f}%;top:3px;bottom:3px;'
        f'background:{color}"></span></span>'
        f'<span style="color:{color if color == _RED else "inherit"}">{text}</span></div>'
    )


def _resources_html(est: ResourceEstimate) -> str:
    parts = [
        "<div style='margin-top:6px'><b>Resources</b> (bar: share of the part; light band: "
        "± measured error)</div>"
    ]
    for key, label in _RESOURCES:
        value, total, frac = getattr(est, key), getattr(est.device, key), est.fractions[key]
        color = _RED if frac > 1.0 else _BLUE
        over = " — over the total" if frac > 1.0 else ""
        lo, hi = est.interval.get(key, (value, value))
        text = (
            f'<span class="precml-{key}" data-value="{value!r}">{value:,.0f}</span> '
            f"± {est.error.get(key, 0.0):.0%} of "
            f'<span class="precml-{key}-total">{total:,}</span> ({frac:.1%}{over}); '
            f'<span class="precml-{key}-interval">{est.interval_level:.0%}: '
            f"{lo:,.0f}–{hi:,.0f}</span>"
        )
        parts.append(_bar_row(label, frac, est.error.get(key, 0.0), color, text, key))
    return "".join(parts)


def _unmodelled_html(skipped: Sequence[tuple[str, str]]) -> str:
    """What the estimate leaves out of this network (activations, element-wise merges...)."""
    acts = [k for _, k in skipped if is_activation(k)]
    others = [n if n == k else f"{n} ({k})" for n, k in skipped if not is_activation(k)]
    notes = []
    if acts:
        notes.append(f"{len(acts)} activation(s) ({', '.join(sorted(set(acts)))}; small)")
    if others:
        notes.append(f"not modelled: {', '.join(others)}")
    if not notes:
        return ""
    return (
        f"<div class='precml-unmodelled' style='color:#555;font-size:0.85em;margin-top:4px'>"
        f"Not in the estimate: {html.escape('; '.join(notes))}.</div>"
    )


def _warnings_html(extrapolations: Sequence[str]) -> str:
    """The extrapolations, per-layer messages grouped by reason, in a visible alert."""
    if not extrapolations:
        return ""
    grouped: dict[str, list[str]] = {}
    for message in extrapolations:
        match = _LAYER_MESSAGE.match(message)
        reason, layer = (match[2], match[1]) if match else (message, "")
        grouped.setdefault(reason, [])
        if layer:
            grouped[reason].append(layer)
    items = "".join(
        f"<li>{html.escape(reason)}"
        f"{' — layers ' + html.escape(', '.join(layers)) if layers else ''}</li>"
        for reason, layers in grouped.items()
    )
    return (
        f'<div class="precml-extrapolations" role="alert" style="background:#fff3cd;'
        f'border:1px solid #d39e00;color:#664d03;padding:4px 8px">⚠ <b>Outside the '
        f"calibration</b> (the measured error above does not apply):<ul style='margin:2px 0'>"
        f"{items}</ul></div>"
    )


def _physics_block(
    model: str, width: int, metrics: Mapping[int, Mapping[str, float]] | None
) -> str:
    """Emulated metrics at ``width`` (a table) and each metric against W (small SVG plots)."""
    name = html.escape(model)
    if not metrics:
        return (
            f'<div class="precml-physics-missing"><b>Physics:</b> no emulation result for '
            f"W={width} ({name}: no precision scan given; pass metrics= from "
            f"precml_widgets.fpga.scan.precision_scan).</div>"
        )
    widths = sorted(metrics)
    names = list(dict.fromkeys(k for w in widths for k in metrics[w]))
    reference = widths[-1]
    if width in metrics:
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td>"
            f'<td class="precml-metric" data-metric="{html.escape(k)}">'
            f"{metrics[width][k]:.4g}</td><td>{metrics[reference].get(k, math.nan):.4g}</td></tr>"
            for k in names
            if k in metrics[width]
        )
        head = (
            f"<table class='precml-physics-table'><tr><th>emulated at W={width}</th>"
            f"<th>value</th><th>at W={reference}</th></tr>{rows}</table>"
        )
    else:
        head = (
            f'<div class="precml-physics-missing"><b>Physics:</b> no emulation result for '
            f"W={width} ({name}; emulated widths: {', '.join(map(str, widths))}).</div>"
        )
    plots = "".join(_svg_plot(k, metrics, width) for k in names)
    return f"<div><b>Physics</b> (bit-accurate emulation)</div>{head}<div>{plots}</div>"


def _svg_plot(metric: str, metrics: Mapping[int, Mapping[str, float]], width: int) -> str:
    """``metric`` against W (4-24 bits) as an inline SVG, the current W marked."""
    points = [(w, v[metric]) for w, v in sorted(metrics.items()) if metric in v]
    values = [v for _, v in points if math.isfinite(v)]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (hi - lo) * 0.1 or max(abs(hi) * 0.1, 1e-9)
    lo, hi = lo - pad, hi + pad
    x0, x1, y0, y1 = 40.0, 340.0, 12.0, 92.0

    def sx(w: float) -> float:
        return x0 + (w - 4.0) / 20.0 * (x1 - x0)

    def sy(v: float) -> float:
        return y1 - (v - lo) / (hi - lo) * (y1 - y0)

    finite = [(w, v) for w, v in points if math.isfinite(v)]
    path = " ".join(f"{sx(w):.1f},{sy(v):.1f}" for w, v in finite)
    dots = "".join(
        f'<circle cx="{sx(w):.1f}" cy="{sy(v):.1f}" r="{5 if w == width else 3}" '
        f'fill="{_RED if w == width else _BLUE}"/>'
        for w, v in finite
    )
    ticks = "".join(
        f'<text x="{sx(w):.1f}" y="106" font-size="9" text-anchor="middle">{w}</text>'
        for w in range(4, 25, 4)
    )
    return (
        f'<svg class="precml-metric-plot" width="350" height="128" role="img" '
        f'aria-label="{html.escape(metric)} against W">'
        f'<text x="{x0}" y="9" font-size="10">{html.escape(metric)}</text>'
        f'<line x1="{x0}" y1="{y1}" x2="{x1}" y2="{y1}" stroke="#999"/>'
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#999"/>'
        f'<text x="{x0 - 3}" y="{y0 + 4}" font-size="9" text-anchor="end">{hi:.3g}</text>'
        f'<text x="{x0 - 3}" y="{y1}" font-size="9" text-anchor="end">{lo:.3g}</text>'
        f"{ticks}"
        f'<text x="{(x0 + x1) / 2}" y="122" font-size="9" text-anchor="middle">W [bits]</text>'
        f'<line class="precml-current-w" x1="{sx(width):.1f}" y1="{y0}" x2="{sx(width):.1f}" '
        f'y2="{y1}" stroke="{_RED}" stroke-dasharray="3,2"/>'
        f'<polyline points="{path}" fill="none" stroke="{_BLUE}" stroke-width="1.5"/>'
        f"{dots}</svg>"
    )
