"""Under the null, the suite's NPLM toys agree with an independent null (issue 12, honesty checks).

Each check draws a null (600 toys, one seed) and 500 further null toys (another seed) and
compares the two samples of ``t`` with scipy's two-sample KS test. (The p-values of the 500
toys against ONE finite 600-toy null are not independent uniforms: a one-sample KS test of
them fails ~10 % of the time at its nominal 1 %; ``ks_2samp`` is sized properly.) A correct
implementation fails each check with probability ~1 % (KS p > 0.01; at most 1 % for the
exact test, less with ties); every seed is fixed, so the outcome is reproducible.
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
from scipy import stats

from precml_widgets.stats import suite
from precml_widgets.stats.nplm import kernel_statistic, neural_statistic

torch = pytest.importorskip("torch")

#: Fast configurations (options of the statistics, not registered): 1-D, N(0) = m = 100,
#: a reference 4 times larger; M = 30 centres and λ = 1e-6 (at λ = 1e-10 so small a reference
#: lets f grow without bound past its largest event: t up to 1e7 and Newton fits that stop at
#: max_iter); a 1-4-1 network trained 200 epochs (the registered defaults otherwise).
KERNEL_FAST = kernel_statistic("nplm_kernel_fast", centres=30, lam=1e-6)
NEURAL_FAST = neural_statistic("nplm_neural_fast", epochs=200)
N_REFERENCE, N_DATA = 400, 100


#: Small fits: one torch thread (conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _exponential(n: int, rng: np.random.Generator) -> np.ndarray:
    """The 1-D benchmark background of arXiv:2204.02317, density 8 e^{-8x}."""
    return rng.exponential(1 / 8, size=(n, 1))


def _uniformity_p(stat: suite.Statistic) -> float:
    """Two-sample KS p-value of 500 null toys against an independent 600-toy null."""
    kw = {"serial": True, "progress": False, "block": 600, "device": "cpu"}
    null = suite.null_distribution(stat, _exponential, N_REFERENCE, N_DATA, toys=600, seed=31, **kw)
    toys = suite.null_distribution(stat, _exponential, N_REFERENCE, N_DATA, toys=500, seed=32, **kw)
    assert null.chi2_dof is not None  # asymptotically χ²: a dof is fitted beside the toys
    return float(stats.ks_2samp(toys.values, null.values).pvalue)


def test_kernel_nplm_null_p_values_are_uniform() -> None:
    # 1100 kernel fits, ~3 s (ks_2samp p = 0.29); false-alarm rate 1 % (fixed seeds); all
    # converge
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert _uniformity_p(KERNEL_FAST) > 0.01


def test_neural_nplm_null_p_values_are_uniform() -> None:
    # 1100 networks of 200 epochs, trained side by side per block (~4 s; one by one they took
    # 90 s); false-alarm rate 1 %, fixed seeds (ks_2samp p = 0.80). About half the fits (292
    # of the 600-toy null) have not met the convergence rule at 200 epochs with the output
    # layer clipped at 9: they enter the toys as computed (and are warned about).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert _uniformity_p(NEURAL_FAST) > 0.01


def test_toys_trained_side_by_side_equal_single_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each toy of the stacked training follows its own nplm_neural fit (to rounding), also
    across chunk boundaries (chunks of 2 toys: 2 + 2 + 1)."""
    from precml_widgets.stats.nplm import NEURAL_DEFAULTS, nplm_neural, nplm_neural_toys

    neural_module = importlib.import_module("precml_widgets.stats.nplm_neural")
    rng = np.random.default_rng(33)
    ref, dat = rng.normal(size=(5, 150, 2)), rng.normal(0.1, 1.0, size=(5, 60, 2))
    opts = {**NEURAL_DEFAULTS, "epochs": 120}
    whole, ok_whole = nplm_neural_toys(ref, dat, device="cpu", **opts)  # one chunk
    monkeypatch.setattr(neural_module, "_BATCH_ENTRIES", 2 * (150 + 60) * 4)  # 2 toys a chunk
    t, ok = nplm_neural_toys(ref, dat, device="cpu", **opts)
    single = [nplm_neural(ref[k], dat[k], device="cpu", **opts) for k in range(5)]
    np.testing.assert_allclose(t, [s.t for s in single], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(whole, t, rtol=1e-9, atol=1e-9)
    assert ok.tolist() == ok_whole.tolist() == [s.converged for s in single]


def test_toys_bad_input_is_named() -> None:
    from precml_widgets.errors import InvalidInputError
    from precml_widgets.stats.nplm import nplm_neural_toys

    with pytest.raises(InvalidInputError, match="toy batches"):
        nplm_neural_toys(np.zeros((2, 10, 1)), np.zeros((3, 10, 1)), epochs=1)
    with pytest.raises(InvalidInputError, match="toy batches"):
        nplm_neural_toys(np.zeros((10, 1)), np.zeros((10, 1)), epochs=1)
    bad = np.zeros((1, 10, 1))
    bad[0, 3, 0] = np.nan
    with pytest.raises(InvalidInputError, match="finite"):
        nplm_neural_toys(np.ones((1, 10, 1)), bad, epochs=1)
    with pytest.raises(InvalidInputError, match="hidden"):
        nplm_neural_toys(np.ones((1, 10, 1)), np.ones((1, 10, 1)), hidden=(), epochs=1)
    # empty or one-event samples, no features: named (n = 0 was a ZeroDivisionError, m = 0
    # gave t = 0 "converged")
    for n, m, d in ((0, 10, 1), (10, 0, 1), (10, 1, 1), (1, 10, 1), (10, 10, 0)):
        with pytest.raises(InvalidInputError, match=f"n = {n}, m = {m}, d = {d}"):
            nplm_neural_toys(np.ones((2, n, d)), np.ones((2, m, d)), epochs=1)
    with pytest.raises(InvalidInputError, match="output_clip"):
        nplm_neural_toys(np.ones((1, 10, 1)), np.ones((1, 10, 1)), output_clip=0.0, epochs=1)
    with pytest.raises(InvalidInputError, match="diverged"):
        rng = np.random.default_rng(34)
        nplm_neural_toys(
            rng.normal(size=(2, 50, 1)), rng.normal(size=(2, 20, 1)), learning_rate=1e6, epochs=50
        )


def test_a_non_finite_t_raises_in_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """t is computed after the last Adam step: a non-finite t there raises, from the single
    fit, the stacked toys and the suite (it came back as nan from the last two)."""
    from precml_widgets.errors import InvalidInputError
    from precml_widgets.stats.nplm import nplm_neural, nplm_neural_toys

    neural_module = importlib.import_module("precml_widgets.stats.nplm_neural")
    monkeypatch.setattr(neural_module, "extended_t", lambda *args: float("nan"))
    rng = np.random.default_rng(35)
    ref, dat = rng.normal(size=(2, 50, 1)), rng.normal(size=(2, 20, 1))
    with pytest.raises(InvalidInputError, match="diverged"):
        nplm_neural_toys(ref, dat, epochs=3)
    with pytest.raises(InvalidInputError, match="diverged"):
        nplm_neural(ref[0], dat[0], epochs=3)
    with pytest.raises(InvalidInputError, match="diverged"):
        suite.evaluate("nplm_neural", ref[0], dat[0], device="cpu")


def test_the_output_layer_is_clipped_at_output_clip() -> None:
    """clip bounds the first layer, output_clip every later one (the papers' 9 by default)."""
    from precml_widgets.stats.nplm import NEURAL_DEFAULTS, nplm_neural

    rng = np.random.default_rng(36)
    ref, dat = rng.normal(size=(400, 2)), rng.normal(1.5, 1.0, size=(100, 2))
    res = nplm_neural(ref, dat, device="cpu", **{**NEURAL_DEFAULTS, "epochs": 300})
    first, out = (np.abs(w).max() for w in res.f.weights)
    assert first <= NEURAL_DEFAULTS["clip"] and NEURAL_DEFAULTS["output_clip"] == 9.0
    assert NEURAL_DEFAULTS["clip"] < out <= 9.0  # a strong signal pushes past the first clip
    assert res.hyperparameters["output_clip"] == 9.0


@pytest.mark.parametrize(
    ("factory", "options", "match"),
    [
        (kernel_statistic, {"lamda": 1e-6}, "unknown option lamda"),
        (neural_statistic, {"epoch": 10}, "unknown option epoch"),
        (kernel_statistic, {"device": "cpu"}, "device"),
        (neural_statistic, {"device": "cpu"}, "device"),
        (kernel_statistic, {"reference_weight": 1.0}, "N\\(0\\) = m"),
        (neural_statistic, {"reference_weight": 1.0}, "N\\(0\\) = m"),
    ],
)
def test_statistic_options_are_checked_at_construction(factory, options, match) -> None:  # type: ignore[no-untyped-def]
    from precml_widgets.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match=match):
        factory("nplm_bad", **options)
