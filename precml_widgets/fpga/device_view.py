"""A Panel form to enter your own FPGA part's data-sheet totals (e.g. what is left of a board)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.dashboard import RESOURCES, part_device
from precml_widgets.fpga.devices import Device
from precml_widgets.fpga.report_text import REPORT_CSS, attrs_markup, md_escape
from precml_widgets.panel_compat import color_kwargs, label_kwargs

pn = require("panel", "widgets", "the FPGA estimator")

__all__ = ["FAMILIES", "device_form"]

#: FPGA families the form offers.
FAMILIES = ("UltraScale+", "UltraScale", "7-series")


def device_form(add: Callable[[Device], object], template: Device) -> Any:
    """A collapsed card: name, part, family and totals of your own part; "Add and select"
    builds the :class:`~precml_widgets.fpga.devices.Device` and passes it to ``add``.

    Args:
        add: called with the new Device (e.g. ``FPGAEstimator.add_device``); an
            :class:`~precml_widgets.errors.InvalidInputError` it raises is shown in the card's
            message pane (CSS class ``precml-form-message``).
        template: the part whose name and half totals fill the form at first.

    Returns:
        The ``pn.Card``.
    """
    w = pn.widgets
    message = pn.pane.Markdown(
        "",
        css_classes=["precml-form-message"],
        plugins=[attrs_markup],
        stylesheets=[REPORT_CSS],
        width=280,
    )
    name = w.TextInput(**label_kwargs(w.TextInput, "Name"), value="my board", width=260)
    part = w.TextInput(
        **label_kwargs(w.TextInput, "Part (sets the calibration check)"),
        value=template.part,
        width=260,
    )
    family = w.Select(**label_kwargs(w.Select, "Family"), options=list(FAMILIES), width=260)
    totals = {
        key: w.IntInput(
            **label_kwargs(w.IntInput, label), value=getattr(template, key) // 2, start=1, width=125
        )
        for key, label in RESOURCES
    }
    button = w.Button(**label_kwargs(w.Button, "Add and select"), **color_kwargs(w.Button))

    def on_click(_event: object) -> None:
        values = {key: box.value for key, box in totals.items()}
        try:
            device = part_device(name.value, part.value, family.value, values)
            add(device)
        except InvalidInputError as exc:
            message.object = f"[{md_escape(str(exc))}]{{.fail}}"
        else:
            message.object = f"Added {md_escape(device.name)}."

    button.on_click(on_click)
    return pn.Card(
        name,
        part,
        family,
        pn.GridBox(*totals.values(), ncols=2),
        button,
        message,
        title="Your own part (data-sheet totals)",
        collapsed=True,
        width=290,
    )
