"""Saving and loading trained SMEFT models: safetensors weights and a JSON card, no code executed.

A :class:`~precml_widgets.inference.LearnedRatio` or a
:class:`~precml_widgets.inference.NeuralLikelihood` is written as two files beside each other:
``<stem>.safetensors`` (the weights; an ensemble's members prefixed ``member{k}.``) and
``<stem>.json``, a card stating everything needed to rebuild the network and to judge it: the
problem (measurement, free coefficients, box), the architecture, the training facts, the
caller's metrics with their caveats, a note, the package versions, and the weights' SHA-256
and size. The weights are written first, the card last, each atomically: a card never names
a missing or partial weights file. The weights' metadata holds the SHA-256 of the card's
content (all but ``weights``), so an edited card (say, free coefficients reordered) is refused.

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
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from precml_widgets._io import write_bytes, write_json
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.classifiers import CLASSIFIER_KINDS, LearnedRatio, build_network
from precml_widgets.inference.measurement import Measurement
from precml_widgets.inference.nle import NeuralLikelihood, build_flow
from precml_widgets.inference.problem import EFTProblem
from precml_widgets.inference.smearing import Smearing

__all__ = [
    "FORMAT_VERSION",
    "MAX_CARD_BYTES",
    "MAX_WEIGHTS_BYTES",
    "load_model",
    "model_paths",
    "save_model",
]

#: The version of the card layout written by :func:`save_model`.
FORMAT_VERSION = 1
#: Largest card accepted, bytes (a card is ~2 kB).
MAX_CARD_BYTES = 1 << 20
#: Largest weights file accepted, bytes (the shipped models are < 1 MB).
MAX_WEIGHTS_BYTES = 64 << 20
_SAVE_AGAIN = "save the model again with save_model (or use the shipped one: load_pretrained)"

#: Largest architecture a card may state (as :func:`build_flow` allows).
MAX_HIDDEN, MAX_TRANSFORMS, MAX_MEMBERS = 1024, 16, 64
_KINDS = ("learned_ratio", "neural_likelihood")

Model = LearnedRatio | NeuralLikelihood


def _bad(label: str, field: str, expected: str, value: object, fix: str) -> InvalidInputError:
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    return InvalidInputError(
        f"the card {label}: {field} must be {expected}, got {shown}; the card is damaged or "
        f"was edited; {fix}."
    )


def _number(label: str, field: str, value: object, fix: str, *, low: float = -math.inf) -> float:
    if type(value) not in (int, float) or not math.isfinite(value) or value < low:  # type: ignore[arg-type]
        raise _bad(label, field, f"a finite number >= {low}", value, fix)
    return float(value)  # type: ignore[arg-type]


def _integer(label: str, field: str, value: object, fix: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _bad(label, field, f"an integer in {low}..{high}", value, fix)
    return value


def _numbers(label: str, field: str, value: object, fix: str, n: tuple[int, int]) -> list[float]:
    if type(value) is not list or not n[0] <= len(value) <= n[1]:
        raise _bad(label, field, f"a list of {n[0]}..{n[1]} numbers", value, fix)
    return [_number(label, f"{field}[{i}]", v, fix) for i, v in enumerate(value)]


def _keys(label: str, field: str, value: object, keys: set[str], fix: str) -> dict[str, Any]:
    if type(value) is not dict or set(value) != keys:
        got = sorted(value) if type(value) is dict else value
        raise _bad(label, field, f"an object with exactly the keys {sorted(keys)}", got, fix)
    return value


def _text(label: str, field: str, value: object, fix: str) -> str:
    if type(value) is not str or len(value) > 10_000:
        raise _bad(label, field, "a string of at most 10000 characters", value, fix)
    return value


def _problem_card(problem: EFTProblem) -> dict[str, Any]:
    """The card entry of an :class:`EFTProblem` (plain JSON types)."""
    m = problem.measurement
    smearing = None
    if m.smearing is not None:
        smearing = {"angle_rad": m.smearing.angle_rad, "mass_rel": m.smearing.mass_rel}
    return {
        "measurement": {
            "energies_gev": [float(v) for v in m.energies_gev],
            "luminosities_pb": [float(v) for v in m.luminosities_pb],
            "cos_max": float(m.cos_max),
            "lambda_gev": float(m.lambda_gev),
            "smearing": smearing,
            "label": m.label,
        },
        "free": list(problem.free),
        "low": [float(v) for v in problem.low],
        "high": [float(v) for v in problem.high],
    }


def _card_problem(label: str, entry: object, fix: str) -> EFTProblem:
    """The :class:`EFTProblem` of a card's ``problem`` entry, every field checked."""
    p = _keys(label, "problem", entry, {"measurement", "free", "low", "high"}, fix)
    keys = {"energies_gev", "luminosities_pb", "cos_max", "lambda_gev", "smearing", "label"}
    m = _keys(label, "problem.measurement", p["measurement"], keys, fix)
    energies = _numbers(label, "energies_gev", m["energies_gev"], fix, (1, 64))
    lums = _numbers(label, "luminosities_pb", m["luminosities_pb"], fix, (1, 64))
    smearing = m["smearing"]
    if smearing is not None:
        s = _keys(label, "smearing", smearing, {"angle_rad", "mass_rel"}, fix)
        angle, rel = (_number(label, k, s[k], fix) for k in ("angle_rad", "mass_rel"))
    free = p["free"]
    if type(free) is not list or not 1 <= len(free) <= 4 or any(type(n) is not str for n in free):
        raise _bad(label, "problem.free", "a list of 1..4 coefficient names", free, fix)
    try:
        if smearing is not None:
            smearing = Smearing(angle_rad=angle, mass_rel=rel)
        measurement = Measurement(
            tuple(energies),
            tuple(lums),
            cos_max=_number(label, "cos_max", m["cos_max"], fix),
            lambda_gev=_number(label, "lambda_gev", m["lambda_gev"], fix),
            smearing=smearing,
            label=_text(label, "problem.measurement.label", m["label"], fix),
        )
        return EFTProblem(
            measurement,
            tuple(free),
            tuple(_numbers(label, "problem.low", p["low"], fix, (len(free), len(free)))),
            tuple(_numbers(label, "problem.high", p["high"], fix, (len(free), len(free)))),
        )
    except InvalidInputError as exc:
        if str(exc).startswith("the card"):
            raise
        raise InvalidInputError(f"the card {label} states an impossible problem: {exc}") from None


def _check_architecture(label: str, kind: str, value: object, fix: str) -> None:
    names = (
        "kind hidden feature_shift feature_scale"
        if kind == "learned_ratio"
        else ("kind hidden transforms n_members mass_frame")
    )
    a = _keys(label, "architecture", value, set(names.split()), fix)
    kinds = CLASSIFIER_KINDS if kind == "learned_ratio" else ("nsf",)
    if a["kind"] not in kinds:
        raise _bad(label, "architecture.kind", f"one of {kinds}", a["kind"], fix)
    _integer(label, "architecture.hidden", a["hidden"], fix, 4, MAX_HIDDEN)
    if kind == "neural_likelihood":
        _integer(label, "architecture.transforms", a["transforms"], fix, 1, MAX_TRANSFORMS)
        _integer(label, "architecture.n_members", a["n_members"], fix, 1, MAX_MEMBERS)
    for name in ("feature_shift", "feature_scale", "mass_frame"):
        if name in a:
            values = _numbers(label, f"architecture.{name}", a[name], fix, (2, 2))
            scales = {"feature_shift": [], "feature_scale": values}.get(name, values[1:])
            if not all(v > 0.0 for v in scales):
                raise _bad(label, f"architecture.{name}", "scales > 0", a[name], fix)


def _check_metrics(label: str, value: object, fix: str) -> None:
    def plain(v: object) -> bool:
        return type(v) is str or (type(v) in (int, float) and math.isfinite(v))  # type: ignore[arg-type]

    def entry(v: object) -> bool:
        return plain(v) or (type(v) is dict and len(v) <= 64 and all(map(plain, v.values())))

    if type(value) is not dict or len(value) > 64:
        raise _bad(label, "metrics", "an object of at most 64 entries", value, fix)
    for name, v in value.items():
        if (
            type(name) is not str
            or not entry(v)
            or (type(v) is dict and not all(type(k) is str for k in v))
        ):
            what = "a number, a string, or an object of numbers and strings, named by strings"
            raise _bad(label, f"metrics[{name!r}]", what, v, fix)


def _check_card(label: str, card: object, fix: str, *, weights: bool = True) -> None:
    """Check every field of a model card (types, ranges, bounded sizes); raise naming it.

    Args:
        label: the card's file name, for the messages.
        card: the parsed JSON.
        fix: what the user should do, ending each message.
        weights: whether the card must hold its ``weights`` entry (a saved card does).
    """
    if type(card) is not dict:
        raise _bad(label, "the card", "a JSON object", card, fix)
    if type(card.get("format")) is not int or card["format"] != FORMAT_VERSION:
        raise InvalidInputError(
            f"the card {label} has format {card.get('format')!r}, this precml reads format "
            f"{FORMAT_VERSION}; load it with the precml version that wrote it, or {fix}."
        )
    names = "format kind problem architecture n_train train_seconds metrics note versions"
    c = _keys(
        label, "the card", card, set(names.split()) | ({"weights"} if weights else set()), fix
    )
    if c["kind"] not in _KINDS:
        raise _bad(label, "kind", f"one of {_KINDS}", c["kind"], fix)
    _check_architecture(label, c["kind"], c["architecture"], fix)
    _card_problem(label, c["problem"], fix)
    _integer(label, "n_train", c["n_train"], fix, 1, 10**12)
    _number(label, "train_seconds", c["train_seconds"], fix, low=0.0)
    _check_metrics(label, c["metrics"], fix)
    _text(label, "note", c["note"], fix)
    v = _keys(label, "versions", c["versions"], {"torch", "zuko", "precml"}, fix)
    for name, text in v.items():
        _text(label, f"versions.{name}", text, fix)
    if weights:
        w = _keys(label, "weights", c["weights"], {"sha256", "bytes"}, fix)
        if type(w["sha256"]) is not str or not re.fullmatch(r"[0-9a-f]{64}", w["sha256"]):
            raise _bad(label, "weights.sha256", "64 lowercase hex digits", w["sha256"], fix)
        _integer(label, "weights.bytes", w["bytes"], fix, 1, MAX_WEIGHTS_BYTES)


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
    st = require("safetensors.torch", "anomaly", "saving SMEFT models")
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
        "problem": _problem_card(model.problem),
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
    _check_card(label, card, fix, weights=False)  # the checks load_model makes
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
    write_bytes(weights_path, blob)  # weights first: a card never names a missing file
    write_json(card_path, card)
    return weights_path, card_path


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
    _check_card(label, card, _SAVE_AGAIN)
    return card, _card_problem(label, card["problem"], _SAVE_AGAIN)


def _check_header(weights_path: Path, kind: str, card: Mapping[str, Any], expected: Any) -> None:
    """Compare the safetensors header with the card's network, and the card's digest."""
    safetensors = require("safetensors", "anomaly", "loading SMEFT models")
    label = repr(os.fspath(weights_path))
    names = {
        prefix + k: ([*v.shape], str(v.dtype).removeprefix("torch."))
        for prefix in _prefixes(kind, card["architecture"])
        for k, v in expected.items()
    }
    codes = {"float32": "F32", "bool": "BOOL", "int64": "I64"}
    try:
        with safetensors.safe_open(weights_path, framework="pt") as f:
            found = {k: (f.get_slice(k).get_shape(), f.get_slice(k).get_dtype()) for k in f.keys()}
            metadata = f.metadata() or {}
    except Exception as exc:
        raise InvalidInputError(
            f"{label} is not a readable safetensors file ({exc}); {_SAVE_AGAIN}."
        ) from None
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
    st = require("safetensors.torch", "anomaly", "loading SMEFT models")
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
    _check_header(weights_path, kind, card, reference)
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
