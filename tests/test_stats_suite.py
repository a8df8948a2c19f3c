"""The two-sample interface: toys, p-values, their errors and bounds, the χ² dof fit."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from scipy import stats

from precml_widgets.errors import InvalidInputError
from precml_widgets.stats import suite

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def no_leftover_statistics():
    """The statistics this module registers leave the registry afterwards."""
    yield
    for name in ("test_mean_gap", "test_other", "test_nan"):
        suite.unregister(name)
    assert not any(n.startswith("test_") for n in suite.statistic_names())


#: The squared distance of the two sample means (d = 1): for unit Gaussians with n events
#: each, (mean_r - mean_d)² / (2 / n) is exactly χ² with 1 dof. An independent truth.
MEAN_GAP = suite.Statistic(
    "test_mean_gap",
    lambda r, d: ((r.mean(1) - d.mean(1)) ** 2).sum(-1),
    "squared difference of the sample means (test statistic)",
)


def unit_gaussian(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=(n, 1))


def shifted_gaussian(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.3, 1.0, size=(n, 1))


def test_p_value_counts_toys_at_or_above_and_bounds_when_none_do():
    p = suite.p_value(2.0, [0.0, 1.0, 2.0, 3.0])
    assert (p.exceeding, p.toys, p.upper_bound) == (2, 4, False)
    assert p.value == pytest.approx(3 / 5)
    assert p.mc_error == pytest.approx(np.sqrt(0.6 * 0.4 / 4))
    bound = suite.p_value(1000.0, np.arange(100.0))
    assert bound.upper_bound and bound.value > 0  # never 0: a 95 % CL limit, ~3 / N
    assert bound.value == pytest.approx(1 - 0.05 ** (1 / 100))
    assert "p <" in bound.describe() and "no toy" in bound.describe()
    assert bound.z == pytest.approx(stats.norm.isf(bound.value))


def test_null_toys_follow_the_exact_null_and_fresh_toys_agree():
    """The toy null of MEAN_GAP is n/2 × χ²(1) exactly; fresh null toys follow the same law
    as the null (scipy's two-sample KS: p-values of the fresh toys against ONE finite null
    are not independent uniforms, a one-sample KS of them is oversized ~10-fold). KS tests at
    the 1 % level (seeded: deterministic; a correct implementation fails ≤ 1 % of seeds)."""
    n = 50
    null = suite.null_distribution(
        MEAN_GAP, unit_gaussian, n, n, toys=600, seed=1, serial=True, progress=False
    )
    assert null.values.shape == (600,) and not null.values.flags.writeable
    assert stats.kstest(null.values * n / 2, stats.chi2(1).cdf).pvalue > 0.01
    fresh = suite.null_distribution(
        MEAN_GAP, unit_gaussian, n, n, toys=500, seed=2, serial=True, progress=False
    )
    assert stats.ks_2samp(fresh.values, null.values).pvalue > 0.01


def test_toys_do_not_depend_on_the_scheduler():
    distributed = pytest.importorskip("distributed")
    kwargs = dict(toys=25, seed=3, block=10, progress=False)
    serial = suite.null_distribution(MEAN_GAP, unit_gaussian, 20, 20, serial=True, **kwargs)
    with distributed.Client(processes=False, n_workers=1, dashboard_address=":0") as client:
        dask = suite.null_distribution(MEAN_GAP, unit_gaussian, 20, 20, scheduler=client, **kwargs)
    np.testing.assert_array_equal(serial.values, dask.values)


def test_a_test_against_its_null_and_the_alternative():
    n = 200
    null = suite.null_distribution(
        MEAN_GAP, unit_gaussian, n, n, toys=300, seed=4, serial=True, progress=False
    )
    rng = np.random.default_rng(5)
    result = suite.two_sample_test(MEAN_GAP, unit_gaussian(n, rng), shifted_gaussian(n, rng), null)
    exact = stats.chi2(1).sf(result.observed * n / 2)  # the exact p-value of this statistic
    if result.p.upper_bound:
        assert exact < result.p.value
    else:
        assert abs(result.p.value - exact) < 4 * result.p.mc_error + 1 / 300
    alt = suite.toy_distribution(
        MEAN_GAP,
        unit_gaussian,
        n,
        n,
        sample_data=shifted_gaussian,
        toys=200,
        seed=6,
        serial=True,
        progress=False,
    )
    assert np.median(alt.values) > np.quantile(null.values, 0.9)


def test_fit_chi2_dof_recovers_the_dof():
    values = stats.chi2(9.58).rvs(size=3000, random_state=7)
    dof = suite.fit_chi2_dof(values)
    # the ML estimate's standard error here is ~0.1 (Fisher information): 5 sigma
    assert dof == pytest.approx(9.58, abs=0.5)
    with pytest.raises(InvalidInputError, match="at least 10 positive"):
        suite.fit_chi2_dof([1.0, -1.0] * 10)


@pytest.mark.parametrize(
    ("reference", "data", "match"),
    [
        (np.zeros((10, 2)), np.zeros((10, 3)), "same features"),
        (np.full((10, 1), np.nan), np.zeros((10, 1)), "NaN"),
        (np.zeros((1, 1)), np.zeros((10, 1)), "at least 2"),
        (np.zeros((2, 2, 2)), np.zeros((10, 1)), "shape"),
        ("events.npy", np.zeros((10, 1)), "load the file"),
    ],
)
def test_bad_samples_are_named(reference, data, match):
    with pytest.raises(InvalidInputError, match=match):
        suite.evaluate(MEAN_GAP, reference, data)


def test_unknown_statistic_and_a_null_of_another_test_are_refused():
    with pytest.raises(InvalidInputError, match="statistic must be one of"):
        suite.get_statistic("no such statistic")
    null = suite.null_distribution(
        MEAN_GAP, unit_gaussian, 20, 20, toys=5, serial=True, progress=False
    )
    with pytest.raises(InvalidInputError, match="recompute it"):
        suite.two_sample_test(MEAN_GAP, np.zeros((30, 1)), np.zeros((20, 1)), null)
    other = suite.Statistic("test_other", MEAN_GAP.compute, "another")
    with pytest.raises(InvalidInputError, match="same statistic"):
        suite.two_sample_test(other, np.zeros((20, 1)), np.zeros((20, 1)), null)
    with pytest.raises(InvalidInputError, match="toys"):
        suite.null_distribution(MEAN_GAP, unit_gaussian, 20, 20, toys=0, serial=True)


@pytest.mark.parametrize(
    ("sampler", "match"),
    [
        (lambda n, rng: np.full((n, 1), np.nan), "NaN or infinite"),
        (lambda n, rng: rng.normal(size=(n - 1, 1)), "when asked for"),
        (lambda n, rng: rng.normal(size=(n, 2)), "same features"),
        (lambda n, rng: "events", "not an array of numbers"),
    ],
)
def test_a_broken_data_sampler_is_named(sampler, match):
    with pytest.raises(InvalidInputError, match=match):
        suite.toy_distribution(
            MEAN_GAP,
            unit_gaussian,
            20,
            20,
            sample_data=sampler,
            toys=3,
            serial=True,
            progress=False,
        )


def test_a_statistic_returning_nan_is_refused():
    nan = suite.Statistic("test_nan", lambda r, d: r.mean((1, 2)) * float("nan"), "broken")
    with pytest.raises(InvalidInputError, match="non-finite"):
        suite.null_distribution(nan, unit_gaussian, 20, 20, toys=3, serial=True, progress=False)


def test_extreme_asymptotic_p_values_and_p_equal_one_stay_finite():
    null = suite.NullDistribution("test_mean_gap", np.ones(10), 5, 5, 1, 0, chi2_dof=10.0)
    assert stats.chi2.sf(2000.0, 10.0) == 0.0  # float64 underflows here...
    assert null.chi2_p_value(2000.0) == suite.SMALLEST_P  # ...the bound does not
    one = suite.p_value(-1.0, np.arange(9.0))  # every toy at or above: p = 1
    assert one.value == 1.0 and np.isfinite(one.z) and one.z < 0


def test_toy_blocks_are_sized_to_the_memory_budget():
    assert suite.toy_block_size(10_000, 10_000, 5) == 67  # 256 MiB / (5 × 2e4 × 5 × 8 B)
    assert suite.toy_block_size(20_000, 20_000, 100) == 1


def _normal(d: int):  # type: ignore[no-untyped-def]
    return partial(_normal_events, d=d)


def _normal_events(n: int, rng: np.random.Generator, d: int) -> np.ndarray:
    return rng.normal(size=(n, d))


@pytest.mark.parametrize(("n", "m", "d"), [(137, 91, 1), (60, 75, 3)])
def test_energy_statistic_equals_energy_test_and_scipy(n, m, d):
    from precml_widgets.stats.two_sample import energy_distances, energy_test

    rng = np.random.default_rng(40 + d)
    x, y = rng.normal(size=(n, d)), rng.exponential(size=(m, d))
    # the suite's "energy" is energy_test's statistic (scipy cdist there, torch here)
    expected = energy_test(x, y, n_permutations=1).statistic
    assert suite.evaluate("energy", x, y) == pytest.approx(expected, rel=1e-10)
    raw = float(
        energy_distances(torch.as_tensor(x)[None], torch.as_tensor(y)[None], standardize=False)[0]
    )
    assert raw == pytest.approx(
        energy_test(x, y, n_permutations=1, standardize=False).statistic, rel=1e-10
    )
    if d == 1:  # scipy's energy_distance is the square root of the same V-statistic
        assert raw == pytest.approx(stats.energy_distance(x[:, 0], y[:, 0]) ** 2, rel=1e-10)


def test_energy_blocks_and_batches_give_the_same_values(monkeypatch):
    from precml_widgets.stats import two_sample

    rng = np.random.default_rng(43)
    ref, dat = (
        torch.as_tensor(rng.normal(size=(5, 40, 2))),
        torch.as_tensor(rng.normal(size=(5, 33, 2))),
    )
    whole = two_sample.energy_distances(ref, dat)
    one_by_one = [
        float(two_sample.energy_distances(ref[i : i + 1], dat[i : i + 1])[0]) for i in range(5)
    ]
    np.testing.assert_allclose(whole.numpy(), one_by_one, rtol=1e-12)
    monkeypatch.setattr(two_sample, "_TORCH_BLOCK_ENTRIES", 7 * 73)  # 7 rows, 1 toy per block
    np.testing.assert_allclose(
        two_sample.energy_distances(ref, dat).numpy(), whole.numpy(), rtol=1e-12
    )


@pytest.mark.parametrize(("d", "n", "m"), [(1, 200, 190), (3, 100, 95)])  # 1-D: sorted sums
def test_energy_null_toys_agree_and_a_shift_is_found(d, n, m):
    """500 null toys against an independent 600-toy null: the same law (scipy's two-sample
    KS p > 0.01, a ≤ 1 % false-alarm rate for a correct implementation; fixed seeds)."""
    kw = {"serial": True, "progress": False, "block": 600, "device": "cpu"}
    sample = _normal(d)
    null = suite.null_distribution("energy", sample, n, m, toys=600, seed=44, **kw)
    toys = suite.null_distribution("energy", sample, n, m, toys=500, seed=45, **kw)
    assert stats.ks_2samp(toys.values, null.values).pvalue > 0.01
    assert null.chi2_dof is None and null.options["standardize"] is True
    rng = np.random.default_rng(46)
    result = suite.two_sample_test("energy", sample(n, rng), sample(m, rng) + 0.5, null)
    assert result.p.upper_bound  # a 0.5σ shift in every feature: beyond every null toy


def test_energy_toy_p_value_agrees_with_energy_tests_permutation_p_value():
    """The suite's toy p-value of "energy" (a 2000-toy null from the model) against
    energy_test's permutation p-value (2000 permutations of the pooled sample) on the same
    samples: different calibrations of the same statistic, so equal within their binomial
    errors plus 0.01 for the permutation null being conditional on the pooled sample
    (measured: |difference| ≤ 0.035, 0.011 at p ≈ 0.02). 4σ per pair: a false-alarm rate
    below 1e-3 over the 12 pairs; fixed seeds."""
    from precml_widgets.stats.two_sample import energy_test

    sample, n = _normal(2), 100
    kw = {"serial": True, "progress": False, "block": 2000, "device": "cpu"}
    null = suite.null_distribution("energy", sample, n, n, toys=2000, seed=47, **kw)
    for s in range(12):  # a 0.25σ shift: p from ~0.02 to ~0.6
        rng = np.random.default_rng(100 + s)
        x, y = sample(n, rng), sample(n, rng) + 0.25
        p_toys = suite.two_sample_test("energy", x, y, null).p.value
        p_perm = energy_test(x, y, n_permutations=2000, seed=1).p_value
        sigma = np.sqrt((p_toys * (1 - p_toys) + p_perm * (1 - p_perm)) / 2000)
        assert abs(p_toys - p_perm) <= 4 * sigma + 0.01, (s, p_toys, p_perm)


@pytest.mark.parametrize(
    ("ref_shape", "dat_shape", "match"),
    [
        ((2, 10, 3), (2, 10, 2), "same T and d"),  # was a raw torch RuntimeError
        ((2, 10, 3), (3, 10, 3), "same T and d"),
        ((10, 3), (10, 3), "toy batches"),
        ((2, 0, 3), (2, 10, 3), "n = 0"),  # was nan
        ((2, 10, 3), (2, 0, 3), "m = 0"),
        ((2, 10, 0), (2, 10, 0), "d = 0"),
    ],
)
def test_energy_distances_bad_shapes_are_named(ref_shape, dat_shape, match):
    from precml_widgets.errors import InvalidInputError
    from precml_widgets.stats.two_sample import energy_distances

    with pytest.raises(InvalidInputError, match=match):
        energy_distances(torch.zeros(ref_shape), torch.ones(dat_shape))


def test_energy_distances_non_finite_events_are_named():
    from precml_widgets.errors import InvalidInputError
    from precml_widgets.stats.two_sample import energy_distances

    bad = np.ones((1, 10, 2))
    bad[0, 4, 1] = np.nan  # was a silent nan
    with pytest.raises(InvalidInputError, match="finite"):
        energy_distances(np.zeros((1, 10, 2)), bad)
