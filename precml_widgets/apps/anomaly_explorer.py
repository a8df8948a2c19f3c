"""``panel serve`` app: the trigger anomaly-score explorer on the dimuon study.

Serve it with::

    panel serve precml_widgets/apps/anomaly_explorer.py --show

The study (fast simulation, scores of every sample) is built once per server process with
``pn.state.as_cached`` and shared by all sessions. Set ``PRECML_APP_CONFIG=fast`` for a
small study (20 000 background events, used by the tests); the default is the full
:class:`~precml_widgets.anomaly.study.StudyConfig`.
"""

from __future__ import annotations

import html
import os

import panel as pn

from precml_widgets.anomaly.explorer import AnomalyScoreExplorer
from precml_widgets.anomaly.formatting import rate_caveat
from precml_widgets.anomaly.study import (
    BACKGROUND,
    BACKGROUND_CAVEAT,
    AnomalyStudy,
    StudyConfig,
    neighbour_bandwidths,
    run_study,
)

__all__ = ["FAST_CONFIG", "build_study", "header", "study_config"]

#: The small configuration selected by ``PRECML_APP_CONFIG=fast``.
FAST_CONFIG = StudyConfig(n_background=20_000, n_signal=2_000, n_permutations=50)


def study_config() -> StudyConfig:
    """The configuration named by the environment variable ``PRECML_APP_CONFIG``.

    Returns:
        :data:`FAST_CONFIG` for ``"fast"``, the default :class:`StudyConfig` when unset or
        ``"default"``.

    Raises:
        ValueError: for any other value.
    """
    name = os.environ.get("PRECML_APP_CONFIG", "default").strip().lower()
    if name == "fast":
        return FAST_CONFIG
    if name in ("", "default"):
        return StudyConfig()
    raise ValueError(f"PRECML_APP_CONFIG must be 'fast' or 'default', got {name!r}.")


def build_study() -> AnomalyStudy:
    """The study for this server process (built on first use, then cached).

    Returns:
        The cached :class:`~precml_widgets.anomaly.study.AnomalyStudy`.
    """
    return pn.state.as_cached(
        "precml-anomaly-study", run_study, config=study_config(), progress=False
    )


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


def _app() -> pn.viewable.Viewable:
    study = build_study()
    explorer = AnomalyScoreExplorer.from_study(
        study, systematic_bandwidths=neighbour_bandwidths(study)
    )
    return pn.Column(pn.pane.Markdown(header(study), width=1400), explorer)


if __name__.startswith("bokeh_app"):
    pn.extension()
    _app().servable(title="precml · trigger anomaly-score explorer")
