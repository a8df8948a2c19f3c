"""Classifier-based validation of a generator: held-out AUC and learned density ratio."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from precml_widgets._checks import require_int, require_real
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.stats.two_sample import as_events

__all__ = [
    "MIN_EVENTS_PER_HALF",
    "MIN_MAP_COUNT",
    "ClassifierCheck",
    "RatioMap",
    "classifier_check",
]

#: Fewest events of each sample that the training half and the held-out half must each hold.
MIN_EVENTS_PER_HALF = 20
#: Bins of :meth:`ClassifierCheck.ratio_map` with fewer generated events than this are NaN.
MIN_MAP_COUNT = 10
# D = P(reference | x) is clipped to [_CLIP, 1 - _CLIP], so w lies in [1e-6, 1e6].
_CLIP = 1e-6
# Share of the training half that the classifier holds out for early stopping.
_VALIDATION_FRACTION = 0.2
# Below this many training events the classifier runs on one OpenMP thread: for small
# samples thread start-up dominates, and on a busy machine many threads can be 10x slower.
_SMALL_TRAIN = 50_000


def _frozen(array: NDArray) -> NDArray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class RatioMap:
    """The learned density ratio binned in two features of the generated events.

    Attributes:
        edges_x: bin edges along feature ``dims[0]``, shape (bins + 1,).
        edges_y: bin edges along feature ``dims[1]``, shape (bins + 1,).
        mean_ratio: weighted mean of w(x) over the generated held-out events per bin,
            shape (bins, bins), indexed ``[ix, iy]``; NaN where ``counts < MIN_MAP_COUNT``.
            It estimates the reference-to-generated ratio of the probability in the bin:
            > 1 where the generator undershoots, < 1 where it overshoots.
        counts: generated held-out events per bin (unweighted), shape (bins, bins).
        dims: the two features projected on.
    """

    edges_x: NDArray[np.float64]
    edges_y: NDArray[np.float64]
    mean_ratio: NDArray[np.float64]
    counts: NDArray[np.int64]
    dims: tuple[int, int]


@dataclass(frozen=True, eq=False)
class ClassifierCheck:
    """The outcome of :func:`classifier_check` (which returns its arrays read-only).

    Attributes:
        auc: held-out ROC AUC of reference (positive) vs generated; 0.5 = indistinguishable.
        auc_error: standard error of ``auc`` under the null hypothesis, sqrt((n1 + n2 + 1)
            / (12 n1 n2)) (Hanley & McNeil) with n1, n2 the held-out sizes, or their Kish
            effective sizes (sum w)² / sum w² when the events are weighted.
        p_value: one-sided p-value of ``auc`` under "same distribution" (see
            :func:`classifier_check`).
        n_generated: generated events in the held-out half.
        n_reference: reference events in the held-out half.
        x_test: held-out events, generated first then reference, shape (n, d).
        is_reference: true for the reference events of ``x_test``, shape (n,).
        weight_test: per-event weights of ``x_test`` (1 when unweighted), shape (n,).
        ratio_test: learned w(x) = D / (1 - D), an estimate of p_ref(x) / p_gen(x), on
            ``x_test``, shape (n,).
        classifier: the fitted scikit-learn classifier (``None`` when built by hand); read it
            through :meth:`log_ratio`.
    """

    auc: float
    auc_error: float
    p_value: float
    n_generated: int
    n_reference: int
    x_test: NDArray[np.float64]
    is_reference: NDArray[np.bool_]
    weight_test: NDArray[np.float64]
    ratio_test: NDArray[np.float64]
    classifier: Any = field(default=None, compare=False, repr=False)

    def log_ratio(self, x: ArrayLike) -> NDArray[np.float64]:
        """The learned ``log w(x) = log D / (1 - D)`` on any events ``x`` (n, d): (n,).

        The same clipped D as ``ratio_test``, so ``log_ratio(x_test) == log(ratio_test)``.
        The classifier is a boosted tree ensemble: ``log w`` is piecewise constant, so its
        gradient is zero almost everywhere (explain it with SHAP, not with gradients).

        Raises:
            InvalidInputError: a check built without its classifier, or events with another
                number of features.
        """
        if self.classifier is None:
            raise InvalidInputError(
                "this ClassifierCheck holds no classifier (built by hand); run "
                "classifier_check(generated, reference) to get one with its fitted model."
            )
        events = as_events(x, "x")
        if events.shape[1] != self.x_test.shape[1]:
            raise InvalidInputError(
                f"x must have {self.x_test.shape[1]} features like the checked samples, got "
                f"shape {events.shape}."
            )
        proba = np.clip(self.classifier.predict_proba(events)[:, 1], _CLIP, 1.0 - _CLIP)
        return np.log(proba / (1.0 - proba))

    def describe(self) -> str:
        """A one-line human-readable summary.

        Returns:
            The AUC with its null standard error, the p-value and the held-out sizes.

        Example:
            >>> ClassifierCheck(0.512, 0.01, 0.12, 10, 9, *[np.zeros(0)] * 4).describe()
            'classifier check: AUC = 0.512 ± 0.01, p = 0.12 (held out: 10 generated, 9 reference)'
        """
        return (
            f"classifier check: AUC = {self.auc:.3f} ± {self.auc_error:.2g}, "
            f"p = {self.p_value:.3g} (held out: {self.n_generated} generated, "
            f"{self.n_reference} reference)"
        )

    def ratio_map(
        self,
        dims: tuple[int, int] = (0, 1),
        bins: int = 20,
        range_: tuple[tuple[float, float], tuple[float, float]] | None = None,
    ) -> RatioMap:
        """Bin the weighted mean of w(x) over the generated held-out events in two features.

        Since E_gen[w | bin] = P_ref(bin) / P_gen(bin), a perfect generator gives 1
        everywhere. Bins holding fewer than :data:`MIN_MAP_COUNT` generated events (or
        zero total weight) are NaN; events outside ``range_`` are ignored.

        Args:
            dims: the two (distinct) features to project on.
            bins: bins per axis (>= 1).
            range_: ``((x_lo, x_hi), (y_lo, y_hi))``; default the extent of all held-out
                events (generated and reference) in those features.

        Returns:
            A :class:`RatioMap`.

        Raises:
            InvalidInputError: the events have fewer than 2 features, ``dims`` are not two
                distinct feature indices, ``bins`` < 1, or ``range_`` is not finite and
                increasing.

        Example:
            >>> x = np.array([[0.1, 0.1]] * 10 + [[0.9, 0.9]] * 3)
            >>> check = ClassifierCheck(0.5, 0.1, 0.5, 13, 0, x, np.zeros(13, bool),
            ...                         np.ones(13), np.full(13, 2.0))
            >>> check.ratio_map(bins=2, range_=((0, 1), (0, 1))).mean_ratio
            array([[ 2., nan],
                   [nan, nan]])
        """
        d = self.x_test.shape[1]
        if d < 2:
            raise InvalidInputError(
                f"ratio_map needs events with at least 2 features, these have {d}; plot "
                "ratio_test against x_test[:, 0] instead."
            )
        if (
            not isinstance(dims, tuple | list)
            or len(dims) != 2
            or not all(isinstance(i, numbers.Integral) and 0 <= i < d for i in dims)
            or dims[0] == dims[1]
        ):
            raise InvalidInputError(
                f"dims must be two distinct feature indices in [0, {d}), got {dims!r}; "
                "e.g. dims=(0, 1)."
            )
        bins = require_int("bins", bins, low=1, hint="e.g. 20.")
        i, j = int(dims[0]), int(dims[1])
        if range_ is None:
            lo = self.x_test[:, [i, j]].min(axis=0)
            hi = self.x_test[:, [i, j]].max(axis=0)
            hi = np.where(hi > lo, hi, lo + 1.0)
            limits = [(lo[0], hi[0]), (lo[1], hi[1])]
        else:
            limits = np.asarray(range_, dtype=np.float64)
            if limits.shape != (2, 2) or not np.isfinite(limits).all():
                raise InvalidInputError(
                    f"range_ must be ((x_lo, x_hi), (y_lo, y_hi)) of finite numbers, got "
                    f"{range_!r}; e.g. range_=((-3, 3), (-3, 3))."
                )
            if not (limits[:, 1] > limits[:, 0]).all():
                raise InvalidInputError(
                    f"range_ must have lo < hi on both axes, got {range_!r}; swap the limits."
                )
        gen = ~self.is_reference
        px, py = self.x_test[gen, i], self.x_test[gen, j]
        w, r = self.weight_test[gen], self.ratio_test[gen]
        counts, edges_x, edges_y = np.histogram2d(px, py, bins=bins, range=limits)
        sum_w = np.histogram2d(px, py, bins=(edges_x, edges_y), weights=w)[0]
        sum_wr = np.histogram2d(px, py, bins=(edges_x, edges_y), weights=w * r)[0]
        good = (counts >= MIN_MAP_COUNT) & (sum_w > 0)
        mean = np.full(counts.shape, np.nan)
        mean[good] = sum_wr[good] / sum_w[good]
        return RatioMap(
            edges_x=_frozen(edges_x),
            edges_y=_frozen(edges_y),
            mean_ratio=_frozen(mean),
            counts=_frozen(counts.astype(np.int64)),
            dims=(i, j),
        )


def _as_weights(values: ArrayLike | None, n: int, name: str) -> NDArray[np.float64]:
    """Validate per-event weights: finite, >= 0, not all zero, one per event."""
    if values is None:
        return np.ones(n)
    weights = np.asarray(values, dtype=np.float64)
    if weights.shape != (n,):
        raise InvalidInputError(
            f"{name} must have shape ({n},), one weight per event, got shape {weights.shape}; "
            "pass a 1-D array as long as the events."
        )
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise InvalidInputError(
            f"{name} must be finite and >= 0, found {int(np.sum(~(weights >= 0)))} negative "
            "or non-finite weight(s); drop those events (negative NLO weights are not "
            "supported: resample them away first)."
        )
    if not weights.any():
        raise InvalidInputError(f"{name} are all zero; pass weights with a positive sum.")
    return weights


def _split(
    n: int, name: str, test_fraction: float, rng: np.random.Generator
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Random (train, test) index arrays of one sample, each with enough events."""
    n_test = round(test_fraction * n)
    if min(n_test, n - n_test) < MIN_EVENTS_PER_HALF:
        raise InvalidInputError(
            f"{name} has {n} events, which test_fraction={test_fraction} splits into "
            f"{n - n_test} training and {n_test} held-out events; each half needs at least "
            f"{MIN_EVENTS_PER_HALF}. Pass more events or a test_fraction closer to 0.5."
        )
    order = rng.permutation(n)
    return order[n_test:], order[:n_test]


def _kish(weights: NDArray[np.float64]) -> float:
    return float(weights.sum() ** 2 / np.sum(weights**2))


def classifier_check(
    generated: ArrayLike,
    reference: ArrayLike,
    *,
    generated_weights: ArrayLike | None = None,
    reference_weights: ArrayLike | None = None,
    test_fraction: float = 0.5,
    seed: int = 0,
    max_iter: int = 200,
) -> ClassifierCheck:
    """Train a classifier to tell reference from generated events; report AUC and w(x).

    Each sample is split at random into a training and a held-out half. A
    scikit-learn ``HistGradientBoostingClassifier`` (early stopping on 20 % of the
    training half) learns D(x) = P(reference | x) on the training half, with sample
    weights that give both classes the same total weight, so the prior odds are 1 and
    w(x) = D / (1 - D) estimates p_ref(x) / p_gen(x) (p_gen being the *weighted*
    generated density). D is clipped to [1e-6, 1 - 1e-6]. Everything reported is
    evaluated on the held-out half only.

    Because the classifier never saw the held-out events, under the null hypothesis
    (same distribution) their labels are exchangeable given the scores, so the AUC is a
    Mann-Whitney U / (n1 n2) with its textbook null distribution whatever the classifier
    learned. Without weights (or with constant weights per sample) the one-sided p-value
    is that of :func:`scipy.stats.mannwhitneyu` (normal approximation with tie and
    continuity corrections). With weights it is the normal tail P(Z > (auc - 0.5) /
    auc_error) using Kish effective sample sizes, an approximation that holds when the
    weights are not too spread out (check ``auc_error`` against toys if they are).

    Args:
        generated: generated events, shape (n_gen, d), or (n_gen,) for one feature.
        reference: reference (truth) events, shape (n_ref, d).
        generated_weights: per-event weights of ``generated`` (>= 0), shape (n_gen,).
        reference_weights: per-event weights of ``reference`` (>= 0), shape (n_ref,).
        test_fraction: share of each sample held out for the AUC and w(x), in (0, 1).
        seed: seed of the split and of the classifier.
        max_iter: most boosting iterations (>= 1).

    Returns:
        A :class:`ClassifierCheck`.

    Raises:
        InvalidInputError: the samples differ in their number of features, hold NaN/inf,
            a weight array has the wrong length or negative/non-finite/all-zero values,
            a half holds fewer than :data:`MIN_EVENTS_PER_HALF` events of a sample, or
            ``test_fraction``, ``seed`` or ``max_iter`` is out of range.
        MissingDependencyError: scikit-learn is not installed.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> same = classifier_check(rng.normal(size=(400, 2)), rng.normal(size=(400, 2)))
        >>> shifted = classifier_check(rng.normal(size=(400, 2)), rng.normal(1.0, size=(400, 2)))
        >>> bool(same.p_value > 0.01), bool(shifted.auc > 0.65), bool(shifted.p_value < 1e-6)
        (True, True, True)

    References:
        D. Lopez-Paz and M. Oquab, "Revisiting classifier two-sample tests", ICLR 2017,
        arXiv:1610.06545.
        J. A. Hanley and B. J. McNeil, "The meaning and use of the area under a receiver
        operating characteristic (ROC) curve", Radiology 143 (1982) 29.
        A. Andreassen and B. Nachman, "Neural networks for full phase-space reweighting and
        parameter tuning", Phys. Rev. D 101 (2020) 091901, arXiv:1907.08209.
        R. Das et al., "How to understand limitations of generative networks",
        SciPost Phys. 16 (2024) 031, arXiv:2305.16774.
    """
    gen = as_events(generated, "generated")
    ref = as_events(reference, "reference")
    if gen.shape[1] != ref.shape[1]:
        raise InvalidInputError(
            f"generated and reference must have the same number of features, got "
            f"generated with shape {gen.shape} and reference with shape {ref.shape}; select "
            "the same columns, in the same order, from both."
        )
    w_gen = _as_weights(generated_weights, gen.shape[0], "generated_weights")
    w_ref = _as_weights(reference_weights, ref.shape[0], "reference_weights")
    test_fraction = require_real(
        "test_fraction",
        test_fraction,
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
        unit="i.e. strictly between 0 and 1",
        hint="e.g. 0.5.",
    )
    seed = require_int("seed", seed, low=0, hint="e.g. 0.")
    max_iter = require_int("max_iter", max_iter, low=1, hint="e.g. 200.")

    ensemble = require("sklearn.ensemble", "flows", "the classifier check")
    metrics = require("sklearn.metrics", "flows", "the classifier check")
    threadpoolctl = require("threadpoolctl", "flows", "the classifier check")

    rng = np.random.default_rng(int(seed))
    gen_train, gen_test = _split(gen.shape[0], "generated", float(test_fraction), rng)
    ref_train, ref_test = _split(ref.shape[0], "reference", float(test_fraction), rng)
    for name, weights, train, test in (
        ("generated_weights", w_gen, gen_train, gen_test),
        ("reference_weights", w_ref, ref_train, ref_test),
    ):
        if not (weights[train].any() and weights[test].any()):
            raise InvalidInputError(
                f"{name}: the training or the held-out half has only zero-weight events; "
                "drop zero-weight events or pass more events."
            )

    # Balanced classes: each carries half the total training weight, so the prior odds are 1.
    n_train = len(gen_train) + len(ref_train)
    x_train = np.concatenate([gen[gen_train], ref[ref_train]])
    y_train = np.concatenate([np.zeros(len(gen_train)), np.ones(len(ref_train))])
    s_gen, s_ref = w_gen[gen_train], w_ref[ref_train]
    sample_weight = 0.5 * n_train * np.concatenate([s_gen / s_gen.sum(), s_ref / s_ref.sum()])
    model = ensemble.HistGradientBoostingClassifier(
        max_iter=int(max_iter),
        early_stopping=True,
        validation_fraction=_VALIDATION_FRACTION,
        random_state=int(seed),
    )
    x_test = np.concatenate([gen[gen_test], ref[ref_test]])
    is_reference = np.concatenate([np.zeros(len(gen_test), bool), np.ones(len(ref_test), bool)])
    weight_test = np.concatenate([w_gen[gen_test], w_ref[ref_test]])
    threads = 1 if n_train < _SMALL_TRAIN else None
    with threadpoolctl.threadpool_limits(limits=threads, user_api="openmp"):
        model.fit(x_train, y_train, sample_weight=sample_weight)
        proba = np.clip(model.predict_proba(x_test)[:, 1], _CLIP, 1.0 - _CLIP)
    ratio = proba / (1.0 - proba)

    auc = float(metrics.roc_auc_score(is_reference, proba, sample_weight=weight_test))
    test_gen, test_ref = weight_test[~is_reference], weight_test[is_reference]
    constant = np.ptp(test_gen) == 0 and np.ptp(test_ref) == 0
    n1 = float(len(test_ref)) if constant else _kish(test_ref)
    n2 = float(len(test_gen)) if constant else _kish(test_gen)
    auc_error = float(np.sqrt((n1 + n2 + 1.0) / (12.0 * n1 * n2)))
    if np.ptp(proba) == 0:  # all scores tie: U sits exactly at its null mean
        p_value = 1.0
    elif constant:
        p_value = float(
            stats.mannwhitneyu(
                proba[is_reference],
                proba[~is_reference],
                alternative="greater",
                method="asymptotic",
            ).pvalue
        )
    else:
        p_value = float(stats.norm.sf((auc - 0.5) / auc_error))
    return ClassifierCheck(
        auc=auc,
        auc_error=auc_error,
        p_value=p_value,
        n_generated=len(gen_test),
        n_reference=len(ref_test),
        x_test=_frozen(x_test),
        is_reference=_frozen(is_reference),
        weight_test=_frozen(weight_test),
        ratio_test=_frozen(ratio),
        classifier=model,
    )
