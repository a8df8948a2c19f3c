"""Saving and loading trained SMEFT models: safetensors weights and a JSON card, no code executed.

A :class:`~precml_widgets.inference.LearnedRatio` or a
:class:`~precml_widgets.inference.NeuralLikelihood` is written as two files beside each other:
``<stem>.safetensors`` (the weights; an ensemble's members prefixed ``member{k}.``) and
``<stem>.json``, a card stating everything needed to rebuild the network and to judge it: the
problem (measurement, free coefficients, box), the architecture, the training facts, the
caller's metrics with their caveats, a note, the package versions, and the weights' SHA-256
and size. Both files are first written in full under temporary names in the target folder
(precml's atomic writer), then renamed over the targets, the weights first
and the card last: a failed write (full disk, no permission) leaves an existing pair
untouched, and a card never names a missing or partial weights file. Should the process die
between the two renames, the new weights sit beside the old card, whose SHA-256 and size
then disagree with them: :func:`load_model` refuses that pair (it never loads a mix). The
weights' metadata holds the SHA-256 of the card's content (all but ``weights``), so an
edited card (say, free coefficients reordered) is refused.

:func:`load_model` reads the card (at most :data:`MAX_CARD_BYTES`), checks every field's type
and range (architecture sizes bounded), then the weights file's size (at most
:data:`MAX_WEIGHTS_BYTES`) and SHA-256, then the tensor names, shapes and dtypes in the
safetensors header against a network built from the card, and only then reads the tensors.
Nothing is unpickled and no ``torch.load`` is called.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from precml_widgets._io import atomic_path
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.classifiers import LearnedRatio, build_network
from precml_widgets.inference.model_card import (
    FORMAT_VERSION,
    MAX_WEIGHTS_BYTES,
    card_problem,
    check_card,
    problem_card,
)
from precml_widgets.inference.nle import NeuralLikelihood, build_flow
from precml_widgets.inference.problem import EFTProblem

__all__ = [
    "FORMAT_VERSION",
    "MAX_CARD_BYTES",
    "MAX_WEIGHTS_BYTES",
    "load_model",
    "model_paths",
    "save_model",
]

#: Largest card accepted, bytes (a card is ~2 kB).
MAX_CARD_BYTES = 1 << 20
_SAVE_AGAIN = "save the model again with save_model (or use the shipped one: load_pretrained)"

Model = LearnedRatio | NeuralLikelihood


def model_paths(path_stem: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The ``.safetensors`` and ``.json`` files of ``path_stem`` (a stem, or either file)."""
    stem = Path(path_stem).expanduser()
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def _architecture(model: Model) -> dict[str, Any]:
    if isinstance(model, LearnedRatio):
        return {
            "kind": model.kind,
            "hidden": int(model.network[0].out_features),  # type: ignore[index]
            "feature_shift": [float(v) for v in model.feature_shift],
            "feature_scale": [float(v) for v in model.feature_scale],
        }
    first = model.flows[0]
    return {
        "kind": "nsf",
        "hidden": int(first.transform.transforms[0].hyper[0].out_features),  # type: ignore[attr-defined]
        "transforms": len(first.transform.transforms),  # type: ignore[attr-defined]
        "n_members": len(model.flows),
        "mass_frame": [float(v) for v in model.mass_frame],
    }


def _networks(kind: str, dim: int, arch: Mapping[str, Any], count: int) -> list[Any]:
    """Networks of the card's architecture (fresh initialisation, the caller's RNG untouched)."""
    torch = require("torch", "inference", "loading SMEFT models")
    with torch.random.fork_rng():
        if kind == "learned_ratio":
            return [build_network(arch["kind"], dim, arch["hidden"]) for _ in range(count)]
        return [
            build_flow(dim, transforms=arch["transforms"], hidden=arch["hidden"])
            for _ in range(count)
        ]


def _prefixes(kind: str, arch: Mapping[str, Any]) -> list[str]:
    return [""] if kind == "learned_ratio" else [f"member{k}." for k in range(arch["n_members"])]


def _digest(card: Mapping[str, Any]) -> str:
    """SHA-256 of the card's content except its ``weights`` entry (canonical JSON)."""
    body = {k: v for k, v in card.items() if k != "weights"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def save_model(
    model: Model,
    path_stem: str | os.PathLike[str],
    *,
    metrics: Mapping[str, Any] | None = None,
    note: str = "",
) -> tuple[Path, Path]:
    """Write ``model`` to ``<stem>.safetensors`` and its card ``<stem>.json``.

    Args:
        model: a :class:`LearnedRatio` or a :class:`NeuralLikelihood`.
        path_stem: where to write (a stem, or either file's name); its folder must exist.
        metrics: figures of merit to record, name -> a number, a string, or a dict of numbers
            and strings (e.g. ``{"ratio_accuracy": {"median": 0.02, "caveat": "..."}}``).
        note: free text carried in the card.

    Returns:
        The paths of the weights and of the card.

    Raises:
        InvalidInputError: not a model of this package, a network not built by
            :func:`build_network` / :func:`build_flow`, a metric JSON cannot hold or of
            another form, a folder that does not exist or cannot be written.

    Example:
        >>> import tempfile
        >>> from precml_widgets.inference import default_problem, make_training_set, train_ratio
        >>> p = default_problem()
        >>> m = train_ratio(p, make_training_set(p, n_per_point=100), epochs=1, hidden=8,
        ...                 progress=False)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = save_model(m, d + "/ratio", note="a doctest")
        ...     load_model(d + "/ratio").problem == p
        True
    """
    st = require("safetensors.torch", "inference", "saving SMEFT models")
    if not isinstance(model, LearnedRatio | NeuralLikelihood):
        raise InvalidInputError(
            f"model must be a LearnedRatio or a NeuralLikelihood, got {type(model).__name__}; "
            "pass what train_ratio or train_nle returned."
        )
    kind = "learned_ratio" if isinstance(model, LearnedRatio) else "neural_likelihood"
    nets = [model.network] if kind == "learned_ratio" else list(model.flows)  # type: ignore[union-attr]
    card: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "kind": kind,
        "problem": problem_card(model.problem),
        "architecture": _architecture(model),
        "n_train": int(model.n_train_events if kind == "learned_ratio" else model.n_simulations),  # type: ignore[union-attr]
        "train_seconds": float(model.train_seconds),
        "metrics": dict(metrics or {}),
        "note": note,
        "versions": {
            "torch": _version("torch"),
            "zuko": _version("zuko"),
            "precml": _version("precml-widgets"),
        },
    }
    label = repr(os.fspath(model_paths(path_stem)[1]))
    fix = "nothing was written: pass metrics of plain numbers and strings and a str note"
    check_card(label, card, fix, weights=False)  # the checks load_model makes
    reference = _networks(kind, model.problem.dim, card["architecture"], 1)[0].state_dict()
    tensors: dict[str, Any] = {}
    for prefix, net in zip(_prefixes(kind, card["architecture"]), nets, strict=True):
        state = net.state_dict()
        if {k: (v.shape, v.dtype) for k, v in state.items()} != {
            k: (v.shape, v.dtype) for k, v in reference.items()
        }:
            raise InvalidInputError(
                f"cannot save to {label}: the network is not the one build_network / "
                "build_flow makes for its stated architecture; save models from train_ratio "
                "or train_nle."
            )
        tensors |= {prefix + k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    blob = st.save(tensors, metadata={"card_sha256": _digest(card)})
    card["weights"] = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
    weights_path, card_path = model_paths(path_stem)
    text = json.dumps(card, indent=2, allow_nan=False) + "\n"
    # Both written under temporary names first; on leaving the contexts the inner one renames
    # the weights, then the outer one the card (a failure anywhere before leaves both old).
    with atomic_path(card_path) as card_tmp, atomic_path(weights_path) as weights_tmp:
        _write_synced(weights_tmp, blob)
        _write_synced(card_tmp, text.encode("utf-8"))
    return weights_path, card_path


def _write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and sync it to disk (before it is renamed into place)."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _read_card(card_path: Path) -> tuple[dict[str, Any], EFTProblem]:
    label = repr(os.fspath(card_path))
    size = card_path.stat().st_size
    if size > MAX_CARD_BYTES:
        raise InvalidInputError(
            f"the card {label} is {size} bytes, more than the {MAX_CARD_BYTES} accepted; it is "
            f"not a model card; {_SAVE_AGAIN}."
        )
    try:
        card = json.loads(card_path.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise InvalidInputError(
            f"the card {label} is not valid JSON ({why}): truncated or damaged; {_SAVE_AGAIN}."
        ) from None
    check_card(label, card, _SAVE_AGAIN)
    return card, card_problem(label, card["problem"], _SAVE_AGAIN)


def _header(label: str, blob: bytes) -> tuple[dict[str, tuple[list[int], str]], dict[str, Any]]:
    """Tensor names -> (shape, dtype code) and the metadata of a safetensors ``blob``.

    The format: 8 bytes little-endian header length ``n``, then ``n`` bytes of JSON mapping
    each tensor name to ``{"dtype", "shape", "data_offsets"}`` (and ``"__metadata__"`` to
    strings), then the data. Read from the very bytes whose hash was checked.
    """
    fail = f"{label} is not a readable safetensors file"
    if len(blob) < 8:
        raise InvalidInputError(f"{fail} (only {len(blob)} bytes); {_SAVE_AGAIN}.")
    n = int.from_bytes(blob[:8], "little")
    if n > len(blob) - 8:
        raise InvalidInputError(
            f"{fail} (its header claims {n} bytes, the file holds {len(blob) - 8} after the "
            f"length); {_SAVE_AGAIN}."
        )
    try:
        header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInputError(f"{fail} (its header is not JSON); {_SAVE_AGAIN}.") from None
    if type(header) is not dict:
        raise InvalidInputError(f"{fail} (its header is not a JSON object); {_SAVE_AGAIN}.")
    metadata = header.pop("__metadata__", {})
    found: dict[str, tuple[list[int], str]] = {}
    for name, entry in header.items():
        if (
            type(entry) is not dict
            or type(entry.get("dtype")) is not str
            or type(entry.get("shape")) is not list
            or any(type(d) is not int or d < 0 for d in entry["shape"])
        ):
            raise InvalidInputError(
                f"{fail} (the header entry of {name!r} is not a tensor description); {_SAVE_AGAIN}."
            )
        found[name] = (list(entry["shape"]), entry["dtype"])
    if type(metadata) is not dict:
        raise InvalidInputError(f"{fail} (its metadata is not an object); {_SAVE_AGAIN}.")
    return found, metadata


def _check_header(
    label: str, blob: bytes, kind: str, card: Mapping[str, Any], expected: Any
) -> None:
    """Compare the safetensors header of ``blob`` with the card's network, and the card's
    digest."""
    names = {
        prefix + k: ([*v.shape], str(v.dtype).removeprefix("torch."))
        for prefix in _prefixes(kind, card["architecture"])
        for k, v in expected.items()
    }
    codes = {"float32": "F32", "bool": "BOOL", "int64": "I64"}
    found, metadata = _header(label, blob)
    want = {k: (shape, codes.get(dtype, dtype)) for k, (shape, dtype) in names.items()}
    if found != want:
        missing = sorted(set(want) - set(found))[:5]
        extra = sorted(set(found) - set(want))[:5]
        wrong = sorted(
            f"{k}: {found[k][1]}{found[k][0]} (card says {want[k][1]}{want[k][0]})"
            for k in set(want) & set(found)
            if found[k] != want[k]
        )[:5]
        raise InvalidInputError(
            f"{label}: its tensors do not match the architecture its card states "
            f"({dict(card['architecture'])}): missing {missing}, unexpected {extra}, shape or "
            f"dtype mismatch {wrong}; the card was edited or belongs to other weights; "
            f"{_SAVE_AGAIN}."
        )
    if metadata.get("card_sha256") != _digest(card):
        raise InvalidInputError(
            f"the card of {label} is not the one its weights were saved with (its content "
            "hash differs: the problem, free-coefficient order, box, architecture or "
            f"metrics were edited); {_SAVE_AGAIN}."
        )


def load_model(path_stem: str | os.PathLike[str]) -> Model:
    """Read a model written by :func:`save_model`, checking everything before any tensor.

    Args:
        path_stem: the stem given to :func:`save_model` (or either file's name).

    Returns:
        The :class:`LearnedRatio` or :class:`NeuralLikelihood`, in eval mode on the CPU.

    Raises:
        InvalidInputError: a missing or unreadable file; a card that is not JSON, too large,
            of an unknown format or kind, or with a field of the wrong type or out of range
            (architecture sizes are bounded: hidden <= 1024, transforms <= 16, members <= 64);
            weights of another size or SHA-256 than the card states, or over
            :data:`MAX_WEIGHTS_BYTES`; tensors that do not match the card's architecture; a
            card edited after saving. Each message names the file and the fix.
    """
    st = require("safetensors.torch", "inference", "loading SMEFT models")
    weights_path, card_path = model_paths(path_stem)
    for file in (card_path, weights_path):
        if not file.is_file():
            raise InvalidInputError(
                f"cannot load {os.fspath(file)!r}: no such file; pass the stem given to "
                "save_model (both .safetensors and .json must be there)."
            )
    card, problem = _read_card(card_path)
    label = repr(os.fspath(weights_path))
    size = weights_path.stat().st_size
    if size > MAX_WEIGHTS_BYTES or size != card["weights"]["bytes"]:
        raise InvalidInputError(
            f"{label} is {size} bytes; its card states {card['weights']['bytes']} (at most "
            f"{MAX_WEIGHTS_BYTES} are accepted): truncated, replaced or not these weights; "
            f"{_SAVE_AGAIN}."
        )
    blob = weights_path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != card["weights"]["sha256"]:
        raise InvalidInputError(
            f"{label}: its SHA-256 is not the one its card states (damaged, edited, or from "
            f"another save); {_SAVE_AGAIN}."
        )
    kind, arch = card["kind"], card["architecture"]
    reference = _networks(kind, problem.dim, arch, 1)[0].state_dict()
    _check_header(label, blob, kind, card, reference)
    tensors = st.load(blob)  # the very bytes whose hash was checked
    nets = _networks(kind, problem.dim, arch, len(_prefixes(kind, arch)))
    for prefix, net in zip(_prefixes(kind, arch), nets, strict=True):
        net.load_state_dict({k: tensors[prefix + k] for k in reference}, strict=True)
        net.eval()
    if kind == "learned_ratio":
        return LearnedRatio(
            arch["kind"],
            problem,
            nets[0],
            tuple(arch["feature_shift"]),
            tuple(arch["feature_scale"]),
            card["n_train"],
            card["train_seconds"],
        )
    return NeuralLikelihood(
        problem, tuple(nets), tuple(arch["mass_frame"]), card["n_train"], card["train_seconds"]
    )
