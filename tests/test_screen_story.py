"""The screen tells one story: verdicts agree with the notes and the noise tests, one definition
of every ratio and unit, typed input taken exactly or refused visibly (issue 20)."""

from __future__ import annotations

import re
from types import SimpleNamespace as NS

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from widgets.metrics import SAME_WORK, MetricsPanel, cost_verdict, size_change
from widgets.scale import DeploymentScale

VERDICT_WORDS = re.compile(r"faster|slower|\bmore\b|\bless\b")


def measurement(**fields) -> NS:
    """A Measurement-like object; ``samples`` are batch-1 latencies (ms)."""
    samples = fields.pop("samples", None)
    energy_test = fields.pop("energy_test", None)
    m = NS(
        name="cnn",
        label=fields.pop("label", "baseline"),
        accuracy=0.9,
        artifact_bytes=100_000,
        state_dict_bytes=400_000,
        flops=1_000_000,
        resolution=28,
        latency_ms_p50=1.0,
        energy_kwh_per_1k=1e-6,
        co2_g_per_1k=5.6e-5,
        carbon_intensity_g_per_kwh=56.0,
        country="FRA",
        notes=[],
        threads=2,
        executes_as="fp32",
        energy_source="codecarbon CPU-load estimate (test)",
        split="live",
        n_images=2000,
        effort="quick",
        cached=False,
        operations_kind="MACs",
        latency_samples_ms=list(samples) if samples is not None else [],
    )
    vars(m).update(fields)
    if samples is not None:
        from lab import stats

        m.latency_within_noise = lambda base: stats.same_within_noise(
            base.latency_samples_ms, m.latency_samples_ms
        )
    if energy_test is not None:
        m.energy_within_noise = lambda base: energy_test
    return m


RNG = np.random.default_rng(0)
FAST = list(1.0 + 0.01 * RNG.standard_normal(30))
SLOW = list(1.5 + 0.01 * RNG.standard_normal(30))
SAME = list(1.0 + 0.01 * RNG.standard_normal(30))


def test_same_computation_shows_no_latency_or_energy_verdict_even_when_timed_apart():
    """Unstructured pruning (zeros still execute) timed at another moment: 1.5× slower on
    the clock, but the note says latency is unchanged, so no verdict may contradict it."""
    base = measurement(samples=FAST)
    pruned = measurement(
        label="prune 30% unstructured",
        samples=SLOW,
        latency_ms_p50=1.5,
        energy_kwh_per_1k=1.6e-6,
        co2_g_per_1k=9e-5,
        artifact_bytes=70_000,
        notes=["unstructured sparsity …: latency and FLOPs unchanged"],
        executes_as="fp32 (4-bit weights dequantized, BN folded, channels_last)",
    )
    base.executes_as = "fp32 (BN folded, channels_last)"  # the same kernels, as lab writes it
    panel = MetricsPanel()
    panel.show(pruned, base)
    for key in ("latency", "energy", "co2"):
        assert panel.changes[key] == SAME_WORK, key
        assert not VERDICT_WORDS.search(panel.changes[key])
    assert panel.changes["size"] == "5.7× smaller vs fp32 file"  # 400,000 / 70,000
    scale = DeploymentScale()
    scale.within_noise = cost_verdict("co2", base, pruned) != "real"
    scale.baseline_co2_g_per_1k, scale.co2_g_per_1k = base.co2_g_per_1k, pruned.co2_g_per_1k
    assert "adds" not in scale.summary.value and "within measurement noise" in scale.summary.value


def test_latency_verdict_follows_the_measurements_own_noise_test():
    base = measurement(samples=FAST)
    smaller = {"flops": 250_000, "resolution": 14}  # really less work
    real = measurement(samples=list(np.array(FAST) / 1.5), latency_ms_p50=0.667, **smaller)
    noisy = measurement(samples=SAME, latency_ms_p50=1.02, **smaller)
    panel = MetricsPanel()
    panel.show(real, base)
    assert panel.changes["latency"] == "1.50× faster"
    panel.show(noisy, base)
    assert panel.changes["latency"] == "≈ same (within noise)"
    untested = measurement(latency_ms_p50=0.5, **smaller)  # no timed runs to test
    panel.show(untested, measurement())
    assert panel.changes["latency"] == "not tested for noise"


@pytest.mark.parametrize("test_says_noise", [True, False])
def test_energy_verdict_uses_energy_within_noise_when_the_measurement_has_it(test_says_noise):
    base = measurement()
    # a 2× energy difference the measurement's own test calls noise (or a 5 % one it calls real)
    value = 2e-6 if test_says_noise else 1.05e-6
    m = measurement(
        flops=250_000,
        energy_kwh_per_1k=value,
        co2_g_per_1k=value * 56,
        energy_test=test_says_noise,
    )
    panel = MetricsPanel()
    panel.show(m, base)
    for key in ("energy", "co2"):
        if test_says_noise:
            assert panel.changes[key] == "≈ same (within noise)"
        else:
            assert panel.changes[key].endswith("× more")
    assert (cost_verdict("co2", base, m) == "real") is (not test_says_noise)


PANEL = MetricsPanel()


@settings(max_examples=40, deadline=None)
@given(
    latency=st.floats(0.1, 10),
    kwh=st.floats(1e-8, 1e-4),
    executes_as=st.sampled_from(["fp32", "int8", "scikit-learn 1.7 SVC"]),
    flops=st.sampled_from([1_000_000, 250_000]),
)
def test_no_cost_verdict_without_a_test_that_says_the_difference_is_real(
    latency, kwh, executes_as, flops
):
    base = measurement(samples=FAST)
    m = measurement(
        latency_ms_p50=latency,
        energy_kwh_per_1k=kwh,
        co2_g_per_1k=kwh * 56,
        executes_as=executes_as,
        flops=flops,
    )  # no samples, no energy test: latency untested, energy by the tolerance fallback
    panel = PANEL
    panel.show(m, base)
    assert not VERDICT_WORDS.search(panel.changes["latency"])
    if executes_as == "fp32" and flops == 1_000_000:
        assert {panel.changes[k] for k in ("latency", "energy", "co2")} <= {SAME_WORK, "unchanged"}
    for key in ("energy", "co2"):
        real = cost_verdict(key, base, m) == "real"
        assert bool(VERDICT_WORDS.search(panel.changes[key])) is real


def test_trees_count_comparisons_and_tabular_data_says_items():
    forest = measurement(
        name="RandomForestClassifier",
        operations_kind="comparisons",
        flops=1_234,
        resolution=None,
        n_images=30,
        state_dict_bytes=100_000,
        executes_as="scikit-learn 1.7 RandomForestClassifier",
    )
    panel = MetricsPanel(item="item")
    panel.show(forest, forest)
    assert panel.texts["flops"] == "1.23 kcomparisons"
    assert "Comparisons per item" in panel._labels["flops"].value
    text = panel.notes.value + "".join(label.value for label in panel._labels.values())
    assert "image" not in text and "MACs" not in text and "30 items" in panel.notes.value
    assert size_change(forest) == "unchanged vs fp32 file"


# ------------------------------------------------------------------ typed input, exactly


@pytest.mark.parametrize("typed", ["4", "4 bits", " 4 bit ", "4-bit", "4bits"])
def test_typed_bits_are_used_as_typed(typed):
    from widgets.sliders import BitWidthSlider

    bits = BitWidthSlider()
    bits.entry.value = typed
    assert bits.value == 4 and bits.slider.value == 4 and bits.config.bits == 4
    assert bits.entry.value == "4 bits" and bits.error == ""
    assert bits.slider.readout is False  # no second, editable box that ignores Enter


@settings(max_examples=30, deadline=None)
@given(
    text=st.one_of(
        st.integers(9, 99).filter(lambda v: v != 32).map(str),  # 32 is "off"
        st.sampled_from(["0", "4.5", "x", "", "-4", "4 bytes", "fp16"]),
    )
)
def test_bits_outside_the_choices_are_refused_visibly(text):
    from widgets.sliders import BitWidthSlider

    bits = BitWidthSlider(value=6)
    bits.entry.value = text
    assert bits.value == 6 and bits.entry.value == "6 bits"
    assert "Quantization must be 1 to 8 bits" in bits.error
    assert bits.feedback.layout.display is None and "lab-error" in bits.feedback.value
    bits.value = 3  # moving on clears the message
    assert bits.error == "" and bits.feedback.layout.display == "none"
    assert bits.entry.value == "3 bits"


def test_typed_resolution_is_taken_exactly_or_refused_never_snapped():
    from widgets.sliders import ResolutionSlider

    resolution = ResolutionSlider(value=7)
    resolution.entry.value = "14"
    assert resolution.value == 14 and resolution.slider.value == 14
    assert resolution.config.size == 14 and resolution.entry.value == "14 px"
    resolution.entry.value = "15 px"  # not offered: refused, not rounded to 14
    assert resolution.value == 14 and "one of 28, 24, 21, 18, 14, 12, 10, 8, 7 px" in (
        resolution.error
    )
    assert resolution.entry.value == "14 px"
    assert resolution.slider.readout is False


@pytest.mark.parametrize(("typed", "meant"), [("5000", 5000.0), ("2M", 2e6), ("1e6", 1e6)])
def test_typed_inferences_per_day_survive_the_pages_slider_snapping(typed, meant):
    """The page's log slider moves in 0.25 decades: it snaps 5000 to 10^3.75 = 5,623 and
    sends that back. The typed number must stay what the CO₂ figure uses."""
    import math

    scale = DeploymentScale(per_day=1e6)
    scale.co2_g_per_1k = 0.02
    scale.entry.value = typed
    assert scale.per_day == meant
    step = scale.slider.step
    snapped = 10 ** (round(math.log10(meant) / step) * step)
    scale.slider.value = snapped  # the page's echo
    assert scale.per_day == meant and scale.kg_per_year == pytest.approx(meant * 0.02 * 365 / 1e6)
    assert scale.entry.value == f"{meant:,.0f}"
    scale.slider.value = 1e8  # a real drag still moves it
    assert scale.per_day == 1e8 and scale.entry.value == "100,000,000"


# ------------------------------------------------------------------ disabled controls


@pytest.fixture
def forest_dashboard():
    from sklearn.ensemble import RandomForestClassifier

    from widgets import Dashboard

    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y)
    from test_widgets import FakeEvaluator

    mine = torch.nn.Linear(4, 2)
    dash = Dashboard(
        model={"forest": forest, "mine": mine},
        data=(x, y),
        evaluator=FakeEvaluator(),
        thin_models=[],
    )
    yield dash
    dash.close()


def test_disabled_controls_show_no_value_and_reasons_are_printed_once(forest_dashboard):
    from widgets.deeplink import DeepLink

    dash = forest_dashboard
    assert set(dash.problems) == {"sparsity", "bits", "resolution"}
    for control in (dash.sparsity, dash.bits, dash.resolution):
        assert control.entry.disabled and control.entry.value == "n/a"
    assert dash.bits.value == 32 and dash.sparsity.value == 0
    shown = dash.unavailable.value
    for reason in set(dash.problems.values()):  # each reason once, however many controls
        assert shown.count(reason.split(":")[0][:30]) == 1
    assert shown.count("not available") == len(set(dash.problems.values()))
    link = DeepLink(dash)
    assert "bits" not in link.query and "sparsity" not in link.query
    problems = link.apply_query("?bits=4&sparsity=0.5&granularity=tensor")
    assert dash.bits.value == 32 and dash.sparsity.value == 0
    assert any(p.startswith("bits, granularity ignored: not available") for p in problems)
    assert "bits" not in link.query
    dash.model_picker.value = "mine"  # a torch model: quantization applies again
    dash.bits.value = 4
    dash.model_picker.value = "forest"
    assert dash.bits.value == 32 and dash.bits.entry.value == "n/a" and "bits" not in link.query
    dash.model_picker.value = "mine"  # the position it had comes back
    assert dash.bits.value == 4 and dash.bits.entry.value == "4 bits" and "bits=4" in link.query


# ------------------------------------------------------------------ every wait visible


def test_fitting_a_thin_model_is_a_visible_wait_and_the_screen_names_one_model(
    monkeypatch, tmp_path
):
    import json
    import threading

    from test_widgets import FakeEvaluator

    from lab import thin
    from widgets import Dashboard

    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path))
    folder = thin.model_path("LogisticRegression").parent
    (folder / "LogisticRegression-full-0123456789abcdef.skops.json").write_text(
        json.dumps({"created": 1.0, "train_seconds": 38.2, "n_train": 55_000})
    )
    release, fitting = threading.Event(), threading.Event()

    def slow_fit(name, **kwargs):  # stands for a fit of up to two minutes
        fitting.set()
        assert release.wait(30)
        return NS(name=name, estimator=None)

    monkeypatch.setattr(thin, "fit_thin", slow_fit)
    dash = Dashboard(model="mlp", evaluator=FakeEvaluator(), thin_models=["LogisticRegression"])
    try:
        assert dash.wait(30)
        dash.status.show_error("a stale error about mlp")
        dash.model_picker.value = "LogisticRegression"
        assert fitting.wait(30)
        busy = dash.status.text.value
        assert dash.busy and "fitting LogisticRegression on" in busy
        assert "took 38 s" in busy and "a stale error" not in busy
        assert "LogisticRegression" in dash.metrics.title.value and "mlp" not in (
            dash.metrics.title.value
        )
        assert dash.metrics.texts["accuracy"] == "—"
        assert "measuring" in dash.scale.summary.value  # no CO₂ figure of mlp meanwhile
        assert dash.pareto.ax.get_title().startswith("LogisticRegression: fitting")
        release.set()
        assert dash.wait(30)
        assert not dash.busy and dash.measurement.name == "LogisticRegression"
        assert "fitting" not in dash.status.text.value
    finally:
        release.set()
        dash.close()


def test_a_full_evaluation_says_what_it_does_and_how_long_the_last_took():
    from test_widgets import FakeEvaluator

    from widgets import Dashboard

    dash = Dashboard(model="mlp", evaluator=FakeEvaluator(delay=0.2), thin_models=[])
    try:
        assert dash.wait(30)
        dash.evaluate_full()
        assert dash.busy and "full test set (10,000 images)" in dash.status.text.value
        assert dash.wait(30) and not dash.busy
        dash.sparsity.value = 0.5
        assert dash.wait(30)
        dash.evaluate_full()
        assert re.search(
            r"full test set \(10,000 images; the last took \d+ s\)", dash.status.text.value
        )
        assert dash.wait(30)
    finally:
        dash.close()


# ------------------------------------------------------------------ thin models offered


def test_every_thin_model_the_dashboard_offers_can_be_measured(monkeypatch, tmp_path):
    """A Voilà visitor cannot follow "fit it on this data": each default thin model is fitted
    and measured end to end on small images with more pixels than the SVC's 100 PCA
    components (SVC failed exactly there on Fashion-MNIST; tabular data: test_datasets)."""
    from lab import thin
    from lab.datasets import as_data
    from lab.measure import evaluate
    from widgets.dashboard import NOT_OFFERED, offered_thin_models

    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path))
    rng = np.random.default_rng(0)
    n, side = 150, 12  # 144 pixels
    x = rng.random((n, side * side)).astype(np.float32)
    y = np.arange(n) % 3
    x[np.arange(n), y] += 2.0  # learnable
    data = as_data((x.reshape(n, 1, side, side), y), name="tiny images")
    offered = offered_thin_models(data.task)
    assert set(offered) | set(NOT_OFFERED) == set(thin.thin_names(data.task))
    for name in offered:
        model = thin.fit_thin(name, data=data, progress=False)
        m = evaluate(model, data=data, effort="quick", name=name)
        assert 0 <= m.accuracy <= 1 and m.artifact_bytes > 0, name


# ------------------------------------------------------------------ looks: nothing hidden


def _crowded(plot, n: int = 14, current_at: int = -1) -> list:
    """Points along a frontier, the current one in the lower right (where legends used to be)."""
    from lab.techniques.configs import PruneConfig, Recipe

    made = []
    for i in range(n):
        sparsity = round(0.05 * i, 2)
        made.append(
            NS(
                name="cnn",
                recipe=Recipe(prune=PruneConfig(sparsity)).to_json() if sparsity else "{}",
                label=f"prune {5 * i}% unstructured" if i else "baseline",
                accuracy=0.92 - 0.03 * (i / n) ** 3,
                artifact_bytes=int(400_000 * (1 - 0.06 * i)),
                latency_ms_p50=1.0,
                co2_g_per_1k=1e-4,
            )
        )
    for i in range(12):  # big, weaker models: the lower right is taken
        made.append(
            NS(
                name="forest",
                recipe=f"f{i}",
                label=f"forest {i}",
                accuracy=0.86 + 0.001 * (i % 6),
                artifact_bytes=int(1.5e6 * 1.15**i),
                latency_ms_p50=5.0,
                co2_g_per_1k=1e-3,
            )
        )
    order = (
        made[:current_at] + made[current_at + 1 :] + [made[current_at]]
        if current_at != -1
        else made
    )
    plot.add(*order)
    return made


def _extents(fig, artists):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    return [a.get_window_extent(renderer) for a in artists]


@pytest.mark.parametrize("current_at", [-1, 0, 7])
def test_the_legend_and_the_current_label_hide_no_point_measured_by_matplotlib(current_at):
    from widgets.pareto_plot import ParetoPlot

    plot = ParetoPlot(interactive=False)
    _crowded(plot, current_at=current_at)
    ax = plot.ax
    legend, label = ax.get_legend(), plot._annotation
    legend_box, label_box, axes_box = _extents(ax.figure, [legend, label, ax])
    points = ax.transData.transform(plot._scatter.get_offsets())
    star = ax.transData.transform(np.column_stack(plot._highlight.get_data()))[0]
    assert not any(legend_box.contains(x, y) for x, y in points), "the legend hides a point"
    assert not legend_box.contains(*star)
    others = [p for p in points if not np.allclose(p, star)]
    assert not any(label_box.contains(x, y) for x, y in others), "the label hides a point"
    assert not label_box.overlaps(legend_box)
    assert axes_box.x0 - 1 <= label_box.x0 and label_box.x1 <= axes_box.x1 + 1  # not cut off
    assert [t.get_text() for t in legend.get_texts()] == [
        "configurations",
        "Pareto frontier",
        "current",
    ]


def test_the_svg_legend_hides_no_point():
    import xml.etree.ElementTree as ET

    from widgets.pareto_plot import ParetoPlot
    from widgets.svg_axes import render_axes

    plot = ParetoPlot(interactive=False)
    _crowded(plot, current_at=0)
    svg = ET.fromstring(render_axes(plot.ax))
    ns = "{http://www.w3.org/2000/svg}"
    frame = next(r for r in svg.iter(f"{ns}rect") if r.get("rx") == "3")  # the legend's
    x0, y0 = float(frame.get("x")), float(frame.get("y"))
    x1, y1 = x0 + float(frame.get("width")), y0 + float(frame.get("height"))
    legend_circles = 1  # the legend's own sample of the scatter
    inside = [
        c
        for c in svg.iter(f"{ns}circle")
        if x0 <= float(c.get("cx")) <= x1 and y0 <= float(c.get("cy")) <= y1
    ]
    assert len(inside) == legend_circles


def test_compare_labels_overlap_no_other_label_and_its_legend_lists_only_what_is_drawn():
    from widgets.compare import CompareApp

    def fake(model, recipe, **kw):
        bits = recipe.quant.bits if recipe.quant else 32
        return NS(
            label=recipe.describe(),
            accuracy=0.9 - 0.001 * (bits < 8),
            artifact_bytes=400_000 * bits // 32,
            state_dict_bytes=400_000,
            macs=1_000_000,
            flops=2_000_000,
            latency_ms_p50=1.0,
            co2_g_per_1k=1e-4,
            executes_as="fp32",
        )

    app = CompareApp(
        [
            ("cnn", "as trained"),
            ("cnn", "8-bit weights"),
            ("mlp", "as trained"),
            ("mlp", "8-bit weights"),
        ],
        evaluator=fake,
        per_class=lambda *a, **k: [0.9] * 10,
    )
    try:
        assert app.wait(60)
        ax = app.pareto.ax
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "current" not in texts  # the compare app draws no star
        labels = [a for a in app._marks if hasattr(a, "get_text")]
        boxes = _extents(ax.figure, labels)
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert not a.overlaps(b), "two labels overlap"
        assert "FLOPs / image" in app.table.value and "MACs" not in app.table.value
    finally:
        app.close()


def test_the_compare_app_says_when_a_row_waits_for_int8_calibration():
    import threading

    from widgets.compare import CompareApp

    seen, ready, holder = [], threading.Event(), {}

    def fake(model, recipe, **kw):
        assert ready.wait(30)
        seen.append(holder["app"].status.value)  # what the page shows while this row runs
        return NS(
            label=recipe.describe(),
            accuracy=0.9,
            artifact_bytes=100_000,
            state_dict_bytes=400_000,
            macs=1_000_000,
            latency_ms_p50=1.0,
            co2_g_per_1k=1e-4,
            executes_as="int8",
        )

    app = holder["app"] = CompareApp(
        [("mlp", "as trained"), ("mlp", "real int8 (weights + activations)")],
        evaluator=fake,
        per_class=lambda *a, **k: [0.9] * 10,
    )
    ready.set()
    try:
        assert app.wait(60)
        assert any("real int8" in s and "calibrating int8 activations first" in s for s in seen)
        assert not any("calibrating" in s for s in seen if "2/2" not in s)
    finally:
        app.close()


def test_the_deployment_line_shows_no_stale_figure_while_measuring():
    scale = DeploymentScale(per_day=1e6)
    scale.baseline_co2_g_per_1k, scale.co2_g_per_1k = 0.010, 0.005
    assert "saves" in scale.summary.value
    scale.measuring = True  # a first look of the next configuration is on screen
    assert scale.summary.value == "CO₂ per year: measuring…" and scale.kg_per_year is None
    scale.measuring = False
    assert "saves" in scale.summary.value
