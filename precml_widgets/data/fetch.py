"""Explicit, checksummed download of known data files from their publishers.

Nothing in precml calls this implicitly: a user (or Binder's ``postBuild``) runs it.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from precml_widgets._io import atomic_open
from precml_widgets.data.locate import data_dir
from precml_widgets.data.registry import KNOWN_FILES, known_file
from precml_widgets.errors import DataNotFoundError, PrecmlError

__all__ = ["fetch", "missing_files"]


def missing_files() -> list[str]:
    """Names of known files that are neither in the data folder nor in package data."""
    from precml_widgets.data.locate import locate

    missing = []
    for name in KNOWN_FILES:
        try:
            locate(name)
        except DataNotFoundError:
            missing.append(name)
    return missing


def fetch(
    name: str, *, dest: str | os.PathLike[str] | None = None, timeout_s: float = 60.0
) -> Path:
    """Download the known file ``name`` into the data folder and verify its SHA-256.

    The file is written through :func:`precml_widgets._io.atomic_open`: to a temporary file
    first, renamed over the target only once the checksum matches, so no half-written or
    corrupt file is ever left behind.

    Args:
        name: registry name, e.g. ``"atlas2016_4lep_a"``.
        dest: data folder to write into (default: :func:`data_dir`).
        timeout_s: network timeout in seconds.

    Returns:
        The path of the verified file.

    Raises:
        DataNotFoundError: ``name`` has no single download location.
        PrecmlError: the download failed or its SHA-256 does not match the registry.
    """
    entry = known_file(name)
    target = Path(dest or data_dir()) / entry.relpath
    if not entry.url:
        raise DataNotFoundError(
            f"{entry.name!r} ({entry.relpath}) has no single download location: it was collected "
            f"from {entry.source}. Put the precml shared data folder at {data_dir()} or point "
            "$PRECML_DATA at a copy of it."
        )
    if target.is_file() and _sha256(target) == entry.sha256:
        return target
    try:
        with (
            atomic_open(target, "wb", make_parents=True, suffix=".part") as out,
            urllib.request.urlopen(entry.url, timeout=timeout_s) as response,
        ):
            digest = hashlib.sha256()
            while chunk := response.read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
            if digest.hexdigest() != entry.sha256:
                raise PrecmlError(
                    f"download of {entry.name!r} from {entry.url} has SHA-256 "
                    f"{digest.hexdigest()}, expected {entry.sha256}; the file was discarded. The "
                    "publisher may have changed the file: get it from the source named in the "
                    "data documentation."
                )
    except OSError as exc:
        raise PrecmlError(
            f"could not download {entry.name!r} from {entry.url}: {exc}. Check the network, or "
            f"copy the file by hand to {target}."
        ) from exc
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 16):
            digest.update(chunk)
    return digest.hexdigest()
