"""Two-sample tests for validating a fast simulation against held-out real events.

:func:`energy_test` (permutation p-value) and :func:`ks_per_feature` (scipy's KS per feature)
test one pair of samples. Importing this module also registers the energy distance with the
statistics suite as ``"energy"`` (:mod:`precml_widgets.stats.suite`: batched over toys in torch,
p-value from null toys instead of permutations), so that
``suite.two_sample_test(..., statistic="energy")`` works; the suite's ``"mean_ks"``
(:mod:`precml_widgets.stats.metrics`) is the mean over features of the KS distances that
:func:`ks_per_feature` reports one by one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from scipy.spatial.distance import cdist

from precml_widgets._checks import require_int
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.suite import Statistic, register

__all__ = [
    "MAX_ENERGY_EVENTS",
    "TwoSampleResult",
    "as_events",
    "energy_distances",
    "energy_test",
    "ks_per_feature",
]

#: Largest ``n_x + n_y`` accepted by :func:`energy_test` (its distance matrix is (n_x+n_y)²).
MAX_ENERGY_EVENTS = 20_000

# Memory budget (in float64 entries) of one block of permutations in energy_test.
_BLOCK_ENTRIES = 4_000_000
# Below this many pooled events the permutations avoid BLAS (see energy_test).
_SMALL_POOL = 128


@dataclass(frozen=True)
class TwoSampleResult:
    """The outcome of a two-sample test.

    Attributes:
        statistic: the test statistic (energy distance for ``"energy"``, the
            Kolmogorov-Smirnov distance for ``"ks"``).
        p_value: the p-value of the hypothesis that both samples share one distribution.
        n_x: events in the first sample.
        n_y: events in the second sample.
        n_permutations: permutations behind the p-value (0 when it is analytic).
        method: ``"energy"`` or ``"ks"``.
    """

    statistic: float
    p_value: float
    n_x: int
    n_y: int
    n_permutations: int
    method: str

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for JSON, pandas rows, logging).

        Returns:
            ``{field name: value}`` for every field.

        Example:
            >>> TwoSampleResult(0.5, 0.25, 10, 12, 0, "ks").to_dict()["p_value"]
            0.25
        """
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """A one-line human-readable summary.

        Returns:
            The method, statistic, p-value and sample sizes in one sentence.

        Example:
            >>> TwoSampleResult(0.0123, 0.002, 1200, 1200, 500, "energy").describe()
            'energy test: statistic = 0.0123, p = 0.002 (n_x = 1200, n_y = 1200, 500 permutations)'
        """
        how = f", {self.n_permutations} permutations" if self.n_permutations else ""
        return (
            f"{self.method} test: statistic = {self.statistic:.4g}, p = {self.p_value:.3g} "
            f"(n_x = {self.n_x}, n_y = {self.n_y}{how})"
        )


def as_events(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """``values`` as a finite float64 array of shape (n, d); 1-D input becomes d = 1."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} must be a numeric array of shape (n_events, n_features), but it could not "
            f"be converted to float: {exc}. Pass a NumPy array or a nested list of numbers."
        ) from exc
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2:
        raise InvalidInputError(
            f"{name} must have shape (n_events, n_features) (or (n_events,) for one feature), "
            f"got shape {array.shape}; reshape it, e.g. {name}.reshape(len({name}), -1)."
        )
    if array.shape[0] < 2:
        raise InvalidInputError(
            f"{name} must contain at least 2 events, got {array.shape[0]}; pass a larger sample."
        )
    n_bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    if n_bad:
        raise InvalidInputError(
            f"{name} contains {n_bad} non-finite value(s) (NaN or ±inf); drop or impute those "
            f"events first, e.g. {name}[np.isfinite({name}).all(axis=1)]."
        )
    return array


def _as_pair(x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validate both samples and check that they have the same number of features."""
    xs, ys = as_events(x, "x"), as_events(y, "y")
    if xs.shape[1] != ys.shape[1]:
        raise InvalidInputError(
            f"x and y must have the same number of features, got x with {xs.shape[1]} and y "
            f"with {ys.shape[1]}; select the same columns, in the same order, from both."
        )
    return xs, ys


def energy_test(
    x: ArrayLike,
    y: ArrayLike,
    *,
    n_permutations: int = 500,
    seed: int = 0,
    standardize: bool = True,
) -> TwoSampleResult:
    """Multivariate energy test of whether ``x`` and ``y`` come from the same distribution.

    The statistic is the (V-statistic) energy distance between the two samples,

    .. math::

        \\mathcal{E} = \\frac{2}{n_x n_y} \\sum_{i,j} \\lVert x_i - y_j \\rVert
            - \\frac{1}{n_x^2} \\sum_{i,j} \\lVert x_i - x_j \\rVert
            - \\frac{1}{n_y^2} \\sum_{i,j} \\lVert y_i - y_j \\rVert ,

    which is >= 0 and vanishes in the large-sample limit iff the distributions are equal;
    it is, up to a factor -2, the energy test statistic of Aslan & Zech with the distance
    weighting function R(r) = r. The p-value comes from ``n_permutations`` random
    re-assignments of the pooled events to the two samples, as
    ``(1 + #{permuted statistic >= observed}) / (1 + n_permutations)``, which is never 0
    and is a valid (conservative) p-value for any number of permutations. The pooled
    distance matrix is computed once; every permutation is then evaluated exactly from it
    with block sums (two matrix products), so the cost is O((n_x + n_y)² · n_permutations)
    multiply-adds in BLAS. The same statistic, calibrated by toys from a reference model
    instead of permutations, is the suite's ``"energy"`` (:func:`energy_distances`).

    Args:
        x: first sample, shape (n_x, d), or (n_x,) for one feature; e.g. simulated events.
        y: second sample, shape (n_y, d); e.g. held-out real events.
        n_permutations: random permutations for the p-value (>= 1); the smallest
            attainable p-value is 1 / (1 + n_permutations).
        seed: seed of the permutations; the same seed gives the same p-value.
        standardize: scale every feature by the pooled mean and standard deviation
            first, so that features in different units weigh alike (a constant feature
            is only centred).

    Returns:
        A :class:`TwoSampleResult` with ``method="energy"`` and the energy distance as the
        statistic (in standardized units when ``standardize`` is true).

    Raises:
        InvalidInputError: a sample has NaN/inf values, fewer than 2 events, the wrong
            number of dimensions, the samples differ in their number of features,
            ``n_x + n_y`` exceeds :data:`MAX_ENERGY_EVENTS`, or ``n_permutations`` or
            ``seed`` is invalid.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> same = energy_test(rng.normal(size=(200, 2)), rng.normal(size=(200, 2)))
        >>> shifted = energy_test(rng.normal(size=(200, 2)), rng.normal(1.0, size=(200, 2)))
        >>> bool(same.p_value > 0.01), bool(shifted.p_value < 0.01)
        (True, True)

    References:
        G. J. Székely and M. L. Rizzo, "Testing for equal distributions in high dimension",
        InterStat (2004); "Energy statistics: A class of statistics based on distances",
        J. Stat. Plan. Inference 143 (2013) 1249.
        B. Aslan and G. Zech, "Statistical energy as a tool for binning-free, multivariate
        goodness-of-fit tests, two-sample comparison and unfolding", Nucl. Instrum. Meth. A
        537 (2005) 626, arXiv:physics/0309165.
    """
    xs, ys = _as_pair(x, y)
    n_permutations = require_int(
        "n_permutations",
        n_permutations,
        low=1,
        hint="use e.g. 500 (the smallest possible p-value is 1 / (1 + n_permutations)).",
    )
    seed = require_int("seed", seed, low=0, hint="e.g. 0.")
    n_x, n_y = xs.shape[0], ys.shape[0]
    n = n_x + n_y
    if n > MAX_ENERGY_EVENTS:
        raise InvalidInputError(
            f"x and y together have {n} events, more than the {MAX_ENERGY_EVENTS} that "
            f"energy_test accepts (its distance matrix needs {n * n * 8 / 1e9:.1f} GB); "
            "subsample both, e.g. x[rng.choice(len(x), 5000, replace=False)]."
        )

    pooled = np.concatenate([xs, ys])
    if standardize:
        scale = pooled.std(axis=0)
        scale[scale == 0] = 1.0
        pooled = (pooled - pooled.mean(axis=0)) / scale
    distance = cdist(pooled, pooled)
    row_sums = distance.sum(axis=1)
    total = row_sums.sum()

    def statistics(in_x: NDArray[np.float64]) -> NDArray[np.float64]:
        # in_x: (n, k) 0/1 columns, one assignment of the pooled events per column.
        # With s_xx = z'Dz, s_x. = z'D1: s_xy = s_x. - s_xx and s_yy = total - 2 s_x. + s_xx.
        if n < _SMALL_POOL:
            # Tiny products: numpy's own loop, as threaded BLAS can stall on a busy machine.
            product = np.einsum("ij,jk->ik", distance, in_x)
        else:
            product = distance @ in_x
        s_xx = np.einsum("ik,ik->k", in_x, product)
        s_x = row_sums @ in_x
        s_xy = s_x - s_xx
        s_yy = total - 2.0 * s_x + s_xx
        return 2.0 * s_xy / (n_x * n_y) - s_xx / n_x**2 - s_yy / n_y**2

    # The reported statistic, from direct block sums of the distance matrix.
    s_xx_obs = distance[:n_x, :n_x].sum()
    s_yy_obs = distance[n_x:, n_x:].sum()
    s_xy_obs = distance[:n_x, n_x:].sum()
    statistic = 2.0 * s_xy_obs / (n_x * n_y) - s_xx_obs / n_x**2 - s_yy_obs / n_y**2

    labels = np.zeros(n)
    labels[:n_x] = 1.0
    # The observed value as the permutations see it, so that both carry the same rounding.
    observed = float(statistics(labels[:, np.newaxis])[0])
    rng = np.random.default_rng(int(seed))
    block = max(1, _BLOCK_ENTRIES // n)
    n_extreme = 0
    # Permuted statistics equal to the observed one up to rounding count as >= it.
    tolerance = 1e-9 * total / n**2
    for start in range(0, n_permutations, block):
        k = min(block, n_permutations - start)
        in_x = rng.permuted(np.broadcast_to(labels, (k, n)), axis=1).T
        n_extreme += int(np.count_nonzero(statistics(in_x) >= observed - tolerance))
    p_value = (1 + n_extreme) / (1 + n_permutations)
    return TwoSampleResult(
        statistic=float(statistic),
        p_value=p_value,
        n_x=n_x,
        n_y=n_y,
        n_permutations=int(n_permutations),
        method="energy",
    )


def ks_per_feature(
    x: ArrayLike, y: ArrayLike, names: Sequence[str] | None = None
) -> dict[str, TwoSampleResult]:
    """Two-sample Kolmogorov-Smirnov test of every feature (column) separately.

    A one-dimensional complement to :func:`energy_test`: it shows *which* feature
    differs, but it ignores correlations, and running it on d features calls for a
    multiple-testing correction (e.g. compare the smallest p-value with 0.05 / d). The
    suite's ``"mean_ks"`` (:func:`precml_widgets.stats.metrics.mean_ks`) is the mean of these
    KS distances over the features, calibrated by toys.

    Args:
        x: first sample, shape (n_x, d), or (n_x,) for one feature.
        y: second sample, shape (n_y, d).
        names: one name per feature; default ``"x0"``, ``"x1"``, ...

    Returns:
        ``{name: TwoSampleResult}`` in column order, each with ``method="ks"``, the KS
        distance as the statistic, the exact/asymptotic p-value of
        :func:`scipy.stats.ks_2samp` and ``n_permutations=0``.

    Raises:
        InvalidInputError: as for :func:`energy_test`, or ``names`` does not hold one
            distinct string per feature.

    Example:
        >>> result = ks_per_feature([[0.0, 1.0], [1.0, 2.0]], [[0.5, 9.0], [1.5, 8.0]], ["a", "b"])
        >>> list(result), result["b"].statistic
        (['a', 'b'], 1.0)
    """
    xs, ys = _as_pair(x, y)
    d = xs.shape[1]
    if names is None:
        labels = [f"x{i}" for i in range(d)]
    else:
        if isinstance(names, str) or not all(isinstance(name, str) for name in names):
            raise InvalidInputError(
                f"names must be a sequence of strings, one per feature, got {names!r}; "
                "e.g. names=['pt', 'eta']."
            )
        labels = list(names)
        if len(labels) != d or len(set(labels)) != d:
            raise InvalidInputError(
                f"names must hold {d} distinct strings (one per feature of x and y), got "
                f"{len(labels)} with {len(set(labels))} distinct; fix the list of names."
            )
    out: dict[str, TwoSampleResult] = {}
    for column, label in enumerate(labels):
        result = stats.ks_2samp(xs[:, column], ys[:, column])
        out[label] = TwoSampleResult(
            statistic=float(result.statistic),
            p_value=float(result.pvalue),
            n_x=xs.shape[0],
            n_y=ys.shape[0],
            n_permutations=0,
            method="ks",
        )
    return out


#: Pairwise distances held at once by :func:`energy_distances` (toys × rows × pooled events).
_TORCH_BLOCK_ENTRIES = 4_000_000


def energy_distances(reference: Any, data: Any, *, standardize: bool = True) -> Any:
    """The energy distance of :func:`energy_test` for a batch of toys, in torch.

    Each toy's pooled events are standardised (as in :func:`energy_test`) when
    ``standardize``; in 1-D the pairwise-distance sums come from sorted cumulative sums
    (O(n log n)), otherwise from blocks of rows of the distance matrix (memory bounded, any
    ``n``).

    Cost: in 1-D O((n + m) log(n + m)) per toy; otherwise all (n + m)² pairwise distances,
    O((n + m)² d) per toy (about 12 s per toy at n = m = 2e4, d = 20 on one CPU thread; scale
    by ((n + m) / 4e4)² d / 20).

    Args:
        reference: ``(T, n, d)`` tensor (or array) of reference samples, ``n ≥ 1``.
        data: ``(T, m, d)`` tensor (or array) of data samples, ``m ≥ 1``, the same ``T``
            and ``d ≥ 1``.
        standardize: scale every feature of each toy by its pooled mean and standard
            deviation first (a constant feature is only centred).

    Returns:
        ``(T,)`` float64 energy distances (in standardised units when ``standardize``).

    Raises:
        InvalidInputError: shapes that are not ``(T, n, d)`` and ``(T, m, d)`` with the same
            ``T`` and ``d``, an empty sample, or NaN/inf events.

    Example:
        >>> import torch
        >>> x = torch.tensor([[[0.0], [1.0]]], dtype=torch.float64)
        >>> float(energy_distances(x, x + 1.0, standardize=False)[0])  # 2·1 − 0.5 − 0.5
        1.0
    """
    from precml_widgets._optional import require

    torch = require("torch", "anomaly", "the energy distance")
    ref, dat = torch.as_tensor(reference).double(), torch.as_tensor(data).double()
    if ref.ndim != 3 or dat.ndim != 3 or ref.shape[::2] != dat.shape[::2]:
        raise InvalidInputError(
            f"reference and data must be toy batches (T, n, d) and (T, m, d) with the same T "
            f"and d, got shapes {tuple(ref.shape)} and {tuple(dat.shape)}."
        )
    n, m = ref.shape[1], dat.shape[1]
    if min(n, m, ref.shape[2]) < 1:
        raise InvalidInputError(
            f"reference and data need at least one event of at least one feature each, got "
            f"n = {n}, m = {m}, d = {ref.shape[2]}; pass non-empty samples."
        )
    if not (bool(torch.isfinite(ref).all()) and bool(torch.isfinite(dat).all())):
        raise InvalidInputError("reference and data must be finite: drop NaN/inf events.")
    pooled = torch.cat([ref, dat], dim=1)  # (T, N, d)
    if standardize:
        scale = pooled.std(dim=1, unbiased=False, keepdim=True)
        scale = torch.where(scale == 0, torch.ones_like(scale), scale)
        pooled = (pooled - pooled.mean(dim=1, keepdim=True)) / scale
    if pooled.shape[2] == 1:
        s_all = _pair_sum_1d(torch, pooled[..., 0])
        s_xx = _pair_sum_1d(torch, pooled[:, :n, 0])
        s_yy = _pair_sum_1d(torch, pooled[:, n:, 0])
        s_xy = 0.5 * (s_all - s_xx - s_yy)
    else:
        s_xx, s_xy, s_yy = _pair_sums_blocked(torch, pooled, n)
    return 2.0 * s_xy / (n * m) - s_xx / n**2 - s_yy / m**2


def _pair_sum_1d(torch: Any, z: Any) -> Any:
    """``Σ_{i,j} |z_i − z_j|`` per row of ``z`` ``(T, k)``: ``2 Σ_j z_(j) (2j − k + 1)``
    over the sorted values (0-based ``j``)."""
    k = z.shape[1]
    ordered = torch.sort(z, dim=1).values
    coeff = 2.0 * torch.arange(k, dtype=z.dtype, device=z.device) - (k - 1)
    return 2.0 * (ordered * coeff).sum(dim=1)


def _pair_sums_blocked(torch: Any, pooled: Any, n: int) -> tuple[Any, Any, Any]:
    """``(Σ_xx, Σ_xy, Σ_yy)`` of Euclidean distances per toy of ``pooled`` ``(T, N, d)``
    (first ``n`` events: x), from blocks of rows of the distance matrix."""
    toys, total = pooled.shape[0], pooled.shape[1]
    sums = torch.zeros((3, toys), dtype=pooled.dtype, device=pooled.device)
    rows = max(1, min(total, _TORCH_BLOCK_ENTRIES // total))
    per = max(1, _TORCH_BLOCK_ENTRIES // (rows * total))
    for t0 in range(0, toys, per):
        chunk = pooled[t0 : t0 + per]
        for r0 in range(0, total, rows):
            # exact differences, not the |a|² + |b|² − 2ab shortcut (rounding at short range)
            dist = torch.cdist(
                chunk[:, r0 : r0 + rows], chunk, compute_mode="donot_use_mm_for_euclid_dist"
            )
            to_x, to_y = dist[..., :n].sum(-1), dist[..., n:].sum(-1)  # (t, rows)
            in_x = torch.arange(r0, r0 + dist.shape[1], device=pooled.device) < n
            sums[0, t0 : t0 + per] += to_x[:, in_x].sum(-1)
            sums[1, t0 : t0 + per] += to_y[:, in_x].sum(-1)
            sums[2, t0 : t0 + per] += to_y[:, ~in_x].sum(-1)
    return sums[0], sums[1], sums[2]


register(
    Statistic(
        name="energy",
        compute=energy_distances,
        summary="energy distance of the standardised pooled samples (V-statistic)",
        citation=(
            "Székely & Rizzo, J. Stat. Plan. Inference 143 (2013) 1249; "
            "Aslan & Zech, arXiv:physics/0309165"
        ),
        min_events=2,
        options={"standardize": True, "distance": "euclidean"},
    )
)
