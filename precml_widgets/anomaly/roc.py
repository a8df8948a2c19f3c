"""ROC curves of an anomaly score: background false-positive rate against signal efficiency."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_instance, require_int, require_real
from precml_widgets._optional import require
from precml_widgets.anomaly.scores import ScoreSample, require_sample
from precml_widgets.errors import InvalidInputError

__all__ = ["RocCurve", "roc_curve", "roc_points_for_plot", "thin_curve"]


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
        f = require_real("fpr", fpr, high=1.0, finite=False, hint="pass a fraction in [0, 1].")
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
    background = require_sample("background", background)
    signal = require_sample("signal", signal)
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
    curve = require_instance("curve", curve, RocCurve, hint="build it with roc_curve().")
    keep = curve.fpr > 0.0
    if min_fpr is not None:
        m = require_real(
            "min_fpr", min_fpr, low=0.0, finite=False, hint="pass a non-negative fraction or None."
        )
        keep &= curve.fpr >= m
    return np.array(curve.fpr[keep]), np.array(curve.tpr[keep])


def thin_curve(
    x: npt.ArrayLike, y: npt.ArrayLike, max_points: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """At most about ``max_points`` of the vertices of a monotone curve, for drawing.

    The vertices kept are a subset of the input (no new point is made): the two ends and,
    for targets spaced evenly in ``x``, in ``log10(x)`` (where ``x > 0``) and in ``y``, the
    vertices on both sides of each target. Steps, the low-``x`` end of a log axis and steep
    rises therefore survive; detail finer than ~1/``max_points`` of the axis does not.

    Args:
        x, y: the curve, shape ``(K,)``, ``x`` and ``y`` non-decreasing (e.g. the output of
            :func:`roc_points_for_plot`).
        max_points: the budget, >= 6; curves with ``K <= max_points`` are returned whole.

    Returns:
        ``(x, y)`` subsets of shape ``(K',)`` with ``K' <= max_points + 2``, in order.

    Raises:
        InvalidInputError: for arrays of different shapes or ``max_points < 6``.

    Example:
        >>> x = np.linspace(0.001, 1.0, 100_000)
        >>> tx, ty = thin_curve(x, x**0.5, 600)
        >>> tx.size <= 602, bool(np.isin(tx, x).all()), (tx[0], tx[-1]) == (x[0], x[-1])
        (True, True, True)
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape or xa.ndim != 1:
        raise InvalidInputError(
            f"thin_curve needs two 1-d arrays of one shape, got {xa.shape} and {ya.shape}."
        )
    budget = require_int("max_points", max_points, low=6, hint="draw e.g. 2000 points.")
    if xa.size <= budget:
        return xa.copy(), ya.copy()
    n = budget // 6  # three sets of targets, two vertices each
    targets = [(xa, np.linspace(xa[0], xa[-1], n)), (ya, np.linspace(ya[0], ya[-1], n))]
    positive = xa[xa > 0.0]
    if positive.size:
        targets.append((xa, np.geomspace(positive[0], xa[-1], n)))
    idx = [np.array([0, xa.size - 1])]
    for axis, grid in targets:
        i = np.clip(np.searchsorted(axis, grid), 1, xa.size - 1)
        idx += [i, i - 1]
    keep = np.unique(np.concatenate(idx))
    return xa[keep], ya[keep]
