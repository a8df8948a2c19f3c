"""NPLM two-sample tests, kernel and neural, registered with the statistics suite.

Importing this module registers two :class:`~precml_widgets.stats.suite.Statistic` objects
(``asymptotic_chi2=True``; ``N(0) = m``, the data size; the kernel statistic loops over a
batch of toys, the neural one trains the batch's networks side by side):

- ``"nplm_kernel"``: :func:`nplm_kernel` with ``M = min(500, n + m)`` centres drawn from the
  pooled sample, σ the 90th percentile of the reference's pairwise distances, λ = 1e-6
  (the authors' NPLM-FLK template, GaiaGrosso/NPLM-FLK@7820c08 ``toy.py``; the 1-D benchmark's
  1e-10 lets a rank-500 fit in several dimensions overfit: on the 5-D correlated Gaussian at
  n = m = 2000 the null t is ~2400 at 1e-10 and ~115 at 1e-6, and the learned f tracks the exact
  log-ratio of a mean shift at ε = 1 with r = 0.87-0.93 at 1e-6 against 0.04-0.25 at 1e-10),
  the NPLM loss;
- ``"nplm_neural"``: :func:`nplm_neural` on standardised features (the reference's mean and
  standard deviation) with a d-4-1 sigmoid network, first-layer weights clipped at 1 in those
  standard units (the papers' clip 9 on their 1-D benchmark, where x has standard deviation
  1/8, is about 1.1 there) and output weights at the papers' 9 (standardising rescales the
  first layer only; so ``|f − b_out| ≤ 36`` with 4 hidden units), 500 epochs of full-batch
  Adam at learning rate 0.1 (far from the papers' 3e5 epochs: minutes, not hours, per
  thousand toys).

Convergence of the neural fit follows the papers' practice: a fixed number of epochs, then a
check that ``t`` is stable: the fit is converged when ``t`` varied by at most
``0.05 + 0.005·|t|`` over the last 10 % of the epochs (``NPLMResult.convergence`` holds the
spread and the tolerance). With the defaults, 8 of 50 fits on n = m = 200..2000, d = 1..5
(null and a 0.2σ shift) converge (8 s on one thread; 14 of 50 at 2000 epochs and learning
rate 0.05): with the output layer free up to 9, ``t`` keeps creeping up for thousands of
epochs. Clipping the output layer at 1 as well (the defaults before the clip was split, which
bounded ``|f − b_out| ≤ 4``) converged 44 of the same 50; the raw-units defaults (clip 9 on
every layer, 300 epochs at 0.05) 5 of 50. A plateau of the loss passes the check (a longer
run may still leave it: on a 1-D tail test the converged t is 7 % below the bounded maximum
L-BFGS-B finds), so the check guards against stopping mid-descent, not against every local
optimum.

The neural statistic trains all toys of a batch side by side (:func:`nplm_neural_toys`, each
toy its own network; 600 toys of 200 epochs at n = 400, m = 100 take ~3 s on one CPU thread,
against ~50 s one by one). :func:`kernel_statistic` and :func:`neural_statistic` build
variants with other options (e.g. a fast configuration for many toys). A toy whose ``t`` is
not finite raises :class:`~precml_widgets.errors.InvalidInputError`; fits that did not
converge are counted in a ``RuntimeWarning`` per batch of toys.

References:
    R. T. D'Agnolo, A. Wulzer, arXiv:1806.02350; R. T. D'Agnolo et al., arXiv:1912.12155;
    M. Letizia et al., arXiv:2204.02317.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from functools import partial
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
from precml_widgets.stats.nplm_neural import NeuralLogRatio, nplm_neural, nplm_neural_toys
from precml_widgets.stats.nplm_result import NPLMResult
from precml_widgets.stats.suite import Statistic, register

__all__ = [
    "KERNEL_DEFAULTS",
    "NEURAL_DEFAULTS",
    "KernelLogRatio",
    "KernelReference",
    "NPLMResult",
    "NeuralLogRatio",
    "kernel_statistic",
    "neural_statistic",
    "nplm_kernel",
    "nplm_neural",
    "nplm_neural_toys",
    "prepare_reference",
]

#: Options of the registered ``"nplm_kernel"`` statistic (``M`` capped at ``n + m``).
KERNEL_DEFAULTS: dict[str, Any] = {
    "centres": 500,
    "sigma_percentile": 90.0,
    "lam": 1e-6,
    "loss": "nplm",
    "seed": 0,
}
#: Options of the registered ``"nplm_neural"`` statistic.
NEURAL_DEFAULTS: dict[str, Any] = {
    "hidden": (4,),
    "clip": 1.0,
    "output_clip": 9.0,
    "epochs": 500,
    "learning_rate": 0.1,
    "standardize": True,
    "atol": 0.05,
    "rtol": 0.005,
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
    _warn_not_converged(name, not_converged, len(values))
    return torch.tensor(values, dtype=torch.float64)


def _warn_not_converged(name: str, count: int, total: int) -> None:
    if count:
        warnings.warn(
            f"{name}: {count} of {total} fits did not converge; their t enter "
            "the toys as computed (raise max_iter / epochs to converge them).",
            RuntimeWarning,
            stacklevel=3,
        )


def _kernel_batch(
    reference: Any,
    data: Any,
    *,
    name: str = "nplm_kernel",
    options: Mapping[str, Any] | None = None,
) -> Any:
    opts = dict(KERNEL_DEFAULTS if options is None else options)

    def fit(ref: Any, dat: Any) -> NPLMResult:
        kw = {**opts, "centres": min(opts["centres"], len(ref) + len(dat))}
        return nplm_kernel(ref, dat, device=str(reference.device), **kw)

    return _fits(name, fit, reference, data)


def _neural_batch(
    reference: Any,
    data: Any,
    *,
    name: str = "nplm_neural",
    options: Mapping[str, Any] | None = None,
) -> Any:
    """All toys of the batch at once (:func:`nplm_neural_toys`: each toy's own network,
    trained side by side); non-converged fits are counted in a warning."""
    torch = require("torch", "anomaly", "NPLM")
    opts = dict(NEURAL_DEFAULTS if options is None else options)
    t, converged = nplm_neural_toys(reference, data, device=str(reference.device), **opts)
    _warn_not_converged(name, int(np.count_nonzero(~converged)), len(t))
    return torch.tensor(t, dtype=torch.float64)


#: Options of the fit functions that the NPLM statistics fix, and why.
_FIXED = {
    "device": "the suite runs the toys on its device",
    "reference_weight": "the statistic uses N(0) = m",
}


def _check_options(name: str, fit: Callable[..., Any], options: Mapping[str, Any]) -> None:
    """Refuse option names that ``fit`` does not take, ``device`` (the suite picks it) and
    ``reference_weight`` (the statistic fixes ``N(0) = m``), at construction."""
    keywords = {
        k for k, p in inspect.signature(fit).parameters.items() if p.kind is p.KEYWORD_ONLY
    } - set(_FIXED)
    for key in options:
        if key in _FIXED:
            raise InvalidInputError(f"{name}: option {key}= is fixed ({_FIXED[key]}); drop it.")
        if key not in keywords:
            raise InvalidInputError(
                f"{name}: unknown option {key}=; expected options of {fit.__name__}: "
                f"{', '.join(sorted(keywords))}."
            )


def kernel_statistic(name: str = "nplm_kernel", **options: Any) -> Statistic:
    """The kernel NPLM statistic with ``options`` of :func:`nplm_kernel` over
    :data:`KERNEL_DEFAULTS` (``centres`` capped at ``n + m``); not registered.

    Args:
        name: its name (give a variant its own, e.g. ``"nplm_kernel_fast"``).
        **options: keyword arguments of :func:`nplm_kernel` (``centres``, ``lam``, ...);
            not ``device`` (the suite's) nor ``reference_weight`` (``N(0) = m``).

    Raises:
        InvalidInputError: an option :func:`nplm_kernel` does not take, or ``device`` /
            ``reference_weight``.

    Example:
        >>> kernel_statistic("nplm_kernel_fast", centres=50).options["centres"]
        50
    """
    _check_options(name, nplm_kernel, options)
    opts = {**KERNEL_DEFAULTS, **options}
    return Statistic(
        name=name,
        compute=partial(_kernel_batch, name=name, options=opts),
        summary=f"NPLM with a Nyström Gaussian-kernel log-ratio (M ≤ {opts['centres']}), N(0) = m",
        citation="arXiv:2204.02317",
        asymptotic_chi2=True,
        min_events=10,
        options=opts,
    )


def neural_statistic(name: str = "nplm_neural", **options: Any) -> Statistic:
    """The neural NPLM statistic with ``options`` of :func:`nplm_neural` over
    :data:`NEURAL_DEFAULTS`; not registered.

    Args:
        name: its name (give a variant its own, e.g. ``"nplm_neural_fast"``).
        **options: keyword arguments of :func:`nplm_neural_toys` (``epochs``, ``clip``,
            ``output_clip``, ...); not ``device`` (the suite's) nor ``reference_weight``.

    Raises:
        InvalidInputError: an option :func:`nplm_neural_toys` does not take, or ``device`` /
            ``reference_weight``.

    Example:
        >>> neural_statistic("nplm_neural_fast", epochs=100).options["epochs"]
        100
    """
    _check_options(name, nplm_neural_toys, options)
    opts = {**NEURAL_DEFAULTS, **options}
    return Statistic(
        name=name,
        compute=partial(_neural_batch, name=name, options=opts),
        summary=(
            f"NPLM with a weight-clipped network (hidden {opts['hidden']}, "
            f"{opts['epochs']} Adam epochs), N(0) = m"
        ),
        citation="arXiv:1806.02350",
        asymptotic_chi2=True,
        min_events=10,
        options=opts,
    )


# The registered two read their defaults at call time (KERNEL_DEFAULTS / NEURAL_DEFAULTS).
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
        summary="NPLM with a d-4-1 weight-clipped network on standardised features "
        "(500 Adam epochs), N(0) = m",
        citation="arXiv:1806.02350",
        asymptotic_chi2=True,
        min_events=10,
        options=dict(NEURAL_DEFAULTS),
    )
)
