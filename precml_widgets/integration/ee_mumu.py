"""e+e- -> mu+mu- through photon and Z at Born level: a physics integrand across the Z peak.

The integrand is the Born cross section averaged over a flat sqrt(s) spectrum in a window and
integrated over cos(theta). With the flat mapping of the unit square the Z resonance is a spike
a few GeV wide; the Breit-Wigner mapping absorbs it into the Jacobian. Both mappings have the
same integral: choosing variables is importance sampling done by hand, and a flow has to learn
whatever the mapping leaves over.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import integrate

from precml_widgets._checks import require_choice, require_real
from precml_widgets.errors import InvalidInputError, PrecmlError
from precml_widgets.integration.integrand import (
    Integrand,
    require_coordinate,
    require_sample_count,
)

__all__ = [
    "ALPHA_EM_MZ",
    "A_LEPTON",
    "GAMMA_Z_GEV",
    "G_FERMI_GEV2",
    "HBARC2_PB_GEV2",
    "HELICITIES",
    "M_Z_GEV",
    "SIN2_THETA_W",
    "V_LEPTON",
    "EnvelopeError",
    "SqrtSWindow",
    "accept_reject",
    "dsigma_dcos_pb",
    "ee_mumu",
    "forward_backward_asymmetry",
    "helicity_amplitudes",
    "sigma_total_pb",
    "sqrt_s_window",
    "z_partial_width_gev",
    "z_peak_sigma_pb",
]

Array = npt.NDArray[np.float64]

# Electroweak inputs, PDG Review of Particle Physics (P.A. Zyla et al., PTEP 2020, 083C01;
# R.L. Workman et al., PTEP 2022, 083C01). Our choice for alpha is the on-shell running value at
# the Z pole, alpha(M_Z)^-1 = 128.952, used for the photon and in kappa alike.
#: Electromagnetic coupling at the Z pole, alpha(M_Z) = 1/128.952.
ALPHA_EM_MZ: float = 1.0 / 128.952
#: Fermi constant G_F in GeV^-2.
G_FERMI_GEV2: float = 1.1663788e-5
#: Z boson mass in GeV.
M_Z_GEV: float = 91.1876
#: Z boson total width in GeV.
GAMMA_Z_GEV: float = 2.4952
#: Weak mixing angle sin^2(theta_W) (MS-bar, at M_Z).
SIN2_THETA_W: float = 0.23122
#: Conversion (hbar c)^2 = 0.3893794e9 pb GeV^2: a cross section in GeV^-2 times this is in pb.
HBARC2_PB_GEV2: float = 0.3893794e9

# Electron and muon: Q = -1, T3 = -1/2; V = T3 - 2 Q sin^2(theta_W), A = T3.
_Q_F = -1.0
#: Vector coupling of the electron and the muon to the Z, ``V = T3 - 2 Q sin^2(theta_W)``.
V_LEPTON: float = -0.5 + 2.0 * SIN2_THETA_W
#: Axial coupling of the electron and the muon to the Z, ``A = T3 = -1/2``.
A_LEPTON: float = -0.5
_V_L = V_LEPTON
_A_L = A_LEPTON
_KAPPA = math.sqrt(2.0) * G_FERMI_GEV2 * M_Z_GEV**2 / (4.0 * math.pi * ALPHA_EM_MZ)
_MZ2 = M_Z_GEV**2
_MG = M_Z_GEV * GAMMA_Z_GEV


class EnvelopeError(PrecmlError, RuntimeError):
    """An accept-reject proposal exceeded its envelope: the draws would have been biased."""


# --------------------------------------------------------------------------- Born cross section


#: The four helicity combinations (electron, muon chirality) of the massless process.
HELICITIES: tuple[str, ...] = ("LL", "RR", "LR", "RL")
#: Chiral couplings to the Z in the normalisation of ``kappa``: ``g_L = V + A``, ``g_R = V - A``.
_G = {"L": _V_L + _A_L, "R": _V_L - _A_L}


def _helicity(s: Array) -> dict[str, npt.NDArray[np.complex128]]:
    """``A_ij(s) = Q_e Q_mu + g_i g_j chi(s)``, ``chi = kappa s / (s - M_Z^2 + i M_Z Gamma_Z)``."""
    chi = _KAPPA * s / (s - _MZ2 + 1j * _MG)
    return {h: _Q_F * _Q_F + _G[h[0]] * _G[h[1]] * chi for h in HELICITIES}


def _xy(s: Array) -> tuple[Array, Array]:
    """The (1 + cos^2) and 2 cos coefficients X(s), Y(s) of Ellis-Stirling-Webber, from the
    helicity amplitudes: ``X = (S_same + S_opp) / 4``, ``Y = (S_same - S_opp) / 4`` with
    ``S_same = |A_LL|^2 + |A_RR|^2`` (the (1 + c)^2 term) and ``S_opp = |A_LR|^2 + |A_RL|^2``."""
    a = _helicity(s)
    same = np.abs(a["LL"]) ** 2 + np.abs(a["RR"]) ** 2
    opposite = np.abs(a["LR"]) ** 2 + np.abs(a["RL"]) ** 2
    return (same + opposite) / 4.0, (same - opposite) / 4.0


def helicity_amplitudes(sqrt_s: npt.ArrayLike) -> dict[str, npt.NDArray[np.complex128]]:
    """The reduced helicity amplitudes ``A_ij`` (i: e-, j: mu- chirality) at ``sqrt_s`` (GeV).

    ``dsigma/dcos = (pi alpha^2 / (8 s)) [(1 + c)^2 (|A_LL|^2 + |A_RR|^2)
    + (1 - c)^2 (|A_LR|^2 + |A_RL|^2)]`` with ``A_ij = Q_e Q_mu + g_i g_j chi(s)``, photon
    exchange normalised to 1, ``g_L = V + A`` and ``g_R = V - A`` (``V``, ``A`` as in
    :func:`dsigma_dcos_pb`), ``chi = kappa s / (s - M_Z^2 + i M_Z Gamma_Z)``. This is the form in
    which four-lepton contact terms add to each amplitude (E. Eichten, K. Lane, M. Peskin, Phys.
    Rev. Lett. 50 (1983) 811); it equals the X(s), Y(s) form of :func:`dsigma_dcos_pb`.

    Returns:
        ``{"LL": ..., "RR": ..., "LR": ..., "RL": ...}``, complex arrays shaped like ``sqrt_s``.

    Example:
        >>> a = helicity_amplitudes(10.0)  # far below the Z: photon exchange, A_ij ~ 1
        >>> [round(float(abs(a[h])), 3) for h in HELICITIES]
        [0.995, 0.996, 1.004, 1.004]
    """
    return _helicity(_as_sqrt_s(sqrt_s) ** 2)


def _as_sqrt_s(sqrt_s: npt.ArrayLike) -> Array:
    t = np.asarray(sqrt_s, dtype=np.float64)
    if not np.all(np.isfinite(t) & (t > 0.0)):
        raise InvalidInputError(
            f"sqrt_s must be finite and > 0 (the centre-of-mass energy in GeV), got {sqrt_s!r}."
        )
    return t


def _out(v: Array) -> float | Array:
    return float(v) if v.ndim == 0 else v


def dsigma_dcos_pb(sqrt_s: npt.ArrayLike, cos_theta: npt.ArrayLike) -> float | Array:
    """Born ``d sigma / d cos(theta)`` of e+e- -> mu+mu- via photon and Z, massless, in pb.

    ``dsigma/dcos = (pi alpha^2 / (2 s)) [(1 + c^2) X(s) + 2 c Y(s)]`` with
    ``X = Q^2 - 2 Q V_e V_mu chi1 + (A_e^2 + V_e^2)(A_mu^2 + V_mu^2) chi2``,
    ``Y = -2 Q A_e A_mu chi1 + 4 A_e A_mu V_e V_mu chi2``,
    ``chi1 = kappa s (s - M_Z^2) / D``, ``chi2 = kappa^2 s^2 / D``,
    ``D = (s - M_Z^2)^2 + Gamma_Z^2 M_Z^2``, ``kappa = sqrt(2) G_F M_Z^2 / (4 pi alpha)``,
    ``V = T3 - 2 Q sin^2(theta_W)``, ``A = T3``; theta is the mu- angle to the e- beam.

    Args:
        sqrt_s: centre-of-mass energy in GeV, > 0; any shape.
        cos_theta: cosine of the scattering angle in [-1, 1]; broadcast against ``sqrt_s``.

    Returns:
        The differential cross section in pb (a float for scalar inputs).

    References:
        R.K. Ellis, W.J. Stirling, B.R. Webber, "QCD and Collider Physics" (CUP 1996), ch. 3.

    Example:
        >>> round(dsigma_dcos_pb(M_Z_GEV, 1.0) / dsigma_dcos_pb(M_Z_GEV, -1.0), 3)  # forward
        1.045
    """
    t = _as_sqrt_s(sqrt_s)
    c = np.asarray(cos_theta, dtype=np.float64)
    if not np.all((c >= -1.0) & (c <= 1.0)):
        raise InvalidInputError(f"cos_theta must lie in [-1, 1], got {cos_theta!r}.")
    s = t * t
    x, y = _xy(s)
    pref = HBARC2_PB_GEV2 * math.pi * ALPHA_EM_MZ**2 / (2.0 * s)
    return _out(pref * ((1.0 + c * c) * x + 2.0 * c * y))


def sigma_total_pb(sqrt_s: npt.ArrayLike) -> float | Array:
    """Born total cross section ``sigma(s) = 4 pi alpha^2 X(s) / (3 s)`` in pb.

    Args:
        sqrt_s: centre-of-mass energy in GeV, > 0; any shape.

    Returns:
        The integral of :func:`dsigma_dcos_pb` over cos(theta) in [-1, 1], in pb.

    Example:
        >>> round(sigma_total_pb(10.0))  # QED 4 pi alpha^2 / (3 s) = 980.9 pb, Z adds 3e-5
        981
    """
    s = _as_sqrt_s(sqrt_s) ** 2
    return _out(HBARC2_PB_GEV2 * 4.0 * math.pi * ALPHA_EM_MZ**2 * _xy(s)[0] / (3.0 * s))


def forward_backward_asymmetry(sqrt_s: npt.ArrayLike) -> float | Array:
    """Born forward-backward asymmetry ``A_FB = (sigma_F - sigma_B) / sigma = 3 Y / (4 X)``.

    Negative below the Z (photon-Z interference), ``(3/4) A_e A_mu`` with
    ``A_f = 2 V_f A_f / (V_f^2 + A_f^2)`` at the pole, positive above.

    Args:
        sqrt_s: centre-of-mass energy in GeV, > 0.

    Returns:
        A_FB (a float for a scalar input).

    Example:
        >>> round(forward_backward_asymmetry(35.0), 3)  # PETRA energies
        -0.091
    """
    x, y = _xy(_as_sqrt_s(sqrt_s) ** 2)
    return _out(0.75 * y / x)


def z_partial_width_gev() -> float:
    """Born partial width ``Gamma(Z -> l+ l-) = G_F M_Z^3 (V^2 + A^2) / (6 sqrt(2) pi)``.

    With ``V = T3 - 2 Q sin^2``, ``A = T3`` this gives ``G_F M_Z^3 / (12 sqrt(2) pi)`` per
    neutrino (166 MeV) and about 83.4 MeV for a charged lepton (PDG: 83.98 MeV measured).

    Returns:
        The width in GeV.

    Example:
        >>> round(1000 * z_partial_width_gev(), 1)  # MeV
        83.4
    """
    return G_FERMI_GEV2 * M_Z_GEV**3 * (_V_L**2 + _A_L**2) / (6.0 * math.sqrt(2.0) * math.pi)


def z_peak_sigma_pb() -> float:
    """Pure-Z Born peak cross section ``12 pi Gamma_ee Gamma_mumu / (M_Z^2 Gamma_Z^2)`` in pb.

    At ``sqrt(s) = M_Z`` the interference vanishes (chi1 = 0) and
    ``sigma_total_pb(M_Z) = z_peak_sigma_pb() + 4 pi alpha^2 / (3 M_Z^2)`` (0.6 % photon).

    Returns:
        The peak cross section in pb.

    Example:
        >>> round(z_peak_sigma_pb())
        1973
    """
    g = z_partial_width_gev()
    return HBARC2_PB_GEV2 * 12.0 * math.pi * g * g / (_MZ2 * GAMMA_Z_GEV**2)


# --------------------------------------------------------------------------- the window


@dataclass(frozen=True)
class SqrtSWindow:
    """Cached numbers of a sqrt(s) window [a, b]: integrals, CDF table, sampling envelope.

    Built (and cached) by :func:`sqrt_s_window`; energies in GeV, cross sections in pb.
    """

    a: float
    b: float
    y_lo: float
    y_hi: float
    mean_sigma: float  # (1/(b-a)) int sigma dsqrt(s), pb: the exact integral
    error: float
    afb: float  # (sigma_F - sigma_B) / sigma over the window
    cdf_edges: Array  # panel edges in y
    cdf_cum: Array  # normalised CDF at the panel edges
    cdf_total: float  # the table's integral of sigma d sqrt(s), pb GeV
    env: Array  # piecewise-constant envelope of the BW integrand over u1 bins


_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_N_PANELS = 512
_N_ENV = 256
_ENV_MARGIN = 1.05


def _s_of_y(y: Array, a: float, b: float) -> tuple[Array, Array]:
    """s(y) = M^2 + M Gamma tan(y), clipped to [a^2, b^2], and ds/dy."""
    t = np.tan(y)
    return np.clip(_MZ2 + _MG * t, a * a, b * b), _MG * (1.0 + t * t)


def _density_y(y: Array, a: float, b: float) -> Array:
    """sigma(sqrt s) d sqrt(s) / dy, in pb: the sqrt(s) spectrum in the Breit-Wigner variable."""
    s, jac = _s_of_y(y, a, b)
    sq = np.sqrt(s)
    return np.asarray(sigma_total_pb(sq)) * jac / (2.0 * sq)


def _f_bw(u: Array, a: float, b: float, y_lo: float, y_hi: float) -> Array:
    """The integrand in the Breit-Wigner mapping of the unit square, in pb."""
    s, jac = _s_of_y(y_lo + (y_hi - y_lo) * u[:, 0], a, b)
    sq = np.sqrt(s)
    dsig = np.asarray(dsigma_dcos_pb(sq, 2.0 * u[:, 1] - 1.0))
    return dsig * jac * (y_hi - y_lo) / (sq * (b - a))


@functools.lru_cache(maxsize=16)
def sqrt_s_window(a: float, b: float) -> SqrtSWindow:
    """The cached :class:`SqrtSWindow` of the sqrt(s) window ``[a, b]`` in GeV (quadratures).

    Raises:
        PrecmlError: when the quadrature of sigma misses its 1e-6 relative accuracy.
    """
    y_lo, y_hi = (math.atan((v * v - _MZ2) / _MG) for v in (a, b))
    opts = {"epsabs": 0.0, "epsrel": 1e-12, "limit": 500}
    peak = [M_Z_GEV] if a < M_Z_GEV < b else None
    i_t, e_t = integrate.quad(sigma_total_pb, a, b, points=peak, **opts)
    i_y, e_y = integrate.quad(lambda y: float(_density_y(np.array(y), a, b)), y_lo, y_hi, **opts)

    def fb(t: float) -> float:
        return float(sigma_total_pb(t) * forward_backward_asymmetry(t))

    d_t, _ = integrate.quad(fb, a, b, points=peak, **opts)
    error = max(e_t, e_y, abs(i_t - i_y))
    if not error <= 1e-6 * i_y:
        raise PrecmlError(f"quadrature of sigma over [{a}, {b}] GeV failed to reach 1e-6.")
    # composite 16-point Gauss-Legendre table of the sqrt(s) CDF in the BW variable y
    edges = np.linspace(y_lo, y_hi, _N_PANELS + 1)
    h = edges[1] - edges[0]
    nodes = edges[:-1, None] + 0.5 * h * (_GL_X[None, :] + 1.0)
    panels = 0.5 * h * (_density_y(nodes, a, b) @ _GL_W)
    cum = np.concatenate([[0.0], np.cumsum(panels)])
    # envelope: max over cos(theta) is at cos = +-1 (convex in cos); max over u1 per bin from a
    # grid with the bin edges, times a margin; accept_reject checks every proposal against it.
    u1 = np.linspace(0.0, 1.0, 16 * _N_ENV + 1)
    g = np.maximum(
        _f_bw(np.column_stack([u1, np.zeros_like(u1)]), a, b, y_lo, y_hi),
        _f_bw(np.column_stack([u1, np.ones_like(u1)]), a, b, y_lo, y_hi),
    )
    env = _ENV_MARGIN * np.max(np.lib.stride_tricks.sliding_window_view(g, 17)[::16], axis=1)
    total = float(cum[-1])
    cum = cum / total
    for arr in (edges, cum, env):
        arr.setflags(write=False)
    mean, afb = i_y / (b - a), d_t / i_t
    return SqrtSWindow(a, b, y_lo, y_hi, mean, error / (b - a), afb, edges, cum, total, env)


def _cdf_y(y: Array, w: SqrtSWindow) -> Array:
    """CDF of the BW variable y from the Gauss-Legendre table, to ~1e-12."""
    h = w.cdf_edges[1] - w.cdf_edges[0]
    yy = np.clip(y, w.y_lo, w.y_hi)
    k = np.clip(((yy - w.y_lo) // h).astype(np.int64), 0, _N_PANELS - 1)
    start = w.cdf_edges[k]
    part = 0.5 * (yy - start)
    nodes = start[..., None] + part[..., None] * (_GL_X + 1.0)
    partial = part * (_density_y(nodes, w.a, w.b) @ _GL_W)
    return np.clip(w.cdf_cum[k] + partial / w.cdf_total, 0.0, 1.0)


def accept_reject(w: SqrtSWindow, n: int, rng: np.random.Generator) -> Array:
    """``(n, 2)`` exact draws from the BW integrand: piecewise-constant envelope in u1, flat in u2.

    Raises:
        EnvelopeError: when a proposal exceeds the envelope ``w.env`` (the draws would be
            biased).
    """
    probs = w.env / w.env.sum()
    accept_rate = w.mean_sigma / float(np.mean(w.env))
    out: list[Array] = [np.empty((0, 2))]
    have = 0
    while have < n:
        m = int((n - have) / accept_rate * 1.1) + 64
        k = rng.choice(w.env.size, size=m, p=probs)
        u = np.column_stack([(k + rng.random(m)) / w.env.size, rng.random(m)])
        f = _f_bw(u, w.a, w.b, w.y_lo, w.y_hi)
        bound = w.env[k]
        if np.any(f > bound):
            worst = float(np.max(f / bound))
            raise EnvelopeError(
                f"ee_mumu sampler: a proposal exceeds the envelope by a factor {worst:.4g}; the "
                f"draws would be biased. Raise _ENV_MARGIN or the envelope grid in ee_mumu.py."
            )
        keep = u[rng.random(m) * bound < f]
        out.append(keep)
        have += keep.shape[0]
    return np.concatenate(out)[:n]


# --------------------------------------------------------------------------- the integrand


def ee_mumu(
    *,
    sqrt_s_min: float = 40.0,
    sqrt_s_max: float = 200.0,
    mapping: Literal["flat", "breit_wigner"] = "flat",
) -> Integrand:
    """e+e- -> mu+mu- averaged over a flat sqrt(s) window: ``I = <sigma>`` in pb.

    ``I = 1/(b - a) int_a^b dsqrt(s) int_{-1}^{1} dcos dsigma/dcos``. On the unit square
    ``cos = 2 x2 - 1``; ``"flat"`` maps ``sqrt(s) = a + (b - a) x1`` (the Z is a spike of width
    ``Gamma_Z / (b - a)`` in x1); ``"breit_wigner"`` maps ``s = M_Z^2 + M_Z Gamma_Z tan(y)``
    with y linear in x1 over the window, Jacobian included, which flattens the resonance and
    leaves the photon continuum, peaked at the low edge. Same exact value; for the default
    window the variance of plain Monte Carlo, ``Var(f) / I^2``, drops from 13.5 to 2.9.

    Args:
        sqrt_s_min: lower end ``a`` of the window in GeV, > 0.
        sqrt_s_max: upper end ``b`` in GeV, > ``a``.
        mapping: ``"flat"`` or ``"breit_wigner"``.

    Returns:
        The 2D :class:`Integrand` in pb, exact value from adaptive quadrature after the
        analytic cos(theta) integral, exact accept-reject sampler, exact cos(theta) CDF and a
        Gauss-Legendre (~1e-12) sqrt(s) CDF.

    References:
        Born formula: Ellis, Stirling, Webber, "QCD and Collider Physics", ch. 3. Mappings and
        neural importance sampling: E. Bothmann et al., arXiv:2001.05478; C. Gao et al.,
        arXiv:2001.05486.

    Example:
        >>> flat, bw = ee_mumu(), ee_mumu(mapping="breit_wigner")
        >>> flat.exact == bw.exact, round(flat.exact, 2)
        (True, 60.11)
    """
    a, b = (
        require_real(label, v, low=0.0, low_open=True, unit="GeV", hint="e.g. 40 and 200 GeV.")
        for label, v in (("sqrt_s_min", sqrt_s_min), ("sqrt_s_max", sqrt_s_max))
    )
    if not a < b:
        raise InvalidInputError(
            f"sqrt_s_min must be below sqrt_s_max, got [{a}, {b}] GeV; e.g. 40 and 200 GeV."
        )
    require_choice("mapping", mapping, ("flat", "breit_wigner"))
    w = sqrt_s_window(a, b)
    bw = mapping == "breit_wigner"

    def to_y(x1: Array) -> Array:
        if bw:
            return w.y_lo + (w.y_hi - w.y_lo) * x1
        return np.arctan(((a + (b - a) * x1) ** 2 - _MZ2) / _MG)

    def fn(x: Array) -> Array:
        if bw:
            return _f_bw(x, a, b, w.y_lo, w.y_hi)
        return 2.0 * np.asarray(dsigma_dcos_pb(a + (b - a) * x[:, 0], 2.0 * x[:, 1] - 1.0))

    def sampler(n: int, rng: np.random.Generator) -> Array:
        u = accept_reject(w, require_sample_count(n), rng)
        if not bw:
            s, _ = _s_of_y(w.y_lo + (w.y_hi - w.y_lo) * u[:, 0], a, b)
            u[:, 0] = np.clip((np.sqrt(s) - a) / (b - a), 0.0, 1.0)
        return u

    def marginal_cdf(x: Array, i: int) -> Array:
        xx = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
        if require_coordinate(name, i, 2) == 0:
            return _cdf_y(to_y(xx), w)
        c = 2.0 * xx - 1.0
        return 0.375 * (c + c**3 / 3.0 + 4.0 / 3.0) + 0.5 * w.afb * (c * c - 1.0)

    default = (a, b) == (40.0, 200.0)
    name = "ee-mumu" + ("" if default else f"[{a:g}-{b:g}GeV]") + ("-bw" if bw else "")
    return Integrand(
        name=name,
        dim=2,
        fn=fn,
        exact=w.mean_sigma,
        exact_error=w.error,
        reference="<sigma> in pb over sqrt(s) in "
        f"[{a:g}, {b:g}] GeV: Born (Ellis-Stirling-Webber), analytic cos integral, scipy quad "
        "(epsrel 1e-12)",
        sampler=sampler,
        marginal_cdf=marginal_cdf,
    )
