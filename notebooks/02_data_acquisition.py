# %% [markdown]
# # An unsupervised anomaly trigger at the LHC: rates, efficiencies and a validated fast simulation
#
# Work-plan item 2, *data acquisition*: **part 1** (sections 1–7) is the physics and
# statistics of a model-agnostic L1 trigger; **part 2** (section 8) puts the network on an
# FPGA with hls4ml — bit-accurate fixed-point emulation, a precision scan, and resource and
# latency estimates against the L1 budgets, all without vendor tools.
#
# **You will learn**
#
# - how the LHC bunch structure sets the input rate of the Level-1 (L1) trigger, and why an
#   anomaly trigger gets only about a kilohertz of it;
# - which samples here are **real collision data** and which are **simulated**, and why a
#   trigger rate at the kHz level needs a fast simulation of the background;
# - how to tune a fast simulation on half of the real events and validate it on the other
#   half with a two-sample test — and how to check that the test has the power to reject a
#   bad one;
# - how an autoencoder's reconstruction error becomes a trigger: the threshold for a target
#   rate, the rate with its Clopper–Pearson interval, the signal efficiencies, ROC curves
#   down to a false-positive rate of 1e-5;
# - why a model-agnostic trigger must always be compared with trivial baselines, at equal
#   rate;
# - how far a kHz rate from a simulation can be trusted: where the cut lies relative to the
#   real events, and a systematic uncertainty from the simulation's own free choice;
# - how to explore the operating point interactively and export it.

# %% [markdown]
# ## Parameters
#
# The defaults are the teaching defaults; `make test-teaching` runs them and records their
# wall time and peak memory (Binder's limits are 5 min and 2 GB). Every random draw derives from `seed`, so the same parameters give the same numbers.
#
# | parameter | what it scales | smaller = faster |
# |---|---|---|
# | `n_background` | fast-simulated background events on which rates are measured; the smallest measurable rate is 28.6 MHz / `n_background` | yes, but 50 000 events cannot resolve rates below ~0.6 kHz |
# | `n_signal` | events per simulated resonance signal | yes (wider efficiency intervals) |
# | `n_permutations` | permutations of the energy test (smallest p-value 1/(1+n)) | yes (coarser p-values) |
# | `retrain` | train the autoencoder here instead of loading the shipped weights | `False` is faster |
# | `n_train` | fast-simulated training events when `retrain` | yes |
# | `epochs` | training epochs when `retrain` | yes |
# | `target_rate_hz` | the trigger rate to aim for, in Hz | — (must stay above 28.6 MHz / `n_background`) |
# | `seed` | master seed of every random draw | — |
# | `results_path` | JSON file for the recorded numbers; `None` writes nothing | — |
# | `fpga_widths` | fixed-point widths W of the precision scan: one firmware build (~10 s of g++) each | yes (fewer builds) |
# | `fpga_device`, `fpga_clock_ns`, `fpga_backend` | the FPGA part, clock period and HLS tool of the estimates | no |
# | `latency_budget_ns` | the latency budget the estimate is checked against (~50 ns: a Global-Trigger algorithm) | no |
# | `fpga_workers` | Dask workers building firmware in parallel, each with its own g++; `make test-teaching` measures the wall time and memory (PSS of the kernel and every worker) of the teaching defaults against Binder's limits (5 min, 2 GB) | no (2 is faster on a laptop) |
# | `n_tagger_events` | generated inputs emulated through the jet tagger of section 8.3 | yes |

# %% tags=["parameters"]
n_background = 1_000_000
n_signal = 50_000
n_permutations = 500
retrain = False
n_train = 100_000
epochs = 20
target_rate_hz = 1000.0
seed = 0
fpga_widths = (6, 8, 10, 12, 14, 16, 18)
fpga_device = "xcvu13p"
fpga_clock_ns = 5.0
fpga_backend = "Vitis"
latency_budget_ns = 50.0
n_tagger_events = 50_000
fpga_workers = 1
results_path = None

# %%
import dataclasses
import math
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from precml_widgets.anomaly import (
    BACKGROUND,
    BACKGROUND_CAVEAT,
    BANDWIDTH_GRID,
    DEFAULT_INPUT_RATE_HZ,
    FEATURE_NAMES,
    LHC_BUNCH_SLOTS,
    AutoencoderConfig,
    DimuonKDE,
    StudyConfig,
    anomaly_scores,
    bandwidth_systematic,
    clopper_pearson,
    compare_with_held_out,
    lhc_collision_rate_hz,
    load_autoencoder,
    load_sample,
    neighbour_bandwidths,
    operating_point,
    operating_point_figure,
    rate_at_threshold,
    roc_points_for_plot,
    run_study,
    split_ensemble,
    threshold_for_rate,
    z_window_mask,
)
from precml_widgets.data import is_available, locate, missing_data_message, read_branches
from precml_widgets.record import record_results
from precml_widgets.stats import energy_test

# %matplotlib inline

# %% [markdown]
# ## 1. The Level-1 trigger
#
# The LHC ring has 3564 slots of 25 ns for proton bunches: with a revolution frequency of
# 11.2455 kHz that is 40.08 MHz of possible crossings. Not every slot is filled (gaps for
# the injection kickers and the beam dump): physics fills collide about 2500–2800 bunch
# pairs at ATLAS and CMS. The rate of colliding crossings is the
# input of the first trigger level (a stream that keeps crossings whatever they contain is
# called *zero-bias*).

# %%
print(
    f"every slot filled ({LHC_BUNCH_SLOTS} bunches): {lhc_collision_rate_hz(LHC_BUNCH_SLOTS) / 1e6:6.2f} MHz"
)
for filled, fill in [
    (2808, "design filling scheme"),
    (2544, "2018-like fill, the default here"),
    (2200, "2016-like fill"),
]:
    print(f"{filled:4d} colliding bunches ({fill}): {lhc_collision_rate_hz(filled) / 1e6:6.2f} MHz")

input_rate_hz = DEFAULT_INPUT_RATE_HZ
l1_output_hz = 100e3
print(
    f"\nL1 reduces {input_rate_hz / 1e6:.1f} MHz to ~{l1_output_hz / 1e3:.0f} kHz: it keeps one crossing in {input_rate_hz / l1_output_hz:.0f}."
)
print(
    f"An anomaly trigger at {target_rate_hz:g} Hz keeps one crossing in {input_rate_hz / target_rate_hz:,.0f} "
    f"(false-positive rate {target_rate_hz / input_rate_hz:.1e}), {target_rate_hz / l1_output_hz:.1%} of the L1 budget."
)

# %% [markdown]
# **The budget.** The CMS L1 trigger accepts about 100 kHz in Runs 2 and 3 (the
# high-level trigger then reduces that to a few kHz written to disk). That budget is shared
# by hundreds of trigger algorithms (single muons, electrons, jets, missing momentum, ...),
# so a new, exploratory trigger gets a small slice — of order 1 kHz. Such a trigger keeps
# only a few crossings in every 100 000 (the cell above prints the exact fraction for
# `target_rate_hz`): its false-positive rate (FPR) is of order 1e-5, and we must *measure*
# such a small fraction.
#
# **The latency.** The detector data wait in on-detector buffers while L1 decides: about
# 4 µs in Runs 2 and 3 (12.5 µs after the Phase-2 upgrade), of which an algorithm gets a
# small part, and it must accept a new crossing every 25 ns. Only custom electronics —
# FPGAs — meet this; fitting a neural network there is part 2 of this work-plan item.
#
# **Why unsupervised.** A supervised trigger selects the signals someone thought of. An
# *autoencoder* trained on background alone flags whatever it cannot reconstruct well: it
# is model-agnostic. This is the idea of the CMS studies of E. Govorkova et al.,
# *Autoencoders on field-programmable gate arrays for real-time, unsupervised new physics
# detection at 40 MHz at the Large Hadron Collider*
# ([arXiv:2108.03986](https://arxiv.org/abs/2108.03986)), and of the ADC2021 data
# challenge ([arXiv:2107.02157](https://arxiv.org/abs/2107.02157)). CMS has run such
# triggers in Run 3 (AXOL1TL, CICADA).

# %% [markdown]
# ## 2. The data: what is real and what is simulated
#
# Every sample is reduced to the same objects: the **two leading muons** of the event,
# each with (pT, η, φ), inside a common acceptance (pT > 1 GeV, |η| < 2.4). Because every
# event in every sample has exactly two muons, a trigger cannot win by *counting* objects —
# a real pitfall of anomaly-detection benchmarks, where a signal with more leptons than the
# background is trivially found.
#
# - **Background: real CMS 2010 data** (7 TeV, `uproot-Zmumu.root`, a dimuon selection
#   around the Z). Section 3 counts how many file entries belong to each collision; one
#   entry per collision is kept, and the collisions are split alternately into *even*
#   (tuning) and *odd* (held-out validation) halves.
# - **Rate sample: a fast simulation** of that background (section 3), because the real
#   sample is far too small to measure a kHz rate.
# - **Signals, real data**: ATLAS 2016 13 TeV four-lepton events (ZZ\*, H → 4ℓ; two
#   leading muons kept) and CMS 2012 DoubleMuParked events (8 TeV, a different trigger and
#   energy: a *shifted* Standard-Model population).
# - **Signals, simulated**: narrow X → μμ resonances at the masses set in `StudyConfig`
#   (the table below lists them).
#
# **The caveat that travels with every rate.** A real L1 background is zero-bias
# collisions, most of which contain no muon at all. The background here is a
# *dimuon-triggered* stream (CMS 2010 events selected around the Z), not zero-bias, so every
# absolute rate below is a teaching model; the method — FPR measured on a background sample
# times the input rate — is exactly the real one. The explorer, its CSV/JSON/PNG exports and
# the summary repeat this caveat next to the rate, with a real/simulated flag per sample.
#
# The next cell runs the whole study: it loads the real samples, tunes and validates the
# fast simulation, generates the signals and scores every event with the autoencoder.

# %%
config = StudyConfig(
    n_background=n_background,
    n_signal=n_signal,
    train=retrain,
    n_train=n_train,
    autoencoder=AutoencoderConfig(epochs=epochs, seed=seed),
    n_permutations=n_permutations,
    seed=seed,
)
with warnings.catch_warnings():  # a missing sample is said once, below
    warnings.filterwarnings("ignore", message="sample .* skipped")
    study = run_study(config)
# What a machine without some data files skips, each with the sentence that says how to fetch
# them (python -m precml_widgets.data list shows every file and where it was found).
skipped_sections: dict[str, str] = {}
for name in study.missing:
    skipped_sections[f"sample {name}"] = (
        f"Sample {name!r} is not in this study: {missing_data_message(name)}."
    )
    print(skipped_sections[f"sample {name}"])

# %%
print(f"{'sample':24s} {'events':>9s}  {'origin':10s} description")
for name, events in study.events.items():
    origin = "REAL data" if events.real else "SIMULATED"
    print(f"{name:24s} {events.n:9,d}  {origin:10s} {events.description}")

# %%
mass_bins = np.geomspace(0.2, 2000.0, 81)
pt_bins = np.geomspace(1.0, 2000.0, 61)
fig, (ax_m, ax_pt) = plt.subplots(1, 2, figsize=(13, 5.2), layout="constrained")
for name, events in study.events.items():
    style = {
        "histtype": "step",
        "density": True,
        "lw": 1.5,
        "ls": "-" if events.real else "--",
        "label": f"{name} ({'real' if events.real else 'simulated'}, {events.n:,})",
    }
    ax_m.hist(events.mass(), bins=mass_bins, **style)
    ax_pt.hist(events.pt[:, 0], bins=pt_bins, **style)
ax_m.set(xlabel="dimuon invariant mass [GeV]", ylabel="probability density [1/GeV]")
ax_pt.set(xlabel="leading-muon $p_T$ [GeV]", ylabel="probability density [1/GeV]")
for ax in (ax_m, ax_pt):
    ax.set(xscale="log", yscale="log")
    ax.grid(alpha=0.3)
fig.legend(*ax_m.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize="small")
plt.show()

# %%
z_window_gev = (81.0, 101.0)
low_mass_gev = 12.0
sample_summary = {}
print(
    f"{'sample':24s} {'origin':10s} {'Z window':>9s} {'m < 12':>7s} {'median pT1':>11s}"
    f"   (Z window: {z_window_gev[0]:g} < m < {z_window_gev[1]:g} GeV)"
)
for name, events in study.events.items():
    m = events.mass()
    sample_summary[name] = {
        "z_window_fraction": float(np.mean((m > z_window_gev[0]) & (m < z_window_gev[1]))),
        "low_mass_fraction": float(np.mean(m < low_mass_gev)),
        "median_leading_pt_gev": float(np.median(events.pt[:, 0])),
    }
    row = sample_summary[name]
    origin = "real" if events.real else "simulated"
    print(
        f"{name:24s} {origin:10s} {row['z_window_fraction']:9.1%} {row['low_mass_fraction']:7.1%} "
        f"{row['median_leading_pt_gev']:7.1f} GeV"
    )

# The Z peak: fast simulation vs held-out real events. The simulation is a smoothed
# bootstrap of the TUNING half, so it inherits that half's fluctuation: the error of the
# difference holds both halves' binomial errors and the simulation's own.
z_window_check = {}
for name in (BACKGROUND, "cms2010_zmumu_validate"):
    inside = z_window_mask(study.events[name], z_window_gev)
    z_window_check[name] = clopper_pearson(int(np.count_nonzero(inside)), inside.size)
fast_z, real_z = z_window_check[BACKGROUND], z_window_check["cms2010_zmumu_validate"]
tuning_z = float(np.mean(z_window_mask(study.kde.source, z_window_gev)))
z_window = compare_with_held_out(
    fast_z.k, fast_z.n, real_z.k, real_z.n, study.kde.source.n, quantity="Z-window fraction"
)
z_window_agree = z_window.agree
print(f"\nZ-window fraction of the tuning half (what the simulation smooths): {tuning_z:.1%}")
print(z_window.describe())

# The same comparison over random tune/validate splits, each re-tuning the kernel: a
# mis-modelled peak shifts every split the same way; one split's fluctuation averages out.
# The same splits also give the calibrated energy test of section 3: its null distribution
# comes from pseudo-real samples of the simulation itself, each put through the whole
# procedure. 19 of them make a Monte Carlo test at 1/(1 + 19) = 5 % (the real statistic
# above every toy rejects); each toy costs 5 kernel tunings, ~20 s in all.
n_validation_toys = 19
splits = split_ensemble(
    load_sample("cms2010_zmumu"), n_splits=5, n_toys=n_validation_toys, seed=seed
)
print(
    f"over {len(splits.split_seeds)} random splits: held-out minus simulated Z-window fraction "
    f"{splits.z_difference:+.1%} +- {splits.z_sigma:.1%} "
    f"(pulls {', '.join(f'{p:+.2f}' for p in splits.z_pulls)}); within 2 sigma: {splits.z_agree}"
)

# %% [markdown]
# Solid lines are recorded collisions, dashed lines simulation; the table puts numbers on
# what the plot shows. How to read it: a large Z-window fraction means a sample dominated
# by Z → μμ; a large fraction below 12 GeV means low-mass dimuons (J/ψ, Υ, low-mass
# Drell–Yan); a sample whose median leading-muon pT is below the background's has softer
# muons, which a cut on high HT rejects.
#
# The last lines compare the fast-simulated background with the held-out real events on
# the Z peak. The fast simulation smooths each event of the *tuning* half in the dimuon's own
# coordinates (mass, pT and rapidity of the pair, decay angles), so it reproduces the tuning
# half's Z-window fraction (printed) — including that half's statistical fluctuation. Two
# halves of a few hundred events differ by a few per cent by chance alone (the printed
# error), so the comparison counts both halves' errors; comparing with the held-out error
# alone would call a fluctuation of the split a mis-modelling. The split-averaged line is the
# sharper test: a kernel that smears out the Z peak would shift every split the same way.
# Section 3 tests all five inputs; section 6 asks what the simulation's tails mean for the
# trigger rate.

# %% [markdown]
# ## 3. Why a fast simulation, and how to trust it
#
# A rate is a count: with N background events the smallest non-zero rate one can measure is
# one event, input rate / N. To measure a rate one also needs *many* passing events: with
# k of them the relative statistical uncertainty is about 1/√k.

# %%
held_out = study.events["cms2010_zmumu_validate"]
tune = study.kde.source

# Know your data: a file entry is not necessarily a collision.
background_file = locate("cms2010_zmumu")
ids = read_branches(background_file, "events", ["Run", "Event", "Type"])
n_entries = len(ids["Run"])
n_collisions = len(set(zip(ids["Run"].tolist(), ids["Event"].tolist(), strict=True)))
entries_by_type = dict(sorted(Counter(ids["Type"].tolist()).items()))
tuning_set = {tuple(row) for row in tune.features().round(5).tolist()}
n_copies = sum(tuple(row) in tuning_set for row in held_out.features().round(5).tolist())
n_kept = tune.n + held_out.n
print(
    f"{background_file.name}: {n_entries:,} entries from {n_collisions:,} distinct collisions (run, event), "
    f"{n_entries / n_collisions:.2f} entries per collision"
)
print(
    "entries by muon-pair reconstruction type (G = global, T = tracker):",
    ", ".join(f"{t} {n:,}" for t, n in entries_by_type.items()),
)
print(f"kept (one global-global muon pair per collision, in acceptance): {n_kept:,}")
print(f"held-out events identical to a tuning event: {n_copies:,} of {held_out.n:,}\n")

sizes = {
    "real, held-out half": held_out.n,
    "real, distinct collisions": n_collisions,
    "fast simulation": study.background.n,
}
min_rate_hz = {label: input_rate_hz / n for label, n in sizes.items()}
for label, rate in min_rate_hz.items():
    print(f"{label:26s} N = {sizes[label]:>9,d}: smallest measurable rate = {rate / 1e3:9.3f} kHz")

expected = target_rate_hz / input_rate_hz * study.background.n
print(
    f"\nAt {target_rate_hz:g} Hz the fast-simulation sample expects {expected:.1f} passing events "
    f"(statistical precision ~ 1/sqrt(k) = {1 / np.sqrt(expected):.0%}); "
    f"the held-out real sample expects {target_rate_hz / input_rate_hz * held_out.n:.3f}."
)


# %% [markdown]
# Two lessons. First, compare each sample's smallest measurable rate with the target: a
# sample whose smallest measurable rate lies above the target cannot measure it at all
# (the last line prints how many held-out real events the target rate expects to pass).
# Second, count *collisions*, not file entries: if the cell prints more entries than
# distinct collisions, the file stores some collisions several times — here, as the
# breakdown by type shows, one entry per reconstructed muon pair (global–global,
# global–tracker, tracker–tracker). Split by entry, "held-out" events could then be copies
# of tuning events, and the validation below would compare the simulation with the events
# it was built from — an optimistic p-value. precml's loader keeps one global–global pair
# per collision, so the halves share no collision: the count of held-out events identical
# to a tuning event should be 0, and anything else is a bug to fix before going on.
#
# The fast simulation is a *smoothed bootstrap*: a Gaussian kernel density estimate (KDE)
# of the real tuning events in the dimuon rest frame — pair mass, pT and rapidity, and the
# two decay angles — from which any number of events can be drawn. Each coordinate is scaled
# by its interquartile range, so the narrow Z peak, not the low-mass tail, sets the kernel
# width in mass; every event also enters with its two muons exchanged.
#
# Its one knob is the kernel width. Too wide, and the simulation smears out the structure
# of the data (the Z peak, the correlations); too narrow, and it only reproduces the tuning
# events. The width is chosen by two-fold cross-validation **on the tuning half only** (the
# simulation of one half is compared with the other half by the energy distance), so that
# the held-out half gives an honest test: the *energy test*, a multivariate
# two-sample test whose p-value comes from permutations.

# %%
def verdict(p_value):
    # How this notebook reads a p-value: rejected below 1 %, mild tension below 10 %.
    if p_value < 0.01:
        return "REJECTED at 1 %"
    if p_value < 0.1:
        return "mild tension (p < 10 %), not rejected at 1 %"
    return "no evidence of a difference at this sample size (p >= 10 %)"


p_floor = 1 / (1 + n_permutations)
print(f"KDE bandwidth chosen on the {tune.n} tuning events: {study.kde.bandwidth:g} x Scott's rule")
print(
    f"smallest p-value {n_permutations} permutations can give: {p_floor:.4f}"
    + ("" if p_floor < 0.01 else " (too few permutations to reject anything at 1 %)")
)
print(f"tuned fast simulation vs held-out real events:    {study.validation.describe()}")

# The counter-example: an over-smoothed simulation (three times the chosen width), tested the same way.
oversmoothed_bandwidth = 3 * study.kde.bandwidth
oversmoothed = DimuonKDE(tune, bandwidth=oversmoothed_bandwidth)
oversmoothed_events = oversmoothed.sample(held_out.n, seed=seed + 2, name="fastsim_oversmoothed")
oversmoothed_validation = energy_test(
    oversmoothed_events.features(), held_out.features(), n_permutations=n_permutations, seed=seed
)
print(
    f"over-smoothed ({oversmoothed_bandwidth:g} x Scott) vs held-out real: {oversmoothed_validation.describe()}"
)
# The calibrated version (section 2's random splits, pseudo-real toys): one statistic, the
# energy distance averaged over the splits, against the same average on each toy.
calibrated_alpha = 1 / (1 + n_validation_toys)
n_toys_above = sum(t >= splits.statistic for t in splits.null)
calibrated_rejected = splits.p_value <= calibrated_alpha
print(
    f"calibrated over {len(splits.split_seeds)} random splits: energy distance {splits.statistic:.4g}, "
    f"{n_toys_above} of {len(splits.null)} pseudo-real toys at or above it, p = {splits.p_value:.3f} "
    f"(smallest possible {calibrated_alpha:.3f}): "
    + (
        f"REJECTED at {calibrated_alpha:.0%}"
        if calibrated_rejected
        else f"not rejected at {calibrated_alpha:.0%}"
    )
)
validation_verdict = {
    f"tuned ({study.kde.bandwidth:g} x Scott)": verdict(study.validation.p_value),
    f"over-smoothed ({oversmoothed_bandwidth:g} x Scott)": verdict(oversmoothed_validation.p_value),
    f"tuned, calibrated over {len(splits.split_seeds)} random splits": (
        f"REJECTED at {calibrated_alpha:.0%}"
        if calibrated_rejected
        else f"not rejected at {calibrated_alpha:.0%} (p = {splits.p_value:.2f})"
    ),
}
print()
for label, text in validation_verdict.items():
    print(f"{label:28s} -> {text}")

# %%
tuned_events = study.kde.sample(held_out.n, seed=seed + 2, name="fastsim_validation")
labels = ["ln $p_{T1}$", "ln $p_{T2}$", r"$\eta_1$", r"$\eta_2$", r"$|\Delta\phi|$"]
fig, axes = plt.subplots(1, len(FEATURE_NAMES), figsize=(15, 3.2), layout="constrained")
for i, (ax, label) in enumerate(zip(axes, labels, strict=True)):
    bins = np.histogram_bin_edges(held_out.features()[:, i], bins=30)
    ax.hist(held_out.features()[:, i], bins=bins, density=True, color="0.7", label="held-out real")
    ax.hist(
        tuned_events.features()[:, i],
        bins=bins,
        density=True,
        histtype="step",
        lw=1.5,
        label=f"KDE {study.kde.bandwidth:g} x Scott",
    )
    ax.hist(
        oversmoothed_events.features()[:, i],
        bins=bins,
        density=True,
        histtype="step",
        lw=1.5,
        ls="--",
        label=f"KDE {oversmoothed_bandwidth:g} x Scott",
    )
    ax.set_xlabel(label)
axes[0].legend(fontsize="x-small")
plt.show()

# %% [markdown]
# How to read the two p-values (the cell prints a verdict for each): a large p-value for
# the tuned simulation means no evidence of a difference from the held-out real events at
# this sample size — *not* a proof that the simulation is right. It is only as strong as
# the independence of the held-out events (checked above), and with a few hundred
# held-out events the test can only see gross differences: a p-value between 1 % and 10 %
# is mild tension, not a rejection at 1 %. The over-smoothed simulation is the test of the
# test. If it is rejected, the test has the power to see a simulation that smears out the
# structure of the data (compare the dashed and grey histograms above). If it is not, the
# held-out events are too few to tell even that, and a tuned simulation that passes means
# little.
#
# One more limit of this p-value: the permutations treat the simulation as exact, but it is
# built from the tuning half and inherits that half's fluctuations, so the test rejects a
# faithful simulation more often than its nominal 1 %. The calibrated version (last line)
# repeats the whole procedure over random splits and draws the null distribution from
# pseudo-real samples of the simulation itself
# (`precml_widgets.anomaly.validation.split_ensemble`). With the few toys affordable here its
# p-value is coarse — it can only say whether the real statistic lies above every toy, a test
# at the printed level — but it is calibrated, so the summary judges the simulation by it, not
# by the single-split p-value. Exercise 10 runs it with more toys.
#
# Keep the limit in mind too: below an FPR of 1/N of the real sample the real events say
# nothing, and the simulation's far tails are an extrapolation of the kernel. Section 6
# asks what that means for the trigger rate.

# %% [markdown]
# ## 4. The autoencoder
#
# A small dense network (printed below; with the default `AutoencoderConfig`,
# 5 → 32 → 16 → **2** → 16 → 32 → 5), trained on fast-simulated background events to
# reproduce its input through a narrow bottleneck. The anomaly score of an event is its
# reconstruction error (mean squared error of the standardised features): events unlike
# the training data are reconstructed badly and score high. It never sees a signal. The
# trained weights ship with precml (a safetensors file, which loads without executing
# code); set `retrain = True` to train it here.

# %%
shipped = load_autoencoder()
print(shipped.model)
print(
    f"shipped weights: {shipped.n_train:,} training events, {shipped.config.epochs} epochs, "
    f"final loss {shipped.loss_history[-1]:.4f}; {shipped.provenance}"
)
fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
ax.plot(
    np.arange(1, len(shipped.loss_history) + 1), shipped.loss_history, "o-", label="shipped model"
)
if retrain:
    history = study.model.loss_history
    ax.plot(
        np.arange(1, len(history) + 1),
        history,
        "s-",
        label=f"retrained here: {study.model.n_train:,} events, {study.model.seconds:.1f} s",
    )
ax.set(xlabel="epoch", ylabel="training loss (MSE, standardised)", yscale="log")
ax.grid(alpha=0.3)
ax.legend()
plt.show()
print("scores below come from the", "model retrained here" if retrain else "shipped model")

# %% [markdown]
# ## 5. From scores to trigger rates
#
# The trigger fires when the score exceeds a threshold. Its rate is the fraction of
# background events above the threshold (the FPR) times the input rate; its interval is
# the exact Clopper–Pearson interval of that binomial fraction (68 % CL). For a target
# rate we take the **lowest threshold whose rate does not exceed the target**. Every rate is
# printed with two uncertainties — statistical (the interval) and systematic (the kernel
# width of the fast simulation; section 6b says where it comes from and why it has no
# independent truth) — and with the caveat of section 2.

# %%
threshold = threshold_for_rate(study.background, target_rate_hz, input_rate_hz=input_rate_hz)
op = operating_point(study.background, study.signals, threshold, input_rate_hz=input_rate_hz)
print(f"target {target_rate_hz:g} Hz -> threshold on the autoencoder score: {threshold:.5g}")
# The kernel-width systematic (section 6b explains it): the rate at the same cut on fast
# simulations with the two neighbouring kernel widths of the cross-validation grid.
bandwidth_neighbours = neighbour_bandwidths(study)


def kernel_width_systematic(score, cut, nominal):
    # (down, up) in Hz: the neighbouring widths' rates minus the nominal one, at the same cut
    variants = bandwidth_systematic(
        study, cut, bandwidth_neighbours, score=score, input_rate_hz=input_rate_hz
    )
    shifts = [r.rate_hz - nominal.rate_hz for r in variants.values()]
    return variants, (min(0.0, *shifts), max(0.0, *shifts))


_, op_syst = kernel_width_systematic("autoencoder", threshold, op.rate)
print(op.rate.describe(op_syst, "kernel width"))
print(f"({op.rate.n_pass:,} of {op.rate.n_total:,} fast-simulated background events pass)")
print("caveat:", BACKGROUND_CAVEAT, "\n")

print(f"{'signal':24s} {'origin':10s} {'pass / events':>16s}   efficiency  (68% CL)")
for key, result in op.efficiencies.items():
    e = result.efficiency
    origin = "real" if study.events[key].real else "simulated"
    print(
        f"{key:24s} {origin:10s} {e.k:>7,d} / {e.n:<7,d}   {e.value:6.1%}  [{e.lower:.1%}, {e.upper:.1%}]"
    )

# %%
curves = {key: study.roc(key) for key in study.signals}  # cached in the study
operating_point_figure(
    study.background,
    study.signals,
    threshold,
    curves,
    input_rate_hz=input_rate_hz,
    score_name="autoencoder score (reconstruction error)",
    systematic_hz=op_syst,
    systematic_label="kernel width",
)

# %% [markdown]
# Left: the score distributions and the cut. Right: the ROC curves — signal efficiency
# against background FPR on a log axis that starts at the smallest resolvable FPR, 1/N —
# with the operating point and its intervals. The efficiency at a fixed, *small* FPR is
# what matters for a trigger, not the area under the curve:

# %%
tpr_at_fpr = {}
for fpr in (1e-4, 1e-5):
    key = f"{fpr:.0e}"
    rate_khz = fpr * input_rate_hz / 1e3
    if fpr < study.background.min_resolvable_fpr:
        tpr_at_fpr[key] = None
        print(
            f"FPR {key} ({rate_khz:.2f} kHz): not resolvable with {study.background.n:,} background events "
            f"(1/N = {study.background.min_resolvable_fpr:.1e}); raise n_background to >= {1 / fpr:,.0f}"
        )
        continue
    tpr_at_fpr[key] = {name: curve.tpr_at_fpr(fpr) for name, curve in curves.items()}
    row = ", ".join(f"{name} {value:.1%}" for name, value in tpr_at_fpr[key].items())
    print(
        f"FPR {key} ({rate_khz:.2f} kHz, {fpr * study.background.n:,.0f} background events): {row}"
    )

# %% [markdown]
# ### Compare with trivial baselines
#
# An anomaly score is only interesting if it beats what a physicist would try first. Two
# baselines use the same events:
#
# - **HT**, the scalar sum of the muons' pT — the classic trigger variable;
# - **leading-muon pT**, the simplest single-object trigger. (Counting muons is no
#   baseline here: every event in every sample has exactly two muons in the shared
#   representation.)
#
# The table compares the efficiencies **at equal rate** (each score's threshold for the
# same target rate) and says which is higher where the 68 % CL intervals do not overlap;
# "eff / FPR" is how many times more often the trigger fires on the signal than on the
# background.

# %%
auc = study.auc_table()
print(f"{'signal':24s} {'autoencoder':>12s} {'HT':>8s} {'lead. pT':>9s}   (AUC)")
for name, row in auc.items():
    print(f"{name:24s} {row['autoencoder']:12.3f} {row['HT']:8.3f} {row['leading-muon pT']:9.3f}")
blind = [name for name, row in auc.items() if row["HT"] < 0.5]
print("\nHT ranks these signals BELOW the background (AUC < 0.5):", ", ".join(blind) or "none")

# What a trigger cares about: the efficiency at the same rate.
ht = study.baselines["HT"]
ht_threshold = threshold_for_rate(ht[BACKGROUND], target_rate_hz, input_rate_hz=input_rate_hz)
ht_op = operating_point(
    ht[BACKGROUND], {k: ht[k] for k in study.signals}, ht_threshold, input_rate_hz=input_rate_hz
)
_, ht_syst = kernel_width_systematic("HT", ht_threshold, ht_op.rate)
print(f"\nat {target_rate_hz:g} Hz:")
print(f"  autoencoder score > {threshold:.4g}: {op.rate.describe(op_syst, 'kernel width')}")
print(f"  HT > {ht_threshold:.4g} GeV: {ht_op.rate.describe(ht_syst, 'kernel width')}")
print("  caveat:", BACKGROUND_CAVEAT)


def higher(a, b):
    # Which efficiency is higher, when their intervals do not overlap.
    if a.lower > b.upper:
        return "autoencoder"
    if b.lower > a.upper:
        return "HT"
    return "compatible (intervals overlap)"


more_efficient = {}
print(
    f"\n{'signal':24s} {'autoencoder [68% CL]':>24s} {'HT [68% CL]':>24s} {'eff / FPR (AE, HT)':>20s}"
    "   higher at equal rate"
)
for key in study.signals:
    ae_eff, ht_eff = op.efficiencies[key].efficiency, ht_op.efficiencies[key].efficiency
    more_efficient[key] = higher(ae_eff, ht_eff)
    gains = [
        e.value / r.fpr.value if r.fpr.value > 0 else float("inf")
        for e, r in ((ae_eff, op.rate), (ht_eff, ht_op.rate))
    ]
    print(
        f"{key:24s} {ae_eff.value:7.2%} [{ae_eff.lower:6.2%}, {ae_eff.upper:6.2%}] "
        f"{ht_eff.value:7.2%} [{ht_eff.lower:6.2%}, {ht_eff.upper:6.2%}] "
        f"{gains[0]:9.3g} {gains[1]:9.3g}   {more_efficient[key]}"
    )

fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
for i, name in enumerate(study.signals):
    for score, ls in [("autoencoder", "-"), ("HT", "--")]:
        curve = study.roc(name, score)  # cached in the study
        fpr, tpr = roc_points_for_plot(curve, curve.min_resolvable_fpr)
        ax.plot(fpr, tpr, ls=ls, color=f"C{i}", label=f"{name}, {score}")
ax.axvline(
    op.rate.fpr.value, color="k", lw=1, ls=":", label=f"{target_rate_hz:g} Hz operating point"
)
ax.set(
    xscale="log",
    xlim=(study.background.min_resolvable_fpr, 1),
    ylim=(0, 1.02),
    xlabel="background FPR",
    ylabel="signal efficiency",
)
ax.grid(alpha=0.3)
ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
plt.show()

# %% [markdown]
# **How to read the baseline comparison.**
#
# - **AUC or efficiency at equal rate?** The AUC averages over all FPRs; a trigger lives at
#   one FPR of order 1e-5. If two scores have similar AUCs for a signal (both close to 1,
#   say) but the table names one of them higher at equal rate, believe the efficiencies:
#   compare scores at equal rate, never by AUC alone. A heavy resonance with hard muons is
#   the case HT triggers are built for; if HT wins there, the autoencoder's generality
#   costs efficiency.
# - **A signal that HT ranks below the background** (listed above) has muons softer than
#   the background's, so a high-HT cut rejects it. If the autoencoder is higher at equal
#   rate for such a signal, something else in its kinematics — the pT balance, the opening
#   angle of the two muons — does not look like the background: this is where a
#   model-agnostic trigger earns its bandwidth.
# - **CMS 2012** is Standard-Model physics recorded with another trigger at another energy.
#   If the autoencoder fires on it much more often than on the background (eff / FPR well
#   above 1), that is what a running experiment would see as a **data-quality alarm**
#   (changed trigger, detector or beam conditions), not new physics: anomalies must be
#   understood before they are interpreted.
# - **ATLAS 4ℓ** is Standard-Model physics too (ZZ\*, H → 4ℓ), rare in a dimuon stream. Its
#   two leading muons need not come from the same Z boson; the Z-window fraction in the
#   table of section 2 shows how often they look like one Z → μμ decay. The less often,
#   the more unlike the background the events can look to the autoencoder.

# %% [markdown]
# ## 6. How far can we trust the kHz rate?
#
# The rate of section 5 comes with a statistical interval: the binomial uncertainty of
# counting passing fast-simulated events. At a kHz that need not be the largest
# uncertainty, because the rate is counted in the far tail of a *simulation*. Three
# checks:
#
# **(a) Where does the cut lie relative to the real events?** The cell prints the largest
# score of the real events (both halves of the CMS 2010 sample) next to each threshold, and
# how many real events lie above the cut.

# %%
real_key = "cms2010_zmumu_validate"
cuts = {"autoencoder": threshold, "HT": ht_threshold}
nominal = {"autoencoder": op.rate, "HT": ht_op.rate}
real_scores = {
    "autoencoder": {
        "held-out": study.scores[real_key].sorted_scores,
        "tuning": anomaly_scores(study.model, tune.features()),
    },
    "HT": {"held-out": ht[real_key].sorted_scores, "tuning": tune.ht()},
}
max_real_score = {
    score: {half: float(np.max(values)) for half, values in halves.items()}
    for score, halves in real_scores.items()
}
real_events_above_cut = {
    score: {half: int(np.count_nonzero(values > cuts[score])) for half, values in halves.items()}
    for score, halves in real_scores.items()
}
cut_beyond_every_real_event = {
    score: bool(cuts[score] > max(max_real_score[score].values())) for score in cuts
}
for score, cut in cuts.items():
    largest, above = max_real_score[score], real_events_above_cut[score]
    print(
        f"{score:11s} cut > {cut:.4g};  largest real score: held-out {largest['held-out']:.4g}, "
        f"tuning {largest['tuning']:.4g};  real events above the cut: "
        f"held-out {above['held-out']} of {held_out.n}, tuning {above['tuning']} of {tune.n}"
    )
    if cut_beyond_every_real_event[score]:
        print(
            "            -> the cut lies beyond every real event: the rate is an extrapolation "
            "of the simulation's tail"
        )
    else:
        print("            -> real events reach beyond the cut")

# %% [markdown]
# How to read it: if the cut lies beyond every real event, no recorded collision has been
# seen to pass it, and the rate rests entirely on how the fast simulation extrapolates the
# tail of the real distribution — for a KDE, on the Gaussian kernels placed around the
# few most extreme tuning events. The statistical interval knows nothing about that. If
# real events do reach beyond the cut, their number is a direct, if low-statistics, check.
#
# **(b) How much does the rate depend on the kernel width?** The width was picked from a
# grid by cross-validation on a few hundred events; its neighbours on that grid are the
# nearest alternatives the tuning could have picked. The next cell re-measures the rate
# at the *same* cut on fast simulations with those two widths
# (`precml_widgets.anomaly.study.bandwidth_systematic`) and quotes the spread as a
# systematic uncertainty next to the statistical interval.

# %%
bandwidth_grid = BANDWIDTH_GRID  # the grid DimuonKDE.tuned cross-validates on
# bandwidth_neighbours = neighbour_bandwidths(study), set in section 5
print(
    f"cross-validation grid (x Scott): {', '.join(f'{b:g}' for b in bandwidth_grid)}; "
    f"chosen {study.kde.bandwidth:g}; neighbours {', '.join(f'{b:g}' for b in bandwidth_neighbours)}"
)
bandwidth_rates = {
    score: kernel_width_systematic(score, cut, nominal[score])[0] for score, cut in cuts.items()
}
rate_systematic_hz = {}
for score, variants in bandwidth_rates.items():
    nom = nominal[score]
    print(
        f"\n{score} > {cuts[score]:.4g} ({study.background.n:,} fast-simulated events per width):"
    )
    print(f"  {study.kde.bandwidth:5g} x Scott (chosen): {nom.describe()}")
    print("  (each width's own statistical interval; their spread is the systematic below)")
    for bw, r in variants.items():
        overlaps = r.rate_lower_hz <= nom.rate_upper_hz and nom.rate_lower_hz <= r.rate_upper_hz
        print(f"  {bw:5g} x Scott:          {r.describe()}")
        print(f"  {'':5s}   its interval overlaps the chosen width's: {overlaps}")
    shifts = [r.rate_hz - nom.rate_hz for r in variants.values()]
    down, up = min(0.0, *shifts), max(0.0, *shifts)
    stat_down, stat_up = nom.rate_lower_hz - nom.rate_hz, nom.rate_upper_hz - nom.rate_hz
    rate_systematic_hz[score] = {
        "rate_hz": nom.rate_hz,
        "stat_down_hz": stat_down,
        "stat_up_hz": stat_up,
        "syst_down_hz": down,
        "syst_up_hz": up,
        "syst_larger_than_stat": bool(max(-down, up) > max(-stat_down, stat_up)),
    }
    print(
        f"  => rate = {nom.rate_hz:.4g} Hz  {stat_up:+.4g} / {stat_down:+.4g} Hz (stat, 68% CL)  "
        f"{up:+.4g} / {down:+.4g} Hz (syst, kernel width)"
    )
    print(
        "     the kernel-width systematic is",
        "LARGER" if rate_systematic_hz[score]["syst_larger_than_stat"] else "not larger",
        "than the statistical interval",
    )
print("\ncaveat:", BACKGROUND_CAVEAT)

# %% [markdown]
# How to read it: if the systematic is larger than the statistical interval, the kernel
# width — not the number of simulated events — limits the rate: simulating more events
# will not help, and the rate must be quoted with both uncertainties. Each variant has its
# own statistical interval (printed); where it overlaps the chosen width's, that part of
# the spread is not resolved from counting noise. This is one systematic, not a complete
# error budget: with any width the kernels are Gaussian, and the real tail may have
# another shape altogether. Unlike the other numbers here, this systematic has no
# independent truth to be checked against — the neighbouring widths are a convention, not a
# measurement — so the test suite checks only its arithmetic.
#
# **(c) A cross-check where the real events can see.** At a looser cut, where about 20
# held-out real events are expected to pass, compare the rate measured on the held-out
# real events with the one measured on the fast simulation. Read it for what it is: the
# cell prints the FPR of that cut — about 20 / N held-out, in the *bulk* of the score
# distribution, far above the FPR of the kHz operating point. As for the Z peak, the error
# of the difference holds the held-out *and* the tuning half's binomial errors. If the two
# disagree by more than 2 sigma, the simulation is wrong already in the bulk, and the kHz
# rate cannot be trusted either (the summary then says so). If they agree, the bulk agrees
# within the low statistics of ~20 real events — which says nothing about the far tail where
# the kHz cut lies; (a) and (b) are the checks for that.

# %%
check_rate_hz = 20 * input_rate_hz / held_out.n
check_fpr = check_rate_hz / input_rate_hz
check_threshold = threshold_for_rate(study.background, check_rate_hz, input_rate_hz=input_rate_hz)
crosscheck = {
    "fast simulation": rate_at_threshold(
        study.background, check_threshold, input_rate_hz=input_rate_hz
    ),
    "held-out real": rate_at_threshold(
        study.scores[real_key], check_threshold, input_rate_hz=input_rate_hz
    ),
}
print(
    f"autoencoder threshold {check_threshold:.4g} (target {check_rate_hz / 1e3:.0f} kHz): FPR ~ {check_fpr:.2g}, "
    f"{check_fpr / (target_rate_hz / input_rate_hz):,.0f} times the FPR of the {target_rate_hz:g} Hz operating point"
)
# No kernel-width systematic here: these two rates are compared by their counts, with the
# binomial errors of the held-out and tuning halves (the comparison below).
for label, r in crosscheck.items():
    print(f"  {label:16s} {r.describe()}; statistical only (a count comparison)")
fast, real = crosscheck["fast simulation"], crosscheck["held-out real"]
crosscheck_comparison = compare_with_held_out(
    fast.n_pass, fast.n_total, real.n_pass, real.n_total, tune.n,
    quantity="fraction above the looser cut",
)  # fmt: skip
crosscheck_agree = crosscheck_comparison.agree
print(crosscheck_comparison.describe())
print(f"real / fast-simulation rate: {real.rate_hz / fast.rate_hz:.2f}")
print("caveat:", BACKGROUND_CAVEAT)

# %% [markdown]
# **(d) Why did the trigger fire?** A rate says *how often* the trigger fires, not *why*.
# SHAP values split each event's score into one contribution φ per input feature, with
# score = base + Σφ (Lundberg & Lee, arXiv:1705.07874), computed here by the `shap` library
# through `precml_widgets.interpret`. The inputs are those of section 4: `log_pt1`,
# `log_pt2` = ln(pT / 1 GeV) of the leading and the second muon (the natural log of the pT in
# GeV: +1 is a factor e ≈ 2.7 in pT), `eta1`, `eta2` (pseudorapidities, no unit) and
# `abs_dphi` (|Δφ| between the two muons, in rad, 0 to π). φ is in units of the score (the
# mean squared reconstruction error of the standardised features, no unit).
#
# With 5 features there are only 2⁵ = 32 coalitions of features: with a budget of 64,
# shap's KernelExplainer puts every one of them in its regression, so these are the Shapley
# values themselves (no sampling), and base + Σφ equals the score to rounding. (Its exact
# explainer gives the same numbers but compiles code with numba: with it, the teaching run's
# peak memory was 2026 MB instead of 1983 MB, too close to Binder's 2 GB.) A feature left out of a coalition takes its value from a background event: 100
# fast-simulated background events drawn with a seed derived from `seed`. So φ answers
# "which features make this event score higher than a typical background event?", and the
# base value is the mean score of the background sample. Three kinds of events are explained
# (at most 50 per group, a seeded choice where more pass):
#
# - the held-out **real** CMS 2010 events above a looser, 20 kHz cut: the fast simulation
#   expects far less than one real event above the 1 kHz cut (the cell prints how many), so
#   there the real events cannot speak;
# - the **fast-simulated** background events above the 1 kHz cut of section 5: what the
#   trigger fires on when nothing new is there;
# - the events of each **injected (simulated) resonance** above the same 1 kHz cut.

# %%
from precml_widgets.interpret import (
    INTERVENTIONAL_CAVEAT,
    ScoredModel,
    background_sample,
    explain,
    feature_labels,
)

trigger_score = ScoredModel(
    lambda x: anomaly_scores(study.model, x),
    FEATURE_NAMES,
    units=("ln(GeV)", "ln(GeV)", "", "", "rad"),
    name="autoencoder score",
)
why_seeds = {"background": seed + 30, "choice": seed + 31}
every_coalition = {"method": "kernel", "n_samples": 64}  # >= 2**5 - 2: all coalitions
why_max_events = 50  # per group, a seeded choice where more pass (the CI budget is tight)
why_rng = np.random.default_rng(why_seeds["choice"])
bkg_features = study.events[BACKGROUND].features()
why_background = background_sample(
    bkg_features,
    100,
    seed=why_seeds["background"],
    source=f"fast-simulated background ({BACKGROUND}), seed {why_seeds['background']}",
)
real_cut_rate_hz = 20e3
real_cut = threshold_for_rate(study.background, real_cut_rate_hz, input_rate_hz=input_rate_hz)
# held-out real events the fast simulation expects above a cut: its FPR there x N held-out
expected_real = {
    rate: rate_at_threshold(study.background, cut, input_rate_hz=input_rate_hz).fpr.value
    * held_out.n
    for rate, cut in ((target_rate_hz, threshold), (real_cut_rate_hz, real_cut))
}
print(
    f"{held_out.n:,} held-out real events; the fast simulation expects "
    + " and ".join(
        f"{n:.2g} of them above the {r / 1e3:g} kHz cut" for r, n in expected_real.items()
    )
)


def explain_above(sample, cut, rate_hz):
    """Exact SHAP of (at most why_max_events of) the events of `sample` scoring above `cut`."""
    x = study.events[sample].features()
    passing = np.flatnonzero(anomaly_scores(study.model, x) > cut)
    rows = passing
    if len(rows) > why_max_events:
        rows = np.sort(why_rng.choice(rows, why_max_events, replace=False))
    shap_result = (
        explain(trigger_score, x[rows], why_background, **every_coalition) if len(rows) else None
    )
    print(
        f"  {sample:24s} {len(passing):>6,d} events above the {rate_hz / 1e3:g} kHz cut "
        f"(score > {cut:.4g}), {len(rows)} explained"
    )
    return {
        "sample": sample,
        "cut": cut,
        "rate_hz": rate_hz,
        "n": len(passing),
        "shap": shap_result,
    }


why_groups = {
    "held-out real": explain_above(real_key, real_cut, real_cut_rate_hz),
    "fast-sim background": explain_above(BACKGROUND, threshold, target_rate_hz),
}
for key in study.signals:
    if not study.events[key].real:  # the injected (simulated) resonances
        why_groups[key] = explain_above(key, threshold, target_rate_hz)

# The answer for one event: the most anomalous held-out real event, feature by feature.
real_score = anomaly_scores(study.model, held_out.features())
top_real = explain(
    trigger_score,
    held_out.features()[[int(np.argmax(real_score))]],
    why_background,
    **every_coalition,
)
print(
    f"most anomalous held-out real event (score {top_real.model_output[0]:.4g}"
    f"{' > ' if top_real.model_output[0] > real_cut else ' <= '}the 20 kHz cut): "
    f"{top_real.base_values[0]:.3g} (base) "
    + " ".join(
        f"{phi:+.3g} ({name} = {value:.3g})"
        for name, value, phi in zip(
            FEATURE_NAMES, top_real.data[0], top_real.values[0], strict=True
        )
    )
)
explained = {label: g["shap"] for label, g in why_groups.items() if g["shap"] is not None}
why_additivity = max(r.additivity_error for r in [top_real, *explained.values()])
print(
    f"additivity: max |base + sum(phi) - score| = {why_additivity:.1e} x std of the score "
    "over the background sample "
    "(all 32 coalitions; the network computes in float32)"
)
print("caveat:", INTERVENTIONAL_CAVEAT)

# %%
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
bar = 0.8 / len(explained)
for i, (label, r) in enumerate(explained.items()):
    ax.barh(
        np.arange(len(FEATURE_NAMES)) + (i - (len(explained) - 1) / 2) * bar,
        r.mean_abs(),
        height=bar,
        label=f"{label} ({len(r.values)} events)",
    )
ax.plot(
    np.abs(top_real.values[0]),
    np.arange(len(FEATURE_NAMES)),
    "kD",
    label=f"|φ| of the most anomalous held-out real event (score {top_real.model_output[0]:.3g})",
)
ax.set(
    yticks=np.arange(len(FEATURE_NAMES)),
    yticklabels=feature_labels(trigger_score),
    xscale="log",
    xlabel="mean |φ| (score units; exact SHAP, 100 fast-sim background events)",
    title="which features make the autoencoder score high",
)
ax.invert_yaxis()
ax.grid(alpha=0.3, axis="x")
ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
plt.show()

# Recorded (results["why_fired"]): per group n and mean |phi|; up to 5 explained events of the
# held-out real group (of the fast-sim background group if no real event passes); the background.
why_recorded = "held-out real" if "held-out real" in explained else "fast-sim background"
why_events = explained.get(why_recorded)
why_fired = {
    "feature_names": list(FEATURE_NAMES),
    "units": list(trigger_score.units),
    "method": every_coalition["method"],
    "n_samples": every_coalition["n_samples"],
    "exact": all(r.exact for r in [top_real, *explained.values()]),
    "seeds": why_seeds,
    "max_events_per_group": why_max_events,
    "background": why_background.data.tolist(),
    "background_source": why_background.source,
    "n_held_out": held_out.n,
    "expected_real_above": {f"{r:g}": n for r, n in expected_real.items()},
    "groups": {
        label: {
            "sample": g["sample"],
            "threshold": g["cut"],
            "cut_rate_hz": g["rate_hz"],
            "n": g["n"],
            "n_explained": 0 if g["shap"] is None else len(g["shap"].values),
            "mean_abs_phi": None if g["shap"] is None else g["shap"].mean_abs().tolist(),
        }
        for label, g in why_groups.items()
    },
    "recorded_group": why_recorded,
    "events": [
        {
            "features": why_events.data[i].tolist(),
            "phi": why_events.values[i].tolist(),
            "base_value": float(why_events.base_values[i]),
            "score": float(why_events.model_output[i]),
        }
        for i in ([] if why_events is None else np.argsort(-why_events.model_output)[:5])
    ],
    "most_anomalous_real": {
        "features": top_real.data[0].tolist(),
        "phi": top_real.values[0].tolist(),
        "base_value": float(top_real.base_values[0]),
        "score": float(top_real.model_output[0]),
    },
    "additivity_error": why_additivity,
    "additivity": {  # relative error, the std of the score it is relative to, the top score
        label: [r.additivity_error, r.output_scale, float(r.model_output.max())]
        for label, r in {**explained, "most anomalous real": top_real}.items()
    },
    "caveat": INTERVENTIONAL_CAVEAT,
}

# %% [markdown]
# How to read it: each bar is one feature's mean |φ| in a group, on a log axis, in units of
# the score; the black diamonds are the |φ| of the most anomalous held-out real event. Read
# the groups against each other:
#
# - the **fast-simulated background** above the cut shows what the autoencoder finds rare in
#   the background itself: the events the trigger spends its 1 kHz on when nothing new is
#   there;
# - a **resonance** whose bars have the background's shape fires as "more of the same tail";
#   one whose bars stand elsewhere (the angles, the balance of the two pTs) fires for a reason
#   a pT or HT cut does not have — compare with the equal-rate table of section 5;
# - the **held-out real** events: a 20 kHz cut already lies in the far tail of the held-out
#   real events: the fast simulation expects well under one there (the number is printed
#   above), so most often none passes. The printed line
#   for the most anomalous real event is the one-event answer: its score split feature by
#   feature (a log_pt value of 5 is a pT of e⁵ ≈ 150 GeV). With too few real events above
#   the cut, the "why" of the real data rests on a single event; the fast simulation supplies
#   the statistics, as it does for the rate.
#
# These values explain the *model*, not the physics. They are exact Shapley values of the
# interventional game (the additivity error printed is float32 rounding), but that game
# pairs one muon's pT with another event's η and Δφ, even where the real kinematics
# correlate them (the caveat printed above); `explain(..., method="partition")` is the
# partition (Owen) alternative, which masks correlated features together.

# %% [markdown]
# ## 7. Explore the operating point interactively
#
# The explorer shows the same numbers, computed by the same functions: move the target
# rate or the threshold, switch the signal or the score (autoencoder or a baseline, compared
# at equal rate), change the input rate or the confidence level. Its status pane repeats
# the caveat of section 2 — the rate is the FPR measured on the background sample times the
# input rate you set, here a dimuon-triggered stream, not the zero-bias input — and the
# kernel-width systematic of section 6b at whatever threshold you pick.

# %%
import panel as pn

from precml_widgets.anomaly import AnomalyScoreExplorer

# inline=True: the Bokeh and Panel JavaScript travel inside the notebook, so the widgets draw
# in JupyterLab without internet access (the default fetches them from a CDN)
pn.extension(inline=True)
# the kernel-width systematic of the grid neighbours is the default
explorer = AnomalyScoreExplorer.from_study(study, target_rate_khz=target_rate_hz / 1e3)
explorer

# %% [markdown]
# The same dashboard runs as a web app, from the repository root:
#
# ```bash
# python -m precml_widgets.serving precml_widgets/apps/anomaly_explorer.py --show
# ```
#
# (`make gallery` serves every dashboard; on Binder use the *precml dashboards* launcher
# tile — see the [index](00_index.ipynb).) Its buttons download the operating point; from
# code, the same exports are written like this — to a temporary folder, which is removed
# when the kernel stops (copy what you want to keep):

# %%
export = tempfile.TemporaryDirectory(prefix="precml_export_")
folder = Path(export.name)
explorer.to_csv(folder / "operating_point.csv")
explorer.to_json(folder / "operating_point.json")
explorer.save_png(folder / "operating_point.png")
print(explorer.rate_description())
print("caveat:", BACKGROUND_CAVEAT)
for path in sorted(folder.iterdir()):
    print(f"{path}  ({path.stat().st_size:,} bytes)")

# %% [markdown]
# ## 8. Part 2 — does it fit the L1 trigger?
#
# An L1 algorithm runs on FPGAs: it must give its answer within a fixed **latency** (the
# detector buffers hold the data only a few microseconds) and accept a new event every
# **25 ns** (the LHC bunch spacing, 40 MHz), using the chip's multipliers (DSPs), look-up
# tables (LUTs), flip-flops (FFs) and block RAM. The network also changes on the way: the
# FPGA computes with **fixed-point** numbers `ap_fixed<W,I>` (W bits, I of them above the
# binary point), not 32-bit floats.
#
# [hls4ml](https://fastmachinelearning.org/hls4ml/) (Duarte et al., arXiv:1804.06913)
# translates the network into C++ for high-level synthesis. Three things need no vendor
# tools, and we do all three here:
#
# 1. **conversion** of the torch model, with every tensor's type chosen explicitly;
# 2. **bit-accurate emulation**: hls4ml's C++ compiled with the machine's `g++` computes
#    exactly what the firmware would, so the *emulated* score is the number that fires the
#    trigger;
# 3. **a resource and latency estimate** calibrated on the dense networks among real
#    hls4ml syntheses collected from public repositories (section 8.3 counts them) — an
#    estimate, printed with its measured error.
#
# What needs Vivado/Vitis (synthesis, place and route, the true resource report) is not
# done here: the project is exported so that someone with the tools can run it, and a
# reader of their reports compares them with the estimate.
#
# **The score is part of the firmware.** The network deployed is the autoencoder *plus*
# its score: `score = Σᵢ (xᵢ − AE(x)ᵢ)²`, the summed squared reconstruction error (5× the
# mean of part 1; a sum needs no multiplier). The inputs are the standardised features;
# the standardisation is a per-feature scale and offset applied when the trigger inputs
# are unpacked.

# %%
from precml_widgets.fpga import (
    precision_scan,
    scored_autoencoder,
    standardised_inputs,
    trigger_agreement,
)
from precml_widgets.fpga.convert import DeployConfig, convert
from precml_widgets.fpga.emulate import emulate

firmware_model = scored_autoencoder(study.model.model, len(FEATURE_NAMES))
samples = [BACKGROUND, *study.signals]
fpga_inputs = {
    name: standardised_inputs(study.model, study.events[name].features()) for name in samples
}
x_firmware = np.concatenate([fpga_inputs[name] for name in samples])
bounds = np.cumsum([0] + [len(fpga_inputs[name]) for name in samples])
print(
    f"{len(x_firmware):,} events go through the firmware: {len(fpga_inputs[BACKGROUND]):,} background + signals"
)
print(firmware_model)

# %% [markdown]
# ### 8.1 How many bits? A precision scan
#
# For each total width W the integer bits I of every tensor (weights, biases, layer
# outputs) come from its largest value on 100 000 background events, plus one bit of
# margin for outputs. Outputs **round and saturate**: an enormous anomaly score then clips
# at the largest representable value — it still fires the trigger — instead of wrapping
# around to a small number. The accumulators inside each layer wrap (cheaper) but are
# sized so that no sum can overflow, whatever the input: their integer bits hold the
# largest possible sum of |weight| × largest input, and they keep four guard bits below the
# output's last bit. Each width
# is one firmware build (~10 s of `g++`); the builds run in parallel on a local Dask
# cluster, and their results are cached on disk, keyed by configuration, weights, inputs
# and tool versions.

# %%
scan = precision_scan(
    firmware_model,
    x_firmware,
    widths=fpga_widths,
    profile_x=fpga_inputs[BACKGROUND][:100_000],
    n_workers=fpga_workers,
)
print(
    f"{'layer':14s} "
    + "  ".join(f"{k:>34s}" for k in ("weight", "result"))
    + f"   (W = {max(fpga_widths)})"
)
widest = scan.configs[scan.widths.index(max(scan.widths))]
for layer, types in widest.layer_precision.items():
    print(f"{layer:14s} " + "  ".join(f"{types.get(k, '-'):>34s}" for k in ("weight", "result")))


# %%
def split_scores(outputs):
    return {name: outputs[bounds[i] : bounds[i + 1], 0] for i, name in enumerate(samples)}


float_scores = split_scores(scan.results[0].reference)
# the float firmware model reproduces part 1's score times the number of features
part1 = anomaly_scores(study.model, study.events[BACKGROUND].features()[:10_000])
score_check = float(np.max(np.abs(float_scores[BACKGROUND][:10_000] / len(FEATURE_NAMES) - part1)))
print(
    f"float firmware model vs part-1 score: max |difference| {score_check:.1e} (float32 rounding)"
)
per_width = {}
for width, result in zip(scan.widths, scan.results, strict=True):
    agreement = trigger_agreement(
        {"float": float_scores, "firmware": split_scores(result.emulated)},
        background=BACKGROUND,
        target_rate_hz=target_rate_hz,
        input_rate_hz=input_rate_hz,
    )
    per_width[width] = {
        "max_abs_diff": result.max_abs_diff,
        "mean_abs_diff": result.mean_abs_diff,
        "agreement": agreement.to_dict(),
    }
signal_names = list(study.signals)
print(f"trigger at {target_rate_hz:g} Hz, each score with its own threshold; efficiencies in %")
print(
    f"{'W':>3s} {'mean |dscore|':>13s} {'same decision':>14s} "
    + " ".join(f"{n[:16]:>16s}" for n in signal_names)
)
print(
    f"{'flt':>3s} {'':13s} {'':14s} "
    + " ".join(
        f"{100 * per_width[fpga_widths[0]]['agreement']['efficiency']['float'][n]:16.2f}"
        for n in signal_names
    )
)
for width, row in per_width.items():
    eff = row["agreement"]["efficiency"]["firmware"]
    print(
        f"{width:3d} {row['mean_abs_diff']:13.4f} {100 * row['agreement']['decision_agreement']:13.4f}% "
        + " ".join(f"{100 * eff[n]:16.2f}" for n in signal_names)
    )
auc_float = per_width[fpga_widths[0]]["agreement"]["auc"]["float"]
print("\nAUC, float / firmware at each W:")
for n in signal_names:
    print(
        f"  {n:24s} {auc_float[n]:.4f} / "
        + " ".join(f"{per_width[w]['agreement']['auc']['firmware'][n]:.4f}" for w in fpga_widths)
    )

# %%
float_eff = per_width[fpga_widths[0]]["agreement"]["efficiency"]["float"]
fig, (ax_eff, ax_diff) = plt.subplots(1, 2, figsize=(13, 4.6), layout="constrained")
for i, name in enumerate(signal_names):
    color = f"C{i}"
    ax_eff.plot(
        fpga_widths,
        [100 * per_width[w]["agreement"]["efficiency"]["firmware"][name] for w in fpga_widths],
        "o-",
        color=color,
        label=name,
    )
    ax_eff.axhline(100 * float_eff[name], color=color, ls=":", lw=1)
ax_eff.set(
    xlabel="fixed-point width W [bits]",
    ylabel=f"signal efficiency at {target_rate_hz:g} Hz [%]",
    title="firmware (points) vs float (dotted)",
)
ax_eff.legend(fontsize=8)
ax_diff.semilogy(
    fpga_widths,
    [per_width[w]["mean_abs_diff"] for w in fpga_widths],
    "o-",
    label="mean |firmware - float| score",
)
ax_diff.semilogy(
    fpga_widths,
    [1 - per_width[w]["agreement"]["decision_agreement"] + 1e-7 for w in fpga_widths],
    "s-",
    label="fraction of events with a different decision",
)
ax_diff.set(
    xlabel="fixed-point width W [bits]", title="how far the firmware is from the float model"
)
ax_diff.legend(fontsize=8)
plt.show()

# %% [markdown]
# How to read it: at small W the scores are coarse and the efficiencies drift from the
# float values (dotted); the width at which the curves reach their float values is the
# cheapest *safe* choice. Note that both scores are compared **at equal rate** (each has
# its own threshold): a firmware whose scores are all shifted would still trigger
# identically. The fraction of events with a different decision counts every event of
# every sample — most are far from the threshold, so even a few per mille matter if they
# are signal events near the cut.

# %% [markdown]
# ### 8.2 Does it fit? Resources and latency — an estimate
#
# Without Vivado/Vitis we *estimate* what synthesis would report. The estimator follows how
# hls4ml's C++ templates map the network onto the chip — one multiplier per non-zero weight
# divided by the reuse factor, a multiplier on a DSP only for wide enough operands, an adder
# tree of depth log₂(n_in) — and its dozen coefficients are fitted to the **dense
# networks among the real hls4ml syntheses** collected from public repositories
# (`../shared/data/hls4ml/synthesis-reports`; the others are convolutional or recurrent, or
# too large for the model; section 8.3 prints how many of each).
# Its error is *measured* on syntheses the fit never saw, leaving out whole **components**:
# a design (every synthesis of the same network, whatever its reuse factor or pruning)
# together with every other design of its repository and every other repository holding
# it — never random rows, and never a fold that shares a network or a repository with the
# fit. Each estimate comes with a **68 % interval** for *this* design: the spread of the
# held-out components' errors (quantiles of log residuals, each component weighing the
# same). Section 8.3 measures how often such an interval really contains the synthesis
# result, and says where too few independent components exist to tell. The calibration
# designs are dense networks on mostly small Xilinx parts; anything else is printed as an
# extrapolation. A convolution, a recurrent layer, io_stream or a layer beyond hls4ml's
# partition limit widens the interval with the errors measured on the syntheses of *that*
# kind the fit never used (merges and other unmodelled structure: with all of them); an
# uncalibrated part or clock is printed but does not widen it, since no synthesis measures
# that extrapolation.
#
# Two latency budgets matter: an algorithm in the **Global Trigger** has of order
# **50 ns**, while the whole Phase-2 L1 system has **12.5 μs** (most of it taken by other
# stages). And the firmware must accept a new event every **25 ns** (II × clock ≤ 25 ns).

# %%
from precml_widgets.fpga import check_budget, cross_validate, estimate, load_calibration_table

l1_budget_ns = 12_500.0
fpga_estimates = {}
with tempfile.TemporaryDirectory(prefix="precml_convert_") as tmp:
    for width, cfg in zip(scan.widths, scan.configs, strict=True):
        deploy = dataclasses.replace(cfg, backend=fpga_backend, clock_period_ns=fpga_clock_ns)
        hls_model = convert(firmware_model, (len(FEATURE_NAMES),), deploy, Path(tmp) / f"w{width}")
        fpga_estimates[width] = estimate(
            hls_model, device=fpga_device, clock_ns=fpga_clock_ns, backend=fpga_backend
        )

first = fpga_estimates[scan.widths[0]]
print(
    f"ESTIMATES for {first.device.part} at {fpga_clock_ns:g} ns ({fpga_backend} HLS); "
    f"held-out error of the tool family (leave-one-component-out sMAPE):",
    ", ".join(f"{k} {v:.0%}" for k, v in first.error.items()),
)
print(f"output softmax: {first.output_softmax}")
print(
    f"{'W':>3s} {'DSP':>7s} {'LUT':>8s} {'FF':>8s} {'latency':>12s} {'II':>6s}  {f'<= {latency_budget_ns:g} ns':>9s} {'<= 12.5 us':>10s} {'25 ns':>6s}"
)
fpga_budget = {}
for width, est in fpga_estimates.items():
    gt = check_budget(est, latency_budget_ns=latency_budget_ns)
    l1 = check_budget(est, latency_budget_ns=l1_budget_ns)
    fpga_budget[width] = {
        "gt_latency_ok": gt.latency_ok,
        "l1_latency_ok": l1.latency_ok,
        "ii_ok": gt.ii_ok,
        "fits": est.fits,
    }
    print(
        f"{width:3d} {est.dsp:7,.0f} {est.lut:8,.0f} {est.ff:8,.0f} {est.latency_ns:9,.0f} ns {est.ii_ns:4.0f}ns  "
        f"{'yes' if gt.latency_ok else 'NO':>9s} {'yes' if l1.latency_ok else 'NO':>10s} {'yes' if gt.ii_ok else 'NO':>6s}"
    )
lo_ns, hi_ns = fpga_estimates[max(fpga_widths)].latency_ns_interval
print(
    f"W={max(fpga_widths)}: latency {fpga_estimates[max(fpga_widths)].latency_ns:,.0f} ns, "
    f"{first.interval_level:.0%} interval [{lo_ns:,.0f}, {hi_ns:,.0f}] ns"
    + (" (widened: the design is flagged below)" if first.extrapolations else "")
)
print("outside the calibration domain:")
for reason in first.extrapolations:
    print("  -", reason)
for note in first.interval_notes:
    print("interval:", note)

# %%
fig, (ax_cost, ax_phys) = plt.subplots(1, 2, figsize=(13, 4.4), layout="constrained")
for key, label in (("dsp", "DSP"), ("lut", "LUT"), ("ff", "FF")):
    total = getattr(first.device, key)
    values = np.array([getattr(fpga_estimates[w], key) for w in fpga_widths])
    lo_hi = np.array([fpga_estimates[w].interval[key] for w in fpga_widths])
    (line,) = ax_cost.plot(fpga_widths, 100 * values / total, "o-", label=label)
    ax_cost.fill_between(
        fpga_widths,
        100 * lo_hi[:, 0] / total,
        100 * lo_hi[:, 1] / total,
        color=line.get_color(),
        alpha=0.2,
    )
ax_cost.set(
    xlabel="fixed-point width W [bits]",
    ylabel=f"% of {first.device.name}",
    title=f"ESTIMATED resources (bands: {first.interval_level:.0%} intervals)",
)
ax_cost.legend(fontsize=8)
best = max(signal_names, key=lambda n: float_eff[n])
ax_phys.plot(
    fpga_widths,
    [100 * per_width[w]["agreement"]["efficiency"]["firmware"][best] for w in fpga_widths],
    "o-",
    label=f"{best}: firmware",
)
ax_phys.axhline(100 * float_eff[best], ls=":", color="k", label="float model")
ax_phys.set(
    xlabel="fixed-point width W [bits]",
    ylabel=f"efficiency at {target_rate_hz:g} Hz [%]",
    title="EMULATED physics (bit-accurate)",
)
ax_phys.legend(fontsize=8)
plt.show()

# %% [markdown]
# How to read it: cost grows with W (a multiplier's LUT cost with the product of its
# operand widths; below 9-bit weights hls4ml's multipliers leave the DSPs), while the
# physics saturates. Read the latency against the budgets: a latency estimate above 50 ns
# does not fit a Global-Trigger-level slot at this clock, even if it fits the 12.5 μs of the
# whole L1 system. Read the budget against the interval printed above, not the central
# value: when the budget lies inside the interval, only a synthesis can tell.

# %% [markdown]
# ### 8.3 How good is the estimate? A real model against real reports
#
# The hls4ml jet tagger (16 → 64 → 32 → 32 → 5, Duarte et al. arXiv:1804.06913) is a
# published, trained network: its weights are read here from hls4ml's example models. It
# was also synthesised, as `ap_fixed<16,6>` on a Xilinx U250 at 5 ns, in one of the
# calibration repositories — and again, at the same precision, in a second repository.
# The estimates below for those rows come from the fit that **left their component out**
# (both repositories' rows), what you would have predicted before synthesising. Three
# groupings are printed: leaving out one design keeps the other designs of its repository in
# the fit, leaving out one repository keeps the tagger's second copy; leaving out whole
# components shares neither, is the most pessimistic, and is the one every estimate quotes.
# The naive baseline predicts each quantity as the median of the training syntheses of the
# same tool family; the target is a held-out sMAPE at most half the baseline's, per quantity
# and tool family, and the aims are 15 % (DSP, latency) and 25 % (LUT, FF). Every miss is
# listed. Then the intervals: per pool (in-domain designs, each flag kind), the mean over
# held-out components of the fraction of their syntheses inside the 68 % interval, with
# the range a correct 68 % interval gives with probability 99.8 % for *that many
# components* (syntheses of one design are not independent trials).

# %%
import collections

from precml_widgets.fpga import AIMS, BASELINE_TARGET, GROUPINGS, interval_coverage, targets_missed

calibration_rows = load_calibration_table()
n_in_domain = sum(r.excluded is None for r in calibration_rows)
print(
    f"{len(calibration_rows)} real syntheses: {n_in_domain} dense networks in the calibration "
    f"domain, {len(calibration_rows) - n_in_domain} left out of the fit:"
)
for reason, n in collections.Counter(
    (r.excluded or "").split(":")[0] for r in calibration_rows if r.excluded
).most_common():
    print(f"  {n:3d} {reason}")
validations = {by: cross_validate(calibration_rows, by=by) for by in GROUPINGS}
validation = validations["component"]  # the shipped, most pessimistic grouping
quantities = ("dsp", "lut", "ff", "latency", "ii")
families = list(validation.by_family)
for by, report in validations.items():
    print(
        f"\nleave-one-{by}-out: {len(report.residuals)} syntheses in {len(report.folds)} groups; "
        f"sMAPE (naive per-family median, ratio; target ratio <= {BASELINE_TARGET})"
    )
    print(f"  {'':8s} {'all':>20s}  " + "  ".join(f"{f:>20s}" for f in families) + "  aim")
    for q in quantities:
        aim = f"{AIMS[q]:.0%}" if q in AIMS else "none"
        fam = "  ".join(
            f"{v['smape'][q]:6.1%} ({v['baseline_smape'][q]:6.1%}, {v['baseline_ratio'][q]:4.2f})"
            for v in report.by_family.values()
        )
        print(
            f"  {q:8s} {report.smape[q]:6.1%} ({report.baseline_smape[q]:6.1%}, "
            f"{report.baseline_ratio[q]:4.2f})  {fam}  {aim:>4s}"
        )
print(
    "groups per family (component grouping): "
    + ", ".join(
        f"{f} {v['n_groups']} ({v['n_rows']} syntheses)" for f, v in validation.by_family.items()
    )
)
print(
    f"DSP of the {validation.n_zero['dsp']} fabric syntheses (true 0): mean |estimate| "
    f"{validation.zero_mae['dsp']:.1f}"
)
coverage = interval_coverage(calibration_rows)
missed = targets_missed(validation, coverage)
print(f"\ntargets MISSED (component grouping): {len(missed)}")
for m in missed:
    where = m.get("family") or f"pool {m.get('pool')}"
    value = m.get("smape", m.get("coverage"))
    extra = f", ratio {m['ratio']:.2f}" if m.get("ratio") is not None else ""
    print(f"  {where:12s} {m['quantity']:8s} {m['target']}: {value:.1%}{extra}")
print(f"\ncoverage of the {coverage.level:.0%} intervals (nested leave-one-component-out):")
for pool, v in coverage.pools.items():
    band = "no band" if v["band"] is None else f"band [{v['band'][0]:.2f}, {v['band'][1]:.2f}]"
    print(
        f"  {pool:10s} n = {v['n_groups']} components ({v['n_rows']} syntheses; "
        f"{v['n_rows_without_interval']} without an interval), {band}:"
    )
    if v["n_groups"] == 0:
        print("    no held-out component: coverage cannot be measured")
        continue
    print(
        "    "
        + ", ".join(f"{q} {v['coverage'][q]:.2f}" for q in quantities)
        + f"  -> {', '.join(sorted(set(v['verdict'].values())))}"
    )
tagger_rows = [r for r in validation.residuals if r["example_id"].startswith("Hector-Plata")]
print("\njet tagger syntheses (their component left out when fitting): estimate / real report")
for row in tagger_rows:
    print(
        f"  {row['example_id'][-28:]:28s} "
        + "  ".join(f"{q} {row['estimate'][q]:,.0f}/{row['truth'][q]:,.0f}" for q in quantities)
    )

# %%
import torch

from precml_widgets.fpga import load_jet_tagger

tagger, tagger_runs, tagger_beyond_32 = None, {}, None
if not is_available("hls4ml_jet_tagger_weights"):
    skipped_sections["8.3 jet tagger"] = (
        f"The jet-tagger emulation is skipped: {missing_data_message('hls4ml_jet_tagger_weights')}."
    )
    print(skipped_sections["8.3 jet tagger"])
else:
    tagger = load_jet_tagger()
    # The tagger's real input features are not public here: these are GENERATED inputs,
    # standard normal, the scale of the standardised features it was trained on.
    x_tagger = np.random.default_rng(seed + 7).normal(size=(n_tagger_events, 16)).astype(np.float32)
    tagger_runs = {
        "ap_fixed<16,6> (truncate, wrap)": emulate(
            tagger, x_tagger, DeployConfig(precision="ap_fixed<16,6>")
        ),
        "ap_fixed<16,6,AP_RND_CONV,AP_SAT>": emulate(
            tagger, x_tagger, DeployConfig(precision="ap_fixed<16,6,AP_RND_CONV,AP_SAT>")
        ),
    }
    for label, run in tagger_runs.items():
        print(
            f"{label:36s} same class as float: {run.argmax_agreement:.2%}   mean |dp| {run.mean_abs_diff:.4f}   max |dp| {run.max_abs_diff:.3f}"
        )
    # how many generated jets push a pre-activation beyond +-32, the range of ap_fixed<16,6>?
    with torch.no_grad():
        h, beyond = torch.from_numpy(x_tagger), torch.zeros(len(x_tagger), dtype=torch.bool)
        for layer in tagger:
            h = layer(h)
            if isinstance(layer, torch.nn.Linear):
                beyond |= (h.abs() >= 32).any(dim=1)
    tagger_beyond_32 = float(beyond.float().mean())
    print(f"jets with a pre-activation beyond +-32 (float model): {tagger_beyond_32:.2%}")

# %% [markdown]
# Wrapping arithmetic turns an overflow into a wrong sign — the cell counts the generated
# jets with a pre-activation beyond ±32, the range of `ap_fixed<16,6>` — while rounding and
# saturating keeps them on the right side. The max |Δp| printed above shows a second effect:
# hls4ml's softmax reads e^x and 1/Σ from lookup tables of 18-bit entries, so the emulated
# probabilities differ from the float ones even where the logits agree.

# %% [markdown]
# ### 8.4 Hand it to someone with Vivado
#
# `write()` produces the complete HLS project (C++, weights, `build_prj.tcl`). Whoever runs
# the synthesis gets a `*_csynth.rpt`/`.xml`; `read_csynth` reads it so that estimate and
# report can be compared — shown here on one of the real jet-tagger reports.

# %%
from precml_widgets.fpga import read_csynth

export_dir = tempfile.TemporaryDirectory(prefix="precml_hls_export_")
width_export = max(fpga_widths)
exported = convert(
    firmware_model,
    (len(FEATURE_NAMES),),
    scan.configs[scan.widths.index(width_export)],
    Path(export_dir.name) / "trigger_ae",
)
exported.write()
files = sorted(
    p.relative_to(export_dir.name).as_posix()
    for p in Path(export_dir.name).rglob("*")
    if p.is_file()
)
print(
    f"wrote {len(files)} files for W={width_export} to {export_dir.name} (removed when the kernel stops), e.g.",
    ", ".join(f for f in files if f.endswith((".tcl", "parameters.h")))[:200],
)

# One of the real jet-tagger reports (a row of the synthesis table; its raw report is a data file).
report = tagger_estimate = None
needed = ("hls4ml_jet_tagger_weights", "hls4ml_jet_tagger_csynth")
if not all(is_available(name) for name in needed):
    skipped_sections["8.4 real report"] = (
        "The comparison with a real jet-tagger report is skipped: "
        f"{missing_data_message(*[name for name in needed if not is_available(name)])}."
    )
    print(skipped_sections["8.4 real report"])
else:
    report = read_csynth(locate("hls4ml_jet_tagger_csynth"))
    with tempfile.TemporaryDirectory(prefix="precml_convert_") as tmp:
        tagger_hls = convert(
            tagger,
            (16,),
            DeployConfig(
                backend="Vivado", part=report.part, clock_period_ns=report.clock_target_ns
            ),
            Path(tmp) / "tagger",
        )
        tagger_estimate = estimate(
            tagger_hls, device=report.part, clock_ns=report.clock_target_ns, backend="Vivado"
        )
    print(
        f"real report: {report.tool} {report.version} on {report.part} at {report.clock_target_ns:g} ns: "
        f"DSP {report.dsp:,}, LUT {report.lut:,}, FF {report.ff:,}, latency {report.latency_max} cycles, II {report.interval_max}"
    )
    print(
        f"estimate, same model and settings (shipped fit, which includes this report): DSP {tagger_estimate.dsp:,.0f}, "
        f"LUT {tagger_estimate.lut:,.0f}, FF {tagger_estimate.ff:,.0f}, latency {tagger_estimate.latency_cycles:.0f} cycles, II {tagger_estimate.ii_cycles:.0f}"
    )

# %% [markdown]
# ### 8.5 Explore the cost interactively
#
# The estimator widget prices every combination of device, clock, strategy, precision and
# reuse factor in well under a millisecond; for the widths emulated above it shows the
# physics next to the cost. Everything it prints is an estimate, with its measured error.

# %%
from precml_widgets.fpga import FPGAEstimator

fpga_metrics = {
    w: {
        f"eff. {best} @ {target_rate_hz:g} Hz": per_width[w]["agreement"]["efficiency"]["firmware"][
            best
        ]
    }
    for w in fpga_widths
}
# the same part, clock and backend as the estimates of section 8.2
fpga_view = FPGAEstimator.default(
    metrics={"trigger autoencoder": fpga_metrics},
    device=fpga_device,
    clock_ns=fpga_clock_ns,
    backend=fpga_backend,
)
fpga_view

# %% [markdown]
# ## 9. Exercises
#
# 1. **A rarer trigger.** Set `target_rate_hz = 100.0` in the parameters cell and re-run.
#    How many background events pass, and how wide is the rate interval? Then try
#    `target_rate_hz = 10.0`: read the error message and explain it with section 3. How
#    many background events would a 10 Hz trigger need for a 10 % rate measurement?
# 2. **A smaller bottleneck.** Retrain with a one-number latent space and compare the
#    efficiencies at the same rate:
#    `run_study(StudyConfig(n_background=n_background, train=True, n_train=n_train, autoencoder=AutoencoderConfig(latent=1, epochs=epochs, seed=seed), seed=seed))`.
#    Which signals gain, which lose? Is the difference larger than the intervals?
# 3. **Bring your own ROOT file.** Read a file with per-muon branches into the common
#    representation with
#    `precml_widgets.anomaly.samples.load_root_dimuons(path, tree, {"pt": ..., "eta": ..., "phi": ...}, real=True)`,
#    score it with `precml_widgets.anomaly.model.anomaly_scores(study.model, events.features())`
#    and compute its efficiency at `threshold`. Say in your result whether the file is
#    recorded data or simulation.
# 4. **A different LHC filling.** A 2016-like fill collided about 2200 bunch pairs. Compute
#    `lhc_collision_rate_hz(2200)` and the threshold for the same 1 kHz there. Does the
#    threshold move up or down, and why? (The explorer's *input rate* field does the same.)
# 5. **Test the test.** Re-run the over-smoothed counter-example of section 3 with
#    `bandwidth=1.25` and `1.5`. Where does the energy test stop rejecting the simulation,
#    and what does that say about the power of the validation events?
# 6. **The tail's systematic.** Call `bandwidth_systematic(study, threshold, widths)` with
#    the grid values two steps away from the chosen width. Does the rate change
#    monotonically with the width? Is the neighbour spread of section 6 a conservative
#    systematic?
# 7. **How few bits?** Rerun with `fpga_widths = (5, 6, 7, 8)`: at which width does the efficiency of the weakest signal fall 10 % below the float value? Which layer's range (printed in section 8.1) forces the most integer bits?
# 8. **A faster clock.** Set `fpga_clock_ns = 2.5` (400 MHz): how do the estimated latency in cycles and in ns change, and does the autoencoder now fit the 50 ns budget? Which number warns you that 2.5 ns lies outside the calibration?
# 9. **Reuse.** In the widget, raise the reuse factor of the jet tagger until it uses fewer than 10 % of the DSPs of an xcku115. Can it still accept an event every 25 ns?
# 10. **Calibrate the validation.** Run
#     `split_ensemble(load_sample("cms2010_zmumu"), n_splits=3, n_toys=49)` (about 10 s) and
#     compare its `p_value` with the single-split p-value of section 3. Then repeat the
#     single-split energy test for five random splits
#     (`precml_widgets.anomaly.samples.split_tune_validate(real, seed=s)`):
#     how often is a p-value below 0.01, and why does that not make the simulation wrong?

# %% [markdown]
# ## 10. Summary
#
# - The L1 input is ~28.6 MHz of colliding crossings (with the default filling); an anomaly
#   trigger gets of order 1 kHz of a ~100 kHz budget, an FPR of order 1e-5.
# - Measuring such a rate needs of order 1e6 background events; the real sample is orders
#   of magnitude smaller, so a fast simulation supplies them. Its validation is worth
#   exactly as much as the power of the test (checked with a deliberately bad simulation)
#   and the independence of the held-out events (count collisions, not entries).
# - A kHz rate measured on a simulation has more than a statistical uncertainty: check
#   where the cut lies relative to the real events, quote the dependence on the
#   simulation's free choice (here the kernel width) as a systematic, and read a real-data
#   cross-check at a looser cut as a test of the bulk, not of the tail. Compare a simulation
#   built from the tuning half with the held-out half with *both* halves' errors.
# - Judge a simulation by a calibrated test: a p-value from permutations that treat the
#   simulation as exact rejects a faithful one too often; pseudo-real samples of the
#   simulation itself, put through the whole procedure, give the calibrated one. Several
#   checks together raise a false alarm more often than each alone: the next cell computes
#   how often, so a single failure is read as a reason to look, not a proof.
# - The rates here are rates of a dimuon-triggered stream, not of zero-bias collisions: a
#   teaching model of an L1 rate.
# - Compare an anomaly score with trivial baselines at equal rate, not by AUC. If a
#   shifted Standard-Model population (here the CMS 2012 sample, when present) passes the
#   cut far more often than the background — the next cell prints the ratio — a
#   model-agnostic trigger fires on it: in practice a data-quality signal.
# - Every rate and efficiency comes with an exact binomial interval and the size of the
#   sample it was measured on.
# - On an FPGA the score is computed in fixed point. Emulate it bit-accurately (hls4ml's
#   C++ with g++, here also through a NumPy twin checked bit for bit against it), compare
#   float and firmware **at equal rate**, and pick the smallest width whose physics
#   matches the float model. Saturate outputs: a wrapped overflow flips a decision.
# - Without vendor tools, resources and latency are *estimates*: quote them with the
#   error measured on real syntheses left out of the fit, and flag extrapolations
#   (other parts, strategies, layer types). Then synthesise the exported project.
#
# The next cell prints this run's numbers behind these statements; its verdict on the rate is computed from the checks of sections 2, 3 and 6.

# %%
print(
    f"input rate {input_rate_hz / 1e6:.2f} MHz; target {target_rate_hz:g} Hz = FPR {target_rate_hz / input_rate_hz:.2e}; "
    f"{study.background.n:,} fast-simulated background events (kernel {study.kde.bandwidth:g} x Scott)"
)
for label, text in validation_verdict.items():
    print(f"validation, {label}: {text}")
print(z_window.describe())
print("held-out events identical to a tuning event:", n_copies)
print(crosscheck_comparison.describe())
# The verdict on the rate is computed from the checks, not typed. Each check carries its
# false-alarm rate (how often it fails for a faithful simulation; None for the power check,
# which fails when the test is too weak, not by chance under a true hypothesis) and what its
# failure would mean.
two_sigma = math.erfc(z_window.n_sigma / math.sqrt(2))  # P(|N(0, 1)| > n_sigma), n_sigma = 2
checks, check_false_alarm, check_failure_meaning = {}, {}, {}
for name, ok, false_alarm, meaning in [
    (
        f"calibrated energy test over random splits does not reject the simulation "
        f"(Monte Carlo test at {calibrated_alpha:.0%})",
        not calibrated_rejected,
        calibrated_alpha,
        "the simulation differs from the real events by more than the split and toy "
        "fluctuations allow: it is mis-modelled where the real events can see it, and its "
        "far tail, where the kHz cut lies, cannot be trusted either",
    ),
    (
        "the single-split energy test rejects the over-smoothed simulation (p < 0.01)",
        oversmoothed_validation.p_value < 0.01,
        None,
        "the held-out events cannot tell even a three times too smooth simulation from the "
        "real ones: the validation has no power here, so the tuned simulation passing it "
        "says little (this does not show that the tuned simulation is wrong)",
    ),
    (
        f"Z-window fraction within {z_window.n_sigma:g} sigma of the held-out events",
        z_window_agree,
        two_sigma,
        "on this split the simulated Z-peak fraction differs from the held-out one by more "
        "than both halves' fluctuations: a mis-modelled peak or a rare split (the "
        "split-averaged check below tells which)",
    ),
    (
        f"Z-window fraction within 2 sigma, averaged over {len(splits.split_seeds)} random splits",
        splits.z_agree,
        two_sigma,
        "every split shifts the same way: the kernel moves events into or out of the Z peak "
        "(a bias of the simulation), so rates of cuts that depend on the mass are off",
    ),
    (
        f"looser-cut rate within {crosscheck_comparison.n_sigma:g} sigma of the held-out events",
        crosscheck_agree,
        math.erfc(crosscheck_comparison.n_sigma / math.sqrt(2)),
        "the simulation is wrong already in the bulk of the score distribution, where the "
        "real events can see it: the kHz rate, counted further out in the tail, cannot be "
        "trusted either",
    ),
    (
        "no held-out event is a copy of a tuning event",
        n_copies == 0,
        0.0,  # a count, no random draw enters it
        "the held-out events are not independent of the tuning events: every comparison "
        "above is optimistic; fix the loader before reading any of them",
    ),
]:
    checks[name], check_false_alarm[name], check_failure_meaning[name] = ok, false_alarm, meaning
failed = [name for name, ok in checks.items() if not ok]
rate_trusted = not failed
for name, ok in checks.items():
    alarm = check_false_alarm[name]
    alarm_text = "power check" if alarm is None else f"false alarm {alarm:.1%}"
    print(f"  [{'pass' if ok else 'FAIL'}] {name} ({alarm_text})")
    if not ok:
        print(f"         failure means: {check_failure_meaning[name]}")
# How often a faithful simulation fails at least one of the tests: at most the sum of their
# false-alarm rates (Bonferroni; the two Z-window checks share events, so they are not
# independent), and 1 - prod(1 - alpha) if they were independent.
alphas = [a for a in check_false_alarm.values() if a is not None]
family_false_alarm = {
    "bonferroni_bound": min(1.0, sum(alphas)),
    "if_independent": 1 - math.prod(1 - a for a in alphas),
}
print(
    f"  a faithful simulation fails at least one of these {len(alphas)} tests in "
    f"<= {family_false_alarm['bonferroni_bound']:.1%} of runs "
    f"({family_false_alarm['if_independent']:.1%} if they were independent): one FAIL is a "
    "reason to look, not a proof"
)
quoted_rate = {}
for score, s in rate_systematic_hz.items():
    quoted_rate[score] = (
        f"{s['rate_hz']:.4g} Hz {s['stat_up_hz']:+.3g}/{s['stat_down_hz']:+.3g} (stat) "
        f"{s['syst_up_hz']:+.3g}/{s['syst_down_hz']:+.3g} (syst, kernel width)"
    )
    extrapolated = (
        " the cut lies beyond every real event (a tail extrapolation)."
        if cut_beyond_every_real_event[score]
        else ""
    )
    if rate_trusted:
        print(f"{score:11s} cut > {cuts[score]:.4g}: rate = {quoted_rate[score]};{extrapolated}")
    else:
        print(
            f"{score:11s} cut > {cuts[score]:.4g}: rate {quoted_rate[score]} is NOT validated: "
            f"{len(failed)} check(s) failed (their meaning is printed above).{extrapolated}"
        )
print("caveat:", BACKGROUND_CAVEAT)
print("higher efficiency at equal rate:")
for key, winner in more_efficient.items():
    print(f"  {key:24s} {winner}")
print("HT ranks below the background:", ", ".join(blind) or "none")
if "cms2012_doublemu" in op.efficiencies and op.rate.n_pass > 0:
    shifted = op.efficiencies["cms2012_doublemu"].efficiency.value / op.rate.fpr.value
    print(
        f"CMS 2012 (shifted SM population) passes {shifted:,.0f} x more often than the background"
    )
else:
    print("CMS 2012 sample missing or no background event passes: the ratio cannot be computed")
w_hi = max(fpga_widths)
print(
    f"firmware at W={w_hi}: {100 * per_width[w_hi]['agreement']['decision_agreement']:.3f}% of events with the float model's decision; "
    f"efficiency of {best}: {100 * per_width[w_hi]['agreement']['efficiency']['firmware'][best]:.2f}% (float {100 * float_eff[best]:.2f}%)"
)
est_hi = fpga_estimates[w_hi]
print(
    f"ESTIMATE at W={w_hi} on {est_hi.device.name}: {est_hi.latency_ns:,.0f} ns "
    f"({est_hi.interval_level:.0%} interval {est_hi.latency_ns_interval[0]:,.0f}-{est_hi.latency_ns_interval[1]:,.0f} ns) vs budget {latency_budget_ns:g} ns: "
    f"{'fits' if fpga_budget[w_hi]['gt_latency_ok'] else 'does NOT fit'}; 12.5 us: {'fits' if fpga_budget[w_hi]['l1_latency_ok'] else 'does NOT fit'}; "
    f"a new event every 25 ns: {fpga_budget[w_hi]['ii_ok']}"
)

# %% [markdown]
# The cell below records the key numbers (with package versions) when `results_path` is
# set.

# %%
results = {
    "notebook": "02_data_acquisition",
    "config": dataclasses.asdict(study.config),
    "n_events": {name: events.n for name, events in study.events.items()},
    "missing_samples": study.missing,
    "skipped_sections": skipped_sections,
    "sample_summary": sample_summary,
    "z_window_gev": list(z_window_gev),
    "z_window_check": {name: est.to_dict() for name, est in z_window_check.items()},
    "z_window_comparison": z_window.to_dict(),
    "z_window_agree": z_window_agree,
    "z_window_tuning_fraction": tuning_z,
    "split_ensemble": splits.to_dict(),
    "crosscheck_comparison": crosscheck_comparison.to_dict(),
    "crosscheck_agree": crosscheck_agree,
    "checks": checks,
    "check_false_alarm": check_false_alarm,
    "check_failure_meaning": check_failure_meaning,
    "family_false_alarm": family_false_alarm,
    "n_validation_toys": n_validation_toys,
    "calibrated_alpha": calibrated_alpha,
    "calibrated_rejected": calibrated_rejected,
    "rate_trusted": rate_trusted,
    "quoted_rate": quoted_rate,
    "background_caveat": BACKGROUND_CAVEAT,
    "sample_is_real": {name: events.real for name, events in study.events.items()},
    "explorer_rate_systematic_hz": list(explorer.rate_systematic_hz()),
    "explorer_threshold": explorer.threshold,
    "explorer_rate_description": explorer.rate_description(),
    "rate_systematic_at_target_hz": {"autoencoder": list(op_syst), "HT": list(ht_syst)},
    "input_rate_hz": input_rate_hz,
    "target_rate_hz": target_rate_hz,
    "threshold": threshold,
    "rate": op.rate.to_dict(),
    "efficiencies": {key: result.efficiency.to_dict() for key, result in op.efficiencies.items()},
    "auc": auc,
    "ht_threshold_gev": ht_threshold,
    "ht_rate": ht_op.rate.to_dict(),
    "efficiencies_ht": {key: r.efficiency.to_dict() for key, r in ht_op.efficiencies.items()},
    "more_efficient_at_equal_rate": more_efficient,
    "ht_below_background": blind,
    "tpr_at_fpr": tpr_at_fpr,
    "kde_bandwidth": study.kde.bandwidth,
    "validation": study.validation.to_dict(),
    "oversmoothed_bandwidth": oversmoothed_bandwidth,
    "oversmoothed_validation": oversmoothed_validation.to_dict(),
    "validation_verdict": validation_verdict,
    "min_resolvable_rate_hz": min_rate_hz,
    "background_file": {
        "entries": n_entries,
        "collisions": n_collisions,
        "entries_by_type": entries_by_type,
        "kept_events": n_kept,
        "held_out_copies_of_tuning_events": n_copies,
    },
    "max_real_score": max_real_score,
    "real_events_above_cut": real_events_above_cut,
    "cut_beyond_every_real_event": cut_beyond_every_real_event,
    "bandwidth_grid": list(bandwidth_grid),
    "bandwidth_neighbours": list(bandwidth_neighbours),
    "bandwidth_systematic": {
        score: {f"{bw:g}": r.to_dict() for bw, r in variants.items()}
        for score, variants in bandwidth_rates.items()
    },
    "rate_systematic_hz": rate_systematic_hz,
    "crosscheck_fpr": check_fpr,
    "crosscheck": {label: r.to_dict() for label, r in crosscheck.items()},
    "why_fired": why_fired,
    "fpga": {
        "widths": list(fpga_widths),
        "device": fpga_device,
        "clock_ns": fpga_clock_ns,
        "backend": fpga_backend,
        "latency_budget_ns": latency_budget_ns,
        "n_events": len(x_firmware),
        "sample_bounds": {
            name: [int(bounds[i]), int(bounds[i + 1])] for i, name in enumerate(samples)
        },
        "score_check_max_abs": score_check,
        "per_width": {str(w): row for w, row in per_width.items()},
        "engines": {str(w): r.engine for w, r in zip(scan.widths, scan.results, strict=True)},
        "layer_precision": {
            str(w): {k: dict(v) for k, v in c.layer_precision.items()}
            for w, c in zip(scan.widths, scan.configs, strict=True)
        },
        "estimates": {
            str(w): {
                "dsp": e.dsp,
                "lut": e.lut,
                "ff": e.ff,
                "bram18k": e.bram18k,
                "latency_cycles": e.latency_cycles,
                "latency_ns": e.latency_ns,
                "ii_cycles": e.ii_cycles,
                "fractions": dict(e.fractions),
                "extrapolations": list(e.extrapolations),
                "interval": {k: list(v) for k, v in e.interval.items()},
                "output_softmax": e.output_softmax,
            }
            for w, e in fpga_estimates.items()
        },
        "estimate_error": dict(first.error),
        "budget": {str(w): b for w, b in fpga_budget.items()},
        "validation": {
            "smape": dict(validation.smape),
            "by_family": {k: dict(v["smape"]) for k, v in validation.by_family.items()},
            "r2": dict(validation.r2),
            "n_rows": len(validation.residuals),
            "scheme": validation.scheme,
            "n_designs": len(validation.folds),
            "baseline_smape": dict(validation.baseline_smape),
            "baseline_ratio": dict(validation.baseline_ratio),
            "zero_mae": dict(validation.zero_mae),
            "n_groups": {k: v["n_groups"] for k, v in validation.by_family.items()},
            "by_family_ratio": {
                k: dict(v["baseline_ratio"]) for k, v in validation.by_family.items()
            },
            "by_grouping": {
                by: {k: dict(v["smape"]) for k, v in r.by_family.items()}
                for by, r in validations.items()
            },
            "by_repo_smape": dict(validations["repo"].smape),
            "n_in_domain": n_in_domain,
            "n_rows_total": len(calibration_rows),
        },
        "coverage": {k: dict(v) for k, v in coverage.pools.items()},
        "targets_missed": missed,
        "tagger_rows": tagger_rows,
        "tagger": {label: run.summary() for label, run in tagger_runs.items()},
        "n_tagger_events": n_tagger_events,
        "tagger_beyond_32": tagger_beyond_32,
        "report": None
        if report is None
        else {
            "part": report.part,
            "dsp": report.dsp,
            "lut": report.lut,
            "ff": report.ff,
            "latency_max": report.latency_max,
            "interval_max": report.interval_max,
        },
        "tagger_estimate": None
        if tagger_estimate is None
        else {
            "dsp": tagger_estimate.dsp,
            "lut": tagger_estimate.lut,
            "ff": tagger_estimate.ff,
            "latency_cycles": tagger_estimate.latency_cycles,
            "ii_cycles": tagger_estimate.ii_cycles,
        },
        "export_files": len(files),
    },
    "model": {
        "retrained": retrain,
        "n_train": study.model.n_train,
        "final_loss": study.model.loss_history[-1],
    },
}
record = record_results(results_path, results)
if results_path:
    # The scores behind the headline numbers, for the tests' independent recounts
    # (numpy counts, sklearn AUCs, scipy permutation tests), written atomically.
    scores_file = Path(results_path).with_suffix(".scores.npz")
    partial = scores_file.with_name(scores_file.name + ".partial.npz")
    np.savez_compressed(
        partial,
        **{f"autoencoder__{k}": s.sorted_scores for k, s in study.scores.items()},
        **{f"HT__{k}": s.sorted_scores for k, s in ht.items()},
        **{
            f"leading_pt__{k}": s.sorted_scores
            for k, s in study.baselines["leading-muon pT"].items()
        },
        validation_fast=study.kde.sample(held_out.n, seed=seed + 2).features(),
        validation_oversmoothed=oversmoothed_events.features(),
        validation_real=held_out.features(),
    )
    partial.replace(scores_file)
if record["peak_rss_mb"] is not None:
    print(f"peak memory of this kernel: {record['peak_rss_mb']:.0f} MB")
if results_path:
    print(f"recorded to {results_path}")
