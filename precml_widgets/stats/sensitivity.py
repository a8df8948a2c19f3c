"""Sensitivity of a two-sample statistic: the smallest deformation it rejects, by bisection.

The definition of arXiv:2409.16336 (as coded in the authors' ``compute_exclusion_bisection``,
github.com/TwoSampleTests/GMetrics, more/optimizers_deformations.py): with a threshold
``t_CL``, the ``CL`` quantile of the statistic's null distribution (both samples from the
reference; the authors use 10^4 toys and the order statistic ``sort(null)[int(N CL)]``), the
sensitivity ``ε_CL`` is the deformation size at which the **mean** of the statistic over toys
with the data drawn from the deformed model (the authors use 100) equals ``t_CL``; it is found
by bisection on ε, with common random numbers across ε. The published ``±`` are the ε at which
mean ∓ one standard deviation of those toys cross ``t_CL`` (a spread of single experiments,
not an error on ε_CL). Here ``criterion="median"`` gives instead the ε at which half of the
experiments reject (50 % power), and the error on ε_CL is a bootstrap over the toys: the null
toys and the alternative toys are resampled (the same toy indices at every evaluated ε, since
toy ``i`` uses the same random numbers at every ε), and the crossing is found again by linear
interpolation between the evaluated ε.

A statistic whose definition depends on the alternative (the likelihood ratio, built from the
deformed model's density) is passed as a factory ``alternative -> Statistic``; its null is
then recomputed at every ε, as the authors do.

References:
    S. Grossi, M. Letizia, R. Torre, arXiv:2409.16336, Sec. 4.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_choice, require_int, require_probability, require_real
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.deformations import Deformed, deformed
from precml_widgets.stats.suite import (
    NullDistribution,
    Statistic,
    get_statistic,
    toy_distribution,
)

__all__ = [
    "BracketStep",
    "Crossing",
    "Sensitivity",
    "bootstrap_gaps",
    "first_crossing",
    "null_threshold",
    "sensitivity",
]

StatisticLike = str | Statistic | Callable[[Deformed], "str | Statistic"]


def null_threshold(values: Any, cl: float) -> float:
    """The paper's ``CL`` threshold: ``sort(values)[int(N CL)]`` (``N`` toys).

    Example:
        >>> null_threshold(np.arange(100.0), 0.95)
        95.0
    """
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    return float(ordered[min(int(ordered.size * cl), ordered.size - 1)])


@dataclass(frozen=True)
class Crossing:
    """Where a score first rises above a threshold on a grid of ε (:func:`first_crossing`).

    Attributes:
        epsilon: the interpolated crossing (``bound == "="``); the grid's first ε when the
            score is already above there (``"<="``: ε_CL is at most this, the grid may start
            above 0); the grid's last ε when the score never rises above (``">"``).
        bound: ``"="``, ``"<="`` or ``">"`` as above.
        error: bootstrap standard deviation of ``epsilon`` (``nan`` when not computed or for
            a bound).
    """

    epsilon: float
    bound: Literal["=", "<=", ">"] = "="
    error: float = math.nan

    @property
    def found(self) -> bool:
        """The crossing lies inside the grid (``bound == "="``)."""
        return self.bound == "="

    def describe(self, digits: int = 3) -> str:
        """``'0.15 ± 0.012'``, ``'0.15'`` (no error), ``'≤ 0.1'`` or ``'> 0.6'``.

        Example:
            >>> Crossing(0.1, "<=").describe()
            '≤ 0.1'
        """
        if self.bound == "<=":
            return f"≤ {self.epsilon:.{digits}g}"
        if self.bound == ">":
            return f"> {self.epsilon:.{digits}g}"
        if math.isfinite(self.error):
            return f"{self.epsilon:.{digits}g} ± {self.error:.2g}"
        return f"{self.epsilon:.{digits}g}"


def first_crossing(epsilons: Any, scores: Any, threshold: float) -> Crossing:
    """The first ε at which ``scores`` rises above ``threshold``, on a grid of ε.

    Linear interpolation between the last grid point with ``score <= threshold`` and the next
    one (the interpolation :func:`sensitivity` applies inside its final bracket). With
    ``scores`` the mean of the alternative toys at each ε and ``threshold`` the null's
    :func:`null_threshold`, this is the paper's ε_CL read off a fixed grid instead of found by
    bisection. A score already above at ``epsilons[0]`` gives only an upper bound
    (``bound="<="``), one never above a lower bound (``bound=">"``).

    Args:
        epsilons: ``(k,)`` strictly ascending, finite deformation sizes.
        scores: ``(k,)`` finite mean (or median) of the statistic over the alternative toys
            at each ε.
        threshold: the null's ``CL`` threshold (finite).

    Returns:
        A :class:`Crossing` (no error: see :func:`bootstrap_gaps`).

    Raises:
        InvalidInputError: mismatched lengths, an unsorted grid, a NaN or infinite value.

    Example:
        >>> first_crossing([0.0, 1.0, 2.0], [1.0, 2.0, 4.0], 3.0).epsilon
        1.5
        >>> first_crossing([0.0, 0.1], [1.0, 2.0], 3.0).describe()
        '> 0.1'
    """
    eps = np.asarray(epsilons, dtype=np.float64)
    values = np.asarray(scores, dtype=np.float64)
    if eps.ndim != 1 or eps.size == 0 or values.shape != eps.shape:
        raise InvalidInputError(
            f"epsilons and scores must have one value per grid point, got shapes {eps.shape} "
            f"and {values.shape}; pass the (k,) grid and its (k,) scores."
        )
    if not np.all(np.isfinite(eps)) or np.any(np.diff(eps) <= 0):
        raise InvalidInputError(
            f"epsilons must be finite and strictly ascending, got {eps.tolist()}; sort the grid."
        )
    if not np.all(np.isfinite(values)):
        raise InvalidInputError(
            "scores must be finite, got NaN or infinity at grid point(s) "
            f"{np.flatnonzero(~np.isfinite(values)).tolist()}; drop the failed toys or fix the "
            "statistic."
        )
    threshold = require_real("threshold", threshold)
    gap = values - threshold
    above = np.flatnonzero(gap > 0)
    if above.size == 0:
        return Crossing(float(eps[-1]), ">")
    i = int(above[0])
    if i == 0:
        return Crossing(float(eps[0]), "<=")
    return Crossing(
        float(eps[i - 1] + (eps[i] - eps[i - 1]) * (-gap[i - 1]) / (gap[i] - gap[i - 1]))
    )


def bootstrap_gaps(
    alternatives: Sequence[Any],
    nulls: Sequence[Any],
    cl: float,
    *,
    criterion: Literal["mean", "median"] = "mean",
    replicas: int = 300,
    seed: int = 0,
) -> npt.NDArray[np.float64]:
    """``score - threshold`` at each ε for ``replicas`` resamplings of the toys.

    Toy ``i`` uses the same random numbers at every ε (common seeds), so one resampling of
    the alternative toy indices (and one of the null toy indices) is applied at every ε
    alike: the curve of the score against ε moves as a whole, as it does between
    independent runs. The crossing of each row is the bootstrap replica of ε_CL.

    Args:
        alternatives: per ε, ``(A,)`` alternative toys (the same ``A`` at every ε).
        nulls: per ε, ``(N,)`` null toys (the same array repeated for a fixed statistic).
        cl: confidence level of the threshold :func:`null_threshold`.
        criterion: ``"mean"`` or ``"median"`` of the alternative toys.
        replicas: bootstrap replicas.
        seed: seeds the resampling.

    Returns:
        ``(replicas, k)`` gaps, ``k = len(alternatives)``.

    Example:
        >>> gaps = bootstrap_gaps([np.zeros(5), np.ones(5)], [np.zeros(20)] * 2, 0.9)
        >>> gaps.shape, float(gaps[:, 1].min())
        ((300, 2), 1.0)
    """
    cl = require_probability("cl", cl)
    criterion = require_choice("criterion", criterion, ("mean", "median"))
    replicas = require_int("replicas", replicas, low=1)
    alts = [np.asarray(a, dtype=np.float64) for a in alternatives]
    if not alts or len(nulls) != len(alts):
        raise InvalidInputError(
            f"alternatives and nulls must be non-empty with one entry per ε, got {len(alts)} "
            f"and {len(nulls)}."
        )
    if {a.ndim for a in alts} | {np.ndim(x) for x in nulls} != {1} or (
        len({a.size for a in alts}) != 1 or len({np.size(x) for x in nulls}) != 1
    ):
        raise InvalidInputError("every ε needs the same number of 1-D toys (null and alternative).")
    rng = np.random.default_rng([seed, 7919])
    alt_size, null_size = alts[0].size, int(np.size(nulls[0]))
    alt_pick = rng.integers(0, alt_size, (replicas, alt_size))
    null_pick = rng.integers(0, null_size, (replicas, null_size))
    rank = min(int(null_size * cl), null_size - 1)
    gaps = np.empty((replicas, len(alts)))
    thresholds: dict[int, np.ndarray] = {}
    for column, (alt, null) in enumerate(zip(alts, nulls, strict=True)):
        if id(null) not in thresholds:
            values = np.asarray(null, dtype=np.float64)
            thresholds[id(null)] = np.partition(values[null_pick], rank, axis=1)[:, rank]
        gaps[:, column] = _score(alt[alt_pick], criterion) - thresholds[id(null)]
    return gaps


@dataclass(frozen=True)
class BracketStep:
    """One evaluated ε of the bisection.

    Attributes:
        epsilon: the deformation size tried.
        score: mean (or median) of the statistic over the alternative toys there.
        threshold: the null's ``CL`` threshold it was compared with.
        rejected: ``score > threshold``.
        low: lower end of the bracket after this step.
        high: upper end of the bracket after this step.
    """

    epsilon: float
    score: float
    threshold: float
    rejected: bool
    low: float
    high: float


@dataclass(frozen=True)
class Sensitivity:
    """The sensitivity ε_CL of a statistic to a deformation, with its bootstrap error.

    Attributes:
        statistic: the statistic's name.
        kind: the deformation.
        cl: the confidence level.
        epsilon: ε_CL (linear interpolation inside the final bracket).
        error: bootstrap standard deviation of ε_CL.
        interval: 16 % and 84 % bootstrap quantiles of ε_CL.
        criterion: ``"mean"`` (the paper's) or ``"median"``.
        converged: the bracket reached ``tol`` within ``max_iter`` steps.
        history: every evaluated ε, in order (the two bracket ends first).
        null_values: ``(N,)`` null toys (of the last ε for a factory statistic).
        alternative_values: the alternative toys at each step of ``history``.
        settings: n, m, toys, alt_toys, seed, tol, bootstrap and the statistic's options.
    """

    statistic: str
    kind: str
    cl: float
    epsilon: float
    error: float
    interval: tuple[float, float]
    criterion: str
    converged: bool
    history: tuple[BracketStep, ...]
    null_values: npt.NDArray[np.float64]
    alternative_values: tuple[npt.NDArray[np.float64], ...]
    settings: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line, e.g. ``'sliced_wasserstein, mean: ε95 = 0.095 ± 0.004 (12 steps)'``."""
        flag = "" if self.converged else ", NOT converged"
        return (
            f"{self.statistic}, {self.kind}: ε{round(100 * self.cl)} = {self.epsilon:.4g} ± "
            f"{self.error:.2g} ({len(self.history)} steps, {self.criterion} criterion{flag})"
        )


def _score(values: npt.NDArray[np.float64], criterion: str) -> npt.NDArray[np.float64]:
    return np.mean(values, axis=-1) if criterion == "mean" else np.median(values, axis=-1)


def _crossing(eps: npt.NDArray[np.float64], gap: npt.NDArray[np.float64], centre: float) -> float:
    """Where ``gap`` (score - threshold) goes from <= 0 to > 0, nearest ``centre``."""
    up = np.flatnonzero((gap[:-1] <= 0) & (gap[1:] > 0))
    if up.size == 0:
        return float(eps[-1] if np.all(gap <= 0) else eps[0])
    crossings = eps[up] + (eps[up + 1] - eps[up]) * (-gap[up]) / (gap[up + 1] - gap[up])
    return float(crossings[np.argmin(np.abs(crossings - centre))])


def _bootstrap(
    points: list[tuple[float, np.ndarray, np.ndarray]],
    cl: float,
    criterion: Literal["mean", "median"],
    centre: float,
    replicas: int,
    seed: int,
) -> npt.NDArray[np.float64]:
    """ε_CL of ``replicas`` resamplings of the toys (null and alternatives, see
    :func:`bootstrap_gaps`): the crossing of each replica nearest ``centre``."""
    order = sorted(range(len(points)), key=lambda i: points[i][0])
    eps = np.array([points[i][0] for i in order])
    gaps = bootstrap_gaps(
        [points[i][1] for i in order], [points[i][2] for i in order], cl,
        criterion=criterion, replicas=replicas, seed=seed,
    )  # fmt: skip
    return np.array([_crossing(eps, row, centre) for row in gaps])


def sensitivity(
    statistic: StatisticLike,
    model: Any,
    kind: str,
    *,
    n: int,
    m: int,
    cl: float = 0.95,
    toys: int = 1000,
    alt_toys: int = 100,
    eps_low: float = 0.0,
    eps_high: float = 1.0,
    tol: float = 0.01,
    max_iter: int = 40,
    criterion: Literal["mean", "median"] = "mean",
    bootstrap: int = 300,
    seed: int = 0,
    u: Any = None,
    null: NullDistribution | None = None,
    block: int = 100,
    scheduler: Any = None,
    serial: bool = True,
    progress: bool = False,
    device: str | None = None,
) -> Sensitivity:
    """ε_CL of ``statistic`` for the deformation ``kind`` of ``model``, by bisection.

    Args:
        statistic: a registered name, a :class:`~precml_widgets.stats.suite.Statistic`, or a
            factory ``alternative -> Statistic`` for a statistic built from the deformed model
            (e.g. the likelihood ratio); its null is then recomputed at each ε.
        model: the reference model (see :mod:`precml_widgets.stats.deformations`).
        kind: one of :data:`~precml_widgets.stats.deformations.DEFORMATIONS`.
        n: events per reference sample.
        m: events per data sample.
        cl: confidence level of the threshold, e.g. 0.95 or 0.99.
        toys: null toys (the paper: 10^4).
        alt_toys: alternative toys per ε (the paper: 100).
        eps_low: lower end of the initial bracket (must not be rejected).
        eps_high: upper end (must be rejected).
        tol: stop when the relative bracket width ``2 (high - low) / (high + low)`` < tol
            (the paper's ``x_tol`` = 0.01).
        max_iter: at most this many bisection steps.
        criterion: ``"mean"`` (the paper) or ``"median"`` of the alternative toys.
        bootstrap: bootstrap replicas for the error on ε_CL.
        seed: the null toys use ``seed``, the alternatives ``seed + 1`` at every ε.
        u: the direction of ``mean`` / ``cov_diag`` (see :func:`deformed`).
        null: a precomputed null of a fixed statistic (same n, m and d; reused, e.g. across CLs).
        block, scheduler, serial, progress, device: passed to
            :func:`~precml_widgets.stats.suite.toy_distribution` (``serial=False`` with a
            Dask client in ``scheduler`` spreads the toys).

    Returns:
        A :class:`Sensitivity` (ε_CL, bootstrap error, bracket history, toys, settings).

    Raises:
        InvalidInputError: bad arguments, ``eps_low >= eps_high``, ``eps_low`` already
            rejected or ``eps_high`` not rejected (widen the bracket).
    """
    cl = require_probability("cl", cl)
    criterion = require_choice("criterion", criterion, ("mean", "median"))
    eps_low = require_real("eps_low", eps_low, low=0.0)
    eps_high = require_real("eps_high", eps_high, low=0.0)
    if eps_low >= eps_high:
        raise InvalidInputError(
            f"eps_low must be < eps_high, got eps_low={eps_low:g}, eps_high={eps_high:g}; "
            "give a bracket [eps_low, eps_high] with the reference side first."
        )
    tol = require_real("tol", tol, low=0.0, low_open=True)
    max_iter = require_int("max_iter", max_iter, low=1)
    alt_toys = require_int("alt_toys", alt_toys, low=2)
    toys = require_int("toys", toys, low=10, hint="the CL threshold needs e.g. 1000 toys.")
    bootstrap = require_int("bootstrap", bootstrap, low=10)
    deformed(model, kind, eps_high, u=u)  # checks kind, the bracket's top and u up front

    factory = not isinstance(statistic, str | Statistic)
    fixed = None if factory else get_statistic(statistic)  # type: ignore[arg-type]
    if null is not None and (
        factory
        or null.statistic != fixed.name
        or (null.n_reference, null.n_data, null.dim) != (n, m, model.dim)
    ):
        raise InvalidInputError(
            "null must be a null of the same fixed statistic with the same n, m and d "
            f"(here n={n}, m={m}, d={model.dim}); leave null=None to compute it."
        )
    run = dict(
        toys=toys, block=block, scheduler=scheduler, serial=serial, progress=progress,
        device=device,
    )  # fmt: skip

    def null_of(stat: Statistic) -> np.ndarray:
        return np.asarray(toy_distribution(stat, model.sample, n, m, seed=seed, **run).values)

    shared_null = None
    if fixed is not None:
        shared_null = np.asarray(null.values) if null is not None else null_of(fixed)

    points: list[tuple[float, np.ndarray, np.ndarray]] = []
    history: list[BracketStep] = []
    name = fixed.name if fixed is not None else ""

    def evaluate(eps: float, low: float, high: float) -> bool:
        nonlocal name
        alternative = deformed(model, kind, eps, u=u)
        stat = fixed if fixed is not None else get_statistic(statistic(alternative))  # type: ignore[operator]
        name = stat.name
        null_values = shared_null if shared_null is not None else null_of(stat)
        alt = toy_distribution(
            stat, model.sample, n, m, sample_data=alternative.sample, seed=seed + 1,
            **{**run, "toys": alt_toys},
        )  # fmt: skip
        values = np.asarray(alt.values)
        threshold = null_threshold(null_values, cl)
        score = float(_score(values, criterion))
        rejected = score > threshold
        if rejected:
            high = eps
        else:
            low = eps
        points.append((eps, values, null_values))
        history.append(BracketStep(eps, score, threshold, rejected, low, high))
        return rejected

    if evaluate(eps_low, eps_low, eps_high):
        raise InvalidInputError(
            f"eps_low={eps_low:g} is already rejected at {cl:g} CL "
            f"(score {history[0].score:.4g} > threshold {history[0].threshold:.4g}); "
            "lower eps_low."
        )
    if not evaluate(eps_high, eps_low, eps_high):
        raise InvalidInputError(
            f"eps_high={eps_high:g} is not rejected at {cl:g} CL "
            f"(score {history[1].score:.4g} <= threshold {history[1].threshold:.4g}); "
            "raise eps_high."
        )
    low, high = eps_low, eps_high
    steps = 0
    while 2 * (high - low) / (high + low) >= tol and steps < max_iter:
        steps += 1
        evaluate(0.5 * (low + high), low, high)
        low, high = history[-1].low, history[-1].high
    converged = 2 * (high - low) / (high + low) < tol

    ends = {p[0]: i for i, p in enumerate(points)}
    gap_low = history[ends[low]].score - history[ends[low]].threshold
    gap_high = history[ends[high]].score - history[ends[high]].threshold
    epsilon = low + (high - low) * (-gap_low) / (gap_high - gap_low)
    replicas = _bootstrap(points, cl, criterion, epsilon, bootstrap, seed)
    lo16, hi84 = np.quantile(replicas, [0.16, 0.84])
    stat_options = dict(fixed.options) if fixed is not None else {}
    settings = dict(
        n=n, m=m, toys=toys, alt_toys=alt_toys, seed=seed, tol=tol, max_iter=max_iter,
        bootstrap=bootstrap, eps_low=eps_low, eps_high=eps_high, null_per_epsilon=fixed is None,
        statistic_options=stat_options,
    )  # fmt: skip
    final_null = shared_null if shared_null is not None else points[-1][2]
    frozen_null = np.array(final_null, dtype=np.float64)
    frozen_null.flags.writeable = False
    alternatives = []
    for _, values, _ in points:
        copy = np.array(values, dtype=np.float64)
        copy.flags.writeable = False
        alternatives.append(copy)
    return Sensitivity(
        statistic=name,
        kind=kind,
        cl=cl,
        epsilon=float(epsilon),
        error=float(np.std(replicas)) if math.isfinite(epsilon) else math.nan,
        interval=(float(lo16), float(hi84)),
        criterion=criterion,
        converged=bool(converged),
        history=tuple(history),
        null_values=frozen_null,
        alternative_values=tuple(alternatives),
        settings=settings,
    )
