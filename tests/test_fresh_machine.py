"""A fresh machine: no shared data folder, only what pip installs (scikit-hep-testdata 0.3.12).

With ``PRECML_DATA`` pointing at an empty folder, notebooks 01 and 02 run to the end and every
app in ``precml_widgets/apps/`` starts and draws its page. What cannot run says so in one
sentence that names the missing file and the command that fetches it
(:func:`precml_widgets.data.missing_data_message`), and nothing ends in a traceback.

Cost: the two notebooks run in parallel with parameters smaller than CI's (but the same code
paths, including the degraded ones), and the apps share one ``panel serve`` process.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from ci_strict import require_chromium
from served import free_port, server_failures, start_process, stop

from precml_widgets.data import missing_data_message
from precml_widgets.errors import DataNotFoundError

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
APPS = sorted(p for p in (REPO / "precml_widgets" / "apps").glob("*.py") if p.stem != "__init__")

FETCH = "python -m precml_widgets.data fetch"
#: Smaller than CI's cuts; nb02 keeps n_background above 28.6 MHz / 1 kHz and one firmware width.
FRESH_PARAMETERS = {
    "01_theory_predictions": {
        "camel_dim": 2,
        "calls_per_iteration": 1_000,
        "training_iterations": 4,
        "final_iterations": 2,
        "flow_size": "small",
        "diagnostic_events": 5_000,
        "seed": 0,
    },
    "02_data_acquisition": {
        "n_background": 50_000,
        "n_signal": 2_000,
        "n_permutations": 20,
        "n_tagger_events": 500,
        "fpga_widths": [8],
        "seed": 0,
    },
}
#: Notebook 02's skipped parts on a fresh machine -> the command its sentence must name.
NB02_SKIPS = {
    "sample atlas2016_4lep": f"{FETCH} atlas2016_4lep_a atlas2016_4lep_b atlas2016_4lep_c "
    "atlas2016_4lep_d",
    "sample cms2012_doublemu": f"{FETCH} cms2012_doublemu",
    "8.3 jet tagger": f"{FETCH} hls4ml_jet_tagger_weights",
    "8.4 real report": f"{FETCH} hls4ml_jet_tagger_weights hls4ml_jet_tagger_csynth",
}
#: What each app's page must say on a fresh machine (apps not listed: nothing is missing).
APP_SENTENCES = {
    "fpga_estimator": [f"{FETCH} hls4ml_jet_tagger_weights"],
    "anomaly_explorer": [f"{FETCH} cms2012_doublemu", f"{FETCH} atlas2016_4lep_a"],
}


@pytest.fixture(scope="module")
def empty_data(tmp_path_factory: pytest.TempPathFactory):
    """``PRECML_DATA`` set to an empty folder for this module (kernels and servers inherit it)."""
    folder = tmp_path_factory.mktemp("empty-data")
    old = os.environ.get("PRECML_DATA")
    os.environ["PRECML_DATA"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("PRECML_DATA", None)
    else:
        os.environ["PRECML_DATA"] = old
    assert list(folder.iterdir()) == [], "something wrote into the data folder"


def test_fpga_models_degrade_to_the_autoencoder(empty_data):
    from precml_widgets.fpga.models import default_models, unavailable_models

    sentence = f"The jet tagger is not shown: {missing_data_message('hls4ml_jet_tagger_weights')}."
    assert unavailable_models() == {"jet tagger": sentence}
    assert f"`{FETCH} hls4ml_jet_tagger_weights`" in sentence
    with pytest.warns(UserWarning) as caught:
        models = default_models()
    assert [str(w.message) for w in caught if "jet tagger" in str(w.message)] == [sentence]
    assert list(models) == ["trigger autoencoder"]
    with pytest.raises(DataNotFoundError, match="fetch hls4ml_jet_tagger_weights"):
        default_models(strict=True)


def test_notebook_01_reads_no_data_file():
    source = (NOTEBOOK_DIR / "01_theory_predictions.py").read_text()
    for needle in ("precml_widgets.data", "locate(", "load_sample", "PRECML_DATA", ".root"):
        assert needle not in source, needle


def _run(stem: str, out: Path, kernel: str) -> tuple[dict, nbformat.NotebookNode, float]:
    import papermill

    results = out / f"{stem}.json"
    start = time.perf_counter()
    papermill.execute_notebook(
        str(NOTEBOOK_DIR / f"{stem}.ipynb"),
        str(out / f"{stem}.ipynb"),
        parameters={**FRESH_PARAMETERS[stem], "results_path": str(results)},
        kernel_name=kernel,
        cwd=str(NOTEBOOK_DIR),
        progress_bar=False,
        execution_timeout=600,
    )
    wall = time.perf_counter() - start
    return json.loads(results.read_text()), nbformat.read(out / f"{stem}.ipynb", 4), wall


def _streams(nb: nbformat.NotebookNode) -> tuple[str, str, list[str]]:
    """stdout, stderr and error names of every code cell's outputs."""
    out, err, errors = [], [], []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.output_type == "stream":
                (out if o.name == "stdout" else err).append(o.text)
            elif o.output_type == "error":
                errors.append(o.ename)
    return "".join(out), "".join(err), errors


@pytest.mark.notebook
@pytest.mark.slow
def test_notebooks_run_on_a_fresh_machine(empty_data, notebook_kernel, tmp_path):
    stems = sorted(FRESH_PARAMETERS)
    with ThreadPoolExecutor(max_workers=len(stems)) as pool:
        done = pool.map(lambda stem: _run(stem, tmp_path, notebook_kernel), stems)
        runs = dict(zip(stems, done, strict=True))
    for stem, (record, nb, wall) in runs.items():
        out, err, errors = _streams(nb)
        assert errors == [], f"{stem}: {errors}"
        assert "Traceback" not in out + err, stem
        assert record["notebook"] == stem
        print(f"{stem}: {wall:.0f} s on an empty data folder")
    record, nb, _ = runs["02_data_acquisition"]
    out, err, _ = _streams(nb)
    skipped = record["skipped_sections"]
    assert set(skipped) == set(NB02_SKIPS)
    for key, command in NB02_SKIPS.items():
        sentence = skipped[key]
        assert sentence.endswith(f"`{command}`.") and sentence.count(". ") == 0, sentence
        assert out.count(sentence) == 1, f"{key!r} not printed once"
    assert set(record["missing_samples"]) == {"atlas2016_4lep", "cms2012_doublemu"}
    assert "sample 'cms2012_doublemu' skipped" not in err  # said once, by the notebook
    # what still runs: the study on the wheel's CMS 2010 file, the firmware, the estimates
    assert record["n_events"]["cms2010_zmumu_validate"] > 0
    assert record["fpga"]["validation"]["n_rows_total"] == 57  # the packaged table
    assert record["fpga"]["report"] is None and record["fpga"]["tagger"] == {}
    # the FPGA widget (section 8.5) shows the autoencoder and says why the tagger is absent
    assert f"The jet tagger is not shown: {missing_data_message('hls4ml_jet_tagger_weights')}" in (
        err
    )


def _chromium() -> str:
    return require_chromium()  # under CI=true a missing browser or Playwright fails


@pytest.mark.slow
@pytest.mark.browser
def test_every_app_starts_on_a_fresh_machine(empty_data, tmp_path):
    """Each app's page in headless Chromium draws and says what is missing and how to get it."""
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    panel = shutil.which("panel", path=str(Path(sys.executable).parent))
    assert panel is not None, "panel is not installed next to this interpreter"
    port = free_port()
    log = tmp_path / "serve.log"
    cmd = [panel, "serve", *map(str, APPS), "--address", "127.0.0.1", "--port", str(port),
           "--allow-websocket-origin", f"127.0.0.1:{port}"]  # fmt: skip
    proc = start_process(
        cmd, port, log, what="panel serve", env={"PRECML_APP_CONFIG": "fast"}, timeout_s=120
    )
    try:
        errors: list[str] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                for app in APPS:
                    page = browser.new_page(viewport={"width": 1280, "height": 800})
                    page.on("pageerror", lambda exc, app=app: errors.append(f"{app.stem}: {exc}"))
                    page.goto(f"http://127.0.0.1:{port}/{app.stem}", timeout=120_000)
                    page.locator(".bk-root, .bk-Column, [data-root-id]").first.wait_for(
                        timeout=120_000
                    )
                    for command in APP_SENTENCES.get(app.stem, []):
                        try:
                            page.get_by_text(command).first.wait_for(timeout=120_000)
                        except Exception:
                            tail = log.read_text()[-4000:]
                            pytest.fail(f"{app.stem}: no '{command}' on the page:\n{tail}")
                    page.close()
            finally:
                browser.close()
        assert errors == [], errors
    finally:
        stop(proc)
    served = log.read_text()
    assert server_failures(served) == [], served


def test_server_failures_skip_only_the_client_disconnect_race():
    """A tab closed mid-write is not a failure; any other traceback or handler error is."""
    gone = (
        "Task exception was never retrieved\nTraceback (most recent call last):\n"
        '  File "tornado/websocket.py", line 1140, in wrapper\n    await fut\n'
        "tornado.iostream.StreamClosedError: Stream is closed\n\nDuring handling of the above "
        "exception, another exception occurred:\n\nTraceback (most recent call last):\n"
        '  File "tornado/websocket.py", line 1142, in wrapper\n'
        "tornado.websocket.WebSocketClosedError\n"
    )
    assert server_failures(gone) == []
    broken = gone + "Traceback (most recent call last):\n  File \"app.py\"\nKeyError: 'x'\n"
    assert server_failures(broken) == ["KeyError: 'x'"]
    assert server_failures("Error running application handler <x>: boom") != []
    group = "  + Exception Group Traceback (most recent call last):\n  | ExceptionGroup: x (1)\n"
    assert len(server_failures(group)) == 1
    assert server_failures("Traceback (most recent call last):\n  File") == ["(traceback cut off)"]
