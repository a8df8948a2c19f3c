"""The precomputed scores a trigger explorer cuts on: one set of samples per score type.

A :class:`ScoreSet` holds, for the autoencoder score and any baseline score (HT, leading-muon
pT...), the background sample the rate is measured on and the signal samples, plus optional
systematic variants of each background. It caches what is expensive (ROC curves, histogram
binning and densities) and answers every question a view asks at a threshold: the slider
range, the threshold for a target rate, the threshold of equal rate on another score, the
rate's systematic. Nothing here is retrained or rescored.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.typing import ArrayLike

from precml_widgets._checks import require_instance
from precml_widgets.anomaly.efficiency import efficiency_at_threshold
from precml_widgets.anomaly.figures import density_histogram, score_bins
from precml_widgets.anomaly.formatting import rate_caveat
from precml_widgets.anomaly.rates import rate_at_threshold, threshold_for_rate
from precml_widgets.anomaly.roc import RocCurve, roc_curve, roc_points_for_plot, thin_curve
from precml_widgets.anomaly.scores import ScoreSample
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.binomial import BinomialEstimate

__all__ = [
    "AUTOENCODER",
    "ROC_PLOT_POINTS",
    "ScoreSet",
    "read_score_branch",
    "threshold_range",
]

#: Name of the primary score of a :class:`ScoreSet`.
AUTOENCODER = "autoencoder"

#: How many vertices of a ROC curve :meth:`ScoreSet.roc_plot_points` hands a plot.
ROC_PLOT_POINTS = 2000

Samples = tuple[ScoreSample, dict[str, ScoreSample]]


def threshold_range(samples: list[ScoreSample]) -> tuple[float, float, float]:
    """``(start, end, step)`` of a threshold slider covering these samples.

    ``start`` lies strictly below every score (so "every event passes" is reachable,
    including the value :func:`threshold_for_rate` returns for that case) and ``end`` at or
    above every score (so "no event passes" is reachable); ``step`` is a power of ten giving
    roughly 1000-10000 steps.

    Example:
        >>> threshold_range([ScoreSample("s", [0.0, 10.0])])
        (-0.01, 10.0, 0.01)
    """
    lo = min(float(s.sorted_scores[0]) for s in samples)
    hi = max(float(s.sorted_scores[-1]) for s in samples)
    span = hi - lo
    if not span > 0.0:  # a constant score: a unit-wide range around it
        lo, hi, span = lo - 0.5, hi + 0.5, 1.0
    step = float(10.0 ** math.floor(math.log10(span / 1000.0)))
    start = math.floor(lo / step) * step
    if start >= float(np.nextafter(lo, -np.inf)):
        start -= step
    end = math.ceil(hi / step) * step
    if end < hi:
        end += step
    return float(start), float(end), step


def check_samples(what: str, background: object, signals: object) -> Samples:
    """``(background, signals)`` validated: a :class:`ScoreSample` and a non-empty mapping.

    Args:
        what: who asks, quoted at the start of an error message.
        background: should be a :class:`ScoreSample`.
        signals: should map ``str`` to :class:`ScoreSample`, at least one entry.

    Raises:
        InvalidInputError: naming what is wrong.
    """
    require_instance(
        f"{what}: background",
        background,
        ScoreSample,
        hint="wrap the scores with ScoreSample('zero bias', scores) or use from_scores().",
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
    return background, out  # type: ignore[return-value]


def read_score_branch(
    files: Mapping[str, str | os.PathLike[str]], tree: str, branch: str
) -> dict[str, npt.NDArray[np.float64]]:
    """One flat score branch from ROOT files, one file per sample.

    Args:
        files: sample name → ROOT file path.
        tree: name of the tree holding the scores in every file.
        branch: name of the (flat, one value per event) score branch.

    Returns:
        Sample name → float64 scores, shape ``(N,)``.

    Raises:
        MissingBranchError: a file lacks ``branch``; the message lists the branches it has.
        InvalidInputError: a file or tree cannot be read, or the branch is not flat.
    """
    from precml_widgets._optional import require
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
    return scores


class ScoreSet:
    """Background and signal samples per score type, with cached ROC curves and binning.

    Args:
        background: scores of the background sample the rate is measured on.
        signals: signal name → scores (at least one).
        baselines: optional other scores, ``{score name: (background, signals)}`` with the
            same signal names, e.g. ``{"HT": (ht_background, {"A": ht_A})}``.
        rate_variants: optional systematic variants of the background, ``{score name:
            {label: background ScoreSample}}``.
        caveat: what the background sample is, in words (may be empty).
        what: who builds the set, quoted in error messages.

    Raises:
        InvalidInputError: for malformed samples or baselines whose signal names differ.

    Example:
        >>> s = ScoreSet(ScoreSample("b", np.arange(100.0)), {"A": ScoreSample("A", [50.0])})
        >>> s.scores, s.signal_names, s.threshold_range("autoencoder")
        (['autoencoder'], ['A'], (-0.01, 99.0, 0.01))
    """

    def __init__(
        self,
        background: ScoreSample,
        signals: Mapping[str, ScoreSample],
        *,
        baselines: Mapping[str, tuple[ScoreSample, Mapping[str, ScoreSample]]] | None = None,
        rate_variants: Mapping[str, Mapping[str, ScoreSample]] | None = None,
        caveat: str = "",
        what: str = "ScoreSet",
    ) -> None:
        bkg, sigs = check_samples(what, background, signals)
        require_instance("caveat", caveat, str)
        samples: dict[str, Samples] = {AUTOENCODER: (bkg, sigs)}
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
            b_bkg, b_sigs = check_samples(f"baselines[{name!r}]", *pair)
            if list(b_sigs) != list(sigs):
                raise InvalidInputError(
                    f"baselines[{name!r}] has signals {list(b_sigs)}, but the autoencoder has "
                    f"{list(sigs)}; every score needs the same signal samples, in the same order."
                )
            samples[name] = (b_bkg, b_sigs)
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
        self._roc_points: dict[tuple[str, str], tuple[npt.NDArray[np.float64], ...]] = {}
        self._ranges = {name: threshold_range([b, *s.values()]) for name, (b, s) in samples.items()}

    # ------------------------------------------------------------------ builders

    @classmethod
    def from_scores(cls, scores: Mapping[str, ArrayLike], background: str, **kw: Any) -> ScoreSet:
        """A set of plain score arrays: ``background`` is the rate sample, the rest signals.

        Raises:
            InvalidInputError: if ``background`` is not a key of ``scores``.
        """
        if not isinstance(scores, Mapping) or background not in scores:
            keys = list(scores) if isinstance(scores, Mapping) else type(scores).__name__
            raise InvalidInputError(
                f"background={background!r} is not a key of scores ({keys}); name the sample "
                f"that the trigger rate is measured on."
            )
        samples = {str(k): ScoreSample(str(k), v) for k, v in scores.items()}
        bkg = samples.pop(str(background))
        return cls(bkg, samples, **kw)

    @classmethod
    def from_study(
        cls, study: Any, systematic_bandwidths: tuple[float, ...] | None = None, **kw: Any
    ) -> ScoreSet:
        """The scores of an :class:`~precml_widgets.anomaly.study.AnomalyStudy`.

        Args:
            study: the result of :func:`~precml_widgets.anomaly.study.run_study`.
            systematic_bandwidths: kernel widths (x Scott) of the background variants behind
                the rate systematic; ``None``: the grid neighbours of the chosen width
                (:func:`~precml_widgets.anomaly.study.neighbour_bandwidths`); ``()``: none.
            **kw: passed to the constructor (``what``).
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
            for score in ((AUTOENCODER, *study.baselines) if widths else ())
        }
        return cls(
            study.background,
            signals,
            baselines=baselines,
            caveat=BACKGROUND_CAVEAT,
            rate_variants=variants if widths else None,
            **kw,
        )

    # ------------------------------------------------------------------ samples

    @property
    def scores(self) -> list[str]:
        """The score names, the autoencoder first."""
        return list(self._samples)

    @property
    def signal_names(self) -> list[str]:
        """The signal names (the same for every score)."""
        return list(self._samples[AUTOENCODER][1])

    def background(self, score: str) -> ScoreSample:
        """The background sample of ``score``."""
        return self._samples[score][0]

    def signals(self, score: str) -> dict[str, ScoreSample]:
        """The signal samples of ``score`` (a copy of the mapping)."""
        return dict(self._samples[score][1])

    def check_selection(self, signal: str, score: str, threshold: float | None = None) -> None:
        """Refuse a ``signal`` or ``score`` not in the set, or a ``threshold`` outside the
        slider range of ``score``.

        Raises:
            InvalidInputError: naming the bad value and what is available.
        """
        for name, value, choices in (
            ("signal", signal, self.signal_names),
            ("score", score, self.scores),
        ):
            if value not in choices:
                raise InvalidInputError(
                    f"{name}={value!r} is not one of the available {name}s: {list(choices)}."
                )
        start, end, _ = self._ranges[score]
        if threshold is not None and not start <= threshold <= end:
            raise InvalidInputError(
                f"threshold={threshold!r} lies outside the range of the {score!r} scores, "
                f"[{start:.6g}, {end:.6g}]."
            )

    def threshold_range(self, score: str) -> tuple[float, float, float]:
        """``(start, end, step)`` of the threshold slider of ``score`` (:func:`threshold_range`)."""
        return self._ranges[score]

    def full_caveat(self, score: str) -> str:
        """:func:`rate_caveat` of the background of ``score``, followed by :attr:`caveat`."""
        text = rate_caveat(self.background(score).label)
        return text + (f" {self.caveat}" if self.caveat else "")

    # ------------------------------------------------------------------ thresholds

    def target_threshold(
        self, score: str, target_rate_hz: float, input_rate_hz: float
    ) -> tuple[float | None, str | None]:
        """The lowest threshold of ``score`` whose rate is at most the target.

        Returns:
            ``(threshold, None)``, or ``(None, message)`` when the background cannot resolve
            the target (the message of :func:`threshold_for_rate`).
        """
        try:
            t = threshold_for_rate(
                self.background(score), target_rate_hz, input_rate_hz=input_rate_hz
            )
        except InvalidInputError as exc:
            return None, str(exc)
        return t, None

    def equal_rate_threshold(
        self, old_score: str, new_score: str, threshold: float, input_rate_hz: float
    ) -> float:
        """The threshold of ``new_score`` giving the rate ``threshold`` gives on ``old_score``.

        A rate of zero, or one below the new background's resolution, gives the end of the
        new score's range (nothing passes).
        """
        old_rate_hz = rate_at_threshold(
            self.background(old_score), threshold, input_rate_hz=input_rate_hz
        ).rate_hz
        t, error = self.target_threshold(new_score, old_rate_hz, input_rate_hz)
        return self._ranges[new_score][1] if t is None or error else t

    # ------------------------------------------------------------------ systematic

    def systematic_label(self, score: str) -> str | None:
        """The background variants of ``score``, in words (or ``None`` without variants)."""
        variants = self._variants.get(score)
        return ", ".join(variants) if variants else None

    def rate_systematic_hz(
        self, score: str, threshold: float, input_rate_hz: float
    ) -> tuple[float, float] | None:
        """Systematic ``(down <= 0, up >= 0)`` of the rate in Hz from the background variants.

        The rate at ``threshold`` on each variant minus the nominal rate; ``None`` when no
        variants were given for ``score``.
        """
        variants = self._variants.get(score)
        if not variants:
            return None
        nominal = rate_at_threshold(
            self.background(score), threshold, input_rate_hz=input_rate_hz
        ).rate_hz
        shifts = [
            rate_at_threshold(v, threshold, input_rate_hz=input_rate_hz).rate_hz - nominal
            for v in variants.values()
        ]
        return min(0.0, *shifts), max(0.0, *shifts)

    # ------------------------------------------------------------------ cached views of the data

    def roc(self, score: str, signal: str) -> RocCurve:
        """ROC curve of ``signal`` against the background of ``score`` (computed once)."""
        key = (score, signal)
        if key not in self._rocs:
            bkg, sigs = self._samples[score]
            self._rocs[key] = roc_curve(bkg, sigs[signal])
        return self._rocs[key]

    def roc_marker(
        self, score: str, signal: str, threshold: float, cl: float
    ) -> tuple[float, BinomialEstimate, bool]:
        """Where the cut sits on the ROC curve of ``signal``.

        Returns:
            ``(fpr, efficiency, passes)``: the background FPR at ``threshold`` (``1/N`` when no
            background event passes, then ``passes`` is false) and the signal efficiency
            with its Clopper-Pearson interval at ``cl``.
        """
        bkg, sigs = self._samples[score]
        n_pass = bkg.n_above(threshold)
        eff = efficiency_at_threshold(sigs[signal], threshold, cl=cl).efficiency
        fpr = n_pass / bkg.n if n_pass > 0 else bkg.min_resolvable_fpr
        return fpr, eff, n_pass > 0

    def binning(self, score: str) -> tuple[npt.NDArray[np.float64], bool]:
        """Histogram edges of ``score`` (read-only) and whether they are log-spaced
        (:func:`score_bins`)."""
        if score not in self._bins:
            bkg, sigs = self._samples[score]
            edges, log = score_bins([bkg, *sigs.values()])
            edges = np.array(edges, dtype=np.float64)  # own copy: freezing touches no caller's
            edges.setflags(write=False)
            self._bins[score] = (edges, log)
        return self._bins[score]

    def density(self, score: str, key: str) -> npt.NDArray[np.float64]:
        """Density histogram of a signal (``key``) or of the background (``key=""``),
        read-only (shared by every view of this set)."""
        if (score, key) not in self._densities:
            bkg, sigs = self._samples[score]
            sample = bkg if key == "" else sigs[key]
            density = np.array(density_histogram(sample, self.binning(score)[0]), np.float64)
            density.setflags(write=False)
            self._densities[(score, key)] = density
        return self._densities[(score, key)]

    def roc_plot_points(
        self, score: str, signal: str
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The ROC vertices a plot draws: :func:`roc_points_for_plot` from ``1/N``, thinned
        to about :data:`ROC_PLOT_POINTS` by :func:`thin_curve` (computed once; read-only)."""
        key = (score, signal)
        if key not in self._roc_points:
            curve = self.roc(score, signal)
            x, y = thin_curve(
                *roc_points_for_plot(curve, curve.min_resolvable_fpr), ROC_PLOT_POINTS
            )
            x.setflags(write=False)
            y.setflags(write=False)
            self._roc_points[key] = (x, y)
        return self._roc_points[key]  # type: ignore[return-value]

    def warm(self) -> ScoreSet:
        """Compute every cache now (ROC curves and their plot points, binning, densities of
        every score and sample), so that views sharing this set never compute them.

        Returns:
            ``self``, now read-only in use (every cached array has ``writeable=False``): a
            server can hand it to every session.
        """
        for score in self.scores:
            self.density(score, "")
            for signal in self.signal_names:
                self.density(score, signal)
                self.roc_plot_points(score, signal)
        return self
