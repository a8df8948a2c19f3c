"""A guard against silently wrong integrals: independent estimates of one integral must agree.

A Monte Carlo error only measures the spread of the weights where the sampler looked; a region
that no point ever reached (a peak the flow never found) leaves no trace in it. A 12D Camel
whose flow found one of its two peaks gives ``0.495 +- 0.0008`` for an exact ``0.990``, with
excellent weight diagnostics. What does notice is a second, independent opinion: flows trained
from other seeds find the other peak, or both, and VEGAS+ (a different algorithm, with a
stratified, factorised grid that tends to put density on every peak of every axis) finds
both. The guard therefore asks all of them for the same number: the estimates must be
compatible with one common value at the 3 sigma level (two-sided p = 0.0027), which for two
estimates is ``|a - b| < 3 sqrt(s_a^2 + s_b^2)``.

Flows from different seeds may each find a *different* one of two equal peaks and still agree
on half the integral; so one more voice pools every sampler's events into one multi-channel
estimate (the balance heuristic, :func:`mixture_estimate`), which sees every peak that any
sampler found. The guard cannot see a region that every sampler misses.

References:
    Heimel et al., "MadNIS", arXiv:2212.06172 (several channels / samplers as a safeguard);
    Lepage, "Adaptive multidimensional integration: VEGAS enhanced", arXiv:2009.05112.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt
from scipy import stats

from precml_widgets._checks import require_probability, require_real
from precml_widgets.errors import InvalidInputError, PrecmlError
from precml_widgets.integration.result import WeightedEvents

__all__ = ["THREE_SIGMA", "Agreement", "UnreliableResultError", "agreement", "mixture_estimate"]

#: Two-sided tail probability of 3 standard deviations (the guard's false-alarm rate).
THREE_SIGMA = float(2 * stats.norm.sf(3.0))


class UnreliableResultError(PrecmlError, RuntimeError):
    """A comparison was refused because independent estimates of the integral disagree."""


@dataclass(frozen=True)
class Agreement:
    """Whether independent estimates of one integral agree: a chi-square test of one value.

    Attributes:
        labels: who made each estimate, e.g. ``("flow", "flow (seed 2)", "VEGAS+")``.
        estimates: the estimates.
        errors: their standard errors (all > 0; see :func:`agreement`).
        level: flag when the test's p-value falls below this (default: 3 sigma, 0.0027).

    Example:
        >>> a = agreement({"flow": (0.495, 0.0008), "VEGAS+": (0.990, 0.01)})
        >>> a.flagged, round(a.max_pull, 1)
        (True, 49.3)
        >>> agreement({"flow": (0.99, 0.001), "VEGAS+": (0.985, 0.004)}).flagged
        False
    """

    labels: tuple[str, ...]
    estimates: tuple[float, ...]
    errors: tuple[float, ...]
    level: float = THREE_SIGMA

    @property
    def combined(self) -> float:
        """The inverse-variance weighted mean of the estimates."""
        w = [1 / e**2 for e in self.errors]
        return sum(wi * x for wi, x in zip(w, self.estimates, strict=True)) / sum(w)

    @property
    def chi2(self) -> float:
        """``sum((x_i - combined)^2 / s_i^2)``, chi-square with ``len - 1`` degrees of freedom."""
        mean = self.combined
        return sum(((x - mean) / e) ** 2 for x, e in zip(self.estimates, self.errors, strict=True))

    @property
    def p_value(self) -> float:
        """Probability of a chi-square at least this large if all estimates are right."""
        return float(stats.chi2.sf(self.chi2, len(self.estimates) - 1))

    @property
    def max_pull(self) -> float:
        """Largest ``|a - b| / sqrt(s_a^2 + s_b^2)`` over all pairs of estimates."""
        return max(self._pair_pulls(), key=lambda t: t[0])[0]

    @property
    def worst_pair(self) -> tuple[str, str]:
        """The two estimates that disagree most."""
        return max(self._pair_pulls(), key=lambda t: t[0])[1]

    def _pair_pulls(self) -> list[tuple[float, tuple[str, str]]]:
        items = list(zip(self.labels, self.estimates, self.errors, strict=True))
        return [
            (abs(xa - xb) / math.hypot(ea, eb), (la, lb))
            for (la, xa, ea), (lb, xb, eb) in combinations(items, 2)
        ]

    @property
    def flagged(self) -> bool:
        """True when the estimates are incompatible with one common value."""
        return self.p_value < self.level

    @property
    def message(self) -> str:
        """One sentence: agreement, or which estimates disagree and what that means."""
        values = ", ".join(
            f"{label} {x:.6g} ± {e:.2g}"
            for label, x, e in zip(self.labels, self.estimates, self.errors, strict=True)
        )
        if not self.flagged:
            return (
                f"{len(self.labels)} independent estimates agree (chi2 p = {self.p_value:.2g}; "
                f"{values})."
            )
        a, b = self.worst_pair
        return (
            f"WARNING: independent estimates of this integral disagree (chi2 p = "
            f"{self.p_value:.2g} < {self.level:.2g}; {a} and {b} differ by "
            f"{self.max_pull:.1f} sigma; {values}). At least one sampler missed part of the "
            "integrand (e.g. a peak it never found), and its error cannot show it: do not trust "
            "or compare these results; raise the budget or change the sampler."
        )


def agreement(estimates: dict[str, tuple[float, float]], level: float = THREE_SIGMA) -> Agreement:
    """Test whether independent ``{label: (estimate, error)}`` agree on one value.

    Args:
        estimates: at least two independent estimates with their standard errors (> 0).
        level: false-alarm probability of the test for correct estimates (default 3 sigma).

    Returns:
        The :class:`Agreement`.

    Raises:
        InvalidInputError: for fewer than two estimates, non-finite values or errors < 0.

    An error of 0 (a constant integrand sampled exactly) is floored at ``1e-12 |estimate|``,
    the round-off of a double-precision mean, so that exact agreement is not a disagreement.
    """
    if len(estimates) < 2:
        raise InvalidInputError(
            f"agreement needs at least two independent estimates, got {len(estimates)}."
        )
    level = require_probability("level", level, hint="e.g. THREE_SIGMA.")
    for label, (x, e) in estimates.items():
        require_real(f"estimate {label!r}", x)
        require_real(f"the error of estimate {label!r}", e, low=0.0)
    return Agreement(
        labels=tuple(estimates),
        estimates=tuple(float(x) for x, _ in estimates.values()),
        errors=tuple(max(float(e), 1e-12 * abs(x), 1e-300) for x, e in estimates.values()),
        level=level,
    )


def mixture_estimate(
    samples: dict[str, tuple[WeightedEvents, Callable[[npt.NDArray[np.float64]], np.ndarray]]],
) -> tuple[float, float]:
    """One estimate from the events of several samplers: multi-channel, balance heuristic.

    With ``n_k`` events ``x`` from each density ``q_k`` and ``N = sum n_k``, the estimate is
    ``I = (1/N) sum_all f(x) / q_mix(x)``, ``q_mix = sum_k (n_k/N) q_k``, unbiased wherever
    any ``q_k > 0``; its variance is ``(1/N^2) sum_k n_k Var_k[f/q_mix]`` (the samplers are
    independent strata). A peak that one sampler found and another missed enters at its full
    weight, so the estimate disagrees with samplers that missed it.

    Args:
        samples: ``{label: (events, density)}``; ``events`` carry the density they were drawn
            with (``events.density``), and ``density(x)`` evaluates that sampler's density at
            any points of the cube.

    Returns:
        ``(estimate, error)``.

    References:
        Kleiss, Pittau, "Weight optimization in multichannel Monte Carlo", hep-ph/9405257;
        Veach, Guibas, "Optimally combining sampling techniques", SIGGRAPH 1995.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.random((1000, 1))
        >>> ev = WeightedEvents(x, 2 * x[:, 0], density=np.ones(1000))  # f = 2x, q = 1
        >>> est, err = mixture_estimate({"a": (ev, lambda p: np.ones(len(p)))})
        >>> abs(est - 1.0) < 4 * err
        True
    """
    if not samples:
        raise InvalidInputError("mixture_estimate needs the events of at least one sampler.")
    for label, (events, _) in samples.items():
        if events.density is None or len(events) < 2:
            raise InvalidInputError(
                f"the events of {label!r} need their densities and at least 2 points."
            )
    total = sum(len(ev) for ev, _ in samples.values())
    estimate, variance = 0.0, 0.0
    for label, (events, _) in samples.items():
        q_mix = len(events) / total * events.density  # its own density, as it was drawn
        for other, (other_events, density) in samples.items():
            if other != label:
                q_mix = q_mix + len(other_events) / total * np.asarray(density(events.x))
        h = events.weights * events.density / q_mix  # f / q_mix
        estimate += float(h.sum()) / total
        variance += len(events) * float(h.var(ddof=1)) / total**2
    return estimate, math.sqrt(variance)
