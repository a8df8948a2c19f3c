"""Per-event anomaly scores of one sample, sorted once for fast threshold queries."""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import numpy.typing as npt
from numpy.typing import ArrayLike

from precml_widgets._checks import require_instance, require_real
from precml_widgets.errors import InvalidInputError

__all__ = ["ScoreSample", "require_sample", "require_threshold"]


class ScoreSample:
    """The anomaly scores of one event sample, sorted once for O(log N) threshold queries.

    An event passes a threshold ``t`` when its score is strictly greater than ``t``.

    Args:
        name: human-readable sample name, e.g. ``"fast-sim dimuon background"``.
        scores: the per-event scores, shape ``(N,)``, finite; copied, not referenced.
        description: optional longer free text (provenance, selection...).
        is_real: ``True`` for recorded collision data, ``False`` for simulation,
            ``None`` when unknown.

    Raises:
        InvalidInputError: if ``name`` is empty, or ``scores`` is not 1-D, empty,
            not numeric, or contains NaN / ±inf.

    Example:
        >>> s = ScoreSample("toy background", [3.0, 1.0, 2.0, 2.0])
        >>> s.label
        'toy background (4 events)'
        >>> s.n_above(1.5), s.n_above(2.0), s.fraction_above(0.0)
        (3, 1, 1.0)
        >>> s.n_above(np.array([0.0, 2.0, 5.0])).tolist()
        [4, 1, 0]
    """

    __slots__ = ("_description", "_is_real", "_name", "_sorted")

    def __init__(
        self,
        name: str,
        scores: ArrayLike,
        *,
        description: str = "",
        is_real: bool | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(
                f"name must be a non-empty string naming the sample, got {name!r}; "
                f"e.g. ScoreSample('zero-bias 2024 run', scores)."
            )
        if not isinstance(description, str):
            raise InvalidInputError(
                f"description of sample '{name}' must be a string, got "
                f"{type(description).__name__}; pass free text or leave it out."
            )
        if is_real is not None and type(is_real) not in (bool, np.bool_):
            raise InvalidInputError(
                f"is_real of sample '{name}' must be True (recorded data), False (simulation) "
                f"or None (unknown), got {is_real!r}."
            )
        try:
            arr = np.array(scores, dtype=np.float64, copy=True)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"scores of sample '{name}' must be numeric, but converting them to float64 "
                f"failed ({exc}); pass a 1-D array of numbers."
            ) from exc
        if arr.ndim != 1:
            raise InvalidInputError(
                f"scores of sample '{name}' must be 1-D (one score per event), got shape "
                f"{arr.shape}; flatten them with np.ravel(scores) if that is what you mean."
            )
        if arr.size == 0:
            raise InvalidInputError(
                f"scores of sample '{name}' are empty; a rate or efficiency needs at least "
                f"one event, so check the file / selection that produced them."
            )
        bad = ~np.isfinite(arr)
        n_bad = int(np.count_nonzero(bad))
        if n_bad:
            n_nan = int(np.count_nonzero(np.isnan(arr)))
            raise InvalidInputError(
                f"scores of sample '{name}' contain {n_bad} non-finite value(s) of {arr.size} "
                f"({n_nan} NaN, {n_bad - n_nan} ±inf); fix the model output, or drop them "
                f"explicitly with scores[np.isfinite(scores)] and note the loss."
            )
        arr.sort(kind="stable")
        arr.setflags(write=False)
        self._name = name
        self._description = description
        self._is_real = None if is_real is None else bool(is_real)
        self._sorted = arr

    @property
    def name(self) -> str:
        """The sample name."""
        return self._name

    @property
    def description(self) -> str:
        """Free-text description of the sample (may be empty)."""
        return self._description

    @property
    def is_real(self) -> bool | None:
        """``True`` for recorded data, ``False`` for simulation, ``None`` if unknown."""
        return self._is_real

    @property
    def n(self) -> int:
        """Number of events N in the sample."""
        return int(self._sorted.size)

    def __len__(self) -> int:
        return self.n

    @property
    def sorted_scores(self) -> npt.NDArray[np.float64]:
        """The scores as float64, ascending, shape ``(N,)``; the array is read-only."""
        return self._sorted

    @property
    def min_resolvable_fpr(self) -> float:
        """Smallest non-zero fraction this sample can measure: ``1 / N``."""
        return 1.0 / self.n

    @property
    def label(self) -> str:
        """``"<name> (<N> events)"`` with thousands separators, for plots and reports."""
        unit = "event" if self.n == 1 else "events"
        return f"{self._name} ({self.n:,} {unit})"

    def __repr__(self) -> str:
        return (
            f"ScoreSample({self._name!r}, n={self.n}, is_real={self._is_real!r}, "
            f"min={self._sorted[0]:.6g}, max={self._sorted[-1]:.6g})"
        )

    @overload
    def n_above(self, threshold: float) -> int: ...

    @overload
    def n_above(self, threshold: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.int64]: ...

    def n_above(
        self, threshold: float | npt.NDArray[np.floating[Any]]
    ) -> int | npt.NDArray[np.int64]:
        """Number of events with score strictly greater than ``threshold``.

        Args:
            threshold: a score threshold, or an array of thresholds of any shape.
                NaN is rejected; ±inf are allowed.

        Returns:
            An ``int`` for a scalar threshold, else an int64 array of the same shape.

        Example:
            >>> ScoreSample("s", [0.0, 1.0, 1.0, 2.0]).n_above(1.0)
            1
        """
        t = np.asarray(threshold, dtype=np.float64)
        if np.isnan(t).any():
            raise InvalidInputError(
                f"threshold for sample '{self._name}' contains NaN; pass finite score "
                f"values (or ±inf)."
            )
        counts = self.n - np.searchsorted(self._sorted, t, side="right")
        if t.ndim == 0:
            return int(counts)
        return np.asarray(counts, dtype=np.int64)

    @overload
    def fraction_above(self, threshold: float) -> float: ...

    @overload
    def fraction_above(
        self, threshold: npt.NDArray[np.floating[Any]]
    ) -> npt.NDArray[np.float64]: ...

    def fraction_above(
        self, threshold: float | npt.NDArray[np.floating[Any]]
    ) -> float | npt.NDArray[np.float64]:
        """Fraction of events with score strictly greater than ``threshold``.

        Args:
            threshold: a score threshold, or an array of thresholds.

        Returns:
            A ``float`` in [0, 1] for a scalar threshold, else a float64 array.

        Example:
            >>> ScoreSample("s", [0.0, 1.0, 1.0, 2.0]).fraction_above(0.5)
            0.75
        """
        counts = self.n_above(threshold)
        if isinstance(counts, int):
            return counts / self.n
        return counts / float(self.n)


def require_sample(name: str, value: object) -> ScoreSample:
    """``value`` if it is a :class:`ScoreSample`, else an error that says how to make one.

    Example:
        >>> require_sample("background", ScoreSample("b", [1.0])).n
        1
    """
    return require_instance(
        name, value, ScoreSample, hint="wrap the scores with ScoreSample('sample name', scores)."
    )


def require_threshold(threshold: object) -> float:
    """A score threshold as a ``float``: any real number or ±inf, never NaN.

    Example:
        >>> require_threshold(float("inf"))
        inf
    """
    return require_real(
        "threshold",
        threshold,
        finite=False,
        hint="pass a finite score value, not NaN (or ±inf to let every / no event pass).",
    )
