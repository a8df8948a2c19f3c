"""Check a safetensors model file from its header, before a byte of weights is read or allocated.

A safetensors file is an 8-byte little-endian header length, a JSON header (tensor names,
dtypes, shapes, byte offsets and a free-form ``__metadata__`` dict of strings), then the raw
tensor bytes. :func:`read_header` reads and checks the header alone (its size is capped, every
tensor's byte range must match its dtype and shape, and the ranges must tile the data after the
header exactly, without overlap or gap, as the format requires);
:func:`autoencoder_shapes` says which tensors an autoencoder of a given architecture has, and
:func:`check_tensors` compares the two. A file whose metadata asks for a network of absurd size
is refused here in microseconds instead of after allocating gigabytes to build it.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from precml_widgets.errors import InvalidInputError

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_HIDDEN_LAYERS",
    "MAX_PARAMETERS",
    "MAX_RANK",
    "TensorInfo",
    "autoencoder_shapes",
    "check_tensors",
    "read_header",
]

#: Largest JSON header accepted, in bytes (precml's own headers are ~2 kB).
MAX_HEADER_BYTES = 1 << 20
#: Largest number of parameters an autoencoder file may describe (40 MB of float32; the shipped
#: model has 1.9e3).
MAX_PARAMETERS = 10_000_000
#: Most hidden layers an autoencoder file may describe (the shipped model has 2).
MAX_HIDDEN_LAYERS = 32
#: Most dimensions a tensor may have (an autoencoder's tensors have 1 or 2).
MAX_RANK = 8
_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1}
_ITEMSIZE |= {"U8": 1, "BOOL": 1}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header describes it.

    Attributes:
        dtype: safetensors dtype code, e.g. ``"F32"``.
        shape: the tensor's shape.
        nbytes: its size in bytes (``prod(shape) * itemsize``, checked against its offsets).
    """

    dtype: str
    shape: tuple[int, ...]
    nbytes: int


def read_header(path: str | os.PathLike[str]) -> tuple[dict[str, TensorInfo], dict[str, str]]:
    """The tensors and the ``__metadata__`` of a safetensors file, read from its header only.

    Args:
        path: the ``.safetensors`` file.

    Returns:
        ``(tensors, metadata)``: name -> :class:`TensorInfo`, and the metadata strings.

    Raises:
        InvalidInputError: the file cannot be read, is shorter than its header claims, the
            header is over :data:`MAX_HEADER_BYTES`, not JSON or nested too deeply, a tensor's
            dtype, shape (at most :data:`MAX_RANK` dimensions) or byte range is inconsistent
            or outside the file, or the tensors' byte ranges overlap, leave gaps or do not
            cover the data (as the safetensors format requires).
    """
    path = Path(path)
    label = repr(str(path))
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            prefix = f.read(8)
            length = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
            if length < 2 or length > MAX_HEADER_BYTES or 8 + length > size:
                raise InvalidInputError(
                    f"{label} is not a readable safetensors file: its header length "
                    f"{length} bytes is impossible for a {size}-byte file (at most "
                    f"{MAX_HEADER_BYTES} bytes are accepted); save the model again."
                )
            raw = f.read(length)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read the model file {label}: {exc.strerror or type(exc).__name__}; check "
            "that it exists and that you may read it (its permissions), or save it again."
        ) from None
    try:
        header = json.loads(raw)
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise InvalidInputError(
            f"{label} is not a readable safetensors file: its header is not JSON ({why}); "
            "save the model again."
        ) from None
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise InvalidInputError(
            f"{label}: the safetensors __metadata__ must map names to strings, got "
            f"{type(metadata).__name__}; the file was not written by save_autoencoder (or was "
            "edited): save the model again with save_autoencoder."
        )
    data_bytes = size - 8 - length
    tensors = {name: _tensor(label, name, info, data_bytes) for name, info in header.items()}
    _check_layout(label, header, data_bytes)
    return tensors, metadata


def _check_layout(label: str, header: Mapping[str, dict], data_bytes: int) -> None:
    """Refuse overlapping byte ranges, gaps, and data bytes no tensor covers."""
    covered = 0
    for name, info in sorted(header.items(), key=lambda item: tuple(item[1]["data_offsets"])):
        start, end = info["data_offsets"]
        if start != covered:
            what = "overlaps the tensor before it" if start < covered else "leaves a gap"
            raise InvalidInputError(
                f"{label}: tensor {name!r} starts at data byte {start}, where {covered} was "
                f"expected: it {what}; the file is damaged or edited: save the model again."
            )
        covered = end
    if covered != data_bytes:
        raise InvalidInputError(
            f"{label}: its tensors cover {covered} of the {data_bytes} data bytes after the "
            "header; the file is damaged or edited: save the model again."
        )


def _tensor(label: str, name: str, info: object, data_bytes: int) -> TensorInfo:
    problem = f"{label}: tensor {name!r} has an inconsistent header entry {reprlib.repr(info)}"
    if not isinstance(info, dict):
        raise InvalidInputError(f"{problem}; save the model again.")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    ok = (
        dtype in _ITEMSIZE
        and isinstance(shape, list)
        and len(shape) <= MAX_RANK
        and all(type(n) is int and 0 <= n < 2**40 for n in shape)
        and isinstance(offsets, list)
        and len(offsets) == 2
        and all(type(n) is int for n in offsets)
    )
    if not ok:
        raise InvalidInputError(f"{problem}; save the model again.")
    nbytes = math.prod(shape) * _ITEMSIZE[dtype]
    start, end = offsets
    if not 0 <= start <= end <= data_bytes or end - start != nbytes:
        raise InvalidInputError(
            f"{problem}: {dtype}{shape} needs {nbytes} bytes, its offsets span {end - start} "
            f"of the {data_bytes} data bytes; the file is truncated or edited: save it again."
        )
    return TensorInfo(dtype, tuple(shape), nbytes)


def autoencoder_shapes(
    n_features: int, hidden: Sequence[int], latent: int
) -> dict[str, tuple[int, ...]]:
    """The state-dict shapes of ``model.build_autoencoder`` for this architecture.

    Linear layers sit at the indices ``build_autoencoder``'s ``nn.Sequential`` gives them
    (a ReLU after every Linear except the bottleneck and the output).

    Raises:
        InvalidInputError: more than :data:`MAX_HIDDEN_LAYERS` hidden layers.

    Example:
        >>> autoencoder_shapes(5, (4,), 2)["0.weight"], len(autoencoder_shapes(5, (4,), 2))
        ((4, 5), 8)
    """
    if len(hidden) > MAX_HIDDEN_LAYERS:
        raise InvalidInputError(
            f"the autoencoder has {len(hidden)} hidden layers, more than the "
            f"{MAX_HIDDEN_LAYERS} precml builds; the file is not a precml model (or was edited)."
        )
    widths = [n_features, *hidden, latent]
    pairs = [*itertools.pairwise(widths), *itertools.pairwise(widths[::-1])]
    shapes: dict[str, tuple[int, ...]] = {}
    index = 0
    for i, (a, b) in enumerate(pairs):
        shapes[f"{index}.weight"] = (b, a)
        shapes[f"{index}.bias"] = (b,)
        index += 1 if i in (len(widths) - 2, len(pairs) - 1) else 2  # no ReLU after these
    return shapes


def check_tensors(
    label: str, tensors: Mapping[str, TensorInfo], expected: Mapping[str, tuple[int, ...]]
) -> None:
    """Refuse a file whose tensors are not exactly ``expected`` (float32), or too large.

    Raises:
        InvalidInputError: over :data:`MAX_PARAMETERS` parameters, or a tensor missing, extra,
            of another shape or not float32; the message names the file and the tensor.
    """
    n_parameters = sum(math.prod(shape) for shape in expected.values())
    if n_parameters > MAX_PARAMETERS:
        raise InvalidInputError(
            f"{label}: its metadata describes an autoencoder with {n_parameters:.3g} parameters, "
            f"more than the {MAX_PARAMETERS:.0e} precml loads; the file is not a precml model "
            "(or was edited): retrain and save it with save_autoencoder."
        )
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = sorted(
        f"{name}: {tensors[name].dtype}{list(tensors[name].shape)} (expected F32{list(shape)})"
        for name, shape in expected.items()
        if name in tensors and (tensors[name].shape != shape or tensors[name].dtype != "F32")
    )
    if missing or extra or wrong:
        raise InvalidInputError(
            f"{label}: its weights do not match the architecture in its metadata (missing "
            f"{missing}, unexpected {extra}, wrong {wrong}); retrain and save it with "
            "save_autoencoder."
        )
