"""Seeded, time-boundable training with a progress bar; GPU when present, CPU otherwise.

One loop serves the zoo (``python -m lab train cnn``), fine-tuning after pruning,
quantization-aware training and multi-resolution adaptation.

Example:
    >>> from lab import training, zoo
    >>> model = zoo.build("cnn")
    >>> _ = training.fit(model, TrainConfig(epochs=1, max_seconds=1, max_batches=2), progress=False)
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from lab.datasets import as_data
from lab.datasets.lazy import LazyImages
from lab.meters.checks import Interval, flag, real, seed, whole

__all__ = [
    "MIN_STEPS",
    "TrainConfig",
    "accuracy",
    "default_config",
    "default_device",
    "eval_mode",
    "fit",
    "seeded",
    "seed_everything",
]


@dataclass(frozen=True)
class TrainConfig:
    """How to train; every field has a sensible default."""

    epochs: float = 15  # passes over the training split (fractions allowed)
    lr: float = 0.05  # peak learning rate of the one-cycle schedule (SGD, Nesterov)
    weight_decay: float = 5e-4
    batch_size: int = 128
    label_smoothing: float = 0.05
    augment: bool = False  # random horizontal flips, plus shifts of up to ±`shift` px
    shift: int = 2
    sizes: tuple[int, ...] = ()  # input sizes (px); () → the data's own; >1 → multi-resolution
    seed: int = 0
    max_seconds: float | None = None  # stop after this wall-clock budget
    max_batches: int | None = None  # stop after this many steps (smoke tests)
    split: str = "train"

    def __post_init__(self) -> None:
        positive = Interval(0.0, math.inf, low_open=True, high_open=True)
        real("epochs", self.epochs, positive)
        real("lr", self.lr, positive)
        real("weight_decay", self.weight_decay, Interval(0.0, math.inf, high_open=True))
        whole("batch_size", self.batch_size, 1)
        real("label_smoothing", self.label_smoothing, Interval(0.0, 1.0, high_open=True))
        flag("augment", self.augment)
        whole("shift", self.shift, 0)
        seed(self.seed)
        if self.max_seconds is not None:
            real("max_seconds", self.max_seconds, positive, hint="or None: no time limit")
        if self.max_batches is not None:
            whole("max_batches", self.max_batches, 1)
        if not isinstance(self.split, str):
            raise ValueError(f"split must be a split's name such as 'train'; got {self.split!r}")
        if not isinstance(self.sizes, (tuple, list)):
            raise ValueError(f"sizes must be a tuple of input sizes in px; got {self.sizes!r}")
        for size in self.sizes:
            if isinstance(size, bool) or not isinstance(size, int) or size < 2:
                raise ValueError(f"training sizes must be integers ≥ 2 px, got {size!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainReport:
    """What happened during :func:`fit`."""

    steps: int = 0
    seconds: float = 0.0
    final_loss: float = math.nan
    stopped_early: bool = False
    device: str = "cpu"
    history: list[float] = field(default_factory=list)
    under_trained: str = ""  # why the model may be under-trained ("" when nothing says so)


MIN_STEPS = 500  # fit's defaults train at least this many optimizer steps, whatever the data
_FEW_STEPS = 200  # fewer steps than this (not capped on purpose) is reported as under-trained


def default_config(data: object = None) -> TrainConfig:
    """:func:`fit`'s defaults for ``data`` (see :func:`lab.datasets.as_data`): ``TrainConfig()``
    with the batch and the epochs following the training split's size, so a small set still
    gets :data:`MIN_STEPS` optimizer steps (15 epochs of 105 rows at batch 128 were 15 steps).

    Example:
        >>> import numpy as np
        >>> from lab.datasets import as_data
        >>> x, y = np.random.default_rng(0).random((150, 4)), np.arange(150) % 3
        >>> config = default_config(as_data((x, y)))  # 105 training rows
        >>> config.batch_size, config.epochs
        (16, 72)
        >>> default_config() == TrainConfig()  # Fashion-MNIST: 15 epochs of 430 steps
        True
    """

    base = TrainConfig()
    n = len(as_data(data).split(base.split))
    batch = min(base.batch_size, max(16, n // 8))
    steps_per_epoch = math.ceil(n / batch)
    epochs = max(base.epochs, math.ceil(MIN_STEPS / steps_per_epoch))
    return TrainConfig(epochs=epochs, batch_size=batch)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) for the whole process (see :func:`seeded`)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def seeded(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Python, NumPy and torch seeded with ``seed`` inside the block; the caller's random
    states are restored afterwards.

    torch's CPU generator is always seeded; the CUDA generators only when ``device`` is a
    CUDA device (they are then restored too, and left alone otherwise).

    Example:
        >>> before = torch.get_rng_state()
        >>> with seeded(0):
        ...     a = torch.rand(2)
        >>> with seeded(0):
        ...     b = torch.rand(2)
        >>> torch.equal(a, b), torch.equal(torch.get_rng_state(), before)
        (True, True)
    """
    on_cuda = device is not None and torch.device(device).type == "cuda"
    devices = list(range(torch.cuda.device_count())) if on_cuda else []
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=devices):
            random.seed(seed)
            np.random.seed(seed)
            if on_cuda:
                torch.manual_seed(seed)  # CPU and every (now initialised) CUDA device
            else:
                torch.default_generator.manual_seed(seed)  # no CUDA seed queued for later
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode inside the block; afterwards every submodule's ``training``
    flag is what it was (``model.train(was_training)`` would flatten them all).

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.Dropout()).train()
        >>> _ = net[1].eval()  # a deliberately frozen submodule
        >>> with eval_mode(net):
        ...     net.training
        False
        >>> net.training, net[1].training
        (True, False)
    """
    flags = [(module, module.training) for module in model.modules()]
    try:
        model.eval()
    except (NotImplementedError, RuntimeError):  # torch.export's module: it has no modes
        pass
    try:
        yield model
    finally:
        for module, flag in flags:
            module.training = flag


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def one_cycle_lr(
    progress: float, max_lr: float, warmup: float = 0.15, div: float = 25.0, final_div: float = 1e4
) -> float:
    """Learning rate of a one-cycle schedule (linear warm-up, cosine decay) at ``progress`` ∈ [0, 1]."""
    if progress < warmup:
        return max_lr / div + (max_lr - max_lr / div) * progress / warmup
    phase = (progress - warmup) / (1 - warmup)
    return max_lr / final_div + (max_lr - max_lr / final_div) * (1 + math.cos(math.pi * phase)) / 2


def augment_batch(x: torch.Tensor, generator: torch.Generator, shift: int = 2) -> torch.Tensor:
    """Random integer shifts of up to ±``shift`` px (background padding) and horizontal flips, per image."""
    n, _, h, w = x.shape
    pad = shift
    padded = F.pad(x, (pad, pad, pad, pad), value=float(x.min()))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    rows = dy[:, None] + torch.arange(h, device=x.device)[None, :]  # n×h
    cols = dx[:, None] + torch.arange(w, device=x.device)[None, :]  # n×w
    flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch_idx = torch.arange(n, device=x.device)[:, None, None]
    channels = [
        padded[:, c][batch_idx, rows[:, :, None], cols[:, None, :]] for c in range(x.shape[1])
    ]
    return torch.stack(channels, dim=1)


def fit(
    model: nn.Module,
    config: TrainConfig | None = None,
    *,
    loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    after_step: Callable[[nn.Module, int, int], None] | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    data: object = None,
    **changes: object,
) -> TrainReport:
    """Train ``model`` in place with SGD + one-cycle LR and return a :class:`TrainReport`.

    Args:
        model: any module mapping a batch of the data's samples to K logits.
        config: a :class:`TrainConfig`; defaults to :func:`default_config` for ``data``
            (at least :data:`MIN_STEPS` steps, however small the data).
        loss_fn: ``loss_fn(model, x, y)``; defaults to label-smoothed cross-entropy, or on
            regression data the mean squared error divided by the training targets'
            variance (distillation passes its own).
        after_step: called as ``after_step(model, step, total_steps)`` after each
            optimizer step (gradual pruning re-applies masks here).
        device: where to train; defaults to CUDA when present.
        progress: show a tqdm progress bar.
        data: what to train on (see :func:`lab.datasets.as_data`; default Fashion-MNIST),
            its ``config.split`` split.
        **changes: :class:`TrainConfig` fields changed from ``config`` (or the defaults),
            e.g. ``fit(model, epochs=3, data=data)``.

    Training is deterministic for a given ``config.seed`` (on the CPU) and leaves the
    caller's random streams (Python, NumPy, torch) as they were. ``model`` ends in eval
    mode, ready to evaluate. A model that may be under-trained is called so in the report's
    ``under_trained`` (fewer than 200 steps, or stopped by ``max_seconds`` before half of
    them), with a ``UserWarning`` unless the steps were capped on purpose (``max_batches``,
    ``max_seconds``).
    """

    allowed = [f.name for f in dataclasses.fields(TrainConfig)]
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise TypeError(
            f"fit() got unknown option(s) {', '.join(unknown)}; it takes config=, loss_fn=, "
            f"after_step=, device=, progress=, data= and the TrainConfig fields "
            f"{', '.join(allowed)}"
        )
    if config is not None and not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig or None; got {type(config).__name__}")
    dataset = as_data(data)
    config = dataclasses.replace(config or default_config(dataset), **changes)
    device = torch.device(device) if device is not None else default_device()
    with seeded(config.seed, device):
        report = _train(model, config, loss_fn, after_step, device, progress, dataset)
    report.under_trained = _under_trained(report, config, dataset)
    if report.under_trained and config.max_batches is None and config.max_seconds is None:
        import warnings

        warnings.warn(f"the model may be under-trained: {report.under_trained}", stacklevel=2)
    return report


def _under_trained(report: TrainReport, config: TrainConfig, dataset) -> str:
    """Why ``report``'s model may be under-trained ("" when nothing says so)."""
    n = len(dataset.split(config.split))
    planned = max(1, int(round(config.epochs * math.ceil(n / config.batch_size))))
    if config.max_batches is not None:
        planned = min(planned, config.max_batches)
    if report.stopped_early and report.steps < planned / 2:
        return (
            f"stopped by max_seconds={config.max_seconds:g} after {report.steps} of {planned} steps"
        )
    if report.steps < _FEW_STEPS:
        return (
            f"only {report.steps} optimizer steps ({config.epochs:g} epochs of {n:,} samples "
            f"at batch {config.batch_size}); fit's defaults (default_config) train at least "
            f"{MIN_STEPS}"
        )
    return ""


def _on(images, device: torch.device):
    """A split's images on ``device``; lazily read ones (lab.lazy) stay lazy: read per batch."""

    return images if isinstance(images, LazyImages) else images.to(device)


def _train(
    model: nn.Module,
    config: TrainConfig,
    loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None,
    after_step: Callable[[nn.Module, int, int], None] | None,
    device: torch.device,
    progress: bool,
    dataset,
) -> TrainReport:
    """The training loop of :func:`fit` (seeded by its caller)."""
    sizes = config.sizes or (dataset.native_size,)
    if dataset.kind != "image" and config.sizes:
        raise ValueError(f"training sizes apply to images; {dataset.name!r} is tabular")
    if dataset.kind != "image" and config.augment:
        raise ValueError(
            f"augment (flips and shifts) applies to images; {dataset.name!r} is tabular"
        )
    images = {size: _on(dataset.split(config.split, size).images, device) for size in sizes}
    split = dataset.split(config.split)
    labels = split.labels.to(device)
    steps_per_epoch = math.ceil(len(labels) / config.batch_size)
    total = max(1, int(round(config.epochs * steps_per_epoch)))
    if config.max_batches is not None:
        total = min(total, config.max_batches)

    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        params, lr=config.lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=total, pct_start=0.15
    )
    generator = torch.Generator().manual_seed(config.seed)
    if loss_fn is None and not dataset.is_classification:
        labels = labels.float()  # regression: MSE in units of the target's variance
        variance = float(labels.var()) if len(labels) > 1 else 1.0
        variance = variance if variance > 0 else 1.0

        def loss_fn(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            out = m(x)
            if out.ndim != 2 or out.shape[1] != 1:
                raise ValueError(
                    f"a regression model must give N×1 outputs; got {tuple(out.shape)} "
                    "(lab.families.build gives regression data a 1-output head)"
                )
            return F.mse_loss(out[:, 0], y) / variance

    elif loss_fn is None:

        def loss_fn(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(m(x), y, label_smoothing=config.label_smoothing)

    report = TrainReport(device=str(device))
    start = time.perf_counter()
    bar = tqdm(
        total=total,
        desc=f"training on {device.type}",
        unit="step",
        disable=not progress,
        leave=False,
    )
    step = 0
    order = torch.randperm(len(labels), generator=generator)
    cursor = 0
    running = math.nan
    while step < total:
        if cursor >= len(order):
            order, cursor = torch.randperm(len(labels), generator=generator), 0
        idx = order[cursor : cursor + config.batch_size].to(device)
        cursor += config.batch_size
        size = sizes[step % len(sizes)]
        x, y = images[size][idx].to(device), labels[idx]
        if config.augment:
            x = augment_batch(x, generator, config.shift)
        loss = loss_fn(model, x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        step += 1
        if (
            config.max_seconds is not None
        ):  # time-bound: anneal by elapsed time if that runs out first
            by_time = (time.perf_counter() - start) / config.max_seconds
            if by_time > step / total:
                for group in optimizer.param_groups:
                    group["lr"] = one_cycle_lr(min(by_time, 1.0), config.lr)
        if after_step is not None:
            after_step(model, step, total)
        value = float(loss.detach())
        running = value if math.isnan(running) else 0.98 * running + 0.02 * value
        if step % 50 == 0 or step == total:
            report.history.append(running)
            bar.set_postfix(loss=f"{running:.3f}")
        bar.update(1)
        if config.max_seconds is not None and time.perf_counter() - start > config.max_seconds:
            report.stopped_early = step < total
            break
    bar.close()
    model.eval()
    report.steps, report.seconds, report.final_loss = step, time.perf_counter() - start, running
    return report


@torch.no_grad()
def accuracy(
    model: nn.Module,
    split: str = "val",
    size: int | None = None,
    batch_size: int = 1000,
    device: torch.device | str | None = None,
    data: object = None,
) -> float:
    """Top-1 accuracy (0–1) of ``model`` on a named split of ``data`` at ``size`` px
    (default: the data's native size)."""

    device = (
        torch.device(device)
        if device is not None
        else next((p.device for p in model.parameters()), torch.device("cpu"))
    )
    dataset = as_data(data)
    if not dataset.is_classification:
        raise ValueError(
            f"{dataset.name!r} is a regression task: accuracy does not apply; use "
            "lab.quality.score('regression', y_true, y_pred) (MAE, RMSE, R²)"
        )
    chunk = dataset.split(split, size)
    correct = 0
    with eval_mode(model):
        for start in range(0, len(chunk), batch_size):
            x = chunk.images[start : start + batch_size].to(device)
            y = chunk.labels[start : start + batch_size].to(device)
            correct += int((model(x).argmax(1) == y).sum())
    return correct / len(chunk)
