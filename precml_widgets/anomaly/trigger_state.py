"""A score-threshold trigger at one setting: its rate, efficiencies, status and exports.

:class:`TriggerState` is a snapshot of what a view has selected (score, threshold, input
rate, confidence level, mode and target) on a :class:`~precml_widgets.anomaly.score_set.
ScoreSet`; each method computes one thing the view shows or exports, with the core
functions of :mod:`precml_widgets.anomaly.rates`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from precml_widgets._checks import require_choice
from precml_widgets._io import write_bytes
from precml_widgets.anomaly.exports import OperatingPointRecord, figure_png
from precml_widgets.anomaly.figures import add_caption, operating_point_figure
from precml_widgets.anomaly.formatting import NO_SYSTEMATIC, kind_text
from precml_widgets.anomaly.operating_point import OperatingPoint, operating_point
from precml_widgets.anomaly.rates import RateResult, rate_at_threshold
from precml_widgets.anomaly.score_set import ScoreSet
from precml_widgets.anomaly.status import StatusReport, efficiency_rows

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["EXPORT_KINDS", "TriggerState"]

#: The file types :meth:`TriggerState.export_bytes` writes.
EXPORT_KINDS = ("csv", "json", "png")


@dataclass(frozen=True)
class TriggerState:
    """The trigger ``score > threshold`` on the samples of a :class:`ScoreSet`.

    Attributes:
        scores: the samples.
        score: the score cut on (a name in ``scores.scores``).
        threshold: the cut.
        input_rate_hz: input rate in Hz of the stream the background represents.
        cl: confidence level of every Clopper-Pearson interval.
        mode: ``"target rate"`` or ``"threshold"`` (how the cut was set).
        target_rate_khz: the target rate in kHz (meaningful in ``"target rate"`` mode).
        target_error: why the target rate could not be set, else ``None``.

    Example:
        >>> import numpy as np
        >>> from precml_widgets.anomaly.scores import ScoreSample
        >>> data = ScoreSet(ScoreSample("b", np.arange(100.0)), {"A": ScoreSample("A", [95.0])})
        >>> state = TriggerState(data, "autoencoder", 89.5, 1e6, 0.6827)
        >>> state.rate().rate_hz, state.operating_point().efficiencies["A"].efficiency.value
        (100000.0, 1.0)
    """

    scores: ScoreSet
    score: str
    threshold: float
    input_rate_hz: float
    cl: float
    mode: str = "threshold"
    target_rate_khz: float = 10.0
    target_error: str | None = None

    def rate(self) -> RateResult:
        """The trigger rate at the cut (:func:`rate_at_threshold`)."""
        return rate_at_threshold(
            self.scores.background(self.score),
            self.threshold,
            input_rate_hz=self.input_rate_hz,
            cl=self.cl,
        )

    def operating_point(self) -> OperatingPoint:
        """Rate and every signal's efficiency at the cut (:func:`operating_point`)."""
        return operating_point(
            self.scores.background(self.score),
            self.scores.signals(self.score),
            self.threshold,
            input_rate_hz=self.input_rate_hz,
            cl=self.cl,
        )

    def rate_systematic_hz(self) -> tuple[float, float] | None:
        """:meth:`ScoreSet.rate_systematic_hz` at the cut (Hz), ``None`` without variants."""
        return self.scores.rate_systematic_hz(self.score, self.threshold, self.input_rate_hz)

    @property
    def systematic_label(self) -> str | None:
        """The background variants behind the systematic, in words (or ``None``)."""
        return self.scores.systematic_label(self.score)

    def rate_description(self) -> str:
        """:meth:`RateResult.describe` with the systematic, or a note that there is none."""
        syst = self.rate_systematic_hz()
        if syst is None:
            return f"{self.rate().describe()}; {NO_SYSTEMATIC}"
        return self.rate().describe(syst, self.systematic_label or "syst")

    def efficiency_rows(self) -> list[dict[str, Any]]:
        """Rows of the efficiency table (:func:`~precml_widgets.anomaly.status.efficiency_rows`)."""
        flags = {k: s.is_real for k, s in self.scores.signals(self.score).items()}
        return efficiency_rows(self.operating_point(), flags)

    def status_report(self) -> StatusReport:
        """The numbers and texts of the status pane."""
        return StatusReport(
            score=self.score,
            rate=self.rate(),
            mode=self.mode,
            target_rate_khz=self.target_rate_khz,
            target_error=self.target_error,
            systematic_hz=self.rate_systematic_hz(),
            systematic_label=self.systematic_label or "",
            background_kind=kind_text(self.scores.background(self.score).is_real),
            caveat=self.scores.caveat,
            description=self.rate_description(),
        )

    def export_record(self) -> OperatingPointRecord:
        """The operating point with its context, as the CSV / JSON exports write it."""
        return OperatingPointRecord(
            score=self.score,
            mode=self.mode,
            target_rate_hz=self.target_rate_khz * 1e3 if self.mode == "target rate" else None,
            point=self.operating_point(),
            systematic_hz=self.rate_systematic_hz(),
            description=self.rate_description(),
            caveat=self.scores.full_caveat(self.score),
            background_is_real=self.scores.background(self.score).is_real,
            signal_is_real={k: s.is_real for k, s in self.scores.signals(self.score).items()},
        )

    def figure(self, *, log: bool = True, dpi: int = 100) -> Figure:
        """Static figure of every signal at the cut, titled :meth:`rate_description`.

        :func:`~precml_widgets.anomaly.figures.operating_point_figure` (cached ROC curves and
        binning); the caption gives each sample's real/simulated flag and the caveats.
        """
        bkg, sigs = self.scores.background(self.score), self.scores.signals(self.score)
        fig = operating_point_figure(
            bkg,
            sigs,
            self.threshold,
            {k: self.scores.roc(self.score, k) for k in sigs},
            log=log,
            bins=self.scores.binning(self.score)[0],
            input_rate_hz=self.input_rate_hz,
            cl=self.cl,
            score_name=f"{self.score} score",
            title=self.rate_description(),
        )
        fig.set_dpi(dpi)
        flags = "; ".join(
            f"{label} = {kind_text(sample.is_real)}"
            for label, sample in (("background", bkg), *sigs.items())
        )
        add_caption(fig, f"Samples: {flags}. {self.scores.full_caveat(self.score)}")
        return fig

    def export_bytes(self, kind: str, *, log: bool = True, dpi: int = 120) -> bytes:
        """The export of kind ``"csv"``, ``"json"`` (:meth:`export_record`, see
        :class:`~precml_widgets.anomaly.exports.OperatingPointRecord` for the columns and
        keys) or ``"png"`` (:meth:`figure` at ``dpi``), as bytes."""
        kind = require_choice("kind", kind, EXPORT_KINDS, hint="pick the file type to export")
        if kind == "png":
            return figure_png(self.figure(log=log, dpi=dpi), dpi)
        record = self.export_record()
        return record.to_csv_bytes() if kind == "csv" else record.to_json_bytes()

    def save(
        self, kind: str, path: str | os.PathLike[str], *, log: bool = True, dpi: int = 120
    ) -> Path:
        """Write :meth:`export_bytes` of ``kind`` to ``path`` atomically; returns the path.

        Raises:
            InvalidInputError: ``path`` is a folder or its folder does not exist.
        """
        return write_bytes(path, self.export_bytes(kind, log=log, dpi=dpi))
