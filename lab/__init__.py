"""Efficiency Lab: make deep-learning models smaller, faster and greener — and measure it honestly.

Public API::

    from lab import zoo, data, evaluate, apply, Recipe, PruneConfig, QuantConfig, ResolutionConfig

``lab`` never imports ``widgets``; it works without Jupyter.
"""

from __future__ import annotations

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
]

_LAZY = {
    "evaluate": ("lab.measure", "evaluate"),
    "apply": ("lab.techniques.apply", "apply"),
    "Compressed": ("lab.techniques.apply", "Compressed"),
    "Recipe": ("lab.techniques.configs", "Recipe"),
    "PruneConfig": ("lab.techniques.configs", "PruneConfig"),
    "QuantConfig": ("lab.techniques.configs", "QuantConfig"),
    "ResolutionConfig": ("lab.techniques.configs", "ResolutionConfig"),
    "FinetuneConfig": ("lab.techniques.configs", "FinetuneConfig"),
}

if TYPE_CHECKING:  # pragma: no cover
    from . import artifact, data, energy, measure, store, training, zoo  # noqa: F401
    from .measure import evaluate  # noqa: F401
    from .techniques.apply import Compressed, apply  # noqa: F401
    from .techniques.configs import (  # noqa: F401
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
