"""A small dense autoencoder whose reconstruction error is the anomaly score.

Trained on background only (unsupervised), as in the CMS L1 anomaly-detection studies
(Govorkova et al., arXiv:2108.03986). Saved as safetensors with JSON metadata: loading
never executes code.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from precml_widgets._checks import require_array, require_int, require_real, require_seed
from precml_widgets._io import atomic_path
from precml_widgets._optional import require
from precml_widgets.anomaly.events import FEATURE_NAMES
from precml_widgets.anomaly.model_file import autoencoder_shapes, check_tensors, read_header
from precml_widgets.errors import InvalidInputError

if TYPE_CHECKING:
    import torch

__all__ = [
    "PRETRAINED_PATH",
    "AutoencoderConfig",
    "TrainResult",
    "anomaly_scores",
    "build_autoencoder",
    "load_autoencoder",
    "save_autoencoder",
    "train_autoencoder",
]

PRETRAINED_PATH = Path(__file__).parent / "pretrained" / "dimuon_ae.safetensors"


@dataclass(frozen=True)
class AutoencoderConfig:
    """Architecture and training settings.

    Attributes:
        hidden: widths of the encoder's hidden layers (the decoder mirrors them).
        latent: bottleneck width.
        epochs: passes over the training set.
        batch_size: events per optimiser step.
        learning_rate: Adam step size.
        seed: torch seed for initialisation and shuffling.
    """

    hidden: tuple[int, ...] = (32, 16)
    latent: int = 2
    epochs: int = 20
    batch_size: int = 1024
    learning_rate: float = 3e-3
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`InvalidInputError` for impossible settings."""
        hint = "layer widths, epochs and batch_size are whole numbers >= 1."
        require_int("latent", self.latent, low=1, hint=hint)
        for width in self.hidden:
            require_int("hidden layer width", width, low=1, hint=hint)
        require_int("epochs", self.epochs, low=1, hint=hint)
        require_int("batch_size", self.batch_size, low=1, hint=hint)
        require_real("learning_rate", self.learning_rate, low=0.0, low_open=True, hint="try 3e-3.")
        require_seed("seed", self.seed)


@dataclass
class TrainResult:
    """A trained autoencoder with its input standardisation and loss history.

    Attributes:
        model: the torch module (on CPU after training).
        mean, std: per-feature standardisation, shape ``(n_features,)``.
        config: the settings used.
        loss_history: mean training loss per epoch.
        n_train: number of training events.
        seconds: wall time of training.
        feature_names: names of the input features.
        provenance: free-form notes saved with the weights (training sample, versions).
    """

    model: torch.nn.Module
    mean: np.ndarray
    std: np.ndarray
    config: AutoencoderConfig
    loss_history: list[float]
    n_train: int
    seconds: float
    feature_names: tuple[str, ...] = FEATURE_NAMES
    provenance: dict[str, Any] = field(default_factory=dict)


def build_autoencoder(n_features: int, config: AutoencoderConfig) -> torch.nn.Module:
    """A dense autoencoder ``n_features -> hidden... -> latent -> ...hidden -> n_features``."""
    torch = require("torch", "anomaly", "the autoencoder")
    nn = torch.nn
    widths = [n_features, *config.hidden, config.latent]
    layers: list[Any] = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.pop()  # linear bottleneck
    rev = widths[::-1]
    for a, b in itertools.pairwise(rev):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.pop()  # linear output
    return nn.Sequential(*layers)


def train_autoencoder(
    features: np.ndarray,
    config: AutoencoderConfig | None = None,
    *,
    device: str | None = None,
    progress: bool = True,
    provenance: dict[str, Any] | None = None,
) -> TrainResult:
    """Train on background features (mean-squared reconstruction error).

    Args:
        features: background inputs, shape ``(n_events, n_features)``.
        config: settings (defaults: :class:`AutoencoderConfig`).
        device: torch device; CUDA when present, CPU otherwise.
        progress: show a tqdm bar over epochs.
        provenance: notes stored with saved weights.
    """
    import time

    from tqdm.auto import tqdm

    from precml_widgets.device import default_device

    torch = require("torch", "anomaly", "the autoencoder")
    config = config or AutoencoderConfig()
    config.validate()
    x = _check_features(features, "features")
    if len(x) < 2:
        raise InvalidInputError("features: need at least 2 training events")
    dev = default_device(device)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    torch.manual_seed(config.seed)
    model = build_autoencoder(x.shape[1], config).to(dev)
    data = torch.from_numpy(((x - mean) / std).astype(np.float32)).to(dev)
    # the fused Adam kernel (CPU since torch 2.4) cuts the per-step overhead that dominates
    # for a network this small
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate, fused=True)
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    history: list[float] = []
    start = time.perf_counter()
    bar = tqdm(range(config.epochs), desc="training autoencoder", disable=not progress)
    for _ in bar:
        perm = torch.randperm(len(data), generator=gen).to(dev)
        total = torch.zeros((), device=dev)
        for i in range(0, len(data), config.batch_size):
            batch = data[perm[i : i + config.batch_size]]
            loss = torch.mean((model(batch) - batch) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(batch)
        history.append(float(total) / len(data))
        bar.set_postfix(loss=f"{history[-1]:.4f}")
    model = model.cpu().eval()
    return TrainResult(
        model,
        mean,
        std,
        config,
        history,
        len(x),
        time.perf_counter() - start,
        provenance=dict(provenance or {}),
    )


def anomaly_scores(
    result: TrainResult, features: np.ndarray, *, batch_size: int = 65536
) -> np.ndarray:
    """Reconstruction error (mean over standardised features), shape ``(n_events,)``."""
    torch = require("torch", "anomaly", "the autoencoder")
    x = _check_features(features, "features", n_features=len(result.mean))
    out = np.empty(len(x), dtype=np.float64)
    with torch.inference_mode():
        for i in range(0, len(x), batch_size):
            z = torch.from_numpy(
                ((x[i : i + batch_size] - result.mean) / result.std).astype(np.float32)
            )
            rec = result.model(z)
            out[i : i + batch_size] = torch.mean((rec - z) ** 2, dim=1).double().numpy()
    return out


def save_autoencoder(result: TrainResult, path: str | os.PathLike[str]) -> Path:
    """Write weights and metadata to a safetensors file atomically (:func:`_io.atomic_path`).

    Missing folders are created.
    """
    save_file = require("safetensors.torch", "anomaly", "saving models").save_file
    path = Path(path)
    meta = {
        "precml": json.dumps(
            {
                "format": "precml-dimuon-autoencoder/1",
                "config": asdict(result.config),
                "mean": result.mean.tolist(),
                "std": result.std.tolist(),
                "feature_names": list(result.feature_names),
                "loss_history": result.loss_history,
                "n_train": result.n_train,
                "seconds": result.seconds,
                "provenance": result.provenance,
            }
        )
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()}
    with atomic_path(path, make_parents=True) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def load_autoencoder(path: str | os.PathLike[str] = PRETRAINED_PATH) -> TrainResult:
    """Load a model written by :func:`save_autoencoder` (no code is executed).

    The file's header is checked first (:mod:`precml_widgets.anomaly.model_file`): the
    metadata's architecture, the tensors' names, shapes, dtypes and byte ranges must agree and
    stay under :data:`~precml_widgets.anomaly.model_file.MAX_PARAMETERS` before any weight is
    read or any layer is built.

    Raises:
        InvalidInputError: the file is missing, not safetensors, not written by
            :func:`save_autoencoder`, or its weights and metadata disagree.

    Example:
        >>> ae = load_autoencoder()
        >>> ae.feature_names
        ('log_pt1', 'log_pt2', 'eta1', 'eta2', 'abs_dphi')
    """
    load_file = require("safetensors.torch", "anomaly", "loading models").load_file
    path = Path(path)
    label = repr(str(path))
    try:
        is_file = path.is_file()
    except OSError as exc:  # e.g. a folder on the way that may not be searched
        raise InvalidInputError(
            f"cannot read the model file {label}: {exc.strerror or type(exc).__name__}; check "
            "the path and its folders' permissions."
        ) from None
    if not is_file:
        raise InvalidInputError(f"model file {label} does not exist; train one or check the path.")
    header, metadata = read_header(path)  # raises InvalidInputError only
    raw = metadata.get("precml")
    if raw is None:
        raise InvalidInputError(
            f"{label} has no precml metadata; it was not written by save_autoencoder."
        )
    try:
        meta = json.loads(raw)
        if meta.get("format") != "precml-dimuon-autoencoder/1":
            raise InvalidInputError(f"{label}: unknown model format {meta.get('format')!r}")
        if tuple(meta["feature_names"]) != FEATURE_NAMES:
            raise InvalidInputError(
                f"{label} was trained on features {meta['feature_names']}, but precml's "
                f"dimuon representation gives {list(FEATURE_NAMES)}; retrain the model."
            )
        cfg = meta["config"]
        config = AutoencoderConfig(**{**cfg, "hidden": tuple(cfg["hidden"])})
        config.validate()
        mean = np.asarray(meta["mean"], dtype=np.float64)
        std = np.asarray(meta["std"], dtype=np.float64)
        if mean.shape != (len(FEATURE_NAMES),) or std.shape != mean.shape:
            raise InvalidInputError(
                f"{label}: mean and std must hold one number per feature "
                f"({len(FEATURE_NAMES)}), got shapes {mean.shape} and {std.shape}; retrain."
            )
        try:
            shapes = autoencoder_shapes(len(mean), config.hidden, config.latent)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{label}: {exc}") from None
        check_tensors(label, header, shapes)
        try:
            tensors = load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types
            raise InvalidInputError(f"{label} is not a readable safetensors file: {exc}") from exc
        model = build_autoencoder(len(mean), config)
        model.load_state_dict(tensors)
        model.eval()
        return TrainResult(
            model,
            mean,
            std,
            config,
            list(meta["loss_history"]),
            int(meta["n_train"]),
            float(meta["seconds"]),
            tuple(meta["feature_names"]),
            dict(meta.get("provenance", {})),
        )
    except (ValueError, KeyError, TypeError, RuntimeError, AttributeError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(
            f"{label} has broken or inconsistent precml metadata or weights ({exc!r}); "
            "it was not written by this version of save_autoencoder: retrain and save again."
        ) from exc


def _check_features(features: np.ndarray, label: str, n_features: int | None = None) -> np.ndarray:
    want = f"(n_events, {n_features})" if n_features else "(n_events, n_features)"
    x = require_array(label, features, finite=False, hint=f"pass an array of shape {want}.")
    if x.ndim != 2 or (n_features is not None and x.shape[1] != n_features):
        raise InvalidInputError(f"{label} must have shape {want}, got {x.shape}")
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        raise InvalidInputError(f"{label} holds {bad} NaN/inf values; drop those events first.")
    return x
