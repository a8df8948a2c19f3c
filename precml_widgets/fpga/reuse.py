"""hls4ml's reuse-factor rule: the one place that says which reuse factors a dense layer takes.

A dense ``n_in x n_out`` layer with reuse factor ``R`` shares each multiplier ``R`` times;
hls4ml's backends accept only some ``R`` (:func:`valid_reuse_factors`: the rule of hls4ml's
``FPGABackend._validate_reuse_factor``, hls4ml 1.x, applied to the divisors of
``n_in * n_out``; the tests compare it with hls4ml's own ``get_valid_reuse_factors`` on a grid
of shapes). :func:`check_reuse_factor` refuses any other, naming the nearest valid ones;
:func:`nearest_valid_reuse` substitutes one, as hls4ml's ``set_closest_reuse_factor`` does.
The Vivado and Vitis backends share the rule. Unlike hls4ml's loop over every ``R`` up to
``n_in * n_out``, the divisors are built from the prime factors of ``n_in`` and ``n_out``
(``O(sqrt(n_in) + sqrt(n_out))`` steps), and a layer over :data:`MAX_WEIGHTS` weights is
refused, so a huge layer costs milliseconds, not a denial of service.
"""

from __future__ import annotations

import bisect
import math
from functools import lru_cache

from precml_widgets._checks import require_choice, require_int
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.defaults import DEFAULT_BACKEND

__all__ = [
    "BACKENDS",
    "MAX_WEIGHTS",
    "check_reuse_factor",
    "nearest_valid_reuse",
    "valid_reuse_factors",
]


#: The hls4ml backends whose dense layers follow this rule.
BACKENDS = ("Vivado", "Vitis", "VivadoAccelerator")
#: Most weights (``n_in * n_out``) a dense layer may have here: 2**32, a thousand times more
#: than fits the largest FPGA; factoring stays under ~2e5 steps.
MAX_WEIGHTS = 2**32


def _accepted(n_in: int, n_out: int, rf: int) -> bool:
    """hls4ml's ``FPGABackend._validate_reuse_factor`` (hls4ml 1.x), line for line."""
    multiplier_limit = math.ceil(n_in * n_out / min(n_in, rf))
    ok = multiplier_limit % n_out == 0 or rf >= n_in
    ok = ok and (rf % n_in == 0 or rf < n_in)
    return ok and (n_in * n_out) % rf == 0


def _add_factors(n: int, exponents: dict[int, int]) -> None:
    """Add the prime factorisation of ``n`` to ``exponents`` (trial division, sqrt(n) steps)."""
    p = 2
    while p * p <= n:
        while n % p == 0:
            exponents[p] = exponents.get(p, 0) + 1
            n //= p
        p += 1 if p == 2 else 2
    if n > 1:
        exponents[n] = exponents.get(n, 0) + 1


@lru_cache(maxsize=4096)
def _valid_rfs(n_in: int, n_out: int, backend: str) -> tuple[int, ...]:
    exponents: dict[int, int] = {}
    _add_factors(n_in, exponents)
    _add_factors(n_out, exponents)
    divisors = [1]  # of n_in * n_out: hls4ml needs (n_in * n_out) % rf == 0
    for prime, power in exponents.items():
        divisors = [d * prime**k for d in divisors for k in range(power + 1)]
    return tuple(rf for rf in sorted(divisors) if _accepted(n_in, n_out, rf))


def valid_reuse_factors(n_in: int, n_out: int, backend: str = DEFAULT_BACKEND) -> tuple[int, ...]:
    """Reuse factors hls4ml's backend accepts for an ``n_in x n_out`` dense layer (cached).

    The same list as ``hls4ml.backends.get_backend(backend).get_valid_reuse_factors``; for
    16x64 these are the divisors of 16 and the multiples of 16 that divide 1024.

    Returns:
        The valid reuse factors, ascending.

    Raises:
        InvalidInputError: ``n_in`` or ``n_out`` not an integer >= 1, ``n_in * n_out`` over
            :data:`MAX_WEIGHTS`, or an unknown backend.
    """
    for what, value in (("n_in", n_in), ("n_out", n_out)):
        require_int(f"layer 'dense': {what}", value, low=1)
    if int(n_in) * int(n_out) > MAX_WEIGHTS:
        raise InvalidInputError(
            f"a {n_in}x{n_out} dense layer has {int(n_in) * int(n_out):.3g} weights, more than "
            f"the {MAX_WEIGHTS:.3g} precml prices (no FPGA holds that many); check n_in and n_out."
        )
    require_choice("backend", backend, BACKENDS)
    return _valid_rfs(int(n_in), int(n_out), backend)


def check_reuse_factor(
    n_in: int, n_out: int, reuse_factor: int, backend: str = DEFAULT_BACKEND
) -> int:
    """Return ``reuse_factor`` if hls4ml accepts it, else raise naming the nearest valid ones.

    Raises:
        InvalidInputError: listing the nearest valid reuse factors below and above.
    """
    require_int("layer 'dense': reuse_factor", reuse_factor, low=1)
    valid = valid_reuse_factors(n_in, n_out, backend)
    if reuse_factor in valid:
        return reuse_factor
    below = [rf for rf in valid if rf < reuse_factor][-1:]
    above = [rf for rf in valid if rf > reuse_factor][:1]
    raise InvalidInputError(
        f"reuse_factor={reuse_factor} is not valid for a {n_in}x{n_out} dense layer in hls4ml's "
        f"{backend} backend; nearest valid: {', '.join(map(str, below + above))} "
        f"(all valid: {', '.join(map(str, valid[:24]))}{' ...' if len(valid) > 24 else ''})."
    )


def nearest_valid_reuse(
    n_in: int, n_out: int, reuse_factor: int, backend: str = DEFAULT_BACKEND
) -> int:
    """The valid reuse factor hls4ml substitutes for ``reuse_factor`` in an ``n_in x n_out`` layer.

    hls4ml's ``set_closest_reuse_factor`` does this (with a printed warning) when a layer's
    reuse factor is invalid: the closest valid one, the smaller on a tie.

    Args:
        n_in, n_out: the dense layer's shape.
        reuse_factor: the requested reuse factor (>= 1).
        backend: hls4ml backend whose rule applies (``"Vitis"`` or ``"Vivado"``).

    Returns:
        ``reuse_factor`` itself if valid, else the nearest valid one.

    Example:
        >>> [nearest_valid_reuse(16, 64, rf) for rf in (3, 5, 6, 7)]  # valid: 1, 2, 4, 8, 16...
        [2, 4, 4, 8]
        >>> nearest_valid_reuse(5, 1, 9)  # above the largest valid one (5)
        5
    """
    require_int("reuse_factor", reuse_factor, low=1)
    valid = valid_reuse_factors(n_in, n_out, backend)
    pos = bisect.bisect_left(valid, reuse_factor)
    if pos < len(valid) and valid[pos] == reuse_factor:
        return reuse_factor
    if pos == 0:
        return valid[0]
    if pos == len(valid):
        return valid[-1]
    below, above = valid[pos - 1], valid[pos]
    return above if above - reuse_factor < reuse_factor - below else below
