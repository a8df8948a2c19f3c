"""FPGA deployment with hls4ml: conversion, bit-accurate emulation, resource/latency estimates.

The public core API, re-exported from the modules that define it (one concept per module):
fixed-point types and exact casts (``precision``), shared defaults (``defaults``), devices,
layers and their readers, the resource model and its estimates, the calibration, synthesis
reports, conversion, emulation (``fixed_emulation``, ``emulate``, ``cache``) and precision
scans. No view and no panel: the Panel estimator lives in
:mod:`precml_widgets.fpga.estimator_view`.

The functions :func:`precml_widgets.fpga.emulate.emulate` and
:func:`precml_widgets.fpga.convert.convert` are not re-exported here: their names are those of
their modules, which ``from precml_widgets.fpga import emulate`` must keep returning.

The shipped torch models (``models``), the dashboard core (``dashboard``) and the Panel view
:class:`~precml_widgets.fpga.estimator_view.FPGAEstimator` are imported on first access of
their names.
"""

import importlib
from typing import Any

from precml_widgets.fpga.cache import (
    CACHE_ENV_VAR,
    EMULATOR_SOURCES,
    cache_dir,
    cache_key,
    load_entry,
    save_entry,
    tool_versions,
)
from precml_widgets.fpga.calibration_fit import (
    AIMS,
    BASELINE_TARGET,
    GROUPINGS,
    GROUPS,
    PRIOR_WEIGHT,
    ValidationReport,
    cross_validate,
    design_components,
    fit,
    fit_cached,
    predict,
)
from precml_widgets.fpga.calibration_intervals import (
    POOLS,
    CoverageReport,
    flag_kinds,
    interval_bounds,
    interval_coverage,
    targets_missed,
)
from precml_widgets.fpga.calibration_metrics import (
    conformal_bounds,
    coverage_band,
    group_quantile_bounds,
    naive_estimate,
    r2,
    scores,
    smape,
)
from precml_widgets.fpga.calibration_table import (
    TABLE_NAME,
    CalibrationRow,
    calibration_domain,
    design_signature,
    load_calibration_table,
)
from precml_widgets.fpga.convert import (
    SUPPORTED_TORCH_LAYERS,
    DeployConfig,
    UnsupportedLayerError,
    accumulator_type,
    profile_ranges,
    profiled_precisions,
)
from precml_widgets.fpga.defaults import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_CLOCK_NS,
    DEFAULT_IO_TYPE,
    DEFAULT_PART,
    DEFAULT_PART_NUMBER,
    DEFAULT_PRECISION,
    DEFAULT_STRATEGY,
    IO_TYPES,
    STRATEGIES,
    Backend,
    HLSStrategy,
    IOType,
    Strategy,
    StrategySpelling,
    hls4ml_strategy,
    normalize_strategy,
)
from precml_widgets.fpga.design import (
    DesignSpec,
    TableEstimate,
    estimate_table,
    normalize_backend,
)
from precml_widgets.fpga.devices import (
    DEVICES,
    Device,
    get_device,
)
from precml_widgets.fpga.domain import (
    classify_extrapolations,
    design_interval,
    measured_error,
)
from precml_widgets.fpga.emulate import (
    EmulationResult,
    FirmwareEmulator,
)
from precml_widgets.fpga.estimate_result import (
    BudgetCheck,
    ResourceEstimate,
    ResourceOverflowError,
    check_budget,
    require_fits,
)
from precml_widgets.fpga.estimator import (
    estimate,
    load_calibration,
)
from precml_widgets.fpga.fixed_emulation import (
    SUPPORTED,
    FixedPointModel,
    UnsupportedFirmwareError,
    supports,
)
from precml_widgets.fpga.layer_readers import (
    layers_from_hls_model,
    layers_from_project,
    layers_from_table_string,
    to_table_string,
)
from precml_widgets.fpga.layer_types import (
    DEFAULT_TYPE,
    SUPPORTED_KINDS,
    ConvLayer,
    DenseLayer,
    Layer,
    MergeLayer,
    RecurrentLayer,
    SoftmaxLayer,
)
from precml_widgets.fpga.precision import (
    OVERFLOW_MODES,
    ROUNDING_MODES,
    FixedType,
    IntermediateWidthError,
    IntRange,
    apply_overflow,
    cast,
    from_float,
    parse_precision,
    quantization_increment,
    requantize,
    requantized_bounds,
    to_float32,
)
from precml_widgets.fpga.reports import (
    SynthesisReport,
    read_csynth,
)
from precml_widgets.fpga.resource_model import (
    COEFFICIENTS_FILE,
    DSP_MIN_WEIGHT_BITS,
    FLAG_KINDS,
    INTERVAL_LEVEL,
    PARTITION_LIMIT,
    QUANTITIES,
    SOFTMAX_TABLE_BITS,
    TOOL_FAMILY,
    Coefficients,
    LayerEstimate,
    evaluate_terms,
    live_fraction,
    with_output_softmax,
)
from precml_widgets.fpga.reuse import (
    check_reuse_factor,
    nearest_valid_reuse,
    valid_reuse_factors,
)
from precml_widgets.fpga.scan import (
    PrecisionScan,
    TriggerAgreement,
    precision_scan,
    trigger_agreement,
    width_config,
)
from precml_widgets.fpga.stacks import (
    DEFAULT_INTEGER_BITS,
    GUARD_BITS,
    clear_cache,
    dense_stack,
    estimator_stack,
    is_activation,
    unmodelled_nodes,
)
from precml_widgets.fpga.toolchain import (
    FirmwareBuildError,
    compiler_version,
    cxx_flags,
)

#: Public names imported on first access (torch or Panel): name -> module of this package.
_LAZY = {
    "FPGAEstimator": "estimator_view",
    "Dashboard": "dashboard",
    "Settings": "dashboard",
    "default_models": "models",
    "jet_tagger": "models",
    "load_jet_tagger": "models",
    "scored_autoencoder": "models",
    "standardised_inputs": "models",
}

__all__ = [
    "AIMS",
    "BACKENDS",
    "BASELINE_TARGET",
    "CACHE_ENV_VAR",
    "COEFFICIENTS_FILE",
    "DEFAULT_BACKEND",
    "DEFAULT_CLOCK_NS",
    "DEFAULT_INTEGER_BITS",
    "DEFAULT_IO_TYPE",
    "DEFAULT_PART",
    "DEFAULT_PART_NUMBER",
    "DEFAULT_PRECISION",
    "DEFAULT_STRATEGY",
    "DEFAULT_TYPE",
    "DEVICES",
    "DSP_MIN_WEIGHT_BITS",
    "EMULATOR_SOURCES",
    "FLAG_KINDS",
    "GROUPINGS",
    "GROUPS",
    "GUARD_BITS",
    "INTERVAL_LEVEL",
    "IO_TYPES",
    "OVERFLOW_MODES",
    "PARTITION_LIMIT",
    "POOLS",
    "PRIOR_WEIGHT",
    "QUANTITIES",
    "ROUNDING_MODES",
    "SOFTMAX_TABLE_BITS",
    "STRATEGIES",
    "SUPPORTED",
    "SUPPORTED_KINDS",
    "SUPPORTED_TORCH_LAYERS",
    "TABLE_NAME",
    "TOOL_FAMILY",
    "Backend",
    "BudgetCheck",
    "CalibrationRow",
    "Coefficients",
    "ConvLayer",
    "CoverageReport",
    "Dashboard",
    "DenseLayer",
    "DeployConfig",
    "DesignSpec",
    "Device",
    "EmulationResult",
    "FPGAEstimator",
    "FirmwareBuildError",
    "FirmwareEmulator",
    "FixedPointModel",
    "FixedType",
    "HLSStrategy",
    "IOType",
    "IntRange",
    "IntermediateWidthError",
    "Layer",
    "LayerEstimate",
    "MergeLayer",
    "PrecisionScan",
    "RecurrentLayer",
    "ResourceEstimate",
    "ResourceOverflowError",
    "Settings",
    "SoftmaxLayer",
    "Strategy",
    "StrategySpelling",
    "SynthesisReport",
    "TableEstimate",
    "TriggerAgreement",
    "UnsupportedFirmwareError",
    "UnsupportedLayerError",
    "ValidationReport",
    "accumulator_type",
    "apply_overflow",
    "cache_dir",
    "cache_key",
    "calibration_domain",
    "cast",
    "check_budget",
    "check_reuse_factor",
    "classify_extrapolations",
    "clear_cache",
    "compiler_version",
    "conformal_bounds",
    "coverage_band",
    "cross_validate",
    "cxx_flags",
    "default_models",
    "dense_stack",
    "design_components",
    "design_interval",
    "design_signature",
    "estimate",
    "estimate_table",
    "estimator_stack",
    "evaluate_terms",
    "fit",
    "fit_cached",
    "flag_kinds",
    "from_float",
    "get_device",
    "group_quantile_bounds",
    "hls4ml_strategy",
    "interval_bounds",
    "interval_coverage",
    "is_activation",
    "jet_tagger",
    "layers_from_hls_model",
    "layers_from_project",
    "layers_from_table_string",
    "live_fraction",
    "load_calibration",
    "load_calibration_table",
    "load_entry",
    "load_jet_tagger",
    "measured_error",
    "naive_estimate",
    "nearest_valid_reuse",
    "normalize_backend",
    "normalize_strategy",
    "parse_precision",
    "precision_scan",
    "predict",
    "profile_ranges",
    "profiled_precisions",
    "quantization_increment",
    "r2",
    "read_csynth",
    "requantize",
    "requantized_bounds",
    "require_fits",
    "save_entry",
    "scored_autoencoder",
    "scores",
    "smape",
    "standardised_inputs",
    "supports",
    "targets_missed",
    "to_float32",
    "to_table_string",
    "tool_versions",
    "trigger_agreement",
    "unmodelled_nodes",
    "valid_reuse_factors",
    "width_config",
    "with_output_softmax",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
