"""One call per comparison: learned vs exact regions and ratios, and learned vs exact posteriors.

:func:`classifier_study` puts the exact unbinned likelihood, a binned analysis and any learned
ratios (the quadratic and the plain parametrized classifier) side by side on the expected
(Asimov) regions, the one-parameter limits and the ratio accuracy on the exact 95 % contour.
:func:`posterior_study` does the same for one simulated data set with the exact and the learned
per-event likelihoods. Both return frozen results whose ``caveats`` travel into every summary
and export.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from precml_widgets._checks import require_array, require_int, require_seed
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.accuracy import RatioAccuracy, ratio_accuracy
from precml_widgets.inference.calibration import LEVELS, PosteriorComparison, compare_posteriors
from precml_widgets.inference.classifiers import LearnedRatio
from precml_widgets.inference.events import sample_events, simulate_one_each
from precml_widgets.inference.likelihood import (
    ExpectedQ,
    binned_expected_q,
    exact_expected_q,
    unbinned_expected_q,
)
from precml_widgets.inference.posterior import GridPosterior, exact_log_likelihood, grid_posterior
from precml_widgets.inference.problem import NLE_EVENTS, EFTProblem
from precml_widgets.inference.region import Region, expected_region, one_parameter_limits
from precml_widgets.inference.smeft import quadratic_terms

__all__ = [
    "CLASSIFIER_CAVEATS",
    "POSTERIOR_CAVEATS",
    "ClassifierStudy",
    "PosteriorStudy",
    "classifier_study",
    "posterior_study",
    "q_grid",
    "ratio_map",
]

Array = npt.NDArray[np.float64]
#: What the classifier numbers assume, carried with them.
CLASSIFIER_CAVEATS: tuple[str, ...] = (
    "Born level e+e- -> mu+mu- with tree-level contact terms; no radiative corrections, no "
    "initial-state radiation, no backgrounds or systematic uncertainties.",
    "Expected (Asimov) regions for Standard-Model data, from Wilks' theorem.",
    "Learned ratios are trained at the measurement's energies only.",
)
#: What the posterior numbers assume, carried with them.
POSTERIOR_CAVEATS: tuple[str, ...] = (
    "Flat prior on the box; shape-only likelihood of a fixed number of events.",
    "Posteriors tabulated on a grid: HPD volumes carry the grid's cell size as resolution.",
    "Born level with the stated Gaussian smearing; no backgrounds or systematics.",
)


def q_grid(q: ExpectedQ, n_grid: int = 81) -> tuple[tuple[Array, Array], Array]:
    """``q`` on a regular grid over a 2-D problem's box, for contour plots.

    Returns:
        ``((x_axis, y_axis), values)`` with ``values[i, j] = q(x_i, y_j)`` at the
        measurement's luminosities (factor 1; ``q`` scales linearly with a common luminosity
        factor).
    """
    if q.problem.dim != 2:
        raise InvalidInputError(
            f"q_grid draws problems of 2 free coefficients, got {q.problem.dim}; fix the others."
        )
    n = require_int("n_grid", n_grid, low=3)
    axes = tuple(
        np.linspace(lo, hi, n) for lo, hi in zip(q.problem.lower, q.problem.upper, strict=True)
    )
    points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
    return (axes[0], axes[1]), q.evaluate(points).reshape(n, n)


@dataclass(frozen=True, eq=False)
class ClassifierStudy:
    """Exact, binned and learned expected regions of one problem.

    Attributes:
        problem: the :class:`EFTProblem`.
        likelihoods: ``{label: ExpectedQ}``: "exact", "binned" and one per learned model.
        regions: ``{label: {cl: Region}}`` at 68 % and 95 % CL.
        limits: ``{label: {coefficient: (low, high)}}``, one parameter at a time, 95 % CL.
        area_ratio: ``{label: 95 % region volume / exact one}``.
        accuracy: ``{learned label: RatioAccuracy}`` on the exact 95 % contour.
        models: the learned ratios, by label.
        caveats: see :data:`CLASSIFIER_CAVEATS`.
    """

    problem: EFTProblem
    likelihoods: Mapping[str, ExpectedQ]
    regions: Mapping[str, Mapping[float, Region]]
    limits: Mapping[str, Mapping[str, tuple[float, float]]]
    area_ratio: Mapping[str, float]
    accuracy: Mapping[str, RatioAccuracy]
    models: Mapping[str, LearnedRatio]
    caveats: tuple[str, ...] = CLASSIFIER_CAVEATS

    def summary(self) -> str:
        """Lines of text: each likelihood's area ratio and limits, each model's accuracy."""
        lines = [f"{self.problem.measurement.label}; free: {', '.join(self.problem.free)}"]
        for label, by_cl in self.regions.items():
            if by_cl[0.95].excludes_origin:
                lines.append(
                    f"WARNING {label}: q at the Standard Model is {by_cl[0.95].q_at_origin:.3g}, "
                    "beyond the 95 % threshold: this learned likelihood excludes the point its "
                    "expected data come from, so its region is empty; retrain it."
                )
        q_1d = float(stats.chi2.ppf(0.95, 1))
        for label, by_cl in self.regions.items():
            region = by_cl[0.95]
            if region.excludes_origin:
                continue  # already warned: empty
            if region.clipped.any():
                lines.append(
                    f"WARNING {label}: the 95 % region reaches the box on "
                    f"{int(region.clipped.sum())} of {region.clipped.size} rays; its area is "
                    "under-counted (the box cuts it); widen the box."
                )
            if region.reentrant.any():
                lines.append(
                    f"WARNING {label}: the 95 % region is not star-shaped around the Standard "
                    f"Model on {int(region.reentrant.sum())} of {region.reentrant.size} rays; "
                    "its area is under-counted (the part beyond is missed); draw it from q_grid."
                )
        for label, by_cl in self.regions.items():
            q0 = by_cl[0.95].q_at_origin
            if not q0 < q_1d:
                lines.append(
                    f"WARNING {label}: q at the Standard Model is {q0:.3g} >= {q_1d:.3f} (the "
                    "95 % threshold of one parameter): its one-parameter limits are empty "
                    "(the numbers below are meaningless); retrain it."
                )
        for label, ratio in self.area_ratio.items():
            limits = "; ".join(
                f"{name} in [{lo:+.3f}, {hi:+.3f}]" for name, (lo, hi) in self.limits[label].items()
            )
            lines.append(f"{label}: 95 % area / exact = {ratio:.3f}; {limits}")
        for label, acc in self.accuracy.items():
            lines.append(
                f"{label}: |r - r_exact| / |r_exact - 1| on the exact contour: median "
                f"{acc.median:.3f}, 95th percentile {acc.p95:.3f}"
            )
        return "\n".join(lines + [f"caveat: {c}" for c in self.caveats])


def classifier_study(
    problem: EFTProblem,
    models: Mapping[str, LearnedRatio],
    *,
    n_heldout: int = 20_000,
    n_directions: int = 256,
    n_bins: int = 10,
    seed: int = 1,
) -> ClassifierStudy:
    """Compare learned ratios with the exact and a binned likelihood on ``problem``.

    Args:
        problem: the :class:`EFTProblem`.
        models: learned ratios by label, e.g. ``{"quadratic": ..., "plain": ...}``.
        n_heldout: Standard-Model events for the ratio accuracy, never used in training
            (use a seed other than the training one).
        n_directions: rays of each region (and points of the exact contour).
        n_bins: cos theta bins per mass window of the binned analysis.
        seed: seeds the held-out events.
    """
    rng = np.random.default_rng(require_seed("seed", seed))
    likelihoods: dict[str, ExpectedQ] = {
        "exact": exact_expected_q(problem),
        "binned": binned_expected_q(problem, n_bins=n_bins),
    }
    for label, model in models.items():
        likelihoods[label] = unbinned_expected_q(problem, model, label=label)
    regions = {
        label: {cl: expected_region(q, cl=cl, n_directions=n_directions) for cl in (0.68, 0.95)}
        for label, q in likelihoods.items()
    }
    exact_volume = regions["exact"][0.95].volume
    held = sample_events(
        problem.measurement, np.zeros(4), rng, n_events=require_int("n_heldout", n_heldout, low=100)
    ).features
    contour = regions["exact"][0.95].boundary
    return ClassifierStudy(
        problem,
        likelihoods,
        regions,
        {label: one_parameter_limits(q) for label, q in likelihoods.items()},
        {label: r[0.95].volume / exact_volume for label, r in regions.items()},
        {label: ratio_accuracy(problem, m, held, contour) for label, m in models.items()},
        dict(models),
    )


@dataclass(frozen=True, eq=False)
class PosteriorStudy:
    """Exact and learned posteriors of one data set.

    Attributes:
        truth: the free coefficients the data were simulated at, shape (dim,).
        data: the events (N, 2).
        posteriors: ``{label: GridPosterior}``: "exact" and one per learned likelihood.
        comparisons: ``{learned label: PosteriorComparison}`` against the exact posterior.
        caveats: see :data:`POSTERIOR_CAVEATS`.
    """

    truth: Array
    data: Array
    posteriors: Mapping[str, GridPosterior]
    comparisons: Mapping[str, PosteriorComparison]
    caveats: tuple[str, ...] = POSTERIOR_CAVEATS

    def summary(self) -> str:
        """Lines of text: the data set, each learned posterior's C2ST accuracy and AUC, the
        HPD areas (68 %, 95 %) of learned vs exact, and the caveats."""
        exact = self.posteriors["exact"]
        problem = exact.problem
        truth = ", ".join(f"{n} = {v:+.3f}" for n, v in zip(problem.free, self.truth, strict=True))
        lines = [
            f"{problem.measurement.label}; {len(self.data)} events at {truth}; free: "
            f"{', '.join(problem.free)}"
        ]
        for label, comp in self.comparisons.items():
            areas = "; ".join(
                f"{100 * a:.0f} % HPD area {learned:.4g} vs exact {ex:.4g} "
                f"(ratio {learned / ex:.3f})"
                for a, learned, ex in zip(
                    LEVELS, comp.volumes_learned, comp.volumes_exact, strict=True
                )
            )
            lines.append(
                f"{label}: C2ST accuracy {comp.c2st_accuracy:.3f} (0.5: indistinguishable), "
                f"AUC {comp.auc:.3f}; {areas}"
            )
        return "\n".join(lines + [f"caveat: {c}" for c in self.caveats])


def posterior_study(
    problem: EFTProblem,
    learned: Mapping[str, Callable[[Array, Array], Array]],
    truth: npt.ArrayLike,
    *,
    n_events: int = NLE_EVENTS,
    n_grid: int = 41,
    n_draws: int = 10_000,
    seed: int = 0,
) -> PosteriorStudy:
    """Simulate ``n_events`` at ``truth`` and compare each learned posterior with the exact one.

    Args:
        problem: the :class:`EFTProblem` (its box is the prior).
        learned: per-event log-likelihoods by label, e.g. ``{"NLE (zuko)": nle.log_prob}``.
        truth: free coefficients inside the box, shape (dim,).
        n_events: events in the data set.
        n_grid: grid cells per coefficient.
        n_draws: posterior draws per side of each C2ST.
        seed: seeds the data and the C2ST.
    """
    rng = np.random.default_rng(require_seed("seed", seed))
    t = np.asarray(truth, dtype=np.float64)
    full = np.tile(problem.full(t), (require_int("n_events", n_events, low=1), 1))
    data = simulate_one_each(problem.measurement, full, rng)
    posteriors = {
        "exact": grid_posterior(
            problem, exact_log_likelihood(problem), data, n_grid=n_grid, label="exact"
        )
    }
    for label, log_lik in learned.items():
        posteriors[label] = grid_posterior(problem, log_lik, data, n_grid=n_grid, label=label)
    comparisons = {
        label: compare_posteriors(
            posteriors["exact"], posteriors[label], n_draws=n_draws, seed=seed
        )
        for label in learned
    }
    return PosteriorStudy(t, data, posteriors, comparisons)


def ratio_map(
    problem: EFTProblem,
    model: LearnedRatio | None,
    free_values: npt.ArrayLike,
    *,
    sqrt_s: npt.ArrayLike,
    cos_theta: npt.ArrayLike,
) -> tuple[Array, Array | None]:
    """Exact and learned ``r(sqrt s, cos theta; C)`` on a grid, for pictures.

    The exact ratio is the Born one at any energy (unsmeared). The learned one is evaluated at
    the grid's energies: it was trained at the measurement's energies only, so between them
    the learned map is an interpolation (not a prediction checked anywhere), and energies
    outside ``[E_min, E_max]`` of the measurement are refused.

    Args:
        problem: the :class:`EFTProblem` (2-D or not).
        model: a learned ratio, or ``None`` for the exact one alone.
        free_values: the free coefficients, inside the box, shape (dim,).
        sqrt_s: energies in GeV, shape (n_s,).
        cos_theta: cosines in [-cos_max, cos_max], shape (n_c,).

    Returns:
        ``(exact, learned)``, each (n_s, n_c); ``learned`` is ``None`` without a model.

    Raises:
        InvalidInputError: an energy outside ``[E_min, E_max]`` of the measurement.
    """
    full = problem.full(np.atleast_2d(np.asarray(free_values, dtype=np.float64)))
    s_axis = require_array("sqrt_s", sqrt_s, ndim=1)
    e = problem.measurement.energies
    off = (s_axis < e[0]) | (s_axis > e[-1])
    if np.any(off):
        raise InvalidInputError(
            f"{int(off.sum())} of {s_axis.size} values of sqrt_s lie outside "
            f"[{e[0]:g}, {e[-1]:g}] GeV, the energies of the measurement the ratios were "
            "trained at; a learned ratio is not extrapolated: keep sqrt_s inside that range."
        )
    c_axis = np.asarray(cos_theta, dtype=np.float64)
    grid_s, grid_c = np.meshgrid(s_axis, c_axis, indexing="ij")
    sm, lin, quad = quadratic_terms(grid_s, grid_c, lambda_gev=problem.measurement.lambda_gev)
    c = full[0]
    exact = (sm + lin @ c + quad @ (c * c)) / sm
    if model is None:
        return exact, None
    features = np.column_stack([grid_s.ravel(), grid_c.ravel()])
    return exact, model(features, full)[0].reshape(grid_s.shape)
