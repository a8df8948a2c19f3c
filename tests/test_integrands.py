"""Tests of precml_widgets.integration: the i-flow test integrands and e+e- -> mu+mu-.

Statistical tolerances: plain Monte Carlo estimates are compared with the exact value at 5
standard errors (two-sided false-alarm probability 5.7e-7 per comparison); KS tests of the
samplers use significance 1e-4 per coordinate (about 60 tests, so a family-wise false-alarm
rate below 1 %), with a fixed seed so that the outcome is reproducible.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from scipy import integrate, stats

from precml_widgets.errors import InvalidInputError
from precml_widgets.integration import ee_mumu as E
from precml_widgets.integration.integrands import (
    Integrand,
    annulus,
    camel,
    entangled_circles,
    gauss,
    get,
    polynomial,
    suite,
)

SUITE_NAMES = [
    "gauss-2d",
    "gauss-4d",
    "gauss-8d",
    "gauss-16d",
    "camel-2d",
    "camel-4d",
    "camel-8d",
    "camel-16d",
    "entangled-circles",
    "annulus",
    "polynomial-18d",
    "ee-mumu",
    "ee-mumu-bw",
]
KS_ALPHA = 1e-4
N_KS = 20_000  # KS detects CDF differences of ~0.016 at KS_ALPHA with 20k draws


def _rng(salt: int = 0) -> np.random.Generator:
    return np.random.default_rng(20261123 + salt)


def _plain_mc(ig: Integrand, n: int, rng: np.random.Generator) -> tuple[float, float]:
    v = ig(rng.random((n, ig.dim)))
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(n))


def _gl_tensor(ig: Integrand, nodes: int, upper0: float = 1.0) -> float:
    """Tensor Gauss-Legendre rule on [0, upper0] x [0, 1]^(dim-1): fine for smooth peaks."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    grids = [(upper0 * (x + 1) / 2, upper0 * w / 2)] + [((x + 1) / 2, w / 2)] * (ig.dim - 1)
    pts = np.stack(np.meshgrid(*[g[0] for g in grids], indexing="ij"), -1).reshape(-1, ig.dim)
    wts = np.ones(1)
    for g in grids:
        wts = np.multiply.outer(wts, g[1]).ravel()
    return float(ig(pts) @ wts)


# ----------------------------------------------------------------------------- the suite


def test_suite_names_and_shapes():
    s = suite()
    assert list(s) == SUITE_NAMES
    rng = _rng()
    for name, ig in s.items():
        assert ig.name == name
        assert get(name).name == name
        v = ig(rng.random((257, ig.dim)))
        assert v.shape == (257,) and v.dtype == np.float64
        assert np.all(np.isfinite(v)) and np.all(v >= 0.0)
        assert ig.exact > 0.0 and 0.0 <= ig.exact_error <= 1e-6 * ig.exact
        assert ig.reference and "\n" not in ig.reference
        assert ig(np.empty((0, ig.dim))).shape == (0,)
    assert s["entangled-circles"].sampler is None and s["entangled-circles"].marginal_cdf is None


# ----------------------------------------------------------------------------- exact values


@pytest.mark.parametrize("make", [gauss, camel])
@pytest.mark.parametrize("dim", [2, 3, 4])
def test_peaks_exact_vs_tensor_gauss_legendre(make, dim):
    # alpha = 0.2 peaks are entire functions; 60 (2D/3D) or 36 (4D) nodes per axis converge to
    # ~1e-12 without using erf, so this checks the closed forms independently.
    ig = make(dim)
    assert _gl_tensor(ig, 60 if dim < 4 else 36) == pytest.approx(ig.exact, rel=1e-10)


@pytest.mark.parametrize("dim", [8, 16])
def test_peaks_exact_vs_1d_quadrature_products(dim):
    # gauss is a product of 1D factors and camel a sum of two: check that structure on random
    # points, then the exact values against powers of 1D adaptive quadratures.
    a = 0.2
    norm = a * math.sqrt(math.pi)

    def hump(mu):
        return lambda t: math.exp(-(((t - mu) / a) ** 2)) / norm

    x = _rng(dim).uniform(0.3, 0.7, (50, dim))
    g, c = gauss(dim), camel(dim)
    np.testing.assert_allclose(g(x), np.prod(np.exp(-(((x - 0.5) / a) ** 2)) / norm, axis=1))
    pk = [np.prod(np.exp(-(((x - mu) / a) ** 2)) / norm, axis=1) for mu in (1 / 3, 2 / 3)]
    np.testing.assert_allclose(c(x), 0.5 * (pk[0] + pk[1]))
    mg = integrate.quad(hump(0.5), 0, 1, epsabs=0, epsrel=1e-13)[0]
    m1 = integrate.quad(hump(1 / 3), 0, 1, epsabs=0, epsrel=1e-13)[0]
    m2 = integrate.quad(hump(2 / 3), 0, 1, epsabs=0, epsrel=1e-13)[0]
    assert g.exact == pytest.approx(mg**dim, rel=1e-11)
    assert c.exact == pytest.approx(0.5 * (m1**dim + m2**dim), rel=1e-11)
    assert m1 == pytest.approx(m2, rel=1e-13)  # equal hump masses: the sampler's 50/50 choice


@pytest.mark.parametrize(
    "ig", [gauss(2), camel(2), annulus(), entangled_circles(), polynomial(18)], ids=lambda i: i.name
)
def test_plain_monte_carlo_within_5_sigma(ig):
    est, err = _plain_mc(ig, 1_000_000, _rng(ig.dim))
    assert abs(est - ig.exact) < 5 * err, (ig.name, est, err, ig.exact)


def test_closed_forms():
    assert annulus().exact == pytest.approx(0.510508806208341, rel=1e-14)
    assert polynomial(18).exact == 3.0 and polynomial(3).exact == 0.5
    assert gauss(1, alpha=0.1).exact == pytest.approx(math.erf(5.0), rel=1e-15)
    assert gauss(3, alpha=0.3).name == "gauss-3d(alpha=0.3)"
    # polynomial: f is a sum of 1D terms, each integrating to 1/6 exactly (Gauss-Legendre, 2 nodes)
    assert _gl_tensor(polynomial(4), 2) == pytest.approx(4 / 6, rel=1e-14)


def _circles_inner(ig: Integrand, x1: float) -> float:
    """int_0^1 f(x1, x2) dx2 by composite 16-point Gauss-Legendre, split at every kink."""
    cuts = {0.0, 1.0}
    for cx, cy in ((0.4, 0.6), (0.6, 0.4)):
        d = 0.25**2 - (x1 - cx) ** 2
        cuts.update({cy} | ({cy - math.sqrt(d), cy + math.sqrt(d)} if d > 0 else set()))
    edges = np.array(sorted(c for c in cuts if 0.0 <= c <= 1.0))
    sub = np.concatenate(
        [np.linspace(lo, hi, 33)[:-1] for lo, hi in itertools.pairwise(edges)] + [[1]]
    )
    gx, gw = np.polynomial.legendre.leggauss(16)
    h = np.diff(sub)[:, None]
    nodes = (sub[:-1, None] + h * (gx + 1) / 2).ravel()
    pts = np.column_stack([np.full(nodes.size, x1), nodes])
    return float(ig(pts) @ (h * gw / 2).ravel())


def test_entangled_circles_quadrature():
    # adaptive outer quad in x1 (split at the rings' tangent lines) of a composite
    # Gauss-Legendre inner integral split at the ring crossings: independent of the polar
    # recipe that produced the hard-coded value.
    ig = entangled_circles()
    breaks = [0.0, 0.15, 0.35, 0.4, 0.6, 0.65, 0.85, 1.0]
    total = sum(
        integrate.quad(lambda t: _circles_inner(ig, t), lo, hi, epsabs=0, epsrel=1e-11)[0]
        for lo, hi in itertools.pairwise(breaks)
    )
    assert abs(total - ig.exact) < 1e-12
    assert ig.exact_error <= 1e-13
    assert round(ig.exact, 7) == 0.0136848  # the value quoted in arXiv:2001.05486


# ----------------------------------------------------------------------------- samplers


def _with_sampler():
    return [ig for ig in suite().values() if ig.sampler is not None] + [camel(3, alpha=0.3)]


@pytest.mark.parametrize("ig", _with_sampler(), ids=lambda i: i.name)
def test_sampler_marginals_ks(ig):
    x = ig.sampler(N_KS, _rng(7))
    assert x.shape == (N_KS, ig.dim) and np.all((x >= 0) & (x <= 1))
    assert np.all(ig(x) > 0)  # draws land where f > 0 (the annulus' ring, for instance)
    for i in range(ig.dim):
        p = stats.kstest(x[:, i], lambda t, i=i: ig.marginal_cdf(t, i)).pvalue
        assert p > KS_ALPHA, (ig.name, i, p)
    assert ig.sampler(0, _rng()).shape == (0, ig.dim)


@pytest.mark.parametrize(
    "ig", [gauss(2), camel(2), camel(3, alpha=0.3), gauss(3, alpha=0.5)], ids=lambda i: i.name
)
def test_peak_marginal_cdf_vs_quadrature(ig):
    # F_0(t) = int_0^t dx0 int dx_rest f / I by tensor Gauss-Legendre on [0, t] x [0, 1]^(n-1)
    for t in (0.2, 0.45, 0.8):
        want = _gl_tensor(ig, 60, upper0=t) / ig.exact
        assert ig.marginal_cdf(np.array([t]), 0)[0] == pytest.approx(want, rel=1e-9)


def test_polynomial_and_annulus_marginal_cdfs():
    p = polynomial(5)
    t = np.array([0.0, 0.3, 0.5, 1.0])
    # F(t) = (1/I) int_0^t [ (x - x^2) + (n-1)/6 ] dx
    want = (t**2 / 2 - t**3 / 3 + 4 / 6 * t) / (5 / 6)
    np.testing.assert_allclose(p.marginal_cdf(t, 3), want, rtol=1e-14)
    # annulus: F(t) = E_uniform[f(U) 1(U_1 < t)] / I, plain MC with 1e6 points at 5 sigma
    a = annulus()
    u = _rng(3).random((1_000_000, 2))
    inside = a(u)
    for t in (0.1, 0.3, 0.5, 0.62):
        hits = inside * (u[:, 1] < t)
        est, err = hits.mean() / a.exact, hits.std() / math.sqrt(u.shape[0]) / a.exact
        assert abs(a.marginal_cdf(np.array([t]), 1)[0] - est) < 5 * err


# ----------------------------------------------------------------------------- e+e- -> mu+mu-


@pytest.fixture(scope="module")
def ee():
    return E.ee_mumu(), E.ee_mumu(mapping="breit_wigner")


def test_ee_mumu_mappings_same_exact_and_mc(ee):
    flat, bw = ee
    assert flat.exact == bw.exact and flat.exact_error == bw.exact_error
    assert flat.exact_error <= 1e-6 * flat.exact
    (ef, sf), (eb, sb) = _plain_mc(flat, 1_000_000, _rng(1)), _plain_mc(bw, 1_000_000, _rng(2))
    assert abs(ef - flat.exact) < 5 * sf and abs(eb - bw.exact) < 5 * sb
    assert abs(ef - eb) < 5 * math.hypot(sf, sb)
    assert sb < 0.6 * sf  # the Breit-Wigner mapping reduces the variance (~4.7x)


@pytest.mark.parametrize("mapping", ["flat", "breit_wigner"])
def test_ee_mumu_fn_integrates_to_exact(ee, mapping):
    # 2-node Gauss-Legendre in x2 is exact for the quadratic in cos(theta); adaptive quad in x1
    # (split at the Z peak for the flat map) checks each mapping's Jacobian.
    ig = ee[mapping == "breit_wigner"]
    gx = (np.array([-1, 1]) / math.sqrt(3) + 1) / 2

    def row(x1):
        return 0.5 * ig(np.column_stack([np.full(2, x1), gx])).sum()

    peak = [(E.M_Z_GEV - 40) / 160] if mapping == "flat" else None
    val = integrate.quad(row, 0, 1, points=peak, epsabs=0, epsrel=1e-11, limit=400)[0]
    assert val == pytest.approx(ig.exact, rel=1e-9)


def test_dsigma_integrates_to_sigma_total():
    for rs in (10.0, 60.0, E.M_Z_GEV, 95.0, 180.0):

        def dsig(c, rs=rs):
            return E.dsigma_dcos_pb(rs, c)

        val = integrate.quad(dsig, -1, 1, epsrel=1e-13)[0]
        assert val == pytest.approx(E.sigma_total_pb(rs), rel=1e-12)
        fb = integrate.quad(dsig, 0, 1)[0] - integrate.quad(dsig, -1, 0)[0]
        assert fb / val == pytest.approx(E.forward_backward_asymmetry(rs), rel=1e-10)
    np.testing.assert_allclose(
        E.sigma_total_pb(np.array([10.0, E.M_Z_GEV])),
        [E.sigma_total_pb(10.0), E.sigma_total_pb(E.M_Z_GEV)],
    )


def test_z_width_and_peak_cross_section():
    g = E.z_partial_width_gev()
    assert 0.083 < g < 0.084  # Born 83.41 MeV; PDG measures 83.98 MeV (radiative corrections)
    peak = E.z_peak_sigma_pb()
    assert 1960 < peak < 1990  # Born; the measured sigma0(mu mu) is 1.9985 nb (with corrections)
    # at sqrt(s) = M_Z the interference (chi1) vanishes: sigma = Z peak + pure photon exactly
    photon = E.HBARC2_PB_GEV2 * 4 * math.pi * E.ALPHA_EM_MZ**2 / (3 * E.M_Z_GEV**2)
    assert E.sigma_total_pb(E.M_Z_GEV) == pytest.approx(peak + photon, rel=1e-12)
    assert 0.005 < photon / peak < 0.007  # the photon is 0.60 % of the peak


def test_qed_limit_at_10_gev():
    s = 10.0**2
    qed = E.HBARC2_PB_GEV2 * 4 * math.pi * E.ALPHA_EM_MZ**2 / (3 * s)
    # the Z adds chi1 ~ -kappa s / M_Z^2 ~ -1.7e-2 times 2 V^2 ~ 3e-3: about 5e-5 relative
    assert E.sigma_total_pb(10.0) == pytest.approx(qed, rel=1e-3)
    assert abs(E.sigma_total_pb(10.0) / qed - 1) < 1e-4


def test_forward_backward_asymmetry():
    afb = E.forward_backward_asymmetry
    v, a = E.V_LEPTON, E.A_LEPTON
    pole = 3 * v * v * a * a / (v * v + a * a) ** 2  # (3/4) A_e A_mu for pure Z
    photon_share = 1 - E.z_peak_sigma_pb() / E.sigma_total_pb(E.M_Z_GEV)
    assert afb(E.M_Z_GEV) == pytest.approx(pole * (1 - photon_share), rel=1e-12)
    assert 0.016 < afb(E.M_Z_GEV) < 0.017
    assert afb(E.M_Z_GEV - 3) < -0.1 and afb(E.M_Z_GEV + 3) > 0.1  # interference changes sign
    assert -0.11 < afb(35.0) < -0.07  # PETRA measured about -0.1 at 35 GeV (Born: -0.091)


def test_ee_mumu_cos_theta_of_samples_vs_analytic_shape(ee):
    # the cos(theta) marginal is (3/8)(1 + c^2) + A c with A the window's sigma-weighted
    # (sigma_F - sigma_B) / sigma, here computed from dsigma_dcos_pb alone
    def diff(rs):
        return 0.5 * (E.dsigma_dcos_pb(rs, 1.0) - E.dsigma_dcos_pb(rs, -1.0))

    opts = {"points": [E.M_Z_GEV], "epsabs": 0, "epsrel": 1e-11, "limit": 400}
    big_a = (
        integrate.quad(diff, 40, 200, **opts)[0]
        / integrate.quad(E.sigma_total_pb, 40, 200, **opts)[0]
    )

    def cdf(c):
        return 3 / 8 * (c + c**3 / 3 + 4 / 3) + big_a / 2 * (c * c - 1)

    for ig in ee:
        c = 2 * ig.sampler(N_KS, _rng(11))[:, 1] - 1
        assert stats.kstest(c, cdf).pvalue > KS_ALPHA
        np.testing.assert_allclose(ig.marginal_cdf((c[:50] + 1) / 2, 1), cdf(c[:50]), atol=1e-12)


def test_ee_mumu_samples_carry_the_interference(ee):
    # the joint (sqrt s, cos) law, not only the marginals: the forward fraction of the draws
    # below (80-89 GeV, A_FB < 0) and above (93-100 GeV, A_FB > 0) the peak vs quadrature, at 5
    # binomial standard errors
    x = ee[0].sampler(200_000, _rng(5))
    rs, c = 40 + 160 * x[:, 0], 2 * x[:, 1] - 1
    for lo, hi, sign in ((80.0, 89.0, -1), (93.0, 100.0, 1)):
        num = integrate.quad(
            lambda t: E.sigma_total_pb(t) * E.forward_backward_asymmetry(t), lo, hi
        )
        afb = num[0] / integrate.quad(E.sigma_total_pb, lo, hi)[0]
        assert np.sign(afb) == sign
        sel = (rs > lo) & (rs < hi)
        want = (1 + afb) / 2
        assert abs((c[sel] > 0).mean() - want) < 5 * math.sqrt(want * (1 - want) / sel.sum())


def test_ee_mumu_sqrt_s_marginal_vs_quad(ee):
    flat, bw = ee
    total = integrate.quad(E.sigma_total_pb, 40, 200, points=[E.M_Z_GEV], epsrel=1e-12)[0]
    for rs in (50.0, 89.0, E.M_Z_GEV, 93.0, 150.0):
        part = integrate.quad(E.sigma_total_pb, 40, rs, epsabs=0, epsrel=1e-12, limit=400)[0]
        got = flat.marginal_cdf(np.array([(rs - 40) / 160]), 0)[0]
        assert got == pytest.approx(part / total, rel=1e-9, abs=1e-12)
        y = math.atan((rs**2 - E.M_Z_GEV**2) / (E.M_Z_GEV * E.GAMMA_Z_GEV))
        y_lo, y_hi = (
            math.atan((v**2 - E.M_Z_GEV**2) / (E.M_Z_GEV * E.GAMMA_Z_GEV)) for v in (40, 200)
        )
        got_bw = bw.marginal_cdf(np.array([(y - y_lo) / (y_hi - y_lo)]), 0)[0]
        assert got_bw == pytest.approx(part / total, rel=1e-9, abs=1e-12)


def test_ee_mumu_envelope_violation_raises():
    w = E.sqrt_s_window(40.0, 200.0)
    with pytest.raises(E.EnvelopeError, match="exceeds the envelope"):
        E.accept_reject(dataclasses.replace(w, env=0.5 * w.env), 1000, _rng())


def test_ee_mumu_other_window_without_the_z():
    ig = E.ee_mumu(sqrt_s_min=10.0, sqrt_s_max=20.0)
    assert ig.name == "ee-mumu[10-20GeV]"
    qed = E.HBARC2_PB_GEV2 * 4 * math.pi * E.ALPHA_EM_MZ**2 / 3 * (1 / 10 - 1 / 20) / 10
    assert ig.exact == pytest.approx(qed, rel=2e-4)  # Z effects below 2e-4 here


# ----------------------------------------------------------------------------- bad input


def test_call_rejects_bad_shapes_and_points():
    g = gauss(2)
    with pytest.raises(InvalidInputError, match=r"gauss-2d.*\(N, 2\)"):
        g(np.array([0.5, 0.5]))  # a (dim,) vector is not a point
    with pytest.raises(InvalidInputError, match=r"\(N, 2\)"):
        g(np.zeros((4, 3)))
    with pytest.raises(InvalidInputError, match=r"\(N, 2\)"):
        g(np.zeros((2, 2, 2)))
    with pytest.raises(InvalidInputError, match="unit cube"):
        g(np.array([[0.5, 1.5]]))
    with pytest.raises(InvalidInputError, match="unit cube"):
        g(np.array([[0.5, np.nan]]))
    with pytest.raises(InvalidInputError, match="numeric"):
        g([["a", "b"]])


def test_get_unknown_name_lists_the_suite():
    with pytest.raises(InvalidInputError, match=r"gauss-2d.*ee-mumu-bw"):
        get("gauss-3")


@pytest.mark.parametrize(
    ("make", "kwargs"),
    [
        (gauss, {"dim": 0}),
        (camel, {"dim": -2}),
        (polynomial, {"dim": 0}),
        (gauss, {"dim": 2.0}),
        (camel, {"dim": True}),
        (gauss, {"dim": 2, "alpha": 0.0}),
        (camel, {"dim": 2, "alpha": -0.1}),
        (gauss, {"dim": 2, "alpha": float("nan")}),
        (camel, {"dim": 2, "alpha": float("inf")}),
    ],
)
def test_factories_reject_bad_arguments(make, kwargs):
    with pytest.raises(InvalidInputError, match=r"dim|alpha"):
        make(**kwargs)


def test_other_bad_inputs():
    with pytest.raises(InvalidInputError, match="sqrt_s_min must be below"):
        E.ee_mumu(sqrt_s_min=200.0, sqrt_s_max=40.0)
    with pytest.raises(InvalidInputError, match="sqrt_s_min"):
        E.ee_mumu(sqrt_s_min=-1.0)
    with pytest.raises(InvalidInputError, match="mapping"):
        E.ee_mumu(mapping="log")
    with pytest.raises(InvalidInputError, match="cos_theta"):
        E.dsigma_dcos_pb(91.0, 1.5)
    with pytest.raises(InvalidInputError, match="sqrt_s"):
        E.sigma_total_pb(0.0)
    with pytest.raises(InvalidInputError, match="number of samples"):
        gauss(2).sampler(-1, _rng())
    with pytest.raises(InvalidInputError, match="number of samples"):
        E.ee_mumu().sampler(2.5, _rng())
    with pytest.raises(InvalidInputError, match="coordinate index"):
        camel(2).marginal_cdf(np.array([0.5]), 2)
    with pytest.raises(InvalidInputError, match="coordinate index"):
        E.ee_mumu().marginal_cdf(np.array([0.5]), 2)
    with pytest.raises(InvalidInputError, match="exact"):
        Integrand("x", 1, lambda x: x[:, 0], exact=-1.0, exact_error=0.0, reference="r")
    with pytest.raises(InvalidInputError, match="name"):
        Integrand("", 1, lambda x: x[:, 0], exact=0.5, exact_error=0.0, reference="r")


# -- the best factorised density (what a VEGAS grid can reach) -----------------------------------
def test_factorised_spread_against_quadrature():
    """MC with exact draws against a deterministic 2D midpoint quadrature (independent).

    Truths: 0 for the factorising Gauss; for the 2D Camel and e+e- -> mu+mu-, the spread
    sqrt(sum p^2 / (m1 m2) - 1) on a 1000 x 1000 grid (grid error < 1e-3, measured by
    halving the grid). 4 sigma of the MC error: false alarm 6e-5 each.
    """
    from precml_widgets.integration.factorisation import factorised_spread

    g = factorised_spread(gauss(3), draws=50_000, seed=1)
    assert g.relative_std < 4 * g.error + 1e-3
    mid = (np.arange(1000) + 0.5) / 1000
    xx, yy = np.meshgrid(mid, mid, indexing="ij")
    for ig in (camel(2), E.ee_mumu()):
        f = ig.fn(np.column_stack([xx.ravel(), yy.ravel()])).reshape(1000, 1000)
        p = f / f.mean()
        grid = math.sqrt((p**2 / np.outer(p.mean(1), p.mean(0))).mean() - 1)
        s = factorised_spread(ig, draws=100_000, seed=2)
        assert abs(s.relative_std - grid) < 4 * s.error + 1e-3, (ig.name, s, grid)
    with pytest.raises(InvalidInputError, match="exact sampler"):
        factorised_spread(entangled_circles())


def test_ee_mumu_helicity_form_equals_the_x_y_form():
    # The Ellis-Stirling-Webber X(s), Y(s) closed forms written out here (the form the module
    # used before its helicity rewrite) against dsigma_dcos_pb from the helicity amplitudes,
    # from 10 GeV through the Z to LEP-2, at 1e-12 relative.
    s = np.geomspace(10.0, 250.0, 400)[:, None] ** 2
    c = np.linspace(-1.0, 1.0, 41)[None, :]
    q, v, a = -1.0, E.V_LEPTON, E.A_LEPTON
    kappa = math.sqrt(2.0) * E.G_FERMI_GEV2 * E.M_Z_GEV**2 / (4.0 * math.pi * E.ALPHA_EM_MZ)
    d = (s - E.M_Z_GEV**2) ** 2 + (E.M_Z_GEV * E.GAMMA_Z_GEV) ** 2
    chi1, chi2 = kappa * s * (s - E.M_Z_GEV**2) / d, kappa**2 * s * s / d
    x = q**2 - 2 * q * v * v * chi1 + (a**2 + v**2) ** 2 * chi2
    y = -2 * q * a * a * chi1 + 4 * a**2 * v**2 * chi2
    expected = (
        E.HBARC2_PB_GEV2 * math.pi * E.ALPHA_EM_MZ**2 / (2 * s) * ((1 + c * c) * x + 2 * c * y)
    )
    np.testing.assert_allclose(E.dsigma_dcos_pb(np.sqrt(s), c), expected, rtol=1e-12)
    # far below the Z every amplitude is the photon's, Q_e Q_mu = 1
    amplitudes = E.helicity_amplitudes(1.0)
    assert set(amplitudes) == set(E.HELICITIES)
    np.testing.assert_allclose([amplitudes[h] for h in E.HELICITIES], 1.0, atol=2e-4)
