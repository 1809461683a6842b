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


def test_no_source_at_all_names_all_three_ways(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LAB_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    with pytest.raises(data.DataNotFoundError) as err:
        data.find_raw_dir(download=False)
    message = str(err.value)
    assert (
        "LAB_DATA_DIR" in message and "dataset-fashion-mnist" in message and "download" in message
    )


# ------------------------------------------------ LAB_DATA_DIR: incomplete or broken files

STEMS = list(data.RAW_SHA256)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A throw-away LAB_CACHE_DIR, so the real cache is never touched."""
    path = tmp_path / "cache"
    monkeypatch.setenv("LAB_CACHE_DIR", str(path))
    return path


def _user_dir(tmp_path, monkeypatch, files: dict[str, bytes | Path]) -> Path:
    """LAB_DATA_DIR holding ``files``: bytes are written, Paths are linked (no 30 MB copies)."""
    directory = tmp_path / "user-data"
    directory.mkdir()
    for name, content in files.items():
        if isinstance(content, Path):
            (directory / name).symlink_to(content)
        else:
            (directory / name).write_bytes(content)
    monkeypatch.setenv("LAB_DATA_DIR", str(directory))
    return directory


def _debian(stem: str) -> Path:
    path = data.DEBIAN_DIR / f"{stem}.gz"
    if not path.is_file():
        pytest.skip(f"{path} not installed (Debian package dataset-fashion-mnist)")
    return path


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.rglob("*") if p.name.endswith(".tmp"))


def test_empty_data_dir_is_an_error_not_a_silent_fallback(tmp_path, monkeypatch, cache):
    _user_dir(tmp_path, monkeypatch, {})
    with pytest.raises(data.DataNotFoundError) as err:
        data.find_raw_dir(download=False)  # Debian's copy exists here: it must not be used
    message = str(err.value)
    assert "LAB_DATA_DIR" in message and "lacks 4 of" in message
    assert all(stem in message for stem in STEMS)
    assert "none of them" in message


@pytest.mark.parametrize("absent", STEMS)
def test_incomplete_data_dir_lists_missing_and_found_files(tmp_path, monkeypatch, cache, absent):
    files = {f"{stem}.gz": _debian(stem) for stem in STEMS if stem != absent}
    files["train-images.gz.part"] = b"a misnamed download"
    _user_dir(tmp_path, monkeypatch, files)
    with pytest.raises(data.DataNotFoundError) as err:
        data.find_raw_dir(download=False)
    missing, found = str(err.value).split("found:")
    missing, found = missing.split("missing:")[1], found.split("\n")[0]
    assert absent in missing and all(stem not in missing for stem in STEMS if stem != absent)
    assert absent not in found and all(f"{stem}.gz" in found for stem in STEMS if stem != absent)
    assert "train-images.gz.part" in str(err.value)  # a misnamed file is pointed out
    assert not (cache / "data" / "FashionMNIST" / "raw" / ".verified").exists()


def _gzip_with_bad_crc(payload: bytes) -> bytes:
    blob = bytearray(gzip.compress(payload))
    blob[-8] ^= 0x01  # the CRC-32 in the trailer
    return bytes(blob)


# Each way a file can be broken → a phrase the error must contain. A new kind of damage
# is one more line here; every case also checks the file is named and nothing is left over.
BROKEN = {
    "truncated gzip": (gzip.compress(bytes(range(256)) * 64)[:-100], "truncated"),
    "not gzip at all": (b"<html>404 Not Found</html>", "not a valid gzip file"),
    "gzip with bad CRC": (_gzip_with_bad_crc(b"\x00" * 4096), "not a valid gzip file"),
    "empty gzip file": (b"", "0 bytes"),
    "gzip of wrong content": (gzip.compress(b"\x00" * 4096), "SHA-256"),
}


@pytest.mark.parametrize("kind", BROKEN)
def test_broken_file_is_named_and_leaves_nothing_behind(tmp_path, monkeypatch, cache, kind):
    payload, phrase = BROKEN[kind]
    first = STEMS[0]  # copied first: the other files need only exist
    files = {f"{stem}.gz": b"never read" for stem in STEMS[1:]}
    files[f"{first}.gz"] = payload
    source = _user_dir(tmp_path, monkeypatch, files) / f"{first}.gz"
    with pytest.raises(data.CorruptDataError) as err:
        data.find_raw_dir(download=False)
    assert isinstance(err.value, ValueError)  # callers catching ValueError still work
    assert str(source) in str(err.value) and "corrupt" in str(err.value)
    assert phrase in str(err.value)
    assert _leftovers(cache) == []
    assert not (cache / "data" / "FashionMNIST" / "raw" / first).exists()


def test_truncated_real_file_after_good_ones(tmp_path, monkeypatch, cache):
    last = STEMS[-1]
    files = {f"{stem}.gz": _debian(stem) for stem in STEMS[:-1]}
    files[f"{last}.gz"] = _debian(last).read_bytes()[:-64]
    source = _user_dir(tmp_path, monkeypatch, files) / f"{last}.gz"
    with pytest.raises(data.CorruptDataError, match="truncated") as err:
        data.find_raw_dir(download=False)
    assert str(source) in str(err.value)
    raw = cache / "data" / "FashionMNIST" / "raw"
    assert (
        _leftovers(cache) == [] and not (raw / last).exists() and not (raw / ".verified").exists()
    )
    source.unlink()
    source.symlink_to(_debian(last))  # repaired: the same cache now fills and verifies
    assert data.find_raw_dir(download=False) == raw and (raw / ".verified").is_file()


def test_damaged_cached_copy_is_not_kept_after_a_failed_refill(tmp_path, monkeypatch, cache):
    raw = cache / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    first = STEMS[0]
    (raw / first).write_bytes(b"damaged cache")
    files = {f"{stem}.gz": b"x" for stem in STEMS}
    _user_dir(tmp_path, monkeypatch, files)
    with pytest.raises(data.CorruptDataError):
        data.find_raw_dir(download=False)
    assert not (raw / first).exists()


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
    with pytest.raises(data.CorruptDataError, match="corrupt") as err:
        data.find_raw_dir(download=False)
    assert "t10k-labels-idx1-ubyte.gz" in str(err.value)


def test_lab_data_dir_with_valid_files_is_used(tmp_path, monkeypatch):
    source = data.find_raw_dir()
    for stem in data.RAW_SHA256:
        (tmp_path / stem).write_bytes((source / stem).read_bytes())
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path))
    raw = data.find_raw_dir(download=False)
    assert Path(raw).is_relative_to(tmp_path / "cache")
