"""Interactive explorer of an anomaly-score trigger: threshold <-> rate <-> signal efficiency.

A thin Panel view over the cores (:class:`~precml_widgets.anomaly.score_set.ScoreSet`,
:class:`~precml_widgets.anomaly.trigger_state.TriggerState`). A threshold move costs O(log N)
look-ups and moves the cut line and the ROC marker in place: nothing is rescored or redrawn.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from numpy.typing import ArrayLike

from precml_widgets._optional import require
from precml_widgets.anomaly import plots
from precml_widgets.anomaly.explorer_layout import dashboard
from precml_widgets.anomaly.exports import (
    EXPORT_LIMIT_COLUMNS,
    EXPORT_SYST_COLUMNS,
)
from precml_widgets.anomaly.formatting import format_khz, rate_caveat
from precml_widgets.anomaly.operating_point import OperatingPoint
from precml_widgets.anomaly.rates import DEFAULT_INPUT_RATE_HZ, RateResult
from precml_widgets.anomaly.roc import RocCurve
from precml_widgets.anomaly.score_set import AUTOENCODER, ScoreSet, read_score_branch
from precml_widgets.anomaly.scores import ScoreSample
from precml_widgets.anomaly.trigger_state import TriggerState
from precml_widgets.live import PartUpdate

pn = require("panel", "widgets", "the anomaly-score explorer")
param = require("param", "widgets", "the anomaly-score explorer")

if TYPE_CHECKING:
    import holoviews as hv
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "AUTOENCODER",
    "EXPORT_LIMIT_COLUMNS",
    "EXPORT_SYST_COLUMNS",
    "AnomalyScoreExplorer",
    "format_khz",
    "rate_caveat",
]

_MODES = ("target rate", "threshold")


class AnomalyScoreExplorer(pn.viewable.Viewer):
    """Pick a trigger threshold on an anomaly score and see its rate and signal efficiencies.

    The trigger fires when ``score > threshold``; its rate is the background fraction above
    the cut times the input rate, with a Clopper–Pearson interval (a physical rate only for a
    zero-bias background: the status pane and every export say what the background is, with
    a real/simulated flag per sample). In ``"target rate"`` mode the threshold follows from
    the target rate, in ``"threshold"`` mode the slider sets it. Switching :attr:`score`
    re-derives the threshold at equal rate, so scores are compared at equal rate.

    Args:
        background: scores of the background sample the rate is measured on.
        signals: signal name → scores (at least one).
        baselines: ``{score name: (background, signals)}``, e.g. HT, same signal names.
        caveat: what the background is, in words; shown with every rate and exported.
        rate_variants: ``{score name: {label: background ScoreSample}}``: their rate shifts
            at the cut give the systematic (down, up) shown and exported.
        score_set: a ready :class:`~precml_widgets.anomaly.score_set.ScoreSet` instead.
        **params: initial parameter values; ``threshold`` alone selects ``"threshold"`` mode.

    Raises:
        InvalidInputError: for malformed samples, unknown ``signal`` / ``score`` names or
            baselines whose signal names differ from ``signals``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> bkg = ScoreSample("toy background", rng.normal(0.0, 1.0, 5000))
        >>> sig = {"A": ScoreSample("A", rng.normal(2.0, 1.0, 500))}
        >>> ex = AnomalyScoreExplorer(bkg, sig, threshold=1.5)
        >>> ex.mode, ex.operating_point().rate.threshold
        ('threshold', 1.5)
    """

    mode = param.Selector(
        objects=list(_MODES),
        default="target rate",
        doc="'target rate': the threshold follows from target_rate_khz; "
        "'threshold': the threshold slider sets the cut directly.",
    )
    target_rate_khz = param.Number(
        default=10.0,
        bounds=(1e-3, 1e5),
        doc="Allowed trigger rate in kHz (used in 'target rate' mode).",
    )
    threshold = param.Number(
        default=0.0,
        doc="Score threshold; events with score > threshold fire the trigger. Its bounds "
        "cover the scores of the selected score type.",
    )
    signal = param.Selector(
        objects=[], doc="Signal sample shown in the histogram and the ROC curve."
    )
    score = param.Selector(
        objects=[AUTOENCODER],
        default=AUTOENCODER,
        doc="Which score the trigger cuts on: the autoencoder or a baseline.",
    )
    log_scale = param.Boolean(
        default=True, doc="Log y-axis for the histograms and log x-axis (FPR) for the ROC curve."
    )
    input_rate_mhz = param.Number(
        default=DEFAULT_INPUT_RATE_HZ / 1e6,
        bounds=(1e-3, 40.08),
        doc="Input rate in MHz of the stream the background sample represents (for a "
        "zero-bias background: the colliding-bunch rate; the LHC maximum is 40.08 MHz).",
    )
    cl = param.Number(
        default=0.6827,
        bounds=(0.5, 0.999),
        doc="Confidence level of the Clopper–Pearson intervals (0.6827 = 1 sigma).",
    )

    def __init__(
        self,
        background: ScoreSample | None = None,
        signals: Mapping[str, ScoreSample] | None = None,
        *,
        baselines: Mapping[str, tuple[ScoreSample, Mapping[str, ScoreSample]]] | None = None,
        caveat: str = "",
        rate_variants: Mapping[str, Mapping[str, ScoreSample]] | None = None,
        score_set: ScoreSet | None = None,
        **params: Any,
    ) -> None:
        data = score_set or ScoreSet(
            background,  # type: ignore[arg-type]
            signals,  # type: ignore[arg-type]
            baselines=baselines,
            rate_variants=rate_variants,
            caveat=caveat,
            what="AnomalyScoreExplorer",
        )
        signal = params.pop("signal", data.signal_names[0])
        score = params.pop("score", AUTOENCODER)
        threshold = params.pop("threshold", None)
        if threshold is not None and "mode" not in params:
            params["mode"] = "threshold"
        super().__init__(**params)
        self.score_set = data
        self._target_error: str | None = None
        data.check_selection(signal, score, None if threshold is None else float(threshold))
        self.param.signal.objects = data.signal_names
        self.param.score.objects = data.scores
        self.signal = signal
        start, end, _ = data.threshold_range(score)
        self.param.threshold.bounds = (start, end)
        with param.parameterized.discard_events(self):
            self.score = score
            if threshold is not None:
                self.threshold = float(threshold)
        if self.mode == "target rate" or threshold is None:
            self._apply_target(fallback=end)
        self.param.watch(self._on_score, "score")

    @property
    def caveat(self) -> str:
        """What the background sample is, in words (may be empty)."""
        return self.score_set.caveat

    @classmethod
    def from_study(
        cls, study: Any, *, systematic_bandwidths: tuple[float, ...] | None = None, **params: Any
    ) -> AnomalyScoreExplorer:
        """Explorer of an :class:`~precml_widgets.anomaly.study.AnomalyStudy`; see
        :meth:`ScoreSet.from_study` for ``systematic_bandwidths`` (``()``: no systematic)."""
        data = ScoreSet.from_study(study, systematic_bandwidths, what="AnomalyScoreExplorer")
        return cls(score_set=data, **params)

    @classmethod
    def from_scores(
        cls, scores: Mapping[str, ArrayLike], background: str, **params: Any
    ) -> AnomalyScoreExplorer:
        """Explorer of score arrays ``{sample name: (N,) scores}``; ``background`` names the
        rate's sample, the others are signals (:meth:`ScoreSet.from_scores`: checks input)."""
        data = ScoreSet.from_scores(scores, background, what="AnomalyScoreExplorer")
        return cls(score_set=data, **params)

    @classmethod
    def from_root(
        cls,
        files: Mapping[str, str | os.PathLike[str]],
        tree: str,
        branch: str,
        background: str,
        **params: Any,
    ) -> AnomalyScoreExplorer:
        """Explorer of a score branch in ROOT files, one per sample (:func:`read_score_branch`)."""
        return cls.from_scores(read_score_branch(files, tree, branch), background, **params)

    @property
    def background(self) -> ScoreSample:
        """The background sample of the selected score."""
        return self.score_set.background(self.score)

    @property
    def signals(self) -> dict[str, ScoreSample]:
        """The signal samples of the selected score (a copy of the mapping)."""
        return self.score_set.signals(self.score)

    @property
    def target_error(self) -> str | None:
        """The core's message when the target rate cannot be resolved, else ``None``."""
        return self._target_error if self.mode == "target rate" else None

    @property
    def input_rate_hz(self) -> float:
        """:attr:`input_rate_mhz` in Hz."""
        return float(self.input_rate_mhz) * 1e6

    def _apply_target(self, fallback: float | None = None) -> None:
        t, self._target_error = self.score_set.target_threshold(
            self.score, self.target_rate_khz * 1e3, self.input_rate_hz
        )
        self.threshold = t if t is not None else (self.threshold if fallback is None else fallback)

    @param.depends("mode", "target_rate_khz", "input_rate_mhz", watch=True)
    def _follow_target(self) -> None:
        if self.mode == "target rate":
            self._apply_target()

    def _on_score(self, event: Any) -> None:
        start, end, _ = self.score_set.threshold_range(event.new)
        self.param.threshold.bounds = (start, end)
        if self.mode == "target rate":
            self._apply_target(fallback=end)
        else:  # keep the current trigger rate
            self.threshold = self.score_set.equal_rate_threshold(
                event.old, event.new, self.threshold, self.input_rate_hz
            )

    def state(self) -> TriggerState:
        """The trigger at the current settings: a core snapshot that computes everything shown."""
        where = (self.score_set, self.score, float(self.threshold), self.input_rate_hz)
        how = (float(self.cl), self.mode, float(self.target_rate_khz), self.target_error)
        return TriggerState(*where, *how)

    def operating_point(self) -> OperatingPoint:
        """Rate and every signal's efficiency at the current threshold, input rate and CL."""
        return self.state().operating_point()

    def rate_systematic_hz(self) -> tuple[float, float] | None:
        """Rate systematic (down <= 0, up >= 0) in Hz from the variants, or None."""
        return self.state().rate_systematic_hz()

    @property
    def systematic_label(self) -> str | None:
        """The background variants behind :meth:`rate_systematic_hz`, in words (or None)."""
        return self.score_set.systematic_label(self.score)

    def rate_description(self) -> str:
        """:meth:`RateResult.describe` of the rate, with its systematic or 'stat. only'."""
        return self.state().rate_description()

    def rate(self) -> RateResult:
        """The trigger rate at the current threshold (:func:`rate_at_threshold`)."""
        return self.state().rate()

    def roc(self, signal: str | None = None, score: str | None = None) -> RocCurve:
        """ROC curve of a signal and score (default: the selected ones), cached."""
        return self.score_set.roc(score or self.score, signal or self.signal)

    @param.depends("score", "signal", "log_scale")
    def histogram_base(self) -> hv.Overlay:
        """Density histograms of the background and the selected signal (cached bins)."""
        e, lx = self.score_set.binning(self.score)
        bkg, sig = (self.score_set.density(self.score, k) for k in ("", self.signal))
        return plots.histogram_base(
            e, bkg, sig, score=self.score, signal_name=self.signal, log_x=lx, log_y=self.log_scale
        )

    @param.depends("threshold")
    def cut_line(self) -> hv.VLine:
        """The cut on the histograms (the only part that follows the threshold)."""
        return plots.cut_line(self.threshold)

    def cut_mark(self) -> PartUpdate:
        """The change that moves a drawn :meth:`cut_line` to the threshold."""
        return plots.cut_line_mark(self.threshold)

    def histogram_overlay(self) -> hv.Overlay:
        """:meth:`histogram_base` with the :meth:`cut_line`."""
        return plots.compose(self.histogram_base(), self.cut_line())

    @param.depends("score", "signal", "log_scale")
    def roc_base(self) -> hv.Overlay:
        """ROC curve of the selected signal (thinned cached vertices) and the diagonal."""
        pts = self.score_set.roc_plot_points(self.score, self.signal)
        return plots.roc_base(self.roc(), signal_name=self.signal, log_x=self.log_scale, points=pts)

    @param.depends("score", "signal", "threshold", "cl", "log_scale")
    def roc_marker(self) -> hv.Points:
        """The operating point on the ROC curve (at FPR = 1/N, a bound, if no event passes)."""
        m = self.score_set.roc_marker(self.score, self.signal, self.threshold, self.cl)
        return plots.operating_point_marker(self.roc(), *m[:2], log_x=self.log_scale, passes=m[2])

    def roc_mark(self) -> PartUpdate:
        """The change that moves a drawn :meth:`roc_marker` to the threshold and CL."""
        m = self.score_set.roc_marker(self.score, self.signal, self.threshold, self.cl)
        return plots.operating_point_mark(*m[:2], passes=m[2])

    def roc_overlay(self) -> hv.Overlay:
        """:meth:`roc_base` with the :meth:`roc_marker`."""
        return plots.compose(self.roc_base(), self.roc_marker())

    @param.depends("score", "threshold", "cl")
    def efficiency_frame(self) -> pd.DataFrame:
        """Every signal's efficiency at the threshold (:meth:`TriggerState.efficiency_rows`)."""
        pd = require("pandas", "widgets", "the efficiency table")
        return pd.DataFrame(self.state().efficiency_rows())

    @param.depends("score", "threshold", "cl", "input_rate_mhz", "mode", "target_rate_khz")
    def status_html(self) -> str:
        """:meth:`~precml_widgets.anomaly.status.StatusReport.to_html` of the state."""
        return self.state().status_report().to_html()

    def figure(self, *, dpi: int = 100) -> Figure:
        """Static matplotlib figure of the current state (:meth:`TriggerState.figure`)."""
        return self.state().figure(log=self.log_scale, dpi=dpi)

    def export_bytes(self, kind: str, *, dpi: int = 120) -> bytes:
        """``"csv"``, ``"json"`` or ``"png"`` bytes (:meth:`TriggerState.export_bytes`)."""
        return self.state().export_bytes(kind, log=self.log_scale, dpi=dpi)

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the CSV export to ``path`` atomically; returns the path written."""
        return self.state().save("csv", path, log=self.log_scale)

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the JSON export to ``path`` atomically; returns the path written."""
        return self.state().save("json", path, log=self.log_scale)

    def save_png(self, path: str | os.PathLike[str], *, dpi: int = 120) -> Path:
        """Write the PNG figure to ``path`` atomically; returns the path written."""
        return self.state().save("png", path, log=self.log_scale, dpi=dpi)

    def __panel__(self) -> Any:
        """The dashboard (:func:`~precml_widgets.anomaly.explorer_layout.dashboard`)."""
        return dashboard(self)
