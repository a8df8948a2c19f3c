"""hls4ml deployment: precisions, conversion errors, bit-accurate emulation, cache and scans."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hls4ml")

from precml_widgets.errors import InvalidInputError  # noqa: E402
from precml_widgets.fpga import emulate as emulate_mod  # noqa: E402
from precml_widgets.fpga.convert import (  # noqa: E402
    DeployConfig,
    UnsupportedLayerError,
    check_supported,
    convert,
    profile_ranges,
    profiled_precisions,
)
from precml_widgets.fpga.emulate import FirmwareBuildError, FirmwareEmulator, emulate  # noqa: E402
from precml_widgets.fpga.models import load_jet_tagger, scored_autoencoder  # noqa: E402
from precml_widgets.fpga.precision import FixedType, parse_precision  # noqa: E402
from precml_widgets.fpga.scan import precision_scan, trigger_agreement  # noqa: E402

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="emulation compiles with g++")
SATURATING = "ap_fixed<16,6,AP_RND_CONV,AP_SAT>"


# --- fixed-point types -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ap_fixed<16,6>", FixedType(16, 6)),
        ("fixed<8,3,AP_RND,AP_SAT>", FixedType(8, 3, True, "AP_RND", "AP_SAT")),
        ("ap_ufixed<8,0,AP_RND_CONV,AP_SAT>", FixedType(8, 0, False, "AP_RND_CONV", "AP_SAT")),
        ("fx16_6", FixedType(16, 6)),
        ("ufx8_1_RC_S", FixedType(8, 1, False, "AP_RND_CONV", "AP_SAT")),
        ("ap_int<8>", FixedType(8, 8)),
    ],
)
def test_parse_precision(text, expected):
    assert parse_precision(text) == expected
    assert parse_precision(expected.to_hls()) == expected  # round trip


@pytest.mark.parametrize(
    "bad", ["ap_fixed<16>", "float", "ap_fixed<0,0>", "fx16", "ap_fixed<8,3,AP_FOO>"]
)
def test_invalid_precision_names_the_parameter(bad):
    with pytest.raises(InvalidInputError, match="weight_type"):
        parse_precision(bad, name="weight_type")


def test_quantize_covers_every_mode():
    t = parse_precision("ap_fixed<8,4,AP_TRN_ZERO>")  # LSB 1/16, truncation towards zero
    np.testing.assert_array_equal(t.quantize(np.array([0.12, -0.12])), [0.0625, -0.0625])
    s = parse_precision("ap_fixed<4,2,AP_RND,AP_SAT_SYM>")  # symmetric: -1.75, not -2
    np.testing.assert_array_equal(s.quantize(np.array([-5.0, 5.0])), [-1.75, 1.75])


def test_cache_key_covers_every_input_and_damaged_entries_are_recomputed(tmp_path):
    from precml_widgets.fpga import cache

    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    x = np.zeros((4, 3), np.float32)
    versions = {"hls4ml": "1.3.0"}
    base = cache.cache_key("cfg", model, x, versions, (3,))
    assert cache.cache_key("cfg2", model, x, versions, (3,)) != base
    assert cache.cache_key("cfg", model, x + 1, versions, (3,)) != base
    assert cache.cache_key("cfg", model, x, {"hls4ml": "1.3.1"}, (3,)) != base
    assert cache.cache_key("cfg", model, x, versions, (3, 1)) != base
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert cache.cache_key("cfg", model, x, versions, (3,)) != base
    assert cache.cache_key("cfg", model, x, versions, (3,)) == cache.cache_key(
        "cfg", model, x, versions, (3,)
    )
    outputs = {"emulated": np.ones((4, 2), np.float32), "reference": np.zeros((4, 2), np.float32)}
    path = cache.save_entry(base, outputs, {"predict_s": 1.0}, tmp_path)
    arrays, meta = cache.load_entry(base, tmp_path, n_events=4)
    assert np.array_equal(arrays["emulated"], np.ones((4, 2))) and meta["predict_s"] == 1.0
    path.write_bytes(b"not a zip file")
    assert cache.load_entry(base, tmp_path) is None  # recomputed, never trusted or crashing
    assert "precml emulators" in cache.tool_versions()


def test_quantize_matches_hand_values():
    t = FixedType(4, 2)  # LSB 0.25, range [-2, 1.75]
    np.testing.assert_array_equal(
        t.quantize(np.array([0.3, -0.3, 1.9, 2.0])), [0.25, -0.5, 1.75, -2.0]
    )
    s = FixedType(4, 2, rounding="AP_RND", overflow="AP_SAT")
    np.testing.assert_array_equal(
        s.quantize(np.array([0.3, -0.3, 1.9, 5.0])), [0.25, -0.25, 1.75, 1.75]
    )


# --- configuration and conversion errors ---------------------------------------------------


def test_config_errors_name_the_setting():
    with pytest.raises(InvalidInputError, match="backend"):
        DeployConfig(backend="Quartus").validate()
    with pytest.raises(InvalidInputError, match="precision"):
        DeployConfig(precision="ap_fixed<16>").validate()
    with pytest.raises(InvalidInputError, match="reuse factor"):
        DeployConfig(reuse_factor=0).validate()
    with pytest.raises(InvalidInputError, match=r"layer_precision\['fc1'\]\['weight'\]"):
        DeployConfig(layer_precision={"fc1": {"weight": "fixed16"}}).validate()


def test_unsupported_layer_is_named_with_the_supported_list():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.GELU())
    with pytest.raises(UnsupportedLayerError, match=r"'_1' \(GELU\).*supported: Linear, ReLU"):
        check_supported(model)


def test_invalid_reuse_factor_suggests_valid_ones(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU())
    with pytest.raises(InvalidInputError, match=r"reuse.*(valid|nearest)") as info:
        convert(model, (16,), DeployConfig(reuse_factor=7), tmp_path / "prj")
    assert "nearest valid: 4, 8" in str(info.value) and "'_0'" in str(info.value)
    assert not (tmp_path / "prj").exists()  # nothing written for a rejected configuration


def test_profiled_precisions_cover_the_ranges():
    model = scored_autoencoder(torch.nn.Sequential(torch.nn.Linear(5, 5)), 5)
    x = np.random.default_rng(0).normal(size=(1000, 5)).astype(np.float32) * 3
    ranges = profile_ranges(model, x)
    types = profiled_precisions(ranges, 12)
    for layer, entry in ranges.items():
        for kind in ("weight", "bias", "result"):
            if kind not in entry:
                continue
            t = parse_precision(types[layer][kind])
            assert t.width == 12
            # nothing saturates on the profile
            assert t.max_value >= entry[kind], (layer, kind, t, entry[kind])
        if "weight_l1" in entry:  # the accumulator holds the largest possible sum
            acc = parse_precision(types[layer]["accum"])
            source = parse_precision(types[entry["input"]]["result"])
            bound = entry["weight_l1"] * abs(source.min_value) + entry.get("bias", 0.0)
            assert acc.max_value >= bound, (layer, acc, bound)
    with pytest.raises(InvalidInputError, match="width"):
        profiled_precisions(ranges, 1)


# --- emulation (compiles C++) --------------------------------------------------------------


@pytest.fixture(scope="module")
def tagger_inputs():
    # Generated inputs: the tagger was trained on standardised jet-substructure features,
    # which are not public here; N(0, 1) has the same scale.
    return np.random.default_rng(1).normal(size=(20_000, 16)).astype(np.float32)


@pytest.fixture(scope="module")
def cache_folder():
    with tempfile.TemporaryDirectory(prefix="precml_test_cache_") as d:
        yield Path(d)


@needs_gxx
@pytest.mark.slow
def test_tagger_ap_fixed_16_6_agrees_with_float(tagger_inputs, cache_folder):
    result = emulate(
        load_jet_tagger(),
        tagger_inputs,
        DeployConfig(precision=SATURATING),
        cache_folder=cache_folder,
    )
    assert result.argmax_agreement >= 0.99
    # the emulated softmax follows torch's, not the constant 0.2 of hls4ml's 'auto' pitfall;
    # hls4ml's lookup tables (18 bits) bias it upwards by a few per cent, so no sum-to-one test
    assert np.corrcoef(result.emulated.ravel(), result.reference.ravel())[0, 1] > 0.97
    assert np.all(result.emulated.std(axis=0) > 0.5 * result.reference.std(axis=0))
    assert np.mean(np.abs(result.emulated - result.reference)) < 0.03
    assert len(np.unique(result.emulated.argmax(1))) >= 3


@needs_gxx
@pytest.mark.slow
def test_cache_hit_is_identical_and_keyed_by_weights(tagger_inputs, cache_folder):
    model = load_jet_tagger()
    x = tagger_inputs[:2000]
    first = emulate(model, x, DeployConfig(precision=SATURATING), cache_folder=cache_folder)
    again = emulate(model, x, DeployConfig(precision=SATURATING), cache_folder=cache_folder)
    assert again.cached and np.array_equal(first.emulated, again.emulated)
    with torch.no_grad():
        model[0].bias.add_(0.5)
    changed = emulate(model, x, DeployConfig(precision=SATURATING), cache_folder=cache_folder)
    assert not changed.cached
    assert not np.array_equal(first.emulated, changed.emulated)
    # no compiled library and no project folder is left behind in the cache
    assert all(p.suffix == ".npz" for p in cache_folder.iterdir())


@needs_gxx
@pytest.mark.slow
def test_project_folder_is_removed_and_write_exports(tagger_inputs, tmp_path):
    before = {p for p in Path(tempfile.gettempdir()).glob("precml_hls_*")}
    with FirmwareEmulator(load_jet_tagger(), (16,), DeployConfig()) as fw:
        project = fw.project_dir
        assert (project / "firmware" / "parameters.h").is_file()
        y = fw.predict(tagger_inputs[:100])
    assert not project.exists()
    assert {p for p in Path(tempfile.gettempdir()).glob("precml_hls_*")} == before
    assert y.shape == (100, 5)
    # an explicit export keeps the project for vendor tools
    hls_model = convert(load_jet_tagger(), (16,), DeployConfig(), tmp_path / "export")
    hls_model.write()
    assert (tmp_path / "export" / "build_prj.tcl").is_file()


@needs_gxx
def test_missing_compiler_is_a_clear_error(monkeypatch):
    emulate_mod.compiler_version.cache_clear()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    try:
        with pytest.raises(FirmwareBuildError, match=r"g\+\+ was not found.*apt-get install g\+\+"):
            FirmwareEmulator(load_jet_tagger(), (16,), DeployConfig())
    finally:
        emulate_mod.compiler_version.cache_clear()


@needs_gxx
@pytest.mark.slow
def test_compile_failure_quotes_errors_not_a_dump(monkeypatch):
    missing = "/nonexistent/precml_missing_header.h"
    monkeypatch.setattr(emulate_mod, "cxx_flags", lambda: ("-O0", "-shared", "-include", missing))
    with pytest.raises(FirmwareBuildError) as info:
        FirmwareEmulator(torch.nn.Sequential(torch.nn.Linear(2, 2)), (2,), DeployConfig())
    message = str(info.value)
    assert "g++ failed" in message and "wider precision" in message
    assert len(message) < 3000


@needs_gxx
@pytest.mark.slow
def test_precision_scan_on_dask_improves_with_width(cache_folder):
    from precml_widgets.anomaly.model import load_autoencoder

    trained = load_autoencoder()
    model = scored_autoencoder(trained.model, 5)
    x = np.random.default_rng(2).normal(size=(20_000, 5)).astype(np.float32)
    x[-2000:] *= np.linspace(2, 30, 2000, dtype=np.float32)[:, None]  # anomalies far out
    scan = precision_scan(
        model, x, widths=(8, 16), profile_x=x[:10_000], cache_folder=cache_folder, progress=False
    )
    coarse, fine = scan[8], scan[16]
    bulk = slice(0, 18_000)  # below the saturation of the score type

    def bulk_diff(r):
        return np.mean(np.abs(r.emulated[bulk] - r.reference[bulk]))

    assert bulk_diff(fine) < bulk_diff(coarse) / 4
    # far anomalies saturate the score instead of wrapping it to a small or negative number
    for result in (coarse, fine):
        score, truth = result.emulated[:, 0], result.reference[:, 0]
        assert np.all(score >= 0)
        far = truth > 4 * np.quantile(truth[:10_000], 0.999)
        assert far.sum() > 1000
        assert np.all(score[far] >= np.quantile(score[:10_000], 0.999)), result.config["precision"]
    # the firmware output is the score: sum of squared reconstruction errors
    np.testing.assert_allclose(fine.reference[:, 0], 5 * _mse(trained, x), rtol=1e-4, atol=1e-5)
    bg, sig = fine.reference[:15_000, 0], fine.reference[15_000:, 0]
    agreement = trigger_agreement(
        {
            "float": {"bg": bg, "sig": sig},
            "firmware": {"bg": fine.emulated[:15_000, 0], "sig": fine.emulated[15_000:, 0]},
        },
        background="bg",
        target_rate_hz=1e6,
        input_rate_hz=28.6e6,
    )
    assert agreement.decision_agreement > 0.97
    assert abs(agreement.rate_hz["float"] - agreement.rate_hz["firmware"]) < 0.2e6


def _mse(trained, x):
    with torch.no_grad():
        return torch.mean(
            (trained.model(torch.from_numpy(x)) - torch.from_numpy(x)) ** 2, 1
        ).numpy()
