"""What will it cost where I deploy it? The same model on several runtimes, side by side.

:func:`compare_runtimes` builds the runtimes of one model and recipe — torch fp32 (the lab's
fast fp32 runtime), torch int8 (x86 kernels, int8 weights *and* activations), ONNX Runtime
fp32 and ONNX Runtime int8 (a QDQ graph, :mod:`lab.export`) — and times them **interleaved**
(round after round, each runtime in turn, so a load change on a shared machine hits all of
them alike) at each batch size and thread count, then checks each one's outputs against torch
fp32 on the same images (:func:`parity`). Whether int8 pays depends on the CPU's int8
instructions (VNNI, AMX: :func:`lab.machine.int8_instructions`), on the batch, and on the
threads; the table says which, measured here.

Example:
    >>> from lab import zoo
    >>> table = compare_runtimes(zoo.load("mlp"), batches=(1,), rounds=2)  # doctest: +SKIP
    >>> sorted(table["runtime"].unique())  # doctest: +SKIP
    ['onnxruntime fp32', 'onnxruntime int8', 'torch fp32', 'torch int8']
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from lab.datasets import as_data
from lab.meters import machine
from lab.runtimes.export import OnnxRuntimeModel
from lab.techniques.apply import Compressed, apply
from lab.techniques.configs import ConfigError, QuantConfig, Recipe

__all__ = ["RUNTIMES", "build_runtimes", "compare_runtimes", "interleaved_ms", "parity"]

RUNTIMES = ("torch fp32", "torch int8", "onnxruntime fp32", "onnxruntime int8")
PARITY_IMAGES = 500  # live images each runtime is checked on
ROUND_SECONDS = 0.03  # each runtime's share of a timing round


def _int8(recipe: Recipe) -> Recipe:
    """``recipe`` with 8-bit weights and int8 activations (what int8 kernels execute)."""
    return dataclasses.replace(recipe, quant=QuantConfig(bits=8, activations=True))


def _fp32(recipe: Recipe) -> Recipe:
    """``recipe`` without int8 activations (stored weights as they are, executed in fp32)."""
    if recipe.quant is not None and recipe.quant.activations:
        return dataclasses.replace(recipe, quant=None)
    return recipe


def build_runtimes(
    model: nn.Module, recipe: object = None, *, runtimes: Sequence[str] = RUNTIMES
) -> dict[str, Compressed]:
    """``lab.apply`` for each runtime: fp32 ones apply ``recipe`` (without int8 activations),
    int8 ones the recipe with 8-bit weights and int8 activations. ``model`` is not modified."""
    recipe = Recipe.of(recipe)
    unknown = [r for r in runtimes if r not in RUNTIMES]
    if unknown or not runtimes:
        raise ConfigError(f"runtimes must be some of {', '.join(RUNTIMES)}; got {list(runtimes)}")
    built = {}
    for name in runtimes:
        engine, precision = name.split()
        variant = _int8(recipe) if precision == "int8" else _fp32(recipe)
        built[name] = apply(model, variant, progress=False, runtime=engine)
    return built


def interleaved_ms(
    models: dict[str, nn.Module], inputs: torch.Tensor, *, rounds: int = 5
) -> dict[str, list[float]]:
    """Milliseconds per call of each model on ``inputs``: in every round each model runs for
    ~30 ms in turn, and the round's median call is kept (one value per round). Warm-up first;
    torch's thread setting is whatever the caller set."""
    with torch.inference_mode():
        per_call = {}
        for name, model in models.items():
            model(inputs)  # warm-up: allocations, oneDNN primitives, ORT's first run
            start = time.perf_counter()
            model(inputs)
            per_call[name] = time.perf_counter() - start
        calls = {
            n: max(1, min(200, int(ROUND_SECONDS / max(s, 1e-6)))) for n, s in per_call.items()
        }
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(rounds):
            for name, model in models.items():
                samples = []
                for _ in range(calls[name]):
                    start = time.perf_counter()
                    model(inputs)
                    samples.append(time.perf_counter() - start)
                times[name].append(float(np.median(samples)) * 1e3)
    return times


@torch.no_grad()
def parity(reference: nn.Module, candidate: nn.Module, images: torch.Tensor) -> dict[str, float]:
    """How closely ``candidate`` computes what ``reference`` computes on ``images``: the
    largest absolute logit difference, relative to the reference's largest logit magnitude,
    and the share of images whose top-1 class agrees."""
    a, b = reference(images).float(), candidate(images).float()
    scale = float(a.abs().max()) or 1.0
    return {
        "max_abs_diff": float((a - b).abs().max()),
        "relative_diff": float((a - b).abs().max()) / scale,
        "top1_agreement": float((a.argmax(1) == b.argmax(1)).float().mean()),
    }


def _positive_ints(argument: str, values: object, high: int) -> tuple[int, ...]:
    allowed = f"a non-empty sequence of whole numbers from 1 to {high}"
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ConfigError(f"{argument} must be {allowed}; got {values!r}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ConfigError(f"{argument} must be {allowed}; got {values!r}")
        if not 1 <= int(value) <= high:
            raise ConfigError(f"{argument} must be {allowed}; got {values!r}")
    return tuple(dict.fromkeys(int(v) for v in values))


def compare_runtimes(
    model: nn.Module,
    recipe: object = None,
    *,
    batches: Sequence[int] = (1, 256),
    threads: Sequence[int] | None = None,
    runtimes: Sequence[str] = RUNTIMES,
    rounds: int = 5,
) -> pd.DataFrame:
    """Time ``model`` (after ``recipe``) on each runtime, batch size and thread count.

    Args:
        model: a Fashion-MNIST ``nn.Module`` (ONNX export takes N×1×28×28 images). Never
            modified.
        recipe: what to apply first (a :class:`Recipe`, one config, or None). fp32 runtimes
            run it as stored; int8 runtimes run it with 8-bit weights and int8 activations.
        batches: images per call (e.g. 1 for latency, 256 for throughput).
        threads: thread counts to time at (torch's setting and ONNX Runtime's intra-op
            threads); default: the process's torch setting. Yours is restored afterwards.
        runtimes: some of :data:`RUNTIMES`.
        rounds: timing rounds (1–50); the fastest round's median is reported, the spread too.

    Returns:
        One row per (runtime, batch, threads): ``ms_per_call`` (the fastest round),
        ``ms_per_call_slowest_round``, ``images_per_s``, ``speedup_vs_torch_fp32`` (same
        batch and threads), ``executes_as``, parity with torch fp32 on 500 live images
        (``max_abs_diff``, ``relative_diff``, ``top1_agreement``), the CPU, its ISA level and
        int8 instructions, and the load while timing.

    Raises:
        ConfigError: a bad argument, naming it and what is allowed.
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model must be a torch.nn.Module; got a {type(model).__name__}")
    batches = _positive_ints("batches", batches, 4096)
    thread_counts = _positive_ints(
        "threads", [torch.get_num_threads()] if threads is None else threads, 256
    )
    if (
        isinstance(rounds, bool)
        or not isinstance(rounds, numbers.Integral)
        or not 1 <= rounds <= 50
    ):
        raise ConfigError(f"rounds must be a whole number from 1 to 50; got {rounds!r}")
    built = build_runtimes(model, recipe, runtimes=list(runtimes))
    live = as_data(None).split("live")
    probe = live.images[:PARITY_IMAGES]
    reference_name = "torch fp32"
    reference = (
        built[reference_name].runtime
        if reference_name in built
        else apply(model, _fp32(Recipe.of(recipe)), progress=False).runtime
    )
    checks = {name: parity(reference, c.runtime, probe) for name, c in built.items()}
    described = machine.describe()
    rows = []
    caller_threads = torch.get_num_threads()
    try:
        for count in thread_counts:
            torch.set_num_threads(count)
            runners = {}
            for name, compressed in built.items():
                runner = compressed.runtime
                if name.startswith("onnxruntime"):
                    runner = OnnxRuntimeModel(runner.onnx_bytes, threads=count)
                runners[name] = runner
            for batch in batches:
                inputs = live.images[torch.arange(batch) % len(live)]
                load = machine.load_average()
                times = interleaved_ms(runners, inputs, rounds=int(rounds))
                base = min(times[reference_name]) if reference_name in times else math.nan
                for name, samples in times.items():
                    fastest = min(samples)
                    rows.append(
                        {
                            "runtime": name,
                            "batch": batch,
                            "threads": count,
                            "ms_per_call": fastest,
                            "ms_per_call_slowest_round": max(samples),
                            "images_per_s": batch / fastest * 1e3,
                            "speedup_vs_torch_fp32": base / fastest,
                            "executes_as": built[name].executes_as,
                            **checks[name],
                            "recipe": built[name].recipe.describe(),
                            "cpu_model": described["cpu_model"],
                            "cpu_capability": described["cpu_capability"],
                            "int8_instructions": ", ".join(described["int8_instructions"])
                            or "none",
                            "load_1min": load,
                        }
                    )
    finally:
        torch.set_num_threads(caller_threads)
    return pd.DataFrame(rows)
