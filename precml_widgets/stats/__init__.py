"""Statistical tools of precml: two-sample tests for validating simulations against data.

The NPLM fits are imported from :mod:`precml_widgets.stats.nplm` (``nplm_kernel``,
``nplm_neural``): the package attributes of those names are their submodules.
"""

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
from precml_widgets.stats.nplm import (
    NPLMResult,
    kernel_statistic,
    neural_statistic,
    nplm_neural_toys,
)
from precml_widgets.stats.sensitivity import Sensitivity, sensitivity
from precml_widgets.stats.two_sample import (
    MAX_ENERGY_EVENTS,
    TwoSampleResult,
    energy_distances,
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
    "energy_distances",
    "energy_test",
    "kernel_statistic",
    "ks_per_feature",
    "likelihood_ratio_statistic",
    "neural_statistic",
    "nplm_neural_toys",
    "reference_model",
    "sensitivity",
    "zero_pass_upper_limit",
]
