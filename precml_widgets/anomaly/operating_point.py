"""One trigger threshold: its rate on the background and its efficiency on every signal."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from precml_widgets.anomaly.efficiency import EfficiencyResult, efficiency_at_threshold
from precml_widgets.anomaly.rates import (
    DEFAULT_INPUT_RATE_HZ,
    RateResult,
    rate_at_threshold,
)
from precml_widgets.anomaly.scores import ScoreSample, require_sample
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.binomial import ONE_SIGMA_CL

__all__ = ["OperatingPoint", "operating_point"]


@dataclass(frozen=True)
class OperatingPoint:
    """One threshold: its trigger rate and the efficiency on each signal sample.

    Attributes:
        rate: the :class:`RateResult` on the background sample.
        efficiencies: signal key → :class:`EfficiencyResult`, in the order given.

    Example:
        >>> import numpy as np
        >>> bkg = ScoreSample("bkg", np.arange(100.0))
        >>> sigs = {"A": ScoreSample("signal A", np.arange(50.0, 150.0))}
        >>> op = operating_point(bkg, sigs, 89.5, input_rate_hz=1000.0)
        >>> op.rate.rate_hz, op.efficiencies["A"].efficiency.value
        (100.0, 0.6)
        >>> [row["kind"] for row in op.to_rows()]
        ['background', 'signal']
    """

    rate: RateResult
    efficiencies: dict[str, EfficiencyResult]

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable nested dictionary.

        Returns:
            ``{"rate": {...}, "efficiencies": {key: {...}}}``.
        """
        return {
            "rate": self.rate.to_dict(),
            "efficiencies": {str(k): v.to_dict() for k, v in self.efficiencies.items()},
        }

    def to_rows(self) -> list[dict[str, Any]]:
        """Flat rows for a table / CSV: the background first, then one per signal.

        Every row has the same keys: ``key`` ("background" or the signal's key),
        ``sample`` (label), ``kind`` ("background" / "signal"), ``threshold``,
        ``n_total``, ``n_pass``, ``fraction``, ``lower``, ``upper``, ``cl``,
        ``input_rate_hz``, ``rate_hz``, ``rate_lower_hz``, ``rate_upper_hz`` (Hz; the
        rate columns are ``None`` on signal rows).

        Returns:
            A list of ``1 + len(efficiencies)`` dictionaries of plain types.
        """
        r = self.rate
        rows: list[dict[str, Any]] = [
            {
                "key": "background",
                "sample": r.sample,
                "kind": "background",
                "threshold": float(r.threshold),
                "n_total": int(r.n_total),
                "n_pass": int(r.n_pass),
                "fraction": float(r.fpr.value),
                "lower": float(r.fpr.lower),
                "upper": float(r.fpr.upper),
                "cl": float(r.fpr.cl),
                "input_rate_hz": float(r.input_rate_hz),
                "rate_hz": float(r.rate_hz),
                "rate_lower_hz": float(r.rate_lower_hz),
                "rate_upper_hz": float(r.rate_upper_hz),
            }
        ]
        for key, eff in self.efficiencies.items():
            e = eff.efficiency
            rows.append(
                {
                    "key": str(key),
                    "sample": eff.sample,
                    "kind": "signal",
                    "threshold": float(eff.threshold),
                    "n_total": int(e.n),
                    "n_pass": int(e.k),
                    "fraction": float(e.value),
                    "lower": float(e.lower),
                    "upper": float(e.upper),
                    "cl": float(e.cl),
                    "input_rate_hz": None,
                    "rate_hz": None,
                    "rate_lower_hz": None,
                    "rate_upper_hz": None,
                }
            )
        return rows


def operating_point(
    background: ScoreSample,
    signals: Mapping[str, ScoreSample],
    threshold: float,
    *,
    input_rate_hz: float = DEFAULT_INPUT_RATE_HZ,
    cl: float = ONE_SIGMA_CL,
) -> OperatingPoint:
    """Rate and per-signal efficiencies at one threshold.

    Args:
        background: the background sample the rate is measured on.
        signals: signal key → signal sample (may be empty).
        threshold: the score threshold (strict ``>``).
        input_rate_hz: collision rate of the input stream in Hz.
        cl: confidence level of all Clopper–Pearson intervals.

    Returns:
        An :class:`OperatingPoint`.

    Raises:
        InvalidInputError: if ``signals`` is not a mapping of str to ScoreSample, or for
            any error of :func:`rate_at_threshold` / :func:`efficiency_at_threshold`.

    Example:
        >>> import numpy as np
        >>> bkg = ScoreSample("bkg", np.arange(10.0))
        >>> op = operating_point(bkg, {}, 4.5, input_rate_hz=10.0)
        >>> op.rate.rate_hz, op.efficiencies
        (5.0, {})
    """
    if not isinstance(signals, Mapping):
        raise InvalidInputError(
            f"signals must be a mapping of name to ScoreSample, got {type(signals).__name__}; "
            f"pass e.g. {{'A->4l': ScoreSample('A->4l', scores)}}."
        )
    for key, value in signals.items():
        if not isinstance(key, str):
            raise InvalidInputError(
                f"signals keys must be strings, got {key!r} ({type(key).__name__}); "
                f"use the sample name as key."
            )
        require_sample(f"signals[{key!r}]", value)
    rate = rate_at_threshold(background, threshold, input_rate_hz=input_rate_hz, cl=cl)
    effs = {
        key: efficiency_at_threshold(sig, rate.threshold, cl=cl) for key, sig in signals.items()
    }
    return OperatingPoint(rate=rate, efficiencies=effs)
