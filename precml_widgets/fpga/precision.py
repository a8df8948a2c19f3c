"""Fixed-point types of hls4ml (``ap_fixed<W,I>``): parse, print and quantise.

Accepts the spellings people meet: hls4ml's ``ap_fixed<16,6>``,
``ap_ufixed<8,0,AP_RND_CONV,AP_SAT>``, ``fixed<16,6>``, ``ap_int<8>``, and the compact
``fx16_6`` / ``ufx8_0_RC_S`` of the synthesis-report table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from precml_widgets.errors import InvalidInputError

__all__ = ["FixedType", "parse_precision"]

_ROUNDING = (
    "AP_TRN",
    "AP_TRN_ZERO",
    "AP_RND",
    "AP_RND_ZERO",
    "AP_RND_INF",
    "AP_RND_MIN_INF",
    "AP_RND_CONV",
)
_OVERFLOW = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM", "AP_WRAP_SM")
_COMPACT_MODES = {
    "RC": "AP_RND_CONV",
    "R": "AP_RND",
    "T": "AP_TRN",
    "RZ": "AP_RND_ZERO",
    "S": "AP_SAT",
    "W": "AP_WRAP",
    "SS": "AP_SAT_SYM",
    "SZ": "AP_SAT_ZERO",
}
_HLS = re.compile(r"^\s*(?:ap_)?(?P<kind>u?fixed|u?int)\s*<\s*(?P<args>[^<>]*)>\s*$", re.IGNORECASE)
_COMPACT = re.compile(r"^(?P<u>u?)fx(?P<w>\d+)_(?P<i>-?\d+)(?P<modes>(?:_[A-Z]+)*)$")
_EXAMPLES = "e.g. 'ap_fixed<16,6>', 'ap_ufixed<8,0,AP_RND_CONV,AP_SAT>' or 'fx16_6'"


@dataclass(frozen=True)
class FixedType:
    """An arbitrary-precision fixed-point type: ``width`` bits, ``integer`` of them above the point.

    Attributes:
        width: total bits W (1-128), sign bit included.
        integer: integer bits I (sign bit included when signed); may exceed W or be negative.
        signed: ``ap_fixed`` (True) or ``ap_ufixed`` (False).
        rounding: quantisation mode, default ``AP_TRN`` (truncate towards minus infinity).
        overflow: overflow mode, default ``AP_WRAP`` (modular).

    Example:
        >>> t = parse_precision("ap_fixed<16,6>")
        >>> t.fractional, t.lsb, t.max_value
        (10, 0.0009765625, 31.9990234375)
        >>> t.to_hls()
        'ap_fixed<16,6>'
    """

    width: int
    integer: int
    signed: bool = True
    rounding: str = "AP_TRN"
    overflow: str = "AP_WRAP"

    def __post_init__(self) -> None:
        if not 1 <= self.width <= 128 or (self.signed and self.width < 2):
            raise InvalidInputError(
                f"fixed-point width must be 1-128 bits (2 for a signed type), got {self.width}; "
                f"{_EXAMPLES}"
            )
        if self.rounding not in _ROUNDING or self.overflow not in _OVERFLOW:
            raise InvalidInputError(
                f"unknown rounding/overflow mode {self.rounding!r}/{self.overflow!r}; "
                f"rounding is one of {', '.join(_ROUNDING)}, overflow one of {', '.join(_OVERFLOW)}"
            )

    @property
    def fractional(self) -> int:
        """Bits below the binary point, W - I."""
        return self.width - self.integer

    @property
    def lsb(self) -> float:
        """Value of the least significant bit, 2^-(W-I)."""
        return 2.0 ** (-self.fractional)

    @property
    def min_value(self) -> float:
        """Smallest representable value."""
        return -(2.0 ** (self.integer - 1)) if self.signed else 0.0

    @property
    def max_value(self) -> float:
        """Largest representable value."""
        top = 2.0 ** (self.integer - 1) if self.signed else 2.0**self.integer
        return top - self.lsb

    def to_hls(self) -> str:
        """The hls4ml/Vivado spelling, modes only when not the defaults."""
        kind = "ap_fixed" if self.signed else "ap_ufixed"
        modes = ""
        if (self.rounding, self.overflow) != ("AP_TRN", "AP_WRAP"):
            modes = f",{self.rounding},{self.overflow}"
        return f"{kind}<{self.width},{self.integer}{modes}>"

    def __str__(self) -> str:
        return self.to_hls()

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Convert ``x`` as the C++ ``ap_fixed(double)`` constructor does (every mode), as float.

        Uses the exact integer casts of :mod:`precml_widgets.fpga.fixed_emulation`; widths up to
        52 bits (float64 holds the result exactly).
        """
        from precml_widgets.fpga.fixed_emulation import _from_float

        if self.width > 52:
            raise InvalidInputError(
                f"quantize supports widths up to 52 bits (float64), got {self.to_hls()}"
            )
        return np.ldexp(
            _from_float(np.asarray(x, dtype=np.float64), self).astype(np.float64), -self.fractional
        )


def parse_precision(text: str | FixedType, *, name: str = "precision") -> FixedType:
    """Parse a fixed-point type; ``name`` is the parameter named in the error message.

    Example:
        >>> parse_precision("ufx8_0_RC_S").to_hls()
        'ap_ufixed<8,0,AP_RND_CONV,AP_SAT>'
        >>> parse_precision("ap_int<8>")
        FixedType(width=8, integer=8, signed=True, rounding='AP_TRN', overflow='AP_WRAP')
    """
    if isinstance(text, FixedType):
        return text
    if not isinstance(text, str):
        raise InvalidInputError(
            f"{name} must be a fixed-point type string, got {type(text).__name__}; {_EXAMPLES}"
        )
    match = _COMPACT.match(text.strip())
    if match:
        modes = [m for m in match["modes"].split("_") if m]
        unknown = [m for m in modes if m not in _COMPACT_MODES]
        if unknown or len(modes) > 2:
            raise InvalidInputError(
                f"{name}={text!r}: unknown compact mode(s) {unknown}; {_EXAMPLES}"
            )
        rounding = _COMPACT_MODES[modes[0]] if modes else "AP_TRN"
        overflow = _COMPACT_MODES[modes[1]] if len(modes) > 1 else "AP_WRAP"
        return FixedType(int(match["w"]), int(match["i"]), not match["u"], rounding, overflow)
    match = _HLS.match(text)
    if not match:
        raise InvalidInputError(f"{name}={text!r} is not a fixed-point type; {_EXAMPLES}")
    kind = match["kind"].lower()
    args = [a.strip() for a in match["args"].split(",") if a.strip()]
    try:
        numbers = [int(a) for a in args[:2] if re.fullmatch(r"-?\d+", a)]
        if kind.endswith("int"):
            if len(args) != 1 or len(numbers) != 1:
                raise ValueError
            return FixedType(numbers[0], numbers[0], not kind.startswith("u"))
        if len(numbers) != 2 or len(args) > 5:
            raise ValueError
        modes = [a.upper() for a in args[2:4]]
        rounding = modes[0] if modes else "AP_TRN"
        overflow = modes[1] if len(modes) > 1 else "AP_WRAP"
        return FixedType(numbers[0], numbers[1], not kind.startswith("u"), rounding, overflow)
    except ValueError:
        raise InvalidInputError(
            f"{name}={text!r}: expected <width,integer[,rounding,overflow]> "
            f"(or ap_int<width>); {_EXAMPLES}"
        ) from None
