"""Posteriors on a grid over the free coefficients: exact and learned, compared and calibrated.

With a flat prior on the box, ``log p(C | data) = sum_j log p(x_j | C) + const`` on a regular grid
(the parameter space is 2-4 dimensional, so no MCMC is needed). Highest-posterior-density
regions come from sorting the grid cells; the credibility of a point is the posterior mass of
the cells denser than its own, so a region of level ``alpha`` covers the truth when that
credibility is below ``alpha`` (expected coverage, and simulation-based calibration ranks as in
S. Talts et al., arXiv:1804.06788).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_int, require_probability
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.density import event_density, require_events
from precml_widgets.inference.problem import EFTProblem

__all__ = ["GridPosterior", "exact_log_likelihood", "grid_posterior"]

Array = npt.NDArray[np.float64]
LogLikelihood = Callable[[Array, Array], Array]
# (grid points x events) entries of the log-likelihood evaluated at a time.
_BLOCK_ENTRIES = 1 << 20


def exact_log_likelihood(problem: EFTProblem) -> LogLikelihood:
    """``(features (n, 2), free (m, dim)) -> (m, n)`` exact per-event log densities
    ``log nu(x; C) - log sum_E N_E(C)``, normalised over the acceptance."""

    def log_prob(features: Array, free: Array) -> Array:
        x = require_events(problem.measurement, features)
        full = problem.full(np.atleast_2d(free))
        total = problem.measurement.expected_events(full).sum(axis=-1)
        return (
            np.log(np.atleast_2d(event_density(problem.measurement, x, full)))
            - np.log(total)[:, None]
        )

    return log_prob


@dataclass(frozen=True, eq=False)
class GridPosterior:
    """A posterior tabulated at the centres of a regular grid over the box.

    Attributes:
        problem: the :class:`EFTProblem`.
        axes: cell centres per free coefficient, each shape (n_grid,).
        probability: posterior mass per cell, shape (n_grid,) * dim, summing to 1.
        label: which likelihood it came from.
    """

    problem: EFTProblem
    axes: tuple[Array, ...]
    probability: Array
    label: str

    @property
    def cell_volume(self) -> float:
        """Volume of one grid cell in coefficient units^dim."""
        return float(np.prod([a[1] - a[0] for a in self.axes]))

    def region_volume(self, level: float) -> float:
        """Volume of the highest-posterior-density region of credibility ``level``."""
        p = np.sort(self.probability.ravel())[::-1]
        k = int(np.searchsorted(np.cumsum(p), require_probability("level", level))) + 1
        return min(k, p.size) * self.cell_volume

    def credibility(self, free: npt.ArrayLike) -> Array:
        """Posterior mass of the cells denser than the cell holding each point (m, dim): (m,)."""
        v = np.atleast_2d(np.asarray(free, dtype=np.float64))
        self.problem.full(v)  # a point outside the box (or NaN) has no cell: refused
        index = tuple(
            np.clip(np.rint((v[:, i] - a[0]) / (a[1] - a[0])).astype(int), 0, a.size - 1)
            for i, a in enumerate(self.axes)
        )
        flat = self.probability.ravel()
        order = np.sort(flat)
        cum_above = flat.sum() - np.cumsum(order)  # mass strictly denser than order[k]
        here = self.probability[index]
        return cum_above[np.searchsorted(order, here, side="right") - 1]

    def mean(self) -> Array:
        """Posterior mean of the free coefficients, shape (dim,)."""
        grids = np.meshgrid(*self.axes, indexing="ij")
        return np.array([float(np.sum(g * self.probability)) for g in grids])

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        """``n`` draws (n, dim): a cell by its mass, then uniform within it."""
        k = require_int("n", n, low=1)
        cells = rng.choice(self.probability.size, size=k, p=self.probability.ravel())
        index = np.unravel_index(cells, self.probability.shape)
        widths = np.array([a[1] - a[0] for a in self.axes])
        centres = np.column_stack([a[i] for a, i in zip(self.axes, index, strict=True)])
        return centres + (rng.random((k, len(self.axes))) - 0.5) * widths


def grid_posterior(
    problem: EFTProblem,
    log_likelihood: LogLikelihood,
    features: npt.ArrayLike,
    *,
    n_grid: int = 41,
    label: str = "",
) -> GridPosterior:
    """The posterior of the free coefficients given events ``features``, flat prior on the box.

    Args:
        problem: the :class:`EFTProblem`.
        log_likelihood: per-event log densities, e.g. :func:`exact_log_likelihood` or
            :meth:`NeuralLikelihood.log_prob <precml_widgets.inference.NeuralLikelihood>`.
        features: the data set (N, 2).
        n_grid: cells per coefficient (n_grid^dim evaluations of N events, in blocks of
            about 2^20 (point, event) pairs; only the per-point sums are kept).
        label: what to call it.

    Raises:
        InvalidInputError: the summed log-likelihood is finite at no grid point (e.g. a
            learned likelihood returning NaN), naming ``label``. Points where it alone is
            NaN get zero posterior mass.
    """
    n = require_int("n_grid", n_grid, low=3)
    axes = tuple(
        lo + (hi - lo) * (np.arange(n) + 0.5) / n
        for lo, hi in zip(problem.lower, problem.upper, strict=True)
    )
    points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, problem.dim)
    x = np.asarray(features, dtype=np.float64)
    # Blocks of grid points, keeping only each point's sum over the events: a 4-D grid of
    # 41^4 points never holds the whole (points x events) matrix.
    per = max(1, _BLOCK_ENTRIES // max(x.shape[0] if x.ndim else 1, 1))
    log_post = np.empty(points.shape[0])
    for start in range(0, points.shape[0], per):
        block = points[start : start + per]
        log_post[start : start + per] = np.sum(log_likelihood(x, block), axis=1)
    finite = np.isfinite(log_post)
    if not np.any(finite):
        raise InvalidInputError(
            f"the log-likelihood {label or '(unlabelled)'!r} is not finite (NaN or -inf) at any "
            f"of the {points.shape[0]} grid points for these {len(x)} events; check that the "
            "likelihood was trained on this problem and that the events lie in its support."
        )
    log_post = np.where(finite, log_post, -np.inf)
    p = np.exp(log_post - log_post.max())
    return GridPosterior(problem, axes, (p / p.sum()).reshape((n,) * problem.dim), label)
