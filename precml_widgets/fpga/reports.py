"""Read Vivado HLS / Vitis HLS C-synthesis reports (``*_csynth.rpt`` and ``*_csynth.xml``)."""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from precml_widgets.errors import InvalidInputError

__all__ = ["SynthesisReport", "read_csynth"]

_RESOURCES = ("bram18k", "dsp", "ff", "lut", "uram")
_COLUMN = {"BRAM_18K": "bram18k", "DSP": "dsp", "DSP48E": "dsp", "FF": "ff", "LUT": "lut"}
_COLUMN |= {"URAM": "uram"}


@dataclass(frozen=True)
class SynthesisReport:
    """The top-level numbers of one HLS C-synthesis report.

    Attributes:
        tool: ``"Vivado HLS"`` or ``"Vitis HLS"``.
        version: tool version, e.g. ``"2019.2"``; ``None`` if not recorded.
        part: target part, e.g. ``"xcu250-figd2104-2L-e"``.
        clock_target_ns: requested clock period in ns.
        clock_estimate_ns: the tool's estimated clock period in ns (above the target: timing
            not met in HLS).
        latency_min, latency_max: latency in clock cycles (``None`` if undefined).
        interval_min, interval_max: initiation interval in clock cycles (``None`` if undefined).
        bram18k, dsp, ff, lut, uram: estimated resources of the top function.
        available: the part's totals (the report's "Available" row), keys as above.
        path: the file read.

    Example:
        >>> rep = SynthesisReport("Vitis HLS", "2021.1", "xc7z020", 5.0, 4.1, 10, 10, 1, 1,
        ...                       0, 12, 900, 1500, 0, {"dsp": 220}, "x.rpt")
        >>> rep.latency_ns, rep.timing_met
        (50.0, True)
    """

    tool: str
    version: str | None
    part: str
    clock_target_ns: float
    clock_estimate_ns: float | None
    latency_min: int | None
    latency_max: int | None
    interval_min: int | None
    interval_max: int | None
    bram18k: int
    dsp: int
    ff: int
    lut: int
    uram: int
    available: Mapping[str, int]
    path: str

    @property
    def latency_ns(self) -> float | None:
        """Worst-case latency in ns at the target clock."""
        return None if self.latency_max is None else self.latency_max * self.clock_target_ns

    @property
    def timing_met(self) -> bool | None:
        """Whether the estimated clock period is within the target."""
        if self.clock_estimate_ns is None:
            return None
        return self.clock_estimate_ns <= self.clock_target_ns

    @property
    def resources(self) -> dict[str, int]:
        """``{"bram18k", "dsp", "ff", "lut", "uram"}`` used by the design."""
        return {k: getattr(self, k) for k in _RESOURCES}


def read_csynth(path: str | os.PathLike[str]) -> SynthesisReport:
    """Read a ``*_csynth.xml`` or ``*_csynth.rpt`` file, or find one in a project folder.

    In a folder the top-level report is searched as ``**/*_csynth.xml``, then
    ``**/*_csynth.rpt``; where several exist (one per function), the one of the top function
    is taken (the file named after the ``<name>_prj`` project, else the largest design).

    Raises:
        InvalidInputError: the path does not exist, holds no report, or the file is not a
            C-synthesis report.

    Example:
        >>> read_csynth("no/such/folder")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        precml_widgets.errors.InvalidInputError: 'no/such/folder' does not exist; pass a ...
    """
    target = Path(path).expanduser()
    if target.is_dir():
        return _read_file(_find_top(target))
    if not target.is_file():
        raise InvalidInputError(
            f"{str(path)!r} does not exist; pass a *_csynth.rpt / *_csynth.xml file or an "
            "HLS project folder (e.g. myproject_prj/solution1/syn/report)."
        )
    return _read_file(target)


def _find_top(folder: Path) -> Path:
    for pattern in ("**/*_csynth.xml", "**/*_csynth.rpt"):
        found = sorted(folder.glob(pattern))
        if len(found) == 1:
            return found[0]
        if found:
            named = [p for p in found if f"{p.name.removesuffix(p.suffix)[:-7]}_prj" in p.parts]
            if len(named) == 1:
                return named[0]
            return max(found, key=lambda p: sum(_read_file(p).resources.values()))
    raise InvalidInputError(
        f"no *_csynth.xml or *_csynth.rpt under {str(folder)!r}; run C synthesis first "
        "(hls_model.build(csim=False)) or pass the report file itself."
    )


def _read_file(path: Path) -> SynthesisReport:
    text = path.read_text(errors="replace")
    try:
        if text.lstrip().startswith("<"):
            return _parse_xml(text, path)
        return _parse_rpt(text, path)
    except InvalidInputError:
        raise
    except (
        ValueError,
        KeyError,
        IndexError,
        AttributeError,
        TypeError,
        StopIteration,
        ET.ParseError,
    ) as exc:
        raise InvalidInputError(
            f"{str(path)!r} is not a Vivado/Vitis HLS C-synthesis report ({exc}); expected a "
            "*_csynth.rpt or *_csynth.xml from a solution's syn/report folder."
        ) from None


_UNDEFINED = ("?", "undef", "")


def _cycles(text: str | None, what: str, path: Path) -> int | None:
    """A latency or interval in cycles: ``None`` where the tool wrote "?" (undefined)."""
    text = (text or "").strip()
    if text.isdigit():
        return int(text)
    if text in _UNDEFINED:
        return None
    raise InvalidInputError(
        f"{str(path)!r}: the {what} {text!r} is not a number of clock cycles (nor '?' for "
        "undefined); the report is damaged or edited: re-run C synthesis or restore the file."
    )


def _count(text: str | None, what: str, path: Path, *, positive: bool = False) -> int:
    """A resource count: a whole number (``> 0`` with ``positive``), never '-' or a sign."""
    text = (text or "").strip()
    if not text.isdigit() or (positive and int(text) == 0):
        need = "a whole number > 0" if positive else "a whole number >= 0"
        raise InvalidInputError(
            f"{str(path)!r}: {what} is {text!r}, expected {need}; the report is truncated, "
            "damaged or edited: re-run C synthesis or restore the file."
        )
    return int(text)


def _ns(text: str | None, what: str, path: Path) -> float:
    """A clock period in ns: finite and > 0."""
    raw = (text or "").replace("ns", "").strip()
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise InvalidInputError(
            f"{str(path)!r}: the {what} {raw!r} is not a positive number of ns; the report "
            "is damaged or edited: re-run C synthesis or restore the file."
        )
    return value


#: Resources every FPGA part has: an "Available" total of 0 means a damaged report.
_ALWAYS_AVAILABLE = ("bram18k", "dsp", "ff", "lut")


def _parse_xml(text: str, path: Path) -> SynthesisReport:
    root = ET.fromstring(text)
    if root.tag != "profile" or root.find("AreaEstimates") is None:
        raise ValueError("no <profile>/<AreaEstimates>")
    version = root.findtext("ReportVersion/Version")
    user = root.find("UserAssignments")
    perf = root.find("PerformanceEstimates/SummaryOfOverallLatency")

    def resources(tag: str) -> dict[str, int]:
        node = root.find(f"AreaEstimates/{tag}")
        out = dict.fromkeys(_RESOURCES, 0)
        for child in [] if node is None else node:
            if child.tag in _COLUMN:
                key = _COLUMN[child.tag]
                positive = tag == "AvailableResources" and key in _ALWAYS_AVAILABLE
                out[key] = _count(child.text, f"<{tag}><{child.tag}>", path, positive=positive)
        if tag == "AvailableResources" and not all(out[k] for k in _ALWAYS_AVAILABLE):
            missing = [k for k in _ALWAYS_AVAILABLE if not out[k]]
            raise InvalidInputError(
                f"{str(path)!r}: <AvailableResources> lacks {missing}; the report is truncated "
                "or edited: re-run C synthesis or restore the file."
            )
        return out

    sibling = path.with_suffix(".rpt")
    tool = _tool_from_rpt(sibling.read_text(errors="replace")) if sibling.is_file() else None
    if tool is None:  # Vitis HLS writes a <FlowTarget>; Vivado HLS (up to 2020.1) does not
        vitis = user.find("FlowTarget") is not None or (version or "0") >= "2020.2"
        tool = "Vitis HLS" if vitis else "Vivado HLS"
    estimate = root.findtext("PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")
    used = resources("Resources")
    return SynthesisReport(
        tool=tool,
        version=version,
        part=user.findtext("Part").strip(),
        clock_target_ns=_ns(user.findtext("TargetClockPeriod"), "target clock period", path),
        clock_estimate_ns=_ns(estimate, "estimated clock period", path) if estimate else None,
        latency_min=_cycles(perf.findtext("Best-caseLatency"), "best-case latency", path),
        latency_max=_cycles(perf.findtext("Worst-caseLatency"), "worst-case latency", path),
        interval_min=_cycles(perf.findtext("Interval-min"), "minimum interval", path),
        interval_max=_cycles(perf.findtext("Interval-max"), "maximum interval", path),
        available=resources("AvailableResources"),
        path=str(path),
        **used,
    )


def _tool_from_rpt(text: str) -> str | None:
    match = re.search(r"==\s*(Vivado HLS|Vitis HLS) Report for", text)
    return match[1] if match else None


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _parse_rpt(text: str, path: Path) -> SynthesisReport:
    tool = _tool_from_rpt(text)
    if tool is None:
        raise ValueError("no 'Vivado HLS Report' / 'Vitis HLS Report' header")
    version = re.search(r"\* Version:\s*([\w.]+)", text)
    part = re.search(r"\* Target device:\s*(\S+)", text)
    clock = re.search(r"^\s*\|ap_clk\s*\|([^|]+)\|([^|]+)\|", text, re.MULTILINE)
    latency_part = text[re.search(r"\+ Latency[^\n]*:", text).end() :]
    row = next(
        _cells(line)
        for line in latency_part.splitlines()
        if line.strip().startswith("|") and re.fullmatch(r"\d+|\?", _cells(line)[0])
    )
    # 2019.2+: min | max | absolute min | absolute max | II min | II max; 2019.1: no absolute
    ii = (4, 5) if len(row) >= 7 else (2, 3)
    usage = text[text.index("== Utilization Estimates") :]
    usage = usage[: usage.index("+ Detail")] if "+ Detail" in usage else usage
    lines = [line for line in usage.splitlines() if line.strip().startswith("|")]
    header = [_COLUMN.get(c) for c in _cells(lines[0])]
    table = {_cells(line)[0]: _cells(line) for line in lines[1:]}

    def resources(label: str) -> dict[str, int]:
        if label not in table or len(table[label]) < len(header):
            found = len(table.get(label, ()))
            raise InvalidInputError(
                f"{str(path)!r}: the utilisation table's {label!r} row has {found} of "
                f"{len(header)} columns; the report is truncated or edited: re-run C synthesis "
                "or restore the file."
            )
        out = dict.fromkeys(_RESOURCES, 0)
        for key, cell in zip(header, table[label], strict=False):
            if key is not None:
                positive = label == "Available" and key in _ALWAYS_AVAILABLE
                out[key] = _count(cell, f"the {label!r} {key} cell", path, positive=positive)
        return out

    return SynthesisReport(
        tool=tool,
        version=version[1] if version else None,
        part=part[1],
        clock_target_ns=_ns(clock[1], "target clock period", path),
        clock_estimate_ns=_ns(clock[2], "estimated clock period", path),
        latency_min=_cycles(row[0], "minimum latency", path),
        latency_max=_cycles(row[1], "maximum latency", path),
        interval_min=_cycles(row[ii[0]], "minimum interval", path),
        interval_max=_cycles(row[ii[1]], "maximum interval", path),
        available=resources("Available"),
        path=str(path),
        **resources("Total"),
    )
