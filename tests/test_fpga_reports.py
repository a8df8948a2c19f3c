"""Reading Vivado/Vitis HLS csynth reports: every real report, checked against the table."""

from __future__ import annotations

import csv

import pytest

from precml_widgets import InvalidInputError
from precml_widgets.data import data_dir
from precml_widgets.fpga.reports import SynthesisReport, read_csynth

ROOT = data_dir() / "hls4ml" / "synthesis-reports"
# The one place where the original .rpt and .xml of an example disagree (the table uses the XML).
RPT_XML_DISAGREE = {
    "uw-acme__HLS4ML_VS_MANUAL__documents_Benchmarks_Toptag_model_gru_hls_hls4ml_prj": {
        "interval_min": (354, 355),
        "interval_max": (354, 355),
    }
}


@pytest.fixture(scope="module")
def table_rows():
    if not (ROOT / "table.csv").is_file():
        pytest.skip(f"shared data folder missing: no {ROOT / 'table.csv'}")
    with open(ROOT / "table.csv", newline="") as f:
        return list(csv.DictReader(f))


def _expected(row):
    return {
        "tool": row["hls_tool"],
        "version": row["hls_tool_version"],
        "part": row["part"],
        "clock_target_ns": float(row["clock_target_ns"]),
        "clock_estimate_ns": float(row["clock_est_ns"]),
        "latency_min": int(row["lat_min"]),
        "latency_max": int(row["lat_max"]),
        "interval_min": int(row["ii_min"]),
        "interval_max": int(row["ii_max"]),
        "bram18k": int(row["bram18k"]),
        "dsp": int(row["dsp"]),
        "ff": int(row["ff"]),
        "lut": int(row["lut"]),
    }


def test_every_report_reads_and_equals_the_table(table_rows):
    assert len(table_rows) == 57
    for row in table_rows:
        folder = ROOT / "reports" / row["example_id"]
        expected = _expected(row)
        for target in (folder / "myproject_csynth.xml", folder / "myproject_csynth.rpt", folder):
            report = read_csynth(target)
            got = {k: getattr(report, k) for k in expected}
            known = RPT_XML_DISAGREE.get(row["example_id"], {}) if target.suffix == ".rpt" else {}
            for key, (rpt_value, xml_value) in known.items():
                assert (got[key], expected[key]) == (rpt_value, xml_value)
                got[key] = expected[key]
            assert got == expected, (row["example_id"], target.name)
            assert set(report.available) == {"bram18k", "dsp", "ff", "lut", "uram"}


def test_selected_reports_by_hand(table_rows):
    rep = read_csynth(
        ROOT
        / "reports"
        / "Hector-Plata__hls4ml-tutorial__model_1_hls4ml_prj"
        / "myproject_csynth.rpt"
    )
    assert (rep.tool, rep.version, rep.part) == ("Vivado HLS", "2019.2", "xcu250-figd2104-2L-e")
    assert (rep.dsp, rep.lut, rep.ff, rep.bram18k, rep.uram) == (1520, 85140, 11100, 4, 0)
    assert rep.latency_ns == 65.0 and rep.timing_met
    # the whole device, not one SLR ("Available SLR" row)
    assert rep.available["dsp"] == 12288 and rep.available["lut"] == 1728000
    old = read_csynth(
        ROOT
        / "reports"
        / "uw-acme__HLS4ML_VS_MANUAL__documents_Benchmarks_Toptag_model_gru_hls_hls4ml_prj"
        / "myproject_csynth.rpt"
    )  # 2019.1 layout: no absolute-latency columns, no "ns" units
    assert (old.version, old.clock_target_ns, old.latency_max, old.dsp) == (
        "2019.1",
        5.0,
        354,
        2336,
    )
    missed = read_csynth(
        ROOT
        / "reports"
        / "ArgyKokk__hls4ml_MLP_estimator__HLS_MLPs_CARDIO_hls4ml_prj_LUT_reuse1"
        / "myproject_csynth.xml"
    )
    assert missed.tool == "Vitis HLS" and missed.timing_met is False


def test_not_a_report_is_a_clear_error(tmp_path):
    text = tmp_path / "notes_csynth.rpt"
    text.write_text("hello\n")
    with pytest.raises(InvalidInputError, match=r"notes_csynth\.rpt.*not a Vivado/Vitis HLS"):
        read_csynth(text)
    xml = tmp_path / "other_csynth.xml"
    xml.write_text("<root><a>1</a></root>")
    with pytest.raises(InvalidInputError, match="not a Vivado/Vitis HLS"):
        read_csynth(xml)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match=r"no \*_csynth\.xml or \*_csynth\.rpt"):
        read_csynth(tmp_path / "empty")
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_csynth(tmp_path / "missing.rpt")


def test_project_folder_picks_the_top_report(tmp_path, table_rows):
    source = ROOT / "reports" / "Hector-Plata__hls4ml-tutorial__model_2_hls4ml_prj"
    report_dir = tmp_path / "myproject_prj" / "solution1" / "syn" / "report"
    report_dir.mkdir(parents=True)
    (report_dir / "myproject_csynth.xml").write_text((source / "myproject_csynth.xml").read_text())
    sub = (source / "myproject_csynth.xml").read_text().replace("<DSP48E>803<", "<DSP48E>36<")
    (report_dir / "dense_latency_config11_csynth.xml").write_text(sub)
    report = read_csynth(tmp_path)
    assert isinstance(report, SynthesisReport)
    assert report.dsp == 803 and report.path.endswith("myproject_csynth.xml")
