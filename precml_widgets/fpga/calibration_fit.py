"""Fitting the estimator's coefficients and validating them leaving whole groups out.

:func:`fit` pulls the log-coefficients towards their priors (ridge) group by group;
:func:`cross_validate` refits leaving out one component, design or repository at a time
(:func:`design_components`) and scores the held-out rows against the naive baseline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from precml_widgets._checks import require_choice
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.calibration_metrics import r2, scores
from precml_widgets.fpga.calibration_table import CalibrationRow
from precml_widgets.fpga.devices import get_device
from precml_widgets.fpga.resource_model import (
    QUANTITIES,
    Coefficients,
    evaluate_terms,
)

__all__ = [
    "AIMS",
    "BASELINE_TARGET",
    "GROUPINGS",
    "GROUPS",
    "PRIOR_WEIGHT",
    "ValidationReport",
    "cross_validate",
    "design_components",
    "fit",
    "fit_cached",
    "predict",
]

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


#: The memo of :func:`fit_cached`: coefficients per sorted tuple of row digests.
fit_cache: dict[tuple[str, ...], Coefficients] = {}


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


def fit_cached(train: Sequence[CalibrationRow]) -> Coefficients:
    """:func:`fit` memoised on the content of the training rows, in any order (nested CV
    refits the same subsets; a row with other targets or layers is another key)."""
    key = tuple(sorted(_row_hash(r) for r in train))
    if key not in fit_cache:
        fit_cache[key] = fit(train)
    return fit_cache[key]


def design_components(rows: Sequence[CalibrationRow]) -> dict[str, str]:
    """``{example_id: component}``: the connected components of designs and repositories.

    A row links its design (:func:`design_signature`) and its repository; rows end up in one
    component when they share a design or a repository, directly or through other rows. A
    component is named by its repositories joined with ``+``.

    Example:
        >>> from precml_widgets.fpga.calibration_table import load_calibration_table
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
    require_choice("by", by, GROUPINGS, hint="the grouping of the cross-validation folds.")
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
        c = fit_cached(train)
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
