"""Behaviour snapshot: the deterministic figures of many evaluations, to compare two commits.

Evaluates every zoo model under a set of recipes and every thin model (fitted on
scikit-learn's digits, the same seed each time) on the live split, with a throw-away result
store, and prints the figures that do not depend on the machine's speed or load: accuracy,
the per-item results (a SHA-256 of them), bytes on disk, the fp32 baseline bytes, parameter
and non-zero counts, the resolution, FLOPs/MACs and their kind.

Run it on two commits and compare the JSON::

    git stash; python benchmarks/behaviour.py --json > /tmp/before.json; git stash pop
    python benchmarks/behaviour.py --json > /tmp/after.json
    python benchmarks/behaviour.py --compare /tmp/before.json /tmp/after.json

``--compare`` exits 1 and names every figure that differs. One exception: a skops file
(thin models) names its zip members by object ids, so two saves of one model differ by a few
bytes; those sizes may differ by at most 64 bytes or :data:`SKOPS_SLACK` of the file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

DETERMINISTIC = (
    "accuracy",
    "n_images",
    "artifact_bytes",
    "state_dict_bytes",
    "parameters",
    "nonzero_parameters",
    "resolution",
    "flops",
    "macs",
    "operations_kind",
)

RECIPES = {
    "baseline": None,
    "prune 50 %": {"prune": {"sparsity": 0.5}},
    "prune 30 % channels": {"prune": {"sparsity": 0.3, "structure": "channel"}},
    "4-bit": {"quant": {"bits": 4}},
    "int8": {"quant": {"bits": 8, "activations": True}},
    "14 px": {"resolution": {"size": 14}},
    "prune 70 % + 6-bit + 20 px": {
        "prune": {"sparsity": 0.7},
        "quant": {"bits": 6},
        "resolution": {"size": 20},
    },
}
SKOPS_SLACK = 0.001  # two saves of one scikit-learn model differ (member names) by less
THIN = ("LogisticRegression", "RandomForestClassifier", "KNeighborsClassifier", "MLPClassifier")


def _figures(measurement) -> dict:
    row = {name: getattr(measurement, name, None) for name in DETERMINISTIC}
    row["per_item_sha256"] = hashlib.sha256(measurement.correct_bits.encode()).hexdigest()[:16]
    return row


def snapshot() -> dict:
    from sklearn.datasets import load_digits

    import lab
    from lab import thin, zoo
    from lab.datasets import as_data
    from lab.store import ResultStore
    from lab.techniques.configs import Recipe

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultStore(Path(tmp) / "results.sqlite")
        for name in zoo.names():
            model = zoo.load(name)
            for label, recipe in RECIPES.items():
                try:
                    m = lab.evaluate(
                        model,
                        Recipe.from_dict(recipe) if recipe else None,
                        name=name,
                        effort="quick",
                        store=store,
                        use_cache=False,
                    )
                    results[f"{name} | {label}"] = _figures(m)
                except Exception as error:  # noqa: BLE001 - a refusal is behaviour too
                    results[f"{name} | {label}"] = {"error": type(error).__name__}
        digits = as_data(load_digits(), name="digits")
        for name in THIN:
            fitted = thin.fit_thin(name, data=digits, cache_dir=Path(tmp) / "thin", progress=False)
            m = lab.evaluate(fitted, data=digits, effort="quick", store=store, use_cache=False)
            results[f"{name} on digits"] = _figures(m)
    return results


def compare(before: dict, after: dict) -> list[str]:
    problems = []
    for key in sorted(set(before) | set(after)):
        if key not in before or key not in after:
            problems.append(f"{key}: only in {'after' if key in after else 'before'}")
            continue
        for field in sorted(set(before[key]) | set(after[key])):
            old, new = before[key].get(field), after[key].get(field)
            skops = key.endswith(" on digits") and field.endswith("_bytes")
            if skops and isinstance(old, int) and isinstance(new, int):
                if abs(old - new) <= max(64, SKOPS_SLACK * old):
                    continue
            if old != new:
                problems.append(
                    f"{key}: {field} {before[key].get(field)!r} → {after[key].get(field)!r}"
                )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(Path(p).read_text()) for p in args.compare)
        problems = compare(before, after)
        print("\n".join(problems) or f"identical: {len(before)} evaluations")
        return 1 if problems else 0
    result = snapshot()
    print(json.dumps(result, indent=1 if args.json else None, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
