"""Phase-space integration: neural importance sampling with zuko flows, measured against VEGAS."""

from __future__ import annotations

from precml_widgets.integration.budget import CallBudget
from precml_widgets.integration.counting import CountingIntegrand, IntegrandValueError
from precml_widgets.integration.factorisation import FactorisedSpread, factorised_spread
from precml_widgets.integration.flow import FLOW_SIZES, FlowConfig, build_cube_flow
from precml_widgets.integration.guard import Agreement, UnreliableResultError, agreement
from precml_widgets.integration.integrand import Integrand
from precml_widgets.integration.nis import NeuralImportanceSampler, integrate_nis
from precml_widgets.integration.nis_config import NISConfig
from precml_widgets.integration.result import IntegrationResult, IterationRecord, WeightedEvents
from precml_widgets.integration.study import Comparison, ComparisonConfig, compare
from precml_widgets.integration.suite import SUITE, get, suite
from precml_widgets.integration.toys import annulus, camel, entangled_circles, gauss, polynomial
from precml_widgets.integration.unweighting import UnweightedEvents, unweight
from precml_widgets.integration.vegas_baseline import VegasConfig, integrate_vegas

__all__ = [
    "FLOW_SIZES",
    "SUITE",
    "Agreement",
    "CallBudget",
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
    "annulus",
    "build_cube_flow",
    "camel",
    "compare",
    "entangled_circles",
    "factorised_spread",
    "gauss",
    "get",
    "integrate_nis",
    "integrate_vegas",
    "polynomial",
    "suite",
    "unweight",
]
