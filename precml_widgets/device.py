"""Pick the compute device: CUDA when present, CPU otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING

from precml_widgets._optional import require

if TYPE_CHECKING:
    import torch

__all__ = ["default_device"]


def default_device(prefer: str | None = None) -> torch.device:
    """Return ``torch.device(prefer)`` if given, else ``cuda`` when available, else ``cpu``."""
    torch = require("torch", "anomaly", "neural networks")
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
