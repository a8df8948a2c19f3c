"""Notebook 01 (flows vs VEGAS): its recorded numbers on the teaching-default code path
(4D Camel, medium flow), calls cut for CI (``notebook_runner.CI_THEORY``)."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest
from notebook_runner import ci_parameters

P = ci_parameters("01_theory_predictions")


@pytest.fixture(scope="module")
def theory_truth():
    """Notebook 01's Camel comparison, recomputed here through the core API (same seeds)."""
    from precml_widgets.integration.explorer import FLOW_SIZES
    from precml_widgets.integration.integrands import camel
    from precml_widgets.integration.nis import NISConfig
    from precml_widgets.integration.study import ComparisonConfig, compare

    p = P
    config = ComparisonConfig(
        calls_per_iteration=p["calls_per_iteration"],
        training_iterations=p["training_iterations"],
        final_iterations=p["final_iterations"],
        nis=NISConfig(flow=FLOW_SIZES[p["flow_size"]]),
        diagnostic_events=p["diagnostic_events"],
        seed=p["seed"],
    )
    return compare(camel(p["camel_dim"]), config, progress=False)


@pytest.mark.notebook
@pytest.mark.slow
def test_theory_prediction_numbers(run_notebook, theory_truth):
    """Notebook 01's recorded numbers: against exact values, and equal to the core's."""
    from precml_widgets.integration import ee_mumu

    rec = run_notebook("01_theory_predictions").record
    assert rec["status"] == "complete"
    # every estimate within 4 standard errors of the exact value (two-sided 6e-5 each)
    for block in (rec["camel"], *rec["physics"].values()):
        for method in ("flow", "VEGAS+"):
            assert abs(block["methods"][method]["pull"]) < 4, (block["integrand"], method)
        # equal integrand calls for the flow and VEGAS+, counted by the shared wrapper
        assert block["methods"]["flow"]["calls"] == block["methods"]["VEGAS+"]["calls"]
    assert abs(rec["plain_mc"]["pull"]) < 4
    # same seeds, same code: the notebook's Camel numbers are the core's
    for method, result in theory_truth.results.items():
        recorded = rec["camel"]["methods"][method]
        assert recorded["estimate"] == pytest.approx(result.estimate, rel=1e-9)
        assert recorded["error"] == pytest.approx(result.error, rel=1e-9)
        assert recorded["calls"] == result.calls
    # the flow's support is the cube: E_q[1/q] = 1 within 4 sigma
    support = rec["support_check"]
    assert abs(support["mean_inverse_q"] - 1) < 4 * support["error"]
    # unweighted events follow the exact marginals (KS at alpha = 1e-3 per coordinate)
    assert all(p > 1e-3 for p in rec["ks_pvalues_unweighted"].values())
    # with w_max = max(w) nothing is overweight; with a quantile some events are
    for entry in rec["unweighting"].values():
        assert 0 < entry["efficiency_max"] <= entry["efficiency_q999"] <= 1
    # the classifier cannot tell unweighted flow events from exact ones, but it does see a
    # generator whose weights are ignored (the test's power)
    assert rec["classifier"]["flow_unweighted"]["p_value"] > 1e-3
    assert rec["classifier"]["weights_ignored"]["p_value"] < 1e-6
    # the flow learned: its weights spread less at the last training iteration than at the
    # first (the uniform density)
    assert rec["training_rel_std"]["last"] < rec["training_rel_std"]["first"]
    # classic VEGAS's estimates are honest too on these low-dimensional integrands
    for block in (rec["camel"], *rec["physics"].values()):
        assert abs(block["methods"]["VEGAS"]["pull"]) < 4, block["integrand"]
    # a 99.9 % quantile leaves ~0.1 % overweight events (binomial: 20 000 events -> 20 +- 4.5)
    for entry in rec["unweighting"].values():
        assert 0.0 < entry["overweight_fraction_q999"] < 0.003
    # the Breit-Wigner mapping helps plain Monte Carlo (relative variance 13.5 -> 2.9)
    assert rec["mapping_gain"]["plain MC"] > 1.5
    # textbook cross-checks of the physics integrand
    z = rec["z_peak"]
    assert z["sigma_pb"] == pytest.approx(float(ee_mumu.sigma_total_pb(ee_mumu.M_Z_GEV)))
    assert 0 < z["sigma_pb"] / z["textbook_pb"] - 1 < 0.01  # the photon term, 0.6 %
    assert z["sigma_10gev_pb"] / z["qed_10gev_pb"] == pytest.approx(1.0, abs=1e-3)


