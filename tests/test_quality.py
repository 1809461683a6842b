"""lab.quality against scikit-learn and SciPy, and against computations written out here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest
from scipy.stats import t as student
from sklearn import metrics as skm
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score

from lab import quality, stats
from lab.datasets import as_data

FAST = {"resamples": 200}


# ---------------------------------------------------------------- independent computations


def _balanced(y, p):
    classes = sorted(set(y))
    return sum(
        sum(1 for t, q in zip(y, p, strict=True) if t == c and q == c) / y.count(c) for c in classes
    ) / len(classes)


def _macro_f1(y, p):
    classes = sorted(set(y) | set(p))
    total = 0.0
    for c in classes:
        tp = sum(1 for t, q in zip(y, p, strict=True) if t == c and q == c)
        fp = sum(1 for t, q in zip(y, p, strict=True) if t != c and q == c)
        fn = sum(1 for t, q in zip(y, p, strict=True) if t == c and q != c)
        total += 2 * tp / (2 * tp + fp + fn)
    return total / len(classes)


def _auc(y, s):  # the share of (positive, negative) pairs ordered right; ties count half
    pos = [v for t, v in zip(y, s, strict=True) if t == 1]
    neg = [v for t, v in zip(y, s, strict=True) if t == 0]
    return sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg))


labels = st.lists(st.integers(0, 3), min_size=2, max_size=40)


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_classification_metrics_equal_sklearn_and_a_count(data):
    y = data.draw(labels)
    p = data.draw(st.lists(st.integers(0, 4), min_size=len(y), max_size=len(y)))
    result = quality.score("multiclass", y, p, **FAST)
    assert result["accuracy"].value == skm.accuracy_score(y, p)
    assert math.isclose(result["balanced_accuracy"].value, _balanced(y, p), rel_tol=1e-12)
    assert math.isclose(result["macro_f1"].value, _macro_f1(y, p), rel_tol=1e-12)
    # the resampling implementation equals scikit-learn on the items themselves
    yy, pp = np.array([y]), np.array([p])
    (t, q), k = quality._codes(np.array(y), np.array(p))
    for name, sk in (
        ("accuracy", skm.accuracy_score),
        ("balanced_accuracy", lambda a, b: _balanced(list(a), list(b))),
        ("macro_f1", lambda a, b: skm.f1_score(a, b, average="macro", zero_division=0.0)),
    ):
        row = quality.METRICS[name].rows(t[None], q[None], None, k)[0]
        assert math.isclose(row, sk(yy[0], pp[0]), rel_tol=1e-12, abs_tol=1e-15), name
    recall = result["per_class_recall"]
    for c, estimate in recall.items():
        members = np.array(y) == c
        hit = int((np.array(p)[members] == c).sum())
        assert estimate.value == hit / members.sum()
        assert (estimate.low, estimate.high) == stats.accuracy_interval(hit, int(members.sum()))


@settings(max_examples=60, deadline=None)
@given(
    y=st.lists(st.integers(0, 1), min_size=2, max_size=40).filter(lambda v: 0 < sum(v) < len(v)),
    data=st.data(),
)
def test_roc_auc_equals_sklearn_and_the_pair_count(y, data):
    s = data.draw(st.lists(st.sampled_from([0.1, 0.2, 0.5, 0.9]), min_size=len(y), max_size=len(y)))
    result = quality.score("binary", y, y, scores=s, metrics=["roc_auc"], **FAST)["roc_auc"]
    assert result.value == skm.roc_auc_score(y, s)
    assert math.isclose(result.value, _auc(y, s), rel_tol=1e-12)
    row = quality.METRICS["roc_auc"].rows(np.array([y]), None, np.array([s], float), 2)[0]
    assert math.isclose(row, _auc(y, s), rel_tol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    y=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=40),
    data=st.data(),
)
def test_regression_metrics_equal_sklearn_and_the_formulas(y, data):
    p = data.draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=len(y), max_size=len(y)))
    result = quality.score("regression", y, p, **FAST)
    a, b = np.array(y), np.array(p)
    assert result["mae"].value == skm.mean_absolute_error(a, b)
    assert result["rmse"].value == skm.root_mean_squared_error(a, b)
    assert result["r2"].value == skm.r2_score(a, b)
    assert math.isclose(
        result["mae"].value,
        sum(abs(u - v) for u, v in zip(y, p, strict=True)) / len(y),
        rel_tol=1e-9,
    )
    for name in ("mae", "rmse", "r2"):
        row = quality.METRICS[name].rows(a[None], b[None], None, 0)[0]
        assert math.isclose(row, result[name].value, rel_tol=1e-9, abs_tol=1e-9), name


def test_intervals_wilson_for_accuracy_and_a_seeded_bootstrap_for_the_rest():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    p = np.where(rng.random(300) < 0.8, y, rng.integers(0, 3, 300))
    first = quality.score("multiclass", y, p, resamples=200)
    again = quality.score("multiclass", y, p, resamples=200)
    correct = int((y == p).sum())
    assert (first["accuracy"].low, first["accuracy"].high) == stats.accuracy_interval(correct, 300)
    assert first["accuracy"].method == "Wilson"
    for name in ("balanced_accuracy", "macro_f1"):
        e = first[name]
        assert e.low < e.value < e.high and (e.low, e.high) == (again[name].low, again[name].high)
        assert "bootstrap" in e.method
    # the bootstrap percentile interval, recomputed here from the same seeded resamples
    index = np.random.default_rng(0).integers(0, 300, size=(200, 300))
    values = [skm.f1_score(y[i], p[i], average="macro") for i in index]
    low, high = np.percentile(values, [2.5, 97.5])
    assert math.isclose(first["macro_f1"].low, low) and math.isclose(first["macro_f1"].high, high)


def test_the_default_metric_fits_the_task():
    assert quality.default_metric("multiclass", [0, 1, 2] * 5) == "accuracy"
    assert quality.default_metric("binary", [0] * 95 + [1] * 5) == "balanced_accuracy"
    assert quality.default_metric("regression") == "mae"
    with pytest.raises(ValueError, match="mae does not apply to a binary task"):
        quality.get_metric("mae", "binary")
    with pytest.raises(ValueError, match="metric must be one of"):
        quality.get_metric("precision")
    for entry in quality.METRICS.values():  # every entry says what a chart and a reason need
        assert entry.direction in ("higher", "lower") and entry.axis_label and entry.wording


# ---------------------------------------------------------------- paired comparisons


def test_accuracy_is_compared_with_exact_mcnemar():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200)
    a = np.where(rng.random(200) < 0.8, y, 1 - y)
    b = np.where(rng.random(200) < 0.9, y, 1 - y)
    result = quality.paired("accuracy", y, a, b)
    only_a = int(((a == y) & (b != y)).sum())
    only_b = int(((b == y) & (a != y)).sum())
    assert result.p_value == pytest.approx(binomtest(only_a, only_a + only_b).pvalue, rel=1e-12)
    assert result.difference == pytest.approx((only_b - only_a) / 200)
    assert result.test == "exact McNemar" and result.better is True


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    metric=st.sampled_from(["balanced_accuracy", "macro_f1", "mae", "rmse", "r2"]),
    n=st.integers(5, 60),
)
def test_a_paired_comparison_is_antisymmetric(seed, metric, n):
    rng = np.random.default_rng(seed)
    if metric in ("mae", "rmse", "r2"):
        y, a, b = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    else:
        y, a, b = rng.integers(0, 3, n), rng.integers(0, 3, n), rng.integers(0, 3, n)
    ab = quality.paired(metric, y, a, b, permutations=300, resamples=100)
    ba = quality.paired(metric, y, b, a, permutations=300, resamples=100)
    assert ab.difference == pytest.approx(-ba.difference, abs=1e-12)
    assert ab.p_value == pytest.approx(ba.p_value)
    assert 0 < ab.p_value <= 1
    same = quality.paired(metric, y, a, a, permutations=300, resamples=100)
    assert same.difference == 0 and same.p_value == 1 and not same.significant


def test_a_clear_difference_is_significant_and_the_permutation_p_is_right():
    rng = np.random.default_rng(3)
    y = rng.normal(50, 10, 120)
    good, bad = y + rng.normal(0, 2, 120), y + rng.normal(0, 8, 120)
    result = quality.paired("mae", y, bad, good)
    assert result.significant and result.better is True and result.difference < 0
    assert result.low < result.difference < result.high
    # the same permutation test written out: swap each item's two predictions at random
    swaps = np.random.default_rng(0).random((quality.PERMUTATIONS, 120)) < 0.5
    observed = abs(np.abs(y - good).mean() - np.abs(y - bad).mean())
    a = np.where(swaps, good, bad)
    b = np.where(swaps, bad, good)
    count = (np.abs(np.abs(y - b).mean(1) - np.abs(y - a).mean(1)) >= observed - 1e-12).sum()
    assert result.p_value == (count + 1) / (quality.PERMUTATIONS + 1)
    assert "MAE, significant (paired permutation" in result.verdict


def test_per_class_recall_is_not_compared_as_one_number():
    with pytest.raises(ValueError, match="one value per class"):
        quality.paired("per_class_recall", [0, 1], [0, 1], [1, 0])


# ---------------------------------------------------------------- scores, packing, fields


def test_binary_scores_from_sklearn_and_torch():
    from sklearn.svm import LinearSVC

    x = np.random.default_rng(0).normal(size=(40, 3))
    y = (x[:, 0] > 0).astype(int)
    lr = LogisticRegression().fit(x, y)
    assert np.allclose(quality.positive_scores(lr, x), lr.predict_proba(x)[:, 1])
    svm = LinearSVC().fit(x, y)
    assert np.allclose(quality.positive_scores(svm, x), svm.decision_function(x))
    net = torch.nn.Linear(3, 2)
    logits = net(torch.tensor(x, dtype=torch.float32)).detach().double()
    got = quality.positive_scores(net, torch.tensor(x, dtype=torch.float32))
    assert np.allclose(got, (logits[:, 1] - logits[:, 0]).numpy())
    assert net.training  # the caller's mode is left as it was


@settings(max_examples=60, deadline=None)
@given(
    values=st.one_of(
        st.lists(st.integers(0, 70_000), min_size=1, max_size=50),
        st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50),
        st.lists(st.booleans(), min_size=1, max_size=50),
    )
)
def test_pack_round_trips(values):
    array = np.array(values)
    back = quality.unpack(quality.pack(array))
    assert np.array_equal(back, array.astype(back.dtype)) and back.tolist() == array.tolist()


def test_unpack_refuses_what_pack_did_not_write():
    for bad in ("", "x", "f4:AAAA", None):
        with pytest.raises(ValueError):
            quality.unpack(bad)


def test_measurement_fields_of_every_task():
    y = np.array([0] * 18 + [1] * 2)
    p = np.array([0] * 19 + [1])
    fields = quality.measurement_fields("binary", y, p, scores=p * 0.7 + 0.1)
    assert fields["metric"] == "balanced_accuracy" and fields["metric_value"] == 0.75
    assert set(fields["metrics"]) == {"accuracy", "balanced_accuracy", "macro_f1", "roc_auc"}
    assert np.array_equal(quality.unpack(fields["predictions"]), p)
    numbers = quality.measurement_fields("regression", [1.0, 2.0, 4.0], [1.5, 2.0, 3.0])
    assert numbers["metric"] == "mae" and numbers["metric_value"] == 0.5 and numbers["scores"] == ""
    assert tuple(numbers) == quality.MEASUREMENT_FIELDS  # the fields proposed for Measurement


# ---------------------------------------------------------------- small data


def test_cross_validation_equals_sklearns_and_is_compared_fold_by_fold():
    iris = as_data(load_iris(), name="iris")
    estimator = LogisticRegression(max_iter=300)
    cv = quality.cross_validate(estimator, iris, "accuracy", n_splits=5, n_repeats=3)
    x, y = quality._all_items(iris)
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=3, random_state=0)
    expected = cross_val_score(LogisticRegression(max_iter=300), x, y, cv=folds, scoring="accuracy")
    assert np.array_equal(np.array(cv.scores), expected)
    assert cv.mean == pytest.approx(expected.mean()) and cv.n == 150
    var = expected.var(ddof=1) * (1 / 15 + 0.2 / 0.8)  # Nadeau–Bengio corrected variance
    assert cv.high - cv.mean == pytest.approx(student.ppf(0.975, 14) * math.sqrt(var))
    assert not hasattr(estimator, "coef_")  # the caller's estimator is never fitted
    assert "RepeatedStratifiedKFold" in str(cv)
    from sklearn.dummy import DummyClassifier

    trivial = quality.cross_validate(DummyClassifier(), iris, "accuracy", n_splits=5, n_repeats=3)
    versus = quality.cv_paired(trivial, cv)
    assert versus.significant and versus.better and "corrected repeated k-fold" in versus.test
    assert quality.estimate_kind(30) == "cross-validation"
    assert quality.estimate_kind(quality.MIN_HELD_OUT) == "held-out test"
    assert quality.estimate_kind(1000, smallest_class=10) == "cross-validation"
    with pytest.raises(ValueError, match="smallest class has 3 items"):
        tiny = as_data((np.arange(12.0)[:, None], [0] * 9 + [1] * 3), standardize=False)
        quality.cross_validate(LogisticRegression(), tiny, n_splits=5)


def test_predictions_and_scores_from_torch_outputs():
    logits = torch.tensor([[2.0, -1.0], [0.0, 3.0], [1.0, 1.5]])
    predictions, scores = quality.from_outputs("binary", logits)
    assert predictions.tolist() == [0, 1, 1] and np.allclose(scores, [-3.0, 3.0, 0.5])
    codes, none = quality.from_outputs("multiclass", torch.eye(3)[[2, 0, 1]])
    assert codes.tolist() == [2, 0, 1] and none is None
    values, _ = quality.from_outputs("regression", torch.tensor([[1.5], [-2.0]]))
    assert values.dtype == np.float64 and values.tolist() == [1.5, -2.0]
    with pytest.raises(ValueError, match="N×1 outputs; got N×3"):
        quality.from_outputs("regression", torch.zeros(2, 3))


junk = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.lists(st.one_of(st.integers(), st.floats(), st.text(max_size=2), st.none()), max_size=6),
    st.lists(st.lists(st.integers(), max_size=2), max_size=3),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    task=st.sampled_from(["binary", "multiclass", "regression", "ranking", None]),
    y=junk,
    p=junk,
)
def test_any_input_gives_values_or_a_clear_error(task, y, p):
    try:
        result = quality.score(task, y, p, resamples=20)
    except (TypeError, ValueError) as exc:
        assert str(exc)
        return
    assert all(isinstance(v, (quality.Estimate, dict)) for v in result.values())
