"""Reusable ipywidgets components driving ``lab/``, and the live efficiency dashboard.

Example (in a notebook)::

    from widgets import Dashboard
    Dashboard(model="cnn")                     # or Dashboard(model=my_module, name="mine")

``widgets`` imports ``lab``; ``lab`` never imports ``widgets``.
"""

from lab.decide.pareto import pareto_front

from .dashboard import Dashboard
from .device_panel import DevicePanel
from .figure import FigureView
from .metrics import MetricsPanel
from .pareto_plot import ParetoPlot
from .pickers import ModelPicker, RegionPicker
from .recommendation import RecommendationView
from .scale import DeploymentScale
from .search_view import SearchView
from .sensitivity import SensitivityView
from .sliders import BitWidthSlider, ResolutionSlider, SparsitySlider
from .status import StatusLine
from .worker import LatestWorker

__all__ = [
    "BitWidthSlider",
    "Dashboard",
    "DeploymentScale",
    "DevicePanel",
    "FigureView",
    "LatestWorker",
    "MetricsPanel",
    "ModelPicker",
    "ParetoPlot",
    "RecommendationView",
    "RegionPicker",
    "ResolutionSlider",
    "SearchView",
    "SensitivityView",
    "SparsitySlider",
    "StatusLine",
    "pareto_front",
]
