"""The benchmark suite of neural importance sampling vs VEGAS: integrands by name.

The registry maps each name to a factory, so that :func:`get` builds one integrand without
building the others (the e+e- -> mu+mu- integrand runs quadratures when it is built).
"""

from __future__ import annotations

from collections.abc import Callable

from precml_widgets._checks import require_choice
from precml_widgets.integration.ee_mumu import ee_mumu
from precml_widgets.integration.integrand import Integrand
from precml_widgets.integration.toys import annulus, camel, entangled_circles, gauss, polynomial

__all__ = ["SUITE", "get", "suite"]

#: ``{name: factory}`` of the benchmark suite, in display order.
SUITE: dict[str, Callable[[], Integrand]] = {
    **{f"gauss-{d}d": (lambda d=d: gauss(d)) for d in (2, 4, 8, 16)},
    **{f"camel-{d}d": (lambda d=d: camel(d)) for d in (2, 4, 8, 16)},
    "entangled-circles": entangled_circles,
    "annulus": annulus,
    "polynomial-18d": lambda: polynomial(18),
    "ee-mumu": lambda: ee_mumu(mapping="flat"),
    "ee-mumu-bw": lambda: ee_mumu(mapping="breit_wigner"),
}


def suite() -> dict[str, Integrand]:
    """The benchmark suite for neural importance sampling vs VEGAS, keyed by integrand name.

    Returns:
        ``{name: Integrand}`` for gauss and camel in 2, 4, 8 and 16 dimensions, the entangled
        circles, the annulus, the 18-dimensional polynomial and e+e- -> mu+mu- across the Z
        peak in the flat (``"ee-mumu"``) and Breit-Wigner (``"ee-mumu-bw"``) mappings.

    Example:
        >>> list(suite())[:4]
        ['gauss-2d', 'gauss-4d', 'gauss-8d', 'gauss-16d']
    """
    return {name: make() for name, make in SUITE.items()}


def get(name: str) -> Integrand:
    """One integrand of :func:`suite` by name, built without building the others.

    Args:
        name: a key of :func:`suite`, e.g. ``"camel-4d"``.

    Returns:
        The :class:`~precml_widgets.integration.integrand.Integrand`.

    Raises:
        InvalidInputError: for an unknown name; the message lists the available names.

    Example:
        >>> get("camel-4d").dim
        4
    """
    choice = require_choice(
        "integrand",
        name,
        tuple(SUITE),
        hint="build other dimensions or widths with gauss(dim, alpha=...), camel(...) or "
        "polynomial(dim).",
    )
    return SUITE[choice]()
