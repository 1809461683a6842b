"""One small, self-validating config per technique, composed into a :class:`Recipe`.

Configs are frozen, hashable dataclasses (torchao style): they check their arguments in
``__post_init__`` and raise a :class:`ConfigError` (a ``ValueError`` and a ``TypeError``)
naming the allowed values. Booleans must be booleans, numbers must be finite numbers
(NumPy scalars are accepted), names must be strings. A recipe serializes to and from
JSON so that a configuration can be saved, shared and reproduced, and has one canonical
form: a part that changes nothing (0% pruning) is dropped, so
``Recipe(prune=PruneConfig(0.0)) == Recipe()`` and both share one cache key.

Example:
    >>> recipe = Recipe(prune=PruneConfig(sparsity=0.8), quant=QuantConfig(bits=4))
    >>> Recipe.from_json(recipe.to_json()) == recipe
    True
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

from lab.datasets import fashion as data
from lab.models import zoo
from lab.models.training import TrainConfig
from lab.techniques import schema

MAX_RESOLUTION = schema.RESOLUTION_MAX  # px per side; a data set's native size is the real bound

__all__ = [
    "ConfigError",
    "FinetuneConfig",
    "PruneConfig",
    "QuantConfig",
    "Recipe",
    "ResolutionConfig",
]

STRUCTURES = ("unstructured", "channel")
SCOPES = ("global", "layer")
GRANULARITIES = ("tensor", "channel")
QUANT_METHODS = ("uniform", "kmeans")


class ConfigError(ValueError, TypeError):
    """A technique config or recipe was given a value it does not allow; the message says which."""


def _kind(value: object) -> str:
    return type(value).__name__


def _choice(name: str, value: object, allowed: tuple) -> object:
    if not any(value is a or (isinstance(value, str) and value == a) for a in allowed):
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def _boolean(name: str, value: object) -> bool:
    """``True``/``False`` (or a NumPy bool) only: ``"no"`` or ``0`` are not booleans."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise ConfigError(f"{name} must be True or False; got {value!r} ({_kind(value)})")


def _integer(name: str, value: object, low: int, high: int | None = None, what: str = "") -> int:
    """An int (or NumPy integer) in [low, high]; bools, floats and strings are refused."""
    span = f"from {low} to {high}" if high is not None else f"≥ {low}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(
            f"{name} must be an integer {span}{what}; got {value!r} ({_kind(value)})"
            + (" — write it without quotes" if isinstance(value, str) else "")
        )
    if not (low <= int(value) and (high is None or int(value) <= high)):
        raise ConfigError(f"{name} must be an integer {span}{what}; got {value!r}")
    return int(value)


def _number(
    name: str,
    value: object,
    *,
    low: float,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    what: str = "",
) -> float:
    """A finite real (int, float or NumPy scalar) within the bounds; NaN and ±inf are refused."""
    if high is not None:
        span = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    else:
        span = f"{'>' if low_open else '≥'} {low:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(
            f"{name} must be a finite number {span}{what}; got {value!r} ({_kind(value)})"
            + (" — write it without quotes" if isinstance(value, str) else "")
        )
    number = float(value)
    below = number <= low if low_open else number < low
    above = high is not None and (number >= high if high_open else number > high)
    if not math.isfinite(number) or below or above:
        raise ConfigError(f"{name} must be a finite number {span}{what}; got {value!r}")
    return number


def _name(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a layer name (a string); got {value!r} ({_kind(value)})")
    return value


def _layer_map(name: str, value: object, check) -> dict:
    """``{layer name: value}`` with each value checked; returned as a new, key-sorted dict."""
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{name} must be a dict {{layer name: value}}, e.g. {{'conv1': ...}}; "
            f"got {value!r} ({_kind(value)})"
        )
    return {
        _name(f"{name} key", layer): check(f"{name}[{layer!r}]", v)
        for layer, v in sorted(value.items(), key=lambda item: str(item[0]))
    }


def _sparsity(name: str, value: object) -> float:
    bounds = asdict(schema.SPARSITY)  # low, high, low_open, high_open
    return _number(name, value, **bounds, what=" (fraction removed)")


def _bits(name: str, value: object) -> int:
    return _integer(name, value, min(schema.BITS), max(schema.BITS))


def _set(config: object, name: str, value: object) -> None:
    object.__setattr__(config, name, value)


class _Hashable:
    """Frozen configs hold dicts (``per_layer``): hash their canonical JSON instead."""

    def __hash__(self) -> int:
        return hash((type(self).__name__, json.dumps(asdict(self), sort_keys=True)))


@dataclass(frozen=True)
class PruneConfig(_Hashable):
    """Remove a fraction of weights (``unstructured``) or of output channels (``channel``)."""

    sparsity: float = 0.5  # fraction removed, in [0, 1)
    structure: str = "unstructured"  # "unstructured" (magnitude) or "channel" (filters removed)
    scope: str = "global"  # "global" threshold across layers, or the same fraction per "layer"
    per_layer: dict[str, float] = field(default_factory=dict)  # layer name → sparsity override

    def __post_init__(self) -> None:
        _set(self, "sparsity", _sparsity("sparsity", self.sparsity))
        _choice("structure", self.structure, STRUCTURES)
        _choice("scope", self.scope, SCOPES)
        _set(self, "per_layer", _layer_map("per_layer", self.per_layer, _sparsity))

    @property
    def is_identity(self) -> bool:
        """Removes nothing at all."""
        return self.sparsity == 0 and not any(self.per_layer.values())

    __hash__ = _Hashable.__hash__


@dataclass(frozen=True)
class QuantConfig(_Hashable):
    """Quantize weights to ``bits`` (1–8); optionally int8 activations for real int8 execution."""

    bits: int = 8  # weight bit-width, 1–8
    granularity: str | None = None  # per output "channel" or per "tensor"; None: channel for
    # uniform, tensor for kmeans (one shared codebook per layer, as in Deep Compression)
    symmetric: bool = True  # symmetric (zero-point 0) or affine
    method: str = "uniform"  # "uniform" grid or "kmeans" weight sharing (Deep Compression)
    activations: bool = False  # also quantize activations to int8 (static, calibrated)
    per_layer: dict[str, int] = field(default_factory=dict)  # layer name → bits (mixed precision)
    skip: tuple[str, ...] = ()  # layer names left in float (one name or several)

    def __post_init__(self) -> None:
        _set(self, "bits", _bits("bits", self.bits))
        _choice("method", self.method, QUANT_METHODS)
        if self.granularity is None:
            _set(self, "granularity", "tensor" if self.method == "kmeans" else "channel")
        _choice("granularity", self.granularity, GRANULARITIES)
        _set(self, "symmetric", _boolean("symmetric", self.symmetric))
        _set(self, "activations", _boolean("activations", self.activations))
        _set(self, "per_layer", _layer_map("per_layer", self.per_layer, _bits))
        skip = (self.skip,) if isinstance(self.skip, str) else self.skip
        if isinstance(skip, Mapping) or not hasattr(skip, "__iter__"):
            raise ConfigError(
                f"skip must be a layer name or a list of layer names; got {self.skip!r}"
            )
        _set(self, "skip", tuple(_name("skip entry", s) for s in skip))

    __hash__ = _Hashable.__hash__


@dataclass(frozen=True)
class ResolutionConfig(_Hashable):
    """Run the model on ``size``×``size`` inputs, area-downsampled from the data's native size.

    The range a data set allows (4–28 px for Fashion-MNIST; 2 px up to the native size for
    your own square images) is checked where the data is known (:func:`lab.apply`); the
    native size itself changes nothing and is dropped there (``Data.canonical``).
    """

    size: int = data.NATIVE_SIZE  # pixels per side

    def __post_init__(self) -> None:
        _set(
            self,
            "size",
            _integer(
                "resolution size",
                self.size,
                schema.RESOLUTION_MIN,
                schema.RESOLUTION_MAX,
                " (pixels per side)",
            ),
        )

    __hash__ = _Hashable.__hash__


@dataclass(frozen=True)
class FinetuneConfig(_Hashable):
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
        positive = {"low": 0.0, "low_open": True}
        _set(self, "epochs", _number("epochs", self.epochs, **positive, what=" (passes)"))
        if self.max_seconds is not None:
            seconds = _number("max_seconds", self.max_seconds, **positive, what=" or None")
            _set(self, "max_seconds", seconds)
        _set(self, "lr", _number("lr", self.lr, **positive))
        _set(self, "gradual_steps", _integer("gradual_steps", self.gradual_steps, 1))
        _set(self, "augment", _boolean("augment", self.augment))
        if self.teacher is not None:
            _choice("teacher", self.teacher, (None, "original", *zoo.names()))
        _set(self, "temperature", _number("temperature", self.temperature, **positive))
        _set(self, "distill_weight", _number("distill_weight", self.distill_weight, low=0, high=1))

    def train_config(
        self, sizes: tuple[int, ...] = (), max_batches: int | None = None
    ) -> TrainConfig:
        """The :class:`~lab.training.TrainConfig` of this fine-tuning at input ``sizes``
        (() → the data's native size)."""
        return TrainConfig(
            epochs=self.epochs,
            max_seconds=self.max_seconds,
            lr=self.lr,
            augment=self.augment,
            shift=0,
            sizes=tuple(sizes),
            max_batches=max_batches,
        )

    __hash__ = _Hashable.__hash__


_PARTS = {
    "prune": PruneConfig,
    "quant": QuantConfig,
    "resolution": ResolutionConfig,
    "finetune": FinetuneConfig,
}
_EXAMPLE = '{"prune": {"sparsity": 0.8}, "quant": {"bits": 4}}'


@dataclass(frozen=True)
class Recipe(_Hashable):
    """A composition of techniques; any part may be ``None`` (not applied).

    Applied in this order: resolution → prune → fine-tune → quantize (→ QAT). Parts that
    change nothing (0% pruning) are dropped: one canonical form (a resolution at the data's
    native size is dropped where the data is known: ``Data.canonical``).
    """

    prune: PruneConfig | None = None
    quant: QuantConfig | None = None
    resolution: ResolutionConfig | None = None
    finetune: FinetuneConfig | None = None

    def __post_init__(self) -> None:
        for name, kind in _PARTS.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise ConfigError(f"Recipe.{name} must be a {kind.__name__} or None; got {value!r}")
            if getattr(value, "is_identity", False):
                _set(self, name, None)

    @classmethod
    def of(cls, value: object) -> Recipe:
        """``value`` as a recipe: a Recipe, one technique config (e.g. ``PruneConfig(0.5)``) or None."""
        if value is None:
            return cls()
        if isinstance(value, Recipe):
            return value
        for name, kind in _PARTS.items():
            if isinstance(value, kind):
                return cls(**{name: value})
        allowed = ", ".join(kind.__name__ for kind in _PARTS.values())
        raise ConfigError(
            f"expected a Recipe, one technique config ({allowed}) or None; "
            f"got {value!r} ({_kind(value)})"
        )

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
    def from_dict(cls, payload: object) -> Recipe:
        """Build a recipe from plain data; every error names the part and field at fault."""
        if not isinstance(payload, Mapping):
            raise ConfigError(
                f"a recipe must be a JSON object like {_EXAMPLE}; got "
                + ("null" if payload is None else f"{payload!r} ({_kind(payload)})")
            )
        unknown = sorted(set(payload) - set(_PARTS), key=str)
        if unknown:
            raise ConfigError(f"unknown recipe parts {unknown}; allowed: {', '.join(_PARTS)}")
        parts = {}
        for name, value in payload.items():
            if value is None:
                continue
            kind = _PARTS[name]
            allowed = [f.name for f in fields(kind)]
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"recipe part {name!r} must be an object with fields {allowed}, "
                    f"e.g. {_EXAMPLE}; got {value!r} ({_kind(value)})"
                )
            bad = sorted(set(value) - set(allowed), key=str)
            if bad:
                raise ConfigError(f"unknown {name} fields {bad}; allowed: {', '.join(allowed)}")
            try:
                parts[name] = kind(**value)
            except ConfigError as exc:
                raise ConfigError(f"recipe part {name!r}: {exc}") from None
        return cls(**parts)

    @classmethod
    def from_json(cls, text: object) -> Recipe:
        if not isinstance(text, (str, bytes, bytearray)):
            raise ConfigError(f"a recipe's JSON must be a string; got {_kind(text)}")
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"recipe is not valid JSON ({exc.msg} at character {exc.pos}); "
                f"expected an object like {_EXAMPLE}"
            ) from None
        return cls.from_dict(payload)

    @property
    def is_identity(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def describe(self) -> str:
        """Short human label, e.g. ``"prune 80% unstructured · 4-bit channel · 14 px"``."""
        bits = []
        if self.resolution is not None:
            bits.append(f"{self.resolution.size} px")
        if self.prune is not None:
            bits.append(f"prune {self.prune.sparsity:.0%} {self.prune.structure}")
        if self.quant is not None:
            kind = self.quant.method if self.quant.method == "kmeans" else self.quant.granularity
            label = f"{self.quant.bits}-bit {kind}"
            if self.quant.per_layer:
                mixed = ", ".join(f"{k} {v}-bit" for k, v in self.quant.per_layer.items())
                label += f" (mixed: {mixed})"
            bits.append(label + (" +int8 act" if self.quant.activations else ""))
        if self.finetune is not None:
            teacher = self.finetune.teacher
            bits.append("fine-tuned" + (f" (distilled from {teacher})" if teacher else ""))
        return " · ".join(bits) or "baseline"

    __hash__ = _Hashable.__hash__
