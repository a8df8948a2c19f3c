# %% [markdown]
# # General ML tools: two-sample tests, symmetry-aware models, scaling studies
#
# > **Status: outline — filled by a later issue.** This notebook says what it will
# > cover; the one cell below runs the two-sample test that already exists in precml.
#
# **You will learn** (once complete)
#
# - which two-sample-test metrics can validate a generative model against a reference,
#   and how much power each one has for a given sample size;
# - how building a symmetry (e.g. Lorentz invariance) into a model changes its accuracy
#   and its data needs;
# - how to run and read a scaling study: accuracy versus data, model size and compute.

# %% [markdown]
# ## What it will cover
#
# 1. **Two-sample tests for validating generators**: the energy test (G. J. Székely and
#    M. L. Rizzo; B. Aslan and G. Zech,
#    [arXiv:physics/0309165](https://arxiv.org/abs/physics/0309165)), kernel MMD
#    (A. Gretton et al., JMLR 13 (2012) 723), per-feature Kolmogorov–Smirnov tests and
#    classifier-based tests; their power against known deformations, as studied in
#    *Refereeing the referees* (S. Grossi, M. Letizia, R. Torre).
# 2. **Symmetry-aware models**: Lorentz-equivariant networks (e.g. LorentzNet,
#    [arXiv:2201.08187](https://arxiv.org/abs/2201.08187); PELICAN,
#    [arXiv:2211.00454](https://arxiv.org/abs/2211.00454)) against unconstrained ones.
# 3. **Scaling studies**: error versus training-set size and model size, with
#    uncertainties from repeated seeds (run as ensembles with
#    `precml_widgets.parallel.run_ensemble`).
#
# The energy test is already part of precml (`precml_widgets.stats.energy_test`); it
# validates the fast simulation in notebook 02. The cell below shows its behaviour on two
# toy cases.

# %% [markdown]
# ## Parameters
#
# | parameter | what it does | smaller = faster |
# |---|---|---|
# | `n_events` | events in each Gaussian sample | yes: the test costs ~n² per permutation |
# | `n_permutations` | permutations behind each p-value (smallest p = 1/(1+n)) | yes |
# | `seed` | master seed of every random draw | — (does not change the cost) |
# | `results_path` | JSON file for the recorded numbers; `None` writes nothing | — |

# %% tags=["parameters"]
seed = 0
n_events = 400
n_permutations = 200
results_path = None

# %%
import numpy as np

from precml_widgets.record import record_results
from precml_widgets.stats import energy_test

rng = np.random.default_rng(seed)
reference = rng.normal(size=(n_events, 2))
same = rng.normal(size=(n_events, 2))
shifted = rng.normal(loc=(0.3, 0.0), size=(n_events, 2))

tests = {
    "same distribution": energy_test(reference, same, n_permutations=n_permutations, seed=seed),
    "mean shifted by 0.3 sigma": energy_test(
        reference, shifted, n_permutations=n_permutations, seed=seed
    ),
}
for label, result in tests.items():
    print(f"{label:26s} {result.describe()}")
print(
    f"(smallest attainable p-value with {n_permutations} permutations: {1 / (1 + n_permutations):.3g})"
)

# %%
record = record_results(
    results_path,
    {
        "notebook": "05_ml_tools",
        "status": "outline",
        "energy_test": {k: r.to_dict() for k, r in tests.items()},
    },
)
