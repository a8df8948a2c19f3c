"""``panel serve`` app: two-sample tests compared on the deformations of arXiv:2409.16336.

Serve it with::

    python -m precml_widgets.serving precml_widgets/apps/two_sample_explorer.py --show

(``make gallery`` serves every app; plain ``panel serve`` needs ``--address 127.0.0.1``.)

Each session opens on the explorer's default study (four statistics, a mean shift of the 5-D
correlated Gaussian, 200 toys per distribution; ``PRECML_APP_CONFIG=fast``: :data:`FAST`). It
is computed once per server process, in a background thread started by the first visit (or by
``--warm``), and shared by every session; *Run toys* runs any other choice.
"""

from __future__ import annotations

import html
from concurrent.futures import Future

import panel as pn

from precml_widgets.serving import (
    app_config,
    build_in_background,
    forget_background,
    show_when_built,
)
from precml_widgets.twosample.explorer import TwoSampleExplorer
from precml_widgets.twosample.power import PowerConfig, PowerStudy, power_study

__all__ = ["FAST", "INTRO", "STARTER_KEY", "app", "forget_starter", "starter_study"]

#: Knobs of the small test study (``PRECML_APP_CONFIG=fast``): two statistics, 500 events,
#: 50 toys per distribution (about a second); the default is the explorer's teaching study.
FAST = dict(n=500, toys=50, statistics=["mean_ks", "sliced_wasserstein"])

INTRO = """
## precml · two-sample tests for validating generators

Does a generator reproduce its reference? A two-sample test compares a reference sample with a
generated one. Here the reference is a model of *Refereeing the Referees* (S. Grossi,
M. Letizia, R. Torre, arXiv:2409.16336) and the "generator" is the same model deformed by a
size **ε**. For each statistic the null toys (both samples from the reference) fix a rejection
threshold; the **power** is the fraction of deformed toys above it. Pick a deformation and the
statistics, press **Run toys**, then inspect the toys of each statistic and their cost.
"""

#: The ``pn.state.cache`` key of the starter's future (:func:`starter_study`).
STARTER_KEY = "precml-twosample-starter"


def starter_study(config: PowerConfig) -> Future[PowerStudy]:
    """The default study of this server process, computed once in a background thread (core
    only: the sessions build their views on the server's event loop)."""
    return build_in_background(
        STARTER_KEY, lambda: power_study(config), name="precml-twosample-starter"
    )


def forget_starter() -> None:
    """Drop this process's starter future: the next :func:`starter_study` computes again."""
    forget_background(STARTER_KEY)


def app() -> pn.viewable.Viewable:
    """The page of one session: the introduction and an explorer showing the shared default
    study now or as soon as it is computed."""
    explorer = TwoSampleExplorer(**(FAST if app_config() == "fast" else {}))
    future = starter_study(explorer.config())

    def fail(exc: BaseException) -> None:
        reload = "(reload the page to run it again)"
        explorer.error_pane.object = (
            f"**The default study failed:** {html.escape(str(exc))} {reload}"
        )

    if not show_when_built(future, explorer.show, fail):
        explorer.summary_pane.object = "Running the default toys (under a minute)…"
    return pn.Column(pn.pane.Markdown(INTRO, width=1200), explorer)


if __name__.startswith("bokeh_app"):
    # Bokeh runs this file as a throw-away module per session and clears its globals after
    # the run; the background thread must use the functions of the importable module instead.
    from precml_widgets.apps.two_sample_explorer import app

    pn.extension()
    app().servable(title="precml · two-sample tests")
