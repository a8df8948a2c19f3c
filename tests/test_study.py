"""The assembled anomaly study: samples, validation, baselines, missing files."""

from __future__ import annotations

import numpy as np
import pytest

from precml_widgets import InvalidInputError
from precml_widgets.anomaly.study import BACKGROUND, StudyConfig, run_study

FAST = StudyConfig(n_background=20_000, n_signal=2_000, n_permutations=50)


@pytest.fixture(scope="module")
def study():
    return run_study(FAST, progress=False)


def test_study_samples_and_labels(study):
    assert study.background.n == 20_000
    assert set(study.signals) == {
        "atlas2016_4lep",
        "cms2012_doublemu",
        "fastsim_resonance_12",
        "fastsim_resonance_300",
    }
    assert study.events["atlas2016_4lep"].real and not study.events[BACKGROUND].real
    assert "fast simulation" in study.events[BACKGROUND].description
    assert study.missing == {}


def test_baselines_can_lose_and_their_auc_is_sklearns(study):
    from sklearn.metrics import roc_auc_score

    for name, row in study.auc_table().items():
        assert row["autoencoder"] > 0.75
        # independent truth: sklearn's AUC of the leading-muon pT, signal vs background
        bkg, sig = study.events[BACKGROUND].pt[:, 0], study.events[name].pt[:, 0]
        y = np.r_[np.zeros(bkg.size), np.ones(sig.size)]
        assert row["leading-muon pT"] == pytest.approx(roc_auc_score(y, np.r_[bkg, sig]), abs=1e-9)
    # the baseline is not constant: it loses (AUC < 0.5) on the light resonance
    assert study.auc_table()["fastsim_resonance_12"]["leading-muon pT"] < 0.5


def test_study_is_deterministic(study):
    again = run_study(FAST, progress=False)
    for name, sample in study.scores.items():
        np.testing.assert_array_equal(sample.sorted_scores, again.scores[name].sorted_scores)
    assert again.validation == study.validation


def test_missing_optional_samples_are_reported_not_fatal(monkeypatch, tmp_path):
    monkeypatch.setenv("PRECML_DATA", str(tmp_path))  # only the wheel's CMS 2010 file remains
    with pytest.warns(UserWarning, match="skipped"):
        s = run_study(
            StudyConfig(n_background=2000, n_signal=200, n_permutations=20), progress=False
        )
    assert set(s.missing) == {"atlas2016_4lep", "cms2012_doublemu"}
    assert "fetch" in s.missing["cms2012_doublemu"]
    assert set(s.signals) == {"fastsim_resonance_12", "fastsim_resonance_300"}


def test_retraining_path(study):
    cfg = StudyConfig(n_background=5000, n_signal=500, n_permutations=20, train=True, n_train=2000)
    s = run_study(cfg, progress=False)
    assert s.model.n_train == 2000
    assert s.model.loss_history[-1] < s.model.loss_history[0]


def test_roc_curves_are_cached_and_match_the_auc_table(study):
    first = study.roc("fastsim_resonance_12")
    assert study.roc("fastsim_resonance_12") is first
    assert study.auc_table()["fastsim_resonance_12"]["autoencoder"] == first.auc


def test_neighbour_bandwidths_come_from_the_public_grid():
    import inspect
    from types import SimpleNamespace

    from precml_widgets.anomaly.fastsim import BANDWIDTH_GRID, DimuonKDE
    from precml_widgets.anomaly.study import neighbour_bandwidths

    # the tuning's default grid is the public constant (the systematic reads it from there)
    assert inspect.signature(DimuonKDE.tuned).parameters["grid"].default is BANDWIDTH_GRID
    fake = SimpleNamespace(kde=SimpleNamespace(bandwidth=1.0))
    assert neighbour_bandwidths(fake) == (0.8, 1.25)
    # at the grid's edge only one neighbour exists (random splits pick 0.3 in 11 of 40)
    assert neighbour_bandwidths(SimpleNamespace(kde=SimpleNamespace(bandwidth=0.3))) == (0.4,)
    assert neighbour_bandwidths(fake, grid=(0.5, 1.0)) == (0.5,)
    with pytest.raises(InvalidInputError, match="not on the grid"):
        neighbour_bandwidths(SimpleNamespace(kde=SimpleNamespace(bandwidth=0.7)))


def test_bandwidth_systematic_brackets_the_nominal_rate(study):
    from precml_widgets.anomaly.rates import rate_at_threshold, threshold_for_rate
    from precml_widgets.anomaly.study import bandwidth_systematic

    threshold = threshold_for_rate(study.background, 200e3)
    nominal = rate_at_threshold(study.background, threshold)
    bw = study.kde.bandwidth
    variants = bandwidth_systematic(study, threshold, (bw / 2, bw, 2 * bw), n_events=20_000)
    # common random numbers: the same width reproduces the nominal sample exactly
    assert variants[bw].n_pass == nominal.n_pass
    # a wider kernel puts more events beyond a tail cut, a narrower one fewer
    assert variants[bw / 2].rate_hz < nominal.rate_hz < variants[2 * bw].rate_hz
    with pytest.raises(InvalidInputError, match="bandwidths"):
        bandwidth_systematic(study, threshold, 1.0)
    with pytest.raises(InvalidInputError, match="n_events"):
        bandwidth_systematic(study, threshold, (bw,), n_events=0)
    with pytest.raises(InvalidInputError, match="unknown signal"):
        study.roc("no_such_sample")
    ht = bandwidth_systematic(study, 150.0, (study.kde.bandwidth,), score="HT", n_events=5000)
    assert ht[study.kde.bandwidth].threshold == 150.0
