"""One small, self-validating config per technique, composed into a :class:`Recipe`.

Configs are frozen dataclasses (torchao style): they check their arguments in
``__post_init__`` and raise a ``ValueError`` naming the allowed values. A recipe
serializes to and from JSON so that a configuration can be saved, shared and
reproduced.

Example:
    >>> recipe = Recipe(prune=PruneConfig(sparsity=0.8), quant=QuantConfig(bits=4))
    >>> Recipe.from_json(recipe.to_json()) == recipe
    True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

from .. import data
from ..training import TrainConfig

__all__ = ["FinetuneConfig", "PruneConfig", "QuantConfig", "Recipe", "ResolutionConfig"]

STRUCTURES = ("unstructured", "channel")
SCOPES = ("global", "layer")
GRANULARITIES = ("tensor", "channel")
QUANT_METHODS = ("uniform", "kmeans")


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def _check_sparsity(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(
            f"{name} must be a number in [0, 1) (fraction of weights removed); got {value!r}"
        )


def _check_bits(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 8:
        raise ValueError(f"{name} must be an integer from 1 to 8; got {value!r}")


@dataclass(frozen=True)
class PruneConfig:
    """Remove a fraction of weights (``unstructured``) or of output channels (``channel``)."""

    sparsity: float = 0.5  # fraction removed, in [0, 1)
    structure: str = "unstructured"  # "unstructured" (magnitude) or "channel" (filters removed)
    scope: str = "global"  # "global" threshold across layers, or the same fraction per "layer"
    per_layer: dict[str, float] = field(default_factory=dict)  # layer name → sparsity override

    def __post_init__(self) -> None:
        _check_sparsity("sparsity", self.sparsity)
        _check_choice("structure", self.structure, STRUCTURES)
        _check_choice("scope", self.scope, SCOPES)
        for layer, value in self.per_layer.items():
            _check_sparsity(f"per_layer[{layer!r}]", value)


@dataclass(frozen=True)
class QuantConfig:
    """Quantize weights to ``bits`` (1–8); optionally int8 activations for real int8 execution."""

    bits: int = 8  # weight bit-width, 1–8
    granularity: str | None = None  # per output "channel" or per "tensor"; None: channel for
    # uniform, tensor for kmeans (one shared codebook per layer, as in Deep Compression)
    symmetric: bool = True  # symmetric (zero-point 0) or affine
    method: str = "uniform"  # "uniform" grid or "kmeans" weight sharing (Deep Compression)
    activations: bool = False  # also quantize activations to int8 (static, calibrated)
    per_layer: dict[str, int] = field(default_factory=dict)  # layer name → bits (mixed precision)
    skip: tuple[str, ...] = ()  # layer names left in float

    def __post_init__(self) -> None:
        _check_bits("bits", self.bits)
        _check_choice("method", self.method, QUANT_METHODS)
        if self.granularity is None:
            object.__setattr__(
                self, "granularity", "tensor" if self.method == "kmeans" else "channel"
            )
        _check_choice("granularity", self.granularity, GRANULARITIES)
        for layer, bits in self.per_layer.items():
            _check_bits(f"per_layer[{layer!r}]", bits)
        object.__setattr__(self, "skip", tuple(self.skip))


@dataclass(frozen=True)
class ResolutionConfig:
    """Run the model on ``size``×``size`` inputs (area-downsampled from 28 px)."""

    size: int = data.NATIVE_SIZE  # 4 … 28 px

    def __post_init__(self) -> None:
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, int)
            or not (4 <= self.size <= data.NATIVE_SIZE)
        ):
            raise ValueError(
                f"resolution size must be an integer from 4 to {data.NATIVE_SIZE} px "
                f"(the native size); got {self.size!r}"
            )


@dataclass(frozen=True)
class FinetuneConfig:
    """Short, time-bounded fine-tuning after pruning/quantization (QAT when quantizing).

    ``teacher`` turns on knowledge distillation (:mod:`lab.techniques.distillation`):
    ``"original"`` (the model before compression) or a zoo model's name.
    """

    epochs: float = 1.0  # passes over the training split
    max_seconds: float | None = 60.0  # wall-clock bound
    lr: float = 0.01
    gradual_steps: int = 1  # >1: reach the target sparsity in this many pruning steps
    augment: bool = False  # random flips (the zoo's training augmentation) while fine-tuning
    teacher: str | None = None  # None (labels only), "original" or a zoo name
    temperature: float = 4.0  # softens the teacher's and student's outputs (distillation)
    distill_weight: float = 0.9  # share of the soft-target loss; the rest is cross-entropy

    def __post_init__(self) -> None:
        if self.epochs <= 0:
            raise ValueError(f"epochs must be > 0; got {self.epochs!r}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"max_seconds must be > 0 or None; got {self.max_seconds!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0; got {self.lr!r}")
        if not isinstance(self.gradual_steps, int) or self.gradual_steps < 1:
            raise ValueError(f"gradual_steps must be an integer ≥ 1; got {self.gradual_steps!r}")
        if self.teacher is not None:
            from .. import zoo

            _check_choice("teacher", self.teacher, (None, "original", *zoo.names()))
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0; got {self.temperature!r}")
        if not 0.0 <= self.distill_weight <= 1.0:
            raise ValueError(f"distill_weight must be in [0, 1]; got {self.distill_weight!r}")

    def train_config(
        self, sizes: tuple[int, ...] = (data.NATIVE_SIZE,), max_batches: int | None = None
    ) -> TrainConfig:
        """The :class:`~lab.training.TrainConfig` of this fine-tuning at input ``sizes``."""
        return TrainConfig(
            epochs=self.epochs,
            max_seconds=self.max_seconds,
            lr=self.lr,
            augment=self.augment,
            shift=0,
            sizes=tuple(sizes),
            max_batches=max_batches,
        )


_PARTS = {
    "prune": PruneConfig,
    "quant": QuantConfig,
    "resolution": ResolutionConfig,
    "finetune": FinetuneConfig,
}


@dataclass(frozen=True)
class Recipe:
    """A composition of techniques; any part may be ``None`` (not applied).

    Applied in this order: resolution → prune → fine-tune → quantize (→ QAT).
    """

    prune: PruneConfig | None = None
    quant: QuantConfig | None = None
    resolution: ResolutionConfig | None = None
    finetune: FinetuneConfig | None = None

    def __post_init__(self) -> None:
        for name, kind in _PARTS.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise ValueError(f"Recipe.{name} must be a {kind.__name__} or None; got {value!r}")

    def to_dict(self) -> dict:
        """Plain-data form (only the parts that are set)."""
        return {
            f.name: asdict(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, payload: dict) -> Recipe:
        unknown = set(payload) - set(_PARTS)
        if unknown:
            raise ValueError(
                f"unknown recipe parts {sorted(unknown)}; allowed: {', '.join(_PARTS)}"
            )
        parts = {}
        for name, value in payload.items():
            if value is not None:
                if name == "quant" and "skip" in value:
                    value = {**value, "skip": tuple(value["skip"])}
                parts[name] = _PARTS[name](**value)
        return cls(**parts)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        return cls.from_dict(json.loads(text))

    @property
    def is_identity(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def describe(self) -> str:
        """Short human label, e.g. ``"prune 80% unstructured · 4-bit channel · 14 px"``."""
        bits = []
        if self.resolution is not None and self.resolution.size != data.NATIVE_SIZE:
            bits.append(f"{self.resolution.size} px")
        if self.prune is not None and self.prune.sparsity > 0:
            bits.append(f"prune {self.prune.sparsity:.0%} {self.prune.structure}")
        if self.quant is not None:
            label = f"{self.quant.bits}-bit {self.quant.method if self.quant.method == 'kmeans' else self.quant.granularity}"
            if self.quant.per_layer:
                label += f" (mixed: {', '.join(f'{k} {v}-bit' for k, v in self.quant.per_layer.items())})"
            bits.append(label + (" +int8 act" if self.quant.activations else ""))
        if self.finetune is not None:
            teacher = self.finetune.teacher
            bits.append("fine-tuned" + (f" (distilled from {teacher})" if teacher else ""))
        return " · ".join(bits) or "baseline"
