"""One model output explained: its SHAP values and active subspace on the same events.

An :class:`Explanation` bundles what :func:`~precml_widgets.interpret.explain` and
:func:`~precml_widgets.interpret.active_subspace` return for one model and output, with the
events' classes and, where the exact answer is known, the analytic SHAP values and gradient.
It is what :class:`~precml_widgets.interpret.explorer.InterpretabilityExplorer` shows, and
:func:`~precml_widgets.interpret.export.save_result` exports it whole (its note, the SHAP
values' caveat and background travel with the file).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets.errors import InvalidInputError
from precml_widgets.interpret.active_subspace import ActiveSubspace
from precml_widgets.interpret.shap_values import ShapResult

__all__ = ["Explanation"]


@dataclass(frozen=True)
class Explanation:
    """One model output explained on one set of events (what the explorer shows).

    Attributes:
        model: the model's label (the explorer's model selector).
        output: the explained output's label, e.g. "logit" (the output selector).
        shap: the SHAP values of the output on ``n`` events (``shap.data`` (n, d)).
        subspace: the active subspace over the same ``n`` events (``projection`` (n, 2)).
        labels: the true class of each event, shape (n,), or None when unknown.
        exact_values: the analytic SHAP values, shape (n, d), or None when unknown.
        exact_gradient: the gradient of the exact score in the physics features, shape (d,),
            where it is constant (a linear optimum), else None.
        note: a caveat about the data (e.g. "synthetic inputs").

    Raises:
        InvalidInputError: arrays whose event count or feature count does not match.
    """

    model: str
    output: str
    shap: ShapResult
    subspace: ActiveSubspace
    labels: npt.NDArray[np.int64] | None = None
    exact_values: npt.NDArray[np.float64] | None = None
    exact_gradient: npt.NDArray[np.float64] | None = None
    note: str = ""

    def __post_init__(self) -> None:
        n, d = self.shap.values.shape
        if self.subspace.projection.shape[0] != n or self.subspace.eigenvalues.size != d:
            raise InvalidInputError(
                f"subspace must be computed on the {n} explained events of {d} features, got a "
                f"projection of {self.subspace.projection.shape[0]} events and "
                f"{self.subspace.eigenvalues.size} features; pass shap.data to active_subspace."
            )
        if self.labels is not None and np.shape(self.labels) != (n,):
            raise InvalidInputError(
                f"labels must have shape ({n},) (one class per explained event), got "
                f"{np.shape(self.labels)}; pass None when the classes are unknown."
            )
        if self.exact_values is not None and np.shape(self.exact_values) != (n, d):
            raise InvalidInputError(
                f"exact_values must have shape ({n}, {d}), got {np.shape(self.exact_values)}."
            )

    @property
    def key(self) -> tuple[str, str]:
        """``(model, output)``: how the explorer files this explanation."""
        return (self.model, self.output)

    def direction_cosine(self) -> float:
        """``|cos|`` between the first active direction and the exact score's gradient, both in
        standardised features (the gradient times the subspace's ``scale``); NaN when the
        exact gradient is unknown."""
        if self.exact_gradient is None:
            return float("nan")
        exact = np.asarray(self.exact_gradient) * self.subspace.scale
        first = self.subspace.eigenvectors[:, 0]
        return float(abs(first @ exact) / np.linalg.norm(exact))

    def uninformative_ratio(self) -> float:
        """The largest mean ``|φ|`` of a feature with no information (a constant analytic SHAP
        value) over the smallest of an informative one; NaN without analytic values or
        without both kinds of feature. The issue's criterion is < 5 %."""
        if self.exact_values is None:
            return float("nan")
        informative = np.std(self.exact_values, axis=0) > 0
        if informative.all() or not informative.any():
            return float("nan")
        mean_abs = self.shap.mean_abs()
        return float(mean_abs[~informative].max() / mean_abs[informative].min())

    def exact_agreement(self) -> dict[str, npt.NDArray[np.float64]]:
        """Per feature: the correlation ``corr`` and the RMS difference ``rms`` of the SHAP
        values with the analytic ones (NaN correlation for an uninformative feature), (d,)."""
        if self.exact_values is None:
            raise InvalidInputError(
                f"{self.model} · {self.output} has no analytic SHAP values to compare with."
            )
        phi, exact = self.shap.values, self.exact_values
        rms = np.sqrt(np.mean((phi - exact) ** 2, axis=0))
        corr = np.full(phi.shape[1], np.nan)
        for i in np.flatnonzero(np.std(exact, axis=0) > 0):
            corr[i] = np.corrcoef(phi[:, i], exact[:, i])[0, 1]
        return {"corr": corr, "rms": rms}
