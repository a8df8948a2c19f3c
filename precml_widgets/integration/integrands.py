"""Test integrands on the unit hypercube with known integrals: the i-flow benchmark suite.

The historical home of the integrands, kept so that old imports work. Each concept now has its
own module: the type in :mod:`~precml_widgets.integration.integrand`, the toy functions in
:mod:`~precml_widgets.integration.toys`, the physics integrand in
:mod:`~precml_widgets.integration.ee_mumu` and the benchmark registry (:func:`suite`,
:func:`get`) in :mod:`~precml_widgets.integration.suite`.

Example:
    >>> from precml_widgets.integration.integrands import camel, get
    >>> get("camel-4d").name == camel(4).name
    True
"""

from __future__ import annotations

from precml_widgets.integration.integrand import Integrand
from precml_widgets.integration.suite import get, suite
from precml_widgets.integration.toys import annulus, camel, entangled_circles, gauss, polynomial

__all__ = [
    "Integrand",
    "annulus",
    "camel",
    "entangled_circles",
    "gauss",
    "get",
    "polynomial",
    "suite",
]
