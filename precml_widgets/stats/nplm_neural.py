"""NPLM with a small neural network: an MLP with clipped weights trained by full-batch Adam.

The network ``f: R^d -> R`` (sigmoid hidden layers, linear output) minimises the NPLM loss
``Σ_R w (e^f − 1) − Σ_D f`` by Adam on the whole sample each epoch; after every step each
weight (not the biases) is clipped to ``[−clip, clip]``, the regularisation of
arXiv:1806.02350 that keeps ``t`` close to χ² distributed. With ``standardize=True`` each
feature is first shifted and scaled by the reference's mean and standard deviation, so the
clip acts in standard units whatever the units of ``x`` (the papers' clip 9 on their 1-D
benchmark, where x has standard deviation 1/8, is about 1.1 in standard units).

Convergence: the papers train a fixed number of epochs (3e5; hours per toy) and check that
``t`` is stable. Here the fit records ``t(epoch) = −2 L`` at every epoch and counts as
converged when its spread (max − min) over the last 10 % of the epochs is at most
``atol + rtol·|t|`` (defaults 0.05 and 0.005: small beside the width √(2k) of a χ²(k) null).
A plateau of the loss (a saddle the optimiser has not left yet) passes this check; a longer
run may still raise ``t`` there, which the rule cannot see.

References:
    R. T. D'Agnolo, A. Wulzer, "Learning New Physics from a Machine", arXiv:1806.02350.
    R. T. D'Agnolo et al., "Learning multivariate new physics", arXiv:1912.12155.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_int, require_real, require_seed
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.nplm_result import (
    NPLMResult,
    check_samples,
    extended_t,
    reference_weights,
)
from precml_widgets.stats.suite import as_batch

__all__ = ["NeuralLogRatio", "nplm_neural"]


def _torch() -> Any:
    from precml_widgets._optional import require

    return require("torch", "anomaly", "NPLM")


@dataclass(frozen=True)
class NeuralLogRatio:
    """The learned ``f``: sigmoid hidden layers and a linear output.

    Attributes:
        weights: per layer ``(fan_in, fan_out)`` matrices (on ``(x − shift) / scale``).
        biases: per layer ``(fan_out,)`` vectors.
        shift: ``(d,)`` subtracted from ``x`` before the network (0 without standardising).
        scale: ``(d,)`` dividing ``x − shift`` (1 without standardising).
    """

    weights: tuple[npt.NDArray[np.float64], ...]
    biases: tuple[npt.NDArray[np.float64], ...]
    shift: npt.NDArray[np.float64] | None = None
    scale: npt.NDArray[np.float64] | None = None

    def __call__(self, x: Any) -> npt.NDArray[np.float64]:
        """``f`` on events ``(k, d)`` (or ``(k,)`` in 1-D): ``(k,)`` values."""
        h = as_batch("x", x, dim=self.weights[0].shape[0], min_events=1)
        if self.shift is not None and self.scale is not None:
            h = (h - self.shift) / self.scale
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = 0.5 * (1.0 + np.tanh(0.5 * h))  # the logistic sigmoid, overflow-free
        return h[:, 0]


def nplm_neural(
    reference: Any,
    data: Any,
    *,
    reference_weight: Any = None,
    hidden: tuple[int, ...] = (4,),
    clip: float = 9.0,
    epochs: int = 2000,
    learning_rate: float = 0.01,
    standardize: bool = False,
    atol: float = 0.05,
    rtol: float = 0.005,
    seed: int = 0,
    device: str | None = None,
) -> NPLMResult:
    """Neural NPLM test of ``data`` against ``reference``.

    Args:
        reference: ``(N_R, d)`` reference events (``(N_R,)`` in 1-D).
        data: ``(m, d)`` data events.
        reference_weight: ``None`` (``N(0) = m``), one positive weight ``N(0)/N_R`` or
            ``(N_R,)`` positive weights.
        hidden: hidden-layer widths, e.g. ``(4,)`` for the 1-4-1 network of arXiv:1806.02350.
        clip: every weight is clipped to ``[−clip, clip]`` after each step.
        epochs: full-batch Adam steps.
        learning_rate: Adam's step size.
        standardize: shift and scale every feature by the reference's (weighted) mean and
            standard deviation before the network, so ``clip`` acts in standard units.
        atol: absolute tolerance on the spread of ``t`` over the last 10 % of the epochs.
        rtol: relative tolerance (times ``|t|``) added to ``atol``.
        seed: seeds the initial weights.
        device: torch device (default: CUDA when present).

    Returns:
        An :class:`~precml_widgets.stats.nplm_result.NPLMResult` (``f`` a
        :class:`NeuralLogRatio`); ``converged`` means ``t = −2 L`` varied by at most
        ``atol + rtol·|t|`` over the last 10 % of the epochs (at least 2); ``convergence``
        holds ``t_spread``, ``tolerance``, ``tail_epochs`` and ``final_loss``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> res = nplm_neural(rng.exponential(size=2000), rng.exponential(size=200), epochs=50)
        >>> res.hyperparameters["hidden"], res.iterations
        ((4,), 50)
    """
    torch = _torch()
    from precml_widgets.device import default_device

    start = time.perf_counter()
    ref, dat = check_samples(reference, data)
    w = reference_weights(reference_weight, len(ref), len(dat))
    if isinstance(hidden, int) or not hidden:
        raise InvalidInputError(
            f"hidden must be a tuple of layer widths, got {hidden!r}; use e.g. hidden=(4,)."
        )
    hidden = tuple(require_int("hidden width", h, low=1, hint="use e.g. (4,).") for h in hidden)
    clip = require_real("clip", clip, low=0.0, low_open=True, hint="use e.g. clip=9.")
    epochs = require_int("epochs", epochs, low=1, hint="use e.g. epochs=2000.")
    lr = require_real("learning_rate", learning_rate, low=0.0, low_open=True)
    atol = require_real("atol", atol, low=0.0, hint="use e.g. atol=0.05.")
    rtol = require_real("rtol", rtol, low=0.0, hint="use e.g. rtol=0.005.")
    seed = require_seed("seed", seed)
    dev = default_device(device)
    gen = torch.Generator().manual_seed(seed)
    sizes = (ref.shape[1], *hidden, 1)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1.0 / np.sqrt(fan_in)  # torch.nn.Linear's default initialisation
        for shape in ((fan_in, fan_out), (fan_out,)):
            p = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound
            params.append(p.to(dev).requires_grad_())
    shift = scale = None
    if standardize:
        shift = np.average(ref, axis=0, weights=w)
        scale = np.sqrt(np.average((ref - shift) ** 2, axis=0, weights=w))
        scale[scale == 0] = 1.0  # a constant feature is only centred
        ref, dat = (ref - shift) / scale, (dat - shift) / scale
    x_r, x_d = torch.as_tensor(ref, device=dev), torch.as_tensor(dat, device=dev)
    w_t = torch.as_tensor(w, device=dev)

    def net(x: Any) -> Any:
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i < len(params) - 2:
                h = torch.sigmoid(h)
        return h[:, 0]

    opt = torch.optim.Adam(params, lr=lr)
    history = np.empty(epochs)
    with torch.enable_grad():  # also when called under no_grad (the suite's toys)
        for epoch in range(epochs):
            opt.zero_grad()
            loss = (w_t * torch.expm1(net(x_r))).sum() - net(x_d).sum()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for p in params[0::2]:
                    p.clamp_(-clip, clip)
            history[epoch] = float(loss.detach())
    if not np.isfinite(history[-1]):
        raise InvalidInputError(
            f"the neural NPLM fit diverged (loss {history[-1]}) at learning_rate={lr}; use a "
            "smaller learning_rate or fewer epochs."
        )
    with torch.no_grad():
        f_ref = net(x_r).cpu().numpy()
        f_dat = net(x_d).cpu().numpy()
    f_dat.flags.writeable = False
    t = extended_t(f_ref, w, f_dat)
    tail = -2.0 * history[-max(2, epochs // 10) :]  # t(epoch) over the last 10 %
    spread = float(np.max(tail) - np.min(tail))
    tolerance = atol + rtol * abs(t)
    f = NeuralLogRatio(
        tuple(p.detach().cpu().numpy() for p in params[0::2]),
        tuple(p.detach().cpu().numpy() for p in params[1::2]),
        shift,
        scale,
    )
    hp = {
        "hidden": hidden,
        "architecture": "-".join(map(str, sizes)),
        "activation": "sigmoid",
        "clip": clip,
        "clip_rule": "weights (not biases) after each step",
        "epochs": epochs,
        "learning_rate": lr,
        "optimizer": "Adam, full batch",
        "loss": "nplm",
        "standardize": bool(standardize),
        "convergence_rule": f"spread of t over the last 10 % of epochs <= {atol:g} + {rtol:g}|t|",
    }
    return NPLMResult(
        t=t,
        method="neural",
        f=f,
        f_data=f_dat,
        n_reference=len(ref),
        n_data=len(dat),
        n_expected=float(np.sum(w)),
        hyperparameters=hp,
        converged=spread <= tolerance,
        iterations=epochs,
        convergence={
            "final_loss": float(history[-1]),
            "t_spread": spread,
            "tolerance": tolerance,
            "tail_epochs": float(len(tail)),
        },
        seconds=time.perf_counter() - start,
    )
