"""The curated notebooks: structure, a papermill run of each, and the cost of their defaults.

Every ``notebooks/*.ipynb`` is executed under papermill in a fresh kernel of *this*
interpreter (``tests/notebook_runner.py``). ``make test`` runs each on its teaching-default
code path with event counts cut (``CI_PARAMETERS``); the numbers each notebook records are
asserted in ``tests/test_notebook01.py``, ``test_notebook02_trigger.py``,
``test_notebook02_fpga.py``, ``test_notebook03a.py`` and ``test_notebook05.py``.
``make test-teaching`` (marker ``teaching``) runs every notebook with its untouched defaults
and fails above Binder's limits (5 min, 2 GB PSS summed over the kernel and its children).
"""

from __future__ import annotations

import nbformat
import pytest
from notebook_runner import (
    CI_MAX_WALL_S,
    CI_PARAMETERS,
    NOTEBOOK_DIR,
    NOTEBOOKS,
    TEACHING_MAX_PSS_MB,
    TEACHING_MAX_WALL_S,
    notebook_defaults,
)

#: Even the CI configuration must stay inside Binder's memory.
MAX_PEAK_MB = 2048.0


def test_notebooks_exist():
    stems = {p.stem for p in NOTEBOOKS}
    assert set(CI_PARAMETERS) <= stems, f"missing notebooks: {set(CI_PARAMETERS) - stems}"


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: committed with outputs"
            assert cell.execution_count is None, f"{path.name}: committed with execution counts"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert "You will learn" in first.source
    assert (
        sum(
            line.startswith("# ")
            for c in nb.cells
            if c.cell_type == "markdown"
            for line in c.source.splitlines()
        )
        == 1
    ), "exactly one H1 title"
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    params = nb.cells[tagged[0]]
    assert params.cell_type == "code"
    assert "results_path = None" in params.source.splitlines()
    above = nb.cells[tagged[0] - 1]
    assert above.cell_type == "markdown" and "smaller = faster" in above.source
    defaults = notebook_defaults(path.stem)
    for name in CI_PARAMETERS.get(path.stem, {}):
        assert name in defaults, f"{path.name}: no parameter {name!r}"


@pytest.mark.parametrize("stem", sorted(CI_PARAMETERS))
def test_ci_configuration_keeps_the_teaching_code_path(stem):
    """CI cuts only counts (events, calls, iterations, permutations, toys) and fixes the seed: every
    other parameter -- weights, operating point, widths, backend, device, flow size -- is the
    teaching default, so the path users run is the path CI tests."""
    counts = ("n_", "calls_per_iteration", "training_iterations", "final_iterations",
              "diagnostic_events", "seed")  # fmt: skip
    count_suffixes = ("_events", "_toys", "_iterations")  # e.g. nplm_toys, flow_events
    for name, value in CI_PARAMETERS[stem].items():
        is_count = name.startswith(counts) or name.endswith(count_suffixes) or name == "toys"
        assert is_count, (stem, name)
        default = notebook_defaults(stem)[name]
        assert isinstance(value, type(default)), (stem, name)
        if name != "seed":
            assert 0 < value <= default, (stem, name, value, default)


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, run_notebook):
    before = set(NOTEBOOK_DIR.iterdir())
    run = run_notebook(path.stem)
    record = run.record
    assert set(NOTEBOOK_DIR.iterdir()) == before, "a notebook wrote into the repository"
    assert record["notebook"] == path.stem
    assert record["versions"]["precml-widgets"]
    if record["peak_rss_mb"] is not None:
        assert 0 < record["peak_rss_mb"] < MAX_PEAK_MB
    if run.peak_pss_mb is not None:
        assert run.peak_pss_mb < MAX_PEAK_MB
    assert run.wall_s < CI_MAX_WALL_S, f"{path.stem}: {run.wall_s:.0f} s in the CI configuration"
    if path.stem == "04_likelihood_preservation":
        assert record["status"] == "outline"


@pytest.mark.teaching
@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_teaching_defaults_fit_binder(path, run_notebook):
    """The untouched defaults: <= 5 min and <= 2 GB PSS (kernel + Dask workers + g++)."""
    run = run_notebook(path.stem, mode="teaching")
    assert run.record["notebook"] == path.stem
    assert run.peak_pss_mb is not None, "PSS could not be read (needs psutil and /proc)"
    assert run.wall_s <= TEACHING_MAX_WALL_S, f"{path.stem}: {run.wall_s:.0f} s"
    assert run.peak_pss_mb <= TEACHING_MAX_PSS_MB, f"{path.stem}: {run.peak_pss_mb:.0f} MB"


@pytest.mark.notebook
@pytest.mark.slow
def test_index_lists_every_known_file(run_notebook):
    from precml_widgets.data import KNOWN_FILES, locate
    from precml_widgets.errors import DataNotFoundError

    record = run_notebook("00_index").record
    assert set(record["files"]) == set(KNOWN_FILES)
    for name, entry in record["files"].items():
        try:
            found = str(locate(name))
        except DataNotFoundError:
            found = None
        assert entry["path"] == found
        assert entry["found"] is (found is not None)
    assert record["n_found"] == sum(e["found"] for e in record["files"].values())
