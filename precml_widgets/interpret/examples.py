"""A worked example with a known answer: a classifier of two Gaussian classes, explained.

Two classes with a shared diagonal covariance have an exact log-likelihood ratio that is linear,
``log p1/p0 = w·x + c`` with ``w_i = δ_i / σ_i``, so the exact interventional SHAP values of
the optimal logit are ``φ_i = w_i (x_i - E_bg[x_i])`` (Lundberg & Lee, arXiv:1705.07874, the
linear case) and its active subspace is one-dimensional, along its gradient: ``w ⊙ s``
(``w_i s_i``) in the standardised features ``(x_i - mean_i) / s_i``, with ``s`` the
per-feature standard deviation of the sample, i.e. ``w`` in the physics features.
:func:`gaussian_classifier_example` trains a small network on samples, explains its logit with
shap and computes its active subspace, and returns everything as one
:class:`~precml_widgets.interpret.explanation.Explanation` (what
:class:`~precml_widgets.interpret.explorer.InterpretabilityExplorer` shows). The data are
synthetic: the example runs on a fresh machine with no files.

References:
    Lundberg & Lee, arXiv:1705.07874; Constantine & Diaz (activity scores), arXiv:1510.04361;
    Chakravarti, Kuusela, Lei & Wasserman, arXiv:2102.07679.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_int, require_seed
from precml_widgets._optional import require
from precml_widgets.interpret.active_subspace import active_subspace
from precml_widgets.interpret.adapter import ScoredModel
from precml_widgets.interpret.explanation import Explanation
from precml_widgets.interpret.shap_values import background_sample, explain

__all__ = [
    "GAUSSIAN_DELTA",
    "GAUSSIAN_MEAN",
    "GAUSSIAN_SIGMA",
    "exact_logit_weights",
    "gaussian_classes",
    "gaussian_classifier_example",
    "train_classifier_net",
]

#: Class-0 means per feature (GeV).
GAUSSIAN_MEAN = np.array([5.0, 3.0, 1.0, 0.0, 2.0, 10.0, 0.0, 1.0])
#: The shared per-feature standard deviations (GeV).
GAUSSIAN_SIGMA = np.array([1.0, 2.0, 0.5, 1.5, 1.0, 3.0, 0.7, 1.2])
#: Class-1 mean minus class-0 mean, in units of σ (features 4 to 7 carry no information).
GAUSSIAN_DELTA = np.array([1.2, -1.2, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
_NAMES = tuple(f"x{i + 1}" for i in range(GAUSSIAN_MEAN.size))


def exact_logit_weights() -> tuple[npt.NDArray[np.float64], float]:
    """The exact logit ``log p1/p0 = w·x + c`` of the equal-prior Gaussian classes: (w (d,), c).

    Example:
        >>> w, c = exact_logit_weights()
        >>> w[:2].tolist(), bool(np.all(w[4:] == 0))
        ([1.2, -0.6], True)
    """
    w = GAUSSIAN_DELTA / GAUSSIAN_SIGMA
    c = float(-w @ (GAUSSIAN_MEAN + 0.5 * GAUSSIAN_DELTA * GAUSSIAN_SIGMA))
    return w, c


def gaussian_classes(
    n: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """``n`` events, alternately of class 0 and 1: features (n, 8) in GeV and labels (n,)."""
    y = np.arange(n, dtype=np.int64) % 2
    x = GAUSSIAN_MEAN + GAUSSIAN_SIGMA * rng.normal(size=(n, GAUSSIAN_MEAN.size))
    return x + y[:, None] * GAUSSIAN_DELTA * GAUSSIAN_SIGMA, y


def train_classifier_net(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.int64], *, epochs: int = 2, seed: int = 0
) -> object:
    """A d-32-32-1 ReLU network fitted with BCE (AdamW, cosine schedule, batches of 512) on
    CPU to events ``x`` (n, d) and labels ``y`` (n,) in {0, 1}; the standardisation is folded
    into its first layer, so it takes features in their physics units. Returns the torch
    module in eval mode; its output is the logit."""
    torch = require("torch", "interpret", "the Gaussian classifier example")
    d, hidden, batch = x.shape[1], 32, 512
    mean, std = x.mean(axis=0), x.std(axis=0)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(d, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, 1),
    )
    xt = torch.tensor((x - mean) / std, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.float32)[:, None]
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * -(-len(x) // batch))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(batch):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
    with torch.no_grad():
        net[0].bias -= net[0].weight @ torch.tensor(mean / std, dtype=torch.float32)
        net[0].weight /= torch.tensor(std, dtype=torch.float32)
    return net.eval()


def gaussian_classifier_example(
    *,
    n_train: int = 100_000,
    epochs: int = 2,
    n_explain: int = 1_000,
    background_size: int = 100,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> Explanation:
    """Train a network on the Gaussian classes, explain its logit, and compare with the truth.

    The network (8-32-32-1 ReLU, trained on CPU: at this size the CPU is faster than a
    transfer, and every machine then gets the same weights) is explained by shap's
    DeepExplainer on ``n_explain`` fresh events against a background of ``background_size``
    events drawn from another fresh sample; the active subspace (autograd, ``n_bootstrap``
    resamples) is taken over the same events, so its projection lines up with the SHAP rows.

    Args:
        n_train: training events (half per class), >= 1000.
        epochs: passes over the training events, >= 1.
        n_explain: events explained, >= 10.
        background_size: background events (>= 10).
        n_bootstrap: bootstrap resamples of the active subspace (>= 200).
        seed: seeds the samples, the training, the background and the bootstrap.

    Returns:
        an :class:`Explanation` of model "Gaussian classifier", output "logit", with the
        events' classes and the analytic SHAP values ``w_i (x_i - mean_bg x_i)``.

    Example:
        >>> ex = gaussian_classifier_example(n_train=2000, epochs=1, n_explain=50,
        ...                                  background_size=20)
        >>> ex.shap.values.shape, ex.subspace.projection.shape
        ((50, 8), (50, 2))
    """
    n_train = require_int("n_train", n_train, low=1000, hint="e.g. 100000.")
    epochs = require_int("epochs", epochs, low=1, hint="e.g. 2.")
    n_explain = require_int("n_explain", n_explain, low=10, hint="e.g. 1000.")
    background_size = require_int("background_size", background_size, low=10, hint="e.g. 100.")
    seed = require_seed("seed", seed)
    rng = np.random.default_rng(seed)
    x_train, y_train = gaussian_classes(n_train, rng)
    units = ("GeV",) * GAUSSIAN_MEAN.size
    model = ScoredModel(
        train_classifier_net(x_train, y_train, epochs=epochs, seed=seed),
        _NAMES,
        units=units,
        name="Gaussian classifier",
    )
    pool, _ = gaussian_classes(max(4 * background_size, 400), rng)
    bg = background_sample(
        pool, background_size, seed=seed, source="a fresh class-balanced Gaussian sample"
    )
    x, labels = gaussian_classes(n_explain, rng)
    result = explain(model, x, bg, method="deep")
    # the optimum's active subspace is one-dimensional (along w): the angle spread is of w1
    subspace = active_subspace(model, x, n_bootstrap=n_bootstrap, n_active=1, seed=seed)
    w, _ = exact_logit_weights()
    return Explanation(
        model=model.name,
        output="logit",
        shap=result,
        subspace=subspace,
        labels=labels,
        exact_values=w * (x - bg.data.mean(axis=0)),
        exact_gradient=w,
        note="synthetic inputs: two Gaussian classes with a known optimal logit",
    )
