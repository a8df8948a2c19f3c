"""The interpret core's contracts: the model adapter's refusals, every bad input named with
its fix, and the .npz + JSON export (round trip, nothing written on a failure)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from precml_widgets.errors import InvalidInputError
from precml_widgets.interpret import (
    FORMAT_VERSION,
    INTERVENTIONAL_CAVEAT,
    MIN_BACKGROUND,
    Explanation,
    ScoredModel,
    active_subspace,
    background_sample,
    explain,
    figure_bytes,
    load_result,
    result_paths,
    save_figure,
    save_result,
)

NAMES = ("pt", "eta", "phi")


def linear_callable(x: np.ndarray) -> np.ndarray:
    return x @ np.array([1.0, -2.0, 0.5])


def small_net(outputs: int = 1) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, outputs))


@pytest.fixture()
def data() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(60, 3))


def test_adapter_scores_torch_and_callables_alike(data):
    net = small_net().eval()
    model = ScoredModel(net, NAMES, units=("GeV", "", "rad"))
    with torch.no_grad():
        expected = net(torch.tensor(data, dtype=torch.float32))[:, 0].double().numpy()
    np.testing.assert_allclose(model.score(data), expected)
    assert model.differentiable and model.n_outputs == 1
    plain = ScoredModel(linear_callable, NAMES)
    assert not plain.differentiable and plain.units == ("", "", "")
    # a multi-output model with a class index, and with a reduction (reconstruction error)
    multi = ScoredModel(small_net(5).eval(), NAMES, output=3)
    with torch.no_grad():
        np.testing.assert_allclose(
            multi.score(data), multi.model(torch.tensor(data).float())[:, 3].double().numpy()
        )
    auto = ScoredModel(lambda x: 2 * x, NAMES, output=lambda x, y: ((y - x) ** 2).sum(axis=1))
    np.testing.assert_allclose(auto.score(data), (data**2).sum(axis=1))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ScoredModel(small_net().train(), NAMES), r"model\.eval\(\)"),
        (
            lambda: ScoredModel(linear_callable, ("pt", "eta")),
            r"fails on a \(2, 2\) probe.*one\s+entry per input column",
        ),
        (lambda: ScoredModel(small_net().eval(), NAMES[:2]), r"\(2, 2\) probe.*RuntimeError"),
        (lambda: ScoredModel(linear_callable, NAMES, units=("GeV",)), "one entry per feature"),
        (lambda: ScoredModel(small_net(5).eval(), NAMES), "5 outputs and no output was chosen"),
        (lambda: ScoredModel(small_net(5).eval(), NAMES, output=5), r"output must be .*0\.\.4"),
        (lambda: ScoredModel(small_net().eval(), NAMES, output=0), r"one output.*output=None"),
        (lambda: ScoredModel(linear_callable, NAMES, output=np.int64(0)), "output=None"),
        (lambda: ScoredModel("model.pt", NAMES), "wrap it"),
    ],
)
def test_adapter_refusals(make, match):
    with pytest.raises(InvalidInputError, match=match):
        make()


def test_model_put_back_in_training_mode_is_refused(data):
    net = small_net().eval()
    model = ScoredModel(net, NAMES)
    net.train()
    with pytest.raises(InvalidInputError, match=r"call model\.eval\(\)"):
        model.score(data)


def test_a_dropout_submodule_left_in_training_mode_is_refused(data):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.Dropout(0.5), torch.nn.ReLU(), torch.nn.Linear(8, 1)
    )
    net.eval()
    net[1].train()  # the top level says eval, the dropout layer still drops
    assert not net.training
    with pytest.raises(InvalidInputError, match=r"training mode: 1; dropout.*model\.eval\(\)"):
        ScoredModel(net, NAMES)
    model = ScoredModel(net.eval(), NAMES)
    net[1].train()
    with pytest.raises(InvalidInputError, match=r"call model\.eval\(\)"):
        model.score(data)


def test_additivity_error_is_relative_to_the_background_spread(data):
    # one explained event has std(f) = 0: the scale is the std of f over the background
    model = ScoredModel(linear_callable, NAMES)
    bg = background_sample(data, 20, seed=4, source="t")
    r = explain(model, data[:1], bg, method="exact")
    assert r.output_scale == pytest.approx(np.std(bg.data @ np.array([1.0, -2.0, 0.5])), rel=1e-12)
    assert r.output_scale > 1.0 and r.additivity_error < 1e-12
    const = explain(ScoredModel(lambda x: np.full(len(x), 3.0), NAMES), data[:4], bg)
    assert const.output_scale == 1.0  # a constant score: the error is absolute


def test_partition_is_not_called_observational():
    assert "observational" not in INTERVENTIONAL_CAVEAT
    assert "the partition (Owen) alternative" in INTERVENTIONAL_CAVEAT


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features_are_refused(data, bad):
    model = ScoredModel(linear_callable, NAMES)
    data[4, 1] = bad
    with pytest.raises(InvalidInputError, match="x holds 1 NaN or infinite"):
        model.score(data)
    bg = background_sample(np.random.default_rng(1).normal(size=(30, 3)), 10, seed=0, source="t")
    with pytest.raises(InvalidInputError, match="NaN or infinite"):
        explain(model, data, bg, method="exact")
    with pytest.raises(InvalidInputError, match="NaN or infinite"):
        active_subspace(model, data, gradient="finite_difference")


def test_background_and_method_refusals(data):
    model = ScoredModel(linear_callable, NAMES)
    with pytest.raises(InvalidInputError, match=f"size must be an integer in {MIN_BACKGROUND}"):
        background_sample(data, 5, seed=0, source="t")
    with pytest.raises(InvalidInputError, match="source must say"):
        background_sample(data, 20, seed=0, source=" ")
    small = background_sample(data, 10, seed=0, source="t")
    tiny = type(small)(small.data[:9], small.indices[:9], 0, "t")
    with pytest.raises(InvalidInputError, match="fewer than 10"):
        explain(model, data, tiny)
    with pytest.raises(InvalidInputError, match=r"needs a torch module.*'permutation'"):
        explain(model, data, small, method="deep")
    wide = ScoredModel(lambda x: x.sum(axis=1), tuple(f"f{i}" for i in range(16)))
    bg16 = background_sample(np.ones((20, 16)), 10, seed=0, source="t")
    with pytest.raises(InvalidInputError, match="too many; use method='permutation'"):
        explain(wide, np.ones((2, 16)), bg16, method="exact")


def test_active_subspace_refuses_a_silent_zero_gradient(data):
    model = ScoredModel(linear_callable, NAMES, name="firmware")
    with pytest.raises(InvalidInputError, match="gradient='finite_difference' with a stated step"):
        active_subspace(model, data)
    with pytest.raises(InvalidInputError, match="n_bootstrap must be an integer >= 200"):
        active_subspace(model, data, gradient="finite_difference", n_bootstrap=50)
    const = data.copy()
    const[:, 2] = 1.0
    with pytest.raises(InvalidInputError, match=r"constant feature\(s\) \['phi'\]"):
        active_subspace(model, const, gradient="finite_difference")
    # the finite-difference answer of a linear score is exact: C = (σ ⊙ w)(σ ⊙ w)ᵀ
    sub = active_subspace(model, data, gradient="finite_difference", step=0.1)
    sw = data.std(axis=0) * np.array([1.0, -2.0, 0.5])
    assert sub.eigenvalues[0] == pytest.approx(sw @ sw, rel=1e-10)
    assert sub.eigenvalues[1] == pytest.approx(0.0, abs=1e-10) and sub.step == 0.1


def test_export_round_trip(tmp_path, data):
    model = ScoredModel(linear_callable, NAMES, units=("GeV", "", "rad"))
    bg = background_sample(data, 20, seed=4, source="round trip")
    shap_result = explain(model, data[:5], bg, method="kernel")
    sub = active_subspace(model, data, gradient="finite_difference", step=0.1)
    for result, stem in ((shap_result, "shap"), (sub, "sub.npz")):
        npz, js = save_result(result, tmp_path / stem)
        assert npz.is_file() and js.is_file()
        back = load_result(tmp_path / stem)
        assert type(back) is type(result)
        for name, value in vars(result).items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(getattr(back, name), value)
            elif name != "background":
                assert getattr(back, name) == value, name
    back = load_result(tmp_path / "shap.json")
    np.testing.assert_array_equal(back.background.data, bg.data)
    assert back.background.source == "round trip" and back.units == ("GeV", "", "rad")
    assert json.loads((tmp_path / "shap.json").read_text())["kind"] == "ShapResult"
    with np.load(tmp_path / "shap.npz", allow_pickle=False) as arrays:
        assert "background.data" in arrays.files


def test_failed_export_writes_nothing(tmp_path, data):
    model = ScoredModel(linear_callable, NAMES)
    sub = active_subspace(model, data, gradient="finite_difference", step=0.1)
    broken = type(sub)(**{**vars(sub), "band_level": float("nan")})
    with pytest.raises(InvalidInputError, match="Nothing was written"):
        save_result(broken, tmp_path / "bad")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidInputError, match=r"folder .* does not exist"):
        save_result(sub, tmp_path / "missing" / "sub")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidInputError, match="ShapResult, an ActiveSubspace or an Explanation"):
        save_result({"a": 1}, tmp_path / "x")
    with pytest.raises(InvalidInputError, match="no such file"):
        load_result(tmp_path / "bad")
    assert result_paths(tmp_path / "a.json")[0].name == "a.npz"


def assert_same(back, result, where=""):
    assert type(back) is type(result), where
    for name, value in vars(result).items():
        got = getattr(back, name)
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(got, value, err_msg=where + name)
        elif hasattr(value, "__dataclass_fields__"):
            assert_same(got, value, f"{where}{name}.")
        else:
            assert got == value, where + name


def toy_explanation(data, note="synthetic inputs, not jets"):
    model = ScoredModel(linear_callable, NAMES, units=("GeV", "", "rad"), name="toy")
    bg = background_sample(data, 20, seed=4, source="toy pool")
    shap_result = explain(model, data[:30], bg, method="exact")
    sub = active_subspace(model, data[:30], gradient="finite_difference", step=0.1)
    labels = np.arange(30, dtype=np.int64) % 2
    exact = shap_result.values + 0.0
    grad = np.array([1.0, -2.0, 0.5])
    return Explanation("toy", "score", shap_result, sub, labels, exact, grad, note=note)


def test_explanation_export_round_trip_carries_its_caveats(tmp_path, data):
    ex = toy_explanation(data)
    save_result(ex, tmp_path / "ex")
    assert_same(load_result(tmp_path / "ex"), ex)
    meta = json.loads((tmp_path / "ex.json").read_text())
    assert meta["kind"] == "Explanation" and meta["format"] == FORMAT_VERSION
    assert meta["fields"]["note"] == "synthetic inputs, not jets"
    assert meta["fields"]["shap"]["background"]["source"] == "toy pool"
    assert meta["fields"]["shap"]["caveat"] == INTERVENTIONAL_CAVEAT
    bare = Explanation("toy", "score", ex.shap, ex.subspace)  # no labels, no exact answer
    save_result(bare, tmp_path / "bare")
    back = load_result(tmp_path / "bare")
    assert back.labels is None and back.exact_values is None and back.exact_gradient is None
    assert_same(back, bare)


def test_a_failed_export_keeps_the_existing_pair(tmp_path, data, monkeypatch):
    model = ScoredModel(linear_callable, NAMES)
    old, new = (active_subspace(model, x, gradient="finite_difference") for x in (data, 2 * data))
    save_result(old, tmp_path / "r")
    real_replace = os.replace

    def fail_on(suffix):
        def replace(src, dst):
            if str(dst).endswith(suffix):
                raise OSError(28, "No space left on device")
            real_replace(src, dst)

        return replace

    monkeypatch.setattr(os, "replace", fail_on(".json"))
    with pytest.raises(InvalidInputError, match="No space left"):
        save_result(new, tmp_path / "r")
    monkeypatch.setattr(os, "replace", real_replace)
    assert_same(load_result(tmp_path / "r"), old)  # the old .npz is still beside its .json
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.npz"]
    # the one window left: the .json renamed, then the .npz rename fails; refused, not mixed
    monkeypatch.setattr(os, "replace", fail_on(".npz"))
    with pytest.raises(InvalidInputError, match="No space left"):
        save_result(new, tmp_path / "r")
    monkeypatch.setattr(os, "replace", real_replace)
    with pytest.raises(InvalidInputError, match="does not belong to"):
        load_result(tmp_path / "r")


def test_damaged_or_foreign_files_are_refused_by_name(tmp_path, data):
    model = ScoredModel(linear_callable, NAMES)
    sub = active_subspace(model, data, gradient="finite_difference", step=0.1)
    _, js = save_result(sub, tmp_path / "s")
    good = json.loads(js.read_text())
    js.write_text(js.read_text()[:-20])
    with pytest.raises(InvalidInputError, match=r"s\.json.*not valid JSON.*save_result"):
        load_result(tmp_path / "s")
    for broken, match in (
        ({**good, "fields": {k: v for k, v in good["fields"].items() if k != "seed"}}, "KeyError"),
        ({k: v for k, v in good.items() if k != "fields"}, "not an interpretability result"),
        ({**good, "fields": [1]}, "not an interpretability result"),
        ({**good, "format": True}, "not an interpretability result"),
        ({**good, "fields": {**good["fields"], "feature_names": 5}}, "feature_names"),
        ({**good, "fields": {**good["fields"], "model_name": 3}}, "model_name"),
        ({**good, "format": FORMAT_VERSION + 1}, r"format 1 or 2 .*format 3\)"),
        ([1, 2], "not an interpretability result"),
    ):
        js.write_text(json.dumps(broken))
        with pytest.raises(InvalidInputError, match=match):
            load_result(tmp_path / "s")
    # a file of format 1 (no .npz hash) still loads
    js.write_text(json.dumps({k: v for k, v in {**good, "format": 1}.items() if k != "npz_sha256"}))
    assert_same(load_result(tmp_path / "s"), sub)


def test_summary_figure_carries_its_caveats(tmp_path, data):
    # PNG and SVG of an Explanation: the SVG's text holds the note, the explainer, the
    # background's source and the interventional caveat (caveats travel with every export).
    model = ScoredModel(linear_callable, NAMES, units=("GeV", "", "rad"), name="toy")
    bg = background_sample(data, 20, seed=4, source="figure pool")
    shap_result = explain(model, data[:30], bg, method="exact")
    sub = active_subspace(model, data[:30], gradient="finite_difference", step=0.1)
    ex = Explanation("toy", "score", shap_result, sub, note="synthetic inputs, not jets")
    png = figure_bytes(ex, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = figure_bytes(ex, "svg").decode()
    for text in ("synthetic inputs", "figure pool", "explainer exact", "Interventional SHAP"):
        assert text in svg, text
    written = save_figure(ex, tmp_path / "summary.svg")
    assert written.read_bytes().startswith(b"<?xml")
    with pytest.raises(InvalidInputError, match="path suffix"):
        save_figure(ex, tmp_path / "summary.pdf")
    with pytest.raises(InvalidInputError, match="fmt"):
        figure_bytes(ex, "jpeg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.svg"]
