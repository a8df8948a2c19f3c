"""Integration explorer: a flow against VEGAS, trained behind a button, inspected with sliders.

:class:`IntegrationExplorer` is a thin Panel view over
:func:`~precml_widgets.integration.study.compare`.
Pressing *Train* runs one comparison (with a progress bar) and caches it by configuration;
every other knob (quantile for ``w_max``, projected coordinates) only re-reads finished results.
The figures are drawn once per comparison; the quantile and coordinate sliders move their lines
and images in place (:class:`~precml_widgets.live.LiveParts` with the ``*_marks`` of
:mod:`~precml_widgets.integration.plots`), and the weight histograms are binned once per
comparison (:func:`~precml_widgets.integration.plots.weight_histograms`).
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

from precml_widgets._optional import require
from precml_widgets.errors import PrecmlError
from precml_widgets.integration.budget import CallBudget
from precml_widgets.integration.flow import FLOW_SIZES
from precml_widgets.integration.integrand import Integrand
from precml_widgets.integration.nis_config import NISConfig
from precml_widgets.integration.plots import (
    convergence_plot,
    projection_image,
    projection_marks,
    shared_projections,
    weight_histogram,
    weight_marks,
)
from precml_widgets.integration.study import Comparison, ComparisonConfig, compare
from precml_widgets.integration.suite import get
from precml_widgets.live import LiveParts
from precml_widgets.panel_compat import color_kwargs, label_kwargs

pn = require("panel", "widgets", "the integration explorer")
param = require("param", "widgets", "the integration explorer")

__all__ = ["FLOW_SIZES", "INTEGRANDS", "IntegrationExplorer"]

#: Integrand families; those with a dimension knob take ``-{dim}d``.
INTEGRANDS = [
    "camel",
    "gauss",
    "entangled-circles",
    "annulus",
    "polynomial-18d",
    "ee-mumu",
    "ee-mumu-bw",
]
_WITH_DIM = {"camel", "gauss"}
#: The knobs that define a comparison (changing one needs *Train*); the others only re-read.
_KNOBS = (
    "integrand",
    "dim",
    "flow_size",
    "calls_per_iteration",
    "training_iterations",
    "final_iterations",
    "loss",
    "premap",
    "diagnostic_events",
    "guard_flows",
    "seed",
)


class IntegrationExplorer(pn.viewable.Viewer):
    """Flow vs VEGAS+ vs VEGAS on one integrand at equal integrand calls.

    Example:
        >>> ex = IntegrationExplorer(integrand="gauss", dim=2, calls_per_iteration=1000,
        ...                          training_iterations=3, final_iterations=2,
        ...                          flow_size="small", diagnostic_events=2000)
        >>> _ = ex.train()
        >>> sorted(ex.comparison.results)
        ['VEGAS', 'VEGAS+', 'flow']
    """

    integrand = param.Selector(default="camel", objects=INTEGRANDS, doc="The integrand.")
    dim = param.Selector(default=4, objects=[2, 4, 8, 16], doc="Dimension (gauss and camel).")
    flow_size = param.Selector(default="small", objects=list(FLOW_SIZES), doc="Flow size.")
    calls_per_iteration = param.Integer(
        default=5_000, bounds=(500, 100_000), doc="Integrand calls per iteration (both methods)."
    )
    training_iterations = param.Integer(
        default=20, bounds=(1, 500), doc="Iterations that train the flow / adapt the VEGAS grid."
    )
    final_iterations = param.Integer(
        default=10, bounds=(1, 100), doc="Iterations' worth of calls for the final estimate."
    )
    loss = param.Selector(default="variance", objects=["variance", "kl"], doc="Flow loss.")
    premap = param.Selector(default="none", objects=["none", "vegas"], doc="VEGAS pre-map.")
    diagnostic_events = param.Integer(
        default=100_000, bounds=(1_000, 1_000_000), doc="Fresh events for the weight plots."
    )
    guard_flows = param.Integer(
        default=2,
        bounds=(0, 5),
        doc="Extra flows from independent seeds that must agree with the flow and VEGAS+.",
    )
    seed = param.Integer(default=0, bounds=(0, None), doc="Seeds everything.")
    quantile = param.Number(
        default=0.999, bounds=(0.9, 1.0), step=0.0005, doc="Quantile of w used as w_max."
    )
    x_dim = param.Integer(default=0, bounds=(0, 17), doc="Projected coordinate (horizontal).")
    y_dim = param.Integer(default=1, bounds=(0, 17), doc="Projected coordinate (vertical).")
    comparison = param.ClassSelector(class_=Comparison, default=None, precedence=-1)
    busy = param.Boolean(default=False, precedence=-1)

    def __init__(self, **params: Any) -> None:
        self.summary_pane = pn.pane.Markdown(  # a wide table scrolls inside its column
            "",
            sizing_mode="stretch_width",
            css_classes=["precml-integration"],
            styles={"overflow-x": "auto"},
        )
        self.convergence_pane = pn.pane.HoloViews(None, sizing_mode="stretch_width")
        self.weights_pane = pn.pane.HoloViews(None, sizing_mode="stretch_width")
        self.message_pane = pn.pane.Markdown("")
        self.error_pane = pn.pane.Markdown("", styles={"color": "#b00020"})
        self.projections_pane = pn.FlexBox()  # wraps: four images overflowed 1280 px
        self.live = LiveParts()  # the w_max lines and projection images, moved in place
        self._shown_dims = (0, 1)  # the coordinates the images show
        super().__init__(**params)
        self._show_comparison()
        self._cache: dict[tuple, Comparison] = {}
        if self.comparison is not None:
            self._cache[self._key()] = self.comparison
        self.progress = pn.indicators.Progress(value=0, max=100, sizing_mode="stretch_width")
        self.train_button = pn.widgets.Button(
            **label_kwargs(pn.widgets.Button, "Train"), **color_kwargs(pn.widgets.Button)
        )
        self.train_button.on_click(self.on_train_click)

    # -- core --------------------------------------------------------------------------------
    def selected_integrand(self) -> Integrand:
        """The integrand the knobs select."""
        name = f"{self.integrand}-{self.dim}d" if self.integrand in _WITH_DIM else self.integrand
        return get(name)

    def config(self) -> ComparisonConfig:
        """The comparison the knobs select (a VEGAS pre-map gets the budget's default share)."""
        return ComparisonConfig(
            budget=CallBudget(
                calls_per_iteration=self.calls_per_iteration,
                training_iterations=self.training_iterations,
                final_iterations=self.final_iterations,
            ),
            nis=NISConfig(loss=self.loss, premap=self.premap, flow=FLOW_SIZES[self.flow_size]),
            diagnostic_events=self.diagnostic_events,
            guard_flows=self.guard_flows,
            seed=self.seed,
        )

    def _key(self) -> tuple[str, ComparisonConfig]:
        return (self.selected_integrand().name, self.config())

    def _compute(self, key: tuple) -> Comparison:
        """The comparison for ``key`` (cached); touches no view."""
        if key not in self._cache:
            name, config = key
            self.progress.value = 0
            self._cache[key] = compare(
                get(name),
                config,
                progress=False,
                on_progress=lambda f: setattr(self.progress, "value", int(100 * f)),
            )
        return self._cache[key]

    def train(self) -> Comparison:
        """Run (or fetch from the cache) the comparison for the current knobs and show it."""
        self.comparison = self._compute(self._key())
        self.progress.value = 100
        return self.comparison

    def show(self, comparison: Comparison) -> None:
        """Cache a finished comparison (e.g. one shared by every session of a server) under
        its own configuration, and show it when the knobs select that configuration."""
        key = (comparison.integrand.name, comparison.config)
        self._cache[key] = comparison
        if key == self._key():
            self.comparison = comparison
            self.progress.value = 100

    async def on_train_click(self, _event: object = None) -> None:
        """The *Train* button: compute in a worker thread, then show on the server's loop.

        A :class:`~precml_widgets.errors.PrecmlError` (bad input, a diverged flow) is shown
        in ``error_pane``, never raised.
        """
        key = self._key()  # the knobs at the click, even if they move while it trains
        self.busy = True
        self.train_button.disabled = True
        self.error_pane.object = ""
        try:
            result = await asyncio.to_thread(self._compute, key)
        except PrecmlError as exc:  # bad input or a diverged flow: say so, show nothing
            self.error_pane.object = f"**Training failed:** {html.escape(str(exc))}"
            self.progress.value = 0
        else:
            if key == self._key():
                self.comparison = result
                self.progress.value = 100
        finally:
            self.busy = False
            self.train_button.disabled = False

    # -- views -------------------------------------------------------------------------------
    @param.depends(*_KNOBS, watch=True)
    def _knobs_changed(self) -> None:
        """Show the cached result for the new knobs, or nothing until *Train* is pressed."""
        self.progress.value = 0
        self.error_pane.object = ""
        self.comparison = self._cache.get(self._key())

    def summary(self) -> str:
        """Markdown table of estimates, errors, pulls and unweighting efficiencies."""
        comparison = self.comparison
        if comparison is None:
            return "Press **Train** to run the flow and VEGAS on this integrand."
        exact = comparison.integrand
        rows = [
            "| method | estimate | rel. error | pull | calls | eff. (max) | "
            f"eff. ({self.quantile:.2%}) |",
            "|:--|--:|--:|--:|--:|--:|--:|",
        ]
        for method, r in comparison.results.items():
            pull = f"{comparison.pull(method):+.2f}" if comparison.has_exact else "—"
            rows.append(
                f"| {method} | {r.estimate:.6g} ± {r.error:.2g} | {r.relative_error:.2e} | "
                f"{pull} | {r.calls} | {comparison.unweighting_efficiency(method):.3f} | "
                f"{comparison.unweighting_efficiency(method, self.quantile):.3f} |"
            )
        known = f"exact {exact.exact:.8g}" if comparison.has_exact else "exact value unknown"
        if comparison.flagged:  # the guard: estimates that disagree are not ranked
            verdict = f"**Not compared:** {html.escape(comparison.guard.message)}"
        else:
            agree = "" if comparison.guard is None else f" {html.escape(comparison.guard.message)}"
            verdict = (
                f"At equal calls, relative error of VEGAS+ / flow = "
                f"{comparison.error_ratio('VEGAS+'):.2f} (above 1: the flow is better).{agree}"
            )
        head = f"**{html.escape(exact.name)}**: {known} ({html.escape(exact.reference)})."
        own = [
            w
            for w in comparison.warnings
            if not comparison.flagged or w != comparison.guard.message
        ]
        if own:  # each method's own caveats (e.g. vegas's Q or weight tail) travel with its row
            verdict += "\n\n**Caveats:**\n\n" + "\n".join(f"- {html.escape(w)}" for w in own)
        note = (
            "*Efficiencies ⟨w⟩/w_max on fresh events; for VEGAS+ and VEGAS the events come "
            "from the adapted grid alone (no stratification).*"
        )
        return "\n\n".join([head, verdict, "\n".join(rows), note])

    def projection_message(self) -> str:
        """Why no projection is shown ('' when one is)."""
        if self.comparison is None:
            return ""
        dim = self.comparison.integrand.dim
        if self.x_dim >= dim or self.y_dim >= dim or self.x_dim == self.y_dim:
            return f"Choose two different coordinates between 0 and {dim - 1} to project on."
        return ""

    @param.depends("comparison", watch=True, on_init=True)
    def _refresh(self) -> None:
        """Update the text panes (never retrains: reads the finished comparison)."""
        self.summary_pane.object = self.summary()
        if self.comparison is None:
            self.message_pane.object = ""
            return
        message = self.projection_message()
        self.message_pane.object = message
        self.projections_pane.visible = not message

    def projected_dims(self) -> tuple[int, int]:
        """The coordinates the images show: the knobs' when they can be projected, else the
        last shown ones that fit the comparison, else ``(0, 1)`` (images hidden then)."""
        if not self.projection_message():
            self._shown_dims = (self.x_dim, self.y_dim)
        elif self.comparison is not None and max(self._shown_dims) >= self.comparison.integrand.dim:
            self._shown_dims = (0, 1)
        return self._shown_dims

    @param.depends("comparison", watch=True)
    def _show_comparison(self) -> None:
        """Draw the figures of a new comparison, once: the sliders then move their parts."""
        comparison = self.comparison
        shown = comparison is not None
        for pane in (self.convergence_pane, self.weights_pane, self.projections_pane):
            pane.visible = shown
        if not shown:
            return
        self.live.forget()
        self.convergence_pane.object = convergence_plot(comparison)
        self.weights_pane.object = weight_histogram(comparison, self.quantile, tag=self.live.tag)
        drawn = shared_projections(comparison, self.quantile, self.projected_dims())
        # one fixed-size pane per image: a Layout inside a stretching column collapses
        self.projections_pane.objects = [
            pn.pane.HoloViews(projection_image(p, f"projection:{i}", tag=self.live.tag))
            for i, p in enumerate(drawn)
        ]
        self.projections_pane.visible = not self.projection_message()

    @param.depends("quantile", "x_dim", "y_dim", watch=True)
    def _move(self) -> None:
        """A slider moved: the text panes, the ``w_max`` lines and the projection images
        change in place, sent to the browser as one message (``pn.io.hold``)."""
        with pn.io.hold():
            self._refresh()
            comparison = self.comparison
            if comparison is None:
                return
            marks = weight_marks(comparison, self.quantile)
            if not self.projection_message():
                marks |= projection_marks(comparison, self.quantile, self.projected_dims())
            for name, change in marks.items():
                self.live.update(name, change)

    def __panel__(self) -> pn.viewable.Viewable:
        # widgets narrower than their 300 px column (Panel's default 300 px overflowed it)
        fit = {name: {"width": 260} for name in (*_KNOBS, "x_dim", "y_dim")}
        knobs = pn.Param(self.param, parameters=list(_KNOBS), widgets=fit, show_name=False)
        quantile = {"type": pn.widgets.FloatSlider, "format": "0.0000", "width": 260}
        inspect = pn.Param(
            self.param,
            parameters=["quantile", "x_dim", "y_dim"],
            widgets={**fit, "quantile": {**quantile, "css_classes": ["precml-quantile"]}},
            show_name=False,
        )
        return pn.Row(
            pn.Column(
                "### Integration", knobs, self.train_button, self.progress, inspect, width=300
            ),
            pn.Column(
                self.error_pane,
                self.summary_pane,
                self.convergence_pane,
                self.weights_pane,
                self.message_pane,
                self.projections_pane,
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
