"""Settings of neural importance sampling: its call budget, loss, optimiser and flow.

:class:`NISConfig` is re-exported by :mod:`~precml_widgets.integration.nis`, which trains and
integrates with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from precml_widgets._checks import require_choice, require_instance, require_int, require_real
from precml_widgets.errors import InvalidInputError
from precml_widgets.integration.budget import CallBudget
from precml_widgets.integration.flow import FlowConfig

__all__ = ["DEFAULT_NIS_BUDGET", "NISConfig"]

#: The budget of ``NISConfig()``: 5 000 calls x (20 training + 20 final) iterations.
DEFAULT_NIS_BUDGET = CallBudget(
    calls_per_iteration=5_000, training_iterations=20, final_iterations=20
)


@dataclass(frozen=True, init=False)
class NISConfig:
    """Budget and training settings of neural importance sampling.

    Attributes:
        budget: the integrand calls (:class:`~precml_widgets.integration.budget.CallBudget`):
            ``training_iterations`` of ``calls_per_iteration`` train the flow (a VEGAS
            pre-map's calls included), ``final_calls`` fresh calls give the estimate. Default:
            5 000 calls x (20 + 20) iterations.
        loss: ``"variance"`` (minimise Var_q[f/q], the chi-square divergence) or ``"kl"``
            (minimise KL(f/I || q)).
        learning_rate: Adam's initial learning rate (cosine-annealed to a tenth).
        epochs_per_batch: passes over each batch of integrand calls; passes after the first
            reuse the batch with importance weights ``q_drawn/q_now`` (buffered training, as
            in MadNIS), which buys more training per call.
        minibatch: points per gradient step (a batch gives ``ceil(calls/minibatch)`` steps
            per pass).
        premap: ``"vegas"`` first adapts a VEGAS grid with ``budget.premap_calls_used`` of the
            training calls and lets the flow learn what the grid leaves over; ``"none"`` trains
            the flow on the plain cube.
        flow: the flow's architecture.
        seed: seeds the flow's weights and every draw.

    The budget may also be given by its old names, in integrand calls: ``training_calls``,
    ``calls_per_iteration``, ``final_calls`` and ``premap_calls`` (by keyword, or the first
    three positionally in that order, as before the budget existed). Given counts must be whole
    iterations (a clear error says the nearest ones); a count not given keeps the default's
    calls rounded down to whole iterations. They remain readable as properties.

    Example:
        >>> NISConfig(CallBudget(1_000, training_iterations=10, final_iterations=10)).iterations
        10
        >>> NISConfig(training_calls=10_000, calls_per_iteration=1_000).budget.training_iterations
        10
        >>> NISConfig(20_000, 2_000, 10_000).budget.final_iterations
        5
        >>> NISConfig(calls_per_iteration=3_000).budget.training_iterations  # 100 000 // 3 000
        33
    """

    budget: CallBudget
    loss: Literal["variance", "kl"]
    learning_rate: float
    epochs_per_batch: int
    minibatch: int
    premap: Literal["none", "vegas"]
    flow: FlowConfig
    seed: int

    def __init__(
        self,
        budget: CallBudget | int | None = None,
        *legacy: int,
        loss: Literal["variance", "kl"] = "variance",
        learning_rate: float = 1e-2,
        epochs_per_batch: int = 4,
        minibatch: int = 1_000,
        premap: Literal["none", "vegas"] = "none",
        flow: FlowConfig | None = None,
        seed: int = 0,
        training_calls: int | None = None,
        calls_per_iteration: int | None = None,
        final_calls: int | None = None,
        premap_calls: int | None = None,
    ) -> None:
        if isinstance(budget, int):  # a bool is refused below, as training_calls
            # the old positional order: training_calls, calls_per_iteration, final_calls
            if len(legacy) > 2 or training_calls is not None:
                raise InvalidInputError(
                    "NISConfig takes at most three positional numbers (training_calls, "
                    "calls_per_iteration, final_calls); pass the other settings by keyword."
                )
            training_calls, budget = budget, None
            calls_per_iteration = legacy[0] if legacy else calls_per_iteration
            final_calls = legacy[1] if len(legacy) > 1 else final_calls
        elif legacy:
            raise InvalidInputError(
                "NISConfig takes a CallBudget (or the old training_calls, calls_per_iteration, "
                "final_calls) positionally; pass the other settings by keyword."
            )
        budget = require_instance("NISConfig.budget", budget or DEFAULT_NIS_BUDGET, CallBudget)
        old = {
            "training_calls": training_calls,
            "calls_per_iteration": calls_per_iteration,
            "final_calls": final_calls,
            "premap_calls": premap_calls,
        }
        if any(value is not None for value in old.values()):
            hint = "a call budget of zero cannot train a sampler or give an estimate."
            lows = {"training_calls": 1, "calls_per_iteration": 2, "final_calls": 2}
            for name, value in old.items():
                if value is not None:
                    require_int(f"NISConfig.{name}", value, low=lows.get(name, 0), hint=hint)
            per = budget.calls_per_iteration if calls_per_iteration is None else calls_per_iteration

            def whole(calls: int) -> int:
                # a count not given keeps the default's calls, in whole iterations (>= 1)
                return max(1, calls // per) * per

            budget = CallBudget.from_calls(
                per,
                whole(budget.training_calls) if training_calls is None else training_calls,
                whole(budget.final_calls) if final_calls is None else final_calls,
                budget.premap_calls if premap_calls is None else premap_calls,
                owner="NISConfig",
            )
        settings = {
            "budget": budget,
            "loss": loss,
            "learning_rate": learning_rate,
            "epochs_per_batch": epochs_per_batch,
            "minibatch": minibatch,
            "premap": premap,
            "flow": FlowConfig() if flow is None else flow,
            "seed": seed,
        }
        for name, value in settings.items():
            object.__setattr__(self, name, value)

    @property
    def training_calls(self) -> int:
        """Integrand calls spent on training (a VEGAS pre-map's included)."""
        return self.budget.training_calls

    @property
    def calls_per_iteration(self) -> int:
        """Points drawn (and integrand calls) per training iteration."""
        return self.budget.calls_per_iteration

    @property
    def final_calls(self) -> int:
        """Fresh integrand calls for the final estimate."""
        return self.budget.final_calls

    @property
    def premap_calls(self) -> int:
        """Training calls that adapt the VEGAS pre-map (0 without one)."""
        if self.premap == "vegas":
            return self.budget.premap_calls_used
        return self.budget.premap_calls or 0

    @property
    def iterations(self) -> int:
        """Training iterations that the flow gets after any pre-mapping."""
        return self.budget.flow_iterations(premap=self.premap == "vegas")

    def validate(self) -> NISConfig:
        """Return ``self`` or raise :class:`InvalidInputError` naming the bad field."""
        self.budget.validate("NISConfig", min_calls_per_iteration=2, min_training_iterations=1)
        require_int("NISConfig.epochs_per_batch", self.epochs_per_batch, low=1)
        require_int("NISConfig.minibatch", self.minibatch, low=2)
        require_choice("NISConfig.loss", self.loss, ("variance", "kl"))
        require_choice("NISConfig.premap", self.premap, ("none", "vegas"))
        require_int("NISConfig.seed", self.seed, low=0)
        require_real("NISConfig.learning_rate", self.learning_rate, low=0.0, low_open=True)
        if self.premap == "vegas":
            self.budget.validate_premap("NISConfig")
        if self.iterations < 1:
            raise InvalidInputError(
                f"NISConfig.training_calls ({self.training_calls}) leaves the flow no training "
                f"iteration of calls_per_iteration={self.calls_per_iteration} calls; give at "
                "least one iteration's worth of calls (after premap_calls)."
            )
        require_instance("NISConfig.flow", self.flow, FlowConfig).validate()
        return self
