"""NPLM with a small neural network: an MLP with clipped weights trained by full-batch Adam.

The network ``f: R^d -> R`` (sigmoid hidden layers, linear output) minimises the NPLM loss
``Σ_R w (e^f − 1) − Σ_D f`` by Adam on the whole sample each epoch; after every step each
weight (not the biases) is clipped to ``[−clip, clip]``, the regularisation of
arXiv:1806.02350 that keeps ``t`` close to χ² distributed. The papers train for 3e5 epochs
(hours per toy); the default here is far shorter and stated in every result.

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
        weights: per layer ``(fan_in, fan_out)`` matrices.
        biases: per layer ``(fan_out,)`` vectors.
    """

    weights: tuple[npt.NDArray[np.float64], ...]
    biases: tuple[npt.NDArray[np.float64], ...]

    def __call__(self, x: Any) -> npt.NDArray[np.float64]:
        """``f`` on events ``(k, d)`` (or ``(k,)`` in 1-D): ``(k,)`` values."""
        h = as_batch("x", x, dim=self.weights[0].shape[0], min_events=1)
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
        seed: seeds the initial weights.
        device: torch device (default: CUDA when present).

    Returns:
        An :class:`~precml_widgets.stats.nplm_result.NPLMResult` (``f`` a
        :class:`NeuralLogRatio`); ``converged`` means the loss changed by less than 1e-3
        over the last 10 % of the epochs.

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
    tail = history[-max(2, epochs // 10) :]
    change = float(np.max(tail) - np.min(tail))
    f = NeuralLogRatio(
        tuple(p.detach().cpu().numpy() for p in params[0::2]),
        tuple(p.detach().cpu().numpy() for p in params[1::2]),
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
    }
    return NPLMResult(
        t=extended_t(f_ref, w, f_dat),
        method="neural",
        f=f,
        f_data=f_dat,
        n_reference=len(ref),
        n_data=len(dat),
        n_expected=float(np.sum(w)),
        hyperparameters=hp,
        converged=change < 1e-3,
        iterations=epochs,
        convergence={"final_loss": float(history[-1]), "tail_change": change},
        seconds=time.perf_counter() - start,
    )
