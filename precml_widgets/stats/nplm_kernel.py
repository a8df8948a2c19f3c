"""NPLM with a Nyström kernel model, solved by Newton's method in pure torch.

The log-ratio is ``f(x) = Σ_k α_k K_σ(x, c_k)`` with the Gaussian kernel
``K_σ(x, y) = exp(−|x − y|² / (2σ²))`` on ``M`` centres ``c_k`` (drawn uniformly, without
replacement, from the pooled reference + data sample, as Falkon does), fitted by minimising

``Σ_i ℓ(y_i, f(x_i)) + λ n αᵀ K_MM α``  (``n = N_R + m``: Falkon's ``λ‖f‖²`` on the mean loss)

with the NPLM loss (default) or the weighted logistic loss of arXiv:2204.02317
(reference: ``w log(1 + e^f)``, data: ``log(1 + e^{−f})``); ``t = 2 [Σ_D f − Σ_R w (e^f − 1)]``
in both cases. With ``K_MM = U Λ Uᵀ`` the model is written ``f = Φ β``,
``Φ(x) = K(x, C) U_r Λ_r^{-1/2}`` and the penalty becomes ``λ n |β|²``; eigen-directions with
``Λ_j < 1e-13 Λ_max`` are dropped (numerically null in float64: a direction is fitted only
where ``Λ_j N(0) / M ≳ λ n``, far above this floor for λ ≥ 1e-14). Newton steps with a
Cholesky solve of the ``r × r`` Hessian and a backtracking line search run to a Newton
decrement below ``tol`` (a quadratic model of the distance to the optimum, in loss units).

At the exact optimum and small λ, ``f`` can grow without much penalty where the reference has
no events: a data event beyond the reference's last event (or an empty data region inside it)
gives a large ``t``, a heavier null tail than χ² (1-D benchmark: the largest of 150 null toys,
t = 64, has one data event beyond the reference's maximum). The paper's code stops after one
Newton step of the logistic loss (``loss="logistic", max_iter=1``), which damps this.

The reference's features ``Φ_R`` depend only on the reference and the centres, so
:func:`prepare_reference` computes them once and :meth:`KernelReference.fit` reuses them for
every data sample (the toys of one reference sample).

References:
    M. Letizia et al., "Learning new physics efficiently with nonparametric methods",
    arXiv:2204.02317 (the method, σ from the 90th percentile of pairwise distances).
    A. Rudi, L. Carratino, L. Rosasco, "FALKON", arXiv:1705.10958; U. Marteau-Ferey et al.,
    "Globally convergent Newton methods for ill-conditioned GLMs", arXiv:1907.01771.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy.spatial.distance import pdist

from precml_widgets._checks import require_choice, require_int, require_real, require_seed
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.nplm_result import (
    NPLMResult,
    check_samples,
    extended_t,
    reference_weights,
)
from precml_widgets.stats.suite import as_batch

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_CENTRES",
    "EIGEN_FLOOR",
    "KernelLogRatio",
    "KernelReference",
    "nplm_kernel",
    "prepare_reference",
]

#: Relative eigenvalue floor of ``K_MM``: directions below it are numerically null.
EIGEN_FLOOR = 1e-13
#: Reference events used for the pairwise-distance percentile that sets σ (as the paper's code).
SIGMA_EVENTS = 2000
_CHUNK = 1 << 22  # kernel entries per block
#: Centres drawn when ``centres`` is not given (capped at the pooled sample size).
DEFAULT_CENTRES = 1000


def _torch() -> Any:
    from precml_widgets._optional import require

    return require("torch", "anomaly", "NPLM")


def gaussian_kernel(x: torch.Tensor, c: torch.Tensor, sigma: float) -> torch.Tensor:
    """``exp(−|x − c|² / (2σ²))``, shape ``(len(x), len(c))``."""
    torch = _torch()
    return torch.exp(torch.cdist(x, c).square_().mul_(-0.5 / sigma**2))


def _features(x: torch.Tensor, c: torch.Tensor, sigma: float, proj: torch.Tensor) -> Any:
    """``K(x, C) @ proj`` in row blocks of at most ``_CHUNK`` kernel entries."""
    torch = _torch()
    step = max(1, _CHUNK // len(c))
    return torch.cat(
        [gaussian_kernel(x[i : i + step], c, sigma) @ proj for i in range(0, len(x), step)]
    )


def weighted_gram(phi: torch.Tensor, h: torch.Tensor, block_rows: int | None = None) -> Any:
    """``Φᵀ diag(h) Φ`` ``(r, r)`` accumulated over blocks of ``block_rows`` rows (default:
    at most ``2^22`` entries per block), never a full weighted copy of ``Φ`` ``(N, r)``.

    Example:
        >>> import torch
        >>> phi = torch.arange(12.0, dtype=torch.float64).reshape(6, 2)
        >>> h = torch.ones(6, dtype=torch.float64)
        >>> bool(torch.allclose(weighted_gram(phi, h), phi.T @ phi))
        True
    """
    torch = _torch()
    r = phi.shape[1]
    out = torch.zeros((r, r), dtype=phi.dtype, device=phi.device)
    step = block_rows or max(1, _CHUNK // max(r, 1))
    for i in range(0, len(phi), step):
        blk = phi[i : i + step]
        out.addmm_((blk * h[i : i + step, None]).T, blk)
    return out


@dataclass(frozen=True)
class KernelLogRatio:
    """The learned ``f(x) = Σ_k α_k K_σ(x, c_k)``.

    Attributes:
        centres: ``(M, d)`` Nyström centres.
        sigma: kernel width σ (units of x).
        alpha: ``(M,)`` coefficients.
    """

    centres: npt.NDArray[np.float64]
    sigma: float
    alpha: npt.NDArray[np.float64]

    def __call__(self, x: Any) -> npt.NDArray[np.float64]:
        """``f`` on events ``(k, d)`` (or ``(k,)`` in 1-D): ``(k,)`` values."""
        torch = _torch()
        pts = as_batch("x", x, dim=self.centres.shape[1], min_events=1)
        c = torch.as_tensor(self.centres)
        a = torch.as_tensor(self.alpha)[:, None]
        return _features(torch.as_tensor(pts), c, self.sigma, a)[:, 0].numpy()


def choose_sigma(reference: npt.NDArray[np.float64], percentile: float, seed: int) -> float:
    """σ = the ``percentile``-th percentile of pairwise distances of up to 2000 reference events.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).exponential(1 / 8, size=(4000, 1))
        >>> bool(abs(choose_sigma(x, 90, 0) - np.log(10) / 8) < 0.02)  # |x - y| ~ Exp(8)
        True
    """
    rng = np.random.default_rng(seed)
    pick = (
        reference
        if len(reference) <= SIGMA_EVENTS
        else reference[rng.choice(len(reference), SIGMA_EVENTS, replace=False)]
    )
    sigma = float(np.percentile(pdist(pick), percentile))
    if not sigma > 0:
        raise InvalidInputError(
            f"the {percentile}th percentile of the reference's pairwise distances is {sigma}; "
            "the reference has (nearly) identical events: pass sigma explicitly."
        )
    return sigma


@dataclass(frozen=True)
class KernelReference:
    """A reference sample prepared for kernel NPLM fits: centres, σ, basis and ``Φ_R``.

    Build with :func:`prepare_reference`; :meth:`fit` tests one data sample against it.
    """

    reference: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64] | None
    centres: npt.NDArray[np.float64]
    sigma: float
    proj: Any  # (M, r) torch tensor U_r Λ_r^{-1/2}
    phi_reference: Any  # (N_R, r) torch tensor
    hyperparameters: dict[str, Any]

    def fit(self, data: Any, *, reference_weight: Any = None) -> NPLMResult:
        """Fit ``f`` to ``data`` ``(m, d)`` against this reference (weights: as prepared, else
        ``reference_weight``, else ``N(0) = m``)."""
        torch = _torch()
        start = time.perf_counter()
        dat = as_batch("data", data, dim=self.reference.shape[1], min_events=2)
        n_ref = len(self.reference)
        if self.weights is not None and reference_weight is None:
            w = self.weights
        else:
            w = reference_weights(reference_weight, n_ref, len(dat))
        hp = self.hyperparameters
        dev, proj = self.proj.device, self.proj
        phi_d = _features(
            torch.as_tensor(dat, device=dev),
            torch.as_tensor(self.centres, device=dev),
            self.sigma,
            proj,
        )
        penalty = hp["lam"] * (n_ref + len(dat))
        beta, info = newton_fit(
            self.phi_reference,
            torch.as_tensor(w, device=dev),
            phi_d,
            penalty,
            hp["loss"],
            hp["max_iter"],
            hp["tol"],
            f" (sigma = {self.sigma:g}, lam = {hp['lam']:g})",
        )
        f_ref = (self.phi_reference @ beta).cpu().numpy()
        f_dat = (phi_d @ beta).cpu().numpy()
        f_dat.flags.writeable = False
        alpha = (proj @ beta).cpu().numpy()
        return NPLMResult(
            t=extended_t(f_ref, w, f_dat),
            method="kernel",
            f=KernelLogRatio(self.centres, self.sigma, alpha),
            f_data=f_dat,
            n_reference=n_ref,
            n_data=len(dat),
            n_expected=float(np.sum(w)),
            hyperparameters={**hp, "penalty": penalty},
            converged=bool(info["converged"]),
            iterations=int(info["iterations"]),
            convergence={
                k: float(v) for k, v in info.items() if k not in ("converged", "iterations")
            },
            seconds=time.perf_counter() - start,
        )


def prepare_reference(
    reference: Any,
    *,
    reference_weight: Any = None,
    centres: Any = None,
    pool: Any = None,
    sigma: float | None = None,
    sigma_percentile: float = 90.0,
    lam: float = 1e-10,
    loss: str = "nplm",
    max_iter: int = 100,
    tol: float = 1e-9,
    seed: int = 0,
    device: str | None = None,
) -> KernelReference:
    """Centres, σ, the Nyström basis and the reference features, reusable for many data samples.

    Args:
        reference: ``(N_R, d)`` reference events (``(N_R,)`` in 1-D).
        reference_weight: see :func:`nplm_kernel`; ``None`` defers it to each fit (``m/N_R``).
        centres: ``M`` (drawn from ``pool``) or the ``(M, d)`` centres themselves; ``None``:
            ``min(1000, len(pool))``.
        pool: ``(k, d)`` events to draw the centres from (default: the reference).
        sigma, sigma_percentile, lam, loss, max_iter, tol, seed, device: see :func:`nplm_kernel`.
    """
    torch = _torch()
    from precml_widgets.device import default_device

    ref = as_batch("reference", reference, min_events=2)
    loss = require_choice("loss", loss, ("nplm", "logistic"))
    lam = require_real("lam", lam, low=0.0, low_open=True, hint="use e.g. 1e-10 (the paper's λ).")
    max_iter = require_int("max_iter", max_iter, low=1, hint="use e.g. 100.")
    tol = require_real("tol", tol, low=0.0, low_open=True, hint="use e.g. 1e-9.")
    seed = require_seed("seed", seed)
    weights = None if reference_weight is None else reference_weights(reference_weight, len(ref), 1)
    rng = np.random.default_rng(seed)
    src = ref if pool is None else as_batch("pool", pool, dim=ref.shape[1])
    centres_default = centres is None
    if centres_default:
        centres = min(DEFAULT_CENTRES, len(src))
    if np.ndim(centres) == 0:  # a count M (require_int refuses bools and non-integers)
        m = require_int(
            "centres",
            centres,
            low=1,
            high=len(src),
            hint=f"M can be at most the {len(src)} pooled events to draw from.",
        )
        cen = src[rng.choice(len(src), m, replace=False)]
        rule = "uniform without replacement from the pooled sample"
    else:
        cen = as_batch("centres", centres, dim=ref.shape[1], min_events=1)
        rule = "given"
    if sigma is None:
        pct = require_real("sigma_percentile", sigma_percentile, low=0.0, high=100.0, low_open=True)
        sig = choose_sigma(ref, pct, seed)
        sigma_rule = (
            f"{pct:g}th percentile of pairwise distances of <= {SIGMA_EVENTS} reference events"
        )
    else:
        sig = require_real("sigma", sigma, low=0.0, low_open=True, hint="use e.g. 0.3.")
        sigma_rule = "given"
    dev = default_device(device)
    c = torch.as_tensor(cen, device=dev)
    evals, evecs = torch.linalg.eigh(gaussian_kernel(c, c, sig))
    keep = evals > EIGEN_FLOOR * evals[-1]
    proj = evecs[:, keep] / evals[keep].sqrt()
    phi_r = _features(torch.as_tensor(ref, device=dev), c, sig, proj)
    hp = {
        "M": len(cen),
        "M_rule": f"min({DEFAULT_CENTRES}, pooled events)" if centres_default else "given",
        "centres_rule": rule,
        "sigma": sig,
        "sigma_rule": sigma_rule,
        "lam": lam,
        "penalty_rule": "lam * (N_R + m) * alpha^T K_MM alpha",
        "loss": loss,
        "rank": int(keep.sum()),
        "eigen_floor": EIGEN_FLOOR,
        "max_iter": max_iter,
        "tol": tol,
        "solver": "Newton, Cholesky of the rank-r Hessian, backtracking line search",
    }
    return KernelReference(ref, weights, cen, sig, proj, phi_r, hp)


def newton_fit(
    phi_r: torch.Tensor,
    w: torch.Tensor,
    phi_d: torch.Tensor,
    penalty: float,
    loss: str,
    max_iter: int,
    tol: float,
    label: str = "",
) -> tuple[torch.Tensor, dict[str, float]]:
    """Minimise the regularised loss over ``β`` (``f = Φ β``) by damped Newton steps.

    Args:
        phi_r, w, phi_d: reference features ``(N_R, r)``, weights ``(N_R,)``, data features
            ``(m, r)``.
        penalty: ``λ n``; loss, max_iter, tol: see :func:`nplm_kernel`.
        label: the hyperparameters (σ, λ) named in errors.

    Returns:
        ``β`` ``(r,)`` and ``{"converged", "iterations", "decrement", "gradient_norm",
        "objective", "line_search_failed"}``; when no backtracking step decreases the
        objective, ``β`` keeps its last value and the fit is marked not converged.

    Raises:
        InvalidInputError: the gradient or Hessian is not finite (``e^f`` overflows, e.g. at a
            very small σ), or the Hessian is not positive definite even with jitter.
    """
    torch = _torch()
    beta = torch.zeros(phi_r.shape[1], dtype=phi_r.dtype, device=phi_r.device)

    def objective(b: Any) -> Any:
        fr, fd = phi_r @ b, phi_d @ b
        pen = penalty * b.dot(b)
        if loss == "nplm":
            return (w * torch.expm1(fr)).sum() - fd.sum() + pen
        return (
            (w * torch.nn.functional.softplus(fr)).sum()
            + torch.nn.functional.softplus(-fd).sum()
            + pen
        )

    value = objective(beta)
    info: dict[str, float] = {"converged": 0.0, "iterations": 0.0, "line_search_failed": 0.0}
    fix = "increase sigma or lam (or pass fewer, more spread centres)"
    decrement = grad_norm = float("inf")
    for it in range(1, max_iter + 1):
        fr, fd = phi_r @ beta, phi_d @ beta
        if loss == "nplm":
            g_r = h_r = w * torch.exp(fr)
            g_d, h_d = -torch.ones_like(fd), None
        else:
            s_r, s_d = torch.sigmoid(fr), torch.sigmoid(fd)
            g_r, h_r = w * s_r, w * s_r * (1 - s_r)
            g_d, h_d = s_d - 1, s_d * (1 - s_d)
        grad = phi_r.T @ g_r + phi_d.T @ g_d + 2 * penalty * beta
        hess = weighted_gram(phi_r, h_r)
        if h_d is not None:
            hess += weighted_gram(phi_d, h_d)
        hess.diagonal().add_(2 * penalty)
        if not (bool(torch.isfinite(grad).all()) and bool(torch.isfinite(hess).all())):
            raise InvalidInputError(
                f"the kernel NPLM fit{label} has a non-finite gradient or Hessian at Newton "
                f"iteration {it} (exp(f) overflowed): {fix}."
            )
        chol, bad = torch.linalg.cholesky_ex(hess)
        if bad:
            hess.diagonal().add_(1e-10 * hess.diagonal().max())
            chol, bad = torch.linalg.cholesky_ex(hess)
            if bad:
                raise InvalidInputError(
                    f"the kernel NPLM fit{label} has a Hessian that is not positive definite "
                    f"even with jitter at Newton iteration {it}: {fix}."
                )
        step = -torch.cholesky_solve(grad[:, None], chol)[:, 0]
        slope = float(grad.dot(step))
        decrement, grad_norm = -slope, float(grad.norm())
        info["iterations"] = it
        if decrement < tol:
            info["converged"] = 1.0
            break
        size, accepted = 1.0, False
        for _ in range(60):
            trial = objective(beta + size * step)
            if bool(torch.isfinite(trial)) and trial <= value + 1e-4 * size * slope:
                accepted = True
                break
            size *= 0.5
        if not accepted:  # no descent along the Newton direction: keep β, not converged
            info["line_search_failed"] = 1.0
            break
        beta, value = beta + size * step, trial
    info.update(decrement=decrement, gradient_norm=grad_norm, objective=float(value))
    return beta, info


def nplm_kernel(
    reference: Any,
    data: Any,
    *,
    reference_weight: Any = None,
    centres: Any = None,
    sigma: float | None = None,
    sigma_percentile: float = 90.0,
    lam: float = 1e-10,
    loss: str = "nplm",
    max_iter: int = 100,
    tol: float = 1e-9,
    seed: int = 0,
    device: str | None = None,
) -> NPLMResult:
    """Kernel NPLM test of ``data`` against ``reference``.

    Args:
        reference: ``(N_R, d)`` reference events (``(N_R,)`` in 1-D).
        data: ``(m, d)`` data events.
        reference_weight: ``None`` (``N(0) = m``: weight ``m / N_R``), one positive weight
            ``N(0) / N_R``, or ``(N_R,)`` positive per-event weights.
        centres: ``M``, the number of Nyström centres drawn from the pooled sample, or the
            ``(M, d)`` centres; ``None``: ``min(1000, N_R + m)`` (stated in the result's
            ``hyperparameters["M_rule"]``).
        sigma: kernel width σ (units of x); ``None``: the ``sigma_percentile``-th percentile of
            pairwise distances of up to 2000 reference events (arXiv:2204.02317 uses 90).
        sigma_percentile: see ``sigma``.
        lam: λ of the penalty ``λ (N_R + m) αᵀ K_MM α``.
        loss: ``"nplm"`` (the NPLM loss) or ``"logistic"`` (the weighted logistic loss the
            Falkon version of arXiv:2204.02317 minimises).
        max_iter: most Newton iterations.
        tol: stop when the Newton decrement ``−∇ᵀΔ`` is below ``tol`` (loss units).
        seed: seeds the centres and σ's subsample.
        device: torch device (default: CUDA when present).

    Returns:
        An :class:`~precml_widgets.stats.nplm_result.NPLMResult` (``f`` a
        :class:`KernelLogRatio`).

    Raises:
        InvalidInputError: bad samples (NaN, different d, too few events), weights <= 0,
            ``M`` above the pooled sample size, bad hyperparameters, a non-finite Newton
            gradient or Hessian (``e^f`` overflowing: raise σ or λ).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> res = nplm_kernel(rng.exponential(size=2000), rng.exponential(size=200), centres=50)
        >>> res.converged, res.hyperparameters["M"], res.t > 0
        (True, 50, True)
    """
    ref, dat = check_samples(reference, data)
    pool = np.concatenate([ref, dat])
    w = reference_weights(reference_weight, len(ref), len(dat))
    prepared = prepare_reference(
        ref,
        reference_weight=w,
        centres=centres,
        pool=pool,
        sigma=sigma,
        sigma_percentile=sigma_percentile,
        lam=lam,
        loss=loss,
        max_iter=max_iter,
        tol=tol,
        seed=seed,
        device=device,
    )
    return prepared.fit(dat)
