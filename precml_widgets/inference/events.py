"""Exact events of a measurement, drawn by inverse-CDF sampling (and smeared when stated).

At a fixed energy the Born angular density is ``a (1 + c)^2 + b (1 - c)^2`` (``a``, ``b`` from
the helicity amplitudes with the contact terms), a two-component mixture whose component CDFs
are cubics with closed-form inverses. Smeared configurations draw the true angle over
[-1, 1], smear angle and mass (:mod:`~precml_widgets.inference.smearing`), and keep the events
inside the acceptance, drawing more until each energy has its count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_int
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.measurement import Measurement
from precml_widgets.inference.smeft import WILSON_COEFFICIENTS, require_coefficients, shape_terms

__all__ = ["EventSample", "sample_events", "simulate_one_each"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class EventSample:
    """Events of a :class:`Measurement`.

    Attributes:
        mass: the observed dimuon mass, GeV, shape (n,); the energy itself without smearing.
        cos_theta: the observed cos theta of the mu-, inside the acceptance, shape (n,).
        energy: the true centre-of-mass energy of each event, GeV (generator truth).
        coefficients: the Wilson coefficients they were drawn at, shape (4,).
        expected: the expected number of accepted events at those coefficients.
    """

    mass: Array
    cos_theta: Array
    energy: Array
    coefficients: Array
    expected: float

    @property
    def features(self) -> Array:
        """The events as one array of shape (n, 2), with columns m in GeV and cos theta."""
        return np.column_stack([self.mass, self.cos_theta])

    def __len__(self) -> int:
        return int(self.mass.size)


def _inverse_cdf(u: Array, same: npt.NDArray[np.bool_], a: float) -> Array:
    """Draws in [-a, a] from ``(1 + c)^2`` where ``same``, else from ``(1 - c)^2``."""
    lo, hi = (1.0 - a) ** 3, (1.0 + a) ** 3
    root = np.cbrt(lo + u * (hi - lo))
    return np.where(same, root - 1.0, 1.0 - root)


def _draw_energy(
    measurement: Measurement, p_same: float, energy: float, count: int, rng: np.random.Generator
) -> tuple[Array, Array]:
    """``count`` accepted (mass, cos) at one energy."""
    smearing = measurement.smearing
    if smearing is None:
        same = rng.random(count) < p_same
        return np.full(count, energy), _inverse_cdf(rng.random(count), same, measurement.cos_max)
    masses, cosines, have = [], [], 0
    while have < count:
        k = int(1.2 * (count - have)) + 16
        same = rng.random(k) < p_same
        theta = np.arccos(_inverse_cdf(rng.random(k), same, 1.0))
        cos = np.cos(theta + smearing.angle_rad * rng.standard_normal(k))
        mass = energy * (1.0 + smearing.mass_rel * rng.standard_normal(k))
        keep = np.abs(cos) <= measurement.cos_max
        masses.append(mass[keep])
        cosines.append(cos[keep])
        have += int(keep.sum())
    return np.concatenate(masses)[:count], np.concatenate(cosines)[:count]


def sample_events(
    measurement: Measurement,
    coefficients: npt.ArrayLike,
    rng: np.random.Generator,
    *,
    n_events: int | None = None,
) -> EventSample:
    """Exact events of ``measurement`` at ``coefficients``.

    Args:
        measurement: the :class:`Measurement`.
        coefficients: the four Wilson coefficients, shape (4,).
        rng: the random generator (seed it).
        n_events: ``None`` draws a pseudo-experiment (Poisson counts at each energy); an
            integer draws exactly that many events, shared among the energies
            multinomially in proportion to the expected counts (a training sample).

    Returns:
        The :class:`EventSample`, energies in increasing order.
    """
    c = require_coefficients("coefficients", coefficients)
    if c.shape != (len(WILSON_COEFFICIENTS),):
        raise InvalidInputError(f"coefficients must have shape (4,), got {c.shape}.")
    expected = measurement.expected_events(c)
    if not np.all(expected > 0.0):
        raise InvalidInputError(f"coefficients {c} give no events at some energy.")
    if n_events is None:
        counts = rng.poisson(expected)
    else:
        n = require_int("n_events", n_events, low=1, hint="e.g. 100000.")
        counts = rng.multinomial(n, expected / expected.sum())
    sm, lin, quad = shape_terms(measurement.energies, lambda_gev=measurement.lambda_gev)
    strength = sm + np.sum(lin * c + quad * c * c, axis=-1)  # (E, 2): same, opposite
    parts = [
        _draw_energy(measurement, float(s[0] / s.sum()), float(e), int(k), rng)
        for e, k, s in zip(measurement.energies, counts, strength, strict=True)
    ]
    energy = np.repeat(measurement.energies, counts)
    mass = np.concatenate([p[0] for p in parts])
    cos = np.concatenate([p[1] for p in parts])
    return EventSample(mass, cos, energy, c.copy(), float(expected.sum()))


def simulate_one_each(
    measurement: Measurement, coefficients: npt.ArrayLike, rng: np.random.Generator
) -> Array:
    """One accepted event for each coefficient vector: the simulator of likelihood-free
    inference, vectorised over ``coefficients`` (n, 4).

    The energy is drawn from the accepted expected counts at that ``C``, then the angle (and,
    smeared, the mass) as in :func:`sample_events`: the event follows the normalised
    per-event density ``nu(x; C) / sum nu``.

    Returns:
        The events, shape (n, 2), with columns m in GeV and cos theta.
    """
    c = require_coefficients("coefficients", coefficients)
    if c.ndim != 2:
        raise InvalidInputError(f"coefficients must have shape (n, 4), got {c.shape}.")
    expected = measurement.expected_events(c)  # (n, E)
    if not np.all(expected > 0.0):
        raise InvalidInputError("some coefficient vectors give no events at some energy.")
    cum = np.cumsum(expected / expected.sum(axis=1, keepdims=True), axis=1)
    index = np.minimum((rng.random(len(c))[:, None] > cum).sum(axis=1), cum.shape[1] - 1)
    energy = measurement.energies[index]
    sm, lin, quad = shape_terms(energy, lambda_gev=measurement.lambda_gev)
    strength = sm + np.sum(lin * c[:, None, :] + quad * (c * c)[:, None, :], axis=-1)
    p_same = strength[:, 0] / strength.sum(axis=1)
    smearing = measurement.smearing
    if smearing is None:
        same = rng.random(len(c)) < p_same
        return np.column_stack(
            [energy, _inverse_cdf(rng.random(len(c)), same, measurement.cos_max)]
        )
    out = np.empty((len(c), 2))
    todo = np.arange(len(c))
    while todo.size:  # redraw the events smeared out of the acceptance
        k = todo.size
        same = rng.random(k) < p_same[todo]
        theta = np.arccos(_inverse_cdf(rng.random(k), same, 1.0))
        cos = np.cos(theta + smearing.angle_rad * rng.standard_normal(k))
        mass = energy[todo] * (1.0 + smearing.mass_rel * rng.standard_normal(k))
        keep = np.abs(cos) <= measurement.cos_max
        out[todo[keep]] = np.column_stack([mass[keep], cos[keep]])
        todo = todo[~keep]
    return out
