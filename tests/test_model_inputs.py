"""Models, estimators, evaluation arguments, export and model files, second round (issue
19): an unfitted estimator, a model returning NaN, a torch.export file with a fixed batch,
an ONNX example the model cannot take, an ONNX graph fed another shape, and evaluation
arguments of the wrong kind end in an error naming them — never a wrong number, an
exporter's pages of tracing output or an AttributeError halfway through."""

from __future__ import annotations

import math
import random
import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from lab.datasets import as_data
from lab.evaluation.arguments import check_arguments
from lab.evaluation.measure import Evaluation
from lab.io.store import ResultStore
from lab.meters.process import import_kept
from lab.models.interface import ModelInterfaceError, check_model
from lab.models.thin import check_fitted
from lab.runtimes.loading import load_model
from lab.techniques.configs import Recipe

WINE = as_data(load_wine(), name="wine")


class Linear(nn.Module):
    def __init__(self, inputs: int = 13, outputs: int = 3, scale: float = 1.0) -> None:
        super().__init__()
        self.layer = nn.Linear(inputs, outputs)
        self.scale = scale

    def forward(self, x):
        return self.layer(x.flatten(1)) * self.scale


@pytest.fixture
def store(tmp_path):
    return ResultStore(tmp_path / "results.sqlite")


# ---------------------------------------------------------------------- estimators
@pytest.mark.parametrize(
    ("estimator", "match"),
    [
        (LogisticRegression(), "LogisticRegression is not fitted"),
        (make_pipeline(StandardScaler(), LogisticRegression()), r"not fitted \(stage Standard"),
        (PCA(2), "does not predict"),
    ],
)
def test_an_estimator_that_cannot_be_measured_is_named(estimator, match, store):
    with pytest.raises(ValueError, match=match):
        Evaluation(estimator, data=WINE, store=store)


def test_a_fitted_pipeline_passes_the_check():
    train = WINE.split("train")
    x, y = train.images.numpy(), train.labels.numpy()
    check_fitted(make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(x, y))


def test_a_model_returning_nan_is_refused_not_scored():
    with pytest.raises(ModelInterfaceError, match="returned NaN"):
        check_model(Linear(scale=float("nan")), WINE)


# ---------------------------------------------------------------------- evaluation arguments
@pytest.mark.parametrize(
    ("argument", "value", "match"),
    [
        ("use_cache", "no", "use_cache must be True or False"),
        ("timings", [], "timings must be a dict"),
        ("runtime", "tensorrt", "runtime must be one of 'torch', 'onnxruntime'"),
        ("store", "results.sqlite", "store must be a lab.store.ResultStore"),
        ("name", 5, "name must be a str"),
    ],
)
def test_evaluation_arguments_are_checked_before_any_work(argument, value, match, store):
    arguments = {"store": store, argument: value}
    with pytest.raises((TypeError, ValueError), match=match):
        Evaluation(Linear(), data=WINE, **arguments)


def test_cancel_must_be_an_event(store):
    evaluation = Evaluation(Linear(), data=WINE, store=store, use_cache=False)
    with pytest.raises(TypeError, match="cancel must be a threading.Event"):
        evaluation.first_look(images=5, cancel=True)
    with pytest.raises(TypeError, match="cancel must be a threading.Event"):
        evaluation.final(cancel="stop")
    assert evaluation.first_look(images=5, cancel=threading.Event()).preliminary


@settings(max_examples=100, deadline=None)
@given(
    use_cache=st.one_of(st.booleans(), st.none(), st.integers(), st.text(max_size=3)),
    runtime=st.one_of(st.sampled_from(["torch", "onnxruntime"]), st.text(max_size=12)),
)
def test_check_arguments_takes_exactly_bools_and_known_runtimes(use_cache, runtime):
    ok = isinstance(use_cache, bool) and runtime in ("torch", "onnxruntime")
    call = dict(name=None, store=None, use_cache=use_cache, timings=None, runtime=runtime)
    if ok:
        check_arguments(**call)
    else:
        with pytest.raises((TypeError, ValueError), match="use_cache|runtime"):
            check_arguments(**call)


# ---------------------------------------------------------------------- model files
def _exported(tmp_path, dynamic: bool):
    path = tmp_path / ("dynamic.pt2" if dynamic else "fixed.pt2")
    shapes = {"x": {0: torch.export.Dim("batch")}} if dynamic else None
    program = torch.export.export(Linear().eval(), (torch.rand(2, 13),), dynamic_shapes=shapes)
    torch.export.save(program, path)
    return path


def test_a_torch_export_file_with_a_dynamic_batch_is_evaluated(tmp_path, store):
    model = load_model(_exported(tmp_path, dynamic=True))  # no train()/eval(): eval_mode copes
    found = Evaluation(model, data=WINE, store=store, use_cache=False).first_look(images=7)
    assert 0.0 <= found.accuracy <= 1.0


def test_a_torch_export_file_with_a_fixed_batch_loads_but_is_not_measured(tmp_path, store):
    model = load_model(_exported(tmp_path, dynamic=False))
    assert model(torch.rand(2, 13)).shape == (2, 3)  # it runs the batch it was made for
    with pytest.raises(
        ModelInterfaceError, match=r"one batch size only \(x: 2×13\).*dynamic_shapes"
    ):
        Evaluation(model, data=WINE, store=store, use_cache=False).first_look(images=7)


@pytest.mark.parametrize("path", [None, 3, 2.5, b"x"])
def test_load_model_names_a_path_of_the_wrong_type(path):
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        load_model(path)


def test_to_onnx_checks_the_example_and_the_graph_names_its_input_shape(tmp_path):
    pytest.importorskip("onnxscript")
    from lab.runtimes.export import OnnxRuntimeModel, to_onnx

    with pytest.raises(ValueError, match=r"fails on the example's samples \(4\)"):
        to_onnx(Linear(), tmp_path / "bad.onnx", example=torch.rand(1, 4))
    path = to_onnx(Linear(), tmp_path / "wine.onnx", data=WINE)
    runtime = OnnxRuntimeModel(path)
    assert runtime(torch.rand(5, 13)).shape == (5, 3)
    with pytest.raises(ValueError, match=r"takes inputs shaped N×13; got \(2, 4\)"):
        runtime(torch.rand(2, 4))


# ---------------------------------------------------------------------- process state
def test_import_kept_puts_back_rng_and_environment(monkeypatch):
    import sys
    import types

    def leaky_import(name):  # what scikit-learn's first import does to the process
        random.random()
        np.random.rand()
        monkeypatch.setenv("KMP_DUPLICATE_LIB_OK", "True")
        module = types.ModuleType(name)
        sys.modules[name] = module
        return module

    monkeypatch.setattr("importlib.import_module", leaky_import)
    monkeypatch.delenv("KMP_DUPLICATE_LIB_OK", raising=False)
    monkeypatch.delitem(sys.modules, "lab_test_leaky", raising=False)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    import_kept("lab_test_leaky")
    assert random.getstate() == python_state
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    import os

    assert "KMP_DUPLICATE_LIB_OK" not in os.environ


def test_a_model_returning_plus_inf_is_refused_and_minus_inf_masking_is_not():
    with pytest.raises(ModelInterfaceError, match=r"returned \+inf"):
        check_model(Linear(scale=math.inf), WINE)

    class Masked(Linear):
        def forward(self, x):
            out = super().forward(x)
            return torch.cat([out[:, :2], torch.full_like(out[:, 2:], -math.inf)], dim=1)

    check_model(Masked(), WINE)


def test_a_model_on_the_meta_device_is_named_before_any_work():
    """Weights on the 'meta' device have no values: evaluating or checking such a model says
    so and how to give them values (torch's own error came from deep inside before)."""
    from lab import evaluate
    from lab.interface import check_model

    with torch.device("meta"):
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    for run in (
        lambda: evaluate(model, effort="quick", use_cache=False),
        lambda: check_model(model),
    ):
        with pytest.raises(ValueError, match="'meta' device.*to_empty"):
            run()


def test_token_ids_read_as_features_point_to_pad_id():
    """Integer ids given without ``pad_id`` are a feature table (standardized floats): a model
    that looks up embeddings fails on them, and the error says how to keep ids as ids."""
    from lab.datasets import as_data
    from lab.interface import ModelInterfaceError, check_model

    rng = np.random.default_rng(0)
    ids, labels = rng.integers(1, 50, (120, 12)), np.arange(120) % 2

    class Bag(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bag, self.head = torch.nn.EmbeddingBag(50, 8), torch.nn.Linear(8, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.bag(x))

    with pytest.raises(ModelInterfaceError, match=r"pad_id="):
        check_model(Bag(), as_data((ids, labels)))
    check_model(Bag(), as_data((ids, labels), pad_id=0))  # ids kept as int64: it runs


def test_a_checkpoint_dict_and_a_word_tokenizer_are_named_with_what_to_do(tmp_path):
    """A checkpoint that keeps its state_dict under another key is named with that key; a
    tokenizer returning words (not ids) is named as returning a list of str; torch's
    unpickling error reaches the user without terminal colour codes."""
    from lab.datasets.errors import DataError
    from lab.runtimes.loading import ModelFileError, load_model
    from lab.text import text_data

    path = tmp_path / "checkpoint.pt"
    torch.save({"model": torch.nn.Linear(2, 2).state_dict(), "epoch": 3}, path)
    with pytest.raises(ModelFileError, match=r"checkpoint\['model'\]"):
        load_model(path, architecture=torch.nn.Linear(2, 2))
    with pytest.raises(DataError, match="got a list of str"):
        text_data(["a b", "c"], [0, 1], str.split)
    whole = tmp_path / "whole.pt"
    torch.save(torch.nn.Linear(2, 2), whole)
    with pytest.raises(ModelFileError) as refused:
        load_model(whole, architecture=torch.nn.Linear(2, 2))
    assert "\x1b[" not in str(refused.value) and "state_dict" in str(refused.value)


# ---------------------------------------------------------------- training options


def test_fit_takes_train_config_fields_as_options_and_names_the_allowed_ones():
    """``fit(model, epochs=2, …)`` changes those fields of the defaults (as
    ``dataclasses.replace``); an unknown option is named with every allowed one."""
    from lab.models import training

    torch.manual_seed(0)
    model = Linear()
    report = training.fit(model, data=WINE, progress=False, max_batches=3, seed=4)
    assert report.steps == 3
    with pytest.raises(TypeError, match=r"unknown option\(s\) epoch.*epochs, lr"):
        training.fit(Linear(), data=WINE, progress=False, epoch=3)
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        training.fit(Linear(), {"epochs": 3}, data=WINE, progress=False)


@settings(max_examples=40, deadline=None)
@given(
    field=st.sampled_from(
        [
            "epochs",
            "lr",
            "weight_decay",
            "batch_size",
            "label_smoothing",
            "augment",
            "shift",
            "seed",
            "max_seconds",
            "max_batches",
        ]
    ),
    value=st.one_of(
        st.text(max_size=3),
        st.just(math.nan),
        st.just(-math.inf),
        st.just(-1),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
    ),
)
def test_a_train_config_refuses_values_its_field_cannot_take(field, value):
    """Each field refuses what it cannot mean with an error naming it — never a TypeError
    from a comparison, or a training run that starts and fails later."""
    from lab.models.training import TrainConfig

    if field == "augment" and isinstance(value, bool):
        return  # the one field a bool is right for; elsewhere a bool is not a number
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


# ---------------------------------------------------------------- features in the user's units


def test_a_model_fitted_on_unstandardized_features_is_refused_not_scored_wrong():
    """scikit-learn's LogisticRegression fitted on iris as it comes scored 33 % (chance) on
    the standardized features as_data gives by default; the lab now names the mismatch, and
    with standardize=False the accuracy is scikit-learn's own on the same rows."""
    from sklearn.datasets import load_diabetes, load_iris
    from sklearn.linear_model import Ridge

    from lab.evaluation.measure import evaluate

    iris = load_iris()
    raw_fit = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
    with pytest.raises(ModelInterfaceError, match=r"standardize=False.*|unstandardized"):
        evaluate(raw_fit, data=as_data((iris.data, iris.target)), effort="quick", use_cache=False)
    evaluation = Evaluation(raw_fit, data=as_data((iris.data, iris.target)), use_cache=False)
    for _ in range(2):  # a second call is refused too, not measured
        with pytest.raises(ModelInterfaceError, match="unstandardized"):
            evaluation.first_look()
    own = as_data((iris.data, iris.target), standardize=False)
    m = evaluate(raw_fit, data=own, effort="quick", use_cache=False)
    live = own.split("live")
    assert m.accuracy == pytest.approx(raw_fit.score(live.images.numpy(), live.labels.numpy()))
    # the lab's notes on its own Fashion-MNIST LogisticRegression are not about this one
    assert not any("784" in note or "paper" in note for note in m.notes), m.notes
    diabetes = load_diabetes()
    x = diabetes.data * 100 + 5  # features in units of the user's own
    ridge = Ridge().fit(x, diabetes.target)
    with pytest.raises(ModelInterfaceError, match="mean absolute error"):
        evaluate(
            ridge,
            data=as_data((x, diabetes.target), task="regression"),
            effort="quick",
            use_cache=False,
        )


def test_a_model_fitted_on_the_labs_features_or_untrained_passes_the_scale_check():
    """Negative controls: an estimator fitted on the lab's standardized training split, and
    a random-weight torch model (chance either way), are measured as before."""
    from lab.evaluation.kinds import model_kind
    from lab.evaluation.measure import evaluate, scale_problem

    train = WINE.split("train")
    fitted = LogisticRegression(max_iter=1000).fit(train.images.numpy(), train.labels.numpy())
    assert evaluate(fitted, data=WINE, effort="quick", use_cache=False).accuracy > 0.8
    torch.manual_seed(0)
    untrained = Linear().eval()
    runnable = model_kind(untrained).prepare(Recipe(), WINE)
    assert scale_problem(runnable, WINE) == ""


def test_an_image_model_fitted_on_raw_pixels_is_refused_on_standardized_images():
    """A model whose classes are brightness bands of raw 0–255 pixels (as one trained on
    uint8 images would see them) is refused on the per-channel standardized images."""
    from lab.evaluation.measure import evaluate

    rng = np.random.default_rng(0)
    labels = np.arange(120) % 4
    images = (labels[:, None, None, None] * 60 + rng.integers(0, 40, (120, 3, 8, 8))).astype(
        np.uint8
    )

    class Bands(nn.Module):
        def forward(self, x):
            level = x.mean((1, 2, 3), keepdim=False)[:, None]  # 0–255 on raw pixels
            centres = torch.tensor([20.0, 80.0, 140.0, 200.0])
            return -(level - centres).abs()

    data = as_data((images, labels))
    with pytest.raises(ModelInterfaceError, match="unstandardized"):
        evaluate(Bands(), data=data, effort="quick", use_cache=False)
    kept = as_data((images, labels), standardize=False)
    assert evaluate(Bands(), data=kept, effort="quick", use_cache=False).accuracy == 1.0


def test_channel_pruning_a_channel_shuffle_names_the_way_out_and_leaves_the_model():
    """ShuffleNet's channel shuffle (a reshape of the channel axis) defeats Torch-Pruning's
    dependency graph (a bare ZeroDivisionError before): the error names the cause and
    structure='unstructured'; the user's model is unchanged."""
    import torchvision

    from lab.techniques.configs import PruneConfig
    from lab.techniques.pruning import prune

    model = torchvision.models.shufflenet_v2_x0_5(num_classes=5).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"channel shuffle.*structure='unstructured'"):
        prune(model, PruneConfig(0.5, structure="channel"), example_input=torch.zeros(1, 3, 32, 32))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_a_model_class_instead_of_an_instance_is_named_as_such():
    from lab.evaluation.measure import evaluate

    with pytest.raises(TypeError, match=r"the class Linear itself: pass an instance"):
        evaluate(nn.Linear, data=WINE, effort="quick", use_cache=False)
