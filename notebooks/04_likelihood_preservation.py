# %% [markdown]
# # Preserving and distributing likelihoods: ML surrogates of published ATLAS likelihoods
#
# > **Status: outline — filled by a later issue.** This notebook says what it will
# > cover; the one cell below only inspects a published likelihood file.
#
# **You will learn** (once complete)
#
# - what a published HistFactory likelihood (pyhf JSON) contains, and why its O(100)
#   nuisance parameters make it slow to evaluate and awkward to reuse;
# - how to train a neural-network surrogate of such a likelihood, and how to profile it;
# - how to validate a surrogate (profile-likelihood curves, intervals, coverage) before
#   trusting it;
# - how to distribute a surrogate so that others can reuse the result.

# %% [markdown]
# ## What it will cover
#
# 1. **The published likelihood**: the ATLAS search for charginos and neutralinos in the
#    one-lepton, two-b-jet and missing-momentum final state (ATLAS-SUSY-2019-08,
#    [arXiv:1909.09226](https://arxiv.org/abs/1909.09226), HEPData record 90607): a
#    background-only workspace plus signal patches, about 120 parameters.
# 2. **Surrogates**: sample the likelihood (e.g. with MCMC around the best fit), train a
#    regression network on the log-likelihood, as in the DNNLikelihood (A. Coccaro,
#    M. Pierini, L. Silvestrini, R. Torre,
#    [arXiv:1911.03305](https://arxiv.org/abs/1911.03305)).
# 3. **Profiling and validation**: profile the surrogate and the original likelihood over
#    the nuisance parameters and compare best fits, intervals and the coverage.
# 4. **Distribution**: ship the surrogate as a portable, code-free file with its
#    validation metrics.

# %% [markdown]
# ## Parameters
#
# | parameter | what it does | smaller = faster |
# |---|---|---|
# | `seed` | master seed of every random draw | — (does not change the cost) |
# | `results_path` | JSON file for the recorded numbers; `None` writes nothing | — |

# %% tags=["parameters"]
seed = 0
results_path = None

# %%
import gzip
import json

from precml_widgets.data import DATA_ENV_VAR, data_dir
from precml_widgets.record import record_results

workspace_file = data_dir() / "pyhf" / "atlas-susy-2019-08-1Lbb" / "workspace_v1.json.gz"
found = workspace_file.is_file()
summary = {"path": workspace_file, "found": found}
if found:
    with gzip.open(workspace_file, "rt") as f:
        spec = json.load(f)
    modifiers = {
        m["name"]
        for channel in spec["channels"]
        for sample in channel["samples"]
        for m in sample["modifiers"]
    }
    summary |= {
        "size_bytes": workspace_file.stat().st_size,
        "channels": len(spec["channels"]),
        "bins": sum(len(o["data"]) for o in spec["observations"]),
        "named_modifiers": len(modifiers),
    }
    print(f"{workspace_file.name}: {summary['size_bytes']:,} bytes (gzip)")
    print(f"  {summary['channels']} channels, {summary['bins']} bins of observed data,")
    print(
        f"  {summary['named_modifiers']} distinct modifier names (per-bin modifiers add one parameter per bin)"
    )
else:
    print(f"Not found: {workspace_file}")
    print(
        "Get it from HEPData (record 90607, ATLAS-SUSY-2019-08) and put it at "
        f"pyhf/atlas-susy-2019-08-1Lbb/workspace_v1.json.gz in the data folder, or set {DATA_ENV_VAR}."
    )

# %%
record = record_results(
    results_path,
    {"notebook": "04_likelihood_preservation", "status": "outline", "workspace": summary},
)
