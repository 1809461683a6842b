"""Efficient architectures: equal MACs counted independently (torch's FlopCounterMode),
EfficientNet's rule computed by hand, candidates trained and measured, bad arguments named."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits
from torch.utils.flop_counter import FlopCounterMode

from lab.architectures import SearchNet
from lab.datasets import as_data
from lab.efficient import (
    Candidate,
    compound_scaling,
    equal_macs_pair,
    macs,
    train_and_measure,
)
from lab.techniques.configs import ConfigError


def _torch_macs(model: torch.nn.Module, size: int = 28) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.zeros(1, 1, size, size))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("widths", [(8, 16, 32), (5, 7, 11)])
def test_the_separable_network_costs_the_same_macs_and_is_wider(widths):
    pair = equal_macs_pair(widths)
    standard, separable = pair["standard"], pair["depthwise-separable"]
    target = _torch_macs(standard)
    assert macs(standard) == target
    assert 0.9 * target <= _torch_macs(separable) <= target
    pointwise = [
        m.out_channels
        for m in separable.modules()
        if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1)
    ]
    assert pointwise and all(w > widths[-1] for w in pointwise[-1:])  # wider at equal MACs
    assert any(isinstance(m, torch.nn.Conv2d) and m.groups > 1 for m in separable.modules())


def test_a_standard_conv_costs_k2_c_c_per_pixel():
    net = SearchNet((4,))  # one 3×3 conv 1→4 at 28×28, then pooling and a linear 4→10
    assert macs(net) == 28 * 28 * 9 * 1 * 4 + 4 * 10


@pytest.mark.parametrize("phi", [-3, -2, -1, 0, 1, 0.5])
def test_compound_scaling_follows_efficientnets_rule(phi):
    shape = compound_scaling(phi, base_widths=(8, 16), base_depth=2, max_resolution=40)
    assert shape.depth == max(1, round(2 * 1.2**phi))
    assert shape.widths == tuple(max(1, round(w * 1.1**phi)) for w in (8, 16))
    assert shape.resolution == min(40, max(4, round(28 * 1.15**phi)))
    assert 1.9 < 1.2 * 1.1**2 * 1.15**2 < 2.0  # one step of φ ≈ doubles the FLOPs
    model = shape.build()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == shape.depth * 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"phi": float("nan")}, "phi must be"),
        ({"phi": "1"}, "phi must be"),
        ({"phi": 11}, "phi must be from"),
        ({"phi": 1, "alpha": 0.5}, "alpha must be"),
        ({"phi": 1, "base_widths": []}, "widths must be"),
        ({"phi": 1, "base_widths": (8, True)}, "widths must be"),
    ],
)
def test_bad_scaling_arguments_are_named(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        compound_scaling(**kwargs)


def test_candidates_are_trained_and_measured_at_their_resolution():
    digits = as_data(load_digits(), name="digits")
    torch.manual_seed(0)
    candidates = [
        Candidate("small", SearchNet((4, 8))),
        Candidate("smaller px", SearchNet((4, 8)), 6),
    ]
    state = torch.get_rng_state()
    results = train_and_measure(candidates, steps=3, data=digits)
    assert [m.name for m in results] == ["small", "smaller px"]
    assert [m.resolution for m in results] == [8, 6]
    assert results[1].macs < results[0].macs
    assert torch.equal(torch.get_rng_state(), state)
    with pytest.raises(ConfigError, match="steps must be"):
        train_and_measure([Candidate("x", SearchNet((4,)))], steps=0)
    with pytest.raises(ConfigError, match="candidates must be"):
        train_and_measure([SearchNet((4,))], steps=1)
