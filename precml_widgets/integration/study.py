"""Flow against VEGAS+ and classic VEGAS on one integrand, at equal total integrand calls.

:func:`compare` takes a suite :class:`Integrand` or a plain vectorised numpy function (bring
your own integrand); besides the three methods it trains ``guard_flows`` more flows from
independent seeds, and :mod:`~precml_widgets.integration.guard` checks that every flow and
VEGAS+ agree on the integral before the methods are compared.

The one budget (:class:`~precml_widgets.integration.budget.CallBudget`) sets VEGAS+'s
iterations; vegas adapts its per-iteration count, so each flow trains on the budget's training
calls and its final estimate gets what VEGAS+ spent minus those (``total_calls``). This is the
one place where a comparison overrides the budget's final calls: the error ratio compares equal
calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_instance, require_int
from precml_widgets.errors import InvalidInputError
from precml_widgets.integration.budget import CallBudget
from precml_widgets.integration.counting import CountingIntegrand, IntegrandValueError
from precml_widgets.integration.guard import (
    Agreement,
    UnreliableResultError,
    agreement,
    mixture_estimate,
)
from precml_widgets.integration.integrand import Integrand
from precml_widgets.integration.nis import (
    DIAGNOSTIC,
    GUARD,
    NeuralImportanceSampler,
    integrate_nis,
    stream_seed,
)
from precml_widgets.integration.nis_config import NISConfig
from precml_widgets.integration.result import IntegrationResult, WeightedEvents
from precml_widgets.integration.unweighting import UnweightedEvents, unweight
from precml_widgets.integration.vegas_baseline import (
    VegasConfig,
    VegasSampler,
    integrate_vegas,
)

__all__ = ["Comparison", "ComparisonConfig", "as_integrand", "compare"]


#: Points on which a user's function is tried before any budget is spent.
_PROBE_POINTS = 64


@dataclass(frozen=True, init=False)
class ComparisonConfig:
    """One budget for every method; the defaults are the benchmark's (300 000 calls each).

    Attributes:
        budget: the integrand calls of each method
            (:class:`~precml_widgets.integration.budget.CallBudget`, default 5 000 calls x
            (40 + 20) iterations): the flow trains, and VEGAS adapts its grid, for
            ``training_iterations``; VEGAS averages ``final_iterations`` more iterations, and
            the flow spends on one fresh sample exactly the calls VEGAS+ used in all, minus
            those of its own training.
        nis: the flow's settings (default: the medium flow, 4 spline transforms of 16 bins);
            the flow runs with ``budget`` (its own budget is replaced, except a
            ``premap_calls`` it names when ``budget`` leaves ``premap_calls`` automatic).
        diagnostic_events: fresh weighted events per method for the weight and unweighting
            diagnostics (extra calls, reported separately, not in the comparison budget).
        guard_flows: extra flows, trained from independent seeds with the same budget each
            (extra calls, not in the comparison budget), whose estimates must agree with the
            flow's and VEGAS+'s (:mod:`~precml_widgets.integration.guard`); 0 keeps only the
            flow-vs-VEGAS+ check.
        seed: seeds everything.

    The budget may also be given by its old names, positionally or as keywords:
    ``ComparisonConfig(calls_per_iteration, training_iterations, final_iterations, nis, ...)``;
    they replace those numbers of ``budget`` and remain readable as properties.

    Example:
        >>> ComparisonConfig(budget=CallBudget(1000, training_iterations=4)).training_calls
        4000
        >>> ComparisonConfig(calls_per_iteration=1000, training_iterations=4).budget.total_calls
        24000
    """

    budget: CallBudget
    nis: NISConfig
    diagnostic_events: int
    guard_flows: int
    seed: int

    def __init__(
        self,
        calls_per_iteration: int | None = None,
        training_iterations: int | None = None,
        final_iterations: int | None = None,
        nis: NISConfig | None = None,
        diagnostic_events: int = 100_000,
        guard_flows: int = 2,
        seed: int = 0,
        *,
        budget: CallBudget | None = None,
    ) -> None:
        budget = require_instance("ComparisonConfig.budget", budget or CallBudget(), CallBudget)
        old = {
            "calls_per_iteration": calls_per_iteration,
            "training_iterations": training_iterations,
            "final_iterations": final_iterations,
        }
        settings = {
            "budget": replace(budget, **{k: v for k, v in old.items() if v is not None}),
            "nis": NISConfig() if nis is None else nis,
            "diagnostic_events": diagnostic_events,
            "guard_flows": guard_flows,
            "seed": seed,
        }
        for name, value in settings.items():
            object.__setattr__(self, name, value)

    @property
    def calls_per_iteration(self) -> int:
        """Integrand calls per iteration, for the flow and for VEGAS."""
        return self.budget.calls_per_iteration

    @property
    def training_iterations(self) -> int:
        """Iterations spent training the flow / adapting the VEGAS grid."""
        return self.budget.training_iterations

    @property
    def final_iterations(self) -> int:
        """Iterations' worth of calls for the final estimate."""
        return self.budget.final_iterations

    @property
    def training_calls(self) -> int:
        """Calls spent on training or adaptation."""
        return self.budget.training_calls

    def flow_config(self) -> NISConfig:
        """The flow's settings with this comparison's budget and seed (not yet validated)."""
        premap_calls = self.budget.premap_calls
        if premap_calls is None:
            premap_calls = require_instance(
                "ComparisonConfig.nis", self.nis, NISConfig
            ).budget.premap_calls
        budget = replace(self.budget, premap_calls=premap_calls)
        return replace(self.nis, budget=budget, seed=self.seed)

    def validate(self) -> ComparisonConfig:
        """Return ``self`` or raise :class:`InvalidInputError` naming the bad field."""
        self.budget.validate("ComparisonConfig", min_calls_per_iteration=100)
        require_int("diagnostic_events", self.diagnostic_events, low=2)
        require_int("guard_flows", self.guard_flows, low=0)
        require_int("ComparisonConfig.seed", self.seed, low=0)
        self.flow_config().validate()
        return self


@dataclass(frozen=True)
class Comparison:
    """Results of every method on one integrand, and whether they can be trusted.

    Attributes:
        integrand: the integrand (with its exact value, or ``None`` when unknown).
        results: ``{"flow": ..., "VEGAS+": ..., "VEGAS": ...}``.
        diagnostics: per method, fresh weighted events from the final sampler (for VEGAS+
            and VEGAS: from the adapted map alone, without the stratification, which is how
            a VEGAS grid serves as the proposal of an event generator).
        config: the budget.
        flow: the trained flow of ``results["flow"]`` (sample it with ``flow.sample(n, seed)``).
        guard_results: the guard flows' results, ``{"flow (guard 1)": ..., ...}``.
        guard: the agreement test of the flows and VEGAS+
            (:func:`~precml_widgets.integration.guard.agreement`).
    """

    integrand: Integrand
    results: dict[str, IntegrationResult]
    diagnostics: dict[str, WeightedEvents]
    config: ComparisonConfig
    flow: NeuralImportanceSampler | None = None
    guard_results: dict[str, IntegrationResult] = field(default_factory=dict)
    guard: Agreement | None = None

    @property
    def methods(self) -> list[str]:
        """Method names in display order."""
        return list(self.results)

    @property
    def has_exact(self) -> bool:
        """Whether the integrand's exact value is known (pulls exist only then)."""
        return self.integrand.exact is not None

    @property
    def flagged(self) -> bool:
        """True when the guard found independent estimates that disagree."""
        return self.guard is not None and self.guard.flagged

    @property
    def warnings(self) -> tuple[str, ...]:
        """Warnings that travel with the result: the guard's (when it flagged the run) and each
        method's own (:attr:`IntegrationResult.warnings`, e.g. vegas's heavy weight tail)."""
        own = tuple(
            f"{method}: {text}" for method, r in self.results.items() for text in r.warnings
        )
        return ((self.guard.message,) if self.flagged else ()) + own

    def pull(self, method: str) -> float:
        """``(estimate - exact) / error`` of one method (reference uncertainty included).

        Raises:
            InvalidInputError: when the integrand has no exact value.
        """
        if self.integrand.exact is None:
            raise InvalidInputError(
                f"'{self.integrand.name}' has no exact value, so there is no pull; pass "
                "exact=... to compare() when the integral is known."
            )
        result = self.results.get(method) or self.guard_results[method]
        return result.pull(self.integrand.exact, self.integrand.exact_error)

    def error_ratio(self, method: str = "VEGAS+", *, allow_flagged: bool = False) -> float:
        """Relative error of ``method`` over the flow's, at equal calls: > 1, the flow is better.

        vegas honours ``neval`` only approximately, so classic VEGAS may have used a few % (up
        to ~20 % in 8D) fewer or more calls than the flow; its error is scaled to the flow's
        calls with the Monte Carlo law ``error ∝ 1/sqrt(calls)``. (VEGAS+ and the flow use
        exactly the same number of calls, so no scaling happens there.)

        Args:
            method: ``"VEGAS+"`` or ``"VEGAS"``.
            allow_flagged: compute the ratio even when the guard flagged the run (its value
                then compares errors of estimates that disagree, and means little).

        Raises:
            UnreliableResultError: when the guard flagged the run: the smaller error may
                belong to a method that missed part of the integrand.
        """
        if self.flagged and not allow_flagged:
            raise UnreliableResultError(
                f"no error ratio for '{self.integrand.name}': {self.guard.message}"
            )
        other, flow = self.results[method], self.results["flow"]
        scale = math.sqrt(other.calls / flow.calls)
        return other.relative_error * scale / flow.relative_error

    def unweighting_efficiency(self, method: str, quantile: float | None = None) -> float:
        """``<w>/w_max`` on the fresh diagnostic events (``quantile`` replaces the max)."""
        return self.diagnostics[method].unweighting_efficiency(quantile)

    def unweighted(self, method: str, quantile: float | None = None) -> UnweightedEvents:
        """Hit-or-miss unweighted events of one method."""
        return unweight(self.diagnostics[method], quantile=quantile, seed=self.config.seed)

    def table(self) -> list[dict[str, float | str | int | None]]:
        """One row per method: estimate, error, pull (``None`` without an exact value), calls,
        efficiencies, wall time."""
        rows = []
        for method, r in self.results.items():
            rows.append(
                {
                    "method": method,
                    "estimate": r.estimate,
                    "error": r.error,
                    "relative error": r.relative_error,
                    "pull": self.pull(method) if self.has_exact else None,
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


def as_integrand(
    integrand: Integrand | Callable[[npt.NDArray[np.float64]], npt.ArrayLike],
    *,
    dim: int | None = None,
    exact: float | None = None,
    exact_error: float = 0.0,
    name: str | None = None,
) -> Integrand:
    """An :class:`Integrand` from a suite integrand or a plain vectorised numpy function.

    A plain function is tried on a few points first, so that a wrong output shape, NaN,
    infinities, negative values or an exception raise a clear error before any budget is spent.

    Args:
        integrand: an :class:`Integrand`, or ``f(x)`` taking ``(N, dim)`` float64 points in the
            unit cube and returning ``(N,)`` values ``>= 0``.
        dim: the dimension (required for a plain function).
        exact: the integral over ``[0, 1]^dim`` when known (pulls are shown only then).
        exact_error: the uncertainty of ``exact``.
        name: shown in tables and errors (default: the function's ``__name__``).

    Raises:
        InvalidInputError: for a missing ``dim``, a non-callable, or arguments that conflict
            with a given :class:`Integrand`.
        IntegrandValueError: when the function fails or returns bad values on the probe points.

    Example:
        >>> ig = as_integrand(lambda x: 3 * x[:, 0] ** 2, dim=2, exact=1.0, name="x0^2")
        >>> ig.name, ig.dim, ig.exact
        ('x0^2', 2, 1.0)
    """
    if isinstance(integrand, Integrand):
        if dim is not None or exact is not None or name is not None or exact_error != 0.0:
            raise InvalidInputError(
                f"'{integrand.name}' is already an Integrand with its own dimension and exact "
                "value; pass dim, exact, exact_error and name only with a plain function."
            )
        return integrand
    if not callable(integrand):
        raise InvalidInputError(
            "compare() needs an Integrand or a vectorised function f(x) of (N, dim) points in "
            f"the unit cube returning (N,) values; got {type(integrand).__name__}."
        )
    if dim is None:
        raise InvalidInputError(
            "a plain function needs its dimension: compare(f, dim=4) (and exact=... if the "
            "integral is known)."
        )
    label = name or getattr(integrand, "__name__", "integrand")
    label = "integrand" if label == "<lambda>" else label
    built = Integrand(
        name=label,
        dim=dim,
        fn=integrand,
        exact=exact,
        exact_error=float(exact_error),
        reference="given by the user" if exact is not None else "no exact value given",
    )
    probe = np.random.default_rng(0).random((_PROBE_POINTS, built.dim))
    try:
        CountingIntegrand(built.fn, built.dim, built.name)(probe)
    except IntegrandValueError:
        raise
    except Exception as exc:  # the user's function itself failed
        raise IntegrandValueError(
            f"calling '{built.name}' on {_PROBE_POINTS} points of shape {probe.shape} raised "
            f"{type(exc).__name__}: {exc}. The function must accept a float64 array of shape "
            f"(N, {built.dim}) and return N values (vectorise it with numpy)."
        ) from exc
    return built


def compare(
    integrand: Integrand | Callable[[npt.NDArray[np.float64]], npt.ArrayLike],
    config: ComparisonConfig | None = None,
    *,
    dim: int | None = None,
    exact: float | None = None,
    exact_error: float = 0.0,
    name: str | None = None,
    device: str | None = None,
    progress: bool = True,
    on_progress: Callable[[float], None] | None = None,
) -> Comparison:
    """Run VEGAS+, classic VEGAS and the flow on ``integrand`` with the same call budget.

    VEGAS+ runs first; the flow then gets exactly as many calls in total (training plus final
    estimate) as VEGAS+ used, measured by the shared :class:`CountingIntegrand`. Classic VEGAS
    gets the same ``neval`` per iteration, which vegas honours only approximately (a few %).
    Then ``config.guard_flows`` more flows are trained from independent seeds with the same
    budget, and the flows and VEGAS+ must agree within 3 sigma (``Comparison.guard``); when
    they do not, the comparison carries a warning and ``error_ratio`` refuses to rank them.

    Args:
        integrand: a suite :class:`Integrand`, or a plain vectorised numpy function ``f(x)``
            of ``(N, dim)`` points in the unit cube returning ``(N,)`` values ``>= 0``.
        config: the budget (default: the benchmark's, 300 000 calls per method).
        dim: the dimension, for a plain function.
        exact: the exact integral of a plain function, when known (for pulls).
        exact_error: its uncertainty.
        name: a name for a plain function.
        device: torch device for the flows.
        progress: show a progress bar while the flow trains.
        on_progress: called with the fraction done (0 to 1) as the flows train.

    Returns:
        A :class:`Comparison`, with the trained flow in ``.flow``.

    Example:
        >>> import numpy as np
        >>> from precml_widgets.integration.flow import FlowConfig
        >>> cfg = ComparisonConfig(budget=CallBudget(1000, 4, 2),
        ...                        nis=NISConfig(flow=FlowConfig(2, 8, (16,))),
        ...                        diagnostic_events=1000, guard_flows=1)
        >>> c = compare(lambda x: 3 * x[:, 0] ** 2, cfg, dim=2, progress=False)
        >>> c.has_exact, c.flagged, c.flow.sample(3, seed=0)[0].shape
        (False, False, (3, 2))
    """
    config = require_instance("config", config or ComparisonConfig(), ComparisonConfig)
    integrand = as_integrand(integrand, dim=dim, exact=exact, exact_error=exact_error, name=name)
    # every setting is checked before any integrand call is spent
    nis_cfg = config.validate().flow_config()
    guard_flows = config.guard_flows
    diagnostic_seed = stream_seed(config.seed, DIAGNOSTIC)
    results: dict[str, IntegrationResult] = {}
    diagnostics: dict[str, WeightedEvents] = {}
    samplers: dict[str, NeuralImportanceSampler | VegasSampler] = {}
    for variant in ("VEGAS+", "VEGAS"):
        counter = CountingIntegrand(integrand.fn, integrand.dim, integrand.name)
        vegas_cfg = VegasConfig(budget=config.budget, variant=variant, seed=config.seed).validate()
        results[variant], samplers[variant] = integrate_vegas(integrand, vegas_cfg, counter=counter)
        diagnostics[variant] = _diagnostic(
            samplers[variant], counter, config.diagnostic_events, diagnostic_seed
        )
    n_flows = 1 + guard_flows

    def flow_progress(k: int) -> Callable[[int, int], None] | None:
        if on_progress is None:
            return None
        return lambda i, n: on_progress((k + i / n) / n_flows)

    counter = CountingIntegrand(integrand.fn, integrand.dim, integrand.name)
    results["flow"], flow = integrate_nis(
        integrand,
        nis_cfg,
        counter=counter,
        device=device,
        progress=progress,
        on_iteration=flow_progress(0),
        total_calls=results["VEGAS+"].calls,  # exactly VEGAS+'s calls, training included
    )
    diagnostics["flow"] = _diagnostic(flow, counter, config.diagnostic_events, diagnostic_seed)
    guard_results: dict[str, IntegrationResult] = {}
    for k in range(guard_flows):
        label = f"flow (guard {k + 1})"
        guard_results[label], samplers[label] = integrate_nis(
            integrand,
            replace(nis_cfg, seed=stream_seed(config.seed, GUARD, k)),
            device=device,
            progress=progress,
            on_iteration=flow_progress(k + 1),
            total_calls=results["VEGAS+"].calls,
        )
    voices = {"flow": results["flow"], **guard_results, "VEGAS+": results["VEGAS+"]}
    estimates = {label: (r.estimate, r.error) for label, r in voices.items()}
    # every sampler's events pooled (multi-channel): sees any peak that one of them found
    pooled = {"flow": (results["flow"].events, flow.density)}
    pooled |= {label: (r.events, samplers[label].density) for label, r in guard_results.items()}
    pooled["VEGAS+"] = (diagnostics["VEGAS+"], samplers["VEGAS+"].density)
    estimates["all samplers pooled"] = mixture_estimate(pooled)
    guard = agreement(estimates)
    order = ["flow", "VEGAS+", "VEGAS"]
    return Comparison(
        integrand=integrand,
        results={k: results[k] for k in order},
        diagnostics={k: diagnostics[k] for k in order},
        config=config,
        flow=flow,
        guard_results=guard_results,
        guard=guard,
    )
