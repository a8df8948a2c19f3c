"""The interpret core's contracts: the model adapter's refusals, every bad input named with
its fix, and the .npz + JSON export (round trip, nothing written on a failure)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from precml_widgets.errors import InvalidInputError
from precml_widgets.interpret import (
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
    with pytest.raises(InvalidInputError, match="ShapResult or an ActiveSubspace"):
        save_result({"a": 1}, tmp_path / "x")
    with pytest.raises(InvalidInputError, match="no such file"):
        load_result(tmp_path / "bad")
    assert result_paths(tmp_path / "a.json")[0].name == "a.npz"


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
