"""Toy integrands on the unit hypercube with known integrals: the i-flow test functions.

Gaussian peaks (:func:`gauss`, :func:`camel`), two 2D shapes (:func:`entangled_circles`,
:func:`annulus`) and a broad polynomial (:func:`polynomial`). Each returns an
:class:`~precml_widgets.integration.integrand.Integrand` with its exact integral and, where one
exists, an exact sampler and exact marginal CDFs.

References:
    C. Gao, J. Isaacson, C. Krause, "i-flow: High-dimensional integration and sampling with
    normalizing flows", arXiv:2001.05486.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from precml_widgets._checks import require_real
from precml_widgets.integration.integrand import (
    Array,
    Integrand,
    require_coordinate,
    require_dim,
    require_sample_count,
)

__all__ = [
    "annulus",
    "camel",
    "entangled_circles",
    "gauss",
    "polynomial",
    "require_alpha",
]


def require_alpha(alpha: object) -> float:
    """``alpha`` (the width of a Gaussian peak) as a finite ``float > 0``."""
    return require_real(
        "alpha (the peak width)",
        alpha,
        low=0.0,
        low_open=True,
        hint="the i-flow benchmarks use alpha = 0.2.",
    )


def _suffix(alpha: float) -> str:
    return "" if alpha == 0.2 else f"(alpha={alpha:g})"


# --------------------------------------------------------------------------- Gaussian peaks


def _truncnorm_cdf(x: Array, mu: float, alpha: float) -> Array:
    """CDF on [0, 1] of exp(-(x-mu)^2 / alpha^2) truncated to the unit interval."""
    sig = alpha / math.sqrt(2.0)
    return stats.truncnorm.cdf(x, -mu / sig, (1.0 - mu) / sig, loc=mu, scale=sig)


def _truncnorm_draws(rng: np.random.Generator, mu: float, alpha: float, size: tuple) -> Array:
    sig = alpha / math.sqrt(2.0)
    a, b = -mu / sig, (1.0 - mu) / sig
    return stats.truncnorm.rvs(a, b, loc=mu, scale=sig, size=size, random_state=rng)


def gauss(dim: int, alpha: float = 0.2) -> Integrand:
    """One narrow Gaussian at the centre of the cube.

    ``f(x) = (alpha sqrt(pi))^-n exp(-sum_i (x_i - 1/2)^2 / alpha^2)``, normalised to 1 on
    all of R^n, so its integral on the cube is ``erf(1 / (2 alpha))^n``.

    Args:
        dim: number of dimensions ``n >= 1``.
        alpha: width of the peak (``alpha / sqrt(2)`` is the standard deviation), > 0.

    Returns:
        The :class:`Integrand` ``"gauss-<n>d"`` with an exact truncated-normal sampler and
        exact marginal CDFs.

    References:
        C. Gao, J. Isaacson, C. Krause, "i-flow: High-dimensional integration and sampling
        with normalizing flows", arXiv:2001.05486.

    Example:
        >>> g = gauss(4, alpha=0.2)
        >>> round(g.exact, 8) == round(math.erf(2.5) ** 4, 8)
        True
    """
    n = require_dim(dim)
    a = require_alpha(alpha)
    log_norm = n * math.log(a * math.sqrt(math.pi))

    def fn(x: Array) -> Array:
        return np.exp(-np.sum(((x - 0.5) / a) ** 2, axis=1) - log_norm)

    def sampler(size: int, rng: np.random.Generator) -> Array:
        return _truncnorm_draws(rng, 0.5, a, (require_sample_count(size), n))

    def marginal_cdf(x: Array, i: int) -> Array:
        require_coordinate(f"gauss-{n}d", i, n)
        return _truncnorm_cdf(np.asarray(x, dtype=np.float64), 0.5, a)

    return Integrand(
        name=f"gauss-{n}d{_suffix(a)}",
        dim=n,
        fn=fn,
        exact=math.erf(1.0 / (2.0 * a)) ** n,
        exact_error=0.0,
        reference="closed form erf(1/(2 alpha))^n; i-flow test function, arXiv:2001.05486",
        sampler=sampler,
        marginal_cdf=marginal_cdf,
    )


def camel(dim: int, alpha: float = 0.2) -> Integrand:
    """Two Gaussians on the diagonal at 1/3 and 2/3: the "camel" with two humps.

    ``f(x) = 1/2 (a sqrt(pi))^-n [exp(-|x - 1/3|^2 / a^2) + exp(-|x - 2/3|^2 / a^2)]``,
    ``a = alpha``. Each hump has the same mass ``m^n`` on the cube, with
    ``m = (erf(1/(3 a)) + erf(2/(3 a))) / 2`` per coordinate, so the integral is ``m^n``, draws
    pick a hump with probability 1/2, and each coordinate's marginal is the 50/50 mixture of
    the two truncated normals.

    Args:
        dim: number of dimensions ``n >= 1``.
        alpha: width of each hump, > 0.

    Returns:
        The :class:`Integrand` ``"camel-<n>d"`` with exact sampler and marginal CDFs.

    References:
        C. Gao, J. Isaacson, C. Krause, arXiv:2001.05486; E. Bothmann et al., "Exploring phase
        space with neural importance sampling", arXiv:2001.05478.

    Example:
        >>> c = camel(2)
        >>> round(c.exact, 6)
        0.98166
    """
    n = require_dim(dim)
    a = require_alpha(alpha)
    log_norm = n * math.log(a * math.sqrt(math.pi))
    mass = 0.5 * (math.erf(1.0 / (3.0 * a)) + math.erf(2.0 / (3.0 * a)))

    def fn(x: Array) -> Array:
        e1 = -np.sum(((x - 1.0 / 3.0) / a) ** 2, axis=1) - log_norm
        e2 = -np.sum(((x - 2.0 / 3.0) / a) ** 2, axis=1) - log_norm
        return 0.5 * (np.exp(e1) + np.exp(e2))

    def sampler(size: int, rng: np.random.Generator) -> Array:
        size = require_sample_count(size)
        first = rng.random(size) < 0.5
        out = _truncnorm_draws(rng, 2.0 / 3.0, a, (size, n))
        out[first] = _truncnorm_draws(rng, 1.0 / 3.0, a, (int(first.sum()), n))
        return out

    def marginal_cdf(x: Array, i: int) -> Array:
        require_coordinate(f"camel-{n}d", i, n)
        xx = np.asarray(x, dtype=np.float64)
        return 0.5 * (_truncnorm_cdf(xx, 1.0 / 3.0, a) + _truncnorm_cdf(xx, 2.0 / 3.0, a))

    return Integrand(
        name=f"camel-{n}d{_suffix(a)}",
        dim=n,
        fn=fn,
        exact=mass**n,
        exact_error=0.0,
        reference="closed form ((erf(1/(3a)) + erf(2/(3a)))/2)^n; i-flow, arXiv:2001.05486",
        sampler=sampler,
        marginal_cdf=marginal_cdf,
    )


# --------------------------------------------------------------------------- 2D shapes

# Adaptive quadrature of the entangled circles (scipy 1.17, quad everywhere with epsabs=0):
#   (a) polar coordinates about (0.4, 0.6): f(x) = g(x) + g(1 - x), so I = 2 * int g; the radial
#       integral split at rho = r and cut at the square's edge, epsrel=1e-13, the angular integral
#       split at the four corner angles, epsrel=1e-13 -> 0.013684776724937954 (err est. 1.5e-16);
#   (b) Cartesian nested quad of the full f, x2 split where it crosses either ring and at the
#       centres, x1 split at p1 +- r, 1 - p1 +- r, epsrel=1e-12 / 1e-11
#       -> 0.013684776724937956 (err est. 5.8e-14). tests/test_integrands.py redoes (b).
_CIRCLES_EXACT = 0.013684776724937955
_CIRCLES_ERROR = 1e-13  # the larger quadrature error estimate, rounded up


def entangled_circles() -> Integrand:
    """Two thin interlocking rings of radius 0.25, weighted towards opposite corners.

    ``f = x2^a exp(-w |(x2-p2)^2 + (x1-p1)^2 - r^2|) + (1-x2)^a exp(-w |(x2-1+p2)^2 +
    (x1-1+p1)^2 - r^2|)`` with ``a = 3``, ``w = 1/0.004``, ``r = 0.25``, ``p1 = 0.4``,
    ``p2 = 0.6``: the rings are about 0.016 wide, so most of the square contributes nothing.

    Returns:
        The 2D :class:`Integrand` ``"entangled-circles"`` (no exact sampler).

    References:
        C. Gao, J. Isaacson, C. Krause, arXiv:2001.05486 (integral 0.0136848 quoted there).

    Example:
        >>> ec = entangled_circles()
        >>> round(ec.exact, 7), ec.dim
        (0.0136848, 2)
    """
    a, w, r, p1, p2 = 3.0, 1.0 / 0.004, 0.25, 0.4, 0.6

    def fn(x: Array) -> Array:
        x1, x2 = x[:, 0], x[:, 1]
        ring1 = np.exp(-w * np.abs((x2 - p2) ** 2 + (x1 - p1) ** 2 - r * r))
        ring2 = np.exp(-w * np.abs((x2 - 1.0 + p2) ** 2 + (x1 - 1.0 + p1) ** 2 - r * r))
        return x2**a * ring1 + (1.0 - x2) ** a * ring2

    return Integrand(
        name="entangled-circles",
        dim=2,
        fn=fn,
        exact=_CIRCLES_EXACT,
        exact_error=_CIRCLES_ERROR,
        reference="adaptive 2D quadrature (polar and Cartesian agree); matches 0.0136848 of "
        "arXiv:2001.05486",
    )


def annulus() -> Integrand:
    """The indicator of the ring ``0.2 < |x - (1/2, 1/2)| < 0.45``: flat, with sharp edges.

    The sharp edges stand in for phase-space cuts, which smooth flows and VEGAS grids can only
    approximate. The ring lies inside the square, so draws are uniform in the ring and each
    coordinate's marginal is proportional to the chord length through the ring.

    Returns:
        The 2D :class:`Integrand` ``"annulus"``, exact value ``pi (0.45^2 - 0.2^2)``.

    Example:
        >>> round(annulus().exact, 6)
        0.510509
    """
    r_in, r_out = 0.2, 0.45
    area = math.pi * (r_out**2 - r_in**2)

    def fn(x: Array) -> Array:
        rho2 = np.sum((x - 0.5) ** 2, axis=1)
        return ((rho2 > r_in**2) & (rho2 < r_out**2)).astype(np.float64)

    def sampler(size: int, rng: np.random.Generator) -> Array:
        size = require_sample_count(size)
        rho = np.sqrt(rng.uniform(r_in**2, r_out**2, size))
        phi = rng.uniform(0.0, 2.0 * math.pi, size)
        return np.column_stack([0.5 + rho * np.cos(phi), 0.5 + rho * np.sin(phi)])

    def disk_cdf(u: Array, rho: float) -> Array:
        # area of the disk of radius rho left of the vertical line at u (disk centred at 0)
        v = np.clip(u, -rho, rho)
        return v * np.sqrt(rho * rho - v * v) + rho * rho * (np.arcsin(v / rho) + math.pi / 2)

    def marginal_cdf(x: Array, i: int) -> Array:
        require_coordinate("annulus", i, 2)
        u = np.asarray(x, dtype=np.float64) - 0.5
        return (disk_cdf(u, r_out) - disk_cdf(u, r_in)) / area

    return Integrand(
        name="annulus",
        dim=2,
        fn=fn,
        exact=area,
        exact_error=0.0,
        reference="closed form pi (0.45^2 - 0.2^2), the area of the ring",
        sampler=sampler,
        marginal_cdf=marginal_cdf,
    )


# --------------------------------------------------------------------------- polynomial


def polynomial(dim: int = 18) -> Integrand:
    """The smooth, broad polynomial ``f(x) = sum_i (x_i - x_i^2)``, exact integral ``n / 6``.

    ``f / I`` is a mixture: pick a coordinate uniformly, draw it from Beta(2, 2) (density
    ``6 x (1 - x)``), draw the others uniformly; so a coordinate's marginal CDF is
    ``(3x^2 - 2x^3) / n + x (1 - 1/n)``.

    Args:
        dim: number of dimensions ``n >= 1`` (i-flow uses 18).

    Returns:
        The :class:`Integrand` ``"polynomial-<n>d"`` with exact sampler and marginal CDFs.

    References:
        C. Gao, J. Isaacson, C. Krause, arXiv:2001.05486.

    Example:
        >>> p = polynomial(18)
        >>> p.exact, p(np.full((1, 18), 0.5)).tolist()
        (3.0, [4.5])
    """
    n = require_dim(dim)

    def fn(x: Array) -> Array:
        return np.sum(x - x * x, axis=1)

    def sampler(size: int, rng: np.random.Generator) -> Array:
        size = require_sample_count(size)
        out = rng.random((size, n))
        which = rng.integers(0, n, size)
        out[np.arange(size), which] = rng.beta(2.0, 2.0, size)
        return out

    def marginal_cdf(x: Array, i: int) -> Array:
        require_coordinate(f"polynomial-{n}d", i, n)
        xx = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
        return (3.0 * xx**2 - 2.0 * xx**3) / n + xx * (1.0 - 1.0 / n)

    return Integrand(
        name=f"polynomial-{n}d",
        dim=n,
        fn=fn,
        exact=n / 6.0,
        exact_error=0.0,
        reference="closed form n/6; i-flow test function, arXiv:2001.05486",
        sampler=sampler,
        marginal_cdf=marginal_cdf,
    )
