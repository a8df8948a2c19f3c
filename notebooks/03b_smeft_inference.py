# %% [markdown]
# # Statistical inference in the SMEFT: parametrized classifiers and likelihood-free inference
#
# > **Status: outline — filled by a later issue.** This notebook says what it will
# > cover; it computes no results yet. Part 1 of work-plan item 3, interpretability, is
# > [03a — interpretability](03a_interpretability.ipynb); NPLM is in
# > [05 — ML tools](05_ml_tools.ipynb).
#
# **You will learn** (once complete)
#
# - how a classifier parametrized by theory parameters approximates a likelihood ratio,
#   and how to use it for inference in an effective field theory (EFT);
# - how likelihood-free inference works with neural density estimation;
# - how both compare with the exact likelihood on a process where it is known.

# %% [markdown]
# ## What it will cover
#
# 1. **Parametrized classifiers for EFT**: the likelihood-ratio trick (K. Cranmer,
#    J. Pavez, G. Louppe, [arXiv:1506.02169](https://arxiv.org/abs/1506.02169)),
#    parametrized networks (P. Baldi et al.,
#    [arXiv:1601.07913](https://arxiv.org/abs/1601.07913)), the quadratic classifier of
#    R. Chen, A. Glioti, G. Panico, A. Wulzer
#    ([arXiv:2007.10356](https://arxiv.org/abs/2007.10356)) and their use for EFT
#    coefficients (J. Brehmer, K. Cranmer, G. Louppe, J. Pavez,
#    [arXiv:1805.00013](https://arxiv.org/abs/1805.00013),
#    [arXiv:1805.00020](https://arxiv.org/abs/1805.00020)); calibration and coverage.
# 2. **Likelihood-free inference by density estimation**: neural likelihood and posterior
#    estimators (review: K. Cranmer, J. Brehmer, G. Louppe,
#    [arXiv:1911.01429](https://arxiv.org/abs/1911.01429)).

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
from importlib.util import find_spec

from precml_widgets.record import record_results

planned = [
    "parametrized classifiers for EFT inference (likelihood-ratio trick)",
    "likelihood-free inference by neural density estimation",
]
tools = {name: find_spec(name) is not None for name in ("torch", "zuko", "sbi")}
print("Status: outline. Planned sections:")
for i, item in enumerate(planned, 1):
    print(f"  {i}. {item}")
print("Tools installed here:", ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in tools.items()))

# %%
record = record_results(
    results_path,
    {"notebook": "03b_smeft_inference", "status": "outline", "planned": planned, "tools": tools},
)
