"""Phase-space integration: neural importance sampling with zuko flows, measured against VEGAS.

The HoloViews plots (``plots``) and the Panel view
:class:`~precml_widgets.integration.explorer.IntegrationExplorer` are imported on first access
of their names, so importing the package imports neither HoloViews nor Panel.
"""

from __future__ import annotations

from precml_widgets._optional import lazy_exports
from precml_widgets.integration.budget import CallBudget
from precml_widgets.integration.counting import CountingIntegrand, IntegrandValueError
from precml_widgets.integration.factorisation import FactorisedSpread, factorised_spread
from precml_widgets.integration.flow import FLOW_SIZES, FlowConfig, build_cube_flow
from precml_widgets.integration.guard import Agreement, UnreliableResultError, agreement
from precml_widgets.integration.integrand import Integrand
from precml_widgets.integration.nis import NeuralImportanceSampler, integrate_nis
from precml_widgets.integration.nis_config import NISConfig
from precml_widgets.integration.result import (
    IntegrationResult,
    IterationRecord,
    WeightedEvents,
    mc_estimate,
)
from precml_widgets.integration.study import Comparison, ComparisonConfig, compare
from precml_widgets.integration.suite import SUITE, get, suite
from precml_widgets.integration.toys import annulus, camel, entangled_circles, gauss, polynomial
from precml_widgets.integration.unweighting import UnweightedEvents, unweight
from precml_widgets.integration.vegas_baseline import VegasConfig, integrate_vegas

#: Public names imported on first access (torch or Panel): name -> module of this package.
_LAZY = {
    "IntegrationExplorer": "explorer",
    "convergence_plot": "plots",
    "projection_plot": "plots",
    "weight_histogram": "plots",
}

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
    "IntegrationExplorer",
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
    "convergence_plot",
    "entangled_circles",
    "factorised_spread",
    "gauss",
    "get",
    "integrate_nis",
    "integrate_vegas",
    "mc_estimate",
    "polynomial",
    "projection_plot",
    "suite",
    "unweight",
    "weight_histogram",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
