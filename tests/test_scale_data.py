"""Data at scale and other inputs: images kept as given (lab.lazy), token ids (lab.text),
models from files (lab.loading), the device (lab.device) and a dashboard on 224 px images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from lab import datasets
from lab.datasets import DataError, as_data
from lab.lazy import LazyImages
from lab.text import (
    FIRST_SENTIMENT,
    NOT_ID,
    TextTransformer,
    sentiment_data,
    synthetic_sentiment,
    text_data,
)


def _pixels(n=60, shape=(3, 16, 16), seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


# ------------------------------------------------------------------ images kept as given
def test_lazy_images_read_what_the_eager_copy_holds():
    x, y = _pixels(), np.arange(60) % 3
    before = x.copy()
    eager, lazy = as_data((x, y), lazy=False), as_data((x, y), lazy=True)
    assert lazy.mean == pytest.approx(eager.mean, rel=1e-6)
    assert lazy.std == pytest.approx(eager.std, rel=1e-6)
    for name in datasets.SPLIT_NAMES:
        images = lazy.split(name).images
        assert isinstance(images, LazyImages) and images.source is x  # nothing copied
        assert images.shape == eager.split(name).images.shape
        assert torch.allclose(images[0 : len(images)], eager.split(name).images, atol=1e-5)
        assert torch.equal(lazy.split(name).labels, eager.split(name).labels)
    for size in (8, 5):  # area-downsampled when read
        assert torch.allclose(
            lazy.split("test", size).images.materialize(),
            eager.split("test", size).images,
            atol=1e-5,
        )
    part = lazy.subset("test", 4)
    assert isinstance(part.images, LazyImages)
    assert torch.allclose(part.images[:], eager.subset("test", 4).images, atol=1e-5)
    assert torch.equal(lazy.example(2), eager.example(2).clone()) or torch.allclose(
        lazy.example(2), eager.example(2), atol=1e-5
    )
    assert np.array_equal(x, before)


def test_large_sets_and_memmaps_are_read_lazily(tmp_path, monkeypatch):
    x, y = _pixels(30, (3, 8, 8)), np.arange(30) % 2
    assert isinstance(as_data((x, y)).split("train").images, torch.Tensor)  # small: eager
    monkeypatch.setattr(datasets, "LAZY_BYTES", 1000)
    assert isinstance(as_data((x, y)).split("train").images, LazyImages)
    monkeypatch.undo()
    mapped = np.memmap(tmp_path / "x.u8", dtype=np.uint8, mode="w+", shape=x.shape)
    mapped[:] = x
    mapped.flush()
    readonly = np.memmap(tmp_path / "x.u8", dtype=np.uint8, mode="r", shape=x.shape)
    data = as_data((readonly, y))
    images = data.split("val").images
    assert isinstance(images, LazyImages) and images.source is readonly
    eager = as_data((x, y), lazy=False)
    assert torch.allclose(images[:], eager.split("val").images, atol=1e-5)
    assert data.fingerprint == as_data((readonly, y)).fingerprint


class _CountingDataset(torch.utils.data.Dataset):
    def __init__(self, images, labels):
        self.images, self.targets, self.reads = images, labels, 0

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        self.reads += 1
        return torch.from_numpy(self.images[i]), int(self.targets[i])


def test_a_torch_dataset_is_read_item_by_item_only_when_a_batch_is_read():
    x, y = _pixels(40, (1, 8, 8)), np.arange(40) % 4
    dataset = _CountingDataset(x, y)
    data = as_data(dataset, lazy=True)
    # the fingerprint reads every split once (live = test here); labels come from .targets
    assert dataset.reads <= 2 * 40  # one pass (and a few probes), nothing kept
    before = dataset.reads
    batch = data.split("train").images[0:5]
    assert dataset.reads - before == 5 and batch.shape == (5, 1, 8, 8)
    eager = as_data(dataset, lazy=False)  # Datasets are not standardized by default
    assert torch.allclose(data.split("train").images.materialize(), eager.split("train").images)


def test_lazy_float_images_with_nan_are_refused():
    x = np.random.default_rng(0).normal(size=(20, 1, 4, 4)).astype(np.float32)
    x[3, 0, 1, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        as_data((x, np.arange(20) % 2), lazy=True)
    with pytest.raises(DataError, match="lazy=True needs images"):
        as_data((np.zeros((10, 3)), np.arange(10) % 2), lazy=True)


def test_lazy_training_reads_batches(monkeypatch):
    from lab.training import TrainConfig, fit

    x, y = _pixels(40, (1, 8, 8)), np.arange(40) % 2
    data = as_data((x, y), lazy=True)

    def whole_split(self):
        raise AssertionError("training read a whole split into memory")

    monkeypatch.setattr(LazyImages, "materialize", whole_split)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    before = model[1].weight.detach().clone()
    fit(model, TrainConfig(epochs=1, batch_size=8, lr=0.01), data=data, progress=False)
    assert not torch.equal(model[1].weight, before)


# ------------------------------------------------------------------ token ids
def test_tokens_stay_integer_ids_and_examples_are_real_rows():
    ids, labels = synthetic_sentiment(60, length=12, seed=1)
    data = as_data((ids, labels), pad_id=0)
    assert data.kind == "tokens" and data.input_shape == (12,)
    assert data.vocab_size == int(ids.max()) + 1 and data.pad_id == 0
    for name in datasets.SPLIT_NAMES:
        split = data.split(name)
        assert split.images.dtype == torch.int64
        rows = {tuple(r) for r in ids.tolist()}
        assert all(tuple(r) in rows for r in split.images.tolist())  # never standardized
    example = data.example(3)
    assert example.dtype == torch.int64
    assert torch.equal(example, data.split("live").images[:3])
    assert data.resolution_problem() is not None
    with pytest.raises(DataError, match="never standardized"):
        as_data((ids, labels), tokens=True, standardize=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.int64, np.int32, np.float64]),
        shape=st.tuples(st.integers(4, 12), st.integers(1, 6)),
        elements=st.integers(-3, 40),
    ),
    st.booleans(),
)
def test_token_ids_are_checked(ids, fractional):
    if fractional and ids.dtype == np.float64:
        ids = ids + 0.5
    labels = np.arange(len(ids)) % 2
    bad = (ids < 0).any() or (fractional and ids.dtype == np.float64)
    if bad:
        with pytest.raises(DataError, match="token ids"):
            as_data((ids, labels), tokens=True)
        return
    data = as_data((ids, labels), tokens=True)
    back = torch.cat([data.split(n).images for n in ("train", "val", "test")])
    assert back.dtype == torch.int64
    assert {tuple(r) for r in back.tolist()} <= {tuple(int(v) for v in r) for r in ids}


def test_synthetic_sentiment_follows_its_documented_rule():
    ids, labels = synthetic_sentiment(200, length=20, sentiment_words=5, cues=3, seed=3)
    again, _ = synthetic_sentiment(200, length=20, sentiment_words=5, cues=3, seed=3)
    assert np.array_equal(ids, again)
    for row, label in zip(ids, labels, strict=True):
        score, negate = 0, False
        for token in row:
            if token == NOT_ID:
                negate = True
            elif FIRST_SENTIMENT <= token < FIRST_SENTIMENT + 10:
                polarity = 1 if token < FIRST_SENTIMENT + 5 else -1
                score += -polarity if negate else polarity
                negate = False
        assert score != 0 and label == int(score > 0)
    noisy = synthetic_sentiment(2000, length=20, noise=0.2, seed=3)[1]
    clean = synthetic_sentiment(2000, length=20, noise=0.0, seed=3)[1]
    assert 0.15 < (noisy != clean).mean() < 0.25


def test_text_you_bring_with_your_tokenizer():
    vocab = {"<pad>": 0, "good": 1, "bad": 2, "film": 3, "plot": 4}

    def tokenize(text):
        return [vocab[w] for w in text.split()]

    texts = ["good film", "bad plot", "good plot good", "bad film", "good", "bad"] * 3
    labels = [1, 0, 1, 0, 1, 0] * 3
    data = text_data(texts, labels, tokenize, name="reviews")
    assert data.input_shape == (3,) and data.kind == "tokens"
    rows = {tuple(r) for r in data.split("train").images.tolist()}
    assert rows <= {(1, 3, 0), (2, 4, 0), (1, 4, 1), (2, 3, 0), (1, 0, 0), (2, 0, 0)}
    hf_like = text_data(texts, labels, lambda t: {"input_ids": tokenize(t)}, max_length=2)
    assert hf_like.input_shape == (2,)
    with pytest.raises(DataError, match="list of integer ids"):
        text_data(texts, labels, lambda t: object())


def test_latency_and_flops_use_real_token_samples():
    from lab.flops import count_flops
    from lab.measure import measure_latency

    data = sentiment_data(80, length=16)
    d, ff, layers, length = 32, 48, 2, 16
    model = TextTransformer(data.vocab_size, 2, d_model=d, heads=4, ffn=ff, layers=layers).eval()
    p50, p95, throughput = measure_latency(
        model, batch1_runs=3, throughput_repeats=1, example=data.example(4)
    )
    assert 0 < p50 <= p95 and throughput > 0
    with pytest.raises(ValueError, match="batch of ≥ 1"):
        measure_latency(model, batch1_runs=1, throughput_repeats=0, example=torch.zeros(0, 16))
    # analytic count: q, k, v and out projections, scores and weighted sum, the FFN, the head
    per_layer = 2 * (4 * length * d * d + 2 * length * length * d + 2 * length * d * ff)
    expected = layers * per_layer + 2 * d * 2
    assert count_flops(model, data.example(1)) == expected
    assert count_flops(model, data.example(1), exact_mode=True) == expected
    assert torch.backends.mha.get_fastpath_enabled()  # restored


# ------------------------------------------------------------------ models from files
class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x)))
        h = h + self.conv2(h)
        return self.fc(h.mean((2, 3)))


def test_every_kind_of_model_file_loads_back_to_the_same_outputs(tmp_path):
    import torchvision

    from lab.loading import ModelFileError, file_format, load_model

    torch.manual_seed(0)
    own = _Residual().eval()
    x = torch.randn(2, 3, 12, 12)
    expected = own(x)
    torch.save(own.state_dict(), tmp_path / "own.pt")
    torch.jit.save(torch.jit.trace(own, x), tmp_path / "own.ts")
    torch.export.save(torch.export.export(own, (x,)), tmp_path / "own.pt2")
    torch.onnx.export(
        own, (x,), tmp_path / "own.onnx", dynamo=False, input_names=["x"],
        dynamic_axes={"x": {0: "n"}},
    )  # fmt: skip
    for name, architecture in [
        ("own.pt", _Residual()),
        ("own.pt", _Residual),
        ("own.ts", None),
        ("own.pt2", None),
    ]:
        loaded = load_model(tmp_path / name, architecture=architecture)
        with torch.no_grad():
            assert torch.equal(loaded(x), expected), name
    onnx_model = load_model(tmp_path / "own.onnx")
    assert torch.allclose(onnx_model(x), expected, atol=1e-5)
    assert [file_format(tmp_path / n) for n in ("own.pt", "own.ts", "own.pt2", "own.onnx")] == [
        "state_dict", "torchscript", "torch.export", "onnx",
    ]  # fmt: skip
    resnet = torchvision.models.resnet18(num_classes=3).eval()
    torch.save(resnet.state_dict(), tmp_path / "resnet.pt")
    loaded = load_model(tmp_path / "resnet.pt", architecture="resnet18")
    image = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(image), resnet(image))
    with pytest.raises(ModelFileError, match="architecture="):
        load_model(tmp_path / "own.pt")
    with pytest.raises(ModelFileError, match="do not fit"):
        load_model(tmp_path / "own.pt", architecture="resnet18")
    with pytest.raises(ModelFileError, match="not a torchvision"):
        load_model(tmp_path / "resnet.pt", architecture="no_such_net")
    torch.save(own, tmp_path / "pickled.pt")
    with pytest.raises(ModelFileError, match="arbitrary code"):
        load_model(tmp_path / "pickled.pt", architecture=_Residual())
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")
    (tmp_path / "junk.bin").write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError, match="none of"):
        load_model(tmp_path / "junk.bin")


# ------------------------------------------------------------------ device
def test_device_is_checked_and_cpu_changes_nothing():
    from lab.device import on_device, resolve_device

    model = nn.Linear(3, 2)
    assert on_device(model, None) is model and on_device(model, "cpu") is model
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
        assert resolve_device("auto").type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_runtime_on_the_gpu_computes_what_the_cpu_does():
    from lab.techniques.apply import apply
    from lab.techniques.configs import QuantConfig

    x, y = _pixels(30, (3, 16, 16)), np.arange(30) % 2
    data = as_data((x, y))
    model = _Residual().eval()
    model.fc = nn.Linear(8, 2)
    cpu = apply(model, data=data, progress=False)
    gpu = apply(model, data=data, progress=False, device="cuda")
    assert "on cuda" in gpu.executes_as
    batch = data.split("test").images
    assert torch.allclose(gpu.runtime(batch), cpu.runtime(batch), atol=1e-4)
    with pytest.raises(ValueError, match="CPU only"):
        apply(model, QuantConfig(bits=8, activations=True), data=data, device="cuda")


# ------------------------------------------------------------------ dashboard on 224 px images
def test_resolution_slider_moves_to_other_data_sizes():
    from widgets.sliders import ResolutionSlider

    slider = ResolutionSlider()
    slider.set_sizes((224, 196, 112, 56))
    assert slider.value == 224 and slider.slider.value == 224  # was at native: stays native
    slider.value = 120
    assert slider.value == 112
    slider.set_sizes((100, 50))
    assert slider.value == 100 and slider.slider.value == 100
    with pytest.raises(ValueError, match="sizes must be a non-empty list"):
        slider.set_sizes(())


def test_dashboard_opens_on_224_px_uint8_images():
    import torchvision

    from widgets import Dashboard

    calls = []

    def evaluator(model, recipe, **kwargs):
        calls.append(recipe)
        raise RuntimeError("not measured in this test")

    x, y = _pixels(12, (3, 224, 224)), np.arange(12) % 3
    dash = Dashboard(
        model=torchvision.models.resnet18(num_classes=3), data=(x, y), evaluator=evaluator
    )
    try:
        assert dash.resolution.value == 224 and dash.resolution.sizes[0] == 224
        assert min(dash.resolution.sizes) < 224
        assert dash.wait(60)
    finally:
        dash.close()


def test_a_first_look_on_lazy_images_agrees_with_the_final_pass(tmp_path):
    """The first look reads lazily kept images by position (was: a TypeError on the whole
    LazyImages), and its per-item results are the final pass's for the same items."""
    from lab.evaluation import measure
    from lab.io.store import ResultStore

    x, y = _pixels(400, (3, 16, 16)), np.arange(400) % 4
    data = as_data((x, y), lazy=True)
    assert isinstance(data.split("live").images, LazyImages)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 4),
    ).eval()
    evaluation = measure.Evaluation(
        model, data=data, effort="quick", store=ResultStore(tmp_path / "r.sqlite"), use_cache=False
    )
    first = evaluation.first_look(budget_s=0.0)  # one round: the fewest items
    fewest = len(data.subset("live", measure.FIRST_LOOK_MIN_IMAGES))  # stratified: ≈ 10
    assert first.preliminary and first.n_images == fewest < len(data.split("live"))
    final = evaluation.final()
    part, _ = data.subset_positions("live", first.n_images)
    with torch.no_grad():
        direct = model(data.split("live").images.materialize()).argmax(1)
    assert torch.equal(torch.tensor(quality_unpack(final.predictions)), direct)
    assert torch.equal(torch.tensor(quality_unpack(first.predictions)), direct[part])
    assert np.array_equal(x, _pixels(400, (3, 16, 16)))  # the user's pixels untouched


def quality_unpack(packed):
    from lab.evaluation import quality

    return np.asarray(quality.unpack(packed))
