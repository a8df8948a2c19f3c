"""Power studies and the two-sample explorer, checked against a closed-form power."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

pytest.importorskip("torch")

from precml_widgets.errors import InvalidInputError
from precml_widgets.stats import suite
from precml_widgets.stats.deformations import deformation_direction, reference_model
from precml_widgets.twosample import PowerConfig, power_study

N, TOYS = 400, 400


def _projected_gap_statistic() -> tuple[suite.Statistic, float]:
    """T = (v·(mean_d - mean_r))² / (2 vᵀΣv / N) along the mean-shift direction v of the 5-D
    correlated Gaussian: exactly χ²(1) under the null and noncentral χ²(1, λ) under a shift
    δ = ε (2u - 1), λ = (v·δ)² / (2 vᵀΣv / N). Returns the statistic and vᵀΣv."""
    torch = pytest.importorskip("torch")
    model = reference_model("cg", 5)
    v = 2 * deformation_direction(5) - 1
    v = v / np.linalg.norm(v)
    var = float(v @ model.covariance_matrix() @ v)
    direction = torch.as_tensor(v)

    def compute(reference, data):
        gap = (data.mean(1) - reference.mean(1)) @ direction.to(data.dtype)
        return gap**2 / (2 * var / reference.shape[1])

    stat = suite.register(suite.Statistic("test_projected_gap", compute, "test statistic"))
    return stat, var


def test_power_matches_the_noncentral_chi2_power():
    """Each point's power is within 4 standard errors of the exact power; the errors combine
    the alternative's binomial error and the spread of the threshold estimated from 400 null
    toys (a correct implementation fails < 1e-3 per point)."""
    stat, var = _projected_gap_statistic()
    config = PowerConfig(
        epsilons=(0.0, 0.2, 0.5, 1.0), n=N, statistics=(stat.name,), toys=TOYS, seed=3
    )
    result = power_study(config).results[stat.name]
    u = 2 * deformation_direction(5) - 1
    shift = np.linalg.norm(u)  # v·δ = ε |2u - 1|
    critical = stats.chi2(1).ppf(config.cl)
    for eps, p in zip(config.epsilons, result.power, strict=True):
        lam = (eps * shift) ** 2 / (2 * var / N)
        exact = stats.ncx2(1, lam).sf(critical) if lam > 0 else 1 - config.cl
        density = stats.ncx2(1, lam).pdf(critical) if lam > 0 else stats.chi2(1).pdf(critical)
        # the threshold's quantile error (order statistic) moves the power by pdf × δt
        spread_t = np.sqrt(config.cl * (1 - config.cl) / TOYS) / stats.chi2(1).pdf(critical)
        error = np.hypot(np.sqrt(exact * (1 - exact) / TOYS), density * spread_t)
        assert abs(p.value - exact) < 4 * error + 1e-9, (eps, p.value, exact, error)
    assert exact > 0.95  # the grid spans the whole curve (last point: the exact power)


def test_config_is_checked_and_the_study_is_frozen():
    with pytest.raises(InvalidInputError, match="epsilons must be ascending"):
        PowerConfig(epsilons=(0.2, 0.1))
    with pytest.raises(InvalidInputError, match="dim"):
        PowerConfig(dim=7)
    with pytest.raises(InvalidInputError, match="statistic must be one of"):
        PowerConfig(statistics=("nope",))
    with pytest.raises(InvalidInputError, match="at least one statistic"):
        PowerConfig(statistics=())
    with pytest.raises(InvalidInputError, match="toys"):
        PowerConfig(toys=5)
    study = power_study(PowerConfig(epsilons=(0.0, 1.0), n=100, toys=20, statistics=("fgd",)))
    assert not study.results["fgd"].null.values.flags.writeable
    rows = study.summary_rows()
    assert rows[0]["statistic"] == "fgd"
    assert rows[0]["power at ε=1"] == study.results["fgd"].power[1].value


def test_explorer_runs_caches_and_shows_the_study_numbers():
    pytest.importorskip("panel")
    from precml_widgets.twosample import TwoSampleExplorer

    ex = TwoSampleExplorer(n=200, toys=20, statistics=["mean_ks", "fgd"], eps_max=1.0)
    assert "Run toys" in ex.summary()
    root = ex.__panel__().get_root()
    study = ex.run()
    assert ex.run() is study  # cached: no second run
    text = ex.summary()
    for name, r in study.results.items():
        assert f"| {name} | {1e3 * r.seconds_per_toy:.3g} |" in text
        assert " | ".join(f"{p.value:.2f}" for p in r.power) in text
    ex.shown, ex.eps_index = "fgd", 5
    r = study.results["fgd"]
    p = r.null.p_value(float(np.median(r.alternatives[5])))
    assert p.describe() in ex.summary()
    assert ex.toys_pane.object is not None and root is not None
    ex.n = 300  # another configuration: nothing shown until run
    assert ex.study is None and "Run toys" in ex.summary()
    ex.n = 200
    assert ex.study is study
    ex.statistics = []
    assert ex.study is None and "at least one statistic" in ex.error_pane.object
