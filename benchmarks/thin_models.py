"""Thin models on the full training split, measured on `test` like the torch models.

    python benchmarks/thin_models.py --json [--models SVC,MLPClassifier] [--output PATH]

Fits every model of ``lab.thin.THIN_MODELS`` on the 55,000-image ``train`` split (never the
quick subset; a model already in the cache is loaded, and its recorded training time and
energy are reported, with ``"from_cache": true``), measures it on the 10,000 ``test``
images with :func:`lab.evaluate` (the one pipeline every model kind goes through), and prints one JSON object: an entry per
estimator keyed by class name, next to the Fashion-MNIST paper's accuracy (Xiao et al.
2017, Table 3), plus ``"machine"`` (:func:`lab.machine.describe`, load included) at the
start, ``"machine_at_end"``, and ``"run"`` (split, date, versions, OpenMP settings, total
time). With ``--output`` the same JSON is also written there after each model, so a long
run keeps what it has measured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import lab
from lab import machine, thin


def _entry(model: thin.ThinModel, row: dict, spec: thin.ThinSpec, from_cache: bool) -> dict:
    paper = spec.paper_accuracy
    return {
        "test_accuracy": row["accuracy"],
        "paper_accuracy": paper,
        "delta_pt": None if paper is None else round((row["accuracy"] - paper) * 100, 2),
        "within_1_5_pt": None
        if paper is None
        else abs(round((row["accuracy"] - paper) * 100, 2)) <= 1.5,
        "paper_setting": spec.paper_setting,
        "artifact_bytes": row["artifact_bytes"],
        "parameters": row["parameters"],
        "operations_per_image": row["macs"],
        "operations_kind": row["operations_kind"],
        "latency_ms_p50_b1": row["latency_ms_p50"],
        "latency_ms_p95_b1": row["latency_ms_p95"],
        "throughput_ips_b256": row["throughput_ips"],
        "energy_kwh_per_1k": row["energy_kwh_per_1k"],
        "co2_g_per_1k": row["co2_g_per_1k"],
        "country": row["country"],
        "energy_source": row["energy_source"],
        "train_seconds": row["train_seconds"],
        "train_energy_kwh": row["train_energy_kwh"],
        "train_energy_source": row["train_energy_source"],
        "n_train": row["n_train"],
        "from_cache": from_cache,
        "executes_as": row["executes_as"],
        "threads": row["threads"],
        "estimator": row["estimator"],
        "note": spec.note,
        "load_1min": row["load_1min"],
        "measure_seconds": round(row["seconds"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON (the default output)")
    parser.add_argument("--models", default="", help="comma-separated names (default: all)")
    parser.add_argument("--split", default="test", choices=["test", "val", "live"])
    parser.add_argument("--country", default="FRA")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    import sklearn
    import skops

    names = [n for n in args.models.split(",") if n] or thin.thin_names()
    results: dict = {}  # one entry per estimator (class name), then machine and run
    run = {
        "split": args.split,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "scikit_learn": sklearn.__version__,
        "skops": skops.__version__,
        "environment": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")},
    }
    start_machine = machine.describe()
    started = time.perf_counter()

    def document() -> dict:
        return {**results, "machine": start_machine, "run": run}

    def write() -> None:
        if args.output is not None:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.output.with_suffix(".tmp")
            tmp.write_text(json.dumps(document(), indent=2) + "\n")
            tmp.replace(args.output)

    for name in names:
        spec = thin.THIN_MODELS[name]
        from_cache = thin.model_path(name, quick=False).is_file()
        print(f"[{time.perf_counter() - started:7.0f} s] {name}", file=sys.stderr, flush=True)
        try:
            model = thin.fit_thin(name, quick=False, progress=not args.no_progress)
            measured = lab.evaluate(model, split=args.split, country=args.country, use_cache=False)
            row = {
                **measured.to_row(),
                "train_energy_source": model.train_energy_source,
                "n_train": model.n_train,
                "estimator": repr(model.estimator),
            }
        except Exception as exc:  # one failing model must not lose the others
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        else:
            results[name] = _entry(model, row, spec, from_cache)
        write()
    run["machine_at_end"] = machine.describe()
    run["total_seconds"] = round(time.perf_counter() - started, 1)
    write()
    print(json.dumps(document(), indent=2))


if __name__ == "__main__":
    main()
