"""A classroom on one server: each app under 20 websocket clients and 2 Chromium sessions.

For one app (``--app anomaly|anomaly-fast|integration|fpga``), ``panel serve`` runs on
127.0.0.1 (one process) and is measured in four steps:

1. **Single session**: one headless Chromium (Debian's, through Playwright) opens the page
   (page load: from ``goto`` until the app's numbers show and, for apps that open with a plot,
   a canvas has drawn) and moves the app's slider ``--moves`` times; the redraw latency is from
   the key press to the last server change painted (``browser_latency.measure_redraw``).
2. **Load**: ``--clients`` lightweight websocket clients speak Bokeh's protocol directly (no
   browser): each pulls the document, sends ``document_ready`` (deferred panes load), then
   every ``--period`` seconds sets the slider's ``value`` in a ``PATCH-DOC``. Its latency is
   the round trip at the client: patch sent -> the server's last reply patch received (the
   server's callback time plus two local socket hops; no rendering), over ``--duration`` s.
3. **Under load**: once every client has its document (``all_clients_connected_s``; the
   start-up burst of 20 sessions opened within one period is reported there and as each
   client's ``connect_s``), and one more period, two more Chromium sessions open the page
   (page load under load) and move the slider (redraw latency under load).
4. **Memory**: the server's RSS (psutil) idle, with one session, and with every session
   open; per session = (all - one) / (sessions added).

Targets (issue 11, 2 cores): single-session redraw <= 200 ms, p95 under load <= 500 ms, page
load <= 3 s, <= 20 MB per session. Numbers from a shared or busy machine are indicative only:
re-measure on a quiet one.

Run: ``python benchmarks/bench_serving.py --app fpga [--quick]`` (writes
``benchmarks/results/serving_<app>.json``; ``--quick``: 4 clients, 10 s, 3 moves, a smoke
test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from _common import write
from browser_latency import anomaly_threshold_mode, browser_page, measure_redraw, serve, summarize

REPO = Path(__file__).resolve().parents[1]
APPS = REPO / "precml_widgets" / "apps"
TARGETS = {
    "redraw_ms": 200.0,
    "p95_under_load_ms": 500.0,
    "page_load_s": 3.0,
    "mb_per_session": 20.0,
}


@dataclass(frozen=True)
class AppCase:
    """How to load and move one app.

    Attributes:
        script: the app file under ``precml_widgets/apps``.
        env: environment of ``panel serve``.
        ready: CSS selector shown once the app's numbers are on the page.
        plotted: whether the page opens with a Bokeh plot (then a canvas must draw).
        handle: CSS selector of the slider handle Chromium moves with the keyboard.
        title: title of the Bokeh model whose ``value`` the websocket clients set.
        values: the values they cycle through.
        prepare: ``"threshold"``: switch the anomaly explorer to threshold mode first.
        key: the key Chromium presses (away from the slider's end where the page opens).
    """

    script: str
    env: dict[str, str]
    ready: str
    plotted: bool
    handle: str
    title: str
    values: tuple[float, ...]
    prepare: str = ""
    key: str = "ArrowLeft"


CASES = {
    "fpga": AppCase(
        "fpga_estimator",
        {},
        ".precml-fpga-report .precml-dsp",
        False,
        ".precml-width .noUi-handle",
        "ap_fixed<W,I>: W [bits]",
        (8, 10, 12, 14, 16, 18),
    ),
    "integration": AppCase(
        "integration_explorer",
        {},
        ".precml-integration table",
        True,
        ".precml-quantile .noUi-handle",
        "Quantile",
        (0.95, 0.97, 0.99, 0.995, 0.999),
    ),
    "anomaly": AppCase(
        "anomaly_explorer",
        {"PRECML_APP_CONFIG": "default"},
        ".precml-rate .rate-khz",
        True,
        ".noUi-handle",
        "Target rate [kHz]",
        (5.0, 10.0, 20.0, 50.0),
        prepare="threshold",
        key="ArrowRight",
    ),
}
CASES["anomaly-fast"] = AppCase(
    **{**CASES["anomaly"].__dict__, "env": {"PRECML_APP_CONFIG": "fast"}}
)


# --------------------------------------------------------------------- the websocket client
@dataclass
class ClientStats:
    """What one websocket client saw."""

    connect_s: float | None = None
    latencies_ms: list[float] = field(default_factory=list)
    lost: int = 0
    error: str = ""


def _message(msgtype: str, content: dict[str, Any]) -> list[str]:
    header = {"msgid": f"bench-{time.monotonic_ns()}", "msgtype": msgtype}
    return [json.dumps(header), "{}", json.dumps(content)]


def _find_model(obj: Any, title: str) -> str | None:
    """The id of the first serialized model whose ``title`` attribute is ``title``."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            attrs = item.get("attributes")
            if item.get("type") == "object" and isinstance(attrs, dict):
                if attrs.get("title") == title:
                    return item["id"]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


class BokehClient:
    """One Bokeh protocol session over a websocket (tornado), without a browser."""

    def __init__(self, port: int, app: str) -> None:
        self.port, self.app = port, app
        self.ws: Any = None

    async def connect(self) -> None:
        from bokeh.util.token import generate_jwt_token, generate_session_id
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        token = generate_jwt_token(generate_session_id())
        origin = f"http://127.0.0.1:{self.port}"
        request = HTTPRequest(
            f"ws://127.0.0.1:{self.port}/{self.app}/ws", headers={"Origin": origin}
        )
        self.ws = await websocket_connect(
            request, subprotocols=["bokeh", token], max_message_size=2**30
        )

    async def receive(self, timeout: float) -> tuple[str, dict[str, Any]]:
        """The next whole message: ``(msgtype, content)`` (buffers read and dropped)."""
        # the timeout applies to the first frame only: cancelling a read inside a message
        # would leave its remaining frames to be misread as the next message
        parts = [await asyncio.wait_for(self.ws.read_message(), timeout)]
        parts += [await self.ws.read_message() for _ in range(2)]
        if any(part is None for part in parts):
            raise ConnectionError("the server closed the websocket")
        header = json.loads(parts[0])
        for _ in range(2 * header.get("num_buffers", 0)):
            await self.ws.read_message()
        return header["msgtype"], json.loads(parts[2])

    async def send(self, msgtype: str, content: dict[str, Any]) -> None:
        for part in _message(msgtype, content):
            await self.ws.write_message(part)


async def _client(
    case: AppCase,
    port: int,
    duration: float,
    period: float,
    seed: int,
    on_connected: Any = lambda: None,
) -> ClientStats:
    stats = ClientStats()
    client = BokehClient(port, case.script)
    try:
        t0 = time.perf_counter()
        await client.connect()
        kind, _ = await client.receive(60)
        assert kind == "ACK", kind
        await client.send("PULL-DOC-REQ", {})
        target = None
        deadline = time.monotonic() + 180
        while target is None:  # the slider, in the document or in a later (deferred) patch
            kind, content = await client.receive(max(1.0, deadline - time.monotonic()))
            if kind == "PULL-DOC-REPLY":
                ready = {"type": "event", "name": "document_ready", "values": {"type": "map"}}
                event = {"kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": ready}
                await client.send("PATCH-DOC", {"events": [event]})
            target = _find_model(content, case.title)
        stats.connect_s = time.perf_counter() - t0
        on_connected()
        values = itertools.cycle(case.values[seed % len(case.values) :] + case.values)
        end = time.monotonic() + duration
        while time.monotonic() < end:
            change = {"kind": "ModelChanged", "model": {"id": target}, "attr": "value"}
            sent = time.perf_counter()
            await client.send("PATCH-DOC", {"events": [{**change, "new": next(values)}]})
            last = None
            with contextlib.suppress(asyncio.TimeoutError):  # quiet for 0.3 s: reply complete
                while True:
                    wait = 10.0 if last is None else 0.3
                    kind, _ = await client.receive(wait)
                    if kind == "PATCH-DOC":
                        last = time.perf_counter()
            if last is None:
                stats.lost += 1
            else:
                stats.latencies_ms.append(1e3 * (last - sent))
            await asyncio.sleep(max(0.0, period - (time.perf_counter() - sent)))
    except Exception as exc:  # recorded, not raised: one broken client must not hide the rest
        stats.error = f"{type(exc).__name__}: {exc}"
    finally:
        if client.ws is not None:
            client.ws.close()
    return stats


def run_clients(
    case: AppCase,
    port: int,
    n: int,
    duration: float,
    period: float,
    connected: threading.Event | None = None,
) -> list[ClientStats]:
    """``n`` clients, started ``period / n`` apart, for ``duration`` s each (from its own
    connection); ``connected`` is set once every client has its document (or failed)."""
    done = itertools.count(1)

    def one_more() -> None:
        if next(done) == n and connected is not None:
            connected.set()

    async def main() -> list[ClientStats]:
        async def staggered(i: int) -> ClientStats:
            await asyncio.sleep(i * period / n)
            counted = [False]

            def count_once() -> None:
                if not counted[0]:
                    counted[0] = True
                    one_more()

            try:
                return await _client(case, port, duration, period, i, count_once)
            finally:
                count_once()  # a failed client counts too: nobody waits for it

        return await asyncio.gather(*(staggered(i) for i in range(n)))

    return asyncio.run(main())


# --------------------------------------------------------------------- the measurement
def _rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    return (proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(True))) / 2**20


def _prepare(case: AppCase):
    return anomaly_threshold_mode if case.prepare == "threshold" else None


#: True once Bokeh has rendered a view of the document (the page shows something).
_RENDERED_JS = "() => !!(window.Bokeh && Object.keys(Bokeh.index || {}).length)"
#: True once a Bokeh canvas (through the shadow roots) has a non-zero size.
_CANVAS_JS = """
() => {
  const roots = [document];
  while (roots.length) {
    for (const el of roots.pop().querySelectorAll('*')) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
      if (el.tagName === 'CANVAS' && el.width > 0 && el.height > 0) return true;
    }
  }
  return false;
}
"""


def _paint(page: Any, url: str, case: AppCase) -> dict[str, float]:
    """``{"paint_s", "ready_s"}`` from ``goto``: until Bokeh renders the page, and until the
    app's numbers show (and, where it opens with a plot, a canvas has drawn): the page load."""
    timeout = 180_000
    t0 = time.perf_counter()
    page.goto(url, timeout=timeout)
    page.wait_for_function(_RENDERED_JS, timeout=timeout)
    paint = time.perf_counter() - t0
    page.locator(case.ready).first.wait_for(timeout=timeout)
    if case.plotted:
        page.wait_for_function(_CANVAS_JS, timeout=timeout)
    return {"paint_s": round(paint, 2), "ready_s": round(time.perf_counter() - t0, 2)}


def bench(
    name: str, *, clients: int, duration: float, period: float, moves: int, warm: bool = True
) -> dict:
    """Serve app ``name`` and measure it (see the module docs); returns the JSON record.

    ``warm``: start the server with ``--warm``, as ``python -m precml_widgets.serving`` and
    ``make gallery`` do by default (the shared study or models are built, or being built in the
    background, before the first visit); ``False`` measures a cold first visit.
    """
    case = CASES[name]
    results: dict[str, Any] = {"app": case.script, "env": case.env, "targets": TARGETS}
    results["warm"] = warm
    results["load"] = {"websocket_clients": clients, "period_s": period, "duration_s": duration}
    with serve(APPS / f"{case.script}.py", case.env, warm=warm) as (url, proc):
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        time.sleep(1.0)
        results["rss_idle_mb"] = round(_rss_mb(proc.pid), 1)
        with browser_page(1280, 800) as page:
            results["page_load_first_visit"] = _paint(page, url, case)
            results["redraw_single_session"] = measure_redraw(
                page, case.handle, n_moves=moves, key=case.key, prepare=_prepare(case)
            )
            results["rss_one_session_mb"] = round(_rss_mb(proc.pid), 1)
            box: dict[str, list[ClientStats]] = {}
            connected = threading.Event()
            load = threading.Thread(
                target=lambda: box.update(
                    out=run_clients(case, port, clients, duration, period, connected)
                )
            )
            t_load = time.perf_counter()
            load.start()
            # under load = while every client is connected and moving: wait for the last
            # connection (20 documents opened within one period queue on the server's one
            # thread: that start-up burst is reported as connect_s, not as page load)
            connected.wait(timeout=duration / 2)
            results["all_clients_connected_s"] = round(time.perf_counter() - t_load, 2)
            time.sleep(period)  # one more round of moves
            # two more sessions, both open: pages of the same browser (one Playwright per
            # thread), each its own Bokeh session
            viewport = {"width": 1280, "height": 800}
            pages = [page.context.browser.new_page(viewport=viewport) for _ in range(2)]
            paints = [_paint(p, url, case) for p in pages]
            results["rss_all_sessions_mb"] = round(_rss_mb(proc.pid), 1)
            loaded = [
                {
                    "page_load": paint,
                    "redraw": measure_redraw(
                        p, case.handle, n_moves=moves, key=case.key, prepare=_prepare(case)
                    ),
                }
                for p, paint in zip(pages, paints, strict=True)
            ]
            load.join()
        stats = box["out"]
    latencies = [x for s in stats for x in s.latencies_ms]
    results["websocket"] = summarize(latencies) | {
        "n_moves": len(latencies),
        "n_lost": sum(s.lost for s in stats),
        "errors": [s.error for s in stats if s.error],
        "connect_s_median": _median([s.connect_s for s in stats if s.connect_s is not None]),
    }
    results["websocket"].pop("latencies_ms")
    results["chromium_under_load"] = loaded
    sessions = clients + 2  # added to the single session: the clients and two Chromium pages
    per = (results["rss_all_sessions_mb"] - results["rss_one_session_mb"]) / sessions
    results["mb_per_session"] = round(per, 2)
    under = [x for run in loaded for x in run["redraw"]["latencies_ms"]]
    results["summary"] = {
        "redraw_single_session_median_ms": results["redraw_single_session"]["median_ms"],
        "page_load_first_visit_s": results["page_load_first_visit"]["ready_s"],
        "first_paint_first_visit_s": results["page_load_first_visit"]["paint_s"],
        "page_load_under_load_s": max(run["page_load"]["ready_s"] for run in loaded),
        "websocket_p50_ms": results["websocket"]["median_ms"],
        "websocket_p95_ms": results["websocket"]["p95_ms"],
        "chromium_under_load_p95_ms": summarize(under)["p95_ms"],
        "mb_per_session": results["mb_per_session"],
    }
    return results


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 2) if xs else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--app", choices=sorted(CASES), required=True)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--period", type=float, default=2.0, help="s between a client's moves")
    parser.add_argument("--duration", type=float, default=60.0, help="s of load per client")
    parser.add_argument("--moves", type=int, default=10, help="slider moves per Chromium session")
    parser.add_argument("--quick", action="store_true", help="4 clients, 10 s, 3 moves")
    parser.add_argument("--label", default="", help="suffix of the JSON file name")
    parser.add_argument("--handle", default="", help="CSS selector of the slider handle")
    parser.add_argument(
        "--warm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve with --warm, as the documented commands do (default); --no-warm: cold",
    )
    args = parser.parse_args()
    if args.handle:  # e.g. an older page without the class: ':nth-match(.noUi-handle, 6)'
        CASES[args.app] = AppCase(**{**CASES[args.app].__dict__, "handle": args.handle})
    if args.quick:
        args.clients, args.duration, args.moves = 4, 10.0, 3
    results = bench(
        args.app,
        clients=args.clients,
        duration=args.duration,
        period=args.period,
        moves=args.moves,
        warm=args.warm,
    )
    print(json.dumps(results["summary"], indent=1))
    write(
        f"serving_{args.app.replace('-', '_')}{'_quick' if args.quick else ''}{args.label}", results
    )


if __name__ == "__main__":
    main()
