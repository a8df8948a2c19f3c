"""``panel serve`` app: neural importance sampling (zuko flow) against VEGAS.

Serve it with::

    python -m precml_widgets.serving precml_widgets/apps/integration_explorer.py --show

(``make gallery`` serves every app; plain ``panel serve`` needs ``--address 127.0.0.1``.)

Each session starts with a small Camel comparison. It is trained once per server process, in a
background thread started by the first visit (or by ``panel serve --warm``), and shared by every
session (``pn.state.cache``): the page paints at once and shows the comparison as soon as it is
ready, instead of making the first visitor wait for the training. *Train* runs any other choice.
"""

from __future__ import annotations

import html
from concurrent.futures import Future

import panel as pn

from precml_widgets.integration.explorer import IntegrationExplorer
from precml_widgets.integration.integrand import Integrand
from precml_widgets.integration.study import Comparison, ComparisonConfig, compare
from precml_widgets.serving import build_in_background, forget_background, show_when_built

__all__ = ["INTRO", "STARTER", "STARTER_KEY", "app", "forget_starter", "starter_comparison"]

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

#: The ``pn.state.cache`` key of the starter's future (:func:`starter_comparison`).
STARTER_KEY = "precml-integration-starter"


def starter_comparison(integrand: Integrand, config: ComparisonConfig) -> Future[Comparison]:
    """The starter comparison of this server process, trained once in a background thread.

    Only the core (:func:`~precml_widgets.integration.study.compare`) runs in that thread:
    every view (Panel panes, HoloViews streams) is built by the sessions on the server's event
    loop. Sessions are created on that loop one at a time, so the first call starts the thread
    and every later call (any session) gets the same future; a failed training is started
    again by the next call (as the anomaly app does), so a page reload retries it.

    Args:
        integrand: the starter's integrand (:meth:`IntegrationExplorer.selected_integrand`).
        config: its configuration (:meth:`IntegrationExplorer.config`).
    """
    return build_in_background(
        STARTER_KEY,
        lambda: compare(integrand, config, progress=False),
        name="precml-integration-starter",
    )


def forget_starter() -> None:
    """Drop this process's starter future: the next :func:`starter_comparison` trains again."""
    forget_background(STARTER_KEY)


def app() -> pn.viewable.Viewable:
    """The page of one session: the introduction and an explorer on the :data:`STARTER`
    knobs, showing the shared starter comparison now or as soon as it is trained."""
    explorer = IntegrationExplorer(**STARTER)
    future = starter_comparison(explorer.selected_integrand(), explorer.config())

    def fail(exc: BaseException) -> None:
        reload = "(reload the page to train it again)"
        explorer.error_pane.object = (
            f"**The starter comparison failed:** {html.escape(str(exc))} {reload}"
        )

    if not show_when_built(future, explorer.show, fail):
        explorer.summary_pane.object = "Training the starter comparison (a few seconds)…"
    return pn.Column(pn.pane.Markdown(INTRO, width=1200), explorer)


if __name__.startswith("bokeh_app"):
    # Bokeh runs this file as a throw-away module per session and clears its globals after
    # the run; the training thread must use the functions of the importable module instead.
    from precml_widgets.apps.integration_explorer import app

    pn.extension()
    app().servable(title="precml · neural importance sampling vs VEGAS")
