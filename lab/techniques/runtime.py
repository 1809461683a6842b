"""A faster fp32 runtime that computes the same function: batch norm folded, ``channels_last``.

Used by :func:`lab.techniques.apply.apply` for every fp32 runtime, the baseline included.
Logits agree with the stored model's to ~1e-6 (checked on a probe batch every time; any
model that cannot be traced, or whose copy disagrees, runs as it is).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["ChannelsLast", "fast_fp32"]


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
            fast, done = (
                ChannelsLast(inner.to(memory_format=torch.channels_last)),
                done + ["channels_last"],
            )
        except Exception:
            pass
    if fast is model or not _same_function(model, fast, example):
        return model, []
    return fast.eval(), done


def _count(model: nn.Module, types: tuple[type, ...]) -> int:
    return sum(isinstance(m, types) for m in model.modules())


_FOLDABLE = (
    (nn.Conv1d, nn.BatchNorm1d),
    (nn.Conv2d, nn.BatchNorm2d),
    (nn.Conv3d, nn.BatchNorm3d),
    (nn.Linear, nn.BatchNorm1d),
)


def _hooked(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks)


def _fold_in_sequentials(model: nn.Module) -> tuple[nn.Module, bool]:
    """A deep copy of ``model`` with each (Conv/Linear, BatchNorm) pair that follows each other
    in an ``nn.Sequential`` (whose ``forward`` is Sequential's own) folded; and whether any was."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

    model = copy.deepcopy(model)
    folded = False
    for container in list(model.modules()):
        if (
            not isinstance(container, nn.Sequential)
            or type(container).forward is not nn.Sequential.forward
        ):
            continue
        names = list(container._modules)
        for first, second in zip(names[:-1], names[1:], strict=True):
            layer, bn = container._modules[first], container._modules[second]
            pair = next((p for p in _FOLDABLE if type(layer) is p[0] and type(bn) is p[1]), None)
            if (
                pair is None
                or not bn.track_running_stats
                or bn.running_mean is None
                or _hooked(layer)
                or _hooked(bn)
            ):
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
