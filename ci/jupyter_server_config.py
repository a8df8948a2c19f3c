"""jupyter_server settings for ``make lab``: JupyterLab saves notebooks in canonical form.

``make lab`` starts JupyterLab with ``--config=ci/jupyter_server_config.py``. The pre-save hook
(ci/normalise_notebooks.py) drops the metadata JupyterLab fills in from the running kernel and
the user interface, so opening and saving an unchanged notebook leaves ``git diff`` empty.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from normalise_notebooks import pre_save_hook

c = get_config()  # noqa: F821 -- provided by jupyter's config loader
c.ContentsManager.pre_save_hook = pre_save_hook
