"""Layout of the served apps at 1280x800 in Chromium: no control overlaps another or is clipped.

For each app (the anomaly explorer with ``PRECML_APP_CONFIG=fast``), serve it, open it in
headless Debian Chromium at a 1280x800 viewport, wait until it has drawn, take a full-page
screenshot (to a temporary folder; to ``docs/_static/layout_<app>.png`` with
``PRECML_SCREENSHOT=1``) and check, through every open shadow root:

* **no overlap**: no two visible controls (inputs, selects, buttons, sliders, Bokeh canvases,
  tables, Markdown blocks) whose boxes intersect by more than :data:`TOLERANCE_PX` in both
  directions, unless one contains the other in the DOM (nesting is allowed);
* **no clipping**: no input or select whose value or chosen option is wider than the part of
  its box left visible (its own padding, an ancestor that hides its overflow), no other control
  that reaches outside such an ancestor, no button or table whose content is wider than its box
  (``scrollWidth > clientWidth``), and no page wider than the window (a horizontal scroll).

Playwright drives the system Chromium (never ``playwright install``); under ``CI=true`` a
missing Chromium fails (the fixture pattern of ``tests/test_browser.py``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from ci_strict import require_chromium
from served import serve_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
APPS = REPO / "precml_widgets" / "apps"
START_TIMEOUT_S = 120.0
VIEWPORT = {"width": 1280, "height": 800}
#: Boxes may touch or share a border: an overlap counts above this many pixels both ways.
TOLERANCE_PX = 2.0
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

#: app -> (environment, selector that shows once the app has drawn its numbers, whether it
#: opens with a Bokeh plot: then a canvas must have drawn too)
CASES = {
    "anomaly_explorer": ({"PRECML_APP_CONFIG": "fast"}, ".precml-rate .rate-khz", True),
    "integration_explorer": ({}, ".precml-integration table", True),
    "fpga_estimator": ({}, ".precml-fpga-report .precml-dsp", False),
    "interpretability_explorer": ({"PRECML_APP_CONFIG": "fast"}, ".precml-interpret table", True),
    "two_sample_explorer": ({"PRECML_APP_CONFIG": "fast"}, ".precml-twosample table", True),
    "eft_explorer": ({"PRECML_APP_CONFIG": "fast"}, ".precml-eft ul", True),
}

#: Collects the visible controls through every open shadow root and returns the pairs that
#: overlap and the controls that are clipped, each described by tag, classes and text.
_LAYOUT_JS = """
(tol) => {
  // the spin buttons of a number input sit inside its box by design: the input is the control
  const CONTROL = 'input:not([type=hidden]), select, textarea, button:not(.bk-spin-btn), '
    + '.noUi-target, .bk-panel-models-markup-HTML, '
    + '.bk-Canvas, table, .markdown';
  const parentOf = (n) => n.parentNode instanceof ShadowRoot ? n.parentNode.host : n.parentNode;
  const els = [];
  const roots = [document];
  while (roots.length) {
    const r = roots.pop();
    for (const el of r.querySelectorAll('*')) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
      if (el.matches(CONTROL)) els.push(el);
    }
  }
  const visible = (el) => {
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) return false;
    const b = el.getBoundingClientRect();
    return b.width > 1 && b.height > 1;
  };
  const ctrls = els.filter(visible);
  const contains = (a, b) => { for (let n = b; n; n = parentOf(n)) if (n === a) return true;
                               return false; };
  const name = (el) => {
    const cls = (el.className && el.className.baseVal === undefined) ? el.className : '';
    const text = (el.innerText || el.value || el.title || '').trim().slice(0, 40);
    let host = el; while (host && !(host.classList && [...host.classList].some(
      (c) => c.startsWith('precml') || c.startsWith('bk-panel-models'))) && parentOf(host))
      host = parentOf(host);
    const ctx = host && host.className ? String(host.className).slice(0, 60) : '';
    return `${el.tagName.toLowerCase()}.${String(cls).split(' ').join('.')} "${text}" in ${ctx}`;
  };
  const overlaps = [];
  for (let i = 0; i < ctrls.length; i++) {
    const a = ctrls[i].getBoundingClientRect();
    for (let j = i + 1; j < ctrls.length; j++) {
      if (contains(ctrls[i], ctrls[j]) || contains(ctrls[j], ctrls[i])) continue;
      const b = ctrls[j].getBoundingClientRect();
      const dx = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const dy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (dx > tol && dy > tol) overlaps.push(`${name(ctrls[i])}  X  ${name(ctrls[j])}`
        + ` (${dx.toFixed(0)}x${dy.toFixed(0)} px)`);
    }
  }
  // the right edge of the visible area: the nearest ancestors that hide their overflow
  const clipRight = (el) => {
    let right = Infinity;
    for (let n = parentOf(el); n && n !== document.documentElement; n = parentOf(n)) {
      if (!(n instanceof Element)) continue;
      const s = getComputedStyle(n);  // display: contents has no box, so clips nothing
      if (s.overflowX !== 'visible' && s.display !== 'contents') {
        right = Math.min(right, n.getBoundingClientRect().right);
      }
    }
    return right;
  };
  const clipped = [];
  const ctx2d = document.createElement('canvas').getContext('2d');
  const textWidth = (el, text) => {
    const s = getComputedStyle(el);
    ctx2d.font = `${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
    return ctx2d.measureText(text).width;
  };
  for (const el of ctrls) {
    const box = el.getBoundingClientRect();
    const right = clipRight(el);
    const s = getComputedStyle(el);
    if (el.tagName === 'SELECT' || el.tagName === 'INPUT') {
      // what the user must read: the chosen option or the value, in the part left visible
      const text = el.tagName === 'SELECT'
        ? (el.selectedIndex >= 0 ? el.options[el.selectedIndex].text : '') : (el.value || '');
      if (!text || el.type === 'checkbox' || el.type === 'radio') continue;
      const px = (k) => parseFloat(s[k]) || 0;
      const inner = box.right - px('paddingRight') - px('borderRightWidth');
      const room = Math.min(inner, right) - box.left - px('paddingLeft') - px('borderLeftWidth');
      const need = textWidth(el, text);
      if (need > room + 1) clipped.push(`${name(el)}: "${text}" needs ${need.toFixed(0)} px, `
        + `${room.toFixed(0)} px visible`);
    } else if (box.right > right + tol) {
      clipped.push(`${name(el)}: reaches ${(box.right - right).toFixed(0)} px past its container`);
    } else if (['BUTTON', 'TABLE'].includes(el.tagName) && el.scrollWidth > el.clientWidth + 1) {
      clipped.push(`${name(el)}: content ${el.scrollWidth} px in ${el.clientWidth} px`);
    }
  }
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth + tol) {
    clipped.push(`the page: ${page.scrollWidth} px wide in a ${window.innerWidth} px window`);
  }
  return {n: ctrls.length, overlaps, clipped};
}
"""

_CANVAS_DRAWN_JS = """
() => {
  const roots = [document];
  let drawn = 0;
  while (roots.length) {
    const r = roots.pop();
    for (const el of r.querySelectorAll('*')) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
      if (el.tagName === 'CANVAS' && el.width > 0 && el.height > 0) drawn += 1;
    }
  }
  return drawn > 0;
}
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium()  # under CI=true a missing browser or Playwright fails


@contextlib.contextmanager
def _serve(app: str, env: dict[str, str], log: Path):
    """``panel serve`` one app on 127.0.0.1 and a free port; yields its URL."""
    with serve_app(APPS / f"{app}.py", log, env=env) as (url, _proc):
        yield url


@pytest.mark.parametrize("app", list(CASES))
def test_no_control_overlaps_or_is_clipped(app, chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    env, ready, plotted = CASES[app]
    log = tmp_path / "serve.log"
    with _serve(app, env, log) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url, timeout=START_TIMEOUT_S * 1000)
            try:
                page.locator(ready).first.wait_for(timeout=START_TIMEOUT_S * 1000)
                if plotted:
                    page.wait_for_function(_CANVAS_DRAWN_JS, timeout=START_TIMEOUT_S * 1000)
            except Exception:
                pytest.fail(f"{app} never drew; server log:\n{log.read_text()[-3000:]}")
            page.wait_for_timeout(1500)  # let every plot and lazily sized pane settle
            shot = (
                REPO / "docs" / "_static" / f"layout_{app}.png"
                if os.environ.get("PRECML_SCREENSHOT") == "1"
                else tmp_path / f"layout_{app}.png"
            )
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            found = page.evaluate(_LAYOUT_JS, TOLERANCE_PX)
        finally:
            browser.close()
    assert found["n"] >= 5, f"only {found['n']} controls found on {app}: the page did not draw"
    problems = [f"overlap: {o}" for o in found["overlaps"]]
    problems += [f"clipped: {c}" for c in found["clipped"]]
    assert not problems, f"{app} at 1280x800 (screenshot {shot}):\n" + "\n".join(problems)
