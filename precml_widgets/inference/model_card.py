"""The JSON card of a saved SMEFT model: its layout, and every field's check.

:func:`check_card` checks a parsed card field by field (types, ranges, bounded sizes) and
raises naming the field; :func:`problem_card` / :func:`card_problem` turn an
:class:`~precml_widgets.inference.EFTProblem` into its card entry and back. Used by
:mod:`~precml_widgets.inference.export`, which writes and reads the cards.
"""

from __future__ import annotations

import math
import re
from typing import Any

from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.classifiers import CLASSIFIER_KINDS
from precml_widgets.inference.measurement import Measurement
from precml_widgets.inference.problem import EFTProblem
from precml_widgets.inference.smearing import Smearing

__all__ = [
    "FORMAT_VERSION",
    "MAX_HIDDEN",
    "MAX_MEMBERS",
    "MAX_TRANSFORMS",
    "MAX_WEIGHTS_BYTES",
    "card_problem",
    "check_card",
    "problem_card",
]

#: The version of the card layout written by :func:`~precml_widgets.inference.save_model`.
FORMAT_VERSION = 1
#: Largest weights file accepted, bytes (the shipped models are < 1 MB).
MAX_WEIGHTS_BYTES = 64 << 20

#: Largest architecture a card may state (as :func:`build_flow` allows).
MAX_HIDDEN, MAX_TRANSFORMS, MAX_MEMBERS = 1024, 16, 64
_KINDS = ("learned_ratio", "neural_likelihood")


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


def problem_card(problem: EFTProblem) -> dict[str, Any]:
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


def card_problem(label: str, entry: object, fix: str) -> EFTProblem:
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


def check_card(label: str, card: object, fix: str, *, weights: bool = True) -> None:
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
    card_problem(label, c["problem"], fix)
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
