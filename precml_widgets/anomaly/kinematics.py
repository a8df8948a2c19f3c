"""Dimuon kinematics: Lorentz boosts and the pair rest frame (massless muons).

The pair-frame coordinates of an event are ``(ln m, ln pT, y, cos theta*, phi*)``: the
dimuon mass (GeV), transverse momentum (GeV) and rapidity, and the direction of the leading
muon in the pair rest frame -- polar angle to the pair's flight direction (helicity axis)
and azimuth around it, measured from the plane of the beam and that axis. Together with the
pair azimuth they fix both muons; a resonance is a narrow line in ``ln m`` there.
"""

from __future__ import annotations

import numpy as np

__all__ = ["boost", "from_pair_frame", "to_pair_frame"]


def boost(p4: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Boost four-vectors ``p4`` (n, 4) = (E, px, py, pz) by velocities ``beta`` (n, 3)."""
    b2 = np.sum(beta**2, axis=-1)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p4[..., 1:], axis=-1)
    coef = np.where(b2 > 0, (gamma - 1.0) * bp / np.where(b2 > 0, b2, 1.0), 0.0)
    e = gamma * (p4[..., 0] + bp)
    vec = p4[..., 1:] + (coef + gamma * p4[..., 0])[..., None] * beta
    return np.concatenate([e[..., None], vec], axis=-1)


def _axes(p3: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Helicity-frame axes (x, y, z) for pair momenta ``p3`` (n, 3)."""
    z = p3 / np.linalg.norm(p3, axis=-1, keepdims=True)
    beam = np.array([0.0, 0.0, 1.0])
    x = beam - np.sum(z * beam, axis=-1, keepdims=True) * z
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return x, np.cross(z, x), z


def to_pair_frame(
    pt: np.ndarray, eta: np.ndarray, phi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pair-frame coordinates of two muons per event.

    Args:
        pt, eta, phi: shape ``(n, 2)``; column 0 is the muon whose direction is kept.

    Returns:
        ``u`` of shape ``(n, 5)`` = (ln m, ln pT, y, cos theta*, phi*) and the pair azimuth (n,).

    Example:
        >>> pt, eta, phi = np.array([[45.0, 45.0]]), np.zeros((1, 2)), np.array([[0.0, np.pi]])
        >>> u, _ = to_pair_frame(pt, eta, phi)
        >>> round(float(np.exp(u[0, 0])), 6)  # back-to-back at eta = 0: m = 2 pT
        90.0
    """
    p = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)
    e = np.linalg.norm(p, axis=-1)
    pair, energy = p.sum(axis=1), e.sum(axis=1)
    m = np.sqrt(np.clip(energy**2 - np.sum(pair**2, axis=-1), 1e-12, None))
    pt_pair = np.clip(np.hypot(pair[:, 0], pair[:, 1]), 1e-6, None)
    y = 0.5 * np.log((energy + pair[:, 2]) / (energy - pair[:, 2]))
    mu = boost(np.concatenate([e[:, 0, None], p[:, 0]], axis=-1), -pair / energy[:, None])[:, 1:]
    x_ax, y_ax, z_ax = _axes(pair)
    cos_theta = np.sum(mu * z_ax, axis=-1) / np.linalg.norm(mu, axis=-1)
    phi_star = np.arctan2(np.sum(mu * y_ax, axis=-1), np.sum(mu * x_ax, axis=-1))
    u = np.column_stack([np.log(m), np.log(pt_pair), y, cos_theta, phi_star])
    return u, np.arctan2(pair[:, 1], pair[:, 0])


def from_pair_frame(
    u: np.ndarray, phi_pair: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`to_pair_frame`: (pt, eta, phi), each of shape ``(n, 2)``."""
    m, pt_pair, y = np.exp(u[:, 0]), np.exp(u[:, 1]), u[:, 2]
    cos_theta, phi_star = np.clip(u[:, 3], -1.0, 1.0), u[:, 4]
    mt = np.sqrt(m**2 + pt_pair**2)
    pair = np.column_stack(
        [pt_pair * np.cos(phi_pair), pt_pair * np.sin(phi_pair), mt * np.sinh(y)]
    )
    energy = mt * np.cosh(y)
    x_ax, y_ax, z_ax = _axes(pair)
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    direction = (
        (sin_theta * np.cos(phi_star))[:, None] * x_ax
        + (sin_theta * np.sin(phi_star))[:, None] * y_ax
        + cos_theta[:, None] * z_ax
    )
    half = (m / 2)[:, None]
    muons = [
        boost(np.concatenate([half, s * half * direction], axis=-1), pair / energy[:, None])
        for s in (1.0, -1.0)
    ]
    pt = np.column_stack([np.hypot(v[:, 1], v[:, 2]) for v in muons])
    eta = np.column_stack([np.arcsinh(v[:, 3] / np.hypot(v[:, 1], v[:, 2])) for v in muons])
    phi = np.column_stack([np.arctan2(v[:, 2], v[:, 1]) for v in muons])
    return pt, eta, phi
