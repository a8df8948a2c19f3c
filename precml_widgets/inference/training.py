"""Training the SMEFT classifiers on exact events weighted by cross section.

At each training point ``C_p`` the set holds ``n`` events drawn at ``C_p`` (label 1, each of
weight ``sigma(C_p) / (sigma_SM n)``) and ``n`` fresh Standard Model events (label 0, weight
``1 / n``), so the weighted classes carry the rate as well as the shape. The loss is the
weighted quadratic loss of arXiv:2007.10356, ``sum w (label - f)^2``, whose minimum is at
``f = dsigma_C / (dsigma_C + dsigma_SM)``, i.e. ``r = dsigma_C / dsigma_SM`` exactly.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_choice, require_int, require_real, require_seed
from precml_widgets._optional import require
from precml_widgets.device import default_device
from precml_widgets.inference.classifiers import (
    CLASSIFIER_KINDS,
    LearnedRatio,
    build_network,
    pair_products,
)
from precml_widgets.inference.events import sample_events
from precml_widgets.inference.measurement import mass_frame
from precml_widgets.inference.problem import EFTProblem

__all__ = ["TrainingSet", "make_training_set", "train_ratio", "training_points"]

Array = npt.NDArray[np.float64]


def training_points(problem: EFTProblem) -> Array:
    """The training points: 4 values per coefficient along its axis (+-1/2 and +-1 of the
    box edge) and the 4 corners (+-1/2, +-1/2) of every pair; shape (P, dim)."""
    lo, hi = problem.lower, problem.upper
    points = []
    for i in range(problem.dim):
        for frac in (lo[i], 0.5 * lo[i], 0.5 * hi[i], hi[i]):
            p = np.zeros(problem.dim)
            p[i] = frac
            points.append(p)
    for i, j in itertools.combinations(range(problem.dim), 2):
        for si, sj in itertools.product((lo, hi), repeat=2):
            p = np.zeros(problem.dim)
            p[i], p[j] = 0.5 * si[i], 0.5 * sj[j]
            points.append(p)
    return np.array(points)


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """Weighted, labelled events for the classifiers.

    Attributes:
        features: (N, 2): m in GeV, cos theta.
        coefficients: (N, dim): the free coefficients of the point each row belongs to.
        labels: (N,): 1 for events drawn at the point, 0 for Standard Model events.
        weights: (N,): cross-section weights (see the module docstring).
        n_per_point: events per class per point.
    """

    features: Array
    coefficients: Array
    labels: Array
    weights: Array
    n_per_point: int


def make_training_set(
    problem: EFTProblem, *, n_per_point: int, seed: int = 0, points: Array | None = None
) -> TrainingSet:
    """Exact events at every training point and as many fresh SM events per point.

    Args:
        problem: the :class:`EFTProblem`.
        n_per_point: events per class per point, >= 100.
        seed: seeds every draw.
        points: training points (P, dim) inside the box; default :func:`training_points`.

    Returns:
        The :class:`TrainingSet` of ``2 n_per_point P`` rows.
    """
    n = require_int("n_per_point", n_per_point, low=100, hint="e.g. 100000.")
    rng = np.random.default_rng(require_seed("seed", seed))
    pts = training_points(problem) if points is None else np.atleast_2d(points)
    sm_rate = problem.measurement.expected_events(np.zeros(4)).sum()
    blocks: list[tuple[Array, Array, Array, Array]] = []
    for p in pts:
        for label, full in ((1.0, problem.full(p)), (0.0, np.zeros(4))):
            events = sample_events(problem.measurement, full, rng, n_events=n)
            weight = events.expected / sm_rate / n
            blocks.append(
                (events.features, np.tile(p, (n, 1)), np.full(n, label), np.full(n, weight))
            )
    return TrainingSet(*(np.concatenate(parts) for parts in zip(*blocks, strict=True)), n)


def _feature_frame(problem: EFTProblem) -> tuple[tuple[float, float], tuple[float, float]]:
    mid, half = mass_frame(problem.measurement)
    return (mid, 0.0), (half, 1.0)


def train_ratio(
    problem: EFTProblem,
    data: TrainingSet,
    *,
    kind: Literal["quadratic", "plain"] = "quadratic",
    epochs: int = 20,
    batch_size: int = 4096,
    hidden: int = 64,
    learning_rate: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
    device: str | None = None,
) -> LearnedRatio:
    """Fit a ``kind`` classifier to ``data`` with the weighted quadratic loss (Adam, cosine
    schedule), and return it as a :class:`LearnedRatio` (on the CPU).

    Args:
        problem: the :class:`EFTProblem` the data were made for.
        data: a :class:`TrainingSet`.
        kind: ``"quadratic"`` or ``"plain"``.
        epochs: passes over the data, >= 1.
        batch_size: rows per step.
        hidden: units per hidden layer.
        learning_rate: Adam's initial step.
        seed: seeds the initialisation and the batch order.
        progress: show a tqdm bar over epochs.
        device: torch device of the training; default CUDA when present, else the CPU
            (:func:`precml_widgets.device.default_device`). The batch order is drawn on the
            CPU, so a seed gives the same batches on any device.
    """
    torch = require("torch", "inference", "the SMEFT classifiers")
    from tqdm.auto import tqdm

    require_choice("kind", kind, CLASSIFIER_KINDS)
    n_epochs = require_int("epochs", epochs, low=1)
    batch = require_int("batch_size", batch_size, low=16)
    lr = require_real("learning_rate", learning_rate, low=0.0, low_open=True)
    torch.manual_seed(require_seed("seed", seed))
    start = time.perf_counter()
    on = default_device(device)
    net = build_network(kind, problem.dim, require_int("hidden", hidden, low=4))
    shift, scale = _feature_frame(problem)
    model = LearnedRatio(kind, problem, net, shift, scale, len(data.labels), 0.0)
    c = data.coefficients
    extra_np = (
        np.concatenate([c, pair_products(c)], axis=1)
        if kind == "quadratic"
        else c / model.coefficient_scale()
    )
    x, extra, y, w = (
        torch.as_tensor(a, dtype=torch.float32, device=on)
        for a in (
            model.standardise(data.features),
            extra_np,
            data.labels,
            data.weights / data.weights.mean(),
        )
    )
    net.to(on)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = n_epochs * -(-len(y) // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in tqdm(range(n_epochs), desc=f"training {kind} classifier", disable=not progress):
        for cpu_idx in torch.randperm(len(y), generator=gen).split(batch):
            idx = cpu_idx.to(on)
            if kind == "quadratic":
                r = 1.0 + (net(x[idx]) * extra[idx]).sum(dim=1)
                f = r.clamp_min(1e-6) / (1.0 + r.clamp_min(1e-6))
            else:
                f = torch.sigmoid(net(torch.cat([x[idx], extra[idx]], dim=1))[:, 0])
            loss = (w[idx] * (y[idx] - f) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.to("cpu").eval()
    seconds = time.perf_counter() - start
    return LearnedRatio(kind, problem, net, shift, scale, len(data.labels), seconds)
