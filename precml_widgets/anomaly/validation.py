"""Fast simulation vs held-out real events, with errors that include the tuning half.

The fast simulation is a smoothed bootstrap of the *tuning* half of the real events, so it
inherits that half's statistical fluctuations. A fraction measured on it must be compared
with the held-out half with both halves' binomial errors, not the held-out half's alone:
two random halves of 500 events differ in their Z-window fraction by 2.9 % (1 sigma), as
much as a mis-modelled kernel would. Likewise a permutation test of one fast sample against
the held-out half ignores the tuning half's fluctuations and rejects a correct simulation
too often; :func:`split_ensemble` calibrates it with pseudo-real samples drawn from the fast
simulation itself and averages over random tune/validate splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from precml_widgets._checks import require_int, require_real
from precml_widgets.anomaly.events import DimuonEvents
from precml_widgets.anomaly.fastsim import DimuonKDE
from precml_widgets.anomaly.samples import split_tune_validate

__all__ = [
    "HeldOutComparison",
    "SplitEnsemble",
    "compare_with_held_out",
    "split_ensemble",
    "z_window_mask",
]

#: Dimuon mass window around the Z pole, GeV.
Z_WINDOW_GEV = (81.0, 101.0)


@dataclass(frozen=True)
class HeldOutComparison:
    """A fraction in the fast simulation against the held-out real events.

    Attributes:
        quantity: what the fraction counts, in words.
        k_fast, n_fast: passing and total fast-simulated events.
        k_real, n_real: passing and total held-out real events.
        n_tune: real events the fast simulation was tuned on.
        fast, real: the two fractions.
        sigma: standard error of ``real - fast``: the pooled binomial error of the held-out
            and the tuning half (whose fluctuations the simulation inherits) and of the
            fast-simulated sample.
        pull: ``(real - fast) / sigma``; N(0, 1) for a faithful simulation.
        n_sigma: the agreement criterion.
        agree: ``abs(pull) <= n_sigma`` (false alarm 4.6 % for 2 sigma).
    """

    quantity: str
    k_fast: int
    n_fast: int
    k_real: int
    n_real: int
    n_tune: int
    fast: float
    real: float
    sigma: float
    pull: float
    n_sigma: float
    agree: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable fields."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def describe(self) -> str:
        """One line: both fractions, the pull and the verdict."""
        verdict = "agree" if self.agree else "DISAGREE"
        return (
            f"{self.quantity}: fast simulation {self.fast:.1%} ({self.n_fast:,} events) vs "
            f"held-out real {self.real:.1%} ({self.n_real:,} events); difference "
            f"{self.real - self.fast:+.1%} +- {self.sigma:.1%} (tuning {self.n_tune} + held-out "
            f"{self.n_real} + simulated), pull {self.pull:+.2f}: {verdict} within "
            f"{self.n_sigma:g} sigma"
        )


def compare_with_held_out(
    k_fast: int,
    n_fast: int,
    k_real: int,
    n_real: int,
    n_tune: int,
    *,
    quantity: str = "fraction",
    n_sigma: float = 2.0,
) -> HeldOutComparison:
    """Compare a fraction in the fast simulation with the held-out real events.

    The variance of ``real - fast`` is ``p (1 - p) (1/n_real + 1/n_tune) + f (1 - f) / n_fast``
    with ``p`` the pooled real fraction (held-out and, through the simulation, tuning half)
    and ``f`` the simulated one: the held-out half's binomial error, the tuning half's
    (inherited by the smoothed bootstrap) and the simulation's own.

    Args:
        k_fast, n_fast: passing and total fast-simulated events.
        k_real, n_real: passing and total held-out real events.
        n_tune: real events the simulation was tuned on.
        quantity: label of the fraction.
        n_sigma: agreement criterion in standard errors.

    Example:
        >>> c = compare_with_held_out(17_160, 20_000, 228, 250, 250, quantity="Z window")
        >>> round(c.pull, 2), c.agree
        (1.89, True)
    """
    for label, value in (("n_fast", n_fast), ("n_real", n_real), ("n_tune", n_tune)):
        require_int(label, value, low=1)
    for label, k, n in (("k_fast", k_fast, n_fast), ("k_real", k_real, n_real)):
        require_int(label, k, low=0, high=n)
    require_real("n_sigma", n_sigma, low=0.0, low_open=True)
    fast, real = k_fast / n_fast, k_real / n_real
    pooled = (k_real + fast * n_tune) / (n_real + n_tune)
    var = pooled * (1 - pooled) * (1 / n_real + 1 / n_tune) + fast * (1 - fast) / n_fast
    sigma = float(np.sqrt(var))
    pull = 0.0 if sigma == 0 else (real - fast) / sigma
    return HeldOutComparison(
        quantity, int(k_fast), int(n_fast), int(k_real), int(n_real), int(n_tune),
        float(fast), float(real), sigma, float(pull), float(n_sigma),
        bool(abs(pull) <= n_sigma),
    )  # fmt: skip


def z_window_mask(events: DimuonEvents, window: tuple[float, float] = Z_WINDOW_GEV) -> np.ndarray:
    """Events whose dimuon mass lies inside ``window`` (GeV), shape ``(n,)``."""
    m = events.mass()
    return (m > window[0]) & (m < window[1])


@dataclass(frozen=True)
class SplitEnsemble:
    """The fast-simulation validation repeated over random tune/validate splits.

    Attributes:
        split_seeds: the seeds of the random splits (each also seeds the simulation).
        bandwidths: the kernel width chosen on each split's tuning half (x Scott).
        statistic: energy distance of simulation vs held-out half, averaged over the splits.
        null: the same average on each pseudo-real sample drawn from the fast simulation
            of the whole real sample (the calibration; empty when no toys were run).
        p_value: ``(1 + #{null >= statistic}) / (1 + len(null))``, or None without toys.
        z_pulls: per split, the Z-window pull of :func:`compare_with_held_out`.
        z_difference: held-out minus simulated Z-window fraction, averaged over splits.
        z_sigma: its standard error, ``sqrt(sum of the splits' sigma^2) / n_splits``. This
            divides by the number of splits as if the splits were independent. They are
            independent only *conditionally on the real sample*: every split partitions the
            same 500 events, each with its own random partition and simulation seed. So
            ``z_sigma`` is the spread of ``z_difference`` over repeated random splits of
            *this* sample, not over repeated real samples. That is the spread that matters
            here. Given the sample, each split's difference has mean equal to the kernel's
            bias (smoothing moves events into or out of the window) and the per-split
            sigma as its spread. The per-split sigma is the hypergeometric spread of a random
            partition up to the factor N/(N-1) (tests/test_events.py checks it against
            scipy). The sample's own fluctuation about the true Z fraction is common to
            both sides and cancels. What ``z_agree`` tests is therefore a bias of the
            simulation relative to the events it smooths, not the sample against nature.
            ``tests/test_events.py`` measures this conditional spread: the pulls of many
            random splits of the one sample have unit standard deviation.
    """

    split_seeds: tuple[int, ...]
    bandwidths: tuple[float, ...]
    statistic: float
    null: tuple[float, ...]
    p_value: float | None
    z_pulls: tuple[float, ...]
    z_difference: float
    z_sigma: float

    @property
    def z_agree(self) -> bool:
        """The split-averaged Z-window fractions agree within 2 sigma."""
        return abs(self.z_difference) <= 2 * self.z_sigma

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable fields (tuples become lists)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
        out["z_agree"] = self.z_agree
        return out


def _one_split(real: DimuonEvents, split_seed: int, n_fast: int) -> tuple[float, float, Any]:
    """Energy distance and Z-window comparison of one split; the chosen width."""
    from precml_widgets.stats.two_sample import energy_test

    tune, val = split_tune_validate(real, seed=split_seed)
    kde = DimuonKDE.tuned(tune, seed=split_seed)
    sim = kde.sample(4 * val.n, seed=split_seed + 7919)
    stat = energy_test(sim.features(), val.features(), n_permutations=1).statistic
    fast = kde.sample(n_fast, seed=split_seed + 104_729)
    z = compare_with_held_out(
        int(z_window_mask(fast).sum()), fast.n, int(z_window_mask(val).sum()), val.n, tune.n
    )
    return float(stat), kde.bandwidth, z


def split_ensemble(
    real: DimuonEvents,
    *,
    n_splits: int = 5,
    n_toys: int = 200,
    seed: int = 0,
    n_fast: int = 20_000,
) -> SplitEnsemble:
    """Validate the fast simulation over random splits, calibrated with pseudo-real samples.

    For each of ``n_splits`` random tune/validate splits the whole procedure runs: the kernel
    width is cross-validated on the tuning half, a simulation four times the held-out size is
    compared with the held-out half by the energy distance, and the Z-window fractions are
    compared (:func:`compare_with_held_out`). The statistic is the energy distance averaged
    over the splits -- one number for the one real sample. Its null distribution comes from
    ``n_toys`` pseudo-real samples of the same size drawn from the fast simulation of the
    whole real sample, each put through the identical procedure with the same split seeds:
    a faithful simulation sits inside that distribution, and a p-value below 0.01 rejects it.
    With few toys this is a Monte Carlo test (Barnard 1963): ``p <= 1 / (1 + n_toys)`` means
    the real statistic lies above every toy, which happens with probability
    ``1 / (1 + n_toys)`` when the real sample is exchangeable with the pseudo-real ones
    (19 toys: a test at 5 %). The toys come from the simulation of the real sample itself
    (a parametric bootstrap), so that exchangeability, and the size, are approximate.

    Args:
        real: the real events.
        n_splits: random splits (split seeds ``seed .. seed + n_splits - 1``).
        n_toys: pseudo-real samples (0: no p-value); >= 200 for a threshold at 1 %.
        seed: first split seed; toy ``j`` is drawn with seed ``seed + 1_000_003 + j``.
        n_fast: simulated events per split for the Z-window fraction.

    Cost: ``n_splits * (1 + n_toys)`` cross-validated fits of ~0.7 s each on one core.
    """
    for label, value, low in (("n_splits", n_splits, 1), ("n_toys", n_toys, 0)):
        require_int(label, value, low=low)
    seeds = tuple(range(seed, seed + n_splits))
    observed = [_one_split(real, s, n_fast) for s in seeds]
    source = DimuonKDE.tuned(real, seed=seed)
    null = []
    for j in range(n_toys):
        pseudo = source.sample(real.n, seed=seed + 1_000_003 + j, name="pseudo_real")
        null.append(float(np.mean([_one_split(pseudo, s, 1)[0] for s in seeds])))
    stat = float(np.mean([o[0] for o in observed]))
    p = None if not null else (1 + sum(t >= stat for t in null)) / (1 + len(null))
    zs = [o[2] for o in observed]
    diff = float(np.mean([z.real - z.fast for z in zs]))
    sigma = float(np.sqrt(np.sum([z.sigma**2 for z in zs])) / len(zs))
    return SplitEnsemble(
        seeds, tuple(o[1] for o in observed), stat, tuple(null), p,
        tuple(z.pull for z in zs), diff, sigma,
    )  # fmt: skip
