"""What assistive tech hears from every slider in widgets/: the value a position stands for.

The reference for each position is ipywidgets' own model (set the slider's ``index`` or
``value`` as the page would, read the component's value and the box beside it); the table
is read back from the HTML the page receives; the page's mapping (``ARIA_FOR_JS``) runs in
Node. Chromium itself: ``tests/test_browser.py``.
"""

from __future__ import annotations

import html
import json
import math
import re
import shutil
import subprocess

import ipywidgets as w
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from widgets.aria import ARIA_FOR_JS, SliderAria, aria_table
from widgets.recommendation import RecommendationView
from widgets.scale import DeploymentScale
from widgets.sliders import BitWidthSlider, ResolutionSlider, SparsitySlider


def received(aria: SliderAria) -> dict:
    """The table as the page reads it from the HTML widget's value."""
    match = re.search(r"data-aria='([^']*)'", aria.value)
    assert match, aria.value
    return json.loads(html.unescape(match.group(1)))


def test_the_bits_slider_says_bits_not_the_options_index():
    bits = BitWidthSlider()
    table = received(bits.aria)
    assert table == {**bits.aria.spec}
    assert table["slider"] == "lab-bits-slider" and (table["min"], table["step"]) == (0, 1)
    for index, (now, text) in enumerate(table["rows"]):
        bits.slider.index = index  # the page moves the handle to this position
        assert now == bits.value, index
        assert text == bits.entry.value  # what the box beside it shows: "4 bits", "off (fp32)"
    assert table["rows"][5] == [4, "4 bits"]  # off, 8, 7, 6, 5, 4: index 5 is 4 bits
    assert (table["low"], table["high"]) == (1, 32)


def test_the_resolution_slider_says_pixels_and_follows_the_sizes_offered():
    resolution = ResolutionSlider()
    resolution.set_sizes((28, 14, 7))
    table = received(resolution.aria)
    assert len(table["rows"]) == 3
    for index, (now, text) in enumerate(table["rows"]):
        resolution.slider.index = index
        assert (now, text) == (resolution.value, resolution.entry.value)
    assert (table["low"], table["high"]) == (7, 28)


def test_the_pruning_slider_says_percent():
    sparsity = SparsitySlider()
    table = received(sparsity.aria)
    assert table["rows"][-1] == [95, "95 %"] and table["high"] == 95
    for index, (now, text) in enumerate(table["rows"]):
        sparsity.slider.value = table["min"] + index * table["step"]
        assert now == pytest.approx(100 * sparsity.value)
        assert text.replace(" ", "") == sparsity.entry.value  # box: "70%"


def test_the_inferences_per_day_slider_says_the_count_not_its_exponent():
    scale = DeploymentScale(per_day=1_000_000)
    table = received(scale.aria)
    six = round((6 - table["min"]) / table["step"])
    assert table["rows"][six] == [1_000_000, "1,000,000 per day"]
    assert (table["low"], table["high"]) == (100, 10**10)
    scale.entry.value = "5000"  # typed: the page puts the handle at 10^3.75 = 5,623
    table = received(scale.aria)
    snapped = round((math.log10(5000) - table["min"]) / table["step"])
    assert table["rows"][snapped] == [5000, "5,000 per day"]  # said as typed
    assert table["rows"][snapped + 1][0] == round(10 ** (table["min"] + (snapped + 1) * 0.25))


def test_the_accuracy_floor_says_percent_and_follows_its_range():
    rows = [
        {"name": n, "recipe": "{}", "label": "b", "accuracy": a, "artifact_bytes": b}
        for n, a, b in (("a", 0.80, 1e4), ("b", 0.92, 1e5))
    ]
    view = RecommendationView(rows, floor=0.85, interactive=False)
    table = received(view.floor_aria)
    assert (table["low"], table["high"]) == (80.0, 92.0)
    index = round((view.floor.value - table["min"]) / table["step"])
    assert table["rows"][index] == [85.0, "85.0 %"]


def test_a_slider_it_cannot_read_is_refused_by_name():
    with pytest.raises(TypeError, match="IntSlider, FloatSlider"):
        aria_table(w.IntRangeSlider(), str)
    with pytest.raises(ValueError, match="at most 1001 positions"):
        aria_table(w.FloatSlider(min=0, max=1, step=1e-4), str)


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@settings(max_examples=25, deadline=None)
@given(
    position=st.one_of(
        st.floats(-5, 60, allow_nan=False),
        st.sampled_from(["3", "1e400", "abc", "-0"]),
    )
)
def test_the_pages_mapping_reads_the_nearest_row_and_never_fails(position):
    spec = aria_table(w.IntSlider(min=0, max=95, step=5), lambda p: f"{p} %")
    script = (
        f"const f = {ARIA_FOR_JS};\n"
        f"process.stdout.write(JSON.stringify(f({json.dumps(spec)}, {json.dumps(position)})));"
    )
    out = subprocess.run([NODE, "-e", script], capture_output=True, text=True, check=True).stdout
    now, text, low, high = json.loads(out)
    number = float(position) if not isinstance(position, str) or position != "abc" else None
    if number is None or not math.isfinite(number):
        expected = 0
    else:
        expected = min(19, max(0, math.floor(number / 5 + 0.5)))  # JS Math.round: half up
    assert (now, text) == (str(5 * expected), f"{5 * expected} %")
    assert (low, high) == ("0", "95")
