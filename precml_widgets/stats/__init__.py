"""Statistical tools of precml: two-sample tests for validating simulations against data."""

from __future__ import annotations

from precml_widgets.stats.classifier_check import (
    MIN_EVENTS_PER_HALF,
    MIN_MAP_COUNT,
    ClassifierCheck,
    RatioMap,
    classifier_check,
)
from precml_widgets.stats.two_sample import (
    MAX_ENERGY_EVENTS,
    TwoSampleResult,
    energy_test,
    ks_per_feature,
)

__all__ = [
    "MAX_ENERGY_EVENTS",
    "MIN_EVENTS_PER_HALF",
    "MIN_MAP_COUNT",
    "ClassifierCheck",
    "RatioMap",
    "TwoSampleResult",
    "classifier_check",
    "energy_test",
    "ks_per_feature",
]
