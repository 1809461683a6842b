"""Real int8 execution: close to fp32, honours WeightCodes, reports what runs, falls back gracefully."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lab import data, zoo
from lab.techniques.codes import codes_of
from lab.techniques.configs import QuantConfig
from lab.techniques.int8 import to_int8
from lab.techniques.quantization import quantize
from lab.techniques.resolution import AtResolution

CALIBRATION = torch.randn(128, 1, 28, 28, generator=torch.Generator().manual_seed(0))
X = torch.randn(64, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def cnn() -> nn.Module:
    return zoo.build("cnn").eval()


@pytest.fixture(scope="module")
def cnn_int8(cnn) -> nn.Module:
    return to_int8(cnn, CALIBRATION)


def test_int8_cnn_runs_int8_kernels_close_to_fp32(cnn, cnn_int8):
    assert cnn_int8.executes_as.startswith("int8 (FX graph")
    assert cnn_int8.int8_layer_count == sum(
        isinstance(m, (nn.Conv2d, nn.Linear)) for m in cnn.modules()
    )
    with torch.no_grad():
        assert _relative_error(cnn_int8(X), cnn(X)) < 0.05
    assert any(
        p.is_quantized for p in cnn_int8.state_dict().values() if isinstance(p, torch.Tensor)
    )


def test_input_model_is_untouched(cnn):
    before = {k: v.clone() for k, v in cnn.state_dict().items()}
    to_int8(cnn, CALIBRATION[:16])
    assert all(torch.equal(before[k], v) for k, v in cnn.state_dict().items())
    assert all(not type(m).__module__.startswith("torch.ao") for m in cnn.modules())


def test_four_bit_codes_execute_as_their_own_integers(cnn):
    small = quantize(cnn, QuantConfig(bits=4))
    fast = to_int8(small, CALIBRATION)
    assert fast.exact_code_layers == 4
    codes = codes_of(small.classifier)  # no batch norm folded into the classifier
    integers = codes.codes.float() - codes.zero_point[:, None]
    assert torch.equal(fast.classifier.weight().int_repr().float(), integers)
    for name in ("features.0.0", "features.2.0", "features.4.0"):  # BN folded: same integers
        module = fast.get_submodule(name)
        assert module.weight().int_repr().abs().max() <= 7
    with torch.no_grad():
        assert _relative_error(fast(X), small(X)) < 0.05


def test_kmeans_and_one_bit_codes_still_convert(cnn):
    for config in (QuantConfig(bits=3, method="kmeans", granularity="tensor"), QuantConfig(bits=1)):
        fast = to_int8(quantize(cnn, config), CALIBRATION[:32])
        assert fast.int8_layer_count == 4
    assert to_int8(quantize(cnn, QuantConfig(bits=1)), CALIBRATION[:32]).exact_code_layers == 4


def test_untraceable_wrapper_is_quantized_piecewise(cnn):
    wrapped = AtResolution(cnn, 14)
    fast = to_int8(wrapped, CALIBRATION[:32])
    assert fast.int8_layer_count == 4 and "not traceable" in fast.executes_as
    with torch.no_grad():
        assert _relative_error(fast(X), wrapped(X)) < 0.05


def test_lenet_with_shape_control_flow_gets_int8_linears():
    mlp = zoo.build("mlp").eval()
    fast = to_int8(mlp, CALIBRATION[:32])
    assert fast.int8_layer_count == 3 and "fp32" in fast.executes_as
    with torch.no_grad():
        assert _relative_error(fast(X), mlp(X)) < 0.1  # three separate int8 graphs


class _NoLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(10, 784))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.weight.T


def test_models_without_layers_come_back_in_float_and_say_so():
    fast = to_int8(_NoLayers(), CALIBRATION[:4])
    assert fast.executes_as.startswith("fp32 (int8 conversion failed")
    assert fast.int8_layer_count == 0


@pytest.mark.parametrize("bad", [torch.empty(0, 1, 28, 28), torch.randn(5), "images"])
def test_bad_calibration_raises(cnn, bad):
    with pytest.raises(ValueError, match="calibration"):
        to_int8(cnn, bad)


def test_trained_cnn_keeps_its_accuracy_in_int8(trained_cnn):
    live = data.load_split("live")
    calibration = data.load_split("train").images[:512]
    fast = to_int8(trained_cnn, calibration)
    with torch.no_grad():
        fp32 = (trained_cnn(live.images).argmax(1) == live.labels).float().mean()
        int8 = (fast(live.images).argmax(1) == live.labels).float().mean()
    assert float(fp32 - int8) <= 0.01


def test_stale_codes_are_not_used(cnn):
    small = quantize(cnn, QuantConfig(bits=4))
    with torch.no_grad():
        small.classifier.weight.mul_(1.5)  # changed after quantizing: its codes no longer fit
    fast = to_int8(small, CALIBRATION[:32])
    assert fast.exact_code_layers == 3
    with torch.no_grad():
        assert _relative_error(fast(X), small(X)) < 0.05
