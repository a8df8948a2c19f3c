"""Jupyter Server settings for precml on Binder (binder/postBuild copies this to ~/.jupyter/).

Two ways to reach a dashboard from a running Jupyter Server, both relative to the server's base
URL (on Binder ``https://<binder host>/user/<id>/``, locally ``http://localhost:8888/``):

* ``panel-preview/render/precml_widgets/apps/<app>.py`` -- Panel's own server extension
  (``panel.io.jupyter_server_extension``, enabled automatically when Panel is installed)
  runs one app file inside a Jupyter kernel. Nothing here is needed for it.
* ``precml-gallery/`` -- the whole gallery (``python -m precml_widgets.serving`` on every
  app, with an index page that loads nothing from the internet), started on first visit by
  jupyter-server-proxy; it also appears as a JupyterLab launcher tile. Configured below.

A ``panel serve`` started by hand in a terminal is reachable at ``proxy/<port>/<app>`` when it
was started with ``--address 127.0.0.1 --allow-websocket-origin '*'`` (the browser's origin is
the Binder host; only the proxy, which admits authenticated Jupyter users, reaches 127.0.0.1).
"""

from __future__ import annotations

import glob
import os
import sys

c = get_config()  # noqa: F821 - injected by traitlets when it loads this file

# Where the repository lives: repo2docker sets REPO_DIR; elsewhere the server's working folder.
REPO = os.environ.get("PRECML_REPO", os.environ.get("REPO_DIR", os.getcwd()))

# Data files fetched by binder/postBuild live here; kernels and terminals inherit the variable.
os.environ.setdefault("PRECML_DATA", os.path.join(os.path.expanduser("~"), ".precml", "data"))


def _gallery_command(port: int, base_url: str) -> list[str]:
    """``python -m precml_widgets.serving`` on every app, behind the proxy's URL prefix."""
    apps = sorted(glob.glob(os.path.join(REPO, "precml_widgets", "apps", "[!_]*.py")))
    return [
        sys.executable,
        "-m",
        "precml_widgets.serving",
        *apps,
        "--address",
        "127.0.0.1",
        "--port",
        str(port),
        "--prefix",
        base_url.rstrip("/") + "/precml-gallery",
        # The page is served under the Jupyter host name, which is not known in advance, so the
        # Host/Origin check is off ('*'); the proxy itself only accepts authenticated users.
        "--allow-websocket-origin",
        "*",
    ]


c.ServerProxy.servers = {
    "precml-gallery": {
        "command": _gallery_command,
        "absolute_url": True,
        "timeout": 120,
        "launcher_entry": {"title": "precml dashboards", "category": "Other"},
        "new_browser_tab": True,
    }
}
