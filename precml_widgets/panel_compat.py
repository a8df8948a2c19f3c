"""Keyword arguments that work on every supported Panel version (1.4 to 1.9+)."""

from __future__ import annotations

__all__ = ["color_kwargs", "label_kwargs"]


def color_kwargs(widget: type, color: str = "primary") -> dict[str, str]:
    """``color=`` on Panel >= 1.8, ``button_type=`` before (deprecated since).

    Example:
        >>> class Fake:
        ...     param = ["color"]
        >>> color_kwargs(Fake)
        {'color': 'primary'}
    """
    return {"color": color} if "color" in widget.param else {"button_type": color}


def label_kwargs(widget: type, text: str) -> dict[str, str]:
    """``label=`` on Panel >= 1.8 (it sets ``name`` too), ``name=`` before.

    Example:
        >>> class Fake:
        ...     param = ["name"]
        >>> label_kwargs(Fake, "Train")
        {'name': 'Train'}
    """
    return {"label": text} if "label" in widget.param else {"name": text}
