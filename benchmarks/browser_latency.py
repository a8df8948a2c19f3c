"""Slider -> redraw latency and first paint of a served Panel app, measured in Chromium.

A reusable timer (``measure_redraw``, ``measure_first_paint``, ``serve``) and a command line
for the anomaly explorer (``--app anomaly``, the default: its threshold slider) and the
interpretability explorer (``--app interpret``: ``ArrowUp`` on the "Waterfall of event" number
input, a Bokeh Spinner, and ``ArrowDown``/``ArrowUp`` in turn on the focused "Dependence on"
select, each a change that the server answers with a new plot). Debian Chromium driven by
Playwright (never ``playwright install``).

What is timed, per slider move:

* **t0**: the ``keydown`` of ``ArrowRight`` on the focused slider handle, stamped in the page
  (``performance.now()`` in a capturing listener, before the widget reacts).
* **t1**: the last change that the *server* made to the Bokeh document in reply (any
  document event whose model is not the slider itself: a data source, a title, the status
  pane's text...), followed by two animation frames (Bokeh paints its canvases on the next
  frame after a change, the second frame is when that paint is on screen). The page is taken
  as settled when no such change has arrived for ``quiet_ms`` after the last one.

The redraw latency is ``t1 - t0`` in ms: key press -> server round trip -> every reply patch
applied -> painted. The quiet period is waited for but not counted.

Page load (:func:`measure_first_paint`): from ``page.goto`` until Bokeh has rendered a view
(``paint_s``: the page shows something), and until ``ready_selector`` is visible *and* a
Bokeh canvas has a non-zero size (``ready_s``: the plots have drawn).

Memory: the server's RSS (psutil) before and after ``--sessions`` pages are open at once,
divided by their number.

Run (writes ``benchmarks/results/browser_latency_<app>[_fast].json``)::

    python benchmarks/browser_latency.py            # default 1e6-event study
    python benchmarks/browser_latency.py --fast     # PRECML_APP_CONFIG=fast
    python benchmarks/browser_latency.py --warm --first-visit-after 60   # built at start
    python benchmarks/browser_latency.py --app interpret   # the interpretability explorer

Numbers taken on a shared machine are indicative only; re-measure on a quiet one.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: Bokeh model types whose changes are the pressed widget's own, not the server's reply.
IGNORED_MODELS = ("Slider", "Spinner", "Input")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

#: Installed in the page: stamps key presses and server-side document changes.
_PROBE_JS = """
(ignore) => {
  if (window.__precml_probe) {
    window.__precml_probe.ignore = ignore;
    return true;
  }
  const docs = (window.Bokeh && window.Bokeh.documents) || [];
  if (!docs.length) return false;
  window.__precml_probe = {key: 0, change: 0, first: 0, n: 0, ignore: ignore};
  document.addEventListener('keydown', () => {
    window.__precml_probe.key = performance.now();
    window.__precml_probe.first = 0;
  }, true);
  for (const doc of docs) {
    doc.on_change((ev) => {
      const m = ev.model;
      const name = m && m.type ? String(m.type) : '';
      const p = window.__precml_probe;
      if (p.ignore.some((part) => name.includes(part))) return;
      p.change = performance.now();
      if (!p.first) p.first = p.change;
      p.n += 1;
    });
  }
  return true;
}
"""

_PAINTED_JS = """
() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(
  () => resolve(performance.now()))))
"""

_PAINTED_DOC_JS = """
() => {
  const docs = (window.Bokeh && window.Bokeh.documents) || [];
  if (!docs.length || !window.Bokeh.index) return false;
  const views = Object.values(window.Bokeh.index);
  return views.some((v) => v.el && v.el.getBoundingClientRect().height > 0);
}
"""

_CANVAS_DRAWN_JS = """
() => {
  const roots = [document];
  const canvases = [];
  while (roots.length) {
    const r = roots.pop();
    for (const el of r.querySelectorAll('*')) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
      if (el.tagName === 'CANVAS') canvases.push(el);
    }
  }
  return canvases.some((c) => c.width > 0 && c.height > 0);
}
"""


def chromium_path() -> str:
    """The Debian Chromium executable; raises RuntimeError naming the install command."""
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("chromium not found: `sudo apt-get install chromium`")
    return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(
    app: Path, env: dict[str, str] | None = None, timeout_s: float = 120.0, *, warm: bool = False
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``panel serve app`` on 127.0.0.1 and a free port; yields ``(url, process)``.

    ``warm``: pass ``--warm`` (Panel runs the app once before it listens).
    """
    port = free_port()
    cmd = [sys.executable, "-m", "panel", "serve", str(app), "--address", "127.0.0.1"]
    cmd += ["--port", str(port), "--allow-websocket-origin", f"127.0.0.1:{port}"]
    cmd += ["--warm"] if warm else []
    proc = subprocess.Popen(
        cmd, cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"panel serve exited with code {proc.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"panel serve did not open port {port} in {timeout_s} s")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/{app.stem}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def browser_page(width: int = 1480, height: int = 900) -> Iterator[Any]:
    """A fresh headless Chromium page (Playwright sync API)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def measure_first_paint(
    page: Any, url: str, ready_selector: str, timeout_s: float = 180
) -> dict[str, float]:
    """Seconds from ``page.goto(url)`` until the page paints and until it is ready.

    Returns:
        ``{"paint_s": ..., "ready_s": ...}``: ``paint_s`` until Bokeh has rendered the
        document's first view (the page shows something: a header, a placeholder with a
        spinner...); ``ready_s`` until ``ready_selector`` is visible and a Bokeh canvas has a
        non-zero size (the plots have drawn).
    """
    t0 = time.perf_counter()
    page.goto(url, timeout=timeout_s * 1000)
    page.wait_for_function(_PAINTED_DOC_JS, timeout=timeout_s * 1000)
    paint = time.perf_counter() - t0
    page.locator(ready_selector).first.wait_for(timeout=timeout_s * 1000)
    page.wait_for_function(_CANVAS_DRAWN_JS, timeout=timeout_s * 1000)
    return {"paint_s": round(paint, 2), "ready_s": round(time.perf_counter() - t0, 2)}


def measure_redraw(
    page: Any,
    slider_selector: str | Callable[[Any], Any] = ".noUi-handle",
    *,
    n_moves: int = 10,
    key: str | Sequence[str] = "ArrowRight",
    quiet_ms: float = 400.0,
    timeout_s: float = 20.0,
    prepare: Callable[[Any], None] | None = None,
    ignore_models: Sequence[str] = IGNORED_MODELS,
) -> dict[str, Any]:
    """Redraw latency of ``n_moves`` key presses on a slider handle (see the module docs).

    Args:
        page: a Playwright page with the app loaded.
        slider_selector: CSS selector of the slider handle (first match is used), or a
            function of the page returning a Playwright locator (e.g. of a widget found by its
            label: ``lambda p: p.get_by_label("Dependence on")``).
        n_moves: key presses, each waited for until the page is quiet.
        key: the key pressed on the focused handle, or keys pressed in turn (e.g.
            ``("ArrowDown", "ArrowUp")`` on a select: every press is a change).
        quiet_ms: no server change for this long = settled (not counted in the latency).
        timeout_s: per move, how long to wait for the first reply.
        prepare: called with the page before the first move (e.g. switch a mode on).
        ignore_models: Bokeh model types (substrings) whose changes are not a reply: the
            pressed widget's own change (add ``"Select"`` when pressing keys on a select).

    Returns:
        ``{"latencies_ms": [...], "median_ms", "p95_ms", "max_ms", "first_reply_median_ms",
        "n_moves", "n_lost"}`` (``first_reply``: key press -> first server change applied);
        a move with no server reply within ``timeout_s`` counts in ``n_lost``.
    """
    if prepare is not None:
        prepare(page)
    page.wait_for_function(_PROBE_JS, arg=list(ignore_models), timeout=timeout_s * 1000)
    if callable(slider_selector):
        handle = slider_selector(page).first
    else:
        handle = page.locator(slider_selector).first
    handle.wait_for(state="visible")
    keys = itertools.cycle([key] if isinstance(key, str) else list(key))
    latencies, first_reply, lost = [], [], 0
    for _ in range(n_moves):
        handle.focus()
        n0 = page.evaluate("() => window.__precml_probe.n")
        handle.press(next(keys))
        deadline = time.monotonic() + timeout_s
        while page.evaluate("() => window.__precml_probe.n") == n0:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        else:
            while True:  # wait for quiet: no server change for quiet_ms
                age = page.evaluate("() => performance.now() - window.__precml_probe.change")
                if age >= quiet_ms:
                    break
                time.sleep(max(0.01, (quiet_ms - age) / 1000))
            probe = page.evaluate("() => window.__precml_probe")
            # the paint after the last change: two frames after it (if still pending)
            painted = page.evaluate(_PAINTED_JS)
            frame_ms = min(painted - probe["change"], 2 * 1000 / 60)
            latencies.append(probe["change"] - probe["key"] + frame_ms)
            first_reply.append(probe["first"] - probe["key"])
            continue
        lost += 1
    reply = summarize(first_reply)
    return summarize(latencies) | {
        "first_reply_median_ms": reply["median_ms"],
        "n_moves": n_moves,
        "n_lost": lost,
    }


def summarize(latencies_ms: list[float]) -> dict[str, Any]:
    """Median, 95th percentile and maximum of a list of latencies in ms."""
    if not latencies_ms:
        return {"latencies_ms": [], "median_ms": None, "p95_ms": None, "max_ms": None}
    xs = sorted(latencies_ms)
    p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
    return {
        "latencies_ms": [round(x, 1) for x in latencies_ms],
        "median_ms": round(statistics.median(xs), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(xs[-1], 1),
    }


def anomaly_threshold_mode(page: Any) -> None:
    """Switch the anomaly explorer to threshold mode (the slider is disabled before)."""
    page.get_by_role("button", name="threshold", exact=True).click()
    page.wait_for_timeout(1500)  # the mode switch re-renders the slider


def server_rss_mb(proc: subprocess.Popen) -> float:
    """Resident memory of the server process in MiB (psutil)."""
    import psutil

    return psutil.Process(proc.pid).memory_info().rss / 2**20


def by_label(label: str) -> Callable[[Any], Any]:
    """A locator factory: the widget whose label is ``label`` (Playwright ``get_by_label``)."""
    return lambda page: page.get_by_label(label, exact=True)


#: Per app: the served file, the element that shows the page has drawn, and the redraws timed
#: as ``(result key, widget, keys pressed in turn, prepare, ignored model types)``.
APPS: dict[str, dict[str, Any]] = {
    "anomaly": {
        "file": "anomaly_explorer.py",
        "ready": ".precml-rate .rate-khz",
        "redraws": [
            (
                "threshold_redraw",
                ".noUi-handle",
                "ArrowRight",
                anomaly_threshold_mode,
                IGNORED_MODELS,
            )
        ],
    },
    "interpret": {
        "file": "interpretability_explorer.py",
        "ready": ".precml-interpret-waterfall",
        "redraws": [
            # the event knob is an IntInput (a Bokeh Spinner): ArrowUp steps it by one
            ("event_redraw", by_label("Waterfall of event"), "ArrowUp", None, IGNORED_MODELS),
            # a closed <select>: ArrowDown / ArrowUp pick the next / previous feature
            (
                "feature_redraw",
                by_label("Dependence on"),
                ("ArrowDown", "ArrowUp"),
                None,
                (*IGNORED_MODELS, "Select"),
            ),
        ],
    },
}


def main() -> None:
    """Serve an explorer, time its page loads and redraws, write JSON."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import write

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--app", choices=sorted(APPS), default="anomaly", help="which explorer")
    parser.add_argument("--fast", action="store_true", help="PRECML_APP_CONFIG=fast")
    parser.add_argument("--moves", type=int, default=10)
    parser.add_argument("--warm", action="store_true", help="panel serve --warm")
    parser.add_argument(
        "--first-visit-after", type=float, default=0.0, help="seconds between start and visit"
    )
    parser.add_argument("--sessions", type=int, default=5, help="extra pages for memory")
    parser.add_argument("--label", default="", help="suffix of the JSON file name")
    args = parser.parse_args()
    spec = APPS[args.app]
    app = REPO / "precml_widgets" / "apps" / spec["file"]
    env = {"PRECML_APP_CONFIG": "fast" if args.fast else "default"}
    ready = spec["ready"]
    results: dict[str, Any] = {"app": app.stem, "config": env["PRECML_APP_CONFIG"]}
    results |= {"warm": args.warm, "first_visit_after_s": args.first_visit_after}
    results["loadavg_before"] = os.getloadavg()
    t_start = time.perf_counter()
    with serve(app, env, warm=args.warm) as (url, proc):
        results["server_listening_s"] = round(time.perf_counter() - t_start, 2)
        time.sleep(args.first_visit_after)
        results["rss_start_mb"] = round(server_rss_mb(proc), 1)
        for visit in ("first_visit", "second_visit"):
            with browser_page() as page:
                results[visit] = measure_first_paint(page, url, ready)
                if visit == "second_visit":
                    for name, widget, keys, prepare, ignore in spec["redraws"]:
                        results[name] = measure_redraw(
                            page,
                            widget,
                            n_moves=args.moves,
                            key=keys,
                            prepare=prepare,
                            ignore_models=ignore,
                        )
                        results[name]["keys"] = [keys] if isinstance(keys, str) else list(keys)
        # memory per session: pages kept open at once, RSS before and after
        rss0 = server_rss_mb(proc)
        with browser_page() as page:
            browser = page.context.browser
            pages = [page, *(browser.new_page() for _ in range(args.sessions - 1))]
            for p in pages:
                measure_first_paint(p, url, ready)
            time.sleep(2.0)
            rss1 = server_rss_mb(proc)
        results["rss_before_sessions_mb"] = round(rss0, 1)
        results["rss_after_sessions_mb"] = round(rss1, 1)
        results["mb_per_session"] = round((rss1 - rss0) / args.sessions, 2)
        results["sessions"] = args.sessions
    print(json.dumps(results, indent=1))
    results["loadavg_after"] = os.getloadavg()
    name = f"browser_latency_{args.app}{'_fast' if args.fast else ''}{args.label}"
    write(name, results)


if __name__ == "__main__":
    main()
