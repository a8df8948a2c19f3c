"""Headless tests of the anomaly-score explorer: it must show exactly the core's numbers."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import numpy as np
import pytest

pn = pytest.importorskip("panel")
pytest.importorskip("holoviews")
pytest.importorskip("sklearn")

from precml_widgets.anomaly import rates  # noqa: E402
from precml_widgets.anomaly.explorer import (  # noqa: E402
    EXPORT_LIMIT_COLUMNS,
    AnomalyScoreExplorer,
    format_khz,
    rate_caveat,
)
from precml_widgets.anomaly.figures import operating_point_figure, score_bins  # noqa: E402
from precml_widgets.anomaly.rates import (  # noqa: E402
    DEFAULT_INPUT_RATE_HZ,
    ScoreSample,
    rate_at_threshold,
    threshold_for_rate,
)
from precml_widgets.errors import InvalidInputError, MissingBranchError  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def study():
    from precml_widgets.anomaly.study import run_study
    from precml_widgets.apps.anomaly_explorer import FAST_CONFIG

    return run_study(FAST_CONFIG, progress=False)


@pytest.fixture()
def toy_scores() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "zero bias": rng.exponential(1.0, 5_000),
        "signal A": rng.exponential(4.0, 800),
        "signal B": rng.normal(6.0, 1.0, 400),
    }


def _rate_khz_text(status: str) -> str:
    match = re.search(r'<span class="rate-khz">([^<]*)</span> kHz', status)
    assert match, status
    return match.group(1)


def _histogram_values(overlay) -> list[np.ndarray]:
    return [np.asarray(el.dimension_values(1)) for el in overlay if el.group != "VLine"]


def test_rate_pane_shows_core_rate(study):
    ex = AnomalyScoreExplorer.from_study(study, mode="threshold")
    bkg = study.background
    for q in (0.5, 0.99, 0.9995, 1.0):
        t = float(np.quantile(bkg.sorted_scores, q))
        ex.threshold = t
        core = rate_at_threshold(bkg, t, input_rate_hz=DEFAULT_INPUT_RATE_HZ, cl=0.6827)
        status = ex.status_html()
        assert _rate_khz_text(status) == format_khz(core.rate_hz)
        assert abs(float(_rate_khz_text(status)) - core.rate_hz / 1e3) <= 5e-5
        assert html.escape(core.describe(), quote=False) not in status  # never without syst
        syst = ex.rate_systematic_hz()
        assert html.escape(core.describe(syst, ex.systematic_label), quote=False) in status
        assert f'data-value="{t!r}"' in status
        assert ex.operating_point().rate == core
    # q = 1.0: nothing passes, the pane quotes the one-sided upper limit instead
    assert "no background event passes" in ex.status_html()
    ex.input_rate_mhz, ex.cl = 40.0, 0.95
    core = rate_at_threshold(bkg, ex.threshold, input_rate_hz=40e6, cl=0.95)
    syst = ex.rate_systematic_hz()
    assert html.escape(core.describe(syst, ex.systematic_label), quote=False) in ex.status_html()


def test_target_rate_mode_uses_core_threshold(study):
    ex = AnomalyScoreExplorer.from_study(study)
    assert ex.mode == "target rate"
    bkg = study.background
    for khz in (2.0, 10.0, 50.0, 1000.0):
        ex.target_rate_khz = khz
        assert ex.threshold == threshold_for_rate(bkg, khz * 1e3)
        assert ex.rate().rate_hz <= khz * 1e3
        assert ex.target_error is None
    ex.input_rate_mhz = 20.0
    assert ex.threshold == threshold_for_rate(bkg, 1000e3, input_rate_hz=20e6)
    # switching back to target mode re-derives the threshold from the target
    ex.mode = "threshold"
    ex.threshold = 0.5
    ex.mode = "target rate"
    assert ex.threshold == threshold_for_rate(bkg, 1000e3, input_rate_hz=20e6)


def test_unresolvable_target_shows_core_message(toy_scores):
    ex = AnomalyScoreExplorer.from_scores(toy_scores, background="zero bias", target_rate_khz=100.0)
    before = ex.threshold
    ex.target_rate_khz = 1e-3  # far below input / N = 5.7 kHz
    with pytest.raises(InvalidInputError) as info:
        threshold_for_rate(ex.background, 1.0)
    assert ex.target_error == str(info.value)
    status = ex.status_html()
    assert html.escape(str(info.value), quote=False) in status
    assert 'class="precml-error"' in status
    assert ex.threshold == before
    ex.target_rate_khz = 100.0
    assert ex.target_error is None
    assert "precml-error" not in ex.status_html()


def test_unresolvable_target_at_construction(toy_scores):
    ex = AnomalyScoreExplorer.from_scores(toy_scores, background="zero bias", target_rate_khz=0.01)
    assert ex.target_error is not None and "can resolve" in ex.target_error
    assert ex.rate().n_pass == 0  # the cut sits above every score
    assert "precml-error" in ex.status_html()


def test_signal_switch_changes_histogram(study):
    ex = AnomalyScoreExplorer.from_study(study)
    names = list(study.signals)
    ex.signal = names[0]
    bkg0, sig0 = _histogram_values(ex.histogram_overlay())
    ex.signal = names[-1]
    bkg1, sig1 = _histogram_values(ex.histogram_overlay())
    np.testing.assert_array_equal(bkg0, bkg1)
    assert not np.array_equal(sig0, sig1, equal_nan=True)
    assert names[-1] in ex.roc_overlay().opts.get().kwargs["title"]
    vline = next(el for el in ex.histogram_overlay() if el.group == "VLine")
    assert vline.data == ex.threshold


def test_score_switch_uses_baseline_samples(study):
    from precml_widgets.anomaly.study import BACKGROUND

    ex = AnomalyScoreExplorer.from_study(study)
    assert ex.param.score.objects == ["autoencoder", *study.baselines]
    ae_bounds = ex.param.threshold.bounds
    ex.score = "HT"
    ht = study.baselines["HT"]
    assert ex.background is ht[BACKGROUND]
    assert ex.signals[ex.signal] is ht[ex.signal]
    assert ex.threshold == threshold_for_rate(ht[BACKGROUND], ex.target_rate_khz * 1e3)
    assert ex.param.threshold.bounds != ae_bounds
    lo, hi = ex.param.threshold.bounds
    assert lo < ht[BACKGROUND].sorted_scores[0] and hi >= ht[BACKGROUND].sorted_scores[-1]
    edges = ex.histogram_overlay().Histogram.Background.edges
    assert edges[-1] > 50.0  # GeV scale, not the autoencoder's
    assert ex.operating_point().efficiencies[ex.signal].sample == ht[ex.signal].label

    # threshold mode: the switch keeps the current trigger rate
    ex.mode = "threshold"
    ex.score = "autoencoder"
    ex.threshold = float(np.quantile(study.background.sorted_scores, 0.999))
    rate_before = ex.rate().rate_hz
    ex.score = "HT"
    assert ex.threshold == threshold_for_rate(ht[BACKGROUND], rate_before)

    # the leading-muon pT baseline, at equal rate too
    rate_before = ex.rate().rate_hz
    ex.score = "leading-muon pT"
    assert ex.threshold == threshold_for_rate(
        study.baselines["leading-muon pT"][BACKGROUND], rate_before
    )
    assert "rate-khz" in ex.status_html()
    pn.panel(ex).get_root()


def test_no_retraining_or_rescoring(study, monkeypatch):
    import precml_widgets.anomaly.model as model
    import precml_widgets.anomaly.score_set as score_set_mod
    import precml_widgets.anomaly.study as study_mod

    ex = AnomalyScoreExplorer.from_study(study)
    root = pn.panel(ex).get_root()  # live plots: updates below go through the streams

    def forbidden(*args, **kwargs):
        raise AssertionError("the explorer must not retrain or rescore")

    for mod in (model, study_mod):
        for name in ("anomaly_scores", "train_autoencoder", "load_autoencoder"):
            monkeypatch.setattr(mod, name, forbidden)
    monkeypatch.setattr(score_set_mod, "roc_curve", forbidden)  # ROC curves are cached
    ex.roc()
    ex.mode = "threshold"
    for t in np.linspace(0.1, 3.0, 7):
        ex.threshold = float(t)
        ex.status_html()
        ex.efficiency_frame()
    ex.cl = 0.95
    ex.input_rate_mhz = 40.0
    ex.log_scale = False
    ex.mode = "target rate"
    ex.target_rate_khz = 25.0
    assert root is not None


def test_exports(study, tmp_path):
    ex = AnomalyScoreExplorer.from_study(study, target_rate_khz=20.0)
    core = rate_at_threshold(study.background, ex.threshold)
    n_signals = len(study.signals)

    with open(ex.to_csv(tmp_path / "op.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 + n_signals
    assert rows[0]["kind"] == "background" and float(rows[0]["rate_hz"]) == core.rate_hz
    assert [r["key"] for r in rows[1:]] == list(study.signals)
    for row in rows[1:]:
        eff = rates.efficiency_at_threshold(study.signals[row["key"]], ex.threshold)
        assert float(row["fraction"]) == eff.efficiency.value
        assert int(row["n_pass"]) == eff.efficiency.k

    data = json.loads(ex.to_json(tmp_path / "op.json").read_text())
    assert data["rate_hz"] == core.rate_hz == data["rate"]["rate_hz"]
    assert data["threshold"] == ex.threshold
    assert data["target_rate_hz"] == 20e3
    assert set(data["efficiencies"]) == set(study.signals)

    png = ex.save_png(tmp_path / "op.png").read_bytes()
    assert png.startswith(PNG_MAGIC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["op.csv", "op.json", "op.png"]

    with pytest.raises(InvalidInputError, match="does not exist"):
        ex.to_csv(tmp_path / "no such dir" / "op.csv")

    layout = pn.panel(ex)
    downloads = layout.select(pn.widgets.FileDownload)
    assert sorted(d.filename.rsplit(".", 1)[1] for d in downloads) == ["csv", "json", "png"]
    for d in downloads:
        payload = d.callback()
        assert isinstance(payload, io.BytesIO)
        head = payload.getvalue()[:8]
        assert head == PNG_MAGIC if d.filename.endswith("png") else head[:1] in (b"s", b"{")


def test_from_scores_and_validation(toy_scores):
    ex = AnomalyScoreExplorer.from_scores(toy_scores, background="zero bias", threshold=2.0)
    assert ex.mode == "threshold" and ex.threshold == 2.0
    assert ex.param.signal.objects == ["signal A", "signal B"]
    assert ex.param.score.objects == ["autoencoder"]
    bkg = ScoreSample("zero bias", toy_scores["zero bias"])
    assert ex.rate() == rate_at_threshold(bkg, 2.0)
    with pytest.raises(InvalidInputError, match="not a key"):
        AnomalyScoreExplorer.from_scores(toy_scores, background="nope")
    with pytest.raises(InvalidInputError, match="at least one signal"):
        AnomalyScoreExplorer.from_scores({"b": [1.0, 2.0]}, background="b")
    with pytest.raises(InvalidInputError, match="signal='C'"):
        AnomalyScoreExplorer.from_scores(toy_scores, background="zero bias", signal="C")
    with pytest.raises(InvalidInputError, match="outside the range"):
        AnomalyScoreExplorer.from_scores(toy_scores, background="zero bias", threshold=1e9)
    other = {"signal A": ScoreSample("A", [1.0])}
    with pytest.raises(InvalidInputError, match="same signal"):
        AnomalyScoreExplorer(bkg, ex.signals, baselines={"HT": (bkg, other)})


def test_from_root(tmp_path, toy_scores):
    uproot = pytest.importorskip("uproot")
    files = {}
    for name, values in toy_scores.items():
        path = tmp_path / f"{name.replace(' ', '_')}.root"
        with uproot.recreate(path) as f:
            f["events"] = {"score": values, "pt": np.ones_like(values)}
        files[name] = path
    ex = AnomalyScoreExplorer.from_root(files, "events", "score", background="zero bias")
    np.testing.assert_array_equal(ex.background.sorted_scores, np.sort(toy_scores["zero bias"]))
    with pytest.raises(MissingBranchError) as info:
        AnomalyScoreExplorer.from_root(files, "events", "ae_score", background="zero bias")
    message = str(info.value)
    assert "ae_score" in message and "score" in message and "pt" in message
    assert "Available branches" in message


def test_render_layout(study):
    ex = AnomalyScoreExplorer.from_study(study)
    layout = pn.panel(ex)
    root = layout.get_root()
    assert root is not None
    sliders = layout.select(pn.widgets.EditableFloatSlider)
    assert [s.name for s in sliders] == ["Threshold"]
    assert sliders[0].disabled  # target-rate mode: the target drives
    assert sliders[0].value == ex.threshold
    ex.mode = "threshold"
    assert not sliders[0].disabled
    sliders[0].value = 1.0
    assert ex.threshold == 1.0
    ex.threshold = 2.0
    assert sliders[0].value == 2.0
    ex.mode = "target rate"
    assert sliders[0].disabled and sliders[0].value == ex.threshold
    sliders[0].value = 1.0  # a late browser event in target mode is ignored
    assert ex.threshold == threshold_for_rate(ex.background, ex.target_rate_khz * 1e3)
    ex.score = "HT"  # a new slider with the HT range
    (slider,) = layout.select(pn.widgets.EditableFloatSlider)
    assert slider is not sliders[0] and slider.name == "Threshold"
    assert (slider.start, slider.end) == ex.param.threshold.bounds
    assert slider.value == ex.threshold == threshold_for_rate(ex.background, 10e3)
    rate_panes = [p for p in layout.select(pn.pane.HTML) if "precml-rate" in p.css_classes]
    assert len(rate_panes) == 1 and 'class="rate-khz"' in rate_panes[0].object


def test_figure_module(study):
    edges, log = score_bins([study.background, *study.signals.values()])
    assert log and edges.size == 81 and np.all(np.diff(edges) > 0)
    fig = operating_point_figure(study.background, study.signals, 1.0, bins=edges, log=False)
    assert len(fig.axes) == 2
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(PNG_MAGIC)


def test_status_pane_states_what_the_rate_assumes(study):
    ex = AnomalyScoreExplorer.from_study(study)
    status = ex.status_html()
    caveat = rate_caveat(study.background.label)
    assert "zero-bias" in caveat and study.background.label in caveat
    assert html.escape(caveat, quote=False) in status
    assert 'class="rate-caveat"' in status
    # the spans the browser test reads are still there
    assert '<span class="rate-khz">' in status and 'class="threshold" data-value=' in status
    ex.score = "HT"  # the caveat names the sample of the selected score
    assert html.escape(rate_caveat(ex.background.label), quote=False) in ex.status_html()


def test_exports_carry_the_one_sided_upper_limit(study, tmp_path):
    ex = AnomalyScoreExplorer.from_study(study, mode="threshold")
    bkg = study.background
    # some events pass: the limit columns exist and are empty
    ex.threshold = float(np.quantile(bkg.sorted_scores, 0.99))
    with open(ex.to_csv(tmp_path / "some.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert all(rows[0][c] == "" for c in EXPORT_LIMIT_COLUMNS)
    data = json.loads(ex.to_json(tmp_path / "some.json").read_text())
    assert data["upper_limit_rate_hz"] is None
    assert all(row[c] is None for row in data["rows"] for c in EXPORT_LIMIT_COLUMNS)
    assert "rate-upper-limit-khz" not in ex.status_html()

    # nothing passes: CSV, JSON and the status pane quote the same one-sided limit
    ex.threshold = ex.param.threshold.bounds[1]
    ex.cl = 0.95
    core = rate_at_threshold(bkg, ex.threshold, cl=0.95)
    assert core.n_pass == 0 and core.upper_limit_rate_hz is not None
    with open(ex.to_csv(tmp_path / "none.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[-6:-4] == list(EXPORT_LIMIT_COLUMNS)
    background, signals = rows[0], rows[1:]
    assert float(background["upper_limit_fpr"]) == core.upper_limit_fpr
    assert float(background["upper_limit_rate_hz"]) == core.upper_limit_rate_hz
    assert all(row[c] == "" for row in signals for c in EXPORT_LIMIT_COLUMNS)
    # the one-sided limit is tighter than the end of the central interval
    assert core.upper_limit_rate_hz < float(background["rate_upper_hz"])
    data = json.loads(ex.to_json(tmp_path / "none.json").read_text())
    assert data["upper_limit_rate_hz"] == core.upper_limit_rate_hz
    assert data["rows"][0]["upper_limit_rate_hz"] == core.upper_limit_rate_hz
    assert (
        data["rows"][0]["upper_limit_fpr"]
        == core.upper_limit_fpr
        == data["rate"]["upper_limit_fpr"]
    )
    status = ex.status_html()
    match = re.search(
        r'<span class="rate-upper-limit-khz" data-value-hz="([^"]*)">([^<]*)</span> kHz', status
    )
    assert match, status
    assert float(match.group(1)) == core.upper_limit_rate_hz
    assert match.group(2) == format_khz(core.upper_limit_rate_hz)
    assert "95% CL one-sided upper limit" in status


def test_roc_view_ignores_the_input_rate(study):
    ex = AnomalyScoreExplorer.from_study(study, mode="threshold")

    def deps(method):
        return {d.name for d in ex.param.method_dependencies(method)}

    assert "input_rate_mhz" not in deps("roc_marker") | deps("roc_base")
    assert {"score", "signal", "threshold", "log_scale", "cl"} <= deps("roc_marker")
    # the bases do not follow the threshold: only the cut line and the marker do
    assert "threshold" not in deps("roc_base") | deps("histogram_base")
    assert deps("cut_line") == {"threshold"}

    names = ("roc_base", "roc_marker", "roc_mark", "histogram_base", "cut_line", "cut_mark")
    calls = dict.fromkeys(names, 0)
    views = {name: getattr(ex, name) for name in names}

    def counting(name):
        def wrapped():
            calls[name] += 1
            return views[name]()

        return wrapped

    for name in names:  # the layout captures these bound views
        setattr(ex, name, counting(name))
    root = pn.panel(ex).get_root()
    drawn = ("roc_base", "roc_marker", "histogram_base", "cut_line")
    assert root is not None and all(calls[n] >= 1 for n in drawn)
    before = dict(calls)
    ex.input_rate_mhz = 20.0  # threshold mode: the cut stays, so nothing moves
    assert calls == before
    ex.cl = 0.95  # the efficiency interval of the marker changes: only the marker moves
    assert calls["roc_mark"] > before["roc_mark"]
    assert {n: calls[n] for n in names if n != "roc_mark"} == {
        n: before[n] for n in names if n != "roc_mark"
    }
    before = dict(calls)
    ex.threshold = float(np.quantile(study.background.sorted_scores, 0.99))
    assert calls["roc_mark"] > before["roc_mark"] and calls["cut_mark"] > before["cut_mark"]
    assert {n: calls[n] for n in drawn} == {n: before[n] for n in drawn}  # nothing redrawn
    # the marker is the core's (FPR, efficiency) at the cut
    point = views["roc_marker"]()
    eff = rates.efficiency_at_threshold(study.signals[ex.signal], ex.threshold, cl=0.95)
    fpr = rate_at_threshold(study.background, ex.threshold).fpr.value
    assert tuple(point.array()[0]) == (
        fpr,
        eff.efficiency.value,
        eff.efficiency.lower,
        eff.efficiency.upper,
    )


def test_app_header_caveats(study):
    from precml_widgets.apps.anomaly_explorer import header

    text = header(study)
    from precml_widgets.anomaly.study import BACKGROUND_CAVEAT

    assert rate_caveat(study.background.label) in html.unescape(text)
    assert BACKGROUND_CAVEAT in html.unescape(text)
    assert "leading-muon pT" in text and "exactly two muons" in text


def test_caveat_systematic_and_real_flag_travel_with_every_export(study, tmp_path):
    import csv
    import json

    from precml_widgets.anomaly.fastsim import DimuonKDE
    from precml_widgets.anomaly.model import anomaly_scores
    from precml_widgets.anomaly.study import (
        BACKGROUND,
        BACKGROUND_CAVEAT,
        bandwidth_systematic,
        neighbour_bandwidths,
    )

    widths = neighbour_bandwidths(study)
    assert widths == (0.8, 1.25) and study.kde.bandwidth == 1.0
    # a plain from_study shows the kernel-width systematic of the grid neighbours
    ex = AnomalyScoreExplorer.from_study(study)
    status = ex.status_html()
    assert html.escape(BACKGROUND_CAVEAT, quote=False) in status
    assert 'class="rate-systematic"' in status
    # Consistency check (the same cached variant samples, through the core's
    # bandwidth_systematic): the explorer's systematic is their spread at its cut.
    rates = bandwidth_systematic(study, ex.threshold, widths)
    shifts = [r.rate_hz - ex.rate().rate_hz for r in rates.values()]
    assert ex.rate_systematic_hz() == (min(0.0, *shifts), max(0.0, *shifts))
    # Recount with numpy from freshly drawn variants (the same seed, not the cache): k/N x
    # the input rate at the cut. Independent of the cache and of rate_at_threshold.
    for bw in widths:
        fresh = DimuonKDE(study.kde.source, bw).sample(
            study.config.n_background, seed=study.config.seed + 1
        )
        k = np.count_nonzero(anomaly_scores(study.model, fresh.features()) > ex.threshold)
        rate_hz = k / fresh.n * ex.input_rate_mhz * 1e6
        assert rate_hz - ex.rate().rate_hz == pytest.approx(shifts[widths.index(bw)], abs=1e-6)
    rows = list(csv.DictReader(open(ex.to_csv(tmp_path / "op.csv"))))
    for row in rows:
        assert BACKGROUND_CAVEAT in row["background_caveat"]
        key = BACKGROUND if row["key"] == "background" else row["key"]
        assert row["is_real"] == str(study.events[key].real)
    assert float(rows[0]["rate_syst_up_hz"]) == max(0.0, *shifts)
    record = json.loads(ex.to_json(tmp_path / "op.json").read_text())
    assert BACKGROUND_CAVEAT in record["background_caveat"]
    assert record["rate_systematic_hz"] == [min(0.0, *shifts), max(0.0, *shifts)]
    assert all("is_real" in r for r in record["rows"])
    assert record["rate_description"] == ex.rate_description()
    fig = ex.figure()
    assert any(BACKGROUND_CAVEAT in t.get_text() for t in fig.texts)
    # the PNG: title with the systematic, real/simulated flags in the caption and legends
    title = fig.get_suptitle().replace("\n", " ")
    assert title == ex.rate_description().replace("\n", " ") and "(syst, kernel width" in title
    (caption,) = [t.get_text() for t in fig.texts if BACKGROUND_CAVEAT in t.get_text()]
    for key in ("background", *study.signals):
        sample = study.events[BACKGROUND if key == "background" else key]
        assert f"{key} = {'real data' if sample.real else 'simulation'}" in caption
    legend = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
    assert any(t.startswith("atlas2016_4lep [real data]") for t in legend)
    assert any(t.startswith("fastsim_resonance_12 [simulated]") for t in legend)
    # explicitly without variants the systematic is absent, not zero, and the pane says so
    plain = AnomalyScoreExplorer.from_study(study, systematic_bandwidths=())
    assert plain.rate_systematic_hz() is None
    assert 'class="rate-systematic"' not in plain.status_html()
    assert "rate-systematic-missing" in plain.status_html()
    assert plain.rate_description().endswith("no systematic given (statistical interval only)")
