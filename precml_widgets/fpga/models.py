"""The torch networks precml deploys: hls4ml's jet-tagging MLP and the trigger autoencoder's score.

References:
    Duarte et al., "Fast inference of deep neural networks in FPGAs for particle physics",
    arXiv:1804.06913 (the 16 -> 64 -> 32 -> 32 -> 5 jet tagger and its trained weights).
    Govorkova et al., arXiv:2108.03986 (an autoencoder anomaly score computed on the FPGA).
"""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from precml_widgets._checks import require_int
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError

if TYPE_CHECKING:
    import torch

__all__ = [
    "JET_TAGGER_CLASSES",
    "JET_TAGGER_INPUTS",
    "JET_TAGGER_LAYERS",
    "JET_TAGGER_WEIGHTS",
    "available_models",
    "default_models",
    "jet_tagger",
    "load_jet_tagger",
    "scored_autoencoder",
    "standardised_inputs",
    "unavailable_models",
]

JET_TAGGER_LAYERS = (16, 64, 32, 32, 5)
JET_TAGGER_CLASSES = ("g", "q", "W", "Z", "t")
#: The tagger's 16 inputs, in order (arXiv:1804.06913, Table 1; the hls4ml jet dataset's
#: names): ``zlogz``, energy-correlation functions after the modified mass-drop tagger,
#: the groomed jet mass and the constituent multiplicity. They are not in CMS NanoAOD.
JET_TAGGER_INPUTS = (
    "j_zlogz",
    "j_c1_b0_mmdt",
    "j_c1_b1_mmdt",
    "j_c1_b2_mmdt",
    "j_c2_b1_mmdt",
    "j_c2_b2_mmdt",
    "j_d2_b1_mmdt",
    "j_d2_b2_mmdt",
    "j_d2_a1_b1_mmdt",
    "j_d2_a1_b2_mmdt",
    "j_m2_b1_mmdt",
    "j_m2_b2_mmdt",
    "j_n2_b1_mmdt",
    "j_n2_b2_mmdt",
    "j_mass_mmdt",
    "j_multiplicity",
)
_KERAS_NAMES = ("fc1_relu", "fc2_relu", "fc3_relu", "output_softmax")


def jet_tagger(*, seed: int = 0) -> torch.nn.Module:
    """The jet-tagging MLP 16 -> 64 -> 32 -> 32 -> 5 (ReLU, softmax output), random weights."""
    torch = require("torch", "fpga", "the jet-tagging MLP")
    nn = torch.nn
    torch.manual_seed(seed)
    widths = JET_TAGGER_LAYERS
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(a, b))
        layers.append(nn.ReLU() if i < len(widths) - 2 else nn.Softmax(dim=-1))
    return nn.Sequential(*layers).eval()


def load_jet_tagger(path: str | os.PathLike[str] | None = None) -> torch.nn.Module:
    """The jet tagger with hls4ml's published trained weights (Keras HDF5 read with h5py).

    Args:
        path: the ``KERAS_3layer_weights.h5`` file; default: the registry's
            ``hls4ml_jet_tagger_weights`` under ``$PRECML_DATA``.

    Returns:
        A torch ``Sequential`` in eval mode; input ``(n, 16)`` standardised jet-substructure
        features, output ``(n, 5)`` class probabilities (g, q, W, Z, t).
    """
    torch = require("torch", "fpga", "the jet-tagging MLP")
    h5py = require("h5py", "fpga", "reading Keras weights")
    from precml_widgets.data import locate

    file = locate(path if path is not None else JET_TAGGER_WEIGHTS)
    model = jet_tagger()
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    try:
        with h5py.File(file, "r") as h5:
            for name, linear in zip(_KERAS_NAMES, linears, strict=True):
                group = h5[name][name]
                kernel = np.asarray(group["kernel:0"], dtype=np.float32)
                bias = np.asarray(group["bias:0"], dtype=np.float32)
                if kernel.shape != (linear.in_features, linear.out_features):
                    raise InvalidInputError(
                        f"{file}: layer {name!r} has kernel shape {kernel.shape}, expected "
                        f"{(linear.in_features, linear.out_features)} for the 16-64-32-32-5 tagger"
                    )
                with torch.no_grad():
                    linear.weight.copy_(torch.from_numpy(kernel.T.copy()))
                    linear.bias.copy_(torch.from_numpy(bias))
    except (KeyError, OSError) as exc:
        raise InvalidInputError(
            f"{file} is not the hls4ml KERAS_3layer weight file (expected HDF5 groups "
            f"{', '.join(_KERAS_NAMES)}): {exc}"
        ) from None
    return model


def scored_autoencoder(autoencoder: torch.nn.Module, n_features: int) -> torch.nn.Module:
    """Wrap an autoencoder so that its output *is* the anomaly score, as the FPGA computes it.

    The output is the summed squared reconstruction error, ``sum_i (x_i - AE(x)_i)^2`` (that is
    ``n_features`` times the mean used by :func:`precml_widgets.anomaly.model.anomaly_scores`;
    a sum needs no multiplier), shape ``(n, 1)``, for standardised inputs ``(n, n_features)``.
    The square is written as ``-(y - x) * (x - y)`` and the sum as a fixed ``Linear(n, 1)`` of
    weights -1: hls4ml's PyTorch frontend supports two-input subtract/multiply merges and dense
    layers, so the whole score becomes firmware and the number that fires the trigger is the
    emulated one.
    """
    torch = require("torch", "fpga", "the autoencoder score")
    n_features = require_int(
        "n_features", n_features, low=1, hint="pass the number of autoencoder inputs, e.g. 5."
    )

    class ScoredAutoencoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.autoencoder = autoencoder
            self.score = torch.nn.Linear(n_features, 1, bias=False)
            with torch.no_grad():
                self.score.weight.fill_(-1.0)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.autoencoder(x)
            return self.score((y - x) * (x - y))

    return ScoredAutoencoder().eval()


def standardised_inputs(trained: Any, features: np.ndarray) -> np.ndarray:
    """Firmware inputs of the autoencoder: ``(features - mean) / std``, float32 ``(n, 5)``.

    Args:
        trained: a :class:`precml_widgets.anomaly.model.TrainResult` (holds mean and std).
        features: raw features ``(n, n_features)`` as returned by ``DimuonEvents.features()``.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(trained.mean):
        raise InvalidInputError(f"features must have shape (n, {len(trained.mean)}), got {x.shape}")
    return ((x - trained.mean) / trained.std).astype(np.float32)


#: The registry name of the jet tagger's published weights.
JET_TAGGER_WEIGHTS = "hls4ml_jet_tagger_weights"


def unavailable_models() -> dict[str, str]:
    """The networks of :func:`default_models` that cannot be loaded here, and why.

    Returns:
        Display name -> one sentence naming the missing file and the command that fetches
        it (:func:`precml_widgets.data.missing_data_message`); empty when all are there.

    Example:
        >>> sorted(unavailable_models()) in ([], ["jet tagger"])
        True
    """
    from precml_widgets.data import is_available, missing_data_message

    if is_available(JET_TAGGER_WEIGHTS):
        return {}
    return {
        "jet tagger": f"The jet tagger is not shown: {missing_data_message(JET_TAGGER_WEIGHTS)}."
    }


def available_models() -> tuple[dict[str, torch.nn.Module], dict[str, str]]:
    """The networks of :func:`default_models` that load here, and a note for each one that
    does not, decided together (one look at the data folder): a page that caches both never
    shows a note for a network it shows, nor hides one without a note.

    Returns:
        ``(models, notes)``: display name -> network as in :func:`default_models` (no
        warning), and display name -> the sentence of :func:`unavailable_models` for every
        network left out.
    """
    from precml_widgets.anomaly.model import load_autoencoder

    notes = unavailable_models()
    trained = load_autoencoder()
    models = {"trigger autoencoder": scored_autoencoder(trained.model, len(trained.mean))}
    if "jet tagger" not in notes:
        models["jet tagger"] = load_jet_tagger()
    return models, notes


def default_models(*, strict: bool = False) -> dict[str, torch.nn.Module]:
    """The networks precml deploys, by display name (weights loaded, nothing emulated).

    Uses the anomaly package's public model API
    (:func:`precml_widgets.anomaly.model.load_autoencoder`) for the trained autoencoder, which
    ships with precml.

    Args:
        strict: raise :class:`~precml_widgets.errors.DataNotFoundError` when the jet tagger's
            weight file is missing; by default the jet tagger is left out with a
            ``UserWarning`` that names the file and the command that fetches it
            (:func:`unavailable_models`), so that a fresh machine still gets the autoencoder.

    Returns:
        ``{"trigger autoencoder": <score network>, "jet tagger": <16-64-32-32-5 MLP>}``: the
        anomaly autoencoder wrapped so that its output is the score, input ``(n, 5)``
        standardised features, output ``(n, 1)`` (:func:`scored_autoencoder`), and hls4ml's
        jet tagger with its published weights, ``(n, 16) -> (n, 5)``
        (:func:`load_jet_tagger`), when its weights are found.
    """
    import warnings

    from precml_widgets.anomaly.model import load_autoencoder

    trained = load_autoencoder()
    models = {"trigger autoencoder": scored_autoencoder(trained.model, len(trained.mean))}
    missing = unavailable_models()
    if "jet tagger" in missing and not strict:
        warnings.warn(missing["jet tagger"], UserWarning, stacklevel=2)
    else:
        models["jet tagger"] = load_jet_tagger()
    return models
