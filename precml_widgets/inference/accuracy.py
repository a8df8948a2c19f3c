"""How well a learned ratio matches the exact one where it matters: on the exact contour."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_array
from precml_widgets.inference.density import require_events
from precml_widgets.inference.likelihood import ExactRatio, RatioModel
from precml_widgets.inference.problem import EFTProblem

__all__ = ["RatioAccuracy", "ratio_accuracy"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class RatioAccuracy:
    """``|r_learned - r_exact| / |r_exact - 1|`` pooled over events and coefficient points.

    The denominator is the size of the new-physics effect, so a ratio stuck at 1 scores 1
    everywhere and a perfect one 0.

    Attributes:
        median: median over all (point, event) pairs.
        p95: 95th percentile.
        n_points: coefficient points (on the exact contour, typically).
        n_events: held-out events.
        relative_error: the whole (n_points, n_events) array.
    """

    median: float
    p95: float
    n_points: int
    n_events: int
    relative_error: Array


def ratio_accuracy(
    problem: EFTProblem, learned: RatioModel, features: npt.ArrayLike, points: npt.ArrayLike
) -> RatioAccuracy:
    """Score ``learned`` against the exact ratio on held-out ``features`` at ``points``.

    Args:
        problem: the :class:`EFTProblem`.
        learned: any :class:`~precml_widgets.inference.RatioModel`.
        features: held-out events (n, 2), never used in training: m in GeV, cos theta.
        points: free-coefficient vectors (m, dim) inside the box, e.g. the boundary of the
            exact 95 % region (:attr:`Region.boundary <precml_widgets.inference.Region>`).

    Returns:
        The :class:`RatioAccuracy`.
    """
    x = require_events(problem.measurement, features)
    full = problem.full(require_array("points", points, ndim=2))
    exact = ExactRatio(problem.measurement)(x, full)
    with np.errstate(divide="ignore"):
        rel = np.abs(learned(x, full) - exact) / np.abs(exact - 1.0)
    rel = np.where(np.isfinite(rel), rel, np.nan)
    return RatioAccuracy(
        float(np.nanmedian(rel)), float(np.nanpercentile(rel, 95)), len(full), len(x), rel
    )
