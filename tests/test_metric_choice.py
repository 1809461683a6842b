"""The quality metric chosen everywhere it appears (issue 18, item 7) and recommend() on
cross-validation results: values checked against scikit-learn's own metric functions on a
regression set shipped with scikit-learn (load_diabetes) and an imbalanced
make_classification set (weights=[0.95, 0.05]); the names and constraint strings a user
types checked by Hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.datasets import load_diabetes, make_classification
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split

from lab.datasets import as_data
from lab.decide.recommend import check_limit, recommend
from lab.decide.search_inputs import Constraint, check_constraints, parse_constraint
from lab.evaluation import quality
from lab.evaluation.measure import accuracy_fields
from lab.techniques.configs import ConfigError

COSTS = {"artifact_bytes": "artifact_bytes", "latency_ms_p50": "latency_ms_p50", "macs": "macs"}
SK = {  # scikit-learn's own functions, the reference for every value shown
    "accuracy": lambda y, p, s: skm.accuracy_score(y, p),
    "balanced_accuracy": lambda y, p, s: skm.balanced_accuracy_score(y, p),
    "macro_f1": lambda y, p, s: skm.f1_score(y, p, average="macro", zero_division=0.0),
    "roc_auc": lambda y, p, s: skm.roc_auc_score(y, s),
    "mae": lambda y, p, s: skm.mean_absolute_error(y, p),
    "rmse": lambda y, p, s: skm.root_mean_squared_error(y, p),
    "r2": lambda y, p, s: skm.r2_score(y, p),
}


def _row(name, y, pred, task, *, scores=None, bytes_=1_000, split="test", data="toy", **extra):
    """A measurement row as lab.evaluate gives it (the primary metric only, live-style)."""
    row = {"name": name, "artifact_bytes": bytes_, "split": split, "data": data, **extra}
    row.update(quality.measurement_fields(task, y, pred, scores=scores, every_metric=False))
    if task != "regression":
        row.update(accuracy_fields(torch.from_numpy(np.asarray(pred) == np.asarray(y))))
    else:
        row["n_images"] = len(y)
    return row


@pytest.fixture(scope="module")
def diabetes_rows():
    x, y = load_diabetes(return_X_y=True)
    xa, xb, ya, yb = train_test_split(x, y, test_size=0.3, random_state=0)
    rows = {}
    for name, est, size in (
        ("Ridge", Ridge(alpha=0.1), 1_200),
        ("RandomForestRegressor", RandomForestRegressor(50, random_state=0), 900_000),
        ("DummyRegressor", DummyRegressor(), 400),
    ):
        pred = est.fit(xa, ya).predict(xb)
        rows[name] = _row(name, yb, pred, "regression", bytes_=size, data="diabetes",
                          executes_as=f"scikit-learn {name}")  # fmt: skip
    return yb, rows


@pytest.fixture(scope="module")
def imbalanced_rows():
    x, y = make_classification(n_samples=2_000, weights=[0.95, 0.05], random_state=0)
    xa, xb, ya, yb = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    rows = {}
    for name, est, size in (
        ("LogisticRegression", LogisticRegression(max_iter=1_000), 2_000),
        ("RandomForestClassifier", RandomForestClassifier(50, random_state=0), 500_000),
        ("DummyClassifier", DummyClassifier(), 300),
    ):
        est.fit(xa, ya)
        rows[name] = _row(name, yb, est.predict(xb), "binary", bytes_=size, data="imbalanced",
                          scores=est.predict_proba(xb)[:, 1],
                          executes_as=f"scikit-learn {name}")  # fmt: skip
    return yb, rows


# --------------------------------------------------------------------------- names


def test_the_choices_of_each_task_and_the_default():
    assert quality.choices("regression") == ["mae", "rmse", "r2"]
    assert quality.choices("multiclass") == ["accuracy", "balanced_accuracy", "macro_f1"]
    assert quality.choices("binary")[-1] == "roc_auc"
    assert quality.default_metric("binary") == "accuracy"  # the default stays accuracy
    assert quality.default_metric("regression") == "mae"


@settings(max_examples=150, deadline=None)
@given(task=st.sampled_from(["binary", "multiclass", "regression"]),
       metric=st.one_of(st.text(max_size=20), st.sampled_from(list(quality.METRICS)),
                        st.integers(), st.none()))  # fmt: skip
def test_a_metric_name_is_accepted_exactly_when_it_fits_the_task(task, metric):
    allowed = quality.choices(task)
    if metric in allowed:
        assert quality.check_choice(metric, task).name == metric
        return
    with pytest.raises(ValueError) as caught:
        quality.check_choice(metric, task)
    message = str(caught.value)
    assert message.startswith("metric must be one of " + ", ".join(allowed))
    assert f"for a {task} task" in message


def test_an_unknown_name_for_a_task_lists_that_tasks_metrics():
    with pytest.raises(ValueError, match="one of mae, rmse, r2 for a regression task; got 'f1'"):
        quality.get_metric("f1", "regression")
    with pytest.raises(ValueError, match="mae does not apply to a binary task; choose one of acc"):
        quality.get_metric("mae", "binary")


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("metric", ["mae", "rmse", "r2"])
def test_a_measurements_regression_metric_is_sklearns(diabetes_rows, metric):
    y, rows = diabetes_rows
    for row in rows.values():
        found = quality.estimate_of(row, metric)
        pred = quality.unpack(row["predictions"])
        assert found.value == pytest.approx(SK[metric](y, pred, None), rel=1e-12)
        assert found.low <= found.high  # its 95 % bootstrap interval (for a constant
        # prediction R²'s percentile interval may sit just below the value: R² ≤ 0 on resamples)
        if row["name"] != "DummyRegressor":
            assert found.low <= found.value <= found.high
    assert quality.estimate_of(rows["Ridge"], "mae").method == "as measured"  # the primary one
    with pytest.raises(ValueError, match="accuracy does not apply to a regression task"):
        quality.estimate_of(rows["Ridge"], "accuracy")


@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy", "macro_f1", "roc_auc"])
def test_a_measurements_classification_metric_is_sklearns(imbalanced_rows, metric):
    y, rows = imbalanced_rows
    for row in rows.values():
        pred, scores = quality.unpack(row["predictions"]), quality.unpack(row["scores"])
        found = quality.estimate_of(row, metric)
        assert found.value == pytest.approx(SK[metric](y, pred, scores), rel=1e-12)
    # without its scores a row cannot give ROC-AUC: None, never a wrong number
    bare = {**rows["LogisticRegression"], "scores": ""}
    assert quality.estimate_of(bare, "roc_auc") is None


def test_two_measurements_compared_on_the_same_items_as_quality_paired(diabetes_rows):
    y, rows = diabetes_rows
    ridge, forest = rows["Ridge"], rows["RandomForestRegressor"]
    got = quality.compare_measurements(ridge, forest, "rmse", permutations=500)
    want = quality.paired("rmse", y, quality.unpack(ridge["predictions"]),
                          quality.unpack(forest["predictions"]), permutations=500)  # fmt: skip
    assert got == want
    other = {**forest, "split": "val"}
    assert quality.compare_measurements(ridge, other, "rmse") is None  # other items


def test_a_model_card_records_the_metric_and_its_value(imbalanced_rows):
    y, rows = imbalanced_rows
    card = quality.record({**rows["RandomForestClassifier"], "metric": "accuracy"}, ["macro_f1"])
    pred = quality.unpack(rows["RandomForestClassifier"]["predictions"])
    assert card["task"] == "binary" and card["metric"] == "accuracy" and card["items"] == len(y)
    assert card["metrics"]["macro_f1"]["value"] == pytest.approx(SK["macro_f1"](y, pred, None))
    assert card["metrics"]["macro_f1"]["direction"] == "higher"
    import json

    json.dumps(card)  # JSON-ready


# --------------------------------------------------------------------------- recommend(limit=)


def test_a_ceiling_on_mae_keeps_only_the_models_under_it(diabetes_rows):
    y, rows = diabetes_rows
    maes = {n: SK["mae"](y, quality.unpack(r["predictions"]), None) for n, r in rows.items()}
    found = recommend(list(rows.values()), metric="mae")
    assert found.quality_metric == "mae" and found.trivial["name"] == "DummyRegressor"
    assert found.best["name"] == min((n for n in maes if n != "DummyRegressor"), key=maes.get)
    ceiling = (maes["Ridge"] + maes["RandomForestRegressor"]) / 2
    cheap_first = min(maes["Ridge"], maes["RandomForestRegressor"]) < ceiling
    limited = recommend(list(rows.values()), metric="mae", limit=ceiling)
    assert cheap_first and limited.limit == ceiling and limited.min_accuracy is None
    chosen = maes[limited.chosen["name"]]
    assert chosen <= ceiling and f"MAE at most {ceiling:.4g}" in limited.reason
    none = recommend(list(rows.values()), metric="mae", limit=1.0)
    assert none.chosen is None and "No model reaches the ceiling of 1 MAE" in none.reason


@pytest.mark.parametrize(
    ("limit", "metric", "words"),
    [
        (80, "macro_f1", "limit on macro_f1 must be a fraction from 0 to 1"),
        (-1, "mae", "limit on mae must be a finite number ≥ 0"),
        (2, "r2", "limit on r2 must be a finite number ≤ 1"),
        ("0.5", "accuracy", "limit on accuracy must be a fraction"),
        (float("nan"), "rmse", "limit on rmse"),
    ],
)
def test_a_limit_out_of_its_metrics_range_is_refused(limit, metric, words):
    with pytest.raises(ValueError, match=words):
        check_limit(limit, metric)


def test_min_accuracy_with_another_metric_points_to_limit(imbalanced_rows):
    _, rows = imbalanced_rows
    with pytest.raises(ValueError, match="pass limit="):
        recommend(list(rows.values()), metric="macro_f1", min_accuracy=0.5)


# --------------------------------------------------------------------------- cross-validation


@pytest.fixture(scope="module")
def small_imbalanced():
    x, y = make_classification(n_samples=240, weights=[0.95, 0.05], random_state=1)
    return as_data((x, y), name="small-imbalanced")


def test_recommend_on_cross_validation_decides_on_par_by_the_cv_test(small_imbalanced):
    data = small_imbalanced
    models = {
        "LogisticRegression": LogisticRegression(max_iter=1_000),
        "RandomForestClassifier": RandomForestClassifier(30, random_state=0),
        "DummyClassifier": DummyClassifier(),
    }
    cv = {n: quality.cross_validate(e, data, "balanced_accuracy", n_splits=3, n_repeats=3)
          for n, e in models.items()}  # fmt: skip
    sizes = {"LogisticRegression": 2_000, "RandomForestClassifier": 400_000, "DummyClassifier": 1}
    rows = [{"name": n, "artifact_bytes": b, "task": "binary", "executes_as": "scikit-learn"}
            for n, b in sizes.items()]  # fmt: skip
    found = recommend(rows, cross_validation=cv, tolerance_pt=0.0)  # judged by what they estimate
    assert found.quality_metric == "balanced_accuracy"
    assert found.estimate.startswith("cross-validation (RepeatedStratifiedKFold(3 folds")
    assert "Estimate used: cross-validation" in found.reason and "9 fits" in found.reason
    best = max(("LogisticRegression", "RandomForestClassifier"), key=lambda n: cv[n].mean)
    assert found.best["name"] == best and found.best_accuracy == cv[best].mean
    for test in found.tests:
        if test["name"] == best:
            continue
        comparison = quality.cv_paired(cv[best], cv[test["name"]])
        assert test["vs_best"] == comparison.verdict  # the corrected repeated k-fold t-test
        assert test["on_par"] == (not comparison.significant)
        versus = quality.cv_paired(cv["DummyClassifier"], cv[test["name"]])
        assert test["vs_trivial"] == versus.verdict


def test_bad_cross_validation_arguments_are_clear(small_imbalanced):
    cv = quality.cross_validate(DummyClassifier(), small_imbalanced, "macro_f1", n_splits=3,
                                n_repeats=1)  # fmt: skip
    other = quality.cross_validate(DummyClassifier(), small_imbalanced, "macro_f1", n_splits=3,
                                   n_repeats=2)  # fmt: skip
    rows = [{"name": "DummyClassifier", "artifact_bytes": 1, "task": "binary"},
            {"name": "m", "artifact_bytes": 2, "task": "binary"}]  # fmt: skip
    with pytest.raises(ValueError, match="estimates macro_f1; the recommendation judges by acc"):
        recommend(rows, metric="accuracy", cross_validation={"DummyClassifier": cv})
    with pytest.raises(ValueError, match="must come from the same folds"):
        recommend(rows, metric="macro_f1", cross_validation={"DummyClassifier": cv, "m": other})
    with pytest.raises(ValueError, match="names 'nobody', which no result has"):
        recommend(rows, metric="macro_f1", cross_validation={"nobody": cv})
    with pytest.raises(ValueError, match="must be a lab.quality.CrossValidation"):
        recommend(rows, metric="macro_f1", cross_validation={"m": 0.5})


# --------------------------------------------------------------------------- constraints


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    task=st.sampled_from(["binary", "multiclass", "regression"]),
    data=st.data(),
    spaces=st.tuples(*[st.sampled_from(["", " ", "  "])] * 3),
)
def test_a_valid_constraint_string_round_trips(task, data, spaces):
    names = [*COSTS, *quality.choices(task)]
    name = data.draw(st.sampled_from(names))
    if name in COSTS:
        op, limit = "<=", data.draw(st.floats(1e-3, 1e9))
    else:
        entry = quality.METRICS[name]
        op = ">=" if entry.higher_is_better else "<="
        high = 1.0 if entry.unit in ("fraction", "") else 1e6
        low = -5.0 if entry.unit == "" else 0.0
        limit = data.draw(st.floats(low, high))
    prefix = data.draw(st.sampled_from(["", "val_"])) if name not in COSTS else ""
    text = f"{spaces[0]}{prefix}{name}{spaces[1]}{op}{spaces[2]}{limit!r}"
    found = parse_constraint(text, COSTS, task)
    assert found == Constraint(name, op, limit, quality=name not in COSTS)
    assert parse_constraint(str(found), COSTS, task).name == name
    assert found.excess(limit) == 0


@settings(max_examples=300, deadline=None)
@given(task=st.sampled_from(["binary", "multiclass", "regression"]),
       text=st.one_of(st.text(max_size=30), st.from_regex(r"[a-z_0-9]{1,12} ?[<>=≤≥]{1,2} ?[-0-9.e]{0,6}",
                                                          fullmatch=True)))  # fmt: skip
def test_any_constraint_text_is_a_constraint_or_a_config_error(task, text):
    try:
        found = parse_constraint(text, COSTS, task)
    except ConfigError as exc:
        assert str(exc).startswith("constraint")
        return
    assert found.op in ("<=", ">=") and np.isfinite(found.limit)
    assert found.name in COSTS or found.name in quality.choices(task)


@pytest.mark.parametrize(
    ("text", "task", "words"),
    [
        (
            "macro_f1 <= 0.8",
            "binary",
            "better higher; a constraint is its worst acceptable value: write macro_f1 >= …",
        ),
        ("mae >= 50", "regression", "write mae <= …"),
        (
            "mae <= 50",
            "multiclass",
            "metric must be one of accuracy, balanced_accuracy, macro_f1 for a multiclass task",
        ),
        ("macro_f1 >= 80", "binary", "a fraction from 0 to 1 (write 0.8 for 80 %)"),
        ("artifact_bytes >= 5", "binary", "is a cost, bounded from above"),
        ("artifact_bytes < 5", "binary", "use <= or >="),
        ("f1 >= 0.8", "binary", "unknown name 'f1'; bound a cost (artifact_bytes, latency_ms_p50"),
        ("accuracy >= ninety", "binary", "'ninety' is not a number"),
        ("accuracy >= inf", "binary", "must be a finite number"),
        ("accuracy", "binary", "must read '<name> <= <number>'"),
        ("roc_auc >= 0.9", "multiclass", "for a multiclass task"),
    ],
)
def test_bad_constraints_say_what_to_write(text, task, words):
    with pytest.raises(ConfigError) as caught:
        parse_constraint(text, COSTS, task)
    assert words in str(caught.value)


def test_constraints_in_every_form():
    assert check_constraints(None, COSTS, "binary") == ()
    assert check_constraints({"macs": 5}, COSTS, "binary") == (Constraint("macs", "<=", 5.0),)
    both = check_constraints(["macs <= 5", "balanced_accuracy >= 0.7"], COSTS, "binary")
    assert [str(c) for c in both] == ["macs <= 5", "balanced_accuracy >= 0.7"]
    with pytest.raises(ConfigError, match="constraints bound costs .* in a dict; got 'macro_f1'"):
        check_constraints({"macro_f1": 0.8}, COSTS, "binary")
    with pytest.raises(ConfigError, match="constraints must be a dict"):
        check_constraints([("macs", 5)], COSTS, "binary")
