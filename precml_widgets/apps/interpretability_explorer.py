"""``panel serve`` app: SHAP distributions and active subspaces of a classifier with a known answer.

Serve it with::

    python -m precml_widgets.serving precml_widgets/apps/interpretability_explorer.py --show

(``make gallery`` serves every app; plain ``panel serve`` needs ``--address 127.0.0.1``.)

Each session opens on the precomputed example of
:func:`~precml_widgets.interpret.examples.gaussian_classifier_example`: a network trained on two
synthetic Gaussian classes whose optimal logit is linear, so its exact SHAP values and active
direction are known. Building it with :data:`DEFAULT` took 4.2 s on two idle cores (load 0.8)
and 25 s at load 2.4 (``benchmarks/bench_interpret_redraw.py`` measures it on your machine);
``PRECML_APP_CONFIG=fast`` uses :data:`FAST`. It is computed once per server process, in a
background thread started by the first visit (or by ``--warm``), and shared by every session:
the page shows a notice until it is ready.
"""

from __future__ import annotations

import html
from concurrent.futures import Future
from typing import Any

import panel as pn

from precml_widgets.interpret.examples import gaussian_classifier_example
from precml_widgets.interpret.explanation import Explanation
from precml_widgets.interpret.explorer import InterpretabilityExplorer
from precml_widgets.serving import (
    app_config,
    build_in_background,
    forget_background,
    show_when_built,
)

__all__ = ["DEFAULT", "FAST", "INTRO", "STARTER_KEY", "app", "forget_starter", "starter"]

#: The teaching example: 1e5 training events, 1000 explained events, background 100.
DEFAULT: dict[str, Any] = dict(n_train=100_000, n_explain=1_000, background_size=100)
#: The small test example (``PRECML_APP_CONFIG=fast``): about a second.
FAST: dict[str, Any] = dict(n_train=20_000, n_explain=200, background_size=50)

INTRO = """
## precml · interpretability: SHAP values and active subspaces

Why does a classifier say what it says? **SHAP values** (Lundberg & Lee, arXiv:1705.07874) split
each event's score into one contribution φ per feature, from a stated background sample;
**active subspaces** (Constantine; Chakravarti et al., arXiv:2102.07679) find the directions
along which the score changes most. The example is a network trained on two synthetic Gaussian
classes: its optimal logit is linear, so the exact answer is known (features x5 to x8 carry no
information). Pick a feature for the dependence plot, an event for its waterfall, and compare.
"""

#: The ``pn.state.cache`` key of the starter's future (:func:`starter`).
STARTER_KEY = "precml-interpret-starter"


def starter(config: dict[str, Any]) -> Future[Explanation]:
    """The example of this server process, computed once in a background thread (core only:
    the sessions build their views on the server's event loop)."""
    return build_in_background(
        STARTER_KEY,
        lambda: gaussian_classifier_example(**config),
        name="precml-interpret-starter",
    )


def forget_starter() -> None:
    """Drop this process's starter future: the next :func:`starter` computes again."""
    forget_background(STARTER_KEY)


def app() -> pn.viewable.Viewable:
    """The page of one session: the introduction and an explorer showing the shared example
    now or as soon as it is computed."""
    explorer = InterpretabilityExplorer()
    future = starter(FAST if app_config() == "fast" else DEFAULT)

    def fail(exc: BaseException) -> None:
        explorer.error_pane.object = (
            f"**The example failed:** {html.escape(str(exc))} (reload the page to run it again)"
        )

    show_when_built(future, explorer.add, fail)
    return pn.Column(pn.pane.Markdown(INTRO, width=1200), explorer)


if __name__.startswith("bokeh_app"):
    # Bokeh runs this file as a throw-away module per session and clears its globals after
    # the run; the background thread must use the functions of the importable module instead.
    from precml_widgets.apps.interpretability_explorer import app

    pn.extension()
    app().servable(title="precml · interpretability")
