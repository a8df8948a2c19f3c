"""One model adapter: a torch module or a plain callable seen as a scalar score of named features.

Every explanation in :mod:`precml_widgets.interpret` works on a :class:`ScoredModel`: a model
that maps a feature table of shape ``(n, d)`` (float, physics units) to one score per event,
shape ``(n,)``. A model with several outputs (a classifier's logits, an autoencoder's
reconstruction) names the one to explain: a class index, or a reduction such as the
reconstruction error.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_array, require_int
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError

__all__ = ["Output", "ScoredModel", "feature_labels", "is_torch_module"]

#: The output to explain of a multi-output model: a column index, or a reduction
#: ``reduce(x, y) -> (n,)`` of the inputs ``x`` (n, d) and the raw outputs ``y`` (n, k)
#: (tensors for a torch module, arrays for a callable).
Output = int | Callable[[Any, Any], Any] | None


def is_torch_module(model: object) -> bool:
    """True when ``model`` is a ``torch.nn.Module`` (without importing torch when absent)."""
    torch_nn = getattr(sys.modules.get("torch"), "nn", None)
    return torch_nn is not None and isinstance(model, torch_nn.Module)


@dataclass(frozen=True)
class ScoredModel:
    """A model explained as a scalar score ``f(x)`` of ``d`` named features.

    Args:
        model: a ``torch.nn.Module`` in evaluation mode, or a callable taking a float64 array
            (n, d) and returning an array (n,), (n, 1) or (n, k).
        feature_names: ``d`` names, one per column of the feature table. A wrong count is
            caught when the model fails on a (2, d) probe of zeros at construction; a model
            that accepts any width (a plain sum) cannot be checked that way.
        units: ``d`` units ("GeV", "" for dimensionless); default all "".
        output: for a model with k > 1 outputs, the column to explain (an ``int``) or a
            reduction ``reduce(x, y) -> (n,)``; ``None`` for a model with one output.
        name: a label for plots and exports.

    Raises:
        InvalidInputError: a torch module with any submodule in training mode (call
            ``model.eval()``), a feature-name or unit list of the wrong length, a multi-output
            model without an ``output``, an ``output`` index out of range or given to a model
            with one output, a model that is not callable.

    Example:
        >>> import numpy as np
        >>> m = ScoredModel(lambda x: x.sum(axis=1), ("a", "b"), units=("GeV", "GeV"))
        >>> m.score(np.ones((3, 2))).tolist(), m.differentiable
        ([2.0, 2.0, 2.0], False)
    """

    model: Any
    feature_names: tuple[str, ...]
    units: tuple[str, ...] = ()
    output: Output = None
    name: str = "model"
    n_outputs: int = field(init=False, default=1)

    def __post_init__(self) -> None:
        if not callable(self.model):
            raise InvalidInputError(
                f"model must be a torch.nn.Module or a callable mapping (n, d) features to "
                f"scores, got a {type(self.model).__name__}; wrap it, e.g. lambda x: m.predict(x)."
            )
        names = tuple(str(n) for n in self.feature_names)
        if not names:
            raise InvalidInputError("feature_names must name at least one feature, got none.")
        units = tuple(str(u) for u in self.units) if self.units else ("",) * len(names)
        if len(units) != len(names):
            raise InvalidInputError(
                f"units must have one entry per feature ({len(names)}), got {len(units)}; "
                "pass one unit string per column, '' for dimensionless."
            )
        object.__setattr__(self, "feature_names", names)
        object.__setattr__(self, "units", units)
        self.check_eval_mode()
        try:
            raw = self.raw_outputs(np.zeros((2, len(names))))
        except InvalidInputError:
            raise
        except Exception as exc:  # the model's own error on a probe of d = len(feature_names)
            raise InvalidInputError(
                f"model {self.name!r} fails on a (2, {len(names)}) probe table, one column per "
                f"feature name ({type(exc).__name__}: {exc}); feature_names must have one "
                "entry per input column of the model, in order."
            ) from exc
        n_outputs = 1 if raw.ndim == 1 else int(raw.shape[1])
        object.__setattr__(self, "n_outputs", n_outputs)
        if n_outputs > 1 and self.output is None:
            raise InvalidInputError(
                f"model {self.name!r} has {n_outputs} outputs and no output was chosen; pass "
                f"output=<class index 0..{n_outputs - 1}> or output=<reduce(x, y) -> (n,)>, "
                "e.g. the reconstruction error of an autoencoder."
            )
        if isinstance(self.output, int | np.integer) and n_outputs == 1:
            raise InvalidInputError(
                f"model {self.name!r} has one output, got output={int(self.output)}; a class "
                "index is only for a model with several outputs: pass output=None."
            )
        if isinstance(self.output, int | np.integer):
            require_int(
                "output",
                int(self.output),
                low=0,
                high=n_outputs - 1,
                hint=f"model {self.name!r} has {n_outputs} output(s).",
            )
        elif self.output is not None and not callable(self.output):
            raise InvalidInputError(
                f"output must be a class index or a callable reduce(x, y), got "
                f"{type(self.output).__name__}; e.g. output=1."
            )

    @property
    def n_features(self) -> int:
        """The number of features ``d``."""
        return len(self.feature_names)

    @property
    def is_torch(self) -> bool:
        """True for a torch module."""
        return is_torch_module(self.model)

    @property
    def differentiable(self) -> bool:
        """True when autograd gradients exist (torch modules only)."""
        return self.is_torch

    def check_eval_mode(self) -> None:
        """Refuse a torch module with any submodule in training mode (dropout, batch-norm)."""
        if not self.is_torch:
            return
        training = [name or "(top level)" for name, m in self.model.named_modules() if m.training]
        if training:
            raise InvalidInputError(
                f"model {self.name!r} is a torch module with module(s) in training mode: "
                f"{', '.join(training[:3])}{', ...' if len(training) > 3 else ''}; dropout and "
                "batch-norm would make its score random; call model.eval() before explaining it."
            )

    def features(self, x: object, name: str = "x") -> npt.NDArray[np.float64]:
        """``x`` checked as a finite float64 table (n, d) of this model's features."""
        table = require_array(
            name, x, ndim=2, hint=f"pass a finite (n, {self.n_features}) table of features."
        )
        if table.shape[1] != self.n_features or table.shape[0] == 0:
            raise InvalidInputError(
                f"{name} must have shape (n >= 1, {self.n_features}) for the features "
                f"{list(self.feature_names)}, got {table.shape}; select those columns in order."
            )
        return table

    def raw_outputs(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The model's raw outputs on ``x`` (n, d): (n,) or (n, k), float64."""
        if self.is_torch:
            torch = require("torch", "interpret", "explaining torch models")
            with torch.no_grad():
                y = self.model(self.to_tensor(x)).double().cpu().numpy()
        else:
            y = np.asarray(self.model(x), dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
            raise InvalidInputError(
                f"model {self.name!r} returned shape {y.shape} for {x.shape[0]} events; it "
                "must return (n,), (n, 1) or (n, k) (one row per event)."
            )
        return y

    def to_tensor(self, x: npt.NDArray[np.float64]) -> Any:
        """``x`` as a float tensor on the torch module's device and dtype."""
        torch = require("torch", "interpret", "explaining torch models")
        param = next(iter(self.model.parameters()), None)
        dtype = param.dtype if param is not None else torch.float32
        device = param.device if param is not None else torch.device("cpu")
        return torch.as_tensor(x, dtype=dtype, device=device)

    def select(self, x: Any, y: Any) -> Any:
        """The explained score (n,) from inputs ``x`` and raw outputs ``y`` (tensors or arrays)."""
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if self.output is None:
            return y
        if callable(self.output):
            return self.output(x, y)
        return y[:, int(self.output)]

    def score(self, x: object) -> npt.NDArray[np.float64]:
        """The explained score ``f(x)``, shape (n,), float64, for a feature table (n, d).

        Raises:
            InvalidInputError: NaN/inf or a wrong shape in ``x``; a non-finite score.
        """
        table = self.features(x)
        self.check_eval_mode()
        f = np.asarray(self.select(table, self.raw_outputs(table)), dtype=np.float64)
        if f.shape != (table.shape[0],):
            raise InvalidInputError(
                f"output of model {self.name!r} gave shape {f.shape}, expected "
                f"({table.shape[0]},); a reduction must return one number per event."
            )
        if not np.all(np.isfinite(f)):
            raise InvalidInputError(
                f"model {self.name!r} returned {int(np.sum(~np.isfinite(f)))} non-finite "
                "score(s); check the inputs are in the model's range."
            )
        return f

    def torch_score(self, x: Any) -> Any:
        """The differentiable score (n,) of a float tensor ``x`` (n, d) (torch modules only)."""
        if not self.differentiable:
            raise InvalidInputError(
                f"model {self.name!r} is a plain callable, not a torch module: it has no "
                "autograd gradient; use a finite-difference or model-agnostic method instead."
            )
        self.check_eval_mode()
        return self.select(x, self.model(x))

    def score_module(self) -> Any:
        """A ``torch.nn.Module`` returning the score as (n, 1), for shap's torch explainers."""
        torch = require("torch", "interpret", "explaining torch models")
        adapter = self
        param = next(iter(self.model.parameters()), None)
        dtype = param.dtype if param is not None else torch.float32

        class _Score(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = adapter.model

            def forward(self, x: Any) -> Any:
                # shap's GradientExplainer feeds float32; cast to the model's own dtype
                x = x.to(dtype)
                return adapter.select(x, self.inner(x)).reshape(-1, 1)

        return _Score().eval()


def feature_labels(model: ScoredModel) -> Sequence[str]:
    """``name [unit]`` for each feature of ``model`` (no brackets when dimensionless)."""
    return [f"{n} [{u}]" if u else n for n, u in zip(model.feature_names, model.units, strict=True)]
