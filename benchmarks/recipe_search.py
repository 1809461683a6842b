"""Search compression recipes for a zoo model: fine-tune each, then measure val/test accuracy and bytes.

    python benchmarks/recipe_search.py --grid distill [--model cnn] [--workers 6] [--out results.jsonl]

Each configuration runs ``lab.techniques.apply`` (prune → fine-tune → quantization-aware
fine-tune, optionally distilled from a teacher) with epoch-bounded fine-tuning (no time
limit), on CUDA when present (the lab's training loop picks it), else CPU. Then, on the CPU:
accuracy on ``val`` (to choose by) and ``test`` (to report), and the bytes of the artifact
file ``lab.artifact.save`` writes. Configurations run in parallel worker processes; one JSON
line per finished configuration goes to stdout and to ``--out``.

Grids (see ``GRIDS``): ``distill`` (sparsity 94–96 %, 3–4-bit uniform/k-means, teacher or
not, 8 or 20 epochs), ``long`` (20–35 epochs, flips augmentation, temperatures 2 and 4),
``low_bit`` (2-bit weights at 86–92 % sparsity) and ``within_1pt`` (90 and 92 % + 4-bit,
20 epochs: where the 1-pt line is crossed). ``benchmarks/results/cnn_recipe_search.jsonl``
holds the lines of the run reported in the README (fine-tuned on an H100, 6–8 workers).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path


def _grid_distill() -> list[dict]:
    grid = [
        dict(s=0.95, bits=4, method=m, teacher=t, epochs=e)
        for m, teachers in (
            ("uniform", (None, "original", "teacher")),
            ("kmeans", ("original", "teacher")),
        )
        for t in teachers
        for e in (8, 20)
    ]
    grid += [
        dict(s=0.95, bits=3, method="kmeans", teacher="teacher", epochs=20),
        dict(s=0.94, bits=4, method="uniform", teacher=None, epochs=20),
        dict(s=0.94, bits=4, method="uniform", teacher="teacher", epochs=20),
        dict(s=0.96, bits=4, method="kmeans", teacher="teacher", epochs=20),
        dict(s=0.95, bits=4, method="uniform", teacher="teacher", epochs=20, lr=0.01),
        dict(s=0.95, bits=4, method="uniform", teacher="teacher", epochs=20, lr=0.05),
        dict(s=0.95, bits=4, method="uniform", teacher="teacher", epochs=20, T=2.0),
        dict(s=0.95, bits=4, method="uniform", teacher="teacher", epochs=20, w=0.5),
    ]
    return grid


def _grid_long() -> list[dict]:
    t = "teacher"
    return [
        dict(s=0.95, bits=4, method="uniform", teacher=t, epochs=30, aug=True),
        dict(s=0.95, bits=4, method="uniform", teacher=None, epochs=30, aug=True),
        dict(s=0.95, bits=4, method="uniform", teacher=t, epochs=30, aug=True, T=2.0),
        dict(s=0.94, bits=4, method="kmeans", teacher=t, epochs=30, aug=True),
        dict(s=0.95, bits=3, method="kmeans", teacher=t, epochs=30, aug=True),
        dict(s=0.95, bits=4, method="uniform", teacher=t, epochs=35, T=2.0),
        dict(s=0.93, bits=3, method="kmeans", teacher=t, epochs=30, aug=True),
        dict(s=0.96, bits=4, method="kmeans", teacher=t, epochs=30, aug=True, T=2.0),
    ]


def _grid_low_bit() -> list[dict]:
    base = dict(bits=2, method="uniform", epochs=30)
    t = "teacher"
    return [
        dict(base, s=0.88, teacher=t, T=2.0),
        dict(base, s=0.90, teacher=t, T=2.0),
        dict(base, s=0.90, teacher=None),
        dict(base, s=0.88, teacher="original", T=2.0),
        dict(base, s=0.86, teacher=t, T=2.0),
        dict(base, s=0.90, teacher=t, T=4.0),
        dict(base, s=0.92, teacher=t, T=2.0),
        dict(base, s=0.89, teacher=t, T=2.0, lr=0.01),
    ]


def _grid_within_1pt() -> list[dict]:
    return [dict(s=s, bits=4, method="uniform", teacher=None, epochs=20) for s in (0.92, 0.90)]


GRIDS = {
    "distill": _grid_distill,
    "long": _grid_long,
    "low_bit": _grid_low_bit,
    "within_1pt": _grid_within_1pt,
}


def recipe_of(cfg: dict):
    """The lab Recipe a grid entry stands for (defaults: lr 0.02, 6 gradual pruning steps, T 4, weight 0.9)."""
    from lab.techniques import FinetuneConfig, PruneConfig, QuantConfig, Recipe

    finetune = FinetuneConfig(
        epochs=cfg["epochs"],
        max_seconds=None,
        lr=cfg.get("lr", 0.02),
        gradual_steps=cfg.get("gradual", 6),
        teacher=cfg.get("teacher"),
        augment=cfg.get("aug", False),
        temperature=cfg.get("T", 4.0),
        distill_weight=cfg.get("w", 0.9),
    )
    return Recipe(
        prune=PruneConfig(cfg["s"]),
        quant=QuantConfig(bits=cfg["bits"], method=cfg["method"]),
        finetune=finetune,
    )


def run_one(job: tuple[str, dict]) -> dict:
    import torch

    torch.set_num_threads(2)
    from lab import apply, artifact, training, zoo

    name, cfg = job
    model = zoo.load(name)
    recipe = recipe_of(cfg)
    started = time.perf_counter()
    compressed = apply(model, recipe, progress=False)
    seconds = time.perf_counter() - started
    stored = compressed.model.cpu().eval()
    with tempfile.TemporaryDirectory() as tmp:
        size = artifact.save(stored, Path(tmp) / "model.lab")
    return {
        **cfg,
        "model": name,
        "val": training.accuracy(stored, "val", device="cpu"),
        "test": training.accuracy(stored, "test", device="cpu"),
        "bytes": size,
        "ratio": round(artifact.state_dict_bytes(model) / size, 2),
        "finetune_seconds": round(seconds, 1),
        "device": training.default_device().type,
        "recipe": recipe.to_json(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grid", choices=list(GRIDS), required=True)
    parser.add_argument("--model", default="cnn")
    parser.add_argument(
        "--workers", type=int, default=1, help="parallel processes (≥ 2 wants a GPU)"
    )
    parser.add_argument("--out", type=Path, default=None, help="append the JSON lines here too")
    args = parser.parse_args()

    from lab import machine, training, zoo

    model = zoo.load(args.model)
    header = {
        "model": args.model,
        "grid": args.grid,
        "baseline_val": training.accuracy(model, "val", device="cpu"),
        "baseline_test": training.accuracy(model, "test", device="cpu"),
        "finetune_device": training.default_device().type,
        "machine": machine.describe(),  # where accuracy and bytes were measured
    }
    print(json.dumps(header), flush=True)
    jobs = [(args.model, cfg) for cfg in GRIDS[args.grid]()]
    jobs.sort(key=lambda job: -job[1]["epochs"])  # longest first
    sink = args.out.open("a") if args.out else None
    with mp.get_context("spawn").Pool(args.workers) as pool:
        for result in pool.imap_unordered(run_one, jobs):
            line = json.dumps(result)
            print(line, flush=True)
            if sink:
                sink.write(line + "\n")
                sink.flush()
    if sink:
        sink.close()


if __name__ == "__main__":
    sys.exit(main())
