"""Safe export of the SMEFT models and the shipped pretrained ones.

Truths: the parent process's own outputs, compared bitwise with those of the reloaded model (in
memory and in a fresh interpreter that imports only the export module); SHA-256 digests computed
here with :mod:`hashlib`; the problems built by :func:`default_problem` / :func:`nle_problem`.
Every damaged or edited file must be refused with an error naming the file.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("zuko")
pytest.importorskip("safetensors")

from test_inference_physics import independent_dsigma_pb

from precml_widgets.errors import InvalidInputError
from precml_widgets.inference import (
    LearnedRatio,
    NeuralLikelihood,
    default_problem,
    exact_expected_q,
    expected_region,
    export,
    make_training_set,
    nle_problem,
    sample_events,
    simulate_training_pairs,
    train_nle,
    train_ratio,
)
from precml_widgets.inference.export import load_model, model_paths, save_model
from precml_widgets.inference.pretrained import (
    PRETRAINED_NAMES,
    load_pretrained,
    pretrained_stem,
)

# Fixed inputs: events (m in GeV, cos theta) and coefficient vectors inside both boxes.
FEATURES = np.array([[182.7, -0.9], [188.6, 0.1], [199.5, 0.5], [206.6, 0.93], [195.0, -0.2]])
FREE = np.array([[0.0, 0.0], [0.2, -0.1], [-0.3, 0.3]])
FULL = default_problem().full(FREE)  # C_ll^(1122), C_le^(1122) free, the others 0


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Tiny quadratic, plain and NLE models (seconds), saved once to a module folder."""
    folder = tmp_path_factory.mktemp("models")
    p = default_problem()
    data = make_training_set(p, n_per_point=200)
    out: dict[str, Any] = {"folder": folder}
    for kind in ("quadratic", "plain"):
        out[kind] = train_ratio(p, data, kind=kind, epochs=1, hidden=8, progress=False)
    q = nle_problem()
    theta, x = simulate_training_pairs(q, 3000, seed=1)
    out["nle"] = train_nle(q, theta, x, n_members=2, epochs=1, hidden=8, progress=False)
    metrics = {"ratio_accuracy": {"median": 0.5, "caveat": "one epoch: a test model"}}
    for name in ("quadratic", "plain", "nle"):
        save_model(out[name], folder / name, metrics=metrics, note="test")
    return out


def values(model: LearnedRatio | NeuralLikelihood) -> np.ndarray:
    """r(x; C) of a ratio (3, 5) or log p(x | C) of a likelihood (3, 5) at the fixed inputs."""
    if isinstance(model, LearnedRatio):
        return model(FEATURES, FULL)
    return model.log_prob(FEATURES, FREE)


def copy_pair(models: dict[str, Any], name: str, tmp_path: Path) -> tuple[Path, Path]:
    weights, card = model_paths(models["folder"] / name)
    new_w, new_c = model_paths(tmp_path / name)
    new_w.write_bytes(weights.read_bytes())
    new_c.write_bytes(card.read_bytes())
    return new_w, new_c


def edit_card(card: Path, change: Any) -> None:
    data = json.loads(card.read_text())
    change(data)
    card.write_text(json.dumps(data))


@pytest.mark.parametrize("name", ["quadratic", "plain", "nle"])
def test_round_trip_in_memory_is_bitwise(models: dict[str, Any], name: str) -> None:
    loaded = load_model(models["folder"] / name)
    parent = models[name]
    assert type(loaded) is type(parent)
    assert loaded.problem == parent.problem
    assert loaded.train_seconds == parent.train_seconds
    expected = values(parent)
    assert np.all(np.isfinite(expected)) and np.ptp(expected) > 0.0  # not a constant
    np.testing.assert_array_equal(values(loaded), expected)


def test_round_trip_in_a_fresh_interpreter_is_bitwise(
    models: dict[str, Any], tmp_path: Path
) -> None:
    np.save(tmp_path / "features.npy", FEATURES)
    np.save(tmp_path / "full.npy", FULL)
    script = (
        "import sys, numpy as np\n"
        "from precml_widgets.inference.export import load_model\n"
        "d, out = sys.argv[1], sys.argv[2]\n"
        "x, c = np.load(out + '/features.npy'), np.load(out + '/full.npy')\n"
        "for name in ('quadratic', 'plain'):\n"
        "    np.save(f'{out}/{name}_out.npy', load_model(f'{d}/{name}')(x, c))\n"
        "np.save(out + '/nle_out.npy', load_model(d + '/nle').log_prob(x, c[:, [0, 2]]))\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(models["folder"]), str(tmp_path)],
        check=True,
        timeout=120,
    )
    for name in ("quadratic", "plain", "nle"):
        child = np.load(tmp_path / f"{name}_out.npy", allow_pickle=False)
        assert child.dtype == np.float64
        np.testing.assert_array_equal(child, values(models[name]))


def test_card_states_problem_architecture_and_the_weights_digest(models: dict[str, Any]) -> None:
    weights, card_path = model_paths(models["folder"] / "nle")
    card = json.loads(card_path.read_text())
    assert card["kind"] == "neural_likelihood"
    assert card["architecture"] == {
        "kind": "nsf",
        "hidden": 8,
        "transforms": 2,
        "n_members": 2,
        "mass_frame": list(models["nle"].mass_frame),
    }
    assert card["problem"]["free"] == ["C_ll_1122", "C_le_1122"]
    assert card["problem"]["measurement"]["smearing"] == {"angle_rad": 0.05, "mass_rel": 0.02}
    assert card["n_train"] == 3000
    assert card["weights"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert card["weights"]["bytes"] == weights.stat().st_size
    assert card["metrics"]["ratio_accuracy"]["caveat"] == "one epoch: a test model"
    assert set(card["versions"]) == {"torch", "zuko", "precml"}


def test_a_flipped_weights_byte_is_refused_by_its_hash(
    models: dict[str, Any], tmp_path: Path
) -> None:
    weights, _ = copy_pair(models, "quadratic", tmp_path)
    blob = bytearray(weights.read_bytes())
    blob[-3] ^= 0x01  # a float32 mantissa bit of the last tensor
    weights.write_bytes(bytes(blob))
    with pytest.raises(InvalidInputError, match=r"quadratic\.safetensors.*SHA-256"):
        load_model(tmp_path / "quadratic")


def test_a_card_with_swapped_free_coefficients_is_refused(
    models: dict[str, Any], tmp_path: Path
) -> None:
    _, card = copy_pair(models, "nle", tmp_path)
    edit_card(card, lambda c: c["problem"]["free"].reverse())
    with pytest.raises(InvalidInputError, match=r"nle\.safetensors.*not the one its weights"):
        load_model(tmp_path / "nle")


def test_a_card_with_another_hidden_size_is_refused_by_the_shapes(
    models: dict[str, Any], tmp_path: Path
) -> None:
    _, card = copy_pair(models, "plain", tmp_path)
    edit_card(card, lambda c: c["architecture"].update(hidden=16))
    with pytest.raises(InvalidInputError, match=r"plain\.safetensors.*shape or dtype mismatch"):
        load_model(tmp_path / "plain")


@pytest.mark.parametrize("name", ["quadratic", "nle"])
def test_a_huge_architecture_is_refused_before_any_network_is_built(
    models: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    _, card = copy_pair(models, name, tmp_path)
    edit_card(card, lambda c: c["architecture"].update(hidden=10**9))

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a network was built from an unchecked card")

    monkeypatch.setattr(export, "build_network", never)
    monkeypatch.setattr(export, "build_flow", never)
    start = time.perf_counter()
    with pytest.raises(InvalidInputError, match=r"architecture\.hidden must be an integer in 4"):
        load_model(tmp_path / name)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["architecture"].update(n_members=65), r"n_members must be an integer"),
        (lambda c: c["architecture"].update(transforms=17), r"transforms must be an integer"),
        (lambda c: c.update(format=2), r"has format 2"),
        (lambda c: c.update(kind="pickle"), r"kind must be one of"),
        (lambda c: c.update(n_train=True), r"n_train must be an integer"),
        (lambda c: c.update(train_seconds=float("nan")), r"train_seconds must be a finite"),
        (lambda c: c.update(extra=1), r"exactly the keys"),
        (lambda c: c["problem"].update(low=[1.5, -1.0]), r"impossible problem.*zero or neg"),
        (lambda c: c["weights"].update(sha256="0" * 63), r"weights\.sha256 must be 64"),
    ],
)
def test_malformed_card_fields_are_refused_by_name(
    models: dict[str, Any], tmp_path: Path, change: Any, message: str
) -> None:
    _, card = copy_pair(models, "nle", tmp_path)
    edit_card(card, change)
    with pytest.raises(InvalidInputError, match=r"nle\.json.*" + message):
        load_model(tmp_path / "nle")


def test_truncated_oversized_and_missing_files_are_refused(
    models: dict[str, Any], tmp_path: Path
) -> None:
    weights, card = copy_pair(models, "quadratic", tmp_path)
    text = card.read_bytes()
    card.write_bytes(text[: len(text) // 2])
    with pytest.raises(InvalidInputError, match=r"quadratic\.json.*not valid JSON"):
        load_model(tmp_path / "quadratic")
    card.write_bytes(text[:-2] + b" " * (export.MAX_CARD_BYTES + 1) + b"}\n")
    with pytest.raises(InvalidInputError, match=r"quadratic\.json.*more than the 1048576"):
        load_model(tmp_path / "quadratic")
    card.write_bytes(text)
    weights.write_bytes(weights.read_bytes()[:-4])
    with pytest.raises(InvalidInputError, match=r"quadratic\.safetensors.*its card states"):
        load_model(tmp_path / "quadratic")
    weights.unlink()
    with pytest.raises(InvalidInputError, match=r"quadratic\.safetensors.*no such file"):
        load_model(tmp_path / "quadratic")
    with pytest.raises(InvalidInputError, match=r"absent\.json.*no such file"):
        load_model(tmp_path / "absent")


def test_save_refuses_bad_input_and_writes_nothing(models: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="LearnedRatio or a NeuralLikelihood"):
        save_model(object(), tmp_path / "x")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"metrics\['a'\] must be"):
        save_model(models["quadratic"], tmp_path / "x", metrics={"a": float("nan")})
    with pytest.raises(InvalidInputError, match="does not exist"):
        save_model(models["quadratic"], tmp_path / "no" / "x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", PRETRAINED_NAMES)
def test_shipped_models_load_and_match_their_problem_and_hash(name: str) -> None:
    weights, card_path = model_paths(pretrained_stem(name))
    card = json.loads(card_path.read_text())
    assert card["weights"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert weights.stat().st_size + card_path.stat().st_size < 1_000_000
    model = load_pretrained(name)  # type: ignore[arg-type]
    truth = nle_problem() if name == "nle" else default_problem()
    assert model.problem == truth
    assert np.all(np.isfinite(values(model)))
    if name != "nle":
        assert model.kind == name
        acc = card["metrics"]["ratio_accuracy"]
        assert (acc["n_points"], acc["n_events"]) == (256, 20_000)
        assert 0.0 < card["metrics"]["region_area_ratio"]["value"] < 10.0
    else:
        assert (len(model.flows), card["n_train"]) == (5, 100_000)


def test_shipped_quadratic_accuracy_reproduces_its_card() -> None:
    """The card's median ratio error, recomputed on fresh events with the independent F_XY
    formula of ``test_inference_physics`` as the exact ratio (unsmeared: m is sqrt s)."""
    model = load_pretrained("quadratic")
    card = json.loads(model_paths(pretrained_stem("quadratic"))[1].read_text())
    problem = default_problem()
    points = expected_region(exact_expected_q(problem), n_directions=256).boundary
    events = sample_events(
        problem.measurement, np.zeros(4), np.random.default_rng(7), n_events=4000
    )
    x = events.features
    full = problem.full(points)
    sm = independent_dsigma_pb(x[:, 0], x[:, 1], np.zeros(4))
    exact = np.stack([independent_dsigma_pb(x[:, 0], x[:, 1], c) / sm for c in full])
    rel = np.abs(model(x, full) - exact) / np.abs(exact - 1.0)
    recorded = card["metrics"]["ratio_accuracy"]["median"]
    # 4000 events vs the card's 20000: over seeds 0-19 the median stayed within 1.7 % of the
    # recorded one; 10 % is six times that (a false alarm is not expected in practice), while
    # a ratio stuck at 1 (median 1) fails.
    assert abs(np.median(rel) / recorded - 1.0) < 0.1
