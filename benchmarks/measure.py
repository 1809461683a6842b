"""How long measurement takes: a full evaluation on `live` and `test`, and each metric's overhead.

    python benchmarks/measure.py --json [--model cnn]

Prints one JSON object. Every figure is measured in this run on this machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from lab import artifact, data, energy, machine, measure, store, zoo
from lab.techniques import apply


def _seconds(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--json", action="store_true", help="print JSON (the default output)")
    args = parser.parse_args()

    model = zoo.load(args.model)
    results: dict = {
        "model": args.model,
        "machine": machine.describe(),  # CPU model, ISA level, threads, torch, load
    }
    tmp_store = store.ResultStore(Path(tempfile.mkdtemp()) / "bench.sqlite")
    start = time.perf_counter()
    energy._TRACKER.get()
    results["codecarbon_first_start_s"] = round(time.perf_counter() - start, 3)

    for split in ("live", "test"):
        data.load_split(split)
        for effort in ("quick", "full"):
            start = time.perf_counter()
            m = measure.evaluate(
                model, split=split, effort=effort, store=tmp_store, use_cache=False
            )
            results[f"evaluate_{split}_{effort}_s"] = round(time.perf_counter() - start, 3)
            results[f"accuracy_{split}"] = m.accuracy
        start = time.perf_counter()
        measure.evaluate(model, split=split, effort="full", store=tmp_store)
        results[f"evaluate_{split}_cached_ms"] = round((time.perf_counter() - start) * 1e3, 2)

    live = data.load_split("live")
    runtime = apply(model).runtime  # what evaluate() times: BN folded, channels_last
    results["executes_as"] = apply(model).executes_as
    overhead = {
        "accuracy_pass_live": _seconds(lambda: measure._accuracy_pass(runtime, live)),
        "accuracy_pass_live_with_codecarbon_task": _seconds(
            lambda: energy.measure_energy(lambda: measure._accuracy_pass(runtime, live))
        ),
        "artifact_save": _seconds(lambda: artifact.save(model, Path(tempfile.mkdtemp()) / "m.lab")),
        "state_dict_save": _seconds(lambda: artifact.state_dict_bytes(model)),
        "flops_count": _seconds(lambda: measure.count_flops(model)),
        "fingerprint": _seconds(lambda: measure.fingerprint(model)),
        "latency_quick": _seconds(lambda: measure.measure_latency(runtime, 28, 15, 0), 3),
        "latency_full": _seconds(lambda: measure.measure_latency(runtime, 28, 100, 5), 3),
    }
    results["overhead_ms"] = {k: round(v * 1e3, 2) for k, v in overhead.items()}
    results["codecarbon_task_overhead_ms"] = round(
        (overhead["accuracy_pass_live_with_codecarbon_task"] - overhead["accuracy_pass_live"])
        * 1e3,
        2,
    )
    results["energy_source"] = energy._TRACKER.provenance
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
