"""A design to estimate, read explicitly from wherever it is written down.

:func:`~precml_widgets.fpga.estimator.estimate` guesses what its first argument is (a list of
layers, a table layer string, a ``ModelGraph`` or a project folder). :class:`DesignSpec` says
it: one reader per source, each returning the layers *as priced* (the output softmax already
appended where the table's convention wants it) together with the synthesis settings, so the
same design read from any source gives the same estimate:

* :meth:`DesignSpec.from_table_string`: a table layer string (``dense:16x64:rf1:lat:...``);
* :meth:`DesignSpec.from_table_row`: one row of ``synthesis-reports/table.csv``, in the
  table's own spellings (``hls_tool="Vivado HLS"``, ``clock_target_ns="5.0"``, an empty
  ``mul_impl``);
* :meth:`DesignSpec.from_hls_model`: an hls4ml ``ModelGraph`` (settings from its config);
* :meth:`DesignSpec.from_project`: a project folder written by ``hls_model.write()``
  (settings from its ``hls4ml_config.yml``).

:func:`estimate_table` estimates every row of a table file in one call.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from precml_widgets._checks import require_choice, require_real
from precml_widgets.data import locate
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.calibration_table import TABLE_NAME
from precml_widgets.fpga.defaults import (
    DEFAULT_BACKEND,
    DEFAULT_CLOCK_NS,
    DEFAULT_IO_TYPE,
    DEFAULT_PART,
    IO_TYPES,
)
from precml_widgets.fpga.devices import Device
from precml_widgets.fpga.estimate_result import ResourceEstimate
from precml_widgets.fpga.estimator import estimate
from precml_widgets.fpga.layer_readers import (
    layers_from_hls_model,
    layers_from_project,
    layers_from_table_string,
)
from precml_widgets.fpga.layer_types import Layer
from precml_widgets.fpga.resource_model import TOOL_FAMILY, Coefficients, with_output_softmax

__all__ = ["DesignSpec", "TableEstimate", "estimate_table", "normalize_backend"]

_SETTING = re.compile(r"^(Part|ClockPeriod|Backend|IOType):\s*(\S+)\s*$", re.MULTILINE)


def normalize_backend(value: object) -> str:
    """An hls4ml backend name from either spelling: ``"Vitis"`` or the table's ``"Vitis HLS"``.

    Example:
        >>> normalize_backend("Vivado HLS"), normalize_backend("Vitis")
        ('Vivado', 'Vitis')
    """
    text = str(value).strip()
    if text in TOOL_FAMILY:
        return text
    by_family = {"Vivado HLS": "Vivado", "Vitis HLS": "Vitis"}
    require_choice(
        "backend",
        text,
        (*TOOL_FAMILY, *by_family),
        hint="an hls4ml backend or the table's HLS tool name.",
    )
    return by_family.get(text, text)


@dataclass(frozen=True)
class DesignSpec:
    """A design as the estimator prices it: its layers and its synthesis settings.

    Attributes:
        layers: the layers in order, output softmax included where one is synthesised.
        device: part name, full part number or a :class:`~precml_widgets.fpga.devices.Device`.
        clock_ns: clock period in ns.
        backend: hls4ml backend, ``"Vitis"`` (Vitis HLS) or ``"Vivado"`` (Vivado HLS).
        io_type: ``"io_parallel"`` or ``"io_stream"``.
        mul_impl: ``"dsp"``, ``"fabric"`` or ``None`` (the weight width decides).
        name: where the design came from (a table row's ``example_id``, a folder), for display.

    Example:
        >>> spec = DesignSpec.from_table_string("dense:16x5:rf1:lat:w=fx8_3:acc=fx16_6")
        >>> [layer.kind for layer in spec.layers], spec.device, spec.clock_ns
        (['dense', 'softmax'], 'xcvu13p', 5.0)
        >>> spec.estimate().dsp  # the softmax's 5; 8-bit weights use no DSP
        5.0
    """

    layers: tuple[Layer, ...]
    device: str | Device = DEFAULT_PART
    clock_ns: float = DEFAULT_CLOCK_NS
    backend: str = DEFAULT_BACKEND
    io_type: str = DEFAULT_IO_TYPE
    mul_impl: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "backend", normalize_backend(self.backend))
        object.__setattr__(
            self, "clock_ns", require_real("clock_ns", float(self.clock_ns), low=0.0, low_open=True)
        )
        require_choice("io_type", self.io_type, IO_TYPES)
        if self.mul_impl == "":  # the table's spelling of "not forced"
            object.__setattr__(self, "mul_impl", None)
        require_choice("mul_impl", self.mul_impl, (None, "dsp", "fabric"))

    # ------------------------------------------------------------ readers
    @classmethod
    def from_layers(
        cls, layers: Sequence[Layer], *, output_softmax: bool = False, **settings: Any
    ) -> DesignSpec:
        """``layers`` as given (plus hls4ml's output softmax if ``output_softmax``)."""
        stack = tuple(layers)
        return cls(with_output_softmax(stack) if output_softmax else stack, **settings)

    @classmethod
    def from_table_string(
        cls, text: str, *, output_softmax: bool = True, **settings: Any
    ) -> DesignSpec:
        """A table layer string; by the table's convention the output softmax is appended
        after a final dense layer (``output_softmax=False`` prices the string as listed)."""
        return cls.from_layers(
            layers_from_table_string(text), output_softmax=output_softmax, **settings
        )

    @classmethod
    def from_table_row(cls, row: Mapping[str, Any], **overrides: Any) -> DesignSpec:
        """One row of ``synthesis-reports/table.csv`` (a :class:`csv.DictReader` record).

        Reads ``layers``, ``part``, ``clock_target_ns`` (a number or its text, ``"5.0"``),
        ``hls_tool`` (``"Vivado HLS"``/``"Vitis HLS"``, or a ``backend`` key),
        ``io_type`` and ``mul_impl`` (empty: not forced); a ``category`` other than
        ``"dense"`` gets no output softmax, as in the calibration. ``overrides`` replace
        settings (``device=``, ``clock_ns=``, ...).
        """
        try:
            settings: dict[str, Any] = {
                "device": row["part"] or DEFAULT_PART,
                "clock_ns": float(row["clock_target_ns"]),
                "backend": row.get("backend") or row["hls_tool"],
                "io_type": row.get("io_type") or DEFAULT_IO_TYPE,
                "mul_impl": row.get("mul_impl") or None,
                "name": str(row.get("example_id", "")),
            }
            text = row["layers"]
        except KeyError as exc:
            raise InvalidInputError(
                f"table row lacks the column {exc}; a row of synthesis-reports/table.csv has "
                "layers, part, clock_target_ns, hls_tool, io_type and mul_impl."
            ) from None
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"clock_target_ns={row.get('clock_target_ns')!r} is not a number of ns."
            ) from None
        softmax = str(row.get("category", "dense") or "dense") == "dense"
        return cls.from_table_string(text, output_softmax=softmax, **{**settings, **overrides})

    @classmethod
    def from_hls_model(cls, hls_model: Any, **overrides: Any) -> DesignSpec:
        """An hls4ml ``ModelGraph``, priced as converted; part, clock, backend and I/O type
        come from its configuration unless given in ``overrides``."""
        config = hls_model.config
        keys = ("Part", "ClockPeriod", "Backend", "IOType")
        settings = _settings({key: config.get_config_value(key) for key in keys})
        return cls(layers_from_hls_model(hls_model), **{**settings, **overrides})

    @classmethod
    def from_project(cls, folder: str | os.PathLike[str], **overrides: Any) -> DesignSpec:
        """An hls4ml project folder (``hls_model.write()``), priced as written; part, clock,
        backend and I/O type come from its ``hls4ml_config.yml`` when present."""
        config = Path(folder) / "hls4ml_config.yml"
        found = dict(_SETTING.findall(config.read_text())) if config.is_file() else {}
        settings = _settings(found) | {"name": os.fspath(folder)}
        return cls(layers_from_project(folder), **{**settings, **overrides})

    # ------------------------------------------------------------ estimate
    def estimate(self, *, coefficients: Coefficients | None = None) -> ResourceEstimate:
        """The estimate of this design (:func:`~precml_widgets.fpga.estimator.estimate`),
        with its intervals and flags; the layers are priced exactly as listed."""
        return estimate(
            list(self.layers),
            device=self.device,
            clock_ns=self.clock_ns,
            backend=self.backend,  # type: ignore[arg-type]
            io_type=self.io_type,  # type: ignore[arg-type]
            mul_impl=self.mul_impl,  # type: ignore[arg-type]
            coefficients=coefficients,
            output_softmax=False,
            invalid_reuse="as_given",  # a table row records the requested reuse factor
        )

    def with_settings(self, **settings: Any) -> DesignSpec:
        """A copy with other settings (``device=``, ``clock_ns=``, ...)."""
        return replace(self, **settings)


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """hls4ml's configuration keys (``Part``, ``ClockPeriod``, ...) as :class:`DesignSpec`
    settings; missing or empty keys keep the defaults."""
    names = {"Part": "device", "ClockPeriod": "clock_ns", "Backend": "backend", "IOType": "io_type"}
    out: dict[str, Any] = {}
    for key, name in names.items():
        value = config.get(key)
        if value in (None, ""):
            continue
        out[name] = float(value) if name == "clock_ns" else str(value)
    return out


@dataclass(frozen=True)
class TableEstimate:
    """One row of a table file, estimated.

    Attributes:
        example_id: the row's ``example_id`` (empty if the file has none).
        design: the design as read (:meth:`DesignSpec.from_table_row`).
        estimate: its estimate, with intervals (``estimate.interval``) and flags
            (``estimate.extrapolations``).
        measured: the row's measured ``{"dsp", "lut", "ff", "bram18k", "latency", "ii"}``
            (latency and ii: the worst case), where the file gives them.
    """

    example_id: str
    design: DesignSpec
    estimate: ResourceEstimate
    measured: Mapping[str, float]


_MEASURED = {
    "dsp": "dsp",
    "lut": "lut",
    "ff": "ff",
    "bram18k": "bram18k",
    "latency": "lat_max",
    "ii": "ii_max",
}


def estimate_table(
    path: str | os.PathLike[str] | None = None, *, coefficients: Coefficients | None = None
) -> list[TableEstimate]:
    """Estimate every row of a ``table.csv``-style file, in file order.

    Args:
        path: the file (default: the calibration table, found through
            :func:`precml_widgets.data.locate`).
        coefficients: use these instead of the shipped calibration.

    Returns:
        One :class:`TableEstimate` per row.

    Example:
        >>> rows = estimate_table()
        >>> len(rows), sorted(rows[0].estimate.interval)[:3]
        (57, ['bram18k', 'dsp', 'ff'])
    """
    table = Path(path) if path is not None else locate(TABLE_NAME)
    out = []
    with open(table, newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            design = DesignSpec.from_table_row(rec)
            measured = {
                k: float(rec[c]) for k, c in _MEASURED.items() if rec.get(c) not in (None, "")
            }
            out.append(
                TableEstimate(
                    str(rec.get("example_id", "")),
                    design,
                    design.estimate(coefficients=coefficients),
                    measured,
                )
            )
    return out
