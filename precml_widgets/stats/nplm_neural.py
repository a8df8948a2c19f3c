"""NPLM with a small neural network: an MLP with clipped weights trained by full-batch Adam.

The network ``f: R^d -> R`` (sigmoid hidden layers, linear output) minimises the NPLM loss
``Σ_R w (e^f − 1) − Σ_D f`` by Adam on the whole sample each epoch; after every step each
weight (not the biases) is clipped, the regularisation of arXiv:1806.02350 that keeps ``t``
close to χ² distributed: the first layer's weights to ``[−clip, clip]``, every later layer's
(the output layer's included) to ``[−output_clip, output_clip]`` (the papers clip every layer
at 9). With ``standardize=True`` each feature is first shifted and scaled by the reference's
mean and standard deviation; that rescales the first layer's weights only, so ``clip`` then
acts in standard units whatever the units of ``x`` (the papers' clip 9 on their 1-D
benchmark, where x has standard deviation 1/8, is about 1.1 in standard units) while the
output layer keeps the papers' 9: with ``H`` hidden sigmoid units ``|f − b_out| ≤ 9 H``.

Convergence: the papers train a fixed number of epochs (3e5; hours per toy) and check that
``t`` is stable. Here the fit records ``t(epoch) = −2 L`` at every epoch and counts as
converged when its spread (max − min) over the last 10 % of the epochs is at most
``atol + rtol·|t|`` (defaults 0.05 and 0.005: small beside the width √(2k) of a χ²(k) null).
A plateau of the loss (a saddle the optimiser has not left yet) passes this check; a longer
run may still raise ``t`` there, which the rule cannot see.

:func:`nplm_neural_toys` trains the networks of many toys side by side (one stacked Adam),
each toy following its own :func:`nplm_neural` fit: the suite's ``"nplm_neural"`` toys.

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

__all__ = ["NeuralLogRatio", "nplm_neural", "nplm_neural_toys"]


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
    output_clip: float = 9.0,
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
        clip: the first layer's weights are clipped to ``[−clip, clip]`` after each step
            (in standard units with ``standardize``).
        output_clip: every later layer's weights (the output layer's included) are clipped
            to ``[−output_clip, output_clip]``; the papers' 9.
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
        holds ``t_spread``, ``tolerance``, ``tail_epochs`` and ``final_loss`` (the loss
        after the last step, ``−t / 2``).

    Raises:
        InvalidInputError: bad samples or options, or a fit whose ``t`` is not finite
            (diverged).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> res = nplm_neural(rng.exponential(size=2000), rng.exponential(size=200), epochs=50)
        >>> res.hyperparameters["hidden"], res.iterations
        ((4,), 50)
    """
    start = time.perf_counter()
    ref, dat = check_samples(reference, data)
    w = reference_weights(reference_weight, len(ref), len(dat))
    opts = _options(hidden, clip, output_clip, epochs, learning_rate, atol, rtol, seed)
    torch = _torch()
    from precml_widgets.device import default_device

    dev = default_device(device)
    x_r = torch.as_tensor(ref, device=dev)[None]
    x_d = torch.as_tensor(dat, device=dev)[None]
    w_t = torch.as_tensor(w, device=dev)[None]
    fit = _train(torch, x_r, x_d, w_t, standardize, opts)
    f_ref, f_dat = fit.f_reference[0], fit.f_data[0]
    f_dat.flags.writeable = False
    t = extended_t(f_ref, w, f_dat)
    _require_finite(np.array([t]), fit, opts)
    spread, tolerance = _stability(fit.history[:, 0], t, opts)
    f = NeuralLogRatio(
        tuple(p[0] for p in fit.weights),
        tuple(p[0] for p in fit.biases),
        None if fit.shift is None else fit.shift[0],
        None if fit.scale is None else fit.scale[0],
    )
    sizes = (ref.shape[1], *opts["hidden"], 1)
    hp = {
        "hidden": opts["hidden"],
        "architecture": "-".join(map(str, sizes)),
        "activation": "sigmoid",
        "clip": opts["clip"],
        "output_clip": opts["output_clip"],
        "clip_rule": "weights (not biases) after each step: first layer at clip, later "
        "layers at output_clip",
        "epochs": opts["epochs"],
        "learning_rate": opts["learning_rate"],
        "optimizer": "Adam, full batch",
        "loss": "nplm",
        "standardize": bool(standardize),
        "convergence_rule": (
            f"spread of t over the last 10 % of epochs <= {opts['atol']:g} + {opts['rtol']:g}|t|"
        ),
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
        iterations=opts["epochs"],
        convergence={
            "final_loss": float(fit.final_loss[0]),
            "t_spread": spread,
            "tolerance": tolerance,
            "tail_epochs": float(_tail(opts["epochs"])),
        },
        seconds=time.perf_counter() - start,
    )


def nplm_neural_toys(
    reference: Any,
    data: Any,
    *,
    hidden: tuple[int, ...] = (4,),
    clip: float = 9.0,
    output_clip: float = 9.0,
    epochs: int = 2000,
    learning_rate: float = 0.01,
    standardize: bool = False,
    atol: float = 0.05,
    rtol: float = 0.005,
    seed: int = 0,
    device: str | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """``t`` of ``T`` independent neural NPLM fits (``N(0) = m``), trained side by side.

    Each toy has its own network (the same initial weights, from ``seed``, as
    :func:`nplm_neural`); the networks are stacked and trained by one Adam on the sum of the
    toys' losses. Adam and the clipping act element by element and a toy's loss depends on
    its own weights only, so every toy follows the steps of its own :func:`nplm_neural` fit
    (up to rounding); one call costs about as much as a few single fits. Toys are trained in
    chunks that keep each activation within ~64 MiB.

    Args:
        reference: ``(T, n, d)`` reference samples (tensor or array), ``n ≥ 2``, ``d ≥ 1``.
        data: ``(T, m, d)`` data samples, ``m ≥ 2``.
        hidden: as for :func:`nplm_neural` (so are ``clip``, ``output_clip``, ``epochs``,
            ``learning_rate``, ``standardize``, ``atol``, ``rtol``, ``seed``, ``device``).

    Returns:
        ``(t, converged)``: ``(T,)`` float64 test statistics and ``(T,)`` booleans (the
        convergence rule of :func:`nplm_neural`).

    Raises:
        InvalidInputError: bad shapes (``n`` or ``m`` below 2, ``d = 0``), non-finite
            events, bad options, or a fit whose ``t`` is not finite (diverged).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> ref, dat = rng.exponential(size=(3, 500, 1)), rng.exponential(size=(3, 50, 1))
        >>> t, ok = nplm_neural_toys(ref, dat, epochs=20)
        >>> t.shape, ok.dtype
        ((3,), dtype('bool'))
    """
    opts = _options(hidden, clip, output_clip, epochs, learning_rate, atol, rtol, seed)
    torch = _torch()
    from precml_widgets.device import default_device

    dev = default_device(device)
    x_r = torch.as_tensor(reference, device=dev).double()
    x_d = torch.as_tensor(data, device=dev).double()
    if x_r.ndim != 3 or x_d.ndim != 3 or x_r.shape[::2] != x_d.shape[::2]:
        raise InvalidInputError(
            f"reference and data must be toy batches (T, n, d) and (T, m, d), got shapes "
            f"{tuple(x_r.shape)} and {tuple(x_d.shape)}."
        )
    toys, n, m = x_r.shape[0], x_r.shape[1], x_d.shape[1]
    if n < 2 or m < 2 or x_r.shape[2] < 1:
        raise InvalidInputError(
            f"each toy needs n >= 2 reference and m >= 2 data events of d >= 1 features, got "
            f"n = {n}, m = {m}, d = {x_r.shape[2]}; draw larger samples (or add a feature axis)."
        )
    if not (bool(torch.isfinite(x_r).all()) and bool(torch.isfinite(x_d).all())):
        raise InvalidInputError("reference and data must be finite: drop NaN/inf events.")
    per = max(1, _BATCH_ENTRIES // ((n + m) * max(opts["hidden"])))
    t_all, ok_all = np.empty(toys), np.empty(toys, dtype=bool)
    for t0 in range(0, toys, per):
        r, d = x_r[t0 : t0 + per], x_d[t0 : t0 + per]
        w_t = torch.full((r.shape[0], n), m / n, dtype=torch.float64, device=dev)
        fit = _train(torch, r, d, w_t, standardize, opts)
        t = np.array(
            [
                extended_t(fit.f_reference[k], np.full(n, m / n), fit.f_data[k])
                for k in range(len(r))
            ]
        )
        _require_finite(t, fit, opts)
        for k in range(r.shape[0]):
            spread, tolerance = _stability(fit.history[:, k], t[k], opts)
            t_all[t0 + k], ok_all[t0 + k] = t[k], spread <= tolerance
    return t_all, ok_all


#: Entries of one activation tensor (toys × events × width) in :func:`nplm_neural_toys`.
_BATCH_ENTRIES = 8_000_000


def _require_finite(t: npt.NDArray[np.float64], fit: _Trained, opts: dict[str, Any]) -> None:
    """Raise when a toy's ``t`` ``(T,)`` or its loss after the last step is not finite."""
    bad = ~(np.isfinite(t) & np.isfinite(fit.final_loss))
    if bad.any():
        raise InvalidInputError(
            f"{int(bad.sum())} of {len(t)} neural NPLM fits diverged (t = {t[bad][0]}) at "
            f"learning_rate={opts['learning_rate']}; use a smaller learning_rate or fewer epochs."
        )


def _options(
    hidden: Any,
    clip: Any,
    output_clip: Any,
    epochs: Any,
    learning_rate: Any,
    atol: Any,
    rtol: Any,
    seed: Any,
) -> dict[str, Any]:
    """The checked training options."""
    if isinstance(hidden, int) or not hidden:
        raise InvalidInputError(
            f"hidden must be a tuple of layer widths, got {hidden!r}; use e.g. hidden=(4,)."
        )
    return {
        "hidden": tuple(
            require_int("hidden width", h, low=1, hint="use e.g. (4,).") for h in hidden
        ),
        "clip": require_real("clip", clip, low=0.0, low_open=True, hint="use e.g. clip=9."),
        "output_clip": require_real(
            "output_clip", output_clip, low=0.0, low_open=True, hint="use e.g. output_clip=9."
        ),
        "epochs": require_int("epochs", epochs, low=1, hint="use e.g. epochs=2000."),
        "learning_rate": require_real("learning_rate", learning_rate, low=0.0, low_open=True),
        "atol": require_real("atol", atol, low=0.0, hint="use e.g. atol=0.05."),
        "rtol": require_real("rtol", rtol, low=0.0, hint="use e.g. rtol=0.005."),
        "seed": require_seed("seed", seed),
    }


def _tail(epochs: int) -> int:
    """Epochs in the convergence check: the last 10 %, at least 2 (all when fewer)."""
    return min(epochs, max(2, epochs // 10))


def _stability(
    history: npt.NDArray[np.float64], t: float, opts: dict[str, Any]
) -> tuple[float, float]:
    """``(spread, tolerance)``: max − min of ``t(epoch) = −2 L`` over the tail, and
    ``atol + rtol·|t|``."""
    tail = -2.0 * history[-_tail(len(history)) :]
    return float(np.max(tail) - np.min(tail)), opts["atol"] + opts["rtol"] * abs(t)


@dataclass(frozen=True)
class _Trained:
    """Stacked networks after training: per-layer ``(T, ...)`` arrays, the loss history
    ``(epochs, T)`` (each before its step), the loss after the last step ``(T,)``, ``f`` on
    both samples, and the standardisation (``None`` without)."""

    weights: tuple[npt.NDArray[np.float64], ...]
    biases: tuple[npt.NDArray[np.float64], ...]
    history: npt.NDArray[np.float64]
    final_loss: npt.NDArray[np.float64]
    f_reference: npt.NDArray[np.float64]
    f_data: npt.NDArray[np.float64]
    shift: npt.NDArray[np.float64] | None
    scale: npt.NDArray[np.float64] | None


def _train(
    torch: Any, x_r: Any, x_d: Any, w_t: Any, standardize: bool, opts: dict[str, Any]
) -> _Trained:
    """Train ``T`` networks on ``x_r`` ``(T, n, d)``, ``x_d`` ``(T, m, d)``, weights ``w_t``
    ``(T, n)``: full-batch Adam on the summed NPLM losses, weights clipped after each step
    (the first layer at ``clip``, later layers at ``output_clip``)."""
    toys, dev = x_r.shape[0], x_r.device
    shift = scale = None
    if standardize:
        total = w_t.sum(1)[:, None, None]
        shift = (w_t[..., None] * x_r).sum(1, keepdim=True) / total
        scale = ((w_t[..., None] * (x_r - shift) ** 2).sum(1, keepdim=True) / total).sqrt()
        scale = torch.where(scale == 0, torch.ones_like(scale), scale)  # constant: centred
        x_r, x_d = (x_r - shift) / scale, (x_d - shift) / scale
    gen = torch.Generator().manual_seed(opts["seed"])
    sizes = (x_r.shape[2], *opts["hidden"], 1)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1.0 / np.sqrt(fan_in)  # torch.nn.Linear's default initialisation
        for shape in ((fan_in, fan_out), (fan_out,)):
            p = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound
            params.append(p.to(dev).expand(toys, *shape).clone().requires_grad_())

    def net(x: Any) -> Any:
        h = x
        for i in range(0, len(params), 2):
            h = torch.baddbmm(params[i + 1][:, None, :], h, params[i])
            if i < len(params) - 2:
                h = torch.sigmoid(h)
        return h[..., 0]

    opt = torch.optim.Adam(params, lr=opts["learning_rate"])
    history = torch.empty((opts["epochs"], toys), dtype=torch.float64, device=dev)
    with torch.enable_grad():  # also when called under no_grad (the suite's toys)
        for epoch in range(opts["epochs"]):
            opt.zero_grad()
            loss = (w_t * torch.expm1(net(x_r))).sum(1) - net(x_d).sum(1)  # (T,)
            loss.sum().backward()
            opt.step()
            with torch.no_grad():
                for i, p in enumerate(params[0::2]):
                    limit = opts["clip"] if i == 0 else opts["output_clip"]
                    p.clamp_(-limit, limit)
                history[epoch] = loss.detach()
    with torch.no_grad():
        f_r, f_d = net(x_r), net(x_d)
        final = (w_t * torch.expm1(f_r)).sum(1) - f_d.sum(1)
        f_ref, f_dat = f_r.cpu().numpy(), f_d.cpu().numpy()

    def host(v: Any) -> Any:
        return None if v is None else v[:, 0].cpu().numpy()

    return _Trained(
        tuple(p.detach().cpu().numpy() for p in params[0::2]),
        tuple(p.detach().cpu().numpy() for p in params[1::2]),
        history.cpu().numpy(),
        final.cpu().numpy(),
        f_ref,
        f_dat,
        host(shift),
        host(scale),
    )
