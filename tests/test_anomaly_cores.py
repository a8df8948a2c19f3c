"""The cores behind the anomaly explorer, tested without Panel: ScoreSet, TriggerState,
StatusReport, OperatingPointRecord and the package's light import."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from precml_widgets.anomaly.exports import EXPORT_LIMIT_COLUMNS
from precml_widgets.anomaly.rates import rate_at_threshold, threshold_for_rate
from precml_widgets.anomaly.score_set import ScoreSet, threshold_range
from precml_widgets.anomaly.scores import ScoreSample
from precml_widgets.anomaly.trigger_state import TriggerState
from precml_widgets.errors import InvalidInputError

pytest.importorskip("sklearn")


@pytest.fixture()
def data() -> ScoreSet:
    rng = np.random.default_rng(3)
    bkg = ScoreSample("zero bias", rng.exponential(1.0, 4000), is_real=True)
    sigs = {"A": ScoreSample("A", rng.exponential(3.0, 500), is_real=False)}
    ht_bkg = ScoreSample("zero bias HT", rng.exponential(50.0, 4000))
    ht_sigs = {"A": ScoreSample("A HT", rng.exponential(90.0, 500))}
    variant = ScoreSample("wider", rng.exponential(1.1, 4000))
    return ScoreSet(
        bkg,
        sigs,
        baselines={"HT": (ht_bkg, ht_sigs)},
        rate_variants={"autoencoder": {"wider": variant}},
        caveat="toy background",
    )


def test_threshold_range_reaches_every_and_no_event():
    samples = [ScoreSample("s", [0.3, 2.7])]
    start, end, step = threshold_range(samples)
    assert start < 0.3 and end >= 2.7 and step > 0
    assert ScoreSample("s", [0.3, 2.7]).n_above(start) == 2
    assert ScoreSample("s", [0.3, 2.7]).n_above(end) == 0


def test_score_set_thresholds_and_systematic(data):
    t, error = data.target_threshold("autoencoder", 100e3, 1e6)
    assert error is None and t == threshold_for_rate(
        data.background("autoencoder"), 100e3, input_rate_hz=1e6
    )
    t_none, error = data.target_threshold("autoencoder", 1e-3, 1e6)
    assert t_none is None and "can resolve" in error
    rate = rate_at_threshold(data.background("autoencoder"), 2.0, input_rate_hz=1e6).rate_hz
    t_ht = data.equal_rate_threshold("autoencoder", "HT", 2.0, 1e6)
    assert t_ht == threshold_for_rate(data.background("HT"), rate, input_rate_hz=1e6)
    down, up = data.rate_systematic_hz("autoencoder", 2.0, 1e6)
    assert down <= 0.0 <= up and data.systematic_label("autoencoder") == "wider"
    assert data.rate_systematic_hz("HT", 100.0, 1e6) is None
    assert data.roc("autoencoder", "A") is data.roc("autoencoder", "A")  # cached
    with pytest.raises(InvalidInputError, match="signal='B'"):
        data.check_selection("B", "autoencoder")
    with pytest.raises(InvalidInputError, match="outside the range"):
        data.check_selection("A", "autoencoder", 1e9)


def test_status_report_html_carries_the_text(data):
    state = TriggerState(data, "autoencoder", 2.0, 1e6, 0.6827)
    report = state.status_report()
    page = report.to_html()
    assert f'data-value="{2.0!r}"' in page and '<span class="rate-khz">' in page
    assert 'class="rate-systematic"' in page and "toy background" in page
    assert report.lines()[-1] == state.rate_description() and "(syst, wider" in report.lines()[-1]
    nothing = TriggerState(data, "autoencoder", 1e9, 1e6, 0.95).status_report()
    assert "rate-upper-limit-khz" in nothing.to_html()
    assert any("one-sided upper limit" in line for line in nothing.lines())


def test_export_record_csv_and_json(data, tmp_path):
    state = TriggerState(data, "autoencoder", 2.0, 1e6, 0.6827)
    record = state.export_record()
    rows = list(csv.DictReader(io.StringIO(record.to_csv_bytes().decode())))
    assert [r["kind"] for r in rows] == ["background", "signal"]
    assert [r["is_real"] for r in rows] == ["True", "False"]
    assert all(r[c] == "" for r in rows for c in EXPORT_LIMIT_COLUMNS)
    assert all("toy background" in r["background_caveat"] for r in rows)
    obj = json.loads(record.to_json_bytes())
    assert obj["rows"][0]["rate_hz"] == obj["rate_hz"] == record.point.rate.rate_hz
    path = state.save("json", tmp_path / "op.json")
    assert json.loads(path.read_text()) == obj
    assert [p.name for p in tmp_path.iterdir()] == ["op.json"]  # no temporary file left
    with pytest.raises(InvalidInputError, match="does not exist"):
        state.save("json", tmp_path / "missing" / "op.json")


def test_package_import_is_light():
    code = (
        "import sys, precml_widgets.anomaly as a; "
        "print(a.ScoreSample.__name__, 'panel' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ScoreSample", "False", "False"]
