"""Learned ratios ``r(x; C)``: the quadratic classifier and the plain parametrized classifier.

Both output ``f(x; C) = r / (1 + r)``, the probability that an event at ``x`` came from the
sample at ``C`` rather than the Standard Model one when each sample is weighted by its cross
section. The quadratic classifier (S. Chen, A. Glioti, G. Panico, A. Wulzer, arXiv:2007.10356)
builds in the exact structure ``r = 1 + sum_i C_i a_i(x) + sum_{i<=j} C_i C_j b_ij(x)`` and
learns the coefficient functions ``a``, ``b`` (one network output each); the plain
parametrized classifier (P. Baldi et al., arXiv:1601.07913) takes ``C`` as an input and must
learn the dependence on it as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.problem import EFTProblem
from precml_widgets.inference.smeft import WILSON_COEFFICIENTS

__all__ = ["CLASSIFIER_KINDS", "LearnedRatio", "build_network", "pair_products"]

Array = npt.NDArray[np.float64]
#: The two parametrizations: ``"quadratic"`` (arXiv:2007.10356) and ``"plain"`` (C as input).
CLASSIFIER_KINDS: tuple[str, ...] = ("quadratic", "plain")
# Floor of a learned ratio (the exact one is > 0): keeps f = r / (1 + r) and ln r finite.
_R_FLOOR = 1e-6
# Coefficient vectors evaluated per network call by the plain classifier.
_CHUNK = 64


def pair_products(c: Array) -> Array:
    """``C_i C_j`` for ``i <= j``, shape ``(..., dim (dim + 1) / 2)`` (row-major pairs)."""
    i, j = np.triu_indices(c.shape[-1])
    return c[..., i] * c[..., j]


def build_network(kind: Literal["quadratic", "plain"], dim: int, hidden: int) -> object:
    """The torch MLP of a ``kind`` classifier over ``dim`` free coefficients.

    Quadratic: 2 inputs (standardised m, cos theta) to ``dim + dim (dim + 1) / 2``
    coefficient functions; plain: ``2 + dim`` inputs (features and scaled C) to one logit.
    Three hidden layers of ``hidden`` SiLU units.
    """
    torch = require("torch", "inference", "the SMEFT classifiers")
    n_in = 2 if kind == "quadratic" else 2 + dim
    n_out = dim + dim * (dim + 1) // 2 if kind == "quadratic" else 1
    layers: list[object] = []
    width = n_in
    for _ in range(3):
        layers += [torch.nn.Linear(width, hidden), torch.nn.SiLU()]
        width = hidden
    layers.append(torch.nn.Linear(width, n_out))
    return torch.nn.Sequential(*layers)


@dataclass(frozen=True, eq=False)
class LearnedRatio:
    """A trained classifier seen as a :class:`~precml_widgets.inference.RatioModel`.

    Attributes:
        kind: ``"quadratic"`` or ``"plain"``.
        problem: the :class:`EFTProblem` it was trained on (free coefficients and box).
        network: the torch module (eval mode, CPU).
        feature_shift: subtracted from (m in GeV, cos theta) before the network.
        feature_scale: then divided by this.
        n_train_events: events it was trained on (both classes, all points).
        train_seconds: wall time of its training, s.
    """

    kind: str
    problem: EFTProblem
    network: object
    feature_shift: tuple[float, float]
    feature_scale: tuple[float, float]
    n_train_events: int
    train_seconds: float

    def standardise(self, features: Array) -> Array:
        """Network inputs from features (n, 2) in physics units."""
        return (features - np.asarray(self.feature_shift)) / np.asarray(self.feature_scale)

    def coefficient_scale(self) -> Array:
        """Half-width of the box per free coefficient: the plain network sees ``C / scale``."""
        return np.maximum(np.abs(self.problem.lower), np.abs(self.problem.upper))

    def coefficient_functions(self, features: Array) -> tuple[Array, Array]:
        """Quadratic kind only: ``a`` (n, dim) and ``b`` (n, dim (dim + 1) / 2) at ``features``."""
        if self.kind != "quadratic":
            raise TypeError("coefficient_functions exists for the quadratic classifier only.")
        out = self._forward(self.standardise(features))
        return out[:, : self.problem.dim], out[:, self.problem.dim :]

    def _forward(self, inputs: Array) -> Array:
        torch = require("torch", "inference", "the SMEFT classifiers")
        with torch.no_grad():
            t = torch.as_tensor(inputs, dtype=torch.float32)
            return self.network(t).double().numpy()  # type: ignore[operator]

    def __call__(self, features: Array, coefficients: Array) -> Array:
        """``r(x; C)`` for features (n, 2) and full coefficient vectors (m, 4): (m, n).

        Raises:
            InvalidInputError: non-finite features or coefficients, a free part outside the
                box (beyond a rounding tolerance of 1e-9 of its width: the network was never
                trained there), or a nonzero coefficient that is not free (the network
                cannot see it; :class:`~precml_widgets.inference.ExactRatio` would use it).
        """
        features = np.asarray(features, dtype=np.float64)
        c = np.atleast_2d(np.asarray(coefficients, dtype=np.float64))
        if features.ndim != 2 or features.shape[1] != 2 or not np.all(np.isfinite(features)):
            raise InvalidInputError(
                f"features must be an (n, 2) array of finite (m in GeV, cos theta), got shape "
                f"{features.shape} with {int(np.size(features) - np.isfinite(features).sum())} "
                "NaN or infinite entries; drop or repair those events."
            )
        if c.ndim != 2 or c.shape[1] != len(WILSON_COEFFICIENTS) or not np.all(np.isfinite(c)):
            raise InvalidInputError(
                f"coefficients must be finite full vectors (m, {len(WILSON_COEFFICIENTS)}) "
                f"{WILSON_COEFFICIENTS}, got shape {c.shape}; pass problem.full(free_values)."
            )
        fixed = np.ones(c.shape[1], dtype=bool)
        fixed[self.problem.columns] = False
        if np.any(c[:, fixed] != 0.0):
            names = [n for n, f in zip(WILSON_COEFFICIENTS, fixed, strict=True) if f]
            raise InvalidInputError(
                f"coefficients {names} are not free in this model (trained on "
                f"{self.problem.free} with the others at 0) but some are nonzero; the network "
                "cannot see them and would drop them silently: set them to 0, or train a "
                "model with them free."
            )
        free = c[:, self.problem.columns]
        slack = 1e-9 * (self.problem.upper - self.problem.lower)
        outside = np.any(
            (free < self.problem.lower - slack) | (free > self.problem.upper + slack), axis=1
        )
        if np.any(outside):
            first = free[np.argmax(outside)]
            raise InvalidInputError(
                f"{int(outside.sum())} coefficient vectors lie outside the box "
                f"{self.problem.low} to {self.problem.high} this {self.kind} classifier was "
                f"trained on, e.g. {dict(zip(self.problem.free, first.tolist(), strict=True))}; "
                "a learned ratio is not extrapolated: stay inside the box, or retrain on a "
                "wider one."
            )
        x = self.standardise(features)
        if self.kind == "quadratic":
            a, b = self.coefficient_functions(features)
            r = 1.0 + free @ a.T + pair_products(free) @ b.T
            return np.maximum(r, _R_FLOOR)
        scaled = free / self.coefficient_scale()
        out = np.empty((free.shape[0], x.shape[0]))
        for start in range(0, free.shape[0], _CHUNK):
            block = scaled[start : start + _CHUNK]
            inputs = np.concatenate(
                [
                    np.broadcast_to(x, (block.shape[0], *x.shape)),
                    np.broadcast_to(
                        block[:, None, :], (block.shape[0], x.shape[0], block.shape[1])
                    ),
                ],
                axis=-1,
            ).reshape(-1, x.shape[1] + block.shape[1])
            logit = self._forward(inputs).reshape(block.shape[0], x.shape[0])
            out[start : start + block.shape[0]] = np.exp(np.clip(logit, -30.0, 30.0))
        return out
