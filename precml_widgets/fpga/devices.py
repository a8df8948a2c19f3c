"""AMD/Xilinx FPGA parts and their resource totals, for resource fractions and "does it fit?"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from precml_widgets._checks import require_choice, require_int
from precml_widgets.errors import InvalidInputError

__all__ = ["DEVICES", "Device", "get_device"]


@dataclass(frozen=True)
class Device:
    """One FPGA part (any speed grade and package) and its programmable-logic totals.

    Totals are those of the AMD/Xilinx product tables; they equal the "Available" row that
    Vivado/Vitis HLS prints in a ``*_csynth.rpt`` for the part (checked in the tests against
    real reports for every part that has one). Pass your own ``Device(...)`` for a part that
    is not in :data:`DEVICES`: every function that takes a device accepts one.

    Attributes:
        name: marketing name, e.g. ``"Virtex UltraScale+ VU13P"``.
        part: part-number prefix without package/speed grade, e.g. ``"xcvu13p"``.
        family: ``"7-series"``, ``"UltraScale"`` or ``"UltraScale+"``.
        dsp: DSP slices.
        lut: 6-input LUTs.
        ff: flip-flops.
        bram18k: 18 Kb block RAMs (twice the number of 36 Kb blocks).
        uram: 288 Kb UltraRAM blocks (0 where the family has none).
        dsp_kind: ``"DSP48E1"`` (25x18 multiplier, 7-series) or ``"DSP48E2"`` (27x18,
            UltraScale and UltraScale+).

    Example:
        >>> get_device("xcvu13p-flga2577-2-e").dsp
        12288
        >>> Device("my board", "xcfoo", "UltraScale+", 100, 10_000, 20_000, 20, 0).dsp_kind
        'DSP48E2'
    """

    name: str
    part: str
    family: Literal["7-series", "UltraScale", "UltraScale+"]
    dsp: int
    lut: int
    ff: int
    bram18k: int
    uram: int = 0
    dsp_kind: Literal["DSP48E1", "DSP48E2"] | None = None

    def __post_init__(self) -> None:
        require_choice(
            "Device family",
            self.family,
            ("7-series", "UltraScale", "UltraScale+"),
            hint="it sets the DSP slice kind.",
        )
        hint = "take the totals from the part's data sheet (uram may be 0)."
        for key in ("dsp", "lut", "ff", "bram18k", "uram"):
            value = getattr(self, key)
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # 6840.0 from a spreadsheet is a whole number
            count = require_int(
                f"Device {self.name!r}: {key}", value, low=0 if key == "uram" else 1, hint=hint
            )
            object.__setattr__(self, key, count)
        if self.dsp_kind is None:
            kind = "DSP48E1" if self.family == "7-series" else "DSP48E2"
            object.__setattr__(self, "dsp_kind", kind)
        else:
            require_choice("Device dsp_kind", self.dsp_kind, ("DSP48E1", "DSP48E2"))

    @property
    def totals(self) -> dict[str, int]:
        """``{"dsp", "lut", "ff", "bram18k", "uram"}`` totals, the keys of csynth reports."""
        return {
            "dsp": self.dsp,
            "lut": self.lut,
            "ff": self.ff,
            "bram18k": self.bram18k,
            "uram": self.uram,
        }


_US_PLUS = "UltraScale+"
# Totals from the AMD/Xilinx product selection tables (DS180 7-series, DS190 Zynq-7000,
# DS890 UltraScale, DS891 Zynq UltraScale+, DS923 Virtex UltraScale+, DS962 Alveo).
DEVICES: dict[str, Device] = {
    d.part: d
    for d in [
        Device("Zynq-7000 Z-7007S", "xc7z007s", "7-series", 66, 14_400, 28_800, 100),
        Device("Zynq-7000 Z-7010", "xc7z010", "7-series", 80, 17_600, 35_200, 120),
        Device("Zynq-7000 Z-7020", "xc7z020", "7-series", 220, 53_200, 106_400, 280),
        Device("Artix-7 100T", "xc7a100t", "7-series", 240, 63_400, 126_800, 270),
        Device("Virtex-7 690T", "xc7vx690t", "7-series", 3_600, 433_200, 866_400, 2_940),
        Device("Kintex UltraScale KU035", "xcku035", "UltraScale", 1_700, 203_128, 406_256, 1_080),
        Device(
            "Kintex UltraScale KU115", "xcku115", "UltraScale", 5_520, 663_360, 1_326_720, 4_320
        ),
        Device("Zynq UltraScale+ ZU3EG", "xczu3eg", _US_PLUS, 360, 70_560, 141_120, 432),
        Device("Zynq UltraScale+ ZU7EV", "xczu7ev", _US_PLUS, 1_728, 230_400, 460_800, 624, 96),
        Device("Zynq UltraScale+ ZU9EG", "xczu9eg", _US_PLUS, 2_520, 274_080, 548_160, 1_824),
        Device(
            "Virtex UltraScale+ VU9P", "xcvu9p", _US_PLUS, 6_840, 1_182_240, 2_364_480, 4_320, 960
        ),
        Device(
            "Virtex UltraScale+ VU13P",
            "xcvu13p",
            _US_PLUS,
            12_288,
            1_728_000,
            3_456_000,
            5_376,
            1_280,
        ),
        Device("Alveo U50 (VU35P)", "xcu50", _US_PLUS, 5_952, 871_680, 1_743_360, 2_688, 640),
        Device("Alveo U200 (VU9P)", "xcu200", _US_PLUS, 6_840, 1_182_240, 2_364_480, 4_320, 960),
        Device(
            "Alveo U250 (VU13P)", "xcu250", _US_PLUS, 12_288, 1_728_000, 3_456_000, 5_376, 1_280
        ),
        Device("Alveo U280 (VU37P)", "xcu280", _US_PLUS, 9_024, 1_303_680, 2_607_360, 4_032, 960),
        Device("Alveo U55C", "xcu55c", _US_PLUS, 9_024, 1_303_680, 2_607_360, 4_032, 960),
    ]
}


def get_device(device: str | Device) -> Device:
    """The :class:`Device` of a part name (``"xcvu13p"``) or part (``"xcvu13p-flga2577-2-e"``).

    Args:
        device: a part-number prefix, a full part number with package and speed grade, or a
            :class:`Device` (returned unchanged).

    Raises:
        InvalidInputError: the part is unknown; the message lists the known parts and says how
            to define your own.

    Example:
        >>> get_device("xc7z020clg400-1").name
        'Zynq-7000 Z-7020'
    """
    if isinstance(device, Device):
        return device
    if not isinstance(device, str):
        raise InvalidInputError(
            f"device must be a part name such as 'xcvu13p' or a Device, got "
            f"{type(device).__name__}."
        )
    key = device.strip().lower()
    # the longest matching prefix not followed by a digit ("xcu50" is no prefix of "xcu500")
    for part in sorted(DEVICES, key=len, reverse=True):
        if key.startswith(part) and not key[len(part) : len(part) + 1].isdigit():
            return DEVICES[part]
    raise InvalidInputError(
        f"device {device!r} is not in precml's catalogue; known parts: {', '.join(DEVICES)}. "
        "For another part pass your own totals, e.g. Device('my part', 'xc...', 'UltraScale+', "
        "dsp=..., lut=..., ff=..., bram18k=..., uram=...), from its data sheet."
    )
