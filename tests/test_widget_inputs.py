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
        (lambda: SparsitySlider(step=0), "step must be a whole number of percent > 0"),
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


# ------------------------------------------------------------------ second round (issue 19)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-200, 200)))
def test_a_floor_set_on_the_views_slider_is_refused_exactly_when_recommend_refuses_it(value):
    rows = [
        {"name": n, "accuracy": a, "artifact_bytes": b, "split": "live"}
        for n, a, b in (("a", 0.8, 10), ("b", 0.9, 20))
    ]
    view = RecommendationView(rows, split="live", interactive=False)
    before = view.floor.value
    try:
        recommend(rows, min_accuracy=value)
        refused_by_recommend = False
    except ValueError:
        refused_by_recommend = True
    try:
        view.floor.value = value
    except WidgetValueError as exc:
        assert refused_by_recommend
        assert str(exc).startswith("floor must be") and view.floor.value == before
    else:
        assert not refused_by_recommend  # a percentage is never clamped to the slider's end
        assert view.floor.min <= view.floor.value <= view.floor.max
    view.close()


def _whole_percent(low: int, high: int):
    return st.integers(low, high).map(lambda p: p / 100)


@settings(max_examples=60, deadline=None)
@given(
    max_sparsity=st.one_of(_whole_percent(1, 99), st.floats(0.001, 0.999)),
    step=st.one_of(_whole_percent(1, 50), st.floats(0.001, 0.5)),
    position=st.floats(0, 1),
)
def test_the_sparsity_slider_shows_the_value_it_holds_at_every_position(
    max_sparsity, step, position
):
    try:
        slider = SparsitySlider(max_sparsity=max_sparsity, step=step)
    except WidgetValueError as exc:
        assert str(exc).split()[0] in {"max_sparsity", "step"}
        return
    top = slider.slider.max
    slider.slider.value = round(position * top / slider.slider.step) * slider.slider.step
    assert slider.slider.value == round(100 * slider.value)  # the slider shows what is held
    assert 0 <= slider.value <= slider.max_sparsity
    if slider.value:
        assert PruneConfig(slider.value).sparsity == slider.value


def _choice_traits():
    from widgets import DevicePanel, MetricsPanel, RegionPicker
    from widgets.pickers import MetricPicker

    return [
        (MetricsPanel, "metric"),
        (lambda: ParetoPlot(interactive=False), "x_axis"),
        (lambda: ParetoPlot(interactive=False), "metric"),
        (SparsitySlider, "structure"),
        (BitWidthSlider, "granularity"),
        (RegionPicker, "value"),
        (MetricPicker, "value"),
        (DevicePanel, "device"),
        (DeploymentScale, "per_day"),
    ]


@settings(max_examples=80, deadline=None)
@given(which=st.integers(0, 8), value=st.one_of(ANY_VALUE, st.sampled_from(["size", "co2", "mae",
       "FRA", "fra", "channel", "tensor", "accuracy", "raspberry-pi-4"])))  # fmt: skip
def test_every_widget_option_is_taken_or_refused_in_the_labs_words(which, value):
    make, name = _choice_traits()[which]
    widget = make()
    try:
        setattr(widget, name, value)
    except WidgetValueError as exc:
        message = str(exc)
        assert "expected" not in message and "\n" not in message
        assert message.split()[0] in {name, "metric", "country", "unknown"}, message
    widget.close()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Dashboard(thin_models="LogisticRegression", evaluator=print), "thin_models must"),
        (lambda: Dashboard(model={}, evaluator=print), "model=.. holds no model: pass"),
        (lambda: Dashboard(name=5, evaluator=print), "name must be a non-empty string"),
        (lambda: RecommendationView(5), "results must be a DataFrame"),
        (lambda: RecommendationView(["x"]), "results must be a DataFrame"),
        (lambda: SparsitySlider(max_sparsity=0.5, step=0.15), "whole number of steps of 0.15"),
        (lambda: SparsitySlider(step=0.001), "step must be a whole number of percent"),
    ],
)
def test_more_widget_arguments_are_refused_naming_what_is_allowed(make, words):
    with pytest.raises(ValueError, match=words) as caught:
        make()
    assert isinstance(caught.value, traitlets.TraitError)


def test_a_thin_list_given_as_one_name_is_refused_by_every_picker():
    from widgets.compare import CompareApp
    from widgets.pickers import ModelPicker

    for make in (
        lambda: ModelPicker(thin_models="LogisticRegression"),
        lambda: CompareApp(thin="LogisticRegression", evaluator=print),
    ):
        with pytest.raises(ValueError, match="must be a list of names from"):
            make()


@settings(max_examples=100, deadline=None)
@given(st.one_of(ANY_VALUE, st.lists(ANY_VALUE, max_size=4)))
def test_a_scan_takes_the_sparsities_prune_config_takes(sparsities):
    from lab.techniques import schema
    from widgets.sensitivity import SensitivityView

    try:
        view = SensitivityView(object(), sparsities=sparsities, scan=print)
    except WidgetValueError as exc:
        assert str(exc).startswith("sparsities must be a non-empty list of fractions in [0, 1)")
        assert (
            not isinstance(sparsities, list)
            or not sparsities
            or not all(schema.SPARSITY.contains(s) for s in sparsities)
        )
        return
    assert view.sparsities and all(PruneConfig(s).sparsity == s for s in view.sparsities)
    view.close()


@pytest.fixture
def study_url(tmp_path):
    import optuna

    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(study_name="s", storage=url, directions=["maximize", "minimize"])
    study.set_user_attr("objectives", ["val_accuracy", "artifact_bytes"])
    return url


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"objectives": "val_accuracy,artifact_bytes"}, "objectives must be a list of two"),
        ({"objectives": ("val_accuracy",)}, "objectives must be two or more distinct"),
        ({"objectives": ("accuracy", "bytes")}, "objectives must be two or more distinct"),
        ({"storage": "nonsense"}, "storage must be an SQLAlchemy URL"),
        ({"storage": 5}, "storage must be an SQLAlchemy URL"),
        ({"models_dir": 5}, "models_dir must be a folder"),
        ({"refresh": "no"}, "refresh must be True or False"),
    ],
)
def test_a_search_view_refuses_its_arguments_by_name(kwargs, words, study_url):
    from widgets.search_view import SearchView

    with pytest.raises((ValueError, TypeError), match=words):
        SearchView("s", **{"storage": study_url, **kwargs})


def test_a_search_view_naming_the_objectives_wrongly_says_so(study_url):
    from widgets.search_view import SearchView

    view = SearchView("s", storage=study_url, objectives=("val_accuracy", "macs"))
    assert "objectives of study 's' are val_accuracy, artifact_bytes" in view.error
    view.close()


REFUSED = [
    lambda: Dashboard(model=5),
    lambda: Dashboard(thin_models="SVC", evaluator=print),
    lambda: RecommendationView(5),
    lambda: SparsitySlider(step=0.001),
    lambda: ResolutionSlider(sizes=[]),
    lambda: BitWidthSlider(value=9),
    lambda: DeploymentScale(per_day=0),
    lambda: ParetoPlot(x_axis="bytes"),
    lambda: Dashboard(store="results.sqlite", evaluator=print),
]


def _refused_views():
    from widgets import DevicePanel, RegionPicker
    from widgets.compare import CompareApp
    from widgets.pickers import MetricPicker, ModelPicker
    from widgets.search_view import SearchView
    from widgets.sensitivity import SensitivityView

    return [
        *REFUSED,
        lambda: CompareApp(entries=[("cnn", "fp32 (no recipe)")], evaluator=print),
        lambda: CompareApp(entries="cnn", evaluator=print),
        lambda: CompareApp(models=[1], evaluator=print),
        lambda: SearchView("s", refresh="no"),
        lambda: SearchView(5),
        lambda: SensitivityView(object(), sparsities=[50]),
        lambda: ModelPicker(user_models=[1]),
        lambda: ModelPicker(zoo_models="no"),
        lambda: ModelPicker(user_models={" ": __import__("torch").nn.Linear(1, 1)}),
        lambda: MetricPicker("multiclass", 3),
        lambda: RegionPicker(None),
        lambda: DevicePanel(None),
    ]


def test_a_refused_widget_leaves_no_thread_and_no_traceback_from_del(monkeypatch):
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    gc.collect()
    time.sleep(0.5)
    before = set(threading.enumerate())
    for make in _refused_views():
        with pytest.raises((ValueError, TypeError)) as caught:
            make()
        assert "\n" not in str(caught.value) and "expected" not in str(caught.value)
        del caught
    gc.collect()  # every refused widget's __del__ runs here
    assert unraisable == [], [str(u.exc_value) for u in unraisable]
    new = {t for t in set(threading.enumerate()) - before if not isinstance(t, threading.Timer)}
    assert new == set()


@settings(max_examples=80, deadline=None)
@given(
    which=st.sampled_from(["metric", "objective", "structure"]),
    value=st.one_of(ANY_VALUE, st.sampled_from(["accuracy", "mae", "bytes", "co2", "channel"])),
)
def test_a_views_choice_set_in_code_is_an_option_or_refused_by_name(which, value):
    from widgets.sensitivity import SensitivityView

    owner = (
        SensitivityView(object(), scan=print)
        if which == "structure"
        else RecommendationView([], interactive=False)
    )
    control = getattr(owner, which)
    offered = list(control._options_values)
    before = control.value
    try:
        control.value = value
    except WidgetValueError as exc:
        assert str(exc).startswith(f"{which} must be one of") and control.value == before
        assert value not in offered or value is None
    else:
        assert value in offered and control.value == value
    owner.close()
