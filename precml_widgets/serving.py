"""Serve the dashboards on this machine only: ``python -m precml_widgets.serving [APP ...]``.

``make gallery`` runs this module. It is ``panel serve`` with three differences:

* it listens on ``127.0.0.1`` unless told otherwise (``--address``);
* every request whose ``Host`` header is not on the allowed list (the
  ``--allow-websocket-origin`` list, default ``localhost:PORT`` and ``127.0.0.1:PORT``) gets
  ``403`` before any session is made. A page of another site whose name was re-pointed to
  127.0.0.1 (DNS rebinding) sends its own name as ``Host`` and as ``Origin``; tornado >= 6.5
  accepts such a websocket as same-origin *without* calling Bokeh's origin check, so the
  ``Host`` check is what refuses it (docs/dashboards.md);
* the index page at ``/`` lists the apps from a template that loads nothing from the
  internet (Panel's own index loads its logo and fonts from CDNs).

Bokeh and Panel JavaScript come from this server (Bokeh's ``server`` resources), never from a
CDN, so the dashboards also work offline.

In a notebook, ``pn.extension(inline=True)`` puts the JavaScript and the style sheets of Panel
objects into the notebook. HoloViews objects shown directly (``hv.Curve(...)`` as a cell's
last line) still point at Panel's style sheets on the CDN; :func:`inline_stylesheets`, called
once after ``hv.extension("bokeh", inline=True)``, inlines those too.

Example:
    >>> host_allowed("127.0.0.1:5006", ["localhost:5006", "127.0.0.1:5006"])
    True
    >>> host_allowed("rebound.example:5006", ["localhost:5006", "127.0.0.1:5006"])
    False
"""

from __future__ import annotations

import argparse
import ast
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from precml_widgets._checks import require_int
from precml_widgets.errors import InvalidInputError

if TYPE_CHECKING:
    from bokeh.server.server import Server
    from tornado.web import Application

__all__ = [
    "APPS_DIR",
    "INDEX_TEMPLATE",
    "allowed_hosts",
    "app_config",
    "app_files",
    "app_summary",
    "browse_url",
    "build_in_background",
    "default_origins",
    "forget_background",
    "guard_hosts",
    "host_allowed",
    "inline_stylesheets",
    "main",
    "make_server",
    "show_when_built",
    "warming",
]

T = TypeVar("T")

#: The folder of the ``panel serve`` apps (files starting with ``_`` are not apps).
APPS_DIR = Path(__file__).resolve().parent / "apps"
#: The gallery's index page (a tornado template; nothing in it is fetched from the internet).
INDEX_TEMPLATE = Path(__file__).resolve().parent / "templates" / "gallery_index.html"

_APP_PREFIX = "``panel serve`` app:"
_LOG = logging.getLogger(__name__)


def build_in_background(key: str, build: Callable[[], T], *, name: str) -> Future[T]:
    """``build()`` once per server process, in a daemon thread, shared by every session.

    The future is kept in ``pn.state.cache[key]``: the first call starts the thread, later
    calls (any session) get the same future. A failed build is started again by the next
    call, so fetching a missing file and reloading the page works. Sessions are created on
    the server's event loop one at a time, so two calls never start two builds. The thread is
    a daemon: Ctrl-C stops the server without waiting for it.

    Args:
        key: the cache key (one per app).
        build: the work; it must not build Panel or HoloViews objects (those belong to the
            sessions' event loop).
        name: the thread's name (shown in tracebacks and profilers).

    Returns:
        The future of ``build()``'s result; its exception when ``build`` raised.
    """
    import panel as pn

    future = pn.state.cache.get(key)
    if future is None or (future.done() and future.exception() is not None):
        future = pn.state.cache[key] = Future()

        def run() -> None:
            try:
                future.set_result(build())
            except BaseException as exc:  # shown by the sessions, never lost in a thread
                future.set_exception(exc)

        threading.Thread(target=run, name=name, daemon=True).start()
    return future


def forget_background(key: str) -> None:
    """Drop the future of :func:`build_in_background` under ``key``: the next call builds again
    (a running build finishes on its own; its result is not used)."""
    import panel as pn

    pn.state.cache.pop(key, None)


def show_when_built(
    future: Future[T], show: Callable[[T], None], fail: Callable[[BaseException], None]
) -> bool:
    """Show a shared build's result in a session: at once when ``future`` is done, else as
    soon as it is (a coroutine Panel runs on the session's loop once the page has loaded).

    Args:
        future: the build, e.g. from :func:`build_in_background`.
        show: called with the result (on the session's loop).
        fail: called with the build's exception instead (the page says what failed).

    Returns:
        Whether the result was shown at once (``False``: the caller shows a waiting message).
    """
    import asyncio

    import panel as pn

    if future.done() and future.exception() is None:
        show(future.result())
        return True

    async def when_ready() -> None:
        try:
            result = await asyncio.wrap_future(future)
        except Exception as exc:  # the build failed: the page says so, its knobs still work
            fail(exc)
        else:
            show(result)

    pn.state.onload(when_ready)
    return False


def app_config() -> str:
    """The app configuration the environment variable ``PRECML_APP_CONFIG`` names: ``"fast"``
    (the small test configuration of an app) or ``"default"`` (unset or empty).

    Raises:
        InvalidInputError: for any other value.
    """
    import os

    name = os.environ.get("PRECML_APP_CONFIG", "default").strip().lower()
    if name in ("fast", "default"):
        return name
    if name == "":
        return "default"
    raise InvalidInputError(
        f"PRECML_APP_CONFIG must be 'fast' or 'default', got {name!r}; set it to 'fast' for "
        "the small test configuration or unset it for the full one."
    )


def warming() -> bool:
    """Whether this run is Panel's ``--warm`` run (a session no server serves): its deferred
    panes are never loaded, so a coroutine made for one would never be awaited."""
    import panel as pn

    doc = pn.state.curdoc
    context = None if doc is None else doc.session_context
    return context is not None and context.server_context is None


def app_files(folder: Path = APPS_DIR) -> list[Path]:
    """The app files in ``folder``: ``*.py`` not starting with ``_``, sorted by name."""
    return sorted(p for p in Path(folder).glob("[!_]*.py") if p.is_file())


def app_summary(path: Path) -> str:
    """The first line of an app file's docstring, without its ``panel serve`` prefix.

    The file is parsed, not imported (importing an app builds its dashboard).

    Example:
        >>> app_summary(APPS_DIR / "fpga_estimator.py").startswith("what a network costs")
        True
    """
    doc = ast.get_docstring(ast.parse(Path(path).read_text(encoding="utf-8"))) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else Path(path).stem
    return first.removeprefix(_APP_PREFIX).strip()


def default_origins(port: int) -> list[str]:
    """The hosts a local browser uses for ``port``: ``localhost:PORT`` and ``127.0.0.1:PORT``."""
    return [f"localhost:{port}", f"127.0.0.1:{port}"]


def allowed_hosts(origins: Sequence[str] | None, port: int) -> list[str]:
    """The ``Host``/``Origin`` allow-list of a server on ``port``: ``origins`` or the defaults.

    Each of ``origins`` is ``name``, ``name:port`` or ``*`` (Bokeh's
    ``--allow-websocket-origin`` syntax, ``*`` also for one part of an address); it is
    lower-cased (browsers send lower-case host names) and a missing port becomes ``:80``, as
    in Bokeh's own check. Without ``origins``: :func:`default_origins` of ``port``, the port
    the server actually listens on (after binding, when it was asked for port 0); port ``0``
    in an origin also means ``port``.

    Raises:
        InvalidInputError: an origin that is not ``name[:port]`` (IPv6 addresses are not
            supported by Bokeh's check: use ``localhost:PORT``).

    Example:
        >>> allowed_hosts(["Teach.Example.org", "LOCALHOST:5006"], 5006)
        ['teach.example.org:80', 'localhost:5006']
        >>> allowed_hosts(None, 5007)
        ['localhost:5007', '127.0.0.1:5007']
    """
    from bokeh.server.util import create_hosts_allowlist

    if not origins:
        return default_origins(port)
    lowered = [str(o).strip().lower() for o in origins]
    if port:  # ``name:0`` (``make gallery PORT=0``) names the port the server got
        lowered = [o.removesuffix(":0") + f":{port}" if o.endswith(":0") else o for o in lowered]
    try:
        return create_hosts_allowlist(lowered, port)
    except ValueError as err:
        raise InvalidInputError(
            f"origins: {list(origins)!r} must each be HOST, HOST:PORT or '*' ({err}); "
            f"e.g. --allow-websocket-origin localhost:{port}."
        ) from err


def browse_url(address: str, port: int, allowed: Sequence[str], prefix: str = "") -> str:
    """The URL to open in a browser, with a host name the ``Host`` check lets through.

    The first name of ``allowed`` on ``port``; else the listening ``address`` itself
    (``127.0.0.1`` for ``0.0.0.0``, IPv6 addresses in brackets) when ``allowed`` lets it
    through; else the first name of ``allowed`` without a wildcard (a proxy's name). Printing
    ``address`` alone would name a host the check can refuse (``http://0.0.0.0:5006/``).

    Example:
        >>> browse_url("0.0.0.0", 5006, ["localhost:5006", "127.0.0.1:5006"])
        'http://localhost:5006/'
        >>> browse_url("::1", 5006, ["*"], "/lab")
        'http://[::1]:5006/lab/'
    """
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    named = [h for h in allowed if "*" not in h]
    name = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(address, address)
    direct = f"[{name}]:{port}" if ":" in name else f"{name}:{port}"
    on_port = [h for h in named if h.rpartition(":")[2] == str(port)]
    if on_port:
        netloc = on_port[0]
    elif host_allowed(direct, allowed) or not named:
        netloc = direct
    else:
        netloc = named[0].removesuffix(":80")
    return f"http://{netloc}{prefix}/"


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """Whether a request's ``Host`` header (``name[:port]``) matches the allowed list.

    Patterns follow Bokeh's ``--allow-websocket-origin`` (``*`` for any host, ``*`` for one
    part of an address or the port, e.g. ``192.168.*.*:5006``); a host without a port means
    port 80. Host and patterns are compared without regard to case. An empty ``host`` (no
    ``Host`` header) is refused.
    """
    from bokeh.server.util import check_allowlist

    patterns = [str(a).strip().lower() for a in allowed]
    if "*" in patterns:
        return True
    host = host.strip().lower()
    if host.endswith("]"):  # an IPv6 address without a port
        host += ":80"
    return bool(host) and check_allowlist(host, patterns)


def guard_hosts(app: Application, allowed: Sequence[str]) -> None:
    """Answer ``403`` to every request of ``app`` whose ``Host`` is not in ``allowed``.

    The check is the first routing rule of the tornado application, ahead of the pages,
    websockets and static files, so a refused request creates no session.
    """
    from tornado.routing import Matcher, Rule
    from tornado.web import RequestHandler

    allowed = list(allowed)

    class ForeignHost(Matcher):
        def match(self, request: Any) -> dict[str, Any] | None:
            # the header itself: tornado's request.host is 127.0.0.1 when it is missing
            return None if host_allowed(request.headers.get("Host", ""), allowed) else {}

    class RefuseHost(RequestHandler):
        def prepare(self) -> None:
            host = self.request.headers.get("Host", "")
            # the allowed names go to the server's log only, not to the requesting page
            _LOG.warning("refused Host %r (allowed: %s)", host, ", ".join(allowed))
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(
                f"Host {host!r} is not allowed by this precml server. Browse to the address "
                "it printed when it started, or restart it with --allow-websocket-origin "
                "HOST:PORT for the name you use.\n"
            )

    app.default_router.rules.insert(0, Rule(ForeignHost(), RefuseHost))


def inline_stylesheets() -> None:
    """Inline Panel's style sheets in every notebook output of this kernel (idempotent).

    Sets ``pn.config.inline = True`` and registers a Panel pre-processing hook that replaces
    each style sheet a rendered model imports from the CDN by its text from the installed
    Panel. Panel objects get this from ``pn.extension(inline=True)`` already; HoloViews
    renders its plots without it, so offline their theme and loading style sheets fail.
    """
    import panel as pn
    from bokeh.models import UIElement
    from panel.io.notebook import patch_inline_stylesheets
    from panel.viewable import Viewable

    def inline_hook(viewable: Any, root: Any) -> None:
        if pn.config.inline:
            for model in root.select({"type": UIElement}):
                patch_inline_stylesheets(model)

    inline_hook.precml_inline = True  # type: ignore[attr-defined]
    pn.config.inline = True
    hooks = Viewable._preprocessing_hooks  # Panel's own registry of render hooks
    if not any(getattr(h, "precml_inline", False) for h in hooks):
        hooks.append(inline_hook)


def make_server(
    apps: Sequence[Path],
    *,
    address: str = "127.0.0.1",
    port: int = 5006,
    origins: Sequence[str] | None = None,
    prefix: str = "",
    warm: bool = False,
) -> Server:
    """A Bokeh server for ``apps`` (not started), with the ``Host`` guard and the index page.

    Args:
        apps: app files, each served at ``/<file name without .py>``.
        address: the interface to listen on; ``0.0.0.0`` for every interface.
        port: the TCP port (0 for any free port; the default origins then name the port
            it got, ``server.port``).
        origins: allowed ``Host``/``Origin`` values, ``host[:port]`` (default
            :func:`default_origins`; see :func:`allowed_hosts`); ``["*"]`` turns both
            checks off.
        prefix: URL prefix (behind a proxy, e.g. Binder's ``/user/<id>/precml-gallery``).
        warm: run each app once before serving (Panel's ``--warm``), so that what an app
            caches per process (``pn.state.as_cached``) is ready for the first visitor.

    Raises:
        InvalidInputError: no apps, a missing app file, a port outside 0-65535, or an
            origin that is not ``host[:port]``.
    """
    import panel as pn

    port = require_int("port", port, low=0, high=65535, hint="use e.g. 5006.")
    paths = [Path(a) for a in apps]
    if not paths:
        raise InvalidInputError(f"apps: no app files given; the apps live in {APPS_DIR}.")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InvalidInputError(
            f"apps: {', '.join(missing)} not found; pass files from {APPS_DIR}."
        )
    explicit = allowed_hosts(origins, port) if origins else None
    pn.config.index_titles = {f"/{p.stem}": app_summary(p) for p in paths}
    server = pn.io.server.get_server(
        {p.stem: str(p) for p in paths},
        port=port,
        address=address,
        websocket_origin=explicit,
        index=str(INDEX_TEMPLATE),
        prefix=prefix,
        num_procs=1,
        warm=bool(warm),
        start=False,
    )
    # bokeh.server.server.Server exposes its tornado application only as _tornado
    tornado_app = server._tornado
    # the defaults name the port bound (port 0: a free one); Bokeh's own default for its
    # websocket check is localhost:PORT alone
    allowed = allowed_hosts(explicit, server.port)
    tornado_app.websocket_origins.update(allowed)
    guard_hosts(tornado_app, allowed)
    return server


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: serve the apps until interrupted (``--help`` for the options)."""
    parser = argparse.ArgumentParser(
        prog="python -m precml_widgets.serving",
        description="Serve precml dashboards on this machine (127.0.0.1) with a Host check.",
    )
    parser.add_argument("apps", nargs="*", type=Path, help="app files (default: every app)")
    parser.add_argument("--address", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5006, help="TCP port (default 5006)")
    parser.add_argument(
        "--allow-websocket-origin",
        action="append",
        dest="origins",
        metavar="HOST[:PORT]",
        help="a host name browsers use to reach the server (repeatable; default "
        "localhost:PORT and 127.0.0.1:PORT)",
    )
    parser.add_argument("--prefix", default="", help="URL prefix behind a proxy")
    parser.add_argument(
        "--warm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run each app once at start, so the first visitor gets a ready page (default)",
    )
    parser.add_argument("--show", action="store_true", help="open the index in a browser")
    args = parser.parse_args(argv)
    server = make_server(
        args.apps or app_files(),
        address=args.address,
        port=args.port,
        origins=args.origins,
        prefix=args.prefix,
        warm=args.warm,
    )
    server.start()
    allowed = allowed_hosts(args.origins, server.port)
    url = browse_url(args.address, server.port, allowed, args.prefix)
    if not url.split("/")[2].endswith(f":{server.port}"):  # a proxy's name
        url += f" (through a proxy; the server itself listens on port {server.port})"
    print(f"precml dashboards at {url}", flush=True)
    if args.show:
        server.io_loop.add_callback(server.show, "/")
    server.run_until_shutdown()


if __name__ == "__main__":
    main()
