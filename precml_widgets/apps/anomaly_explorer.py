"""``panel serve`` app: the trigger anomaly-score explorer on the dimuon study.

Serve it with::

    python -m precml_widgets.serving precml_widgets/apps/anomaly_explorer.py --show

(on 127.0.0.1, with the ``Host`` check that plain ``panel serve`` lacks; docs/dashboards.md).
The study (fast simulation, scores of every sample, about 15 s for the default 1e6 background
events on two cores) and its :class:`~precml_widgets.anomaly.score_set.ScoreSet` (ROC curves,
histograms) are built once per server process, in a background thread, and every session
shares them read-only (:func:`start_preparing`). The server runs the app once at start
(``--warm``, its default), which starts that build; with ``--no-warm`` the first visit
starts it. A page paints at once and fills in
when the build is done. Set ``PRECML_APP_CONFIG=fast`` for a small study (20 000 background
events, used by the tests); the default is the full
:class:`~precml_widgets.anomaly.study.StudyConfig`.
"""

from __future__ import annotations

import asyncio
import html
import logging
from concurrent.futures import Future

import panel as pn

from precml_widgets.anomaly.explorer import AnomalyScoreExplorer
from precml_widgets.anomaly.formatting import rate_caveat
from precml_widgets.anomaly.score_set import ScoreSet
from precml_widgets.anomaly.study import (
    BACKGROUND,
    BACKGROUND_CAVEAT,
    AnomalyStudy,
    StudyConfig,
    neighbour_bandwidths,
    run_study,
)
from precml_widgets.errors import PrecmlError
from precml_widgets.serving import app_config, build_in_background, forget_background, warming

__all__ = [
    "FAST_CONFIG",
    "PREPARING_KEY",
    "app",
    "build_study",
    "forget_preparing",
    "header",
    "page",
    "prepare",
    "shared_scores",
    "start_preparing",
    "study_config",
]

#: The small configuration selected by ``PRECML_APP_CONFIG=fast``.
FAST_CONFIG = StudyConfig(n_background=20_000, n_signal=2_000, n_permutations=50)
#: The ``pn.state.cache`` key of the build's future (:func:`start_preparing`).
PREPARING_KEY = "precml-anomaly-preparing"

_log = logging.getLogger(__name__)


def study_config() -> StudyConfig:
    """The configuration named by the environment variable ``PRECML_APP_CONFIG``.

    Returns:
        :data:`FAST_CONFIG` for ``"fast"``, the default :class:`StudyConfig` when unset or
        ``"default"``.

    Raises:
        InvalidInputError: for any other value.
    """
    return FAST_CONFIG if app_config() == "fast" else StudyConfig()


def build_study() -> AnomalyStudy:
    """The study for this server process (built on first use, then cached).

    Returns:
        The cached :class:`~precml_widgets.anomaly.study.AnomalyStudy`.
    """
    return pn.state.as_cached(
        "precml-anomaly-study", run_study, config=study_config(), progress=False
    )


def shared_scores(study: AnomalyStudy) -> ScoreSet:
    """The explorer's scores of ``study`` for this server process, every cache filled.

    Built once (:meth:`ScoreSet.from_study` with the grid neighbours' kernel-width
    systematic, then :meth:`ScoreSet.warm`) and shared read-only by every session, so a
    session adds no per-session copy of the 1e6-event arrays, ROC curves or histograms.
    """
    return pn.state.as_cached(
        "precml-anomaly-scores",
        lambda **_: ScoreSet.from_study(
            study, neighbour_bandwidths(study), what="anomaly explorer app"
        ).warm(),
        config=repr(study.config),
    )


def prepare() -> tuple[AnomalyStudy, ScoreSet]:
    """The study and its shared scores (:func:`build_study`, :func:`shared_scores`); the
    variants' events are released once they are scored (their scores stay)."""
    study = build_study()
    scores = shared_scores(study)
    study.release_variant_events()
    return study, scores


def start_preparing() -> Future[tuple[AnomalyStudy, ScoreSet]]:
    """Start :func:`prepare` in a background thread, once per server process
    (:func:`~precml_widgets.serving.build_in_background`).

    Returns:
        Its future (shared by every session). A failed build (e.g. a missing data file) is
        started again by the next call, so fetching the file and reloading the page works.
    """
    return build_in_background(PREPARING_KEY, prepare, name="precml-anomaly-study")


def forget_preparing() -> None:
    """Drop this process's build future, so that the next :func:`start_preparing` starts
    a new build (a running build finishes on its own; its result is not used)."""
    forget_background(PREPARING_KEY)


def header(study: AnomalyStudy) -> str:
    """Markdown explaining which samples are recorded data and which are simulated.

    Args:
        study: the study shown.

    Returns:
        The markdown text.
    """
    lines = [
        "## precml · trigger anomaly-score explorer",
        "A trigger keeps an event when its **anomaly score** (reconstruction error of an "
        "autoencoder trained on background only) is above a threshold. Pick the threshold "
        "directly or through a target rate, and read off the trigger rate and the "
        "efficiency for each signal, with Clopper–Pearson intervals.",
        "",
        f"**What the rate means.** {html.escape(rate_caveat(study.background.label))} "
        f"{html.escape(BACKGROUND_CAVEAT)}",
        "",
        "**Baselines.** *HT* (scalar sum of the two muons' pT) is the classic trigger "
        "variable; the *leading-muon pT* is the simplest single-object trigger. Counting "
        "objects is no baseline here: every event in every sample has exactly two muons in "
        "the shared representation.",
        "",
        "**Samples** (real = recorded collision data, simulated = fast simulation):",
        "",
    ]
    for name, events in study.events.items():
        kind = "real" if events.real else "simulated"
        role = " — *rates are measured on this sample*" if name == BACKGROUND else ""
        lines.append(
            f"- `{name}` ({kind}, {events.n:,} events): {html.escape(events.description)}{role}"
        )
    for name, why in study.missing.items():
        lines.append(f"- `{name}`: not shown, file not found ({html.escape(why[:200])})")
    lines += [
        "",
        f"The fast simulation is checked against held-out real events: "
        f"{html.escape(study.validation.describe())}.",
    ]
    return "\n".join(lines)


def page(future: Future[tuple[AnomalyStudy, ScoreSet]]) -> pn.viewable.Viewable:
    """The header and a new explorer on the shared scores of a finished :func:`prepare`, or
    the message of its error (a missing data file or dependency: which one and the command
    that gets it) in a warning box.

    Any other error (out of memory, a torch error...) is shown in the same box, named by its
    type, and its traceback goes to the server's log: a page never turns into Bokeh's error
    page, and the next visit starts the build again (:func:`start_preparing`)."""
    try:
        study, scores = future.result()
        explorer = AnomalyScoreExplorer(score_set=scores)
        return pn.Column(pn.pane.Markdown(header(study), width=1240), explorer)
    except PrecmlError as exc:
        message = str(exc)
    except Exception as exc:  # shown on the page, its traceback in the log
        _log.exception("the anomaly explorer app failed to start")
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        message = (
            f"{what} (an unexpected error; its traceback is in the server log; reload the "
            "page to try again)"
        )
    return pn.pane.Alert(
        f"The anomaly explorer cannot start: {html.escape(message)}",
        alert_type="warning",
        width=1000,
    )


def app() -> pn.viewable.Viewable:
    """The page of one session: :func:`page` at once when the build is done; else a
    placeholder that paints at once and is replaced by :func:`page` when it is done."""
    future = start_preparing()
    if future.done():
        return page(future)
    if warming():  # nobody will look at this page: the build has started, that is enough
        return pn.pane.Markdown("The study is being built.")

    async def deferred() -> pn.viewable.Viewable:
        await asyncio.wait([asyncio.wrap_future(future)])
        return page(future)

    return pn.panel(deferred, defer_load=True, min_height=600, min_width=1000)


if __name__.startswith("bokeh_app"):
    # Bokeh runs this file as a throw-away module per session and clears its globals after
    # the run; the build thread must use the functions of the importable module instead.
    from precml_widgets.apps.anomaly_explorer import app

    pn.extension()
    app().servable(title="precml · trigger anomaly-score explorer")
