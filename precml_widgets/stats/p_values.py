"""p-values from toys, with their Monte Carlo error, and the χ² degrees of freedom of a null.

:func:`p_value` gives ``(k + 1) / (N + 1)`` for ``k`` of ``N`` toys at or above the observed
value, with its binomial Monte Carlo error, and a one-sided upper bound at :data:`BOUND_CL`
(never 0) when no toy reaches it. :func:`fit_chi2_dof` fits the degrees of freedom of a χ² to
toy values by maximum likelihood (for statistics whose null is asymptotically χ², e.g. NPLM).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from precml_widgets._checks import require_array, require_int
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.binomial import zero_pass_upper_limit

__all__ = ["BOUND_CL", "SMALLEST_P", "PValue", "fit_chi2_dof", "p_value"]

#: Confidence level of the upper bound reported when no toy reaches the observed value.
BOUND_CL = 0.95
#: The smallest asymptotic p-value reported; a smaller one is shown as ``p < SMALLEST_P``.
SMALLEST_P = 1e-300


@dataclass(frozen=True)
class PValue:
    """A p-value from toys: ``(k + 1) / (N + 1)`` with ``k`` of ``N`` toys >= the observed.

    Attributes:
        value: the estimate; when ``k == 0``, the one-sided upper limit at :data:`BOUND_CL`
            (``upper_bound`` is then True: the toys cannot resolve a smaller p).
        mc_error: binomial Monte Carlo error ``sqrt(p (1 - p) / N)`` (0 for a bound).
        exceeding: ``k``.
        toys: ``N``.
        upper_bound: whether ``value`` is only an upper limit.
    """

    value: float
    mc_error: float
    exceeding: int
    toys: int
    upper_bound: bool

    @property
    def z(self) -> float:
        """One-sided Gaussian significance ``Φ⁻¹(1 - p)`` (a lower bound when ``upper_bound``;
        p = 1, every toy at or above the observed value, gives ``Φ⁻¹(1 / (N + 1))`` < 0)."""
        return float(stats.norm.isf(min(self.value, self.toys / (self.toys + 1))))

    def describe(self) -> str:
        """E.g. ``'p = 0.031 ± 0.005 (Z = 1.87; 31 of 1000 toys)'`` or ``'p < 0.003 ...'``."""
        if self.upper_bound:
            return (
                f"p < {self.value:.2g} at {BOUND_CL:.0%} CL (Z > {self.z:.2f}; no toy of "
                f"{self.toys} reaches the observed value)"
            )
        return (
            f"p = {self.value:.3g} ± {self.mc_error:.1g} (Z = {self.z:.2f}; "
            f"{self.exceeding} of {self.toys} toys)"
        )


def p_value(observed: float, null_values: Any) -> PValue:
    """The p-value of ``observed`` against toy values of the statistic (larger = rarer).

    Example:
        >>> p = p_value(3.0, [0.0, 1.0, 2.0, 4.0])
        >>> p.value, p.exceeding, p.upper_bound
        (0.4, 1, False)
        >>> p_value(9.0, [0.0, 1.0]).upper_bound
        True
    """
    values = require_array("null_values", null_values, ndim=1)
    toys = require_int("number of toys", values.size, low=1, hint="run at least one toy.")
    observed = float(observed)
    if not np.isfinite(observed):
        raise InvalidInputError(f"observed must be a finite number, got {observed!r}.")
    k = int(np.count_nonzero(values >= observed))
    if k == 0:
        return PValue(zero_pass_upper_limit(toys, BOUND_CL), 0.0, 0, toys, True)
    p = (k + 1) / (toys + 1)
    return PValue(p, float(np.sqrt(p * (1 - p) / toys)), k, toys, False)


def fit_chi2_dof(values: Any) -> float:
    """Maximum-likelihood degrees of freedom of a χ² (location 0, scale 1) fitted to ``values``.

    Raises:
        InvalidInputError: fewer than 10 values, or a value <= 0 (a χ² has positive support).
    """
    x = require_array("values", values, ndim=1)
    if x.size < 10 or np.any(x <= 0):
        raise InvalidInputError(
            f"a χ² fit needs at least 10 positive values, got {x.size} with "
            f"{int(np.count_nonzero(x <= 0))} <= 0."
        )
    dof, _, _ = stats.chi2.fit(x, floc=0.0, fscale=1.0)
    return float(dof)
