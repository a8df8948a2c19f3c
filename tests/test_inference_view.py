"""The EFT explorer, headless with tiny models: what its drawn panes hold after each knob, the
regions' luminosity scaling against an independent region finder, retraining, bad input."""

from __future__ import annotations

import html
import time

import numpy as np
import pytest

pytest.importorskip("panel")
pytest.importorskip("torch")
pytest.importorskip("zuko")

from bokeh.models import GlyphRenderer, Plot
from bokeh.models import Image as ImageGlyph

from precml_widgets.errors import InvalidInputError
from precml_widgets.inference import (
    CLASSIFIER_CAVEATS,
    POSTERIOR_CAVEATS,
    ExpectedQ,
    LearnedRatio,
    default_problem,
    expected_region,
    make_training_set,
    nle_problem,
    plots,
    ratio_map,
    simulate_training_pairs,
    train_nle,
    train_ratio,
)
from precml_widgets.inference.explorer import COS_THETA, NLE_LABEL, SQRT_S_GEV, EFTExplorer

#: Timings measured here (seconds), printed as they are taken (``pytest -s``).
TIMINGS: dict[str, list[float]] = {}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny networks: 1.3 s of training on one thread, 5 s on two busy cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny():
    """Tiny models (1 epoch, 8 hidden units): the view's plumbing, not their accuracy."""
    problem, nle_p = default_problem(), nle_problem()
    data = make_training_set(problem, n_per_point=2_000, seed=0)
    models = {
        k: train_ratio(problem, data, kind=k, epochs=1, hidden=8, progress=False)
        for k in ("quadratic", "plain")
    }
    pairs = simulate_training_pairs(nle_p, 3_000, seed=1)
    nle = train_nle(nle_p, *pairs, n_members=1, epochs=1, hidden=8, progress=False)
    return models, nle


@pytest.fixture(scope="module")
def view(tiny):
    models, nle = tiny
    start = time.perf_counter()
    ex = EFTExplorer(
        models,
        nle,
        study_options={"n_directions": 64, "n_heldout": 500},
        n_grid=81,
        posterior_grid=15,
        posterior_draws=200,
    )
    TIMINGS["build"] = [time.perf_counter() - start]
    return ex


@pytest.fixture(scope="module")
def root(view):
    return view.__panel__().get_root()  # drawn Bokeh models: live updates land in them


def _image(root, title: str) -> tuple[np.ndarray, tuple[float, float]]:
    """The values (n_y, n_x) and the colour range of the image drawn in the figure ``title``."""
    (figure,) = [p for p in root.select({"type": Plot}) if p.title and p.title.text == title]
    (glyph,) = [
        r
        for r in figure.renderers
        if isinstance(r, GlyphRenderer) and isinstance(r.glyph, ImageGlyph)
    ]
    mapper = glyph.glyph.color_mapper
    return np.asarray(glyph.data_source.data["image"][0]), (mapper.low, mapper.high)


def _counter(method: str, calls: list[str]):
    """LearnedRatio's ``method``, recording each call in ``calls``."""
    original = getattr(LearnedRatio, method)

    def counted(self, *args):
        calls.append(method)
        return original(self, *args)

    return counted


def test_maps_lie_within_the_training_energies():
    energies = default_problem().measurement.energies_gev
    assert SQRT_S_GEV.min() >= min(energies) and SQRT_S_GEV.max() <= max(energies)


def test_coefficient_sliders_move_the_drawn_ratio_maps(view, root, monkeypatch):
    """A move combines cached arrays: no network call (quadratic model), no new toy."""
    assert view.model == "quadratic" and not view.posterior_follows  # the defaults
    toy, calls = view.posterior, []
    for method in ("coefficient_functions", "__call__"):
        monkeypatch.setattr(LearnedRatio, method, _counter(method, calls))
    times = []
    for c1, c2 in ((0.2, -0.1), (-0.25, 0.15), (0.05, 0.3)):
        start = time.perf_counter()
        view.param.update(c1=c1, c2=c2)
        times.append(time.perf_counter() - start)
        assert calls == [] and view.posterior is toy
        monkeypatch.undo()
        exact, learned = ratio_map(
            view.problem, view.study.models[view.model], [c1, c2],
            sqrt_s=SQRT_S_GEV, cos_theta=COS_THETA,
        )  # fmt: skip
        for method in ("coefficient_functions", "__call__"):  # count again for the next move
            monkeypatch.setattr(LearnedRatio, method, _counter(method, calls))
        # the exact ratio independently: dsigma(C)/dsigma_SM from the core's cross section
        from precml_widgets.inference import dsigma_dcos_smeft_pb

        full = np.zeros(4)
        full[view.problem.columns] = (c1, c2)
        s, c = np.meshgrid(SQRT_S_GEV, COS_THETA, indexing="ij")
        truth = dsigma_dcos_smeft_pb(s, c, full) / dsigma_dcos_smeft_pb(s, c, np.zeros(4))
        np.testing.assert_allclose(exact, truth, rtol=1e-10)
        shared = (min(exact.min(), learned.min()), max(exact.max(), learned.max()))
        span = np.abs(learned - exact).max()
        for title, want, limits in (
            ("exact r", exact, shared),
            (f"learned r ({view.model})", learned, shared),
            (f"{view.model} − exact", learned - exact, (-span, span)),
        ):
            values, colour_range = _image(root, title)
            np.testing.assert_allclose(values, want.T, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(colour_range, limits, rtol=1e-12)
        (regions,) = [p for p in root.select({"type": Plot}) if "regions" in p.title.text]
        marks = [r.data_source.data for r in regions.renderers if "C_ll_1122" in r.data_source.data]
        assert marks == [{"C_ll_1122": [c1], "C_le_1122": [c2]}]
    TIMINGS["coefficient move"] = times
    print(TIMINGS)
    assert max(times) < 1.0  # generous on a loaded 2-core runner; measured ~0.05 s


def test_model_switch_redraws_the_learned_map(view, root, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(
        LearnedRatio, "coefficient_functions", _counter("coefficient_functions", calls)
    )
    view.model = "plain"
    monkeypatch.undo()
    _, learned = ratio_map(
        view.problem, view.study.models["plain"], [view.c1, view.c2],
        sqrt_s=SQRT_S_GEV, cos_theta=COS_THETA,
    )  # fmt: skip
    image = view.learned_pane.object.get(0)  # a new figure: its own HoloViews image
    np.testing.assert_allclose(image.dimension_values(2, flat=False), learned.T)
    assert image.label == "" and "plain" in image.opts.get().kwargs["title"]
    view.c1 = -0.05  # the plain network runs per move (61 x 39 points)
    _, learned = ratio_map(
        view.problem, view.study.models["plain"], [view.c1, view.c2],
        sqrt_s=SQRT_S_GEV, cos_theta=COS_THETA,
    )  # fmt: skip
    np.testing.assert_allclose(_image(root, "learned r (plain)")[0], learned.T, rtol=1e-12)
    assert calls == []
    monkeypatch.setattr(
        LearnedRatio, "coefficient_functions", _counter("coefficient_functions", calls)
    )
    view.model = "quadratic"  # its a(x), b(x) once, on the switch
    view.c1 = 0.05
    assert calls == ["coefficient_functions"]


def _area(path: np.ndarray) -> float:
    """Shoelace area of a closed polygon (n, 2)."""
    x, y = path[:, 0], path[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


@pytest.mark.parametrize("factor", [1.0, 0.5])
def test_regions_at_a_luminosity_factor_match_a_ray_search(view, factor):
    """The overlay's exact 95 % contour of ``factor * q`` on the grid encloses the area that
    ``expected_region`` (rays and bisection, no grid) finds for ``factor * q``."""
    start = time.perf_counter()
    view.luminosity = factor
    TIMINGS.setdefault("luminosity move", []).append(time.perf_counter() - start)
    overlay = view.region_pane.object
    labels = {el.label for el in overlay}
    for name in view.study.likelihoods:
        assert {f"{name} 68%", f"{name} 95%"} <= labels
    (contour,) = [el for el in overlay if el.label == "exact 95%"]
    (path,) = contour.split()
    q = view.study.likelihoods["exact"]
    scaled = ExpectedQ(q.problem, "scaled", lambda v: factor * q.evaluate(v))
    want = expected_region(scaled, cl=0.95, n_directions=256)
    assert not want.clipped.any()
    # grid of 81 points on [-0.3, 0.3]: the polygon's area is good to about 1 %
    assert _area(path.array([0, 1])) == pytest.approx(want.volume, rel=0.02)
    view.luminosity = 1.0


def test_toy_posterior_summary_and_new_toy(view, root):
    view.posterior_follows = True
    start = time.perf_counter()
    view.c1 = 0.1
    TIMINGS["coefficient move with posterior"] = [time.perf_counter() - start]
    print(TIMINGS)
    post = view.posterior
    assert view.toy_truth() == (0.1, view.c2) and tuple(post.truth) == view.toy_truth()
    assert post.data.shape == (250, 2)
    panes = list(view.posterior_pane)
    for element, key in zip((p.object for p in panes), ("exact", NLE_LABEL), strict=True):
        np.testing.assert_array_equal(
            element.get(0).dimension_values(2, flat=False), post.posteriors[key].probability.T
        )
    text = view.summary_pane.object
    for caveat in (*CLASSIFIER_CAVEATS, *POSTERIOR_CAVEATS):
        assert html.escape(caveat, quote=False) in text
    for line in view.study.summary().splitlines()[: -len(CLASSIFIER_CAVEATS)]:
        assert html.escape(line, quote=False) in text
    assert f"{post.comparisons[NLE_LABEL].c2st_accuracy:.3f}" in text
    before = post.data
    view.param.trigger("new_toy")
    assert view.toy_seed == 1 and not np.array_equal(view.posterior.data, before)


def test_retrain_replaces_the_models_once(tiny):
    models, nle = tiny
    problem = default_problem()
    calls = []

    def trainer():  # trains on the first call, fails on the second
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("out of memory")
        data = make_training_set(problem, n_per_point=500, seed=3)
        return train_ratio(problem, data, kind="quadratic", epochs=1, hidden=4, progress=False)

    ex = EFTExplorer(
        {"quadratic": models["quadratic"]}, nle, trainers={"quadratic": trainer},
        study_options={"n_directions": 16, "n_heldout": 200}, n_grid=21,
        posterior_grid=9, posterior_draws=100,
    )  # fmt: skip
    old = ex.study
    ex.c2 = 0.1  # a slider never trains
    assert calls == [] and ex.study is old
    ex.param.trigger("retrain")
    assert calls == [1] and ex.study is not old
    assert ex.study.models["quadratic"].network is not models["quadratic"].network
    assert not ex.progress.visible and ex.progress.value == ex.progress.max
    _, learned = ratio_map(
        problem, ex.study.models["quadratic"], [0.0, 0.1], sqrt_s=SQRT_S_GEV, cos_theta=COS_THETA
    )
    np.testing.assert_allclose(
        ex.learned_pane.object.get(0).dimension_values(2, flat=False), learned.T
    )
    kept = ex.study
    ex.param.trigger("retrain")
    assert calls == [1, 1] and ex.study is kept and "out of memory" in ex.error_pane.object
    assert not ex.progress.visible


def test_bad_input(tiny):
    models, nle = tiny
    with pytest.raises(InvalidInputError, match="models must map"):
        EFTExplorer({}, nle)
    with pytest.raises(InvalidInputError, match="nle"):
        EFTExplorer(models, models["plain"])
    with pytest.raises(InvalidInputError, match="trainers"):
        EFTExplorer(models, nle, trainers={"cubic": lambda: None})
    with pytest.raises(InvalidInputError, match="luminosity"):
        plots.region_plot({}, {0.95: 5.99}, luminosity=0.0)
    with pytest.raises(InvalidInputError, match="shape"):
        plots.ratio_panels(SQRT_S_GEV, COS_THETA, np.zeros((3, 3)), np.zeros((3, 3)), label="x")
