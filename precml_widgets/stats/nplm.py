"""NPLM two-sample tests, kernel and neural, registered with the statistics suite.

Importing this module registers two :class:`~precml_widgets.stats.suite.Statistic` objects
(``asymptotic_chi2=True``; ``N(0) = m``, the data size; a batch of toys is looped over):

- ``"nplm_kernel"``: :func:`nplm_kernel` with ``M = min(500, n + m)`` centres drawn from the
  pooled sample, σ the 90th percentile of the reference's pairwise distances, λ = 1e-10,
  the NPLM loss;
- ``"nplm_neural"``: :func:`nplm_neural` with a d-4-1 sigmoid network, weights clipped at 9,
  300 epochs of full-batch Adam at learning rate 0.05 (small, for interactive use: far from
  the papers' 3e5 epochs).

References:
    R. T. D'Agnolo, A. Wulzer, arXiv:1806.02350; R. T. D'Agnolo et al., arXiv:1912.12155;
    M. Letizia et al., arXiv:2204.02317.
"""

from __future__ import annotations

from typing import Any

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


def _kernel_batch(reference: Any, data: Any) -> Any:
    import torch

    values = []
    for ref, dat in zip(reference.cpu().numpy(), data.cpu().numpy(), strict=True):
        opts = {**KERNEL_DEFAULTS, "centres": min(KERNEL_DEFAULTS["centres"], len(ref) + len(dat))}
        values.append(nplm_kernel(ref, dat, device=str(reference.device), **opts).t)
    return torch.tensor(values, dtype=torch.float64)


def _neural_batch(reference: Any, data: Any) -> Any:
    import torch

    values = [
        nplm_neural(ref, dat, device=str(reference.device), **NEURAL_DEFAULTS).t
        for ref, dat in zip(reference.cpu().numpy(), data.cpu().numpy(), strict=True)
    ]
    return torch.tensor(values, dtype=torch.float64)


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
