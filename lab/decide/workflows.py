"""The survey's two workflows, as functions built on ``apply``, ``training`` and ``search``.

* :func:`shrink_and_improve` — start from the model you have: compress it (prune,
  quantize, lower resolution), then recover accuracy by fine-tuning, distilled from the
  uncompressed original.
* :func:`grow_improve_shrink` — train (or take) a larger model, distil it into a small
  student, then compress the student. The zoo's ``teacher`` is the grown model; the
  student is any module, e.g. a :class:`~lab.architectures.SearchNet` found by
  :func:`lab.search.search`.

Both return a :class:`~lab.techniques.apply.Compressed` and never modify what they are
given. ``benchmarks/search.py workflows`` compares them on the same time budget.

Example:
    >>> from lab import zoo
    >>> from lab.techniques import PruneConfig, QuantConfig, Recipe
    >>> small = shrink_and_improve(zoo.load("cnn"), Recipe(prune=PruneConfig(0.8)),
    ...                            seconds=5)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace

from torch import nn

from lab.models import zoo
from lab.models.interface import check_model
from lab.models.training import TrainConfig, TrainReport, fit
from lab.techniques.apply import Compressed, apply
from lab.techniques.configs import ConfigError, FinetuneConfig, Recipe
from lab.techniques.distillation import distillation_loss

__all__ = ["grow_improve_shrink", "shrink_and_improve"]


def _seconds(seconds: float | None) -> float | None:
    if seconds is None:
        return None
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not (math.isfinite(seconds) and seconds > 0)
    ):
        raise ConfigError(f"seconds must be a finite number > 0 or None; got {seconds!r}")
    return float(seconds)


def shrink_and_improve(
    model: nn.Module,
    recipe: object,
    *,
    epochs: float = 1.0,
    seconds: float | None = 60.0,
    teacher: str | None = "original",
    progress: bool = True,
) -> Compressed:
    """Compress ``model`` with ``recipe``, then fine-tune to recover (distilled from the original).

    Args:
        model: the model you have (left untouched).
        recipe: its compression (a Recipe or one technique config); a fine-tuning part, if
            any, is replaced by this workflow's.
        epochs, seconds: the recovery budget of each fine-tuning stage (passes over the
            training split, wall time): a recipe that prunes and quantizes fine-tunes twice
            (after pruning, then quantization-aware), so it may take up to 2 × ``seconds``.
        teacher: ``"original"`` (the uncompressed model), a zoo name, or None (labels only).
    """
    recipe = Recipe.of(recipe)
    finetune = FinetuneConfig(epochs=epochs, max_seconds=_seconds(seconds), teacher=teacher)
    return apply(model, replace(recipe, finetune=finetune), progress=progress)


def grow_improve_shrink(
    student: nn.Module,
    recipe: object = None,
    *,
    teacher: str | nn.Module = "teacher",
    epochs: float = 1.0,
    seconds: float | None = 60.0,
    lr: float = 0.05,
    temperature: float = 4.0,
    progress: bool = True,
) -> tuple[Compressed, TrainReport]:
    """Distil a grown ``teacher`` into a copy of ``student``, then compress it with ``recipe``.

    Args:
        student: a small network (trained or not; a copy is trained).
        recipe: the compression applied after distillation (Recipe, one config, or None).
        teacher: the larger model: a zoo name (default: the zoo's ``teacher``) or a module.
        epochs, seconds, lr: the distillation budget.
        temperature: softens both models' outputs (Hinton et al. 2015).

    Returns:
        ``(compressed student, training report)``.
    """
    check_model(student)
    grown = zoo.load(teacher) if isinstance(teacher, str) else teacher
    check_model(grown)
    learner = copy.deepcopy(student)
    config = TrainConfig(epochs=epochs, lr=lr, max_seconds=_seconds(seconds), augment=True, shift=0)
    report = fit(learner, config, loss_fn=distillation_loss(grown, temperature), progress=progress)
    learner.cpu()
    return apply(learner, Recipe.of(recipe), progress=progress), report
