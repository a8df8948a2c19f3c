"""Binomial fractions with exact (Clopper-Pearson) confidence intervals.

A statistics tool shared by every rate and efficiency in precml: ``k`` of ``n`` events pass,
the fraction is ``k / n`` and its central interval is the Clopper-Pearson one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from precml_widgets._checks import require_int, require_probability
from precml_widgets.errors import InvalidInputError

__all__ = [
    "ONE_SIGMA_CL",
    "BinomialEstimate",
    "clopper_pearson",
    "require_cl",
    "zero_pass_upper_limit",
]

#: Confidence level of a central 1-sigma interval (68.27 %), the default everywhere.
ONE_SIGMA_CL: float = 0.6827

_CL_HINT = "use e.g. 0.6827 for 68.27 % (1 sigma) or 0.95 for 95 % (cl is the confidence level)."


@dataclass(frozen=True)
class BinomialEstimate:
    """A binomial fraction ``k / n`` with its Clopper–Pearson interval.

    Attributes:
        k: number of successes (events passing).
        n: number of trials (events in the sample).
        value: the point estimate ``k / n``.
        lower: lower end of the central interval (0 when ``k == 0``).
        upper: upper end of the central interval (1 when ``k == n``).
        cl: the confidence level of the interval, e.g. 0.6827.

    Example:
        >>> est = clopper_pearson(5, 10, cl=0.95)
        >>> (est.value, round(est.lower, 4), round(est.upper, 4))
        (0.5, 0.1871, 0.8129)
    """

    k: int
    n: int
    value: float
    lower: float
    upper: float
    cl: float

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dictionary of the fields.

        Returns:
            ``{"k", "n", "value", "lower", "upper", "cl"}`` as Python ints and floats.
        """
        return {
            "k": int(self.k),
            "n": int(self.n),
            "value": float(self.value),
            "lower": float(self.lower),
            "upper": float(self.upper),
            "cl": float(self.cl),
        }


def require_cl(cl: object) -> float:
    """``cl`` as a confidence level strictly between 0 and 1, or a clear error.

    Example:
        >>> require_cl(0.95)
        0.95
    """
    return require_probability("cl", cl, hint=_CL_HINT)


def clopper_pearson(k: int, n: int, cl: float = ONE_SIGMA_CL) -> BinomialEstimate:
    """Exact (Clopper–Pearson) two-sided central interval for a binomial fraction.

    The interval ``[lower, upper]`` puts ``(1 - cl) / 2`` in each tail:
    ``lower = Beta⁻¹((1-cl)/2; k, n-k+1)`` and ``upper = Beta⁻¹((1+cl)/2; k+1, n-k)``,
    with ``lower = 0`` when ``k = 0`` and ``upper = 1`` when ``k = n``. Its coverage is at
    least ``cl`` for every true fraction (it is conservative).

    Args:
        k: number of successes, ``0 <= k <= n``.
        n: number of trials, ``n >= 1``.
        cl: confidence level in (0, 1); the default 0.6827 is the 1σ central interval.

    Returns:
        A :class:`BinomialEstimate` with ``value = k / n``.

    Raises:
        InvalidInputError: for non-integer ``k`` / ``n``, ``n < 1``, ``k`` outside
            ``0..n`` or ``cl`` outside (0, 1).

    References:
        C. J. Clopper and E. S. Pearson, "The use of confidence or fiducial limits
        illustrated in the case of the binomial", Biometrika 26 (1934) 404.

    Example:
        >>> est = clopper_pearson(0, 10, cl=0.95)
        >>> (est.value, est.lower, round(est.upper, 4))
        (0.0, 0.0, 0.3085)
    """
    k = require_int("k", k, hint="pass a whole number of passing events such as int(k).")
    n = require_int(
        "n", n, low=1, hint="n is the number of trials; an empty sample has no fraction."
    )
    cl = require_cl(cl)
    if not 0 <= k <= n:
        raise InvalidInputError(
            f"k (number of successes) must lie in 0..n = 0..{n}, got {k}; "
            f"check that the passing count comes from the same sample as n."
        )
    from scipy.stats import beta

    alpha = 1.0 - cl
    lower = 0.0 if k == 0 else float(beta.ppf(alpha / 2.0, k, n - k + 1))
    upper = 1.0 if k == n else float(beta.ppf(1.0 - alpha / 2.0, k + 1, n - k))
    return BinomialEstimate(k=k, n=n, value=k / n, lower=lower, upper=upper, cl=cl)


def zero_pass_upper_limit(n: int, cl: float) -> float:
    """One-sided upper limit on the fraction when 0 of ``n`` pass: ``1 - (1 - cl)^(1/n)``.

    About ``3 / n`` at 95 % CL (the "rule of three").

    Args:
        n: number of trials, ``n >= 1``.
        cl: confidence level in (0, 1).

    Returns:
        The limit, a fraction in (0, 1).

    Example:
        >>> round(zero_pass_upper_limit(100, 0.95) * 100, 3)
        2.951
    """
    n = require_int("n", n, low=1, hint="n is the number of trials.")
    cl = require_cl(cl)
    return float(-np.expm1(np.log1p(-cl) / n))
