"""One verb: ``apply(model, recipe)`` returns a new, compressed model; the input is never modified.

Order: resolution → prune → fine-tune (masks kept, at the target resolution) →
quantize (QAT when fine-tuning) → optional real int8 execution. Fine-tuning distills
from a teacher when ``FinetuneConfig.teacher`` names one (``"original"``: the input model).

The result is a :class:`Compressed`: the stored model (what :mod:`lab.artifact` writes,
FLOPs are counted on it), what actually executes, and plain notes on what the
recipe really changed and what it did not.

An fp32 runtime (every recipe without int8 activations, the baseline included) is an
inference copy of the stored model that computes the same function faster
(:func:`lab.techniques.runtime.fast_fp32`: batch norm folded, ``channels_last``).
``executes_as`` says what was done.

Example:
    >>> from lab import zoo
    >>> from lab.techniques import Recipe, PruneConfig, QuantConfig
    >>> out = apply(zoo.build("cnn"), Recipe(prune=PruneConfig(0.5), quant=QuantConfig(bits=4)))
    >>> out.executes_as
    'fp32 (4-bit weights dequantized, BN folded, channels_last)'
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from .. import data
from .configs import Recipe, ResolutionConfig
from .distillation import finetune_loss
from .resolution import AtResolution, check_runs_at
from .runtime import fast_fp32

__all__ = ["Compressed", "apply", "calibration_images"]


@dataclass
class Compressed:
    """A compressed model: ``model`` is stored and counted, ``runtime`` executes, ``notes`` explain."""

    model: nn.Module
    runtime: nn.Module
    recipe: Recipe
    resolution: int = data.NATIVE_SIZE
    executes_as: str = "fp32"
    notes: list[str] = field(default_factory=list)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.runtime(x)

    def __repr__(self) -> str:
        return f"Compressed({self.recipe.describe()}, executes as {self.executes_as})"


def calibration_images(n: int = 512, size: int = data.NATIVE_SIZE) -> torch.Tensor:
    """``n`` training images (never test images) for calibrating activation ranges."""
    return data.load_split("train", size).images[:n]


def apply(model: nn.Module, recipe: Recipe | None = None, *, progress: bool = True) -> Compressed:
    """Apply ``recipe`` to a copy of ``model`` and return a :class:`Compressed`.

    Args:
        model: any ``torch.nn.Module`` with Conv2d/Linear layers taking N×1×28×28 inputs.
        recipe: the techniques; ``None`` or an empty recipe measures the model as it is.
        progress: show progress bars during fine-tuning.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"apply() needs a torch.nn.Module, got {type(model).__name__}")
    recipe = recipe or Recipe()
    notes: list[str] = []
    resolution = (recipe.resolution or ResolutionConfig()).size
    if resolution != data.NATIVE_SIZE:
        check_runs_at(copy.deepcopy(model), resolution)
        notes.append(
            f"input area-downsampled to {resolution}×{resolution} px: "
            f"{resolution**2 / data.NATIVE_SIZE**2:.0%} of the pixels"
        )

    current = model
    loss_fn = finetune_loss(recipe.finetune, model)  # distillation when a teacher is named
    if recipe.prune is not None and recipe.prune.sparsity > 0:
        from . import pruning

        gradual = (
            recipe.finetune is not None
            and recipe.finetune.gradual_steps > 1
            and recipe.prune.structure == "unstructured"
        )
        if gradual:  # finetune_pruned prunes along its schedule, starting dense
            current = copy.deepcopy(current)
        else:
            current = pruning.prune(
                current, recipe.prune, example_input=torch.zeros(1, 1, resolution, resolution)
            )
        if recipe.prune.structure == "unstructured":
            notes.append(
                "unstructured sparsity shrinks the file, but the zeros still execute "
                "(no sparse kernels): latency and FLOPs unchanged"
            )
        else:
            notes.append("channel pruning removed filters: FLOPs and latency really drop")
        if recipe.finetune is not None:  # before quantizing (then QAT gets the same budget)
            pruning.finetune_pruned(
                current,
                recipe.finetune,
                recipe.prune,
                sizes=(resolution,),
                loss_fn=loss_fn,
                progress=progress,
            )
    elif recipe.finetune is not None and recipe.quant is None:
        from ..training import fit

        current = copy.deepcopy(current)
        fit(
            current, recipe.finetune.train_config((resolution,)), loss_fn=loss_fn, progress=progress
        )
    if recipe.finetune is not None and current is not model:
        current.cpu()  # trained on CUDA when present; the lab measures and stores on the CPU

    executes_as = "fp32"
    runtime: nn.Module | None = None
    dequantized = ""
    if recipe.quant is not None:
        from . import quantization

        weights_only = replace(recipe.quant, activations=False)
        if recipe.finetune is not None:
            current = quantization.quantization_aware_finetune(
                current,
                weights_only,
                recipe.finetune,
                size=resolution,
                loss_fn=loss_fn,
                progress=progress,
            )
        else:
            current = quantization.quantize(current, weights_only)
        bits = recipe.quant.bits
        if recipe.quant.activations:
            from . import int8

            runtime = int8.to_int8(_wrap(current, resolution), calibration_images())
            executes_as = getattr(runtime, "executes_as", "int8")
            if bits < 8:
                notes.append(f"{bits}-bit weights have no {bits}-bit kernel: they execute as int8")
        else:
            dequantized = f"{bits}-bit weights dequantized"
            notes.append(
                f"weights stored at {bits} bits; without int8 activations they execute "
                "in fp32 (no speed-up, smaller file)"
            )
    if current is model:
        current = copy.deepcopy(model)
    current.eval()
    if runtime is None:  # fp32: a faster copy computing the same function (stored model untouched)
        fast, done = fast_fp32(current, torch.zeros(1, 1, resolution, resolution))
        details = ", ".join([d for d in (dequantized, *done) if d])
        executes_as = f"fp32 ({details})" if details else "fp32"
        runtime = _wrap(fast, resolution)
    return Compressed(
        model=current,
        runtime=runtime.eval(),
        recipe=recipe,
        resolution=resolution,
        executes_as=executes_as,
        notes=notes,
    )


def _wrap(model: nn.Module, resolution: int) -> nn.Module:
    return model if resolution == data.NATIVE_SIZE else AtResolution(model, resolution)
