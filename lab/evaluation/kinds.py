"""Model kinds: every kind of model the lab measures, behind one contract.

A *kind* answers, for one model the user gave:

* :meth:`ModelKind.fingerprint` — its content hash (the result store's key; "" = not cacheable);
* :meth:`ModelKind.capabilities` — which techniques apply on a data set, and why not the others;
* :meth:`ModelKind.prepare` — the recipe applied (to a copy), giving a :class:`Runnable`.

A :class:`Runnable` is what executes and is measured, whatever the kind: predictions on a
batch, the bytes of its real file, its fp32 baseline file, parameter counts, operations per
item (and what kind of operation), the calls its latency is timed on, notes and provenance.
:func:`lab.measure.evaluate` runs its metrics over any Runnable — there is one pipeline.

Kinds: :class:`TorchKind` (any ``torch.nn.Module``, or a
:class:`~lab.techniques.apply.Compressed`) and :class:`ScikitLearnKind` (any fitted
scikit-learn estimator, Pipelines included, or a :class:`lab.thin.ThinModel`).
Adding a kind: one subclass of each, one entry in :data:`KINDS`, and the contract tests
(``tests/test_kinds.py``) run over it.

Example:
    >>> import torch
    >>> kind = model_kind(torch.nn.Linear(4, 2))
    >>> kind.label, kind.name
    ('torch', 'Linear')
"""

from __future__ import annotations

import abc
import hashlib
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from lab.cancellation import check
from lab.datasets import Data, as_data
from lab.evaluation import quality
from lab.io import artifact
from lab.memo import Memo
from lab.meters import flops, memory
from lab.meters.timing import THROUGHPUT_BATCH
from lab.models import thin, tiny_models
from lab.models.fingerprint import _hash_value, fingerprint, structure_key
from lab.runtimes import programs
from lab.techniques.apply import Compressed, apply
from lab.techniques.codes import codes_of
from lab.techniques.configs import Recipe
from lab.techniques.resolution import check_runs_at

__all__ = [
    "KINDS",
    "TECHNIQUES",
    "Capabilities",
    "ModelKind",
    "Runnable",
    "ScikitLearnKind",
    "TorchKind",
    "capabilities",
    "fingerprint",
    "is_thin",
    "model_kind",
]

TECHNIQUES = ("sparsity", "bits", "resolution")  # the recipe's knobs, as the dashboard names them
# Fractions of the native size offered by the resolution knob (28 px → 28, 24, 21, 18, 14, 12,
# 10, 8, 7); sizes below the data's smallest size are dropped.
RESOLUTION_FRACTIONS = (1.0, 0.875, 0.75, 0.65, 0.5, 0.43, 0.36, 0.29, 0.25)
OPS_SAMPLE = thin.OPS_SAMPLE  # ``val`` items data-dependent operation counts average over
SIZE_CACHE_ENTRIES = 512  # in-process artifact byte counts remembered (LRU)


@dataclass(frozen=True)
class Capabilities:
    """Which of the recipe's knobs apply to a model on a data set.

    ``problems`` maps each knob that does not apply (``sparsity``, ``bits``, ``resolution``)
    to the reason, in words; ``sizes`` are the resolutions (px, native first) the model runs
    at on this data (``()`` when the knob does not apply).
    """

    problems: dict[str, str] = field(default_factory=dict)
    sizes: tuple[int, ...] = ()
    through: str | None = None  # the knobs act on another form of the model (say which)

    def applies(self, knob: str) -> bool:
        """Whether ``knob`` (one of :data:`TECHNIQUES`) applies."""
        if knob not in TECHNIQUES:
            raise ValueError(f"unknown knob {knob!r}; choose one of {', '.join(TECHNIQUES)}")
        return knob not in self.problems

    def refuse(self, recipe: Recipe, name: str) -> None:
        """Raise a ValueError naming the reason when ``recipe`` uses a knob that does not apply."""
        used = {
            "sparsity": recipe.prune is not None and not recipe.prune.is_identity,
            "bits": recipe.quant is not None,
            "resolution": recipe.resolution is not None,
        }
        for knob, is_used in used.items():
            if is_used and knob in self.problems:
                raise ValueError(f"{knob} cannot be applied to {name}: {self.problems[knob]}")


# --------------------------------------------------------------------------- the contract


class Runnable(abc.ABC):
    """What executes and is measured: a model with its recipe applied."""

    label: str  # the recipe in words ("baseline", "prune 50 % + 4-bit", "scikit-learn")
    executes_as: str  # how it runs ("fp32", "int8 (fbgemm)", "scikit-learn 1.6 SVC")
    notes: list[str]  # what the technique really changes, in words
    resolution: int | None  # px per side it processes (None: tabular data)

    @abc.abstractmethod
    def predict(self, samples: torch.Tensor) -> torch.Tensor:
        """Predictions for a batch of the data's samples (N×C×H×W, N×D or N×L): class codes
        0…K−1 for classification, numbers for regression."""

    @abc.abstractmethod
    def scores(self, samples: torch.Tensor) -> np.ndarray:
        """Binary tasks: one score per item, higher for the positive class (ROC-AUC)."""

    def predict_with_scores(
        self, samples: torch.Tensor, scores: bool
    ) -> tuple[torch.Tensor, np.ndarray | None]:
        """``(predict(samples), scores(samples) or None)``: None when ``scores`` is false or
        the model gives none (e.g. a hard-voting ensemble). A kind whose predictions and
        scores come from one forward pass overrides it to run the model once."""
        predicted = self.predict(samples)
        if not scores:
            return predicted, None
        try:
            return predicted, self.scores(samples)
        except (TypeError, AttributeError, ValueError):
            return predicted, None

    @abc.abstractmethod
    def artifact_bytes(self, cancel: threading.Event | None = None) -> int:
        """Bytes of its real file on disk."""

    @abc.abstractmethod
    def baseline_bytes(self) -> int:
        """Bytes of the file every size ratio is taken against (the input model's)."""

    def bytes_are_quick(self) -> bool:
        """Whether :meth:`artifact_bytes` answers fast (a small file, or one already
        written): a first look then shows them; otherwise they follow with the final."""
        return True

    @abc.abstractmethod
    def parameter_counts(self) -> tuple[int, int]:
        """``(parameters, non-zero parameters)`` it stores."""

    @abc.abstractmethod
    def operations(self, data: Data) -> tuple[int, int, str]:
        """``(flops, macs, kind)`` per item; kind is ``"MACs"`` or ``"comparisons"``."""

    @abc.abstractmethod
    def one_call(self, data: Data) -> Callable[[], object]:
        """One batch-1 inference on a fixed sample of ``data``, as a call to time."""

    @abc.abstractmethod
    def memory(self, data: Data) -> dict:
        """Peak memory of one inference (:mod:`lab.meters.memory`): the Measurement's memory
        fields, planned and measured."""

    def macs_by_kind(self, data: Data) -> dict[str, int] | None:
        """Multiply-accumulates per operation kind (device estimates price each kind), or
        None when they are not counted that way."""
        return None

    def batch_call(self, data: Data) -> Callable[[], object] | None:
        """One inference on a batch of :data:`lab.timing.THROUGHPUT_BATCH` samples, or None
        when the accuracy pass's batches give the throughput."""
        return None

    def extra_fields(self) -> dict:
        """Measurement fields only this kind knows (e.g. training cost)."""
        return {}


class ModelKind(abc.ABC):
    """One kind of model the user gave, before any recipe."""

    label: ClassVar[str]  # "torch", "scikit-learn"

    def __init__(self, model: object) -> None:
        self.model = model

    @classmethod
    @abc.abstractmethod
    def accepts(cls, model: object) -> bool:
        """Whether ``model`` is of this kind."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The default name results are stored under."""

    @abc.abstractmethod
    def fingerprint(self) -> str:
        """Content hash (16 hex) of the model; "" when it cannot be known (not cached)."""

    @abc.abstractmethod
    def runtime_key(self, runtime: str) -> str:
        """What runs it, as the result store's key records it."""

    @abc.abstractmethod
    def capabilities(self, data: Data) -> Capabilities:
        """Which knobs apply on ``data``, and why not the others."""

    @abc.abstractmethod
    def prepare(self, recipe: Recipe, data: Data, runtime: str = "torch") -> Runnable:
        """``recipe`` applied to a copy on ``data`` (the model itself is never modified)."""


# --------------------------------------------------------------------------- shared helpers


# a file of up to this many parameters (the zoo's models: ≤ 0.3 M) is encoded within a first
# look's budget; a bigger one (mobilenet_v3_small's 1.5 M: about a second, resnet18's 11.7 M:
# several) follows with the final figures unless remembered
QUICK_ENCODE_PARAMETERS = 500_000
_SIZES: Memo[int] = Memo(SIZE_CACHE_ENTRIES)  # content key → bytes of a file written once
# FLOPs by what decides them: the model's structure (:func:`structure_key`: modules, their
# settings, tensor shapes) and the example it runs on. Weights do not change the count (a
# pruned weight is still multiplied: torch's rule): a dashboard's moves on one structure
# count it once.
_OPERATIONS: Memo[int] = Memo(SIZE_CACHE_ENTRIES)


def _remembered_bytes(key: str, write: Callable[[], int]) -> int:
    """Bytes of a file ``write()`` produces, remembered (LRU) by the content ``key``."""
    return _SIZES.get(key, write)


def _size_key(model: nn.Module) -> str:
    """What :func:`lab.artifact.save` reads: the state_dict (:func:`fingerprint`), the
    weight codes attached to layers (outside the state_dict) and the modules' shape attributes."""

    digest = hashlib.sha256(
        f"{fingerprint(model)}|{type(model).__module__}.{type(model).__qualname__}"
        f"|format {artifact.FORMAT_VERSION}".encode()
    )
    for name, module in model.named_modules():
        codes = codes_of(module)
        attrs = {
            a: getattr(module, a)
            for a in artifact.SHAPE_ATTRIBUTES
            if isinstance(getattr(module, a, None), int)
        }
        if codes is None and not attrs:
            continue
        digest.update(f"{name}|{sorted(attrs.items())}".encode())
        if codes is not None:
            for key, value in sorted(vars(codes).items()):
                _hash_value(digest, key, value)
    return digest.hexdigest()


def resolution_sizes(model: nn.Module, data: Data) -> tuple[int, ...]:
    """Resolutions (px, native first) among :data:`RESOLUTION_FRACTIONS` of the native size
    that ``model`` runs at on ``data`` (``()`` for data without a native size)."""
    native = data.native_size
    if native is None:
        return ()
    ok = [native]
    candidates = sorted({round(native * f) for f in RESOLUTION_FRACTIONS}, reverse=True)
    for size in candidates:
        if size == native or size < data.min_size:
            continue
        try:
            check_runs_at(model, size, data)
            ok.append(size)
        except ValueError:
            pass
    return tuple(ok)


# --------------------------------------------------------------------------- torch


class TorchRunnable(Runnable):
    """A torch model with its recipe applied: a :class:`Compressed`."""

    def __init__(self, compressed: Compressed, task: str = "multiclass") -> None:
        self.task = task
        compressed.model.eval()
        compressed.runtime.eval()
        self.compressed = compressed
        self.label = compressed.recipe.describe()
        self.executes_as = compressed.executes_as
        self.notes = list(compressed.notes)
        self.resolution = compressed.resolution
        self._file_key_memo: str | None = None
        self.program = programs.program_kind(compressed.model)  # run as it is: TorchScript, ONNX
        if self.program is not None:
            self.executes_as, note = programs.described(compressed.model)
            self.notes.append(note)

    def predict(self, samples: torch.Tensor) -> torch.Tensor:
        return self.predict_with_scores(samples, scores=False)[0]

    def scores(self, samples: torch.Tensor) -> np.ndarray:
        return quality.from_outputs(self.task, self.compressed.runtime(samples))[1]

    def predict_with_scores(
        self, samples: torch.Tensor, scores: bool
    ) -> tuple[torch.Tensor, np.ndarray | None]:
        outputs = self.compressed.runtime(samples)
        if self.task == "regression":
            return outputs.reshape(len(outputs), -1)[:, 0].double(), None
        found = quality.from_outputs(self.task, outputs)[1] if scores else None
        return outputs.argmax(1), found

    def _file_key(self) -> str:
        """:func:`_size_key` of the stored model, hashed once (the runnable's model is the
        lab's own copy, not changed after the recipe is applied)."""
        if self._file_key_memo is None:
            self._file_key_memo = _size_key(self.compressed.model)
        return self._file_key_memo

    def artifact_bytes(self, cancel: threading.Event | None = None) -> int:
        model = self.compressed.model

        def write() -> int:
            check(cancel)
            if self.program is not None:  # the lab's format stores modules a program hides
                return programs.program_bytes(model)
            with tempfile.TemporaryDirectory() as tmp:
                return artifact.save(model, Path(tmp) / "model.lab")

        return _remembered_bytes(self._file_key(), write)

    def bytes_are_quick(self) -> bool:
        model = self.compressed.model
        if sum(p.numel() for p in model.parameters()) <= QUICK_ENCODE_PARAMETERS:
            return True
        return self._file_key() in _SIZES

    def baseline_bytes(self) -> int:
        if self.program is not None:  # no fp32 state_dict to compare with: the program itself
            return self.artifact_bytes()
        original = self.compressed.original or self.compressed.model
        key = f"fp32 state_dict|{fingerprint(original)}"
        return _remembered_bytes(key, lambda: artifact.state_dict_bytes(original))

    def parameter_counts(self) -> tuple[int, int]:
        if self.program == "ONNX":  # its weights are graph initializers, not parameters
            return programs.onnx_parameters(self.compressed.model)
        params = list(self.compressed.model.parameters())
        return sum(p.numel() for p in params), sum(int(torch.count_nonzero(p)) for p in params)

    def operations(self, data: Data) -> tuple[int, int, str]:
        model, example = self.compressed.model, data.example(1, self.resolution)
        if self.program is not None:
            count = programs.program_flops(model, example)
            return count, count // 2, "MACs"
        key = (structure_key(model), example.dtype, tuple(example.shape), example.numpy().tobytes())
        count = _OPERATIONS.get(key, lambda: flops.count_flops(model, example))
        return count, count // 2, "MACs"

    def memory(self, data: Data) -> dict:
        return memory.memory_fields(self.compressed.runtime, data.example(1))

    def macs_by_kind(self, data: Data) -> dict[str, int] | None:
        try:  # counted on the stored model (quantized kernels are not counted)
            return tiny_models.macs_by_kind(self.compressed.model, data.example(1, self.resolution))
        except ValueError:  # operators the split cannot see: the total is still known
            return None

    def _inputs(self, data: Data, batch: int) -> torch.Tensor:
        """Real samples of the data (token ids stay integers), cycled to ``batch``."""
        samples = data.example(8)  # native size: the runtime resizes
        return samples[torch.arange(batch) % len(samples)]

    def one_call(self, data: Data) -> Callable[[], object]:
        runtime, one = self.compressed.runtime, self._inputs(data, 1)
        return torch.no_grad()(lambda: runtime(one))

    def batch_call(self, data: Data) -> Callable[[], object]:
        runtime, batch = self.compressed.runtime, self._inputs(data, THROUGHPUT_BATCH)
        return torch.no_grad()(lambda: runtime(batch))


class TorchKind(ModelKind):
    """Any ``torch.nn.Module`` mapping a batch of samples to logits, or a :class:`Compressed`."""

    label = "torch"

    @classmethod
    def accepts(cls, model: object) -> bool:
        return isinstance(model, (nn.Module, Compressed))

    @property
    def base(self) -> nn.Module:
        """The model as given (a Compressed's stored model)."""
        return self.model.model if isinstance(self.model, Compressed) else self.model

    @property
    def name(self) -> str:
        return type(self.base).__name__

    def fingerprint(self) -> str:
        return fingerprint(self.base)

    def runtime_key(self, runtime: str) -> str:
        return runtime

    def capabilities(self, data: Data) -> Capabilities:
        problems = {}
        if (program := programs.program_kind(self.base)) is not None:
            reason = programs.REWRITE_HINT.format(kind=program)
            problems.update(sparsity=reason, bits=reason)
        resolution = data.resolution_problem()
        sizes = resolution_sizes(self.base, data) if resolution is None else ()
        if resolution is not None:
            problems["resolution"] = resolution
        elif len(sizes) == 1:
            problems["resolution"] = "this model runs only at the native size"
        return Capabilities(problems, sizes)

    def prepare(self, recipe: Recipe, data: Data, runtime: str = "torch") -> Runnable:
        if programs.program_kind(self.base) is not None:
            self.capabilities(data).refuse(recipe, f"this {self.name}")
        if isinstance(self.model, Compressed):
            if runtime != "torch":
                raise ValueError("pass runtime= to apply() when evaluating a Compressed model")
            return TorchRunnable(self.model, data.task)
        compressed = apply(self.model, recipe, progress=False, runtime=runtime, data=data)
        return TorchRunnable(compressed, data.task)


# --------------------------------------------------------------------------- scikit-learn


def _is_estimator(model: object) -> bool:
    if "sklearn.base" not in sys.modules:  # no estimator exists yet: never import it here
        return False
    try:
        from sklearn.base import BaseEstimator
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return False
    return isinstance(model, BaseEstimator)


class ScikitLearnRunnable(Runnable):
    """A fitted scikit-learn estimator as its skops file holds it (recipes do not apply)."""

    def __init__(self, model: thin.ThinModel, data: Data) -> None:
        n_features = int(np.prod(data.input_shape))
        fitted = getattr(model.estimator, "n_features_in_", n_features)  # a Pipeline's first stage
        if fitted != n_features:
            raise ValueError(
                f"{model.name} was fitted on {fitted} features; {data.name!r} has "
                f"{n_features} per sample. Fit it on this data: fit_thin({model.name!r}, data=...)"
            )
        thin.check_estimator_task(model.estimator, data)  # a regressor on classes, or other codes
        self.thin = model
        self.estimator = thin.for_serving(model.estimator)  # what the file holds (n_jobs=None)
        self.label = "scikit-learn" + (" (quick)" if model.quick else "")
        self.executes_as = model.executes_as
        self.resolution = data.native_size
        self.timed_runs: int | None = None  # batch-1 calls timed (set by the pipeline)

    @property
    def notes(self) -> list[str]:
        model, kind = self.thin, self.thin.operations_kind
        notes = [
            f"scikit-learn {model.name}: operations are {kind} per image "
            + ("(threshold comparisons, summed over trees)" if kind == "comparisons" else ""),
            *(
                [f"batch-1 latency over {self.timed_runs} single-image predict calls"]
                if self.timed_runs
                else []
            ),
            "no fp32 torch state_dict: state_dict_bytes = artifact_bytes (skops file)",
        ]
        if model.quick:
            notes.append(f"trained on a stratified {model.n_train:,}-image subset of train (quick)")
        spec = thin.THIN_MODELS.get(model.name)
        if spec is not None and spec.note and model.key:  # the lab fitted it from this spec
            notes.append(spec.note)
        notes.append(model.techniques)
        return notes

    def predict(self, samples: torch.Tensor) -> torch.Tensor:
        rows = thin._read_only(thin.features(samples))
        return torch.from_numpy(np.asarray(self.estimator.predict(rows)))

    def scores(self, samples: torch.Tensor) -> np.ndarray:
        return quality.positive_scores(self.estimator, thin._read_only(thin.features(samples)))

    def artifact_bytes(self, cancel: threading.Event | None = None) -> int:
        check(cancel)
        return self.thin.artifact_bytes

    def baseline_bytes(self) -> int:
        return self.thin.artifact_bytes  # no fp32 torch file: the ratio is 1

    def parameter_counts(self) -> tuple[int, int]:
        return self.thin.parameters, self.thin.nonzero_parameters

    def operations(self, data: Data) -> tuple[int, int, str]:
        cache = self.thin._cache
        key = ("ops", data.fingerprint)
        if key not in cache:
            cache[key] = self.thin.count_operations(data.split("val").images[:OPS_SAMPLE])
        kind = self.thin.operations_kind
        macs = int(round(cache[key]))
        return (macs if kind == "comparisons" else 2 * macs), macs, kind

    def memory(self, data: Data) -> dict:
        rows = thin._read_only(thin.features(data.split("live").images[:1]))
        used = memory.thin_memory(self.estimator, rows)
        return {
            "peak_memory_bytes": used.resident_bytes + used.working_bytes,
            "peak_activation_bytes": used.working_bytes,
            "peak_memory_bytes_throughput": None,
            "peak_memory_measured_bytes": None,
            "rss_increase_bytes": None,
            "peak_memory_op": None,
            "memory_method": used.method,
        }

    def one_call(self, data: Data) -> Callable[[], object]:
        rows = thin._read_only(thin.features(data.split("live").images))
        estimator, position = self.estimator, iter(range(1 << 62))

        def predict_one() -> object:  # rotating through the live items
            i = next(position) % len(rows)
            return estimator.predict(rows[i : i + 1])

        return predict_one

    def extra_fields(self) -> dict:
        model = self.thin
        return {
            "threads": thin._threads(),  # the BLAS/OpenMP threads, not torch's
            "train_seconds": model.train_seconds,
            "train_energy_kwh": model.train_energy_kwh,
        }


class ScikitLearnKind(ModelKind):
    """A fitted scikit-learn estimator (Pipelines included) or a :class:`lab.thin.ThinModel`."""

    label = "scikit-learn"

    def __init__(self, model: object) -> None:
        super().__init__(model)
        self.thin = (
            model if isinstance(model, thin.ThinModel) else thin.ThinModel.from_estimator(model)
        )

    @classmethod
    def accepts(cls, model: object) -> bool:
        return isinstance(model, thin.ThinModel) or _is_estimator(model)

    @property
    def name(self) -> str:
        return self.thin.name

    def fingerprint(self) -> str:
        return (self.thin.file_sha256 or "")[:16]

    def runtime_key(self, runtime: str) -> str:
        return "sklearn"

    def capabilities(self, data: Data) -> Capabilities:
        try:
            self.thin.to_torch()
            problem = None
        except thin.NoTorchForm as exc:
            problem = str(exc)
        return _thin_capabilities(self.name, problem, data)

    def prepare(self, recipe: Recipe, data: Data, runtime: str = "torch") -> Runnable:
        if not recipe.is_identity:
            raise ValueError(
                f"a recipe cannot be applied to a {self.name}: {self.thin.techniques}. Linear "
                "models and the MLP have a torch form: evaluate(thin.to_torch(), recipe)"
            )
        return ScikitLearnRunnable(self.thin, data)


def _thin_capabilities(name: str, torch_form_problem: str | None, data: Data) -> Capabilities:
    """A scikit-learn model's knobs: sparsity and bits through its torch form (if it has
    one: ``torch_form_problem`` is None), never the resolution (every value is a feature)."""
    problems, through = {}, None
    if torch_form_problem is None:
        through = (
            f"{name}'s torch form (ThinModel.to_torch()): a change of runtime, "
            "scikit-learn → torch, besides the technique"
        )
    else:
        problems = dict.fromkeys(("sparsity", "bits"), torch_form_problem)
    problems["resolution"] = data.resolution_problem() or (
        f"{name} reads every input value as a feature: it cannot run on fewer pixels"
    )
    return Capabilities(problems, (data.native_size,) if data.native_size else (), through)


# --------------------------------------------------------------------------- the registry

KINDS: tuple[type[ModelKind], ...] = (TorchKind, ScikitLearnKind)


def model_kind(model: object) -> ModelKind:
    """``model`` behind the contract of its kind; a TypeError names the kinds accepted."""
    for kind in KINDS:
        if kind.accepts(model):
            return kind(model)
    given = type(model).__name__
    if isinstance(model, type):  # the class itself, e.g. nn.Linear or LogisticRegression
        given = f"the class {model.__name__} itself: pass an instance, e.g. {model.__name__}(…)"
    raise TypeError(
        "the lab measures a torch.nn.Module, a Compressed, a lab.thin.ThinModel or a fitted "
        f"scikit-learn estimator; got {given}"
    )


def is_thin(model: object) -> bool:
    """Whether ``model`` is a scikit-learn (thin) model."""
    return ScikitLearnKind.accepts(model)


def capabilities(model: object, data: object = None) -> Capabilities:
    """Which of the recipe's knobs apply to ``model`` on ``data`` (default Fashion-MNIST),
    and why not the others. ``model`` may also be the name of one of :mod:`lab.thin`'s
    models (answered without fitting it).

    Example:
        >>> from lab import zoo
        >>> capabilities(zoo.build("cnn")).sizes[:3]
        (28, 24, 21)
    """

    dataset = as_data(data)
    if isinstance(model, str):
        return _thin_capabilities(model, thin.compression_problem(model), dataset)
    return model_kind(model).capabilities(dataset)
