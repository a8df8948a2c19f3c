"""Statistical tools of precml: two-sample tests for validating simulations against data."""

from __future__ import annotations

from precml_widgets.stats.binomial import (
    ONE_SIGMA_CL,
    BinomialEstimate,
    clopper_pearson,
    zero_pass_upper_limit,
)
from precml_widgets.stats.classifier_check import (
    MIN_EVENTS_PER_HALF,
    MIN_MAP_COUNT,
    ClassifierCheck,
    RatioMap,
    classifier_check,
)
from precml_widgets.stats.deformations import (
    DEFORMATIONS,
    CorrelatedGaussian,
    GaussianMixture,
    deformed,
    reference_model,
)
from precml_widgets.stats.metrics import classifier_statistic, likelihood_ratio_statistic
from precml_widgets.stats.nplm import NPLMResult, nplm_kernel, nplm_neural
from precml_widgets.stats.sensitivity import Sensitivity, sensitivity
from precml_widgets.stats.two_sample import (
    MAX_ENERGY_EVENTS,
    TwoSampleResult,
    energy_test,
    ks_per_feature,
)

__all__ = [
    "DEFORMATIONS",
    "MAX_ENERGY_EVENTS",
    "MIN_EVENTS_PER_HALF",
    "MIN_MAP_COUNT",
    "ONE_SIGMA_CL",
    "BinomialEstimate",
    "ClassifierCheck",
    "CorrelatedGaussian",
    "GaussianMixture",
    "NPLMResult",
    "RatioMap",
    "Sensitivity",
    "TwoSampleResult",
    "classifier_check",
    "classifier_statistic",
    "clopper_pearson",
    "deformed",
    "energy_test",
    "ks_per_feature",
    "likelihood_ratio_statistic",
    "nplm_kernel",
    "nplm_neural",
    "reference_model",
    "sensitivity",
    "zero_pass_upper_limit",
]
