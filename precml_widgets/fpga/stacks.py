"""The estimator's layers of a torch network at one fixed-point width, cached for sliders.

:func:`dense_stack` reads the ``nn.Linear`` layers of a model in ``torch.fx`` graph order (the
order and node names hls4ml's PyTorch frontend uses) and types them the way a precision scan
(:func:`precml_widgets.fpga.scan.width_config`) types a firmware of total width ``W``:

* weights ``ap_fixed<W, I_w, AP_RND_CONV, AP_SAT>`` with ``I_w`` the fewest integer bits that
  hold the layer's largest ``|w|`` (:func:`~precml_widgets.fpga.convert.profiled_precisions`,
  computed from the weights themselves: no data needed);
* inputs and results ``ap_fixed<W, I>`` with ``I = integer_bits`` (default 6, hls4ml's
  ``ap_fixed<16,6>``; a scan profiles it from data, but only the width enters the estimate);
* accumulators that cannot overflow (:func:`~precml_widgets.fpga.convert.accumulator_type`:
  integer bits for the largest possible sum, the result's fractional bits plus four guard bits);
* ``n_zeros`` the exactly-zero weights, as hls4ml counts them.

:func:`estimator_stack` adds what else hls4ml's frontend makes of the graph and the estimator
prices: the table softmax and element-wise merges (``x - y``, ``x * y``, ``x + y`` of two
tensors), typed ``ap_fixed<W, I>``; sizes come from one event run through the model
(``torch.fx`` shape propagation). Activations are not estimated (:func:`unmodelled_nodes`).

So the estimate of a stack is the estimate of the firmware whose physics a precision scan
measured at the same ``W``. Stacks are cached per model object and settings; the cache notices
in-place weight edits (pruning) through torch's tensor version counter.

Example:
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> [(l.name, l.n_in, l.n_out) for l in dense_stack(net, width=10)]
    [('_0', 4, 8), ('_2', 8, 2)]
    >>> nearest_valid_reuse(16, 64, 3)  # hls4ml's choice for an invalid reuse factor
    2
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from precml_widgets._checks import require_choice, require_int
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.convert import accumulator_type, profiled_precisions
from precml_widgets.fpga.defaults import (
    DEFAULT_BACKEND,
    DEFAULT_STRATEGY,
    Backend,
    Strategy,
    StrategySpelling,
    normalize_strategy,
)
from precml_widgets.fpga.layers import (
    DenseLayer,
    Layer,
    MergeLayer,
    SoftmaxLayer,
)
from precml_widgets.fpga.precision import FixedType, parse_precision
from precml_widgets.fpga.reuse import check_reuse_factor, nearest_valid_reuse

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_INTEGER_BITS",
    "GUARD_BITS",
    "clear_cache",
    "dense_stack",
    "estimator_stack",
    "is_activation",
    "nearest_valid_reuse",
    "unmodelled_nodes",
]

DEFAULT_INTEGER_BITS = 6  # hls4ml's default ap_fixed<16,6>
GUARD_BITS = 4  # accumulator = result width + 4 fractional bits, as profiled_precisions
_ACTIVATIONS = frozenset(
    {"ReLU", "LeakyReLU", "Sigmoid", "Tanh", "ELU", "Hardtanh", "relu", "sigmoid", "tanh"}
)
_NO_COST = frozenset({"Identity", "Dropout", "Flatten", "flatten", "view", "reshape", "getitem"})
_SOFTMAX = frozenset({"Softmax", "softmax"})
_MERGES = {"add": "add", "sub": "subtract", "mul": "multiply"}  # hls4ml's Merge ops


@dataclass(frozen=True)
class _Node:
    name: str
    kind: Literal["dense", "softmax", "merge"]
    n_in: int
    n_out: int
    weight: Any = None  # the nn.Linear weight tensor (dense only)
    bias: Any = None  # the nn.Linear bias tensor or None (dense only)
    op: str = ""  # add / subtract / multiply (merge only)


@dataclass(frozen=True)
class _Graph:
    nodes: tuple[_Node, ...]
    unmodelled: tuple[tuple[str, str], ...]


_GRAPHS: weakref.WeakKeyDictionary[Any, _Graph] = weakref.WeakKeyDictionary()
_STACKS: weakref.WeakKeyDictionary[Any, dict[tuple, tuple[Layer, ...]]] = (
    weakref.WeakKeyDictionary()
)
_MAX_ENTRIES = 8192  # per model; the widget's whole grid is ~2000


def clear_cache() -> None:
    """Forget every traced graph and stack (after replacing a model's layers in place)."""
    _GRAPHS.clear()
    _STACKS.clear()


def _traced(torch: Any, model: torch.nn.Module) -> Any:
    """``torch.fx`` trace of ``model`` with each node's shape (one event through it)."""
    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception as exc:  # torch raises many types here
        raise InvalidInputError(
            f"torch.fx cannot trace the model ({type(exc).__name__}: {exc}); the estimate "
            "needs a traceable forward(), as hls4ml's PyTorch frontend does."
        ) from None
    modules = dict(traced.named_modules())
    linears = [
        modules[n.target]
        for n in traced.graph.nodes
        if n.op == "call_module" and isinstance(modules[n.target], torch.nn.Linear)
    ]
    inputs = [n for n in traced.graph.nodes if n.op == "placeholder"]
    if not linears or len(inputs) != 1:
        raise InvalidInputError(
            f"{type(model).__name__} has {len(linears)} nn.Linear layer(s) and {len(inputs)} "
            "input(s); the estimate covers networks of dense layers with one input "
            "(use precml_widgets.fpga.layers for convolutions and recurrent layers)."
        )
    w = linears[0].weight
    shape_prop = require("torch.fx.passes.shape_prop", "fpga", "reading layer sizes")
    try:
        with torch.no_grad():
            shape_prop.ShapeProp(traced).propagate(
                torch.zeros(1, w.shape[1], dtype=w.dtype, device=w.device)
            )
    except Exception as exc:  # a shape mismatch inside forward()
        raise InvalidInputError(
            f"cannot run one event of {w.shape[1]} features through the model "
            f"({type(exc).__name__}: {exc}); the input must be (n, features) of the first "
            "nn.Linear."
        ) from None
    return traced


def _size(node: Any) -> int:
    meta = node.meta.get("tensor_meta")
    shape = getattr(meta, "shape", None)
    return math.prod(shape[1:]) if shape is not None else 0


def _graph(model: torch.nn.Module) -> _Graph:
    """The dense, softmax and merge nodes of ``model`` in graph order (traced once per model)."""
    torch = require("torch", "fpga", "reading a torch model's layers")
    if not isinstance(model, torch.nn.Module):
        raise InvalidInputError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    cached = _GRAPHS.get(model)
    if cached is not None:
        return cached
    traced = _traced(torch, model)
    modules = dict(traced.named_modules())
    nodes: list[_Node] = []
    unmodelled: list[tuple[str, str]] = []
    for node in traced.graph.nodes:
        if node.op == "call_module":
            module = modules[node.target]
            kind = type(module).__name__
            if isinstance(module, torch.nn.Linear):
                w = module.weight
                nodes.append(_Node(node.name, "dense", w.shape[1], w.shape[0], w, bias=module.bias))
                continue
        elif node.op in ("call_function", "call_method"):
            kind = getattr(node.target, "__name__", str(node.target))
        else:
            continue
        tensors = [a for a in node.args if isinstance(a, torch.fx.Node)]
        if kind in _SOFTMAX:
            nodes.append(_Node(node.name, "softmax", _size(node), _size(node)))
        elif kind in _MERGES and len(tensors) == 2 == len(node.args):
            nodes.append(_Node(node.name, "merge", _size(node), _size(node), op=_MERGES[kind]))
        elif kind not in _NO_COST:
            unmodelled.append((node.name, kind))
    graph = _Graph(tuple(nodes), tuple(unmodelled))
    _GRAPHS[model] = graph
    return graph


def _integer_bits_of(integer_bits: int | Mapping[str, int], names: list[str]) -> dict[str, int]:
    if isinstance(integer_bits, Mapping):
        unknown = sorted(set(integer_bits) - set(names))
        if unknown:
            raise InvalidInputError(
                f"integer_bits names unknown layer(s) {unknown}; the model's estimated layers "
                f"are {names}."
            )
        out = {name: integer_bits.get(name, DEFAULT_INTEGER_BITS) for name in names}
    else:
        out = dict.fromkeys(names, integer_bits)
    for name, bits in out.items():
        require_int(f"integer_bits of layer {name!r}", bits, low=-64, high=64)
    return out


def _check(width: int, strategy: str, invalid_reuse: str) -> Strategy:
    require_int("width", width, low=2, high=64, hint="the total bits of each ap_fixed type.")
    lowered = normalize_strategy(strategy)
    require_choice("invalid_reuse", invalid_reuse, ("raise", "nearest"))
    return lowered


def estimator_stack(
    model: torch.nn.Module,
    *,
    width: int,
    integer_bits: int | Mapping[str, int] = DEFAULT_INTEGER_BITS,
    reuse_factor: int = 1,
    strategy: StrategySpelling = DEFAULT_STRATEGY,
    backend: Backend = DEFAULT_BACKEND,
    invalid_reuse: Literal["raise", "nearest"] = "raise",
) -> tuple[Layer, ...]:
    """Every layer of ``model`` the estimator prices, in graph order: dense, softmax, merges.

    :func:`dense_stack` plus hls4ml's table softmax (:class:`SoftmaxLayer`, DSPs and BRAM)
    and element-wise merges of two tensors (:class:`MergeLayer`, inputs and result
    ``ap_fixed<W, I>``), named after their graph nodes as hls4ml names them. This is what
    :func:`~precml_widgets.fpga.estimator.estimate` needs for the whole network. Activations
    are left out (:func:`unmodelled_nodes`). Arguments and errors as :func:`dense_stack`.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(dim=-1))
        >>> [type(l).__name__ for l in estimator_stack(net, width=8)]
        ['DenseLayer', 'SoftmaxLayer']
    """
    lowered = _check(width, strategy, invalid_reuse)
    graph = _graph(model)
    bits = _integer_bits_of(integer_bits, [n.name for n in graph.nodes])
    require_int("reuse_factor", reuse_factor, low=1)
    versions = tuple(
        (id(n.weight), getattr(n.weight, "_version", 0)) for n in graph.nodes if n.kind == "dense"
    )
    key = (width, tuple(bits.values()), reuse_factor, lowered, backend, invalid_reuse, versions)
    per_model = _STACKS.setdefault(model, {})
    if key in per_model:
        return per_model[key]
    layers: list[Layer] = []
    for node in graph.nodes:
        if node.kind == "softmax":
            layers.append(SoftmaxLayer(node.n_in, name=node.name))
            continue
        if node.kind == "merge":
            data = FixedType(width, bits[node.name], rounding="AP_RND_CONV", overflow="AP_SAT")
            op: Any = node.op
            layers.append(MergeLayer(op, node.n_in, input=data, result=data, name=node.name))
            continue
        layers.append(
            _dense(node, width, bits[node.name], reuse_factor, lowered, backend, invalid_reuse)
        )
    if len(per_model) >= _MAX_ENTRIES:
        per_model.clear()
    per_model[key] = stack = tuple(layers)
    return stack


def _dense(
    node: _Node,
    width: int,
    integer: int,
    reuse_factor: int,
    strategy: str,
    backend: str,
    invalid_reuse: str,
) -> DenseLayer:
    w = node.weight.detach()
    max_abs, n_zeros = float(w.abs().max()), int((w == 0).sum())
    weight_type = profiled_precisions({node.name: {"weight": max_abs}}, width)[node.name]["weight"]
    if invalid_reuse == "nearest":
        rf = nearest_valid_reuse(node.n_in, node.n_out, reuse_factor, backend)
    else:
        try:
            rf = check_reuse_factor(node.n_in, node.n_out, reuse_factor, backend)
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"layer {node.name!r}: {exc} Pass invalid_reuse='nearest' to use hls4ml's "
                "substitute."
            ) from None
    data = FixedType(width, integer, rounding="AP_RND_CONV", overflow="AP_SAT")
    bias = node.bias
    accum = accumulator_type(
        FixedType(width, integer),
        data,
        weight_l1=float(w.abs().sum(1).max()),
        bias_max=float(bias.detach().abs().max()) if bias is not None and bias.numel() else 0.0,
        guard_bits=GUARD_BITS,
    )
    return DenseLayer(
        node.n_in,
        node.n_out,
        reuse_factor=rf,
        strategy=strategy,  # type: ignore[arg-type]
        weight=parse_precision(weight_type),
        accum=accum,
        input=data,
        result=data,
        n_zeros=n_zeros,
        name=node.name,
    )


def dense_stack(
    model: torch.nn.Module,
    *,
    width: int,
    integer_bits: int | Mapping[str, int] = DEFAULT_INTEGER_BITS,
    reuse_factor: int = 1,
    strategy: StrategySpelling = DEFAULT_STRATEGY,
    backend: Backend = DEFAULT_BACKEND,
    invalid_reuse: Literal["raise", "nearest"] = "raise",
) -> tuple[DenseLayer, ...]:
    """The dense layers of ``model`` as the estimator sees them, at total width ``width``.

    Layers are the ``nn.Linear`` modules of ``torch.fx.symbolic_trace(model)``, named after
    their graph nodes as in hls4ml (``"_0"`` for ``Sequential`` item 0, ``"fc1"`` ...), typed
    as the module docstring says. Cached per model object and settings, so repeated calls
    (a slider) cost a dictionary look-up.

    Args:
        model: a traceable torch module.
        width: total bits W of every tensor (2-64).
        integer_bits: integer bits I of inputs, results and accumulators: one number, or per
            layer name (layers not named get :data:`DEFAULT_INTEGER_BITS`). Weights take theirs
            from their range. Only widths enter the estimate, so I does not change the cost.
        reuse_factor: hls4ml ``ReuseFactor`` of every dense layer.
        strategy: ``"latency"`` or ``"resource"`` (either case).
        backend: hls4ml backend whose valid reuse factors apply.
        invalid_reuse: a reuse factor hls4ml does not accept for a layer either raises
            (``"raise"``, the default, as :func:`~precml_widgets.fpga.convert.convert` does) or
            is replaced, per layer, by :func:`nearest_valid_reuse` (``"nearest"``: what hls4ml
            itself does with a warning; compare each layer's ``reuse_factor`` to see which).

    Returns:
        One :class:`~precml_widgets.fpga.layers.DenseLayer` per ``nn.Linear``, in graph order.

    Raises:
        InvalidInputError: a model that cannot be traced or has no ``nn.Linear``, a bad width,
            strategy or integer-bit mapping, or (with ``invalid_reuse="raise"``) a reuse factor
            a layer cannot take, naming the layer and the nearest valid ones.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> net = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU())
        >>> (layer,) = dense_stack(net, width=12, reuse_factor=4)  # |w| < 1/4: 1 integer bit
        >>> layer.weight.to_hls(), layer.accum.to_hls(), layer.reuse_factor
        ('ap_fixed<12,1,AP_RND_CONV,AP_SAT>', 'ap_fixed<18,8>', 4)
    """
    stack = estimator_stack(
        model,
        width=width,
        integer_bits=integer_bits,
        reuse_factor=reuse_factor,
        strategy=strategy,
        backend=backend,
        invalid_reuse=invalid_reuse,
    )
    return tuple(layer for layer in stack if isinstance(layer, DenseLayer))


def unmodelled_nodes(model: torch.nn.Module) -> tuple[tuple[str, str], ...]:
    """``(node name, kind)`` of the model's computing nodes that the estimate leaves out.

    Activations (``ReLU`` ...: small next to the multiplications) and anything else that is
    neither ``nn.Linear``, softmax nor a two-tensor add/sub/mul, e.g. a convolution, a
    concatenation or a product with a constant. Reshapes and dropout cost nothing and are not
    listed.

    Example:
        >>> import torch
        >>> unmodelled_nodes(torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.ReLU()))
        (('_1', 'ReLU'),)
    """
    return _graph(model).unmodelled


def is_activation(kind: str) -> bool:
    """Whether an :func:`unmodelled_nodes` kind is an element-wise activation."""
    return kind in _ACTIVATIONS
