"""Interpretability: SHAP values (through ``shap``) and active subspaces of any precml model.

A model enters through :class:`ScoredModel` (a torch module or a plain callable seen as a
scalar score of named features); :func:`explain` returns SHAP values with their measured
additivity error, :func:`active_subspace` the directions along which the score changes most,
and :func:`save_result` / :func:`load_result` write and read either result, or a whole
:class:`Explanation` with its note and caveats (``.npz`` + JSON);
:func:`save_figure` writes a PNG/SVG summary of an :class:`Explanation` with its caveats.
:func:`gaussian_classifier_example` (SHAP) and :func:`ridge_example` (active subspaces) are
worked examples whose exact answers are known; the view
``precml_widgets.interpret.explorer.InterpretabilityExplorer`` shows any :class:`Explanation`.
This package imports neither Panel nor HoloViews.
"""

from __future__ import annotations

from precml_widgets.interpret.active_subspace import (
    ActiveSubspace,
    active_subspace,
    standardised_gradients,
)
from precml_widgets.interpret.adapter import Output, ScoredModel, feature_labels, is_torch_module
from precml_widgets.interpret.examples import (
    exact_logit_weights,
    gaussian_classes,
    gaussian_classifier_example,
    train_classifier_net,
)
from precml_widgets.interpret.explanation import Explanation
from precml_widgets.interpret.export import FORMAT_VERSION, load_result, result_paths, save_result
from precml_widgets.interpret.figures import (
    FIGURE_FORMATS,
    figure_bytes,
    save_figure,
    summary_figure,
)
from precml_widgets.interpret.ridge import (
    RIDGE_DIM,
    RIDGE_EIGENVALUES,
    RIDGE_NOISE,
    RIDGE_SCALES,
    RidgeExample,
    ridge_directions,
    ridge_example,
    ridge_target,
)
from precml_widgets.interpret.shap_values import (
    INTERVENTIONAL_CAVEAT,
    MAX_EXACT_FEATURES,
    METHODS,
    MIN_BACKGROUND,
    PARTITION_CAVEAT,
    Background,
    ShapResult,
    background_sample,
    explain,
)

__all__ = [
    "FIGURE_FORMATS",
    "FORMAT_VERSION",
    "INTERVENTIONAL_CAVEAT",
    "MAX_EXACT_FEATURES",
    "METHODS",
    "MIN_BACKGROUND",
    "PARTITION_CAVEAT",
    "RIDGE_DIM",
    "RIDGE_EIGENVALUES",
    "RIDGE_NOISE",
    "RIDGE_SCALES",
    "ActiveSubspace",
    "Background",
    "Explanation",
    "Output",
    "RidgeExample",
    "ScoredModel",
    "ShapResult",
    "active_subspace",
    "background_sample",
    "exact_logit_weights",
    "explain",
    "feature_labels",
    "figure_bytes",
    "gaussian_classes",
    "gaussian_classifier_example",
    "is_torch_module",
    "load_result",
    "result_paths",
    "ridge_directions",
    "ridge_example",
    "ridge_target",
    "save_figure",
    "save_result",
    "standardised_gradients",
    "summary_figure",
    "train_classifier_net",
]
