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
from precml_widgets.errors import InvalidInputError

__all__ = ["Smearing", "accepted_shape_integrals", "shape_integrals", "smeared_shapes"]

Array = npt.NDArray[np.float64]
# Gauss-Legendre nodes of the theta integral, and its half-width in units of sigma; nodes
# per bin of the integrals over cos theta_obs (done in theta_obs).
_N_THETA = 96
_N_BIN = 64
_HALF_WIDTH = 9.0


@dataclass(frozen=True)
class Smearing:
    """Gaussian resolutions of the smeared configuration.

    Attributes:
        angle_rad: sigma of the polar angle theta, rad, in (0, 0.3].
        mass_rel: relative sigma of the dimuon mass, sigma_m / sqrt(s), in (0, 0.1] (so that
            the mass stays positive 8 sigma down).
    """

    angle_rad: float = 0.05
    mass_rel: float = 0.02

    def __post_init__(self) -> None:
        require_real("angle_rad", self.angle_rad, low=0.0, high=0.3, low_open=True, unit="rad")
        require_real("mass_rel", self.mass_rel, low=0.0, high=0.1, low_open=True)


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
    if not np.all(np.abs(c) < 1.0):
        raise InvalidInputError(
            "cos_obs must lie strictly inside (-1, 1): the smeared density diverges (integrably) "
            "at +-1; integrate it with shape_integrals instead."
        )
    alpha = np.arccos(c)
    sin_alpha = np.sqrt(np.clip(1.0 - c * c, 1e-300, None))
    total = np.zeros((*c.shape, 2))
    for k in (-1, 0, 1):
        for sign in (1.0, -1.0):
            total += _theta_density(sign * alpha + 2.0 * np.pi * k, smearing.angle_rad)
    return total / sin_alpha[..., None]


def shape_integrals(smearing: Smearing | None, low: npt.ArrayLike, high: npt.ArrayLike) -> Array:
    """Integrals of the two shapes (smeared or not) over ``cos theta_obs`` in [low, high].

    Unsmeared in closed form; smeared by Gauss-Legendre quadrature in the angle
    ``theta_obs = arccos(c)``, where ``g(cos theta) sin theta`` is smooth up to the poles.

    Args:
        smearing: ``None`` or the :class:`Smearing`.
        low, high: bin edges in [-1, 1], broadcast to a shape ``S``.

    Returns:
        Shape ``S + (2,)``.
    """
    lo, hi = np.broadcast_arrays(np.asarray(low, float), np.asarray(high, float))
    if smearing is None:
        return np.stack(
            [((1.0 + hi) ** 3 - (1.0 + lo) ** 3) / 3.0, ((1.0 - lo) ** 3 - (1.0 - hi) ** 3) / 3.0],
            axis=-1,
        )
    x, w = np.polynomial.legendre.leggauss(_N_BIN)
    t_hi, t_lo = np.arccos(np.clip(lo, -1.0, 1.0)), np.arccos(np.clip(hi, -1.0, 1.0))
    half = 0.5 * (t_hi - t_lo)
    theta = (0.5 * (t_hi + t_lo))[..., None] + half[..., None] * x
    g = smeared_shapes(smearing, np.cos(theta))  # nodes never reach the poles
    return np.sum(g * (np.sin(theta) * w * half[..., None])[..., None], axis=-2)


def accepted_shape_integrals(smearing: Smearing | None, cos_max: float) -> Array:
    """``int_{-cos_max}^{cos_max}`` of the two shapes (smeared or not) in cos theta_obs.

    Returns:
        Shape (2,); equal by symmetry; ``((1 + a)^3 - (1 - a)^3) / 3`` without smearing.
    """
    return shape_integrals(smearing, -cos_max, cos_max)
