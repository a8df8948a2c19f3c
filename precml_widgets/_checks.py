"""Argument checks: the one place in precml that validates a scalar argument.

Each check returns the value converted to a plain Python type, or raises
:class:`~precml_widgets.errors.InvalidInputError` with a message that names the argument, says
what was expected and what was given, and ends with ``hint`` (how to fix it) when one is given.
``bool`` is never accepted as a number.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection
from numbers import Integral, Real
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from precml_widgets.errors import InvalidInputError

__all__ = [
    "MAX_SEED",
    "require_array",
    "require_choice",
    "require_instance",
    "require_int",
    "require_probability",
    "require_real",
    "require_seed",
]

#: The largest seed :func:`require_seed` accepts (NumPy and torch both take ``0 .. 2**63 - 1``).
MAX_SEED = 2**63 - 1

T = TypeVar("T")


def _fail(
    name: str, expected: str, value: object, hint: str, *, wrong_type: bool = False
) -> InvalidInputError:
    tail = f"; {hint}" if hint else "."
    kind = f" (a {type(value).__name__}, not a number)" if wrong_type else ""
    return InvalidInputError(f"{name} must be {expected}, got {value!r}{kind}{tail}")


def require_int(
    name: str,
    value: object,
    *,
    low: int | None = None,
    high: int | None = None,
    hint: str = "",
) -> int:
    """``value`` as an ``int`` with ``low <= value <= high`` (either bound optional).

    Example:
        >>> require_int("n_toys", 200, low=1)
        200
        >>> require_int("n_toys", 0, low=1, hint="try 200")
        Traceback (most recent call last):
        ...
        precml_widgets.errors.InvalidInputError: n_toys must be an integer >= 1, got 0; try 200
    """
    if low is not None and high is not None:
        expected = f"an integer in {low}..{high}"
    elif low is not None:
        expected = f"an integer >= {low}"
    elif high is not None:
        expected = f"an integer <= {high}"
    else:
        expected = "an integer"
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise _fail(
            name,
            expected,
            value,
            hint,
            wrong_type=isinstance(value, bool) or not isinstance(value, Real),
        )
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise _fail(name, expected, value, hint)
    return number


def require_real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
    unit: str = "",
    hint: str = "",
) -> float:
    """``value`` as a ``float`` inside the stated bounds.

    Args:
        name: the argument's name, as the caller spells it.
        value: what was passed.
        low, high: bounds (``None``: unbounded on that side).
        low_open, high_open: exclude the bound itself.
        finite: refuse NaN and infinities (with ``finite=False`` only NaN is refused).
        unit: appended to the expectation, e.g. ``"Hz"``.
        hint: how to fix it, appended to the message.

    Example:
        >>> require_real("cl", 0.95, low=0.0, high=1.0, low_open=True, high_open=True)
        0.95
        >>> require_real("rate", -1.0, low=0.0, low_open=True, unit="Hz")
        Traceback (most recent call last):
        ...
        precml_widgets.errors.InvalidInputError: rate must be a finite number > 0 Hz, got -1.0.
    """
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    expected = ("a finite number" if finite else "a number") + (
        " " + " and ".join(parts) if parts else ""
    )
    if unit:
        expected += f" {unit}"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise _fail(name, expected, value, hint, wrong_type=True)
    number = float(value)
    if math.isnan(number) or (finite and math.isinf(number)):
        raise _fail(name, expected, value, hint)
    if low is not None and (number < low or (low_open and number == low)):
        raise _fail(name, expected, value, hint)
    if high is not None and (number > high or (high_open and number == high)):
        raise _fail(name, expected, value, hint)
    return number


def require_probability(name: str, value: object, *, hint: str = "") -> float:
    """``value`` as a ``float`` strictly between 0 and 1 (a confidence level, a fraction)."""
    return require_real(name, value, low=0.0, high=1.0, low_open=True, high_open=True, hint=hint)


def require_choice(name: str, value: T, choices: Collection[T], *, hint: str = "") -> T:
    """``value`` if it is one of ``choices``.

    Example:
        >>> require_choice("backend", "Vitis", ("Vivado", "Vitis"))
        'Vitis'
    """
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise _fail(name, f"one of {listed}", value, hint)
    return value


def require_instance(name: str, value: Any, kind: type[T], *, hint: str = "") -> T:
    """``value`` if it is an instance of ``kind``."""
    if not isinstance(value, kind):
        tail = f"; {hint}" if hint else "."
        raise InvalidInputError(
            f"{name} must be a {kind.__name__}, got {type(value).__name__}{tail}"
        )
    return value


def require_seed(name: str, value: object, *, hint: str = "") -> int:
    """``value`` as a seed for NumPy and torch: an integer in ``0 .. 2**63 - 1``.

    NumPy refuses negative seeds with a bare ``ValueError`` and torch silently wraps them, so
    a negative seed is refused here, with the argument's name.

    Example:
        >>> require_seed("seed", 7)
        7
        >>> require_seed("seed", -1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        precml_widgets.errors.InvalidInputError: seed must be an integer in 0..., got -1; a seed ...
    """
    return require_int(
        name, value, low=0, high=MAX_SEED, hint=hint or "a seed is a whole number >= 0, e.g. 0."
    )


def require_array(
    name: str,
    value: object,
    *,
    ndim: int | None = None,
    finite: bool = True,
    hint: str = "",
) -> npt.NDArray[np.float64]:
    """``value`` as a float64 NumPy array, or an error naming the argument.

    Refuses what NumPy would turn into a cryptic ``ValueError`` or ``TypeError``: a path or
    other string (load the file first), an object array that holds non-numbers, a ragged
    nested list; with ``finite`` also NaN and infinities (counted in the message); with
    ``ndim`` a wrong number of dimensions. Arrays are not copied when already float64.

    Args:
        name: the argument's name, as the caller spells it.
        value: what was passed: an array or a (nested) sequence of numbers.
        ndim: the required number of dimensions (``None``: any).
        finite: refuse NaN and infinities.
        hint: how to fix it, appended to the message.

    Example:
        >>> require_array("x", [[1, 2], [3, 4]], ndim=2).shape
        (2, 2)
        >>> require_array("x", "events.npy")
        Traceback (most recent call last):
        ...
        precml_widgets.errors.InvalidInputError: x must be an array of numbers, got the str \
'events.npy'; load the file first, e.g. numpy.load(path).
    """
    tail = f"; {hint}" if hint else "."
    if isinstance(value, str | bytes | os.PathLike):
        raise InvalidInputError(
            f"{name} must be an array of numbers, got the {type(value).__name__} {value!r}; "
            "load the file first, e.g. numpy.load(path)."
        )
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        kind = getattr(value, "dtype", type(value).__name__)
        raise InvalidInputError(
            f"{name} must be an array of numbers, but the {kind} given could not be converted "
            f"to float64 ({exc}){tail}"
        ) from None
    if ndim is not None and array.ndim != ndim:
        raise InvalidInputError(f"{name} must be a {ndim}-D array, got shape {array.shape}{tail}")
    if finite:
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        if bad:
            raise InvalidInputError(
                f"{name} holds {bad} NaN or infinite value(s) of {array.size}{tail}"
            )
    return array
