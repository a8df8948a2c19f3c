"""Writing files atomically: the one place in precml that puts a file on disk.

Every writer goes through :func:`atomic_path`: the content goes to a temporary file in the
target's folder, which is renamed over the target (:func:`os.replace`) only when the write
finished. A reader never sees a half-written file, and a failed write leaves the old file (or
nothing) behind. The temporary file gets the permissions a plain ``open(path, "w")`` would
give (``0o666`` minus the umask), not :func:`tempfile.mkstemp`'s private ``0o600``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from precml_widgets.errors import InvalidInputError

__all__ = [
    "atomic_open",
    "atomic_path",
    "not_writable",
    "writable_target",
    "write_bytes",
    "write_json",
    "write_text",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def writable_target(path: str | os.PathLike[str], *, make_parents: bool = False) -> Path:
    """``path`` as a :class:`~pathlib.Path` whose folder exists, or a clear error.

    Args:
        path: the file to write; ``~`` is expanded.
        make_parents: create missing folders instead of refusing.

    Raises:
        InvalidInputError: ``path`` is a folder, or its folder does not exist and
            ``make_parents`` is false (or cannot be created).
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise InvalidInputError(
            f"cannot write {os.fspath(target)!r}: it is a folder; pass a file name."
        )
    folder = target.parent
    if make_parents:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise not_writable(target, exc) from None
    elif not folder.is_dir():
        raise InvalidInputError(
            f"cannot write {os.fspath(target)!r}: the folder {os.fspath(folder)!r} does not "
            "exist; create it first."
        )
    return target


def not_writable(target: Path, exc: OSError) -> InvalidInputError:
    """The error for a file the operating system refuses to create: names ``target``, the
    reason and the fix (never the hidden temporary file the write went through)."""
    reason = exc.strerror or type(exc).__name__
    return InvalidInputError(
        f"cannot write {os.fspath(target)!r}: {reason} (in the folder "
        f"{os.fspath(target.parent)!r}); choose a folder you can write to, or fix its "
        "permissions or free space."
    )


@contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, make_parents: bool = False, suffix: str = ".tmp"
) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``.

    For libraries that write to a file name themselves (``safetensors.torch.save_file``,
    ``numpy.savez`` with a name). On an exception the temporary file is removed and the
    exception propagates; ``path`` is untouched.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with atomic_path(pathlib.Path(d) / "a.txt") as tmp:
        ...         _ = tmp.write_text("done")
        ...     sorted(p.name for p in pathlib.Path(d).iterdir())
        ['a.txt']
    """
    target = writable_target(path, make_parents=make_parents)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    except OSError as exc:
        raise not_writable(target, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        yield tmp
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise not_writable(target, exc) from None
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    mode: str = "wb",
    *,
    encoding: str | None = None,
    make_parents: bool = False,
    suffix: str = ".tmp",
) -> Iterator[IO[Any]]:
    """Open a temporary file for writing (``"w"`` or ``"wb"``); on success it replaces ``path``.

    The data are flushed and synced to disk before the rename.
    """
    if mode not in ("w", "wb"):
        raise InvalidInputError(f"atomic_open mode must be 'w' or 'wb', got {mode!r}.")
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    with atomic_path(path, make_parents=make_parents, suffix=suffix) as tmp:
        with open(tmp, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def write_bytes(path: str | os.PathLike[str], data: bytes, *, make_parents: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_open(path, "wb", make_parents=make_parents) as handle:
        handle.write(data)
    return Path(path).expanduser()


def write_text(path: str | os.PathLike[str], text: str, *, make_parents: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return write_bytes(path, text.encode("utf-8"), make_parents=make_parents)


def write_json(
    path: str | os.PathLike[str], obj: Any, *, make_parents: bool = False, indent: int = 2
) -> Path:
    """Write ``obj`` as JSON (no NaN or infinity, trailing newline) to ``path`` atomically.

    Raises:
        InvalidInputError: ``obj`` holds a value JSON cannot represent (NaN, infinity, an
            object); nothing is written.
    """
    try:
        text = json.dumps(obj, indent=indent, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"cannot write {os.fspath(path)!r} as JSON: {exc}; convert the values to plain "
            "numbers, strings, lists and dicts first (precml_widgets.record.to_plain)."
        ) from exc
    return write_text(path, text, make_parents=make_parents)
