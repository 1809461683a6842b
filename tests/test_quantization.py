"""Weight quantization: grids checked against torch's own fake-quantization, zeros, speed, QAT."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lab import zoo
from lab.techniques.codes import WeightCodes, attach, codes_of
from lab.techniques.configs import FinetuneConfig, QuantConfig
from lab.techniques.quantization import (
    fake_quantize_weight,
    quantization_aware_finetune,
    quantize,
    quantize_weight,
    uniform_qparams,
)

GRANULARITIES = ("channel", "tensor")


@pytest.fixture(scope="module")
def weight() -> torch.Tensor:
    """A conv-shaped weight with a third of its entries pruned to exactly zero."""
    generator = torch.Generator().manual_seed(0)
    w = torch.randn(16, 8, 3, 3, generator=generator)
    w[torch.rand(w.shape, generator=generator) < 0.3] = 0.0
    return w


def _groups(t: torch.Tensor, granularity: str) -> torch.Tensor:
    return t.reshape(t.shape[0] if granularity == "channel" else 1, -1)


@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("method", ["uniform", "kmeans"])
@pytest.mark.parametrize("bits", range(1, 9))
def test_at_most_2_to_the_b_values_per_group_and_zeros_survive(
    weight, bits, granularity, symmetric, method
):
    codes = quantize_weight(weight, bits, granularity, symmetric, method)
    decoded = codes.decode()
    assert codes.codes.dtype == torch.uint8 and int(codes.codes.max()) < 2**bits
    assert codes.groups == (weight.shape[0] if granularity == "channel" else 1)
    for row in _groups(decoded, granularity):
        assert len(row.unique()) <= 2**bits
    assert torch.equal(decoded[weight == 0], torch.zeros(int((weight == 0).sum())))


@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("bits", range(1, 9))
def test_uniform_grid_matches_torch_fake_quantize(weight, bits, granularity, symmetric):
    if symmetric and bits == 1:
        pytest.skip("1-bit sign quantization has a half-integer zero point torch cannot express")
    dense = weight + (weight == 0) * 0.01  # no zeros: the pure grid, no 1-bit fallback
    scale, zero_point, qmax = uniform_qparams(dense, bits, granularity, symmetric)
    if granularity == "channel":
        oracle = torch.fake_quantize_per_channel_affine(dense, scale, zero_point.int(), 0, 0, qmax)
    else:
        oracle = torch.fake_quantize_per_tensor_affine(
            dense, float(scale), int(zero_point), 0, qmax
        )
    ours = fake_quantize_weight(dense, bits, granularity, symmetric)
    assert torch.equal(ours, oracle)
    assert torch.equal(quantize_weight(dense, bits, granularity, symmetric).decode(), oracle)


def test_symmetric_grids_are_symmetric_and_cover_the_range(weight):
    for bits in range(2, 9):
        codes = quantize_weight(weight, bits, "tensor", symmetric=True)
        steps = codes.codes.float() - codes.zero_point  # integers k with weight ≈ k·scale
        assert steps.abs().max() == 2 ** (bits - 1) - 1  # {-k·s, …, 0, …, k·s}, k = 2^(b-1) - 1
        assert torch.isclose(codes.decode().abs().max(), weight.abs().max(), rtol=1e-3)
    ternary = quantize_weight(weight, 2, "tensor").decode().unique()
    assert len(ternary) == 3


def test_one_bit_symmetric_is_sign_quantization_with_mean_magnitude():
    w = torch.tensor([[0.5, -1.5, 2.0, -1.0]])
    codes = quantize_weight(w, 1, "channel", symmetric=True)
    assert torch.equal(codes.decode(), torch.tensor([[1.25, -1.25, 1.25, -1.25]]))
    assert codes.zero_point.tolist() == [0.5]


def test_rounding_error_is_at_most_half_a_step(weight):
    for bits in (2, 4, 8):
        scale, _, _ = uniform_qparams(weight, bits, "channel", symmetric=False)
        error = (quantize_weight(weight, bits, "channel", False).decode() - weight).abs()
        assert (error <= scale[:, None, None, None] / 2 * (1 + 1e-5)).all()


def test_kmeans_beats_the_uniform_grid_and_reserves_zero(weight):
    for bits in (2, 3, 4):
        uniform = quantize_weight(weight, bits, "tensor", symmetric=True).decode()
        shared = quantize_weight(weight, bits, "tensor", method="kmeans")
        assert (shared.decode() - weight).pow(2).mean() < (uniform - weight).pow(2).mean()
        assert shared.codebook.shape == (1, 2**bits) and shared.codebook[0, 0] == 0.0
    dense = torch.randn(32, 32)
    assert (quantize_weight(dense, 2, "tensor", method="kmeans").codebook != 0).all()


def test_fake_quantize_passes_gradients_straight_through():
    w = torch.randn(4, 6, requires_grad=True)
    (fake_quantize_weight(w, 3) * torch.arange(24.0).reshape(4, 6)).sum().backward()
    assert torch.equal(w.grad, torch.arange(24.0).reshape(4, 6))


def test_quantize_returns_a_new_model_and_leaves_the_input_untouched():
    model = zoo.build("cnn")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = quantize(model, QuantConfig(bits=3))
    assert out is not model
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(codes_of(m) is None for m in model.modules())
    layers = [m for m in out.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert all(torch.equal(codes_of(m).decode(), m.weight) for m in layers)


def test_skip_and_per_layer_bits():
    config = QuantConfig(bits=4, skip=("classifier",), per_layer={"features.0.0": 8})
    out = quantize(zoo.build("cnn"), config)
    assert codes_of(out.classifier) is None
    assert codes_of(out.features[0][0]).bits == 8 and codes_of(out.features[2][0]).bits == 4
    with pytest.raises(ValueError, match="no Conv2d/Linear layer named 'nope'"):
        quantize(zoo.build("cnn"), QuantConfig(per_layer={"nope": 4}))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bits": 0},
        {"bits": 9},
        {"bits": 4.0},
        {"granularity": "row"},
        {"method": "lloyd"},
        {"per_layer": {"fc": 12}},
    ],
)
def test_bad_configs_raise(kwargs):
    with pytest.raises(ValueError):
        QuantConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs", [{"bits": 0}, {"bits": 9}, {"granularity": "row"}, {"method": "lloyd"}]
)
def test_bad_weight_quantization_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        quantize_weight(torch.randn(3, 3), **{"bits": 4, **kwargs})


def test_activations_need_calibration():
    with pytest.raises(ValueError, match="calibration"):
        quantize(zoo.build("cnn"), QuantConfig(activations=True))


def test_codes_reject_bad_shapes_and_kinds():
    with pytest.raises(ValueError):
        WeightCodes(9, torch.zeros(2, 2, dtype=torch.uint8), torch.ones(2), torch.zeros(2))
    with pytest.raises(ValueError):
        WeightCodes(2, torch.zeros(2, 2, dtype=torch.int64), torch.ones(2), torch.zeros(2))
    with pytest.raises(ValueError):
        WeightCodes(2, torch.zeros(2, 2, dtype=torch.uint8))
    with pytest.raises(ValueError):
        attach(nn.Linear(3, 3), quantize_weight(torch.randn(2, 2), 4))


def test_qat_keeps_zeros_attaches_codes_and_leaves_input_alone():
    model = zoo.build("cnn")
    with torch.no_grad():
        model.features[4][0].weight[:, :32] = 0.0
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tuned = quantization_aware_finetune(
        model, QuantConfig(bits=4), FinetuneConfig(epochs=0.005, max_seconds=5), progress=False
    )
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    conv = tuned.features[4][0]
    assert not hasattr(conv, "parametrizations")
    assert codes_of(conv).bits == 4 and torch.equal(codes_of(conv).decode(), conv.weight)
    assert (conv.weight[:, :32] == 0).all()
    assert tuned.finetune_report.steps >= 1


def test_kmeans_qat_trains_the_shared_values_only():
    model = quantize(zoo.build("cnn"), QuantConfig(bits=3, method="kmeans", granularity="tensor"))
    with torch.no_grad():
        model.features[2][0].weight[0] = 0.0
    attach(
        model.features[2][0],
        quantize_weight(model.features[2][0].weight, 3, "tensor", method="kmeans"),
    )
    start = codes_of(model.features[2][0])
    tuned = quantization_aware_finetune(
        model,
        QuantConfig(bits=3, method="kmeans", granularity="tensor"),
        FinetuneConfig(epochs=0.005, lr=0.05),
        progress=False,
    )
    end = codes_of(tuned.features[2][0])
    assert torch.equal(end.codes, start.codes)
    assert not torch.equal(end.codebook, start.codebook)
    assert end.codebook[0, 0] == 0.0 and (tuned.features[2][0].weight[0] == 0).all()
    assert torch.equal(end.decode(), tuned.features[2][0].weight)
