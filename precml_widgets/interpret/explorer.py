"""Interpretability explorer: SHAP distributions and active subspaces of a model's output.

:class:`InterpretabilityExplorer` is a thin Panel view over finished
:class:`~precml_widgets.interpret.explanation.Explanation` objects (SHAP values from
:func:`~precml_widgets.interpret.explain`, the active subspace from
:func:`~precml_widgets.interpret.active_subspace`). An explanation is given ready, or as a
builder that the explorer calls once, the first time its model and output are selected, and
caches. Every other control only slices the cached arrays: the dependence knobs redraw the
dependence plot, the event knob the waterfall, the colour knob the projection. Each explanation
keeps its own panes (hidden while another is shown), so switching back to a model redraws only
what a knob changed since.
"""

from __future__ import annotations

import contextlib
import functools
import html
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.interpret.explanation import Explanation
from precml_widgets.interpret.figures import FIGURE_FORMATS, figure_bytes, gradient_note
from precml_widgets.interpret.plots import (
    activity_plot,
    beeswarm_plot,
    dependence_plot,
    loadings_plot,
    projection_plot,
    spectrum_plot,
    waterfall_plot,
)

pn = require("panel", "widgets", "the interpretability explorer")
param = require("param", "widgets", "the interpretability explorer")

__all__ = ["Builder", "InterpretabilityExplorer"]

#: A deferred explanation: called once, the first time its (model, output) is selected.
Builder = Callable[[], Explanation]
_KNOBS = ("model", "output", "feature", "color_by", "event", "projection_colour")
_FIGURES = ("beeswarm", "dependence", "waterfall", "spectrum", "loadings", "projection")
_FIGURES += ("activity", "physics")  # activity scores beside mean |φ|; loadings in physics x
_ROWS = (("beeswarm", "spectrum"), ("dependence", "loadings"), ("waterfall", "projection"))
_ROWS += (("activity", "physics"),)


def _names(doc: str, label: str | None = None) -> Any:
    """A knob whose options are set per explanation (none until one is shown)."""
    return param.Selector(objects=[], check_on_set=True, allow_None=True, label=label, doc=doc)


class InterpretabilityExplorer(pn.viewable.Viewer):
    """SHAP beeswarm, dependence and waterfall beside the active subspace, for any model output.

    Args:
        explanations: finished explanations to show (the first one opens).
        builders: ``{(model, output): builder}`` for explanations computed on first selection.

    Example:
        >>> ex = InterpretabilityExplorer()
        >>> ex.explanation is None, ex.summary()[:20]
        (True, 'No explanation yet: ')
    """

    model = _names("The model to explain.")
    output = _names("The model's explained output.")
    feature = _names("Feature of the dependence plot.", "Dependence on")
    color_by = _names("Colour of the dependence plot.", "Coloured by")
    event = param.Integer(
        default=0, bounds=(0, 0), label="Waterfall of event", doc="Event shown as a waterfall."
    )
    projection_colour = param.Selector(
        default="score",
        objects=["score"],
        label="Projection coloured by",
        doc="Colour of the 2-D projection: the class (where known) or the score.",
    )
    explanation = param.ClassSelector(class_=Explanation, default=None, precedence=-1)

    def __init__(
        self,
        explanations: Iterable[Explanation] = (),
        builders: Mapping[tuple[str, str], Builder] | None = None,
        **params: Any,
    ) -> None:
        self.summary_pane = pn.pane.Markdown(
            "", sizing_mode="stretch_width", css_classes=["precml-interpret"]
        )
        self.error_pane = pn.pane.Markdown("", styles={"color": "#b00020"})
        # per figure, a stack of one pane per explanation: only the shown one's is visible
        self._stacks = {name: pn.Column() for name in _FIGURES}
        self._sets: dict[tuple[str, str] | None, dict[str, Any]] = {}
        self._drawn: dict[tuple[str, str], dict[str, tuple[Any, ...]]] = {}
        self._use_panes(None)
        self._builders: dict[tuple[str, str], Builder] = {}
        self._cache: dict[tuple[str, str], Explanation] = {}
        self._hold = False
        super().__init__(**params)
        for key, builder in (builders or {}).items():
            if not callable(builder):
                raise InvalidInputError(
                    f"builders[{key!r}] must be a callable returning an Explanation, got a "
                    f"{type(builder).__name__}; pass e.g. lambda: gaussian_classifier_example()."
                )
            self._builders[(str(key[0]), str(key[1]))] = builder
        for item in explanations:
            self._cache[self._checked(item).key] = item
        self._refresh_models()

    @staticmethod
    def _checked(item: object) -> Explanation:
        if not isinstance(item, Explanation):
            raise InvalidInputError(
                f"explanations must hold Explanation objects, got a {type(item).__name__}; "
                "build one with precml_widgets.interpret.gaussian_classifier_example() or "
                "Explanation(model=..., output=..., shap=explain(...), subspace=...)."
            )
        return item

    def keys(self) -> list[tuple[str, str]]:
        """Every (model, output) the explorer offers, computed or not."""
        return list(dict.fromkeys([*self._cache, *self._builders]))

    def add(self, explanation: Explanation, *, select: bool = True) -> None:
        """Cache a finished explanation (e.g. one shared by every session of a server) and,
        with ``select``, show it."""
        key = self._checked(explanation).key
        self._cache[key] = explanation
        for name, pane in self._sets.pop(key, {}).items():  # a replaced one is drawn anew
            self._stacks[name].remove(pane)
        self._drawn.pop(key, None)
        self._refresh_models(key if select else None)

    @contextlib.contextmanager
    def _held(self) -> Iterator[None]:
        """Knob changes inside (and the widgets' echoes of new options) draw nothing: the
        caller draws once, from a consistent state. Unlike discarded events, the widgets follow."""
        self._hold = True
        try:
            yield
        finally:
            self._hold = False

    def _refresh_models(self, key: tuple[str, str] | None = None) -> None:
        models = list(dict.fromkeys(m for m, _ in self.keys()))
        model = key[0] if key else self.model
        with self._held():
            self.param.model.objects = models
            self.model = model if model in models else (models[0] if models else None)
        self._model_changed(key[1] if key else None)

    @param.depends("model", watch=True)
    def _on_model(self) -> None:
        if not self._hold:
            self._model_changed()

    def _model_changed(self, output: str | None = None) -> None:
        outputs = [o for m, o in self.keys() if m == self.model]
        output = output if output is not None else self.output
        with self._held():
            self.param.output.objects = outputs
            self.output = output if output in outputs else (outputs or [None])[0]
        self._select()

    @param.depends("output", watch=True)
    def _on_output(self) -> None:
        if not self._hold:
            self._select()

    def _select(self) -> None:
        """Show the cached explanation of (model, output), building it once if deferred."""
        key = (self.model, self.output)
        self.error_pane.object = ""
        if key not in self._cache and key in self._builders:
            try:
                self._cache[key] = self._checked(self._builders[key]())
            except Exception as exc:  # shown on the page; the knobs keep working
                self.error_pane.object = (
                    f"**{html.escape(' · '.join(map(str, key)))} failed:** "
                    f"{html.escape(type(exc).__name__)}: {html.escape(str(exc))}"
                )
        self.explanation = self._cache.get(key)

    @param.depends("explanation", watch=True, on_init=True)
    def _show_explanation(self) -> None:
        """Set the knobs' ranges for a new explanation and draw every figure."""
        ex = self.explanation
        self._use_panes(None if ex is None else ex.key)
        if ex is None:
            self.summary_pane.object = self.summary()
            return
        names = list(ex.shap.feature_names)
        order = ex.shap.order()
        colours = ["class", "score"] if ex.labels is not None else ["score"]
        # choose before the new options reset the widgets: keep what still applies
        wanted = {
            "feature": self.feature if self.feature in names else names[int(order[0])],
            "color_by": self.color_by
            if self.color_by in names
            else names[int(order[min(1, len(order) - 1)])],
            "event": min(self.event, ex.shap.values.shape[0] - 1),
            "projection_colour": self.projection_colour
            if self.projection_colour in colours
            else colours[0],
        }
        with self._held():
            self.param.feature.objects = names
            self.param.color_by.objects = names
            self.param.event.bounds = (0, ex.shap.values.shape[0] - 1)
            self.param.projection_colour.objects = colours
            self.param.update(**wanted)
        self._draw("beeswarm", (), lambda: beeswarm_plot(ex.shap))  # once per explanation
        self._draw("spectrum", (), lambda: spectrum_plot(ex.subspace))
        self._draw("loadings", (), lambda: loadings_plot(ex.subspace))
        self._draw("physics", (), lambda: loadings_plot(ex.subspace, basis="physics"))
        self._draw("activity", (), lambda: activity_plot(ex.shap, ex.subspace))
        self._show_dependence()
        self._show_waterfall()
        self._show_projection()

    def _use_panes(self, key: tuple[str, str] | None) -> None:
        """Make ``self.<figure>_pane`` the panes of ``key``'s explanation (made and stacked on
        its first show) and show them alone (none for ``None``)."""
        if key not in self._sets:
            self._sets[key] = {
                name: pn.pane.HoloViews(None, css_classes=[f"precml-interpret-{name}"])
                for name in _FIGURES
            }
            for name, pane in self._sets[key].items():
                self._stacks[name].append(pane)
        for shown, panes in self._sets.items():
            for name, pane in panes.items():
                pane.visible = key is not None and shown == key
                if shown == key:
                    setattr(self, f"{name}_pane", pane)

    def _draw(self, name: str, knobs: tuple[Any, ...], figure: Callable[[], Any]) -> None:
        """Draw ``figure()`` in the shown explanation's ``name`` pane unless it shows ``knobs``."""
        drawn = self._drawn.setdefault(self.explanation.key, {})
        if drawn.get(name) != knobs:
            getattr(self, f"{name}_pane").object = figure()
            drawn[name] = knobs

    @param.depends("feature", "color_by", watch=True)
    def _show_dependence(self) -> None:
        if self._hold:
            return
        ex = self.explanation
        # a knob set by hand to a value of no shown explanation draws nothing
        names = () if ex is None else ex.shap.feature_names
        if self.feature in names and self.color_by in names:
            i, j = names.index(self.feature), names.index(self.color_by)
            self._draw("dependence", (i, j), lambda: dependence_plot(ex.shap, i, j))

    @param.depends("event", watch=True)
    def _show_waterfall(self) -> None:
        if self._hold:
            return
        ex = self.explanation
        if ex is not None and self.event < ex.shap.values.shape[0]:
            k = self.event
            self._draw("waterfall", (k,), lambda: waterfall_plot(ex.shap, k))
            self.summary_pane.object = self.summary()

    @param.depends("projection_colour", watch=True)
    def _show_projection(self) -> None:
        if self._hold:
            return
        ex = self.explanation
        if ex is not None and (self.projection_colour == "score" or ex.labels is not None):
            by = self.projection_colour
            colour = ex.labels if by == "class" else ex.shap.model_output
            self._draw("projection", (by,), lambda: projection_plot(ex.subspace, colour, by=by))

    def summary(self) -> str:
        """Markdown: the explainer and its measured additivity, the background, the shown
        event, the active subspace's leading eigenvalues and angle spread, the check against
        analytic SHAP values where known, and the caveats that go with these numbers."""
        ex = self.explanation
        if ex is None:
            return "No explanation yet: it is being computed…"
        r, s, esc = ex.shap, ex.subspace, html.escape
        bg = r.background
        k = self.event
        lam = s.eigenvalues
        rows = [
            "| quantity | value |",
            "|:--|:--|",
            f"| model · output | {esc(ex.model)} · {esc(ex.output)} |",
            f"| explainer | {esc(r.explainer)} on {r.values.shape[0]} events |",
            f"| additivity error max\\|Σφ + base − f\\| / std f over the background | "
            f"{r.additivity_error:.2e} |",
            f"| background | {bg.size} events, seed {bg.seed}, {esc(bg.source)} |",
            f"| event {k}: f(x), base, Σφ | {r.model_output[k]:.4g}, {r.base_values[k]:.4g}, "
            f"{r.values[k].sum():.4g} |",
            f"| λ1, λ2 ({s.band_level:.0%} bands) | {lam[0]:.3g} [{s.eigenvalue_bands[0, 0]:.3g}, "
            f"{s.eigenvalue_bands[1, 0]:.3g}], {lam[1]:.3g} [{s.eigenvalue_bands[0, 1]:.3g}, "
            f"{s.eigenvalue_bands[1, 1]:.3g}] |",
            f"| λ1 separated from λ2 | {'yes' if s.separated(0) else 'no'} |",
            f"| subspace gradients | {esc(gradient_note(s))} |",
            f"| leading {s.n_active}-D subspace angle (95 % of resamples below) | "
            f"{np.degrees(s.angle_spread(0.95)):.2f}° |",
        ]
        if ex.exact_values is not None:
            rows.append(
                f"| vs analytic SHAP: min corr, uninformative / informative mean\\|φ\\| | "
                f"{np.nanmin(ex.exact_agreement()['corr']):.4f}, {ex.uninformative_ratio():.3f} |"
            )
        if ex.exact_gradient is not None:
            rows.append(
                f"| \\|cos\\| of w1 with the exact gradient | {ex.direction_cosine():.4f} |"
            )
        notes = [f"*{esc(r.guarantee)}*", f"*{esc(r.caveat)}*"]
        if ex.note:
            notes.insert(0, f"**{esc(ex.note)}**")
        return "\n\n".join(["\n".join(rows), *notes])

    def figure_file(self, fmt: str) -> io.BytesIO:
        """The shown explanation's summary figure with its caveats (:func:`figure_bytes`)."""
        ex = self.explanation
        return io.BytesIO(b"" if ex is None else figure_bytes(ex, fmt))

    def __panel__(self) -> pn.viewable.Viewable:
        fit = {name: {"width": 250} for name in _KNOBS}
        fit["event"] = {"type": pn.widgets.IntInput, "width": 250}
        knobs = pn.Param(self.param, parameters=list(_KNOBS), widgets=fit, show_name=False)
        downloads = [
            pn.widgets.FileDownload(
                callback=functools.partial(self.figure_file, f), filename=f"shap_summary.{f}"
            )
            for f in FIGURE_FORMATS
        ]
        return pn.Row(
            pn.Column("### Interpretability", knobs, *downloads, width=280),
            pn.Column(
                self.error_pane,
                self.summary_pane,
                *(pn.Row(*(self._stacks[name] for name in row)) for row in _ROWS),
                width=960,
            ),
        )
