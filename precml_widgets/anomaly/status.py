"""The status summary of a trigger operating point: what a view shows next to the plots.

:class:`StatusReport` gathers the numbers (threshold, rate with its interval or one-sided
limit, systematic, FPR, resolution) and the texts (target note or error, sample flag,
caveats, the full :meth:`~precml_widgets.anomaly.rates.RateResult.describe` line). Its
:meth:`StatusReport.lines` are plain text; :meth:`StatusReport.to_html` is the fragment that
the explorer's status pane shows, with machine-readable spans (``rate-khz``, ``threshold``
``data-value``, ``rate-upper-limit-khz`` ``data-value-hz``...) that browser tests and
scrapers read. Every value is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from precml_widgets.anomaly.formatting import NO_SYSTEMATIC, format_khz, kind_text, rate_caveat
from precml_widgets.anomaly.operating_point import OperatingPoint
from precml_widgets.anomaly.rates import RateResult

__all__ = ["StatusReport", "efficiency_rows"]

_CAVEAT_STYLE = "color:#8a5a00;font-size:0.9em"


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


@dataclass(frozen=True)
class StatusReport:
    """Everything the status pane says about one operating point.

    Attributes:
        score: name of the score cut on.
        rate: the :class:`RateResult` at the threshold (its threshold is the cut).
        mode: ``"target rate"`` or ``"threshold"``.
        target_rate_khz: the target rate in kHz (quoted in ``"target rate"`` mode).
        target_error: the core's message when the target cannot be resolved, else ``None``.
        systematic_hz: the rate's systematic ``(down, up)`` in Hz, or ``None``.
        systematic_label: the variants behind the systematic, in words.
        background_kind: ``"real data"``, ``"simulation"`` or ``"not stated"``.
        caveat: what the background sample is (may be empty).
        description: the full rate description (with the systematic or its absence).

    Example:
        >>> import numpy as np
        >>> from precml_widgets.anomaly.rates import ScoreSample, rate_at_threshold
        >>> r = rate_at_threshold(ScoreSample("toy", np.arange(100.0)), 89.5, input_rate_hz=1e6)
        >>> report = StatusReport("autoencoder", r, "threshold", 10.0, None, None, "",
        ...                       "simulation", "", r.describe())
        >>> report.lines()[1]
        'Trigger rate: 100.0000 kHz (68.27% CL Clopper–Pearson [69.6672, 139.6034] kHz)'
    """

    score: str
    rate: RateResult
    mode: str
    target_rate_khz: float
    target_error: str | None
    systematic_hz: tuple[float, float] | None
    systematic_label: str
    background_kind: str
    caveat: str
    description: str

    @property
    def cl_percent(self) -> str:
        """The confidence level as text, e.g. ``"68.27%"``."""
        return f"{100.0 * self.rate.fpr.cl:.4g}%"

    def notice(self) -> str | None:
        """The error about the target rate, or the note on how the target sets the cut."""
        t = self.rate.threshold
        if self.target_error is not None:
            return (
                f"⚠ The target rate of {self.target_rate_khz:g} kHz cannot be set: "
                f"{self.target_error} The threshold stays at {t:.6g}."
            )
        if self.mode == "target rate":
            return (
                f"Target rate {self.target_rate_khz:g} kHz → lowest threshold whose rate is at "
                f"most the target."
            )
        return None

    def rate_interval_text(self) -> str:
        """The bracket after the rate: the central interval, or the one-sided upper limit."""
        r = self.rate
        if r.n_pass > 0:
            return (
                f"{self.cl_percent} CL Clopper–Pearson [{format_khz(r.rate_lower_hz)}, "
                f"{format_khz(r.rate_upper_hz)}] kHz"
            )
        ul = r.upper_limit_rate_hz or 0.0
        return (
            f"no background event passes; {self.cl_percent} CL one-sided upper limit < "
            f"{format_khz(ul)} kHz"
        )

    def facts(self) -> list[tuple[str, str]]:
        """``(label, text)`` of the FPR, the smallest resolvable rate and the sample used."""
        r = self.rate
        return [
            (
                "FPR",
                f"{r.fpr.value:.3e} ({r.n_pass:,} of {r.n_total:,} background events pass) × "
                f"{r.input_rate_hz / 1e6:.4g} MHz input",
            ),
            (
                "Smallest resolvable rate",
                f"{format_khz(r.min_resolvable_fpr * r.input_rate_hz)} kHz "
                f"(FPR 1/N = {r.min_resolvable_fpr:.2e})",
            ),
            ("Measured on", f"{r.sample} ({self.background_kind})"),
        ]

    def lines(self) -> list[str]:
        """The status as plain-text lines, in the order the pane shows them."""
        r = self.rate
        out = [self.notice()] if self.notice() else []
        out.append(f"Cut: {self.score} score > {r.threshold:.6g}")
        out.append(f"Trigger rate: {format_khz(r.rate_hz)} kHz ({self.rate_interval_text()})")
        if self.systematic_hz is not None:
            down, up = self.systematic_hz
            out.append(
                f"Systematic ({self.systematic_label}): {format_khz(up)} / {format_khz(down)} kHz"
            )
        else:
            out.append(NO_SYSTEMATIC)
        out += [f"{label}: {text}" for label, text in self.facts()]
        out.append(rate_caveat(r.sample))
        if self.caveat:
            out.append(self.caveat)
        out.append(self.description)
        return out

    def to_html(self) -> str:
        """The status as an HTML fragment with the machine-readable spans.

        The rate appears as ``<span class="rate-khz">…</span> kHz`` (:func:`format_khz`), the
        threshold as ``<span class="threshold" data-value="<repr>">``; with no background
        event passing, the limit as ``<span class="rate-upper-limit-khz"
        data-value-hz="<repr in Hz>">``. Lines of class ``precml-error`` (target error),
        ``rate-systematic`` / ``rate-systematic-missing``, ``rate-caveat``,
        ``background-caveat`` and ``rate-describe`` carry the texts of :meth:`lines`.
        """
        r, t, cl = self.rate, self.rate.threshold, self.cl_percent
        parts = []
        if self.target_error is not None:
            parts.append(
                '<div class="precml-error" style="color:#a00;border:1px solid #a00;'
                f'padding:4px;margin-bottom:6px">{_esc(self.notice() or "")}</div>'
            )
        elif self.mode == "target rate":
            parts.append(f"<div>{_esc(self.notice() or '')}</div>")
        parts.append(
            f'<div><b>Cut:</b> {_esc(self.score)} score &gt; <span class="threshold" '
            f'data-value="{t!r}">{t:.6g}</span></div>'
        )
        rate = f'<span class="rate-khz">{format_khz(r.rate_hz)}</span> kHz'
        if r.n_pass > 0:
            bracket = (
                f'{cl} CL Clopper–Pearson [<span class="rate-lower-khz">'
                f'{format_khz(r.rate_lower_hz)}</span>, <span class="rate-upper-khz">'
                f"{format_khz(r.rate_upper_hz)}</span>] kHz"
            )
        else:
            ul = r.upper_limit_rate_hz or 0.0
            bracket = (
                f"no background event passes; {cl} CL one-sided upper limit &lt; "
                f'<span class="rate-upper-limit-khz" data-value-hz="{ul!r}">{format_khz(ul)}'
                f"</span> kHz"
            )
        parts.append(
            f'<div style="font-size:1.25em"><b>Trigger rate:</b> {rate} '
            f"<span style='font-size:0.8em'>({bracket})</span></div>"
        )
        if self.systematic_hz is not None:
            down, up = self.systematic_hz
            parts.append(
                f'<div class="rate-systematic"><b>Systematic</b> ({_esc(self.systematic_label)}'
                f'): <span class="rate-syst-up-khz">{format_khz(up)}</span> / '
                f'<span class="rate-syst-down-khz">{format_khz(down)}</span> kHz</div>'
            )
        else:
            parts.append(f'<div class="rate-systematic-missing">{NO_SYSTEMATIC}</div>')
        for label, text in self.facts():
            parts.append(f"<div><b>{label}:</b> {_esc(text)}</div>")
        parts.append(
            f'<div class="rate-caveat" style="{_CAVEAT_STYLE}">{_esc(rate_caveat(r.sample))}</div>'
        )
        if self.caveat:
            parts.append(
                f'<div class="background-caveat" style="{_CAVEAT_STYLE}">{_esc(self.caveat)}</div>'
            )
        parts.append(
            '<div class="rate-describe" style="color:#555;font-size:0.85em;margin-top:4px">'
            f"{_esc(self.description)}</div>"
        )
        return "\n".join(parts)


def efficiency_rows(
    point: OperatingPoint, signal_is_real: Mapping[str, bool | None]
) -> list[dict[str, Any]]:
    """One row per signal for the efficiency table, in percent.

    Args:
        point: the operating point.
        signal_is_real: signal key → the sample's real/simulated flag.

    Returns:
        Rows with ``signal``, ``data`` (real / simulation), ``events``, ``passing``,
        ``efficiency [%]`` and the Clopper–Pearson interval ``lower [%]``, ``upper [%]``.
    """
    rows = []
    for key, res in point.efficiencies.items():
        e = res.efficiency
        rows.append(
            {
                "signal": key,
                "data": kind_text(signal_is_real[key]),
                "events": e.n,
                "passing": e.k,
                "efficiency [%]": 100.0 * e.value,
                "lower [%]": 100.0 * e.lower,
                "upper [%]": 100.0 * e.upper,
            }
        )
    return rows
