"""Fashion-MNIST: sources, verification, fixed splits."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from lab import data


def test_split_counts_are_the_documented_ones():
    assert data.split_sizes() == {"val": 5_000, "train": 55_000, "test": 10_000, "live": 2_000}


def test_splits_are_disjoint_and_fixed():
    idx = data._split_indices()
    assert set(idx["train"].tolist()).isdisjoint(idx["val"].tolist())
    assert len(set(idx["train"].tolist()) | set(idx["val"].tolist())) == 60_000
    assert set(idx["live"].tolist()) <= set(idx["test"].tolist())
    data._split_indices.cache_clear()
    assert torch.equal(data._split_indices()["live"], idx["live"])  # seeded: same again


def test_live_split_is_class_balanced():
    live = data.load_split("live")
    assert live.labels.bincount(minlength=10).tolist() == [200] * 10


def test_images_are_normalized_and_resizable():
    test = data.load_split("test")
    assert test.images.shape == (10_000, 1, 28, 28)
    assert abs(float(data.load_split("train").images.mean())) < 0.01
    small = data.load_split("live", 14)
    assert small.images.shape == (2_000, 1, 14, 14)
    # area resize == average of 2×2 blocks (independent oracle: avg_pool2d)
    full = data.load_split("live").images
    assert torch.allclose(small.images, torch.nn.functional.avg_pool2d(full, 2), atol=1e-6)


def test_unknown_split_and_bad_size_raise_clear_errors():
    with pytest.raises(ValueError, match="live"):
        data.load_split("training")
    with pytest.raises(ValueError, match="4 to 28"):
        data.load_split("live", 2)


def test_missing_data_dir_names_all_three_ways(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(data.DataNotFoundError, match="LAB_DATA_DIR"):
        data.find_raw_dir(download=False)


def test_empty_data_dir_falls_through_and_error_names_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    with pytest.raises(data.DataNotFoundError) as err:
        data.find_raw_dir(download=False)
    message = str(err.value)
    assert (
        "LAB_DATA_DIR" in message and "dataset-fashion-mnist" in message and "download" in message
    )


def test_corrupt_file_is_rejected(tmp_path, monkeypatch):
    source = data.find_raw_dir()
    for stem in data.RAW_SHA256:
        payload = (source / stem).read_bytes()
        if stem == "t10k-labels-idx1-ubyte":
            payload = payload[:-1] + bytes([(payload[-1] + 1) % 10])
        with gzip.open(tmp_path / f"{stem}.gz", "wb") as handle:
            handle.write(payload)
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="corrupt"):
        data.find_raw_dir(download=False)


def test_lab_data_dir_with_valid_files_is_used(tmp_path, monkeypatch):
    source = data.find_raw_dir()
    for stem in data.RAW_SHA256:
        (tmp_path / stem).write_bytes((source / stem).read_bytes())
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path))
    raw = data.find_raw_dir(download=False)
    assert Path(raw).is_relative_to(tmp_path / "cache")
