"""Record the key numbers of a notebook or script run as JSON, with versions and provenance.

Every curated notebook ends by calling :func:`record_results` with the numbers it showed
(rates, efficiencies, p-values...). The record adds what is needed to trust them later:
the versions of the packages that produced them, a UTC timestamp and the peak memory of
the process. NumPy scalars and arrays are turned into plain Python types, so the record
is ordinary JSON that any tool can read.

Example:
    >>> import numpy as np
    >>> rec = record_results(None, {"auc": np.float64(0.5), "n_pass": np.int64(3)})
    >>> rec["auc"], rec["n_pass"], "numpy" in rec["versions"]
    (0.5, 3, True)
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import numpy as np

from precml_widgets._io import atomic_open, writable_target
from precml_widgets.errors import InvalidInputError

__all__ = ["RECORDED_PACKAGES", "peak_rss_mb", "record_results", "to_plain"]

#: Distributions whose versions are recorded when installed (PyPI names).
RECORDED_PACKAGES: tuple[str, ...] = (
    "precml-widgets",
    "numpy",
    "scipy",
    "torch",
    "scikit-learn",
    "panel",
    "holoviews",
    "bokeh",
    "matplotlib",
    "uproot",
    "awkward",
    "scikit-hep-testdata",
    "safetensors",
    "pyhf",
    "zuko",
    "vegas",
    "hls4ml",
)

#: Keys that :func:`record_results` fills in itself.
_RESERVED = ("versions", "timestamp_utc", "peak_rss_mb")


def _versions() -> dict[str, str]:
    """Python and the installed :data:`RECORDED_PACKAGES`, as ``{name: version}``."""
    out = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process in MiB, or ``None`` where it is not available.

    On Linux this is ``VmHWM`` of ``/proc/self/status``: the high-water mark of the
    current program image. (``getrusage``'s ``ru_maxrss`` is not used there because Linux
    carries it over from the parent across ``fork`` + ``exec``, so a Jupyter kernel started
    by a large process would report the parent's memory.) Elsewhere it is
    :func:`resource.getrusage`'s ``ru_maxrss`` (bytes on macOS, KiB on other Unixes); the
    ``resource`` module does not exist on Windows.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 2**10  # kB -> MiB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def to_plain(value: Any, *, _path: str = "results") -> Any:
    """``value`` with NumPy scalars/arrays, tuples and paths turned into JSON types.

    Mappings become dicts with string keys, sequences become lists, NaN and ±inf become
    ``None`` (JSON has no such numbers), :class:`pathlib.Path` becomes a string.

    Args:
        value: a number, string, bool, None, NumPy scalar or array, path, or a
            mapping / list / tuple of those (nested).

    Returns:
        The same structure made of dict, list, str, int, float, bool and None.

    Raises:
        InvalidInputError: for objects with no JSON form (naming where they sit).

    Example:
        >>> to_plain({"x": np.arange(3), 1: (np.float32(0.5), float("nan"))})
        {'x': [0, 1, 2], '1': [0.5, None]}
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        x = float(value)
        return x if math.isfinite(x) else None
    if isinstance(value, np.ndarray):
        return to_plain(value.tolist(), _path=_path)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(k): to_plain(v, _path=f"{_path}[{k!r}]") for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [to_plain(v, _path=f"{_path}[{i}]") for i, v in enumerate(items)]
    raise InvalidInputError(
        f"{_path} (of type {type(value).__name__}) has no JSON form; record plain numbers, "
        "strings, lists or dicts (e.g. call .to_dict() on result objects first)."
    )


def record_results(
    path: str | os.PathLike[str] | None, results: Mapping[str, Any]
) -> dict[str, Any]:
    """Add versions, a UTC timestamp and peak memory to ``results`` and write them as JSON.

    The file is written atomically through :func:`precml_widgets._io.atomic_open` (a
    temporary file in the same folder, renamed over ``path`` once complete), so a reader
    never sees a half-written record and a failed write leaves the old file in place.

    Args:
        path: where to write the JSON file; ``None`` writes nothing (the dict is still
            returned, which is what a notebook does by default). Its folder must exist.
        results: the numbers to record, keyed by name; nested mappings and lists are fine.
            The keys ``"versions"``, ``"timestamp_utc"`` and ``"peak_rss_mb"`` are filled
            in here and must not be given.

    Returns:
        The recorded dictionary (plain JSON types): ``results`` plus ``"versions"``
        (``{"python": ..., "numpy": ..., ...}`` for the installed packages of
        :data:`RECORDED_PACKAGES`), ``"timestamp_utc"`` (ISO 8601) and ``"peak_rss_mb"``
        (peak resident memory of this process in MiB, ``None`` where unknown).

    Raises:
        InvalidInputError: ``results`` is not a mapping, uses a reserved key, holds an
            object with no JSON form, or the folder of ``path`` does not exist.

    Example:
        >>> import json, tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     out = pathlib.Path(tmp) / "run.json"
        ...     rec = record_results(out, {"rate_hz": np.float64(950.0)})
        ...     json.loads(out.read_text())["rate_hz"]
        950.0
    """
    if not isinstance(results, Mapping):
        raise InvalidInputError(
            f"results must be a mapping of name to value, got {type(results).__name__}; "
            "e.g. record_results(path, {'rate_hz': 950.0})."
        )
    clash = [k for k in _RESERVED if k in results]
    if clash:
        raise InvalidInputError(
            f"results must not contain {clash}: record_results fills these keys in itself."
        )
    record: dict[str, Any] = to_plain(results)
    record["versions"] = _versions()
    record["timestamp_utc"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    record["peak_rss_mb"] = to_plain(peak_rss_mb())
    if path is None:
        return record
    try:
        target = writable_target(path)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{exc} Or pass path=None to only return the record.") from exc
    with atomic_open(target, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2, sort_keys=False, allow_nan=False)
        handle.write("\n")
    return record
