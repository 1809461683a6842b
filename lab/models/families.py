"""Small torch models for *your* data, built and trained like the zoo's: the deep side of the
"is a thin model on par?" comparison.

The zoo (:mod:`lab.zoo`) ships models trained on Fashion-MNIST. For other data the lab
offers families sized by the data itself (input shape, number of classes):

* ``mlp-s`` / ``mlp-m`` / ``mlp-l`` — :class:`~lab.architectures.TabularMLP` with hidden
  widths (32,), (64, 32), (256, 128): for tabular data (N×D), and for images (flattened);
* ``cnn-s`` / ``cnn-m`` — :class:`~lab.architectures.SmallCNN` with (16 | 32) and
  (32 | 64 | 128) channels: images only, any number of channels and any size ≥ 2 px.

Every one is an ordinary ``nn.Module``: prune, quantize, fine-tune and measure it with
:func:`lab.apply` / :func:`lab.evaluate` and ``data=`` the same data.

Example:
    >>> from sklearn.datasets import load_wine
    >>> from lab.datasets import as_data
    >>> wine = as_data(load_wine(), name="wine")
    >>> build("mlp-s", wine)
    TabularMLP(
      (0): Flatten(start_dim=1, end_dim=-1)
      (1): Linear(in_features=13, out_features=32, bias=True)
      (2): ReLU(inplace=True)
      (3): Dropout(p=0.1, inplace=False)
      (4): Linear(in_features=32, out_features=3, bias=True)
    )
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from lab.datasets import Data, as_data
from lab.models.architectures import SmallCNN, TabularMLP
from lab.models.training import TrainConfig, TrainReport, fit, seeded

__all__ = ["FAMILIES", "Family", "build", "names", "train"]

TARGET_STEPS = 600  # optimizer steps a default training aims for (small data: more epochs)
MAX_EPOCHS = 300


@dataclass(frozen=True)
class Family:
    """A model family: what it is, which data kinds it suits, and how to build one."""

    description: str
    kinds: tuple[str, ...]  # "tabular", "image"
    build: Callable[[Data], nn.Module]


def _flat(data: Data) -> int:
    return math.prod(data.input_shape)


def _mlp(hidden: tuple[int, ...]) -> Callable[[Data], nn.Module]:
    return lambda d: TabularMLP(_flat(d), d.n_outputs, hidden)


def _cnn(widths: tuple[tuple[int, ...], ...]) -> Callable[[Data], nn.Module]:
    return lambda d: SmallCNN(widths, d.n_outputs, dropout=0.1, in_channels=d.input_shape[0])


class TargetScale(nn.Module):
    """The regression head's last step: ``z · std + mean``, with the training targets' mean
    and standard deviation as fixed buffers. The network learns the standardized target
    (well-scaled gradients) and outputs the target in its own units; the data's targets
    are never standardized. N×1 → N×1."""

    def __init__(self, mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean


def _regression_head(model: nn.Module, data: Data) -> nn.Module:
    """``model`` (1 output) followed by :class:`TargetScale` of ``data``'s training targets."""
    target = data.split("train").labels.double()
    std = float(target.std()) if len(target) > 1 else 1.0
    scale = TargetScale(float(target.mean()), std if std > 0 else 1.0)
    if isinstance(model, nn.Sequential):
        model.append(scale)
        return model
    return nn.Sequential(model, scale)


FAMILIES: dict[str, Family] = {
    "mlp-s": Family("MLP, one hidden layer of 32", ("tabular", "image"), _mlp((32,))),
    "mlp-m": Family("MLP, hidden 64-32", ("tabular", "image"), _mlp((64, 32))),
    "mlp-l": Family("MLP, hidden 256-128", ("tabular", "image"), _mlp((256, 128))),
    "cnn-s": Family("CNN, 16 | 32 channels, global pooling", ("image",), _cnn(((16,), (32,)))),
    "cnn-m": Family(
        "CNN, 32 | 64 | 128 channels, global pooling", ("image",), _cnn(((32,), (64,), (128,)))
    ),
}

_TRAINED: dict[tuple, tuple[nn.Module, TrainReport]] = {}  # this process's trained models
_LOCK = threading.Lock()


def names(data: object = None) -> list[str]:
    """The families that suit ``data`` (all of them when ``data`` is None)."""
    if data is None:
        return list(FAMILIES)
    kind = as_data(data).kind
    return [name for name, family in FAMILIES.items() if kind in family.kinds]


def _family(name: str, data: Data) -> Family:
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; choose one of {', '.join(FAMILIES)}")
    family = FAMILIES[name]
    if data.kind not in family.kinds:
        raise ValueError(
            f"{name} is for {' or '.join(family.kinds)} data; {data.name!r} is {data.kind}. "
            f"Families for it: {', '.join(names(data))}"
        )
    return family


def build(name: str, data: object = None, seed: int = 0) -> nn.Module:
    """An untrained ``name`` model shaped for ``data`` (input shape, classes); seeded weights,
    the caller's random streams untouched. On regression data the head has 1 output,
    followed by :class:`TargetScale` (the model predicts the target in its own units)."""
    dataset = as_data(data)
    family = _family(name, dataset)
    with seeded(seed):
        model = family.build(dataset)
    return model if dataset.is_classification else _regression_head(model, dataset)


def default_epochs(data: object = None, batch_size: int = TrainConfig.batch_size) -> float:
    """Epochs giving about :data:`TARGET_STEPS` steps (at least 10, at most 300)."""
    n = len(as_data(data).split("train"))
    return float(min(MAX_EPOCHS, max(10, math.ceil(TARGET_STEPS * batch_size / n))))


def train(
    name: str,
    data: object = None,
    *,
    epochs: float | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple[nn.Module, TrainReport]:
    """Build and train a ``name`` model on ``data``'s ``train`` split; returns ``(model, report)``.

    Trained models are remembered in this process (by family, data, epochs and seed): a second
    call returns a copy at once. The model comes back in eval mode on the CPU.
    """
    import copy

    dataset = as_data(data)
    _family(name, dataset)
    epochs = default_epochs(dataset) if epochs is None else epochs
    key = (name, dataset.fingerprint, float(epochs), seed)
    with _LOCK:
        known = _TRAINED.get(key)
    if known is None:
        model = build(name, dataset, seed)
        config = TrainConfig(epochs=epochs, lr=0.05, seed=seed)
        report = fit(model, config, data=dataset, progress=progress, device="cpu")
        known = (model.cpu().eval(), report)
        with _LOCK:
            _TRAINED[key] = known
    model, report = known
    return copy.deepcopy(model), report
