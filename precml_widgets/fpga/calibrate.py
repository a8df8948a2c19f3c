"""Fit the estimator's coefficients on real syntheses; validate them leaving whole designs out.

Run ``python -m precml_widgets.fpga.calibrate --write`` to regenerate
``estimator_coefficients.json`` (coefficients, validity domain, provenance, the grouped
cross-validation that every estimate quotes as its error, and the interval calibration).

Validation is grouped: a fold leaves out a whole *design* (every row with the same layer
signature — layer kinds, shapes and weight widths — whatever its repository, reuse factor
or pruning), a whole source *repository*, or a whole *component*: the connected components
of the graph whose nodes are designs and repositories and whose edges are the rows, so that
a component shares neither a design nor a repository with any other (two repositories hold
the same jet tagger; one repository holds several designs). Leaving designs out keeps a
repository's other designs, leaving repositories out keeps the other copy of the tagger;
the component grouping leaks neither and is the one the shipped errors and intervals use.

The error measure is the symmetric mean absolute percentage error over the rows whose true
value is not 0, ``sMAPE = mean(2 |e - t| / (|e| + |t|))`` (in [0, 2]; 0.15 reads "15 %");
rows whose true value is 0 (no DSP in a fabric design) are scored by their mean absolute
error instead (:func:`scores`). The naive baseline predicts each quantity as the median of
the training rows of the same tool family.

Per-design intervals act on the log residuals ``r = log(1 + t) - log(1 + e)``: the
estimate ``e`` is widened to ``expm1(log1p(e) + [q_lo, q_hi])`` with ``q_lo``, ``q_hi`` the
``(1 - level)/2`` and ``(1 + level)/2`` quantiles of held-out residuals in which every group
(component) has total weight 1, so that a group with many syntheses counts once
(:func:`group_quantile_bounds`). The finite-sample split-conformal bounds with the same
weights (Vovk et al. 2005; Lei et al., arXiv:1604.04173; weighted: Tibshirani et al.,
arXiv:1904.06019) are recorded too (:func:`conformal_bounds`); with ``n_g`` groups they are
finite only if ``ceil((n_g + 1)(1 + level)/2) <= n_g`` (``n_g >= 6`` at 68 %), which the table
does not reach, so the shipped intervals carry no distribution-free guarantee and their
coverage is *measured*: with nested grouped cross-validation the quantiles applied to a
held-out component come only from residuals of the other components, each predicted by a
fit that left both out, so coverage is not true by construction. A covered fraction is
averaged over groups (each group weight 1) and judged against the binomial band with
``n = n_groups``. Flagged (excluded) syntheses form one pool per flag kind
(:data:`~precml_widgets.fpga.estimator.FLAG_KINDS`).
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
    FLAG_KINDS,
    INTERVAL_LEVEL,
    PARTITION_LIMIT,
    QUANTITIES,
    TOOL_FAMILY,
    Coefficients,
    classify_extrapolations,
    evaluate_terms,
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
    "AIMS",
    "GROUPINGS",
    "GROUPS",
    "CalibrationRow",
    "CoverageReport",
    "ValidationReport",
    "calibration_record",
    "conformal_bounds",
    "coverage_band",
    "cross_validate",
    "design_components",
    "design_signature",
    "fit",
    "group_quantile_bounds",
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
GROUPINGS = ("component", "design", "repo")  # the first is the shipped (most pessimistic) one
BASELINE_TARGET = 0.5  # target: held-out sMAPE <= 0.5 x the naive per-family baseline's
AIMS = {"dsp": 0.15, "latency": 0.15, "lut": 0.25, "ff": 0.25}  # sMAPE aims of the issue


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
    fraction of ``n`` independent held-out units (groups, not rows: rows of one design are
    not independent) lies with probability ~0.998. ``(0, 1)``, i.e. no test at all, for
    ``n < 7`` (``0.32^n > 0.001``).

    Example:
        >>> coverage_band(26)
        (0.38461538461538464, 0.9230769230769231)
    """
    from scipy.stats import binom

    if n < 1:
        raise InvalidInputError(f"coverage_band needs n >= 1 rows, got {n}.")
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
    totals, _ = evaluate_terms(
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


def _row_hash(row: CalibrationRow) -> str:
    """A digest of everything :func:`fit` reads from a row (targets, layers, settings)."""
    content = (
        row.example_id,
        row.tool_family,
        row.part,
        row.clock_ns,
        row.io_type,
        row.strategy,
        row.mul_impl,
        repr(row.layers),
        sorted((k, float(v)) for k, v in row.targets.items()),
        row.excluded,
    )
    return hashlib.sha256(repr(content).encode()).hexdigest()


def _fit_cached(train: Sequence[CalibrationRow]) -> Coefficients:
    """:func:`fit` memoised on the content of the training rows, in any order (nested CV
    refits the same subsets; a row with other targets or layers is another key)."""
    key = tuple(sorted(_row_hash(r) for r in train))
    if key not in _FIT_CACHE:
        _FIT_CACHE[key] = fit(train)
    return _FIT_CACHE[key]


def design_components(rows: Sequence[CalibrationRow]) -> dict[str, str]:
    """``{example_id: component}``: the connected components of designs and repositories.

    A row links its design (:func:`design_signature`) and its repository; rows end up in one
    component when they share a design or a repository, directly or through other rows. A
    component is named by its repositories joined with ``+``.

    Example:
        >>> comps = design_components(load_calibration_table())
        >>> sorted(set(comps.values()))[:2]
        ['ArgyKokk/hls4ml_MLP_estimator', 'Brainz22/L1JetTagger']
        >>> len(comps), len(set(comps.values()))  # table rows, components
        (57, 8)
    """
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(x: tuple[str, str]) -> tuple[str, str]:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in rows:
        a, b = find(("design", r.design)), find(("repo", r.repo))
        if a != b:
            parent[max(a, b)] = min(a, b)
    repos: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        repos.setdefault(find(("repo", r.repo)), set()).add(r.repo)
    names = {root: "+".join(sorted(v)) for root, v in repos.items()}
    return {r.example_id: names[find(("repo", r.repo))] for r in rows}


def _group_of(row: CalibrationRow, by: str, components: Mapping[str, str]) -> str:
    if by not in GROUPINGS:
        raise InvalidInputError(
            f"by={by!r}: group cross-validation folds by one of {', '.join(GROUPINGS)}."
        )
    if by == "component":
        return components[row.example_id]
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


def cross_validate(rows: Sequence[CalibrationRow], by: str = "component") -> ValidationReport:
    """Leave-one-group-out validation of :func:`fit` on the rows not excluded.

    Args:
        rows: the calibration table (:func:`load_calibration_table`).
        by: ``"component"`` (:func:`design_components`: no design and no repository is
            shared between folds; the shipped scheme), ``"design"`` (every row with the same
            :func:`design_signature` is one group, whatever its repository) or ``"repo"``
            (one source repository per group).

    For each group the coefficients are fitted on the other groups' rows, frozen, then used
    to estimate every row of the held-out group; the naive per-family median is computed
    from the same training rows.
    """
    comps = design_components(rows)
    used = [r for r in rows if r.excluded is None]
    groups = sorted({_group_of(r, by, comps) for r in used})
    if len(groups) < 2:
        raise InvalidInputError(f"cross-validation needs rows from at least two {by} groups.")
    folds, residuals = [], []
    for group in groups:
        train = [r for r in used if _group_of(r, by, comps) != group]
        c = _fit_cached(train)
        folds.append((group, tuple(sorted({_group_of(r, by, comps) for r in train}))))
        for row in (r for r in used if _group_of(r, by, comps) == group):
            est = predict(row, c)
            residuals.append(
                {
                    "example_id": row.example_id,
                    "repo": row.repo,
                    "design": row.design,
                    "group": group,
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
            "n_groups": len({x["group"] for x in subset}),
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


def _union(bounds: Sequence[Sequence[float]]) -> list[float]:
    return [min(b[0] for b in bounds), max(b[1] for b in bounds)]


def flag_kinds(row: CalibrationRow, domain: Mapping[str, Any]) -> tuple[str, ...]:
    """The flag kinds :func:`~precml_widgets.fpga.estimator.estimate` raises for this row's
    design and settings (those that widen an interval; part/clock flags do not), in
    :data:`~precml_widgets.fpga.estimator.FLAG_KINDS` order."""
    backend = {v: k for k, v in TOOL_FAMILY.items() if k != "VivadoAccelerator"}[row.tool_family]
    classified = classify_extrapolations(
        row.layers,
        get_device(row.part),
        row.clock_ns,
        backend,
        row.io_type,
        row.mul_impl,
        domain,
    )
    found = {kind for kind, _ in classified if kind}
    return tuple(k for k in FLAG_KINDS if k in found)


class _Residuals:
    """Held-out predictions of the table's rows under the component grouping, memoised: a row
    of component ``h`` predicted by the fit on the in-domain rows outside ``h`` and outside
    the extra components ``also`` (the nested held-out component)."""

    def __init__(self, rows: Sequence[CalibrationRow]) -> None:
        self.rows = tuple(rows)
        self.comp = design_components(rows)
        self.used = [r for r in rows if r.excluded is None]
        self.domain = _domain(self.used)
        self.kinds = {
            r.example_id: flag_kinds(r, self.domain) if r.excluded is not None else () for r in rows
        }
        self._est: dict[tuple[str, frozenset[str]], dict[str, float] | None] = {}

    def estimate(
        self, row: CalibrationRow, also: frozenset[str] = frozenset()
    ) -> dict[str, float] | None:
        key = (row.example_id, also)
        if key not in self._est:
            out = also | {self.comp[row.example_id]}
            train = [r for r in self.used if self.comp[r.example_id] not in out]
            self._est[key] = predict(row, _fit_cached(train)) if train else None
        return self._est[key]

    def pool_rows(self, pool: str) -> list[CalibrationRow]:
        """``"calibrated"``: the in-domain rows; ``"flagged"``: every excluded row; a flag
        kind: the excluded rows with that kind."""
        if pool == "calibrated":
            return list(self.used)
        flagged = [r for r in self.rows if r.excluded is not None]
        return (
            flagged
            if pool == "flagged"
            else [r for r in flagged if pool in self.kinds[r.example_id]]
        )

    def bounds(
        self, pool: str, level: float, also: frozenset[str] = frozenset(), conformal: bool = False
    ) -> dict[str, list[float]] | None:
        """Bounds per quantity from the pool's rows outside ``also`` (``None``: no residual)."""
        res: dict[str, list[float]] = {q: [] for q in QUANTITIES}
        groups = []
        for row in self.pool_rows(pool):
            if self.comp[row.example_id] in also:
                continue
            est = self.estimate(row, also)
            if est is None:
                continue
            groups.append(self.comp[row.example_id])
            for q in QUANTITIES:
                res[q].append(_log_residual(est[q], row.targets[q]))
        if not groups:
            return None
        rule = conformal_bounds if conformal else group_quantile_bounds
        return {q: rule(res[q], level, groups) for q in QUANTITIES}

    def pool_info(self, pool: str) -> dict[str, Any]:
        rows = self.pool_rows(pool)
        return {
            "n_rows": len(rows),
            "n_groups": len({self.comp[r.example_id] for r in rows}),
            "groups": sorted({self.comp[r.example_id] for r in rows}),
        }


POOLS = ("calibrated", *FLAG_KINDS)


def interval_bounds(rows: Sequence[CalibrationRow], level: float = INTERVAL_LEVEL) -> dict:
    """The shipped interval calibration, per pool (:data:`POOLS`) and quantity.

    ``"calibrated"``: the in-domain rows, each predicted by the fit that left its component
    out; a flag kind (``"conv"``, ``"rnn"``, ``"stream"``, ``"partition"``): the excluded
    rows with that kind, each predicted by the fit on the in-domain rows outside its
    component; ``"flagged"``: every excluded row. Returns ``{"bounds": {pool: {quantity:
    [q_lo, q_hi]} or None}, "conformal_bounds": (the same, finite-sample conformal),
    "pools": {pool: {"n_rows", "n_groups", "groups"}}, "notes": [...]}``; a pool with no
    row has bounds ``None`` and a note (its flag then does not widen an interval).
    """
    res = _Residuals(rows)
    out: dict[str, Any] = {"bounds": {}, "conformal_bounds": {}, "pools": {}, "notes": []}
    for pool in POOLS:
        out["bounds"][pool] = res.bounds(pool, level)
        out["conformal_bounds"][pool] = res.bounds(pool, level, conformal=True)
        out["pools"][pool] = res.pool_info(pool)
        if out["bounds"][pool] is None:
            out["notes"].append(f"pool {pool!r} has no held-out synthesis: no interval")
    return out


def _verdict(value: float | None, band: Sequence[float] | None) -> str:
    if value is None or band is None:
        return "no rows"
    if band[0] <= 0.0 and band[1] >= 1.0:
        return "n too small to conclude"
    return "within band" if band[0] <= value <= band[1] else "OUTSIDE band"


def interval_coverage(
    rows: Sequence[CalibrationRow], level: float = INTERVAL_LEVEL
) -> CoverageReport:
    """Held-out coverage of the ``level`` intervals, by nested leave-one-component-out CV.

    For each held-out component ``g`` every one of its rows is estimated by the fit on the
    in-domain rows outside ``g``; its interval is the union of the ``"calibrated"`` bounds
    and the bounds of each of its flag kinds, all computed as :func:`interval_bounds` does
    but from the rows *outside* ``g``, each predicted by a fit that left out ``g`` and its
    own component (never from ``g``). A pool's coverage is the mean over its groups of the
    fraction of the group's rows covered (each group weight 1), judged against the binomial
    band with ``n = n_groups`` (a group's fraction varies at most like one Bernoulli trial).
    A row one of whose pools has no residual outside ``g`` gets no interval (``covered``
    ``None``, counted in ``n_rows_without_interval``).
    """
    res = _Residuals(rows)
    out_rows: list[dict[str, Any]] = []
    for g in sorted(set(res.comp.values())):
        also = frozenset({g})
        pool_bounds = {pool: res.bounds(pool, level, also) for pool in POOLS}
        for row in (r for r in rows if res.comp[r.example_id] == g):
            est = res.estimate(row)
            kinds = res.kinds[row.example_id]
            used_pools = ["calibrated", *kinds]
            available = [pool_bounds[p] for p in used_pools if pool_bounds[p] is not None]
            missing = [p for p in used_pools if pool_bounds[p] is None]
            if est is None or missing:  # no residual to calibrate this row's interval
                interval, covered = None, None
            else:
                interval = {
                    q: _widen(est[q], _union([b[q] for b in available])) for q in QUANTITIES
                }
                covered = {
                    q: interval[q][0] <= row.targets[q] <= interval[q][1] for q in QUANTITIES
                }
            out_rows.append(
                {
                    "example_id": row.example_id,
                    "design": row.design,
                    "group": g,
                    "pool": "calibrated" if row.excluded is None else "flagged",
                    "kinds": list(kinds),
                    "missing_pools": missing,
                    "estimate": None if est is None else {q: est[q] for q in QUANTITIES},
                    "truth": {q: row.targets[q] for q in QUANTITIES},
                    "interval": interval,
                    "covered": covered,
                }
            )
    pools = {}
    for name in POOLS:
        if name == "calibrated":
            subset = [x for x in out_rows if x["pool"] == "calibrated"]
        elif name == "flagged":
            subset = [x for x in out_rows if x["pool"] == "flagged"]
        else:
            subset = [x for x in out_rows if name in x["kinds"]]
        scored = [x for x in subset if x["covered"] is not None]
        groups = sorted({x["group"] for x in scored})
        n = len(groups)
        band = list(coverage_band(n, level)) if n else None
        cov: dict[str, float | None] = {}
        row_cov: dict[str, float | None] = {}
        width: dict[str, float | None] = {}
        per_group: dict[str, dict[str, float]] = {}
        for q in QUANTITIES:
            if not scored:
                cov[q] = row_cov[q] = width[q] = None
                continue
            fractions = []
            for grp in groups:
                mine = [x["covered"][q] for x in scored if x["group"] == grp]
                fractions.append(sum(mine) / len(mine))
                per_group.setdefault(grp, {})[q] = fractions[-1]
            cov[q] = float(np.mean(fractions))
            row_cov[q] = sum(x["covered"][q] for x in scored) / len(scored)
            width[q] = float(
                np.median([(x["interval"][q][1] + 1) / (x["interval"][q][0] + 1) for x in scored])
            )
        pools[name] = {
            "n_rows": len(scored),
            "n_rows_without_interval": len(subset) - len(scored),
            "n_groups": n,
            "groups": groups,
            "band": band,
            "coverage": cov,
            "row_coverage": row_cov,
            "per_group": per_group,
            "verdict": {q: _verdict(cov[q], band) for q in QUANTITIES},
            "within_band": {
                q: None if band is None or cov[q] is None else band[0] <= cov[q] <= band[1]
                for q in QUANTITIES
            },
            "median_width": width,
        }
    return CoverageReport(level, pools, tuple(out_rows))


def targets_missed(
    validation: ValidationReport, coverage: CoverageReport | None = None
) -> list[dict[str, Any]]:
    """Every target the validation misses, per quantity and tool family: held-out sMAPE above
    :data:`BASELINE_TARGET` times the naive baseline's (or no ratio: the baseline is 0, or no
    non-zero truth), sMAPE above the aim (:data:`AIMS`), and pooled coverage outside its band.
    """
    out: list[dict[str, Any]] = []
    for family, values in validation.by_family.items():
        for q in QUANTITIES:
            ratio, value = values["baseline_ratio"][q], values["smape"][q]
            if ratio is None or ratio > BASELINE_TARGET:
                out.append(
                    {
                        "target": f"sMAPE <= {BASELINE_TARGET} x naive baseline",
                        "family": family,
                        "quantity": q,
                        "smape": value,
                        "baseline_smape": values["baseline_smape"][q],
                        "ratio": ratio,
                    }
                )
            if q in AIMS and value is not None and value > AIMS[q]:
                out.append(
                    {
                        "target": f"sMAPE <= aim {AIMS[q]:.0%}",
                        "family": family,
                        "quantity": q,
                        "smape": value,
                    }
                )
    for pool, v in (coverage.pools if coverage else {}).items():
        for q in QUANTITIES:
            if v["verdict"][q] == "OUTSIDE band":
                out.append(
                    {
                        "target": f"coverage of the {coverage.level:.0%} interval in its band",
                        "pool": pool,
                        "quantity": q,
                        "coverage": v["coverage"][q],
                        "band": v["band"],
                        "n_groups": v["n_groups"],
                    }
                )
    return out


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
    reports = {by: cross_validate(rows, by=by) for by in GROUPINGS}
    shipped = reports[GROUPINGS[0]]
    coverage = interval_coverage(rows)
    bounds = interval_bounds(rows)
    try:
        relpath = str(table.resolve().relative_to(data_dir().resolve()))
    except ValueError:
        relpath = str(table)
    comps = design_components(rows)
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
    main_cv = _report_dict(shipped)
    main_cv["residuals"] = shipped.residuals
    main_cv["in_sample_smape"] = in_sample
    main_cv["components"] = {
        g: sorted({r.design for r in rows if comps[r.example_id] == g})
        for g in sorted(set(comps.values()))
    }
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
            "components": comps,
        },
        "error_definition": "sMAPE = mean over rows with truth != 0 of 2|e-t|/(|e|+|t|); rows "
        "with truth 0 scored by mean absolute error (zero_mae)",
        "cross_validation": main_cv,
        "cross_validation_by_design": _report_dict(reports["design"]),
        "cross_validation_by_repo": _report_dict(reports["repo"]),
        "targets": {"baseline_ratio": BASELINE_TARGET, "aims": AIMS},
        "targets_missed": targets_missed(shipped, coverage),
        "intervals": {
            "level": INTERVAL_LEVEL,
            "grouping": "component",
            "method": "per pool, the (1-level)/2 and (1+level)/2 quantiles of held-out "
            "log(1+truth) - log(1+estimate), every component of total weight 1 (no "
            "finite-sample guarantee: the weighted conformal bounds, conformal_bounds, are "
            "infinite with this few groups); an estimate takes the union of the calibrated "
            "bounds and those of each of its flag kinds; part/clock flags do not widen",
            **bounds,
            "coverage": {
                "scheme": "nested leave-one-component-out; coverage = mean over groups of the "
                "covered fraction; band = binomial 99.8 % with n = n_groups",
                **coverage.pools,
            },
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
    for key in ("cross_validation", "cross_validation_by_design", "cross_validation_by_repo"):
        cv = record[key]
        fams = list(cv["by_family"])
        print(f"{cv['scheme']}: sMAPE (naive, ratio) overall, then per family: " + ", ".join(fams))
        for q in QUANTITIES:
            fam = "  ".join(
                f"{_pct(v['smape'][q])} ({_num(v['baseline_ratio'][q])})"
                for v in cv["by_family"].values()
            )
            print(
                f"  {q:8s} {_pct(cv['smape'][q])} ({_pct(cv['baseline']['smape'][q])}, "
                f"{_num(cv['baseline']['ratio'][q])})  {fam}  "
                f"zero-truth MAE {_num(cv['zero_mae'][q])}"
            )
    for pool, v in record["intervals"]["coverage"].items():
        if isinstance(v, dict):
            band = "none" if v["band"] is None else f"[{v['band'][0]:.2f}, {v['band'][1]:.2f}]"
            print(
                f"coverage, {pool}: {v['n_rows']} rows, n = {v['n_groups']} groups, band {band}: "
                + ", ".join(f"{q} {_num(c)} ({v['verdict'][q]})" for q, c in v["coverage"].items())
            )
    print("targets missed:")
    for miss in record["targets_missed"]:
        print("  ", miss)
    if args.write:
        record_results(COEFFICIENTS_FILE, record)
        print(f"wrote {COEFFICIENTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
