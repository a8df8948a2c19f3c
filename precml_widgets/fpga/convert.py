"""Convert a torch model to an hls4ml project with explicit, validated precisions and reuse factors.

Every tensor type is set explicitly, per layer: hls4ml's ``'auto'`` result types grow into very
wide accumulators under ``granularity='name'``, and a softmax fed by them outputs a constant.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from precml_widgets._checks import require_choice, require_int, require_real
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.defaults import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_CLOCK_NS,
    DEFAULT_IO_TYPE,
    DEFAULT_PART_NUMBER,
    DEFAULT_PRECISION,
    DEFAULT_STRATEGY,
    IO_TYPES,
    STRATEGIES,
    Backend,
    HLSStrategy,
    IOType,
    hls4ml_strategy,
)
from precml_widgets.fpga.precision import FixedType, parse_precision
from precml_widgets.fpga.reuse import check_reuse_factor

if TYPE_CHECKING:
    import torch

__all__ = [
    "SUPPORTED_TORCH_LAYERS",
    "DeployConfig",
    "UnsupportedLayerError",
    "accumulator_type",
    "convert",
    "profile_ranges",
    "profiled_precisions",
]

# torch modules and functions precml deploys and emulates (tests/test_fpga_deploy.py,
# tests/test_fixed_emulation.py); hls4ml converts more, but nothing else is checked here.
SUPPORTED_TORCH_LAYERS = ("Linear", "ReLU", "Softmax", "add", "sub", "mul")
_PRECISION_KEYS = ("weight", "bias", "result", "accum")


class UnsupportedLayerError(InvalidInputError):
    """The model holds a layer that hls4ml (or precml's deployment) cannot convert."""


#: The default strategy as hls4ml spells it (from ``defaults.DEFAULT_STRATEGY``).
DEFAULT_HLS_STRATEGY: HLSStrategy = hls4ml_strategy(DEFAULT_STRATEGY)


@dataclass(frozen=True)
class DeployConfig:
    """How to deploy a network with hls4ml.

    Attributes:
        backend: hls4ml backend, ``"Vitis"`` or ``"Vivado"`` (both emulate with g++ alone).
        strategy: ``"Latency"`` (fully unrolled) or ``"Resource"`` (reuses multipliers).
        io_type: ``"io_parallel"`` (whole arrays as wires) or ``"io_stream"``.
        precision: the type of every tensor not overridden, e.g. ``"ap_fixed<16,6>"``.
        reuse_factor: multiplications per multiplier (1 = fully parallel).
        part: FPGA part the project is written for.
        clock_period_ns: target clock period in ns.
        layer_precision: per layer name, ``{"weight"|"bias"|"result"|"accum": type}`` overrides.
        layer_reuse: per layer name, a reuse factor override.
    """

    backend: Backend = DEFAULT_BACKEND
    strategy: HLSStrategy = DEFAULT_HLS_STRATEGY
    io_type: IOType = DEFAULT_IO_TYPE
    precision: str = DEFAULT_PRECISION
    reuse_factor: int = 1
    part: str = DEFAULT_PART_NUMBER
    clock_period_ns: float = DEFAULT_CLOCK_NS
    layer_precision: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    layer_reuse: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # either spelling of the strategy ("latency" or "Latency"): hls4ml's from here on
        if str(self.strategy).lower() in STRATEGIES:
            object.__setattr__(self, "strategy", hls4ml_strategy(self.strategy))

    def validate(self) -> None:
        """Raise :class:`InvalidInputError` naming the first bad setting."""
        choices = {
            "backend": BACKENDS,
            "strategy": tuple(hls4ml_strategy(s) for s in STRATEGIES),
            "io_type": IO_TYPES,
        }
        for name, allowed in choices.items():
            require_choice(name, getattr(self, name), allowed)
        parse_precision(self.precision, name="precision")
        for layer, kinds in self.layer_precision.items():
            for kind, text in kinds.items():
                if kind not in _PRECISION_KEYS:
                    raise InvalidInputError(
                        f"layer_precision[{layer!r}] has key {kind!r}; use {_PRECISION_KEYS}"
                    )
                parse_precision(text, name=f"layer_precision[{layer!r}][{kind!r}]")
        for name, rf in [("reuse_factor", self.reuse_factor), *self.layer_reuse.items()]:
            require_int(f"reuse factor of {name!r}", rf, low=1)
        require_real("clock_period_ns", self.clock_period_ns, low=0.5, high=100, unit="ns")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the cache key of emulation results uses it)."""
        out = dataclasses.asdict(self)
        out["layer_precision"] = {k: dict(v) for k, v in sorted(self.layer_precision.items())}
        out["layer_reuse"] = dict(sorted(self.layer_reuse.items()))
        return out

    def key(self) -> str:
        """A canonical JSON string of the configuration."""
        return json.dumps(self.to_dict(), sort_keys=True)


def _fx_nodes(model: torch.nn.Module) -> Any:
    torch = require("torch", "fpga", "profiling a torch model")
    try:
        return torch.fx.symbolic_trace(model)
    except Exception as exc:  # torch raises many types here
        raise UnsupportedLayerError(
            f"torch.fx cannot trace the model ({type(exc).__name__}: {exc}); hls4ml's PyTorch "
            "frontend needs a traceable forward() without data-dependent control flow"
        ) from None


def check_supported(model: torch.nn.Module) -> None:
    """Raise :class:`UnsupportedLayerError` naming the first layer outside the supported set."""
    traced = _fx_nodes(model)
    modules = dict(traced.named_modules())
    for node in traced.graph.nodes:
        if node.op == "call_module":
            kind = type(modules[node.target]).__name__
        elif node.op in ("call_function", "call_method"):
            kind = getattr(node.target, "__name__", str(node.target))
        else:
            continue
        if kind not in SUPPORTED_TORCH_LAYERS:
            raise UnsupportedLayerError(
                f"layer {node.name!r} ({kind}) is not supported for deployment; supported: "
                f"{', '.join(SUPPORTED_TORCH_LAYERS)}. Rewrite it with these (e.g. x * x as "
                "a product of two different tensors) or remove it."
            )


def profile_ranges(model: torch.nn.Module, x: np.ndarray) -> dict[str, dict[str, Any]]:
    """Largest absolute value of every weight, bias and output, per hls4ml layer name.

    hls4ml names layers after the ``torch.fx`` graph nodes, so the names here are the ones
    :func:`convert` uses. ``x`` is a representative input sample, shape ``(n, n_features)``.

    Returns:
        ``{layer: {"weight": max|w|, "bias": max|b|, "result": max|output|}}``, plus for
        ``Linear`` layers ``"weight_l1"`` (largest row sum of ``|w|``) and ``"input"`` (the name of
        the node feeding it); the input appears under its placeholder name (``"x"``, or
        ``"input_1"`` for a ``Sequential``).
    """
    torch = require("torch", "fpga", "profiling a torch model")
    traced = _fx_nodes(model)
    modules = dict(traced.named_modules())
    out: dict[str, dict[str, Any]] = {}

    class _Recorder(torch.fx.Interpreter):
        def run_node(self, node: Any) -> Any:
            value = super().run_node(node)
            if isinstance(value, torch.Tensor) and node.op != "output":
                entry = out.setdefault(node.name, {})
                entry["result"] = float(value.detach().abs().max())
                if node.op == "call_module":
                    module = modules[node.target]
                    for kind in ("weight", "bias"):
                        p = getattr(module, kind, None)
                        if isinstance(p, torch.Tensor) and p.numel():
                            entry[kind] = float(p.detach().abs().max())
                    if isinstance(module, torch.nn.Linear) and node.args:
                        # largest sum of |w| into one output: bounds the accumulator
                        entry["weight_l1"] = float(module.weight.detach().abs().sum(1).max())
                        entry["input"] = getattr(node.args[0], "name", "")
            return value

    with torch.no_grad():
        _Recorder(traced).run(torch.as_tensor(np.asarray(x, dtype=np.float32)))
    return out


def _integer_bits(max_abs: float, margin: int) -> int:
    """Integer bits of a signed type holding ±max_abs: 1 sign bit + ceil(log2), plus margin."""
    if not max_abs > 0:
        return 1
    return max(1, math.floor(math.log2(max_abs)) + 2 + margin)


def accumulator_type(
    result: FixedType,
    input_type: FixedType | None,
    *,
    weight_l1: float | None,
    bias_max: float = 0.0,
    guard_bits: int = 4,
) -> FixedType:
    """A wrapping accumulator that cannot overflow: ``ap_fixed<I_acc + F_result + guard, I_acc>``.

    ``I_acc`` holds the largest possible sum, ``weight_l1`` (the largest ``sum_i |w_ij|`` of
    one output) times the largest value ``input_type`` can hold, plus ``bias_max``; without
    that information (``None``) the accumulator gets the result's integer bits.

    Example:
        >>> accumulator_type(FixedType(8, 3), FixedType(8, 4), weight_l1=5.0).to_hls()
        'ap_fixed<16,7>'
    """
    i_acc = result.integer
    if weight_l1 is not None and input_type is not None:
        largest_input = max(abs(input_type.min_value), input_type.max_value)
        i_acc = max(i_acc, _integer_bits(weight_l1 * largest_input + bias_max, 0))
    return FixedType(i_acc + result.fractional + guard_bits, i_acc)


def profiled_precisions(
    ranges: Mapping[str, Mapping[str, Any]],
    width: int,
    *,
    margin_bits: int = 1,
    guard_bits: int = 4,
) -> dict[str, dict[str, str]]:
    """Per-layer types ``ap_fixed<width, I>`` with I from profiled ranges (:func:`profile_ranges`).

    Weights and biases round to nearest (free: done at compile time); results round and
    saturate, so a huge anomaly score clips at the largest value instead of wrapping to a small
    one. Accumulators wrap (cheap, and modular sums are exact) but can never overflow: their
    integer bits hold the largest possible sum, ``max_j sum_i |w_ij|`` times the largest value
    the (saturating) input type can hold, plus the bias; they keep the result's fractional bits
    plus ``guard_bits``. Any input, however anomalous, therefore gives the saturated exact
    value, never a wrapped one. ``margin_bits`` extra integer bits cover values beyond the
    profiled sample.
    """
    require_int("width", width, low=2, high=64, hint="the total bits of each ap_fixed type.")
    out: dict[str, dict[str, str]] = {}
    for layer, entry in ranges.items():
        types: dict[str, str] = {}
        for kind in ("weight", "bias"):
            if kind in entry:
                i = _integer_bits(entry[kind], 0)
                types[kind] = FixedType(
                    width, i, rounding="AP_RND_CONV", overflow="AP_SAT"
                ).to_hls()
        i = _integer_bits(entry.get("result", 0.0), margin_bits)
        types["result"] = FixedType(width, i, rounding="AP_RND_CONV", overflow="AP_SAT").to_hls()
        if "weight" in entry:
            source = ranges.get(str(entry.get("input", "")))
            input_type = None
            if source is not None:
                input_type = FixedType(width, _integer_bits(source.get("result", 0.0), margin_bits))
            types["accum"] = accumulator_type(
                FixedType(width, i),
                input_type,
                weight_l1=entry.get("weight_l1"),
                bias_max=entry.get("bias", 0.0),
                guard_bits=guard_bits,
            ).to_hls()
        out[layer] = types
    return out


def _set_precisions(hls_config: dict[str, Any], config: DeployConfig) -> None:
    """Replace every precision (including 'auto') by the configured type, per layer."""
    for name, layer_cfg in hls_config.get("LayerName", {}).items():
        overrides = dict(config.layer_precision.get(name, {}))
        precision = layer_cfg.get("Precision")
        if isinstance(precision, dict):
            for kind in list(precision):
                if kind in overrides:
                    precision[kind] = overrides[kind]
                elif str(precision[kind]) == "auto":  # keep hls4ml's explicit table types
                    precision[kind] = config.precision
        else:
            layer_cfg["Precision"] = overrides.get("result", config.precision)
        if "ReuseFactor" in layer_cfg or name in config.layer_reuse:
            layer_cfg["ReuseFactor"] = config.layer_reuse.get(name, config.reuse_factor)
        if "Strategy" in layer_cfg:
            layer_cfg["Strategy"] = config.strategy


def _check_reuse(model: torch.nn.Module, config: DeployConfig) -> None:
    """Raise an error suggesting valid reuse factors before hls4ml silently changes one."""
    torch = require("torch", "fpga", "checking reuse factors")

    traced = _fx_nodes(model)
    modules = dict(traced.named_modules())
    for node in traced.graph.nodes:
        if node.op == "call_module" and isinstance(modules[node.target], torch.nn.Linear):
            linear = modules[node.target]
            rf = config.layer_reuse.get(node.name, config.reuse_factor)
            try:
                check_reuse_factor(linear.in_features, linear.out_features, rf, config.backend)
            except InvalidInputError as exc:
                raise InvalidInputError(f"layer {node.name!r}: {exc}") from None


def convert(
    model: torch.nn.Module,
    input_shape: tuple[int, ...],
    config: DeployConfig,
    output_dir: str | os.PathLike[str],
) -> Any:
    """Convert ``model`` with hls4ml's PyTorch frontend; returns the (unwritten) ModelGraph.

    Args:
        model: a traceable torch module made of :data:`SUPPORTED_TORCH_LAYERS`.
        input_shape: one event's input shape, e.g. ``(16,)``.
        config: backend, strategy, precisions and reuse factors (validated here).
        output_dir: where hls4ml will write the project (a temp folder for emulation).

    Raises:
        UnsupportedLayerError: naming the layer and listing the supported ones.
        InvalidInputError: for a bad precision string or an unusable reuse factor (with the
            nearest valid ones).
    """
    config.validate()
    check_supported(model)
    _check_reuse(model, config)
    hls4ml = require("hls4ml", "fpga", "converting models to FPGA firmware")
    with contextlib.redirect_stdout(io.StringIO()):  # hls4ml prints the topology
        return _convert(hls4ml, model, input_shape, config, output_dir)


def _convert(
    hls4ml: Any,
    model: torch.nn.Module,
    input_shape: tuple[int, ...],
    config: DeployConfig,
    output_dir: str | os.PathLike[str],
) -> Any:
    hls_config = hls4ml.utils.config_from_pytorch_model(
        model,
        input_shape=tuple(input_shape),
        granularity="name",
        backend=config.backend,
        default_precision=config.precision,
        default_reuse_factor=config.reuse_factor,
    )
    hls_config["Model"]["Strategy"] = config.strategy
    _set_precisions(hls_config, config)
    unknown = set(config.layer_precision) - set(hls_config.get("LayerName", {}))
    if unknown:
        raise InvalidInputError(
            f"layer_precision names unknown layer(s) {sorted(unknown)}; the model's layers are "
            f"{sorted(hls_config.get('LayerName', {}))}"
        )
    try:
        return hls4ml.converters.convert_from_pytorch_model(
            model.eval(),
            hls_config=hls_config,
            output_dir=os.fspath(output_dir),
            backend=config.backend,
            io_type=config.io_type,
            part=config.part,
            clock_period=config.clock_period_ns,
        )
    except Exception as exc:  # hls4ml raises bare exceptions from deep inside its optimisers
        raise InvalidInputError(
            f"hls4ml could not convert the model with {config.key()}: {type(exc).__name__}: "
            f"{exc}. Check the layer types ({', '.join(SUPPORTED_TORCH_LAYERS)}) and precisions."
        ) from exc
