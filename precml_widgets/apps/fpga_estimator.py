"""``panel serve`` app: what a network costs on an FPGA, estimated without vendor tools.

Serve it with::

    python -m precml_widgets.serving precml_widgets/apps/fpga_estimator.py --show

(``make gallery`` serves every app; plain ``panel serve`` needs ``--address 127.0.0.1``.)

The two networks (trigger autoencoder, jet tagger) are loaded once per server process with
``pn.state.as_cached``; each session gets its own :class:`FPGAEstimator` over them. Nothing
is converted, compiled or emulated, so the page opens in about a second. Without the jet
tagger's weight file (a fresh machine) the app starts with the autoencoder and says in one
sentence which file is missing and the command that fetches it.
"""

from __future__ import annotations

import panel as pn

from precml_widgets.fpga.estimator_view import FPGAEstimator
from precml_widgets.fpga.models import default_models, unavailable_models

__all__ = ["INTRO"]

INTRO = """
## precml · FPGA cost of a trigger network

hls4ml turns a network into FPGA firmware. How many **DSPs, LUTs, flip-flops and block RAMs**
it needs, how long it takes (**latency**) and how often it accepts a new event (**initiation
interval, II**) depend on the fixed-point precision `ap_fixed<W,I>`, the **reuse factor** (how
many multiplications share one multiplier) and the strategy. The numbers below come from a
model of hls4ml's dense-layer templates calibrated on real syntheses: an **estimate with a
measured error**, not a synthesis. A Global-Trigger algorithm has about **50 ns**; the whole
Phase-2 Level-1 trigger has **12.5 µs**; to see every LHC bunch crossing, **II × clock ≤ 25 ns**.
"""


def _app() -> pn.viewable.Viewable:
    models = pn.state.as_cached("precml-fpga-models", default_models)
    notes = [
        pn.pane.Alert(sentence, alert_type="warning", width=1050)
        for sentence in unavailable_models().values()
    ]
    return pn.Column(pn.pane.Markdown(INTRO, width=1050), *notes, FPGAEstimator(models))


if __name__.startswith("bokeh_app"):
    pn.extension()
    _app().servable(title="precml · FPGA cost estimate")
