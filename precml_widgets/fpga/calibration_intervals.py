"""Per-design intervals from held-out log residuals, and their measured coverage.

:func:`interval_bounds` sets the calibrated bounds (and one pool per flag kind);
:func:`interval_coverage` measures, with nested grouped cross-validation, how often the
intervals cover held-out syntheses (:class:`CoverageReport`); :func:`targets_missed` lists
the sMAPE aims the validation misses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from precml_widgets.fpga.calibration_fit import (
    AIMS,
    BASELINE_TARGET,
    ValidationReport,
    design_components,
    fit_cached,
    predict,
)
from precml_widgets.fpga.calibration_metrics import (
    conformal_bounds,
    coverage_band,
    group_quantile_bounds,
)
from precml_widgets.fpga.calibration_table import CalibrationRow, calibration_domain
from precml_widgets.fpga.devices import get_device
from precml_widgets.fpga.domain import classify_extrapolations
from precml_widgets.fpga.resource_model import (
    FLAG_KINDS,
    INTERVAL_LEVEL,
    QUANTITIES,
    TOOL_FAMILY,
)

__all__ = [
    "POOLS",
    "CoverageReport",
    "flag_kinds",
    "interval_bounds",
    "interval_coverage",
    "targets_missed",
]


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
        self.domain = calibration_domain(self.used)
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
            self._est[key] = predict(row, fit_cached(train)) if train else None
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
