"""The one set of defaults of precml's FPGA code: part, clock, backend, I/O type, strategy.

Every core (estimator, conversion, layer stacks, reuse factors) and the views take their
defaults from here, so a design priced by the estimator is the design :func:`convert`
writes. The strategy is spelt two ways in hls4ml (``"Latency"`` in its configuration,
``"latency"`` in a layer's attributes): the public functions accept both, and
:func:`normalize_strategy` turns either into precml's one spelling (lower case).
"""

from __future__ import annotations

from typing import Literal

from precml_widgets._checks import require_choice

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_CLOCK_NS",
    "DEFAULT_IO_TYPE",
    "DEFAULT_PART",
    "DEFAULT_PART_NUMBER",
    "DEFAULT_PRECISION",
    "DEFAULT_STRATEGY",
    "IO_TYPES",
    "STRATEGIES",
    "Backend",
    "HLSStrategy",
    "IOType",
    "Strategy",
    "StrategySpelling",
    "hls4ml_strategy",
    "normalize_strategy",
]

#: The target part of the estimator, of the shipped numbers and their tests (see ``devices``).
DEFAULT_PART = "xcvu13p"
#: The same part with package and speed grade, as an hls4ml project names it.
DEFAULT_PART_NUMBER = "xcvu13p-flga2577-2-e"
#: Clock period in ns (200 MHz).
DEFAULT_CLOCK_NS = 5.0

Backend = Literal["Vitis", "Vivado"]
#: The hls4ml backends precml converts to, emulates and prices.
BACKENDS: tuple[Backend, ...] = ("Vitis", "Vivado")
DEFAULT_BACKEND: Backend = "Vitis"

IOType = Literal["io_parallel", "io_stream"]
#: hls4ml's ``IOType`` settings.
IO_TYPES: tuple[IOType, ...] = ("io_parallel", "io_stream")
DEFAULT_IO_TYPE: IOType = "io_parallel"

#: The fixed-point type of every tensor not set otherwise (hls4ml's default).
DEFAULT_PRECISION = "ap_fixed<16,6>"

Strategy = Literal["latency", "resource"]
HLSStrategy = Literal["Latency", "Resource"]
#: The spellings a public function accepts for a strategy.
StrategySpelling = Literal["latency", "resource", "Latency", "Resource"]
#: precml's spelling of hls4ml's ``Strategy`` settings.
STRATEGIES: tuple[Strategy, ...] = ("latency", "resource")
DEFAULT_STRATEGY: Strategy = "latency"

_STRATEGY_ALIASES = {"lat": "latency", "res": "resource", "resource_unrolled": "resource"}


def normalize_strategy(value: object, *, name: str = "strategy") -> Strategy:
    """hls4ml's strategy in precml's one spelling, ``"latency"`` or ``"resource"``.

    Accepts either case and the abbreviations of the synthesis-report table (``"lat"``,
    ``"res"``) and hls4ml's ``"resource_unrolled"`` (priced as ``"resource"``).

    Args:
        value: the strategy as given.
        name: the argument named in the error message.

    Raises:
        InvalidInputError: any other value.

    Example:
        >>> normalize_strategy("Latency"), normalize_strategy("res")
        ('latency', 'resource')
    """
    lowered = str(value).lower()
    lowered = _STRATEGY_ALIASES.get(lowered, lowered)
    require_choice(
        name,
        lowered,
        STRATEGIES,
        hint="hls4ml's Strategy setting, in either case ('Latency' or 'latency').",
    )
    return lowered  # type: ignore[return-value]


def hls4ml_strategy(value: object, *, name: str = "strategy") -> HLSStrategy:
    """The strategy as hls4ml's configuration spells it, ``"Latency"`` or ``"Resource"``.

    Example:
        >>> hls4ml_strategy("latency")
        'Latency'
    """
    return normalize_strategy(value, name=name).capitalize()  # type: ignore[return-value]
