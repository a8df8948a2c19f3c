"""Find data files: explicit path, then the data folder, then copies shipped with packages.

Nothing here downloads: a file that is missing is reported with one sentence that names it and
the command that fetches it (:func:`missing_data_message`), the same sentence in the command
line, the notebooks and the dashboards.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from precml_widgets.data.registry import FETCH_COMMAND, DataFile, group_members, known_file
from precml_widgets.errors import DataNotFoundError, InvalidInputError

__all__ = [
    "DATA_ENV_VAR",
    "ORIGINS",
    "PACKAGE_DIR",
    "USER_DATA_DIR",
    "Found",
    "damaged",
    "data_dir",
    "find",
    "is_available",
    "locate",
    "missing_data_message",
]

DATA_ENV_VAR = "PRECML_DATA"
_REPO_ROOT = Path(__file__).resolve().parents[2]
#: The ``precml_widgets`` package folder: a registry entry's ``packaged`` path is below it.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: The data folder outside a project checkout (also Binder's): ``~/.precml/data``.
USER_DATA_DIR = Path("~/.precml/data")

#: ``Found.origin`` values, in search order.
ORIGINS = ("data folder", "packaged", "scikit-hep-testdata wheel")


@dataclass(frozen=True)
class Found:
    """Where a known file was found.

    Attributes:
        path: the existing file.
        origin: ``"data folder"``, ``"packaged"`` (shipped inside precml) or
            ``"scikit-hep-testdata wheel"``.
    """

    path: Path
    origin: str


def data_dir() -> Path:
    """The data folder.

    ``$PRECML_DATA`` if set; else ``../shared/data`` beside the repository when that folder
    exists (the project's own machines and CI); else ``~/.precml/data`` (a fresh clone or a
    pip install: where ``python -m precml_widgets.data fetch`` puts files, as on Binder).
    """
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    shared = (_REPO_ROOT / ".." / "shared" / "data").resolve()
    return shared if shared.is_dir() else USER_DATA_DIR.expanduser()


def _wheel_copy(entry: DataFile) -> Path | None:
    if entry.skhep_name is None:
        return None
    try:
        import skhep_testdata
    except ImportError:
        return None
    path = Path(skhep_testdata.__file__).parent / "data" / entry.skhep_name
    return path if path.is_file() else None


def find(name: str) -> Found | None:
    """Where the known file ``name`` is, or ``None``: the data folder, then package copies.

    A data-folder copy counts only when its size is the registry's (see :func:`damaged`).

    Args:
        name: a registry name such as ``"cms2010_zmumu"``.

    Raises:
        InvalidInputError: ``name`` is not a known file.

    Example:
        >>> find("hls4ml_synthesis_table").path.name in ("table.csv", "synthesis_table.csv")
        True
    """
    entry = known_file(name)
    in_folder = data_dir() / entry.relpath
    if in_folder.is_file() and _size(in_folder) == entry.size:
        return Found(in_folder, ORIGINS[0])
    if entry.packaged is not None and (PACKAGE_DIR / entry.packaged).is_file():
        return Found(PACKAGE_DIR / entry.packaged, ORIGINS[1])
    wheel = _wheel_copy(entry)
    return Found(wheel, ORIGINS[2]) if wheel is not None else None


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def damaged(name: str) -> str | None:
    """Why the data folder's copy of ``name`` is not used, or ``None`` (absent or the right size).

    A copy whose size differs from the registry's (a partial download, a file cut short or
    replaced) is skipped by :func:`find`, so ``fetch --missing`` replaces it; only the size is
    compared here (cheap), the full SHA-256 is checked when fetching.

    Returns:
        e.g. ``"'/data/x.root' has 1024 bytes, not 2048"``.
    """
    entry = known_file(name)
    in_folder = data_dir() / entry.relpath
    if not in_folder.is_file():
        return None
    size = _size(in_folder)
    if size == entry.size:
        return None
    have = "cannot be read" if size is None else f"has {size} bytes"
    return f"{str(in_folder)!r} {have}, not {entry.size}"


def is_available(name: str) -> bool:
    """Whether every file of ``name`` (a known file or a group such as ``"atlas2016_4lep"``)
    is found here."""
    return all(find(n) is not None for n in group_members(name))


def missing_data_message(*names: str) -> str:
    """One sentence naming the missing files and the command that fetches them.

    Args:
        names: registry names or groups (``"atlas2016_4lep"``); of a group only the files
            not found are named (all of them when every one is found).

    Returns:
        The sentence without a final full stop (callers prefix what is skipped), e.g.::

            missing data file 'hls4ml_jet_tagger_weights' (KERAS_3layer_weights.h5): fetch it
            with `python -m precml_widgets.data fetch hls4ml_jet_tagger_weights`

    Example:
        >>> missing_data_message("cms2012_doublemu")  # doctest: +ELLIPSIS
        "missing data file 'cms2012_doublemu' (Run2012BC_...root): fetch it with `python -m ..."
    """
    wanted: list[str] = []
    for name in names:
        members = group_members(name)
        absent = [n for n in members if find(n) is None] or list(members)
        wanted += [n for n in absent if n not in wanted]
    if not wanted:
        raise InvalidInputError("missing_data_message needs at least one registry name or group")
    files = ", ".join(f"{n!r} ({Path(known_file(n).relpath).name})" for n in wanted)
    plural = len(wanted) > 1
    return (
        f"missing data file{'s' if plural else ''} {files}: fetch {'them' if plural else 'it'} "
        f"with `{FETCH_COMMAND} {' '.join(wanted)}`"
    )


def locate(name_or_path: str | os.PathLike[str]) -> Path:
    """Return the path of a known data file (by name) or check an explicit path.

    Search order for a known name: the data folder (:func:`data_dir`), then a copy shipped
    inside precml (``DataFile.packaged``), then the copy inside the
    ``scikit-hep-testdata==0.3.12`` wheel. Nothing is ever downloaded here.

    Args:
        name_or_path: a registry name such as ``"cms2010_zmumu"``, or a path to a file.

    Returns:
        The path of an existing file.

    Raises:
        DataNotFoundError: starting with :func:`missing_data_message` (the file and the
            command that fetches it), then the places searched.

    Example:
        >>> locate("cms2010_zmumu").name
        'uproot-Zmumu.root'
    """
    text = os.fspath(name_or_path)
    looks_like_path = os.sep in text or text.endswith((".root", ".json", ".gz", ".csv", ".h5"))
    if looks_like_path:
        path = Path(text).expanduser()
        if path.is_file():
            return path
        raise DataNotFoundError(
            f"data file {str(path)!r} does not exist. Check the path, or pass one of the known "
            "names (precml_widgets.data.KNOWN_FILES)."
        )
    found = find(text)
    if found is not None:
        return found.path
    entry = known_file(text)
    folder = data_dir()
    wheel = " or the scikit-hep-testdata==0.3.12 wheel" if entry.skhep_name else ""
    state = "" if folder.is_dir() else ", which does not exist"
    broken = damaged(entry.name)
    where = (
        f"damaged in the data folder: {broken}" if broken else f"not in the data folder {folder}"
    )
    raise DataNotFoundError(
        f"{missing_data_message(entry.name)} ({where}{state}{wheel}; "
        f"or set {DATA_ENV_VAR} to a folder that holds {entry.relpath})."
    )
