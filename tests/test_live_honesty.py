"""Live figures that stay honest: accuracy with its interval and a paired test, timings and
energy never served from a cache measured under other conditions, a progressive panel
(first look, then final figures) and a full-test evaluation that is never dropped silently."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from lab import artifact, measure, zoo
from lab.datasets import as_data
from lab.store import ResultStore
from lab.techniques.configs import PruneConfig, QuantConfig, Recipe


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ResultStore:
    return ResultStore(tmp_path_factory.mktemp("live") / "results.sqlite")


@pytest.fixture(scope="module")
def mlp():
    return zoo.load("mlp")


@pytest.fixture(scope="module")
def pair(mlp, store):
    base = measure.evaluate(mlp, effort="quick", store=store, name="mlp")
    pruned = measure.evaluate(mlp, PruneConfig(0.9), effort="quick", store=store, name="mlp")
    return base, pruned


def _predictions_right(model: torch.nn.Module, split: str = "live") -> np.ndarray:
    """Per-image correctness computed here, independently of lab.measure."""
    chunk = as_data(None).split(split)
    with torch.no_grad():
        return (model.eval()(chunk.images).argmax(1) == chunk.labels).numpy()


def test_accuracy_interval_is_wilsons(pair):
    base, _ = pair
    correct = round(base.accuracy * base.n_images)
    ci = binomtest(correct, base.n_images).proportion_ci(0.95, method="wilson")
    assert base.accuracy_low == pytest.approx(ci.low, abs=1e-9)
    assert base.accuracy_high == pytest.approx(ci.high, abs=1e-9)
    assert base.accuracy_low < base.accuracy < base.accuracy_high


def test_per_image_results_and_the_paired_test_match_an_independent_count(mlp, pair):
    base, pruned = pair
    assert np.array_equal(base.correct(), _predictions_right(mlp))
    from lab.techniques.apply import apply

    compressed = apply(mlp, PruneConfig(0.9), progress=False)
    theirs = _predictions_right(compressed.runtime)
    assert np.array_equal(pruned.correct(), theirs)
    mine = _predictions_right(mlp)
    b, c = int(np.sum(mine & ~theirs)), int(np.sum(~mine & theirs))
    expected = 1.0 if b + c == 0 else binomtest(min(b, c), b + c, 0.5).pvalue
    paired = pruned.compare(base)
    assert (paired.only_base, paired.only_new) == (b, c)
    assert paired.p_value == pytest.approx(min(1.0, expected), rel=1e-9)
    frame = pruned.to_frame(base)
    assert frame.loc[0, "change_verdict"] == paired.verdict
    assert "correct_bits" not in frame and "accuracy_low" in frame
    assert pruned.to_frame().shape[0] == 1 and "change_pt" not in pruned.to_frame()


def test_results_on_different_images_are_not_paired(mlp, pair, store):
    base, _ = pair
    on_test = measure.evaluate(mlp, split="test", effort="quick", store=store, name="mlp")
    assert on_test.compare(base) is None
    assert "not paired" in on_test.to_frame(base).loc[0, "change_verdict"]


def test_latency_samples_decide_noise(pair):
    base, pruned = pair
    most, fewest, _ = measure.EFFORTS["quick"]["latency"]
    assert fewest <= len(base.latency_samples_ms) <= most
    assert base.latency_within_noise(base) is True  # identical samples
    slower = measure.Measurement(**{**base.__dict__})
    slower.latency_samples_ms = [v * 10 for v in base.latency_samples_ms]
    assert slower.latency_within_noise(base) is False


def test_load_dependent_figures_are_not_served_from_another_machine_or_a_busy_one(
    mlp, store, monkeypatch
):
    recipe = QuantConfig(bits=6)
    first = measure.evaluate(mlp, recipe, effort="quick", store=store, name="mlp")
    assert measure.evaluate(mlp, recipe, effort="quick", store=store).cached
    now = measure.machine.describe()
    assert measure.stale_reason(first, now) is None
    other = {**now, "cpu_model": "Some Other CPU"}
    assert "another CPU" in measure.stale_reason(first, other)
    busy = measure.Measurement(**{**first.__dict__, "load_1min": 50.0})
    quiet, still_busy = {**now, "load_1min": 0.0}, {**now, "load_1min": 60.0}
    assert "under load" in measure.stale_reason(busy, quiet)
    assert measure.stale_reason(busy, still_busy) is None  # served, with its load note
    monkeypatch.setattr(measure.machine, "cpu_model", lambda: "Some Other CPU")
    again = measure.evaluate(mlp, recipe, effort="quick", store=store, name="mlp")
    assert not again.cached  # re-measured, not served
    assert again.accuracy == first.accuracy and again.artifact_bytes == first.artifact_bytes


def test_a_measurement_under_load_says_so(mlp, store, monkeypatch):
    monkeypatch.setattr(measure.machine, "load_average", lambda: 99.0)
    m = measure.evaluate(mlp, QuantConfig(bits=5), effort="quick", store=store, use_cache=False)
    assert any("measured under load 99.0" in note for note in m.notes)


def test_a_first_look_is_exact_where_it_can_be_and_marked_preliminary(mlp, store):
    recipe = Recipe(prune=PruneConfig(0.7), quant=QuantConfig(bits=4))
    evaluation = measure.Evaluation(mlp, recipe, effort="quick", store=store, name="mlp")
    assert evaluation.cached() is None
    assert measure.cached_result(mlp, recipe, effort="quick", store=store) is None
    first = evaluation.first_look(images=measure.PREVIEW_IMAGES)
    final = evaluation.final()
    assert first.preliminary and not final.preliminary
    assert first.n_images == measure.PREVIEW_IMAGES
    assert np.bincount(as_data(None).subset("live", 500).labels.numpy()).tolist() == [50] * 10
    for exact in ("artifact_bytes", "flops", "parameters", "nonzero_parameters"):
        assert getattr(first, exact) == getattr(final, exact), exact
    assert first.latency_ms_p50 is None and first.co2_g_per_1k is None
    assert first.accuracy_low <= final.accuracy <= first.accuracy_high or (
        abs(first.accuracy - final.accuracy) < 0.05
    )
    again = measure.evaluate(mlp, recipe, effort="quick", store=store, use_cache=False)
    assert again.accuracy == final.accuracy  # applying once or twice: the same model
    assert measure.cached_result(mlp, recipe, effort="quick", store=store) is not None
    assert evaluation.cached() is not None


@pytest.mark.parametrize(
    "recipe",
    [
        Recipe(prune=PruneConfig(0.5)),
        Recipe(quant=QuantConfig(bits=8)),
        Recipe(prune=PruneConfig(0.3), quant=QuantConfig(bits=3)),
    ],
    ids=["prune", "int8", "prune+3-bit"],
)
def test_a_final_that_reuses_the_first_look_equals_one_that_runs_every_image(mlp, store, recipe):
    """The first look's 500 images are not run again: the final per-image results are the
    same as a full pass's, and the same as an independent count, image by image."""
    timings: dict = {}
    evaluation = measure.Evaluation(
        mlp, recipe, effort="quick", store=store, use_cache=False, name="mlp", timings=timings
    )
    evaluation.first_look()
    timings.clear()
    final = evaluation.final()
    full = measure.evaluate(mlp, recipe, effort="quick", store=store, use_cache=False)
    assert final.n_images == full.n_images == 2000
    assert (final.correct() == full.correct()).all()
    with torch.no_grad():
        live = as_data(None).split("live")
        runtime = evaluation.runnable().compressed.runtime
        independent = (runtime(live.images).argmax(1) == live.labels).numpy()
    assert (final.correct() == independent).all()
    assert (final.accuracy, final.accuracy_low, final.accuracy_high) == (
        full.accuracy,
        full.accuracy_low,
        full.accuracy_high,
    )
    for exact in ("artifact_bytes", "state_dict_bytes", "flops", "macs", "parameters"):
        assert getattr(final, exact) == getattr(full, exact), exact
    assert "size" in timings and timings["size"] < 0.01  # taken from the first look


def test_a_first_look_on_another_split_is_not_reused(mlp, store):
    evaluation = measure.Evaluation(
        mlp, PruneConfig(0.6), split="val", effort="quick", store=store, use_cache=False
    )
    first = evaluation.first_look()
    assert first.split == "live" and first.preliminary
    final = evaluation.final()
    assert final.split == "val" and final.n_images == len(as_data(None).split("val"))


def test_the_dashboard_shows_a_first_look_then_the_final_figures(mlp, store):
    from widgets import Dashboard

    dash = Dashboard(model={"my mlp": mlp}, store=store, thin_models=[])
    seen: list[tuple[bool, str]] = []
    dash.metrics.observe(
        lambda change: seen.append((change["new"], dash.metrics.texts["latency"])),
        names="preliminary",
    )
    try:
        assert dash.wait(120)
        dash.sparsity.value = 0.55
        assert dash.wait(120)
        assert (True, "measuring…") in seen  # the first look, marked, with no empty cell
        assert dash.preliminary is not None and dash.preliminary.preliminary
        assert not dash.measurement.preliminary and dash.measurement.n_images == 2000
        assert dash.metrics.texts["latency"] != "measuring…"
        assert "(" in dash.metrics.texts["accuracy"]  # the interval is shown
        assert "pt" in dash.metrics.changes["accuracy"]  # paired verdict vs the baseline
        # a cached configuration is shown at once: no first look
        seen.clear()
        dash.sparsity.value = 0.0
        dash.sparsity.value = 0.55
        assert dash.wait(60) and (True, "measuring…") not in seen
    finally:
        dash.close()


def test_a_region_change_reprices_and_never_remeasures(mlp, store):
    """Energy is a property of the model and the machine: another grid changes the CO₂ only."""
    from lab.meters import energy as carbon
    from widgets import Dashboard

    dash = Dashboard(model={"my mlp": mlp}, store=store, thin_models=[], country="FRA")
    try:
        dash.sparsity.value = 0.4
        assert dash.wait(120)
        before, calls = dash.measurement, dash.evaluations
        for country in ("IND", "SWE", "DEU"):
            dash.region.value = country
            assert dash.wait(60)
            now = dash.measurement
            assert dash.evaluations == calls  # nothing measured again
            assert now.energy_kwh_per_1k == before.energy_kwh_per_1k
            assert now.latency_samples_ms == before.latency_samples_ms
            assert now.country == country
            if now.energy_kwh_per_1k is not None:
                expected = now.energy_kwh_per_1k * carbon.carbon_intensity(country)
                assert now.co2_g_per_1k == pytest.approx(expected)
        again = measure.evaluate(mlp, PruneConfig(0.4), effort="quick", store=store, country="USA")
        assert again.cached and again.energy_kwh_per_1k == before.energy_kwh_per_1k
    finally:
        dash.close()


def test_an_interleaved_baseline_decides_the_latency_verdict(mlp, store):
    """A configuration whose kernels are the baseline's (4-bit weights run as fp32) is timed
    interleaved with its baseline: the verdict rests on runs seen under the same load."""
    base = measure.evaluate(mlp, effort="quick", store=store, use_cache=False)
    four_bit = measure.evaluate(
        mlp, QuantConfig(bits=4), effort="quick", store=store, use_cache=False
    )
    change = four_bit.latency_change(base)
    assert change.interleaved and change.baseline_runs == len(four_bit.baseline_latency_samples_ms)
    assert len(four_bit.baseline_latency_samples_ms) == len(four_bit.latency_samples_ms)
    assert change.describe() == "unchanged (within noise)" or not change.within_noise
    assert base.baseline_latency_samples_ms == []  # the baseline is not timed against itself
    slower = measure.Measurement(**{**four_bit.__dict__})
    slower.latency_samples_ms = [10 * v for v in four_bit.baseline_latency_samples_ms]
    verdict = slower.latency_change(base)
    assert not verdict.within_noise and verdict.describe().endswith("× slower")
    assert slower.energy_within_noise(base) in (True, False, None)


def test_the_warm_up_measures_in_the_background_and_leaves_no_trace(mlp, store, monkeypatch):
    from widgets import Dashboard
    from widgets import dashboard as dashboard_module

    rehearsed = []
    real = dashboard_module._rehearse
    monkeypatch.setattr(
        dashboard_module, "_rehearse", lambda *a: rehearsed.append(real(*a) or "done")
    )
    dash = Dashboard(model={"my mlp": mlp}, store=store, thin_models=[])
    try:
        assert dash.wait(120)
        shown, rows = dash.measurement, len(store.to_frame())
        points, evaluations = dash.pareto.count, dash.evaluations
        dash.warm_up()
        assert dash.wait(120) and rehearsed == ["done"]
        assert dash.measurement is shown and dash.pareto.count == points
        assert dash.evaluations == evaluations and len(store.to_frame()) == rows  # not stored
        assert "warm" not in dash.status.message.lower()
        dash.warm_up()  # a move right after it: the move wins, the warm-up stops or finishes
        dash.sparsity.value = 0.35
        assert dash.wait(120) and dash.measurement.label == "prune 35% unstructured"
    finally:
        dash.close()


def test_a_full_test_evaluation_stopped_by_a_change_is_reported():
    import threading
    from types import SimpleNamespace as NS

    from widgets import Dashboard

    release = threading.Event()

    def slow(model, recipe, **kw):
        if kw["split"] == "test":
            release.wait(5)
        return NS(
            recipe=recipe.to_json(),
            label=recipe.describe(),
            name=kw["name"],
            accuracy=0.9,
            artifact_bytes=1000,
            flops=10,
            latency_ms_p50=1.0,
            energy_kwh_per_1k=1e-6,
            co2_g_per_1k=1e-4,
            notes=[],
            executes_as="fp32",
            threads=1,
            energy_source="test",
            carbon_intensity_g_per_kwh=56.0,
            country=kw["country"],
            split=kw["split"],
            n_images=2000,
            effort=kw["effort"],
            cached=False,
        )

    dash = Dashboard(model="mlp", evaluator=slow, thin_models=[])
    try:
        assert dash.wait(10)
        dash.evaluate_full()
        dash.sparsity.value = 0.5
        release.set()
        assert dash.wait(10)
        assert "full test-set evaluation" in dash.status.message
        assert "stopped by your change" in dash.status.message
    finally:
        dash.close()


def test_the_deployment_line_agrees_with_the_panel_on_noise():
    from widgets.scale import DeploymentScale

    scale = DeploymentScale(per_day=1e6)
    scale.baseline_co2_g_per_1k, scale.co2_g_per_1k = 0.010, 0.009
    assert "saves" in scale.summary.value
    scale.within_noise = True
    assert "within measurement noise" in scale.summary.value and "saves" not in scale.summary.value


class _Slow(torch.nn.Module):
    """The zoo's mlp, 2 ms slower per item: a big model's speed on a small data set."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import time

        time.sleep(0.002 * len(x))
        return self.inner(x)


def test_a_slow_models_first_look_rests_on_what_fits_its_budget(mlp, store):
    evaluation = measure.Evaluation(_Slow(mlp), effort="quick", store=store, use_cache=False)
    first = evaluation.first_look(budget_s=0.3)
    # 2 ms per item: ~150 items fit in 0.3 s (never fewer than the floor, never all 500)
    assert measure.FIRST_LOOK_MIN_IMAGES <= first.n_images < measure.PREVIEW_IMAGES
    assert f"{first.n_images:,} of the 2,000 live items" in first.notes[0]
    assert first.accuracy_high - first.accuracy_low > 0.05  # fewer items, a wider interval
    final = evaluation.final()
    assert final.n_images == 2000 and not final.preliminary


_TEN_CLASSES = as_data(
    (
        np.random.default_rng(0).normal(size=(400, 4)).astype(np.float32),
        np.arange(400) % 10,
    ),
    name="ten classes",
)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(10, 60), extra=st.integers(1, 80))
def test_a_first_look_round_never_plans_more_items_than_fit(n, extra):
    """A stratified subset grows a whole round of classes at a time (10 classes: asking for
    14 items may give 10, and 16 give 20): the next round is the largest subset whose items
    fit the number planned, checked against the subsets themselves; None when none adds one."""
    from lab.evaluation.measure import _largest_round

    data = _TEN_CLASSES

    def members(m: int) -> set[int]:
        positions = data.subset_positions("live", m)  # None: the whole split
        return set(range(len(data.split("live"))) if positions is None else positions[0].tolist())

    def size(m: int) -> int:
        return len(members(m))

    items = size(n) + extra
    found = _largest_round(data, n, n + extra, items)
    fitting = [m for m in range(n + 1, n + extra + 1) if size(n) < size(m) <= items]
    if not fitting:
        assert found is None
    else:
        assert found == max(fitting)
        assert members(n) <= members(found)  # nested: a round predicts only its new items


def test_a_big_models_first_look_leaves_its_file_bytes_to_the_final(store):
    """Encoding a file of millions of parameters takes seconds: a first look shows the
    accuracy first and says the bytes follow; the final has the file's real size; once that
    file is known, a first look of the same configuration shows it at once."""
    from lab.evaluation import kinds
    from widgets.metrics import MetricsPanel

    torch.manual_seed(0)
    big = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, 2600), torch.nn.ReLU(), torch.nn.Linear(2600, 10)
    ).eval()
    assert sum(p.numel() for p in big.parameters()) > kinds.QUICK_ENCODE_PARAMETERS
    recipe = PruneConfig(0.5)
    evaluation = measure.Evaluation(big, recipe, effort="quick", store=store, use_cache=False)
    first = evaluation.first_look()
    assert first.preliminary and first.artifact_bytes is None and first.state_dict_bytes is None
    assert "so do the bytes on disk" in first.notes[0] and first.flops > 0
    assert math.isnan(first.compression_ratio) and "n/a B on disk" in repr(first)
    panel = MetricsPanel()
    panel.show(first)
    assert "measuring…" in panel._values["size"].value
    final = evaluation.final()
    on_disk = artifact.save(
        evaluation.runnable().compressed.model, Path(store.path).parent / "big.lab"
    )
    assert final.artifact_bytes == on_disk and final.state_dict_bytes > final.artifact_bytes
    again = measure.Evaluation(big, recipe, effort="quick", store=store, use_cache=False)
    assert again.first_look().artifact_bytes == on_disk  # remembered: shown in the first look


@settings(max_examples=25, deadline=None)
@given(
    images=st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.booleans(), st.text()),
    budget=st.one_of(
        st.floats(max_value=-1e-9), st.just(math.inf), st.just(math.nan), st.booleans(), st.text()
    ),
)
def test_a_first_look_refuses_bad_sizes_and_budgets_before_any_work(mlp, images, budget):
    evaluation = measure.Evaluation(mlp, effort="quick", use_cache=False)
    with pytest.raises(ValueError, match="images must be a positive whole number"):
        evaluation.first_look(images=images)
    with pytest.raises(ValueError, match="budget_s must be a finite number"):
        evaluation.first_look(budget_s=budget)
    assert evaluation._runnable is None  # refused before the recipe was applied


def test_a_big_models_first_look_leaves_its_memory_trace_to_the_final(store, monkeypatch):
    """Tracing peak memory runs the model several times under a dispatch mode: a model of
    more than ``QUICK_TRACE_FLOPS`` per item leaves it to the final figures, says so, and
    the device panel waits for it; the final has the same figures as a memory trace alone."""
    from lab.evaluation import kinds
    from lab.meters import memory
    from widgets.device_panel import DevicePanel

    cnn = zoo.load("cnn")
    monkeypatch.setattr(measure, "QUICK_TRACE_FLOPS", 1_000)  # the cnn is "big" here
    evaluation = measure.Evaluation(
        cnn, PruneConfig(0.4), effort="quick", store=store, use_cache=False
    )
    first = evaluation.first_look()
    assert first.preliminary and first.flops > 1_000
    assert first.peak_memory_bytes is None and first.memory_method is None
    assert "so does peak memory" in first.notes[0]
    panel = DevicePanel()
    panel.measurement = first
    assert "waiting for peak memory" in panel.report.value
    panel.close()
    final = evaluation.final()
    runtime = evaluation.runnable().compressed.runtime
    alone = memory.memory_fields(runtime, as_data(None).example(1))
    assert final.peak_memory_bytes == alone["peak_memory_bytes"] > 0
    assert final.peak_activation_bytes == alone["peak_activation_bytes"]
    assert isinstance(evaluation.runnable(), kinds.TorchRunnable)
    monkeypatch.undo()
    quick = measure.Evaluation(cnn, PruneConfig(0.4), effort="quick", store=store, use_cache=False)
    assert quick.first_look().peak_memory_bytes == final.peak_memory_bytes  # small: at once


def test_a_binary_first_look_scores_from_the_same_pass_as_its_predictions(store):
    """On a binary task the first look's scores (for ROC-AUC) come from the forward pass
    that gives its predictions; they equal the model's own logit differences item by item,
    and the final's ROC-AUC equals scikit-learn's on an independent pass."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import roc_auc_score

    x, y = load_breast_cancer(return_X_y=True)
    data = as_data((x.astype(np.float32), y), name="breast cancer (first look)")
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(30, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
    ).eval()
    evaluation = measure.Evaluation(model, data=data, effort="quick", store=store, use_cache=False)
    runnable = evaluation.runnable()
    calls = []
    live = data.split("live")
    handle = runnable.compressed.runtime.register_forward_hook(
        lambda module, args, out: calls.append(len(args[0]))
    )
    first = evaluation.first_look(images=len(live))
    handle.remove()
    assert calls.count(len(live)) == 1  # the live items went through once, not twice
    with torch.no_grad():
        out = model(live.images)
    independent = roc_auc_score(live.labels.numpy(), (out[:, 1] - out[:, 0]).numpy())
    assert first.every_metric()["roc_auc"][0] == pytest.approx(independent, abs=1e-12)
    assert evaluation.final().every_metric()["roc_auc"][0] == pytest.approx(independent, abs=1e-12)


def test_the_device_panel_follows_the_first_look(tmp_path, monkeypatch):
    """While a move's first look is on screen the device panel shows that configuration too —
    here what it waits for (its memory follows with the final figures) — never the previous
    configuration's figures; then the final's."""
    from widgets import Dashboard

    monkeypatch.setattr(measure, "QUICK_TRACE_FLOPS", 1_000)  # the mlp's memory: with the final
    store = ResultStore(tmp_path / "results.sqlite")  # nothing cached: every move measured
    dash = Dashboard(model="mlp", store=store, progressive=True)
    try:
        assert dash.wait(120) and dash.device.wait(60)
        reports: list[tuple[object, str]] = []
        dash.device.report.observe(
            lambda change: reports.append((dash.device.measurement, change["new"])), names="value"
        )
        dash.sparsity.value = 0.35
        assert dash.wait(120) and dash.device.wait(60)
        firsts = [text for m, text in reports if getattr(m, "preliminary", False)]
        assert firsts and all("waiting for peak memory" in text for text in firsts)
        assert all(m.label == dash.recipe.describe() for m, _ in reports)
        assert not dash.device.measurement.preliminary
        assert "RAM" in dash.device.report.value and "waiting" not in dash.device.report.value
    finally:
        dash.close()
