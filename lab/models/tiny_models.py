"""The four MLPerf Tiny reference models as torch modules, and operations counted per kind.

MLPerf Tiny (Banbury et al. 2021, "MLPerf Tiny Benchmark") publishes latency and energy per
inference of four reference models on named microcontroller boards. :mod:`lab.devices`
fits each board's effective rates to those results, so the models are rebuilt here layer for
layer from the reference Keras definitions (github.com/mlcommons/tiny, commit ``bceb91c``,
``benchmark/training/``; the results v0.5–v1.3 were run on these models):

* ``kws`` — DS-CNN keyword spotting: 49×10 MFCC input, conv 10×4 stride 2 (64), four
  depthwise-separable blocks, average pool, 12 classes (``keyword_spotting/keras_model.py``);
* ``vww`` — MobileNetV1 with width 0.25 at 96×96×3, 2 classes (``visual_wake_words/vww_model.py``);
* ``ic`` — ResNet-8 for CIFAR-10: 16-32-64 filters, three residual stacks, 10 classes
  (``image_classification/keras_model.py``, ``num_filters = 16`` at that commit);
* ``ad`` — the FC autoencoder for anomaly detection: 640 → 128×4 → 8 → 128×4 → 640
  (``anomaly_detection/keras_model.py``).

Keras ``padding="same"`` is reproduced by choosing torch paddings that give the same output
sizes (the operation count depends only on them). :func:`mobilenet_v1` builds any width and
resolution (TF-slim's rule: ``max(int(channels × width), 8)``) for the TFLite hosted-model
measurements of :mod:`lab.devices`.

:func:`macs_by_kind` splits one forward pass's multiply-accumulates into ``conv`` (dense and
pointwise convolutions), ``depthwise`` (groups = channels) and ``linear`` (fully connected and
matrix products); its total is checked against :func:`lab.flops.count_flops` / 2.

Example:
    >>> import torch
    >>> macs_by_kind(build("ad"), example("ad"))
    {'conv': 0, 'depthwise': 0, 'linear': 264192}
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from lab.meters import flops

__all__ = [
    "KINDS",
    "NAMES",
    "SOURCE",
    "build",
    "example",
    "macs_by_kind",
    "mobilenet_v1",
]

NAMES = ("kws", "vww", "ic", "ad")
KINDS = ("conv", "depthwise", "linear")
SOURCE = "github.com/mlcommons/tiny@bceb91c benchmark/training/"
_INPUTS = {"kws": (1, 1, 49, 10), "vww": (1, 3, 96, 96), "ic": (1, 3, 32, 32), "ad": (1, 640)}


def _conv_bn(cin: int, cout: int, kernel, stride=1, padding=0, groups: int = 1) -> list:
    return [
        nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


def ds_cnn(classes: int = 12, filters: int = 64) -> nn.Module:
    """DS-CNN (keyword spotting) on 1×49×10 MFCC features."""
    layers = _conv_bn(1, filters, (10, 4), stride=2, padding=(5, 1))  # → 25×5, as "same"
    for _ in range(4):
        layers += _conv_bn(filters, filters, 3, padding=1, groups=filters)
        layers += _conv_bn(filters, filters, 1)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(filters, classes)]
    return nn.Sequential(*layers)


_MOBILENET_V1 = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)) + ((512, 1),) * 5
_MOBILENET_V1 += ((1024, 2), (1024, 1))


def mobilenet_v1(width: float = 0.25, classes: int = 2, channels: int = 3) -> nn.Module:
    """MobileNetV1 (Howard et al. 2017) with TF-slim's width rule; any input resolution."""

    def c(n: int) -> int:
        return max(int(n * width), 8)

    cin = c(32)
    layers = _conv_bn(channels, cin, 3, stride=2, padding=1)
    for cout, stride in _MOBILENET_V1:
        layers += _conv_bn(cin, cin, 3, stride=stride, padding=1, groups=cin)
        layers += _conv_bn(cin, c(cout), 1)
        cin = c(cout)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


class _Residual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn(cin, cout, 3, stride=stride, padding=1),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = nn.Identity() if stride == 1 else nn.Conv2d(cin, cout, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.shortcut(x) + self.body(x))


def resnet8(classes: int = 10, filters: int = 16) -> nn.Module:
    """ResNet-8 of MLPerf Tiny image classification (CIFAR-10, 32×32×3)."""
    return nn.Sequential(
        *_conv_bn(3, filters, 3, padding=1),
        _Residual(filters, filters, 1),
        _Residual(filters, 2 * filters, 2),
        _Residual(2 * filters, 4 * filters, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4 * filters, classes),
    )


def autoencoder(features: int = 640) -> nn.Module:
    """The FC autoencoder of MLPerf Tiny anomaly detection."""
    widths = [features, 128, 128, 128, 128, 8, 128, 128, 128, 128]
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
    layers.append(nn.Linear(128, features))
    return nn.Sequential(*layers)


_BUILDERS = {"kws": ds_cnn, "vww": mobilenet_v1, "ic": resnet8, "ad": autoencoder}


def _name(name: object) -> str:
    if name not in _BUILDERS:
        raise ValueError(f"name must be one of {', '.join(map(repr, NAMES))}; got {name!r}")
    return name  # type: ignore[return-value]


def build(name: str, *, seed: int = 0) -> nn.Module:
    """A reference model (random weights, eval mode): ``kws``, ``vww``, ``ic`` or ``ad``."""
    builder = _BUILDERS[_name(name)]
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return builder().eval()
    finally:
        torch.random.set_rng_state(generator_state)


def example(name: str) -> torch.Tensor:
    """A batch-1 input of the model's shape (zeros)."""
    return torch.zeros(_INPUTS[_name(name)])


class _KindCounter(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.macs = dict.fromkeys(KINDS, 0)

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        rule = flops.RULES.get(func)
        if rule is not None and isinstance(out, torch.Tensor):
            macs = int(rule(out, *args, **kwargs)) // 2
            if func in (torch.conv1d, torch.conv2d, torch.conv3d):
                weight = args[1] if len(args) > 1 else kwargs["weight"]
                groups = args[6] if len(args) > 6 else kwargs.get("groups", 1)
                depthwise = groups > 1 and weight.shape[1] == 1
                self.macs["depthwise" if depthwise else "conv"] += macs
            elif func in (torch.conv_transpose1d, torch.conv_transpose2d, torch.conv_transpose3d):
                self.macs["conv"] += macs
            else:
                self.macs["linear"] += macs
        return out


def macs_by_kind(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """Multiply-accumulates of ``model(x)`` per operation kind (``KINDS``).

    Counted with the rules of :mod:`lab.flops` (2 FLOPs per MAC); the total must equal
    ``lab.flops.count_flops(model, x) // 2`` or a ``ValueError`` says the model uses operators
    this split cannot see.
    """
    counter = _KindCounter()
    with torch.no_grad(), counter:
        model(x)
    total = flops.count_flops(model, x) // 2
    if sum(counter.macs.values()) != total:
        raise ValueError(
            f"macs_by_kind saw {sum(counter.macs.values())} MACs, lab.flops counts {total}: "
            "the model uses operators (attention, einsum…) that cannot be split by kind"
        )
    return counter.macs
