# %% [markdown]
# # Data analysis and statistical inference with machine learning
#
# > **Status: outline — filled by a later issue.** This notebook says what it will
# > cover; it computes no results yet.
#
# **You will learn** (once complete)
#
# - how a classifier parametrized by theory parameters approximates a likelihood ratio,
#   and how to use it for inference in an effective field theory (EFT);
# - how likelihood-free inference works with neural density estimation;
# - how NPLM turns a classifier into a model-independent two-sample test for new physics;
# - how to interpret what a model learned (SHAP values, active subspaces).

# %% [markdown]
# ## What it will cover
#
# 1. **Parametrized classifiers for EFT**: the likelihood-ratio trick (K. Cranmer,
#    J. Pavez, G. Louppe, [arXiv:1506.02169](https://arxiv.org/abs/1506.02169)),
#    parametrized networks (P. Baldi et al.,
#    [arXiv:1601.07913](https://arxiv.org/abs/1601.07913)) and their use for EFT
#    coefficients (J. Brehmer, K. Cranmer, G. Louppe, J. Pavez,
#    [arXiv:1805.00013](https://arxiv.org/abs/1805.00013),
#    [arXiv:1805.00020](https://arxiv.org/abs/1805.00020)); calibration and coverage.
# 2. **Likelihood-free inference by density estimation**: neural likelihood and posterior
#    estimators (review: K. Cranmer, J. Brehmer, G. Louppe,
#    [arXiv:1911.01429](https://arxiv.org/abs/1911.01429)).
# 3. **NPLM, a classifier-based two-sample test**: R. T. D'Agnolo and A. Wulzer,
#    [arXiv:1806.02350](https://arxiv.org/abs/1806.02350); R. T. D'Agnolo et al.,
#    [arXiv:1912.12155](https://arxiv.org/abs/1912.12155); the kernel-method version of
#    M. Letizia et al., [arXiv:2204.02317](https://arxiv.org/abs/2204.02317).
# 4. **Interpretability**: SHAP values (S. Lundberg and S.-I. Lee,
#    [arXiv:1705.07874](https://arxiv.org/abs/1705.07874)) and active subspaces
#    (P. Constantine, *Active Subspaces*, SIAM 2015): which directions of the input the
#    model's output depends on.

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
    "NPLM: classifier-based two-sample test for new physics",
    "interpretability: SHAP values and active subspaces",
]
tools = {name: find_spec(name) is not None for name in ("torch", "sklearn", "shap")}
print("Status: outline. Planned sections:")
for i, item in enumerate(planned, 1):
    print(f"  {i}. {item}")
print("Tools installed here:", ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in tools.items()))

# %%
record = record_results(
    results_path,
    {"notebook": "03_inference", "status": "outline", "planned": planned, "tools": tools},
)
