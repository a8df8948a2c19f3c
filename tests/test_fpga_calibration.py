"""The estimator's calibration: fit, grouped cross-validation, scores, intervals, coverage."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import statistics

import pytest

from precml_widgets import InvalidInputError
from precml_widgets.data import data_dir
from precml_widgets.fpga import calibrate, calibration_fit
from precml_widgets.fpga.estimator import (
    COEFFICIENTS_FILE,
    Coefficients,
    estimate,
)
from precml_widgets.fpga.layers import DenseLayer, SoftmaxLayer

TABLE = data_dir() / "hls4ml" / "synthesis-reports" / "table.csv"
SHIPPED = json.loads(COEFFICIENTS_FILE.read_text())
C = Coefficients(**SHIPPED["coefficients"])
# inside the calibration domain: Vivado HLS on a Zynq-7020 at 5 ns, 16-bit weights, Latency
IN_DOMAIN = {"device": "xc7z020", "clock_ns": 5.0, "backend": "Vivado"}
needs_table = pytest.mark.skipif(not TABLE.is_file(), reason=f"shared data missing: no {TABLE}")


def test_smape_definition_edge_cases():
    assert calibrate.smape([0.0], [0.0]) == 0.0
    assert calibrate.smape([1.0], [0.0]) == 2.0
    assert calibrate.smape([0.0, 0.0], [0.0, 5.0]) == 1.0
    assert calibrate.smape([90.0], [110.0]) == pytest.approx(0.2)
    assert calibrate.r2([1.0, 1.0], [2.0, 2.0]) is None
    with pytest.raises(InvalidInputError):
        calibrate.smape([], [])


def test_default_coefficients_are_the_recorded_priors():
    assert Coefficients().to_dict() == SHIPPED["priors"]


@needs_table
def test_shipped_json_equals_a_fresh_fit():
    rows = calibrate.load_calibration_table()
    fresh = calibrate.fit(rows).to_dict()
    for name, value in SHIPPED["coefficients"].items():
        assert fresh[name] == pytest.approx(value, rel=1e-6), name
    prov = SHIPPED["provenance"]
    assert prov["table"] == "hls4ml/synthesis-reports/table.csv"
    import hashlib

    assert prov["sha256"] == hashlib.sha256(TABLE.read_bytes()).hexdigest()
    assert prov["rows_used"] == [r.example_id for r in rows if r.excluded is None]
    assert set(prov["rows_excluded"]) == {r.example_id for r in rows if r.excluded}
    assert len(prov["rows_used"]) + len(prov["rows_excluded"]) == 57


@needs_table
def test_calibration_rows_and_exclusions():
    rows = calibrate.load_calibration_table()
    used = [r for r in rows if r.excluded is None]
    assert all(r.io_type == "io_parallel" and r.strategy == "latency" for r in used)
    assert {r.tool_family for r in used} == {"Vivado HLS", "Vitis HLS"}
    har = [r for r in rows if "_HAR_" in r.example_id]
    assert len(har) == 6 and all("4096" in r.excluded for r in har)
    # every dense design ends in a softmax, which the rows append: check it in the reports
    for row in used:
        assert isinstance(row.layers[-1], SoftmaxLayer)
        report = TABLE.parent / "reports" / row.example_id / "myproject_csynth.rpt"
        assert "softmax" in report.read_text()


@pytest.fixture(scope="module")
def rows():
    return calibrate.load_calibration_table()


@needs_table
@pytest.mark.parametrize("by", ["component", "design", "repo"])
def test_leave_one_group_out_never_shares_a_group(monkeypatch, rows, by):
    calls = []
    comps = calibrate.design_components(rows)

    def group(r):
        return {"component": comps[r.example_id], "design": r.design, "repo": r.repo}[by]

    def recording_fit(train):
        calls.append({group(r) for r in train})
        return Coefficients()

    monkeypatch.setattr(calibration_fit, "fit", recording_fit)
    monkeypatch.setattr(calibration_fit, "fit_cache", {})
    report = calibrate.cross_validate(rows, by=by)
    used = [r for r in rows if r.excluded is None]
    groups = {group(r) for r in used}
    assert len(calls) == len(report.folds) == len(groups)
    assert len(groups) == {"component": 3, "design": 5, "repo": 4}[by]
    for (held_out, train_groups), trained_on in zip(report.folds, calls, strict=True):
        assert held_out not in trained_on and set(train_groups) == trained_on == groups - {held_out}
    assert len({x["example_id"] for x in report.residuals}) == len(used)


@needs_table
def test_the_jet_tagger_of_two_repositories_is_one_design(rows):
    # Hector-Plata/hls4ml-tutorial and astitwlathe/example-hls4ml both synthesised the hls4ml
    # jet tagger at ap_fixed<16,6>: leaving repositories out leaks it, leaving designs out not
    tagger = {r.repo for r in rows if r.design.startswith("dense:16x64:w16 | dense:64x32:w16")}
    assert tagger == {"Hector-Plata/hls4ml-tutorial", "astitwlathe/example-hls4ml"}
    assert len({r.design for r in rows if r.repo == "ArgyKokk/hls4ml_MLP_estimator"}) == 4


@needs_table
def test_components_share_neither_a_design_nor_a_repository(rows):
    """Connected components of (design, repository), checked against a brute-force closure:
    the tagger's two repositories are one component, ArgyKokk's four designs another."""
    comps = calibrate.design_components(rows)
    # closure by repeated merging of sets (independent of the union-find)
    sets = [({r.design}, {r.repo}) for r in rows]
    merged = True
    while merged:
        merged = False
        for i, j in itertools.combinations(range(len(sets)), 2):
            if sets[i][0] & sets[j][0] or sets[i][1] & sets[j][1]:
                sets[i] = (sets[i][0] | sets[j][0], sets[i][1] | sets[j][1])
                del sets[j]
                merged = True
                break
    expected = {r.example_id: "+".join(sorted(s[1])) for r in rows for s in sets if r.repo in s[1]}
    assert comps == expected
    tagger = comps["Hector-Plata__hls4ml-tutorial__model_1_hls4ml_prj"]
    assert tagger == "Hector-Plata/hls4ml-tutorial+astitwlathe/example-hls4ml"
    used = {comps[r.example_id] for r in rows if r.excluded is None}
    assert len(used) == 3  # 26 in-domain rows, 5 designs, 4 repositories: 3 components


@needs_table
def test_shipped_per_family_errors_are_regenerated_key_by_key(rows):
    """Every number of the shipped validation (per quantity, per tool family, all three
    schemes) recomputed from table.csv; the estimate's error is the component-grouped one."""
    for key, by in (
        ("cross_validation", "component"),
        ("cross_validation_by_design", "design"),
        ("cross_validation_by_repo", "repo"),
    ):
        shipped = SHIPPED[key]
        fresh = calibrate.cross_validate(rows, by=by)
        assert shipped["scheme"] == f"leave-one-{by}-out"
        assert set(shipped["by_family"]) == set(fresh.by_family) == {"Vivado HLS", "Vitis HLS"}
        for family, values in shipped["by_family"].items():
            for metric in ("smape", "zero_mae", "baseline_smape", "baseline_ratio"):
                for q in calibrate.QUANTITIES:
                    want = fresh.by_family[family][metric][q]
                    got = values[metric][q]
                    assert (got is None and want is None) or got == pytest.approx(
                        want, rel=1e-9, abs=1e-12
                    ), (key, family, metric, q)
            assert values["n_rows"] == fresh.by_family[family]["n_rows"]
            assert values["n_groups"] == fresh.by_family[family]["n_groups"]
        for q in calibrate.QUANTITIES:
            assert shipped["smape"][q] == pytest.approx(fresh.smape[q], rel=1e-9)
            assert shipped["baseline"]["smape"][q] == pytest.approx(fresh.baseline_smape[q])
    vitis = estimate([DenseLayer(16, 64)], backend="Vitis")
    assert dict(vitis.error) == SHIPPED["cross_validation"]["by_family"]["Vitis HLS"]["smape"]


@needs_table
def test_fabric_rows_with_zero_dsp_are_scored_by_absolute_error(rows):
    cv = SHIPPED["cross_validation"]
    zero = [x for x in cv["residuals"] if x["truth"]["dsp"] == 0]
    assert cv["n_zero"]["dsp"] == len(zero) > 0
    assert cv["zero_mae"]["dsp"] == pytest.approx(
        statistics.fmean(abs(x["estimate"]["dsp"]) for x in zero)
    )
    nonzero = [x for x in cv["residuals"] if x["truth"]["dsp"] != 0]
    assert cv["smape"]["dsp"] == pytest.approx(
        calibrate.smape(
            [x["estimate"]["dsp"] for x in nonzero], [x["truth"]["dsp"] for x in nonzero]
        )
    )


def test_scores_band_and_conformal_bounds_against_hand_values():
    s = calibrate.scores([0.0, 4.0, 110.0, 100.0], [0.0, 0.0, 90.0, 100.0])
    assert s == {"smape": pytest.approx(0.1), "n_nonzero": 2, "zero_mae": 2.0, "n_zero": 2}
    from scipy.stats import binom

    lo, hi = calibrate.coverage_band(31)
    assert lo * 31 == binom.ppf(0.001, 31, 0.68) and hi * 31 == binom.ppf(0.999, 31, 0.68)
    assert calibrate.coverage_band(6) == (0.0, 1.0)  # 0.32^6 > 0.001: no test at all
    assert calibrate.coverage_band(7)[0] > 0.0
    # n = 9 residuals, 68 %: ranks floor(10*0.16) = 1 and ceil(10*0.84) = 9
    assert calibrate.conformal_bounds(list(range(9, 0, -1)), 0.68) == [1.0, 9.0]
    assert calibrate.conformal_bounds([0.0, 1.0], 0.68)[1] == math.inf  # too few: unbounded
    with pytest.raises(InvalidInputError):
        calibrate.conformal_bounds([], 0.68)


def test_group_weighted_bounds_count_a_group_once():
    """Rows of one design are not independent: a group of 8 rows weighs what a group of one
    does (fails on the old row-pooled conformal_bounds, which had no weights)."""
    residuals = [0.0] * 8 + [1.0, 2.0, 3.0, 4.0]
    groups = ["big"] * 8 + ["a", "b", "c", "d"]
    # 5 groups of weight 1: cumulative weights 1 (the 8 zeros), 2, 3, 4, 5
    # a = 0.2: first cumulative weight >= 1 and >= 4; a = 0.4: >= 2 and >= 3
    assert calibrate.group_quantile_bounds(residuals, 0.6, groups) == [0.0, 3.0]
    assert calibrate.group_quantile_bounds(residuals, 0.2, groups) == [1.0, 2.0]
    # pooled as 12 equal rows the 8 zeros are 2/3 of the weight: the 40 % quantile is 0
    assert calibrate.group_quantile_bounds(residuals, 0.2)[0] == 0.0
    # pooled as 12 rows the 8 zeros dominate; weighted, the conformal bound needs
    # (1 - 0.2)(5 + 1) = 4.8 of 5 groups: the 5th value, and -inf/… for too few groups
    assert calibrate.conformal_bounds(residuals, 0.6, groups) == [0.0, 4.0]
    assert calibrate.conformal_bounds(residuals, 0.6) == [0.0, 3.0]
    assert calibrate.conformal_bounds(residuals, 0.68, groups)[1] == math.inf  # 5 groups
    # unweighted and one-row-per-group weighting agree
    r = [float(x) for x in range(1, 10)]
    assert calibrate.conformal_bounds(r, 0.6, [str(x) for x in r]) == [2.0, 8.0]


@needs_table
def test_shipped_intervals_and_nested_coverage_are_regenerated(rows):
    shipped = SHIPPED["intervals"]
    assert shipped["level"] == 0.68 and shipped["grouping"] == "component"
    fresh = calibrate.interval_bounds(rows)
    for pool in calibrate.POOLS:
        assert shipped["pools"][pool] == fresh["pools"][pool]
        for q in calibrate.QUANTITIES:
            assert shipped["bounds"][pool][q] == pytest.approx(fresh["bounds"][pool][q], rel=1e-9)
    cov = calibrate.interval_coverage(rows)
    for pool in calibrate.POOLS:
        got, want = shipped["coverage"][pool], cov.pools[pool]
        assert got["coverage"] == pytest.approx(want["coverage"])
        assert got["n_groups"] == want["n_groups"] <= shipped["pools"][pool]["n_groups"]
        n = want["n_groups"]
        if n == 0:  # e.g. every RNN synthesis is in one component: nothing to hold out against
            assert got["band"] is None and set(want["verdict"].values()) == {"no rows"}
            continue
        assert got["band"] == pytest.approx(list(calibrate.coverage_band(n)))
        for q, value in want["coverage"].items():
            inside = want["band"][0] <= value <= want["band"][1]
            if want["band"] == [0.0, 1.0]:  # n too small: the band cannot fail, and says so
                assert want["verdict"][q] == "n too small to conclude"
            else:
                # the target (false alarm ~0.002 per quantity for a correct 68 % interval);
                # a miss must be listed in targets_missed, never silently shipped
                assert want["verdict"][q] == ("within band" if inside else "OUTSIDE band")
                listed = any(
                    m.get("pool") == pool and m["quantity"] == q for m in SHIPPED["targets_missed"]
                )
                assert inside or listed, (pool, q, value, n)
    # the pools' group counts: components of the flagged syntheses of each kind
    comps = calibrate.design_components(rows)
    conv = {comps[r.example_id] for r in rows if r.excluded and "conv" in r.excluded}
    assert shipped["pools"]["conv"]["n_groups"] == len(conv)


@needs_table
def test_every_target_is_met_or_listed_as_missed(rows):
    """Per quantity and tool family (shipped component grouping): sMAPE <= 0.5 x the naive
    baseline's and <= the aim, or an entry of targets_missed states the miss."""
    shipped = SHIPPED["cross_validation"]
    assert shipped["scheme"] == "leave-one-component-out"
    missed = SHIPPED["targets_missed"]
    for family, values in shipped["by_family"].items():
        for q in calibrate.QUANTITIES:
            ratio = values["baseline_ratio"][q]
            listed = [m for m in missed if m.get("family") == family and m["quantity"] == q]
            if ratio is None or ratio > 0.5:
                assert any("naive baseline" in m["target"] for m in listed), (family, q, ratio)
            else:
                assert not any("naive baseline" in m["target"] for m in listed)
            aim = calibrate.AIMS.get(q)
            if aim is not None and values["smape"][q] > aim:
                assert any("aim" in m["target"] for m in listed), (family, q)
    fresh = calibrate.targets_missed(
        calibrate.cross_validate(rows, by="component"), calibrate.interval_coverage(rows)
    )
    assert json.loads(json.dumps(fresh)) == missed


@needs_table
def test_coverage_is_not_true_by_construction(rows):
    """A design whose LUTs are 100x what any other design would predict is not covered: its
    interval comes from the other components only (an in-sample calibration would cover it)."""
    target = "pominiq/DNNonSilicon"
    shifted = [
        dataclasses.replace(r, targets={**r.targets, "lut": 100 * r.targets["lut"]})
        if r.repo == target and r.excluded is None
        else r
        for r in rows
    ]
    cov = calibrate.interval_coverage(shifted)
    mine = [x for x in cov.rows if x["pool"] == "calibrated" and "4x128" in x["design"]]
    assert len(mine) == 3 and not any(x["covered"]["lut"] for x in mine)


@needs_table
def test_fit_cache_is_keyed_on_content_not_ids(rows):
    """Refitting rows with 100x LUT targets must refit (the old cache, keyed on example ids,
    returned the coefficients of the original rows); the order of the rows does not matter."""
    used = [r for r in rows if r.excluded is None]
    base = calibrate.fit_cached(used)
    assert calibrate.fit_cached(list(reversed(used))) is base  # same content, any order
    shifted = [
        dataclasses.replace(r, targets={**r.targets, "lut": 100 * r.targets["lut"]}) for r in used
    ]
    refit = calibrate.fit_cached(shifted)
    assert refit.c_add > 10 * base.c_add  # LUT coefficients follow the 100x targets
    assert refit == calibrate.fit(shifted)


@needs_table
def test_empty_or_single_flagged_pool_gives_no_interval_and_says_so(rows):
    """A table with no flagged design (or one) must not crash (coverage_band(0),
    conformal_bounds([]) did): the pool has no interval and the result says so."""
    used = [r for r in rows if r.excluded is None]
    one_flagged = [*used, next(r for r in rows if r.excluded is not None)]
    for table in (used, one_flagged):
        bounds = calibrate.interval_bounds(table)
        cov = calibrate.interval_coverage(table)
        assert bounds["bounds"]["calibrated"] is not None
    assert bounds["bounds"]["rnn"] is None and any("'rnn'" in n for n in bounds["notes"])
    assert cov.pools["rnn"]["band"] is None and cov.pools["rnn"]["verdict"]["ff"] == "no rows"
    # the single flagged row: no other flagged design to calibrate its pool, no interval
    (flagged_row,) = [x for x in cov.rows if x["pool"] == "flagged"]
    assert flagged_row["missing_pools"] and cov.pools["flagged"]["n_rows_without_interval"] == 1
    empty = calibrate.interval_coverage(used)
    assert (
        empty.pools["flagged"]["n_groups"] == 0 and empty.pools["flagged"]["coverage"]["ff"] is None
    )
