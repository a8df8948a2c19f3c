"""The scores of the calibration: sMAPE, R^2, weighted quantiles and conformal bounds.

Every function takes estimates and truths (or log residuals) as sequences and returns
plain numbers; groups are weighted so that each group counts once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from precml_widgets._checks import require_int
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.layers import (
    DenseLayer,
    Layer,
)
from precml_widgets.fpga.resource_model import (
    INTERVAL_LEVEL,
)

__all__ = [
    "conformal_bounds",
    "coverage_band",
    "group_quantile_bounds",
    "naive_estimate",
    "r2",
    "scores",
    "smape",
]


# ---------------------------------------------------------------- metrics
def smape(estimates: Sequence[float], truths: Sequence[float]) -> float:
    """Mean over rows of ``2|e - t| / (|e| + |t|)``, a row counting 0 when both are 0.

    Example:
        >>> smape([0.0, 110.0], [0.0, 90.0])
        0.1
    """
    e, t = np.asarray(estimates, float), np.asarray(truths, float)
    if e.shape != t.shape or e.size == 0:
        raise InvalidInputError(
            f"smape needs two non-empty sequences of equal length, got {e.shape} and {t.shape}."
        )
    den = np.abs(e) + np.abs(t)
    terms = np.divide(2 * np.abs(e - t), den, out=np.zeros_like(den), where=den > 0)
    return float(terms.mean())


def scores(estimates: Sequence[float], truths: Sequence[float]) -> dict[str, Any]:
    """sMAPE over the rows whose truth is not 0, mean absolute error over those where it is.

    Returns:
        ``{"smape", "n_nonzero", "zero_mae", "n_zero"}`` (``smape``/``zero_mae`` ``None``
        when there is no such row).

    Example:
        >>> scores([0.0, 3.0, 110.0], [0.0, 0.0, 90.0])
        {'smape': 0.2, 'n_nonzero': 1, 'zero_mae': 1.5, 'n_zero': 2}
    """
    e, t = np.asarray(estimates, float), np.asarray(truths, float)
    if e.shape != t.shape or e.size == 0:
        raise InvalidInputError(
            f"scores needs two non-empty sequences of equal length, got {e.shape} and {t.shape}."
        )
    zero = t == 0
    n_zero = int(zero.sum())
    return {
        "smape": smape(e[~zero], t[~zero]) if n_zero < t.size else None,
        "n_nonzero": int(t.size - n_zero),
        "zero_mae": float(np.abs(e[zero]).mean()) if n_zero else None,
        "n_zero": n_zero,
    }


def coverage_band(n: int, level: float = INTERVAL_LEVEL) -> tuple[float, float]:
    """``[binom.ppf(0.001, n, level), binom.ppf(0.999, n, level)] / n``: where the covered
    fraction of ``n`` independent held-out units (groups, not rows: rows of one design are
    not independent) lies with probability ~0.998. ``(0, 1)``, i.e. no test at all, for
    ``n < 7`` (``0.32^n > 0.001``).

    Example:
        >>> coverage_band(26)
        (0.38461538461538464, 0.9230769230769231)
    """
    from scipy.stats import binom

    n = require_int("coverage_band n (rows)", n, low=1)
    return float(binom.ppf(0.001, n, level)) / n, float(binom.ppf(0.999, n, level)) / n


def _weights(n: int, groups: Sequence[str] | None) -> np.ndarray:
    """Per-residual weights: 1 each, or ``1 / (rows of its group)`` so every group totals 1."""
    if groups is None:
        return np.ones(n)
    if len(groups) != n:
        raise InvalidInputError(f"groups has {len(groups)} entries for {n} residuals.")
    counts: dict[str, int] = {}
    for g in groups:
        counts[g] = counts.get(g, 0) + 1
    return np.array([1.0 / counts[g] for g in groups])


def _sorted_weighted(
    residuals: Sequence[float], groups: Sequence[str] | None, level: float, name: str
) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(residuals, float)
    if r.size == 0 or not 0 < level < 1:
        raise InvalidInputError(
            f"{name} needs residuals and 0 < level < 1, got {r.size} and {level}."
        )
    w = _weights(r.size, groups)
    order = np.argsort(r, kind="stable")
    return r[order], np.cumsum(w[order])


def conformal_bounds(
    residuals: Sequence[float],
    level: float = INTERVAL_LEVEL,
    groups: Sequence[str] | None = None,
) -> list[float]:
    """Split-conformal ``[q_lo, q_hi]`` of held-out residuals for a central ``level`` interval.

    Unweighted (``groups=None``): ``q_lo`` is the ``floor((n+1) a)``-th and ``q_hi`` the
    ``ceil((n+1)(1-a))``-th smallest residual, ``a = (1 - level)/2`` (±inf when ``n`` is too
    small), so that a new exchangeable residual falls inside with probability >= ``level``.
    With ``groups`` every group has total weight 1 and the new design counts as one more
    group (weighted conformal, Tibshirani et al. arXiv:1904.06019): ``q_hi`` is the smallest
    residual whose cumulative weight reaches ``(1-a)(n_g+1)``, ``q_lo`` the largest whose
    cumulative weight stays <= ``a (n_g+1)``; exchangeable *groups*, not rows.

    Example:
        >>> conformal_bounds([float(i) for i in range(1, 10)], 0.6)
        [2.0, 8.0]
        >>> conformal_bounds([1.0, 2.0, 3.0, 4.0], 0.6, groups=["a", "a", "a", "b"])
        [1.0, inf]
    """
    r, cum = _sorted_weighted(residuals, groups, level, "conformal_bounds")
    total, a, eps = float(cum[-1]), (1.0 - level) / 2.0, 1e-9
    hi_idx = np.nonzero(cum >= (1 - a) * (total + 1) - eps)[0]
    lo_idx = np.nonzero(cum <= a * (total + 1) + eps)[0]
    hi = float(r[hi_idx[0]]) if hi_idx.size else math.inf
    lo = float(r[lo_idx[-1]]) if lo_idx.size else -math.inf
    return [lo, hi]


def group_quantile_bounds(
    residuals: Sequence[float],
    level: float = INTERVAL_LEVEL,
    groups: Sequence[str] | None = None,
) -> list[float]:
    """The ``a`` and ``1 - a`` quantiles (``a = (1 - level)/2``) of the residuals with every
    group of total weight 1: the smallest residual whose cumulative weight reaches ``a W``
    (``1 - a`` for ``q_hi``), ``W`` the number of groups. No finite-sample correction (see
    :func:`conformal_bounds`): the coverage these bounds give is measured, not guaranteed.

    Example:
        >>> group_quantile_bounds([1.0, 2.0, 3.0, 10.0], 0.5, groups=["a", "a", "a", "b"])
        [2.0, 10.0]
    """
    r, cum = _sorted_weighted(residuals, groups, level, "group_quantile_bounds")
    total, a, eps = float(cum[-1]), (1.0 - level) / 2.0, 1e-9
    lo = float(r[np.nonzero(cum >= a * total - eps)[0][0]])
    hi = float(r[np.nonzero(cum >= (1 - a) * total - eps)[0][0]])
    return [lo, hi]


def r2(estimates: Sequence[float], truths: Sequence[float]) -> float | None:
    """Coefficient of determination ``1 - SS_res / SS_tot``; ``None`` if the truths are constant.

    Example:
        >>> r2([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
        0.7857142857142857
    """
    e, t = np.asarray(estimates, float), np.asarray(truths, float)
    total = float(((t - t.mean()) ** 2).sum())
    return None if total == 0 or t.size < 2 else 1.0 - float(((e - t) ** 2).sum()) / total


def naive_estimate(layers: Sequence[Layer]) -> dict[str, float]:
    """The naive rule: DSP = sum over dense layers of ``(n_in*n_out - zeros) / RF`` (0 if the
    weights have < 9 bits, hls4ml's DSP-aware pruning rule) and II = the largest reuse factor.
    """
    dense = [x for x in layers if isinstance(x, DenseLayer)]
    dsp = sum(x.n_nonzero / x.reuse_factor for x in dense if x.weight.width >= 9)
    return {"dsp": float(dsp), "ii": float(max((x.reuse_factor for x in dense), default=1))}
