"""One contract, every model kind (as Optuna's StorageTestCase runs over every storage).

Each case is one kind of model the lab measures; every test runs over all of them and checks
the contract of :mod:`lab.kinds` against independent references: torch's own forward pass
and scikit-learn's own ``predict``, the bytes of files written here, hand counts.
Adding a kind: one entry in ``CASES``.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from torch import nn

from lab import artifact, flops, kinds, measure, thin
from lab.datasets import as_data
from lab.store import ResultStore
from lab.techniques.apply import apply
from lab.techniques.configs import PruneConfig, Recipe


@pytest.fixture(scope="module")
def digits():
    return as_data(load_digits(), name="digits")


def _rows(split) -> np.ndarray:
    return split.images.reshape(len(split), -1).numpy()


def _torch_module(digits):
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def _compressed(digits):
    return apply(_torch_module(digits), PruneConfig(0.5), data=digits, progress=False)


def _estimator(digits):
    train = digits.split("train")
    return LogisticRegression(max_iter=500).fit(_rows(train), train.labels.numpy())


def _pipeline(digits):
    train = digits.split("train")
    model = make_pipeline(PCA(16, random_state=0), LogisticRegression(max_iter=500))
    return model.fit(_rows(train), train.labels.numpy())


def _forest(digits):
    train = digits.split("train")
    forest = RandomForestClassifier(n_estimators=5, max_depth=6, random_state=0)
    return forest.fit(_rows(train), train.labels.numpy())


def _thin_model(digits):
    folder = Path(tempfile.mkdtemp(prefix="lab-kinds-"))
    return thin.fit_thin("LogisticRegression", data=digits, cache_dir=folder, progress=False)


CASES = {  # name → (builder, kind's label, reference predictor of raw samples)
    "torch module": (_torch_module, "torch", lambda m, x: m(x).argmax(1)),
    "Compressed": (_compressed, "torch", lambda m, x: m.runtime(x).argmax(1)),
    "scikit-learn estimator": (_estimator, "scikit-learn", lambda m, x: m.predict(_flat(x))),
    "scikit-learn Pipeline": (_pipeline, "scikit-learn", lambda m, x: m.predict(_flat(x))),
    "forest": (_forest, "scikit-learn", lambda m, x: m.predict(_flat(x))),
    "ThinModel": (_thin_model, "scikit-learn", lambda m, x: m.estimator.predict(_flat(x))),
}


def _flat(x: torch.Tensor) -> np.ndarray:
    return x.reshape(len(x), -1).numpy()


@pytest.fixture(scope="module", params=list(CASES))
def case(request, digits):
    build, label, reference = CASES[request.param]
    return request.param, build(digits), label, reference


def test_the_kind_is_found_and_named(case):
    name, model, label, _ = case
    kind = kinds.model_kind(model)
    assert kind.label == label
    assert isinstance(kind.name, str) and kind.name
    assert kinds.is_thin(model) == (label == "scikit-learn")


def test_predictions_equal_the_models_own(case, digits):
    _, model, _, reference = case
    runnable = kinds.model_kind(model).prepare(Recipe(), digits)
    live = digits.split("live")
    with torch.no_grad():
        mine = runnable.predict(live.images[:50])
        theirs = torch.as_tensor(np.asarray(reference(model, live.images[:50])))
    assert torch.equal(mine.long(), theirs.long())


def test_the_fingerprint_follows_the_content(case):
    _, model, label, _ = case
    kind = kinds.model_kind(model)
    assert kind.fingerprint() == kinds.model_kind(model).fingerprint()  # stable
    if isinstance(model, nn.Module):
        changed = copy.deepcopy(model)
        with torch.no_grad():
            next(changed.parameters()).add_(1.0)
        assert kinds.model_kind(changed).fingerprint() != kind.fingerprint()
    elif isinstance(model, thin.ThinModel):
        assert kind.fingerprint() == model.file_sha256[:16]
    elif label == "scikit-learn":  # no file: its content cannot be known → never cached
        assert kind.fingerprint() == ""


def test_bytes_are_a_real_file(case, digits, tmp_path):
    _, model, label, _ = case
    runnable = kinds.model_kind(model).prepare(Recipe(), digits)
    size = runnable.artifact_bytes()
    if label == "torch":
        stored = model.model if hasattr(model, "runtime") else model
        assert (
            size == artifact.save(stored, tmp_path / "m.lab") == (tmp_path / "m.lab").stat().st_size
        )
        original = getattr(model, "original", None) or model
        assert runnable.baseline_bytes() == artifact.state_dict_bytes(original)
    else:
        wrapped = (
            model if isinstance(model, thin.ThinModel) else thin.ThinModel.from_estimator(model)
        )
        written = wrapped.save(tmp_path / "m.skops")
        assert abs(size - written) <= 64  # skops names members by object ids: a few bytes
        assert runnable.baseline_bytes() == size


def test_counts_and_operations(case, digits):
    _, model, label, _ = case
    runnable = kinds.model_kind(model).prepare(Recipe(), digits)
    parameters, nonzero = runnable.parameter_counts()
    count, macs, kind = runnable.operations(digits)
    assert 0 < nonzero <= parameters
    assert kind in ("MACs", "comparisons")
    if label == "torch":
        stored = model.model if hasattr(model, "runtime") else model
        assert parameters == sum(p.numel() for p in stored.parameters())
        assert count == flops.count_flops(stored, digits.example(1)) and macs == count // 2
        assert macs == 64 * 32 + 32 * 10  # by hand: the two Linear layers
    elif kind == "MACs":
        assert count == 2 * macs
    else:
        assert count == macs > 0  # comparisons are counted once


def test_timing_calls_run(case, digits):
    _, model, _, _ = case
    runnable = kinds.model_kind(model).prepare(Recipe(), digits)
    runnable.one_call(digits)()
    batch = runnable.batch_call(digits)
    assert batch is None or batch() is not None


def test_capabilities_name_every_knob_that_does_not_apply(case, digits):
    _, model, label, _ = case
    offered = kinds.capabilities(model, digits)
    assert set(offered.problems) <= set(kinds.TECHNIQUES)
    assert all(isinstance(reason, str) and reason for reason in offered.problems.values())
    assert offered.sizes[0] == digits.native_size
    if label == "scikit-learn":
        assert not offered.applies("resolution")
        has_torch_form = not isinstance(_final(model), RandomForestClassifier) and not hasattr(
            model, "steps"
        )
        assert offered.applies("bits") == has_torch_form
        assert (offered.through is not None) == has_torch_form
    with pytest.raises(ValueError, match="sparsity, bits, resolution"):
        offered.applies("pixels")


def _final(model):
    estimator = model.estimator if isinstance(model, thin.ThinModel) else model
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def test_one_pipeline_measures_every_kind_without_touching_it(case, digits, tmp_path):
    _, model, label, reference = case
    state = copy.deepcopy(model.state_dict()) if isinstance(model, nn.Module) else None
    training = model.training if isinstance(model, nn.Module) else None
    m = measure.evaluate(
        model, data=digits, effort="quick", store=ResultStore(tmp_path / "r.sqlite")
    )
    live = digits.split("live")
    with torch.no_grad():
        expected = torch.as_tensor(np.asarray(reference(model, live.images)))
    assert m.accuracy == pytest.approx(float((expected == live.labels).float().mean()))
    assert m.n_images == len(live) and not m.preliminary
    assert m.latency_samples_ms and m.throughput_ips > 0
    assert m.runtime == label
    if state is not None:  # the user's model is untouched: weights and train/eval mode
        assert model.training == training
        assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_a_first_look_then_the_final_figures_for_every_kind(case, digits, tmp_path):
    _, model, _, _ = case
    evaluation = measure.Evaluation(
        model, data=digits, effort="quick", store=ResultStore(tmp_path / "r.sqlite")
    )
    first = evaluation.first_look(images=100)
    final = evaluation.final()
    assert first.preliminary and first.latency_ms_p50 is None
    assert (first.artifact_bytes, first.macs) == (final.artifact_bytes, final.macs)
    assert final.n_images == len(digits.split("live"))


def test_something_of_no_kind_is_refused_naming_the_kinds():
    with pytest.raises(TypeError, match="torch.nn.Module.*scikit-learn"):
        kinds.model_kind("a model")
    with pytest.raises(TypeError, match="got dict"):
        measure.evaluate({"weights": [1, 2]})


def test_a_recipe_on_a_thin_model_names_what_applies(digits):
    forest = _forest(digits)
    with pytest.raises(ValueError, match="fewer or shallower trees"):
        measure.evaluate(forest, PruneConfig(0.5), data=digits, use_cache=False)


def test_memory_is_a_metric_of_every_kind(case, digits, tmp_path):
    from lab.meters import memory

    _, model, label, _ = case
    evaluation = measure.Evaluation(
        model, data=digits, effort="quick", store=ResultStore(tmp_path / "r.sqlite")
    )
    first = evaluation.first_look(images=100)
    assert first.peak_memory_bytes > 0 and first.peak_activation_bytes > 0
    assert first.memory_method
    if label == "torch":  # the plan of what executes, at batch 1, as lab.meters.memory makes it
        runtime = evaluation.runnable().compressed.runtime
        plan = memory.planned_peak(runtime, digits.example(1))
        assert first.peak_memory_bytes == plan.peak_bytes
        assert first.peak_memory_bytes_throughput >= first.peak_memory_bytes
        assert sum(first.macs_by_kind.values()) == first.macs
        arena = memory.planned_peak(runtime, digits.example(1), lifetimes="last-use")
        assert first.peak_arena_bytes == arena.peak_activation_bytes <= plan.peak_activation_bytes
        on_mcu = first.on_device("nucleo-l4r5zi", precision="int8")
        assert on_mcu.fits_ram and on_mcu.latency_ms > 0 and "estimated from" in repr(on_mcu)
        assert on_mcu.ram_bytes == first.peak_arena_bytes  # weights run from flash
        assert first.on_device("raspberry-pi-4").ram_bytes == first.peak_memory_bytes
    else:
        assert first.peak_memory_bytes > first.peak_activation_bytes  # resident + working
    assert evaluation.final().peak_memory_bytes == first.peak_memory_bytes  # reused, exact
