"""Tests of precml_widgets.anomaly.rates: trigger rates, thresholds, CP intervals, ROC curves."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from precml_widgets.anomaly import rates as R
from precml_widgets.anomaly.rates import (
    DEFAULT_INPUT_RATE_HZ,
    LHC_BUNCH_SLOTS,
    LHC_REVOLUTION_HZ,
    BinomialEstimate,
    ScoreSample,
    clopper_pearson,
    efficiency_at_threshold,
    lhc_collision_rate_hz,
    operating_point,
    rate_at_threshold,
    roc_curve,
    roc_points_for_plot,
    threshold_for_rate,
)
from precml_widgets.errors import InvalidInputError

# ----------------------------------------------------------------------------- LHC constants


def test_lhc_rates():
    assert LHC_REVOLUTION_HZ == 11245.5
    assert LHC_BUNCH_SLOTS == 3564
    assert lhc_collision_rate_hz(LHC_BUNCH_SLOTS) == pytest.approx(40.08e6, rel=1e-3)
    assert DEFAULT_INPUT_RATE_HZ == pytest.approx(11245.5 * 2544)
    assert DEFAULT_INPUT_RATE_HZ == pytest.approx(28.6e6, rel=1e-3)
    assert lhc_collision_rate_hz(1) == 11245.5


@pytest.mark.parametrize("bad", [0, -5, 3565, 2544.0, True])
def test_lhc_rate_rejects_bad_bunch_count(bad):
    with pytest.raises(InvalidInputError, match="filled_bunches"):
        lhc_collision_rate_hz(bad)


# ----------------------------------------------------------------------------- ScoreSample


def test_score_sample_basic_and_strictness():
    s = ScoreSample("toy", [3.0, 1.0, 2.0, 2.0, 2.0], description="d", is_real=False)
    assert s.n == len(s) == 5
    assert s.name == "toy" and s.description == "d" and s.is_real is False
    np.testing.assert_array_equal(s.sorted_scores, [1.0, 2.0, 2.0, 2.0, 3.0])
    assert s.sorted_scores.dtype == np.float64
    assert s.min_resolvable_fpr == pytest.approx(0.2)
    # strict '>': the three tied 2.0 events fail a threshold of exactly 2.0
    assert s.n_above(2.0) == 1
    assert s.n_above(np.nextafter(2.0, -np.inf)) == 4
    assert s.n_above(1.0) == 4
    assert s.n_above(0.999) == 5
    assert s.n_above(3.0) == 0
    assert s.n_above(np.inf) == 0 and s.n_above(-np.inf) == 5
    assert s.fraction_above(1.5) == pytest.approx(0.8)
    assert isinstance(s.n_above(1.5), int)


def test_score_sample_vectorised_matches_scalar():
    rng = np.random.default_rng(1)
    s = ScoreSample("v", rng.integers(0, 20, size=500).astype(float))
    ts = np.linspace(-1, 21, 45).reshape(5, 9)
    got = s.n_above(ts)
    assert got.shape == (5, 9)
    expect = np.array([[s.n_above(float(t)) for t in row] for row in ts])
    np.testing.assert_array_equal(got, expect)
    brute = np.array([[int(np.sum(s.sorted_scores > t)) for t in row] for row in ts])
    np.testing.assert_array_equal(got, brute)
    np.testing.assert_allclose(s.fraction_above(ts), brute / 500)


def test_score_sample_copies_and_is_read_only():
    raw = np.array([2.0, 0.0, 1.0])
    s = ScoreSample("c", raw)
    raw[:] = 100.0
    np.testing.assert_array_equal(s.sorted_scores, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError):
        s.sorted_scores[0] = 5.0


def test_label_has_thousands_separator():
    s = ScoreSample("fast-sim dimuon background", np.zeros(1_000_000))
    assert s.label == "fast-sim dimuon background (1,000,000 events)"
    assert ScoreSample("one", [1.0]).label == "one (1 event)"


def test_nan_scores_rejected_with_count_and_name():
    with pytest.raises(InvalidInputError) as exc:
        ScoreSample("my bkg", [1.0, np.nan, 2.0, np.inf, np.nan])
    msg = str(exc.value)
    assert "my bkg" in msg and "3 non-finite" in msg and "2 NaN" in msg
    assert "np.isfinite" in msg


@pytest.mark.parametrize(
    ("scores", "what"),
    [([], "empty"), (np.zeros((3, 2)), "1-D"), (["a", "b"], "numeric")],
)
def test_bad_scores_rejected(scores, what):
    with pytest.raises(InvalidInputError, match=what):
        ScoreSample("s", scores)


def test_bad_name_and_threshold_rejected():
    with pytest.raises(InvalidInputError, match="name"):
        ScoreSample("", [1.0])
    s = ScoreSample("s", [1.0])
    with pytest.raises(InvalidInputError, match="NaN"):
        s.n_above(np.nan)
    with pytest.raises(InvalidInputError, match="NaN"):
        rate_at_threshold(s, float("nan"))


# ----------------------------------------------------------------------------- Clopper-Pearson


def test_cp_textbook_values():
    e = clopper_pearson(0, 10, cl=0.95)
    assert (e.lower, e.value) == (0.0, 0.0)
    assert e.upper == pytest.approx(0.3085, abs=5e-5)
    assert e.upper == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-10)
    e = clopper_pearson(5, 10, cl=0.95)
    assert e.lower == pytest.approx(0.1871, abs=5e-5)
    assert e.upper == pytest.approx(0.8129, abs=5e-5)
    e = clopper_pearson(10, 10, cl=0.95)
    assert e.upper == 1.0 and e.lower == pytest.approx(0.025 ** (1 / 10), rel=1e-10)


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (0, 7), (3, 7), (7, 7), (17, 250)])
@pytest.mark.parametrize("cl", [0.6827, 0.95])
def test_cp_matches_scipy_binomtest(k, n, cl):
    e = clopper_pearson(k, n, cl)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=cl, method="exact")
    assert e.lower == pytest.approx(ref.low, abs=1e-12)
    assert e.upper == pytest.approx(ref.high, abs=1e-12)
    assert e.lower <= e.value <= e.upper
    assert isinstance(e, BinomialEstimate) and e.cl == cl


@pytest.mark.parametrize("p", [0.02, 0.1, 0.3, 0.5])
@pytest.mark.parametrize("cl", [0.6827, 0.95])
def test_cp_coverage_by_toys(p, cl):
    n, ntoys = 50, 4000
    rng = np.random.default_rng(12345)
    ks = rng.binomial(n, p, size=ntoys)
    lo = np.empty(n + 1)
    hi = np.empty(n + 1)
    for k in range(n + 1):
        e = clopper_pearson(k, n, cl)
        lo[k], hi[k] = e.lower, e.upper
    coverage = np.mean((lo[ks] <= p) & (p <= hi[ks]))
    # CP is conservative: its true coverage is >= cl for every p. The toy estimate of the
    # coverage has binomial std sqrt(c(1-c)/ntoys) <= sqrt(cl(1-cl)/ntoys) evaluated at the
    # nominal cl (c >= cl >= 0.5), so a correct interval falls below cl - 3 sigma only with
    # probability ~0.1 %; a non-conservative (e.g. Wald) interval would typically fail.
    tol = 3 * math.sqrt(cl * (1 - cl) / ntoys)
    assert coverage >= cl - tol
    # exact coverage from the binomial pmf must also be >= cl (no statistical slack)
    covered = (lo <= p) & (p <= hi)
    assert stats.binom.pmf(np.arange(n + 1), n, p)[covered].sum() >= cl - 1e-12


@pytest.mark.parametrize(
    ("k", "n", "cl"), [(-1, 5, 0.68), (6, 5, 0.68), (0, 0, 0.68), (1, 5, 1.0), (1, 5, 0.0)]
)
def test_cp_rejects_bad_input(k, n, cl):
    with pytest.raises(InvalidInputError):
        clopper_pearson(k, n, cl)


def test_cp_rejects_float_counts():
    with pytest.raises(InvalidInputError, match="integer"):
        clopper_pearson(1.5, 10)
    assert clopper_pearson(np.int64(2), np.int32(4)).value == 0.5


# ----------------------------------------------------------------------------- rates


def test_rate_at_threshold_hand_case():
    bkg = ScoreSample("toy zero-bias", np.arange(100.0))
    r = rate_at_threshold(bkg, 89.5, input_rate_hz=1000.0, cl=0.95)
    assert (r.n_pass, r.n_total) == (10, 100)
    assert r.fpr.value == pytest.approx(0.1)
    assert r.rate_hz == pytest.approx(100.0)
    ref = clopper_pearson(10, 100, 0.95)
    assert r.rate_lower_hz == pytest.approx(ref.lower * 1000.0)
    assert r.rate_upper_hz == pytest.approx(ref.upper * 1000.0)
    assert r.rate_lower_hz < r.rate_hz < r.rate_upper_hz
    assert r.min_resolvable_fpr == pytest.approx(0.01)
    assert r.upper_limit_fpr is None and r.upper_limit_rate_hz is None
    assert r.sample == "toy zero-bias (100 events)"
    # threshold exactly on a data point: that event fails ('>' is strict)
    assert rate_at_threshold(bkg, 89.0, input_rate_hz=1000.0).n_pass == 10
    assert rate_at_threshold(bkg, 88.999, input_rate_hz=1000.0).n_pass == 11


def test_rate_with_ties_at_threshold():
    bkg = ScoreSample("ties", [0, 1, 1, 1, 2, 3, 3, 4])
    assert rate_at_threshold(bkg, 1.0, input_rate_hz=800.0).rate_hz == pytest.approx(400.0)
    assert rate_at_threshold(bkg, 0.5, input_rate_hz=800.0).rate_hz == pytest.approx(700.0)


def test_rate_default_input_and_describe():
    bkg = ScoreSample("zb", np.arange(10_000.0))
    r = rate_at_threshold(bkg, 9999.0 - 43.0)  # 43 pass
    assert r.n_pass == 43
    assert r.input_rate_hz == DEFAULT_INPUT_RATE_HZ
    assert r.rate_hz == pytest.approx(43 / 10_000 * DEFAULT_INPUT_RATE_HZ)
    text = r.describe()
    assert text.startswith("rate 123 kHz (68% CL [")
    assert "FPR 4.30e-03 × 28.6 MHz input" in text
    assert text.endswith("FPR measured on zb (10,000 events)")


def test_describe_quotes_the_systematic_next_to_the_statistical_interval():
    bkg = ScoreSample("zb", np.arange(10_000.0))
    r = rate_at_threshold(bkg, 9999.0 - 43.0)  # 43 pass: 123 kHz
    text = r.describe((-40e3, 25e3), "kernel width")
    # exact values: 40 kHz and 25 kHz in the rate's unit, after the stat interval
    assert text.startswith("rate 123 kHz (stat 68% CL [")
    assert "kHz) (syst, kernel width +25.0/-40.0 kHz) = FPR 4.30e-03" in text
    assert text.endswith("FPR measured on zb (10,000 events)")
    assert "(syst +0/-0 kHz)" in r.describe((0.0, 0.0))
    # no event passes: the systematic follows the upper limit, in the limit's unit
    ul = rate_at_threshold(bkg, 1e9).describe((0.0, 500.0), "w")
    assert "0 of 10,000 events pass) (syst, w +0.500/-0 kHz) = FPR <" in ul  # limit 3.28 kHz
    for bad in [(1.0, 2.0), (-1.0, -0.5), (float("nan"), 1.0)]:
        with pytest.raises(InvalidInputError, match="systematic_hz"):
            r.describe(bad)


def test_rate_zero_pass_upper_limit():
    n = 1000
    bkg = ScoreSample("zb", np.linspace(0, 1, n))
    r = rate_at_threshold(bkg, 2.0, input_rate_hz=1e6, cl=0.95)
    assert r.n_pass == 0 and r.rate_hz == 0.0 and r.rate_lower_hz == 0.0
    assert r.upper_limit_fpr == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-12)
    assert r.upper_limit_fpr == pytest.approx(3.0 / n, rel=0.01)  # the "rule of three"
    assert r.upper_limit_rate_hz == pytest.approx(r.upper_limit_fpr * 1e6)
    # the two-sided central interval puts only 2.5 % in the upper tail: a larger limit
    assert r.fpr.upper == pytest.approx(1 - 0.025 ** (1 / n), rel=1e-12)
    text = r.describe()
    assert "rate < 2.99 kHz" in text and "0 of 1,000 events pass" in text
    assert "95% CL one-sided" in text


def test_rate_to_dict_is_json_plain():
    bkg = ScoreSample("zb", np.arange(100.0))
    d = rate_at_threshold(bkg, np.float64(89.5), input_rate_hz=1000.0).to_dict()
    back = json.loads(json.dumps(d, allow_nan=False))
    assert back["n_pass"] == 10 and back["rate_hz"] == pytest.approx(100.0)
    assert back["fpr"]["k"] == 10 and back["upper_limit_fpr"] is None
    assert type(d["threshold"]) is float and type(d["n_total"]) is int


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan")])
def test_rate_rejects_bad_input_rate(bad):
    with pytest.raises(InvalidInputError, match="input_rate_hz"):
        rate_at_threshold(ScoreSample("s", [1.0]), 0.0, input_rate_hz=bad)


def test_rate_rejects_non_sample():
    with pytest.raises(InvalidInputError, match="ScoreSample"):
        rate_at_threshold(np.arange(3.0), 1.0)


# ----------------------------------------------------------------------------- threshold_for_rate


@pytest.mark.parametrize(
    ("target", "expected"),
    [(100.0, 3.0), (250.0, 3.0), (300.0, 2.0), (399.0, 2.0), (500.0, 1.0), (700.0, 0.0)],
)
def test_threshold_for_rate_with_ties(target, expected):
    bkg = ScoreSample("ties", [0, 1, 1, 1, 2, 3, 3, 4])  # each event = 100 Hz
    t = threshold_for_rate(bkg, target, input_rate_hz=800.0)
    assert t == expected
    assert rate_at_threshold(bkg, t, input_rate_hz=800.0).rate_hz <= target


def test_threshold_for_rate_everything_passes():
    bkg = ScoreSample("s", [0.0, 1.0, 2.0])
    for target in (300.0, 1e9):
        t = threshold_for_rate(bkg, target, input_rate_hz=300.0)
        assert t < 0.0 and t == np.nextafter(0.0, -np.inf)
        assert rate_at_threshold(bkg, t, input_rate_hz=300.0).n_pass == 3


def test_threshold_for_rate_round_trip_random():
    rng = np.random.default_rng(7)
    # rounded scores create many ties
    bkg = ScoreSample("zb", np.round(rng.exponential(size=5000), 2))
    distinct = np.unique(bkg.sorted_scores)
    rate_in = DEFAULT_INPUT_RATE_HZ
    for target in np.geomspace(rate_in / 5000, rate_in * 0.999, 40):
        t = threshold_for_rate(bkg, float(target), input_rate_hz=rate_in)
        assert t in distinct  # a data point
        assert rate_at_threshold(bkg, t, input_rate_hz=rate_in).rate_hz <= target
        i = int(np.searchsorted(distinct, t))
        if i > 0:  # the next lower data point exceeds the target
            assert rate_at_threshold(bkg, distinct[i - 1], input_rate_hz=rate_in).rate_hz > target


def test_threshold_for_rate_exact_resolution_limit():
    bkg = ScoreSample("zb", np.arange(1000.0))
    rate_in = 28.6e6
    t = threshold_for_rate(bkg, rate_in / 1000, input_rate_hz=rate_in)
    assert t == 998.0
    assert rate_at_threshold(bkg, t, input_rate_hz=rate_in).n_pass == 1


def test_threshold_for_rate_below_resolution_raises():
    bkg = ScoreSample("zb", np.arange(1000.0))
    with pytest.raises(InvalidInputError) as exc:
        threshold_for_rate(bkg, 1000.0, input_rate_hz=28.6e6)  # FPR 3.5e-5 < 1e-3
    msg = str(exc.value)
    assert "1000 Hz" in msg and "28600 Hz" in msg and "zb (1,000 events)" in msg
    assert "28,600" in msg  # ≈ 1/FPR events needed


@pytest.mark.parametrize("bad", [-1.0, 0.0, float("nan"), float("inf")])
def test_threshold_for_rate_rejects_bad_target(bad):
    with pytest.raises(InvalidInputError, match="target_rate_hz"):
        threshold_for_rate(ScoreSample("s", [1.0, 2.0]), bad)


# ----------------------------------------------------------------------------- efficiencies


def test_efficiency_hand_case():
    sig = ScoreSample("sig", np.arange(10.0))
    e = efficiency_at_threshold(sig, 6.0, cl=0.95)
    assert e.sample == "sig (10 events)" and e.threshold == 6.0
    assert (e.efficiency.k, e.efficiency.n) == (3, 10)
    assert e.efficiency.value == pytest.approx(0.3)
    ref = stats.binomtest(3, 10).proportion_ci(confidence_level=0.95, method="exact")
    assert e.efficiency.lower == pytest.approx(ref.low)
    assert json.loads(json.dumps(e.to_dict()))["efficiency"]["k"] == 3


def test_operating_point_rows():
    bkg = ScoreSample("bkg", np.arange(100.0))
    sigs = {"A": ScoreSample("sig A", np.arange(50.0, 150.0)), "B": ScoreSample("B", [1.0])}
    op = operating_point(bkg, sigs, 89.5, input_rate_hz=1000.0, cl=0.9)
    assert op.rate.rate_hz == pytest.approx(100.0)
    assert op.efficiencies["A"].efficiency.k == 60
    assert op.efficiencies["B"].efficiency.k == 0
    rows = op.to_rows()
    assert [r["kind"] for r in rows] == ["background", "signal", "signal"]
    assert [r["key"] for r in rows] == ["background", "A", "B"]
    assert all(r.keys() == rows[0].keys() for r in rows)
    assert rows[0]["fraction"] == pytest.approx(0.1) and rows[0]["rate_hz"] == pytest.approx(100)
    assert rows[1]["fraction"] == pytest.approx(0.6) and rows[1]["rate_hz"] is None
    assert all(r["cl"] == 0.9 for r in rows)
    d = json.loads(json.dumps(op.to_dict(), allow_nan=False))
    assert d["efficiencies"]["A"]["efficiency"]["n"] == 100


def test_operating_point_rejects_bad_signals():
    bkg = ScoreSample("bkg", [1.0])
    with pytest.raises(InvalidInputError, match="mapping"):
        operating_point(bkg, [ScoreSample("s", [1.0])], 0.5)
    with pytest.raises(InvalidInputError, match="ScoreSample"):
        operating_point(bkg, {"s": [1.0, 2.0]}, 0.5)


# ----------------------------------------------------------------------------- ROC


def _mann_whitney_auc(bkg, sig):
    b = np.asarray(bkg, dtype=float)[:, None]
    s = np.asarray(sig, dtype=float)[None, :]
    return float(np.mean((s > b) + 0.5 * (s == b)))


def test_auc_hand_mann_whitney_with_ties():
    bkg, sig = [0.0, 1.0, 2.0, 3.0], [1.5, 2.0, 4.0]
    curve = roc_curve(ScoreSample("b", bkg), ScoreSample("s", sig))
    assert curve.auc == pytest.approx(8.5 / 12)  # (2 + 2.5 + 4) / 12 by hand
    assert curve.auc == pytest.approx(_mann_whitney_auc(bkg, sig))
    rng = np.random.default_rng(3)
    b, s = rng.integers(0, 6, 40), rng.integers(2, 9, 30)  # heavy ties
    c = roc_curve(ScoreSample("b", b), ScoreSample("s", s))
    assert c.auc == pytest.approx(_mann_whitney_auc(b, s))


def test_auc_separated_and_identical():
    rng = np.random.default_rng(11)
    c = roc_curve(ScoreSample("b", rng.normal(size=300)), ScoreSample("s", 10 + rng.random(200)))
    assert c.auc == 1.0
    assert c.tpr_at_fpr(c.min_resolvable_fpr) == 1.0
    n1, n2 = 2000, 3000
    c = roc_curve(ScoreSample("b", rng.normal(size=n2)), ScoreSample("s", rng.normal(size=n1)))
    a = 0.5
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a)) / (n1 * n2)
    assert abs(c.auc - 0.5) <= 3 * math.sqrt(var)  # Hanley & McNeil (1982) std


def test_tpr_at_fpr_step_function():
    bkg = ScoreSample("bkg", np.arange(10.0))
    sig = ScoreSample("sig", [3.5, 5.5, 8.5, 9.5])
    c = roc_curve(bkg, sig)
    assert c.min_resolvable_fpr == pytest.approx(0.1)
    assert c.tpr_at_fpr(0.1) == 0.5  # bkg 9 passes; signal 9.5 and 8.5
    assert c.tpr_at_fpr(0.25) == 0.5
    assert c.tpr_at_fpr(0.39) == 0.5  # no interpolation towards (0.4, 0.75)
    assert c.tpr_at_fpr(0.4) == 0.75
    assert c.tpr_at_fpr(1.0) == 1.0
    with pytest.raises(InvalidInputError, match="resolve"):
        c.tpr_at_fpr(0.05)
    with pytest.raises(InvalidInputError):
        c.tpr_at_fpr(1.5)


def test_roc_thresholds_follow_strict_convention():
    rng = np.random.default_rng(5)
    bkg = ScoreSample("b", np.round(rng.normal(size=400), 1))
    sig = ScoreSample("s", np.round(rng.normal(1.0, size=300), 1))
    c = roc_curve(bkg, sig)
    assert c.fpr[0] == 0.0 and c.tpr[0] == 0.0 and c.fpr[-1] == 1.0 and c.tpr[-1] == 1.0
    assert np.all(np.diff(c.fpr) >= 0) and np.all(np.diff(c.thresholds) < 0)
    for t, f, tp in zip(c.thresholds, c.fpr, c.tpr, strict=True):
        assert bkg.fraction_above(t) == pytest.approx(f, abs=1e-15)
        assert sig.fraction_above(t) == pytest.approx(tp, abs=1e-15)
    with pytest.raises(ValueError):
        c.fpr[0] = 1.0


def test_tpr_at_fpr_agrees_with_threshold_for_rate():
    rng = np.random.default_rng(9)
    bkg = ScoreSample("b", rng.normal(size=2000))
    sig = ScoreSample("s", rng.normal(1.5, size=1000))
    c = roc_curve(bkg, sig)
    for fpr in (0.0005, 0.001, 0.0123, 0.1, 0.5):
        t = threshold_for_rate(bkg, fpr * 1000.0, input_rate_hz=1000.0)
        assert c.tpr_at_fpr(fpr) == efficiency_at_threshold(sig, t).efficiency.value


def test_roc_points_for_plot():
    bkg = ScoreSample("bkg", np.arange(10.0))
    sig = ScoreSample("sig", [3.5, 5.5, 8.5, 9.5])
    c = roc_curve(bkg, sig)
    fpr, tpr = roc_points_for_plot(c)
    assert np.all(fpr > 0) and fpr.shape == tpr.shape
    assert len(fpr) == int(np.sum(c.fpr > 0))
    fpr2, _ = roc_points_for_plot(c, min_fpr=0.35)
    assert np.all(fpr2 >= 0.35) and len(fpr2) < len(fpr)
    fpr[:] = -1  # a copy: the curve is untouched
    assert np.all(c.fpr >= 0)


def test_module_all_is_exported():
    for name in R.__all__:
        assert hasattr(R, name)
