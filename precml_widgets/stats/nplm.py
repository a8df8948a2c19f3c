"""NPLM two-sample tests, kernel and neural, registered with the statistics suite.

Importing this module registers two :class:`~precml_widgets.stats.suite.Statistic` objects
(``asymptotic_chi2=True``; ``N(0) = m``, the data size; a batch of toys is looped over):

- ``"nplm_kernel"``: :func:`nplm_kernel` with ``M = min(500, n + m)`` centres drawn from the
  pooled sample, σ the 90th percentile of the reference's pairwise distances, λ = 1e-10,
  the NPLM loss;
- ``"nplm_neural"``: :func:`nplm_neural` with a d-4-1 sigmoid network, weights clipped at 9,
  300 epochs of full-batch Adam at learning rate 0.05 (small, for interactive use: far from
  the papers' 3e5 epochs; these fits usually stop before the loss settles and are counted
  as not converged).

A toy whose ``t`` is not finite raises :class:`~precml_widgets.errors.InvalidInputError`; fits
that did not converge are counted in a ``RuntimeWarning`` per batch of toys.

References:
    R. T. D'Agnolo, A. Wulzer, arXiv:1806.02350; R. T. D'Agnolo et al., arXiv:1912.12155;
    M. Letizia et al., arXiv:2204.02317.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.nplm_kernel import (
    KernelLogRatio,
    KernelReference,
    nplm_kernel,
    prepare_reference,
)
from precml_widgets.stats.nplm_neural import NeuralLogRatio, nplm_neural
from precml_widgets.stats.nplm_result import NPLMResult
from precml_widgets.stats.suite import Statistic, register

__all__ = [
    "KERNEL_DEFAULTS",
    "NEURAL_DEFAULTS",
    "KernelLogRatio",
    "KernelReference",
    "NPLMResult",
    "NeuralLogRatio",
    "nplm_kernel",
    "nplm_neural",
    "prepare_reference",
]

#: Options of the registered ``"nplm_kernel"`` statistic (``M`` capped at ``n + m``).
KERNEL_DEFAULTS: dict[str, Any] = {
    "centres": 500,
    "sigma_percentile": 90.0,
    "lam": 1e-10,
    "loss": "nplm",
    "seed": 0,
}
#: Options of the registered ``"nplm_neural"`` statistic.
NEURAL_DEFAULTS: dict[str, Any] = {
    "hidden": (4,),
    "clip": 9.0,
    "epochs": 300,
    "learning_rate": 0.05,
    "seed": 0,
}


def _fits(name: str, fit: Callable[[Any, Any], NPLMResult], reference: Any, data: Any) -> Any:
    """``t`` of each (reference, data) pair of a batch ``(B, n, d)``, ``(B, m, d)``: a
    non-finite ``t`` raises, non-converged fits are counted in a warning."""
    torch = require("torch", "anomaly", "NPLM")
    values, not_converged = [], 0
    for ref, dat in zip(reference.cpu().numpy(), data.cpu().numpy(), strict=True):
        res = fit(ref, dat)
        if not np.isfinite(res.t):
            raise InvalidInputError(
                f"{name} gave t = {res.t} on a toy (n = {len(ref)}, m = {len(dat)}, "
                f"hyperparameters {res.hyperparameters}): change the statistic's options."
            )
        not_converged += not res.converged
        values.append(res.t)
    if not_converged:
        warnings.warn(
            f"{name}: {not_converged} of {len(values)} fits did not converge; their t enter "
            "the toys as computed (raise max_iter / epochs to converge them).",
            RuntimeWarning,
            stacklevel=2,
        )
    return torch.tensor(values, dtype=torch.float64)


def _kernel_batch(reference: Any, data: Any) -> Any:
    def fit(ref: Any, dat: Any) -> NPLMResult:
        opts = {**KERNEL_DEFAULTS, "centres": min(KERNEL_DEFAULTS["centres"], len(ref) + len(dat))}
        return nplm_kernel(ref, dat, device=str(reference.device), **opts)

    return _fits("nplm_kernel", fit, reference, data)


def _neural_batch(reference: Any, data: Any) -> Any:
    def fit(ref: Any, dat: Any) -> NPLMResult:
        return nplm_neural(ref, dat, device=str(reference.device), **NEURAL_DEFAULTS)

    return _fits("nplm_neural", fit, reference, data)


register(
    Statistic(
        name="nplm_kernel",
        compute=_kernel_batch,
        summary="NPLM with a Nyström Gaussian-kernel log-ratio (Newton solve), N(0) = m",
        citation="arXiv:2204.02317",
        asymptotic_chi2=True,
        min_events=10,
        options=dict(KERNEL_DEFAULTS),
    )
)
register(
    Statistic(
        name="nplm_neural",
        compute=_neural_batch,
        summary="NPLM with a d-4-1 weight-clipped network (300 Adam epochs), N(0) = m",
        citation="arXiv:1806.02350",
        asymptotic_chi2=True,
        min_events=10,
        options=dict(NEURAL_DEFAULTS),
    )
)
