"""Tasks (binary, multi-class, regression) detected from the data, labels of any kind encoded
once, splits that never share items, thin models and torch families for every task."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_diabetes, load_iris, load_wine, make_classification

from lab import families, thin
from lab.datasets import DataError, as_data
from lab.tasks import MAX_AUTO_CLASSES, detect_task


@pytest.fixture(scope="module")
def diabetes():
    return as_data(load_diabetes(), task="regression", name="diabetes")


@pytest.fixture(scope="module")
def imbalanced():
    x, y = make_classification(400, weights=[0.9, 0.1], random_state=0)
    return as_data((x, y), name="imbalanced")


def _items(data, split):
    """The single feature of an as_data((arange(n), y), standardize=False): item ids."""
    return set(data.split(split).images[:, 0].round().long().tolist())


# ---------------------------------------------------------------- detection


@pytest.mark.parametrize(
    "y, task",
    [
        (np.array(["ham", "spam", "ham", "ham"]), "binary"),
        (np.array([True, False, True, False]), "binary"),
        (np.array([0.0, 1.0, 1.0, 0.0]), "binary"),
        (np.array([3, 17, 1_000_000, 3]), "multiclass"),
        (np.array([0.5, 1.25, 3.0, 2.0]), "regression"),
    ],
)
def test_the_task_is_detected_from_the_labels(y, task):
    assert detect_task(y) == task


def test_whole_numbers_with_many_values_ask_for_task():
    y = np.arange(MAX_AUTO_CLASSES + 1, dtype=float)
    with pytest.raises(DataError, match=r"task='regression'.*task='multiclass'"):
        detect_task(y)
    with pytest.raises(DataError, match="214 distinct whole numbers.*task="):
        as_data(load_diabetes())  # its target: floats with whole values 25…346


def test_regression_targets_stay_numbers_in_their_units(diabetes):
    bunch = load_diabetes()
    assert diabetes.task == "regression" and diabetes.classes == () and diabetes.n_outputs == 1
    assert "regression target" in repr(diabetes)
    parts = [diabetes.split(s).labels for s in ("train", "val", "test")]
    assert all(p.dtype == torch.float64 for p in parts)
    together = np.sort(torch.cat(parts).numpy())
    assert np.array_equal(together, np.sort(bunch.target))  # never standardized, none lost
    assert set(diabetes.split("live").labels.tolist()) <= set(
        diabetes.split("test").labels.tolist()
    )


@pytest.mark.parametrize(
    "labels, values, names",
    [
        ([1, 2, 3], (1, 2, 3), ("1", "2", "3")),  # 1…K: no empty class 0
        ([3, 17, 1_000_000], (3, 17, 1_000_000), ("3", "17", "1000000")),  # sparse
        (["virginica", "setosa", "versicolor"], ("setosa", "versicolor", "virginica"), None),
        ([-1, 0, 1], (-1, 0, 1), ("-1", "0", "1")),
    ],
)
def test_labels_of_any_kind_are_encoded_once(labels, values, names):
    raw = np.array(labels * 10)
    x = np.arange(len(raw), dtype=float)[:, None]
    made = as_data((x, raw), standardize=False)
    assert made.label_values == values and made.n_classes == len(values)
    assert made.classes == (names or values)
    for split in ("train", "val", "test"):  # each item's code maps back to its own label
        part = made.split(split)
        ids = part.images[:, 0].round().long().numpy()
        decoded = np.array(values, dtype=object)[part.labels.numpy()]
        assert list(decoded) == [raw[i].item() for i in ids]
    assert f"{len(values)} classes ({', '.join(made.classes)})" in repr(made)


def test_class_names_from_a_bunch_or_the_caller():
    iris = as_data(load_iris(), name="iris")
    assert iris.classes == ("setosa", "versicolor", "virginica") and iris.task == "multiclass"
    assert "(setosa, versicolor, virginica)" in repr(iris)
    named = as_data(
        (np.zeros((9, 1)) + np.arange(9)[:, None], [5, 7] * 4 + [5]), classes=["a", "b"]
    )
    assert named.classes == ("a", "b") and named.label_values == (5, 7)
    with pytest.raises(DataError, match="2 names for 3 classes"):
        as_data((np.arange(9.0)[:, None], [1, 2, 3] * 3), classes=["a", "b"])


@pytest.mark.parametrize(
    "y, task, message",
    [
        ([0.5, 1.5, 2.5] * 3, "binary", "fractional values"),
        ([0, 1, 2] * 3, "binary", "needs 2 classes"),
        (["a", "b", "c"] * 3, "regression", "numeric targets"),
        ([1.0] * 9, "regression", "constant"),
        ([0, 1] * 4 + [1], "classification", "ambiguous"),
        ([0, 1] * 4 + [1], "ranking", "task must be one of"),
        ([0, 1, np.nan] * 3, None, "missing"),
    ],
)
def test_a_task_that_does_not_fit_the_labels_is_a_clear_error(y, task, message):
    with pytest.raises(DataError, match=message):
        as_data((np.arange(9.0)[:, None], np.array(y, dtype=object if task else float)), task=task)


# ---------------------------------------------------------------- splits


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    labels=st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=3, max_size=40),
    regression=st.booleans(),
)
def test_splits_never_share_items(labels, regression):
    n = len(labels)
    x = np.arange(n, dtype=float)[:, None]
    y = np.random.default_rng(n).normal(size=n) if regression else np.array(labels)
    try:
        made = as_data((x, y), standardize=False, task="regression" if regression else None)
    except DataError as exc:
        assert "one class" in str(exc)
        return
    parts = [_items(made, s) for s in ("train", "val", "test")]
    assert all(parts), "every split has at least one item"
    assert sum(map(len, parts)) == n and set().union(*parts) == set(range(n))
    assert _items(made, "live") <= parts[2]


def test_a_dict_of_splits_never_reuses_train_for_val():
    two = {"train": (np.array([[0.0], [1.0]]), [0, 1]), "test": (np.array([[2.0]]), [1])}
    made = as_data(two, standardize=False)
    assert _items(made, "train").isdisjoint(_items(made, "val"))
    one = {"train": (np.array([[0.0]]), [0]), "test": (np.array([[2.0], [3.0]]), [1, 0])}
    with pytest.raises(DataError, match="at least 2 to carve a 'val'"):
        as_data(one)


# ---------------------------------------------------------------- hypothesis: any target


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    y=st.one_of(
        st.lists(st.integers(-3, 1_000_000), min_size=3, max_size=25),
        st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=3, max_size=25),
        st.lists(st.text("abc", min_size=1, max_size=3), min_size=3, max_size=25),
    ),
    task=st.sampled_from([None, "binary", "multiclass", "regression"]),
)
def test_any_target_gives_data_or_a_data_error(y, task):
    x = np.arange(len(y), dtype=float)[:, None]
    try:
        made = as_data((x, np.array(y)), task=task, standardize=False)
    except DataError as exc:
        assert str(exc)
        return
    assert task in (None, made.task) or (task == "multiclass" and made.task == "binary")
    if made.is_classification:
        assert len(made.label_values) == made.n_classes >= 2
        codes = torch.cat([made.split(s).labels for s in ("train", "val", "test")])
        assert (
            codes.dtype == torch.long
            and 0 <= int(codes.min())
            and int(codes.max()) < made.n_classes
        )
    else:
        assert made.split("train").labels.dtype == torch.float64


# ---------------------------------------------------------------- thin models


def test_regressors_and_classifiers_are_refused_on_the_wrong_task(diabetes, imbalanced, tmp_path):
    with pytest.raises(DataError, match="Ridge is a regressor.*binary classification"):
        thin.fit_thin("Ridge", data=imbalanced, progress=False, cache_dir=tmp_path)
    with pytest.raises(DataError, match="LogisticRegression is a classifier.*regression"):
        thin.fit_thin("LogisticRegression", data=diabetes, progress=False, cache_dir=tmp_path)
    assert "DummyRegressor" in thin.thin_names("regression", trivial=True)
    assert "DummyClassifier" not in thin.thin_names()  # the Fashion-MNIST list is unchanged
    assert thin.trivial_name("binary") == "DummyClassifier"


def test_an_estimator_with_other_classes_is_a_clear_error():
    from sklearn.linear_model import LogisticRegression

    iris = as_data(load_iris(), name="iris")
    train = iris.split("train")
    x = thin.features(train.images)
    named = LogisticRegression(max_iter=500).fit(x, np.array(["a", "b", "c"])[train.labels])
    with pytest.raises(DataError, match=r"classes_ is \['a', 'b', 'c'\].*setosa=0"):
        _measured(thin.ThinModel.from_estimator(named), "test", iris)
    shifted = LogisticRegression(max_iter=500).fit(x, train.labels.numpy() + 1)  # 1…3
    with pytest.raises(DataError, match=r"class codes 0…2"):
        thin.check_estimator_task(shifted, iris)
    thin.check_estimator_task(LogisticRegression().fit(x, train.labels.numpy()), iris)


def _measured(model, split, data) -> dict:
    """The one pipeline's measurement as a dict, every metric of the task included."""
    from lab.measure import evaluate

    return evaluate(model, split=split, data=data, effort="quick", use_cache=False).as_dict(
        every_metric=True
    )


def test_a_pipeline_is_counted_stage_by_stage():
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    wine = as_data(load_wine(), name="wine", standardize=False)
    train = wine.split("train")
    x, y = thin.features(train.images), train.labels.numpy()
    pipe = make_pipeline(StandardScaler(), MinMaxScaler(), PCA(5), LogisticRegression())
    pipe.fit(x, y)
    model = thin.ThinModel.from_estimator(pipe)
    d, k = x.shape[1], 3
    assert model.count_operations(x) == d + d + 5 * d + k * 5  # per stage: scale, scale, PCA, LR
    assert model.parameters == 2 * d + 2 * d + (5 * d + d) + (k * 5 + k)
    row = _measured(model, "test", wine)
    assert row["macs"] == d + d + 5 * d + k * 5 and row["accuracy"] > 0.8
    assert row["task"] == "multiclass" and row["metric"] == "accuracy"


def test_regression_measurements_carry_sklearn_metrics_not_accuracy(diabetes, tmp_path):
    from sklearn.metrics import mean_absolute_error, r2_score

    from lab.quality import unpack

    for name in ("Ridge", "DummyRegressor"):
        model = thin.fit_thin(name, data=diabetes, progress=False, cache_dir=tmp_path)
        row = _measured(model, "test", diabetes)
        test = diabetes.split("test")
        expected = model.estimator.predict(thin.features(test.images))
        assert row["accuracy"] is None and row["correct_bits"] == ""
        assert np.array_equal(unpack(row["predictions"]), expected)
        assert np.array_equal(unpack(row["targets"]), test.labels.numpy())
        assert row["metric"] == "mae"
        assert row["metric_value"] == mean_absolute_error(test.labels.numpy(), expected)
        assert row["metrics"]["r2"][0] == r2_score(test.labels.numpy(), expected)
    assert row["macs"] == 0 and row["parameters"] == 1  # the Dummy: one stored number


# ---------------------------------------------------------------- torch families


def test_torch_families_get_a_regression_head_trained_with_mse(diabetes):
    model = families.build("mlp-s", diabetes)
    out = model(diabetes.split("test").images)
    assert out.shape == (len(diabetes.split("test")), 1)
    trained, report = families.train("mlp-s", diabetes, epochs=30, progress=False)
    test = diabetes.split("test")
    with torch.no_grad():
        pred = trained(test.images)[:, 0].double()
    train_mean = diabetes.split("train").labels.mean()
    mae = (pred - test.labels).abs().mean()
    dummy = (train_mean - test.labels).abs().mean()
    assert mae < 0.85 * dummy  # it learned the target in its own units
    from lab.training import accuracy

    with pytest.raises(ValueError, match="regression task: accuracy does not apply"):
        accuracy(trained, data=diabetes)


@pytest.mark.parametrize(
    "name", thin.thin_names("regression", trivial=True) + [thin.trivial_name("binary")]
)
def test_every_new_kind_round_trips_through_skops(name, diabetes, imbalanced, tmp_path):
    data = diabetes if thin.THIN_MODELS[name].task == "regression" else imbalanced
    model = thin.fit_thin(name, data=data, progress=False, cache_dir=tmp_path)
    again = thin.fit_thin(name, data=data, progress=False, cache_dir=tmp_path)  # from the file
    rows = thin.features(data.split("test").images)
    assert again.path == model.path and np.array_equal(again.predict(rows), model.predict(rows))
    assert model.parameters > 0 and model.artifact_bytes == model.path.stat().st_size
    assert (model.count_operations(rows) == 0) == thin.THIN_MODELS[name].trivial
