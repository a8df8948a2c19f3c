"""Lazy import of optional heavy dependencies with an error naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from precml_widgets.errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, extra: str, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the pip extra.

    Args:
        module: importable module name, e.g. ``"torch"``.
        extra: the precml extra that provides it, e.g. ``"anomaly"``.
        purpose: what it is needed for, shown in the message.

    Example:
        >>> require("math", "all").sqrt(4.0)
        2.0
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        why = f" for {purpose}" if purpose else ""
        raise MissingDependencyError(
            f"precml needs the package '{module}'{why}, which is not installed. "
            f"Install it with: pip install 'precml-widgets[{extra}]'"
        ) from exc
