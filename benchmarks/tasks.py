"""Every task on data shipped with scikit-learn: the metric that fits it, the trivial
baseline, and the recommendation with the test behind it.

    python benchmarks/tasks.py --json [--sets iris,diabetes] [--output PATH] [--repeats 5]

Data: ``load_iris``, ``load_wine``, ``load_breast_cancer``, ``load_digits`` (classification,
split by :func:`lab.datasets.as_data`), ``load_diabetes`` (``task="regression"``) and a
synthetic imbalanced set, ``make_classification(n_samples=1000, weights=[0.95, 0.05],
random_state=0)`` (scikit-learn's generator: 20 features, 2 informative, 2 redundant,
95 % / 5 % classes, 1 % of labels flipped).

For each set every thin model of the task (:func:`lab.thin.thin_names`, the trivial
baseline included) is fitted on ``train`` and measured on ``test`` with
:func:`lab.evaluate` (``effort="quick"``; every metric from its per-item results). Per model: the default metric of the
task (:func:`lab.quality.default_metric`), its 95 % interval, every metric of the task,
``matches_sklearn`` (each value equal to scikit-learn's own function on the model's
predictions, recomputed here), and the paired test against the trivial baseline. Per set:
:func:`lab.recommend.recommend` (objective bytes) — chosen, reason, each model's tests —
and, when the test split is below :data:`lab.quality.MIN_HELD_OUT` items, the repeated
k-fold estimate (:func:`lab.quality.cross_validate`) of the chosen and the best model,
their corrected paired test, which estimate the set calls for, and ``recommendation_cv``:
the same models (and the trivial baseline) recommended on their cross-validation results
(``recommend(..., cross_validation=...)``: "on par" by the corrected repeated k-fold test).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from lab import evaluate, machine, quality, thin
from lab.datasets import as_data
from lab.recommend import recommend

IMBALANCED = "make_classification(n_samples=1000, weights=[0.95, 0.05], random_state=0)"


def data_sets() -> dict:
    """name → (loader, as_data keyword arguments)."""
    from sklearn import datasets as sk

    def imbalanced():
        x, y = sk.make_classification(n_samples=1000, weights=[0.95, 0.05], random_state=0)
        return x, y

    return {
        "iris": (sk.load_iris, {}),
        "wine": (sk.load_wine, {}),
        "breast_cancer": (sk.load_breast_cancer, {}),
        "diabetes": (sk.load_diabetes, {"task": "regression"}),
        "imbalanced": (imbalanced, {}),
        "digits": (sk.load_digits, {}),  # the slowest (1,797 items, 10 classes): last
    }


def _sklearn_values(task: str, y: np.ndarray, predicted: np.ndarray, scores) -> dict:
    """Each metric by scikit-learn's own function (independent of lab.quality)."""
    from sklearn import metrics as m

    if task == "regression":
        return {
            "mae": m.mean_absolute_error(y, predicted),
            "rmse": m.root_mean_squared_error(y, predicted),
            "r2": m.r2_score(y, predicted),
        }
    values = {
        "accuracy": m.accuracy_score(y, predicted),
        "balanced_accuracy": m.balanced_accuracy_score(y, predicted),
        "macro_f1": m.f1_score(y, predicted, average="macro", zero_division=0.0),
    }
    if scores is not None:
        values["roc_auc"] = m.roc_auc_score(y, scores)
    return values


def run_set(name: str, loader, options: dict, cache_dir: Path, repeats: int) -> dict:
    started = time.perf_counter()
    data = as_data(loader(), name=name, **options)
    test = data.split("test")
    y = test.labels.numpy()
    rows, models = [], {}
    for model_name in thin.thin_names(data.task, trivial=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = thin.fit_thin(model_name, data=data, progress=False, cache_dir=cache_dir)
            measured = evaluate(model, split="test", data=data, effort="quick")
            row = measured.as_dict(every_metric=True)
        rows.append(row)
        models[model_name] = model
    trivial = next(r for r in rows if thin.THIN_MODELS[r["name"]].trivial)
    rec = recommend(rows)
    metric = rec.quality_metric
    entries = {}
    for row in rows:
        predicted = quality.unpack(row["predictions"])
        scores = quality.unpack(row["scores"]) if row["scores"] else None
        reference = _sklearn_values(data.task, y, predicted, scores)
        ours = {k: v[0] for k, v in row["metrics"].items()}
        versus = quality.paired(
            metric,
            y,
            quality.unpack(trivial["predictions"]),
            predicted,
            scores_a=quality.unpack(trivial["scores"]) if trivial["scores"] else None,
            scores_b=scores,
        )
        entries[row["name"]] = {
            "metric": metric,
            "value": row["metrics"][metric][0],
            "low": row["metrics"][metric][1],
            "high": row["metrics"][metric][2],
            "metrics": row["metrics"],
            "sklearn": reference,
            "matches_sklearn": all(ours[k] == reference[k] for k in reference),
            "vs_trivial": versus.verdict,
            "beats_trivial": bool(versus.significant and versus.better),
            "artifact_bytes": row["artifact_bytes"],
            "operations_per_item": row["macs"],
            "operations_kind": row["operations_kind"],
            "latency_ms_p50_b1": row["latency_ms_p50"],
            "accuracy": row["accuracy"],
        }
    result = {
        "task": data.task,
        "data": repr(data),
        "classes": list(data.classes),
        "n_test": len(y),
        "metric": metric,
        "trivial_baseline": {
            "name": trivial["name"],
            "value": trivial["metrics"][metric][0],
            "low": trivial["metrics"][metric][1],
            "high": trivial["metrics"][metric][2],
        },
        "models": entries,
        "recommendation": {
            "chosen": rec.chosen["name"] if rec.chosen else None,
            "best": rec.best["name"],
            "on_par": [r["name"] for r in rec.on_par],
            "reason": rec.reason,
            "tests": rec.tests,
        },
        "estimate": quality.estimate_kind(
            len(y), int(np.bincount(y.astype(np.int64)).min()) if data.is_classification else None
        ),
    }
    if result["estimate"] == "cross-validation" and rec.chosen is not None:
        chosen, best = rec.chosen["name"], rec.best["name"]
        cv = {}
        for model_name in dict.fromkeys([chosen, best, trivial["name"]]):
            estimator = thin.THIN_MODELS[model_name].build()
            thin._fitted_to(estimator, thin.features(data.split("train").images))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cv[model_name] = quality.cross_validate(estimator, data, metric, n_repeats=repeats)
        result["cross_validation"] = {
            name: {"mean": c.mean, "low": c.low, "high": c.high, "splitter": c.splitter}
            for name, c in cv.items()
        }
        if chosen != best:
            versus = quality.cv_paired(cv[best], cv[chosen])
            result["cross_validation"]["chosen_vs_best"] = versus.verdict
        # the same models recommended on their cross-validation results instead of test
        by_cv = recommend([r for r in rows if r["name"] in cv], metric=metric, cross_validation=cv)
        result["recommendation_cv"] = {
            "chosen": by_cv.chosen["name"] if by_cv.chosen else None,
            "on_par": [r["name"] for r in by_cv.on_par],
            "estimate": by_cv.estimate,
            "reason": by_cv.reason,
            "tests": by_cv.tests,
        }
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON (the default output)")
    parser.add_argument("--sets", default="", help="comma-separated subset of the data sets")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    parser.add_argument("--repeats", type=int, default=5, help="cross-validation repeats")
    parser.add_argument("--cache-dir", type=Path, help="where fitted models are kept (a temp dir)")
    args = parser.parse_args(argv)
    sets = data_sets()
    chosen = [s for s in args.sets.split(",") if s] or list(sets)
    unknown = set(chosen) - set(sets)
    if unknown:
        parser.error(f"unknown sets {sorted(unknown)}; choose from {', '.join(sets)}")
    started = time.perf_counter()
    document = {"machine": machine.describe(), "imbalanced_generator": IMBALANCED, "sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache_dir or Path(tmp)
        for name in chosen:
            loader, options = sets[name]
            document["sets"][name] = run_set(name, loader, options, cache, args.repeats)
            if args.output:
                args.output.write_text(json.dumps(document, indent=2, default=str) + "\n")
    document["machine_at_end"] = machine.describe()
    document["run"] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 1),
        "all_match_sklearn": all(
            m["matches_sklearn"] for s in document["sets"].values() for m in s["models"].values()
        ),
    }
    text = json.dumps(document, indent=2, default=str)
    if args.output:
        args.output.write_text(text + "\n")
    print(text)
    return 0 if document["run"]["all_match_sklearn"] else 1


if __name__ == "__main__":
    sys.exit(main())
