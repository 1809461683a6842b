"""Knowledge distillation (Hinton et al. 2015, arXiv:1503.02531) as a fine-tuning loss.

A compressed student can recover more when it learns from a teacher's softened outputs than
from the labels alone: the teacher's "dark knowledge" (which wrong classes are almost
right) is a richer signal. It is not free (every step also runs the teacher) and not
guaranteed: in the lab's recipe search on the zoo ``cnn`` (``benchmarks/recipe_search.py``,
README) it did not beat plain labels. The loss is

    weight · T² · KL(softmax(teacher / T) ‖ softmax(student / T)) + (1 − weight) · CE(student, y)

with temperature ``T``. ``FinetuneConfig(teacher=...)`` turns it on for every fine-tuning
step of a recipe (after pruning and during quantization-aware training):

* ``"original"`` — the model before compression (self-distillation: works for any model);
* a zoo name (e.g. ``"teacher"``, a wider, more accurate CNN).

Example:
    >>> import torch
    >>> from lab import zoo
    >>> loss = distillation_loss(zoo.build("cnn").eval(), temperature=4.0, weight=0.9)
    >>> value = loss(zoo.build("cnn"), torch.zeros(2, 1, 28, 28), torch.tensor([0, 1]))
    >>> value.shape
    torch.Size([])
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from lab.models import zoo
from lab.techniques.configs import FinetuneConfig

__all__ = ["distillation_loss", "finetune_loss", "resolve_teacher"]

LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def _frozen(teacher: nn.Module) -> nn.Module:
    """``teacher`` (a module the caller no longer owns) without gradients, in eval mode."""
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher.eval()


def resolve_teacher(finetune: FinetuneConfig | None, original: nn.Module) -> nn.Module | None:
    """The teacher a fine-tuning config names: a frozen eval-mode copy, or None for plain labels."""
    if finetune is None or finetune.teacher is None:
        return None
    if finetune.teacher == "original":
        return _frozen(copy.deepcopy(original))

    return _frozen(zoo.load(finetune.teacher))


def distillation_loss(
    teacher: nn.Module, temperature: float = 4.0, weight: float = 0.9, label_smoothing: float = 0.0
) -> LossFn:
    """``loss(student, x, y)``: Hinton's soft-target loss mixed with cross-entropy on the labels.

    The teacher runs in eval mode without gradients, on the student's device and on the
    student's inputs (at a reduced resolution too, when the recipe lowers it). It is a
    frozen copy of ``teacher``: the caller's module keeps its mode, device and gradients.
    """
    return _distillation_loss(_frozen(copy.deepcopy(teacher)), temperature, weight, label_smoothing)


def _distillation_loss(
    teacher: nn.Module, temperature: float, weight: float, label_smoothing: float = 0.0
) -> LossFn:
    """:func:`distillation_loss` with a frozen ``teacher`` the loss may own (move, keep in eval)."""

    def loss(student: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        device = x.device
        if next(teacher.parameters()).device != device:
            teacher.to(device)
        with torch.no_grad():
            soft = F.log_softmax(teacher(x) / temperature, dim=1)
        logits = student(x)
        kl = F.kl_div(
            F.log_softmax(logits / temperature, dim=1), soft, log_target=True, reduction="batchmean"
        )
        hard = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
        return weight * temperature**2 * kl + (1 - weight) * hard

    return loss


def finetune_loss(finetune: FinetuneConfig | None, original: nn.Module) -> LossFn | None:
    """The loss a recipe's fine-tuning uses: distillation when it names a teacher, else None
    (:func:`lab.training.fit`'s label-smoothed cross-entropy)."""
    teacher = resolve_teacher(finetune, original)
    if teacher is None:
        return None
    return _distillation_loss(teacher, finetune.temperature, finetune.distill_weight)
