"""Hit-or-miss unweighting of weighted events, with the overweight fraction reported."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_seed
from precml_widgets.errors import InvalidInputError
from precml_widgets.integration.result import WeightedEvents

__all__ = ["UnweightedEvents", "unweight"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class UnweightedEvents:
    """Events kept by hit-or-miss unweighting.

    Attributes:
        x: ``(K, dim)`` kept points; without overweights they are distributed as ``f / I``.
        w_max: the maximum weight used.
        n_input: weighted events offered.
        efficiency: kept / offered (its expectation is ``<min(w, w_max)> / w_max``).
        overweight_fraction: fraction of offered events with ``w > w_max``. They are always
            kept but should have counted ``w / w_max`` times: a non-zero fraction biases the
            unweighted sample where the sampler undershoots (see ``overweight_weights``).
        overweight_weights: ``w / w_max > 1`` of the kept overweight events, so that a user who
            wants exact results can keep them as weighted events.

    Example:
        >>> ev = WeightedEvents(np.arange(4.0)[:, None], np.array([0.5, 1.0, 2.0, 0.0]))
        >>> u = unweight(ev, w_max=1.0, seed=0)
        >>> u.overweight_fraction, u.overweight_weights.tolist()
        (0.25, [2.0])
    """

    x: Array
    w_max: float
    n_input: int
    efficiency: float
    overweight_fraction: float
    overweight_weights: Array

    def __len__(self) -> int:
        return int(self.x.shape[0])


def unweight(
    events: WeightedEvents,
    *,
    w_max: float | None = None,
    quantile: float | None = None,
    seed: int = 0,
) -> UnweightedEvents:
    """Keep each event with probability ``min(1, w / w_max)``.

    Args:
        events: weighted events (weights ``>= 0``).
        w_max: the maximum weight; by default the largest weight (no overweights) or the
            ``quantile`` of the weights.
        quantile: e.g. ``0.999``: use that quantile as ``w_max`` (higher efficiency, some
            overweight events). Give ``w_max`` or ``quantile``, not both.
        seed: seeds the accept/reject draws.

    Returns:
        The kept events and the bookkeeping.
    """
    if w_max is not None and quantile is not None:
        raise InvalidInputError("give w_max or quantile, not both.")
    seed = require_seed("seed", seed)
    if len(events) == 0:
        raise InvalidInputError("there are no weighted events to unweight; draw some first.")
    w = events.weights
    if (w < 0).any() or not np.isfinite(w).all():
        raise InvalidInputError(
            "hit-or-miss unweighting needs finite weights >= 0; found negative or non-finite "
            "weights. Unweight the positive and negative parts separately."
        )
    maximum = float(w_max) if w_max is not None else events.w_max(quantile)
    if not maximum > 0:
        raise InvalidInputError(
            f"w_max must be > 0, got {maximum!r} (are all weights zero? the sampler then never "
            "hit the integrand's support)."
        )
    keep = np.random.default_rng(seed).random(w.size) * maximum < w
    over = w > maximum
    return UnweightedEvents(
        x=events.x[keep],
        w_max=maximum,
        n_input=int(w.size),
        efficiency=float(keep.mean()),
        overweight_fraction=float(over.mean()),
        overweight_weights=w[over] / maximum,
    )
