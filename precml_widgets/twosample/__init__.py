"""Two-sample tests at work: power curves of the metric suite and NPLM on deformed models.

The core (:mod:`~precml_widgets.twosample.power`) runs toys through
:mod:`precml_widgets.stats`; :mod:`~precml_widgets.twosample.log_ratio` fits the kernel NPLM's
``f(x)`` on one deformed sample beside the exact log-ratio. The HoloViews plots (``plots``) and
the Panel view :class:`~precml_widgets.twosample.explorer.TwoSampleExplorer` are imported on
first access of their names, so importing the package imports neither HoloViews nor Panel.
"""

from __future__ import annotations

from precml_widgets._optional import lazy_exports
from precml_widgets.twosample.log_ratio import EXACT_KINDS, LogRatioMap, log_ratio_map
from precml_widgets.twosample.power import (
    FAMILIES,
    PowerConfig,
    PowerStudy,
    StatisticPower,
    power_study,
)

__all__ = [
    "EXACT_KINDS",
    "FAMILIES",
    "LogRatioMap",
    "PowerConfig",
    "PowerStudy",
    "StatisticPower",
    "TwoSampleExplorer",
    "log_ratio_map",
    "power_study",
]

__getattr__, __dir__ = lazy_exports(__name__, {"TwoSampleExplorer": "explorer"}, __all__)
