"""``panel serve`` app: what a network costs on an FPGA, estimated without vendor tools.

Serve it with::

    python -m precml_widgets.serving precml_widgets/apps/fpga_estimator.py --show

(``make gallery`` serves every app; plain ``panel serve`` needs ``--address 127.0.0.1``.)

The two networks (trigger autoencoder, jet tagger) are loaded once per server process, together
with the notes on those that are missing (:func:`shared_models`); each session gets its own
:class:`FPGAEstimator` over them. Nothing
is converted, compiled or emulated, so the page opens in about a second. Without the jet
tagger's weight file (a fresh machine) the app starts with the autoencoder and says in one
sentence which file is missing and the command that fetches it; once it is fetched, the next
visit loads the networks again and shows the jet tagger.
"""

from __future__ import annotations

import panel as pn

from precml_widgets.fpga.estimator_view import FPGAEstimator
from precml_widgets.fpga.models import available_models, unavailable_models

__all__ = ["INTRO", "MODELS_KEY", "shared_models"]

#: The ``pn.state.cache`` key of :func:`shared_models`.
MODELS_KEY = "precml-fpga-models"

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


def shared_models() -> tuple[dict, dict[str, str]]:
    """The networks of this server process and the notes on the missing ones
    (:func:`~precml_widgets.fpga.models.available_models`), cached together so that a page
    never shows a note for a network it shows, nor hides one without a note. While a network
    is missing, each call looks at the data folder again (a few file checks) and loads the
    networks anew once its file is there.
    """
    cached = pn.state.cache.get(MODELS_KEY)
    if cached is None or (cached[1] and unavailable_models() != cached[1]):
        cached = pn.state.cache[MODELS_KEY] = available_models()
    return cached


def _app() -> pn.viewable.Viewable:
    models, missing = shared_models()
    notes = [
        pn.pane.Alert(sentence, alert_type="warning", width=1050) for sentence in missing.values()
    ]
    return pn.Column(pn.pane.Markdown(INTRO, width=1050), *notes, FPGAEstimator(models))


if __name__.startswith("bokeh_app"):
    pn.extension()
    _app().servable(title="precml · FPGA cost estimate")
