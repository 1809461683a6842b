"""Learning curves: how accuracy grows with the number of labelled training examples.

"Building training models with as little data as possible" is one of the challenges the
survey names. :func:`learning_curve` trains a model on growing, nested, class-balanced
subsets of the training split and measures each on a held-out split, with its 95 %
interval — for a thin scikit-learn model (:func:`lab.thin.fit_thin`), a small torch model
(:mod:`lab.families`, trained by :func:`lab.training.fit`) or a student distilled from a
teacher (Hinton et al. 2015, :mod:`lab.techniques.distillation`), on Fashion-MNIST or on
anything :func:`lab.datasets.as_data` accepts.

Two kinds of noise are reported apart, because they answer different questions:

* ``accuracy_low`` / ``accuracy_high`` — the Wilson 95 % interval of the mean accuracy on
  the ``n_test`` evaluated samples (:func:`lab.stats.accuracy_interval`): how precisely the
  test set pins the accuracy down;
* ``spread_low`` / ``spread_high`` — the lowest and highest accuracy over ``repeats``
  different draws of the training examples: how much *which* examples were labelled matters.

Each repeat draws one random class-balanced order of the training split from its own
generator (``numpy.random.default_rng([seed, repeat])``) and every size takes a prefix of
it, so a larger size always contains the smaller ones. Your random streams, models and
data are never touched.

Example:
    >>> from sklearn.datasets import load_digits
    >>> curve = learning_curve("LogisticRegression", load_digits(), sizes=[20, 100], repeats=1)
    >>> curve[["model", "n_train"]].values.tolist()
    [['LogisticRegression', 20], ['LogisticRegression', 100]]
"""

from __future__ import annotations

import math
import numbers
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from lab.datasets import SPLIT_NAMES, Data, as_data
from lab.meters import stats
from lab.models import families, thin, zoo
from lab.models.interface import check_model
from lab.models.training import TrainConfig, fit, seeded
from lab.techniques.configs import ConfigError
from lab.techniques.distillation import distillation_loss

__all__ = [
    "CurveSettings",
    "labelled_subset",
    "learning_curve",
    "plot_learning_curves",
    "train_subset",
    "training_order",
]

EVAL_SPLITS = tuple(s for s in SPLIT_NAMES if s != "train")
DEFAULT_POINTS = 5  # sizes when none are given: geometric from the smallest to the whole split
MAX_REPEATS = 100
QUICK_STEPS, FULL_STEPS = 150, 600  # optimizer steps per torch run (LAB_QUICK=1 / otherwise)
COLUMNS = [
    "model",
    "kind",
    "n_train",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "spread_low",
    "spread_high",
    "repeats",
    "n_test",
    "split",
    "train_seconds",
    "steps",
    "teacher",
    "augment",
    "data",
]


def _bad(argument: str, allowed: str, value: object) -> ConfigError:
    return ConfigError(f"{argument} must be {allowed}; got {value!r}")


def _whole(argument: str, value: object, low: int, high: float = math.inf) -> int:
    """``value`` as an int in [low, high], or a ConfigError naming ``argument``."""
    allowed = f"a whole number from {low}" + ("" if high == math.inf else f" to {int(high)}")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _bad(argument, allowed, value)
    if not low <= int(value) <= high:
        raise _bad(argument, allowed, value)
    return int(value)


def _real(argument: str, value: object, allowed: str, ok: Callable[[float], bool]) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _bad(argument, allowed, value)
    number = float(value)
    if not math.isfinite(number) or not ok(number):
        raise _bad(argument, allowed, value)
    return number


@dataclass(frozen=True)
class CurveSettings:
    """The validated settings of a :func:`learning_curve` (everything but the model and data).

    Every bad value raises a :class:`~lab.techniques.configs.ConfigError` (a ValueError and a
    TypeError) naming the argument and what is allowed.
    """

    sizes: tuple[int, ...] | None = None  # training examples per point; None → 5 geometric
    repeats: int = 3  # draws of the training examples per size
    seed: int = 0  # seeds the draws and the models' initialisation
    split: str = "test"  # what accuracy is measured on: val, test or live
    steps: int | None = None  # optimizer steps per torch run; None → 150 quick / 600
    batch_size: int = 64  # torch runs: examples per step (fewer when the subset is smaller)
    lr: float = 0.05  # torch runs: peak learning rate
    augment: bool = False  # torch runs on images: random shifts and flips while training
    temperature: float = 4.0  # distillation: softening of the teacher's outputs
    distill_weight: float = 0.9  # distillation: share of the soft-target loss (rest: labels)

    def __post_init__(self) -> None:
        sizes = self.sizes
        if sizes is not None:
            if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence | np.ndarray):
                raise _bad("sizes", "a sequence of whole numbers ≥ 1 (or None)", sizes)
            checked = tuple(_whole("each of sizes", s, 1) for s in sizes)
            if not checked:
                raise _bad("sizes", "a non-empty sequence of whole numbers ≥ 1 (or None)", sizes)
            if len(set(checked)) != len(checked):
                raise _bad("sizes", "a sequence of distinct whole numbers", sizes)
            object.__setattr__(self, "sizes", tuple(sorted(checked)))
        object.__setattr__(self, "repeats", _whole("repeats", self.repeats, 1, MAX_REPEATS))
        object.__setattr__(self, "seed", _whole("seed", self.seed, 0, 2**32 - 1))
        if not isinstance(self.split, str) or self.split not in EVAL_SPLITS:
            raise _bad("split", f"one of {', '.join(EVAL_SPLITS)}", self.split)
        if self.steps is not None:
            object.__setattr__(self, "steps", _whole("steps", self.steps, 1, 10**6))
        object.__setattr__(self, "batch_size", _whole("batch_size", self.batch_size, 1, 65536))
        lr = _real("lr", self.lr, "a finite number > 0", lambda v: v > 0)
        object.__setattr__(self, "lr", lr)
        if not isinstance(self.augment, (bool, np.bool_)):
            raise _bad("augment", "True or False", self.augment)
        object.__setattr__(self, "augment", bool(self.augment))
        temperature = _real("temperature", self.temperature, "a finite number > 0", lambda v: v > 0)
        object.__setattr__(self, "temperature", temperature)
        weight = _real(
            "distill_weight", self.distill_weight, "a number from 0 to 1", lambda v: 0 <= v <= 1
        )
        object.__setattr__(self, "distill_weight", weight)

    def steps_or_default(self) -> int:
        if self.steps is not None:
            return self.steps
        return QUICK_STEPS if thin.quick_mode() else FULL_STEPS


# ----------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class _Learner:
    """What to train: a thin model's name, a torch family's name, or a factory."""

    name: str
    kind: str  # "thin", "torch" or "distilled"
    build: Callable[[Data, int], object]  # (training data, seed) → untrained model / estimator


def _estimator_like(value: object) -> bool:
    return callable(getattr(value, "fit", None)) and callable(getattr(value, "predict", None))


def _learner(model: object, data: Data, name: str | None, distilled: bool) -> _Learner:
    kind = "distilled" if distilled else "torch"
    if isinstance(model, str):
        if model in thin.THIN_MODELS:
            if distilled:
                raise ConfigError(
                    f"teacher: {model} is a scikit-learn model and learns from labels only; "
                    f"distil into a torch model ({', '.join(families.names(data))}) or a factory"
                )
            return _Learner(name or model, "thin", lambda d, s: model)
        if model in families.FAMILIES:
            families.build(model, data)  # raises, naming the families that suit the data
            return _Learner(name or model, kind, lambda d, s: families.build(model, d, seed=s))
        raise ConfigError(
            f"model must be a thin model ({', '.join(thin.thin_names())}), a torch family "
            f"({', '.join(families.FAMILIES)}) or a function data → untrained model; got {model!r}"
        )
    if isinstance(model, nn.Module) or not callable(model):
        raise ConfigError(
            "model must be a name or a function data → *untrained* model (each size and repeat "
            f"trains a fresh one); got a {type(model).__name__}"
        )

    def build(d: Data, seed: int) -> object:
        with seeded(seed):
            made = model(d)
        if isinstance(made, nn.Module):
            check_model(made, d)
        elif not _estimator_like(made):
            raise ConfigError(
                "model: the function must return a torch.nn.Module or an unfitted scikit-learn "
                f"estimator; it returned a {type(made).__name__}"
            )
        elif distilled:
            raise ConfigError("teacher: the function returned a scikit-learn estimator")
        return made

    return _Learner(name or getattr(model, "__name__", "model"), kind, build)


def _teacher(teacher: object, data: Data) -> tuple[nn.Module | None, str | None]:
    if teacher is None:
        return None, None
    if isinstance(teacher, str):
        if teacher not in zoo.names():
            raise ConfigError(
                f"teacher must be a zoo model ({', '.join(zoo.names())}) or a trained "
                f"torch.nn.Module; got {teacher!r}"
            )
        module, label = zoo.load(teacher), teacher
    elif isinstance(teacher, nn.Module):
        module, label = teacher, type(teacher).__name__
    else:
        raise ConfigError(
            f"teacher must be a zoo model's name or a trained torch.nn.Module; got a "
            f"{type(teacher).__name__}"
        )
    check_model(module, data)
    return module, label


# ------------------------------------------------------------------------------ the data


def training_order(labels: object, seed: int = 0, repeat: int = 0) -> np.ndarray:
    """A random, class-balanced order of the training examples: one example of every class
    first (in random class order), then the rest interleaved so that every prefix holds the
    classes in about the split's proportions. Drawn from its own generator.

    Example:
        >>> labels = [0, 0, 0, 0, 1, 1]
        >>> order = training_order(labels, seed=0)
        >>> sorted(order.tolist()), sorted(labels[i] for i in order[:2])
        ([0, 1, 2, 3, 4, 5], [0, 1])
    """
    y = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng([int(seed), int(repeat)])
    shuffled = rng.permutation(len(y))
    key = np.empty(len(y))
    for label in np.unique(y):
        members = shuffled[y[shuffled] == label]  # this class, in the shuffled order
        key[members] = (np.arange(len(members)) + 0.5) / len(members)
        key[members[0]] = -1.0 + rng.random()  # one of each class first, in random order
    return shuffled[np.argsort(key[shuffled], kind="stable")]


def _subset(data: Data, idx: np.ndarray, split: str) -> Data:
    """The training examples ``idx`` with ``data``'s own val and evaluation splits."""
    train = data.split("train")
    take = torch.as_tensor(np.sort(idx))
    parts = {
        "train": (train.images[take], train.labels[take]),
        "val": (data.split("val").images, data.split("val").labels),
        "test": (data.split(split).images, data.split(split).labels),
    }
    return as_data(
        parts, name=f"{data.name}, {len(idx)} examples", classes=data.classes, standardize=False
    )


def _default_sizes(n_train: int, n_classes: int) -> tuple[int, ...]:
    low = min(n_train, max(2 * n_classes, 20))
    points = np.geomspace(low, n_train, DEFAULT_POINTS)
    return tuple(sorted({int(round(p)) for p in points}))


# ----------------------------------------------------------------------------- one run


def _predict_torch(model: nn.Module, images: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return torch.cat([model(x).argmax(1) for x in images.split(1000)]).numpy()


def _train_torch(
    model: nn.Module, subset: Data, settings: CurveSettings, seed: int, teacher: nn.Module | None
):
    """Train ``model`` in place for ``settings``' steps on ``subset``'s train split (distilled
    from ``teacher`` when given); returns the :class:`~lab.training.TrainReport`."""
    n = len(subset.split("train"))
    steps = settings.steps_or_default()
    batch = min(settings.batch_size, n)
    config = TrainConfig(
        epochs=math.ceil(steps * batch / n) + 1,  # enough passes; max_batches stops at `steps`
        lr=settings.lr,
        batch_size=batch,
        seed=seed,
        augment=settings.augment,
        max_batches=steps,
    )
    loss = None
    if teacher is not None:
        loss = distillation_loss(teacher, settings.temperature, settings.distill_weight)
    return fit(model, config, loss_fn=loss, data=subset, progress=False, device="cpu")


def _run(
    learner: _Learner,
    subset: Data,
    evaluation,
    settings: CurveSettings,
    seed: int,
    teacher: nn.Module | None,
    cache: Path,
) -> tuple[np.ndarray, float, int, str]:
    """Train on ``subset``'s train split; return (right/wrong per evaluated sample, seconds,
    optimizer steps, the kind of model that was trained)."""
    n = len(subset.split("train"))
    started = time.perf_counter()
    if learner.kind == "thin":
        try:
            model = thin.fit_thin(
                learner.build(subset, seed),
                data=subset,
                quick=False,
                progress=False,
                cache_dir=cache,
            )
        except ValueError as exc:  # e.g. kNN asked for more neighbours than examples
            raise ValueError(
                f"{learner.name} could not be fitted on {n} examples: {exc}. Use larger sizes."
            ) from exc
        seconds = time.perf_counter() - started
        predicted = np.asarray(model.predict(evaluation.images))
        return predicted == evaluation.labels.numpy(), seconds, 0, "thin"
    made = learner.build(subset, seed)
    if _estimator_like(made) and not isinstance(made, nn.Module):  # a factory's estimator
        made.fit(thin.features(subset.split("train").images), subset.split("train").labels.numpy())
        seconds = time.perf_counter() - started
        predicted = np.asarray(made.predict(thin.features(evaluation.images)))
        return predicted == evaluation.labels.numpy(), seconds, 0, "thin"
    report = _train_torch(made, subset, settings, seed, teacher)
    seconds = time.perf_counter() - started
    predicted = _predict_torch(made, evaluation.images)
    return predicted == evaluation.labels.numpy(), seconds, report.steps, learner.kind


# ------------------------------------------------------------------------------ public


def labelled_subset(data: object = None, n: int = 1000, *, seed: int = 0, repeat: int = 0) -> Data:
    """The first ``n`` examples of :func:`training_order` as a :class:`~lab.datasets.Data`
    whose ``train`` split holds only them (``val`` and ``test`` are ``data``'s own): what
    :func:`learning_curve` trains on at size ``n`` in repeat ``repeat``.

    Example:
        >>> from sklearn.datasets import load_digits
        >>> len(labelled_subset(load_digits(), 50).split("train"))
        50
    """
    dataset = as_data(data)
    n_train = len(dataset.split("train"))
    n = _whole("n", n, min(dataset.n_classes, n_train), n_train)
    settings = CurveSettings(seed=seed)
    order = training_order(dataset.split("train").labels.numpy(), settings.seed, repeat)
    return _subset(dataset, order[:n], "test")


def train_subset(
    model: str | Callable[[Data], nn.Module],
    data: object = None,
    n: int = 1000,
    *,
    seed: int = 0,
    teacher: str | nn.Module | None = None,
    temperature: float = 4.0,
    distill_weight: float = 0.9,
    augment: bool = False,
    steps: int | None = None,
    batch_size: int = 64,
    lr: float = 0.05,
) -> nn.Module:
    """One torch model trained exactly as :func:`learning_curve` trains it at size ``n``
    (repeat 0): the same examples, steps, augmentation and distillation — to compress,
    measure or export it afterwards. Returns the trained model, in eval mode."""
    settings = CurveSettings(
        seed=seed,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        augment=augment,
        temperature=temperature,
        distill_weight=distill_weight,
    )
    dataset = as_data(data)
    subset = labelled_subset(dataset, n, seed=settings.seed)
    if settings.augment and dataset.kind != "image":
        raise ConfigError(f"augment applies to images; {dataset.name!r} is tabular")
    teacher_module, _ = _teacher(teacher, dataset)
    learner = _learner(model, dataset, None, distilled=teacher_module is not None)
    made = learner.build(subset, settings.seed) if learner.kind != "thin" else None
    if not isinstance(made, nn.Module):
        raise ConfigError(
            "model: train_subset trains torch models; use lab.thin.fit_thin(name, "
            "data=labelled_subset(...)) for a thin one"
        )
    _train_torch(made, subset, settings, settings.seed, teacher_module)
    return made.eval()


def learning_curve(
    model: str | Callable[[Data], object],
    data: object = None,
    sizes: Sequence[int] | None = None,
    *,
    repeats: int = 3,
    seed: int = 0,
    split: str = "test",
    teacher: str | nn.Module | None = None,
    temperature: float = 4.0,
    distill_weight: float = 0.9,
    augment: bool = False,
    steps: int | None = None,
    batch_size: int = 64,
    lr: float = 0.05,
    name: str | None = None,
    per_run: bool = False,
) -> pd.DataFrame:
    """Accuracy with its 95 % interval against the number of labelled training examples.

    Args:
        model: what to train at each size — a thin model's name (``"LogisticRegression"``,
            see :func:`lab.thin.thin_names`), a torch family's (``"cnn-s"``, ``"mlp-m"``, see
            :mod:`lab.families`), or a function ``data → untrained model`` returning a
            ``torch.nn.Module`` or an unfitted scikit-learn estimator (called once per run,
            seeded, with a :class:`~lab.datasets.Data` holding that run's training examples).
        data: anything :func:`lab.datasets.as_data` accepts; default Fashion-MNIST. Never
            modified.
        sizes: numbers of training examples, each from the number of classes to the size of
            the ``train`` split; default 5 sizes spaced geometrically up to the whole split.
        repeats: draws of the training examples per size (1–100).
        seed: seeds the draws and each run's initialisation and training (run ``r`` uses
            ``seed + r``); your own random streams are left as they were.
        split: where accuracy is measured: ``"test"`` (default), ``"val"`` or ``"live"``.
        teacher: distil a torch student from this trained teacher (a zoo model's name or an
            ``nn.Module`` mapping the data to logits): the student sees the same labelled
            examples, and the teacher's softened outputs on them.
        temperature: distillation temperature (> 0).
        distill_weight: share of the soft-target loss, 0–1 (the rest is cross-entropy).
        augment: torch models on images: random shifts of ±2 px and horizontal flips.
        steps: optimizer steps per torch run, the same at every size (default 150 with
            ``LAB_QUICK=1``, else 600).
        batch_size: torch runs: examples per step (at most the subset's size).
        lr: torch runs: peak learning rate of the one-cycle schedule.
        name: the label in the ``model`` column (default: the model's name, plus
            ``" ← teacher"`` when distilled).
        per_run: return one row per (size, repeat) with its own accuracy and interval
            instead of one row per size.

    Returns:
        A DataFrame, one row per size: ``model``, ``kind`` (thin / torch / distilled),
        ``n_train``, ``accuracy`` (mean over repeats), ``accuracy_low``/``accuracy_high``
        (Wilson 95 % on ``n_test`` samples), ``spread_low``/``spread_high`` (min/max over
        repeats), ``repeats``, ``n_test``, ``split``, ``train_seconds`` (mean),
        ``steps``, ``teacher``, ``augment``, ``data``.

    Raises:
        ConfigError: a bad argument (a ValueError and a TypeError), naming it and what is
            allowed — before anything is trained.
        DataError: data the lab cannot use.
    """
    settings = CurveSettings(
        sizes=None if sizes is None else sizes,
        repeats=repeats,
        seed=seed,
        split=split,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        augment=augment,
        temperature=temperature,
        distill_weight=distill_weight,
    )
    if name is not None and not isinstance(name, str):
        raise _bad("name", "a string or None", name)
    if not isinstance(per_run, (bool, np.bool_)):
        raise _bad("per_run", "True or False", per_run)
    dataset = as_data(data)
    train = dataset.split("train")
    n_train, n_classes = len(train), dataset.n_classes
    chosen = settings.sizes or _default_sizes(n_train, n_classes)
    low = min(n_classes, n_train)
    outside = [s for s in chosen if not low <= s <= n_train]
    if outside:
        raise ConfigError(
            f"sizes must be from {low} (one example per class) to {n_train} (the whole train "
            f"split of {dataset.name!r}); got {', '.join(map(str, outside))}"
        )
    if settings.augment and dataset.kind != "image":
        raise ConfigError(f"augment applies to images; {dataset.name!r} is tabular")
    teacher_module, teacher_label = _teacher(teacher, dataset)
    learner = _learner(model, dataset, name, distilled=teacher_module is not None)
    if learner.kind == "thin" and settings.augment:
        raise ConfigError("augment applies to torch models; a thin model sees its data as is")
    if name is None and teacher_label is not None:
        learner = _Learner(f"{learner.name} ← {teacher_label}", learner.kind, learner.build)
    evaluation = dataset.split(settings.split)
    labels = train.labels.numpy()
    runs = []
    with tempfile.TemporaryDirectory(prefix="lab-curve-") as tmp:
        for repeat in range(settings.repeats):
            order = training_order(labels, settings.seed, repeat)
            for size in chosen:
                subset = _subset(dataset, order[:size], settings.split)
                right, seconds, done, kind = _run(
                    learner,
                    subset,
                    evaluation,
                    settings,
                    settings.seed + repeat,
                    teacher_module,
                    Path(tmp) / f"{repeat}-{size}",
                )
                correct = int(right.sum())
                low_ci, high_ci = stats.accuracy_interval(correct, len(right))
                runs.append(
                    {
                        "model": learner.name,
                        "kind": kind,
                        "n_train": size,
                        "repeat": repeat,
                        "accuracy": correct / len(right),
                        "accuracy_low": low_ci,
                        "accuracy_high": high_ci,
                        "n_test": len(right),
                        "split": settings.split,
                        "train_seconds": seconds,
                        "steps": done,
                        "teacher": teacher_label,
                        "augment": settings.augment,
                        "data": dataset.name,
                    }
                )
    frame = pd.DataFrame(runs)
    if per_run:
        return frame
    return _summary(frame)


def _summary(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for size, group in runs.groupby("n_train", sort=True):
        first = group.iloc[0]
        mean = float(group["accuracy"].mean())
        n_test = int(first["n_test"])
        low, high = stats.accuracy_interval(int(round(mean * n_test)), n_test)
        rows.append(
            {
                "model": first["model"],
                "kind": first["kind"],
                "n_train": int(size),
                "accuracy": mean,
                "accuracy_low": low,
                "accuracy_high": high,
                "spread_low": float(group["accuracy"].min()),
                "spread_high": float(group["accuracy"].max()),
                "repeats": len(group),
                "n_test": n_test,
                "split": first["split"],
                "train_seconds": float(group["train_seconds"].mean()),
                "steps": int(group["steps"].max()),
                "teacher": first["teacher"],
                "augment": bool(first["augment"]),
                "data": first["data"],
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def plot_learning_curves(curves: pd.DataFrame | Sequence[pd.DataFrame], *, ax=None, title=None):
    """Accuracy against training examples (log scale), one line per model: the band is the
    Wilson 95 % interval, the bars the spread over repeats. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    frame = curves if isinstance(curves, pd.DataFrame) else pd.concat(list(curves))
    missing = {"model", "n_train", "accuracy", "accuracy_low", "accuracy_high"} - set(frame)
    if missing:
        raise ValueError(f"curves lack the columns {sorted(missing)}; pass learning_curve()'s")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    for label, part in frame.groupby("model", sort=False):
        part = part.sort_values("n_train")
        (line,) = ax.plot(part["n_train"], part["accuracy"] * 100, "o-", label=label)
        ax.fill_between(
            part["n_train"],
            part["accuracy_low"] * 100,
            part["accuracy_high"] * 100,
            color=line.get_color(),
            alpha=0.15,
            lw=0,
        )
        if {"spread_low", "spread_high"} <= set(part):
            below = (part["accuracy"] - part["spread_low"]) * 100
            above = (part["spread_high"] - part["accuracy"]) * 100
            ax.errorbar(
                part["n_train"],
                part["accuracy"] * 100,
                yerr=[below, above],
                fmt="none",
                ecolor=line.get_color(),
                capsize=3,
                lw=1,
            )
    ax.set(xscale="log", xlabel="labelled training examples", ylabel="accuracy (%)")
    ax.set_title(title or "Learning curves (band: 95 % interval; bars: spread over repeats)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
