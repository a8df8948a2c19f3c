"""Tests of precml_widgets.stats.two_sample: energy test and per-feature KS tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from precml_widgets.errors import InvalidInputError
from precml_widgets.stats import TwoSampleResult, energy_test, ks_per_feature


def textbook_energy_distance(x, y):
    """Energy distance by explicit O(n²) loops over all pairs (Székely & Rizzo)."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))

    def mean_distance(a, b):
        return sum(np.sqrt(np.sum((ai - bj) ** 2)) for ai in a for bj in b) / (len(a) * len(b))

    return 2 * mean_distance(x, y) - mean_distance(x, x) - mean_distance(y, y)


def test_statistic_matches_textbook_formula():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(7, 3))
    y = rng.normal(0.3, 1.5, size=(5, 3))
    result = energy_test(x, y, n_permutations=19, standardize=False)
    assert result.statistic == pytest.approx(textbook_energy_distance(x, y), rel=1e-12)
    assert (result.n_x, result.n_y, result.n_permutations, result.method) == (7, 5, 19, "energy")


def test_standardize_equals_manual_scaling_and_1d_input():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 2)) * [1.0, 100.0]
    y = rng.normal(size=(8, 2)) * [1.0, 100.0]
    pooled = np.concatenate([x, y])
    mu, sigma = pooled.mean(axis=0), pooled.std(axis=0)
    expected = textbook_energy_distance((x - mu) / sigma, (y - mu) / sigma)
    assert energy_test(x, y, n_permutations=9).statistic == pytest.approx(expected, rel=1e-12)
    one_d = energy_test(x[:, 0], y[:, 0], n_permutations=9, standardize=False)
    assert one_d.statistic == pytest.approx(textbook_energy_distance(x[:, :1], y[:, :1]))


def test_null_calibration_p_values_are_uniform():
    # With B = 99 permutations and continuous data, under the null hypothesis the observed
    # statistic is equally likely to hold any rank among the B + 1 values, so the p-value
    # (1 + #{perm >= obs}) / (B + 1) is uniform on {1/100, ..., 100/100} and
    # P(p <= 0.05) = 5/100 = 0.05 exactly. The number of toys with p <= 0.05 out of n_toys
    # independent toys is then Binomial(n_toys, 0.05); we accept it within the central
    # 99.7 % ("3 sigma") interval of that binomial, between its 0.15 % and 99.85 % quantiles
    # from binom.ppf, so a correctly calibrated test fails this check about 0.3 % of the time
    # (never, in fact, since the toys are seeded). A p-value that is too small under the null
    # (an invalid test) pushes the count above the band, a too conservative one below it.
    n_toys, n_events, alpha = 200, 40, 0.05
    rng = np.random.default_rng(2024)
    p_values = np.array(
        [
            energy_test(
                rng.normal(size=(n_events, 2)),
                rng.normal(size=(n_events, 2)),
                n_permutations=99,
                seed=toy,
            ).p_value
            for toy in range(n_toys)
        ]
    )
    low = stats.binom.ppf(0.0015, n_toys, alpha)
    high = stats.binom.ppf(0.9985, n_toys, alpha)
    n_reject = int(np.sum(p_values <= alpha))
    assert low <= n_reject <= high, (n_reject, low, high)
    assert np.all((p_values > 0) & (p_values <= 1))
    # and the p-values are not piled up anywhere else: the median is near 1/2
    assert 0.4 < np.median(p_values) < 0.6


def test_power_against_half_sigma_shift():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(300, 3))
    y = rng.normal(size=(300, 3))
    y[:, 1] += 0.5
    result = energy_test(x, y, n_permutations=200)
    assert result.p_value < 0.01
    assert result.p_value == pytest.approx(1 / 201)  # no permutation reached it


def test_same_seed_same_result_and_seed_changes_p_value():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(50, 2)), rng.normal(0.1, size=(60, 2))
    first = energy_test(x, y, n_permutations=99, seed=7)
    assert energy_test(x, y, n_permutations=99, seed=7) == first
    other = energy_test(x, y, n_permutations=99, seed=8)
    assert other.statistic == first.statistic
    assert other.p_value != first.p_value


def test_permutations_across_blocks(monkeypatch):
    # Many permutations are evaluated in blocks; the p-value must not depend on the block size.
    from precml_widgets.stats import two_sample

    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(25, 2))
    whole = energy_test(x, y, n_permutations=50, seed=1)
    monkeypatch.setattr(two_sample, "_BLOCK_ENTRIES", 55 * 7)  # blocks of 7 permutations
    assert energy_test(x, y, n_permutations=50, seed=1) == whole
    monkeypatch.setattr(two_sample, "_SMALL_POOL", 0)  # BLAS products instead of einsum
    assert energy_test(x, y, n_permutations=50, seed=1) == whole


def test_p_value_approaches_exact_permutation_p_value():
    # With 3 + 3 events there are only C(6, 3) = 20 assignments: enumerate them all.
    from itertools import combinations

    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(3, 2)), rng.normal(1.5, size=(3, 2))  # exact p = 0.2
    pooled = np.concatenate([x, y])
    observed = textbook_energy_distance(x, y)
    permuted = [
        textbook_energy_distance(pooled[list(c)], np.delete(pooled, list(c), axis=0))
        for c in combinations(range(6), 3)
    ]
    exact = np.mean(np.array(permuted) >= observed - 1e-12)
    result = energy_test(x, y, n_permutations=4000, standardize=False)
    # the Monte Carlo p-value has a standard deviation of at most 0.5 / sqrt(4000) < 0.008
    assert result.p_value == pytest.approx(exact, abs=0.04)


def test_result_to_dict_and_describe():
    result = TwoSampleResult(0.25, 0.01, 10, 20, 99, "energy")
    assert result.to_dict() == {
        "statistic": 0.25,
        "p_value": 0.01,
        "n_x": 10,
        "n_y": 20,
        "n_permutations": 99,
        "method": "energy",
    }
    text = result.describe()
    assert "energy" in text and "p = 0.01" in text and "99 permutations" in text


def test_ks_per_feature_matches_scipy():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(100, 2))
    y = rng.normal(size=(80, 2))
    y[:, 1] += 1.0
    results = ks_per_feature(x, y, names=["pt", "eta"])
    assert list(results) == ["pt", "eta"]
    reference = stats.ks_2samp(x[:, 1], y[:, 1])
    assert results["eta"].statistic == reference.statistic
    assert results["eta"].p_value == reference.pvalue
    assert results["eta"].method == "ks" and results["eta"].n_permutations == 0
    assert results["eta"].p_value < 1e-3 < results["pt"].p_value
    assert list(ks_per_feature(x, y)) == ["x0", "x1"]


@pytest.mark.parametrize("bad", ["x", "y"])
def test_nan_is_rejected_naming_the_sample(bad):
    samples = {"x": np.zeros((5, 2)), "y": np.ones((6, 2))}
    samples[bad][1, 0] = np.nan
    samples[bad][3, 1] = np.inf
    with pytest.raises(InvalidInputError, match=rf"^{bad} contains 2 non-finite"):
        energy_test(samples["x"], samples["y"])
    with pytest.raises(InvalidInputError, match=rf"^{bad} contains 2 non-finite"):
        ks_per_feature(samples["x"], samples["y"])


@pytest.mark.parametrize(
    ("x", "y", "kwargs", "match"),
    [
        (np.zeros((5, 2)), np.zeros((5, 3)), {}, "same number of features"),
        (np.zeros((1, 2)), np.zeros((5, 2)), {}, "x must contain at least 2 events"),
        (np.zeros((5, 2)), np.zeros((5, 2, 1)), {}, "y must have shape"),
        (np.zeros((5, 2)), [["a", "b"]] * 5, {}, "y must be a numeric array"),
        (np.zeros((5, 2)), np.zeros((5, 2)), {"n_permutations": 0}, "n_permutations"),
        (np.zeros((5, 2)), np.zeros((5, 2)), {"seed": -1}, "seed"),
        (np.zeros((15_000, 1)), np.zeros((5_001, 1)), {}, "subsample"),
    ],
)
def test_energy_test_bad_input(x, y, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        energy_test(x, y, **kwargs)


def test_ks_per_feature_bad_names():
    with pytest.raises(InvalidInputError, match="names must hold 2 distinct"):
        ks_per_feature(np.zeros((5, 2)), np.zeros((5, 2)), names=["a"])
    with pytest.raises(InvalidInputError, match="names must be a sequence of strings"):
        ks_per_feature(np.zeros((5, 2)), np.zeros((5, 2)), names="ab")
