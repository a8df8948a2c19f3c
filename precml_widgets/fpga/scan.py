"""Precision scans: the physics of a deployed network as a function of its fixed-point width.

Each width W is one firmware: every tensor becomes ``ap_fixed<W, I>`` with its integer bits I
from profiled ranges (:func:`precml_widgets.fpga.convert.profiled_precisions`). The points run
as tasks of :func:`precml_widgets.parallel.run_ensemble` (a Dask ``LocalCluster`` by default),
and each one's emulation result is cached.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from precml_widgets._checks import require_int
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.convert import DeployConfig, profile_ranges, profiled_precisions
from precml_widgets.fpga.emulate import EmulationResult, emulate
from precml_widgets.parallel import run_ensemble

if TYPE_CHECKING:
    import distributed
    import torch

__all__ = [
    "PrecisionScan",
    "TriggerAgreement",
    "precision_scan",
    "trigger_agreement",
    "width_config",
]


def width_config(
    ranges: Mapping[str, Mapping[str, float]],
    width: int,
    base: DeployConfig | None = None,
    *,
    margin_bits: int = 1,
) -> DeployConfig:
    """``base`` with every tensor typed ``ap_fixed<width, I_profiled>``."""
    base = base or DeployConfig()
    return dataclasses.replace(
        base,
        precision=f"ap_fixed<{width},{min(width, 6)}>",
        layer_precision=profiled_precisions(ranges, width, margin_bits=margin_bits),
    )


@dataclass(frozen=True)
class PrecisionScan:
    """Emulation results per fixed-point width.

    Attributes:
        widths: the scanned widths W in bits.
        configs: the deployment configuration of each width.
        results: the emulation result of each width (same order).
        ranges: the profiled ranges that set the integer bits.
    """

    widths: tuple[int, ...]
    configs: tuple[DeployConfig, ...]
    results: tuple[EmulationResult, ...]
    ranges: dict[str, dict[str, float]]

    def __getitem__(self, width: int) -> EmulationResult:
        if width not in self.widths:
            raise InvalidInputError(f"width {width} was not scanned; scanned: {self.widths}")
        return self.results[self.widths.index(width)]


def _scan_point(
    width: int,
    *,
    model: torch.nn.Module,
    x: np.ndarray,
    configs: Mapping[int, DeployConfig],
    cache: bool,
    cache_folder: str | None,
    threads: int,
) -> EmulationResult:
    return emulate(
        model, x, configs[width], cache=cache, cache_folder=cache_folder, threads=threads
    )


def precision_scan(
    model: torch.nn.Module,
    x: np.ndarray,
    widths: Sequence[int] = (6, 8, 10, 12, 14, 16, 18),
    *,
    base: DeployConfig | None = None,
    profile_x: np.ndarray | None = None,
    margin_bits: int = 1,
    cache: bool = True,
    cache_folder: str | os.PathLike[str] | None = None,
    scheduler: str | distributed.Client | None = None,
    n_workers: int | None = None,
    serial: bool = False,
    progress: bool = True,
) -> PrecisionScan:
    """Emulate ``model`` on ``x`` at each width (one firmware compile per uncached width).

    Args:
        model: torch model to deploy.
        x: events, ``(n, n_features)`` float.
        widths: total bits W to scan (2-64).
        base: backend, strategy, reuse factor... shared by all points.
        profile_x: events that set the integer bits (default: ``x``).
        margin_bits: extra integer bits over the profiled range.
        cache: read/write the emulation cache.
        cache_folder: cache location (default ``$PRECML_CACHE/emulation``).
        scheduler: Dask scheduler address or client (default: a local cluster).
        n_workers: local cluster workers (default 2).
        serial: run in this process without Dask (debugging).
        progress: tqdm progress bar.
    """
    hint = f"widths must be a sequence of integers, e.g. (8, 16), got {widths!r}"
    if isinstance(widths, str):
        raise InvalidInputError(hint)
    widths = tuple(require_int("each width", w, hint=hint) for w in widths)
    if not widths or len(set(widths)) != len(widths):
        raise InvalidInputError(f"widths must be distinct integers, got {widths}")
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    ranges = profile_ranges(model, arr if profile_x is None else np.asarray(profile_x))
    configs = {w: width_config(ranges, w, base, margin_bits=margin_bits) for w in widths}
    task = functools.partial(
        _scan_point,
        model=model.eval(),
        x=arr,
        configs=configs,
        cache=cache,
        cache_folder=None if cache_folder is None else os.fspath(cache_folder),
        threads=1 if not serial else len(os.sched_getaffinity(0)),
    )
    results = run_ensemble(
        task,
        list(widths),
        scheduler=scheduler,
        n_workers=n_workers,
        serial=serial,
        progress=progress,
        description="precision scan",
    )
    return PrecisionScan(widths, tuple(configs[w] for w in widths), tuple(results), ranges)


@dataclass(frozen=True)
class TriggerAgreement:
    """A score trigger's physics with float and with firmware scores, each at its own threshold.

    Attributes:
        target_rate_hz: the rate both thresholds are set for.
        threshold: ``{"float": t, "firmware": t}``.
        rate_hz: the background rate each threshold gives.
        efficiency: ``{"float"|"firmware": {signal: efficiency}}``.
        auc: ``{"float"|"firmware": {signal: area under the ROC curve}}``.
        decision_agreement: fraction of all events with the same accept/reject decision.
    """

    target_rate_hz: float
    threshold: dict[str, float]
    rate_hz: dict[str, float]
    efficiency: dict[str, dict[str, float]]
    auc: dict[str, dict[str, float]]
    decision_agreement: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return dataclasses.asdict(self)


def trigger_agreement(
    scores: Mapping[str, Mapping[str, np.ndarray]],
    *,
    background: str,
    target_rate_hz: float,
    input_rate_hz: float,
) -> TriggerAgreement:
    """Thresholds, rates and efficiencies of float and firmware scores at one target rate.

    Args:
        scores: ``{"float"|"firmware": {sample: scores (n,)}}``, the same samples in both.
        background: the sample that sets the rate.
        target_rate_hz: trigger rate to set each threshold for (Hz).
        input_rate_hz: rate of the background stream (Hz).
    """
    from precml_widgets.anomaly.rates import (
        ScoreSample,
        rate_at_threshold,
        roc_curve,
        threshold_for_rate,
    )

    if set(scores) != {"float", "firmware"}:
        raise InvalidInputError(f"scores needs keys 'float' and 'firmware', got {sorted(scores)}")
    threshold, rate, efficiency, auc = {}, {}, {}, {}
    decisions = {}
    for kind, samples in scores.items():
        if background not in samples:
            raise InvalidInputError(f"background sample {background!r} missing from {kind!r}")
        bg = ScoreSample(f"{background} ({kind})", np.ravel(samples[background]))
        t = threshold_for_rate(bg, target_rate_hz, input_rate_hz=input_rate_hz)
        threshold[kind] = float(t)
        rate[kind] = rate_at_threshold(bg, t, input_rate_hz=input_rate_hz).rate_hz
        efficiency[kind] = {
            name: float(np.mean(np.ravel(s) > t))
            for name, s in samples.items()
            if name != background
        }
        auc[kind] = {
            name: float(roc_curve(bg, ScoreSample(f"{name} ({kind})", np.ravel(s))).auc)
            for name, s in samples.items()
            if name != background
        }
        decisions[kind] = np.concatenate([np.ravel(samples[n]) > t for n in sorted(samples)])
    agree = float(np.mean(decisions["float"] == decisions["firmware"]))
    return TriggerAgreement(float(target_rate_hz), threshold, rate, efficiency, auc, agree)
