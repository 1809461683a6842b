"""Efficiency Lab: make deep-learning models smaller, faster and greener — and measure it honestly.

Public API::

    from lab import zoo, data, evaluate, apply, Recipe, PruneConfig, QuantConfig, ResolutionConfig

Layers, bottom to top (a module imports only from its own layer and those below):
``cancellation``, ``meters`` → ``datasets`` → ``models`` → ``techniques`` → ``io`` →
``runtimes`` → ``evaluation`` → ``decide`` → ``teach``. ``lab`` never imports ``widgets``;
it works without Jupyter.

The modules' short names from before the layers (``lab.measure``, ``lab.zoo``, ``lab.data``…)
stay importable: each is the same module object as its layered path (:data:`MOVED`).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = [
    "FinetuneConfig",
    "PruneConfig",
    "QuantConfig",
    "Recipe",
    "ResolutionConfig",
    "Compressed",
    "apply",
    "artifact",
    "data",
    "energy",
    "evaluate",
    "export",
    "machine",
    "measure",
    "pareto",
    "recommend",
    "search",
    "thin",
    "workflows",
    "store",
    "training",
    "zoo",
    "kinds",
    "objectives",
    "datasets",
    "families",
    "flops",
    "stats",
    "exercises",
    "interface",
    "architectures",
    "timing",
    "memory",
    "devices",
    "tiny_models",
]

# Short module names → their place in the layers. ``import lab.measure`` gives the very module
# ``lab.evaluation.measure`` (monkeypatching either patches both; pickles keep loading).
MOVED = {
    "lab.data": "lab.datasets.fashion",
    "lab.energy": "lab.meters.energy",
    "lab.machine": "lab.meters.machine",
    "lab.flops": "lab.meters.flops",
    "lab.stats": "lab.meters.stats",
    "lab.timing": "lab.meters.timing",
    "lab.architectures": "lab.models.architectures",
    "lab.zoo": "lab.models.zoo",
    "lab.families": "lab.models.families",
    "lab.training": "lab.models.training",
    "lab.thin": "lab.models.thin",
    "lab.interface": "lab.models.interface",
    "lab.artifact": "lab.io.artifact",
    "lab.store": "lab.io.store",
    "lab.export": "lab.runtimes.export",
    "lab.kinds": "lab.evaluation.kinds",
    "lab.measure": "lab.evaluation.measure",
    "lab.objectives": "lab.decide.objectives",
    "lab.pareto": "lab.decide.pareto",
    "lab.recommend": "lab.decide.recommend",
    "lab.search": "lab.decide.search",
    "lab.workflows": "lab.decide.workflows",
    "lab.exercises": "lab.teach.exercises",
    "lab.memory": "lab.meters.memory",
    "lab.tiny_models": "lab.models.tiny_models",
    "lab.devices": "lab.runtimes.devices",
    "lab.search_inputs": "lab.decide.search_inputs",
    "lab.units": "lab.meters.units",
    "lab.deployment": "lab.runtimes.deployment",
    "lab.learning": "lab.decide.learning",
    "lab.efficient": "lab.decide.efficient",
    "lab.device": "lab.meters.device",
    "lab.lazy": "lab.datasets.lazy",
    "lab.loading": "lab.runtimes.loading",
    "lab.onnx_dynamic": "lab.runtimes.onnx_dynamic",
    "lab.text": "lab.models.text",
    "lab.tasks": "lab.datasets.tasks",
    "lab.quality": "lab.evaluation.quality",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``lab.<short name>`` as the module at its layered path (see :data:`MOVED`)."""

    specs: dict = {}  # layered name → the module's own spec

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        module = import_module(MOVED[spec.name])
        self.specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module):
        # already executed under its layered name; importlib has just set its __spec__ to the
        # short name's: give it back its own
        module.__spec__ = self.specs[module.__name__]


if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
    sys.meta_path.insert(0, _Alias())

_LAZY = {
    "evaluate": ("lab.evaluation.measure", "evaluate"),
    "apply": ("lab.techniques.apply", "apply"),
    "Compressed": ("lab.techniques.apply", "Compressed"),
    "Recipe": ("lab.techniques.configs", "Recipe"),
    "PruneConfig": ("lab.techniques.configs", "PruneConfig"),
    "QuantConfig": ("lab.techniques.configs", "QuantConfig"),
    "ResolutionConfig": ("lab.techniques.configs", "ResolutionConfig"),
    "FinetuneConfig": ("lab.techniques.configs", "FinetuneConfig"),
}

if TYPE_CHECKING:  # pragma: no cover
    from lab.datasets import fashion as data  # noqa: F401
    from lab.evaluation import measure  # noqa: F401
    from lab.evaluation.measure import evaluate  # noqa: F401
    from lab.io import artifact, store  # noqa: F401
    from lab.meters import energy  # noqa: F401
    from lab.models import training, zoo  # noqa: F401
    from lab.techniques.apply import Compressed, apply  # noqa: F401
    from lab.techniques.configs import (
        FinetuneConfig,
        PruneConfig,
        QuantConfig,
        Recipe,
        ResolutionConfig,
    )


def __getattr__(name: str):
    """Import submodules and API objects on first use, so ``import lab`` stays fast."""
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    if name in __all__:
        return import_module(f"lab.{name}")
    raise AttributeError(f"module 'lab' has no attribute {name!r}")
