"""A stated Gaussian detector smearing of the muon angle and the dimuon mass, convolved exactly.

The smeared configuration observes ``x = (m, cos theta_obs)``: the dimuon mass
``m = sqrt(s) (1 + mass_rel z1)`` and the polar angle ``theta_obs = theta + angle_rad z2``
(``z1``, ``z2`` independent standard normals), then the acceptance ``|cos theta_obs| <=
cos_max``. Because smearing is linear in the density, each angular shape ``(1 +- c)^2`` is
convolved once and the smeared cross section stays exactly quadratic in the coefficients:

``g(c_obs) = sum_{theta_o: cos theta_o = c_obs} h(theta_o) / |sin theta_o|``, with
``h(theta_o) = int_0^pi (1 +- cos theta)^2 sin theta phi_sigma(theta_o - theta) dtheta``

over the preimages ``theta_o = +-arccos(c_obs) + 2 pi k`` (a smeared angle past 0 or pi
folds back). The integral is done by Gauss-Legendre quadrature over ``theta_o +- 9 sigma``;
the tests check it against adaptive quadrature and against smeared events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_real

__all__ = ["Smearing", "accepted_shape_integrals", "smeared_shapes"]

Array = npt.NDArray[np.float64]
# Gauss-Legendre nodes of the theta integral, and its half-width in units of sigma.
_N_THETA = 96
_HALF_WIDTH = 9.0


@dataclass(frozen=True)
class Smearing:
    """Gaussian resolutions of the smeared configuration.

    Attributes:
        angle_rad: sigma of the polar angle theta, rad, in (0, 0.3].
        mass_rel: relative sigma of the dimuon mass, sigma_m / sqrt(s), in (0, 0.2].
    """

    angle_rad: float = 0.05
    mass_rel: float = 0.02

    def __post_init__(self) -> None:
        require_real("angle_rad", self.angle_rad, low=0.0, high=0.3, low_open=True, unit="rad")
        require_real("mass_rel", self.mass_rel, low=0.0, high=0.2, low_open=True)


def _theta_density(theta_obs: Array, sigma: float) -> Array:
    """``h`` of both shapes at angles ``theta_obs`` (any real), shape ``theta_obs.shape + (2,)``."""
    x, w = np.polynomial.legendre.leggauss(_N_THETA)
    lo = np.clip(theta_obs - _HALF_WIDTH * sigma, 0.0, np.pi)
    hi = np.clip(theta_obs + _HALF_WIDTH * sigma, 0.0, np.pi)
    half = 0.5 * (hi - lo)
    theta = (0.5 * (hi + lo))[..., None] + half[..., None] * x  # (..., N)
    gauss = np.exp(-0.5 * ((theta_obs[..., None] - theta) / sigma) ** 2) / (
        sigma * np.sqrt(2.0 * np.pi)
    )
    c, s = np.cos(theta), np.sin(theta)
    base = gauss * s * w * half[..., None]
    return np.stack([np.sum(base * (1.0 + c) ** 2, -1), np.sum(base * (1.0 - c) ** 2, -1)], -1)


def smeared_shapes(smearing: Smearing, cos_obs: npt.ArrayLike) -> Array:
    """The smeared angular shapes ``g_same``, ``g_opp`` at ``cos_obs`` in (-1, 1).

    Args:
        smearing: the :class:`Smearing`.
        cos_obs: observed cos theta, any shape ``S``, strictly inside (-1, 1).

    Returns:
        Shape ``S + (2,)``: the densities in cos theta_obs that ``(1 + c)^2`` and
        ``(1 - c)^2`` become; each integrates over [-1, 1] to 8/3, as before smearing.

    Example:
        >>> g = smeared_shapes(Smearing(angle_rad=0.05), [0.0])
        >>> [round(float(v), 4) for v in g[0]]  # (1 +- 0)^2 = 1, smeared: curvature lifts it
        [1.0012, 1.0012]
    """
    c = np.asarray(cos_obs, dtype=np.float64)
    alpha = np.arccos(np.clip(c, -1.0, 1.0))
    sin_alpha = np.sqrt(np.clip(1.0 - c * c, 1e-300, None))
    total = np.zeros((*c.shape, 2))
    for k in (-1, 0, 1):
        for sign in (1.0, -1.0):
            total += _theta_density(sign * alpha + 2.0 * np.pi * k, smearing.angle_rad)
    return total / sin_alpha[..., None]


def accepted_shape_integrals(smearing: Smearing | None, cos_max: float) -> Array:
    """``int_{-cos_max}^{cos_max}`` of the two shapes (smeared or not) in cos theta_obs.

    Returns:
        Shape (2,); equal by symmetry; ``((1 + a)^3 - (1 - a)^3) / 3`` without smearing.
    """
    if smearing is None:
        same = ((1.0 + cos_max) ** 3 - (1.0 - cos_max) ** 3) / 3.0
        return np.array([same, same])
    x, w = np.polynomial.legendre.leggauss(256)
    return cos_max * w @ smeared_shapes(smearing, cos_max * x)
