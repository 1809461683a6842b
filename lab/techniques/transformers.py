"""Transformers and embeddings: dynamic int8, head and FFN-neuron pruning, and when int8 is slower.

* **Dynamic int8** (the standard CPU path for transformers; Jacob et al. 2018 for the integer
  arithmetic, ``torch.ao.quantization.quantize_dynamic``): every ``nn.Linear`` stores int8
  weights (per output channel) and quantizes its input activations per batch at run time —
  no calibration data. ``nn.Embedding`` tables become int8 rows with a float scale and
  offset each (``float_qparams_weight_only_qconfig``: looked up, then dequantized).
  ``nn.MultiheadAttention`` keeps its packed in-projection and its ``out_proj`` in fp32
  (torch marks that one ``NonDynamicallyQuantizableLinear``), so attention itself stays fp32.
* **Head and FFN-neuron pruning** (Michel et al. 2019, *Are Sixteen Heads Really Better than
  One?*, arXiv:1905.10650; structured FFN pruning as in Torch-Pruning's transformer
  examples): in every ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer``, the
  heads of its self-attention and the neurons of its FFN with the smallest L1 weight mass
  (the rows of their projections in, the columns of their projection out) are physically
  removed. The width of the residual stream stays; the attention becomes a
  :class:`PrunedSelfAttention` with fewer heads of the same size.
* :func:`int8_speed_note`: times fp32 and int8 side by side at batch 1 and a larger batch
  and says so when int8 is slower (quantizing activations, and dequantizing, costs more than
  the smaller matmuls save on small inputs, and on CPUs without VNNI/AMX int8 instructions).

Example:
    >>> from lab.text import TextTransformer
    >>> model = TextTransformer(100, 2, heads=4, ffn=64).eval()
    >>> slim, notes = prune_heads_and_neurons(model, 0.5)
    >>> slim.encoder.layers[0].self_attn.num_heads, slim.encoder.layers[0].linear1.out_features
    (2, 32)
"""

from __future__ import annotations

import copy
import os
import time
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from lab.meters import machine

__all__ = [
    "PrunedSelfAttention",
    "attention_layers",
    "unfuse_attention",
    "dynamic_int8",
    "int8_speed_note",
    "is_sequence_model",
    "prune_heads_and_neurons",
    "pruning_note",
]

EMBEDDINGS = (nn.Embedding, nn.EmbeddingBag)
_LAYERS = (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)


def attention_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Name → every transformer encoder/decoder layer of ``model``."""
    return {name: m for name, m in model.named_modules() if isinstance(m, _LAYERS)}


def is_sequence_model(model: nn.Module) -> bool:
    """Whether ``model`` has attention or embedding tables (dynamic int8 is its int8 path)."""
    kinds = (*_LAYERS, nn.MultiheadAttention, PrunedSelfAttention, *EMBEDDINGS)
    return any(isinstance(m, kinds) for m in model.modules())


def unfuse_attention(model: nn.Module) -> None:
    """Turn off torch's fused transformer inference path, which reads ``linear.weight`` as a
    tensor (a quantized or pruned layer's is not): the flags only choose that path."""
    for module in model.modules():
        if isinstance(module, _LAYERS):
            module.activation_relu_or_gelu = False
        if isinstance(module, nn.TransformerEncoder):
            module.use_nested_tensor = False


# ---------------------------------------------------------------------- dynamic int8
def dynamic_int8(model: nn.Module) -> tuple[nn.Module, str, list[str]]:
    """A dynamically quantized int8 copy of ``model`` (eval mode), what executes, and notes.

    ``model`` is never modified. An ``nn.EmbeddingBag`` with a ``padding_idx`` stays fp32
    (torch's quantized bag would average the padding rows in).
    """
    from torch.ao.quantization import (
        float_qparams_weight_only_qconfig,
        per_channel_dynamic_qconfig,
        quantize_dynamic,
    )

    work = copy.deepcopy(model).eval()
    spec: dict = {nn.Linear: per_channel_dynamic_qconfig}
    kept_fp32 = []
    for name, module in work.named_modules():
        if isinstance(module, EMBEDDINGS):
            if isinstance(module, nn.EmbeddingBag) and module.padding_idx is not None:
                kept_fp32.append(name)
            else:
                spec[name] = float_qparams_weight_only_qconfig
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notices for torch.ao
        quantized = quantize_dynamic(work, spec, dtype=torch.qint8)
    unfuse_attention(quantized)
    from torch.ao.nn.quantized import Embedding, EmbeddingBag
    from torch.ao.nn.quantized.dynamic import Linear

    linear = sum(isinstance(m, Linear) for m in quantized.modules())
    tables = sum(isinstance(m, (Embedding, EmbeddingBag)) for m in quantized.modules())
    attention = sum(isinstance(m, nn.MultiheadAttention) for m in quantized.modules())
    executes = f"dynamic int8 ({linear} Linear layers" + (
        f", {tables} embedding tables)" if tables else ")"
    )
    notes = [
        f"dynamic int8: {linear} Linear layers store int8 weights and quantize their inputs "
        "per batch at run time (no calibration); outputs are fp32"
    ]
    if tables:
        notes.append(
            f"{tables} embedding tables stored as int8 rows with a scale and offset each "
            "(a lookup costs no FLOPs: the file shrinks, latency barely moves)"
        )
    if attention:
        notes.append(
            f"{attention} attention blocks stay fp32 (their packed in-projection and out_proj "
            "are not quantized by torch's dynamic path): attention's matmuls are unchanged"
        )
    if kept_fp32:
        notes.append(
            f"{', '.join(kept_fp32)}: EmbeddingBag with padding_idx kept fp32 (torch's int8 "
            "bag would count the padding)"
        )
    if linear == 0 and tables == 0:
        raise ValueError(
            f"{type(model).__name__} has no nn.Linear or nn.Embedding layer for dynamic int8"
        )
    return quantized, executes, notes


def _median_seconds(model: nn.Module, x: torch.Tensor, deadline: float, runs: int) -> float | None:
    times = []
    if time.perf_counter() > deadline:
        return None
    with torch.no_grad():
        model(x)  # warm-up
        for _ in range(runs):
            if time.perf_counter() > deadline:
                break
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] if len(times) >= 3 else None


def int8_speed_note(
    fp32: nn.Module,
    int8: nn.Module,
    example: torch.Tensor,
    *,
    batches: tuple[int, ...] = (1, 32),
    budget_s: float = 2.0,
    runs: int = 7,
) -> str | None:
    """A note when ``int8`` runs slower than ``fp32`` at one of ``batches`` on this CPU
    (median of up to ``runs`` timed runs each, within about ``budget_s`` seconds in all;
    a batch size that does not fit the budget is skipped). None when int8 is not slower
    anywhere it was timed."""

    deadline = time.perf_counter() + budget_s
    slower, faster = [], []
    for batch in batches:
        x = example[torch.arange(batch) % len(example)]
        ours = _median_seconds(int8, x, deadline, runs)
        theirs = _median_seconds(fp32, x, deadline, runs)
        if ours is None or theirs is None:
            continue
        (slower if ours > theirs * 1.05 else faster).append((batch, ours, theirs))
    if not slower:
        return None
    where = ", ".join(f"batch {b}: {o * 1e3:.2f} ms vs {t * 1e3:.2f} ms fp32" for b, o, t in slower)
    also = f"; faster at batch {', '.join(str(b) for b, _, _ in faster)}" if faster else ""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    busy = (
        f"; timed under load {load:.1f} on {os.cpu_count()} CPUs, where int8 kernels' threads "
        "also wait for each other"
        if load > (os.cpu_count() or 1)
        else ""
    )
    return (
        f"int8 is slower than fp32 on this CPU ({machine.cpu_model()}, "
        f"{machine.cpu_capability()}) at {where}{also}: quantizing the activations, int8 kernel "
        f"dispatch and dequantizing cost more than the smaller matmuls save at that size{busy}"
    )


# ---------------------------------------------------------------------- head and neuron pruning
class PrunedSelfAttention(nn.Module):
    """Multi-head self-attention with some heads removed: ``heads`` heads of ``head_dim``
    each, the residual width ``embed_dim`` kept. Called like ``nn.MultiheadAttention``."""

    _qkv_same_embed_dim = False  # torch's fused path does not apply (it needs the packed form)
    in_proj_weight = None
    in_proj_bias = None

    def __init__(
        self, embed_dim: int, heads: int, head_dim: int, dropout: float, batch_first: bool
    ):
        super().__init__()
        inner = heads * head_dim
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, heads, head_dim
        self.dropout, self.batch_first = dropout, batch_first
        self.q_proj = nn.Linear(embed_dim, inner)
        self.k_proj = nn.Linear(embed_dim, inner)
        self.v_proj = nn.Linear(embed_dim, inner)
        self.out_proj = nn.Linear(inner, embed_dim)

    @classmethod
    def from_attention(cls, attention: nn.MultiheadAttention, keep: torch.Tensor):
        """The heads ``keep`` (indices) of ``attention`` (packed in-projection, with biases)."""
        e, h = attention.embed_dim, attention.num_heads
        d = e // h
        new = cls(e, len(keep), d, attention.dropout, attention.batch_first)
        rows = (keep[:, None] * d + torch.arange(d)).flatten()
        weight, bias = attention.in_proj_weight, attention.in_proj_bias
        with torch.no_grad():
            for i, proj in enumerate((new.q_proj, new.k_proj, new.v_proj)):
                proj.weight.copy_(weight[i * e + rows])
                proj.bias.copy_(bias[i * e + rows])
            new.out_proj.weight.copy_(attention.out_proj.weight[:, rows])
            new.out_proj.bias.copy_(attention.out_proj.bias)
        return new

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, None]:
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        n, length, _ = query.shape

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.view(n, -1, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.q_proj(query)), heads(self.k_proj(key)), heads(self.v_proj(value))
        mask = None
        if attn_mask is not None:
            if attn_mask.dim() != 2:
                raise ValueError("a pruned attention takes a 2-D attn_mask (per-head masks: no)")
            mask = _additive(attn_mask, q.dtype)
        if key_padding_mask is not None:
            padding = _additive(key_padding_mask, q.dtype)[:, None, None, :]
            mask = padding if mask is None else mask + padding
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=is_causal and mask is None,
        )
        out = self.out_proj(out.transpose(1, 2).reshape(n, length, -1))
        return (out if self.batch_first else out.transpose(0, 1)), None


def _additive(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean mask (True = not attended) or a float one as an additive float mask."""
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            mask, float("-inf")
        )
    return mask.to(dtype)


def _kept(importance: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Indices (sorted) of the ``1 − sparsity`` most important entries; at least one."""
    keep = max(1, round(len(importance) * (1 - sparsity)))
    return importance.topk(keep).indices.sort().values


@torch.no_grad()
def _prune_layer(layer: nn.Module, sparsity: float) -> None:
    """Remove heads and FFN neurons of one transformer layer in place."""
    attention = layer.self_attn
    if isinstance(attention, nn.MultiheadAttention):
        if not attention._qkv_same_embed_dim or attention.in_proj_bias is None:
            raise ValueError(
                "head pruning needs self-attention with a packed, biased in-projection"
            )
        e, h = attention.embed_dim, attention.num_heads
        d = e // h
        w = attention.in_proj_weight.abs().view(3, h, d, e).sum(dim=(0, 2, 3))
        w = w + attention.out_proj.weight.abs().view(e, h, d).sum(dim=(0, 2))
        layer.self_attn = PrunedSelfAttention.from_attention(attention, _kept(w, sparsity))
    w1, w2 = layer.linear1, layer.linear2
    keep = _kept(w1.weight.abs().sum(1) + w2.weight.abs().sum(0), sparsity)
    new1 = nn.Linear(w1.in_features, len(keep), bias=w1.bias is not None)
    new2 = nn.Linear(len(keep), w2.out_features, bias=w2.bias is not None)
    new1.weight.copy_(w1.weight[keep])
    new2.weight.copy_(w2.weight[:, keep])
    if w1.bias is not None:
        new1.bias.copy_(w1.bias[keep])
    if w2.bias is not None:
        new2.bias.copy_(w2.bias)
    layer.linear1, layer.linear2 = new1, new2


def prune_heads_and_neurons(model: nn.Module, sparsity: float) -> tuple[nn.Module, list[str]]:
    """A copy of ``model`` with ``sparsity`` of the attention heads and FFN neurons of every
    transformer layer removed (the same fraction per layer, at least one of each kept),
    and notes on what that changes. ``model`` is never modified."""
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1); got {sparsity!r}")
    pruned = copy.deepcopy(model)
    layers = attention_layers(pruned)
    if not layers:
        raise ValueError(
            f"{type(model).__name__} has no nn.TransformerEncoderLayer/DecoderLayer to prune"
        )
    for layer in layers.values():
        _prune_layer(layer, sparsity)
    unfuse_attention(pruned)
    return pruned, [pruning_note(model, pruned)]


def _heads_and_neurons(model: nn.Module) -> tuple[int, int, int]:
    layers = attention_layers(model).values()
    return (
        sum(layer.self_attn.num_heads for layer in layers),
        sum(layer.linear1.out_features for layer in layers),
        len(layers),
    )


def pruning_note(before: nn.Module, after: nn.Module) -> str:
    """What head and FFN-neuron pruning changed from ``before`` to ``after``."""
    heads, neurons, layers = _heads_and_neurons(before)
    kept_heads, kept_neurons, _ = _heads_and_neurons(after)
    return (
        f"removed {heads - kept_heads} of {heads} attention heads and {neurons - kept_neurons} "
        f"of {neurons} FFN neurons in {layers} layers: their weights are gone, so FLOPs and "
        "latency really drop; the embeddings and the residual width are unchanged"
    )
