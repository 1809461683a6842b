"""lab.flops counts what torch's FlopCounterMode counts (the independent reference), on the
zoo, torchvision models, grouped/transposed convolutions, matrix products and functions it
cannot see into (which it hands to FlopCounterMode itself)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lab import flops, measure, zoo
from lab.architectures import LeNet300100
from lab.techniques.resolution import AtResolution


class _Products(nn.Module):
    """Grouped and transposed convolutions, Linear, @, matmul, bmm and addmm in one pass."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, groups=2)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.q = nn.Linear(4, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.q(self.up(self.conv(x)).flatten(2).transpose(1, 2))
        scores = (a @ a.transpose(1, 2)).mean() + torch.bmm(a, a.transpose(1, 2)).sum()
        scores = scores + torch.matmul(a, a.transpose(1, 2)).sum()
        return scores + torch.addmm(torch.zeros(16), a[0], torch.ones(16, 16)).sum()


class _Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x, x, x)[0]


class _Einsum(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bij,bjk->bik", x, x)


def _cases() -> dict[str, tuple[nn.Module, torch.Tensor]]:
    torchvision = pytest.importorskip("torchvision")
    image = torch.zeros(1, 1, 28, 28)
    cases = {name: (zoo.build(name), image) for name in zoo.names()}
    cases["LeNet at 14 px (F.linear)"] = (AtResolution(LeNet300100(), 14), image)
    cases["resnet18"] = (torchvision.models.resnet18(num_classes=10), torch.zeros(1, 3, 32, 32))
    cases["mobilenet_v3_small"] = (
        torchvision.models.mobilenet_v3_small(num_classes=10),
        torch.zeros(1, 3, 64, 64),
    )
    cases["products"] = (_Products(), torch.zeros(1, 4, 8, 8))
    cases["attention (opaque)"] = (_Attention(), torch.zeros(1, 5, 16))
    cases["einsum (opaque)"] = (_Einsum(), torch.zeros(2, 3, 3))
    return cases


@pytest.mark.parametrize("name", list(_cases()))
def test_counts_equal_flop_counter_mode(name):
    model, example = _cases()[name]
    model.eval()
    assert flops.count_flops(model, example) == flops.count_flops(model, example, exact_mode=True)


def test_the_usual_path_does_not_load_dynamo():
    code = (
        "import sys, torch; from lab import flops, zoo; "
        "n = flops.count_flops(zoo.build('cnn').eval(), torch.zeros(1, 1, 28, 28)); "
        "print(n, 'torch._dynamo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, dynamo = out.stdout.split()
    assert int(count) > 0 and dynamo == "False"


class _Repeated(nn.Module):
    """Runs its one layer ``repeats`` times: the same modules and weights, other FLOPs."""

    def __init__(self, repeats: int) -> None:
        super().__init__()
        self.repeats = repeats
        self.layer, self.head = nn.Linear(784, 784), nn.Linear(784, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for _ in range(self.repeats):
            x = self.layer(x).relu()
        return self.head(x)


def test_counts_remembered_by_structure_follow_settings_not_weights():
    """An evaluation's FLOPs are remembered by the model's structure: other weights of the
    same structure reuse the count, and a model whose settings differ (``repeats``), or
    whose layers differ in shape, is counted anew — each equal to FlopCounterMode's."""
    from lab.evaluation import kinds
    from lab.models.fingerprint import structure_key
    from lab.techniques.configs import PruneConfig

    x = torch.zeros(1, 1, 28, 28)
    once, twice = _Repeated(1).eval(), _Repeated(2).eval()
    assert structure_key(once) != structure_key(twice)
    other_weights = _Repeated(1).eval()
    assert structure_key(other_weights) == structure_key(once)
    for model in (once, twice, other_weights):
        for recipe in (None, PruneConfig(0.5)):
            got = measure.Evaluation(model, recipe, effort="quick").first_look(images=10).flops
            with FlopCounterMode(display=False) as counter:
                model(x)
            assert got == counter.get_total_flops()
    assert measure.Evaluation(twice).first_look(images=10).flops == 2 * 2 * 784 * 784 + 2 * 784 * 10
    assert len(kinds._OPERATIONS) >= 2
