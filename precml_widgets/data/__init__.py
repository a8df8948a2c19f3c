"""Real HEP data: where files are found, how they are read, and how to fetch them explicitly."""

from __future__ import annotations

from precml_widgets.data.fetch import FetchResult, fetch, fetch_many, missing_files
from precml_widgets.data.locate import (
    DATA_ENV_VAR,
    Found,
    damaged,
    data_dir,
    find,
    is_available,
    locate,
    missing_data_message,
)
from precml_widgets.data.registry import (
    FETCH_COMMAND,
    FILE_GROUPS,
    KNOWN_FILES,
    DataFile,
    group_members,
    known_file,
)
from precml_widgets.data.root import read_branches

__all__ = [
    "DATA_ENV_VAR",
    "FETCH_COMMAND",
    "FILE_GROUPS",
    "KNOWN_FILES",
    "DataFile",
    "FetchResult",
    "Found",
    "damaged",
    "data_dir",
    "fetch",
    "fetch_many",
    "find",
    "group_members",
    "is_available",
    "known_file",
    "locate",
    "missing_data_message",
    "missing_files",
    "read_branches",
]
