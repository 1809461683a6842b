"""Compression targets on the full 10k test set, every figure next to its baseline from the same run.

    python benchmarks/compression.py --json [--models cnn mlp] [--budget 60]

Targets (issue "Compression techniques with real bytes and real speed"):

* ``cnn``: artifact ≥ 50× smaller than its fp32 ``state_dict`` file at ≤ 1.0 pt accuracy drop;
* ``mlp``: ≥ 40× at ≤ 1.0 pt (Deep Compression's LeNet-300-100: 40×, arXiv:1510.00149);
* real int8: throughput ≥ 2.5× fp32 at batch 256, accuracy drop ≤ 0.5 pt;
* structured pruning of 50% of channels: throughput ≥ 1.6× at ≤ 1.5 pt drop after fine-tuning.

Prints one JSON object: the accuracy-vs-bytes curve, the best recipe meeting the size target,
and the speed results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from lab import evaluate, zoo
from lab.store import ResultStore
from lab.techniques import FinetuneConfig, PruneConfig, QuantConfig, Recipe, apply
from lab.techniques.pruning import prunable_layers

TARGETS = {"cnn": 50.0, "mlp": 40.0}
MAX_DROP_PT = 1.0


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


def speed(name: str, budget: float, store: ResultStore) -> dict:
    model = zoo.load(name)
    base = evaluate(model, split="test", effort="full", name=name, store=store)
    int8 = evaluate(
        model,
        Recipe(quant=QuantConfig(bits=8, activations=True)),
        split="test",
        effort="full",
        name=name,
        store=store,
    )
    ft = FinetuneConfig(epochs=2, max_seconds=None, lr=0.05)  # channel pruning needs the steps
    channel = evaluate(
        model,
        Recipe(prune=PruneConfig(0.5, structure="channel"), finetune=ft),
        split="test",
        effort="full",
        name=name,
        store=store,
    )

    def row(m) -> dict:
        return {
            "executes_as": m.executes_as,
            "accuracy": round(m.accuracy, 4),
            "drop_pt": round((base.accuracy - m.accuracy) * 100, 2),
            "throughput_ips_b256": round(m.throughput_ips, 1),
            "speedup_vs_fp32": round(m.throughput_ips / base.throughput_ips, 2),
            "latency_ms_p50_b1": round(m.latency_ms_p50, 3),
            "macs": m.macs,
            "artifact_bytes": m.artifact_bytes,
        }

    return {
        "threads": torch.get_num_threads(),
        "fp32": row(base),
        "int8": {
            **row(int8),
            "target": "≥2.5x at ≤0.5 pt",
            "target_met": int8.throughput_ips / base.throughput_ips >= 2.5
            and (base.accuracy - int8.accuracy) * 100 <= 0.5,
        },
        "channel_50pct_finetuned": {
            **row(channel),
            "target": "≥1.6x at ≤1.5 pt",
            "target_met": channel.throughput_ips / base.throughput_ips >= 1.6
            and (base.accuracy - channel.accuracy) * 100 <= 1.5,
        },
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
    out: dict = {"torch": torch.__version__, "threads": torch.get_num_threads(), "split": "test"}
    for name in [] if args.skip_size else args.models:
        out[name] = size_curve(name, args.budget, store)
    if not args.skip_speed:
        out["speed_cnn"] = speed("cnn", args.budget, store)
    out["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
