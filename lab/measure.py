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

Every evaluation is persisted in :mod:`lab.store` and served from it when the same
model (by content hash), recipe, split, country and effort come again. Artifact byte
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
import hashlib
import json
import math
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, astuple, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import artifact, data, energy, flops, machine, stats
from .datasets import Data, as_data
from .store import ResultStore, default_store
from .techniques.apply import Compressed, apply
from .techniques.configs import Recipe

__all__ = [
    "EFFORTS",
    "METRICS",
    "CacheKey",
    "Cancelled",
    "Measurement",
    "count_flops",
    "evaluate",
    "fingerprint",
    "measure_latency",
]

EFFORTS = {
    # batch-1 timed runs, batch-256 timed repeats, whether to measure energy
    "quick": {"batch1_runs": 15, "throughput_repeats": 0, "energy": True},
    "full": {"batch1_runs": 100, "throughput_repeats": 5, "energy": True},
}
THROUGHPUT_BATCH = 256
# Images per accuracy-pass batch: 256 was the fastest size measured on 2 cores (figures in
# the README, "Cost of measuring"); it also keeps the quick throughput a batch-256 figure
# and cancellation checks one batch apart.
ACCURACY_BATCH = 256
# 2: fp32 runtimes run with BN folded and channels_last (faster latency/throughput/energy,
#    executes_as says so); quick throughput timed on the pass's batches of exactly 256 images
# 3: state_dict_bytes is the input model's file (was the pruned model's); machine fields
# 4: accuracy interval, per-image results, latency samples; the data's fingerprint in the key
MEASUREMENT_VERSION = 4  # bump when the meaning of a stored number changes
SIZE_CACHE_ENTRIES = 512  # in-process artifact byte counts remembered (LRU)


class Cancelled(Exception):
    """:func:`evaluate` was abandoned because its ``cancel`` event was set; nothing was stored."""


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("evaluation cancelled")


@dataclass
class Measurement:
    """Everything the lab measured about one model on one split. ``to_row()`` gives a flat dict."""

    name: str
    recipe: str  # JSON of the applied Recipe ("{}" for none)
    label: str  # human label of the recipe
    split: str
    n_images: int
    accuracy: float
    artifact_bytes: int  # size on disk of lab.artifact.save's file
    state_dict_bytes: int  # size on disk of torch.save(input_model.state_dict()): the fp32
    # baseline of every ratio (the model before the recipe, not the pruned one)
    parameters: int
    nonzero_parameters: int
    resolution: int | None  # input pixels per side the network processes (None: tabular)
    flops: int  # per image (2 × MACs)
    macs: int
    latency_ms_p50: float  # batch 1
    latency_ms_p95: float
    throughput_ips: float  # images / s at batch 256 (quick: the accuracy pass; full: median of 5)
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
    preliminary: bool = False  # a first look (preview): part of the images, no timings

    @property
    def compression_ratio(self) -> float:
        """The input model's fp32 state_dict bytes / this artifact's bytes."""
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

    def latency_within_noise(self, baseline: Measurement) -> bool | None:
        """Whether the batch-1 latency change vs ``baseline`` is inside the measurement noise
        (Mann–Whitney U on the timed runs); None when either lacks samples."""
        if not self.latency_samples_ms or not baseline.latency_samples_ms:
            return None
        return stats.same_within_noise(baseline.latency_samples_ms, self.latency_samples_ms)

    def to_row(self) -> dict:
        row = asdict(self)
        row["notes"] = "; ".join(self.notes)
        row["compression_ratio"] = round(self.compression_ratio, 2)
        del row["correct_bits"], row["latency_samples_ms"]  # raw samples: see correct()
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
            f"Measurement({self.name} [{self.label}] on {self.split}: acc {self.accuracy:.2%}, "
            f"{self.artifact_bytes:,} B on disk ({self.compression_ratio:.1f}x), "
            f"{self.macs / 1e6:.2f} M MACs, {_number(self.latency_ms_p50, '.2f')} ms p50, "
            f"{_number(self.throughput_ips, ',.0f')} img/s, CO2/1k {co2} @ {self.country})"
        )


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _hash_value(digest, name: str, value: object) -> None:
    """Feed ``name`` and a tensor's shape, dtype and bytes (or another value's repr) to ``digest``."""
    digest.update(name.encode())
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        digest.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    else:
        digest.update(repr(value).encode())


def fingerprint(model: nn.Module) -> str:
    """SHA-256 (16 hex) of a model's class, parameter/buffer names, shapes and values."""
    digest = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in model.state_dict().items():
        _hash_value(digest, name, tensor)
    return digest.hexdigest()[:16]


def count_flops(
    model: nn.Module, size: int = data.NATIVE_SIZE, *, example: torch.Tensor | None = None
) -> int:
    """FLOPs for one input as torch's FlopCounterMode counts them (:mod:`lab.flops`):
    ``example`` (one sample, batch 1), or a 1×1×size×size image."""
    x = torch.zeros(1, 1, size, size) if example is None else example
    return flops.count_flops(model, x)


def _timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


@torch.no_grad()
def measure_latency(
    model: nn.Module,
    size: int = data.NATIVE_SIZE,
    batch1_runs: int = 100,
    throughput_repeats: int = 5,
    *,
    cancel: threading.Event | None = None,
    input_shape: tuple[int, ...] | None = None,
    samples: list[float] | None = None,
    example: torch.Tensor | None = None,
) -> tuple[float, float, float | None]:
    """Batch-1 median and p95 latency (ms) and batch-256 throughput (images/s) after warm-up.

    Inputs are ``example`` — real samples of the data (``Data.example(n)``: any N ≥ 1; its
    first sample is timed at batch 1 and its samples, cycled, fill the batch of 256; token
    ids stay integers) — or else seeded random normal ``input_shape`` samples (one
    sample's shape, e.g. ``(3, 32, 32)`` or ``(30,)``), by default 1×size×size images.
    Returns ``(p50_ms, p95_ms, throughput)``; throughput is None when
    ``throughput_repeats`` is 0; ``samples`` (a list), when given, receives every timed
    batch-1 run in ms. Raises :class:`Cancelled` between timed runs once ``cancel`` is set.
    """
    shape = (1, size, size) if input_shape is None else tuple(input_shape)
    inputs = torch.Generator().manual_seed(0)  # the caller's random stream is left alone
    if example is not None and (example.ndim < 1 or len(example) == 0):
        raise ValueError(
            f"example must be a batch of ≥ 1 samples; got shape {tuple(example.shape)}"
        )
    one = torch.randn(1, *shape, generator=inputs) if example is None else example[:1]
    for _ in range(3):
        model(one)

    def run_one() -> None:
        _check(cancel)  # outside the timed call (is_set() is ~50 ns anyway)
        start = time.perf_counter()
        model(one)
        per_image.append(time.perf_counter() - start)

    per_image: list[float] = []
    for _ in range(batch1_runs):
        run_one()
    per_image_ms = np.array(per_image) * 1e3
    if samples is not None:
        samples.extend(float(v) for v in per_image_ms)
    throughput = None
    if throughput_repeats:
        _check(cancel)
        if example is None:
            batch = torch.randn(THROUGHPUT_BATCH, *shape, generator=inputs)
        else:
            batch = example[torch.arange(THROUGHPUT_BATCH) % len(example)]
        model(batch)
        times = []
        for _ in range(throughput_repeats):
            _check(cancel)
            times += _timed(lambda: model(batch), 1)
        throughput = THROUGHPUT_BATCH / float(np.median(times))
    return float(np.median(per_image_ms)), float(np.percentile(per_image_ms, 95)), throughput


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
    model: nn.Module, split: data.Split, cancel: threading.Event | None = None
) -> tuple[torch.Tensor, float, float]:
    """``(per-image correctness, seconds, images/s at batch 256)``: the rate over the pass's
    batches of exactly 256 images (over the whole pass if it has none: ≤ 256 images)."""
    right, start = [], time.perf_counter()
    full_images, full_seconds = 0, 0.0
    for lo, hi in _pass_batches(len(split)):
        _check(cancel)
        batch_start = time.perf_counter()
        logits = model(split.images[lo:hi])
        right.append(logits.argmax(1) == split.labels[lo:hi])
        if hi - lo == THROUGHPUT_BATCH:
            full_images, full_seconds = (
                full_images + hi - lo,
                full_seconds + time.perf_counter() - batch_start,
            )
    seconds = time.perf_counter() - start
    rate = full_images / full_seconds if full_images else len(split) / seconds
    return torch.cat(right), seconds, rate


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


_SIZES: OrderedDict[str, int] = OrderedDict()  # content key → bytes of a file written once
_SIZES_LOCK = threading.Lock()


def _size_key(model: nn.Module) -> str:
    """What :func:`lab.artifact.save` reads: the state_dict (:func:`fingerprint`), the
    weight codes attached to layers (outside the state_dict) and the modules' shape attributes."""
    from .techniques.codes import codes_of

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


def _remembered_bytes(key: str, write: Callable[[], int]) -> int:
    """Bytes of a file ``write()`` produces, remembered (LRU) by the content ``key``."""
    with _SIZES_LOCK:
        if key in _SIZES:
            _SIZES.move_to_end(key)
            return _SIZES[key]
    size = write()
    with _SIZES_LOCK:
        _SIZES[key] = size
        while len(_SIZES) > SIZE_CACHE_ENTRIES:
            _SIZES.popitem(last=False)
    return size


def _artifact_bytes(model: nn.Module, cancel: threading.Event | None = None) -> int:
    """Bytes of :func:`lab.artifact.save`'s file for the stored ``model``."""

    def write() -> int:
        _check(cancel)
        with tempfile.TemporaryDirectory() as tmp:
            return artifact.save(model, Path(tmp) / "model.lab")

    return _remembered_bytes(_size_key(model), write)


def _parameter_counts(model: nn.Module) -> tuple[int, int]:
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(int(torch.count_nonzero(p)) for p in params)


def _baseline_bytes(original: nn.Module) -> int:
    """Bytes of the *input* model's fp32 ``state_dict`` file: the baseline of every ratio."""
    key = f"fp32 state_dict|{fingerprint(original)}"
    return _remembered_bytes(key, lambda: artifact.state_dict_bytes(original))


@dataclass(frozen=True)
class CacheKey:
    """What makes two evaluations the same: model content, recipe, split, country, effort,
    thread count, runtime, the data's fingerprint and the measurement version.
    ``str(key)`` is the result store's key."""

    model_hash: str
    recipe: str
    split: str
    country: str
    effort: str
    threads: int
    runtime: str = "torch"
    data: str = "fashion-mnist"
    version: int = MEASUREMENT_VERSION

    def __str__(self) -> str:
        return "|".join(str(value) for value in astuple(self))


@dataclass
class _Run:
    """One uncached evaluation in progress: its inputs, and the fields measured so far."""

    compressed: Compressed
    split: data.Split
    dataset: Data
    settings: dict
    cancel: threading.Event | None
    found: dict = field(default_factory=dict)  # Measurement fields (and a few internals)
    first_look: Measurement | None = None  # preview() of the same applied model (live split)


def _measure_accuracy_and_energy(run: _Run) -> dict:
    """Accuracy over the split, energy over the pass. With a first look, only the images it
    did not see are run; its per-image results fill in the rest, in the split's order."""
    passes: list[tuple[int, float, float]] = []
    runtime, chunk = run.compressed.runtime, run.split
    seen = run.first_look
    # preview()'s images are the live split's, as given (any resizing happens in the runtime);
    # None when it saw the whole (small) split: run it all, energy needs a pass
    positions = None if seen is None else run.dataset.subset_positions("live", seen.n_images)
    if positions is not None:
        chunk = run.dataset.subset_rest("live", seen.n_images)
    reading = energy.measure_energy(
        lambda: passes.append(_accuracy_pass(runtime, chunk, run.cancel))
    )
    right, _, pass_throughput = passes[0]
    if positions is not None:
        part, rest = positions
        whole = torch.empty(len(run.split), dtype=torch.bool)
        whole[part] = torch.from_numpy(seen.correct())
        whole[rest] = right
        right = whole
    return {
        **accuracy_fields(right),
        "energy_kwh_per_1k": None if reading.kwh is None else reading.kwh / len(chunk) * 1000,
        "energy_source": reading.provenance,
        "_pass_throughput": pass_throughput,
    }


def _measure_latency(run: _Run) -> dict:
    p50, p95, throughput = measure_latency(
        run.compressed.runtime,
        batch1_runs=run.settings["batch1_runs"],
        throughput_repeats=run.settings["throughput_repeats"],
        cancel=run.cancel,
        input_shape=run.dataset.input_shape,  # the runtime takes native-size inputs
        samples=(samples := []),
    )
    if throughput is None:  # quick: the accuracy pass's batches of 256 images, timed
        throughput = run.found["_pass_throughput"]
    return {
        "latency_ms_p50": p50,
        "latency_ms_p95": p95,
        "throughput_ips": throughput,
        "latency_samples_ms": samples,
    }


_EXACT_FIELDS = {  # measured by preview() exactly as evaluate() would: reused from a first look
    "size": ("artifact_bytes", "state_dict_bytes"),
    "counts and FLOPs": ("parameters", "nonzero_parameters", "resolution", "flops", "macs"),
}


def _from_first_look(run: _Run, phase: str) -> dict | None:
    if run.first_look is None:
        return None
    return {name: getattr(run.first_look, name) for name in _EXACT_FIELDS[phase]}


def _measure_size(run: _Run) -> dict:
    if (known := _from_first_look(run, "size")) is not None:
        return known
    original = run.compressed.original or run.compressed.model
    return {
        "artifact_bytes": _artifact_bytes(run.compressed.model, run.cancel),
        "state_dict_bytes": _baseline_bytes(original),
    }


def _measure_counts(run: _Run) -> dict:
    if (known := _from_first_look(run, "counts and FLOPs")) is not None:
        return known
    parameters, nonzero = _parameter_counts(run.compressed.model)
    example = run.dataset.example(1, run.compressed.resolution)
    flops = count_flops(run.compressed.model, example=example)
    return {
        "parameters": parameters,
        "nonzero_parameters": nonzero,
        "resolution": run.compressed.resolution,
        "flops": flops,
        "macs": flops // 2,
    }


def _measure_machine(run: _Run) -> dict:
    info = machine.describe()
    return {
        "threads": info["threads"],
        "cpu_model": info["cpu_model"],
        "cpu_capability": info["cpu_capability"],
        "torch_version": info["torch"],
        "load_1min": info["load_1min"],
    }


# Each metric: a name (the phase reported in ``timings``) and a function returning
# Measurement fields; they run in this order. Adding a metric: a field in Measurement
# and one entry here.
METRICS: tuple[tuple[str, object], ...] = (
    ("accuracy pass + energy", _measure_accuracy_and_energy),
    ("latency", _measure_latency),
    ("size", _measure_size),
    ("counts and FLOPs", _measure_counts),
    ("machine", _measure_machine),
)


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


def _stored(store: ResultStore, key: CacheKey, started: float) -> Measurement | None:
    """The stored result for ``key``, marked cached (None when there is none, or when its
    load-dependent figures are stale: :func:`stale_reason`)."""
    hit = store.get(str(key))
    if hit is None:
        return None
    result = Measurement(**hit)
    if stale_reason(result) is not None:
        return None
    result.cached, result.seconds = True, time.perf_counter() - started
    return result


def _as_thin(model: object):
    """``model`` as a :class:`lab.thin.ThinModel` (a scikit-learn estimator is wrapped), or None."""
    module = type(model).__module__
    if not (module.startswith("lab.thin") or module.startswith("sklearn")):
        return None
    from .thin import ThinModel

    return model if isinstance(model, ThinModel) else ThinModel.from_estimator(model)


def _evaluate_thin(thin, recipe, split, country, name, effort, store, use_cache, cancel, dataset):
    """:func:`evaluate` for a thin (scikit-learn) model: the same Measurement, stored alike."""
    from .thin import measure_thin

    if recipe is not None and not Recipe.of(recipe).is_identity:
        raise ValueError(
            f"a recipe cannot be applied to a {thin.name}: {thin.techniques}. Linear models and "
            "the MLP have a torch form: evaluate(thin.to_torch(), recipe)"
        )
    started = time.perf_counter()
    store = store if store is not None else default_store()
    model_hash = (thin.file_sha256 or "")[:16]
    key = CacheKey(
        model_hash,
        "{}",
        split,
        country,
        effort,
        torch.get_num_threads(),
        "sklearn",
        dataset.fingerprint,
    )
    hit = _stored(store, key, started) if use_cache and model_hash else None
    if hit is not None:
        return hit
    row = measure_thin(thin, split, country, effort=effort, cancel=cancel, data=dataset)
    known = set(Measurement.__dataclass_fields__)
    result = Measurement(**{k: v for k, v in row.items() if k in known})
    result.name = name or result.name
    result.data = dataset.name
    result.seconds = time.perf_counter() - started
    _check(cancel)
    if model_hash:
        store.put(str(key), asdict(result), model_name=result.name, recipe="{}", split=split)
    return result


def evaluate(
    model: nn.Module | Compressed,
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
    applied: Compressed | None = None,
    first_look: Measurement | None = None,
) -> Measurement:
    """Measure ``model`` (optionally after applying ``recipe`` to a copy of it) on ``split``.

    Args:
        model: a ``torch.nn.Module`` mapping a batch of the data's samples (N×1×28×28
            normalized Fashion-MNIST images by default) to N×K logits,
            a :class:`~lab.techniques.apply.Compressed` result, or a thin model (a
            :class:`lab.thin.ThinModel` or a fitted scikit-learn classifier on the flattened
            samples), measured alike: accuracy, bytes of its skops file, operations,
            latency, energy.
        recipe: techniques to apply first (to a copy; ``model`` is never modified): a
            :class:`Recipe`, one technique config, or None.
        split: ``live`` (2,000 balanced test images), ``val`` or ``test``.
        country: ISO 3166 alpha-3 code for the carbon intensity (e.g. ``FRA``, ``USA``).
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
        applied: ``apply(model, recipe, data=data)`` when already computed (e.g. by
            :func:`preview`): it is measured instead of applying the recipe again.
        first_look: the measurement :func:`preview` returned with ``applied`` (live split):
            its exact figures and per-image results are kept and only the live images it did
            not see are run (a quarter less work for the final figures). Needs ``applied``.
    """
    started = time.perf_counter()
    if split not in ("live", "val", "test"):
        raise ValueError(f"unknown split {split!r}; choose one of live, val, test")
    if effort not in EFFORTS:
        raise ValueError(f"unknown effort {effort!r}; choose one of {', '.join(EFFORTS)}")
    country = energy.validate_country(country)
    dataset = as_data(data)
    if isinstance(model, Compressed) and data is not None and model.data is not None:
        if model.data.fingerprint != dataset.fingerprint:
            raise ValueError(
                f"this Compressed was made for {model.data.name!r}; evaluate it on that data "
                "(or pass data=None)"
            )
    if isinstance(model, Compressed) and data is None and model.data is not None:
        dataset = model.data
    if not isinstance(model, (nn.Module, Compressed)):
        thin = _as_thin(model)
        if thin is None:
            raise TypeError(
                "evaluate() needs a torch.nn.Module, a Compressed, a lab.thin.ThinModel or a "
                f"fitted scikit-learn classifier; got {type(model).__name__}"
            )
        return _evaluate_thin(
            thin, recipe, split, country, name, effort, store, use_cache, cancel, dataset
        )
    if isinstance(model, Compressed):
        if recipe is not None and Recipe.of(recipe) != model.recipe:
            raise ValueError("a Compressed model already has its recipe; pass recipe=None")
        recipe = model.recipe
    recipe = dataset.canonical(Recipe.of(recipe))
    with _threads(_threads_wanted(threads)):
        base = model.model if isinstance(model, Compressed) else model
        name = name or type(base).__name__
        with _phase(timings, "fingerprint"):
            key = CacheKey(
                fingerprint(base),
                recipe.to_json(),
                split,
                country,
                effort,
                torch.get_num_threads(),
                runtime,
                dataset.fingerprint,
            )
        store = store if store is not None else default_store()
        hit = _stored(store, key, started) if use_cache else None
        if hit is not None:
            return hit
        _check(cancel)
        with _phase(timings, "apply"):
            if isinstance(model, Compressed):
                compressed = model
                if runtime != "torch":
                    raise ValueError("pass runtime= to apply() when evaluating a Compressed model")
            elif applied is not None:
                if applied.original is not model or applied.recipe != recipe:
                    raise ValueError("applied= must be apply(model, recipe) of this model")
                compressed = applied
            else:
                compressed = apply(model, recipe, progress=False, runtime=runtime, data=dataset)
            compressed.model.eval()
            compressed.runtime.eval()
        if first_look is not None:
            _check_first_look(first_look, applied, recipe, split, dataset)
        run = _Run(
            compressed,
            dataset.split(split),
            dataset,
            EFFORTS[effort],
            cancel,
            first_look=first_look,
        )
        for phase, metric in METRICS:
            _check(cancel)
            with _phase(timings, phase):
                run.found.update(metric(run))
        fields_ = {k: v for k, v in run.found.items() if not k.startswith("_")}
        note = _load_note(fields_["load_1min"])
        kwh_per_1k = fields_["energy_kwh_per_1k"]
        intensity = energy.carbon_intensity(country)
        result = Measurement(
            name=name,
            recipe=recipe.to_json(),
            label=recipe.describe(),
            split=split,
            co2_g_per_1k=None if kwh_per_1k is None else kwh_per_1k * intensity,
            country=country,
            carbon_intensity_g_per_kwh=intensity,
            executes_as=compressed.executes_as,
            notes=[*compressed.notes, *([note] if note else [])],
            model_hash=key.model_hash,
            effort=effort,
            data=dataset.name,
            **fields_,
        )
        result.seconds = time.perf_counter() - started
        _check(cancel)  # last chance: a cancelled evaluation stores nothing
        with _phase(timings, "result store write"):
            store.put(
                str(key), asdict(result), model_name=name, recipe=recipe.to_json(), split=split
            )
        result.seconds = time.perf_counter() - started  # including the write
        return result


def _check_first_look(
    first_look: Measurement, applied: Compressed | None, recipe: Recipe, split: str, dataset: Data
) -> None:
    problem = None
    if applied is None:
        problem = "pass the applied model preview() returned with it (applied=...)"
    elif not getattr(first_look, "preliminary", False) or first_look.split != "live":
        problem = "it must be the preliminary live measurement preview() returned"
    elif split != "live":
        problem = f"it covers live images; this evaluation is on {split!r}"
    elif first_look.recipe != recipe.to_json():
        problem = f"it is of another recipe ({first_look.label})"
    elif first_look.data != dataset.name or not first_look.correct_bits:
        problem = "it is of other data"
    if problem:
        raise ValueError(f"first_look= cannot be used: {problem}")


PREVIEW_IMAGES = 500  # a fixed stratified part of the live split (its 95 % interval: ±1.5–3 pt)


def cached_result(
    model: nn.Module,
    recipe: object = None,
    *,
    split: str = "live",
    country: str = energy.DEFAULT_COUNTRY,
    effort: str = "full",
    store: ResultStore | None = None,
    threads: int | None = None,
    runtime: str = "torch",
    data: object = None,
) -> Measurement | None:
    """What :func:`evaluate` would serve from the result store right now, or None (it
    would measure). Cheap: a fingerprint and one lookup."""
    dataset = as_data(data)
    recipe = dataset.canonical(Recipe.of(recipe))
    with _threads(_threads_wanted(threads)):
        key = CacheKey(
            fingerprint(model),
            recipe.to_json(),
            split,
            energy.validate_country(country),
            effort,
            torch.get_num_threads(),
            runtime,
            dataset.fingerprint,
        )
    return _stored(store if store is not None else default_store(), key, time.perf_counter())


def preview(
    model: nn.Module,
    recipe: object = None,
    *,
    data: object = None,
    images: int = PREVIEW_IMAGES,
    name: str | None = None,
    country: str = energy.DEFAULT_COUNTRY,
    cancel: threading.Event | None = None,
) -> tuple[Compressed, Measurement]:
    """A first look, in a fraction of :func:`evaluate`'s time: ``(applied, measurement)``.

    Exact: bytes on disk, parameters, non-zeros, FLOPs (the same as the final figures).
    Preliminary (``measurement.preliminary``): the accuracy on a fixed stratified
    ``images`` of the live split, with its 95 % interval. Not measured yet (None):
    latency, throughput, energy, CO2. Pass ``applied`` to :func:`evaluate`
    (``applied=...``) to finish without applying the recipe twice. Nothing is stored.
    """
    dataset = as_data(data)
    recipe = dataset.canonical(Recipe.of(recipe))
    compressed = apply(model, recipe, progress=False, data=dataset)
    compressed.model.eval()
    compressed.runtime.eval()
    _check(cancel)
    part = dataset.subset("live", images)
    run = _Run(compressed, part, dataset, EFFORTS["quick"], cancel)
    right, _, _ = _accuracy_pass(compressed.runtime, part, cancel)
    found = {**accuracy_fields(right), **_measure_size(run), **_measure_counts(run)}
    found.update(_measure_machine(run))
    result = Measurement(
        name=name or type(model).__name__,
        recipe=recipe.to_json(),
        label=recipe.describe(),
        split="live",
        latency_ms_p50=None,
        latency_ms_p95=None,
        throughput_ips=None,
        energy_kwh_per_1k=None,
        co2_g_per_1k=None,
        country=energy.validate_country(country),
        carbon_intensity_g_per_kwh=energy.carbon_intensity(country),
        energy_source="not measured yet (preliminary)",
        executes_as=compressed.executes_as,
        notes=[
            f"preliminary: accuracy on a fixed stratified {found['n_images']:,} of the "
            f"{len(dataset.split('live')):,} live images; timings and energy follow"
        ],
        effort="quick",
        data=dataset.name,
        preliminary=True,
        **found,
    )
    return compressed, result


def results_frame(store: ResultStore | None = None) -> pd.DataFrame:
    """Every stored evaluation as a DataFrame (one row per evaluation)."""
    return (store or default_store()).to_frame()
