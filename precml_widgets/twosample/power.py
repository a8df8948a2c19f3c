"""Power curves of two-sample statistics against a deformed reference model, with timings.

For one reference model of arXiv:2409.16336 (:func:`~precml_widgets.stats.deformations
.reference_model`), one deformation kind and a grid of sizes ε, :func:`power_study` runs, for
each statistic, the null toys (both samples from the reference) and, at every ε, toys whose
data come from the deformed model (:func:`~precml_widgets.stats.deformations.deformed`),
all through :func:`~precml_widgets.stats.suite.toy_distribution`. The power at ε is the
fraction of alternative toys above the null's ``cl`` threshold (the paper's order statistic,
:func:`~precml_widgets.stats.sensitivity.null_threshold`), with a Clopper–Pearson interval;
at ε = 0 it estimates the false-alarm rate ``1 - cl``. The compute time per toy is measured
on the null toys (sampling included), after one untimed warm-up call of each statistic.

The result is a frozen :class:`PowerStudy`: the explorer draws it and never recomputes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_choice, require_int, require_probability, require_seed
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.binomial import BinomialEstimate, clopper_pearson
from precml_widgets.stats.deformations import DEFORMATIONS, PAPER_DIMS, deformed, reference_model
from precml_widgets.stats.sensitivity import (
    Crossing,
    bootstrap_gaps,
    first_crossing,
    null_threshold,
)
from precml_widgets.stats.suite import (
    NullDistribution,
    evaluate,
    get_statistic,
    toy_distribution,
)

__all__ = [
    "BOOTSTRAP",
    "FAMILIES",
    "MIN_TOYS_ABOVE",
    "PowerConfig",
    "PowerStudy",
    "StatisticPower",
    "power_study",
]

#: Reference families of arXiv:2409.16336: correlated Gaussian, mixture of Gaussians.
FAMILIES = ("cg", "mog")
#: A study needs ``toys (1 - cl) >= MIN_TOYS_ABOVE``: the threshold ``sort(null)[int(N cl)]``
#: then has at least one toy above it, never silently the largest toy (a CL beyond the toys'
#: resolution). Notebook 05's CI run (80 toys at 0.95) and the fast app (50) pass.
MIN_TOYS_ABOVE = 2
#: Bootstrap replicas of the error on the grid's ε_CL (:meth:`PowerStudy.epsilon_cl`).
BOOTSTRAP = 300


@dataclass(frozen=True)
class PowerConfig:
    """What :func:`power_study` runs.

    Attributes:
        family: ``"cg"`` or ``"mog"`` (:data:`FAMILIES`).
        dim: 5, 20 or 100 (the paper's dimensions).
        kind: one of :data:`~precml_widgets.stats.deformations.DEFORMATIONS`.
        epsilons: deformation sizes ε (ascending, >= 0).
        n: events per reference sample and per data sample.
        statistics: registered statistic names.
        toys: null toys; the alternative at each ε gets the same number; at least
            ``MIN_TOYS_ABOVE / (1 - cl)`` (:data:`MIN_TOYS_ABOVE`).
        cl: confidence level of the rejection threshold.
        seed: master seed: the null toys use ``seed``, the alternatives ``seed + 1`` at every
            ε (common random numbers, as in arXiv:2409.16336).
    """

    family: str = "cg"
    dim: int = 5
    kind: str = "mean"
    epsilons: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2)
    n: int = 2_000
    statistics: tuple[str, ...] = ("mean_ks", "sliced_wasserstein", "mmd_poly", "fgd")
    toys: int = 200
    cl: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        require_choice("family", self.family, FAMILIES)
        require_choice("dim", self.dim, PAPER_DIMS)
        require_choice("kind", self.kind, DEFORMATIONS)
        eps = np.asarray(self.epsilons, dtype=float)
        if eps.ndim != 1 or eps.size == 0 or np.any(eps < 0) or np.any(np.diff(eps) <= 0):
            raise InvalidInputError(
                f"epsilons must be ascending sizes >= 0, got {self.epsilons!r}; e.g. "
                "(0.0, 0.05, 0.1, 0.2)."
            )
        model = reference_model(self.family, self.dim)
        deformed(model, self.kind, float(eps[-1]))  # a size the kind cannot take fails here
        require_int("n", self.n, low=10)
        require_int("toys", self.toys, low=20, hint="the threshold needs >= 20 null toys.")
        require_probability("cl", self.cl)
        if self.toys * (1.0 - self.cl) < MIN_TOYS_ABOVE - 1e-9:
            need = int(np.ceil(MIN_TOYS_ABOVE / (1.0 - self.cl) - 1e-9))
            raise InvalidInputError(
                f"toys={self.toys} cannot resolve the cl={self.cl:g} threshold (it would be the "
                f"largest null toy); raise toys to at least {need} or lower cl to at most "
                f"{1 - MIN_TOYS_ABOVE / self.toys:.3g}."
            )
        require_seed("seed", self.seed)
        if not self.statistics:
            raise InvalidInputError("statistics must name at least one statistic.")
        for name in self.statistics:
            get_statistic(name)

    @property
    def work(self) -> int:
        """Events × features drawn over the whole study: a proxy of its cost (the explorer
        refuses a click above a limit)."""
        distributions = len(self.statistics) * (1 + len(self.epsilons))
        return 2 * self.n * self.dim * self.toys * distributions


@dataclass(frozen=True)
class StatisticPower:
    """One statistic's null, alternatives and power curve.

    Attributes:
        statistic: its name.
        null: the null toys.
        alternatives: per ε (the config's order), ``(toys,)`` values with the deformed data.
        threshold: the null's ``cl`` threshold (values above it reject).
        power: per ε, the fraction of alternative toys above the threshold, with its
            Clopper–Pearson interval (68.27 % CL).
        seconds_per_toy: wall time of the null toys / their number (sampling included).
        options: the statistic's hyperparameters.
    """

    statistic: str
    null: NullDistribution
    alternatives: tuple[npt.NDArray[np.float64], ...]
    threshold: float
    power: tuple[BinomialEstimate, ...]
    seconds_per_toy: float
    options: dict[str, Any] = field(default_factory=dict)

    def epsilon_at(self, epsilons: tuple[float, ...], power: float = 0.5) -> Crossing:
        """The ε at which the power curve first rises above ``power`` (linear interpolation
        between grid points, :func:`~precml_widgets.stats.sensitivity.first_crossing`): a
        bound ``"<="`` when the power is already above at the first ε, ``">"`` when it never
        rises above on the grid."""
        return first_crossing(epsilons, [p.value for p in self.power], power)

    def epsilon_cl(
        self,
        epsilons: tuple[float, ...],
        *,
        cl: float | None = None,
        bootstrap: int = 0,
        seed: int = 0,
    ) -> Crossing:
        """The paper's sensitivity ε_CL read off the grid: the ε at which the **mean** of the
        alternative toys crosses the null's ``cl`` threshold (linear interpolation between
        grid points), or a bound (``"<="`` above the threshold already at the first ε, ``">"``
        never above on the grid).

        The definition of :mod:`precml_widgets.stats.sensitivity` (which finds the same
        crossing by bisection), through its :func:`~precml_widgets.stats.sensitivity
        .first_crossing`. With ``cl`` and ``bootstrap`` replicas, the error is the standard
        deviation of the crossing over resamplings of the null and alternative toys (the same
        toy indices at every ε: :func:`~precml_widgets.stats.sensitivity.bootstrap_gaps`; a
        replica without a crossing counts at the grid's end).

        References:
            S. Grossi, M. Letizia, R. Torre, arXiv:2409.16336, Sec. 4.
        """
        means = [float(np.mean(values)) for values in self.alternatives]
        point = first_crossing(epsilons, means, self.threshold)
        if cl is None or bootstrap == 0 or not point.found:
            return point
        nulls = [self.null.values] * len(self.alternatives)
        gaps = bootstrap_gaps(self.alternatives, nulls, cl, replicas=bootstrap, seed=seed)
        replicas = [first_crossing(epsilons, row, 0.0).epsilon for row in gaps]
        return Crossing(point.epsilon, "=", float(np.std(replicas)))


@dataclass(frozen=True)
class PowerStudy:
    """The power curves of several statistics on one reference model and deformation."""

    config: PowerConfig
    results: dict[str, StatisticPower]

    def epsilon_cl(self, statistic: str) -> Crossing:
        """``statistic``'s ε_CL on the grid with its bootstrap error (:data:`BOOTSTRAP`
        replicas seeded by the config's seed; see :meth:`StatisticPower.epsilon_cl`)."""
        config = self.config
        return self.results[statistic].epsilon_cl(
            config.epsilons, cl=config.cl, bootstrap=BOOTSTRAP, seed=config.seed
        )

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per statistic: the time per toy, ε at power ½ (a ``Crossing``),
        the paper's ε_CL (a :class:`~precml_widgets.stats.sensitivity.Crossing`: value, bound
        and bootstrap error) and the power at each ε (for a table)."""
        rows = []
        for name, r in self.results.items():
            row: dict[str, Any] = {
                "statistic": name,
                "ms per toy": 1e3 * r.seconds_per_toy,
                "ε at power ½": r.epsilon_at(self.config.epsilons),
                "ε_CL (paper)": self.epsilon_cl(name),
            }
            for eps, p in zip(self.config.epsilons, r.power, strict=True):
                row[f"power at ε={eps:g}"] = p.value
            rows.append(row)
        return rows

    def markdown_table(self) -> str:
        """:meth:`summary_rows` as a Markdown table: ε_CL as ``value ± error`` or a bound
        (``≤ ε₀``, ``> ε_max``), ε at power ½ likewise (no error)."""
        eps = self.config.epsilons
        head = "| statistic | ms per toy | ε at power ½ | ε_CL (paper) | " + " | ".join(
            f"ε = {e:.3g}" for e in eps
        )
        rows = [head + " |", "|:--|--:|--:|--:|" + "--:|" * len(eps)]
        for row in self.summary_rows():
            powers = " | ".join(f"{row[f'power at ε={e:g}']:.2f}" for e in eps)
            half = row["ε at power ½"].describe()
            paper = row["ε_CL (paper)"].describe()
            rows.append(
                f"| {row['statistic']} | {row['ms per toy']:.3g} | {half} | {paper} | {powers} |"
            )
        return "\n".join(rows)


def power_study(
    config: PowerConfig,
    *,
    on_progress: Callable[[float], None] | None = None,
    serial: bool = True,
    scheduler: Any = None,
    device: str | None = None,
) -> PowerStudy:
    """Run the null and alternative toys of every statistic in ``config``.

    Args:
        config: what to run.
        on_progress: called with the fraction done (0 to 1) after each toy ensemble.
        serial: run the toys in this process (a served app: no cluster start per click);
            ``False`` uses :func:`~precml_widgets.parallel.run_ensemble`'s Dask cluster.
        scheduler: a Dask scheduler address or client (with ``serial=False``).
        device: torch device of the statistics.

    Example:
        >>> study = power_study(PowerConfig(epsilons=(0.0, 0.5), n=200, toys=40,
        ...                                 statistics=("mean_ks",)))
        >>> study.results["mean_ks"].power[1].value > study.results["mean_ks"].power[0].value
        True
    """
    model = reference_model(config.family, config.dim)
    steps = len(config.statistics) * (1 + len(config.epsilons))
    done = 0
    results = {}
    run = dict(serial=serial, scheduler=scheduler, progress=False, device=device)
    rng = np.random.default_rng(config.seed)
    for name in config.statistics:
        # one untimed call: lazy imports and first-call set-up are not charged to the toys
        evaluate(name, model.sample(config.n, rng), model.sample(config.n, rng), device=device)
        t0 = time.perf_counter()
        null = toy_distribution(
            name, model.sample, config.n, config.n, toys=config.toys, seed=config.seed, **run
        )
        seconds = (time.perf_counter() - t0) / config.toys
        done += 1
        _report(on_progress, done, steps)
        threshold = null_threshold(null.values, config.cl)
        alternatives, power = [], []
        for eps in config.epsilons:
            alt = toy_distribution(
                name,
                model.sample,
                config.n,
                config.n,
                sample_data=deformed(model, config.kind, eps).sample,
                toys=config.toys,
                seed=config.seed + 1,  # common random numbers across ε: a smooth curve
                **run,
            )
            alternatives.append(alt.values)
            power.append(
                clopper_pearson(int(np.count_nonzero(alt.values > threshold)), alt.values.size)
            )
            done += 1
            _report(on_progress, done, steps)
        results[name] = StatisticPower(
            name, null, tuple(alternatives), threshold, tuple(power), seconds, dict(null.options)
        )
    return PowerStudy(config, results)


def _report(on_progress: Callable[[float], None] | None, done: int, steps: int) -> None:
    if on_progress is not None:
        on_progress(done / steps)
