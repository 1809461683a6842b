"""The techniques on real architectures: torchvision resnet18 and mobilenet_v3_small (random
weights, small inputs) and a transformer encoder over token ids, each checked for what it
really changes."""

from __future__ import annotations

import importlib
import io
import time

import numpy as np
import pytest
import torch
from torch import nn

from lab import flops
from lab.datasets import as_data
from lab.techniques import pruning, transformers
from lab.techniques.apply import apply
from lab.techniques.codes import codes_of
from lab.techniques.configs import PruneConfig, QuantConfig, Recipe
from lab.text import BagOfEmbeddings, TextTransformer, sentiment_data

torchvision = pytest.importorskip("torchvision")
apply_module = importlib.import_module("lab.techniques.apply")  # the package exports apply()


@pytest.fixture(scope="module")
def images():
    pixels = np.random.default_rng(0).integers(0, 256, (24, 3, 32, 32), dtype=np.uint8)
    return as_data((pixels, np.arange(24) % 3), lazy=True)


@pytest.fixture(scope="module")
def text():
    return sentiment_data(60, length=12)


def _vision(name: str) -> nn.Module:
    torch.manual_seed(0)
    return getattr(torchvision.models, name)(num_classes=3).eval()


def _transformer(data) -> nn.Module:
    torch.manual_seed(0)
    return TextTransformer(data.vocab_size, 2, d_model=32, heads=4, ffn=64, layers=2).eval()


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _file_bytes(model: nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return len(buffer.getvalue())


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_pruning_and_weight_quantization_of_residual_and_mobile_nets(name, images):
    model = _vision(name)
    x = images.example(2)
    dense_flops = flops.count_flops(model, x[:1])
    recipe = Recipe(prune=PruneConfig(0.5, structure="channel"), quant=QuantConfig(bits=4))
    slim = apply(model, recipe, data=images, progress=False)
    assert slim.runtime(x).shape == (2, 3)
    assert _params(slim.model) < 0.5 * _params(model)  # coupled channels removed consistently
    assert flops.count_flops(slim.model, x[:1]) < 0.5 * dense_flops
    conv = next(m for m in slim.model.modules() if isinstance(m, nn.Conv2d))
    assert codes_of(conv).bits == 4 and len(conv.weight[0].unique()) <= 16
    assert any("removed filters: FLOPs and latency really drop" in n for n in slim.notes)
    assert any("execute in fp32" in n for n in slim.notes)
    sparse = pruning.prune(model, PruneConfig(0.5))  # zeros: the same FLOPs execute
    assert flops.count_flops(sparse, x[:1]) == dense_flops
    assert pruning.sparsity_of(sparse) == pytest.approx(0.5, abs=1e-3)
    assert _params(model) == _params(_vision(name))  # the input is untouched


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_static_int8_on_vision_models_runs_and_is_cached(name, images, monkeypatch):
    monkeypatch.setattr(apply_module, "INT8_TIMING_BUDGET_S", 0.3)
    model = _vision(name)
    recipe = QuantConfig(bits=8, activations=True)
    first = apply(model, recipe, data=images, progress=False)
    assert first.executes_as.startswith("int8")
    x = images.example(4)
    with torch.no_grad():
        assert first.runtime(x).shape == model(x).shape
    from lab.techniques import int8

    monkeypatch.setattr(int8, "to_int8", lambda *a, **k: pytest.fail("converted twice"))
    again = apply(model, recipe, data=images, progress=False)
    assert again.runtime is first.runtime and again.notes == first.notes


def test_head_pruning_keeps_the_function_when_every_head_stays(text):
    model = _transformer(text)
    layer = model.encoder.layers[0]
    attention = layer.self_attn
    rebuilt = transformers.PrunedSelfAttention.from_attention(attention, torch.arange(4)).eval()
    x = torch.randn(3, 12, 32)
    padding = torch.zeros(3, 12, dtype=torch.bool)
    padding[0, 8:] = True
    with torch.no_grad():
        expected = attention(x, x, x, key_padding_mask=padding, need_weights=False)[0]
        got = rebuilt(x, x, x, key_padding_mask=padding)[0]
    assert torch.allclose(got, expected, atol=1e-5)  # torch's own attention is the oracle
    causal = torch.triu(torch.ones(12, 12, dtype=torch.bool), 1)
    with torch.no_grad():
        expected = attention(x, x, x, attn_mask=causal, need_weights=False)[0]
        assert torch.allclose(rebuilt(x, x, x, attn_mask=causal)[0], expected, atol=1e-5)


def test_transformer_heads_and_ffn_neurons_are_removed(text):
    model = _transformer(text)
    ids = text.example(1)
    dense = flops.count_flops(model, ids)
    slim = apply(model, PruneConfig(0.5, structure="channel"), data=text, progress=False)
    for layer in slim.model.encoder.layers:
        assert layer.self_attn.num_heads == 2 and layer.linear1.out_features == 32
    # per layer: q, k, v, out (4·L·d·inner), scores and weighted sum (2·L²·inner), FFN
    length, d = ids.shape[1], 32
    layer = 2 * (4 * length * d * 16 + 2 * length * length * 16 + 2 * length * d * 32)
    assert flops.count_flops(slim.model, ids) == 2 * layer + 2 * d * 2 < dense
    assert slim.runtime(text.example(3)).shape == (3, 2)
    assert any("removed 4 of 8 attention heads and 64 of 128 FFN neurons" in n for n in slim.notes)
    with pytest.raises(ValueError, match="per_layer"):
        apply(model, PruneConfig(0.5, structure="channel", per_layer={"head": 0.1}), data=text)


def test_dynamic_int8_for_transformers_and_embedding_tables(text, monkeypatch):
    monkeypatch.setattr(apply_module, "INT8_TIMING_BUDGET_S", 0.3)
    model = _transformer(text)
    ids = text.example(8)
    out = apply(model, QuantConfig(bits=8, activations=True), data=text, progress=False)
    assert out.executes_as == "dynamic int8 (5 Linear layers, 2 embedding tables)"
    notes = " ".join(out.notes)
    assert "attention blocks stay fp32" in notes and "embedding tables stored as int8" in notes
    with torch.no_grad():
        assert torch.allclose(out.runtime(ids), model(ids), atol=0.05)
    assert _file_bytes(out.runtime) < 0.5 * _file_bytes(model)
    calls = []
    monkeypatch.setattr(
        transformers, "dynamic_int8", lambda *a: calls.append(a) or pytest.fail("converted twice")
    )
    assert apply(model, QuantConfig(bits=8, activations=True), data=text).runtime is out.runtime
    assert not calls


def test_embedding_tables_are_quantized_and_pruned_per_row(text, monkeypatch):
    monkeypatch.setattr(apply_module, "INT8_TIMING_BUDGET_S", 0.3)
    model = _transformer(text)
    four = apply(model, QuantConfig(bits=4), data=text, progress=False)
    codes = codes_of(four.model.embed)
    assert codes is not None and codes.bits == 4
    assert max(len(row.unique()) for row in four.model.embed.weight) <= 16
    sparse = apply(model, PruneConfig(0.5, scope="layer"), data=text, progress=False)
    assert float((sparse.model.embed.weight == 0).float().mean()) == pytest.approx(0.5, abs=1e-3)
    bag = BagOfEmbeddings(text.vocab_size, 2).eval()
    out = apply(bag, QuantConfig(bits=8, activations=True), data=text, progress=False)
    assert any("EmbeddingBag with padding_idx kept fp32" in n for n in out.notes)
    with torch.no_grad():
        assert torch.allclose(out.runtime(text.example(4)), bag(text.example(4)), atol=0.05)


class _Sleeping(nn.Module):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def forward(self, x):
        time.sleep(self.seconds)
        return x


def test_int8_slower_than_fp32_is_said_with_the_batch_size():
    example = torch.zeros(4, 3)
    note = transformers.int8_speed_note(_Sleeping(0.0), _Sleeping(0.004), example, runs=3)
    assert note is not None and "int8 is slower than fp32" in note and "batch 1:" in note
    assert transformers.int8_speed_note(_Sleeping(0.004), _Sleeping(0.0), example, runs=3) is None


def test_int8_cache_is_keyed_by_the_data(text, monkeypatch):
    monkeypatch.setattr(apply_module, "INT8_TIMING_BUDGET_S", 0.3)
    model = _transformer(text)
    other = sentiment_data(60, length=12, seed=5)
    recipe = Recipe(quant=QuantConfig(bits=8, activations=True))
    a = apply(model, recipe, data=text, progress=False)
    b = apply(model, recipe, data=other, progress=False)
    assert a.runtime is not b.runtime


@pytest.mark.parametrize("int8", [False, True])
def test_transformers_in_onnx_runtime(text, int8):
    model = _transformer(text)
    recipe = QuantConfig(bits=8, activations=True) if int8 else None
    out = apply(model, recipe, data=text, progress=False, runtime="onnxruntime")
    ids = text.example(6)
    assert out.executes_as.startswith("onnxruntime " + ("dynamic int8" if int8 else "fp32"))
    with torch.no_grad():
        expected = model(ids)
    assert torch.allclose(out.runtime(ids), expected, atol=0.05 if int8 else 1e-5)
    if int8:
        assert any("ONNX Runtime dynamic int8" in n for n in out.notes)
