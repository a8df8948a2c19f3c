"""Expected likelihoods and regions of the SMEFT core against independent computations.

Truths: adaptive quadrature (scipy) of ``2 L dsigma_SM [r - 1 - ln r]`` with ``r`` from the
independent F_XY formula of ``test_inference_physics``; closed-form bin contents; the
information (data-processing) inequality between unbinned and binned likelihoods; exact
quadratic forms, whose regions are ellipsoids of known volume; brentq roots; the Fisher ellipse.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from scipy import integrate, optimize, special, stats
from test_inference_physics import (
    accepted_truth,
    independent_dsigma_pb,
    independent_strengths,
)

from precml_widgets.errors import InvalidInputError
from precml_widgets.inference import (
    LEP2,
    LEP2_SMEARED,
    WILSON_COEFFICIENTS,
    EFTProblem,
    ExpectedQ,
    Measurement,
    Smearing,
    bin_terms,
    binned_expected_q,
    default_problem,
    event_density,
    exact_expected_q,
    expected_region,
    one_parameter_limits,
    require_events,
)

Array = npt.NDArray[np.float64]
ALL_FOUR = EFTProblem(LEP2, WILSON_COEFFICIENTS, (-1.0,) * 4, (1.0,) * 4)
CHI2_95_1DOF = 3.841458820694124  # scipy.stats.chi2.ppf(0.95, 1), to 16 digits


def independent_q(coefficients: Array, measurement: Measurement = LEP2) -> float:
    """``2 sum_E L_E int dsigma_SM [r - 1 - ln r] dcos`` by adaptive quadrature."""
    a = measurement.cos_max
    total = 0.0
    for energy, lum in zip(measurement.energies, measurement.luminosities, strict=True):

        def integrand(c: float, e: float = energy) -> float:
            sm = float(independent_dsigma_pb(e, c, np.zeros(4)))
            r = float(independent_dsigma_pb(e, c, coefficients)) / sm
            return sm * (r - 1.0 - math.log(r))

        total += 2.0 * lum * integrate.quad(integrand, -a, a, epsabs=1e-13, epsrel=1e-12)[0]
    return total


def independent_bins(coefficients: Array, n_bins: int) -> Array:
    """Expected events per (energy, equal cos bin), closed form, shape (E, n_bins)."""
    a = LEP2.cos_max
    edges = np.linspace(-a, a, n_bins + 1)
    same, opposite = independent_strengths(LEP2.energies, coefficients)
    per_shape = np.diff((1 + edges) ** 3) / 3, -np.diff((1 - edges) ** 3) / 3
    return LEP2.luminosities[:, None] * (
        same[:, None] * per_shape[0] + opposite[:, None] * per_shape[1]
    )


def poisson_q(nu: Array, nu0: Array) -> float:
    return float(2.0 * np.sum(nu - nu0 - nu0 * np.log(nu / nu0)))


POINTS = [
    np.array([0.05, 0.0, 0.0, 0.0]),
    np.array([0.0, 0.0, -0.2, 0.0]),
    np.array([0.3, -0.4, 0.2, 0.1]),
    np.array([-0.9, 0.8, 0.7, -0.6]),
]


# ------------------------------------------------------------------ expected q
def test_exact_expected_q_against_adaptive_quadrature() -> None:
    q = exact_expected_q(ALL_FOUR)
    got = q(np.array(POINTS))
    truth = np.array([independent_q(c) for c in POINTS])
    assert np.allclose(got, truth, rtol=1e-8, atol=0.0)  # measured: 8e-15
    assert q(np.zeros(4))[0] == pytest.approx(0.0, abs=1e-12)


def test_binned_expected_q_against_closed_form_bins() -> None:
    for n_bins in (1, 5):
        q = binned_expected_q(ALL_FOUR, n_bins=n_bins)
        truth = [
            poisson_q(independent_bins(c, n_bins), independent_bins(np.zeros(4), n_bins))
            for c in POINTS
        ]
        assert np.allclose(q(np.array(POINTS)), truth, rtol=1e-10, atol=0.0)


@pytest.mark.parametrize("measurement", [LEP2, LEP2_SMEARED], ids=["unsmeared", "smeared"])
def test_unbinned_q_bounds_every_binned_q(measurement: Measurement) -> None:
    # Binning discards information: q_binned <= q_unbinned at every C (the data-processing
    # inequality for Poisson processes); smeared, the bins are also mass windows.
    problem = EFTProblem(measurement, WILSON_COEFFICIENTS, (-1.0,) * 4, (1.0,) * 4)
    points = np.random.default_rng(20).uniform(-1.0, 1.0, (40, 4))
    unbinned = exact_expected_q(problem)(points)
    assert np.all(unbinned > 0.0)
    for n_bins in (1, 2, 5, 10, 40):
        binned = binned_expected_q(problem, n_bins=n_bins)(points)
        assert np.all(binned <= unbinned * (1.0 + 1e-12))


def test_binned_q_rises_towards_the_unbinned_one() -> None:
    # 1 -> 2 -> 10 -> 40 and 1 -> 5 -> 10 are refinements (guaranteed); 2 -> 5 is not, so
    # its order is a property of this point, checked as such.
    point = np.array([[0.3, 0.0, 0.0, 0.0]])
    unbinned = float(exact_expected_q(ALL_FOUR)(point)[0])
    binned = [float(binned_expected_q(ALL_FOUR, n_bins=b)(point)[0]) for b in (1, 2, 5, 10, 40)]
    assert all(np.diff(binned) > 0.0)
    assert binned[-1] < unbinned
    # 40 bins recover the unbinned q to the bin-width order (measured: 0.005 %)
    assert unbinned - binned[-1] < 1e-3 * unbinned
    # while one bin (rate only) misses a visible part (measured 6.6 %): the shape informs
    assert unbinned - binned[0] > 0.05 * unbinned


@pytest.mark.parametrize("measurement", [LEP2, LEP2_SMEARED], ids=["unsmeared", "smeared"])
def test_bin_terms_sum_to_the_expected_events(measurement: Measurement) -> None:
    coefficients = np.random.default_rng(21).uniform(-1.0, 1.0, 4)
    sm, lin, quad = bin_terms(measurement, 7)
    nu = sm + lin @ coefficients + quad @ coefficients**2
    total = measurement.expected_events(coefficients)
    assert float(nu.sum()) == pytest.approx(float(total.sum()), rel=1e-12)
    if measurement.smearing is None:  # the windows are the energies
        assert np.allclose(nu.sum(axis=1), total, rtol=1e-12)
        assert np.allclose(nu, independent_bins(coefficients, 7), rtol=1e-10)


def test_smeared_bin_terms_are_accurate_near_full_acceptance() -> None:
    # truth: the accepted integrals from Gaussian CDFs over arcs (adaptive quadrature)
    measurement = Measurement((189.0,), (1.0,), cos_max=0.999, smearing=Smearing(0.05, 0.02))
    same, opposite = independent_strengths(189.0, np.zeros(4))
    accepted = accepted_truth(0.05, 0.999)
    truth = float(same * accepted[0] + opposite * accepted[1])
    assert bin_terms(measurement, 1)[0].sum() == pytest.approx(truth, rel=1e-9)


def test_exact_q_builds_for_every_accepted_mass_resolution() -> None:
    # the coarsest accepted resolution still keeps the mass nodes above 0 GeV
    measurement = Measurement((182.7, 188.6), (230.0, 700.0), smearing=Smearing(0.05, 0.1))
    problem = EFTProblem(measurement, ("C_ll_1122",), (-0.3,), (0.3,))
    assert float(exact_expected_q(problem)([0.1])[0]) > 0.0
    with pytest.raises(InvalidInputError, match="mass_rel"):
        Smearing(0.05, 0.15)


# ------------------------------------------------------------------ regions
def _quadratic_q(form: Array, half_width: float = 3.0) -> ExpectedQ:
    d = form.shape[0]
    problem = EFTProblem(LEP2, WILSON_COEFFICIENTS[:d], (-half_width,) * d, (half_width,) * d)

    def evaluate(v: Array) -> Array:
        return np.einsum("mi,ij,mj->m", v, form, v)

    return ExpectedQ(problem, "quadratic form", evaluate)


FORM_2 = np.array([[20.0, 6.0], [6.0, 9.0]])


def test_a_likelihood_that_excludes_the_standard_model_is_flagged() -> None:
    base = _quadratic_q(FORM_2)
    for offset, excluded in ((0.0, False), (5.0, False), (6.5, True)):  # chi2(95 %, 2) = 5.99
        shifted = ExpectedQ(base.problem, "shifted", lambda v, o=offset: o + base.evaluate(v))
        region = expected_region(shifted, n_directions=64)
        assert region.q_at_origin == pytest.approx(offset)
        assert region.excludes_origin is excluded
        if excluded:
            assert region.volume == 0.0


FORM_3 = np.array([[20.0, 6.0, 2.0], [6.0, 9.0, -3.0], [2.0, -3.0, 12.0]])


@pytest.mark.parametrize(
    ("form", "n_directions", "tolerance"),
    # 2-D: evenly spaced angles integrate the periodic r(phi)^2 spectrally (measured 2e-15).
    # 3-D: scrambled Sobol directions converge about as 1/n (measured 1.1e-5 at 2**16,
    # 7e-6 at 2**18); 1e-6 would take > 2**20 directions, so 3-D is checked to 5e-5.
    [(FORM_2, 1024, 1e-6), (FORM_3, 2**16, 5e-5)],
    ids=["2d", "3d"],
)
def test_region_volume_of_a_quadratic_form(
    form: Array, n_directions: int, tolerance: float
) -> None:
    d = form.shape[0]
    for cl in (0.68, 0.95):
        region = expected_region(_quadratic_q(form), cl=cl, n_directions=n_directions)
        threshold = stats.chi2.ppf(cl, d)
        unit = math.pi ** (d / 2) / special.gamma(d / 2 + 1)
        truth = unit * threshold ** (d / 2) / math.sqrt(np.linalg.det(form))
        assert region.volume == pytest.approx(truth, rel=tolerance)
        assert not np.any(region.clipped)
        # every boundary point lies on the ellipsoid
        on_boundary = np.einsum("mi,ij,mj->m", region.boundary, form, region.boundary)
        assert np.allclose(on_boundary, threshold, rtol=1e-9)


@pytest.mark.parametrize("form", [FORM_2, FORM_3], ids=["2d", "3d"])
def test_one_parameter_limits_of_a_quadratic_form(form: Array) -> None:
    limits = one_parameter_limits(_quadratic_q(form))
    for i, name in enumerate(WILSON_COEFFICIENTS[: form.shape[0]]):
        half = math.sqrt(CHI2_95_1DOF / form[i, i])
        assert limits[name] == pytest.approx((-half, half), rel=1e-9)


def test_limits_reaching_the_box_are_clipped() -> None:
    # a flat direction (A_22 small) leaves the box: the limit is the box edge
    form = np.array([[20.0, 0.0], [0.0, 0.01]])
    q = _quadratic_q(form, half_width=1.0)
    limits = one_parameter_limits(q)
    assert limits[WILSON_COEFFICIENTS[1]] == pytest.approx((-1.0, 1.0), rel=1e-12)
    assert expected_region(q, n_directions=64).clipped.any()


def test_one_parameter_limits_of_the_exact_q_against_brentq() -> None:
    problem = default_problem()
    limits = one_parameter_limits(exact_expected_q(problem))
    for name in problem.free:
        unit = np.zeros(4)
        unit[WILSON_COEFFICIENTS.index(name)] = 1.0

        def excess(t: float, u: Array = unit) -> float:
            return independent_q(t * u) - CHI2_95_1DOF

        lower = optimize.brentq(excess, -0.3, -1e-6, xtol=1e-14, rtol=1e-13)
        upper = optimize.brentq(excess, 1e-6, 0.3, xtol=1e-14, rtol=1e-13)
        assert limits[name] == pytest.approx((lower, upper), rel=1e-7)
        assert upper - (-lower) != pytest.approx(0.0, abs=1e-4)  # asymmetric: quadratic terms


def _fisher(problem: EFTProblem) -> Array:
    """F_ij = sum_E L_E int dsigma_i dsigma_j / dsigma_SM dcos, with the linear terms
    dsigma_i from symmetric differences of the independent formula (exact for a quadratic)."""
    a = problem.measurement.cos_max
    columns = problem.columns
    d = len(columns)

    def linear(e: float, c: float, k: int) -> float:
        step = np.eye(4)[k]
        up, down = independent_dsigma_pb(e, c, step), independent_dsigma_pb(e, c, -step)
        return float(up - down) / 2.0

    out = np.zeros((d, d))
    for energy, lum in zip(LEP2.energies, LEP2.luminosities, strict=True):
        for i in range(d):
            for j in range(i, d):

                def integrand(c: float, e: float = energy, i: int = i, j: int = j) -> float:
                    sm = float(independent_dsigma_pb(e, c, np.zeros(4)))
                    return linear(e, c, columns[i]) * linear(e, c, columns[j]) / sm

                value = lum * integrate.quad(integrand, -a, a, epsrel=1e-11)[0]
                out[i, j] = out[j, i] = out[i, j] + value
    return out


def test_asimov_region_against_the_fisher_ellipse() -> None:
    """Small-C limit: q ~ c^T F c. The 68 % area of the exact q agrees with the Fisher
    ellipse's pi threshold / sqrt(det F) to within the quadratic-term size: eps = the largest
    relative deviation of the independent q from the threshold on the Fisher boundary
    (measured eps = 3.2 %, area ratio 1 + 0.08 %); the bound is 2 eps."""
    problem = default_problem()
    fisher = _fisher(problem)
    threshold = stats.chi2.ppf(0.68, 2)
    fisher_area = math.pi * threshold / math.sqrt(np.linalg.det(fisher))
    region = expected_region(exact_expected_q(problem), cl=0.68, n_directions=512)
    phi = 2 * np.pi * np.arange(12) / 12
    directions = np.column_stack([np.cos(phi), np.sin(phi)])
    radii = np.sqrt(threshold / np.einsum("mi,ij,mj->m", directions, fisher, directions))
    eps = max(
        abs(independent_q(problem.full(r * u)) / threshold - 1.0)
        for r, u in zip(radii, directions, strict=True)
    )
    assert 1e-3 < eps < 0.2  # the quadratic terms matter, a little
    assert abs(region.volume / fisher_area - 1.0) < 2 * eps


# ------------------------------------------------------------------ bad input
def test_coefficients_outside_the_box_are_refused() -> None:
    problem = default_problem()
    q = exact_expected_q(problem)
    with pytest.raises(InvalidInputError, match="outside the box"):
        q([0.5, 0.0])
    with pytest.raises(InvalidInputError, match="outside the box"):
        binned_expected_q(problem)(np.array([[0.0, 0.1], [0.0, -0.31]]))
    with pytest.raises(InvalidInputError, match="outside the box"):
        problem.full([0.0, -0.31])
    with pytest.raises(InvalidInputError, match="NaN"):
        q([np.nan, 0.0])
    with pytest.raises(InvalidInputError, match="axis of 2"):
        problem.full([0.1, 0.0, 0.0])
    # unchecked, it is the caller's responsibility: padded with zeros
    assert np.array_equal(problem.full([0.5, 0.1], check=False), [0.5, 0.0, 0.1, 0.0])


def test_wrong_number_of_coefficients_for_expected_q_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="axis of 2"):
        exact_expected_q(default_problem())([0.1, 0.0, 0.0])


@pytest.mark.parametrize(
    ("measurement", "features", "keyword"),
    [
        (LEP2, [[183.0, 0.1]], "one of the energies"),
        (LEP2, [[182.7, 0.96]], "acceptance"),
        (LEP2, [[182.7, -0.99]], "acceptance"),
        (LEP2, [[182.7, np.nan]], "NaN"),
        (LEP2, [[np.inf, 0.1]], "NaN or infinite"),
        (LEP2, [[182.7, 0.1, 0.0]], "2 columns"),
        (LEP2, [182.7, 0.1], "2-D"),
        (LEP2_SMEARED, [[0.0, 0.1]], "> 0 GeV"),
        (LEP2_SMEARED, [[190.0, 0.97]], "acceptance"),
    ],
)
def test_events_outside_the_support_are_refused(
    measurement: Measurement, features: list[list[float]], keyword: str
) -> None:
    with pytest.raises(InvalidInputError, match=keyword):
        require_events(measurement, features)
    with pytest.raises(InvalidInputError, match=keyword):
        event_density(measurement, features, np.zeros(4))


def test_events_inside_the_support_pass() -> None:
    x = require_events(LEP2, [[182.7, 0.95], [206.6, -0.95]])
    assert x.shape == (2, 2)
    check: Callable[..., Array] = require_events
    assert check(LEP2_SMEARED, [[160.0, 0.0]]).shape == (1, 2)  # inside E +- 8 sigma
