# %% [markdown]
# # General ML tools, part 1: two-sample tests for precision science
#
# Work-plan item 5: does a generator reproduce its reference, and do data contain something
# the reference does not? Both are **two-sample tests**: one sample from the reference, one
# from the generator (or the detector), and a statistic that grows when they differ.
#
# **You will learn**
#
# - how the metric suite of *Refereeing the Referees* (S. Grossi, M. Letizia, R. Torre,
#   [arXiv:2409.16336](https://arxiv.org/abs/2409.16336)) — mean and sliced
#   Kolmogorov–Smirnov, sliced Wasserstein, the Fréchet Gaussian distance, MMD — is
#   calibrated with toys, and what a p-value and its Monte Carlo error are;
# - what NPLM (*New Physics Learning Machine*, R. T. D'Agnolo, A. Wulzer,
#   [arXiv:1806.02350](https://arxiv.org/abs/1806.02350); kernel version M. Letizia et al.,
#   [arXiv:2204.02317](https://arxiv.org/abs/2204.02317)) learns, and why its null is close
#   to, but not exactly, a χ²;
# - how much power each statistic has against a small mean shift, and at what cost per toy;
# - how to validate the flow sampler of notebook 01 against exact events;
# - NPLM on **real CMS dimuon events** against the fast simulation of notebook 02: what it
#   finds before and after a narrow resonance is injected, and where in the dimuon mass its
#   learned log-ratio `f(x)` is large.
#
# Parts 2 and 3 of this notebook (symmetry-aware models, scaling studies) are an outline at
# the end, filled by a later issue.

# %% [markdown]
# ## Parameters
#
# The defaults are the teaching defaults: a few minutes on a laptop CPU, well under 2 GB.
# Every random draw derives from `seed`.
#
# | parameter | what it scales | smaller = faster |
# |---|---|---|
# | `n_events` | events per sample in the metric suite's toys (section 1) | yes (less power) |
# | `toys` | toys per null and per alternative distribution (section 1) | yes (coarser p-values) |
# | `eps_max` | largest mean shift ε of the power curves | — |
# | `nplm_reference_events` | reference events of the NPLM null in section 1 | yes |
# | `nplm_data_events` | expected data events N(0) of the NPLM null in section 1 | yes |
# | `nplm_toys` | NPLM null toys (section 1) | yes (coarser χ² fit) |
# | `flow_training_iterations` | iterations of 2 000 integrand calls that train the flow (section 2) | yes (worse flow) |
# | `flow_events` | weighted flow events to unweight (section 2) | yes (less power) |
# | `cms_reference_events` | fast-simulation events of the NPLM reference (section 3) | yes |
# | `cms_toys` | NPLM toys with data from the fast simulation (section 3) | yes (coarser p-values) |
# | `resonance_mass_gev`, `resonance_width_gev`, `resonance_events` | the injected signal | — |
# | `seed` | master seed | — |
# | `results_path` | JSON file for the recorded numbers; `None` writes nothing | — |

# %% tags=["parameters"]
n_events = 2_000
toys = 200
eps_max = 0.4
nplm_reference_events = 5_000
nplm_data_events = 500
nplm_toys = 100
flow_training_iterations = 25
flow_events = 20_000
cms_reference_events = 10_000
cms_toys = 100
resonance_mass_gev = 75.0
resonance_width_gev = 0.5
resonance_events = 20
seed = 0
results_path = None

# %%
import time

import holoviews as hv
import matplotlib.pyplot as plt
import numpy as np
import panel as pn
from scipy import stats

from precml_widgets.anomaly.fastsim import DimuonKDE, simulate_resonance
from precml_widgets.anomaly.kinematics import to_pair_frame
from precml_widgets.anomaly.samples import load_sample, split_tune_validate
from precml_widgets.integration import (
    FLOW_SIZES,
    CallBudget,
    CountingIntegrand,
    NeuralImportanceSampler,
    NISConfig,
    WeightedEvents,
    camel,
    unweight,
)
from precml_widgets.record import record_results
from precml_widgets.serving import inline_stylesheets
from precml_widgets.stats.deformations import deformed, reference_model
from precml_widgets.stats.nplm import prepare_reference
from precml_widgets.stats.suite import (
    fit_chi2_dof,
    get_statistic,
    null_distribution,
    p_value,
    two_sample_test,
)
from precml_widgets.twosample import PowerConfig, TwoSampleExplorer, power_study

# inline=True: the Bokeh and Panel JavaScript travel inside the notebook, so the plots and
# the explorer draw in JupyterLab without internet access (the default fetches them from a CDN)
hv.extension("bokeh", logo=False, inline=True)
inline_stylesheets()  # Panel's style sheets of the HoloViews plots, inside the notebook
pn.extension(inline=True)
# %matplotlib inline

#: the fast statistics of the suite (NPLM and the classifier take far longer per toy)
FAST = ("mean_ks", "sliced_ks", "sliced_wasserstein", "fgd", "fgd_inf", "mmd_poly")
for name in FAST:
    print(f"{name:19s} {get_statistic(name).summary}")

# %% [markdown]
# ## 1. The suite on the paper's reference model
#
# The reference is the 5-dimensional correlated Gaussian of arXiv:2409.16336 (its mean and
# covariance regenerated from the authors' seeded code). A statistic is calibrated by
# **toys**: draw both samples from the reference many times and record the statistic; the
# p-value of an observed value is the fraction of toys at or above it, `(k + 1)/(N + 1)`,
# with a binomial Monte Carlo error `√(p(1-p)/N)`. When no toy reaches the observed value the
# toys can only bound p, and the suite says so instead of printing 0.
#
# Below: the null toys of each fast statistic, and one "observed" pair of samples whose data
# have their mean shifted by ε = `eps_max`/2 along the paper's direction.

# %%
model = reference_model("cg", 5)
shifted = deformed(model, "mean", eps_max / 2)
rng = np.random.default_rng(seed)
observed_reference = model.sample(n_events, rng)
observed_data = shifted.sample(n_events, rng)

suite_tests = {}
for name in FAST:
    start = time.perf_counter()
    null = null_distribution(
        name, model.sample, n_events, n_events, toys=toys, seed=seed, serial=True, progress=False
    )
    suite_tests[name] = two_sample_test(name, observed_reference, observed_data, null)
    print(f"{suite_tests[name].describe()}  [{time.perf_counter() - start:.1f} s]")

# %% [markdown]
# Every p-value carries its Monte Carlo error: with `toys` = 200 a p-value near 0.05 is
# known to about ±0.015, and nothing below ~1/200 can be resolved — a "p < …" bound is the
# honest answer there. More toys buy resolution, not a different answer.
#
# ### NPLM and its χ² null
#
# NPLM fits the log-density ratio `f(x) = log n(x|data)/n(x|reference)` by minimising the
# extended-likelihood loss `L[f] = Σ_R w (e^f − 1) − Σ_D f` (reference events weighted by
# `w = N(0)/N_R`) and reports `t = −2 min L`. By Wilks' theorem `t` is asymptotically χ²
# with as many degrees of freedom as `f` has *effective* parameters; the kernel's
# regularisation makes that number fractional, so it is **fitted** to the toys and shown
# beside the empirical null. Here the reference sample is fixed (as it is in a real
# analysis) and each toy draws a Poisson number of data events with mean N(0). The kernel
# configuration is small on purpose: M = 100 Nyström centres, σ the 90th percentile of the
# reference's pairwise distances, λ = 1e-6.

# %%
rng = np.random.default_rng([seed, 1])
nplm_reference = prepare_reference(
    model.sample(nplm_reference_events, rng),
    reference_weight=nplm_data_events / nplm_reference_events,
    centres=100,
    lam=1e-6,
    seed=seed,
)
start = time.perf_counter()
nplm_null = np.array(
    [
        nplm_reference.fit(model.sample(rng.poisson(nplm_data_events), rng)).t
        for _ in range(nplm_toys)
    ]
)
nplm_seconds = (time.perf_counter() - start) / nplm_toys
nplm_dof = fit_chi2_dof(nplm_null)
nplm_observed = nplm_reference.fit(shifted.sample(rng.poisson(nplm_data_events), rng))
nplm_p = p_value(nplm_observed.t, nplm_null)
print(nplm_observed.describe())
print(
    f"null over {nplm_toys} toys: mean {nplm_null.mean():.1f}, variance/2 {nplm_null.var() / 2:.1f} "
    f"(equal for a χ²); fitted χ² dof {nplm_dof:.1f}; {1e3 * nplm_seconds:.0f} ms per toy"
)
print(f"shifted data (ε = {eps_max / 2:g}): {nplm_p.describe()}")

fig, ax = plt.subplots(figsize=(6, 3.5))
bins = np.linspace(0, nplm_null.max() * 1.3, 30)
ax.hist(nplm_null, bins=bins, density=True, color="0.7", label=f"{nplm_toys} null toys")
grid = np.linspace(bins[0], bins[-1], 300)
ax.plot(grid, stats.chi2.pdf(grid, nplm_dof), label=f"χ², fitted dof = {nplm_dof:.1f}")
ax.axvline(nplm_observed.t, color="C3", label=f"shifted data: t = {nplm_observed.t:.1f}")
ax.set_xlabel("NPLM t")
ax.legend()
plt.show()

# %% [markdown]
# The χ² with the fitted dof follows the toys' location; its width need not match (a
# regularised kernel fit is not a model with a fixed number of free parameters). Trust the
# **toys** for the p-value, and use the χ² as a compact description or to extrapolate
# beyond the toys — with care.
#
# ### Power against a mean shift
#
# Power is the fraction of alternative toys (data from the shifted model) above the null's
# 95 % quantile. At ε = 0 it is the false-alarm rate, 5 % up to binomial error. The study
# reuses the same random numbers at every ε, so each curve is smooth. The last line is the
# most any test can do against this shift (the Neyman–Pearson test that knows δ): the gap to
# it is the price of testing against *every* deformation at once.

# %%
config = PowerConfig(
    family="cg",
    dim=5,
    kind="mean",
    epsilons=tuple(float(e) for e in np.linspace(0.0, eps_max, 6)),
    n=n_events,
    statistics=("mean_ks", "sliced_ks", "sliced_wasserstein", "fgd", "mmd_poly"),
    toys=toys,
    cl=0.95,
    seed=seed,
)
study = power_study(config)
for row in study.summary_rows():
    powers = "  ".join(f"{v:.2f}" for k, v in row.items() if k.startswith("power"))
    print(f"{row['statistic']:19s} {row['ms per toy']:6.1f} ms/toy   power: {powers}")
print("ε grid:", ", ".join(f"{e:.3g}" for e in config.epsilons))
# no test beats the Neyman–Pearson test of the known shift δ = ε (2u − 1): the projection
# δᵀΣ⁻¹(ȳ − x̄) is Gaussian, so its power is Φ(√(n δᵀΣ⁻¹δ / 2) − z₀.₉₅) in closed form
precision = np.linalg.inv(model.covariance)
neyman_pearson = []
for eps in config.epsilons:
    delta = eps * (2 * deformed(model, "mean", eps).u - 1)
    separation = np.sqrt(n_events * delta @ precision @ delta / 2)
    neyman_pearson.append(float(stats.norm.cdf(separation - stats.norm.isf(1 - config.cl))))
print(
    f"{'Neyman-Pearson bound':19s} {'':13s} power: {'  '.join(f'{p:.2f}' for p in neyman_pearson)}"
)
# p-values of the ε = 0 toys (fresh null toys, seed + 1) against each null: uniform if the
# calibration is right
fresh_null_p = {
    name: [r.null.p_value(v).value for v in r.alternatives[0]] for name, r in study.results.items()
}

# %% [markdown]
# The explorer below shows this very study (press nothing: it is cached). Change the
# deformation, the dimension or the sample size and press *Run toys* to compare the
# statistics on another problem.

# %%
explorer = TwoSampleExplorer(
    eps_max=eps_max, n=n_events, toys=toys, statistics=list(config.statistics), seed=seed
)
explorer.show(study)
explorer

# %% [markdown]
# ## 2. Validating the flow sampler of notebook 01
#
# Notebook 01 trains a normalizing flow as an importance sampler and unweights its events.
# Are the unweighted events distributed as the integrand? The 2-D Camel (two Gaussians on
# the diagonal of the unit square) has an exact sampler, so every fast statistic can compare
# the flow's unweighted events with exact draws. The null of each test is computed with both
# samples exact. The same statistics also see the flow's **weighted** events taken as if
# they were unweighted — the mistake unweighting exists to avoid — and a control sample of
# exact events.

# %%
integrand = camel(2)
flow_config = NISConfig(
    budget=CallBudget(2_000, flow_training_iterations, 5), flow=FLOW_SIZES["small"], seed=seed
)
sampler = NeuralImportanceSampler(2, flow_config)
sampler.train(CountingIntegrand(integrand.fn, 2, integrand.name), progress=False)
x, q = sampler.sample(flow_events, seed=seed + 1)
flow_unweighted = unweight(WeightedEvents(x, integrand.fn(x) / q, q), seed=seed + 2)
n_flow = len(flow_unweighted)
exact = integrand.sampler(n_flow, np.random.default_rng([seed, 2]))
print(
    f"{n_flow:,} unweighted events of {flow_events:,} (efficiency {flow_unweighted.efficiency:.3f})"
)

# the control: fresh exact events in the flow's place, against the same exact reference
control = integrand.sampler(n_flow, np.random.default_rng([seed, 4]))

flow_tests, weighted_tests, control_tests = {}, {}, {}
for name in FAST:
    null = null_distribution(
        name,
        integrand.sampler,
        n_flow,
        n_flow,
        toys=toys,
        seed=seed + 3,
        serial=True,
        progress=False,
    )
    flow_tests[name] = two_sample_test(name, exact, flow_unweighted.x, null)
    weighted_tests[name] = two_sample_test(name, exact, x[:n_flow], null)
    control_tests[name] = two_sample_test(name, exact, control, null)
    print(f"unweighted  {flow_tests[name].describe()}")
    print(f"weighted    {weighted_tests[name].describe()}")
    print(f"control     {control_tests[name].describe()}")
unweighted_p = [t.p.value for t in flow_tests.values()]
weighted_p = [t.p.value for t in weighted_tests.values()]
control_p = [t.p.value for t in control_tests.values()]
print(f"control (exact events in the flow's place): {min(control_p):.2g} to {max(control_p):.2g}")
print(
    f"p-values, unweighted: {min(unweighted_p):.2g} to {max(unweighted_p):.2g}; weighted taken "
    f"as unweighted: {min(weighted_p):.2g} to {max(weighted_p):.2g}"
)

# %% [markdown]
# **Reading the p-values.** A p-value is not the probability that the flow is right. If the
# unweighted events *were* exact draws, each p-value would be uniform on (0, 1): 0.3 or 0.8
# is what a perfect sampler gives, and one p = 0.03 is what one test in 33 gives by chance.
# The six statistics see the same events, so their p-values are strongly correlated: read
# them as one observation, not six. Hit-or-miss unweighting with `w_max` = the largest weight
# is exact wherever the flow put events; what it cannot repair is a region the flow almost
# never samples — so low p-values for the unweighted events point at a flow trained too
# briefly (raise `flow_training_iterations`), not at the unweighting. A passed test bounds the
# mis-modelling from above, by the power at this sample size; it never proves its absence.
# The weighted events taken as unweighted follow the flow's density `q`, not `f/I`: how
# strongly the tests reject them measures how far `q` still is from `f/I`.
#
# The *control* line puts fresh exact events in the flow's place. All three comparisons use
# the same exact reference sample, so they share its fluctuation: an unusual reference draw
# lowers every p-value at once, the control's included. Compare the flow with the control,
# not with 0.05. At the teaching defaults all three are low — flow 0.01–0.05, control
# 0.02–0.14, weighted 0.015–0.025 — so most of the smallness is the shared reference draw,
# and what is left of the flow's is not resolved by one comparison at ~8 000 events. (The
# weighted events are not rejected harder than the unweighted ones: the trained flow's
# weights vary by only ~25 %, so `q` is already close to `f/I`.) A larger exact reference
# (exact events are cheap) or repeated references would shrink the shared fluctuation.
#
# ## 3. NPLM on real CMS dimuon events
#
# The CMS 2010 Z → μμ sample (from `scikit-hep-testdata`) has 500 collisions with two
# muons. As in notebook 02, the even-numbered collisions **tune** the fast simulation (a
# kernel density estimate in the dimuon rest frame, `DimuonKDE.tuned`) and the odd-numbered
# ones are **held out**. The reference is a large fast-simulation sample; the data are the
# held-out real events, then the same events plus an injected narrow resonance.
#
# Features: the dimuon mass m, transverse momentum pT (GeV) and rapidity y, standardised
# with the reference's mean and standard deviation. NPLM runs with N(0) = the number of
# held-out events (reference weight N(0)/N_R), M = 200 centres, λ = 1e-6 and a narrow kernel,
# σ = 0.5 in standardised units (the 90th-percentile rule would give σ ≈ 3.5: smooth enough to
# miss a narrow line). The null: data drawn from the fast simulation itself, a Poisson
# number of events with mean N(0).

# %%
real = load_sample("cms2010_zmumu")
tune, held_out = split_tune_validate(real)
fastsim = DimuonKDE.tuned(tune, seed=seed)
print(
    f"{real.n} real events: {tune.n} tune the fast simulation (bandwidth {fastsim.bandwidth:g} x "
    f"Scott), {held_out.n} are held out"
)


def mass_pt_rapidity(events):
    """(m, pT, y) of the dimuon, shape (n, 3), GeV, GeV, -."""
    u = to_pair_frame(events.pt, events.eta, events.phi)[0]
    return np.column_stack([np.exp(u[:, 0]), np.exp(u[:, 1]), u[:, 2]])


reference_events = mass_pt_rapidity(fastsim.sample(cms_reference_events, seed=seed + 10))
centre, spread = reference_events.mean(axis=0), reference_events.std(axis=0)


def standardised(features):
    return (features - centre) / spread


n_expected = held_out.n
cms_reference = prepare_reference(
    standardised(reference_events),
    reference_weight=n_expected / cms_reference_events,
    centres=200,
    sigma=0.5,
    lam=1e-6,
    seed=seed,
)
signal = simulate_resonance(
    resonance_mass_gev, resonance_events, seed=seed + 11, width_gev=resonance_width_gev
)
data_plain = mass_pt_rapidity(held_out)
data_signal = np.concatenate([data_plain, mass_pt_rapidity(signal)])
fit_plain = cms_reference.fit(standardised(data_plain))
fit_signal = cms_reference.fit(standardised(data_signal))

rng = np.random.default_rng([seed, 3])
start = time.perf_counter()
cms_null = np.array(
    [
        cms_reference.fit(
            standardised(
                mass_pt_rapidity(fastsim.sample(rng.poisson(n_expected), seed=seed + 100 + k))
            )
        ).t
        for k in range(cms_toys)
    ]
)
cms_seconds = (time.perf_counter() - start) / cms_toys
cms_dof = fit_chi2_dof(cms_null)
p_plain, p_signal = p_value(fit_plain.t, cms_null), p_value(fit_signal.t, cms_null)
print(
    f"null: {cms_toys} toys, median t {np.median(cms_null):.1f}, fitted χ² dof {cms_dof:.1f}, {cms_seconds:.2f} s per toy"
)
print(f"held-out real events:            t = {fit_plain.t:6.1f}   {p_plain.describe()}")
print(
    f"... + {resonance_events} events at {resonance_mass_gev:g} GeV: t = {fit_signal.t:6.1f}   {p_signal.describe()}"
)
print(
    f"asymptotic (fitted χ²) Z: {stats.norm.isf(stats.chi2.sf(fit_plain.t, cms_dof)):.1f} without, "
    f"{stats.norm.isf(stats.chi2.sf(fit_signal.t, cms_dof)):.1f} with the signal"
)

# %% [markdown]
# Where is `f` large? `f(x) > 0` where the data have more events than the reference
# predicts. Below, `f` on each data event against the dimuon mass, and its mean over the data
# events in 2-GeV mass bins (bins with at least 3 events): a single event's `f` is noisy, the
# binned mean says where the fit puts the excess. The difference of the two fits on the same
# events, `f(with signal) − f(without)`, isolates what the injected events changed.

# %%
mass_plain, mass_signal = data_plain[:, 0], data_signal[:, 0]
is_signal = np.arange(len(data_signal)) >= len(data_plain)
mass_bins = np.arange(60.0, 110.0, 2.0)


def binned_mean_f(masses, f_values):
    """(bin centres, mean f) over 2-GeV mass bins holding at least 3 events."""
    which = np.digitize(masses, mass_bins)
    kept = [i for i in np.unique(which) if 0 < i < len(mass_bins) and np.sum(which == i) >= 3]
    centres = np.array([(mass_bins[i - 1] + mass_bins[i]) / 2 for i in kept])
    return centres, np.array([f_values[which == i].mean() for i in kept])


fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
for ax, masses, fit, title in (
    (axes[0], mass_plain, fit_plain, "held-out real events"),
    (axes[1], mass_signal, fit_signal, f"with {resonance_events} injected events"),
):
    real_events = np.arange(len(masses)) < len(data_plain)
    ax.scatter(masses[real_events], fit.f_data[real_events], s=8, color="0.5", label="real")
    if not real_events.all():
        ax.scatter(
            masses[~real_events], fit.f_data[~real_events], s=14, color="C3", label="injected"
        )
    ax.plot(
        *binned_mean_f(masses, fit.f_data), "k-", drawstyle="steps-mid", label="mean f, 2 GeV bins"
    )
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(resonance_mass_gev, color="C3", lw=0.8, ls=":")
    ax.set_title(f"{title}: t = {fit.t:.0f}")
    ax.set_xlabel("dimuon mass m [GeV]")
axes[0].set_ylabel("learned log-ratio f(x)")
axes[1].legend(fontsize=8)
plt.show()
centres_signal, mean_f_signal = binned_mean_f(mass_signal, fit_signal.f_data)
peak_mass = float(centres_signal[np.argmax(mean_f_signal)])
centres_plain, mean_f_plain = binned_mean_f(mass_plain, fit_plain.f_data)
peak_mass_plain = float(centres_plain[np.argmax(mean_f_plain)])
# what the signal changed: f with the signal minus f without it, on the same events
centres_change, mean_change = binned_mean_f(
    mass_signal, fit_signal.f_data - fit_plain.f(standardised(data_signal))
)
peak_mass_change = float(centres_change[np.argmax(mean_change)])
f_injected = float(fit_signal.f_data[is_signal].mean())
f_real = float(fit_signal.f_data[~is_signal].mean())
top_plain = np.sort(mass_plain[np.argsort(fit_plain.f_data)[-10:]])
print(
    f"with the signal: mean f largest in the bin at m = {peak_mass:g} GeV (injected: "
    f"{resonance_mass_gev:g} GeV); mean f {f_injected:.2f} on injected, {f_real:.2f} on real events"
)
print(f"f(with signal) - f(without) is largest in the bin at m = {peak_mass_change:g} GeV")
print(
    f"without it: mean f largest in the bin at m = {peak_mass_plain:g} GeV; the 10 events of "
    f"largest f have m = {', '.join(f'{m:.0f}' for m in top_plain)} GeV"
)
verdict = "beyond" if p_plain.value < 0.05 else "within"
print(
    f"the held-out real events alone: p = {p_plain.value:.2g}, {verdict} the 95 % range of "
    "fast-simulated data"
)

# %% [markdown]
# **What NPLM says.** With the injected resonance, `t` rises, the mean of `f` is largest
# within a bin or two of the injected mass, and the change `f(with) − f(without)` peaks at
# it: the test finds the line and says where it is. Now look at the
# held-out real events *without* any signal. Their `t` sits in the upper tail of the null
# (at the teaching defaults p ≈ 0.1: not beyond the 95 % range, but not comfortably inside
# it), and the events of largest `f` lie on the flanks of the Z peak (about 80 GeV and
# 95–100 GeV). The fast simulation is a smoothed bootstrap of only 250 tuning events;
# smoothing a narrow peak widens it and moves events from its core to its flanks, exactly
# where the flanks of `f` point. That is not new physics: a test that compares data with a
# reference detects **whatever** differs — a signal or a reference-modelling problem — and
# cannot tell them apart. So before the injected signal's `Z` can mean "a resonance at
# 75 GeV", the reference must pass the same test on data known to hold no signal; a small
# p there is a finding about the reference, and the remedy is a better reference (more
# tuning events, a physics-based simulation) or nuisance parameters for its known
# uncertainties in the NPLM fit (arXiv:2111.13633). Note also the two significances: the
# toys can only say `Z > …` (no toy reaches the observed `t`), while the fitted χ²
# extrapolates beyond the toys — a number to check with more toys, not to quote.


# %%
def as_record(result):
    return {
        "observed": result.observed,
        "p_value": result.p.value,
        "p_mc_error": result.p.mc_error,
        "p_upper_bound": result.p.upper_bound,
        "toys": result.p.toys,
    }


results = {
    "notebook": "05_ml_tools",
    "status": "part 1",
    "parameters": {
        "n_events": n_events,
        "toys": toys,
        "eps_max": eps_max,
        "nplm_reference_events": nplm_reference_events,
        "nplm_data_events": nplm_data_events,
        "nplm_toys": nplm_toys,
        "flow_training_iterations": flow_training_iterations,
        "flow_events": flow_events,
        "cms_reference_events": cms_reference_events,
        "cms_toys": cms_toys,
        "resonance_mass_gev": resonance_mass_gev,
        "resonance_width_gev": resonance_width_gev,
        "resonance_events": resonance_events,
        "seed": seed,
    },
    "suite": {name: as_record(r) for name, r in suite_tests.items()},
    "nplm_null": {
        "values": nplm_null.tolist(),
        "chi2_dof": nplm_dof,
        "seconds_per_toy": nplm_seconds,
        "observed_t": nplm_observed.t,
        "observed_p": nplm_p.value,
        "hyperparameters": {
            k: v
            for k, v in nplm_observed.hyperparameters.items()
            if isinstance(v, int | float | str)
        },
    },
    "power": {
        "epsilons": list(config.epsilons),
        "cl": config.cl,
        "toys": config.toys,
        "neyman_pearson": neyman_pearson,
        "statistics": {
            name: {
                "power": [p.value for p in r.power],
                "exceeding": [int(np.count_nonzero(a > r.threshold)) for a in r.alternatives],
                "ms_per_toy": 1e3 * r.seconds_per_toy,
                "fresh_null_p_values": fresh_null_p[name],
                "null_values": r.null.values.tolist(),
                "eps0_values": r.alternatives[0].tolist(),
            }
            for name, r in study.results.items()
        },
    },
    "flow": {
        "unweighted_events": n_flow,
        "efficiency": flow_unweighted.efficiency,
        "unweighted": {name: as_record(r) for name, r in flow_tests.items()},
        "weighted_as_unweighted": {name: as_record(r) for name, r in weighted_tests.items()},
        "exact_control": {name: as_record(r) for name, r in control_tests.items()},
    },
    "cms": {
        "n_held_out": held_out.n,
        "n_tune": tune.n,
        "fastsim_bandwidth": fastsim.bandwidth,
        "null_values": cms_null.tolist(),
        "chi2_dof": cms_dof,
        "seconds_per_toy": cms_seconds,
        "t_plain": fit_plain.t,
        "t_signal": fit_signal.t,
        "p_plain": p_plain.value,
        "p_plain_upper_bound": p_plain.upper_bound,
        "z_plain": p_plain.z,
        "p_signal": p_signal.value,
        "p_signal_upper_bound": p_signal.upper_bound,
        "z_signal": p_signal.z,
        "peak_f_mass_gev": peak_mass,
        "peak_f_mass_plain_gev": peak_mass_plain,
        "peak_f_change_mass_gev": peak_mass_change,
        "mean_f_injected": f_injected,
        "mean_f_real": f_real,
        "top_f_masses_plain_gev": top_plain.tolist(),
        "signal_masses_gev": mass_signal[is_signal].tolist(),
        "sigma": cms_reference.sigma,
        "centres": 200,
        "lam": 1e-6,
    },
}

# %% [markdown]
# ## Summary
#
# - Every statistic of the suite is calibrated by toys; a p-value comes with its Monte Carlo
#   error, and with a bound where the toys cannot resolve it.
# - On the paper's 5-D Gaussian the statistics differ in power against the same mean shift
#   and in cost per toy (table and explorer above); at ε = 0 each rejects about 5 % of the
#   time, as it must, and none can beat the Neyman–Pearson test of the known shift.
# - Kernel NPLM's null is described by a χ² with a fitted, non-integer number of degrees of
#   freedom; the toys, not the χ², give the p-value.
# - The flow sampler of notebook 01 is validated against exact Camel events by every fast
#   statistic; the p-values bound its mis-modelling at this sample size, they do not prove
#   it exact.
# - On real CMS events NPLM finds an injected narrow resonance and locates it in the dimuon
#   mass; without the signal it points at the flanks of the Z peak, where the smoothed fast
#   simulation is least accurate. A two-sample test checks the reference as much as the data.

# %%
record = record_results(results_path, results)
print(f"recorded {len(record)} entries" + (f" to {results_path}" if results_path else ""))

# %% [markdown]
# ## Later (issue to come): parts 2 and 3
#
# 2. **Symmetry-aware models**: Lorentz-equivariant networks (LorentzNet,
#    [arXiv:2201.08187](https://arxiv.org/abs/2201.08187); PELICAN,
#    [arXiv:2211.00454](https://arxiv.org/abs/2211.00454)) against unconstrained ones, judged
#    with the two-sample tests above.
# 3. **Scaling studies**: error versus training-set size and model size, with uncertainties
#    from repeated seeds (run as ensembles with `precml_widgets.parallel.run_ensemble`).
