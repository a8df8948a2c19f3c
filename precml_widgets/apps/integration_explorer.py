"""``panel serve`` app: neural importance sampling (zuko flow) against VEGAS.

Serve it with::

    python -m precml_widgets.serving precml_widgets/apps/integration_explorer.py --show

(``make gallery`` serves every app; plain ``panel serve`` needs ``--address 127.0.0.1``.)

Each session starts with a small Camel comparison already trained (cached per server process
with ``pn.state.as_cached``, so visitors see results at once); *Train* runs any other choice.
"""

from __future__ import annotations

import panel as pn

from precml_widgets.integration.explorer import IntegrationExplorer

__all__ = ["INTRO", "STARTER"]

#: Knobs of the comparison every session opens on (a few seconds on one CPU core).
STARTER = dict(
    integrand="camel",
    dim=2,
    flow_size="small",
    calls_per_iteration=2_000,
    training_iterations=15,
    final_iterations=5,
    diagnostic_events=20_000,
)

INTRO = """
## precml · neural importance sampling vs VEGAS

Monte Carlo integration averages weights `w = f/q` over points drawn from a density `q`; its
error is the spread of the weights. **VEGAS** (G. P. Lepage, the `vegas` package) adapts a
factorised grid; **VEGAS+** adds adaptive stratification. The **flow** (zuko rational-quadratic
splines on the unit cube) is trained online from integrand calls. All three get the **same
number of integrand calls**, training included. Pick an integrand and a budget, press
**Train**, then inspect the weights and the unweighted events.
"""


def _starter() -> IntegrationExplorer:
    explorer = IntegrationExplorer(**STARTER)
    explorer.train()
    return explorer


def _app() -> pn.viewable.Viewable:
    cached = pn.state.as_cached("precml-integration-starter", _starter)
    explorer = IntegrationExplorer(**STARTER, comparison=cached.comparison)
    return pn.Column(pn.pane.Markdown(INTRO, width=1200), explorer)


if __name__.startswith("bokeh_app"):
    pn.extension()
    _app().servable(title="precml · neural importance sampling vs VEGAS")
