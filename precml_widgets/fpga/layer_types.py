"""The layers a resource estimate needs: shapes, reuse factor, strategy, fixed-point types, zeros.

Frozen dataclasses, one per kind hls4ml synthesises (:class:`DenseLayer`, :class:`ConvLayer`,
:class:`RecurrentLayer`, :class:`SoftmaxLayer`, :class:`MergeLayer`); each checks its
arguments when built. :mod:`precml_widgets.fpga.layer_readers` builds them from a table layer
string, an hls4ml ``ModelGraph`` or an hls4ml project folder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from precml_widgets._checks import require_choice, require_int
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.defaults import (
    DEFAULT_PRECISION,
    DEFAULT_STRATEGY,
    Strategy,
    normalize_strategy,
)
from precml_widgets.fpga.precision import FixedType, parse_precision

__all__ = [
    "DEFAULT_TYPE",
    "SUPPORTED_KINDS",
    "ConvLayer",
    "DenseLayer",
    "Layer",
    "MergeLayer",
    "RecurrentLayer",
    "SoftmaxLayer",
]

SUPPORTED_KINDS = ("dense", "conv1d", "conv2d", "gru", "lstm", "softmax", "merge")
#: The type of weights and accumulators not given (hls4ml's ``ap_fixed<16,6>``).
DEFAULT_TYPE = parse_precision(DEFAULT_PRECISION)


@dataclass(frozen=True)
class _MacLayer:
    """Fields shared by the layers that multiply-accumulate with a weight matrix."""

    reuse_factor: int = field(default=1, kw_only=True)
    strategy: Strategy = field(default=DEFAULT_STRATEGY, kw_only=True)
    weight: FixedType = field(default=DEFAULT_TYPE, kw_only=True)
    accum: FixedType = field(default=DEFAULT_TYPE, kw_only=True)
    input: FixedType | None = field(default=None, kw_only=True)
    result: FixedType | None = field(default=None, kw_only=True)
    n_zeros: int = field(default=0, kw_only=True)
    name: str = field(default="", kw_only=True)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("weight", "accum", "input", "result") and isinstance(value, str):
                object.__setattr__(self, f.name, parse_precision(value, name=f.name))
        strategy = normalize_strategy(self.strategy, name=f"layer {self.name!r}: strategy")
        object.__setattr__(self, "strategy", strategy)
        _check_int(self.name, "reuse_factor", self.reuse_factor, 1)
        _check_int(self.name, "n_zeros", self.n_zeros, 0)

    def _check_zeros(self, n_weights: int) -> None:
        if self.n_zeros > n_weights:
            raise InvalidInputError(
                f"layer {self.name!r}: n_zeros={self.n_zeros} exceeds its {n_weights} weights."
            )


def _check_int(layer: str, what: str, value: Any, lowest: int) -> None:
    require_int(f"layer {layer!r}: {what}", value, low=lowest)


@dataclass(frozen=True)
class DenseLayer(_MacLayer):
    """A fully connected layer as hls4ml implements it (``nnet::dense``).

    Precision fields accept a :class:`FixedType` or any string :func:`parse_precision` reads.
    ``input``/``result`` may be ``None`` when unknown (the estimator then uses the weight type).

    Attributes:
        n_in: inputs.
        n_out: outputs.
        reuse_factor: multiplications per multiplier (hls4ml ``ReuseFactor``).
        strategy: ``"latency"`` or ``"resource"``.
        weight, accum, input, result: fixed-point types of weights, accumulator, input, output.
        n_zeros: weights that are exactly zero (pruned).
        name: layer name for messages and breakdowns.

    Example:
        >>> layer = DenseLayer(16, 64, reuse_factor=4, n_zeros=24, weight="ap_fixed<8,3>")
        >>> layer.n_products, layer.n_nonzero, layer.multiplier_limit
        (1024, 1000, 250)
    """

    kind: ClassVar[str] = "dense"
    n_in: int
    n_out: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int(self.name, "n_in", self.n_in, 1)
        _check_int(self.name, "n_out", self.n_out, 1)
        self._check_zeros(self.n_products)

    @property
    def n_products(self) -> int:
        """Products of one evaluation, ``n_in * n_out``."""
        return self.n_in * self.n_out

    @property
    def n_nonzero(self) -> int:
        """Products with a non-zero weight, ``n_in * n_out - n_zeros``."""
        return self.n_products - self.n_zeros

    @property
    def multiplier_limit(self) -> int:
        """hls4ml's ``multiplier_limit = ceil(n_in*n_out / RF) - n_zeros / RF`` (C++ integers)."""
        return math.ceil(self.n_products / self.reuse_factor) - self.n_zeros // self.reuse_factor


@dataclass(frozen=True)
class ConvLayer(_MacLayer):
    """A 1D/2D convolution; hls4ml computes it as a dense kernel applied at every output position.

    Attributes:
        conv_kind: ``"conv1d"`` or ``"conv2d"``.
        in_shape: input shape, channels last: ``(width, channels)`` or ``(height, width,
            channels)``.
        n_filt: filters (output channels).
        kernel: kernel size, ``(width,)`` or ``(height, width)``.
        out_positions: output positions per image; ``None`` assumes stride 1 with 'same'
            padding (as many as input positions).

    Example:
        >>> c = ConvLayer("conv2d", (28, 28, 1), 4, (3, 3), reuse_factor=3)
        >>> c.n_in, c.n_out, c.n_positions
        (9, 4, 784)
    """

    kind: ClassVar[str] = "conv"
    conv_kind: Literal["conv1d", "conv2d"]
    in_shape: tuple[int, ...]
    n_filt: int
    kernel: tuple[int, ...]
    out_positions: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        dims = {"conv1d": 1, "conv2d": 2}.get(self.conv_kind)
        if dims is None or len(self.in_shape) != dims + 1 or len(self.kernel) != dims:
            raise InvalidInputError(
                f"layer {self.name!r}: {self.conv_kind!r} needs in_shape of {(dims or 1) + 1} "
                f"numbers (spatial..., channels) and a kernel of {dims or 1}; got "
                f"{self.in_shape} and {self.kernel}."
            )
        for value in (*self.in_shape, *self.kernel, self.n_filt, self.out_positions or 1):
            _check_int(self.name, "conv shape entries", value, 1)
        self._check_zeros(self.n_products)

    @property
    def n_in(self) -> int:
        """Inputs of the per-position dense kernel: kernel size times input channels."""
        return math.prod(self.kernel) * self.in_shape[-1]

    @property
    def n_out(self) -> int:
        """Outputs of the per-position kernel: the filters."""
        return self.n_filt

    @property
    def n_products(self) -> int:
        """Weights (products per output position)."""
        return self.n_in * self.n_out

    @property
    def n_positions(self) -> int:
        """Output positions the kernel is evaluated at."""
        return self.out_positions or math.prod(self.in_shape[:-1])


@dataclass(frozen=True)
class RecurrentLayer(_MacLayer):
    """A GRU or LSTM layer: an input kernel and a recurrent kernel per time step.

    Attributes:
        rnn_kind: ``"gru"`` (3 gates) or ``"lstm"`` (4 gates).
        n_in: input features per time step.
        n_state: hidden-state size.
        n_timesteps: sequence length, ``None`` when unknown.

    Example:
        >>> RecurrentLayer("gru", 6, 20).kernels
        ((6, 60), (20, 60))
    """

    kind: ClassVar[str] = "rnn"
    rnn_kind: Literal["gru", "lstm"]
    n_in: int
    n_state: int
    n_timesteps: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        require_choice(f"layer {self.name!r}: rnn_kind", self.rnn_kind, ("gru", "lstm"))
        _check_int(self.name, "n_in", self.n_in, 1)
        _check_int(self.name, "n_state", self.n_state, 1)
        self._check_zeros(sum(a * b for a, b in self.kernels))

    @property
    def kernels(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """``(n_in, gates*n_state)`` input kernel and ``(n_state, gates*n_state)`` recurrent one."""
        gates = 3 if self.rnn_kind == "gru" else 4
        return (self.n_in, gates * self.n_state), (self.n_state, gates * self.n_state)


@dataclass(frozen=True)
class SoftmaxLayer:
    """hls4ml's table-based softmax over ``n_in`` values (exp and inverse lookup tables).

    Example:
        >>> SoftmaxLayer(5).n_in
        5
    """

    kind: ClassVar[str] = "softmax"
    n_in: int
    name: str = "softmax"

    def __post_init__(self) -> None:
        _check_int(self.name, "n_in", self.n_in, 1)


@dataclass(frozen=True)
class MergeLayer:
    """An element-wise merge of two tensors (``nnet::add``/``subtract``/``multiply``).

    Not in the calibration data: the estimator prices it from the dense model's adder and
    multiplier terms and flags it as an extrapolation.

    Example:
        >>> MergeLayer("multiply", 5, input="ap_fixed<12,4>").input.width
        12
    """

    kind: ClassVar[str] = "merge"
    op: Literal["add", "subtract", "multiply"]
    n: int
    input: FixedType = DEFAULT_TYPE
    result: FixedType | None = None
    name: str = "merge"

    def __post_init__(self) -> None:
        require_choice(
            f"layer {self.name!r}: merge op",
            self.op,
            ("add", "subtract", "multiply"),
            hint="other merges are not estimated.",
        )
        _check_int(self.name, "n", self.n, 1)
        for attr in ("input", "result"):
            value = getattr(self, attr)
            if isinstance(value, str):
                object.__setattr__(self, attr, parse_precision(value, name=attr))


Layer = DenseLayer | ConvLayer | RecurrentLayer | SoftmaxLayer | MergeLayer
