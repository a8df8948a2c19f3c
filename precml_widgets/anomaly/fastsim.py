"""Fast simulation of dimuon events where the real samples are too small.

An L1 rate at FPR ~1e-5 needs ~1e6 background events; the real CMS 2010 sample has 500
collisions (250 for tuning).
Two generators fill the gap, both documented in the notebook as simulation:

* :class:`DimuonKDE`, a smoothed bootstrap of real events: a Gaussian kernel density
  estimate (scipy) in the dimuon rest frame (m, pT, y, cos theta*, phi*), tuned on one
  half of the real events and validated against the other half with a two-sample test. Its
  tails beyond the reach of the real sample (FPR below ~1/N_real) are an extrapolation of
  the kernel.
* :func:`simulate_resonance`, a narrow dimuon resonance (Breit-Wigner mass, exponential-like
  pT spectrum, isotropic decay, Gaussian pT resolution): benchmark signals.
"""

from __future__ import annotations

import numpy as np

from precml_widgets._checks import require_int, require_real, require_seed
from precml_widgets.anomaly.events import MAX_ABS_ETA, MIN_PT_GEV, DimuonEvents
from precml_widgets.anomaly.kinematics import boost, from_pair_frame, to_pair_frame
from precml_widgets.errors import InvalidInputError

__all__ = ["BANDWIDTH_GRID", "DimuonKDE", "simulate_resonance"]

MUON_MASS_GEV = 0.1056584

#: Kernel widths (x Scott's rule) among which :meth:`DimuonKDE.tuned` cross-validates by
#: default; the grid neighbours of the chosen width give the rate's kernel-width systematic
#: (:func:`precml_widgets.anomaly.study.neighbour_bandwidths`).
BANDWIDTH_GRID: tuple[float, ...] = (0.3, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0)


class DimuonKDE:
    """Kernel density estimate of real dimuon events, for sampling large background sets.

    The kernels live in pair-frame coordinates (mass m and transverse momentum pT of the
    dimuon in GeV, its rapidity y, and the decay angles cos theta*, phi*; see
    :mod:`precml_widgets.anomaly.kinematics`), so smoothing widens the Z peak only by the
    kernel width in m instead of smearing it across the muon momenta. Each coordinate is
    scaled by its robust spread (interquartile range / 1.349), and the kernel is an isotropic
    Gaussian there: the narrow Z peak sets the mass scale, not the long low-mass tail that
    would inflate a covariance-based kernel. m and pT stay linear: logarithmic coordinates
    would give the kernel log-normal tails that reach unphysical momenta exactly where a kHz
    trigger cuts. Every event enters twice, as itself and with the muons exchanged
    (cos theta* -> -cos theta*, phi* -> phi* + pi), because the labelling of the two muons
    carries no physics. The kernel is folded back at pT = 0 and cos theta* = +-1 and wrapped
    in phi*; draws below m = 0.3 GeV or outside the acceptance are rejected; the pair azimuth
    is uniform (the detector is symmetric in phi).

    Args:
        events: real events to tune on.
        bandwidth: kernel width as a factor of Scott's rule n^(-1/(d+4)) in robust units;
            smaller follows the data more closely, larger smooths more.

    Example:
        >>> from precml_widgets.anomaly.samples import load_sample
        >>> kde = DimuonKDE(load_sample("cms2010_zmumu"))
        >>> kde.sample(1000, seed=1).n
        1000
    """

    def __init__(self, events: DimuonEvents, bandwidth: float = 1.0) -> None:
        _check_kde_input(events, (bandwidth,))
        self.source = events
        self.bandwidth = float(bandwidth)
        w = _symmetrised(_kde_coordinates(events))
        q25, q75 = np.percentile(w, [25, 75], axis=0)
        self._center = np.median(w, axis=0)
        self._scale = (q75 - q25) / 1.349
        self._points = (w - self._center) / self._scale
        n, d = self._points.shape
        self._h = self.bandwidth * n ** (-1.0 / (d + 4))

    @classmethod
    def tuned(
        cls,
        events: DimuonEvents,
        grid: tuple[float, ...] = BANDWIDTH_GRID,
        *,
        seed: int = 0,
    ) -> DimuonKDE:
        """Choose the bandwidth on ``events`` alone by two-fold cross-validation.

        For each bandwidth, the KDE of one half is sampled (four times the other half's
        size, two seeds) and compared with the other half by the energy distance -- the
        statistic of the later validation test, computed on exactly what :meth:`sample`
        draws (acceptance, folding and all). The smallest mean distance wins. Likelihood
        cross-validation was tried and rejected: heavy tails (the low-mass continuum) drive
        it to over-smooth the Z peak. Only the tuning events are used, so a later test
        against held-out events stays honest.

        Args:
            events: real tuning events.
            grid: candidate bandwidths (x Scott's rule), default :data:`BANDWIDTH_GRID`.
            seed: seed of the cross-validation samples.
        """
        from precml_widgets.stats.two_sample import energy_test

        _check_kde_input(events, grid)
        idx = np.arange(events.n)
        folds = (events.select(idx % 2 == 0), events.select(idx % 2 == 1))
        best, best_stat = grid[0], np.inf
        for bw in grid:
            stats = [
                energy_test(
                    cls(a, bw).sample(4 * b.n, seed=seed + 10 * i + k).features(),
                    b.features(),
                    n_permutations=1,
                ).statistic
                for i, (a, b) in enumerate((folds, folds[::-1]))
                for k in range(2)
            ]
            if np.mean(stats) < best_stat:
                best, best_stat = bw, float(np.mean(stats))
        return cls(events, bandwidth=best)

    def sample(self, n: int, *, seed: int, name: str = "fastsim_dimuon") -> DimuonEvents:
        """Draw ``n`` events inside the common acceptance (rejection of the rest).

        The same seed gives the same kernel centres and the same standard-normal deviates
        whatever the bandwidth (common random numbers), so samples of two bandwidths differ
        only through the width.

        Args:
            n: number of events wanted.
            seed: random seed (numpy Generator).
            name: sample name of the result.
        """
        n = require_int(
            "number of events n", n, low=1, hint="pass a positive integer number of events."
        )
        rng = np.random.default_rng(require_seed("seed", seed))
        parts: list[np.ndarray] = []
        have = 0
        while have < n:
            k = int((n - have) * 1.3) + 16
            centres = self._points[rng.integers(len(self._points), size=k)]
            deviates = rng.standard_normal(centres.shape)
            phi_pair = rng.uniform(-np.pi, np.pi, k)
            w = (centres + self._h * deviates) * self._scale + self._center
            keep = (w[:, 0] > 0.3) & (np.abs(w[:, 3]) < 3)  # physical mass; foldable angle
            w, phi_pair = w[keep], phi_pair[keep]
            c = w[:, 3]
            w[:, 3] = np.where(c > 1, 2 - c, np.where(c < -1, -2 - c, c))  # fold at +-1
            w[:, 4] = (w[:, 4] + np.pi) % (2 * np.pi) - np.pi  # wrap the azimuth
            u = np.column_stack(
                [np.log(w[:, 0]), np.log(np.clip(np.abs(w[:, 1]), 1e-6, None)), w[:, 2:]]
            )
            pt, eta, phi = from_pair_frame(u, phi_pair)
            ok = np.all((pt > MIN_PT_GEV) & (np.abs(eta) < MAX_ABS_ETA), axis=1)
            parts.append(np.column_stack([pt, eta, phi])[ok])
            have += int(ok.sum())
        a = np.concatenate(parts)[:n]
        return DimuonEvents.from_arrays(
            name,
            a[:, 0:2],
            a[:, 2:4],
            a[:, 4:6],
            real=False,
            description=(
                "fast simulation: Gaussian-kernel smoothed bootstrap in the dimuon rest frame "
                f"(bandwidth {self.bandwidth:g} x Scott) of {self.source.n} real events of "
                f"{self.source.name!r}"
            ),
        )


def _check_kde_input(events: DimuonEvents, grid: tuple[float, ...]) -> None:
    if events.n < 50:
        raise InvalidInputError(
            f"sample {events.name!r} has {events.n} events; a kernel density estimate in 5 "
            "dimensions needs at least 50 (25 per cross-validation fold). Use a larger sample."
        )
    try:
        values = [float(b) for b in grid]
    except (TypeError, ValueError):
        raise InvalidInputError(f"bandwidths must be numbers, got {grid!r}") from None
    if not values or not all(0.05 <= b <= 10 for b in values):
        raise InvalidInputError(
            f"bandwidth(s) must be a non-empty set of numbers in [0.05, 10] (x Scott's rule), "
            f"got {grid!r}"
        )


def _kde_coordinates(events: DimuonEvents) -> np.ndarray:
    """(m, pT, y, cos theta*, phi*) of the dimuon, shape ``(n, 5)`` (GeV, GeV, -, -, rad)."""
    u = to_pair_frame(events.pt, events.eta, events.phi)[0]
    return np.column_stack([np.exp(u[:, 0]), np.exp(u[:, 1]), u[:, 2:]])


def _symmetrised(w: np.ndarray) -> np.ndarray:
    """``w`` and its muon-exchanged mirror (cos theta* -> -cos theta*, phi* -> phi* + pi)."""
    mirror = w.copy()
    mirror[:, 3] = -w[:, 3]
    mirror[:, 4] = (w[:, 4] + 2 * np.pi) % (2 * np.pi) - np.pi
    return np.concatenate([w, mirror])


def simulate_resonance(
    mass_gev: float,
    n: int,
    *,
    seed: int,
    width_gev: float | None = None,
    mean_pt_gev: float = 20.0,
    pt_resolution: float = 0.02,
    name: str | None = None,
) -> DimuonEvents:
    """Generate ``n`` accepted events of a dimuon resonance X -> mu+ mu-.

    The resonance has a Breit-Wigner mass (default width 1 % of the mass), a transverse
    momentum from a Gamma(2) distribution with mean ``mean_pt_gev``, rapidity uniform in
    [-2.5, 2.5], and decays isotropically in its rest frame; muon pT is smeared by a Gaussian
    of relative width ``pt_resolution``.

    Args:
        mass_gev: pole mass in GeV (> 2 m_mu).
        n: number of accepted events.
        seed: random seed.
        width_gev: Breit-Wigner width in GeV.
        mean_pt_gev: mean resonance pT in GeV.
        pt_resolution: relative muon pT resolution.
        name: sample name (default ``"fastsim_resonance_<mass>"``).
    """
    mass_gev = require_real(
        "mass_gev", mass_gev, low=2 * MUON_MASS_GEV, low_open=True, unit="GeV (2 m_mu)"
    )
    n = require_int(
        "number of events n", n, low=1, hint="pass a positive integer number of events."
    )
    width = 0.01 * mass_gev if width_gev is None else width_gev
    width = require_real("width_gev", width, low=0.0, low_open=True, unit="GeV")
    mean_pt_gev = require_real("mean_pt_gev", mean_pt_gev, low=0.0, low_open=True, unit="GeV")
    pt_resolution = require_real("pt_resolution", pt_resolution, low=0.0, high=1.0, high_open=True)
    rng = np.random.default_rng(require_seed("seed", seed))
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        k = int((n - have) * 2) + 64
        m = mass_gev + width / 2 * np.tan(np.pi * (rng.uniform(size=k) - 0.5))
        m = m[(m > 2.5 * MUON_MASS_GEV) & (m < 3 * mass_gev)]  # truncate the Breit-Wigner
        k = len(m)
        pt_x = rng.gamma(2.0, mean_pt_gev / 2.0, k)
        y = rng.uniform(-2.5, 2.5, k)
        phi_x = rng.uniform(-np.pi, np.pi, k)
        mt = np.sqrt(m**2 + pt_x**2)
        p4_x = np.column_stack(
            [mt * np.cosh(y), pt_x * np.cos(phi_x), pt_x * np.sin(phi_x), mt * np.sinh(y)]
        )
        # isotropic decay in the rest frame
        cos_t = rng.uniform(-1, 1, k)
        phi_d = rng.uniform(-np.pi, np.pi, k)
        p = np.sqrt(np.clip(m**2 / 4 - MUON_MASS_GEV**2, 0, None))
        sin_t = np.sqrt(1 - cos_t**2)
        mom = np.column_stack([p * sin_t * np.cos(phi_d), p * sin_t * np.sin(phi_d), p * cos_t])
        e = np.sqrt(p**2 + MUON_MASS_GEV**2)
        beta = p4_x[:, 1:] / p4_x[:, 0:1]
        mu = [boost(np.column_stack([e, s * mom]), beta) for s in (1.0, -1.0)]
        pt = np.column_stack([np.hypot(v[:, 1], v[:, 2]) for v in mu])
        pt *= 1 + pt_resolution * rng.standard_normal(pt.shape)
        eta = np.column_stack([np.arcsinh(v[:, 3] / np.hypot(v[:, 1], v[:, 2])) for v in mu])
        phi = np.column_stack([np.arctan2(v[:, 2], v[:, 1]) for v in mu])
        ok = np.all((pt > MIN_PT_GEV) & (np.abs(eta) < MAX_ABS_ETA), axis=1)
        out.append(np.column_stack([pt, eta, phi])[ok])
        have += int(ok.sum())
    a = np.concatenate(out)[:n]
    return DimuonEvents.from_arrays(
        name or f"fastsim_resonance_{mass_gev:g}",
        a[:, 0:2],
        a[:, 2:4],
        a[:, 4:6],
        real=False,
        description=(
            f"fast simulation: X -> mu mu with m = {mass_gev:g} GeV, width {width:.3g} GeV, "
            f"<pT_X> = {mean_pt_gev:g} GeV, {pt_resolution:.0%} pT resolution"
        ),
    )
