"""Honest measurement: one call gives accuracy, real bytes on disk, FLOPs, latency, energy and CO2.

* **Accuracy** on a named split (``live``, ``val``, ``test``).
* **Size**: bytes of the real artifact file written by :func:`lab.artifact.save`
  (which :func:`lab.artifact.load` reads back to identical outputs), next to the
  fp32 ``state_dict`` file's bytes, the parameter count and the non-zero count.
* **FLOPs/MACs** per image at the input resolution actually processed, counted by
  torch's own ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix
  products; FLOPs = 2 × MACs). Unstructured zeros are still executed, so they are counted.
* **Latency**: batch-1 median and p95 after warm-up, and throughput at batch 256,
  with the thread count stated.
* **Energy and CO2** per 1,000 inferences from codecarbon (see :mod:`lab.energy`), with
  the provenance of the power figure; "unavailable: <reason>" when codecarbon fails.

Every evaluation is persisted in :mod:`lab.store` and served from it when the same
model (by content hash), recipe, split, country and effort come again.

Example:
    >>> from lab import zoo, measure
    >>> m = measure.evaluate(zoo.load("cnn"), split="live", name="cnn")  # doctest: +SKIP
    >>> m.accuracy, m.artifact_bytes, m.latency_ms_p50  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import artifact, data, energy
from .store import ResultStore, default_store
from .techniques.apply import Compressed, apply
from .techniques.configs import Recipe

__all__ = ["EFFORTS", "Measurement", "count_flops", "evaluate", "fingerprint", "measure_latency"]

EFFORTS = {
    # batch-1 timed runs, batch-256 timed repeats, whether to measure energy
    "quick": {"batch1_runs": 15, "throughput_repeats": 0, "energy": True},
    "full": {"batch1_runs": 100, "throughput_repeats": 5, "energy": True},
}
THROUGHPUT_BATCH = 256
MEASUREMENT_VERSION = 1  # bump when the meaning of a stored number changes


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
    state_dict_bytes: int  # size on disk of torch.save(model.state_dict()) (fp32 baseline)
    parameters: int
    nonzero_parameters: int
    resolution: int  # input pixels per side the network processes
    flops: int  # per image (2 × MACs)
    macs: int
    latency_ms_p50: float  # batch 1
    latency_ms_p95: float
    throughput_ips: float  # images / s at batch 256
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

    @property
    def compression_ratio(self) -> float:
        """fp32 state_dict bytes / artifact bytes."""
        return self.state_dict_bytes / max(1, self.artifact_bytes)

    def to_row(self) -> dict:
        row = asdict(self)
        row["notes"] = "; ".join(self.notes)
        row["compression_ratio"] = round(self.compression_ratio, 2)
        return row

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.to_row()])

    def to_json(self) -> str:
        payload = asdict(self)
        payload["compression_ratio"] = self.compression_ratio
        return json.dumps(payload, indent=2)

    def __repr__(self) -> str:
        co2 = "n/a" if self.co2_g_per_1k is None else f"{self.co2_g_per_1k * 1000:.2f} mg"
        return (f"Measurement({self.name} [{self.label}] on {self.split}: acc {self.accuracy:.2%}, "
                f"{self.artifact_bytes:,} B on disk ({self.compression_ratio:.1f}x), "
                f"{self.macs / 1e6:.2f} M MACs, {self.latency_ms_p50:.2f} ms p50, "
                f"{self.throughput_ips:,.0f} img/s, CO2/1k {co2} @ {self.country})")  # fmt: skip


def fingerprint(model: nn.Module) -> str:
    """SHA-256 (16 hex) of a model's class, parameter/buffer names, shapes and values."""
    digest = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        if isinstance(tensor, torch.Tensor):
            t = tensor.detach().cpu().contiguous()
            digest.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        else:
            digest.update(repr(tensor).encode())
    return digest.hexdigest()[:16]


def count_flops(model: nn.Module, size: int = data.NATIVE_SIZE) -> int:
    """FLOPs for one 1×1×size×size image, counted by torch's FlopCounterMode."""
    x = torch.zeros(1, 1, size, size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops())


def _timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


@torch.no_grad()
def measure_latency(model: nn.Module, size: int = data.NATIVE_SIZE, batch1_runs: int = 100,
                    throughput_repeats: int = 5) -> tuple[float, float, float | None]:  # fmt: skip
    """Batch-1 median and p95 latency (ms) and batch-256 throughput (images/s) after warm-up.

    Returns ``(p50_ms, p95_ms, throughput)``; throughput is None when ``throughput_repeats`` is 0.
    """
    one = torch.randn(1, 1, size, size)
    for _ in range(3):
        model(one)
    per_image = np.array(_timed(lambda: model(one), batch1_runs)) * 1e3
    throughput = None
    if throughput_repeats:
        batch = torch.randn(THROUGHPUT_BATCH, 1, size, size)
        model(batch)
        seconds = float(np.median(_timed(lambda: model(batch), throughput_repeats)))
        throughput = THROUGHPUT_BATCH / seconds
    return float(np.median(per_image)), float(np.percentile(per_image, 95)), throughput


@torch.no_grad()
def _accuracy_pass(model: nn.Module, split: data.Split) -> tuple[int, float]:
    correct, start = 0, time.perf_counter()
    for i in range(0, len(split), THROUGHPUT_BATCH):
        logits = model(split.images[i : i + THROUGHPUT_BATCH])
        correct += int((logits.argmax(1) == split.labels[i : i + THROUGHPUT_BATCH]).sum())
    return correct, time.perf_counter() - start


def _sizes(model: nn.Module) -> tuple[int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        artifact_bytes = artifact.save(model, Path(tmp) / "model.lab")
    return artifact_bytes, artifact.state_dict_bytes(model)


def _parameter_counts(model: nn.Module) -> tuple[int, int]:
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(int(torch.count_nonzero(p)) for p in params)


def evaluate(
    model: nn.Module | Compressed,
    recipe: Recipe | None = None,
    *,
    split: str = "live",
    country: str = energy.DEFAULT_COUNTRY,
    name: str | None = None,
    effort: str = "full",
    store: ResultStore | None = None,
    use_cache: bool = True,
) -> Measurement:
    """Measure ``model`` (optionally after applying ``recipe`` to a copy of it) on ``split``.

    Args:
        model: a ``torch.nn.Module`` mapping N×1×28×28 normalized images to 10 logits,
            or a :class:`~lab.techniques.apply.Compressed` result.
        recipe: techniques to apply first (to a copy; ``model`` is never modified).
        split: ``live`` (2,000 balanced test images), ``val`` or ``test``.
        country: ISO 3166 alpha-3 code for the carbon intensity (e.g. ``FRA``, ``USA``).
        name: label stored with the result (defaults to the model's class name).
        effort: ``quick`` (for live sliders) or ``full`` (more latency samples).
        store: where results persist (default: :func:`lab.store.default_store`).
        use_cache: return a stored result for the same inputs instead of re-measuring.
    """
    started = time.perf_counter()
    if split not in ("live", "val", "test"):
        raise ValueError(f"unknown split {split!r}; choose one of live, val, test")
    if effort not in EFFORTS:
        raise ValueError(f"unknown effort {effort!r}; choose one of {', '.join(EFFORTS)}")
    country = energy.validate_country(country)
    if not isinstance(model, (nn.Module, Compressed)):
        raise TypeError(f"evaluate() needs a torch.nn.Module or Compressed, got {type(model).__name__}")
    if isinstance(model, Compressed):
        if recipe is not None and recipe != model.recipe:
            raise ValueError("a Compressed model already has its recipe; pass recipe=None")
        recipe = model.recipe
    recipe = recipe or Recipe()
    base = model.model if isinstance(model, Compressed) else model
    name = name or type(base).__name__
    key = "|".join([fingerprint(base), recipe.to_json(), split, country, effort,
                    str(torch.get_num_threads()), f"v{MEASUREMENT_VERSION}"])  # fmt: skip
    store = store if store is not None else default_store()
    if use_cache:
        hit = store.get(key)
        if hit is not None:
            result = Measurement(**hit)
            result.cached, result.seconds = True, time.perf_counter() - started
            return result

    compressed = model if isinstance(model, Compressed) else apply(model, recipe, progress=False)
    stored, runtime = compressed.model.eval(), compressed.runtime.eval()
    size = compressed.resolution
    chunk = data.load_split(split)
    settings = EFFORTS[effort]

    correct_and_time: list[tuple[int, float]] = []
    reading = energy.measure_energy(lambda: correct_and_time.append(_accuracy_pass(runtime, chunk)))
    correct, pass_seconds = correct_and_time[0]
    p50, p95, throughput = measure_latency(runtime, data.NATIVE_SIZE, settings["batch1_runs"],
                                           settings["throughput_repeats"])  # fmt: skip
    if throughput is None:  # quick: the accuracy pass ran at batch 256 already
        throughput = len(chunk) / pass_seconds
    artifact_bytes, state_dict_bytes = _sizes(stored)
    parameters, nonzero = _parameter_counts(stored)
    flops = count_flops(stored, size)
    kwh_per_1k = None if reading.kwh is None else reading.kwh / len(chunk) * 1000
    intensity = energy.carbon_intensity(country)
    result = Measurement(
        name=name, recipe=recipe.to_json(), label=recipe.describe(), split=split,
        n_images=len(chunk), accuracy=correct / len(chunk),
        artifact_bytes=artifact_bytes, state_dict_bytes=state_dict_bytes,
        parameters=parameters, nonzero_parameters=nonzero, resolution=size,
        flops=flops, macs=flops // 2, latency_ms_p50=p50, latency_ms_p95=p95,
        throughput_ips=throughput, threads=torch.get_num_threads(),
        energy_kwh_per_1k=kwh_per_1k,
        co2_g_per_1k=None if kwh_per_1k is None else kwh_per_1k * intensity,
        country=country, carbon_intensity_g_per_kwh=intensity,
        energy_source=reading.provenance, executes_as=compressed.executes_as,
        notes=list(compressed.notes), model_hash=key.split("|")[0], effort=effort,
    )  # fmt: skip
    result.seconds = time.perf_counter() - started
    store.put(key, asdict(result), model_name=name, recipe=recipe.to_json(), split=split)
    result.seconds = time.perf_counter() - started  # including the write
    return result


def results_frame(store: ResultStore | None = None) -> pd.DataFrame:
    """Every stored evaluation as a DataFrame (one row per evaluation)."""
    return (store or default_store()).to_frame()


def _threads_from_env() -> None:
    threads = os.environ.get("LAB_THREADS")
    if threads:
        torch.set_num_threads(int(threads))


_threads_from_env()
