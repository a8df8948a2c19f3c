"""One object representation for every sample: the two leading muons of an event.

Background and every signal are reduced to the same objects (the two highest-pT muons),
the same padding (none: an event needs two muons to enter) and the same features, so an
anomaly score cannot win by counting objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from precml_widgets.errors import InvalidInputError

__all__ = ["FEATURE_NAMES", "MAX_ABS_ETA", "MIN_PT_GEV", "DimuonEvents"]

#: Autoencoder input features, in this order.
FEATURE_NAMES = ("log_pt1", "log_pt2", "eta1", "eta2", "abs_dphi")
#: Common acceptance applied to every sample: both muons pT > 1 GeV and abs(eta) < 2.4.
MIN_PT_GEV = 1.0
MAX_ABS_ETA = 2.4


@dataclass(frozen=True)
class DimuonEvents:
    """The two leading muons of ``n`` events, ordered so that ``pt[:, 0] >= pt[:, 1]``.

    Attributes:
        name: short sample name, e.g. ``"cms2010_zmumu"``.
        pt: transverse momenta in GeV, shape ``(n, 2)``.
        eta: pseudorapidities, shape ``(n, 2)``.
        phi: azimuths in radians, shape ``(n, 2)``.
        real: True for recorded collision data, False for simulation.
        description: where the events come from, in words.
    """

    name: str
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    real: bool
    description: str = ""

    @classmethod
    def from_arrays(
        cls,
        name: str,
        pt: ArrayLike,
        eta: ArrayLike,
        phi: ArrayLike,
        *,
        real: bool,
        description: str = "",
        apply_acceptance: bool = True,
    ) -> DimuonEvents:
        """Validate, order by pT and (optionally) apply the common acceptance.

        Args:
            name: sample name.
            pt, eta, phi: arrays of shape ``(n, 2)`` (GeV, -, rad).
            real: recorded data (True) or simulation (False).
            description: provenance in words.
            apply_acceptance: keep only events with both muons pT > 1 GeV and abs(eta) < 2.4.
        """
        arrays = [np.array(a, dtype=np.float64, copy=True) for a in (pt, eta, phi)]
        for label, a in zip(("pt", "eta", "phi"), arrays, strict=True):
            if a.ndim != 2 or a.shape[1] != 2:
                raise InvalidInputError(
                    f"sample {name!r}: {label} must have shape (n_events, 2) for the two leading "
                    f"muons, got {a.shape}. Select events with at least two muons first."
                )
            bad = int(np.count_nonzero(~np.isfinite(a)))
            if bad:
                raise InvalidInputError(
                    f"sample {name!r}: {label} holds {bad} NaN/inf values; drop those events first."
                )
        pt_, eta_, phi_ = arrays
        if not (pt_.shape == eta_.shape == phi_.shape):
            raise InvalidInputError(
                f"sample {name!r}: pt, eta, phi shapes differ ({pt_.shape}, {eta_.shape}, "
                f"{phi_.shape}); pass one row per event for each."
            )
        if np.any(pt_ < 0):
            raise InvalidInputError(f"sample {name!r}: negative pT values; pT is in GeV and >= 0.")
        swap = pt_[:, 1] > pt_[:, 0]
        for a in (pt_, eta_, phi_):
            a[swap] = a[swap][:, ::-1]
        if apply_acceptance:
            keep = np.all((pt_ > MIN_PT_GEV) & (np.abs(eta_) < MAX_ABS_ETA), axis=1)
            pt_, eta_, phi_ = pt_[keep], eta_[keep], phi_[keep]
        if len(pt_) == 0:
            raise InvalidInputError(
                f"sample {name!r} has no events with two muons inside the acceptance "
                f"(pT > {MIN_PT_GEV} GeV, |eta| < {MAX_ABS_ETA})."
            )
        return cls(name, pt_, eta_, phi_, real, description)

    @property
    def n(self) -> int:
        """Number of events."""
        return len(self.pt)

    @property
    def abs_dphi(self) -> np.ndarray:
        """Absolute azimuthal separation abs(Δφ) between the muons in [0, π], shape ``(n,)``."""
        d = np.abs(self.phi[:, 0] - self.phi[:, 1]) % (2 * np.pi)
        return np.minimum(d, 2 * np.pi - d)

    def features(self) -> np.ndarray:
        """Autoencoder inputs (:data:`FEATURE_NAMES`), float32 array of shape ``(n, 5)``."""
        return np.column_stack(
            [
                np.log(self.pt[:, 0]),
                np.log(self.pt[:, 1]),
                self.eta[:, 0],
                self.eta[:, 1],
                self.abs_dphi,
            ]
        ).astype(np.float32)

    def ht(self) -> np.ndarray:
        """Scalar sum of the two muons' pT in GeV, shape ``(n,)`` (a trivial baseline score)."""
        return self.pt.sum(axis=1)

    def mass(self) -> np.ndarray:
        """Dimuon invariant mass in GeV (muon mass neglected), shape ``(n,)``."""
        deta = self.eta[:, 0] - self.eta[:, 1]
        m2 = (
            2
            * self.pt[:, 0]
            * self.pt[:, 1]
            * (np.cosh(deta) - np.cos(self.phi[:, 0] - self.phi[:, 1]))
        )
        return np.sqrt(np.clip(m2, 0.0, None))

    def select(
        self, mask: np.ndarray, name: str | None = None, description: str | None = None
    ) -> DimuonEvents:
        """Events where ``mask`` is True, as a new sample."""
        return DimuonEvents(
            name or self.name,
            self.pt[mask],
            self.eta[mask],
            self.phi[mask],
            self.real,
            self.description if description is None else description,
        )
