"""Planned vs measured peak memory of inference, per model and recipe, and the worst error.

    python benchmarks/memory_plan.py --json [--size 224] [--batch 256]

For each model: :func:`lab.memory.planned_peak` (tensor-lifetime plan, eager lifetimes: each
module's arguments kept to its return) and :func:`lab.memory.measured_peak` (dispatch mode +
storage finalizers) at batch 1, their relative difference on the activations and on the total,
the ideal arena plan beside it (``lifetimes="last-use"``: each tensor freed after its last
reader), the RSS increase, and the plan at ``--batch`` (extrapolated per tensor). Models: the zoo (Fashion-MNIST, 28 px),
torchvision's resnet18 and mobilenet_v3_small (random weights, ``--size`` px), an
``nn.TransformerEncoder`` classifier over 64 token ids, the four MLPerf Tiny reference models,
lab's ``TextTransformer`` (padding mask included),
and recipes of the lab on the zoo's cnn (int8 activations, channel pruning, unstructured
sparsity, 4-bit weights, resolution 14 px). Every figure is measured in this run.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from lab import machine, memory, tiny_models, zoo
from lab.models.text import TextTransformer


class TokenClassifier(nn.Module):
    """Embedding → 2-layer TransformerEncoder (d=128, 4 heads, FFN 512) → mean → linear."""

    def __init__(self, vocabulary: int = 10_000, classes: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocabulary, 128)
        layer = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(128, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)).mean(1))


def _models(size: int) -> list[tuple[str, nn.Module, torch.Tensor]]:
    import torchvision

    import lab

    torch.manual_seed(0)
    fashion = torch.zeros(1, 1, 28, 28)
    out = [(f"zoo:{n}", zoo.build(n).eval(), fashion) for n in zoo.names()]
    image = torch.zeros(1, 3, size, size)
    out.append((f"resnet18@{size}", torchvision.models.resnet18(weights=None).eval(), image))
    small = torchvision.models.mobilenet_v3_small(weights=None).eval()
    out.append((f"mobilenet_v3_small@{size}", small, image))
    out.append(("transformer(64 tokens)", TokenClassifier().eval(), torch.zeros(1, 64).long()))
    out += [
        (f"mlperf-tiny:{n}", tiny_models.build(n), tiny_models.example(n))
        for n in tiny_models.NAMES
    ]
    ids = torch.cat([torch.randint(1, 1000, (1, 48)), torch.zeros(1, 16, dtype=torch.long)], 1)
    out.append(("lab TextTransformer(64 ids, 16 padding)", TextTransformer(1000, 2).eval(), ids))
    cnn = zoo.build("cnn").eval()
    recipes = {
        "int8 activations": lab.QuantConfig(bits=8, activations=True),
        "channel pruning 50%": lab.PruneConfig(0.5, structure="channel"),
        "unstructured 90%": lab.PruneConfig(0.9),
        "4-bit weights": lab.QuantConfig(bits=4),
        "resolution 14 px": lab.ResolutionConfig(size=14),
    }
    out.append(
        ("cnn runtime: fp32 baseline", lab.apply(cnn, None, progress=False).runtime, fashion)
    )
    for label, recipe in recipes.items():
        compressed = lab.apply(cnn, recipe, progress=False)
        out.append((f"cnn runtime: {label}", compressed.runtime, fashion))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print JSON (the default output)")
    parser.add_argument("--size", type=int, default=224, help="torchvision input size (px)")
    parser.add_argument("--batch", type=int, default=256, help="throughput batch for the plan")
    args = parser.parse_args()
    rows = []
    for name, model, x in _models(args.size):
        start = time.perf_counter()
        plan = memory.planned_peak(model, x)
        ideal = memory.planned_peak(model, x, lifetimes="last-use")
        measured = memory.measured_peak(model, x)
        big = memory.planned_peak(model, x, batch=args.batch)
        rows.append(
            {
                "model": name,
                "weights_bytes": plan.weights_bytes,
                "planned_activation_bytes": plan.peak_activation_bytes,
                "measured_activation_bytes": measured.peak_activation_bytes,
                "activation_error": round(
                    1 - plan.peak_activation_bytes / measured.peak_activation_bytes, 4
                ),
                "last_use_activation_bytes": ideal.peak_activation_bytes,
                "last_use_activation_error": round(
                    1 - ideal.peak_activation_bytes / measured.peak_activation_bytes, 4
                ),
                "planned_peak_bytes": plan.peak_bytes,
                "measured_peak_bytes": measured.peak_bytes,
                "peak_error": round(1 - plan.peak_bytes / measured.peak_bytes, 4),
                f"planned_peak_bytes_batch{args.batch}": big.peak_bytes,
                "rss_increase_bytes": measured.rss_increase_bytes,
                "peak_op": plan.peak_op,
                "seconds": round(time.perf_counter() - start, 2),
            }
        )
    worst = max(rows, key=lambda r: abs(r["activation_error"]))
    worst_ideal = max(rows, key=lambda r: abs(r["last_use_activation_error"]))
    print(
        json.dumps(
            {
                "machine": machine.describe(),
                "method": {
                    "planned": memory.PLAN_METHOD,
                    "last_use": memory.LAST_USE_METHOD,
                    "measured": memory.MEASURE_METHOD,
                },
                "rows": rows,
                "worst_activation_error": {
                    "model": worst["model"],
                    "error": worst["activation_error"],
                },
                "worst_peak_error": max(abs(r["peak_error"]) for r in rows),
                "worst_last_use_activation_error": {
                    "model": worst_ideal["model"],
                    "error": worst_ideal["last_use_activation_error"],
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
