"""One interface for every two-sample statistic: the statistic, its null from toys, a p-value.

A :class:`Statistic` maps a batch of ``T`` reference samples, shape ``(T, n, d)``, and ``T``
data samples, shape ``(T, m, d)`` (torch tensors), to ``T`` values, shape ``(T,)``: larger
means less compatible. Batching over toys lets a vectorised statistic run a whole block of
toys in one call. Statistics are registered by name (:func:`register`,
:func:`get_statistic`); :mod:`precml_widgets.stats.metrics`,
:mod:`precml_widgets.stats.nplm` and :mod:`precml_widgets.stats.two_sample` (the energy
distance) register theirs.

Calibration is by toys: :func:`null_distribution` draws both samples from the reference model
(any ``sample(n, rng) -> (n, d)`` callable) in blocks of toys, each block one task of
:func:`precml_widgets.parallel.run_ensemble` (a Dask ``LocalCluster`` or any scheduler), and
seeds every block from ``(seed, block)``, so the result does not depend on the number of
workers. :func:`p_value` gives ``(k + 1) / (N + 1)`` with its binomial Monte Carlo error, and
an upper bound (never 0) when no toy reaches the observed value. Where the null is
asymptotically χ² (NPLM), the χ² degrees of freedom are fitted to the toys by maximum
likelihood (:func:`fit_chi2_dof`) and reported beside the empirical null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from precml_widgets._checks import require_array, require_int, require_seed
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.p_values import BOUND_CL, SMALLEST_P, PValue, fit_chi2_dof, p_value

if TYPE_CHECKING:
    import torch

__all__ = [
    "BOUND_CL",
    "SMALLEST_P",
    "NullDistribution",
    "PValue",
    "SampleFn",
    "Statistic",
    "TestResult",
    "as_batch",
    "evaluate",
    "fit_chi2_dof",
    "get_statistic",
    "null_distribution",
    "p_value",
    "register",
    "statistic_names",
    "toy_block_size",
    "toy_distribution",
    "two_sample_test",
    "unregister",
]


#: A sampler ``sample(n, rng) -> (n, d)`` of the reference model or of an alternative.
SampleFn = Callable[[int, np.random.Generator], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class Statistic:
    """A two-sample test statistic, batched over toys.

    Attributes:
        name: registry name, e.g. ``"sliced_wasserstein"``.
        compute: ``compute(reference, data)`` with tensors ``(T, n, d)`` and ``(T, m, d)``
            (float64 or float32, any device) -> ``(T,)`` values; larger = less compatible.
        summary: one line on what it measures.
        citation: where it comes from (arXiv id).
        asymptotic_chi2: the null is asymptotically χ² (a dof is then fitted to the toys).
        min_events: the fewest events per sample it accepts.
        options: its hyperparameters, stated in every result.
    """

    name: str
    compute: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    summary: str
    citation: str = ""
    asymptotic_chi2: bool = False
    min_events: int = 2
    options: Mapping[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, Statistic] = {}


def register(statistic: Statistic) -> Statistic:
    """Add ``statistic`` to the registry under its name (replacing one of the same name)."""
    _REGISTRY[statistic.name] = statistic
    return statistic


def unregister(name: str) -> None:
    """Remove the statistic ``name`` from the registry (e.g. a test's own statistic)."""
    _REGISTRY.pop(name, None)


def statistic_names() -> tuple[str, ...]:
    """The registered statistics' names, sorted."""
    _load_builtin()
    return tuple(sorted(_REGISTRY))


def get_statistic(statistic: str | Statistic) -> Statistic:
    """The registered statistic of that name (a :class:`Statistic` is returned as is).

    Raises:
        InvalidInputError: for an unknown name (the message lists the known ones).
    """
    if isinstance(statistic, Statistic):
        return statistic
    _load_builtin()
    if statistic not in _REGISTRY:
        raise InvalidInputError(
            f"statistic must be one of {', '.join(sorted(_REGISTRY))}, got {statistic!r}; "
            "or pass a precml_widgets.stats.suite.Statistic."
        )
    return _REGISTRY[statistic]


def _load_builtin() -> None:
    """Import the modules that register the built-in statistics (once)."""
    import importlib

    for module in (
        "precml_widgets.stats.metrics",
        "precml_widgets.stats.nplm",
        "precml_widgets.stats.two_sample",
    ):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a module not written yet registers nothing
            if exc.name != module:
                raise


def as_batch(
    name: str, values: Any, *, dim: int | None = None, min_events: int = 2
) -> npt.NDArray[np.float64]:
    """``values`` as a finite float64 array of events, shape ``(n, d)`` (1-D: ``d = 1``).

    Raises:
        InvalidInputError: non-numbers, NaN/inf, more than 2 dimensions, a dimension other
            than ``dim``, or fewer than ``min_events`` events.
    """
    array = require_array(name, values)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise InvalidInputError(
            f"{name} must be events of shape (n, d) or (n,), got shape {array.shape}."
        )
    if dim is not None and array.shape[1] != dim:
        raise InvalidInputError(
            f"{name} has {array.shape[1]} feature(s) per event but the other sample has {dim}; "
            "both samples must describe the same features."
        )
    if array.shape[0] < min_events:
        raise InvalidInputError(
            f"{name} has {array.shape[0]} event(s); this statistic needs at least {min_events}."
        )
    return array


def evaluate(
    statistic: str | Statistic, reference: Any, data: Any, *, device: str | None = None
) -> float:
    """The statistic of one reference sample ``(n, d)`` and one data sample ``(m, d)``."""
    stat = get_statistic(statistic)
    ref = as_batch("reference", reference, min_events=stat.min_events)
    dat = as_batch("data", data, dim=ref.shape[1], min_events=stat.min_events)
    return float(_compute(stat, ref[None], dat[None], device)[0])


def _compute(
    stat: Statistic, reference: np.ndarray, data: np.ndarray, device: str | None
) -> np.ndarray:
    torch = _torch()
    from precml_widgets.device import default_device

    where = default_device(device)
    with torch.no_grad():
        values = stat.compute(
            torch.as_tensor(reference, device=where), torch.as_tensor(data, device=where)
        )
    return values.detach().cpu().double().numpy()


def _torch() -> Any:
    from precml_widgets._optional import require

    return require("torch", "anomaly", "two-sample statistics")


@dataclass(frozen=True)
class NullDistribution:
    """Toy values of a statistic with both samples drawn from the reference model.

    Attributes:
        statistic: the statistic's name.
        values: ``(N,)`` toy values (read-only).
        n_reference: events per reference sample.
        n_data: events per data sample.
        dim: features per event.
        seed: the master seed of the toys.
        chi2_dof: fitted χ² dof when the statistic is asymptotically χ², else ``None``.
        options: the statistic's hyperparameters.
    """

    statistic: str
    values: npt.NDArray[np.float64]
    n_reference: int
    n_data: int
    dim: int
    seed: int
    chi2_dof: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def p_value(self, observed: float) -> PValue:
        """:func:`p_value` of ``observed`` against these toys."""
        return p_value(observed, self.values)

    def chi2_p_value(self, observed: float) -> float | None:
        """The asymptotic p-value from the fitted χ² (``None`` without one); where it underflows
        float64 it is reported as :data:`SMALLEST_P`, an upper bound (never 0)."""
        if self.chi2_dof is None:
            return None
        return max(float(stats.chi2.sf(observed, self.chi2_dof)), SMALLEST_P)


def _drawn(sample: SampleFn, n: int, rng: np.random.Generator, which: str) -> np.ndarray:
    """One sample of ``n`` events from ``sample``, as ``(n, d)`` float64, or a clear error."""
    try:
        events = np.asarray(sample(n, rng), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"the {which} sampler returned something that is not an array of numbers ({exc}); "
            "it must return an (n, d) array of events."
        ) from None
    if events.ndim == 1:
        events = events[:, None]
    if events.ndim != 2 or events.shape[0] != n:
        raise InvalidInputError(
            f"the {which} sampler returned shape {events.shape} when asked for {n} events; it "
            "must return an (n, d) array."
        )
    if not np.all(np.isfinite(events)):
        bad = int(events.size - np.count_nonzero(np.isfinite(events)))
        raise InvalidInputError(
            f"the {which} sampler returned {bad} NaN or infinite value(s) in {n} events; a "
            "two-sample statistic of such events is meaningless: fix or filter the sampler."
        )
    return events


def _toy_block(
    stat: Statistic,
    sample_reference: SampleFn,
    sample_data: SampleFn,
    n_reference: int,
    n_data: int,
    sizes: tuple[int, ...],
    seed: int,
    device: str | None,
    block: int,
) -> np.ndarray:
    """``sizes[block]`` toys of ``stat``, seeded from ``(seed, block)``."""
    rng = np.random.default_rng([seed, block])
    count = sizes[block]
    ref = np.stack([_drawn(sample_reference, n_reference, rng, "reference") for _ in range(count)])
    dat = np.stack([_drawn(sample_data, n_data, rng, "data") for _ in range(count)])
    if ref.shape[2] != dat.shape[2]:
        raise InvalidInputError(
            f"the reference sampler gives {ref.shape[2]} feature(s) per event and the data "
            f"sampler {dat.shape[2]}; both must describe the same features."
        )
    values = _compute(stat, ref, dat, device)
    if not np.all(np.isfinite(values)):
        raise InvalidInputError(
            f"{stat.name} returned {int(np.count_nonzero(~np.isfinite(values)))} non-finite "
            f"value(s) in a block of {count} toys (seed {seed}, block {block}); check the "
            f"statistic's options {dict(stat.options)}."
        )
    return values


def toy_block_size(n_reference: int, n_data: int, dim: int, budget_mb: float = 256.0) -> int:
    """Toys per block that keep one block's events (and ~4 working copies) within
    ``budget_mb`` MiB: ``budget / (5 × (n + m) × d × 8 bytes)``, at least 1."""
    per_toy = 5 * (n_reference + n_data) * max(dim, 1) * 8
    return max(1, int(budget_mb * 2**20 // per_toy))


def toy_distribution(
    statistic: str | Statistic,
    sample_reference: SampleFn,
    n_reference: int,
    n_data: int,
    *,
    sample_data: SampleFn | None = None,
    toys: int = 1000,
    seed: int = 0,
    block: int = 100,
    scheduler: Any = None,
    serial: bool = False,
    progress: bool = True,
    device: str | None = None,
) -> NullDistribution:
    """Toy values of ``statistic``: reference from ``sample_reference``, data from
    ``sample_data`` (default: the reference model too, i.e. the null).

    Args:
        statistic: a registered name or a :class:`Statistic`.
        sample_reference: ``sample(n, rng) -> (n, d)`` of the reference model (picklable:
            it runs on the Dask workers).
        n_reference: events per reference sample.
        n_data: events per data sample.
        sample_data: the data model (an alternative); ``None`` for the null.
        toys: number of toys ``N``.
        seed: master seed; block ``b`` uses ``numpy.random.default_rng([seed, b])``.
        block: at most this many toys per task (the statistic is batched over them); fewer
            when one block's events would exceed 256 MiB (:func:`toy_block_size`).
        scheduler: passed to :func:`~precml_widgets.parallel.run_ensemble` (``None``: a local
            cluster).
        serial: run in this process, without Dask.
        progress: show a progress bar over blocks.
        device: torch device (default: CUDA when present).
    """
    from precml_widgets.parallel import run_ensemble

    stat = get_statistic(statistic)
    n_reference = require_int("n_reference", n_reference, low=stat.min_events)
    n_data = require_int("n_data", n_data, low=stat.min_events)
    toys = require_int("toys", toys, low=1)
    block = require_int("block", block, low=1)
    seed = require_seed("seed", seed)
    probe = _drawn(sample_reference, 2, np.random.default_rng(seed), "reference")
    dim = int(probe.shape[1])
    if sample_data is not None:  # a broken alternative fails here, before any toy runs
        other = _drawn(sample_data, 2, np.random.default_rng(seed), "data")
        if other.shape[1] != dim:
            raise InvalidInputError(
                f"the reference sampler gives {dim} feature(s) per event and the data sampler "
                f"{other.shape[1]}; both must describe the same features."
            )
    block = min(block, toy_block_size(n_reference, n_data, dim))  # memory stays bounded
    sizes = tuple(min(block, toys - start) for start in range(0, toys, block))
    task = partial(
        _toy_block,
        stat,
        sample_reference,
        sample_data or sample_reference,
        n_reference,
        n_data,
        sizes,
        seed,
        device,
    )
    try:
        blocks = run_ensemble(
            task,
            len(sizes),
            scheduler=scheduler,
            serial=serial,
            progress=progress,
            description=f"{stat.name} toys",
        )
    except RuntimeError as exc:  # a toy's own clear error, not the ensemble's wrapper
        if isinstance(exc.__cause__, InvalidInputError):
            raise exc.__cause__ from None
        raise
    values = np.concatenate(blocks).astype(np.float64)
    values.flags.writeable = False
    dof = None
    if stat.asymptotic_chi2 and sample_data is None and values.size >= 10 and np.all(values > 0):
        dof = fit_chi2_dof(values)
    return NullDistribution(
        stat.name, values, n_reference, n_data, dim, seed, dof, dict(stat.options)
    )


def null_distribution(
    statistic: str | Statistic,
    sample_reference: SampleFn,
    n_reference: int,
    n_data: int,
    **kwargs: Any,
) -> NullDistribution:
    """:func:`toy_distribution` with both samples from the reference model (the null)."""
    return toy_distribution(statistic, sample_reference, n_reference, n_data, **kwargs)


@dataclass(frozen=True)
class TestResult:
    """One two-sample test: the observed statistic and its p-value against a null.

    Attributes:
        statistic: the statistic's name.
        observed: its value on the two samples.
        p: the p-value from the null toys.
        null: the null distribution used.
        chi2_p: the asymptotic p-value from the fitted χ², where there is one.
        options: the statistic's hyperparameters.
    """

    statistic: str
    observed: float
    p: PValue
    null: NullDistribution
    chi2_p: float | None
    options: Mapping[str, Any]

    def describe(self) -> str:
        """One line: the statistic, its value and the p-value."""
        chi2 = ""
        if self.chi2_p is not None:
            sign = "<" if self.chi2_p <= SMALLEST_P else "="
            chi2 = f"; χ²({self.null.chi2_dof:.2f}) p {sign} {self.chi2_p:.3g}"
        return f"{self.statistic} = {self.observed:.4g}: {self.p.describe()}{chi2}"


def two_sample_test(
    statistic: str | Statistic,
    reference: Any,
    data: Any,
    null: NullDistribution,
    *,
    device: str | None = None,
) -> TestResult:
    """Evaluate ``statistic`` on ``reference`` and ``data`` and compare it with ``null``.

    Raises:
        InvalidInputError: malformed samples, or a null of another statistic or sample sizes.
    """
    stat = get_statistic(statistic)
    if null.statistic != stat.name:
        raise InvalidInputError(
            f"null is a distribution of {null.statistic!r}, not of {stat.name!r}; compute the "
            "null with the same statistic."
        )
    ref = as_batch("reference", reference, min_events=stat.min_events)
    dat = as_batch("data", data, dim=ref.shape[1], min_events=stat.min_events)
    if (len(ref), len(dat), ref.shape[1]) != (null.n_reference, null.n_data, null.dim):
        raise InvalidInputError(
            f"the samples have (n_reference, n_data, d) = ({len(ref)}, {len(dat)}, "
            f"{ref.shape[1]}) but the null was computed for ({null.n_reference}, "
            f"{null.n_data}, {null.dim}); the null depends on the sample sizes: recompute it."
        )
    observed = float(_compute(stat, ref[None], dat[None], device)[0])
    return TestResult(
        stat.name,
        observed,
        null.p_value(observed),
        null,
        null.chi2_p_value(observed),
        dict(stat.options),
    )
