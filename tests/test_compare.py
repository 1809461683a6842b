"""The side-by-side comparison (widgets.compare) headless: a fake evaluator for the behaviour,
the real lab for the numbers (per-class counts against lab.evaluate's accuracy)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest

from lab import data, zoo
from lab.techniques.configs import Recipe
from widgets.compare import NO_RECIPE, PRESETS, CompareApp, Entry, per_class_accuracy
from widgets.units import format_bytes


class FakeLab:
    """lab.evaluate's and per_class_accuracy's signatures; numbers that depend on the recipe."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def evaluate(self, model, recipe, **kwargs):
        with self.lock:
            self.calls.append((kwargs["name"], recipe.describe()))
        if self.fail_on and self.fail_on == kwargs["name"]:
            raise ValueError(f"{kwargs['name']} cannot run: simulated failure")
        bits = recipe.quant.bits if recipe.quant else 32
        return SimpleNamespace(
            label=recipe.describe(),
            accuracy=0.9 - 0.01 * (bits < 8),
            artifact_bytes=400_000 * bits // 32,
            state_dict_bytes=400_000,
            macs=1_000_000,
            latency_ms_p50=1.0,
            co2_g_per_1k=1e-4,
            executes_as="fp32",
        )

    def per_class(self, model, recipe, **kwargs):
        return np.linspace(0.8, 0.98, len(data.CLASSES))


@pytest.fixture
def apps():
    made = []

    def make(entries, **kwargs):
        lab = kwargs.pop("lab", FakeLab())
        app = CompareApp(entries, evaluator=lab.evaluate, per_class=lab.per_class, **kwargs)
        made.append(app)
        assert app.wait(60)
        return app, lab

    yield make
    for app in made:
        app.close()


def test_rows_table_pareto_and_per_class_show_every_entry(apps):
    app, lab = apps([("cnn", NO_RECIPE), ("cnn", "4-bit weights"), ("mlp", "8-bit weights")])
    assert [r["label"] for r in app.rows] == ["cnn", "cnn · 4-bit weights", "mlp · 8-bit weights"]
    assert lab.calls == [("cnn", "baseline"), ("cnn", "4-bit channel"), ("mlp", "8-bit channel")]
    assert app.table.value.count("class='lab-compare-result'") == 3
    assert f"<b>{format_bytes(50_000)}</b>" in app.table.value  # the smallest file in bold
    assert "<b>90.00 %</b>" in app.table.value and "<b>89.00 %</b>" not in app.table.value
    assert app.error == "" and not app.busy
    plotted = app.pareto.data
    assert len(plotted["x"]) == 3 and sorted(plotted["x"]) == [50_000, 100_000, 400_000]
    # the 8-bit mlp (100 kB, 90 %) dominates the fp32 cnn (400 kB, 90 %); the 4-bit cnn
    # (50 kB, 89 %) is the cheapest
    assert sorted(map(tuple, plotted["front"].tolist())) == [(50_000.0, 89.0), (100_000.0, 90.0)]
    labels = [m.get_text() for m in app._marks if hasattr(m, "get_text")]
    assert labels == ["cnn", "cnn · 4-bit weights", "mlp · 8-bit weights"]
    app.pareto.x_axis = "co2"  # the coloured, labelled points follow the chosen cost
    xs = [m.xy[0] for m in app._marks if hasattr(m, "get_text")]
    assert xs == [1e-4, 1e-4, 1e-4] and len(app._marks) == 6
    bars = app._class_ax.patches
    assert len(bars) == 3 * len(data.CLASSES)
    assert [t.get_text() for t in app._class_ax.get_yticklabels()] == list(data.CLASSES)


def test_a_changed_row_is_measured_alone(apps):
    app, lab = apps([("cnn", NO_RECIPE), ("mlp", NO_RECIPE)])
    before = len(lab.calls)
    app.set_entry(1, preset="4-bit weights")
    assert app.wait(60)
    assert lab.calls[before:] == [("mlp", "4-bit channel")]
    assert [r["label"] for r in app.rows] == ["cnn", "mlp · 4-bit weights"]
    app.set_entry(1, preset=NO_RECIPE)  # measured before: from memory, no new call
    assert app.wait(60)
    assert len(lab.calls) == before + 1 and app.rows[1]["label"] == "mlp"


def test_two_to_four_entries(apps):
    app, _ = apps([("cnn", NO_RECIPE), ("mlp", NO_RECIPE)])
    remove = [row.children[2] for row in app.pickers.children]
    assert all(button.disabled for button in remove) and not app.add_button.disabled
    with pytest.raises(ValueError, match="at least 2"):
        app.remove_entry(0)
    app.add_entry("mobile")
    app.add_entry("teacher", "8-bit weights")
    assert app.add_button.disabled
    with pytest.raises(ValueError, match="at most 4"):
        app.add_entry("cnn")
    app.remove_entry(0)
    assert app.wait(60)
    assert [e.label for e in app.entries] == ["mlp", "mobile", "teacher · 8-bit weights"]
    assert [r["label"] for r in app.rows] == ["mlp", "mobile", "teacher · 8-bit weights"]
    with pytest.raises(
        ValueError, match=r"entries must hold 2 to 4 \(model, recipe\) pairs to compare; got 1"
    ):
        CompareApp([("cnn", NO_RECIPE)])


def test_choices_are_validated_with_what_is_allowed(apps):
    app, _ = apps([("cnn", NO_RECIPE), ("LogisticRegression", NO_RECIPE)])
    with pytest.raises(ValueError, match="unknown model 'resnet'; choose one of cnn, teacher"):
        app.set_entry(0, model="resnet")
    with pytest.raises(ValueError, match="unknown recipe 'magic'; choose one of as trained, 8-bit"):
        app.set_entry(0, preset="magic")
    with pytest.raises(ValueError, match="LogisticRegression is a thin .* choose 'as trained'"):
        app.set_entry(1, preset="4-bit weights")
    thin_row = app.pickers.children[1]
    assert thin_row.children[1].disabled and thin_row.children[1].value == NO_RECIPE
    app.set_entry(0, preset="4-bit weights")
    app.set_entry(0, model="RandomForestClassifier")  # a thin model resets the recipe
    assert app.entries[0] == Entry("RandomForestClassifier", NO_RECIPE)
    with pytest.raises(ValueError, match="unknown thin model 'SVM'; choose from"):
        CompareApp([("cnn", NO_RECIPE), ("mlp", NO_RECIPE)], thin=["SVM"])
    with pytest.raises(TypeError, match=r"models\['mine'\] must be a torch.nn.Module"):
        CompareApp([("cnn", NO_RECIPE), ("mlp", NO_RECIPE)], models={"mine": "not a model"})


def test_a_failing_entry_is_named_and_the_others_are_shown(apps):
    app, _ = apps([("cnn", NO_RECIPE), ("mlp", NO_RECIPE)], lab=FakeLab(fail_on="mlp"))
    assert app.error == "could not measure mlp: mlp cannot run: simulated failure"
    assert "lab-error" in app.status.value
    assert [r["label"] for r in app.rows] == ["cnn"]


def test_your_own_model_is_offered(apps, tiny_model):
    app, lab = apps([("mine", NO_RECIPE), ("cnn", NO_RECIPE)], models={"mine": tiny_model})
    assert app.options[: len(zoo.names())] == zoo.names() and "mine" in app.options
    assert ("mine", "baseline") in lab.calls


@pytest.mark.slow
def test_real_numbers_per_class_counts_agree_with_lab_evaluate(trained_cnn):
    """On ``live`` (200 images per class) the mean per-class accuracy is the accuracy."""
    app = CompareApp([("cnn", NO_RECIPE), ("cnn", "4-bit weights")], thin=())
    try:
        assert app.wait(300), "the comparison did not finish"
        assert app.error == ""
        for row in app.rows:
            assert len(row["per_class"]) == 10 and all(0 <= v <= 1 for v in row["per_class"])
            assert np.mean(row["per_class"]) == pytest.approx(row["accuracy"], abs=1e-9)
        plain, four_bit = app.rows
        assert four_bit["artifact_bytes"] < plain["artifact_bytes"] / 4
    finally:
        app.close()
    split = data.load_split("live")
    direct = per_class_accuracy(trained_cnn, Recipe())
    predicted = trained_cnn.eval()(split.images).argmax(1)
    for c in range(10):  # independent count with the uncompressed module itself
        mask = split.labels == c
        assert direct[c] == pytest.approx(float((predicted[mask] == c).float().mean()), abs=0.01)
    assert set(PRESETS) >= {NO_RECIPE, "4-bit weights"}
