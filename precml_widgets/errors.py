"""The exception types of precml: every bad input ends in one of these.

Each message names the input, says what was expected, and says how to fix it.
"""

from __future__ import annotations

__all__ = [
    "DataNotFoundError",
    "InvalidInputError",
    "MissingBranchError",
    "MissingDependencyError",
    "PrecmlError",
]


class PrecmlError(Exception):
    """Base class of all precml errors."""


class InvalidInputError(PrecmlError, ValueError):
    """An argument or array has the wrong shape, range or content (NaN, negative, empty...)."""


class DataNotFoundError(PrecmlError, FileNotFoundError):
    """A data file is in none of the places precml looks; the message says how to get it."""


class MissingBranchError(PrecmlError, KeyError):
    """A ROOT file lacks a branch that was asked for; the message lists what it has."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(PrecmlError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""
