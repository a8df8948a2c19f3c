"""Active subspaces of a model's score: the directions along which it changes most.

C = E[∇f ∇fᵀ] is estimated over a data sample, with gradients taken with respect to the
standardised features z = (x - mean) / scale (the scaling is recorded), so that directions
do not depend on the features' units. Its eigenvalues come with bootstrap bands (resampling
the per-event outer products, vectorised), the leading subspace with the bootstrap spread of
its principal angle, and each feature gets its activity score.

References:
    Constantine, "Active Subspaces: Emerging Ideas for Dimension Reduction in Parameter
    Studies", SIAM (2015); Constantine, Dow & Wang, arXiv:1304.2070.
    Constantine & Diaz, "Global sensitivity metrics from active subspaces" (activity scores),
    arXiv:1510.04361.
    Chakravarti, Kuusela, Lei & Wasserman, "Model-Independent Detection of New Physics Signals
    Using Interpretable Semi-Supervised Classifier Tests", arXiv:2102.07679.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_choice, require_int, require_real, require_seed
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.interpret.adapter import ScoredModel

__all__ = ["ActiveSubspace", "active_subspace", "standardised_gradients"]

GradientMethod = Literal["autograd", "finite_difference"]
#: Events per resample block, so the count matrix stays near 160 MB at most.
_BLOCK_CELLS = 20_000_000


@dataclass(frozen=True)
class ActiveSubspace:
    """The active subspace of a score over a data sample.

    Attributes:
        eigenvalues: eigenvalues of C in decreasing order, shape (d,), in (score units)².
        eigenvectors: the matching unit eigenvectors as columns, shape (d, d), in the
            standardised features z (loadings per feature).
        directions_physical: the same directions in the physics features x (column j is
            ``eigenvectors[:, j] / scale``, normalised), shape (d, d).
        eigenvalue_bands: lower and upper bootstrap percentiles of each eigenvalue at
            ``band_level``, shape (2, d).
        band_level: the central probability of the bands (e.g. 0.95).
        bootstrap_eigenvalues: the eigenvalues of every resample, shape (n_bootstrap, d).
        n_active: the dimension k of the leading subspace (angles, activity scores).
        subspace_angles: the largest principal angle between the leading k-dimensional
            subspace and each resample's, radians, shape (n_bootstrap,).
        activity_scores: Constantine & Diaz's sum_{j<k} λ_j w_ij² per feature, shape (d,).
        projection: the sample projected on the first two directions (z @ W[:, :2]), (n, 2).
        mean, scale: the standardisation z = (x - mean) / scale, shapes (d,), feature units.
        gradient_method: ``"autograd"`` or ``"finite_difference"``.
        step: the central-difference step in standardised units (0.0 for autograd).
        n_bootstrap, seed: the bootstrap's size and seed.
        feature_names, units, model_name: the model's labels.
    """

    eigenvalues: npt.NDArray[np.float64]
    eigenvectors: npt.NDArray[np.float64]
    directions_physical: npt.NDArray[np.float64]
    eigenvalue_bands: npt.NDArray[np.float64]
    band_level: float
    bootstrap_eigenvalues: npt.NDArray[np.float64]
    n_active: int
    subspace_angles: npt.NDArray[np.float64]
    activity_scores: npt.NDArray[np.float64]
    projection: npt.NDArray[np.float64]
    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    gradient_method: str
    step: float
    n_bootstrap: int
    seed: int
    feature_names: tuple[str, ...]
    units: tuple[str, ...]
    model_name: str

    def separated(self, j: int) -> bool:
        """Whether the bands of eigenvalues j and j + 1 (0-based) do not overlap."""
        j = require_int("j", j, low=0, high=len(self.eigenvalues) - 2)
        return bool(self.eigenvalue_bands[0, j] > self.eigenvalue_bands[1, j + 1])

    def angle_spread(self, level: float = 0.95) -> float:
        """The ``level`` quantile of the bootstrap subspace angles, radians."""
        level = require_real("level", level, low=0.0, high=1.0)
        return float(np.quantile(self.subspace_angles, level))


def standardised_gradients(
    model: ScoredModel,
    x: npt.NDArray[np.float64],
    mean: npt.NDArray[np.float64],
    scale: npt.NDArray[np.float64],
    *,
    method: GradientMethod = "autograd",
    step: float = 1e-3,
    batch_size: int = 8192,
) -> npt.NDArray[np.float64]:
    """∂f/∂z for each event, shape (n, d), float64, with z = (x - mean) / scale.

    ``"autograd"`` differentiates a torch module; ``"finite_difference"`` takes central
    differences (f(z + h e_i) - f(z - h e_i)) / 2h with h = ``step`` in standardised units
    (2 d model calls per event, one batch per feature), for any model.

    Raises:
        InvalidInputError: ``"autograd"`` for a plain callable (the message offers finite
            differences), a non-positive step.
    """
    if method == "finite_difference":
        h = require_real("step", step, low=0.0, low_open=True, hint="e.g. step=1e-3 (units of σ).")
        n, d = x.shape
        grads = np.empty((n, d))
        for i in range(d):
            shift = np.zeros(d)
            shift[i] = h * scale[i]
            both = model.score(np.concatenate([x + shift, x - shift]))
            grads[:, i] = (both[:n] - both[n:]) / (2.0 * h)
        return grads
    if not model.differentiable:
        raise InvalidInputError(
            f"model {model.name!r} is a plain callable (e.g. a firmware emulation): it has no "
            "autograd gradient, and a zero gradient would be silently wrong; pass "
            "gradient='finite_difference' with a stated step (e.g. step=0.05 in units of each "
            "feature's standard deviation, larger than the model's output quantum)."
        )
    torch = require("torch", "interpret", "active subspaces")
    model.check_eval_mode()
    out = np.empty(x.shape)
    mean_t, scale_t = model.to_tensor(mean), model.to_tensor(scale)
    for start in range(0, x.shape[0], batch_size):
        z = model.to_tensor((x[start : start + batch_size] - mean) / scale).requires_grad_(True)
        f = model.torch_score(mean_t + scale_t * z)
        (grad,) = torch.autograd.grad(f.sum(), z)
        out[start : start + batch_size] = grad.detach().double().cpu().numpy()
    return out


def _fix_signs(vectors: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Flip each column so its largest-magnitude component is positive."""
    rows = np.argmax(np.abs(vectors), axis=0)
    return vectors * np.sign(vectors[rows, np.arange(vectors.shape[1])])


def _bootstrap_eigen(
    products: npt.NDArray[np.float64], n_bootstrap: int, seed: int, d: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Eigen-decompositions of C over resamples: (B, d) eigenvalues, (B, d, d) eigenvectors."""
    n = products.shape[0]
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_CELLS // n)
    covs = np.empty((n_bootstrap, d * d))
    for start in range(0, n_bootstrap, block):
        b = min(block, n_bootstrap - start)
        draws = rng.integers(0, n, size=(b, n))
        flat = (draws + n * np.arange(b)[:, None]).ravel()
        counts = np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)
        covs[start : start + b] = counts @ products / n
    values, vectors = np.linalg.eigh(covs.reshape(n_bootstrap, d, d))
    return values[:, ::-1], vectors[:, :, ::-1]


def active_subspace(
    model: ScoredModel,
    x: object,
    *,
    gradient: GradientMethod = "autograd",
    step: float = 1e-3,
    n_bootstrap: int = 200,
    n_active: int = 2,
    band_level: float = 0.95,
    seed: int = 0,
) -> ActiveSubspace:
    """The active subspace of ``model``'s score over the sample ``x`` (n, d).

    Args:
        model: the adapted model; a plain callable needs ``gradient="finite_difference"``.
        x: the data sample, shape (n, d), n >= 10, in the model's feature units.
        gradient: ``"autograd"`` (torch modules) or ``"finite_difference"`` (central).
        step: the finite-difference step, in units of each feature's standard deviation.
        n_bootstrap: resamples for the bands and angles (>= 200).
        n_active: the leading subspace's dimension k (angles, activity scores).
        band_level: central probability of the eigenvalue bands.
        seed: seeds the bootstrap.

    Returns:
        an :class:`ActiveSubspace`.

    Raises:
        InvalidInputError: NaN/inf or a wrong shape in ``x``, a constant feature, fewer than
            10 events, ``"autograd"`` on a plain callable (use finite differences), fewer than
            200 resamples.

    Example:
        >>> import numpy as np
        >>> m = ScoredModel(lambda x: np.sin(x @ np.array([3.0, 4.0, 0.0]) / 5), ("a", "b", "c"))
        >>> x = np.random.default_rng(0).normal(size=(500, 3))
        >>> s = active_subspace(m, x, gradient="finite_difference", step=1e-4)
        >>> np.round(np.abs(s.directions_physical[:, 0]), 2).tolist(), s.separated(0)
        ([0.6, 0.8, 0.0], True)
    """
    table = model.features(x)
    n, d = table.shape
    if n < 10 or d < 2:
        raise InvalidInputError(
            f"x must hold at least 10 events of at least 2 features, got shape {table.shape}; "
            "pass a larger sample (typically 1e4 events)."
        )
    require_choice("gradient", gradient, ("autograd", "finite_difference"))
    n_bootstrap = require_int("n_bootstrap", n_bootstrap, low=200, hint="e.g. 200 or 1000.")
    n_active = require_int("n_active", n_active, low=1, high=d)
    band_level = require_real(
        "band_level", band_level, low=0.0, high=1.0, low_open=True, high_open=True
    )
    seed = require_seed("seed", seed)
    mean, scale = table.mean(axis=0), table.std(axis=0)
    if np.any(scale <= 0):
        flat = [model.feature_names[i] for i in np.flatnonzero(scale <= 0)]
        raise InvalidInputError(
            f"x has constant feature(s) {flat}: they cannot be standardised; drop them or "
            "use a sample where they vary."
        )
    grads = standardised_gradients(model, table, mean, scale, method=gradient, step=step)
    cov = grads.T @ grads / n
    values, vectors = np.linalg.eigh(cov)
    values, vectors = values[::-1].copy(), _fix_signs(vectors[:, ::-1])
    products = (grads[:, :, None] * grads[:, None, :]).reshape(n, d * d)
    boot_values, boot_vectors = _bootstrap_eigen(products, n_bootstrap, seed, d)
    tail = (1.0 - band_level) / 2.0
    bands = np.quantile(boot_values, [tail, 1.0 - tail], axis=0)
    overlap = np.einsum("ik,bil->bkl", vectors[:, :n_active], boot_vectors[:, :, :n_active])
    cosines = np.linalg.svd(overlap, compute_uv=False)[:, -1]
    angles = np.arccos(np.clip(cosines, 0.0, 1.0))
    activity = (vectors[:, :n_active] ** 2) @ values[:n_active]
    physical = vectors / scale[:, None]
    physical = physical / np.linalg.norm(physical, axis=0)
    return ActiveSubspace(
        eigenvalues=values,
        eigenvectors=vectors,
        directions_physical=physical,
        eigenvalue_bands=bands,
        band_level=band_level,
        bootstrap_eigenvalues=boot_values,
        n_active=n_active,
        subspace_angles=angles,
        activity_scores=activity,
        projection=((table - mean) / scale) @ vectors[:, :2],
        mean=mean,
        scale=scale,
        gradient_method=gradient,
        step=float(step) if gradient == "finite_difference" else 0.0,
        n_bootstrap=n_bootstrap,
        seed=seed,
        feature_names=model.feature_names,
        units=model.units,
        model_name=model.name,
    )
