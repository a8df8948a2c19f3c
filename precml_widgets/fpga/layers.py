"""The layers a resource estimate needs: shapes, reuse factor, strategy, fixed-point types, zeros.

The names of :mod:`~precml_widgets.fpga.layer_types` (the layer classes),
:mod:`~precml_widgets.fpga.layer_readers` (from table strings, ModelGraphs and project
folders) and :mod:`~precml_widgets.fpga.reuse` (the reuse-factor rule), in one place.

Built from the compact strings of the synthesis-report table, from an hls4ml ``ModelGraph``, or
from an hls4ml project folder written by ``hls_model.write()`` (``firmware/parameters.h``,
``defines.h`` and the top-level ``.cpp``), the same way the calibration table was extracted.
"""

from __future__ import annotations

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
from precml_widgets.fpga.reuse import check_reuse_factor, valid_reuse_factors

__all__ = [
    "DEFAULT_TYPE",
    "SUPPORTED_KINDS",
    "ConvLayer",
    "DenseLayer",
    "Layer",
    "MergeLayer",
    "RecurrentLayer",
    "SoftmaxLayer",
    "check_reuse_factor",
    "layers_from_hls_model",
    "layers_from_project",
    "layers_from_table_string",
    "to_table_string",
    "valid_reuse_factors",
]
