"""Which model is the most efficient one that is good enough? A quality floor → the answer.

:class:`RecommendationView` shows a set of measurements (thin models, zoo models, compressed
recipes, search trials) on a cost-vs-quality plot, with a metric choice (the metrics of the
results' task: accuracy, balanced accuracy, macro-F1, ROC-AUC; MAE, RMSE, R²), a slider for
the worst acceptable value of that metric (a floor, or a ceiling for errors) and an
objective choice; :func:`lab.recommend.recommend` picks the cheapest model on par, which is
highlighted, and its plain-English reason is shown beneath.

Example:
    >>> from types import SimpleNamespace as NS
    >>> rows = [NS(name="forest", recipe="{}", label="scikit-learn", split="test", accuracy=0.873,
    ...            artifact_bytes=16_000_000, latency_ms_p50=5.0, co2_g_per_1k=0.1, country="FRA"),
    ...         NS(name="cnn", recipe="{}", label="4-bit", split="test", accuracy=0.923,
    ...            artifact_bytes=43_000, latency_ms_p50=0.3, co2_g_per_1k=0.01, country="FRA")]
    >>> view = RecommendationView(rows, floor=0.85)
    >>> view.recommendation.chosen["name"]
    'cnn'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd

from lab.decide import objectives
from lab.decide.pareto import pareto_front
from lab.decide.plot_style import style_axes
from lab.decide.recommend import recommend
from lab.evaluation import quality
from widgets.validation import (
    CheckedDropdown,
    CheckedFloatSlider,
    CheckedToggleButtons,
    WidgetValueError,
    choice,
)

from .aria import SliderAria
from .figure import FigureView, fit_axes, legend_for

__all__ = ["RecommendationView"]

# the objectives the view offers as buttons → (column, axis label), from lab's one table
_AXES = {
    name: (objectives.get(name).field, objectives.get(name).axis_label)
    for name in ("bytes", "latency", "co2")
}


def _frame(results: Any) -> pd.DataFrame:
    if isinstance(results, pd.DataFrame):
        return results.copy()
    if hasattr(results, "to_frame") and not isinstance(results, (list, tuple)):
        return results.to_frame()
    allowed = (
        "results must be a DataFrame, a ResultStore, or a list of Measurements (or dicts of "
        "their fields)"
    )
    if isinstance(results, (str, bytes, Mapping)) or not isinstance(results, Iterable):
        raise WidgetValueError(f"{allowed}; got {type(results).__name__}")
    rows = []
    for r in results:
        if isinstance(r, dict):
            rows.append(dict(r))
        elif is_dataclass(r) and not isinstance(r, type):
            rows.append(asdict(r))
        elif hasattr(r, "__dict__") and not isinstance(r, type):
            rows.append(dict(vars(r)))
        else:
            raise WidgetValueError(f"{allowed}; got an item {r!r} ({type(r).__name__})")
    return pd.DataFrame(rows)


def _check_floor(floor: object, metric: str) -> None:
    """``floor`` as :func:`lab.decide.recommend.recommend` takes it for ``metric`` (a fraction
    for accuracy: 90 is refused, never clamped), else a WidgetValueError naming ``floor``."""
    from lab.decide.recommend import check_floor, check_limit

    try:
        if metric == "accuracy":
            check_floor(floor)
        else:
            check_limit(floor, metric)
    except ValueError as exc:
        message = str(exc).replace("min_accuracy", "floor", 1).replace("limit on", "floor on")
        raise WidgetValueError(message) from None


class RecommendationView(w.VBox):
    """Accuracy floor slider + objective → the recommended model, highlighted on the plot.

    Args:
        results: measurements (a DataFrame, a ResultStore, or a list of Measurements/dicts);
            may be empty at first (the dashboard fills it with :meth:`set_results`).
        floor: the initial worst acceptable value of ``metric`` (accuracy: a fraction);
            default the best value less 1 pt (fractions) or 1 % (errors).
        objective: ``"bytes"``, ``"latency"`` or ``"co2"``.
        split: keep rows measured on this split (needed when the results mix splits).
        interactive: as for :class:`~widgets.figure.FigureView` (``False``: an SVG image drawn
            in the kernel at each update; the dashboard uses it).
        metric: the quality metric to judge by (one of :func:`lab.evaluation.quality.choices`
            for the results' task); default accuracy for classification, MAE for regression.
        task: the task whose metrics are offered (default: the results' ``task`` column;
            classification when they have none).
    """

    def __init__(
        self,
        results: Any,
        *,
        floor: float | None = None,
        objective: str = "bytes",
        split: str | None = None,
        interactive: bool | None = None,
        metric: str | None = None,
        task: str | None = None,
    ) -> None:

        choice("objective", objective, tuple(_AXES))
        self.split = split
        self._initial_floor = floor
        self.frame = self._filtered(results)
        if task is not None:
            choice("task", task, ("binary", "multiclass", "regression"))
        self.task = task or _task(self.frame)
        allowed = quality.choices(self.task)
        metric = metric if metric is not None else quality.default_metric(self.task)
        try:
            quality.check_choice(metric, self.task)
        except ValueError as exc:
            raise WidgetValueError(str(exc)) from None
        _check_floor(floor, metric)
        self.metric = CheckedDropdown(
            "metric",
            options=[(quality.METRICS[m].title, m) for m in allowed],
            value=metric,
            description="judge by",
            layout=w.Layout(width="230px"),
        )
        self.metric.add_class("lab-recommendation-metric")
        # a value set in code is checked as recommend() checks it: 90 is refused, not clamped
        self.floor = CheckedFloatSlider(
            lambda value: _check_floor(value, self.metric.value),
            value=0.0,
            min=0.0,
            max=1.0,
            step=0.001,
            description="accuracy ≥",
            readout_format=".1%",
            continuous_update=False,
            style={"description_width": "initial"},
            layout=w.Layout(width="420px"),
        )
        self.floor.add_class("lab-floor-slider")
        # a screen reader hears "91.2 %", not the fraction's first decimal ("0.9")
        self.floor_aria = SliderAria(
            self.floor,
            "lab-floor-slider",
            lambda v: f"{100 * v:.1f} %" if self.entry.unit == "fraction" else self.entry.format(v),
            lambda v: round(100 * v, 1),
            host="lab-recommendation-view",
        )
        self.objective = CheckedToggleButtons(
            "objective",
            options=[("smallest file", "bytes"), ("fastest", "latency"), ("least CO₂", "co2")],
            value=objective,
        )
        self.reason = w.HTML()
        self.reason.add_class("lab-recommendation")
        self.view = FigureView((5.6, 3.4), interactive=interactive)
        ax = self.ax = self.view.figure.subplots()
        self._scatter = ax.scatter([], [], s=28, color="#8da0cb", alpha=0.8, label="models")
        (self._front,) = ax.plot(
            [], [], drawstyle="steps-post", color="#e5883e", lw=2, label="Pareto frontier"
        )
        self._floor_line = ax.axhline(0, color="#555", ls="--", lw=1, label="accuracy floor")
        (self._chosen,) = ax.plot(
            [],
            [],
            marker="*",
            ms=18,
            ls="none",
            color="#2ca02c",
            markeredgecolor="black",
            label="recommended",
        )
        ax.set_xscale("log")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3, which="both")
        self.recommendation = None
        super().__init__(
            [
                w.HBox([self.metric, self.floor, self.objective]),
                self.view.widget,
                self.reason,
                self.floor_aria,
            ]
        )
        self.add_class("lab-recommendation-view")
        self._style_floor()
        self._set_range(floor)
        self.floor.observe(lambda _: self.update(), "value")
        self.objective.observe(lambda _: self.update(), "value")
        self.metric.observe(self._metric_changed, "value")
        self.update()

    @property
    def entry(self) -> quality.Metric:
        """The chosen metric's registry entry."""
        return quality.METRICS[self.metric.value]

    def _style_floor(self) -> None:
        entry = self.entry
        bound = "≥" if entry.higher_is_better else "≤"
        self.floor.description = f"{entry.words} {bound}"
        self.floor.readout_format = ".1%" if entry.unit == "fraction" else ".4g"
        kind = "floor" if entry.higher_is_better else "ceiling"  # the worst acceptable value
        self._floor_line.set_label(f"{entry.words} {kind}")  # the legend: drawn by _draw

    def _metric_changed(self, change: dict) -> None:
        with self.floor.hold_trait_notifications():
            self._style_floor()
            self._ranged = False  # the default floor of the new metric: its best less 1 pt/1 %
            self._set_range(None)
        self.update()

    def _values(self, frame: pd.DataFrame | None = None) -> np.ndarray:
        """The chosen metric of every row (NaN where a row cannot give it)."""
        frame = self.frame if frame is None else frame
        entry, found = self.entry, []
        for row in frame.to_dict("records"):
            try:
                estimate = quality.estimate_of(row, entry, interval=False)
            except ValueError:
                estimate = None
            found.append(np.nan if estimate is None else estimate.value)
        return np.asarray(found, dtype=float)

    def _filtered(self, results: Any) -> pd.DataFrame:
        frame = _frame(results)
        if self.split is not None and "split" in frame:
            frame = frame[frame["split"] == self.split].reset_index(drop=True)
        return frame

    def _set_range(self, floor: float | None) -> None:
        """Slider range = the measured values, from the best to the worst; ``floor`` (or the
        best less 1 pt, or 1 % of an error) chosen."""
        values = self._values() if not self.frame.empty else np.empty(0)
        values = values[np.isfinite(values)]
        if not len(values):
            return
        entry = self.entry
        if entry.higher_is_better:
            best, worst = float(values.max()), float(values.min())
        else:
            best, worst = float(values.min()), float(values.max())
        if entry.unit == "fraction":
            worst = float(np.floor(worst * 100) / 100)
        low, high = min(best, worst), max(best, worst)
        value = self.floor.value if floor is None else float(floor)
        if floor is None and not self._ranged:
            value = best - entry.margin(1.0, best) * (1 if entry.higher_is_better else -1)
        self.floor.checking = False  # measured values: within the metric's range
        try:
            with self.floor.hold_trait_notifications():
                # widen first (min ≤ max at every step), then the range of the measured values
                self.floor.min = min(low, self.floor.min)
                self.floor.max = max(high, self.floor.max)
                self.floor.value = min(max(value, low), high)
                self.floor.min, self.floor.max = low, high
                self.floor.step = 0.001 if entry.unit == "fraction" else max(high - low, 1e-9) / 200
        finally:
            self.floor.checking = True
        self._ranged = True
        self.floor_aria.refresh()

    _ranged = False

    def set_results(self, results: Any) -> None:
        """Show these measurements instead (keeps the floor where it is, within range)."""
        self.frame = self._filtered(results)
        self._set_range(None)
        self.update()

    def update(self) -> None:
        """Recompute the recommendation for the current floor and objective, and redraw."""
        column, label = _AXES[self.objective.value]
        if self.frame.empty or not np.isfinite(self._values()).any():
            self.recommendation = None
            self.reason.value = "<div>no measurements yet</div>"
            self._draw(column, label)
            return
        try:
            self.recommendation = recommend(
                self.frame,
                objective=self.objective.value,
                split=self.split,
                metric=self.metric.value,
                limit=self.floor.value,
            )
            text = self.recommendation.reason
            style = ""
        except Exception as exc:  # a message in the widget, never a traceback
            self.recommendation = None
            text, style = f"cannot recommend: {exc}", "color:#b00"
        self.reason.value = f"<div style='{style}'>{_escape(text)}</div>"
        self._draw(column, label)

    def _draw(self, column: str, label: str) -> None:
        entry = self.entry
        scale = 100.0 if entry.unit == "fraction" else 1.0
        if column in self.frame and not self.frame.empty:
            values = self._values()
            costs = pd.to_numeric(self.frame[column], errors="coerce").to_numpy(dtype=float)
            keep = np.isfinite(costs) & (costs > 0) & np.isfinite(values)
            xs, ys = costs[keep], scale * values[keep]
        else:
            xs = ys = np.empty(0)
        self._scatter.set_offsets(np.column_stack([xs, ys]) if len(xs) else np.empty((0, 2)))
        front = pareto_front(list(zip(xs, ys, strict=True)), maximize_y=entry.higher_is_better)
        self._front.set_data(xs[front], ys[front])
        limit = scale * self.floor.value
        self._floor_line.set_ydata([limit] * 2)
        chosen = self.recommendation.chosen if self.recommendation is not None else None
        found = None
        if chosen is not None and chosen.get(column) is not None:
            found = quality.estimate_of(chosen, entry, interval=False)
        if found is not None:
            self._chosen.set_data([float(chosen[column])], [scale * found.value])
        else:
            self._chosen.set_data([], [])
        self.ax.set_ylabel(entry.axis_text)
        fit_axes(self.ax, xs, [*ys, limit] if len(ys) else ys, percent=entry.unit == "fraction")
        # the dashboard's Pareto plot's look: fonts, "10 kB" / "500 µs" / "15 µg" ticks, labels
        style_axes(self.ax, self.objective.value)
        drawn = [(self._scatter, len(xs)), (self._front, len(front) > 1)]
        drawn += [(self._floor_line, len(xs)), (self._chosen, len(self._chosen.get_xdata()))]
        legend_for(self.ax, [artist for artist, shown_any in drawn if shown_any])
        self.view.redraw()

    @property
    def data(self) -> dict:
        """What is drawn: points (x, y %), the recommended point (or None) and the floor (%)."""
        offsets = np.asarray(self._scatter.get_offsets(), dtype=float).reshape(-1, 2)
        cx, cy = self._chosen.get_data()
        scale = 100.0 if self.entry.unit == "fraction" else 1.0
        return {
            "x": offsets[:, 0],
            "y": offsets[:, 1],
            "chosen": (float(cx[0]), float(cy[0])) if len(cx) else None,
            "floor": scale * self.floor.value,
            "metric": self.metric.value,
            "y_label": self.ax.get_ylabel(),
        }


def _task(frame: pd.DataFrame) -> str:
    """The results' task (their ``task`` column), classification when they have none."""
    if "task" in frame:
        tasks = {t for t in frame["task"] if isinstance(t, str)}
        if len(tasks) == 1:
            return tasks.pop()
    return "multiclass"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
