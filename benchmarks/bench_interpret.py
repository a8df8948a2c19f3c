"""Interpretability core: SHAP explainers on the jet tagger's shape, and active subspaces.

Model: the hls4ml jet tagger's architecture, a 16-64-32-32-5 ReLU MLP (arXiv:1804.06913),
float32, seeded random initialisation then 3 epochs of Adam on **synthetic inputs** (five
Gaussian classes in 16 features; no data files, ``precml_widgets.fpga`` is not imported:
it ships no tagger weights). Explained output: the logit of class 0 (the tagger's "g").
Events: 1000 x 16 synthetic events, background 100 drawn with ``background_sample`` (seeded).

SHAP: DeepExplainer (exact additivity by construction) and GradientExplainer (reference,
200 expected-gradient samples) on all 1000 events, median of 3 runs, against KernelExplainer
at matched accuracy. Truth: the exact interventional SHAP values with this background,
computed here by a different algorithm from shap's, direct enumeration of all 2**16
coalitions (``v(S) = mean_b f(x_S, b_rest)``, then the Shapley weighted sum), on the first
``N_TRUTH`` events. Kernel's ``nsamples`` is raised along a ladder until its RMS difference
from the truth is <= 5 % of std(phi_exact) ("matched, 5 %"); also reported: the first rung
that matches DeepExplainer's own RMS error from the truth ("matched, deep"). Kernel is timed
on the first ``N_KERNEL`` events at the matched nsamples and scaled to 1000 events per event
(linear in events: KernelExplainer explains them one by one), median of 3.
The ladder starts at 64: at 2 d + 2 = 34 KernelExplainer's regression is singular.
Seen on 2 busy cores: the trained tagger's class-0 logit is close to additive on these
Gaussian inputs, so Kernel converges at ~200 coalitions and is only ~3-6x slower than
DeepExplainer at matched accuracy (the >= 20x target is not met here); DeepExplainer's own
RMS error from the exact values is ~6 % of std(phi).

Active subspace: ``active_subspace`` with 200 bootstrap resamples on 1e4 x 16, median of 5.
Every timing at torch threads 2 (the machine's cores) and 1; ``os.getloadavg()`` recorded.

``--model published`` explains hls4ml's published tagger instead (its KERAS_3layer weights from
the data registry, the logit of class 't', i.e. without the softmax, whose operation is outside
DeepLIFT's rules) on independent standard-normal **synthetic inputs** in its standardised
features: the model users deploy, and a less additive one.

Run: ``python benchmarks/bench_interpret.py [--model published]`` (writes
benchmarks/results/interpret.json or interpret_published.json).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import median_seconds, write

from precml_widgets.interpret import ScoredModel, active_subspace, background_sample, explain

# The exact-SHAP truth is the tests' enumeration of all 2**d coalitions (one copy, written from
# the definition and unit-tested in tests/test_shapley_truth.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from shapley_truth import exact_shapley

D, CLASSES, HIDDEN = 16, 5, (64, 32, 32)
N_EVENTS, N_BACKGROUND, N_SUBSPACE = 1000, 100, 10_000
N_TRUTH, N_KERNEL = 16, 20
LADDER = (64, 96, 128, 192, 256, 384, 512, 1024, 2048, 4096, 8192, 16384)
TOLERANCE = 0.05  # Kernel RMS difference from the exact values / std(phi_exact)
CLASS_NAMES = ("g", "q", "W", "Z", "t")


def synthetic_classes(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic events (n, 16) of five Gaussian classes (unit width, shifted means)."""
    means = np.random.default_rng(1804_06913).normal(scale=1.0, size=(CLASSES, D))
    y = rng.integers(0, CLASSES, size=n)
    return means[y] + rng.normal(size=(n, D)), y


def tagger(seed: int, epochs: int = 3) -> torch.nn.Sequential:
    """The 16-64-32-32-5 ReLU MLP, trained for ``epochs`` on 20 000 synthetic events."""
    torch.manual_seed(seed)
    sizes = (D, *HIDDEN)
    layers: list[torch.nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], CLASSES))
    x, y = synthetic_classes(20_000, np.random.default_rng([seed, 1]))
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(256):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx]).backward()
            opt.step()
    return net.eval()


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def bench_shap(model: ScoredModel, x: np.ndarray, bg, seed: int, repeat: int) -> dict:
    out: dict = {}
    t0 = time.perf_counter()
    truth = exact_shapley(model.score, x[:N_TRUTH], bg.data, chunk=2048)
    truth_s = time.perf_counter() - t0
    scale = float(np.std(truth))
    tol = TOLERANCE * scale
    # check the enumeration itself: efficiency, sum phi = f(x) - E_b f(b)
    efficiency = float(
        np.max(np.abs(truth.sum(1) - (model.score(x[:N_TRUTH]) - model.score(bg.data).mean())))
    )
    print(f"exact truth on {N_TRUTH} events: {truth_s:.1f} s, efficiency error {efficiency:.1e}")
    out["truth"] = {
        "events": N_TRUTH,
        "algorithm": "direct enumeration of 2**16 coalitions x 100 background rows",
        "seconds": truth_s,
        "efficiency_error_abs": efficiency,
        "std_phi": scale,
        "tolerance_rms": tol,
        "tolerance_note": f"RMS(phi - phi_exact) <= {TOLERANCE} x std(phi_exact)",
    }
    fast: dict = {}
    for method in ("deep", "gradient"):
        result = explain(model, x, bg, method=method, seed=seed)
        per_threads = {}
        for threads in (2, 1):
            torch.set_num_threads(threads)
            med, times = median_seconds(
                lambda m=method: explain(model, x, bg, method=m, seed=seed), repeat
            )
            per_threads[str(threads)] = {"median_s": med, "times_s": times}
        torch.set_num_threads(2)
        err = rms(result.values[:N_TRUTH], truth)
        fast[method] = {
            "events": len(x),
            "threads": per_threads,
            "additivity_error_relative": result.additivity_error,
            "rms_vs_exact": err,
            "rms_vs_exact_over_std": err / scale,
            "n_samples": result.n_samples,
        }
        print(
            f"{method:>8}: {per_threads['2']['median_s']:.3f} s (2 threads), "
            f"{per_threads['1']['median_s']:.3f} s (1 thread) for {len(x)} x {D}; additivity "
            f"{result.additivity_error:.1e}; RMS vs exact / std = {err / scale:.3f}"
        )
    out["fast"] = fast
    ladder = []
    matched_5 = matched_deep = None
    deep_rms = fast["deep"]["rms_vs_exact"]
    for ns in LADDER:
        t0 = time.perf_counter()
        r = explain(model, x[:N_TRUTH], bg, method="kernel", n_samples=ns, seed=seed)
        sec = time.perf_counter() - t0
        err = rms(r.values, truth)
        ladder.append({"nsamples": ns, "rms_vs_exact": err, "over_std": err / scale, "s": sec})
        print(f"kernel nsamples={ns:>6}: RMS/std {err / scale:.3f} ({sec / N_TRUTH:.2f} s/event)")
        if matched_deep is None and err <= deep_rms:
            matched_deep = ns
        if err <= tol:
            matched_5 = ns
        if matched_5 is not None and matched_deep is not None:
            break
    out["kernel_ladder"] = ladder
    kernel: dict = {}
    for label, ns in (("matched_5pct", matched_5), ("matched_deep", matched_deep)):
        if ns is None:
            kernel[label] = {"nsamples": None, "note": f"not reached by nsamples={LADDER[-1]}"}
            continue
        entry: dict = {"nsamples": ns, "events_timed": N_KERNEL, "threads": {}}
        for threads in (2, 1):
            torch.set_num_threads(threads)
            med, _ = median_seconds(
                lambda n=ns: explain(
                    model, x[:N_KERNEL], bg, method="kernel", n_samples=n, seed=seed
                ),
                3,
            )
            per_event = med / N_KERNEL
            deep_s = fast["deep"]["threads"][str(threads)]["median_s"]
            entry["threads"][str(threads)] = {
                "s_per_event": per_event,
                "projected_s_1000_events": per_event * len(x),
                "kernel_over_deep": per_event * len(x) / deep_s,
            }
        torch.set_num_threads(2)
        kernel[label] = entry
        print(
            f"kernel {label} (nsamples={ns}): {entry['threads']['2']['s_per_event']:.3f} s/event "
            f"on {N_KERNEL} events -> {entry['threads']['2']['projected_s_1000_events']:.0f} s "
            f"projected for 1000; {entry['threads']['2']['kernel_over_deep']:.0f}x deep"
        )
    kernel["timing_note"] = (
        f"Kernel timed on the first {N_KERNEL} events and scaled linearly to {len(x)}"
    )
    out["kernel"] = kernel
    return out


def bench_subspace(model: ScoredModel, seed: int, repeat: int) -> dict:
    x, _ = synthetic_classes(N_SUBSPACE, np.random.default_rng([seed, 3]))
    out = {"events": N_SUBSPACE, "n_bootstrap": 200, "repeat": repeat, "threads": {}}
    for threads in (2, 1):
        torch.set_num_threads(threads)
        active_subspace(model, x, n_bootstrap=200, seed=seed)  # warm-up
        med, times = median_seconds(
            lambda: active_subspace(model, x, n_bootstrap=200, seed=seed), repeat
        )
        out["threads"][str(threads)] = {"median_s": med, "times_s": times}
        print(f"active subspace 1e4 x 16, 200 bootstraps, {threads} thread(s): {med:.3f} s")
    torch.set_num_threads(2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--model",
        choices=("trained-here", "published"),
        default="trained-here",
        help="trained-here: the tagger's shape trained on 5 synthetic Gaussian classes (no "
        "files); published: hls4ml's published KERAS_3layer weights (data registry entry "
        "hls4ml_jet_tagger_weights), class-t logit, on standard-normal synthetic inputs",
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    load_before = os.getloadavg()
    t_start = time.perf_counter()
    if args.model == "published":
        from precml_widgets.fpga import JET_TAGGER_INPUTS, load_jet_tagger

        logits = load_jet_tagger()[:-1].eval()  # without the softmax: DeepLIFT's rules hold
        model = ScoredModel(logits, JET_TAGGER_INPUTS, output=4, name="jet tagger, logit 't'")
        x = np.random.default_rng([args.seed, 2]).normal(size=(N_EVENTS, D))
        pool = np.random.default_rng([args.seed, 4]).normal(size=(2_000, D))
        inputs = "synthetic inputs: independent standard normals in the standardised features"
        described = "hls4ml's published jet tagger (KERAS_3layer weights), logit of class 't'"
    else:
        net = tagger(args.seed)
        model = ScoredModel(
            net, tuple(f"x{i}" for i in range(D)), output=0, name="jet tagger shape, logit 'g'"
        )
        x, _ = synthetic_classes(N_EVENTS, np.random.default_rng([args.seed, 2]))
        pool, _ = synthetic_classes(2_000, np.random.default_rng([args.seed, 4]))
        inputs = "synthetic inputs (5 Gaussian classes, 16 features); model trained here"
        described = (
            "16-64-32-32-5 ReLU MLP, hls4ml jet tagger shape (arXiv:1804.06913), float32, "
            "explained output: logit of class 0 ('g')"
        )
    bg = background_sample(pool, N_BACKGROUND, seed=args.seed, source="synthetic inputs")
    shap_out = bench_shap(model, x, bg, args.seed, repeat=3)
    sub = bench_subspace(model, args.seed, repeat=5)
    deep = shap_out["fast"]["deep"]
    ratio = shap_out["kernel"].get("matched_5pct", {}).get("threads", {}).get("2", {})
    targets = {
        "deep_le_2s_1000x16": deep["threads"]["2"]["median_s"] <= 2.0,
        "additivity_le_1e-4": deep["additivity_error_relative"] <= 1e-4,
        "kernel_ge_20x_slower_matched_5pct": ratio.get("kernel_over_deep", 0.0) >= 20,
        "active_subspace_le_1s": sub["threads"]["2"]["median_s"] <= 1.0,
    }
    print("targets:", targets)
    write(
        "interpret" if args.model == "trained-here" else "interpret_published",
        {
            "inputs": inputs,
            "model": described,
            "events": N_EVENTS,
            "background": N_BACKGROUND,
            "seed": args.seed,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "shap": shap_out,
            "active_subspace": sub,
            "targets_met": targets,
            "total_s": time.perf_counter() - t_start,
        },
    )


if __name__ == "__main__":
    main()
