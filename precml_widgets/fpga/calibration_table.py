"""The calibration table: real hls4ml syntheses (``synthesis-reports/table.csv``) as rows.

:func:`load_calibration_table` reads every synthesis with its settings, layers and measured
results, and says why a row is left out of the fit (:class:`CalibrationRow`).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from precml_widgets.data import locate
from precml_widgets.fpga.devices import get_device
from precml_widgets.fpga.layers import (
    ConvLayer,
    DenseLayer,
    Layer,
    RecurrentLayer,
    layers_from_table_string,
)
from precml_widgets.fpga.resource_model import (
    PARTITION_LIMIT,
    with_output_softmax,
)

__all__ = [
    "TABLE_NAME",
    "CalibrationRow",
    "calibration_domain",
    "design_signature",
    "load_calibration_table",
]

TABLE_NAME = "hls4ml_synthesis_table"


@dataclass(frozen=True)
class CalibrationRow:
    """One synthesis of the table: settings, layers and measured results.

    Attributes:
        example_id, repo: the example and its source repository.
        tool_family: ``"Vivado HLS"`` or ``"Vitis HLS"``; tool_version: e.g. ``"2019.2"``.
        part, clock_ns, io_type, strategy, mul_impl: synthesis settings.
        layers: the layers (dense designs get the output softmax every one of them ends
            with: :func:`~precml_widgets.fpga.estimator.with_output_softmax`, the same
            convention :func:`~precml_widgets.fpga.estimator.estimate` applies to a table
            layer string).
        targets: ``{"dsp", "lut", "ff", "bram18k", "latency", "ii"}`` from the report
            (latency and ii: the worst case, ``lat_max`` and ``ii_max``).
        excluded: why the row is not used for fitting and validation, else ``None``.
    """

    example_id: str
    repo: str
    tool_family: str
    tool_version: str
    part: str
    clock_ns: float
    io_type: str
    strategy: str
    mul_impl: str | None
    layers: tuple[Layer, ...]
    targets: Mapping[str, float]
    excluded: str | None

    @property
    def vitis(self) -> bool:
        """Synthesised with Vitis HLS."""
        return self.tool_family == "Vitis HLS"

    @property
    def design(self) -> str:
        """The row's layer signature (:func:`design_signature`)."""
        return design_signature(self.layers)


def design_signature(layers: Sequence[Layer]) -> str:
    """What makes two syntheses the same design: layer kinds, shapes and weight widths.

    Reuse factor, strategy, pruning, clock, part and tool are settings of one design, so
    rows that differ only in them fall in one cross-validation group.

    Example:
        >>> design_signature(layers_from_table_string("dense:16x64:rf4:lat:w=fx8_3:z=24"))
        'dense:16x64:w8'
    """
    parts = []
    for x in layers:
        if isinstance(x, ConvLayer):
            shape = f"{'x'.join(map(str, x.in_shape))}->{x.n_filt}:k{'x'.join(map(str, x.kernel))}"
            parts.append(f"{x.conv_kind}:{shape}:w{x.weight.width}")
        elif isinstance(x, RecurrentLayer):
            parts.append(f"{x.rnn_kind}:{x.n_in}x{x.n_state}:w{x.weight.width}")
        elif isinstance(x, DenseLayer):
            parts.append(f"dense:{x.n_in}x{x.n_out}:w{x.weight.width}")
        else:
            parts.append(f"{x.kind}:{getattr(x, 'n_in', getattr(x, 'n', 0))}")
    return " | ".join(parts)


# ---------------------------------------------------------------- the table
def _exclusion(category: str, layers: tuple[Layer, ...], io_type: str, strategy: str) -> str | None:
    if category != "dense":
        return f"{category} design: convolutional/recurrent layers are not calibrated"
    if io_type != "io_parallel" or strategy != "latency":
        return f"{io_type}/{strategy}: only io_parallel Latency designs are calibrated"
    for layer in layers:
        if isinstance(layer, DenseLayer) and layer.n_products > PARTITION_LIMIT:
            return (
                f"layer {layer.n_in}x{layer.n_out} has {layer.n_products} > {PARTITION_LIMIT} "
                "products in the Latency strategy: beyond hls4ml's array-partition limit "
                "(build_prj.tcl MaximumSize) HLS does not fully unroll it"
            )
    return None


def load_calibration_table(path: str | Path | None = None) -> tuple[CalibrationRow, ...]:
    """Read ``hls4ml/synthesis-reports/table.csv`` (found through :mod:`precml_widgets.data`).

    Every row is returned; ``excluded`` says why a row is left out of the fit (conv/rnn
    designs, io_stream or Resource designs, and Latency layers beyond hls4ml's 4096-product
    partition limit).
    """
    table = Path(path) if path is not None else locate(TABLE_NAME)
    rows = []
    with open(table, newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            layers = layers_from_table_string(rec["layers"])
            if rec["category"] == "dense":  # the table-string convention of estimate()
                layers = with_output_softmax(layers)
            targets = {
                "dsp": rec["dsp"],
                "lut": rec["lut"],
                "ff": rec["ff"],
                "bram18k": rec["bram18k"],
                "latency": rec["lat_max"],
                "ii": rec["ii_max"],
            }
            rows.append(
                CalibrationRow(
                    example_id=rec["example_id"],
                    repo=rec["repo"],
                    tool_family=rec["hls_tool"],
                    tool_version=rec["hls_tool_version"],
                    part=rec["part"],
                    clock_ns=float(rec["clock_target_ns"]),
                    io_type=rec["io_type"],
                    strategy=rec["strategy"],
                    mul_impl=rec["mul_impl"] or None,
                    layers=layers,
                    targets={k: float(v) for k, v in targets.items()},
                    excluded=_exclusion(rec["category"], layers, rec["io_type"], rec["strategy"]),
                )
            )
    return tuple(rows)


def calibration_domain(used: Sequence[CalibrationRow]) -> dict[str, Any]:
    """The validity domain of the rows ``used`` for fitting: parts, tool families, clock
    range (ns), I/O types, strategies, largest dense layer (products) and weight widths (bits).
    """
    dense = [x for r in used for x in r.layers if isinstance(x, DenseLayer)]
    clocks = [r.clock_ns for r in used]
    return {
        "parts": sorted({get_device(r.part).part for r in used}),
        "tool_families": sorted({r.tool_family for r in used}),
        "rows_per_family": {
            f: sum(r.tool_family == f for r in used) for f in sorted({r.tool_family for r in used})
        },
        "clock_ns": [min(clocks), max(clocks)],
        "io_types": sorted({r.io_type for r in used}),
        "strategies": sorted({x.strategy for x in dense}),
        "max_products": max(x.n_products for x in dense),
        "weight_bits": [min(x.weight.width for x in dense), max(x.weight.width for x in dense)],
    }
