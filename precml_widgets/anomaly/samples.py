"""Load the real samples of the anomaly slice in the common two-leading-muon representation."""

from __future__ import annotations

import os

import awkward as ak
import numpy as np

from precml_widgets._checks import require_seed
from precml_widgets.anomaly.events import DimuonEvents
from precml_widgets.data import known_file, locate, read_branches
from precml_widgets.errors import InvalidInputError

__all__ = ["REAL_SAMPLES", "load_root_dimuons", "load_sample", "split_tune_validate"]

#: Sample name -> (description, real?) for :func:`load_sample`.
REAL_SAMPLES: dict[str, tuple[str, bool]] = {
    "cms2010_zmumu": ("CMS 2010 dimuon data, 7 TeV (the background)", True),
    "cms2012_doublemu": (
        "CMS 2012 DoubleMuParked data, 8 TeV (different trigger and energy)",
        True,
    ),
    "atlas2016_4lep": ("ATLAS 2016 four-lepton data, 13 TeV (ZZ*, H -> 4l)", True),
    "hep_tutorial_hzz": (
        "CMS HEP-tutorial simulation (uproot-HZZ.root; process not recorded)",
        False,
    ),
}


def _two_leading(pt: ak.Array, eta: ak.Array, phi: ak.Array) -> tuple[np.ndarray, ...]:
    """The two highest-pT entries of jagged per-event lists, for events that have two."""
    order = ak.argsort(pt, axis=1, ascending=False)
    pt, eta, phi = pt[order], eta[order], phi[order]
    keep = ak.num(pt, axis=1) >= 2
    return tuple(ak.to_numpy(x[keep][:, :2]).astype(np.float64) for x in (pt, eta, phi))


def load_sample(name: str, path: str | os.PathLike[str] | None = None) -> DimuonEvents:
    """Load one of :data:`REAL_SAMPLES` (events with at least two muons, leading two kept).

    Args:
        name: a key of :data:`REAL_SAMPLES`.
        path: explicit file (for ``atlas2016_4lep``: a folder with ``data_[A-D].4lep.root``);
            by default the data folder, then package data (see :func:`precml_widgets.data.locate`).

    Example:
        >>> load_sample("cms2010_zmumu").n
        500
    """
    if name not in REAL_SAMPLES:
        raise InvalidInputError(
            f"unknown sample {name!r}; known samples: {', '.join(REAL_SAMPLES)}. To read another "
            "ROOT file use load_root_dimuons(path, tree, branches)."
        )
    description, real = REAL_SAMPLES[name]
    if name == "cms2010_zmumu":
        f = locate(path or name)
        b = read_branches(
            f, "events", ["Run", "Event", "Type", "pt1", "pt2", "eta1", "eta2", "phi1", "phi2"]
        )
        # The file stores each collision several times, once per pair of muon reconstructions
        # (global-global "GG", global-tracker "GT", tracker-tracker "TT"): 2304 entries, 500
        # collisions. Keep one GG pair per collision -- the one with the largest pT1 + pT2,
        # i.e. the two leading global muons -- so that every event is independent.
        gg = np.flatnonzero(ak.to_numpy(b["Type"]) == "GG")
        run, event = ak.to_numpy(b["Run"])[gg], ak.to_numpy(b["Event"])[gg]
        ht = ak.to_numpy(b["pt1"])[gg] + ak.to_numpy(b["pt2"])[gg]
        order = np.lexsort((-ht, event, run))  # per collision, the largest pT sum first
        keys = np.column_stack([run[order], event[order]])
        first = np.ones(len(order), dtype=bool)
        first[1:] = np.any(keys[1:] != keys[:-1], axis=1)
        rows = np.sort(gg[order[first]])
        pt, eta, phi = (
            np.column_stack([ak.to_numpy(b[f"{v}1"])[rows], ak.to_numpy(b[f"{v}2"])[rows]])
            for v in ("pt", "eta", "phi")
        )
    elif name == "cms2012_doublemu":
        f = locate(path or name)
        b = read_branches(f, "Events", ["Muon_pt", "Muon_eta", "Muon_phi"])
        pt, eta, phi = _two_leading(b["Muon_pt"], b["Muon_eta"], b["Muon_phi"])
    elif name == "hep_tutorial_hzz":
        f = locate(path or name)
        b = read_branches(f, "events", ["Muon_Px", "Muon_Py", "Muon_Pz"])
        px, py, pz = b["Muon_Px"], b["Muon_Py"], b["Muon_Pz"]
        ptj = np.hypot(px, py)
        pt, eta, phi = _two_leading(ptj, np.arcsinh(pz / ptj), np.arctan2(py, px))
    else:
        if path:
            folder = os.fspath(path)
            if not os.path.isdir(folder):
                raise InvalidInputError(
                    f"for 'atlas2016_4lep', path must be a folder holding data_[A-D].4lep.root; "
                    f"{folder!r} is not a folder."
                )
            files = sorted(
                os.path.join(folder, p) for p in os.listdir(folder) if p.endswith(".4lep.root")
            )
            if not files:
                raise InvalidInputError(
                    f"folder {folder!r} holds no *.4lep.root files; pass the folder of the ATLAS "
                    "Open Data 4-lepton skim (data_A.4lep.root ... data_D.4lep.root)."
                )
        else:
            files = [locate(f"atlas2016_4lep_{p}") for p in "abcd"]
        parts = [
            read_branches(f, "mini", ["lep_pt", "lep_eta", "lep_phi", "lep_type"]) for f in files
        ]
        lep = {k: ak.concatenate([p[k] for p in parts]) for k in parts[0]}
        is_mu = lep["lep_type"] == 13
        # ATLAS Open Data stores momenta in MeV
        pt, eta, phi = _two_leading(
            lep["lep_pt"][is_mu] / 1000.0, lep["lep_eta"][is_mu], lep["lep_phi"][is_mu]
        )
    source = f"{description}; real collision data" if real else f"{description}; simulated events"
    if name != "atlas2016_4lep":
        source += f" ({known_file(name).source})"
    return DimuonEvents.from_arrays(name, pt, eta, phi, real=real, description=source)


def load_root_dimuons(
    path: str | os.PathLike[str],
    tree: str,
    branches: dict[str, str],
    *,
    name: str = "user_sample",
    real: bool = True,
) -> DimuonEvents:
    """Read a user's ROOT file into the common representation.

    Args:
        path: ROOT file.
        tree: tree or RNTuple name.
        branches: maps ``"pt"``, ``"eta"``, ``"phi"`` to jagged per-muon branches (GeV, -, rad).
        name: sample name.
        real: whether the file holds recorded data.

    Example:
        >>> from precml_widgets.data import locate
        >>> load_root_dimuons(locate("cms2012_doublemu"), "Events",
        ...     {"pt": "Muon_pt", "eta": "Muon_eta", "phi": "Muon_phi"}).n
        864
    """
    need = {"pt", "eta", "phi"}
    if set(branches) != need:
        raise InvalidInputError(
            f"branches must map exactly {sorted(need)} to branch names, got {sorted(branches)}; "
            "e.g. {'pt': 'Muon_pt', 'eta': 'Muon_eta', 'phi': 'Muon_phi'}"
        )
    b = read_branches(path, tree, [branches[k] for k in ("pt", "eta", "phi")])
    arrays = [b[branches[k]] for k in ("pt", "eta", "phi")]
    if arrays[0].ndim == 1:
        raise InvalidInputError(
            f"branch {branches['pt']!r} holds one value per event; give per-muon (jagged) branches."
        )
    pt, eta, phi = _two_leading(*arrays)
    return DimuonEvents.from_arrays(name, pt, eta, phi, real=real, description=f"{path}:{tree}")


def split_tune_validate(
    events: DimuonEvents, seed: int | None = None
) -> tuple[DimuonEvents, DimuonEvents]:
    """Split the events into a tuning half and a held-out validation half.

    Args:
        events: the real events.
        seed: ``None`` alternates (even-numbered events tune, odd-numbered ones are held
            out); an integer draws a random half (numpy Generator) instead, so that a study
            repeated over seeds also averages over the split.
    """
    idx = np.arange(events.n)
    if seed is None:
        mask = idx % 2 == 0
        how = ("even-numbered collisions", "odd-numbered collisions")
    else:
        require_seed("seed", seed, hint="pass an integer >= 0, or None for the even/odd split.")
        mask = np.zeros(events.n, dtype=bool)
        mask[np.random.default_rng(seed).permutation(events.n)[: (events.n + 1) // 2]] = True
        how = (f"random half, split seed {seed}", f"other half, split seed {seed}")
    tune = events.select(mask, f"{events.name}_tune", events.description + f" [{how[0]}]")
    val = events.select(~mask, f"{events.name}_validate", events.description + f" [{how[1]}]")
    return tune, val
