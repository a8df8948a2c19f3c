"""Tests of precml_widgets.stats.classifier_check: held-out AUC, its p-value and w(x)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from precml_widgets.errors import InvalidInputError
from precml_widgets.stats import (
    MIN_MAP_COUNT,
    ClassifierCheck,
    RatioMap,
    classifier_check,
)


def test_same_distribution_gives_auc_near_one_half():
    rng = np.random.default_rng(11)
    check = classifier_check(rng.normal(size=(2000, 3)), rng.normal(size=(2000, 3)), seed=3)
    assert isinstance(check, ClassifierCheck)
    assert (check.n_generated, check.n_reference) == (1000, 1000)
    assert check.x_test.shape == (2000, 3)
    assert check.is_reference.sum() == 1000 and not check.is_reference[:1000].any()
    np.testing.assert_array_equal(check.weight_test, 1.0)
    # Null standard error of the AUC for n1 = n2 = 1000: sqrt(2001 / (12 * 1000²)) ≈ 0.0129.
    assert check.auc_error == pytest.approx(np.sqrt(2001 / 12e6))
    # Under the null the held-out AUC is Mann-Whitney U / (n1 n2): mean 0.5, sd auc_error;
    # 4 sd is a two-sided 6e-5 tail, and p > 1e-3 fails a valid test 0.1 % of the time.
    assert abs(check.auc - 0.5) < 4 * check.auc_error
    assert check.p_value > 1e-3
    # w = D / (1 - D) is finite and positive everywhere (D is clipped).
    assert np.all(np.isfinite(check.ratio_test)) and np.all(check.ratio_test > 0)
    assert "AUC = " in check.describe()


def test_same_seed_same_result_and_arrays_read_only():
    rng = np.random.default_rng(5)
    gen, ref = rng.normal(size=(200, 2)), rng.normal(0.3, size=(200, 2))
    first, second = classifier_check(gen, ref, seed=7), classifier_check(gen, ref, seed=7)
    assert first.auc == second.auc and first.p_value == second.p_value
    np.testing.assert_array_equal(first.ratio_test, second.ratio_test)
    with pytest.raises(ValueError, match="read-only"):
        first.ratio_test[0] = 1.0
    # the fitted scikit-learn model is carried, but not printed or compared
    assert first.classifier is not None and "classifier" not in repr(first)
    assert not {f.name: f for f in dataclasses.fields(first)}["classifier"].compare


def test_null_p_values_are_uniform():
    # Given the trained classifier, the held-out labels are exchangeable under the null, so
    # the p-value is (up to the normal approximation and its continuity correction, which
    # make it slightly conservative) uniform. 30 seeded toys with 50 + 50 held-out events:
    # a KS test against U(0, 1) at the lenient level 0.01 catches a gross miscalibration
    # (e.g. evaluating on training events drives p-values towards 0) and passes a valid
    # test 99 % of the time. The count below 0.1 is Binomial(30, 0.1) for a uniform p; its
    # 99.9 % quantile is 9 (binom.ppf(0.999, 30, 0.1)).
    p_values = []
    for seed in range(30):
        rng = np.random.default_rng(100 + seed)
        gen, ref = rng.normal(size=(100, 2)), rng.normal(size=(100, 2))
        p_values.append(classifier_check(gen, ref, seed=seed).p_value)
    p_values = np.array(p_values)
    assert np.all((p_values >= 0) & (p_values <= 1))
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    assert np.count_nonzero(p_values < 0.1) <= stats.binom.ppf(0.999, 30, 0.1)


def test_shift_is_detected_and_ratio_tracks_exact_density_ratio():
    # generated ~ N(0, 1²), reference ~ N(mu, 1²) with mu = (0.5, 0.5): the exact ratio is
    # p_ref / p_gen = exp(x·mu - |mu|²/2), and the Bayes-optimal AUC is Φ(|mu| / √2) = 0.69.
    mu = np.array([0.5, 0.5])
    rng = np.random.default_rng(0)
    gen, ref = rng.normal(size=(10_000, 2)), rng.normal(size=(10_000, 2)) + mu
    check = classifier_check(gen, ref, seed=0)
    # auc_error ≈ 0.0058 here; 0.65 is > 25 null standard errors above 0.5 and below the
    # Bayes-optimal 0.69 that a finite classifier approaches from below.
    assert 0.65 < check.auc < 0.70
    assert check.p_value < 1e-20
    exact_log_ratio = check.x_test @ mu - mu @ mu / 2
    # A boosted tree learns a piecewise-constant, axis-aligned approximation of this
    # diagonal ratio; with 10⁴ events per class its log ratio correlates with the exact one
    # at 0.93-0.95 over seeds 0-3 (0.86-0.90 with 4000 events), so > 0.9 has margin.
    assert np.corrcoef(np.log(check.ratio_test), exact_log_ratio)[0, 1] > 0.9
    # E_gen[w] = 1: the held-out mean over 5000 generated events has statistical sd
    # sqrt((e^{|mu|²} - 1) / 5000) ≈ 0.011, plus a small upward (Jensen) bias of D/(1-D)
    # from noise in D; 0.06 covers both.
    generated = ~check.is_reference
    assert check.ratio_test[generated].mean() == pytest.approx(1.0, abs=0.06)
    # Binned: the mean of w over generated events in a bin estimates P_ref(bin)/P_gen(bin),
    # exactly a product of normal-CDF differences. In the bulk 3 x 3 bins on [-1, 2]² (>= 60
    # generated events each, so statistical errors <= 13 %) the seeded fits deviate by at
    # most 14-27 % over seeds 0-5 (mostly classifier smoothing); allow 30 %, against ratios
    # that range from 0.47 to 2.1 over the map.
    ratio_map = check.ratio_map(dims=(0, 1), bins=3, range_=((-1.0, 2.0), (-1.0, 2.0)))
    edges = ratio_map.edges_x
    per_dim = np.diff(stats.norm.cdf(edges - 0.5)) / np.diff(stats.norm.cdf(edges))
    exact_map = np.outer(per_dim, per_dim)
    np.testing.assert_allclose(ratio_map.mean_ratio, exact_map, rtol=0.3)


def test_weights_that_reweight_generated_onto_reference_give_no_difference():
    # generated ~ U([0, 1]²) weighted by the reference density p_ref(x, y) = 4 x y
    # (reference drawn as sqrt of uniforms): the weighted generated sample has exactly the
    # reference distribution, so AUC ~ 0.5 and w(x) ~ 1.
    n = 5000
    rng = np.random.default_rng(2)
    gen = rng.uniform(size=(n, 2))
    weights = 4.0 * gen[:, 0] * gen[:, 1]
    ref = np.sqrt(rng.uniform(size=(n, 2)))
    check = classifier_check(gen, ref, generated_weights=weights, seed=2)
    np.testing.assert_array_equal(check.weight_test[~check.is_reference] > 0, True)
    # Kish: E[w²] / E[w]² = 16/9 for w = 4xy, so n_eff(generated) ≈ 2500 * 9/16 ≈ 1406 and
    # auc_error ≈ sqrt((1406 + 2500) / (12 · 1406 · 2500)) ≈ 0.0096.
    assert check.auc_error == pytest.approx(0.0096, abs=0.001)
    assert abs(check.auc - 0.5) < 4 * check.auc_error
    assert check.p_value > 1e-3
    # Per 2 x 2 bin the reweighted ratio should be 1; each bin holds >= 300 reference and
    # ~1250 generated held-out events (statistical error <= 6 %) and the seeded fits stay
    # within 0.13 of 1 over seeds 0-5, so 0.2 is a safe band.
    square = ((0.0, 1.0), (0.0, 1.0))
    weighted_map = check.ratio_map(bins=2, range_=square)
    np.testing.assert_allclose(weighted_map.mean_ratio, 1.0, atol=0.2)
    # Control: ignoring the weights, the classifier must see the difference, and its map
    # must follow the exact unweighted bin ratios (0.5 or 1.5 per axis: 0.25 ... 2.25).
    control = classifier_check(gen, ref, seed=2)
    assert control.auc > 0.65
    exact_unweighted = np.outer([0.5, 1.5], [0.5, 1.5])
    np.testing.assert_allclose(
        control.ratio_map(bins=2, range_=square).mean_ratio, exact_unweighted, rtol=0.3
    )


def _toy_check() -> ClassifierCheck:
    rng = np.random.default_rng(4)
    return classifier_check(rng.normal(size=(300, 3)), rng.normal(size=(300, 3)), seed=1)


def test_ratio_map_shapes_counts_and_nan_bins():
    check = _toy_check()
    ratio_map = check.ratio_map(dims=(2, 0), bins=7)
    assert isinstance(ratio_map, RatioMap)
    assert ratio_map.dims == (2, 0)
    assert ratio_map.edges_x.shape == ratio_map.edges_y.shape == (8,)
    assert ratio_map.mean_ratio.shape == ratio_map.counts.shape == (7, 7)
    # The default range spans every held-out event, so every generated one is counted.
    assert ratio_map.counts.sum() == check.n_generated
    sparse = ratio_map.counts < MIN_MAP_COUNT
    assert sparse.any() and (~sparse).any()
    np.testing.assert_array_equal(np.isnan(ratio_map.mean_ratio), sparse)
    assert np.all(ratio_map.mean_ratio[~sparse] > 0)
    # A range that excludes all events gives all-NaN bins and zero counts.
    empty = check.ratio_map(bins=3, range_=((50.0, 60.0), (50.0, 60.0)))
    assert empty.counts.sum() == 0 and np.isnan(empty.mean_ratio).all()
    # One bin holding all generated events is their weighted mean of w.
    whole = check.ratio_map(bins=1)
    generated = ~check.is_reference
    assert whole.mean_ratio[0, 0] == pytest.approx(check.ratio_test[generated].mean())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dims": (0, 0)}, "dims"),
        ({"dims": (0, 3)}, "dims"),
        ({"bins": 0}, "bins"),
        ({"range_": ((1.0, 0.0), (0.0, 1.0))}, "range_"),
        ({"range_": ((0.0, np.nan), (0.0, 1.0))}, "range_"),
    ],
)
def test_ratio_map_bad_arguments(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        _toy_check().ratio_map(**kwargs)


def test_ratio_map_needs_two_features():
    rng = np.random.default_rng(6)
    check = classifier_check(rng.normal(size=100), rng.normal(size=100))
    assert check.x_test.shape == (100, 1)
    with pytest.raises(InvalidInputError, match="at least 2 features"):
        check.ratio_map()


def _sample(n: int = 100, d: int = 2) -> np.ndarray:
    return np.random.default_rng(8).normal(size=(n, d))


def _with(index: tuple[int, int], value: float) -> np.ndarray:
    array = _sample()
    array[index] = value
    return array


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reference": _sample(d=3)}, r"same number of features.*\(100, 2\).*\(100, 3\)"),
        ({"generated": _with((3, 1), np.nan)}, r"generated contains 1 non-finite"),
        ({"reference": _with((0, 0), np.inf)}, r"reference contains 1 non-finite"),
        ({"generated": np.zeros((2, 2, 2))}, r"generated must have shape"),
        ({"generated_weights": np.r_[-1.0, np.ones(99)]}, r"generated_weights .*>= 0.*1 neg"),
        ({"reference_weights": np.zeros(100)}, r"reference_weights are all zero"),
        ({"reference_weights": np.ones(99)}, r"reference_weights must have shape \(100,\)"),
        ({"generated": _sample(n=39)}, r"generated has 39 events.*at least 20"),
        ({"generated": _sample(n=400), "test_fraction": 0.9}, r"reference has 100.*10 train"),
        ({"test_fraction": 0.0}, r"test_fraction .*between 0 and 1, got 0.0"),
        ({"test_fraction": 1.0}, r"test_fraction"),
        ({"test_fraction": True}, r"test_fraction"),
        ({"seed": -1}, r"seed"),
        ({"max_iter": 0}, r"max_iter"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(kwargs, match):
    arguments = {"generated": _sample(), "reference": _sample(), **kwargs}
    generated, reference = arguments.pop("generated"), arguments.pop("reference")
    with pytest.raises(InvalidInputError, match=match):
        classifier_check(generated, reference, **arguments)


def test_log_ratio_is_the_learned_ratio_and_tracks_the_exact_one():
    # reference N(0, 1) vs generated N(1, 1) in 1-D (+ a noise feature): the exact
    # log p_ref / p_gen = 0.5 - x0. The boosted trees learn a step function of x0; on the bulk
    # |x0 - 0.5| < 1.5 its correlation with the exact line was 0.87-0.96 over seeds 0..4
    # (the seed of the samples and of the classifier together); 0.8 leaves a margin.
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(4000, 2))
    gen = rng.normal(size=(4000, 2)) + np.array([1.0, 0.0])
    check = classifier_check(gen, ref, seed=3)
    np.testing.assert_allclose(check.log_ratio(check.x_test), np.log(check.ratio_test))
    grid = np.column_stack([np.linspace(-1.0, 2.0, 200), np.zeros(200)])
    assert np.corrcoef(check.log_ratio(grid), 0.5 - grid[:, 0])[0, 1] > 0.8
    with pytest.raises(InvalidInputError, match="2 features"):
        check.log_ratio(np.zeros((3, 3)))
    bare = ClassifierCheck(0.5, 0.01, 0.5, 10, 10, *[np.zeros(0)] * 4)
    with pytest.raises(InvalidInputError, match="holds no classifier"):
        bare.log_ratio(grid)
