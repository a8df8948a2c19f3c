# %% [markdown]
# # Interpretability: SHAP values and active subspaces, checked against exact answers
#
# Work-plan item 3, part 1. A physicist does not trust a classifier or an anomaly score that
# cannot be interrogated. Two questions, two tools:
#
# - **Which features made this event's score?** SHAP values (S. Lundberg, S.-I. Lee,
#   [arXiv:1705.07874](https://arxiv.org/abs/1705.07874)) split each event's score into one
#   contribution φᵢ per feature, relative to a stated *background* sample:
#   score(x) = base + Σᵢ φᵢ(x), with base the mean score over the background.
# - **Along which directions does the score change?** The active subspace (P. Constantine,
#   *Active Subspaces*, SIAM 2015) is spanned by the leading eigenvectors of
#   C = E[∇f ∇fᵀ]; C. Chakravarti, M. Kuusela, J. Lei, L. Wasserman
#   ([arXiv:2102.07679](https://arxiv.org/abs/2102.07679)) use it to read a classifier
#   two-sample test.
#
# **You will learn**
#
# - what a SHAP value is, what its background means, and why interventional SHAP explains the
#   *model*, not the data, when features are correlated;
# - how to check an explanation: on a classifier whose optimal answer is known exactly, and on
#   a fitted ridge function whose active directions are known exactly;
# - which features make real CMS dimuon events look anomalous to the trigger autoencoder of
#   notebook 02, and whether its 8-bit and 16-bit firmware "reason" like the float model;
# - along which direction the NPLM log-ratio of notebook 05, and which features the classifier
#   two-sample test, see data differ from the reference, next to the exact answer;
# - how to explore all of it interactively.
#
# Every explanation here is computed by the `shap` library or by autograd; the exact answers
# they are compared with come from a closed form or another algorithm.

# %% [markdown]
# ## Parameters
#
# The defaults are the teaching defaults (a few minutes on a laptop CPU, under 2 GB). Every
# random draw derives from `seed`.
#
# | parameter | what it scales | smaller = faster |
# |---|---|---|
# | `n_train` | training events of the Gaussian classifier (section 1) | yes (a less optimal network) |
# | `n_explain` | events explained in section 1 | yes (noisier per-feature summaries) |
# | `background_events` | the SHAP background sample of every section | yes (a noisier base value) |
# | `ridge_events` | training events of the ridge network (section 2); the ground truth is stated for 10 000 | no |
# | `n_background` | fast-simulated background events that set the trigger thresholds (section 3) | yes (coarser thresholds) |
# | `n_signal` | events per simulated resonance signal (section 3) | yes |
# | `n_trigger_events` | most events explained per group in sections 3 and 4 (each firmware call is slower) | yes |
# | `firmware_widths` | fixed-point widths W of the firmware compared in sections 4 and 6 (two g++ builds each, ~5 s apiece) | yes (fewer builds) |
# | `nplm_events` | reference and data events of the NPLM fit (section 5) | yes |
# | `n_tagger_events` | synthetic jet-tagger inputs explained in section 6 | yes |
# | `n_tagger_firmware_events` | of those, the events explained through the tagger's firmware (section 6; ~1 s each per width, plus the build) | yes |
# | `seed` | master seed | — |
# | `results_path` | JSON file for the recorded numbers; `None` writes nothing | — |

# %% tags=["parameters"]
n_train = 300_000
n_explain = 1_000
background_events = 100
ridge_events = 10_000
n_background = 1_000_000
n_signal = 20_000
n_trigger_events = 100
firmware_widths = (8, 16)
nplm_events = 2_000
n_tagger_events = 1_000
n_tagger_firmware_events = 10
seed = 0
results_path = None

# %%
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import panel as pn

from precml_widgets.anomaly import (
    BACKGROUND,
    BACKGROUND_CAVEAT,
    DEFAULT_INPUT_RATE_HZ,
    FEATURE_NAMES,
    StudyConfig,
    run_study,
    threshold_for_rate,
)
from precml_widgets.anomaly.model import anomaly_scores
from precml_widgets.data import is_available, missing_data_message
from precml_widgets.fpga import (
    JET_TAGGER_CLASSES,
    JET_TAGGER_INPUTS,
    FirmwareEmulator,
    load_jet_tagger,
    profile_ranges,
    scored_autoencoder,
    standardised_inputs,
    width_config,
)
from precml_widgets.interpret import (
    INTERVENTIONAL_CAVEAT,
    Explanation,
    ScoredModel,
    active_subspace,
    background_sample,
    explain,
    gaussian_classifier_example,
    load_result,
    ridge_example,
    save_figure,
    save_result,
)
from precml_widgets.interpret.explorer import InterpretabilityExplorer
from precml_widgets.record import record_results
from precml_widgets.serving import inline_stylesheets
from precml_widgets.stats import classifier_check, deformed, reference_model
from precml_widgets.stats.nplm import KERNEL_DEFAULTS, nplm_kernel

inline_stylesheets()  # Panel's style sheets of the HoloViews plots, inside the notebook
pn.extension(inline=True)
rng = np.random.default_rng(seed)
results: dict = {"notebook": "03a_interpretability", "seed": seed}
skipped_sections: dict[str, str] = {}

# %% [markdown]
# ## 1. SHAP values, checked on a classifier whose optimum is known
#
# Two classes of events in 8 features (think of them as reconstructed quantities in GeV),
# each a Gaussian with the **same** diagonal covariance; the class means differ in features
# x1–x4 only, so x5–x8 carry no information at all. The optimal classifier's logit is then
# *linear*, log p₁(x)/p₀(x) = w·x + c with wᵢ = δᵢ/σᵢ, and its exact SHAP values are
# φᵢ = wᵢ (xᵢ − E_bg[xᵢ]), the mean taken over the explainer's own background sample.
#
# We train a small network (8-32-32-1) on samples, explain its logit with shap's
# `DeepExplainer`, and compare with the exact values. A network is never exactly optimal, so
# the agreement measures *both* the training and the explainer.

# %%
gauss = gaussian_classifier_example(
    n_train=n_train, n_explain=n_explain, background_size=background_events, seed=seed
)
agreement = gauss.exact_agreement()
mean_abs_phi = np.abs(gauss.shap.values).mean(axis=0)
informative = np.flatnonzero(gauss.exact_values.std(axis=0) > 0)
phi_std = gauss.exact_values[:, informative].std(axis=0)
print(f"{'feature':8s} {'corr(φ, exact)':>15s} {'RMS diff / std(exact)':>22s} {'mean |φ|':>9s}")
for i, name in enumerate(gauss.shap.feature_names):
    rel = agreement["rms"][i] / phi_std[list(informative).index(i)] if i in informative else np.nan
    print(f"{name:8s} {agreement['corr'][i]:15.4f} {rel:22.3f} {mean_abs_phi[i]:9.4f}")
uninformative_ratio = gauss.uninformative_ratio()
print(
    f"largest mean |φ| of an uninformative feature / smallest of an informative one: "
    f"{100 * uninformative_ratio:.1f} % (must be < 5 %)"
)
print(
    f"additivity error max|Σφ + base − f| / std(f over the background) = "
    f"{gauss.shap.additivity_error:.1e} "
    f"({gauss.shap.explainer}); first active direction vs the exact w: "
    f"|cos| = {gauss.direction_cosine():.4f}"
)
results["gaussian"] = {
    "corr": agreement["corr"].tolist(),
    "rms": agreement["rms"].tolist(),
    "exact_std": gauss.exact_values.std(axis=0).tolist(),
    "mean_abs_phi": mean_abs_phi.tolist(),
    "uninformative_ratio": uninformative_ratio,
    "additivity_error": gauss.shap.additivity_error,
    "direction_cosine": gauss.direction_cosine(),
    "explainer": gauss.shap.explainer,
    "n_explain": n_explain,
    "background": background_events,
}

# %%
fig, axes = plt.subplots(1, 4, figsize=(15, 3.6), layout="constrained")
for ax, i in zip(axes, informative, strict=True):
    exact_i = gauss.exact_values[:, i]
    ax.plot(exact_i, gauss.shap.values[:, i], ".", ms=2, alpha=0.5, label="network (DeepExplainer)")
    ax.plot(exact_i, exact_i, "k-", lw=1, label="exact optimum")
    ax.set(xlabel=f"exact φ({gauss.shap.feature_names[i]})", ylabel="SHAP φ of the network")
    ax.grid(alpha=0.3)
axes[0].legend(fontsize="small")
fig.suptitle(
    "Gaussian classes (synthetic inputs): the network's SHAP values against the exact ones"
)
plt.show()

# %% [markdown]
# ## 2. Active subspaces, checked on a ridge function with known directions
#
# A network is fitted to 10 000 noisy samples of y = sin(aᵀu) + 0.1 (bᵀu)² in d = 12
# features (u standardised; the physics features x = s·u have scales from 0.5 to 50 GeV).
# With a ⊥ b the exact C has two non-zero eigenvalues, λ₁ = (1 + e⁻²)/2 ≈ 0.568 along a and
# λ₂ = 0.04 along b. The gradients of the *fitted network* (autograd) must find both; the
# bootstrap (200 resamples of the events) puts a band on each eigenvalue.

# %%
ridge = ridge_example(n_events=ridge_events, seed=seed)
sub = ridge.subspace
cos_a, cos_b = ridge.direction_cosines()
print(f"{'j':>2s} {'λ_j':>9s} {'95 % band':>21s} {'exact':>7s}")
for j in range(4):
    exact_j = ridge.exact_eigenvalues[j] if j < 2 else 0.0
    lo, hi = sub.eigenvalue_bands[:, j]
    print(f"{j + 1:2d} {sub.eigenvalues[j]:9.4f} [{lo:9.4f}, {hi:9.4f}] {exact_j:7.3f}")
print(f"|cos(w1, a)| = {cos_a:.4f} (≥ 0.99 asked), |cos(w2, b)| = {cos_b:.4f} (≥ 0.9 asked)")
print(
    f"λ1 / exact = {sub.eigenvalues[0] / ridge.exact_eigenvalues[0]:.2f}: the short fit "
    "flattens the sine a little (the directions, not the eigenvalues, are the check)"
)
print(
    f"λ2's band above λ3's: {sub.separated(1)}; 95 % bootstrap angle of the leading "
    f"2-D subspace: {np.degrees(sub.angle_spread(0.95)):.2f}°"
)
results["ridge"] = {
    "cos_a": cos_a,
    "cos_b": cos_b,
    "eigenvalues": sub.eigenvalues.tolist(),
    "bands": sub.eigenvalue_bands.tolist(),
    "separated_2_3": sub.separated(1),
    "exact_eigenvalues": list(ridge.exact_eigenvalues),
    "n_events": ridge_events,
    "n_bootstrap": sub.n_bootstrap,
}

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
j = np.arange(1, sub.eigenvalues.size + 1)
ax.fill_between(
    j, *np.clip(sub.eigenvalue_bands, 1e-8, None), alpha=0.3, label="95 % bootstrap band"
)
ax.plot(j, np.clip(sub.eigenvalues, 1e-8, None), "o-", label="fitted network")
ax.plot([1, 2], ridge.exact_eigenvalues, "k*", ms=12, label="exact")
ax.set(yscale="log", xlabel="eigenvalue index j", ylabel="λ_j (score² per σ²)")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# ## 3. Why does the trigger fire? The anomaly score on real CMS events
#
# Notebook 02 trains an autoencoder on a fast simulation of dimuon events and triggers on its
# reconstruction error. Its five inputs are log(pT₁/GeV), log(pT₂/GeV), η₁, η₂ and |Δφ|.
# Here we ask which of them make events anomalous, group by group:
#
# - the **real** samples of notebook 02 above a 20 kHz threshold: the held-out CMS 2010
#   events (few pass: the cut keeps a fraction 20 kHz / 28.6 MHz of the background, and the
#   held-out sample is small), and the CMS 2012 and ATLAS 2016 open-data events, which the
#   fast simulation was never built from;
# - the **fast-simulated background** above the 1 kHz operating point;
# - the **simulated resonances** of notebook 02 above the 1 kHz operating point.
#
# Five features allow shap's *exact* explainer: all 2⁵ coalitions, exact additivity. The
# background is 100 fast-simulated background events. The features are correlated (two
# muons from one decay), so read the values with the caveat printed below.

# %%
with warnings.catch_warnings():  # a missing sample is said once, below
    warnings.filterwarnings("ignore", message="sample .* skipped")
    study = run_study(
        StudyConfig(n_background=n_background, n_signal=n_signal, n_permutations=100, seed=seed)
    )
for name in study.missing:
    skipped_sections[f"sample {name}"] = missing_data_message(name)
    print(f"sample {name!r} is not in this study: {missing_data_message(name)}")
input_rate_hz = DEFAULT_INPUT_RATE_HZ
thresholds = {
    rate: threshold_for_rate(study.background, rate, input_rate_hz=input_rate_hz)
    for rate in (20e3, 1e3)
}
units = ("log GeV", "log GeV", "", "", "rad")
trigger_score = ScoredModel(
    lambda x: anomaly_scores(study.model, x), FEATURE_NAMES, units=units, name="trigger autoencoder"
)
trigger_background = background_sample(
    study.events[BACKGROUND].features(),
    background_events,
    seed=seed + 1,
    source="fast-simulated dimuon background",
)
groups = {"fast-sim background > 1 kHz cut": (BACKGROUND, thresholds[1e3])}
for name, events in study.events.items():
    if name != BACKGROUND:  # real data at the 20 kHz cut (few pass the 1 kHz one), signals at 1 kHz
        rate = 20e3 if events.real else 1e3
        origin = "REAL" if events.real else "simulated"
        groups[f"{name} ({origin}) > {rate / 1e3:g} kHz cut"] = (name, thresholds[rate])
trigger = {}
for label, (sample, cut) in groups.items():
    features = study.events[sample].features()
    above = np.flatnonzero(anomaly_scores(study.model, features) > cut)
    chosen = np.sort(rng.choice(above, min(n_trigger_events, above.size), replace=False))
    trigger[label] = {"sample": sample, "n_above": int(above.size), "n_total": len(features)}
    if chosen.size:
        trigger[label]["shap"] = explain(trigger_score, features[chosen], trigger_background)
held_out = study.events["cms2010_zmumu_validate"]
expected_held_out = {rate: rate / input_rate_hz * held_out.n for rate in (20e3, 1e3)}
print(
    f"thresholds: 20 kHz -> {thresholds[20e3]:.4g}, 1 kHz -> {thresholds[1e3]:.4g}; "
    f"{held_out.n} held-out real CMS 2010 events, so {expected_held_out[20e3]:.2f} are expected "
    f"above the 20 kHz cut and {expected_held_out[1e3]:.3f} above the 1 kHz cut if the fast "
    "simulation were exact"
)
print(f"{'group':52s} {'above':>11s} " + " ".join(f"{n:>9s}" for n in FEATURE_NAMES))
for label, row in trigger.items():
    phi = np.abs(row["shap"].values).mean(axis=0) if "shap" in row else np.full(5, np.nan)
    count = f"{row['n_above']}/{row['n_total']}"
    print(f"{label:52s} {count:>11s} " + " ".join(f"{v:9.3f}" for v in phi))
print("(mean |φ| per feature, score units)")
print("caveat:", INTERVENTIONAL_CAVEAT)
print("caveat:", BACKGROUND_CAVEAT)

# %%
real_explained = {
    label: row["shap"]
    for label, row in trigger.items()
    if "shap" in row and study.events[row["sample"]].real
}
for label, real_shap in real_explained.items():  # why did the trigger fire on real events?
    top = int(np.argmax(real_shap.model_output))
    contributions = ", ".join(
        f"{n} {v:+.2f}" for n, v in zip(FEATURE_NAMES, real_shap.values[top], strict=True)
    )
    print(
        f"most anomalous of {label.split(' ')[0]}: score {real_shap.model_output[top]:.2f} = "
        f"base {real_shap.base_values[top]:.2f} + ({contributions})"
    )
fig, ax = plt.subplots(figsize=(11, 3.8), layout="constrained")
width = 0.8 / len(trigger)
for k, (label, row) in enumerate(trigger.items()):
    if "shap" in row:
        phi = np.abs(row["shap"].values).mean(axis=0)
        ax.bar(np.arange(5) + k * width, phi, width, label=f"{label} ({len(row['shap'].values)})")
ax.set_xticks(np.arange(5) + 0.4 - width / 2, FEATURE_NAMES)
ax.set(ylabel="mean |φ| (score units)", yscale="log")
ax.legend(fontsize="small")
ax.set_title("Which features make an event anomalous? (exact SHAP, fast-sim background of 100)")
plt.show()
results["trigger"] = {
    "thresholds": {str(int(k)): v for k, v in thresholds.items()},
    "held_out_events": held_out.n,
    "expected_held_out": {str(int(k)): v for k, v in expected_held_out.items()},
    "background": trigger_background.data.tolist(),
    "groups": {
        label: {
            **{k: v for k, v in row.items() if k != "shap"},
            "real": bool(study.events[row["sample"]].real),
            **(
                {
                    "mean_abs_phi": np.abs(row["shap"].values).mean(axis=0).tolist(),
                    "features": row["shap"].data[:5].tolist(),
                    "phi": row["shap"].values[:5].tolist(),
                    "base": row["shap"].base_values[:5].tolist(),
                    "score": row["shap"].model_output[:5].tolist(),
                    "additivity_error": row["shap"].additivity_error,
                }
                if "shap" in row
                else {}
            ),
        }
        for label, row in trigger.items()
    },
}

# %% [markdown]
# ## 4. Does the firmware reason like the float model?
#
# On the FPGA the score is computed in fixed point (notebook 02, section 8). The emulation of
# hls4ml's firmware is bit-exact but not differentiable — a plain callable, which shap
# explains as easily as the float model. Same events, same background, same exact explainer:
# if the firmware's SHAP values differ from the float model's, the firmware triggers for
# other reasons, even where it triggers on the same events. The integer bits of every
# tensor come from the largest values on 100 000 background events (as in notebook 02).

# %%
firmware_model = scored_autoencoder(study.model.model, len(FEATURE_NAMES))
ranges = profile_ranges(
    firmware_model, standardised_inputs(study.model, study.events[BACKGROUND].features()[:100_000])
)
explained = {label: row["shap"] for label, row in trigger.items() if "shap" in row}
x_firmware = np.concatenate([r.data for r in explained.values()])
float_phi = np.concatenate([r.values for r in explained.values()])
firmware = {}
for width in firmware_widths:
    with FirmwareEmulator(firmware_model, (len(FEATURE_NAMES),), width_config(ranges, width)) as fw:
        score_w = ScoredModel(
            lambda x, fw=fw: fw.predict(standardised_inputs(study.model, x))[:, 0] / 5,
            FEATURE_NAMES,
            units=units,
            name=f"firmware W={width}",
        )
        shap_w = explain(score_w, x_firmware, trigger_background, method="exact")
    rms = np.sqrt(np.mean((shap_w.values - float_phi) ** 2, axis=0))
    firmware[width] = {
        "mean_abs_phi": np.abs(shap_w.values).mean(axis=0).tolist(),
        "rms_difference": rms.tolist(),
        "relative_rms": (rms / np.abs(float_phi).mean(axis=0)).tolist(),
        "additivity_error": shap_w.additivity_error,
        "phi": shap_w.values[:5].tolist(),
        "features": x_firmware[:5].tolist(),
    }
print(f"{len(x_firmware)} events; RMS(φ_firmware − φ_float) / mean |φ_float| per feature:")
print(f"{'W':>3s} " + " ".join(f"{n:>9s}" for n in FEATURE_NAMES))
for width, row in firmware.items():
    print(f"{width:3d} " + " ".join(f"{v:9.3f}" for v in row["relative_rms"]))
results["firmware"] = {str(w): row for w, row in firmware.items()}
results["firmware_float_mean_abs_phi"] = np.abs(float_phi).mean(axis=0).tolist()

# %% [markdown]
# At W = 16 the firmware's explanation equals the float model's to about a per cent; at
# W = 8 the rounding of every layer moves the contributions by a large fraction of their own
# size — the 8-bit firmware fires for partly different reasons, a change the trigger
# efficiency alone (notebook 02, section 8.1) does not show.
#
# ## 5. Where does NPLM see a difference?
#
# NPLM (notebook 05) learns the log-ratio f(x) ≈ log p_data(x)/p_ref(x). Take the 5-D
# correlated Gaussian reference of *Refereeing the Referees* (arXiv:2409.16336) and data with
# its mean shifted (ε = 1): the exact log-ratio is linear, so its active subspace is one
# direction. The kernel NPLM's f is a sum of Gaussian kernels — a plain function, so its
# gradients are central differences with a stated step (0.01 σ).

# %%
reference_pdf = reference_model("cg", 5)
data_pdf = deformed(reference_pdf, "mean", 1.0)
sample_rng = np.random.default_rng([seed, 31])
nplm_reference = reference_pdf.sample(nplm_events, sample_rng)
nplm_data = data_pdf.sample(nplm_events, sample_rng)
fit = nplm_kernel(nplm_reference, nplm_data, **KERNEL_DEFAULTS)
names5 = tuple(f"x{i + 1}" for i in range(5))
learned = ScoredModel(fit.f, names5, name="NPLM f(x)")
exact_ratio = ScoredModel(
    lambda x: data_pdf.log_prob(x) - reference_pdf.log_prob(x), names5, name="exact log-ratio"
)
nplm_sub = active_subspace(learned, nplm_data, gradient="finite_difference", step=0.01, seed=seed)
exact_sub = active_subspace(
    exact_ratio, nplm_data, gradient="finite_difference", step=0.01, seed=seed
)
nplm_cos = float(abs(nplm_sub.eigenvectors[:, 0] @ exact_sub.eigenvectors[:, 0]))
print(fit.describe())
print(f"learned eigenvalues: {np.round(nplm_sub.eigenvalues, 3)}")
print(f"exact eigenvalues:   {np.round(exact_sub.eigenvalues, 3)}")
print(
    f"|cos| between the first learned and exact directions: {nplm_cos:.3f}; "
    f"loadings {np.round(nplm_sub.eigenvectors[:, 0], 3)} vs "
    f"{np.round(exact_sub.eigenvectors[:, 0], 3)} (signs fixed)"
)
results["nplm"] = {
    "t": float(fit.t),
    "cos": nplm_cos,
    "eigenvalues": nplm_sub.eigenvalues.tolist(),
    "exact_eigenvalues": exact_sub.eigenvalues.tolist(),
    "exact_direction": exact_sub.eigenvectors[:, 0].tolist(),
    "scale": exact_sub.scale.tolist(),
    "n_events": nplm_events,
}

# %% [markdown]
# **Which features carry the difference?** The classifier two-sample test of the suite
# (`classifier_check`, boosted trees; arXiv:1610.06545) learns the same log-ratio by another
# route. A tree ensemble is piecewise constant — its gradient is zero almost everywhere, so
# no active subspace — but SHAP explains it as well as NPLM's f. For the exact, linear
# log-ratio the exact SHAP values are gᵢ (xᵢ − E_bg[xᵢ]) with g = Σ⁻¹δ; each learned
# log-ratio's values are compared with them per feature, on 200 data events against a
# background of reference events.

# %%
two_sample = classifier_check(nplm_data, nplm_reference, seed=seed)
ratio_models = {
    "NPLM f(x)": learned,
    # log w = log p_ref / p_data: the data-over-reference log-ratio is its negative
    "classifier": ScoredModel(lambda x: -two_sample.log_ratio(x), names5, name="classifier"),
}
ratio_background = background_sample(
    nplm_reference, background_events, seed=seed, source="NPLM reference sample"
)
x_ratio = nplm_data[:200]
exact_phi = explain(exact_ratio, x_ratio, ratio_background, method="exact").values
ratio_shap = {}
print(two_sample.describe())
print(
    f"{'log-ratio':12s} "
    + " ".join(f"{'corr ' + n:>9s}" for n in names5)
    + "  mean |φ| per feature"
)
for label, ratio_model in ratio_models.items():
    phi = explain(ratio_model, x_ratio, ratio_background, method="exact").values
    corr = [float(np.corrcoef(phi[:, i], exact_phi[:, i])[0, 1]) for i in range(5)]
    ratio_shap[label] = {"corr": corr, "mean_abs_phi": np.abs(phi).mean(axis=0).tolist()}
    print(
        f"{label:12s} "
        + " ".join(f"{c:9.3f}" for c in corr)
        + "  "
        + " ".join(f"{v:.2f}" for v in ratio_shap[label]["mean_abs_phi"])
    )
print(f"{'exact':12s} {'':49s} " + " ".join(f"{v:.2f}" for v in np.abs(exact_phi).mean(axis=0)))
results["nplm"]["shap"] = ratio_shap
results["nplm"]["auc"] = two_sample.auc
results["nplm"]["exact_phi"] = exact_phi[:5].tolist()
results["nplm"]["ratio_features"] = x_ratio[:5].tolist()
results["nplm"]["ratio_background"] = ratio_background.data.tolist()

# %% [markdown]
# ## 6. The jet tagger of arXiv:1804.06913 — on synthetic inputs
#
# The hls4ml jet tagger (16 → 64 → 32 → 32 → 5) takes 16 jet-substructure features that are
# not in CMS NanoAOD. We have its published weights but not its data, so the inputs here are
# **synthetic**: independent standard normals in its standardised feature space. The numbers
# show how the tools behave on a 16-feature network; they say nothing about jets.
#
# We explain the **logit** of class t (the softmax's input), not the probability P(t):
# DeepExplainer (DeepLIFT's rescale rule averaged over the background) is additive for Linear
# and ReLU layers and close to the Shapley values there — the tests measure a few per cent
# RMS against all 2¹⁶ coalitions — while the softmax is outside its rules.

# %%
if is_available("hls4ml_jet_tagger_weights"):
    tagger = load_jet_tagger()
    tagger_logits = tagger[:-1].eval()  # the Sequential without its final Softmax
    top_class = JET_TAGGER_CLASSES.index("t")
    tagger_model = ScoredModel(
        tagger_logits, JET_TAGGER_INPUTS, output=top_class, name="jet tagger (synthetic inputs)"
    )
    x_tagger = np.random.default_rng(seed + 6).normal(size=(n_tagger_events, 16))
    tagger_pool = np.random.default_rng(seed + 7).normal(size=(1_000, 16))
    tagger_bg = background_sample(
        tagger_pool,
        background_events,
        seed=seed,
        source="synthetic standard-normal inputs",
    )
    tagger_shap = explain(tagger_model, x_tagger, tagger_bg, method="deep")
    tagger_sub = active_subspace(tagger_model, x_tagger, seed=seed)
    tagger_explanation = Explanation(
        model="jet tagger (synthetic inputs)",
        output="logit(t)",
        shap=tagger_shap,
        subspace=tagger_sub,
        note="synthetic inputs: independent standard normals, not jets",
    )
    order = np.argsort(-np.abs(tagger_shap.values).mean(axis=0))[:4]
    print(
        f"logit(t) on {n_tagger_events} synthetic events: DeepExplainer additivity error "
        f"{tagger_shap.additivity_error:.1e}; largest mean |φ|: "
        + ", ".join(JET_TAGGER_INPUTS[i] for i in order)
        + f"; active-subspace eigenvalues λ1..λ3 = {np.round(tagger_sub.eigenvalues[:3], 2)}"
    )
    # float vs firmware on the same events, background and permutations (paired): any
    # difference is the firmware's, not the sampling's
    tagger_ranges = profile_ranges(tagger_logits, tagger_pool.astype(np.float32))
    x_fw = x_tagger[:n_tagger_firmware_events]
    budget = 170  # model evaluations per event: 5 permutations of 16 features

    def tagger_phi(model):
        return explain(model, x_fw, tagger_bg, method="permutation", n_samples=budget, seed=seed)

    tagger_float = tagger_phi(tagger_model)
    tagger_firmware = {}
    for width in firmware_widths:
        config = width_config(tagger_ranges, width)
        with FirmwareEmulator(tagger_logits, (16,), config) as fw:
            fw_model = ScoredModel(
                lambda z, fw=fw: fw.predict(z.astype(np.float32)),
                JET_TAGGER_INPUTS,
                output=top_class,
                name=f"tagger firmware W={width}",
            )
            diff = tagger_phi(fw_model).values - tagger_float.values
        tagger_firmware[str(width)] = float(
            np.sqrt(np.mean(diff**2)) / np.abs(tagger_float.values).mean()
        )
    print(
        f"firmware vs float on {len(x_fw)} events (permutation SHAP, {budget} evaluations per "
        "event, the same permutations): RMS(φ_fw − φ_float) / mean |φ_float| = "
        + ", ".join(f"{v:.3f} at W = {w}" for w, v in tagger_firmware.items())
    )
    results["tagger"] = {
        "firmware_relative_rms": tagger_firmware,
        "float_permutation_phi": tagger_float.values[:1].tolist(),
        "additivity_error": tagger_shap.additivity_error,
        "eigenvalues": tagger_sub.eigenvalues.tolist(),
        "n_events": n_tagger_events,
        "features": x_tagger[:2].tolist(),
        "phi": tagger_shap.values[:2].tolist(),
        "background": tagger_bg.data.tolist(),
    }
else:
    tagger_explanation = None
    skipped_sections["jet tagger"] = missing_data_message("hls4ml_jet_tagger_weights")
    print("section 6 skipped:", skipped_sections["jet tagger"])

# %% [markdown]
# ## 7. Explore interactively
#
# The explorer shows any explanation: the SHAP distribution of every feature (ordered by
# mean |φ|), the dependence of φ on one feature coloured by another, one event's waterfall,
# and the active subspace — eigenvalues with their bands, the loadings, and the events
# projected on the first two directions. Everything is computed above; moving a control only
# redraws. The trigger's active subspace uses central differences (step 0.05 σ) on the
# explained events.

# %%
signal_label = next(label for label in groups if label.startswith("fastsim_resonance"))
trigger_shap = trigger[signal_label]["shap"] if "shap" in trigger[signal_label] else None
explanations = [gauss]
if trigger_shap is not None and len(trigger_shap.values) >= 10:
    trigger_sub = active_subspace(
        trigger_score, trigger_shap.data, gradient="finite_difference", step=0.05, seed=seed
    )
    explanations.append(
        Explanation(
            model="trigger autoencoder",
            output=f"score ({signal_label})",
            shap=trigger_shap,
            subspace=trigger_sub,
            note="simulated signal events above the 1 kHz cut; " + BACKGROUND_CAVEAT,
        )
    )
if tagger_explanation is not None:
    explanations.append(tagger_explanation)
explorer = InterpretabilityExplorer(explanations)
explorer

# %% [markdown]
# The same explorer runs as a web app (on the Gaussian example), from the repository root:
#
# ```bash
# python -m precml_widgets.serving precml_widgets/apps/interpretability_explorer.py --show
# ```
#
# Its buttons download the summary figure (PNG or SVG, with the caveats printed on it). From
# code, every result is saved as `.npz` arrays plus a JSON card (read back without pickle) —
# here to a temporary folder, removed when the kernel stops:

# %%
export = tempfile.TemporaryDirectory(prefix="precml_interpret_")
folder = Path(export.name)
save_result(gauss.shap, folder / "gaussian_shap")
save_result(gauss.subspace, folder / "gaussian_subspace")
save_figure(gauss, folder / "gaussian_summary.png")
reloaded = load_result(folder / "gaussian_shap")
assert np.array_equal(reloaded.values, gauss.shap.values)
for path in sorted(folder.iterdir()):
    print(f"{path}  ({path.stat().st_size:,} bytes)")

# %% [markdown]
# ## Exercises
#
# 1. **The background matters.** Explain the Gaussian classifier's logit against a
#    background of class-0 events only. How do the base value and the φᵢ change, and why?
#    <details><summary>Solution</summary>
#
#    The base value becomes the mean logit over class 0 (negative), and every φᵢ of an
#    informative feature shifts by wᵢ (E_all[xᵢ] − E_class0[xᵢ]) = wᵢ δᵢ σᵢ / 2: SHAP values
#    answer "relative to what?", and the background is the answer. Code:
#    `explain(model, x, background_sample(x0, 100, seed=1, source="class 0"))`.
#    </details>
#
# 2. **Correlated features.** In section 3, log pT₁ and log pT₂ are strongly correlated.
#    Run `explain(..., method="partition")` on the same events and compare the two muons'
#    values. <details><summary>Solution</summary>
#
#    The partition explainer masks correlated features together (a clustering of the
#    background), so it does not evaluate the autoencoder on events with a large pT₁ and a
#    small pT₂ that never occur; the pT contributions move between the two muons and their
#    sum changes less than either. Interventional values explain the model, partition values
#    stay closer to the data.
#    </details>
#
# 3. **The firmware's step.** Take the W = 8 firmware of section 4 and compute its active
#    subspace with `gradient="finite_difference"` and `step=1e-3`. What goes wrong, and how
#    do you choose the step? <details><summary>Solution</summary>
#
#    The firmware's output is a multiple of its last bit: a step smaller than the input's
#    quantum gives differences of exactly zero or of one quantum over a tiny step — zero or
#    huge gradients. The step must be larger than the input quantisation (0.05 σ or more at
#    W = 8) and small against the scale on which the score varies.
#    </details>

# %% [markdown]
# ## Summary
#
# - On a classifier whose optimum is known, shap's values of a trained network agree with
#   the exact ones feature by feature, and features without information get almost nothing.
# - On a fitted ridge function the active subspace recovers both known directions, with
#   bootstrap bands that separate the second eigenvalue from the rest.
# - The trigger autoencoder's decisions are explained feature by feature on real and
#   simulated events; the 16-bit firmware reasons like the float model, the 8-bit one does not
#   — for the trigger and for the jet tagger.
# - NPLM's learned log-ratio points along the exact direction of the mean shift, and on the
#   features that carry the shift the SHAP values of NPLM's and the classifier test's
#   log-ratios follow the exact ones (on the others both learn mostly noise).

# %%
results["skipped_sections"] = skipped_sections
record = record_results(results_path, results)
print(f"recorded {len(record)} entries" + (f" to {results_path}" if results_path else ""))
