"""Let the machine search: multi-objective search over architectures, training and compression.

The survey's automation pillar. Each trial builds a :class:`~lab.architectures.SearchNet`
(widths, depth, kernel size, depthwise or full convolutions, pooling, head grid), trains
it at an input resolution (epochs, learning rate, optionally distilled from a zoo
teacher), compresses it with a :class:`~lab.techniques.configs.Recipe` (sparsity,
structure, bits, uniform or k-means, the classifier's own precision) and measures it
with :func:`lab.measure.evaluate` on the validation split — so every trial lands in the
lab's result store beside everything else. **Val chooses; test reports**, once, for the
trials on the final frontier (:meth:`SearchResult.test_accuracy`).

Optuna runs the search (NSGA-II or multi-objective TPE), on the lab's SQLite file by
default (one machine, ``n_workers`` processes) or on PostgreSQL by URL (several
machines: start ``python -m lab search --storage postgresql://…`` on each, with the same
``--study``). Nothing is home-made about the storage: it is Optuna's ``RDBStorage``.

Multi-fidelity: Optuna's pruners (``trial.report``/``should_prune``) refuse
multi-objective studies, so a trial is first trained for a fraction of its epochs and
stopped if its validation accuracy there is below the median of the trials that went
on (the median stopping rule of Google Vizier, Golovin et al. 2017); stopped trials are
recorded as Optuna's ``PRUNED`` and never become frontier points.

Example:
    >>> result = search(SearchSpace.tiny(), n_trials=2, study="doc")  # doctest: +SKIP
    >>> result.frontier()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import numbers
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from lab.datasets import Data, DataError, as_data
from lab.datasets import fashion as data
from lab.decide import objectives as objective_table
from lab.decide.search_inputs import (
    Constraint,
    StorageError,
    check_bounded,
    check_constraints,
    check_objectives,
    check_seed,
    check_storage_url,
    check_study_name,
    first_line,
    open_storage,
    shown_url,
    storage_key,
)
from lab.evaluation import measure, quality
from lab.io import artifact
from lab.io.store import default_store
from lab.models import zoo
from lab.models.architectures import SearchNet
from lab.models.training import TrainConfig, accuracy, fit
from lab.techniques import schema
from lab.techniques.apply import apply
from lab.techniques.configs import (
    ConfigError,
    FinetuneConfig,
    PruneConfig,
    QuantConfig,
    Recipe,
    ResolutionConfig,
)
from lab.techniques.distillation import distillation_loss
from lab.techniques.resolution import AtResolution

__all__ = [
    "OBJECTIVES",
    "SearchResult",
    "SearchSpace",
    "search",
    "study_folder_name",
    "trial_models_dir",
]

# name → (Optuna direction, Measurement field or quality metric). Costs come from the one
# objectives table (lab.decide.objectives); quality is any single-number metric of the
# registry (lab.evaluation.quality) read on val; these are the names a search's studies store.
OBJECTIVES = {
    "val_accuracy": ("maximize", "accuracy"),
    **{
        f"val_{name}": ("maximize" if entry.higher_is_better else "minimize", name)
        for name, entry in quality.METRICS.items()
        if name in quality.RANKABLE and name != "accuracy"
    },
    **{
        name: ("minimize", objective_table.get(name).field)
        for name in (
            "artifact_bytes",
            "macs",
            "latency_ms_p50",
            "co2_g_per_1k",
            "peak_memory_bytes",
            "peak_activation_bytes",
        )
    },
    "latency_ms": ("minimize", objective_table.get("latency").field),  # the older name
}
SAMPLERS = ("nsga2", "tpe")
QUICK_BATCHES = 60  # training steps per epoch in quick mode (LAB_QUICK=1): a data fraction


def _range(name: str, value: object, low: float, high: float, integer: bool = False) -> tuple:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ConfigError(f"{name} must be a (low, high) pair; got {value!r}")
    lo, hi = value
    kinds = (int,) if integer else (int, float)
    for v in value:
        if isinstance(v, bool) or not isinstance(v, kinds) or not math.isfinite(v):
            kind = "integers" if integer else "finite numbers"
            raise ConfigError(f"{name} must hold two {kind}; got {value!r}")
    if not low <= lo <= hi <= high:
        raise ConfigError(
            f"{name} must satisfy {low:g} ≤ low ≤ high ≤ {high:g} (not an empty range); got {value!r}"
        )
    return (lo, hi)


def _choices(name: str, value: object, check) -> tuple:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ConfigError(f"{name} must be a non-empty list of choices; got {value!r}")
    for v in value:
        check(v)
    return tuple(dict.fromkeys(value))


def _sparsity_range(value: object) -> tuple:
    """``(low, high)`` with both ends inside the recipe schema's sparsity interval."""
    lo, hi = _range("sparsity", value, schema.SPARSITY.low, schema.SPARSITY.high)
    if not (schema.SPARSITY.contains(lo) and schema.SPARSITY.contains(hi)):
        raise ConfigError(
            f"sparsity must be a (low, high) pair within {schema.SPARSITY.describe()} "
            f"(fraction removed); got {value!r}"
        )
    return (lo, hi)


@dataclass(frozen=True)
class SearchSpace:
    """What a search may choose. Ranges are ``(low, high)``; choices are tuples."""

    widths: tuple[int, ...] = (4, 8, 12, 16, 24, 32)  # channels of each conv stage
    depth: tuple[int, int] = (1, 3)  # conv stages
    kernels: tuple[int, ...] = (3, 5)
    depthwise: tuple[bool, ...] = (False, True)  # depthwise-separable stages after the first
    pools: tuple[str, ...] = ("max", "avg")
    head_grids: tuple[int, ...] = (1, 2, 3)  # adaptive pooling grid before the classifier
    resolutions: tuple[int, ...] = (14, 20, 28)  # input pixels per side
    epochs: tuple[float, float] = (1.0, 6.0)
    lr: tuple[float, float] = (0.01, 0.1)  # sampled on a log scale
    teachers: tuple[str | None, ...] = (None, "teacher")  # None: labels only
    temperature: tuple[float, float] = (2.0, 6.0)
    sparsity: tuple[float, float] = (0.0, 0.9)
    structures: tuple[str, ...] = ("unstructured",)
    bits: tuple[int, int] = (2, 8)
    methods: tuple[str, ...] = ("uniform", "kmeans")
    classifier_bits: tuple[int, ...] = (0,)  # 0: same as the rest; else the classifier's bits
    finetune_epochs: tuple[float, float] = (0.0, 1.0)  # after pruning/quantizing (QAT)

    def __post_init__(self) -> None:
        def positive_int(v: object) -> None:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"widths must be positive integers; got {v!r}")

        def one_of(name: str, allowed: tuple):
            def check(v: object) -> None:
                if v not in allowed:
                    raise ConfigError(f"{name} must be chosen from {allowed}; got {v!r}")

            return check

        def resolution(v: object) -> None:
            try:  # the recipe schema's pixel range; the data's own range: see check()
                ResolutionConfig(v)
            except ConfigError:
                raise ConfigError(
                    f"resolutions must be integers from {schema.RESOLUTION_MIN} to "
                    f"{schema.RESOLUTION_MAX} (pixels per side); got {v!r}"
                ) from None

        def kernel(v: object) -> None:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1 or v % 2 == 0:
                raise ConfigError(f"kernels must be odd positive integers; got {v!r}")

        def grid(v: object) -> None:
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 7:
                raise ConfigError(f"head_grids must be integers from 1 to 7; got {v!r}")

        def cls_bits(v: object) -> None:
            top = max(schema.BITS)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= top:
                raise ConfigError(
                    f"classifier_bits must be integers from 0 (same) to {top}; got {v!r}"
                )

        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        set_("widths", _choices("widths", self.widths, positive_int))
        set_("depth", _range("depth", self.depth, 1, 6, integer=True))
        set_("kernels", _choices("kernels", self.kernels, kernel))
        set_("depthwise", _choices("depthwise", self.depthwise, one_of("depthwise", (True, False))))
        set_("pools", _choices("pools", self.pools, one_of("pools", ("max", "avg"))))
        set_("head_grids", _choices("head_grids", self.head_grids, grid))
        set_("resolutions", _choices("resolutions", self.resolutions, resolution))
        set_("epochs", _range("epochs", self.epochs, 1e-3, 1000))
        set_("lr", _range("lr", self.lr, 1e-6, 10))
        set_(
            "teachers",
            _choices("teachers", self.teachers, one_of("teachers", (None, *zoo.names()))),
        )
        set_("temperature", _range("temperature", self.temperature, 0.1, 100))
        set_("sparsity", _sparsity_range(self.sparsity))
        structures = one_of("structures", ("unstructured", "channel"))
        set_("structures", _choices("structures", self.structures, structures))
        set_("bits", _range("bits", self.bits, min(schema.BITS), max(schema.BITS), integer=True))
        set_("methods", _choices("methods", self.methods, one_of("methods", ("uniform", "kmeans"))))
        set_("classifier_bits", _choices("classifier_bits", self.classifier_bits, cls_bits))
        set_("finetune_epochs", _range("finetune_epochs", self.finetune_epochs, 0.0, 1000))

    @classmethod
    def tiny(cls) -> SearchSpace:
        """A small space whose trials take seconds on a CPU (tests, quick demos)."""
        return cls(
            widths=(4, 8, 12),
            depth=(1, 2),
            head_grids=(1, 2),
            resolutions=(14, 20),
            epochs=(0.2, 0.5),
            teachers=(None,),
            finetune_epochs=(0.0, 0.0),
        )

    @classmethod
    def for_data(cls, data: object = None) -> SearchSpace:
        """The default space fitted to ``data``: resolutions at ½, ¾ and all of its native
        size, and the zoo's teacher only where the zoo's models fit the data."""
        dataset = as_data(data)
        if zoo.fits(dataset):
            return cls()
        _check_searchable(dataset)
        native = dataset.native_size
        sizes = sorted(
            {s for s in (native // 2, round(native * 0.75), native) if s >= dataset.min_size}
        )
        return cls(resolutions=tuple(sizes), teachers=(None,))

    def check(self, data: object = None) -> SearchSpace:
        """This space, or a ConfigError naming what ``data`` does not allow (resolutions
        outside its range, a zoo teacher for data the zoo was not trained on)."""
        dataset = as_data(data)
        _check_searchable(dataset)
        for size in self.resolutions:
            try:
                dataset.check_size(size)
            except DataError as exc:
                raise ConfigError(str(exc)) from None
        if not zoo.fits(dataset) and any(t is not None for t in self.teachers):
            raise ConfigError(
                f"teachers are Fashion-MNIST zoo models; on {dataset.name!r} use teachers=(None,)"
            )
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def _check_searchable(dataset: Data) -> None:
    if dataset.native_size is None:
        raise ConfigError(
            f"search() builds convolutional networks for square images; {dataset.name!r} has "
            f"{dataset.describe()}: compare thin models and lab.families' MLPs instead"
        )


@dataclass(frozen=True)
class Candidate:
    """One trial's choices: how to build, train and compress the network."""

    architecture: dict  # SearchNet keyword arguments (in_channels and num_classes included)
    resolution: int
    epochs: float
    lr: float
    teacher: str | None
    temperature: float
    recipe: Recipe

    def build(self) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return SearchNet(**self.architecture)


def _suggest(trial, space: SearchSpace, dataset: Data) -> Candidate:
    depth = trial.suggest_int("depth", *space.depth)
    widths = tuple(trial.suggest_categorical(f"width_{i}", space.widths) for i in range(depth))
    architecture = {
        "widths": widths,
        "kernel": trial.suggest_categorical("kernel", space.kernels),
        "depthwise": trial.suggest_categorical("depthwise", space.depthwise)
        if depth > 1
        else False,
        "pool": trial.suggest_categorical("pool", space.pools) if depth > 1 else "max",
        "head_grid": trial.suggest_categorical("head_grid", space.head_grids),
        "in_channels": dataset.input_shape[0],
        "num_classes": dataset.n_classes,
    }
    resolution = trial.suggest_categorical("resolution", space.resolutions)
    teacher = trial.suggest_categorical("teacher", space.teachers)
    temperature = trial.suggest_float("temperature", *space.temperature) if teacher else 4.0
    sparsity = trial.suggest_float("sparsity", *space.sparsity)
    structure = trial.suggest_categorical("structure", space.structures)
    bits = trial.suggest_int("bits", *space.bits)
    method = trial.suggest_categorical("method", space.methods)
    classifier_bits = trial.suggest_categorical("classifier_bits", space.classifier_bits)
    finetune_epochs = trial.suggest_float("finetune_epochs", *space.finetune_epochs)
    recipe = Recipe(
        resolution=ResolutionConfig(resolution),
        # three decimals, kept inside the space (round(0.9996, 3) would be 1.0: refused)
        prune=PruneConfig(
            min(max(round(sparsity, 3), space.sparsity[0]), space.sparsity[1]),
            structure=structure,
        ),
        quant=QuantConfig(
            bits=bits,
            method=method,
            per_layer={"classifier": classifier_bits} if classifier_bits else {},
        ),
        finetune=FinetuneConfig(epochs=finetune_epochs, max_seconds=None, lr=0.005)
        if finetune_epochs > 0
        else None,
    )
    return Candidate(
        architecture=architecture,
        resolution=resolution,
        epochs=trial.suggest_float("epochs", *space.epochs),
        lr=trial.suggest_float("lr", *space.lr, log=True),
        teacher=teacher,
        temperature=temperature,
        recipe=recipe,
    )


@dataclass(frozen=True)
class _Settings:
    """How trials run (the same in every worker process)."""

    study: str
    storage: str
    objectives: tuple[str, ...]
    constraints: tuple[Constraint, ...]
    space: SearchSpace
    quick: bool
    seed: int
    fidelity: float  # fraction of the epochs trained before the stopping rule is applied
    prune_trials: bool
    min_trials_before_stopping: int
    threads: int
    models_dir: str
    data: Data | None = None  # None: Fashion-MNIST (read in each worker, never pickled)


def _loss(candidate: Candidate):
    if candidate.teacher is None:
        return None

    return distillation_loss(zoo.load(candidate.teacher), candidate.temperature, 0.9)


def _train(model: nn.Module, candidate: Candidate, epochs: float, settings: _Settings) -> None:

    if epochs <= 0:
        return
    config = TrainConfig(
        epochs=epochs,
        lr=candidate.lr,
        sizes=(candidate.resolution,),
        seed=settings.seed,
        max_batches=max(1, round(QUICK_BATCHES * epochs)) if settings.quick else None,
        augment=False,
    )
    fit(model, config, loss_fn=_loss(candidate), progress=False, device="cpu", data=settings.data)


def _median_stop(trial, accuracy: float, settings: _Settings) -> bool:
    """Vizier's median stopping rule on the validation accuracy after the first fidelity rung."""
    import optuna

    finished = [
        t.user_attrs["rung0_val_accuracy"]
        for t in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if "rung0_val_accuracy" in t.user_attrs
    ]
    if len(finished) < settings.min_trials_before_stopping:
        return False
    return accuracy < statistics.median(finished)


def _objective(trial, settings: _Settings):
    import optuna

    dataset = as_data(settings.data)
    candidate = _suggest(trial, settings.space, dataset)
    trial.set_user_attr("architecture", candidate.architecture)
    trial.set_user_attr("recipe", candidate.recipe.to_json())
    model = candidate.build()
    first = candidate.epochs * settings.fidelity if settings.prune_trials else 0.0
    if first > 0:
        _train(model, candidate, first, settings)
        rung0 = accuracy(model, "val", size=candidate.resolution, device="cpu", data=dataset)
        trial.set_user_attr("rung0_val_accuracy", rung0)
        if _median_stop(trial, rung0, settings):
            raise optuna.TrialPruned(
                f"val accuracy {rung0:.2%} after {first:.2f} epochs: below the median"
            )
    _train(model, candidate, candidate.epochs - first, settings)
    compressed = apply(model, dataset.canonical(candidate.recipe), progress=False, data=dataset)
    name = f"search/{settings.study}/{trial.number}"
    m = measure.evaluate(compressed, split="val", effort="quick", name=name, data=dataset)
    row = {k: v for k, v in m.to_row().items() if isinstance(v, (int, float, str)) or v is None}
    trial.set_user_attr("measurement", row)
    values = {key: _value(m, OBJECTIVES[key][1], key) for key in settings.objectives}
    for bound in settings.constraints:
        key = f"val_{bound.name}" if bound.quality else bound.name
        values.setdefault(key, _value(m, bound.name, key))
    violation = [
        bound.excess(values[f"val_{bound.name}" if bound.quality else bound.name])
        for bound in settings.constraints
    ]
    for bound, excess in zip(settings.constraints, violation, strict=True):
        trial.set_constraint(str(bound), excess)  # feasible when ≤ 0; samplers and fronts see it
    trial.set_user_attr("constraint", violation)
    trial.set_user_attr("quality", {k: v for k, v in values.items() if k.startswith("val_")})
    judged = [OBJECTIVES[k][1] for k in settings.objectives if OBJECTIVES[k][1] in quality.METRICS]
    judged += [bound.name for bound in settings.constraints if bound.quality]
    trial.set_user_attr("quality_record", quality.record(m, judged))  # the model card's
    _save_model(compressed.model, candidate, trial.number, settings)
    return tuple(values[key] for key in settings.objectives)


def _value(m: measure.Measurement, field_or_metric: str, key: str) -> float:
    """A trial's objective: a Measurement field (a cost, accuracy) or a quality metric from
    the per-item results on val (:func:`lab.evaluation.quality.estimate_of`)."""
    if field_or_metric in quality.METRICS and field_or_metric != "accuracy":
        found = quality.estimate_of(m, field_or_metric, interval=False)
        value = None if found is None else found.value
    else:
        value = getattr(m, field_or_metric)
    if value is None:
        raise RuntimeError(f"objective {key} is unavailable for this trial: {m.energy_source}")
    return float(value)


def _save_model(stored: nn.Module, candidate: Candidate, number: int, settings: _Settings) -> None:
    """Keep the compressed trial's artifact (for test accuracy and export of frontier points)."""
    folder = Path(settings.models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    # no meta: the file is exactly the one whose bytes were measured (the architecture and
    # recipe are in the study and in the exported model card)
    artifact.save(stored, folder / f"trial-{number}.lab")


def _sampler(kind: str, seed: int):
    """Optuna's sampler; each worker gets its own seed (else their random starts coincide)."""
    import optuna

    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=8)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True)


def _storage(url: str):

    return open_storage(url)  # a StorageError naming the URL when it cannot be opened


def _load_study(settings: _Settings, sampler: str, worker: int = 0):
    """The study, with a sampler seeded by (seed, worker, trials so far): a fresh search is
    reproducible, and a resumed one or a second worker does not replay the same start."""
    import optuna

    directions = [OBJECTIVES[name][0] for name in settings.objectives]
    storage = _storage(settings.storage)
    try:
        study = optuna.create_study(
            study_name=settings.study, storage=storage, directions=directions, load_if_exists=True
        )
        _check_same_objectives(study, settings)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy, Optuna: e.g. a read-only database
        raise StorageError(
            f"storage {shown_url(settings.storage)} cannot hold study {settings.study!r}: "
            f"{first_line(exc)}"
        ) from None
    earlier = len(study.get_trials(deepcopy=False))
    study.sampler = _sampler(sampler, settings.seed + 1000 * worker + 7919 * earlier)
    return study


def _check_same_objectives(study, settings: _Settings) -> None:
    """A resumed study must have this search's objectives, constraints and data (Optuna loads
    an existing study whatever directions are asked for, and trials judged by other bounds
    or measured on other data would share one frontier); a new one records them."""

    recorded = study.user_attrs.get("objectives")
    directions = [d.name.lower() for d in study.directions]
    wanted = [OBJECTIVES[name][0] for name in settings.objectives]
    fresh = not study.get_trials(deepcopy=False)
    if recorded is None and fresh and directions == wanted:
        study.set_user_attr("objectives", list(settings.objectives))
    elif (recorded is not None and list(recorded) != list(settings.objectives)) or (
        directions != wanted
    ):
        held = ", ".join(recorded) if recorded else f"{len(directions)} ({', '.join(directions)})"
        raise ConfigError(
            f"study {settings.study!r} in storage {shown_url(settings.storage)} already exists "
            f"with objectives {held}; this search asks for {', '.join(settings.objectives)}: "
            "pass the same objectives to resume it, or another study name"
        )
    dataset = as_data(settings.data)
    asked = {
        "constraints": sorted(str(c) for c in settings.constraints),
        "data": {"name": dataset.name, "fingerprint": dataset.fingerprint},
    }
    for key, value in asked.items():
        held = study.user_attrs.get(key)
        if held is None:
            if fresh:  # (a study made before these were recorded is not checked)
                study.set_user_attr(key, value)
            continue
        if held != value:
            shown = {
                "constraints": lambda v: ", ".join(v) if v else "none",
                "data": lambda v: f"{v['name']!r} (fingerprint {v['fingerprint'][:12]})",
            }[key]
            raise ConfigError(
                f"{key} of study {settings.study!r} in storage {shown_url(settings.storage)} "
                f"are {shown(held)}; this search asks for {shown(value)}: its trials would be "
                f"judged apart from the earlier ones — pass the same {key} to resume it, or "
                "another study name"
            )


def _finished(study) -> int:
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def _work(
    settings: _Settings,
    sampler: str,
    n_trials: int | None,
    deadline: float | None,
    worker: int = 0,
    after_trial=None,
) -> None:
    """One worker: run trials until the study holds ``n_trials`` finished ones or time is up."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _load_study(settings, sampler, worker)
    callbacks = []
    if n_trials is not None:
        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        callbacks.append(optuna.study.MaxTrialsCallback(n_trials, states=states))
    while True:
        if n_trials is not None and _finished(study) >= n_trials:
            return
        if deadline is not None and time.time() >= deadline:
            return
        study.optimize(lambda t: _objective(t, settings), n_trials=1, callbacks=callbacks)
        if after_trial is not None:
            after_trial()


def _worker_main(settings: _Settings, sampler: str, n_trials, deadline, worker: int) -> None:
    torch.set_num_threads(settings.threads)  # this worker process only
    _work(settings, sampler, n_trials, deadline, worker)


@dataclass
class SearchResult:
    """A search's study, read back from its storage (every worker's trials)."""

    study_name: str
    storage: str
    objectives: tuple[str, ...]
    models_dir: str
    constraints: tuple = ()  # Constraint objects (lab.decide.search_inputs)
    data: Data | None = field(default=None, repr=False)  # None: Fashion-MNIST
    _opened: object = field(default=None, init=False, repr=False, compare=False)

    def study(self):
        import optuna

        if self._opened is None:
            self._opened = _storage(self.storage)  # one engine per result, not per call
        study = optuna.load_study(study_name=self.study_name, storage=self._opened)
        recorded = study.user_attrs.get("objectives")
        if recorded is not None and tuple(recorded) != tuple(self.objectives):
            raise ConfigError(  # its values would be read under the wrong names
                f"objectives of study {self.study_name!r} are {', '.join(recorded)}; this "
                f"result names them {', '.join(self.objectives)}: pass the study's own"
            )
        return study

    def trials_frame(self) -> pd.DataFrame:
        """One row per trial: state, objectives, architecture, recipe, and the measurement."""
        rows = []
        for t in self.study().get_trials(deepcopy=False):
            row = {
                "number": t.number,
                "state": t.state.name,
                **{f"param_{k}": v for k, v in t.params.items()},
            }
            if t.values is not None:
                row.update(dict(zip(self.objectives, t.values, strict=True)))
            row["feasible"] = all(v <= 0 for v in t.user_attrs.get("constraint", [])) and (
                t.values is not None
            )
            row["architecture"] = json.dumps(t.user_attrs.get("architecture"))
            row["recipe"] = t.user_attrs.get("recipe")
            measured = t.user_attrs.get("measurement", {})
            for key in ("accuracy", "artifact_bytes", "macs", "latency_ms_p50", "co2_g_per_1k"):
                row[key] = measured.get(key)
            for key, value in t.user_attrs.get("quality", {}).items():
                row.setdefault(key, value)  # quality objectives and constraints on val
            row["seconds"] = (
                (t.datetime_complete - t.datetime_start).total_seconds()
                if t.datetime_complete and t.datetime_start
                else None
            )
            rows.append(row)
        return pd.DataFrame(rows)

    def frontier(self) -> pd.DataFrame:
        """The feasible, non-dominated trials (Optuna's ``best_trials``), cheapest first."""
        frame = self.trials_frame()
        if frame.empty or not set(self.objectives) <= set(frame.columns):
            columns = ["number", "state", *self.objectives, "feasible", "architecture", "recipe"]
            return pd.DataFrame(columns=columns)
        best = {t.number for t in self.study().best_trials}
        frame = frame[frame["number"].isin(best) & frame["feasible"]]
        return frame.sort_values(list(self.objectives)[::-1]).reset_index(drop=True)

    def _trial(self, number: object, stored: bool = False):
        """Trial ``number`` of the study; a ValueError naming the trials there are, or (with
        ``stored``) a FileNotFoundError when it has no stored model (pruned, failed, running,
        or trained on another machine)."""
        trials = self.study().get_trials(deepcopy=False)
        if isinstance(number, bool) or not isinstance(number, numbers.Integral):
            raise ValueError(
                f"number must be a trial's number, an integer (see frontier()['number']); got "
                f"{number!r} ({type(number).__name__})"
            )
        if not 0 <= number < len(trials):
            held = f"0 to {len(trials) - 1}" if trials else "none yet"
            raise ValueError(
                f"number must be a trial of study {self.study_name!r} (its trials: {held}); "
                f"got {number}"
            )
        trial = trials[int(number)]
        if stored:
            path = Path(self.models_dir) / f"trial-{int(number)}.lab"
            if not path.is_file():
                why = (
                    f"it is {trial.state.name}"
                    if trial.state.name != "COMPLETE"
                    else f"its file {path} is not on this machine"
                )
                raise FileNotFoundError(
                    f"trial {int(number)} has no stored model: {why}; the frontier's trials "
                    "have one (frontier()['number'])"
                )
        return trial

    def model(self, number: int) -> nn.Module:
        """The compressed model of trial ``number`` (its artifact, reloaded)."""
        trial = self._trial(number, stored=True)
        path = Path(self.models_dir) / f"trial-{int(number)}.lab"
        arch = dict(trial.user_attrs["architecture"])
        arch["widths"] = tuple(arch["widths"])
        return artifact.load(path, SearchNet(**arch))

    def recipe(self, number: int) -> Recipe:
        trial = self._trial(number)
        if "recipe" not in trial.user_attrs:
            raise ValueError(f"trial {int(number)} has no recipe yet (it is {trial.state.name})")
        return Recipe.from_json(trial.user_attrs["recipe"])

    def test_accuracy(self, number: int) -> float:
        """Test accuracy of trial ``number``'s compressed model — measure it once, for the frontier."""

        dataset = as_data(self.data)
        model = self.model(number)
        size = self.recipe(number).resolution
        size = dataset.native_size if size is None else size.size
        runner = model if size == dataset.native_size else AtResolution(model, size)
        return accuracy(runner, "test", device="cpu", data=dataset)

    def export(self, number: int, folder: str | Path) -> Path:
        """Write trial ``number``'s artifact, recipe JSON and model card into ``folder``."""
        import shutil

        trial = self._trial(number, stored=True)  # before any folder is made
        number = int(number)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        source = Path(self.models_dir) / f"trial-{number}.lab"
        shutil.copyfile(source, folder / "model.lab")
        recipe = self.recipe(number)
        (folder / "recipe.json").write_text(recipe.to_json() + "\n")
        card = {
            "name": f"{self.study_name} trial {number}",
            "architecture": trial.user_attrs["architecture"],
            "recipe": recipe.to_dict(),
            "training": {
                k: trial.params.get(k) for k in ("epochs", "lr", "teacher", "temperature")
            },
            "objectives": dict(zip(self.objectives, trial.values or [], strict=False)),
            "measurement_val": trial.user_attrs.get("measurement", {}),
            # the metric the trial was judged by on val, with its value and 95 % interval
            "quality_val": trial.user_attrs.get("quality_record")
            or quality.record(trial.user_attrs.get("measurement", {})),
            "constraints": [str(c) for c in self.constraints],
            "artifact_bytes": (folder / "model.lab").stat().st_size,
            "load": "lab.artifact.load('model.lab', lab.architectures.SearchNet(**architecture))",
        }
        (folder / "model_card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
        return folder


def search(
    space: SearchSpace | None = None,
    *,
    objectives: Sequence[str] = ("val_accuracy", "artifact_bytes"),
    constraints: dict[str, float] | None = None,
    n_trials: int | None = 20,
    timeout: float | None = None,
    study: str = "search",
    storage: str | None = None,
    n_workers: int = 1,
    sampler: str = "tpe",
    seed: int = 0,
    prune_trials: bool = True,
    fidelity: float = 0.34,
    quick: bool | None = None,
    progress: bool = True,
    data: object = None,
) -> SearchResult:
    """Search ``space`` for the frontier of ``objectives``; resumable, in 1 or more processes.

    Args:
        space: what may be chosen (default :meth:`SearchSpace.for_data`: the default space
            fitted to ``data``).
        objectives: two or more of :data:`OBJECTIVES`: quality on val (``val_accuracy``,
            ``val_balanced_accuracy``, ``val_macro_f1``, ``val_roc_auc`` for binary data;
            each in its direction) and costs (minimized).
        constraints: upper bounds on costs, e.g. ``{"artifact_bytes": 8536}``, or strings
            that may also bound a quality metric of the data's task on val by its worst
            acceptable value: ``["macro_f1 >= 0.8", "artifact_bytes <= 8536"]``
            (:func:`lab.decide.search_inputs.parse_constraint`); violating trials are never
            on the frontier.
        n_trials: total finished trials the study should hold (resuming counts earlier
            ones); ``None`` with a ``timeout`` runs until time is up.
        timeout: seconds this call may run (each worker stops starting trials after it).
        study: the study's name; the same name resumes it.
        storage: an SQLAlchemy URL (``postgresql://user:pw@host/db`` for several
            machines); default: the lab's SQLite result store.
        n_workers: worker processes on this machine (each gets cores / n_workers threads).
        sampler: ``"tpe"`` (multi-objective TPE) or ``"nsga2"``.
        seed: the sampler's and training's seed (one worker: the same trials every time).
        prune_trials: stop trials below the median after ``fidelity`` of their epochs.
        quick: train on a fraction of each epoch (default: ``LAB_QUICK=1``).
        progress: a progress bar of finished trials.
        data: the data to train, compress and measure on (square images of any channel
            count; anything :func:`lab.datasets.as_data` accepts); default Fashion-MNIST.
    """

    dataset = as_data(data)
    space = space if space is not None else SearchSpace.for_data(dataset)
    if not isinstance(space, SearchSpace):
        raise ConfigError(f"space must be a SearchSpace; got {type(space).__name__}")
    space.check(dataset)
    objectives = check_objectives(objectives, tuple(OBJECTIVES))
    for name in objectives:
        metric = OBJECTIVES[name][1]
        if metric in quality.METRICS and dataset.task not in quality.METRICS[metric].tasks:
            allowed = [f"val_{m}" for m in quality.choices(dataset.task)]
            raise ConfigError(
                f"objectives {name} does not apply to {dataset.name!r}, a {dataset.task} task; "
                f"its quality objectives are {', '.join(allowed)}"
            )
    costs = {k: v[1] for k, v in OBJECTIVES.items() if v[1] not in quality.METRICS}
    constraints = check_constraints(constraints, costs, dataset.task)
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise ConfigError(f"sampler must be one of {SAMPLERS}; got {sampler!r}")
    n_trials, timeout = check_bounded(n_trials, timeout)
    most_workers = 4 * (os.cpu_count() or 1)
    if (
        isinstance(n_workers, bool)
        or not isinstance(n_workers, numbers.Integral)
        or not 1 <= n_workers <= most_workers
    ):
        raise ConfigError(
            f"n_workers must be an integer from 1 to {most_workers} (4 × this machine's "
            f"{os.cpu_count() or 1} cores); got {n_workers!r}"
        )
    n_workers = int(n_workers)
    seed = check_seed(seed)
    if (
        isinstance(fidelity, bool)
        or not isinstance(fidelity, numbers.Real)
        or not 0 < float(fidelity) < 1
    ):
        raise ConfigError(
            f"fidelity must be a fraction in (0, 1) of each trial's epochs; got {fidelity!r}"
        )
    for flag, value in (("prune_trials", prune_trials), ("progress", progress)):
        if not isinstance(value, bool):
            raise ConfigError(f"{flag} must be True or False; got {value!r}")
    if quick is not None and not isinstance(quick, bool):
        raise ConfigError(f"quick must be True, False or None (LAB_QUICK); got {quick!r}")
    study = check_study_name(study)
    if storage is None:
        storage = default_store().url
    storage = check_storage_url(storage)
    quick = os.environ.get("LAB_QUICK") == "1" if quick is None else bool(quick)
    models_dir = trial_models_dir(study, storage)
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    settings = _Settings(
        study=study,
        storage=storage,
        objectives=objectives,
        constraints=constraints,
        space=space,
        quick=quick,
        seed=seed,
        fidelity=fidelity,
        prune_trials=prune_trials,
        min_trials_before_stopping=4,
        threads=threads,
        models_dir=str(models_dir),
        data=None if zoo.fits(dataset) else dataset,
    )
    deadline = None if timeout is None else time.time() + timeout
    _load_study(settings, sampler)  # create it (and fail here, in this process, on a bad URL)
    result = SearchResult(study, storage, objectives, str(models_dir), constraints, settings.data)
    if n_workers == 1:
        with _Progress(result, n_trials, progress) as bar:
            _work(settings, sampler, n_trials, deadline, after_trial=bar.poll)
        return result
    context = mp.get_context("spawn")
    workers = [
        context.Process(target=_worker_main, args=(settings, sampler, n_trials, deadline, i))
        for i in range(n_workers)
    ]
    for w in workers:
        w.start()
    with _Progress(result, n_trials, progress) as bar:
        while any(w.is_alive() for w in workers):
            bar.poll()
            time.sleep(0.5)
    failed = [w.exitcode for w in workers if w.exitcode]
    if failed:
        raise RuntimeError(f"{len(failed)} search worker(s) failed (exit codes {failed})")
    return result


def trial_models_dir(study: str, storage: str) -> Path:
    """Where this machine keeps the compressed models of ``study``'s trials in ``storage``
    (by name and storage: the same name in another storage stays apart)."""
    import hashlib

    check_study_name(study)
    where = hashlib.sha256(storage_key(storage).encode()).hexdigest()[:8]
    return data.cache_dir() / "search" / f"{study_folder_name(study)}-{where}"


_SAFE = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
MAX_KEPT_NAME = 200  # a longer name is shortened and hashed (folder names end at 255 bytes)


def study_folder_name(name: str) -> str:
    """A folder name for study ``name``, different for different names: names of lower-case
    letters, digits and ``-_.`` (not first), up to 200 characters, are kept; any other is
    shortened, gets its characters replaced and a hash of the exact name after a ``~`` (which
    no kept name has), so ``"a/b"``, ``"a_b"`` and ``"A_b"`` stay apart, also on
    case-insensitive file systems, and no folder name is too long for the file system."""
    import hashlib

    # not ".", "..", hidden; short enough for a file system's 255-byte names with the suffix
    if name and set(name) <= _SAFE and not name.startswith(".") and len(name) <= MAX_KEPT_NAME:
        return name
    kept = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    return f"{kept[:64]}~{hashlib.sha256(name.encode()).hexdigest()[:12]}"


class _Progress:
    """A tqdm bar of finished trials, read from the study's storage."""

    def __init__(self, result: SearchResult, total: int | None, enabled: bool) -> None:
        self.result, self.total, self.enabled, self.bar = result, total, enabled, None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=f"search {self.result.study_name}", unit="trial")
            self.poll()
        return self

    def poll(self) -> None:
        if self.bar is not None:
            done = _finished(self.result.study())
            self.bar.update(done - self.bar.n)

    def __exit__(self, *exc) -> None:
        self.poll()
        if self.bar is not None:
            self.bar.close()
