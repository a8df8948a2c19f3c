"""Calibration of an integrator's error: pulls over an ensemble of seeds, run with Dask."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import numpy.typing as npt
from scipy import stats

from precml_widgets.integration.integrand import Integrand
from precml_widgets.integration.nis import integrate_nis
from precml_widgets.integration.nis_config import NISConfig
from precml_widgets.integration.vegas_baseline import VegasConfig, integrate_vegas
from precml_widgets.parallel import run_ensemble

__all__ = ["PullEnsemble", "pull_ensemble"]


@dataclass(frozen=True)
class PullEnsemble:
    """Pulls ``(estimate - exact) / error`` of independent runs, one per seed.

    Attributes:
        pulls: ``(N,)`` pulls, in seed order.

    Example:
        >>> e = PullEnsemble(np.array([-1.0, 0.0, 1.0, 0.5]))
        >>> e.mean, round(e.variance, 3)
        (0.125, 0.729)
    """

    pulls: npt.NDArray[np.float64]

    @property
    def mean(self) -> float:
        """Mean pull (0 for an unbiased estimator)."""
        return float(self.pulls.mean())

    @property
    def variance(self) -> float:
        """Sample variance of the pulls (1 when the errors are right)."""
        return float(self.pulls.var(ddof=1))

    @property
    def std(self) -> float:
        """Sample standard deviation of the pulls (1 when the errors are right)."""
        return float(self.pulls.std(ddof=1))

    def tail_fraction(self, z: float = 3.0) -> float:
        """Fraction of runs with ``|pull| > z`` (0.0027 for ``z = 3`` when calibrated)."""
        return float(np.mean(np.abs(self.pulls) > z))

    @staticmethod
    def tail_limit(n: int, z: float = 3.0, level: float = 0.999) -> float:
        """Largest ``|pull| > z`` fraction of ``n`` calibrated runs at ``level``:
        ``binom.ppf(level, n, 2 Φ(-z)) / n``; exceeding it is a false alarm in ``1 - level``.

        Example:
            >>> PullEnsemble.tail_limit(200)
            0.02
        """
        return float(stats.binom.ppf(level, n, 2 * stats.norm.sf(z)) / n)

    def calibrated(self, level: float = 0.997) -> bool:
        """Mean within ``z/√N`` of 0 and variance inside its two-sided chi-square band.

        For a calibrated estimator each check fails with probability ``1 - level``.
        """
        n = self.pulls.size
        z = stats.norm.ppf(0.5 + level / 2)
        lo, hi = stats.chi2.ppf([(1 - level) / 2, (1 + level) / 2], n - 1) / (n - 1)
        return abs(self.mean) < z / math.sqrt(n) and lo < self.variance < hi


def _nis_pull(integrand: Integrand, config: NISConfig, seed: int) -> float:
    result, _ = integrate_nis(integrand, replace(config, seed=seed), progress=False)
    return result.pull(integrand.exact, integrand.exact_error)


def _vegas_pull(integrand: Integrand, config: VegasConfig, seed: int) -> float:
    result, _ = integrate_vegas(integrand, replace(config, seed=seed))
    return result.pull(integrand.exact, integrand.exact_error)


def pull_ensemble(
    integrand: Integrand,
    config: NISConfig | VegasConfig,
    seeds: int = 100,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: bool = True,
) -> PullEnsemble:
    """Train and integrate once per seed (flow or VEGAS, by the config's type); collect pulls.

    The runs are toys of a Dask ensemble (:func:`precml_widgets.parallel.run_ensemble`): a
    local cluster by default, any scheduler address when given.

    Args:
        integrand: an integrand with a known value.
        config: :class:`NISConfig` for the flow, :class:`VegasConfig` for VEGAS; its seed is
            replaced by each toy's.
        seeds: number of independent runs.
        scheduler: a Dask scheduler address, or ``None`` for a local cluster.
        n_workers: local worker processes (default: up to 2).
        progress: show a progress bar.

    Returns:
        The pulls.
    """
    toy = partial(
        _nis_pull if isinstance(config, NISConfig) else _vegas_pull, integrand, config.validate()
    )
    pulls = run_ensemble(
        toy,
        seeds,
        scheduler=scheduler,
        n_workers=n_workers,
        progress=progress,
        description=f"pulls-{integrand.name}",
    )
    return PullEnsemble(np.asarray(pulls, dtype=np.float64))
