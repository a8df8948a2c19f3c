"""A static summary figure of an :class:`~precml_widgets.interpret.explanation.Explanation`,
as PNG or SVG bytes or a file, with its caveats printed on it.

Four panels: the SHAP values of every feature (one row per feature, ordered by mean ``|φ|``,
each event a dot coloured by its feature value's rank), the active-subspace eigenvalues with
their bootstrap bands, the loadings of the first two directions, and each feature's activity
score beside its mean ``|φ|`` (each divided by its largest value). The footer carries what
must travel with the numbers: the explainer and its measured additivity error, the background
(size, seed, source), how the subspace's gradients were taken, the first direction in the
physics features, the interventional (or partition) caveat and the explanation's note
(e.g. "synthetic inputs"). Matplotlib's Agg and SVG backends draw it: no browser, no network.
"""

from __future__ import annotations

import io
import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from precml_widgets._checks import require_choice
from precml_widgets._io import write_bytes
from precml_widgets._optional import require
from precml_widgets.interpret.active_subspace import ActiveSubspace
from precml_widgets.interpret.explanation import Explanation

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FIGURE_FORMATS", "figure_bytes", "gradient_note", "save_figure", "summary_figure"]

#: The file formats :func:`figure_bytes` and :func:`save_figure` write.
FIGURE_FORMATS = ("png", "svg")
_MAX_DOTS = 2000  # dots per feature row (a seeded subsample beyond it)


def gradient_note(subspace: ActiveSubspace) -> str:
    """How the active subspace's gradients were taken: a caveat to show with its numbers.

    Example:
        >>> import numpy as np
        >>> from precml_widgets.interpret import ScoredModel, active_subspace
        >>> m = ScoredModel(lambda x: x @ np.array([1.0, 2.0]), ("a", "b"))
        >>> x = np.random.default_rng(0).normal(size=(50, 2))
        >>> gradient_note(active_subspace(m, x, gradient="finite_difference", step=0.01))[:46]
        'central finite differences, step 0.01 σ of eac'
    """
    if subspace.gradient_method == "autograd":
        return "autograd (the model's exact derivatives, float precision)"
    return (
        f"central finite differences, step {subspace.step:.3g} σ of each feature (the "
        "derivative is smoothed over ±step: kinks narrower than it are averaged out)"
    )


def _caption(explanation: Explanation) -> str:
    shap, bg, sub = explanation.shap, explanation.shap.background, explanation.subspace
    w1 = ", ".join(
        f"{n} {v:+.2f}"
        for n, v in zip(sub.feature_names, sub.directions_physical[:, 0], strict=True)
    )
    units = ", ".join(u or "no unit" for u in sub.units)
    lines = [
        f"{explanation.model} · {explanation.output} · {shap.values.shape[0]} events · "
        f"explainer {shap.explainer} (additivity error {shap.additivity_error:.1e} of std f "
        "over the background) · "
        f"background {bg.data.shape[0]} events, seed {bg.seed}, from {bg.source}",
        f"active subspace: gradients by {gradient_note(sub)}; "
        f"w1 per unit of each physics feature ({units}; unit norm, so the relative sizes "
        f"depend on the units): {w1}",
        shap.caveat,
    ]
    if explanation.note:
        lines.insert(1, explanation.note)
    return "\n".join(textwrap.fill(line, 210) for line in lines)


def summary_figure(explanation: Explanation, *, dpi: int = 100) -> Figure:
    """The four-panel summary (SHAP values, eigenvalues, loadings, activity scores beside mean
    ``|φ|``) with its caveat footer.

    Args:
        explanation: what to draw.
        dpi: resolution of raster output (dots per inch).

    Returns:
        a matplotlib ``Figure`` (not attached to pyplot: nothing is shown or leaked).

    References:
        Constantine & Diaz, arXiv:1510.04361 (activity scores).
    """
    require("matplotlib", "interpret", "the summary figure")
    from matplotlib.figure import Figure

    shap, sub = explanation.shap, explanation.subspace
    names = shap.feature_names
    order = shap.order()
    d = len(names)
    fig = Figure(figsize=(16.0, 4.4 + 0.18 * d), dpi=dpi, layout="constrained")
    grid = fig.add_gridspec(2, 4, height_ratios=[6, 1], width_ratios=[1.4, 1, 1, 1])
    ax_bee, ax_eig, ax_load, ax_act = (fig.add_subplot(grid[0, i]) for i in range(4))
    rng = np.random.default_rng(0)
    keep = np.arange(shap.values.shape[0])
    if keep.size > _MAX_DOTS:
        keep = np.sort(rng.choice(keep, _MAX_DOTS, replace=False))
    for row, i in enumerate(order):
        x = shap.data[keep, i]
        rank = np.argsort(np.argsort(x)) / max(len(x) - 1, 1)
        jitter = rng.uniform(-0.3, 0.3, size=keep.size)
        ax_bee.scatter(shap.values[keep, i], d - 1 - row + jitter, c=rank, cmap="coolwarm", s=3)
    ax_bee.set_yticks(range(d), [names[i] for i in order][::-1])
    ax_bee.axvline(0.0, color="k", lw=0.6)
    ax_bee.set(xlabel=f"SHAP value φ ({explanation.output})", title="SHAP values (colour: rank)")
    j = np.arange(1, d + 1)
    lam = np.clip(sub.eigenvalues, 1e-12, None)
    ax_eig.fill_between(j, *np.clip(sub.eigenvalue_bands, 1e-12, None), alpha=0.3)
    ax_eig.plot(j, lam, "o-")
    ax_eig.set(yscale="log", xlabel="eigenvalue index", ylabel="λ", title="active subspace")
    k = min(2, d)
    width = 0.8 / k
    for col in range(k):
        ax_load.barh(
            np.arange(d) + col * width, sub.eigenvectors[:, col], width, label=f"w{col + 1}"
        )
    ax_load.set_yticks(np.arange(d) + width * (k - 1) / 2, names)
    ax_load.invert_yaxis()
    ax_load.set(xlabel="loading (standardised features)", title="first directions")
    ax_load.legend(fontsize="small")
    mean_abs = shap.mean_abs()[order]
    activity = sub.activity_scores[order]
    rows = np.arange(d)
    ax_act.barh(rows - 0.2, mean_abs / max(mean_abs.max(), 1e-300), 0.4, label="mean |φ|")
    ax_act.barh(rows + 0.2, activity / max(activity.max(), 1e-300), 0.4, label="activity")
    ax_act.set_yticks(rows, [names[i] for i in order])
    ax_act.invert_yaxis()
    ax_act.set(xlabel="each / its max", title=f"activity score (k = {sub.n_active}) vs mean |φ|")
    ax_act.legend(fontsize="small")
    foot = fig.add_subplot(grid[1, :])
    foot.axis("off")
    foot.text(0.0, 1.0, _caption(explanation), va="top", ha="left", fontsize=7, wrap=True)
    return fig


def figure_bytes(explanation: Explanation, fmt: str = "png", *, dpi: int = 100) -> bytes:
    """:func:`summary_figure` rendered as ``"png"`` or ``"svg"`` bytes.

    Example:
        >>> from precml_widgets.interpret.examples import gaussian_classifier_example
        >>> ex = gaussian_classifier_example(n_train=2000, epochs=1, n_explain=50,
        ...                                  background_size=20)
        >>> figure_bytes(ex, "png")[:4], b"<svg" in figure_bytes(ex, "svg")[:400]
        (b'\\x89PNG', True)
    """
    fmt = require_choice("fmt", fmt, FIGURE_FORMATS)
    buffer = io.BytesIO()
    summary_figure(explanation, dpi=dpi).savefig(buffer, format=fmt)
    return buffer.getvalue()


def save_figure(explanation: Explanation, path: str | os.PathLike[str], *, dpi: int = 100) -> Path:
    """Write the summary figure to ``path`` (``.png`` or ``.svg``, from the suffix) atomically.

    Raises:
        InvalidInputError: another suffix (nothing is written), or a folder that cannot be
            written.
    """
    suffix = Path(path).suffix.lower().lstrip(".")
    require_choice(
        "path suffix", suffix, FIGURE_FORMATS, hint="name the file e.g. 'shap_summary.png'."
    )
    return write_bytes(path, figure_bytes(explanation, suffix, dpi=dpi))
