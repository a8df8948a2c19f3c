"""Confidence regions of an expected ``-2 ln lambda``: boundaries along rays, areas, 1-D limits.

The expected regions are centred on the Standard Model (``q(0) = 0``). Along each direction
``u`` from the origin the boundary is the first ``t`` with ``q(t u) = q_cl``, found by a scan
and vectorised bisection; the region's volume is then ``V_unit mean_u t(u)^dim`` over
directions spread evenly on the unit sphere (evenly spaced angles in 2-D), far more accurate for
the thin regions of near-flat directions than counting grid cells. This assumes the region is
star-shaped around the Standard Model: where ``q`` falls below ``q_cl`` again farther out along
a ray (a second, disconnected or curved-away part), the ray is flagged in
:attr:`Region.reentrant` and the volume misses that part; draw such regions from a grid
(:func:`~precml_widgets.inference.study.q_grid`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from precml_widgets._checks import require_int, require_probability
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.likelihood import ExpectedQ

__all__ = ["Region", "expected_region", "one_parameter_limits", "unit_directions"]

Array = npt.NDArray[np.float64]
# Points of the coarse scan along each ray, and bisection steps after it.
_N_SCAN = 64
_N_BISECT = 40


@dataclass(frozen=True, eq=False)
class Region:
    """An expected confidence region around the Standard Model.

    Attributes:
        label: the likelihood it comes from.
        cl: confidence level; ``threshold`` = chi2 quantile for ``dim`` degrees of freedom.
        threshold: the ``q`` on the boundary.
        directions: unit vectors, shape (n, dim).
        radii: distance to the boundary along each direction, shape (n,).
        clipped: where the region reaches the box instead (radius = distance to the box).
        reentrant: where ``q`` falls below the threshold again beyond the boundary (seen on
            the ray's coarse scan): the region is not star-shaped there and ``volume`` misses
            the part beyond.
        volume: the region's area (dim 2) or volume, in coefficient units^dim.
        q_at_origin: ``q`` at the Standard Model, 0 for the exact likelihood; at or above
            ``threshold`` the likelihood excludes the point its expected data come from (a
            badly learned ratio), and the region is empty (all radii 0): see
            :attr:`excludes_origin`.
    """

    label: str
    cl: float
    threshold: float
    directions: Array
    radii: Array
    clipped: npt.NDArray[np.bool_]
    reentrant: npt.NDArray[np.bool_]
    volume: float
    q_at_origin: float

    @property
    def excludes_origin(self) -> bool:
        """Whether ``q`` at the Standard Model is already beyond the threshold."""
        return not self.q_at_origin < self.threshold

    @property
    def boundary(self) -> Array:
        """Boundary points ``radii * directions``, shape (n, dim)."""
        return self.radii[:, None] * self.directions


def unit_directions(dim: int, n: int) -> Array:
    """``n`` unit vectors spread evenly, shape (n, dim): angles ``2 pi (k + 1/2) / n`` in 2-D;
    above, a scrambled Sobol sequence (seed 0) mapped through the normal quantile and
    normalised onto the sphere (quasi-random, not a Fibonacci lattice)."""
    if dim == 1:
        return np.array([[1.0], [-1.0]])
    if dim == 2:
        phi = 2.0 * np.pi * (np.arange(n) + 0.5) / n
        return np.column_stack([np.cos(phi), np.sin(phi)])
    z = stats.norm.ppf(stats.qmc.Sobol(dim, scramble=True, seed=0).random(n))
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def _require_sm_inside(q: ExpectedQ) -> None:
    """Refuse a box that does not contain the Standard Model (the rays start there)."""
    lo, hi = q.problem.lower, q.problem.upper
    if np.any(lo > 0.0) or np.any(hi < 0.0):
        raise InvalidInputError(
            f"the box of {q.problem.free} ({q.problem.low} to {q.problem.high}) does not "
            "contain the Standard Model (all coefficients 0): expected regions are centred on "
            "the SM; widen the box so that lower <= 0 <= upper for every coefficient."
        )


def _box_distance(q: ExpectedQ, directions: Array) -> Array:
    """Distance from the origin to the box along each direction (the box contains 0)."""
    lo, hi = q.problem.lower, q.problem.upper
    with np.errstate(divide="ignore"):
        t = np.where(
            directions > 0, hi / directions, np.where(directions < 0, lo / directions, np.inf)
        )
    return np.min(t, axis=1)


def _radii(q: ExpectedQ, directions: Array, threshold: float) -> tuple[Array, Array, Array]:
    """First crossing of ``threshold`` along each direction, whether none was found, and
    whether the scan falls below the threshold again after the first crossing."""
    t_max = _box_distance(q, directions)
    fractions = np.linspace(0.0, 1.0, _N_SCAN + 1)[1:]
    ts = t_max[:, None] * fractions[None, :]
    values = q.evaluate((ts[..., None] * directions[:, None, :]).reshape(-1, directions.shape[1]))
    above = values.reshape(ts.shape) >= threshold
    clipped = ~np.any(above, axis=1)
    first = np.argmax(above, axis=1)
    beyond = np.arange(_N_SCAN)[None, :] > first[:, None]
    reentrant = ~clipped & np.any(beyond & ~above, axis=1)
    hi = np.where(clipped, t_max, ts[np.arange(len(ts)), first])
    lo = np.where(first > 0, ts[np.arange(len(ts)), np.maximum(first - 1, 0)], 0.0)
    lo = np.where(clipped, t_max, lo)
    for _ in range(_N_BISECT):
        mid = 0.5 * (lo + hi)
        inside = q.evaluate(mid[:, None] * directions) < threshold
        lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
    return 0.5 * (lo + hi), clipped, reentrant


def expected_region(q: ExpectedQ, *, cl: float = 0.95, n_directions: int = 1024) -> Region:
    """The expected ``cl`` region of ``q`` (Wilks: chi2 with ``dim`` degrees of freedom).

    Args:
        q: an :class:`ExpectedQ` (exact, learned or binned).
        cl: confidence level in (0, 1).
        n_directions: rays from the Standard Model.

    Returns:
        The :class:`Region` with its boundary and volume.

    Raises:
        InvalidInputError: the box does not contain the Standard Model.

    Example:
        >>> from precml_widgets.inference import default_problem, exact_expected_q
        >>> region = expected_region(exact_expected_q(default_problem()), n_directions=256)
        >>> round(region.volume, 3)  # in (C_ll^(1122), C_le^(1122)), at Lambda = 1 TeV
        0.049
    """
    level = require_probability("cl", cl)
    n = require_int("n_directions", n_directions, low=8)
    _require_sm_inside(q)
    dim = q.problem.dim
    threshold = float(stats.chi2.ppf(level, dim))
    directions = unit_directions(dim, n)
    radii, clipped, reentrant = _radii(q, directions, threshold)
    q0 = float(q.evaluate(np.zeros((1, dim)))[0])
    if not q0 < threshold:  # the origin itself is outside: no region around it
        radii = np.zeros_like(radii)
    unit_volume = math.pi ** (dim / 2) / special.gamma(dim / 2 + 1)
    volume = float(unit_volume * np.mean(radii**dim))
    return Region(q.label, level, threshold, directions, radii, clipped, reentrant, volume, q0)


def one_parameter_limits(q: ExpectedQ, *, cl: float = 0.95) -> dict[str, tuple[float, float]]:
    """Expected limits on each free coefficient with the others at 0 (1 degree of freedom).

    Returns:
        ``{name: (lower, upper)}``; a limit that reaches the box is the box edge.

    Raises:
        InvalidInputError: the box does not contain the Standard Model.
    """
    level = require_probability("cl", cl)
    _require_sm_inside(q)
    threshold = float(stats.chi2.ppf(level, 1))
    dim = q.problem.dim
    directions = np.concatenate([np.eye(dim), -np.eye(dim)])
    radii, _, _ = _radii(q, directions, threshold)
    return {
        name: (-float(radii[dim + i]), float(radii[i])) for i, name in enumerate(q.problem.free)
    }
