"""The guard against silently wrong integrals, and compare() on a user's own numpy function.

Statistics: "within 4 sigma" has a two-sided false-alarm probability of 6e-5; binomial bounds
are quoted where they are used. Every random source is seeded.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from precml_widgets.errors import InvalidInputError
from precml_widgets.integration.counting import IntegrandValueError
from precml_widgets.integration.flow import FlowConfig
from precml_widgets.integration.guard import THREE_SIGMA, UnreliableResultError, agreement
from precml_widgets.integration.integrands import camel, gauss
from precml_widgets.integration.nis import NISConfig
from precml_widgets.integration.result import IntegrationResult, WeightedEvents
from precml_widgets.integration.study import Comparison, ComparisonConfig, compare

pytest.importorskip("torch")

TINY = NISConfig(flow=FlowConfig(transforms=2, bins=8, hidden=(16,)))


def small_budget(**overrides: object) -> ComparisonConfig:
    settings = dict(
        calls_per_iteration=1_000,
        training_iterations=5,
        final_iterations=3,
        nis=TINY,
        diagnostic_events=2_000,
        guard_flows=1,
    )
    settings.update(overrides)
    return ComparisonConfig(**settings)


# -- the agreement test itself --------------------------------------------------------------------
def test_agreement_flags_the_missed_peak_of_the_issue():
    """The 12D report: flow 0.495 +- 0.0008 for an exact 0.990, VEGAS+ near the truth."""
    a = agreement({"flow": (0.495, 0.0008), "VEGAS+": (0.990, 0.01)})
    assert a.flagged and a.worst_pair == ("flow", "VEGAS+")
    assert a.max_pull == pytest.approx(0.495 / math.hypot(0.0008, 0.01))
    assert "WARNING" in a.message and "missed" in a.message
    # two estimates: the chi-square test is exactly |a - b| < 3 sigma
    assert not agreement({"a": (0.0, 0.6), "b": (2.99 * 1.0, 0.8)}).flagged
    assert agreement({"a": (0.0, 0.6), "b": (3.01 * 1.0, 0.8)}).flagged


def test_agreement_false_alarm_rate_is_three_sigma():
    """Calibrated toys: 4 unbiased estimates with unequal errors, 40 000 times.

    The flagged fraction must be 0.0027; the count is binomial(40 000, 0.0027) = 108 +- 10.4,
    tested inside its 99.99 % two-sided band (false alarm 1e-4).
    """
    rng = np.random.default_rng(7)
    errors = np.array([0.01, 0.02, 0.005, 0.03])
    n = 40_000
    flagged = sum(
        agreement(
            dict(zip("abcd", zip(1.0 + errors * z, errors, strict=True), strict=True))
        ).flagged
        for z in rng.standard_normal((n, 4))
    )
    lo, hi = stats.binom.ppf([5e-5, 1 - 5e-5], n, THREE_SIGMA)
    assert lo <= flagged <= hi, flagged


def test_agreement_refuses_bad_input():
    with pytest.raises(InvalidInputError, match="at least two"):
        agreement({"flow": (1.0, 0.1)})
    with pytest.raises(InvalidInputError, match="finite"):
        agreement({"flow": (math.nan, 0.1), "VEGAS+": (1.0, 0.1)})
    # a constant integrand sampled exactly: errors of 0 that agree are not a disagreement
    assert not agreement({"flow": (1.0, 0.0), "VEGAS+": (1.0, 0.0)}).flagged


def _result(method: str, estimate: float, error: float) -> IntegrationResult:
    events = WeightedEvents(np.zeros((2, 2)), np.ones(2))
    return IntegrationResult(method, "g", estimate, error, 10_000, 0, (), events, 0, 0.0)


def test_error_ratio_refuses_a_flagged_run():
    results = {m: _result(m, x, e) for m, x, e in [("flow", 0.5, 0.001), ("VEGAS+", 1.0, 0.01)]}
    results["VEGAS"] = _result("VEGAS", 1.0, 0.01)
    guard = agreement({m: (results[m].estimate, results[m].error) for m in ("flow", "VEGAS+")})
    c = Comparison(gauss(2), results, {}, ComparisonConfig(), guard=guard)
    assert c.flagged and c.warnings == (guard.message,)
    with pytest.raises(UnreliableResultError, match="disagree"):
        c.error_ratio("VEGAS+")
    # asked explicitly, the ratio still exists (and names the biased method the winner)
    assert c.error_ratio("VEGAS+", allow_flagged=True) == pytest.approx(5.0)


# -- bring your own integrand --------------------------------------------------------------------
def product(x: np.ndarray) -> np.ndarray:
    """3 x0^2 * 2 x1: the integral over the unit square is exactly 1 * 1 = 1."""
    return 3 * x[:, 0] ** 2 * 2 * x[:, 1]


@pytest.mark.slow
def test_compare_accepts_a_plain_numpy_function():
    """A plain function with and without an exact value; the trained flow comes back."""
    c = compare(product, small_budget(), dim=2, exact=1.0, progress=False)
    assert c.integrand.name == "product" and c.has_exact and not c.flagged
    # the independent truth is the closed form 1 (4 sigma: false alarm 6e-5 per method)
    for method in c.methods:
        assert abs(c.pull(method)) < 4, (method, c.pull(method))
    x, q = c.flow.sample(500, seed=11)
    assert x.shape == (500, 2) and np.all(q > 0)
    assert np.allclose(c.flow.density(x), q, rtol=1e-4)  # the density re-evaluated at x
    # no exact value: no pulls anywhere, the rest works
    unknown = compare(product, small_budget(), dim=2, progress=False)
    assert not unknown.has_exact
    assert all(row["pull"] is None for row in unknown.table())
    with pytest.raises(InvalidInputError, match="no exact value"):
        unknown.pull("flow")
    assert math.isfinite(unknown.error_ratio("VEGAS+"))


@pytest.mark.parametrize(
    ("fn", "error", "message"),
    [
        (lambda x: x[:, :1], IntegrandValueError, r"shape \(64, 1\)"),
        (lambda x: np.where(x[:, 0] < 0.5, np.nan, 1.0), IntegrandValueError, "non-finite"),
        (lambda x: x[:, 0] - 0.5, IntegrandValueError, "negative"),
        (lambda x: x.nope, IntegrandValueError, "AttributeError"),
        (lambda x: 1.0, IntegrandValueError, "shape"),
    ],
)
def test_bad_functions_are_refused_before_any_budget_is_spent(fn, error, message):
    calls = []

    def counted(x):
        calls.append(len(x))
        return fn(x)

    with pytest.raises(error, match=message):
        compare(counted, small_budget(), dim=2, progress=False)
    assert sum(calls) == 64, "only the probe points may be evaluated"


def test_bad_arguments_of_a_plain_function():
    with pytest.raises(InvalidInputError, match="dimension"):
        compare(product, small_budget(), progress=False)
    with pytest.raises(InvalidInputError, match="vectorised function"):
        compare("camel", small_budget(), dim=2, progress=False)
    with pytest.raises(InvalidInputError, match="already an Integrand"):
        compare(camel(2), small_budget(), dim=2, progress=False)
    with pytest.raises(InvalidInputError, match="exact"):
        compare(product, small_budget(), dim=2, exact=-1.0, progress=False)
    with pytest.raises(InvalidInputError, match="guard_flows"):
        compare(product, small_budget(guard_flows=-1), dim=2, progress=False)


def test_the_default_budget_is_the_benchmarks(monkeypatch):
    """compare()'s default budget: 5 000 calls x (40 + 20) iterations, the medium flow."""
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_integration

    from precml_widgets.integration.flow import FLOW_SIZES

    default = ComparisonConfig()
    assert default.training_calls + default.calls_per_iteration * default.final_iterations == (
        300_000
    )
    assert default.nis.flow == FLOW_SIZES["medium"]
    assert bench_integration.default_config() == default


# -- the guard on real runs -----------------------------------------------------------------------
MISS_CONFIG = dict(
    calls_per_iteration=1_000,
    training_iterations=20,
    final_iterations=5,
    diagnostic_events=5_000,
    guard_flows=2,
)


def _missed_a_peak(c: Comparison) -> bool:
    """The flow's estimate is wrong by more than 3 of its errors (one hump of two: ~ -I/2)."""
    return c.pull("flow") < -3


@pytest.mark.slow
def test_guard_flags_a_flow_that_missed_a_peak():
    """A real miss: the 8D Camel with narrow humps (alpha = 0.1) on a small budget.

    At this seed the flow keeps ~1/4 of the integral (pull ~ -12) and VEGAS+ finds one hump
    (~1/2, tiny error), yet the pooled estimate of all samplers finds both humps: flagged.
    """
    from precml_widgets.integration.flow import FLOW_SIZES

    budget = ComparisonConfig(**MISS_CONFIG, nis=NISConfig(flow=FLOW_SIZES["small"]), seed=3)
    c = compare(camel(8, alpha=0.1), budget, progress=False)
    assert _missed_a_peak(c), c.guard.message
    assert c.flagged and "WARNING" in c.warnings[0]
    with pytest.raises(UnreliableResultError):
        c.error_ratio()
    # the pooled voice found both humps: within 4 sigma of the exact value
    pooled = dict(
        zip(c.guard.labels, zip(c.guard.estimates, c.guard.errors, strict=True), strict=True)
    )
    x, e = pooled["all samplers pooled"]
    assert abs(x - c.integrand.exact) < 4 * e


@pytest.mark.slow
def test_guard_passes_a_run_that_found_both_peaks():
    """The 2D Camel on the same small budget: every voice is right, nothing is flagged.

    For correct estimates the guard's false-alarm rate is 0.27 % (see the toy test above).
    """
    c = compare(camel(2), small_budget(guard_flows=2), progress=False)
    for label, x, e in zip(c.guard.labels, c.guard.estimates, c.guard.errors, strict=True):
        assert abs(x - c.integrand.exact) < 4 * e, label
    assert not c.flagged and c.warnings == ()
    assert math.isfinite(c.error_ratio())


GUARD_STUDIES = {
    # the 16D Camel on notebook 01's CI budget: flows and VEGAS+ mostly find one hump
    # (measured: 3 of 10 flows missed one, pull < -3, all 3 flagged; 9 of 10 runs flagged)
    "camel-16d, 36 000 calls": (16, 2_000, 12, 6, "small", True),
    # the 12D Camel at the benchmark's budget (the issue's set-up). Measured: no flow missed a
    # hump in 10 seeds (flow/exact 0.996-1.004), 4 of 10 runs flagged because VEGAS+ was
    # biased low (e.g. 0.87, pull -5.5); misses are not required here
    "camel-12d, 300 000 calls": (12, 5_000, 40, 20, "medium", False),
}


@pytest.mark.validation
@pytest.mark.parametrize("study", list(GUARD_STUDIES))
def test_guard_flags_every_missed_peak_over_ten_seeds(study):
    """Over 10 seeds, every run whose flow missed a hump (pull < -3) is flagged."""
    from precml_widgets.integration.flow import FLOW_SIZES

    dim, cpi, train, final, size, expect_misses = GUARD_STUDIES[study]
    flagged, missed = [], []
    for seed in range(10):
        budget = ComparisonConfig(
            cpi, train, final, NISConfig(flow=FLOW_SIZES[size]), 5_000, guard_flows=2, seed=seed
        )
        c = compare(camel(dim), budget, progress=False)
        flagged.append(c.flagged)
        missed.append(_missed_a_peak(c))
        print(study, seed, "flow/exact", c.results["flow"].estimate / c.integrand.exact,
              "pull", c.pull("flow"), "flagged", c.flagged, "p", c.guard.p_value)  # fmt: skip
    print(study, "missed", sum(missed), "flagged", sum(flagged), "of 10")
    assert all(f for f, m in zip(flagged, missed, strict=True) if m), (missed, flagged)
    if expect_misses:  # otherwise the guard's power would be untested here
        assert any(missed), missed
