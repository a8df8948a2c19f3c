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
    assert f["widths"] == list(P["fpga_widths"])  # JSON has no tuples
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
    # more bits, closer to float; at the widest width the trigger is the float one within the
    # samples' statistical precision
    assert f["per_width"][hi]["mean_abs_diff"] < f["per_width"][lo]["mean_abs_diff"] / 10
    fine = f["per_width"][hi]["agreement"]
    sizes = {name: b - a for name, (a, b) in f["sample_bounds"].items()}
    n_changed = (1 - fine["decision_agreement"]) * sum(sizes.values())
    n_bkg = sizes.pop(next(n for n in f["sample_bounds"] if n not in fine["efficiency"]["float"]))
    for name, eff in fine["efficiency"]["firmware"].items():
        float_eff = fine["efficiency"]["float"][name]
        # exact: an efficiency moves by 1/N_s per signal event whose decision changed, and
        # at most n_changed decisions changed in all samples together
        assert abs(eff - float_eff) <= n_changed / sizes[name] + 1e-12
        # requirement: the quantisation shifts the efficiency by less than its binomial error
        # on these events (same events for both: no sampling, no false alarm)
        assert abs(eff - float_eff) <= math.sqrt(float_eff * (1 - float_eff) / sizes[name])
        # the float score's AUC is part 1's (a factor 5 does not change a ranking)
        assert fine["auc"]["float"][name] == pytest.approx(
            rec["auc"][name]["autoencoder"], abs=1e-6
        )
        # requirement: firmware and float AUC agree within the AUC's statistical error
        # (Hanley & McNeil 1982, with N_signal and N_background events)
        a = fine["auc"]["float"][name]
        q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
        n_s = sizes[name]
        var = (a * (1 - a) + (n_s - 1) * (q1 - a * a) + (n_bkg - 1) * (q2 - a * a)) / (n_s * n_bkg)
        assert abs(fine["auc"]["firmware"][name] - a) <= math.sqrt(var)

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
    # truth: the intervals are exp(log1p(estimate) + shipped bounds); the merges flag the
    # design (kind "flagged": all flagged syntheses), the part xcvu13p widens nothing
    from precml_widgets.fpga.estimator import COEFFICIENTS_FILE

    shipped = json.loads(COEFFICIENTS_FILE.read_text())
    bounds = shipped["intervals"]["bounds"]
    for w in widths:
        est = f["estimates"][w]
        assert est["output_softmax"].startswith("none")  # the autoencoder has no softmax
        flags = " ".join(est["extrapolations"])
        for other in ("convolution", "recurrent", "io_stream", "partition"):
            assert other not in flags
        for key, value in (
            ("dsp", est["dsp"]),
            ("ff", est["ff"]),
            ("latency", est["latency_cycles"]),
        ):
            lo_b = min(bounds["calibrated"][key][0], bounds["flagged"][key][0])
            hi_b = max(bounds["calibrated"][key][1], bounds["flagged"][key][1])
            lo, hi = est["interval"][key]
            assert lo == pytest.approx(max(math.expm1(math.log1p(value) + lo_b), 0.0))
            assert hi == pytest.approx(math.expm1(math.log1p(value) + hi_b))
    # validation: the component-grouped numbers the shipped calibration holds (regenerated
    # from table.csv by tests/test_fpga_estimator.py); counts recounted from table.csv
    from scipy.stats import binom

    v = f["validation"]
    with open(locate("hls4ml_synthesis_table"), newline="") as fh:
        table_rows = list(csv.DictReader(fh))

    def beyond_partition(layers: str) -> bool:  # a Latency dense layer over 4096 products
        dims = [x.split(":")[1] for x in layers.split(" | ") if x.startswith("dense:")]
        return any(int(a) * int(b) > 4096 for a, b in (d.split("x") for d in dims))

    dense_ok = [
        r
        for r in table_rows
        if r["category"] == "dense"
        and r["io_type"] == "io_parallel"
        and r["strategy"] == "latency"
        and not beyond_partition(r["layers"])
    ]
    assert v["scheme"] == "component" and v["n_rows"] == v["n_in_domain"] == len(dense_ok)
    assert v["n_rows_total"] == len(table_rows)
    # components: repositories linked by a shared design; the tagger's two repositories are one
    repos = {r["repo"] for r in dense_ok}
    assert v["n_designs"] == len(repos) - 1  # only the tagger is shared between repositories
    for family, values in shipped["cross_validation"]["by_family"].items():
        assert v["by_family"][family] == pytest.approx(values["smape"])
        assert v["by_family_ratio"][family] == pytest.approx(values["baseline_ratio"])
        for by in ("design", "repo"):
            key = f"cross_validation_by_{by}"
            assert v["by_grouping"][by][family] == pytest.approx(
                shipped[key]["by_family"][family]["smape"]
            )
        # the target per quantity and family: met, or stated as missed
        for q, ratio in values["baseline_ratio"].items():
            stated = any(
                m.get("family") == family and m["quantity"] == q and "naive" in m["target"]
                for m in f["targets_missed"]
            )
            assert (ratio is not None and ratio <= 0.5) or stated, (family, q, ratio)
    assert f["targets_missed"] == shipped["targets_missed"]
    n_flagged = sum(r["category"] != "dense" or beyond_partition(r["layers"]) for r in table_rows)
    assert len(table_rows) - len(dense_ok) == n_flagged
    for pool, cov in f["coverage"].items():
        n = cov["n_groups"]
        assert cov["n_rows"] + cov["n_rows_without_interval"] <= n_flagged + len(dense_ok)
        if n == 0:
            assert cov["band"] is None
            continue
        band = [binom.ppf(0.001, n, 0.68) / n, binom.ppf(0.999, n, 0.68) / n]
        assert cov["band"] == pytest.approx(band)
        for q, value in cov["coverage"].items():
            # the target (false alarm ~0.002 per quantity for a correct 68 % interval with n
            # independent components); where the band is [0, 1] the result says so
            if band == [0.0, 1.0]:
                assert cov["verdict"][q] == "n too small to conclude"
            elif not band[0] <= value <= band[1]:
                assert any(
                    m.get("pool") == pool and m["quantity"] == q for m in f["targets_missed"]
                )
    assert f["coverage"]["calibrated"]["n_rows"] == len(dense_ok)

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

    # jet tagger: the float probabilities recomputed here (same generated jets); a jet can
    # change class only if its two largest float probabilities differ by <= 2 max|dp| (exact)
    import numpy as np
    import torch

    from precml_widgets.fpga.models import load_jet_tagger

    tagger = f["tagger"]
    saturating = tagger["ap_fixed<16,6,AP_RND_CONV,AP_SAT>"]
    wrapping = tagger["ap_fixed<16,6> (truncate, wrap)"]
    assert saturating["n_events"] == P["n_tagger_events"]
    rng = np.random.default_rng(P["seed"] + 7)
    x = rng.normal(size=(P["n_tagger_events"], 16)).astype(np.float32)
    with torch.no_grad():
        p = load_jet_tagger()(torch.from_numpy(x)).numpy()
    top2 = np.sort(p, axis=1)[:, -2:]
    gap = top2[:, 1] - top2[:, 0]
    near_sat = float(np.mean(gap <= 2 * saturating["max_abs_diff"]))
    assert 1 - saturating["argmax_agreement"] <= near_sat
    assert wrapping["argmax_agreement"] < saturating["argmax_agreement"]
    # wrapping loses at most the jets that overflow ap_fixed<16,6> plus those near a tie; a
    # jet without overflow differs from float only by truncation instead of rounding (at most
    # one LSB instead of half per quantisation): at most twice the saturating run's max|dp|
    near_wrap = float(np.mean(gap <= 4 * saturating["max_abs_diff"]))
    assert 1 - wrapping["argmax_agreement"] <= f["tagger_beyond_32"] + near_wrap
    assert f["export_files"] > 10
