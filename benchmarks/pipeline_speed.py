"""The one pipeline against the code before it: the same evaluations, the two trees interleaved.

Runs a fixed set of evaluations (the zoo's cnn and mlp: baseline, 50 % pruning, 4-bit,
int8; a logistic regression on scikit-learn's digits) in a fresh process per tree and round,
alternating the trees (A, B, A, B, …) so both see the same load. Each case is evaluated once
to warm up, then ``--repeats`` times; per case and tree it prints the median over rounds of

* ``cpu_s``: the process's CPU seconds (user + system, all threads) of one evaluation — the
  work done, the figure least moved by other jobs on a shared machine;
* ``wall_s``: the fastest wall-clock time of the repeats (other jobs only ever add to it);

and the after/before ratio of each.

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
REPEATS = int(sys.argv[1])
cases = {}


def timed(call):
    # (CPU seconds of the median repeat, fastest wall seconds) of call
    call()  # warm
    cpu, wall = [], []
    for _ in range(REPEATS):
        c, w = time.process_time(), time.perf_counter()
        call()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return sorted(cpu)[len(cpu) // 2], min(wall)


for name in ("cnn", "mlp"):
    model = zoo.load(name)
    for label, recipe in (("baseline", None), ("prune 50 %", PruneConfig(0.5)),
                          ("4-bit", QuantConfig(bits=4)), ("int8", QuantConfig(bits=8, activations=True))):
        cases[f"{name} {label}"] = timed(
            lambda: lab.evaluate(model, recipe, effort="quick", store=store, use_cache=False))
digits = as_data(load_digits(), name="digits")
model = thin.fit_thin("LogisticRegression", data=digits, progress=False, cache_dir=tempfile.mkdtemp())
cases["LogisticRegression on digits"] = timed(
    lambda: lab.evaluate(model, data=digits, effort="quick", store=store, use_cache=False))
print(json.dumps(cases))
"""


def run(tree: Path, repeats: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "LAB_QUICK": "1"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(repeats)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _compare(seconds: dict, case: str) -> dict:
    """Median over rounds of each tree's CPU and wall seconds, and the after/before ratios."""
    out = {}
    for i, what in enumerate(("cpu_s", "wall_s")):
        before = statistics.median(v[i] for v in seconds["before"][case])
        after = statistics.median(v[i] for v in seconds["after"][case])
        out[f"before_{what}"], out[f"after_{what}"] = round(before, 4), round(after, 4)
        out[f"ratio_{what}"] = round(after / before, 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the older checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="timed evaluations per case")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": ROOT}
    seconds: dict[str, dict[str, list[tuple[float, float]]]] = {"before": {}, "after": {}}
    loads = []
    for _ in range(args.rounds):
        for which, tree in trees.items():
            loads.append(os.getloadavg()[0])
            for case, value in run(tree, args.repeats).items():
                seconds[which].setdefault(case, []).append(tuple(value))
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
        "repeats": args.repeats,
        "cases": {case: _compare(seconds, case) for case in seconds["after"]},
    }
    print(json.dumps(result, indent=2 if args.json else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
