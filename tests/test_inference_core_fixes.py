"""Regression tests of the review fixes in the SMEFT inference core (issue 14).

Truths: the smeared mass range written out from its definition; a Gaussian log-likelihood
whose grid posterior is known in closed form; the count of (point, event) entries a
log-likelihood is asked for; a fresh, uncached exact ratio; the same exact likelihood under
two labels (identical credibilities); the safetensors layout (8-byte length, JSON header).
No statistical test here: every check is exact or deterministic.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

from precml_widgets.errors import InvalidInputError
from precml_widgets.inference import (
    LEP2,
    LEP2_SMEARED,
    ClassifierStudy,
    EFTProblem,
    ExactRatio,
    GridPosterior,
    LearnedRatio,
    Measurement,
    PosteriorComparison,
    PosteriorStudy,
    Region,
    build_network,
    calibrate,
    default_problem,
    density_terms,
    exact_expected_q,
    exact_log_likelihood,
    expected_region,
    grid_posterior,
    load_model,
    mass_frame,
    mass_range,
    nle_problem,
    one_parameter_limits,
    quadrature_nodes,
    ratio_map,
    require_events,
    run_toy,
    save_model,
    simulate_training_pairs,
    train_nle,
    unbinned_expected_q,
)
from precml_widgets.inference import likelihood as likelihood_module

torch = pytest.importorskip("torch")

Array = npt.NDArray[np.float64]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread_here() -> Iterator[None]:
    """One torch thread for this module (restored after): the machine has 2 shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- 1. events outside the smeared mass range; a likelihood that is NaN everywhere -------------


def test_smeared_mass_range_is_refused_outside_energies_pm_8_sigma() -> None:
    lo, hi = 182.7 * (1 - 8 * 0.02), 206.6 * (1 + 8 * 0.02)  # written out from the definition
    assert mass_range(LEP2_SMEARED) == pytest.approx((lo, hi), rel=1e-15)
    nodes, _ = quadrature_nodes(LEP2_SMEARED, 8)
    assert nodes[:, 0].min() >= lo and nodes[:, 0].max() <= hi  # the nodes stay inside
    ok = np.array([[lo, 0.0], [hi, 0.5], [194.0, -0.9]])
    assert require_events(LEP2_SMEARED, ok) is not None
    bad = np.array([[lo - 0.01, 0.0], [hi + 0.01, 0.0], [194.0, 0.0], [1.0, 0.0]])
    with pytest.raises(InvalidInputError, match=r"3 of 4 events .* outside \[153\.468, 239\.656\]"):
        require_events(LEP2_SMEARED, bad)


def test_grid_posterior_refuses_a_likelihood_that_is_nowhere_finite() -> None:
    def nan_likelihood(features: Array, free: Array) -> Array:
        return np.full((len(free), len(features)), np.nan)

    data = np.zeros((5, 2))
    with pytest.raises(InvalidInputError, match="'broken flow' is not finite"):
        grid_posterior(nle_problem(), nan_likelihood, data, n_grid=5, label="broken flow")


# --- 2. expected regions need the Standard Model inside the box -------------------------------


def test_regions_refuse_a_box_without_the_standard_model() -> None:
    problem = EFTProblem(LEP2, ("C_ll_1122", "C_le_1122"), (0.05, -0.3), (0.3, 0.3))
    q = exact_expected_q(problem)
    with pytest.raises(InvalidInputError, match="centred on the SM; widen the box"):
        expected_region(q, n_directions=8)
    with pytest.raises(InvalidInputError, match="centred on the SM; widen the box"):
        one_parameter_limits(q)


# --- 3. summaries warn about clipped, re-entrant regions and empty 1-D limits ------------------


def _region(
    label: str, q0: float, clipped: bool = False, reentrant: bool = False, dim: int = 2
) -> Region:
    n = 8
    flags = np.zeros(n, dtype=bool)
    threshold = float(stats.chi2.ppf(0.95, dim))
    return Region(
        label,
        0.95,
        threshold,
        np.eye(dim)[np.zeros(n, dtype=int)],
        np.ones(n),
        flags | clipped,
        flags | reentrant,
        1.0,
        q0,
    )


def test_classifier_summary_warns_about_under_counted_areas_and_empty_limits() -> None:
    problem = default_problem()
    regions = {
        "exact": _region("exact", 0.0),
        "clipped": _region("clipped", 0.0, clipped=True),
        "reentrant": _region("reentrant", 0.0, reentrant=True),
        # 3.84 <= q0 = 4.5 < 5.99: the 2-D region is not empty, the 1-D limits are
        "biased": _region("biased", 4.5),
    }
    study = ClassifierStudy(
        problem,
        {},
        {k: {0.68: r, 0.95: r} for k, r in regions.items()},
        {k: {n: (-0.1, 0.1) for n in problem.free} for k in regions},
        {k: 1.0 for k in regions},
        {},
        {},
    )
    warnings = [x for x in study.summary().splitlines() if x.startswith("WARNING")]
    assert len(warnings) == 3
    assert "WARNING clipped: the 95 % region reaches the box on 8 of 8" in warnings[0]
    assert "under-counted" in warnings[0]
    assert "WARNING reentrant: the 95 % region is not star-shaped" in warnings[1]
    assert "WARNING biased: q at the Standard Model is 4.5 >= 3.841" in warnings[2]
    assert "one-parameter limits are empty" in warnings[2]


def test_posterior_summary_states_c2st_auc_and_area_ratios() -> None:
    problem = nle_problem()
    axes = (np.linspace(-0.9, 0.9, 10), np.linspace(-0.9, 0.9, 10))
    p = np.full((10, 10), 0.01)
    posts = {k: GridPosterior(problem, axes, p, k) for k in ("exact", "ours")}
    comparison = PosteriorComparison(0.531, 0.547, 0.2, (0.4, 1.0), (0.5, 1.1))
    study = PosteriorStudy(np.array([0.25, -0.5]), np.zeros((250, 2)), posts, {"ours": comparison})
    text = study.summary()
    assert "250 events at C_ll_1122 = +0.250, C_le_1122 = -0.500" in text
    assert "ours: C2ST accuracy 0.531" in text and "AUC 0.547" in text
    assert "68 % HPD area 0.5 vs exact 0.4 (ratio 1.250)" in text  # 0.5 / 0.4
    assert "95 % HPD area 1.1 vs exact 1 (ratio 1.100)" in text
    assert text.count("caveat:") == len(study.caveats)


# --- 4. a learned ratio refuses what it was never trained on ----------------------------------


@pytest.fixture(scope="module")
def untrained() -> dict[str, LearnedRatio]:
    """Untrained networks: the refusals come before any forward pass."""
    problem = default_problem()
    shift, scale = mass_frame(LEP2)
    return {
        kind: LearnedRatio(
            kind, problem, build_network(kind, 2, 8).eval(), (shift, 0.0), (scale, 1.0), 1, 0.0
        )
        for kind in ("quadratic", "plain")
    }


@pytest.mark.parametrize("kind", ["quadratic", "plain"])
def test_learned_ratio_refuses_outside_box_fixed_coefficients_and_nan(
    untrained: dict[str, LearnedRatio], kind: str
) -> None:
    model, problem = untrained[kind], default_problem()
    x = np.array([[188.6, 0.1], [206.6, -0.5]])
    edge = problem.full(np.array([[0.3, -0.3], [0.0, 0.0]]))
    assert model(x, edge).shape == (2, 2)  # the box edges are inside
    with pytest.raises(InvalidInputError, match=r"1 coefficient vectors lie outside the box"):
        model(x, problem.full(np.array([0.31, 0.0]), check=False))
    fixed = edge.copy()
    fixed[1, 1] = 0.1  # C_ee_1122: not free in default_problem
    with pytest.raises(InvalidInputError, match=r"\['C_ee_1122', 'C_le_2211'\] are not free"):
        model(x, fixed)
    with pytest.raises(InvalidInputError, match="1 NaN or infinite"):
        model(np.array([[188.6, np.nan]]), edge)
    with pytest.raises(InvalidInputError, match="coefficients must be finite"):
        model(x, np.full((1, 4), np.nan))


def test_ratio_map_refuses_energies_outside_the_measurement(
    untrained: dict[str, LearnedRatio],
) -> None:
    cos = np.linspace(-0.9, 0.9, 5)
    inside = np.array([182.7, 190.0, 206.6])
    exact, learned = ratio_map(
        default_problem(), untrained["quadratic"], [0.1, 0.1], sqrt_s=inside, cos_theta=cos
    )
    assert exact.shape == learned.shape == (3, 5)
    with pytest.raises(InvalidInputError, match=r"2 of 3 values of sqrt_s lie outside"):
        ratio_map(default_problem(), None, [0.1, 0.1], sqrt_s=[150.0, 190.0, 210.0], cos_theta=cos)


# --- 5. a 4-D grid posterior in blocks ---------------------------------------------------------


def test_four_dimensional_grid_posterior_is_computed_in_blocks() -> None:
    """41^4 points x 250 events: never more than 2^20 entries per call, and the posterior of
    a Gaussian log-likelihood -|C - mu|^2 / 2 per event equals its closed form on the grid."""
    names = ("C_ll_1122", "C_ee_1122", "C_le_1122", "C_le_2211")
    problem = EFTProblem(LEP2_SMEARED, names, (-1.0,) * 4, (1.0,) * 4)
    mu, n_events, sizes = np.array([0.1, -0.2, 0.3, 0.0]), 250, []

    def gaussian(features: Array, free: Array) -> Array:
        sizes.append(free.shape[0] * features.shape[0])
        return np.broadcast_to(-0.5 * np.sum((free - mu) ** 2, axis=1)[:, None], (len(free), 250))

    post = grid_posterior(problem, gaussian, np.zeros((n_events, 2)), n_grid=41)
    assert max(sizes) <= 1 << 20 and sum(sizes) == 41**4 * n_events
    axis = -1.0 + 2.0 * (np.arange(41) + 0.5) / 41
    per_axis = [np.exp(-0.5 * n_events * (axis - m) ** 2) for m in mu]
    truth = np.einsum("i,j,k,l->ijkl", *per_axis)
    np.testing.assert_allclose(post.probability, truth / truth.sum(), rtol=1e-9, atol=1e-300)


# --- 6. the exact ratio computes the smeared shapes once per node array -----------------------


def test_exact_expected_q_computes_density_terms_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = likelihood_module.density_terms

    def counting(measurement: Measurement, features: Array) -> tuple[Array, Array, Array]:
        calls.append(len(features))
        return original(measurement, features)

    problem = default_problem(LEP2_SMEARED)
    points = np.array([[0.05, -0.02], [-0.1, 0.1], [0.2, 0.0]])
    monkeypatch.setattr(likelihood_module, "density_terms", counting)
    q = exact_expected_q(problem)
    first = q(points)
    for _ in range(3):
        np.testing.assert_array_equal(q(points), first)
    assert len(calls) == 2  # once for the weights, once for the ratio's shapes

    def uncached(features: Array, coefficients: Array) -> Array:  # the formula, no cache
        sm, lin, quad = original(problem.measurement, features)
        c = coefficients.reshape(-1, 4)
        return (sm + c @ lin.T + (c * c) @ quad.T) / sm

    fresh = unbinned_expected_q(problem, uncached, label="uncached")
    np.testing.assert_allclose(first, fresh(points), rtol=1e-12)
    # a new array is not served from the cache
    ratio = ExactRatio(LEP2_SMEARED)
    a, b = np.array([[190.0, 0.1]]), np.array([[200.0, -0.4]])
    c = problem.full(np.array([[0.2, -0.1]]))
    ratio(a, c)
    np.testing.assert_allclose(ratio(b, c), uncached(b, c), rtol=1e-12)


# --- 7. calibrate: a mapping of learned likelihoods, the same toys, a seed offset --------------


def test_calibrate_scores_a_mapping_on_the_same_toys_with_a_seed_offset() -> None:
    problem = default_problem(LEP2)  # unsmeared: the exact density is cheap
    exact = exact_log_likelihood(problem)
    kwargs = {"n_events": 20, "n_grid": 5}
    cal = calibrate(
        {"again": exact}, problem=problem, n_toys=10, seed=5, n_workers=0, progress=False, **kwargs
    )
    for outcome in cal.outcomes:
        # the same exact likelihood under another label: the same credibility on the same toy
        assert outcome.credibility["again"] == outcome.credibility["exact"]
    assert cal.coverage["again"] == cal.coverage["exact"]
    assert len({o.truth for o in cal.outcomes}) == 10
    # toy k is run_toy(seed + k)
    assert cal.outcomes[3] == run_toy(8, learned={"again": exact}, problem=problem, **kwargs)
    with pytest.raises(InvalidInputError, match="problem must be the EFTProblem"):
        run_toy(0, learned={"x": exact}, **kwargs)
    with pytest.raises(InvalidInputError, match="other than 'exact'"):
        run_toy(0, learned={"exact": exact}, problem=problem, **kwargs)


# --- 8, 9. NLE needs smearing; a diverged fit is refused ---------------------------------------


def test_train_nle_refuses_an_unsmeared_measurement() -> None:
    problem = default_problem(LEP2)
    theta = np.zeros((100, 2))
    x = np.column_stack([np.full(100, 188.6), np.zeros(100)])
    with pytest.raises(InvalidInputError, match="NLE needs the smeared configuration"):
        train_nle(problem, theta, x, progress=False)


def test_train_sbi_nle_refuses_an_unsmeared_measurement() -> None:
    pytest.importorskip("sbi")
    from precml_widgets.inference import train_sbi_nle

    x = np.column_stack([np.full(100, 188.6), np.zeros(100)])
    with pytest.raises(InvalidInputError, match="NLE needs the smeared configuration"):
        train_sbi_nle(default_problem(LEP2), np.zeros((100, 2)), x)


def test_a_fit_without_a_finite_validation_loss_is_refused() -> None:
    pytest.importorskip("zuko")
    problem = nle_problem()
    theta, x = simulate_training_pairs(problem, 200, seed=0)
    with pytest.raises(InvalidInputError, match="lower learning_rate"):
        train_nle(
            problem, theta, x, n_members=1, epochs=1, hidden=4, transforms=1,
            learning_rate=1e30, progress=False, device="cpu",
        )  # fmt: skip


# --- 10. export: a failed overwrite keeps or refuses the pair; the header from the blob -------


@pytest.fixture(scope="module")
def two_ratios(untrained: dict[str, LearnedRatio]) -> tuple[LearnedRatio, LearnedRatio]:
    return untrained["quadratic"], untrained["plain"]


def _fail_on_rename(monkeypatch: pytest.MonkeyPatch, which: int) -> None:
    real, count = os.replace, [0]

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        count[0] += 1
        if count[0] == which:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


def test_a_failed_overwrite_leaves_the_old_pair_or_a_refused_one(
    two_ratios: tuple[LearnedRatio, LearnedRatio], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_ratios
    stem = tmp_path / "ratio"
    save_model(first, stem)
    with monkeypatch.context() as m:
        _fail_on_rename(m, 1)  # the weights' rename fails: nothing changes
        with pytest.raises(InvalidInputError, match="No space left"):
            save_model(second, stem)
    assert load_model(stem).kind == "quadratic"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ratio.json", "ratio.safetensors"]
    with monkeypatch.context() as m:
        _fail_on_rename(m, 2)  # weights renamed, card not: the mix is refused, never loaded
        with pytest.raises(InvalidInputError, match="No space left"):
            save_model(second, stem)
    with pytest.raises(InvalidInputError, match=r"bytes; its card states|SHA-256"):
        load_model(stem)
    save_model(second, stem)
    assert load_model(stem).kind == "plain"


def test_the_header_is_read_from_the_hashed_bytes(
    two_ratios: tuple[LearnedRatio, LearnedRatio], tmp_path: Path
) -> None:
    weights, card_path = save_model(two_ratios[0], tmp_path / "ratio")
    blob = weights.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    assert json.loads(blob[8 : 8 + n])["__metadata__"]["card_sha256"]  # the layout we parse
    card = json.loads(card_path.read_text())
    for bad, why in (
        ((10**9).to_bytes(8, "little") + blob[8:], "header claims 1000000000 bytes"),
        (blob[:8] + b"[" + blob[9:], "header is not JSON"),
    ):
        weights.write_bytes(bad)  # a consistent card (size and hash), damaged weights
        card["weights"] = {"sha256": hashlib.sha256(bad).hexdigest(), "bytes": len(bad)}
        card_path.write_text(json.dumps(card))
        with pytest.raises(InvalidInputError, match=why):
            load_model(tmp_path / "ratio")


# --- 11. one mass frame --------------------------------------------------------------------------


def test_mass_frame_is_the_middle_and_half_width_of_the_energies() -> None:
    assert mass_frame(LEP2) == pytest.approx((0.5 * (182.7 + 206.6), 0.5 * (206.6 - 182.7)))
    single = Measurement((91.0,), (1.0,))
    assert mass_frame(single) == (91.0, 1.0)  # at least 1 GeV
    nodes, _ = quadrature_nodes(LEP2_SMEARED, 4)
    assert density_terms(LEP2_SMEARED, nodes[:3])[0].shape == (3,)
