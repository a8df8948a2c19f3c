"""SHAP values through the ``shap`` library, with an explicit background and a measured
additivity error.

Nothing here re-implements a Shapley estimator: :func:`explain` picks one of shap's explainers
(DeepExplainer or GradientExplainer for torch modules; the exact, permutation, partition or
kernel explainer for any callable), runs it on a :class:`Background` drawn with a stated seed,
and returns a :class:`ShapResult` that carries the values, the base values, the background,
the explainer's name, what it guarantees, and the additivity error it actually reached.

References:
    Lundberg & Lee, "A Unified Approach to Interpreting Model Predictions", arXiv:1705.07874.
    Shrikumar, Greenside & Kundaje, "Learning Important Features Through Propagating
    Activation Differences" (DeepLIFT), arXiv:1704.02685.
    Janzing, Minorics & Bloebaum, "Feature relevance quantification in explainable AI: a causal
    problem" (interventional vs observational), arXiv:1910.13413.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_array, require_choice, require_int, require_seed
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.interpret.adapter import ScoredModel

__all__ = [
    "INTERVENTIONAL_CAVEAT",
    "MAX_EXACT_FEATURES",
    "METHODS",
    "MIN_BACKGROUND",
    "PARTITION_CAVEAT",
    "Background",
    "ShapResult",
    "background_sample",
    "explain",
]

Method = Literal["auto", "deep", "gradient", "exact", "permutation", "partition", "kernel"]
#: The explainers :func:`explain` runs (``"auto"`` picks one of them).
METHODS: tuple[str, ...] = ("deep", "gradient", "exact", "permutation", "partition", "kernel")
#: The smallest background sample accepted (events).
MIN_BACKGROUND = 10
#: The most features the exact explainer is run on (it evaluates all 2**d coalitions).
MAX_EXACT_FEATURES = 15

INTERVENTIONAL_CAVEAT = (
    "Interventional SHAP: a feature left out of a coalition is replaced by its value in a "
    "background event, independently of the features kept. On correlated features this "
    "evaluates the model off the data manifold (e.g. a pT above the event's mass), so the "
    "values explain the model, not the data. For correlated features use method='partition', "
    "the partition (Owen) alternative, which masks correlated features together."
)
PARTITION_CAVEAT = (
    "Partition (Owen) values on a correlation clustering of the background: correlated "
    "features are masked together, which keeps the model closer to the data manifold than "
    "interventional SHAP; a feature's value then depends on the clustering, and within a "
    "group features still vary independently of the rest."
)
_GUARANTEES = {
    "exact": "exact Shapley values of the interventional game on this background (all 2**d "
    "coalitions); additivity holds to rounding.",
    "permutation": "additive by construction (each permutation telescopes); the values are a "
    "sampling estimate of the Shapley values.",
    "partition": "Owen values, additive by construction; exact for the chosen hierarchy.",
    "kernel": "additivity is a constraint of the weighted regression; the values are a "
    "sampling estimate (Kernel SHAP).",
    "kernel, complete": "every one of the 2**d - 2 proper coalitions is in Kernel SHAP's "
    "regression (n_samples >= 2**d - 2): the exact Shapley values of the interventional game "
    "on this background, additive to rounding.",
    "deep": "DeepLIFT-rescale averaged over the background: additive only when every operation "
    "is one DeepExplainer supports (Linear, ReLU, ...); a functional op, a module used twice "
    "or a non-linear output reduction breaks it. Read the measured additivity error.",
    "gradient": "expected gradients: a sampling estimate with no additivity guarantee. Read the "
    "measured additivity error.",
}


@dataclass(frozen=True)
class Background:
    """The background sample the explainer integrates over.

    Attributes:
        data: the background events, shape (m, d), float64, in the model's feature units.
        indices: their rows in the source table, shape (m,), int64.
        seed: the seed of the draw.
        source: where the events come from (e.g. "reference sample, held-out half").
    """

    data: npt.NDArray[np.float64]
    indices: npt.NDArray[np.int64]
    seed: int
    source: str

    @property
    def size(self) -> int:
        """The number of background events ``m``."""
        return int(self.data.shape[0])


def background_sample(x: object, size: int, *, seed: int, source: str) -> Background:
    """Draw ``size`` distinct events of ``x`` (n, d) as a background, with ``seed``.

    Raises:
        InvalidInputError: ``size`` below :data:`MIN_BACKGROUND` or above n, NaN/inf in ``x``,
            an empty ``source``.

    Example:
        >>> bg = background_sample(np.arange(40.0).reshape(20, 2), 10, seed=0, source="toy")
        >>> bg.data.shape, bg.size, bg.source
        ((10, 2), 10, 'toy')
    """
    table = require_array("x", x, ndim=2, hint="pass the (n, d) events to draw a background from.")
    size = require_int(
        "size",
        size,
        low=MIN_BACKGROUND,
        high=max(MIN_BACKGROUND, table.shape[0]),
        hint=f"a background needs {MIN_BACKGROUND} to {table.shape[0]} events (x has "
        f"{table.shape[0]}); e.g. 100.",
    )
    if size > table.shape[0]:
        raise InvalidInputError(
            f"size must be at most the {table.shape[0]} events of x, got {size}; pass more "
            f"events or a smaller size (>= {MIN_BACKGROUND})."
        )
    seed = require_seed("seed", seed)
    if not str(source).strip():
        raise InvalidInputError(
            "source must say where the background comes from, got an empty string; e.g. "
            "source='training sample'."
        )
    rows = np.sort(np.random.default_rng(seed).choice(table.shape[0], size, replace=False))
    return Background(table[rows].copy(), rows.astype(np.int64), seed, str(source))


@dataclass(frozen=True)
class ShapResult:
    """SHAP values of one model on a set of events.

    Attributes:
        values: the SHAP values phi, shape (n, d), float64, in the score's units.
        base_values: the explainer's base value per event, shape (n,), float64.
        data: the explained events, shape (n, d), float64.
        model_output: the score f(x) of each event, shape (n,), float64.
        background: the background sample.
        explainer: the method name (one of :data:`METHODS`).
        feature_names, units: the model's features, length d.
        model_name: the model's label.
        additivity_error: ``max |sum_i phi_i + base - f(x)|`` over the explained events,
            divided by ``output_scale`` (float64, dimensionless).
        output_scale: std of f over the background events (>= :data:`MIN_BACKGROUND`), in
            the score's units; 1.0 when that is 0 (a constant model: the error is then
            absolute).
        exact: True when every coalition was evaluated: the exact explainer, or Kernel SHAP
            with ``n_samples >= 2**d - 2``.
        guarantee: what the explainer guarantees for this model.
        caveat: the interventional (or partition) caveat that goes with these values.
        n_samples: the explainer's sample budget (0 where it takes none).
        seed: the seed of the explainer's sampling.
    """

    values: npt.NDArray[np.float64]
    base_values: npt.NDArray[np.float64]
    data: npt.NDArray[np.float64]
    model_output: npt.NDArray[np.float64]
    background: Background
    explainer: str
    feature_names: tuple[str, ...]
    units: tuple[str, ...]
    model_name: str
    additivity_error: float
    output_scale: float
    exact: bool
    guarantee: str
    caveat: str
    n_samples: int
    seed: int

    def mean_abs(self) -> npt.NDArray[np.float64]:
        """Mean ``|phi|`` per feature, shape (d,)."""
        return np.mean(np.abs(self.values), axis=0)

    def order(self) -> npt.NDArray[np.int64]:
        """Feature indices by decreasing mean ``|phi|``, shape (d,)."""
        return np.argsort(-self.mean_abs(), kind="stable").astype(np.int64)


@contextlib.contextmanager
def _numpy_global_seed(seed: int) -> Iterator[None]:
    """Seed NumPy's global generator (KernelExplainer samples with it), then restore it."""
    state = np.random.get_state()  # noqa: NPY002 (shap samples with the legacy global)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _torch_values(
    model: ScoredModel, x: npt.NDArray[np.float64], bg: Background, method: str, n: int, seed: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    shap = require("shap", "interpret", "SHAP values")
    module = model.score_module()
    xt, bt = model.to_tensor(x), model.to_tensor(bg.data)
    if method == "deep":
        explainer = shap.DeepExplainer(module, bt)
        raw = explainer.shap_values(xt, check_additivity=False)
        base = float(np.ravel(explainer.expected_value)[0])
    else:
        explainer = shap.GradientExplainer(module, bt)
        raw = explainer.shap_values(xt, nsamples=n, rseed=seed % 2**32)
        base = float(np.mean(model.score(bg.data)))
    values = np.asarray(raw, dtype=np.float64).reshape(x.shape)
    return values, np.full(x.shape[0], base)


def _agnostic_values(
    model: ScoredModel, x: npt.NDArray[np.float64], bg: Background, method: str, n: int, seed: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    shap = require("shap", "interpret", "SHAP values")
    if method == "kernel":
        with _numpy_global_seed(seed):
            explainer = shap.KernelExplainer(model.score, bg.data)
            values = explainer.shap_values(x, nsamples=n, l1_reg=False, silent=True)
        base = float(np.ravel(explainer.expected_value)[0])
        return np.asarray(values, dtype=np.float64).reshape(x.shape), np.full(len(x), base)
    if method == "partition":
        masker = shap.maskers.Partition(bg.data, max_samples=bg.size, clustering="correlation")
        explanation = shap.explainers.Partition(model.score, masker)(x, max_evals=n, silent=True)
    elif method == "exact":
        masker = shap.maskers.Independent(bg.data, max_samples=bg.size)
        explanation = shap.explainers.Exact(model.score, masker)(x, silent=True)
    else:
        masker = shap.maskers.Independent(bg.data, max_samples=bg.size)
        explainer = shap.explainers.Permutation(model.score, masker, seed=seed % 2**32)
        explanation = explainer(x, max_evals=n, silent=True)
    values = np.asarray(explanation.values, dtype=np.float64).reshape(x.shape)
    base = np.asarray(explanation.base_values, dtype=np.float64).reshape(len(x))
    return values, base


def explain(
    model: ScoredModel,
    x: object,
    background: Background,
    *,
    method: Method = "auto",
    n_samples: int | None = None,
    seed: int = 0,
) -> ShapResult:
    """SHAP values of ``model``'s score on the events ``x`` (n, d), computed by shap.

    Args:
        model: the adapted model.
        x: the events to explain, shape (n, d), in the model's feature units.
        background: the background sample (:func:`background_sample`), at least
            :data:`MIN_BACKGROUND` events.
        method: ``"deep"`` (DeepExplainer) or ``"gradient"`` (GradientExplainer) for torch
            modules; ``"exact"`` (d <= :data:`MAX_EXACT_FEATURES`), ``"permutation"``,
            ``"partition"`` (the partition (Owen) alternative, which masks correlated features
            together) or ``"kernel"`` for any model;
            ``"auto"``: deep for torch modules, else exact when d <= 15, else permutation.
        n_samples: the sample budget: expected-gradient samples per event (gradient, default
            200), model evaluations per event (permutation/partition, default
            max(500, 2 d + 1)), coalitions per event (kernel, default 2 d + 2048); ignored by
            deep and exact.
        seed: seeds the explainer's sampling.

    Returns:
        a :class:`ShapResult`; its ``additivity_error`` is measured, whatever the method.

    Raises:
        InvalidInputError: NaN/inf or a wrong shape in ``x``; a background with the wrong
            number of features or under :data:`MIN_BACKGROUND` events; ``"deep"`` or
            ``"gradient"`` for a plain callable; ``"exact"`` on more than 15 features.

    Example:
        >>> w = np.array([2.0, -1.0, 0.0])
        >>> m = ScoredModel(lambda x: x @ w, ("a", "b", "c"))
        >>> rng = np.random.default_rng(0)
        >>> bg = background_sample(rng.normal(size=(50, 3)), 20, seed=1, source="toy")
        >>> x = rng.normal(size=(4, 3))
        >>> r = explain(m, x, bg, method="kernel")  # all 2**3 coalitions: exact here
        >>> bool(np.allclose(r.values, w * (x - bg.data.mean(axis=0)))), r.additivity_error < 1e-12
        (True, True)
    """
    model.check_eval_mode()
    table = model.features(x)
    bg_data = model.features(background.data, "background.data")
    if bg_data.shape[0] < MIN_BACKGROUND:
        raise InvalidInputError(
            f"background has {bg_data.shape[0]} events, fewer than {MIN_BACKGROUND}; draw at "
            "least 10 (typically 100) with background_sample(x, size, seed=..., source=...)."
        )
    d = model.n_features
    require_choice("method", method, ("auto", *METHODS))
    if method == "auto":
        method = (
            "deep"
            if model.differentiable
            else ("exact" if d <= MAX_EXACT_FEATURES else "permutation")
        )
    if method in ("deep", "gradient") and not model.differentiable:
        raise InvalidInputError(
            f"method={method!r} needs a torch module, but model {model.name!r} is a plain callable "
            "(e.g. a firmware emulation) with no gradient; use method='exact' (d <= 15), "
            "'permutation' or 'kernel'."
        )
    if method == "exact" and d > MAX_EXACT_FEATURES:
        raise InvalidInputError(
            f"method='exact' evaluates all 2**d coalitions; d = {d} > {MAX_EXACT_FEATURES} is too "
            "many; use method='permutation' (additive by construction) or 'kernel'."
        )
    seed = require_seed("seed", seed)
    defaults = {"gradient": 200, "permutation": max(500, 2 * d + 1), "kernel": 2 * d + 2048}
    defaults["partition"] = defaults["permutation"]
    if method in defaults:
        n = defaults[method] if n_samples is None else require_int("n_samples", n_samples, low=2)
    else:
        n = 0
    # shap's KernelExplainer enumerates every coalition when its budget covers them all
    complete = method == "kernel" and n >= 2**d - 2
    runner = _torch_values if method in ("deep", "gradient") else _agnostic_values
    values, base = runner(model, table, background, method, n, seed)
    f = model.score(table)
    # the "relative to the standard deviation of f over the data": the background
    # (>= MIN_BACKGROUND events), not the explained events (1 event would give std = 0)
    std = float(np.std(model.score(bg_data)))
    scale = std if std > 0 else 1.0
    error = float(np.max(np.abs(values.sum(axis=1) + base - f)) / scale)
    return ShapResult(
        values=values,
        base_values=base,
        data=table,
        model_output=f,
        background=background,
        explainer=method,
        feature_names=model.feature_names,
        units=model.units,
        model_name=model.name,
        additivity_error=error,
        output_scale=scale,
        exact=method == "exact" or complete,
        guarantee=_GUARANTEES["kernel, complete" if complete else method],
        caveat=PARTITION_CAVEAT if method == "partition" else INTERVENTIONAL_CAVEAT,
        n_samples=min(n, 2**d - 2) if method == "kernel" else n,
        seed=seed,
    )
