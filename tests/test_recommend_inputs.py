"""lab.recommend refuses what cannot be real and mistyped arguments, by name.

A cost that cannot have been measured (negative bytes, an empty file, infinite latency,
text) is refused, never chosen; ``floors=0.9`` (one number where a list is wanted) and
``objectives="bytes"`` (a string read letter by letter) say what to write instead.
"""

from __future__ import annotations

import copy
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.recommend import (
    OBJECTIVES,
    plot_tradeoffs,
    recommend,
    recommendation_summary,
    recommendation_table,
)

ROWS = [
    {"name": "cnn", "accuracy": 0.92, "artifact_bytes": 40_000, "latency_ms_p50": 0.6},
    {"name": "mlp", "accuracy": 0.915, "artifact_bytes": 90_000, "latency_ms_p50": 0.05},
]


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("artifact_bytes", -5, "negative"),
        ("artifact_bytes", 0, "an empty file"),
        ("artifact_bytes", math.inf, "not a finite number"),
        ("artifact_bytes", "12 KB", "not a finite number"),
        ("artifact_bytes", True, "not a finite number"),
        ("latency_ms_p50", -0.1, "negative"),
        ("latency_ms_p50", -math.inf, "not a finite number"),
    ],
)
def test_a_cost_that_cannot_be_real_is_refused_not_chosen(column, value, words):
    rows = [*ROWS, {"name": "impossible", "accuracy": 0.93, "artifact_bytes": 1_000, column: value}]
    objective = "latency" if column == "latency_ms_p50" else "bytes"
    with pytest.raises(ValueError, match=f"impossible has {column}=.*{words}"):
        recommend(rows, objective=objective)


def test_a_missing_cost_only_leaves_the_row_out():
    rows = [*ROWS, {"name": "unknown", "accuracy": 0.90, "latency_ms_p50": math.nan}]
    found = recommend(rows, objective="latency")
    assert found.chosen["name"] == "mlp" and any("unknown" in e for e in found.excluded)
    frame = pd.DataFrame(rows)  # NaN is how pandas writes "missing"
    assert recommend(frame, objective="latency").chosen["name"] == "mlp"


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: recommendation_table(ROWS, floors=0.9), r"floors must be a list.*write \[0.9\]"),
        (lambda: recommendation_table(ROWS, floors="0.9"), "floors must be a list"),
        (lambda: recommendation_table(ROWS, floors=[0.8, 90]), r"floors\[1\] must be a fraction"),
        (lambda: recommendation_table(ROWS, floors=None), "floors must be a list"),
        (lambda: recommendation_table(ROWS, objective="smallness"), "objective must be one of"),
        (lambda: plot_tradeoffs(ROWS, objectives="bytes"), "objectives must be a list"),
        (lambda: recommendation_summary(ROWS), "results_by_data must be a dict"),
        (lambda: recommendation_summary({"a": ROWS}, "co2"), "objectives must be a list"),
        (lambda: recommend(ROWS, min_accuracy=90), "min_accuracy must be a fraction"),
        (lambda: recommend(ROWS, tolerance_pt="1"), "tolerance_pt must be"),
    ],
)
def test_mistyped_arguments_name_themselves(call, words):
    with pytest.raises(ValueError, match=words):
        call()


COST = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**9), 10**9),
    st.booleans(),
    st.sampled_from(["12", "fast", ""]),
)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "name": st.sampled_from(["a", "b", "c", "d"]),
                "accuracy": st.floats(0, 1),
                "artifact_bytes": COST,
                "latency_ms_p50": COST,
                "co2_g_per_1k": COST,
            }
        ),
        min_size=1,
        max_size=6,
    ),
    objective=st.sampled_from(list(OBJECTIVES)),
)
def test_recommend_never_chooses_an_impossible_cost(rows, objective):
    given_rows = copy.deepcopy(rows)
    metric = OBJECTIVES[objective]
    try:
        found = recommend(rows, objective=objective)
    except ValueError as exc:
        assert "cannot be a measured cost" in str(exc) or "no result" in str(exc)
        return
    finally:
        assert repr(rows) == repr(given_rows)  # the caller's rows are untouched
    for row in [found.chosen, *found.runners_up, *found.on_par]:
        if row is None:
            continue
        for column in {metric, "artifact_bytes"}:
            value = row[column]
            assert value is None or (
                isinstance(value, (int, float)) and not isinstance(value, bool)
            )
            assert value is None or (math.isnan(value) or (math.isfinite(value) and value >= 0))
        assert row[metric] is not None and not math.isnan(row[metric])
    if found.chosen is not None:
        cheapest = min(r[metric] for r in found.on_par)
        assert found.chosen[metric] == cheapest
