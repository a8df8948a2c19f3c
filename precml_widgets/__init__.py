"""precml widgets: interactive precision machine learning for high-energy physics.

The package is layered (docs/architecture.md); a module imports only from layers below it:

* base: :mod:`~precml_widgets.errors` (the exception types), ``_io`` (atomic file writes),
  ``_checks`` (argument checks), ``_optional`` (optional dependencies),
  :mod:`~precml_widgets.record` (a run's numbers as JSON), :mod:`~precml_widgets.parallel`
  (toy ensembles on dask), ``device`` (the torch device) and ``panel_compat``;
* shared services: :mod:`precml_widgets.data` (finding, reading and fetching HEP data files)
  and :mod:`precml_widgets.stats` (two-sample tests, the classifier check, binomial intervals);
* topics, each a core with its HoloViews ``plots`` and a Panel view on top:
  :mod:`precml_widgets.anomaly` (the unsupervised L1 anomaly trigger: scores, rates,
  efficiencies, the autoencoder, the study), :mod:`precml_widgets.fpga` (its FPGA deployment
  with hls4ml: fixed-point emulation, resource and latency estimates) and
  :mod:`precml_widgets.integration` (neural importance sampling with flows against VEGAS);
  to come: ``precml_widgets.interpret`` (interpretability), ``precml_widgets.inference``
  (parametrised classifiers, likelihood-free inference) and ``precml_widgets.likelihood``
  (surrogates of published likelihoods);
* ``precml_widgets.apps``: the dashboards for ``panel serve``.

Importing this package or a topic's core imports neither Panel nor torch; the views are
imported only when used.
"""

from __future__ import annotations

from precml_widgets.errors import (
    DataNotFoundError,
    InvalidInputError,
    MissingBranchError,
    MissingDependencyError,
    PrecmlError,
)

__version__ = "0.1.0"

__all__ = [
    "DataNotFoundError",
    "InvalidInputError",
    "MissingBranchError",
    "MissingDependencyError",
    "PrecmlError",
    "__version__",
]
