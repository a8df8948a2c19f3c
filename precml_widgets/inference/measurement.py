"""A stated e+e- -> mu+mu- measurement: energies, luminosities, acceptance, optional smearing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_array, require_instance, require_real
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.smearing import Smearing, accepted_shape_integrals
from precml_widgets.inference.smeft import DEFAULT_LAMBDA_GEV, require_coefficients, shape_terms

__all__ = ["LEP2", "LEP2_SMEARED", "Measurement", "mass_frame", "sigma_terms"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Measurement:
    """Centre-of-mass energies (GeV) with their integrated luminosities (pb^-1) and acceptance.

    Events are ``x = (m, cos theta)``: without smearing ``m`` is the energy itself and the
    angle is the true one; with a :class:`Smearing` both are smeared (see
    :mod:`precml_widgets.inference.smearing`). The acceptance ``|cos theta| <= cos_max``
    applies to the observed angle.

    Attributes:
        energies_gev: the centre-of-mass energies, GeV, increasing.
        luminosities_pb: integrated luminosity at each energy, pb^-1.
        cos_max: the accepted range is ``|cos theta| <= cos_max``.
        lambda_gev: the scale Lambda the Wilson coefficients refer to, GeV.
        smearing: ``None`` (the exact angle and energy) or a :class:`Smearing`.
        label: what the numbers stand for, carried into every summary.
    """

    energies_gev: tuple[float, ...]
    luminosities_pb: tuple[float, ...]
    cos_max: float = 0.95
    lambda_gev: float = DEFAULT_LAMBDA_GEV
    smearing: Smearing | None = None
    label: str = ""

    def __post_init__(self) -> None:
        e = require_array("energies_gev", self.energies_gev, ndim=1)
        lum = require_array("luminosities_pb", self.luminosities_pb, ndim=1)
        if e.size == 0 or e.shape != lum.shape:
            raise InvalidInputError(
                f"energies_gev and luminosities_pb must be equally long and non-empty, got "
                f"{e.size} and {lum.size}; give one luminosity (pb^-1) per energy (GeV)."
            )
        if np.any(e <= 0.0) or np.any(np.diff(e) <= 0.0) or np.any(lum <= 0.0):
            raise InvalidInputError(
                "energies_gev must be > 0 and increasing and luminosities_pb > 0, got "
                f"{self.energies_gev} GeV and {self.luminosities_pb} pb^-1."
            )
        require_real("cos_max", self.cos_max, low=0.0, high=1.0, low_open=True, high_open=True)
        require_real("lambda_gev", self.lambda_gev, low=0.0, low_open=True, unit="GeV")
        if self.smearing is not None:
            require_instance("smearing", self.smearing, Smearing)

    @property
    def energies(self) -> Array:
        """The energies as an array, GeV, shape (n_energies,)."""
        return np.asarray(self.energies_gev, dtype=np.float64)

    @property
    def luminosities(self) -> Array:
        """The luminosities as an array, pb^-1, shape (n_energies,)."""
        return np.asarray(self.luminosities_pb, dtype=np.float64)

    def expected_events(self, coefficients: npt.ArrayLike) -> Array:
        """Expected accepted events per energy at ``coefficients`` (shape ``(..., 4)``),
        shape ``(..., n_energies)``."""
        sm, lin, quad = sigma_terms(self)
        c = require_coefficients("coefficients", coefficients)[..., None, :]
        return self.luminosities * (sm + np.sum(lin * c + quad * c * c, axis=-1))


#: Our LEP-2 configuration: the luminosity-weighted energies of the LEP-2 runs as listed in
#: the LEP electroweak combination (arXiv:1302.3415), grouped into four, with the four
#: experiments' luminosities added and rounded; Born level, no initial-state radiation.
LEP2 = Measurement(
    energies_gev=(182.7, 188.6, 199.5, 206.6),
    luminosities_pb=(230.0, 700.0, 930.0, 870.0),
    cos_max=0.95,
    label="LEP-2-like: 4 energies, 2.73 fb^-1 in all, |cos theta| <= 0.95, Born level",
)
#: The same with the stated smearing: 0.05 rad on the muon angle, 2 % on the dimuon mass
#: (coarser than the LEP detectors, so that the smearing matters: the mass peaks of
#: neighbouring energies overlap).
LEP2_SMEARED = Measurement(
    energies_gev=LEP2.energies_gev,
    luminosities_pb=LEP2.luminosities_pb,
    cos_max=LEP2.cos_max,
    smearing=Smearing(angle_rad=0.05, mass_rel=0.02),
    label=LEP2.label + "; smeared: sigma_theta = 0.05 rad, sigma_m / m = 2 %",
)


def sigma_terms(measurement: Measurement) -> tuple[Array, Array, Array]:
    """The accepted cross section's quadratic form per energy, in pb.

    Returns:
        ``(sm, linear, quadratic)`` of shapes (n_energies,), (n_energies, 4), (n_energies, 4):
        ``sigma(C) = sm + linear @ C + quadratic @ C^2``, the shape terms of
        :func:`~precml_widgets.inference.smeft.shape_terms` times the accepted integrals of
        the (smeared) angular shapes.
    """
    sm, lin, quad = shape_terms(measurement.energies, lambda_gev=measurement.lambda_gev)
    g = accepted_shape_integrals(measurement.smearing, measurement.cos_max)
    return sm @ g, np.einsum("esk,s->ek", lin, g), np.einsum("esk,s->ek", quad, g)


def mass_frame(measurement: Measurement) -> tuple[float, float]:
    """``(shift, scale)`` in GeV that standardise the mass (or sqrt s) before a network.

    The shift is the middle of the energy range, the scale its half-width, at least 1 GeV (so a
    single energy is not divided by 0). Used by the classifiers and both likelihood flows.
    """
    e = measurement.energies
    return float(0.5 * (e[0] + e[-1])), float(max(0.5 * (e[-1] - e[0]), 1.0))
