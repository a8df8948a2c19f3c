"""The integrand type: a non-negative function on the unit hypercube with its known integral.

Every integrand is an :class:`Integrand`: a vectorised function on ``[0, 1]^dim``, its exact
integral with the uncertainty of that number, a one-line note on how the number is known, and,
where one exists, an exact sampler of ``f / I`` and the exact CDF of each coordinate, so that a
sampler (a normalizing flow, VEGAS) can be checked against the truth, not only its integral.
The toy integrands live in :mod:`~precml_widgets.integration.toys`, the physics integrand in
:mod:`~precml_widgets.integration.ee_mumu`, the benchmark registry in
:mod:`~precml_widgets.integration.suite`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_int, require_real
from precml_widgets.errors import InvalidInputError

__all__ = [
    "Array",
    "Integrand",
    "MarginalCdf",
    "Sampler",
    "require_coordinate",
    "require_dim",
    "require_sample_count",
]

#: Float64 arrays of points ``(N, dim)`` or of values ``(N,)``.
Array = npt.NDArray[np.float64]
#: ``sampler(n, rng)`` -> ``(n, dim)`` exact draws from ``f / I``.
Sampler = Callable[[int, np.random.Generator], Array]
#: ``marginal_cdf(x, i)`` -> the exact CDF of coordinate ``i`` at the values ``x``.
MarginalCdf = Callable[[Array, int], Array]


@dataclass(frozen=True)
class Integrand:
    """A non-negative function on the unit hypercube, usually with a known integral.

    Attributes:
        name: short identifier, e.g. ``"camel-4d"``.
        dim: number of dimensions ``n`` of the cube ``[0, 1]^n``.
        fn: the raw vectorised function, ``(N, dim)`` float64 points -> ``(N,)`` values ``>= 0``.
        exact: the integral of ``fn`` over ``[0, 1]^dim``, or ``None`` when it is not known
            (a user's own integrand; then no pull can be computed).
        exact_error: absolute uncertainty of ``exact`` (0.0 for closed forms).
        reference: one line saying how ``exact`` is known.
        sampler: ``sampler(n, rng)`` returns ``(n, dim)`` exact i.i.d. draws from ``fn / exact``,
            or ``None`` when no exact sampler is available.
        marginal_cdf: ``marginal_cdf(x, i)`` is the exact CDF of coordinate ``i`` of
            ``fn / exact`` at the values ``x`` in ``[0, 1]``, or ``None``.

    Example:
        >>> from precml_widgets.integration.toys import gauss
        >>> g = gauss(2)
        >>> g.name, g.dim, round(g.exact, 6)
        ('gauss-2d', 2, 0.999186)
        >>> g(np.array([[0.5, 0.5]])).round(4)  # (alpha sqrt(pi))^-2 at the peak
        array([7.9577])
    """

    name: str
    dim: int
    fn: Callable[[Array], Array]
    exact: float | None
    exact_error: float
    reference: str
    sampler: Sampler | None = None
    marginal_cdf: MarginalCdf | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInputError(
                f"Integrand name must be a non-empty string, got {self.name!r}; e.g. 'camel-4d'."
            )
        require_dim(self.dim, f"dim of integrand '{self.name}'")
        if not callable(self.fn):
            raise InvalidInputError(
                f"fn of integrand '{self.name}' must be callable (points (N, dim) -> values (N,)), "
                f"got {type(self.fn).__name__}."
            )
        for field, value in (("exact", self.exact), ("exact_error", self.exact_error)):
            if field == "exact" and value is None:
                continue
            require_real(
                f"{field} of integrand '{self.name}'",
                value,
                low=0.0,
                hint="the integral of a non-negative function cannot be negative.",
            )

    def __call__(self, x: npt.ArrayLike) -> Array:
        """Evaluate the integrand on a batch of points.

        Args:
            x: points in the unit cube, shape ``(N, dim)``. A single point must be passed as
                ``(1, dim)``: a bare ``(dim,)`` vector is rejected, so that a batch of ``dim``
                one-dimensional points is never mistaken for one point.

        Returns:
            The values ``f(x)``, float64, shape ``(N,)``.

        Raises:
            InvalidInputError: if ``x`` is not ``(N, dim)``, not numeric, or has points outside
                ``[0, 1]^dim`` (or NaN).
        """
        try:
            pts = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"points for integrand '{self.name}' must be numeric, but converting them to "
                f"float64 failed ({exc}); pass an array of shape (N, {self.dim})."
            ) from exc
        if pts.ndim != 2 or pts.shape[1] != self.dim:
            raise InvalidInputError(
                f"points for integrand '{self.name}' must have shape (N, {self.dim}), got "
                f"{pts.shape}; pass one point as x.reshape(1, {self.dim}) and a batch as (N, "
                f"{self.dim})."
            )
        inside = (pts >= 0.0) & (pts <= 1.0)
        if not inside.all():
            n_bad = int(np.count_nonzero(~inside.all(axis=1)))
            raise InvalidInputError(
                f"points for integrand '{self.name}' must lie in the unit cube [0, 1]^{self.dim}, "
                f"but {n_bad} of {pts.shape[0]} are outside it or NaN; map your samples to the "
                f"cube (np.clip for round-off) before evaluating."
            )
        return np.asarray(self.fn(pts), dtype=np.float64).reshape(pts.shape[0])


def require_dim(dim: object, what: str = "dim") -> int:
    """``dim`` as an ``int >= 1`` (a number of dimensions), or :class:`InvalidInputError`.

    Args:
        dim: the number of dimensions given.
        what: how the message names it, e.g. ``"dim of integrand 'camel-4d'"``.
    """
    return require_int(what, dim, low=1, hint="pass the number of dimensions, e.g. 4.")


def require_sample_count(n: object) -> int:
    """``n`` as an ``int >= 0``: the number of samples a sampler is asked for."""
    return require_int("n (number of samples)", n, low=0)


def require_coordinate(name: str, i: object, dim: int) -> int:
    """``i`` as a coordinate index ``0 <= i < dim`` of the integrand ``name``."""
    return require_int(f"coordinate index i of integrand '{name}'", i, low=0, high=dim - 1)
