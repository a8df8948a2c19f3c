"""FPGA resources and latency of an hls4ml design (Vivado/Vitis backends) without vendor tools.

:func:`estimate` prices a design with the calibrated resource model
(:mod:`precml_widgets.fpga.resource_model`: the formulas, per layer), flags what lies outside
the calibration and sets each quantity's interval (:mod:`precml_widgets.fpga.domain`), and
returns a :class:`~precml_widgets.fpga.estimate_result.ResourceEstimate` that
:func:`check_budget` and :func:`require_fits` judge. A design is read from a list of layers, a
table layer string, an hls4ml ``ModelGraph`` or an hls4ml project folder; the explicit readers
of :mod:`precml_widgets.fpga.design` (``DesignSpec.from_table_row`` and friends) say which.
This module re-exports the names it has always offered.

Every estimate carries, per quantity, the held-out error of its tool family
(sMAPE, leaving out whole *components*: designs and repositories linked by a shared design
or repository, the most pessimistic grouping of :mod:`precml_widgets.fpga.calibrate`) and a
68 % interval: group-weighted quantiles of the held-out log residuals, widened, flag kind by
flag kind, with the residuals measured on the flagged syntheses of that kind (``conv``,
``rnn``, ``stream``, ``partition``; other structural flags with all flagged syntheses). A
flag that only names an uncalibrated part or clock does not widen the interval (no
synthesis measures it; the flag says so). The held-out coverage of these intervals is
measured by nested grouped cross-validation (:mod:`precml_widgets.fpga.calibrate`).

Output softmax: a table layer string lists the multiply layers only; the design it
describes ends in hls4ml's softmax after the last dense layer (every dense synthesis of the
calibration table does). :func:`estimate` appends that softmax to a table string unless
``output_softmax=False``; a list of layers, a ``ModelGraph`` or a project is priced as given
(``output_softmax=True`` appends one). The result states which (``output_softmax``).

References:
    Duarte et al., "Fast inference of deep neural networks in FPGAs for particle physics",
    arXiv:1804.06913 (hls4ml; reuse factor, latency vs resource).
    Fahim et al., "hls4ml: An Open-Source Codesign Workflow ...", arXiv:2103.05579.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any, Literal

from precml_widgets._checks import require_choice, require_real
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.defaults import (
    DEFAULT_BACKEND,
    DEFAULT_CLOCK_NS,
    DEFAULT_IO_TYPE,
    DEFAULT_PART,
    IO_TYPES,
    IOType,
)
from precml_widgets.fpga.devices import Device, get_device
from precml_widgets.fpga.domain import classify_extrapolations, design_interval, measured_error
from precml_widgets.fpga.estimate_result import (
    BudgetCheck,
    ResourceEstimate,
    ResourceOverflowError,
    check_budget,
    require_fits,
)
from precml_widgets.fpga.layers import (
    ConvLayer,
    DenseLayer,
    Layer,
    MergeLayer,
    RecurrentLayer,
    SoftmaxLayer,
    layers_from_hls_model,
    layers_from_project,
    layers_from_table_string,
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
    with_output_softmax,
)
from precml_widgets.fpga.reuse import check_reuse_factor, nearest_valid_reuse

__all__ = [
    "COEFFICIENTS_FILE",
    "DSP_MIN_WEIGHT_BITS",
    "FLAG_KINDS",
    "INTERVAL_LEVEL",
    "PARTITION_LIMIT",
    "QUANTITIES",
    "SOFTMAX_TABLE_BITS",
    "TOOL_FAMILY",
    "BudgetCheck",
    "Coefficients",
    "LayerEstimate",
    "ResourceEstimate",
    "ResourceOverflowError",
    "check_budget",
    "classify_extrapolations",
    "estimate",
    "evaluate_terms",
    "load_calibration",
    "require_fits",
    "with_output_softmax",
]


@lru_cache(maxsize=4)
def load_calibration(path: str = str(COEFFICIENTS_FILE)) -> dict[str, Any]:
    """The shipped calibration record (coefficients, domain, cross-validation, intervals),
    read once per path from :data:`COEFFICIENTS_FILE` (JSON written by
    ``python -m precml_widgets.fpga.calibrate --write``).

    Raises:
        InvalidInputError: the file is missing or not JSON; the message says how to regenerate it.
    """
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise InvalidInputError(
            f"cannot read the estimator calibration {path!r} ({exc}); regenerate it with "
            "python -m precml_widgets.fpga.calibrate --write"
        ) from None


@lru_cache(maxsize=4)
def _shipped_coefficients(path: str = str(COEFFICIENTS_FILE)) -> Coefficients:
    return Coefficients(**load_calibration(path)["coefficients"])


LayerSource = Sequence[Layer] | Layer | str | os.PathLike[str] | Any


def _is_table_string(source: Any) -> bool:
    return isinstance(source, str) and ":" in source.split("|")[0] and not os.path.exists(source)


def _as_layers(source: LayerSource) -> tuple[Layer, ...]:
    if isinstance(source, DenseLayer | ConvLayer | RecurrentLayer | SoftmaxLayer | MergeLayer):
        return (source,)
    if isinstance(source, list | tuple):
        return tuple(source)
    if _is_table_string(source):
        return layers_from_table_string(source)
    if isinstance(source, str | os.PathLike):
        return layers_from_project(source)
    if hasattr(source, "get_layers"):
        return layers_from_hls_model(source)
    raise InvalidInputError(
        f"layers must be a list of DenseLayer/..., a table layer string, an hls4ml ModelGraph "
        f"or an hls4ml project folder; got {type(source).__name__}."
    )


def estimate(
    layers: LayerSource,
    *,
    device: str | Device = DEFAULT_PART,
    clock_ns: float = DEFAULT_CLOCK_NS,
    backend: Literal["Vitis", "Vivado", "VivadoAccelerator"] = DEFAULT_BACKEND,
    io_type: IOType = DEFAULT_IO_TYPE,
    mul_impl: Literal["dsp", "fabric"] | None = None,
    coefficients: Coefficients | None = None,
    output_softmax: bool | None = None,
    invalid_reuse: Literal["raise", "nearest", "as_given"] = "raise",
) -> ResourceEstimate:
    """Estimate DSP, LUT, FF, BRAM, latency and interval of an hls4ml design (pure arithmetic).

    Args:
        layers: a list of layers (:class:`~precml_widgets.fpga.layers.DenseLayer`, ...), a
            table layer string, an hls4ml ``ModelGraph`` or an hls4ml project folder.
        device: part name, full part number or a :class:`Device` with your own totals.
        clock_ns: clock period in ns.
        backend: hls4ml backend; ``"Vitis"`` means Vitis HLS, ``"Vivado"`` Vivado HLS.
        io_type: hls4ml's ``IOType``.
        mul_impl: force multipliers onto DSPs (``"dsp"``) or LUTs (``"fabric"``), as an
            HLS ``config_op mul -impl`` would; ``None`` lets the weight width decide.
        coefficients: use these instead of the shipped calibration.
        output_softmax: append hls4ml's softmax after a final dense layer (``True``), never
            (``False``), or ``None``: only to a table layer string, which by the table's
            convention lists the multiply layers and not the output softmax.
        invalid_reuse: a dense layer's reuse factor that hls4ml refuses
            (:func:`~precml_widgets.fpga.reuse.check_reuse_factor`) raises (``"raise"``,
            naming the layer and the nearest valid ones), is replaced by hls4ml's substitute
            (``"nearest"``, as hls4ml itself does with a warning), or is priced as written
            (``"as_given"``: the calibration table records the requested reuse factor of
            syntheses in which hls4ml substituted it).

    Returns:
        A :class:`ResourceEstimate` with per-layer terms, device fractions, the calibration's
        measured error per quantity, a 68 % interval per quantity, the reasons (if any) the
        input is an extrapolation and how the output softmax was treated.

    Example:
        >>> from precml_widgets.fpga.layers import DenseLayer
        >>> est = estimate([DenseLayer(16, 64, weight="ap_fixed<6,2>")], device="xc7z020")
        >>> est.dsp, est.ii_cycles, est.fits
        (0.0, 1.0, True)
    """
    require_choice(
        "backend", backend, tuple(TOOL_FAMILY), hint="hls4ml's Vivado HLS / Vitis HLS backends."
    )
    require_choice("io_type", io_type, IO_TYPES)
    require_choice("mul_impl", mul_impl, (None, "dsp", "fabric"))
    clock_ns = require_real("clock_ns", clock_ns, low=0.5, high=1000, unit="ns")
    require_choice("output_softmax", output_softmax, (None, True, False))
    require_choice("invalid_reuse", invalid_reuse, ("raise", "nearest", "as_given"))
    dev = get_device(device)
    stack = _as_layers(layers)
    if not stack:
        raise InvalidInputError("layers is empty: give at least one layer to estimate.")
    if invalid_reuse != "as_given":
        stack = tuple(_valid_reuse(layer, backend, invalid_reuse) for layer in stack)
    append = _is_table_string(layers) if output_softmax is None else output_softmax
    given = stack
    if append:
        stack = with_output_softmax(stack)
    softmax_note = _softmax_note(given, stack, output_softmax)
    calib = load_calibration()
    c = coefficients or _shipped_coefficients()
    totals, per = evaluate_terms(
        stack,
        device=dev,
        clock_ns=float(clock_ns),
        vitis=backend == "Vitis",
        mul_impl=mul_impl,
        c=c,
    )
    fractions = {k: totals[k] / getattr(dev, k) for k in ("dsp", "lut", "ff", "bram18k")}
    classified = classify_extrapolations(
        stack, dev, clock_ns, backend, io_type, mul_impl, calib["domain"]
    )
    flags = tuple(dict.fromkeys(text for _, text in classified))
    interval, notes = design_interval(
        totals, calib.get("intervals"), {kind for kind, _ in classified if kind}
    )
    return ResourceEstimate(
        dsp=totals["dsp"],
        lut=totals["lut"],
        ff=totals["ff"],
        bram18k=totals["bram18k"],
        latency_cycles=totals["latency"],
        latency_ns=totals["latency"] * clock_ns,
        ii_cycles=totals["ii"],
        clock_ns=float(clock_ns),
        device=dev,
        backend=backend,
        io_type=io_type,
        fractions=fractions,
        fits=all(v <= 1.0 for v in fractions.values()),
        extrapolations=flags,
        error=measured_error(calib["cross_validation"], TOOL_FAMILY[backend]),
        layers=per,
        interval=interval,
        interval_level=float(calib.get("intervals", {}).get("level", INTERVAL_LEVEL)),
        output_softmax=softmax_note,
        interval_notes=notes,
    )


def _valid_reuse(layer: Layer, backend: str, policy: str) -> Layer:
    """``layer`` with a reuse factor hls4ml accepts (dense layers; others unchanged)."""
    if not isinstance(layer, DenseLayer):
        return layer
    rule = "Vivado" if backend == "VivadoAccelerator" else backend
    if policy == "nearest":
        rf = nearest_valid_reuse(layer.n_in, layer.n_out, layer.reuse_factor, rule)
        return layer if rf == layer.reuse_factor else replace(layer, reuse_factor=rf)
    try:
        check_reuse_factor(layer.n_in, layer.n_out, layer.reuse_factor, rule)
    except InvalidInputError as exc:
        raise InvalidInputError(
            f"layer {layer.name or 'dense'!r}: {exc} Pass invalid_reuse='nearest' to price "
            "hls4ml's substitute."
        ) from None
    return layer


def _softmax_note(given: Sequence[Layer], stack: Sequence[Layer], requested: bool | None) -> str:
    if len(stack) > len(given):
        why = "table-string convention" if requested is None else "output_softmax=True"
        return (
            f"appended over {stack[-1].n_in} outputs ({why}; "
            "output_softmax=False prices the stack without it)"
        )
    if given and isinstance(given[-1], SoftmaxLayer):
        return "priced as listed (the stack ends in a softmax)"
    return "none (the stack does not end in a softmax; output_softmax=True appends one)"
