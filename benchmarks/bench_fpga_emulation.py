"""Bit-accurate FPGA emulation throughput: precml's batched paths vs hls4ml's own predict().

Same inputs, one process, 2 CPU threads. For the trigger autoencoder (with its score inside
the firmware) and hls4ml's jet tagger, both with the precision scan's profiled
``ap_fixed<16,I>`` types (saturating outputs, overflow-free wrapping sums), and for the jet
tagger with uniform ``ap_fixed<16,6,AP_RND_CONV,AP_SAT>`` everywhere (saturating sums, which
the twin must add in order: its slow path), events per second of

- the torch float model (what the firmware approximates),
- precml's vectorised NumPy twin (``engine="vectorised"``),
- precml's batched C++ loop over hls4ml's generated firmware (``engine="cxx"``),
- hls4ml's ``compile()`` + ``predict()`` (the baseline: one C call per event from Python),

and the bit-exactness of the fast paths: the twin against hls4ml's ``predict()`` on
``--exact-events`` events (>= 1e5) and against the C++ loop on every event.
Inputs are generated (standard normal; the tagger's real features are not public here).

Run: ``python benchmarks/bench_fpga_emulation.py`` (writes
benchmarks/results/bench_fpga_emulation.json).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import median_seconds, write

from precml_widgets.anomaly.model import load_autoencoder
from precml_widgets.fpga.convert import DeployConfig, profile_ranges
from precml_widgets.fpga.emulate import FirmwareEmulator
from precml_widgets.fpga.models import load_jet_tagger, scored_autoencoder
from precml_widgets.fpga.scan import width_config


def _models() -> dict[str, tuple[torch.nn.Module, int, DeployConfig]]:
    ae = scored_autoencoder(load_autoencoder().model, 5)
    x_profile = np.random.default_rng(99).normal(size=(100_000, 5)).astype(np.float32)
    tagger = load_jet_tagger()
    x_tagger = np.random.default_rng(98).normal(size=(100_000, 16)).astype(np.float32)
    return {
        "trigger autoencoder (score inside)": (
            ae,
            5,
            width_config(profile_ranges(ae, x_profile), 16),
        ),
        "jet tagger, profiled ap_fixed<16,I>": (
            tagger,
            16,
            width_config(profile_ranges(tagger, x_tagger), 16),
        ),
        "jet tagger, uniform ap_fixed<16,6,AP_RND_CONV,AP_SAT> (saturating sums)": (
            tagger,
            16,
            DeployConfig(precision="ap_fixed<16,6,AP_RND_CONV,AP_SAT>"),
        ),
    }


def bench(name: str, model, n_in: int, config: DeployConfig, args) -> dict:
    x = np.random.default_rng(0).normal(size=(args.events, n_in)).astype(np.float32)
    torch.set_num_threads(args.threads)

    def float_model() -> None:
        with torch.inference_mode():
            for i in range(0, len(x), 65536):
                model(torch.from_numpy(x[i : i + 65536]))

    out: dict = {"model": name, "events": args.events, "threads": args.threads}
    t0 = time.perf_counter()
    with FirmwareEmulator(model, (n_in,), config) as fw:
        out["compile_s"] = time.perf_counter() - t0
        timings = {
            "torch float": median_seconds(float_model, args.repeat)[0],
            "precml vectorised": median_seconds(
                lambda: fw.predict(x, threads=args.threads, engine="vectorised"), args.repeat
            )[0],
            "precml C++ batch": median_seconds(
                lambda: fw.predict(x, threads=args.threads, engine="cxx"), 1
            )[0],
        }
        vectorised = fw.predict(x, threads=args.threads, engine="vectorised")
        cxx = fw.predict(x, threads=args.threads, engine="cxx")
        x_exact = x[: args.exact_events]
        fw.hls4ml_predict(x_exact[:10])  # compile hls4ml's own library first (not timed)
        t0 = time.perf_counter()
        reference = fw.hls4ml_predict(x_exact)
        hls4ml_s = time.perf_counter() - t0
    rates = {k: args.events / v for k, v in timings.items()}
    rates["hls4ml predict (baseline)"] = len(x_exact) / hls4ml_s
    out["events_per_s"] = rates
    out["ratio_vectorised_over_hls4ml"] = (
        rates["precml vectorised"] / rates["hls4ml predict (baseline)"]
    )
    out["ratio_cxx_batch_over_hls4ml"] = (
        rates["precml C++ batch"] / rates["hls4ml predict (baseline)"]
    )
    out["bit_exact_vs_hls4ml_predict"] = {
        "events": len(x_exact),
        "identical": bool(np.array_equal(vectorised[: len(x_exact)], reference)),
        "cxx_identical": bool(np.array_equal(cxx[: len(x_exact)], reference)),
    }
    out["bit_exact_vectorised_vs_cxx"] = {
        "events": args.events,
        "identical": bool(np.array_equal(vectorised, cxx)),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--exact-events", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = {"config": vars(args), "models": []}
    for name, (model, n_in, config) in _models().items():
        row = bench(name, model, n_in, config, args)
        results["models"].append(row)
        print(
            f"\n{name}: {args.events:,} events, {args.threads} threads, "
            f"compile {row['compile_s']:.1f} s"
        )
        for label, rate in row["events_per_s"].items():
            print(f"  {label:28s} {rate:12,.0f} events/s")
        print(
            f"  vectorised / hls4ml predict: {row['ratio_vectorised_over_hls4ml']:.0f}x; "
            f"C++ batch / hls4ml predict: {row['ratio_cxx_batch_over_hls4ml']:.1f}x"
        )
        exact = row["bit_exact_vs_hls4ml_predict"]
        print(
            f"  bit-exact vs hls4ml predict on {exact['events']:,} events: {exact['identical']} "
            f"(C++ batch: {exact['cxx_identical']}); vectorised vs C++ on all "
            f"{args.events:,}: {row['bit_exact_vectorised_vs_cxx']['identical']}"
        )
    write("bench_fpga_emulation", results)


if __name__ == "__main__":
    main()
