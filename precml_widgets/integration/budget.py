"""The integrand-call budget of an integrator run: one object, one vocabulary, for every method.

A budget counts integrand calls in iterations of ``calls_per_iteration`` points: first
``training_iterations`` that train the flow (or adapt the VEGAS grid; their estimates are
discarded), then ``final_iterations`` whose calls give the result (VEGAS averages these
iterations; the flow spends the same calls on one fresh sample). The flow, VEGAS and the
comparison of both read their numbers from a :class:`CallBudget` (``NISConfig.budget``,
``VegasConfig.budget``, ``ComparisonConfig.budget``), the way one sbi inference object owns its
simulation budget.

A flow may hand part of its training calls to a VEGAS grid that maps the cube first
(``NISConfig(premap="vegas")``, MadNIS's pre-mapping); how those calls are split is decided
here, in :meth:`CallBudget.premap_budget`, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from precml_widgets._checks import require_int
from precml_widgets.errors import InvalidInputError

__all__ = [
    "PREMAP_ADAPT_ITERATIONS",
    "PREMAP_FINAL_ITERATIONS",
    "PREMAP_MIN_CALLS",
    "PREMAP_SHARE",
    "CallBudget",
]

#: Without an explicit ``premap_calls``, the VEGAS pre-map gets one in ``PREMAP_SHARE`` of the
#: training iterations (at least one iteration's worth).
PREMAP_SHARE = 5
#: VEGAS iterations of the pre-map grid that only adapt it, and that give its (unused) estimate.
PREMAP_ADAPT_ITERATIONS, PREMAP_FINAL_ITERATIONS = 4, 1
#: Fewest calls of a VEGAS pre-map: its 5 iterations of at least 100 calls each (vegas's floor).
PREMAP_MIN_CALLS = 100 * (PREMAP_ADAPT_ITERATIONS + PREMAP_FINAL_ITERATIONS)


@dataclass(frozen=True)
class CallBudget:
    """How many integrand calls a run may spend, and on what.

    Attributes:
        calls_per_iteration: integrand calls per iteration (points a flow draws per training
            step; ``neval`` of one vegas iteration, which vegas honours only approximately).
        training_iterations: iterations that train the flow or adapt the VEGAS grid.
        final_iterations: iterations' worth of calls for the final estimate.
        premap_calls: calls, out of the training calls, that adapt a VEGAS pre-map of the flow
            (used only with ``NISConfig(premap="vegas")``); ``None`` gives the pre-map
            ``max(1, training_iterations // PREMAP_SHARE)`` iterations' worth.

    Example:
        >>> b = CallBudget(calls_per_iteration=1_000, training_iterations=10, final_iterations=5)
        >>> b.training_calls, b.final_calls, b.total_calls
        (10000, 5000, 15000)
        >>> b.premap_calls_used, b.flow_iterations(premap=True)
        (2000, 8)
        >>> p = b.premap_budget()  # the pre-map's own VEGAS budget: 4 + 1 iterations of 400
        >>> p.calls_per_iteration, p.training_iterations, p.final_iterations
        (400, 4, 1)
    """

    calls_per_iteration: int = 5_000
    training_iterations: int = 40
    final_iterations: int = 20
    premap_calls: int | None = None

    @classmethod
    def from_calls(
        cls,
        calls_per_iteration: int,
        training_calls: int,
        final_calls: int,
        premap_calls: int | None = None,
        *,
        owner: str = "CallBudget",
    ) -> CallBudget:
        """The budget of ``training_calls`` and ``final_calls`` given in integrand calls.

        Both must be whole iterations of ``calls_per_iteration``.

        Args:
            calls_per_iteration: calls per iteration, >= 1.
            training_calls: calls for training, a multiple of ``calls_per_iteration``.
            final_calls: calls for the final estimate, a multiple of ``calls_per_iteration``.
            premap_calls: calls of a VEGAS pre-map (part of ``training_calls``), or ``None``.
            owner: the class the numbers were given to, for error messages.

        Raises:
            InvalidInputError: for a count that is not a whole number of iterations.

        Example:
            >>> CallBudget.from_calls(1_000, 5_000, 4_000).final_iterations
            4
        """
        per = require_int(f"{owner}.calls_per_iteration", calls_per_iteration, low=1)
        iterations = []
        for name, calls in (("training_calls", training_calls), ("final_calls", final_calls)):
            calls = require_int(f"{owner}.{name}", calls, low=0)
            if calls % per:
                raise InvalidInputError(
                    f"{owner}.{name} must be a whole number of iterations of "
                    f"calls_per_iteration={per}, got {calls}; pass {calls // per * per} or "
                    f"{(calls // per + 1) * per}, or give the budget as "
                    "CallBudget(calls_per_iteration, training_iterations, final_iterations)."
                )
            iterations.append(calls // per)
        return cls(per, iterations[0], iterations[1], premap_calls)

    @property
    def training_calls(self) -> int:
        """Calls spent on training or adaptation (the VEGAS pre-map's included)."""
        return self.calls_per_iteration * self.training_iterations

    @property
    def final_calls(self) -> int:
        """Calls requested for the final estimate."""
        return self.calls_per_iteration * self.final_iterations

    @property
    def total_calls(self) -> int:
        """Calls requested in all (vegas may use slightly fewer or more per iteration)."""
        return self.training_calls + self.final_calls

    @property
    def premap_calls_used(self) -> int:
        """Calls a VEGAS pre-map gets: ``premap_calls``, or its share of the training."""
        if self.premap_calls is not None:
            return self.premap_calls
        return self.calls_per_iteration * max(1, self.training_iterations // PREMAP_SHARE)

    def flow_iterations(self, premap: bool) -> int:
        """Training iterations left to the flow after a VEGAS pre-map (when ``premap``)."""
        used = self.premap_calls_used if premap else 0
        return (self.training_calls - used) // self.calls_per_iteration

    def premap_budget(self) -> CallBudget:
        """The VEGAS pre-map's own budget: ``premap_calls_used`` in 4 adapting + 1 final
        iterations of ``premap_calls_used // 5`` calls (at least 100, vegas's floor)."""
        iterations = PREMAP_ADAPT_ITERATIONS + PREMAP_FINAL_ITERATIONS
        return CallBudget(
            calls_per_iteration=max(100, self.premap_calls_used // iterations),
            training_iterations=PREMAP_ADAPT_ITERATIONS,
            final_iterations=PREMAP_FINAL_ITERATIONS,
        )

    def validate(
        self,
        owner: str = "CallBudget",
        *,
        min_calls_per_iteration: int = 1,
        min_training_iterations: int = 0,
        min_final_iterations: int = 1,
    ) -> CallBudget:
        """Return ``self`` or raise :class:`InvalidInputError` naming the bad field.

        Args:
            owner: the configuration the budget belongs to, for the message.
            min_calls_per_iteration, min_training_iterations, min_final_iterations: what
                the integrator that spends the budget needs at least.
        """
        hint = "a call budget of zero cannot train a sampler or give an estimate."
        for name, low in (
            ("calls_per_iteration", min_calls_per_iteration),
            ("training_iterations", min_training_iterations),
            ("final_iterations", min_final_iterations),
        ):
            require_int(f"{owner}.{name}", getattr(self, name), low=low, hint=hint)
        if self.premap_calls is not None:
            require_int(f"{owner}.premap_calls", self.premap_calls, low=0)
        return self

    def validate_premap(self, owner: str = "CallBudget") -> CallBudget:
        """Check that a VEGAS pre-map fits: ``PREMAP_MIN_CALLS <= premap_calls_used <=
        training_calls`` and at least one training iteration is left to the flow."""
        used = self.premap_calls_used
        if not PREMAP_MIN_CALLS <= used <= self.training_calls:
            raise InvalidInputError(
                f"{owner}.premap_calls must lie between {PREMAP_MIN_CALLS} (5 VEGAS iterations "
                f"of 100) and training_calls ({self.training_calls}) when premap='vegas', got "
                f"{used}."
            )
        return self
