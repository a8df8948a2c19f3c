"""Statistical tools of precml: two-sample tests for validating simulations against data."""

from __future__ import annotations

from precml_widgets.stats.two_sample import (
    MAX_ENERGY_EVENTS,
    TwoSampleResult,
    energy_test,
    ks_per_feature,
)

__all__ = ["MAX_ENERGY_EVENTS", "TwoSampleResult", "energy_test", "ks_per_feature"]
