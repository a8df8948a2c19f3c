"""Run ensembles of pseudo-experiments (toys) on a dask.distributed cluster, one task per seed."""

from __future__ import annotations

import contextlib
import logging
import numbers
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from precml_widgets._checks import require_int
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover - typing only; dask is imported lazily at run time
    import distributed

__all__ = ["run_ensemble"]

T = TypeVar("T")


def _as_seed_list(seeds: Sequence[int] | int) -> list[int]:
    """Turn ``seeds`` (a count or a sequence of integers) into a list of Python ints."""
    hint = "pass e.g. seeds=100 (meaning range(100)) or seeds=[3, 5, 8]."
    if isinstance(seeds, numbers.Integral):  # a count of toys (require_int refuses a bool)
        return list(range(require_int("seeds", seeds, low=0, hint=hint)))
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Iterable):
        raise InvalidInputError(
            "seeds must be an integer or a sequence of integers, "
            f"got {type(seeds).__name__}; {hint}"
        )
    return [
        require_int(f"seeds[{position}]", seed, hint=hint) for position, seed in enumerate(seeds)
    ]


def _failure(seed: int, exc: BaseException) -> RuntimeError:
    """The error raised when the toy with ``seed`` failed with ``exc``."""
    return RuntimeError(f"toy with seed {seed} failed: {type(exc).__name__}: {exc}")


def _run_serial(
    func: Callable[[int], T], seeds: list[int], progress: bool, description: str
) -> list[T]:
    """Call ``func`` on each seed in this process, in order."""
    from tqdm.auto import tqdm

    results: list[T] = []
    for seed in tqdm(seeds, desc=description, disable=not progress):
        try:
            results.append(func(seed))
        except Exception as exc:
            raise _failure(seed, exc) from exc
    return results


def _run_on_client(
    client: distributed.Client,
    func: Callable[[int], T],
    seeds: list[int],
    progress: bool,
    description: str,
) -> list[T]:
    """Submit one task per seed to ``client`` and collect the results in seed order."""
    distributed = require("distributed", "all", "ensembles of toys")
    from tqdm.auto import tqdm

    token = uuid.uuid4().hex
    keys = [f"{description}-{token}-{index}" for index in range(len(seeds))]
    futures = client.map(func, seeds, key=keys, pure=False)
    position = {future.key: index for index, future in enumerate(futures)}
    results: list[Any] = [None] * len(seeds)
    try:
        with tqdm(total=len(futures), desc=description, disable=not progress) as bar:
            for future, result in distributed.as_completed(
                futures, with_results=True, raise_errors=False
            ):
                index = position[future.key]
                if future.status == "error":
                    exc = future.exception()
                    raise _failure(seeds[index], exc) from exc
                results[index] = result
                bar.update(1)
    except BaseException:
        client.cancel(futures)
        raise
    return results


def run_ensemble(
    func: Callable[[int], T],
    seeds: Sequence[int] | int,
    *,
    scheduler: str | distributed.Client | None = None,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    progress: bool = True,
    description: str = "toys",
    serial: bool = False,
) -> list[T]:
    """Call ``func(seed)`` for every seed on a dask.distributed cluster; results in seed order.

    Each toy is one task. By default a ``distributed.LocalCluster`` of worker processes is
    started for the call and shut down afterwards; pass ``scheduler`` to use a cluster that
    is already running. ``func`` is shipped to the workers with cloudpickle, so it must be
    importable there (a function of an installed package) or picklable by value (a lambda,
    a ``functools.partial`` of library functions, a function of a ``__main__`` script).

    Args:
        func: the toy; takes one integer seed and returns anything picklable. Seed its
            random numbers from the argument, e.g. ``np.random.default_rng(seed)``, so the
            ensemble is reproducible and independent of the number of workers.
        seeds: the seeds, or an integer ``n`` meaning ``range(n)``.
        scheduler: ``None`` to start a local cluster; a scheduler address such as
            ``"tcp://10.0.0.1:8786"`` to connect a client for this call (the client is closed
            afterwards, the cluster is left alone); or a ``distributed.Client`` to use as is
            (it is not closed).
        n_workers: worker processes of the local cluster; default ``min(2, os.cpu_count())``.
            Only meaningful when ``scheduler`` is ``None``.
        threads_per_worker: threads in each local worker process.
        progress: show a ``tqdm`` progress bar as toys complete.
        description: label of the progress bar and prefix of the dask task keys.
        serial: run the toys one after the other in this process, without dask (for
            debugging and for checking the distributed results); ``scheduler``,
            ``n_workers`` and ``threads_per_worker`` are then ignored.

    Returns:
        ``[func(s) for s in seeds]``: one result per seed, in the order of ``seeds``
        whatever the order in which the toys finished.

    Raises:
        InvalidInputError: ``func`` is not callable, or ``seeds``, ``scheduler``,
            ``n_workers`` or ``threads_per_worker`` are malformed.
        RuntimeError: a toy raised; the message names its seed and the original error
            is chained as ``__cause__``.

    Example:
        >>> run_ensemble(lambda seed: seed * seed, 4, serial=True, progress=False)
        [0, 1, 4, 9]
    """
    if not callable(func):
        raise InvalidInputError(
            f"func must be a callable taking one integer seed, got {type(func).__name__}."
        )
    seed_list = _as_seed_list(seeds)
    threads = require_int(
        "threads_per_worker", threads_per_worker, low=1, hint="pass e.g. threads_per_worker=1."
    )
    if n_workers is not None:
        n_workers = require_int("n_workers", n_workers, low=1, hint="pass e.g. n_workers=2.")
    if serial:
        return _run_serial(func, seed_list, progress, description)
    if not seed_list:
        return []

    distributed = require("distributed", "all", "ensembles of toys")
    if scheduler is not None and n_workers is not None:
        raise InvalidInputError(
            "n_workers applies only to the local cluster started when scheduler is None; "
            "drop n_workers, or size the cluster behind the given scheduler yourself."
        )
    if isinstance(scheduler, distributed.Client):
        return _run_on_client(scheduler, func, seed_list, progress, description)
    if scheduler is not None and not isinstance(scheduler, str):
        raise InvalidInputError(
            f"scheduler must be None, a scheduler address string (e.g. 'tcp://host:8786') or "
            f"a distributed.Client, got {type(scheduler).__name__}."
        )

    with _client_for(distributed, scheduler, n_workers, threads) as client:
        return _run_on_client(client, func, seed_list, progress, description)


@contextlib.contextmanager
def _environment_restored() -> Iterator[None]:
    """Undo what a LocalCluster's nannies write into ``os.environ`` (OMP_NUM_THREADS=1, ...).

    They set it in THIS process before spawning workers; left in place, every subprocess
    started later (a notebook kernel, a compiler) would silently run single-threaded.
    """
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _client_for(
    distributed: Any, address: str | None, n_workers: int | None, threads: int
) -> Iterator[distributed.Client]:
    """A client to ``address``, or to a fresh local cluster; both closed on exit."""
    if address is not None:
        with distributed.Client(address) as client:
            yield client
        return
    workers = n_workers or min(2, os.cpu_count() or 1)
    with (
        _environment_restored(),
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.WARNING,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
