"""Compression techniques — pruning, quantization, resolution — composed into recipes.

from lab.techniques import apply, Recipe, PruneConfig, QuantConfig, ResolutionConfig
small = apply(model, Recipe(prune=PruneConfig(0.8), quant=QuantConfig(bits=4)))
"""

from lab.techniques.apply import Compressed, apply, calibration_images
from lab.techniques.configs import (
    FinetuneConfig,
    PruneConfig,
    QuantConfig,
    Recipe,
    ResolutionConfig,
)

__all__ = [
    "Compressed",
    "FinetuneConfig",
    "PruneConfig",
    "QuantConfig",
    "Recipe",
    "ResolutionConfig",
    "apply",
    "calibration_images",
]
