"""The exact event density of a measurement, its quadrature nodes, and its binned expectation.

For features ``x = (m, cos theta)`` the expected event density is
``nu(x; C) = sum_E L_E M_E(m) sum_s G_s(cos theta) T_{E,s}(C)``: ``M_E`` picks the energy
(without smearing; ``m`` is then the energy and the measure in ``m`` counts) or is the Gaussian
of the smeared mass; ``G_s`` are the (smeared) angular shapes; ``T_{E,s}(C)`` is quadratic in the
coefficients (:func:`~precml_widgets.inference.smeft.shape_terms`). Units: events per unit
cos theta, and per GeV of ``m`` when smeared.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import special

from precml_widgets._checks import require_array, require_int
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.measurement import Measurement
from precml_widgets.inference.smearing import shape_integrals, smeared_shapes
from precml_widgets.inference.smeft import angular_shapes, require_coefficients, shape_terms

__all__ = [
    "bin_terms",
    "density_terms",
    "event_density",
    "mass_range",
    "quadrature_nodes",
    "require_events",
]

Array = npt.NDArray[np.float64]
# The smeared mass is integrated over the energies +- this many sigma, in panels of one sigma
# of the lowest energy with 8 Gauss-Legendre nodes each.
_MASS_SIGMAS = 8.0
_MASS_NODES = 8


def require_events(
    measurement: Measurement, features: npt.ArrayLike, name: str = "features"
) -> Array:
    """``features`` (n, 2) = (m in GeV, cos theta) inside the measurement's support.

    Raises:
        InvalidInputError: for a wrong shape, NaN or infinite values, ``|cos theta| >
            cos_max``, (without smearing) an ``m`` that is not one of the energies, or (with
            smearing) an ``m`` outside :func:`mass_range`, naming how many.
    """
    x = require_array(name, features, ndim=2, hint="an (n, 2) array of finite numbers.")
    if x.shape[1] != 2:
        raise InvalidInputError(
            f"{name} must have 2 columns (m or sqrt s in GeV, cos theta), got shape {x.shape}."
        )
    outside = int(np.count_nonzero(np.abs(x[:, 1]) > measurement.cos_max))
    if outside:
        raise InvalidInputError(
            f"{outside} of {len(x)} events in {name} have |cos theta| > {measurement.cos_max}, "
            "outside the acceptance; apply the acceptance cut first."
        )
    if measurement.smearing is None:
        e = measurement.energies
        index = np.clip(np.searchsorted(e, x[:, 0]), 0, e.size - 1)
        if not np.all(np.abs(e[index] - x[:, 0]) <= 1e-9):
            raise InvalidInputError(
                f"the first column of {name} must be one of the energies "
                f"{measurement.energies_gev} GeV; events outside the declared support have "
                "no density here."
            )
    elif np.any(x[:, 0] <= 0.0):
        raise InvalidInputError(f"the dimuon mass (first column of {name}) must be > 0 GeV.")
    else:
        lo, hi = mass_range(measurement)
        off = int(np.count_nonzero((x[:, 0] < lo) | (x[:, 0] > hi)))
        if off:
            raise InvalidInputError(
                f"{off} of {len(x)} events in {name} have a dimuon mass (first column) outside "
                f"[{lo:.6g}, {hi:.6g}] GeV, the energies +- {_MASS_SIGMAS:g} sigma of the mass "
                "smearing where the density is defined (and integrated); drop those events or "
                "check the units (GeV)."
            )
    return x


def mass_range(measurement: Measurement) -> tuple[float, float]:
    """The smeared mass support ``[E_min (1 - 8 rel), E_max (1 + 8 rel)]`` in GeV.

    It is the range :func:`quadrature_nodes` integrates the mass over; without smearing it is
    ``[E_min, E_max]``.
    """
    e = measurement.energies
    rel = 0.0 if measurement.smearing is None else measurement.smearing.mass_rel
    return float(e[0] * (1.0 - _MASS_SIGMAS * rel)), float(e[-1] * (1.0 + _MASS_SIGMAS * rel))


def _mass_weights(measurement: Measurement, m: Array) -> Array:
    """``M_E(m)``, shape (n, n_energies): one-hot, or the smeared Gaussian per GeV."""
    e = measurement.energies
    if measurement.smearing is None:
        return (np.abs(m[:, None] - e[None, :]) <= 1e-9).astype(np.float64)
    sigma = measurement.smearing.mass_rel * e
    z = (m[:, None] - e[None, :]) / sigma
    return np.exp(-0.5 * z * z) / (sigma * np.sqrt(2.0 * np.pi))


def _shapes(measurement: Measurement, cos: Array) -> Array:
    if measurement.smearing is None:
        return angular_shapes(cos)
    return smeared_shapes(measurement.smearing, cos)


def density_terms(measurement: Measurement, features: npt.ArrayLike) -> tuple[Array, Array, Array]:
    """The quadratic form of ``nu(x; C)`` at events ``features`` (n, 2).

    Returns:
        ``(sm, linear, quadratic)`` of shapes (n,), (n, 4), (n, 4):
        ``nu(x; C) = sm + linear @ C + quadratic @ C^2`` in events per unit x.
    """
    x = require_events(measurement, features)
    t_sm, t_lin, t_quad = shape_terms(measurement.energies, lambda_gev=measurement.lambda_gev)
    mass = _mass_weights(measurement, x[:, 0]) * measurement.luminosities  # (n, E)
    g = _shapes(measurement, x[:, 1])  # (n, S)
    return (
        np.einsum("ne,ns,es->n", mass, g, t_sm),
        np.einsum("ne,ns,esk->nk", mass, g, t_lin),
        np.einsum("ne,ns,esk->nk", mass, g, t_quad),
    )


def event_density(
    measurement: Measurement, features: npt.ArrayLike, coefficients: npt.ArrayLike
) -> Array:
    """``nu(x; C)`` for events (n, 2) and coefficient vectors (4,) or (m, 4): (n,) or (m, n)."""
    c = require_coefficients("coefficients", coefficients)
    sm, lin, quad = density_terms(measurement, features)
    out = sm + np.atleast_2d(c) @ lin.T + np.atleast_2d(c * c) @ quad.T
    return out[0] if c.ndim == 1 else out


def quadrature_nodes(measurement: Measurement, n_cos: int = 48) -> tuple[Array, Array]:
    """Nodes (N, 2) and weights (N,) that integrate a function of x over the acceptance.

    Gauss-Legendre in cos theta (``n_cos`` nodes); in ``m`` the energies themselves (weight 1)
    without smearing, else Gauss-Legendre panels over the energies +- 8 sigma.
    """
    n = require_int("n_cos", n_cos, low=4)
    xc, wc = np.polynomial.legendre.leggauss(n)
    a = measurement.cos_max
    cos, wcos = a * xc, a * wc
    if measurement.smearing is None:
        m, wm = measurement.energies, np.ones(measurement.energies.size)
    else:
        e, rel = measurement.energies, measurement.smearing.mass_rel
        lo, hi = mass_range(measurement)
        n_panels = int(np.ceil((hi - lo) / (rel * e[0])))
        edges = np.linspace(lo, hi, n_panels + 1)
        xm, wmm = np.polynomial.legendre.leggauss(_MASS_NODES)
        half = 0.5 * np.diff(edges)
        m = ((0.5 * (edges[1:] + edges[:-1]))[:, None] + half[:, None] * xm).ravel()
        wm = (half[:, None] * wmm).ravel()
    features = np.column_stack([np.repeat(m, cos.size), np.tile(cos, m.size)])
    return features, np.repeat(wm, cos.size) * np.tile(wcos, m.size)


def bin_terms(measurement: Measurement, n_bins: int) -> tuple[Array, Array, Array]:
    """Expected events per (mass window, cos bin) as a quadratic form in the coefficients.

    Mass windows are the energies (no smearing) or split at the midpoints between energies;
    cos bins are ``n_bins`` equal bins over the acceptance.

    Returns:
        ``(sm, linear, quadratic)`` of shapes (E, B), (E, B, 4), (E, B, 4).
    """
    b = require_int("n_bins", n_bins, low=1)
    a = measurement.cos_max
    edges = np.linspace(-a, a, b + 1)
    g = shape_integrals(measurement.smearing, edges[:-1], edges[1:])  # (B, S)
    e = measurement.energies
    if measurement.smearing is None:
        window = np.eye(e.size)  # (window, energy)
    else:
        cuts = np.concatenate([[-np.inf], 0.5 * (e[1:] + e[:-1]), [np.inf]])
        sigma = measurement.smearing.mass_rel * e
        cdf = special.ndtr((cuts[:, None] - e[None, :]) / sigma[None, :])  # (E + 1, E)
        window = np.diff(cdf, axis=0)
    t_sm, t_lin, t_quad = shape_terms(e, lambda_gev=measurement.lambda_gev)
    lum = window * measurement.luminosities  # (window, energy)
    return (
        np.einsum("we,bs,es->wb", lum, g, t_sm),
        np.einsum("we,bs,esk->wbk", lum, g, t_lin),
        np.einsum("we,bs,esk->wbk", lum, g, t_quad),
    )
