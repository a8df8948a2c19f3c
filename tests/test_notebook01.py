"""Notebook 01 (flows vs VEGAS): its recorded numbers on the teaching-default code path
(4D Camel, medium flow), calls cut for CI (``notebook_runner.CI_THEORY``).

Every headline number is asserted against an INDEPENDENT truth, named on its line: a closed
form, a one-dimensional quadrature, a different algorithm, a binomial draw, a library. None
of them re-runs the notebook's own computation with the same seed. Numbers without an
independent truth (the error ratios: measured performance) are said to be so in the notebook.

Statistics: "within 4 sigma" fails with probability 6e-5 per number for a correct run (about
40 such numbers: 0.24 %); the 4 KS tests and the classifier test at p > 1e-3 add 0.5 %; the
whole module has a false-alarm rate below 1 % for a correct run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from notebook_runner import ci_parameters
from scipy import integrate, stats

P = ci_parameters("01_theory_predictions")
Z4 = 4.0  # two-sided 6e-5


def _blocks(rec):
    return {"camel": rec["camel"], **rec["physics"], "own": rec["own_integrand"]}


@pytest.fixture(scope="module")
def rec(run_notebook):
    return run_notebook("01_theory_predictions").record


@pytest.mark.notebook
@pytest.mark.slow
def test_estimates_against_exact_values(rec):
    from precml_widgets.integration.integrands import camel

    assert rec["status"] == "complete"
    # truth: the Camel's closed form ((erf(1/(3a)) + erf(2/(3a)))/2)^n, recomputed with scipy
    # as the probability of -2/3 < Z < 1/3 for Z ~ N(0, a^2/2), one coordinate
    a, n = 0.2, P["camel_dim"]
    mass = stats.norm.cdf(1 / 3, 0, a / math.sqrt(2)) - stats.norm.cdf(-2 / 3, 0, a / math.sqrt(2))
    assert rec["camel"]["exact"] == pytest.approx(mass**n, rel=1e-12)
    assert rec["camel"]["exact"] == pytest.approx(camel(n).exact, rel=1e-12)
    # (the e+e- -> mu+mu- exact value, a 1D quadrature, is cross-checked by a second
    # quadrature in tests/test_integrands.py)
    # truth: the ridge's closed form a sqrt(pi) erf(1/a) - a^2 (1 - exp(-1/a^2)), checked
    # here by scipy's 2D quadrature of exp(-((x - y)/a)^2) on the square
    quad, _ = integrate.dblquad(
        lambda y, x: math.exp(-(((x - y) / 0.1) ** 2)), 0, 1, 0, 1, epsabs=1e-12
    )
    assert rec["own_integrand"]["exact"] == pytest.approx(quad, rel=1e-8)
    # every method's estimate against its exact value (flow, VEGAS+, classic VEGAS)
    for label, block in _blocks(rec).items():
        for method, m in block["methods"].items():
            assert abs(m["pull"]) < Z4, (label, method, m)
            # the pull is (estimate - exact)/error: recomputed from its parts
            err = math.hypot(m["error"], block["exact_error"])
            assert m["pull"] == pytest.approx((m["estimate"] - block["exact"]) / err)
    # truth: the closed form; plain Monte Carlo's estimate
    assert abs(rec["plain_mc"]["estimate"] - mass**n) < Z4 * rec["plain_mc"]["error"]


@pytest.mark.notebook
@pytest.mark.slow
def test_budget_and_guard(rec):
    requested = P["calls_per_iteration"] * (P["training_iterations"] + P["final_iterations"])
    assert rec["requested_calls"] == requested  # truth: the budget arithmetic of the parameters
    for label, block in _blocks(rec).items():
        flow, plus = block["methods"]["flow"], block["methods"]["VEGAS+"]
        # equal calls (counted by the shared wrapper); vegas spends at most ~10 % less
        assert flow["calls"] == plus["calls"], label
        assert 0.85 * requested <= plus["calls"] <= requested, (label, plus["calls"])
        # truth: the exact value. The guard's voices (flows from other seeds, VEGAS+, the
        # pooled multi-channel estimate) each lie within 4 sigma of it, so they must agree
        for voice, v in block["guard"]["voices"].items():
            assert abs(v["estimate"] - block["exact"]) < Z4 * math.hypot(
                v["error"], block["exact_error"]
            ), (label, voice, v)
        assert not block["guard"]["flagged"], (label, block["guard"])
        # a method's own caveats (vegas's Q, effective calls, weight tail) reach the summary
        for caveat in block["warnings"]:
            assert f"{block['integrand']}, caveat: {caveat}" in rec["summary"], (label, caveat)
    assert rec["checks"][
        "the flows, VEGAS+ and the pooled estimate agree on every integrand (guard)"
    ]


@pytest.mark.notebook
@pytest.mark.slow
def test_sampler_diagnostics(rec):
    # truth: any density on the cube has E_q[1/q] = 1 (the cube's volume)
    support = rec["support_check"]
    assert abs(support["mean_inverse_q"] - 1) < Z4 * support["error"]
    # truth: the exact marginal CDFs (closed forms); KS at alpha = 1e-3 per coordinate
    assert all(p > 1e-3 for p in rec["ks_pvalues_unweighted"].values())
    # truth: exact events from the Camel's sampler; the classifier cannot tell the flow's
    # unweighted events from them, and it does see a generator whose weights are ignored
    assert rec["classifier"]["flow_unweighted"]["p_value"] > 1e-3
    assert rec["classifier"]["weights_ignored"]["p_value"] < 1e-6
    # truth: the first training iteration is the identity flow (uniform density), i.e. plain
    # Monte Carlo, so the flow learned if its last iteration's weights spread less
    assert rec["training_rel_std"]["last"] < rec["training_rel_std"]["first"]
    for method, entry in rec["unweighting"].items():
        # truth: hit-or-miss keeps a binomial(offered, <w>/w_max) number of events, with
        # <w>/w_max taken from the weights' moments (the table), not from the draws
        p = rec["camel"]["methods"][method]["unweighting eff. (max)"]
        n, kept = entry["offered"], entry["kept"]
        assert abs(kept - n * p) < Z4 * math.sqrt(n * p * (1 - p)) + 1, (method, kept, n, p)
        # truth: the definition of the 99.9 % quantile: 0.1 % of the weights lie above it
        assert abs(entry["overweight_fraction_q999"] - 0.001) <= 2 / n, (method, entry)
        assert 0 < entry["efficiency_max"] <= entry["efficiency_q999"] <= 1


@pytest.mark.notebook
@pytest.mark.slow
def test_physics_explanation(rec):
    from precml_widgets.integration import ee_mumu
    from precml_widgets.integration.integrands import get

    # truth: textbook formulas. The Z peak: 12 pi Gamma_ee Gamma_mumu / (M_Z^2 Gamma_Z^2) plus
    # the photon term (0.6 %); at 10 GeV the QED value 4 pi alpha^2 / 3s
    z = rec["z_peak"]
    assert z["sigma_pb"] == pytest.approx(float(ee_mumu.sigma_total_pb(ee_mumu.M_Z_GEV)))
    assert 0 < z["sigma_pb"] / z["textbook_pb"] - 1 < 0.01
    assert z["sigma_10gev_pb"] / z["qed_10gev_pb"] == pytest.approx(1.0, abs=1e-3)
    # truth: 2D midpoint quadrature on a 1000 x 1000 grid (no random numbers) of the best
    # product density's weight spread, sqrt(sum f^2 / (I^2 m1 m2) - 1); grid error < 1e-3
    spreads = rec["factorised_spread"]
    for name in ("ee-mumu", "ee-mumu-bw"):
        ig = get(name)
        g = (np.arange(1000) + 0.5) / 1000
        xx, yy = np.meshgrid(g, g, indexing="ij")
        f = ig.fn(np.column_stack([xx.ravel(), yy.ravel()])).reshape(1000, 1000)
        p = f / f.mean()
        grid = math.sqrt((p**2 / np.outer(p.mean(1), p.mean(0))).mean() - 1)
        s = spreads[name]
        assert abs(s["relative_std"] - grid) < Z4 * s["error"] + 2e-3, (name, s, grid)
    # the Camel's humps on the diagonal: a product density leaves more spread than e+e-
    camel_name = rec["camel"]["integrand"]
    assert spreads[camel_name]["relative_std"] > 2 * spreads["ee-mumu"]["relative_std"]
    # truth: the exact marginal CDF of the mapped axis, by 1D quadrature of the cross
    # section against the mapping's Jacobian; the notebook's edge densities are its slopes
    bw = get("ee-mumu-bw")
    cdf = bw.marginal_cdf
    first = (cdf(np.array([0.01]), 0)[0] - cdf(np.array([0.0]), 0)[0]) / 0.01
    assert rec["bw_edge_density"]["first 1%"] == pytest.approx(first, rel=1e-9)
    assert rec["bw_edge_density"]["first 1%"] > 5  # a spike at the edge of the cube
    # truth: the plain-MC relative variances of both mappings by 2D quadrature; the notebook's
    # plain-MC gain is a ratio of sampled standard deviations, so only its side is asserted
    assert rec["mapping_gain"]["plain MC"] > 1.5


@pytest.mark.notebook
@pytest.mark.slow
def test_summary_follows_the_checks(rec):
    """The summary is derived from the checks: every check passed here, and it says so."""
    assert all(rec["checks"].values()), rec["checks"]
    assert rec["summary"][-1] == "all checks passed"
    for line in rec["summary"][:-1]:
        assert "NOT compared" not in line  # the guard did not flag (asserted above)
