"""Fit the estimator's coefficients on real syntheses; validate them leaving repositories out.

Run ``python -m precml_widgets.fpga.calibrate --write`` to regenerate
``estimator_coefficients.json`` (coefficients, validity domain, provenance and the
cross-validation that every estimate quotes as its error).

The error measure is the symmetric mean absolute percentage error over rows,
``sMAPE = mean(2 |e - t| / (|e| + |t|))`` with a row's term set to 0 when both the estimate
``e`` and the truth ``t`` are 0; it lies in [0, 2] and 0.15 reads "15 %".
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from precml_widgets.data import data_dir, locate
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.devices import get_device
from precml_widgets.fpga.estimator import (
    COEFFICIENTS_FILE,
    PARTITION_LIMIT,
    QUANTITIES,
    Coefficients,
    _evaluate,
)
from precml_widgets.fpga.layers import DenseLayer, Layer, SoftmaxLayer, layers_from_table_string

__all__ = [
    "GROUPS",
    "CalibrationRow",
    "ValidationReport",
    "calibration_record",
    "cross_validate",
    "fit",
    "load_calibration_table",
    "naive_estimate",
    "predict",
    "r2",
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
    "ff": (("c_reg", "s_shared", "c_io", "vitis_ff"), ("ff",)),
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
        layers: the layers (dense designs get the softmax every one of them ends with).
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


@dataclass(frozen=True)
class ValidationReport:
    """Leave-one-source-repository-out validation of the estimator.

    Attributes:
        folds: ``(held-out repository, training repositories)`` per fold.
        residuals: per held-out row: ``example_id``, ``repo``, ``tool_family``,
            ``estimate`` and ``truth`` per quantity.
        smape, r2: per quantity over all held-out rows (R² ``None`` where undefined).
        by_family: ``{family: {"n_rows", "smape": {...}, "r2": {...}}}``.
        baseline_smape, baseline_r2: the naive rule (:func:`naive_estimate`) on the same rows.
    """

    folds: tuple[tuple[str, tuple[str, ...]], ...]
    residuals: tuple[Mapping[str, Any], ...]
    smape: Mapping[str, float]
    r2: Mapping[str, float | None]
    by_family: Mapping[str, Mapping[str, Any]]
    baseline_smape: Mapping[str, float]
    baseline_r2: Mapping[str, float | None]


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
            last = [x for x in layers if isinstance(x, DenseLayer)]
            if rec["category"] == "dense" and last:  # every dense design ends in a softmax
                layers = (*layers, SoftmaxLayer(last[-1].n_out, name="softmax"))
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


def cross_validate(rows: Sequence[CalibrationRow]) -> ValidationReport:
    """Leave-one-source-repository-out validation of :func:`fit` on the rows not excluded.

    For each repository the coefficients are fitted on the other repositories' rows, frozen,
    then used to estimate every row of the held-out repository (rows of one repository
    are often the same model at other settings, so they never straddle the split).
    """
    used = [r for r in rows if r.excluded is None]
    repos = sorted({r.repo for r in used})
    if len(repos) < 2:
        raise InvalidInputError("cross-validation needs rows from at least two repositories.")
    folds, residuals = [], []
    for repo in repos:
        train = [r for r in used if r.repo != repo]
        c = fit(train)
        folds.append((repo, tuple(sorted({r.repo for r in train}))))
        for row in (r for r in used if r.repo == repo):
            est = predict(row, c)
            residuals.append(
                {
                    "example_id": row.example_id,
                    "repo": row.repo,
                    "tool_family": row.tool_family,
                    "estimate": {q: est[q] for q in QUANTITIES},
                    "truth": {q: row.targets[q] for q in QUANTITIES},
                    "naive": naive_estimate(row.layers),
                }
            )

    def metrics(subset: list[dict[str, Any]], key: str, quantities: Sequence[str]) -> tuple:
        s = {
            q: smape([x[key][q] for x in subset], [x["truth"][q] for x in subset])
            for q in quantities
        }
        r = {
            q: r2([x[key][q] for x in subset], [x["truth"][q] for x in subset]) for q in quantities
        }
        return s, r

    overall_s, overall_r = metrics(residuals, "estimate", QUANTITIES)
    by_family = {}
    for family in sorted({x["tool_family"] for x in residuals}):
        subset = [x for x in residuals if x["tool_family"] == family]
        s, r = metrics(subset, "estimate", QUANTITIES)
        bs, _ = metrics(subset, "naive", ("dsp", "ii"))
        by_family[family] = {"n_rows": len(subset), "smape": s, "r2": r, "baseline_smape": bs}
    base_s, base_r = metrics(residuals, "naive", ("dsp", "ii"))
    return ValidationReport(
        tuple(folds), tuple(residuals), overall_s, overall_r, by_family, base_s, base_r
    )


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


def calibration_record(rows: Sequence[CalibrationRow], table: Path) -> dict[str, Any]:
    """Everything the JSON holds: coefficients, domain, provenance, cross-validation."""
    used = [r for r in rows if r.excluded is None]
    c = fit(rows)
    report = cross_validate(rows)
    try:
        relpath = str(table.resolve().relative_to(data_dir().resolve()))
    except ValueError:
        relpath = str(table)
    fitted = [predict(r, c) for r in used]
    in_sample = {q: smape([e[q] for e in fitted], [r.targets[q] for r in used]) for q in QUANTITIES}
    out_of_domain = []
    for row in (r for r in rows if r.excluded is not None):
        est = predict(row, c)
        out_of_domain.append(
            {
                "example_id": row.example_id,
                "excluded": row.excluded,
                "estimate": {q: est[q] for q in QUANTITIES},
                "truth": {q: row.targets[q] for q in QUANTITIES},
            }
        )
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
        },
        "cross_validation": {
            "scheme": "leave-one-source-repository-out",
            "smape_definition": "mean over rows of 2|e-t|/(|e|+|t|), 0 when e = t = 0",
            "folds": [{"held_out": h, "train_repos": t} for h, t in report.folds],
            "smape": report.smape,
            "r2": report.r2,
            "by_family": report.by_family,
            "baseline": {
                "rule": "DSP = sum (n_in*n_out - zeros)/RF over dense layers, 0 if weights "
                "< 9 bits; II = max RF",
                "smape": report.baseline_smape,
                "r2": report.baseline_r2,
            },
            "residuals": report.residuals,
            "in_sample_smape": in_sample,
        },
        "out_of_domain": out_of_domain,
    }


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
    cv = record["cross_validation"]
    print(
        f"{len(record['provenance']['rows_used'])} rows used, "
        f"{len(record['provenance']['rows_excluded'])} excluded"
    )
    print(f"{'quantity':10s} {'sMAPE':>7s} {'R2':>7s}  " + "  ".join(cv["by_family"]))
    for q in QUANTITIES:
        fam = "  ".join(f"{v['smape'][q]:.3f}" for v in cv["by_family"].values())
        r = cv["r2"][q]
        print(f"{q:10s} {cv['smape'][q]:7.3f} {'n/a' if r is None else f'{r:7.3f}'}  {fam}")
    print(f"naive baseline sMAPE: {cv['baseline']['smape']}")
    if args.write:
        record_results(COEFFICIENTS_FILE, record)
        print(f"wrote {COEFFICIENTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
