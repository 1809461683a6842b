"""Fashion-MNIST: find it, verify it, split it.

Sources, tried in this order:

1. the directory named by ``LAB_DATA_DIR`` — when it is set, the only one: a directory
   that lacks files raises :class:`DataNotFoundError` listing the missing and the found
   ones rather than silently reading another copy;
2. Debian's package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``);
3. torchvision's downloader into a user cache (only when online).

Whatever the source, the four IDX files are decompressed into the lab's cache as
torchvision's ``FashionMNIST`` expects them, their SHA-256 is checked, and the lab reads
them itself (torchvision is imported only to download). A truncated, non-gzip or altered
file raises :class:`CorruptDataError` naming it, and leaves nothing half-written in the cache.

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
import tempfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

__all__ = [
    "CLASSES",
    "NATIVE_SIZE",
    "SPLITS",
    "CorruptDataError",
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


class CorruptDataError(ValueError):
    """A Fashion-MNIST file is truncated, not gzip, or has the wrong content; names the file."""


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


def _locate(directory: Path) -> dict[str, Path | None]:
    """Each IDX file's path in ``directory`` (plain or ``.gz``), None where it is missing."""
    return {stem: _find_file(directory, stem) for stem in RAW_SHA256}


def _incomplete_message(directory: Path, found: dict[str, Path | None]) -> str:
    """Why ``LAB_DATA_DIR`` cannot be used: which IDX files are missing and which were found."""
    missing = [f"{stem}[.gz]" for stem, path in found.items() if path is None]
    present = [path.name for path in found.values() if path is not None]
    expected = {name for stem in RAW_SHA256 for name in (stem, f"{stem}.gz")}
    others = sorted(p.name for p in directory.iterdir() if p.name not in expected)
    lines = [
        f"LAB_DATA_DIR={str(directory)!r} lacks {len(missing)} of Fashion-MNIST's "
        f"{len(RAW_SHA256)} IDX files.",
        f"  missing: {', '.join(missing)}",
        f"  found:   {', '.join(present) or 'none of them'}",
    ]
    if others:
        shown = ", ".join(others[:8]) + (f", … ({len(others) - 8} more)" if len(others) > 8 else "")
        lines.append(f"  other files there: {shown}")
    lines.append(
        "Put the missing files there (named exactly as above, gzipped or not), or unset "
        "LAB_DATA_DIR to use Debian's package dataset-fashion-mnist or a download."
    )
    return "\n".join(lines)


def _decompress_to(source: Path, tmp: Path) -> None:
    """Copy ``source`` (gunzipped when it ends in ``.gz``) to ``tmp``; CorruptDataError if unreadable."""
    opener = gzip.open if source.suffix == ".gz" else open
    try:
        with opener(source, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        what = "truncated" if isinstance(exc, EOFError) else "not a valid gzip file"
        raise CorruptDataError(
            f"{source} is corrupt: {what} ({exc}). Replace it with an intact copy of "
            f"Fashion-MNIST's {source.name} (gzipped or not)."
        ) from exc


def _install_verified(source: Path, stem: str, raw_dir: Path) -> None:
    """Decompress ``source`` into ``raw_dir/stem`` via a temporary file, only if its hash is right.

    Nothing is left behind when it fails: no temporary file and no unverified target.
    """
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=raw_dir)
    os.close(fd)
    tmp = Path(name)
    try:
        _decompress_to(source, tmp)
        actual = _sha256(tmp)
        if actual != RAW_SHA256[stem]:
            size = tmp.stat().st_size
            raise CorruptDataError(
                f"{source} is corrupt: its {'decompressed ' if source.suffix == '.gz' else ''}"
                f"content ({size:,} bytes) has SHA-256 {actual[:12]}…, not the expected "
                f"{RAW_SHA256[stem][:12]}… of Fashion-MNIST's {stem}."
            )
        tmp.replace(raw_dir / stem)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_verified(source_dir: Path, raw_dir: Path) -> bool:
    """Decompress/copy the four IDX files from ``source_dir`` into ``raw_dir``; verify hashes.

    Returns False when a file is missing; raises :class:`CorruptDataError` naming the file
    when one is unreadable or has the wrong content.
    """
    found = _locate(source_dir)
    if any(path is None for path in found.values()):
        return False
    raw_dir.mkdir(parents=True, exist_ok=True)
    for stem, path in found.items():
        target = raw_dir / stem
        if target.is_file():
            if _sha256(target) == RAW_SHA256[stem]:
                continue  # already there and verified
            target.unlink()  # a damaged cached copy must not survive a failed refill
        _install_verified(path, stem, raw_dir)
    return True


def _raw_is_ready(raw_dir: Path) -> bool:
    marker = raw_dir / ".verified"
    return marker.is_file() and all((raw_dir / stem).is_file() for stem in RAW_SHA256)


def _from_user_dir(env_dir: str, raw_dir: Path) -> Path:
    """Fill ``raw_dir`` from ``LAB_DATA_DIR``: the user chose it, so no other source is tried."""
    directory = Path(env_dir)
    if not directory.is_dir():
        raise DataNotFoundError(
            f"LAB_DATA_DIR={env_dir!r} is not a directory. Point it at a folder holding "
            "Fashion-MNIST's four IDX files (train/t10k images/labels, .gz or not), or unset "
            "it to use Debian's package dataset-fashion-mnist or a download."
        )
    found = _locate(directory)
    if any(path is None for path in found.values()):
        raise DataNotFoundError(_incomplete_message(directory, found))
    _copy_verified(directory, raw_dir)
    (raw_dir / ".verified").touch()
    return raw_dir


def find_raw_dir(download: bool = True) -> Path:
    """Return the lab's verified ``FashionMNIST/raw`` directory, filling it from the first source that works.

    When ``LAB_DATA_DIR`` is set it is the only source tried.

    Raises:
        DataNotFoundError: when ``LAB_DATA_DIR`` is set but lacks files (the message lists
            the missing and the found ones), or when neither the Debian package nor a
            download provides the data.
        CorruptDataError: when a source file is truncated, not gzip, or has the wrong
            content (the message names the file).
    """
    root = cache_dir() / "data"
    raw_dir = root / "FashionMNIST" / "raw"
    env_dir = os.environ.get("LAB_DATA_DIR")
    if env_dir:
        return _from_user_dir(env_dir, raw_dir)
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
        "  1. set LAB_DATA_DIR to a folder with the four IDX files;\n"
        f"  2. install Debian's package: sudo apt-get install dataset-fashion-mnist (→ {DEBIAN_DIR});\n"
        "  3. go online once so torchvision can download it into "
        f"{root}.\n" + ("\n".join(errors))
    )


def _read_idx(path: Path) -> torch.Tensor:
    """An IDX file (the MNIST format: a big-endian header, then uint8 values) as a tensor.

    Read directly rather than through torchvision, whose import alone costs ~160 MiB of
    memory in every kernel (the lab only needs it to download).
    """
    raw = path.read_bytes()
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise CorruptDataError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    count = 1
    for d in dims:
        count *= d
    if len(raw) != header + count:
        raise CorruptDataError(f"{path} holds {len(raw) - header} values; its header says {count}")
    values = torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8)
    return values.reshape(dims)


@lru_cache(maxsize=2)
def _load_raw(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    raw_dir = find_raw_dir()
    prefix = "train" if train else "t10k"
    images = _read_idx(raw_dir / f"{prefix}-images-idx3-ubyte")
    labels = _read_idx(raw_dir / f"{prefix}-labels-idx1-ubyte").long()
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
