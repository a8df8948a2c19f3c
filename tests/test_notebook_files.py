"""The notebook files: reviewable as text, and saved without noise.

* Each ``notebooks/NAME.ipynb`` has a jupytext ``py:percent`` twin ``notebooks/NAME.py``
  (pyproject.toml's ``[tool.jupytext]``) holding the same cells: same kinds, same sources, same
  tags. ``make sync-notebooks`` (``jupytext --sync``) repairs a pair that drifted apart.
* Opening and saving an unchanged notebook leaves no diff: the committed file is exactly what
  jupyter_server's ContentsManager (what JupyterLab's save calls) writes back, with the
  pre-save hook that ``make lab`` installs (ci/jupyter_server_config.py) and without it, and
  also when the browser sends the metadata JupyterLab adds from its kernel and interface.
  ``make normalise-notebooks`` (ci/normalise_notebooks.py) repairs a notebook that is not.
"""

from __future__ import annotations

import copy
import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: Cell metadata a reader of the .py must see too (papermill's ``parameters`` tag, ...).
MEANINGFUL_CELL_METADATA = ("tags",)


def load_normaliser() -> ModuleType:
    """ci/normalise_notebooks.py as a module (ci/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "normalise_notebooks", ROOT / "ci" / "normalise_notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cells(notebook) -> list[tuple[str, str, dict]]:
    """``(kind, source, meaningful metadata)`` of every cell."""
    return [
        (
            cell.cell_type,
            cell.source,
            {k: cell.metadata[k] for k in MEANINGFUL_CELL_METADATA if k in cell.metadata},
        )
        for cell in notebook.cells
    ]


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_and_its_py_percent_twin_hold_the_same_cells(path):
    jupytext = pytest.importorskip("jupytext")
    twin = path.with_suffix(".py")
    assert twin.is_file(), (
        f"{twin.relative_to(ROOT)} is missing: every notebook has a py:percent twin for review; "
        "run `make sync-notebooks`."
    )
    expected = cells(jupytext.read(path))
    actual = cells(jupytext.read(twin, fmt="py:percent"))
    for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
        assert got == want, (
            f"{path.name} cell {index} ({want[0]}) differs from {twin.name}; the pair is out "
            f"of sync: run `make sync-notebooks`.\n--- .ipynb:\n{want[1][:800]}\n--- .py:\n"
            f"{got[1][:800]}\n(metadata {want[2]} vs {got[2]})"
        )
    assert len(actual) == len(expected), (
        f"{path.name} has {len(expected)} cells, {twin.name} {len(actual)}; the pair is out of "
        "sync: run `make sync-notebooks`."
    )


def test_jupytext_pairs_the_notebooks_folder():
    jupytext_config = pytest.importorskip("jupytext.config")
    config = jupytext_config.load_jupytext_config(str(NOTEBOOK_DIR))
    assert config is not None, "no jupytext configuration found (pyproject.toml [tool.jupytext])"
    assert config.default_formats(str(NOTEBOOKS[0])) == "notebooks///ipynb,notebooks///py:percent"


def lab_metadata(notebook: dict) -> dict:
    """``notebook`` with what a JupyterLab save adds from the kernel and the interface."""
    sent = copy.deepcopy(notebook)
    sent["metadata"]["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    sent["metadata"]["language_info"] = {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": "3.11.99",
    }
    sent["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    for cell in sent["cells"]:
        cell["metadata"]["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00.000000Z"}
        if cell["cell_type"] == "markdown":
            cell["metadata"]["jp-MarkdownHeadingCollapsed"] = True
    return sent


@pytest.mark.parametrize("hook", ["plain", "make-lab"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_opening_and_saving_a_notebook_leaves_no_diff(path, hook, tmp_path):
    filemanager = pytest.importorskip("jupyter_server.services.contents.filemanager")
    shutil.copy(path, tmp_path / path.name)
    manager = filemanager.FileContentsManager(root_dir=str(tmp_path))
    if hook == "make-lab":  # what ci/jupyter_server_config.py installs
        manager.register_pre_save_hook(load_normaliser().pre_save_hook)
    model = manager.get(path.name, content=True, type="notebook")
    manager.save({"type": "notebook", "format": "json", "content": model["content"]}, "saved.ipynb")
    assert (tmp_path / "saved.ipynb").read_bytes() == path.read_bytes(), (
        f"opening and saving {path.relative_to(ROOT)} through jupyter_server changes it "
        f"({hook} save); run `make normalise-notebooks` and commit the result."
    )
    if hook == "make-lab":
        sent = lab_metadata(dict(model["content"]))
        manager.save({"type": "notebook", "format": "json", "content": sent}, "from_lab.ipynb")
        assert (tmp_path / "from_lab.ipynb").read_bytes() == path.read_bytes(), (
            f"a JupyterLab save of the unchanged {path.relative_to(ROOT)} (under `make lab`) "
            "changes it; run `make normalise-notebooks` and commit the result."
        )


def test_normaliser_is_idempotent_and_keeps_content(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    normaliser = load_normaliser()
    source = NOTEBOOKS[0]
    noisy = lab_metadata(nbformat.read(source, as_version=4))
    target = tmp_path / source.name
    nbformat.write(nbformat.from_dict(noisy), target)
    assert normaliser.main([str(target)]) == 0
    once = target.read_bytes()
    assert normaliser.main(["--check", str(target)]) == 0
    assert target.read_bytes() == once
    clean = nbformat.read(target, as_version=4)
    assert clean.metadata.language_info == {"name": "python"}
    assert "widgets" not in clean.metadata
    assert cells(clean) == cells(nbformat.read(source, as_version=4))


def test_every_py_twin_has_its_notebook():
    orphans = [
        p.relative_to(ROOT).as_posix()
        for p in sorted(NOTEBOOK_DIR.glob("*.py"))
        if not p.with_suffix(".ipynb").is_file()
    ]
    assert not orphans, (
        f"py:percent files without their notebook: {orphans}; a notebook was renamed or "
        "deleted: rename or delete its .py twin too."
    )


def test_make_lab_installs_the_pre_save_hook():
    loader = pytest.importorskip("traitlets.config.loader")
    config = loader.PyFileConfigLoader(
        "jupyter_server_config.py", path=str(ROOT / "ci")
    ).load_config()
    hook = config.ContentsManager.pre_save_hook
    assert callable(hook) and hook.__name__ == "pre_save_hook"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "--config=" in recipe and "ci/jupyter_server_config.py" in recipe, (
        "`make lab` must start JupyterLab with --config=ci/jupyter_server_config.py"
    )
