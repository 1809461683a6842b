"""One look across views (lab.decide.plot_style): the dashboard's Pareto plot, its recommendation
view and notebook 05's three-panel chart share one font scale and one tick style; no tick labels
overlap, and no legend or label hides a point.

Extents are measured by matplotlib's own renderer (the notebook's chart) or read from the SVG
the page receives (the dashboard's images), with the same character-width bound as
``tests/test_svg_axes.py``.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from test_notebook05_helpers import FASHION, TABULAR

from lab.decide.plot_style import FONT_SIZES, tick_text
from lab.decide.recommend import plot_tradeoffs
from lab.meters.units import format_bytes, format_grams, format_si
from widgets.pareto_plot import ParetoPlot
from widgets.recommendation import RecommendationView
from widgets.svg_axes import MARGIN

SVG = "{http://www.w3.org/2000/svg}"
OBJECTIVES = ("size", "latency", "co2")
BUTTONS = {"size": "bytes", "latency": "latency", "co2": "co2"}  # the view's objective names


def _rows(points):
    return [
        SimpleNamespace(
            name=f"m{i}",
            recipe="{}",
            label="baseline",
            split="live",
            country="FRA",
            accuracy=accuracy,
            artifact_bytes=size,
            latency_ms_p50=size / 1e5,
            co2_g_per_1k=size / 1e9,
        )
        for i, (size, accuracy) in enumerate(points)
    ]


SPREADS = [  # (size, accuracy): a narrow range (one decade or less), a wide one, a crowd
    [(40_000, 0.90), (90_000, 0.92)],
    [(3_000, 0.80), (400_000, 0.91), (4_000_000, 0.86), (90_000_000, 0.93)],
    [(2_000 * 1.7**i, 0.80 + 0.008 * i) for i in range(14)],
]


def _views(points, objective):
    rows = _rows(points)
    pareto = ParetoPlot(x_axis=objective, interactive=False)
    pareto.add(*rows)
    advice = RecommendationView(rows, objective=BUTTONS[objective], interactive=False)
    return pareto, advice


def _svg(view) -> ET.Element:
    return ET.fromstring(bytes(view.view.widget.value))


def _tick_labels(root: ET.Element) -> list[ET.Element]:
    bottom = float(root.get("height")) - MARGIN["bottom"]
    return [
        t
        for t in root.iter(f"{SVG}text")
        if t.get("text-anchor") == "middle" and bottom < float(t.get("y")) < bottom + 15
    ]


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("points", SPREADS)
def test_both_dashboard_plots_share_fonts_tick_texts_and_labels(points, objective):
    pareto, advice = _views(points, objective)
    trees = [_svg(pareto), _svg(advice)]
    ticks = [_tick_labels(root) for root in trees]
    for labels in ticks:
        assert len(labels) >= 2, [t.text for t in labels]  # never a single tick
        spans = sorted(
            (float(t.get("x")) - 0.31 * float(t.get("font-size")) * len(t.text),
             float(t.get("x")) + 0.31 * float(t.get("font-size")) * len(t.text))
            for t in labels
        )  # fmt: skip
        for a, b in itertools.pairwise(spans):
            assert a[1] + 2 <= b[0], f"tick labels overlap: {[t.text for t in labels]}"
    # one font scale: ticks, axis labels and legend entries the same size in both images
    sizes = [{t.get("font-size") for t in labels} for labels in ticks]
    assert sizes[0] == sizes[1] == {f"{FONT_SIZES['tick'] * 96 / 72:.1f}".rstrip("0")}
    for root in trees:
        texts = {t.text: t.get("font-size") for t in root.iter(f"{SVG}text")}
        assert texts["accuracy (%)"] == f"{FONT_SIZES['axis'] * 96 / 72:.0f}"
    # one tick style, in the panel's units (an independent reference: lab.meters.units)
    write = {
        "size": lambda v: format_bytes(int(round(v))),
        "latency": lambda v: format_si(v / 1000, "s"),
        "co2": format_grams,
    }[objective]
    for axes_owner in (pareto, advice):
        ax = axes_owner.ax
        low, high = ax.get_xlim()
        for value in (v for v in ax.get_xticks() if low <= v <= high):
            expected = write(value)
            shown = ax.xaxis.get_major_formatter()(value, None)
            assert float(shown.split()[0]) == pytest.approx(float(expected.split()[0]))
            assert shown.split()[1] == expected.split()[1]
    assert pareto.ax.get_xlabel() == advice.ax.get_xlabel()


def test_the_recommendation_views_legend_hides_no_point_and_lists_what_is_drawn():
    rows = _rows([(2_000 * 1.5**i, 0.80 + 0.01 * (i % 7)) for i in range(16)])
    advice = RecommendationView(rows, floor=0.84, interactive=False)
    root = _svg(advice)
    frame = next(r for r in root.iter(f"{SVG}rect") if r.get("rx") == "3")  # the legend's
    x0, y0 = float(frame.get("x")), float(frame.get("y"))
    x1, y1 = x0 + float(frame.get("width")), y0 + float(frame.get("height"))
    circles = list(root.iter(f"{SVG}circle"))
    inside = [
        c for c in circles if x0 <= float(c.get("cx")) <= x1 and y0 <= float(c.get("cy")) <= y1
    ]
    assert len(inside) == 1  # the legend's own sample of the points
    legend = [t.get_text() for t in advice.ax.get_legend().get_texts()]
    assert legend == ["models", "Pareto frontier", "accuracy floor", "recommended"]
    one_best = RecommendationView(_rows([(1e4, 0.93), (1e5, 0.90)]), interactive=False)
    texts = [t.get_text() for t in one_best.ax.get_legend().get_texts()]
    assert "Pareto frontier" not in texts  # a frontier of one point draws no line
    empty = RecommendationView([], interactive=False)
    assert empty.ax.get_legend() is None  # nothing drawn: no legend of markers not shown


def _measured(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


@pytest.mark.parametrize("rows", [FASHION, TABULAR], ids=["fashion", "tabular"])
@pytest.mark.parametrize("width", [None, (10.5, 3.4)], ids=["default", "narrow"])
def test_notebook05s_chart_hides_no_point_and_no_tick_label_overlaps(rows, width):
    from lab.decide.recommend import _marker_boxes

    fig = plot_tradeoffs(rows, title="a title", figsize=width)
    renderer = _measured(fig)
    legend = fig.legends[0].get_window_extent(renderer)
    for ax, objective in zip(fig.axes, OBJECTIVES, strict=True):
        frame = ax.get_window_extent(renderer)
        assert not legend.overlaps(frame), "the legend covers an axes"
        # tick labels: the one style, apart from each other
        ticks = [t for t in ax.get_xticklabels() if t.get_text() and t.get_visible()]
        assert len(ticks) >= 2
        assert {t.get_fontsize() for t in ticks} == {FONT_SIZES["tick"]}
        boxes = sorted((t.get_window_extent(renderer) for t in ticks), key=lambda b: b.x0)
        for a, b in itertools.pairwise(boxes):
            assert a.x1 <= b.x0, [t.get_text() for t in ticks]
        low, high = ax.get_xlim()
        for tick in ticks:
            value = tick.get_position()[0]
            if low <= value <= high:
                assert tick.get_text() == tick_text(objective)(value)
        # point labels: inside the axes, over no point and no other label
        labels = [t for t in ax.texts if t.get_text()]
        assert labels, "no point is labelled"
        extents = [t.get_window_extent(renderer) for t in labels]
        for box in extents:
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1
            assert frame.y0 <= box.y0 and box.y1 <= frame.y1
            assert not any(box.overlaps(mark) for mark in _marker_boxes(ax))
        for a, b in itertools.combinations(extents, 2):
            assert not a.overlaps(b)
        assert ax.title.get_fontsize() == FONT_SIZES["title"]
        assert ax.xaxis.label.get_fontsize() == FONT_SIZES["axis"]
    chosen = [t for ax in fig.axes for t in ax.texts if t.get_fontweight() == "bold"]
    assert chosen, "the recommended model is not named"
