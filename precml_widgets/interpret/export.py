"""Saving and loading interpretability results: arrays to ``.npz``, the rest to JSON.

A :class:`~precml_widgets.interpret.shap_values.ShapResult`,
:class:`~precml_widgets.interpret.active_subspace.ActiveSubspace` or
:class:`~precml_widgets.interpret.explanation.Explanation` (both, with its note: caveats such
as "synthetic inputs" travel with the export) is written as two files beside each other,
``<stem>.npz`` (every array, no pickled objects) and ``<stem>.json`` (the scalars, strings and
labels, which class it was, and the SHA-256 of the ``.npz``). Both are written to temporary
files through :mod:`precml_widgets._io` and renamed only when both are complete: a failed
export leaves an existing pair at the stem as it was. :func:`load_result` reads them back with
``allow_pickle=False`` and refuses a ``.npz`` whose hash is not the one its ``.json`` names.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from precml_widgets._io import atomic_open
from precml_widgets.errors import InvalidInputError
from precml_widgets.interpret.active_subspace import ActiveSubspace
from precml_widgets.interpret.explanation import Explanation
from precml_widgets.interpret.shap_values import Background, ShapResult

__all__ = ["FORMAT_VERSION", "load_result", "result_paths", "save_result"]

#: The version of the file layout written by :func:`save_result` (2: the ``.npz`` hash and
#: :class:`Explanation`; files of version 1 still load).
FORMAT_VERSION = 2
_READABLE = (1, 2)
_KINDS: dict[str, type] = {
    "ShapResult": ShapResult,
    "ActiveSubspace": ActiveSubspace,
    "Explanation": Explanation,
}
_NESTED: dict[str, type] = {
    "background": Background,
    "shap": ShapResult,
    "subspace": ActiveSubspace,
}

Result = ShapResult | ActiveSubspace | Explanation


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
    or a non-numeric array raises and leaves no file. Both files go to temporaries first and
    are renamed only when both are written, so a failed export leaves an existing pair at
    the stem as it was (should the second of the two renames fail, :func:`load_result`
    refuses the mismatched pair by its hash instead of mixing two results).

    Raises:
        InvalidInputError: ``result`` is not a result of this package; a value JSON cannot
            hold; a folder that does not exist or cannot be written.

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
            f"result must be a ShapResult, an ActiveSubspace or an Explanation, got {kind}; "
            "pass what explain() or active_subspace() returned, or an Explanation of both."
        )
    arrays: dict[str, np.ndarray] = {}
    meta = {
        "kind": kind,
        "format": FORMAT_VERSION,
        "fields": _split(result, "", arrays),
        "arrays": sorted(arrays),
    }
    npz_path, json_path = result_paths(path)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    blob = buffer.getvalue()
    meta["npz_sha256"] = hashlib.sha256(blob).hexdigest()
    try:
        text = json.dumps(meta, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"cannot export {kind} to {os.fspath(json_path)!r}: {exc}; a scalar field is "
            "NaN, infinite or not a plain value. Nothing was written."
        ) from exc
    # both to temporaries; the .json is renamed first (inner), then the .npz: an exception
    # before the renames leaves both old files in place
    with atomic_open(npz_path, "wb") as npz_out, atomic_open(json_path, "w") as json_out:
        npz_out.write(blob)
        json_out.write(text)
    return npz_path, json_path


def _build(cls: type, meta: dict[str, Any], prefix: str, arrays: Any) -> Any:
    kwargs: dict[str, Any] = {}
    for item in fields(cls):
        if item.name in _NESTED and isinstance(meta.get(item.name), dict):
            kwargs[item.name] = _build(
                _NESTED[item.name], meta[item.name], f"{prefix}{item.name}.", arrays
            )
        elif prefix + item.name in arrays.files:
            kwargs[item.name] = arrays[prefix + item.name]
        elif isinstance(meta.get(item.name), list):
            kwargs[item.name] = tuple(meta[item.name])
        else:
            kwargs[item.name] = meta[item.name]
        _check_type(item.name, kwargs[item.name], str(item.type))
    return cls(**kwargs)


def _check_type(name: str, value: Any, annotation: str) -> None:
    """Refuse a JSON value whose type is not the field's (e.g. a number for feature names)."""
    scalar = {"str": {str}, "int": {int}, "float": {int, float}, "bool": {bool}}
    if annotation in scalar:  # exact JSON types: a bool is not an int here
        ok = type(value) in scalar[annotation]
    elif annotation.startswith("tuple[str"):
        ok = type(value) is tuple and all(type(v) is str for v in value)
    else:
        return
    if not ok:
        raise TypeError(f"field {name!r} must be {annotation}, got {type(value).__name__}")


def load_result(path: str | os.PathLike[str]) -> Result:
    """Read a result written by :func:`save_result` (``allow_pickle=False``).

    Raises:
        InvalidInputError: a missing file; files not written by :func:`save_result`, damaged,
            of an unknown format version, or a ``.npz`` that does not belong to its ``.json``.
    """
    npz_path, json_path = result_paths(path)
    for file in (npz_path, json_path):
        if not file.is_file():
            raise InvalidInputError(
                f"cannot load {os.fspath(file)!r}: no such file; pass the stem given to "
                "save_result (both .npz and .json must be there)."
            )
    rewrite = "write the result again with save_result(result, stem)."
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"cannot load {os.fspath(json_path)!r}: it is not valid JSON ({exc}); it is damaged "
            f"or was not written by save_result; {rewrite}"
        ) from exc
    if (
        not isinstance(meta, dict)
        or meta.get("kind") not in _KINDS
        or type(meta.get("format")) is not int
        or meta.get("format") not in _READABLE
        or not isinstance(meta.get("fields"), dict)
    ):
        info = (meta.get("kind"), meta.get("format")) if isinstance(meta, dict) else (None, None)
        raise InvalidInputError(
            f"{os.fspath(json_path)!r} is not an interpretability result of format "
            f"{' or '.join(map(str, _READABLE))} (kind {info[0]!r}, format {info[1]!r}); "
            f"read it with the precml version that wrote it, or {rewrite}"
        )
    if meta["format"] >= 2 and hashlib.sha256(npz_path.read_bytes()).hexdigest() != meta.get(
        "npz_sha256"
    ):
        raise InvalidInputError(
            f"{os.fspath(npz_path)!r} does not belong to {os.fspath(json_path)!r} (its SHA-256 "
            f"is not the one the .json names: an interrupted export or a copied file); {rewrite}"
        )
    try:
        with np.load(npz_path, allow_pickle=False) as arrays:
            return _build(_KINDS[meta["kind"]], meta["fields"], "", arrays)
    except (AttributeError, KeyError, TypeError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise InvalidInputError(
            f"cannot load {os.fspath(json_path)!r} with {os.fspath(npz_path)!r}: "
            f"{type(exc).__name__}: {exc} (a missing or malformed field); {rewrite}"
        ) from exc
