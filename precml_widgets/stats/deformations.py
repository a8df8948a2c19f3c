"""Reference models and their one-parameter deformations, as in "Refereeing the Referees".

Two reference families of arXiv:2409.16336, in d = 5, 20 and 100 dimensions:

- ``"mog"``: a mixture of q Gaussians with diagonal covariances (q = 3, 5, 10 for d = 5, 20,
  100), means uniform in [-5, 5], standard deviations uniform in [0, 1), weights uniform and
  normalised (:class:`GaussianMixture`);
- ``"cg"``: a correlated Gaussian whose covariance is the covariance of that mixture and whose
  mean is drawn uniformly in [-5, 5] (:class:`CorrelatedGaussian`).

Their parameters are the authors' numbers: :func:`reference_model` loads them from
``grossi2024_reference_models.json`` (shipped beside this module, with its provenance: the
authors draw them at run time with TensorFlow's RNG; they were regenerated once from the
authors' code at a pinned commit and checked against the samples their notebooks print).

Seven deformations of size ε >= 0 (the authors' names; ε = 0 is the reference itself), with
``u`` the authors' uniform [0, 1) draw of length d (:func:`deformation_direction`) and ``m``
the reference mean:

===================  ==========================================================================
``mean``             x -> x + ε (2u - 1)
``cov_diag``         x -> m + (1 + ε u) (x - m)  (each variance grows by (1 + ε u_i)^2)
``cov_off_diag``     in each sample of n events, floor(n min(ε, 1)) events chosen at random
                     have every feature permuted independently among them: the marginals are
                     unchanged and the correlations shrink by (1 - ε); for ε > 1, first
                     ``cov_diag`` with ε - 1
``power_abs_up``     ``x -> sign(x) |x|^(1 + ε)``, per feature
``power_abs_down``   ``x -> sign(x) |x|^(1 - ε)``, per feature (ε < 1)
``random_normal``    x -> x + ε z, z ~ N(0, 1) per feature
``random_uniform``   x -> x + ε w, w ~ U(-1, 1) per feature
===================  ==========================================================================

Every model and deformed model is a small frozen, picklable object with ``dim``,
``sample(n, rng) -> (n, d)`` (so it runs on Dask workers through
:func:`precml_widgets.stats.suite.toy_distribution`) and, where the density is known,
``log_prob(x) -> (...)`` (the reference models; ``mean``, ``cov_diag`` and both ``power``
deformations).

References:
    S. Grossi, M. Letizia, R. Torre, "Refereeing the Referees: Evaluating Two-Sample Tests
    for Validating Generators in Precision Sciences", arXiv:2409.16336; code:
    github.com/TwoSampleTests/GMetrics (more/MixtureDistributions.py, more/deformations.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from scipy import stats

from precml_widgets._checks import require_array, require_choice, require_int, require_real
from precml_widgets.errors import InvalidInputError

__all__ = [
    "DEFORMATIONS",
    "EXACT_KINDS",
    "PAPER_DIMS",
    "CorrelatedGaussian",
    "Deformed",
    "GaussianMixture",
    "Model",
    "deformation_direction",
    "deformed",
    "reference_model",
]

#: The deformation kinds of arXiv:2409.16336, in the order of its tables.
DEFORMATIONS = (
    "mean",
    "cov_diag",
    "cov_off_diag",
    "power_abs_up",
    "power_abs_down",
    "random_normal",
    "random_uniform",
)

#: The deformations whose density is known in closed form (:meth:`Deformed.log_prob`); the
#: others (``cov_off_diag``, the random-noise kinds) have none.
EXACT_KINDS = ("mean", "cov_diag", "power_abs_up", "power_abs_down")

#: The dimensions whose reference parameters the paper uses (and this package ships).
PAPER_DIMS = (5, 20, 100)

_PARAMETERS_FILE = "grossi2024_reference_models.json"

Array = npt.NDArray[np.float64]


class Model(Protocol):
    """What a reference model offers: ``dim`` and ``sample(n, rng) -> (n, dim)``."""

    @property
    def dim(self) -> int: ...

    def sample(self, n: int, rng: np.random.Generator) -> Array: ...


def _frozen(array: Any) -> Array:
    out = np.array(array, dtype=np.float64)
    out.flags.writeable = False
    return out


def _like(values: Array, x: Any) -> Any:
    """``values`` as a torch tensor on ``x``'s device and dtype when ``x`` is one."""
    if hasattr(x, "detach"):
        import torch

        return torch.as_tensor(values, dtype=x.dtype, device=x.device)
    return values


def _events(x: Any, dim: int) -> Array:
    """``x`` as a float64 array whose last axis has ``dim`` features."""
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    array = require_array("x", x)
    if array.ndim == 0 or array.shape[-1] != dim:
        raise InvalidInputError(
            f"x must be events with {dim} features on its last axis, got shape {array.shape}."
        )
    return array


@dataclass(frozen=True, eq=False)
class CorrelatedGaussian:
    """A multivariate normal N(mean, covariance).

    Attributes:
        mean: ``(d,)`` mean.
        covariance: ``(d, d)`` symmetric positive-definite covariance.

    Example:
        >>> g = CorrelatedGaussian(np.zeros(2), np.eye(2))
        >>> g.sample(3, np.random.default_rng(0)).shape
        (3, 2)
        >>> round(float(g.log_prob(np.zeros(2))), 4)  # -log(2 pi)
        -1.8379
    """

    mean: Array
    covariance: Array
    _tril: Array = field(init=False, repr=False)

    def __post_init__(self) -> None:
        mean = _frozen(require_array("mean", self.mean, ndim=1))
        cov = require_array("covariance", self.covariance, ndim=2)
        if cov.shape != (mean.size, mean.size) or not np.allclose(cov, cov.T):
            raise InvalidInputError(
                f"covariance must be a symmetric ({mean.size}, {mean.size}) matrix, got shape "
                f"{cov.shape}."
            )
        try:
            tril = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError as exc:
            raise InvalidInputError("covariance must be positive definite.") from exc
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "covariance", _frozen(cov))
        object.__setattr__(self, "_tril", _frozen(tril))

    @property
    def dim(self) -> int:
        """Number of features d."""
        return int(self.mean.size)

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        """``n`` events, shape ``(n, d)``."""
        return self.mean + rng.standard_normal((n, self.dim)) @ self._tril.T

    def log_prob(self, x: Any) -> Array:
        """Log density at events ``x`` ``(..., d)`` (NumPy or torch) -> ``(...)``, same kind."""
        events = _events(x, self.dim)
        values = stats.multivariate_normal(self.mean, self.covariance).logpdf(events)
        return _like(np.reshape(values, events.shape[:-1]).astype(np.float64), x)

    def mean_vector(self) -> Array:
        """The mean, ``(d,)``."""
        return self.mean

    def covariance_matrix(self) -> Array:
        """The covariance, ``(d, d)``."""
        return self.covariance


@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """A mixture of Gaussians with diagonal covariances.

    Attributes:
        weights: ``(q,)`` component weights (normalised to sum 1).
        means: ``(q, d)`` component means.
        scales: ``(q, d)`` component standard deviations (> 0).

    Example:
        >>> mix = GaussianMixture([0.5, 0.5], [[-1.0], [1.0]], [[1.0], [1.0]])
        >>> float(mix.covariance_matrix()[0, 0])  # 1 + 1 (spread of the means)
        2.0
    """

    weights: Array
    means: Array
    scales: Array

    def __post_init__(self) -> None:
        weights = require_array("weights", self.weights, ndim=1)
        means = require_array("means", self.means, ndim=2)
        scales = require_array("scales", self.scales, ndim=2)
        if means.shape[0] != weights.size or scales.shape != means.shape:
            raise InvalidInputError(
                f"means and scales must both have shape (q, d) with q = {weights.size} "
                f"weights, got {means.shape} and {scales.shape}."
            )
        if np.any(weights < 0) or weights.sum() <= 0 or np.any(scales <= 0):
            raise InvalidInputError("weights must be >= 0 (not all 0) and scales > 0.")
        object.__setattr__(self, "weights", _frozen(weights / weights.sum()))
        object.__setattr__(self, "means", _frozen(means))
        object.__setattr__(self, "scales", _frozen(scales))

    @property
    def dim(self) -> int:
        """Number of features d."""
        return int(self.means.shape[1])

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        """``n`` events, shape ``(n, d)``."""
        component = rng.choice(self.weights.size, size=n, p=self.weights)
        noise = rng.standard_normal((n, self.dim))
        return self.means[component] + self.scales[component] * noise

    def log_prob(self, x: Any) -> Array:
        """Log density at events ``x`` ``(..., d)`` (NumPy or torch) -> ``(...)``, same kind."""
        xs = _events(x, self.dim)
        # One component at a time with a running log-sum-exp: the memory is a few copies of
        # x, not q of them (the LR statistic passes all toys at once, (T, m, d)).
        with np.errstate(divide="ignore"):  # a zero weight contributes log 0 = -inf
            log_weights = np.log(self.weights)
        offsets = log_weights - np.log(self.scales).sum(-1) - 0.5 * self.dim * np.log(2 * np.pi)
        values = np.full(xs.shape[:-1], -np.inf)
        for mean, scale, offset in zip(self.means, self.scales, offsets, strict=True):
            z = xs - mean
            z /= scale
            z *= z
            np.logaddexp(values, offset - 0.5 * z.sum(-1), out=values)
        return _like(values, x)

    def mean_vector(self) -> Array:
        """The mixture mean, ``(d,)``."""
        return self.weights @ self.means

    def covariance_matrix(self) -> Array:
        """The mixture covariance ``sum_k w_k (diag(s_k^2) + (mu_k - m)(mu_k - m)^T)``."""
        centred = self.means - self.mean_vector()
        spread = (self.weights[:, None] * centred).T @ centred
        return np.diag(self.weights @ self.scales**2) + spread


@lru_cache(maxsize=1)
def _paper_parameters() -> dict[str, Any]:
    text = resources.files("precml_widgets.stats").joinpath(_PARAMETERS_FILE).read_text()
    return json.loads(text)["models"]


def _paper_dim(dim: object) -> dict[str, Any]:
    dim = require_int("dim", dim, low=1)
    if dim not in PAPER_DIMS:
        raise InvalidInputError(
            f"dim must be one of {', '.join(map(str, PAPER_DIMS))} (the paper's reference "
            f"models), got {dim}; build a CorrelatedGaussian or GaussianMixture for another d."
        )
    return _paper_parameters()[str(dim)]


def reference_model(
    family: Literal["cg", "mog"], dim: Literal[5, 20, 100]
) -> CorrelatedGaussian | GaussianMixture:
    """The paper's reference model of that family and dimension, with the authors' numbers.

    Args:
        family: ``"cg"`` (correlated Gaussian) or ``"mog"`` (mixture of Gaussians).
        dim: 5, 20 or 100.

    Example:
        >>> model = reference_model("cg", 5)
        >>> model.dim, [round(float(v), 4) for v in model.mean[:2]]
        (5, [-1.642, -2.1687])
    """
    family = require_choice("family", family, ("cg", "mog"))
    params = _paper_dim(dim)
    mixture = GaussianMixture(params["weights"], params["means"], params["scales"])
    if family == "mog":
        return mixture
    return CorrelatedGaussian(np.asarray(params["cg_mean"]), mixture.covariance_matrix())


def deformation_direction(dim: int) -> Array:
    """The authors' uniform [0, 1) draw ``u`` of length ``dim`` behind ``mean`` and ``cov_diag``.

    The mean shift is ``ε (2u - 1)`` and the diagonal scale ``1 + ε u``.
    """
    return _frozen(_paper_dim(dim)["u"])


@dataclass(frozen=True, eq=False)
class Deformed:
    """A reference model deformed by one of :data:`DEFORMATIONS` with size ``epsilon``.

    Attributes:
        reference: the undeformed model.
        kind: the deformation (see the module docstring).
        epsilon: its size ε >= 0.
        u: ``(d,)`` the uniform draw fixing the direction of ``mean`` and ``cov_diag``.
    """

    reference: Any
    kind: str
    epsilon: float
    u: Array

    def __post_init__(self) -> None:
        require_choice("kind", self.kind, DEFORMATIONS)

    @property
    def dim(self) -> int:
        """Number of features d."""
        return int(self.reference.dim)

    def _centre(self) -> Array:
        if not hasattr(self.reference, "mean_vector"):
            raise InvalidInputError(
                f"deformation {self.kind!r} scales about the reference mean: the model needs a "
                "mean_vector() method (CorrelatedGaussian and GaussianMixture have one)."
            )
        return np.asarray(self.reference.mean_vector(), dtype=np.float64)

    def _scale(self, eps: float) -> Array:
        return 1.0 + eps * self.u

    def _power(self) -> float:
        return 1.0 + self.epsilon if self.kind == "power_abs_up" else 1.0 - self.epsilon

    def transform(self, x: Array, rng: np.random.Generator) -> Array:
        """Deform reference events ``x`` of shape ``(n, d)`` (``rng`` for the random kinds)."""
        eps, kind = self.epsilon, self.kind
        if kind == "mean":
            return x + eps * (2.0 * self.u - 1.0)
        if kind == "cov_diag":
            centre = self._centre()
            return centre + self._scale(eps) * (x - centre)
        if kind == "cov_off_diag":
            return self._shuffle(x, rng)
        if kind in ("power_abs_up", "power_abs_down"):
            return np.sign(x) * np.abs(x) ** self._power()
        if kind == "random_normal":
            return x + eps * rng.standard_normal(x.shape)
        return x + eps * rng.uniform(-1.0, 1.0, x.shape)  # random_uniform

    def _shuffle(self, x: Array, rng: np.random.Generator) -> Array:
        out = np.array(x, dtype=np.float64)
        if self.epsilon > 1.0:
            centre = self._centre()
            out = centre + self._scale(self.epsilon - 1.0) * (out - centre)
        # Fixed-size draws whatever ε (common random numbers across ε): the events with the
        # ``count`` smallest keys are chosen (nested as ε grows), and each feature is permuted
        # among them in the order of its own keys (uniform keys give uniform permutations).
        chosen_keys = rng.random(len(out))
        feature_keys = rng.random(out.shape)
        count = int(np.floor(len(out) * min(self.epsilon, 1.0)))
        if count < 2:
            return out
        chosen = np.argsort(chosen_keys)[:count]
        order = np.argsort(feature_keys[chosen], axis=0)  # (count, d)
        out[chosen] = np.take_along_axis(out[chosen], order, axis=0)
        return out

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        """``n`` deformed events, shape ``(n, d)``."""
        return self.transform(np.asarray(self.reference.sample(n, rng), np.float64), rng)

    def log_prob(self, x: Any) -> Array:
        """Log density of the deformed model at ``x`` ``(..., d)`` -> ``(...)`` (NumPy or torch,
        returned as the same kind).

        Raises:
            InvalidInputError: for ``cov_off_diag`` and the random-noise kinds (no closed
                form), or a reference without ``log_prob``.
        """
        if self.kind not in EXACT_KINDS:
            raise InvalidInputError(
                f"deformation {self.kind!r} has no closed-form density; log_prob exists for "
                f"{', '.join(EXACT_KINDS)}."
            )
        if not hasattr(self.reference, "log_prob"):
            raise InvalidInputError("the reference model has no log_prob method.")
        y = _events(x, self.dim)
        if self.kind == "mean":
            values = self.reference.log_prob(y - self.epsilon * (2.0 * self.u - 1.0))
        elif self.kind == "cov_diag":
            centre, scale = self._centre(), self._scale(self.epsilon)
            values = self.reference.log_prob(centre + (y - centre) / scale) - np.log(scale).sum()
        else:
            power = self._power()
            with np.errstate(divide="ignore"):
                x_ref = np.sign(y) * np.abs(y) ** (1.0 / power)
                jacobian = np.log(power) + (power - 1.0) * np.log(np.abs(x_ref))
            values = self.reference.log_prob(x_ref) - jacobian.sum(-1)
        return _like(np.asarray(values, dtype=np.float64), x)


def deformed(model: Any, kind: str, epsilon: float, *, u: Any = None) -> Deformed:
    """``model`` deformed by ``kind`` with size ``epsilon`` (ε = 0: the reference itself).

    Args:
        model: a reference model (``dim``, ``sample``; ``mean_vector`` for the covariance
            kinds; ``log_prob`` for a deformed density).
        kind: one of :data:`DEFORMATIONS`.
        epsilon: ε >= 0 (``power_abs_down``: ε < 1).
        u: ``(d,)`` values in [0, 1] fixing the ``mean`` / ``cov_diag`` direction; default the
            authors' draw (:func:`deformation_direction`), which exists for d = 5, 20, 100.

    Example:
        >>> shifted = deformed(reference_model("cg", 5), "mean", 0.1)
        >>> [round(float(v), 4) for v in 0.1 * (2 * shifted.u[:2] - 1)]
        [-0.0328, -0.0434]
    """
    kind = require_choice("kind", kind, DEFORMATIONS)
    high = 1.0 if kind == "power_abs_down" else None
    epsilon = require_real(
        "epsilon",
        epsilon,
        low=0.0,
        high=high,
        high_open=high is not None,
        hint="ε is the size of the deformation (0 = the reference)"
        + ("; power_abs_down needs ε < 1 (power 1 - ε > 0)." if high else "."),
    )
    dim = require_int("model.dim", getattr(model, "dim", None), low=1)
    if u is None:
        if dim not in PAPER_DIMS:
            raise InvalidInputError(
                f"u must be given for a model with d = {dim}: the authors' direction exists "
                f"for d in {PAPER_DIMS}; pass e.g. u=np.random.default_rng(0).uniform(size={dim})."
            )
        u = deformation_direction(dim)
    direction = require_array("u", u, ndim=1)
    if direction.size != dim or np.any((direction < 0) | (direction > 1)):
        raise InvalidInputError(
            f"u must be {dim} numbers in [0, 1] (one per feature), got shape {direction.shape}."
        )
    return Deformed(model, kind, epsilon, _frozen(direction))
