"""lab.recommend's helpers for notebook 05: model_kind, recommendation_table, plot_tradeoffs,
recommendation_summary — on hand-made measurement sets (oracles by hand)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lab.measure import Measurement
from lab.recommend import (
    KINDS,
    model_kind,
    plot_tradeoffs,
    recommend,
    recommendation_summary,
    recommendation_table,
)

SK = "scikit-learn 1.9.1 "


def row(name, accuracy, bytes_, latency=1.0, co2=0.01, label="baseline", recipe="{}", sk=False):
    return {
        "name": name,
        "label": "scikit-learn" if sk else label,
        "recipe": recipe,
        "accuracy": accuracy,
        "artifact_bytes": bytes_,
        "latency_ms_p50": latency,
        "co2_g_per_1k": co2,
        "executes_as": SK + name if sk else "fp32",
        "split": "live",
        "country": "FRA",
    }


FASHION = [
    row("LogisticRegression", 0.8065, 30_829, latency=0.11, co2=1.5e-5, sk=True),
    row("RandomForestClassifier", 0.856, 3_940_641, latency=14.0, co2=2.2e-5, sk=True),
    row("LogisticRegression", 0.7945, 3_095, 0.01, 1.5e-5, "4-bit channel", '{"quant": 4}'),
    row("cnn", 0.9215, 361_900, latency=0.33, co2=2.7e-4),
    row("cnn", 0.9170, 43_607, 0.38, 3.1e-4, "4-bit channel", '{"quant": 4}'),
    row("cnn", 0.9100, 30_735, 0.51, 2.7e-4, "prune 60% · 4-bit", '{"prune": 0.6}'),
    row("mlp", 0.8970, 908_486, latency=0.05, co2=1.8e-5),
    row("teacher", 0.9270, 992_161, latency=0.48, co2=4.9e-4),
]
TABULAR = [
    row("mlp-s", 0.9737, 3_854, latency=0.02, co2=7.6e-5),
    row("mlp-s", 0.9737, 811, 0.02, 2.2e-5, "4-bit channel", '{"quant": 4}'),
    row("LogisticRegression", 0.9912, 1_722, latency=0.117, co2=4.8e-5, sk=True),
    row("LinearSVC", 0.9912, 1_628, latency=0.120, co2=1.4e-5, sk=True),
    row("LogisticRegression", 0.9825, 168, 0.009, 2.3e-5, "4-bit channel", '{"quant": 4}'),
]


# --------------------------------------------------------------------------- model_kind


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        (FASHION[0], "thin"),
        (FASHION[2], "thin, torch form"),
        (FASHION[3], "deep"),
        (FASHION[4], "deep, compressed"),
        ({"name": "mine", "recipe": '{"quant": {"bits": 4}}'}, "deep, compressed"),
        ({"name": "mine"}, "deep"),
        (pd.Series(FASHION[1]), "thin"),
    ],
)
def test_model_kind(item, kind):
    assert model_kind(item) == kind
    assert kind in KINDS


def test_model_kind_reads_measurements():
    fields = {
        "recipe": "{}", "label": "baseline", "split": "live", "n_images": 10, "accuracy": 0.9,
        "artifact_bytes": 1, "state_dict_bytes": 1, "parameters": 1, "nonzero_parameters": 1,
        "resolution": 28, "flops": 2, "macs": 1, "latency_ms_p50": 1.0, "latency_ms_p95": 1.0,
        "throughput_ips": 1.0, "threads": 1, "energy_kwh_per_1k": None, "co2_g_per_1k": None,
        "country": "FRA", "carbon_intensity_g_per_kwh": 56.0, "energy_source": "test",
        "executes_as": "fp32",
    }  # fmt: skip
    assert model_kind(Measurement(name="cnn", **fields)) == "deep"
    assert model_kind(Measurement(name="SVC", **{**fields, "executes_as": SK + "SVC"})) == "thin"


# --------------------------------------------------------------------------- recommendation_table


def test_table_has_one_row_per_floor_and_agrees_with_recommend():
    floors = [None, 0.80, 0.90, 0.92, 0.95]
    table = recommendation_table(FASHION, floors)
    assert len(table) == len(floors)
    assert table["chosen"].tolist()[:4] == [
        "cnn [4-bit channel]",  # default: within 1 pt of teacher's 92.70%
        "cnn [prune 60% · 4-bit]",
        "cnn [prune 60% · 4-bit]",
        "cnn",
    ]
    assert pd.isna(table["chosen"].iloc[4]) and "No model reaches" in table["reason"].iloc[4]
    assert table["needed"].iloc[0] == pytest.approx(0.917)
    assert table["needed"].tolist()[1:] == pytest.approx(floors[1:])
    for floor, (_, record) in zip(floors[:4], table.iterrows(), strict=False):
        found = recommend(FASHION, min_accuracy=floor)
        assert record["reason"] == found.reason
        assert record["bytes"] == found.chosen["artifact_bytes"]
        assert record["on_par"] == len(found.on_par)


def test_table_other_objectives_add_their_column():
    table = recommendation_table(FASHION, [0.80], objective="latency")
    assert table["chosen"].tolist() == ["mlp"] and table["latency_ms_p50"].tolist() == [0.05]
    table = recommendation_table(FASHION, [0.80], objective="co2")
    assert "co2_g_per_1k" in table and table["kind"].iloc[0] == "thin"


def test_table_refuses_bad_arguments():
    with pytest.raises(ValueError, match="objective"):
        recommendation_table(FASHION, [0.8], objective="flops")
    with pytest.raises(ValueError, match="floors\\[0\\] must be a fraction"):
        recommendation_table(FASHION, [92])


# --------------------------------------------------------------------------- plot_tradeoffs


def test_plot_has_one_axes_per_objective_with_the_choice_starred():
    fig = plot_tradeoffs(FASHION)
    assert [ax.get_title() for ax in fig.axes] == ["smallest file", "fastest", "least CO₂"]
    for ax, (objective, found) in zip(fig.axes, fig.recommendations.items(), strict=True):
        assert found.reason == recommend(FASHION, objective=objective).reason
        column = found.metric
        star = [c for c in ax.collections if c.get_label() == "recommended"][0]
        assert star.get_offsets().tolist() == [
            [found.chosen[column], pytest.approx(100 * found.chosen["accuracy"])]
        ]
        drawn = sum(len(c.get_offsets()) for c in ax.collections if c.get_label() in KINDS)
        assert drawn == len(FASHION)
        threshold = [line for line in ax.lines if line.get_label() == "accuracy needed"][0]
        assert threshold.get_ydata()[0] == pytest.approx(100 * found.threshold)
        texts = [t.get_text() for t in ax.texts]
        assert any(t.startswith(found.chosen["name"]) for t in texts)  # the choice is labelled
        assert len(texts) == len(set(texts))  # and nothing twice
    assert fig.legends, "one legend for the figure"


def test_plot_skips_rows_without_the_objective_and_honours_options():
    rows = [*FASHION, {**FASHION[3], "name": "no-co2", "co2_g_per_1k": None}]
    fig = plot_tradeoffs(rows, objectives=["co2"], min_accuracy=0.9, title="t")
    (ax,) = fig.axes
    assert fig.recommendations["co2"].min_accuracy == 0.9
    drawn = sum(len(c.get_offsets()) for c in ax.collections if c.get_label() in KINDS)
    assert drawn == len(FASHION)
    assert fig._suptitle.get_text() == "t"
    with pytest.raises(ValueError, match="objectives is empty"):
        plot_tradeoffs(FASHION, objectives=[])
    with pytest.raises(ValueError, match="mix splits"):
        plot_tradeoffs([*FASHION, {**FASHION[0], "split": "test"}])
    assert plot_tradeoffs([*FASHION, {**FASHION[0], "split": "test"}], split="live").axes


def test_plot_leaves_the_input_alone():
    rows = [dict(r) for r in FASHION]
    plot_tradeoffs(rows)
    assert rows == FASHION


# --------------------------------------------------------------------------- recommendation_summary


def test_summary_thin_on_par_only_where_it_is():
    summary = recommendation_summary({"images": FASHION, "rows": TABULAR})
    assert list(summary.index) == [
        (d, o) for d in ("images", "rows") for o in ("bytes", "latency", "co2")
    ]
    images, rows = summary.loc["images"], summary.loc["rows"]
    assert not images["thin_on_par"].any() and rows["thin_on_par"].all()
    assert set(images["best_thin"]) == {"RandomForestClassifier"}
    assert rows.loc["bytes", "chosen"] == "LogisticRegression [4-bit channel]"
    assert rows.loc["bytes", "kind"] == "thin, torch form"
    assert rows.loc["co2", "chosen"] == "LinearSVC" and rows.loc["co2", "kind"] == "thin"
    assert images.loc["bytes", "kind"] == "deep, compressed"
    assert math.isclose(images.loc["bytes", "best_accuracy"], 0.927)


def test_summary_without_thin_models_and_with_a_floor():
    summary = recommendation_summary({"deep only": FASHION[3:]}, ["bytes"], min_accuracy=0.9)
    record = summary.loc[("deep only", "bytes")]
    assert record["best_thin"] is None and not record["thin_on_par"]
    assert record["chosen"] == "cnn [prune 60% · 4-bit]"
