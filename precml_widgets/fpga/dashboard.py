"""What the FPGA estimator dashboard computes, without Panel: settings, devices, cached estimates.

:class:`Dashboard` holds the networks, the emulated physics and the parts of one dashboard and
answers, for a :class:`Settings` (network, part, backend, strategy, width, reuse factor, clock,
budget), the estimator's layer stack, its :class:`~precml_widgets.fpga.estimator.ResourceEstimate`
(cached: a slider move is a dictionary look-up), the budget check and the reuse factors hls4ml
substitutes. The Panel view :class:`~precml_widgets.fpga.estimator_view.FPGAEstimator` only
turns its parameters into a :class:`Settings` and shows the answers.

Example:
    >>> from precml_widgets.fpga.models import jet_tagger
    >>> board = Dashboard({"tagger": jet_tagger()})
    >>> s = Settings(model="tagger", width=8, reuse_factor=4)
    >>> board.estimate(s).device.part  # the estimator's default part
    'xcvu13p'
    >>> board.estimate(s) is board.estimate(s)  # cached
    True
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from precml_widgets._checks import require_instance, require_int
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.defaults import (
    DEFAULT_BACKEND,
    DEFAULT_CLOCK_NS,
    DEFAULT_PART,
    DEFAULT_STRATEGY,
    hls4ml_strategy,
    normalize_strategy,
)
from precml_widgets.fpga.devices import DEVICES, Device
from precml_widgets.fpga.estimator import (
    BudgetCheck,
    ResourceEstimate,
    ResourceOverflowError,
    check_budget,
    estimate,
    load_calibration,
    require_fits,
)
from precml_widgets.fpga.layers import DenseLayer, Layer
from precml_widgets.fpga.reuse import valid_reuse_factors
from precml_widgets.fpga.stacks import estimator_stack, unmodelled_nodes

if TYPE_CHECKING:
    import torch

__all__ = [
    "BUNCH_SPACING_NS",
    "DEFAULT_DEVICE",
    "LATENCY_PRESETS",
    "RESOURCES",
    "REUSE_FACTORS",
    "SHARED_ESTIMATES",
    "Dashboard",
    "Settings",
    "calibration_facts",
    "calibration_label",
    "check_metrics",
    "device_label",
    "part_device",
]

#: Time between LHC bunch crossings in ns (40 MHz).
BUNCH_SPACING_NS = 25.0
#: Latency budgets offered as presets, ns: one Global-Trigger algorithm, the whole Phase-2 L1.
LATENCY_PRESETS: dict[str, float] = {
    "GT algorithm: 50 ns": 50.0,
    "Phase-2 L1: 12.5 µs": 12_500.0,
}
#: Reuse factors offered by the slider; a layer that cannot take one uses hls4ml's nearest.
REUSE_FACTORS = (1, 2, 3, 4, 5, 6, 8, 10, 16, 20, 32, 64, 128, 256)
#: ``(ResourceEstimate attribute, display label)`` of the four resources, in display order.
RESOURCES = (("dsp", "DSP"), ("lut", "LUT"), ("ff", "FF"), ("bram18k", "BRAM_18K"))
#: The part the dashboard opens on: :data:`precml_widgets.fpga.defaults.DEFAULT_PART`, the
#: estimator's and the converter's part (not a default of its own).
DEFAULT_DEVICE: str = DEFAULT_PART
#: Estimates kept before the shared cache is emptied.
CACHE_LIMIT = 4096
#: The estimates of every dashboard of this process, by (layer stack, part, backend, clock):
#: :func:`~precml_widgets.fpga.estimator.estimate` is a pure function of that key, so the
#: sessions of one server share what any of them computed (ten students on one slider: one
#: estimate each).
#: Read and written under a lock (sessions may run on Panel's thread pool, ``nthreads``).
SHARED_ESTIMATES: dict[tuple, ResourceEstimate] = {}
_ESTIMATES_LOCK = threading.Lock()

#: Physics per model name, per width W (bits), per metric name: ``{"jet tagger": {8: {...}}}``.
Metrics = Mapping[str, Mapping[int, Mapping[str, float]]]


@cache
def calibration_facts() -> dict[str, Any]:
    """What the shipped calibration (:func:`~precml_widgets.fpga.estimator.load_calibration`)
    says about itself.

    Returns:
        ``{"used": n, "total": n, "smape": {quantity: sMAPE}}``: the syntheses in the
        calibration domain, all syntheses of the table, and the leave-one-component-out sMAPE
        per quantity (0.2 = 20 %).
    """
    calib = load_calibration()
    used = sum(calib["domain"]["rows_per_family"].values())
    return {
        "used": used,
        "total": used + len(calib.get("out_of_domain", [])),
        "smape": dict(calib["cross_validation"]["smape"]),
    }


def calibration_label() -> str:
    """The one-line caveat the view prints above every estimate (from the calibration file).

    Example:
        >>> calibration_label().startswith("ESTIMATE (calibrated on 26 of 57 real syntheses")
        True
    """
    facts = calibration_facts()
    e = facts["smape"]
    errors = ", ".join(
        f"{label} ±{e[key]:.0%}"
        for key, label in (*RESOURCES, ("latency", "latency"), ("ii", "II"))
    )
    return (
        f"ESTIMATE (calibrated on {facts['used']} of {facts['total']} real syntheses; the "
        f"others lie outside its domain; leave-one-component-out error, all tool families: "
        f"{errors}; each resource line quotes its tool family's, the plot this design's 68 % "
        "interval, widened by flag kind) — not a synthesis."
    )


def check_metrics(metrics: Metrics | None, models: Sequence[str]) -> dict[str, dict[int, dict]]:
    """``metrics`` as plain, width-sorted dictionaries, or a clear error.

    Args:
        metrics: physics per model name, per width W, per metric (numbers; NaN allowed), or
            ``None`` for none.
        models: the dashboard's model names.

    Raises:
        InvalidInputError: not a mapping, an unknown model, a non-integer width or a value that
            is not a number.
    """
    out: dict[str, dict[int, dict[str, float]]] = {}
    if metrics is None:
        return out
    shape = "map model name -> width W -> {metric: value}"
    require_instance("metrics", metrics, Mapping, hint=f"{shape}.")
    for name, per_width in metrics.items():
        if name not in models:
            raise InvalidInputError(
                f"metrics has model {name!r}, which is not one of the models {list(models)}."
            )
        hint = f"metrics[{name!r}] must map integer widths to {{metric: value}}."
        require_instance(f"metrics[{name!r}]", per_width, Mapping, hint=hint)
        checked: dict[int, dict[str, float]] = {}
        for width, values in per_width.items():
            width = require_int(f"metrics[{name!r}] width", width, hint=hint)
            require_instance(f"metrics[{name!r}][{width}]", values, Mapping, hint=hint)
            try:
                checked[width] = {str(k): float(v) for k, v in values.items()}
            except (TypeError, ValueError):
                raise InvalidInputError(
                    f"metrics[{name!r}][{width}] must hold numbers, got {dict(values)!r:.120}."
                ) from None
        out[name] = dict(sorted(checked.items()))
    return out


def device_label(device: Device, custom: bool) -> str:
    """How a part is listed: ``"xcvu13p · Virtex UltraScale+ VU13P"``, or your own part with
    its totals."""
    if custom:
        return (
            f"{device.name} (own totals: {device.dsp:,} DSP, {device.lut:,} LUT, "
            f"{device.ff:,} FF, {device.bram18k:,} BRAM_18K)"
        )
    return f"{device.part} · {device.name}"


def part_device(name: str, part: str, family: str, totals: Mapping[str, int]) -> Device:
    """Your own part from a form's fields (blank name: ``"my board"``, blank part: ``"custom"``).

    Args:
        name, part, family: as typed; the part number is lower-cased.
        totals: ``{"dsp", "lut", "ff", "bram18k"}`` data-sheet totals.

    Raises:
        InvalidInputError: a total that is not positive (from :class:`Device`).
    """
    return Device(
        name.strip() or "my board",
        part.strip().lower() or "custom",
        family,
        **{key: int(totals.get(key) or 0) for key, _ in RESOURCES},
    )


@dataclass(frozen=True)
class Settings:
    """One position of the dashboard's knobs.

    Attributes:
        model: display name of the network.
        device: part key (catalogue part number or your own part's name).
        backend: ``"Vitis"`` or ``"Vivado"``; strategy: ``"Latency"`` or ``"Resource"``.
        width: total bits W of ``ap_fixed<W,I>``; reuse_factor: requested hls4ml ReuseFactor.
        clock_ns: clock period, ns; latency_budget_ns: latency allowed, ns.
        require_every_bunch: require II x clock <= 25 ns.
    """

    model: str
    device: str = DEFAULT_DEVICE
    backend: str = DEFAULT_BACKEND
    strategy: str = hls4ml_strategy(DEFAULT_STRATEGY)
    width: int = 16
    reuse_factor: int = 1
    clock_ns: float = DEFAULT_CLOCK_NS
    latency_budget_ns: float = 50.0
    require_every_bunch: bool = True


class Dashboard:
    """The networks, physics and parts of one dashboard, and their (cached) estimates.

    Args:
        models: display name -> traceable torch network.
        metrics: optional physics per model name, per width W (see :func:`check_metrics`).
        devices: your own parts, listed under their ``name`` beside
            :data:`~precml_widgets.fpga.devices.DEVICES`.

    Raises:
        InvalidInputError: no models, a model that cannot be traced into dense layers,
            malformed metrics or a device name clash.
    """

    def __init__(
        self,
        models: Mapping[str, torch.nn.Module],
        *,
        metrics: Metrics | None = None,
        devices: Sequence[Device] = (),
    ) -> None:
        if not isinstance(models, Mapping) or not models:
            raise InvalidInputError(
                "models must be a non-empty mapping of display name -> torch module."
            )
        self.models = {str(k): v for k, v in models.items()}
        for name, net in self.models.items():
            try:
                unmodelled_nodes(net)  # traces once: fails now, not on a slider move
            except InvalidInputError as exc:
                raise InvalidInputError(f"models[{name!r}]: {exc}") from None
        self.metrics = check_metrics(metrics, list(self.models))
        self.devices: dict[str, Device] = dict(DEVICES)
        self.custom: set[str] = set()
        self._estimates = SHARED_ESTIMATES  # read-only results, shared by every dashboard
        for device in devices:
            self.add_device(device)

    def add_device(self, device: Device) -> str:
        """List your own part under its ``name``; returns that key.

        Raises:
            InvalidInputError: not a Device, or its name is taken by another part.
        """
        require_instance(
            "devices",
            device,
            Device,
            hint="devices must be Device objects, e.g. Device('my board', 'xcvu13p', "
            "'UltraScale+', dsp=..., lut=..., ff=..., bram18k=...).",
        )
        key = device.name
        if key in self.devices and self.devices[key] != device:
            raise InvalidInputError(
                f"a part named {key!r} is already listed ({self.devices[key]}); give yours "
                "another name."
            )
        self.devices[key] = device
        self.custom.add(key)
        return key

    def listed(self, what: str, value: str) -> str:
        """``value`` if it is one of the ``what`` s (``"model"`` or ``"device"``) listed.

        Raises:
            InvalidInputError: it is not, with the list.
        """
        choices = self.models if what == "model" else self.devices
        if value not in choices:
            raise InvalidInputError(
                f"{what}={value!r} is not one of the available {what}s: {list(choices)}."
            )
        return value

    def device_choices(self) -> dict[str, str]:
        """``{label: key}`` of every listed part (see :func:`device_label`)."""
        return {device_label(d, key in self.custom): key for key, d in self.devices.items()}

    def warm_up(self, width: int, backends: Sequence[str]) -> None:
        """Fill hls4ml's reuse-factor tables of every dense layer (the first slider move is
        then as fast as the others)."""
        for net in self.models.values():
            for layer in estimator_stack(net, width=width, invalid_reuse="nearest"):
                if isinstance(layer, DenseLayer):
                    for backend in backends:
                        valid_reuse_factors(layer.n_in, layer.n_out, backend)

    def stack(self, s: Settings) -> tuple[Layer, ...]:
        """The estimator's layers of ``s.model`` (invalid reuse factors: hls4ml's nearest)."""
        return estimator_stack(
            self.models[s.model],
            width=s.width,
            reuse_factor=s.reuse_factor,
            strategy=normalize_strategy(s.strategy),
            backend=s.backend,
            invalid_reuse="nearest",
        )

    def estimate(self, s: Settings) -> ResourceEstimate:
        """:func:`~precml_widgets.fpga.estimator.estimate` of :meth:`stack` (cached)."""
        stack, device = self.stack(s), self.devices[s.device]
        key = (stack, device, s.backend, float(s.clock_ns))
        with _ESTIMATES_LOCK:
            est = self._estimates.get(key)
        if est is None:  # computed outside the lock: other sessions' look-ups do not wait
            est = estimate(stack, device=device, clock_ns=float(s.clock_ns), backend=s.backend)
            with _ESTIMATES_LOCK:
                if len(self._estimates) >= CACHE_LIMIT:
                    self._estimates.clear()
                est = self._estimates.setdefault(key, est)  # a concurrent twin: keep the first
        return est

    def budget(self, s: Settings) -> BudgetCheck:
        """:func:`~precml_widgets.fpga.estimator.check_budget` of :meth:`estimate`."""
        return check_budget(
            self.estimate(s),
            latency_budget_ns=float(s.latency_budget_ns),
            bunch_spacing_ns=BUNCH_SPACING_NS,
            require_ii=s.require_every_bunch,
        )

    def reuse_substitutions(self, s: Settings) -> dict[str, tuple[int, int, int]]:
        """``{layer: (n_in, n_out, reuse factor used)}`` where it differs from the requested."""
        return {
            layer.name: (layer.n_in, layer.n_out, layer.reuse_factor)
            for layer in self.stack(s)
            if isinstance(layer, DenseLayer) and layer.reuse_factor != s.reuse_factor
        }

    def physics(self, model: str, width: int) -> dict[str, float] | None:
        """The emulated metrics of ``model`` at ``width``, or ``None``."""
        values = self.metrics.get(model, {}).get(width)
        return None if values is None else dict(values)

    def unmodelled(self, model: str) -> list[tuple[str, str]]:
        """``(node, kind)`` of what the estimate leaves out of ``model`` (activations...)."""
        return unmodelled_nodes(self.models[model])

    @staticmethod
    def overflow(est: ResourceEstimate) -> str | None:
        """Why ``est`` does not fit its part (``"DSP needs ..."``), or ``None`` if it fits."""
        try:
            require_fits(est)
        except ResourceOverflowError as exc:
            return str(exc)
        return None

    def summary(self, s: Settings) -> str:
        """Plain-text summary: settings, :meth:`ResourceEstimate.summary`, budget, physics."""
        est, check = self.estimate(s), self.budget(s)
        lines = [
            f"{s.model}: ap_fixed<{s.width},I>, reuse factor {s.reuse_factor}, "
            f"{s.strategy} strategy",
            est.summary(),
            f"  fits {est.device.part}: {'yes' if est.fits else 'NO'}",
            f"  latency {est.latency_ns:,.1f} ns vs budget {check.latency_budget_ns:,.1f} ns: "
            f"{'ok' if check.latency_ok else 'OVER'}",
            f"  II {est.ii_ns:,.1f} ns vs {BUNCH_SPACING_NS:g} ns bunch spacing: "
            f"{'ok' if check.ii_ok else 'too slow'}"
            f"{'' if s.require_every_bunch else ' (not required)'}",
        ]
        lines += [
            f"  reuse factor {s.reuse_factor} invalid for {name} ({a}x{b}): hls4ml uses {rf}"
            for name, (a, b, rf) in self.reuse_substitutions(s).items()
        ]
        values = self.physics(s.model, s.width)
        if values is None:
            lines.append(f"  physics: no emulation result for W={s.width}")
        else:
            lines += [f"  {k} at W={s.width}: {v:.6g}" for k, v in values.items()]
        return "\n".join(lines)
