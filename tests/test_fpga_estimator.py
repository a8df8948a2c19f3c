"""The FPGA resource/latency estimator: derived rules, calibration file, validation, contracts."""

from __future__ import annotations

import itertools
import json
import math
import re
import statistics
import time

import pytest

from precml_widgets import InvalidInputError
from precml_widgets.data import data_dir
from precml_widgets.fpga import calibrate
from precml_widgets.fpga.devices import Device, get_device
from precml_widgets.fpga.estimator import (
    COEFFICIENTS_FILE,
    Coefficients,
    ResourceOverflowError,
    check_budget,
    estimate,
    require_fits,
)
from precml_widgets.fpga.layers import DenseLayer, SoftmaxLayer

TABLE = data_dir() / "hls4ml" / "synthesis-reports" / "table.csv"
SHIPPED = json.loads(COEFFICIENTS_FILE.read_text())
C = Coefficients(**SHIPPED["coefficients"])
# inside the calibration domain: Vivado HLS on a Zynq-7020 at 5 ns, 16-bit weights, Latency
IN_DOMAIN = {"device": "xc7z020", "clock_ns": 5.0, "backend": "Vivado"}
needs_table = pytest.mark.skipif(not TABLE.is_file(), reason=f"shared data missing: no {TABLE}")


def _fraction(n_in: int, weight_fractional_bits: int) -> float:
    """The derived fraction of non-zero products that stay multiplications."""
    return C.f_sat * math.erfc(C.k_w * math.sqrt(n_in) * 2.0**-weight_fractional_bits)


def test_hand_computed_16_to_64_layer():
    layer = DenseLayer(16, 64, weight="ap_fixed<16,6>")
    est = estimate([layer], **IN_DOMAIN)
    (terms,) = est.layers
    mults = _fraction(16, 10) * 1024
    assert terms.multiplier_limit == 1024 and terms.multiplications == pytest.approx(mults)
    assert est.dsp == pytest.approx(mults)  # min(M, L) DSPs, one DSP48E1 per 16x16 product
    assert est.lut == pytest.approx(C.c_add * 1024 * 16)  # adder tree only: products on DSPs
    # tree registers: D_t = (t_mul + t_add log2 16) / 5 ns stages cut the 4-level tree;
    # after stage k of D_t, 16^(-k/(D_t+1)) of the 1024 products are live partial sums
    d_t = (C.t_mul_ns + C.t_add_ns * 4) / 5.0
    r = 16 ** (-1 / (d_t + 1))
    live = r * (1 - r**d_t) / (1 - r)  # geometric sum over the (continuous) stage count
    assert est.ff == pytest.approx(C.c_reg * 1024 * 16 * live + C.c_io * 64 * 16)
    assert est.latency_cycles == pytest.approx(1 + d_t + C.c_layer + C.c_top)
    assert est.ii_cycles == 1.0


def test_tree_registers_follow_the_pipeline_depth():
    """FF of a dense layer are the partial sums alive at its register stages (fails on the
    old model, where FF were proportional to every product times 5 ns / T)."""
    from precml_widgets.fpga.resource_model import live_fraction

    # integer stage counts against the explicit sum over stages
    for depth, n_in in ((1, 64), (2, 16), (6, 16), (9, 274)):
        explicit = sum(n_in ** (-k / (depth + 1)) for k in range(1, depth + 1))
        assert live_fraction(float(depth), n_in) == pytest.approx(explicit, rel=1e-12)
    assert live_fraction(1.0, 64) == pytest.approx(1 / 8)  # one stage halfway: sqrt(64)
    assert live_fraction(0.0, 64) == 0.0  # a combinational layer has no tree registers
    # csynth report (instance table), Vitis HLS 2021.1 at 3.33 ns, 16x64 layer of 859
    # non-zero 16-bit products, 6 cycles = output register + 5 tree stages:
    # 22630 FF / (859 x 16) = 1.65 registers per product, the sum at D_t = 5 is 1.53. One
    # fixed report, no sampling: the tolerance is the model's own measured spread, the
    # shipped 68 % bounds of the held-out FF log residuals (a report outside them would be
    # worse than the 16th/84th percentile of the held-out designs)
    ff_lo, ff_hi = SHIPPED["intervals"]["bounds"]["calibrated"]["ff"]
    assert ff_lo <= math.log(22630 / (859 * 16) / live_fraction(5.0, 16)) <= ff_hi
    vivado = estimate([DenseLayer(16, 64)], **IN_DOMAIN, output_softmax=False)
    vitis = estimate([DenseLayer(16, 64)], **{**IN_DOMAIN, "backend": "Vitis"})
    assert vitis.latency_cycles > vivado.latency_cycles and vitis.ff > vivado.ff
    slow = estimate([DenseLayer(16, 64)], **{**IN_DOMAIN, "clock_ns": 25.0})
    assert slow.ff < vivado.ff  # fewer stages at a slower clock


def test_softmax_registers_scale_with_its_pipeline():
    """The softmax holds one 18-bit table word per output per stage (0 FF in the old model);
    Vivado HLS 2019.2 at 5 ns reports 236 FF for a 5-output softmax of 4 cycles."""
    est = estimate([SoftmaxLayer(5)], **IN_DOMAIN)
    (sm,) = est.layers
    assert sm.ff == pytest.approx(C.c_sm_reg * 5 * 18 * sm.latency_cycles) and sm.ff > 0
    # one fixed report: within the shipped 68 % bounds of the held-out FF log residuals
    ff_lo, ff_hi = SHIPPED["intervals"]["bounds"]["calibrated"]["ff"]
    assert ff_lo <= math.log1p(236) - math.log1p(sm.ff) <= ff_hi


def test_reuse_factor_and_zeros_set_hls4ml_multiplier_limit():
    rf4 = estimate([DenseLayer(16, 64, reuse_factor=4)], **IN_DOMAIN).layers[0]
    assert rf4.multiplier_limit == 256 and rf4.dsp == min(rf4.multiplications, 256) == 256
    pruned = estimate([DenseLayer(16, 64, reuse_factor=4, n_zeros=24)], **IN_DOMAIN).layers[0]
    assert pruned.multiplier_limit == 256 - 6
    assert pruned.multiplications == pytest.approx(_fraction(16, 10) * 1000)
    dense = estimate([DenseLayer(16, 64)], **IN_DOMAIN)
    sparse = estimate([DenseLayer(16, 64, n_zeros=512)], **IN_DOMAIN)
    assert sparse.dsp == pytest.approx(dense.dsp / 2) and sparse.lut < dense.lut


def test_narrow_weights_use_no_dsp_unless_forced():
    narrow = [DenseLayer(16, 64, weight="ap_fixed<6,2>")]
    assert estimate(narrow, **IN_DOMAIN).dsp == 0.0
    forced = estimate(narrow, **IN_DOMAIN, mul_impl="dsp")
    assert forced.dsp == pytest.approx(_fraction(16, 4) * 1024)
    wide = [DenseLayer(16, 64)]
    fabric = estimate(wide, **IN_DOMAIN, mul_impl="fabric")
    on_dsp = estimate(wide, **IN_DOMAIN)
    assert fabric.dsp == 0.0 and fabric.lut == pytest.approx(
        on_dsp.lut + C.c_mul * on_dsp.dsp * 16 * 16
    )
    # a 32x32-bit product needs ceil(32/25)*ceil(32/18) = 4 DSP48E1 slices
    wide32 = estimate([DenseLayer(4, 4, weight="ap_fixed<32,16>")], **IN_DOMAIN).layers[0]
    assert wide32.dsp == pytest.approx(4 * wide32.multiplications)


def test_ii_is_the_largest_reuse_factor_for_small_reuse():
    layers = [
        DenseLayer(16, 64, reuse_factor=2),
        DenseLayer(64, 32, reuse_factor=4),
        DenseLayer(32, 5),
        SoftmaxLayer(5),
    ]
    est = estimate(layers, **IN_DOMAIN)
    assert est.ii_cycles == 4.0 and est.ii_ns == 20.0


def test_more_reuse_fewer_dsp_more_latency():
    rfs = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    runs = [estimate([DenseLayer(16, 64, reuse_factor=rf)], **IN_DOMAIN) for rf in rfs]
    dsp = [r.dsp for r in runs]
    latency = [r.latency_cycles for r in runs]
    assert all(a >= b for a, b in itertools.pairwise(dsp)) and dsp[-1] == 1.0
    assert all(a <= b for a, b in itertools.pairwise(latency))
    assert latency[-1] > latency[0]


def test_fractions_and_fits_use_device_totals():
    device = get_device("xc7z020")
    est = estimate([DenseLayer(16, 64), SoftmaxLayer(64)], **IN_DOMAIN)
    for key in ("dsp", "lut", "ff", "bram18k"):
        assert est.fractions[key] == pytest.approx(getattr(est, key) / getattr(device, key))
    assert est.fits == all(v <= 1 for v in est.fractions.values())
    mine = Device("tiny", "xctiny", "7-series", 10, 1_000, 2_000, 4)
    small = estimate([DenseLayer(16, 64)], device=mine)
    assert small.device is mine and not small.fits
    assert small.fractions["dsp"] == pytest.approx(small.dsp / 10)


def test_in_domain_has_no_extrapolation_flags():
    assert estimate([DenseLayer(16, 64), SoftmaxLayer(64)], **IN_DOMAIN).extrapolations == ()


@pytest.mark.parametrize(
    ("layers", "options", "needle"),
    [
        ([DenseLayer(16, 64, strategy="resource")], {}, "Resource strategy"),
        ([DenseLayer(16, 64)], {"io_type": "io_stream"}, "io_stream"),
        ([DenseLayer(16, 64)], {"device": "xcvu13p"}, "device xcvu13p"),
        ([DenseLayer(16, 64)], {"clock_ns": 2.0}, "clock 2 ns"),
        ([DenseLayer(16, 64)], {"clock_ns": 40.0}, "clock 40 ns"),
        ([DenseLayer(128, 128)], {}, "exceed the largest calibrated layer"),
        ([DenseLayer(128, 128)], {}, "array-partition limit"),
        ([DenseLayer(16, 64, weight="ap_fixed<4,2>")], {}, "4-bit weights"),
    ],
)
def test_extrapolation_flags(layers, options, needle):
    est = estimate(layers, **{**IN_DOMAIN, **options})
    assert any(needle in flag for flag in est.extrapolations), est.extrapolations


def test_conv_and_rnn_are_estimated_and_flagged():
    est = estimate(
        "conv2d:28x28x1->4:k3x3:rf3:res:w=fx16_6:acc=fx16_6:in=fx16_6:out=fx16_6 | "
        "gru:6x20:rf1:w=fx16_6:acc=fx16_6:in=fx16_6:out=fx16_6 | dense:20x5:rf1:lat",
        **IN_DOMAIN,
        io_type="io_stream",
    )
    kinds = [x.kind for x in est.layers]
    # a table string gets the output softmax (the table's convention, stated in the result)
    assert kinds == ["conv", "rnn", "dense", "softmax"] and est.dsp > 0
    assert est.latency_cycles > 784 and est.output_softmax.startswith("appended")
    assert sum("layers are not calibrated" in x for x in est.extrapolations) == 2


def test_estimate_dispatches_on_its_input(tmp_path):
    layers = [DenseLayer(16, 64, weight="fx16_6", accum="fx16_6"), SoftmaxLayer(64)]
    by_list = estimate(layers)
    by_string = estimate("dense:16x64:rf1:lat:w=fx16_6:acc=fx16_6 | softmax:64")
    assert by_string.dsp == by_list.dsp and by_string.lut == by_list.lut
    assert estimate(layers[0]).dsp == pytest.approx(by_list.dsp - 64)
    with pytest.raises(InvalidInputError, match="layers must be"):
        estimate(42)


def test_estimate_from_hls_model_and_project(tmp_path):
    from test_fpga_layers import torch_hls_model

    hls_model = torch_hls_model(tmp_path)
    a = estimate(hls_model, device="xcu250")
    b = estimate(tmp_path / "prj", device="xcu250")
    assert a.dsp == pytest.approx(b.dsp) and a.latency_cycles == pytest.approx(b.latency_cycles)
    assert [x.kind for x in a.layers] == ["dense", "dense", "softmax"]


def test_error_is_the_measured_leave_component_out_smape_of_the_tool_family():
    by_family = SHIPPED["cross_validation"]["by_family"]
    vitis = estimate([DenseLayer(16, 64)], backend="Vitis")
    vivado = estimate([DenseLayer(16, 64)], backend="Vivado")
    assert dict(vitis.error) == by_family["Vitis HLS"]["smape"]
    assert dict(vivado.error) == by_family["Vivado HLS"]["smape"]
    assert vitis.error != vivado.error
    est = vitis
    assert set(est.error) == {"dsp", "lut", "ff", "bram18k", "latency", "ii"}
    assert "68% intervals" in est.summary()


def test_check_budget_latency_and_bunch_crossing():
    est = estimate([DenseLayer(16, 64, reuse_factor=8)], **IN_DOMAIN)  # II 8 x 5 ns = 40 ns
    check = check_budget(est, latency_budget_ns=est.latency_ns + 1)
    assert check.latency_ok and not check.ii_ok and not check.ok
    relaxed = check_budget(est, latency_budget_ns=est.latency_ns + 1, require_ii=False)
    assert relaxed.ok and check_budget(est, latency_budget_ns=1.0).latency_ok is False
    assert check_budget(est, latency_budget_ns=1e4, bunch_spacing_ns=50.0).ok
    with pytest.raises(InvalidInputError):
        check_budget(est, latency_budget_ns=0.0)


def test_require_fits_names_the_overflow():
    est = estimate([DenseLayer(64, 64), DenseLayer(64, 64)], **IN_DOMAIN)
    with pytest.raises(ResourceOverflowError) as err:
        require_fits(est)
    msg = str(err.value)
    assert "xc7z020" in msg and "DSP needs" in msg and "220" in msg and "over" in msg
    ok = estimate([DenseLayer(8, 4)], **IN_DOMAIN)
    assert require_fits(ok) is ok


def test_bad_inputs():
    with pytest.raises(InvalidInputError, match="xcvu13p"):
        estimate([DenseLayer(4, 4)], device="xc9nope")
    with pytest.raises(InvalidInputError, match="backend"):
        estimate([DenseLayer(4, 4)], backend="Quartus")
    with pytest.raises(InvalidInputError, match="io_type"):
        estimate([DenseLayer(4, 4)], io_type="io_serial")
    with pytest.raises(InvalidInputError, match="mul_impl"):
        estimate([DenseLayer(4, 4)], mul_impl="lut")
    with pytest.raises(InvalidInputError, match="clock_ns"):
        estimate([DenseLayer(4, 4)], clock_ns=0.0)
    with pytest.raises(InvalidInputError, match="conv3d"):
        estimate("conv3d:4x4x4x1->2:k2x2x2:rf1:lat")
    with pytest.raises(InvalidInputError, match="empty"):
        estimate([])


def test_estimate_takes_under_10_ms():
    layers = [
        DenseLayer(16, 64, reuse_factor=2),
        DenseLayer(64, 32),
        DenseLayer(32, 32),
        DenseLayer(32, 5),
        SoftmaxLayer(5),
    ]
    for _ in range(20):  # warm-up: the calibration file is read once
        estimate(layers)
    times = []
    for rf in [1, 2, 4, 8] * 50:
        t0 = time.perf_counter()
        estimate(layers, device="xcu250", clock_ns=4.0 + rf / 8)
        times.append(time.perf_counter() - t0)
    assert statistics.median(times) <= 0.010


# ---------------------------------------------------------------- calibration
@pytest.fixture(scope="module")
def rows():
    return calibrate.load_calibration_table()


def test_evaluate_terms_is_public():
    from precml_widgets.fpga import estimator

    assert "evaluate_terms" in estimator.__all__
    assert "_evaluate" not in calibrate.__dict__  # calibrate no longer imports the private name
    totals, _ = estimator.evaluate_terms(
        [DenseLayer(16, 64)],
        device=get_device("xc7z020"),
        clock_ns=5.0,
        vitis=False,
        mul_impl=None,
        c=C,
    )
    assert totals["dsp"] == pytest.approx(estimate([DenseLayer(16, 64)], **IN_DOMAIN).dsp)


def test_output_softmax_is_one_convention():
    tagger = "dense:16x64:rf1:lat:w=fx16_6 | dense:64x32:rf1:lat:w=fx16_6 | dense:32x5:rf1:lat"
    by_string = estimate(tagger, **IN_DOMAIN)
    assert by_string.bram18k > 0 and by_string.output_softmax.startswith("appended over 5")
    assert [x.kind for x in by_string.layers][-1] == "softmax"
    without = estimate(tagger, **IN_DOMAIN, output_softmax=False)
    assert without.bram18k == 0 and without.output_softmax.startswith("none")
    listed = [DenseLayer(16, 64), DenseLayer(64, 5)]
    assert estimate(listed, **IN_DOMAIN).bram18k == 0  # a list is priced as given ...
    appended = estimate(listed, **IN_DOMAIN, output_softmax=True)  # ... unless asked
    assert appended.bram18k == pytest.approx(C.c_bram * 5)
    with_softmax = estimate([*listed, SoftmaxLayer(5)], **IN_DOMAIN, output_softmax=True)
    assert with_softmax.bram18k == appended.bram18k  # never two softmaxes
    assert "priced as listed" in with_softmax.output_softmax
    with pytest.raises(InvalidInputError, match="output_softmax"):
        estimate(listed, output_softmax="yes")


@needs_table
def test_public_estimate_of_a_table_row_is_the_calibrated_prediction(rows):
    """The calibration and estimate() read a row's layer string the same way (softmax)."""
    import csv

    with open(TABLE, newline="") as fh:
        strings = {r["example_id"]: r["layers"] for r in csv.DictReader(fh)}
    backend = {"Vitis HLS": "Vitis", "Vivado HLS": "Vivado"}
    for row in (r for r in rows if r.excluded is None):
        est = estimate(
            strings[row.example_id],
            device=row.part,
            clock_ns=row.clock_ns,
            backend=backend[row.tool_family],
            mul_impl=row.mul_impl,
            invalid_reuse="as_given",  # the table records requested reuse factors (e.g. 100)
        )
        truth = calibrate.predict(row, C)
        assert est.bram18k == pytest.approx(truth["bram18k"]) and est.bram18k > 0
        assert est.latency_cycles == pytest.approx(truth["latency"])
        assert est.dsp == pytest.approx(truth["dsp"])


@pytest.mark.parametrize(
    ("layers", "options", "needle"),
    [
        ([DenseLayer(16, 64)], {"io_type": "io_stream"}, "FIFOs"),
        ("conv1d:10x4->8:k3:rf1:lat:w=fx16_6", {}, "im2col"),
        ("gru:6x20:rf1:w=fx16_6 | dense:20x5:rf1:lat", {}, "ONE time step"),
        ([DenseLayer(16, 64, weight="ap_fixed<6,2>", input="ap_fixed<16,6>")], {}, "QKeras"),
        ([DenseLayer(128, 64)], {}, "array-partition limit"),
    ],
)
def test_flags_where_the_rules_are_known_to_fail(layers, options, needle):
    est = estimate(layers, **{**IN_DOMAIN, **options})
    assert any(needle in flag for flag in est.extrapolations), est.extrapolations


def test_rnn_sequence_length_is_priced():
    one = estimate("gru:6x20:rf1:w=fx16_6", **IN_DOMAIN)
    fifty = estimate("gru:6x20:rf1:t50:w=fx16_6", **IN_DOMAIN)
    assert not any("ONE time step" in x for x in fifty.extrapolations)
    assert fifty.layers[0].latency_cycles == pytest.approx(50 * one.layers[0].latency_cycles)
    assert estimate([DenseLayer(16, 64, weight="ap_fixed<6,2>")], **IN_DOMAIN, mul_impl="fabric")


def test_intervals_follow_the_shipped_bounds_and_widen_by_flag_kind():
    bounds = SHIPPED["intervals"]["bounds"]
    inside = estimate([DenseLayer(16, 64), SoftmaxLayer(64)], **IN_DOMAIN)
    flagged = estimate([DenseLayer(16, 64), SoftmaxLayer(64)], **IN_DOMAIN, io_type="io_stream")
    assert inside.extrapolations == () and flagged.extrapolations
    assert inside.interval_level == 0.68
    for q in calibrate.QUANTITIES:
        value = {"latency": inside.latency_cycles, "ii": inside.ii_cycles}.get(q)
        value = getattr(inside, q) if value is None else value
        lo_b, hi_b = bounds["calibrated"][q]
        lo, hi = inside.interval[q]
        assert lo == pytest.approx(max(math.expm1(math.log1p(value) + lo_b), 0.0))
        assert hi == pytest.approx(math.expm1(math.log1p(value) + hi_b))
        # io_stream widens with the stream pool only (not conv, rnn, ...)
        slo = min(lo_b, bounds["stream"][q][0])
        shi = max(hi_b, bounds["stream"][q][1])
        flo, fhi = flagged.interval[q]
        assert flo == pytest.approx(max(math.expm1(math.log1p(value) + slo), 0.0))
        assert fhi == pytest.approx(math.expm1(math.log1p(value) + shi))
    assert "stream" in flagged.interval_notes[0] and "conv" not in flagged.interval_notes[0]
    lo_ns, hi_ns = inside.latency_ns_interval
    assert lo_ns <= inside.latency_ns <= hi_ns


def test_an_uncalibrated_part_or_clock_does_not_widen_the_interval():
    """estimate([Dense(16,64), Dense(64,5)]) on the default xcvu13p was flagged only for its
    part name and got the conv/RNN-wide interval (FF [18k, 982k]); the part changes no term of
    this design, so its interval is the one on a calibrated part, and the flag says so."""
    layers = [DenseLayer(16, 64), DenseLayer(64, 5)]
    default = estimate(layers)
    calibrated_part = estimate(layers, device="xcu250")
    assert any("xcvu13p" in x and "not widened" in x for x in default.extrapolations)
    assert calibrated_part.extrapolations == ()
    assert default.ff == pytest.approx(calibrated_part.ff)
    for q in calibrate.QUANTITIES:
        assert default.interval[q] == pytest.approx(calibrated_part.interval[q])
    slow = estimate(layers, device="xcu250", clock_ns=40.0)
    assert any("not widened" in x for x in slow.extrapolations)
    base = math.log1p(slow.ff)
    hi_b = SHIPPED["intervals"]["bounds"]["calibrated"]["ff"][1]
    assert slow.interval["ff"][1] == pytest.approx(math.expm1(base + hi_b))


def test_each_flag_kind_widens_with_its_own_pool():
    bounds = SHIPPED["intervals"]["bounds"]
    cases = {
        "conv": "conv1d:10x4->8:k3:rf1:lat:w=fx16_6",
        "rnn": "gru:6x20:rf1:w=fx16_6 | dense:20x5:rf1:lat",
        "partition": [DenseLayer(128, 64)],
    }
    for kind, layers in cases.items():
        est = estimate(layers, **IN_DOMAIN, output_softmax=False)
        assert kind in est.interval_notes[0], (kind, est.interval_notes)
        value = math.log1p(est.ff)
        assert est.interval["ff"][1] >= math.expm1(value + bounds[kind]["ff"][1]) * (1 - 1e-12)


def test_one_design_through_the_four_readers_gives_identical_estimates(tmp_path):
    """A table string, a table row (in the table's spellings), a ModelGraph and its project
    folder describing one design give the same estimate, intervals and flags (flags name the
    layers, which a table string does not: compared without the names)."""
    from test_fpga_layers import torch_hls_model

    from precml_widgets.fpga.design import DesignSpec
    from precml_widgets.fpga.layers import layers_from_hls_model, to_table_string

    hls_model = torch_hls_model(tmp_path)
    part = hls_model.config.get_config_value("Part")
    text = to_table_string(layers_from_hls_model(hls_model))
    row = {
        "example_id": "tagger",
        "category": "dense",
        "layers": text,
        "part": part,
        "clock_target_ns": "5.0",
        "hls_tool": "Vitis HLS",
        "io_type": "io_parallel",
        "mul_impl": "",
    }
    specs = [
        DesignSpec.from_table_string(text, device=part),
        DesignSpec.from_table_row(row),
        DesignSpec.from_hls_model(hls_model),
        DesignSpec.from_project(tmp_path / "prj"),
    ]
    estimates = [spec.estimate() for spec in specs] + [estimate(hls_model)]

    def numbers(est):
        return (
            est.dsp,
            est.lut,
            est.ff,
            est.bram18k,
            est.latency_cycles,
            est.ii_cycles,
            est.device,
            est.backend,
            dict(est.interval),
            [re.sub(r"^layer \S+:", "layer:", flag) for flag in est.extrapolations],
            dict(est.error),
            [x.kind for x in est.layers],
        )

    first = numbers(estimates[0])
    assert first[-1] == ["dense", "dense", "softmax"] and first[8]
    for other in estimates[1:]:
        assert numbers(other) == first


@needs_table
def test_estimate_table_prices_every_row_of_the_calibration_table(rows):
    """estimate_table: one estimate per row, equal to the model's prediction for the row,
    each with its intervals and flags."""
    from precml_widgets.fpga.design import estimate_table

    table = estimate_table(TABLE)
    assert [t.example_id for t in table] == [r.example_id for r in rows]
    for t, row in zip(table, rows, strict=True):
        expected = calibrate.predict(row, C)
        got = t.estimate
        assert (got.dsp, got.lut, got.ff, got.bram18k) == pytest.approx(
            (expected["dsp"], expected["lut"], expected["ff"], expected["bram18k"]), rel=1e-12
        )
        assert (got.latency_cycles, got.ii_cycles) == pytest.approx(
            (expected["latency"], expected["ii"]), rel=1e-12
        )
        assert set(got.interval) == set(calibrate.QUANTITIES)
        assert dict(t.measured) == dict(row.targets)
        if row.excluded and "design" in row.excluded:  # conv/rnn designs are flagged
            assert got.extrapolations
