"""Every configuration tried, as cost vs quality, with the current one and the Pareto frontier.

The quality axis is ``metric`` (a name from :data:`lab.evaluation.quality.METRICS`: accuracy
by default; balanced accuracy, macro-F1, ROC-AUC, MAE, RMSE, R²…): fractions in %, errors in
the target's units with "lower is better" on the axis, and the frontier follows the
metric's direction.

Example:
    >>> from types import SimpleNamespace as NS
    >>> plot = ParetoPlot()
    >>> for i, (size, acc) in enumerate([(400_000, 0.91), (50_000, 0.90), (90_000, 0.85)]):
    ...     plot.add(NS(recipe=str(i), label=f"config {i}", accuracy=acc, artifact_bytes=size,
    ...                 latency_ms_p50=1.0, co2_g_per_1k=0.01))
    >>> plot.data["front"].tolist()
    [[50000.0, 90.0], [400000.0, 91.0]]
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as w
import numpy as np
import traitlets as t

from lab.decide import objectives
from lab.decide.pareto import pareto_front
from lab.decide.plot_style import FONT_SIZES, MAX_XTICKS, axis_label, style_axes, tick_text
from lab.evaluation import quality
from widgets.validation import Choice, choice

from .figure import FigureView, fit_axes, legend_for
from .placement import place_labels

__all__ = ["AXES", "MAX_XTICKS", "ParetoPlot"]

# x-axis key (an objective of lab.decide.objectives) → (button label, axis label, Measurement
# field); tick labels and font sizes: lab.decide.plot_style, as in every such plot
AXES = {
    key: (button, axis_label(key), objectives.get(key).field)
    for key, button in (("size", "size on disk"), ("latency", "latency"), ("co2", "CO₂ per 1k"))
}


class ParetoPlot(w.VBox):
    """Scatter of accuracy vs a chosen cost (log x); frontier line; current point highlighted.

    ``x_axis`` is one of ``"size"``, ``"latency"``, ``"co2"``. Add measurements with
    :meth:`add`; read what is drawn from :attr:`data`.
    """

    x_axis = Choice(tuple(AXES), default_value="size")
    metric = Choice(quality.RANKABLE, default_value="accuracy")  # the quality axis
    count = t.Int(0)  # configurations plotted

    def __init__(
        self,
        x_axis: str = "size",
        figsize: tuple[float, float] = (5.6, 3.4),
        interactive: bool | None = None,
        metric: str = "accuracy",
    ) -> None:
        choice("x_axis", x_axis, tuple(AXES))
        choice("metric", metric, quality.RANKABLE)
        self._points: dict[tuple, Any] = {}  # (model name, recipe JSON) → latest measurement
        self._current: tuple | None = None
        self._drawing = threading.RLock()  # a worker thread adds points; the toggle redraws
        self.toggle = w.ToggleButtons(
            options=[(label, key) for key, (label, *_) in AXES.items()],
            value=x_axis,
            style={"button_width": "104px"},  # fits "size on disk" in JupyterLab's font
        )
        self.toggle.add_class("lab-pareto-axis")
        self.view = FigureView(figsize, interactive=interactive)
        ax = self.ax = self.view.figure.subplots()
        self._scatter = ax.scatter(
            [], [], s=28, color="#8da0cb", alpha=0.8, zorder=2, label="configurations"
        )
        (self._front,) = ax.plot(
            [], [], drawstyle="steps-post", color="#e5883e", lw=2, zorder=1, label="Pareto frontier"
        )
        (self._highlight,) = ax.plot(
            [],
            [],
            marker="*",
            ms=16,
            ls="none",
            color="#d62728",
            markeredgecolor="black",
            zorder=3,
            label="current",
        )
        self._annotation = ax.annotate(
            "", (0, 0), xytext=(9, 5), textcoords="offset points", fontsize=FONT_SIZES["point"]
        )
        ax.set_xscale("log")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3, which="both")
        super().__init__([self.toggle, self.view.widget])
        self.add_class("lab-pareto")
        self.x_axis = x_axis
        self.metric = metric
        t.link((self, "x_axis"), (self.toggle, "value"))
        self._redraw()

    def add(self, *measurements: Any, current: bool = True) -> None:
        """Plot ``measurements`` (each replacing an earlier one of the same recipe), redrawing once.

        The last one is highlighted as the current configuration when ``current``.
        """
        with self._drawing:
            for measurement in measurements:
                self._points[_key(measurement)] = measurement
            if current and measurements:
                self._current = _key(measurements[-1])
            self._redraw()

    def clear(self, waiting: str = "") -> None:
        """Forget every point (e.g. when the model or the region changes); ``waiting`` is the
        title until the next point comes (e.g. "SVC: fitting…")."""
        with self._drawing:
            self._points.clear()
            self._current = None
            self._waiting = waiting
            self._redraw()

    _waiting = ""

    @property
    def data(self) -> dict[str, Any]:
        """What is drawn: ``x``, ``y`` (%), ``labels``, ``front`` (k×2) and ``current`` ((x, y) or None)."""
        offsets = np.asarray(self._scatter.get_offsets(), dtype=float).reshape(-1, 2)
        front = np.asarray(self._front.get_xydata(), dtype=float).reshape(-1, 2)
        hx, hy = self._highlight.get_data()
        return {
            "x": offsets[:, 0],
            "y": offsets[:, 1],
            "labels": self._labels,
            "front": front,
            "current": (float(hx[0]), float(hy[0])) if len(hx) else None,
        }

    @t.observe("x_axis", "metric")
    def _axis_changed(self, change: dict) -> None:
        self._redraw()

    def _redraw(self) -> None:
        with self._drawing:
            self._draw_points()

    def _draw_points(self) -> None:
        field = AXES[self.x_axis][2]
        shown = [(m, getattr(m, field)) for m in self._points.values()]
        shown = [(m, x) for m, x in shown if x is not None and x > 0]
        entry = quality.METRICS[self.metric]
        scale = 100.0 if entry.unit == "fraction" else 1.0
        values = [_quality(m, entry) for m, _ in shown]
        shown = [pair for pair, v in zip(shown, values, strict=True) if v is not None]
        values = [v for v in values if v is not None]
        xs = np.array([x for _, x in shown], dtype=float)
        ys = np.array([scale * v for v in values], dtype=float)
        names = {getattr(m, "name", "") for m, _ in shown}
        self._labels = [  # one model: its recipes; several (thin models beside the zoo): names too
            m.label if len(names) == 1 else f"{getattr(m, 'name', '')} [{m.label}]"
            for m, _ in shown
        ]
        self._scatter.set_offsets(np.column_stack([xs, ys]) if len(xs) else np.empty((0, 2)))
        self.view.point_titles[self._scatter] = [  # hover tooltips on the image
            f"{label}: {entry.format(v) if entry.name != 'accuracy' else f'{100 * v:.2f} %'}, "
            f"{tick_text(self.x_axis)(x)}"
            for label, (m, x), v in zip(self._labels, shown, values, strict=True)
        ]
        front = pareto_front(list(zip(xs, ys, strict=True)), maximize_y=entry.higher_is_better)
        self._front.set_data(xs[front], ys[front])
        current = [i for i, (m, _) in enumerate(shown) if _key(m) == self._current]
        self._rescale(xs, ys, percent=entry.unit == "fraction")
        if current:
            i = current[0]
            self._highlight.set_data([xs[i]], [ys[i]])
            others = [(x, y) for j, (x, y) in enumerate(zip(xs, ys, strict=True)) if j != i]
            dx, dy, align = place_labels(
                self.ax, [(xs[i], ys[i])], [self._labels[i]], FONT_SIZES["point"], obstacles=others
            )[0]  # beside the star, on the side that hides no point and stays in the axes
            self._annotation.xy, self._annotation.xyann = (xs[i], ys[i]), (dx, dy)
            self._annotation.set_horizontalalignment(align)
            self._annotation.set_text(self._labels[i])
        else:
            self._highlight.set_data([], [])
            self._annotation.set_text("")
        drawn = [
            (self._scatter, len(xs)),
            (self._front, len(front) > 1),
            (self._highlight, current),
        ]
        legend_for(self.ax, [artist for artist, shown_any in drawn if shown_any])
        self.ax.set_ylabel(entry.axis_text)
        noun = "configuration" if len(xs) == 1 else "configurations"
        title = f"{len(xs)} {noun}, {len(front)} on the frontier"
        self.ax.set_title(self._waiting if self._waiting and not len(xs) else title)
        style_axes(self.ax, self.x_axis)  # after the limits: its ticks follow them
        self.count = len(xs)
        self.view.redraw()

    def _rescale(self, xs: np.ndarray, ys: np.ndarray, percent: bool = True) -> None:
        fit_axes(self.ax, xs, ys, percent=percent)


def _quality(measurement: Any, entry: quality.Metric) -> float | None:
    """The measurement's value on the metric (its own field for accuracy: the fast path)."""
    if entry.name == "accuracy" and getattr(measurement, "accuracy", None) is not None:
        return float(measurement.accuracy)
    try:
        found = quality.estimate_of(measurement, entry, interval=False)
    except ValueError:  # a metric of another task: not drawn
        return None
    return None if found is None else found.value


def _key(measurement: Any) -> tuple:
    """What one point stands for: a model (a thin model, a zoo model…) under one recipe."""
    return (getattr(measurement, "name", ""), measurement.recipe)
