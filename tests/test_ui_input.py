"""What a user types or sees in the controls: typed values are read as meant or refused with a
visible message naming the allowed range; labels fit, no emoji, no CDN icons, ticks apart."""

from __future__ import annotations

import itertools
import re
from types import SimpleNamespace

import ipywidgets as w
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextPath

from widgets import (
    BitWidthSlider,
    DeploymentScale,
    MetricsPanel,
    ParetoPlot,
    ResolutionSlider,
    SparsitySlider,
)
from widgets.figure import log_ticks
from widgets.sliders import bits_label
from widgets.status import StatusLine
from widgets.units import format_count, parse_count, parse_percent

PERCENT_RANGE = "from 0 % to 95 %"
COUNT_RANGE = "from 100 to 10 billion"


def _visible(feedback: w.HTML) -> bool:
    return feedback.layout.display != "none" and bool(feedback.value)


# ------------------------------------------------------------------ parse_percent


@given(p=st.integers(0, 95), space=st.sampled_from(["", " "]), pad=st.sampled_from(["", "  "]))
def test_percent_typed_every_way_means_the_same(p, space, pad):
    expected = p / 100
    assert parse_percent(f"{pad}{p}{space}%{pad}", 0.95) == pytest.approx(expected)
    assert parse_percent(f"{p / 100}", 0.95) == pytest.approx(expected)  # a fraction
    if p >= 1:
        assert parse_percent(f"{pad}{p}{pad}", 0.95) == pytest.approx(expected)  # bare percent


@given(text=st.text(max_size=8))
def test_percent_parser_returns_a_fraction_in_range_or_names_the_range(text):
    try:
        value = parse_percent(text, 0.95, name="Pruning")
    except ValueError as exc:
        assert f"Pruning must be {PERCENT_RANGE}" in str(exc)
        assert repr(text) in str(exc)
    else:
        assert 0.0 <= value <= 0.95


@given(
    text=st.one_of(
        st.floats(95.001, 1e6).map(lambda v: f"{v}"),
        st.floats(0.01, 1e6).map(lambda v: f"-{v}"),
        st.floats(0.01, 1e6).map(lambda v: f"−{v}%"),
        st.sampled_from(["", " ", "%", "abc", "nan", "inf", "5o", "50%%", "0,5", "1e2", "--5"]),
    )
)
def test_percent_parser_refuses_out_of_range_and_garbage(text):
    with pytest.raises(ValueError, match=PERCENT_RANGE):
        parse_percent(text, 0.95)


# ------------------------------------------------------------------ sparsity box


@pytest.mark.parametrize("typed", ["50", "50%", "50 %", "0.5", " .5 "])
def test_typed_sparsity_is_read_as_meant(typed):
    slider = SparsitySlider()
    slider.entry.value = typed
    assert slider.value == 0.5 and slider.slider.value == 50  # the page's slider: percent
    assert slider.entry.value == "50%" and slider.error == "" and not _visible(slider.feedback)
    assert slider.config.sparsity == 0.5


@pytest.mark.parametrize("typed", ["-10", "abc", "", "120", "96%", "nan"])
def test_bad_typed_sparsity_is_refused_with_a_visible_message(typed):
    slider = SparsitySlider(value=0.3)
    slider.entry.value = typed
    assert slider.value == 0.3 and slider.entry.value == "30%"  # unchanged, box shows it again
    assert PERCENT_RANGE in slider.error and _visible(slider.feedback)
    assert "lab-error" in slider.feedback.value and PERCENT_RANGE in slider.feedback.value
    slider.slider.value = 70  # dragging afterwards (the page sends percent) clears the message
    assert slider.entry.value == "70%" and slider.error == "" and not _visible(slider.feedback)


def test_sparsity_off_the_grid_is_rounded_with_a_note():
    slider = SparsitySlider()
    slider.entry.value = "33"
    assert slider.value == 0.35 and slider.entry.value == "35%" and slider.error == ""
    assert _visible(slider.feedback) and "rounded to 35%" in slider.feedback.value


def test_sparsity_slider_has_no_editable_readout_that_misreads_percent():
    slider = SparsitySlider()
    assert slider.slider.readout is False
    assert "lab-sparsity-readout" in slider.entry._dom_classes


# ------------------------------------------------------------------ parse_count


@given(n=st.integers(100, 10**10))
def test_count_typed_every_way_means_the_same(n):
    assert parse_count(str(n), 100, 1e10) == n
    assert parse_count(f"{n:,}", 100, 1e10) == n
    assert parse_count(f"{n:_}".replace("_", " "), 100, 1e10) == n
    assert parse_count(f"{n:.6e}", 100, 1e10) == pytest.approx(n, rel=1e-6)


@given(
    mantissa=st.decimals(1, 999, places=2),
    suffix=st.sampled_from([("k", 1e3), ("K", 1e3), ("M", 1e6), ("mn", 1e6), ("B", 1e9)]),
    space=st.sampled_from(["", " "]),
)
def test_count_suffixes(mantissa, suffix, space):
    letters, factor = suffix
    expected = float(mantissa) * factor
    if not 100 <= expected <= 1e10:
        return
    assert parse_count(f"{mantissa}{space}{letters}", 100, 1e10) == pytest.approx(expected)


@given(text=st.text(max_size=10))
def test_count_parser_returns_a_value_in_range_or_names_the_range(text):
    try:
        value = parse_count(text, 100, 1e10, name="Inferences per day")
    except ValueError as exc:
        assert f"Inferences per day must be a number {COUNT_RANGE}" in str(exc)
    else:
        assert 100 <= value <= 1e10


@pytest.mark.parametrize(
    "text", ["-5", "0", "", "99", "1e11", "2T", "1,5", "1,00,000", "abc", "5 apples", "1e999"]
)
def test_count_parser_refuses_with_the_range(text):
    with pytest.raises(ValueError, match=COUNT_RANGE):
        parse_count(text, 100, 1e10)


def test_format_count_reads_back_through_parse_count():
    for value in (100, 5000, 1_778_279, 10**9, 2.5e9, 1e10):
        assert parse_count(format_count(value), 100, 1e10) == pytest.approx(value, rel=1e-6)


# ------------------------------------------------------------------ deployment box


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("5000", 5000), ("1e6", 1e6), ("1,000,000", 1e6), ("2M", 2e6), ("3 billion", 3e9)],
)
def test_typed_inferences_per_day_are_read_as_meant(typed, expected):
    scale = DeploymentScale()
    scale.co2_g_per_1k = 0.02
    scale.entry.value = typed
    assert scale.per_day == expected and scale.error == "" and not _visible(scale.feedback)
    assert scale.kg_per_year == pytest.approx(expected / 1000 * 0.02 * 365 / 1000)
    assert scale.entry.value == format_count(expected)


@pytest.mark.parametrize("typed", ["-5", "0", "", "abc", "1e12"])
def test_bad_inferences_per_day_are_refused_with_a_visible_message(typed):
    scale = DeploymentScale(per_day=1e6)
    scale.co2_g_per_1k = 0.02
    before = scale.summary.value
    scale.entry.value = typed
    assert scale.per_day == 1e6 and scale.summary.value == before
    assert scale.entry.value == "1,000,000"
    assert COUNT_RANGE in scale.error and _visible(scale.feedback)
    scale.slider.value = 1e8  # moving the slider clears the message
    assert scale.error == "" and not _visible(scale.feedback)
    assert scale.entry.value == "100,000,000"
    assert scale.slider.readout is False


# ------------------------------------------------------------------ minor items


def test_one_bit_is_singular():
    assert bits_label(1) == "1 bit" and bits_label(2) == "2 bits"
    labels = BitWidthSlider().slider.options
    assert ("1 bit", 1) in labels and not any(re.fullmatch(r"1 bits", label) for label, _ in labels)
    bits = BitWidthSlider(value=1)
    assert bits.slider.label == "1 bit"


def test_busy_indicator_is_a_css_spinner_not_an_emoji():
    line = StatusLine()
    line.busy = True
    shown = line.text.value
    assert "lab-spinner" in shown and "@keyframes" in shown and "evaluating" in shown
    assert "prefers-reduced-motion" in shown
    assert not [c for c in shown if ord(c) >= 0x1F000 or c in "⏳⌛"], shown


def _descendants(widget: w.Widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _descendants(child)


def _owned_widgets():
    return [
        SparsitySlider(),
        BitWidthSlider(),
        ResolutionSlider(),
        DeploymentScale(),
        StatusLine(),
        ParetoPlot(),
        MetricsPanel(),
    ]


def test_no_font_awesome_icons_in_these_controls():
    for root in _owned_widgets():
        for widget in _descendants(root):
            assert not getattr(widget, "icon", ""), (type(root).__name__, widget.icon)
            assert not any(getattr(widget, "icons", [])), (type(root).__name__, widget.icons)


def test_toggle_button_labels_fit_their_buttons():
    # JupyterLab: 13 px UI font, 10 px padding each side, up to 4 px for the (empty) icon
    # slot; DejaVu Sans is wider than the usual UI fonts, so this errs on the safe side.
    font = FontProperties(family="DejaVu Sans")
    for root in _owned_widgets():
        for widget in _descendants(root):
            if not isinstance(widget, w.ToggleButtons):
                continue
            width = int(widget.style.button_width.removesuffix("px"))
            for label in widget._options_labels:
                needed = TextPath((0, 0), label, size=13, prop=font).get_extents().width + 26
                assert width >= needed, (label, width, needed)


def _point(recipe: str, size: float, acc: float, latency: float, co2: float) -> SimpleNamespace:
    return SimpleNamespace(
        recipe=recipe,
        label=recipe,
        accuracy=acc,
        artifact_bytes=size,
        latency_ms_p50=latency,
        co2_g_per_1k=co2,
    )


def _shown_tick_labels(plot: ParetoPlot):
    figure = plot.view.figure
    renderer = figure.canvas.get_renderer()
    figure.canvas.draw()
    low, high = plot.ax.get_xlim()
    ticks = [
        t
        for t in plot.ax.xaxis.get_major_ticks()
        if low <= t.get_loc() <= high and t.label1.get_visible() and t.label1.get_text()
    ]
    return [t.label1.get_window_extent(renderer) for t in ticks]


@pytest.mark.parametrize(
    ("low", "high"), [(1e3, 1e8), (2e3, 6e5), (1e2, 1e12), (4e4, 9e4), (1e3, 2e4)]
)
@pytest.mark.parametrize("axis", ["size", "latency", "co2"])
def test_pareto_x_labels_never_overlap(low, high, axis):
    plot = ParetoPlot(x_axis=axis)
    points = [
        _point(str(i), x, 0.8 + 0.01 * i, x / 1e4, x / 1e7)
        for i, x in enumerate([low, (low * high) ** 0.5, high])
    ]
    plot.add(*points)
    boxes = _shown_tick_labels(plot)
    assert 2 <= len(boxes) <= 6
    for a, b in itertools.combinations(boxes, 2):
        assert a.x1 + 2 <= b.x0 or b.x1 + 2 <= a.x0, "tick labels overlap"


@pytest.mark.parametrize(("low", "high"), [(625, 1.6e7), (1.0, 1e12), (3e3, 5e5), (5e4, 1.3e5)])
def test_log_ticks_keeps_between_two_and_max_ticks(low, high):
    for max_ticks in (3, 4, 6):
        ticks = [
            v for v in log_ticks(low, high, max_ticks).tick_values(low, high) if low <= v <= high
        ]
        assert 2 <= len(ticks) <= max_ticks, (max_ticks, ticks)
    with pytest.raises(ValueError, match="0 < low < high"):
        log_ticks(10, 1)
