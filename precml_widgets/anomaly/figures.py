"""Static matplotlib figures of an anomaly-trigger operating point (for notebooks and exports).

Every number drawn comes from :mod:`precml_widgets.anomaly.rates`; this module only bins
scores for display and draws. It uses :class:`matplotlib.figure.Figure` directly (no
``pyplot`` state), so it is safe in servers and threads and needs no GUI backend.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_int
from precml_widgets._optional import require
from precml_widgets.anomaly.efficiency import efficiency_at_threshold
from precml_widgets.anomaly.rates import DEFAULT_INPUT_RATE_HZ, rate_at_threshold
from precml_widgets.anomaly.roc import RocCurve, roc_curve, roc_points_for_plot
from precml_widgets.anomaly.scores import ScoreSample
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.binomial import ONE_SIGMA_CL

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["add_caption", "density_histogram", "operating_point_figure", "score_bins"]


def score_bins(
    samples: Sequence[ScoreSample],
    n_bins: int = 80,
    quantiles: tuple[float, float] = (0.001, 0.9999),
) -> tuple[npt.NDArray[np.float64], bool]:
    """Fixed histogram bin edges covering the bulk of every sample.

    The range runs from the smallest lower quantile to the largest upper quantile over
    the samples (per sample, so a small signal's tail is not cut by a large background).
    The edges are log-spaced when every score is positive and the range spans more than a
    factor 10, else linear. A constant score gets a unit-wide range around its value.

    Args:
        samples: the samples to be drawn with these bins (at least one).
        n_bins: number of bins, >= 1.
        quantiles: lower and upper quantile of each sample that the range must contain.

    Returns:
        ``(edges, log)``: the ``n_bins + 1`` increasing edges and whether they are log-spaced
        (draw the x-axis logarithmically then).

    Raises:
        InvalidInputError: for no samples, ``n_bins < 1`` or quantiles outside
            ``0 <= q_lo < q_hi <= 1``.

    Example:
        >>> edges, log = score_bins([ScoreSample("s", np.arange(1.0, 101.0))], n_bins=4)
        >>> log, edges.size
        (True, 5)
    """
    samples = list(samples)
    if not samples or not all(isinstance(s, ScoreSample) for s in samples):
        raise InvalidInputError("score_bins needs at least one ScoreSample to bin.")
    n_bins = require_int("n_bins", n_bins, low=1)
    q_lo, q_hi = (float(q) for q in quantiles)
    if not 0.0 <= q_lo < q_hi <= 1.0:
        raise InvalidInputError(
            f"quantiles must satisfy 0 <= lower < upper <= 1, got {quantiles!r}."
        )
    lo = min(float(np.quantile(s.sorted_scores, q_lo)) for s in samples)
    hi = max(float(np.quantile(s.sorted_scores, q_hi)) for s in samples)
    if not hi > lo:
        return np.linspace(lo - 0.5, hi + 0.5, int(n_bins) + 1), False
    all_positive = min(float(s.sorted_scores[0]) for s in samples) > 0.0
    if all_positive and hi / lo > 10.0:
        return np.geomspace(lo, hi, int(n_bins) + 1), True
    return np.linspace(lo, hi, int(n_bins) + 1), False


def density_histogram(sample: ScoreSample, edges: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Probability density of a sample in fixed bins, normalised to the *whole* sample.

    ``density[i] = count[i] / (N × width[i])``: events outside the edges are not folded
    in, so the integral over the drawn range is the fraction of the sample inside it.

    Args:
        sample: the scores.
        edges: increasing bin edges, shape ``(B + 1,)``.

    Returns:
        The densities, shape ``(B,)``.

    Example:
        >>> density_histogram(ScoreSample("s", [0.5, 1.5, 1.5, 9.0]), [0.0, 1.0, 2.0]).tolist()
        [0.25, 0.5]
    """
    e = np.asarray(edges, dtype=np.float64)
    counts = np.diff(np.searchsorted(sample.sorted_scores, e, side="left")).astype(np.float64)
    # the last bin is closed on the right, as in numpy.histogram
    counts[-1] += np.count_nonzero(sample.sorted_scores == e[-1])
    return counts / (sample.n * np.diff(e))


def operating_point_figure(
    background: ScoreSample,
    signals: Mapping[str, ScoreSample],
    threshold: float,
    roc_curves: Mapping[str, RocCurve] | None = None,
    *,
    log: bool = True,
    bins: npt.ArrayLike | None = None,
    input_rate_hz: float = DEFAULT_INPUT_RATE_HZ,
    cl: float = ONE_SIGMA_CL,
    score_name: str = "anomaly score",
    title: str | None = None,
    systematic_hz: tuple[float, float] | None = None,
    systematic_label: str = "syst",
) -> Figure:
    """Score histograms with the cut, and ROC curves with the operating point marked.

    Left: density-normalised score histograms of the background and every signal, with
    the threshold as a dashed line. Right: each signal's ROC curve (FPR on a log axis
    starting at the background's smallest resolvable FPR, 1/N) with the operating point
    at ``threshold`` and its Clopper–Pearson intervals. The title is
    :meth:`RateResult.describe` of the trigger rate with its systematic, or says that no
    systematic was given. Every legend entry says whether the sample is real data or
    simulation (:attr:`ScoreSample.is_real`).

    Args:
        background: the background sample the rate is measured on.
        signals: signal key → sample.
        threshold: the cut; events with score > threshold pass.
        roc_curves: precomputed ROC curves by signal key (computed with
            :func:`~precml_widgets.anomaly.rates.roc_curve` where missing).
        log: log-y histograms and log-x ROC curves.
        bins: histogram bin edges (default: :func:`score_bins` of all samples).
        input_rate_hz: input rate in Hz of the stream the background represents.
        cl: confidence level of the intervals.
        score_name: x-axis label of the histograms.
        title: figure title (default: the rate description with ``systematic_hz``).
        systematic_hz: systematic of the rate ``(down <= 0, up >= 0)`` in Hz, quoted in
            the default title.
        systematic_label: what the systematic is (e.g. ``"kernel width"``).

    Returns:
        A :class:`matplotlib.figure.Figure`; save it with ``fig.savefig(path)``.

    Raises:
        InvalidInputError: for invalid samples, threshold, rate or ``cl`` (from the core).
        MissingDependencyError: if matplotlib is not installed.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> bkg = ScoreSample("bkg", rng.exponential(1.0, 1000))
        >>> sig = {"A": ScoreSample("A", rng.exponential(3.0, 200))}
        >>> fig = operating_point_figure(bkg, sig, 3.0)
        >>> len(fig.axes)
        2
    """
    figure_mod = require("matplotlib.figure", "widgets", "static figures")
    rate = rate_at_threshold(background, threshold, input_rate_hz=input_rate_hz, cl=cl)
    samples = [background, *signals.values()]
    if bins is None:
        edges, log_x = score_bins(samples)
    else:
        edges = np.asarray(bins, dtype=np.float64)
        log_x = bool(edges[0] > 0 and edges[-1] / edges[0] > 10.0)

    fig = figure_mod.Figure(figsize=(12.0, 5.6), layout="constrained")
    ax_h, ax_r = fig.subplots(1, 2)
    colors = [f"C{i}" for i in range(1, 10)]

    def dens(sample: ScoreSample) -> npt.NDArray[np.float64]:
        d = density_histogram(sample, edges)
        return np.where(d > 0, d, np.nan) if log else d  # no drops to -inf on a log axis

    ax_h.stairs(
        dens(background),
        edges,
        fill=True,
        color="0.75",
        label=_flagged(background.label, background),
    )
    for (key, sig), color in zip(signals.items(), colors, strict=False):
        ax_h.stairs(dens(sig), edges, color=color, lw=1.5, label=_flagged(key, sig), baseline=None)
    ax_h.axvline(rate.threshold, color="k", ls="--", lw=1.2, label=f"cut: > {rate.threshold:.4g}")
    if log_x:
        ax_h.set_xscale("log")
    if log:
        ax_h.set_yscale("log")
    ax_h.set_xlabel(score_name)
    ax_h.set_ylabel("probability density")
    ax_h.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)

    min_fpr = background.min_resolvable_fpr
    fpr_point = rate.fpr.value if rate.n_pass > 0 else min_fpr
    curves = dict(roc_curves or {})
    for (key, sig), color in zip(signals.items(), colors, strict=False):
        curve = curves.get(key) or roc_curve(background, sig)
        fpr, tpr = roc_points_for_plot(curve, min_fpr)
        ax_r.plot(
            fpr, tpr, color=color, lw=1.5, label=f"{_flagged(key, sig)} (AUC {curve.auc:.3f})"
        )
        eff = efficiency_at_threshold(sig, rate.threshold, cl=cl).efficiency
        xerr = None
        if rate.n_pass > 0:
            xerr = [[rate.fpr.value - rate.fpr.lower], [rate.fpr.upper - rate.fpr.value]]
        ax_r.errorbar(
            [fpr_point],
            [eff.value],
            xerr=xerr,
            yerr=[[eff.value - eff.lower], [eff.upper - eff.value]],
            fmt="o" if rate.n_pass > 0 else "<",
            color=color,
            ms=6,
            capsize=2,
        )
    grid = np.geomspace(min_fpr, 1.0, 50) if log else np.linspace(0.0, 1.0, 50)
    ax_r.plot(grid, grid, color="0.6", ls=":", lw=1, label="random (TPR = FPR)")
    if log:
        ax_r.set_xscale("log")
        ax_r.set_xlim(min_fpr, 1.0)
    else:
        ax_r.set_xlim(0.0, 1.0)
    ax_r.set_ylim(0.0, 1.02)
    ax_r.set_xlabel(f"background FPR (measured on {background.n:,} events)")
    ax_r.set_ylabel("signal efficiency (TPR)")
    ax_r.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)
    ax_r.grid(alpha=0.3)
    if title is None:
        title = (
            rate.describe(systematic_hz, systematic_label)
            if systematic_hz is not None
            else f"{rate.describe()}; no systematic given (statistical interval only)"
        )
    fig.suptitle("\n".join(textwrap.wrap(title, 130)), fontsize="medium")
    return fig


def add_caption(fig: Figure, caption: str) -> None:
    """Put ``caption`` in the bottom tenth of ``fig``, below the legends (small, wrapped).

    Args:
        fig: a figure with a layout engine (as :func:`operating_point_figure` makes).
        caption: plain text, e.g. the samples' real/simulated flags and the rate caveat.
    """
    fig.get_layout_engine().set(rect=(0.0, 0.1, 1.0, 0.9))
    fig.text(0.01, 0.005, caption, fontsize=7, wrap=True, va="bottom", color="#8a5a00")


_KIND = {True: "real data", False: "simulated", None: "origin not stated"}


def _flagged(label: str, sample: ScoreSample) -> str:
    """``label`` with the sample's real/simulated flag, e.g. ``"X (simulated)"``."""
    return f"{label} [{_KIND[sample.is_real]}]"
