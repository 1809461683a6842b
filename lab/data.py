"""Fashion-MNIST: find it, verify it, split it.

Sources, tried in this order:

1. the directory named by ``LAB_DATA_DIR``;
2. Debian's package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``);
3. torchvision's downloader into a user cache (only when online).

Whatever the source, the four IDX files are decompressed into the lab's cache as
torchvision's ``FashionMNIST`` expects them, their SHA-256 is checked, and
torchvision's dataset class reads them.

Splits (all fixed, seeded and documented):

* ``train`` — 55,000 training images (the training set minus ``val``);
* ``val``   — 5,000 images carved from the training set with seed 0;
* ``test``  — the official 10,000 test images;
* ``live``  — 2,000 test images, 200 per class, chosen with seed 0, for fast
  interactive evaluation.

Example:
    >>> from lab import data
    >>> live = data.load_split("live")
    >>> tuple(live.images.shape), int(live.labels.bincount().min())
    ((2000, 1, 28, 28), 200)
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

__all__ = [
    "CLASSES",
    "NATIVE_SIZE",
    "SPLITS",
    "DataNotFoundError",
    "Split",
    "cache_dir",
    "find_raw_dir",
    "load_split",
    "normalize",
    "resize",
    "split_sizes",
]

CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
NATIVE_SIZE = 28
SPLITS = ("train", "val", "test", "live")
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel statistics
VAL_SIZE = 5_000
LIVE_PER_CLASS = 200
SPLIT_SEED = 0
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

# SHA-256 of the *decompressed* IDX files (identical for every source).
RAW_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
EXPECTED_COUNTS = {"train": 60_000, "test": 10_000}


class DataNotFoundError(FileNotFoundError):
    """Raised when no source of Fashion-MNIST works; the message names all three ways."""


@dataclass(frozen=True)
class Split:
    """Images (normalized float, N×1×H×W) and labels of one named split."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"Split({self.name!r}, n={len(self)}, size={self.images.shape[-1]}px)"


def cache_dir() -> Path:
    """Directory where the lab keeps decompressed data and its result store."""
    if os.environ.get("LAB_CACHE_DIR"):
        path = Path(os.environ["LAB_CACHE_DIR"])
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "efficiency-lab"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _find_file(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _copy_verified(source_dir: Path, raw_dir: Path) -> bool:
    """Decompress/copy the four IDX files from ``source_dir`` into ``raw_dir``; verify hashes."""
    found = {stem: _find_file(source_dir, stem) for stem in RAW_SHA256}
    if any(path is None for path in found.values()):
        return False
    raw_dir.mkdir(parents=True, exist_ok=True)
    for stem, path in found.items():
        target = raw_dir / stem
        if target.is_file() and _sha256(target) == RAW_SHA256[stem]:
            continue  # already there and verified
        tmp = target.with_suffix(".tmp")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        tmp.replace(target)
        actual = _sha256(target)
        if actual != RAW_SHA256[stem]:
            target.unlink()
            raise ValueError(
                f"{path} is corrupt: SHA-256 {actual[:12]}… does not match the expected "
                f"{RAW_SHA256[stem][:12]}… of Fashion-MNIST's {stem}."
            )
    return True


def _raw_is_ready(raw_dir: Path) -> bool:
    marker = raw_dir / ".verified"
    return marker.is_file() and all((raw_dir / stem).is_file() for stem in RAW_SHA256)


def find_raw_dir(download: bool = True) -> Path:
    """Return the lab's verified ``FashionMNIST/raw`` directory, filling it from the first source that works.

    Raises:
        DataNotFoundError: when neither ``LAB_DATA_DIR``, the Debian package nor a
            download provides the data.
    """
    root = cache_dir() / "data"
    raw_dir = root / "FashionMNIST" / "raw"
    env_dir = os.environ.get("LAB_DATA_DIR")
    if env_dir:
        if not Path(env_dir).is_dir():
            raise DataNotFoundError(
                f"LAB_DATA_DIR={env_dir!r} is not a directory. Point it at a folder holding "
                "Fashion-MNIST's four IDX files (train/t10k images/labels, .gz or not)."
            )
        if _copy_verified(Path(env_dir), raw_dir):
            (raw_dir / ".verified").touch()
            return raw_dir
    if _raw_is_ready(raw_dir):
        return raw_dir
    if _copy_verified(DEBIAN_DIR, raw_dir):
        (raw_dir / ".verified").touch()
        return raw_dir
    errors = []
    if download:
        try:
            from torchvision.datasets import FashionMNIST

            FashionMNIST(str(root), train=True, download=True)
            FashionMNIST(str(root), train=False, download=True)
            if _copy_verified(raw_dir, raw_dir):
                (raw_dir / ".verified").touch()
                return raw_dir
        except Exception as exc:  # offline, proxy, …
            errors.append(f"download failed: {exc}")
    raise DataNotFoundError(
        "Fashion-MNIST was not found. Provide it in one of three ways:\n"
        f"  1. set LAB_DATA_DIR to a folder with the four IDX files{' (' + env_dir + ' lacks them)' if env_dir else ''};\n"
        f"  2. install Debian's package: sudo apt-get install dataset-fashion-mnist (→ {DEBIAN_DIR});\n"
        "  3. go online once so torchvision can download it into "
        f"{root}.\n" + ("\n".join(errors))
    )


@lru_cache(maxsize=2)
def _load_raw(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets import FashionMNIST

    raw_dir = find_raw_dir()
    dataset = FashionMNIST(str(raw_dir.parent.parent), train=train, download=False)
    images, labels = dataset.data, dataset.targets
    expected = EXPECTED_COUNTS["train" if train else "test"]
    if len(images) != expected or len(labels) != expected:
        raise ValueError(f"expected {expected} images, found {len(images)} in {raw_dir}")
    return images, labels


@lru_cache(maxsize=1)
def _split_indices() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(SPLIT_SEED)
    order = torch.randperm(EXPECTED_COUNTS["train"], generator=generator)
    _, test_labels = _load_raw(train=False)
    generator = torch.Generator().manual_seed(SPLIT_SEED)
    live = []
    for cls in range(len(CLASSES)):
        members = (test_labels == cls).nonzero().flatten()
        pick = torch.randperm(len(members), generator=generator)[:LIVE_PER_CLASS]
        live.append(members[pick])
    return {
        "val": order[:VAL_SIZE].sort().values,
        "train": order[VAL_SIZE:].sort().values,
        "test": torch.arange(EXPECTED_COUNTS["test"]),
        "live": torch.cat(live).sort().values,
    }


def split_sizes() -> dict[str, int]:
    """Number of images in each split."""
    return {name: len(idx) for name, idx in _split_indices().items()}


def normalize(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 N×H×W → float N×1×H×W, standardized with the training-set mean and std."""
    return ((images_uint8.float() / 255.0) - MEAN).div_(STD).unsqueeze(1)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Downsample N×1×H×W images to ``size``×``size`` by area averaging (no aliasing)."""
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="area")


def _check_split(name: str) -> None:
    if name not in SPLITS:
        raise ValueError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")


@lru_cache(maxsize=16)
def _load_split_cached(name: str, size: int) -> Split:
    images, labels = _load_raw(train=name in ("train", "val"))
    idx = _split_indices()[name]
    x = resize(normalize(images[idx]), size)
    return Split(name, x, labels[idx].clone())


def load_split(name: str, size: int = NATIVE_SIZE) -> Split:
    """Return split ``name`` (one of ``train``, ``val``, ``test``, ``live``) at ``size`` pixels.

    The tensors are cached and shared: treat them as read-only.
    """
    _check_split(name)
    if not isinstance(size, int) or not 4 <= size <= NATIVE_SIZE:
        raise ValueError(f"resolution must be an integer from 4 to {NATIVE_SIZE} px, got {size!r}")
    return _load_split_cached(name, size)
