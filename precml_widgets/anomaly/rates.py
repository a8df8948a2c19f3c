"""Trigger rates, signal efficiencies and ROC curves of a score-threshold anomaly trigger."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, overload

import numpy as np
import numpy.typing as npt
from numpy.typing import ArrayLike

from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError

__all__ = [
    "DEFAULT_INPUT_RATE_HZ",
    "LHC_BUNCH_SLOTS",
    "LHC_REVOLUTION_HZ",
    "BinomialEstimate",
    "EfficiencyResult",
    "OperatingPoint",
    "RateResult",
    "RocCurve",
    "ScoreSample",
    "clopper_pearson",
    "efficiency_at_threshold",
    "lhc_collision_rate_hz",
    "operating_point",
    "rate_at_threshold",
    "roc_curve",
    "roc_points_for_plot",
    "threshold_for_rate",
]

#: LHC revolution frequency in Hz (one turn of the 26.7 km ring).
LHC_REVOLUTION_HZ: float = 11245.5

#: Number of 25 ns bunch slots per LHC orbit (3564 × 11245.5 Hz ≈ 40.08 MHz).
LHC_BUNCH_SLOTS: int = 3564

_ONE_SIGMA_CL = 0.6827


# --------------------------------------------------------------------------- validation helpers


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InvalidInputError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}; "
            f"pass a whole number such as int({name})."
        )
    return int(value)


def _check_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidInputError(
            f"{name} must be a real number, got {value!r} of type {type(value).__name__}; "
            f"pass a float."
        )
    return float(value)


def _check_positive_finite(name: str, value: object, unit: str = "") -> float:
    x = _check_real(name, value)
    if not math.isfinite(x) or x <= 0.0:
        u = f" {unit}" if unit else ""
        raise InvalidInputError(
            f"{name} must be a positive finite number{u}, got {x!r}; "
            f"pass a value > 0 (and not NaN or infinity)."
        )
    return x


def _check_cl(cl: object) -> float:
    x = _check_real("cl", cl)
    if not (0.0 < x < 1.0):
        raise InvalidInputError(
            f"cl (confidence level) must lie strictly between 0 and 1, got {x!r}; "
            f"use e.g. 0.6827 for 68.27 % (1 sigma) or 0.95 for 95 %."
        )
    return x


def _check_threshold(threshold: object) -> float:
    t = _check_real("threshold", threshold)
    if math.isnan(t):
        raise InvalidInputError(
            "threshold must be a number, got NaN; pass a finite score value "
            "(or ±inf to let every / no event pass)."
        )
    return t


def _check_sample(name: str, value: object) -> ScoreSample:
    if not isinstance(value, ScoreSample):
        raise InvalidInputError(
            f"{name} must be a ScoreSample, got {type(value).__name__}; "
            f"wrap the scores with ScoreSample('sample name', scores)."
        )
    return value


# --------------------------------------------------------------------------- LHC input rate


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
    nb = _check_int("filled_bunches", filled_bunches)
    if not 1 <= nb <= LHC_BUNCH_SLOTS:
        raise InvalidInputError(
            f"filled_bunches must be between 1 and {LHC_BUNCH_SLOTS} (the LHC bunch slots), "
            f"got {nb}; typical physics fills have about 2500-2800 colliding bunches."
        )
    return LHC_REVOLUTION_HZ * nb


#: Default input rate in Hz (colliding-bunch rate): 2544 colliding bunches × 11245.5 Hz ≈ 28.6 MHz.
DEFAULT_INPUT_RATE_HZ: float = lhc_collision_rate_hz()


# --------------------------------------------------------------------------- binomial intervals


@dataclass(frozen=True)
class BinomialEstimate:
    """A binomial fraction ``k / n`` with its Clopper–Pearson interval.

    Attributes:
        k: number of successes (events passing).
        n: number of trials (events in the sample).
        value: the point estimate ``k / n``.
        lower: lower end of the central interval (0 when ``k == 0``).
        upper: upper end of the central interval (1 when ``k == n``).
        cl: the confidence level of the interval, e.g. 0.6827.

    Example:
        >>> est = clopper_pearson(5, 10, cl=0.95)
        >>> (est.value, round(est.lower, 4), round(est.upper, 4))
        (0.5, 0.1871, 0.8129)
    """

    k: int
    n: int
    value: float
    lower: float
    upper: float
    cl: float

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dictionary of the fields.

        Returns:
            ``{"k", "n", "value", "lower", "upper", "cl"}`` as Python ints and floats.
        """
        return {
            "k": int(self.k),
            "n": int(self.n),
            "value": float(self.value),
            "lower": float(self.lower),
            "upper": float(self.upper),
            "cl": float(self.cl),
        }


def clopper_pearson(k: int, n: int, cl: float = _ONE_SIGMA_CL) -> BinomialEstimate:
    """Exact (Clopper–Pearson) two-sided central interval for a binomial fraction.

    The interval ``[lower, upper]`` puts ``(1 - cl) / 2`` in each tail:
    ``lower = Beta⁻¹((1-cl)/2; k, n-k+1)`` and ``upper = Beta⁻¹((1+cl)/2; k+1, n-k)``,
    with ``lower = 0`` when ``k = 0`` and ``upper = 1`` when ``k = n``. Its coverage is at
    least ``cl`` for every true fraction (it is conservative).

    Args:
        k: number of successes, ``0 <= k <= n``.
        n: number of trials, ``n >= 1``.
        cl: confidence level in (0, 1); the default 0.6827 is the 1σ central interval.

    Returns:
        A :class:`BinomialEstimate` with ``value = k / n``.

    Raises:
        InvalidInputError: for non-integer ``k`` / ``n``, ``n < 1``, ``k`` outside
            ``0..n`` or ``cl`` outside (0, 1).

    References:
        C. J. Clopper and E. S. Pearson, "The use of confidence or fiducial limits
        illustrated in the case of the binomial", Biometrika 26 (1934) 404.

    Example:
        >>> est = clopper_pearson(0, 10, cl=0.95)
        >>> (est.value, est.lower, round(est.upper, 4))
        (0.0, 0.0, 0.3085)
    """
    k = _check_int("k", k)
    n = _check_int("n", n)
    cl = _check_cl(cl)
    if n < 1:
        raise InvalidInputError(
            f"n (number of trials) must be at least 1, got {n}; an empty sample has no fraction."
        )
    if not 0 <= k <= n:
        raise InvalidInputError(
            f"k (number of successes) must lie in 0..n = 0..{n}, got {k}; "
            f"check that the passing count comes from the same sample as n."
        )
    from scipy.stats import beta

    alpha = 1.0 - cl
    lower = 0.0 if k == 0 else float(beta.ppf(alpha / 2.0, k, n - k + 1))
    upper = 1.0 if k == n else float(beta.ppf(1.0 - alpha / 2.0, k + 1, n - k))
    return BinomialEstimate(k=k, n=n, value=k / n, lower=lower, upper=upper, cl=cl)


def _one_sided_zero_upper(n: int, cl: float) -> float:
    """One-sided upper limit on p when 0 of n pass: ``1 - (1 - cl)^(1/n)`` (≈ 3/n at 95 %)."""
    return float(-np.expm1(np.log1p(-cl) / n))


# --------------------------------------------------------------------------- score samples


class ScoreSample:
    """The anomaly scores of one event sample, sorted once for O(log N) threshold queries.

    An event passes a threshold ``t`` when its score is strictly greater than ``t``.

    Args:
        name: human-readable sample name, e.g. ``"fast-sim dimuon background"``.
        scores: the per-event scores, shape ``(N,)``, finite; copied, not referenced.
        description: optional longer free text (provenance, selection...).
        is_real: ``True`` for recorded collision data, ``False`` for simulation,
            ``None`` when unknown.

    Raises:
        InvalidInputError: if ``name`` is empty, or ``scores`` is not 1-D, empty,
            not numeric, or contains NaN / ±inf.

    Example:
        >>> s = ScoreSample("toy background", [3.0, 1.0, 2.0, 2.0])
        >>> s.label
        'toy background (4 events)'
        >>> s.n_above(1.5), s.n_above(2.0), s.fraction_above(0.0)
        (3, 1, 1.0)
        >>> s.n_above(np.array([0.0, 2.0, 5.0])).tolist()
        [4, 1, 0]
    """

    __slots__ = ("_description", "_is_real", "_name", "_sorted")

    def __init__(
        self,
        name: str,
        scores: ArrayLike,
        *,
        description: str = "",
        is_real: bool | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(
                f"name must be a non-empty string naming the sample, got {name!r}; "
                f"e.g. ScoreSample('zero-bias 2024 run', scores)."
            )
        if not isinstance(description, str):
            raise InvalidInputError(
                f"description of sample '{name}' must be a string, got "
                f"{type(description).__name__}; pass free text or leave it out."
            )
        if is_real is not None and not isinstance(is_real, bool | np.bool_):
            raise InvalidInputError(
                f"is_real of sample '{name}' must be True (recorded data), False (simulation) "
                f"or None (unknown), got {is_real!r}."
            )
        try:
            arr = np.array(scores, dtype=np.float64, copy=True)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"scores of sample '{name}' must be numeric, but converting them to float64 "
                f"failed ({exc}); pass a 1-D array of numbers."
            ) from exc
        if arr.ndim != 1:
            raise InvalidInputError(
                f"scores of sample '{name}' must be 1-D (one score per event), got shape "
                f"{arr.shape}; flatten them with np.ravel(scores) if that is what you mean."
            )
        if arr.size == 0:
            raise InvalidInputError(
                f"scores of sample '{name}' are empty; a rate or efficiency needs at least "
                f"one event, so check the file / selection that produced them."
            )
        bad = ~np.isfinite(arr)
        n_bad = int(np.count_nonzero(bad))
        if n_bad:
            n_nan = int(np.count_nonzero(np.isnan(arr)))
            raise InvalidInputError(
                f"scores of sample '{name}' contain {n_bad} non-finite value(s) of {arr.size} "
                f"({n_nan} NaN, {n_bad - n_nan} ±inf); fix the model output, or drop them "
                f"explicitly with scores[np.isfinite(scores)] and note the loss."
            )
        arr.sort(kind="stable")
        arr.setflags(write=False)
        self._name = name
        self._description = description
        self._is_real = None if is_real is None else bool(is_real)
        self._sorted = arr

    @property
    def name(self) -> str:
        """The sample name."""
        return self._name

    @property
    def description(self) -> str:
        """Free-text description of the sample (may be empty)."""
        return self._description

    @property
    def is_real(self) -> bool | None:
        """``True`` for recorded data, ``False`` for simulation, ``None`` if unknown."""
        return self._is_real

    @property
    def n(self) -> int:
        """Number of events N in the sample."""
        return int(self._sorted.size)

    def __len__(self) -> int:
        return self.n

    @property
    def sorted_scores(self) -> npt.NDArray[np.float64]:
        """The scores as float64, ascending, shape ``(N,)``; the array is read-only."""
        return self._sorted

    @property
    def min_resolvable_fpr(self) -> float:
        """Smallest non-zero fraction this sample can measure: ``1 / N``."""
        return 1.0 / self.n

    @property
    def label(self) -> str:
        """``"<name> (<N> events)"`` with thousands separators, for plots and reports."""
        unit = "event" if self.n == 1 else "events"
        return f"{self._name} ({self.n:,} {unit})"

    def __repr__(self) -> str:
        return (
            f"ScoreSample({self._name!r}, n={self.n}, is_real={self._is_real!r}, "
            f"min={self._sorted[0]:.6g}, max={self._sorted[-1]:.6g})"
        )

    @overload
    def n_above(self, threshold: float) -> int: ...

    @overload
    def n_above(self, threshold: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.int64]: ...

    def n_above(
        self, threshold: float | npt.NDArray[np.floating[Any]]
    ) -> int | npt.NDArray[np.int64]:
        """Number of events with score strictly greater than ``threshold``.

        Args:
            threshold: a score threshold, or an array of thresholds of any shape.
                NaN is rejected; ±inf are allowed.

        Returns:
            An ``int`` for a scalar threshold, else an int64 array of the same shape.

        Example:
            >>> ScoreSample("s", [0.0, 1.0, 1.0, 2.0]).n_above(1.0)
            1
        """
        t = np.asarray(threshold, dtype=np.float64)
        if np.isnan(t).any():
            raise InvalidInputError(
                f"threshold for sample '{self._name}' contains NaN; pass finite score "
                f"values (or ±inf)."
            )
        counts = self.n - np.searchsorted(self._sorted, t, side="right")
        if t.ndim == 0:
            return int(counts)
        return np.asarray(counts, dtype=np.int64)

    @overload
    def fraction_above(self, threshold: float) -> float: ...

    @overload
    def fraction_above(
        self, threshold: npt.NDArray[np.floating[Any]]
    ) -> npt.NDArray[np.float64]: ...

    def fraction_above(
        self, threshold: float | npt.NDArray[np.floating[Any]]
    ) -> float | npt.NDArray[np.float64]:
        """Fraction of events with score strictly greater than ``threshold``.

        Args:
            threshold: a score threshold, or an array of thresholds.

        Returns:
            A ``float`` in [0, 1] for a scalar threshold, else a float64 array.

        Example:
            >>> ScoreSample("s", [0.0, 1.0, 1.0, 2.0]).fraction_above(0.5)
            0.75
        """
        counts = self.n_above(threshold)
        if isinstance(counts, int):
            return counts / self.n
        return counts / float(self.n)


# --------------------------------------------------------------------------- rates


def _cl_text(cl: float) -> str:
    pct = 100.0 * cl
    return f"{pct:.0f}%" if 1 <= round(pct) <= 99 else f"{pct:.3g}%"


def _sig3(x: float) -> str:
    if x == 0.0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


def _hz_unit(ref_hz: float) -> tuple[float, str]:
    for scale, unit in ((1e9, "GHz"), (1e6, "MHz"), (1e3, "kHz")):
        if abs(ref_hz) >= scale:
            return scale, unit
    return 1.0, "Hz"


def _format_hz(value_hz: float) -> str:
    scale, unit = _hz_unit(value_hz)
    return f"{_sig3(value_hz / scale)} {unit}"


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
        cl = _cl_text(self.fpr.cl)
        inp = _format_hz(self.input_rate_hz)
        syst = ""
        if systematic_hz is not None:
            down, up = (float(v) for v in systematic_hz)
            if not (np.isfinite(down) and np.isfinite(up) and down <= 0.0 <= up):
                raise InvalidInputError(
                    f"systematic_hz must be (down <= 0, up >= 0) in Hz, got {systematic_hz!r}"
                )
            ref = self.rate_hz if self.n_pass > 0 else (self.upper_limit_rate_hz or up or 1.0)
            scale, unit = _hz_unit(ref)
            label = "syst" if systematic_label == "syst" else f"syst, {systematic_label}"
            syst = f" ({label} +{_sig3(up / scale)}/-{_sig3(-down / scale)} {unit})"
        if self.n_pass == 0 and self.upper_limit_fpr is not None:
            ul_rate = self.upper_limit_fpr * self.input_rate_hz
            return (
                f"rate < {_format_hz(ul_rate)} ({cl} CL one-sided upper limit; 0 of "
                f"{self.n_total:,} events pass){syst} = FPR < {self.upper_limit_fpr:.2e} × "
                f"{inp} input; FPR measured on {self.sample}"
            )
        scale, unit = _hz_unit(self.rate_hz)
        stat = "stat " if syst else ""
        return (
            f"rate {_sig3(self.rate_hz / scale)} {unit} ({stat}{cl} CL "
            f"[{_sig3(self.rate_lower_hz / scale)}, {_sig3(self.rate_upper_hz / scale)}] "
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
    cl: float = _ONE_SIGMA_CL,
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
    background = _check_sample("background", background)
    t = _check_threshold(threshold)
    rate_in = _check_positive_finite("input_rate_hz", input_rate_hz, "Hz")
    cl = _check_cl(cl)
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
        upper_limit_fpr=_one_sided_zero_upper(n, cl) if k == 0 else None,
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
    background = _check_sample("background", background)
    target = _check_positive_finite("target_rate_hz", target_rate_hz, "Hz")
    rate_in = _check_positive_finite("input_rate_hz", input_rate_hz, "Hz")
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
            f"{_format_hz(rate_in)} input) is below the smallest non-zero rate that "
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


# --------------------------------------------------------------------------- efficiencies


@dataclass(frozen=True)
class EfficiencyResult:
    """Signal efficiency of ``score > threshold`` on one signal sample.

    Attributes:
        sample: label of the signal sample.
        threshold: the score threshold.
        efficiency: the fraction passing with its Clopper–Pearson interval.

    Example:
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
    signal: ScoreSample, threshold: float, *, cl: float = _ONE_SIGMA_CL
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
        >>> sig = ScoreSample("toy signal", np.arange(10.0))
        >>> e = efficiency_at_threshold(sig, 6.0, cl=0.95).efficiency
        >>> e.k, e.n, round(e.lower, 4), round(e.upper, 4)
        (3, 10, 0.0667, 0.6525)
    """
    signal = _check_sample("signal", signal)
    t = _check_threshold(threshold)
    cl = _check_cl(cl)
    est = clopper_pearson(signal.n_above(t), signal.n, cl)
    return EfficiencyResult(sample=signal.label, threshold=t, efficiency=est)


# --------------------------------------------------------------------------- ROC curves


@dataclass(frozen=True, eq=False)
class RocCurve:
    """ROC curve of background (label 0) against signal (label 1).

    ``thresholds`` use this module's convention: an event passes if ``score >
    threshold``. (scikit-learn's ``score >= t`` thresholds are converted with
    ``np.nextafter(t, -inf)``, so ``rate_at_threshold(bkg, thresholds[i])`` reproduces
    ``fpr[i]`` exactly.) The first point is (0, 0) at threshold ≈ +max float.

    Attributes:
        background: label of the background sample.
        signal: label of the signal sample.
        fpr: false-positive rates, non-decreasing, shape ``(M,)``, read-only.
        tpr: true-positive rates (signal efficiencies), shape ``(M,)``, read-only.
        thresholds: decreasing thresholds, shape ``(M,)``, read-only.
        auc: area under the curve (Mann–Whitney; ties count 1/2).
        min_resolvable_fpr: ``1 / N_background``.

    Example:
        >>> bkg = ScoreSample("bkg", [0.0, 1.0, 2.0, 3.0])
        >>> sig = ScoreSample("sig", [1.5, 2.0, 4.0])
        >>> round(roc_curve(bkg, sig).auc, 4)  # (2 + 2.5 + 4) / 12
        0.7083
    """

    background: str
    signal: str
    fpr: npt.NDArray[np.float64]
    tpr: npt.NDArray[np.float64]
    thresholds: npt.NDArray[np.float64]
    auc: float
    min_resolvable_fpr: float

    def tpr_at_fpr(self, fpr: float) -> float:
        """Signal efficiency achievable at a false-positive rate of at most ``fpr``.

        This is a step function, not a linear interpolation: it returns the TPR of the
        operating point with the largest FPR that is ``<= fpr`` (the highest TPR among
        points sharing that FPR), because a threshold trigger can only run at those
        points. Note that points dropped by ``drop_intermediate=True`` (straight-line
        runs, which only occur with tied scores in both samples) can make this a slight
        underestimate; build the curve with ``drop_intermediate=False`` or use
        :func:`efficiency_at_threshold` with :func:`threshold_for_rate` for exact values.

        Args:
            fpr: the allowed false-positive rate, ``min_resolvable_fpr <= fpr <= 1``.

        Returns:
            The TPR as a float in [0, 1].

        Raises:
            InvalidInputError: if ``fpr`` is NaN, above 1 or below ``min_resolvable_fpr``.

        Example:
            >>> bkg = ScoreSample("bkg", np.arange(10.0))
            >>> sig = ScoreSample("sig", [3.5, 5.5, 8.5, 9.5])
            >>> curve = roc_curve(bkg, sig)
            >>> curve.tpr_at_fpr(0.1), curve.tpr_at_fpr(0.39), curve.tpr_at_fpr(0.4)
            (0.5, 0.5, 0.75)
        """
        f = _check_real("fpr", fpr)
        if math.isnan(f) or f > 1.0:
            raise InvalidInputError(f"fpr must be a fraction in [0, 1], got {f!r}.")
        if f < self.min_resolvable_fpr:
            needed = f"{math.ceil(1.0 / f):,}" if f > 0 else "infinitely many"
            raise InvalidInputError(
                f"fpr = {f:.3g} is below the smallest FPR the background "
                f"'{self.background}' can resolve (1/N = {self.min_resolvable_fpr:.3g}); "
                f"use a larger background sample (about 1/fpr ≈ {needed} events or more) "
                f"or ask for fpr >= {self.min_resolvable_fpr:.3g}."
            )
        idx = int(np.searchsorted(self.fpr, f, side="right")) - 1
        return float(self.tpr[idx])


def roc_curve(
    background: ScoreSample, signal: ScoreSample, *, drop_intermediate: bool = True
) -> RocCurve:
    """ROC curve and AUC of a score separating ``signal`` (1) from ``background`` (0).

    Uses :func:`sklearn.metrics.roc_curve` and :func:`sklearn.metrics.roc_auc_score`;
    higher scores are more signal-like.

    Args:
        background: background sample, N_b events.
        signal: signal sample, N_s events.
        drop_intermediate: drop points lying on straight segments of the curve
            (passed to scikit-learn; see :meth:`RocCurve.tpr_at_fpr` for the effect).

    Returns:
        A :class:`RocCurve` with arrays of shape ``(M,)``, ``M <= N_b + N_s + 1``.

    Raises:
        InvalidInputError: if either argument is not a :class:`ScoreSample`.
        MissingDependencyError: if scikit-learn is not installed.

    Example:
        >>> bkg = ScoreSample("bkg", [0.0, 1.0])
        >>> sig = ScoreSample("sig", [2.0, 3.0])
        >>> c = roc_curve(bkg, sig)
        >>> c.auc, c.tpr_at_fpr(0.5)
        (1.0, 1.0)
    """
    background = _check_sample("background", background)
    signal = _check_sample("signal", signal)
    metrics = require("sklearn.metrics", "anomaly", "ROC curves")
    scores = np.concatenate([background.sorted_scores, signal.sorted_scores])
    labels = np.concatenate(
        [np.zeros(background.n, dtype=np.int8), np.ones(signal.n, dtype=np.int8)]
    )
    fpr, tpr, thr = metrics.roc_curve(
        labels, scores, pos_label=1, drop_intermediate=bool(drop_intermediate)
    )
    auc = float(metrics.roc_auc_score(labels, scores))
    arrays = []
    for a in (fpr, tpr, np.nextafter(np.asarray(thr, dtype=np.float64), -np.inf)):
        a = np.array(a, dtype=np.float64, copy=True)
        a.setflags(write=False)
        arrays.append(a)
    return RocCurve(
        background=background.label,
        signal=signal.label,
        fpr=arrays[0],
        tpr=arrays[1],
        thresholds=arrays[2],
        auc=auc,
        min_resolvable_fpr=background.min_resolvable_fpr,
    )


def roc_points_for_plot(
    curve: RocCurve, min_fpr: float | None = None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The ROC points with ``fpr > 0`` (and ``fpr >= min_fpr``), ready for a log-x plot.

    Args:
        curve: a :class:`RocCurve`.
        min_fpr: optional lower cut on the FPR, e.g. ``curve.min_resolvable_fpr``.

    Returns:
        ``(fpr, tpr)``, two new float64 arrays of the same shape ``(K,)``.

    Raises:
        InvalidInputError: for a non-RocCurve ``curve`` or a NaN / negative ``min_fpr``.

    Example:
        >>> c = roc_curve(ScoreSample("b", [0.0, 1.0]), ScoreSample("s", [0.5, 2.0]))
        >>> fpr, tpr = roc_points_for_plot(c)
        >>> fpr.tolist(), tpr.tolist()
        ([0.5, 0.5, 1.0], [0.5, 1.0, 1.0])
    """
    if not isinstance(curve, RocCurve):
        raise InvalidInputError(
            f"curve must be a RocCurve, got {type(curve).__name__}; build it with roc_curve()."
        )
    keep = curve.fpr > 0.0
    if min_fpr is not None:
        m = _check_real("min_fpr", min_fpr)
        if math.isnan(m) or m < 0.0:
            raise InvalidInputError(f"min_fpr must be a non-negative fraction or None, got {m!r}.")
        keep &= curve.fpr >= m
    return np.array(curve.fpr[keep]), np.array(curve.tpr[keep])


# --------------------------------------------------------------------------- operating points


@dataclass(frozen=True)
class OperatingPoint:
    """One threshold: its trigger rate and the efficiency on each signal sample.

    Attributes:
        rate: the :class:`RateResult` on the background sample.
        efficiencies: signal key → :class:`EfficiencyResult`, in the order given.

    Example:
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
    cl: float = _ONE_SIGMA_CL,
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
        _check_sample(f"signals[{key!r}]", value)
    rate = rate_at_threshold(background, threshold, input_rate_hz=input_rate_hz, cl=cl)
    effs = {
        key: efficiency_at_threshold(sig, rate.threshold, cl=cl) for key, sig in signals.items()
    }
    return OperatingPoint(rate=rate, efficiencies=effs)
