"""Two-sample explorer: which statistic sees a deformation first, and at what cost.

:class:`TwoSampleExplorer` is a thin Panel view over
:func:`~precml_widgets.twosample.power.power_study`. *Run toys* runs the null and alternative
toys of the chosen statistics in a worker thread (with a progress bar) and caches the study by
configuration; the statistic and ε knobs only re-read the finished study. *Fit NPLM* fits the
kernel NPLM on one data sample at the shown ε (:func:`~precml_widgets.twosample.log_ratio
.log_ratio_map`, also in a worker thread, cached) and draws the learned log-ratio ``f(x)``
against one feature beside the exact one. Both caches keep the :data:`CACHE_SIZE` most recent
results of a session (a shared study passed to :meth:`TwoSampleExplorer.show` stays).
"""

from __future__ import annotations

import asyncio
import html
import logging
from typing import Any

import numpy as np

from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError, PrecmlError
from precml_widgets.panel_compat import color_kwargs, label_kwargs
from precml_widgets.stats.deformations import DEFORMATIONS, PAPER_DIMS
from precml_widgets.stats.nplm import KERNEL_DEFAULTS
from precml_widgets.stats.suite import statistic_names
from precml_widgets.twosample.cache import BoundedCache
from precml_widgets.twosample.log_ratio import LogRatioMap, log_ratio_map
from precml_widgets.twosample.plots import (
    epsilon_cl_plot,
    log_ratio_plot,
    power_plot,
    timing_plot,
    toys_plot,
)
from precml_widgets.twosample.power import FAMILIES, PowerConfig, PowerStudy, power_study

pn = require("panel", "widgets", "the two-sample explorer")
param = require("param", "widgets", "the two-sample explorer")

__all__ = ["CACHE_SIZE", "TwoSampleExplorer"]

#: Studies and NPLM maps (up to 16 MB each) a session keeps, least recently used out first.
CACHE_SIZE = 8

_log = logging.getLogger(__name__)

#: Statistics the explorer offers (NPLM has its own section of notebook 05: its toys take
#: seconds each).
_FAST = ("mean_ks", "sliced_ks", "sliced_wasserstein", "fgd", "mmd_poly", "mmd_gaussian")
#: The knobs that define a study (changing one needs *Run toys*).
_KNOBS = ("family", "dim", "kind", "eps_max", "n", "statistics", "toys", "cl", "seed")


class TwoSampleExplorer(pn.viewable.Viewer):
    """Power curves of two-sample statistics on a deformed reference model of arXiv:2409.16336.

    Example:
        >>> ex = TwoSampleExplorer(n=200, toys=40, statistics=["mean_ks"])
        >>> ex.run().results["mean_ks"].threshold > 0
        True
    """

    family = param.Selector(default="cg", objects=list(FAMILIES), doc="Reference family.")
    dim = param.Selector(default=5, objects=list(PAPER_DIMS), doc="Dimension d.")
    kind = param.Selector(default="mean", objects=list(DEFORMATIONS), doc="Deformation.")
    eps_max = param.Number(
        default=0.2, bounds=(0.001, 2.0), label="Largest ε", doc="Largest deformation ε."
    )
    n = param.Integer(
        default=2_000, bounds=(100, 20_000), label="Events per sample", doc="Events per sample."
    )
    statistics = param.ListSelector(
        default=["mean_ks", "sliced_wasserstein", "mmd_poly", "fgd"],
        objects=list(_FAST),
        doc="Statistics to compare.",
    )
    toys = param.Integer(
        default=200, bounds=(20, 5_000), label="Toys", doc="Toys per distribution."
    )
    cl = param.Number(
        default=0.95, bounds=(0.5, 0.999), label="Confidence level", doc="Confidence level."
    )
    seed = param.Integer(default=0, bounds=(0, None), doc="Seeds every toy.")
    shown = param.Selector(
        default=None, objects=[], label="Toys of", doc="Statistic whose toys are shown."
    )
    eps_index = param.Integer(
        default=2, bounds=(0, 5), label="At ε number", doc="Which ε of the grid (0 to 5) is shown."
    )
    feature = param.Integer(
        default=1, bounds=(1, 5), label="NPLM f against feature", doc="Feature x_k (1 to d)."
    )
    lam = param.Selector(
        default=KERNEL_DEFAULTS["lam"],
        objects=[1e-10, 1e-8, 1e-6, 1e-5, 1e-4],
        label=f"NPLM λ (registered: {KERNEL_DEFAULTS['lam']:g})",
        doc="Penalty λ of the kernel NPLM fit.",
    )
    study = param.ClassSelector(class_=PowerStudy, default=None, precedence=-1)
    log_ratio = param.ClassSelector(class_=LogRatioMap, default=None, precedence=-1)

    def __init__(self, **params: Any) -> None:
        self.summary_pane = pn.pane.Markdown(
            "", sizing_mode="stretch_width", css_classes=["precml-twosample"]
        )
        self.power_pane = pn.pane.HoloViews(None)
        self.toys_pane = pn.pane.HoloViews(None)
        self.timing_pane = pn.pane.HoloViews(None)
        self.epsilon_cl_pane = pn.pane.HoloViews(None)
        self.nplm_text = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.nplm_pane = pn.pane.HoloViews(None)
        self.error_pane = pn.pane.Markdown("", styles={"color": "#b00020"})
        self.progress = pn.indicators.Progress(value=0, max=100, width=280)
        super().__init__(**params)
        self.param.statistics.objects = [s for s in _FAST if s in statistic_names()]
        self._cache: BoundedCache[PowerStudy] = BoundedCache(CACHE_SIZE)
        self._maps: BoundedCache[LogRatioMap] = BoundedCache(CACHE_SIZE)
        self.run_button = pn.widgets.Button(
            **label_kwargs(pn.widgets.Button, "Run toys"), **color_kwargs(pn.widgets.Button)
        )
        self.run_button.on_click(self.on_run_click)
        self.fit_button = pn.widgets.Button(
            **label_kwargs(pn.widgets.Button, "Fit NPLM"), **color_kwargs(pn.widgets.Button)
        )
        self.fit_button.on_click(self.on_fit_click)
        self._show_study()
        self._dim_changed()
        self._show_map()

    def config(self) -> PowerConfig:
        """The study the knobs select: six sizes ε from 0 to :attr:`eps_max`."""
        return PowerConfig(
            family=self.family,
            dim=self.dim,
            kind=self.kind,
            epsilons=tuple(float(e) for e in np.linspace(0.0, self.eps_max, 6)),
            n=self.n,
            statistics=tuple(self.statistics),
            toys=self.toys,
            cl=self.cl,
            seed=self.seed,
        )

    #: The largest :attr:`PowerConfig.work` a click may start (~a minute on 2 CPU cores).
    MAX_WORK = 2 * 10**10

    def _compute(self, config: PowerConfig, doc: Any = None) -> PowerStudy:
        """The study for ``config`` (cached); the progress bar is set through ``doc``'s event
        loop when served (this runs in a worker thread)."""
        study = self._cache.get(config)
        if study is None:
            if config.work > self.MAX_WORK:
                raise InvalidInputError(
                    f"this study draws {config.work:.2g} event features, more than the "
                    f"explorer's {self.MAX_WORK:.0e}: lower the toys, the events per sample or "
                    "the number of statistics, or run power_study in a notebook."
                )
            self._progress(0, doc)
            study = power_study(config, on_progress=lambda f: self._progress(int(100 * f), doc))
            self._cache.put(config, study)
        return study

    def _progress(self, value: int, doc: Any) -> None:
        """Set the progress bar: on the served document's event loop, else directly."""
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(lambda: setattr(self.progress, "value", value))
        else:
            self.progress.value = value

    def run(self) -> PowerStudy:
        """Run (or fetch from the cache) the study of the current knobs and show it."""
        self.study = self._compute(self.config())
        return self.study

    def show(self, study: PowerStudy) -> None:
        """Cache a finished study (e.g. one shared by every session of a server) under its
        configuration, and show it when the knobs select that configuration."""
        self._cache.put(study.config, study, pin=True)
        if study.config == self.config():
            self.study = study
            self.progress.value = 100

    async def on_run_click(self, _event: object = None) -> None:
        """*Run toys*: compute in a worker thread; a bad input or a failed statistic is shown
        in ``error_pane``, never raised."""
        self.run_button.disabled = True
        self.error_pane.object = ""
        try:
            config = self.config()
            study = await asyncio.to_thread(self._compute, config, pn.state.curdoc)
        except PrecmlError as exc:
            self.error_pane.object = f"**The toys failed:** {html.escape(str(exc))}"
        except Exception as exc:  # shown, and its traceback goes to the log
            _log.exception("the two-sample toys failed")
            self.error_pane.object = (
                f"**The toys failed:** {html.escape(type(exc).__name__)}: "
                f"{html.escape(str(exc))} (the traceback is in the log)"
            )
        else:
            if config == self.config():
                self.study = study
        finally:
            self.run_button.disabled = False

    def _map_key(self) -> tuple[Any, ...]:
        """What a log-ratio map depends on: the model, the deformation and its shown ε, the
        events per sample, the seed and λ (not the statistics or the toys)."""
        eps = float(np.linspace(0.0, self.eps_max, 6)[self.eps_index])
        return (self.family, self.dim, self.kind, self.n, self.seed, eps, self.lam)

    def _fit_map(self, key: tuple[Any, ...]) -> LogRatioMap:
        """The log-ratio map of ``key`` (cached; no toy study needed); touches no view."""
        result = self._maps.get(key)
        if result is None:
            family, dim, kind, n, seed, eps, lam = key
            result = log_ratio_map(eps, family=family, dim=dim, kind=kind, n=n, seed=seed, lam=lam)
            self._maps.put(key, result)
        return result

    def fit(self) -> LogRatioMap:
        """Fit (or fetch from the cache) the NPLM log-ratio at the shown ε and show it."""
        self.log_ratio = self._fit_map(self._map_key())
        return self.log_ratio

    async def on_fit_click(self, _event: object = None) -> None:
        """*Fit NPLM*: fit in a worker thread; a failure is shown in ``error_pane``."""
        self.fit_button.disabled = True
        self.error_pane.object = ""
        try:
            await asyncio.to_thread(self._fit_map, self._map_key())
        except Exception as exc:  # shown; a traceback not of precml's errors goes to the log
            if not isinstance(exc, PrecmlError):
                _log.exception("the NPLM fit failed")
            self.error_pane.object = f"**The NPLM fit failed:** {html.escape(str(exc))}"
        else:
            self.log_ratio = self._maps.get(self._map_key())
        finally:
            self.fit_button.disabled = False

    @param.depends("dim", watch=True)
    def _dim_changed(self) -> None:
        self.param.feature.bounds = (1, self.dim)
        self.feature = min(self.feature, self.dim)

    @param.depends(*_KNOBS, "eps_index", "lam", watch=True)
    def _map_knobs_changed(self) -> None:
        """Show the cached log-ratio map for the new knobs, or nothing until *Fit NPLM*."""
        self.log_ratio = self._maps.get(self._map_key())

    @param.depends("log_ratio", "feature", watch=True)
    def _show_map(self) -> None:
        """Draw the log-ratio map against the chosen feature, with its one-line summary."""
        result = self.log_ratio
        self.nplm_pane.visible = result is not None
        if result is None:
            self.nplm_text.object = "Press **Fit NPLM** to see f(x) at the shown ε."
            return
        self.nplm_text.object = html.escape(result.describe())
        self.nplm_pane.object = log_ratio_plot(result, self.feature - 1)

    @param.depends(*_KNOBS, watch=True)
    def _knobs_changed(self) -> None:
        """Show the cached study for the new knobs, or nothing until *Run toys*."""
        try:
            self.study = self._cache.get(self.config())
        except PrecmlError as exc:  # e.g. no statistic selected
            self.error_pane.object = html.escape(str(exc))
            self.study = None

    def summary(self) -> str:
        """Markdown: power per statistic and ε, time per toy, and the shown toys' p-value."""
        study = self.study
        if study is None:
            return "Press **Run toys** to compare the statistics on this deformation."
        eps = study.config.epsilons
        shown = study.results[self.shown]
        p = shown.null.p_value(float(np.median(shown.alternatives[self.eps_index])))
        median = (
            f"Median toy at ε = {eps[self.eps_index]:.3g} for **{self.shown}**: {p.describe()}."
        )
        note = (
            f"*Power: fraction of toys above the null's {study.config.cl:.0%} threshold "
            "(68 % Clopper–Pearson intervals in the plot); at ε = 0 it estimates the "
            f"false-alarm rate {1 - study.config.cl:.2g}. ε at power ½: interpolated on the "
            "grid. ε_CL (paper, arXiv:2409.16336): the ε at which the mean of the toys "
            "crosses the threshold, interpolated on the grid, ± a bootstrap of the toys (≤: "
            "already above at the first ε). Time per toy includes sampling.*"
        )
        return "\n\n".join([study.markdown_table(), median, note])

    @param.depends("study", watch=True)
    def _show_study(self) -> None:
        """Draw a new study's power and timing plots; reset the shown statistic."""
        study = self.study
        for pane in (self.power_pane, self.toys_pane, self.timing_pane, self.epsilon_cl_pane):
            pane.visible = study is not None
        if study is None:
            self.summary_pane.object = self.summary()
            return
        names = list(study.results)
        self.param.shown.objects = names
        self.param.eps_index.bounds = (0, len(study.config.epsilons) - 1)
        with param.parameterized.discard_events(self):
            self.shown = self.shown if self.shown in names else names[0]
        self.power_pane.object = power_plot(study)
        self.timing_pane.object = timing_plot(study)
        self.epsilon_cl_pane.object = epsilon_cl_plot(study)
        self._show_toys()

    @param.depends("shown", "eps_index", watch=True)
    def _show_toys(self) -> None:
        """Draw the shown statistic's toys at the shown ε."""
        if self.study is not None and self.shown in self.study.results:
            self.toys_pane.object = toys_plot(self.study, self.shown, self.eps_index)
        self.summary_pane.object = self.summary()

    def __panel__(self) -> pn.viewable.Viewable:
        fit = {name: {"width": 260} for name in (*_KNOBS, "shown", "eps_index", "feature", "lam")}
        fit["statistics"] = {"type": pn.widgets.CheckBoxGroup, "width": 260}
        knobs = pn.Param(self.param, parameters=list(_KNOBS), widgets=fit, show_name=False)
        inspect = pn.Param(
            self.param, parameters=["shown", "eps_index"], widgets=fit, show_name=False
        )
        nplm = pn.Param(self.param, parameters=["feature", "lam"], widgets=fit, show_name=False)
        return pn.Row(
            pn.Column(
                "### Two-sample tests",
                knobs,
                self.run_button,
                self.progress,
                inspect,
                "### NPLM f(x) at the shown ε",
                nplm,
                self.fit_button,
                width=300,
            ),
            pn.Column(
                self.error_pane,
                self.summary_pane,
                self.power_pane,
                pn.Row(self.epsilon_cl_pane, self.timing_pane),
                self.toys_pane,
                self.nplm_text,
                self.nplm_pane,
                width=930,
            ),
        )
