"""Layers and devices of the estimator: table strings, hls4ml models and projects, reuse factors."""

from __future__ import annotations

import math
import time

import pytest

from precml_widgets import InvalidInputError
from precml_widgets.data import data_dir
from precml_widgets.fpga.devices import DEVICES, Device, get_device
from precml_widgets.fpga.layers import (
    SUPPORTED_KINDS,
    ConvLayer,
    DenseLayer,
    RecurrentLayer,
    SoftmaxLayer,
    check_reuse_factor,
    layers_from_hls_model,
    layers_from_project,
    layers_from_table_string,
    valid_reuse_factors,
)
from precml_widgets.fpga.precision import FixedType

REPORTS = data_dir() / "hls4ml" / "synthesis-reports" / "reports"


def test_table_string_dense_layers_with_types_and_zeros():
    text = (
        "dense:274x8:rf100:lat:w=fx8_2:acc=fx16_6:in=fx8_2:out=fx16_4:z=924 | "
        "dense:8x16:rf2:res:w=fx8_2:acc=fx16_6:in=ufx8_1_RC_S:out=None"
    )
    first, second = layers_from_table_string(text)
    assert (first.n_in, first.n_out, first.reuse_factor, first.n_zeros) == (274, 8, 100, 924)
    assert first.strategy == "latency" and second.strategy == "resource"
    assert first.weight == FixedType(8, 2) and first.accum == FixedType(16, 6)
    assert second.input == FixedType(8, 1, False, "AP_RND_CONV", "AP_SAT")
    assert second.result is None and second.n_zeros == 0
    # hls4ml's multiplier_limit = DIV_ROUNDUP(n_in*n_out, rf) - n_zeros / rf
    assert first.multiplier_limit == math.ceil(2192 / 100) - 924 // 100 == 13


def test_table_string_conv_rnn_and_softmax():
    conv2d, conv1d, gru, soft = layers_from_table_string(
        "conv2d:28x28x1->4:k3x3:rf3:res:w=fx16_6:acc=fx16_6:in=fx16_6:out=fx16_6 | "
        "conv1d:200x1->16:k3:rf48:res:w=fx16_6:acc=fx16_6:in=fx16_6:out=fx16_6 | "
        "gru:6x20:rf1:w=fx18_8:acc=fx18_8:in=None:out=None | softmax:5"
    )
    assert isinstance(conv2d, ConvLayer) and conv2d.kernel == (3, 3) and conv2d.n_in == 9
    assert conv1d.conv_kind == "conv1d" and conv1d.n_in == 3 and conv1d.n_out == 16
    assert isinstance(gru, RecurrentLayer) and gru.kernels == ((6, 60), (20, 60))
    assert soft == SoftmaxLayer(5, name="softmax_3")


def test_every_table_row_parses():
    table = REPORTS.parent / "table.csv"
    if not table.is_file():
        pytest.skip(f"shared data folder missing: no {table}")
    import csv

    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 57
    for row in rows:
        layers = layers_from_table_string(row["layers"])
        assert len([x for x in layers if isinstance(x, DenseLayer)]) == int(row["n_dense"])


def test_unknown_kind_names_the_layer_and_lists_supported_kinds():
    with pytest.raises(InvalidInputError) as err:
        layers_from_table_string("dense:4x4:rf1:lat | maxpool2d:4x4x1->1:k2x2")
    msg = str(err.value)
    assert "layer 1" in msg and "maxpool2d" in msg
    assert all(kind in msg for kind in SUPPORTED_KINDS)


@pytest.mark.parametrize("bad", ["dense:4x4:rf1:lat:w=fx16", "dense:4x4:rf1:lat:w=ap_fixed<16>"])
def test_invalid_precision_string_is_named(bad):
    with pytest.raises(InvalidInputError, match="weight"):
        layers_from_table_string(bad)


def test_layer_validation_messages():
    with pytest.raises(InvalidInputError, match="n_zeros=20 exceeds its 16 weights"):
        DenseLayer(4, 4, n_zeros=20, name="fc")
    with pytest.raises(InvalidInputError, match="strategy"):
        DenseLayer(4, 4, strategy="fast")
    with pytest.raises(InvalidInputError, match="reuse_factor"):
        DenseLayer(4, 4, reuse_factor=0)
    with pytest.raises(InvalidInputError, match="ap_fixed"):
        DenseLayer(4, 4, weight="fixed point please")
    assert DenseLayer(4, 4, weight="ap_fixed<8,3>").weight == FixedType(8, 3)


def test_valid_reuse_factors_come_from_hls4ml_and_are_cached():
    hls4ml = pytest.importorskip("hls4ml")
    expected = hls4ml.backends.get_backend("Vivado").get_valid_reuse_factors(16, 64)
    assert (
        valid_reuse_factors(16, 64)
        == tuple(expected)
        == (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    )
    valid_reuse_factors(64, 32)
    t0 = time.perf_counter()
    for _ in range(1000):
        valid_reuse_factors(64, 32)
    assert time.perf_counter() - t0 < 0.05  # cached: no backend call


def test_invalid_reuse_factor_suggests_nearest_valid():
    pytest.importorskip("hls4ml")
    assert check_reuse_factor(16, 64, 4) == 4
    with pytest.raises(InvalidInputError) as err:
        check_reuse_factor(16, 64, 3)
    assert "reuse_factor=3" in str(err.value) and "nearest valid: 2, 4" in str(err.value)


def torch_hls_model(tmp_path):
    torch = pytest.importorskip("torch")
    hls4ml = pytest.importorskip("hls4ml")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 5), torch.nn.Softmax(dim=-1)
    )
    with torch.no_grad():
        model[0].weight[:, :3] = 0.0  # 192 exact zeros
    config = hls4ml.utils.config_from_pytorch_model(
        model, input_shape=(16,), granularity="name", backend="Vitis", default_reuse_factor=4
    )
    config["LayerName"]["_0"]["Precision"]["weight"] = "ap_fixed<8,3>"
    hls_model = hls4ml.converters.convert_from_pytorch_model(
        model,
        hls_config=config,
        output_dir=str(tmp_path / "prj"),
        backend="Vitis",
        io_type="io_parallel",
    )
    hls_model.write()
    return hls_model


def test_layers_from_hls_model_and_from_its_project_agree(tmp_path):
    hls_model = torch_hls_model(tmp_path)
    from_model = layers_from_hls_model(hls_model)
    from_project = layers_from_project(tmp_path / "prj")
    assert [type(x) for x in from_model] == [DenseLayer, DenseLayer, SoftmaxLayer]
    first = from_model[0]
    assert (first.n_in, first.n_out, first.reuse_factor, first.n_zeros) == (16, 64, 4, 192)
    assert first.weight == FixedType(8, 3) and first.strategy == "latency"
    for a, b in zip(from_model, from_project, strict=True):
        assert type(a) is type(b) and a.n_in == b.n_in
        if isinstance(a, DenseLayer):
            same = ("n_out", "reuse_factor", "strategy", "n_zeros", "weight", "accum", "input")
            assert all(getattr(a, k) == getattr(b, k) for k in same)


def test_project_with_unsupported_layer_names_it(tmp_path):
    firmware = tmp_path / "firmware"
    firmware.mkdir()
    (firmware / "defines.h").write_text(
        "typedef ap_fixed<16,6> input_t;\ntypedef ap_fixed<16,6> layer2_t;\n"
    )
    (firmware / "parameters.h").write_text(
        "struct config2 : nnet::dense_config {\n"
        "    static const unsigned n_in = 8;\n    static const unsigned n_out = 4;\n"
        "    static const unsigned reuse_factor = 2;\n    static const unsigned n_zeros = 3;\n"
        "    static const unsigned strategy = nnet::latency;\n"
        "    typedef ap_fixed<16,6> accum_t;\n    typedef ap_fixed<10,4> weight_t;\n};\n"
        "struct config3 : nnet::pooling2d_config {\n    static const unsigned pool_width = 2;\n};\n"
    )
    (firmware / "myproject.cpp").write_text(
        "nnet::dense<input_t, layer2_t, config2>(x, y, w2, b2);\n"
        "nnet::pooling2d_cl<layer2_t, result_t, config3>(y, z);\n"
    )
    with pytest.raises(InvalidInputError) as err:
        layers_from_project(tmp_path)
    assert "config3" in str(err.value) and "dense" in str(err.value)
    (firmware / "myproject.cpp").write_text(
        "nnet::dense<input_t, layer2_t, config2>(x, y, w2, b2);\n"
    )
    (layer,) = layers_from_project(tmp_path)
    assert layer == DenseLayer(
        8,
        4,
        reuse_factor=2,
        n_zeros=3,
        weight=FixedType(10, 4),
        accum=FixedType(16, 6),
        input=FixedType(16, 6),
        result=FixedType(16, 6),
        name="config2",
    )


def test_not_a_project_folder(tmp_path):
    with pytest.raises(InvalidInputError, match="not an hls4ml project"):
        layers_from_project(tmp_path)


# ---------------------------------------------------------------- devices
def test_get_device_accepts_prefix_and_full_part():
    assert get_device("xcvu13p") is get_device("xcvu13p-flga2577-2-e") is DEVICES["xcvu13p"]
    assert get_device("XCU250-FIGD2104-2L-E").part == "xcu250"
    assert get_device("xcu50-fsvh2104-2-e").part == "xcu50"
    assert (
        get_device("xcku115").dsp_kind == "DSP48E2" and get_device("xc7z020").dsp_kind == "DSP48E1"
    )
    mine = Device("my card", "xcfoo", "UltraScale+", 10, 1000, 2000, 4)
    assert get_device(mine) is mine


def test_unknown_device_lists_known_ones_and_how_to_define_one():
    with pytest.raises(InvalidInputError) as err:
        get_device("xcvu19p-fsva3824")
    msg = str(err.value)
    assert "xcvu19p" in msg and "xcvu13p" in msg and "xc7z007s" in msg and "Device(" in msg


def test_device_validation():
    with pytest.raises(
        InvalidInputError, match=r"Device .bad.: dsp must be an integer >= 1, got 0"
    ):
        Device("bad", "xcbad", "UltraScale+", 0, 10, 10, 10)
    with pytest.raises(InvalidInputError, match="family"):
        Device("bad", "xcbad", "Stratix", 1, 10, 10, 10)


def test_catalogue_totals_equal_the_available_rows_of_real_reports():
    from precml_widgets.fpga.reports import read_csynth

    if not REPORTS.is_dir():
        pytest.skip(f"shared data folder missing: no {REPORTS}")
    checked = set()
    for folder in sorted(REPORTS.iterdir()):
        for name in ("myproject_csynth.xml", "myproject_csynth.rpt"):
            report = read_csynth(folder / name)
            device = get_device(report.part)
            assert device.totals == dict(report.available), (folder.name, name)
            checked.add(device.part)
    required = {"xcvu9p", "xcvu13p", "xc7z007s", "xc7z020", "xcu250", "xcu50", "xcu280"}
    assert required | {"xc7vx690t", "xcku035"} <= checked
    assert {"xcku115"} <= set(DEVICES)
