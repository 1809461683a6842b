"""Which model is the most efficient one that is good enough? An accuracy floor → the answer.

:class:`RecommendationView` shows a set of measurements (thin models, zoo models, compressed
recipes, search trials) on a cost-vs-accuracy plot, with an accuracy-floor slider and an
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

from dataclasses import asdict, is_dataclass
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd

from lab.decide import objectives
from lab.decide.pareto import pareto_front
from lab.decide.plot_style import style_axes
from lab.decide.recommend import recommend
from widgets.validation import WidgetValueError, choice

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
    rows = []
    for r in results:
        if isinstance(r, dict):
            rows.append(dict(r))
        elif is_dataclass(r):
            rows.append(asdict(r))
        else:
            rows.append(dict(vars(r)))
    return pd.DataFrame(rows)


class RecommendationView(w.VBox):
    """Accuracy floor slider + objective → the recommended model, highlighted on the plot.

    Args:
        results: measurements (a DataFrame, a ResultStore, or a list of Measurements/dicts);
            may be empty at first (the dashboard fills it with :meth:`set_results`).
        floor: the initial accuracy floor (fraction); default 1 pt below the best.
        objective: ``"bytes"``, ``"latency"`` or ``"co2"``.
        split: keep rows measured on this split (needed when the results mix splits).
        interactive: as for :class:`~widgets.figure.FigureView` (``False``: an SVG image drawn
            in the kernel at each update; the dashboard uses it).
    """

    def __init__(
        self,
        results: Any,
        *,
        floor: float | None = None,
        objective: str = "bytes",
        split: str | None = None,
        interactive: bool | None = None,
    ) -> None:
        from lab.decide.recommend import check_floor

        choice("objective", objective, tuple(_AXES))
        try:
            check_floor(floor)  # a fraction, as recommend() takes it: 90 is refused, not clamped
        except ValueError as exc:
            raise WidgetValueError(str(exc).replace("min_accuracy", "floor", 1)) from None
        self.split = split
        self._initial_floor = floor
        self.frame = self._filtered(results)
        self.floor = w.FloatSlider(
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
            lambda v: f"{100 * v:.1f} %",
            lambda v: round(100 * v, 1),
            host="lab-recommendation-view",
        )
        self.objective = w.ToggleButtons(
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
            [w.HBox([self.floor, self.objective]), self.view.widget, self.reason, self.floor_aria]
        )
        self.add_class("lab-recommendation-view")
        self._set_range(floor)
        self.floor.observe(lambda _: self.update(), "value")
        self.objective.observe(lambda _: self.update(), "value")
        self.update()

    def _filtered(self, results: Any) -> pd.DataFrame:
        frame = _frame(results)
        if self.split is not None and "split" in frame:
            frame = frame[frame["split"] == self.split].reset_index(drop=True)
        return frame

    def _set_range(self, floor: float | None) -> None:
        """Slider range = the measured accuracies; ``floor`` (or 1 pt below the best) chosen."""
        if self.frame.empty or "accuracy" not in self.frame:
            return
        best = float(self.frame["accuracy"].max())
        low = float(np.floor(self.frame["accuracy"].min() * 100) / 100)
        value = self.floor.value if floor is None else float(floor)
        if floor is None and not self._ranged:
            value = best - 0.01
        with self.floor.hold_trait_notifications():
            self.floor.min, self.floor.max = 0.0, 1.0  # widen first: min ≤ max at every step
            self.floor.value = min(max(value, low), best)
            self.floor.min, self.floor.max = low, best
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
        if self.frame.empty:
            self.recommendation = None
            self.reason.value = "<div>no measurements yet</div>"
            self._draw(column, label)
            return
        try:
            self.recommendation = recommend(
                self.frame,
                min_accuracy=self.floor.value,
                objective=self.objective.value,
                split=self.split,
            )
            text = self.recommendation.reason
            style = ""
        except Exception as exc:  # a message in the widget, never a traceback
            self.recommendation = None
            text, style = f"cannot recommend: {exc}", "color:#b00"
        self.reason.value = f"<div style='{style}'>{_escape(text)}</div>"
        self._draw(column, label)

    def _draw(self, column: str, label: str) -> None:
        if column in self.frame and "accuracy" in self.frame:
            shown = self.frame[self.frame[column].notna() & (self.frame[column] > 0)]
            xs = shown[column].to_numpy(dtype=float)
            ys = 100 * shown["accuracy"].to_numpy(dtype=float)
        else:
            xs = ys = np.empty(0)
        self._scatter.set_offsets(np.column_stack([xs, ys]) if len(xs) else np.empty((0, 2)))
        front = pareto_front(list(zip(xs, ys, strict=True)))
        self._front.set_data(xs[front], ys[front])
        self._floor_line.set_ydata([100 * self.floor.value] * 2)
        chosen = self.recommendation.chosen if self.recommendation is not None else None
        if chosen is not None and chosen.get(column) is not None:
            self._chosen.set_data([float(chosen[column])], [100 * float(chosen["accuracy"])])
        else:
            self._chosen.set_data([], [])
        fit_axes(self.ax, xs, [*ys, 100 * self.floor.value] if len(ys) else ys)
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
        return {
            "x": offsets[:, 0],
            "y": offsets[:, 1],
            "chosen": (float(cx[0]), float(cy[0])) if len(cx) else None,
            "floor": 100 * self.floor.value,
        }


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
