"""Honest measurement: one call gives accuracy, real bytes on disk, FLOPs, latency, energy and CO2.

* **Accuracy** on a named split (``live``, ``val``, ``test``).
* **Size**: bytes of the real artifact file written by :func:`lab.artifact.save`
  (which :func:`lab.artifact.load` reads back to identical outputs), next to the
  fp32 ``state_dict`` file's bytes, the parameter count and the non-zero count.
* **FLOPs/MACs** per image at the input resolution actually processed, counted as torch's
  ``torch.utils.flop_counter.FlopCounterMode`` counts them (:mod:`lab.flops`; convolutions
  and matrix products; FLOPs = 2 × MACs). Unstructured zeros are still executed, so they are counted.
* **Latency**: batch-1 median and p95 after warm-up, and throughput at batch 256,
  with the thread count stated. What is timed is the model as it executes
  (``Compressed.runtime``; for fp32 that is the stored model with batch norm folded and
  channels_last convolutions, the same function: see :mod:`lab.techniques.apply`).
  ``effort="full"`` times five batch-256 repeats for the throughput; ``"quick"`` uses the
  accuracy pass's batches of exactly 256 images (no extra work).
* **Energy and CO2** per 1,000 inferences from codecarbon (see :mod:`lab.energy`), with
  the provenance of the power figure; "unavailable: <reason>" when codecarbon fails.

One pipeline measures every kind of model (:mod:`lab.kinds`: torch modules, scikit-learn
estimators): :data:`METRICS` run over the kind's :class:`~lab.kinds.Runnable`.
An :class:`Evaluation` can be refined: :meth:`Evaluation.first_look` (exact bytes and
FLOPs, accuracy on part of the live split with its interval) then :meth:`Evaluation.final`
(every item, timings, energy), which reuses the first look's work.

A configuration's batch-1 latency is timed *interleaved* with its baseline's (the same model
without the recipe), so a change is judged against a baseline seen under the same load
(:meth:`Measurement.latency_change`). Energy is measured per evaluation and priced per
country afterwards: a change of country re-prices, it never re-measures.

Every evaluation is persisted in :mod:`lab.store` and served from it when the same
model (by content hash), recipe, split and effort come again. Artifact byte
counts are also remembered in-process by the stored model's content (the baseline and a
configuration revisited under another country or effort never pay ``artifact.save`` twice).

An evaluation can be abandoned: pass ``cancel=threading.Event()`` and set it from another
thread; :func:`evaluate` then raises :class:`Cancelled` at its next check (before each
expensive step and between accuracy-pass batches) and stores nothing.

Example:
    >>> from lab import zoo, measure
    >>> m = measure.evaluate(zoo.load("cnn"), split="live", name="cnn")  # doctest: +SKIP
    >>> m.accuracy, m.artifact_bytes, m.latency_ms_p50  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import json
import math
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, astuple, dataclass, field, replace

import numpy as np
import pandas as pd
import torch
from torch import nn

from lab.cancellation import Cancelled, check, check_event
from lab.datasets import Data, as_data
from lab.datasets import fashion as data
from lab.datasets.fashion import Split
from lab.evaluation import quality
from lab.evaluation.arguments import check_arguments
from lab.evaluation.kinds import ModelKind, Runnable, fingerprint, is_thin, model_kind
from lab.io.store import ResultStore, default_store
from lab.memo import Memo
from lab.meters import energy, flops, machine, stats
from lab.meters.timing import (
    LATENCY,
    THROUGHPUT_BATCH,
    measure_latency,
    percentiles,
    throughput,
    time_calls,
)
from lab.models.interface import ModelInterfaceError
from lab.runtimes import devices
from lab.techniques.apply import Compressed
from lab.techniques.configs import Recipe

__all__ = [
    "EFFORTS",
    "METRICS",
    "CacheKey",
    "Cancelled",
    "Evaluation",
    "Measurement",
    "TimingChange",
    "count_flops",
    "evaluate",
    "fingerprint",
    "is_thin",
    "measure_latency",
]

EFFORTS = {
    # batch-1 timed runs (most, fewest, seconds: lab.timing.LATENCY), batch-256 timed repeats
    "quick": {"latency": LATENCY["quick"], "throughput_repeats": 0},
    "full": {"latency": LATENCY["full"], "throughput_repeats": 5},
}
# Images per accuracy-pass batch: 256 was the fastest size measured on 2 cores (figures in
# the README, "Cost of measuring"); it also keeps the quick throughput a batch-256 figure
# and cancellation checks one batch apart.
ACCURACY_BATCH = 256
# 2: fp32 runtimes run with BN folded and channels_last (faster latency/throughput/energy,
#    executes_as says so); quick throughput timed on the pass's batches of exactly 256 images
# 3: state_dict_bytes is the input model's file (was the pruned model's); machine fields
# 4: accuracy interval, per-image results, latency samples; the data's fingerprint in the key
# 5: tasks (binary, multi-class, regression) and their quality metric; one pipeline for every kind; the baseline timed interleaved; the country is not in the
#    key (energy is measured once and priced per country); latency runs on a time budget;
#    peak memory (planned and measured)
MEASUREMENT_VERSION = 5  # bump when the meaning of a stored number changes


@dataclass
class Measurement:
    """Everything the lab measured about one model on one split. ``to_row()`` gives a flat dict."""

    name: str
    recipe: str  # JSON of the applied Recipe ("{}" for none)
    label: str  # human label of the recipe
    split: str
    n_images: int
    accuracy: float | None  # classification (None for regression: see metric_value)
    artifact_bytes: int | None  # size on disk of lab.artifact.save's file (None: a big
    # model's first look, before the file is encoded)
    state_dict_bytes: int | None  # size on disk of torch.save(input_model.state_dict()): the fp32
    # baseline of every ratio (the model before the recipe, not the pruned one)
    parameters: int
    nonzero_parameters: int
    resolution: int | None  # input pixels per side the network processes (None: tabular)
    flops: int  # per image (2 × MACs)
    macs: int
    latency_ms_p50: float | None  # batch 1 (None: a first look, not timed yet)
    latency_ms_p95: float | None
    throughput_ips: (
        float | None
    )  # items / s at batch 256 (quick: the accuracy pass; full: median of 5)
    threads: int
    energy_kwh_per_1k: float | None
    co2_g_per_1k: float | None
    country: str
    carbon_intensity_g_per_kwh: float
    energy_source: str  # provenance of the power figure, or "unavailable: reason"
    executes_as: str
    notes: list[str] = field(default_factory=list)
    model_hash: str = ""
    effort: str = "full"
    seconds: float = 0.0  # wall time this evaluation took
    cached: bool = False
    cpu_model: str = ""  # the machine the load-dependent figures were measured on
    cpu_capability: str = ""  # ISA level torch dispatches to (e.g. AVX2, AVX512)
    torch_version: str = ""
    load_1min: float | None = None  # 1-minute load average when measured
    train_seconds: float | None = None  # thin models: fitting time (torch models: not tracked)
    train_energy_kwh: float | None = None  # thin models: fitting energy (codecarbon)
    operations_kind: str = "MACs"  # what ``macs`` counts: MACs, or comparisons for trees
    data: str = "fashion-mnist"  # the data set's name (lab.datasets.Data.name)
    accuracy_low: float | None = None  # 95 % Wilson interval of the accuracy on these images
    accuracy_high: float | None = None
    correct_bits: str = ""  # which images were right (packed bits, base64): paired tests
    latency_samples_ms: list[float] = field(default_factory=list)  # the batch-1 runs timed
    preliminary: bool = False  # a first look: part of the images, no timings
    runtime: str = "torch"  # what executes it: torch, onnxruntime, scikit-learn
    # the baseline (this model without the recipe) timed interleaved with these runs
    baseline_latency_samples_ms: list[float] = field(default_factory=list)
    # peak memory of one inference (lab.meters.memory): planned from the traced tensor
    # lifetimes (weights + the largest set of activations alive at once), and measured
    peak_memory_bytes: int | None = None  # planned, batch 1
    peak_activation_bytes: int | None = None  # its activations, as eager torch keeps them
    # the activations an ideal arena planner needs (each tensor freed after its last reader:
    # TFLite Micro's, MCUNet's): a microcontroller's RAM
    peak_arena_bytes: int | None = None
    peak_memory_bytes_throughput: int | None = None  # planned, batch 256
    peak_memory_measured_bytes: int | None = None  # tensor high-water mark, batch 1
    rss_increase_bytes: int | None = None  # the process's resident memory growth beside it
    peak_memory_op: str | None = None  # where the planned peak happens
    memory_method: str = ""
    macs_by_kind: dict | None = None  # MACs per operation kind (device estimates)
    # the task and its primary quality metric (lab.evaluation.quality), with its 95 % interval
    task: str = "multiclass"  # binary, multiclass or regression
    metric: str = "accuracy"  # accuracy, balanced_accuracy (imbalanced classes), mae …
    metric_value: float | None = None
    metric_low: float | None = None
    metric_high: float | None = None
    metrics: dict = field(default_factory=dict)  # name → [value, low, high]
    predictions: str = ""  # per-item predictions, packed (lab.evaluation.quality.pack)
    targets: str = ""  # per-item targets, packed
    scores: str = ""  # binary tasks: per-item positive-class scores, packed

    @property
    def compression_ratio(self) -> float:
        """The input model's fp32 state_dict bytes / this artifact's bytes."""
        if self.artifact_bytes is None or self.state_dict_bytes is None:
            return math.nan  # a first look of a big model: its file follows
        return self.state_dict_bytes / max(1, self.artifact_bytes)

    def correct(self) -> np.ndarray | None:
        """Per-image correctness (bool array, in the split's order), or None if not recorded."""
        if not self.correct_bits:
            return None
        packed = np.frombuffer(base64.b64decode(self.correct_bits), dtype=np.uint8)
        return np.unpackbits(packed, count=self.n_images).astype(bool)

    def compare(self, baseline: Measurement) -> stats.PairedComparison | None:
        """Exact McNemar test of this accuracy against ``baseline``'s on the same images
        (None when either lacks per-image results or they were scored on different images)."""
        mine, theirs = self.correct(), baseline.correct()
        same_images = (self.split, self.data, self.n_images) == (
            baseline.split,
            baseline.data,
            baseline.n_images,
        )
        if mine is None or theirs is None or not same_images:
            return None
        return stats.mcnemar_exact(theirs, mine)

    def every_metric(self) -> dict:
        """Every quality metric of this task on these items, with 95 % intervals
        (``{name: [value, low, high]}``), computed from the per-item predictions on demand
        (a live evaluation computes only the primary metric: bootstrap intervals cost
        seconds)."""
        if not self.predictions or not self.targets:
            return dict(self.metrics)
        scores = quality.unpack(self.scores) if self.scores else None
        return quality.measurement_fields(
            self.task,
            quality.unpack(self.targets),
            quality.unpack(self.predictions),
            scores=scores,
            metric=self.metric,
        )["metrics"]

    def as_dict(self, every_metric: bool = False) -> dict:
        """Every field as a dict (what :func:`lab.decide.recommend.recommend` reads); with
        ``every_metric``, ``metrics`` holds every metric of the task (:meth:`every_metric`)."""
        payload = asdict(self)
        if every_metric:
            payload["metrics"] = self.every_metric()
        return payload

    def _quality_text(self) -> str:
        if self.accuracy is not None and self.metric == "accuracy":
            return f"acc {self.accuracy:.2%}"
        if self.metric_value is None:
            return "quality n/a"
        return f"{self.metric} {self.metric_value:.4g}"

    def latency_change(self, baseline: Measurement) -> TimingChange | None:
        """This batch-1 latency against ``baseline``'s: the ratio of medians and whether the
        Mann–Whitney test calls it noise. When this measurement timed its baseline interleaved
        (same model without the recipe, same moment and load) those runs are used
        (``interleaved``); otherwise ``baseline``'s own runs, timed at another moment.
        None when either lacks samples."""
        interleaved = bool(self.baseline_latency_samples_ms) and _same_model(self, baseline)
        base = self.baseline_latency_samples_ms if interleaved else baseline.latency_samples_ms
        if not self.latency_samples_ms or not base:
            return None
        ratio = float(np.median(self.latency_samples_ms) / max(np.median(base), 1e-12))
        noise = stats.same_within_noise(base, self.latency_samples_ms)
        return TimingChange(ratio, noise, interleaved, len(base), len(self.latency_samples_ms))

    def latency_within_noise(self, baseline: Measurement) -> bool | None:
        """Whether the batch-1 latency change vs ``baseline`` is inside the measurement noise
        (Mann–Whitney U, on interleaved runs when there are: :meth:`latency_change`)."""
        change = self.latency_change(baseline)
        return None if change is None else change.within_noise

    def energy_within_noise(self, baseline: Measurement) -> bool | None:
        """Whether the energy change vs ``baseline`` is inside the noise. Energy here is
        power × this process's CPU time (see ``energy_source``), measured once per
        evaluation: it can only really differ when the compute time does. So it is noise
        unless the latency change is real (:meth:`latency_change`) and points the same way.
        None when either has no energy figure or no latency samples."""
        if self.energy_kwh_per_1k is None or baseline.energy_kwh_per_1k is None:
            return None
        change = self.latency_change(baseline)
        if change is None:
            return None
        faster = change.ratio < 1
        less = self.energy_kwh_per_1k < baseline.energy_kwh_per_1k
        return change.within_noise or faster != less

    def runtime_change(self, baseline: Measurement) -> str | None:
        """``"scikit-learn → torch"`` when this runs in another runtime than ``baseline``
        (an effect of the runtime, not of a technique), else None."""
        if self.runtime == baseline.runtime:
            return None
        return f"{baseline.runtime} → {self.runtime}"

    def on_device(self, device: str, precision: str | None = None):
        """Whether this model fits ``device`` of the catalog (:mod:`lab.runtimes.devices`)
        and its latency and energy there, estimated from the device's published points with
        their error band. RAM needed: the planned activations on a microcontroller (weights
        run from flash; an arena planner's lifetimes when known), activations and weights
        elsewhere; flash: the artifact's bytes.
        ``precision``: ``"int8"`` or ``"fp32"`` (default: int8 when it executes as int8)."""
        if self.peak_memory_bytes is None or self.peak_activation_bytes is None:
            raise ValueError(
                f"no planned peak memory for {self.name} ({self.memory_method or 'not measured'})"
            )
        target = devices.get(device)
        precision = precision or ("int8" if "int8" in self.executes_as else "fp32")
        ram = self.peak_activation_bytes
        if target.kind == "microcontroller" and self.peak_arena_bytes is not None:
            ram = self.peak_arena_bytes
        elif target.kind != "microcontroller":
            ram = self.peak_memory_bytes
        macs = self.macs_by_kind if self.macs_by_kind else self.macs
        return devices.estimate(
            macs,
            ram_bytes=int(ram),
            flash_bytes=int(self.artifact_bytes),
            device=target.name,
            precision=precision,
        )

    def priced(self, country: str) -> Measurement:
        """The same measurement with its CO₂ priced at ``country``'s grid (energy unchanged)."""
        country = energy.validate_country(country)
        intensity = energy.carbon_intensity(country)
        kwh = self.energy_kwh_per_1k
        return replace(
            self,
            country=country,
            carbon_intensity_g_per_kwh=intensity,
            co2_g_per_1k=None if kwh is None else kwh * intensity,
        )

    def to_row(self) -> dict:
        row = asdict(self)
        row["notes"] = "; ".join(self.notes)
        row["compression_ratio"] = round(self.compression_ratio, 2)
        del row["correct_bits"], row["latency_samples_ms"]  # raw samples: see correct()
        del row["baseline_latency_samples_ms"], row["predictions"], row["targets"], row["scores"]
        return row

    def to_frame(self, baseline: Measurement | None = None) -> pd.DataFrame:
        """One row; with ``baseline``, also the paired accuracy change (McNemar) vs it."""
        row = self.to_row()
        if baseline is not None:
            paired = self.compare(baseline)
            row["change_pt"] = (
                paired.difference_pt if paired else 100 * (self.accuracy - baseline.accuracy)
            )
            row["change_p_value"] = paired.p_value if paired else None
            row["change_verdict"] = paired.verdict if paired else "not paired (different images)"
        return pd.DataFrame([row])

    def to_json(self) -> str:
        payload = asdict(self)
        payload["compression_ratio"] = self.compression_ratio
        return json.dumps(payload, indent=2)

    def __repr__(self) -> str:
        co2 = "n/a" if self.co2_g_per_1k is None else f"{self.co2_g_per_1k * 1000:.3g} mg"
        return (
            f"Measurement({self.name} [{self.label}] on {self.split}: {self._quality_text()}, "
            f"{_number(self.artifact_bytes, ',')} B on disk"
            f"{'' if self.artifact_bytes is None else f' ({self.compression_ratio:.1f}x)'}, "
            f"{self.macs:,} {self.operations_kind}, {_number(self.latency_ms_p50, '.2f')} ms p50, "
            f"{_number(self.throughput_ips, ',.0f')} img/s, CO2/1k {co2} @ {self.country})"
        )


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _same_model(a: Measurement, b: Measurement) -> bool:
    """Whether ``b`` is a measurement of the model ``a`` was made from, on the same data."""
    return bool(a.model_hash) and (a.model_hash, a.data) == (b.model_hash, b.data)


@dataclass(frozen=True)
class TimingChange:
    """A latency change against a baseline, as the noise test sees it."""

    ratio: float  # new median / baseline median (< 1: faster)
    within_noise: bool  # the Mann–Whitney test cannot tell the two apart (p ≥ 0.05)
    interleaved: bool  # the baseline was timed interleaved with this configuration
    baseline_runs: int
    runs: int

    def describe(self) -> str:
        """In words: "1.48× faster", "unchanged (within noise)"…"""
        if self.within_noise:
            return "unchanged (within noise)"
        if self.ratio < 1:
            return f"{1 / self.ratio:.2f}× faster"
        return f"{self.ratio:.2f}× slower"


def count_flops(
    model: nn.Module, size: int = data.NATIVE_SIZE, *, example: torch.Tensor | None = None
) -> int:
    """FLOPs for one input as torch's FlopCounterMode counts them (:mod:`lab.flops`):
    ``example`` (one sample, batch 1), or a 1×1×size×size image."""
    x = torch.zeros(1, 1, size, size) if example is None else example
    return flops.count_flops(model, x)


def _pass_batches(n: int) -> list[tuple[int, int]]:
    """(start, stop) of the accuracy pass's batches. With ``ACCURACY_BATCH`` = 256: batches
    of 256 (and a smaller remainder); otherwise near-equal batches of at most
    ``ACCURACY_BATCH`` images, then one of exactly ``THROUGHPUT_BATCH`` (256) images, so
    the quick effort always has batch-256 timings."""
    if ACCURACY_BATCH == THROUGHPUT_BATCH:
        return [(lo, min(lo + THROUGHPUT_BATCH, n)) for lo in range(0, n, THROUGHPUT_BATCH)]
    tail = THROUGHPUT_BATCH if n > THROUGHPUT_BATCH else 0
    head = n - tail
    count = math.ceil(head / ACCURACY_BATCH) if head else 0
    edges = [round(i * head / count) for i in range(count + 1)] if count else [0]
    batches = list(zip(edges[:-1], edges[1:], strict=True))
    return batches + ([(head, n)] if tail else [])


@torch.no_grad()
def _accuracy_pass(
    runnable: Runnable, split: Split, cancel: threading.Event | None = None
) -> tuple[torch.Tensor, float, float]:
    """``(per-item predictions, seconds, items/s at batch 256)``: the rate over the pass's
    batches of exactly 256 items (over the whole pass if it has none: ≤ 256 items)."""
    predicted, start = [], time.perf_counter()
    full_images, full_seconds = 0, 0.0
    for lo, hi in _pass_batches(len(split)):
        check(cancel)
        batch_start = time.perf_counter()
        predicted.append(runnable.predict(split.images[lo:hi]))
        if hi - lo == THROUGHPUT_BATCH:
            full_images += hi - lo
            full_seconds += time.perf_counter() - batch_start
    seconds = time.perf_counter() - start
    rate = full_images / full_seconds if full_images else len(split) / seconds
    return torch.cat(predicted), seconds, rate


@torch.no_grad()
def _scores(runnable: Runnable, split: Split, dataset: Data) -> np.ndarray | None:
    """Binary tasks: each item's score for the positive class (for ROC-AUC); else None."""
    if dataset.task != "binary":
        return None
    try:
        return np.concatenate(
            [runnable.scores(split.images[lo:hi]) for lo, hi in _pass_batches(len(split))]
        )
    except (TypeError, AttributeError, ValueError):
        return None  # no scores (e.g. a hard-voting model): ROC-AUC is left out


def _quality_fields(
    dataset: Data, labels: torch.Tensor, predicted: torch.Tensor, scores: np.ndarray | None
) -> dict:
    """The accuracy fields (classification; None for regression, where ``==`` measures
    nothing) and the task's primary quality metric with its interval and the per-item
    predictions and targets (:func:`lab.evaluation.quality.measurement_fields`)."""
    if dataset.is_classification:
        found = accuracy_fields(predicted == labels)
    else:
        found = {
            "n_images": len(labels),
            "accuracy": None,
            "accuracy_low": None,
            "accuracy_high": None,
            "correct_bits": "",
        }
    found.update(
        quality.measurement_fields(
            dataset.task,
            labels.numpy(),
            predicted.numpy(),
            scores=scores,
            every_metric=False,
        )
    )
    return found


def accuracy_fields(right: torch.Tensor) -> dict:
    """Accuracy, its 95 % Wilson interval and the packed per-image results."""
    n, correct = len(right), int(right.sum())
    low, high = stats.accuracy_interval(correct, n)
    packed = np.packbits(right.cpu().numpy().astype(np.uint8))
    return {
        "n_images": n,
        "accuracy": correct / n,
        "accuracy_low": low,
        "accuracy_high": high,
        "correct_bits": base64.b64encode(packed.tobytes()).decode("ascii"),
    }


@dataclass(frozen=True)
class CacheKey:
    """What makes two evaluations the same: model content, recipe, split, effort, thread
    count, runtime, the data's fingerprint and the measurement version (the country is not
    in it: a result is priced for any country). ``str(key)`` is the result store's key."""

    model_hash: str
    recipe: str
    split: str
    effort: str
    threads: int
    runtime: str = "torch"
    data: str = "fashion-mnist"
    version: int = MEASUREMENT_VERSION

    @classmethod
    def of(
        cls, kind: ModelKind, recipe: Recipe, split: str, effort: str, runtime: str, dataset: Data
    ) -> CacheKey:
        """The key of evaluating ``kind``'s model with ``recipe`` (threads: torch's now)."""
        return cls(
            kind.fingerprint(),
            recipe.to_json(),
            split,
            effort,
            torch.get_num_threads(),
            kind.runtime_key(runtime),
            dataset.fingerprint,
        )

    def __str__(self) -> str:
        return "|".join(str(value) for value in astuple(self))


@dataclass
class _Run:
    """One uncached evaluation in progress: its inputs, and the fields measured so far."""

    runnable: Runnable
    split: Split
    dataset: Data
    effort: str
    cancel: threading.Event | None
    baseline: Runnable | None = None  # timed interleaved with ``runnable``
    found: dict = field(default_factory=dict)  # Measurement fields (and a few internals)
    first_look: Measurement | None = None  # the same evaluation's first look (live split)


def _measure_accuracy_and_energy(run: _Run) -> dict:
    """Quality over the split, energy over the pass. With a first look, only the items it
    did not see are run; its per-item predictions fill in the rest, in the split's order."""
    passes: list[tuple[torch.Tensor, float, float]] = []
    chunk, seen = run.split, run.first_look
    # the first look's items are the live split's; None when it saw the whole (small) split:
    # run it all, energy needs a pass
    positions = None if seen is None else run.dataset.subset_positions("live", seen.n_images)
    if positions is not None:
        chunk = run.dataset.subset_rest("live", seen.n_images)
    reading = energy.measure_energy(
        lambda: passes.append(_accuracy_pass(run.runnable, chunk, run.cancel))
    )
    predicted, _, pass_throughput = passes[0]
    scores = _scores(run.runnable, chunk, run.dataset)  # outside the energy pass
    if positions is not None:
        part, rest = positions
        whole = torch.empty(len(run.split), dtype=predicted.dtype)
        whole[part] = torch.from_numpy(np.array(quality.unpack(seen.predictions))).to(
            predicted.dtype
        )
        whole[rest] = predicted
        predicted = whole
        if scores is not None and seen.scores:
            all_scores = np.empty(len(run.split))
            all_scores[part.numpy()] = quality.unpack(seen.scores)
            all_scores[rest.numpy()] = scores
            scores = all_scores
        elif scores is not None:
            scores = _scores(run.runnable, run.split, run.dataset)
    return {
        **_quality_fields(run.dataset, run.split.labels, predicted, scores),
        "energy_kwh_per_1k": None if reading.kwh is None else reading.kwh / len(chunk) * 1000,
        "energy_source": reading.provenance,
        "_pass_throughput": pass_throughput,
    }


def _measure_latency(run: _Run) -> dict:
    """Batch-1 runs of the configuration, interleaved with its baseline's when it has one."""
    calls = [run.runnable.one_call(run.dataset)]
    if run.baseline is not None:
        calls.append(run.baseline.one_call(run.dataset))
    timed = time_calls(calls, run.effort, run.cancel)
    run.runnable.timed_runs = len(timed[0])
    p50, p95 = percentiles(timed[0])
    rate = run.found["_pass_throughput"]  # quick: the accuracy pass's batches of 256 items
    repeats = EFFORTS[run.effort]["throughput_repeats"]
    batch = run.runnable.batch_call(run.dataset) if repeats else None
    if batch is not None:
        rate = throughput(batch, repeats, run.cancel)
    return {
        "latency_ms_p50": p50,
        "latency_ms_p95": p95,
        "throughput_ips": rate,
        "latency_samples_ms": timed[0],
        "baseline_latency_samples_ms": timed[1] if len(timed) > 1 else [],
    }


_EXACT_FIELDS = {  # measured by a first look exactly as the final figures: reused from it
    "size": ("artifact_bytes", "state_dict_bytes"),
    "counts and FLOPs": (
        "parameters",
        "nonzero_parameters",
        "resolution",
        "flops",
        "macs",
        "operations_kind",
    ),
    "memory": (
        "peak_memory_bytes",
        "peak_activation_bytes",
        "peak_arena_bytes",
        "peak_memory_bytes_throughput",
        "peak_memory_measured_bytes",
        "rss_increase_bytes",
        "peak_memory_op",
        "memory_method",
        "macs_by_kind",
    ),
}


def _from_first_look(run: _Run, phase: str) -> dict | None:
    if run.first_look is None:
        return None
    return {name: getattr(run.first_look, name) for name in _EXACT_FIELDS[phase]}


def _measure_size(run: _Run) -> dict:
    known = _from_first_look(run, "size")
    if known is not None and known["artifact_bytes"] is not None:
        return known
    return {
        "artifact_bytes": run.runnable.artifact_bytes(run.cancel),
        "state_dict_bytes": run.runnable.baseline_bytes(),
    }


def _measure_counts(run: _Run) -> dict:
    if (known := _from_first_look(run, "counts and FLOPs")) is not None:
        return known
    parameters, nonzero = run.runnable.parameter_counts()
    flops_, macs, kind = run.runnable.operations(run.dataset)
    return {
        "parameters": parameters,
        "nonzero_parameters": nonzero,
        "resolution": run.runnable.resolution,
        "flops": flops_,
        "macs": macs,
        "operations_kind": kind,
    }


def _measure_memory(run: _Run) -> dict:
    known = _from_first_look(run, "memory")
    if known is not None and known["memory_method"] is not None:
        return known
    return {
        **run.runnable.memory(run.dataset),
        "macs_by_kind": run.runnable.macs_by_kind(run.dataset),
    }


def _measure_machine(run: _Run) -> dict:
    info = machine.describe()
    return {
        "threads": info["threads"],
        "cpu_model": info["cpu_model"],
        "cpu_capability": info["cpu_capability"],
        "torch_version": info["torch"],
        "load_1min": info["load_1min"],
        **run.runnable.extra_fields(),  # e.g. a scikit-learn model's BLAS threads, fit cost
    }


# Each metric: a name (the phase reported in ``timings``) and a function of the run returning
# Measurement fields; they run in this order over any kind of model. Adding a metric: a field
# in Measurement and one entry here (and in FIRST_LOOK if a first look measures it too).
METRICS: tuple[tuple[str, object], ...] = (
    ("accuracy pass + energy", _measure_accuracy_and_energy),
    ("latency", _measure_latency),
    ("size", _measure_size),
    ("counts and FLOPs", _measure_counts),
    ("memory", _measure_memory),
    ("machine", _measure_machine),
)
FIRST_LOOK = ("size", "counts and FLOPs", "memory", "machine")  # at once; the accuracy: partial


@contextmanager
def _phase(timings: dict | None, name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


@contextmanager
def _threads(count: int | None) -> Iterator[None]:
    """Run with ``count`` torch threads (if given), then restore the caller's setting."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _threads_wanted(threads: int | None) -> int | None:
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer or None; got {threads!r}")
        return threads
    text = os.environ.get("LAB_THREADS", "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"LAB_THREADS must be a positive integer; got {text!r}")
    return int(text)


BUSY_LOAD_PER_CPU = 1.0  # 1-min load per logical CPU above which timings are inflated


def _busy(load: float | None) -> bool:
    return load is not None and load / (os.cpu_count() or 1) > BUSY_LOAD_PER_CPU


def stale_reason(stored: Measurement, now: dict | None = None) -> str | None:
    """Why ``stored``'s load-dependent figures (latency, throughput, energy, CO2) must not be
    served here and now, or None. Accuracy, bytes and FLOPs never go stale.

    * measured on another CPU model → re-measure;
    * measured on a busy machine (1-min load > 1 per logical CPU) while this one is not
      busy now → re-measure (now it can be done better).

    A result measured under load and served while the machine is still busy keeps a note
    saying so (see :func:`evaluate`).
    """
    now = machine.describe() if now is None else now
    if stored.cpu_model and stored.cpu_model != now["cpu_model"]:
        return f"measured on another CPU ({stored.cpu_model})"
    if _busy(stored.load_1min) and not _busy(now["load_1min"]):
        return f"measured under load {stored.load_1min:.1f}; the machine is quieter now"
    return None


def _load_note(load: float | None) -> str | None:
    if not _busy(load):
        return None
    return (
        f"latency, throughput and energy measured under load {load:.1f} on "
        f"{os.cpu_count()} logical CPUs: inflated by other work on this machine"
    )


def _stored(store: ResultStore, key: CacheKey, country: str, started: float) -> Measurement | None:
    """The stored result for ``key`` priced at ``country``, marked cached (None when there is
    none, or when its load-dependent figures are stale: :func:`stale_reason`)."""
    if not key.model_hash:
        return None  # a model whose content is unknown is never served from the store
    hit = store.get(str(key))
    if hit is None:
        return None
    result = Measurement(**hit)
    if stale_reason(result) is not None:
        return None
    result = result.priced(country)
    result.cached, result.seconds = True, time.perf_counter() - started
    return result


SPLITS = ("live", "val", "test")
PREVIEW_IMAGES = 500  # a fixed stratified part of the live split (its 95 % interval: ±1.5–3 pt)
FIRST_LOOK_MIN_IMAGES = 10  # the fewest live items a first look rests on (its first round)
FIRST_LOOK_BUDGET_S = 1.0  # seconds a first look may take, from its call (at least its first round)
ROUND_MARGIN = 0.6  # a round is planned to fill this part of the time left (speeds vary)
# A first look traces memory (several forward passes under a dispatch mode) only for models of
# at most this many FLOPs per item; a bigger one's memory follows with the final figures.
QUICK_TRACE_FLOPS = 100_000_000  # the zoo's models: ≤ 45 M; mobilenet_v3_small at 224 px: 0.12 G


def _first_look_pass(
    runnable: Runnable,
    dataset: Data,
    n: int,
    deadline: float | None,
    cancel: threading.Event | None,
) -> tuple[Split, torch.Tensor, np.ndarray | None]:
    """``(the live subset of the first look, its per-item predictions, their scores)``:
    scores (one forward pass with the predictions) on binary tasks where the model gives
    them, else None.

    Without a ``deadline``: exactly :meth:`Data.subset` of ``n`` items. With one: starting
    from ``n`` items, rounds grow the stratified subset (the subsets of a split are nested,
    so a round predicts only the items new to it) while the time per item measured so far
    says the next round ends before ``deadline``; at most :data:`PREVIEW_IMAGES`."""
    whole = dataset.split("live")
    done: dict[int, torch.Tensor] = {}
    scored: dict[int, float] | None = {} if dataset.task == "binary" else None
    spent, counted = 0.0, 0  # seconds and items after the first call (a per-item rate)
    first_spent = 0.0  # the first call's seconds: one-off costs included (an upper bound)
    while True:
        n = min(n, len(whole))
        positions = dataset.subset_positions("live", n)
        wanted = list(range(len(whole))) if positions is None else positions[0].tolist()
        new = [p for p in wanted if p not in done]
        for lo in range(0, len(new), THROUGHPUT_BATCH):
            check(cancel)
            chunk = new[lo : lo + THROUGHPUT_BATCH]
            batch_start = time.perf_counter()
            out, scores = runnable.predict_with_scores(
                whole.images[torch.tensor(chunk)], scored is not None
            )
            if done:  # the very first call pays one-off costs: not a per-item rate
                spent, counted = spent + time.perf_counter() - batch_start, counted + len(chunk)
            else:
                first_spent = time.perf_counter() - batch_start
            done.update(zip(chunk, out, strict=True))
            if scores is None:  # the model gives no scores: ROC-AUC is left out
                scored = None
            elif scored is not None:
                scored.update(zip(chunk, scores.tolist(), strict=True))
        if deadline is None or n >= min(PREVIEW_IMAGES, len(whole)):
            break
        left = deadline - time.perf_counter()
        # per item: as measured after the first call, else the first call's (an upper bound)
        per_item = spent / counted if counted else first_spent / len(done)
        grow = int(ROUND_MARGIN * left / max(per_item, 1e-9))
        if grow < max(1, n // 4):  # not worth another round
            break
        bigger = _largest_round(dataset, n, min(PREVIEW_IMAGES, n + grow), len(done) + grow)
        if bigger is None:  # stratified, the next items come a whole round of classes at a time
            break
        n = bigger
    part = dataset.subset("live", n)
    scores = None if scored is None else np.array([scored[p] for p in wanted], dtype=np.float64)
    return part, torch.stack([done[p] for p in wanted]), scores


def _largest_round(dataset: Data, n: int, most: int, items: int) -> int | None:
    """The largest subset size in ``(n, most]`` whose stratified live subset has at most
    ``items`` items (a stratified subset grows in steps: with 10 classes, asking for 14 items
    may give 10 and 16 give 20); None when none adds an item within that bound."""

    def size(m: int) -> int:
        positions = dataset.subset_positions("live", m)
        return len(dataset.split("live")) if positions is None else len(positions[0])

    low, high, base = n, most, size(n)  # size(low) ≤ items holds; search the largest such
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if size(mid) <= items else (low, mid - 1)
    return low if low > n and size(low) > base else None


SCALE_CHECK_ITEMS = {"tabular": 200, "image": 20}  # training items compared, by data kind
_SCALE_CHECKED: Memo[str] = Memo(entries=64)


@torch.no_grad()
def scale_problem(runnable: Runnable, dataset: Data) -> str:
    """Why ``runnable`` (the model as given) must not be measured on ``dataset``'s
    standardized samples, or "": when the first training items, given back in the user's
    own units (``x × std + mean``), are predicted clearly better than as the lab gives them —
    accuracy up by 20 points, or a regression's mean absolute error down by a quarter, each
    with a paired sign test on the items that differ at p < 0.001 — the model was fitted on
    the user's own features, and every figure on standardized ones would be wrong without a
    word."""
    count = SCALE_CHECK_ITEMS.get(dataset.kind)
    if count is None or dataset.mean is None:
        return ""
    train = dataset.split("train")
    rows = torch.arange(min(count, len(train)))
    given, labels = train.images[rows], train.labels[rows]
    shape = (1, -1) if given.dim() == 2 else (1, -1, 1, 1)
    mean = torch.tensor(dataset.mean, dtype=given.dtype).reshape(shape)
    std = torch.tensor(dataset.std, dtype=given.dtype).reshape(shape)
    as_given, as_theirs = runnable.predict(given), runnable.predict(given * std + mean)
    if dataset.is_classification:
        right, theirs_right = as_given == labels, as_theirs == labels
        gain = float(theirs_right.float().mean() - right.float().mean())
        if gain < 0.2 or stats.mcnemar_exact(right.numpy(), theirs_right.numpy()).p_value >= 1e-3:
            return ""
        shown = (
            f"{float(theirs_right.float().mean()):.0%} of {len(rows)} training items right in "
            f"your own units against {float(right.float().mean()):.0%} standardized"
        )
    else:
        given_errors = (as_given.double() - labels.double()).abs()
        their_errors = (as_theirs.double() - labels.double()).abs()
        error, theirs = float(given_errors.mean()), float(their_errors.mean())
        closer = stats.mcnemar_exact(  # a sign test on the items one of the two is closer on
            (given_errors < their_errors).numpy(), (their_errors < given_errors).numpy()
        )
        if not theirs <= 0.75 * error or closer.p_value >= 1e-3:
            return ""
        shown = (
            f"mean absolute error {theirs:.4g} in your own units against {error:.4g} standardized"
        )
    return (
        f"the model appears fitted on your own, unstandardized features ({shown}); "
        f"{dataset.name!r} gives it features standardized with the training split's mean and "
        "std, so every figure would be wrong. Build the data with "
        "as_data(..., standardize=False), or fit the model on the lab's data"
    )


# Each model's prepared baseline (identity recipe), weakly keyed by the model object: the
# entry goes when the model does, and a changed fingerprint or data set replaces it.
_BASELINES: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[str, str], Runnable]] = (
    weakref.WeakKeyDictionary()
)
_BASELINES_LOCK = threading.Lock()


class Evaluation:
    """One model (any kind), one recipe, one data set being measured — refined in steps.

    :meth:`first_look` gives exact bytes, parameters and FLOPs and the accuracy on a fixed
    stratified part of the live split (``preliminary``; no timings); :meth:`final` gives
    every figure. The recipe is applied once, and the final pass runs only the live items
    the first look did not see. :meth:`cached` says what the store would serve without
    measuring. Arguments as :func:`evaluate`'s.

    Example:
        >>> from lab import zoo
        >>> from lab.techniques.configs import PruneConfig
        >>> ev = Evaluation(zoo.load("cnn"), PruneConfig(0.5), name="cnn")  # doctest: +SKIP
        >>> ev.first_look().preliminary, ev.final().preliminary  # doctest: +SKIP
        (True, False)
    """

    def __init__(
        self,
        model: object,
        recipe: object = None,
        *,
        split: str = "live",
        country: str = energy.DEFAULT_COUNTRY,
        name: str | None = None,
        effort: str = "full",
        store: ResultStore | None = None,
        use_cache: bool = True,
        threads: int | None = None,
        runtime: str = "torch",
        data: object = None,
        timings: dict[str, float] | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        if effort not in EFFORTS:
            raise ValueError(f"unknown effort {effort!r}; choose one of {', '.join(EFFORTS)}")
        check_arguments(
            name=name, store=store, use_cache=use_cache, timings=timings, runtime=runtime
        )
        self.country = energy.validate_country(country)
        self.threads = _threads_wanted(threads)
        self.kind = model_kind(model)
        self.dataset = _data_for(model, data)
        if isinstance(model, Compressed):
            if recipe is not None and Recipe.of(recipe) != model.recipe:
                raise ValueError("a Compressed model already has its recipe; pass recipe=None")
            recipe = model.recipe
        self.recipe = self.dataset.canonical(Recipe.of(recipe))
        self.split, self.effort, self.runtime = split, effort, runtime
        self.name = name or self.kind.name
        self.store = store if store is not None else default_store()
        self.use_cache = use_cache
        self.timings = timings
        self._runnable: Runnable | None = None
        self._first: Measurement | None = None
        with _threads(self.threads), _phase(timings, "fingerprint"):
            self.key = CacheKey.of(self.kind, self.recipe, split, effort, runtime, self.dataset)

    def __repr__(self) -> str:
        return f"Evaluation({self.name} [{self.recipe.describe()}] on {self.dataset.name} {self.split})"

    def cached(self) -> Measurement | None:
        """What the store serves for this evaluation now (None: it must be measured)."""
        return _stored(self.store, self.key, self.country, time.perf_counter())

    def runnable(self, cancel: threading.Event | None = None) -> Runnable:
        """The model with the recipe applied (applied once, on first use)."""
        if self._runnable is None:
            check(cancel)
            if (
                self.recipe.is_identity
                and self.runtime == "torch"
                and isinstance(self.kind.model, nn.Module)
            ):  # the baseline: prepared once per model and data, shared with later moves
                with _threads(self.threads):
                    self._runnable = self._shared_baseline(cancel)
            else:
                with _threads(self.threads), _phase(self.timings, "apply"):
                    self._runnable = self.kind.prepare(self.recipe, self.dataset, self.runtime)
            self._check_scale(cancel)
        return self._runnable

    def _check_scale(self, cancel: threading.Event | None) -> None:
        """Refuse a model that was fitted on the user's own (unstandardized) features and is
        given the standardized ones: once per model content and data (:func:`scale_problem`)."""
        if self.dataset.mean is None:
            return
        if not self.recipe.is_identity and not isinstance(self.kind.model, nn.Module):
            return  # a thin model's compressed torch form: its baseline is checked

        def problem_found() -> str:
            as_given = self._runnable if self.recipe.is_identity else self._shared_baseline(cancel)
            return scale_problem(as_given, self.dataset)

        with _threads(self.threads):
            if self.key.model_hash:
                key = (self.key.model_hash, self.dataset.fingerprint)
                problem = _SCALE_CHECKED.get(key, problem_found)
            else:  # content unknown (a scikit-learn model): checked each time, cheaply
                problem = problem_found()
        if problem:
            self._runnable = None  # refused every time, not measured on a second call
            raise ModelInterfaceError(problem)

    def first_look(
        self,
        images: int | None = None,
        cancel: threading.Event | None = None,
        *,
        budget_s: float = FIRST_LOOK_BUDGET_S,
    ) -> Measurement:
        """Exact bytes, counts and FLOPs; the accuracy on a fixed stratified part of the live
        split with its 95 % interval; no timings (``preliminary``). Nothing is stored.

        ``images``: how many live items; default as many as fit in ``budget_s`` seconds from
        this call (applying the recipe and the exact figures count against it), at least
        :data:`FIRST_LOOK_MIN_IMAGES` and at most :data:`PREVIEW_IMAGES`. The items grow in
        rounds, each round's speed deciding the next (online aggregation): a big model's
        first look rests on fewer items, and its interval and notes say so."""
        started = time.perf_counter()
        check_event(cancel)
        if images is not None and (
            isinstance(images, bool) or not isinstance(images, int) or images < 1
        ):
            raise ValueError(f"images must be a positive whole number or None; got {images!r}")
        if (
            isinstance(budget_s, bool)
            or not isinstance(budget_s, (int, float))
            or not (budget_s >= 0 and math.isfinite(budget_s))
        ):
            raise ValueError(f"budget_s must be a finite number of seconds ≥ 0; got {budget_s!r}")
        runnable = self.runnable(cancel)
        with _threads(self.threads):
            run = _Run(runnable, self.dataset.split("live"), self.dataset, "quick", cancel)
            found = {}
            quick_bytes = runnable.bytes_are_quick()
            for phase, metric in METRICS:
                if phase == "size" and not quick_bytes:  # seconds of encoding: with the final
                    found.update(artifact_bytes=None, state_dict_bytes=None)
                elif phase == "memory" and (found.get("flops") or 0) > QUICK_TRACE_FLOPS:
                    found.update(dict.fromkeys(_EXACT_FIELDS["memory"]))  # with the final
                elif phase in FIRST_LOOK:
                    found.update(metric(run))
            deadline = None if images is not None else started + budget_s
            part, predicted, scores = _first_look_pass(
                runnable, self.dataset, images or FIRST_LOOK_MIN_IMAGES, deadline, cancel
            )
            found.update(_quality_fields(self.dataset, part.labels, predicted, scores))
        result = self._result(
            runnable,
            found,
            split="live",
            effort="quick",
            latency_ms_p50=None,
            latency_ms_p95=None,
            throughput_ips=None,
            energy_kwh_per_1k=None,
            energy_source="not measured yet (preliminary)",
            preliminary=True,
        )
        result.notes.insert(
            0,
            f"preliminary: accuracy on a fixed stratified {found['n_images']:,} of the "
            f"{len(self.dataset.split('live')):,} live items; timings and energy follow"
            + ("" if quick_bytes else "; so do the bytes on disk (a big file to encode)")
            + (
                "; so does peak memory (a big model to trace)"
                if found["memory_method"] is None
                else ""
            ),
        )
        self._first = result if self.split == "live" else None
        return result

    def final(self, cancel: threading.Event | None = None) -> Measurement:
        """Every figure, from the store when it has them (see :func:`evaluate`)."""
        started = time.perf_counter()
        check_event(cancel)
        if self.use_cache and (hit := self.cached()) is not None:
            return hit
        runnable = self.runnable(cancel)
        with _threads(self.threads):
            run = _Run(
                runnable,
                self.dataset.split(self.split),
                self.dataset,
                self.effort,
                cancel,
                baseline=self._baseline(cancel),
                first_look=self._first,
            )
            for phase, metric in METRICS:
                check(cancel)
                with _phase(self.timings, phase):
                    run.found.update(metric(run))
        found = {k: v for k, v in run.found.items() if not k.startswith("_")}
        result = self._result(runnable, found, split=self.split, effort=self.effort)
        if note := _load_note(found["load_1min"]):
            result.notes.append(note)
        check(cancel)  # last chance: a cancelled evaluation stores nothing
        if self.key.model_hash:
            with _phase(self.timings, "result store write"):
                self.store.put(
                    str(self.key),
                    asdict(result),
                    model_name=self.name,
                    recipe=self.recipe.to_json(),
                    split=self.split,
                )
        result.seconds = time.perf_counter() - started
        return result

    def _baseline(self, cancel: threading.Event | None) -> Runnable | None:
        """The model without the recipe, to time interleaved (None when this is the baseline).

        Prepared once per model object, data and model content: a dashboard's every move
        times its configuration beside the same baseline without preparing it again."""
        if self.recipe.is_identity or not isinstance(self.kind.model, nn.Module):
            return None
        return self._shared_baseline(cancel)

    def _shared_baseline(self, cancel: threading.Event | None) -> Runnable:
        """The model prepared with the identity recipe for the torch runtime, shared by every
        evaluation of this model object on this data (see :meth:`_baseline`)."""
        model = self.kind.model
        check(cancel)
        wanted = (self.key.model_hash, self.dataset.fingerprint)
        with _BASELINES_LOCK:
            known = _BASELINES.get(model)
        if known is not None and known[0] == wanted and self.key.model_hash:
            return known[1]
        with _phase(self.timings, "apply"):
            runnable = self.kind.prepare(Recipe(), self.dataset, "torch")
        # kept without its reference to the user's model, so that the entry goes with it
        runnable.compressed = replace(runnable.compressed, original=None)
        with _BASELINES_LOCK:
            _BASELINES[model] = (wanted, runnable)
        return runnable

    def _result(self, runnable: Runnable, found: dict, **fields_) -> Measurement:
        kwh = fields_.get("energy_kwh_per_1k", found.get("energy_kwh_per_1k"))
        intensity = energy.carbon_intensity(self.country)
        return Measurement(
            name=self.name,
            recipe=self.recipe.to_json(),
            label=runnable.label,
            co2_g_per_1k=None if kwh is None else kwh * intensity,
            country=self.country,
            carbon_intensity_g_per_kwh=intensity,
            executes_as=runnable.executes_as,
            notes=list(runnable.notes),
            model_hash=self.key.model_hash,
            data=self.dataset.name,
            runtime=self.key.runtime if self.key.runtime != "sklearn" else "scikit-learn",
            **{**found, **fields_},
        )


def _data_for(model: object, data: object) -> Data:
    """The data to measure on: ``data``, else what a Compressed was made for, else the default."""
    dataset = as_data(data)
    made_for = model.data if isinstance(model, Compressed) else None
    if made_for is None:
        return dataset
    if data is not None and made_for.fingerprint != dataset.fingerprint:
        raise ValueError(
            f"this Compressed was made for {made_for.name!r}; evaluate it on that data "
            "(or pass data=None)"
        )
    return made_for


def evaluate(
    model: object,
    recipe: object = None,
    *,
    split: str = "live",
    country: str = energy.DEFAULT_COUNTRY,
    name: str | None = None,
    effort: str = "full",
    store: ResultStore | None = None,
    use_cache: bool = True,
    cancel: threading.Event | None = None,
    threads: int | None = None,
    timings: dict[str, float] | None = None,
    runtime: str = "torch",
    data: object = None,
) -> Measurement:
    """Measure ``model`` (optionally after applying ``recipe`` to a copy of it) on ``split``.

    Args:
        model: any kind :mod:`lab.kinds` knows — a ``torch.nn.Module`` mapping a batch of the
            data's samples (N×1×28×28 normalized Fashion-MNIST images by default) to N×K
            logits, a :class:`~lab.techniques.apply.Compressed` result, or a thin model (a
            :class:`lab.thin.ThinModel` or a fitted scikit-learn classifier on the flattened
            samples, Pipelines included) — measured alike: accuracy, bytes of its real file,
            operations, latency, energy.
        recipe: techniques to apply first (to a copy; ``model`` is never modified): a
            :class:`Recipe`, one technique config, or None.
        split: ``live`` (2,000 balanced test images), ``val`` or ``test``.
        country: ISO 3166 alpha-3 code for the carbon intensity (e.g. ``FRA``, ``USA``);
            a stored result is re-priced for another country, never re-measured.
        name: label stored with the result (defaults to the model's class name).
        effort: ``quick`` (for live sliders) or ``full`` (more latency samples).
        store: where results persist (default: :func:`lab.store.default_store`).
        use_cache: return a stored result for the same inputs instead of re-measuring.
        cancel: when this event is set (from another thread), the evaluation stops at its
            next check and raises :class:`Cancelled`; nothing is stored.
        threads: torch threads for this evaluation (default: ``LAB_THREADS``, else the
            process's setting); the caller's setting is restored afterwards.
        timings: a dict to receive the seconds spent in each phase (fingerprint, apply,
            each metric of :data:`METRICS`, store write) — a public hook for benchmarks.
        runtime: ``"torch"`` or ``"onnxruntime"`` (see :func:`lab.techniques.apply.apply`).
        data: the data to measure on (and, for a recipe, to fine-tune and calibrate
            with): anything :func:`lab.datasets.as_data` accepts — a torch Dataset or
            DataLoader, ``(X, y)`` arrays or tensors, a scikit-learn Bunch, a dict of
            splits. Default: Fashion-MNIST.

    A first look before the final figures: :class:`Evaluation`.
    """
    return Evaluation(
        model,
        recipe,
        split=split,
        country=country,
        name=name,
        effort=effort,
        store=store,
        use_cache=use_cache,
        threads=threads,
        runtime=runtime,
        data=data,
        timings=timings,
    ).final(cancel)


def cached_result(model: object, recipe: object = None, **kwargs) -> Measurement | None:
    """What :func:`evaluate` would serve from the result store right now, or None (it
    would measure). Cheap: a fingerprint and one lookup. Arguments as :func:`evaluate`'s."""
    return Evaluation(model, recipe, **kwargs).cached()


def results_frame(store: ResultStore | None = None) -> pd.DataFrame:
    """Every stored evaluation as a DataFrame (one row per evaluation)."""
    return (store or default_store()).to_frame()
