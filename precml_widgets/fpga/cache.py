"""Emulation results (never compiled libraries) cached on disk, keyed by everything they depend on.

The key hashes the deployment configuration, the network's architecture and weights, the input
events and the versions of hls4ml, torch, numpy and g++. Files are ``.npz`` (loaded with
``allow_pickle=False``: reading a cache entry never executes code), written to a temporary
file and renamed, so a crash never leaves half an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from precml_widgets._io import atomic_open
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


def load_entry(key: str, folder: Path | None = None) -> tuple[dict[str, np.ndarray], dict] | None:
    """The arrays and metadata stored under ``key``, or ``None`` if absent or unreadable."""
    path = (folder or cache_dir()) / f"{key}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files if name != "meta"}
            meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None  # a foreign or damaged file is recomputed, not trusted
    if meta.get("format") != _FORMAT or meta.get("key") != key:
        return None
    return arrays, meta


def save_entry(
    key: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any], folder: Path | None = None
) -> Path:
    """Store ``arrays`` and JSON ``meta`` under ``key`` atomically; returns the file."""
    target = (folder or cache_dir()) / f"{key}.npz"
    payload = {**meta, "format": _FORMAT, "key": key}
    with atomic_open(target, "wb", make_parents=True, suffix=".npz.part") as out:
        np.savez(out, meta=np.array(json.dumps(payload, sort_keys=True)), **arrays)
    return target
