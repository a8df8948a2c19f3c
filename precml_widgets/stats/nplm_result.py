"""The result of an NPLM fit and the pieces the kernel and neural versions share.

NPLM (New Physics Learning Machine) fits ``f(x) = log n(x|alt) / n(x|ref)`` on a reference
sample R (event weights ``w``, ``Σ w = N(0)``, the expected data count) and a data sample D
by minimising the NPLM loss

``L[f] = Σ_{x∈R} w(x) (e^{f(x)} − 1) − Σ_{x∈D} f(x)``

and reports ``t = −2 L[f̂]`` (the extended log-likelihood ratio at the fitted ``f̂``).

References:
    R. T. D'Agnolo, A. Wulzer, "Learning New Physics from a Machine", arXiv:1806.02350.
    R. T. D'Agnolo et al., "Learning multivariate new physics", arXiv:1912.12155.
    M. Letizia et al., "Learning new physics efficiently with nonparametric methods",
    arXiv:2204.02317.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_array
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.suite import as_batch

__all__ = ["NPLMResult", "check_samples", "extended_t", "reference_weights"]


@dataclass(frozen=True)
class NPLMResult:
    """One NPLM fit: the test statistic, the learned log-ratio and every hyperparameter.

    Attributes:
        t: the test statistic ``t = 2 [Σ_D f − Σ_R w (e^f − 1)]`` at the fitted ``f``.
        method: ``"kernel"`` or ``"neural"``.
        f: the learned log density ratio ``log n(x|data)/n(x|ref)``: a callable taking events
            ``(k, d)`` (or ``(k,)`` in 1-D) and returning ``(k,)`` values.
        f_data: ``f`` on the data events, shape ``(m,)`` (read-only).
        n_reference: reference events ``N_R``.
        n_data: data events ``m``.
        n_expected: ``N(0) = Σ w``, the expected data count under the reference.
        hyperparameters: every choice that defines the fit (centres, σ and its rule, λ,
            loss, network size, clipping, epochs, ...).
        converged: the optimiser met its stopping rule.
        iterations: Newton iterations (kernel) or epochs (neural) run.
        convergence: the final figures of the optimiser (gradient norm, last change).
        seconds: wall time of the fit in seconds.
    """

    t: float
    method: str
    f: Callable[[Any], npt.NDArray[np.float64]]
    f_data: npt.NDArray[np.float64]
    n_reference: int
    n_data: int
    n_expected: float
    hyperparameters: Mapping[str, Any]
    converged: bool
    iterations: int
    convergence: Mapping[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def describe(self) -> str:
        """One line, e.g. ``'NPLM kernel: t = 12.3 (M=3000, σ=0.3, λ=1e-10; 7 iterations)'``."""
        keys = ("M", "sigma", "lam", "hidden", "clip", "epochs")
        shown = ", ".join(
            f"{k}={self.hyperparameters[k]:.3g}"
            if isinstance(self.hyperparameters[k], float)
            else f"{k}={self.hyperparameters[k]}"
            for k in keys
            if k in self.hyperparameters
        )
        state = "converged" if self.converged else "NOT converged"
        return f"NPLM {self.method}: t = {self.t:.4g} ({shown}; {self.iterations} it., {state})"


def check_samples(
    reference: Any, data: Any, *, min_events: int = 2
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Both samples as finite float64 ``(n, d)`` and ``(m, d)`` arrays of the same ``d``."""
    ref = as_batch("reference", reference, min_events=min_events)
    dat = as_batch("data", data, dim=ref.shape[1], min_events=min_events)
    return ref, dat


def reference_weights(
    reference_weight: Any, n_reference: int, n_data: int
) -> npt.NDArray[np.float64]:
    """Per-event reference weights ``(n_reference,)``, all > 0.

    Args:
        reference_weight: ``None`` (``N(0) = m``: weight ``m / N_R``), a positive number
            (one weight for every event) or ``(n_reference,)`` positive weights.
        n_reference: ``N_R``.
        n_data: ``m``, the data size.

    Raises:
        InvalidInputError: a weight <= 0, NaN/inf, or the wrong length.
    """
    if reference_weight is None:
        return np.full(n_reference, n_data / n_reference)
    w = require_array("reference_weight", reference_weight)
    if w.ndim == 0:
        w = np.full(n_reference, float(w))
    if w.shape != (n_reference,):
        raise InvalidInputError(
            f"reference_weight must be a number or one weight per reference event "
            f"({n_reference},), got shape {w.shape}."
        )
    if np.any(w <= 0):
        raise InvalidInputError(
            f"reference_weight must be > 0 for every event, got {int(np.sum(w <= 0))} weight(s) "
            "<= 0; NPLM weights are N(0)/N_R (expected data count over reference size)."
        )
    return w


def extended_t(
    f_reference: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    f_data: npt.NDArray[np.float64],
) -> float:
    """``t = 2 [Σ_D f − Σ_R w (e^f − 1)]`` from ``f`` on the reference and on the data.

    Example:
        >>> import numpy as np
        >>> round(extended_t(np.zeros(4), np.full(4, 0.5), np.zeros(2)), 12)
        0.0
    """
    return float(2.0 * (np.sum(f_data) - np.sum(weights * np.expm1(f_reference))))
