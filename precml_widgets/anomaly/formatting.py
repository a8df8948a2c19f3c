"""Text formatting of rates and their context, shared by the rate core, exports and views.

Plain strings only (no markup): rates with a unit prefix and three significant digits,
confidence levels as percentages, and the caveat that goes with every trigger rate.
"""

from __future__ import annotations

import math

__all__ = [
    "KIND_TEXT",
    "NO_SYSTEMATIC",
    "cl_text",
    "format_hz",
    "format_khz",
    "hz_unit",
    "kind_text",
    "rate_caveat",
    "sig3",
]

#: A sample's ``is_real`` flag in words.
KIND_TEXT: dict[bool | None, str] = {True: "real data", False: "simulation", None: "not stated"}

#: What is said in place of a rate systematic when no background variants were given.
NO_SYSTEMATIC = "no systematic given (statistical interval only)"


def kind_text(is_real: bool | None) -> str:
    """``"real data"``, ``"simulation"`` or ``"not stated"`` for a sample's ``is_real`` flag.

    Example:
        >>> kind_text(False)
        'simulation'
    """
    return KIND_TEXT[is_real]


def cl_text(cl: float) -> str:
    """A confidence level as a percentage: ``"68%"``, ``"95%"``, ``"99.9%"``.

    Example:
        >>> cl_text(0.6827), cl_text(0.999)
        ('68%', '99.9%')
    """
    pct = 100.0 * cl
    return f"{pct:.0f}%" if 1 <= round(pct) <= 99 else f"{pct:.3g}%"


def sig3(x: float) -> str:
    """``x`` with three significant digits, in fixed-point notation (``"0"`` for zero).

    Example:
        >>> sig3(12.345), sig3(0.012345), sig3(0.0)
        ('12.3', '0.0123', '0')
    """
    if x == 0.0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


def hz_unit(ref_hz: float) -> tuple[float, str]:
    """The scale and unit (Hz, kHz, MHz or GHz) to quote a rate of ``ref_hz`` Hz in.

    Example:
        >>> hz_unit(28.6e6)
        (1000000.0, 'MHz')
    """
    for scale, unit in ((1e9, "GHz"), (1e6, "MHz"), (1e3, "kHz")):
        if abs(ref_hz) >= scale:
            return scale, unit
    return 1.0, "Hz"


def format_hz(value_hz: float) -> str:
    """A rate in Hz as text with a unit prefix and three significant digits.

    Example:
        >>> format_hz(12345.0)
        '12.3 kHz'
    """
    scale, unit = hz_unit(value_hz)
    return f"{sig3(value_hz / scale)} {unit}"


def format_khz(rate_hz: float) -> str:
    """The fixed display format of a rate in kHz used by the explorer (4 decimals).

    Args:
        rate_hz: a rate in Hz.

    Returns:
        E.g. ``"12.3457"`` for 12 345.67 Hz.

    Example:
        >>> format_khz(12345.67)
        '12.3457'
    """
    return f"{rate_hz / 1e3:.4f}"


def rate_caveat(sample: str) -> str:
    """The one-line caveat on what the trigger rate means, for a background ``sample``.

    Args:
        sample: label of the background sample the FPR is measured on.

    Returns:
        Plain text (not escaped).

    Example:
        >>> rate_caveat("toy (10 events)").startswith("Rate = FPR measured on toy (10 events)")
        True
    """
    return (
        f"Rate = FPR measured on {sample} × the input rate you set; physical only if that "
        f"sample is the unbiased (zero-bias) input stream of the detector."
    )
