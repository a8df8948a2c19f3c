"""The calibration's validity domain: why a design is an extrapolation, and its interval.

:func:`classify_extrapolations` names what lies outside the calibrated syntheses (tool
family, part, clock, layer kinds, strategies, widths, ...) with the flag kind whose measured
residual pool widens the interval; :func:`design_interval` turns the calibrated residual
bounds into a per-design interval; :func:`measured_error` reads the held-out sMAPE of a tool
family from the calibration record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from precml_widgets.fpga.devices import Device
from precml_widgets.fpga.layers import ConvLayer, Layer, MergeLayer, RecurrentLayer, SoftmaxLayer
from precml_widgets.fpga.resource_model import (
    DSP_MIN_WEIGHT_BITS,
    FLAG_KINDS,
    PARTITION_LIMIT,
    QUANTITIES,
    TOOL_FAMILY,
)

__all__ = ["classify_extrapolations", "design_interval", "measured_error"]


def design_interval(
    totals: Mapping[str, float], intervals: Mapping[str, Any] | None, kinds: set[str]
) -> tuple[dict[str, tuple[float, float]], tuple[str, ...]]:
    """``expm1(log1p(estimate) + [q_lo, q_hi])`` per quantity, ``[q_lo, q_hi]`` the union of
    the calibrated bounds and the bounds of the pool of each flag kind in ``kinds``."""
    if not intervals:
        return {}, ()
    bounds, pools = intervals["bounds"], intervals.get("pools", {})
    if bounds.get("calibrated") is None:
        return {}, ("no interval: the calibration has no held-out residuals",)
    used = ["calibrated"]
    notes = []
    for kind in FLAG_KINDS:
        if kind not in kinds:
            continue
        if bounds.get(kind) is None:
            notes.append(
                f"no flagged synthesis of kind {kind!r} in the table: the interval does not "
                "cover this extrapolation"
            )
        else:
            used.append(kind)
    out = {}
    for q in QUANTITIES:
        lo = min(bounds[k][q][0] for k in used)
        hi = max(bounds[k][q][1] for k in used)
        base = math.log1p(max(totals[q], 0.0))
        out[q] = (max(math.expm1(base + lo), 0.0), math.expm1(base + hi))
    described = []
    for k in used:
        info = pools.get(k, {})
        n = f" ({info['n_rows']} syntheses, {info['n_groups']} groups)" if info else ""
        described.append(f"{k}{n}")
    return out, (f"from the held-out residuals of: {', '.join(described)}", *notes)


def measured_error(validation: Mapping[str, Any], family: str) -> dict[str, float]:
    """Held-out sMAPE (the shipped, most pessimistic grouping) on the rows of this tool
    family (all rows if none)."""
    per_family = validation.get("by_family", {}).get(family)
    return dict(per_family["smape"] if per_family else validation["smape"])


def classify_extrapolations(
    layers: Sequence[Layer],
    device: Device,
    clock_ns: float,
    backend: str,
    io_type: str,
    mul_impl: str | None,
    domain: Mapping[str, Any],
) -> tuple[tuple[str | None, str], ...]:
    """Why this input lies outside the calibration domain, or where the rules are known to
    fail, each with the flag kind whose measured pool widens the interval (``"conv"``,
    ``"rnn"``, ``"stream"``, ``"partition"``, ``"flagged"``) or ``None`` (part, clock: no
    synthesis measures it, the interval is not widened)."""
    out: list[tuple[str | None, str]] = []
    family = TOOL_FAMILY[backend]
    if family not in domain["tool_families"]:
        out.append(
            (
                "flagged",
                f"tool family {family} is not in the calibration ({domain['tool_families']})",
            )
        )
    if device.part not in domain["parts"]:
        out.append(
            (
                None,
                f"device {device.part} is not among the calibration parts "
                f"({', '.join(domain['parts'])}); the model prices the part only through its "
                "DSP slice kind and totals, so the interval is not widened (no synthesis on "
                "this part measures the extrapolation)",
            )
        )
    lo, hi = domain["clock_ns"]
    if not lo <= clock_ns <= hi:
        out.append(
            (
                None,
                f"clock {clock_ns:g} ns is outside the calibrated {lo:g}-{hi:g} ns: latency "
                "and FF (pipeline stages) are extrapolated in the clock; no synthesis at this "
                "clock measures it, so the interval is not widened",
            )
        )
    if io_type not in domain["io_types"]:
        out.append(
            (
                "stream",
                f"{io_type}: the calibration designs are all {', '.join(domain['io_types'])}",
            )
        )
    if io_type == "io_stream":
        out.append(
            (
                "stream",
                "io_stream: the FIFOs between layers (and the line buffers of convolutions) are "
                "not modelled; BRAM and FF may be underestimated",
            )
        )
    bits_lo, bits_hi = domain["weight_bits"]
    for layer in layers:
        if isinstance(layer, SoftmaxLayer):
            continue
        if isinstance(layer, MergeLayer):
            out.append(
                (
                    "flagged",
                    f"layer {layer.name}: element-wise {layer.op} is not in the calibration data "
                    "(priced with the dense model's adder/multiplier terms)",
                )
            )
            continue
        name = layer.name or layer.kind
        if isinstance(layer, ConvLayer | RecurrentLayer):
            out.append(
                (
                    "conv" if isinstance(layer, ConvLayer) else "rnn",
                    f"layer {name}: {layer.kind} layers are not calibrated (dense-kernel model)",
                )
            )
        if isinstance(layer, ConvLayer) and io_type == "io_parallel":
            out.append(
                (
                    "conv",
                    f"layer {name}: the im2col buffers of an io_parallel convolution (FF, LUT) "
                    "are not modelled",
                )
            )
        if isinstance(layer, RecurrentLayer) and layer.n_timesteps is None:
            out.append(
                (
                    "rnn",
                    f"layer {name}: no sequence length given, the {layer.rnn_kind} is priced for "
                    "ONE time step (give n_timesteps, or ':t<N>' in a table string): latency and "
                    "II are underestimated by the number of steps",
                )
            )
        if (
            mul_impl is None
            and layer.weight.width < DSP_MIN_WEIGHT_BITS
            and max(layer.weight.width, (layer.input or layer.weight).width) >= 8
        ):
            out.append(
                (
                    "flagged",
                    f"layer {name}: {layer.weight.width}-bit weights are priced on LUTs "
                    f"(< {DSP_MIN_WEIGHT_BITS} bits); HLS still maps some low-bit (e.g. QKeras) "
                    "products onto DSPs, so DSP may be underestimated and LUT overestimated",
                )
            )
        if layer.strategy not in domain["strategies"]:
            out.append(
                (
                    "flagged",
                    f"layer {name}: {layer.strategy.capitalize()} strategy is not calibrated "
                    f"(calibration: {', '.join(domain['strategies'])})",
                )
            )
        n = layer.n_in * layer.n_out if not isinstance(layer, RecurrentLayer) else 0
        if n > domain["max_products"]:
            out.append(
                (
                    "flagged",
                    f"layer {name}: {n} products exceed the largest calibrated layer "
                    f"({domain['max_products']})",
                )
            )
        if layer.strategy == "latency" and n > PARTITION_LIMIT:
            out.append(
                (
                    "partition",
                    f"layer {name}: {n} > {PARTITION_LIMIT} products in the Latency strategy "
                    "exceed hls4ml's array-partition limit; HLS may not unroll it (assumed here)",
                )
            )
        if not bits_lo <= layer.weight.width <= bits_hi:
            out.append(
                (
                    "flagged",
                    f"layer {name}: {layer.weight.width}-bit weights are outside the calibrated "
                    f"{bits_lo}-{bits_hi} bits",
                )
            )
    return tuple(dict.fromkeys(out))
