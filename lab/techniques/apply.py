"""One verb: ``apply(model, recipe)`` returns a new, compressed model; the input is never modified.

Order: resolution → prune → fine-tune (masks kept, at the target resolution) →
quantize (QAT when fine-tuning) → optional real int8 execution.

The result is a :class:`Compressed`: the stored model (what :mod:`lab.artifact` writes,
FLOPs are counted on it), what actually executes, and plain notes on what the
recipe really changed and what it did not.

An fp32 runtime (every recipe without int8 activations, the baseline included) is an
inference copy of the stored model that computes the same function faster
(:func:`fast_fp32`): batch norm folded into the preceding convolution/linear layer
(``torch.fx``), and convolutions in ``channels_last`` memory format. Logits agree with
the stored model's to ~1e-6 (checked on a probe batch every time; any model that cannot
be traced, or whose copy disagrees, runs as it is). ``executes_as`` says what was done.

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
from .resolution import AtResolution, check_runs_at

__all__ = ["Compressed", "apply", "calibration_images", "fast_fp32"]


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
        notes.append(f"input area-downsampled to {resolution}×{resolution} px: "
                     f"{resolution**2 / data.NATIVE_SIZE**2:.0%} of the pixels")  # fmt: skip

    current = model
    if recipe.prune is not None and recipe.prune.sparsity > 0:
        from . import pruning

        gradual = (recipe.finetune is not None and recipe.finetune.gradual_steps > 1
                   and recipe.prune.structure == "unstructured")  # fmt: skip
        if gradual:  # finetune_pruned prunes along its schedule, starting dense
            current = copy.deepcopy(current)
        else:
            current = pruning.prune(current, recipe.prune,
                                    example_input=torch.zeros(1, 1, resolution, resolution))  # fmt: skip
        if recipe.prune.structure == "unstructured":
            notes.append("unstructured sparsity shrinks the file, but the zeros still execute "
                         "(no sparse kernels): latency and FLOPs unchanged")  # fmt: skip
        else:
            notes.append("channel pruning removed filters: FLOPs and latency really drop")
        if recipe.finetune is not None:  # before quantizing (then QAT gets the same budget)
            pruning.finetune_pruned(current, recipe.finetune, recipe.prune, sizes=(resolution,),
                                    progress=progress)  # fmt: skip
    elif recipe.finetune is not None and recipe.quant is None:
        from ..training import TrainConfig, fit

        current = copy.deepcopy(current)
        ft = recipe.finetune
        fit(current, TrainConfig(epochs=ft.epochs, max_seconds=ft.max_seconds, lr=ft.lr,
                                 sizes=(resolution,)), progress=progress)  # fmt: skip

    executes_as = "fp32"
    runtime: nn.Module | None = None
    dequantized = ""
    if recipe.quant is not None:
        from . import quantization

        weights_only = replace(recipe.quant, activations=False)
        if recipe.finetune is not None:
            current = quantization.quantization_aware_finetune(
                current, weights_only, recipe.finetune, size=resolution, progress=progress)
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
            notes.append(f"weights stored at {bits} bits; without int8 activations they execute "
                         "in fp32 (no speed-up, smaller file)")  # fmt: skip
    if current is model:
        current = copy.deepcopy(model)
    current.eval()
    if runtime is None:  # fp32: a faster copy computing the same function (stored model untouched)
        fast, done = fast_fp32(current, torch.zeros(1, 1, resolution, resolution))
        details = ", ".join([d for d in (dequantized, *done) if d])
        executes_as = f"fp32 ({details})" if details else "fp32"
        runtime = _wrap(fast, resolution)
    return Compressed(model=current, runtime=runtime.eval(), recipe=recipe, resolution=resolution,
                      executes_as=executes_as, notes=notes)  # fmt: skip


def _wrap(model: nn.Module, resolution: int) -> nn.Module:
    return model if resolution == data.NATIVE_SIZE else AtResolution(model, resolution)


_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_PROBE_SEED = 20240611


class ChannelsLast(nn.Module):
    """Runs ``model`` (whose weights are channels_last) on a channels_last copy of 4-D inputs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x)


@torch.no_grad()
def fast_fp32(model: nn.Module, example: torch.Tensor) -> tuple[nn.Module, list[str]]:
    """An inference copy of ``model`` (eval mode) computing the same function faster, and what changed.

    * every BatchNorm that directly follows a Conv/Linear is folded into its weights and
      bias (``torch.nn.utils.fusion``): inside ``nn.Sequential`` containers directly (no
      tracing, ~1 ms), elsewhere with ``torch.fx.experimental.optimization.fuse`` (needs a
      model ``torch.fx`` can trace);
    * a model with 2-D convolutions runs in ``channels_last`` memory format (oneDNN's
      faster layout on CPU; ~1.5–2× on the zoo's conv nets on this machine).

    The copy is checked against ``model`` on a seeded probe batch shaped like ``example``
    (outputs within 1e-4, relative to their largest magnitude); if it cannot be built or
    disagrees, ``(model, [])`` comes back and the model runs as it is. ``model`` is never
    modified. The weights change (BN folded in), so never store or count the copy.

    Example:
        >>> from lab import zoo
        >>> fast, done = fast_fp32(zoo.build("cnn").eval(), torch.zeros(1, 1, 28, 28))
        >>> done
        ['BN folded', 'channels_last']
    """
    has_bn = any(isinstance(m, _BATCH_NORMS) for m in model.modules())
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    if model.training or not (has_bn or has_conv):
        return model, []
    done: list[str] = []
    fast = model
    if has_bn:
        fused, folded = _fold_in_sequentials(model)
        if _count(fused, _BATCH_NORMS) > 0:  # some BN outside a Sequential: try torch.fx
            try:
                from torch.fx.experimental.optimization import fuse

                traced = fuse(model)  # a traced, fused deep copy
                if _count(traced, _BATCH_NORMS) < _count(fused, _BATCH_NORMS):
                    fused, folded = traced, True
            except Exception:  # not traceable by torch.fx (data-dependent control flow, ...)
                pass
        if folded:
            fast, done = fused, ["BN folded"]
    if has_conv:
        try:
            inner = copy.deepcopy(model) if fast is model else fast
            fast, done = ChannelsLast(inner.to(memory_format=torch.channels_last)), done + ["channels_last"]
        except Exception:
            pass
    if fast is model or not _same_function(model, fast, example):
        return model, []
    return fast.eval(), done


def _count(model: nn.Module, types: tuple[type, ...]) -> int:
    return sum(isinstance(m, types) for m in model.modules())


_FOLDABLE = ((nn.Conv1d, nn.BatchNorm1d), (nn.Conv2d, nn.BatchNorm2d), (nn.Conv3d, nn.BatchNorm3d),
             (nn.Linear, nn.BatchNorm1d))  # fmt: skip


def _hooked(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks)


def _fold_in_sequentials(model: nn.Module) -> tuple[nn.Module, bool]:
    """A deep copy of ``model`` with each (Conv/Linear, BatchNorm) pair that follows each other
    in an ``nn.Sequential`` (whose ``forward`` is Sequential's own) folded; and whether any was."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

    model = copy.deepcopy(model)
    folded = False
    for container in list(model.modules()):
        if not isinstance(container, nn.Sequential) or type(container).forward is not nn.Sequential.forward:
            continue
        names = list(container._modules)
        for first, second in zip(names[:-1], names[1:], strict=True):
            layer, bn = container._modules[first], container._modules[second]
            pair = next((p for p in _FOLDABLE if type(layer) is p[0] and type(bn) is p[1]), None)
            if (pair is None or not bn.track_running_stats or bn.running_mean is None
                    or _hooked(layer) or _hooked(bn)):  # fmt: skip
                continue
            fuse = fuse_linear_bn_eval if pair[0] is nn.Linear else fuse_conv_bn_eval
            container._modules[first] = fuse(layer, bn)
            container._modules[second] = nn.Identity()
            folded = True
    return model, folded


def _same_function(model: nn.Module, fast: nn.Module, example: torch.Tensor) -> bool:
    """Whether ``fast`` reproduces ``model``'s outputs on a seeded probe batch."""
    generator = torch.Generator().manual_seed(_PROBE_SEED)
    probe = torch.randn((2, *example.shape[1:]), generator=generator, dtype=example.dtype)
    try:
        expected, got = model(probe), fast(probe)
    except Exception:
        return False
    if not (isinstance(expected, torch.Tensor) and isinstance(got, torch.Tensor)):
        return False
    if expected.shape != got.shape:
        return False
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    return torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * max(1.0, scale))
