"""Efficient architectures: depthwise-separable convolutions at equal MACs, and compound scaling.

* A standard k×k convolution from C to C' channels costs k²·C·C' MACs per output pixel; a
  depthwise-separable one (MobileNet, Howard et al. 2017, arXiv:1704.04861) costs
  k²·C + C·C' — about k² times less — so at **equal MACs** it can afford far wider layers.
  :func:`equal_macs_pair` builds a standard :class:`~lab.architectures.SearchNet` and a
  depthwise-separable one widened until both cost the same MACs (counted by :mod:`lab.flops`).
* EfficientNet's **compound scaling** (Tan & Le 2019, arXiv:1905.11946) scales depth by
  α^φ, width by β^φ and resolution by γ^φ together, with α·β²·γ² ≈ 2 so that every step of
  φ about doubles the FLOPs. :func:`compound_scaling` applies the rule to the lab's plain
  CNN family; on 28 px Fashion-MNIST the resolution cannot grow past 28, so φ < 0 shrinks.
* :func:`train_and_measure` trains each candidate for the same number of steps and measures
  it with :func:`lab.evaluate` (accuracy, bytes, MACs, latency, energy), ready for
  :func:`lab.recommend.plot_tradeoffs`.

Example:
    >>> pair = equal_macs_pair((16, 32))
    >>> sorted(pair)
    ['depthwise-separable', 'standard']
    >>> scaled = compound_scaling(-1)
    >>> scaled.resolution, scaled.depth
    (24, 1)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from lab.datasets import as_data
from lab.evaluation.measure import evaluate
from lab.meters import flops
from lab.models.architectures import SearchNet, SmallCNN
from lab.models.training import TrainConfig, fit, seeded
from lab.techniques.configs import ConfigError, Recipe, ResolutionConfig

__all__ = [
    "Candidate",
    "ScaledShape",
    "compound_scaling",
    "equal_macs_pair",
    "macs",
    "train_and_measure",
]

ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15  # EfficientNet-B0's grid-searched coefficients


def macs(model: nn.Module, size: int = 28, channels: int = 1) -> int:
    """Multiply-accumulates for one ``channels``×``size``×``size`` image (FLOPs / 2)."""
    return flops.count_flops(model, torch.zeros(1, channels, size, size)) // 2


def _widths(value: object) -> tuple[int, ...]:
    allowed = "a non-empty sequence of whole numbers from 1 to 4096 (channels per stage)"
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ConfigError(f"widths must be {allowed}; got {value!r}")
    for width in value:
        if isinstance(width, bool) or not isinstance(width, numbers.Integral):
            raise ConfigError(f"widths must be {allowed}; got {value!r}")
        if not 1 <= int(width) <= 4096:
            raise ConfigError(f"widths must be {allowed}; got {value!r}")
    return tuple(int(w) for w in value)


def equal_macs_pair(widths: Sequence[int] = (16, 32, 64), *, seed: int = 0) -> dict[str, nn.Module]:
    """A standard :class:`SearchNet` with ``widths`` and a depthwise-separable one whose widths
    are the same multiple of ``widths`` (the smallest ≥ 1 found by bisection) so that its
    MACs per 28 px image are as close as possible to, and not above, the standard one's.
    Both seeded, untrained; the caller's random streams are untouched."""
    widths = _widths(widths)
    with seeded(seed):
        standard = SearchNet(widths)
    target = macs(standard)

    def separable(multiplier: float) -> nn.Module:
        with seeded(seed):
            return SearchNet(tuple(max(1, round(w * multiplier)) for w in widths), depthwise=True)

    low, high = 1.0, 1.0
    while macs(separable(high)) <= target and high < 64:
        low, high = high, high * 2
    for _ in range(12):  # bisection on the width multiplier (to ~0.03 % of the bracket)
        middle = (low + high) / 2
        if macs(separable(middle)) <= target:
            low = middle
        else:
            high = middle
    return {"standard": standard, "depthwise-separable": separable(low)}


@dataclass(frozen=True)
class ScaledShape:
    """One compound-scaled network: its conv widths per stage, convs per stage, input px."""

    phi: float
    widths: tuple[int, ...]
    depth: int
    resolution: int

    def build(self, num_classes: int = 10, seed: int = 0) -> nn.Module:
        """The :class:`SmallCNN` of this shape (seeded, untrained)."""
        with seeded(seed):
            return SmallCNN(tuple((w,) * self.depth for w in self.widths), num_classes, dropout=0.1)

    @property
    def label(self) -> str:
        return (
            f"φ={self.phi:g}: {'-'.join(map(str, self.widths))} ×{self.depth}, {self.resolution} px"
        )


def compound_scaling(
    phi: float,
    *,
    base_widths: Sequence[int] = (16, 32, 64),
    base_depth: int = 1,
    base_resolution: int = 28,
    max_resolution: int = 28,
    alpha: float = ALPHA,
    beta: float = BETA,
    gamma: float = GAMMA,
) -> ScaledShape:
    """EfficientNet's compound rule: depth × α^φ, width × β^φ, resolution × γ^φ (rounded;
    at least 1 conv per stage, 1 channel, 4 px; at most ``max_resolution`` px)."""
    if isinstance(phi, bool) or not isinstance(phi, numbers.Real) or not math.isfinite(phi):
        raise ConfigError(f"phi must be a finite number (e.g. -2, -1, 0, 1); got {phi!r}")
    if not -10 <= float(phi) <= 10:
        raise ConfigError(f"phi must be from -10 to 10; got {phi!r}")
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 1:
            raise ConfigError(f"{name} must be a number ≥ 1; got {value!r}")
    widths = _widths(base_widths)
    depth = max(1, round(base_depth * alpha**phi))
    scaled = tuple(max(1, round(w * beta**phi)) for w in widths)
    resolution = min(max_resolution, max(4, round(base_resolution * gamma**phi)))
    return ScaledShape(float(phi), scaled, depth, resolution)


@dataclass
class Candidate:
    """A network to train and measure: the module, the input px it trains and runs at."""

    name: str
    model: nn.Module
    resolution: int | None = None  # None: the data's own size


def train_and_measure(
    candidates: Sequence[Candidate],
    *,
    steps: int = 150,
    batch_size: int = 64,
    seed: int = 0,
    split: str = "live",
    data: object = None,
    progress: bool = False,
) -> list:
    """Train each candidate (in place) for ``steps`` SGD steps at its resolution, then
    measure it with :func:`lab.evaluate` at that resolution; returns the Measurements, in order.
    The same budget for every candidate, so the comparison is of architectures, not of effort."""

    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ConfigError(f"steps must be a whole number ≥ 1; got {steps!r}")
    dataset = as_data(data)
    results = []
    for candidate in candidates:
        if not isinstance(candidate, Candidate):
            raise ConfigError(f"candidates must be Candidate(...)s; got {candidate!r}")
        native = dataset.native_size
        size = native if candidate.resolution is None else candidate.resolution
        config = TrainConfig(
            epochs=math.ceil(steps * batch_size / len(dataset.split("train"))) + 1,
            batch_size=batch_size,
            seed=seed,
            max_batches=steps,
            sizes=() if size == native else (size,),
        )
        fit(candidate.model, config, data=dataset, progress=progress, device="cpu")
        recipe = Recipe() if size == native else Recipe(resolution=ResolutionConfig(size))
        results.append(
            evaluate(
                candidate.model,
                recipe,
                split=split,
                name=candidate.name,
                effort="quick",
                data=None if dataset.is_default else dataset,
            )
        )
    return results
