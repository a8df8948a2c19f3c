"""Exact events of the SMEFT measurement against distributions computed independently.

The truths: the closed-form CDF of ``a (1 + c)^2 + b (1 - c)^2`` with ``a``, ``b`` from the
independent F_XY formula of ``test_inference_physics``, Poisson statistics of the counts, an
accept-reject sampler written here (compared through ``classifier_check``), and, for the smeared
configuration, the smeared CDF and acceptance from Gaussian CDFs over accepted arcs.

False alarms: each statistical assertion states its own rate; all are seeded, so a passing
run passes every time.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy import special, stats
from test_inference_physics import (
    accepted_probability,
    independent_dsigma_pb,
    independent_strengths,
)

from precml_widgets.errors import InvalidInputError
from precml_widgets.inference import (
    LEP2,
    LEP2_SMEARED,
    Measurement,
    Smearing,
    accepted_shape_integrals,
    sample_events,
)
from precml_widgets.stats import classifier_check

Array = npt.NDArray[np.float64]
AWAY_FROM_SM = np.array([0.8, 0.0, -0.8, 0.0])  # LL up, e_L mu_R down: a forward shift


def exact_cdf(x: Array, energy: float, coefficients: Array, cos_max: float) -> Array:
    """Closed-form CDF on [-a, a] of ``a (1 + c)^2 + b (1 - c)^2`` (independent formula)."""
    same, opposite = independent_strengths(energy, coefficients)
    lo, hi = (1.0 - cos_max) ** 3, (1.0 + cos_max) ** 3
    below = same * ((1.0 + x) ** 3 - lo) + opposite * (hi - (1.0 - x) ** 3)
    return below / ((same + opposite) * (hi - lo))


def independent_expected(measurement: Measurement, coefficients: Array) -> Array:
    """Expected accepted events per energy, unsmeared: L (a + b) ((1 + A)^3 - (1 - A)^3) / 3."""
    same, opposite = independent_strengths(measurement.energies, coefficients)
    a = measurement.cos_max
    return measurement.luminosities * (same + opposite) * (2 * a + 2 * a**3 / 3)


def accept_reject(
    energy: float, coefficients: Array, n: int, cos_max: float, rng: np.random.Generator
) -> Array:
    """``n`` draws of cos theta on [-cos_max, cos_max] from the independent dsigma/dcos."""
    ends = independent_dsigma_pb(energy, np.array([-cos_max, cos_max]), coefficients)
    bound = float(np.max(ends))  # a sum of (1 +- c)^2 with positive weights: max at an end
    out: list[Array] = []
    have = 0
    while have < n:
        c = rng.uniform(-cos_max, cos_max, 2 * n)
        keep = c[rng.uniform(0.0, bound, c.size) < independent_dsigma_pb(energy, c, coefficients)]
        out.append(keep)
        have += keep.size
    return np.concatenate(out)[:n]


@pytest.mark.parametrize("coefficients", [np.zeros(4), AWAY_FROM_SM])
def test_unsmeared_events_follow_the_exact_cdf(coefficients: Array) -> None:
    """KS per energy against the closed-form CDF. False alarm: p < 1e-4 at 4 energies, 2
    coefficient points: at most 8e-4 for the whole test."""
    events = sample_events(LEP2, coefficients, np.random.default_rng(10), n_events=40_000)
    assert len(events) == 40_000
    assert np.array_equal(events.mass, events.energy)  # unsmeared: m is sqrt(s)
    assert np.all(np.abs(events.cos_theta) <= LEP2.cos_max)
    assert np.all(np.diff(events.energy) >= 0.0)
    assert events.features.shape == (40_000, 2)
    for energy in LEP2.energies:
        cos = events.cos_theta[events.energy == energy]
        p = stats.kstest(cos, lambda x, e=energy: exact_cdf(x, e, coefficients, LEP2.cos_max))
        assert p.pvalue > 1e-4
    # the multinomial split among energies follows the independent expected counts
    counts = np.array([np.count_nonzero(events.energy == e) for e in LEP2.energies])
    expected = independent_expected(LEP2, coefficients)
    assert events.expected == pytest.approx(expected.sum(), rel=1e-10)
    assert stats.chisquare(counts, 40_000 * expected / expected.sum()).pvalue > 1e-4


def test_ks_has_power_against_the_wrong_coefficients() -> None:
    # The same test rejects the SM CDF for events drawn away from the SM (so it can fail).
    events = sample_events(LEP2, AWAY_FROM_SM, np.random.default_rng(11), n_events=40_000)
    energy = LEP2.energies[-1]
    cos = events.cos_theta[events.energy == energy]
    wrong = stats.kstest(cos, lambda x: exact_cdf(x, energy, np.zeros(4), LEP2.cos_max))
    assert wrong.pvalue < 1e-6


def test_pseudo_experiment_counts_are_poisson() -> None:
    """4000 pseudo-experiments of a small measurement (a few to 30 events per energy).

    Per energy the total over all experiments is Poisson(4000 mu): two-sided p < 2.5e-4 per
    energy (false alarm <= 1e-3 for the 4). The dispersion sum (n - mu)^2 / mu over experiments
    is chi2(4000) for Poisson; a multinomial (fixed total) or a constant count would fail it;
    two-sided p < 2.5e-4 per energy.
    """
    measurement = Measurement((130.0, 161.0, 189.0, 207.0), (10.0, 20.0, 40.0, 60.0))
    coefficients = np.array([0.5, -0.4, 0.3, 0.2])
    mu = independent_expected(measurement, coefficients)
    assert np.allclose(measurement.expected_events(coefficients), mu, rtol=1e-10)
    rng = np.random.default_rng(12)
    k = 4000
    counts = np.array(
        [
            [np.count_nonzero(ev.energy == e) for e in measurement.energies]
            for ev in (sample_events(measurement, coefficients, rng) for _ in range(k))
        ]
    )
    for j in range(mu.size):
        total = int(counts[:, j].sum())
        lower = stats.poisson.cdf(total, k * mu[j])
        upper = stats.poisson.sf(total - 1, k * mu[j])
        assert 2 * min(lower, upper) > 2.5e-4
        dispersion = float(np.sum((counts[:, j] - mu[j]) ** 2 / mu[j]))
        tail = min(stats.chi2.cdf(dispersion, k), stats.chi2.sf(dispersion, k))
        assert 2 * tail > 2.5e-4


def test_events_agree_with_an_independent_accept_reject_sampler() -> None:
    """``classifier_check`` on (m, cos theta): AUC p-value > 1e-3 (false alarm 0.1 %).

    The reference: energies shared multinomially by the independent expected counts, angles by
    accept-reject from the independent formula. Power: the same check separates the reference
    drawn at ``2 AWAY_FROM_SM`` (p < 1e-6), so it can fail.
    """
    rng = np.random.default_rng(13)
    n = 12_000
    coefficients = np.array([0.3, -0.2, 0.25, -0.1])

    def reference(c: Array) -> Array:
        fractions = independent_expected(LEP2, c)
        per_energy = rng.multinomial(n, fractions / fractions.sum())
        parts = [
            np.column_stack([np.full(k, e), accept_reject(e, c, int(k), LEP2.cos_max, rng)])
            for e, k in zip(LEP2.energies, per_energy, strict=True)
        ]
        return np.concatenate(parts)

    generated = sample_events(LEP2, coefficients, rng, n_events=n).features
    same = classifier_check(generated, reference(coefficients), seed=1)
    assert same.p_value > 1e-3, same
    shifted = classifier_check(generated, reference(2.0 * AWAY_FROM_SM), seed=1)
    assert shifted.p_value < 1e-6


def test_smeared_acceptance_fraction() -> None:
    """Smear exact draws here; the accepted fraction is binomial around the ratio of
    ``accepted_shape_integrals`` to 8/3. Band: 4.5 sigma (false alarm 7e-6)."""
    energy, smearing, a = 199.5, Smearing(angle_rad=0.2, mass_rel=0.02), 0.9
    coefficients = np.array([0.4, 0.0, -0.6, 0.0])
    rng = np.random.default_rng(14)
    n = 200_000
    cos = accept_reject(energy, coefficients, n, 1.0, rng)
    cos_obs = np.cos(np.arccos(cos) + smearing.angle_rad * rng.standard_normal(n))
    accepted = int(np.count_nonzero(np.abs(cos_obs) <= a))
    same, opposite = independent_strengths(energy, coefficients)
    g = accepted_shape_integrals(smearing, a)
    p = float((same * g[0] + opposite * g[1]) / ((same + opposite) * 8.0 / 3.0))
    assert abs(accepted - n * p) < 4.5 * math.sqrt(n * p * (1 - p))
    # the smeared acceptance differs from the unsmeared one by far more than the band
    g0 = accepted_shape_integrals(None, a)
    p0 = float((same * g0[0] + opposite * g0[1]) / ((same + opposite) * 8.0 / 3.0))
    assert abs(p - p0) > 10 * math.sqrt(p * (1 - p) / n)


def smeared_cdf_table(
    energy: float, coefficients: Array, smearing: Smearing, cos_max: float
) -> tuple[Array, Array]:
    """The smeared cos theta_obs CDF on a grid, from P(cos theta_obs in [-a, x] | theta) as
    Gaussian CDFs over arcs, integrated over the true theta (composite Gauss-Legendre)."""
    xs, ws = np.polynomial.legendre.leggauss(16)
    edges = np.linspace(0.0, math.pi, 129)
    half = 0.5 * np.diff(edges)
    theta = ((0.5 * (edges[1:] + edges[:-1]))[:, None] + half[:, None] * xs).ravel()
    weights = (half[:, None] * ws).ravel() * np.sin(theta)
    weights = weights * independent_dsigma_pb(energy, np.cos(theta), coefficients)
    grid = np.linspace(-cos_max, cos_max, 801)
    # cos theta_obs in [-a, x] <=> theta_obs mod 2 pi in [arccos x, pi - beta] or
    # [pi + beta, 2 pi - arccos x], beta = arccos a: Gaussian CDFs over these arcs.
    sigma = smearing.angle_rad
    beta = math.acos(cos_max)
    gamma = np.arccos(grid)[:, None]  # (grid, 1)
    inside = np.zeros((grid.size, theta.size))
    for k in range(-2, 3):
        shift = 2.0 * math.pi * k - theta
        for lo, hi in ((gamma, math.pi - beta), (math.pi + beta, 2.0 * math.pi - gamma)):
            inside += special.ndtr((hi + shift) / sigma) - special.ndtr((lo + shift) / sigma)
    cdf = inside @ weights
    total = weights @ accepted_probability(theta, sigma, cos_max)
    return grid, cdf / total


def test_smeared_events_follow_the_smeared_distributions() -> None:
    """KS of cos theta_obs against the arc-CDF truth and of the smeared mass against its
    Gaussian: p < 1e-4 each (false alarm <= 2e-4)."""
    measurement = Measurement(
        (199.5,), (1000.0,), cos_max=0.9, smearing=Smearing(angle_rad=0.2, mass_rel=0.02)
    )
    assert measurement.smearing is not None
    coefficients = np.array([0.4, 0.0, -0.6, 0.0])
    events = sample_events(measurement, coefficients, np.random.default_rng(15), n_events=20_000)
    assert len(events) == 20_000
    assert np.all(events.energy == 199.5)
    assert np.all(np.abs(events.cos_theta) <= 0.9)
    grid, cdf = smeared_cdf_table(199.5, coefficients, measurement.smearing, 0.9)
    assert cdf[0] == pytest.approx(0.0, abs=1e-12)
    assert cdf[-1] == pytest.approx(1.0, rel=1e-12)
    assert stats.kstest(events.cos_theta, lambda x: np.interp(x, grid, cdf)).pvalue > 1e-4
    pulls = (events.mass / 199.5 - 1.0) / 0.02
    assert stats.kstest(pulls, "norm").pvalue > 1e-4
    # power: the unsmeared CDF is rejected
    unsmeared = stats.kstest(events.cos_theta, lambda x: exact_cdf(x, 199.5, coefficients, 0.9))
    assert unsmeared.pvalue < 1e-6


def test_smeared_pseudo_experiment_counts() -> None:
    # Poisson counts at the smeared expected events: one pseudo-experiment of LEP2_SMEARED
    # (~8000 events): per energy, two-sided Poisson p < 2.5e-4 (false alarm <= 1e-3).
    coefficients = np.array([0.2, 0.1, -0.2, 0.1])
    events = sample_events(LEP2_SMEARED, coefficients, np.random.default_rng(16))
    mu = LEP2_SMEARED.expected_events(coefficients)
    for j, energy in enumerate(LEP2.energies):
        k = np.count_nonzero(events.energy == energy)
        tail = min(stats.poisson.cdf(k, mu[j]), stats.poisson.sf(k - 1, mu[j]))
        assert 2 * tail > 2.5e-4
    assert events.expected == pytest.approx(float(mu.sum()))


def test_bad_coefficients_for_sampling_are_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidInputError, match="shape"):
        sample_events(LEP2, np.zeros((2, 4)), rng)
    with pytest.raises(InvalidInputError, match="n_events"):
        sample_events(LEP2, np.zeros(4), rng, n_events=0)
    with pytest.raises(InvalidInputError, match="coefficients"):
        sample_events(LEP2, [np.nan, 0.0, 0.0, 0.0], rng)
