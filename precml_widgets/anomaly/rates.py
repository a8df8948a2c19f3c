"""Trigger rates of a score-threshold anomaly trigger, and the LHC input rate they scale.

The rate of ``score > threshold`` is the false-positive rate measured on a background sample
times the input rate of the stream that sample represents. This module also re-exports the
rest of the trigger toolkit under its historical import path: :class:`ScoreSample`
(:mod:`~precml_widgets.anomaly.scores`), the Clopper-Pearson intervals
(:mod:`precml_widgets.stats.binomial`), efficiencies
(:mod:`~precml_widgets.anomaly.efficiency`), ROC curves (:mod:`~precml_widgets.anomaly.roc`)
and operating points (:mod:`~precml_widgets.anomaly.operating_point`, loaded on first use).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from precml_widgets._checks import require_int, require_real
from precml_widgets.anomaly.efficiency import EfficiencyResult, efficiency_at_threshold
from precml_widgets.anomaly.formatting import cl_text, format_hz, hz_unit, sig3
from precml_widgets.anomaly.roc import RocCurve, roc_curve, roc_points_for_plot
from precml_widgets.anomaly.scores import ScoreSample, require_sample, require_threshold
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.binomial import (
    ONE_SIGMA_CL,
    BinomialEstimate,
    clopper_pearson,
    require_cl,
    zero_pass_upper_limit,
)

__all__ = [
    "DEFAULT_INPUT_RATE_HZ",
    "LHC_BUNCH_SLOTS",
    "LHC_REVOLUTION_HZ",
    "MAX_INPUT_RATE_HZ",
    "BinomialEstimate",
    "EfficiencyResult",
    "OperatingPoint",  # noqa: F822 (lazy, see __getattr__)
    "RateResult",
    "RocCurve",
    "ScoreSample",
    "clopper_pearson",
    "efficiency_at_threshold",
    "lhc_collision_rate_hz",
    "operating_point",  # noqa: F822 (lazy, see __getattr__)
    "rate_at_threshold",
    "require_input_rate",
    "roc_curve",
    "roc_points_for_plot",
    "threshold_for_rate",
]

#: LHC revolution frequency in Hz (one turn of the 26.7 km ring).
LHC_REVOLUTION_HZ: float = 11245.5

#: Number of 25 ns bunch slots per LHC orbit (3564 × 11245.5 Hz ≈ 40.08 MHz).
LHC_BUNCH_SLOTS: int = 3564

#: The largest input rate any LHC stream can have: every bunch slot colliding (≈ 40.08 MHz).
MAX_INPUT_RATE_HZ: float = LHC_REVOLUTION_HZ * LHC_BUNCH_SLOTS

_RATE_HINT = (
    "the input rate is the stream's collision rate, at most the LHC's 40.08 MHz bunch-crossing "
    "rate (e.g. DEFAULT_INPUT_RATE_HZ, 28.6 MHz); check the unit (Hz, not kHz or MHz)."
)

#: Names re-exported from :mod:`precml_widgets.anomaly.operating_point`, which itself builds
#: on this module (so they are imported on first access, not at import time).
_LAZY = {"OperatingPoint", "operating_point"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("precml_widgets.anomaly.operating_point"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- LHC input rate


def require_input_rate(input_rate_hz: float) -> float:
    """Check an input (collision) rate in Hz: positive and at most :data:`MAX_INPUT_RATE_HZ`.

    Raises:
        InvalidInputError: naming ``input_rate_hz``, the range and the likely unit mistake.
    """
    return require_real(
        "input_rate_hz",
        input_rate_hz,
        low=0.0,
        low_open=True,
        high=MAX_INPUT_RATE_HZ,
        unit="Hz",
        hint=_RATE_HINT,
    )


def lhc_collision_rate_hz(filled_bunches: int = 2544) -> float:
    """Bunch-crossing rate of colliding bunches at the LHC (the input rate of a zero-bias stream).

    Args:
        filled_bunches: number of colliding bunch pairs per orbit, 1 to
            :data:`LHC_BUNCH_SLOTS` (3564); typical physics fills have ~2500–2800.

    Returns:
        The rate in Hz: ``LHC_REVOLUTION_HZ × filled_bunches``.

    Raises:
        InvalidInputError: if ``filled_bunches`` is not an integer in 1..3564.

    Example:
        >>> round(lhc_collision_rate_hz() / 1e6, 2)  # default 2544 bunches, in MHz
        28.61
        >>> round(lhc_collision_rate_hz(LHC_BUNCH_SLOTS) / 1e6, 2)  # every slot filled
        40.08
    """
    nb = require_int(
        "filled_bunches",
        filled_bunches,
        low=1,
        high=LHC_BUNCH_SLOTS,
        hint=f"the LHC has {LHC_BUNCH_SLOTS} bunch slots; typical physics fills have about "
        "2500-2800 colliding bunches.",
    )
    return LHC_REVOLUTION_HZ * nb


#: Default input rate in Hz (colliding-bunch rate): 2544 colliding bunches × 11245.5 Hz ≈ 28.6 MHz.
DEFAULT_INPUT_RATE_HZ: float = lhc_collision_rate_hz()


# --------------------------------------------------------------------------- rates


@dataclass(frozen=True)
class RateResult:
    """The trigger rate of one threshold, measured on a background sample.

    ``rate_hz = fpr.value × input_rate_hz``; the interval scales the Clopper–Pearson
    interval of the FPR the same way (the input rate is taken as exact).

    Attributes:
        threshold: the score threshold; events with score > threshold fire the trigger.
        sample: label of the background sample the FPR was measured on.
        n_total: number of background events N.
        n_pass: number of background events with score > threshold.
        fpr: the false-positive rate ``n_pass / n_total`` with its interval.
        input_rate_hz: the input rate in Hz of the stream the background sample represents.
        rate_hz: the trigger rate in Hz.
        rate_lower_hz: lower end of the rate interval in Hz.
        rate_upper_hz: upper end of the rate interval in Hz.
        min_resolvable_fpr: ``1 / n_total``, the smallest non-zero FPR the sample measures.
        upper_limit_fpr: when ``n_pass == 0``, the one-sided upper limit on the FPR at
            ``fpr.cl``, ``1 - (1 - cl)^(1/N)`` (≈ 3/N at 95 %); else ``None``.

    Example:
        >>> bkg = ScoreSample("toy zero-bias", np.arange(100.0))
        >>> r = rate_at_threshold(bkg, 89.5, input_rate_hz=40e6)
        >>> r.n_pass, r.fpr.value, r.rate_hz
        (10, 0.1, 4000000.0)
        >>> print(r.describe())
        rate 4.00 MHz (68% CL [2.79, 5.58] MHz) = FPR 1.00e-01 × 40.0 MHz input; \
FPR measured on toy zero-bias (100 events)
    """

    threshold: float
    sample: str
    n_total: int
    n_pass: int
    fpr: BinomialEstimate
    input_rate_hz: float
    rate_hz: float
    rate_lower_hz: float
    rate_upper_hz: float
    min_resolvable_fpr: float
    upper_limit_fpr: float | None

    @property
    def upper_limit_rate_hz(self) -> float | None:
        """``upper_limit_fpr × input_rate_hz`` in Hz when no event passes, else ``None``."""
        if self.upper_limit_fpr is None:
            return None
        return self.upper_limit_fpr * self.input_rate_hz

    def describe(
        self, systematic_hz: tuple[float, float] | None = None, systematic_label: str = "syst"
    ) -> str:
        """One-line human-readable summary with units, interval and the sample used.

        Args:
            systematic_hz: optional systematic shift of the rate, ``(down <= 0, up >= 0)``
                in Hz (e.g. the kernel-width systematic of
                :func:`precml_widgets.anomaly.study.bandwidth_systematic`), quoted after the
                statistical interval.
            systematic_label: what the systematic is, in a few words.

        Returns:
            E.g. ``"rate 12.3 kHz (68% CL [11.9, 12.8] kHz) = FPR 4.30e-04 × 28.6 MHz
            input; FPR measured on <sample label>"``; with a systematic,
            ``"rate 12.3 kHz (stat 68% CL [11.9, 12.8] kHz) (syst, <label> +0.4/-0.3 kHz)
            = ..."``; when no event passes, the one-sided upper limit is quoted instead.

        Raises:
            InvalidInputError: if ``systematic_hz`` is not ``(down <= 0, up >= 0)``.

        Example:
            >>> r = rate_at_threshold(ScoreSample("toy", np.arange(100.0)), 89.5)
            >>> r.describe((-2e5, 3e5), "width").split(" = ")[0]
            'rate 2.86 MHz (stat 68% CL [1.99, 3.99] MHz) (syst, width +0.300/-0.200 MHz)'
        """
        cl = cl_text(self.fpr.cl)
        inp = format_hz(self.input_rate_hz)
        syst = ""
        if systematic_hz is not None:
            down, up = (float(v) for v in systematic_hz)
            if not (np.isfinite(down) and np.isfinite(up) and down <= 0.0 <= up):
                raise InvalidInputError(
                    f"systematic_hz must be (down <= 0, up >= 0) in Hz, got {systematic_hz!r}"
                )
            ref = self.rate_hz if self.n_pass > 0 else (self.upper_limit_rate_hz or up or 1.0)
            scale, unit = hz_unit(ref)
            label = "syst" if systematic_label == "syst" else f"syst, {systematic_label}"
            syst = f" ({label} +{sig3(up / scale)}/-{sig3(-down / scale)} {unit})"
        if self.n_pass == 0 and self.upper_limit_fpr is not None:
            ul_rate = self.upper_limit_fpr * self.input_rate_hz
            return (
                f"rate < {format_hz(ul_rate)} ({cl} CL one-sided upper limit; 0 of "
                f"{self.n_total:,} events pass){syst} = FPR < {self.upper_limit_fpr:.2e} × "
                f"{inp} input; FPR measured on {self.sample}"
            )
        scale, unit = hz_unit(self.rate_hz)
        stat = "stat " if syst else ""
        return (
            f"rate {sig3(self.rate_hz / scale)} {unit} ({stat}{cl} CL "
            f"[{sig3(self.rate_lower_hz / scale)}, {sig3(self.rate_upper_hz / scale)}] "
            f"{unit}){syst} = FPR {self.fpr.value:.2e} × {inp} input; FPR measured on "
            f"{self.sample}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dictionary (``fpr`` becomes a nested dictionary).

        Returns:
            The fields as Python str / int / float / None, plus ``"cl"`` and
            ``"description"`` (the :meth:`describe` text).
        """
        return {
            "threshold": float(self.threshold),
            "sample": str(self.sample),
            "n_total": int(self.n_total),
            "n_pass": int(self.n_pass),
            "fpr": self.fpr.to_dict(),
            "cl": float(self.fpr.cl),
            "input_rate_hz": float(self.input_rate_hz),
            "rate_hz": float(self.rate_hz),
            "rate_lower_hz": float(self.rate_lower_hz),
            "rate_upper_hz": float(self.rate_upper_hz),
            "min_resolvable_fpr": float(self.min_resolvable_fpr),
            "upper_limit_fpr": None
            if self.upper_limit_fpr is None
            else float(self.upper_limit_fpr),
            "description": self.describe(),
        }


def rate_at_threshold(
    background: ScoreSample,
    threshold: float,
    *,
    input_rate_hz: float = DEFAULT_INPUT_RATE_HZ,
    cl: float = ONE_SIGMA_CL,
) -> RateResult:
    """Trigger rate in Hz of ``score > threshold`` on a background sample.

    Args:
        background: the background sample, N events (a physical L1 rate needs the unbiased,
            zero-bias input stream; precml's study uses a dimuon-triggered stream).
        threshold: the score threshold (strict ``>``); NaN is rejected.
        input_rate_hz: collision rate of the input stream in Hz, by default
            :data:`DEFAULT_INPUT_RATE_HZ` (≈ 28.6 MHz, 2544 LHC bunches).
        cl: confidence level of the Clopper–Pearson interval (default 1σ, 0.6827).

    Returns:
        A :class:`RateResult`; ``rate_hz = (n_pass / N) × input_rate_hz``.

    Raises:
        InvalidInputError: for a non-ScoreSample background, NaN threshold,
            non-positive input rate or ``cl`` outside (0, 1).

    Example:
        >>> bkg = ScoreSample("toy", np.arange(100.0))
        >>> r = rate_at_threshold(bkg, 89.5, input_rate_hz=1000.0)
        >>> r.n_pass, r.rate_hz
        (10, 100.0)
        >>> r0 = rate_at_threshold(bkg, 1e9, input_rate_hz=1000.0, cl=0.95)
        >>> r0.n_pass, round(r0.upper_limit_fpr * 100, 3)  # ≈ 3 / N
        (0, 2.951)
    """
    background = require_sample("background", background)
    t = require_threshold(threshold)
    rate_in = require_input_rate(input_rate_hz)
    cl = require_cl(cl)
    n = background.n
    k = background.n_above(t)
    fpr = clopper_pearson(k, n, cl)
    return RateResult(
        threshold=t,
        sample=background.label,
        n_total=n,
        n_pass=k,
        fpr=fpr,
        input_rate_hz=rate_in,
        rate_hz=fpr.value * rate_in,
        rate_lower_hz=fpr.lower * rate_in,
        rate_upper_hz=fpr.upper * rate_in,
        min_resolvable_fpr=background.min_resolvable_fpr,
        upper_limit_fpr=zero_pass_upper_limit(n, cl) if k == 0 else None,
    )


def threshold_for_rate(
    background: ScoreSample,
    target_rate_hz: float,
    *,
    input_rate_hz: float = DEFAULT_INPUT_RATE_HZ,
) -> float:
    """Smallest threshold (a background score) whose trigger rate is at most the target.

    With the background scores sorted, the returned ``t`` satisfies
    ``rate_at_threshold(background, t).rate_hz <= target_rate_hz`` while any lower
    distinct score would give a rate above the target (ties are handled: all events
    sharing the score ``t`` fail). If ``target_rate_hz >= input_rate_hz`` every event may
    pass and the value just below the smallest score (``np.nextafter``) is returned.

    Args:
        background: the background sample, N events.
        target_rate_hz: the allowed trigger rate in Hz, positive and finite.
        input_rate_hz: collision rate of the input stream in Hz.

    Returns:
        The threshold as a float.

    Raises:
        InvalidInputError: for non-positive / non-finite rates, or when the target
            FPR ``target_rate_hz / input_rate_hz`` is below ``1 / N`` (the sample cannot
            resolve it; about ``1 / FPR`` background events are needed).

    Example:
        >>> bkg = ScoreSample("toy", np.arange(100.0))
        >>> t = threshold_for_rate(bkg, 100.0, input_rate_hz=1000.0)  # FPR 0.1
        >>> float(t), rate_at_threshold(bkg, t, input_rate_hz=1000.0).n_pass
        (89.0, 10)
    """
    background = require_sample("background", background)
    target = require_real(
        "target_rate_hz", target_rate_hz, low=0.0, low_open=True, unit="Hz", hint=_RATE_HINT
    )
    rate_in = require_input_rate(input_rate_hz)
    s = background.sorted_scores
    n = background.n
    if target >= rate_in:
        return float(np.nextafter(s[0], -np.inf))

    def rate_of(k: int) -> float:  # the same arithmetic as rate_at_threshold
        return (k / n) * rate_in

    if rate_of(1) > target:
        target_fpr = target / rate_in
        raise InvalidInputError(
            f"target_rate_hz = {target:.6g} Hz (FPR {target_fpr:.3g} of the "
            f"{format_hz(rate_in)} input) is below the smallest non-zero rate that "
            f"'{background.label}' can resolve: input_rate / N = {rate_of(1):.6g} Hz "
            f"(FPR 1/N = {1.0 / n:.3g}). Use a background sample with more events "
            f"(at least ~1/FPR ≈ {math.ceil(1.0 / target_fpr):,}, several times that for a "
            f"useful precision) or a higher target rate."
        )
    kmax = min(n - 1, math.floor(target / rate_in * n))
    while kmax + 1 < n and rate_of(kmax + 1) <= target:
        kmax += 1
    while rate_of(kmax) > target:
        kmax -= 1
    # Every data point below s[n-1-kmax] has at least kmax+1 scores above it; s[n-1-kmax]
    # has at most kmax (only s[n-kmax:] can be strictly greater).
    return float(s[n - 1 - kmax])
