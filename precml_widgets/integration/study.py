"""Flow against VEGAS+ and classic VEGAS on one integrand, at equal total integrand calls."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from precml_widgets.errors import InvalidInputError
from precml_widgets.integration.counting import CountingIntegrand
from precml_widgets.integration.integrands import Integrand
from precml_widgets.integration.nis import (
    DIAGNOSTIC,
    NeuralImportanceSampler,
    NISConfig,
    integrate_nis,
    stream_seed,
)
from precml_widgets.integration.result import IntegrationResult, WeightedEvents
from precml_widgets.integration.unweighting import UnweightedEvents, unweight
from precml_widgets.integration.vegas_baseline import (
    VegasConfig,
    VegasSampler,
    integrate_vegas,
)

__all__ = ["Comparison", "ComparisonConfig", "compare"]


@dataclass(frozen=True)
class ComparisonConfig:
    """One budget for every method.

    Attributes:
        calls_per_iteration: integrand calls per iteration, for the flow and for VEGAS.
        training_iterations: iterations spent training the flow / adapting the VEGAS grid.
        final_iterations: iterations' worth of calls for the final estimate (VEGAS averages
            these iterations; the flow spends the same calls on one fresh sample).
        nis: the flow's settings; its ``training_calls``, ``calls_per_iteration`` and
            ``final_calls`` are overwritten from the fields above.
        diagnostic_events: fresh weighted events per method for the weight and unweighting
            diagnostics (extra calls, reported separately, not in the comparison budget).
        seed: seeds everything.

    Example:
        >>> ComparisonConfig(calls_per_iteration=1000, training_iterations=4).training_calls
        4000
    """

    calls_per_iteration: int = 5_000
    training_iterations: int = 20
    final_iterations: int = 10
    nis: NISConfig = field(default_factory=NISConfig)
    diagnostic_events: int = 100_000
    seed: int = 0

    @property
    def training_calls(self) -> int:
        """Calls spent on training or adaptation."""
        return self.calls_per_iteration * self.training_iterations


@dataclass(frozen=True)
class Comparison:
    """Results of every method on one integrand.

    Attributes:
        integrand: the integrand (with its exact value).
        results: ``{"flow": ..., "VEGAS+": ..., "VEGAS": ...}``.
        diagnostics: per method, fresh weighted events from the final sampler (for VEGAS+
            and VEGAS: from the adapted map alone, without the stratification, which is how
            a VEGAS grid serves as the proposal of an event generator).
        config: the budget.
    """

    integrand: Integrand
    results: dict[str, IntegrationResult]
    diagnostics: dict[str, WeightedEvents]
    config: ComparisonConfig

    @property
    def methods(self) -> list[str]:
        """Method names in display order."""
        return list(self.results)

    def pull(self, method: str) -> float:
        """``(estimate - exact) / error`` of one method (reference uncertainty included)."""
        return self.results[method].pull(self.integrand.exact, self.integrand.exact_error)

    def error_ratio(self, method: str = "VEGAS+") -> float:
        """Relative error of ``method`` over the flow's, at equal calls: > 1, the flow is better.

        vegas honours ``neval`` only approximately, so classic VEGAS may have used a few % (up
        to ~20 % in 8D) fewer or more calls than the flow; its error is scaled to the flow's
        calls with the Monte Carlo law ``error ∝ 1/sqrt(calls)``. (VEGAS+ and the flow use
        exactly the same number of calls, so no scaling happens there.)
        """
        other, flow = self.results[method], self.results["flow"]
        scale = math.sqrt(other.calls / flow.calls)
        return other.relative_error * scale / flow.relative_error

    def unweighting_efficiency(self, method: str, quantile: float | None = None) -> float:
        """``<w>/w_max`` on the fresh diagnostic events (``quantile`` replaces the max)."""
        return self.diagnostics[method].unweighting_efficiency(quantile)

    def unweighted(self, method: str, quantile: float | None = None) -> UnweightedEvents:
        """Hit-or-miss unweighted events of one method."""
        return unweight(self.diagnostics[method], quantile=quantile, seed=self.config.seed)

    def table(self) -> list[dict[str, float | str | int]]:
        """One row per method: estimate, error, pull, calls, efficiencies, wall time."""
        rows = []
        for method, r in self.results.items():
            rows.append(
                {
                    "method": method,
                    "estimate": r.estimate,
                    "error": r.error,
                    "relative error": r.relative_error,
                    "pull": self.pull(method),
                    "calls": r.calls,
                    "weight rel. std": self.diagnostics[method].relative_std,
                    "unweighting eff. (max)": self.unweighting_efficiency(method),
                    "unweighting eff. (99.9%)": self.unweighting_efficiency(method, 0.999),
                    "wall time s": r.wall_time_s,
                }
            )
        return rows


def _diagnostic(
    sampler: NeuralImportanceSampler | VegasSampler, counter: CountingIntegrand, n: int, seed: int
) -> WeightedEvents:
    x, q = sampler.sample(n, seed)
    return WeightedEvents(x, counter(x) / q, density=q)


def compare(
    integrand: Integrand,
    config: ComparisonConfig | None = None,
    *,
    device: str | None = None,
    progress: bool = True,
    on_progress: Callable[[float], None] | None = None,
) -> Comparison:
    """Run VEGAS+, classic VEGAS and the flow on ``integrand`` with the same call budget.

    VEGAS+ runs first; the flow then gets exactly as many calls in total (training plus final
    estimate) as VEGAS+ used, measured by the shared :class:`CountingIntegrand`. Classic VEGAS
    gets the same ``neval`` per iteration, which vegas honours only approximately (a few %).

    Args:
        integrand: the integrand, with its exact value.
        config: the budget.
        device: torch device for the flow.
        progress: show a progress bar while the flow trains.
        on_progress: called with the fraction done (0 to 1) as the flow trains.

    Returns:
        A :class:`Comparison`.
    """
    config = config or ComparisonConfig()
    if config.diagnostic_events < 2:
        raise InvalidInputError(f"diagnostic_events must be >= 2, got {config.diagnostic_events}.")
    # the flow's settings are checked before any integrand call is spent
    nis_cfg = replace(
        config.nis,
        training_calls=config.training_calls,
        calls_per_iteration=config.calls_per_iteration,
        final_calls=max(2, config.calls_per_iteration * config.final_iterations),
        seed=config.seed,
    ).validate()
    diagnostic_seed = stream_seed(config.seed, DIAGNOSTIC)
    results: dict[str, IntegrationResult] = {}
    diagnostics: dict[str, WeightedEvents] = {}
    for variant in ("VEGAS+", "VEGAS"):
        counter = CountingIntegrand(integrand.fn, integrand.dim, integrand.name)
        vegas_cfg = VegasConfig(
            calls_per_iteration=config.calls_per_iteration,
            adapt_iterations=config.training_iterations,
            final_iterations=config.final_iterations,
            variant=variant,
            seed=config.seed,
        ).validate()
        results[variant], sampler = integrate_vegas(integrand, vegas_cfg, counter=counter)
        diagnostics[variant] = _diagnostic(
            sampler, counter, config.diagnostic_events, diagnostic_seed
        )
    counter = CountingIntegrand(integrand.fn, integrand.dim, integrand.name)
    results["flow"], flow = integrate_nis(
        integrand,
        nis_cfg,
        counter=counter,
        device=device,
        progress=progress,
        on_iteration=None if on_progress is None else lambda i, n: on_progress(i / n),
        total_calls=results["VEGAS+"].calls,  # exactly VEGAS+'s calls, training included
    )
    diagnostics["flow"] = _diagnostic(flow, counter, config.diagnostic_events, diagnostic_seed)
    order = ["flow", "VEGAS+", "VEGAS"]
    return Comparison(
        integrand=integrand,
        results={k: results[k] for k in order},
        diagnostics={k: diagnostics[k] for k in order},
        config=config,
    )
