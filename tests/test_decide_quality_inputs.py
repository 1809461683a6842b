"""The frontier, the trade-off, the recommendation table and the quality helpers, second
round (issue 19): points that are not (x, y) pairs of numbers, a percentage where a
fraction is due, a quality name with a typo, costs that cannot be real, zero resamples or
swaps, one metric name given for a list, a multiclass model asked for binary scores — each
an error naming the argument, never an empty plot, a p-value of nothing or a raveled
array. Costs share one check (:func:`lab.decide.objectives.check_cost`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from lab.decide import objectives
from lab.decide.pareto import dominates, pareto_front, tradeoff
from lab.decide.recommend import recommend, recommendation_table
from lab.evaluation import quality
from lab.meters import stats

ROWS = [
    {"name": "cnn", "accuracy": 0.92, "artifact_bytes": 43_607, "latency_ms_p50": 0.6},
    {"name": "mlp", "accuracy": 0.90, "artifact_bytes": 908_486, "latency_ms_p50": 0.05},
]


# ---------------------------------------------------------------------- Pareto
@pytest.mark.parametrize(
    ("points", "match"),
    [
        ([(1, 0.5, 3)], r"points\[0\] must be an \(x, y\) pair of numbers; got 3 values"),
        ([1, 2], r"points\[0\] must be an \(x, y\) pair"),
        ([("1", "0.5")], "got '1' \\(str\\)"),
        ([(True, 0.5)], "got True \\(bool\\)"),
        (None, "points must be a list"),
        (pd.DataFrame({"x": [1], "y": [0.5]}), "DataFrame"),
    ],
)
def test_pareto_front_names_what_is_not_a_point(points, match):
    with pytest.raises((TypeError, ValueError), match=match):
        pareto_front(points)


def test_maximize_y_is_a_flag_and_dominates_takes_pairs():
    with pytest.raises(ValueError, match="maximize_y must be True or False"):
        pareto_front([(1, 0.5)], maximize_y="no")
    with pytest.raises(ValueError, match="a must be an"):
        dominates((1, 2, 3), (1, 2))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(allow_infinity=False), st.integers(-5, 5)),
            st.one_of(st.none(), st.floats(allow_infinity=False), st.integers(-5, 5)),
        ),
        max_size=12,
    ),
    st.booleans(),
)
def test_pareto_front_is_exactly_the_undominated_known_points(points, maximize_y):
    """Against a brute-force reference: every known point (no None/NaN) is either on the
    front or dominated by a known point; no front member is dominated."""
    front = pareto_front(points, maximize_y=maximize_y)
    known = [i for i, (x, y) in enumerate(points) if None not in (x, y) and x == x and y == y]
    assert set(front) <= set(known)
    for i in known:
        beaten = any(dominates(points[j], points[i], maximize_y) for j in known if j != i)
        if i in front:
            assert not beaten
        elif not beaten:  # left out only as a later exact duplicate of a front member
            assert any(tuple(points[j]) == tuple(points[i]) and j < i for j in front)


# ---------------------------------------------------------------------- trade-off
@pytest.mark.parametrize(
    ("change", "quality_name", "match"),
    [
        ({"artifact_bytes": -5}, "accuracy", "negative"),
        ({"artifact_bytes": math.inf}, "accuracy", "not a finite number"),
        ({"accuracy": 92}, "accuracy", "fraction from 0 to 1"),
        ({"accuracy": "0.9"}, "accuracy", "not a number"),
        ({}, "acuracy", "quality must be one of"),
    ],
)
def test_tradeoff_refuses_what_cannot_be_plotted_honestly(change, quality_name, match):
    rows = [{**ROWS[0], **change}, ROWS[1]]
    with pytest.raises((TypeError, ValueError), match=match):
        tradeoff(rows, "size", quality_name)


def test_tradeoff_reads_a_dataframe_and_leaves_missing_values_out():
    frame = pd.DataFrame([*ROWS, {"name": "x", "accuracy": 0.5, "artifact_bytes": np.nan}])
    found = tradeoff(frame)
    assert [r["name"] for r in found.rows] == ["cnn", "mlp"]
    assert found.front == [0]


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(10**6), 10**6),
        st.booleans(),
        st.text(max_size=3),
    ),
    st.sampled_from(["artifact_bytes", "latency_ms_p50"]),
)
def test_check_cost_takes_exactly_missing_or_finite_non_negative_numbers(value, column):
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    real = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = missing or (
        real and math.isfinite(value) and (value > 0 if column == "artifact_bytes" else value >= 0)
    )
    if ok:
        objectives.check_cost(value, column, "row")
    else:
        with pytest.raises(ValueError, match=f"row has {column}="):
            objectives.check_cost(value, column, "row")


# ---------------------------------------------------------------------- recommendation
def test_one_measurement_for_a_list_and_no_floors_are_named():
    with pytest.raises(TypeError, match=r"got one dict: wrap it in a list"):
        recommend(ROWS[0])
    with pytest.raises(ValueError, match="at least one accuracy floor"):
        recommendation_table(ROWS, floors=[])


# ---------------------------------------------------------------------- quality and stats
Y = [0, 1, 1, 0, 1, 0, 1, 1]
P = [0, 1, 0, 0, 1, 1, 1, 1]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: quality.score("binary", Y, P, resamples=0), "resamples must be a whole number"),
        (lambda: quality.score("binary", Y, P, seed="a"), "seed must be a whole number"),
        (lambda: quality.score("binary", Y, P, metrics="accuracy"), "metrics must be a list"),
        (lambda: quality.score("binary", [0, 1, 2], [0, 1, 2]), "say task='multiclass'"),
        (
            lambda: quality.paired("macro_f1", Y, P, Y, permutations=0),
            "permutations must be a whole number",
        ),
        (lambda: quality.estimate_of({"accuracy": 90}, "accuracy"), "a percentage"),
        (lambda: stats.mann_whitney_p([], [1.0]), "base must be a non-empty"),
        (lambda: stats.mann_whitney_p("abc", [1.0]), "base must be a non-empty"),
    ],
)
def test_quality_arguments_are_named(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()


def test_cross_validate_and_positive_scores_name_the_wrong_model():
    import torch

    iris = load_iris()
    with pytest.raises(TypeError, match="unfitted scikit-learn estimator.*torch model"):
        quality.cross_validate(torch.nn.Linear(4, 3), (iris.data, iris.target), n_splits=2)
    model = LogisticRegression(max_iter=300).fit(iris.data, iris.target)
    with pytest.raises(TypeError, match="not a binary model: it gives 3 scores per item"):
        quality.positive_scores(model, iris.data)
    binary = LogisticRegression(max_iter=300).fit(iris.data, iris.target == 0)
    scores = quality.positive_scores(binary, iris.data)
    rows = iris.data.astype(np.float32)  # the lab scores float32 rows
    np.testing.assert_allclose(scores, binary.predict_proba(rows)[:, 1], rtol=1e-6)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.one_of(st.integers(-3, 2**64), st.floats(), st.text(max_size=2)),
    resamples=st.one_of(st.integers(-3, 50), st.floats(), st.booleans()),
)
def test_score_takes_exactly_whole_seeds_and_positive_resample_counts(seed, resamples):
    whole = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
    ok = whole(seed) and 0 <= seed < 2**63 and whole(resamples) and resamples >= 1
    if ok:
        found = quality.score("binary", Y, P, metrics=["balanced_accuracy"], seed=seed,
                              resamples=resamples)["balanced_accuracy"]  # fmt: skip
        assert 0.0 <= found.low <= found.high <= 1.0  # a percentile interval of resamples
    else:
        with pytest.raises(ValueError, match="seed|resamples"):
            quality.score("binary", Y, P, seed=seed, resamples=resamples)
