"""The metric suite of arXiv:2409.16336 in torch, batched over toys, registered with the suite.

Importing this module registers, in :mod:`precml_widgets.stats.suite`:

====================== =================================================================
``mean_ks``            mean over the ``d`` marginals of the two-sample KS statistic
``sliced_ks``          mean KS over ``K = 2 d`` fixed random unit directions
``sliced_wasserstein`` mean 1-D Wasserstein-1 distance over the same ``K`` directions
``fgd``                Fréchet Gaussian distance of the full samples
``fgd_inf``            FGD∞: FGD extrapolated to infinite sample size (arXiv:1911.07023)
``mmd_poly``           unbiased MMD² with the quartic kernel ``(xᵀy / d + 1)⁴``
``mmd_gaussian``       unbiased MMD² with a Gaussian kernel, median-heuristic bandwidth
``classifier``         held-out AUC − 0.5 of :func:`~precml_widgets.stats.classifier_check`
====================== =================================================================

and offers :func:`likelihood_ratio_statistic` for the exact likelihood-ratio test where
both densities are known. Every statistic maps ``(T, n, d)`` and ``(T, m, d)`` tensors to
``(T,)`` float64 values (larger = less compatible); all but ``classifier`` are vectorised
over toys.

KS and W1 are exact and sort-based. One sort of the pooled values of a column gives both
empirical CDFs at every pooled point: with weights ``+m`` for reference and ``-n`` for data
events, the running integer sum is ``n m (F - G)`` exactly. KS is its largest absolute value
over the last position of each run of tied values (the ECDFs are right-continuous), W1 is
``∫ |F - G| dx = Σ_i |F_i - G_i| (z_{i+1} - z_i)`` over the sorted pooled values ``z``, which
is the quantile-function formula ``∫₀¹ |F⁻¹(u) - G⁻¹(u)| du`` for any ``n, m``. For
``n = m`` W1 takes the faster path ``mean |sort(x) - sort(y)|``. On the CPU the sorts are
NumPy's (x86-simd-sort: several times faster than ``torch.sort`` for float64, measured in
``benchmarks/bench_two_sample.py``); on a GPU, ``torch.sort``.

The slicing directions are drawn once per dimension ``d`` from a stated seed (standard
normal vectors, normalised; ``numpy.random.default_rng([seed, d])``) and are the same for
every toy, so the statistic is a fixed function of the samples. ``K = 2 d`` follows the
authors' runs (GenerativeModelsMetrics: ``nslices = n_slices_factor * ndims`` with
``n_slices_factor = 2``; their class default is 100).

Memory: KS and W1 take chunks of the (toy × column) rows within 256 MiB of scratch (six
8-byte arrays of ``rows (n + m)``), the sliced statistics project a chunk of toys at a time
in the same budget (``d = 100``, ``n = m = 2e4``, ``T = 100``: a few hundred MiB, not tens
of GB). Each column is computed on its own: chunking leaves the values unchanged.

References:
    L. Grossi, M. Letizia, R. Torre, "Refereeing the Referees: Evaluating Two-Sample Tests
    for Validating Generators in Precision Sciences", arXiv:2409.16336.
    I. Deshpande et al. (sliced Wasserstein), arXiv:1803.11188.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import numpy as np

from precml_widgets._checks import require_int, require_probability, require_seed
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats import metrics_kernel as mk
from precml_widgets.stats import suite
from precml_widgets.stats.classifier_check import MIN_EVENTS_PER_HALF, classifier_check

if TYPE_CHECKING:
    import torch

__all__ = [
    "DIRECTIONS_PER_DIMENSION",
    "DIRECTIONS_SEED",
    "classifier_statistic",
    "ks_columns",
    "likelihood_ratio_statistic",
    "mean_ks",
    "random_directions",
    "sliced_ks",
    "sliced_wasserstein",
    "wasserstein_columns",
]

#: ``K / d``: random directions per feature of the sliced statistics (the authors' runs).
DIRECTIONS_PER_DIMENSION = 2
#: Seed of the fixed slicing directions.
DIRECTIONS_SEED = 0
_PAPER = "Grossi, Letizia, Torre, arXiv:2409.16336"
# Scratch of the sort-based statistics (bytes) and the 8-byte arrays of n + m per row.
_BUDGET_BYTES = 2**28
_ARRAYS_PER_ROW = 6


def _torch() -> Any:
    """The ``torch`` module (an optional dependency: the error names the extra)."""
    return require("torch", "anomaly", "two-sample metrics")


def _rows_per_chunk(width: int) -> int:
    """Rows of ``width`` pooled values that fit the scratch budget (at least 1)."""
    return max(1, _BUDGET_BYTES // (_ARRAYS_PER_ROW * 8 * max(1, width)))


def _by_rows(
    func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    a: torch.Tensor,
    b: torch.Tensor,
    rows: int | None = None,
) -> torch.Tensor:
    """``func`` of ``(R, n)``, ``(R, m)`` row blocks of ``a`` ``(..., n)``, ``b`` ``(..., m)``,
    ``rows`` at a time (default: the budget), as ``(...)``. Sliced along the first axis
    first: a non-contiguous input is copied one chunk at a time, never as a whole."""
    torch = _torch()
    if a.shape[:-1] != b.shape[:-1]:
        raise InvalidInputError(
            f"the two samples' leading shapes differ: {tuple(a.shape[:-1])} and "
            f"{tuple(b.shape[:-1])}; pass one column per leading index in both."
        )
    if a.dim() == 1:
        return _by_rows(func, a[None], b[None], rows)[0]
    n, m = a.shape[-1], b.shape[-1]
    rows = _rows_per_chunk(n + m) if rows is None else require_int("rows", rows, low=1)
    lead = a.shape[:-1]
    inner = math.prod(lead[1:])
    step = max(1, rows // max(1, inner))
    out = []
    for lo in range(0, lead[0], step):
        ra, rb = a[lo : lo + step].reshape(-1, n), b[lo : lo + step].reshape(-1, m)
        out.extend(func(ra[r : r + rows], rb[r : r + rows]) for r in range(0, len(ra), rows))
    return torch.cat(out).reshape(lead)


def _pooled_gap(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted pooled values ``z`` and ``n m (F - G)`` after each of them (int64), ``(..., n+m)``.

    On the CPU through NumPy's ``sort``/``argsort`` (its x86-simd-sort kernels sort float64
    several times faster than ``torch.sort``; ``bench_two_sample`` measures both): sorting
    the values again is cheaper than gathering them with the order. Within a run of tied
    values the two orders may differ, but only the gap after the run is used.
    """
    torch = _torch()
    n, m = a.shape[-1], b.shape[-1]
    pooled = torch.cat([a, b], -1)
    if pooled.device.type != "cpu":
        z, order = torch.sort(pooled, -1)
        return z, torch.where(order < n, m, -n).cumsum(-1)
    values = pooled.detach().numpy()
    steps = np.where(np.argsort(values, axis=-1) < n, m, -n)
    return torch.from_numpy(np.sort(values, axis=-1)), torch.from_numpy(steps.cumsum(-1))


def _sorted_values(x: torch.Tensor) -> torch.Tensor:
    """``x`` sorted along the last axis (NumPy's SIMD sort on the CPU, as in _pooled_gap)."""
    torch = _torch()
    if x.device.type != "cpu":
        return torch.sort(x, -1).values
    return torch.from_numpy(np.sort(x.detach().numpy(), axis=-1))


def ks_columns(a: torch.Tensor, b: torch.Tensor, *, rows: int | None = None) -> torch.Tensor:
    """Exact two-sample KS statistic ``sup |F - G|`` of every column, ties handled.

    Args:
        a: ``(..., n)`` samples, one per leading index.
        b: ``(..., m)``, same leading shape.
        rows: columns per chunk; ``None``: as many as fit 256 MiB of scratch.

    Returns:
        ``(...)`` float64, equal to :func:`scipy.stats.ks_2samp` ``.statistic``.

    Example:
        >>> import torch
        >>> a = torch.tensor([[0.0, 1.0, 2.0]], dtype=torch.float64)
        >>> round(float(ks_columns(a, a + 1.5)[0]), 6)
        0.666667
    """
    return _by_rows(_ks_rows, a, b, rows)


def _ks_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """:func:`ks_columns` of ``(R, n)`` and ``(R, m)`` rows in one pass."""
    n, m = a.shape[-1], b.shape[-1]
    if a.device.type == "cpu":
        return _ks_numpy(a.detach().double().numpy(), b.detach().double().numpy())
    z, gap = _pooled_gap(a.double(), b.double())
    gap = gap.abs_()
    ties = z[..., 1:] == z[..., :-1]
    if bool(ties.any()):  # only the last of tied values is an ECDF value
        gap[..., :-1] = gap[..., :-1].masked_fill(ties, 0)
    return gap.amax(-1).double() / (n * m)


def _ks_numpy(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    """:func:`ks_columns` on the CPU in NumPy: with ``c_i`` reference events among the first
    ``i`` pooled ones, ``n m (F - G) = (n + m) c_i - n i``."""
    torch = _torch()
    n, m = a.shape[-1], b.shape[-1]
    # two SIMD sorts, then a stable argsort that only merges the two sorted runs
    values = np.concatenate([np.sort(a, axis=-1), np.sort(b, axis=-1)], -1)
    order = np.argsort(values, axis=-1, kind="stable")
    small = np.int32 if (n + m) ** 2 < 2**31 else np.int64  # |gap| <= n m
    gap = (order < n).cumsum(-1, dtype=small)
    gap *= n + m
    gap -= np.arange(n, n * (n + m) + 1, n, dtype=small)
    z = np.take_along_axis(values, order, -1)
    ties = z[..., 1:] == z[..., :-1]
    if ties.any():  # only the last of tied values is an ECDF value
        gap[..., :-1][ties] = 0
    return torch.from_numpy(np.maximum(gap.max(-1), -gap.min(-1)) / (n * m))


def wasserstein_columns(
    a: torch.Tensor, b: torch.Tensor, *, rows: int | None = None
) -> torch.Tensor:
    """1-D Wasserstein-1 distance ``∫ |F - G| dx`` of every column, any ``n`` and ``m``.

    Args:
        a: ``(..., n)``.
        b: ``(..., m)``, same leading shape.
        rows: columns per chunk; ``None``: as many as fit 256 MiB of scratch.

    Returns:
        ``(...)`` float64, equal to :func:`scipy.stats.wasserstein_distance`.

    Example:
        >>> import torch
        >>> a = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
        >>> float(wasserstein_columns(a, torch.tensor([[0.5, 1.5, 2.5]]))[0])
        1.0
    """
    return _by_rows(_wasserstein_rows, a, b, rows)


def _wasserstein_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """:func:`wasserstein_columns` of ``(R, n)`` and ``(R, m)`` rows in one pass."""
    a, b = a.double(), b.double()
    n, m = a.shape[-1], b.shape[-1]
    if n == m:
        return (_sorted_values(a) - _sorted_values(b)).abs().mean(-1)
    z, gap = _pooled_gap(a, b)
    widths = z[..., 1:] - z[..., :-1]
    return (gap[..., :-1].abs().double() * widths).sum(-1) / (n * m)


def mean_ks(reference: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """Mean over the ``d`` features of the marginal KS statistics: ``(T, n, d)``, ``(T, m, d)``
    -> ``(T,)``.

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 4, 2, dtype=torch.float64)
        >>> float(mean_ks(x, x + 1.0)[0])
        1.0
    """
    return ks_columns(reference.transpose(1, 2), data.transpose(1, 2)).mean(-1)


@lru_cache(maxsize=64)
def random_directions(dim: int, count: int, seed: int = DIRECTIONS_SEED) -> np.ndarray:
    """``count`` random unit vectors in ``dim`` dimensions, ``(count, dim)``, read-only.

    Drawn as normalised standard normal vectors from ``numpy.random.default_rng([seed,
    dim])`` (uniform on the sphere); the same arguments always give the same directions.

    Example:
        >>> u = random_directions(3, 6)
        >>> u.shape, bool(np.allclose(np.linalg.norm(u, axis=1), 1.0))
        ((6, 3), True)
    """
    dim = require_int("dim", dim, low=1)
    count = require_int("count", count, low=1)
    seed = require_seed("seed", seed)
    u = np.random.default_rng([seed, dim]).standard_normal((count, dim))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    u.flags.writeable = False
    return u


def _project(x: torch.Tensor, per_dim: int, seed: int) -> torch.Tensor:
    """``(T, n, d)`` -> ``(T, K, n)`` projections on ``K = per_dim * d`` fixed directions."""
    torch = _torch()
    u = random_directions(x.shape[-1], per_dim * x.shape[-1], seed)
    directions = torch.as_tensor(np.array(u), dtype=torch.float64, device=x.device)
    return (x.double() @ directions.T).transpose(1, 2).contiguous()


def _sliced(
    columns: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    reference: torch.Tensor,
    data: torch.Tensor,
    per_dim: int,
    seed: int,
) -> torch.Tensor:
    """Mean of ``columns`` over the ``K`` projections, toys chunked to fit the budget."""
    torch = _torch()
    per_dim = require_int("per_dim", per_dim, low=1)
    seed = require_seed("seed", seed)
    count = per_dim * reference.shape[-1]
    toys = max(1, _rows_per_chunk(reference.shape[1] + data.shape[1]) // count)
    chunks = [(reference[lo : lo + toys], data[lo : lo + toys]) for lo in range(0, len(data), toys)]
    return torch.cat(
        [columns(_project(r, per_dim, seed), _project(x, per_dim, seed)) for r, x in chunks]
    ).mean(-1)


def sliced_ks(
    reference: torch.Tensor,
    data: torch.Tensor,
    *,
    per_dim: int = DIRECTIONS_PER_DIMENSION,
    seed: int = DIRECTIONS_SEED,
) -> torch.Tensor:
    """Mean KS statistic of the projections on ``per_dim * d`` fixed random directions.

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 5, 2, dtype=torch.float64)
        >>> float(sliced_ks(x, x + 10.0)[0])
        1.0
    """
    return _sliced(ks_columns, reference, data, per_dim, seed)


def sliced_wasserstein(
    reference: torch.Tensor,
    data: torch.Tensor,
    *,
    per_dim: int = DIRECTIONS_PER_DIMENSION,
    seed: int = DIRECTIONS_SEED,
) -> torch.Tensor:
    """Mean 1-D W1 of the projections on ``per_dim * d`` fixed random directions.

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 5, 1, dtype=torch.float64)
        >>> float(sliced_wasserstein(x, x + 2.0)[0])
        2.0
    """
    return _sliced(wasserstein_columns, reference, data, per_dim, seed)


def _likelihood_ratio(
    log_p_reference: Callable[[torch.Tensor], torch.Tensor],
    log_p_alternative: Callable[[torch.Tensor], torch.Tensor],
    reference: torch.Tensor,
    data: torch.Tensor,
) -> torch.Tensor:
    n, m = reference.shape[1], data.shape[1]
    x = data.double()
    llr = (log_p_alternative(x) - log_p_reference(x)).double().sum(-1)
    return 2.0 * llr / math.sqrt(2.0 * n * m / (n + m))


def likelihood_ratio_statistic(
    log_p_reference: Callable[[torch.Tensor], torch.Tensor],
    log_p_alternative: Callable[[torch.Tensor], torch.Tensor],
    *,
    name: str = "likelihood_ratio",
) -> suite.Statistic:
    """The exact likelihood-ratio statistic of two known densities, as a :class:`Statistic`.

    The authors' normalised statistic (GenerativeModelsMetrics ``lr_statistic``):
    ``t = 2 Σ_j [log p_alt(y_j) - log p_ref(y_j)] / sqrt(2 n m / (n + m))`` over the data
    events ``y_j``. Their reference-sample term appears in both likelihoods and cancels, so
    the reference sample only enters through its size ``n``. Larger ``t`` favours the
    alternative (Neyman–Pearson: the most powerful test of these two simple hypotheses).
    Not registered: register it with :func:`~precml_widgets.stats.suite.register`.

    Args:
        log_p_reference: log-density of the reference model; takes float64 events of shape
            ``(..., d)`` (a torch tensor) and returns ``(...)``.
        log_p_alternative: log-density of the alternative, same convention.
        name: registry name.

    Example:
        >>> import torch
        >>> gauss = lambda mu: (lambda x: -0.5 * ((x - mu) ** 2).sum(-1))
        >>> lr = likelihood_ratio_statistic(gauss(0.0), gauss(1.0))
        >>> x = torch.zeros(1, 2, 1, dtype=torch.float64)
        >>> round(float(lr.compute(x, x + 1.0)[0]), 6)  # 2 * (2 * 0.5) / sqrt(2)
        1.414214
    """
    if not (callable(log_p_reference) and callable(log_p_alternative)):
        raise InvalidInputError(
            "log_p_reference and log_p_alternative must be callables mapping events (..., d) "
            "to log-densities (...); pass e.g. a torch.distributions object's log_prob."
        )
    return suite.Statistic(
        name,
        partial(_likelihood_ratio, log_p_reference, log_p_alternative),
        "exact log-likelihood ratio of two known densities on the data",
        citation=f"{_PAPER} (normalised LR); Neyman & Pearson (1933)",
        min_events=1,
        options={"normalisation": "2 * sum log ratio / sqrt(2 n m / (n + m))"},
    )


def _classifier(
    test_fraction: float, seed: int, max_iter: int, reference: torch.Tensor, data: torch.Tensor
) -> torch.Tensor:
    torch = _torch()
    ref = reference.detach().cpu().double().numpy()
    dat = data.detach().cpu().double().numpy()
    values = [
        classifier_check(
            dat[t], ref[t], test_fraction=test_fraction, seed=seed, max_iter=max_iter
        ).auc
        - 0.5
        for t in range(ref.shape[0])
    ]
    return torch.tensor(values, dtype=torch.float64, device=reference.device)


def classifier_statistic(
    *, test_fraction: float = 0.5, seed: int = 0, max_iter: int = 200, name: str = "classifier"
) -> suite.Statistic:
    """The classifier test of :func:`~precml_widgets.stats.classifier_check` as a statistic.

    Statistic: held-out ROC AUC − 0.5 of a boosted-tree classifier of reference (positive)
    against data, trained on the other part of each sample (0 = indistinguishable; larger =
    less compatible; a one-sided test). Not vectorised: one fit per toy.

    Args:
        test_fraction: share of each sample held out for the AUC.
        seed: seed of the split and of the classifier.
        max_iter: most boosting iterations.
        name: registry name.

    Example:
        >>> classifier_statistic(max_iter=20).options["max_iter"]
        20
    """
    test_fraction = require_probability("test_fraction", test_fraction)
    seed = require_seed("seed", seed)
    max_iter = require_int("max_iter", max_iter, low=1)
    smaller = min(test_fraction, 1.0 - test_fraction)
    return suite.Statistic(
        name,
        partial(_classifier, test_fraction, seed, max_iter),
        "held-out AUC - 0.5 of a classifier of reference vs data",
        citation="Lopez-Paz & Oquab, arXiv:1610.06545; " + _PAPER,
        min_events=math.ceil(MIN_EVENTS_PER_HALF / smaller),
        options={"test_fraction": test_fraction, "seed": seed, "max_iter": max_iter},
    )


def _register_builtin() -> None:
    sliced = {"directions": "2 d", "directions_seed": DIRECTIONS_SEED}
    fgd_inf_options = {"num_points": 10, "num_batches": 20, "seed": 0}
    for stat in (
        suite.Statistic(
            "mean_ks",
            mean_ks,
            "mean over features of the marginal two-sample KS statistic",
            citation=_PAPER,
        ),
        suite.Statistic(
            "sliced_ks",
            sliced_ks,
            "mean KS statistic over 2 d fixed random projections",
            citation=_PAPER,
            options=sliced,
        ),
        suite.Statistic(
            "sliced_wasserstein",
            sliced_wasserstein,
            "mean 1-D Wasserstein-1 distance over 2 d fixed random projections",
            citation=f"{_PAPER}; arXiv:1803.11188",
            options=sliced,
        ),
        suite.Statistic(
            "fgd",
            mk.frechet_gaussian_distance,
            "Fréchet distance of the Gaussians fitted to the two samples",
            citation=f"{_PAPER}; arXiv:1706.08500",
        ),
        suite.Statistic(
            "fgd_inf",
            partial(mk.frechet_gaussian_distance_inf, **fgd_inf_options),
            "FGD extrapolated linearly in 1/N to infinite sample size",
            citation=f"{_PAPER}; Chong & Forsyth, arXiv:1911.07023",
            min_events=10,
            options={**fgd_inf_options, "sizes": "min(n, m) // 3 .. min(n, m), even in 1/N"},
        ),
        suite.Statistic(
            "mmd_poly",
            mk.mmd_polynomial,
            "unbiased MMD² with the quartic kernel (x·y/d + 1)^4, explicit features",
            citation=f"{_PAPER}; Gretton et al., JMLR 13 (2012) 723",
            options={"kernel": "(x·y / d + 1)^4", "method": "auto"},
        ),
        suite.Statistic(
            "mmd_gaussian",
            mk.mmd_gaussian,
            "unbiased MMD² with a Gaussian kernel, median-heuristic bandwidth",
            citation="Gretton et al., JMLR 13 (2012) 723; " + _PAPER,
            options={"kernel": "exp(-|x-y|² / (2 σ²))", "sigma": "median pooled distance"},
        ),
        classifier_statistic(),
    ):
        suite.register(stat)


_register_builtin()
