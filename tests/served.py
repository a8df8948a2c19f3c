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
