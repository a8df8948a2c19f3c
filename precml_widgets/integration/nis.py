"""Neural importance sampling: a cube flow trained online from integrand calls, within a budget.

The flow ``q`` is trained on its own samples: each iteration draws points from ``q``, evaluates
the integrand there (counted), and takes gradient steps that lower the variance of the weights
``w = f/q`` (or the KL divergence from ``f/I`` to ``q``). The final estimate uses FRESH points,
never the ones the flow was trained on, so its error is an honest Monte Carlo error.

References:
    Gao, Isaacson, Krause, "i-flow", arXiv:2001.05486;
    Bothmann et al., "Exploring phase space with neural importance sampling", arXiv:2001.05478;
    Heimel et al., "MadNIS", arXiv:2212.06172 (VEGAS pre-mapping, buffered training).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_int
from precml_widgets._optional import require
from precml_widgets.device import default_device
from precml_widgets.errors import InvalidInputError, PrecmlError
from precml_widgets.integration.counting import CountingIntegrand, require_nonzero
from precml_widgets.integration.flow import build_cube_flow
from precml_widgets.integration.integrand import Integrand
from precml_widgets.integration.nis_config import DEFAULT_NIS_BUDGET, NISConfig
from precml_widgets.integration.result import (
    IntegrationResult,
    IterationRecord,
    WeightedEvents,
    mc_estimate,
)
from precml_widgets.integration.vegas_baseline import VegasConfig, VegasSampler, integrate_vegas

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_NIS_BUDGET",
    "DIAGNOSTIC",
    "FINAL",
    "GUARD",
    "TRAINING",
    "FlowDivergedError",
    "NISConfig",
    "NeuralImportanceSampler",
    "integrate_nis",
    "stream_seed",
]

#: Cap on log(q_drawn / q_now) in buffered training steps (a ratio of at most ~150).
_MAX_LOG_RATIO = 5.0
#: Points drawn from the flow per network pass (bounds the memory of large samples).
_DRAW_CHUNK = 10_000


def _chunks(n: int, size: int) -> list[int]:
    """Sizes of consecutive chunks covering ``n`` (e.g. 25, 10 -> [10, 10, 5])."""
    return [min(size, n - start) for start in range(0, n, size)]


class FlowDivergedError(PrecmlError, RuntimeError):
    """The flow's training diverged (non-finite parameters); nothing it produced is usable."""


#: Independent random streams derived from one seed (``stream_seed(seed, STREAM, i)``).
TRAINING, FINAL, DIAGNOSTIC, SHUFFLE, GUARD = 1, 2, 3, 4, 5


def stream_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed for the stream ``keys`` of ``seed`` (numpy's ``SeedSequence``).

    Training batches, the final estimate and diagnostic events draw from different streams,
    so that "fresh" points never share random numbers with the points a flow trained on.

    Example:
        >>> stream_seed(0, TRAINING, 17) != stream_seed(0, DIAGNOSTIC)
        True
    """
    state = np.random.SeedSequence([seed, *keys]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


Array = npt.NDArray[np.float64]


class NeuralImportanceSampler:
    """A flow ``q`` on ``[0, 1]^dim`` (optionally behind a VEGAS map) and how to train it.

    Args:
        dim: dimension of the integrand.
        config: budget and training settings.
        device: torch device; CUDA when available, else CPU.

    Example:
        >>> from precml_widgets.integration.toys import gauss
        >>> from precml_widgets.integration import CallBudget, FlowConfig
        >>> cfg = NISConfig(CallBudget(1_000, training_iterations=4, final_iterations=4),
        ...                 flow=FlowConfig(transforms=2, bins=8, hidden=(16,)))
        >>> nis = NeuralImportanceSampler(2, cfg)
        >>> _ = nis.train(CountingIntegrand(gauss(2).fn, 2), progress=False)
        >>> x, q = nis.sample(5, seed=1)
        >>> x.shape, bool((q > 0).all())
        ((5, 2), True)
    """

    def __init__(
        self, dim: int, config: NISConfig | None = None, device: str | None = None
    ) -> None:
        self.torch = require("torch", "flows", "neural importance sampling")
        self.config = (config or NISConfig()).validate()
        self.dim = dim
        self.device = default_device(device)
        self.flow = build_cube_flow(dim, self.config.flow, seed=self.config.seed).to(self.device)
        self.premap: VegasSampler | None = None
        self.history: list[IterationRecord] = []
        #: Gradient steps skipped because the loss or the gradient was not finite.
        self.skipped_steps = 0

    # -- sampling --------------------------------------------------------------------------
    def _draw(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, Array, Array]:
        """Draw ``y`` from the flow; return ``(y, log q_flow(y), x, q(x))``, ``x`` premapped."""
        torch = self.torch
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(seed)
            flow = self.flow()
            # in chunks: the spline's intermediates for 1e5 points would take ~1 GB at once
            parts = [flow.rsample_and_log_prob((k,)) for k in _chunks(n, _DRAW_CHUNK)]
            y = torch.cat([p[0] for p in parts])
            log_q = torch.cat([p[1] for p in parts])
        y64 = y.double().cpu().numpy()
        q = np.exp(log_q.double().cpu().numpy())
        if not (np.isfinite(y64).all() and np.isfinite(q).all() and (q > 0).all()):
            raise FlowDivergedError(
                f"the flow returned non-finite points or densities after {len(self.history)} "
                f"iterations ({self.skipped_steps} gradient steps skipped as non-finite): its "
                f"training diverged. Lower NISConfig.learning_rate (now "
                f"{self.config.learning_rate:g}) or use a smaller flow, and train again."
            )
        if self.premap is None:
            return y, log_q, y64, q
        x, q_map = self.premap.transform(y64)
        return y, log_q, x, q * q_map

    def sample(self, n: int, seed: int) -> tuple[Array, Array]:
        """Return ``(x, q)``: ``(n, dim)`` float64 points in the cube and their density ``q(x)``."""
        _, _, x, q = self._draw(require_int("the number of points n", n, low=1), seed)
        return x, q

    def density(self, x: Array) -> Array:
        """The sampler's density ``q(x)`` at ``(N, dim)`` points of the cube (any origin).

        Example:
            >>> from precml_widgets.integration.flow import FlowConfig
            >>> nis = NeuralImportanceSampler(2, NISConfig(flow=FlowConfig(2, 8, (16,))))
            >>> nis.density(np.full((3, 2), 0.25)).round(6).tolist()  # untrained: uniform
            [1.0, 1.0, 1.0]
        """
        torch = self.torch
        x = np.ascontiguousarray(x, dtype=np.float64)
        q_map = np.ones(x.shape[0])
        if self.premap is not None:
            y = np.empty_like(x)
            jac = np.empty(x.shape[0], dtype=np.float64)
            self.premap.map.invmap(x, y, jac)
            x, q_map = y, 1.0 / jac
        with torch.no_grad():
            flow = self.flow()
            parts = [
                flow.log_prob(torch.as_tensor(x[i : i + _DRAW_CHUNK], device=self.device).float())
                for i in range(0, x.shape[0], _DRAW_CHUNK)
            ]
        log_q = torch.cat(parts).double().cpu().numpy() if parts else np.empty(0)
        return np.exp(log_q) * q_map

    # -- training ----------------------------------------------------------------------------
    def train(
        self,
        counter: CountingIntegrand,
        progress: bool = True,
        on_iteration: Callable[[int, int], None] | None = None,
    ) -> list[IterationRecord]:
        """Spend ``config.training_calls`` integrand calls on training; return the history.

        Args:
            counter: the integrand behind its call counter.
            progress: show a tqdm progress bar.
            on_iteration: called as ``on_iteration(done, total)`` after every iteration (a
                widget's progress bar).
        """
        torch = self.torch
        tqdm = require("tqdm.auto", "flows", "progress bars").tqdm
        cfg = self.config
        if counter.dim != self.dim:
            raise InvalidInputError(
                f"the integrand '{counter.name}' has dimension {counter.dim} but the sampler was "
                f"built for dimension {self.dim}; use NeuralImportanceSampler({counter.dim})."
            )
        start_calls = counter.calls
        if cfg.premap == "vegas":
            vegas_cfg = VegasConfig(budget=cfg.budget.premap_budget(), seed=cfg.seed)
            premap_result, self.premap = integrate_vegas(counter, vegas_cfg)
            self.history.extend(premap_result.history)
        # vegas spends about, not exactly, what it was asked for: the flow gets what is left
        iterations = (cfg.training_calls - (counter.calls - start_calls)) // cfg.calls_per_iteration
        if iterations < 1:
            raise InvalidInputError(
                f"the VEGAS pre-map used {counter.calls - start_calls} of training_calls="
                f"{cfg.training_calls}, leaving the flow no iteration of "
                f"{cfg.calls_per_iteration} calls; lower premap_calls or raise training_calls."
            )
        optimizer = torch.optim.Adam(self.flow.parameters(), lr=cfg.learning_rate)
        steps = max(1, iterations * cfg.epochs_per_batch * self._steps_per_epoch)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=steps, eta_min=cfg.learning_rate / 10
        )
        bar = tqdm(
            range(iterations),
            desc=f"training flow on {counter.name}",
            disable=not progress,
            leave=False,
        )
        for iteration in bar:
            y, log_q_drawn, x, q = self._draw(
                cfg.calls_per_iteration, seed=stream_seed(cfg.seed, TRAINING, iteration)
            )
            w = counter(x) / q
            estimate, error = mc_estimate(w)
            loss = self._optimise(optimizer, schedule, y, w, log_q_drawn, iteration)
            record = IterationRecord(
                calls=counter.calls - start_calls,
                estimate=estimate,
                error=error,
                relative_std=float(w.std(ddof=1) / w.mean()) if w.mean() > 0 else math.inf,
                loss=loss,
            )
            self.history.append(record)
            bar.set_postfix(estimate=f"{estimate:.4g}", rel_std=f"{record.relative_std:.3g}")
            if on_iteration is not None:
                on_iteration(iteration + 1, iterations)
        return self.history

    def _optimise(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: torch.optim.lr_scheduler.LRScheduler,
        y: torch.Tensor,
        w: Array,
        log_q_drawn: torch.Tensor,
        iteration: int,
    ) -> float:
        """Gradient steps on one batch; return the last loss (NaN when the batch is all zero)."""
        torch = self.torch
        cfg = self.config
        mean_w = float(w.mean())
        if not mean_w > 0:  # no point hit the integrand: nothing to learn from this batch
            return math.nan
        # Weights normalised by their mean: the gradient direction is unchanged, its scale is
        # independent of the size of the integral.
        # float64: a squared weight of a point where q is far too small can overflow float32
        w_t = torch.as_tensor(w / mean_w, dtype=torch.float64, device=self.device)
        loss_value = math.nan
        generator = torch.Generator().manual_seed(stream_seed(cfg.seed, SHUFFLE, iteration))
        for _ in range(cfg.epochs_per_batch):
            order = torch.randperm(y.shape[0], generator=generator).to(self.device)
            for chunk in order.split(cfg.minibatch):
                log_q = self.flow().log_prob(y[chunk]).double()
                # q_drawn / q_now corrects for points drawn from an earlier q (1 at first);
                # capped so that one point whose density collapsed cannot dominate a step.
                log_ratio = (log_q_drawn[chunk].double() - log_q.detach()).clamp(max=_MAX_LOG_RATIO)
                if cfg.loss == "variance":  # grad Var = -E_drawn[w^2 (q_drawn/q) grad log q]
                    loss = -(w_t[chunk].square() * torch.exp(log_ratio) * log_q).mean()
                else:  # grad KL(p || q) = -E_drawn[w grad log q]
                    loss = -(w_t[chunk] * log_q).mean()
                optimizer.zero_grad(set_to_none=True)
                if torch.isfinite(loss):
                    loss.backward()
                    norm = torch.nn.utils.clip_grad_norm_(self.flow.parameters(), max_norm=10.0)
                    if torch.isfinite(norm):  # a non-finite gradient is skipped, not applied
                        optimizer.step()
                        schedule.step()
                        loss_value = float(loss.detach())
                    else:
                        self.skipped_steps += 1
                else:
                    self.skipped_steps += 1
        return loss_value

    @property
    def _steps_per_epoch(self) -> int:
        return -(-self.config.calls_per_iteration // self.config.minibatch)

    # -- integration -------------------------------------------------------------------------
    def integrate(self, counter: CountingIntegrand, n: int, seed: int) -> WeightedEvents:
        """Evaluate the integrand on ``n`` fresh points; return the weighted events."""
        _, _, x, q = self._draw(n, seed)
        return WeightedEvents(x, counter(x) / q, density=q)


def integrate_nis(
    integrand: Integrand,
    config: NISConfig | None = None,
    *,
    counter: CountingIntegrand | None = None,
    device: str | None = None,
    progress: bool = True,
    on_iteration: Callable[[int, int], None] | None = None,
    total_calls: int | None = None,
) -> tuple[IntegrationResult, NeuralImportanceSampler]:
    """Train a flow on ``config.training_calls`` calls, then integrate with fresh points.

    Args:
        integrand: the function and its dimension.
        config: budget and training settings.
        counter: the call-counting wrapper to use (a fresh one by default).
        device: torch device (CUDA when available by default).
        progress: show a tqdm progress bar while training.
        on_iteration: called as ``on_iteration(done, total)`` after every training iteration.
        total_calls: when given, the final estimate gets ``total_calls`` minus the calls that
            training really used, instead of ``config.budget.final_calls``: an exact total
            budget (:func:`~precml_widgets.integration.study.compare` gives the flow exactly
            VEGAS+'s calls this way).

    Raises:
        IntegrandValueError: if the integrand is zero at every fresh point.
        InvalidInputError: if training leaves fewer than 2 of ``total_calls``.

    Returns:
        ``(result, sampler)``; ``result.events`` are the fresh events of the estimate.

    Example:
        >>> from precml_widgets.integration.toys import gauss
        >>> from precml_widgets.integration import CallBudget, FlowConfig
        >>> cfg = NISConfig(CallBudget(1_000, training_iterations=8, final_iterations=8),
        ...                 flow=FlowConfig(transforms=2, bins=8, hidden=(16,)))
        >>> r, _ = integrate_nis(gauss(2), cfg, progress=False)
        >>> r.calls, abs(r.pull(gauss(2).exact)) < 5
        (16000, True)
    """
    config = (config or NISConfig()).validate()
    counter = counter or CountingIntegrand(integrand.fn, integrand.dim, integrand.name)
    if counter.dim != integrand.dim:
        raise InvalidInputError(
            f"the counter has dimension {counter.dim} but '{integrand.name}' has {integrand.dim}."
        )
    started = time.perf_counter()
    start_calls = counter.calls
    sampler = NeuralImportanceSampler(integrand.dim, config, device=device)
    sampler.train(counter, progress=progress, on_iteration=on_iteration)
    training_calls = counter.calls - start_calls
    final_calls = config.budget.final_calls if total_calls is None else total_calls - training_calls
    if final_calls < 2:
        raise InvalidInputError(
            f"training used {training_calls} calls, leaving {final_calls} of total_calls="
            f"{total_calls} for the estimate; give a larger total budget."
        )
    events = sampler.integrate(counter, final_calls, seed=stream_seed(config.seed, FINAL))
    require_nonzero(events.weights, integrand.name)
    estimate, error = mc_estimate(events.weights)
    return (
        IntegrationResult(
            method="flow" if config.premap == "none" else "flow + VEGAS map",
            integrand=integrand.name,
            estimate=estimate,
            error=error,
            calls=counter.calls - start_calls,
            training_calls=training_calls,
            history=tuple(sampler.history),
            events=events,
            event_calls=0,
            wall_time_s=time.perf_counter() - started,
        ),
        sampler,
    )
