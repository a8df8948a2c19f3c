"""Real HEP data: where files are found, how they are read, and how to fetch them explicitly."""

from __future__ import annotations

from precml_widgets.data.fetch import fetch, missing_files
from precml_widgets.data.locate import DATA_ENV_VAR, data_dir, locate
from precml_widgets.data.registry import KNOWN_FILES, DataFile, known_file
from precml_widgets.data.root import read_branches

__all__ = [
    "DATA_ENV_VAR",
    "KNOWN_FILES",
    "DataFile",
    "data_dir",
    "fetch",
    "known_file",
    "locate",
    "missing_files",
    "read_branches",
]
