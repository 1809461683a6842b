"""Learning curves: subsets drawn as documented, accuracies that scikit-learn reproduces, the
interval from lab.stats, arguments refused with their name, and nothing of the caller touched."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

from lab import stats
from lab.datasets import as_data
from lab.learning import (
    CurveSettings,
    labelled_subset,
    learning_curve,
    plot_learning_curves,
    train_subset,
    training_order,
)
from lab.techniques.configs import ConfigError


@pytest.fixture(scope="module")
def digits():
    return as_data(load_digits(), name="digits")


def _logistic(data):
    return LogisticRegression(max_iter=300)


# ------------------------------------------------------------------------ the draws


@given(
    labels=st.lists(st.integers(0, 4), min_size=2, max_size=200),
    seed=st.integers(0, 2**32 - 1),
    repeat=st.integers(0, 50),
)
@settings(max_examples=60, deadline=None)
def test_training_order_is_a_class_balanced_permutation(labels, seed, repeat):
    y = np.array(labels)
    order = training_order(y, seed, repeat)
    assert sorted(order.tolist()) == list(range(len(y)))
    classes = np.unique(y)
    assert set(y[order[: len(classes)]]) == set(classes)  # one of every class first
    counts = {c: int((y == c).sum()) for c in classes}
    for n in range(len(classes), len(y) + 1, max(1, len(y) // 7)):
        prefix = y[order[:n]]
        for c in classes:  # every prefix holds each class in about its share
            assert abs(int((prefix == c).sum()) - n * counts[c] / len(y)) <= 2 + 1e-9
    assert np.array_equal(order, training_order(y, seed, repeat))  # reproducible


def test_repeats_draw_different_orders_and_leave_the_global_streams_alone():
    y = np.repeat(np.arange(3), 30)
    before = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    first, second = training_order(y, 0, 0), training_order(y, 0, 1)
    assert not np.array_equal(first, second)
    assert random.getstate() == before[0]
    assert np.array_equal(np.random.get_state()[1], before[1])
    assert torch.equal(torch.get_rng_state(), before[2])


# ------------------------------------------------------------------ the measurements


def test_a_factory_curve_matches_scikit_learn_fitted_on_the_same_examples(digits):
    curve = learning_curve(_logistic, digits, sizes=[30, 200], repeats=2, seed=3, per_run=True)
    train, test = digits.split("train"), digits.split("test")
    x = train.images.reshape(len(train), -1).numpy()
    x_test = test.images.reshape(len(test), -1).numpy()
    for row in curve.itertuples():
        idx = training_order(train.labels.numpy(), 3, row.repeat)[: row.n_train]
        reference = LogisticRegression(max_iter=300).fit(x[idx], train.labels.numpy()[idx])
        expected = float((reference.predict(x_test) == test.labels.numpy()).mean())
        assert row.accuracy == pytest.approx(expected)
        correct = round(row.accuracy * row.n_test)
        assert (row.accuracy_low, row.accuracy_high) == stats.accuracy_interval(correct, 360)
    assert curve["n_test"].eq(len(test)).all()


def test_the_summary_is_the_mean_with_its_wilson_interval_and_the_spread(digits):
    runs = learning_curve(_logistic, digits, sizes=[20, 60], repeats=3, per_run=True)
    summary = learning_curve(_logistic, digits, sizes=[60, 20], repeats=3)
    assert summary["n_train"].tolist() == [20, 60]
    for row in summary.itertuples():
        mine = runs[runs["n_train"] == row.n_train]["accuracy"]
        assert row.accuracy == pytest.approx(mine.mean())
        assert (row.spread_low, row.spread_high) == (mine.min(), mine.max())
        low, high = stats.accuracy_interval(round(row.accuracy * row.n_test), row.n_test)
        assert (row.accuracy_low, row.accuracy_high) == (low, high)
        assert row.accuracy_low <= row.accuracy <= row.accuracy_high
    assert summary["repeats"].eq(3).all() and summary["kind"].eq("thin").all()


def test_a_thin_model_by_name_learns_more_from_more_examples(digits):
    curve = learning_curve("LogisticRegression", digits, sizes=[10, 600], repeats=1)
    assert curve["kind"].tolist() == ["thin", "thin"]
    small, large = curve["accuracy"]
    assert large > small + 0.05
    assert curve.loc[1, "accuracy_low"] > curve.loc[0, "accuracy_high"]  # clearly apart


def test_torch_and_distilled_curves_train_the_stated_steps(digits):
    teacher = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with torch.no_grad():
        teacher[1].weight.normal_(generator=torch.Generator().manual_seed(0))
    weights = teacher[1].weight.clone()
    teacher.train()
    torch_curve = learning_curve("mlp-s", digits, sizes=[20, 300], repeats=1, steps=60)
    distilled = learning_curve(
        "mlp-s", digits, sizes=[20], repeats=1, steps=5, teacher=teacher, temperature=2.0
    )
    assert torch_curve["kind"].eq("torch").all() and torch_curve["steps"].eq(60).all()
    assert torch_curve["accuracy"].is_monotonic_increasing
    assert distilled.loc[0, "kind"] == "distilled" and distilled.loc[0, "teacher"] == "Sequential"
    assert distilled.loc[0, "model"] == "mlp-s ← Sequential"
    assert torch.equal(teacher[1].weight, weights) and teacher.training  # teacher untouched


def test_the_same_seed_gives_the_same_curve_and_the_callers_state_is_kept(digits):
    x, y = load_digits(return_X_y=True)
    x_before, y_before = x.copy(), y.copy()
    torch.manual_seed(123)
    np.random.seed(5)
    random.seed(7)
    state = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    threads = torch.get_num_threads()
    first = learning_curve("mlp-s", (x, y), sizes=[30], repeats=1, steps=10, seed=4)
    second = learning_curve("mlp-s", (x, y), sizes=[30], repeats=1, steps=10, seed=4)
    assert first["accuracy"].tolist() == second["accuracy"].tolist()
    assert torch.equal(torch.get_rng_state(), state[0])
    assert np.array_equal(np.random.get_state()[1], state[1]) and random.getstate() == state[2]
    assert torch.get_num_threads() == threads
    assert np.array_equal(x, x_before) and np.array_equal(y, y_before)


def test_default_sizes_span_the_training_split(digits):
    curve = learning_curve(lambda data: KNeighborsClassifier(1), digits, repeats=1)
    n_train = len(digits.split("train"))
    assert curve["n_train"].iloc[-1] == n_train and curve["n_train"].iloc[0] == 20
    assert curve["n_train"].is_monotonic_increasing and len(curve) == 5


def test_the_plot_draws_one_line_per_model(digits):
    a = learning_curve(_logistic, digits, sizes=[20, 60], repeats=1, name="logistic")
    b = learning_curve(_logistic, digits, sizes=[20, 60], repeats=1, name="again")
    fig = plot_learning_curves([a, b])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["logistic", "again"]
    with pytest.raises(ValueError, match="columns"):
        plot_learning_curves(a.drop(columns="accuracy_low"))


# ------------------------------------------------------------------ bad arguments

_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**7),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-3, 50), max_size=4),
    st.lists(st.floats(allow_nan=True), max_size=3),
)
_FIELDS = (
    "sizes",
    "repeats",
    "seed",
    "split",
    "steps",
    "batch_size",
    "lr",
    "augment",
    "temperature",
    "distill_weight",
)


@given(field=st.sampled_from(_FIELDS), value=_ANY)
@settings(max_examples=300, deadline=None)
def test_settings_accept_a_valid_value_or_name_the_argument(field, value):
    try:
        made = CurveSettings(**{field: value})
    except ConfigError as exc:
        assert isinstance(exc, ValueError) and isinstance(exc, TypeError)
        assert field.split("_")[0] in str(exc) and "must be" in str(exc)
        return
    got = getattr(made, field)
    if field == "sizes" and value is not None:
        assert list(got) == sorted(value) and min(got) >= 1
    elif field in ("repeats", "batch_size"):
        assert isinstance(got, int) and got >= 1
    elif field == "split":
        assert got in ("val", "test", "live")
    elif field in ("lr", "temperature"):
        assert math.isfinite(got) and got > 0
    elif field == "distill_weight":
        assert 0 <= got <= 1
    elif field == "augment":
        assert isinstance(got, bool)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "Nope"}, "model must be a thin model"),
        ({"model": nn.Linear(64, 10)}, "untrained"),
        ({"sizes": [5, 10_000]}, r"sizes must be from 10 .* to 1258 .*got 5, 10000"),
        ({"sizes": [3]}, "sizes must be from 10"),
        ({"model": "LogisticRegression", "teacher": "nope"}, "teacher must be a zoo model"),
        ({"model": "mlp-s", "teacher": 3}, "teacher must be"),
        ({"model": "LogisticRegression", "augment": True}, "augment applies to torch"),
        ({"sizes": "10"}, "sizes must be"),
        ({"repeats": 0}, "repeats must be"),
        ({"split": "train"}, "split must be one of val, test, live"),
        ({"name": 3}, "name must be"),
        ({"per_run": "yes"}, "per_run must be"),
    ],
)
def test_bad_arguments_are_refused_before_training(digits, kwargs, match):
    kwargs = {"model": "mlp-s", "sizes": [20], **kwargs}
    model = kwargs.pop("model")
    with pytest.raises(ConfigError, match=match):
        learning_curve(model, digits, **kwargs)


def test_wrong_teachers_and_families_say_what_fits(digits):
    with pytest.raises(ConfigError, match="learns from labels only"):
        learning_curve(
            "LogisticRegression",
            digits,
            sizes=[20],
            teacher=nn.Sequential(nn.Flatten(), nn.Linear(64, 10)),
        )
    cancer = as_data((np.random.default_rng(0).normal(size=(60, 4)), np.arange(60) % 2))
    with pytest.raises(ValueError, match="cnn-s is for image"):
        learning_curve("cnn-s", cancer, sizes=[10])
    with pytest.raises(ConfigError, match="augment applies to images"):
        learning_curve("mlp-s", cancer, sizes=[10], augment=True)
    with pytest.raises(ValueError, match="the lab expects"):
        learning_curve("mlp-s", digits, sizes=[20], teacher=nn.Linear(5, 10))
    with pytest.raises(ConfigError, match="must return a torch.nn.Module"):
        learning_curve(lambda data: "a string", digits, sizes=[20], repeats=1)


def test_train_subset_is_the_model_the_curve_measured(digits):
    curve = learning_curve("mlp-s", digits, sizes=[40], repeats=1, steps=15, seed=2)
    model = train_subset("mlp-s", digits, 40, steps=15, seed=2)
    test = digits.split("test")
    with torch.no_grad():
        accuracy = (model(test.images).argmax(1) == test.labels).float().mean().item()
    assert accuracy == pytest.approx(curve.loc[0, "accuracy"])
    assert not model.training
    subset = labelled_subset(digits, 40, seed=2)
    order = training_order(digits.split("train").labels.numpy(), 2, 0)[:40]
    expected = digits.split("train").labels[torch.as_tensor(np.sort(order))]
    assert torch.equal(subset.split("train").labels, expected)
    with pytest.raises(ConfigError, match="n must be"):
        labelled_subset(digits, 5)
    with pytest.raises(ConfigError, match="trains torch models"):
        train_subset("LogisticRegression", digits, 40)
