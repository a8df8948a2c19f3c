"""The autoencoder: training, scores, safe saving and loading, shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from precml_widgets import InvalidInputError
from precml_widgets.anomaly.fastsim import simulate_resonance
from precml_widgets.anomaly.model import (
    PRETRAINED_PATH,
    AutoencoderConfig,
    anomaly_scores,
    load_autoencoder,
    save_autoencoder,
    train_autoencoder,
)
from precml_widgets.anomaly.rates import ScoreSample, roc_curve
from precml_widgets.anomaly.samples import load_sample, split_tune_validate

FAST = AutoencoderConfig(epochs=3, batch_size=256, seed=1)


@pytest.fixture(scope="module")
def background():
    rng = np.random.default_rng(0)
    # correlated Gaussian background in 5 dimensions: an autoencoder with a 2-d latent space
    # can compress it only along its two dominant directions
    cov = np.diag([1.0, 1.0, 0.1, 0.1, 0.1])
    return rng.multivariate_normal(np.zeros(5), cov, size=4000).astype(np.float32)


def test_training_reduces_loss_and_is_seeded(background):
    a = train_autoencoder(background, FAST, progress=False)
    b = train_autoencoder(background, FAST, progress=False)
    assert a.loss_history[-1] < a.loss_history[0]
    assert a.loss_history == b.loss_history
    assert a.n_train == 4000 and len(a.loss_history) == 3


def test_save_load_round_trip_is_exact_and_atomic(background, tmp_path):
    result = train_autoencoder(background, FAST, progress=False, provenance={"what": "test"})
    path = save_autoencoder(result, tmp_path / "ae.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["ae.safetensors"]
    loaded = load_autoencoder(path)
    np.testing.assert_array_equal(
        anomaly_scores(result, background), anomaly_scores(loaded, background)
    )
    assert loaded.provenance == {"what": "test"}
    assert loaded.config == result.config


def test_load_rejects_foreign_or_broken_files(tmp_path):
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(InvalidInputError, match="no precml metadata"):
        load_autoencoder(foreign)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 20)
    with pytest.raises(InvalidInputError, match="not a readable safetensors"):
        load_autoencoder(junk)
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_autoencoder(tmp_path / "missing.safetensors")


def test_scores_validate_input(background):
    result = train_autoencoder(background[:500], FAST, progress=False)
    with pytest.raises(InvalidInputError, match=r"shape \(n_events, 5\)"):
        anomaly_scores(result, background[:, :3])
    bad = background[:10].copy()
    bad[3, 2] = np.nan
    with pytest.raises(InvalidInputError, match="1 NaN"):
        anomaly_scores(result, bad)
    with pytest.raises(InvalidInputError, match="epochs"):
        train_autoencoder(background, AutoencoderConfig(epochs=0), progress=False)


def test_shipped_weights_score_real_background_low_and_resonances_high():
    model = load_autoencoder(PRETRAINED_PATH)
    assert "CMS 2010" in model.provenance["training sample"]
    _, held_out = split_tune_validate(load_sample("cms2010_zmumu"))
    real_bkg = ScoreSample("held-out real", anomaly_scores(model, held_out.features()))
    for mass in (12.0, 300.0):
        sig = simulate_resonance(mass, 2000, seed=5)
        auc = roc_curve(real_bkg, ScoreSample("sig", anomaly_scores(model, sig.features()))).auc
        # measured 0.999 for both against 1e6 fast-sim events; with 250 real held-out events
        # sigma(AUC) < 0.01 (Hanley-McNeil), so 0.93 leaves > 5 sigma of room
        assert auc > 0.93, (mass, auc)


@pytest.mark.gpu
def test_training_on_gpu_matches_cpu(background, monkeypatch):
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    gpu = train_autoencoder(background, FAST, device="cuda", progress=False)
    cpu = train_autoencoder(background, FAST, device="cpu", progress=False)
    # same initial weights and batch order: only fp32 summation order differs (~1e-6 per
    # step); 1e-2 after 3 epochs is generous yet catches a wrong device path
    assert gpu.loss_history[-1] == pytest.approx(cpu.loss_history[-1], rel=1e-2)


def test_load_rejects_inconsistent_metadata(background, tmp_path):
    import json

    from safetensors.torch import save_file

    result = train_autoencoder(background[:500], FAST, progress=False)
    path = save_autoencoder(result, tmp_path / "ok.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["precml"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    for label, change in [
        ("features", {"feature_names": ["a", "b", "c", "d", "e"]}),
        ("config", {"config": {"hidden": [8], "latent": 2, "bogus": 1}}),
        ("shapes", {"config": {**meta["config"], "hidden": [64, 16]}}),
    ]:
        bad = tmp_path / f"{label}.safetensors"
        save_file(tensors, str(bad), metadata={"precml": json.dumps({**meta, **change})})
        with pytest.raises(InvalidInputError, match=str(bad.name)):
            load_autoencoder(bad)
    broken = tmp_path / "json.safetensors"
    save_file(tensors, str(broken), metadata={"precml": "{not json"})
    with pytest.raises(InvalidInputError, match="broken or inconsistent"):
        load_autoencoder(broken)
