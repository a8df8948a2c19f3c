"""The resource model: an hls4ml layer's DSP, LUT, FF, BRAM and cycles from its shape and types.

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
  ``n_in^-x`` of the products are still separate partial sums (:func:`live_fraction`).
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
limit). What an estimate adds to these numbers (the flags, each quantity's held-out error
and interval, the output-softmax convention) is described in :mod:`precml_widgets.fpga.estimator`.

References:
    Duarte et al., "Fast inference of deep neural networks in FPGAs for particle physics",
    arXiv:1804.06913 (hls4ml; reuse factor, latency vs resource).
    Fahim et al., "hls4ml: An Open-Source Codesign Workflow ...", arXiv:2103.05579.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.devices import Device
from precml_widgets.fpga.layers import (
    SUPPORTED_KINDS,
    ConvLayer,
    DenseLayer,
    Layer,
    MergeLayer,
    RecurrentLayer,
    SoftmaxLayer,
)

__all__ = [
    "COEFFICIENTS_FILE",
    "DSP_MIN_WEIGHT_BITS",
    "FLAG_KINDS",
    "INTERVAL_LEVEL",
    "PARTITION_LIMIT",
    "QUANTITIES",
    "SOFTMAX_TABLE_BITS",
    "TOOL_FAMILY",
    "Coefficients",
    "LayerEstimate",
    "evaluate_terms",
    "live_fraction",
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
    ff = rho * c.c_reg * products * a_bits * live_fraction(tree, n_in)
    ff *= c.s_shared if rf > 1 else 1.0
    ff += c.c_io * n_out * a_bits
    return LayerEstimate(layer.name, layer.kind, mults, limit, dsp, lut, ff, 0.0, ii, latency)


def live_fraction(depth: float, n_in: int) -> float:
    """Registers of a pipelined adder tree per product: ``sum_{k=1..D} n_in^(-k/(D+1))``.

    ``D`` register stages cut the tree of ``log2(n_in)`` levels into ``D + 1`` segments of
    equal delay; after a fraction ``x`` of the tree ``n_in^-x`` of the ``N`` products are
    still separate partial sums, and each is one register. The geometric sum is continuous
    in ``D`` (0 for a combinational layer, ~``D/ln(n_in)`` products' worth for deep ones).

    Example:
        >>> round(live_fraction(1.0, 64), 3)  # one stage halfway: sqrt(64) = 8 -> 1/8
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
