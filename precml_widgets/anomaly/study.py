"""The whole anomaly-trigger study in one call: samples, fast simulation, scores, validation."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from precml_widgets._checks import require_int
from precml_widgets.anomaly.events import DimuonEvents
from precml_widgets.anomaly.fastsim import BANDWIDTH_GRID, DimuonKDE, simulate_resonance
from precml_widgets.anomaly.model import (
    AutoencoderConfig,
    TrainResult,
    anomaly_scores,
    load_autoencoder,
    train_autoencoder,
)
from precml_widgets.anomaly.rates import DEFAULT_INPUT_RATE_HZ, RateResult, rate_at_threshold
from precml_widgets.anomaly.roc import RocCurve, roc_curve
from precml_widgets.anomaly.samples import load_sample, split_tune_validate
from precml_widgets.anomaly.scores import ScoreSample
from precml_widgets.errors import DataNotFoundError, InvalidInputError
from precml_widgets.stats.two_sample import TwoSampleResult, energy_test

__all__ = [
    "BACKGROUND",
    "BACKGROUND_CAVEAT",
    "AnomalyStudy",
    "StudyConfig",
    "bandwidth_systematic",
    "neighbour_bandwidths",
    "run_study",
    "variant_scores",
]

#: Name of the background sample on which rates are measured.
BACKGROUND = "fastsim_background"
#: What the study's rates are rates of; travels with every rate (widget, exports, notebook).
BACKGROUND_CAVEAT = (
    "Background = fast simulation of CMS 2010 dimuon-triggered collisions (real data, 7 TeV, "
    "selected around the Z), NOT zero-bias collisions: rates are FPR on this dimuon stream x "
    "the input rate, a teaching model of an L1 rate, not a prediction for a real detector."
)
_REAL_SIGNALS = ("atlas2016_4lep", "cms2012_doublemu")


@dataclass(frozen=True)
class StudyConfig:
    """Sizes and seeds of the study; the defaults are the teaching defaults (fit in ~2 GB).

    Attributes:
        n_background: fast-simulated background events on which rates are measured
            (FPR resolution 1/n_background).
        n_signal: events per fast-simulated resonance signal.
        resonance_masses_gev: masses of the simulated X -> mu mu benchmark signals.
        train: retrain the autoencoder instead of using the shipped weights.
        n_train: fast-simulated training events when ``train`` is set.
        autoencoder: architecture and training settings when ``train`` is set.
        n_permutations: permutations of the fast-sim validation test.
        seed: master seed; every random draw derives from it.
    """

    n_background: int = 1_000_000
    n_signal: int = 50_000
    resonance_masses_gev: tuple[float, ...] = (12.0, 300.0)
    train: bool = False
    n_train: int = 100_000
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    n_permutations: int = 500
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`InvalidInputError` for sizes that cannot work."""
        for name in ("n_background", "n_signal", "n_train", "n_permutations"):
            require_int(f"StudyConfig.{name}", getattr(self, name), low=10)


@dataclass
class AnomalyStudy:
    """Everything the explorer and the notebook show.

    Attributes:
        config: the settings used.
        events: every sample in the common representation, by name.
        scores: autoencoder scores per sample (``BACKGROUND`` is the rate sample).
        baselines: trivial baseline scores, ``{"HT": {...}, "leading-muon pT": {...}}`` (GeV).
        model: the autoencoder.
        kde: the fast simulation of the background.
        validation: fast simulation vs held-out real events (energy test).
        missing: samples skipped because their files were not found, with the reason.
    """

    config: StudyConfig
    events: dict[str, DimuonEvents]
    scores: dict[str, ScoreSample]
    baselines: dict[str, dict[str, ScoreSample]]
    model: TrainResult
    kde: DimuonKDE
    validation: TwoSampleResult
    missing: dict[str, str] = field(default_factory=dict)
    _roc_cache: dict[tuple[str, str], RocCurve] = field(default_factory=dict, repr=False)
    _variant_cache: dict[tuple[float, int], DimuonEvents] = field(default_factory=dict, repr=False)
    _variant_scores: dict[tuple[float, int, str], ScoreSample] = field(
        default_factory=dict, repr=False
    )

    @property
    def background(self) -> ScoreSample:
        """Autoencoder scores of the fast-simulated background."""
        return self.scores[BACKGROUND]

    @property
    def signals(self) -> dict[str, ScoreSample]:
        """Autoencoder scores of every sample except the two backgrounds."""
        return {
            k: v for k, v in self.scores.items() if k not in (BACKGROUND, "cms2010_zmumu_validate")
        }

    def roc(self, signal: str, score: str = "autoencoder") -> RocCurve:
        """ROC curve of ``signal`` against the fast-sim background for a score (cached)."""
        key = (score, signal)
        if key not in self._roc_cache:
            if score != "autoencoder" and score not in self.baselines:
                raise InvalidInputError(
                    f"unknown score {score!r}; choose one of: autoencoder, "
                    f"{', '.join(self.baselines)}"
                )
            if signal not in self.signals:
                raise InvalidInputError(
                    f"unknown signal {signal!r}; choose one of: {', '.join(self.signals)}"
                )
            samples = self.scores if score == "autoencoder" else self.baselines[score]
            self._roc_cache[key] = roc_curve(samples[BACKGROUND], samples[signal])
        return self._roc_cache[key]

    def auc_table(self) -> dict[str, dict[str, float]]:
        """AUC of the autoencoder and of each baseline, per signal (background: fast sim)."""
        scores = ["autoencoder", *self.baselines]
        return {name: {s: self.roc(name, s).auc for s in scores} for name in self.signals}

    def release_variant_events(self) -> int:
        """Forget the events of the kernel-width variants, keeping their scores.

        :func:`variant_scores` caches each variant's events (about 46 MiB per 1e6 events)
        to score them with every score type; once every score type is scored (e.g. after
        :meth:`~precml_widgets.anomaly.score_set.ScoreSet.from_study`), a server can drop
        them. A later request for a new variant draws it again, with the same seed.

        Returns:
            The number of variant samples released.
        """
        n = len(self._variant_cache)
        self._variant_cache.clear()
        return n

    def summary(self) -> dict[str, Any]:
        """Key numbers as plain types (for recording)."""
        return {
            "config": asdict(self.config),
            "n_events": {k: v.n for k, v in self.events.items()},
            "kde_bandwidth": self.kde.bandwidth,
            "validation": self.validation.to_dict(),
            "auc": self.auc_table(),
            "missing": self.missing,
        }


def run_study(config: StudyConfig | None = None, *, progress: bool = True) -> AnomalyStudy:
    """Load real samples, tune and validate the fast simulation, score everything.

    Args:
        config: sizes and seeds (defaults: :class:`StudyConfig`).
        progress: show progress bars.
    """
    from tqdm.auto import tqdm

    config = config or StudyConfig()
    config.validate()
    steps = tqdm(total=5, desc="anomaly study", disable=not progress)
    real = load_sample("cms2010_zmumu")
    tune, held_out = split_tune_validate(real)
    kde = DimuonKDE.tuned(tune)
    steps.update()
    events: dict[str, DimuonEvents] = {
        BACKGROUND: kde.sample(config.n_background, seed=config.seed + 1, name=BACKGROUND),
        "cms2010_zmumu_validate": held_out,
    }
    comparison = kde.sample(held_out.n, seed=config.seed + 2, name="fastsim_validation")
    validation = energy_test(
        comparison.features(),
        held_out.features(),
        n_permutations=config.n_permutations,
        seed=config.seed,
    )
    steps.update()
    missing: dict[str, str] = {}
    for name in _REAL_SIGNALS:
        try:
            events[name] = load_sample(name)
        except DataNotFoundError as exc:
            missing[name] = str(exc)
            warnings.warn(f"sample {name!r} skipped: {exc}", stacklevel=2)
    for i, mass in enumerate(config.resonance_masses_gev):
        ev = simulate_resonance(mass, config.n_signal, seed=config.seed + 10 + i)
        events[ev.name] = ev
    steps.update()
    if config.train:
        model = train_autoencoder(
            kde.sample(config.n_train, seed=config.seed + 3).features(),
            config.autoencoder,
            progress=progress,
            provenance={"training sample": f"{config.n_train} fast-sim background events"},
        )
    else:
        model = load_autoencoder()
    steps.update()
    scores = {
        k: ScoreSample(
            k, anomaly_scores(model, ev.features()), description=ev.description, is_real=ev.real
        )
        for k, ev in events.items()
    }
    baselines = {
        "HT": {
            k: ScoreSample(k, ev.ht(), description=ev.description, is_real=ev.real)
            for k, ev in events.items()
        },
        # A baseline that can lose: the leading muon's pT. (Counting muons cannot: every
        # event has exactly two in the common representation.)
        "leading-muon pT": {
            k: ScoreSample(k, ev.pt[:, 0], description=ev.description, is_real=ev.real)
            for k, ev in events.items()
        },
    }
    steps.update()
    steps.close()
    return AnomalyStudy(config, events, scores, baselines, model, kde, validation, missing)


def neighbour_bandwidths(
    study: AnomalyStudy, grid: tuple[float, ...] = BANDWIDTH_GRID
) -> tuple[float, ...]:
    """The neighbours of the chosen kernel width on the cross-validation grid (x Scott).

    These are the nearest alternatives the tuning could have picked; the rate's kernel-width
    systematic is the spread of the rates measured with them (:func:`bandwidth_systematic`).

    Args:
        study: a finished study whose kernel width was chosen on ``grid``.
        grid: the cross-validation grid (default
            :data:`~precml_widgets.anomaly.fastsim.BANDWIDTH_GRID`, the grid
            :meth:`DimuonKDE.tuned` uses by default).

    Returns:
        The one or two grid values next to ``study.kde.bandwidth``.

    Raises:
        InvalidInputError: if the chosen width is not on ``grid``.
    """
    if study.kde.bandwidth not in grid:
        raise InvalidInputError(
            f"the study's kernel width {study.kde.bandwidth:g} x Scott is not on the grid "
            f"{grid!r}; pass the grid it was tuned on"
        )
    i = grid.index(study.kde.bandwidth)
    return tuple(grid[j] for j in (i - 1, i + 1) if 0 <= j < len(grid))


def variant_scores(
    study: AnomalyStudy,
    bandwidths: tuple[float, ...],
    *,
    score: str = "autoencoder",
    n_events: int | None = None,
) -> dict[float, ScoreSample]:
    """Background scores of fast simulations with other kernel widths (cached in the study).

    Common random numbers: each variant is drawn with the nominal background's seed, so
    only the kernel width differs (the nominal width reproduces the nominal sample exactly).

    Args:
        study: a finished study (its tuning events and model are reused).
        bandwidths: kernel widths (x Scott's rule), e.g. ``(0.8, 1.25)``.
        score: ``"autoencoder"``, ``"HT"`` or ``"leading-muon pT"``.
        n_events: events per variant (default: the study's background size).

    Returns:
        ``{bandwidth: ScoreSample}`` of simulated background events.
    """
    scores = ("autoencoder", "HT", "leading-muon pT")
    if score not in scores:
        raise InvalidInputError(f"score must be one of {scores}, got {score!r}")
    if n_events is not None:
        require_int("n_events", n_events, low=1, hint="pass None for the study's size.")
    if isinstance(bandwidths, int | float) or not len(bandwidths):
        raise InvalidInputError(
            f"bandwidths must be a non-empty tuple such as (0.8, 1.25), got {bandwidths!r}"
        )
    n = study.config.n_background if n_events is None else n_events
    out: dict[float, ScoreSample] = {}
    for bw in bandwidths:
        key = (float(bw), n)
        if (*key, score) in study._variant_scores:  # scored before: no events needed
            out[bw] = study._variant_scores[(*key, score)]
            continue
        if key not in study._variant_cache:
            study._variant_cache[key] = DimuonKDE(study.kde.source, bw).sample(
                n, seed=study.config.seed + 1, name=f"fastsim_bandwidth_{bw:g}"
            )
        events = study._variant_cache[key]
        if (*key, score) not in study._variant_scores:
            values = {
                "autoencoder": lambda ev: anomaly_scores(study.model, ev.features()),
                "HT": lambda ev: ev.ht(),
                "leading-muon pT": lambda ev: ev.pt[:, 0],
            }[score](events)
            study._variant_scores[(*key, score)] = ScoreSample(
                events.name, values, description=events.description, is_real=False
            )
        out[bw] = study._variant_scores[(*key, score)]
    return out


def bandwidth_systematic(
    study: AnomalyStudy,
    threshold: float,
    bandwidths: tuple[float, ...],
    *,
    score: str = "autoencoder",
    input_rate_hz: float = DEFAULT_INPUT_RATE_HZ,
    n_events: int | None = None,
) -> dict[float, RateResult]:
    """Rate at a fixed ``threshold`` measured on fast simulations of other kernel widths.

    The far tail of the fast simulation, where a kHz trigger cuts, is set by the kernel width.
    Re-measuring the rate with the neighbouring widths of the cross-validation grid gives a
    systematic uncertainty that the statistical (Clopper-Pearson) interval does not contain.

    Args:
        study: a finished study (its tuning events and model are reused).
        threshold: the cut on ``score``.
        bandwidths: kernel widths (x Scott's rule) to compare, e.g. ``(0.8, 1.25)``.
        score: ``"autoencoder"``, ``"HT"`` or ``"leading-muon pT"``.
        input_rate_hz: input rate in Hz (here: of the dimuon-triggered stream the
            background models, see :data:`BACKGROUND_CAVEAT`).
        n_events: events per variant (default: the study's background size).

    Returns:
        ``{bandwidth: RateResult}``, measured on each variant.
    """
    variants = variant_scores(study, bandwidths, score=score, n_events=n_events)
    return {
        bw: rate_at_threshold(sample, threshold, input_rate_hz=input_rate_hz)
        for bw, sample in variants.items()
    }
