"""Start and stop a local server for the browser and serving tests (one helper for all).

``serve_app`` runs ``panel serve`` on one app, bound to 127.0.0.1 on a free port;
``start_process`` starts any server command and waits until its port accepts connections.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 90.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(log: Path, n: int = 4000) -> str:
    """The last ``n`` characters of a server log (for failure messages)."""
    return log.read_text(errors="replace")[-n:] if log.exists() else "(no log)"


#: A browser tab closed while the server was still writing to its websocket: tornado logs this
#: race as an unretrieved task exception. It says nothing about the app, so log checks skip it.
CLIENT_GONE = ("tornado.websocket.WebSocketClosedError", "tornado.iostream.StreamClosedError")


def server_failures(log_text: str) -> list[str]:
    """The failures a server log reports: the final line of each traceback (one per exception,
    chained ones included) and each "Error running application handler" line, leaving out
    :data:`CLIENT_GONE` disconnect races. An empty list means the log shows no failure."""
    lines = log_text.splitlines()
    failures = [line for line in lines if "Error running application handler" in line]
    for i, line in enumerate(lines):
        if "Exception Group Traceback (most recent call last)" in line:
            failures.append(line.strip())  # an exception group is never a disconnect race
            continue
        if line.strip() != "Traceback (most recent call last):":
            continue
        indent = len(line) - len(line.lstrip())
        rest = (x for x in lines[i + 1 :] if x.strip() and len(x) - len(x.lstrip()) <= indent)
        final = next(rest, "(traceback cut off)").strip()
        if not final.startswith(CLIENT_GONE):
            failures.append(final)
    return failures


def start_process(
    cmd: Sequence[str],
    port: int,
    log: Path,
    *,
    what: str,
    env: dict[str, str] | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` (output to ``log``) and wait until 127.0.0.1:``port`` accepts connections;
    fail the test, with the log's tail, if it exits or does not listen in ``timeout_s``."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            list(cmd), cwd=REPO, env={**os.environ, **(env or {})}, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with code {proc.returncode}:\n{log_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1.0):
            return proc
        if time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"{what} did not open port {port} in {timeout_s:.0f} s:\n{log_tail(log)}")
        time.sleep(0.25)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server (kill it after 15 s)."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def panel_serve_command(app: Path, port: int, *extra: str) -> list[str]:
    """``panel serve app`` bound to 127.0.0.1:``port``, one process, that origin allowed."""
    return [
        sys.executable, "-m", "panel", "serve", str(app), "--address", "127.0.0.1",
        "--port", str(port), "--allow-websocket-origin", f"127.0.0.1:{port}",
        "--num-procs", "1", *extra,
    ]  # fmt: skip


@contextlib.contextmanager
def serve_app(
    app: Path, log: Path, *, env: dict[str, str] | None = None, extra: Sequence[str] = ()
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``panel serve`` one app; yields ``(url of the app, process)`` and stops it after."""
    port = free_port()
    proc = start_process(
        panel_serve_command(app, port, *extra), port, log, what="panel serve", env=env
    )
    try:
        yield f"http://127.0.0.1:{port}/{app.stem}", proc
    finally:
        stop(proc)
