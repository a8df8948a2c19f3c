"""Explicit, checksummed download of known data files from their publishers.

Nothing in precml calls this implicitly: a user runs ``python -m precml_widgets.data fetch``
(or Binder's ``postBuild`` does).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from precml_widgets._io import atomic_open
from precml_widgets.data.locate import DATA_ENV_VAR, PACKAGE_DIR, damaged, data_dir, find
from precml_widgets.data.registry import KNOWN_FILES, DataFile, known_file
from precml_widgets.errors import PrecmlError

__all__ = ["FetchResult", "fetch", "fetch_many", "missing_files"]

_CHUNK = 1 << 16


def missing_files() -> list[str]:
    """Names of known files to fetch: found nowhere (not in the data folder, not shipped in a
    package), or whose data-folder copy has the wrong size (:func:`~.locate.damaged`)."""
    return [name for name in KNOWN_FILES if find(name) is None or damaged(name) is not None]


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_many` did with one file.

    Attributes:
        name: registry name.
        status: ``"fetched"``, ``"present"`` (already there with the right checksum),
            ``"packaged"`` (shipped inside precml, nothing to download) or ``"failed"``.
        path: the file, or ``None`` when it failed.
        error: the failure's message (it names the file, the addresses, the errors and the
            manual fix), else ``None``.
    """

    name: str
    status: str
    path: Path | None
    error: str | None = None


class _ChecksumMismatch(Exception):
    """The address served other bytes (or more bytes) than the registry's: try the next one."""


class _NetworkError(Exception):
    """Connecting to or reading from an address failed: try the next one."""


def _network(call: Callable[..., object], *args: object, **kwargs: object) -> object:
    """``call(*args, **kwargs)`` with every network failure (``OSError``, which includes
    ``URLError`` and timeouts, and ``http.client.HTTPException``: ``IncompleteRead``,
    ``LineTooLong``, ``InvalidURL``, ...) raised as :class:`_NetworkError`."""
    try:
        return call(*args, **kwargs)
    except (OSError, http.client.HTTPException) as exc:
        raise _NetworkError(str(exc) or type(exc).__name__) from exc


def _download(
    url: str,
    target: Path,
    entry: DataFile,
    timeout_s: float,
    on_bytes: Callable[[int], object] | None,
) -> None:
    """Stream ``url`` into ``target`` (atomically).

    Raises:
        _NetworkError: the address failed (the caller tries the next one).
        _ChecksumMismatch: it served more than ``entry.size`` bytes (the download is cut off
            there) or bytes with another SHA-256.
        OSError, PrecmlError: writing the local file failed (full disk, permissions): no
            other address can help.
    """
    received = 0
    try:
        with atomic_open(target, "wb", suffix=".part") as out:
            response = _network(urllib.request.urlopen, url, timeout=timeout_s)
            with response:  # type: ignore[attr-defined]
                digest = hashlib.sha256()
                while chunk := _network(response.read, _CHUNK):  # type: ignore[attr-defined]
                    if received + len(chunk) > entry.size:
                        raise _ChecksumMismatch(
                            f"served more than the {entry.size} bytes expected; aborted"
                        )
                    digest.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
                    if on_bytes is not None:
                        on_bytes(len(chunk))
            if digest.hexdigest() != entry.sha256:
                raise _ChecksumMismatch(
                    f"served {received} bytes with SHA-256 {digest.hexdigest()}, expected "
                    f"{entry.sha256} ({entry.size} bytes); discarded"
                )
    except BaseException:
        if on_bytes is not None and received:
            on_bytes(-received)  # the bar counts verified bytes only
        raise


def fetch(
    name: str,
    *,
    dest: str | os.PathLike[str] | None = None,
    timeout_s: float = 60.0,
    on_bytes: Callable[[int], object] | None = None,
) -> Path:
    """Download the known file ``name`` into the data folder and verify its SHA-256.

    The publisher's address is tried first, then the registry's mirrors. Each download goes
    through :func:`precml_widgets._io.atomic_open`: to a temporary file first, renamed over
    the target only once the checksum matches, so no half-written or corrupt file is left.

    Args:
        name: registry name, e.g. ``"atlas2016_4lep_a"``.
        dest: data folder to write into (default: :func:`data_dir`).
        timeout_s: network timeout in seconds, per address.
        on_bytes: called with the number of bytes received (negative to take back the bytes
            of a failed attempt), e.g. a progress bar's ``update``.

    Returns:
        The path of the verified file; for a file shipped inside precml, the packaged copy
        (nothing is downloaded).

    Raises:
        PrecmlError: the folder cannot be written, or every address failed; the message names
            the file, each address and its error, and how to get the file by hand.
    """
    entry = known_file(name)
    if entry.packaged is not None:
        found = find(name)
        if found is None:
            raise PrecmlError(
                f"{entry.name!r} ships inside precml ({PACKAGE_DIR / entry.packaged}) but that "
                "copy is missing: reinstall precml-widgets (pip install --force-reinstall)."
            )
        return found.path
    folder = Path(dest).expanduser() if dest is not None else data_dir()
    target = folder / entry.relpath
    if target.is_file() and _sha256(target) == entry.sha256:
        return target
    created = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
    fix = (
        f"Set {DATA_ENV_VAR} to a folder you can write (e.g. export {DATA_ENV_VAR}=~/precml-data) "
        "and run the command again."
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        writable = os.access(target.parent, os.W_OK)
    except OSError as exc:
        writable, why = False, str(exc)
    else:
        why = "permission denied"
    if not writable:
        _remove_folders(created)
        raise PrecmlError(
            f"cannot write {entry.name!r} into the data folder {folder}: {why}. {fix}"
        )
    _remove_stale_parts(target, timeout_s)
    errors = []
    for url in entry.urls:
        try:
            _download(url, target, entry, timeout_s, on_bytes)
        except (_NetworkError, _ChecksumMismatch) as exc:
            errors.append(f"{url}: {exc}")
            continue
        except (OSError, PrecmlError) as exc:  # the local disk: no other address can help
            _remove_folders(created)
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise PrecmlError(
                f"cannot write {entry.name!r} as {target}: {why} (while downloading {url}). "
                f"Free some space or {fix[0].lower()}{fix[1:]}"
            ) from None
        return target
    _remove_folders(created)  # leave no empty folders behind either
    tried = "; ".join(errors) or "the registry has no address for it"
    first = entry.urls[0] if entry.urls else entry.source
    raise PrecmlError(
        f"could not fetch {entry.name!r} ({entry.relpath}): {tried}. Check the network and run "
        f"the command again, or download the file by hand from {first}, check that its SHA-256 "
        f"is {entry.sha256}, and save it as {target}."
    )


def fetch_many(
    names: Sequence[str],
    *,
    dest: str | os.PathLike[str] | None = None,
    timeout_s: float = 60.0,
    progress: bool = True,
) -> list[FetchResult]:
    """Fetch several known files with one progress bar (bytes); a failure does not stop the rest.

    Args:
        names: registry names (e.g. :func:`missing_files`).
        dest: data folder to write into (default: :func:`data_dir`).
        timeout_s: network timeout in seconds, per address.
        progress: show a ``tqdm.auto`` bar of the bytes to download.

    Returns:
        One :class:`FetchResult` per name, in order.
    """
    entries = [known_file(n) for n in names]
    folder = Path(dest).expanduser() if dest is not None else data_dir()
    present = {
        e.name
        for e in entries
        if e.packaged is None
        and (folder / e.relpath).is_file()
        and _sha256(folder / e.relpath) == e.sha256
    }
    total = sum(e.size for e in entries if e.packaged is None and e.name not in present)
    bar = None
    if progress and total:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="fetch")
    results = []
    try:
        for entry in entries:
            try:
                path = fetch(entry.name, dest=folder, timeout_s=timeout_s,
                             on_bytes=None if bar is None else bar.update)  # fmt: skip
            except PrecmlError as exc:
                results.append(FetchResult(entry.name, "failed", None, str(exc)))
                continue
            if entry.packaged is not None and path != folder / entry.relpath:
                status = "packaged"
            else:
                status = "present" if entry.name in present else "fetched"
            results.append(FetchResult(entry.name, status, path))
    finally:
        if bar is not None:
            bar.close()
    return results


def _remove_folders(created: Sequence[Path]) -> None:
    """Remove the folders a failed fetch created (deepest first), where still empty."""
    for folder_made in created:
        with contextlib.suppress(OSError):
            folder_made.rmdir()


def _remove_stale_parts(target: Path, timeout_s: float) -> None:
    """Remove the hidden ``.NAME.*.part`` files an interrupted fetch of ``target`` left.

    A live download writes to its ``.part`` file at least once per ``timeout_s`` (a read
    that waits longer fails), so one untouched for longer than that plus a minute is stale.
    """
    cutoff = time.time() - timeout_s - 60.0
    for part in target.parent.glob(f".{target.name}.*.part"):
        with contextlib.suppress(OSError):
            if part.is_file() and part.stat().st_mtime < cutoff:
                part.unlink()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
