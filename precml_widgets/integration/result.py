"""Typed results shared by every integrator: weighted events, iteration history, final estimate."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_array, require_real
from precml_widgets.errors import InvalidInputError

__all__ = ["IntegrationResult", "IterationRecord", "WeightedEvents", "mc_estimate"]

Array = npt.NDArray[np.float64]


def mc_estimate(weights: npt.ArrayLike) -> tuple[float, float]:
    """Monte Carlo estimate ``<w>`` and its standard error ``std(w) / sqrt(N)``.

    Example:
        >>> mc_estimate([1.0, 3.0])
        (2.0, 1.0)
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.size < 2:
        raise InvalidInputError(f"an estimate needs at least 2 weights, got {w.size}.")
    return float(w.mean()), float(w.std(ddof=1) / math.sqrt(w.size))


@dataclass(frozen=True)
class WeightedEvents:
    """Points drawn from a sampler's density ``q`` with weights ``w = f(x) / q(x)``.

    Attributes:
        x: ``(N, dim)`` points in the unit cube.
        weights: ``(N,)`` weights; their mean estimates the integral.
        density: ``(N,)`` the sampler's density ``q(x)`` at the points, when recorded.

    Example:
        >>> ev = WeightedEvents(np.zeros((4, 1)), np.array([1.0, 1.0, 2.0, 0.0]))
        >>> ev.unweighting_efficiency(), round(ev.relative_std, 3)
        (0.5, 0.816)
    """

    x: Array
    weights: Array
    density: Array | None = None

    def __post_init__(self) -> None:
        for field in ("x", "weights", "density"):  # lists become arrays, strings an error
            if field != "density" or self.density is not None:
                value = require_array(f"WeightedEvents.{field}", getattr(self, field), finite=False)
                object.__setattr__(self, field, value)
        shapes_ok = self.density is None or self.density.shape == self.weights.shape
        if self.x.ndim != 2 or self.weights.shape != (self.x.shape[0],) or not shapes_ok:
            raise InvalidInputError(
                f"WeightedEvents needs x of shape (N, dim) and weights of shape (N,); got "
                f"{self.x.shape} and {self.weights.shape}."
            )

    def __len__(self) -> int:
        return int(self.weights.size)

    @property
    def relative_std(self) -> float:
        """Standard deviation of the weights over their mean (0 for a perfect sampler)."""
        return float(self.weights.std(ddof=1) / self.weights.mean())

    def w_max(self, quantile: float | None = None) -> float:
        """Largest weight, or the given quantile of the weights (e.g. 0.999): a robust maximum."""
        if quantile is None:
            return float(self.weights.max())
        quantile = require_real("quantile", quantile, low=0.0, high=1.0, low_open=True)
        return float(np.quantile(self.weights, quantile))

    def unweighting_efficiency(self, quantile: float | None = None) -> float:
        """``<w> / w_max``: the fraction of events hit-or-miss unweighting keeps.

        Args:
            quantile: use this quantile of the weights as ``w_max`` instead of the largest
                weight (less sensitive to one extreme weight; events above it are overweight).
        """
        return float(self.weights.mean() / self.w_max(quantile))


@dataclass(frozen=True)
class IterationRecord:
    """One training or adaptation iteration.

    Attributes:
        calls: integrand calls used so far by this method (cumulative).
        estimate: the integral estimated from this iteration's events alone.
        error: its standard error.
        relative_std: standard deviation over mean of this iteration's weights.
        loss: the training loss (NaN for VEGAS).
    """

    calls: int
    estimate: float
    error: float
    relative_std: float
    loss: float = math.nan


@dataclass(frozen=True)
class IntegrationResult:
    """The outcome of one integration: estimate, cost and the events behind it.

    Attributes:
        method: e.g. ``"flow"``, ``"VEGAS+"``, ``"VEGAS"``.
        integrand: name of the integrand.
        estimate: the integral.
        error: its standard error.
        calls: ALL integrand calls spent, training or adaptation included.
        training_calls: the part of ``calls`` spent on training or adaptation.
        history: one record per iteration, training first.
        events: weighted events from the final sampler. For the flow they are the fresh events
            of the final estimate; for VEGAS they are drawn from its final adaptive map
            (extra calls, not part of ``calls``; see ``event_calls``).
        event_calls: integrand calls spent on ``events`` that are NOT in ``calls``.
        wall_time_s: wall-clock seconds for training and integration.
        warnings: caveats found by cheap checks of the run (e.g. iterations that disagree, a
            heavy weight tail); empty when none fired. They travel with the numbers.

    Example:
        >>> ev = WeightedEvents(np.zeros((2, 1)), np.array([0.9, 1.1]))
        >>> r = IntegrationResult("flow", "demo", 1.0, 0.1, 10, 8, (), ev, 0, 0.5)
        >>> round(r.pull(1.2), 6), r.relative_error
        (-2.0, 0.1)
    """

    method: str
    integrand: str
    estimate: float
    error: float
    calls: int
    training_calls: int
    history: tuple[IterationRecord, ...]
    events: WeightedEvents
    event_calls: int
    wall_time_s: float
    warnings: tuple[str, ...] = ()

    @property
    def relative_error(self) -> float:
        """``error / |estimate|``."""
        return float(self.error / abs(self.estimate))

    def pull(self, exact: float, exact_error: float = 0.0) -> float:
        """``(estimate - exact) / sqrt(error^2 + exact_error^2)``."""
        return float((self.estimate - exact) / math.hypot(self.error, exact_error))
