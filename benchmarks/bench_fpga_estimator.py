"""FPGA resource/latency estimator against the naive hls4ml DSP rule (same rows, one process).

1. Time per call: :func:`precml_widgets.fpga.estimator.estimate` on the hls4ml jet tagger
   (16-64-32-32-5 + softmax, ap_fixed<16,6>, RF 1) vs the naive rule
   ``DSP = sum (n_in*n_out - zeros)/RF`` over dense layers (0 for weights under 9 bits, hls4ml's
   DSP-aware pruning rule), ``II = max RF`` (:func:`precml_widgets.fpga.calibrate.naive_estimate`),
   median over ``--calls`` calls each.
2. Accuracy: leave-one-component-out (no design or repository shared between folds) sMAPE
   and R² of ours per quantity (DSP, LUT, FF,
   BRAM_18K, latency, II) on the real syntheses of ``hls4ml/synthesis-reports/table.csv``,
   beside the naive rule's (which only predicts DSP and II), overall and per tool family.
   Targets: sMAPE <= 0.15 for DSP and latency, <= 0.25 for LUT and FF.

Run: ``python benchmarks/bench_fpga_estimator.py [--calls 5000]``
(writes benchmarks/results/bench_fpga_estimator.json).
"""

from __future__ import annotations

import argparse

from _common import median_seconds, write

from precml_widgets.fpga.calibrate import (
    cross_validate,
    load_calibration_table,
    naive_estimate,
)
from precml_widgets.fpga.estimator import QUANTITIES, estimate
from precml_widgets.fpga.layers import DenseLayer, SoftmaxLayer

TARGETS = {"dsp": 0.15, "latency": 0.15, "lut": 0.25, "ff": 0.25}
JET_TAGGER = [
    DenseLayer(16, 64, name="fc1"),
    DenseLayer(64, 32, name="fc2"),
    DenseLayer(32, 32, name="fc3"),
    DenseLayer(32, 5, name="output"),
    SoftmaxLayer(5),
]


def bench_timing(calls: int) -> dict:
    estimate(JET_TAGGER)  # warm-up: reads the calibration file once

    def ours() -> None:
        estimate(JET_TAGGER, device="xcu250", clock_ns=5.0, backend="Vivado")

    def naive() -> None:
        naive_estimate(JET_TAGGER)

    ours_s, _ = median_seconds(ours, calls)
    naive_s, _ = median_seconds(naive, calls)
    return {
        "calls": calls,
        "ours_ms_per_call": 1e3 * ours_s,
        "naive_ms_per_call": 1e3 * naive_s,
        "slowdown_ours_over_naive": ours_s / naive_s,
        "contract_ms": 10.0,
    }


def bench_accuracy() -> dict:
    rows = load_calibration_table()
    report = cross_validate(rows)
    quantities = {}
    for q in QUANTITIES:
        naive = report.baseline_smape.get(q)
        quantities[q] = {
            "ours_smape": report.smape[q],
            "ours_r2": report.r2[q],
            "naive_smape": naive,
            "naive_r2": report.baseline_r2.get(q),
            "naive_over_ours": None if naive is None else naive / report.smape[q],
            "target_smape": TARGETS.get(q),
        }
    return {
        "scheme": f"leave-one-{report.scheme}-out",
        "n_rows": len(report.residuals),
        "n_excluded": sum(r.excluded is not None for r in rows),
        "folds": [{"held_out": h, "train_repos": list(t)} for h, t in report.folds],
        "quantities": quantities,
        "by_family": report.by_family,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5_000, help="timed calls (>= 1000)")
    args = parser.parse_args()
    timing = bench_timing(max(args.calls, 1000))
    print(
        f"estimate() {timing['ours_ms_per_call']:.4f} ms/call vs naive rule "
        f"{timing['naive_ms_per_call']:.4f} ms/call (median of {timing['calls']}): "
        f"{timing['slowdown_ours_over_naive']:.0f}x slower, contract <= 10 ms"
    )
    accuracy = bench_accuracy()
    print(
        f"\n{accuracy['scheme']} on {accuracy['n_rows']} real syntheses "
        f"({len(accuracy['folds'])} groups; {accuracy['n_excluded']} rows out of domain)"
    )
    print(
        f"{'quantity':9s} {'ours':>7s} {'R2':>7s} {'naive':>7s} {'naive/ours':>11s} {'target':>7s}"
    )
    for q, v in accuracy["quantities"].items():
        naive = "n/a" if v["naive_smape"] is None else f"{v['naive_smape']:.3f}"
        ratio = "n/a" if v["naive_over_ours"] is None else f"{v['naive_over_ours']:.2f}"
        r2 = "n/a" if v["ours_r2"] is None else f"{v['ours_r2']:.3f}"
        target = "" if v["target_smape"] is None else f"<={v['target_smape']:.2f}"
        print(f"{q:9s} {v['ours_smape']:7.3f} {r2:>7s} {naive:>7s} {ratio:>11s} {target:>7s}")
    for family, v in accuracy["by_family"].items():
        smapes = ", ".join(f"{q} {s:.3f}" for q, s in v["smape"].items())
        print(f"  {family} ({v['n_rows']} rows): {smapes}")
    write("bench_fpga_estimator", {"timing": timing, "accuracy": accuracy})


if __name__ == "__main__":
    main()
