"""Fixed-point types of hls4ml (``ap_fixed<W,I>``): parse, print, quantise, cast exactly.

Accepts the spellings people meet: hls4ml's ``ap_fixed<16,6>``,
``ap_ufixed<8,0,AP_RND_CONV,AP_SAT>``, ``fixed<16,6>``, ``ap_int<8>``, and the compact
``fx16_6`` / ``ufx8_0_RC_S`` of the synthesis-report table.

The exact casts (:func:`from_float`, :func:`cast`, :func:`to_float32` and their parts) work on
int64 counts of least significant bits (LSBs) and follow the Vivado/Vitis ``ap_types``: a C++
assignment is a quantisation of dropped fractional bits, then an overflow of dropped integer
bits. :mod:`precml_widgets.fpga.fixed_emulation` builds the firmware emulation on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from precml_widgets.errors import InvalidInputError

__all__ = [
    "OVERFLOW_MODES",
    "ROUNDING_MODES",
    "FixedType",
    "IntRange",
    "IntermediateWidthError",
    "apply_overflow",
    "cast",
    "from_float",
    "parse_precision",
    "quantization_increment",
    "requantize",
    "requantized_bounds",
    "to_float32",
]

#: The quantisation (rounding) modes of ``ap_fixed``, hls4ml's spelling.
ROUNDING_MODES = (
    "AP_TRN",
    "AP_TRN_ZERO",
    "AP_RND",
    "AP_RND_ZERO",
    "AP_RND_INF",
    "AP_RND_MIN_INF",
    "AP_RND_CONV",
)
#: The overflow modes of ``ap_fixed``, hls4ml's spelling.
OVERFLOW_MODES = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM", "AP_WRAP_SM")
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
        if self.rounding not in ROUNDING_MODES or self.overflow not in OVERFLOW_MODES:
            raise InvalidInputError(
                f"unknown rounding/overflow mode {self.rounding!r}/{self.overflow!r}; "
                f"rounding is one of {', '.join(ROUNDING_MODES)}, "
                f"overflow one of {', '.join(OVERFLOW_MODES)}"
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

        Uses the exact integer cast :func:`from_float`; widths up to 52 bits (float64 holds the
        result exactly).
        """
        if self.width > 52:
            raise InvalidInputError(
                f"quantize supports widths up to 52 bits (float64), got {self.to_hls()}"
            )
        return np.ldexp(
            from_float(np.asarray(x, dtype=np.float64), self).astype(np.float64), -self.fractional
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


class IntermediateWidthError(InvalidInputError):
    """An exact intermediate value of a cast would need more than the 62 bits int64 affords."""


@dataclass(frozen=True)
class IntRange:
    """Exact bounds (in LSBs) of an integer array holding values with ``frac`` fractional bits.

    Attributes:
        frac: fractional bits of the values (the LSB is ``2**-frac``).
        lo: smallest integer the array may hold.
        hi: largest integer the array may hold.

    Example:
        >>> IntRange.of(parse_precision("ap_fixed<8,3>"))
        IntRange(frac=5, lo=-128, hi=127)
    """

    frac: int
    lo: int
    hi: int

    @classmethod
    def of(cls, t: FixedType) -> IntRange:
        """Every bit pattern of ``t``."""
        lo = -(1 << (t.width - 1)) if t.signed else 0
        hi = (1 << (t.width - 1)) - 1 if t.signed else (1 << t.width) - 1
        return cls(t.fractional, lo, hi)


def quantization_increment(rounding: str, q: np.ndarray, qb: Any, r: Any, neg: Any) -> Any:
    """ap_fixed's ``quantization_adjust``: whether to add 1 to the floor ``q``.

    ``qb`` is the first dropped bit, ``r`` the OR of the bits below it, ``neg`` the source sign
    (arrays of the shape of ``q``). ``None`` for ``AP_TRN`` (floor: never).
    """
    if rounding == "AP_RND":
        return qb
    if rounding == "AP_RND_ZERO":
        return qb & (neg | r)
    if rounding == "AP_RND_MIN_INF":
        return qb & r
    if rounding == "AP_RND_INF":
        return qb & (~neg | r)
    if rounding == "AP_RND_CONV":
        return qb & ((np.mod(q, 2) == 1) | r)
    if rounding == "AP_TRN_ZERO":
        return neg & (qb | r)
    return None  # AP_TRN: floor


def requantize(v: np.ndarray, shift: int, rounding: str) -> np.ndarray:
    """Drop ``shift`` fractional bits of the int64 array ``v`` (or append ``-shift`` zero bits).

    Each rounding mode is one offset added before the flooring shift: ``half`` (AP_RND),
    ``half - 1`` (AP_RND_MIN_INF), ``half - 1 + odd(floor)`` (AP_RND_CONV), ``half - 1`` or
    ``half`` by sign (AP_RND_ZERO, AP_RND_INF), ``2^shift - 1`` below zero (AP_TRN_ZERO).
    Returns an array of the shape of ``v``.
    """
    if shift <= 0:
        return v << -shift if shift else v
    if rounding == "AP_TRN":
        return v >> shift
    half = 1 << (shift - 1)
    negative = v >> (8 * v.dtype.itemsize - 1)  # -1 below zero, else 0
    if rounding == "AP_RND":
        offset: Any = half
    elif rounding == "AP_RND_MIN_INF":
        offset = half - 1
    elif rounding == "AP_RND_CONV":
        offset = ((v >> shift) & 1) + (half - 1)
    elif rounding == "AP_RND_ZERO":
        offset = (half - 1) - negative
    elif rounding == "AP_RND_INF":
        offset = half + negative
    else:  # AP_TRN_ZERO
        offset = negative & ((1 << shift) - 1)
    return (v + offset) >> shift


def apply_overflow(v: np.ndarray, t: FixedType, span: IntRange) -> np.ndarray:
    """Apply ``t``'s overflow mode to integers ``v`` known to lie in ``span`` (same LSB)."""
    full = IntRange.of(t)
    lo = full.lo + (t.overflow == "AP_SAT_SYM" and t.signed)
    if lo <= span.lo and span.hi <= full.hi:
        return v
    if t.overflow == "AP_WRAP":
        return ((v - full.lo) & ((1 << t.width) - 1)) + full.lo
    if t.overflow == "AP_SAT_ZERO":
        return np.where((v < lo) | (v > full.hi), 0, v)
    return np.clip(v, lo, full.hi)


def requantized_bounds(src: IntRange, shift: int, rounding: str) -> tuple[int, int]:
    """Bounds after :func:`requantize` of values in ``src``.

    Raises:
        IntermediateWidthError: an intermediate could leave int64 (more than 62 bits).
    """
    if max(-src.lo, src.hi) >= 1 << (62 + min(shift, 0)):
        raise IntermediateWidthError("an intermediate value needs more than 62 bits")
    if shift <= 0:
        return src.lo << -shift, src.hi << -shift
    return src.lo >> shift, (src.hi >> shift) + (rounding != "AP_TRN")


def cast(v: np.ndarray, src: IntRange, t: FixedType) -> np.ndarray:
    """C++ ``t x = v;`` for exact fixed-point values ``v`` (int64 LSB counts) within ``src``.

    Example:
        >>> t = parse_precision("ap_fixed<4,2,AP_RND,AP_SAT>")
        >>> cast(np.array([-100, 3, 100]), IntRange(3, -100, 100), t).tolist()
        [-8, 2, 7]
    """
    shift = src.frac - t.fractional
    span = IntRange(t.fractional, *requantized_bounds(src, shift, t.rounding))
    return apply_overflow(requantize(v, shift, t.rounding), t, span)


def from_float(x: np.ndarray, t: FixedType) -> np.ndarray:
    """C++ ``t(double)``: quantise and overflow the exact binary value of each double.

    Returns int64 LSB counts, shape of ``x``.

    Example:
        >>> from_float(np.array([0.3, -1.0, 9.0]), parse_precision("ap_fixed<6,3>")).tolist()
        [2, -8, 8]
    """
    y = np.ldexp(np.asarray(x, dtype=np.float64), t.fractional)
    q = np.floor(y)
    with np.errstate(invalid="ignore"):  # 1/0 = inf in the inverse table
        rem = y - q
        inc = quantization_increment(t.rounding, q, rem >= 0.5, (rem != 0) & (rem != 0.5), y < 0)
        q = q if inc is None else q + inc
        if t.overflow == "AP_WRAP":  # the low bits of the integer (none for infinity)
            q = np.where(np.isfinite(q), np.fmod(q, 2.0**t.width), 0.0)
    q = np.clip(q, -(2.0**62), 2.0**62).astype(np.int64)  # out of range either way
    return apply_overflow(q, t, IntRange(t.fractional, -(1 << 62), 1 << 62))


def to_float32(v: np.ndarray, t: FixedType) -> np.ndarray:
    """ap_fixed's ``to_float()`` (round half to even) of LSB counts ``v``: exact for W <= 53."""
    return np.ldexp(v.astype(np.float64), -t.fractional).astype(np.float32)
