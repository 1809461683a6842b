"""The model file: exact round trips (plain, quantized, sparse, k-means, channel-pruned), sizes, errors."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
from torch import nn

from lab import artifact, zoo
from lab.architectures import SmallCNN
from lab.techniques.codes import codes_of
from lab.techniques.configs import QuantConfig
from lab.techniques.quantization import quantize

X = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def _sparsify(model: nn.Module, fraction: float) -> nn.Module:
    """Zero the smallest ``fraction`` of every conv/linear weight (a test stand-in for pruning)."""
    model = copy.deepcopy(model)
    for layer in model.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            w = layer.weight.data
            w[w.abs() <= w.abs().flatten().kthvalue(int(w.numel() * fraction)).values] = 0.0
    return model


def _round_trip(
    model: nn.Module, tmp_path, template: nn.Module | None = None
) -> tuple[nn.Module, int]:
    model.eval()
    path = tmp_path / "model.lab"
    size = artifact.save(model, path)
    assert size == os.path.getsize(path)
    loaded = artifact.load(path, template)
    assert torch.equal(loaded(X), model(X))
    for name, module in model.named_modules():
        mine, theirs = codes_of(module), codes_of(loaded.get_submodule(name))
        assert (mine is None) == (theirs is None), name
        if mine is not None:
            assert torch.equal(mine.codes, theirs.codes) and mine.bits == theirs.bits
            assert torch.equal(theirs.decode(), loaded.get_submodule(name).weight)
    return loaded, size


def _cnn() -> nn.Module:
    model = zoo.build("cnn")
    with torch.no_grad():  # non-trivial batch-norm statistics
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2)
                module.num_batches_tracked.fill_(1234)
    return model


CASES = {
    "plain": lambda: _cnn(),
    "8-bit channel": lambda: quantize(_cnn(), QuantConfig(bits=8)),
    "4-bit tensor affine": lambda: quantize(
        _cnn(), QuantConfig(bits=4, granularity="tensor", symmetric=False)
    ),
    "1-bit sign": lambda: quantize(_cnn(), QuantConfig(bits=1)),
    "90% sparse": lambda: _sparsify(_cnn(), 0.9),
    "90% sparse + 4-bit": lambda: quantize(_sparsify(_cnn(), 0.9), QuantConfig(bits=4)),
    "kmeans 4-bit": lambda: quantize(
        _cnn(), QuantConfig(bits=4, method="kmeans", granularity="tensor")
    ),
    "sparse kmeans 3-bit channel": lambda: quantize(
        _sparsify(_cnn(), 0.7), QuantConfig(bits=3, method="kmeans", granularity="channel")
    ),
    "mixed precision + skip": lambda: quantize(
        _cnn(), QuantConfig(bits=2, per_layer={"features.0.0": 8}, skip=("classifier",))
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_round_trip_is_exact(case, tmp_path):
    _round_trip(CASES[case](), tmp_path)


def test_buffers_round_trip_and_meta_is_kept(tmp_path):
    model = _cnn()
    path = tmp_path / "cnn.lab"
    artifact.save(model, path, meta={"recipe": "none", "accuracy": 0.9})
    loaded = artifact.load(path)
    for key, value in model.state_dict().items():
        assert (
            torch.equal(loaded.state_dict()[key], value)
            and loaded.state_dict()[key].dtype == value.dtype
        )
    assert int(loaded.features[0][1].num_batches_tracked) == 1234
    assert loaded.lab_meta == {"recipe": "none", "accuracy": 0.9}
    assert not loaded.training


def test_sizes_shrink_as_promised(tmp_path):
    model = _cnn()
    baseline = artifact.state_dict_bytes(model)
    _, plain = _round_trip(model, tmp_path)
    _, eight = _round_trip(quantize(model, QuantConfig(bits=8)), tmp_path)
    _, four = _round_trip(quantize(model, QuantConfig(bits=4)), tmp_path)
    _, sparse4 = _round_trip(quantize(_sparsify(model, 0.9), QuantConfig(bits=4)), tmp_path)
    assert baseline > 94_000 * 4 and plain < baseline
    assert eight < baseline / 3.5 and four < baseline / 7 and sparse4 < baseline / 30


def test_sparse_positions_pick_the_smaller_of_bitmap_and_relative_indices():
    rng = np.random.default_rng(0)
    for density in (0.001, 0.05, 0.3):
        mask = rng.random(20_000) < density
        encodings = artifact._positions(mask)
        assert np.array_equal(artifact._ungaps(encodings["gaps"], mask.size), mask)
        assert np.array_equal(
            np.unpackbits(np.frombuffer(encodings["bitmap"], np.uint8))[: mask.size].astype(bool),
            mask,
        )
    sparse = quantize(_sparsify(_cnn(), 0.9), QuantConfig(bits=4))
    codes = codes_of(sparse.features[4][0])
    chosen, _ = min(artifact._code_candidates(codes), key=lambda c: artifact._cost(c[1]))
    assert chosen["encoding"] == "sparse_codes"


def test_bit_packing_round_trips_every_width():
    rng = np.random.default_rng(1)
    for bits in range(1, 9):
        codes = rng.integers(0, 2**bits, 1001).astype(np.uint8)
        packed = artifact._pack(codes, bits)
        assert len(packed) == -(-1001 * bits // 8)
        assert np.array_equal(artifact._unpack(packed, bits, 1001), codes)


def _channel_pruned_cnn(keep: int = 20) -> SmallCNN:
    """SmallCNN with conv 1 cut to ``keep`` output channels (conv 2 loses the matching inputs)."""
    model = _cnn().eval()
    kept = torch.arange(0, 32, 32 // keep + 1)[:keep] if keep < 32 else torch.arange(32)
    keep = len(kept)
    conv1, bn1, conv2 = model.features[0][0], model.features[0][1], model.features[2][0]
    new_conv1 = nn.Conv2d(1, keep, 3, padding=1, bias=False)
    new_bn1 = nn.BatchNorm2d(keep)
    new_conv2 = nn.Conv2d(keep, 64, 3, padding=1, bias=False)
    with torch.no_grad():
        new_conv1.weight.copy_(conv1.weight[kept])
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(new_bn1, name).copy_(getattr(bn1, name)[kept])
        new_bn1.num_batches_tracked.copy_(bn1.num_batches_tracked)
        new_conv2.weight.copy_(conv2.weight[:, kept])
    model.features[0][0], model.features[0][1], model.features[2][0] = new_conv1, new_bn1, new_conv2
    return model.eval()


def test_channel_pruned_model_loads_into_the_unpruned_architecture(tmp_path):
    pruned = quantize(_channel_pruned_cnn(), QuantConfig(bits=4))
    template = zoo.build("cnn")
    loaded, _ = _round_trip(pruned, tmp_path, template)
    assert loaded.features[0][0].out_channels == pruned.features[0][0].out_channels
    assert loaded.features[2][0].in_channels == loaded.features[0][1].num_features
    assert template.features[0][0].out_channels == 32  # the template itself is left alone
    _round_trip(pruned, tmp_path)  # without a template: the zoo name is in the file


def test_depthwise_channel_pruning_updates_groups(tmp_path):
    model = zoo.build("mobile").eval()
    kept = torch.arange(24)
    stem_conv, stem_bn = model.features[0][0], model.features[0][1]
    block = model.features[1]
    dw_conv, dw_bn, pointwise = block[0][0], block[0][1], block[1]
    with torch.no_grad():
        model.features[0][0] = nn.Conv2d(1, 24, 3, padding=1, bias=False)
        model.features[0][0].weight.copy_(stem_conv.weight[kept])
        for bn in (stem_bn, dw_bn):
            new = nn.BatchNorm2d(24)
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(new, name).copy_(getattr(bn, name)[kept])
            if bn is stem_bn:
                model.features[0][1] = new
            else:
                block[0][1] = new
        block[0][0] = nn.Conv2d(24, 24, 3, stride=dw_conv.stride, padding=1, groups=24, bias=False)
        block[0][0].weight.copy_(dw_conv.weight[kept])
        block[1] = nn.Conv2d(24, pointwise.out_channels, 1, bias=False)
        block[1].weight.copy_(pointwise.weight[:, kept])
    model.eval()
    loaded, _ = _round_trip(model, tmp_path, zoo.build("mobile"))
    assert loaded.features[1][0][0].groups == 24 and loaded.features[1][0][0].in_channels == 24


def test_wrapped_models_round_trip_with_a_template(tmp_path):
    wrapper = nn.Sequential(nn.Identity(), quantize(_sparsify(_cnn(), 0.5), QuantConfig(bits=4)))
    _round_trip(wrapper, tmp_path, nn.Sequential(nn.Identity(), zoo.build("cnn")))
    path = tmp_path / "wrapped.lab"
    artifact.save(wrapper, path)
    with pytest.raises(ValueError, match="template"):
        artifact.load(path)


def test_stale_codes_fall_back_to_floats(tmp_path):
    model = quantize(_cnn(), QuantConfig(bits=4))
    with torch.no_grad():
        model.classifier.weight.add_(0.001)  # trained after quantization: the codes no longer fit
    loaded, _ = _round_trip_without_codes_check(model, tmp_path)
    assert codes_of(loaded.classifier) is None and codes_of(loaded.features[0][0]) is not None


def _round_trip_without_codes_check(model: nn.Module, tmp_path) -> tuple[nn.Module, int]:
    path = tmp_path / "stale.lab"
    size = artifact.save(model.eval(), path)
    loaded = artifact.load(path)
    assert torch.equal(loaded(X), model(X))
    return loaded, size


def test_saving_does_not_touch_the_model_or_the_random_stream(tmp_path):
    model = quantize(_cnn(), QuantConfig(bits=4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(5)
    artifact.save(model, tmp_path / "a.lab")
    artifact.load(tmp_path / "a.lab")
    after_rng = torch.rand(1)
    torch.manual_seed(5)
    assert torch.equal(torch.rand(1), after_rng)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("damage", ["truncate", "flip", "magic", "empty", "garbage"])
def test_corrupt_files_raise_a_value_error_naming_the_file(damage, tmp_path):
    path = tmp_path / "broken.lab"
    artifact.save(quantize(_cnn(), QuantConfig(bits=4)), path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "magic":
        data[:6] = b"PK\x03\x04\x00\x00"
    elif damage == "empty":
        data = bytearray()
    else:
        data = bytearray(os.urandom(300))
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="broken.lab"):
        artifact.load(path)


def test_state_dict_bytes_is_the_torch_save_size(tmp_path):
    model = _cnn()
    torch.save(model.state_dict(), tmp_path / "state_dict.pt")  # the archive embeds the file's stem
    assert artifact.state_dict_bytes(model) == os.path.getsize(tmp_path / "state_dict.pt")


def test_the_file_holds_no_pickle(tmp_path):
    path = tmp_path / "x.lab"
    artifact.save(quantize(_cnn(), QuantConfig(bits=4)), path)
    assert path.read_bytes()[:6] == b"EFFLAB" and b"\x80\x02" not in path.read_bytes()[:16]


def test_bad_meta_and_int8_models_are_refused(tmp_path):
    with pytest.raises(ValueError, match="JSON"):
        artifact.save(_cnn(), tmp_path / "m.lab", meta={"model": nn.ReLU()})
    from lab.techniques.int8 import to_int8

    fast = to_int8(_cnn().eval(), X)
    with pytest.raises(ValueError, match="float models"):
        artifact.save(fast, tmp_path / "int8.lab")
