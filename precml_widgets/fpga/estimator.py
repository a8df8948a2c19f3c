"""FPGA resources and latency of an hls4ml design (Vivado/Vitis backends) without vendor tools.

The model follows how hls4ml's templates (``nnet_dense_latency.h``, ``nnet_dense_resource.h``,
``nnet_mult.h``) map a dense layer onto the fabric, with a few coefficients calibrated on 26
real syntheses (:mod:`precml_widgets.fpga.calibrate`, ``estimator_coefficients.json``). For
one dense layer with ``N = n_in*n_out`` weights, ``z`` of them zero, reuse factor ``R``,
weight type with ``W_w`` bits (``F_w`` fractional), input ``W_x`` bits, accumulator ``W_a``
bits, at a clock period ``T`` ns:

* hls4ml's multiplier limit ``L = ceil(N/R) - floor(z/R)`` (the ``ALLOCATION`` pragma).
* Latency strategy: weights are constants, so zero weights cost nothing and HLS turns small
  constants into shifts and adds. The products left as true multiplications are
  ``M = f * (N - z)`` with ``f = f_sat * erfc(k_w * sqrt(n_in) * 2^-F_w)``: a weight of
  typical size ``~1/sqrt(n_in)`` spans ``log2(1/(sqrt(n_in) 2^-F_w))`` bits of its type.
  Resource strategy (extrapolated): weights sit in ROM, every product is a multiplication,
  ``M = N``, ``L = ceil(N/R)``.
* Multipliers built: ``U = min(M, L)``. They are DSP slices if ``mul_impl="dsp"``, or if
  ``mul_impl`` is None and ``W_w >= 9`` (hls4ml's DSP-aware pruning rule, consistent with the
  calibration data: 8-bit weights use no DSP unless forced); each costs
  ``ceil(max(W)/A) * ceil(min(W)/18)`` DSPs (``A`` = 25 for DSP48E1, 27 for DSP48E2). Else
  they are fabric multipliers of ``c_mul * W_w * W_x`` LUTs each.
* LUT = ``c_add * (N - z) * W_a`` (adder tree, one addition per product) + fabric
  multipliers.
* Register stages inside the adder tree ``D_t = tau * (t_mul [DSP products only] + t_add *
  log2(n_in)) / T`` (``tau`` = 1 for Vivado HLS, ``vitis_depth`` for Vitis HLS: Vitis HLS
  schedules deeper pipelines), plus the layer's output register: depth ``D = 1 + D_t``
  cycles; layer interval ``II = 1`` for ``R = 1`` else ``min(R, ceil(M/L) + c_ii)``; layer
  latency ``max(D, II - 1)`` (Resource: ``D + R``).
* FF = ``rho * c_reg * (N - z) * W_a * S(D_t, n_in) * (s_shared if R > 1)`` tree registers +
  ``c_io * n_out * W_a`` output registers, with ``S = sum_{k=1..D_t} n_in^(-k/(D_t+1))``:
  ``D_t`` stages cut the tree into equal-delay segments and after a fraction ``x`` of it
  ``n_in^-x`` of the products are still separate partial sums (:func:`_live_fraction`).
  The clock and the tool enter FF only through ``D_t`` (``rho`` = ``vitis_ff`` stays at 1:
  it is not fitted).
* Softmax over ``n``: ``n`` DSPs (none if ``mul_impl="fabric"``), ``c_bram * n`` BRAM_18K
  (exp/inverse tables), ``D_s = tau * t_softmax / T`` cycles and ``c_sm_reg * n * 18 * D_s``
  FFs (one 18-bit table word per output per pipeline stage).
* Design: resources add up; ``II = max`` over layers (io_parallel); latency = sum of layer
  latencies + ``c_layer`` per multiply layer + ``c_top``.

Convolutions and recurrent layers are estimated as their per-position / per-step dense
kernels and always flagged as extrapolations, as are the other places where the rules are
known to fail (io_stream FIFOs and line buffers, recurrent layers without a sequence length,
low-bit weights that HLS may still put on DSPs, Latency layers beyond hls4ml's partition
limit). Every estimate carries, per quantity, the held-out error of its tool family
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
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.defaults import (
    DEFAULT_BACKEND,
    DEFAULT_CLOCK_NS,
    DEFAULT_IO_TYPE,
    DEFAULT_PART,
    IOType,
)
from precml_widgets.fpga.devices import Device, get_device
from precml_widgets.fpga.layers import (
    SUPPORTED_KINDS,
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

__all__ = [
    "COEFFICIENTS_FILE",
    "BudgetCheck",
    "Coefficients",
    "LayerEstimate",
    "ResourceEstimate",
    "ResourceOverflowError",
    "check_budget",
    "classify_extrapolations",
    "estimate",
    "evaluate_terms",
    "require_fits",
    "with_output_softmax",
]

COEFFICIENTS_FILE = Path(__file__).with_name("estimator_coefficients.json")
DSP_MIN_WEIGHT_BITS = 9  # hls4ml's DSP-aware pruning rule: narrower weights use no DSP
PARTITION_LIMIT = 4096  # hls4ml's build_prj.tcl: config_array_partition -maximum_size 4096
SOFTMAX_TABLE_BITS = 18  # hls4ml's default softmax exp/inv table type, ap_fixed<18,8>
QUANTITIES = ("dsp", "lut", "ff", "bram18k", "latency", "ii")
# what widens an interval: each structural flag kind has its own measured residual pool
# ("flagged": all flagged syntheses, for kinds the table has no syntheses of); None: a
# flag (part, clock) that names an extrapolation no synthesis measures, not widened
FLAG_KINDS = ("conv", "rnn", "stream", "partition", "flagged")
INTERVAL_LEVEL = 0.68  # nominal coverage of the per-design intervals
TOOL_FAMILY = {"Vivado": "Vivado HLS", "VivadoAccelerator": "Vivado HLS", "Vitis": "Vitis HLS"}


class ResourceOverflowError(InvalidInputError):
    """The estimated design needs more of a resource than the device has."""


@dataclass(frozen=True)
class Coefficients:
    """The calibrated constants of the model (defaults: the priors the fit is pulled towards).

    Attributes:
        f_sat: fraction of non-zero constant products that stay multiplications (wide weights).
        k_w: weight-scale constant of ``erfc(k_w sqrt(n_in) 2^-F_w)``.
        c_ii: cycles a shared layer (R > 1) needs beyond ``ceil(M/L)``.
        t_mul_ns: DSP multiplier delay in the pipeline-depth model, ns (fabric products are
            shift-and-add levels of the tree).
        t_add_ns: delay per adder-tree level, ns.
        c_layer: cycles per multiply layer (activation and hand-over).
        t_softmax_ns: softmax delay, ns.
        c_top: cycles of the top function (I/O registers).
        vitis_depth: Vitis HLS / Vivado HLS ratio of pipeline depths.
        c_add: LUTs per accumulator bit per non-zero product (adder tree).
        c_mul: LUTs per operand-bit product of a fabric multiplier.
        c_reg: FFs per accumulator bit per live partial sum of the adder tree.
        s_shared: FF factor of a layer with R > 1.
        c_io: FFs per output bit of a layer.
        vitis_ff: Vitis HLS / Vivado HLS ratio of tree registers beyond the depth (not
            fitted, 1: the deeper Vitis pipeline already carries it).
        c_bram: BRAM_18K per softmax output.
        c_sm_reg: FFs per softmax table bit (18) per output per softmax cycle.
    """

    f_sat: float = 0.5
    k_w: float = 1.0
    c_ii: float = 1.0
    t_mul_ns: float = 2.0
    t_add_ns: float = 1.0
    c_layer: float = 1.0
    t_softmax_ns: float = 10.0
    c_top: float = 2.0
    vitis_depth: float = 1.0
    c_add: float = 1.0
    c_mul: float = 1.0
    c_reg: float = 0.5
    s_shared: float = 1.0
    c_io: float = 1.0
    vitis_ff: float = 1.0
    c_bram: float = 1.0
    c_sm_reg: float = 0.75

    def to_dict(self) -> dict[str, float]:
        """``{name: value}`` of every coefficient."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class LayerEstimate:
    """One layer's share of an estimate.

    Attributes:
        name, kind: the layer's name and kind (``dense``, ``conv``, ``rnn``, ``softmax``).
        multiplications: true multiplications per evaluation (``M``).
        multiplier_limit: hls4ml's ``multiplier_limit`` (``L``), 0 for softmax.
        dsp, lut, ff, bram18k: resources.
        ii_cycles, latency_cycles: the layer's interval and latency in clock cycles.
    """

    name: str
    kind: str
    multiplications: float
    multiplier_limit: int
    dsp: float
    lut: float
    ff: float
    bram18k: float
    ii_cycles: float
    latency_cycles: float


@dataclass(frozen=True)
class ResourceEstimate:
    """Estimated resources and timing of a design, with its validity domain and measured error.

    Resources and cycles are model expectations (not rounded).

    Attributes:
        dsp, lut, ff, bram18k: resources of the whole design.
        latency_cycles, latency_ns: latency in clock cycles and in ns.
        ii_cycles: initiation interval in clock cycles (a new input every ``ii_cycles``).
        clock_ns: clock period in ns.
        device: the target :class:`Device`.
        backend: ``"Vitis"`` or ``"Vivado"``; io_type: ``"io_parallel"`` / ``"io_stream"``.
        fractions: ``{"dsp", "lut", "ff", "bram18k"}`` used / device total.
        fits: every fraction <= 1.
        extrapolations: why the input lies outside the calibration domain (empty inside).
        error: leave-one-component-out sMAPE of the calibration per quantity (``dsp``, ``lut``,
            ``ff``, ``bram18k``, ``latency``, ``ii``), e.g. 0.2 for 20 %, on the held-out
            rows of the backend's tool family whose true value is not 0. An average over
            designs, not this design's interval: see ``interval``.
        layers: per-layer breakdown.
        interval: per quantity, the nominal 68 % interval ``(lo, hi)`` of this estimate
            (``latency`` in cycles); widened by the measured pool of each structural flag
            kind (see ``interval_notes``), not by part/clock flags.
        interval_level: the nominal coverage of ``interval`` (0.68).
        output_softmax: how the output softmax was treated (appended, listed or none).
        interval_notes: which measured pools set ``interval`` (and which flags did not
            widen it, and why).
    """

    dsp: float
    lut: float
    ff: float
    bram18k: float
    latency_cycles: float
    latency_ns: float
    ii_cycles: float
    clock_ns: float
    device: Device
    backend: str
    io_type: str
    fractions: Mapping[str, float]
    fits: bool
    extrapolations: tuple[str, ...]
    error: Mapping[str, float]
    layers: tuple[LayerEstimate, ...]
    interval: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    interval_level: float = INTERVAL_LEVEL
    output_softmax: str = ""
    interval_notes: tuple[str, ...] = ()

    @property
    def ii_ns(self) -> float:
        """Initiation interval in ns."""
        return self.ii_cycles * self.clock_ns

    @property
    def latency_ns_interval(self) -> tuple[float, float]:
        """The latency interval in ns."""
        lo, hi = self.interval.get("latency", (self.latency_cycles, self.latency_cycles))
        return lo * self.clock_ns, hi * self.clock_ns

    def summary(self) -> str:
        """A few lines: each quantity with its 68 % interval, fractions, softmax and flags."""

        def iv(key: str, scale: float = 1.0) -> str:
            lo, hi = self.interval.get(key, (math.nan, math.nan))
            return f"[{lo * scale:,.0f}, {hi * scale:,.0f}]"

        level = f"{self.interval_level:.0%}"
        lines = [
            f"{self.device.part} @ {self.clock_ns:g} ns ({self.backend}, {self.io_type}); "
            f"{level} intervals:",
            f"  DSP   {self.dsp:10,.0f} {iv('dsp')}  ({self.fractions['dsp']:.1%})",
            f"  LUT   {self.lut:10,.0f} {iv('lut')}  ({self.fractions['lut']:.1%})",
            f"  FF    {self.ff:10,.0f} {iv('ff')}  ({self.fractions['ff']:.1%})",
            f"  BRAM  {self.bram18k:10,.0f} {iv('bram18k')}",
            f"  latency {self.latency_ns:,.0f} ns {iv('latency', self.clock_ns)} ns "
            f"({self.latency_cycles:.0f} cycles); II {self.ii_cycles:.0f} cycles {iv('ii')}",
            f"  output softmax: {self.output_softmax}",
        ]
        lines += [f"  outside calibration: {x}" for x in self.extrapolations]
        lines += [f"  interval: {x}" for x in self.interval_notes]
        return "\n".join(lines)


@dataclass(frozen=True)
class BudgetCheck:
    """Whether an estimate meets a trigger's latency budget and accepts every bunch crossing.

    Attributes:
        latency_ns, latency_budget_ns, latency_ok: estimated latency vs budget (ns).
        ii_ns, bunch_spacing_ns, ii_ok: time between accepted inputs vs bunch spacing (ns).
        ok: ``latency_ok`` and (``ii_ok`` if the interval is required).
    """

    latency_ns: float
    latency_budget_ns: float
    latency_ok: bool
    ii_ns: float
    bunch_spacing_ns: float
    ii_ok: bool
    ok: bool


# ---------------------------------------------------------------- the model
def _dense_terms(
    layer: DenseLayer | ConvLayer,
    n_in: int,
    n_out: int,
    *,
    vitis: bool,
    clock_ns: float,
    mul_impl: str | None,
    dsp_kind: str,
    c: Coefficients,
) -> LayerEstimate:
    """The model for one dense kernel (the formulas of the module docstring)."""
    n = n_in * n_out
    rf = layer.reuse_factor
    zeros = min(layer.n_zeros, n)
    w_bits = layer.weight.width
    x_bits = layer.input.width if layer.input is not None else w_bits
    a_bits = layer.accum.width
    tau = c.vitis_depth if vitis else 1.0
    on_dsp = mul_impl == "dsp" or (mul_impl is None and w_bits >= DSP_MIN_WEIGHT_BITS)
    # registers inside the adder tree (the DSP's own pipeline only when products use DSPs)
    tree = tau * (c.t_mul_ns * on_dsp + c.t_add_ns * math.log2(max(n_in, 2))) / clock_ns
    depth = 1.0 + tree  # + the layer's output register
    if layer.strategy == "latency":
        limit = max(math.ceil(n / rf) - zeros // rf, 1)
        products = n - zeros
        mults = c.f_sat * math.erfc(c.k_w * math.sqrt(n_in) * 2.0 ** (-layer.weight.fractional))
        mults *= products
        ii = 1.0 if rf == 1 else min(float(rf), math.ceil(mults / limit) + c.c_ii)
        latency = max(depth, ii - 1.0)
    else:
        limit = math.ceil(n / rf)
        products, mults = limit, float(n)
        ii, latency = float(rf), depth + rf
    units = min(mults, float(limit))
    port_a = 25 if dsp_kind == "DSP48E1" else 27
    per_mult = math.ceil(max(w_bits, x_bits) / port_a) * math.ceil(min(w_bits, x_bits) / 18)
    dsp = units * per_mult if on_dsp else 0.0
    lut = c.c_add * products * a_bits + (0.0 if on_dsp else c.c_mul * units * w_bits * x_bits)
    rho = c.vitis_ff if vitis else 1.0
    ff = rho * c.c_reg * products * a_bits * _live_fraction(tree, n_in)
    ff *= c.s_shared if rf > 1 else 1.0
    ff += c.c_io * n_out * a_bits
    return LayerEstimate(layer.name, layer.kind, mults, limit, dsp, lut, ff, 0.0, ii, latency)


def _live_fraction(depth: float, n_in: int) -> float:
    """Registers of a pipelined adder tree per product: ``sum_{k=1..D} n_in^(-k/(D+1))``.

    ``D`` register stages cut the tree of ``log2(n_in)`` levels into ``D + 1`` segments of
    equal delay; after a fraction ``x`` of the tree ``n_in^-x`` of the ``N`` products are
    still separate partial sums, and each is one register. The geometric sum is continuous
    in ``D`` (0 for a combinational layer, ~``D/ln(n_in)`` products' worth for deep ones).

    Example:
        >>> round(_live_fraction(1.0, 64), 3)  # one stage halfway: sqrt(64) = 8 -> 1/8
        0.125
    """
    if depth <= 0:
        return 0.0
    r = max(n_in, 2) ** (-1.0 / (depth + 1.0))
    return r * (1.0 - r**depth) / (1.0 - r)


def _merge_terms(
    layer: MergeLayer, *, vitis: bool, clock_ns: float, mul_impl: str | None, c: Coefficients
) -> LayerEstimate:
    """Element-wise add/subtract (adders) or multiply (one multiplier per element)."""
    tau = c.vitis_depth if vitis else 1.0
    bits = layer.input.width
    out_bits = (layer.result or layer.input).width
    ff = c.c_io * layer.n * out_bits
    if layer.op != "multiply":
        lut = c.c_add * layer.n * out_bits
        return LayerEstimate(
            layer.name, "merge", 0.0, 0, 0.0, lut, ff, 0.0, 1.0, tau * c.t_add_ns / clock_ns
        )
    on_dsp = mul_impl == "dsp" or (mul_impl is None and bits >= DSP_MIN_WEIGHT_BITS)
    dsp = float(layer.n) if on_dsp else 0.0
    lut = 0.0 if on_dsp else c.c_mul * layer.n * bits * bits
    lat = tau * c.t_mul_ns / clock_ns
    return LayerEstimate(layer.name, "merge", float(layer.n), layer.n, dsp, lut, ff, 0.0, 1.0, lat)


def _layer_estimate(
    layer: Layer,
    *,
    vitis: bool,
    clock_ns: float,
    mul_impl: str | None,
    dsp_kind: str,
    c: Coefficients,
) -> LayerEstimate:
    opts = {"vitis": vitis, "clock_ns": clock_ns, "mul_impl": mul_impl, "dsp_kind": dsp_kind}
    if isinstance(layer, DenseLayer):
        return _dense_terms(layer, layer.n_in, layer.n_out, c=c, **opts)
    if isinstance(layer, SoftmaxLayer):
        tau = c.vitis_depth if vitis else 1.0
        dsp = 0.0 if mul_impl == "fabric" else float(layer.n_in)
        lat = tau * c.t_softmax_ns / clock_ns
        ff = c.c_sm_reg * layer.n_in * SOFTMAX_TABLE_BITS * lat
        return LayerEstimate(
            layer.name, "softmax", 0.0, 0, dsp, 0.0, ff, c.c_bram * layer.n_in, 1.0, lat
        )
    if isinstance(layer, MergeLayer):
        return _merge_terms(layer, vitis=vitis, clock_ns=clock_ns, mul_impl=mul_impl, c=c)
    if isinstance(layer, ConvLayer):
        k = _dense_terms(layer, layer.n_in, layer.n_out, c=c, **opts)
        ii = layer.n_positions * max(k.ii_cycles, 1.0)  # one output position per kernel II
        return replace(k, kind="conv", ii_cycles=ii, latency_cycles=ii + k.latency_cycles)
    if isinstance(layer, RecurrentLayer):
        parts = []
        total = sum(a * b for a, b in layer.kernels)
        for n_in, n_out in layer.kernels:
            kernel = DenseLayer(
                n_in,
                n_out,
                reuse_factor=layer.reuse_factor,
                strategy=layer.strategy,
                weight=layer.weight,
                accum=layer.accum,
                input=layer.input,
                result=layer.result,
                n_zeros=layer.n_zeros * n_in * n_out // total,
                name=layer.name,
            )
            parts.append(_dense_terms(kernel, n_in, n_out, c=c, **opts))
        steps = layer.n_timesteps or 1
        step = sum(p.latency_cycles for p in parts) + 2.0 * c.c_layer
        return LayerEstimate(
            layer.name,
            "rnn",
            sum(p.multiplications for p in parts),
            sum(p.multiplier_limit for p in parts),
            sum(p.dsp for p in parts),
            sum(p.lut for p in parts),
            sum(p.ff for p in parts),
            0.0,
            steps * max(max(p.ii_cycles for p in parts), step),
            steps * step,
        )
    raise InvalidInputError(
        f"layers must be DenseLayer, ConvLayer, RecurrentLayer, SoftmaxLayer or MergeLayer "
        f"objects, got "
        f"{type(layer).__name__}; supported kinds: {', '.join(SUPPORTED_KINDS)}."
    )


def evaluate_terms(
    layers: Sequence[Layer],
    *,
    device: Device,
    clock_ns: float,
    vitis: bool,
    mul_impl: str | None,
    c: Coefficients,
) -> tuple[dict[str, float], tuple[LayerEstimate, ...]]:
    """Totals ``{"dsp", "lut", "ff", "bram18k", "latency", "ii"}`` and the per-layer terms.

    The model itself with coefficients ``c`` (no flags, no intervals): what
    :func:`estimate` and the calibration (:mod:`precml_widgets.fpga.calibrate`) evaluate.
    Resources in device units, ``latency`` and ``ii`` in clock cycles.
    """
    per = tuple(
        _layer_estimate(
            layer,
            vitis=vitis,
            clock_ns=clock_ns,
            mul_impl=mul_impl,
            dsp_kind=device.dsp_kind or "DSP48E2",
            c=c,
        )
        for layer in layers
    )
    n_mac = sum(1 for p in per if p.kind not in ("softmax", "merge"))
    totals = {
        "dsp": sum(p.dsp for p in per),
        "lut": sum(p.lut for p in per),
        "ff": sum(p.ff for p in per),
        "bram18k": sum(p.bram18k for p in per),
        "latency": sum(p.latency_cycles for p in per) + c.c_layer * n_mac + c.c_top,
        "ii": max((p.ii_cycles for p in per), default=1.0),
    }
    return totals, per


_evaluate = evaluate_terms  # the old private name


# ---------------------------------------------------------------- calibration file
@lru_cache(maxsize=4)
def _calibration(path: str = str(COEFFICIENTS_FILE)) -> dict[str, Any]:
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
    return Coefficients(**_calibration(path)["coefficients"])


# ---------------------------------------------------------------- public API
LayerSource = Sequence[Layer] | Layer | str | os.PathLike[str] | Any


def with_output_softmax(layers: Sequence[Layer]) -> tuple[Layer, ...]:
    """``layers`` with hls4ml's output softmax after a final dense layer (unchanged if the
    stack already ends in a softmax or does not end in a dense layer).

    Example:
        >>> from precml_widgets.fpga.layers import DenseLayer
        >>> [x.kind for x in with_output_softmax([DenseLayer(16, 5)])]
        ['dense', 'softmax']
    """
    stack = tuple(layers)
    if stack and isinstance(stack[-1], DenseLayer):
        return (*stack, SoftmaxLayer(stack[-1].n_out, name="softmax"))
    return stack


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
    if backend not in TOOL_FAMILY:
        raise InvalidInputError(
            f"backend={backend!r}: the estimator models hls4ml's {', '.join(TOOL_FAMILY)} "
            "backends (Vivado HLS / Vitis HLS)."
        )
    if io_type not in ("io_parallel", "io_stream"):
        raise InvalidInputError(f"io_type={io_type!r}: expected 'io_parallel' or 'io_stream'.")
    if mul_impl not in (None, "dsp", "fabric"):
        raise InvalidInputError(f"mul_impl={mul_impl!r}: expected None, 'dsp' or 'fabric'.")
    if not isinstance(clock_ns, int | float) or not 0.5 <= clock_ns <= 1000:
        raise InvalidInputError(f"clock_ns={clock_ns!r}: expected a period in ns (0.5-1000).")
    if output_softmax not in (None, True, False):
        raise InvalidInputError(f"output_softmax={output_softmax!r}: expected None, True or False.")
    dev = get_device(device)
    stack = _as_layers(layers)
    if not stack:
        raise InvalidInputError("layers is empty: give at least one layer to estimate.")
    append = _is_table_string(layers) if output_softmax is None else output_softmax
    given = stack
    if append:
        stack = with_output_softmax(stack)
    softmax_note = _softmax_note(given, stack, output_softmax)
    calib = _calibration()
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
    interval, notes = _interval(
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
        error=_measured_error(calib["cross_validation"], TOOL_FAMILY[backend]),
        layers=per,
        interval=interval,
        interval_level=float(calib.get("intervals", {}).get("level", INTERVAL_LEVEL)),
        output_softmax=softmax_note,
        interval_notes=notes,
    )


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


def _interval(
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


def _measured_error(validation: Mapping[str, Any], family: str) -> dict[str, float]:
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


def check_budget(
    est: ResourceEstimate,
    *,
    latency_budget_ns: float,
    bunch_spacing_ns: float = 25.0,
    require_ii: bool = True,
) -> BudgetCheck:
    """Compare an estimate with a trigger's latency budget and the bunch spacing.

    Args:
        est: an estimate.
        latency_budget_ns: allowed latency in ns.
        bunch_spacing_ns: time between collisions in ns (25 ns: the LHC's 40 MHz).
        require_ii: whether ``ok`` also needs a new input every bunch crossing
            (``II * clock <= bunch_spacing_ns``).

    Example:
        >>> from precml_widgets.fpga.layers import DenseLayer
        >>> est = estimate([DenseLayer(16, 64, reuse_factor=4)], clock_ns=5.0)
        >>> check_budget(est, latency_budget_ns=1000.0).ii_ok  # II = 4 cycles = 20 ns
        True
    """
    if not latency_budget_ns > 0 or not bunch_spacing_ns > 0:
        raise InvalidInputError(
            f"latency_budget_ns={latency_budget_ns!r} and bunch_spacing_ns={bunch_spacing_ns!r} "
            "must be positive times in ns."
        )
    latency_ok = est.latency_ns <= latency_budget_ns
    ii_ok = est.ii_ns <= bunch_spacing_ns
    return BudgetCheck(
        est.latency_ns,
        float(latency_budget_ns),
        latency_ok,
        est.ii_ns,
        float(bunch_spacing_ns),
        ii_ok,
        latency_ok and (ii_ok or not require_ii),
    )


def require_fits(est: ResourceEstimate) -> ResourceEstimate:
    """Return ``est`` if it fits its device, else raise naming what overflows and by how much.

    Raises:
        ResourceOverflowError: listing each overflowing resource (needed, available, excess).
    """
    over = []
    for key, label in (("dsp", "DSP"), ("lut", "LUT"), ("ff", "FF"), ("bram18k", "BRAM_18K")):
        need, have = getattr(est, key), getattr(est.device, key)
        if need > have:
            excess = need - have
            over.append(
                f"{label} needs {need:,.0f} of {have:,} ({need / have:.0%}, {excess:,.0f} over)"
            )
    if over:
        raise ResourceOverflowError(
            f"the design does not fit {est.device.part} ({est.device.name}): {'; '.join(over)}. "
            "Raise the reuse factor, narrow or prune the weights (weights under 9 bits use no "
            "DSP), or choose a larger part."
        )
    return est
