"""Drive the served explorers in headless Chromium: the pages must show the core's numbers.

Uses the system (Debian) Chromium through Playwright's Python API; the Playwright browser
download (``playwright install``) is never used. Set ``PRECML_SCREENSHOT=1`` to write the
README screenshot ``docs/_static/anomaly_explorer.png``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

import pytest
from served import log_tail, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "precml_widgets" / "apps" / "anomaly_explorer.py"
INTEGRATION_APP = REPO / "precml_widgets" / "apps" / "integration_explorer.py"
FPGA_APP = REPO / "precml_widgets" / "apps" / "fpga_estimator.py"
INTERPRET_APP = REPO / "precml_widgets" / "apps" / "interpretability_explorer.py"
EFT_APP = REPO / "precml_widgets" / "apps" / "eft_explorer.py"
START_TIMEOUT_S = 90.0
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = (
            "Debian chromium not found: install it with `sudo apt-get install chromium` "
            "(never `playwright install`)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    pytest.importorskip("playwright.sync_api")
    return path


@contextlib.contextmanager
def _open_page(chromium: str, url: str, log: Path, ready: str, what: str):
    """Open ``url`` in headless Chromium, wait for ``ready``; fail on JavaScript errors."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1480, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url, timeout=START_TIMEOUT_S * 1000)
            try:
                page.locator(ready).first.wait_for(timeout=START_TIMEOUT_S * 1000)
            except Exception:
                pytest.fail(f"{what} never appeared; server log:\n{log_tail(log)}")
            yield page
        finally:
            browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _serve(app: Path, tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]):
    """Run ``panel serve app`` on a free local port; yield ``(url, log path)``; stop it."""
    log = tmp_path_factory.mktemp("panel-serve") / "serve.log"
    with serve_app(app, log, env=env) as (url, _proc):
        yield url, log


@pytest.fixture(scope="module")
def server(chromium: str, tmp_path_factory: pytest.TempPathFactory):
    yield from _serve(APP, tmp_path_factory, {"PRECML_APP_CONFIG": "fast"})


@pytest.fixture(scope="module")
def integration_server(chromium: str, tmp_path_factory: pytest.TempPathFactory):
    yield from _serve(INTEGRATION_APP, tmp_path_factory, {})


@pytest.fixture(scope="module")
def fpga_server(chromium: str, tmp_path_factory: pytest.TempPathFactory):
    yield from _serve(FPGA_APP, tmp_path_factory, {})


@pytest.fixture(scope="module")
def interpret_server(chromium: str, tmp_path_factory: pytest.TempPathFactory):
    yield from _serve(INTERPRET_APP, tmp_path_factory, {"PRECML_APP_CONFIG": "fast"})


@pytest.fixture(scope="module")
def eft_server(chromium: str, tmp_path_factory: pytest.TempPathFactory):
    yield from _serve(EFT_APP, tmp_path_factory, {"PRECML_APP_CONFIG": "fast"})


@pytest.fixture(scope="module")
def core_study():
    """The fast study, rebuilt here: fixed seeds give the served page identical scores."""
    from precml_widgets.anomaly.study import run_study
    from precml_widgets.apps.anomaly_explorer import FAST_CONFIG

    return run_study(FAST_CONFIG, progress=False)


def _read(page) -> tuple[str, str, str]:
    """(exact threshold repr, displayed threshold, displayed rate in kHz) of the rate pane."""
    thr = page.locator(".precml-rate .threshold").first
    return (
        thr.get_attribute("data-value"),
        thr.inner_text(),
        page.locator(".precml-rate .rate-khz").first.inner_text(),
    )


def _settle(page, previous: tuple[str, str, str], timeout_s: float = 15.0):
    """Wait until the pane has changed from ``previous`` and stays the same for ~0.75 s."""
    deadline = time.monotonic() + timeout_s
    last, same = None, 0
    while time.monotonic() < deadline:
        now = _read(page)
        same = same + 1 if now == last else 0
        if now != previous and same >= 3:
            return now
        last = now
        time.sleep(0.25)
    raise AssertionError(f"rate pane did not settle on a new value (still {last})")


def _check_against_core(state: tuple[str, str, str], background) -> float:
    from precml_widgets.anomaly.explorer import format_khz
    from precml_widgets.anomaly.rates import rate_at_threshold

    exact, shown, rate_text = state
    threshold = float(exact)
    assert shown == f"{threshold:.6g}"
    assert rate_text == format_khz(rate_at_threshold(background, threshold).rate_hz)
    return threshold


def test_page_shows_core_rate(server, chromium, core_study, tmp_path):
    from precml_widgets.anomaly.explorer import format_khz, rate_caveat
    from precml_widgets.anomaly.rates import DEFAULT_INPUT_RATE_HZ, threshold_for_rate
    from precml_widgets.anomaly.study import BACKGROUND

    url, log = server
    core_background = core_study.background
    ht_background = core_study.baselines["HT"][BACKGROUND]
    with _open_page(chromium, url, log, ".precml-rate .rate-khz", "the rate pane") as page:
        # target-rate mode (default, 10 kHz): the page's threshold is the core's
        state = _settle(page, ("", "", ""))
        threshold = _check_against_core(state, core_background)
        assert threshold == threshold_for_rate(core_background, 10e3)
        # what the rate means, in the status pane and the header
        caveat = page.locator(".precml-rate .rate-caveat").first.inner_text()
        assert caveat.strip() == rate_caveat(core_background.label)
        assert page.get_by_text("physical only if that sample is the unbiased").count() >= 2
        assert page.get_by_text("NOT zero-bias collisions").count() >= 2  # header + status
        assert page.locator(".precml-rate .rate-systematic").count() == 1
        page.wait_for_timeout(1000)  # let the plots finish drawing
        shot = (
            REPO / "docs" / "_static" / "anomaly_explorer.png"
            if os.environ.get("PRECML_SCREENSHOT") == "1"
            else tmp_path / "anomaly_explorer.png"
        )
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes().startswith(b"\x89PNG")

        # threshold mode: move the slider with the keyboard
        page.get_by_role("button", name="threshold", exact=True).click()
        handle = page.locator(".noUi-handle").first
        # the mode switch re-renders the slider: key presses on a handle that is being
        # replaced are lost, so press again until the pane moves (at most 3 tries)
        for attempt in range(3):
            handle.wait_for(state="visible")
            handle.focus()
            for _ in range(5):
                handle.press("ArrowRight")
            try:
                moved = _settle(page, state, timeout_s=8.0)
                break
            except AssertionError:
                if attempt == 2:
                    raise
        assert _check_against_core(moved, core_background) > threshold

        handle.press("End")  # above every background score: no event passes
        top = _settle(page, moved)
        _check_against_core(top, core_background)
        assert top[2] == format_khz(0.0)

        handle.press("Home")  # below every score: everything passes
        bottom = _settle(page, top)
        _check_against_core(bottom, core_background)
        assert bottom[2] == format_khz(DEFAULT_INPUT_RATE_HZ)

        # back to target-rate mode, then switch to the HT baseline: the page's cut is
        # the core's threshold for 10 kHz on the HT background
        page.get_by_role("button", name="target rate", exact=True).click()
        again = _settle(page, bottom)
        assert again == state
        page.locator("select").first.select_option("HT")
        ht = _settle(page, again)
        assert float(ht[0]) == threshold_for_rate(ht_background, 10e3)
        _check_against_core(ht, ht_background)


def _flow_cell(page) -> str:
    """The flow's 'estimate ± error' cell of the integration summary table ('' if absent)."""
    cells = page.locator(".precml-integration table tbody tr:nth-child(1) td")
    return cells.nth(1).inner_text() if cells.count() > 1 else ""


def test_integration_train_button(integration_server, chromium):
    """The starter comparison shows at once; Train runs a new one with the core's numbers."""

    from precml_widgets.apps.integration_explorer import STARTER
    from precml_widgets.integration.explorer import IntegrationExplorer

    url, log = integration_server
    starter = IntegrationExplorer(**STARTER).train()
    reseeded = IntegrationExplorer(**{**STARTER, "dim": 4}).train()
    expected = {
        0: f"{starter.results['flow'].estimate:.6g} ± {starter.results['flow'].error:.2g}",
        1: f"{reseeded.results['flow'].estimate:.6g} ± {reseeded.results['flow'].error:.2g}",
    }
    assert expected[0] != expected[1]
    with _open_page(chromium, url, log, ".precml-integration table", "the summary table") as page:
        assert _flow_cell(page) == expected[0]
        # another dimension: nothing is shown until Train is pressed
        page.locator(".bk-input-group", has_text="Dim").locator("select").first.select_option("4")
        page.get_by_text("to run the flow and VEGAS on this integrand").wait_for(timeout=15_000)
        page.get_by_role("button", name="Train").click()
        deadline = time.monotonic() + 120
        while _flow_cell(page) != expected[1]:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"after Train the flow shows {_flow_cell(page)!r}, expected "
                    f"{expected[1]!r}; server log:\n{log_tail(log)}"
                )
            time.sleep(0.5)


def _dsp(page) -> tuple[str, str]:
    """(exact value, displayed number) of the DSP estimate on the FPGA page."""
    dsp = page.locator(".precml-fpga-report .precml-dsp").first
    return dsp.get_attribute("data-value"), dsp.inner_text()


def test_fpga_estimator_page(fpga_server, chromium):
    """The page shows the core's DSP estimate; moving the W slider shows the new one."""
    from precml_widgets.fpga.dashboard import DEFAULT_DEVICE
    from precml_widgets.fpga.estimator import estimate
    from precml_widgets.fpga.estimator_view import default_models
    from precml_widgets.fpga.stacks import estimator_stack

    url, log = fpga_server
    model = default_models()["trigger autoencoder"]  # the app opens on the first model

    def core(width: int) -> tuple[str, str]:
        stack = estimator_stack(model, width=width, reuse_factor=1, invalid_reuse="nearest")
        dsp = estimate(stack, device=DEFAULT_DEVICE, clock_ns=5.0, backend="Vitis").dsp
        return repr(dsp), f"{dsp:,.0f}"

    expected = {16: core(16), 8: core(8)}
    assert expected[16] != expected[8]
    ready = ".precml-fpga-report .precml-dsp"
    with _open_page(chromium, url, log, ready, "the FPGA estimate") as page:
        assert _dsp(page) == expected[16]
        assert page.get_by_text("ESTIMATE (calibrated on").count() >= 1
        handle = page.locator(".precml-width .noUi-handle").first
        handle.focus()
        for _ in range(8):  # W: 16 -> 8 bits, weights under 9 bits use no DSP
            handle.press("ArrowLeft")
        deadline = time.monotonic() + 15
        while _dsp(page) != expected[8]:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"after W=8 the page shows DSP {_dsp(page)}, expected {expected[8]}; "
                    f"server log:\n{log_tail(log)}"
                )
            time.sleep(0.25)


def _changes(locator, before: bytes, what: str, log: Path, timeout_s: float = 15.0) -> None:
    """Wait until ``locator``'s screenshot differs from ``before`` (the pane may swap in a new
    Bokeh plot: a detached element reads as no change yet)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if locator.screenshot(timeout=2_000) != before:
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not change; server log:\n{log_tail(log)}")
        time.sleep(0.25)


def test_interpretability_feature_change_redraws(interpret_server, chromium):
    """The example draws without console errors; another feature redraws the dependence plot."""
    url, log = interpret_server
    ready = ".precml-interpret table"
    with _open_page(chromium, url, log, ready, "the interpretability summary") as page:
        plot = page.locator(".precml-interpret-dependence .bk-Canvas").first
        plot.wait_for(timeout=START_TIMEOUT_S * 1000)
        time.sleep(1.0)  # let Bokeh finish its first paint
        before = plot.screenshot()
        select = page.locator(".bk-input-group", has_text="Dependence on").locator("select")
        other = "x7"  # uninformative: never the feature that opens
        select.first.select_option(other)
        _changes(plot, before, f"the dependence plot for {other}", log)


def test_eft_luminosity_change_redraws(eft_server, chromium):
    """The tiny-model page draws without console errors; its binned area ratio is the core's;
    a coefficient step moves the exact ratio map; a luminosity step redraws the regions;
    Retrain replaces the study's numbers."""
    from precml_widgets.apps.eft_explorer import study_options
    from precml_widgets.inference import (
        binned_expected_q,
        default_problem,
        exact_expected_q,
        expected_region,
    )

    url, log = eft_server
    ready = ".precml-eft ul"
    with _open_page(chromium, url, log, ready, "the EFT summary") as page:
        # the binned ratio needs no training: the core's value for the fast configuration
        problem, rays = default_problem(), study_options("fast")["n_directions"]
        ratio = (
            expected_region(binned_expected_q(problem), n_directions=rays).volume
            / expected_region(exact_expected_q(problem), n_directions=rays).volume
        )
        text = page.locator(".precml-eft ul").first.inner_text()
        assert f"binned: 95 % area / exact = {ratio:.3f}" in text, text
        exact_map = page.locator(".precml-eft-exact .bk-Canvas").first
        exact_map.wait_for(timeout=START_TIMEOUT_S * 1000)
        time.sleep(1.0)  # let Bokeh finish its first paint
        before = exact_map.screenshot()
        page.locator(".noUi-handle").first.focus()  # the first slider: the first coefficient
        page.keyboard.press("ArrowRight")
        _changes(exact_map, before, "the exact ratio map after a coefficient step", log)
        plot = page.locator(".precml-eft-regions .bk-Canvas").first
        plot.wait_for(timeout=START_TIMEOUT_S * 1000)
        before = plot.screenshot()
        page.locator(".precml-eft-luminosity .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")  # 1.0 -> 1.5: every contour shrinks
        _changes(plot, before, "the region plot after a luminosity step", log)
        summary = page.locator(".precml-eft ul").first
        before_text = summary.inner_text()
        page.get_by_role("button", name="Retrain").first.click()  # tiny models: seconds
        deadline = time.monotonic() + 60
        while summary.inner_text() == before_text:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the study did not change after Retrain; server log:\n{log_tail(log)}"
                )
            time.sleep(0.5)
