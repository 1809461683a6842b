"""Lower input resolution: the network really processes fewer pixels.

EfficientNet's compound scaling (arXiv:1905.11946) puts FLOPs ∝ resolution²; MobileNetV1
(arXiv:1704.04861) loses 6 points of ImageNet accuracy going 224 → 128 px for 3× fewer
MACs. A model trained at 28 px and run "as trained" at 7 px falls apart; one *adapted*
to the resolution (fine-tuned there, or trained at several resolutions) keeps most of
its accuracy — :func:`adapt` shows why adapting matters.

Example:
    >>> from lab import zoo
    >>> small = at_resolution(zoo.build("cnn"), ResolutionConfig(14))
    >>> small(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from lab.datasets import as_data
from lab.models.training import TrainReport, eval_mode, fit
from lab.techniques.configs import FinetuneConfig, ResolutionConfig
from lab.techniques.distillation import finetune_loss

__all__ = ["AtResolution", "adapt", "at_resolution", "check_runs_at"]


class AtResolution(nn.Module):
    """Area-downsamples its (square) input images to ``size`` px, then runs the wrapped model."""

    def __init__(self, model: nn.Module, size: int) -> None:
        super().__init__()
        ResolutionConfig(size)  # validates
        self.model = model
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="area")
        return self.model(x)

    def extra_repr(self) -> str:
        return f"size={self.size}"


def check_runs_at(model: nn.Module, size: int, data: object = None) -> None:
    """Raise a clear ValueError if ``model`` cannot run on the data's images at ``size`` px.

    The probe runs in eval mode without gradients; ``model``'s modes are restored after it.
    """

    dataset = as_data(data)
    dataset.check_size(size)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        with torch.no_grad(), eval_mode(model):
            model(dataset.example(1, size).to(device))
    except Exception as exc:
        raise ValueError(
            f"{type(model).__name__} cannot run at {size} px ({exc}). Models must end in global "
            "pooling (or otherwise accept smaller inputs) to use the resolution knob."
        ) from exc


def at_resolution(model: nn.Module, config: ResolutionConfig, data: object = None) -> nn.Module:
    """Return ``model`` wrapped to run at ``config.size`` px ("as trained": weights unchanged)."""

    if config.size == as_data(data).native_size:
        return model
    check_runs_at(model, config.size, data)
    return AtResolution(model, config.size)


def adapt(
    model: nn.Module,
    size: int,
    finetune: FinetuneConfig | None = None,
    progress: bool = True,
    *,
    data: object = None,
) -> tuple[nn.Module, TrainReport]:
    """A copy of ``model`` fine-tuned at ``size`` px (the "adapted" variant); returns (model, report)."""
    finetune = finetune or FinetuneConfig(epochs=1.0, max_seconds=60)
    ResolutionConfig(size)
    check_runs_at(model, size, data)
    adapted = copy.deepcopy(model)
    report = fit(
        adapted,
        finetune.train_config((size,)),
        loss_fn=finetune_loss(finetune, model),
        progress=progress,
        data=data,
    )
    return adapted.cpu().eval(), report
