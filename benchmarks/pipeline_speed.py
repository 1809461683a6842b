"""The one pipeline against the code before it: the same evaluations, the two trees interleaved.

Runs a fixed set of evaluations (the zoo's cnn and mlp: baseline, 50 % pruning, 4-bit,
int8; a logistic regression on scikit-learn's digits) in a fresh process per tree and round,
alternating the trees (A, B, A, B, …) so both see the same load, and prints the median
seconds per evaluation of each tree and their ratio.

    python benchmarks/pipeline_speed.py --before /path/to/old/checkout --rounds 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = r"""
import json, sys, tempfile, time, warnings
warnings.simplefilter("ignore")
from pathlib import Path
import lab
from lab import thin, zoo
from lab.store import ResultStore
from lab.techniques.configs import PruneConfig, QuantConfig
from lab.datasets import as_data
from sklearn.datasets import load_digits
store = ResultStore(Path(tempfile.mkdtemp()) / "r.sqlite")
cases = {}
for name in ("cnn", "mlp"):
    model = zoo.load(name)
    for label, recipe in (("baseline", None), ("prune 50 %", PruneConfig(0.5)),
                          ("4-bit", QuantConfig(bits=4)), ("int8", QuantConfig(bits=8, activations=True))):
        lab.evaluate(model, recipe, effort="quick", store=store, use_cache=False)  # warm
        start = time.perf_counter()
        lab.evaluate(model, recipe, effort="quick", store=store, use_cache=False)
        cases[f"{name} {label}"] = time.perf_counter() - start
digits = as_data(load_digits(), name="digits")
model = thin.fit_thin("LogisticRegression", data=digits, progress=False, cache_dir=tempfile.mkdtemp())
lab.evaluate(model, data=digits, effort="quick", store=store, use_cache=False)
start = time.perf_counter()
lab.evaluate(model, data=digits, effort="quick", store=store, use_cache=False)
cases["LogisticRegression on digits"] = time.perf_counter() - start
print(json.dumps(cases))
"""


def run(tree: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "LAB_QUICK": "1"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tree, env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the older checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": ROOT}
    seconds: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    loads = []
    for _ in range(args.rounds):
        for which, tree in trees.items():
            loads.append(os.getloadavg()[0])
            for case, value in run(tree).items():
                seconds[which].setdefault(case, []).append(value)
    import platform

    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    result = {
        "cpu": cpu,
        "load_1min": [round(v, 2) for v in loads],
        "rounds": args.rounds,
        "cases": {
            case: {
                "before_s": round(statistics.median(seconds["before"][case]), 4),
                "after_s": round(statistics.median(seconds["after"][case]), 4),
                "ratio_after_over_before": round(
                    statistics.median(seconds["after"][case])
                    / statistics.median(seconds["before"][case]),
                    3,
                ),
            }
            for case in seconds["after"]
        },
    }
    print(json.dumps(result, indent=2 if args.json else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
