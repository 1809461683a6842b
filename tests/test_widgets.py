"""Headless tests of the widgets: set ``.value`` as a user would and check what is shown.

Most tests inject a fake evaluator (fast, deterministic); one drives the real lab.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from types import SimpleNamespace

import pytest
import torch
import traitlets

from lab.pareto import dominates
from lab.techniques.configs import PruneConfig, QuantConfig, Recipe, ResolutionConfig
from widgets import (
    BitWidthSlider,
    Dashboard,
    DeploymentScale,
    LatestWorker,
    MetricsPanel,
    ModelPicker,
    ParetoPlot,
    RegionPicker,
    ResolutionSlider,
    SensitivityView,
    SparsitySlider,
    pareto_front,
)

INTENSITY = {"FRA": 56.0, "DEU": 380.0, "USA": 369.0}


def fake_measurement(
    recipe: Recipe,
    *,
    country: str = "FRA",
    split: str = "live",
    effort: str = "quick",
    name: str = "cnn",
    **_: object,
) -> SimpleNamespace:
    """Plausible numbers that depend on every knob, like lab's Measurement."""
    sparsity = recipe.prune.sparsity if recipe.prune else 0.0
    bits = recipe.quant.bits if recipe.quant else 32
    size = recipe.resolution.size if recipe.resolution else 28
    kwh = 1e-6 * (size / 28) ** 2
    return SimpleNamespace(
        name=name,
        recipe=recipe.to_json(),
        label=recipe.describe(),
        split=split,
        effort=effort,
        n_images=2000 if split == "live" else 10_000,
        accuracy=0.91 - 0.2 * sparsity**3 - 0.01 * (bits < 4),
        artifact_bytes=int(400_000 * (1 - sparsity) * bits / 32) + 1000,
        state_dict_bytes=401_000,  # the input model's fp32 file: every "× smaller" is against it
        flops=int(1e6 * (size / 28) ** 2),
        latency_ms_p50=0.5 * (size / 28) ** 2,
        energy_kwh_per_1k=kwh,
        co2_g_per_1k=kwh * INTENSITY.get(country, 100.0),
        carbon_intensity_g_per_kwh=INTENSITY.get(country, 100.0),
        country=country,
        notes=["unstructured sparsity: latency unchanged"] if sparsity else [],
        threads=2,
        executes_as="fp32",
        energy_source="codecarbon CPU-load estimate (test)",
        cached=False,
    )


class FakeEvaluator:
    """Counts calls (and the recipes asked for); optionally slow, optionally failing."""

    def __init__(self, delay: float = 0.0, fail_on: str | None = None) -> None:
        self.delay, self.fail_on = delay, fail_on
        self.calls: list[Recipe] = []
        self.kwargs: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, model, recipe, **kwargs):
        with self.lock:
            self.calls.append(recipe)
            self.kwargs.append(kwargs)
        time.sleep(self.delay)
        if self.fail_on and self.fail_on in recipe.describe():
            raise ValueError(f"cannot evaluate {recipe.describe()}: simulated failure")
        return fake_measurement(recipe, **kwargs)

    @property
    def non_baseline(self) -> list[Recipe]:
        return [r for r in self.calls if not r.is_identity]


@pytest.fixture
def dashboard():
    made = []

    def make(evaluator="fake", **kwargs):
        """A Dashboard on a FakeEvaluator by default; ``evaluator=None`` uses the real lab."""
        if evaluator == "fake":
            evaluator = FakeEvaluator()
        dash = Dashboard(model=kwargs.pop("model", "mlp"), evaluator=evaluator, **kwargs)
        made.append(dash)
        assert dash.wait(120)
        return dash

    yield make
    for dash in made:
        dash.close()


# ------------------------------------------------------------------ pareto_front


def brute_force_front(points, maximize_y=True):
    keep = [i for i, p in enumerate(points) if not any(dominates(q, p, maximize_y) for q in points)]
    first = {}  # of exact duplicates keep the first
    for i in keep:
        first.setdefault(tuple(points[i]), i)
    return sorted(first.values(), key=lambda i: (points[i][0], i))


@pytest.mark.parametrize("maximize_y", [True, False])
def test_pareto_front_matches_brute_force(maximize_y):
    rng = random.Random(0)
    for trial in range(300):
        n = rng.randint(0, 25)
        grid = trial % 2 == 0  # coarse grid: many ties and duplicates
        points = [
            (rng.randint(1, 6), rng.randint(0, 5)) if grid else (rng.random(), rng.random())
            for _ in range(n)
        ]
        assert pareto_front(points, maximize_y) == brute_force_front(points, maximize_y), points


def test_pareto_front_ignores_missing_values():
    assert pareto_front([(1.0, float("nan")), (None, 0.9), (2.0, 0.5)]) == [2]


# ------------------------------------------------------------------ components


def test_sliders_give_lab_configs_and_none_when_off():
    sparsity, bits, resolution = SparsitySlider(), BitWidthSlider(), ResolutionSlider()
    assert (sparsity.config, bits.config, resolution.config) == (None, None, None)
    sparsity.value, sparsity.structure = 0.8, "channel"
    bits.value, bits.granularity = 4, "tensor"
    resolution.value = 14
    assert sparsity.config == PruneConfig(0.8, structure="channel")
    assert bits.config == QuantConfig(bits=4, granularity="tensor")
    assert resolution.config == ResolutionConfig(14)
    # the inner ipywidgets follow (what the browser shows)
    assert (sparsity.slider.value, bits.slider.label, resolution.slider.label) == (
        80,  # percent: the page's aria values read 0–95
        "4 bits",
        "14 px",
    )


def test_slider_changes_notify_observers():
    seen = []
    slider = SparsitySlider()
    slider.observe(lambda change: seen.append(change["new"]), names="value")
    slider.slider.value = 35  # as the browser would (in percent)
    assert seen == [0.35]


def test_bad_values_are_snapped_or_rejected_with_a_message():
    sparsity = SparsitySlider(value=0.5)
    for bad in (1.7, -0.3, 50, float("nan")):  # refused, as PruneConfig refuses them
        with pytest.raises(traitlets.TraitError, match="sparsity must be a fraction from 0 to"):
            sparsity.value = bad
        assert sparsity.value == 0.5 and sparsity.slider.value == 50  # the slider: whole percent
    sparsity.value = 0.33
    assert sparsity.value == 0.35  # snapped to the 5 % step

    bits = BitWidthSlider(value=4)
    with pytest.raises(traitlets.TraitError, match="from 1 to 8, or 32"):
        bits.value = 16
    assert bits.value == 4

    resolution = ResolutionSlider()
    resolution.value = 15
    assert resolution.value == 14
    with pytest.raises(traitlets.TraitError, match="resolution must be an integer from 7 to 28"):
        resolution.value = 100
    assert resolution.value == 14


def test_resolution_sizes_follow_what_the_model_can_run_at():
    flat = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))  # 28 px only
    assert ResolutionSlider.sizes_for(flat) == (28,)
    slider = ResolutionSlider(value=14)
    slider.set_sizes((28,))
    assert slider.value == 28 and slider.config is None


def test_model_picker_offers_zoo_and_user_models():
    mine = torch.nn.Linear(784, 10)
    picker = ModelPicker("cnn", user_models={"mine": mine})
    assert picker.options[-1] == "mine" and "cnn" in picker.options
    picker.value = "mine"
    assert picker.model is mine
    with pytest.raises(traitlets.TraitError, match="unknown model"):
        picker.value = "resnet"
    with pytest.raises(ValueError, match="zoo or thin model"):
        picker.add_model("cnn", mine)


def test_region_picker_shows_intensity_and_rejects_unknown_codes():
    region = RegionPicker("FRA")
    france = region.intensity
    region.value = "deu"
    assert region.value == "DEU" and region.intensity > france
    assert "g CO₂/kWh" in region.label.value
    with pytest.raises(traitlets.TraitError, match="ISO 3166"):
        region.value = "XYZ"


def test_deployment_scale_converts_per_1k_grams_to_kg_per_year():
    scale = DeploymentScale(per_day=1e6)
    assert scale.kg_per_year is None and "n/a" in scale.summary.value
    scale.co2_g_per_1k, scale.baseline_co2_g_per_1k = 0.02, 0.05
    assert scale.kg_per_year == pytest.approx(1e6 / 1000 * 0.02 * 365 / 1000)
    assert "saves" in scale.summary.value
    scale.slider.value = 1e8  # the user drags the log slider
    assert scale.kg_per_year == pytest.approx(730.0)


def test_metrics_panel_shows_values_and_changes_vs_baseline():
    panel = MetricsPanel()
    base = fake_measurement(Recipe())
    small = fake_measurement(
        Recipe(prune=PruneConfig(0.5), quant=QuantConfig(bits=4), resolution=ResolutionConfig(14))
    )
    panel.show(small, base)
    assert panel.texts["accuracy"] == f"{100 * small.accuracy:.1f} %"
    assert panel.changes["accuracy"] == "−2.5 pt"
    ratio = 401_000 / small.artifact_bytes  # against the fp32 file, like the compare app
    assert panel.changes["size"] == f"{ratio:.1f}× smaller vs fp32 file"
    assert panel.changes["flops"] == "4.0× fewer"
    assert panel.numbers["size"] == small.artifact_bytes
    # the browser reads the same texts from stable CSS classes
    assert "lab-metric-accuracy" in panel._values["accuracy"]._dom_classes
    assert panel.texts["accuracy"] in panel._values["accuracy"].value
    notes = panel.notes.value
    assert "latency unchanged" in notes and "estimated" in notes and "56 g/kWh" in notes


def test_pareto_plot_updates_its_artists_in_place():
    plot = ParetoPlot()
    figure, scatter = plot.view.figure, plot._scatter
    for recipe in (Recipe(), Recipe(prune=PruneConfig(0.5)), Recipe(quant=QuantConfig(bits=2))):
        plot.add(fake_measurement(recipe))
    data = plot.data
    assert len(data["x"]) == 3 and plot.count == 3
    assert data["current"] == (data["x"][2], data["y"][2])
    assert len(data["front"]) >= 1
    assert plot.ax.get_xscale() == "log"
    plot.x_axis = "latency"
    assert set(plot.data["x"]) == {0.5}  # latency is the same for these three
    assert plot.view.figure is figure and plot._scatter is scatter  # never re-created
    plot.clear()
    assert plot.count == 0 and plot.data["current"] is None


def test_sensitivity_view_runs_in_background_and_reports_errors():
    import pandas as pd

    def scan(model, sparsities, split, structure, progress):
        time.sleep(0.05)
        return pd.DataFrame(
            {
                "layer": ["a", "a", "b", "b"],
                "sparsity": [0, 0.9] * 2,
                "accuracy": [0.9, 0.8, 0.9, 0.3],
            }
        )

    view = SensitivityView(model=torch.nn.Linear(2, 2), scan=scan)
    view.button.click()
    assert view.running  # returned at once; the scan runs on its thread
    assert view.wait(5)
    assert view.curves["b"] == ([0.0, 90.0], [90.0, 30.0])
    assert "2 layers" in view.status

    def broken(**kwargs):
        raise ValueError("model has no prunable layers")

    failing = SensitivityView(model=torch.nn.Identity(), scan=lambda *a, **k: broken(**k))
    failing.run()
    assert failing.wait(5)
    assert "Scan failed: model has no prunable layers" in failing.message.value
    assert "Traceback" not in failing.message.value


def test_worker_runs_only_the_latest_request():
    worker = LatestWorker(debounce=0.02)
    ran, shown = [], []

    def job(i):
        ran.append(i)
        time.sleep(0.03)
        return i

    for i in range(10):
        worker.submit(lambda i=i: job(i), shown.append)
    assert worker.wait_idle(5)
    worker.close()
    assert shown == [9] and len(ran) <= 2 and ran[-1] == 9


# ------------------------------------------------------------------ dashboard


def test_dashboard_shows_baseline_then_follows_the_sliders(dashboard):
    dash = dashboard()
    assert dash.measurement.label == "baseline" and dash.metrics.changes["accuracy"] == "±0.0 pt"
    size_before, x_before = dash.metrics.numbers["size"], dash.pareto.data["x"]
    dash.sparsity.value = 0.8
    dash.bits.value = 4
    assert dash.wait(10)
    assert dash.measurement.label == "prune 80% unstructured · 4-bit channel"
    assert dash.metrics.numbers["size"] < size_before
    assert dash.metrics.changes["size"].endswith("× smaller vs fp32 file")
    assert len(dash.pareto.data["x"]) > len(x_before)
    assert dash.pareto.data["current"][0] == dash.metrics.numbers["size"]
    assert dash.scale.co2_g_per_1k == dash.measurement.co2_g_per_1k
    assert not dash.busy and dash.error == ""


def test_burst_of_changes_evaluates_far_fewer_and_ends_on_the_last(dashboard):
    evaluator = FakeEvaluator(delay=0.05)
    dash = dashboard(evaluator, debounce=0.2)  # generous: the machine may be busy
    baseline_calls = len(evaluator.calls)
    for step in range(1, 11):  # a fast drag: 10 positions, 5 ms apart
        dash.sparsity.value = 0.05 * step
        time.sleep(0.005)
    assert dash.wait(10)
    made = evaluator.non_baseline
    assert len(evaluator.calls) - baseline_calls == len(made) <= 3
    assert made[-1] == Recipe(prune=PruneConfig(0.5))
    assert dash.measurement.label == "prune 50% unstructured"
    assert dash.worker.dropped >= 7


class CancellableEvaluator(FakeEvaluator):
    """Slow (``delay`` s, in 5 ms steps) but gives up when its ``cancel`` event is set, like lab's."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay=0.0)
        self.slow = delay
        self.cancelled: list[Recipe] = []
        self.finished: list[Recipe] = []

    def __call__(self, model, recipe, *, cancel=None, **kwargs):
        from lab.measure import Cancelled

        with self.lock:
            self.calls.append(recipe)
            self.kwargs.append(kwargs)
        deadline = time.monotonic() + (self.slow if not recipe.is_identity else 0.0)
        while time.monotonic() < deadline:
            if cancel is not None and cancel.is_set():
                with self.lock:
                    self.cancelled.append(recipe)
                raise Cancelled("evaluation cancelled")
            time.sleep(0.005)
        with self.lock:
            self.finished.append(recipe)
        return fake_measurement(recipe, **kwargs)


def test_superseded_evaluation_is_cancelled_and_the_last_value_starts_at_once(dashboard):
    evaluator = CancellableEvaluator(
        delay=3.0
    )  # each non-baseline evaluation: 3 s unless cancelled
    dash = dashboard(evaluator, debounce=0.05)
    dash.sparsity.value = 0.05  # starts at once (after a quiet period)
    deadline = time.monotonic() + 5
    while len(evaluator.non_baseline) < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert evaluator.non_baseline == [Recipe(prune=PruneConfig(0.05))]  # running now
    for step in range(2, 11):  # then a burst: 0.10 ... 0.50
        dash.sparsity.value = 0.05 * step
        time.sleep(0.005)
    last_change = time.monotonic()
    assert dash.wait(20)
    finished_after = time.monotonic() - last_change
    assert evaluator.cancelled[0] == Recipe(prune=PruneConfig(0.05))  # the stale one gave up
    assert evaluator.finished[-1] == Recipe(prune=PruneConfig(0.5))
    assert Recipe(prune=PruneConfig(0.05)) not in evaluator.finished
    assert dash.measurement.label == "prune 50% unstructured" and dash.error == ""
    assert dash.worker.cancelled >= 1
    # the last value needed its own 3 s, not also the rest of the stale 3 s
    assert finished_after < 3.0 + 2.0, finished_after
    assert len(evaluator.non_baseline) <= 3


def test_worker_sets_the_cancel_event_of_superseded_work_only():
    worker = LatestWorker(debounce=0.0)
    started, events, shown = threading.Event(), [threading.Event() for _ in range(2)], []

    def slow(event):
        started.set()
        assert event.wait(5)  # returns as soon as it is cancelled
        return "stale"

    worker.submit(lambda: slow(events[0]), shown.append, cancel=events[0])
    assert started.wait(5)
    worker.submit(lambda: "fresh", shown.append, cancel=events[1])
    assert worker.wait_idle(5)
    worker.close()
    assert events[0].is_set() and not events[1].is_set()
    assert shown == ["fresh"] and worker.cancelled == 1


_EXIT_DURING_A_JOB = """
import sys, threading, torch
from widgets.worker import LatestWorker
cancel, started = threading.Event(), threading.Event()
def job():
    x = torch.randn(256, 256)
    started.set()
    while not cancel.is_set():  # torch C++ calls, as a measurement makes
        x = torch.tanh(x @ x)
LatestWorker().submit(job, lambda _: None, cancel=cancel)
assert started.wait(30)
if sys.argv[1] == "without-the-exit-hook":
    import atexit, widgets.worker
    atexit.unregister(widgets.worker._close_open_workers)
"""


def test_the_interpreter_exits_cleanly_while_a_worker_runs_torch():
    """A kernel shut down mid-move exits 0; without the exit hook it aborts (SIGABRT)."""
    import subprocess
    import sys

    def run(arg):
        return subprocess.run(
            [sys.executable, "-c", _EXIT_DURING_A_JOB, arg],
            capture_output=True,
            text=True,
            timeout=120,
        )

    clean = run("with-the-exit-hook")
    assert clean.returncode == 0, clean.stderr
    assert "terminate called" not in clean.stderr
    control = run("without-the-exit-hook")  # the test can fail: the crash it guards against is real
    assert control.returncode != 0 and "terminate called" in control.stderr


def test_revisited_configurations_are_shown_without_evaluating(dashboard):
    evaluator = FakeEvaluator()
    dash = dashboard(evaluator)
    dash.sparsity.value = 0.5
    assert dash.wait(10)
    calls = len(evaluator.calls)
    dash.sparsity.value = 0.0
    assert dash.measurement.label == "baseline"  # shown synchronously, no wait needed
    dash.sparsity.value = 0.5
    assert dash.measurement.label == "prune 50% unstructured"
    assert len(evaluator.calls) == calls


def test_evaluation_errors_are_shown_as_a_message(dashboard):
    dash = dashboard(FakeEvaluator(fail_on="2-bit"))
    dash.bits.value = 2
    assert dash.wait(10)
    assert "simulated failure" in dash.error
    text = dash.status.text.value
    assert "lab-error" in text and "Traceback" not in text and not dash.busy
    dash.bits.value = 8  # the next good configuration clears the message
    assert dash.wait(10)
    assert dash.error == "" and dash.measurement.label == "8-bit channel"


def test_full_test_set_button_uses_the_test_split(dashboard):
    evaluator = FakeEvaluator()
    dash = dashboard(evaluator)
    dash.sparsity.value = 0.5
    assert dash.wait(10)
    points = dash.pareto.count
    dash.full_button.click()
    assert dash.wait(10)
    assert {(k["split"], k["effort"]) for k in evaluator.kwargs[-2:]} == {("test", "full")}
    assert dash.measurement.split == "test" and "10,000 images" in dash.metrics.notes.value
    assert dash.pareto.count == points  # test-split numbers are not mixed into the live plot


def test_region_change_reprices_co2_and_restarts_the_plot(dashboard):
    dash = dashboard()
    dash.sparsity.value = 0.5
    assert dash.wait(10)
    co2_france = dash.measurement.co2_g_per_1k
    dash.region.value = "DEU"
    assert dash.wait(10)
    assert dash.measurement.country == "DEU" and dash.measurement.co2_g_per_1k > co2_france
    assert dash.pareto.count == 2  # this configuration and the baseline, priced for Germany


class FakeEvaluation:
    """Stands in for lab's progressive ``measure.Evaluation``: a first look on 300 live images
    (a wider interval, a higher accuracy), then the final figures on all 2,000."""

    made: list[FakeEvaluation] = []

    def __init__(self, model, recipe, **kwargs):
        self.recipe, self.kwargs = recipe, kwargs
        FakeEvaluation.made.append(self)

    def cached(self):
        return None

    def first_look(self, cancel=None, budget_s=1.0):
        first = fake_measurement(self.recipe, **self.kwargs)
        first.n_images, first.preliminary = 300, True
        first.accuracy, first.accuracy_low, first.accuracy_high = 0.94, 0.909, 0.962
        first.latency_ms_p50 = first.energy_kwh_per_1k = first.co2_g_per_1k = None
        return first

    def final(self, cancel=None):
        final = fake_measurement(self.recipe, **self.kwargs)
        final.accuracy_low, final.accuracy_high = final.accuracy - 0.012, final.accuracy + 0.012
        return final


def test_the_panel_says_on_how_many_items_each_accuracy_rests(dashboard, monkeypatch):
    """The first look's number can jump at the final figure: the panel says why (300 images,
    a wide interval, then 2,000), and names the first look's figure beside the final one."""
    from lab.evaluation import measure

    monkeypatch.setattr(measure, "Evaluation", FakeEvaluation)
    monkeypatch.setattr(FakeEvaluation, "made", [])
    dash = dashboard(progressive=True)
    assert dash.metrics.basis.value.endswith("on 2,000 images</span>")  # the baseline: final
    shown = []
    dash.metrics.basis.observe(lambda change: shown.append(change["new"]), names="value")
    dash.sparsity.value = 0.5
    assert dash.wait(10)
    assert len(FakeEvaluation.made) == 1
    first, final = shown[0], shown[-1]
    assert "accuracy first look on 300 images, ±2.6 pt; refining…" in first
    assert dash.preliminary.n_images == 300
    accuracy = 100 * dash.measurement.accuracy
    assert "accuracy on 2,000 images, ±1.2 pt (first look: 94.0 % on 300)" in final
    assert dash.metrics.texts["accuracy"].startswith(f"{accuracy:.1f} %")
    # revisiting it later shows the final figure only: no first look is named any more
    dash.sparsity.value = 0.0
    dash.sparsity.value = 0.5
    assert dash.wait(10)
    assert "first look" not in dash.metrics.basis.value
    assert "on 2,000 images, ±1.2 pt" in dash.metrics.basis.value


def test_a_first_look_on_every_item_is_not_named_beside_the_final_figure():
    from widgets.metrics import basis_text

    look = SimpleNamespace(n_images=114, accuracy=0.982, preliminary=True)
    final = SimpleNamespace(n_images=114, accuracy=0.973, accuracy_low=0.94, accuracy_high=0.99)
    assert basis_text(look, "item") == "first look on 114 items; refining…"
    assert basis_text(final, "item", first=look) == "on 114 items, ±2.5 pt"


class RuntimeEvaluator(FakeEvaluator):
    """A thin model: the baseline runs in scikit-learn, a compressed one in torch (its torch
    form) and 6× faster, with batch-1 samples whose test says the difference is real."""

    def __call__(self, model, recipe, **kwargs):
        m = super().__call__(model, recipe, **kwargs)
        m.runtime = "scikit-learn" if recipe.is_identity else "torch"
        m.executes_as = "scikit-learn" if recipe.is_identity else "fp32"
        base = 0.5 if recipe.is_identity else 0.08
        m.latency_ms_p50 = base
        m.latency_samples_ms = [base * (1 + 0.01 * i) for i in range(20)]
        m.latency_within_noise = lambda baseline: False
        m.energy_kwh_per_1k *= base / 0.5  # energy follows the time
        m.co2_g_per_1k *= base / 0.5
        return m


def test_a_runtime_change_is_named_apart_from_the_techniques_effect(dashboard):
    dash = dashboard(RuntimeEvaluator())
    assert dash.metrics.runtime.value == ""  # the baseline against itself
    dash.bits.value = 4
    assert dash.wait(10)
    warning = dash.metrics.runtime.value
    assert "runtime changed: scikit-learn → torch; the speed-up is not the technique" in warning
    assert "lab-runtime-change" in dash.metrics.runtime._dom_classes
    assert dash.metrics.changes["latency"] == "6.2× faster · new runtime"
    assert "runtime changed: scikit-learn → torch)" in dash.scale.summary.value  # per year too
    dash.bits.value = 32  # back to the baseline: its own runtime, nothing to name
    assert dash.wait(10)
    assert dash.metrics.runtime.value == "" and "runtime" not in dash.metrics.changes["latency"]
    assert "runtime" not in dash.scale.summary.value


def test_the_runtime_change_comes_from_the_measurements_own_method():
    from lab.evaluation.measure import Measurement
    from widgets.metrics import runtime_text

    fields = {
        "name": "cnn", "recipe": "{}", "label": "baseline", "split": "live", "n_images": 10,
        "accuracy": 0.9, "artifact_bytes": 1, "state_dict_bytes": 1, "parameters": 1,
        "nonzero_parameters": 1, "resolution": 28, "flops": 2, "macs": 1,
        "latency_ms_p50": 1.0, "latency_ms_p95": 1.0, "throughput_ips": 1.0, "threads": 1,
        "energy_kwh_per_1k": None, "co2_g_per_1k": None, "country": "FRA",
        "carbon_intensity_g_per_kwh": 56.0, "energy_source": "test", "executes_as": "fp32",
    }  # fmt: skip
    torch_form = Measurement(**fields)
    exported = Measurement(**{**fields, "runtime": "onnxruntime", "recipe": '{"x": 1}'})
    assert exported.runtime_change(torch_form) == "torch → onnxruntime"
    assert runtime_text(torch_form, exported) == (
        "runtime changed: torch → onnxruntime; any latency or energy change is not the "
        "technique's alone"  # no latency samples: no verdict on the change itself
    )
    assert runtime_text(torch_form, torch_form) == ""
    panel = MetricsPanel()
    panel.show(exported, torch_form)
    assert "torch → onnxruntime" in panel.runtime.value


def test_user_model_by_name(dashboard):
    mine = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    evaluator = FakeEvaluator()
    dash = dashboard(evaluator, model=mine, name="mine")
    assert dash.model_picker.value == "mine" and dash.model_picker.model is mine
    assert evaluator.kwargs[-1]["name"] == "mine"
    assert dash.resolution.sizes == (28,)  # no global pooling: native size only


def test_dashboard_with_the_real_lab(dashboard):
    """One real evaluation path: lab.evaluate on the live split (a small zoo model)."""
    dash = dashboard(None, model="mlp")  # untrained weights (with a warning) until trained
    assert dash.wait(120) and dash.error == "", dash.error
    accuracy, size = dash.metrics.texts["accuracy"], dash.metrics.numbers["size"]
    dash.sparsity.value = 0.9
    assert dash.wait(120) and dash.error == "", dash.error
    assert dash.metrics.numbers["size"] < size / 3
    assert dash.metrics.texts["accuracy"] != accuracy or dash.metrics.changes["accuracy"]
    assert "latency and FLOPs unchanged" in dash.metrics.notes.value


def test_every_public_component_is_exported():
    import widgets

    for name in widgets.__all__:
        assert getattr(widgets, name) is not None
    assert list(itertools.islice(widgets.__all__, 1))  # non-empty
