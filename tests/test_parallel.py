"""Tests of precml_widgets.parallel: ensembles of toys on dask.distributed."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from precml_widgets.errors import InvalidInputError
from precml_widgets.parallel import run_ensemble

# The toys are top-level functions of this module. distributed ships them with cloudpickle,
# by reference, so the workers import this module: that works because the worker processes
# are spawned with this process's sys.path, where pytest has put the tests directory.


def mean_of_normals(seed: int) -> float:
    """A toy: the mean of 1000 standard normals drawn from the given seed."""
    return float(np.random.default_rng(seed).normal(size=1000).mean())


def fail_on_seed_3(seed: int) -> float:
    """A toy that fails for seed 3 only."""
    if seed == 3:
        raise ValueError("bad toy")
    return float(seed)


@pytest.fixture(scope="module")
def user_client():
    """A Client on a 1-worker LocalCluster started by the 'user', shared by the tests."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=2,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.mark.slow
def test_local_cluster_equals_serial_in_seed_order():
    seeds = [7, 3, 11, 0, 5, 2, 13, 1]  # deliberately not sorted
    serial = run_ensemble(mean_of_normals, seeds, serial=True, progress=False)
    parallel = run_ensemble(mean_of_normals, seeds, n_workers=2, progress=False)
    assert np.array_equal(np.array(parallel), np.array(serial))
    assert serial == [mean_of_normals(s) for s in seeds]


@pytest.mark.slow
def test_user_client_is_used_and_left_open(user_client):
    results = run_ensemble(
        mean_of_normals, 6, scheduler=user_client, progress=False, description="user-toys"
    )
    assert results == [mean_of_normals(s) for s in range(6)]
    assert user_client.status == "running"
    # the tasks ran on the user's cluster: its scheduler knows their key prefix
    prefixes = user_client.run_on_scheduler(
        lambda dask_scheduler: list(dask_scheduler.task_prefixes)
    )
    assert "user-toys" in prefixes
    # and the client still works afterwards
    assert user_client.submit(sum, [1, 2], pure=False).result() == 3


@pytest.mark.slow
def test_failing_toy_names_its_seed_distributed(user_client):
    with pytest.raises(RuntimeError, match="toy with seed 3 failed: ValueError: bad toy") as info:
        run_ensemble(fail_on_seed_3, range(6), scheduler=user_client, progress=False)
    assert isinstance(info.value.__cause__, ValueError)
    assert user_client.status == "running"


def test_failing_toy_names_its_seed_serial():
    with pytest.raises(RuntimeError, match="toy with seed 3 failed") as info:
        run_ensemble(fail_on_seed_3, [5, 3, 1], serial=True, progress=False)
    assert isinstance(info.value.__cause__, ValueError)


def test_seeds_int_means_range_and_empty_is_empty():
    assert run_ensemble(float, 3, serial=True, progress=False) == [0.0, 1.0, 2.0]
    assert run_ensemble(float, np.array([4, 2]), serial=True, progress=False) == [4.0, 2.0]
    assert run_ensemble(float, 0, progress=False) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seeds": -1}, "seeds"),
        ({"seeds": [1, 2.5]}, r"seeds\[1\]"),
        ({"seeds": "12"}, "seeds"),
        ({"seeds": 3, "n_workers": 0}, "n_workers"),
        ({"seeds": 3, "threads_per_worker": 0}, "threads_per_worker"),
        ({"seeds": 3, "scheduler": 42}, "scheduler"),
        ({"seeds": 3, "scheduler": "tcp://127.0.0.1:1", "n_workers": 2}, "n_workers"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        run_ensemble(float, progress=False, **kwargs)


def test_module_import_does_not_import_dask():
    import subprocess
    import sys

    code = "import sys, precml_widgets.parallel; print('distributed' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_local_cluster_leaves_the_environment_alone():
    """The nannies set OMP_NUM_THREADS=1 etc. in this process; run_ensemble must undo it."""
    import os

    before = dict(os.environ)
    run_ensemble(abs, 3, n_workers=2, progress=False)
    assert dict(os.environ) == before
