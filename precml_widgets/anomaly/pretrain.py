"""Reproduce the shipped autoencoder weights: ``python -m precml_widgets.anomaly.pretrain``."""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

from precml_widgets.anomaly.fastsim import DimuonKDE
from precml_widgets.anomaly.model import (
    PRETRAINED_PATH,
    AutoencoderConfig,
    TrainResult,
    save_autoencoder,
    train_autoencoder,
)
from precml_widgets.anomaly.samples import load_sample, split_tune_validate

__all__ = ["pretrain"]

#: Seed of the training sample of the shipped weights.
TRAINING_SEED = 1000


def pretrain(
    n_train: int = 200_000,
    config: AutoencoderConfig | None = None,
    path: str | Path = PRETRAINED_PATH,
    progress: bool = True,
) -> TrainResult:
    """Train on the fast-simulated background (tuned on even CMS 2010 events) and save."""
    import numpy as np
    import scipy
    import torch

    tune, _ = split_tune_validate(load_sample("cms2010_zmumu"))
    kde = DimuonKDE.tuned(tune)
    x = kde.sample(n_train, seed=TRAINING_SEED).features()
    result = train_autoencoder(
        x,
        config or AutoencoderConfig(),
        progress=progress,
        provenance={
            "training sample": (
                f"{n_train} fast-sim events (seed {TRAINING_SEED}) from a KDE with bandwidth "
                f"{kde.bandwidth} x Scott tuned on the even-indexed events of real CMS 2010 dimuon "
                "data (uproot-Zmumu.root)"
            ),
            "versions": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "numpy": np.__version__,
                "scipy": scipy.__version__,
            },
            "command": "python -m precml_widgets.anomaly.pretrain",
        },
    )
    save_autoencoder(result, path)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-train", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=AutoencoderConfig().epochs)
    parser.add_argument("--out", default=str(PRETRAINED_PATH))
    args = parser.parse_args()
    r = pretrain(args.n_train, AutoencoderConfig(epochs=args.epochs), args.out)
    print(f"wrote {args.out}: final loss {r.loss_history[-1]:.4f} after {r.seconds:.0f} s")
