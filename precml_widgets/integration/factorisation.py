"""How far an integrand is from factorising: the best a VEGAS grid can do.

A VEGAS grid is a product density ``q(x) = q_1(x_1) ... q_n(x_n)``; the best such density for
``f`` is the product of the exact marginals of ``p = f / I`` (the limit its adaptation aims
at). The relative spread of the weights ``w = f / q`` that this product leaves,
``sqrt(Var_q[w]) / I = sqrt(E_p[p / q] - 1)``, is 0 for a factorising integrand (VEGAS's
ideal case, which no sampler can beat by much) and grows with every correlation (the Camel's
diagonal humps: about ``sqrt(2^(n-1) - 1)`` in ``n`` dimensions, since the product puts
density on all ``2^n`` combinations of the per-axis humps).

References:
    G. P. Lepage, J. Comput. Phys. 27 (1978) 192; arXiv:2009.05112.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from precml_widgets._checks import require_int
from precml_widgets.errors import InvalidInputError
from precml_widgets.integration.integrand import Integrand

__all__ = ["FactorisedSpread", "factorised_spread"]


@dataclass(frozen=True)
class FactorisedSpread:
    """The weight spread of the best factorised density, estimated with exact draws.

    Attributes:
        relative_std: ``sqrt(Var_q[f/q]) / I`` for ``q`` the product of the exact marginals.
        error: the Monte Carlo error of ``relative_std`` (delta method).
        draws: exact draws from ``f / I`` used.
    """

    relative_std: float
    error: float
    draws: int


def factorised_spread(
    integrand: Integrand, draws: int = 100_000, bins: int = 1_000, seed: int = 0
) -> FactorisedSpread:
    """Relative spread of ``f / q`` for ``q`` = the product of ``f``'s exact marginals.

    The marginals are the exact per-coordinate CDFs, binned into ``bins`` equal bins (a
    histogram density, exactly as a VEGAS grid with ``bins`` increments would represent
    them); ``E_p[p / q]`` is averaged over exact draws from ``p = f / I``.

    Args:
        integrand: needs an exact value, an exact sampler and exact marginal CDFs.
        draws: exact draws from ``f / I``.
        bins: increments per axis of the factorised density.
        seed: seeds the draws.

    Raises:
        InvalidInputError: when the integrand lacks an exact value, sampler or marginal CDFs.

    Example:
        >>> from precml_widgets.integration.toys import gauss
        >>> factorised_spread(gauss(3), draws=20_000).relative_std < 0.01  # it factorises
        True
    """
    if integrand.exact is None or integrand.sampler is None or integrand.marginal_cdf is None:
        raise InvalidInputError(
            f"'{integrand.name}' needs an exact value, an exact sampler and exact marginal "
            "CDFs to compute its best factorised density."
        )
    draws = require_int("draws", draws, low=2)
    bins = require_int("bins", bins, low=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    x = integrand.sampler(draws, np.random.default_rng(seed))
    cell = np.minimum((x * bins).astype(np.int64), bins - 1)
    q = np.ones(draws)
    for i in range(integrand.dim):
        density = np.diff(integrand.marginal_cdf(edges, i)) * bins
        q *= density[cell[:, i]]
    ratio = integrand(x) / (integrand.exact * q)  # p / q at exact draws from p
    mean, sem = float(ratio.mean()), float(ratio.std(ddof=1) / math.sqrt(draws))
    rel_std = math.sqrt(max(mean - 1.0, 0.0))
    error = sem / (2 * rel_std) if rel_std > 0 else math.sqrt(sem)
    return FactorisedSpread(relative_std=rel_std, error=error, draws=draws)
