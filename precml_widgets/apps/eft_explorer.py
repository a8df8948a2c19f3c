"""``panel serve`` app: learned vs exact SMEFT ratios, expected regions and toy posteriors.

Serve it with::

    python -m precml_widgets.serving precml_widgets/apps/eft_explorer.py --show

(``make gallery`` serves every app; plain ``panel serve`` needs ``--address 127.0.0.1``.)

Each session opens on the shipped models
(:func:`~precml_widgets.inference.pretrained.load_pretrained`: the quadratic and the plain
parametrized classifier on
:func:`~precml_widgets.inference.default_problem`, the NLE flows on
:func:`~precml_widgets.inference.nle_problem`), their :func:`classifier_study` and the posterior
of a first toy at the Standard Model. These are computed once per server process, in a
background thread started by the first visit (or by ``--warm``), and shared by every session:
the page shows a notice until they are ready (45 s on two cores at load 3-4, measured with
:func:`build_starter`). A coefficient move only combines cached arrays (about 0.1 s per move in
``tests/test_inference_view.py``); the toy posterior (2-9 s there) is recomputed on *New toy*,
or on every move when *Toy follows the coefficients* is ticked. ``PRECML_APP_CONFIG=fast``
trains tiny models in memory instead (a few seconds; the browser tests use it). *Retrain*
retrains the classifiers with :data:`RETRAIN` (a quick variant of the shipped settings) for that
session only.
"""

from __future__ import annotations

import html
from concurrent.futures import Future
from typing import Any

import panel as pn

from precml_widgets.inference import (
    ClassifierStudy,
    LearnedRatio,
    NeuralLikelihood,
    PosteriorStudy,
    classifier_study,
    default_problem,
    make_training_set,
    nle_problem,
    posterior_study,
    simulate_training_pairs,
    train_nle,
    train_ratio,
)
from precml_widgets.inference.explorer import NLE_LABEL, EFTExplorer
from precml_widgets.serving import (
    app_config,
    build_in_background,
    forget_background,
    show_when_built,
)

__all__ = [
    "FAST",
    "INTRO",
    "POSTERIOR_DRAWS",
    "RETRAIN",
    "STARTER_KEY",
    "Starter",
    "app",
    "build_starter",
    "forget_starter",
    "starter",
    "study_options",
    "trainers",
]

#: Tiny in-memory models (``PRECML_APP_CONFIG=fast``): training events per point, epochs,
#: hidden units, NLE simulations, and the study's and the posterior's sizes.
FAST: dict[str, Any] = dict(
    n_per_point=2_000, epochs=1, hidden=8, n_simulations=3_000, n_directions=32,
    n_heldout=2_000, posterior_draws=500,
)  # fmt: skip
#: What *Retrain* runs per classifier: the shipped kind, fewer events and epochs (35 s for the
#: quadratic one on two cores at load 3, then about 5 s of study per model).
RETRAIN: dict[str, Any] = dict(n_per_point=20_000, epochs=3, hidden=32)
#: Posterior draws per side of the C2ST with the shipped models.
POSTERIOR_DRAWS = 2_000

INTRO = """
## precml · SMEFT inference: learned vs exact likelihoods

Four-lepton contact operators change e⁺e⁻ → μ⁺μ⁻ at LEP-2 energies; the cross section is exactly
quadratic in the Wilson coefficients C, so the exact likelihood ratio r(√s, cos θ; C) is known.
A **quadratic parametrized classifier** (Chen, Glioti, Panico, Wulzer, arXiv:2007.10356) learns
r with that structure built in; a **plain** one takes C as an input. Move C and compare the
learned ratio with the exact one, the expected 68 %/95 % regions of the exact, binned and learned
likelihoods (the luminosity slider scales every measurement), and the posterior of a toy data
set from a neural likelihood (conditional flows) against the exact posterior.
"""

#: The ``pn.state.cache`` key of the starter's future (:func:`starter`).
STARTER_KEY = "precml-eft-starter"
#: What the sessions share: classifiers, NLE, their study and the first toy's posterior.
Starter = tuple[dict[str, LearnedRatio], NeuralLikelihood, ClassifierStudy, PosteriorStudy]


def _tiny_models() -> tuple[dict[str, LearnedRatio], NeuralLikelihood]:
    problem, nle = default_problem(), nle_problem()
    data = make_training_set(problem, n_per_point=FAST["n_per_point"], seed=0)
    models = {
        kind: train_ratio(
            problem, data, kind=kind, epochs=FAST["epochs"], hidden=FAST["hidden"], progress=False
        )
        for kind in ("quadratic", "plain")
    }
    pairs = simulate_training_pairs(nle, FAST["n_simulations"], seed=1)
    flows = train_nle(nle, *pairs, n_members=1, epochs=1, hidden=FAST["hidden"], progress=False)
    return models, flows


def _shipped_models() -> tuple[dict[str, LearnedRatio], NeuralLikelihood]:
    from precml_widgets.inference.pretrained import load_pretrained

    models = {kind: load_pretrained(kind) for kind in ("quadratic", "plain")}
    return models, load_pretrained("nle")  # type: ignore[return-value]


def build_starter(config: str) -> Starter:
    """The shared models and results of ``config`` (``"fast"`` or ``"default"``)."""
    fast = config == "fast"
    models, nle = _tiny_models() if fast else _shipped_models()
    options = study_options(config)
    study = classifier_study(default_problem(), models, **options)
    draws = FAST["posterior_draws"] if fast else POSTERIOR_DRAWS
    post = posterior_study(
        nle.problem, {NLE_LABEL: nle.log_prob}, truth=(0.0, 0.0), n_grid=25, n_draws=draws, seed=0
    )
    return models, nle, study, post


def study_options(config: str) -> dict[str, Any]:
    """Keyword arguments of :func:`classifier_study` for ``config`` (defaults for the shipped)."""
    if config == "fast":
        return {"n_directions": FAST["n_directions"], "n_heldout": FAST["n_heldout"]}
    return {}


def trainers(config: str) -> dict[str, Any]:
    """*Retrain*'s trainers: each classifier kind on fresh events (seed 7), with :data:`RETRAIN`
    (with :data:`FAST`'s sizes for ``"fast"``)."""
    problem = default_problem()
    sizes = FAST if config == "fast" else RETRAIN

    def trainer(kind: str) -> Any:
        def train() -> LearnedRatio:
            data = make_training_set(problem, n_per_point=sizes["n_per_point"], seed=7)
            return train_ratio(
                problem,
                data,
                kind=kind,  # type: ignore[arg-type]
                epochs=sizes["epochs"],
                hidden=sizes["hidden"],
                progress=False,
            )

        return train

    return {kind: trainer(kind) for kind in ("quadratic", "plain")}


def starter(config: str) -> Future[Starter]:
    """The starter of this server process, computed once in a background thread (core only:
    the sessions build their views on the server's event loop)."""
    return build_in_background(
        STARTER_KEY, lambda: build_starter(config), name="precml-eft-starter"
    )


def forget_starter() -> None:
    """Drop this process's starter future: the next :func:`starter` computes again."""
    forget_background(STARTER_KEY)


def app() -> pn.viewable.Viewable:
    """The page of one session: the introduction and the explorer, shown as soon as the shared
    models and results are ready."""
    config = app_config()
    body = pn.Column(
        pn.pane.Markdown(
            "*Loading the models and computing the expected regions… (computed once per "
            "server; the page fills in when they are ready).*",
            css_classes=["precml-eft-waiting"],
        )
    )

    def show(result: Starter) -> None:
        models, nle, study, post = result
        draws = FAST["posterior_draws"] if config == "fast" else POSTERIOR_DRAWS
        explorer = EFTExplorer(
            models,
            nle,
            trainers=trainers(config),
            study=study,
            study_options=study_options(config),
            posterior_draws=draws,
            posterior=post,
        )
        body.objects = [explorer]

    def fail(exc: BaseException) -> None:
        body.objects = [
            pn.pane.Markdown(
                f"**The models failed to load:** {html.escape(str(exc))} (reload the page to "
                "try again)",
                styles={"color": "#b00020"},
            )
        ]

    show_when_built(starter(config), show, fail)
    return pn.Column(pn.pane.Markdown(INTRO, width=1200), body)


if __name__.startswith("bokeh_app"):
    # Bokeh runs this file as a throw-away module per session and clears its globals after
    # the run; the background thread must use the functions of the importable module instead.
    from precml_widgets.apps.eft_explorer import app

    pn.extension()
    app().servable(title="precml · SMEFT inference")
