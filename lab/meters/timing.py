"""Latency: batch-1 calls timed after warm-up, several models interleaved, on a budget.

What is timed is what executes (a :class:`~lab.techniques.apply.Compressed`'s ``runtime``,
a scikit-learn estimator's ``predict``). :func:`time_calls` times several calls *interleaved*
(A, B, A, B, …): a configuration and its baseline then see the same load, so a difference
the noise test calls real is the model's, not the moment's. Inputs come from a private
random generator seeded with 0: the caller's random stream is left alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from lab.cancellation import check

__all__ = ["LATENCY", "THROUGHPUT_BATCH", "WARMUP_RUNS", "measure_latency", "time_calls"]

THROUGHPUT_BATCH = 256
WARMUP_RUNS = 3
# effort → (most timed runs, fewest, seconds of timed calls after which no more are started)
LATENCY = {"quick": (15, 5, 2.0), "full": (100, 20, 10.0)}


def time_calls(
    calls: Sequence[Callable[[], object]],
    effort: str = "full",
    cancel: threading.Event | None = None,
) -> list[list[float]]:
    """Milliseconds of each call in ``calls``, run round-robin after warm-up.

    Each round runs every call once, in turn; rounds continue until the most runs of
    :data:`LATENCY` for ``effort``, and stop early once the fewest are done and the budget
    of seconds is spent (a big model is timed on fewer runs: the count is in the result).

    Example:
        >>> a, b = time_calls([lambda: sum(range(100)), lambda: sum(range(10))], "quick")
        >>> len(a) == len(b) >= 5
        True
    """
    if effort not in LATENCY:
        raise ValueError(f"unknown effort {effort!r}; choose one of {', '.join(LATENCY)}")
    most, least, budget = LATENCY[effort]
    for call in calls:
        for _ in range(WARMUP_RUNS):
            call()
    times: list[list[float]] = [[] for _ in calls]
    spent = 0.0
    while len(times[0]) < most and (len(times[0]) < least or spent < budget):
        for call, samples in zip(calls, times, strict=True):
            check(cancel)  # outside the timed call
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
        spent += sum(samples[-1] for samples in times)
    return [[1e3 * t for t in samples] for samples in times]


def percentiles(samples_ms: Sequence[float]) -> tuple[float, float]:
    """``(median, p95)`` of timed runs (ms)."""
    values = np.asarray(samples_ms, dtype=float)
    return float(np.median(values)), float(np.percentile(values, 95))


def throughput(call: Callable[[], object], repeats: int, cancel=None) -> float:
    """Items/s of ``call`` (one batch of :data:`THROUGHPUT_BATCH`): the median of ``repeats``."""
    call()
    times = []
    for _ in range(repeats):
        check(cancel)
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return THROUGHPUT_BATCH / float(np.median(times))


@torch.no_grad()
def measure_latency(
    model: nn.Module,
    size: int = 28,
    batch1_runs: int = 100,
    throughput_repeats: int = 5,
    *,
    cancel: threading.Event | None = None,
    input_shape: tuple[int, ...] | None = None,
    samples: list[float] | None = None,
    example: torch.Tensor | None = None,
) -> tuple[float, float, float | None]:
    """Batch-1 median and p95 latency (ms) of one torch model after warm-up, and its batch-256
    throughput (images/s; None when ``throughput_repeats`` is 0), on exactly ``batch1_runs``.

    Inputs are ``example`` — real samples of the data (``Data.example(n)``; the first is
    timed at batch 1, all of them cycled fill the throughput batch; token ids stay integers)
    — or else seeded random normal ``input_shape`` samples (e.g. ``(3, 32, 32)`` or
    ``(30,)``), by default 1×size×size images; ``samples`` (a list), when given, receives
    every timed run in ms.

    Example:
        >>> p50, p95, _ = measure_latency(nn.Linear(4, 2), batch1_runs=5,
        ...                               throughput_repeats=0, input_shape=(4,))
        >>> 0 < p50 <= p95
        True
    """
    shape = (1, size, size) if input_shape is None else tuple(input_shape)
    inputs = torch.Generator().manual_seed(0)  # the caller's random stream is left alone
    if example is not None and (example.ndim < 1 or len(example) == 0):
        raise ValueError(
            f"example must be a batch of ≥ 1 samples; got shape {tuple(example.shape)}"
        )
    one = torch.randn(1, *shape, generator=inputs) if example is None else example[:1]
    for _ in range(WARMUP_RUNS):
        model(one)
    per_image: list[float] = []
    for _ in range(batch1_runs):
        check(cancel)
        start = time.perf_counter()
        model(one)
        per_image.append(1e3 * (time.perf_counter() - start))
    if samples is not None:
        samples.extend(per_image)
    rate = None
    if throughput_repeats:
        if example is None:
            batch = torch.randn(THROUGHPUT_BATCH, *shape, generator=inputs)
        else:
            batch = example[torch.arange(THROUGHPUT_BATCH) % len(example)]
        rate = throughput(lambda: model(batch), throughput_repeats, cancel)
    return (*percentiles(per_image), rate)
