"""Lazy imports: optional heavy dependencies (an error names the extra to install) and the
names a package re-exports only on first access."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from precml_widgets.errors import MissingDependencyError

__all__ = ["lazy_exports", "require"]


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


def lazy_exports(
    package: str, lazy: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's module ``__getattr__`` and ``__dir__`` for names imported on first access.

    Args:
        package: the package's ``__name__``.
        lazy: public name -> the submodule (relative to ``package``) that defines it.
        public: the package's ``__all__``.

    Example:
        >>> getattr_, _ = lazy_exports("precml_widgets", {"require": "_optional"}, ["require"])
        >>> getattr_("require") is require
        True
    """

    def module_getattr(name: str) -> Any:
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def module_dir() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return module_getattr, module_dir
