"""The common dimuon representation and the fast simulation."""

from __future__ import annotations

import numpy as np
import pytest

from precml_widgets import InvalidInputError
from precml_widgets.anomaly.events import DimuonEvents
from precml_widgets.anomaly.fastsim import DimuonKDE, simulate_resonance
from precml_widgets.anomaly.samples import REAL_SAMPLES, load_sample, split_tune_validate
from precml_widgets.stats import energy_test


def test_orders_by_pt_and_computes_kinematics_by_hand():
    ev = DimuonEvents.from_arrays("hand", [[30.0, 45.0]], [[0.0, 0.0]], [[np.pi, 0.0]], real=False)
    assert ev.pt.tolist() == [[45.0, 30.0]]
    assert ev.phi.tolist() == [[0.0, np.pi]]
    # back-to-back at eta = 0: m^2 = 2 pT1 pT2 (1 - cos pi) = 4 * 45 * 30
    assert ev.mass()[0] == pytest.approx(np.sqrt(4 * 45 * 30))
    assert ev.abs_dphi[0] == pytest.approx(np.pi)
    assert ev.ht()[0] == 75.0
    assert ev.features().shape == (1, 5)


def test_acceptance_and_bad_input():
    ev = DimuonEvents.from_arrays(
        "acc",
        [[10, 5], [10, 0.5], [10, 5]],
        [[0, 0], [0, 0], [2.5, 0]],
        np.zeros((3, 2)),
        real=True,
    )
    assert ev.n == 1
    with pytest.raises(InvalidInputError, match="shape"):
        DimuonEvents.from_arrays("x", [1, 2], [1, 2], [1, 2], real=True)
    with pytest.raises(InvalidInputError, match="NaN"):
        DimuonEvents.from_arrays("x", [[np.nan, 1]], [[0, 0]], [[0, 0]], real=True)
    with pytest.raises(InvalidInputError, match="negative"):
        DimuonEvents.from_arrays("x", [[-1, 1]], [[0, 0]], [[0, 0]], real=True)
    with pytest.raises(InvalidInputError, match="no events"):
        DimuonEvents.from_arrays("x", [[0.5, 0.5]], [[0, 0]], [[0, 0]], real=True)


@pytest.mark.parametrize("name", list(REAL_SAMPLES))
def test_real_samples_load_in_the_common_representation(name):
    ev = load_sample(name)
    assert ev.n > 400
    assert np.all(ev.pt[:, 0] >= ev.pt[:, 1])
    assert ev.features().shape == (ev.n, 5)
    assert ev.real == REAL_SAMPLES[name][1]


def test_cms2010_sample_peaks_at_the_z_mass():
    ev = load_sample("cms2010_zmumu")
    # 2304 entries store 500 collisions (one entry per muon-reconstruction pair); one
    # global-global pair per collision is kept, and all 500 pass the acceptance
    assert ev.n == 500
    assert 89.0 < np.median(ev.mass()) < 92.0


def test_resonance_kinematics_are_exact_without_width_or_smearing():
    ev = simulate_resonance(50.0, 2000, seed=1, width_gev=1e-9, pt_resolution=0.0)
    # mass() neglects the muon mass (E = |p|): for these kinematics that shifts m_mumu down by
    # at most ~5e-3 GeV (measured), i.e. 1e-4 relative; a wrong boost would be off by GeV.
    np.testing.assert_allclose(ev.mass(), 50.0, atol=1e-2)
    assert np.all(ev.mass() <= 50.0 + 1e-9)
    assert ev.n == 2000


def test_resonance_mass_distribution_has_the_requested_width():
    ev = simulate_resonance(100.0, 20000, seed=2, width_gev=2.0, pt_resolution=0.0)
    m = ev.mass()
    # Breit-Wigner: the half-width quantiles sit at m0 +- Gamma/2; 20k events give ~1 % precision
    q25, q75 = np.quantile(m, [0.25, 0.75])
    assert q75 - q25 == pytest.approx(2.0, rel=0.05)
    assert np.median(m) == pytest.approx(100.0, abs=0.05)


def test_kde_is_tuned_on_tuning_half_and_the_test_has_power():
    tune, held_out = split_tune_validate(load_sample("cms2010_zmumu"))
    assert tune.n + held_out.n == 500
    tuned_rows = {tuple(r) for r in tune.features().round(5).tolist()}
    assert not any(tuple(r) in tuned_rows for r in held_out.features().round(5).tolist())
    kde = DimuonKDE.tuned(tune)
    # Measured on the alternating split (deterministic: no random number enters the choice
    # but the seeded cross-validation samples): 1.0 x Scott, whose grid neighbours 0.8 and
    # 1.25 give notebook 02's kernel-width systematic. A changed kernel or criterion moves it.
    assert kde.bandwidth == 1.0
    fast = kde.sample(held_out.n, seed=3)
    again = kde.sample(held_out.n, seed=3)
    np.testing.assert_array_equal(fast.pt, again.pt)
    # Power: three times the width over-smooths the Z peak and is rejected (p at the 1/201
    # floor for every seed tried). Whether the tuned width passes is decided by the
    # calibrated multi-split tests below, not by one permutation p-value at one split.
    over = energy_test(
        DimuonKDE(tune, 3 * kde.bandwidth).sample(held_out.n, seed=3).features(),
        held_out.features(),
        n_permutations=200,
        seed=0,
    )
    assert over.p_value < 0.01


def test_random_split_is_a_seeded_partition():
    real = load_sample("cms2010_zmumu")
    tune, val = split_tune_validate(real, seed=5)
    again, _ = split_tune_validate(real, seed=5)
    other, _ = split_tune_validate(real, seed=6)
    assert tune.n == val.n == 250
    np.testing.assert_array_equal(tune.pt, again.pt)
    assert not np.array_equal(tune.pt, other.pt)
    both = np.sort(np.concatenate([tune.ht(), val.ht()]))
    np.testing.assert_array_equal(both, np.sort(real.ht()))
    with pytest.raises(InvalidInputError, match="seed"):
        split_tune_validate(real, seed=1.5)


def test_held_out_sigma_is_the_hypergeometric_spread_of_a_random_split():
    """Independent truth of the pooled sigma: given the N real events, K of them in the
    window, a random split into halves draws the held-out count from scipy's hypergeometric
    distribution. The difference held-out minus tuning fraction then has variance
    p(1-p) N^2 / (n_r n_t (N-1)), p = K/N: the pooled formula times N/(N-1), exactly.
    A simulation that reproduces the tuning fraction exactly (k_fast/n_fast = k_t/n_t, with
    n_fast so large that its own term is ~1e-12 relative) must give that sigma."""
    from scipy import stats

    from precml_widgets.anomaly.validation import compare_with_held_out

    for n_r, n_t, k_r, k_t in [(250, 250, 228, 214), (300, 200, 120, 95), (250, 250, 5, 9)]:
        big = 10**12
        c = compare_with_held_out(k_t * big, n_t * big, k_r, n_r, n_t)
        n, k = n_r + n_t, k_r + k_t
        var_held_out = stats.hypergeom(n, k, n_r).var()  # of the held-out count k_r
        # k_r/n_r - (K - k_r)/n_t = k_r (1/n_r + 1/n_t) - K/n_t
        var_diff = var_held_out * (1 / n_r + 1 / n_t) ** 2
        assert c.sigma**2 * n / (n - 1) == pytest.approx(var_diff, rel=1e-9)


def test_held_out_comparison_error_by_hand_and_bad_input():
    from precml_widgets.anomaly.validation import compare_with_held_out

    c = compare_with_held_out(17_160, 20_000, 228, 250, 250)
    pooled = (228 + 0.858 * 250) / 500
    sigma = np.sqrt(pooled * (1 - pooled) * (2 / 250) + 0.858 * 0.142 / 20_000)
    assert c.sigma == pytest.approx(sigma, rel=1e-12)
    assert c.pull == pytest.approx((0.912 - 0.858) / sigma, rel=1e-12)
    assert c.agree is True  # 1.89 sigma
    assert compare_with_held_out(150, 200, 228, 250, 250).agree is False
    for bad in [dict(k_fast=-1), dict(n_real=0), dict(k_real=251)]:
        args = dict(k_fast=10, n_fast=100, k_real=10, n_real=250, n_tune=250) | bad
        with pytest.raises(InvalidInputError):
            compare_with_held_out(**args)


def _split_pulls(n_splits: int, seed: int) -> np.ndarray:
    from precml_widgets.anomaly.validation import split_ensemble

    real = load_sample("cms2010_zmumu")
    return np.array(split_ensemble(real, n_splits=n_splits, n_toys=0, seed=seed).z_pulls)


def _check_unit_pulls(pulls: np.ndarray) -> None:
    """Mean 0 and sd 1 within the 0.1 %/99.9 % bounds for independent unit normals.

    The splits are independent only given the real sample: all partition the same 500
    events. So the spread measured here is the conditional one, over random splits of this
    sample -- exactly what each split's sigma and ``SplitEnsemble.z_sigma`` (which divides by
    the number of splits) claim to be; the sample's own fluctuation about the true Z
    fraction is common to both halves and cancels in every difference. The mean tests the
    kernel's bias relative to the events it smooths. False alarm of the two checks
    together: < 0.5 %.
    """
    from scipy import stats

    k = len(pulls) - 1
    lo, hi = (np.sqrt(stats.chi2.ppf(q, k) / k) for q in (0.001, 0.999))
    assert lo < np.std(pulls, ddof=1) < hi, np.std(pulls, ddof=1)
    assert abs(np.mean(pulls)) < 3 / np.sqrt(len(pulls)), np.mean(pulls)


def test_z_window_pull_has_unit_spread_over_random_splits():
    """The Z-window comparison's sigma (tuning + held-out + simulated) is the real spread.

    Independent truth: the spread of the pulls over random tune/validate splits. 40 splits
    (~10 s): sd bounds [0.67, 1.36]; measured mean -0.17, sd 1.12. A sigma from the
    held-out half alone (what made the alternating split look like a -2.4 to -3.2 sigma
    deficit) gives sd ~1.41, and a kernel
    that smears the Z peak a mean pull away from 0; the 150-split validation test below
    separates sd 1.41 from 1 at > 3 sigma.
    """
    _check_unit_pulls(_split_pulls(40, seed=100))


@pytest.mark.validation
def test_z_window_pull_has_unit_spread_over_random_splits_full():
    """150 splits (~25 s): sd bounds [0.82, 1.18]; measured mean -0.046, sd 0.977."""
    pulls = _split_pulls(150, seed=1000)
    print(f"Z-window pulls over 150 splits: mean {pulls.mean():+.3f}, sd {pulls.std(ddof=1):.3f}")
    _check_unit_pulls(pulls)


def _check_ensemble(n_splits: int, n_toys: int) -> None:
    from precml_widgets.anomaly.validation import split_ensemble

    real = load_sample("cms2010_zmumu")
    ens = split_ensemble(real, n_splits=n_splits, n_toys=n_toys, seed=0)
    assert len(ens.bandwidths) == len(ens.z_pulls) == n_splits and len(ens.null) == n_toys
    # Not rejected: the p-value from pseudo-real samples drawn from the fast simulation
    # itself, one statistic (averaged over the splits) for the one real sample.
    assert ens.p_value > 0.01 if n_toys >= 200 else ens.p_value > 1 / (1 + n_toys)
    # The Z-window fractions, averaged over the splits, agree within 2 sigma.
    assert ens.z_agree, (ens.z_difference, ens.z_sigma)
    return ens


def test_fast_simulation_passes_calibrated_multi_split_validation():
    """CI version: 3 splits, 49 pseudo-real samples (~10 s).

    A faithful simulation fails only if the real statistic exceeds all 49 toys (2 %) or the
    Z window is off by > 2 sigma (4.6 %); the seeds are fixed, so the outcome is
    deterministic: measured p = 0.10 (5 of 49 toys above), Z-window difference (held-out
    minus simulated) +0.015 +- 0.017.
    """
    _check_ensemble(3, 49)


@pytest.mark.validation
def test_fast_simulation_passes_calibrated_multi_split_validation_full():
    """200 pseudo-real samples x 10 splits (506 s on one core): p > 0.01 (false alarm 1 %)
    and the split-averaged Z-window fractions within 2 sigma (false alarm 4.6 %).

    Measured (seed 0): p = 0.269 (53 of 200 toys above), Z-window difference +0.009 +- 0.009
    (pulls of the 10 splits from -1.26 to +1.78). The old single-split test's "deficit" of
    -2.4 to -3.2 sigma at every sampling seed was the alternating split's fluctuation
    (tuning half 85.6 %, held-out half 91.2 %; the simulation reproduces the tuning half)
    divided by the held-out half's error alone.
    """
    ens = _check_ensemble(10, 200)
    print("split ensemble:", ens.to_dict() | {"null": f"{len(ens.null)} toys"})


def test_kde_sample_size_and_errors():
    tune, _ = split_tune_validate(load_sample("cms2010_zmumu"))
    kde = DimuonKDE(tune, 0.3)
    s = kde.sample(5000, seed=0)
    assert s.n == 5000 and not s.real
    assert np.all(np.abs(s.eta) < 2.4) and np.all(s.pt > 1.0)
    with pytest.raises(InvalidInputError):
        kde.sample(0, seed=0)
    with pytest.raises(InvalidInputError, match="bandwidth"):
        DimuonKDE(tune, 0.0)
    with pytest.raises(InvalidInputError, match="mass_gev"):
        simulate_resonance(0.1, 10, seed=0)


def test_cms2010_keeps_the_leading_global_pair_of_each_collision():
    from precml_widgets.data import locate, read_branches

    b = read_branches(locate("cms2010_zmumu"), "events", ["Run", "Event", "Type", "pt1", "pt2"])
    best: dict[tuple[int, int], float] = {}
    for run, event, kind, pt1, pt2 in zip(*(b[k].tolist() for k in b), strict=True):
        if kind == "GG":
            best[(run, event)] = max(best.get((run, event), 0.0), pt1 + pt2)
    ev = load_sample("cms2010_zmumu")
    # the kept pT sums are exactly the per-collision maxima over global-global pairs
    np.testing.assert_allclose(np.sort(ev.ht()), np.sort(list(best.values())), rtol=1e-6)


def test_from_arrays_does_not_modify_the_callers_arrays():
    pt = np.array([[10.0, 20.0]])
    eta = np.array([[0.1, 0.2]])
    DimuonEvents.from_arrays("x", pt, eta, np.zeros((1, 2)), real=True, apply_acceptance=False)
    assert pt.tolist() == [[10.0, 20.0]] and eta.tolist() == [[0.1, 0.2]]


def test_atlas_folder_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="is not a folder"):
        load_sample("atlas2016_4lep", tmp_path / "nowhere")
    with pytest.raises(InvalidInputError, match=r"no \*\.4lep\.root"):
        load_sample("atlas2016_4lep", tmp_path)


def test_resonance_is_truncated_not_clipped_and_validates_parameters():
    ev = simulate_resonance(12.0, 20000, seed=4, pt_resolution=0.0)
    m = ev.mass()
    # clipping would pile events at exactly the edges (0.264 and 36 GeV); truncation cannot
    assert np.count_nonzero(np.isclose(m, 36.0, atol=1e-3)) == 0
    assert m.max() < 36.0
    for kwargs, word in [
        ({"width_gev": -1.0}, "width_gev"),
        ({"mean_pt_gev": 0.0}, "mean_pt_gev"),
        ({"pt_resolution": 1.5}, "pt_resolution"),
    ]:
        with pytest.raises(InvalidInputError, match=word):
            simulate_resonance(12.0, 10, seed=0, **kwargs)
    with pytest.raises(InvalidInputError, match="positive integer"):
        simulate_resonance(12.0, 10.5, seed=0)


def test_pair_frame_round_trip_on_real_events():
    from precml_widgets.anomaly.kinematics import from_pair_frame, to_pair_frame

    ev = load_sample("cms2010_zmumu")
    u, phi_pair = to_pair_frame(ev.pt, ev.eta, ev.phi)
    pt, eta, phi = from_pair_frame(u, phi_pair)
    # pure algebra in float64: agreement to ~1e-12 relative
    np.testing.assert_allclose(pt, ev.pt, rtol=1e-9)
    np.testing.assert_allclose(eta, ev.eta, atol=1e-9)
    np.testing.assert_allclose(np.cos(phi - ev.phi), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(u[:, 0]), ev.mass(), rtol=1e-9)
    assert np.all(np.abs(u[:, 3]) <= 1)
