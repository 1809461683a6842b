"""The metric picker in the dashboard, the panel, the Pareto plot and RecommendationView: the
chosen metric's values (checked against scikit-learn's functions), unit and direction, on a
regression set (load_diabetes) and an imbalanced classification set (weights=[0.95, 0.05])."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_diabetes, make_classification

from lab.datasets import as_data
from lab.decide.pareto import dominates
from lab.decide.recommend import recommend
from lab.evaluation import quality
from widgets import Dashboard, RecommendationView
from widgets.metrics import PANEL_PERMUTATIONS, MetricsPanel
from widgets.pareto_plot import ParetoPlot
from widgets.pickers import MetricPicker
from widgets.validation import WidgetValueError

RNG = np.random.default_rng(0)
Y = load_diabetes().target[:200]


def _measurement(noise: float, label: str, size: int, name: str = "ridge", **extra) -> NS:
    """A regression measurement as lab.evaluate gives it (primary metric MAE, per-item results)."""
    pred = Y + RNG.normal(0, noise, len(Y))
    fields = quality.measurement_fields("regression", Y, pred, every_metric=False)
    return NS(**fields, name=name, recipe=label, label=label, split="live", data="diabetes",
              accuracy=None, accuracy_low=None, accuracy_high=None, artifact_bytes=size,
              flops=10, latency_ms_p50=1.0, energy_kwh_per_1k=1e-6, co2_g_per_1k=1e-4,
              notes=[], executes_as="fp32", threads=1, energy_source="test",
              carbon_intensity_g_per_kwh=56.0, country="FRA", n_images=len(Y), effort="quick",
              cached=False, **extra)  # fmt: skip


def _sk(metric, m):
    y, p = quality.unpack(m.targets), quality.unpack(m.predictions)
    return {"mae": skm.mean_absolute_error, "rmse": skm.root_mean_squared_error,
            "r2": skm.r2_score}[metric](y, p)  # fmt: skip


def test_the_panel_shows_the_chosen_metric_with_its_unit_direction_and_paired_change():
    base, current = _measurement(40, "baseline", 5_000), _measurement(55, "4-bit", 1_000)
    panel = MetricsPanel(item="item")
    panel.metric = "mae"
    panel.show(current, base)
    assert panel.numbers["accuracy"] == pytest.approx(_sk("mae", current), rel=1e-12)
    assert panel.texts["accuracy"].startswith(f"{_sk('mae', current):.4g} (")
    label = panel._labels["accuracy"].value
    assert "MAE" in label and "lower is better" in label and "target" in label
    want = quality.compare_measurements(base, current, "mae", permutations=PANEL_PERMUTATIONS)
    assert panel.changes["accuracy"] == want.verdict and "paired permutation" in want.verdict
    panel.metric = "r2"  # shown again at once, from the same per-item results
    assert panel.numbers["accuracy"] == pytest.approx(_sk("r2", current), rel=1e-12)
    assert "higher is better" in panel._labels["accuracy"].value
    panel.metric = "macro_f1"  # another task's metric: said, not a wrong number
    assert panel.texts["accuracy"].startswith("n/a (macro_f1 does not apply to a regression")


@pytest.mark.parametrize("metric", ["mae", "r2"])
def test_the_pareto_plot_draws_the_metric_and_its_frontier_in_its_direction(metric):
    points = [_measurement(n, f"c{i}", s) for i, (n, s) in
              enumerate([(30, 90_000), (60, 1_000), (45, 20_000), (70, 50_000), (35, 300_000)])]  # fmt: skip
    plot = ParetoPlot(metric=metric, interactive=False)
    plot.add(*points)
    data = plot.data
    assert sorted(data["y"]) == pytest.approx(sorted(_sk(metric, m) for m in points))
    maximize = metric == "r2"
    xy = list(zip(data["x"], data["y"], strict=True))
    front = {tuple(p) for p in data["front"]}
    for p in xy:  # brute force: on the front exactly when nothing dominates it
        dominated = any(dominates(q, p, maximize_y=maximize) for q in xy if q != p)
        assert (tuple(p) in front) == (not dominated)
    assert ("lower is better" in plot.ax.get_ylabel()) == (metric == "mae")
    with pytest.raises(WidgetValueError, match="metric must be one of"):
        ParetoPlot(metric="f1")


def test_the_recommendation_view_judges_by_the_chosen_metric():
    rows = [vars(_measurement(n, f"c{i}", s, name=f"m{i}")) for i, (n, s) in
            enumerate([(30, 90_000), (32, 1_000), (80, 500)])]  # fmt: skip
    view = RecommendationView(rows, interactive=False)
    assert view.metric.value == "mae" and [v for _, v in view.metric.options] == [
        "mae",
        "rmse",
        "r2",
    ]
    assert view.floor.description == "MAE ≤"
    assert view._floor_line.get_label() == "MAE ceiling"  # the worst acceptable error
    want = recommend(rows, metric="mae", limit=view.floor.value)
    assert view.recommendation.chosen["name"] == want.chosen["name"]
    assert sorted(view.data["y"]) == pytest.approx(sorted(_sk("mae", NS(**r)) for r in rows))
    view.metric.value = "r2"
    assert view.floor.description == "R² ≥" and view.data["metric"] == "r2"
    assert view._floor_line.get_label() == "R² floor"
    best = max(_sk("r2", NS(**r)) for r in rows)
    assert view.floor.value == pytest.approx(best - 0.01)  # 1 pt below the best by default
    assert "R² at least" in view.reason.value
    with pytest.raises(WidgetValueError, match="metric must be one of mae, rmse, r2 for a regr"):
        RecommendationView(rows, metric="accuracy")
    with pytest.raises(WidgetValueError, match="floor on macro_f1 must be a fraction"):
        RecommendationView([], task="binary", metric="macro_f1", floor=80)


def test_the_metric_picker_offers_the_tasks_metrics_only():
    assert [v for _, v in MetricPicker("binary").dropdown.options] == quality.choices("binary")
    picker = MetricPicker("multiclass")
    assert picker.value == "accuracy"
    with pytest.raises(WidgetValueError, match="one of accuracy, balanced_accuracy, macro_f1 for"):
        picker.value = "mae"


def test_the_dashboard_on_regression_data_shows_mae_and_switches_metric(tmp_path):
    from lab.io.store import ResultStore

    data = as_data(load_diabetes(), task="regression", name="diabetes")
    store = ResultStore(tmp_path / "r.sqlite")
    dash = Dashboard(model="Ridge", data=data, thin_models=["Ridge", "DummyRegressor"],
                     store=store)  # fmt: skip
    try:
        assert dash.wait(300) and not dash.error
        assert dash.metric_picker.value == "mae"
        m = dash.measurement
        y, p = quality.unpack(m.targets), quality.unpack(m.predictions)
        assert dash.metrics.numbers["accuracy"] == pytest.approx(skm.mean_absolute_error(y, p))
        assert dash.pareto.data["y"] == pytest.approx([skm.mean_absolute_error(y, p)])
        assert "lower is better" in dash.pareto.ax.get_ylabel()
        dash.metric_picker.value = "r2"  # nothing measured again
        evaluations = dash.evaluations
        assert dash.metrics.numbers["accuracy"] == pytest.approx(skm.r2_score(y, p))
        assert dash.pareto.data["y"] == pytest.approx([skm.r2_score(y, p)])
        assert dash.recommendation.metric.value == "r2" and dash.evaluations == evaluations
        assert "R²" in dash.recommendation.reason.value
        with pytest.raises(WidgetValueError, match="mae, rmse, r2 for a regression task"):
            dash.metric_picker.value = "accuracy"
    finally:
        dash.close()
    with pytest.raises(WidgetValueError, match="for a regression task; got 'macro_f1'"):
        Dashboard(model="Ridge", data=data, metric="macro_f1")


def test_the_dashboard_on_imbalanced_data_defaults_to_accuracy_and_offers_balanced(tmp_path):
    from lab.io.store import ResultStore

    x, y = make_classification(n_samples=1_500, weights=[0.95, 0.05], random_state=0)
    data = as_data((x, y), name="imbalanced")
    dash = Dashboard(model="LogisticRegression", data=data, thin_models=["LogisticRegression"],
                     store=ResultStore(tmp_path / "r.sqlite"))  # fmt: skip
    try:
        assert dash.wait(300) and not dash.error
        assert dash.metric_picker.value == "accuracy"
        assert [v for _, v in dash.metric_picker.dropdown.options] == quality.choices("binary")
        dash.metric_picker.value = "balanced_accuracy"
        m = dash.measurement
        truth, pred = quality.unpack(m.targets), quality.unpack(m.predictions)
        want = skm.balanced_accuracy_score(truth, pred)
        assert dash.metrics.numbers["accuracy"] == pytest.approx(want)
        assert dash.pareto.data["y"] == pytest.approx([100 * want])
        dash.metric_picker.value = "roc_auc"
        auc = skm.roc_auc_score(truth, quality.unpack(m.scores))
        assert dash.metrics.numbers["accuracy"] == pytest.approx(auc)
    finally:
        dash.close()


def test_the_search_view_plots_the_studys_quality_objective(tmp_path):
    import optuna

    from widgets import SearchView

    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    study = optuna.create_study(study_name="f1", storage=url, directions=["maximize", "minimize"])
    # macro-F1 and accuracy disagree on purpose: the plot must follow the objective
    trials = [(0.60, 0.95, 5_000), (0.80, 0.90, 20_000), (0.70, 0.97, 80_000)]
    for f1, accuracy, size in trials:
        study.add_trial(optuna.trial.create_trial(
            state=optuna.trial.TrialState.COMPLETE, values=[f1, size],
            user_attrs={"architecture": {"widths": [4]}, "recipe": "{}", "constraint": [],
                        "measurement": {"accuracy": accuracy, "artifact_bytes": size},
                        "quality": {"val_macro_f1": f1}},
        ))  # fmt: skip
    view = SearchView("f1", storage=url, objectives=("val_macro_f1", "artifact_bytes"))
    try:
        assert view.ax.get_ylabel() == "val macro-F1 (%), higher is better"
        drawn = sorted(zip(view.data["x"].tolist(), view.data["y"].tolist(), strict=True))
        assert drawn == [
            (s, pytest.approx(100 * f)) for f, _, s in sorted(trials, key=lambda t: t[2])
        ]
        assert view.data["front_numbers"] == [0, 1]  # the third is dominated on macro-F1
        view.select(1)
        assert "val macro-F1" in view.details.value and "80.0%" in view.details.value
    finally:
        view.stop()
        view.close()
