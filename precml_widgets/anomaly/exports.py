"""Exports of a trigger operating point: CSV and JSON records and PNG figures, as bytes.

:class:`OperatingPointRecord` holds one operating point with everything that must travel with
its numbers (the rate's systematic, each sample's real/simulated flag, the caveat on what the
rate means) and turns it into CSV or JSON bytes; :func:`figure_png` renders a figure.
:meth:`~precml_widgets.anomaly.trigger_state.TriggerState.save` writes them atomically.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from precml_widgets.anomaly.operating_point import OperatingPoint

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "EXPORT_LIMIT_COLUMNS",
    "EXPORT_SYST_COLUMNS",
    "OperatingPointRecord",
    "figure_png",
]

#: Columns that the CSV / JSON exports add to :meth:`OperatingPoint.to_rows`: the one-sided
#: upper limits (at the chosen CL) on the background FPR and on the rate in Hz, filled on the
#: background row when no background event passes (``n_pass == 0``), empty / ``null``
#: otherwise. They are :attr:`RateResult.upper_limit_fpr` and
#: :attr:`RateResult.upper_limit_rate_hz`, the limit the status pane quotes. (``upper`` /
#: ``rate_upper_hz`` stay the end of the central Clopper-Pearson interval.)
EXPORT_LIMIT_COLUMNS = ("upper_limit_fpr", "upper_limit_rate_hz")
#: Export columns of the rate's systematic (background row; empty without variants).
EXPORT_SYST_COLUMNS = ("rate_syst_down_hz", "rate_syst_up_hz")


@dataclass(frozen=True)
class OperatingPointRecord:
    """One operating point with its context, ready to export.

    Attributes:
        score: name of the score cut on.
        mode: ``"target rate"`` or ``"threshold"``.
        target_rate_hz: the target rate in Hz in ``"target rate"`` mode, else ``None``.
        point: the :class:`OperatingPoint` (rate and every signal's efficiency).
        systematic_hz: the rate's systematic ``(down, up)`` in Hz, or ``None``.
        description: the rate description (with the systematic or its absence).
        caveat: what the rate is a rate of (the rate caveat and the sample caveat).
        background_is_real: the background's real/simulated flag (``None``: not stated).
        signal_is_real: signal key → that sample's real/simulated flag.
    """

    score: str
    mode: str
    target_rate_hz: float | None
    point: OperatingPoint
    systematic_hz: tuple[float, float] | None
    description: str
    caveat: str
    background_is_real: bool | None
    signal_is_real: dict[str, bool | None]

    def rows(self) -> list[dict[str, Any]]:
        """:meth:`OperatingPoint.to_rows` plus the :data:`EXPORT_LIMIT_COLUMNS`, the
        :data:`EXPORT_SYST_COLUMNS`, ``is_real`` and ``background_caveat``."""
        r, syst = self.point.rate, self.systematic_hz
        empty = dict.fromkeys(EXPORT_LIMIT_COLUMNS + EXPORT_SYST_COLUMNS)
        background = {
            "upper_limit_fpr": r.upper_limit_fpr,
            "upper_limit_rate_hz": r.upper_limit_rate_hz,
            "rate_syst_down_hz": None if syst is None else syst[0],
            "rate_syst_up_hz": None if syst is None else syst[1],
        }
        return [
            {
                **row,
                **(background if row["kind"] == "background" else empty),
                "is_real": (
                    self.background_is_real
                    if row["kind"] == "background"
                    else self.signal_is_real[row["key"]]
                ),
                "background_caveat": self.caveat,
            }
            for row in self.point.to_rows()
        ]

    def to_csv_bytes(self) -> bytes:
        """UTF-8 CSV: a header, the background row, one row per signal.

        Columns: ``score``, the keys of :meth:`OperatingPoint.to_rows` (rates in Hz, empty on
        signal rows), :data:`EXPORT_LIMIT_COLUMNS` (the one-sided upper limits at ``cl`` when
        no background event passes, empty otherwise), :data:`EXPORT_SYST_COLUMNS`,
        ``is_real`` (empty if not stated) and ``background_caveat``.
        """
        rows = self.rows()
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["score", *rows[0]], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {"score": self.score, **{k: "" if v is None else v for k, v in row.items()}}
            )
        return buffer.getvalue().encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: settings, :meth:`OperatingPoint.to_dict`, limits, caveat, rows.

        Keys: ``score``, ``mode``, ``target_rate_hz``, ``threshold``, ``input_rate_hz``,
        ``cl``, ``rate`` and ``efficiencies``, ``rate_hz``, ``upper_limit_rate_hz`` (Hz when
        no background event passes, else ``None``), ``rate_systematic_hz`` (``[down, up]`` or
        ``None``), ``rate_description``, ``background_caveat`` and ``rows`` (:meth:`rows`).
        """
        r = self.point.rate
        return {
            "score": self.score,
            "mode": self.mode,
            "target_rate_hz": self.target_rate_hz,
            "threshold": float(r.threshold),
            "input_rate_hz": float(r.input_rate_hz),
            "cl": float(r.fpr.cl),
            **self.point.to_dict(),
            "rate_hz": float(r.rate_hz),
            "upper_limit_rate_hz": r.upper_limit_rate_hz,
            "rate_systematic_hz": None if self.systematic_hz is None else list(self.systematic_hz),
            "rate_description": self.description,
            "background_caveat": self.caveat,
            "rows": self.rows(),
        }

    def to_json_bytes(self) -> bytes:
        """:meth:`to_dict` as UTF-8 JSON (indented, no NaN, trailing newline)."""
        return (json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n").encode("utf-8")


def figure_png(fig: Figure, dpi: int = 120) -> bytes:
    """``fig`` rendered as PNG bytes at ``dpi``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
