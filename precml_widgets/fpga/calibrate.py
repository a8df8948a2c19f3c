"""Fit the estimator's coefficients on real syntheses; validate them leaving whole designs out.

Run ``python -m precml_widgets.fpga.calibrate --write`` to regenerate
``estimator_coefficients.json`` (coefficients, validity domain, provenance, the grouped
cross-validation that every estimate quotes as its error, and the interval calibration).

Validation is grouped: a fold leaves out a whole *design* (every row with the same layer
signature — layer kinds, shapes and weight widths — whatever its repository, reuse factor
or pruning) or a whole source *repository*. Two repositories hold the same jet tagger, so
leaving repositories out alone leaks it between folds.

The error measure is the symmetric mean absolute percentage error over the rows whose true
value is not 0, ``sMAPE = mean(2 |e - t| / (|e| + |t|))`` (in [0, 2]; 0.15 reads "15 %");
rows whose true value is 0 (no DSP in a fabric design) are scored by their mean absolute
error instead (:func:`scores`). The naive baseline predicts each quantity as the median of
the training rows of the same tool family.

Per-design intervals are split-conformal intervals on the log residuals
``r = log(1 + t) - log(1 + e)``: the estimate ``e`` is widened to
``expm1(log1p(e) + [q_lo, q_hi])`` with ``q_lo``, ``q_hi`` the finite-sample conformal
quantiles of held-out residuals (Vovk et al. 2005; Lei et al., arXiv:1604.04173). Their
coverage is measured with *nested* grouped cross-validation: the quantiles applied to a
held-out design come only from residuals of the other designs, each predicted by a fit
that left it out too, so coverage is not true by construction.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from precml_widgets.data import data_dir, locate
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.devices import get_device
from precml_widgets.fpga.estimator import (
    COEFFICIENTS_FILE,
    INTERVAL_LEVEL,
    PARTITION_LIMIT,
    QUANTITIES,
    Coefficients,
    _evaluate,
    with_output_softmax,
)
from precml_widgets.fpga.layers import (
    ConvLayer,
    DenseLayer,
    Layer,
    RecurrentLayer,
    layers_from_table_string,
)

__all__ = [
    "GROUPS",
    "CalibrationRow",
    "CoverageReport",
    "ValidationReport",
    "calibration_record",
    "conformal_bounds",
    "coverage_band",
    "cross_validate",
    "design_signature",
    "fit",
    "interval_coverage",
    "load_calibration_table",
    "naive_estimate",
    "predict",
    "r2",
    "scores",
    "smape",
]

TABLE_NAME = "hls4ml_synthesis_table"
PRIOR_WEIGHT = 0.1  # ridge strength pulling log-coefficients towards their priors
# coefficients fitted together, in this order, and the targets of each group
GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "dsp": (("f_sat", "k_w"), ("dsp",)),
    "latency": (
        ("c_ii", "t_mul_ns", "t_add_ns", "c_layer", "t_softmax_ns", "c_top", "vitis_depth"),
        ("latency", "ii"),
    ),
    "lut": (("c_add", "c_mul"), ("lut",)),
    "ff": (("c_reg", "s_shared", "c_io", "c_sm_reg"), ("ff",)),
    "bram18k": (("c_bram",), ("bram18k",)),
}
_UPPER = {"f_sat": 1.0}


@dataclass(frozen=True)
class CalibrationRow:
    """One synthesis of the table: settings, layers and measured results.

    Attributes:
        example_id, repo: the example and its source repository.
        tool_family: ``"Vivado HLS"`` or ``"Vitis HLS"``; tool_version: e.g. ``"2019.2"``.
        part, clock_ns, io_type, strategy, mul_impl: synthesis settings.
        layers: the layers (dense designs get the output softmax every one of them ends
            with: :func:`~precml_widgets.fpga.estimator.with_output_softmax`, the same
            convention :func:`~precml_widgets.fpga.estimator.estimate` applies to a table
            layer string).
        targets: ``{"dsp", "lut", "ff", "bram18k", "latency", "ii"}`` from the report
            (latency and ii: the worst case, ``lat_max`` and ``ii_max``).
        excluded: why the row is not used for fitting and validation, else ``None``.
    """

    example_id: str
    repo: str
    tool_family: str
    tool_version: str
    part: str
    clock_ns: float
    io_type: str
    strategy: str
    mul_impl: str | None
    layers: tuple[Layer, ...]
    targets: Mapping[str, float]
    excluded: str | None

    @property
    def vitis(self) -> bool:
        """Synthesised with Vitis HLS."""
        return self.tool_family == "Vitis HLS"

    @property
    def design(self) -> str:
        """The row's layer signature (:func:`design_signature`)."""
        return design_signature(self.layers)


def design_signature(layers: Sequence[Layer]) -> str:
    """What makes two syntheses the same design: layer kinds, shapes and weight widths.

    Reuse factor, strategy, pruning, clock, part and tool are settings of one design, so
    rows that differ only in them fall in one cross-validation group.

    Example:
        >>> design_signature(layers_from_table_string("dense:16x64:rf4:lat:w=fx8_3:z=24"))
        'dense:16x64:w8'
    """
    parts = []
    for x in layers:
        if isinstance(x, ConvLayer):
            shape = f"{'x'.join(map(str, x.in_shape))}->{x.n_filt}:k{'x'.join(map(str, x.kernel))}"
            parts.append(f"{x.conv_kind}:{shape}:w{x.weight.width}")
        elif isinstance(x, RecurrentLayer):
            parts.append(f"{x.rnn_kind}:{x.n_in}x{x.n_state}:w{x.weight.width}")
        elif isinstance(x, DenseLayer):
            parts.append(f"dense:{x.n_in}x{x.n_out}:w{x.weight.width}")
        else:
            parts.append(f"{x.kind}:{getattr(x, 'n_in', getattr(x, 'n', 0))}")
    return " | ".join(parts)


@dataclass(frozen=True)
class ValidationReport:
    """Grouped cross-validation of the estimator (whole designs or repositories left out).

    Attributes:
        scheme: ``"design"`` or ``"repo"``: what one fold leaves out.
        folds: ``(held-out group, training groups)`` per fold.
        residuals: per held-out row: ``example_id``, ``repo``, ``design``, ``tool_family``,
            ``estimate``, ``truth`` and ``naive`` (the per-family median) per quantity.
        smape, r2: per quantity over the held-out rows (sMAPE over rows whose truth is not
            0; R² ``None`` where undefined).
        zero_mae: per quantity, mean absolute error on the rows whose truth is 0 (``None``
            if there is none); n_zero: how many such rows.
        by_family: ``{family: {"n_rows", "smape", "r2", "zero_mae", "n_zero",
            "baseline_smape", "baseline_ratio"}}``.
        baseline_smape, baseline_r2: the naive per-family median on the same rows.
        baseline_ratio: ``smape / baseline_smape`` per quantity (target: <= 0.5).
    """

    folds: tuple[tuple[str, tuple[str, ...]], ...]
    residuals: tuple[Mapping[str, Any], ...]
    smape: Mapping[str, float]
    r2: Mapping[str, float | None]
    by_family: Mapping[str, Mapping[str, Any]]
    baseline_smape: Mapping[str, float]
    baseline_r2: Mapping[str, float | None]
    scheme: str = "design"
    zero_mae: Mapping[str, float | None] = field(default_factory=dict)
    n_zero: Mapping[str, int] = field(default_factory=dict)
    baseline_ratio: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class CoverageReport:
    """Held-out coverage of the nominal intervals, measured with nested grouped CV.

    Attributes:
        level: nominal coverage (0.68).
        pools: ``{"calibrated": in-domain dense designs, "extrapolated": flagged designs}``,
            each ``{"n_rows", "n_groups", "band": [lo, hi], "coverage": {quantity: value},
            "within_band": {quantity: bool}, "median_width": {quantity: hi/lo ratio}}``.
            ``band`` is ``[binom.ppf(0.001, n, level), binom.ppf(0.999, n, level)] / n``: a
            correct interval lands outside it with probability ~0.002 per quantity.
        rows: per held-out row: ``example_id``, ``pool``, ``estimate``, ``truth``,
            ``interval`` (``[lo, hi]`` per quantity) and ``covered``.
    """

    level: float
    pools: Mapping[str, Mapping[str, Any]]
    rows: tuple[Mapping[str, Any], ...]


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
    fraction of ``n`` independent held-out rows lies with probability ~0.998.

    Example:
        >>> coverage_band(26)
        (0.38461538461538464, 0.9230769230769231)
    """
    from scipy.stats import binom

    if n < 1:
        raise InvalidInputError(f"coverage_band needs n >= 1 rows, got {n}.")
    return float(binom.ppf(0.001, n, level)) / n, float(binom.ppf(0.999, n, level)) / n


def conformal_bounds(residuals: Sequence[float], level: float = INTERVAL_LEVEL) -> list[float]:
    """Split-conformal ``[q_lo, q_hi]`` of held-out residuals for a central ``level`` interval.

    ``q_lo`` is the ``floor((n+1) a)``-th and ``q_hi`` the ``ceil((n+1)(1-a))``-th smallest
    residual, ``a = (1 - level)/2`` (±inf when ``n`` is too small), so that a new
    exchangeable residual falls inside with probability >= ``level``.

    Example:
        >>> conformal_bounds([float(i) for i in range(1, 10)], 0.6)
        [2.0, 8.0]
    """
    r = np.sort(np.asarray(residuals, float))
    n = r.size
    if n == 0 or not 0 < level < 1:
        raise InvalidInputError(
            f"conformal_bounds needs residuals and 0 < level < 1, got {n} and {level}."
        )
    a = (1.0 - level) / 2.0
    k_lo, k_hi = math.floor((n + 1) * a), math.ceil((n + 1) * (1 - a))
    lo = float(r[k_lo - 1]) if k_lo >= 1 else -math.inf
    hi = float(r[k_hi - 1]) if k_hi <= n else math.inf
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


# ---------------------------------------------------------------- the table
def _exclusion(category: str, layers: tuple[Layer, ...], io_type: str, strategy: str) -> str | None:
    if category != "dense":
        return f"{category} design: convolutional/recurrent layers are not calibrated"
    if io_type != "io_parallel" or strategy != "latency":
        return f"{io_type}/{strategy}: only io_parallel Latency designs are calibrated"
    for layer in layers:
        if isinstance(layer, DenseLayer) and layer.n_products > PARTITION_LIMIT:
            return (
                f"layer {layer.n_in}x{layer.n_out} has {layer.n_products} > {PARTITION_LIMIT} "
                "products in the Latency strategy: beyond hls4ml's array-partition limit "
                "(build_prj.tcl MaximumSize) HLS does not fully unroll it"
            )
    return None


def load_calibration_table(path: str | Path | None = None) -> tuple[CalibrationRow, ...]:
    """Read ``hls4ml/synthesis-reports/table.csv`` (found through :mod:`precml_widgets.data`).

    Every row is returned; ``excluded`` says why a row is left out of the fit (conv/rnn
    designs, io_stream or Resource designs, and Latency layers beyond hls4ml's 4096-product
    partition limit).
    """
    table = Path(path) if path is not None else locate(TABLE_NAME)
    rows = []
    with open(table, newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            layers = layers_from_table_string(rec["layers"])
            if rec["category"] == "dense":  # the table-string convention of estimate()
                layers = with_output_softmax(layers)
            targets = {
                "dsp": rec["dsp"],
                "lut": rec["lut"],
                "ff": rec["ff"],
                "bram18k": rec["bram18k"],
                "latency": rec["lat_max"],
                "ii": rec["ii_max"],
            }
            rows.append(
                CalibrationRow(
                    example_id=rec["example_id"],
                    repo=rec["repo"],
                    tool_family=rec["hls_tool"],
                    tool_version=rec["hls_tool_version"],
                    part=rec["part"],
                    clock_ns=float(rec["clock_target_ns"]),
                    io_type=rec["io_type"],
                    strategy=rec["strategy"],
                    mul_impl=rec["mul_impl"] or None,
                    layers=layers,
                    targets={k: float(v) for k, v in targets.items()},
                    excluded=_exclusion(rec["category"], layers, rec["io_type"], rec["strategy"]),
                )
            )
    return tuple(rows)


# ---------------------------------------------------------------- fit
def predict(row: CalibrationRow, c: Coefficients) -> dict[str, float]:
    """The estimator's totals for a table row with coefficients ``c``."""
    totals, _ = _evaluate(
        row.layers,
        device=get_device(row.part),
        clock_ns=row.clock_ns,
        vitis=row.vitis,
        mul_impl=row.mul_impl,
        c=c,
    )
    return totals


def fit(rows: Sequence[CalibrationRow]) -> Coefficients:
    """Fit the coefficients on the rows not ``excluded``.

    Each group of :data:`GROUPS` is fitted in turn (later groups use the earlier results) by
    least squares on ``log(1 + estimate) - log(1 + truth)`` (relative errors, like sMAPE),
    plus a weak ridge term ``0.1 * (log c - log c_prior)`` towards the physical priors
    (:class:`Coefficients` defaults): a coefficient the rows do not constrain, such as the
    Vitis/Vivado ratios when no Vitis row is present, stays at its prior.
    """
    used = [r for r in rows if r.excluded is None]
    if not used:
        raise InvalidInputError("fit needs at least one calibration row that is not excluded.")
    c = Coefficients()
    for names, targets in GROUPS.values():
        c = _fit_group(c, names, targets, used)
    return c


def _fit_group(
    c: Coefficients,
    names: tuple[str, ...],
    targets: tuple[str, ...],
    used: Sequence[CalibrationRow],
) -> Coefficients:
    """``c`` with the coefficients ``names`` fitted to the ``targets`` of the rows ``used``."""
    from scipy.optimize import least_squares

    log_prior = np.log([getattr(Coefficients(), n) for n in names])
    truth = np.log1p([[r.targets[q] for q in targets] for r in used])

    def residuals(x: np.ndarray) -> np.ndarray:
        trial = replace(c, **dict(zip(names, np.exp(x), strict=True)))
        est = np.log1p([[predict(r, trial)[q] for q in targets] for r in used])
        return np.concatenate([(est - truth).ravel(), PRIOR_WEIGHT * (x - log_prior)])

    upper = np.log([_UPPER.get(n, np.inf) for n in names])
    start = np.minimum(np.log([getattr(c, n) for n in names]), upper - 1e-9)
    solution = least_squares(residuals, start, bounds=(np.full(len(names), -np.inf), upper))
    return replace(c, **{n: float(v) for n, v in zip(names, np.exp(solution.x), strict=True)})


_FIT_CACHE: dict[tuple[str, ...], Coefficients] = {}


def _fit_cached(train: Sequence[CalibrationRow]) -> Coefficients:
    """:func:`fit` memoised on the training rows' ids (nested CV refits the same subsets)."""
    key = tuple(sorted(r.example_id for r in train))
    if key not in _FIT_CACHE:
        _FIT_CACHE[key] = fit(train)
    return _FIT_CACHE[key]


def _group_of(row: CalibrationRow, by: str) -> str:
    if by not in ("design", "repo"):
        raise InvalidInputError(f"by={by!r}: group cross-validation folds by 'design' or 'repo'.")
    return row.design if by == "design" else row.repo


def _naive(train: Sequence[CalibrationRow], family: str) -> dict[str, float]:
    """The naive baseline: per quantity, the median of the training rows of this tool family
    (of all training rows if the family has none)."""
    same = [r for r in train if r.tool_family == family] or list(train)
    return {q: float(np.median([r.targets[q] for r in same])) for q in QUANTITIES}


def _metrics(subset: Sequence[Mapping[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {"smape": {}, "r2": {}, "zero_mae": {}, "n_zero": {}}
    for q in QUANTITIES:
        e = [x[key][q] for x in subset]
        t = [x["truth"][q] for x in subset]
        s = scores(e, t)
        out["smape"][q] = s["smape"]
        out["zero_mae"][q] = s["zero_mae"]
        out["n_zero"][q] = s["n_zero"]
        out["r2"][q] = r2(e, t)
    return out


def _ratio(ours: Mapping[str, float | None], naive: Mapping[str, float | None]) -> dict:
    return {
        q: None if ours[q] is None or not naive[q] else ours[q] / naive[q]  # type: ignore[operator]
        for q in QUANTITIES
    }


def cross_validate(rows: Sequence[CalibrationRow], by: str = "design") -> ValidationReport:
    """Leave-one-group-out validation of :func:`fit` on the rows not excluded.

    Args:
        rows: the calibration table (:func:`load_calibration_table`).
        by: ``"design"`` (every row with the same :func:`design_signature` is one group,
            whatever its repository) or ``"repo"`` (one source repository per group).

    For each group the coefficients are fitted on the other groups' rows, frozen, then used
    to estimate every row of the held-out group; the naive per-family median is computed
    from the same training rows.
    """
    used = [r for r in rows if r.excluded is None]
    groups = sorted({_group_of(r, by) for r in used})
    if len(groups) < 2:
        raise InvalidInputError(f"cross-validation needs rows from at least two {by} groups.")
    folds, residuals = [], []
    for group in groups:
        train = [r for r in used if _group_of(r, by) != group]
        c = fit(train) if by == "repo" else _fit_cached(train)
        folds.append((group, tuple(sorted({_group_of(r, by) for r in train}))))
        for row in (r for r in used if _group_of(r, by) == group):
            est = predict(row, c)
            residuals.append(
                {
                    "example_id": row.example_id,
                    "repo": row.repo,
                    "design": row.design,
                    "tool_family": row.tool_family,
                    "estimate": {q: est[q] for q in QUANTITIES},
                    "truth": {q: row.targets[q] for q in QUANTITIES},
                    "naive": _naive(train, row.tool_family),
                }
            )
    ours, naive = _metrics(residuals, "estimate"), _metrics(residuals, "naive")
    by_family = {}
    for family in sorted({x["tool_family"] for x in residuals}):
        subset = [x for x in residuals if x["tool_family"] == family]
        m, b = _metrics(subset, "estimate"), _metrics(subset, "naive")
        by_family[family] = {
            "n_rows": len(subset),
            **m,
            "baseline_smape": b["smape"],
            "baseline_ratio": _ratio(m["smape"], b["smape"]),
        }
    return ValidationReport(
        folds=tuple(folds),
        residuals=tuple(residuals),
        smape=ours["smape"],
        r2=ours["r2"],
        by_family=by_family,
        baseline_smape=naive["smape"],
        baseline_r2=naive["r2"],
        scheme=by,
        zero_mae=ours["zero_mae"],
        n_zero=ours["n_zero"],
        baseline_ratio=_ratio(ours["smape"], naive["smape"]),
    )


# ---------------------------------------------------------------- intervals
def _log_residual(estimate: float, truth: float) -> float:
    return math.log1p(max(truth, 0.0)) - math.log1p(max(estimate, 0.0))


def _widen(estimate: float, bounds: Sequence[float]) -> list[float]:
    """``expm1(log1p(e) + [q_lo, q_hi])`` clipped at 0."""
    base = math.log1p(max(estimate, 0.0))
    return [
        max(math.expm1(base + b), 0.0) if math.isfinite(b) else (0.0 if b < 0 else math.inf)
        for b in bounds
    ]


def _union(a: Sequence[float], b: Sequence[float]) -> list[float]:
    return [min(a[0], b[0]), max(a[1], b[1])]


def _loo_residuals(used: Sequence[CalibrationRow], groups: Sequence[str]) -> dict[str, list[float]]:
    """Log residuals per quantity of the rows of ``groups``, each group predicted by a fit on
    the other groups of ``groups`` only."""
    out: dict[str, list[float]] = {q: [] for q in QUANTITIES}
    for g in groups:
        train = [r for r in used if r.design in groups and r.design != g]
        c = _fit_cached(train)
        for row in (r for r in used if r.design == g):
            est = predict(row, c)
            for q in QUANTITIES:
                out[q].append(_log_residual(est[q], row.targets[q]))
    return out


def interval_bounds(rows: Sequence[CalibrationRow], level: float = INTERVAL_LEVEL) -> dict:
    """The shipped interval calibration: conformal log-residual bounds per quantity.

    ``"calibrated"``: from the leave-one-design-out residuals of the in-domain designs;
    ``"extrapolated"``: from the residuals of the excluded (flagged) designs under the fit on
    every in-domain row (none of them is in that fit). An estimate with any extrapolation
    flag gets the union of both intervals.
    """
    used = [r for r in rows if r.excluded is None]
    designs = sorted({r.design for r in used})
    calibrated = _loo_residuals(used, designs)
    c = _fit_cached(used)
    flagged: dict[str, list[float]] = {q: [] for q in QUANTITIES}
    for row in (r for r in rows if r.excluded is not None):
        est = predict(row, c)
        for q in QUANTITIES:
            flagged[q].append(_log_residual(est[q], row.targets[q]))
    return {
        "calibrated": {q: conformal_bounds(calibrated[q], level) for q in QUANTITIES},
        "extrapolated": {q: conformal_bounds(flagged[q], level) for q in QUANTITIES},
    }


def interval_coverage(
    rows: Sequence[CalibrationRow], level: float = INTERVAL_LEVEL
) -> CoverageReport:
    """Held-out coverage of the ``level`` intervals, by nested leave-one-design-out CV.

    In-domain designs: for each held-out design ``g`` the coefficients are fitted on the
    other designs, and the interval bounds come from the residuals of those other designs,
    each predicted by a fit that also left it out (never from ``g``). Flagged (excluded)
    designs: the estimate comes from the fit on every in-domain row; its interval is the
    union of the in-domain interval and the conformal interval of the *other* flagged
    designs' residuals, as :func:`~precml_widgets.fpga.estimator.estimate` widens a
    flagged estimate.
    """
    used = [r for r in rows if r.excluded is None]
    designs = sorted({r.design for r in used})
    out_rows: list[dict[str, Any]] = []

    def record(row: CalibrationRow, est: Mapping[str, float], pool: str, bounds: Mapping) -> None:
        interval = {q: _widen(est[q], bounds[q]) for q in QUANTITIES}
        out_rows.append(
            {
                "example_id": row.example_id,
                "design": row.design,
                "pool": pool,
                "estimate": {q: est[q] for q in QUANTITIES},
                "truth": {q: row.targets[q] for q in QUANTITIES},
                "interval": interval,
                "covered": {
                    q: interval[q][0] <= row.targets[q] <= interval[q][1] for q in QUANTITIES
                },
            }
        )

    for g in designs:
        others = [d for d in designs if d != g]
        res = _loo_residuals(used, others)
        bounds = {q: conformal_bounds(res[q], level) for q in QUANTITIES}
        c = _fit_cached([r for r in used if r.design != g])
        for row in (r for r in used if r.design == g):
            record(row, predict(row, c), "calibrated", bounds)

    in_domain = _loo_residuals(used, designs)
    in_bounds = {q: conformal_bounds(in_domain[q], level) for q in QUANTITIES}
    c_all = _fit_cached(used)
    flagged = [r for r in rows if r.excluded is not None]
    estimates = {r.example_id: predict(r, c_all) for r in flagged}
    for g in sorted({r.design for r in flagged}):
        pool = {
            q: [
                _log_residual(estimates[r.example_id][q], r.targets[q])
                for r in flagged
                if r.design != g
            ]
            for q in QUANTITIES
        }
        bounds = {q: _union(in_bounds[q], conformal_bounds(pool[q], level)) for q in QUANTITIES}
        for row in (r for r in flagged if r.design == g):
            record(row, estimates[row.example_id], "extrapolated", bounds)

    pools = {}
    for name in ("calibrated", "extrapolated"):
        subset = [x for x in out_rows if x["pool"] == name]
        n = len(subset)
        band = coverage_band(n, level)
        cov = {q: sum(x["covered"][q] for x in subset) / n for q in QUANTITIES}
        width = {
            q: float(
                np.median([(x["interval"][q][1] + 1) / (x["interval"][q][0] + 1) for x in subset])
            )
            for q in QUANTITIES
        }
        pools[name] = {
            "n_rows": n,
            "n_groups": len({x["design"] for x in subset}),
            "band": list(band),
            "coverage": cov,
            "within_band": {q: band[0] <= cov[q] <= band[1] for q in QUANTITIES},
            "median_width": width,
        }
    return CoverageReport(level, pools, tuple(out_rows))


# ---------------------------------------------------------------- the shipped JSON
def _domain(used: Sequence[CalibrationRow]) -> dict[str, Any]:
    dense = [x for r in used for x in r.layers if isinstance(x, DenseLayer)]
    clocks = [r.clock_ns for r in used]
    return {
        "parts": sorted({get_device(r.part).part for r in used}),
        "tool_families": sorted({r.tool_family for r in used}),
        "rows_per_family": {
            f: sum(r.tool_family == f for r in used) for f in sorted({r.tool_family for r in used})
        },
        "clock_ns": [min(clocks), max(clocks)],
        "io_types": sorted({r.io_type for r in used}),
        "strategies": sorted({x.strategy for x in dense}),
        "max_products": max(x.n_products for x in dense),
        "weight_bits": [min(x.weight.width for x in dense), max(x.weight.width for x in dense)],
    }


def _report_dict(report: ValidationReport) -> dict[str, Any]:
    return {
        "scheme": f"leave-one-{report.scheme}-out",
        "folds": [{"held_out": h, "train_groups": list(t)} for h, t in report.folds],
        "smape": dict(report.smape),
        "r2": dict(report.r2),
        "zero_mae": dict(report.zero_mae),
        "n_zero": dict(report.n_zero),
        "by_family": report.by_family,
        "baseline": {
            "rule": "per quantity, the median of the training rows of the same tool family",
            "smape": dict(report.baseline_smape),
            "r2": dict(report.baseline_r2),
            "ratio": dict(report.baseline_ratio),
        },
    }


def calibration_record(rows: Sequence[CalibrationRow], table: Path) -> dict[str, Any]:
    """Everything the JSON holds: coefficients, domain, provenance, validation, intervals."""
    used = [r for r in rows if r.excluded is None]
    c = _fit_cached(used)
    by_design = cross_validate(rows, by="design")
    by_repo = cross_validate(rows, by="repo")
    coverage = interval_coverage(rows)
    try:
        relpath = str(table.resolve().relative_to(data_dir().resolve()))
    except ValueError:
        relpath = str(table)
    fitted = [predict(r, c) for r in used]
    in_sample = {
        q: scores([e[q] for e in fitted], [r.targets[q] for r in used])["smape"] for q in QUANTITIES
    }
    out_of_domain = []
    for row in (r for r in rows if r.excluded is not None):
        est = predict(row, c)
        out_of_domain.append(
            {
                "example_id": row.example_id,
                "design": row.design,
                "excluded": row.excluded,
                "estimate": {q: est[q] for q in QUANTITIES},
                "truth": {q: row.targets[q] for q in QUANTITIES},
            }
        )
    design_cv = _report_dict(by_design)
    design_cv["residuals"] = by_design.residuals
    design_cv["in_sample_smape"] = in_sample
    return {
        "model": "hls4ml dense-layer multiplier model (precml_widgets.fpga.estimator)",
        "coefficients": c.to_dict(),
        "priors": Coefficients().to_dict(),
        "fit": {
            "method": "per-group least squares on log(1+x) residuals + ridge towards priors",
            "prior_weight": PRIOR_WEIGHT,
            "groups": {k: {"coefficients": v[0], "targets": v[1]} for k, v in GROUPS.items()},
        },
        "domain": _domain(used),
        "provenance": {
            "table": relpath,
            "sha256": hashlib.sha256(table.read_bytes()).hexdigest(),
            "rows_used": [r.example_id for r in used],
            "rows_excluded": {r.example_id: r.excluded for r in rows if r.excluded is not None},
            "designs": {r.example_id: r.design for r in rows},
        },
        "error_definition": "sMAPE = mean over rows with truth != 0 of 2|e-t|/(|e|+|t|); rows "
        "with truth 0 scored by mean absolute error (zero_mae)",
        "cross_validation": design_cv,
        "cross_validation_by_repo": _report_dict(by_repo),
        "intervals": {
            "level": INTERVAL_LEVEL,
            "method": "split-conformal bounds on log(1+truth) - log(1+estimate); flagged "
            "estimates get the union of the calibrated and extrapolated intervals",
            "bounds": interval_bounds(rows),
            "coverage": {"scheme": "nested leave-one-design-out", **coverage.pools},
        },
        "out_of_domain": out_of_domain,
    }


def _pct(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:5.1%}"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def main(argv: list[str] | None = None) -> int:
    """``python -m precml_widgets.fpga.calibrate [--write]``: fit, validate, print (and write)."""
    from precml_widgets.record import record_results

    parser = argparse.ArgumentParser(prog="python -m precml_widgets.fpga.calibrate")
    parser.add_argument("--write", action="store_true", help=f"write {COEFFICIENTS_FILE.name}")
    parser.add_argument("--table", help="table.csv to use (default: the shared data folder)")
    args = parser.parse_args(argv)
    table = Path(args.table) if args.table else locate(TABLE_NAME)
    rows = load_calibration_table(table)
    record = calibration_record(rows, table)
    for key in ("cross_validation", "cross_validation_by_repo"):
        cv = record[key]
        print(
            f"{cv['scheme']}: sMAPE (naive per-family median, ratio)  " + "  ".join(cv["by_family"])
        )
        for q in QUANTITIES:
            fam = "  ".join(_pct(v["smape"][q]) for v in cv["by_family"].values())
            print(
                f"  {q:8s} {_pct(cv['smape'][q])} ({_pct(cv['baseline']['smape'][q])}, "
                f"{_num(cv['baseline']['ratio'][q])})  {fam}  "
                f"zero-truth MAE {_num(cv['zero_mae'][q])}"
            )
    for pool, v in record["intervals"]["coverage"].items():
        if isinstance(v, dict):
            print(f"coverage of the 68% intervals, {pool} ({v['n_rows']} rows, band {v['band']}):")
            print("  " + ", ".join(f"{q} {c:.2f}" for q, c in v["coverage"].items()))
    if args.write:
        record_results(COEFFICIENTS_FILE, record)
        print(f"wrote {COEFFICIENTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
