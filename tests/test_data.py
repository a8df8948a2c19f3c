"""The data layer: search order, clear errors, checksummed explicit fetch (no network)."""

from __future__ import annotations

import hashlib
import importlib
import io
from pathlib import Path

import numpy as np
import pytest
import uproot

from precml_widgets import (
    DataNotFoundError,
    InvalidInputError,
    MissingBranchError,
    MissingDependencyError,
    PrecmlError,
)
from precml_widgets._optional import require
from precml_widgets.data import KNOWN_FILES, data_dir, fetch, locate, read_branches

fetch_module = importlib.import_module("precml_widgets.data.fetch")


def test_default_data_dir_is_shared_folder_beside_repo(monkeypatch):
    monkeypatch.delenv("PRECML_DATA", raising=False)
    repo = Path(__file__).resolve().parents[1]
    assert data_dir() == (repo / ".." / "shared" / "data").resolve()


def test_known_files_in_shared_folder_match_their_checksums():
    found = 0
    for name, entry in KNOWN_FILES.items():
        path = data_dir() / entry.relpath
        if not path.is_file():
            continue
        found += 1
        assert path.stat().st_size == entry.size, name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256, name
    if found == 0:
        pytest.skip(f"no shared data folder at {data_dir()}")


def test_falls_back_to_scikit_hep_testdata_wheel(monkeypatch, tmp_path):
    monkeypatch.setenv("PRECML_DATA", str(tmp_path))
    path = locate("cms2010_zmumu")
    assert "skhep_testdata" in str(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == KNOWN_FILES["cms2010_zmumu"].sha256


def test_missing_file_error_says_which_file_and_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PRECML_DATA", str(tmp_path))
    with pytest.raises(DataNotFoundError) as err:
        locate("atlas2016_4lep_a")
    msg = str(err.value)
    assert "data_A.4lep.root" in msg
    assert "PRECML_DATA" in msg
    assert "python -m precml_widgets.data fetch atlas2016_4lep_a" in msg


def test_explicit_missing_path_and_unknown_name():
    with pytest.raises(DataNotFoundError, match=r"nope\.root"):
        locate("/tmp/does/not/exist/nope.root")
    with pytest.raises(InvalidInputError, match="known names"):
        locate("no_such_sample")


def test_read_branches_errors_list_what_is_available(tmp_path):
    f = tmp_path / "t.root"
    with uproot.recreate(f) as out:
        out["events"] = {"x": np.array([1.0, np.nan, 3.0]), "y": np.array([1.0, 2.0, 3.0])}
    with pytest.raises(MissingBranchError) as err:
        read_branches(f, "events", ["x", "z"])
    assert "'z'" in str(err.value) and "Available branches: x, y" in str(err.value)
    with pytest.raises(InvalidInputError, match="holds: events"):
        read_branches(f, "tree", ["x"])
    with pytest.raises(InvalidInputError, match=r"branch 'x'.*1 NaN"):
        read_branches(f, "events", ["x"])
    assert len(read_branches(f, "events", ["x"], allow_nan=True)["x"]) == 3
    bad = tmp_path / "bad.root"
    bad.write_text("not root")
    with pytest.raises(InvalidInputError, match="cannot open"):
        read_branches(bad, "events", ["x"])


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_fetch_verifies_checksum_and_leaves_no_partial_file(monkeypatch, tmp_path):
    good = locate("cms2010_zmumu").read_bytes()
    monkeypatch.setattr(
        fetch_module.urllib.request, "urlopen", lambda *a, **k: _FakeResponse(b"junk")
    )
    with pytest.raises(PrecmlError, match="SHA-256"):
        fetch("cms2010_zmumu", dest=tmp_path)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", lambda *a, **k: _FakeResponse(good))
    path = fetch("cms2010_zmumu", dest=tmp_path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["uproot-Zmumu.root"]


def test_missing_optional_dependency_names_the_extra():
    with pytest.raises(MissingDependencyError, match=r"precml-widgets\[fpga\]"):
        require("surely_not_installed_module", "fpga", "FPGA emulation")
