"""What applying a recipe gives: the model to store, the module that executes, and notes.

:func:`lab.techniques.apply.apply` returns a :class:`Compressed`; the exporters
(:mod:`lab.export`) and the measurement read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from lab.datasets import Data, as_data
from lab.datasets import fashion as data
from lab.techniques.configs import Recipe

__all__ = ["Compressed", "calibration_images"]


@dataclass
class Compressed:
    """A compressed model: ``model`` is stored and counted, ``runtime`` executes, ``notes`` explain.

    ``original`` is the model the recipe was applied to (never modified): every size
    ratio is taken against its fp32 file.
    """

    model: nn.Module
    runtime: nn.Module
    recipe: Recipe
    resolution: int | None = data.NATIVE_SIZE  # px per side it runs at; None: tabular data
    executes_as: str = "fp32"
    notes: list[str] = field(default_factory=list)
    original: nn.Module | None = field(default=None, repr=False)
    data: Data | None = field(
        default=None, repr=False
    )  # what it was made for (None: Fashion-MNIST)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.runtime(x)

    def __repr__(self) -> str:
        return f"Compressed({self.recipe.describe()}, executes as {self.executes_as})"


def calibration_images(n: int = 512, size: int | None = None, data: object = None) -> torch.Tensor:
    """``n`` training samples (never test ones) of ``data`` (default Fashion-MNIST) at
    ``size`` px (default: native) for calibrating activation ranges."""
    return as_data(data).split("train", size).images[:n]
