"""Technique configs, recipes and the one `apply` verb."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lab import measure, zoo
from lab.techniques import (
    FinetuneConfig,
    PruneConfig,
    QuantConfig,
    Recipe,
    ResolutionConfig,
    apply,
)
from lab.techniques.resolution import AtResolution


@pytest.mark.parametrize(
    "make, allowed",
    [
        (lambda: PruneConfig(sparsity=-0.1), r"\[0, 1\)"),
        (lambda: PruneConfig(sparsity=1.0), r"\[0, 1\)"),
        (lambda: PruneConfig(structure="filter"), "'unstructured', 'channel'"),
        (lambda: PruneConfig(scope="model"), "'global', 'layer'"),
        (lambda: QuantConfig(bits=0), "1 to 8"),
        (lambda: QuantConfig(bits=16), "1 to 8"),
        (lambda: QuantConfig(bits=4.5), "1 to 8"),
        (lambda: QuantConfig(granularity="row"), "'tensor', 'channel'"),
        (lambda: QuantConfig(method="gptq"), "'uniform', 'kmeans'"),
        (lambda: QuantConfig(per_layer={"fc1": 12}), "1 to 8"),
        (lambda: ResolutionConfig(1), "2 to 4096"),
        (lambda: ResolutionConfig(14.5), "2 to 4096"),
        (lambda: apply(zoo.build("cnn"), ResolutionConfig(3), progress=False), "4 to 28"),
        (lambda: apply(zoo.build("cnn"), ResolutionConfig(32), progress=False), "4 to 28"),
        (lambda: FinetuneConfig(epochs=0), "> 0"),
        (lambda: Recipe(prune=QuantConfig()), "PruneConfig"),
    ],
)
def test_bad_configs_name_the_allowed_values(make, allowed):
    with pytest.raises(ValueError, match=allowed):
        make()


def test_recipe_round_trips_through_json():
    recipe = Recipe(
        prune=PruneConfig(0.9, per_layer={"classifier": 0.5}),
        quant=QuantConfig(
            bits=3, method="kmeans", per_layer={"features.0.0": 8}, skip=("classifier",)
        ),
        resolution=ResolutionConfig(14),
        finetune=FinetuneConfig(max_seconds=5),
    )
    assert Recipe.from_json(recipe.to_json()) == recipe
    assert recipe.describe() == (
        "14 px · prune 90% unstructured · 3-bit kmeans (mixed: features.0.0 8-bit) · fine-tuned"
    )
    with pytest.raises(ValueError, match="allowed: prune, quant, resolution, finetune"):
        Recipe.from_dict({"distill": {}})


def test_kmeans_defaults_to_one_codebook_per_layer():
    assert QuantConfig(bits=4, method="kmeans").granularity == "tensor"
    assert QuantConfig(bits=4).granularity == "channel"


def test_apply_never_modifies_its_input():
    model = zoo.build("cnn").eval()
    before = measure.fingerprint(model)
    out = apply(
        model,
        Recipe(prune=PruneConfig(0.5), quant=QuantConfig(bits=4), resolution=ResolutionConfig(14)),
        progress=False,
    )
    assert measure.fingerprint(model) == before
    assert out.model is not model and out.resolution == 14
    assert isinstance(out.runtime, AtResolution)


def test_fine_tuning_with_zero_sparsity_never_trains_the_input():
    model = zoo.build("mlp").eval()
    before = measure.fingerprint(model)
    apply(
        model,
        Recipe(
            prune=PruneConfig(0.0),
            quant=QuantConfig(bits=4),
            finetune=FinetuneConfig(epochs=0.01, max_seconds=1),
        ),
        progress=False,
    )
    assert measure.fingerprint(model) == before


def test_identity_recipe_is_a_copy_with_same_outputs():
    model = zoo.build("mlp").eval()
    out = apply(model)
    x = torch.randn(3, 1, 28, 28)
    assert out.model is not model and torch.equal(out(x), model(x))
    assert out.executes_as == "fp32" and out.notes == []


def test_resolution_really_processes_fewer_pixels():
    model = zoo.build("cnn").eval()
    small = apply(model, Recipe(resolution=ResolutionConfig(14)))
    assert measure.count_flops(small.model, small.resolution) < measure.count_flops(model) / 3
    seen = []  # what the first convolution that executes (in the runtime) receives
    first_conv = next(m for m in small.runtime.modules() if isinstance(m, nn.Conv2d))
    handle = first_conv.register_forward_pre_hook(lambda m, a: seen.append(a[0].shape))
    small(torch.zeros(1, 1, 28, 28))
    handle.remove()
    assert seen == [torch.Size([1, 1, 14, 14])]


def test_resolution_needs_a_model_that_accepts_smaller_inputs():
    fixed = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with pytest.raises(ValueError, match="global"):
        apply(fixed, Recipe(resolution=ResolutionConfig(14)))


def test_a_users_own_model_goes_through_a_full_recipe(tiny_model):
    before = measure.fingerprint(tiny_model)
    out = apply(
        tiny_model,
        Recipe(prune=PruneConfig(0.5), quant=QuantConfig(bits=4), resolution=ResolutionConfig(20)),
    )
    assert out(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert measure.fingerprint(tiny_model) == before
    assert any("unstructured" in n for n in out.notes) and any("4 bits" in n for n in out.notes)


def test_model_without_prunable_layers_is_rejected_and_untouched():
    model = nn.Sequential(nn.AdaptiveAvgPool2d((1, 10)), nn.Flatten())  # 10 outputs, no weights
    with pytest.raises(ValueError, match="Conv2d"):
        apply(model, Recipe(prune=PruneConfig(0.5)))


# ------------------------------------------------------------------ the fp32 runtime


def test_fp32_runtime_folds_batch_norm_and_keeps_the_stored_model(trained_cnn):
    """Same model, faster: logits within 1e-5, identical classes on the live split."""
    from lab import data

    out = apply(trained_cnn, Recipe())
    assert out.executes_as == "fp32 (BN folded, channels_last)"
    assert not any(isinstance(m, nn.BatchNorm2d) for m in out.runtime.modules())  # folded
    assert sum(isinstance(m, nn.BatchNorm2d) for m in out.model.modules()) == 3  # stored: unfused
    assert measure.fingerprint(out.model) == measure.fingerprint(trained_cnn)
    assert measure.count_flops(out.model) == measure.count_flops(trained_cnn)
    live = data.load_split("live")
    with torch.no_grad():
        stored, fast = out.model(live.images), out.runtime(live.images)
    assert (fast - stored).abs().max() < 1e-5
    assert torch.allclose(fast, stored, atol=1e-4)
    assert torch.equal(fast.argmax(1), stored.argmax(1))


def test_fp32_runtime_after_quantization_says_what_it_does(trained_cnn):
    out = apply(
        trained_cnn, Recipe(prune=PruneConfig(0.5), quant=QuantConfig(bits=4)), progress=False
    )
    assert out.executes_as == "fp32 (4-bit weights dequantized, BN folded, channels_last)"
    x = torch.randn(16, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(out.runtime(x), out.model(x), atol=1e-4)


class _Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 10)

    def forward(self, x):
        x = self.bn(self.conv(x))
        if x.sum() > 0:
            x = x.relu()
        return self.head(x.mean((2, 3)))


class _ViewsItsInput(nn.Module):
    """``view`` needs a contiguous NCHW tensor: channels_last would break it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.head = nn.Conv2d(1, 2, 3, padding=1), nn.Linear(2 * 28 * 28, 10)

    def forward(self, x):
        x = self.conv(x)
        return self.head(x.view(x.size(0), -1))


def test_fp32_runtime_falls_back_when_a_model_cannot_be_transformed():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 28, 28)
    untraceable = _Untraceable().eval()
    out = apply(untraceable)
    assert "BN folded" not in out.executes_as  # not traceable: BN runs as it is
    with torch.no_grad():
        assert torch.allclose(out(x), untraceable(x), atol=1e-5)
    views = _ViewsItsInput().eval()
    out = apply(views)
    assert out.executes_as == "fp32"  # channels_last fails the probe: runs unchanged
    with torch.no_grad():
        assert torch.equal(out(x), views(x))


def test_int8_runtime_is_not_touched_by_the_fp32_fast_path():
    out = apply(
        zoo.build("cnn").eval(), Recipe(quant=QuantConfig(bits=8, activations=True)), progress=False
    )
    assert out.executes_as.startswith("int8")
    assert "BN folded" not in out.executes_as and "channels_last" not in out.executes_as


def test_fp32_fast_path_is_checked_once_per_structure_and_holds_for_other_weights(
    trained_cnn, monkeypatch
):
    """The probe that checks BN folding and channels_last runs once per model structure
    and input shape: other weights of the same structure (a pruned copy, new values) reuse
    its verdict and still compute the stored model's function; another structure is probed."""
    from lab.techniques import runtime

    probes = []
    real = runtime._same_function
    monkeypatch.setattr(runtime, "_same_function", lambda *a: probes.append(1) or real(*a))
    monkeypatch.setattr(runtime, "_CHECKED", type(runtime._CHECKED)(entries=64))
    x = torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    outs = [
        apply(trained_cnn, Recipe()),
        apply(trained_cnn, Recipe(prune=PruneConfig(0.6)), progress=False),
        apply(trained_cnn, Recipe(quant=QuantConfig(bits=4)), progress=False),
    ]
    assert len(probes) == 1
    for out in outs:
        assert "BN folded" in out.executes_as
        with torch.no_grad():
            stored, fast = out.model(x), out.runtime(x)
        assert torch.allclose(fast, stored, rtol=1e-4, atol=1e-4 * stored.abs().max().item())
    for out in outs:  # the runtime shares no tensor object with the stored model
        stored = {id(t) for t in (*out.model.parameters(), *out.model.buffers())}
        assert stored.isdisjoint(id(t) for t in (*out.runtime.parameters(), *out.runtime.buffers()))
        assert all(p.is_contiguous() for p in out.model.parameters())  # not channels_last
    other = zoo.build("mobile").eval()  # another structure: probed again
    apply(other, Recipe())
    assert len(probes) == 2


class _Residual(nn.Module):
    """Conv → BN pairs outside any ``nn.Sequential`` (folded in a torch.fx trace), a skip
    connection, and one conv run at two places (``shared``: folding it at one place would
    change the other)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.shared, self.bn3 = nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        x = self.bn1(self.conv1(x)).relu()
        x = x + self.bn2(self.conv2(x))
        x = self.bn3(self.shared(x)) + self.shared(x)
        return self.head(x.mean((2, 3)))


def _with_statistics(model: nn.Module) -> nn.Module:
    generator = torch.Generator().manual_seed(11)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.5, generator=generator)
            m.running_var.uniform_(0.5, 2.0, generator=generator)
            m.weight.data.normal_(1, 0.2, generator=generator)
            m.bias.data.normal_(0, 0.2, generator=generator)
    return model.eval()


def test_the_traced_fold_equals_torchs_fuse_and_leaves_a_shared_layer_alone():
    """Against torch.fx.experimental.optimization.fuse: the same outputs; the conv that runs
    at two places keeps its BatchNorm (torch's fuse would fold it for both places); the
    stored model's tensors unchanged; a layer's mask is shared with the runtime, not copied."""
    from torch.fx.experimental.optimization import fuse

    from lab.techniques import runtime

    torch.manual_seed(0)
    model = _with_statistics(_Residual())
    model.conv2.weight_mask = model.conv2.weight != 0  # as pruning leaves it
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    fast, done = runtime.fast_fp32(model, x[:1])
    assert done == ["BN folded", "channels_last"]
    bns = [n for n, m in fast.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns == ["model.bn3"]  # bn1 and bn2 folded; shared's BN kept
    with torch.no_grad():
        expected, got = model(x), fast(x)
        torch_fused = fuse(model)(x)
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(torch_fused, expected, atol=1e-3)  # torch folds `shared` twice
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert not any(isinstance(m, nn.BatchNorm2d) and m is model.bn1 for m in fast.modules())
    assert fast.model.conv2.weight_mask is model.conv2.weight_mask
    assert fast.model.conv2 is not model.conv2 and model.conv2.weight.is_contiguous()
