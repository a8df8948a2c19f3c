"""EFT explorer: learned vs exact ratios, expected regions and toy posteriors of the SMEFT study.

:class:`EFTExplorer` is a thin Panel view over the inference core: given trained models (or
their finished :class:`~precml_widgets.inference.ClassifierStudy`) it computes, once per set of
models, the study, every likelihood's :func:`~precml_widgets.inference.q_grid`, the exact
ratio's terms and the quadratic classifier's ``a(x)``, ``b(x)`` on the map's grid. A slider move
only combines these cached arrays (the plain classifier's network runs per move: 61 x 39
points, a few ms); the luminosity re-contours the cached q grids (q scales with it); the toy
posterior is recomputed on *New toy* (or per move if ``posterior_follows``). *Retrain* trains.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from precml_widgets._checks import require_instance
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.classifiers import LearnedRatio, pair_products
from precml_widgets.inference.nle import NeuralLikelihood
from precml_widgets.inference.plots import (
    posterior_plot,
    ratio_marks,
    ratio_panels,
    region_marks,
    region_plot,
)
from precml_widgets.inference.smeft import quadratic_terms
from precml_widgets.inference.study import (
    ClassifierStudy,
    PosteriorStudy,
    classifier_study,
    posterior_study,
    q_grid,
)
from precml_widgets.live import LiveParts
from precml_widgets.panel_compat import color_kwargs

pn = require("panel", "widgets", "the EFT explorer")
param = require("param", "widgets", "the EFT explorer")

__all__ = ["COS_THETA", "LUMINOSITY_STEPS", "NLE_LABEL", "SQRT_S_GEV", "EFTExplorer", "Trainer"]

#: Retrains one learned ratio (called by *Retrain*, never by a slider).
Trainer = Callable[[], LearnedRatio]
#: Energies of the ratio maps, GeV: the LEP-2 training energies' range [182.7, 206.6].
SQRT_S_GEV = np.linspace(182.7, 206.6, 61)
#: Cosines of the ratio maps: the measurement's acceptance ``|cos theta| <= 0.95``.
COS_THETA = np.linspace(-0.95, 0.95, 39)
#: The luminosity slider's steps (a common factor on every energy's luminosity).
LUMINOSITY_STEPS = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0)
#: The learned likelihood's label in the toy posterior study.
NLE_LABEL = "NLE"
_KNOBS = ("c1", "c2", "luminosity", "model", "posterior_follows", "new_toy", "retrain")


class EFTExplorer(pn.viewable.Viewer):
    """Sliders for two Wilson coefficients and the luminosity over the learned and exact answers.

    Args:
        models: learned ratios by label (e.g. ``{"quadratic": ..., "plain": ...}``), all on the
            same two-coefficient problem.
        nle: the neural likelihood of the toy posteriors (on its own problem, e.g.
            :func:`~precml_widgets.inference.nle_problem`).
        trainers: ``{label: trainer}`` for *Retrain* (labels of ``models``); none: no retrain.
        study: a finished study of ``models`` (else computed here, once).
        study_options: keyword arguments of :func:`classifier_study` (here and on retrain).
        n_grid: grid points per coefficient of the region contours.
        posterior_grid: grid cells per coefficient of the toy posteriors.
        posterior_draws: draws per side of the C2ST.
    """

    c1 = param.Number(default=0.0, bounds=(-1.0, 1.0), doc="First free Wilson coefficient.")
    c2 = param.Number(default=0.0, bounds=(-1.0, 1.0), doc="Second free Wilson coefficient.")
    luminosity = param.Selector(
        default=1.0,
        objects=list(LUMINOSITY_STEPS),
        label="Luminosity ×",
        doc="Common factor on the stated integrated luminosities (regions only).",
    )
    model = param.Selector(objects=[], label="Learned ratio", doc="The learned model shown.")
    posterior_follows = param.Boolean(
        default=False,
        label="Toy follows the coefficients",
        doc="Recompute the toy posterior on every coefficient move (about a second each); "
        "off: only on New toy.",
    )
    toy_seed = param.Integer(default=0, bounds=(0, None), doc="Seed of the shown toy data set.")
    new_toy = param.Event(label="New toy", doc="Simulate another toy data set at the shown C.")
    retrain = param.Event(label="Retrain", doc="Retrain the classifiers and recompute the study.")
    study = param.ClassSelector(class_=ClassifierStudy, default=None, precedence=-1)
    posterior = param.ClassSelector(class_=PosteriorStudy, default=None, precedence=-1)

    def __init__(
        self,
        models: Mapping[str, LearnedRatio],
        nle: NeuralLikelihood,
        *,
        trainers: Mapping[str, Trainer] | None = None,
        study: ClassifierStudy | None = None,
        study_options: Mapping[str, Any] | None = None,
        n_grid: int = 61,
        posterior_grid: int = 25,
        posterior_draws: int = 2_000,
        **params: Any,
    ) -> None:
        models = dict(models)
        if not models or not all(isinstance(m, LearnedRatio) for m in models.values()):
            raise InvalidInputError(
                "models must map labels to LearnedRatio objects (at least one), got "
                f"{ {k: type(v).__name__ for k, v in models.items()} }; train them with "
                "train_ratio or load them with load_pretrained('quadratic')."
            )
        require_instance("nle", nle, NeuralLikelihood, hint="train_nle or load_pretrained('nle').")
        problem = next(iter(models.values())).problem
        if problem.dim != 2 or any(m.problem != problem for m in models.values()):
            raise InvalidInputError(
                "models must all be trained on one problem of 2 free coefficients, got "
                f"{[m.problem.free for m in models.values()]}; use default_problem()."
            )
        if unknown := sorted(set(trainers or {}) - set(models)):
            raise InvalidInputError(
                f"trainers {unknown} name no model of {sorted(models)}; give one per model label."
            )
        self.problem, self.nle = problem, nle
        self._trainers = dict(trainers or {})
        self._study_options = dict(study_options or {})
        self._n_grid, self._posterior_grid, self._draws = n_grid, posterior_grid, posterior_draws
        self._grids: dict[str, Any] = {}  # q_grid per likelihood, made once per study
        self._thresholds: dict[float, float] = {}  # q thresholds by CL
        grid_s, grid_c = np.meshgrid(SQRT_S_GEV, COS_THETA, indexing="ij")
        self._features = np.column_stack([grid_s.ravel(), grid_c.ravel()])
        lam = problem.measurement.lambda_gev
        self._exact_terms = quadratic_terms(grid_s, grid_c, lambda_gev=lam)  # computed once
        self._learned_terms: tuple[Any, Any] | None = None  # the quadratic model's a(x), b(x)
        self._training, self._posterior_seed = False, 0
        self.live = LiveParts()  # the ratio images and the region's cross, moved in place
        # each figure its own pane (a Layout in a fixed-width column collapses), axes unlinked
        self.exact_pane, self.learned_pane, self.difference_pane, self.region_pane, *post = (
            pn.pane.HoloViews(None, linked_axes=False, css_classes=[f"precml-eft-{n}"])
            for n in ("exact", "learned", "difference", "regions", "posterior", "nle")
        )
        self.posterior_pane = pn.Row(*post)
        self.summary_pane = pn.pane.Markdown("", width=920, css_classes=["precml-eft"])
        self.error_pane = pn.pane.Markdown("", styles={"color": "#b00020"})
        steps = len(self._trainers) + 1
        self.progress = pn.indicators.Progress(max=steps, visible=False, width=250)
        super().__init__(**params)
        for name, lo, hi, label in zip(
            ("c1", "c2"), problem.lower, problem.upper, problem.free, strict=True
        ):
            knob = self.param[name]
            knob.bounds, knob.label, knob.step = (float(lo), float(hi)), label, (hi - lo) / 60
        self.param.model.objects = list(models)
        self.model = next(iter(models))
        if study is not None and set(study.models) != set(models):
            raise InvalidInputError(
                f"study holds the models {sorted(study.models)}, not {sorted(models)}; pass "
                "the study of these models or none (it is then computed here)."
            )
        self.study = study or classifier_study(problem, models, **self._study_options)

    @param.depends("study", watch=True)
    def _study_changed(self) -> None:
        """Cache each likelihood's q grid and the thresholds, then redraw everything."""
        study = self.study
        self._grids = {
            label: q_grid(q, n_grid=self._n_grid) for label, q in study.likelihoods.items()
        }
        self._thresholds = {cl: r.threshold for cl, r in study.regions["exact"].items()}
        self.param.model.objects = list(study.models)
        if self.model not in study.models:
            self.model = next(iter(study.models))
        self._show_ratios()
        self._show_regions()
        self._show_posterior()  # the toy does not depend on the classifiers: drawn once

    @param.depends("model", watch=True)
    def _show_ratios(self) -> None:
        """Draw the three ratio maps of the shown model (their images then move in place)."""
        if self.study is None:  # set up in __init__: the study draws everything once
            return
        model = self.study.models[self.model]  # a quadratic one: a(x), b(x) once per model
        quadratic = model.kind == "quadratic"
        self._learned_terms = model.coefficient_functions(self._features) if quadratic else None
        self.live.forget("ratio:")
        panels = ratio_panels(
            SQRT_S_GEV,
            COS_THETA,
            *self.ratio_arrays(),
            label=self.model,
            energies=self.problem.measurement.energies_gev,
            tag=self.live.tag,
        )
        for pane, figure in zip(
            (self.exact_pane, self.learned_pane, self.difference_pane), panels, strict=True
        ):
            pane.object = figure

    def ratio_arrays(self) -> tuple[Any, Any]:
        """``ratio_map``'s exact and learned ratio at the shown C from cached terms, (n_s, n_c)."""
        free = np.array([self.c1, self.c2])
        c = self.problem.full(free[None, :])[0]
        sm, lin, quad = self._exact_terms
        exact = (sm + lin @ c + quad @ (c * c)) / sm
        if self._learned_terms is None:  # plain classifier: its network, 2379 points
            learned = self.study.models[self.model](self._features, c)[0]
        else:
            a, b = self._learned_terms
            learned = np.maximum(1.0 + a @ free + b @ pair_products(free), 1e-6)  # its floor
        return exact, learned.reshape(sm.shape)

    @param.depends("c1", "c2", watch=True)
    def _move(self) -> None:
        """A coefficient moved: ratio images and the region's cross move, in one message."""
        if self.study is None:
            return
        with pn.io.hold():
            marks = ratio_marks(*self.ratio_arrays())
            marks |= region_marks((self.c1, self.c2), self.problem.free)
            for name, change in marks.items():
                self.live.update(name, change)
        if self.posterior_follows:
            self._show_posterior()

    @param.depends("luminosity", watch=True)
    def _show_regions(self) -> None:
        """Re-contour the cached q grids at the luminosity factor (no likelihood evaluated)."""
        if self.study is None:
            return
        self.live.forget("region:")
        self.region_pane.object = region_plot(
            self._grids,
            self._thresholds,
            luminosity=self.luminosity,
            current=(self.c1, self.c2),
            names=self.problem.free,
            tag=self.live.tag,
        )

    def toy_truth(self) -> tuple[float, float]:
        """The shown coefficients clipped into the NLE's box: the toy's truth."""
        lo, hi = self.nle.problem.lower, self.nle.problem.upper
        return (min(max(self.c1, lo[0]), hi[0]), min(max(self.c2, lo[1]), hi[1]))

    @param.depends("new_toy", watch=True)
    def _another_toy(self) -> None:
        self.toy_seed += 1
        self._show_posterior()

    def _show_posterior(self) -> None:
        """Simulate the toy at the shown C (unless shown) and compare NLE and exact posteriors."""
        post = self.posterior
        shown = None if post is None else (tuple(post.truth), self._posterior_seed)
        if shown != (self.toy_truth(), self.toy_seed):
            self._posterior_seed = self.toy_seed
            self.posterior = posterior_study(
                self.nle.problem,
                {NLE_LABEL: self.nle.log_prob},
                truth=self.toy_truth(),
                n_grid=self._posterior_grid,
                n_draws=self._draws,
                seed=self.toy_seed,
            )
        figures = posterior_plot(self.posterior, NLE_LABEL)
        for pane, figure in zip(self.posterior_pane, figures, strict=True):
            pane.object = figure
        self.summary_pane.object = self.summary()

    @param.depends("retrain", watch=True)
    def _on_retrain(self) -> None:
        if not self._trainers or self._training:
            return
        self._training = True
        self.progress.param.update(value=0, visible=True)
        self.error_pane.object = ""
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:  # served: train off the loop
            threading.Thread(target=self._train, args=(doc,), daemon=True).start()
        else:
            self._train(None)

    def _train(self, doc: Any) -> None:
        """Run the trainers, then the study once; show the result (on the session's loop)."""
        models = dict(self.study.models)
        try:
            for k, (label, trainer) in enumerate(self._trainers.items()):
                models[label] = trainer()
                self.progress.value = k + 1
            study: ClassifierStudy | BaseException = classifier_study(
                self.problem, models, **self._study_options
            )
        except Exception as exc:  # shown on the page; the old models stay
            study = exc

        def finish() -> None:
            self._training = False
            self.progress.param.update(value=self.progress.max, visible=False)
            if isinstance(study, BaseException):
                self.error_pane.object = f"**Retraining failed:** {html.escape(repr(study))}"
            else:
                self.study = study

        finish() if doc is None else doc.add_next_tick_callback(finish)

    def summary(self) -> str:
        """Markdown: the study's regions, limits and ratio accuracies, the toy posterior's C2ST
        and HPD areas, and the caveats of both."""
        study, post = self.study, self.posterior
        lines = [line for line in study.summary().splitlines() if not line.startswith("caveat")]
        out = ["**Expected regions (Asimov, SM data, luminosity × 1)**", ""]
        out += [f"- {html.escape(line, quote=False)}" for line in lines]
        if post is not None:
            c, truth = post.comparisons[NLE_LABEL], ", ".join(f"{v:+.3f}" for v in post.truth)
            areas = zip((68, 95), c.volumes_exact, c.volumes_learned, strict=True)
            out += [
                f"\n**Toy posterior** ({post.data.shape[0]} events at C = ({truth}), seed "
                f"{self._posterior_seed})\n",
                f"- C2ST accuracy {NLE_LABEL} vs exact: {c.c2st_accuracy:.3f} (0.5: "
                f"indistinguishable), AUC {c.auc:.3f}",
                f"- HPD areas exact / {NLE_LABEL}: "
                + "; ".join(f"{lvl} % {e:.3f} / {m:.3f}" for lvl, e, m in areas),
            ]
        caveats = list(study.caveats) + (list(post.caveats) if post is not None else [])
        out += ["", "**Caveats**", ""] + [f"- *{html.escape(c, quote=False)}*" for c in caveats]
        return "\n".join(out)

    def __panel__(self) -> pn.viewable.Viewable:
        widgets: dict[str, Any] = {n: {"throttled": True, "width": 250} for n in ("c1", "c2")}
        lum = {"type": pn.widgets.DiscreteSlider, "css_classes": ["precml-eft-luminosity"]}
        widgets["luminosity"] = lum | {"width": 250}
        widgets |= {"model": {"width": 250}, "new_toy": {"width": 120}}
        widgets["retrain"] = {"width": 120, "disabled": not self._trainers}
        widgets["retrain"] |= color_kwargs(pn.widgets.Button)
        knobs = pn.Param(self.param, parameters=list(_KNOBS), widgets=widgets, show_name=False)
        return pn.Row(
            pn.Column("### SMEFT inference", knobs, self.progress, width=280),
            pn.Column(
                self.error_pane,
                pn.Row(self.exact_pane, self.learned_pane, self.difference_pane),
                pn.Row(self.region_pane, self.posterior_pane),
                self.summary_pane,
                width=940,
            ),
        )
