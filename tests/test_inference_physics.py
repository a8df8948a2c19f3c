"""Physics truth of the SMEFT core: the contact-term cross section, the smearing, the rates.

Every number is checked against a truth computed here by other means: an independent
implementation of e+e- -> mu+mu- with contact terms in the convention of the LEP contact-
interaction fits (``F_XY`` amplitudes in GeV^-2, written from the formula, not from the
module), adaptive quadrature (scipy), closed forms, and smeared Monte Carlo events.

References:
    E. Eichten, K. Lane, M. Peskin, Phys. Rev. Lett. 50 (1983) 811.
    ALEPH, DELPHI, L3, OPAL and the LEP Electroweak Working Group, arXiv:1302.3415, sec. 3.
    flavio's e+e- -> l+l- module (E. Loisa, 2024): the same F_XY form in the WCxf convention,
    with C_ll^(1122) entering F_LL once, and tabulated angular integrals.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy import integrate, special, stats

from precml_widgets.errors import InvalidInputError
from precml_widgets.inference import (
    DEFAULT_LAMBDA_GEV,
    LEP2,
    LEP2_SMEARED,
    WILSON_COEFFICIENTS,
    WILSON_HELICITY,
    EFTProblem,
    Measurement,
    Smearing,
    accepted_shape_integrals,
    angular_shapes,
    dsigma_dcos_smeft_pb,
    event_density,
    quadratic_terms,
    shape_terms,
    sigma_terms,
    smeared_shapes,
)
from precml_widgets.integration.ee_mumu import (
    ALPHA_EM_MZ,
    G_FERMI_GEV2,
    GAMMA_Z_GEV,
    HBARC2_PB_GEV2,
    M_Z_GEV,
    SIN2_THETA_W,
    dsigma_dcos_pb,
    helicity_amplitudes,
)

Array = npt.NDArray[np.float64]

# ----------------------------------------------------------------- the independent formula
#: Helicity (electron chirality, muon chirality) of each coefficient, as the brief and the
#: LEP fits map them: C_ll -> LL, C_ee -> RR, C_le^(1122) -> e_L mu_R, C_le^(2211) -> e_R mu_L.
INDEPENDENT_MAP = {"C_ll_1122": "LL", "C_ee_1122": "RR", "C_le_1122": "LR", "C_le_2211": "RL"}
_T3 = {"L": -0.5, "R": 0.0}
_Q_LEPTON = -1.0


def independent_amplitudes(
    sqrt_s: npt.ArrayLike, coefficients: npt.ArrayLike, lambda_gev: float = 1000.0
) -> dict[str, npt.NDArray[np.complex128]]:
    """``F_XY`` in GeV^-2: photon + Z (G_F scheme) + contact term, per helicity XY.

    ``F_XY = e^2 Q_e Q_mu / s + g_X g_Y / (s - M_Z^2 + i M_Z Gamma_Z) + C_XY / Lambda^2`` with
    ``e^2 = 4 pi alpha``, ``g_X = g_Z (T3_X - Q sin^2 theta_W)``, ``g_Z^2 = 4 sqrt(2) G_F M_Z^2``.
    ``coefficients`` has a last axis of 4 in the order of ``INDEPENDENT_MAP``.
    """
    s = np.asarray(sqrt_s, dtype=np.float64) ** 2
    c = np.asarray(coefficients, dtype=np.float64)
    e2 = 4.0 * math.pi * ALPHA_EM_MZ
    g_z2 = 4.0 * math.sqrt(2.0) * G_FERMI_GEV2 * M_Z_GEV**2
    propagator = 1.0 / (s - M_Z_GEV**2 + 1j * M_Z_GEV * GAMMA_Z_GEV)
    out = {}
    for k, name in enumerate(INDEPENDENT_MAP):
        x, y = INDEPENDENT_MAP[name]
        g_x = _T3[x] - _Q_LEPTON * SIN2_THETA_W
        g_y = _T3[y] - _Q_LEPTON * SIN2_THETA_W
        out[x + y] = (
            e2 * _Q_LEPTON * _Q_LEPTON / s
            + g_z2 * g_x * g_y * propagator
            + c[..., k] / lambda_gev**2
        )
    return out


def independent_strengths(
    sqrt_s: npt.ArrayLike, coefficients: npt.ArrayLike, lambda_gev: float = 1000.0
) -> tuple[Array, Array]:
    """``(a, b)`` in pb with ``dsigma/dcos = a (1 + c)^2 + b (1 - c)^2`` (independent formula)."""
    s = np.asarray(sqrt_s, dtype=np.float64) ** 2
    f = independent_amplitudes(sqrt_s, coefficients, lambda_gev)
    pref = HBARC2_PB_GEV2 * s / (128.0 * math.pi)
    same = pref * (np.abs(f["LL"]) ** 2 + np.abs(f["RR"]) ** 2)
    opposite = pref * (np.abs(f["LR"]) ** 2 + np.abs(f["RL"]) ** 2)
    return same, opposite


def independent_dsigma_pb(
    sqrt_s: npt.ArrayLike,
    cos_theta: npt.ArrayLike,
    coefficients: npt.ArrayLike,
    lambda_gev: float = 1000.0,
) -> Array:
    """``s / (128 pi) [(1 + c)^2 (|F_LL|^2 + |F_RR|^2) + (1 - c)^2 (|F_LR|^2 + |F_RL|^2)]``, pb."""
    a, b = independent_strengths(sqrt_s, coefficients, lambda_gev)
    c = np.asarray(cos_theta, dtype=np.float64)
    return a * (1.0 + c) ** 2 + b * (1.0 - c) ** 2


def accepted_probability(theta: Array, sigma: float, cos_max: float) -> Array:
    """P(|cos(theta + sigma z)| <= cos_max) for z ~ N(0, 1): Gaussian CDFs over the accepted
    arcs ``[beta, pi - beta]`` and ``[pi + beta, 2 pi - beta]`` (mod 2 pi), ``beta = arccos a``."""
    beta = math.acos(cos_max)
    total = np.zeros_like(theta)
    for k in range(-2, 3):
        for lo, hi in ((beta, math.pi - beta), (math.pi + beta, 2.0 * math.pi - beta)):
            shift = 2.0 * math.pi * k
            total += special.ndtr((hi + shift - theta) / sigma) - special.ndtr(
                (lo + shift - theta) / sigma
            )
    return total


def accepted_truth(sigma: float, cos_max: float) -> list[float]:
    """Accepted integrals of ``(1 +- c)^2`` after smearing: the shape in the true theta times
    P(accepted | theta) (Gaussian CDFs over arcs), by adaptive quadrature over theta."""

    def integral(sign: float) -> float:
        def integrand(theta: float) -> float:
            accepted = float(accepted_probability(np.array(theta), sigma, cos_max))
            return (1 + sign * math.cos(theta)) ** 2 * math.sin(theta) * accepted

        return integrate.quad(integrand, 0.0, math.pi, epsabs=0.0, epsrel=1e-12, limit=200)[0]

    return [integral(1.0), integral(-1.0)]


def _rel(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.abs(b)))


ENERGIES = np.array([10.0, 35.0, 60.0, 88.0, M_Z_GEV, 95.0, 130.0, 182.7, 206.6, 250.0])
COSINES = np.linspace(-1.0, 1.0, 21)


# ----------------------------------------------------------------------------- smeft
def test_standard_model_limit_equals_ee_mumu() -> None:
    t, c = np.meshgrid(np.linspace(10.0, 250.0, 49), COSINES, indexing="ij")
    smeft = dsigma_dcos_smeft_pb(t, c, np.zeros(4))
    assert _rel(smeft, dsigma_dcos_pb(t, c)) < 1e-12


def test_independent_formula_reproduces_the_standard_model_in_the_gf_scheme() -> None:
    # The truth's own check: written from the F_XY form, it equals the X(s), Y(s) closed form.
    t, c = np.meshgrid(np.linspace(10.0, 250.0, 49), COSINES, indexing="ij")
    assert _rel(independent_dsigma_pb(t, c, np.zeros(4)), dsigma_dcos_pb(t, c)) < 1e-12


def test_coefficient_to_helicity_map_is_the_lep_one() -> None:
    assert WILSON_COEFFICIENTS == tuple(INDEPENDENT_MAP)
    assert WILSON_HELICITY == INDEPENDENT_MAP
    assert DEFAULT_LAMBDA_GEV == 1000.0


def test_full_cross_section_at_random_coefficients() -> None:
    rng = np.random.default_rng(1)
    t, c = np.meshgrid(ENERGIES, COSINES, indexing="ij")
    for _ in range(20):
        coefficients = rng.uniform(-1.0, 1.0, 4)
        got = dsigma_dcos_smeft_pb(t, c, coefficients)
        assert _rel(got, independent_dsigma_pb(t, c, coefficients)) < 1e-10
    # another scale: C / Lambda^2 is what counts
    coefficients = rng.uniform(-1.0, 1.0, 4)
    got = dsigma_dcos_smeft_pb(t, c, coefficients, lambda_gev=3000.0)
    assert _rel(got, independent_dsigma_pb(t, c, coefficients, 3000.0)) < 1e-10


def test_interference_and_square_terms_from_finite_differences() -> None:
    # Symmetric differences of the independent formula are exact for a quadratic (h = 0.5).
    t, c = np.meshgrid(ENERGIES, COSINES, indexing="ij")
    sm, linear, quadratic = quadratic_terms(t, c)
    h = 0.5
    f0 = independent_dsigma_pb(t, c, np.zeros(4))
    for k in range(4):
        step = np.zeros(4)
        step[k] = h
        up, down = independent_dsigma_pb(t, c, step), independent_dsigma_pb(t, c, -step)
        interference = (up - down) / (2.0 * h)
        square = (up + down - 2.0 * f0) / (2.0 * h * h)
        # absolute tolerance on the SM scale: the interference changes sign near the Z
        assert np.max(np.abs(linear[..., k] - interference) / sm) < 1e-10
        assert np.max(np.abs(quadratic[..., k] - square) / sm) < 1e-8
    # the interference is not trivially small: +- O(10-30 %) of the SM at LEP-2 per unit C
    assert np.max(np.abs(linear[ENERGIES > 150.0]) / sm[ENERGIES > 150.0, :, None]) > 0.2


def test_mixed_terms_vanish() -> None:
    t, c = np.meshgrid(ENERGIES, COSINES, indexing="ij")
    rng = np.random.default_rng(2)
    base = rng.uniform(-0.5, 0.5, 4)
    h = 0.7
    scale = dsigma_dcos_smeft_pb(t, c, np.zeros(4))
    for i in range(4):
        for j in range(i + 1, 4):
            ei, ej = np.eye(4)[i] * h, np.eye(4)[j] * h
            for f in (dsigma_dcos_smeft_pb, independent_dsigma_pb):
                mixed = f(t, c, base + ei + ej) - f(t, c, base + ei) - f(t, c, base + ej)
                mixed = mixed + f(t, c, base)
                assert np.max(np.abs(mixed) / scale) < 1e-12
            # while the diagonal second difference is not zero (the test can fail)
            diag = dsigma_dcos_smeft_pb(t, c, base + 2 * ei) - 2 * dsigma_dcos_smeft_pb(
                t, c, base + ei
            )
            diag = diag + dsigma_dcos_smeft_pb(t, c, base)
            assert np.max(np.abs(diag) / scale) > 1e-3


def test_quadratic_terms_are_the_independent_quadratic() -> None:
    # A quadratic in one variable is fixed by 3 values: matching at 3 points is identity.
    t, c = np.meshgrid(ENERGIES, COSINES, indexing="ij")
    sm, linear, quadratic = quadratic_terms(t, c)
    for k in range(4):
        for value in (-1.5, 0.4, 2.0):
            coefficients = np.eye(4)[k] * value
            got = sm + linear[..., k] * value + quadratic[..., k] * value**2
            assert _rel(got, independent_dsigma_pb(t, c, coefficients)) < 1e-10
    # the square term in closed form: |C / Lambda^2|^2 s / (128 pi) times the angular shape
    s = t * t
    closed = HBARC2_PB_GEV2 * s / (128.0 * math.pi * 1000.0**4)
    assert np.allclose(quadratic[..., 0], closed * (1 + c) ** 2, rtol=1e-12, atol=0.0)
    assert np.allclose(quadratic[..., 3], closed * (1 - c) ** 2, rtol=1e-12, atol=0.0)


def test_contact_squares_match_flavios_tabulated_angular_integrals() -> None:
    # flavio's e+e- -> l+l- module (WCxf convention, F_XY as above) tabulates, per |F_XY|^2 in
    # units of s^3 / (16 pi s^2): 29659/96000 for |cos| <= 0.95 (every XY) and +-361/1600 for
    # forward minus backward (+ for LL, RR). The pure contact square must reproduce both.
    s = LEP2.energies**2
    unit = HBARC2_PB_GEV2 * s / (16.0 * math.pi * DEFAULT_LAMBDA_GEV**4)  # |F|^2 = 1 / Lambda^4
    quadratic = sigma_terms(LEP2)[2]  # accepted, |cos| <= 0.95, pb per C^2
    assert np.allclose(quadratic, (unit * 29659 / 96000)[:, None], rtol=1e-12, atol=0.0)
    x, w = np.polynomial.legendre.leggauss(8)  # exact for the quadratic shapes
    cos = 0.475 * (x + 1.0)
    forward = 0.475 * np.einsum("n,enk->ek", w, quadratic_terms(LEP2.energies[:, None], cos)[2])
    backward = 0.475 * np.einsum("n,enk->ek", w, quadratic_terms(LEP2.energies[:, None], -cos)[2])
    sign = np.array([1.0, 1.0, -1.0, -1.0])  # LL, RR forward; LR, RL backward
    assert np.allclose(forward - backward, unit[:, None] * sign * 361 / 1600, rtol=1e-12)


@pytest.mark.parametrize("eta", [1.0, -1.0])
def test_warsaw_to_eichten_lane_peskin_dictionary(eta: float) -> None:
    # eta = +-1, g^2 = 4 pi, Lambda_ELP = 10 TeV  <=>  C = eta 4 pi (1 TeV / 10 TeV)^2 at 1 TeV.
    lambda_elp = 10_000.0
    coefficient = eta * 4.0 * math.pi * (1000.0 / lambda_elp) ** 2
    t, c = np.meshgrid(np.array([130.0, 182.7, 206.6]), COSINES, indexing="ij")
    s = t * t
    a = helicity_amplitudes(t)
    shift = eta * s / (ALPHA_EM_MZ * lambda_elp**2)  # amplitude shift, photon = 1
    pref = HBARC2_PB_GEV2 * math.pi * ALPHA_EM_MZ**2 / (8.0 * s)
    for k, name in enumerate(WILSON_COEFFICIENTS):
        h = WILSON_HELICITY[name]
        shifted = {x: a[x] + (shift if x == h else 0.0) for x in a}
        expected = pref * (
            (1 + c) ** 2 * (np.abs(shifted["LL"]) ** 2 + np.abs(shifted["RR"]) ** 2)
            + (1 - c) ** 2 * (np.abs(shifted["LR"]) ** 2 + np.abs(shifted["RL"]) ** 2)
        )
        got = dsigma_dcos_smeft_pb(t, c, np.eye(4)[k] * coefficient)
        assert _rel(got, expected) < 1e-12
        # the same physics quoted at Lambda = Lambda_ELP with C = 4 pi eta
        at_elp = dsigma_dcos_smeft_pb(t, c, np.eye(4)[k] * eta * 4 * math.pi, lambda_gev=1e4)
        assert _rel(at_elp, got) < 1e-12
        # and it is a visible change (0.4 % or more), so the check can fail
        assert np.max(np.abs(got / dsigma_dcos_smeft_pb(t, c, np.zeros(4)) - 1.0)) > 4e-3


def test_shape_terms_and_angular_shapes_agree_with_quadratic_terms() -> None:
    t, c = np.meshgrid(ENERGIES, COSINES, indexing="ij")
    w = angular_shapes(c)
    assert np.array_equal(w[..., 0], (1 + c) ** 2)
    assert np.array_equal(w[..., 1], (1 - c) ** 2)
    sm_s, lin_s, quad_s = shape_terms(t)
    sm, lin, quad = quadratic_terms(t, c)
    assert _rel(np.sum(w * sm_s, -1), sm) < 1e-14
    assert np.allclose(np.sum(w[..., None] * lin_s, -2), lin, rtol=1e-14, atol=1e-14 * sm.max())
    assert np.allclose(np.sum(w[..., None] * quad_s, -2), quad, rtol=1e-14, atol=0)
    # the same/opposite strengths are the independent (a, b)
    a, b = independent_strengths(ENERGIES, np.zeros(4))
    assert _rel(shape_terms(ENERGIES)[0], np.stack([a, b], -1)) < 1e-12


# ------------------------------------------------------------------------- smearing
def _convolution_truth(c_obs: float, sigma: float, same: bool) -> float:
    """The smeared shape at ``c_obs`` by adaptive quadrature of the convolution integral."""
    sign = 1.0 if same else -1.0

    def h(theta_o: float) -> float:
        lo, hi = max(0.0, theta_o - 12 * sigma), min(math.pi, theta_o + 12 * sigma)
        if lo >= hi:
            return 0.0

        def integrand(theta: float) -> float:
            return (
                (1 + sign * math.cos(theta)) ** 2
                * math.sin(theta)
                * stats.norm.pdf(theta_o - theta, scale=sigma)
            )

        return integrate.quad(integrand, lo, hi, epsabs=0.0, epsrel=1e-13, limit=200)[0]

    alpha = math.acos(c_obs)
    total = sum(h(sg * alpha + 2 * math.pi * k) for k in (-1, 0, 1) for sg in (1.0, -1.0))
    return total / math.sqrt(1.0 - c_obs * c_obs)


@pytest.mark.parametrize("sigma", [0.05, 0.25])
def test_smeared_shapes_against_adaptive_quadrature(sigma: float) -> None:
    points = [-0.999, -0.9, -0.4, 0.0, 0.3, 0.8, 0.97, 0.9995]
    got = smeared_shapes(Smearing(angle_rad=sigma), points)
    truth = np.array([[_convolution_truth(p, sigma, sm) for sm in (True, False)] for p in points])
    assert _rel(got, truth) < 1e-9
    # smearing changes the shape visibly (folding at the poles), so the check can fail
    assert np.max(np.abs(got / angular_shapes(points) - 1.0)) > 0.01


@pytest.mark.parametrize("sigma", [0.01, 0.05, 0.3])
def test_smeared_shapes_conserve_probability(sigma: float) -> None:
    # int_{-1}^{1} g(c) dc = int_0^pi g(cos t) sin t dt: smooth in t; composite Gauss-Legendre
    # in t, 128 panels of 16 nodes (panels of 0.025 rad resolve sigma = 0.01 at the poles).
    x, w = np.polynomial.legendre.leggauss(16)
    edges = np.linspace(0.0, math.pi, 129)
    half = 0.5 * np.diff(edges)
    t = ((0.5 * (edges[1:] + edges[:-1]))[:, None] + half[:, None] * x).ravel()
    weights = (half[:, None] * w).ravel()
    g = smeared_shapes(Smearing(angle_rad=sigma), np.cos(t))
    integral = (weights * np.sin(t)) @ g
    assert np.allclose(integral, 8.0 / 3.0, rtol=1e-9, atol=0)  # measured: 2e-13


def test_accepted_shape_integrals() -> None:
    for a in (0.3, 0.9, 0.95, 0.999):
        closed = 2 * a + 2 * a**3 / 3  # int_{-a}^{a} (1 + c)^2 dc, expanded
        assert np.allclose(accepted_shape_integrals(None, a), [closed, closed], rtol=1e-14)
    # smeared: int over true theta of the shape times P(accepted | theta), Gaussian CDFs
    for sigma, a in ((0.05, 0.95), (0.2, 0.9), (0.02, 0.5)):
        truth = accepted_truth(sigma, a)
        assert _rel(accepted_shape_integrals(Smearing(angle_rad=sigma), a), truth) < 1e-9


# ------------------------------------------------------------------------ measurement
def test_sigma_terms_and_expected_events_against_quad() -> None:
    rng = np.random.default_rng(3)
    coefficients = rng.uniform(-1.0, 1.0, 4)
    a = LEP2.cos_max
    truth = np.array(
        [
            lum
            * integrate.quad(
                lambda c, e=e: float(dsigma_dcos_smeft_pb(e, c, coefficients)),
                -a,
                a,
                epsabs=0.0,
                epsrel=1e-13,
            )[0]
            for e, lum in zip(LEP2.energies, LEP2.luminosities, strict=True)
        ]
    )
    assert _rel(LEP2.expected_events(coefficients), truth) < 1e-10
    sm, lin, quad = sigma_terms(LEP2)
    from_terms = LEP2.luminosities * (sm + lin @ coefficients + quad @ coefficients**2)
    assert _rel(from_terms, truth) < 1e-10
    # smeared: the independent strengths times the accepted integrals of the Gaussian-CDF truth
    smearing = LEP2_SMEARED.smearing
    assert smearing is not None
    accepted = accepted_truth(smearing.angle_rad, a)
    same, opposite = independent_strengths(LEP2.energies, coefficients)
    smeared_truth = LEP2.luminosities * (same * accepted[0] + opposite * accepted[1])
    assert _rel(LEP2_SMEARED.expected_events(coefficients), smeared_truth) < 1e-9


def test_smeared_density_against_smeared_monte_carlo() -> None:
    """Events drawn from the independent formula, smeared here, histogrammed in cos theta_obs.

    False alarm: the chi2 test with p < 1e-3 fails a correct density 0.1 % of the time (this
    seed passes deterministically); 200 000 draws resolve a 1 % shape error (chi2 ~ 300).
    """
    energy, sigma, a = 189.0, 0.25, 0.9
    measurement = Measurement((energy,), (1000.0,), cos_max=a, smearing=Smearing(sigma, 0.02))
    coefficients = np.array([0.4, -0.3, 0.6, 0.2])
    rng = np.random.default_rng(4)
    # exact unsmeared draws by accept-reject from the independent formula
    bound = float(np.max(independent_dsigma_pb(energy, np.array([-1.0, 1.0]), coefficients)))
    n = 400_000
    c_true = rng.uniform(-1.0, 1.0, n)
    keep = rng.uniform(0.0, bound, n) < independent_dsigma_pb(energy, c_true, coefficients)
    theta = np.arccos(c_true[keep]) + sigma * rng.standard_normal(int(keep.sum()))
    c_obs = np.cos(theta)
    c_obs = c_obs[np.abs(c_obs) <= a]
    edges = np.linspace(-a, a, 21)
    counts = np.histogram(c_obs, edges)[0]
    # expected: event_density integrated over m (Gauss-Legendre, +-8 sigma) and each cos bin
    xm, wm = np.polynomial.legendre.leggauss(24)
    half_m = 8 * 0.02 * energy
    m = energy + half_m * xm
    xc, wc = np.polynomial.legendre.leggauss(12)
    half_c = 0.5 * np.diff(edges)
    cos = (0.5 * (edges[1:] + edges[:-1]))[:, None] + half_c[:, None] * xc
    features = np.column_stack([np.repeat(m, cos.size), np.tile(cos.ravel(), m.size)])
    density = event_density(measurement, features, coefficients).reshape(m.size, *cos.shape)
    per_bin = np.einsum("m,mbn,bn->b", half_m * wm, density, half_c[:, None] * wc)
    # the bins sum to the expected accepted events
    assert per_bin.sum() == pytest.approx(float(measurement.expected_events(coefficients)[0]))
    expected = counts.sum() * per_bin / per_bin.sum()
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert stats.chi2.sf(chi2, len(counts) - 1) > 1e-3
    # power: the unsmeared shape is rejected by the same histogram
    raw = np.diff(independent_strengths(energy, coefficients)[0] * (1 + edges) ** 3 / 3) + np.diff(
        -independent_strengths(energy, coefficients)[1] * (1 - edges) ** 3 / 3
    )
    wrong = counts.sum() * raw / raw.sum()
    assert stats.chi2.sf(float(np.sum((counts - wrong) ** 2 / wrong)), len(counts) - 1) < 1e-6


# ------------------------------------------------------------------------ bad input
def test_bad_smearing_and_measurement_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="angle_rad"):
        Smearing(angle_rad=0.0)
    with pytest.raises(InvalidInputError, match="angle_rad"):
        Smearing(angle_rad=0.5)
    with pytest.raises(InvalidInputError, match="mass_rel"):
        Smearing(mass_rel=-0.01)
    with pytest.raises(InvalidInputError, match="equally long"):
        Measurement((182.7, 188.6), (230.0,))
    with pytest.raises(InvalidInputError, match="increasing"):
        Measurement((188.6, 182.7), (230.0, 700.0))
    with pytest.raises(InvalidInputError, match="cos_max"):
        Measurement((188.6,), (230.0,), cos_max=1.0)


def test_zero_width_box_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="zero or negative width"):
        EFTProblem(LEP2, ("C_ll_1122", "C_le_1122"), (-0.3, 0.2), (0.3, 0.2))
    with pytest.raises(InvalidInputError, match="distinct Wilson coefficients"):
        EFTProblem(LEP2, ("C_ll_1221",), (-0.3,), (0.3,))


def test_coefficients_of_wrong_shape_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="Wilson coefficients"):
        dsigma_dcos_smeft_pb(200.0, 0.5, [0.1, 0.2, 0.3])
    with pytest.raises(InvalidInputError, match="cos_theta"):
        quadratic_terms(200.0, 1.5)
