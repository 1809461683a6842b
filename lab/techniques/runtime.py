"""A faster fp32 runtime that computes the same function: batch norm folded, ``channels_last``.

Used by :func:`lab.techniques.apply.apply` for every fp32 runtime, the baseline included.
Logits agree with the stored model's to ~1e-6 (checked on a probe batch every time; any
model that cannot be traced, or whose copy disagrees, runs as it is).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import nn

from lab.memo import Memo
from lab.models.fingerprint import structure_key
from lab.techniques.codes import WeightCodes

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
      bias (``torch.nn.utils.fusion.fuse_*_bn_weights``): inside ``nn.Sequential``
      containers directly (no tracing), elsewhere in a ``torch.fx`` trace (needs a model
      ``torch.fx`` can trace; the pattern of ``torch.fx.experimental.optimization.fuse``,
      without its copy of every layer);
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
    traced: tuple = ()  # the torch.fx fold's code, when it folded: part of what is checked
    if has_bn:
        fused, folded = None, False
        if _foldable_in_sequentials(model) < _count(model, _BATCH_NORMS):  # try torch.fx
            try:
                fused = _fold_traced(_structural_copy(model))
                folded = _count(fused, _BATCH_NORMS) < _count(model, _BATCH_NORMS)
            except Exception:  # not traceable by torch.fx (data-dependent control flow, ...)
                fused = None
        if fused is not None and folded:
            traced = ("torch.fx", fused.code)
        else:
            fused, folded = _fold_in_sequentials(model)
        if folded:
            fast, done = fused, ["BN folded"]
    if has_conv:
        try:
            inner = _structural_copy(model) if fast is model else fast
            fast, done = (
                ChannelsLast(inner.to(memory_format=torch.channels_last)),
                done + ["channels_last"],
            )
        except Exception:
            pass
    if fast is model:
        return model, []
    how = (structure_key(model), tuple(example.shape[1:]), example.dtype, *traced, *done)
    if not _CHECKED.get(how, lambda: _same_function(model, fast, example)):
        return model, []
    return fast.eval(), done


# Rewrites already checked, by what decides the computed function: the model's structure
# (:func:`structure_key`), the traced code of a torch.fx fold, the input shape and what was done.
# The weights do not enter: folding and layout are exact for any weights, so a dashboard's
# every configuration of one model is checked once (a probe batch: two forward passes).
_CHECKED: Memo[bool] = Memo(entries=64)


def _structural_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model``'s modules whose parameters and buffers are new tensor objects over
    the same storage (a layer's mask and codes are shared as they are): no weight is copied
    (a folded layer gets new weights anyway), and converting the copy (``channels_last``
    replaces a tensor's data) leaves ``model`` as it was. Its modules may be replaced; its
    tensors must not be modified in place."""
    shared = {id(t): t for t in (*model.parameters(), *model.buffers())}
    for module in model.modules():  # a pruned layer's mask, a quantized layer's codes
        for value in module.__dict__.values():
            if isinstance(value, (torch.Tensor, WeightCodes)):
                shared[id(value)] = value
    clone = copy.deepcopy(model, memo=shared)
    for module in clone.modules():
        for name, p in module._parameters.items():
            if p is not None:
                module._parameters[name] = nn.Parameter(p.detach(), requires_grad=p.requires_grad)
        for name, b in module._buffers.items():
            if b is not None:
                module._buffers[name] = b.detach()
    return clone


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


def _foldable_pair(layer: object, bn: object) -> bool:
    """Whether ``bn`` (run right after ``layer``) can be folded into ``layer``'s weights."""
    return (
        any(type(layer) is first and type(bn) is second for first, second in _FOLDABLE)
        and bn.track_running_stats
        and bn.running_mean is not None
        and bn.running_var is not None
        and not _hooked(layer)
        and not _hooked(bn)
    )


def _folded(layer: nn.Module, bn: nn.Module) -> nn.Module:
    """A new ``layer`` with ``bn`` folded into its weight and bias; its other attributes (a
    mask, codes) shared, none copied (``torch.nn.utils.fusion.fuse_conv_bn_eval`` deep-copies
    the whole layer first). A 4-D weight comes out channels_last."""
    from torch.nn.utils.fusion import fuse_conv_bn_weights, fuse_linear_bn_weights

    args = (bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    if isinstance(layer, nn.Linear):
        weight, bias = fuse_linear_bn_weights(layer.weight, layer.bias, *args)
    else:
        weight, bias = fuse_conv_bn_weights(layer.weight, layer.bias, *args)
    if weight.dim() == 4:
        weight = nn.Parameter(
            weight.detach().contiguous(memory_format=torch.channels_last), weight.requires_grad
        )
    fused = copy.copy(layer)  # a new module object over the same attribute values
    fused.__dict__["_parameters"] = {**layer._parameters, "weight": weight, "bias": bias}
    fused.__dict__["_buffers"] = dict(layer._buffers)
    fused.__dict__["_modules"] = dict(layer._modules)
    return fused


def _fold_traced(model: nn.Module) -> nn.Module:
    """``model`` (a structural copy; its folded layers are replaced) traced by ``torch.fx``,
    each Conv/Linear → BatchNorm pair folded whose layer output feeds only the BatchNorm and
    whose layer runs at that one place of the graph."""
    from torch import fx

    traced = fx.symbolic_trace(model)
    modules = dict(traced.named_modules())
    graph = traced.graph
    calls: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    for node in list(graph.nodes):
        first = node.args[0] if node.op == "call_module" and node.args else None
        if not isinstance(first, fx.Node) or first.op != "call_module":
            continue
        layer, bn = modules[first.target], modules[node.target]
        if len(first.users) > 1 or calls[first.target] > 1 or not _foldable_pair(layer, bn):
            continue
        parent, _, name = first.target.rpartition(".")
        setattr(modules[parent], name, _folded(layer, bn))
        node.replace_all_uses_with(first)
        graph.erase_node(node)
    graph.lint()
    return fx.GraphModule(traced, graph)


def _sequential_pairs(model: nn.Module) -> Iterator[tuple[nn.Sequential, str, str]]:
    """Each (container, layer name, BN name) of a Conv/Linear followed by a foldable
    BatchNorm inside an ``nn.Sequential`` whose ``forward`` is Sequential's own."""
    for container in list(model.modules()):
        if (
            not isinstance(container, nn.Sequential)
            or type(container).forward is not nn.Sequential.forward
        ):
            continue
        names = list(container._modules)
        for first, second in zip(names[:-1], names[1:], strict=True):
            if _foldable_pair(container._modules[first], container._modules[second]):
                yield container, first, second


def _foldable_in_sequentials(model: nn.Module) -> int:
    return sum(1 for _ in _sequential_pairs(model))


def _fold_in_sequentials(model: nn.Module) -> tuple[nn.Module, bool]:
    """A structural copy of ``model`` with each (Conv/Linear, BatchNorm) pair that follows each
    other in an ``nn.Sequential`` (whose ``forward`` is Sequential's own) folded; and whether
    any was."""
    model = _structural_copy(model)
    folded = False
    for container, first, second in list(_sequential_pairs(model)):
        layer, bn = container._modules[first], container._modules[second]
        container._modules[first] = _folded(layer, bn)
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
