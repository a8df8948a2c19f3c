"""Tests of the arXiv:2409.16336 metric suite (precml_widgets.stats.metrics, metrics_kernel).

Every number is checked against an independent computation: scipy (KS, W1, sqrtm), a naive
kernel-matrix MMD in NumPy, closed-form Fréchet distances of known Gaussians.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy import stats
from scipy.spatial.distance import pdist

from precml_widgets.errors import InvalidInputError
from precml_widgets.stats import metrics, suite
from precml_widgets.stats import metrics_kernel as mk

torch = pytest.importorskip("torch")

FAST = ("mean_ks", "sliced_ks", "sliced_wasserstein", "fgd", "fgd_inf", "mmd_poly", "mmd_gaussian")


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64)


def _samples(seed: int, n: int, m: int, d: int, shift: float = 0.3) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(shift, 1.2, size=(m, d))


@pytest.mark.parametrize("rounding", [None, 1])  # 1 decimal: many ties within and across
def test_mean_ks_equals_scipy_per_marginal(rounding: int | None) -> None:
    x, y = _samples(0, 137, 211, 3)
    if rounding is not None:
        x, y = x.round(rounding), y.round(rounding)
    expected = np.mean([stats.ks_2samp(x[:, j], y[:, j]).statistic for j in range(3)])
    assert suite.evaluate("mean_ks", x, y) == pytest.approx(expected, abs=1e-12)


def test_ks_with_pooled_size_past_int32_equals_scipy() -> None:
    """n + m = 50 000: the CPU path counts in int64 there ((n + m)² >= 2³¹)."""
    x, y = _samples(5, 40_000, 10_000, 1)
    x, y = x.round(2), y.round(2)  # ties too
    expected = stats.ks_2samp(x[:, 0], y[:, 0]).statistic
    assert suite.evaluate("mean_ks", x, y, device="cpu") == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("n", "m"), [(150, 150), (150, 97), (40, 301)])
def test_wasserstein_equals_scipy(n: int, m: int) -> None:
    x, y = _samples(1, n, m, 1)
    for a, b in ((x, y), (x.round(1), y.round(1))):
        got = float(metrics.wasserstein_columns(_t(a[:, 0])[None], _t(b[:, 0])[None])[0])
        assert got == pytest.approx(stats.wasserstein_distance(a[:, 0], b[:, 0]), abs=1e-12)


@pytest.mark.parametrize("m", [120, 83])
def test_sliced_statistics_equal_scipy_on_the_stated_directions(m: int) -> None:
    x, y = _samples(2, 120, m, 4)
    u = metrics.random_directions(4, 2 * 4, metrics.DIRECTIONS_SEED)
    px, py = x @ u.T, y @ u.T
    ks = np.mean([stats.ks_2samp(px[:, k], py[:, k]).statistic for k in range(8)])
    w1 = np.mean([stats.wasserstein_distance(px[:, k], py[:, k]) for k in range(8)])
    assert suite.evaluate("sliced_ks", x, y) == pytest.approx(ks, abs=1e-12)
    assert suite.evaluate("sliced_wasserstein", x, y) == pytest.approx(w1, abs=1e-12)


def _naive_mmd(x: np.ndarray, y: np.ndarray, kernel) -> float:  # type: ignore[no-untyped-def]
    n, m = len(x), len(y)
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    return float(
        (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * kxy.mean()
    )


@pytest.mark.parametrize(("n", "m", "d"), [(60, 60, 1), (50, 73, 3), (40, 45, 7)])
def test_mmd_poly_features_equal_naive_kernel_matrix(n: int, m: int, d: int) -> None:
    x, y = _samples(3, n, m, d)
    expected = _naive_mmd(x, y, lambda a, b: (a @ b.T / d + 1.0) ** 4)
    for method in ("features", "kernel"):
        got = float(mk.mmd_polynomial(_t(x)[None], _t(y)[None], method=method)[0])
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-10)
    assert suite.evaluate("mmd_poly", x, y) == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_mmd_gaussian_equals_naive_with_median_bandwidth() -> None:
    x, y = _samples(4, 25, 25, 3)  # 50 pooled events: 1225 pairs, an odd count
    sigma = float(np.median(pdist(np.vstack([x, y]))))
    assert float(mk.median_bandwidth(_t(x)[None], _t(y)[None])[0]) == pytest.approx(sigma)
    gauss = lambda a, b: np.exp(-scipy.spatial.distance.cdist(a, b, "sqeuclidean") / (2 * sigma**2))  # noqa: E731
    assert suite.evaluate("mmd_gaussian", x, y) == pytest.approx(_naive_mmd(x, y, gauss), abs=1e-12)


def test_median_bandwidth_lower_median_with_ties_and_chunks(monkeypatch) -> None:
    # 2 x 3 toys of 7 + 5 discrete events: 66 pairs (an even count), many tied distances
    rng = np.random.default_rng(13)
    x, y = rng.integers(0, 3, size=(3, 7, 2)) * 1.0, rng.integers(0, 3, size=(3, 5, 2)) * 1.0
    expected = [np.sort(pdist(np.vstack([x[t], y[t]])))[(66 + 1) // 2 - 1] for t in range(3)]
    np.testing.assert_array_equal(mk.median_bandwidth(_t(x), _t(y)).numpy(), expected)
    monkeypatch.setattr(mk, "_BLOCK_ELEMENTS", 1)  # one toy per chunk: same values
    np.testing.assert_array_equal(mk.median_bandwidth(_t(x), _t(y)).numpy(), expected)


def test_mmd_gaussian_zero_median_distance_is_an_error_and_bandwidth_works() -> None:
    # over half of the pooled pairs identical (a discrete feature): the median heuristic is 0
    x = np.zeros((30, 2))
    x[:3] = 1.0
    y = np.zeros((30, 2))
    with pytest.raises(InvalidInputError, match="bandwidth"):
        mk.mmd_gaussian(_t(x)[None], _t(y)[None])
    with pytest.raises(InvalidInputError, match="bandwidth"):
        mk.mmd_gaussian(_t(x)[None], _t(y)[None], bandwidth=0.0)
    gauss = lambda a, b: np.exp(-scipy.spatial.distance.cdist(a, b, "sqeuclidean") / 2)  # noqa: E731
    got = float(mk.mmd_gaussian(_t(x)[None], _t(y)[None], bandwidth=1.0)[0])
    assert got == pytest.approx(_naive_mmd(x, y, gauss), abs=1e-12)


def test_kernel_sums_in_small_row_and_column_blocks(monkeypatch) -> None:
    # a 40-element block budget splits the 2 toys' 33 x 41 kernel matrices in rows and columns
    x, y = _samples(14, 33, 41, 2)
    gauss = lambda a, b: np.exp(-scipy.spatial.distance.cdist(a, b, "sqeuclidean") / 2)  # noqa: E731
    poly = lambda a, b: (a @ b.T / 2 + 1.0) ** 4  # noqa: E731
    expected = [_naive_mmd(x, y, gauss), _naive_mmd(x, y, poly)]
    xb, yb = _t(np.stack([x, x])), _t(np.stack([y, y]))
    monkeypatch.setattr(mk, "_BLOCK_ELEMENTS", 40)
    got = mk.mmd_gaussian(xb, yb, bandwidth=1.0), mk.mmd_polynomial(xb, yb, method="kernel")
    for value, truth in zip(got, expected, strict=True):
        np.testing.assert_allclose(value.numpy(), [truth, truth], rtol=1e-12, atol=1e-13)


def test_fgd_inf_chunked_over_toys_equals_one_call(monkeypatch) -> None:
    g = torch.Generator().manual_seed(15)
    x = torch.randn(5, 90, 4, generator=g, dtype=torch.float64)
    y = 0.1 + torch.randn(5, 80, 4, generator=g, dtype=torch.float64)
    whole = mk.frechet_gaussian_distance_inf(x, y)
    monkeypatch.setattr(mk, "_BLOCK_ELEMENTS", 320)  # B d² = 320: 1 toy/chunk, 4 events/block
    torch.testing.assert_close(
        mk.frechet_gaussian_distance_inf(x, y), whole, rtol=1e-12, atol=1e-13
    )


def test_ks_and_w1_chunked_equal_batched_and_scipy(monkeypatch) -> None:
    rng = np.random.default_rng(16)
    a, b = rng.normal(size=(3, 5, 40)).round(1), rng.normal(0.2, 1.0, size=(3, 5, 33)).round(1)
    ks = [[stats.ks_2samp(a[t, k], b[t, k]).statistic for k in range(5)] for t in range(3)]
    w1 = [[stats.wasserstein_distance(a[t, k], b[t, k]) for k in range(5)] for t in range(3)]
    for rows in (None, 1, 4, 7):  # chunks across and within toys; transposed views too
        for ta, tb in ((_t(a), _t(b)), (_t(a).mT.contiguous().mT, _t(b).mT.contiguous().mT)):
            np.testing.assert_allclose(metrics.ks_columns(ta, tb, rows=rows), ks, atol=1e-15)
            got = metrics.wasserstein_columns(ta, tb, rows=rows)
            np.testing.assert_allclose(got, w1, rtol=1e-13, atol=1e-15)
    x, y = _samples(17, 60, 50, 3)
    whole = [suite.evaluate(name, x, y) for name in ("sliced_ks", "sliced_wasserstein")]
    monkeypatch.setattr(metrics, "_BUDGET_BYTES", 1)  # one toy, one projection per chunk
    for name, value in zip(("sliced_ks", "sliced_wasserstein"), whole, strict=True):
        assert suite.evaluate(name, x, y) == pytest.approx(value, abs=1e-15)


def _closed_form_fgd(mu1, cov1, mu2, cov2) -> float:  # type: ignore[no-untyped-def]
    root = scipy.linalg.sqrtm(cov1 @ cov2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1 + cov2 - 2 * root))


def test_frechet_from_moments_equals_scipy_sqrtm_formula() -> None:
    rng = np.random.default_rng(5)
    for d in (1, 3, 8):
        a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
        cov1, cov2 = a @ a.T + 0.1 * np.eye(d), b @ b.T
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        got = float(mk.frechet_from_moments(_t(mu1), _t(cov1), _t(mu2), _t(cov2)))
        assert got == pytest.approx(_closed_form_fgd(mu1, cov1, mu2, cov2), rel=1e-9, abs=1e-10)
    # a singular covariance (rank 1) stays finite and exact: N(0, diag(1, 0)) vs N(0, I)
    sing, eye = np.diag([1.0, 0.0]), np.eye(2)
    assert float(mk.frechet_from_moments(_t(np.zeros(2)), _t(sing), _t(np.zeros(2)), _t(eye))) == (
        pytest.approx(1.0, abs=1e-12)
    )


def test_fgd_of_large_gaussian_samples_approaches_closed_form() -> None:
    rng = np.random.default_rng(6)
    mu1, mu2 = np.zeros(3), np.array([0.5, -0.3, 0.2])
    cov1 = np.array([[1.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 1.0]])
    cov2 = np.diag([1.5, 0.8, 1.2])
    truth = _closed_form_fgd(mu1, cov1, mu2, cov2)
    x = rng.multivariate_normal(mu1, cov1, size=40_000)
    y = rng.multivariate_normal(mu2, cov2, size=40_000)
    # statistical error of FGD here is ~0.01 (delta method); 0.04 is 4 sigma
    assert suite.evaluate("fgd", x, y) == pytest.approx(truth, abs=0.04)
    assert suite.evaluate("fgd_inf", x, y) == pytest.approx(truth, abs=0.04)


def test_fgd_inf_removes_the_finite_sample_bias() -> None:
    # null toys, n = 300, d = 3: FGD is biased upwards by O(d / n); FGD∞ is not
    g = torch.Generator().manual_seed(7)
    x = torch.randn(200, 300, 3, generator=g, dtype=torch.float64)
    y = torch.randn(200, 300, 3, generator=g, dtype=torch.float64)
    fgd, inf = mk.frechet_gaussian_distance(x, y), mk.frechet_gaussian_distance_inf(x, y)
    assert float(fgd.mean()) > 10 * float(fgd.std()) / np.sqrt(200)
    assert abs(float(inf.mean())) < 4 * float(inf.std()) / np.sqrt(200)  # 4 sigma
    sizes = np.array(mk.fgd_batch_sizes(300, 500))  # the authors' 10 sizes from 100 to 300
    assert len(sizes) == 10 and sizes[0] == 100 and sizes[-1] == 300
    np.testing.assert_allclose(1 / sizes, np.linspace(1 / 100, 1 / 300, 10), rtol=0.01)


def _log_normal(mu: float):  # type: ignore[no-untyped-def]
    return lambda x: -0.5 * ((x - mu) ** 2).sum(-1)


@pytest.mark.parametrize("name", [*FAST, "lr", "classifier"])
def test_batched_equals_one_at_a_time(name: str) -> None:
    stat = (
        metrics.likelihood_ratio_statistic(_log_normal(0.0), _log_normal(0.3))
        if name == "lr"
        else suite.get_statistic(name)
    )
    g = torch.Generator().manual_seed(8)
    x = torch.randn(3, 80, 3, generator=g, dtype=torch.float64)
    y = 0.2 + torch.randn(3, 90, 3, generator=g, dtype=torch.float64)
    batched = stat.compute(x, y)
    single = torch.cat([stat.compute(x[t : t + 1], y[t : t + 1]) for t in range(3)])
    assert batched.shape == (3,) and batched.dtype == torch.float64
    torch.testing.assert_close(batched, single, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    ("reference", "data", "message"),
    [
        (np.zeros((20, 2)), np.zeros((20, 3)), "same features"),
        (np.zeros((20, 2)), np.full((20, 2), np.nan), "data"),
        (np.zeros((5, 2)), np.zeros((20, 2)), "at least 10"),
    ],
)
def test_bad_input_is_invalid_input_error(reference, data, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match=message):
        suite.evaluate("fgd_inf", reference, data)


def test_unknown_name_and_bad_factories() -> None:
    with pytest.raises(InvalidInputError, match="sliced_wasserstein"):
        suite.evaluate("sliced_wassertein", np.zeros((5, 1)), np.zeros((5, 1)))
    with pytest.raises(InvalidInputError, match="callables"):
        metrics.likelihood_ratio_statistic(0.0, _log_normal(0.0))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="test_fraction"):
        metrics.classifier_statistic(test_fraction=1.0)


def _normal3(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=(n, 3))


def _uniformity_p(stat: str | suite.Statistic, n: int = 200, m: int = 190) -> float:
    """Two-sample KS p-value of 500 null toys against an independent 600-toy null (the
    p-values of the toys against ONE finite null are not independent uniforms)."""
    kw = {"serial": True, "progress": False, "block": 600}
    # n != m: KS values are multiples of 1 / (n m), so ties (a discrete null) are rare
    null = suite.null_distribution(stat, _normal3, n, m, toys=600, seed=11, **kw)
    toys = suite.null_distribution(stat, _normal3, n, m, toys=500, seed=12, **kw)
    return float(stats.ks_2samp(toys.values, null.values).pvalue)


# Under the null, fresh toys follow the null's law. Each check fails with probability ≤ 1 %
# for a correct implementation (ks_2samp p > 0.01); the seeds are fixed (reproducible).
@pytest.mark.parametrize("name", [*FAST, "lr"])
def test_null_p_values_are_uniform(name: str) -> None:
    stat = (
        metrics.likelihood_ratio_statistic(_log_normal(0.0), _log_normal(0.3))
        if name == "lr"
        else name
    )
    # the two O(n²)-per-toy or 400-eigendecompositions-per-toy statistics at half size (CI time)
    n, m = (100, 95) if name in ("mmd_gaussian", "fgd_inf") else (200, 190)
    assert _uniformity_p(stat, n, m) > 0.01


@pytest.mark.validation
def test_null_p_values_are_uniform_classifier() -> None:
    # 1500 classifier fits (about a minute): outside CI; same 1 % false-alarm rate, fixed seeds
    assert _uniformity_p(metrics.classifier_statistic(max_iter=50)) > 0.01


@pytest.mark.gpu
@pytest.mark.parametrize("name", FAST)
def test_cuda_equals_cpu(name: str) -> None:
    # the CUDA paths sort with torch.sort (the CPU paths with NumPy): same values
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    x, y = _samples(9, 150, 130, 3)
    x[:20], y[:20] = x[:20].round(1), y[:20].round(1)  # ties within and across samples
    cpu = suite.evaluate(name, x, y, device="cpu")
    assert suite.evaluate(name, x, y, device="cuda") == pytest.approx(cpu, rel=1e-9, abs=1e-12)
