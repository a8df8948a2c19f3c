"""One call-counting, value-checking wrapper around an integrand, shared by every integrator."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_int
from precml_widgets.errors import InvalidInputError

__all__ = ["CountingIntegrand", "IntegrandValueError", "require_nonzero"]

Array = npt.NDArray[np.float64]


class IntegrandValueError(InvalidInputError):
    """The integrand returned NaN, inf, negative values or the wrong shape."""


class CountingIntegrand:
    """Wrap ``f(x)`` so that every evaluated point is counted and every value is checked.

    Neural importance sampling and VEGAS both call the SAME wrapper, so "equal integrand calls"
    is a measured fact, not a promise: :attr:`calls` is the number of points evaluated.

    Args:
        fn: vectorised integrand, ``(N, dim)`` float64 points in ``[0, 1]^dim`` -> ``(N,)``
            values ``>= 0``.
        dim: dimension of the unit cube.
        name: shown in error messages.

    Raises:
        IntegrandValueError: (on call) when ``fn`` returns NaN, inf, negative values or an array
            of the wrong shape; the message names the integrand and the first offending point.
        InvalidInputError: (on call) when the points do not have shape ``(N, dim)``.

    Example:
        >>> f = CountingIntegrand(lambda x: x.sum(axis=1), dim=2, name="sum")
        >>> f(np.full((5, 2), 0.5)).tolist(), f.calls, f.batches
        ([1.0, 1.0, 1.0, 1.0, 1.0], 5, 1)
    """

    def __init__(self, fn: Callable[[Array], Array], dim: int, name: str = "integrand") -> None:
        self.fn = fn
        self.dim = require_int(f"dim of '{name}'", dim, low=1)
        self.name = name
        self.calls = 0
        self.batches = 0

    def __call__(self, x: npt.ArrayLike) -> Array:
        """Evaluate the integrand on ``(N, dim)`` points, count them and check the values."""
        points = np.asarray(x, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != self.dim:
            raise InvalidInputError(
                f"'{self.name}' is a {self.dim}-dimensional integrand and expects points of "
                f"shape (N, {self.dim}); got shape {points.shape}. Check the dimension of the "
                "sampler or integrator you connected to it."
            )
        values = np.asarray(self.fn(points), dtype=np.float64)
        self.calls += points.shape[0]
        self.batches += 1
        if values.shape != (points.shape[0],):
            raise IntegrandValueError(
                f"'{self.name}' returned an array of shape {values.shape} for {points.shape[0]} "
                f"points; expected shape ({points.shape[0]},): one value per point."
            )
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            kind = "a negative value" if np.isfinite(values[i]) else "a non-finite value"
            raise IntegrandValueError(
                f"'{self.name}' returned {kind} ({values[i]!r}) at x = {points[i].tolist()} "
                f"({int(bad.sum())} of {points.shape[0]} points are NaN, inf or negative). "
                "Importance sampling needs a finite integrand f(x) >= 0 on the whole unit cube: "
                "fix the function (e.g. guard divisions and logarithms at the cube's edges) or "
                "integrate the positive and negative parts separately."
            )
        return values

    def reset(self) -> None:
        """Set the call and batch counters back to zero."""
        self.calls = 0
        self.batches = 0


def require_nonzero(weights: Array, name: str) -> None:
    """Raise :class:`IntegrandValueError` when every weight is zero (no estimate is possible).

    Example:
        >>> require_nonzero(np.array([0.0, 2.0]), "f")
    """
    if weights.size and not np.any(weights > 0):
        raise IntegrandValueError(
            f"'{name}' is zero at all {weights.size} sampled points, so neither an integral "
            "(other than 0 +- 0) nor weights can be estimated. Check that the integrand's "
            "support overlaps the unit cube (map your variables onto [0, 1]^dim) or raise the "
            "number of calls if the support is tiny."
        )
