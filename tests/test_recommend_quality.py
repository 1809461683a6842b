"""recommend(metric=…): "on par" decided by a paired test on the same items, the trivial
baseline never recommended, data sets never mixed — on rows built here from per-item
predictions (the fields lab.quality.measurement_fields proposes for a Measurement)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab import quality
from lab.measure import accuracy_fields
from lab.recommend import recommend


def _row(name, bytes_, y, pred, *, task="multiclass", data="toy", **extra):
    """A measurement row as evaluate() would give it with the proposed per-item fields."""
    y, pred = np.asarray(y), np.asarray(pred)
    row = {"name": name, "artifact_bytes": bytes_, "split": "test", "data": data, **extra}
    row.update(quality.measurement_fields(task, y, pred, scores=extra.pop("scores", None)))
    if task != "regression":
        row.update(accuracy_fields(torch.from_numpy(pred == y)))
    else:
        row["n_images"] = len(y)
    return row


def _flip(y, wrong, k=3):
    """``y`` with the items at positions ``wrong`` predicted as the next class."""
    pred = np.array(y)
    pred[list(wrong)] = (pred[list(wrong)] + 1) % k
    return pred


Y30 = np.arange(30) % 3


def test_on_30_items_one_item_is_noise_and_the_reason_says_so():
    best = _row("mlp", 400_000, Y30, _flip(Y30, [0, 1]))  # 28/30
    cheap = _row(
        "LogisticRegression", 1_600, Y30, _flip(Y30, [0, 1, 2]), executes_as="scikit-learn"
    )
    rec = recommend([best, cheap])
    assert rec.chosen["name"] == "LogisticRegression" and rec.n_items == 30
    assert (
        "cannot be told apart on 30 items (exact McNemar p = 1): the test split (few" in rec.reason
    )
    assert "lab.quality.cross_validate" in rec.reason
    # without per-item results only the 1-pt margin decides: 3.3 pt is "not on par"
    bare = [{k: r[k] for k in ("name", "artifact_bytes", "accuracy")} for r in (best, cheap)]
    assert recommend(bare).chosen["name"] == "mlp"


def test_a_significantly_worse_model_is_not_on_par():
    y = np.arange(300) % 3
    best = _row("cnn", 100_000, y, _flip(y, range(10)))
    worse = _row("tiny", 1_000, y, _flip(y, range(60)))
    rec = recommend([best, worse], tolerance_pt=2.0)
    assert rec.chosen["name"] == "cnn"
    assert "tiny would be" in rec.reason and "below the best (significantly)" in rec.reason
    assert [t["on_par"] for t in rec.tests] == [True, False]
    assert "significant (exact McNemar" in rec.tests[1]["vs_best"]


def test_the_trivial_baseline_and_models_that_do_not_beat_it_are_never_recommended():
    y = np.array([0] * 190 + [1] * 10)
    majority = np.zeros(200, dtype=int)
    dummy = _row("DummyClassifier", 500, y, majority, task="binary", executes_as="scikit-learn")
    lazy = _row("lazy", 900, y, _flip(majority, [195], k=2), task="binary")  # one positive found
    good = _row("forest", 90_000, y, _flip(majority, range(191, 200), k=2), task="binary")
    rec = recommend([dummy, lazy, good])
    assert rec.quality_metric == "balanced_accuracy"  # the rows' own metric: imbalanced data
    assert rec.chosen["name"] == "forest" and rec.trivial["name"] == "DummyClassifier"
    assert "lazy does not beat the trivial baseline DummyClassifier significantly" in rec.reason
    # worse than the trivial baseline, significantly: said so (it read "does not beat …
    # significantly (… significant …)")
    broken = _row("broken", 900, y, _flip(majority, range(0, 30), k=2), task="binary")
    worse = recommend([dummy, broken, good], metric="accuracy")
    assert "broken is significantly worse than the trivial baseline DummyClassifier" in (
        worse.reason
    ), worse.reason
    assert "The trivial baseline DummyClassifier scores 50.00% balanced accuracy" in rec.reason
    # on accuracy the majority guess scores 95 %; nothing beats it by enough to be tested here
    only = recommend([dummy, lazy], metric="accuracy")
    assert only.chosen is None and "none on par beats the trivial baseline" in only.reason


def test_rows_from_different_data_sets_or_items_are_never_compared():
    a = _row("a", 10, Y30, Y30, data="iris")
    b = _row("b", 5, Y30, Y30, data="wine")
    with pytest.raises(ValueError, match="mix data sets"):
        recommend([a, b])
    assert recommend([a, b], data="wine").chosen["name"] == "b"
    other = _row("c", 5, np.roll(Y30, 1), np.roll(Y30, 1), data="iris")
    with pytest.raises(ValueError, match="scored on other items"):
        recommend([a, other])
    shorter = _row("d", 5, Y30[:20], Y30[:20], data="iris")
    with pytest.raises(ValueError, match="scored on 20 items, others on 30"):
        recommend([a, shorter])


def test_regression_is_judged_by_its_error_lower_is_better():
    rng = np.random.default_rng(0)
    y = rng.normal(150, 70, 90)
    dummy = _row("DummyRegressor", 300, y, np.full(90, 150.0), task="regression")
    noise = rng.normal(0, 40, 90)
    ridge = _row("Ridge", 1_100, y, y + noise, task="regression")
    forest = _row("Forest", 600_000, y, y + 0.98 * noise, task="regression")  # always 2 % closer
    rec = recommend([dummy, ridge, forest])  # margin 1 % of the best MAE: 2 % is too much
    assert rec.quality_metric == "mae" and rec.best["name"] == "Forest"
    assert rec.chosen["name"] == "Forest" and "MAE" in rec.reason
    verdicts = {t["name"]: t["vs_best"] for t in rec.tests}
    assert verdicts["Forest"] is None and "significant (paired permutation" in verdicts["Ridge"]
    wider = recommend([dummy, ridge, forest], tolerance_pt=5.0)  # 5 %: a practical tie
    assert wider.chosen["name"] == "Ridge" and "within 5% of the best" in wider.reason
    r2 = recommend([dummy, ridge, forest], metric="r2", tolerance_pt=5.0)
    assert r2.chosen["name"] == "Ridge" and "R²" in r2.reason
    with pytest.raises(ValueError, match="accuracy does not apply to a regression task"):
        recommend([dummy, ridge], metric="accuracy")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    errors=st.lists(st.integers(0, 25), min_size=2, max_size=4),
    sizes=st.lists(st.integers(1, 10**6), min_size=4, max_size=4),
    tolerance=st.sampled_from([0.0, 1.0, 5.0]),
)
def test_the_choice_is_on_par_beats_the_baseline_and_nothing_qualifying_is_cheaper(
    errors, sizes, tolerance
):
    y = np.arange(60) % 3
    rng = np.random.default_rng(sum(errors))
    rows = [_row("DummyClassifier", 1, y, np.zeros(60, dtype=int))]
    for i, e in enumerate(errors):
        rows.append(_row(f"m{i}", sizes[i], y, _flip(y, rng.choice(60, e, replace=False))))
    rec = recommend(rows, tolerance_pt=tolerance)
    models = rows[1:]
    best = max(models, key=lambda r: r["accuracy"])

    def qualifies(r):
        near = r["accuracy"] + 1e-12 >= best["accuracy"] - tolerance / 100
        same = quality.paired("accuracy", y, quality.unpack(best["predictions"]),
                              quality.unpack(r["predictions"]))  # fmt: skip
        beats = quality.paired(
            "accuracy", y, np.zeros(60, dtype=int), quality.unpack(r["predictions"])
        )
        return (near or not same.significant) and beats.significant and beats.better

    qualifying = [r for r in models if qualifies(r)]
    if rec.chosen is None:
        assert not qualifying
        return
    assert rec.chosen["name"] != "DummyClassifier" and qualifies(rec.chosen)
    assert not any(r["artifact_bytes"] < rec.chosen["artifact_bytes"] for r in qualifying)


def test_the_chart_puts_the_trivial_baseline_next_to_the_models():
    from lab.recommend import plot_quality

    y = np.array([0] * 190 + [1] * 10)
    majority = np.zeros(200, dtype=int)
    rows = [
        _row("DummyClassifier", 500, y, majority, task="binary"),
        _row("forest", 90_000, y, _flip(majority, range(191, 200), k=2), task="binary"),
    ]
    fig = plot_quality(rows)
    (ax,) = fig.axes
    assert fig.recommendation.chosen["name"] == "forest"
    baseline = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(baseline) == 1 and baseline[0].get_ydata()[0] == 50.0  # balanced accuracy, %
    texts = [t.get_text() for t in ax.texts]
    assert "trivial baseline: DummyClassifier" in texts and "forest (recommended)" in texts
    assert ax.get_ylabel().startswith("balanced accuracy (%)") and ax.get_xscale() == "log"
