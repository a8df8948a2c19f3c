"""Notebook 03b (SMEFT inference): its recorded numbers on the teaching-default code path (the
shipped models; counts cut for CI, ``notebook_runner.CI_PARAMETERS``), each against an
independent truth.

Truths: the exact CDF of the Born angular distribution (KS); the expected q and its limits from
an independently written contact-interaction formula integrated by adaptive quadrature
(``tests/test_inference_likelihood.py``); the information inequality (binned <= unbinned);
Bayes' theorem (the exact posterior's coverage follows a binomial law); the issue's targets for
the learned ratio and the learned posterior, with margins from their sampling errors.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from notebook_runner import ci_parameters
from scipy import optimize, stats
from test_inference_likelihood import CHI2_95_1DOF, independent_bins, independent_q, poisson_q

from precml_widgets.inference import WILSON_COEFFICIENTS, default_problem

pytestmark = [pytest.mark.notebook, pytest.mark.slow]
P = ci_parameters("03b_smeft_inference")
Q95_2DOF = float(stats.chi2.ppf(0.95, 2))


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


def test_sampler_follows_the_exact_angular_distribution(record):
    # four KS tests at p > 1e-4 each: a correct sampler fails one run in 2500
    assert len(record["sampler"]["ks_p"]) == 4
    assert min(record["sampler"]["ks_p"]) > 1e-4


def test_exact_and_binned_limits_against_independent_likelihoods(record):
    exact = _brentq_limits(independent_q)
    binned = _brentq_limits(
        lambda c: poisson_q(independent_bins(c, 10), independent_bins(np.zeros(4), 10))
    )
    for label, truth in (("exact", exact), ("binned", binned)):
        for name, (lo, hi) in truth.items():
            assert record["limits"][label][name] == pytest.approx([lo, hi], rel=1e-6)


def test_exact_area_against_an_independent_polar_integral(record):
    # area = (1/2) int t(phi)^2 dphi, with t(phi) from brentq on the independent q at 24
    # evenly spaced angles (the boundary is smooth and periodic: the rule converges fast)
    columns = [WILSON_COEFFICIENTS.index(n) for n in default_problem().free]
    radii = []
    for phi in 2 * math.pi * (np.arange(24) + 0.5) / 24:
        u = np.zeros(4)
        u[columns] = math.cos(phi), math.sin(phi)
        radii.append(optimize.brentq(lambda t, u=u: independent_q(t * u) - Q95_2DOF, 1e-4, 0.3))
    area = math.pi * float(np.mean(np.square(radii)))
    assert record["regions"]["exact_area"] == pytest.approx(area, rel=2e-3)
    # the information inequality: a binned analysis never does better
    assert 1.0 <= record["regions"]["binned_area"] / record["regions"]["exact_area"] < 1.05


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


def test_learned_posterior_against_the_exact_one(record):
    post = record["posterior"]
    assert post["n_events"] == P["n_toy_events"]
    # C2ST target 0.55; the held-out half of 2 x n_c2st_draws draws gives accuracy a binomial
    # standard error of 0.5 / sqrt(n_c2st_draws) under the null; allow 3 of them
    assert post["c2st_accuracy"] <= 0.55 + 3 * 0.5 / math.sqrt(P["n_c2st_draws"])
    for exact, learned in zip(post["volumes_exact"], post["volumes_learned"], strict=True):
        assert 0.75 < learned / exact < 1.33


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


def test_luminosity_exercise(record):
    # q scales with the luminosity: with q quadratic in C the area would shrink by exactly 4;
    # the cubic and quartic terms are a few % of q on the contour
    assert record["exercises"]["area_ratio_4L"] == pytest.approx(0.25, abs=0.01)
