"""Widgets refuse what they are given exactly as the lab's functions do, by name.

A percentage where a fraction is wanted is refused by the slider and by PruneConfig alike
(never clamped by one and refused by the other); constructor options name the allowed
values (a ``ValueError``, not a bare traitlets message); a refused ``Dashboard(...)`` leaves
no thread and no second traceback from ``__del__``.
"""

from __future__ import annotations

import gc
import math
import sys
import threading
import time

import pytest
import traitlets
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.recommend import recommend
from lab.techniques.configs import ConfigError, PruneConfig
from widgets import (
    BitWidthSlider,
    Dashboard,
    DeploymentScale,
    ParetoPlot,
    RecommendationView,
    ResolutionSlider,
    SparsitySlider,
)
from widgets.validation import WidgetValueError

ANY_VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-200, 200),
    st.booleans(),
    st.text(max_size=4),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(ANY_VALUE)
def test_a_sparsity_the_slider_takes_prune_config_takes_and_the_other_way(value):
    slider = SparsitySlider(value=0.5)
    try:
        slider.value = value
    except WidgetValueError as exc:
        assert str(exc).startswith("sparsity must be a fraction from 0 to 0.95")
        assert slider.value == 0.5  # left where it was
        if isinstance(value, (int, float)) and 1 < value <= 100:
            assert "a percentage?" in str(exc)
        return
    assert math.isclose(slider.value, round(value / 0.05) * 0.05, abs_tol=1e-9)  # only snapped
    assert PruneConfig(value).sparsity == float(value)  # the function underneath agrees


@pytest.mark.parametrize("value", [50, 95.0, 1.0, -0.1, math.nan])
def test_a_value_prune_config_refuses_the_slider_refuses_too(value):
    with pytest.raises(ConfigError):
        PruneConfig(value)
    with pytest.raises(ValueError, match="sparsity must be a fraction"):
        SparsitySlider(value=value)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: SparsitySlider(max_sparsity=1.0), "max_sparsity must be a fraction in"),
        (lambda: SparsitySlider(max_sparsity=95), "max_sparsity must be a fraction in"),
        (lambda: SparsitySlider(step=0), "step must be a fraction"),
        (lambda: SparsitySlider(structure="filters"), "structure must be one of"),
        (lambda: ResolutionSlider(sizes=[]), "sizes must be a non-empty list"),
        (lambda: ResolutionSlider(sizes="28"), "sizes must be a non-empty list"),
        (lambda: ResolutionSlider(sizes=[28, 14.5]), "sizes entry must be an integer"),
        (lambda: ResolutionSlider(value=100), "resolution must be an integer from 7 to 28"),
        (lambda: BitWidthSlider(value=4.0), "bit-width must be an integer from 1 to 8"),
        (lambda: BitWidthSlider(granularity="row"), "granularity must be one of"),
        (lambda: RecommendationView([], objective="size"), "objective must be one of 'bytes'"),
        (lambda: RecommendationView([], floor=90), "floor must be a fraction from 0 to 1"),
        (lambda: ParetoPlot(x_axis="bytes"), "x_axis must be one of 'size'"),
        (lambda: DeploymentScale(per_day=5), "per_day .* from 100 to 10 billion"),
        (lambda: DeploymentScale(per_day="1e6"), "per_day .* from 100 to 10 billion"),
        (lambda: Dashboard(model="resnet", evaluator=lambda *a, **k: None), "unknown model"),
        (lambda: Dashboard(debounce=-1, evaluator=lambda *a, **k: None), "debounce must be"),
        (lambda: Dashboard(progressive="yes", evaluator=lambda *a, **k: None), "progressive"),
    ],
)
def test_widget_arguments_are_refused_naming_what_is_allowed(make, words):
    with pytest.raises(ValueError, match=words) as caught:
        make()
    assert isinstance(caught.value, traitlets.TraitError)  # code catching TraitError still works


def test_a_floor_the_view_takes_recommend_takes():
    rows = [{"name": "a", "accuracy": 0.9, "artifact_bytes": 10, "split": "live"}]
    for floor in (0.0, 0.5, 1.0):
        RecommendationView(rows, floor=floor, split="live", interactive=False).close()
        recommend(rows, min_accuracy=floor)
    for floor in (1.5, 90, -0.1, "0.9"):
        with pytest.raises(ValueError):
            recommend(rows, min_accuracy=floor)
        with pytest.raises(ValueError):
            RecommendationView(rows, floor=floor, split="live", interactive=False)


def test_a_refused_dashboard_leaves_no_thread_and_no_traceback_from_del(monkeypatch):
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    gc.collect()  # earlier tests' widgets finish closing first (their timers are theirs)
    time.sleep(0.5)
    before = set(threading.enumerate())  # other tests' threads may end meanwhile: count new ones
    for kwargs in ({"data": "junk"}, {"model": "resnet"}, {"country": "XYZ"}, {"debounce": "x"}):
        with pytest.raises(ValueError):
            Dashboard(evaluator=lambda *a, **k: None, **kwargs)
        gc.collect()
    assert unraisable == []
    # Timers are left out: codecarbon's periodic sampler of an earlier test's evaluation may
    # start one meanwhile; a Dashboard's own timer starts only after it has measured something
    new = {t for t in set(threading.enumerate()) - before if not isinstance(t, threading.Timer)}
    assert new == set()
