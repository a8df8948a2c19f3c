"""SMEFT inference on e+e- -> mu+mu-: exact likelihoods, parametrized classifiers, and NLE.

:mod:`~precml_widgets.inference.smeft` adds four-lepton contact terms to the helicity
amplitudes of :mod:`precml_widgets.integration.ee_mumu` (the cross section is exactly quadratic
in the Wilson coefficients); a :class:`Measurement` states energies, luminosities and
acceptance and optionally a :class:`Smearing` of angle and mass;
:func:`event_density` is its exact event density and :func:`sample_events` draws its exact
events; :class:`EFTProblem` picks the
free coefficients and their box. The expected likelihoods (:func:`unbinned_expected_q`,
:func:`binned_expected_q`) give regions (:func:`expected_region`) and one-parameter limits;
:func:`train_ratio` fits the quadratic or the plain parametrized classifier to a
:func:`make_training_set`, and :func:`ratio_accuracy` scores a learned ratio on the exact
contour. Likelihood-free inference: :func:`train_nle` fits an ensemble of conditional
``zuko`` flows to :func:`simulate_training_pairs` (:func:`train_sbi_nle` is ``sbi``'s
baseline on the same pairs); :func:`grid_posterior` tabulates any per-event likelihood's
posterior, :func:`compare_posteriors` runs the C2ST, and :func:`calibrate` measures coverage
and SBC ranks over toys on Dask. :func:`save_model` / :func:`load_model` write and read any
trained model as safetensors weights with a JSON card (hashes checked, no code executed);
:func:`load_pretrained` gives the shipped ones.
This package imports neither Panel nor HoloViews.
"""

from __future__ import annotations

from precml_widgets.inference.accuracy import RatioAccuracy, ratio_accuracy
from precml_widgets.inference.calibration import (
    LEVELS,
    SBC_DRAWS,
    Calibration,
    PosteriorComparison,
    ToyOutcome,
    binomial_band,
    calibrate,
    compare_posteriors,
    run_toy,
)
from precml_widgets.inference.classifiers import (
    CLASSIFIER_KINDS,
    LearnedRatio,
    build_network,
    pair_products,
)
from precml_widgets.inference.density import (
    bin_terms,
    density_terms,
    event_density,
    mass_range,
    quadrature_nodes,
    require_events,
)
from precml_widgets.inference.events import EventSample, sample_events, simulate_one_each
from precml_widgets.inference.export import load_model, model_paths, save_model
from precml_widgets.inference.likelihood import (
    ExactRatio,
    ExpectedQ,
    RatioModel,
    binned_expected_q,
    exact_expected_q,
    unbinned_expected_q,
)
from precml_widgets.inference.measurement import (
    LEP2,
    LEP2_SMEARED,
    Measurement,
    mass_frame,
    sigma_terms,
)
from precml_widgets.inference.nle import (
    NeuralLikelihood,
    build_flow,
    flow_inputs,
    require_pairs,
    require_smeared,
    simulate_training_pairs,
    train_nle,
)
from precml_widgets.inference.posterior import GridPosterior, exact_log_likelihood, grid_posterior
from precml_widgets.inference.pretrained import (
    NLE_SETTINGS,
    PLAIN_SETTINGS,
    PRETRAINED_DIR,
    PRETRAINED_NAMES,
    QUADRATIC_SETTINGS,
    ClassifierSettings,
    NLESettings,
    load_pretrained,
    train_models,
    train_pretrained,
)
from precml_widgets.inference.problem import NLE_EVENTS, EFTProblem, default_problem, nle_problem
from precml_widgets.inference.region import (
    Region,
    expected_region,
    one_parameter_limits,
    unit_directions,
)
from precml_widgets.inference.sbi_baseline import SbiLikelihood, train_sbi_nle
from precml_widgets.inference.smearing import (
    Smearing,
    accepted_shape_integrals,
    shape_integrals,
    smeared_shapes,
)
from precml_widgets.inference.smeft import (
    DEFAULT_LAMBDA_GEV,
    WILSON_COEFFICIENTS,
    WILSON_HELICITY,
    angular_shapes,
    dsigma_dcos_smeft_pb,
    quadratic_terms,
    require_coefficients,
    shape_terms,
)
from precml_widgets.inference.study import (
    CLASSIFIER_CAVEATS,
    POSTERIOR_CAVEATS,
    ClassifierStudy,
    PosteriorStudy,
    classifier_study,
    posterior_study,
    q_grid,
    ratio_map,
)
from precml_widgets.inference.training import (
    TrainingSet,
    make_training_set,
    train_ratio,
    training_points,
)

__all__ = [
    "CLASSIFIER_CAVEATS",
    "CLASSIFIER_KINDS",
    "DEFAULT_LAMBDA_GEV",
    "LEP2",
    "LEP2_SMEARED",
    "LEVELS",
    "NLE_EVENTS",
    "NLE_SETTINGS",
    "PLAIN_SETTINGS",
    "POSTERIOR_CAVEATS",
    "PRETRAINED_DIR",
    "PRETRAINED_NAMES",
    "QUADRATIC_SETTINGS",
    "SBC_DRAWS",
    "WILSON_COEFFICIENTS",
    "WILSON_HELICITY",
    "Calibration",
    "ClassifierSettings",
    "ClassifierStudy",
    "EFTProblem",
    "EventSample",
    "ExactRatio",
    "ExpectedQ",
    "GridPosterior",
    "LearnedRatio",
    "Measurement",
    "NLESettings",
    "NeuralLikelihood",
    "PosteriorComparison",
    "PosteriorStudy",
    "RatioAccuracy",
    "RatioModel",
    "Region",
    "SbiLikelihood",
    "Smearing",
    "ToyOutcome",
    "TrainingSet",
    "accepted_shape_integrals",
    "angular_shapes",
    "bin_terms",
    "binned_expected_q",
    "binomial_band",
    "build_flow",
    "build_network",
    "calibrate",
    "classifier_study",
    "compare_posteriors",
    "default_problem",
    "density_terms",
    "dsigma_dcos_smeft_pb",
    "event_density",
    "exact_expected_q",
    "exact_log_likelihood",
    "expected_region",
    "flow_inputs",
    "grid_posterior",
    "load_model",
    "load_pretrained",
    "make_training_set",
    "mass_frame",
    "mass_range",
    "model_paths",
    "nle_problem",
    "one_parameter_limits",
    "pair_products",
    "posterior_study",
    "q_grid",
    "quadratic_terms",
    "quadrature_nodes",
    "ratio_accuracy",
    "ratio_map",
    "require_coefficients",
    "require_events",
    "require_pairs",
    "require_smeared",
    "run_toy",
    "sample_events",
    "save_model",
    "shape_integrals",
    "shape_terms",
    "sigma_terms",
    "simulate_one_each",
    "simulate_training_pairs",
    "smeared_shapes",
    "train_models",
    "train_nle",
    "train_pretrained",
    "train_ratio",
    "train_sbi_nle",
    "training_points",
    "unbinned_expected_q",
    "unit_directions",
]
