"""Saving and loading interpretability results: arrays to ``.npz``, the rest to JSON.

A :class:`~precml_widgets.interpret.shap_values.ShapResult` or
:class:`~precml_widgets.interpret.active_subspace.ActiveSubspace` is written as two files
beside each other, ``<stem>.npz`` (every array, no pickled objects) and ``<stem>.json`` (the
scalars, strings and labels, and which class it was), both through :mod:`precml_widgets._io`
(atomic: a failed export leaves no file). :func:`load_result` reads them back with
``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from precml_widgets._io import atomic_open, write_json
from precml_widgets.errors import InvalidInputError
from precml_widgets.interpret.active_subspace import ActiveSubspace
from precml_widgets.interpret.shap_values import Background, ShapResult

__all__ = ["FORMAT_VERSION", "load_result", "result_paths", "save_result"]

#: The version of the file layout written by :func:`save_result`.
FORMAT_VERSION = 1
_KINDS: dict[str, type] = {"ShapResult": ShapResult, "ActiveSubspace": ActiveSubspace}
_NESTED: dict[str, type] = {"background": Background}

Result = ShapResult | ActiveSubspace


def result_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The ``.npz`` and ``.json`` files for ``path`` (a stem, or either file's name)."""
    stem = Path(path).expanduser()
    if stem.suffix in (".npz", ".json"):
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")


def _split(obj: Any, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for item in fields(obj):
        value = getattr(obj, item.name)
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biuf":
                raise InvalidInputError(
                    f"{prefix}{item.name} has dtype {value.dtype}; only numeric arrays can be "
                    "exported (no pickled objects); convert it to numbers first."
                )
            arrays[prefix + item.name] = value
        elif is_dataclass(value):
            meta[item.name] = _split(value, f"{prefix}{item.name}.", arrays)
        elif isinstance(value, tuple):
            meta[item.name] = list(value)
        elif isinstance(value, np.generic):
            meta[item.name] = value.item()
        else:
            meta[item.name] = value
    return meta


def save_result(result: Result, path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``result`` to ``<stem>.npz`` and ``<stem>.json``; returns both paths.

    Everything is checked before anything is written: a non-finite scalar (JSON has no NaN)
    or a non-numeric array raises and leaves no file; if the JSON write fails after the
    arrays were written, the ``.npz`` is removed again.

    Raises:
        InvalidInputError: ``result`` is not a result of this package; a value JSON cannot
            hold; a folder that does not exist.

    Example:
        >>> import tempfile, numpy as np
        >>> from precml_widgets.interpret import ScoredModel, active_subspace
        >>> m = ScoredModel(lambda x: x @ np.array([1.0, 2.0]), ("a", "b"))
        >>> s = active_subspace(m, np.random.default_rng(0).normal(size=(50, 2)),
        ...                     gradient="finite_difference")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = save_result(s, d + "/subspace")
        ...     bool(np.allclose(load_result(d + "/subspace").eigenvalues, s.eigenvalues))
        True
    """
    kind = type(result).__name__
    if kind not in _KINDS:
        raise InvalidInputError(
            f"result must be a ShapResult or an ActiveSubspace, got {kind}; pass what "
            "explain() or active_subspace() returned."
        )
    arrays: dict[str, np.ndarray] = {}
    meta = {
        "kind": kind,
        "format": FORMAT_VERSION,
        "fields": _split(result, "", arrays),
        "arrays": sorted(arrays),
    }
    npz_path, json_path = result_paths(path)
    try:
        json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"cannot export {kind} to {os.fspath(json_path)!r}: {exc}; a scalar field is "
            "NaN, infinite or not a plain value. Nothing was written."
        ) from exc
    with atomic_open(npz_path, "wb") as handle:
        np.savez(handle, **arrays)
    try:
        write_json(json_path, meta)
    except Exception:
        npz_path.unlink(missing_ok=True)
        raise
    return npz_path, json_path


def _build(cls: type, meta: dict[str, Any], prefix: str, arrays: Any) -> Any:
    kwargs: dict[str, Any] = {}
    for item in fields(cls):
        if item.name in _NESTED:
            kwargs[item.name] = _build(
                _NESTED[item.name], meta[item.name], f"{prefix}{item.name}.", arrays
            )
        elif prefix + item.name in arrays.files:
            kwargs[item.name] = arrays[prefix + item.name]
        elif isinstance(meta.get(item.name), list):
            kwargs[item.name] = tuple(meta[item.name])
        else:
            kwargs[item.name] = meta[item.name]
    return cls(**kwargs)


def load_result(path: str | os.PathLike[str]) -> Result:
    """Read a result written by :func:`save_result` (``allow_pickle=False``).

    Raises:
        InvalidInputError: a missing file, or files not written by :func:`save_result`.
    """
    npz_path, json_path = result_paths(path)
    for file in (npz_path, json_path):
        if not file.is_file():
            raise InvalidInputError(
                f"cannot load {os.fspath(file)!r}: no such file; pass the stem given to "
                "save_result (both .npz and .json must be there)."
            )
    meta = json.loads(json_path.read_text(encoding="utf-8"))
    if meta.get("kind") not in _KINDS or meta.get("format") != FORMAT_VERSION:
        raise InvalidInputError(
            f"{os.fspath(json_path)!r} is not an interpretability result of format "
            f"{FORMAT_VERSION} (kind {meta.get('kind')!r}); write it with save_result."
        )
    with np.load(npz_path, allow_pickle=False) as arrays:
        return _build(_KINDS[meta["kind"]], meta["fields"], "", arrays)
