"""The zoo's network definitions. Every one runs natively at any input size from 4 to 28 px.

* :class:`SmallCNN` — the default lab model (``cnn``) and, wider, the ``teacher``;
  convolutions end in global average pooling, so a smaller input really costs fewer FLOPs.
* :class:`MobileNetLike` — depthwise-separable blocks (MobileNetV1, arXiv:1704.04861).
* :class:`LeNet300100` — the fully connected LeNet-300-100 of Deep Compression
  (arXiv:1510.00149). At a lower resolution its first layer's weights are
  area-pooled onto the smaller pixel grid, so the first (dominant) layer really
  does ``r*r/784`` of the work.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LeNet300100", "MobileNetLike", "SearchNet", "SmallCNN", "TabularMLP"]


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """3×3 convolution (no bias) → batch norm → ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class PooledClassifier(nn.Module):
    """Base of the conv nets: ``self.features``, then adaptive pooling, dropout and a linear layer."""

    features: nn.Sequential

    def add_head(self, channels: int, num_classes: int, dropout: float, head_grid: int) -> None:
        # adaptive pooling to a fixed grid: any input size works, a smaller one costs less
        self.pool = nn.AdaptiveAvgPool2d(head_grid)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels * head_grid**2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x)).flatten(1)
        return self.classifier(self.dropout(x))


class SmallCNN(PooledClassifier):
    """Plain VGG-style CNN: stages of 3×3 conv-BN-ReLU, 2×2 max-pool between stages, global pooling."""

    def __init__(
        self,
        widths: tuple[tuple[int, ...], ...] = ((32,), (64,), (128,)),
        num_classes: int = 10,
        dropout: float = 0.2,
        head_grid: int = 1,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for stage, stage_widths in enumerate(widths):
            if stage > 0:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            for width in stage_widths:
                layers.append(conv_bn_relu(c_in, width))
                c_in = width
        self.features = nn.Sequential(*layers)
        self.add_head(c_in, num_classes, dropout, head_grid)


class DepthwiseSeparable(nn.Sequential):
    """Depthwise 3×3 conv-BN-ReLU followed by pointwise 1×1 conv-BN-ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__(
            conv_bn_relu(c_in, c_in, stride=stride, groups=c_in),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class MobileNetLike(PooledClassifier):
    """MobileNetV1-style network for 1×28×28 inputs: a stem conv, then depthwise-separable blocks."""

    def __init__(
        self,
        blocks: tuple[tuple[int, int], ...] = ((64, 2), (96, 1), (128, 2), (128, 1), (192, 1)),
        stem: int = 32,
        num_classes: int = 10,
        dropout: float = 0.2,
        head_grid: int = 1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_relu(1, stem)]
        c_in = stem
        for width, stride in blocks:
            layers.append(DepthwiseSeparable(c_in, width, stride))
            c_in = width
        self.features = nn.Sequential(*layers)
        self.add_head(c_in, num_classes, dropout, head_grid)


class TabularMLP(nn.Sequential):
    """A plain MLP on flattened samples: Linear-ReLU(-Dropout) per hidden width, then a Linear."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: tuple[int, ...] = (64,),
        dropout: float = 0.1,
    ) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)


class LeNet300100(nn.Module):
    """784-300-100-10 fully connected net (LeNet-300-100)."""

    native_size = 28

    def __init__(self, hidden: tuple[int, int] = (300, 100), num_classes: int = 10) -> None:
        super().__init__()
        self.fc1 = nn.Linear(self.native_size**2, hidden[0])
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.fc3 = nn.Linear(hidden[1], num_classes)

    def first_layer_weight(self, size: int) -> torch.Tensor:
        """fc1's weight resampled to a ``size``×``size`` input (sum-preserving area pooling)."""
        weight = self.fc1.weight
        if size == self.native_size:
            return weight
        grid = weight.reshape(-1, 1, self.native_size, self.native_size)
        pooled = F.interpolate(grid, size=(size, size), mode="area")
        return pooled.reshape(weight.shape[0], -1) * (self.native_size**2 / size**2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-1]
        if size == self.native_size:
            x = F.relu(self.fc1(x.flatten(1)))
        else:
            x = F.relu(F.linear(x.flatten(1), self.first_layer_weight(size), self.fc1.bias))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class SearchNet(PooledClassifier):
    """A small conv net shaped by an architecture search: one conv stage per width.

    Each stage is a ``kernel``×``kernel`` conv-BN-ReLU (the first on the ``in_channels`` input; the
    others depthwise-separable when ``depthwise``), separated by 2×2 ``pool`` ("max" or
    "avg") downsampling, then adaptive pooling to ``head_grid``² cells and a linear classifier.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (16, 32),
        kernel: int = 3,
        depthwise: bool = False,
        pool: str = "max",
        head_grid: int = 1,
        num_classes: int = 10,
        dropout: float = 0.0,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg'; got {pool!r}")
        down = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        layers: list[nn.Module] = []
        c_in = in_channels
        for stage, width in enumerate(widths):
            if stage > 0:
                layers.append(down(2, ceil_mode=True))
            if depthwise and stage > 0:
                layers += [
                    nn.Conv2d(c_in, c_in, kernel, padding=kernel // 2, groups=c_in, bias=False),
                    nn.BatchNorm2d(c_in),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(c_in, width, 1, bias=False),
                ]
            else:
                layers.append(nn.Conv2d(c_in, width, kernel, padding=kernel // 2, bias=False))
            layers += [nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            c_in = width
        self.features = nn.Sequential(*layers)
        self.add_head(c_in, num_classes, dropout, head_grid)
