"""Signal efficiency of a score-threshold trigger: the fraction of a signal sample passing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from precml_widgets.anomaly.scores import ScoreSample, require_sample, require_threshold
from precml_widgets.stats.binomial import (
    ONE_SIGMA_CL,
    BinomialEstimate,
    clopper_pearson,
    require_cl,
)

__all__ = ["EfficiencyResult", "efficiency_at_threshold"]


@dataclass(frozen=True)
class EfficiencyResult:
    """Signal efficiency of ``score > threshold`` on one signal sample.

    Attributes:
        sample: label of the signal sample.
        threshold: the score threshold.
        efficiency: the fraction passing with its Clopper–Pearson interval.

    Example:
        >>> import numpy as np
        >>> sig = ScoreSample("toy signal", [1.0, 2.0, 3.0, 4.0])
        >>> efficiency_at_threshold(sig, 2.5).efficiency.value
        0.5
    """

    sample: str
    threshold: float
    efficiency: BinomialEstimate

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dictionary (``efficiency`` nested).

        Returns:
            ``{"sample", "threshold", "efficiency": {...}}``.
        """
        return {
            "sample": str(self.sample),
            "threshold": float(self.threshold),
            "efficiency": self.efficiency.to_dict(),
        }


def efficiency_at_threshold(
    signal: ScoreSample, threshold: float, *, cl: float = ONE_SIGMA_CL
) -> EfficiencyResult:
    """Fraction of a signal sample with score strictly greater than ``threshold``.

    Args:
        signal: the signal sample, N events.
        threshold: the score threshold; NaN is rejected.
        cl: confidence level of the Clopper–Pearson interval.

    Returns:
        An :class:`EfficiencyResult`.

    Raises:
        InvalidInputError: for a non-ScoreSample signal, NaN threshold or bad ``cl``.

    Example:
        >>> import numpy as np
        >>> sig = ScoreSample("toy signal", np.arange(10.0))
        >>> e = efficiency_at_threshold(sig, 6.0, cl=0.95).efficiency
        >>> e.k, e.n, round(e.lower, 4), round(e.upper, 4)
        (3, 10, 0.0667, 0.6525)
    """
    signal = require_sample("signal", signal)
    t = require_threshold(threshold)
    cl = require_cl(cl)
    est = clopper_pearson(signal.n_above(t), signal.n, cl)
    return EfficiencyResult(sample=signal.label, threshold=t, efficiency=est)
