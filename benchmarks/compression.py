"""Compression targets on the full 10k test set, every figure next to its baseline from the same run.

    python benchmarks/compression.py --json [--models cnn mlp] [--budget 60]

Targets (issue "Compression techniques with real bytes and real speed"):

* ``cnn``: artifact ≥ 50× smaller than its fp32 ``state_dict`` file at ≤ 1.0 pt accuracy drop;
* ``mlp``: ≥ 40× at ≤ 1.0 pt (Deep Compression's LeNet-300-100: 40×, arXiv:1510.00149);
* real int8: throughput ≥ 2.5× fp32 at batch 256, accuracy drop ≤ 0.5 pt;
* structured pruning of 50% of channels: throughput ≥ 1.6× at ≤ 1.5 pt drop after fine-tuning.

Prints one JSON object: the accuracy-vs-bytes curve, the best recipe meeting the size target,
and the speed results.

Speed (``speed_cnn``): the lab's ``fp32`` and ``int8`` runtimes, the 50%-channel model, and the
same fp32 and int8 models exported to ONNX and run by ONNX Runtime (``onnxruntime_fp32``,
``onnxruntime_int8``; :mod:`lab.export`), all in one process on the same test images with
the same thread count. After a warm-up, each round times every runtime once, the baseline
and its candidates interleaved (A B C D E, then B C D E A, …), so that a machine shared with
other jobs slows every runtime alike; every speed ratio is the median of the per-round
ratios (candidate and baseline from the same round), with their min and max. The machine (CPU model,
``torch.backends.cpu.get_cpu_capability()``, threads, torch and onnxruntime versions) and
the load average before and after the timing are part of the output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from lab import data, evaluate, machine, zoo
from lab.store import ResultStore
from lab.techniques import FinetuneConfig, PruneConfig, QuantConfig, Recipe, apply
from lab.techniques.pruning import prunable_layers

TARGETS = {"cnn": 50.0, "mlp": 40.0}
MAX_DROP_PT = 1.0
SPEED_BATCH = 256  # images per call for the throughput
SPEED_ROUNDS = 15  # interleaved timing rounds (every runtime once per round), after warm-up
WARMUP_CALLS = 3  # untimed calls per runtime and batch size before the first round
THROUGHPUT_CALLS = 2  # batch-256 calls per runtime per round (their total time is the round's)
BATCH1_CALLS = 30  # batch-1 calls per runtime per round (their median is the round's latency)
ENVIRONMENT = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "LAB_THREADS")  # recorded with the timings


def size_recipes(model_name: str, budget: float) -> list[Recipe]:
    """The curve: quantization alone, pruning alone, then pruning + k-means/uniform + fine-tuning."""
    ft = FinetuneConfig(
        epochs=4 if model_name == "cnn" else 15, max_seconds=budget, lr=0.01, gradual_steps=4
    )
    recipes = [Recipe(quant=QuantConfig(bits=b)) for b in (8, 4)]
    recipes += [Recipe(prune=PruneConfig(s)) for s in (0.5, 0.8, 0.9)]
    combos = {
        "cnn": [
            (0.9, 4, "uniform"),
            (0.93, 3, "kmeans"),
            (0.95, 4, "uniform"),
            (0.95, 3, "kmeans"),
        ],
        "mlp": [(0.9, 4, "kmeans"), (0.92, 4, "kmeans"), (0.92, 3, "kmeans"), (0.94, 3, "kmeans")],
    }[model_name]
    for sparsity, bits, method in combos:
        recipes.append(
            Recipe(
                prune=PruneConfig(sparsity),
                finetune=ft,
                quant=QuantConfig(bits=bits, method=method),
            )
        )
    return recipes


def _point(m, base) -> dict:
    return {
        "recipe": m.label,
        "recipe_json": json.loads(m.recipe),
        "accuracy": round(m.accuracy, 4),
        "drop_pt": round((base.accuracy - m.accuracy) * 100, 2),
        "artifact_bytes": m.artifact_bytes,
        "ratio_vs_state_dict": round(base.state_dict_bytes / m.artifact_bytes, 1),
        "nonzero_parameters": m.nonzero_parameters,
        "seconds": round(m.seconds, 1),
    }


def size_curve(name: str, budget: float, store: ResultStore) -> dict:
    model = zoo.load(name)
    base = evaluate(model, split="test", effort="quick", name=name, store=store)
    points = []
    for recipe in size_recipes(name, budget):
        compressed = apply(model, recipe, progress=False)
        m = evaluate(compressed, split="test", effort="quick", name=name, store=store)
        points.append({**_point(m, base), "layer_density": layer_density(compressed.model)})
        print(
            f"  {name}: {points[-1]['recipe']:<55} acc {m.accuracy:.4f} "
            f"{m.artifact_bytes:>8,} B {points[-1]['ratio_vs_state_dict']:>6}x",
            file=sys.stderr,
        )
    ok = [p for p in points if p["drop_pt"] <= MAX_DROP_PT]
    best = max(ok, key=lambda p: p["ratio_vs_state_dict"]) if ok else None
    return {
        "baseline": {
            "accuracy": base.accuracy,
            "state_dict_bytes": base.state_dict_bytes,
            "artifact_bytes_fp32": base.artifact_bytes,
            "parameters": base.parameters,
        },
        "curve": points,
        "best_within_1pt": best,
        "target_ratio": TARGETS[name],
        "target_met": bool(best and best["ratio_vs_state_dict"] >= TARGETS[name]),
    }


def layer_density(model: torch.nn.Module) -> dict[str, float]:
    """Fraction of weights kept per layer (to compare with Deep Compression's table)."""
    return {
        layer: round(float((m.weight != 0).float().mean()), 4)
        for layer, m in prunable_layers(model).items()
    }


def conditions() -> dict:
    """The machine and its load: CPU model, ISA level, threads, versions, load averages."""
    import onnxruntime

    return {
        **machine.describe(),
        "onnxruntime": onnxruntime.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],  # 1, 5, 15 min
        # OpenMP's wait policy decides whether torch's idle threads spin (the default) or
        # sleep, which changes torch's speed on a machine shared with other jobs
        "environment": {name: os.environ.get(name) for name in ENVIRONMENT},
    }


def _round(
    runtime: Callable, batch: torch.Tensor, singles: list[torch.Tensor]
) -> tuple[float, float]:
    """One timing of ``runtime``: (images/s over THROUGHPUT_CALLS batch calls, median batch-1 ms)."""
    start = time.perf_counter()
    for _ in range(THROUGHPUT_CALLS):
        runtime(batch)
    throughput = THROUGHPUT_CALLS * len(batch) / (time.perf_counter() - start)
    latencies = []
    for one in singles:
        start = time.perf_counter()
        runtime(one)
        latencies.append(time.perf_counter() - start)
    return throughput, float(np.median(latencies)) * 1e3


@torch.no_grad()
def interleaved_timings(
    runtimes: dict[str, Callable], images: torch.Tensor, rounds: int = SPEED_ROUNDS
) -> dict[str, dict[str, list[float]]]:
    """Per-round throughput (images/s at batch 256) and batch-1 median latency (ms) of each runtime.

    Every runtime sees the same images: the first ``SPEED_BATCH`` as one batch, the first
    ``BATCH1_CALLS`` one at a time. After ``WARMUP_CALLS`` untimed calls each, every round
    times every runtime once, the order rotating by one each round, so that a change of
    load on a shared machine falls on all of them.
    """
    batch = images[:SPEED_BATCH].contiguous()
    singles = [images[i : i + 1].contiguous() for i in range(BATCH1_CALLS)]
    for runtime in runtimes.values():
        for _ in range(WARMUP_CALLS):
            runtime(batch)
            runtime(singles[0])
    names = list(runtimes)
    timings = {name: {"throughput": [], "latency_ms": []} for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            throughput, latency = _round(runtimes[name], batch, singles)
            timings[name]["throughput"].append(throughput)
            timings[name]["latency_ms"].append(latency)
    return timings


def ratio(numerator: list[float], denominator: list[float]) -> dict:
    """Median, min and max of the per-round ratios ``numerator[i] / denominator[i]``."""
    values = np.array(numerator) / np.array(denominator)
    return {
        "median": _significant(np.median(values)),
        "min": _significant(values.min()),
        "max": _significant(values.max()),
    }


def _significant(value: float, digits: int = 3) -> float:
    """``value`` rounded to ``digits`` significant digits (ratios span 0.01–100 under load)."""
    return float(f"{float(value):.{digits}g}")


def _speed_fields(name: str, timings: dict, baseline: str = "fp32") -> dict:
    """Throughput and batch-1 latency (median over rounds, with min–max) and the speed-ups
    against ``baseline`` from the same rounds (throughput ratio; latency ratio baseline/this)."""
    own, base = timings[name], timings[baseline]
    throughput = ratio(own["throughput"], base["throughput"])
    latency = ratio(base["latency_ms"], own["latency_ms"])
    return {
        "throughput_ips_b256": round(float(np.median(own["throughput"])), 1),
        "throughput_ips_b256_range": [
            round(min(own["throughput"]), 1),
            round(max(own["throughput"]), 1),
        ],
        "latency_ms_p50_b1": round(float(np.median(own["latency_ms"])), 3),
        "latency_ms_p50_b1_range": [
            round(min(own["latency_ms"]), 3),
            round(max(own["latency_ms"]), 3),
        ],
        f"speedup_vs_{baseline}": throughput["median"],
        f"speedup_vs_{baseline}_range": [throughput["min"], throughput["max"]],
        f"latency_speedup_vs_{baseline}": latency["median"],
        f"latency_speedup_vs_{baseline}_range": [latency["min"], latency["max"]],
    }


@torch.no_grad()
def _predictions(runtime: Callable, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([runtime(x).argmax(1) for x in images.split(SPEED_BATCH)])


def speed(name: str, budget: float, store: ResultStore) -> dict:
    from lab.export import onnxruntime_runtime

    model = zoo.load(name)
    ft = FinetuneConfig(epochs=2, max_seconds=None, lr=0.05)  # channel pruning needs the steps
    compressed = {
        "fp32": apply(model, Recipe(), progress=False),
        "int8": apply(model, Recipe(quant=QuantConfig(bits=8, activations=True)), progress=False),
        "channel_50pct_finetuned": apply(
            model, Recipe(prune=PruneConfig(0.5, structure="channel"), finetune=ft), progress=False
        ),
    }
    measured = {
        key: evaluate(c, split="test", effort="quick", name=name, store=store)
        for key, c in compressed.items()
    }
    onnx = {
        "onnxruntime_fp32": onnxruntime_runtime(compressed["fp32"]),
        "onnxruntime_int8": onnxruntime_runtime(compressed["int8"]),
    }
    runtimes = {key: c.runtime for key, c in compressed.items()} | onnx
    test = data.load_split("test")
    before = conditions()
    timings = interleaved_timings(runtimes, test.images)
    after = conditions()
    base = measured["fp32"]

    def row(key: str) -> dict:
        m = measured[key]
        return {
            "executes_as": m.executes_as,
            "accuracy": round(m.accuracy, 4),
            "drop_pt": round((base.accuracy - m.accuracy) * 100, 2),
            **_speed_fields(key, timings),
            "macs": m.macs,
            "artifact_bytes": m.artifact_bytes,
        }

    def onnx_row(key: str, lab_key: str) -> dict:
        runtime, lab = onnx[key], measured[lab_key]
        predictions = _predictions(runtime, test.images)
        lab_predictions = _predictions(compressed[lab_key].runtime, test.images)
        accuracy = float((predictions == test.labels).float().mean())
        return {
            "executes_as": runtime.executes_as,
            "accuracy": round(accuracy, 4),
            "drop_pt": round((base.accuracy - accuracy) * 100, 2),
            f"vs_lab_{lab_key}_pt": round((accuracy - lab.accuracy) * 100, 2),
            f"same_class_as_lab_{lab_key}": round(
                float((predictions == lab_predictions).float().mean()), 4
            ),
            **_speed_fields(key, timings),
            **_speed_fields(key, timings, baseline=lab_key),
            "threads": runtime.threads,
            "onnx_bytes": len(runtime.onnx_bytes),
        }

    int8_speedup = ratio(timings["int8"]["throughput"], timings["fp32"]["throughput"])["median"]
    channel = measured["channel_50pct_finetuned"]
    channel_speedup = ratio(
        timings["channel_50pct_finetuned"]["throughput"], timings["fp32"]["throughput"]
    )["median"]
    return {
        "threads": torch.get_num_threads(),
        "timing": {
            "rounds": SPEED_ROUNDS,
            "order": "every runtime once per round, the order rotating, after warm-up",
            "images": f"test split: the first {SPEED_BATCH} as one batch, the first "
            f"{BATCH1_CALLS} one at a time",
            "throughput_calls_per_round": THROUGHPUT_CALLS,
            "batch1_calls_per_round": BATCH1_CALLS,
            "machine_before": before,
            "load_average_after": after["load_average"],
        },
        "fp32": row("fp32"),
        "int8": {
            **row("int8"),
            "target": "≥2.5x at ≤0.5 pt",
            "target_met": int8_speedup >= 2.5
            and (base.accuracy - measured["int8"].accuracy) * 100 <= 0.5,
        },
        "channel_50pct_finetuned": {
            **row("channel_50pct_finetuned"),
            "target": "≥1.6x at ≤1.5 pt",
            "target_met": channel_speedup >= 1.6
            and (base.accuracy - channel.accuracy) * 100 <= 1.5,
        },
        "onnxruntime_fp32": onnx_row("onnxruntime_fp32", "fp32"),
        "onnxruntime_int8": onnx_row("onnxruntime_int8", "int8"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["cnn", "mlp"], choices=list(TARGETS))
    parser.add_argument(
        "--budget",
        type=float,
        default=120.0,
        help="fine-tuning seconds per stage (prune fine-tune, then QAT)",
    )
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-size", action="store_true")
    parser.add_argument("--json", action="store_true", help="print JSON (the default output)")
    parser.add_argument("--store", default=":memory:", help="result store (default: none kept)")
    args = parser.parse_args()
    store = ResultStore(args.store)
    started = time.perf_counter()
    out: dict = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "split": "test",
        "machine": conditions(),
    }
    for name in [] if args.skip_size else args.models:
        out[name] = size_curve(name, args.budget, store)
    if not args.skip_speed:
        out["speed_cnn"] = speed("cnn", args.budget, store)
    out["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
