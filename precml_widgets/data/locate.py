"""Find data files: explicit path, then the ``$PRECML_DATA`` folder, then package data."""

from __future__ import annotations

import os
from pathlib import Path

from precml_widgets.data.registry import DataFile, known_file
from precml_widgets.errors import DataNotFoundError

__all__ = ["DATA_ENV_VAR", "data_dir", "locate"]

DATA_ENV_VAR = "PRECML_DATA"
_REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The data folder: ``$PRECML_DATA`` if set, else ``../shared/data`` beside the repository."""
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return (_REPO_ROOT / ".." / "shared" / "data").resolve()


def _package_copy(entry: DataFile) -> Path | None:
    if entry.skhep_name is None:
        return None
    try:
        import skhep_testdata
    except ImportError:
        return None
    path = Path(skhep_testdata.__file__).parent / "data" / entry.skhep_name
    return path if path.is_file() else None


def locate(name_or_path: str | os.PathLike[str]) -> Path:
    """Return the path of a known data file (by name) or check an explicit path.

    Search order for a known name: the data folder (:func:`data_dir`), then the copy
    inside the ``scikit-hep-testdata==0.3.12`` wheel. Nothing is ever downloaded here.

    Args:
        name_or_path: a registry name such as ``"cms2010_zmumu"``, or a path to a file.

    Returns:
        The path of an existing file.

    Raises:
        DataNotFoundError: naming the file, the places searched, and how to get it.

    Example:
        >>> locate("cms2010_zmumu").name
        'uproot-Zmumu.root'
    """
    text = os.fspath(name_or_path)
    looks_like_path = os.sep in text or text.endswith((".root", ".json", ".gz"))
    if looks_like_path:
        path = Path(text).expanduser()
        if path.is_file():
            return path
        raise DataNotFoundError(
            f"data file {str(path)!r} does not exist. Check the path, or pass one of the known "
            "names (precml_widgets.data.KNOWN_FILES)."
        )
    entry = known_file(text)
    searched = [data_dir() / entry.relpath]
    if searched[0].is_file():
        return searched[0]
    package = _package_copy(entry)
    if package is not None:
        return package
    hint = (
        "pip install scikit-hep-testdata==0.3.12 (the last release that ships its files), or "
        if entry.skhep_name
        else ""
    )
    raise DataNotFoundError(
        f"data file {entry.name!r} ({entry.relpath}) was not found; searched: "
        f"{', '.join(str(p) for p in searched)}"
        f"{' and the scikit-hep-testdata wheel' if entry.skhep_name else ''}. To get it: {hint}"
        f"set {DATA_ENV_VAR} to a folder that holds {entry.relpath}, or download it explicitly "
        f"with: python -m precml_widgets.data fetch {entry.name}"
    )
