"""Sphinx configuration for the precml documentation (``make docs``).

The site is built offline: no intersphinx, nothing fetched at build time. Notebooks are shown
as committed (``nb_execution_mode = "off"``); the test suite executes them under papermill.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import precml_widgets

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

# -- notebooks ------------------------------------------------------------------------------------
# The notebooks live in ../notebooks; Sphinx only reads files below docs/, so copy them into
# docs/notebooks/ (gitignored) on every build, dropping copies of deleted notebooks. Images next
# to the notebooks (static snapshots of the dashboards) come along so relative links still work.
NOTEBOOK_ASSETS = {".ipynb", ".png", ".svg", ".jpg", ".jpeg", ".gif"}


def _copy_notebooks() -> None:
    source, target = ROOT / "notebooks", DOCS / "notebooks"
    shutil.rmtree(target, ignore_errors=True)
    if not source.is_dir():
        return
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part.startswith(".") for part in relative.parts):  # .ipynb_checkpoints, ...
            continue
        if path.is_file() and path.suffix.lower() in NOTEBOOK_ASSETS:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / relative)


_copy_notebooks()

# -- project --------------------------------------------------------------------------------------
project = "precml"
author = "the precml developers"
copyright = "2026, the precml developers"
release = precml_widgets.__version__
version = ".".join(release.split(".")[:2])

# -- general --------------------------------------------------------------------------------------
extensions = [
    "myst_nb",  # Markdown (MyST) pages and .ipynb notebooks; includes myst_parser
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    # sphinx.ext.intersphinx is deliberately off: it downloads inventories at build time.
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
root_doc = "index"

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Notebooks are rendered with the outputs they were committed with.
nb_execution_mode = "off"
nb_merge_streams = True

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autosummary_generate = False  # the API page uses automodule; no stub files are generated
napoleon_google_docstring = True
napoleon_numpy_docstring = True

# No warnings are suppressed: `make docs` and tests/test_docs.py build with -W (warnings are
# errors), so a broken reference, a missing module or a notebook that fails to parse shows up.
suppress_warnings: list[str] = []

# -- HTML -----------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "precml"
html_static_path = ["_static"]
html_theme_options = {
    "github_url": "https://github.com/precml/precml",
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "auto"}
