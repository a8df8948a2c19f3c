"""Expected (Asimov) likelihoods of a measurement: unbinned from any ratio, and binned in cos theta.

For data drawn at the Standard Model, the expected ``-2 ln lambda(C)`` of the extended unbinned
likelihood is ``q(C) = 2 sum_E L_E int dsigma_SM(x) [r(x; C) - 1 - ln r(x; C)] dcos`` with
``r = dsigma(x; C) / dsigma_SM(x)``: the exact ratio gives the exact answer, a learned ratio the
answer its user would get. The binned version replaces the integral by Poisson terms per bin,
``2 sum_b [nu_b(C) - nu_b(0) - nu_b(0) ln(nu_b(C) / nu_b(0))]``. Integrals over cos theta use
Gauss-Legendre quadrature (:mod:`~precml_widgets.inference.density`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from precml_widgets.inference.density import bin_terms, density_terms, quadrature_nodes
from precml_widgets.inference.measurement import Measurement
from precml_widgets.inference.problem import EFTProblem
from precml_widgets.inference.smeft import require_coefficients

__all__ = [
    "ExactRatio",
    "ExpectedQ",
    "RatioModel",
    "binned_expected_q",
    "exact_expected_q",
    "unbinned_expected_q",
]

Array = npt.NDArray[np.float64]
#: Gauss-Legendre nodes in cos theta for the unbinned integrals (the integrand is smooth).
N_NODES = 48
#: Bins in cos theta per energy of the binned analysis, equal width over the acceptance.
N_BINS = 10


class RatioModel(Protocol):
    """``r(x; C) = dsigma(x; C) / dsigma_SM(x)`` for features ``x`` = (m in GeV, cos theta) of
    shape (n, 2) and full coefficient vectors ``C`` of shape (m, 4); returns (m, n).

    ``m`` is the dimuon mass: without smearing it equals sqrt s (one of the measurement's
    energies), with smearing it is the smeared mass around it."""

    def __call__(self, features: Array, coefficients: Array) -> Array: ...


@dataclass(frozen=True)
class ExactRatio:
    """The exact :class:`RatioModel` of a :class:`Measurement` (smeared or not).

    The shapes ``lin / sm`` and ``quad / sm`` of the last features array seen are kept (keyed
    on the array's identity, so an expected ``q`` evaluated many times at its quadrature nodes
    computes the smeared shapes once); pass a new array, not an edited one, for new events.
    """

    measurement: Measurement
    _cache: list[tuple[Array, Array, Array]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    def terms(self, features: Array) -> tuple[Array, Array]:
        """``(lin / sm, quad / sm)`` at events ``features`` (n, 2), each (n, 4)."""
        if self._cache and self._cache[0][0] is features:
            return self._cache[0][1], self._cache[0][2]
        sm, lin, quad = density_terms(self.measurement, features)
        a, b = lin / sm[:, None], quad / sm[:, None]
        self._cache[:] = [(features, a, b)]
        return a, b

    def __call__(self, features: Array, coefficients: Array) -> Array:
        c = require_coefficients("coefficients", coefficients).reshape(-1, 4)
        a, b = self.terms(features)
        return 1.0 + c @ a.T + (c * c) @ b.T


@dataclass(frozen=True, eq=False)
class ExpectedQ:
    """An expected ``-2 ln lambda`` as a function of the free coefficients.

    Attributes:
        problem: the :class:`EFTProblem` (measurement, free coefficients, box).
        label: which likelihood it is, e.g. ``"exact unbinned"``.
        evaluate: ``(m, dim) -> (m,)``, +inf where a predicted density is <= 0.
    """

    problem: EFTProblem
    label: str
    evaluate: Callable[[Array], Array]

    def __call__(self, free_values: npt.ArrayLike) -> Array:
        """``q`` at free-coefficient vectors ``(m, dim)`` (or ``(dim,)``), shape (m,)."""
        v = np.atleast_2d(np.asarray(free_values, dtype=np.float64))
        self.problem.full(v)  # checks the shape, then the box
        return self.evaluate(v)


def unbinned_expected_q(
    problem: EFTProblem, ratio: RatioModel, *, label: str, n_nodes: int = N_NODES
) -> ExpectedQ:
    """The expected unbinned ``q(C)`` for SM data, from any :class:`RatioModel`.

    Args:
        problem: the :class:`EFTProblem`.
        ratio: the exact ratio (:class:`ExactRatio`) or a learned one.
        label: what to call it in summaries.
        n_nodes: Gauss-Legendre nodes in cos theta (see
            :func:`~precml_widgets.inference.density.quadrature_nodes`).

    Returns:
        The :class:`ExpectedQ`.
    """
    features, node_weights = quadrature_nodes(problem.measurement, n_nodes)
    weights = node_weights * density_terms(problem.measurement, features)[0]

    def evaluate(v: Array) -> Array:
        out = np.empty(v.shape[0])
        for start in range(0, v.shape[0], 2048):
            r = ratio(features, problem.full(v[start : start + 2048], check=False))
            with np.errstate(divide="ignore", invalid="ignore"):
                term = np.where(r > 0.0, r - 1.0 - np.log(np.where(r > 0.0, r, 1.0)), np.inf)
            out[start : start + 2048] = 2.0 * term @ weights
        return out

    return ExpectedQ(problem, label, evaluate)


def binned_expected_q(problem: EFTProblem, *, n_bins: int = N_BINS) -> ExpectedQ:
    """The expected ``q(C)`` of a Poisson analysis in ``n_bins`` equal cos theta bins per mass
    window (see :func:`~precml_widgets.inference.density.bin_terms`).

    Args:
        problem: the :class:`EFTProblem`.
        n_bins: bins per energy over the acceptance.

    Returns:
        The :class:`ExpectedQ`; its bins add up to the accepted cross section times L.
    """
    sm, lin, quad = bin_terms(problem.measurement, n_bins)
    sm_flat, lin_flat, quad_flat = sm.ravel(), lin.reshape(-1, 4), quad.reshape(-1, 4)

    def evaluate(v: Array) -> Array:
        c = problem.full(v, check=False)
        nu = sm_flat + c @ lin_flat.T + (c * c) @ quad_flat.T
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(nu > 0.0, nu - sm_flat - sm_flat * np.log(nu / sm_flat), np.inf)
        return 2.0 * term.sum(axis=-1)

    return ExpectedQ(problem, f"binned ({n_bins} cos bins per energy)", evaluate)


def exact_expected_q(problem: EFTProblem) -> ExpectedQ:
    """The exact expected unbinned ``q`` of ``problem`` (from :class:`ExactRatio`)."""
    return unbinned_expected_q(problem, ExactRatio(problem.measurement), label="exact unbinned")
