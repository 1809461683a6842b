"""Reading torch Datasets and DataLoaders: bad samples are a DataError naming them, never a
torch collate error, and a dataset that never ends is refused after a bounded read."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from lab import datasets
from lab.datasets import DataError, as_data


class Listed(Dataset):
    """A map-style dataset over a list of (x, label) pairs."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class Endless(IterableDataset):
    """Yields (image, label) for ever (and counts what was taken)."""

    def __init__(self):
        self.taken = 0

    def __iter__(self):
        for i in itertools.count():
            self.taken += 1
            yield torch.zeros(1, 4, 4), i % 2


class Finite(IterableDataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __iter__(self):
        return iter(zip(self.x, self.y, strict=True))


X = torch.rand(40, 1, 4, 4, generator=torch.Generator().manual_seed(0))
Y = torch.arange(40) % 2


def _pairs(make_x, n=20):
    return [(make_x(i), i % 2) for i in range(n)]


BAD = {
    "text": (lambda i: f"sample {i}", "text samples"),
    "PIL images": (lambda i: Image.new("L", (4, 4)), "PIL images"),
    "ragged": (lambda i: torch.zeros(1, 4 + i % 2, 4), "different shapes"),
    "objects": (lambda i: object(), "cannot read as numbers|holding object"),
}


@pytest.mark.parametrize("kind", BAD)
@pytest.mark.parametrize("wrap", ["dataset", "loader"])
def test_unreadable_samples_are_a_data_error_naming_them(kind, wrap):
    make_x, words = BAD[kind]
    source = Listed(_pairs(make_x))
    if wrap == "loader":  # the user's own DataLoader, with torch's default collate
        source = DataLoader(source, batch_size=8)
        words = words + "|could not build a batch"
    with pytest.raises(DataError, match=words):
        as_data(source)


def test_text_labels_are_a_data_error_naming_them():
    with pytest.raises(DataError, match="text labels|must hold numbers|labels"):
        as_data(Listed([(torch.zeros(3), "cat"), (torch.zeros(3), "dog")] * 5))


def test_an_endless_iterable_dataset_is_refused_after_a_bounded_read(monkeypatch):
    monkeypatch.setattr(datasets, "MAX_UNSIZED_SAMPLES", 2_000)
    endless = Endless()
    started = time.perf_counter()
    with pytest.raises(DataError, match="did not end after 2,000 samples"):
        as_data(endless)
    assert endless.taken <= 2_000 + 2 * 512  # stopped within a batch or two of the bound
    assert time.perf_counter() - started < 60


def test_a_sized_dataset_too_large_is_refused_before_reading():
    class Huge(Dataset):
        def __len__(self):
            return 10**9

        def __getitem__(self, i):
            raise AssertionError("read")

    with pytest.raises(DataError, match="holds 1,000,000,000 samples"):
        as_data(Huge())


def test_finite_iterable_datasets_read_like_tensor_datasets():
    finite = as_data(Finite(X, Y))
    tensor = as_data(TensorDataset(X, Y))
    assert finite.fingerprint == tensor.fingerprint


SAMPLE = st.one_of(
    st.just("tensor"),
    st.just("array"),
    st.just("list"),
    st.sampled_from(["text", "PIL", "ragged", "none", "bool tensor"]),
)


def _make(kind: str, i: int):
    return {
        "tensor": lambda: torch.full((1, 3, 3), float(i)),
        "array": lambda: np.full((1, 3, 3), i, dtype=np.int16),
        "list": lambda: [[[float(i)] * 3] * 3],
        "text": lambda: "x",
        "PIL": lambda: Image.new("L", (3, 3)),
        "ragged": lambda: torch.zeros(1, 2, 3),
        "none": lambda: None,
        "bool tensor": lambda: torch.zeros(1, 3, 3, dtype=torch.bool),
    }[kind]()


@settings(max_examples=60, deadline=None)
@given(
    kinds=st.lists(SAMPLE, min_size=1, max_size=12),
    labels=st.lists(st.sampled_from([0, 1, 2, "a", 1.0, None]), min_size=12, max_size=12),
    loader=st.booleans(),
)
def test_any_torch_dataset_is_read_exactly_or_refused_with_a_data_error(kinds, labels, loader):
    items = [(_make(k, i), labels[i]) for i, k in enumerate((kinds * 12)[:12])]
    items = items + [(torch.zeros(1, 3, 3), 0), (torch.zeros(1, 3, 3), 1)]  # two classes
    source = Listed(items)
    if loader:
        source = DataLoader(source, batch_size=5)
    try:
        data = as_data({"train": source, "test": source})
    except DataError as exc:
        assert str(exc)
        return
    got = data.split("test")  # given whole (train may be split into train and val)
    assert len(got) == len(items)
    expected = torch.stack([torch.as_tensor(np.asarray(x, dtype=np.float32)) for x, _ in items])
    assert torch.equal(got.images, expected)
