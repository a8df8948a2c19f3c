"""Tests of precml_widgets.record: plain JSON, versions, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from precml_widgets import InvalidInputError
from precml_widgets.record import peak_rss_mb, record_results, to_plain


def test_none_path_returns_plain_record_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rec = record_results(
        None,
        {
            "auc": np.float64(0.75),
            "n_pass": np.int64(3),
            "ok": np.bool_(True),
            "counts": np.arange(3),
            "grid": np.eye(2, dtype=np.float32),
            "pair": (1, 2.5),
            "nested": {"p": np.float32(0.5), 7: "seven"},
            "nan": float("nan"),
        },
    )
    assert list(tmp_path.iterdir()) == []
    assert rec["auc"] == 0.75 and type(rec["auc"]) is float
    assert rec["n_pass"] == 3 and type(rec["n_pass"]) is int
    assert rec["ok"] is True
    assert rec["counts"] == [0, 1, 2]
    assert rec["grid"] == [[1.0, 0.0], [0.0, 1.0]]
    assert rec["pair"] == [1, 2.5]
    assert rec["nested"] == {"p": 0.5, "7": "seven"}
    assert rec["nan"] is None
    # The record is valid strict JSON.
    assert json.loads(json.dumps(rec, allow_nan=False)) == rec


def test_versions_timestamp_and_memory():
    rec = record_results(None, {})
    versions = rec["versions"]
    assert versions["python"].count(".") == 2
    for name in ("precml-widgets", "numpy", "scipy"):
        assert name in versions
    assert rec["timestamp_utc"].endswith("+00:00")
    peak = peak_rss_mb()
    assert peak is None or peak > 10.0  # a Python process with numpy needs > 10 MiB
    assert rec["peak_rss_mb"] is None or rec["peak_rss_mb"] > 10.0


def test_writes_json_atomically(tmp_path):
    out = tmp_path / "run.json"
    out.write_text("old")
    rec = record_results(out, {"rate_hz": np.float64(950.0)})
    assert json.loads(out.read_text()) == rec
    assert rec["rate_hz"] == 950.0
    # Only the record is left in the folder: no temporary file.
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
    assert record_results(str(out), {"x": 1})["x"] == 1  # str paths work too
    if os.name == "posix":
        assert out.stat().st_mode & 0o044  # readable by group/others, unlike mkstemp's 0600


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    out = tmp_path / "run.json"
    out.write_text('{"old": true}')

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", boom)
    with pytest.raises(OSError, match="disk full"):
        record_results(out, {"x": 1})
    assert json.loads(out.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


@pytest.mark.parametrize(
    ("results", "match"),
    [
        ([1, 2], "mapping"),
        ({"versions": {}}, "fills these keys"),
        ({"model": object()}, r"results\['model'\] \(of type object\)"),
        ({"deep": {"list": [1, object()]}}, r"results\['deep'\]\['list'\]\[1\]"),
    ],
)
def test_bad_input_raises_clear_errors(results, match):
    with pytest.raises(InvalidInputError, match=match):
        record_results(None, results)


def test_missing_folder_is_reported(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        record_results(tmp_path / "no" / "such" / "run.json", {"x": 1})


def test_to_plain_paths_and_sets():
    assert to_plain({"p": Path("/a/b"), "s": {3, 1}}) == {"p": "/a/b", "s": [1, 3]}
