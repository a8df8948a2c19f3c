"""Interactive explorer of an anomaly-score trigger: threshold ↔ rate ↔ signal efficiency.

:class:`AnomalyScoreExplorer` is a thin Panel view over :mod:`precml_widgets.anomaly.rates`:
every rate, efficiency, interval and ROC curve it shows is computed there. All scores are
precomputed :class:`~precml_widgets.anomaly.rates.ScoreSample` objects, so moving a slider
only triggers O(log N) threshold look-ups; nothing is retrained or rescored.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> explorer = AnomalyScoreExplorer.from_scores(
    ...     {"background": rng.exponential(1.0, 10_000), "signal A": rng.exponential(4.0, 500)},
    ...     background="background",
    ...     target_rate_khz=100.0,
    ... )
    >>> op = explorer.operating_point()
    >>> op.rate.rate_hz <= 100e3
    True
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import os
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from numpy.typing import ArrayLike

from precml_widgets._optional import require
from precml_widgets.anomaly.figures import density_histogram, operating_point_figure, score_bins
from precml_widgets.anomaly.rates import (
    DEFAULT_INPUT_RATE_HZ,
    OperatingPoint,
    RateResult,
    RocCurve,
    ScoreSample,
    efficiency_at_threshold,
    operating_point,
    rate_at_threshold,
    roc_curve,
    roc_points_for_plot,
    threshold_for_rate,
)
from precml_widgets.errors import InvalidInputError
from precml_widgets.panel_compat import color_kwargs, label_kwargs

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

#: Columns that the CSV / JSON exports add to :meth:`OperatingPoint.to_rows`: the one-sided
#: upper limits (at the chosen CL) on the background FPR and on the rate in Hz, filled on the
#: background row when no background event passes (``n_pass == 0``), empty / ``null``
#: otherwise. They are :attr:`RateResult.upper_limit_fpr` and
#: :attr:`RateResult.upper_limit_rate_hz`, the limit the status pane quotes. (``upper`` /
#: ``rate_upper_hz`` stay the end of the central Clopper-Pearson interval.)
EXPORT_LIMIT_COLUMNS = ("upper_limit_fpr", "upper_limit_rate_hz")
#: Export columns of the rate's systematic (background row; empty without variants).
EXPORT_SYST_COLUMNS = ("rate_syst_down_hz", "rate_syst_up_hz")

#: Name of the primary score in :attr:`AnomalyScoreExplorer.score`.
AUTOENCODER = "autoencoder"

_MODES = ("target rate", "threshold")
_KIND_TEXT = {True: "real data", False: "simulation", None: "not stated"}
_NO_SYSTEMATIC = "no systematic given (statistical interval only)"


def format_khz(rate_hz: float) -> str:
    """The fixed display format of a rate in kHz used by the explorer (4 decimals).

    Args:
        rate_hz: a rate in Hz.

    Returns:
        E.g. ``"12.3457"`` for 12 345.67 Hz.

    Example:
        >>> format_khz(12345.67)
        '12.3457'
    """
    return f"{rate_hz / 1e3:.4f}"


def rate_caveat(sample: str) -> str:
    """The one-line caveat on what the trigger rate means, for a background ``sample``.

    Args:
        sample: label of the background sample the FPR is measured on.

    Returns:
        Plain text (not escaped).

    Example:
        >>> rate_caveat("toy (10 events)").startswith("Rate = FPR measured on toy (10 events)")
        True
    """
    return (
        f"Rate = FPR measured on {sample} × the input rate you set; physical only if that "
        f"sample is the unbiased (zero-bias) input stream of the detector."
    )


def _holoviews() -> Any:
    """HoloViews with its Bokeh backend registered (options only, no notebook output)."""
    hv = require("holoviews", "widgets", "the anomaly-score explorer")
    require("holoviews.plotting.bokeh", "widgets", "the anomaly-score explorer")
    return hv


def _nice_step(span: float) -> float:
    """A power of ten giving roughly 1000–10000 slider steps over ``span``."""
    return float(10.0 ** math.floor(math.log10(span / 1000.0)))


def _threshold_range(samples: list[ScoreSample]) -> tuple[float, float, float]:
    """``(start, end, step)`` of the threshold slider for these samples.

    ``start`` lies strictly below every score (so "every event passes" is reachable,
    including the value :func:`threshold_for_rate` returns for that case) and ``end`` at or
    above every score (so "no event passes" is reachable).
    """
    lo = min(float(s.sorted_scores[0]) for s in samples)
    hi = max(float(s.sorted_scores[-1]) for s in samples)
    span = hi - lo
    if not span > 0.0:  # a constant score: a unit-wide range around it
        lo, hi, span = lo - 0.5, hi + 0.5, 1.0
    step = _nice_step(span)
    start = math.floor(lo / step) * step
    if start >= float(np.nextafter(lo, -np.inf)):
        start -= step
    end = math.ceil(hi / step) * step
    if end < hi:
        end += step
    return float(start), float(end), step


def _atomic_write(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to a temporary file next to ``path`` and move it into place."""
    target = Path(path)
    if target.is_dir():
        raise InvalidInputError(f"{os.fspath(target)!r} is a directory; pass a file name.")
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InvalidInputError(
            f"cannot write {os.fspath(target)!r}: the folder {os.fspath(directory)!r} does not "
            f"exist; create it first."
        )
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def _check_samples(
    what: str, background: object, signals: object
) -> tuple[ScoreSample, dict[str, ScoreSample]]:
    if not isinstance(background, ScoreSample):
        raise InvalidInputError(
            f"{what}: background must be a ScoreSample, got {type(background).__name__}; wrap "
            f"the scores with ScoreSample('zero bias', scores) or use from_scores()."
        )
    if not isinstance(signals, Mapping) or not signals:
        raise InvalidInputError(
            f"{what}: signals must be a non-empty mapping of name to ScoreSample, got "
            f"{signals!r:.80}; the explorer needs at least one signal to compute efficiencies."
        )
    out: dict[str, ScoreSample] = {}
    for key, value in signals.items():
        if not isinstance(key, str) or not isinstance(value, ScoreSample):
            raise InvalidInputError(
                f"{what}: signals must map str to ScoreSample, got {key!r} -> "
                f"{type(value).__name__}."
            )
        out[key] = value
    return background, out


class AnomalyScoreExplorer(pn.viewable.Viewer):
    """Pick a trigger threshold on an anomaly score and see its rate and signal efficiencies.

    The trigger fires when ``score > threshold``. Its rate is the fraction of the
    background sample above the threshold times the input rate, with a
    Clopper–Pearson interval (a physical trigger rate only if the background sample is
    the unbiased, zero-bias input stream; the status pane and every export say what the
    background is, with a real/simulated flag per sample); each signal's
    efficiency is the fraction of that signal above the threshold. In ``"target rate"``
    mode the threshold follows from the target rate
    (:func:`~precml_widgets.anomaly.rates.threshold_for_rate`); in ``"threshold"`` mode
    the slider sets it directly.

    Switching :attr:`score` swaps to another set of precomputed samples (e.g. a baseline such
    as HT). The threshold is then re-derived so that the trigger rate stays the same (the
    target rate in ``"target rate"`` mode, the current rate in ``"threshold"`` mode), so the
    scores are compared at equal rate.

    Args:
        background: scores of the background sample the rate is measured on.
        signals: signal name → scores (at least one).
        baselines: optional other scores, ``{score name: (background, signals)}`` with the
            same signal names, e.g. ``{"HT": (ht_background, {"A": ht_A})}``.
        caveat: what the background sample is, in words; shown next to every rate and
            written into every export (e.g. ``study.BACKGROUND_CAVEAT``).
        rate_variants: optional systematic variants of the background, ``{score name:
            {label: background ScoreSample}}``; the rate at the current threshold on each
            variant minus the nominal rate gives the systematic (down, up) shown and exported.
        **params: initial values of the parameters below. Passing ``threshold`` without
            ``mode`` selects ``mode="threshold"``.

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
        background: ScoreSample,
        signals: Mapping[str, ScoreSample],
        *,
        baselines: Mapping[str, tuple[ScoreSample, Mapping[str, ScoreSample]]] | None = None,
        caveat: str = "",
        rate_variants: Mapping[str, Mapping[str, ScoreSample]] | None = None,
        **params: Any,
    ) -> None:
        bkg, sigs = _check_samples("AnomalyScoreExplorer", background, signals)
        if not isinstance(caveat, str):
            raise InvalidInputError(f"caveat must be a string, got {type(caveat).__name__}.")
        samples: dict[str, tuple[ScoreSample, dict[str, ScoreSample]]] = {AUTOENCODER: (bkg, sigs)}
        for name, pair in (baselines or {}).items():
            if not isinstance(name, str) or name == AUTOENCODER:
                raise InvalidInputError(
                    f"baseline names must be strings other than {AUTOENCODER!r}, got {name!r}."
                )
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise InvalidInputError(
                    f"baselines[{name!r}] must be a tuple (background, signals), got "
                    f"{type(pair).__name__}."
                )
            b_bkg, b_sigs = _check_samples(f"baselines[{name!r}]", *pair)
            if list(b_sigs) != list(sigs):
                raise InvalidInputError(
                    f"baselines[{name!r}] has signals {list(b_sigs)}, but the autoencoder has "
                    f"{list(sigs)}; every score needs the same signal samples, in the same order."
                )
            samples[name] = (b_bkg, b_sigs)

        signal = params.pop("signal", next(iter(sigs)))
        score = params.pop("score", AUTOENCODER)
        threshold = params.pop("threshold", None)
        if threshold is not None and "mode" not in params:
            params["mode"] = "threshold"
        super().__init__(**params)

        self._samples = samples
        self.caveat = caveat
        self._variants: dict[str, dict[str, ScoreSample]] = {}
        for name, variants in (rate_variants or {}).items():
            if name not in samples or not all(
                isinstance(v, ScoreSample) for v in dict(variants).values()
            ):
                raise InvalidInputError(
                    f"rate_variants[{name!r}] must map labels to ScoreSample backgrounds of "
                    f"one of the scores {list(samples)}."
                )
            self._variants[name] = dict(variants)
        self._bins: dict[str, tuple[npt.NDArray[np.float64], bool]] = {}
        self._densities: dict[tuple[str, str], npt.NDArray[np.float64]] = {}
        self._rocs: dict[tuple[str, str], RocCurve] = {}
        self._ranges = {
            name: _threshold_range([b, *s.values()]) for name, (b, s) in samples.items()
        }
        self._target_error: str | None = None
        self._slider_boxes: weakref.WeakSet[Any] = weakref.WeakSet()

        for name, value, choices in (("signal", signal, sigs), ("score", score, samples)):
            if value not in choices:
                raise InvalidInputError(
                    f"{name}={value!r} is not one of the available {name}s: {list(choices)}."
                )
        self.param.signal.objects = list(sigs)
        self.param.score.objects = list(samples)
        self.signal = signal
        with param.parameterized.discard_events(self):
            self.score = score
        start, end, _ = self._ranges[score]
        self.param.threshold.bounds = (start, end)
        if threshold is not None:
            t = float(threshold)
            if not start <= t <= end:
                raise InvalidInputError(
                    f"threshold={t!r} lies outside the range of the {score!r} scores, "
                    f"[{start:.6g}, {end:.6g}]."
                )
            with param.parameterized.discard_events(self):
                self.threshold = t
        if self.mode == "target rate" or threshold is None:
            self._apply_target(fallback=end)
        self.param.watch(self._on_score, "score")
        self.param.watch(self._sync_sliders, ["threshold", "mode"])

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_study(
        cls,
        study: Any,
        *,
        systematic_bandwidths: tuple[float, ...] | None = None,
        **params: Any,
    ) -> AnomalyScoreExplorer:
        """Explorer of an :class:`~precml_widgets.anomaly.study.AnomalyStudy`.

        Uses the autoencoder scores (rates on ``study.background``), every sample in
        ``study.signals`` and every baseline score in ``study.baselines``.

        Args:
            study: the result of :func:`~precml_widgets.anomaly.study.run_study`.
            systematic_bandwidths: kernel widths (x Scott) of background variants whose rate
                shifts give the systematic shown and exported; default (None): the grid
                neighbours of the chosen width
                (:func:`~precml_widgets.anomaly.study.neighbour_bandwidths`); ``()``: no
                systematic (the pane and the exports then say so).
            **params: initial parameter values.

        Returns:
            The explorer.
        """
        from precml_widgets.anomaly.study import (
            BACKGROUND,
            BACKGROUND_CAVEAT,
            neighbour_bandwidths,
            variant_scores,
        )

        signals = dict(study.signals)
        baselines = {
            name: (samples[BACKGROUND], {k: samples[k] for k in signals})
            for name, samples in study.baselines.items()
        }
        widths = tuple(
            neighbour_bandwidths(study) if systematic_bandwidths is None else systematic_bandwidths
        )
        variants = {
            score: {
                f"kernel width {bw:g} x Scott": v
                for bw, v in variant_scores(study, widths, score=score).items()
            }
            for score in (("autoencoder", *study.baselines) if widths else ())
        }
        return cls(
            study.background,
            signals,
            baselines=baselines,
            caveat=BACKGROUND_CAVEAT,
            rate_variants=variants if widths else None,
            **params,
        )

    @classmethod
    def from_scores(
        cls, scores: Mapping[str, ArrayLike], background: str, **params: Any
    ) -> AnomalyScoreExplorer:
        """Explorer of plain score arrays, one per sample.

        Args:
            scores: sample name → 1-D array of per-event scores.
            background: the key of the background sample the rate is measured on; every
                other key is a signal.
            **params: initial parameter values.

        Returns:
            The explorer.

        Raises:
            InvalidInputError: if ``background`` is not a key, there is no other sample, or
                scores are malformed (see :class:`ScoreSample`).
        """
        if not isinstance(scores, Mapping) or background not in scores:
            keys = list(scores) if isinstance(scores, Mapping) else type(scores).__name__
            raise InvalidInputError(
                f"background={background!r} is not a key of scores ({keys}); name the sample "
                f"that the trigger rate is measured on."
            )
        samples = {str(k): ScoreSample(str(k), v) for k, v in scores.items()}
        bkg = samples.pop(str(background))
        return cls(bkg, samples, **params)

    @classmethod
    def from_root(
        cls,
        files: Mapping[str, str | os.PathLike[str]],
        tree: str,
        branch: str,
        background: str,
        **params: Any,
    ) -> AnomalyScoreExplorer:
        """Explorer of a score branch stored in ROOT files, one file per sample.

        Args:
            files: sample name → ROOT file path.
            tree: name of the tree holding the scores in every file.
            branch: name of the (flat, one value per event) score branch.
            background: the key of the background sample.
            **params: initial parameter values.

        Returns:
            The explorer.

        Raises:
            MissingBranchError: a file lacks ``branch``; the message lists the branches it has.
            InvalidInputError: a file or tree cannot be read, or the branch is not flat.
        """
        from precml_widgets.data import read_branches

        ak = require("awkward", "anomaly", "reading ROOT branches")
        scores: dict[str, npt.NDArray[np.float64]] = {}
        for name, path in files.items():
            array = read_branches(path, tree, [branch])[branch]
            try:
                scores[name] = np.asarray(ak.to_numpy(array), dtype=np.float64)
            except ValueError as exc:
                raise InvalidInputError(
                    f"branch {branch!r} of {os.fspath(path)!r} is not a flat number per event "
                    f"({exc}); store one score per event."
                ) from exc
        return cls.from_scores(scores, background, **params)

    # ------------------------------------------------------------------ state

    @property
    def background(self) -> ScoreSample:
        """The background sample of the selected score."""
        return self._samples[self.score][0]

    @property
    def signals(self) -> dict[str, ScoreSample]:
        """The signal samples of the selected score (a copy of the mapping)."""
        return dict(self._samples[self.score][1])

    @property
    def target_error(self) -> str | None:
        """The core's message when the target rate cannot be resolved, else ``None``."""
        return self._target_error if self.mode == "target rate" else None

    def _input_rate_hz(self) -> float:
        return float(self.input_rate_mhz) * 1e6

    def _target_threshold(self, fallback: float) -> float:
        """The core's threshold for the target rate; ``fallback`` (and the error) if none."""
        try:
            t = threshold_for_rate(
                self.background, self.target_rate_khz * 1e3, input_rate_hz=self._input_rate_hz()
            )
        except InvalidInputError as exc:
            self._target_error = str(exc)
            return fallback
        self._target_error = None
        return t

    def _apply_target(self, fallback: float | None = None) -> None:
        self.threshold = self._target_threshold(self.threshold if fallback is None else fallback)

    @param.depends("mode", "target_rate_khz", "input_rate_mhz", watch=True)
    def _follow_target(self) -> None:
        if self.mode == "target rate":
            self._apply_target()

    def _on_score(self, event: Any) -> None:
        start, end, _ = self._ranges[event.new]
        if self.mode == "target rate":
            t = self._target_threshold(fallback=end)
        else:  # keep the current trigger rate
            old_rate_hz = rate_at_threshold(
                self._samples[event.old][0], self.threshold, input_rate_hz=self._input_rate_hz()
            ).rate_hz
            try:
                t = threshold_for_rate(
                    self.background, old_rate_hz, input_rate_hz=self._input_rate_hz()
                )
            except InvalidInputError:  # rate 0 or below resolution: let nothing pass
                t = end
        self.param.threshold.bounds = (start, end)
        self.threshold = t
        for box in list(self._slider_boxes):
            # A new slider instead of a new range: a browser that sees a range change
            # clamps / snaps the old value and sends it back, overriding the threshold.
            box[:] = [self._threshold_slider()]

    def operating_point(self) -> OperatingPoint:
        """Rate and every signal's efficiency at the current threshold.

        Returns:
            :func:`~precml_widgets.anomaly.rates.operating_point` of the selected score's
            samples at :attr:`threshold`, :attr:`input_rate_mhz` and :attr:`cl`.
        """
        return operating_point(
            self.background,
            self._samples[self.score][1],
            self.threshold,
            input_rate_hz=self._input_rate_hz(),
            cl=self.cl,
        )

    def rate_systematic_hz(self) -> tuple[float, float] | None:
        """Systematic (down <= 0, up >= 0) of the rate in Hz from the background variants.

        The rate at the current threshold on each variant of the selected score's background
        minus the nominal rate; ``None`` when no variants were given for this score.
        """
        variants = self._variants.get(self.score)
        if not variants:
            return None
        nominal = self.rate().rate_hz
        shifts = [
            rate_at_threshold(v, self.threshold, input_rate_hz=self._input_rate_hz()).rate_hz
            - nominal
            for v in variants.values()
        ]
        return min(0.0, *shifts), max(0.0, *shifts)

    @property
    def systematic_label(self) -> str | None:
        """The background variants behind :meth:`rate_systematic_hz`, in words (or None)."""
        variants = self._variants.get(self.score)
        return ", ".join(variants) if variants else None

    def rate_description(self) -> str:
        """:meth:`RateResult.describe` of the current rate with its systematic.

        Without background variants for the selected score, the text says that the interval
        is statistical only.
        """
        syst = self.rate_systematic_hz()
        if syst is None:
            return f"{self.rate().describe()}; {_NO_SYSTEMATIC}"
        return self.rate().describe(syst, self.systematic_label or "syst")

    def rate(self) -> RateResult:
        """The trigger rate at the current threshold (:func:`rate_at_threshold`)."""
        return rate_at_threshold(
            self.background, self.threshold, input_rate_hz=self._input_rate_hz(), cl=self.cl
        )

    def roc(self, signal: str | None = None, score: str | None = None) -> RocCurve:
        """ROC curve of a signal against the background (computed once, then cached).

        Args:
            signal: signal name (default: the selected one).
            score: score name (default: the selected one).

        Returns:
            The :class:`~precml_widgets.anomaly.rates.RocCurve`.
        """
        key = (score or self.score, signal or self.signal)
        if key not in self._rocs:
            bkg, sigs = self._samples[key[0]]
            self._rocs[key] = roc_curve(bkg, sigs[key[1]])
        return self._rocs[key]

    def _binning(self, score: str) -> tuple[npt.NDArray[np.float64], bool]:
        if score not in self._bins:
            bkg, sigs = self._samples[score]
            self._bins[score] = score_bins([bkg, *sigs.values()])
        return self._bins[score]

    def _density(self, score: str, key: str) -> npt.NDArray[np.float64]:
        if (score, key) not in self._densities:
            bkg, sigs = self._samples[score]
            sample = bkg if key == "" else sigs[key]
            self._densities[(score, key)] = density_histogram(sample, self._binning(score)[0])
        return self._densities[(score, key)]

    # ------------------------------------------------------------------ views

    @param.depends("score", "signal", "threshold", "log_scale")
    def histogram_overlay(self) -> hv.Overlay:
        """Density-normalised score histograms of the background and the selected signal.

        Returns:
            A HoloViews overlay: background and signal :class:`hv.Histogram` (fixed bins
            per score type) and an :class:`hv.VLine` at the threshold.
        """
        hv = _holoviews()
        edges, log_x = self._binning(self.score)
        bkg = self._density(self.score, "")
        sig = self._density(self.score, self.signal)
        if self.log_scale:  # empty bins cannot be drawn on a log axis
            bkg = np.where(bkg > 0, bkg, np.nan)
            sig = np.where(sig > 0, sig, np.nan)
        kdims = [hv.Dimension("score", label=f"{self.score} score")]
        vdims = [hv.Dimension("density", label="probability density")]
        h_bkg = hv.Histogram((edges, bkg), kdims=kdims, vdims=vdims, label="background").opts(
            fill_color="#bbbbbb", line_color="#888888", fill_alpha=0.8
        )
        h_sig = hv.Histogram(
            (edges, sig), kdims=kdims, vdims=vdims, label=f"signal: {self.signal}"
        ).opts(fill_color="#d62728", line_color="#d62728", fill_alpha=0.25)
        cut = hv.VLine(self.threshold, label="cut").opts(
            color="black", line_dash="dashed", line_width=2
        )
        title = f"{self.score} score, cut at > {self.threshold:.4g}"
        axes: dict[str, Any] = {"logx": log_x, "logy": self.log_scale}
        if self.log_scale:  # an explicit lower bound: Bokeh cannot start a log axis at 0
            finite = np.concatenate([bkg[np.isfinite(bkg)], sig[np.isfinite(sig)]])
            if finite.size:
                # headroom above the tallest bin keeps the legend off the data
                axes["ylim"] = (float(finite.min()) / 2.0, float(finite.max()) * 30.0)
        else:
            axes["ylim"] = (0.0, 1.35 * float(np.nanmax(np.concatenate([bkg, sig]))))
        h_bkg = h_bkg.opts(framewise=True, **axes)
        h_sig = h_sig.opts(framewise=True, **axes)
        return (h_bkg * h_sig * cut).opts(
            title=title,
            width=600,
            height=360,
            legend_position="top_right",
            toolbar="above",
            framewise=True,
            **axes,
        )

    @param.depends("score", "signal", "threshold", "log_scale", "cl")
    def roc_overlay(self) -> hv.Overlay:
        """ROC curve of the selected signal with the current operating point marked.

        Everything drawn is a fraction (FPR, efficiency), so the view does not depend on
        :attr:`input_rate_mhz` and is not redrawn when only the input rate changes (in
        ``"target rate"`` mode a new input rate moves the threshold, which redraws it).

        Returns:
            A HoloViews overlay: the ROC :class:`hv.Curve` (points with FPR >= 1/N from
            :func:`roc_points_for_plot`), the random-guess diagonal and an
            :class:`hv.Points` marker at (FPR, efficiency) of the threshold. When no
            background event passes, the marker sits at FPR = 1/N (an upper bound).
        """
        hv = _holoviews()
        curve = self.roc()
        fpr, tpr = roc_points_for_plot(curve, curve.min_resolvable_fpr)
        bkg, sigs = self._samples[self.score]
        n_pass = bkg.n_above(self.threshold)
        eff = efficiency_at_threshold(sigs[self.signal], self.threshold, cl=self.cl).efficiency
        x = n_pass / bkg.n if n_pass > 0 else curve.min_resolvable_fpr
        kd = hv.Dimension("fpr", label="background FPR")
        vd = hv.Dimension("tpr", label="signal efficiency", range=(0.0, 1.02))
        grid = (
            np.geomspace(curve.min_resolvable_fpr, 1.0, 50)
            if self.log_scale
            else np.linspace(0.0, 1.0, 50)
        )
        roc = hv.Curve((fpr, tpr), kd, vd, label="ROC curve").opts(color="#d62728", line_width=2)
        diag = hv.Curve((grid, grid), kd, vd, label="random").opts(
            color="#999999", line_dash="dotted"
        )
        marker_label = "operating point" if n_pass > 0 else "operating point (FPR < 1/N)"
        point = hv.Points(
            [(x, eff.value, eff.lower, eff.upper)],
            [kd, vd],
            [
                hv.Dimension("eff_lo", label="eff. CP lower"),
                hv.Dimension("eff_hi", label="eff. CP upper"),
            ],
            label=marker_label,
        ).opts(color="black", size=10, marker="circle" if n_pass > 0 else "triangle")
        title = f"ROC: {self.signal}, AUC = {curve.auc:.3f}"
        xlim = (curve.min_resolvable_fpr, 1.0) if self.log_scale else (0.0, 1.0)
        axes = {"logx": self.log_scale, "xlim": xlim, "ylim": (0.0, 1.02)}
        roc = roc.opts(**axes)
        diag = diag.opts(**axes)
        point = point.opts(tools=["hover"], **axes)
        return (roc * diag * point).opts(
            title=title,
            width=480,
            height=360,
            legend_position="bottom_right",
            toolbar="above",
            **axes,
        )

    @param.depends("score", "threshold", "cl")
    def efficiency_frame(self) -> pd.DataFrame:
        """Every signal's efficiency at the threshold, with Clopper–Pearson intervals.

        Returns:
            A pandas DataFrame, one row per signal: ``signal``, ``data`` (real /
            simulation), ``events``, ``passing``, ``efficiency [%]`` and the
            Clopper–Pearson interval ``lower [%]``, ``upper [%]``.
        """
        pd = require("pandas", "widgets", "the efficiency table")
        op = self.operating_point()
        sigs = self._samples[self.score][1]
        rows = []
        for key, res in op.efficiencies.items():
            e = res.efficiency
            rows.append(
                {
                    "signal": key,
                    "data": _KIND_TEXT[sigs[key].is_real],
                    "events": e.n,
                    "passing": e.k,
                    "efficiency [%]": 100.0 * e.value,
                    "lower [%]": 100.0 * e.lower,
                    "upper [%]": 100.0 * e.upper,
                }
            )
        return pd.DataFrame(rows)

    @param.depends("score", "threshold", "cl", "input_rate_mhz", "mode", "target_rate_khz")
    def status_html(self) -> str:
        """HTML summary of the operating point: threshold, rate with interval, FPR, resolution.

        The rate appears as ``<span class="rate-khz">…</span> kHz`` in :func:`format_khz`
        format, the threshold as ``<span class="threshold" data-value="<repr>">`` (the
        exact float in ``data-value``), and :meth:`RateResult.describe` in full. When no
        background event passes, the one-sided upper limit appears as
        ``<span class="rate-upper-limit-khz" data-value-hz="<repr in Hz>">`` (the value of
        the exports' ``upper_limit_rate_hz``). A ``rate-caveat`` line (:func:`rate_caveat`)
        says what the rate assumes about the background sample. The systematic appears in a
        ``rate-systematic`` line, or a ``rate-systematic-missing`` line says there is none;
        the ``rate-describe`` line is :meth:`rate_description`.

        Returns:
            An HTML fragment.
        """
        r = self.rate()
        t = r.threshold
        cl_pct = f"{100.0 * r.fpr.cl:.4g}%"
        parts = []
        err = self.target_error
        if err is not None:
            parts.append(
                f'<div class="precml-error" style="color:#a00;border:1px solid #a00;'
                f'padding:4px;margin-bottom:6px">⚠ The target rate of {self.target_rate_khz:g} '
                f"kHz cannot be set: {html.escape(err, quote=False)} "
                f"The threshold stays at {t:.6g}.</div>"
            )
        elif self.mode == "target rate":
            parts.append(
                f"<div>Target rate {self.target_rate_khz:g} kHz → lowest threshold whose rate "
                f"is at most the target.</div>"
            )
        parts.append(
            f'<div><b>Cut:</b> {html.escape(self.score)} score &gt; <span class="threshold" '
            f'data-value="{t!r}">{t:.6g}</span></div>'
        )
        if r.n_pass > 0:
            parts.append(
                f'<div style="font-size:1.25em"><b>Trigger rate:</b> <span class="rate-khz">'
                f"{format_khz(r.rate_hz)}</span> kHz <span style='font-size:0.8em'>"
                f'({cl_pct} CL Clopper–Pearson [<span class="rate-lower-khz">'
                f'{format_khz(r.rate_lower_hz)}</span>, <span class="rate-upper-khz">'
                f"{format_khz(r.rate_upper_hz)}</span>] kHz)</span></div>"
            )
        else:
            ul = r.upper_limit_rate_hz or 0.0
            parts.append(
                f'<div style="font-size:1.25em"><b>Trigger rate:</b> <span class="rate-khz">'
                f"{format_khz(r.rate_hz)}</span> kHz <span style='font-size:0.8em'>(no background"
                f" event passes; {cl_pct} CL one-sided upper limit &lt; "
                f'<span class="rate-upper-limit-khz" data-value-hz="{ul!r}">{format_khz(ul)}'
                f"</span> kHz)</span></div>"
            )
        syst = self.rate_systematic_hz()
        if syst is not None:
            parts.append(
                f'<div class="rate-systematic"><b>Systematic</b> ('
                f"{html.escape(', '.join(self._variants[self.score]))}): "
                f'<span class="rate-syst-up-khz">{format_khz(syst[1])}</span> / '
                f'<span class="rate-syst-down-khz">{format_khz(syst[0])}</span> kHz</div>'
            )
        else:
            parts.append(f'<div class="rate-systematic-missing">{_NO_SYSTEMATIC}</div>')
        parts.append(
            f"<div><b>FPR:</b> {r.fpr.value:.3e} ({r.n_pass:,} of {r.n_total:,} background "
            f"events pass) × {r.input_rate_hz / 1e6:.4g} MHz input</div>"
        )
        parts.append(
            f"<div><b>Smallest resolvable rate:</b> "
            f"{format_khz(r.min_resolvable_fpr * r.input_rate_hz)} kHz "
            f"(FPR 1/N = {r.min_resolvable_fpr:.2e})</div>"
        )
        parts.append(
            f"<div><b>Measured on:</b> {html.escape(r.sample)} "
            f"({_KIND_TEXT[self.background.is_real]})</div>"
        )
        parts.append(
            f'<div class="rate-caveat" style="color:#8a5a00;font-size:0.9em">'
            f"{html.escape(rate_caveat(r.sample), quote=False)}</div>"
        )
        if self.caveat:
            parts.append(
                f'<div class="background-caveat" style="color:#8a5a00;font-size:0.9em">'
                f"{html.escape(self.caveat, quote=False)}</div>"
            )
        parts.append(
            f'<div class="rate-describe" style="color:#555;font-size:0.85em;margin-top:4px">'
            f"{html.escape(self.rate_description(), quote=False)}</div>"
        )
        return "\n".join(parts)

    # ------------------------------------------------------------------ exports

    def figure(self, *, dpi: int = 100) -> Figure:
        """Static matplotlib figure of the current state (all signals of the selected score).

        Args:
            dpi: resolution of the figure.

        Returns:
            :func:`~precml_widgets.anomaly.figures.operating_point_figure` of the current
            score, threshold, input rate and CL (ROC curves from the cache).
        """
        bkg, sigs = self._samples[self.score]
        fig = operating_point_figure(
            bkg,
            sigs,
            self.threshold,
            {k: self.roc(k) for k in sigs},
            log=self.log_scale,
            bins=self._binning(self.score)[0],
            input_rate_hz=self._input_rate_hz(),
            cl=self.cl,
            score_name=f"{self.score} score",
            title=self.rate_description(),
        )
        fig.set_dpi(dpi)
        flags = "; ".join(
            f"{label} = {_KIND_TEXT[sample.is_real]}"
            for label, sample in (("background", bkg), *sigs.items())
        )
        caption = f"Samples: {flags}. {rate_caveat(self.rate().sample)}" + (
            f" {self.caveat}" if self.caveat else ""
        )
        # the caption gets the bottom tenth of the figure, below the legends
        fig.get_layout_engine().set(rect=(0.0, 0.1, 1.0, 0.9))
        fig.text(0.01, 0.005, caption, fontsize=7, wrap=True, va="bottom", color="#8a5a00")
        return fig

    def _export_rows(self, op: OperatingPoint) -> list[dict[str, Any]]:
        """:meth:`OperatingPoint.to_rows` plus the :data:`EXPORT_LIMIT_COLUMNS`, the
        systematic of the rate, each sample's real/simulated flag and the caveat."""
        r = op.rate
        syst = self.rate_systematic_hz()
        limits = dict.fromkeys(EXPORT_LIMIT_COLUMNS + EXPORT_SYST_COLUMNS)
        background_limits = {
            "upper_limit_fpr": r.upper_limit_fpr,
            "upper_limit_rate_hz": r.upper_limit_rate_hz,
            "rate_syst_down_hz": None if syst is None else syst[0],
            "rate_syst_up_hz": None if syst is None else syst[1],
        }
        sigs = self._samples[self.score][1]
        caveat = rate_caveat(r.sample) + (f" {self.caveat}" if self.caveat else "")
        return [
            {
                **row,
                **(background_limits if row["kind"] == "background" else limits),
                "is_real": (
                    self.background if row["kind"] == "background" else sigs[row["key"]]
                ).is_real,
                "background_caveat": caveat,
            }
            for row in op.to_rows()
        ]

    def _csv_bytes(self) -> bytes:
        rows = self._export_rows(self.operating_point())
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["score", *rows[0]], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {"score": self.score, **{k: "" if v is None else v for k, v in row.items()}}
            )
        return buffer.getvalue().encode("utf-8")

    def _json_bytes(self) -> bytes:
        op = self.operating_point()
        record = {
            "score": self.score,
            "mode": self.mode,
            "target_rate_hz": self.target_rate_khz * 1e3 if self.mode == "target rate" else None,
            "threshold": float(self.threshold),
            "input_rate_hz": self._input_rate_hz(),
            "cl": float(self.cl),
            **op.to_dict(),
            "rate_hz": float(op.rate.rate_hz),
            "upper_limit_rate_hz": op.rate.upper_limit_rate_hz,
            "rate_systematic_hz": self.rate_systematic_hz(),
            "rate_description": self.rate_description(),
            "background_caveat": rate_caveat(op.rate.sample)
            + (f" {self.caveat}" if self.caveat else ""),
            "rows": self._export_rows(op),
        }
        return (json.dumps(record, indent=2, allow_nan=False) + "\n").encode("utf-8")

    def _png_bytes(self, dpi: int = 120) -> bytes:
        fig = self.figure(dpi=dpi)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the operating point as CSV: a header, the background row, one row per signal.

        Columns: ``score``, the keys of :meth:`OperatingPoint.to_rows` (rates in Hz,
        empty on signal rows), then :data:`EXPORT_LIMIT_COLUMNS`: ``upper_limit_fpr`` and
        ``upper_limit_rate_hz``, the one-sided upper limits at ``cl`` quoted by the status
        pane when no background event passes (empty otherwise), :data:`EXPORT_SYST_COLUMNS`
        (the rate's systematic in Hz, background row), ``is_real`` (True for recorded data,
        False for simulation, empty if not stated) and ``background_caveat`` (what the rate
        is a rate of). The file is written atomically.

        Args:
            path: the output file.

        Returns:
            The path written.
        """
        return _atomic_write(path, self._csv_bytes())

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the operating point as JSON (atomically).

        The object holds ``score``, ``mode``, ``target_rate_hz``, ``threshold``,
        ``input_rate_hz``, ``cl``, ``rate`` and ``efficiencies`` (from
        :meth:`OperatingPoint.to_dict`), ``rate_hz``, ``upper_limit_rate_hz`` (the one-sided
        upper limit in Hz when no background event passes, else ``null``),
        ``rate_systematic_hz`` (``[down, up]`` or ``null``), ``background_caveat`` and the
        flat ``rows`` (the CSV columns, ``is_real`` and the caveat included).

        Args:
            path: the output file.

        Returns:
            The path written.
        """
        return _atomic_write(path, self._json_bytes())

    def save_png(self, path: str | os.PathLike[str], *, dpi: int = 120) -> Path:
        """Save :meth:`figure` as a PNG (atomically).

        Args:
            path: the output file.
            dpi: resolution.

        Returns:
            The path written.
        """
        return _atomic_write(path, self._png_bytes(dpi))

    # ------------------------------------------------------------------ layout

    def _plot_pane(self, overlay: Any, dynamic: list[str]) -> Any:
        """Re-render on score / log-scale changes; update in place on the ``dynamic`` params.

        A score or log-scale switch changes the axis types, which Bokeh cannot change in
        place; everything else (signal, threshold...) updates the existing plot's data.
        """
        hv = _holoviews()

        @param.depends(self.param.score, self.param.log_scale)
        def view(score: str, log_scale: bool) -> Any:
            return hv.DynamicMap(lambda **_: overlay(), streams=[hv.streams.Params(self, dynamic)])

        return pn.panel(view)

    def _threshold_slider(self) -> Any:
        """A threshold slider for the selected score, linked to :attr:`threshold`.

        Slider → parameter only in ``"threshold"`` mode and only while its score is
        selected (late events of a replaced slider are ignored); parameter → slider via
        :meth:`_sync_sliders`.
        """
        score = self.score
        start, end, step = self._ranges[score]
        slider = pn.widgets.EditableFloatSlider(
            **label_kwargs(pn.widgets.EditableFloatSlider, "Threshold"),
            value=self.threshold,
            start=start,
            end=end,
            fixed_start=start,
            fixed_end=end,
            step=step,
            disabled=self.mode == "target rate",
            width=280,
        )

        def to_param(event: Any) -> None:
            if self.mode == "threshold" and self.score == score and event.new != self.threshold:
                self.threshold = event.new

        slider.param.watch(to_param, "value")
        return slider

    def _sync_sliders(self, *events: Any) -> None:
        for box in list(self._slider_boxes):
            for slider in box:
                if slider.start <= self.threshold <= slider.end:
                    slider.param.update(value=self.threshold, disabled=self.mode == "target rate")

    def _controls(self) -> Any:
        is_threshold = pn.bind(lambda m: m == "threshold", self.param.mode)
        slider_box = pn.Column(self._threshold_slider(), margin=0)
        self._slider_boxes.add(slider_box)
        widgets = [
            pn.widgets.Select.from_param(self.param.score, name="Score", width=280),
            pn.widgets.Select.from_param(self.param.signal, name="Signal (plots)", width=280),
            pn.widgets.RadioButtonGroup.from_param(
                self.param.mode, name="Mode", width=280, **color_kwargs(pn.widgets.RadioButtonGroup)
            ),
            pn.widgets.FloatInput.from_param(
                self.param.target_rate_khz,
                name="Target rate [kHz]",
                step=1.0,
                disabled=is_threshold,
                width=280,
            ),
            slider_box,
            pn.widgets.FloatInput.from_param(
                self.param.input_rate_mhz, name="Input rate [MHz]", step=0.1, width=280
            ),
            pn.widgets.FloatInput.from_param(
                self.param.cl, name="Confidence level", step=0.01, width=280
            ),
            pn.widgets.Checkbox.from_param(self.param.log_scale, name="Log scale"),
        ]
        downloads = pn.Row(
            *(
                pn.widgets.FileDownload(
                    callback=lambda f=f: io.BytesIO(f()),
                    filename=f"precml_operating_point.{ext}",
                    label=ext.upper(),
                    width=88,
                )
                for ext, f in (
                    ("csv", self._csv_bytes),
                    ("json", self._json_bytes),
                    ("png", self._png_bytes),
                )
            )
        )
        return pn.Column(
            "### Trigger settings",
            *widgets,
            "**Download the operating point**",
            downloads,
            width=300,
        )

    def __panel__(self) -> Any:
        """The dashboard: controls on the left, plots, rate summary and efficiency table."""
        status = pn.pane.HTML(
            self.status_html, css_classes=["precml-rate"], width=600, min_height=170
        )
        table = pn.pane.DataFrame(
            self.efficiency_frame,
            index=False,
            float_format="{:.2f}".format,
            width=520,
        )
        views = pn.Column(
            pn.Row(
                self._plot_pane(self.histogram_overlay, ["signal", "threshold"]),
                self._plot_pane(self.roc_overlay, ["signal", "threshold", "cl"]),
            ),
            pn.Row(
                pn.Column("#### Operating point", status, width=610),
                pn.Column(
                    "#### Signal efficiencies at the cut",
                    table,
                    "<small>lower / upper: Clopper–Pearson interval at the chosen "
                    "confidence level.</small>",
                    width=520,
                ),
            ),
        )
        return pn.Row(self._controls(), views)
