"""Serving the dashboards: local by default, a Host allow-list, an index that needs no internet.

``python -m precml_widgets.serving`` (what ``make gallery`` and Binder run) is started on a free
port and sent the requests a DNS-rebinding page would send (a foreign ``Host`` with a matching
``Origin``); plain ``panel serve`` is shown to accept them, which is why the wrapper exists.
Every ``panel serve`` command the project documents must bind 127.0.0.1.
"""

from __future__ import annotations

import base64
import http.client
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from served import free_port, start_process, stop

from precml_widgets import serving
from precml_widgets.errors import InvalidInputError

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "precml_widgets" / "apps" / "fpga_estimator.py"
#: A second app, so that ``/`` shows the index (with one app Panel redirects to it).
OTHER_APP = REPO / "precml_widgets" / "apps" / "integration_explorer.py"
START_TIMEOUT_S = 90.0
FOREIGN = "rebound.example"

#: Where the project documents how to serve a dashboard.
DOCUMENTED = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted((REPO / "notebooks").glob("*.py")),
    *sorted((REPO / "precml_widgets" / "apps").glob("*.py")),
    REPO / "binder" / "jupyter_server_config.py",
    REPO / "Makefile",
]
#: A ``panel serve`` *command* (followed by app files, ``...`` or the Makefile's list), not prose.
SERVE_COMMAND = re.compile(
    r"panel[ ,\"']+serve[\"']?[ ,]+(?:\S*precml_widgets/\S+|\.\.\.|\$\(APPS\))"
)


def documented_serve_commands() -> list[tuple[str, str]]:
    """``(file:line, line)`` for every documented ``panel serve`` command."""
    found = []
    for path in DOCUMENTED:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SERVE_COMMAND.search(line):
                found.append((f"{path.relative_to(REPO)}:{number}", line.strip()))
    return found


#: ``--address 127.0.0.1`` (or ``=``), not another address that merely follows ``--address``.
LOCAL_ADDRESS = re.compile(r"--address[ =]['\"]?127\.0\.0\.1(?![\d.])")


def test_the_local_address_pattern() -> None:
    assert LOCAL_ADDRESS.search("panel serve x.py --address 127.0.0.1 --show")
    for line in ("--address 0.0.0.0", "--address 127.0.0.10", "--address ::1", "--show"):
        assert LOCAL_ADDRESS.search(f"panel serve x.py {line}") is None, line


def test_documented_panel_serve_commands_bind_localhost() -> None:
    commands = documented_serve_commands()
    assert commands, "no documented panel serve command found: the pattern is stale"
    unbound = [f"{where}: {line}" for where, line in commands if not LOCAL_ADDRESS.search(line)]
    assert not unbound, (
        "panel serve listens on every interface unless given --address; these documented "
        "commands need --address 127.0.0.1 (or python -m precml_widgets.serving):\n"
        + "\n".join(unbound)
    )


def test_the_gallery_and_the_wrapper_default_to_localhost() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^ADDRESS\s*\?=\s*127\.0\.0\.1\s*$", makefile, re.M)
    gallery = makefile[makefile.index("\ngallery:") :].split("\n\n", 1)[0]
    assert "-m precml_widgets.serving" in gallery and "--address $(ADDRESS)" in gallery
    binder = (REPO / "binder" / "jupyter_server_config.py").read_text(encoding="utf-8")
    assert '"precml_widgets.serving"' in binder and '"127.0.0.1"' in binder


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        ("127.0.0.1:5006", ["localhost:5006", "127.0.0.1:5006"], True),
        ("LOCALHOST:5006", ["localhost:5006"], True),
        ("localhost:5006", ["LocalHost:5006"], True),
        ("teach.example.org:5006", ["Teach.Example.ORG:5006"], True),
        (f"localhost.{FOREIGN}:5006", ["localhost:5006", "127.0.0.1:5006"], False),
        (f"127.0.0.1.{FOREIGN}:5006", ["localhost:5006", "127.0.0.1:5006"], False),
        ("[::1]:5006", ["localhost:5006", "127.0.0.1:5006"], False),
        ("[::1]:5006", ["[::1]:5006"], True),
        ("[::1]", ["[::1]:80"], True),
        ("localhost:5007", ["localhost:5006"], False),
        (f"{FOREIGN}:5006", ["localhost:5006", "127.0.0.1:5006"], False),
        ("", ["localhost:5006"], False),
        ("192.168.1.7:5006", ["192.168.*.*:5006"], True),
        ("teach.example.org", ["teach.example.org:80"], True),
        (f"{FOREIGN}:5006", ["*"], True),
    ],
)
def test_host_allowed(host: str, allowed: list[str], expected: bool) -> None:
    assert serving.host_allowed(host, allowed) is expected


def test_allowed_hosts_lower_cases_and_defaults_to_the_bound_port() -> None:
    assert serving.allowed_hosts(["LOCALHOST:5006", " Teach.Example.org "], 5006) == [
        "localhost:5006",
        "teach.example.org:80",
    ]
    assert serving.allowed_hosts(None, 41234) == ["localhost:41234", "127.0.0.1:41234"]
    assert serving.allowed_hosts(["*"], 5006) == ["*"]
    # make gallery PORT=0 passes ORIGINS="localhost:0 127.0.0.1:0"
    assert serving.allowed_hosts(["localhost:0", "h.example:8000"], 41234) == [
        "localhost:41234",
        "h.example:8000",
    ]
    for bad in ("[::1]:5006", "localhost:port", ":5006"):
        with pytest.raises(InvalidInputError, match=r"origins: .*HOST:PORT"):
            serving.allowed_hosts([bad], 5006)


@pytest.mark.parametrize(
    ("address", "allowed", "prefix", "expected"),
    [
        ("127.0.0.1", ["localhost:5006", "127.0.0.1:5006"], "", "http://localhost:5006/"),
        ("0.0.0.0", ["localhost:5006", "127.0.0.1:5006"], "", "http://localhost:5006/"),
        ("0.0.0.0", ["teach.example.org:80"], "", "http://teach.example.org/"),
        ("0.0.0.0", ["192.168.*.*:5006", "room.example:5006"], "", "http://room.example:5006/"),
        ("0.0.0.0", ["*"], "/user/x/", "http://127.0.0.1:5006/user/x/"),
        ("::", ["*"], "", "http://[::1]:5006/"),
        ("::1", ["*"], "", "http://[::1]:5006/"),
        ("::1", ["localhost:5006", "127.0.0.1:5006"], "", "http://localhost:5006/"),
        ("127.0.0.1", ["localhost:8888", "127.0.0.1:8888"], "", "http://localhost:8888/"),
        ("127.0.0.1", ["*.example:80", "127.0.0.1:5006"], "x", "http://127.0.0.1:5006/x/"),
    ],
)
def test_browse_url_is_one_the_guard_lets_through(
    address: str, allowed: list[str], prefix: str, expected: str
) -> None:
    url = serving.browse_url(address, 5006, allowed, prefix)
    assert url == expected
    netloc = url.split("/")[2]
    assert serving.host_allowed(netloc, allowed), (url, allowed)


@pytest.mark.parametrize("origins", [None, ["localhost:0", "127.0.0.1:0"]])
def test_port_0_allows_the_port_it_got(origins: list[str] | None) -> None:
    server = serving.make_server([APP], port=0, origins=origins)
    try:
        port = server.port
        assert port and port > 0
        expected = {f"localhost:{port}", f"127.0.0.1:{port}"}
        # Bokeh's websocket Origin check (its tornado application) accepts them
        assert expected <= set(server._tornado.websocket_origins)
    finally:
        server.stop()


def test_make_server_names_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="apps: no app files"):
        serving.make_server([])
    with pytest.raises(InvalidInputError, match=r"nowhere\.py not found"):
        serving.make_server([REPO / "nowhere.py"])
    with pytest.raises(InvalidInputError, match="port must be"):
        serving.make_server([APP], port=70_000)
    with pytest.raises(InvalidInputError, match="origins: "):
        serving.make_server([APP], origins=["[::1]:5006"])


def test_app_files_and_summaries_come_from_the_apps_folder() -> None:
    files = serving.app_files()
    assert [p.name for p in files] == sorted(
        p.name for p in (REPO / "precml_widgets" / "apps").glob("*.py") if not p.name[0] == "_"
    )
    for path in files:
        summary = serving.app_summary(path)
        assert summary and "panel serve" not in summary, (path, summary)


# --- a running server ---------------------------------------------------------------------------


def _request(port: int, path: str, host: str, *, websocket: bool = False) -> tuple[int, str]:
    """Status and body of a GET with the given ``Host`` (and the same ``Origin``, as a browser
    on a rebound page sends); ``websocket`` asks for an upgrade."""
    headers = {"Host": host, "Origin": f"http://{host}"}
    if websocket:
        headers |= {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = "" if response.status == 101 else response.read().decode(errors="replace")
        return response.status, body
    finally:
        conn.close()


def _raw_status(port: int, request: bytes) -> int:
    """The status code of a hand-written request (e.g. one without a ``Host`` header)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        head = b""
        while b"\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1])


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """``python -m precml_widgets.serving`` on two apps, on a free port."""
    port = free_port()
    log = tmp_path_factory.mktemp("serving") / "serve.log"
    cmd = [sys.executable, "-m", "precml_widgets.serving", str(APP), str(OTHER_APP)]
    cmd += ["--port", str(port)]
    proc = start_process(cmd, port, log, what="precml_widgets.serving")
    yield port
    stop(proc)


@pytest.mark.slow
def test_a_foreign_host_is_refused_before_any_session(gallery: int) -> None:
    port = gallery
    rebound = f"{FOREIGN}:{port}"
    status, body = _request(port, "/fpga_estimator", rebound)
    assert status == 403 and rebound in body and "--allow-websocket-origin" in body
    # the allowed names stay in the server's log, not in the page of whoever asked
    assert "localhost" not in body and "127.0.0.1" not in body
    upper = f"LOCALHOST.{FOREIGN.upper()}:{port}"
    assert _request(port, "/fpga_estimator", f"localhost.{FOREIGN}:{port}")[0] == 403
    assert _request(port, "/fpga_estimator", upper)[0] == 403
    assert _request(port, "/fpga_estimator", f"[::1]:{port}")[0] == 403
    # no Host header at all (tornado would take it as 127.0.0.1)
    assert _raw_status(port, b"GET /fpga_estimator HTTP/1.0\r\n\r\n") == 403
    assert _raw_status(port, b"GET /fpga_estimator HTTP/1.1\r\n\r\n") in (400, 403)
    assert _request(port, "/fpga_estimator/ws", rebound, websocket=True)[0] == 403
    assert _request(port, "/", rebound)[0] == 403
    assert _request(port, "/static/js/bokeh.min.js", rebound)[0] == 403
    # the names a local browser uses still work, page and live connection alike
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert _request(port, "/fpga_estimator", host)[0] == 200
        assert _request(port, "/fpga_estimator/ws", host, websocket=True)[0] == 101


@pytest.mark.slow
def test_index_and_app_pages_fetch_nothing_from_the_internet(gallery: int) -> None:
    port = gallery
    status, index = _request(port, "/", f"127.0.0.1:{port}")
    assert status == 200
    for app in (APP, OTHER_APP):
        assert f'href="./{app.stem}"' in index
        assert serving.app_summary(app) in index
    assert not re.findall(r"https?://", index), "the index must load nothing from the internet"
    assert "<img" not in index and "<object" not in index
    status, page = _request(port, "/fpga_estimator", f"127.0.0.1:{port}")
    assert status == 200
    urls = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", page)
    assert not urls, f"the app page loads resources from the internet: {urls}"
    assert re.search(r"""src=["'](\./|/)?static/js/bokeh\.min\.js""", page), "Bokeh must be served"
    assert _request(port, "/static/js/bokeh.min.js", f"127.0.0.1:{port}")[0] == 200


@pytest.mark.slow
def test_plain_panel_serve_accepts_a_rebound_websocket(tmp_path: Path) -> None:
    """Why the wrapper exists: with the pinned Bokeh/tornado, a foreign Host with the same
    Origin opens the websocket (tornado skips Bokeh's origin check when Origin == Host). When
    this fails, a Bokeh/Panel/tornado upgrade closed the hole: say so in docs/dashboards.md."""
    port = free_port()
    cmd = [sys.executable, "-m", "panel", "serve", str(APP), "--address", "127.0.0.1"]
    proc = start_process(
        [*cmd, "--port", str(port)], port, tmp_path / "serve.log", what="panel serve"
    )
    try:
        rebound = f"{FOREIGN}:{port}"
        assert _request(port, "/fpga_estimator/ws", rebound, websocket=True)[0] == 101
        assert _request(port, "/fpga_estimator", rebound)[0] == 200
    finally:
        stop(proc)


@pytest.mark.slow
@pytest.mark.parametrize("origins", [[], ["localhost:0", "127.0.0.1:0"]])  # make gallery PORT=0
def test_port_0_serves_the_url_it_prints(tmp_path: Path, origins: list[str]) -> None:
    """``--port 0`` picks a free port; the printed URL names it and is let through."""
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "precml_widgets.serving", str(APP), "--port", "0", "--no-warm"]
    cmd += [arg for origin in origins for arg in ("--allow-websocket-origin", origin)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (found := re.search(r"dashboards at (http://(\S+?):(\d+)/)", log.read_text())):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.25)
        url, name, port = found.group(1), found.group(2), int(found.group(3))
        assert port > 0 and name in ("localhost", "127.0.0.1"), url
        # (a static file and the websocket upgrade: an app page would build the app, ~20 s)
        assert _request(port, "/static/js/bokeh.min.js", f"{name}:{port}")[0] == 200
        assert _request(port, "/fpga_estimator/ws", f"{name}:{port}", websocket=True)[0] == 101
        assert _request(port, "/static/js/bokeh.min.js", f"{FOREIGN}:{port}")[0] == 403
        assert "refused Host" in log.read_text()  # the allowed names are logged here
    finally:
        stop(proc)


def test_show_when_built_shows_a_finished_build_at_once_and_a_failure_as_such() -> None:
    """Outside a server Panel runs the deferred coroutine at once, so a failed build reaches
    ``fail`` here (a pending one would wait: that path is the apps' browser tests)."""
    from concurrent.futures import Future

    shown, failed = [], []
    done: Future = Future()
    done.set_result(42)
    assert serving.show_when_built(done, shown.append, failed.append) is True
    assert shown == [42] and failed == []
    broken: Future = Future()
    error = RuntimeError("no data")
    broken.set_exception(error)
    assert serving.show_when_built(broken, shown.append, failed.append) is False
    assert shown == [42] and failed == [error]
