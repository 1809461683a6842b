"""widgets.svg_axes: the live plots' SVG, checked against hand-computed positions and matplotlib.

The reference for every position is computed here by hand (log10 / linear interpolation into
the plotting area), not with matplotlib's transforms that the renderer uses; tick labels are
compared with matplotlib's own formatters; the output is parsed as XML (escaping, well-formed).
"""

from __future__ import annotations

import itertools
import math
import re
import time
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from widgets.figure import FigureView
from widgets.pareto_plot import ParetoPlot
from widgets.svg_axes import MARGIN, render_axes, supports

SVG = "{http://www.w3.org/2000/svg}"


def _axes(xscale="log", size=(5.6, 3.4), dpi=96):
    ax = Figure(figsize=size, dpi=dpi).subplots()
    ax.set_xscale(xscale)
    return ax


def _parse(svg: bytes) -> ET.Element:
    return ET.fromstring(svg)


def _expected_px(ax, x: float, y: float) -> tuple[float, float]:
    """By hand: the plotting area is the figure less MARGIN; log10 or linear in x, linear in y."""
    width, height = (round(v) for v in ax.figure.get_size_inches() * ax.figure.dpi)
    w = width - MARGIN["left"] - MARGIN["right"]
    h = height - MARGIN["top"] - MARGIN["bottom"]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    if ax.get_xscale() == "log":
        fx = (math.log10(x) - math.log10(x0)) / (math.log10(x1) - math.log10(x0))
    else:
        fx = (x - x0) / (x1 - x0)
    fy = (y - y0) / (y1 - y0)
    return MARGIN["left"] + fx * w, MARGIN["top"] + (1 - fy) * h


@pytest.mark.parametrize("xscale", ["log", "linear"])
def test_points_sit_where_a_hand_computed_scale_puts_them(xscale):
    ax = _axes(xscale)
    xs, ys = [1_500.0, 42_000.0, 380_000.0], [81.0, 88.5, 91.2]
    ax.scatter(xs, ys)
    ax.set_xlim(1_000, 500_000)
    ax.set_ylim(80, 92)
    circles = _parse(render_axes(ax)).iter(f"{SVG}circle")
    for circle, x, y in zip(circles, xs, ys, strict=True):
        ex, ey = _expected_px(ax, x, y)
        assert float(circle.get("cx")) == pytest.approx(ex, abs=0.06)
        assert float(circle.get("cy")) == pytest.approx(ey, abs=0.06)


def test_a_steps_post_frontier_is_the_staircase_matplotlib_draws():
    ax = _axes()
    ax.plot([10, 100, 1000], [80, 85, 90], drawstyle="steps-post", color="#e5883e")
    ax.set_xlim(5, 2000)
    ax.set_ylim(75, 95)
    (polyline,) = _parse(render_axes(ax)).iter(f"{SVG}polyline")
    points = [tuple(map(float, p.split(","))) for p in polyline.get("points").split()]
    corners = [(10, 80), (100, 80), (100, 85), (1000, 85), (1000, 90)]
    assert len(points) == len(corners)
    for (px, py), (x, y) in zip(points, corners, strict=True):
        ex, ey = _expected_px(ax, x, y)
        assert (px, py) == (pytest.approx(ex, abs=0.06), pytest.approx(ey, abs=0.06))
    assert polyline.get("stroke") == "#e5883e"


def test_tick_labels_are_matplotlibs_own_and_only_those_inside_the_limits():
    plot = ParetoPlot(interactive=False)
    plot.add(*[_point(str(i), x, 0.8 + 0.01 * i) for i, x in enumerate([2e3, 6e4, 9e5])])
    ax = plot.ax
    low, high = ax.get_xlim()
    shown = [v for v in ax.get_xticks() if low <= v <= high]
    expected = ax.xaxis.get_major_formatter().format_ticks(shown)
    root = _parse(plot.view.widget.value)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    for label in expected:
        assert label in texts
    assert "size on disk (log scale)" in texts and "accuracy (%)" in texts
    assert "3 configurations, 3 on the frontier" in texts


def _point(recipe: str, size: float, acc: float, label: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        recipe=recipe,
        label=label or recipe,
        accuracy=acc,
        artifact_bytes=size,
        latency_ms_p50=size / 1e4,
        co2_g_per_1k=size / 1e7,
    )


@pytest.mark.parametrize(("low", "high"), [(1e3, 1e8), (2e3, 6e5), (1e2, 1e12), (4e4, 9e4)])
@pytest.mark.parametrize("axis", ["size", "latency", "co2"])
def test_the_dashboard_images_x_labels_leave_room_for_their_text(low, high, axis):
    """Labels are centred on their ticks; at 0.62 em per character (wider than DejaVu Sans'
    average) two neighbours never touch."""
    plot = ParetoPlot(x_axis=axis, interactive=False)
    plot.add(*[_point(str(i), x, 0.8) for i, x in enumerate([low, (low * high) ** 0.5, high])])
    root = _parse(plot.view.widget.value)
    bottom = float(root.get("height")) - MARGIN["bottom"]
    labels = [
        t
        for t in root.iter(f"{SVG}text")
        if t.get("text-anchor") == "middle"
        and float(t.get("y")) > bottom
        and float(t.get("y")) < bottom + 15  # tick labels, not the axis label below them
    ]
    assert 2 <= len(labels) <= 6
    spans = []
    for t in labels:
        half = 0.62 * float(t.get("font-size")) * len(t.text) / 2
        spans.append((float(t.get("x")) - half, float(t.get("x")) + half))
    for a, b in itertools.combinations(sorted(spans), 2):
        assert a[1] + 2 <= b[0], f"tick labels overlap: {[t.text for t in labels]}"


def test_tooltips_name_each_point_and_are_escaped():
    plot = ParetoPlot(interactive=False)
    plot.add(_point("a", 1e4, 0.9, "prune <50%> & 4-bit"), _point("b", 1e5, 0.91))
    root = _parse(plot.view.widget.value)
    titles = [c.find(f"{SVG}title").text for c in root.iter(f"{SVG}circle") if len(c)]
    assert titles == ["prune <50%> & 4-bit: 90.00 %, 10 kB", "b: 91.00 %, 100 kB"]


def test_the_current_configuration_is_a_star_above_the_points():
    plot = ParetoPlot(interactive=False)
    plot.add(_point("a", 1e4, 0.9), _point("b", 1e5, 0.91))
    root = _parse(plot.view.widget.value)
    children = list(root)
    star = [c for c in children if c.tag == f"{SVG}polygon" and c.get("fill") == "#d62728"]
    assert len(star) == 2  # the current point, then its legend entry
    points = [tuple(map(float, p.split(","))) for p in star[0].get("points").split()]
    cx, cy = np.mean(points, axis=0)
    ex, ey = _expected_px(plot.ax, 1e5, 91.0)
    assert (cx, cy) == (pytest.approx(ex, abs=1.0), pytest.approx(ey, abs=1.0))
    scatter = next(c for c in children if c.tag == f"{SVG}g")
    assert children.index(star[0]) > children.index(scatter)  # drawn on top (zorder 3 > 2)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(allow_nan=True, allow_infinity=True, width=32),
            st.floats(allow_nan=True, allow_infinity=True, width=32),
        ),
        max_size=12,
    ),
    st.sampled_from(["log", "linear"]),
)
def test_any_points_give_well_formed_svg_without_nan_coordinates(points, xscale):
    ax = _axes(xscale)
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    ax.scatter(xs, ys)
    ax.plot(xs, ys, drawstyle="steps-post")
    ax.set_xlim(1, 1e6)
    ax.set_ylim(0, 100)
    svg = render_axes(ax)
    root = _parse(svg)  # well formed
    assert root.tag == f"{SVG}svg"
    assert not re.search(rb'="[^"]*(nan|inf)', svg), "a coordinate is nan or inf"


def test_figures_it_cannot_draw_are_refused_and_the_view_falls_back_to_savefig():
    ax = _axes("linear")
    ax.imshow(np.eye(3))
    assert not supports(ax)
    with pytest.raises(ValueError, match="savefig"):
        render_axes(ax)
    figure = Figure(figsize=(4, 3))
    figure.subplots(1, 2)
    assert not supports(figure.axes[0])
    view = FigureView((4, 3), interactive=False)
    view.figure.subplots(1, 2)[0].bar([1, 2], [3, 4])
    view.redraw()
    svg = bytes(view.widget.value)
    assert svg.startswith(b"<?xml") and b"<svg" in svg


def test_figure_view_refuses_an_unknown_interactive_value():
    with pytest.raises(TypeError, match="True, False or None"):
        FigureView((4, 3), interactive="yes")


def test_rendering_is_far_cheaper_than_matplotlibs_own_svg():
    """Not a timing target (those live in benchmarks): a ratio within one run, to catch a
    change that silently falls back to savefig."""
    plot = ParetoPlot(interactive=False)
    rng = np.random.default_rng(0)
    plot.add(
        *[
            _point(str(i), float(x), 0.8 + 0.1 * rng.random())
            for i, x in enumerate(rng.uniform(5e3, 4e5, 40))
        ]
    )
    started = time.perf_counter()
    for _ in range(5):
        render_axes(plot.ax, plot.view.point_titles)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(5):
        plot.view.figure.savefig(__import__("io").BytesIO(), format="svg")
    theirs = time.perf_counter() - started
    assert ours < theirs / 3, (ours, theirs)


def test_an_axhline_spans_the_axes_at_its_value_dashed_like_matplotlib():
    ax = _axes()
    ax.scatter([10, 1000], [80, 90])
    ax.axhline(85, color="#555", ls="--", lw=1, label="accuracy floor")
    ax.set_xlim(5, 2000)
    ax.set_ylim(75, 95)
    ax.legend()
    root = _parse(render_axes(ax))
    lines = [p for p in root.iter(f"{SVG}polyline") if p.get("stroke") == "#555555"]
    assert len(lines) == 1
    (x1, y1), (x2, y2) = [tuple(map(float, p.split(","))) for p in lines[0].get("points").split()]
    _, ey = _expected_px(ax, 10, 85)
    width = round(5.6 * 96) - MARGIN["left"] - MARGIN["right"]
    assert (x1, x2) == (
        pytest.approx(MARGIN["left"], abs=0.06),
        pytest.approx(MARGIN["left"] + width, abs=0.06),
    )
    assert y1 == y2 == pytest.approx(ey, abs=0.06)
    pt = 96 / 72
    dashes = [float(v) for v in lines[0].get("stroke-dasharray").split()]
    assert dashes == [pytest.approx(3.7 * pt, abs=0.06), pytest.approx(1.6 * pt, abs=0.06)]
    legend = [e for e in root.iter(f"{SVG}line") if e.get("stroke-dasharray")]
    assert len(legend) == 1  # the floor's legend entry is dashed too


def test_the_dashboards_recommendation_view_is_an_svg_image_too():
    from widgets.recommendation import RecommendationView

    view = RecommendationView(
        [_point("a", 1e4, 0.9), _point("b", 1e5, 0.93)], floor=0.91, interactive=False
    )
    assert supports(view.ax)
    root = _parse(bytes(view.view.widget.value))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "accuracy floor" in texts and "accuracy (%)" in texts
