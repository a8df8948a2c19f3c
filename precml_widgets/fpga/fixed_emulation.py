"""Bit-exact, vectorised NumPy emulation of hls4ml io_parallel firmware, without a C++ compiler.

Every ``ap_fixed`` value is an int64 count of least significant bits; each C++ assignment becomes
an explicit cast (quantisation of dropped fractional bits, then overflow of dropped integer bits)
that follows the Vivado/Vitis ``ap_types`` and the hls4ml templates (``nnet_dense_latency.h``,
``nnet_merge.h``, ``nnet_activation.h``) the generated project instantiates. The layers are read
from the ModelGraph's generated C++ (``function_cpp`` and ``config_cpp``), so what is emulated is
what g++ compiles; anything else raises :class:`UnsupportedFirmwareError`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from precml_widgets._checks import require_int
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.precision import (
    FixedType,
    IntermediateWidthError,
    IntRange,
    apply_overflow,
    cast,
    from_float,
    parse_precision,
    requantize,
    requantized_bounds,
    to_float32,
)

__all__ = ["SUPPORTED", "FixedPointModel", "UnsupportedFirmwareError", "supports"]

SUPPORTED = (
    "Vivado/Vitis io_parallel ModelGraphs with one input and one output; functions nnet::dense "
    "(Latency kernel, plain 'mult' products), nnet::relu, nnet::linear, nnet::softmax (stable, "
    "latency or argmax; power-of-two tables; 1-d), nnet::add, nnet::subtract, nnet::multiply; "
    "types ap_(u)fixed and ap_(u)int up to 32 bits with any quantisation mode and AP_WRAP (no "
    "saturation bits), AP_SAT, AP_SAT_ZERO or AP_SAT_SYM overflow"
)
_MAX_WIDTH = 32
_FUNCTION = re.compile(r"nnet::(\w+)<([^()]*)>\(")
_TYPEDEF = re.compile(r"typedef\s+(.+?)\s+(\w+);")


class UnsupportedFirmwareError(InvalidInputError):
    """The ModelGraph uses a layer, type or mode the NumPy emulation does not reproduce."""


def _fixed(precision: Any, what: str) -> FixedType:
    """An hls4ml precision object (or C++ type string) as a :class:`FixedType`; checks support."""
    kind = type(precision).__name__
    if isinstance(precision, str):  # a literal in the generated C++, e.g. ap_ufixed<15, 5>
        try:
            t = parse_precision(precision, name=what)
        except InvalidInputError:
            raise UnsupportedFirmwareError(f"unknown C++ type {what!r}; {SUPPORTED}") from None
    elif "Fixed" in kind or kind.endswith("IntegerPrecisionType"):
        if int(getattr(precision, "saturation_bits", 0) or 0):
            raise UnsupportedFirmwareError(
                f"{what} ({precision}) uses saturation bits; {SUPPORTED}"
            )
        width, signed = int(precision.width), bool(precision.signed)
        integer = int(precision.integer)
        rounding = f"AP_{getattr(precision, 'rounding_mode', 'TRN')}"
        overflow = f"AP_{getattr(precision, 'saturation_mode', 'WRAP')}"
        t = FixedType(width, integer, signed, rounding, overflow)
    else:
        raise UnsupportedFirmwareError(f"{what} has type {precision} ({kind}); {SUPPORTED}")
    if t.width > _MAX_WIDTH or t.overflow == "AP_WRAP_SM":
        raise UnsupportedFirmwareError(f"{what} has type {t.to_hls()}; {SUPPORTED}")
    return t


@functools.lru_cache(maxsize=1)
def _expf() -> Callable[[float], float]:
    """The C library's ``expf`` (what ``std::exp(float)`` calls); float64 exp as a fallback."""
    name = ctypes.util.find_library("m") or ctypes.util.find_library("c")
    try:
        expf = ctypes.CDLL(name).expf
        expf.restype, expf.argtypes = ctypes.c_float, [ctypes.c_float]
        return expf
    except (OSError, AttributeError, TypeError):
        return lambda v: float(np.float32(np.exp(np.float64(v))))


def _table_inputs(t: FixedType, size: int) -> np.ndarray:
    """``softmax_real_val_from_idx``: each index as the top bits of a ``t``, as float32."""
    bits = max(1, (size - 1).bit_length())  # nnet::ceillog2
    if size != 1 << bits or bits > t.width:
        raise UnsupportedFirmwareError(
            f"softmax table size {size} is not a power of two of at most 2^{t.width}; {SUPPORTED}"
        )
    raw = np.arange(size, dtype=np.int64) << (t.width - bits)
    if t.signed:
        raw = np.where(raw >= 1 << (t.width - 1), raw - (1 << t.width), raw)
    return to_float32(raw, t)


def _table_index(v: np.ndarray, t: FixedType, size: int) -> np.ndarray:
    """``softmax_idx_from_real_val``: the top log2(size) bits of ``t``'s bit pattern."""
    return (v & ((1 << t.width) - 1)) >> (t.width - (size - 1).bit_length())


_Step = tuple[Callable[..., np.ndarray], tuple[str, ...], str]


class _Graph:
    """Type names of the generated C++ (``defines.h`` typedefs) resolved to :class:`FixedType`."""

    def __init__(self, hls_model: Any) -> None:
        self.precisions: dict[str, Any] = {}
        for layer in hls_model.get_layers():
            for value in layer.attributes.values():
                named = getattr(value, "type", value)
                if isinstance(getattr(named, "name", None), str) and hasattr(named, "precision"):
                    self.precisions.setdefault(named.name, named.precision)

    def type(self, name: str) -> FixedType:
        return _fixed(self.precisions.get(name, name), name)


def _call(layer: Any) -> tuple[str, list[str], dict[str, str], str]:
    """The nnet function, its template arguments and the config typedefs of a layer."""
    function, config = layer.get_attr("function_cpp"), layer.get_attr("config_cpp") or ""
    match = _FUNCTION.search(function or "")
    if match is None:
        raise UnsupportedFirmwareError(
            f"layer {layer.name!r} ({layer.class_name}) has no generated nnet:: call; {SUPPORTED}"
        )
    typedefs = {role: cpp for cpp, role in _TYPEDEF.findall(config)}
    return match[1], [a.strip() for a in match[2].split(",")], typedefs, config


def _weights(var: Any, t: FixedType) -> np.ndarray:
    """Weights as the C++ loads them: hls4ml's decimal text of each value, then ``t(double)``."""
    return from_float(np.array([float(text) for text in var], dtype=np.float64), t)


def _dense(
    layer: Any, graph: _Graph, args: list[str], typedefs: dict[str, str], config: str, src: IntRange
) -> Callable[..., np.ndarray]:
    """``nnet::dense_latency``: products, bias and every ``acc +=`` cast to accum_t; then res_T."""
    kernel = re.search(r"using kernel = nnet::(\w+)", config)
    product = re.search(r"product = nnet::product::(\w+)", config)
    if not (kernel and kernel[1] == "DenseLatency" and product and product[1] == "mult"):
        raise UnsupportedFirmwareError(
            f"dense layer {layer.name!r} uses kernel {kernel and kernel[1]} with product "
            f"{product and product[1]}; {SUPPORTED}"
        )
    t_acc, t_res = graph.type(typedefs["accum_t"]), graph.type(args[1])
    w_var, b_var = layer.get_weights("weight"), layer.get_weights("bias")
    t_w, t_b = _fixed(w_var.type.precision, w_var.name), _fixed(b_var.type.precision, b_var.name)
    n_in, n_out = int(layer.get_attr("n_in")), int(layer.get_attr("n_out"))
    w = _weights(w_var, t_w).reshape(n_in, n_out)  # C++ index ii * n_out + jj
    b = _weights(b_var, t_b)
    bias = cast(b, IntRange(t_b.fractional, int(b.min()), int(b.max())), t_acc)
    shift = src.frac + t_w.fractional - t_acc.fractional  # bits each product cast drops
    x_max = max(-src.lo, src.hi)
    if x_max * int(np.abs(w).max()) >= 1 << 62:
        raise UnsupportedFirmwareError(f"dense {layer.name!r}: products exceed 62 bits")
    p_lo, p_hi = np.minimum(w * src.lo, w * src.hi), np.maximum(w * src.lo, w * src.hi)
    products = IntRange(src.frac + t_w.fractional, int(p_lo.min()), int(p_hi.max()))
    requantized_bounds(products, shift, t_acc.rounding)  # raises beyond 62 bits
    q_lo = requantize(p_lo, shift, "AP_TRN")
    q_hi = requantize(p_hi, shift, "AP_TRN") + int(shift > 0 and t_acc.rounding != "AP_TRN")
    full = IntRange.of(t_acc)
    span = IntRange(
        full.frac,
        int((bias + np.minimum(q_lo, 0).sum(axis=0)).min()),
        int((bias + np.maximum(q_hi, 0).sum(axis=0)).max()),
    )  # bounds every partial sum
    in_range = full.lo < min(span.lo, q_lo.min()) and max(span.hi, q_hi.max()) < full.hi
    acc_range = span if in_range else full

    if t_acc.overflow != "AP_WRAP" and not in_range:  # saturate after every addition, in order
        pair = IntRange(full.frac, 2 * full.lo, 2 * full.hi)

        def dense(x: np.ndarray) -> np.ndarray:
            acc = np.broadcast_to(bias[:, None], (n_out, x.shape[1]))
            for i in range(n_in):
                acc = apply_overflow(acc + cast(w[i, :, None] * x[i], products, t_acc), t_acc, pair)
            return cast(acc, full, t_res)

    elif shift <= 0 and x_max * int(np.abs(w << -shift).sum(axis=0).max()) < 2**53 - 2**40:
        w_float = np.ldexp(w.T.astype(np.float64), -shift)  # BLAS is exact: sums below 2^53

        def dense(x: np.ndarray) -> np.ndarray:
            acc = (w_float @ x.astype(np.float64)).astype(np.int64) + bias[:, None]
            return cast(apply_overflow(acc, t_acc, span), acc_range, t_res)

    else:  # round each product, sum modulo 2^64 (2^32 when narrow), then wrap to accum_t
        narrow = (x_max * int(np.abs(w).max()) << max(-shift, 0)) + (1 << max(shift, 0)) < 2**31
        dtype = np.int32 if narrow else np.int64
        w_cast = w.astype(dtype)

        def dense(x: np.ndarray) -> np.ndarray:
            x = x.astype(dtype)
            acc = np.zeros((n_out, x.shape[1]), dtype=dtype)
            tmp = np.empty_like(acc)
            for i in range(n_in):
                np.multiply(w_cast[i, :, None], x[i], out=tmp)
                if t_acc.rounding == "AP_TRN" and shift > 0:
                    np.right_shift(tmp, shift, out=tmp)
                    acc += tmp
                else:
                    acc += requantize(tmp, shift, t_acc.rounding)
            acc = acc.astype(np.int64) + bias[:, None]
            return cast(apply_overflow(acc, t_acc, span), acc_range, t_res)

    return dense


def _activation(name: str, t_in: FixedType, t_res: FixedType) -> Callable[..., np.ndarray]:
    """``nnet::relu`` (``res = x > 0 ? x : 0``) and ``nnet::linear`` (``res = x``)."""
    src = IntRange.of(t_in)
    if name == "linear":
        return lambda x: cast(x, src, t_res)
    if t_in == t_res:
        return lambda x: np.maximum(x, 0)
    return lambda x: np.where(x > 0, cast(x, src, t_res), 0)


def _merge(
    name: str, t_a: FixedType, t_b: FixedType, t_res: FixedType, n_a: int, n_b: int
) -> Callable[..., np.ndarray]:
    """``nnet::add/subtract/multiply``: the exact result of ``data1[i % n1] op data2[i % n2]``."""
    a, b = IntRange.of(t_a), IntRange.of(t_b)
    n = max(n_a, n_b)
    index_a, index_b = np.arange(n) % n_a, np.arange(n) % n_b
    if name == "multiply":
        corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
        exact = IntRange(a.frac + b.frac, min(corners), max(corners))
    else:
        frac = max(a.frac, b.frac)
        sa, sb = frac - a.frac, frac - b.frac
        lo_b, hi_b = (b.lo, b.hi) if name == "add" else (-b.hi, -b.lo)
        exact = IntRange(frac, (a.lo << sa) + (lo_b << sb), (a.hi << sa) + (hi_b << sb))

    def merge(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = x if n_a == n else x[index_a]
        y = y if n_b == n else y[index_b]
        if name == "multiply":
            value = x * y
        elif name == "add":
            value = (x << sa) + (y << sb)
        else:
            value = (x << sa) - (y << sb)
        return cast(value, exact, t_res)

    return merge


def _softmax(
    layer: Any, graph: _Graph, args: list[str], typedefs: dict[str, str], config: str
) -> Callable[..., np.ndarray]:
    """``nnet::softmax``, its tables built as in ``init_exp_table`` and ``init_invert_table``."""
    found = dict(re.findall(r"(\w+) = (?:nnet::softmax_implementation::)?([\w.+-]+);", config))
    implementation, shape = (
        found.get("implementation"),
        (found.get("n_outer"), found.get("n_inner")),
    )
    if implementation not in ("stable", "latency", "argmax") or shape != ("1", "1"):
        raise UnsupportedFirmwareError(
            f"softmax {layer.name!r}: implementation {implementation}, (n_outer, n_inner) = "
            f"{shape}; {SUPPORTED}"
        )
    t_in, t_res = graph.type(args[0]), graph.type(args[1])
    if implementation == "argmax":
        one = cast(np.ones(1, dtype=np.int64), IntRange(0, 1, 1), t_res)[0]

        def argmax(x: np.ndarray) -> np.ndarray:
            out = np.zeros_like(x)
            out[np.argmax(x, axis=0), np.arange(x.shape[1])] = one
            return out

        return argmax
    t_acc, t_inv_inp = graph.type(typedefs["accum_t"]), graph.type(typedefs["inv_inp_t"])
    t_exp, t_inv = graph.type(typedefs["exp_table_t"]), graph.type(typedefs["inv_table_t"])
    t_norm = graph.type(typedefs["inp_norm_t"]) if implementation == "stable" else t_in
    exp_size, inv_size = int(found["exp_table_size"]), int(found["inv_table_size"])
    expf = _expf()
    inputs = _table_inputs(t_norm, exp_size) * np.float32(float(found["exp_scale"].rstrip("f")))
    if implementation == "stable":
        inputs = -inputs
    exp_table = from_float(np.array([expf(v) for v in inputs.tolist()], np.float32), t_exp)
    exp_table = cast(exp_table, IntRange.of(t_exp), t_acc)  # exp_res[i] = exp_table[x]
    with np.errstate(divide="ignore"):
        inv_table = from_float(np.float32(1) / _table_inputs(t_inv_inp, inv_size), t_inv)
    acc, data, inv = IntRange.of(t_acc), IntRange.of(t_in), IntRange.of(t_inv)
    pair = IntRange(acc.frac, 2 * acc.lo, 2 * acc.hi)
    corners = [acc.lo * inv.lo, acc.lo * inv.hi, acc.hi * inv.lo, acc.hi * inv.hi]
    product = IntRange(acc.frac + inv.frac, min(corners), max(corners))

    def tree(cols: Sequence[np.ndarray]) -> np.ndarray:  # nnet::reduce with Op_add<accum_t>
        if len(cols) == 1:
            return cols[0]
        left = 1 << ((len(cols) - 1).bit_length() - 1)  # pow2(floorlog2(N - 1))
        return apply_overflow(tree(cols[:left]) + tree(cols[left:]), t_acc, pair)

    def softmax(x: np.ndarray) -> np.ndarray:
        if implementation == "stable":
            diff = x.max(axis=0) - x
            x = cast(diff, IntRange(data.frac, 0, data.hi - data.lo), t_norm)
        exp_res = exp_table[_table_index(x, t_norm, exp_size)]
        total = tree(list(exp_res))
        total = cast(total, acc, t_inv_inp)
        inverse = inv_table[_table_index(total, t_inv_inp, inv_size)]
        return cast(exp_res * inverse, product, t_res)

    return softmax


class FixedPointModel:
    """A bit-exact NumPy twin of an hls4ml io_parallel ModelGraph's C++ ``myproject_float``.

    Each layer is a vectorised integer function of the previous layers' LSB counts; the input
    is converted float32 -> double -> ``input_t`` and the output ``result_t`` -> float32, as in
    hls4ml's bridge. Build it with :meth:`from_hls_model`.

    Args:
        steps: ``(function, input tensor names, output tensor name)`` per layer, in order.
        inputs: the input tensor's name, type and size.
        outputs: the output tensor's name, type and size.

    References:
        Duarte et al., "Fast inference of deep neural networks in FPGAs for particle physics",
        arXiv:1804.06913 (hls4ml). AMD UG1399, "Arbitrary Precision Fixed-Point Data Types"
        (the quantisation and overflow modes).

    Example (compiles the firmware with g++, a few seconds; ``tests/test_fixed_emulation.py``
    asserts the equality on every shipped model)::

        firmware = FirmwareEmulator(load_jet_tagger(), (16,), DeployConfig())
        model = FixedPointModel.from_hls_model(firmware.hls_model)
        assert np.array_equal(model.predict(x), firmware.predict(x))
    """

    def __init__(
        self,
        steps: Sequence[_Step],
        inputs: tuple[str, FixedType, int],
        outputs: tuple[str, FixedType, int],
    ) -> None:
        self._steps = tuple(steps)
        self._input, self.input_type, self.n_in = inputs
        self._output, self.output_type, self.n_out = outputs

    @classmethod
    def from_hls_model(cls, hls_model: Any) -> FixedPointModel:
        """Build the emulation from a converted hls4ml ``ModelGraph`` (see :data:`SUPPORTED`).

        Raises:
            UnsupportedFirmwareError: naming the first layer, type or mode that is not
                reproduced, and listing what is.
        """
        try:
            return cls._build(hls_model)
        except IntermediateWidthError as exc:
            raise UnsupportedFirmwareError(f"{exc}; {SUPPORTED}") from None

    @classmethod
    def _build(cls, hls_model: Any) -> FixedPointModel:
        """:meth:`from_hls_model` without the translation of the 62-bit limit."""
        backend = str(hls_model.config.get_config_value("Backend"))
        io_type = hls_model.config.get_config_value("IOType")
        ins, outs = hls_model.get_input_variables(), hls_model.get_output_variables()
        if backend.lower() not in ("vivado", "vitis") or io_type != "io_parallel":
            raise UnsupportedFirmwareError(f"backend {backend} with {io_type}; {SUPPORTED}")
        if len(ins) != 1 or len(outs) != 1:
            raise UnsupportedFirmwareError(
                f"the model has {len(ins)} inputs and {len(outs)} outputs; {SUPPORTED}"
            )
        graph, types, steps, first = _Graph(hls_model), {}, [], ""
        for layer in hls_model.get_layers():
            out = layer.get_output_variable()
            if len(out.shape) != 1:
                raise UnsupportedFirmwareError(
                    f"layer {layer.name!r} outputs shape {out.shape}; {SUPPORTED}"
                )
            if layer.class_name in ("Input", "InputLayer"):
                first = layer.outputs[0]
                types[first] = _fixed(out.type.precision, out.type.name)
                continue
            function, args, typedefs, cpp = _call(layer)
            in_types = [types[name] for name in layer.inputs]
            if [graph.type(a) for a in args[: len(in_types)]] != in_types:
                raise UnsupportedFirmwareError(f"layer {layer.name!r}: inconsistent input types")
            t_out = graph.type(args[len(in_types)])
            if function == "dense":
                fn = _dense(layer, graph, args, typedefs, cpp, IntRange.of(in_types[0]))
            elif function in ("relu", "linear"):
                fn = _activation(function, in_types[0], t_out)
            elif function == "softmax":
                fn = _softmax(layer, graph, args, typedefs, cpp)
            elif function in ("add", "subtract", "multiply"):
                sizes = [int(np.prod(layer.get_input_variable(n).shape)) for n in layer.inputs]
                fn = _merge(function, *in_types, t_out, *sizes)
            else:
                raise UnsupportedFirmwareError(
                    f"layer {layer.name!r} ({layer.class_name}) calls nnet::{function}; {SUPPORTED}"
                )
            types[layer.outputs[0]] = t_out
            steps.append((fn, tuple(layer.inputs), layer.outputs[0]))
        last = hls_model.outputs[0]
        if first not in types or last not in types:
            raise UnsupportedFirmwareError(f"no Input layer or output {last!r}; {SUPPORTED}")
        model = cls(
            steps,
            (first, types[first], int(np.prod(ins[0].shape))),
            (last, types[last], int(np.prod(outs[0].shape))),
        )
        model._run(np.zeros((1, model.n_in), dtype=np.float32))  # raises now, not in predict
        return model

    def _run(self, x: np.ndarray) -> np.ndarray:
        """One chunk ``(n, n_in)`` -> ``(n, n_out)``; inside, arrays are ``(features, n)``."""
        values = {self._input: from_float(np.ascontiguousarray(x.T), self.input_type)}
        for fn, inputs, output in self._steps:
            values[output] = fn(*(values[name] for name in inputs))
        return to_float32(values[self._output], self.output_type).T

    def predict(
        self, x: np.ndarray, *, threads: int | None = None, chunk_size: int = 4096
    ) -> np.ndarray:
        """Bit-exact firmware outputs, shape ``(n, n_out)`` float32.

        Args:
            x: inputs, shape ``(n, n_in)``; converted to float32 as hls4ml's ``predict`` does.
            threads: threads working on chunks in parallel (default: all cores).
            chunk_size: events per chunk (memory grows with it: a few kB per event).
        """
        arr = np.asarray(x, dtype=np.float32)
        arr = arr.reshape(1 if arr.ndim == 1 else len(arr), -1)
        if arr.shape[1] != self.n_in:
            raise InvalidInputError(
                f"x has {arr.shape[1]} values per event, the firmware expects {self.n_in}"
            )
        if not np.all(np.isfinite(arr)):
            raise InvalidInputError("x contains NaN or infinite values; clean the inputs first")
        chunk_size = require_int("chunk_size", chunk_size, low=1, hint="events per chunk.")
        out = np.empty((len(arr), self.n_out), dtype=np.float32)

        def work(start: int) -> None:
            out[start : start + chunk_size] = self._run(arr[start : start + chunk_size])

        starts = range(0, len(arr), chunk_size)
        n_threads = min(int(threads or len(os.sched_getaffinity(0))), len(starts))
        if n_threads <= 1:
            for start in starts:
                work(start)
        else:
            with ThreadPoolExecutor(n_threads) as pool:
                list(pool.map(work, starts))
        return out


def supports(hls_model: Any) -> tuple[bool, str]:
    """Whether :class:`FixedPointModel` reproduces ``hls_model``, and if not, why.

    Returns:
        ``(True, "")``, or ``(False, reason)`` with the reason naming the unsupported layer,
        type or mode and listing what is supported.
    """
    try:
        FixedPointModel.from_hls_model(hls_model)
    except UnsupportedFirmwareError as exc:
        return False, str(exc)
    return True, ""
