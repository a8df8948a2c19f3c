"""The FPGA estimator dashboard's words: Markdown for the fit, resources, timing, caveats, physics.

Pure strings, no Panel: each function turns the core's numbers
(:class:`~precml_widgets.fpga.estimator.ResourceEstimate`,
:class:`~precml_widgets.fpga.estimator.BudgetCheck`, emulated metrics) into Markdown that a
``pn.pane.Markdown`` shows. Numbers a page or a test must find carry a class and, where the
display rounds, the exact value, with the Markdown attribute syntax of
``mdit_py_plugins.attrs`` (enable it with :func:`attrs_markup`)::

    [1,234]{.precml-dsp data-value="1234.06"}

renders as ``<span class="precml-dsp" data-value="1234.06">1,234</span>``; a line
``{.precml-extrapolations role=alert}`` gives the block below it that class. Colours and boxes
come from the stylesheet :data:`REPORT_CSS` (red: does not fit / over a budget). The whole
report is one string (:func:`report_text`): one pane update per slider move.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from precml_widgets.fpga.dashboard import BUNCH_SPACING_NS, RESOURCES, Settings
from precml_widgets.fpga.estimator import BudgetCheck, ResourceEstimate
from precml_widgets.fpga.layers import DenseLayer, Layer, MergeLayer
from precml_widgets.fpga.stacks import is_activation

__all__ = [
    "BLUE",
    "GREEN",
    "GREY",
    "RED",
    "REPORT_CSS",
    "attrs_markup",
    "extrapolations_text",
    "layers_text",
    "md_escape",
    "ns_text",
    "physics_text",
    "report_text",
    "resources_text",
    "reuse_text",
    "status_text",
    "timing_text",
    "unmodelled_text",
]

RED, GREEN, BLUE, GREY = "#b00020", "#1b7f3b", "#1f77b4", "#888888"
#: Stylesheet of the report panes: green fits / meets, red does not / over, grey not required.
REPORT_CSS = f"""
.precml-budget {{ font-weight: 700; font-size: 1.2em; }}
.precml-fit {{ font-weight: 700; }}
.fits, .ok {{ color: {GREEN}; }}
.no-fit, .fail, .over {{ color: {RED}; }}
.not-required {{ color: {GREY}; }}
.precml-settings, .precml-unmodelled {{ color: #555; }}
.precml-extrapolations {{ background: #fff3cd; border: 1px solid #d39e00; color: #664d03;
  padding: 2px 8px; margin: 4px 0; }}
.precml-reuse-note {{ background: #e8f1fb; border: 1px solid {BLUE}; padding: 4px 8px; }}
"""
_LAYER_MESSAGE = re.compile(r"^layer (\S+): (.*)$")
_ESCAPE = str.maketrans({c: "\\" + c for c in "\\`*[]{}<>|"})


def attrs_markup(md: Any) -> None:
    """markdown-it plugin: ``[text]{.class key="value"}`` spans and ``{.class}`` lines before a
    block (``mdit_py_plugins.attrs``); pass it in a Markdown pane's ``plugins``."""
    from mdit_py_plugins.attrs import attrs_block_plugin, attrs_plugin

    attrs_plugin(md, spans=True)
    attrs_block_plugin(md)


def md_escape(text: str) -> str:
    """``text`` with the Markdown characters that would change its meaning escaped.

    Example:
        >>> md_escape("a*b [c]")
        'a\\\\*b \\\\[c\\\\]'
    """
    return str(text).translate(_ESCAPE)


def ns_text(value: float) -> str:
    """A duration in ns as ``"50 ns"`` or ``"12.5 µs"``."""
    return f"{value / 1e3:g} µs" if value >= 1e3 else f"{value:g} ns"


def status_text(
    s: Settings, est: ResourceEstimate, check: BudgetCheck, overflow: str | None
) -> str:
    """One labelled status: the overall verdict first, then one row per requirement.

    The headline says whether the firmware meets the trigger budget (and, if not, why); the
    rows below it say, each under its own label, whether the resources fit the part, whether
    the latency is within its budget and whether the II takes an event every bunch crossing,
    so a green "fits" row under a red headline reads as one part of one answer. The settings
    line closes the block.
    """
    part = f"{md_escape(est.device.part)} ({md_escape(est.device.name)})"
    if overflow is not None:
        fit = f"[✘ DOES NOT FIT]{{.precml-fit .no-fit}} {part}: [{md_escape(overflow)}]{{.no-fit}}"
    else:
        fit = f"[✔ Fits {part}]{{.precml-fit .fits}}"
    budget, lat, ii_ns = ns_text(check.latency_budget_ns), est.latency_ns, est.ii_ns
    if check.latency_ok:
        latency = f"[✔ {lat:,.1f} ns, within the {budget} budget]{{.precml-latency-status .ok}}"
    else:
        latency = f"[✘ {lat:,.1f} ns, over the {budget} budget]{{.precml-latency-status .fail}}"
    spacing = f"II {ii_ns:,.1f} ns vs {BUNCH_SPACING_NS:g} ns"
    if check.ii_ok:
        ii = f"[✔ yes ({spacing})]{{.precml-ii-status .ok}}"
    elif s.require_every_bunch:
        ii = f"[✘ no ({spacing})]{{.precml-ii-status .fail}}"
    else:
        ii = f"[– no ({spacing}; not required)]{{.precml-ii-status .not-required}}"
    problems = []
    if not check.latency_ok:
        problems.append(f"latency over the {budget} budget")
    if not check.ii_ok and s.require_every_bunch:
        problems.append("cannot take an event every bunch crossing")
    if check.ok and est.fits:
        verdict = "[✔ Meets the trigger budget.]{.precml-budget .ok}"
    else:
        why = "; ".join(problems) or "does not fit the part"
        verdict = f"[✘ Fails the trigger: {why}.]{{.precml-budget .fail}}"
    settings = (
        f"{md_escape(s.model)} · `ap_fixed<{s.width},I>` · reuse factor {s.reuse_factor} · "
        f"{s.strategy} · {s.backend} HLS · {est.clock_ns:g} ns clock "
        f"({1e3 / est.clock_ns:,.0f} MHz) · {md_escape(est.device.part)}"
    )
    rows = f"- **Resources:** {fit}\n- **Latency:** {latency}\n- **Every bunch crossing:** {ii}"
    return f"{verdict}\n\n{rows}\n\n[{settings}]{{.precml-settings}}"


def resources_text(est: ResourceEstimate) -> str:
    """Each resource: estimate ± measured error of the part's total, share, 68 % interval."""
    lines = ["**Resources** (share of the part; ± measured error)", ""]
    for key, label in RESOURCES:
        value, total, frac = getattr(est, key), getattr(est.device, key), est.fractions[key]
        lo, hi = est.interval.get(key, (value, value))
        share = f"[({frac:.1%} — over the total)]{{.over}}" if frac > 1.0 else f"({frac:.1%})"
        lines.append(
            f'- **{label}** [{value:,.0f}]{{.precml-{key} data-value="{value!r}"}} '
            f"± {est.error.get(key, 0.0):.0%} of [{total:,}]{{.precml-{key}-total}} {share}; "
            f"[{est.interval_level:.0%}: {lo:,.0f}–{hi:,.0f}]{{.precml-{key}-interval}}"
        )
    return "\n".join(lines)


def timing_text(est: ResourceEstimate, check: BudgetCheck, require_every_bunch: bool) -> str:
    """Latency against the budget and II against the bunch spacing, with their shares."""
    e = est.error
    lat_flag = "" if check.latency_ok else " .over"
    if check.ii_ok:
        ii_flag, ii_note = "", ""
    elif require_every_bunch:
        ii_flag, ii_note = " .over", ""
    else:
        ii_flag, ii_note = " .not-required", " (not required)"
    latency = (
        f'[{est.latency_ns:,.1f}]{{.precml-latency-ns data-value="{est.latency_ns!r}"}} ns '
        f"({est.latency_cycles:,.1f} cycles) ± {e.get('latency', 0.0):.0%} / budget "
        f"[{check.latency_budget_ns:,.1f}]{{.precml-budget-ns}} ns "
        f"[({est.latency_ns / check.latency_budget_ns:.0%} of the budget)]{{.latency{lat_flag}}}"
    )
    ii = (
        f'[{est.ii_ns:,.1f}]{{.precml-ii-ns data-value="{est.ii_ns!r}"}} ns '
        f"({est.ii_cycles:,.1f} cycles) ± {e.get('ii', 0.0):.0%} / bunch spacing "
        f"{BUNCH_SPACING_NS:g} ns [({est.ii_ns / BUNCH_SPACING_NS:.0%} of it){ii_note}]"
        f"{{.ii{ii_flag}}}"
    )
    return f"**Timing**\n\n- **Latency** {latency}\n- **II** {ii}"


def extrapolations_text(extrapolations: Sequence[str]) -> str:
    """Why the estimate is outside the calibration, per reason the layers it concerns (``""``
    when inside)."""
    if not extrapolations:
        return ""
    grouped: dict[str, list[str]] = {}
    for message in extrapolations:
        match = _LAYER_MESSAGE.match(message)
        reason, layer = (match[2], match[1]) if match else (message, "")
        grouped.setdefault(reason, [])
        if layer:
            grouped[reason].append(layer)
    items = "".join(
        f"\n> - {md_escape(reason)}{' — layers ' + md_escape(', '.join(ls)) if ls else ''}"
        for reason, ls in grouped.items()
    )
    return (
        "{.precml-extrapolations role=alert}\n> ⚠ **Outside the calibration** (the measured "
        "error above does not apply):\n>" + items
    )


def reuse_text(requested: int, substitutions: Mapping[str, tuple[int, int, int]]) -> str:
    """The layers whose reuse factor hls4ml replaces by its nearest valid one (``""``: none)."""
    if not substitutions:
        return ""
    items = ", ".join(
        f"**{md_escape(name)}** ({a}×{b}) uses {rf}" for name, (a, b, rf) in substitutions.items()
    )
    return (
        f"{{.precml-reuse-note}}\nReuse factor {requested} is not valid for every layer; as "
        f"hls4ml does, the nearest valid one is used: {items}."
    )


def unmodelled_text(skipped: Sequence[tuple[str, str]]) -> str:
    """What the estimate leaves out of the network (activations, merges...; ``""``: nothing)."""
    acts = [k for _, k in skipped if is_activation(k)]
    others = [n if n == k else f"{n} ({k})" for n, k in skipped if not is_activation(k)]
    notes = []
    if acts:
        notes.append(f"{len(acts)} activation(s) ({', '.join(sorted(set(acts)))}; small)")
    if others:
        notes.append(f"not modelled: {', '.join(others)}")
    if not notes:
        return ""
    return f"[Not in the estimate: {md_escape('; '.join(notes))}.]{{.precml-unmodelled}}"


def report_text(
    s: Settings,
    est: ResourceEstimate,
    check: BudgetCheck,
    overflow: str | None,
    substitutions: Mapping[str, tuple[int, int, int]],
    skipped: Sequence[tuple[str, str]],
) -> str:
    """The whole report, in the page's order: status, extrapolations, resources, timing,
    reuse substitutions, what is not in the estimate (empty parts left out)."""
    parts = (
        status_text(s, est, check, overflow),
        extrapolations_text(est.extrapolations),
        resources_text(est),
        timing_text(est, check, s.require_every_bunch),
        reuse_text(s.reuse_factor, substitutions),
        unmodelled_text(skipped),
    )
    return "\n\n".join(p for p in parts if p)


def physics_text(model: str, width: int, metrics: Mapping[int, Mapping[str, float]] | None) -> str:
    """Emulated metrics at ``width`` beside the widest emulated width, or why there are none."""
    name = md_escape(model)
    if not metrics:
        return (
            f"[**Physics:** no emulation result for W={width} ({name}: no precision scan given; "
            "pass metrics= from precml_widgets.fpga.scan.precision_scan).]"
            "{.precml-physics-missing}"
        )
    widths = sorted(metrics)
    names = list(dict.fromkeys(k for w in widths for k in metrics[w]))
    reference = widths[-1]
    if width not in metrics:
        head = (
            f"[**Physics:** no emulation result for W={width} ({name}; emulated widths: "
            f"{', '.join(map(str, widths))}).]{{.precml-physics-missing}}"
        )
    else:
        rows = "".join(
            f"\n| {md_escape(k)} | [{metrics[width][k]:.4g}]{{.precml-metric "
            f'data-metric="{k.replace(chr(34), chr(39))}"}} | '
            f"{metrics[reference].get(k, math.nan):.4g} |"
            for k in names
            if k in metrics[width]
        )
        head = f"| emulated at W={width} | value | at W={reference} |\n|---|---|---|{rows}"
    return f"**Physics** (bit-accurate emulation)\n\n{head}"


def layers_text(stack: Sequence[Layer], est: ResourceEstimate) -> str:
    """Per-layer table: shape, reuse factor, weight type, zeros, resources, cycles."""
    rows = [
        "| layer | kind | shape | RF | weights | zeros | DSP | LUT | FF | BRAM "
        "| latency [cycles] | II |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for layer, part in zip(stack, est.layers, strict=True):
        dense = isinstance(layer, DenseLayer)
        if dense:
            shape = f"{layer.n_in}×{layer.n_out}"
        elif isinstance(layer, MergeLayer):
            shape = f"{layer.op} ×{layer.n}"
        else:
            shape = str(getattr(layer, "n_in", ""))
        rf, weights, zeros = (
            (layer.reuse_factor, f"`{layer.weight.to_hls()}`", layer.n_zeros)
            if dense
            else ("",) * 3
        )
        rows.append(
            f"| {md_escape(part.name)} | {part.kind} | {shape} | {rf} | {weights} | {zeros} "
            f"| {part.dsp:,.0f} | {part.lut:,.0f} | {part.ff:,.0f} | {part.bram18k:,.0f} "
            f"| {part.latency_cycles:,.1f} | {part.ii_cycles:,.1f} |"
        )
    return "\n".join(rows)
