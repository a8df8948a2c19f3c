"""Anomaly-detection triggers: scores, trigger rates, efficiencies, ROC curves, the study.

The light trigger toolkit (score samples, rates, efficiencies, ROC curves, operating points,
formatting) is imported with the package. The heavier pieces (the dimuon events, fast
simulation, autoencoder, study, figures, exports) and the Panel view
:class:`~precml_widgets.anomaly.explorer.AnomalyScoreExplorer` are imported on first access
of their names, so ``import precml_widgets.anomaly`` neither imports Panel nor torch.

Example:
    >>> from precml_widgets.anomaly import ScoreSample, rate_at_threshold
    >>> rate_at_threshold(ScoreSample("toy", range(100)), 89.5, input_rate_hz=1e3).rate_hz
    100.0
"""

from __future__ import annotations

from precml_widgets._optional import lazy_exports
from precml_widgets.anomaly.efficiency import EfficiencyResult, efficiency_at_threshold
from precml_widgets.anomaly.formatting import format_hz, format_khz, rate_caveat
from precml_widgets.anomaly.operating_point import OperatingPoint, operating_point
from precml_widgets.anomaly.rates import (
    DEFAULT_INPUT_RATE_HZ,
    LHC_BUNCH_SLOTS,
    LHC_REVOLUTION_HZ,
    RateResult,
    lhc_collision_rate_hz,
    rate_at_threshold,
    threshold_for_rate,
)
from precml_widgets.anomaly.roc import RocCurve, roc_curve, roc_points_for_plot
from precml_widgets.anomaly.scores import ScoreSample
from precml_widgets.stats.binomial import BinomialEstimate, clopper_pearson

#: Public names imported on first access: name -> module (relative to this package).
_LAZY = {
    "FEATURE_NAMES": "events",
    "DimuonEvents": "events",
    "BANDWIDTH_GRID": "fastsim",
    "DimuonKDE": "fastsim",
    "simulate_resonance": "fastsim",
    "AutoencoderConfig": "model",
    "TrainResult": "model",
    "anomaly_scores": "model",
    "load_autoencoder": "model",
    "save_autoencoder": "model",
    "train_autoencoder": "model",
    "REAL_SAMPLES": "samples",
    "load_sample": "samples",
    "split_tune_validate": "samples",
    "BACKGROUND": "study",
    "BACKGROUND_CAVEAT": "study",
    "AnomalyStudy": "study",
    "StudyConfig": "study",
    "bandwidth_systematic": "study",
    "neighbour_bandwidths": "study",
    "run_study": "study",
    "variant_scores": "study",
    "HeldOutComparison": "validation",
    "SplitEnsemble": "validation",
    "Z_WINDOW_GEV": "validation",
    "compare_with_held_out": "validation",
    "split_ensemble": "validation",
    "z_window_mask": "validation",
    "operating_point_figure": "figures",
    "score_bins": "figures",
    "ScoreSet": "score_set",
    "TriggerState": "trigger_state",
    "StatusReport": "status",
    "OperatingPointRecord": "exports",
    "AnomalyScoreExplorer": "explorer",
}

__all__ = [
    "BACKGROUND",
    "BACKGROUND_CAVEAT",
    "BANDWIDTH_GRID",
    "DEFAULT_INPUT_RATE_HZ",
    "FEATURE_NAMES",
    "LHC_BUNCH_SLOTS",
    "LHC_REVOLUTION_HZ",
    "REAL_SAMPLES",
    "Z_WINDOW_GEV",
    "AnomalyScoreExplorer",
    "AnomalyStudy",
    "AutoencoderConfig",
    "BinomialEstimate",
    "DimuonEvents",
    "DimuonKDE",
    "EfficiencyResult",
    "HeldOutComparison",
    "OperatingPoint",
    "OperatingPointRecord",
    "RateResult",
    "RocCurve",
    "ScoreSample",
    "ScoreSet",
    "SplitEnsemble",
    "StatusReport",
    "StudyConfig",
    "TrainResult",
    "TriggerState",
    "anomaly_scores",
    "bandwidth_systematic",
    "clopper_pearson",
    "compare_with_held_out",
    "efficiency_at_threshold",
    "format_hz",
    "format_khz",
    "lhc_collision_rate_hz",
    "load_autoencoder",
    "load_sample",
    "neighbour_bandwidths",
    "operating_point",
    "operating_point_figure",
    "rate_at_threshold",
    "rate_caveat",
    "roc_curve",
    "roc_points_for_plot",
    "run_study",
    "save_autoencoder",
    "score_bins",
    "simulate_resonance",
    "split_ensemble",
    "split_tune_validate",
    "threshold_for_rate",
    "train_autoencoder",
    "variant_scores",
    "z_window_mask",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
