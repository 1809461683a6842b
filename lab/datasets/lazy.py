"""Images kept as you gave them, converted batch by batch: data sets larger than memory as float32.

A 10,000-image 3×224×224 set is 1.5 GB as uint8 and 6 GB as float32. :class:`LazyImages`
keeps the caller's source — a uint8 (or any numeric) array or tensor, a ``numpy.memmap``,
a torch ``Dataset`` read item by item — plus the positions of one split in it, and only
when a batch is read (``images[lo:hi]``) converts those rows to float32, standardizes them
with the training split's per-channel statistics and area-downsamples them. Nothing is
copied up front; the caller's array is never written to.

It behaves like the N×C×H×W float tensor it stands for where the lab uses one: ``len``,
``shape``, ``dtype``, indexing (a batch comes back as a tensor), ``.to(device)`` /
``.float()`` / ``.numpy()`` (which do build the whole tensor: use them on small splits).

Example:
    >>> import numpy as np
    >>> pixels = np.random.default_rng(0).integers(0, 256, (6, 3, 8, 8), dtype=np.uint8)
    >>> images = LazyImages(pixels, torch.arange(6))
    >>> images.shape, images[0:2].dtype
    (torch.Size([6, 3, 8, 8]), torch.float32)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from lab.datasets.errors import DataError

__all__ = ["READ_BATCH", "LazyImages", "channel_statistics", "float32_bytes"]

READ_BATCH = 256  # rows converted at once by whole-split helpers (materialize, fingerprint)
STATISTICS_BATCH = 64  # rows per step of the standardization statistics (float32 + squares)


def float32_bytes(n: int, shape: tuple[int, ...]) -> int:
    """Bytes that ``n`` samples of ``shape`` would take as float32."""
    return 4 * n * int(np.prod(shape))


def _rows(source: object, positions: torch.Tensor) -> torch.Tensor:
    """Rows ``positions`` of ``source`` (array, tensor or Dataset) as a tensor, dtype kept."""
    if isinstance(source, torch.Tensor):
        return source[positions]
    if isinstance(source, np.ndarray):  # np.memmap included: reads only these rows
        index = positions.numpy()
        order = np.argsort(index, kind="stable")  # sorted reads are sequential on disk
        rows = np.asarray(source[index[order]])
        out = np.empty_like(rows)
        out[order] = rows
        return torch.from_numpy(out)
    return torch.stack(_dataset_samples(source, positions.tolist()))


def _dataset_samples(dataset: object, positions: list[int]) -> list[torch.Tensor]:
    """Items ``positions`` of a torch Dataset as tensors of one shape, or a DataError saying
    which item is not an ``(image, label)`` pair of numbers (torch's errors do not)."""
    samples = []
    for i in positions:
        try:
            item = dataset[i]
        except Exception as exc:  # noqa: BLE001 - the user's __getitem__ failed
            said = " ".join(str(exc).split())[:200]
            raise DataError(
                f"the dataset raised {type(exc).__name__} ({said}) reading item {i} of "
                f"{len(dataset):,}; the traceback above this error is the dataset's own"
            ) from exc
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise DataError(
                f"the dataset must yield (image, label) pairs; item {i} is a "
                f"{type(item).__name__}"
                + (f" of {len(item)}" if isinstance(item, (tuple, list)) else "")
            )
        x = item[0]
        try:
            sample = torch.as_tensor(x).detach().cpu()
        except (TypeError, RuntimeError, ValueError):
            sample = None
        if sample is None or sample.dtype == torch.bool or sample.is_complex():
            raise DataError(
                f"the dataset's item {i} holds a {type(x).__name__}, not an image of real "
                "numbers (a tensor or an array); for PIL images add "
                "torchvision.transforms.ToTensor() to its transform"
            )
        if samples and sample.shape != samples[0].shape:
            raise DataError(
                f"the dataset yields images of different shapes ({tuple(samples[0].shape)} and "
                f"{tuple(sample.shape)} at item {i}); the lab needs one: resize or pad them first"
            )
        samples.append(sample)
    return samples


class LazyImages:
    """N images of ``source`` at ``positions``, read, converted and standardized on demand.

    Args:
        source: N×C×H×W or N×H×W numbers (NumPy array, memmap or tensor), or a torch
            ``Dataset`` of ``(image, label)``; never modified.
        positions: which rows of ``source`` this split holds (1-D integer tensor).
        mean, std: per-channel standardization (None: values as they are, as float32).
        size: area-downsample to ``size``×``size`` px when read (None: native size).
    """

    dtype = torch.float32
    device = torch.device("cpu")

    def __init__(
        self,
        source: object,
        positions: torch.Tensor,
        mean: torch.Tensor | None = None,
        std: torch.Tensor | None = None,
        size: int | None = None,
        sample_shape: tuple[int, ...] | None = None,
    ) -> None:
        self.source = source
        self.positions = torch.as_tensor(positions, dtype=torch.long).flatten()
        self.mean, self.std, self.size = mean, std, size
        if sample_shape is None:  # one row, read as given (not converted)
            first = _rows(source, self.positions[:1])[0]
            sample_shape = (1, *first.shape) if first.ndim == 2 else tuple(first.shape)
        self.sample_shape = tuple(sample_shape)  # C×H×W at native size

    # ------------------------------------------------------------------ like a tensor
    def __len__(self) -> int:
        return len(self.positions)

    @property
    def shape(self) -> torch.Size:
        c, h, w = self.sample_shape
        if self.size is not None:
            h = w = self.size
        return torch.Size((len(self), c, h, w))

    @property
    def ndim(self) -> int:
        return 4

    def dim(self) -> int:
        return 4

    def __getitem__(self, key: object) -> torch.Tensor:
        if isinstance(key, int):
            return self._convert(_rows(self.source, self.positions[key : key + 1 or None]))[0]
        if isinstance(key, torch.Tensor):
            key = key.cpu()
        return self._convert(_rows(self.source, self.positions[key]))

    def __repr__(self) -> str:
        kind = type(self.source).__name__
        return f"LazyImages({len(self)}×{'×'.join(map(str, self.shape[1:]))} from a {kind})"

    def materialize(self) -> torch.Tensor:
        """The whole split as one float32 tensor (memory: N×C×H×W×4 bytes)."""
        if len(self) == 0:
            return torch.empty(self.shape)
        return torch.cat(list(self.batches()))

    def to(self, *args, **kwargs) -> torch.Tensor:
        return self.materialize().to(*args, **kwargs)

    def float(self) -> torch.Tensor:
        return self.materialize()

    def contiguous(self) -> torch.Tensor:
        return self.materialize()

    def numpy(self) -> np.ndarray:
        return self.materialize().numpy()

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    # ------------------------------------------------------------------ lazy views
    def take(self, index: object) -> LazyImages:
        """A view of some of these images (nothing is read)."""
        return LazyImages(
            self.source, self.positions[index], self.mean, self.std, self.size, self.sample_shape
        )

    def resized(self, size: int | None) -> LazyImages:
        """The same images read at ``size`` px (nothing is read now)."""
        native = self.sample_shape[-1]
        size = None if size == native else size
        return LazyImages(self.source, self.positions, self.mean, self.std, size, self.sample_shape)

    def batches(self, batch: int = READ_BATCH) -> Iterator[torch.Tensor]:
        """The images in order, ``batch`` at a time, converted."""
        for lo in range(0, len(self), batch):
            yield self[lo : lo + batch]

    def raw_batches(self, batch: int = READ_BATCH) -> Iterator[torch.Tensor]:
        """The rows as the source holds them (dtype kept), ``batch`` at a time."""
        for lo in range(0, len(self), batch):
            yield _rows(self.source, self.positions[lo : lo + batch])

    def digest(self, digest: hashlib._Hash) -> None:
        """Feed the source rows' bytes (as given, not converted) to ``digest``."""
        for rows in self.raw_batches():
            digest.update(str(rows.dtype).encode())
            digest.update(rows.contiguous().numpy().data)  # the buffer itself, no copy

    # ------------------------------------------------------------------ conversion
    def all_finite(self) -> bool:
        """Whether every value is finite (one pass over float sources; integers always are)."""
        source = self.source
        if isinstance(source, np.ndarray):
            floating = source.dtype.kind == "f"
        elif isinstance(source, torch.Tensor):
            floating = source.is_floating_point()
        else:  # a Dataset: its first image's type stands for all
            floating = len(self) > 0 and self.raw_batches(1).__next__().is_floating_point()
        return not floating or all(bool(torch.isfinite(r).all()) for r in self.raw_batches())

    def _convert(self, rows: torch.Tensor) -> torch.Tensor:
        x = rows.float()
        if rows.is_floating_point() and not torch.isfinite(x).all():
            raise ValueError("the images hold NaN or infinite values; clean or impute them first")
        if x.ndim == 3:  # N×H×W grayscale
            x = x.unsqueeze(1)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        if self.size is not None and x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="area")
        return x


def channel_statistics(images: LazyImages) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Per-channel mean and (unbiased) standard deviation of ``images`` read batch by
    batch in float64, shaped 1×C×1×1, and whether every value was finite."""
    total = squares = None
    count, finite = 0, True
    for rows in images.raw_batches(STATISTICS_BATCH):
        x = rows.float() if rows.dtype != torch.float64 else rows
        if x.ndim == 3:
            x = x.unsqueeze(1)
        if rows.is_floating_point() and not torch.isfinite(x).all():
            finite = False
            break
        # per image and channel in float32 (torch sums pairwise), then across images in float64
        sums = x.sum(dim=(2, 3)).double().sum(0)
        square_sums = (x * x).sum(dim=(2, 3)).double().sum(0)
        total = sums if total is None else total + sums
        squares = square_sums if squares is None else squares + square_sums
        count += x.shape[0] * x.shape[2] * x.shape[3]
    if not finite or count == 0:
        return torch.zeros(1), torch.ones(1), finite
    mean = total / count
    var = (squares - count * mean * mean) / max(count - 1, 1)
    std = var.clamp_min(0).sqrt().clamp_min(1e-8)
    return mean.float().view(1, -1, 1, 1), std.float().view(1, -1, 1, 1), True
