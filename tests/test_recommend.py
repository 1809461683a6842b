"""lab.recommend: the cheapest on-par model, on hand-made measurement sets (oracles by hand)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.decide import objectives
from lab.measure import Measurement
from lab.recommend import OBJECTIVES, Recommendation, recommend
from lab.store import ResultStore


def row(name, accuracy, bytes_, latency=1.0, co2=0.01, label="baseline", executes_as="fp32"):
    return {
        "name": name,
        "label": label,
        "accuracy": accuracy,
        "artifact_bytes": bytes_,
        "latency_ms_p50": latency,
        "co2_g_per_1k": co2,
        "executes_as": executes_as,
        "split": "test",
        "country": "FRA",
    }


SK = "scikit-learn 1.9.1 RandomForestClassifier"
LAB = [
    row("cnn", 0.9286, 426_805, latency=0.34, co2=0.020),
    row("cnn", 0.9210, 13_404, latency=0.35, co2=0.021, label="prune 90% · 4-bit"),
    row("cnn", 0.8844, 9_841, latency=0.33, co2=0.019, label="prune 93% · 3-bit"),
    row("mlp", 0.9011, 1_069_369, latency=0.05, co2=0.004),
    row("RandomForestClassifier", 0.8756, 21_000_000, latency=18.0, co2=0.5, executes_as=SK),
    row("LogisticRegression", 0.8420, 30_837, latency=0.10, co2=0.002, executes_as=SK),
]


def test_default_tolerance_is_one_point_and_bytes_is_the_objective():
    rec = recommend(LAB)
    assert isinstance(rec, Recommendation)
    assert rec.tolerance_pt == 1.0 and rec.min_accuracy is None
    assert rec.best_accuracy == 0.9286
    # on par: ≥ 91.86% → the full cnn and its 4-bit pruned variant; the smaller one wins
    assert rec.chosen["label"] == "prune 90% · 4-bit"
    assert [r["name"] for r in rec.runners_up] == ["cnn"]
    assert rec.runners_up[0]["artifact_bytes"] == 426_805
    assert len(rec.on_par) == 2


def test_reason_has_the_real_numbers():
    rec = recommend(LAB)
    text = rec.reason
    assert str(rec) == text
    assert "cnn [prune 90% · 4-bit]" in text and "13.4 kB" in text and "92.10%" in text
    assert "0.8 pt below the best" in text  # 92.86 − 92.10
    assert "32× smaller than cnn" in text  # 426,805 / 13,404 = 31.8
    # the thin-model practice: the best thin model and how the choice compares with it
    assert "RandomForestClassifier, is 5.3 pt below the best" in text
    assert "1567× smaller than it and 4.5 pt more accurate" in text  # 21 MB / 13.4 kB
    # a cheaper model off par is named with its gap
    assert (
        "cnn [prune 93% · 3-bit] would be 1.4× smaller than cnn [prune 90% · 4-bit] but is 4.4 pt below"
        in text
    )


def test_each_objective_maps_to_its_column():
    for name, field in {
        "bytes": "artifact_bytes",
        "size": "artifact_bytes",
        "latency": "latency_ms_p50",
        "co2": "co2_g_per_1k",
        "energy": "energy_kwh_per_1k",
        "operations": "macs",
    }.items():
        assert OBJECTIVES[name] == field == objectives.get(name).field
    wide = recommend(LAB, tolerance_pt=10.0, objective="latency")
    assert wide.chosen["name"] == "mlp" and wide.metric == "latency_ms_p50"
    assert "fastest" in wide.reason and "50.0 µs" in wide.reason
    green = recommend(LAB, tolerance_pt=10.0, objective="co2")
    assert green.chosen["name"] == "LogisticRegression"
    assert "lowest-CO₂" in green.reason and "2.00 mg CO₂ per 1,000 inferences" in green.reason
    assert "A thin model is on par" in green.reason
    small = recommend(LAB, tolerance_pt=10.0, objective="bytes")
    assert small.chosen["label"] == "prune 93% · 3-bit"


def test_floor_alone_and_floor_with_tolerance_both_apply():
    only_floor = recommend(LAB, min_accuracy=0.88)
    assert only_floor.tolerance_pt is None
    assert only_floor.chosen["label"] == "prune 93% · 3-bit"  # 88.44% ≥ 88%, 9.8 kB
    both = recommend(LAB, min_accuracy=0.88, tolerance_pt=1.0)
    assert both.chosen["label"] == "prune 90% · 4-bit"  # the tolerance excludes 88.44%
    assert math.isclose(both.threshold, 0.9186)
    looser = recommend(LAB, min_accuracy=0.925, tolerance_pt=5.0)
    assert looser.chosen["label"] == "baseline"  # the floor is the binding one
    assert "at least 92.50% accurate and within 5 pt of the best" in looser.reason


def test_floor_above_every_model_chooses_nothing_and_names_the_best():
    rec = recommend(LAB, min_accuracy=0.95)
    assert rec.chosen is None and rec.runners_up == [] and rec.on_par == []
    assert "No model reaches the floor of 95.00%" in rec.reason
    assert "best accuracy available is 92.86% (cnn)" in rec.reason


def test_nothing_on_par_with_the_objective_says_so():
    rows = [row("a", 0.90, 100, co2=None), row("b", 0.80, 50, co2=0.1)]
    rec = recommend(rows, objective="co2")
    assert rec.chosen is None
    assert "No model on par" in rec.reason and "co2_g_per_1k" in rec.reason
    assert "best accuracy available is 90.00% (a)" in rec.reason
    assert any("without co2_g_per_1k: a" in e for e in rec.excluded)


def test_missing_objective_values_are_excluded_and_said():
    rows = [row("a", 0.90, 100, co2=None), row("b", 0.899, 500), row("c", 0.895, 400)]
    rec = recommend(rows, objective="co2")
    assert rec.chosen["name"] in ("b", "c")
    assert "Left out: 1 without co2_g_per_1k: a." in rec.reason
    # the best accuracy still counts (a is the best, even though it cannot be ranked)
    assert rec.best["name"] == "a"


def test_ties_are_deterministic_bytes_then_name():
    rows = [
        row("zeta", 0.90, 2000, latency=1.0),
        row("beta", 0.90, 1000, latency=1.0),
        row("alpha", 0.90, 1000, latency=1.0),
        row("gamma", 0.90, 500, latency=2.0),
    ]
    rec = recommend(rows, objective="latency")
    assert rec.chosen["name"] == "alpha"  # latency tie → smaller bytes tie → name
    assert [r["name"] for r in rec.runners_up] == ["beta", "zeta", "gamma"]
    for order in ([3, 2, 1, 0], [1, 3, 0, 2]):  # the input order does not matter
        again = recommend([rows[i] for i in order], objective="latency")
        assert again.chosen["name"] == "alpha"
        assert [r["name"] for r in again.runners_up] == ["beta", "zeta", "gamma"]


def test_runners_up_are_at_most_three_and_one_per_model():
    rows = [row(f"m{i}", 0.90, 100 + i) for i in range(6)] + [row("m1", 0.90, 106)]
    rec = recommend(rows)
    assert rec.chosen["name"] == "m0"
    assert [r["name"] for r in rec.runners_up] == ["m1", "m2", "m3"]


def test_empty_set_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        recommend([])
    with pytest.raises(ValueError, match="empty"):
        recommend(pd.DataFrame())
    with pytest.raises(ValueError, match="empty"):
        recommend(ResultStore(":memory:"))


def test_arguments_are_validated():
    with pytest.raises(ValueError, match="'size'.*'latency'.*'co2'"):
        recommend(LAB, objective="smallness")
    for bad in (-0.1, 1.5, float("nan"), True, "0.9"):
        with pytest.raises(ValueError, match="min_accuracy"):
            recommend(LAB, min_accuracy=bad)
    for bad in (-1, float("inf"), True):
        with pytest.raises(ValueError, match="tolerance_pt"):
            recommend(LAB, tolerance_pt=bad)
    with pytest.raises(ValueError, match="percentages"):
        recommend([row("a", 92.5, 10)])
    with pytest.raises(TypeError):
        recommend("results.csv")
    assert recommend(LAB, min_accuracy=0).chosen is not None  # 0 and 1 are allowed
    assert recommend(LAB, min_accuracy=1).chosen is None


def test_rows_without_accuracy_are_left_out():
    rows = [row("a", None, 10), row("b", 0.9, 20)]
    rec = recommend(rows)
    assert rec.chosen["name"] == "b"
    assert "a: no accuracy" in rec.reason


def test_mixed_splits_or_countries_must_be_chosen():
    rows = [row("a", 0.9, 10), {**row("a", 0.91, 10), "split": "live"}]
    with pytest.raises(ValueError, match="mix splits"):
        recommend(rows)
    assert recommend(rows, split="live").chosen["accuracy"] == 0.91
    with pytest.raises(ValueError, match="no results with split='val'"):
        recommend(rows, split="val")
    priced = [row("a", 0.9, 10), {**row("b", 0.9, 5), "country": "USA"}]
    assert recommend(priced, objective="bytes", split="test").chosen is not None  # bytes: fine
    with pytest.raises(ValueError, match="mix countries"):
        recommend(priced, objective="co2")
    assert recommend(priced, objective="co2", country="USA").chosen["name"] == "b"


def _measurement(name, accuracy, bytes_, label="baseline"):
    return Measurement(
        name=name,
        recipe="{}",
        label=label,
        split="test",
        n_images=10_000,
        accuracy=accuracy,
        artifact_bytes=bytes_,
        state_dict_bytes=bytes_,
        parameters=1,
        nonzero_parameters=1,
        resolution=28,
        flops=2,
        macs=1,
        latency_ms_p50=0.3,
        latency_ms_p95=0.4,
        throughput_ips=1000.0,
        threads=2,
        energy_kwh_per_1k=None,
        co2_g_per_1k=None,
        country="FRA",
        carbon_intensity_g_per_kwh=50.0,
        energy_source="unavailable: test",
        executes_as="fp32",
    )


def test_dataframe_list_of_measurements_and_store_agree(tmp_path):
    measurements = [_measurement("cnn", 0.93, 400_000), _measurement("cnn", 0.925, 13_000, "q")]
    from_list = recommend(measurements)
    frame = pd.DataFrame([m.to_row() for m in measurements])
    from_frame = recommend(frame)
    store = ResultStore(tmp_path / "r.sqlite")
    for i, m in enumerate(measurements):
        store.put(str(i), m.to_row(), model_name=m.name, recipe="{}", split="test")
    from_store = recommend(store)
    from_store_frame = recommend(store.to_frame())
    for rec in (from_list, from_frame, from_store, from_store_frame):
        assert rec.chosen["artifact_bytes"] == 13_000 and rec.chosen["label"] == "q"
        assert rec.reason == from_list.reason
    # co2 is None (NaN in the frame) for every row: nothing to rank, said plainly
    none = recommend(frame, objective="co2")
    assert none.chosen is None and "co2_g_per_1k" in none.reason
    assert list(from_list.to_frame()["role"]) == ["chosen", "runner-up 1"]


# --------------------------------------------------------------------------- property

_rows = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["a", "b", "c", "d", "e"]),
            "accuracy": st.floats(0, 1),
            "artifact_bytes": st.one_of(st.none(), st.integers(1, 10**7)),
            "latency_ms_p50": st.one_of(st.none(), st.floats(0.001, 100)),
            "co2_g_per_1k": st.one_of(st.none(), st.floats(1e-6, 10)),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(
    rows=_rows,
    floor=st.one_of(st.none(), st.floats(0, 1)),
    tolerance=st.one_of(st.none(), st.floats(0, 20)),
    objective=st.sampled_from(["bytes", "size", "latency", "co2"]),
)
def test_chosen_is_on_par_and_nothing_on_par_is_cheaper(rows, floor, tolerance, objective):
    rec = recommend(rows, min_accuracy=floor, tolerance_pt=tolerance, objective=objective)
    metric = OBJECTIVES[objective]
    best = max(r["accuracy"] for r in rows)
    if floor is None and tolerance is None:
        tolerance = 1.0
    need = max(floor or 0.0, best - tolerance / 100 if tolerance is not None else 0.0)

    def on_par(r):
        return r["accuracy"] + 1e-12 >= need and r[metric] is not None

    qualifying = [r for r in rows if on_par(r)]
    if rec.chosen is None:
        assert not qualifying
        assert f"{best:.2%}" in rec.reason  # names the best accuracy available
        return
    assert on_par(rec.chosen)
    assert not any(r[metric] < rec.chosen[metric] for r in qualifying)
    assert len(rec.on_par) == len(qualifying)
    values = [rec.chosen[metric]] + [r[metric] for r in rec.runners_up]
    assert values == sorted(values) and len(rec.runners_up) <= 3
    assert all(on_par(r) for r in rec.runners_up)
    assert rec.chosen["name"] not in [r["name"] for r in rec.runners_up]


def test_small_differences_are_given_in_percent():
    rows = [row("cnn", 0.9286, 361_900, co2=0.0766), row("q", 0.9227, 43_607, co2=0.0752)]
    rec = recommend(rows, objective="co2")
    assert rec.chosen["name"] == "q"
    assert "2% less CO₂ than cnn" in rec.reason
    same = recommend([row("a", 0.9, 100), row("b", 0.91, 100)], objective="bytes")
    assert same.chosen["name"] == "a"  # equal bytes: the name breaks the tie
    assert "about as small as b" in same.reason


def test_one_model_on_par_is_called_the_only_one():
    rec = recommend(LAB, tolerance_pt=0.1)  # only the full cnn is within 0.1 pt of itself
    assert len(rec.on_par) == 1
    assert "is the only model on par" in rec.reason and "of the 1 model" not in rec.reason
