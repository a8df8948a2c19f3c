"""Notebook 03b (SMEFT inference): its recorded numbers on the teaching-default code path (the
shipped models; counts cut for CI, ``notebook_runner.CI_PARAMETERS``), each against an
independent truth.

Truths: the closed-form CDF and accepted rate of the independently written contact-interaction
formula (``tests/test_inference_events.py``; chi2 of the recorded histograms, the expected
counts); the expected q and its limits from that formula integrated by adaptive quadrature
(``tests/test_inference_likelihood.py``) or, for whole grids, by 64-point Gauss-Legendre
(``_gl_q``, checked against the adaptive one here); polar integrals of the region boundaries
found by brentq on those; the information inequality (binned <= unbinned); Bayes' theorem (the
exact posterior's coverage follows a binomial law); the issue's targets for the learned ratio
and the learned posterior, with margins from their sampling errors.

The exact HPD areas of the toy posterior are not recomputed here: the toy lives on the smeared
configuration, whose independent density needs a numerical convolution per event and grid
cell (250 x 625 of them), too slow for CI; ``tests/test_inference_posterior.py`` checks the
grid posterior's HPD areas against closed forms instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from notebook_runner import ci_parameters
from scipy import optimize, stats
from test_inference_events import exact_cdf, independent_expected
from test_inference_likelihood import CHI2_95_1DOF, independent_bins, independent_q, poisson_q
from test_inference_physics import independent_strengths

from precml_widgets.inference import LEP2, WILSON_COEFFICIENTS, default_problem

pytestmark = [pytest.mark.notebook, pytest.mark.slow]
P = ci_parameters("03b_smeft_inference")
Q95_2DOF = float(stats.chi2.ppf(0.95, 2))
#: Tolerance of the 1-bin area ratio (kinked boundary, see its test): 64 rays measured 1.9e-3
#: off the 256-angle value.
TOL_FEW_BINS = 5e-3


@pytest.fixture(scope="module")
def record(run_notebook) -> dict[str, Any]:
    return run_notebook("03b_smeft_inference").record


def _unit(name: str) -> np.ndarray:
    u = np.zeros(4)
    u[WILSON_COEFFICIENTS.index(name)] = 1.0
    return u


def _brentq_limits(q_of_c) -> dict[str, tuple[float, float]]:
    out = {}
    for name in default_problem().free:
        u = _unit(name)

        def excess(t: float, u: np.ndarray = u) -> float:
            return q_of_c(t * u) - CHI2_95_1DOF

        out[name] = (
            optimize.brentq(excess, -0.3, -1e-6, xtol=1e-12),
            optimize.brentq(excess, 1e-6, 0.3, xtol=1e-12),
        )
    return out


def _gl_q(coefficients: np.ndarray, linear_only: bool = False) -> np.ndarray:
    """The expected q at coefficient vectors (n, 4) from the independent formula, 64-point
    Gauss-Legendre per energy (the integrand is smooth); ``linear_only`` drops the squares
    (r = 1 + odd part); r <= 0 at any node gives q = inf (no likelihood there)."""
    nodes, weights = np.polynomial.legendre.leggauss(64)
    a = LEP2.cos_max
    x, w = a * nodes, a * weights
    out = np.zeros(len(coefficients))
    for energy, lum in zip(LEP2.energies, LEP2.luminosities, strict=True):
        same0, opp0 = independent_strengths(energy, np.zeros(4))
        sm = same0 * (1 + x) ** 2 + opp0 * (1 - x) ** 2
        for start in range(0, len(coefficients), 20_000):
            c = coefficients[start : start + 20_000]
            same, opp = independent_strengths(energy, c)
            d = same[:, None] * (1 + x) ** 2 + opp[:, None] * (1 - x) ** 2
            if linear_only:
                same_m, opp_m = independent_strengths(energy, -c)
                d = sm + 0.5 * (d - same_m[:, None] * (1 + x) ** 2 - opp_m[:, None] * (1 - x) ** 2)
            r = d / sm
            with np.errstate(invalid="ignore", divide="ignore"):
                term = 2 * lum * np.sum(w * sm * (r - 1 - np.log(r)), axis=1)
            out[start : start + 20_000] += np.where(np.all(r > 0, axis=1), term, np.inf)
    return out


def _polar_area(q_of_c, threshold: float, n_angles: int, half_width: float = 0.3) -> float:
    """(1/2) int t(phi)^2 dphi over the default pair, t from brentq on ``q_of_c`` along each
    of ``n_angles`` evenly spaced rays, capped at the box (|C_i| <= half_width)."""
    columns = [WILSON_COEFFICIENTS.index(n) for n in default_problem().free]
    radii = []
    for phi in 2 * math.pi * (np.arange(n_angles) + 0.5) / n_angles:
        u = np.zeros(4)
        u[columns] = math.cos(phi), math.sin(phi)
        edge = half_width / max(abs(math.cos(phi)), abs(math.sin(phi)))
        if q_of_c(edge * u) <= threshold:
            radii.append(edge)
            continue
        radii.append(optimize.brentq(lambda t, u=u: q_of_c(t * u) - threshold, 1e-4, edge))
    return math.pi * float(np.mean(np.square(radii)))


def test_gauss_legendre_q_against_adaptive_quadrature():
    points = np.array([[0.05, 0, -0.1, 0], [0, 0, -1.3, 0.55], [0.2, 0, 0.2, 0]])
    for c, q in zip(points, _gl_q(points), strict=True):
        assert q == pytest.approx(independent_q(c), rel=1e-9)


def test_sampler_follows_the_exact_angular_distribution(record):
    s = record["sampler"]
    # four KS tests at p > 1e-4 each: a correct sampler fails one run in 2500
    assert len(s["ks_p"]) == 4
    assert min(s["ks_p"]) > 1e-4
    # the recorded histograms against the independent closed-form CDF: chi2 with 19 degrees
    # of freedom per energy (counts conditional on the energy's total), p > 1e-4 at each of
    # 4 energies: a correct sampler fails one run in 2500
    edges = np.asarray(s["hist_edges"])
    np.testing.assert_allclose(edges, np.linspace(-0.95, 0.95, 21), rtol=0, atol=1e-15)
    for energy, counts in zip(LEP2.energies, s["histograms"], strict=True):
        counts = np.asarray(counts)
        expected = counts.sum() * np.diff(exact_cdf(edges, energy, np.zeros(4), 0.95))
        assert expected.min() > 20  # chi2's asymptotic law holds
        chi2 = float(np.sum((counts - expected) ** 2 / expected))
        assert stats.chi2.sf(chi2, len(counts) - 1) > 1e-4
    np.testing.assert_allclose(s["expected_sm"], independent_expected(LEP2, np.zeros(4)), rtol=1e-9)
    # classifier_check against an accept-reject sample: p > 1e-3 fails one run in 1000
    assert s["classifier_p"] > 1e-3 and abs(s["classifier_auc"] - 0.5) < 0.02


def test_exact_and_binned_limits_against_independent_likelihoods(record):
    exact = _brentq_limits(independent_q)
    binned = _brentq_limits(
        lambda c: poisson_q(independent_bins(c, 10), independent_bins(np.zeros(4), 10))
    )
    for label, truth in (("exact", exact), ("binned", binned)):
        for name, (lo, hi) in truth.items():
            assert record["limits"][label][name] == pytest.approx([lo, hi], rel=1e-6)


@pytest.fixture(scope="module")
def exact_area() -> float:
    # area = (1/2) int t(phi)^2 dphi, with t(phi) from brentq on the independent q at 24
    # evenly spaced angles (the boundary is smooth and periodic: the rule converges fast)
    return _polar_area(independent_q, Q95_2DOF, 24)


def _binned(n_bins: int):
    nu0 = independent_bins(np.zeros(4), n_bins)
    return lambda c: poisson_q(independent_bins(c, n_bins), nu0)


def test_region_areas_against_independent_polar_integrals(record, exact_area):
    """Exact, 10-bin and 4 x luminosity areas to 2e-3 (the recorded ones come from
    P["n_directions"] rays; the polar rule on a smooth boundary is good to 1e-4 at 24 angles)."""
    regions = record["regions"]
    assert regions["exact_area"] == pytest.approx(exact_area, rel=2e-3)
    assert regions["binned_area"] == pytest.approx(_polar_area(_binned(10), Q95_2DOF, 24), rel=2e-3)
    # 4 x luminosity: q scales by 4, so the region is where independent q <= Q95 / 4
    four = _polar_area(lambda c: 4 * float(_gl_q(c[None, :])[0]), Q95_2DOF, 24)
    assert record["exercises"]["area_4L"] == pytest.approx(four, rel=2e-3)
    # the information inequality: a binned analysis never does better
    assert 1.0 <= regions["binned_area"] / regions["exact_area"] < 1.05


def test_few_bin_area_ratios_against_independent_polar_integrals(record, exact_area):
    """1 bin (rate only; the region reaches the box, so its area is the part inside) and 2 bins
    (a forward-backward asymmetry) per energy. The 1-bin boundary has kinks where it meets the
    box: 256 angles here, and the recorded value comes from P["n_directions"] rays, hence the
    looser TOL_FEW_BINS."""
    ratios = record["exercises"]["area_ratio_bins"]
    for n_bins, tol in ((1, TOL_FEW_BINS), (2, 2e-3)):
        truth = _polar_area(_binned(n_bins), Q95_2DOF, 256) / exact_area
        assert ratios[str(n_bins)] == pytest.approx(truth, rel=tol)


def _degenerate_grid(linear_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's 401 x 401 grid on [-3, 1]^2 of (C_le^(1122), C_le^(2211)) and the
    independent q there, shape (401, 401) indexed [x, y]."""
    axis = np.linspace(-3.0, 1.0, 401)
    gx, gy = np.meshgrid(axis, axis, indexing="ij")
    c = np.zeros((gx.size, 4))
    c[:, 2], c[:, 3] = gx.ravel(), gy.ravel()
    return axis, _gl_q(c, linear_only).reshape(gx.shape)


def test_crescent_area_and_span_against_an_independent_grid(record):
    """The same grid with the independent q: the inside sets differ only where q is within
    rounding of the threshold, so areas agree to a few cells and spans to one step."""
    d = record["degenerate"]
    axis, q = _degenerate_grid()
    step = axis[1] - axis[0]
    assert d["grid_step"] == pytest.approx(step, rel=1e-12)
    inside = q <= Q95_2DOF
    assert d["area"] == pytest.approx(inside.sum() * step**2, abs=5 * step**2)
    xs = axis[inside.any(axis=1)]
    np.testing.assert_allclose(d["span_c1"], [xs.min(), xs.max()], atol=1.01 * step)
    _, linear = _degenerate_grid(linear_only=True)
    inside = linear <= Q95_2DOF
    e = record["exercises"]
    assert e["linear_area_in_box"] == pytest.approx(inside.sum() * step**2, abs=5 * step**2)


def test_degenerate_pair_is_a_closed_crescent(record):
    d = record["degenerate"]
    assert not d["touches_box"]
    assert d["reentrant_rays"] > 0  # rays leave and re-enter: not star-shaped
    # the same from the independent likelihood: a point far out on the arc is inside the 95 %
    # region while the midpoint between it and the Standard Model is outside
    far = np.array([0.0, 0.0, -1.3, 0.55])
    assert independent_q(far) < Q95_2DOF < independent_q(far / 2)
    assert 0.1 < d["area"] < 3.0
    e = record["exercises"]
    assert e["linear_touches_box"]  # to linear order the flat direction is exactly flat


def test_quadratic_classifier_meets_the_targets(record):
    # The shipped model's median is 0.047 on 20 000 events x 256 contour points; on 4000 fresh
    # events it varied by <= 1.7 % over 20 seeds (tests/test_inference_export.py), so the CI
    # cut (P["n_heldout"] events) stays under the 5 %.
    c = record["classifiers"]
    assert c["quadratic"]["median"] <= 0.05
    assert c["plain"]["median"] > c["quadratic"]["median"]
    for label in ("quadratic", "plain"):
        assert abs(c[label]["area_ratio"] - 1.0) <= 0.10  # the 10 %
        assert c[label]["n_train"] == 4_800_000  # the shipped models, not a retrain
    # the 95th percentile is large (|r_exact - 1| vanishes where the effect changes sign);
    # it is recorded with its meaning
    assert "95th percentile" in record["p95_meaning"]
    assert c["quadratic"]["p95"] < c["plain"]["p95"]


def test_learned_limits_against_the_exact_ones(record):
    """One-parameter limits (the other coefficient at 0): each learned end within 10 % of the
    exact interval's width of the exact end (the issue states 10 % for the region's area; a
    boundary error of a fraction e moves an end by e of its distance from the SM)."""
    exact = _brentq_limits(independent_q)
    for label in ("quadratic", "plain"):
        for name, (lo, hi) in exact.items():
            got = record["classifiers"][label]["limits"][name]
            np.testing.assert_allclose(got, [lo, hi], atol=0.10 * (hi - lo))
    assert "fixed at 0" in record["limits_note"]


def test_learned_posterior_against_the_exact_one(record):
    post = record["posterior"]
    assert post["n_events"] == P["n_toy_events"]
    # C2ST target 0.55; the held-out half of 2 x n_c2st_draws draws gives accuracy a binomial
    # standard error of 0.5 / sqrt(n_c2st_draws) under the null; allow 3 of them
    assert post["c2st_accuracy"] <= 0.55 + 3 * 0.5 / math.sqrt(P["n_c2st_draws"])
    # HPD areas within the 10 %; the grid's resolution (P["n_grid"]^2 cells on the
    # 2 x 2 box, the boundary crossing ~4 n_grid of them, half a cell each on average) is
    # below 3 % of the smallest (68 %) area
    for exact, learned in zip(post["volumes_exact"], post["volumes_learned"], strict=True):
        assert abs(learned / exact - 1.0) <= 0.10
    # the printed share of the prior box covered by the exact 95 % region
    assert 0.3 < post["prior_fraction_95"] < 0.8  # "a large part": the data are weak at N = 250


def test_exact_posterior_is_calibrated(record):
    # Bayes' theorem: the exact posterior's coverage is Binomial(n_toys, level) / n_toys; the
    # band is its 0.1-99.9 % range (two levels: a correct pipeline fails 1 run in 250), and
    # SBC p-values above 1e-3 (two coefficients: 1 in 500)
    cal = record["calibration"]
    assert cal["n_toys"] == P["calibration_toys"]
    for level, (lo, hi) in cal["band"].items():
        assert (lo, hi) == (
            stats.binom.ppf(0.001, cal["n_toys"], float(level)) / cal["n_toys"],
            stats.binom.ppf(0.999, cal["n_toys"], float(level)) / cal["n_toys"],
        )
        assert lo <= cal["coverage"]["exact"][level] <= hi
    assert min(cal["sbc_p_values"]["exact"]) > 1e-3


def test_learned_posterior_coverage_and_sbc(record):
    """The learned posterior's coverage inside the same band and its SBC p-values > 1e-3 (a
    calibrated flow fails 1 run in 250 resp. 500). With the CI's P["calibration_toys"] toys this
    is a smoke check: the band is wide (the benchmark runs 200 toys)."""
    cal = record["calibration"]
    for level, (lo, hi) in cal["band"].items():
        assert lo <= cal["coverage"]["learned"][level] <= hi
    assert min(cal["sbc_p_values"]["learned"]) > 1e-3


def test_luminosity_exercise(record):
    # q scales with the luminosity: with q quadratic in C the area would shrink by exactly 4;
    # the cubic and quartic terms are a few % of q on the contour
    assert record["exercises"]["area_ratio_4L"] == pytest.approx(0.25, abs=0.01)
