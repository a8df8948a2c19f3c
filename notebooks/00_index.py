# %% [markdown]
# # precml: precision machine learning for high-energy physics
#
# **You will learn**
#
# - what precml is and for whom it is written;
# - how the five items of the precision-ML work plan map onto the notebooks, and which of
#   them are complete today and which are still outlines;
# - how to open the interactive dashboards (in a notebook, with `panel serve`, on Binder);
# - where the real data come from, and how to check that your installation finds them.

# %% [markdown]
# ## What precml is
#
# precml is a set of curated Jupyter notebooks, interactive widgets and a tested Python
# core (the package `precml_widgets`) for *precision* machine learning in high-energy
# physics: ML whose numbers come with statistical uncertainties, with validation against
# real collision data, and with a stated provenance for every sample (recorded data or
# simulation).
#
# It is written for
#
# - **physicists** who want a small, honest, reproducible baseline to start a study from;
# - **lecturers and students** at schools: every notebook runs on a laptop, with teaching
#   defaults that fit in about 2 GB of memory and take minutes, not hours;
# - **Binder visitors** who want to see the ideas live without installing anything.
#
# Every notebook has one *parameters* cell (sizes, seeds): make the numbers smaller for a
# quick look, larger for precision. The notebooks can also be run unattended with
# papermill, e.g. `papermill 02_data_acquisition.ipynb out.ipynb -p n_background 100000`,
# and each one can record its key numbers as JSON (`results_path`).

# %% [markdown]
# ## The work plan
#
# The notebooks follow the five items of the precision-ML work plan (a 2023 INFN CSN4
# proposal: Genova, Milano, Roma).
#
# | # | work-plan item | notebook | status |
# |---|---|---|---|
# | 1 | Theory predictions: generative models for phase-space integration and event generation | [01 — theory predictions](01_theory_predictions.ipynb) | **complete**: neural importance sampling with zuko flows against VEGAS and VEGAS+ at equal integrand calls, unweighting, classifier validation, e⁺e⁻ → μ⁺μ⁻ across the Z peak |
# | 2 | Data acquisition: ML in the trigger, online anomaly detection | [02 — data acquisition](02_data_acquisition.ipynb) | **complete**: an unsupervised L1 anomaly trigger with real open data, rates and efficiencies with intervals; the trigger on an FPGA with hls4ml — bit-accurate emulation, a precision scan, and resource/latency estimates (calibrated on 26 real hls4ml syntheses of dense networks, with measured errors) against the L1 budgets, without vendor tools |
# | 3 | Data analysis and statistical inference | [03a — interpretability](03a_interpretability.ipynb) · [03b — SMEFT inference](03b_smeft_inference.ipynb) | **complete**: 03a — SHAP values (shap) and active subspaces checked against exact answers, the trigger autoencoder explained on real CMS and ATLAS open data, float vs 8/16-bit firmware, NPLM's learned direction; 03b — SMEFT contact terms in e⁺e⁻ → μ⁺μ⁻ at LEP-2 energies: exact and binned likelihoods, the quadratic vs the plain parametrized classifier, neural likelihood estimation (zuko) with C2ST, coverage and SBC against the exact posterior (sbi as baseline) |
# | 4 | Presentation, distribution and preservation of results (likelihoods) | [04 — likelihood preservation](04_likelihood_preservation.ipynb) | outline |
# | 5 | General ML tools and other applications | [05 — ML tools](05_ml_tools.ipynb) | **part 1 complete**: two-sample tests — the metric suite of arXiv:2409.16336 and NPLM, calibrated by toys, their power on the paper's deformations, a flow sampler checked against exact events, NPLM on real CMS dimuons; parts 2–3 (symmetry-aware models, scaling studies) outlined |
#
# An *outline* notebook says what it will cover and runs one small cell tied to what
# exists today; it shows no results that have not been computed.

# %% [markdown]
# ## Dashboards
#
# Each dashboard is a Panel object that can be shown in three ways:
#
# - **in a notebook cell**: `pn.extension(inline=True)` once (inline: the JavaScript travels
#   in the notebook, so the widgets also draw without internet access), then the object as
#   the last line of a cell, e.g. `AnomalyScoreExplorer.from_study(study)` in notebook 02 or
#   `IntegrationExplorer(...)` in notebook 01;
# - **as a web app**, from the repository root:
#   `python -m precml_widgets.serving precml_widgets/apps/anomaly_explorer.py --show`, or
#   `make gallery` for every dashboard at `http://127.0.0.1:5006/`. Both listen on this
#   machine only (127.0.0.1) and refuse requests addressed to any other host name; see
#   `docs/dashboards.md` to serve a classroom;
# - **inside JupyterLab and on Binder**, through the Jupyter server: the *precml
#   dashboards* launcher tile (`precml-gallery/`), or
#   `panel-preview/render/precml_widgets/apps/anomaly_explorer.py` relative to the
#   server's base URL. A `panel serve ... --address 127.0.0.1 --port 5006
#   --allow-websocket-origin '*'` started in a JupyterLab terminal is reachable at
#   `proxy/5006/anomaly_explorer`.

# %% [markdown]
# ## Where the data come from
#
# Every data file is real published material (CMS and ATLAS open data, published ATLAS
# likelihoods) or a clearly labelled simulation. precml never downloads anything behind
# your back; files are looked up, in this order:
#
# 1. the data folder: `$PRECML_DATA` if set, else `../shared/data` beside the repository
#    when it exists, else `~/.precml/data` (on Binder filled once by `binder/postBuild`);
# 2. copies shipped inside precml: small derived tables such as the 57 hls4ml syntheses
#    that calibrate the FPGA estimator (with their provenance);
# 3. the `scikit-hep-testdata==0.3.12` wheel, the last release that ships its files inside
#    the package (it holds the real CMS 2010 dimuon events used as background in 02).
#
# From a terminal:
#
# ```bash
# python -m precml_widgets.data list             # every known file and where it was found
# python -m precml_widgets.data fetch NAME       # explicit, checksummed download of one file
# python -m precml_widgets.data fetch --missing  # ... of every file not found
# ```
#
# The cell below does the same as `list`: it shows which files this installation finds.

# %% [markdown]
# ## Parameters
#
# | parameter | what it does | smaller = faster |
# |---|---|---|
# | `results_path` | JSON file for the recorded numbers; `None` writes nothing | — (nothing to scale here) |

# %% tags=["parameters"]
results_path = None

# %%
import precml_widgets
from precml_widgets.data import DATA_ENV_VAR, KNOWN_FILES, data_dir, find
from precml_widgets.record import record_results

print(f"precml_widgets {precml_widgets.__version__}")
print(f"data folder: {data_dir()}  (set {DATA_ENV_VAR} to use another one)\n")

files = {}
for name, entry in KNOWN_FILES.items():
    found = find(name)
    path = None if found is None else found.path
    if found is None:
        where = f"MISSING -> python -m precml_widgets.data fetch {name}"
    elif found.origin == "data folder":
        where = f"data folder: {entry.relpath}"
    else:
        where = found.origin
    files[name] = {"real": entry.real, "found": path is not None, "path": path}
    print(f"{name:26s} {'real data ' if entry.real else 'simulation'}  {where}")

n_found = sum(f["found"] for f in files.values())
print(f"\n{n_found} of {len(files)} known files found")

# %%
record = record_results(
    results_path,
    {"notebook": "00_index", "data_dir": data_dir(), "n_found": n_found, "files": files},
)
if results_path:
    print(f"recorded to {results_path}")
