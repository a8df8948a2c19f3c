"""The data layer: search order, clear errors, checksummed explicit fetch (no network)."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import re
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
from precml_widgets.data import (
    KNOWN_FILES,
    data_dir,
    fetch,
    find,
    locate,
    missing_files,
    read_branches,
)

fetch_module = importlib.import_module("precml_widgets.data.fetch")


def test_default_data_dir_is_shared_folder_beside_repo(monkeypatch, tmp_path):
    """Both branches on any machine (a fresh clone has no ../shared): the shared folder when it
    exists beside the checkout, else ~/.precml/data; PRECML_DATA wins over both."""
    locate_module = importlib.import_module("precml_widgets.data.locate")
    monkeypatch.delenv("PRECML_DATA", raising=False)
    monkeypatch.setattr(locate_module, "_REPO_ROOT", tmp_path / "checkout")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "checkout").mkdir()
    assert data_dir() == tmp_path / "home" / ".precml" / "data"  # no ../shared/data yet
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert data_dir() == (tmp_path / "shared" / "data").resolve()
    monkeypatch.setenv("PRECML_DATA", str(tmp_path / "mine"))
    assert data_dir() == tmp_path / "mine"


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


# --- a fresh machine: the packaged table, the registry's addresses, list and fetch -------------

REPO = Path(__file__).resolve().parents[1]
PACKAGED_TABLE = REPO / "precml_widgets" / "fpga" / "synthesis_table.csv"
PROVENANCE = REPO / "precml_widgets" / "fpga" / "synthesis_table_provenance.json"
main_module = importlib.import_module("precml_widgets.data.__main__")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_packaged_synthesis_table_is_the_registry_file_with_its_provenance():
    import csv
    import json

    entry = KNOWN_FILES["hls4ml_synthesis_table"]
    assert entry.packaged == "fpga/synthesis_table.csv"
    assert _sha(PACKAGED_TABLE) == entry.sha256
    assert PACKAGED_TABLE.stat().st_size == entry.size
    rows = list(csv.DictReader(PACKAGED_TABLE.open(newline="", encoding="utf-8")))
    assert len(rows) == 57
    shared = data_dir() / entry.relpath
    if shared.is_file():  # the shared folder's copy, where present, is byte for byte the same
        assert shared.read_bytes() == PACKAGED_TABLE.read_bytes()
    prov = json.loads(PROVENANCE.read_text())
    assert prov["sha256"] == entry.sha256 and prov["n_rows"] == 57
    assert "not shipped" in prov["raw_reports"]
    # every row's repository and commit is listed, with its row count, and nothing else
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        key = ("https://github.com/" + r["repo"], r["commit"])
        counts[key] = counts.get(key, 0) + 1
    assert {(s["repository"], s["commit"]): s["rows"] for s in prov["sources"]} == counts
    assert all(len(s["commit"]) == 40 for s in prov["sources"])
    # the raw reports stay outside the package
    assert not list((REPO / "precml_widgets").rglob("*_csynth.*"))


def test_package_data_ships_the_table_and_its_provenance():
    import fnmatch
    import tomllib

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["precml_widgets"]
    for rel in ("fpga/synthesis_table.csv", "fpga/synthesis_table_provenance.json"):
        assert any(fnmatch.fnmatch(rel, p.replace("**/", "*")) for p in patterns), rel


def test_locate_finds_the_packaged_table_when_the_data_folder_lacks_it(monkeypatch, tmp_path):
    from precml_widgets.data import find

    monkeypatch.setenv("PRECML_DATA", str(tmp_path))
    assert locate("hls4ml_synthesis_table") == PACKAGED_TABLE
    assert find("hls4ml_synthesis_table").origin == "packaged"
    assert find("cms2010_zmumu").origin == "scikit-hep-testdata wheel"
    assert find("hls4ml_jet_tagger_weights") is None
    # fetching a packaged file needs no network and no address ("collected from" is gone)
    assert fetch("hls4ml_synthesis_table") == PACKAGED_TABLE


def test_data_dir_outside_a_checkout_is_the_user_folder(monkeypatch, tmp_path):
    locate_module = importlib.import_module("precml_widgets.data.locate")
    monkeypatch.delenv("PRECML_DATA", raising=False)
    monkeypatch.setattr(locate_module, "_REPO_ROOT", tmp_path / "site-packages")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".precml" / "data"


def test_every_file_is_packaged_or_has_a_pinned_publisher_address():
    pinned = {
        "scikit-hep/scikit-hep-testdata/f51b8fb0aa3b3609996375a745eac8084472245f/",
        "fastmachinelearning/example-models/ce390f9a806dac2c254736c6113896c540e7447b/",
        "Hector-Plata/hls4ml-tutorial/4ac4f07a0edf530cde74aec53610e1e22a6ecc2d/",
        "TomStevo/IntroToMLATLASOpenData/b6cb45a6b47aaa762e2c3c35b3e939ef7303b768/",
    }
    for name, entry in KNOWN_FILES.items():
        assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256), name
        assert entry.size > 0, name
        if entry.packaged:
            assert (REPO / "precml_widgets" / entry.packaged).is_file(), name
            continue
        assert entry.urls, f"{name}: neither packaged nor downloadable"
        for url in entry.urls:
            assert url.startswith("https://"), (name, url)
            assert "/main/" not in url and "/master/" not in url, (name, url)
            assert url.endswith(Path(entry.relpath).name), (name, url)
            if url.startswith("https://raw.githubusercontent.com/"):
                assert any(p in url for p in pinned), (name, url)
            else:  # the ATLAS Open Data 2020 release folder
                assert url.startswith(
                    "https://atlas-opendata.web.cern.ch/atlas-opendata/samples/2020/4lep/Data/"
                ), (name, url)


def test_missing_data_message_names_the_files_and_the_command(monkeypatch, tmp_path):
    from precml_widgets.data import missing_data_message

    monkeypatch.setenv("PRECML_DATA", str(tmp_path))
    assert missing_data_message("hls4ml_jet_tagger_weights") == (
        "missing data file 'hls4ml_jet_tagger_weights' (KERAS_3layer_weights.h5): fetch it with "
        "`python -m precml_widgets.data fetch hls4ml_jet_tagger_weights`"
    )
    group = missing_data_message("atlas2016_4lep")
    assert group.endswith(
        "fetch them with `python -m precml_widgets.data fetch atlas2016_4lep_a atlas2016_4lep_b "
        "atlas2016_4lep_c atlas2016_4lep_d`"
    )
    with pytest.raises(DataNotFoundError) as err:
        locate("cms2012_doublemu")
    assert str(err.value).startswith(missing_data_message("cms2012_doublemu"))
    assert "collected from collected from" not in str(err.value)


def test_list_on_a_fresh_machine_says_where_and_how(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PRECML_DATA", str(tmp_path / "nowhere"))
    assert main_module.main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"data folder: {tmp_path / 'nowhere'} (set by PRECML_DATA; does not")
    assert "python -m precml_widgets.data fetch --missing" in out[0]
    rows = {line.split()[0]: line for line in out[1:-1]}
    assert set(rows) == set(KNOWN_FILES)
    assert "packaged: " in rows["hls4ml_synthesis_table"]
    assert "scikit-hep-testdata wheel: " in rows["cms2010_zmumu"]
    missing = [n for n, line in rows.items() if "MISSING" in line]
    assert len(missing) == 7
    for name in missing:
        assert rows[name].endswith(f"MISSING -> python -m precml_widgets.data fetch {name}")
    assert out[-1].startswith(f"7 of {len(KNOWN_FILES)} files missing")


@pytest.fixture
def http_folder(tmp_path):
    """A local HTTP server (no real network) serving ``tmp_path / 'www'``; yields (url, folder)."""
    import functools
    import http.server
    import threading

    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))

    class Quiet(handler.func):  # type: ignore[name-defined]
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(www))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", www
    server.shutdown()
    server.server_close()


def _serve_entry(monkeypatch, name, base, *, urls):
    import dataclasses

    entry = dataclasses.replace(
        KNOWN_FILES[name], url=base + urls[0], mirrors=tuple(base + u for u in urls[1:])
    )
    monkeypatch.setitem(KNOWN_FILES, name, entry)
    return entry


def test_fetch_over_http_checks_the_checksum_and_falls_back_to_a_mirror(
    monkeypatch, tmp_path, http_folder
):
    base, www = http_folder
    good = locate("cms2010_zmumu").read_bytes()
    (www / "good.root").write_bytes(good)
    (www / "bad.root").write_bytes(good[:-1] + b"x")
    dest = tmp_path / "data"
    entry = _serve_entry(monkeypatch, "cms2010_zmumu", base, urls=["bad.root", "gone.root"])
    with pytest.raises(PrecmlError) as err:
        fetch("cms2010_zmumu", dest=dest)
    msg = str(err.value)
    assert "'cms2010_zmumu'" in msg and base + "bad.root" in msg and base + "gone.root" in msg
    assert "SHA-256" in msg and "404" in msg
    assert f"download the file by hand from {base}bad.root" in msg
    assert entry.sha256 in msg and str(dest / entry.relpath) in msg
    assert not dest.exists()  # no partial file, not even an empty folder
    _serve_entry(monkeypatch, "cms2010_zmumu", base, urls=["bad.root", "good.root"])
    seen: list[int] = []
    path = fetch("cms2010_zmumu", dest=dest, on_bytes=seen.append)
    assert path == dest / entry.relpath and path.read_bytes() == good
    assert sum(seen) == len(good)  # the bad download's bytes were taken back
    assert [p.name for p in dest.rglob("*") if p.is_file()] == ["uproot-Zmumu.root"]


def test_fetch_missing_fetches_all_with_a_progress_bar_and_a_summary(
    monkeypatch, tmp_path, http_folder, capsys
):
    base, www = http_folder
    monkeypatch.setenv("PRECML_DATA", str(tmp_path / "data"))
    shared = {n: locate(n) for n in ("cms2010_zmumu", "hep_tutorial_hzz")}
    for name, path in shared.items():  # pretend the wheel lacks them: the fetch must get them
        (www / path.name).write_bytes(path.read_bytes())
        _serve_entry(monkeypatch, name, base, urls=[path.name])
    monkeypatch.setattr(main_module, "missing_files", lambda: list(shared))
    (www / "junk.h5").write_bytes(b"junk")
    _serve_entry(monkeypatch, "hls4ml_jet_tagger_weights", base, urls=["junk.h5"])
    status = main_module.main(["fetch", "--missing", "hls4ml_jet_tagger_weights"])
    out, err = capsys.readouterr()
    assert status == 1
    # one tqdm bar over the bytes of all files (the failed file's bytes taken back)
    total = sum(KNOWN_FILES[n].size for n in (*shared, "hls4ml_jet_tagger_weights")) / 1024
    assert re.search(rf"fetch: +\d+%\|.*\| \d+k/{total:.0f}k \[", err), err
    for name, path in shared.items():
        target = tmp_path / "data" / KNOWN_FILES[name].relpath
        assert f"{name}: fetched {target}" in out
        assert target.read_bytes() == path.read_bytes()
    assert "hls4ml_jet_tagger_weights: FAILED: could not fetch" in err
    assert "2 of 3 file(s) ready; FAILED: hls4ml_jet_tagger_weights" in err
    # run again: nothing is downloaded twice
    assert main_module.main(["fetch", "cms2010_zmumu", "--no-progress"]) == 0
    assert "cms2010_zmumu: present" in capsys.readouterr().out


def test_fetch_into_a_folder_that_cannot_be_created_says_how_to_fix_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(PrecmlError, match=r"cannot write 'cms2012_doublemu' into the data folder"):
        fetch("cms2012_doublemu", dest=blocker / "data")


def test_binder_fetches_every_missing_file_without_failing_the_image():
    script = (REPO / "binder" / "postBuild").read_text()
    config = (REPO / "binder" / "jupyter_server_config.py").read_text()
    assert 'export PRECML_DATA="$HOME/.precml/data"' in script
    assert '".precml", "data"' in config  # the kernels read the folder postBuild filled
    lines = [line.strip() for line in script.splitlines() if not line.startswith("#")]
    i = lines.index("python -m precml_widgets.data fetch --missing --no-progress \\")
    assert lines[i + 1].startswith("|| echo ")  # a network failure does not fail the build
    assert "set -euo pipefail" in script


def test_fetch_of_an_unknown_name_lists_the_known_ones(capsys):
    with pytest.raises(SystemExit) as exit_:
        main_module.main(["fetch", "no_such_file"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "unknown data file no_such_file" in err and "cms2010_zmumu" in err


# --- hostile servers, local failures, damaged copies (review of issue 11) ----------------------


class _Endless:
    """A response that serves zeros forever (up to ``limit`` bytes) and counts what was read."""

    def __init__(self, limit: int = 50_000_000) -> None:
        self.served, self.limit = 0, limit

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def read(self, n: int) -> bytes:
        n = min(n, self.limit - self.served)
        self.served += n
        return b"\0" * n


def test_fetch_stops_reading_a_server_that_sends_more_than_the_file(monkeypatch, tmp_path):
    entry = KNOWN_FILES["cms2012_doublemu"]
    endless = _Endless()
    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", lambda *a, **k: endless)
    seen: list[int] = []
    with pytest.raises(PrecmlError, match=rf"served more than the {entry.size} bytes expected"):
        fetch("cms2012_doublemu", dest=tmp_path / "data", on_bytes=seen.append)
    assert endless.served <= entry.size + 2 * 65536  # cut off at the size, not at 50 MB
    assert sum(seen) == 0 and not (tmp_path / "data").exists()


def test_http_protocol_errors_try_the_next_address_and_never_escape(monkeypatch, tmp_path):
    import http.client

    good = locate("cms2010_zmumu").read_bytes()
    errors = [http.client.IncompleteRead(b"abc", 10), http.client.LineTooLong("header line")]
    calls: list[str] = []

    def urlopen(url, **kwargs):
        calls.append(url)
        if errors:
            raise errors.pop(0)
        return _FakeResponse(good)

    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", urlopen)
    monkeypatch.setitem(
        KNOWN_FILES,
        "cms2010_zmumu",
        dataclasses.replace(
            KNOWN_FILES["cms2010_zmumu"], url="https://a/x.root", mirrors=("https://b/x.root",)
        ),
    )
    with pytest.raises(
        PrecmlError, match=r"https://a/x\.root: IncompleteRead.*https://b/x\.root: "
    ):
        fetch("cms2010_zmumu", dest=tmp_path / "data")
    assert not (tmp_path / "data").exists()
    # fetch_many reports the failure and goes on (no traceback out of `fetch --missing`)
    errors[:] = [http.client.InvalidURL("bad port")] * 2
    results = fetch_module.fetch_many(
        ["cms2010_zmumu", "hls4ml_synthesis_table"], dest=tmp_path / "data", progress=False
    )
    assert [r.status for r in results] == ["failed", "packaged"]
    assert "bad port" in results[0].error
    assert fetch("cms2010_zmumu", dest=tmp_path / "data").read_bytes() == good


def test_a_full_disk_is_reported_as_local_not_retried_on_a_mirror(monkeypatch, tmp_path):
    import contextlib
    import errno

    calls: list[str] = []

    def urlopen(url, **kwargs):
        calls.append(url)
        return _FakeResponse(b"x" * 100)

    class Full:
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    @contextlib.contextmanager
    def full_disk(*args, **kwargs):
        yield Full()

    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(fetch_module, "atomic_open", full_disk)
    with pytest.raises(PrecmlError, match=r"cannot write 'cms2010_zmumu' as .*No space left on "
                       r"device.*Free some space or set PRECML_DATA"):  # fmt: skip
        fetch("cms2010_zmumu", dest=tmp_path / "data")
    assert len(calls) == 1  # the mirror cannot help a full local disk
    assert not (tmp_path / "data").exists()  # the folders it made are gone again


def test_a_temp_file_that_cannot_be_created_leaves_no_folders(monkeypatch, tmp_path):
    import errno
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", lambda *a, **k: _Endless(10))
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(PrecmlError, match=r"cannot write 'cms2010_zmumu' as .*Permission denied"):
        fetch("cms2010_zmumu", dest=tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_a_damaged_copy_is_flagged_and_fetched_again(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PRECML_DATA", str(tmp_path))
    cms2012, zmumu = KNOWN_FILES["cms2012_doublemu"], KNOWN_FILES["cms2010_zmumu"]
    for entry in (cms2012, zmumu):  # cut short, as a killed copy or download leaves them
        (tmp_path / entry.relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / entry.relpath).write_bytes(b"\0" * 1000)
    assert find("cms2012_doublemu") is None
    assert find("cms2010_zmumu").origin == "scikit-hep-testdata wheel"  # the good copy
    assert {"cms2012_doublemu", "cms2010_zmumu"} <= set(missing_files())
    with pytest.raises(DataNotFoundError, match=rf"damaged in the data folder: .*has 1000 bytes, "
                       rf"not {cms2012.size}"):  # fmt: skip
        locate("cms2012_doublemu")
    assert main_module.main(["list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:-1]}
    assert "DAMAGED: " in rows["cms2012_doublemu"] and "has 1000 bytes" in rows["cms2012_doublemu"]
    assert rows["cms2012_doublemu"].endswith(cms2012.fetch_command)
    assert "meanwhile the scikit-hep-testdata wheel copy is used" in rows["cms2010_zmumu"]
    # `fetch --missing` replaces the damaged copy
    good = locate("cms2010_zmumu").read_bytes()
    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", lambda *a, **k: _FakeResponse(good))
    assert fetch("cms2010_zmumu").read_bytes() == good
    assert find("cms2010_zmumu").origin == "data folder"


def test_stale_part_files_of_a_killed_fetch_are_removed(monkeypatch, tmp_path):
    import os
    import time

    good = locate("cms2010_zmumu").read_bytes()
    folder = tmp_path / KNOWN_FILES["cms2010_zmumu"].relpath
    folder.parent.mkdir(parents=True)
    stale = folder.parent / ".uproot-Zmumu.root.k1ll3d.part"
    live = folder.parent / ".uproot-Zmumu.root.running.part"
    stale.write_bytes(b"half")
    live.write_bytes(b"half")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", lambda *a, **k: _FakeResponse(good))
    fetch("cms2010_zmumu", dest=tmp_path)
    assert not stale.exists()
    assert live.exists()  # perhaps another fetch's, still being written
