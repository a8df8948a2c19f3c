"""NPLM, kernel and neural: optimum reached, closed forms, sensitivity, bad input, calibration."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.spatial.distance import cdist, pdist

from precml_widgets.errors import InvalidInputError
from precml_widgets.stats import suite
from precml_widgets.stats.nplm import (
    KERNEL_DEFAULTS,
    NEURAL_DEFAULTS,
    kernel_statistic,
    neural_statistic,
    nplm_kernel,
    nplm_neural,
    prepare_reference,
)
from precml_widgets.stats.nplm_benchmark import (
    PUBLISHED,
    BenchmarkConfig,
    benchmark_toy,
    chi2_compatibility,
    ideal_t,
    run_benchmark,
    sample_data,
)

#: Small fits: one torch thread (conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _gram(x: np.ndarray, c: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian kernel from scipy's distances (independent of the torch code)."""
    return np.exp(-cdist(x, c, "sqeuclidean") / (2 * sigma**2))


def _samples(seed: int, n_ref: int = 4000, m: int = 400, bump: int = 0, at: float = 0.6):
    rng = np.random.default_rng(seed)
    ref = rng.exponential(1 / 8, (n_ref, 1))
    dat = np.concatenate([rng.exponential(1 / 8, m), rng.normal(at, 0.03, bump)])[:, None]
    return ref, dat


def test_kernel_gradient_of_regularised_loss_vanishes() -> None:
    ref, dat = _samples(0, bump=40)
    lam = 1e-8
    res = nplm_kernel(ref, dat, centres=80, lam=lam, seed=1)
    f = res.f
    c, a, w = f.centres, f.alpha, res.n_expected / len(ref)
    k_r, k_d = _gram(ref, c, f.sigma), _gram(dat, c, f.sigma)
    grad = (
        k_r.T @ (w * np.exp(k_r @ a))
        - k_d.sum(0)
        + 2 * lam * (len(ref) + len(dat)) * (_gram(c, c, f.sigma) @ a)
    )
    scale = np.abs(k_d.sum(0)).max()
    assert res.converged
    assert np.abs(grad).max() < 1e-6 * scale
    # f on the data and t agree with the scipy-built kernel
    np.testing.assert_allclose(res.f_data, k_d @ a, rtol=0, atol=1e-7)
    t = 2 * (np.sum(k_d @ a) - w * np.sum(np.expm1(k_r @ a)))
    assert res.t == pytest.approx(t, rel=1e-6)


def test_kernel_matches_an_independent_optimiser() -> None:
    """L-BFGS over α (scipy) on a small, well-conditioned problem reaches the same t."""
    ref, dat = _samples(2, n_ref=2000, m=200, bump=20)
    lam, sigma = 1e-6, 0.08
    c = np.linspace(0.0, 0.66, 7)[:, None]  # 1.4 σ apart: K_MM well conditioned
    res = nplm_kernel(ref, dat, centres=c, sigma=sigma, lam=lam)
    k_r, k_d, k_c = _gram(ref, c, sigma), _gram(dat, c, sigma), _gram(c, c, sigma)
    w, pen = res.n_expected / len(ref), lam * (len(ref) + len(dat))

    def obj(a: np.ndarray) -> float:
        return np.sum(w * np.expm1(k_r @ a)) - np.sum(k_d @ a) + pen * a @ k_c @ a

    def jac(a: np.ndarray) -> np.ndarray:
        return k_r.T @ (w * np.exp(k_r @ a)) - k_d.sum(0) + 2 * pen * k_c @ a

    def hess(a: np.ndarray) -> np.ndarray:
        return (k_r * (w * np.exp(k_r @ a))[:, None]).T @ k_r + 2 * pen * k_c

    best = minimize(obj, np.zeros(len(c)), jac=jac, hess=hess, method="trust-exact")
    assert best.success
    a = best.x
    t = 2 * (np.sum(k_d @ a) - w * np.sum(np.expm1(k_r @ a)))
    assert res.t == pytest.approx(t, rel=1e-6)
    np.testing.assert_allclose(res.f.alpha, a, rtol=1e-4, atol=1e-4 * np.abs(a).max())


def test_constant_ratio_gives_the_poisson_likelihood_ratio() -> None:
    """Reference = 5 copies of the data: the optimum over all f is the constant log(m/N(0)),
    which a wide kernel represents; t is then the exact Poisson log-likelihood ratio."""
    rng = np.random.default_rng(4)
    dat = rng.uniform(0, 1, (300, 1))
    ref = np.tile(dat, (5, 1))
    n0 = 250.0
    res = nplm_kernel(ref, dat, reference_weight=n0 / len(ref), centres=50, sigma=5.0, lam=1e-14)
    m = len(dat)
    exact = 2 * (m * np.log(m / n0) - (m - n0))
    assert res.t == pytest.approx(exact, rel=1e-6)
    np.testing.assert_allclose(res.f_data, np.log(m / n0), atol=1e-5)


def test_signal_raises_t_and_f_peaks_at_the_signal() -> None:
    ref, null = _samples(5, n_ref=20000, m=2000)
    _, sig = _samples(5, n_ref=20000, m=2000, bump=80)
    prepared = prepare_reference(ref, centres=300, sigma=0.1, seed=0)
    t_null, res = prepared.fit(null).t, prepared.fit(sig)
    assert res.t > t_null + 20
    grid = np.linspace(0.0, 1.0, 201)
    f = res.f(grid)
    assert abs(grid[np.argmax(f)] - 0.6) < 0.08
    assert f[120] - f[40] > 1.0  # f(0.6) - f(0.2): a large excess where the signal is


def test_hyperparameters_are_stated_and_sigma_follows_the_percentile_rule() -> None:
    ref, dat = _samples(6, n_ref=1500, m=150)
    res = nplm_kernel(ref, dat, centres=40, lam=1e-9)
    hp = res.hyperparameters
    for key in ("M", "sigma", "sigma_rule", "lam", "loss", "rank", "centres_rule", "penalty"):
        assert key in hp
    assert (hp["M"], hp["lam"], hp["loss"]) == (40, 1e-9, "nplm")
    assert hp["sigma"] == pytest.approx(np.percentile(pdist(ref), 90), rel=1e-12)
    assert res.n_expected == pytest.approx(len(dat))  # N(0) = m by default
    assert res.iterations >= 1 and res.convergence["decrement"] < 1e-9
    assert "M=40" in res.describe()


def test_logistic_loss_also_detects_the_signal() -> None:
    ref, null = _samples(7, n_ref=10000, m=1000)
    _, sig = _samples(7, n_ref=10000, m=1000, bump=60)
    kw = {"centres": 200, "sigma": 0.1, "loss": "logistic"}
    assert nplm_kernel(ref, sig, **kw).t > nplm_kernel(ref, null, **kw).t + 10


def test_neural_version_learns_the_bump() -> None:
    ref, null = _samples(8, n_ref=2000, m=200)
    _, sig = _samples(8, n_ref=2000, m=200, bump=40)
    kw = {"epochs": 200, "learning_rate": 0.05, "seed": 1}
    res = nplm_neural(ref, sig, **kw)
    assert res.t > nplm_neural(ref, null, **kw).t + 10
    assert res.f(np.array([0.6]))[0] > res.f(np.array([0.2]))[0] + 1.0
    hp = res.hyperparameters
    assert (hp["hidden"], hp["clip"], hp["epochs"], hp["architecture"]) == ((4,), 9.0, 200, "1-4-1")
    assert all(np.abs(w).max() <= 9.0 for w in res.f.weights)
    np.testing.assert_allclose(res.f(sig), res.f_data, rtol=1e-10, atol=1e-12)


def test_registered_statistics() -> None:
    for name in ("nplm_kernel", "nplm_neural"):
        stat = suite.get_statistic(name)
        assert stat.asymptotic_chi2 and stat.options
    ref, dat = _samples(9, n_ref=600, m=60, bump=10)
    direct = nplm_kernel(ref, dat, centres=500, lam=KERNEL_DEFAULTS["lam"], seed=0).t
    assert suite.evaluate("nplm_kernel", ref, dat, device="cpu") == pytest.approx(direct)
    # the suite computes under torch.no_grad(): the neural fit must still train (review #1)
    neural = nplm_neural(ref, dat, **NEURAL_DEFAULTS)
    assert neural.converged  # the registered defaults converge here: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        via_suite = suite.evaluate("nplm_neural", ref, dat, device="cpu")
    assert via_suite == pytest.approx(neural.t)
    # a variant with its own options, through the suite by object
    fast = neural_statistic("nplm_neural_test", epochs=50)
    assert fast.options["epochs"] == 50 and fast.name == "nplm_neural_test"
    expected = nplm_neural(ref, dat, **{**NEURAL_DEFAULTS, "epochs": 50}).t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 50 epochs may stop mid-descent
        assert suite.evaluate(fast, ref, dat, device="cpu") == pytest.approx(expected)
    small = kernel_statistic("nplm_kernel_test", centres=20)
    direct = nplm_kernel(ref, dat, centres=20, lam=KERNEL_DEFAULTS["lam"], seed=0).t
    assert suite.evaluate(small, ref, dat, device="cpu") == pytest.approx(direct)


def _net_loss(
    theta: np.ndarray, xr: np.ndarray, w: float, xd: np.ndarray
) -> tuple[float, np.ndarray]:
    """The NPLM loss of a 1-H-1 sigmoid network and its gradient, in NumPy (independent of
    the torch code): theta = (w1, b1, w2, b2) with shapes (H,), (H,), (H,), (1,)."""
    h_n = (len(theta) - 1) // 3
    w1, b1, w2, b2 = theta[:h_n], theta[h_n : 2 * h_n], theta[2 * h_n : 3 * h_n], theta[-1]

    def grads(x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = 1.0 / (1.0 + np.exp(-(x[:, None] * w1 + b1)))
        f = h @ w2 + b2
        g = g(f)  # dL/df per event
        s = g[:, None] * h * (1.0 - h) * w2
        grad = np.concatenate([(s * x[:, None]).sum(0), s.sum(0), g @ h, [g.sum()]])
        return f, grad

    f_r, g_r = grads(xr, lambda f: w * np.exp(f))
    f_d, g_d = grads(xd, lambda f: -np.ones_like(f))
    return float(np.sum(w * np.expm1(f_r)) - np.sum(f_d)), g_r + g_d


def _scipy_best_t(ref: np.ndarray, dat: np.ndarray, clip: float, out: float, h_n: int) -> float:
    """The largest t that L-BFGS-B (scipy, analytic NumPy gradient, 6 random starts) finds
    over a 1-H-1 network on the reference-standardised inputs, |w| <= clip in the first layer
    and <= out in the output layer."""
    mu, sd = ref.mean(), ref.std()
    xr, xd, w = (ref - mu) / sd, (dat - mu) / sd, len(dat) / len(ref)
    bounds = [(-clip, clip)] * h_n + [(None, None)] * h_n + [(-out, out)] * h_n + [(None, None)]
    starts = np.random.default_rng(100)
    best = min(
        minimize(
            _net_loss,
            np.concatenate([starts.uniform(-1, 1, 2 * h_n), starts.uniform(-0.5, 0.5, h_n), [0]]),
            args=(xr, w, xd),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 5000, "ftol": 1e-12, "gtol": 1e-9},
        ).fun
        for _ in range(6)
    )
    return -2.0 * best


def test_converged_neural_fit_is_near_the_maximum_found_by_scipy() -> None:
    """Exponential reference, data with a longer tail (a smooth, easy log-ratio), compared
    with the best t of L-BFGS-B over the same network and weight bounds (:func:`_scipy_best_t`).

    With the output layer clipped at 1 the bounded problem's maximum is reached: t within 2 %.
    At the registered output clip 9 the fit meets the convergence rule on a slow plateau:
    t = 27.98 against scipy's 30.20 (7.4 % below; 4000 epochs at 0.05 reach 29.3, with the
    output weights still growing). The rule guards against stopping mid-descent, not against
    such a plateau (nplm.py says so); the test bounds the gap at 10 %."""
    rng = np.random.default_rng(0)
    ref, dat = rng.exponential(1.0, 2000), rng.exponential(1.4, 200)
    clip, h_n = NEURAL_DEFAULTS["clip"], NEURAL_DEFAULTS["hidden"][0]
    for out, rel in ((1.0, 0.02), (NEURAL_DEFAULTS["output_clip"], 0.10)):
        res = nplm_neural(ref, dat, **{**NEURAL_DEFAULTS, "output_clip": out})
        assert res.converged
        assert res.convergence["t_spread"] <= res.convergence["tolerance"]
        assert res.convergence["tolerance"] == pytest.approx(0.05 + 0.005 * res.t)
        t_scipy = _scipy_best_t(ref, dat, clip, out, h_n)
        assert t_scipy * (1 - rel) <= res.t <= t_scipy + 1e-6  # scipy's best of 6 is larger
    # standardised inputs: f takes raw x and reproduces f on the data
    np.testing.assert_allclose(res.f(dat), res.f_data, rtol=1e-10, atol=1e-12)
    assert res.hyperparameters["standardize"] is True


def test_absurdly_short_training_is_not_converged() -> None:
    rng = np.random.default_rng(3)
    ref, dat = rng.exponential(1.0, 2000), rng.exponential(1.4, 200)
    res = nplm_neural(ref, dat, **{**NEURAL_DEFAULTS, "epochs": 2})
    assert not res.converged
    assert res.convergence["t_spread"] > res.convergence["tolerance"]
    assert res.convergence["tail_epochs"] == 2
    assert "NOT converged" in res.describe()


def test_registered_statistics_count_non_converged_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fit stopped early enters the toys with a warning naming how many; a diverged fit
    (t not finite, refused by the fit) raises instead of giving t = nan."""
    ref, dat = _samples(14, n_ref=200, m=40)
    monkeypatch.setitem(NEURAL_DEFAULTS, "epochs", 2)
    with pytest.warns(RuntimeWarning, match="1 of 1 fits did not converge"):
        suite.evaluate("nplm_neural", ref, dat, device="cpu")
    monkeypatch.setitem(NEURAL_DEFAULTS, "learning_rate", 1e6)
    monkeypatch.setitem(NEURAL_DEFAULTS, "epochs", 50)
    with pytest.raises(InvalidInputError):
        suite.evaluate("nplm_neural", ref, dat, device="cpu")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reference_weight": -0.1}, "reference_weight"),
        ({"reference_weight": 0.0}, "reference_weight"),
        ({"centres": 10_000}, "centres"),
        ({"loss": "hinge"}, "loss"),
        ({"sigma": 0.0}, "sigma"),
        ({"lam": -1.0}, "lam"),
    ],
)
def test_bad_options_raise(kwargs: dict, match: str) -> None:
    ref, dat = _samples(10, n_ref=300, m=30)
    with pytest.raises(InvalidInputError, match=match):
        nplm_kernel(ref, dat, centres=kwargs.pop("centres", 20), **kwargs)


def test_bad_samples_raise() -> None:
    ref, dat = _samples(11, n_ref=300, m=30)
    bad = dat.copy()
    bad[3] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        nplm_kernel(ref, bad, centres=20)
    with pytest.raises(InvalidInputError, match="same features"):
        nplm_kernel(ref, np.hstack([dat, dat]), centres=20)
    with pytest.raises(InvalidInputError, match="at least"):
        nplm_kernel(ref, dat[:1], centres=20)
    with pytest.raises(InvalidInputError, match="reference_weight"):
        nplm_neural(ref, dat, reference_weight=np.full(len(ref), -1.0), epochs=1)
    with pytest.raises(InvalidInputError, match="hidden"):
        nplm_neural(ref, dat, hidden=(), epochs=1)


def test_chunked_hessian_equals_the_dense_product() -> None:
    """Row-block accumulation of Φᵀ diag(h) Φ (review: no full copy of Φ_R) = numpy's product."""
    import torch

    from precml_widgets.stats.nplm_kernel import weighted_gram

    rng = np.random.default_rng(12)
    phi, h = rng.normal(size=(1000, 5)), rng.exponential(size=1000)
    want = np.einsum("ni,n,nj->ij", phi, h, phi)
    for rows in (7, None):  # many blocks and a tail; one block
        got = weighted_gram(torch.as_tensor(phi), torch.as_tensor(h), rows).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_non_finite_hessian_raises_naming_sigma_and_lam() -> None:
    """exp(f) or Φᵀ diag(h) Φ overflowing must raise InvalidInputError, not LinAlgError; a
    line search that never decreases the objective keeps β and marks the fit not converged."""
    import torch

    from precml_widgets.stats.nplm_kernel import newton_fit

    phi_r = torch.tensor([[1e200], [1.0]], dtype=torch.float64)  # Hessian entry 1e400 = inf
    phi_d = torch.tensor([[1.0]], dtype=torch.float64)
    w = torch.ones(2, dtype=torch.float64)
    with pytest.raises(InvalidInputError, match=r"sigma = 0\.01, lam = 1e-10"):
        newton_fit(phi_r, w, phi_d, 1e-6, "nplm", 10, 1e-9, " (sigma = 0.01, lam = 1e-10)")

    # a direction the reference barely sees: Newton step 1e60, exp(f_R) overflows at every
    # backtracking size down to 2^-60, so no step is accepted and β stays at 0
    beta, info = newton_fit(
        torch.tensor([[1e-30]], dtype=torch.float64),
        torch.ones(1, dtype=torch.float64),
        torch.tensor([[1.0]], dtype=torch.float64),
        1e-300,
        "nplm",
        10,
        1e-9,
    )
    assert float(beta[0]) == 0.0
    assert info["line_search_failed"] == 1.0 and info["converged"] == 0.0


def test_default_centres_are_capped_at_the_pool() -> None:
    ref, dat = _samples(13, n_ref=300, m=30)
    res = nplm_kernel(ref, dat)  # 330 pooled events < 1000
    assert res.hyperparameters["M"] == 330
    assert res.hyperparameters["M_rule"] == "min(1000, pooled events)"


def test_chi2_compatibility_accepts_chi2_and_rejects_a_wider_law() -> None:
    rng = np.random.default_rng(12)
    # seeded: with a true χ² the bootstrap p is uniform, P(p < 0.01) = 1 %
    assert chi2_compatibility(rng.chisquare(9.58, 300), bootstraps=100)[2] > 0.01
    # 2 χ²(5) has the χ²(10) mean but twice its variance: rejected (power ≈ 1 at n = 300)
    assert chi2_compatibility(2 * rng.chisquare(5, 300), bootstraps=100)[2] < 0.01


def test_benchmark_signals_have_the_stated_shapes() -> None:
    rng = np.random.default_rng(13)
    s3 = sample_data("S3", 0.0, rng)  # signal only, Poisson(90) events of 256 x² e^{-8x}
    assert np.mean(s3) == pytest.approx(3 / 8, abs=0.05)  # Gamma(3, 1/8) mean
    s1 = sample_data("S1", 0.0, rng)
    assert np.all(np.abs(s1 - 0.8) < 0.1)


def test_ideal_statistic_by_hand() -> None:
    """Two events, S2: 2 [Σ log(1 + N_S φ(x)/(N(0) 8 e^{-8x})) − N_S], typed out with math."""
    import math

    def term(x: float) -> float:
        phi = math.exp(-0.5 * ((x - 0.2) / 0.02) ** 2) / (0.02 * math.sqrt(2 * math.pi))
        return math.log(1 + 90 * phi / (2000 * 8 * math.exp(-8 * x)))

    expected = 2 * (term(0.21) + term(0.5) - 90)
    assert ideal_t(np.array([0.21, 0.5]), "S2", 2000.0) == pytest.approx(expected, rel=1e-12)


def test_ideal_statistic_far_in_the_tail_is_finite() -> None:
    """x = 100 (e^{8x} overflows, the density underflows): S3's s/b = 90 · 256 x² / 16000."""
    import math

    expected = 2 * (math.log1p(90 * 256 * 100.0**2 / 16000) - 90)
    assert ideal_t(np.array([100.0]), "S3", 2000.0) == pytest.approx(expected, rel=1e-12)
    assert ideal_t(np.array([100.0]), "S2", 2000.0) == pytest.approx(2 * (0.0 - 90))  # s = 0


def test_benchmark_toy_restores_torch_threads_and_records_the_rank() -> None:
    import torch

    caller = torch.get_num_threads()
    torch.set_num_threads(3)  # differs from the toy's 1 thread
    before = torch.get_num_threads()
    config = BenchmarkConfig(n_reference=2000, n_expected=200.0, centres=100, torch_threads=1)
    t, _, ideal = benchmark_toy(config, "S3", 5)
    after = torch.get_num_threads()
    torch.set_num_threads(caller)
    assert after == before == 3
    assert np.isfinite(t) and len(ideal) == 3
    res = run_benchmark(
        config, null_toys=10, signal_toys=2, signals=("S1",), serial=True, progress=False
    )
    d = res.to_dict()
    assert 0 < d["rank"] == res.rank <= 100 and "1-D-specific" in d["speed_note"]
    s1 = d["signals"]["S1"]
    assert {"ideal_z", "ideal_z_empirical", "ideal_z_empirical_is_bound"} <= set(s1)


#: Kernel modes of the validation runs: the exact optimum of the NPLM loss, and what the
#: paper's code computes (weighted logistic loss, one LogisticFalkon Newton step from f = 0).
MODES = {
    "nplm": BenchmarkConfig(),
    "falkon_one_step": BenchmarkConfig(loss="logistic", max_iter=1),
}


@pytest.fixture(scope="module", params=sorted(MODES))
def paper_run(request: pytest.FixtureRequest) -> tuple[str, object]:
    """Paper settings (N_R = 2e5, N(0) = 2000, M = 3000, σ = 0.3, λ = 1e-10): 300 null toys
    and 100 per signal, one run per mode (about 2-6 min on 2 cores)."""
    mode = request.param
    return mode, run_benchmark(MODES[mode], null_toys=300, signal_toys=100, progress=False)


@pytest.mark.validation
def test_kernel_null_is_chi2_with_a_fitted_dof(paper_run: tuple[str, object]) -> None:
    """The bootstrap p-value is uniform under a true χ²: a correct method fails 1 % of the time.
    Measured (seed 0): nplm dof 11.14, p = 0.017 (its empirical tail is heavier than the
    fitted χ²'s: data beyond the reference's last event); falkon_one_step dof 9.67 (published
    9.58), p = 0.60."""
    mode, res = paper_run
    assert res.null_ks_p > 0.01, (mode, res.null_dof, res.null_ks_p)


@pytest.mark.validation
@pytest.mark.parametrize("signal", ["S1", "S3"])
def test_kernel_reproduces_published_median_z(paper_run: tuple[str, object], signal: str) -> None:
    """Z of the median signal toy from the fitted χ² (300 null toys resolve only Z <= 2.7)
    within ±0.2 of arXiv:2204.02317 App. C."""
    mode, res = paper_run
    got = res.signals[signal].z_chi2
    assert abs(got - PUBLISHED["median_z"][signal]) <= 0.2, (mode, signal, got, res.null_dof)


@pytest.mark.validation
def test_kernel_s2_is_stronger_than_published(paper_run: tuple[str, object]) -> None:
    """S2 as stated (N(0.2, 0.02), N_S = 90) is a stronger signal than the paper's: the ideal
    likelihood ratio's sqrt(median t) is 5.6 where the paper quotes 4.1 (S1, S3: 4.9, 4.6 against
    4.7, 4.4). Measured (seed 0, 300/100 toys): Z(χ²) = 3.05 ± 0.15 (nplm), 3.15 ± 0.11
    (falkon_one_step; bootstrap errors) against the published 2.82. Asserted: the measured value
    within 0.3 (about 2 bootstrap errors: another seed fails this about 5 % of the time), and
    above the published value minus 0.1. A weaker signal alone does not explain the gap: at
    N_S = 66, where the ideal Z is 4.15, the paper's procedure gives Z(χ²) = 2.04 ± 0.13 (300/100
    toys), below 2.82; the paper's S2 must differ from its stated definition in shape too."""
    mode, res = paper_run
    got = res.signals["S2"].z_chi2
    measured = {"nplm": 3.05, "falkon_one_step": 3.15}[mode]
    assert abs(got - measured) <= 0.3, (mode, got)
    assert got >= PUBLISHED["median_z"]["S2"] - 0.1, (mode, got)


def test_benchmark_config_defaults_are_the_papers() -> None:
    c = BenchmarkConfig()
    assert (c.n_reference, c.n_expected, c.centres, c.sigma, c.lam) == (2e5, 2000, 3000, 0.3, 1e-10)
