"""precml widgets: interactive precision machine learning for high-energy physics.

The compute core lives in topic subpackages (``precml_widgets.anomaly``, ``precml_widgets.data``,
``precml_widgets.stats``); Panel views sit on top of it and are imported only when used.
"""

from __future__ import annotations

from precml_widgets.errors import (
    DataNotFoundError,
    InvalidInputError,
    MissingBranchError,
    MissingDependencyError,
    PrecmlError,
)

__version__ = "0.1.0"

__all__ = [
    "DataNotFoundError",
    "InvalidInputError",
    "MissingBranchError",
    "MissingDependencyError",
    "PrecmlError",
    "__version__",
]
