"""e+e- -> mu+mu- in the SMEFT at tree level: four-lepton contact terms and their quadratic form.

Each of the four Warsaw-basis coefficients below multiplies one chirality structure
``(e_X gamma e_X)(mu_Y gamma mu_Y)`` and so adds to exactly one helicity amplitude ``A_XY``
of :func:`precml_widgets.integration.ee_mumu.helicity_amplitudes`:

``A_XY -> A_XY + C_XY s / (4 pi alpha Lambda^2)``

(photon exchange normalised to ``Q_e Q_mu = 1``). The cross section is therefore exactly
quadratic in the coefficients, ``dsigma = dsigma_SM + sum_i C_i dsigma_i + sum_i C_i^2
dsigma_ii``, and the mixed terms vanish because no two coefficients share an amplitude.
C_ll^(1221) is left out: it shifts the muon decay rate and hence G_F, an input of the
couplings.

Convention: ``L = L_SM + sum_k (C_k / Lambda^2) O_k`` over the non-redundant Warsaw operators,
each written once (the WCxf convention, J. Aebischer et al., arXiv:1712.05298), with ``Lambda
= 1 TeV`` unless stated; so ``C_ll^(1122)`` is the whole coefficient of
``(l_1 gamma l_1)(l_2 gamma l_2)`` (the redundant ``C_ll^(2211)`` is not added again). In the
notation of Eichten, Lane and Peskin (Phys. Rev. Lett. 50 (1983) 811) with ``g^2 = 4 pi``,
``C_XY / Lambda^2 = 4 pi eta_XY / Lambda_ELP^2``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_array, require_real
from precml_widgets.errors import InvalidInputError
from precml_widgets.integration.ee_mumu import ALPHA_EM_MZ, HBARC2_PB_GEV2, helicity_amplitudes

__all__ = [
    "DEFAULT_LAMBDA_GEV",
    "WILSON_COEFFICIENTS",
    "WILSON_HELICITY",
    "angular_shapes",
    "dsigma_dcos_smeft_pb",
    "quadratic_terms",
    "require_coefficients",
    "shape_terms",
]

Array = npt.NDArray[np.float64]

#: The four coefficients, in the order of every coefficient vector in this package.
WILSON_COEFFICIENTS: tuple[str, ...] = ("C_ll_1122", "C_ee_1122", "C_le_1122", "C_le_2211")
#: The helicity amplitude (electron chirality, muon chirality) each coefficient adds to.
WILSON_HELICITY: dict[str, str] = {
    "C_ll_1122": "LL",
    "C_ee_1122": "RR",
    "C_le_1122": "LR",
    "C_le_2211": "RL",
}
#: The new-physics scale Lambda that the coefficients are quoted at, in GeV (1 TeV).
DEFAULT_LAMBDA_GEV: float = 1000.0
# Angular shape of each helicity: 0 for (1 + c)^2 (chiralities agree), 1 for (1 - c)^2.
_SHAPE = {"LL": 0, "RR": 0, "LR": 1, "RL": 1}


def require_coefficients(name: str, coefficients: npt.ArrayLike) -> Array:
    """``coefficients`` as a float64 array of shape ``(..., 4)`` in the order of
    :data:`WILSON_COEFFICIENTS`, or a clear error."""
    c = require_array(
        name, coefficients, hint=f"give the four Wilson coefficients {WILSON_COEFFICIENTS}."
    )
    if c.ndim == 0 or c.shape[-1] != len(WILSON_COEFFICIENTS):
        raise InvalidInputError(
            f"{name} must end in an axis of {len(WILSON_COEFFICIENTS)} Wilson coefficients "
            f"{WILSON_COEFFICIENTS}, got shape {c.shape}; pad absent ones with 0."
        )
    return c


def _epsilon(s: Array, lambda_gev: float) -> Array:
    """``s / (4 pi alpha Lambda^2)``: a unit coefficient's amplitude in units of the photon's."""
    return s / (4.0 * math.pi * ALPHA_EM_MZ * lambda_gev**2)


def _check_cos(cos_theta: npt.ArrayLike) -> Array:
    c = require_array("cos_theta", cos_theta, hint="cos(theta) lies in [-1, 1].")
    if not np.all((c >= -1.0) & (c <= 1.0)):
        raise InvalidInputError("cos_theta must lie in [-1, 1] (the muon's scattering angle).")
    return c


def shape_terms(
    sqrt_s: npt.ArrayLike, *, lambda_gev: float = DEFAULT_LAMBDA_GEV
) -> tuple[Array, Array, Array]:
    """The cross section's two angular shapes and their quadratic form in the coefficients.

    ``dsigma/dcos(x; C) = (1 + c)^2 T_same(C) + (1 - c)^2 T_opp(C)`` with
    ``T(C) = sm + linear @ C + quadratic @ C^2`` (in pb): ``T_same`` collects the LL and RR
    amplitudes, ``T_opp`` LR and RL, each ``(pi alpha^2 / 8 s) |A_XY + C_XY eps|^2`` with
    ``eps = s / (4 pi alpha Lambda^2)``.

    Args:
        sqrt_s: centre-of-mass energy in GeV, > 0, shape ``S``.
        lambda_gev: the scale Lambda the coefficients refer to, in GeV.

    Returns:
        ``(sm, linear, quadratic)`` of shapes ``S + (2,)``, ``S + (2, 4)``, ``S + (2, 4)``; the
        axis of length 2 is (same, opposite) chiralities.

    Example:
        >>> sm, lin, quad = shape_terms(200.0)
        >>> [round(float(v), 4) for v in sm]  # pb: LL+RR above LR+RL, hence A_FB > 0
        [0.9643, 0.1433]
    """
    lam = require_real("lambda_gev", lambda_gev, low=0.0, low_open=True, unit="GeV")
    amplitudes = helicity_amplitudes(sqrt_s)  # checks sqrt_s > 0
    s = np.asarray(sqrt_s, dtype=np.float64) ** 2
    pref = HBARC2_PB_GEV2 * math.pi * ALPHA_EM_MZ**2 / (8.0 * s)
    eps = _epsilon(s, lam)
    sm = np.zeros((*s.shape, 2))
    linear = np.zeros((*s.shape, 2, len(WILSON_COEFFICIENTS)))
    quadratic = np.zeros_like(linear)
    for h in ("LL", "RR", "LR", "RL"):
        sm[..., _SHAPE[h]] += pref * np.abs(amplitudes[h]) ** 2
    for k, name in enumerate(WILSON_COEFFICIENTS):
        h = WILSON_HELICITY[name]
        linear[..., _SHAPE[h], k] = pref * 2.0 * eps * amplitudes[h].real
        quadratic[..., _SHAPE[h], k] = pref * eps * eps
    return sm, linear, quadratic


def angular_shapes(cos_theta: npt.ArrayLike) -> Array:
    """``((1 + c)^2, (1 - c)^2)`` stacked on a last axis of length 2."""
    c = _check_cos(cos_theta)
    return np.stack([(1.0 + c) ** 2, (1.0 - c) ** 2], axis=-1)


def quadratic_terms(
    sqrt_s: npt.ArrayLike,
    cos_theta: npt.ArrayLike,
    *,
    lambda_gev: float = DEFAULT_LAMBDA_GEV,
) -> tuple[Array, Array, Array]:
    """The exact coefficient functions of ``dsigma/dcos`` in the Wilson coefficients, in pb.

    ``dsigma/dcos(x; C) = sm + linear @ C + sum_i quadratic[..., i] C_i^2`` with x =
    (sqrt(s), cos theta), the mu- angle to the e- beam; mixed products ``C_i C_j`` (i != j)
    have zero coefficient (each coefficient enters one helicity amplitude).

    Args:
        sqrt_s: centre-of-mass energy in GeV, > 0.
        cos_theta: cos(theta) in [-1, 1]; broadcast against ``sqrt_s`` to a shape ``S``.
        lambda_gev: the scale Lambda the coefficients refer to, in GeV.

    Returns:
        ``(sm, linear, quadratic)`` of shapes ``S``, ``S + (4,)``, ``S + (4,)``, in pb.

    Example:
        >>> sm, lin, quad = quadratic_terms(200.0, 0.5)
        >>> round(float(sm), 4), round(float(lin[0] / sm), 3)  # +29 % per unit C_ll
        (2.2056, 0.291)
    """
    t, c = np.broadcast_arrays(require_array("sqrt_s", sqrt_s), _check_cos(cos_theta))
    sm, lin, quad = shape_terms(t, lambda_gev=lambda_gev)
    w = angular_shapes(c)
    return (
        np.sum(w * sm, axis=-1),
        np.sum(w[..., None] * lin, axis=-2),
        np.sum(w[..., None] * quad, axis=-2),
    )


def dsigma_dcos_smeft_pb(
    sqrt_s: npt.ArrayLike,
    cos_theta: npt.ArrayLike,
    coefficients: npt.ArrayLike,
    *,
    lambda_gev: float = DEFAULT_LAMBDA_GEV,
) -> Array:
    """Tree-level ``dsigma/dcos`` of e+e- -> mu+mu- with the four contact terms, in pb.

    Args:
        sqrt_s: centre-of-mass energy in GeV, > 0.
        cos_theta: cos(theta) in [-1, 1]; broadcast against ``sqrt_s`` to a shape ``S``.
        coefficients: Wilson coefficients, shape ``(4,)`` or ``S + (4,)``, in the order of
            :data:`WILSON_COEFFICIENTS`, at the scale ``lambda_gev``.
        lambda_gev: Lambda in GeV.

    Returns:
        The differential cross section, shape ``S``, in pb; at ``C = 0`` it equals
        :func:`precml_widgets.integration.ee_mumu.dsigma_dcos_pb`.

    Example:
        >>> float(dsigma_dcos_smeft_pb(200.0, 0.5, [0.0, 0.0, 0.0, 0.0])) > 0
        True
    """
    c = require_coefficients("coefficients", coefficients)
    sm, linear, quadratic = quadratic_terms(sqrt_s, cos_theta, lambda_gev=lambda_gev)
    return sm + np.sum(linear * c + quadratic * c * c, axis=-1)
