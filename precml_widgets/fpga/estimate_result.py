"""What an estimate returns, and the checks of it against a device and a trigger's budget.

:class:`ResourceEstimate` (resources, cycles, device fractions, measured error, 68 %
intervals and flags), :class:`BudgetCheck` and :func:`check_budget` (latency budget, one
event per bunch crossing), :func:`require_fits` (every resource within the part).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from precml_widgets._checks import require_real
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.devices import Device
from precml_widgets.fpga.resource_model import INTERVAL_LEVEL, LayerEstimate

__all__ = [
    "BudgetCheck",
    "ResourceEstimate",
    "ResourceOverflowError",
    "check_budget",
    "require_fits",
]


class ResourceOverflowError(InvalidInputError):
    """The estimated design needs more of a resource than the device has."""


@dataclass(frozen=True)
class ResourceEstimate:
    """Estimated resources and timing of a design, with its validity domain and measured error.

    Resources and cycles are model expectations (not rounded).

    Attributes:
        dsp, lut, ff, bram18k: resources of the whole design.
        latency_cycles, latency_ns: latency in clock cycles and in ns.
        ii_cycles: initiation interval in clock cycles (a new input every ``ii_cycles``).
        clock_ns: clock period in ns.
        device: the target :class:`Device`.
        backend: ``"Vitis"`` or ``"Vivado"``; io_type: ``"io_parallel"`` / ``"io_stream"``.
        fractions: ``{"dsp", "lut", "ff", "bram18k"}`` used / device total.
        fits: every fraction <= 1.
        extrapolations: why the input lies outside the calibration domain (empty inside).
        error: leave-one-component-out sMAPE of the calibration per quantity (``dsp``, ``lut``,
            ``ff``, ``bram18k``, ``latency``, ``ii``), e.g. 0.2 for 20 %, on the held-out
            rows of the backend's tool family whose true value is not 0. An average over
            designs, not this design's interval: see ``interval``.
        layers: per-layer breakdown.
        interval: per quantity, the nominal 68 % interval ``(lo, hi)`` of this estimate
            (``latency`` in cycles); widened by the measured pool of each structural flag
            kind (see ``interval_notes``), not by part/clock flags.
        interval_level: the nominal coverage of ``interval`` (0.68).
        output_softmax: how the output softmax was treated (appended, listed or none).
        interval_notes: which measured pools set ``interval`` (and which flags did not
            widen it, and why).
    """

    dsp: float
    lut: float
    ff: float
    bram18k: float
    latency_cycles: float
    latency_ns: float
    ii_cycles: float
    clock_ns: float
    device: Device
    backend: str
    io_type: str
    fractions: Mapping[str, float]
    fits: bool
    extrapolations: tuple[str, ...]
    error: Mapping[str, float]
    layers: tuple[LayerEstimate, ...]
    interval: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    interval_level: float = INTERVAL_LEVEL
    output_softmax: str = ""
    interval_notes: tuple[str, ...] = ()

    @property
    def ii_ns(self) -> float:
        """Initiation interval in ns."""
        return self.ii_cycles * self.clock_ns

    @property
    def latency_ns_interval(self) -> tuple[float, float]:
        """The latency interval in ns."""
        lo, hi = self.interval.get("latency", (self.latency_cycles, self.latency_cycles))
        return lo * self.clock_ns, hi * self.clock_ns

    def summary(self) -> str:
        """A few lines: each quantity with its 68 % interval, fractions, softmax and flags."""

        def iv(key: str, scale: float = 1.0) -> str:
            lo, hi = self.interval.get(key, (math.nan, math.nan))
            return f"[{lo * scale:,.0f}, {hi * scale:,.0f}]"

        level = f"{self.interval_level:.0%}"
        lines = [
            f"{self.device.part} @ {self.clock_ns:g} ns ({self.backend}, {self.io_type}); "
            f"{level} intervals:",
            f"  DSP   {self.dsp:10,.0f} {iv('dsp')}  ({self.fractions['dsp']:.1%})",
            f"  LUT   {self.lut:10,.0f} {iv('lut')}  ({self.fractions['lut']:.1%})",
            f"  FF    {self.ff:10,.0f} {iv('ff')}  ({self.fractions['ff']:.1%})",
            f"  BRAM  {self.bram18k:10,.0f} {iv('bram18k')}",
            f"  latency {self.latency_ns:,.0f} ns {iv('latency', self.clock_ns)} ns "
            f"({self.latency_cycles:.0f} cycles); II {self.ii_cycles:.0f} cycles {iv('ii')}",
            f"  output softmax: {self.output_softmax}",
        ]
        lines += [f"  outside calibration: {x}" for x in self.extrapolations]
        lines += [f"  interval: {x}" for x in self.interval_notes]
        return "\n".join(lines)


@dataclass(frozen=True)
class BudgetCheck:
    """Whether an estimate meets a trigger's latency budget and accepts every bunch crossing.

    Attributes:
        latency_ns, latency_budget_ns, latency_ok: estimated latency vs budget (ns).
        ii_ns, bunch_spacing_ns, ii_ok: time between accepted inputs vs bunch spacing (ns).
        ok: ``latency_ok`` and (``ii_ok`` if the interval is required).
    """

    latency_ns: float
    latency_budget_ns: float
    latency_ok: bool
    ii_ns: float
    bunch_spacing_ns: float
    ii_ok: bool
    ok: bool


def check_budget(
    est: ResourceEstimate,
    *,
    latency_budget_ns: float,
    bunch_spacing_ns: float = 25.0,
    require_ii: bool = True,
) -> BudgetCheck:
    """Compare an estimate with a trigger's latency budget and the bunch spacing.

    Args:
        est: an estimate.
        latency_budget_ns: allowed latency in ns.
        bunch_spacing_ns: time between collisions in ns (25 ns: the LHC's 40 MHz).
        require_ii: whether ``ok`` also needs a new input every bunch crossing
            (``II * clock <= bunch_spacing_ns``).

    Example:
        >>> from precml_widgets.fpga.estimator import estimate
        >>> from precml_widgets.fpga.layers import DenseLayer
        >>> est = estimate([DenseLayer(16, 64, reuse_factor=4)], clock_ns=5.0)
        >>> check_budget(est, latency_budget_ns=1000.0).ii_ok  # II = 4 cycles = 20 ns
        True
    """
    latency_budget_ns = require_real("latency_budget_ns", latency_budget_ns, low=0, low_open=True)
    bunch_spacing_ns = require_real("bunch_spacing_ns", bunch_spacing_ns, low=0, low_open=True)
    latency_ok = est.latency_ns <= latency_budget_ns
    ii_ok = est.ii_ns <= bunch_spacing_ns
    return BudgetCheck(
        est.latency_ns,
        float(latency_budget_ns),
        latency_ok,
        est.ii_ns,
        float(bunch_spacing_ns),
        ii_ok,
        latency_ok and (ii_ok or not require_ii),
    )


def require_fits(est: ResourceEstimate) -> ResourceEstimate:
    """Return ``est`` if it fits its device, else raise naming what overflows and by how much.

    Raises:
        ResourceOverflowError: listing each overflowing resource (needed, available, excess).
    """
    over = []
    for key, label in (("dsp", "DSP"), ("lut", "LUT"), ("ff", "FF"), ("bram18k", "BRAM_18K")):
        need, have = getattr(est, key), getattr(est.device, key)
        if need > have:
            excess = need - have
            over.append(
                f"{label} needs {need:,.0f} of {have:,} ({need / have:.0%}, {excess:,.0f} over)"
            )
    if over:
        raise ResourceOverflowError(
            f"the design does not fit {est.device.part} ({est.device.name}): {'; '.join(over)}. "
            "Raise the reuse factor, narrow or prune the weights (weights under 9 bits use no "
            "DSP), or choose a larger part."
        )
    return est
