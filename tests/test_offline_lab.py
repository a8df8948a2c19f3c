"""The widgets draw without internet: in JupyterLab (notebooks 01 and 02) and under ``panel serve``.

JupyterLab (from this environment, 127.0.0.1, a token, temporary Jupyter folders) is driven
by headless Debian Chromium through Playwright, with every request to a host other than
127.0.0.1/localhost aborted. The notebook opened is a small one written here from notebook
02's own lines: its ``pn.extension(...)`` call, copied verbatim, then the two Panel widgets of
notebook 02 (the anomaly-score explorer on a small study, the FPGA estimator on the
notebook's part, clock and backend). Its cells are run in Lab, as a student runs them; each
widget must draw (a Bokeh canvas, the FPGA report) with a non-zero size, and the console must
hold no failed load and no "Unable to run Panel code because Bokeh or Panel library is
missing". A second notebook does the same with notebook 01's ``hv.extension(...)`` line and
its integration explorer's plot. Set ``PRECML_SCREENSHOT=1`` to write
``docs/_static/offline_lab.png``.

A served app gets the same check: ``panel serve`` on one app, network blocked, canvas drawn,
no request to any other host.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from ci_strict import require_chromium
from served import free_port, serve_app, start_process, stop

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
SCREENSHOT = REPO / "docs" / "_static" / "offline_lab.png"
TOKEN = "precml-offline-test"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
START_TIMEOUT_S = 120.0
DRAW_TIMEOUT_S = 120.0
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
#: What an offline page says when Bokeh/Panel JavaScript did not arrive.
MISSING_LIBRARY = "Unable to run Panel code because Bokeh or Panel library is missing"
#: precml_widgets.serving's helper that inlines Panel's style sheets for HoloViews outputs.
INLINE_CSS = "inline_stylesheets"


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium()  # under CI=true a missing browser or Playwright fails


# --- what the notebooks call --------------------------------------------------------------------


def extension_lines(stem: str) -> list[str]:
    """The statements of a notebook's twin that load Bokeh/Panel: ``pn.extension(...)``,
    ``hv.extension(...)`` and ``inline_stylesheets()``, as source, in order."""
    tree = ast.parse((NOTEBOOKS / f"{stem}.py").read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            if ast.unparse(node.value.func) in {"pn.extension", "hv.extension", INLINE_CSS}:
                found.append((node.lineno, ast.unparse(node)))
    return [text for _, text in sorted(found)]


@pytest.mark.parametrize("stem", sorted(p.stem for p in NOTEBOOKS.glob("[0-9]*.py")))
def test_every_notebook_loads_bokeh_and_panel_inline(stem: str) -> None:
    """A CDN load leaves the widgets blank offline: every extension call says inline=True, and
    a notebook that shows HoloViews objects (hv.extension) also inlines Panel's style sheets
    (``inline_stylesheets()``; hv.extension(inline=True) inlines only the JavaScript)."""
    lines = extension_lines(stem)
    for line in lines:
        if "extension(" in line:
            assert "inline=True" in line, f"{stem}: {line} loads Bokeh/Panel from a CDN"
    if any(line.startswith("hv.extension") for line in lines):
        assert f"{INLINE_CSS}()" in lines, (
            f"{stem}: Panel's style sheets of HoloViews outputs still come from a CDN; call "
            f"precml_widgets.serving.{INLINE_CSS}() after hv.extension"
        )


def test_a_local_resource_that_fails_to_load_is_a_resource_error() -> None:
    """``seen["failed"]`` is asserted: a local script or style sheet that did not load fails
    the browser tests; a blocked CDN request is reported once, Lab's cancelled XHRs not at all."""
    from types import SimpleNamespace as Request

    seen: dict[str, list[str]] = {"blocked": ["https://cdn.bokeh.org/b.js"], "failed": []}
    seen |= {"console": [], "pageerror": []}
    for kind, url in [
        ("script", "http://127.0.0.1:1/static/panel.min.js"),
        ("stylesheet", "http://127.0.0.1:1/static/x.css"),
        ("script", "https://cdn.bokeh.org/b.js"),  # already reported as blocked
        ("xhr", "http://127.0.0.1:1/api/kernels"),  # Lab cancels these itself
    ]:
        _record_failed(seen, Request(url=url, resource_type=kind, failure="net::ERR_FAILED"))
    assert _resource_errors(seen) == [
        "blocked (not local): https://cdn.bokeh.org/b.js",
        "failed to load (local): script http://127.0.0.1:1/static/panel.min.js: net::ERR_FAILED",
        "failed to load (local): stylesheet http://127.0.0.1:1/static/x.css: net::ERR_FAILED",
    ]


def test_notebook_02_fpga_widget_opens_on_the_notebooks_part() -> None:
    """The widget prices the part, clock and backend the notebook's estimates use."""
    tree = ast.parse((NOTEBOOKS / "02_data_acquisition.py").read_text(encoding="utf-8"))
    (call,) = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "FPGAEstimator.default"
    ]
    given = {k.arg: ast.unparse(k.value) for k in call.keywords}
    assert given.get("device") == "fpga_device"
    assert given.get("clock_ns") == "fpga_clock_ns"
    assert given.get("backend") == "fpga_backend"


def _code(*lines: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": "\n".join(lines), "outputs": [],
            "execution_count": None}  # fmt: skip


def _notebook(cells: list[dict], kernel: str) -> dict:
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": kernel, "display_name": "precml tests",
                                    "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip


def nb02_widgets(kernel: str) -> dict:
    """Notebook 02's extension lines (verbatim) and its two Panel widgets, on a small study."""
    return _notebook(
        [
            _code("import panel as pn", "", *extension_lines("02_data_acquisition")),
            _code(
                "from precml_widgets.anomaly import AnomalyScoreExplorer",
                "from precml_widgets.anomaly.study import StudyConfig, run_study",
                "",
                "study = run_study(StudyConfig(n_background=20_000, n_signal=2_000,"
                " n_permutations=50), progress=False)",
                "explorer = AnomalyScoreExplorer.from_study(study)",
                "explorer",
            ),
            _code(
                "from precml_widgets.fpga import FPGAEstimator",
                "from precml_widgets.fpga.defaults import DEFAULT_CLOCK_NS, DEFAULT_PART",
                "",
                "FPGAEstimator.default(device=DEFAULT_PART, clock_ns=DEFAULT_CLOCK_NS)",
            ),
        ],
        kernel,
    )


def nb01_widgets(kernel: str) -> dict:
    """Notebook 01's extension lines (verbatim) and a HoloViews plot."""
    return _notebook(
        [
            _code(
                "import holoviews as hv",
                "",
                f"from precml_widgets.serving import {INLINE_CSS}",
                "",
                *extension_lines("01_theory_predictions"),
            ),
            _code("hv.Curve([(0, 0), (1, 1), (2, 4)], 'x', 'y').opts(width=400, height=300)"),
        ],
        kernel,
    )


# --- JupyterLab ----------------------------------------------------------------------------------


#: Notebook 02's widgets executed outside Lab, outputs saved: what a reader opens later.
SAVED = "offline_nb02_saved.ipynb"


def _save_executed(source: Path, target: Path, env: dict[str, str]) -> None:
    """Execute ``source`` (nbclient, its own kernel) into ``target`` and trust the result, so
    Lab runs its saved JavaScript outputs (the inline Bokeh/Panel bundle) when opened."""
    import nbclient
    import nbformat

    notebook = nbformat.read(source, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=600, resources={"metadata": {"path": str(REPO)}}
    ).execute()
    nbformat.write(notebook, target)
    trust = [sys.executable, "-m", "jupyter", "trust", str(target)]
    subprocess.run(trust, env=env, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def lab(
    chromium: str, notebook_kernel: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, Path]]:
    """JupyterLab on a folder holding the two test notebooks; yields (base URL, folder, log)."""
    root = tmp_path_factory.mktemp("offline-lab")
    work = root / "notebooks"
    work.mkdir()
    for name, make in (("offline_nb02.ipynb", nb02_widgets), ("offline_nb01.ipynb", nb01_widgets)):
        (work / name).write_text(json.dumps(make(notebook_kernel), indent=1), encoding="utf-8")
    env = {
        **os.environ,
        "HOME": str(root),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_DATA_DIR": str(root / "data"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(root / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / "lab-workspaces"),
        "PYTHONPATH": str(REPO),
    }
    # no "Jupyter news?" toast over the widgets, no update check (it would leave the machine)
    notification = root / "lab-settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8"
    )
    _save_executed(work / "offline_nb02.ipynb", work / SAVED, env)
    port = free_port()
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={work}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = root / "lab.log"
    proc = start_process(cmd, port, log, what="jupyter lab", env=env, timeout_s=START_TIMEOUT_S)
    try:
        yield f"http://127.0.0.1:{port}", work, log
    finally:
        stop(proc)


@contextlib.contextmanager
def offline_page(chromium: str) -> Iterator[tuple[object, dict[str, list[str]]]]:
    """A Chromium page whose requests to any non-local host are aborted and recorded."""
    from playwright.sync_api import sync_playwright

    seen: dict[str, list[str]] = {"blocked": [], "failed": [], "console": [], "pageerror": []}

    def route(r: object) -> None:
        if urlparse(r.request.url).hostname in LOCAL_HOSTS or r.request.url.startswith("data:"):
            r.continue_()
        else:
            seen["blocked"].append(r.request.url)
            r.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", route)
            page.on("requestfailed", lambda r: _record_failed(seen, r))
            page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda exc: seen["pageerror"].append(str(exc)))
            yield page, seen
        finally:
            browser.close()


#: Request types whose failure leaves a page unstyled or undrawn (fetch/XHR/websocket requests
#: that Lab cancels on its own, e.g. on navigation, are not counted).
RESOURCE_TYPES = {"script", "stylesheet", "font", "image", "document"}


def _record_failed(seen: dict[str, list[str]], request: object) -> None:
    """A failed request that was not one of ours to block: a local resource that did not load."""
    if request.url in seen["blocked"] or request.resource_type not in RESOURCE_TYPES:
        return
    seen["failed"].append(f"{request.resource_type} {request.url}: {request.failure}")


def _resource_errors(seen: dict[str, list[str]]) -> list[str]:
    problems = [f"blocked (not local): {u}" for u in seen["blocked"]]
    problems += [f"failed to load (local): {f}" for f in seen["failed"]]
    problems += [f"page error: {e}" for e in seen["pageerror"]]
    problems += [
        c for c in seen["console"]
        if MISSING_LIBRARY in c or "Failed to load resource" in c or "failed to load" in c.lower()
    ]  # fmt: skip
    return problems


def _box(locator: object) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, "not laid out"
    return box


def _notebook_url(base: str, name: str) -> str:
    """The notebook alone in a fresh workspace of its own (Lab restores a workspace's tabs)."""
    return f"{base}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={TOKEN}"


def _run_all(page: object, url: str, log: Path) -> None:
    page.goto(url, timeout=START_TIMEOUT_S * 1000)
    try:
        page.wait_for_function(
            "() => window.jupyterapp && document.querySelector('.jp-Notebook') !== null"
            " && window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel",
            timeout=START_TIMEOUT_S * 1000,
        )
    except Exception:
        pytest.fail(
            f"the notebook or its kernel never came up; Lab log:\n{log.read_text()[-4000:]}"
        )
    page.evaluate(
        "async () => { const w = window.jupyterapp.shell.currentWidget;"
        " await w.sessionContext.ready;"
        " await window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
    )


def test_notebook_02_widgets_draw_in_an_offline_lab(chromium: str, lab: tuple) -> None:
    base, _, log = lab
    with offline_page(chromium) as (page, seen):
        _run_all(page, _notebook_url(base, "offline_nb02.ipynb"), log)
        canvas = page.locator(".jp-OutputArea-output canvas").filter(visible=True).first
        report = page.locator(".jp-OutputArea-output .precml-fpga-report .precml-dsp").first
        try:
            canvas.wait_for(timeout=DRAW_TIMEOUT_S * 1000)
            report.wait_for(timeout=DRAW_TIMEOUT_S * 1000)
        except Exception:
            pytest.fail(
                f"a widget never drew; console:\n{seen['console'][-30:]}\n"
                f"{_resource_errors(seen)}\nLab log:\n{log.read_text()[-3000:]}"
            )
        page.wait_for_timeout(2000)  # let the last plots finish drawing
        box = _box(canvas)
        assert box["width"] > 50 and box["height"] > 50, box
        assert re.search(r"\d", report.inner_text()), "the FPGA report shows no number"
        assert _box(report)["width"] > 0
        if os.environ.get("PRECML_SCREENSHOT") == "1":
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=False)
    assert not _resource_errors(seen), _resource_errors(seen)


def test_notebook_01_plot_draws_in_an_offline_lab(chromium: str, lab: tuple) -> None:
    base, _, log = lab
    with offline_page(chromium) as (page, seen):
        _run_all(page, _notebook_url(base, "offline_nb01.ipynb"), log)
        canvas = page.locator(".jp-OutputArea-output canvas").filter(visible=True).first
        try:
            canvas.wait_for(timeout=DRAW_TIMEOUT_S * 1000)
        except Exception:
            pytest.fail(f"the plot never drew; {_resource_errors(seen)}\n{seen['console'][-30:]}")
        box = _box(canvas)
        assert box["width"] > 50 and box["height"] > 50, box
    assert not _resource_errors(seen), _resource_errors(seen)


def test_saved_widget_outputs_draw_in_an_offline_lab(chromium: str, lab: tuple) -> None:
    """Notebook 02's widgets executed earlier (outputs saved, notebook trusted) draw when the
    notebook is opened offline, without running a cell."""
    base = lab[0]
    with offline_page(chromium) as (page, seen):
        page.goto(_notebook_url(base, SAVED), timeout=START_TIMEOUT_S * 1000)
        canvas = page.locator(".jp-OutputArea-output canvas").filter(visible=True).first
        report = page.locator(".jp-OutputArea-output .precml-fpga-report .precml-dsp").first
        try:
            canvas.wait_for(timeout=DRAW_TIMEOUT_S * 1000)
            report.wait_for(timeout=DRAW_TIMEOUT_S * 1000)
        except Exception:
            pytest.fail(
                f"a saved widget never drew; {_resource_errors(seen)}\n{seen['console'][-30:]}"
            )
        box = _box(canvas)
        assert box["width"] > 50 and box["height"] > 50, box
    assert not _resource_errors(seen), _resource_errors(seen)


# --- a served app --------------------------------------------------------------------------------


def test_a_served_app_draws_with_the_network_blocked(chromium: str, tmp_path: Path) -> None:
    app = REPO / "precml_widgets" / "apps" / "anomaly_explorer.py"
    log = tmp_path / "serve.log"
    requested: list[str] = []
    with serve_app(app, log, env={"PRECML_APP_CONFIG": "fast"}) as (url, _proc):
        with offline_page(chromium) as (page, seen):
            page.on("request", lambda r: requested.append(r.url))
            page.goto(url, timeout=START_TIMEOUT_S * 1000)
            canvas = page.locator("canvas").filter(visible=True).first
            try:
                canvas.wait_for(timeout=DRAW_TIMEOUT_S * 1000)
            except Exception:
                pytest.fail(f"no plot drew; {seen}\nserver log:\n{log.read_text()[-3000:]}")
            box = _box(canvas)
            assert box["width"] > 50 and box["height"] > 50, box
        foreign = [u for u in requested if urlparse(u).hostname not in LOCAL_HOSTS]
        assert not foreign, f"the served app requested other hosts: {foreign}"
        assert not _resource_errors(seen), _resource_errors(seen)
