"""Layers from the places a design is written down: table strings, ModelGraphs, project folders.

Built from the compact strings of the synthesis-report table (and written back with
:func:`to_table_string`), from an hls4ml ``ModelGraph``, or from an hls4ml project folder
written by ``hls_model.write()`` (``firmware/parameters.h``, ``defines.h`` and the top-level
``.cpp``), the same way the calibration table was extracted.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.defaults import DEFAULT_STRATEGY
from precml_widgets.fpga.layer_types import (
    DEFAULT_TYPE,
    SUPPORTED_KINDS,
    ConvLayer,
    DenseLayer,
    Layer,
    MergeLayer,
    RecurrentLayer,
    SoftmaxLayer,
)
from precml_widgets.fpga.precision import FixedType, parse_precision

__all__ = [
    "layers_from_hls_model",
    "layers_from_project",
    "layers_from_table_string",
    "to_table_string",
]

_TABLE_FORMAT = (
    "'dense:<n_in>x<n_out>:rf<reuse>:<lat|res>:w=<type>:acc=<type>:in=<type>:out=<type>:z=<zeros>'"
    " (layers joined by ' | ', types like fx16_6)"
)


# ---------------------------------------------------------------- table strings
def layers_from_table_string(text: str) -> tuple[Layer, ...]:
    """Parse the compact layer list of ``synthesis-reports/table.csv``.

    Args:
        text: layers joined by ``" | "``, each like
            ``dense:16x64:rf1:lat:w=fx16_6:acc=fx16_6:in=fx16_6:out=fx16_6:z=24``,
            ``conv2d:28x28x1->4:k3x3:rf3:res:w=...``, ``gru:6x20:rf1:w=...`` (``:t50`` gives
            the sequence length) or ``softmax:5``.
            Types may be ``None`` (unknown).

    Raises:
        InvalidInputError: naming the malformed item, the unsupported kind (listing the
            supported ones) or the bad type string.

    Example:
        >>> (layer,) = layers_from_table_string("dense:16x64:rf4:lat:w=fx8_3:acc=fx16_6:z=24")
        >>> layer.reuse_factor, layer.weight.to_hls(), layer.n_zeros
        (4, 'ap_fixed<8,3>', 24)
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"layer string must be a non-empty string; format {_TABLE_FORMAT}.")
    return tuple(_parse_item(item.strip(), i) for i, item in enumerate(text.split("|")))


def _parse_item(item: str, index: int) -> Layer:
    tokens = item.split(":")
    kind = tokens[0].strip().lower()
    name = f"{kind}_{index}"
    if kind not in SUPPORTED_KINDS:
        raise InvalidInputError(
            f"layer {index} ({item!r}): unsupported kind {kind!r}; supported kinds: "
            f"{', '.join(SUPPORTED_KINDS)}."
        )
    try:
        if kind == "softmax":
            return SoftmaxLayer(int(tokens[1]), name=name)
        opts: dict[str, Any] = {"name": name}
        kernel: tuple[int, ...] = ()
        for token in tokens[2:]:
            if "=" in token:
                key, value = token.split("=", 1)
                key = {"w": "weight", "acc": "accum", "in": "input", "out": "result"}.get(key, key)
                if key == "z":
                    opts["n_zeros"] = int(value)
                elif key in ("weight", "accum", "input", "result"):
                    if value != "None":
                        opts[key] = parse_precision(value, name=f"layer {index} {key}")
                else:
                    raise ValueError(f"unknown field {key!r}")
            elif re.fullmatch(r"rf\d+", token):
                opts["reuse_factor"] = int(token[2:])
            elif re.fullmatch(r"t\d+", token) and kind in ("gru", "lstm"):
                opts["n_timesteps"] = int(token[1:])
            elif re.fullmatch(r"k\d+(x\d+)*", token):
                kernel = tuple(int(k) for k in token[1:].split("x"))
            elif token in ("lat", "res", "latency", "resource"):
                opts["strategy"] = token
            else:
                raise ValueError(f"unknown token {token!r}")
        shape = tokens[1]
        if kind == "dense":
            n_in, n_out = (int(v) for v in shape.split("x"))
            return DenseLayer(n_in, n_out, **opts)
        if kind in ("gru", "lstm"):
            n_in, n_state = (int(v) for v in shape.split("x"))
            return RecurrentLayer(kind, n_in, n_state, **opts)  # type: ignore[arg-type]
        dims, n_filt = shape.split("->")
        in_shape = tuple(int(v) for v in dims.split("x"))
        return ConvLayer(kind, in_shape, int(n_filt), kernel, **opts)  # type: ignore[arg-type]
    except (ValueError, IndexError) as exc:
        raise InvalidInputError(
            f"layer {index} ({item!r}) is malformed ({exc}); expected {_TABLE_FORMAT}."
        ) from None


# ---------------------------------------------------------------- hls4ml ModelGraph
_PASS_THROUGH = ("Input", "Activation", "Reshape", "Transpose", "ZeroPadding1D", "ZeroPadding2D")


def _fixed_from_hls(precision: Any) -> FixedType:
    """hls4ml's ``FixedPrecisionType``/``IntegerPrecisionType`` as a :class:`FixedType`."""
    width, signed = int(precision.width), bool(precision.signed)
    integer = int(getattr(precision, "integer", width))
    modes = []
    for attr, default in (("rounding_mode", "AP_TRN"), ("saturation_mode", "AP_WRAP")):
        mode = getattr(precision, attr, None)
        modes.append(f"AP_{mode.name}" if mode is not None else default)
    try:
        return FixedType(max(width, 2 if signed else 1), integer, signed, *modes)
    except InvalidInputError:
        return FixedType(max(width, 2 if signed else 1), integer, signed)


def _type_of(layer: Any, attr: str) -> FixedType | None:
    named = layer.get_attr(attr)
    return None if named is None else _fixed_from_hls(named.precision)


def layers_from_hls_model(hls_model: Any) -> tuple[Layer, ...]:
    """The estimator's layers of an hls4ml ``ModelGraph`` (any backend).

    Dense, Conv1D/2D, GRU/LSTM and Softmax layers are kept; inputs, element-wise activations
    (ReLU, ...) and reshapes are skipped (their cost is small and not modelled). Zeros are
    the exact zeros of the weight array, as hls4ml's ``n_zeros``.

    Raises:
        InvalidInputError: a layer of another kind (pooling, batch norm, merge...), naming it
            and listing the supported kinds.
    """
    hl = require("hls4ml.model.layers", "fpga", "reading an hls4ml model")
    out: list[Layer] = []
    for layer in hls_model.get_layers():
        name = layer.name
        if isinstance(layer, hl.Softmax):
            out.append(SoftmaxLayer(int(layer.get_attr("n_in")), name=name))
            continue
        if isinstance(layer, tuple(getattr(hl, n) for n in _PASS_THROUGH)):
            continue
        if isinstance(layer, hl.Merge) and str(layer.get_attr("op")) in (
            "add",
            "subtract",
            "multiply",
        ):
            source = layer.get_input_variable(layer.inputs[0])
            out.append(
                MergeLayer(
                    str(layer.get_attr("op")),
                    int(math.prod(source.shape)),
                    input=_fixed_from_hls(source.type.precision),
                    result=_fixed_from_hls(layer.get_output_variable().type.precision),
                    name=name,
                )
            )
            continue
        common = _mac_fields(layer)
        if isinstance(layer, hl.Dense):
            out.append(
                DenseLayer(int(layer.get_attr("n_in")), int(layer.get_attr("n_out")), **common)
            )
        elif isinstance(layer, hl.Conv1D | hl.Conv2D) and layer.class_name in ("Conv1D", "Conv2D"):
            conv2d = isinstance(layer, hl.Conv2D)
            spatial = ("in_height", "in_width") if conv2d else ("in_width",)
            kernel = ("filt_height", "filt_width") if conv2d else ("filt_width",)
            outs = ("out_height", "out_width") if conv2d else ("out_width",)
            out.append(
                ConvLayer(
                    "conv2d" if conv2d else "conv1d",
                    (*(int(layer.get_attr(a)) for a in spatial), int(layer.get_attr("n_chan"))),
                    int(layer.get_attr("n_filt")),
                    tuple(int(layer.get_attr(a)) for a in kernel),
                    out_positions=math.prod(int(layer.get_attr(a)) for a in outs),
                    **common,
                )
            )
        elif isinstance(layer, hl.GRU | hl.LSTM):
            steps = layer.get_attr("n_timesteps")
            out.append(
                RecurrentLayer(
                    "gru" if isinstance(layer, hl.GRU) else "lstm",
                    int(layer.get_attr("n_in")),
                    int(layer.get_attr("n_out")),
                    n_timesteps=None if steps is None else int(steps),
                    **common,
                )
            )
        else:
            raise InvalidInputError(
                f"layer {name!r} ({layer.class_name}) is not supported by the resource "
                f"estimator; supported kinds: {', '.join(SUPPORTED_KINDS)} (plus inputs, "
                "element-wise activations and reshapes, which are skipped)."
            )
    return tuple(out)


def _mac_fields(layer: Any) -> dict[str, Any]:
    weights = layer.weights.get("weight") if hasattr(layer, "weights") else None
    n_zeros = 0
    if weights is not None:
        n_zeros = int(weights.data.size - (weights.data != 0).sum())
    return {
        "reuse_factor": int(layer.get_attr("reuse_factor", 1)),
        "strategy": str(layer.get_attr("strategy", DEFAULT_STRATEGY) or DEFAULT_STRATEGY),
        "weight": _type_of(layer, "weight_t") or DEFAULT_TYPE,
        "accum": _type_of(layer, "accum_t") or DEFAULT_TYPE,
        "input": _fixed_from_hls(layer.get_input_variable().type.precision),
        "result": _fixed_from_hls(layer.get_output_variable().type.precision),
        "n_zeros": n_zeros,
        "name": layer.name,
    }


# ---------------------------------------------------------------- hls4ml project folder
_STRUCT = re.compile(r"struct\s+(\w+)\s*:\s*nnet::(\w+)\s*\{(.*?)\n\s*\};", re.DOTALL)
_FIELD = re.compile(r"static\s+const\s+(?:unsigned|int|bool|\w+)\s+(\w+)\s*=\s*([^;]+);")
_TYPEDEF = re.compile(r"typedef\s+(.+?)\s+(\w+)\s*;")
_CALL = re.compile(r"nnet::(\w+)\s*<([^;{}]*?)>\s*\(")


def layers_from_project(folder: str | os.PathLike[str]) -> tuple[Layer, ...]:
    """The estimator's layers of an hls4ml project folder written by ``hls_model.write()``.

    Reads the layer calls of ``firmware/<project>.cpp`` in order, each call's ``config`` struct
    in ``firmware/parameters.h`` (``n_in``, ``n_out``, ``reuse_factor``, ``strategy``,
    ``n_zeros``, ``accum_t``/``weight_t``) and the typedefs of ``firmware/defines.h``.

    Raises:
        InvalidInputError: the folder is not an hls4ml project, or holds an unsupported layer
            (named, with the supported kinds listed).
    """
    root = Path(folder).expanduser()
    firmware = root / "firmware"
    params, defines = firmware / "parameters.h", firmware / "defines.h"
    tops = [p for p in sorted(firmware.glob("*.cpp")) if "bridge" not in p.name]
    if not (params.is_file() and defines.is_file() and tops):
        raise InvalidInputError(
            f"{str(root)!r} is not an hls4ml project: expected firmware/parameters.h, "
            "firmware/defines.h and firmware/<project>.cpp (as written by hls_model.write())."
        )
    typedefs = dict((n, t) for t, n in _TYPEDEF.findall(_strip_comments(defines.read_text())))
    structs = {m[1]: (m[2], m[3]) for m in _STRUCT.finditer(_strip_comments(params.read_text()))}
    out: list[Layer] = []
    for func, targs in _CALL.findall(_strip_comments(tops[0].read_text())):
        args = _split_args(targs)
        config = args[-1] if args else ""
        if config not in structs:
            continue
        base, body = structs[config]
        kind = base.removesuffix("_config")
        if "softmax" in (func, kind):  # hls4ml 1.x configures softmax with an activ_config
            out.append(SoftmaxLayer(int(_fields(body)["n_in"]), name=config))
            continue
        if kind in ("activ", "zeropad1d", "zeropad2d", "transpose", "reshape"):
            continue
        if kind not in ("dense", "conv1d", "conv2d", "gru", "lstm"):
            raise InvalidInputError(
                f"layer {config!r} (nnet::{func}, {base}) in {str(params)!r} is not supported "
                f"by the resource estimator; supported kinds: {', '.join(SUPPORTED_KINDS)}."
            )
        out.append(_project_layer(kind, config, body, structs, typedefs, args))
    return tuple(out)


def _project_layer(
    kind: str,
    config: str,
    body: str,
    structs: dict[str, tuple[str, str]],
    typedefs: dict[str, str],
    args: list[str],
) -> Layer:
    f = _fields(body)
    # conv/rnn keep weight_t/accum_t in their nested dense ("config<N>_mult...") structs
    typed = [body] + [b for n, (base, b) in structs.items() if n.startswith(config + "_mult")]
    local = {n: t for b in typed for t, n in _TYPEDEF.findall(b)}

    def fixed(name: str, fallback: FixedType | None) -> FixedType | None:
        text = local.get(name, name)
        return _resolve_type(text, typedefs) or fallback

    data_types = [fixed(a, None) for a in args[:2]] if len(args) >= 3 else [None, None]
    strategy = f.get("strategy", "nnet::latency").split("::")[-1]
    common: dict[str, Any] = {
        "reuse_factor": int(f.get("reuse_factor", "1")),
        "strategy": strategy,
        "weight": fixed("weight_t", DEFAULT_TYPE),
        "accum": fixed("accum_t", DEFAULT_TYPE),
        "input": data_types[0],
        "result": data_types[1],
        "n_zeros": int(f.get("n_zeros", "0")),
        "name": config,
    }
    try:
        if kind == "dense":
            return DenseLayer(int(f["n_in"]), int(f["n_out"]), **common)
        if kind in ("gru", "lstm"):
            steps = f.get("n_sequence") or f.get("n_timesteps")
            return RecurrentLayer(
                kind,  # type: ignore[arg-type]
                int(f["n_in"]),
                int(f.get("n_state", f.get("n_out", "0"))),
                n_timesteps=int(steps) if steps and steps.isdigit() else None,
                **common,
            )
        conv2d = kind == "conv2d"
        spatial = ("in_height", "in_width") if conv2d else ("in_width",)
        kernel = ("filt_height", "filt_width") if conv2d else ("filt_width",)
        outs = ("out_height", "out_width") if conv2d else ("out_width",)
        return ConvLayer(
            kind,  # type: ignore[arg-type]
            (*(int(f[a]) for a in spatial), int(f["n_chan"])),
            int(f["n_filt"]),
            tuple(int(f[a]) for a in kernel),
            out_positions=math.prod(int(f[a]) for a in outs),
            **common,
        )
    except (KeyError, ValueError) as exc:
        raise InvalidInputError(
            f"config struct {config!r} ({kind}) in parameters.h lacks or garbles field {exc}; "
            "was the project written by hls4ml?"
        ) from None


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL)


def _fields(body: str) -> dict[str, str]:
    return {k: v.strip() for k, v in _FIELD.findall(body)}


def _split_args(text: str) -> list[str]:
    """Split template arguments at top-level commas."""
    args, depth, current = [], 0, ""
    for ch in text:
        depth += (ch == "<") - (ch == ">")
        if ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += ch
    return [*args, current.strip()] if current.strip() else args


def _resolve_type(text: str, typedefs: dict[str, str], depth: int = 0) -> FixedType | None:
    text = text.strip()
    array = re.fullmatch(r"nnet::array<(.+),\s*[^,<>]+>", text)
    if array:
        text = array[1].strip()
    if text in typedefs and depth < 20:
        return _resolve_type(typedefs[text], typedefs, depth + 1)
    try:
        return parse_precision(text)
    except InvalidInputError:
        return None


def to_table_string(layers: Sequence[Layer]) -> str:
    """The table layer string of dense and softmax ``layers`` (what :func:`layers_from_table_string`
    reads back to equal layers, names aside).

    Types are written in hls4ml's spelling (``ap_fixed<16,6>``), which the table accepts.

    Raises:
        InvalidInputError: a layer other than :class:`DenseLayer` or :class:`SoftmaxLayer`.

    Example:
        >>> to_table_string([DenseLayer(16, 5, reuse_factor=2), SoftmaxLayer(5)])
        'dense:16x5:rf2:lat:w=ap_fixed<16,6>:acc=ap_fixed<16,6>:in=None:out=None:z=0 | softmax:5'
    """
    items = []
    for layer in layers:
        if isinstance(layer, SoftmaxLayer):
            items.append(f"softmax:{layer.n_in}")
        elif isinstance(layer, DenseLayer):
            types = ":".join(
                f"{key}={t.to_hls() if t is not None else None}"
                for key, t in (
                    ("w", layer.weight),
                    ("acc", layer.accum),
                    ("in", layer.input),
                    ("out", layer.result),
                )
            )
            strategy = "lat" if layer.strategy == "latency" else "res"
            items.append(
                f"dense:{layer.n_in}x{layer.n_out}:rf{layer.reuse_factor}:{strategy}:{types}"
                f":z={layer.n_zeros}"
            )
        else:
            raise InvalidInputError(
                f"to_table_string writes dense and softmax layers, got {type(layer).__name__} "
                f"{layer.name!r}; pass the layers themselves to estimate() instead."
            )
    return " | ".join(items)
