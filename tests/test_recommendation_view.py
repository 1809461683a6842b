"""RecommendationView: the floor slider and objective drive lab.recommend; the answer is drawn."""

from __future__ import annotations

import pytest

from lab.recommend import recommend
from widgets import RecommendationView

ROWS = [
    {
        "name": "LogisticRegression",
        "recipe": "{}",
        "label": "scikit-learn",
        "split": "test",
        "accuracy": 0.843,
        "artifact_bytes": 30_871,
        "latency_ms_p50": 0.19,
        "co2_g_per_1k": 2e-5,
        "country": "FRA",
    },
    {
        "name": "RandomForestClassifier",
        "recipe": "{}",
        "label": "scikit-learn",
        "split": "test",
        "accuracy": 0.876,
        "artifact_bytes": 16_766_254,
        "latency_ms_p50": 5.8,
        "co2_g_per_1k": 5e-5,
        "country": "FRA",
    },
    {
        "name": "cnn",
        "recipe": '{"quant": {"bits": 4}}',
        "label": "4-bit",
        "split": "test",
        "accuracy": 0.9227,
        "artifact_bytes": 43_607,
        "latency_ms_p50": 0.34,
        "co2_g_per_1k": 1e-5,
        "country": "FRA",
    },
    {
        "name": "cnn",
        "recipe": "{}",
        "label": "baseline",
        "split": "test",
        "accuracy": 0.9286,
        "artifact_bytes": 361_900,
        "latency_ms_p50": 0.30,
        "co2_g_per_1k": 1.2e-5,
        "country": "FRA",
    },
]


def test_the_floor_picks_what_lab_recommend_picks_and_highlights_it():
    view = RecommendationView(ROWS, floor=0.80)
    expected = recommend(ROWS, min_accuracy=0.80, objective="bytes").chosen
    assert view.recommendation.chosen["name"] == expected["name"] == "LogisticRegression"
    assert view.data["chosen"] == (30_871.0, pytest.approx(84.3))
    view.floor.value = 0.92  # only the cnns are on par: the 4-bit one is smaller
    assert view.recommendation.chosen["label"] == "4-bit"
    assert view.data["chosen"] == (43_607.0, pytest.approx(92.27))
    assert "4-bit" in view.reason.value or "cnn" in view.reason.value
    assert sorted(view.data["x"]) == sorted(r["artifact_bytes"] for r in ROWS)


def test_the_objective_changes_the_axis_and_the_answer():
    view = RecommendationView(ROWS, floor=0.92)
    view.objective.value = "latency"
    assert view.recommendation.chosen["label"] == "baseline"  # 0.30 ms beats 0.34 ms
    assert view.data["chosen"][0] == pytest.approx(0.30)


def test_problems_are_messages_and_empty_input_waits_for_results():
    mixed = [*ROWS, {**ROWS[0], "split": "live"}]
    view = RecommendationView(mixed, floor=0.8)  # mixed splits: lab.recommend refuses
    assert view.recommendation is None and "cannot recommend" in view.reason.value
    assert RecommendationView(mixed, floor=0.8, split="test").recommendation is not None
    empty = RecommendationView([])  # the dashboard starts empty and fills it
    assert empty.recommendation is None and "no measurements yet" in empty.reason.value
    empty.set_results(ROWS)
    assert empty.recommendation is not None and len(empty.data["x"]) == len(ROWS)
