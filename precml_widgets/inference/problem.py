"""An inference problem: a measurement, the Wilson coefficients left free, and their box."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_array
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.measurement import LEP2, LEP2_SMEARED, Measurement
from precml_widgets.inference.smeft import WILSON_COEFFICIENTS

__all__ = ["NLE_EVENTS", "EFTProblem", "default_problem", "nle_problem"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class EFTProblem:
    """Which coefficients are fitted (the others are 0) and the box they may take.

    The box is the prior of the likelihood-free methods and the range the classifiers are
    trained on; a coefficient vector outside it is refused, never extrapolated silently.

    Attributes:
        measurement: the :class:`Measurement` (energies, luminosities, acceptance).
        free: names of the fitted coefficients, a subset of :data:`WILSON_COEFFICIENTS`.
        low: lower edge of the box per free coefficient (at Lambda = 1 TeV).
        high: upper edge per free coefficient; each > the matching ``low``.
    """

    measurement: Measurement
    free: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    def __post_init__(self) -> None:
        unknown = [n for n in self.free if n not in WILSON_COEFFICIENTS]
        if unknown or not self.free or len(set(self.free)) != len(self.free):
            raise InvalidInputError(
                f"free must name distinct Wilson coefficients from {WILSON_COEFFICIENTS}, got "
                f"{self.free}."
            )
        low = require_array("low", self.low, ndim=1)
        high = require_array("high", self.high, ndim=1)
        if low.shape != (len(self.free),) or high.shape != low.shape:
            raise InvalidInputError(
                f"low and high need one edge per free coefficient ({len(self.free)}), got "
                f"{low.size} and {high.size}."
            )
        if not np.all(high > low):
            raise InvalidInputError(
                f"the box of {self.free} has zero or negative width ({self.low} to "
                f"{self.high}); give high > low for every coefficient."
            )

    @property
    def dim(self) -> int:
        """Number of free coefficients."""
        return len(self.free)

    @property
    def lower(self) -> Array:
        """The box's lower edges, shape (dim,)."""
        return np.asarray(self.low, dtype=np.float64)

    @property
    def upper(self) -> Array:
        """The box's upper edges, shape (dim,)."""
        return np.asarray(self.high, dtype=np.float64)

    @property
    def columns(self) -> list[int]:
        """Positions of the free coefficients in a full four-vector."""
        return [WILSON_COEFFICIENTS.index(n) for n in self.free]

    def full(self, free_values: npt.ArrayLike, *, check: bool = True) -> Array:
        """Free coefficients ``(..., dim)`` as full vectors ``(..., 4)``, zeros elsewhere.

        Raises:
            InvalidInputError: with ``check``, for a value outside the box (naming it).
        """
        v = require_array("coefficients", free_values)
        if v.ndim == 0 or v.shape[-1] != self.dim:
            raise InvalidInputError(
                f"coefficients must end in an axis of {self.dim} values ({self.free}), got "
                f"shape {v.shape}."
            )
        if check:
            self.require_inside(v)
        out = np.zeros((*v.shape[:-1], len(WILSON_COEFFICIENTS)))
        out[..., self.columns] = v
        return out

    def require_inside(self, free_values: Array) -> None:
        """Refuse coefficient vectors outside the box: they would be extrapolations."""
        outside = np.any((free_values < self.lower) | (free_values > self.upper), axis=-1)
        if np.any(outside):
            first = np.asarray(free_values).reshape(-1, self.dim)[np.ravel(outside)][0]
            raise InvalidInputError(
                f"Wilson coefficients {dict(zip(self.free, first.tolist(), strict=True))} lie "
                f"outside the box {self.low} to {self.high} the methods were set up on; "
                "stay inside it, or widen the box and retrain."
            )


def default_problem(measurement: Measurement = LEP2) -> EFTProblem:
    """The teaching problem: C_ll^(1122) and C_le^(1122) free in [-0.3, 0.3] each.

    The two enter amplitudes of opposite angular shape, (1 + c)^2 and (1 - c)^2, so the
    angular distribution tells them apart. (C_le^(1122) and C_le^(2211) would not: the LR and
    RL amplitudes are equal in the Standard Model, the linear terms see only the sum, and the
    expected region is a thin arc that leaves any box of this size.)
    """
    return EFTProblem(measurement, ("C_ll_1122", "C_le_1122"), (-0.3, -0.3), (0.3, 0.3))


#: Events per data set in the likelihood-free comparisons (a stated choice: the errors of a
#: learned per-event likelihood add up over the events, so the C2ST grows with it).
NLE_EVENTS = 250


def nle_problem(measurement: Measurement = LEP2_SMEARED) -> EFTProblem:
    """The likelihood-free problem: the same two coefficients in [-1, 1] (the prior box), on
    the smeared configuration, whose mass is continuous as a flow needs. A data set of
    :data:`NLE_EVENTS` events constrains them only through its shape (the count is not used),
    so the posterior fills a good part of this box."""
    return EFTProblem(measurement, ("C_ll_1122", "C_le_1122"), (-1.0, -1.0), (1.0, 1.0))
