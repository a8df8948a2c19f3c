"""The NumPy fixed-point emulation: bit-exact against hls4ml's C++ on 1e5 events, clear errors."""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hls4ml")

from precml_widgets.anomaly.model import load_autoencoder  # noqa: E402
from precml_widgets.errors import InvalidInputError  # noqa: E402
from precml_widgets.fpga import emulate as emulate_module  # noqa: E402
from precml_widgets.fpga.convert import (  # noqa: E402
    DeployConfig,
    convert,
    profile_ranges,
    profiled_precisions,
)
from precml_widgets.fpga.emulate import FirmwareEmulator  # noqa: E402
from precml_widgets.fpga.fixed_emulation import (  # noqa: E402
    FixedPointModel,
    UnsupportedFirmwareError,
    supports,
)
from precml_widgets.fpga.models import load_jet_tagger, scored_autoencoder  # noqa: E402
from precml_widgets.fpga.precision import (  # noqa: E402
    ROUNDING_MODES,
    FixedType,
    IntRange,
    cast,
    from_float,
)

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="the reference needs g++")
N_EVENTS = 100_000
PROFILED_WIDTHS = (6, 10, 14, 18)
ROUNDING = ROUNDING_MODES  # every quantisation mode of ap_fixed
# every quantisation and overflow mode, saturating results, three saturating accumulators
SATURATING_TAGGER = {
    "input_1": {"result": "ap_fixed<12,4,AP_RND_CONV,AP_SAT>"},
    "_0": {
        "weight": "ap_fixed<10,2,AP_RND_CONV,AP_SAT>",
        "bias": "ap_fixed<10,3,AP_RND>",
        "accum": "ap_fixed<24,6>",
        "result": "ap_fixed<12,4,AP_RND_CONV,AP_SAT>",
    },
    "_1": {"result": "ap_ufixed<10,4,AP_RND,AP_SAT>"},
    "_2": {
        "weight": "ap_fixed<8,1,AP_RND_ZERO,AP_SAT_SYM>",
        "accum": "ap_fixed<14,5,AP_RND,AP_SAT>",
        "result": "ap_fixed<10,4,AP_RND_INF,AP_SAT_SYM>",
    },
    "_3": {"result": "ap_fixed<8,3,AP_TRN_ZERO,AP_SAT_ZERO>"},
    "_4": {
        "weight": "ap_fixed<9,2,AP_RND_MIN_INF,AP_WRAP>",
        "accum": "ap_fixed<13,4,AP_TRN_ZERO,AP_SAT_ZERO>",
        "result": "ap_fixed<10,4,AP_RND,AP_SAT>",
    },
    "_5": {"result": "ap_ufixed<8,4,AP_RND_CONV,AP_SAT>"},
    "_6": {
        "weight": "ap_fixed<10,3,AP_RND,AP_SAT>",
        "accum": "ap_fixed<16,6,AP_RND_CONV,AP_SAT_SYM>",
        "result": "ap_fixed<9,4,AP_RND,AP_SAT>",
    },
    "_7": {"result": "ap_ufixed<8,0,AP_RND,AP_SAT>"},
}


def _events(n: int, n_features: int, seed: int = 0) -> np.ndarray:
    """Standardised features; every tenth event scaled by 5 to reach saturation and wrapping."""
    x = np.random.default_rng(seed).normal(size=(n, n_features))
    x[::10] *= 5
    return x


def _assert_bit_exact(firmware: FirmwareEmulator, x: np.ndarray) -> np.ndarray:
    expected = firmware.predict(x)
    got = FixedPointModel.from_hls_model(firmware.hls_model).predict(x, threads=2)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.array_equal(got, expected), f"{np.count_nonzero(got != expected)} values differ"
    return got


@pytest.fixture(scope="module")
def autoencoder():
    return scored_autoencoder(load_autoencoder().model, 5)


@pytest.fixture(scope="module")
def tagger():
    return load_jet_tagger()


@pytest.fixture(scope="module")
def firmwares(autoencoder, tagger):
    """Every configuration compiled once, two g++ builds at a time while the tests run.

    Conversions take a lock (torch.fx tracing patches torch globally); the builds overlap.
    """
    lock = threading.Lock()

    def locked_convert(*args, **kwargs):
        with lock:
            return convert(*args, **kwargs)

    ranges = profile_ranges(autoencoder, _events(5000, 5, seed=1))
    configs = {"ae": (autoencoder, (5,), DeployConfig())}
    for width in PROFILED_WIDTHS:
        precisions = profiled_precisions(ranges, width)
        configs[f"ae_W{width}"] = (autoencoder, (5,), DeployConfig(layer_precision=precisions))
    configs["tagger"] = (tagger, (16,), DeployConfig())
    configs["tagger_sat"] = (tagger, (16,), DeployConfig(layer_precision=SATURATING_TAGGER))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(emulate_module, "convert", locked_convert)
        with ThreadPoolExecutor(2) as pool:
            futures = {name: pool.submit(FirmwareEmulator, *job) for name, job in configs.items()}
            yield {name: future.result for name, future in futures.items()}
    for future in futures.values():
        if future.exception() is None:
            future.result().close()


@pytest.mark.parametrize("rounding", ROUNDING)
@pytest.mark.parametrize("overflow", ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM"))
@pytest.mark.parametrize(("width", "integer", "signed"), [(8, 3, True), (6, 8, False)])
def test_integer_and_double_casts_agree(rounding, overflow, width, integer, signed):
    """The shift-and-offset casts equal the double conversion (ap_fixed's two code paths)."""
    rng = np.random.default_rng(3)
    raw = rng.integers(-(2**20), 2**20, 20_000) >> rng.integers(0, 20, 20_000)
    raw = np.concatenate([raw, np.arange(-600, 600)])  # every tie near zero
    t = FixedType(width, integer, signed, rounding, overflow)
    exact = cast(raw, IntRange(7, int(raw.min()), int(raw.max())), t)
    np.testing.assert_array_equal(exact, from_float(np.ldexp(raw.astype(float), -7), t))


@pytest.mark.parametrize(
    "model_config",
    [
        (torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh()), DeployConfig(), "tanh"),
        (torch.nn.Sequential(torch.nn.Linear(4, 3)), DeployConfig(strategy="Resource"), "kernel"),
        (torch.nn.Sequential(torch.nn.Linear(4, 3)), DeployConfig(io_type="io_stream"), "io_"),
        (
            torch.nn.Sequential(torch.nn.Linear(4, 3)),
            DeployConfig(precision="ap_fixed<40,12>"),
            r"ap_fixed<40,12>",
        ),
    ],
    ids=["tanh", "resource", "io_stream", "40-bit"],
)
def test_unsupported_firmware_is_a_clear_error(model_config, tmp_path, monkeypatch):
    from precml_widgets.fpga import convert as convert_module

    model, config, what = model_config
    # precml's convert() refuses Tanh up front; an hls4ml model built elsewhere can hold one,
    # and the twin must then refuse it clearly too
    monkeypatch.setattr(convert_module, "check_supported", lambda model: None)
    hls_model = convert(model, (4,), config, tmp_path / "project")
    with pytest.raises(UnsupportedFirmwareError, match=what) as info:
        FixedPointModel.from_hls_model(hls_model)
    assert "nnet::dense" in str(info.value)  # the message lists what is supported
    assert supports(hls_model) == (False, str(info.value))
    assert isinstance(info.value, InvalidInputError)


@pytest.mark.slow
@needs_gxx
def test_autoencoder_uniform_is_bit_exact(firmwares):
    firmware = firmwares["ae"]()
    scores = _assert_bit_exact(firmware, _events(N_EVENTS, 5))
    assert supports(firmware.hls_model) == (True, "")
    assert np.unique(scores).size > 1000  # a real score, not a constant


@pytest.mark.slow
@needs_gxx
@pytest.mark.parametrize("width", PROFILED_WIDTHS)
def test_autoencoder_profiled_is_bit_exact(firmwares, width):
    _assert_bit_exact(firmwares[f"ae_W{width}"](), _events(N_EVENTS, 5, seed=width))


@pytest.mark.slow
@needs_gxx
def test_tagger_uniform_and_softmax_are_bit_exact(firmwares, tagger):
    x = _events(N_EVENTS, 16, seed=3)
    probs = _assert_bit_exact(firmwares["tagger"](), x)
    # hls4ml's table softmax: 1/sum comes from the top 10 bits of an ap_fixed<18,8>, so rows
    # sum to 1 only within ~25%, but the largest probability still picks the float class
    assert np.all(probs >= 0) and np.all(np.abs(probs.sum(axis=1) - 1) < 0.3)
    logits = x  # float reference in NumPy: no torch call while builds trace in the background
    for layer in tagger:
        if isinstance(layer, torch.nn.Linear):
            logits = logits @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
        elif isinstance(layer, torch.nn.ReLU):
            logits = np.maximum(logits, 0)
    assert np.mean(probs.argmax(1) == logits.argmax(1)) > 0.9


@pytest.mark.slow
@needs_gxx
def test_saturating_tagger_is_bit_exact(firmwares):
    probs = _assert_bit_exact(firmwares["tagger_sat"](), _events(N_EVENTS, 16, seed=4))
    assert probs.max() == 1 - 2**-8  # ap_ufixed<8,0> saturates below 1


@pytest.mark.slow
@needs_gxx
def test_hls4ml_predict_equals_batch_and_numpy(firmwares):
    firmware = firmwares["ae"]()
    x = _events(10_000, 5, seed=5)
    reference = firmware.hls4ml_predict(x)
    assert np.array_equal(firmware.predict(x), reference)
    numpy_model = FixedPointModel.from_hls_model(firmware.hls_model)
    assert np.array_equal(numpy_model.predict(x), reference)


@pytest.mark.slow
@needs_gxx
def test_predict_chunks_threads_and_input_checks(firmwares):
    model = FixedPointModel.from_hls_model(firmwares["ae"]().hls_model)
    x = _events(5000, 5, seed=6)
    one = model.predict(x, threads=1, chunk_size=5000)
    assert np.array_equal(model.predict(x, threads=2, chunk_size=333), one)
    assert np.array_equal(model.predict(x[0]), one[:1])
    with pytest.raises(InvalidInputError, match="5"):
        model.predict(np.zeros((3, 4)))
    with pytest.raises(InvalidInputError, match="NaN"):
        model.predict(np.full((2, 5), np.nan))
