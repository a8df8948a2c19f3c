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
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from precml_widgets.data import data_dir, known_file, locate
from precml_widgets.fpga.calibration_fit import (
    AIMS,
    BASELINE_TARGET,
    GROUPINGS,
    GROUPS,
    PRIOR_WEIGHT,
    ValidationReport,
    cross_validate,
    design_components,
    fit,
    fit_cached,
    predict,
)
from precml_widgets.fpga.calibration_intervals import (
    POOLS,
    CoverageReport,
    flag_kinds,
    interval_bounds,
    interval_coverage,
    targets_missed,
)
from precml_widgets.fpga.calibration_metrics import (
    conformal_bounds,
    coverage_band,
    group_quantile_bounds,
    naive_estimate,
    r2,
    scores,
    smape,
)
from precml_widgets.fpga.calibration_table import (
    TABLE_NAME,
    CalibrationRow,
    calibration_domain,
    design_signature,
    load_calibration_table,
)
from precml_widgets.fpga.resource_model import (
    COEFFICIENTS_FILE,
    INTERVAL_LEVEL,
    QUANTITIES,
    Coefficients,
)

__all__ = [
    "AIMS",
    "BASELINE_TARGET",
    "GROUPINGS",
    "GROUPS",
    "POOLS",
    "PRIOR_WEIGHT",
    "TABLE_NAME",
    "CalibrationRow",
    "CoverageReport",
    "ValidationReport",
    "calibration_domain",
    "calibration_record",
    "conformal_bounds",
    "coverage_band",
    "cross_validate",
    "design_components",
    "design_signature",
    "fit",
    "fit_cached",
    "flag_kinds",
    "group_quantile_bounds",
    "interval_bounds",
    "interval_coverage",
    "load_calibration_table",
    "main",
    "naive_estimate",
    "predict",
    "r2",
    "scores",
    "smape",
    "targets_missed",
]


# ---------------------------------------------------------------- the shipped JSON
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
    c = fit_cached(used)
    reports = {by: cross_validate(rows, by=by) for by in GROUPINGS}
    shipped = reports[GROUPINGS[0]]
    coverage = interval_coverage(rows)
    bounds = interval_bounds(rows)
    try:
        relpath = str(table.resolve().relative_to(data_dir().resolve()))
    except ValueError:  # the packaged copy records the registry's path; another file its own
        entry = known_file(TABLE_NAME)
        same = hashlib.sha256(table.read_bytes()).hexdigest() == entry.sha256
        relpath = entry.relpath if same else str(table)
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
        "domain": calibration_domain(used),
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
    parser.add_argument(
        "--table", help="table.csv to use (default: the data folder's, else the packaged copy)"
    )
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
