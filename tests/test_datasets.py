"""Your own data, end to end: data no one here wrote (scikit-learn's digits, breast cancer and
wine sets, shipped inside the package) and a synthetic 3×32×32 RGB set with torchvision's
resnet18 — every technique that applies, thin models, the recommendation, the dashboard."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lab import evaluate, families, recommend, thin
from lab.datasets import LIVE_MAX, Data, DataError, as_data, fashion_mnist
from lab.interface import ModelInterfaceError
from lab.measure import fingerprint
from lab.store import ResultStore
from lab.techniques.apply import apply
from lab.techniques.configs import (
    FinetuneConfig,
    PruneConfig,
    QuantConfig,
    Recipe,
    ResolutionConfig,
)


@pytest.fixture(scope="module")
def digits() -> Data:
    return as_data(load_digits(), name="digits")


@pytest.fixture(scope="module")
def cancer() -> Data:
    return as_data(load_breast_cancer(), name="breast cancer")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ResultStore:
    return ResultStore(tmp_path_factory.mktemp("store") / "results.sqlite")


# ---------------------------------------------------------------- the forms data can take


def test_a_bunch_of_images_becomes_stratified_standardized_splits(digits):
    bunch = load_digits()
    assert digits.kind == "image" and digits.input_shape == (1, 8, 8)
    assert digits.n_classes == 10 and digits.native_size == 8
    sizes = {name: len(digits.split(name)) for name in ("train", "val", "test", "live")}
    assert sum(sizes[n] for n in ("train", "val", "test")) == len(bunch.target)
    assert sizes["live"] == sizes["test"] <= LIVE_MAX
    for name in ("train", "test"):  # every class in every split, in proportion (±2 samples)
        counts = np.bincount(digits.split(name).labels.numpy(), minlength=10)
        expected = np.bincount(bunch.target) * sizes[name] / len(bunch.target)
        assert np.all(np.abs(counts - expected) <= 2)
    train = digits.split("train").images
    assert abs(float(train.mean())) < 1e-5 and abs(float(train.std()) - 1) < 1e-3


def test_every_form_gives_the_same_data():
    bunch = load_wine()
    x, y = bunch.data, bunch.target
    forms = {
        "bunch": bunch,
        "numpy": (x, y),
        "tensors": (torch.tensor(x), torch.tensor(y)),
        "lists": (x.tolist(), y.tolist()),
    }
    names = tuple(bunch.target_names)
    made = {name: as_data(value, name="wine", classes=names) for name, value in forms.items()}
    prints = {name: data.fingerprint for name, data in made.items()}
    assert len(set(prints.values())) == 1, prints
    assert as_data(bunch).classes == names
    assert as_data((x, y)).classes == ("0", "1", "2")
    assert made["numpy"].kind == "tabular" and made["numpy"].input_shape == (13,)
    assert as_data((x, y)).fingerprint != made["numpy"].fingerprint  # class names count


def test_torch_datasets_loaders_and_dicts_of_splits():
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(120, 3, 6, 6, generator=generator)
    y = torch.arange(120) % 4
    from_dataset = as_data(TensorDataset(x, y))
    from_loader = as_data(DataLoader(TensorDataset(x, y), batch_size=7))
    assert from_dataset.fingerprint == from_loader.fingerprint
    assert from_dataset.mean is None  # torch datasets are taken as they are
    assert from_dataset.input_shape == (3, 6, 6) and from_dataset.n_classes == 4
    splits = as_data({"train": (x[:80], y[:80]), "test": TensorDataset(x[80:], y[80:])})
    assert len(splits.split("test")) == 40 and len(splits.split("live")) == 40
    assert len(splits.split("train")) + len(splits.split("val")) == 80
    grayscale = as_data((x[:, 0].numpy(), y.numpy()))  # N×H×W → N×1×H×W
    assert grayscale.input_shape == (1, 6, 6)


def test_the_callers_data_is_never_modified():
    bunch = load_digits()
    images, target = bunch.images.copy(), bunch.target.copy()
    tensor = torch.tensor(bunch.data, dtype=torch.float32)
    before = tensor.clone()
    as_data(bunch)
    as_data((tensor, torch.tensor(target)))
    assert np.array_equal(bunch.images, images) and np.array_equal(bunch.target, target)
    assert torch.equal(tensor, before)


def test_fashion_mnist_is_the_default():
    assert as_data(None) is fashion_mnist() and as_data(None).is_default
    assert as_data(None).sizes()[0] == 28 and as_data(None).sizes()[-1] == 4


@pytest.mark.parametrize(
    "value, message",
    [
        ((np.zeros((10, 3)), np.zeros(9)), "9 labels for 10 samples"),
        ((np.zeros((10, 3)), -np.ones(10)), "one class"),
        ((np.zeros((10, 3)), np.full(10, 0.5)), "constant"),
        ((np.full((10, 3), np.nan), np.arange(10) % 2), "NaN or infinite"),
        ((np.zeros((0, 3)), np.zeros(0)), "empty"),
        ((np.zeros(10), np.zeros(10)), "N×D features"),
        ((np.zeros((4, 1, 2, 2, 2)), np.zeros(4)), "N×D features"),
        ((np.zeros((10, 3)), np.zeros(10)), "one class"),
        ((np.array([["a", "b"]] * 4), np.arange(4) % 2), "numbers"),
        ("digits.csv", r"expected None \(Fashion-MNIST\).*got str"),
        ({"train": (np.zeros((4, 2)), np.arange(4) % 2)}, "needs 'train' and 'test'"),
        (
            {"train": (np.zeros((4, 2)), np.arange(4) % 2), "test": (np.zeros((4, 3)), [0, 1] * 2)},
            "same sample shape",
        ),
    ],
)
def test_bad_data_gets_a_clear_error(value, message):
    with pytest.raises(DataError, match=message):
        as_data(value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 30),
    d=st.integers(1, 5),
    labels=st.lists(st.integers(-2, 6), min_size=0, max_size=30),
    poison=st.sampled_from([None, "nan", "inf"]),
)
def test_any_array_input_gives_data_or_a_data_error(n, d, labels, poison):
    x = np.random.default_rng(0).normal(size=(n, d))
    if poison and n:
        x[0, 0] = np.nan if poison == "nan" else np.inf
    try:
        made = as_data((x, np.array(labels)))
    except DataError as exc:
        assert str(exc)
        return
    assert made.n_classes >= 2 and made.input_shape == (d,)
    assert len(labels) == n and poison is None


# ---------------------------------------------------------------- models on your data


def test_a_model_that_does_not_fit_the_data_is_rejected_clearly(digits, cancer):
    with pytest.raises(ModelInterfaceError, match=r"N×1×8×8 images → N×10 logits"):
        apply(nn.Sequential(nn.Flatten(), nn.Linear(64, 5)), data=digits)
    with pytest.raises(ModelInterfaceError, match="N×30 feature rows"):
        apply(nn.Linear(13, 2), data=cancer)
    with pytest.raises(DataError, match="tabular data has no pixels"):
        apply(nn.Linear(30, 2), ResolutionConfig(8), data=cancer)
    with pytest.raises(DataError, match="2 to 8 px"):
        apply(families.build("cnn-s", digits), ResolutionConfig(12), data=digits)
    with pytest.raises(ValueError, match="teacher='original'"):
        apply(families.build("cnn-s", digits), FinetuneConfig(teacher="teacher"), data=digits)


def test_digits_every_technique_end_to_end(digits, store):
    model, report = families.train("cnn-s", digits, epochs=8, progress=False)
    assert report.steps > 0
    before = fingerprint(model)
    base = evaluate(model, data=digits, effort="quick", store=store, name="cnn-s")
    assert base.data == "digits" and base.n_images == len(digits.split("live"))
    assert base.accuracy > 0.8 and base.resolution == 8
    recipes = {
        "unstructured": Recipe(prune=PruneConfig(0.5)),
        "channel": Recipe(prune=PruneConfig(0.5, structure="channel")),
        "4-bit": Recipe(quant=QuantConfig(bits=4)),
        "int8": Recipe(quant=QuantConfig(bits=8, activations=True)),
        "6 px": Recipe(resolution=ResolutionConfig(6), finetune=FinetuneConfig(epochs=1)),
        "kd": Recipe(prune=PruneConfig(0.7), finetune=FinetuneConfig(epochs=1, teacher="original")),
    }
    results = {
        key: evaluate(model, recipe, data=digits, effort="quick", store=store, name="cnn-s")
        for key, recipe in recipes.items()
    }
    assert fingerprint(model) == before  # the caller's model is never modified
    assert results["unstructured"].artifact_bytes < base.artifact_bytes
    assert results["channel"].flops < base.flops
    assert results["4-bit"].artifact_bytes < base.artifact_bytes
    assert results["int8"].executes_as.startswith("int8")
    assert results["6 px"].resolution == 6 and results["6 px"].flops < base.flops
    for key, m in results.items():
        assert m.data == "digits" and 0 <= m.accuracy <= 1, key
    # the data's fingerprint is in the cache key: Fashion-MNIST results are not served
    again = evaluate(model, data=digits, effort="quick", store=store, name="cnn-s")
    assert again.cached and again.accuracy == base.accuracy


def test_tabular_thin_models_and_the_recommendation(cancer, store):
    mlp, _ = families.train("mlp-s", cancer, epochs=40, progress=False)
    rows = [evaluate(mlp, data=cancer, effort="quick", store=store, name="mlp-s")]
    rows.append(
        evaluate(mlp, QuantConfig(bits=4), data=cancer, effort="quick", store=store, name="mlp-s")
    )
    for name in ("LogisticRegression", "RandomForestClassifier"):
        model = thin.fit_thin(name, data=cancer, progress=False)
        rows.append(evaluate(model, data=cancer, effort="quick", store=store))
    assert {r.data for r in rows} == {"breast cancer"}
    assert all(r.accuracy > 0.85 for r in rows)
    choice = recommend(rows, tolerance_pt=3.0)
    assert choice.chosen["artifact_bytes"] == min(
        r.artifact_bytes for r in rows if r.accuracy >= max(x.accuracy for x in rows) - 0.03
    )
    assert choice.reason


def test_binary_logistic_regression_has_an_equivalent_torch_form(cancer):
    model = thin.fit_thin("LogisticRegression", data=cancer, progress=False)
    torch_form = model.to_torch()
    x = cancer.split("test").images
    assert torch.equal(
        torch_form(x).argmax(1), torch.as_tensor(model.predict(x.numpy()), dtype=torch.long)
    )
    assert thin.compression_problem("LogisticRegression") is None
    assert "no weights" in thin.compression_problem("RandomForestClassifier")


def test_resnet18_on_synthetic_rgb(store):
    torchvision = pytest.importorskip("torchvision")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(100, 3, 32, 32, generator=generator)
    y = torch.arange(100) % 10
    rgb = as_data((x, y), name="synthetic rgb")
    model = torchvision.models.resnet18(num_classes=10).eval()
    before = fingerprint(model)
    base = evaluate(model, data=rgb, effort="quick", store=store, name="resnet18")
    small = evaluate(
        model, ResolutionConfig(16), data=rgb, effort="quick", store=store, name="resnet18"
    )
    slim = evaluate(
        model,
        PruneConfig(0.3, structure="channel"),
        data=rgb,
        effort="quick",
        store=store,
        name="resnet18",
    )
    assert fingerprint(model) == before and not model.training
    assert base.resolution == 32 and small.resolution == 16
    assert small.flops < 0.5 * base.flops  # 1/4 of the pixels (deep layers bottom out at 1 px)
    assert slim.artifact_bytes < base.artifact_bytes and slim.flops < base.flops


def test_the_dashboard_on_tabular_data_headless(cancer, store):
    from widgets import Dashboard

    mlp, _ = families.train("mlp-s", cancer, epochs=40, progress=False)
    dash = Dashboard(
        model=mlp,
        name="mlp-s",
        data=cancer,
        store=store,
        thin_models=["LogisticRegression", "RandomForestClassifier"],
    )
    try:
        assert dash.wait(120) and dash.measurement.data == "breast cancer"
        assert "tabular" in dash.problems["resolution"]
        assert dash.resolution.slider.disabled and not dash.sparsity.slider.disabled
        dash.sparsity.value = 0.5
        assert dash.wait(120) and dash.measurement.label.startswith("prune 50%")
        dash.model_picker.value = "RandomForestClassifier"
        assert dash.wait(300) and dash.measurement.name == "RandomForestClassifier"
        assert set(dash.problems) == {"sparsity", "bits", "resolution"}
        assert dash.recipe == Recipe()  # the disabled sliders do not count
        assert "no weights" in dash.unavailable.value
        dash.model_picker.value = "LogisticRegression"
        assert dash.wait(300) and "sparsity" not in dash.problems
        assert dash.measurement.label.startswith("prune 50%")  # through its torch form
        assert dash.recommendation.recommendation is not None
        assert len(dash.recommendation.frame) >= 4
    finally:
        dash.close()
    with pytest.raises(ValueError, match="Fashion-MNIST models"):
        Dashboard(model="cnn", data=cancer, store=store)


def test_thin_and_torch_models_share_one_pareto_plot(cancer, store):
    from widgets import ParetoPlot

    mlp, _ = families.train("mlp-s", cancer, epochs=40, progress=False)
    forest = thin.fit_thin("RandomForestClassifier", data=cancer, progress=False)
    rows = [
        evaluate(mlp, data=cancer, effort="quick", store=store, name="mlp-s"),
        evaluate(forest, data=cancer, effort="quick", store=store),
    ]
    plot = ParetoPlot()
    plot.add(*rows)
    assert len(plot.data["x"]) == 2  # both baselines ("{}" recipes) are kept apart
    assert any("RandomForestClassifier" in label for label in plot.data["labels"])
