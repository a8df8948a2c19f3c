"""The estimator's layer stacks of torch models, and the FPGA-estimator widget, headless."""

from __future__ import annotations

import itertools
import re
import statistics
import tempfile
import time

import numpy as np
import pytest

pytest.importorskip("panel")
pytest.importorskip("torch")
pytest.importorskip("hls4ml")

import panel as pn
import torch
from bokeh.document import Document

from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga.dashboard import DEFAULT_DEVICE
from precml_widgets.fpga.devices import Device
from precml_widgets.fpga.estimator import estimate
from precml_widgets.fpga.estimator_view import (
    LATENCY_PRESETS,
    FPGAEstimator,
    calibration_label,
    default_models,
)
from precml_widgets.fpga.layers import (
    DenseLayer,
    MergeLayer,
    SoftmaxLayer,
    valid_reuse_factors,
)
from precml_widgets.fpga.stacks import (
    dense_stack,
    estimator_stack,
    nearest_valid_reuse,
    unmodelled_nodes,
)

AE, JET = "trigger autoencoder", "jet tagger"
TINY = Device("tiny", "xc7z010", "7-series", 80, 17_600, 35_200, 120)


@pytest.fixture(scope="module")
def models():
    return default_models()


@pytest.fixture
def widget(models):
    return FPGAEstimator(models)


def _mlp(*widths: int) -> torch.nn.Module:
    layers: list[torch.nn.Module] = []
    for a, b in itertools.pairwise(widths):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def _panes(widget: FPGAEstimator) -> dict[str, pn.pane.Markdown]:
    """The Markdown (and Alert) panes of the rendered page, by their CSS class."""
    layout = widget.__panel__()
    return {css: p for p in layout.select(pn.pane.Markdown) for css in p.css_classes}


def _pane(widget: FPGAEstimator, css: str) -> str:
    """The text of the page's ``css`` pane ("" while the pane is hidden)."""
    pane = _panes(widget)[css]
    return pane.object if pane.visible else ""


def _report(widget: FPGAEstimator) -> str:
    """The report pane: status, alerts, resources, timing, notes."""
    return _pane(widget, "precml-fpga-report")


def _block(widget: FPGAEstimator, css: str) -> str:
    """The report's block of class ``css`` (its ``{.css ...}`` line and what follows up to the
    next blank line), "" when there is none."""
    match = re.search(rf"\{{\.{css}[^}}]*\}}\n(.*?)(?:\n\n|$)", _report(widget), re.DOTALL)
    return match[1] if match else ""


def _card(widget: FPGAEstimator, title: str) -> pn.Card:
    (card,) = [c for c in widget.__panel__().select(pn.Card) if c.title.startswith(title)]
    return card


def _shown(widget: FPGAEstimator, key: str) -> tuple[float, str]:
    """(exact value, displayed text) of the ``precml-<key>`` number in the report pane."""
    report = _pane(widget, "precml-fpga-report")
    match = re.search(rf'\[([^\]]*)\]\{{\.precml-{key} data-value="([^"]+)"\}}', report)
    assert match, f"no precml-{key} number in the report"
    return float(match[2]), match[1]


def _core(models, *, model=AE, device=DEFAULT_DEVICE, backend="Vitis", strategy="Latency", width=16,
          reuse_factor=1, clock_ns=5.0):  # fmt: skip
    stack = estimator_stack(
        models[model],
        width=width,
        reuse_factor=reuse_factor,
        strategy=strategy.lower(),
        backend=backend,
        invalid_reuse="nearest",
    )
    return estimate(stack, device=device, clock_ns=clock_ns, backend=backend)


# ---------------------------------------------------------------- stacks
def test_dense_stack_types_names_and_zeros():
    net = _mlp(4, 8, 2)
    with torch.no_grad():
        net[0].weight.fill_(0.3)
        net[0].weight[0, :3] = 0.0
        net[0].weight[1, 0] = -2.5  # max |w| = 2.5: 3 integer bits (sign + 2)
        net[2].weight.fill_(0.1)
    first, second = dense_stack(net, width=10, integer_bits=5, reuse_factor=1)
    assert (first.name, first.n_in, first.n_out, first.n_zeros) == ("_0", 4, 8, 3)
    assert (second.name, second.n_zeros) == ("_2", 0)
    assert first.weight.to_hls() == "ap_fixed<10,3,AP_RND_CONV,AP_SAT>"
    assert second.weight.to_hls() == "ap_fixed<10,1,AP_RND_CONV,AP_SAT>"  # |w| = 0.1: sign bit
    # accumulator: largest row sum of |w| = 2.5 + 3 * 0.3 = 3.4, inputs up to 2^4 = 16, |b| <= 0.5:
    # sums up to 54.9 need 7 integer bits; fraction = result's 5 bits + 4 guard bits
    assert first.accum.to_hls() == "ap_fixed<16,7>"
    assert first.input.to_hls() == first.result.to_hls() == "ap_fixed<10,5,AP_RND_CONV,AP_SAT>"
    assert first.strategy == "latency" and first.reuse_factor == 1


@pytest.mark.filterwarnings("ignore:Softmax layer .* table size:UserWarning")
@pytest.mark.parametrize(
    ("name", "width", "reuse_factor"), [(AE, 10, 1), (JET, 8, 2), (JET, 16, 3)]
)
def test_stack_is_what_hls4ml_builds(models, name, width, reuse_factor):
    """Names, order, shapes, types, zeros and the estimate equal hls4ml's own ModelGraph."""
    from precml_widgets.fpga.convert import DeployConfig, convert, profile_ranges
    from precml_widgets.fpga.layers import layers_from_hls_model
    from precml_widgets.fpga.scan import width_config

    model = models[name]
    stack = estimator_stack(model, width=width, reuse_factor=reuse_factor, invalid_reuse="nearest")
    n_in = stack[0].n_in
    x = np.random.default_rng(1).normal(size=(256, n_in)).astype(np.float32)
    reuse = {la.name: la.reuse_factor for la in stack if isinstance(la, DenseLayer)}
    config = width_config(profile_ranges(model, x), width, DeployConfig(layer_reuse=reuse))
    with tempfile.TemporaryDirectory() as folder:
        hls_layers = layers_from_hls_model(convert(model, (n_in,), config, folder))
    assert [(la.name, la.kind) for la in stack] == [(la.name, la.kind) for la in hls_layers]
    for ours, theirs in zip(stack, hls_layers, strict=True):
        if isinstance(ours, DenseLayer):
            for attr in ("n_in", "n_out", "reuse_factor", "strategy", "weight", "n_zeros"):
                assert getattr(ours, attr) == getattr(theirs, attr), (ours.name, attr)
            # the stack assumes ap_fixed<W,6> data where the scan profiles each tensor's range,
            # so the overflow-free accumulator may differ by a few integer bits
            assert abs(ours.accum.width - theirs.accum.width) <= 3
            assert ours.accum.fractional == theirs.accum.fractional + (
                theirs.result.integer - ours.result.integer
            )
            assert ours.input.width == theirs.input.width
        elif isinstance(ours, MergeLayer):
            assert (ours.op, ours.n, ours.input.width) == (theirs.op, theirs.n, theirs.input.width)
        else:
            assert ours == theirs
    a, b = estimate(stack), estimate(hls_layers)
    for key in ("dsp", "bram18k", "latency_cycles", "ii_cycles"):
        assert getattr(a, key) == pytest.approx(getattr(b, key), rel=1e-12), key
    for key in ("lut", "ff"):  # adders and registers scale with the accumulator width
        assert getattr(a, key) == pytest.approx(getattr(b, key), rel=0.15), key


def test_softmax_merges_and_unmodelled_nodes(models):
    jet = estimator_stack(models[JET], width=16)
    assert jet[-1] == SoftmaxLayer(5, name="_7")
    assert [la.name for la in dense_stack(models[JET], width=16)] == ["_0", "_2", "_4", "_6"]
    merges = [la for la in estimator_stack(models[AE], width=12) if isinstance(la, MergeLayer)]
    assert [(m.name, m.op, m.n, m.input.width) for m in merges] == [
        ("sub", "subtract", 5, 12),
        ("sub_1", "subtract", 5, 12),
        ("mul", "multiply", 5, 12),
    ]
    assert {kind for _, kind in unmodelled_nodes(models[AE])} == {"ReLU"}
    assert len(unmodelled_nodes(models[AE])) == 4


def test_invalid_reuse_raises_or_takes_hls4ml_nearest(models):
    import hls4ml

    with pytest.raises(InvalidInputError, match=r"layer '_0'.*reuse_factor=3.*nearest valid: 2, 4"):
        dense_stack(models[JET], width=16, reuse_factor=3)
    stack = dense_stack(models[JET], width=16, reuse_factor=3, invalid_reuse="nearest")
    assert [la.reuse_factor for la in stack] == [2, 2, 2, 2]
    backend = hls4ml.backends.get_backend("Vitis")
    for n_in, n_out in ((16, 64), (32, 5), (5, 1)):
        valid = list(valid_reuse_factors(n_in, n_out, "Vitis"))
        for rf in range(1, n_in * n_out + 20):
            expected = backend.get_closest_reuse_factor(valid, rf)
            assert nearest_valid_reuse(n_in, n_out, rf) == expected, (n_in, n_out, rf)
    with pytest.raises(InvalidInputError, match="reuse_factor"):
        nearest_valid_reuse(16, 64, 0)


def test_stack_cache_and_in_place_pruning():
    net = _mlp(16, 64, 8)
    first = dense_stack(net, width=12, reuse_factor=4)
    assert dense_stack(net, width=12, reuse_factor=4) == first
    stack = estimator_stack(net, width=12, reuse_factor=4)
    assert estimator_stack(net, width=12, reuse_factor=4) is stack  # cached, not rebuilt
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        dense_stack(net, width=12, reuse_factor=4)
        times.append(time.perf_counter() - t0)
    assert statistics.median(times) < 1e-3
    with torch.no_grad():
        net[0].weight[:, :2] = 0.0  # prune two inputs in place
    pruned = dense_stack(net, width=12, reuse_factor=4)
    assert pruned[0].n_zeros == 2 * 64 and pruned[1].n_zeros == first[1].n_zeros


def test_integer_bits_per_layer():
    net = _mlp(4, 8, 2)
    first, second = dense_stack(net, width=10, integer_bits={"_0": 3})
    assert first.result.integer == 3
    assert first.accum.integer >= 3  # at least the result's range (more if sums can exceed it)
    assert second.result.integer == 6  # not named: hls4ml's default ap_fixed<16,6> integer bits
    with pytest.raises(InvalidInputError, match=r"unknown layer\(s\) \['fc9'\]"):
        dense_stack(net, width=10, integer_bits={"fc9": 3})
    with pytest.raises(InvalidInputError, match="integer_bits"):
        dense_stack(net, width=10, integer_bits=2.5)


class _Branchy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x) if x.sum() > 0 else x


class _TwoInputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, x, y):
        return self.fc(x) + y


def test_stack_bad_input():
    net = _mlp(4, 2)
    with pytest.raises(InvalidInputError, match="width"):
        dense_stack(net, width=1)
    with pytest.raises(InvalidInputError, match="width"):
        dense_stack(net, width=True)
    with pytest.raises(InvalidInputError, match="strategy"):
        dense_stack(net, width=8, strategy="fast")
    with pytest.raises(InvalidInputError, match="invalid_reuse"):
        dense_stack(net, width=8, invalid_reuse="ignore")
    with pytest.raises(InvalidInputError, match="reuse_factor"):
        dense_stack(net, width=8, reuse_factor=0)
    with pytest.raises(InvalidInputError, match=r"torch\.nn\.Module"):
        dense_stack("not a model", width=8)
    with pytest.raises(InvalidInputError, match=r"0 nn\.Linear"):
        dense_stack(torch.nn.Sequential(torch.nn.ReLU()), width=8)
    with pytest.raises(InvalidInputError, match="cannot trace"):
        dense_stack(_Branchy(), width=8)
    with pytest.raises(InvalidInputError, match="2 input"):
        dense_stack(_TwoInputs(), width=8)


# ---------------------------------------------------------------- the widget
@pytest.mark.parametrize(
    "settings",
    [
        {},
        dict(model=JET, device="xcku115", backend="Vivado", width=10, reuse_factor=4, clock_ns=4.0),
        dict(model=JET, strategy="Resource", width=20, reuse_factor=32, clock_ns=3.3),
        dict(model=AE, device="xc7z020", width=8, reuse_factor=5, clock_ns=10.0),
    ],
)
def test_panes_show_the_core_numbers(models, widget, settings):
    widget.param.update(**settings)
    est = _core(models, **settings)
    assert widget.current_estimate() == est
    for key in ("dsp", "lut", "ff", "bram18k"):
        exact, text = _shown(widget, key)
        assert exact == getattr(est, key) and text == f"{getattr(est, key):,.0f}", key
        total = getattr(est.device, key)
        report = _pane(widget, "precml-fpga-report")
        assert f"[{total:,}]{{.precml-{key}-total}}" in report
        assert f"± {est.error[key]:.0%} of" in report
        assert f"({est.fractions[key]:.1%}" in report
        lo, hi = est.interval[key]
        assert f"[68%: {lo:,.0f}–{hi:,.0f}]{{.precml-{key}-interval}}" in report
    exact, text = _shown(widget, "latency-ns")
    assert exact == est.latency_ns and text == f"{est.latency_ns:,.1f}"
    exact, text = _shown(widget, "ii-ns")
    assert exact == est.ii_ns and text == f"{est.ii_ns:,.1f}"
    assert calibration_label() in _pane(widget, "precml-estimate-label")
    assert est.summary() in widget.summary()


def test_calibration_label_comes_from_the_calibration_file():
    import json

    from precml_widgets.fpga.estimator import COEFFICIENTS_FILE

    calib = json.loads(COEFFICIENTS_FILE.read_text())
    used = sum(calib["domain"]["rows_per_family"].values())
    total = used + len(calib["out_of_domain"])
    label = calibration_label()
    assert label.startswith(f"ESTIMATE (calibrated on {used} of {total} real syntheses")
    assert f"DSP ±{calib['cross_validation']['smape']['dsp']:.0%}" in label
    assert "leave-one-component-out error" in label


def test_does_not_fit_a_tiny_custom_device(models):
    w = FPGAEstimator(models, devices=[TINY], device="tiny", model=JET)
    est = w.current_estimate()
    assert est.device == TINY and not est.fits
    status = _panes(w)["precml-fpga-report"]
    assert "[✘ DOES NOT FIT]{.precml-fit .no-fit}" in status.object  # red, by the stylesheet:
    assert any(re.search(r"\.no-fit[^{]*\{\s*color:\s*#b00020", css) for css in status.stylesheets)
    assert "DOES NOT FIT" in _report(w) and "DSP needs" in _report(w)
    assert f"({est.fractions['dsp']:.1%} — over the total)" in _report(w)
    assert "fits xc7z010: NO" in w.summary()
    w.device = "xcvu13p"
    assert w.current_estimate().fits
    assert "✔ Fits xcvu13p" in _report(w) and "DOES NOT FIT" not in _report(w)


def test_extrapolation_alert_for_the_resource_strategy(widget):
    # a calibrated part (the default part, xcvu13p, is itself outside the calibration parts)
    widget.param.update(model=JET, width=16, strategy="Latency", device="xcvu9p")
    assert widget.current_estimate().extrapolations == ()
    assert _block(widget, "precml-extrapolations") == ""  # no alert
    widget.strategy = "Resource"
    alert = _block(widget, "precml-extrapolations")
    assert alert, "Resource strategy must raise a visible alert"
    assert "Resource strategy is not calibrated" in alert
    assert "layers _0, _2, _4, _6" in alert
    widget.param.update(strategy="Latency", width=20)  # wider weights than the calibration
    assert "20-bit weights are outside the calibrated 8-16 bits" in _report(widget)


def test_invalid_reuse_factor_is_shown_not_hidden(widget):
    widget.param.update(model=JET, reuse_factor=3)
    assert widget.reuse_substitutions() == {
        "_0": (16, 64, 2),
        "_2": (64, 32, 2),
        "_4": (32, 32, 2),
        "_6": (32, 5, 2),
    }
    assert "Reuse factor 3 is not valid for every layer" in _block(widget, "precml-reuse-note")
    assert "**_0** (16×64) uses 2" in _block(widget, "precml-reuse-note")
    widget.reuse_factor = 4
    assert widget.reuse_substitutions() == {}
    assert _block(widget, "precml-reuse-note") == ""  # no note


def test_latency_budget_and_bunch_crossings(widget):
    widget.param.update(model=JET, reuse_factor=8, clock_ns=5.0)  # II = 8 cycles = 40 ns
    assert not widget.budget().ii_ok
    assert "cannot take an event every bunch crossing" in _report(widget)
    widget.require_every_bunch = False
    assert "cannot take an event" not in _report(widget)
    assert "(not required)" in _report(widget)
    widget.param.update(require_every_bunch=True, reuse_factor=1)
    assert "Fails the trigger: latency over the 50 ns budget" in _report(widget)
    layout = widget.__panel__()
    (button,) = [b for b in layout.select(pn.widgets.Button) if "12.5 µs" in str(b.name)]
    button.clicks += 1
    assert widget.latency_budget_ns == LATENCY_PRESETS["Phase-2 L1: 12.5 µs"] == 12_500.0
    assert widget.budget().ok
    assert "Meets the trigger budget." in _report(widget)
    assert "[12,500.0]{.precml-budget-ns}" in _report(widget)


def test_status_is_one_labelled_verdict(widget):
    """The verdict heads the report; fit, latency and II follow as labelled rows (a green
    "fits" never stands alone above a red "fails"), each agreeing with the core's check."""
    widget.param.update(model=JET, device="xcvu9p", reuse_factor=1, clock_ns=5.0)
    widget.latency_budget_ns = 50.0
    est, check = widget.current_estimate(), widget.budget()
    assert est.fits and not check.latency_ok  # the case the issue saw: fits, yet fails
    lines = [line for line in _report(widget).splitlines() if line.strip()]
    assert lines[0].startswith("[✘ Fails the trigger: latency over the 50 ns budget.]")
    assert (
        lines[1] == "- **Resources:** [✔ Fits xcvu9p (Virtex UltraScale+ VU9P)]{.precml-fit .fits}"
    )
    assert lines[2] == (
        f"- **Latency:** [✘ {est.latency_ns:,.1f} ns, over the 50 ns budget]"
        "{.precml-latency-status .fail}"
    )
    assert lines[3].startswith("- **Every bunch crossing:** [✔ yes (II ")
    assert f"II {est.ii_ns:,.1f} ns vs 25 ns" in lines[3]
    widget.latency_budget_ns = 12_500.0
    lines = [line for line in _report(widget).splitlines() if line.strip()]
    assert lines[0] == "[✔ Meets the trigger budget.]{.precml-budget .ok}"
    assert "[✔ " in lines[2] and "within the 12.5 µs budget" in lines[2]
    widget.reuse_factor = 8  # II = 8 cycles = 40 ns > 25 ns
    lines = [line for line in _report(widget).splitlines() if line.strip()]
    assert lines[0].startswith("[✘ Fails the trigger: cannot take an event every bunch")
    assert "[✘ no (II 40.0 ns vs 25 ns)]{.precml-ii-status .fail}" in lines[3]


def test_metrics_shown_when_present_and_missing_otherwise(models):
    metrics = {JET: {8: {"accuracy": 0.70, "argmax agreement": 0.91}, 16: {"accuracy": 0.76}}}
    import holoviews as hv

    def plots():
        (pane,) = [
            p
            for p in w.__panel__().select(pn.pane.HoloViews)
            if "precml-metric-plots" in p.css_classes
        ]
        return pane.object if pane.visible else None

    def current_w(plot) -> list[float]:  # the dashed current-W marker of each metric plot
        return [float(el.data) for el in plot.traverse(lambda x: x, [hv.VLine])]

    w = FPGAEstimator(models, metrics=metrics, model=JET, width=8)
    physics = _pane(w, "precml-fpga-physics")
    assert '[0.7]{.precml-metric data-metric="accuracy"}' in physics
    assert '[0.91]{.precml-metric data-metric="argmax agreement"}' in physics
    assert "emulated at W=8" in physics and "at W=16" in physics
    assert len(plots()) == 2  # one plot per metric
    x8 = current_w(plots())
    assert x8 == [8.0, 8.0]
    assert w.physics() == {"accuracy": 0.70, "argmax agreement": 0.91}
    assert "accuracy at W=8: 0.7" in w.summary()
    w.width = 12
    physics = _pane(w, "precml-fpga-physics")
    assert "no emulation result for W=12" in physics and "emulated widths: 8, 16" in physics
    assert current_w(plots()) != x8
    assert w.physics() is None and "no emulation result for W=12" in w.summary()
    w.model = AE
    assert "no emulation result for W=12" in _pane(w, "precml-fpga-physics")
    assert plots() is None


def test_layers_card_fills_when_expanded(widget):
    widget.param.update(model=JET, reuse_factor=3)
    assert _pane(widget, "precml-fpga-layers") == ""  # collapsed: nothing computed
    _card(widget, "Per layer").collapsed = False
    table = _pane(widget, "precml-fpga-layers")
    rows = [line for line in table.splitlines() if line.startswith("|") and "---" not in line]
    assert len(rows) == 1 + 5  # header, 4 dense layers, softmax
    assert "| _0 | dense | 16×64 | 2 |" in table
    widget.width = 10
    assert "ap_fixed<10," in _pane(widget, "precml-fpga-layers")


def test_own_part_form_adds_and_selects(widget):
    layout = widget.__panel__()
    (card,) = [c for c in layout.select(pn.Card) if c.title.startswith("Your own part")]
    name, part = [t for t in card.select(pn.widgets.TextInput)]
    dsp, lut, ff, bram = card.select(pn.widgets.IntInput)
    (button,) = card.select(pn.widgets.Button)
    name.value, part.value = "half VU9P", "xcvu9p"
    dsp.value, lut.value, ff.value, bram.value = 100, 50_000, 100_000, 200
    button.clicks += 1
    assert widget.device == "half VU9P"
    assert widget.current_device() == Device("half VU9P", "xcvu9p", "UltraScale+", 100, 50_000,
                                             100_000, 200)  # fmt: skip
    assert f"[{100:,}]{{.precml-dsp-total}}" in _pane(widget, "precml-fpga-report")
    name.value, dsp.value = "broken", 0
    button.clicks += 1
    (message,) = [
        p for p in card.select(pn.pane.Markdown) if "precml-form-message" in p.css_classes
    ]
    # the core's message (Device's check), shown under the form: names the part and the total
    assert "Device 'broken'" in message.object and "dsp must be" in message.object
    assert widget.device == "half VU9P"


def test_bad_input(models):
    with pytest.raises(InvalidInputError, match="model='nope' is not one of"):
        FPGAEstimator(models, model="nope")
    with pytest.raises(InvalidInputError, match="device='xcvu99p' is not one of"):
        FPGAEstimator(models, device="xcvu99p")
    with pytest.raises(InvalidInputError, match="non-empty mapping"):
        FPGAEstimator({})
    with pytest.raises(InvalidInputError, match=r"models\['bad'\].*torch\.nn\.Module"):
        FPGAEstimator({"bad": "a string"})
    with pytest.raises(InvalidInputError, match="metrics has model 'other'"):
        FPGAEstimator(models, metrics={"other": {8: {"a": 1.0}}})
    with pytest.raises(InvalidInputError, match="integer widths"):
        FPGAEstimator(models, metrics={JET: {"8": {"a": 1.0}}})
    with pytest.raises(InvalidInputError, match="must hold numbers"):
        FPGAEstimator(models, metrics={JET: {8: {"a": "high"}}})
    with pytest.raises(InvalidInputError, match="already listed"):
        FPGAEstimator(models, devices=[TINY, Device("tiny", "xc7z020", "7-series", 1, 1, 1, 1)])
    with pytest.raises(InvalidInputError, match="Device objects"):
        FPGAEstimator(models, devices=["xcvu9p"])
    w = FPGAEstimator(models)
    for name, value in (("width", 30), ("clock_ns", 0.5), ("reuse_factor", 7), ("model", "x")):
        with pytest.raises(ValueError):
            setattr(w, name, value)
    assert w.width == 16 and w.reuse_factor == 1  # unchanged


def _median_update_ms(widget, changes) -> float:
    times = []
    for change in changes:
        t0 = time.perf_counter()
        widget.param.update(**change)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def test_slider_updates_take_under_10_ms(widget):
    """Median Python time of one knob move, with the whole dashboard rendered into a document."""
    pn.panel(widget).get_root(Document())  # live bokeh models: every update reaches them
    knobs = itertools.cycle(
        [
            {"width": 12},
            {"reuse_factor": 4},
            {"clock_ns": 4.0},
            {"strategy": "Resource"},
            {"width": 14},
            {"backend": "Vivado"},
            {"latency_budget_ns": 100.0},
            {"model": JET},
            {"device": "xcvu13p"},
            {"reuse_factor": 3},
            {"clock_ns": 6.25},
            {"width": 9},
            {"strategy": "Latency"},
            {"backend": "Vitis"},
            {"model": AE},
            {"device": "xcvu9p"},
            {"require_every_bunch": False},
        ]
    )
    _median_update_ms(widget, [next(knobs) for _ in range(40)])  # warm-up: fills the caches
    # best of three medians: another process on the shared cores must not fail the test
    best = min(_median_update_ms(widget, [next(knobs) for _ in range(50)]) for _ in range(3))
    assert best <= 10.0, f"median update {best:.2f} ms"


def test_the_plot_draws_the_intervals_of_the_estimate(models, widget):
    """The HoloViews pane holds error bars whose ends are the estimate's 68 % interval."""
    import holoviews as hv

    card = _card(widget, "68 % intervals")
    (pane,) = card.select(pn.pane.HoloViews)
    assert pane.object is None  # drawn only while its card is open
    card.collapsed = False
    widget.reuse_factor = widget.reuse_factor  # no change: the plot is already current
    est = widget.current_estimate()
    plot = pane.object
    bars = [el for el in plot.traverse(lambda x: x, [hv.ErrorBars])]
    resources, latency = bars
    for i, key in enumerate(("dsp", "lut", "ff", "bram18k")):
        total = getattr(est.device, key)
        value = 100 * getattr(est, key) / total
        lo, hi = est.interval[key]
        assert resources.iloc[i, 1] == pytest.approx(value)
        assert resources.iloc[i, 1] - resources.iloc[i, 2] == pytest.approx(100 * lo / total)
        assert resources.iloc[i, 1] + resources.iloc[i, 3] == pytest.approx(100 * hi / total)
    lo_ns, hi_ns = est.latency_ns_interval
    assert latency.iloc[0, 1] - latency.iloc[0, 2] == pytest.approx(lo_ns)
    assert latency.iloc[0, 1] + latency.iloc[0, 3] == pytest.approx(hi_ns)


def test_plots_carry_the_numbers_they_draw(models):
    """plots.py: the part's total and the budget lines, the flag in the title, the shares; the
    physics against W without non-finite values, the current W marked."""
    import holoviews as hv

    from precml_widgets.fpga.plots import interval_plot, metric_plot, physics_plot

    est = _core(models, model=JET, strategy="Resource")  # flagged: outside the calibration
    plot = interval_plot(est, 50.0)
    lines = [float(el.data) for el in plot.traverse(lambda x: x, [hv.HLine])]
    assert lines == [100.0, 50.0, 100.0]  # the part's total, the latency budget, 100 %
    resources, _, timing = plot.traverse(lambda x: x, [hv.Overlay])
    assert "(widened: flagged)" in resources.opts.get().kwargs["title"]
    for shares in resources.traverse(lambda x: x, [hv.Scatter, hv.Bars]):
        for i, key in enumerate(("dsp", "lut", "ff", "bram18k")):
            assert shares.iloc[i, 1] == pytest.approx(100 * est.fractions[key])
    (bars,) = timing.traverse(lambda x: x, [hv.Bars])
    assert bars.iloc[0, 1] == pytest.approx(100 * est.latency_ns / 50.0)
    assert bars.iloc[1, 1] == pytest.approx(100 * est.ii_ns / 25.0)
    metrics = {8: {"a": 0.7}, 12: {"a": float("nan")}, 16: {"a": 0.76}}
    overlay = metric_plot("a", metrics, 8)
    curve, points, current = overlay.traverse(lambda x: x, [hv.Curve, hv.Scatter])

    def xy(element) -> list[tuple[float, float]]:
        return list(zip(element.dimension_values("W"), element.dimension_values("a"), strict=True))

    assert xy(curve) == xy(points) == [(8, 0.7), (16, 0.76)]
    assert xy(current) == [(8, 0.7)]
    assert [float(el.data) for el in overlay.traverse(lambda x: x, [hv.VLine])] == [8.0]
    assert physics_plot(None, 8) is None and len(physics_plot(metrics, 8)) == 1


def test_sessions_share_the_estimates(models, monkeypatch):
    """Two sessions (widgets) over the same networks compute each estimate once: the second
    reads the first one's (a pure function of stack, part, backend and clock)."""
    import precml_widgets.fpga.dashboard as dashboard

    calls, real = [], dashboard.estimate

    def spy(*args, **kwargs):
        calls.append(kwargs.get("clock_ns"))
        return real(*args, **kwargs)

    first, second = FPGAEstimator(models, model=JET), FPGAEstimator(models, model=JET)
    monkeypatch.setattr(dashboard, "estimate", spy)
    first.param.update(width=13, clock_ns=4.35)  # a setting no other test asks for
    second.param.update(width=13, clock_ns=4.35)
    assert calls == [4.35], "the second session recomputed the first one's estimate"
    assert first.current_estimate() is second.current_estimate()
    assert first.current_estimate() == _core(models, model=JET, width=13, clock_ns=4.35)


def test_concurrent_sessions_get_one_shared_estimate(models, monkeypatch):
    """Issue 11 review #17: sessions on Panel's thread pool (``nthreads``) that ask for the
    same new estimate at once all get the one object kept in the shared cache."""
    import threading

    import precml_widgets.fpga.dashboard as dashboard

    real, started = dashboard.estimate, threading.Barrier(4)

    def slow(*args, **kwargs):
        time.sleep(0.05)  # every thread is inside before any stores its result
        return real(*args, **kwargs)

    monkeypatch.setattr(dashboard, "estimate", slow)
    board = dashboard.Dashboard(models)
    s = dashboard.Settings(model=JET, width=11, clock_ns=3.77)  # asked by no other test
    got = []

    def ask() -> None:
        started.wait(10)
        got.append(board.estimate(s))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(e is got[0] for e in got)
    assert board.estimate(s) is got[0]
    assert got[0] == _core(models, model=JET, width=11, clock_ns=3.77)


def test_app_models_and_notes_agree_and_follow_a_fetch(monkeypatch, tmp_path):
    """Issue 11 review #14: the app's networks and its missing-file notes are cached together;
    without the tagger's file the page has a note and no tagger, and once the file is there
    the next visit has the tagger and no note (no restart)."""
    from precml_widgets.apps import fpga_estimator as app_module
    from precml_widgets.data import DATA_ENV_VAR, data_dir

    real_dir = data_dir()
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))  # a fresh machine: no tagger weights
    pn.state.cache.pop(app_module.MODELS_KEY, None)
    try:
        models, notes = app_module.shared_models()
        assert set(models) == {AE} and set(notes) == {JET}
        assert "hls4ml_jet_tagger_weights" in notes[JET]
        assert app_module.shared_models()[0] is models  # still missing: the same networks
        monkeypatch.setenv(DATA_ENV_VAR, str(real_dir))  # the file was fetched
        models, notes = app_module.shared_models()
        assert set(models) == {AE, JET} and notes == {}
        assert app_module.shared_models()[0] is models  # cached from now on
    finally:
        pn.state.cache.pop(app_module.MODELS_KEY, None)
