"""Store the notebooks in one canonical form, so that opening and saving one leaves no diff.

JupyterLab's save writes what the browser holds: besides the cells it fills in metadata from
the running kernel (``language_info`` with the Python patch version, the kernel's display
name) and from the user interface (collapsed headings, execution timings, widget state).
None of it belongs in the repository, and the version numbers differ from machine to machine.

The canonical form is nbformat's JSON (what jupyter_server writes: one-space indent, sorted
keys, a final newline) with

* ``kernelspec``: ``{"display_name": "Python 3 (ipykernel)", "language": "python",
  "name": "python3"}`` (ipykernel's own spec) for a Python 3 kernel;
* ``language_info``: ``{"name": "python"}`` only;
* no ``widgets`` or ``jupytext`` notebook metadata (the jupytext pairing lives in
  pyproject.toml's ``[tool.jupytext]``);
* no user-interface cell metadata (``collapsed``, ``scrolled``, ``execution``,
  ``jp-MarkdownHeadingCollapsed``); tags and everything else stay.

Outputs are not touched: running a notebook changes it, opening and saving it does not.

Uses:

* ``python ci/normalise_notebooks.py notebooks/*.ipynb`` rewrites the files in canonical form
  (``make normalise-notebooks``); ``--check`` only lists those that are not and exits 1.
* :func:`pre_save_hook` is jupyter_server's ``ContentsManager.pre_save_hook`` under ``make lab``
  (ci/jupyter_server_config.py): every save from JupyterLab writes the canonical form.
* tests/test_notebook_files.py checks that the committed notebooks are canonical.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import nbformat

from precml_widgets._io import write_text

#: ipykernel's kernel spec, as JupyterLab writes it for a Python 3 kernel.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
#: The part of ``language_info`` that does not depend on the machine.
LANGUAGE_INFO = {"name": "python"}
#: Notebook metadata that JupyterLab or its extensions add and the repository does not keep.
DROPPED_NOTEBOOK_METADATA = ("widgets", "jupytext")
#: Cell metadata that records user-interface state, not content.
DROPPED_CELL_METADATA = ("collapsed", "scrolled", "execution", "jp-MarkdownHeadingCollapsed")


def canonicalise(notebook: dict[str, Any]) -> dict[str, Any]:
    """Put a notebook (a JSON dict or :class:`nbformat.NotebookNode`) in canonical form, in place.

    Returns:
        The same object, for chaining.
    """
    metadata = notebook.setdefault("metadata", {})
    kernelspec = metadata.get("kernelspec")
    if kernelspec is None or kernelspec.get("name") == "python3":
        metadata["kernelspec"] = dict(KERNELSPEC)
    if metadata.get("language_info", LANGUAGE_INFO).get("name") == "python":
        metadata["language_info"] = dict(LANGUAGE_INFO)
    for key in DROPPED_NOTEBOOK_METADATA:
        metadata.pop(key, None)
    for cell in notebook.get("cells", []):
        cell_metadata = cell.get("metadata", {})
        for key in DROPPED_CELL_METADATA:
            cell_metadata.pop(key, None)
    return notebook


def canonical_text(path: Path) -> str:
    """The canonical JSON text of the notebook at ``path`` (what the file should hold)."""
    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    return nbformat.writes(canonicalise(notebook), version=nbformat.NO_CONVERT) + "\n"


def pre_save_hook(model: dict[str, Any], **kwargs: Any) -> None:
    """jupyter_server's ``ContentsManager.pre_save_hook``: save notebooks in canonical form."""
    if model.get("type") == "notebook" and isinstance(model.get("content"), dict):
        canonicalise(model["content"])


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check`` list) the notebooks that are not in canonical form."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="only list, exit 1 if any differ")
    args = parser.parse_args(argv)
    differing = []
    for path in args.notebooks:
        text = canonical_text(path)
        if path.read_text(encoding="utf-8") == text:
            continue
        differing.append(path)
        if not args.check:
            write_text(path, text)
    verb = "not canonical" if args.check else "normalised"
    for path in differing:
        print(f"{verb}: {path}")
    return 1 if args.check and differing else 0


if __name__ == "__main__":
    sys.exit(main())
