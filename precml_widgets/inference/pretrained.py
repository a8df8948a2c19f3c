"""The shipped SMEFT models: how they were trained, how to load them, how to retrain them.

Three models ship in the package folder ``pretrained/`` (safetensors weights and a JSON card
each, written by :func:`~precml_widgets.inference.export.save_model`), so that the teaching
path does not retrain: the quadratic and the plain parametrized classifiers on
:func:`~precml_widgets.inference.default_problem`, and the ensemble of conditional flows (NLE)
on :func:`~precml_widgets.inference.nle_problem`. Their settings are the constants below;
:func:`train_pretrained` retrains all three with them (about 4 minutes on 2 CPU cores) and
records in each classifier's card its ratio accuracy on the exact contour and the area of its
expected 95 % region relative to the exact one.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from precml_widgets._checks import require_choice
from precml_widgets.inference.accuracy import ratio_accuracy
from precml_widgets.inference.classifiers import LearnedRatio
from precml_widgets.inference.events import sample_events
from precml_widgets.inference.export import load_model, save_model
from precml_widgets.inference.likelihood import exact_expected_q, unbinned_expected_q
from precml_widgets.inference.nle import NeuralLikelihood, simulate_training_pairs, train_nle
from precml_widgets.inference.problem import default_problem, nle_problem
from precml_widgets.inference.region import expected_region
from precml_widgets.inference.training import make_training_set, train_ratio

__all__ = [
    "BOUNDARY_POINTS",
    "HOLDOUT_EVENTS",
    "HOLDOUT_SEED",
    "NLE_SETTINGS",
    "PLAIN_SETTINGS",
    "PRETRAINED_DIR",
    "PRETRAINED_NAMES",
    "QUADRATIC_SETTINGS",
    "ClassifierSettings",
    "NLESettings",
    "classifier_metrics",
    "load_pretrained",
    "pretrained_stem",
    "train_models",
    "train_pretrained",
]

#: The package folder holding the shipped ``.safetensors`` and ``.json`` files.
PRETRAINED_DIR = Path(__file__).parent / "pretrained"
#: The shipped models, by name.
PRETRAINED_NAMES: tuple[str, ...] = ("quadratic", "plain", "nle")
#: Held-out Standard Model events of the classifiers' ratio accuracy, and their seed (the
#: training events use seed 0).
HOLDOUT_EVENTS = 20_000
HOLDOUT_SEED = 20_261_208
#: Points on the boundary of the exact expected 95 % region where the accuracy is scored (and
#: rays of both regions' areas).
BOUNDARY_POINTS = 256


@dataclass(frozen=True)
class ClassifierSettings:
    """How a shipped classifier was trained (on :func:`default_problem`).

    Attributes:
        kind: ``"quadratic"`` or ``"plain"``.
        n_per_point: events per class per training point (:func:`make_training_set`).
        data_seed: seed of the training events.
        epochs: passes over the training set (:func:`train_ratio`).
        hidden: units per hidden layer.
        seed: seed of the initialisation and batch order.
    """

    kind: Literal["quadratic", "plain"]
    n_per_point: int = 200_000
    data_seed: int = 0
    epochs: int = 10
    hidden: int = 64
    seed: int = 0


@dataclass(frozen=True)
class NLESettings:
    """How the shipped NLE was trained (on :func:`nle_problem`).

    Attributes:
        n_simulations: training pairs (:func:`simulate_training_pairs`).
        data_seed: their seed.
        n_members: flows in the ensemble (:func:`train_nle`).
        epochs: most passes per member.
        hidden: units per conditioner hidden layer.
        transforms: spline transforms per flow.
        seed: member ``k`` is seeded with ``seed + k``.
    """

    n_simulations: int = 100_000
    data_seed: int = 1
    n_members: int = 5
    epochs: int = 40
    hidden: int = 32
    transforms: int = 2
    seed: int = 0


QUADRATIC_SETTINGS = ClassifierSettings("quadratic")
PLAIN_SETTINGS = ClassifierSettings("plain")
NLE_SETTINGS = NLESettings()


def pretrained_stem(name: str, folder: str | os.PathLike[str] = PRETRAINED_DIR) -> Path:
    """The file stem of the shipped model ``name`` in ``folder``."""
    require_choice("name", name, PRETRAINED_NAMES)
    return Path(folder) / f"smeft_{name}"


def load_pretrained(name: Literal["quadratic", "plain", "nle"]) -> LearnedRatio | NeuralLikelihood:
    """A shipped model: ``"quadratic"`` / ``"plain"`` (a :class:`LearnedRatio` on
    :func:`default_problem`) or ``"nle"`` (a :class:`NeuralLikelihood` on :func:`nle_problem`).

    Its card (``pretrained_stem(name).with_suffix(".json")``) states the training settings and
    the measured accuracy.

    Example:
        >>> load_pretrained("quadratic").problem == default_problem()
        True
    """
    return load_model(pretrained_stem(name))


def classifier_metrics(model: LearnedRatio) -> dict[str, dict[str, float | int | str]]:
    """Ratio accuracy on the exact contour and the learned/exact 95 % region area ratio."""
    problem = model.problem
    exact = expected_region(exact_expected_q(problem), n_directions=BOUNDARY_POINTS)
    rng = np.random.default_rng(HOLDOUT_SEED)
    events = sample_events(problem.measurement, np.zeros(4), rng, n_events=HOLDOUT_EVENTS)
    acc = ratio_accuracy(problem, model, events.features, exact.boundary)
    q = unbinned_expected_q(problem, model, label=f"learned ({model.kind})")
    learned = expected_region(q, n_directions=BOUNDARY_POINTS)
    return {
        "ratio_accuracy": {
            "median": acc.median,
            "p95": acc.p95,
            "n_points": acc.n_points,
            "n_events": acc.n_events,
            "caveat": (
                "|r_learned - r_exact| / |r_exact - 1| pooled over held-out Standard Model "
                f"events (seed {HOLDOUT_SEED}, not the training seed) at points on the "
                "boundary of the exact expected 95 % region of default_problem()"
            ),
        },
        "region_area_ratio": {
            "value": learned.volume / exact.volume,
            "learned_area": learned.volume,
            "exact_area": exact.volume,
            "caveat": (
                "area of the expected 95 % CL region (Asimov, SM data, unbinned) from the "
                "learned ratio over that from the exact one, both by expected_region with "
                f"{BOUNDARY_POINTS} rays; coefficients at Lambda = 1 TeV"
            ),
        },
    }


def train_models(*, progress: bool = True) -> dict[str, LearnedRatio | NeuralLikelihood]:
    """Train the three shipped models with their settings, in memory (no file is written).

    Minutes on a laptop CPU: 2e5 events per class and point for the classifiers, 1e5
    simulated pairs for the flows.

    Returns:
        ``{"quadratic": LearnedRatio, "plain": LearnedRatio, "nle": NeuralLikelihood}``.
    """
    models: dict[str, LearnedRatio | NeuralLikelihood] = {}
    problem = default_problem()
    data = make_training_set(
        problem, n_per_point=QUADRATIC_SETTINGS.n_per_point, seed=QUADRATIC_SETTINGS.data_seed
    )
    for s in (QUADRATIC_SETTINGS, PLAIN_SETTINGS):
        if (s.n_per_point, s.data_seed) != (
            QUADRATIC_SETTINGS.n_per_point,
            QUADRATIC_SETTINGS.data_seed,
        ):
            data = make_training_set(problem, n_per_point=s.n_per_point, seed=s.data_seed)
        models[s.kind] = train_ratio(
            problem,
            data,
            kind=s.kind,
            epochs=s.epochs,
            hidden=s.hidden,
            seed=s.seed,
            progress=progress,
        )
    n = NLE_SETTINGS
    theta, x = simulate_training_pairs(nle_problem(), n.n_simulations, seed=n.data_seed)
    models["nle"] = train_nle(
        nle_problem(),
        theta,
        x,
        n_members=n.n_members,
        epochs=n.epochs,
        hidden=n.hidden,
        transforms=n.transforms,
        seed=n.seed,
        progress=progress,
    )
    return models


def train_pretrained(
    folder: str | os.PathLike[str] = PRETRAINED_DIR, *, progress: bool = True
) -> dict[str, Path]:
    """Train the three shipped models (:func:`train_models`) and save them with their metrics.

    Args:
        folder: where to write ``smeft_<name>.safetensors`` / ``.json`` (created if missing).
        progress: show tqdm bars.

    Returns:
        ``{name: card path}``.
    """
    Path(folder).mkdir(parents=True, exist_ok=True)
    models = train_models(progress=progress)
    cards: dict[str, Path] = {}
    for s in (QUADRATIC_SETTINGS, PLAIN_SETTINGS):
        model = models[s.kind]
        metrics = {"training_settings": asdict(s), **classifier_metrics(model)}  # type: ignore[arg-type]
        note = f"shipped {s.kind} classifier on default_problem(); retrain: train_pretrained()"
        cards[s.kind] = save_model(
            model, pretrained_stem(s.kind, folder), metrics=metrics, note=note
        )[1]
    note = "shipped NLE ensemble on nle_problem(); retrain: train_pretrained()"
    cards["nle"] = save_model(
        models["nle"],
        pretrained_stem("nle", folder),
        metrics={"training_settings": asdict(NLE_SETTINGS)},
        note=note,
    )[1]
    return cards
