"""Phase-space integration: neural importance sampling with zuko flows, measured against VEGAS."""

from __future__ import annotations

from precml_widgets.integration.counting import CountingIntegrand, IntegrandValueError
from precml_widgets.integration.factorisation import FactorisedSpread, factorised_spread
from precml_widgets.integration.flow import FlowConfig, build_cube_flow
from precml_widgets.integration.guard import Agreement, UnreliableResultError, agreement
from precml_widgets.integration.integrands import Integrand, get, suite
from precml_widgets.integration.nis import NeuralImportanceSampler, NISConfig, integrate_nis
from precml_widgets.integration.result import IntegrationResult, IterationRecord, WeightedEvents
from precml_widgets.integration.study import Comparison, ComparisonConfig, compare
from precml_widgets.integration.unweighting import UnweightedEvents, unweight
from precml_widgets.integration.vegas_baseline import VegasConfig, integrate_vegas

__all__ = [
    "Agreement",
    "Comparison",
    "ComparisonConfig",
    "CountingIntegrand",
    "FactorisedSpread",
    "FlowConfig",
    "Integrand",
    "IntegrandValueError",
    "IntegrationResult",
    "IterationRecord",
    "NISConfig",
    "NeuralImportanceSampler",
    "UnreliableResultError",
    "UnweightedEvents",
    "VegasConfig",
    "WeightedEvents",
    "agreement",
    "build_cube_flow",
    "compare",
    "factorised_spread",
    "get",
    "integrate_nis",
    "integrate_vegas",
    "suite",
    "unweight",
]
