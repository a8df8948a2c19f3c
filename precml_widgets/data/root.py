"""Read chosen branches from a ROOT file (TTree or RNTuple) with clear errors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from precml_widgets.errors import InvalidInputError, MissingBranchError

if TYPE_CHECKING:
    import awkward as ak

__all__ = ["read_branches"]


def read_branches(
    path: str | os.PathLike[str],
    tree: str,
    branches: Sequence[str],
    *,
    allow_nan: bool = False,
) -> dict[str, ak.Array]:
    """Read ``branches`` of ``tree`` in the ROOT file ``path`` with uproot.

    Args:
        path: ROOT file.
        tree: name of a TTree or RNTuple in it, e.g. ``"events"``.
        branches: branch (field) names to read.
        allow_nan: accept NaN/inf values (otherwise they raise).

    Returns:
        One awkward array per branch, all of length ``n_events``.

    Raises:
        InvalidInputError: the file cannot be opened, the tree is missing, or a branch holds NaN.
        MissingBranchError: a branch is missing; the message lists the available ones.

    Example:
        >>> from precml_widgets.data import locate
        >>> arrays = read_branches(locate("cms2010_zmumu"), "events", ["pt1", "M"])
        >>> len(arrays["M"])
        2304
    """
    import awkward as ak
    import uproot

    try:
        file = uproot.open(path)
    except (OSError, ValueError) as exc:
        raise InvalidInputError(
            f"cannot open {os.fspath(path)!r} as a ROOT file ({exc}). Check that the path points "
            "to a .root file written by ROOT or uproot."
        ) from exc
    with file:
        names = sorted({key.split(";")[0] for key in file.keys(recursive=False)})
        if tree not in names:
            raise InvalidInputError(
                f"{os.fspath(path)!r} has no tree {tree!r}; it holds: "
                f"{', '.join(names) or 'nothing'}. Pass one of these as the tree name."
            )
        obj = file[tree]
        available = list(obj.keys()) if hasattr(obj, "keys") else []
        missing = [b for b in branches if b not in available]
        if missing:
            raise MissingBranchError(
                f"{os.fspath(path)!r}:{tree} has no branch {', '.join(map(repr, missing))}. "
                f"Available branches: {', '.join(available)}"
            )
        arrays = obj.arrays(list(branches))
    out = {b: arrays[b] for b in branches}
    if not allow_nan:
        for b, values in out.items():
            flat = ak.to_numpy(ak.flatten(values, axis=None))
            if flat.dtype.kind == "f":
                bad = int(np.count_nonzero(~np.isfinite(flat)))
                if bad:
                    raise InvalidInputError(
                        f"branch {b!r} of {os.fspath(path)!r}:{tree} holds {bad} NaN/inf values "
                        f"(of {flat.size}). Drop those events first, or pass allow_nan=True."
                    )
    return out
