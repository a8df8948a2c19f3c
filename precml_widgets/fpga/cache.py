"""Emulation results (never compiled libraries) cached on disk, keyed by everything they depend on.

The key hashes the deployment configuration, the network's architecture and weights, the input
events and the versions of hls4ml, torch, numpy and g++. Files are ``.npz`` (loaded with
``allow_pickle=False``: reading a cache entry never executes code), written to a temporary
file and renamed, so a crash never leaves half an entry. An entry is checked on reading
(:func:`load_entry`: the arrays' names, dtype, shape and finiteness) and one that fails is
ignored with a warning, recomputed and overwritten; a cache folder that cannot be written costs
the cache, never the result (:func:`try_save_entry` warns and carries on).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from precml_widgets._io import atomic_open
from precml_widgets.errors import PrecmlError
from precml_widgets.fpga.toolchain import compiler_version

if TYPE_CHECKING:
    import torch

__all__ = [
    "CACHE_ENV_VAR",
    "EMULATOR_SOURCES",
    "cache_dir",
    "cache_key",
    "load_entry",
    "save_entry",
    "tool_versions",
    "try_save_entry",
]

CACHE_ENV_VAR = "PRECML_CACHE"
_FORMAT = "precml-emulation/1"
#: The modules (file names beside this one) whose code decides every emulated number.
EMULATOR_SOURCES = ("emulate.py", "fixed_emulation.py", "precision.py")


def cache_dir() -> Path:
    """``$PRECML_CACHE/emulation`` if set, else ``~/.cache/precml/emulation``."""
    root = os.environ.get(CACHE_ENV_VAR)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "precml"
    return base / "emulation"


def tool_versions() -> dict[str, str]:
    """Versions of everything that can change an emulated number."""
    import hls4ml
    import torch

    own = hashlib.sha256()
    for source in EMULATOR_SOURCES:  # a fix to the emulators invalidates old entries
        own.update((Path(__file__).with_name(source)).read_bytes())
    return {
        "format": _FORMAT,
        "precml emulators": own.hexdigest()[:16],
        "hls4ml": hls4ml.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "g++": compiler_version(),
    }


def cache_key(
    config_key: str,
    model: torch.nn.Module,
    x: np.ndarray,
    versions: Mapping[str, str],
    input_shape: tuple[int, ...] | None = None,
) -> str:
    """SHA-256 of configuration, architecture, weights, inputs, input shape and tool versions."""
    digest = hashlib.sha256()
    digest.update(config_key.encode())
    digest.update(f"shape:{tuple(input_shape) if input_shape else None}".encode())
    digest.update(repr(model).encode())
    for name, tensor in sorted(model.state_dict().items()):
        array = tensor.detach().cpu().numpy()
        digest.update(f"{name}:{array.dtype}:{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    digest.update(f"x:{arr.shape}".encode())
    digest.update(arr.tobytes())
    digest.update(json.dumps(dict(versions), sort_keys=True).encode())
    return digest.hexdigest()


def load_entry(
    key: str, folder: Path | None = None, *, n_events: int | None = None
) -> tuple[dict[str, np.ndarray], dict] | None:
    """The arrays and metadata stored under ``key``, or ``None`` if absent or not trustworthy.

    An entry is trusted only when it holds ``emulated`` and ``reference`` float32 arrays of
    the same shape ``(n_events, n_out)``, all finite, and a finite ``predict_s >= 0``; a
    damaged, foreign or edited entry warns (``RuntimeWarning``) and reads as a miss, so the
    caller recomputes and overwrites it.

    Args:
        key: the entry's :func:`cache_key`.
        folder: the cache folder (default :func:`cache_dir`).
        n_events: the number of events the entry must hold (``None``: any).
    """
    path = (folder or cache_dir()) / f"{key}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files if name != "meta"}
            meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, EOFError, RecursionError, zipfile.BadZipFile,
            zlib.error) as exc:  # fmt: skip
        problem = (
            f"it cannot be read ({type(exc).__name__}: it is damaged or not an .npz of arrays)"
        )
    else:
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT or meta.get("key") != key:
            problem = f"it is not a precml {_FORMAT!r} entry for this key"
        else:
            problem = _entry_problem(arrays, meta, n_events)
    if problem:
        warnings.warn(
            f"ignoring the emulation cache entry {os.fspath(path)!r}: {problem}; recomputing "
            "and overwriting it.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return arrays, meta


def _entry_problem(arrays: Mapping[str, np.ndarray], meta: Mapping, n_events: int | None) -> str:
    """Why a cache entry cannot be trusted ('' when it can)."""
    emulated, reference = arrays.get("emulated"), arrays.get("reference")
    if emulated is None or reference is None:
        return f"it holds the arrays {sorted(arrays)}, not 'emulated' and 'reference'"
    for name, array in (("emulated", emulated), ("reference", reference)):
        if array.dtype != np.float32 or array.ndim != 2 or array.shape[1] < 1:
            return f"{name} is {array.dtype} of shape {array.shape}, not float32 (n_events, n_out)"
        if n_events is not None and array.shape[0] != n_events:
            return f"{name} holds {array.shape[0]} events, not the {n_events} asked for"
        if not np.all(np.isfinite(array)):
            return f"{name} holds NaN or infinite values"
    if emulated.shape != reference.shape:
        return f"emulated {emulated.shape} and reference {reference.shape} differ in shape"
    seconds = meta.get("predict_s")
    if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        return f"its predict_s {seconds!r} is not a finite number of seconds >= 0"
    return ""


def save_entry(
    key: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any], folder: Path | None = None
) -> Path:
    """Store ``arrays`` and JSON ``meta`` under ``key`` atomically; returns the file."""
    target = (folder or cache_dir()) / f"{key}.npz"
    payload = {**meta, "format": _FORMAT, "key": key}
    with atomic_open(target, "wb", make_parents=True, suffix=".npz.part") as out:
        np.savez(out, meta=np.array(json.dumps(payload, sort_keys=True)), **arrays)
    return target


def try_save_entry(
    key: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any], folder: Path | None = None
) -> Path | None:
    """:func:`save_entry`, but a folder that cannot be written warns instead of raising.

    The result was computed at some cost (a ~10 s compile); losing the cache must not lose it.

    Returns:
        The file written, or ``None`` (with a ``RuntimeWarning`` naming the folder) when the
        cache could not be written.
    """
    try:
        return save_entry(key, arrays, meta, folder)
    except (OSError, PrecmlError) as exc:
        warnings.warn(
            f"the emulation result was not cached: {exc} Set ${CACHE_ENV_VAR} to a writable "
            "folder, pass cache_folder=..., or cache=False.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
