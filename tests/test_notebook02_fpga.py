"""Notebook 02, part 2 (the trigger on an FPGA): its recorded numbers on the teaching-default
code path, event counts cut for CI (``notebook_runner.CI_DAQ``)."""

from __future__ import annotations

import json
import math

import pytest
from notebook_runner import ci_parameters

P = ci_parameters("02_data_acquisition")


@pytest.mark.notebook
@pytest.mark.slow
def test_data_acquisition_fpga_numbers(run_notebook):
    """Part 2 of notebook 02 against ground truth: part 1's trigger, the real synthesis
    table, the device totals, and the properties a bit-accurate firmware must have."""
    import csv

    from precml_widgets.data import locate
    from precml_widgets.fpga.devices import get_device

    rec = run_notebook("02_data_acquisition").record
    f = rec["fpga"]
    widths = [str(w) for w in P["fpga_widths"]]
    assert f["widths"] == P["fpga_widths"]
    # the float firmware model is part 1's score times 5 (float32 rounding only) ...
    assert f["score_check_max_abs"] < 1e-4
    lo, hi = widths[0], widths[-1]
    for w in widths:
        agreement = f["per_width"][w]["agreement"]
        # ... so at the same rate its threshold is 5x part 1's and its efficiencies are part 1's
        assert agreement["threshold"]["float"] == pytest.approx(5 * rec["threshold"], rel=1e-5)
        for name, eff in agreement["efficiency"]["float"].items():
            assert eff == pytest.approx(rec["efficiencies"][name]["value"], abs=1e-12)
        assert agreement["rate_hz"]["firmware"] <= P["target_rate_hz"]
        assert f["engines"][w] == "vectorised"  # checked bit-exact against the C++ first
    # more bits, closer to float; at 16 bits the trigger decisions are essentially the float ones
    assert f["per_width"][hi]["mean_abs_diff"] < f["per_width"][lo]["mean_abs_diff"] / 10
    fine = f["per_width"][hi]["agreement"]
    assert fine["decision_agreement"] > 0.999
    for name, eff in fine["efficiency"]["firmware"].items():
        assert eff == pytest.approx(fine["efficiency"]["float"][name], abs=0.01)
        # the float score's AUC is part 1's (a factor 5 does not change a ranking)
        assert fine["auc"]["float"][name] == pytest.approx(
            rec["auc"][name]["autoencoder"], abs=1e-6
        )
        assert fine["auc"]["firmware"][name] == pytest.approx(fine["auc"]["float"][name], abs=0.01)

    # estimates: fractions of the real device totals, budget flags consistent with the numbers
    device = get_device(rec["fpga"]["device"])
    for w in widths:
        est = f["estimates"][w]
        for key in ("dsp", "lut", "ff"):
            assert est["fractions"][key] == pytest.approx(est[key] / getattr(device, key))
        assert est["latency_ns"] == pytest.approx(est["latency_cycles"] * f["clock_ns"])
        budget = f["budget"][w]
        assert budget["gt_latency_ok"] == (est["latency_ns"] <= f["latency_budget_ns"])
        assert budget["ii_ok"] == (est["ii_cycles"] * f["clock_ns"] <= 25.0)
        assert any("sub" in reason for reason in est["extrapolations"])  # merges: uncalibrated
    assert set(f["estimate_error"]) >= {"dsp", "lut", "ff", "latency", "ii"}
    assert f["estimate_error"] == pytest.approx(f["validation"]["by_family"][f"{f['backend']} HLS"])
    # truth: the intervals are exp(log1p(estimate) + shipped conformal bounds); the merges flag
    # the design, so they are the union of the in-domain and the extrapolated bounds
    from precml_widgets.fpga.estimator import COEFFICIENTS_FILE

    shipped = json.loads(COEFFICIENTS_FILE.read_text())
    bounds = shipped["intervals"]["bounds"]
    for w in widths:
        est = f["estimates"][w]
        assert est["output_softmax"].startswith("none")  # the autoencoder has no softmax
        for key, value in (
            ("dsp", est["dsp"]),
            ("ff", est["ff"]),
            ("latency", est["latency_cycles"]),
        ):
            lo_b = min(bounds["calibrated"][key][0], bounds["extrapolated"][key][0])
            hi_b = max(bounds["calibrated"][key][1], bounds["extrapolated"][key][1])
            lo, hi = est["interval"][key]
            assert lo == pytest.approx(max(math.expm1(math.log1p(value) + lo_b), 0.0))
            assert hi == pytest.approx(math.expm1(math.log1p(value) + hi_b))
    # validation: the design-grouped numbers the shipped calibration holds (regenerated from
    # table.csv by tests/test_fpga_estimator.py), and held-out coverage inside the binomial band
    from scipy.stats import binom

    v = f["validation"]
    assert v["scheme"] == "design" and v["n_designs"] == 5 and v["n_rows"] == 26
    for family, values in shipped["cross_validation"]["by_family"].items():
        assert v["by_family"][family] == pytest.approx(values["smape"])
    with open(locate("hls4ml_synthesis_table"), newline="") as fh:
        categories = [row["category"] for row in csv.DictReader(fh)]
    n_flagged = sum(c != "dense" for c in categories) + 6  # + the six beyond the partition limit
    for pool, n in (("calibrated", 26), ("extrapolated", n_flagged)):
        cov = f["coverage"][pool]
        band = [binom.ppf(0.001, n, 0.68) / n, binom.ppf(0.999, n, 0.68) / n]
        assert cov["n_rows"] == n and cov["band"] == pytest.approx(band)
        for q, value in cov["coverage"].items():
            # the target (false alarm ~0.002 per quantity for a correct 68 % interval)
            assert band[0] <= value <= band[1], (pool, q, value)

    # the left-out jet-tagger rows quote the real reports of table.csv
    with open(locate("hls4ml_synthesis_table"), newline="") as fh:
        table = {row["example_id"]: row for row in csv.DictReader(fh)}
    assert len(f["tagger_rows"]) == 5
    for row in f["tagger_rows"]:
        truth = table[row["example_id"]]
        assert row["truth"]["dsp"] == float(truth["dsp"])
        assert row["truth"]["lut"] == float(truth["lut"])
        assert row["truth"]["latency"] == float(truth["lat_max"])
    reported = table["Hector-Plata__hls4ml-tutorial__model_1_hls4ml_prj"]
    assert f["report"]["dsp"] == int(reported["dsp"]) and f["report"]["lut"] == int(reported["lut"])
    assert f["report"]["latency_max"] == int(reported["lat_max"])

    # jet tagger: rounding + saturation keeps >= 99 % of the float classes, wrapping loses more
    tagger = f["tagger"]
    saturating = tagger["ap_fixed<16,6,AP_RND_CONV,AP_SAT>"]
    wrapping = tagger["ap_fixed<16,6> (truncate, wrap)"]
    assert saturating["n_events"] == P["n_tagger_events"]
    assert saturating["argmax_agreement"] >= 0.99
    assert wrapping["argmax_agreement"] < saturating["argmax_agreement"]
    # wrapping loses at most the jets that overflow ap_fixed<16,6> (plus rounding near ties)
    assert wrapping["argmax_agreement"] >= 1 - f["tagger_beyond_32"] - 0.01
    assert f["export_files"] > 10
