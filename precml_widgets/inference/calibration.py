"""Learned vs exact posteriors: a classifier two-sample test per toy, coverage and SBC ranks.

Coverage: over toys with ``C`` drawn from the prior (the box) and ``N`` events simulated at it,
the fraction whose truth lies inside the ``alpha`` highest-posterior-density region; for a
calibrated posterior it is Binomial(n_toys, alpha) / n_toys, and the check is whether it lies
inside that distribution's 0.1-99.9 % band (so a correct pipeline fails one check in 500).
SBC (S. Talts et al., arXiv:1804.06788): the rank of each true coefficient among ``L``
posterior draws is uniform on 0..L for a calibrated posterior.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from precml_widgets._checks import require_int, require_seed
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.events import simulate_one_each
from precml_widgets.inference.nle import NeuralLikelihood
from precml_widgets.inference.posterior import (
    GridPosterior,
    LogLikelihood,
    exact_log_likelihood,
    grid_posterior,
)
from precml_widgets.inference.problem import NLE_EVENTS, EFTProblem
from precml_widgets.parallel import run_ensemble
from precml_widgets.stats import classifier_check

__all__ = [
    "LEVELS",
    "Calibration",
    "PosteriorComparison",
    "ToyOutcome",
    "binomial_band",
    "calibrate",
    "compare_posteriors",
    "run_toy",
]

Array = npt.NDArray[np.float64]
#: Credibility levels checked: the 68 % and 95 % regions.
LEVELS: tuple[float, float] = (0.68, 0.95)
#: Posterior draws per toy for the SBC ranks (ranks run over 0..SBC_DRAWS).
SBC_DRAWS = 99


@dataclass(frozen=True, eq=False)
class PosteriorComparison:
    """Learned vs exact posterior of one data set.

    Attributes:
        c2st_accuracy: held-out accuracy of a classifier telling draws of one posterior from
            the other (0.5: indistinguishable), as the C2ST of sbibm (arXiv:2101.04653), with
            the project's boosted-tree :func:`~precml_widgets.stats.classifier_check`.
        auc: its held-out AUC; ``p_value`` its one-sided p-value under "same posterior".
        p_value: see ``auc``.
        volumes_exact: HPD region volumes at :data:`LEVELS`, exact posterior.
        volumes_learned: the same for the learned posterior.
    """

    c2st_accuracy: float
    auc: float
    p_value: float
    volumes_exact: tuple[float, ...]
    volumes_learned: tuple[float, ...]


def compare_posteriors(
    exact: GridPosterior, learned: GridPosterior, *, n_draws: int = 10_000, seed: int = 0
) -> PosteriorComparison:
    """C2ST accuracy and region volumes of ``learned`` against ``exact`` (``n_draws`` each)."""
    n = require_int("n_draws", n_draws, low=100)
    rng = np.random.default_rng(require_seed("seed", seed))
    check = classifier_check(learned.sample(n, rng), exact.sample(n, rng), seed=seed)
    accuracy = float(np.mean((check.ratio_test > 1.0) == check.is_reference))
    return PosteriorComparison(
        accuracy,
        check.auc,
        check.p_value,
        tuple(exact.region_volume(a) for a in LEVELS),
        tuple(learned.region_volume(a) for a in LEVELS),
    )


@dataclass(frozen=True)
class ToyOutcome:
    """One calibration toy: its truth, and where it falls in each posterior.

    Attributes:
        truth: the free coefficients drawn from the prior, shape (dim,).
        credibility: ``{label: HPD credibility of the truth}`` (covered at alpha if <= alpha).
        ranks: ``{label: SBC rank of each true coefficient among SBC_DRAWS draws}``.
    """

    truth: tuple[float, ...]
    credibility: dict[str, float]
    ranks: dict[str, tuple[int, ...]]


def _likelihoods(
    learned: NeuralLikelihood | Mapping[str, LogLikelihood], problem: EFTProblem | None
) -> tuple[EFTProblem, dict[str, LogLikelihood]]:
    """The problem and ``{label: per-event log-likelihood}`` of the learned side, checked."""
    if isinstance(learned, NeuralLikelihood):
        if problem is not None and problem != learned.problem:
            raise InvalidInputError(
                "problem differs from the NeuralLikelihood's own problem; leave problem out "
                "when passing a NeuralLikelihood (its problem is used)."
            )
        return learned.problem, {"learned": learned.log_prob}
    if not isinstance(learned, Mapping) or not learned:
        raise InvalidInputError(
            f"learned must be a NeuralLikelihood or a non-empty mapping label -> per-event "
            f"log-likelihood, got {type(learned).__name__}; e.g. {{'NLE': nle.log_prob}}."
        )
    if problem is None or not isinstance(problem, EFTProblem):
        raise InvalidInputError(
            "problem must be the EFTProblem of the learned likelihoods when learned is a "
            "mapping (its box is the prior the toys are drawn from); pass problem=..."
        )
    bad = [k for k in learned if not isinstance(k, str) or k == "exact" or not callable(learned[k])]
    if bad:
        raise InvalidInputError(
            f"learned's labels must be strings other than 'exact' (reserved for the exact "
            f"likelihood) naming callables (features, free) -> (m, n); got {bad!r}."
        )
    return problem, dict(learned)


def run_toy(
    seed: int,
    *,
    learned: NeuralLikelihood | Mapping[str, LogLikelihood],
    problem: EFTProblem | None = None,
    n_events: int = NLE_EVENTS,
    n_grid: int = 25,
) -> ToyOutcome:
    """One toy: draw C from the prior, simulate ``n_events`` at it, tabulate each posterior.

    Args:
        seed: seeds the truth, the events and the SBC draws.
        learned: a :class:`NeuralLikelihood` (labelled ``"learned"``), or per-event
            log-likelihoods ``{label: (features (n, 2), free (m, dim)) -> (m, n)}`` (e.g.
            ``{"NLE (ours)": nle.log_prob, "NLE (sbi)": sbi.log_prob}``), all judged on the
            same toy; the exact posterior is always added as ``"exact"``.
        problem: the :class:`EFTProblem` (its box is the prior); required with a mapping,
            taken from the :class:`NeuralLikelihood` otherwise.
        n_events: events per toy data set.
        n_grid: grid cells per coefficient of each posterior.
    """
    prob, likelihoods = _likelihoods(learned, problem)
    rng = np.random.default_rng(require_seed("seed", seed))
    truth = prob.lower + (prob.upper - prob.lower) * rng.random(prob.dim)
    full = np.tile(prob.full(truth), (require_int("n_events", n_events, low=1), 1))
    data = simulate_one_each(prob.measurement, full, rng)
    credibility, ranks = {}, {}
    for label, log_lik in (("exact", exact_log_likelihood(prob)), *likelihoods.items()):
        post = grid_posterior(prob, log_lik, data, n_grid=n_grid, label=label)
        credibility[label] = float(post.credibility(truth)[0])
        draws = post.sample(SBC_DRAWS, rng)
        ranks[label] = tuple(int(k) for k in np.sum(draws < truth, axis=0))
    return ToyOutcome(tuple(float(t) for t in truth), credibility, ranks)


def binomial_band(n_toys: int, level: float) -> tuple[float, float]:
    """The 0.1-99.9 % band of the covered fraction for a calibrated ``level`` region."""
    lo, hi = stats.binom.ppf([0.001, 0.999], n_toys, level)
    return float(lo / n_toys), float(hi / n_toys)


@dataclass(frozen=True, eq=False)
class Calibration:
    """Coverage and SBC over toys, exact and learned side by side.

    Attributes:
        outcomes: every :class:`ToyOutcome`.
        coverage: ``{label: {level: covered fraction}}``.
        band: ``{level: (low, high)}``, the 0.1-99.9 % binomial band of a calibrated method.
        sbc_p_values: ``{label: chi2 uniformity p-value of the ranks per coefficient}``.
    """

    outcomes: tuple[ToyOutcome, ...]
    coverage: dict[str, dict[float, float]]
    band: dict[float, tuple[float, float]]
    sbc_p_values: dict[str, tuple[float, ...]]

    def within_band(self, label: str) -> bool:
        """Whether every level's coverage of ``label`` lies inside its band."""
        return all(lo <= self.coverage[label][a] <= hi for a, (lo, hi) in self.band.items())


def _sbc_p_values(ranks: Sequence[tuple[int, ...]], n_bins: int = 10) -> tuple[float, ...]:
    r = np.asarray(ranks)
    edges = np.linspace(-0.5, SBC_DRAWS + 0.5, n_bins + 1)
    return tuple(
        float(stats.chisquare(np.histogram(r[:, i], bins=edges)[0]).pvalue)
        for i in range(r.shape[1])
    )


def calibrate(
    learned: NeuralLikelihood | Mapping[str, LogLikelihood],
    *,
    problem: EFTProblem | None = None,
    n_toys: int = 200,
    n_events: int = NLE_EVENTS,
    n_grid: int = 25,
    seed: int = 0,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: bool = True,
) -> Calibration:
    """Coverage of the 68 %/95 % regions and SBC ranks over ``n_toys`` prior draws.

    The toys run through :func:`precml_widgets.parallel.run_ensemble` (a local Dask cluster
    of ``n_workers`` processes, or ``scheduler``); toy ``k`` uses seed ``seed + k``, so every
    draw follows from ``seed``. ``n_workers=0`` runs them one after the other in this process.

    Args:
        learned: a :class:`NeuralLikelihood` (results keyed ``"exact"`` and ``"learned"``), or
            ``{label: per-event log-likelihood}`` of several learned likelihoods scored on the
            same toys (results keyed ``"exact"`` and each label); see :func:`run_toy`.
        problem: the :class:`EFTProblem`; required with a mapping.
        n_toys: toy data sets (at least 2; the binomial band needs ~200 to mean much).
        n_events: events per toy.
        n_grid: grid cells per coefficient.
        seed: offset of the toys' seeds.
        scheduler: a Dask scheduler address, or ``None`` for a local cluster.
        n_workers: local worker processes (0: serial in this process).
        progress: show a progress bar.
    """
    n = require_int("n_toys", n_toys, low=2)
    first = require_seed("seed", seed)
    prob, likelihoods = _likelihoods(learned, problem)
    func = functools.partial(
        run_toy,
        learned=learned,
        problem=None if isinstance(learned, NeuralLikelihood) else prob,
        n_events=require_int("n_events", n_events, low=1),
        n_grid=n_grid,
    )
    outcomes = tuple(
        run_ensemble(
            func,
            [first + k for k in range(n)],
            scheduler=scheduler,
            n_workers=n_workers or None,
            serial=n_workers == 0,
            progress=progress,
            description="calibration toys",
        )
    )
    labels = ("exact", *likelihoods)
    coverage = {
        label: {a: float(np.mean([o.credibility[label] <= a for o in outcomes])) for a in LEVELS}
        for label in labels
    }
    band = {a: binomial_band(n, a) for a in LEVELS}
    sbc = {label: _sbc_p_values([o.ranks[label] for o in outcomes]) for label in labels}
    return Calibration(outcomes, coverage, band, sbc)
